"""Prometheus exporter: a custom collector over the stored evaluation snapshots.

A scrape never ingests, evaluates or even queries the database: :class:`MetricsCache`
re-reads the latest snapshots and bookkeeping every ``metrics_refresh_seconds`` (and
after each job) into an immutable :class:`MetricsModel`, renders it once, and /metrics
serves those bytes. Fresh metric families are built from the model on every render, so
a hotline, indicator or source that disappears stops being exported. "No data" is an
absent series, never NaN. When the database cannot be read, the last good model stays
and ``hotline_kpi_database_up`` says 0 (reliability.md, observability.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import platform
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from hotline_kpi import __version__
from hotline_kpi.alerts.outbox import AlertStats, alert_stats
from hotline_kpi.catalogue import Hotline
from hotline_kpi.domain import Status
from hotline_kpi.forecast import PaceStatus
from hotline_kpi.service.snapshots import Snapshot, latest_snapshots_reusing
from hotline_kpi.store.db import read_session
from hotline_kpi.store.models import IngestAttemptRow, IngestRow, JobRunRow

log = logging.getLogger(__name__)

STATUSES = tuple(s.value for s in Status)
#: The zone of a hotline missing from the settings' zones: the catalogue's default.
DEFAULT_ZONE: str = Hotline.model_fields["timezone"].default


@dataclass(frozen=True)
class JobStat:
    job_id: str
    runs_total: int
    failures_total: int
    last_duration_seconds: float | None
    last_success_at: dt.datetime | None


@dataclass(frozen=True)
class MetricsModel:
    snapshots: Mapping[str, Snapshot] = field(default_factory=dict)
    #: (source, result) -> (files, rows)
    ingest: Mapping[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    #: (hotline, source) -> last time a file of that source loaded (or was found already loaded)
    last_ingest_success: Mapping[tuple[str, str], dt.datetime] = field(default_factory=dict)
    jobs: tuple[JobStat, ...] = ()
    #: hotline -> time zone, for the data-date timestamps
    zones: Mapping[str, str] = field(default_factory=dict)
    #: the ingest sources known to this build (their counters are exported from 0)
    sources: tuple[str, ...] = ()
    refreshed_at: dt.datetime | None = None
    database_up: bool = False
    #: False when the snapshots' metrics could not be rendered (the last good ones are served).
    exporter_ok: bool = True
    error: str = ""
    #: alert states and notification deliveries (issue #5); None before the first read
    alerts: AlertStats | None = None


def load_model(engine: Engine, zones: Mapping[str, str], known: Mapping[str, Snapshot] | None = None) -> MetricsModel:
    """Read the model; snapshots already in ``known`` (same id) are reused, not decoded again."""
    with read_session(engine) as s:
        snaps = latest_snapshots_reusing(s, dict(known or {}))
        ingest = {
            (src, res): (int(n), int(days or 0))
            for src, res, n, days in s.execute(
                select(IngestAttemptRow.source, IngestAttemptRow.result, func.count(), func.sum(IngestAttemptRow.days))
                .group_by(IngestAttemptRow.source, IngestAttemptRow.result)
            )
        }
        last_ok: dict[tuple[str, str], dt.datetime] = {}  # latest inbox load or stored load (ingest, demo)
        for hid, src, at in [*s.execute(
                select(IngestAttemptRow.hotline_id, IngestAttemptRow.source, func.max(IngestAttemptRow.at))
                .where(IngestAttemptRow.result.in_(("loaded", "already_loaded")))
                .group_by(IngestAttemptRow.hotline_id, IngestAttemptRow.source)),
                *s.execute(select(IngestRow.hotline_id, IngestRow.source, func.max(IngestRow.ingested_at))
                           .group_by(IngestRow.hotline_id, IngestRow.source))]:
            if at is not None and hid is not None:
                at = at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)
                last_ok[(hid, src)] = max(last_ok.get((hid, src), at), at)
        jobs = tuple(
            JobStat(r.job_id, r.runs_total or 0, r.failures_total or 0, r.last_duration_seconds,
                    r.last_success_at)
            for r in s.scalars(select(JobRunRow).order_by(JobRunRow.job_id))
        )
        alerts = alert_stats(s)
    return MetricsModel(snapshots=snaps, ingest=ingest, last_ingest_success=last_ok, jobs=jobs, zones=dict(zones),
                        sources=_known_sources(), database_up=True, alerts=alerts)


def _known_sources() -> tuple[str, ...]:
    from hotline_kpi.ingest.registry import ingestors

    return tuple(sorted(ingestors()))


def _day_start(day: dt.date | None, zone: str) -> float | None:
    if day is None:
        return None
    return dt.datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).timestamp()


class KpiCollector(Collector):
    """Builds fresh families from the current model on every collect()."""

    def __init__(self, model: Callable[[], MetricsModel], leader: Callable[[], bool] = lambda: False,
                 part: str = "all"):
        self._model = model
        self._leader = leader
        #: "all", or "ops" / "kpi" for MetricsCache, which renders the two halves apart.
        self._part = part

    def collect(self) -> Iterable[Metric]:
        if self._part == "kpi":  # errors go to MetricsCache, which keeps the last good rendering
            yield from list(self._collect(self._model()))
            return
        try:
            families = list(self._collect(self._model()))  # all or nothing: no half-built scrape
        except Exception:  # noqa: BLE001 - a broken model must not fail the scrape
            log.exception("collect failed")
            g = GaugeMetricFamily("hotline_kpi_exporter_up", "1 if the exporter could build its metrics.")
            g.add_metric([], 0)
            families = [g]
        yield from families

    def _collect(self, m: MetricsModel) -> Iterable[Metric]:
        if self._part in ("all", "ops"):
            yield from self._ops(m)
        if self._part in ("all", "kpi"):
            yield from self._kpi(m)

    def _ops(self, m: MetricsModel) -> Iterable[Metric]:
        """The service's own state: small, rendered at every refresh."""
        up = GaugeMetricFamily("hotline_kpi_exporter_up", "1 if the exporter could build its metrics.")
        up.add_metric([], 1 if m.exporter_ok else 0)
        yield up
        info = GaugeMetricFamily("hotline_kpi_build_info", "Build information.", labels=["version", "python"])
        info.add_metric([__version__, platform.python_version()], 1)
        yield info
        db = GaugeMetricFamily("hotline_kpi_database_up",
                               "1 if the last read of the store succeeded; 0 while it fails (the other metrics "
                               "then show the last good snapshot).")
        db.add_metric([], 1 if m.database_up else 0)
        yield db
        leader = GaugeMetricFamily("hotline_kpi_scheduler_leader", "1 if this process runs the scheduled jobs.")
        leader.add_metric([], 1 if self._leader() else 0)
        yield leader
        if m.refreshed_at is not None:
            r = GaugeMetricFamily("hotline_kpi_snapshot_refresh_timestamp_seconds",
                                  "When the exporter last read the store successfully (its metrics are cached).")
            r.add_metric([], m.refreshed_at.timestamp())
            yield r

        files = CounterMetricFamily("hotline_kpi_ingest_files", "Files the inbox tried to load, by result.",
                                    labels=["source", "result"])
        rows = CounterMetricFamily("hotline_kpi_ingest_rows",
                                   "Day rows of the files the inbox loaded, by result (0 for rejected files: "
                                   "nothing of them is stored).", labels=["source", "result"])
        # Every known source starts at 0 for each result, so increase() sees the first event.
        ingest = {(src, res): (0, 0) for src in m.sources for res in ("loaded", "already_loaded", "rejected", "error")}
        ingest.update(m.ingest)
        for (src, res), (n, d) in sorted(ingest.items()):
            files.add_metric([src, res], n)
            rows.add_metric([src, res], d)
        last_ok = GaugeMetricFamily("hotline_kpi_last_ingest_success_timestamp_seconds",
                                    "When a file of the source last loaded for the hotline.",
                                    labels=["hotline", "source"])
        for (hid, src), at in sorted(m.last_ingest_success.items()):
            last_ok.add_metric([hid, src], at.timestamp())
        yield from (files, rows, last_ok)

        # "job_id", not "job": Prometheus owns the job label (it would rename ours exported_job).
        dur = GaugeMetricFamily("hotline_kpi_job_last_duration_seconds", "Duration of the job's last run.",
                                labels=["job_id"])
        runs = CounterMetricFamily("hotline_kpi_job_runs", "Runs of the scheduled job.", labels=["job_id"])
        fails = CounterMetricFamily("hotline_kpi_job_failures", "Failed runs of the scheduled job.", labels=["job_id"])
        ok = GaugeMetricFamily("hotline_kpi_job_last_success_timestamp_seconds", "When the job last succeeded.",
                               labels=["job_id"])
        for j in m.jobs:
            runs.add_metric([j.job_id], j.runs_total)
            fails.add_metric([j.job_id], j.failures_total)
            if j.last_duration_seconds is not None:
                dur.add_metric([j.job_id], j.last_duration_seconds)
            if j.last_success_at is not None:
                ok.add_metric([j.job_id], j.last_success_at.timestamp())
        yield from (dur, runs, fails, ok)
        if m.alerts is not None:
            yield from _alert_families(m.alerts, m.refreshed_at)

    def _kpi(self, m: MetricsModel) -> Iterable[Metric]:
        """The figures of the stored snapshots: large, rendered only when a snapshot changes."""
        labels = ["hotline", "indicator", "window"]
        value = GaugeMetricFamily("hotline_kpi_indicator_value",
                                  "Indicator value over the window (ratios 0-1, seconds, requests); absent when no data.",
                                  labels=labels)
        target = GaugeMetricFamily("hotline_kpi_indicator_target",
                                   "Target the window is compared against (volume: pro-rated to the window).",
                                   labels=labels)
        annual = GaugeMetricFamily("hotline_kpi_indicator_annual_target", "The annual target of the indicator.",
                                   labels=["hotline", "indicator"])
        status = GaugeMetricFamily("hotline_kpi_indicator_status",
                                   "1 for the current status of the indicator over the window, 0 for the others.",
                                   labels=[*labels, "status"])
        breached = GaugeMetricFamily("hotline_kpi_indicator_breached",
                                     "1 if the indicator misses its target over the window, 0 if it meets it; "
                                     "absent without data or target.", labels=labels)
        days = GaugeMetricFamily("hotline_kpi_indicator_days_with_data",
                                 "Days of the window on which the indicator's counters were known.", labels=labels)
        pace = GaugeMetricFamily("hotline_kpi_volume_pace_requests",
                                 "Pro-rated annual volume target up to the as-of date, over the window.", labels=labels)
        shortfall = GaugeMetricFamily("hotline_kpi_volume_shortfall_requests",
                                      "How far the volume is behind its pace over the window (0 if on pace).",
                                      labels=labels)
        data_date = GaugeMetricFamily("hotline_kpi_data_date_timestamp_seconds",
                                      "Start (local midnight) of the last day with data that the figures describe.",
                                      labels=["hotline"])
        as_of = GaugeMetricFamily("hotline_kpi_as_of_date_timestamp_seconds",
                                  "Start (local midnight) of the as-of date of the evaluation.", labels=["hotline"])
        complete = GaugeMetricFamily("hotline_kpi_data_completeness_ratio",
                                     "Days with data over days elapsed in the year to date.", labels=["hotline"])
        missing = GaugeMetricFamily("hotline_kpi_counter_missing_days",
                                    "Days of the year to date on which the counter is unknown.",
                                    labels=["hotline", "counter"])
        evaluated = GaugeMetricFamily("hotline_kpi_last_evaluation_timestamp_seconds",
                                      "When the hotline was last evaluated.", labels=["hotline"])
        annual_seen: set[tuple[str, str]] = set()
        for hid, snap in sorted(m.snapshots.items()):
            doc = snap.doc
            zone = m.zones.get(hid, DEFAULT_ZONE)
            for r in doc.results:
                lv = [hid, r.id, r.window]
                if r.value is not None:
                    value.add_metric(lv, float(r.value))
                if r.target is not None:
                    target.add_metric(lv, float(r.target))
                if r.annual_target is not None and (hid, r.id) not in annual_seen:
                    annual_seen.add((hid, r.id))
                    annual.add_metric([hid, r.id], float(r.annual_target))
                for st in STATUSES:
                    status.add_metric([*lv, st], 1 if r.status == st else 0)
                if r.status in (Status.MET, Status.BREACHED):
                    breached.add_metric(lv, 1 if r.status is Status.BREACHED else 0)
                days.add_metric(lv, float(r.days_with_data))
                if r.pace is not None:
                    pace.add_metric(lv, float(r.pace))
                if r.shortfall is not None:
                    shortfall.add_metric(lv, float(r.shortfall))
            ts = _day_start(doc.data_date, zone)
            if ts is not None:
                data_date.add_metric([hid], ts)
            as_of_ts = _day_start(doc.as_of, zone)
            if as_of_ts is not None:
                as_of.add_metric([hid], as_of_ts)
            comp = doc.completeness
            if comp.ratio is not None:
                complete.add_metric([hid], float(comp.ratio))
            for counter, c in sorted(comp.counters.items()):
                missing_days = int(comp.days_elapsed) - int(c.days_present)
                missing.add_metric([hid, counter], float(missing_days))
            evaluated.add_metric([hid], snap.evaluated_at.timestamp())
        yield from (value, target, annual, status, breached, days, pace, shortfall, data_date, as_of, complete,
                    missing, evaluated)
        yield from _projection_families(m)
        yield from _budget_families(m)


