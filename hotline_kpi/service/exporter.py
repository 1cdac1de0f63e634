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
from typing import Any, Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from hotline_kpi import __version__
from hotline_kpi.alerts.outbox import AlertStats
from hotline_kpi.service import heap
from hotline_kpi.service.exposition import OPENMETRICS, TEXT, Answer, GzipPrefix, Variants
from hotline_kpi.service.kpi_metrics import kpi_families
from hotline_kpi.service.kpi_render import KpiRenderer
from hotline_kpi.service.metrics_model import JobStat, MetricsModel, load_model

__all__ = ["JobStat", "KpiCollector", "MetricsCache", "MetricsModel", "load_model"]

log = logging.getLogger(__name__)


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
        return kpi_families(m)


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


class MetricsCache:
    """Holds the current model and its rendering; refresh() is the only database access.

    The rendering has two halves: the snapshots' figures (about a hundred series per
    hotline; rendered in both formats only for the hotlines whose snapshot changed, and
    assembled and gzip-compressed again only when a snapshot changed) and the service's own state (small; rendered at
    every refresh and appended to the kept compressor state). Rendering everything on
    every refresh held the interpreter for hundreds of milliseconds every few seconds and
    showed as a scrape latency tail (bench/scrape.py, docs/performance.md). A scrape picks
    one of the four pre-made variants (exposition.py).
    """

    def __init__(self, engine: Engine, zones: Mapping[str, str], clock_now: Callable[[], dt.datetime],
                 leader: Callable[[], bool] = lambda: False,
                 hotline_info: Mapping[str, tuple[str, str]] | None = None):
        self.engine = engine
        self.zones = dict(zones)
        #: hotline -> (name, province), exported as hotline_kpi_hotline_info
        self.hotline_info = dict(hotline_info or {})
        self._now = clock_now
        self._lock = threading.Lock()
        self._model = MetricsModel(zones=self.zones, hotline_info=self.hotline_info)
        #: Everything in one registry, for tests and tools (registry.get_sample_value).
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(KpiCollector(lambda: self._model, leader))
        self._ops = CollectorRegistry(auto_describe=False)
        self._ops.register(KpiCollector(lambda: self._model, leader, part="ops"))
        #: The snapshots' half, rendered hotline by hotline, each once per snapshot (kpi_render.py).
        self.kpi_renderer = KpiRenderer(kpi_families)
        self._kpi_key: tuple[tuple[str, int], ...] | None = None
        #: The snapshots' series per format, and their gzip stream kept open (exposition.py).
        self._kpi_bodies: dict[str, bytes] = {TEXT: b"", OPENMETRICS: b""}
        self._kpi_gzip: dict[str, GzipPrefix] = {TEXT: GzipPrefix(b""), OPENMETRICS: GzipPrefix(b"")}
        self._variants = self._render()
        #: Called with the new model after every refresh (the status page is built there: service/page.py).
        self.listeners: list[Callable[[MetricsModel], None]] = []
        #: Settle the process's heap after a refresh that replaced many snapshots (heap.py);
        #: ``hotline-kpi serve`` turns it on. settles: how many times (tests).
        self.heap_upkeep = False
        self.settles = 0
        self._settled: Mapping[str, Any] = {}  # the snapshots at the last settle
        self._settle_lock = threading.Lock()

    @property
    def model(self) -> MetricsModel:
        return self._model

    def add_snapshot_collector(self, collector: Collector) -> None:
        """Another collector over the snapshots (the league table's): rendered with the KPI
        half, i.e. once per changed evaluation, never at a timer refresh."""
        with self._lock:
            self.registry.register(collector)
            self.kpi_renderer.others.append(collector)
            self._kpi_key = None  # the next refresh renders it

    def _render(self) -> Variants:
        """Every variant of /metrics: the snapshots' series (rendered and compressed only
        when a snapshot changed) followed by the service's own state (rendered at every
        refresh; small), in both formats, plain and gzip."""
        key = tuple(sorted((hid, snap.id) for hid, snap in self._model.snapshots.items()))
        if key != self._kpi_key:
            try:
                bodies = self.kpi_renderer.render(self._model)
                self._kpi_gzip = {fmt: GzipPrefix(body) for fmt, body in bodies.items()}
                self._kpi_bodies = bodies
                self._kpi_key = key
            except Exception:  # noqa: BLE001 - keep the last good figures; exporter_up says so
                log.exception("rendering the snapshots' metrics failed")
                self._model = MetricsModel(**{**self._model.__dict__, "exporter_ok": False})
        tails = {TEXT: generate_latest(self._ops), OPENMETRICS: openmetrics_latest(self._ops)}
        out: dict[tuple[str, bool], bytes] = {}
        for fmt, tail in tails.items():
            out[(fmt, False)] = self._kpi_bodies[fmt] + tail
            out[(fmt, True)] = self._kpi_gzip[fmt].finish(tail)
        return Variants(out)

    def refresh(self) -> bool:
        try:
            model = load_model(self.engine, self.zones, self._model.snapshots, before=self._model,
                               hotline_info=self.hotline_info)
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
            self._variants = self._render()
        if self.heap_upkeep:
            with self._settle_lock:  # refreshes of several threads at once settle once
                if heap.replaced_many(self._settled, model.snapshots):
                    took, frozen = heap.settle()
                    self._settled = model.snapshots
                    self.settles += 1
                    # Operator-internal (docs/performance.md), not for the office: DEBUG.
                    log.debug("heap settled after new snapshots: %.3f s, %d objects frozen", took, frozen)
        return ok

    def rendered(self) -> bytes:
        """The text format, uncompressed."""
        return self._variants.bodies[(TEXT, False)]

    def answer(self, accept: str | None, accept_encoding: str | None) -> Answer:
        """The pre-rendered variant a scraper asked for (a lookup)."""
        return self._variants.pick(accept, accept_encoding)

    def snapshot_json(self, hotline_id: str) -> dict[str, Any] | None:
        snap = self._model.snapshots.get(hotline_id)
        return snap.payload if snap else None
