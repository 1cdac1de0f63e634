"""Repository functions: the session comes first; ORM rows become domain values here."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Iterable, Iterator, Literal, Mapping, Sequence

from sqlalchemy import Select, and_, bindparam, case, func, insert, literal, select, update
from sqlalchemy.orm import Session

from hotline_kpi.catalogue import Hotline
from hotline_kpi.domain import COUNTERS, WINDOWS, Aggregate, DailyCounters, DayRecord, ParsedFile, Window, window_bounds
from hotline_kpi.formulas import Formula, Term
from hotline_kpi.settings import DEFAULT_SOURCE_TOLERANCE, DEFAULT_SOURCE_TOLERANCE_UNITS
from hotline_kpi.store.models import (
    CallbackRow,
    DailyCountersRow,
    HotlineRow,
    IngestAttemptRow,
    IngestRow,
    LogMarkRow,
    QueueCallDayRow,
    SourceDayChannelRow,
    SourceDayRow,
    SourceStateRow,
    TicketRow,
)

if TYPE_CHECKING:
    from hotline_kpi.ingest.base import Problem, StoreRequest
    from hotline_kpi.ingest.callbacks import Callback
    from hotline_kpi.ingest.tickets import Ticket

#: Keep IN lists well under every backend's bound-parameter limit.
_CHUNK = 500


def _chunks(items: Sequence, size: int = _CHUNK) -> Iterable[Sequence]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


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

    The same content again (same hotline, source and SHA-256) changes nothing. A day this
    source already supplied with other values gets a new revision; the old one stays,
    marked not current. A day whose values are unchanged keeps its earlier provenance.
    A counter further than ``source_tolerance`` (and more than ``source_tolerance_units``)
    from another source's stored value for the same day raises :class:`~hotline_kpi.ingest.base.IngestRejected` (see
    :func:`disagreements`): the caller's transaction must then be rolled back.
    """
    existing = find_loaded(session, hotline_id, parsed.source, file.sha256)
    if existing is not None:
        return StoreResult("already_loaded", existing.id)
    ingest = _new_ingest(session, hotline_id, parsed.source, file, at, settings_json)
    return _store_days(session, ingest, parsed.source, parsed.days, source_priority, list(parsed.notes),
                       source_tolerance, source_tolerance_units)


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


def new_ingest(session: Session, hotline_id: str, source: str, request: "StoreRequest") -> IngestRow:
    """The provenance row of one file of a raw source (its days are filled by :func:`store_days`)."""
    return _new_ingest(session, hotline_id, source, request.file, request.at, request.settings_json)


def store_days(session: Session, ingest: IngestRow, source: str, records: Sequence[DayRecord],
               request: "StoreRequest", notes: Sequence[str] = ()) -> StoreResult:
    """Revise ``source``'s counters of the days in ``records`` (recomputed by a raw source)."""
    return _store_days(session, ingest, source, records, request.source_priority, list(notes),
                       request.source_tolerance, request.source_tolerance_units)


def relative_difference(a: float, b: float) -> float:
    """|a - b| / max(|a|, |b|): 0 when equal (both 0 included), at most 1 for counts >= 0."""
    largest = max(abs(a), abs(b))
    return 0.0 if largest == 0 else abs(a - b) / largest


def _shown(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.6g}"


