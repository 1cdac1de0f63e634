"""Provenance: the loads (one row per file), each source's revisions of a day, and the
effective counters chosen from them by source priority.

The same content twice changes nothing while it is current; a corrected file revises its
days and keeps the earlier revision (marked not current), replacing only the counters it
supplies (the others are carried forward, attributed to the revision that read them); an
earlier file loaded again after a correction is a new revision that makes its values
current again; a counter far from another source's value for the same day rejects the
file with both places named.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Literal, Mapping, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline_kpi.i18n import M_
from hotline_kpi.catalogue import Hotline
from hotline_kpi.domain import COUNTER_BOUNDS, COUNTERS, DayRecord, ParsedFile, counter_name
from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.problems import IngestRejected, Problem, plain_number
from hotline_kpi.settings import (
    DEFAULT_SOURCE_TOLERANCE,
    DEFAULT_SOURCE_TOLERANCE_UNITS,
    QueueLogSettings,
    TicketSettings,
)
from hotline_kpi.store.agreement import disagreements
from hotline_kpi.store.db import chunks
from hotline_kpi.store.models import DailyCountersRow, HotlineRow, IngestAttemptRow, IngestRow, SourceDayChannelRow, SourceDayRow


def ensure_hotline(session: Session, hotline: Hotline) -> None:
    row = session.get(HotlineRow, hotline.id)
    if row is None:
        session.add(HotlineRow(id=hotline.id, name=hotline.name, name_en=hotline.name_en, timezone=hotline.timezone))
    else:
        row.name, row.name_en, row.timezone = hotline.name, hotline.name_en, hotline.timezone


def find_loaded(session: Session, hotline_id: str, source: str, sha256: str) -> IngestRow | None:
    return session.scalars(
        select(IngestRow).where(
            IngestRow.hotline_id == hotline_id, IngestRow.source == source, IngestRow.content_sha256 == sha256
        )
    ).first()


def load_superseded(session: Session, ingest_id: int) -> bool:
    """Whether a later revision replaced a day this load supplied (it is not wholly current)."""
    return session.scalars(select(SourceDayRow.id).where(
        SourceDayRow.ingest_id == ingest_id, SourceDayRow.is_current.is_(False)).limit(1)).first() is not None


@dataclass(frozen=True)
class FileMeta:
    name: str
    sha256: str
    size_bytes: int
    original_path: str


@dataclass(frozen=True)
class StoreResult:
    status: Literal["loaded", "already_loaded"]
    ingest_id: int
    days_new: int = 0
    days_revised: int = 0
    days_unchanged: int = 0
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    #: Remarks from storing (raw sources: open, unresolved and orphan calls ...).
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoreRequest:
    """Everything a :class:`RecordIngestor` needs to store besides the session and records."""

    hotline_id: str
    zone: ZoneInfo
    file: "FileMeta"
    at: dt.datetime
    #: The settings in force (JSON), recorded with the load for provenance.
    settings_json: str
    source_priority: tuple[str, ...]
    formulas: FormulaSettings = field(default_factory=FormulaSettings)
    #: Setting ``source_tolerance``: how far this source's counters may be from another's.
    source_tolerance: float = DEFAULT_SOURCE_TOLERANCE
    #: Setting ``source_tolerance_units``: an absolute difference that is never a disagreement.
    source_tolerance_units: float = DEFAULT_SOURCE_TOLERANCE_UNITS
    queue_log: QueueLogSettings = field(default_factory=QueueLogSettings)
    tickets: TicketSettings = field(default_factory=TicketSettings)


def _values(row: SourceDayRow) -> dict[str, float | None]:
    return {c: getattr(row, c) for c in COUNTERS}


def store_parsed(
    session: Session,
    *,
    hotline_id: str,
    parsed: ParsedFile,
    file: FileMeta,
    at: dt.datetime,
    settings_json: str,
    source_priority: Sequence[str],
    source_tolerance: float = DEFAULT_SOURCE_TOLERANCE,
    source_tolerance_units: float = DEFAULT_SOURCE_TOLERANCE_UNITS,
) -> StoreResult:
    """Store one parsed file inside the caller's transaction.

    The same content again (same hotline, source and SHA-256) changes nothing while its
    values are the source's current ones; after a later correction it is a new revision
    (pointing at the same load row: one row per content) that makes them current again. A
    day this source already supplied with other values gets a new revision; the old one
    stays, marked not current. A counter the file does not supply for a day keeps the
    current revision's value (carried forward, marked ``~counter`` in ``derived`` and
    attributed to the revision that read it). A day whose values are unchanged keeps its
    earlier provenance.
    A counter further than ``source_tolerance`` (and more than ``source_tolerance_units``)
    from another source's stored value for the same day raises :class:`~hotline_kpi.problems.IngestRejected` (see
    :func:`disagreements`): the caller's transaction must then be rolled back.
    """
    existing = find_loaded(session, hotline_id, parsed.source, file.sha256)
    if existing is not None:
        # The same content again: nothing to do while its values are the source's current
        # ones; loaded after a correction superseded it, it becomes current again (undo).
        current, old_channels = _current_rows(session, hotline_id, parsed.source, [r.day for r in parsed.days])
        if not any(_changes(rec, current.get(rec.day), old_channels, carry=True) for rec in parsed.days):
            return StoreResult("already_loaded", existing.id)
        existing.ingested_at = at
        existing.file_name = file.name
        notes = [*parsed.notes, M_("this content was loaded before and later superseded: its values are current again")]
        return _store_days(session, existing, parsed.source, parsed.days, source_priority, notes,
                           source_tolerance, source_tolerance_units, carry=True)
    ingest = _new_ingest(session, hotline_id, parsed.source, file, at, settings_json)
    return _store_days(session, ingest, parsed.source, parsed.days, source_priority, list(parsed.notes),
                       source_tolerance, source_tolerance_units, carry=True)


def _new_ingest(session: Session, hotline_id: str, source: str, file: FileMeta, at: dt.datetime,
                settings_json: str) -> IngestRow:
    ingest = IngestRow(
        hotline_id=hotline_id,
        source=source,
        file_name=file.name,
        content_sha256=file.sha256,
        size_bytes=file.size_bytes,
        original_path=file.original_path,
        ingested_at=at,
        days=0,
        days_revised=0,
        settings_json=settings_json,
        notes="",
    )
    session.add(ingest)
    session.flush()
    return ingest


def new_ingest(session: Session, hotline_id: str, source: str, request: StoreRequest) -> IngestRow:
    """The provenance row of one file of a raw source (its days are filled by :func:`store_days`)."""
    return _new_ingest(session, hotline_id, source, request.file, request.at, request.settings_json)


def store_days(session: Session, ingest: IngestRow, source: str, records: Sequence[DayRecord],
               request: StoreRequest, notes: Sequence[str] = ()) -> StoreResult:
    """Revise ``source``'s counters of the days in ``records`` (recomputed by a raw source)."""
    return _store_days(session, ingest, source, records, request.source_priority, list(notes),
                       request.source_tolerance, request.source_tolerance_units)


