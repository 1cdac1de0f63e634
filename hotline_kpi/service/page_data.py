"""What the status page reads from the store beyond the exporter's model (its alerts, the
last file of each source, the quarantined files, the daily counters behind its trends),
read again only when the store's change markers, the quarantine listing or a snapshot
moved. Split from :mod:`hotline_kpi.service.page` (issue #19), which builds the page."""

from __future__ import annotations

import datetime as dt
import os
import pickle
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from sqlalchemy import Engine, func, select

from hotline_kpi.alerts.outbox import AlertView, list_alerts
from hotline_kpi.domain import DailyCounters
from hotline_kpi.service.metrics_model import Markers, MetricsModel
from hotline_kpi.service.snapshots import Snapshot
from hotline_kpi.store import sums
from hotline_kpi.store.db import read_session
from hotline_kpi.store.models import IngestAttemptRow, IngestRow

#: Days of daily values a trend draws.
TREND_DAYS = 90
_NUMBERED = re.compile(r"^(.*)\.\d+(\.[^.]+)?$")


@dataclass(frozen=True)
class PageData:
    """What the page reads besides the snapshots, all in one read."""

    alerts: tuple[AlertView, ...] = ()
    #: (hotline, source) -> (file name, when loaded): the last file loaded
    last_files: Mapping[tuple[str, str], tuple[str, dt.datetime]] = field(default_factory=dict)
    #: (hotline, source) -> quarantined files still in the quarantine folder
    quarantined: Mapping[tuple[str, str], int] = field(default_factory=dict)
    #: hotline -> the daily counters from the trend's first day (or 1 January) to the as-of
    #: date, packed (:func:`pack`; read them with :meth:`counters_of`)
    counters: Mapping[str, bytes] = field(default_factory=dict)
    #: the snapshots the counters were read for: (hotline, snapshot id)
    counters_key: tuple[tuple[str, int], ...] = ()
    #: the store's change markers the alerts and files were read at, and the quarantine
    #: listing: read again only when one of them moved (metrics_model.Markers)
    markers: Markers | None = None
    waiting: tuple[str, ...] | None = None
    #: how many times the alerts and files were read (tests: not at every refresh)
    reads: int = 0

    def counters_of(self, hotline_id: str) -> tuple[DailyCounters, ...]:
        packed = self.counters.get(hotline_id)
        return () if packed is None else unpack(packed)


def pack(counters: Iterable[DailyCounters]) -> bytes:
    """A hotline's daily counters as one bytes object. Kept as objects, the 350 hotlines'
    year (127,750 days, 40% of the serving process's objects) made each full garbage
    collection of the process 0.5-0.9 s long, every request waiting (docs/performance.md);
    bytes are not scanned by the collector. Unpacked when a board or a download needs them."""
    return pickle.dumps(tuple(counters), protocol=pickle.HIGHEST_PROTOCOL)


def unpack(packed: bytes) -> tuple[DailyCounters, ...]:
    return pickle.loads(packed)  # noqa: S301 - bytes this process made (pack), never read from outside


def quarantine_files(folder: os.PathLike[str] | str) -> list[str]:
    """The files waiting in quarantine (their error notes and done markers aside)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(n for n in names if not n.endswith((".error.txt", ".done")) and not n.startswith("."))


def counters_span(snap: Snapshot) -> tuple[dt.date, dt.date]:
    """The days of counters the page keeps for a snapshot: its year to date and the trend's days."""
    as_of = snap.as_of
    return min(dt.date(as_of.year, 1, 1), as_of - dt.timedelta(days=TREND_DAYS - 1)), as_of


def read_page_data(engine: Engine, model: MetricsModel, quarantine_dir: os.PathLike[str] | str, default_hotline: str,
                   before: PageData) -> PageData:
    """What the page shows beyond the model. The alerts (about three per hotline, with
    their figures), the last file of each source and the quarantined files are read again
    only when the model's change markers or the quarantine listing moved, and the daily
    counters only when a snapshot changed: a refresh that finds nothing new reads nothing
    here (with 350 hotlines the full read held the interpreter for about half a second at
    every refresh, docs/performance.md)."""
    key = tuple(sorted((hid, snap.id) for hid, snap in model.snapshots.items()))
    waiting = tuple(quarantine_files(quarantine_dir))
    markers = model.markers
    same = markers is not None and markers == before.markers and waiting == before.waiting
    if same and key == before.counters_key:
        return before
    with read_session(engine) as s:
        alerts, last_files, quarantined, reads = before.alerts, before.last_files, before.quarantined, before.reads
        if not same:
            alerts, last_files, quarantined = _read_alerts_and_files(s, waiting, default_hotline)
            reads += 1
        counters = before.counters
        if key != before.counters_key:  # read again only for the hotlines evaluated since
            had = dict(before.counters_key)
            counters = {hid: before.counters[hid] if had.get(hid) == snap.id and hid in before.counters
                        else pack(sums.daily_counters(s, hid, *counters_span(snap)))
                        for hid, snap in model.snapshots.items()}
    return PageData(alerts, last_files, quarantined, counters, key, markers, waiting, reads)


def _read_alerts_and_files(s: Any, waiting: tuple[str, ...], default_hotline: str) -> tuple[
        tuple[AlertView, ...], dict[tuple[str, str], tuple[str, dt.datetime]], dict[tuple[str, str], int]]:
    alerts = tuple(a for a in list_alerts(s) if a.state in ("firing", "pending"))
    last_ids = select(func.max(IngestRow.id)).group_by(IngestRow.hotline_id, IngestRow.source)
    last_files = {(r.hotline_id, r.source): (r.file_name, r.ingested_at)
                  for r in s.scalars(select(IngestRow).where(IngestRow.id.in_(last_ids)))}
    quarantined: dict[tuple[str, str], int] = {}
    if waiting:
        wanted = {n: (_NUMBERED.sub(r"\1\2", n)) for n in waiting}
        by_name = {name: (hid, src) for name, hid, src in s.execute(
            select(IngestAttemptRow.file_name, IngestAttemptRow.hotline_id, IngestAttemptRow.source)
            .where(IngestAttemptRow.result == "rejected",
                   IngestAttemptRow.file_name.in_(set(wanted) | set(wanted.values())))
            .order_by(IngestAttemptRow.id))}
        for n, plain in wanted.items():
            where = by_name.get(n) or by_name.get(plain) or (default_hotline, "unknown")
            quarantined[where] = quarantined.get(where, 0) + 1
    return alerts, last_files, quarantined


