"""Scheduled jobs: stable ids, run bookkeeping, what a catch-up at start-up needs, and
the evaluation job (every hotline with data evaluated and its snapshot stored).

APScheduler 3 keeps jobs in memory here (a SQLite job store on the busy database hits
"database is locked", and runs are at most once anyway: reliability.md). What survives a
restart is the ``job_run`` table: at start-up a cron job whose last run is older than
its most recent scheduled time is run at once instead of being silently dropped (the
pure schedule arithmetic is :mod:`hotline_kpi.schedule`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Callable, Sequence

from sqlalchemy import Engine, select

from hotline_kpi.alerts.alerting import ALERTS_DIGEST, ALERTS_DISPATCH
from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import Clock, local_today
from hotline_kpi.evaluation import default_as_of, load_evaluation
from hotline_kpi.i18n import M_, Msg, _, localize
from hotline_kpi.service.snapshots import store_snapshot
from hotline_kpi.settings import Settings
from hotline_kpi.store import sums
from hotline_kpi.store.db import read_session, write_session
from hotline_kpi.store.models import JobRunRow

if TYPE_CHECKING:
    from hotline_kpi.alerts.alerting import Alerting

log = logging.getLogger(__name__)

#: Stable job ids (metrics labels, the job_run table, alert and report jobs join them).
INBOX_SCAN = "inbox_scan"
EVALUATE_DAILY = "evaluate_daily"

#: What the service log calls each job (the ids stay in metrics labels and the job_run table).
JOB_NAMES: dict[str, Msg] = {
    INBOX_SCAN: M_("inbox scan"),
    EVALUATE_DAILY: M_("daily evaluation"),
    ALERTS_DISPATCH: M_("alert mail dispatch"),
    ALERTS_DIGEST: M_("daily alert digest"),
    "report_draft": M_("self-evaluation report draft"),  # report.run.REPORT_DRAFT (imported lazily there)
}


def job_name(job_id: str) -> str:
    """A job as the log names it: 收件箱扫描, 每日评估, ...; an unknown job by its id."""
    name = JOB_NAMES.get(job_id)
    return localize(name) if name is not None else job_id


def _cut_short(row: JobRunRow) -> bool:
    """The last run recorded its start but neither a success nor a failure after it: the
    process died mid-job (SIGKILL, power loss). A failure sets ``last_error``; a success
    sets ``last_success_at`` after the start; every ended run counts in ``runs_total``."""
    if row.last_started_at is None or row.last_error:
        return False
    if not row.runs_total:
        return True
    success = row.last_success_at
    return success is not None and success < row.last_started_at


def last_started(engine: Engine, job_id: str) -> dt.datetime | None:
    """When the job last started a run that ran to its end; None if it never did, or if
    its last run was cut short: that run did not happen, so the catch-up at start-up
    (:func:`is_overdue`) runs it again instead of losing it until the next scheduled time."""
    with read_session(engine) as s:
        row = s.get(JobRunRow, job_id)
        if row is None or _cut_short(row):
            return None
        return row.last_started_at


def job_runs(engine: Engine) -> list[JobRunRow]:
    with read_session(engine) as s:
        return list(s.scalars(select(JobRunRow).order_by(JobRunRow.job_id)))


def _job_row(session, job_id: str) -> JobRunRow:  # noqa: ANN001
    row = session.get(JobRunRow, job_id)
    if row is None:
        row = JobRunRow(job_id=job_id, runs_total=0, failures_total=0, last_error="")
        session.add(row)
    return row


def run_recorded(engine: Engine, clock: Clock, job_id: str, func: Callable[[], object]) -> bool:
    """Run one job, recording its start, duration and outcome. Exceptions are logged and
    counted, never raised into the scheduler (which would only log them)."""
    started = clock.now()
    t0 = time.monotonic()
    try:
        with write_session(engine) as s:
            row = _job_row(s, job_id)
            row.last_started_at = started
    except Exception as exc:  # noqa: BLE001 - the database may be down; the job itself will say so
        log.warning("job %s: could not record its start: %s", job_id, exc.__class__.__name__)
    error = ""
    try:
        func()
    except Exception as exc:  # noqa: BLE001
        error = f"{exc.__class__.__name__}: {exc}"
        log.exception("%s", _("job {job} failed", job=job_name(job_id)))
    duration = time.monotonic() - t0
    try:
        with write_session(engine) as s:
            row = _job_row(s, job_id)
            row.runs_total = (row.runs_total or 0) + 1
            row.last_duration_seconds = duration
            if error:
                row.failures_total = (row.failures_total or 0) + 1
                row.last_error = error[:2000]
            else:
                row.last_success_at = clock.now()
                row.last_error = ""
    except Exception as exc:  # noqa: BLE001
        log.warning("job %s: could not record its end: %s", job_id, exc.__class__.__name__)
    log.info("%s", _("job {job} failed in {seconds:.3f} s", job=job_name(job_id), seconds=duration) if error
             else _("job {job} done in {seconds:.3f} s", job=job_name(job_id), seconds=duration))
    return not error


def evaluate_hotlines(engine: Engine, settings: Settings, catalogues: CatalogueSet, clock: Clock, trigger: str,
                      hotline_ids: Sequence[str] | None = None, alerting: Alerting | None = None) -> list[str]:
    """Evaluate (as of each hotline's last day with data, not after yesterday) and store a
    snapshot per hotline in one transaction; returns the hotlines evaluated. With
    ``alerting``, the alert rules are judged against each snapshot in that transaction."""
    known = {h.id for h in catalogues.hotlines()}
    done: list[str] = []
    boards = []
    with read_session(engine) as s:
        ids = list(hotline_ids) if hotline_ids is not None else sums.hotline_ids_with_data(s)
        for hid in ids:
            if hid not in known:
                continue
            as_of = default_as_of(s, hid, local_today(clock, catalogues.hotline(hid).zone))
            if catalogues.get(hid, as_of.year) is None:
                log.warning("no target catalogue for %s in %s: not evaluated", hid, as_of.year)
                continue
            boards.append(load_evaluation(s, catalogues, settings.formulas, hid, as_of))
    with write_session(engine) as s:
        at = clock.now()
        for ev in boards:
            sb = ev.scoreboard
            snapshot_id = store_snapshot(s, sb, at, trigger, extra=ev.extra_json())
            if alerting is not None:
                # Alert state changes (and their outbox rows) commit or roll back with the
                # evaluation that caused them.
                alerting.on_snapshot(s, snapshot_id, at)
            done.append(sb.hotline_id)
    return done