ALERT_STATES = ("inactive", "pending", "firing")
ALERT_SEVERITIES = ("warning", "critical")


def _alert_families(a: AlertStats, at: dt.datetime | None) -> Iterable[Metric]:
    """Alert states (every state and severity, 0 included, so a rule can test == 0),
    deliveries, and how long the oldest notification has been waiting (0 when none)."""
    states = GaugeMetricFamily("hotline_kpi_alerts", "Alerts by state and severity.", labels=["state", "severity"])
    for st in ALERT_STATES:
        for sev in ALERT_SEVERITIES:
            states.add_metric([st, sev], a.by_state.get((st, sev), 0))
    sent = CounterMetricFamily("hotline_kpi_alert_notifications_sent",
                               "Notifications accepted by the SMTP server, one per recipient.")
    sent.add_metric([], a.sent)
    failed = CounterMetricFamily("hotline_kpi_alert_notifications_failed",
                                 "Notifications given up for a recipient: refused for good (5xx) or retries expired.")
    failed.add_metric([], a.failed)
    owed = GaugeMetricFamily("hotline_kpi_alert_notifications_undelivered",
                             "Notifications not yet delivered to every recipient (being retried).")
    owed.add_metric([], a.owed)
    age = GaugeMetricFamily("hotline_kpi_alert_oldest_undelivered_age_seconds",
                            "Age of the oldest notification not yet delivered; 0 when none waits.")
    age.add_metric([], max(0.0, (at - a.oldest_owed_at).total_seconds())
                   if a.oldest_owed_at is not None and at is not None else 0.0)
    yield from (states, sent, failed, owed, age)


