"""What the open days of the year will bring: the forecast sums of the days without data
and the spread of that forecast from how this year's monthly levels drift (docs/forecast.md
sections 2.1-2.3; the drift model is :mod:`.levels`). Pure."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Mapping, Sequence

from hotline_kpi.forecast.calendar import day_type
from hotline_kpi.forecast.fit import fit_profile
from hotline_kpi.forecast.levels import PRIOR_RELATIVE, PRIOR_SHARE, OpenDaysError, open_days_error
from hotline_kpi.formulas import Formula


@dataclass(frozen=True)
class OpenDaysForecast:
    numerator: float
    denominator: float  # the forecast volume for a total
    #: Half-width of the interval of the forecast days' rate (a ratio: absolute) or
    #: volume (a total: relative to the forecast).
    half_width: float
    #: The distribution behind it (the probability of missing a target comes from it).
    error: OpenDaysError
    no_previous_year: bool
    #: Fewer than two months with a week of data: the month-to-month drift is not yet
    #: measured, the interval rests on the prior drift.
    weeks_only: bool
    unknown_years: tuple[int, ...]


def forecast_open_days(
    formula: Formula,
    cur: Mapping[dt.date, tuple[float, float]],
    prev: Mapping[dt.date, tuple[float, float]],
    open_days: Sequence[dt.date],
    year: int,
    level: float,
    share: bool = True,
) -> OpenDaysForecast:
    """``share``: a ratio's rate is a share (0..1), not an average such as seconds."""
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

    # Interval: this year's monthly levels as a random walk (levels.py).
    rate = totals[0] / totals[1] if is_ratio and totals[1] > 0 else None
    if not is_ratio:
        prior = PRIOR_RELATIVE
    elif share and rate is not None:
        prior = PRIOR_SHARE * math.sqrt(max(min(rate, 1.0), 0.0) * max(1 - rate, 0.0))
    else:
        prior = PRIOR_RELATIVE * (rate or 0.0)
    error = open_days_error(cur, fitted, open_days, set(local[0]) & set(local[-1]), is_ratio, prior)
    half = error.half_width(level)

    unknown = sorted({d.year for d in [*open_days, *(d for d, _ in observed)] if not day_type(d)[1]})
    return OpenDaysForecast(
        numerator=totals[0],
        denominator=totals[1] if is_ratio else totals[0],
        half_width=half,
        error=error,
        no_previous_year=not prev,
        weeks_only=error.months_seen < 2,
        unknown_years=tuple(unknown),
    )
