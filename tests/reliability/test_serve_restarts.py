"""Restarts of a real ``hotline-kpi serve`` (subprocess, SQLite store): SIGKILL during an
inbox ingest and during an evaluation, a restart across the daily scheduled run, and an
archive or originals folder that cannot be written.

Nothing is faked: the processes are real, killed with SIGKILL on their process group,
and the clock is the machine's (the scheduled-run test waits for a real minute boundary
in Asia/Shanghai, once, at most about 90 s). Every wait is bounded; every process is
stopped by a finalizer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import signal
import time
from pathlib import Path
from typing import Callable, Mapping

import pytest
from sqlalchemy import select

from hotline_kpi.store.db import make_engine, read_session
from hotline_kpi.store.models import EvaluationSnapshotRow, JobRunRow
from tests.common import ZONE
from tests.ingest.qlog import answered, write
from tests.reliability.support import (
    FAST_SCANS,
    attempts,
    counts,
    drop,
    errors_on_metrics,
    files,
    metric,
    raw_get,
    wait_for,
)
from tests.processes import DemoTemplate, ServeProcess, kill_group, prepare_demo, run_cli, service_env, start_serve
from tests.test_cli import REPORT

#: Starts real processes (tests/processes.py): deselected by ``pytest -m 'not system'``.
pytestmark = pytest.mark.system

EVALUATE_DAILY = "evaluate_daily"
INBOX_SCAN = "inbox_scan"

#: Fast scans, no settle delay, a short lease (a SIGKILLed leader's lease expires soon).
FAST = {**FAST_SCANS, "HOTLINE_KPI_SERVICE__LEASE_SECONDS": "2"}


# --- helpers ---------------------------------------------------------------------------------


def _spawn(env: Mapping[str, str], base: Path, addfinalizer: Callable[[Callable[[], object]], object]) -> ServeProcess:
    """``hotline-kpi serve`` started and NOT waited for (its start-up jobs are the target);
    SIGKILLed (whole process group) at the end."""
    return start_serve(env, base, addfinalizer, wait_for=None, kill_at_end=True)


def _kill(served: ServeProcess) -> None:
    """SIGKILL the whole process group of ``served`` (no clean stop of any kind)."""
    kill_group(served.proc)


def _job(url: str, job_id: str) -> tuple[dt.datetime | None, int]:
    """(last_started_at, runs_total) of ``job_id`` in the job_run table; (None, 0) if absent."""
    eng = make_engine(url)
    try:
        with read_session(eng) as s:
            row = s.get(JobRunRow, job_id)
            return (row.last_started_at, row.runs_total or 0) if row is not None else (None, 0)
    finally:
        eng.dispose()


def _snapshots(url: str) -> list[tuple[str, str, dict]]:
    """(hotline, trigger, payload) of every stored evaluation snapshot, oldest first."""
    eng = make_engine(url)
    try:
        with read_session(eng) as s:
            rows = s.scalars(select(EvaluationSnapshotRow).order_by(EvaluationSnapshotRow.id))
            return [(r.hotline_id, r.trigger, json.loads(r.payload)) for r in rows]
    finally:
        eng.dispose()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _url(base: Path) -> str:
    return f"sqlite:///{base / 'store.db'}"


# --- 1. SIGKILL during an inbox ingest --------------------------------------------------------


def test_serve_sigkilled_during_an_inbox_ingest_stores_nothing_and_the_restart_loads_the_file_once(
        tmp_path, sqlite_url, request):
    """A ``serve`` killed (SIGKILL, whole process group) while its inbox parses a queue_log
    of 480,000 calls: every data table is unchanged, the file is still in the inbox byte
    for byte (neither archived nor quarantined); a restarted ``serve`` loads it whole into
    one ingest row and archives it; the same content dropped again is only "already
    loaded" (no second ingest row, no table grows)."""
    env = service_env(tmp_path, extra={"HOTLINE_KPI_DATABASE_URL": sqlite_url, **FAST})
    inbox, archive = tmp_path / "var" / "inbox", tmp_path / "var" / "archive"
    quarantine, originals = tmp_path / "var" / "quarantine", tmp_path / "var" / "originals"
    big = tmp_path / "queue_log"
    lines: list[str] = []
    for i in range(480_000):
        lines += answered(f"c{i}", i * 2, wait=3 + i % 20, talk=40)
    write(big, lines)
    digest = _sha(big)
    stamp = time.time() - 60
    os.utime(big, (stamp, stamp))
    before = counts(sqlite_url)

    served = start_serve(env, tmp_path, request.addfinalizer, wait_for="/healthz")
    inbox.mkdir(parents=True, exist_ok=True)
    os.rename(big, inbox / "queue_log")  # appears whole: the scan never sees it half-written
    # The original is copied while the file is parsed: a file under originals/ (the
    # .incoming-* temp copy, or the finished copy) shows the parse began. Waiting for the temp
    # copy alone raced: the copy can start and finish between two polls under load.
    wait_for(lambda: served.proc.poll() is not None or any(p.is_file() for p in originals.rglob("*")), 60,
             "the inbox started reading queue_log")
    time.sleep(0.5)
    assert served.proc.poll() is None, f"serve exited during the ingest\n{served.log()}"
    assert counts(sqlite_url) == before, "the ingest committed before it could be killed: make the file bigger"
    _kill(served)
    assert served.proc.returncode == -signal.SIGKILL

    assert counts(sqlite_url) == before, "a SIGKILLed ingest left rows behind"
    assert (inbox / "queue_log").is_file() and _sha(inbox / "queue_log") == digest, \
        "var/inbox/queue_log is gone or changed after the kill"
    assert files(archive) == [] and files(quarantine) == [], \
        f"moved although not loaded: archive {files(archive)}, quarantine {files(quarantine)}"

    again = start_serve(env, tmp_path, request.addfinalizer, wait_for="/healthz")
    wait_for(lambda: not (inbox / "queue_log").exists() or again.proc.poll() is not None, 240,
             "the restarted serve moved queue_log out of the inbox")
    assert again.proc.poll() is None, f"the restarted serve exited\n{again.log()}"
    archived = files(archive)
    assert [p.name for p in archived] == ["queue_log"] and _sha(archived[0]) == digest, \
        f"archive holds {archived}, not the one original queue_log"
    assert files(quarantine) == []
    loaded = counts(sqlite_url)
    assert loaded["ingest"] == before["ingest"] + 1, f"ingest rows {before['ingest']} -> {loaded['ingest']}"
    assert loaded["source_day"] > before["source_day"] and loaded["queue_call_day"] > before["queue_call_day"]
    assert [r for r in attempts(sqlite_url) if r[1] == "loaded"] == [("queue_log", "loaded", "")]

    # The same content once more: a later scan finds it already loaded and stores nothing.
    shutil.copyfile(archived[0], tmp_path / "copy")
    os.utime(tmp_path / "copy", (stamp, stamp))
    os.rename(tmp_path / "copy", inbox / "queue_log")
    wait_for(lambda: not (inbox / "queue_log").exists(), 120, "the second copy left the inbox")
    assert counts(sqlite_url) == loaded, "the same queue_log was loaded twice"
    assert [r[1] for r in attempts(sqlite_url) if r[0] == "queue_log"] == ["loaded", "already_loaded"]
    assert len(files(archive)) == 2 and files(quarantine) == []
    assert again.stop() == 0


