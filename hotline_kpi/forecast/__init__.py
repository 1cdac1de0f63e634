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
- the interval comes from this year's monthly levels as a local-level model: a random
  walk observed through the sampling noise of each month's days (its day variance over
  its days), with the drift variance and the month of one possible step in the level
  given a joint posterior over a grid (a prior fitted on the processes of the backtest)
  and the uncertain amplitude of last year's month shape; the open days' level is the posterior mixture of normals,
  stretched about its median by a factor fitted by split conformal prediction on
  development years, and the probability of missing the target comes from the same mixture.

The modules, in the order of the model: :mod:`.calendar` (the day types), :mod:`.series`
(a year's daily sums as arrays, built once and projected at any date), :mod:`.fit` (the
profile), :mod:`.levels` (the drift of the monthly levels), :mod:`.drift` (the forecast
of the open days), :mod:`.calibration` (the split-conformal stretch of its spread), :mod:`.project` (year to date, budget, pace, outlook: :func:`project`,
and :func:`prepare` + :func:`project_series` for many dates of one year). The
JSON of a projection is :func:`hotline_kpi.snapshot.projection_to_json`.
"""

from hotline_kpi.forecast.calendar import day_type
from hotline_kpi.forecast.project import (
    prepare,
    project_series,
    BUDGET_UNITS,
    MIN_DAYS,
    PaceStatus,
    Projection,
    project,
    project_indicator,
)

__all__ = ["BUDGET_UNITS", "MIN_DAYS", "PaceStatus", "Projection", "day_type", "prepare", "project", "project_indicator",
           "project_series"]
