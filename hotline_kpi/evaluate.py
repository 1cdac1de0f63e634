"""Evaluation: daily counters + targets + an as-of date -> results per indicator and window.

Everything here is pure: no session, no clock, no settings object, no I/O. The sums come
from :mod:`hotline_kpi.aggregate` (or the same :class:`~hotline_kpi.domain.Aggregate`
values computed by the store in SQL); the rules that both must follow
(docs/kpi-definitions.md):

- A window's sums are taken over the days on which every *required* counter of the
  formula is known. A missing day is a gap, never a zero.
- A rate is the ratio of the summed counts over the window, never an average of daily
  rates (docs/kpi-definitions.md).
- A window with no day of data, or a ratio whose summed denominator is 0, has no value
  and the status ``no_data`` (some vendors report 100% for an empty window; we do not).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable, Mapping

from hotline_kpi.aggregate import RowError, check_row, rows_by_day
from hotline_kpi.catalogue import Catalogue, Indicator
from hotline_kpi.domain import (
    COUNTERS,
    WINDOWS,
    Aggregate,
    Comparator,
    DailyCounters,
    Status,
    Window,
    days_in_year,
    window_bounds,
)
from hotline_kpi.formulas import Formula, FormulaSettings, build_formula
from hotline_kpi.i18n import M_

DateRange = tuple[dt.date, dt.date]


class AsOfOutsideCatalogue(ValueError):
    """The as-of date lies outside the catalogue's year: its targets do not apply."""

    def __init__(self, as_of: dt.date, catalogue_year: int, source: str = ""):
        self.as_of = as_of
        self.catalogue_year = catalogue_year
        if source:
            super().__init__(M_("as-of date {day} is outside the {year} target catalogue ({file})", day=as_of.isoformat(),
                                year=catalogue_year, file=source))
        else:
            super().__init__(M_("as-of date {day} is outside the {year} target catalogue", day=as_of.isoformat(),
                                year=catalogue_year))


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class WindowResult:
    """One indicator over one window ending at the as-of date."""

    indicator_id: str
    window: Window
    start: dt.date
    end: dt.date
    #: The ratio of the sums, or the plain sum of a total; ``None`` = no data.
    value: float | None
    #: What ``value`` is compared against in this window (pro-rated for annual totals).
    target: float | None
    #: The catalogue's threshold (for an annual total: the full-year figure).
    annual_target: float | None
    comparator: Comparator | None
    status: Status
    numerator: float
    #: ``None`` for a total formula.
    denominator: float | None
    days_with_data: int
    days_in_window: int
    unit: str
    #: Annual totals only: the pro-rated target this window should have reached.
    pace: float | None = None
    #: Annual totals only: how far the value is below ``pace`` (0 when at or above it).
    shortfall: float | None = None


# Whether a formula is a total or a ratio never depends on the settings, so defaults
# are enough when the caller has not passed the formula it aggregated with.
_DEFAULT_SETTINGS = FormulaSettings()


def evaluate_window(
    indicator: Indicator,
    window: Window,
    agg: Aggregate | None,
    as_of: dt.date,
    *,
    formula: Formula | None = None,
) -> WindowResult:
    """Value and status of ``indicator`` over ``window`` from its aggregate.

    ``agg`` ``None`` (the store had nothing) is the same as an aggregate with no days.
    Raises ``ValueError`` if ``agg`` covers a different number of days than the window.
    """
    if indicator.kind != "quantitative" or indicator.formula is None:
        raise ValueError(f"indicator {indicator.id!r} is qualitative; only quantitative ones are evaluated")
    formula = formula or build_formula(indicator.formula, _DEFAULT_SETTINGS)
    start, end = window_bounds(window, as_of)
    days_in_window = (end - start).days + 1
    is_ratio = formula.kind == "ratio"
    if agg is None:
        agg = Aggregate(0, 0 if is_ratio else None, 0, days_in_window)
    if agg.days_in_window != days_in_window:
        raise ValueError(
            f"{indicator.id} {window.value}: aggregate covers {agg.days_in_window} days, "
            f"the window {start}..{end} has {days_in_window}"
        )
    if is_ratio and agg.denominator is None:
        raise ValueError(f"{indicator.id} {window.value}: a ratio aggregate needs a denominator")

    value: float | None
    if agg.days_with_data == 0:
        value = None
    elif is_ratio:
        assert agg.denominator is not None
        value = agg.numerator / agg.denominator if agg.denominator != 0 else None
    else:
        value = float(agg.numerator)

    annual_target = indicator.threshold
    target = annual_target
    pace = shortfall = None
    if indicator.aggregation == "annual_total" and annual_target is not None:
        # Pro-rated by calendar days of the as-of year, so year_to_date on 31 December is
        # the full target and a leap year spreads it over 366 days.
        target = pace = annual_target * days_in_window / days_in_year(as_of.year)
        shortfall = None if value is None else max(0.0, pace - value)

    if value is None:
        status = Status.NO_DATA
    elif indicator.tracked_only:
        status = Status.TRACKED
    else:
        assert indicator.comparator is not None and target is not None  # catalogue validation
        status = Status.MET if indicator.comparator.holds(value, target) else Status.BREACHED

    return WindowResult(
        indicator_id=indicator.id,
        window=window,
        start=start,
        end=end,
        value=value,
        target=target,
        annual_target=annual_target,
        comparator=indicator.comparator,
        status=status,
        numerator=agg.numerator,
        denominator=agg.denominator,
        days_with_data=agg.days_with_data,
        days_in_window=days_in_window,
        unit=indicator.unit,
        pace=pace,
        shortfall=shortfall,
    )