def _budget_families(m: MetricsModel) -> Iterable[Metric]:
    """Budget execution of the year up to the as-of month (docs/report.md)."""
    budget = GaugeMetricFamily("hotline_kpi_budget_yuan", "The year's budget of each budget line, in yuan.",
                               labels=["hotline", "line"])
    executed = GaugeMetricFamily("hotline_kpi_budget_executed_yuan",
                                 "Spent on each budget line so far this year (to the as-of month), in yuan.",
                                 labels=["hotline", "line"])
    ratio = GaugeMetricFamily("hotline_kpi_budget_execution_ratio",
                              "Spent so far over the year's budget, all lines.", labels=["hotline"])
    pace = GaugeMetricFamily("hotline_kpi_budget_even_pace_yuan",
                             "What an even spend would have reached by the end of the as-of month, in yuan.",
                             labels=["hotline"])
    cost = GaugeMetricFamily("hotline_kpi_cost_per_request_yuan",
                             "Spent so far over the requests accepted so far, in yuan.", labels=["hotline"])
    for hid, snap in sorted(m.snapshots.items()):
        b = snap.doc.budget
        if b is None:
            continue
        for line in b.lines:
            budget.add_metric([hid, line.id], float(line.budget_yuan))
            executed.add_metric([hid, line.id], float(line.executed_yuan))
        if b.execution_rate is not None:
            ratio.add_metric([hid], float(b.execution_rate))
        pace.add_metric([hid], float(b.even_pace_yuan))
        if b.cost_per_request_yuan is not None:
            cost.add_metric([hid], float(b.cost_per_request_yuan))
    return (budget, executed, ratio, pace, cost)