# --- 2. SIGKILL during an evaluation ------------------------------------------------------------


def _kill_during_first_evaluation(demo: DemoTemplate, base: Path, request: pytest.FixtureRequest,
                                  attempts: int = 3) -> dict[str, str]:
    """A demo store whose first evaluation (the start-up catch-up of evaluate_daily) was
    cut by SIGKILL after it started and before it finished; returns its environment.
    Tries again on a fresh store when the evaluation finished before the kill landed."""
    for attempt in range(attempts):
        folder = base / f"try-{attempt}"
        env = prepare_demo(demo, folder, extra_env=FAST)
        url = _url(folder)
        served = _spawn(env, folder, request.addfinalizer)
        wait_for(lambda: served.proc.poll() is not None or _job(url, EVALUATE_DAILY)[0] is not None, 60,
                 "the start-up evaluation began", every=0.01)
        _kill(served)
        started, runs = _job(url, EVALUATE_DAILY)
        assert started is not None, f"serve died before evaluating\n{served.log()}"
        if runs == 0:  # started, never finished: the kill landed mid-evaluation
            assert _snapshots(url) == [], "a snapshot was stored by an evaluation that never finished"
            return env
    pytest.fail(f"the evaluation finished before SIGKILL in {attempts} tries")


def test_serve_sigkilled_during_an_evaluation_serves_the_complete_scoreboard_after_restart(tmp_path, request,
                                                                                          demo_template):
    """A ``serve`` on the demo year, SIGKILLed while its first evaluation runs (job_run shows
    it started; runs_total is still 0; no snapshot stored). The restarted ``serve`` must
    run the cut evaluation again (it was not done) and become ready; every scoreboard it
    serves, from its first 200 on, equals ``hotline-kpi evaluate --format json`` on the
    same store, and exactly one snapshot is stored."""
    env = _kill_during_first_evaluation(demo_template, tmp_path, request)
    base = Path(env["HOTLINE_KPI_VAR_DIR"]).parent
    url = _url(base)
    expected = json.loads(run_cli(env, "evaluate", "--format", "json", cwd=base).stdout)

    again = _spawn(env, base, request.addfinalizer)
    served: list[dict] = []

    def ready() -> bool:
        assert again.proc.poll() is None, f"the restarted serve exited\n{again.log()}"
        try:
            status, body = raw_get(again.port, "/api/v1/scoreboard")
        except OSError:
            return False  # not listening yet
        assert status in (200, 404), f"/api/v1/scoreboard answered {status}: {body[:300]!r}"
        if status == 200:
            served.append(json.loads(body))
        return status == 200 and raw_get(again.port, "/readyz")[0] == 200

    wait_for(ready, 45, "the restarted serve evaluated again and is ready (the cut evaluation was not caught up)",
             every=0.05)
    for i, payload in enumerate(served):
        assert payload == expected, f"served scoreboard #{i} differs from `hotline-kpi evaluate --format json`"
    snaps = _snapshots(url)
    assert [(h, t) for h, t, _ in snaps] == [("shanghai-12345", "schedule")], snaps and [s[:2] for s in snaps]
    assert snaps[0][2] == expected, "the stored snapshot differs from `hotline-kpi evaluate --format json`"
    # The job's run is counted when the job returns, a moment after its snapshot is stored and
    # the page is ready: waited for, then it must be exactly one run.
    wait_for(lambda: _job(url, EVALUATE_DAILY)[1] >= 1, 15, "the caught-up evaluation counted in job_run")
    assert _job(url, EVALUATE_DAILY)[1] == 1
    wait_for(lambda: metric(again.port, "hotline_kpi_job_runs_total", 'job_id="evaluate_daily"') == 1, 15,
             'hotline_kpi_job_runs_total{job_id="evaluate_daily"} 1 on /metrics')
    assert again.stop() == 0


