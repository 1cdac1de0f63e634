"""Scheduling: overdue runs are caught up after a restart, and runs are recorded."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select

from hotline_kpi.clock import FixedClock
from hotline_kpi.schedule import is_overdue, last_scheduled_before
from hotline_kpi.i18n import set_language
from hotline_kpi.service.jobs import EVALUATE_DAILY, INBOX_SCAN, run_recorded
from hotline_kpi.service.runtime import Service
from hotline_kpi.store.db import make_engine, read_session
from hotline_kpi.store.models import EvaluationSnapshotRow, JobRunRow

SH = ZoneInfo("Asia/Shanghai")
DAILY = CronTrigger(hour=8, minute=30, timezone=SH)


def at(y, mo, d, h, mi) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=SH)


def test_the_last_scheduled_time_is_computed_in_the_hotline_zone():
    # 00:20 UTC is 08:20 in Shanghai: today's 08:30 has not come, yesterday's has.
    now = dt.datetime(2019, 6, 10, 0, 20, tzinfo=dt.timezone.utc)
    assert last_scheduled_before(DAILY, now, dt.timedelta(days=3)) == at(2019, 6, 9, 8, 30)
    assert last_scheduled_before(DAILY, at(2019, 6, 10, 8, 30), dt.timedelta(days=3)) == at(2019, 6, 10, 8, 30)


@pytest.mark.parametrize(("last", "now", "overdue"), [
    (None, at(2019, 6, 10, 9, 0), True),                       # never ran
    (at(2019, 6, 10, 8, 30), at(2019, 6, 10, 9, 0), False),    # ran today on time
    (at(2019, 6, 9, 8, 30), at(2019, 6, 10, 8, 29), False),    # today's run not due yet
    (at(2019, 6, 9, 8, 30), at(2019, 6, 10, 11, 0), True),     # down across 08:30 today
    (at(2019, 6, 7, 8, 30), at(2019, 6, 10, 7, 0), True),      # down for days
])
def test_a_run_is_overdue_when_a_scheduled_time_passed_since_it_last_started(last, now, overdue):
    assert is_overdue(DAILY, last, now) is overdue


def test_a_failing_job_is_recorded_and_does_not_raise(sqlite_url):
    engine = make_engine(sqlite_url)
    clock = FixedClock(at(2019, 6, 10, 8, 30))

    def boom() -> None:
        raise RuntimeError("no")

    assert run_recorded(engine, clock, "x", boom) is False
    assert run_recorded(engine, clock, "x", lambda: None) is True
    with read_session(engine) as s:
        row = s.get(JobRunRow, "x")
    assert (row.runs_total, row.failures_total, row.last_error) == (2, 1, "")
    engine.dispose()


def test_the_job_log_names_jobs_as_the_office_reads_them(sqlite_url, caplog: pytest.LogCaptureFixture):
    """The service log names a job in words (收件箱扫描, 每日评估), not by its internal id."""
    engine = make_engine(sqlite_url)
    clock = FixedClock(at(2019, 6, 10, 8, 30))
    set_language("zh")
    with caplog.at_level(logging.INFO, logger="hotline_kpi.service.jobs"):
        run_recorded(engine, clock, INBOX_SCAN, lambda: None)
        run_recorded(engine, clock, EVALUATE_DAILY, lambda: None)
        run_recorded(engine, clock, "alerts_digest", lambda: None)
    lines = [r.getMessage() for r in caplog.records if r.name == "hotline_kpi.service.jobs"]
    assert [re.sub(r"\d+\.\d{3}", "N", line) for line in lines] == [
        "任务 收件箱扫描 完成，用时 N 秒", "任务 每日评估 完成，用时 N 秒", "任务 告警每日汇总 完成，用时 N 秒"], lines
    caplog.clear()
    set_language("en")
    try:
        with caplog.at_level(logging.INFO, logger="hotline_kpi.service.jobs"):
            run_recorded(engine, clock, INBOX_SCAN, lambda: None)
        assert re.fullmatch(r"job inbox scan done in \d+\.\d{3} s", caplog.records[-1].getMessage())
    finally:
        set_language("zh")
    engine.dispose()


def _wait(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_restart_after_a_missed_daily_run_catches_it_up(sqlite_url, settings, catalogues, tmp_path):
    """Service down across 08:30: at the next start the evaluation runs at once."""
    from tests.test_cli import REPORT
    from hotline_kpi.ingest.pipeline import ingest_file

    engine = make_engine(sqlite_url)
    clock = FixedClock(at(2020, 3, 2, 11, 0))
    (tmp_path / "r.csv").write_text(REPORT, encoding="utf-8")
    ingest_file(engine, tmp_path / "r.csv", settings=settings, catalogues=catalogues, clock=clock)
    run_recorded(engine, FixedClock(at(2020, 3, 1, 8, 30)), EVALUATE_DAILY, lambda: None)  # yesterday's run

    service = Service(settings, catalogues, engine, clock, holder="restarted")
    try:
        assert service.coordinate_once() is True
        jobs = {j.id for j in service.scheduler.get_jobs()}
        assert EVALUATE_DAILY in jobs
        assert _wait(lambda: _snapshots(engine) == 1)
    finally:
        service.stop()
    with read_session(engine) as s:
        assert s.get(JobRunRow, EVALUATE_DAILY).runs_total == 2
    engine.dispose()


def test_no_catch_up_when_the_daily_run_already_happened(sqlite_url, settings, catalogues):
    engine = make_engine(sqlite_url)
    clock = FixedClock(at(2020, 3, 2, 11, 0))
    run_recorded(engine, FixedClock(at(2020, 3, 2, 8, 30)), EVALUATE_DAILY, lambda: None)
    service = Service(settings, catalogues, engine, clock, holder="h")
    try:
        service.coordinate_once()
        assert f"{EVALUATE_DAILY}:catch-up" not in {j.id for j in service.scheduler.get_jobs()}
        # the regular job is scheduled for the next 08:30 in Shanghai, not the machine's zone
        nxt = service.scheduler.get_job(EVALUATE_DAILY).next_run_time
        assert (nxt.astimezone(SH).hour, nxt.astimezone(SH).minute) == (8, 30)
    finally:
        service.stop()
    engine.dispose()


def test_a_second_service_on_the_same_database_runs_no_jobs_until_the_first_stops(sqlite_url, settings, catalogues):
    clock = FixedClock(at(2020, 3, 2, 11, 0))
    e1, e2 = make_engine(sqlite_url), make_engine(sqlite_url)
    first = Service(settings, catalogues, e1, clock, holder="first")
    second = Service(settings, catalogues, e2, clock, holder="second")
    try:
        assert first.coordinate_once() is True and first.scheduler is not None
        assert second.coordinate_once() is False and second.scheduler is None
        first.stop()  # releases the lease
        assert second.coordinate_once() is True and second.scheduler is not None
    finally:
        first.stop()
        second.stop()
        e1.dispose()
        e2.dispose()


def _snapshots(engine) -> int:
    with read_session(engine) as s:
        return len(s.scalars(select(EvaluationSnapshotRow.id)).all())