def _projection_families(m: MetricsModel) -> Iterable[Metric]:
    """Year-end outlook per annual target (docs/forecast.md); absent where not projected."""
    labels = ["hotline", "indicator"]
    projected = GaugeMetricFamily("hotline_kpi_projected_value",
                                  "Projected year-end value of the indicator (same unit as its value).",
                                  labels=labels)
    interval = GaugeMetricFamily("hotline_kpi_projection_interval",
                                 "Bounds of the projection's interval (its level: 80% by default).",
                                 labels=[*labels, "bound"])
    budget = GaugeMetricFamily("hotline_kpi_error_budget_remaining",
                               "Errors the rest of the year can still absorb before the annual target is lost "
                               "(label budget_unit: unanswered_calls, wait_seconds, requests_needed, ...); "
                               "negative = overdrawn.", labels=[*labels, "budget_unit"])
    required = GaugeMetricFamily("hotline_kpi_required_value",
                                 "Value the rest of the year must average to still meet the target (volume: "
                                 "requests per day); absent when secured or lost.", labels=labels)
    pace = GaugeMetricFamily("hotline_kpi_projection_status",
                             "1 for the current year-end outlook (on_track, at_risk, cannot_be_met, secured, "
                             "insufficient_data), 0 for the others.", labels=[*labels, "status"])
    miss = GaugeMetricFamily("hotline_kpi_projection_miss_probability",
                             "Probability that the year ends missing the target (the projection's model).",
                             labels=labels)
    burn = GaugeMetricFamily("hotline_kpi_error_budget_burn_rate",
                             "Error budget spent over the window against an even spend (1 = runs out on "
                             "31 December).", labels=[*labels, "window"])
    for hid, snap in sorted(m.snapshots.items()):
        for p in snap.doc.projections:
            lv = [hid, p.id]
            if p.projected_value is not None:
                projected.add_metric(lv, float(p.projected_value))
            for bound, x in (("low", p.interval_low), ("high", p.interval_high)):
                if x is not None:
                    interval.add_metric([*lv, bound], float(x))
            if p.budget_remaining is not None:
                budget.add_metric([*lv, p.budget_unit], float(p.budget_remaining))
            if p.required_value is not None:
                required.add_metric(lv, float(p.required_value))
            if p.miss_probability is not None:
                miss.add_metric(lv, float(p.miss_probability))
            for st in PaceStatus:
                pace.add_metric([*lv, st.value], 1 if p.pace_status is st else 0)
            for window, x in (("7d", p.burn_rate_7d), ("30d", p.burn_rate_30d)):
                if x is not None:
                    burn.add_metric([*lv, window], float(x))
    return (projected, interval, budget, required, pace, miss, burn)


