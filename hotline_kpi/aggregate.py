"""The sum primitive: the daily rows of one window -> an :class:`~hotline_kpi.domain.Aggregate`.

Pure: no session, no clock, no settings object, no I/O. The store computes the same
aggregates in SQL; both follow the rules of docs/kpi-definitions.md: a window's sums
are taken over the days on which every *required* counter of the formula is known (a
missing day is a gap, never a zero), and integer counts are summed exactly.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Iterable

from hotline_kpi.catalogue import Catalogue
from hotline_kpi.domain import WINDOWS, Aggregate, DailyCounters, Window, window_bounds
from hotline_kpi.formulas import Formula, FormulaSettings, Term
from hotline_kpi.i18n import M_, q


class RowError(ValueError):
    """A daily row cannot be evaluated (a day given twice, a non-finite value, another hotline)."""

    def __init__(self, hotline_id: str, day: dt.date, why: str, counter: str | None = None):
        self.hotline_id = hotline_id
        self.day = day
        self.counter = counter
        self.why = why
        if counter:
            super().__init__(M_("{hotline}, {day}, {counter}: {why}", hotline=hotline_id, day=day.isoformat(),
                                counter=counter, why=why))
        else:
            super().__init__(M_("{hotline}, {day}: {why}", hotline=hotline_id, day=day.isoformat(), why=why))


class _ExactSum:
    """Integers summed exactly as ints; fractional values with :func:`math.fsum`.

    The store sums BIGINT columns exactly, so the Python side must not lose integer
    precision to floats (a year of 10**12-sized counts exceeds 2**53).
    """

    __slots__ = ("_int", "_floats")

    def __init__(self) -> None:
        self._int = 0
        self._floats: list[float] = []

    def add(self, coef: float, value: float) -> None:
        c, v = _as_int(coef), _as_int(value)
        if c is not None and v is not None:
            self._int += c * v
        else:
            self._floats.append(coef * value)

    @property
    def total(self) -> float:
        if not self._floats:
            return self._int
        return math.fsum([*self._floats, self._int])


def _as_int(x: float) -> int | None:
    if isinstance(x, int):
        return x
    return int(x) if x.is_integer() else None


def check_row(row: DailyCounters, counters: Iterable[str]) -> None:
    for name in counters:
        v = row.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
            raise RowError(row.hotline_id, row.day, M_("value {value} is not a finite number", value=q(v)), name)


def rows_by_day(rows: Iterable[DailyCounters], start: dt.date, end: dt.date) -> dict[dt.date, DailyCounters]:
    """The rows of ``start``..``end`` by day; a day given twice is an error, not a pick."""
    out: dict[dt.date, DailyCounters] = {}
    for row in rows:
        if start <= row.day <= end:
            if row.day in out:
                raise RowError(row.hotline_id, row.day, M_("day appears more than once in the rows"))
            out[row.day] = row
    return out


def _term_sum(terms: tuple[Term, ...], row: DailyCounters, acc: _ExactSum) -> None:
    for term in terms:
        v = row.get(term.counter)
        if v is not None:  # unknown non-required terms count 0; required ones were checked
            acc.add(term.coef, v)


def aggregate_rows(rows: Iterable[DailyCounters], formula: Formula, start: dt.date, end: dt.date) -> Aggregate:
    """Sums of ``formula`` over ``start``..``end`` (both inclusive).

    A day contributes only if every required counter of the formula is known on it; its
    numerator and denominator then both contribute, so a day missing one side of a pair
    drops out of both. Rows outside the window are ignored. Raises :class:`RowError` for
    a day given twice or a non-finite value.
    """
    if end < start:
        raise ValueError(f"window ends ({end}) before it starts ({start})")
    required = formula.required_counters
    num, den = _ExactSum(), _ExactSum()
    days = 0
    for row in rows_by_day(rows, start, end).values():
        check_row(row, formula.counters)
        if any(row.get(c) is None for c in required):
            continue
        days += 1
        _term_sum(formula.numerator, row, num)
        _term_sum(formula.denominator, row, den)
    return Aggregate(
        numerator=num.total,
        denominator=den.total if formula.kind == "ratio" else None,
        days_with_data=days,
        days_in_window=(end - start).days + 1,
    )


def aggregates_from_rows(
    catalogue: Catalogue, settings: FormulaSettings, rows: Iterable[DailyCounters], as_of: dt.date
) -> dict[tuple[str, Window], Aggregate]:
    """Every (quantitative indicator, window) aggregate of ``catalogue`` computed in Python."""
    rows = tuple(rows)
    out: dict[tuple[str, Window], Aggregate] = {}
    for ind in catalogue.quantitative:
        formula = ind.formula_for(settings)
        for window in WINDOWS:
            start, end = window_bounds(window, as_of)
            out[(ind.id, window)] = aggregate_rows(rows, formula, start, end)
    return out

