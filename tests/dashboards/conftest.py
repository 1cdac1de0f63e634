"""The demo year in a PostgreSQL database of the test cluster, and Grafana's login user.

The demo is loaded the way an operator does it (``hotline-kpi db upgrade`` and
``hotline-kpi demo`` with HOTLINE_KPI_DATABASE_URL pointing at the database), then one
evaluation is stored as the service stores it: the views take targets and formula
settings from the latest stored evaluation.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import FixedClock
from hotline_kpi.service.jobs import evaluate_hotlines
from hotline_kpi.settings import Settings
from hotline_kpi.store.db import make_engine
from tests.common import TARGETS
from tests.pg import Cluster
from tests.processes import run_cli, service_env

GRAFANA_ROLE = "hotline_kpi_grafana"
#: The service evaluates "as of the last day with data, not after yesterday": in 2020 that
#: is 31 December 2019 for the demo year.
EVALUATED_AT = dt.datetime(2020, 3, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@dataclass(frozen=True)
class DemoDatabase:
    url: str  # SQLAlchemy URL, as the service's superuser
    name: str
    env: dict[str, str]  # environment of CLI runs against it
    base: Path  # their working directory (var/ lives there)


@dataclass(frozen=True)
class GrafanaLogin:
    url: str  # SQLAlchemy URL of a login user that is a member of hotline_kpi_grafana only
    user: str


def _admin(cluster: Cluster) -> Engine:
    return make_engine(cluster.url)


@pytest.fixture(scope="session")
def demo_pg(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoDatabase]:
    name = f"hk_demo_{uuid.uuid4().hex[:10]}"
    admin = _admin(pg_cluster)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_cluster.database_url(name)
    base = tmp_path_factory.mktemp("demo-pg")
    env = service_env(base, extra={"HOTLINE_KPI_DATABASE_URL": url})
    try:
        run_cli(env, "db", "upgrade", cwd=base)
        run_cli(env, "demo", cwd=base, timeout=300)
        engine = make_engine(url)
        try:
            settings = Settings(database_url=url, var_dir=base / "var", targets_dir=TARGETS,
                                _env_file=None)  # type: ignore[call-arg]
            done = evaluate_hotlines(engine, settings, CatalogueSet.from_dir(TARGETS), FixedClock(EVALUATED_AT),
                                     "test")
            assert done == ["shanghai-12345"], done
        finally:
            engine.dispose()
        yield DemoDatabase(url, name, env, base)
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def grafana_login(pg_cluster: Cluster, demo_pg: DemoDatabase) -> Iterator[GrafanaLogin]:
    """A login user made as docs/dashboards.md says: a member of hotline_kpi_grafana,
    read-only by default, with a password (random here; from the environment in real use)."""
    user = f"grafana_{uuid.uuid4().hex[:8]}"
    password = secrets.token_hex(16)
    admin = _admin(pg_cluster)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"CREATE ROLE {user} LOGIN IN ROLE {GRAFANA_ROLE} PASSWORD '{password}'"))
        conn.execute(text(f"ALTER ROLE {user} SET default_transaction_read_only = on"))
    url = make_url(demo_pg.url).set(username=user, password=password).render_as_string(hide_password=False)
    try:
        yield GrafanaLogin(url, user)
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = \'{user}\''))
            conn.execute(text(f"DROP ROLE IF EXISTS {user}"))
        admin.dispose()


@pytest.fixture(scope="session")
def stack(demo_pg: DemoDatabase, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):  # noqa: ANN201
    """serve + Prometheus over the demo year (tests/dashboards/stack.py), shared by the panel tests."""
    from tests.dashboards.stack import start_stack

    return start_stack(demo_pg, tmp_path_factory.mktemp("stack"), request.addfinalizer)
