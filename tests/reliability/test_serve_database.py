"""A real ``hotline-kpi serve`` subprocess against a real database in trouble.

PostgreSQL is a private cluster of this test (initdb from Debian's binaries, see
tests/pg.py) that the test stops, starts and restarts with ``pg_ctl``. To restart it
*inside* a transaction of the service, rather than somewhere near one, the test holds
``LOCK TABLE … IN EXCLUSIVE MODE`` on a table the service writes late in the transaction: its
write transaction then waits on that lock (seen in ``pg_stat_activity``, with the
tables it has already written to in ``pg_locks``) and the restart cuts it there.
EXCLUSIVE mode still lets readers through, so scrapes and the counts go on.

Every wait is bounded (``wait_for``), every process is stopped by a finalizer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
from sqlalchemy import Connection, Engine, func, select, text

from hotline_kpi.store import migrate
from hotline_kpi.store.db import make_engine, read_session
from hotline_kpi.store.models import EvaluationSnapshotRow, IngestRow, SourceDayRow
from tests.ingest.qlog import answered
from tests.pg import Cluster, _as_postgres, start_cluster
from tests.reliability.support import attempts, counts, drop, metric, raw_get, wait_for
from tests.processes import ServeProcess, service_env, start_serve
from tests.test_cli import REPORT

#: Starts real processes (tests/processes.py): deselected by ``pytest -m 'not system'``.
pytestmark = pytest.mark.system

HEADER = REPORT.splitlines()[0]
#: A second daily report: one day after the first report's last (2019-01-04).
FEB = HEADER + "\n2019-02-01,11500,10200,9500,7.0,9500,5300,4200,170,410,377\n"
CALLS = 100_000


# --- a private PostgreSQL cluster the test may stop, start and restart --------------------------


class PrivateCluster:
    """tests.pg's cluster plus pg_ctl stop/start/restart (fast shutdown: sessions are cut)."""

    def __init__(self, cluster: Cluster):
        assert cluster.folder is not None and cluster.bindir is not None
        self.cluster = cluster
        self.port = int(cluster.url.rsplit(":", 1)[1].split("/")[0])
        self.data = cluster.folder / "data"
        self.opts = (f"-p {self.port} -k {cluster.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                     "-c synchronous_commit=off -c full_page_writes=off")
        self.url = cluster.database_url("postgres")

    def _ctl(self, *args: str) -> None:
        assert self.cluster.bindir is not None and self.cluster.folder is not None
        subprocess.run(_as_postgres([str(self.cluster.bindir / "pg_ctl"), "-D", str(self.data), *args]), check=True,
                       capture_output=True, timeout=90)

    def stop(self) -> None:
        self._ctl("-m", "fast", "-w", "-t", "60", "stop")

    def start(self) -> None:
        assert self.cluster.folder is not None
        self._ctl("-o", self.opts, "-l", str(self.cluster.folder / "log"), "-w", "-t", "60", "start")

    def restart(self) -> None:
        assert self.cluster.folder is not None
        self._ctl("-m", "fast", "-o", self.opts, "-l", str(self.cluster.folder / "log"), "-w", "-t", "60", "restart")


@pytest.fixture
def private_pg() -> Iterator[PrivateCluster]:
    if os.environ.get("HOTLINE_KPI_TEST_POSTGRES_URL"):
        pytest.skip("needs a private cluster it may stop (HOTLINE_KPI_TEST_POSTGRES_URL is set)")
    cluster = start_cluster()
    try:
        pg = PrivateCluster(cluster)
        eng = make_engine(pg.url)
        migrate.upgrade(eng)
        eng.dispose()
        yield pg
    finally:
        cluster.stop()


# --- helpers ---------------------------------------------------------------------------------------


def _env(base: Path, url: str) -> dict[str, str]:
    """serve on ``url``: the inbox scanned every second, no settle time, metrics re-read every
    second, a 3 s lease."""
    return service_env(base, extra={
        "HOTLINE_KPI_DATABASE_URL": url, "HOTLINE_KPI_SERVICE__INBOX_SCAN_SECONDS": "1",
        "HOTLINE_KPI_SERVICE__INBOX_SETTLE_SECONDS": "0", "HOTLINE_KPI_SERVICE__METRICS_REFRESH_SECONDS": "1",
        "HOTLINE_KPI_SERVICE__LEASE_SECONDS": "3"})


def _scoreboard(served: ServeProcess) -> dict | None:
    status, body = raw_get(served.port, "/api/v1/scoreboard")
    return json.loads(body) if status == 200 else None


def _readyz(served: ServeProcess) -> tuple[int, dict]:
    status, body = raw_get(served.port, "/readyz?lang=en")
    return status, json.loads(body)


def _result_keys(board: dict) -> set[tuple[str, str]]:
    return {(r["id"], r["window"]) for r in board["results"]}


def _lock(engine: Engine, table: str) -> Connection:
    """A connection holding ``LOCK TABLE table IN EXCLUSIVE MODE`` in an open transaction:
    writers of ``table`` wait, readers do not."""
    conn = engine.connect()
    conn.execute(text(f"LOCK TABLE {table} IN EXCLUSIVE MODE"))
    return conn


def _forget(conn: Connection) -> None:
    """Drop a connection the restart has already cut (or roll back and close a live one)."""
    try:
        conn.rollback()
        conn.close()
    except Exception:  # noqa: BLE001 - the server killed it: nothing to roll back
        conn.invalidate()


def _blocked_writer(engine: Engine, table: str) -> tuple[int, str, set[str]] | None:
    """The service's backend waiting on the lock of ``table``: (pid, statement, tables it
    has already written to in its open transaction); None while there is none."""
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT pid, query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND wait_event_type = 'Lock' AND query ILIKE :pattern"), {"pattern": f"%{table}%"}).first()
        if row is None:
            return None
        written = set(conn.execute(text(
            "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE l.pid = :pid AND l.granted AND l.mode = 'RowExclusiveLock' AND c.relkind = 'r'"),
            {"pid": row.pid}).scalars())
        return row.pid, row.query, written


def _wait_blocked(engine: Engine, table: str, served: ServeProcess, timeout: float = 90) -> tuple[int, str, set[str]]:
    found: list[tuple[int, str, set[str]]] = []

    def blocked() -> bool:
        assert served.proc.poll() is None, f"serve died\n{served.log()}"
        got = _blocked_writer(engine, table)
        if got is not None:
            found.append(got)
        return got is not None

    wait_for(blocked, timeout, f"a write of the service waiting on the lock of {table}", every=0.1)
    return found[-1]


def _big_queue_log(calls: int) -> bytes:
    lines: list[str] = []
    for i in range(calls):
        lines += answered(f"c{i}", i * 2, wait=3 + i % 20, talk=40)
    return ("\n".join(lines) + "\n").encode()


def _attempts(url: str, file_name: str) -> list[str]:
    """The results recorded for ``file_name`` in ingest_attempt, oldest first."""
    return [result for name, result, _ in attempts(url) if name == file_name]


def _loaded_files(url: str) -> list[str]:
    eng = make_engine(url)
    try:
        with read_session(eng) as s:
            return sorted(s.scalars(select(IngestRow.file_name)))
    finally:
        eng.dispose()


def _archived(base: Path) -> list[str]:
    return sorted(p.name for p in (base / "var" / "archive").rglob("*") if p.is_file())


def _quarantined(base: Path) -> list[str]:
    folder = base / "var" / "quarantine"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _serve_ready_on_report(env: dict[str, str], base: Path, addfinalizer: Callable) -> ServeProcess:
    """serve, with the first daily report loaded through its inbox and evaluated (ready)."""
    served = start_serve(env, base, addfinalizer, wait_for="/healthz")
    drop(base / "var" / "inbox", "jan.csv", REPORT)
    wait_for(lambda: _readyz(served)[0] == 200, 60, "ready on the loaded report")
    return served


# --- 1. PostgreSQL stopped inside the write transaction of a big inbox load ---------------------


@pytest.mark.postgres
def test_postgresql_restarted_inside_an_inbox_load_stores_nothing_and_the_file_then_loads_whole_once(
        private_pg, tmp_path, request):
    """A 100,000-call queue_log dropped in the inbox; PostgreSQL stopped (``-m fast``) while
    the load's write transaction is open (it has written to ``ingest`` and waits on
    ``daily_counters``), then started. Proves: serve stays up and says why it is not
    ready; the load stored nothing; the file stays in the inbox (not quarantined); the
    next scan after the restart loads it whole (all 100,000 calls), once; /readyz
    recovers by itself."""
    url = private_pg.url
    served = _serve_ready_on_report(_env(tmp_path, url), tmp_path, request.addfinalizer)
    inbox = tmp_path / "var" / "inbox"
    before = counts(url)
    admin = make_engine(url)
    request.addfinalizer(admin.dispose)

    lock = _lock(admin, "daily_counters")
    drop(inbox, "queue_log", _big_queue_log(CALLS))
    pid, query, written = _wait_blocked(admin, "daily_counters", served)
    assert "ingest" in written and "source_day" in written, (
        f"the load (backend {pid}, waiting on {query[:80]!r}) had not written yet: tables {sorted(written)}")

    private_pg.stop()  # cuts the load's transaction where it waits
    _forget(lock)
    wait_for(lambda: metric(served.port, "hotline_kpi_database_up") == 0, 30, "hotline_kpi_database_up 0")
    wait_for(lambda: "收件箱：错误 queue_log" in served.log(), 30, "the failed load logged")
    status, body = _readyz(served)
    assert status == 503 and any("database unreachable" in r for r in body["reasons"]), body
    assert raw_get(served.port, "/healthz")[0] == 200 and served.proc.poll() is None
    assert (inbox / "queue_log").is_file(), "the file left the inbox while the database was down"
    assert _quarantined(tmp_path) == [], "a database failure is not bad input: nothing may be quarantined"

    private_pg.start()
    # The next load parses for seconds before it writes; the lock, taken again at once, keeps
    # it from committing while the store is counted.
    lock = _lock(admin, "daily_counters")
    try:
        assert counts(url) == before, "the load cut by the restart left rows behind"
        _wait_blocked(admin, "daily_counters", served)  # the retry came by itself
    finally:
        _forget(lock)

    wait_for(lambda: not (inbox / "queue_log").exists(), 90, "queue_log loaded and moved out of the inbox")
    assert _archived(tmp_path) == ["jan.csv", "queue_log"] and _quarantined(tmp_path) == []
    after = counts(url)
    assert after["ingest"] == before["ingest"] + 1, (before, after)
    assert _loaded_files(url) == ["jan.csv", "queue_log"]
    assert _attempts(url, "queue_log").count("loaded") == 1, _attempts(url, "queue_log")
    with read_session(admin) as s:
        offered = s.scalar(select(func.sum(SourceDayRow.calls_offered)).where(
            SourceDayRow.source == "queue-log", SourceDayRow.is_current.is_(True)))
    assert offered == CALLS, f"queue-log days hold {offered} offered calls, the file has {CALLS}"
    wait_for(lambda: _readyz(served)[0] == 200, 60, "ready again by itself")
    assert metric(served.port, "hotline_kpi_database_up") == 1
    assert served.stop() == 0


@pytest.mark.postgres
def test_the_scheduler_connection_cut_mid_load_restarts_the_scheduler_without_a_second_load_of_the_file(
        private_pg, tmp_path, request):
    """What a restart does to the scheduler's advisory-lock connection, done alone and at a
    chosen moment: while an inbox load waits inside its write transaction (on the test's
    lock), the server terminates the connection holding the scheduler lock
    (``pg_terminate_backend``). serve stops its scheduler (the lease looks lost), takes
    the lock again and starts a new scheduler while the first scan is still running.
    Proves: the new scheduler's scans are skipped while that scan runs, instead of
    loading the same file a second time; the file loads once and no error is recorded."""
    url = private_pg.url
    served = _serve_ready_on_report(_env(tmp_path, url), tmp_path, request.addfinalizer)
    inbox = tmp_path / "var" / "inbox"
    admin = make_engine(url)
    request.addfinalizer(admin.dispose)
    before = counts(url)

    lock = _lock(admin, "daily_counters")
    try:
        drop(inbox, "queue_log", _big_queue_log(CALLS // 10))
        load_pid, _, _ = _wait_blocked(admin, "daily_counters", served)
        with admin.connect() as conn:
            holders = list(conn.execute(text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted")).scalars())
            assert len(holders) == 1 and holders[0] != load_pid, holders
            mark = len(served.log())
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": holders[0]}).scalar()
        # Regression: the new scheduler's first scan loaded the same file alongside the first
        # one; the loser hit uq_ingest_file and recorded an error for a file that had loaded.
        wait_for(lambda: "job inbox_scan: a run is still going on" in served.log()[mark:], 30,
                 "the new scheduler's scan skipped while the first one runs")
        assert "scheduler started" in served.log()[mark:]
        assert _blocked_writer(admin, "daily_counters")[0] == load_pid  # the first load still waits
    finally:
        _forget(lock)

    wait_for(lambda: not (inbox / "queue_log").exists(), 60, "queue_log loaded and moved out of the inbox")
    wait_for(lambda: _attempts(url, "queue_log") == ["loaded"], 10, "the load recorded")
    log = served.log()
    assert "IntegrityError" not in log and "收件箱：错误" not in log, log[-3000:]
    assert counts(url)["ingest"] == before["ingest"] + 1
    assert _loaded_files(url) == ["jan.csv", "queue_log"]
    wait_for(lambda: metric(served.port, "hotline_kpi_scheduler_leader") == 1, 30, "leading again")
    assert served.stop() == 0


# --- 2. PostgreSQL restarted inside an evaluation's write transaction ----------------------------


@pytest.mark.postgres
def test_postgresql_restarted_inside_an_evaluation_serves_a_complete_snapshot_and_evaluates_again(
        private_pg, tmp_path, request):
    """A second report dropped in the inbox loads (committed); the evaluation it triggers
    is cut by ``pg_ctl restart -m fast`` while its snapshot INSERT waits. Proves: what is
    served is always a whole snapshot, the previous one until a new one is stored; every
    stored snapshot is complete; the service evaluates again by itself once the
    database is back (the new day is served); the loaded data is kept."""
    url = private_pg.url
    served = _serve_ready_on_report(_env(tmp_path, url), tmp_path, request.addfinalizer)
    first = _scoreboard(served)
    assert first is not None and first["data_date"] == "2019-01-04"
    keys = _result_keys(first)
    admin = make_engine(url)
    request.addfinalizer(admin.dispose)

    def whole(board: dict | None) -> bool:
        """The previous snapshot, or a complete one with the new day."""
        return board == first or (board is not None and board["data_date"] == "2019-02-01"
                                  and _result_keys(board) == keys)

    lock = _lock(admin, "evaluation_snapshot")
    drop(tmp_path / "var" / "inbox", "feb.csv", FEB)
    _, query, _ = _wait_blocked(admin, "evaluation_snapshot", served)
    assert query.lstrip().upper().startswith("INSERT INTO EVALUATION_SNAPSHOT"), query
    assert _scoreboard(served) == first, "the evaluation in progress changed what is served"
    assert _loaded_files(url) == ["feb.csv", "jan.csv"]  # the load committed before the evaluation

    private_pg.restart()
    _forget(lock)

    def evaluated_again() -> bool:
        board = _scoreboard(served)
        assert whole(board), f"served a partial or unknown scoreboard: {json.dumps(board)[:300]}"
        return board is not None and board["data_date"] == "2019-02-01"

    # Regression: the evaluation cut by the restart was never tried again (the file was
    # archived, the new day unevaluated until the next day's scheduled run).
    wait_for(evaluated_again, 60, "the new day evaluated and served after the restart")
    assert served.proc.poll() is None
    log = served.log()
    assert "任务 收件箱扫描 失败" in log and "上次评估失败，重新评估" in log, log[-3000:]
    assert "收件箱：已载入 feb.csv" in log, "the failed evaluation hid the load from the log"
    with read_session(admin) as s:
        payloads = [json.loads(p) for p in s.scalars(select(EvaluationSnapshotRow.payload))]
    assert payloads and all(_result_keys(p) == keys for p in payloads), "a stored snapshot is incomplete"
    assert _loaded_files(url) == ["feb.csv", "jan.csv"] and _archived(tmp_path) == ["feb.csv", "jan.csv"]
    wait_for(lambda: _readyz(served)[0] == 200, 60, "ready after the restart")
    assert served.stop() == 0


# --- 3. the database unreachable while a real serve scans its inbox ---------------------------


@pytest.mark.postgres
def test_the_database_down_during_inbox_scans_leaves_the_file_and_it_loads_once_when_back(
        private_pg, tmp_path, request):
    """PostgreSQL stopped, a good report dropped in the inbox of a running serve. Proves:
    the service stays up; the leader stands down (its advisory-lock connection is gone),
    so no scan can half-load the file; a scan already running fails with ``inbox: error``
    and keeps the file; over several coordination steps the file stays in the inbox
    (never quarantined) and the failure shows in the log, on /readyz and in
    ``hotline_kpi_database_up``/``hotline_kpi_scheduler_leader``; once started again the
    file loads by itself, once, and the service is ready with the new day."""
    url = private_pg.url
    served = _serve_ready_on_report(_env(tmp_path, url), tmp_path, request.addfinalizer)
    inbox = tmp_path / "var" / "inbox"

    private_pg.stop()
    drop(inbox, "feb.csv", FEB)
    mark = len(served.log())
    wait_for(lambda: served.log()[mark:].count("leadership check failed") >= 3, 60,
             "three coordination steps with the file waiting")
    log = served.log()
    assert "lost the scheduler lease" in log and "metrics refresh failed: OperationalError" in log, log[-2000:]
    assert (inbox / "feb.csv").is_file() and _quarantined(tmp_path) == []
    status, body = _readyz(served)
    assert status == 503 and any("database unreachable" in r for r in body["reasons"]), body
    assert body["leader"] is False
    assert metric(served.port, "hotline_kpi_database_up") == 0
    assert metric(served.port, "hotline_kpi_scheduler_leader") == 0
    assert served.proc.poll() is None

    private_pg.start()
    wait_for(lambda: not (inbox / "feb.csv").exists(), 60, "feb.csv loaded once the database is back")
    assert _archived(tmp_path) == ["feb.csv", "jan.csv"] and _quarantined(tmp_path) == []
    assert _loaded_files(url) == ["feb.csv", "jan.csv"]
    assert _attempts(url, "feb.csv").count("loaded") == 1
    wait_for(lambda: _readyz(served)[0] == 200 and (_scoreboard(served) or {}).get("data_date") == "2019-02-01",
             60, "ready and serving the new day")
    assert metric(served.port, "hotline_kpi_database_up") == 1
    assert served.stop() == 0


# --- 4. two serve processes on one database -------------------------------------------------------


def _leaders(a: ServeProcess, b: ServeProcess) -> tuple[float | None, float | None]:
    return metric(a.port, "hotline_kpi_scheduler_leader"), metric(b.port, "hotline_kpi_scheduler_leader")


def _indicator_lines(served: ServeProcess) -> list[str]:
    return [line for line in raw_get(served.port, "/metrics")[1].decode().splitlines()
            if line.startswith("hotline_kpi_indicator_value{")]


#: A January report whose last day (2019-01-04, the as-of date) misses the 90 % connection
#: rate: 8,000 of 9,800 calls answered.
JAN_BREACHED = REPORT.replace("2019-01-04,10500,9800,9000,", "2019-01-04,10500,9800,8000,")
OFFICE = "office@example.org"
RULES = f"""
default_recipients: [{OFFICE}]
rules:
  - id: connection_day
    indicator: connection_rate
    window: day
    condition: breached
    severity: critical
"""


def test_two_serve_processes_on_one_database_one_leads_and_the_other_takes_over_after_sigkill(
        db_url, tmp_path, request):
    """Two serve processes on one database and one inbox (SQLite: the lease row; PostgreSQL:
    the lease row and the advisory lock), alert mail to a real SMTP server (aiosmtpd on
    loopback). Proves: exactly one reports itself leader; a file dropped in the inbox
    is loaded once (one ingest row, one attempt); both serve the same figures; the
    breach it shows is mailed once; after SIGKILL of the leader the other leads once the
    3 s lease has expired, loads the next file once, and mails the recovery once, the
    breach is not mailed again."""
    from tests.alerts.conftest import SmtpServer
    from tests.processes import free_port

    smtp = SmtpServer(free_port()).start()
    request.addfinalizer(smtp.stop)
    rules = tmp_path / "alerts.yaml"
    rules.write_text(RULES, encoding="utf-8")
    env = _env(tmp_path, db_url) | {
        "HOTLINE_KPI_ALERTS__RULES_FILE": str(rules), "HOTLINE_KPI_ALERTS__DISPATCH_INTERVAL_SECONDS": "1",
        "HOTLINE_KPI_SMTP__HOST": "127.0.0.1", "HOTLINE_KPI_SMTP__PORT": str(smtp.port),
        "HOTLINE_KPI_SMTP__SECURITY": "none", "HOTLINE_KPI_SMTP__FROM_ADDRESS": "kpi@hotline.example"}
    a = start_serve(env, tmp_path, request.addfinalizer, wait_for="/healthz")
    wait_for(lambda: metric(a.port, "hotline_kpi_scheduler_leader") == 1, 30, "the first serve leads")
    b = start_serve(env, tmp_path, request.addfinalizer, wait_for="/healthz")
    for _ in range(3):  # stable over several coordination steps (every second)
        assert _leaders(a, b) == (1, 0)
        time.sleep(1)
    inbox = tmp_path / "var" / "inbox"

    drop(inbox, "jan.csv", JAN_BREACHED)
    wait_for(lambda: _scoreboard(a) is not None and _scoreboard(a) == _scoreboard(b), 60,
             "both serve the evaluation of jan.csv")
    wait_for(lambda: _indicator_lines(a) == _indicator_lines(b), 30, "both export the same figures")
    assert _indicator_lines(a), "no indicator exported"
    assert _loaded_files(db_url) == ["jan.csv"] and _attempts(db_url, "jan.csv") == ["loaded"]
    wait_for(lambda: len(smtp.messages) >= 1, 30, "the breach mailed")
    dispatch = 'job_id="alerts_dispatch"'
    runs = metric(a.port, "hotline_kpi_job_runs_total", dispatch) or 0
    wait_for(lambda: (metric(a.port, "hotline_kpi_job_runs_total", dispatch) or 0) >= runs + 2, 30,
             "two more dispatch runs of the leader")
    assert [m.subject for m in smtp.messages] == ["[12345 KPI][严重] 热线接通率 当日 81.63% 低于目标 90%"]
    assert smtp.messages[0].rcpt_tos == [OFFICE]
    assert _leaders(a, b) == (1, 0)

    os.killpg(a.proc.pid, signal.SIGKILL)
    a.proc.wait(timeout=10)
    wait_for(lambda: metric(b.port, "hotline_kpi_scheduler_leader") == 1, 3 + 20, "the standby leads after the lease")
    drop(inbox, "feb.csv", FEB)
    wait_for(lambda: (_scoreboard(b) or {}).get("data_date") == "2019-02-01", 60, "feb.csv loaded by the new leader")
    assert _loaded_files(db_url) == ["feb.csv", "jan.csv"]
    assert _attempts(db_url, "feb.csv") == ["loaded"] and _attempts(db_url, "jan.csv") == ["loaded"]
    assert _archived(tmp_path) == ["feb.csv", "jan.csv"] and not any(inbox.iterdir())
    wait_for(lambda: len(smtp.messages) >= 2, 30, "the recovery mailed by the new leader")
    # A few more dispatch runs of the new leader: nothing more is sent.
    runs = metric(b.port, "hotline_kpi_job_runs_total", dispatch) or 0
    wait_for(lambda: (metric(b.port, "hotline_kpi_job_runs_total", dispatch) or 0) >= runs + 2, 30,
             "two more dispatch runs of the new leader")
    assert [m.subject for m in smtp.messages] == ["[12345 KPI][严重] 热线接通率 当日 81.63% 低于目标 90%",
                                                  "[12345 KPI][已恢复] 热线接通率 当日 93.14% 达到目标 90%"]
    assert b.stop() == 0
