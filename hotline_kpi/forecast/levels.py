"""The interval of the open days: this year's monthly levels as a local-level model (a
random walk observed with daily noise), docs/forecast.md section 2.3. Pure.

A month's *deviation* is how far its days stray from the profile (a ratio: observed rate
less the profile's; a volume: observed over forecast, less 1). The model:

    d_m = mu_m + noise of the month's days      mu_m = mu_(m-1) + eta_m,  Var(eta) = s2

The point forecast takes the open days at the mean level of the days seen (or, in a
month seen for a week or more, at that month's own level), so the error of the open
days' mean is a weighted sum of the ``mu`` with weights adding to zero (the unknown
starting level cancels) plus the daily noise of both sides. Its variance is exact under
the model: ``s2 * sum_ij u_i u_j min(i, j) + noise``. Months further from those seen
drift further, so the interval is wide early in the year and narrows as it fills.

``s2`` is estimated from this year's consecutive months (``(d_m - d_(m-1))^2`` less the
two months' noise), pooled with a prior of ``PRIOR_MONTHS`` pseudo-months of a stated
drift, so two or three months seen do not give a zero drift; the quantile is Student's
t for the pooled degrees of freedom.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from statistics import NormalDist
from typing import Mapping, Sequence

from hotline_kpi.forecast.fit import t_cdf, t_quantile

#: Weight of the prior drift, in months of data.
PRIOR_MONTHS = 2.0
#: Prior month-to-month drift (standard deviation of eta): a share moves by 2% of its
#: binomial scale sqrt(p (1 - p)) a month (0.5 points at 93%, 1 point at 50%); a volume
#: or an average of seconds by 3% of its level.
PRIOR_SHARE = 0.02
PRIOR_RELATIVE = 0.03
#: A month counts as seen with at least this many days of data.
MIN_MONTH_DAYS = 7


@dataclass(frozen=True)
class OpenDaysError:
    """The spread of the open days' mean rate (a ratio, absolute) or of their volume
    (a total, relative to the forecast): a Student-t with ``df`` degrees of freedom and
    scale ``sd``."""

    sd: float
    df: float
    #: Months seen for a week or more (fewer than two: the drift rests on the prior).
    months_seen: int

    def half_width(self, level: float) -> float:
        return self.quantile(level) * self.sd

    def quantile(self, level: float) -> float:
        if self.df > 200:
            return NormalDist().inv_cdf(0.5 + level / 2)
        return t_quantile(level, max(1, int(self.df)))

    def below(self, x: float) -> float:
        """P(the open days' deviation from the forecast < ``x``)."""
        if self.sd <= 0:
            return 1.0 if x > 0 else 0.0
        z = x / self.sd
        if self.df > 200:
            return NormalDist().cdf(z)
        return t_cdf(z, max(1, int(self.df)))


def _deviation(sums: Sequence[float], fitted: Sequence[float], is_ratio: bool) -> float | None:
    if is_ratio:
        if sums[1] <= 0 or fitted[1] <= 0:
            return None
        return sums[0] / sums[1] - fitted[0] / fitted[1]
    return sums[0] / fitted[0] - 1 if fitted[0] > 0 else None


def open_days_error(
    cur: Mapping[dt.date, tuple[float, float]],
    fitted: Mapping[dt.date, tuple[float, ...]],
    open_days: Sequence[dt.date],
    local_months: set[int],
    is_ratio: bool,
    prior_sd: float,
) -> OpenDaysError:
    """The error of the open days' mean under the local-level model (module docstring).

    ``local_months``: months whose open days take their own observed level (their drift
    is known; only their daily noise remains). ``prior_sd``: the prior drift a month.
    """
    # Month sums and daily deviations of the days seen.
    month_sums: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    daily: dict[int, list[float]] = defaultdict(list)
    for d, sums in cur.items():
        f = fitted[d]
        a = month_sums[d.month]
        a[0] += sums[0]
        a[2] += f[0]
        if is_ratio:
            a[1] += sums[1]
            a[3] += f[1]
        dev = _deviation(sums, f if is_ratio else (f[0],), is_ratio)
        if dev is not None:
            daily[d.month].append(dev)
    seen = {m: n for m, devs in daily.items() if (n := len(devs)) >= MIN_MONTH_DAYS}
    month_dev = {m: _deviation((a[0], a[1]), (a[2], a[3]), is_ratio) for m, a in month_sums.items() if m in seen}
    month_dev = {m: v for m, v in month_dev.items() if v is not None}

    # Daily noise: the spread of the days around their month's mean (pooled).
    ss = dof = 0.0
    for devs in daily.values():
        if len(devs) >= 2:
            mean = math.fsum(devs) / len(devs)
            ss += math.fsum((x - mean) ** 2 for x in devs)
            dof += len(devs) - 1
    day_var = ss / dof if dof > 0 else 0.0

    # The drift: consecutive months seen, their squared difference less their noise.
    excess = 0.0
    pairs = 0
    for m in sorted(month_dev):
        if m - 1 in month_dev:
            diff = month_dev[m] - month_dev[m - 1]
            excess += diff * diff - day_var / seen[m] - day_var / seen[m - 1]
            pairs += 1
    if pairs:
        s2, df = max(0.0, excess) / pairs, float(pairs)
    else:  # January, or no two consecutive months seen: the prior drift alone
        s2, df = prior_sd * prior_sd, PRIOR_MONTHS

    # Weights of the error: + open days of the drifting months, - the days seen (the level).
    past_n: dict[int, int] = defaultdict(int)
    for d in cur:
        past_n[d.month] += 1
    future_n: dict[int, int] = defaultdict(int)
    for d in open_days:
        future_n[d.month] += 1
    n_past, n_open = sum(past_n.values()), len(open_days)
    if n_open == 0 or n_past == 0:
        return OpenDaysError(0.0, df, len(month_dev))
    drifting = {m: n / n_open for m, n in future_n.items() if m not in local_months}
    share = sum(drifting.values())
    u = [drifting.get(m, 0.0) - share * past_n.get(m, 0) / n_past for m in range(1, 13)]
    var_mu = 0.0
    for i in range(12):
        if u[i]:
            for j in range(12):
                var_mu += u[i] * u[j] * min(i, j)
    # i, j from 0: min(i, j) differs from min(i+1, j+1) by a constant, which cancels (sum u = 0).
    var = s2 * max(var_mu, 0.0) + day_var * (1 / n_past + 1 / n_open)
    return OpenDaysError(math.sqrt(var), df, len(month_dev))
