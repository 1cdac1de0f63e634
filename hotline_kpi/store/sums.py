"""Sums in SQL: the effective daily counters, the evaluation's window aggregates and the
spending per month, read for the evaluation, the exports and the report.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Mapping, Sequence

from sqlalchemy import Select, and_, case, func, literal, select, union_all
from sqlalchemy.orm import Session

from hotline_kpi.domain import COUNTERS, WINDOWS, Aggregate, DailyCounters, Window, window_bounds
from hotline_kpi.formulas import Formula, Term
from hotline_kpi.store.db import chunks
from hotline_kpi.store.models import DailyCountersRow, SourceDayChannelRow, SourceDayRow, SpendingRow


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
    One grouped select per segment (their UNION ALL) sums each formula per (hotline,
    segment); each window is then a prefix sum of at most six segment rows. Must equal
    :func:`hotline_kpi.aggregate.aggregates_from_rows` on the same rows (float sums up to
    rounding). ``formulas`` maps an indicator id to its formula. A hotline without any
    row in the span gets no aggregates.
    """
    bounds = {w: window_bounds(w, as_of) for w in windows}
    starts = sorted({b[0] for b in bounds.values()}, reverse=True)
    d = DailyCountersRow.day
    cols = []
    for formula in formulas.values():
        present = and_(*(getattr(DailyCountersRow, c).isnot(None) for c in formula.required_counters))
        cols.append(func.sum(case((present, _sum_expr(formula.numerator)))))
        cols.append(func.sum(case((present, _sum_expr(formula.denominator)))) if formula.denominator else literal(0))
        cols.append(func.count(case((present, 1))))
    # segment i covers [starts[i], the next later start) ; starts are sorted latest first.
    # One grouped select per segment, by hotline only (UNION ALL): grouping by a CASE of
    # the day made PostgreSQL misjudge the groups (47,860 for 2,100 at 350 hotlines) and
    # sort the whole span on disk before aggregating (docs/scale.md).
    ends = [as_of] + [s - dt.timedelta(days=1) for s in starts[:-1]]

    def query(chunk: Sequence[str]) -> Select:
        parts = [
            select(DailyCountersRow.hotline_id, literal(i).label("segment"), *cols)
            .where(DailyCountersRow.hotline_id.in_(chunk), d >= start, d <= end)
            .group_by(DailyCountersRow.hotline_id)
            for i, (start, end) in enumerate(zip(starts, ends))
        ]
        return union_all(*parts) if len(parts) > 1 else parts[0]

    # per hotline: segment index -> flat tuple of (num, den, n) per formula, as numbers
    partial: dict[str, dict[int, tuple]] = {}
    for chunk in chunks(list(hotline_ids)):
        for row in session.execute(query(chunk)):
            partial.setdefault(row[0], {})[row[1]] = tuple(0 if v is None else _number(v) for v in row[2:])
    # every window is the segments from 0 up to the one its start opens: a prefix sum
    last_segment = {w: starts.index(start) for w, (start, _end) in bounds.items()}
    width = 3 * len(formulas)
    out: dict[str, dict[tuple[str, Window], Aggregate]] = {h: {} for h in hotline_ids}
    for hid, segs in partial.items():
        aggs = out[hid]
        prefix: list[list] = []
        running = [0] * width
        for i in range(len(starts)):
            vals = segs.get(i)
            if vals is not None:
                running = [a + b for a, b in zip(running, vals)]
            prefix.append(running)
        for w, (start, end) in bounds.items():
            vals = prefix[last_segment[w]]
            days = (end - start).days + 1
            for k, (ind_id, formula) in enumerate(formulas.items()):
                aggs[(ind_id, w)] = Aggregate(
                    numerator=vals[3 * k],
                    denominator=vals[3 * k + 1] if formula.denominator else None,
                    days_with_data=int(vals[3 * k + 2]),
                    days_in_window=days,
                )
    return out


def rows_scanned(session: Session, hotline_ids: Sequence[str], as_of: dt.date, windows: Sequence[Window] = WINDOWS) -> int:
    lo = min(window_bounds(w, as_of)[0] for w in windows)
    total = 0
    for chunk in chunks(list(hotline_ids)):
        total += session.scalar(
            select(func.count()).select_from(DailyCountersRow).where(
                DailyCountersRow.hotline_id.in_(chunk), DailyCountersRow.day >= lo, DailyCountersRow.day <= as_of
            )
        ) or 0
    return total


def monthly_spending(session: Session, hotline_id: str, year: int) -> dict[tuple[int, str], float]:
    """Yuan spent per (month, budget line) in ``year``."""
    out: dict[tuple[int, str], float] = {}
    rows = session.execute(select(SpendingRow.day, SpendingRow.budget_line, SpendingRow.amount_fen).where(
        SpendingRow.hotline_id == hotline_id, SpendingRow.day >= dt.date(year, 1, 1),
        SpendingRow.day <= dt.date(year, 12, 31)))
    for day, line, fen in rows:
        key = (day.month, line)
        out[key] = out.get(key, 0) + int(fen) / 100
    return out
