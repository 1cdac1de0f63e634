"""Faults: a killed ingest, the database gone during scrapes, and concurrent work on SQLite."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from hotline_kpi.clock import FixedClock
from hotline_kpi.ingest.pipeline import ingest_file
from hotline_kpi.service.runtime import Service
from hotline_kpi.settings import Settings
from hotline_kpi.store import migrate
from hotline_kpi.store.db import make_engine
from tests.common import TARGETS
from tests.ingest.qlog import answered, write
from tests.reliability.support import counts, drop, raw_get, wait_for
from tests.processes import kill_group, run_cli, service_env, start_cli, start_serve
from tests.test_cli import REPORT


#: Starts real processes (tests/processes.py): deselected by ``pytest -m 'not system'``.
#: English wording is read here (the Chinese: tests/test_messages.py).
pytestmark = [pytest.mark.system, pytest.mark.usefixtures("english")]


def _big_queue_log(path: Path, calls: int) -> Path:
    lines: list[str] = []
    for i in range(calls):
        lines += answered(f"c{i}", i * 2, wait=3 + i % 20, talk=40)
    return write(path, lines)


def test_a_sigkilled_ingest_stores_nothing_and_the_file_then_loads_whole(tmp_path, sqlite_url):
    # Big enough that the whole ingest takes seconds, parsed by worker processes (a file of
    # 64 MB or more), which the kill of the process group takes down too.
    big = _big_queue_log(tmp_path / "queue_log", 420_000)  # 67 MiB
    env = service_env(tmp_path, extra={"HOTLINE_KPI_DATABASE_URL": sqlite_url})
    before = counts(sqlite_url)
    proc = start_cli(env, "ingest", "--source", "queue-log", str(big), cwd=tmp_path)
    try:
        originals = tmp_path / "var" / "originals"
        # The original is copied while the file is parsed: its temp file shows the parse began.
        wait_for(lambda: proc.poll() is not None or any(originals.rglob("*")), 60, "the ingest started reading")
        time.sleep(0.2)
        assert proc.poll() is None, "the ingest finished before it could be killed: make the file bigger"
    finally:
        kill_group(proc)
    assert proc.returncode == -signal.SIGKILL
    assert counts(sqlite_url) == before  # nothing partial
    out = run_cli(env, "ingest", "--source", "queue-log", str(big), cwd=tmp_path, timeout=300)
    assert "ingest #" in out.stdout
    after = counts(sqlite_url)
    assert after["ingest"] == before["ingest"] + 1 and after["source_day"] > before["source_day"]
    again = run_cli(env, "ingest", "--source", "queue-log", str(big), cwd=tmp_path, timeout=300)
    assert "already loaded" in again.stdout and counts(sqlite_url) == after


# --- the database down during scrapes (a private PostgreSQL cluster, stopped and started) ----------


@pytest.fixture
def own_cluster():
    from tests.pg import _as_postgres, start_cluster

    if os.environ.get("HOTLINE_KPI_TEST_POSTGRES_URL"):
        pytest.skip("needs a private cluster it may stop (HOTLINE_KPI_TEST_POSTGRES_URL is set)")
    cluster = start_cluster()
    port = int(cluster.url.rsplit(":", 1)[1].split("/")[0])
    data = cluster.folder / "data"
    opts = (f"-p {port} -k {cluster.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off")

    def ctl(*args: str) -> None:
        subprocess.run(_as_postgres([str(cluster.bindir / "pg_ctl"), "-D", str(data), *args]), check=True,
                       capture_output=True, timeout=90)

    cluster.pg_stop = lambda: ctl("-m", "fast", "-w", "-t", "60", "stop")  # type: ignore[attr-defined]
    cluster.pg_start = lambda: ctl("-o", opts, "-l", str(cluster.folder / "log"), "-w", "-t", "60",
                                   "start")  # type: ignore[attr-defined]
    try:
        yield cluster
    finally:
        cluster.stop()


def _metric(body: bytes, name: str) -> float | None:
    for line in body.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.mark.postgres
def test_the_database_down_during_scrapes_keeps_the_service_up_and_it_recovers(own_cluster, tmp_path, request):
    url = own_cluster.database_url("postgres")
    eng = make_engine(url)
    migrate.upgrade(eng)
    eng.dispose()
    env = service_env(tmp_path, extra={
        "HOTLINE_KPI_DATABASE_URL": url, "HOTLINE_KPI_SERVICE__INBOX_SCAN_SECONDS": "1",
        "HOTLINE_KPI_SERVICE__INBOX_SETTLE_SECONDS": "0", "HOTLINE_KPI_SERVICE__METRICS_REFRESH_SECONDS": "1",
        "HOTLINE_KPI_SERVICE__LEASE_SECONDS": "3"})
    served = start_serve(env, tmp_path, request.addfinalizer, wait_for="/healthz")
    drop(tmp_path / "var" / "inbox", "jan.csv", REPORT)
    wait_for(lambda: raw_get(served.port, "/readyz")[0] == 200, 60, "ready on the loaded report")
    assert _metric(raw_get(served.port, "/metrics")[1], "hotline_kpi_database_up") == 1

    own_cluster.pg_stop()
    wait_for(lambda: _metric(raw_get(served.port, "/metrics")[1], "hotline_kpi_database_up") == 0, 30,
             "hotline_kpi_database_up 0")
    for _ in range(5):  # it keeps answering while the database is down
        status, body = raw_get(served.port, "/readyz")
        assert status == 503 and b"database unreachable" in body
        assert raw_get(served.port, "/healthz")[0] == 200
        status, body = raw_get(served.port, "/metrics")
        assert status == 200 and b'hotline_kpi_indicator_value{hotline="shanghai-12345"' in body  # last good model
        assert raw_get(served.port, "/")[0] == 200 and raw_get(served.port, "/api/v1/scoreboard")[0] == 200
        time.sleep(0.3)
    assert served.proc.poll() is None

    own_cluster.pg_start()
    wait_for(lambda: raw_get(served.port, "/readyz")[0] == 200, 60, "ready again once the database is back")
    assert _metric(raw_get(served.port, "/metrics")[1], "hotline_kpi_database_up") == 1
    assert served.stop() == 0
    assert "Traceback" not in served.log() or '"trace"' in served.log()  # errors logged as JSON, not raw


# --- ingest, evaluation and scrapes at once on SQLite ------------------------------------------


def test_ingest_evaluation_and_scrapes_at_once_on_sqlite_never_see_database_is_locked(sqlite_url, tmp_path,
                                                                                      catalogues):
    settings = Settings(database_url=sqlite_url, var_dir=tmp_path / "var", targets_dir=TARGETS,
                        sqlite_busy_timeout_seconds=30, _env_file=None)  # type: ignore[call-arg]
    clock = FixedClock(dt.datetime(2020, 3, 1, 1, 0, tzinfo=dt.timezone.utc))
    engine = make_engine(sqlite_url, busy_timeout_seconds=30)
    svc = Service(settings, catalogues, engine, clock, holder="t")
    errors: list[str] = []
    stop = threading.Event()
    files = []
    for i in range(12):  # distinct contents: each a real load
        day = dt.date(2019, 2, 1) + dt.timedelta(days=i)
        path = tmp_path / f"日报-{i}.csv"
        path.write_text(REPORT.splitlines()[0] + "\n" + f"{day},11000,10000,{9000 + i},7.5,9300,5200,4100,180,400,372\n",
                        encoding="utf-8")
        files.append(path)

    def guard(work) -> None:  # noqa: ANN001
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - collected and asserted on
            errors.append(f"{exc.__class__.__name__}: {exc}")

    def ingest() -> None:
        for path in files:
            guard(lambda p=path: ingest_file(engine, p, settings=settings, catalogues=catalogues, clock=clock))

    def evaluate() -> None:
        while not stop.is_set():
            guard(lambda: svc.evaluate("test"))

    def scrape() -> None:
        while not stop.is_set():
            guard(lambda: svc.cache.refresh() or (_ for _ in ()).throw(RuntimeError(svc.cache.model.error)))

    try:
        workers = [threading.Thread(target=ingest), threading.Thread(target=ingest), threading.Thread(target=evaluate),
                   threading.Thread(target=scrape), threading.Thread(target=scrape)]
        for w in workers:
            w.start()
        workers[0].join(timeout=120)
        workers[1].join(timeout=120)
        stop.set()
        for w in workers:
            w.join(timeout=60)
        assert not any(w.is_alive() for w in workers), "a worker hung"
        assert not errors, errors[:5]
        assert counts(sqlite_url)["ingest"] == len(files)
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        stop.set()
        svc.stop()
        engine.dispose()