#: Marks a counter in ``source_day.derived`` whose value a revision carried forward from the
#: revision before it (the file did not supply it): ``~calls_offered``.
CARRIED = "~"


def _current_rows(session: Session, hotline_id: str, source: str, days: Sequence[dt.date]
                  ) -> tuple[dict[dt.date, SourceDayRow], dict[int, dict[str, int]]]:
    """The source's current revision of each day, and its split by channel."""
    current: dict[dt.date, SourceDayRow] = {}
    for chunk in chunks(sorted(set(days))):
        for row in session.scalars(
            select(SourceDayRow).where(
                SourceDayRow.hotline_id == hotline_id,
                SourceDayRow.source == source,
                SourceDayRow.is_current.is_(True),
                SourceDayRow.day.in_(chunk),
            )
        ):
            current[row.day] = row
    old_channels: dict[int, dict[str, int]] = {}
    for chunk in chunks([r.id for r in current.values()]):
        for ch in session.scalars(select(SourceDayChannelRow).where(SourceDayChannelRow.source_day_id.in_(chunk))):
            old_channels.setdefault(ch.source_day_id, {})[ch.channel] = ch.requests
    return current, old_channels


def _marks(row: SourceDayRow) -> tuple[frozenset[str], frozenset[str]]:
    """(derived, carried) counters of a stored revision."""
    names = [n for n in (row.derived or "").split(",") if n]
    return (frozenset(n for n in names if not n.startswith(CARRIED)),
            frozenset(n[len(CARRIED):] for n in names if n.startswith(CARRIED)))


def _changes(rec: DayRecord, old: SourceDayRow | None, old_channels: Mapping[int, Mapping[str, int]],
             carry: bool) -> tuple[dict[str, float | None], str, dict[str, int]] | None:
    """The values, marks and channels of the revision ``rec`` makes, or None when it changes
    nothing. With ``carry`` (a day table), a counter the file does not supply keeps the
    value of the current revision: a correction with fewer columns replaces only its own."""
    values = {c: rec.counters.get(c) for c in COUNTERS}
    marks = set(rec.derived)
    channels = dict(rec.channels)
    if carry and old is not None:
        old_values = _values(old)
        old_derived, old_carried = _marks(old)
        for c in COUNTERS:
            if c not in rec.counters and old_values[c] is not None:
                values[c] = old_values[c]
                marks.add(CARRIED + c)
        if "requests_accepted" not in rec.counters and not channels:
            channels = dict(old_channels.get(old.id, {}))
    derived = ",".join(sorted(marks))
    if (old is not None and _values(old) == values and old_channels.get(old.id, {}) == channels
            and _marks(old)[0] == frozenset(m for m in marks if not m.startswith(CARRIED))):
        return None  # the same figures (restated or carried): nothing to revise
    return values, derived, channels


