"""Repository functions: the session comes first; ORM rows become domain values here."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Literal, Mapping, Sequence

from sqlalchemy import Select, and_, case, func, literal, select
from sqlalchemy.orm import Session

from hotline_kpi.catalogue import Hotline
from hotline_kpi.domain import COUNTERS, WINDOWS, Aggregate, DailyCounters, ParsedFile, Window, window_bounds
from hotline_kpi.formulas import Formula, Term
from hotline_kpi.store.models import (
    DailyCountersRow,
    HotlineRow,
    IngestAttemptRow,
    IngestRow,
    SourceDayChannelRow,
    SourceDayRow,
)

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
) -> StoreResult:
    """Store one parsed file inside the caller's transaction.

    The same content again (same hotline, source and SHA-256) changes nothing. A day this
    source already supplied with other values gets a new revision; the old one stays,
    marked not current. A day whose values are unchanged keeps its earlier provenance.
    """
    existing = find_loaded(session, hotline_id, parsed.source, file.sha256)
    if existing is not None:
        return StoreResult("already_loaded", existing.id)

    days = [r.day for r in parsed.days]
    ingest = IngestRow(
        hotline_id=hotline_id,
        source=parsed.source,
        file_name=file.name,
        content_sha256=file.sha256,
        size_bytes=file.size_bytes,
        original_path=file.original_path,
        ingested_at=at,
        first_day=min(days) if days else None,
        last_day=max(days) if days else None,
        days=len(days),
        days_revised=0,
        settings_json=settings_json,
        notes="\n".join(parsed.notes),
    )
    session.add(ingest)
    session.flush()

    current: dict[dt.date, SourceDayRow] = {}
    for chunk in _chunks(days):
        for row in session.scalars(
            select(SourceDayRow).where(
                SourceDayRow.hotline_id == hotline_id,
                SourceDayRow.source == parsed.source,
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
    for rec in parsed.days:
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
            source=parsed.source,
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
    return StoreResult("loaded", ingest.id, new, revised, same, ingest.first_day, ingest.last_day)


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
