"""Sums in SQL: the effective daily counters, the evaluation's window aggregates and the
spending per month, read for the evaluation, the exports and the report.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Mapping, Sequence

from sqlalchemy import Select, and_, case, func, literal, select
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
    One grouped scan sums each formula per (hotline, segment); the windows are then
    added up from at most six segment rows. Must equal
    :func:`hotline_kpi.aggregate.aggregates_from_rows` on the same rows (float sums up to
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
    for chunk in chunks(list(hotline_ids)):
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
