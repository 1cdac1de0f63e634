"""What the open days of the year will bring: the profile's forecast of the days without
data and the distribution of their level from how this year's monthly levels drift
(docs/forecast.md sections 2.1-2.3; the drift model is :mod:`.levels`). Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hotline_kpi.forecast.fit import fit_profile
from hotline_kpi.forecast.levels import PRIOR_RELATIVE, PRIOR_SHARE, OpenDaysError, open_days_error
from hotline_kpi.forecast.series import YearCalendar, year_calendar


@dataclass(frozen=True)
class OpenDaysForecast:
    """The open days: ``base`` is the profile's rate of the open days (a ratio) or their
    profile volume (a total); ``error`` the distribution of their level relative to it
    (a ratio: added to the rate; a total: the relative departure)."""

    is_ratio: bool
    base: float
    #: The profile's denominator of the open days (a total: its volume).
    denominator: float
    error: OpenDaysError
    no_previous_year: bool
    #: Fewer than two months with a week of data: the drift rests on the prior.
    weeks_only: bool
    unknown_years: tuple[int, ...]

    def rate(self, e: float) -> float:
        """The open days' rate (a total: their volume) at level ``e``."""
        return self.base + e if self.is_ratio else self.base * (1 + e)


def _rate_shape(fit_n: np.ndarray, fit_d: np.ndarray, cal: YearCalendar) -> np.ndarray:
    f_n = np.bincount(cal.month, weights=fit_n, minlength=12)
    f_d = np.bincount(cal.month, weights=fit_d, minlength=12)
    return np.divide(f_n, f_d, out=np.zeros(12), where=f_d > 0) - fit_n.sum() / fit_d.sum()


def forecast_open_days(cur: np.ndarray, prev: np.ndarray, year: int, is_ratio: bool, share: bool = True,
                       drift_scale: float = 1.0) -> tuple[OpenDaysForecast, float, float]:
    """``cur``/``prev``: this and last year's (numerator, denominator) per day, NaN where
    no data (this year: every day after the as-of date too). ``share``: a ratio's rate is
    a share (0..1), not an average such as seconds; ``drift_scale`` multiplies the prior
    drift of :mod:`.levels` (the indicator's fitted scale). Returns the forecast and the profile's
    sums (numerator, denominator) of the open days."""
    cal, cal_prev = year_calendar(year), year_calendar(year - 1)
    seen = ~np.isnan(cur[:, 0])
    open_ = ~seen
    has_prev = bool((~np.isnan(prev[:, 0])).any())
    sides = (0, 1) if is_ratio else (0,)
    fits = [fit_profile(cur[:, i], prev[:, i], cal, cal_prev) for i in sides]
    prev_days = np.bincount(cal_prev.month[~np.isnan(prev[:, 0])], minlength=12).astype(float)
    if is_ratio:
        fit_n, fit_d = fits[0].day, fits[1].day
        s_n, s_d = float(fit_n[open_].sum()), float(fit_d[open_].sum())
        base = s_n / s_d if s_d > 0 else 0.0
        if share:
            prior = PRIOR_SHARE * math.sqrt(max(min(base, 1.0), 0.0) * max(1 - base, 0.0))
        else:
            prior = PRIOR_RELATIVE * base
        prior = max(prior * drift_scale, 1e-9)
        shape = _rate_shape(fit_n, fit_d, cal) if has_prev else np.zeros(12)
        error = open_days_error(cur[:, 0], cur[:, 1], fit_n, fit_d, seen, open_, cal.month, shape, prev_days,
                                prior, has_prev)
        denominator = s_d
    else:
        fit_v = fits[0].day
        base = float(fit_v[open_].sum())
        shape = fits[0].month - 1 if has_prev else np.zeros(12)
        error = open_days_error(cur[:, 0], None, fit_v, None, seen, open_, cal.month, shape, prev_days,
                                PRIOR_RELATIVE * drift_scale, has_prev)
        denominator = base
        s_n, s_d = base, base
    unknown = tuple(y for y, c in ((year - 1, cal_prev), (year, cal)) if not c.known and
                    (y == year or has_prev))
    fc = OpenDaysForecast(is_ratio=is_ratio, base=base, denominator=denominator, error=error, no_previous_year=not has_prev,
                          weeks_only=error.months_seen < 2, unknown_years=unknown)
    return fc, s_n, s_d
