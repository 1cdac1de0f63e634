"""The exporter's model: what a refresh reads from the store (the latest snapshots and the
ingest, job and alert bookkeeping) as one immutable :class:`MetricsModel`. The only
database access of the exporter (:mod:`hotline_kpi.service.exporter`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hotline_kpi.alerts.outbox import AlertStats, alert_stats
from hotline_kpi.catalogue import Hotline
from hotline_kpi.service.snapshots import Snapshot, latest_snapshots_reusing
from hotline_kpi.store.db import read_session
from hotline_kpi.store.models import AlertEventRow, AlertRow, IngestAttemptRow, IngestRow, JobRunRow

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
    #: hotline -> (name, province) from the catalogue, for ``hotline_kpi_hotline_info``
    hotline_info: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: the ingest sources known to this build (their counters are exported from 0)
    sources: tuple[str, ...] = ()
    refreshed_at: dt.datetime | None = None
    database_up: bool = False
    #: False when the snapshots' metrics could not be rendered (the last good ones are served).
    exporter_ok: bool = True
    error: str = ""
    #: alert states and notification deliveries (issue #5); None before the first read
    alerts: AlertStats | None = None
    #: What moved in the store since the last read (:func:`read_markers`): a refresh reads
    #: the ingest bookkeeping again, and the status page its alerts and files, only when
    #: their marker moved. None before the first read.
    markers: "Markers | None" = None


@dataclass(frozen=True)
class Markers:
    """Cheap change markers: aggregates over indexed ids and timestamps, a few rows read.

    ``ingest`` moves when a file is tried (an attempt row) or loaded (an ingest row);
    ``alerts`` when an alert is judged (every evaluation stamps ``evaluated_at``), changes
    state (an event row), is notified, or a rule's alert is added or dropped."""

    ingest: tuple[Any, ...] = ()
    alerts: tuple[Any, ...] = ()


def read_markers(s: Session) -> Markers:
    ingest = (*s.execute(select(func.count(), func.max(IngestAttemptRow.id))).one(),
              *s.execute(select(func.count(), func.max(IngestRow.id), func.max(IngestRow.ingested_at))).one())
    alerts = (*s.execute(select(func.count(), func.max(AlertRow.id), func.max(AlertRow.evaluated_at),
                                func.max(AlertRow.last_notified_at))).one(),
              s.execute(select(func.max(AlertEventRow.id))).scalar())
    return Markers(tuple(ingest), tuple(alerts))


def load_model(engine: Engine, zones: Mapping[str, str], known: Mapping[str, Snapshot] | None = None,
               before: MetricsModel | None = None,
               hotline_info: Mapping[str, tuple[str, str]] | None = None) -> MetricsModel:
    """Read the model; snapshots already in ``known`` (same id) are reused, not decoded
    again, and the ingest bookkeeping of ``before`` is reused when its marker did not move
    (a refresh that finds nothing new reads a few aggregate rows)."""
    with read_session(engine) as s:
        markers = read_markers(s)
        snaps = latest_snapshots_reusing(s, dict(known or {}))
        if before is not None and before.markers is not None and before.markers.ingest == markers.ingest \
                and before.database_up:
            ingest, last_ok = dict(before.ingest), dict(before.last_ingest_success)
        else:
            ingest, last_ok = _read_ingest(s)
        jobs = tuple(
            JobStat(r.job_id, r.runs_total or 0, r.failures_total or 0, r.last_duration_seconds,
                    r.last_success_at)
            for r in s.scalars(select(JobRunRow).order_by(JobRunRow.job_id))
        )
        alerts = alert_stats(s)
    return MetricsModel(snapshots=snaps, ingest=ingest, last_ingest_success=last_ok, jobs=jobs, zones=dict(zones),
                        hotline_info=dict(hotline_info or {}),
                        sources=_known_sources(), database_up=True, alerts=alerts, markers=markers)


def _read_ingest(s: Session) -> tuple[dict[tuple[str, str], tuple[int, int]], dict[tuple[str, str], dt.datetime]]:
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
    return ingest, last_ok


def _known_sources() -> tuple[str, ...]:
    from hotline_kpi.ingest.registry import ingestors

    return tuple(sorted(ingestors()))


def day_start(day: dt.date | None, zone: str) -> float | None:
    if day is None:
        return None
    return dt.datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).timestamp()