# --- 3. a restart across the scheduled daily run ----------------------------------------------


def test_a_daily_run_missed_while_serve_was_down_is_caught_up_once_at_start(tmp_path, request, demo_template):
    """EVALUATE_AT is the next real minute in Asia/Shanghai at least 30 s away. A first
    ``serve`` evaluates at start (never ran) and stops cleanly before that minute; the
    minute passes with no ``serve`` running (a real wait, at most ~90 s); the next
    ``serve`` catches the missed run up at once (one more run and snapshot, started after
    the scheduled time, shown on /metrics); a third ``serve`` started right after does
    not run it again."""
    base = tmp_path / "s"
    env = prepare_demo(demo_template, base, extra_env=FAST)
    url = _url(base)
    now = dt.datetime.now(ZONE)
    # At least 30 s ahead: the first serve must start, evaluate and stop before it, on a
    # loaded CI machine too.
    due = (now + dt.timedelta(seconds=30 + 60)).replace(second=0, microsecond=0)
    env["HOTLINE_KPI_SERVICE__EVALUATE_AT"] = f"{due:%H:%M}"

    first = start_serve(env, base, request.addfinalizer, ready_timeout=30)
    wait_for(lambda: _job(url, EVALUATE_DAILY)[1] == 1, 15, "the first serve's start-up evaluation finished")
    assert first.stop() == 0
    stopped = dt.datetime.now(ZONE)
    assert stopped < due, f"the first serve ran until {stopped:%H:%M:%S}, past the scheduled {due:%H:%M}: too slow"
    first_started, _ = _job(url, EVALUATE_DAILY)
    assert len(_snapshots(url)) == 1

    # serve is down while the scheduled minute passes (bounded: due was at most 90 s ahead).
    time.sleep(max(0.0, (due - dt.datetime.now(ZONE)).total_seconds()) + 1)
    assert dt.datetime.now(ZONE) > due

    second = start_serve(env, base, request.addfinalizer, ready_timeout=30)
    wait_for(lambda: _job(url, EVALUATE_DAILY)[1] == 2, 30, "the missed run caught up at start")
    started, runs = _job(url, EVALUATE_DAILY)
    assert started is not None and first_started is not None and started > first_started
    started_utc = started if started.tzinfo else started.replace(tzinfo=dt.timezone.utc)
    assert started_utc > due, f"caught-up run started {started_utc}, not after the scheduled {due}"
    assert "job evaluate_daily is overdue: running it now" in second.log()
    assert [t for _, t, _ in _snapshots(url)] == ["schedule", "schedule"]
    wait_for(lambda: metric(second.port, "hotline_kpi_job_runs_total", 'job_id="evaluate_daily"') == 2, 15,
             'hotline_kpi_job_runs_total{job_id="evaluate_daily"} 2 on /metrics')
    last_ok = metric(second.port, "hotline_kpi_job_last_success_timestamp_seconds", 'job_id="evaluate_daily"')
    assert last_ok is not None and last_ok > due.timestamp()
    assert second.stop() == 0

    scans_before = _job(url, INBOX_SCAN)[1]
    third = start_serve(env, base, request.addfinalizer, ready_timeout=30)
    # The catch-up decision is logged before "scheduler started"; the first scan runs at start too.
    wait_for(lambda: "scheduler started" in third.log() and _job(url, INBOX_SCAN)[1] > scans_before, 30,
             "the third serve's scheduler started and scanned the inbox")
    time.sleep(1)  # a catch-up would have been scheduled for the same instant as that scan
    assert "overdue" not in third.log(), "the third serve caught up a run that already happened"
    assert _job(url, EVALUATE_DAILY)[1] == 2 and len(_snapshots(url)) == 2
    assert metric(third.port, "hotline_kpi_job_runs_total", 'job_id="evaluate_daily"') == 2
    assert third.stop() == 0