def _contradictions(file: str, rec: DayRecord, values: Mapping[str, float | None]) -> list[Problem]:
    """A correction's figures merged with the ones it keeps must still hold together: a part
    never above its whole (a file of 呼入量 alone must not leave 接通量 above it)."""
    out = []
    for part, whole in COUNTER_BOUNDS:
        a, b = values.get(part), values.get(whole)
        if a is None or b is None or a <= b or (part not in rec.counters and whole not in rec.counters):
            continue
        kept, given = (whole, part) if part in rec.counters else (part, whole)
        out.append(Problem(
            file, M_("{day}: {part} ({a}) would be greater than {whole} ({b}): this file gives {given} but "
                     "not {kept}, whose stored value it keeps; give both in the correction", day=rec.day.isoformat(),
                     part=counter_name(part), a=plain_number(values[part]), whole=counter_name(whole),
                     b=plain_number(values[whole]), given=counter_name(given), kept=counter_name(kept)),
            rec.row, counter_name(given), plain_number(values[given])))
    return out


def _store_days(session: Session, ingest: IngestRow, source: str, records: Sequence[DayRecord],
                source_priority: Sequence[str], notes: list[str],
                source_tolerance: float = DEFAULT_SOURCE_TOLERANCE,
                source_tolerance_units: float = DEFAULT_SOURCE_TOLERANCE_UNITS,
                carry: bool = False) -> StoreResult:
    hotline_id = ingest.hotline_id
    disagree = disagreements(session, hotline_id, ingest.file_name, source, records, source_tolerance,
                             source_tolerance_units)
    if disagree:
        raise IngestRejected(ingest.file_name, disagree)
    days = [r.day for r in records]
    ingest.first_day = min(days) if days else None
    ingest.last_day = max(days) if days else None
    ingest.days = len(days)
    ingest.notes = "\n".join(notes)

    current, old_channels = _current_rows(session, hotline_id, source, days)
    new = revised = same = 0
    changed: list[dt.date] = []
    new_rows: list[tuple[SourceDayRow, Mapping[str, int]]] = []
    contradictions: list[Problem] = []
    for rec in records:
        old = current.get(rec.day)
        change = _changes(rec, old, old_channels, carry)
        if change is None:
            same += 1
            continue
        values, derived, channels = change
        if carry and old is not None:
            contradictions += _contradictions(ingest.file_name, rec, values)
        if old is not None:
            old.is_current = False
            revised += 1
        else:
            new += 1
        row = SourceDayRow(
            hotline_id=hotline_id,
            day=rec.day,
            source=source,
            revision=1 if old is None else old.revision + 1,
            is_current=True,
            ingest_id=ingest.id,
            derived=derived,
            **values,
        )
        new_rows.append((row, channels))
        changed.append(rec.day)
    if contradictions:
        raise IngestRejected(ingest.file_name, contradictions)
    # Old revisions are flagged before the new ones are inserted (flush order).
    session.flush()
    session.add_all([r for r, _ in new_rows])
    session.flush()
    for row, channels in new_rows:
        session.add_all(
            SourceDayChannelRow(source_day_id=row.id, channel=ch, requests=int(n)) for ch, n in channels.items()
        )
    ingest.days_revised = revised
    recompute_effective(session, hotline_id, changed, source_priority)
    session.flush()
    return StoreResult("loaded", ingest.id, new, revised, same, ingest.first_day, ingest.last_day, tuple(notes))


def _priority_key(source_priority: Sequence[str]):
    order = {s: i for i, s in enumerate(source_priority)}
    return lambda row: (order.get(row.source, len(order)), row.source)


