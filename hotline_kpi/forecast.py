"""Year-end projection, remaining error budget, required pace and burn rate of every target.

An annual target is a calendar target: by mid-year the office needs to know whether the
year will make it and what the rest of the year must achieve (issue #6). Everything here
is pure: daily rows + targets + an as-of date -> :class:`Projection` values; no session,
no clock, no settings object, no I/O. The method and every field are documented in
docs/forecast.md.

The model, in short (docs/forecast.md section 2):

- the year-to-date sums are exact (the same :func:`~hotline_kpi.aggregate.aggregate_rows`
  the scoreboard uses);
- every day of the year without data for the indicator -- the days after the as-of date
  *and* past days missing from the rows -- is forecast, never counted as zero;
- a day's numerator and denominator sums are forecast separately with a multiplicative
  profile ``level(year) x month factor x day-type factor``, where the day type is the
  weekday, a named public holiday or a make-up working day (调休) from the
  ``chinesecalendar`` package (the State Council's yearly notices); the month shape
  comes from the previous year where given (flat without it), the level from this year;
- the interval comes from how far this year's weeks and months have strayed from the
  profile, treated as an AR(1) drift: the error of the open days' mean against the mean
  of the days the level was fitted on, with a Student-t quantile for the few blocks seen.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist
from typing import Any, Callable, Iterable, Mapping, Sequence

import chinese_calendar

from hotline_kpi.catalogue import Catalogue, Indicator
from hotline_kpi.domain import Aggregate, Comparator, DailyCounters, Status, days_in_year
from hotline_kpi.aggregate import RowError, aggregate_rows
from hotline_kpi.evaluate import AsOfOutsideCatalogue
from hotline_kpi.formulas import Formula, FormulaSettings, Term

#: Fewer days with data in the year than this: too little to say (no projection).
MIN_DAYS = 14
#: Backfitting of the profile stops when no factor moves by more than this (relative),
#: or after so many rounds.
_TOLERANCE = 1e-10
_MAX_ROUNDS = 100

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


# --------------------------------------------------------------------------- calendar


@functools.lru_cache(maxsize=8192)
def day_type(day: dt.date) -> tuple[str, bool]:
    """The profile category of ``day`` and whether the holiday calendar knows its year.

    ``holiday:<name>`` for a day of a public-holiday break (weekend days inside the break
    included), ``makeup`` for a weekend day made a working day (调休), otherwise
    ``wd0`` (Monday) .. ``wd6`` (Sunday). A year the calendar does not know falls back to
    the plain weekday.
    """
    try:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:  # the package covers the years of the notices it ships
        return f"wd{day.weekday()}", False
    if on_holiday and name is not None:
        return f"holiday:{name}", True
    if not on_holiday and day.weekday() >= 5:
        return "makeup", True
    return f"wd{day.weekday()}", True


def _fallback_chain(category: str) -> tuple[str, ...]:
    """Categories tried in turn when ``category`` was never observed."""
    if category.startswith("holiday:"):
        return (category, "holiday", "weekend")
    if category == "makeup":
        return ("makeup", "workweek")
    return (category,)


# --------------------------------------------------------------------------- profile


@dataclass(frozen=True)
class _Profile:
    """``level x month[m] x kind[c]`` for the current year."""

    level: float
    month: Mapping[int, float]
    kind: Mapping[str, float]

    def predict(self, day: dt.date) -> float:
        cat = day_type(day)[0]
        factor = 1.0
        for c in _fallback_chain(cat):
            if c in self.kind:
                factor = self.kind[c]
                break
        return self.level * self.month.get(day.month, 1.0) * factor


def _fit(points: Sequence[tuple[dt.date, float]], year: int) -> _Profile:
    """Fit the profile by backfitting on grouped sums (ratio estimators per factor).

    Each factor is ``sum(y) / sum(fitted without it)`` over its days, so a month with a
    holiday is not mistaken for a slow month. Levels are per year; the day-type factors
    are fitted on both years; the month factors on the previous year only (this year's
    months seen so far would otherwise pull them towards themselves, and their
    deviation from last year's shape is what the interval measures). Without a
    previous year the month profile is flat.
    """
    groups: dict[tuple[bool, int, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for day, y in points:
        g = groups[(day.year == year, day.month, day_type(day)[0])]
        g[0] += y
        g[1] += 1
    level = {True: 1.0, False: 1.0}
    month: dict[int, float] = {m: 1.0 for (cur, m, _) in groups if not cur}
    kind: dict[str, float] = {c: 1.0 for (_, _, c) in groups}

    items = [(cur, m, c, s, n) for (cur, m, c), (s, n) in groups.items()]

    def ratio(key_of, fitted_without, only_previous: bool = False) -> dict:
        num: dict = defaultdict(float)
        den: dict = defaultdict(float)
        for cur, m, c, s, n in items:
            if only_previous and cur:
                continue
            k = key_of(cur, m, c)
            num[k] += s
            den[k] += n * fitted_without(cur, m, c)
        return {k: num[k] / den[k] for k in num if den[k] > 0}

    def m_of(m: int) -> float:
        return month.get(m, 1.0)

    for _ in range(_MAX_ROUNDS):
        before = (dict(level), dict(month), dict(kind))
        level.update(ratio(lambda cur, m, c: cur, lambda cur, m, c: m_of(m) * kind[c]))
        if month:
            month.update(ratio(lambda cur, m, c: m, lambda cur, m, c: level[cur] * kind[c], only_previous=True))
            mean_m = sum(month.values()) / len(month)
            if mean_m > 0:
                month = {m: f / mean_m for m, f in month.items()}
        kind.update(ratio(lambda cur, m, c: c, lambda cur, m, c: level[cur] * m_of(m)))
        weekdays = [f for c, f in kind.items() if c.startswith("wd")]
        mean_w = sum(weekdays) / len(weekdays) if weekdays else 0.0
        if mean_w > 0:
            kind = {c: f / mean_w for c, f in kind.items()}
        if all(abs(new[k] - old[k]) <= _TOLERANCE * abs(old[k]) for new, old in zip((level, month, kind), before)
               for k in old):
            break
    level.update(ratio(lambda cur, m, c: cur, lambda cur, m, c: m_of(m) * kind[c]))

    # Pooled factors for day types never seen (a holiday not yet reached this year).
    pooled = ratio(
        lambda cur, m, c: "holiday" if c.startswith("holiday:") else (
            "weekend" if c in ("wd5", "wd6") else ("workweek" if c.startswith("wd") else c)),
        lambda cur, m, c: level[cur] * m_of(m),
    )
    for name in ("holiday", "weekend", "workweek"):
        if name in pooled:
            kind.setdefault(name, pooled[name])
    kind.setdefault("holiday", kind.get("weekend", 1.0))
    return _Profile(level=level[True], month=month, kind=kind)


# --------------------------------------------------------------------------- statistics


def _t_quantile(level: float, df: int) -> float:
    """``q`` with ``P(|T| <= q) = level`` for Student's t with ``df`` degrees of freedom.

    Closed forms of the t distribution for whole ``df`` (Abramowitz & Stegun 26.7.3-4),
    inverted by bisection; the normal quantile beyond 200 degrees of freedom.
    """
    if df > 200:
        return NormalDist().inv_cdf(0.5 + level / 2)

    def central(q: float) -> float:
        theta = math.atan(q / math.sqrt(df))
        c2 = math.cos(theta) ** 2
        if df % 2 == 1:
            total, term = 0.0, math.cos(theta)
            for k in range(1, (df - 1) // 2 + 1):
                total += term
                term *= c2 * (2 * k) / (2 * k + 1)
            return 2 / math.pi * (theta + math.sin(theta) * total)
        total, term = 0.0, 1.0
        for k in range(1, df // 2 + 1):
            total += term
            term *= c2 * (2 * k - 1) / (2 * k)
        return math.sin(theta) * total

    lo, hi = 0.0, 1.0
    while central(hi) < level:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if central(mid) < level else (lo, mid)
    return (lo + hi) / 2


# --------------------------------------------------------------------------- daily sums


def _day_sums(row: DailyCounters, formula: Formula) -> tuple[float, float] | None:
    """(numerator, denominator) of one day, ``None`` when a required counter is unknown.

    The same rule as :func:`~hotline_kpi.aggregate.aggregate_rows` (which has already
    checked the rows for duplicates and non-finite values).
    """
    if any(row.get(c) is None for c in formula.required_counters):
        return None

    def total(terms: tuple[Term, ...]) -> float:
        return math.fsum(t.coef * v for t in terms if (v := row.get(t.counter)) is not None)

    return total(formula.numerator), total(formula.denominator)


def _daily(rows: Iterable[DailyCounters], formula: Formula, start: dt.date, end: dt.date,
           hotline_id: str) -> tuple[dict[dt.date, tuple[float, float]], Aggregate]:
    """Per-day sums over ``start``..``end`` and the exact aggregate of the same days."""
    rows = tuple(r for r in rows if start <= r.day <= end)
    for r in rows:
        if r.hotline_id != hotline_id:
            raise RowError(r.hotline_id, r.day, f"row of another hotline in the rows of {hotline_id!r}")
    agg = aggregate_rows(rows, formula, start, end)  # raises RowError on duplicates, NaN
    out = {}
    for r in rows:
        sums = _day_sums(r, formula)
        if sums is not None:
            out[r.day] = sums
    return out, agg


# --------------------------------------------------------------------------- projection


@dataclass(frozen=True)
class _Forecast:
    numerator: float
    denominator: float  # the forecast volume for a total
    #: Half-width of the interval of the forecast days' rate (a ratio: absolute) or
    #: volume (a total: relative to the forecast).
    half_width: float
    no_previous_year: bool
    #: Fewer than two months with a week of data: the interval sees weeks only.
    weeks_only: bool
    unknown_years: tuple[int, ...]


@dataclass(frozen=True)
class _Drift:
    """Block deviations from the profile as an AR(1): ``cov(w_b, w_b+k) = var * phi**k``.

    A staffing shortfall or a busy spell lasts weeks; a persistent deviation moves the
    year far more than the same spread of independent weeks would.
    """

    var: float
    phi: float

    def _block(self, length: float) -> float:
        """Variance of the mean of ``length`` consecutive blocks."""
        phi, n = self.phi, length
        if phi == 0:
            return self.var / n
        pairs = phi * (n * (1 - phi) - (1 - phi**n)) / (1 - phi) ** 2  # sum_{k<n} (n-k) phi^k
        return self.var * (n + 2 * pairs) / (n * n)

    def forecast_variance(self, past: float, future: float) -> float:
        """Variance of (mean of the next ``future`` blocks - mean of the ``past`` blocks seen).

        The level is the mean of the blocks seen, so the error of the forecast is the
        difference of the two means; the drift carries over from the past into the
        future (their covariance), which makes it smaller.
        """
        phi = self.phi
        cov = self.var * phi * (1 - phi**past) * (1 - phi**future) / ((1 - phi) ** 2 * past * future)
        return max(self._block(past) + self._block(future) - 2 * cov, 0.0)


def _drift(deviations: Sequence[float | None]) -> _Drift:
    """Variance and lag-1 autocorrelation of block deviations (``None``: too few days).

    The autocorrelation of a short series is biased low; Kendall's correction
    ``(1 + 3 phi) / k`` is added, and the result kept within 0..0.95.
    """
    seen = [x for x in deviations if x is not None]
    k = len(seen)
    mean = math.fsum(seen) / k
    gamma0 = math.fsum((x - mean) ** 2 for x in seen) / k
    pairs = [(a - mean) * (b - mean) for a, b in zip(deviations, deviations[1:]) if a is not None and b is not None]
    phi = 0.0
    if pairs and gamma0 > 0:
        phi = math.fsum(pairs) / len(pairs) / gamma0
        phi += (1 + 3 * phi) / k
    return _Drift(var=gamma0 * k / (k - 1), phi=min(max(phi, 0.0), 0.95))


def _deviations(
    cur: Mapping[dt.date, tuple[float, float]],
    fitted: Mapping[dt.date, tuple[float, ...]],
    is_ratio: bool,
    block_of: Callable[[dt.date], int],
    min_days: int,
) -> list[float | None]:
    """Deviation of each block from the profile, in block order (``None``: too few days).

    A ratio's deviation is its observed rate less the profile's (absolute); a total's
    is observed over forecast volume, less 1 (relative).
    """
    acc: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0, 0.0])
    for d, sums in cur.items():
        a = acc[block_of(d)]
        a[0] += sums[0]
        a[1] += fitted[d][0]
        if is_ratio:
            a[2] += sums[1]
            a[3] += fitted[d][1]
        a[4] += 1
    out: list[float | None] = []
    for b in range(min(acc, default=0), max(acc, default=-1) + 1):
        a = acc.get(b)
        if a is None or a[4] < min_days:
            out.append(None)
        elif is_ratio:
            out.append(a[0] / a[2] - a[1] / a[3] if a[2] > 0 and a[3] > 0 else None)
        else:
            out.append(a[0] / a[1] - 1 if a[1] > 0 else None)
    return out


def _forecast(
    formula: Formula,
    cur: Mapping[dt.date, tuple[float, float]],
    prev: Mapping[dt.date, tuple[float, float]],
    open_days: Sequence[dt.date],
    year: int,
    level: float,
) -> _Forecast:
    is_ratio = formula.kind == "ratio"
    observed = sorted({**prev, **cur}.items())
    sides = (0, 1) if is_ratio else (0,)
    fits = [_fit([(d, s[i]) for d, s in observed], year) for i in sides]
    fitted = {d: tuple(f.predict(d) for f in fits) for d in cur}

    # This year's level in each month seen for a week or more, relative to the
    # profile: an open day of such a month (a gap, the rest of the as-of month) takes
    # its month's level.
    per_month: dict[int, int] = defaultdict(int)
    for d in cur:
        per_month[d.month] += 1
    local: list[dict[int, float]] = []
    for i in sides:
        obs: dict[int, float] = defaultdict(float)
        exp: dict[int, float] = defaultdict(float)
        for d, sums in cur.items():
            obs[d.month] += sums[i]
            exp[d.month] += fitted[d][i]
        local.append({mo: obs[mo] / exp[mo] for mo in obs if exp[mo] > 0 and per_month[mo] >= 7})
    totals = [
        math.fsum(fits[i].predict(d) * local[i].get(d.month, 1.0) for d in open_days) for i in sides
    ]

    # Interval: this year's deviations from the profile as an AR(1), for the mean of
    # the open days against the mean of the days the level was fitted on; at two
    # scales, weeks (7-day blocks from 1 January) and calendar months, taking the
    # wider: weeks see more blocks, months see drift that daily noise hides in weeks.
    first = dt.date(year, 1, 1)
    half = 0.0
    if open_days:
        scales = ((lambda d: (d - first).days // 7, 7.0, 1), (lambda d: d.month - 1, 365.25 / 12, 7))
        for block_of, length, min_days in scales:
            devs = _deviations(cur, fitted, is_ratio, block_of, min_days)
            k = sum(1 for x in devs if x is not None)
            if k >= 2:
                var = _drift(devs).forecast_variance(k, max(1.0, len(open_days) / length))
                half = max(half, _t_quantile(level, k - 1) * math.sqrt(var))

    unknown = sorted({d.year for d in [*open_days, *(d for d, _ in observed)] if not day_type(d)[1]})
    return _Forecast(
        numerator=totals[0],
        denominator=totals[1] if is_ratio else totals[0],
        half_width=half,
        no_previous_year=not prev,
        weeks_only=sum(1 for n in per_month.values() if n >= 7) < 2,
        unknown_years=tuple(unknown),
    )


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
    *, m: int, min_days: int, open_n: int, gaps: int, forecast: _Forecast | None,
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
            zh.append("本年数据不足两个月：区间只反映周与周之间的波动，很可能偏窄。")
            en.append("Less than two months of data this year: the interval reflects only week-to-week "
                      "variation and is likely too narrow.")
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
    if not indicator.targeted or indicator.comparator is None or indicator.threshold is None:
        raise ValueError(f"indicator {indicator.id!r} has no target to project")
    if not 0 < level < 1:
        raise ValueError(f"interval level {level!r} must lie strictly between 0 and 1")
    year = as_of.year
    t = float(indicator.threshold)
    cmp = indicator.comparator
    is_ratio = formula.kind == "ratio"
    first = dt.date(year, 1, 1)
    cur, agg = _daily(rows, formula, first, as_of, hotline_id)
    prev, _ = _daily(previous_year_rows, formula, dt.date(year - 1, 1, 1), dt.date(year - 1, 12, 31), hotline_id)

    a_num = float(agg.numerator)
    a_den = float(agg.denominator) if is_ratio else 0.0
    m = agg.days_with_data
    if m == 0 or (is_ratio and a_den == 0):
        ytd = None
    else:
        ytd = a_num / a_den if is_ratio else a_num

    all_days = [first + dt.timedelta(days=i) for i in range(days_in_year(year))]
    open_days = [d for d in all_days if d not in cur]
    gaps = sum(1 for d in open_days if d <= as_of)
    n = len(open_days)
    lo, hi = 0.0, (1.0 if indicator.unit == "ratio" and is_ratio else math.inf)

    def result(fc: _Forecast | None = None, **kw: Any) -> Projection:
        zh, en = _notes(m=m, min_days=min_days, open_n=n, gaps=gaps, forecast=fc, status=kw["pace_status"])
        return Projection(
            indicator_id=indicator.id, as_of=as_of, unit=indicator.unit, comparator=cmp, threshold=t,
            ytd_value=ytd, interval_level=level, budget_unit=BUDGET_UNITS.get(formula.id, "errors"),
            required_unit=("requests_per_day" if not is_ratio else
                           "ratio" if indicator.unit == "ratio" else indicator.unit),
            days_with_data=m, days_forecast=n, note_zh=zh, note_en=en, **kw,
        )

    empty = dict(projected_value=None, interval_low=None, interval_high=None, projected_status=Status.NO_DATA,
                 budget_remaining=None, required_value=None, burn_rate_7d=None, burn_rate_30d=None,
                 forecast_numerator=None, forecast_denominator=None)
    if n > 0 and m < min_days:
        return result(**{**empty, "pace_status": PaceStatus.INSUFFICIENT_DATA})
    if n == 0 and ytd is None:
        return result(**{**empty, "pace_status": PaceStatus.INSUFFICIENT_DATA})

    fc = _forecast(formula, cur, prev, open_days, year, level) if n > 0 else None
    s_num = fc.numerator if fc else 0.0
    s_den = fc.denominator if fc else 0.0

    # ---- projected value and interval
    if is_ratio:
        rate = min(max(s_num / s_den, lo), hi) if s_den > 0 else 0.0
        half = fc.half_width if fc else 0.0
        total_den = a_den + s_den
        if total_den <= 0:
            return result(fc, **{**empty, "pace_status": PaceStatus.INSUFFICIENT_DATA})
        s_num = rate * s_den

        def final(r: float) -> float:
            return (a_num + min(max(r, lo), hi) * s_den) / total_den

        projected, low, high = final(rate), final(rate - half), final(rate + half)
    else:
        half = fc.half_width if fc else 0.0
        projected = a_num + s_num
        low, high = a_num + max(0.0, s_num * (1 - half)), a_num + s_num * (1 + half)

    # ---- budget, required pace, status
    if is_ratio:
        # The numerator the rest of the year must add to land exactly on the target.
        needed = t * (a_den + s_den) - a_num
        budget = (s_den - needed) if cmp.higher_is_better else needed
        required = needed / s_den if s_den > 0 else None

        def year_end(x: float) -> float:
            return (a_num + x * s_den) / total_den if math.isfinite(x) else x  # inf: no upper bound
    else:
        needed = t - a_num
        budget = max(0.0, needed) if cmp.higher_is_better else needed
        required = needed / n if n > 0 else None

        def year_end(x: float) -> float:
            return a_num + x * n if math.isfinite(x) else x

    if required is None:  # nothing left to count: decided by the year to date
        assert ytd is not None
        pace = PaceStatus.SECURED if cmp.holds(ytd, t) else PaceStatus.CANNOT_BE_MET
    else:
        worst, best = (lo, hi) if cmp.higher_is_better else (hi, lo)
        pace = _classify(cmp, t, year_end(worst), year_end(best)) or (
            PaceStatus.ON_TRACK if cmp.holds(projected, t) else PaceStatus.AT_RISK)
    shown_required = required if pace in (PaceStatus.ON_TRACK, PaceStatus.AT_RISK) else None

    # ---- burn rates: the recent error rate over the rate that spends the budget evenly
    burn: dict[int, float | None] = {7: None, 30: None}
    if is_ratio and required is not None and s_den > 0:
        allowance = budget / s_den  # error units per unit of denominator, even spend
        if allowance > 0:
            for k in burn:
                errors = volume = 0.0
                for i in range(k):
                    d = as_of - dt.timedelta(days=i)
                    sums = cur.get(d) or prev.get(d)
                    if sums is None:
                        continue
                    errors += (sums[1] - sums[0]) if cmp.higher_is_better else sums[0]
                    volume += sums[1]
                if volume > 0:
                    burn[k] = (errors / volume) / allowance

    status = Status.MET if cmp.holds(projected, t) else Status.BREACHED
    return result(
        fc, projected_value=projected, interval_low=min(low, high), interval_high=max(low, high),
        projected_status=status, budget_remaining=budget, required_value=shown_required, pace_status=pace,
        burn_rate_7d=burn[7], burn_rate_30d=burn[30],
        forecast_numerator=s_num, forecast_denominator=(s_den if is_ratio else None),
    )


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
    rows = tuple(rows)
    previous_year_rows = tuple(previous_year_rows)
    return tuple(
        project_indicator(ind, ind.formula_for(settings), rows, as_of, catalogue.hotline.id,
                          previous_year_rows, level, min_days)
        for ind in catalogue.quantitative if ind.targeted
    )
