"""Raw records: the queue_log's calls per day and its read marks, tickets, callbacks and
the spending ledger, each stored once by its identity and merged with what earlier
files left. The counters of the days they touch are recounted from what is stored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

from sqlalchemy import and_, bindparam, case, delete, func, insert, literal, select, update
from sqlalchemy.orm import Session

from hotline_kpi.domain import DayRecord
from hotline_kpi.store.db import chunks
from hotline_kpi.store.models import (CallbackRow, IngestRow, LogMarkRow, QueueCallDayRow, SourceStateRow, SpendingRow,
                                      TicketRow)


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
    for part in chunks(list(days), chunk):
        found = {
            r.day: QueueDay(r.calls, r.entered, r.open_since)
            for r in session.execute(select(t.c.day, t.c.calls, t.c.entered, t.c.open_since)
                                     .where(t.c.hotline_id == hotline_id, t.c.day.in_(part)))
        }
        for day in part:
            yield day, found.get(day)


def size_loaded(session: Session, hotline_id: str, source: str, size: int) -> bool:
    """Whether a load of the source for the hotline read a file of ``size`` bytes."""
    return session.scalars(select(IngestRow.id).where(
        IngestRow.hotline_id == hotline_id, IngestRow.source == source, IngestRow.size_bytes == size)
        .limit(1)).first() is not None


@dataclass(frozen=True)
class QueueDayWrite:
    """One day's calls to store: inserted (``exists`` False) or updated."""

    day: dt.date
    calls: bytes
    entered: int
    orphans: int
    open_since: int | None
    exists: bool


def put_queue_days(session: Session, hotline_id: str, ingest_id: int, days: Sequence[QueueDayWrite]) -> None:
    """Store days of calls: the new days in one statement run over all of them (executemany),
    the revised ones one by one. Core statements: the ORM would keep every blob in the
    session until commit."""
    t = QueueCallDayRow.__table__
    rows = [dict(hotline_id=hotline_id, day=w.day, calls=w.calls, entered=w.entered, orphans=w.orphans,
                 open_since=w.open_since, ingest_id=ingest_id) for w in days]
    new = [r for r, w in zip(rows, days) if not w.exists]
    if new:
        session.execute(insert(t), new)
    for r, w in zip(rows, days):
        if w.exists:  # (a day revised: fewer, one statement each)
            session.execute(update(t).where(t.c.hotline_id == hotline_id, t.c.day == w.day).values(
                calls=r["calls"], entered=r["entered"], orphans=r["orphans"], open_since=r["open_since"],
                ingest_id=ingest_id))


def _merge_records(session: Session, table, key: str, hotline_id: str, records: Mapping[str, dict[str, object]],
                   ingest_id: int, newer) -> tuple[set[dt.date], int, int]:
    """Insert new records, update changed ones (when ``newer(stored, fields)``); the days touched.

    Core statements in batches: an export can hold a hundred thousand records.
    """
    t = table.__table__
    touched: set[dt.date] = set()
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    for chunk in chunks(list(records)):
        stored = {getattr(r, key): r for r in session.execute(
            select(t).where(t.c.hotline_id == hotline_id, getattr(t.c, key).in_(chunk)))}
        for k in chunk:
            fields = records[k]
            old = stored.get(k)
            if old is None:
                inserts.append({"hotline_id": hotline_id, key: k, **fields, "ingest_id": ingest_id})
                touched.add(fields["day"])  # type: ignore[arg-type]
            elif newer(old, fields) and any(getattr(old, f) != v for f, v in fields.items()):
                updates.append({"b_hotline": hotline_id, "b_key": k, **fields, "ingest_id": ingest_id})
                touched.update((fields["day"], old.day))  # type: ignore[arg-type]
    for part in chunks(inserts, 5000):
        session.execute(insert(t), list(part))
    if updates:
        columns = [c for c in updates[0] if c not in ("b_hotline", "b_key")]
        stmt = (update(t).where(t.c.hotline_id == bindparam("b_hotline"), getattr(t.c, key) == bindparam("b_key"))
                .values({c: bindparam(c) for c in columns}))
        for part in chunks(updates, 5000):
            session.execute(stmt, list(part))
    return touched, len(inserts), len(updates)


def merge_tickets(session: Session, hotline_id: str, tickets: Mapping[str, dict[str, object]], ingest_id: int
                  ) -> tuple[set[dt.date], int, int]:
    """Store tickets by number: a new number is inserted; a stored one is replaced by a row
    at least as recent (its latest moment) that differs. Returns (days touched, new, updated);
    an updated ticket touches its old and its new acceptance date."""
    return _merge_records(session, TicketRow, "ticket_no", hotline_id,
                          tickets, ingest_id,
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
    for chunk in chunks(list(days)):
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


def merge_callbacks(session: Session, hotline_id: str, callbacks: Mapping[str, dict[str, object]], ingest_id: int
                    ) -> tuple[set[dt.date], int, int]:
    """Store callbacks by identity: a callback seen again replaces the stored one."""
    return _merge_records(session, CallbackRow, "callback_id", hotline_id,
                          callbacks, ingest_id, lambda old, fields: True)


def callback_day_records(session: Session, hotline_id: str, days: Sequence[dt.date],
                         satisfied: Sequence[str], responses: Sequence[str]) -> list[DayRecord]:
    """The "callbacks" counters of ``days`` recounted from the stored callbacks."""
    t = CallbackRow.__table__
    one = lambda cond: func.sum(case((cond, 1), else_=0))  # noqa: E731
    counts: dict[dt.date, dict[str, float]] = {}
    for chunk in chunks(list(days)):
        q = (select(t.c.day, one(t.c.result.in_(list(responses))), one(t.c.result.in_(list(satisfied))))
             .where(t.c.hotline_id == hotline_id, t.c.day.in_(chunk)).group_by(t.c.day))
        for day, n, sat in session.execute(q):
            counts[day] = dict(survey_responses=int(n), survey_satisfied=int(sat))
    zero = dict(survey_responses=0, survey_satisfied=0)
    return [DayRecord(day=d, counters=counts.get(d, zero)) for d in sorted(days)]


def replace_spending(session: Session, hotline_id: str, ingest_id: int,
                     amounts: Mapping[tuple[dt.date, bool, str], int]) -> tuple[int, int]:
    """Store ``amounts`` ({(day, monthly, budget line): fen}) in place of everything stored
    for the months they cover. Returns (rows removed, rows written)."""
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