class MetricsCache:
    """Holds the current model and its rendering; refresh() is the only database access.

    The rendering has two halves: the service's own state (small; rendered at every
    refresh) and the snapshots' figures (tens of thousands of series for fifty hotlines;
    rendered again only when a snapshot changed). Rendering everything on every refresh
    held the interpreter for hundreds of milliseconds every few seconds and showed as a
    scrape latency tail (bench/scrape.py, docs/performance.md).
    """

    def __init__(self, engine: Engine, zones: Mapping[str, str], clock_now: Callable[[], dt.datetime],
                 leader: Callable[[], bool] = lambda: False):
        self.engine = engine
        self.zones = dict(zones)
        self._now = clock_now
        self._lock = threading.Lock()
        self._model = MetricsModel(zones=self.zones)
        #: Everything in one registry, for tests and tools (registry.get_sample_value).
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(KpiCollector(lambda: self._model, leader))
        self._ops = CollectorRegistry(auto_describe=False)
        self._ops.register(KpiCollector(lambda: self._model, leader, part="ops"))
        self._kpi = CollectorRegistry(auto_describe=False)
        self._kpi.register(KpiCollector(lambda: self._model, leader, part="kpi"))
        self._kpi_key: tuple[tuple[str, int], ...] | None = None
        self._kpi_text = b""
        self._rendered = self._render()
        #: Called with the new model after every refresh (the status page is built there: service/page.py).
        self.listeners: list[Callable[[MetricsModel], None]] = []

    @property
    def model(self) -> MetricsModel:
        return self._model

    def _render(self) -> bytes:
        key = tuple(sorted((hid, snap.id) for hid, snap in self._model.snapshots.items()))
        if key != self._kpi_key:
            try:
                self._kpi_text = generate_latest(self._kpi)
                self._kpi_key = key
            except Exception:  # noqa: BLE001 - keep the last good figures; exporter_up says so
                log.exception("rendering the snapshots' metrics failed")
                self._model = MetricsModel(**{**self._model.__dict__, "exporter_ok": False})
        return generate_latest(self._ops) + self._kpi_text

    def refresh(self) -> bool:
        try:
            model = load_model(self.engine, self.zones, self._model.snapshots)
            model = MetricsModel(**{**model.__dict__, "refreshed_at": self._now()})
            ok = True
        except Exception as exc:  # noqa: BLE001 - keep serving the last good model
            log.warning("metrics refresh failed: %s", exc.__class__.__name__)
            model = MetricsModel(**{**self._model.__dict__, "database_up": False,
                                    "error": f"{exc.__class__.__name__}: {(str(exc).splitlines() or [''])[0][:300]}"})
            ok = False
        for listener in self.listeners:  # before the model shows: /readyz never runs ahead of the page
            listener(model)
        with self._lock:
            self._model = model
            self._rendered = self._render()
        return ok

    def rendered(self) -> bytes:
        return self._rendered

    def snapshot_json(self, hotline_id: str) -> dict[str, Any] | None:
        snap = self._model.snapshots.get(hotline_id)
        return snap.payload if snap else None
