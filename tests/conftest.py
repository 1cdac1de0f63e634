"""Shared fixtures: the real target catalogue, the store on SQLite and PostgreSQL, and the
demo year's store made once per session (constants: tests/common.py; processes:
tests/processes.py).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import Engine, text

from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import FixedClock
from hotline_kpi.settings import Settings
from hotline_kpi.store import migrate
from hotline_kpi.store.db import make_engine
from tests.common import TARGETS, TZ
from tests.pg import Cluster, start_cluster
from tests.processes import DemoTemplate, build_demo_template


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The ``system`` tests form one xdist group: with ``-n 2 --dist loadgroup`` (``make
    test``) they run on one worker, one after the other, as without xdist; the in-process
    tests run on the other worker meanwhile."""
    for item in items:
        if item.get_closest_marker("system") is not None and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group("system"))


@pytest.fixture(autouse=True)
def _chinese_by_default() -> Iterator[None]:
    """Every test starts in the product's default language, Chinese (a test that passes
    --lang en or sets the language must not leak English into the next one)."""
    from hotline_kpi.cli import _use_language

    _use_language("zh")
    yield
    _use_language("zh")


@pytest.fixture
def english(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """For tests that read the product's English wording (``--lang en``, HOTLINE_KPI_LANGUAGE=en,
    also in the processes they start); tests/test_messages.py walks the Chinese."""
    from hotline_kpi.cli import _use_language

    if "cli_env" in request.fixturenames:
        request.getfixturevalue("cli_env")  # it clears HOTLINE_KPI_*: the language is set after it

    monkeypatch.setenv("HOTLINE_KPI_LANGUAGE", "en")
    _use_language("en")


@pytest.fixture(scope="session")
def catalogues() -> CatalogueSet:
    return CatalogueSet.from_dir(TARGETS)


@pytest.fixture
def clock() -> FixedClock:
    # 2020-03-01 09:00 in Shanghai: the whole of 2019 is in the past.
    return FixedClock(dt.datetime(2020, 3, 1, 9, 0, tzinfo=TZ))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'unused.db'}",
        var_dir=tmp_path / "var",
        targets_dir=TARGETS,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> DemoTemplate:
    """``hotline-kpi demo --raw-from 13`` run once per session (per xdist worker); tests
    take a private copy of it with ``tests.processes.prepare_demo``."""
    return build_demo_template(tmp_path_factory.mktemp("demo-template") / "base")


# --- databases -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_template(pg_cluster: Cluster) -> str:
    """A migrated template database; each test copies it (CREATE DATABASE ... TEMPLATE)."""
    name = f"hk_template_{uuid.uuid4().hex[:8]}"
    admin = make_engine(pg_cluster.url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    eng = make_engine(pg_cluster.database_url(name))
    migrate.upgrade(eng)
    eng.dispose()
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    eng = make_engine(f"sqlite:///{path}")
    migrate.upgrade(eng)
    eng.dispose()
    return path


def _pg_database(cluster: Cluster, template: str) -> Iterator[str]:
    name = f"hk_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(cluster.url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield cluster.database_url(name)
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "store.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    cluster = request.getfixturevalue("pg_cluster")
    template = request.getfixturevalue("pg_template")
    yield from _pg_database(cluster, template)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database on each backend."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    eng = make_engine(sqlite_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def cli_env(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI run in-process as on a fresh machine: no HOTLINE_KPI_* setting from outside,
    the working folder a new one, the store a migrated SQLite copy (its URL is returned)."""
    for key in list(os.environ):
        if key.startswith("HOTLINE_KPI_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOTLINE_KPI_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("HOTLINE_KPI_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HOTLINE_KPI_TARGETS_DIR", str(TARGETS))
    return sqlite_url
