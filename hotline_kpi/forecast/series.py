"""A year of one formula's daily sums as arrays, and the calendar of a year as codes
(docs/forecast.md section 2). Built once from the rows, then projected at any as-of
date of the year (:func:`hotline_kpi.forecast.project.project_series`). Pure."""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from hotline_kpi.aggregate import RowError, aggregate_rows
from hotline_kpi.domain import DailyCounters, days_in_year
from hotline_kpi.forecast.calendar import day_type
from hotline_kpi.formulas import Formula, Term


@dataclass(frozen=True, eq=False)
class YearCalendar:
    """Every day of a year: its month (0..11) and its day type (an index into ``types``)."""

    year: int
    first: dt.date
    month: np.ndarray
    kind: np.ndarray
    types: tuple[str, ...]
    #: Whether the holiday calendar knows the year.
    known: bool


@functools.lru_cache(maxsize=64)
def year_calendar(year: int) -> YearCalendar:
    first = dt.date(year, 1, 1)
    days = [first + dt.timedelta(days=i) for i in range(days_in_year(year))]
    cats = [day_type(d) for d in days]
    types = tuple(sorted({c for c, _ in cats}))
    index = {t: i for i, t in enumerate(types)}
    return YearCalendar(
        year=year, first=first, month=np.array([d.month - 1 for d in days], dtype=np.intp),
        kind=np.array([index[c] for c, _ in cats], dtype=np.intp), types=types,
        known=all(k for _, k in cats))


@dataclass(frozen=True, eq=False)
class YearSeries:
    """One formula's daily (numerator, denominator) sums over a year and the year before:
    arrays of shape (days, 2), NaN where a day has no data (a total: denominator 0)."""

    year: int
    is_ratio: bool
    cur: np.ndarray
    prev: np.ndarray


def _day_sums(row: DailyCounters, formula: Formula) -> tuple[float, float] | None:
    """(numerator, denominator) of one day, ``None`` when a required counter is unknown
    (the rule of :func:`~hotline_kpi.aggregate.aggregate_rows`, which checks the rows)."""
    if any(row.get(c) is None for c in formula.required_counters):
        return None

    def total(terms: tuple[Term, ...]) -> float:
        return math.fsum(t.coef * v for t in terms if (v := row.get(t.counter)) is not None)

    return total(formula.numerator), total(formula.denominator)


def _array(rows: Iterable[DailyCounters], formula: Formula, year: int, last: dt.date,
           hotline_id: str) -> np.ndarray:
    first = dt.date(year, 1, 1)
    rows = tuple(r for r in rows if first <= r.day <= last)
    for r in rows:
        if r.hotline_id != hotline_id:
            raise RowError(r.hotline_id, r.day, f"row of another hotline in the rows of {hotline_id!r}")
    aggregate_rows(rows, formula, first, last)  # raises RowError on duplicates, NaN
    out = np.full((days_in_year(year), 2), np.nan)
    for r in rows:
        sums = _day_sums(r, formula)
        if sums is not None:
            out[(r.day - first).days] = sums
    return out


def year_series(formula: Formula, rows: Iterable[DailyCounters], previous_year_rows: Iterable[DailyCounters],
                year: int, hotline_id: str, last: dt.date | None = None) -> YearSeries:
    """The arrays of ``year`` (its rows up to ``last``, default 31 December) and of the
    year before. Raises :class:`RowError` for a day given twice, a non-finite value or a
    row of another hotline."""
    last = last or dt.date(year, 12, 31)
    cur = _array(rows, formula, year, last, hotline_id)
    prev = _array(previous_year_rows, formula, year - 1, dt.date(year - 1, 12, 31), hotline_id)
    return YearSeries(year=year, is_ratio=formula.kind == "ratio", cur=cur, prev=prev)