def evaluate(
    catalogue: Catalogue,
    settings: FormulaSettings,
    aggregates: Mapping[tuple[str, Window], Aggregate],
    as_of: dt.date,
) -> tuple[WindowResult, ...]:
    """Results for every quantitative indicator (catalogue order) and window (WINDOWS order).

    A missing aggregate gives a ``no_data`` result. Raises :class:`AsOfOutsideCatalogue`
    if ``as_of`` is not in the catalogue's year.
    """
    if not catalogue.covers(as_of):
        raise AsOfOutsideCatalogue(as_of, catalogue.year, catalogue.source_path)
    results: list[WindowResult] = []
    for ind in catalogue.quantitative:
        formula = ind.formula_for(settings)
        for window in WINDOWS:
            results.append(evaluate_window(ind, window, aggregates.get((ind.id, window)), as_of, formula=formula))
    return tuple(results)


# --------------------------------------------------------------------------- completeness


@dataclass(frozen=True)
class CounterCompleteness:
    counter: str
    days_present: int
    #: Runs of consecutive days (first, last) on which the counter was unknown.
    missing: tuple[DateRange, ...]


@dataclass(frozen=True)
class Completeness:
    """Which days of the year to date have data, overall and per counter."""

    as_of: dt.date
    #: 1 January of the as-of year.
    start: dt.date
    days_elapsed: int
    #: Days with at least one known counter.
    days_with_data: int
    ratio: float
    #: Runs of days with no known counter at all.
    missing: tuple[DateRange, ...]
    counters: tuple[CounterCompleteness, ...]

    def counter(self, name: str) -> CounterCompleteness:
        for c in self.counters:
            if c.counter == name:
                return c
        raise KeyError(name)


def _runs(days: Iterable[dt.date]) -> tuple[DateRange, ...]:
    """Sorted days -> runs of consecutive days as (first, last)."""
    runs: list[DateRange] = []
    for day in days:
        if runs and runs[-1][1] + dt.timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return tuple(runs)


def completeness(
    rows: Iterable[DailyCounters], as_of: dt.date, counters: Iterable[str] = COUNTERS
) -> Completeness:
    """Data completeness from 1 January of ``as_of``'s year to ``as_of`` (inclusive)."""
    counters = tuple(counters)
    start = dt.date(as_of.year, 1, 1)
    by_day = rows_by_day(rows, start, as_of)
    for row in by_day.values():
        check_row(row, counters)
    elapsed = [start + dt.timedelta(days=i) for i in range((as_of - start).days + 1)]

    def known(day: dt.date, name: str) -> bool:
        row = by_day.get(day)
        return row is not None and row.get(name) is not None

    any_data = [d for d in elapsed if any(known(d, c) for c in counters)]
    have = set(any_data)
    per_counter = []
    for name in counters:
        present = [d for d in elapsed if known(d, name)]
        absent = _runs(d for d in elapsed if not known(d, name))
        per_counter.append(CounterCompleteness(name, len(present), absent))
    return Completeness(
        as_of=as_of,
        start=start,
        days_elapsed=len(elapsed),
        days_with_data=len(any_data),
        ratio=len(any_data) / len(elapsed),
        missing=_runs(d for d in elapsed if d not in have),
        counters=tuple(per_counter),
    )


# --------------------------------------------------------------------------- scoreboard


@dataclass(frozen=True)
class Scoreboard:
    hotline_id: str
    as_of: dt.date
    #: The last day up to ``as_of`` with any known counter; ``None`` if there is none.
    data_date: dt.date | None
    results: tuple[WindowResult, ...]
    completeness: Completeness
    settings: FormulaSettings


def build_scoreboard(
    catalogue: Catalogue,
    settings: FormulaSettings,
    aggregates: Mapping[tuple[str, Window], Aggregate],
    rows_for_completeness: Iterable[DailyCounters],
    as_of: dt.date,
    hotline_id: str,
) -> Scoreboard:
    """Results, completeness and data date of one hotline as of one date.

    ``rows_for_completeness`` must hold the hotline's rows of the year to date (earlier
    rows only move ``data_date``); a row of another hotline raises :class:`RowError`.
    """
    if catalogue.hotline.id != hotline_id:
        raise ValueError(f"catalogue {catalogue.source_path or ''} is for {catalogue.hotline.id!r}, not {hotline_id!r}")
    rows = tuple(rows_for_completeness)
    for row in rows:
        if row.hotline_id != hotline_id:
            raise RowError(row.hotline_id, row.day, f"row of another hotline in the rows of {hotline_id!r}")
    results = evaluate(catalogue, settings, aggregates, as_of)
    with_data = [r.day for r in rows if r.day <= as_of and any(r.get(c) is not None for c in COUNTERS)]
    return Scoreboard(
        hotline_id=hotline_id,
        as_of=as_of,
        data_date=max(with_data, default=None),
        results=results,
        completeness=completeness(rows, as_of),
        settings=settings,
    )