def recompute_effective(
    session: Session, hotline_id: str, days: Sequence[dt.date], source_priority: Sequence[str]
) -> None:
    """Rebuild ``daily_counters`` for ``days`` from the current source rows, by priority."""
    if not days:
        return
    by_day: dict[dt.date, list[SourceDayRow]] = {}
    existing: dict[dt.date, DailyCountersRow] = {}
    for chunk in chunks(sorted(set(days))):
        for row in session.scalars(
            select(SourceDayRow).where(
                SourceDayRow.hotline_id == hotline_id,
                SourceDayRow.is_current.is_(True),
                SourceDayRow.day.in_(chunk),
            )
        ):
            by_day.setdefault(row.day, []).append(row)
        for eff in session.scalars(
            select(DailyCountersRow).where(DailyCountersRow.hotline_id == hotline_id, DailyCountersRow.day.in_(chunk))
        ):
            existing[eff.day] = eff
    history = _earlier_revisions(session, hotline_id, by_day)
    key = _priority_key(source_priority)
    for day in sorted(set(days)):
        rows = sorted(by_day.get(day, []), key=key)
        values: dict[str, float | None] = {}
        provenance: dict[str, int] = {}
        for counter in COUNTERS:
            values[counter] = None
            for row in rows:
                v = getattr(row, counter)
                if v is not None:
                    values[counter] = v
                    provenance[counter] = _supplier(row, counter, history)
                    break
        eff = existing.get(day)
        if eff is None:
            eff = DailyCountersRow(hotline_id=hotline_id, day=day)
            session.add(eff)
        for counter, v in values.items():
            setattr(eff, counter, v)
        eff.provenance = json.dumps(provenance, sort_keys=True)


def _earlier_revisions(session: Session, hotline_id: str, by_day: Mapping[dt.date, list[SourceDayRow]]
                       ) -> dict[tuple[dt.date, str], list[SourceDayRow]]:
    """The earlier revisions of the (day, source) pairs whose current revision carries a
    counter forward, newest first: read only when there are such revisions."""
    wanted = {(r.day, r.source) for rows in by_day.values() for r in rows if _marks(r)[1]}
    out: dict[tuple[dt.date, str], list[SourceDayRow]] = {}
    for chunk in chunks(sorted({d for d, _ in wanted})):
        for row in session.scalars(select(SourceDayRow).where(
                SourceDayRow.hotline_id == hotline_id, SourceDayRow.is_current.is_(False),
                SourceDayRow.day.in_(chunk))):
            if (row.day, row.source) in wanted:
                out.setdefault((row.day, row.source), []).append(row)
    for rows in out.values():
        rows.sort(key=lambda r: r.revision, reverse=True)
    return out


def _supplier(row: SourceDayRow, counter: str, history: Mapping[tuple[dt.date, str], list[SourceDayRow]]) -> int:
    """The revision that supplied ``row``'s value of ``counter``: the row itself, or for a
    value carried forward the nearest earlier revision that read it from its file."""
    if counter not in _marks(row)[1]:
        return row.id
    for earlier in history.get((row.day, row.source), []):
        if earlier.revision < row.revision and counter not in _marks(earlier)[1]:
            return earlier.id
    return row.id  # pragma: no cover - a carried value always has a supplier before it


@dataclass(frozen=True)
class Revision:
    source_day_id: int
    revision: int
    is_current: bool
    ingest_id: int
    file_name: str
    content_sha256: str
    ingested_at: dt.datetime
    values: Mapping[str, float | None]
    derived: frozenset[str]
    #: Counters this revision's file did not supply: their values are the revision's before.
    carried: frozenset[str] = frozenset()


def revisions(session: Session, hotline_id: str, day: dt.date, source: str) -> list[Revision]:
    """Every revision a source supplied for one day, oldest first, with its file's provenance."""
    q = (
        select(SourceDayRow, IngestRow)
        .join(IngestRow, IngestRow.id == SourceDayRow.ingest_id)
        .where(SourceDayRow.hotline_id == hotline_id, SourceDayRow.day == day, SourceDayRow.source == source)
        .order_by(SourceDayRow.revision)
    )
    out = []
    for sd, ing in session.execute(q):
        out.append(
            Revision(
                sd.id, sd.revision, sd.is_current, ing.id, ing.file_name, ing.content_sha256, ing.ingested_at,
                _values(sd), *_marks(sd),
            )
        )
    return out


def provenance(session: Session, hotline_id: str, day: dt.date) -> dict[str, tuple[str, str, str]]:
    """For one day: counter -> (source, file name, content SHA-256) of its effective value."""
    eff = session.get(DailyCountersRow, (hotline_id, day))
    if eff is None:
        return {}
    ids: dict[str, int] = json.loads(eff.provenance or "{}")
    out = {}
    for counter, sd_id in ids.items():
        sd = session.get(SourceDayRow, sd_id)
        ing = session.get(IngestRow, sd.ingest_id) if sd is not None else None
        if sd is not None and ing is not None:
            out[counter] = (sd.source, ing.file_name, ing.content_sha256)
    return out


def record_attempt(session: Session, *, at: dt.datetime, hotline_id: str, source: str, file_name: str,
                   result: str, days: int, message: str) -> None:
    session.add(IngestAttemptRow(at=at, hotline_id=hotline_id, source=source, file_name=file_name[:512],
                                 result=result, days=days, message=message))
