"""Split-conformal calibration of the interval (docs/forecast.md section 2.5). Pure.

The drift model of :mod:`.levels` gives the open days' level as a mixture of normals. Its
spread is right only as far as its prior is right for the hotline's behaviour; on the
backtest's development years it was too narrow in spring for some indicators and too wide
in autumn for most. The calibration stretches (or shrinks) the mixture about its median by
a factor per indicator (formula id) and date, fitted by split conformal prediction on
development years (Vovk, Gammerman and Shafer, *Algorithmic Learning in a Random World*,
2005; Papadopoulos et al. 2002; Lei et al., "Distribution-free predictive inference for
regression", JASA 2018): for each month end, the factor is the conformal 80% quantile of
the years' normalised errors

    score = (truth - median) / (upper bound - median)    truth above the median
            (median - truth) / (median - lower bound)    truth below it

(the year-end value is a monotone function of the open days' level, so stretching the
level's distribution about its median by ``k`` moves both bounds ``k`` times as far, and
the stretched interval holds the truth exactly when ``score <= k``). The interval, the
probability of missing the target and the at-risk rule all read the same stretched
mixture; the median, hence the projected value, does not move.

Between month ends the factor is interpolated linearly in the as-of day of the year;
before 31 January it is January's, after 30 November November's. A formula without a
fitted row keeps factor 1. ``SPREAD_FACTORS`` is printed by
``bench/fit_forecast_calibration.py`` (development seed set 0) and pasted here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from hotline_kpi.domain import days_in_year
from hotline_kpi.forecast.drift import OpenDaysForecast

#: The interval level the factors were fitted for (other levels get the same stretch).
FITTED_LEVEL = 0.8

#: Per formula id: the spread factor at the month ends 31 January .. 30 November.
#: Fitted on 150 development years per process (seed set 0, 900 years a cell), with the
#: prior drift scale of :data:`.levels.DRIFT_SCALE` in place.
SPREAD_FACTORS: dict[str, tuple[float, ...]] = {
    "requests_accepted": (0.547, 0.729, 0.962, 1.101, 1.053, 0.859, 0.739, 0.885, 0.814, 0.971, 0.886),
    "connection_rate": (0.494, 0.858, 1.531, 1.509, 1.299, 0.987, 1.015, 0.932, 0.860, 0.932, 0.898),
    "first_contact_resolution_rate": (0.521, 0.776, 1.070, 1.006, 1.050, 0.898, 0.925, 0.908, 0.910, 0.910, 0.930),
    "operator_fault_return_rate": (0.355, 0.588, 0.866, 1.018, 1.067, 0.932, 0.867, 0.865, 0.884, 0.888, 0.854),
    "average_answer_seconds": (0.482, 0.851, 1.298, 1.382, 1.314, 0.979, 0.871, 0.859, 0.828, 0.878, 0.869),
    "satisfaction_rate": (0.529, 0.651, 0.789, 0.889, 0.921, 0.894, 0.959, 0.949, 0.854, 0.885, 0.853),
}


def spread_factor(formula_id: str, as_of: dt.date) -> float:
    """The calibration factor of ``formula_id`` on ``as_of`` (1.0 without a fitted row)."""
    row = SPREAD_FACTORS.get(formula_id)
    if not row:
        return 1.0
    year = as_of.year
    ends = [(dt.date(year, m + 1, 1) - dt.date(year, 1, 1)).days - 1 for m in range(1, len(row) + 1)]
    day = (as_of - dt.date(year, 1, 1)).days
    assert day < days_in_year(year)
    return float(np.interp(day, ends, row))


def calibrate(forecast: OpenDaysForecast, formula_id: str, as_of: dt.date) -> OpenDaysForecast:
    """The forecast with its level's mixture stretched by :func:`spread_factor`."""
    k = spread_factor(formula_id, as_of)
    if k == 1.0:
        return forecast
    return dataclasses.replace(forecast, error=forecast.error.scaled(k))
