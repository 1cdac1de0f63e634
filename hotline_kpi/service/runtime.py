"""The service process: leadership, the scheduler, the inbox and the metrics cache.

Every ``serve`` process serves HTTP. Only the one holding the leadership lease runs the
scheduled jobs; the others keep trying and take over when the lease expires. All of
them refresh the exporter's cache from the database, so a standby's /metrics and status
page show what the leader evaluated.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from hotline_kpi.alerts.alerting import Alerting
from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import Clock
from hotline_kpi.i18n import _
from hotline_kpi.service.catalogues import LiveCatalogues
from hotline_kpi.service.exporter import MetricsCache
from hotline_kpi.service.league import LeagueBoard
from hotline_kpi.service.league_metrics import LeagueCollector
from hotline_kpi.service.inbox import Inbox, InboxResult
from hotline_kpi.schedule import JobSpec, is_overdue
from hotline_kpi.service.jobs import EVALUATE_DAILY, INBOX_SCAN, evaluate_hotlines, last_started, run_recorded
from hotline_kpi.service.leader import Leadership
from hotline_kpi.settings import Settings

log = logging.getLogger(__name__)


class Service:
    def __init__(self, settings: Settings, catalogues: CatalogueSet, engine: Engine, clock: Clock,
                 holder: str | None = None):
        self.settings = settings
        self.catalogues = catalogues
        self.engine = engine
        self.clock = clock
        self.leadership = Leadership(engine, clock, settings.service.lease_seconds, holder=holder)
        zones = {h.id: h.timezone for h in catalogues.hotlines()}
        info = {h.id: (h.name, h.province) for h in catalogues.hotlines()}
        self.cache = MetricsCache(engine, zones, clock.now, leader=lambda: self.leadership.is_leader,
                                  hotline_info=info)
        if isinstance(catalogues, LiveCatalogues):
            # A snapshot of a hotline or year added while serving (evaluated by the command
            # line): load the catalogue folder again before the page and league read it; the
            # new hotlines' zone and info apply from their next rendering.
            self.cache.listeners.append(lambda m: self._follow(catalogues, m))
        # The league table (issue #19): built once per evaluation from the cached snapshots;
        # its collector renders with the snapshots' half of /metrics (redone when one changes).
        self.league = LeagueBoard.from_settings(settings, catalogues)
        self.cache.add_snapshot_collector(LeagueCollector(self.league, lambda: self.cache.model.snapshots))
        self.inbox = Inbox(engine, settings, catalogues, clock, on_loaded=self._after_ingest)
        self.scheduler: BackgroundScheduler | None = None
        #: Jobs of other capabilities (alerts, reports) register here before start().
        self.extra_jobs: list[JobSpec] = []
        # Alerts (issue #5): judged inside each evaluation's transaction; their dispatch
        # and digest jobs run on the leader like the others. None: no rules file.
        self.alerting = Alerting.from_settings(settings, catalogues, engine, clock, holder=self.leadership.holder)
        if self.alerting is not None:
            self.extra_jobs.extend(self.alerting.jobs())
        # The year-end report (issue #7): drafted and mailed once a year, on the leader.
        from hotline_kpi.report.run import report_job

        self.extra_jobs.append(report_job(engine, settings, catalogues, clock))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: Hotlines whose files loaded but whose evaluation has not succeeded yet (the
        #: database went away in between): evaluated again after every inbox scan.
        self._owed: set[str] = set()
        #: One lock per job id: a run never overlaps another run of the same job here.
        self._job_locks: dict[str, threading.Lock] = {}

    # --- jobs ------------------------------------------------------------------------

    def evaluate(self, trigger: str, hotline_ids: list[str] | None = None) -> list[str]:
        done = evaluate_hotlines(self.engine, self.settings, self.catalogues, self.clock, trigger, hotline_ids,
                                 alerting=self.alerting)
        self.cache.refresh()
        return done

    def _after_ingest(self, hotline_id: str) -> None:
        self._owed.add(hotline_id)
        self._evaluate_owed()

    def _evaluate_owed(self) -> None:
        owed = sorted(self._owed)
        self.evaluate("ingest", owed)
        self._owed.difference_update(owed)

    def scan_inbox(self) -> list[InboxResult]:
        """The inbox job. A load commits before its evaluation runs; when that evaluation
        fails (the database restarted in between) the job fails, and the next scans try
        it again until it succeeds: new data is never left unevaluated until the next
        scheduled run."""
        results = self.inbox.scan()
        if self._owed:
            log.info("%s", _("evaluating again after a failed evaluation: {hotlines}", hotlines=", ".join(sorted(self._owed))))
            self._evaluate_owed()
        return results

    def jobs(self) -> list[JobSpec]:
        s = self.settings.service
        hour, minute = (int(x) for x in s.evaluate_at.split(":"))
        zone = self.settings.zone
        return [
            JobSpec(INBOX_SCAN, self.scan_inbox, IntervalTrigger(seconds=s.inbox_scan_seconds, timezone=zone)),
            JobSpec(EVALUATE_DAILY, lambda: self.evaluate("schedule"), CronTrigger(hour=hour, minute=minute,
                                                                                   timezone=zone), catch_up=True),
            *self.extra_jobs,
        ]

    def run_job(self, spec: JobSpec) -> bool:
        """Run a job unless a run of it is still going on in this process. APScheduler's
        max_instances holds within one scheduler only, and a scheduler stopped when the
        lease is lost (the database restarted) leaves its running job running: the new
        scheduler's first run would overlap it (two scans loading the same file)."""
        lock = self._job_locks.setdefault(spec.id, threading.Lock())
        if not lock.acquire(blocking=False):
            log.warning("job %s: a run is still going on (from before the scheduler restarted): skipped", spec.id)
            return False
        try:
            ok = run_recorded(self.engine, self.clock, spec.id, spec.func)
        finally:
            lock.release()
        self.cache.refresh()
        return ok

    # --- scheduler ---------------------------------------------------------------------

    def start_scheduler(self) -> BackgroundScheduler:
        s = self.settings.service
        sched = BackgroundScheduler(
            timezone=self.settings.zone,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": s.misfire_grace_seconds},
        )
        now_real = dt.datetime.now(self.settings.zone)
        specs = self.jobs()
        for spec in specs:
            extra = {"next_run_time": now_real} if spec.id == INBOX_SCAN else {}
            sched.add_job(self.run_job, spec.trigger, args=[spec], id=spec.id, name=spec.id, replace_existing=True,
                          **extra)
        # add_job computes the next run from now and would silently drop a run missed while
        # the service was down (reliability.md): run such a job once, now.
        for spec in specs:
            if spec.catch_up and is_overdue(spec.trigger, last_started(self.engine, spec.id), self.clock.now()):
                log.info("job %s is overdue: running it now", spec.id)
                sched.add_job(self.run_job, "date", args=[spec], id=f"{spec.id}:catch-up", name=f"{spec.id}:catch-up",
                              run_date=now_real, misfire_grace_time=None)
        sched.start()
        self.scheduler = sched
        log.info("scheduler started (leader %s): %s", self.leadership.holder, ", ".join(s.id for s in specs))
        # When each job fires next, in the hotline's zone with its offset: an operator (and
        # the reliability suite) can see that 08:30 means 08:30 in Shanghai, not on the machine.
        for job in sched.get_jobs():
            if job.next_run_time is not None:
                log.info("job %s: next run at %s", job.id, job.next_run_time.isoformat())
        return sched

    def stop_scheduler(self, wait: bool = True) -> None:
        if self.scheduler is not None:
            # wait=True lets a running job finish: no job is cut in half by a clean stop.
            self.scheduler.shutdown(wait=wait)
            self.scheduler = None
            log.info("scheduler stopped")

    # --- coordination ------------------------------------------------------------------

    def coordinate_once(self) -> bool:
        """One step: renew or take the lease, start or stop the scheduler, refresh the
        metrics cache. Returns whether this process leads. Tests drive it directly."""
        with self._lock:
            leader = self.leadership.try_acquire()
            if leader and self.scheduler is None:
                self.start_scheduler()
            elif not leader and self.scheduler is not None:
                log.warning("lost the scheduler lease: stopping jobs")
                self.stop_scheduler(wait=False)
            self.cache.refresh()
            return leader

    def _loop(self) -> None:
        period = min(self.settings.service.lease_seconds / 3, self.settings.service.metrics_refresh_seconds)
        while not self._stop.is_set():
            try:
                self.coordinate_once()
            except Exception:  # noqa: BLE001 - keep serving; the next step tries again
                log.exception("coordination step failed")
            self._stop.wait(period)

    def start(self) -> None:
        self.settings.inbox_dir.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._loop, name="hotline-kpi-coordinator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._lock:
            self.stop_scheduler(wait=True)
            self.leadership.release()

    def _follow(self, catalogues: LiveCatalogues, m: object) -> None:
        if catalogues.follow((hid, s.as_of.year) for hid, s in m.snapshots.items()):  # type: ignore[attr-defined]
            for h in catalogues.hotlines():
                self.cache.zones.setdefault(h.id, h.timezone)
                self.cache.hotline_info.setdefault(h.id, (h.name, h.province))

    def state(self) -> dict[str, object]:
        return {"leader": self.leadership.is_leader, "holder": self.leadership.holder}


def on_ready_message(host: str, port: int) -> Callable[[], str]:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return lambda: _("hotline-kpi serving on {page} (status page), {metrics} (Prometheus)",
                     page=f"http://{shown}:{port}/", metrics=f"http://{shown}:{port}/metrics")