def disagreements(session: Session, hotline_id: str, file_name: str, source: str, records: Sequence[DayRecord],
                  tolerance: float, units: float = DEFAULT_SOURCE_TOLERANCE_UNITS) -> list["Problem"]:
    """Every counter of ``records`` further than ``tolerance`` (relative difference) and
    more than ``units`` (absolute difference) from another source's current value of that
    counter for the same day, with both places. The absolute floor keeps small counts
    (3 returns against 4: 25% apart) from counting as a disagreement.

    Only other sources are compared: a later file of the same source is a correction.
    ``tolerance`` >= 1 checks nothing (counts are never negative: never more than 100% apart).
    """
    from hotline_kpi.ingest.base import Problem

    if tolerance >= 1 or not records:
        return []
    by_day = {r.day: r for r in records}
    others: dict[dt.date, list[SourceDayRow]] = {}
    for chunk in _chunks(sorted(by_day)):
        for row in session.scalars(select(SourceDayRow).where(
                SourceDayRow.hotline_id == hotline_id, SourceDayRow.source != source,
                SourceDayRow.is_current.is_(True), SourceDayRow.day.in_(chunk))):
            others.setdefault(row.day, []).append(row)
    files: dict[int, str] = {}
    for chunk in _chunks(sorted({r.ingest_id for rows in others.values() for r in rows})):
        files.update((i, name) for i, name in session.execute(
            select(IngestRow.id, IngestRow.file_name).where(IngestRow.id.in_(chunk))))
    problems: list[Problem] = []
    for day in sorted(others):
        rec = by_day[day]
        for counter in COUNTERS:
            mine = rec.counters.get(counter)
            if mine is None:
                continue
            for other in sorted(others[day], key=lambda r: r.source):
                theirs = getattr(other, counter)
                if theirs is None:
                    continue
                apart = relative_difference(mine, theirs)
                if apart > tolerance and abs(mine - theirs) > units:
                    problems.append(Problem(
                        file_name, f"{day.isoformat()}: {source} gives {_shown(mine)} but {other.source} "
                        f"({files.get(other.ingest_id, '?')}) gives {_shown(theirs)}, {apart:.1%} apart: more than "
                        f"the source_tolerance of {tolerance:.1%}", rec.row, counter, _shown(mine)))
    return problems


def _store_days(session: Session, ingest: IngestRow, source: str, records: Sequence[DayRecord],
                source_priority: Sequence[str], notes: list[str],
                source_tolerance: float = DEFAULT_SOURCE_TOLERANCE,
                source_tolerance_units: float = DEFAULT_SOURCE_TOLERANCE_UNITS) -> StoreResult:
    hotline_id = ingest.hotline_id
    disagree = disagreements(session, hotline_id, ingest.file_name, source, records, source_tolerance,
                             source_tolerance_units)
    if disagree:
        from hotline_kpi.ingest.base import IngestRejected

        raise IngestRejected(ingest.file_name, disagree)
    days = [r.day for r in records]
    ingest.first_day = min(days) if days else None
    ingest.last_day = max(days) if days else None
    ingest.days = len(days)
    ingest.notes = "\n".join(notes)

    current: dict[dt.date, SourceDayRow] = {}
    for chunk in _chunks(days):
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
    ids = [r.id for r in current.values()]
    for chunk in _chunks(ids):
        for ch in session.scalars(select(SourceDayChannelRow).where(SourceDayChannelRow.source_day_id.in_(chunk))):
            old_channels.setdefault(ch.source_day_id, {})[ch.channel] = ch.requests

    new = revised = same = 0
    changed: list[dt.date] = []
    new_rows: list[tuple[SourceDayRow, Mapping[str, int]]] = []
    for rec in records:
        values = {c: rec.counters.get(c) for c in COUNTERS}
        derived = ",".join(sorted(rec.derived))
        old = current.get(rec.day)
        if old is not None:
            if (
                _values(old) == values
                and old.derived == derived
                and old_channels.get(old.id, {}) == dict(rec.channels)
            ):
                same += 1
                continue
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
        new_rows.append((row, rec.channels))
        changed.append(rec.day)
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


# --- raw sources: state, marks and the queue_log's days --------------------------------------