# --- 4. an archive or originals folder that cannot be written --------------------------------


@pytest.mark.parametrize("folder", ["archive", "originals"])
def test_an_unwritable_archive_or_originals_folder_keeps_the_file_in_the_inbox_and_shows_the_error(
        folder, tmp_path, sqlite_url, request):
    """``var/<folder>`` replaced by a regular FILE of that name (chmod does not stop root,
    which CI runs as; no mount is available: a file in the way stops everyone, root
    included). A daily report dropped in the inbox stays there, unchanged; the error is
    in the log and on /metrics (``hotline_kpi_ingest_files_total{result="error"}``); for
    ``originals`` nothing is stored, for ``archive`` the load itself committed. Once the
    folder can be created again, the next scan finishes the job: the file is archived and
    there is exactly one ingest row (no second load)."""
    env = service_env(tmp_path, extra={"HOTLINE_KPI_DATABASE_URL": sqlite_url, **FAST})
    var = tmp_path / "var"
    blocker = var / folder
    var.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file where a folder should be\n", encoding="utf-8")
    before = counts(sqlite_url)
    served = start_serve(env, tmp_path, request.addfinalizer, wait_for="/healthz")
    path = drop(var / "inbox", "jan.csv", REPORT)
    digest = _sha(path)

    wait_for(lambda: any(r[1] == "error" for r in attempts(sqlite_url)) or served.proc.poll() is not None, 30,
             "an inbox error recorded for jan.csv")
    assert served.proc.poll() is None, f"serve exited\n{served.log()}"
    errors = [r for r in attempts(sqlite_url) if r[1] == "error"]
    assert errors[0][0] == "jan.csv" and "Not a directory" in errors[0][2], errors
    wait_for(lambda: re.search(r"收件箱：错误 jan\.csv：.*Not a directory", served.log()) is not None, 15,
             "the error in the serve log")
    # The source is unknown when the load itself failed (originals), daily-report when only the move did.
    wait_for(lambda: errors_on_metrics(served.port) >= 1, 15, 'hotline_kpi_ingest_files_total{result="error",...} >= 1')
    assert path.is_file() and _sha(path) == digest, "jan.csv left the inbox or changed"
    assert blocker.is_file() and blocker.read_text(encoding="utf-8").startswith("a file where")
    stored = counts(sqlite_url)
    if folder == "originals":
        assert stored == before, "stored although its original could not be kept"
    else:
        assert stored["ingest"] == before["ingest"] + 1 and stored["source_day"] > before["source_day"]

    blocker.unlink()  # the folder can be created again
    wait_for(lambda: not path.exists(), 30, "jan.csv archived once the folder can be written")
    archived = files(var / "archive")
    assert [p.name for p in archived] == ["jan.csv"] and _sha(archived[0]) == digest
    assert files(var / "quarantine") == []
    after = counts(sqlite_url)
    assert after["ingest"] == before["ingest"] + 1, f"ingest rows {before['ingest']} -> {after['ingest']}"
    results = [r[1] for r in attempts(sqlite_url) if r[1] != "error"]
    # While the archive was blocked every scan found the file already loaded; it loaded once.
    assert results[0] == "loaded" and set(results[1:]) <= {"already_loaded"}, results
    assert results.count("loaded") == 1 and (folder == "archive") == (len(results) > 1), results
    assert served.proc.poll() is None and served.stop() == 0


