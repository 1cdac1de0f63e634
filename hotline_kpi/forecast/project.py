"""The projection of each annual target: year to date, forecast of the open days, error
budget, required pace, outlook and burn rates (docs/forecast.md sections 3-4). Pure."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Iterable, Mapping

import numpy as np

from hotline_kpi.catalogue import Catalogue, Indicator
from hotline_kpi.domain import Comparator, DailyCounters, Status
from hotline_kpi.evaluate import AsOfOutsideCatalogue
from hotline_kpi.forecast.calibration import calibrate
from hotline_kpi.forecast.drift import OpenDaysForecast, forecast_open_days
from hotline_kpi.forecast.levels import DRIFT_SCALE
from hotline_kpi.forecast.series import YearSeries, year_series
from hotline_kpi.formulas import Formula, FormulaSettings

#: Fewer days with data in the year than this: too little to say (no projection).
MIN_DAYS = 14

#: What the error budget of each formula is counted in (docs/forecast.md section 3).
BUDGET_UNITS: Mapping[str, str] = {
    "requests_accepted": "requests_needed",
    "connection_rate": "unanswered_calls",
    "first_contact_resolution_rate": "unresolved_requests",
    "operator_fault_return_rate": "operator_fault_returns",
    "average_answer_seconds": "wait_seconds",
    "satisfaction_rate": "dissatisfied_responses",
    "answered_within_15s_rate": "calls_not_answered_within_15s",
    "abandon_rate": "abandoned_calls",
}


class PaceStatus(StrEnum):
    """Whether the rest of the year can still make the annual target, and how easily."""

    #: The projected year-end value meets the target.
    ON_TRACK = "on_track"
    #: The projected year-end value misses the target, but some pace would still meet it.
    AT_RISK = "at_risk"
    #: No value the rest of the year could take meets the target: it is lost.
    CANNOT_BE_MET = "cannot_be_met"
    #: No value the rest of the year could take loses the target.
    SECURED = "secured"
    #: Too few days with data to project (fewer than ``min_days``).
    INSUFFICIENT_DATA = "insufficient_data"


@dataclass(frozen=True)
class Projection:
    """Year-end outlook of one targeted indicator as of one date (docs/forecast.md section 4)."""

    indicator_id: str
    as_of: dt.date
    #: ``ratio``, ``seconds`` or ``requests`` (the catalogue's unit of the indicator).
    unit: str
    comparator: Comparator
    #: The annual target (for a volume: the full-year total).
    threshold: float
    #: The indicator over 1 Jan .. as-of, days with data only (the scoreboard's year_to_date).
    ytd_value: float | None
    #: Year to date plus the forecast of every day still open; ``None`` when too little data.
    projected_value: float | None
    interval_low: float | None
    interval_high: float | None
    interval_level: float
    #: ``met`` / ``breached`` for the projected value; ``no_data`` without a projection.
    projected_status: Status
    #: Error units the open days can still absorb (volume: requests still needed); a
    #: negative number is the overdraft. ``None`` without a forecast.
    budget_remaining: float | None
    budget_unit: str
    #: The value the open days must average to land on the target; ``None`` when the
    #: target is secured, cannot be met, or no day is open.
    required_value: float | None
    #: ``ratio``, ``seconds`` or ``requests_per_day``.
    required_unit: str
    pace_status: PaceStatus
    #: Error rate of the last 7 / 30 days over the even-spend rate (1.0 = the budget runs
    #: out exactly on 31 December); ``None`` for a volume, without data or budget.
    burn_rate_7d: float | None
    burn_rate_30d: float | None
    #: Days of the year with data for the indicator (up to the as-of date).
    days_with_data: int
    #: Days forecast: the days after the as-of date plus past days without data.
    days_forecast: int
    #: Forecast sums over the forecast days (``forecast_denominator`` is ``None`` for a total).
    forecast_numerator: float | None
    forecast_denominator: float | None
    note_zh: str
    note_en: str
    #: Probability, under the same model as the interval, that the year ends missing the
    #: target (0 when secured, 1 when it cannot be met); ``None`` without a projection.
    miss_probability: float | None = None


def _classify(comparator: Comparator, threshold: float, worst: float, best: float) -> PaceStatus | None:
    """Secured / cannot be met from the year-end values of the worst and best rest of year.

    Decided by comparing values, as the scoreboard decides a status, so a target lost by
    exactly 7% (``< 7%``) is lost here too, whatever the rounding of a budget.
    """
    if comparator.holds(worst, threshold):
        return PaceStatus.SECURED
    if not comparator.holds(best, threshold):
        return PaceStatus.CANNOT_BE_MET
    return None


def _notes(
    *, m: int, min_days: int, open_n: int, gaps: int, forecast: OpenDaysForecast | None,
    status: PaceStatus,
) -> tuple[str, str]:
    zh: list[str] = []
    en: list[str] = []
    if open_n == 0:
        zh.append("全年数据已齐，数值为最终值。")
        en.append("The year is complete: the value is final.")
    elif status is PaceStatus.INSUFFICIENT_DATA:
        zh.append(f"本年仅有{m}天数据（少于{min_days}天），尚不足以预测全年。")
        en.append(f"Only {m} day(s) with data this year (fewer than {min_days}): too little to project the year.")
    if forecast is not None and open_n > 0:
        if forecast.no_previous_year:
            zh.append("无上年数据：尚未出现的月份按已有月份的平均水平预测，区间据已有月份之间的差异放宽。")
            en.append("No previous-year data: months not yet seen are forecast at the average of the months seen, "
                      "and the interval is as wide as the months seen differ.")
        if forecast.weeks_only:
            zh.append("本年数据不足两个月：月与月之间的漂移尚无法估计，区间按预设的漂移幅度给出。")
            en.append("Less than two months of data this year: the drift from month to month cannot be "
                      "measured yet, and the interval rests on a preset drift.")
        if forecast.unknown_years:
            ys = "、".join(map(str, forecast.unknown_years))
            zh.append(f"节假日日历未收录{ys}年，这些日期只按星期几预测（不含节假日和调休）。")
            en.append(f"The holiday calendar does not cover {', '.join(map(str, forecast.unknown_years))}: "
                      "those days are forecast by weekday only (no holidays or make-up working days).")
    if gaps:
        zh.append(f"截至评估日有{gaps}天缺数，按预测补足，不按零计。")
        en.append(f"{gaps} past day(s) without data are forecast, not counted as zero.")
    if status is PaceStatus.SECURED and open_n > 0:
        zh.append("目标已确保：余下各天无论表现如何都不会失去目标。")
        en.append("Secured: nothing the rest of the year does can lose the target.")
    elif status is PaceStatus.CANNOT_BE_MET and open_n > 0:
        zh.append("目标已无法达成：余下各天即使全部达标也追不回。")
        en.append("Cannot be met: even a perfect rest of the year cannot reach the target.")
    return "".join(zh), " ".join(en)


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class _YearSoFar:
    """The as-of year up to the as-of date, and the days of the year still open."""

    #: This year's (numerator, denominator) per day, NaN without data and after the as-of date.
    cur: np.ndarray
    prev: np.ndarray
    first: dt.date
    #: Exact year-to-date sums (``den`` 0 for a total) and the days they cover.
    num: float
    den: float
    days_with_data: int
    #: The year-to-date value (``None`` without data or denominator).
    value: float | None
    #: Days of the year without data: the days after the as-of date and past gaps.
    open_days: int
    #: Past days without data (up to the as-of date).
    gaps: int

    def day(self, d: dt.date) -> tuple[float, float] | None:
        """The sums of day ``d`` of this year (up to the as-of date) or the year before."""
        arr = self.cur if d.year == self.first.year else self.prev
        i = (d - dt.date(d.year, 1, 1)).days
        if not 0 <= i < len(arr) or math.isnan(arr[i, 0]):
            return None
        return float(arr[i, 0]), float(arr[i, 1])


def _year_so_far(series: YearSeries, as_of: dt.date) -> _YearSoFar:
    first = dt.date(series.year, 1, 1)
    k = (as_of - first).days + 1
    cur = series.cur.copy()
    cur[k:] = np.nan
    seen = ~np.isnan(cur[:, 0])
    m = int(seen.sum())
    num = math.fsum(cur[seen, 0])
    den = math.fsum(cur[seen, 1]) if series.is_ratio else 0.0
    if m == 0 or (series.is_ratio and den == 0):
        value = None
    else:
        value = num / den if series.is_ratio else num
    return _YearSoFar(cur, series.prev, first, num, den, m, value, len(cur) - m, int(k - m))


@dataclass(frozen=True)
class _YearEnd:
    """The forecast sums of the open days and the year-end value with its interval."""

    #: Forecast sums of the open days (a ratio's numerator at the clamped rate).
    num: float
    den: float
    projected: float
    low: float
    high: float

    def value(self, y: _YearSoFar, is_ratio: bool, rate: float) -> float:
        """The year-end value if the open days averaged ``rate`` (a total: per day);
        infinity (no upper bound) stays infinite."""
        if not math.isfinite(rate):
            return rate
        if is_ratio:
            return (y.num + rate * self.den) / (y.den + self.den)
        return y.num + rate * y.open_days


def _year_end(y: _YearSoFar, fc: OpenDaysForecast | None, is_ratio: bool, lo: float, hi: float,
              level: float) -> _YearEnd | None:
    """The projected year-end value (the open days at the median of their level) and
    its interval; ``None`` when a ratio has no denominator at all."""
    if fc is None:
        if is_ratio and y.den <= 0:
            return None
        return _YearEnd(0.0, 0.0, y.value or 0.0, y.value or 0.0, y.value or 0.0)
    mid = fc.error.median()
    e_lo, e_hi = fc.error.bounds(level)
    if not is_ratio:
        s_num = fc.rate(mid)
        return _YearEnd(s_num, s_num, y.num + max(0.0, s_num), y.num + max(0.0, fc.rate(e_lo)),
                        y.num + max(0.0, fc.rate(e_hi)))
    s_den = fc.denominator
    total_den = y.den + s_den
    if total_den <= 0:
        return None

    def clamp(r: float) -> float:
        return min(max(r, lo), hi)

    def final(r: float) -> float:
        return (y.num + clamp(r) * s_den) / total_den

    rate = clamp(fc.rate(mid)) if s_den > 0 else 0.0
    return _YearEnd(rate * s_den, s_den, final(rate), final(fc.rate(e_lo)), final(fc.rate(e_hi)))


def _budget_and_pace(y: _YearSoFar, end: _YearEnd, is_ratio: bool, cmp: Comparator, t: float, lo: float,
                     hi: float) -> tuple[float, float | None, PaceStatus]:
    """(error budget left, the average the open days require -- ``None`` when no day is
    open --, the outlook)."""
    n = y.open_days
    if is_ratio:
        # The numerator the rest of the year must add to land exactly on the target.
        needed = t * (y.den + end.den) - y.num
        budget = (end.den - needed) if cmp.higher_is_better else needed
        required = needed / end.den if end.den > 0 else None
    else:
        needed = t - y.num
        budget = max(0.0, needed) if cmp.higher_is_better else needed
        required = needed / n if n > 0 else None
    if required is None:  # nothing left to count: decided by the year to date
        assert y.value is not None
        return budget, None, PaceStatus.SECURED if cmp.holds(y.value, t) else PaceStatus.CANNOT_BE_MET
    worst, best = (lo, hi) if cmp.higher_is_better else (hi, lo)
    pace = _classify(cmp, t, end.value(y, is_ratio, worst), end.value(y, is_ratio, best)) or (
        PaceStatus.ON_TRACK if cmp.holds(end.projected, t) else PaceStatus.AT_RISK)
    return budget, required, pace


def _miss_probability(y: _YearSoFar, end: _YearEnd, fc: OpenDaysForecast | None, is_ratio: bool,
                      cmp: Comparator, t: float, pace: PaceStatus) -> float:
    """P(the year ends missing the target) under the forecast's error model
    (docs/forecast.md section 3.5). The year-end value rises with the open days' rate (a
    total: their volume), so it misses exactly when that rate falls short of (or, lower
    is better, exceeds) the one that lands on the target."""
    if pace is PaceStatus.SECURED:
        return 0.0
    if pace is PaceStatus.CANNOT_BE_MET or fc is None:
        return 1.0 if pace is PaceStatus.CANNOT_BE_MET else 0.0
    if is_ratio:
        if end.den <= 0:
            return 0.0 if cmp.holds(end.projected, t) else 1.0
        gap = (t * (y.den + end.den) - y.num) / end.den - fc.base  # required rate - the profile's
    else:
        if fc.base <= 0:
            return 0.0 if cmp.holds(end.projected, t) else 1.0
        gap = (t - y.num) / fc.base - 1  # the relative volume that lands on the target
    below = fc.error.below(gap)
    return min(1.0, max(0.0, below if cmp.higher_is_better else 1.0 - below))


def _burn_rates(y: _YearSoFar, as_of: dt.date, cmp: Comparator, allowance: float) -> dict[int, float | None]:
    """The error rate of the last 7 and 30 days over ``allowance``, the rate that spends
    the budget evenly (error units per unit of denominator)."""
    burn: dict[int, float | None] = {7: None, 30: None}
    for k in burn:
        errors = volume = 0.0
        for i in range(k):
            d = as_of - dt.timedelta(days=i)
            sums = y.day(d)
            if sums is None:
                continue
            errors += (sums[1] - sums[0]) if cmp.higher_is_better else sums[0]
            volume += sums[1]
        if volume > 0:
            burn[k] = (errors / volume) / allowance
    return burn


#: The figures of a projection that could not be made (too few days, no denominator).
_NOT_PROJECTED: Mapping[str, Any] = dict(
    projected_value=None, interval_low=None, interval_high=None, projected_status=Status.NO_DATA,
    budget_remaining=None, required_value=None, burn_rate_7d=None, burn_rate_30d=None, forecast_numerator=None,
    forecast_denominator=None, pace_status=PaceStatus.INSUFFICIENT_DATA)


def project_indicator(
    indicator: Indicator,
    formula: Formula,
    rows: Iterable[DailyCounters],
    as_of: dt.date,
    hotline_id: str,
    previous_year_rows: Iterable[DailyCounters] = (),
    level: float = 0.8,
    min_days: int = MIN_DAYS,
) -> Projection:
    """The projection of one targeted quantitative indicator (see :func:`project`)."""
    series = year_series(formula, rows, previous_year_rows, as_of.year, hotline_id, last=as_of)
    return project_series_indicator(indicator, formula, series, as_of, level, min_days)


def project_series_indicator(
    indicator: Indicator,
    formula: Formula,
    series: YearSeries,
    as_of: dt.date,
    level: float = 0.8,
    min_days: int = MIN_DAYS,
) -> Projection:
    """The projection of one indicator from its :class:`YearSeries` (days after ``as_of``
    ignored): the daily sums are extracted once and projected at any date of the year."""
    if not indicator.targeted or indicator.comparator is None or indicator.threshold is None:
        raise ValueError(f"indicator {indicator.id!r} has no target to project")
    if not 0 < level < 1:
        raise ValueError(f"interval level {level!r} must lie strictly between 0 and 1")
    t = float(indicator.threshold)
    cmp = indicator.comparator
    is_ratio = formula.kind == "ratio"
    y = _year_so_far(series, as_of)
    n = y.open_days
    lo, hi = 0.0, (1.0 if indicator.unit == "ratio" and is_ratio else math.inf)

    def result(fc: OpenDaysForecast | None = None, **kw: Any) -> Projection:
        zh, en = _notes(m=y.days_with_data, min_days=min_days, open_n=n, gaps=y.gaps, forecast=fc,
                        status=kw["pace_status"])
        return Projection(
            indicator_id=indicator.id, as_of=as_of, unit=indicator.unit, comparator=cmp, threshold=t,
            ytd_value=y.value, interval_level=level, budget_unit=BUDGET_UNITS.get(formula.id, "errors"),
            required_unit=("requests_per_day" if not is_ratio else
                           "ratio" if indicator.unit == "ratio" else indicator.unit),
            days_with_data=y.days_with_data, days_forecast=n, note_zh=zh, note_en=en, **kw,
        )

    if (n > 0 and y.days_with_data < min_days) or (n == 0 and y.value is None):
        return result(**_NOT_PROJECTED)
    fc = calibrate(forecast_open_days(y.cur, y.prev, as_of.year, is_ratio, share=indicator.unit == "ratio",
                                      drift_scale=DRIFT_SCALE.get(formula.id, 1.0))[0], formula.id, as_of) \
        if n > 0 else None
    end = _year_end(y, fc, is_ratio, lo, hi, level)
    if end is None:
        return result(fc, **_NOT_PROJECTED)
    budget, required, pace = _budget_and_pace(y, end, is_ratio, cmp, t, lo, hi)
    burn: dict[int, float | None] = {7: None, 30: None}
    if is_ratio and required is not None and end.den > 0 and budget / end.den > 0:
        burn = _burn_rates(y, as_of, cmp, budget / end.den)
    shown_required = required if pace in (PaceStatus.ON_TRACK, PaceStatus.AT_RISK) else None
    return result(
        fc, projected_value=end.projected, interval_low=min(end.low, end.high),
        interval_high=max(end.low, end.high),
        projected_status=Status.MET if cmp.holds(end.projected, t) else Status.BREACHED,
        budget_remaining=budget, required_value=shown_required, pace_status=pace,
        burn_rate_7d=burn[7], burn_rate_30d=burn[30],
        forecast_numerator=end.num, forecast_denominator=(end.den if is_ratio else None),
        miss_probability=_miss_probability(y, end, fc, is_ratio, cmp, t, pace),
    )


def prepare(catalogue: Catalogue, settings: FormulaSettings, rows: Iterable[DailyCounters],
            previous_year_rows: Iterable[DailyCounters] = (), last: dt.date | None = None
            ) -> dict[str, YearSeries]:
    """The :class:`YearSeries` of every targeted quantitative indicator (rows up to
    ``last``, default the whole catalogue year), for :func:`project_series`."""
    rows = tuple(rows)
    previous_year_rows = tuple(previous_year_rows)
    return {ind.id: year_series(ind.formula_for(settings), rows, previous_year_rows, catalogue.year,
                                catalogue.hotline.id, last)
            for ind in catalogue.quantitative if ind.targeted}


def project_series(catalogue: Catalogue, settings: FormulaSettings, prepared: Mapping[str, YearSeries],
                   as_of: dt.date, level: float = 0.8, *, min_days: int = MIN_DAYS) -> tuple[Projection, ...]:
    """:func:`project` on the output of :func:`prepare` (days after ``as_of`` ignored)."""
    if not catalogue.covers(as_of):
        raise AsOfOutsideCatalogue(as_of, catalogue.year, catalogue.source_path)
    return tuple(project_series_indicator(ind, ind.formula_for(settings), prepared[ind.id], as_of, level, min_days)
                 for ind in catalogue.quantitative if ind.targeted)


def project(
    catalogue: Catalogue,
    settings: FormulaSettings,
    rows: Iterable[DailyCounters],
    as_of: dt.date,
    previous_year_rows: Iterable[DailyCounters] = (),
    level: float = 0.8,
    *,
    min_days: int = MIN_DAYS,
) -> tuple[Projection, ...]:
    """Projections of every targeted quantitative indicator of ``catalogue``, in its order.

    ``rows``: the hotline's daily rows of the as-of year (days after ``as_of`` and of
    other years are ignored); ``previous_year_rows``: its rows of the year before, if
    any (other days ignored). ``level``: the interval's coverage, strictly between 0 and
    1. Raises :class:`~hotline_kpi.evaluate.AsOfOutsideCatalogue` when ``as_of`` is not
    in the catalogue's year, :class:`~hotline_kpi.aggregate.RowError` for a day given
    twice, a non-finite value or a row of another hotline, ``ValueError`` for a bad level.
    """
    if not catalogue.covers(as_of):
        raise AsOfOutsideCatalogue(as_of, catalogue.year, catalogue.source_path)
    if not 0 < level < 1:
        raise ValueError(f"interval level {level!r} must lie strictly between 0 and 1")
    return project_series(catalogue, settings, prepare(catalogue, settings, rows, previous_year_rows, as_of),
                          as_of, level, min_days=min_days)