def lock_source_state(session: Session, hotline_id: str, source: str, at: dt.datetime) -> SourceStateRow:
    """The state row of (hotline, source), locked until the transaction ends.

    Every load of a raw source takes it first, so two loads merge one after the other
    (PostgreSQL: SELECT ... FOR UPDATE; SQLite: the write transaction is already exclusive).
    """
    key = {"hotline_id": hotline_id, "source": source}
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert
        session.execute(upsert(SourceStateRow).values(**key, updated_at=at).on_conflict_do_nothing())
    elif session.get(SourceStateRow, (hotline_id, source)) is None:  # pragma: no cover - other backends
        session.add(SourceStateRow(**key, updated_at=at))
        session.flush()
    row = session.scalars(
        select(SourceStateRow).where(SourceStateRow.hotline_id == hotline_id, SourceStateRow.source == source)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return row


@dataclass(frozen=True)
class Mark:
    length: int
    prefix_sha256: str
    lines: int


def log_marks(session: Session, hotline_id: str, source: str, head_sha256: str) -> list[Mark]:
    """High-water marks of the logs whose first line hashes to ``head_sha256``."""
    rows = session.scalars(select(LogMarkRow).where(
        LogMarkRow.hotline_id == hotline_id, LogMarkRow.source == source, LogMarkRow.head_sha256 == head_sha256))
    return [Mark(r.length, r.prefix_sha256, r.lines) for r in rows]


def save_log_mark(session: Session, hotline_id: str, source: str, head_sha256: str, mark: Mark,
                  ingest_id: int) -> None:
    """Record how far a log was read; a mark never moves back (a shorter read keeps the longer)."""
    row = session.get(LogMarkRow, (hotline_id, source, head_sha256))
    if row is None:
        session.add(LogMarkRow(hotline_id=hotline_id, source=source, head_sha256=head_sha256, length=mark.length,
                               prefix_sha256=mark.prefix_sha256, lines=mark.lines, ingest_id=ingest_id))
    elif mark.length > row.length:
        row.length, row.prefix_sha256, row.lines, row.ingest_id = (
            mark.length, mark.prefix_sha256, mark.lines, ingest_id)
    session.flush()


def queue_days_open_before(session: Session, hotline_id: str, limit: int) -> list[dt.date]:
    """Days holding calls still open when last counted whose ENTERQUEUE is at or before ``limit``."""
    q = select(QueueCallDayRow.day).where(
        QueueCallDayRow.hotline_id == hotline_id, QueueCallDayRow.open_since.isnot(None),
        QueueCallDayRow.open_since <= limit)
    return list(session.scalars(q))


@dataclass(frozen=True)
class QueueDay:
    calls: bytes
    entered: int
    open_since: int | None


def queue_days(session: Session, hotline_id: str, days: Sequence[dt.date], chunk: int = 16
               ) -> Iterator[tuple[dt.date, QueueDay | None]]:
    """The stored calls of ``days`` (sorted), read a few days at a time: a year is ~100 MB."""
    t = QueueCallDayRow.__table__
    for part in _chunks(list(days), chunk):
        found = {
            r.day: QueueDay(r.calls, r.entered, r.open_since)
            for r in session.execute(select(t.c.day, t.c.calls, t.c.entered, t.c.open_since)
                                     .where(t.c.hotline_id == hotline_id, t.c.day.in_(part)))
        }
        for day in part:
            yield day, found.get(day)


def put_queue_day(session: Session, hotline_id: str, day: dt.date, calls: bytes, entered: int, orphans: int,
                  open_since: int | None, ingest_id: int, exists: bool) -> None:
    # Core statements: the ORM would keep every blob in the session until commit.
    t = QueueCallDayRow.__table__
    values = dict(calls=calls, entered=entered, orphans=orphans, open_since=open_since, ingest_id=ingest_id)
    if exists:
        session.execute(update(t).where(t.c.hotline_id == hotline_id, t.c.day == day).values(**values))
    else:
        session.execute(insert(t).values(hotline_id=hotline_id, day=day, **values))


# --- tickets and callbacks: one row per record, recounted per touched day ----------------------


def _comparable(value: object) -> object:
    # SQLite hands back DateTime(timezone=True) values naive (they are stored in UTC).
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def _merge_records(session: Session, table, key: str, hotline_id: str, records: Mapping[str, dict[str, object]],
                   ingest_id: int, newer) -> tuple[set[dt.date], int, int]:
    """Insert new records, update changed ones (when ``newer(stored, fields)``); the days touched.

    Core statements in batches: an export can hold a hundred thousand records.
    """
    t = table.__table__
    touched: set[dt.date] = set()
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    for chunk in _chunks(list(records)):
        stored = {getattr(r, key): r for r in session.execute(
            select(t).where(t.c.hotline_id == hotline_id, getattr(t.c, key).in_(chunk)))}
        for k in chunk:
            fields = records[k]
            old = stored.get(k)
            if old is None:
                inserts.append({"hotline_id": hotline_id, key: k, **fields, "ingest_id": ingest_id})
                touched.add(fields["day"])  # type: ignore[arg-type]
            elif newer(old, fields) and any(_comparable(getattr(old, f)) != _comparable(v) for f, v in fields.items()):
                updates.append({"b_hotline": hotline_id, "b_key": k, **fields, "ingest_id": ingest_id})
                touched.update((fields["day"], old.day))  # type: ignore[arg-type]
    for part in _chunks(inserts, 5000):
        session.execute(insert(t), list(part))
    if updates:
        columns = [c for c in updates[0] if c not in ("b_hotline", "b_key")]
        stmt = (update(t).where(t.c.hotline_id == bindparam("b_hotline"), getattr(t.c, key) == bindparam("b_key"))
                .values({c: bindparam(c) for c in columns}))
        for part in _chunks(updates, 5000):
            session.execute(stmt, list(part))
    return touched, len(inserts), len(updates)


def merge_tickets(session: Session, hotline_id: str, tickets: Mapping[str, "Ticket"], ingest_id: int
                  ) -> tuple[set[dt.date], int, int]:
    """Store tickets by number: a new number is inserted; a stored one is replaced by a row
    at least as recent (its latest moment) that differs. Returns (days touched, new, updated);
    an updated ticket touches its old and its new acceptance date."""
    return _merge_records(session, TicketRow, "ticket_no", hotline_id,
                          {n: tk.fields() for n, tk in tickets.items()}, ingest_id,
                          lambda old, fields: fields["version"] >= old.version)


def ticket_day_records(session: Session, hotline_id: str, days: Sequence[dt.date],
                       operator_channels: Sequence[str]) -> list[DayRecord]:
    """The "tickets" counters of ``days`` recounted from the stored tickets (0 for a day left empty)."""
    t = TicketRow.__table__
    ops = t.c.channel.in_(list(operator_channels)) if operator_channels else literal(False)
    dispatched = t.c.handling == "dispatch"
    one = lambda cond: func.sum(case((cond, 1), else_=0))  # noqa: E731
    counts: dict[dt.date, dict[str, float]] = {}
    channels: dict[dt.date, dict[str, int]] = {}
    for chunk in _chunks(list(days)):
        where = (t.c.hotline_id == hotline_id, t.c.day.in_(chunk))
        q = select(t.c.day, func.count(), one(ops), one(and_(ops, t.c.handling == "direct")), one(dispatched),
                   one(and_(dispatched, t.c.returned, t.c.operator_fault))).where(*where).group_by(t.c.day)
        for day, n, eligible, resolved, disp, returned in session.execute(q):
            counts[day] = dict(requests_accepted=int(n), first_contact_eligible=int(eligible),
                               first_contact_resolved=int(resolved), tickets_dispatched=int(disp),
                               tickets_returned_operator_fault=int(returned))
        for day, channel, n in session.execute(
                select(t.c.day, t.c.channel, func.count()).where(*where).group_by(t.c.day, t.c.channel)):
            channels.setdefault(day, {})[channel] = int(n)
    zero = dict(requests_accepted=0, first_contact_eligible=0, first_contact_resolved=0, tickets_dispatched=0,
                tickets_returned_operator_fault=0)
    return [DayRecord(day=d, counters=counts.get(d, zero), channels=channels.get(d, {})) for d in sorted(days)]


def merge_callbacks(session: Session, hotline_id: str, callbacks: Mapping[str, "Callback"], ingest_id: int
                    ) -> tuple[set[dt.date], int, int]:
    """Store callbacks by identity: a callback seen again replaces the stored one."""
    return _merge_records(session, CallbackRow, "callback_id", hotline_id,
                          {k: cb.fields() for k, cb in callbacks.items()}, ingest_id, lambda old, fields: True)


def callback_day_records(session: Session, hotline_id: str, days: Sequence[dt.date],
                         satisfied: Sequence[str], responses: Sequence[str]) -> list[DayRecord]:
    """The "callbacks" counters of ``days`` recounted from the stored callbacks."""
    t = CallbackRow.__table__
    one = lambda cond: func.sum(case((cond, 1), else_=0))  # noqa: E731
    counts: dict[dt.date, dict[str, float]] = {}
    for chunk in _chunks(list(days)):
        q = (select(t.c.day, one(t.c.result.in_(list(responses))), one(t.c.result.in_(list(satisfied))))
             .where(t.c.hotline_id == hotline_id, t.c.day.in_(chunk)).group_by(t.c.day))
        for day, n, sat in session.execute(q):
            counts[day] = dict(survey_responses=int(n), survey_satisfied=int(sat))
    zero = dict(survey_responses=0, survey_satisfied=0)
    return [DayRecord(day=d, counters=counts.get(d, zero)) for d in sorted(days)]


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
    for chunk in _chunks(sorted(set(days))):
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
                    provenance[counter] = row.id
                    break
        eff = existing.get(day)
        if eff is None:
            eff = DailyCountersRow(hotline_id=hotline_id, day=day)
            session.add(eff)
        for counter, v in values.items():
            setattr(eff, counter, v)
        eff.provenance = json.dumps(provenance, sort_keys=True)


def daily_counters(session: Session, hotline_id: str, start: dt.date, end: dt.date) -> list[DailyCounters]:
    rows = session.scalars(
        select(DailyCountersRow)
        .where(DailyCountersRow.hotline_id == hotline_id, DailyCountersRow.day.between(start, end))
        .order_by(DailyCountersRow.day)
    )
    return [DailyCounters(hotline_id, r.day, {c: getattr(r, c) for c in COUNTERS}) for r in rows]


def last_data_day(session: Session, hotline_id: str, not_after: dt.date | None = None) -> dt.date | None:
    q = select(func.max(DailyCountersRow.day)).where(DailyCountersRow.hotline_id == hotline_id)
    if not_after is not None:
        q = q.where(DailyCountersRow.day <= not_after)
    return session.scalar(q)


def hotline_ids_with_data(session: Session) -> list[str]:
    return list(session.scalars(select(DailyCountersRow.hotline_id).distinct().order_by(DailyCountersRow.hotline_id)))


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
                _values(sd), frozenset(filter(None, sd.derived.split(","))),
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


def channel_totals(session: Session, hotline_id: str, start: dt.date, end: dt.date) -> dict[str, int]:
    q = (
        select(SourceDayChannelRow.channel, func.sum(SourceDayChannelRow.requests))
        .join(SourceDayRow, SourceDayRow.id == SourceDayChannelRow.source_day_id)
        .where(
            SourceDayRow.hotline_id == hotline_id,
            SourceDayRow.is_current.is_(True),
            SourceDayRow.day.between(start, end),
        )
        .group_by(SourceDayChannelRow.channel)
    )
    return {ch: int(n) for ch, n in session.execute(q)}


# --- evaluation sums in SQL -------------------------------------------------------


def _number(v: object) -> float | int:
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v  # type: ignore[return-value]


def _term_sql(term: Term):
    col = getattr(DailyCountersRow, term.counter)
    expr = col if term.required else func.coalesce(col, 0)
    coef = int(term.coef) if float(term.coef).is_integer() else term.coef
    return expr if coef == 1 else expr * literal(coef)


def _sum_expr(terms: tuple[Term, ...]):
    expr = _term_sql(terms[0])
    for t in terms[1:]:
        expr = expr + _term_sql(t)
    return expr


def window_aggregates(
    session: Session,
    hotline_ids: Sequence[str],
    as_of: dt.date,
    formulas: Mapping[str, Formula],
    windows: Sequence[Window] = WINDOWS,
) -> dict[str, dict[tuple[str, Window], Aggregate]]:
    """The :class:`Aggregate` of every formula and window for each hotline, summed in SQL.

    Every window ends at ``as_of``, so the windows' start dates cut the span into a few
    disjoint segments and each window is the union of the segments from its start on.
    One grouped scan sums each formula per (hotline, segment); the windows are then
    added up from at most six segment rows. Must equal
    :func:`hotline_kpi.evaluate.aggregates_from_rows` on the same rows (float sums up to
    rounding). ``formulas`` maps an indicator id to its formula. A hotline without any
    row in the span gets no aggregates.
    """
    bounds = {w: window_bounds(w, as_of) for w in windows}
    starts = sorted({b[0] for b in bounds.values()}, reverse=True)
    d = DailyCountersRow.day
    # segment i covers [starts[i], next later start) ; starts are sorted latest first
    segment = case(*((d >= s, i) for i, s in enumerate(starts)), else_=-1)
    cols = []
    for formula in formulas.values():
        present = and_(*(getattr(DailyCountersRow, c).isnot(None) for c in formula.required_counters))
        cols.append(func.sum(case((present, _sum_expr(formula.numerator)))))
        cols.append(func.sum(case((present, _sum_expr(formula.denominator)))) if formula.denominator else literal(0))
        cols.append(func.count(case((present, 1))))
    seg = segment.label("segment")
    q: Select = (
        select(DailyCountersRow.hotline_id, seg, *cols)
        .where(d >= starts[-1], d <= as_of)
        .group_by(DailyCountersRow.hotline_id, seg)
    )
    # per hotline: segment index -> flat tuple of (num, den, n) per formula
    partial: dict[str, dict[int, tuple]] = {}
    for chunk in _chunks(list(hotline_ids)):
        for row in session.execute(q.where(DailyCountersRow.hotline_id.in_(chunk))):
            partial.setdefault(row[0], {})[row[1]] = tuple(row[2:])
    out: dict[str, dict[tuple[str, Window], Aggregate]] = {h: {} for h in hotline_ids}
    for hid, segs in partial.items():
        aggs = out[hid]
        for w, (start, end) in bounds.items():
            members = [vals for i, vals in segs.items() if i >= 0 and starts[i] >= start]
            for k, (ind_id, formula) in enumerate(formulas.items()):
                num = sum(_number(v[3 * k]) for v in members if v[3 * k] is not None)
                den = sum(_number(v[3 * k + 1]) for v in members if v[3 * k + 1] is not None)
                n = sum(int(v[3 * k + 2]) for v in members)
                aggs[(ind_id, w)] = Aggregate(
                    numerator=num,
                    denominator=den if formula.denominator else None,
                    days_with_data=n,
                    days_in_window=(end - start).days + 1,
                )
    return out


def rows_scanned(session: Session, hotline_ids: Sequence[str], as_of: dt.date, windows: Sequence[Window] = WINDOWS) -> int:
    lo = min(window_bounds(w, as_of)[0] for w in windows)
    total = 0
    for chunk in _chunks(list(hotline_ids)):
        total += session.scalar(
            select(func.count()).select_from(DailyCountersRow).where(
                DailyCountersRow.hotline_id.in_(chunk), DailyCountersRow.day >= lo, DailyCountersRow.day <= as_of
            )
        ) or 0
    return total


# --- service bookkeeping ----------------------------------------------------------------


def record_attempt(session: Session, *, at: dt.datetime, hotline_id: str, source: str, file_name: str,
                   result: str, days: int, message: str) -> None:
    session.add(IngestAttemptRow(at=at, hotline_id=hotline_id, source=source, file_name=file_name[:512],
                                 result=result, days=days, message=message))


# --- budget execution and report runs (issue #7) ------------------------------------------


def replace_spending(session: Session, hotline_id: str, ingest_id: int,
                     amounts: Mapping[tuple[dt.date, bool, str], int]) -> tuple[int, int]:
    """Store ``amounts`` ({(day, monthly, budget line): fen}) in place of everything stored
    for the months they cover. Returns (rows removed, rows written)."""
    from sqlalchemy import delete

    from hotline_kpi.store.models import SpendingRow

    months = sorted({d.replace(day=1) for d, _m, _l in amounts})
    removed = 0
    for first in months:
        nxt = (first + dt.timedelta(days=32)).replace(day=1)
        res = session.execute(delete(SpendingRow).where(SpendingRow.hotline_id == hotline_id,
                                                        SpendingRow.day >= first, SpendingRow.day < nxt))
        removed += res.rowcount or 0
    session.add_all(SpendingRow(hotline_id=hotline_id, ingest_id=ingest_id, day=d, monthly=m, budget_line=line,
                                amount_fen=fen) for (d, m, line), fen in sorted(amounts.items()))
    return removed, len(amounts)


def monthly_spending(session: Session, hotline_id: str, year: int) -> dict[tuple[int, str], float]:
    """Yuan spent per (month, budget line) in ``year``."""
    from hotline_kpi.store.models import SpendingRow

    out: dict[tuple[int, str], float] = {}
    rows = session.execute(select(SpendingRow.day, SpendingRow.budget_line, SpendingRow.amount_fen).where(
        SpendingRow.hotline_id == hotline_id, SpendingRow.day >= dt.date(year, 1, 1),
        SpendingRow.day <= dt.date(year, 12, 31)))
    for day, line, fen in rows:
        key = (day.month, line)
        out[key] = out.get(key, 0) + int(fen) / 100
    return out


def report_run(session: Session, hotline_id: str, year: int):  # noqa: ANN201 - ReportRunRow | None
    from hotline_kpi.store.models import ReportRunRow

    return session.get(ReportRunRow, (hotline_id, year))


def claim_report_run(session: Session, hotline_id: str, year: int, at: dt.datetime) -> bool:
    """Record that the ``year`` report of ``hotline_id`` is being drafted; False when it
    was already (the row's primary key makes a second claim fail, across processes)."""
    from sqlalchemy.exc import IntegrityError

    from hotline_kpi.store.models import ReportRunRow

    if session.get(ReportRunRow, (hotline_id, year)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(ReportRunRow(hotline_id=hotline_id, year=year, drafted_at=at, mailed_at=None, files=""))
    except IntegrityError:
        return False
    return True
