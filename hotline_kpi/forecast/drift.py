"""What the open days of the year will bring: the forecast sums of the days without data
and the interval from how far this year's weeks and months drift from the profile, as
an AR(1) (docs/forecast.md sections 2.3-2.4). Pure."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from hotline_kpi.forecast.calendar import day_type
from hotline_kpi.forecast.fit import fit_profile, t_quantile
from hotline_kpi.formulas import Formula


@dataclass(frozen=True)
class OpenDaysForecast:
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
class Drift:
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


def drift_of(deviations: Sequence[float | None]) -> Drift:
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
    return Drift(var=gamma0 * k / (k - 1), phi=min(max(phi, 0.0), 0.95))


def block_deviations(
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


def forecast_open_days(
    formula: Formula,
    cur: Mapping[dt.date, tuple[float, float]],
    prev: Mapping[dt.date, tuple[float, float]],
    open_days: Sequence[dt.date],
    year: int,
    level: float,
) -> OpenDaysForecast:
    is_ratio = formula.kind == "ratio"
    observed = sorted({**prev, **cur}.items())
    sides = (0, 1) if is_ratio else (0,)
    fits = [fit_profile([(d, s[i]) for d, s in observed], year) for i in sides]
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
            devs = block_deviations(cur, fitted, is_ratio, block_of, min_days)
            k = sum(1 for x in devs if x is not None)
            if k >= 2:
                var = drift_of(devs).forecast_variance(k, max(1.0, len(open_days) / length))
                half = max(half, t_quantile(level, k - 1) * math.sqrt(var))

    unknown = sorted({d.year for d in [*open_days, *(d for d, _ in observed)] if not day_type(d)[1]})
    return OpenDaysForecast(
        numerator=totals[0],
        denominator=totals[1] if is_ratio else totals[0],
        half_width=half,
        no_previous_year=not prev,
        weeks_only=sum(1 for n in per_month.values() if n >= 7) < 2,
        unknown_years=tuple(unknown),
    )