def test_a_run_cut_short_does_not_count_as_run_for_the_catch_up(sqlite_url):
    """The rule behind the evaluation restart above, on the real ``run_recorded``: a run
    whose job never returned (a BaseException stands in for the process dying between
    the start and end writes; SIGKILL itself is the serve test) leaves ``last_started``
    None, so the catch-up runs it again; a run that ended, in success or in failure,
    counts with its start time (a failure is not retried at start, as before)."""
    from hotline_kpi.clock import FixedClock
    from hotline_kpi.service.jobs import last_started, run_recorded

    class Killed(BaseException):
        pass

    def dies() -> None:
        raise Killed

    def fails() -> None:
        raise ValueError("boom")

    t = [dt.datetime(2020, 3, d, 0, 30, tzinfo=dt.timezone.utc) for d in (1, 2, 3, 4)]
    eng = make_engine(sqlite_url)
    try:
        with pytest.raises(Killed):
            run_recorded(eng, FixedClock(t[0]), "first-cut", dies)
        assert last_started(eng, "first-cut") is None, "a first run cut short counted as run"
        assert run_recorded(eng, FixedClock(t[0]), "j", lambda: None) is True
        assert last_started(eng, "j") == t[0]
        with pytest.raises(Killed):
            run_recorded(eng, FixedClock(t[1]), "j", dies)
        assert last_started(eng, "j") is None, "a run cut short after a good one counted as run"
        assert run_recorded(eng, FixedClock(t[2]), "j", lambda: None) is True
        assert last_started(eng, "j") == t[2]
        assert run_recorded(eng, FixedClock(t[3]), "j", fails) is False
        assert last_started(eng, "j") == t[3], "a failed run (it ended) did not count as run"
    finally:
        eng.dispose()
