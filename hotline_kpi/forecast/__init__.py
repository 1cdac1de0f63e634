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
- the interval comes from this year's monthly levels as a random walk observed through
  daily noise (a local-level model): the exact variance of the open days' mean against
  the mean of the days the level was fitted on, with a Student-t quantile for the few
  month-to-month steps seen; the probability of missing the target comes from the same
  distribution.

The modules, in the order of the model: :mod:`.calendar` (the day types), :mod:`.fit`
(the profile and the t distribution), :mod:`.levels` (the drift of the monthly levels),
:mod:`.drift` (the forecast of the open days and its interval), :mod:`.project` (year to date, budget, pace, outlook: :func:`project`). The
JSON of a projection is :func:`hotline_kpi.snapshot.projection_to_json`.
"""

from hotline_kpi.forecast.calendar import day_type
from hotline_kpi.forecast.project import (
    BUDGET_UNITS,
    MIN_DAYS,
    PaceStatus,
    Projection,
    project,
    project_indicator,
)

__all__ = ["BUDGET_UNITS", "MIN_DAYS", "PaceStatus", "Projection", "day_type", "project", "project_indicator"]
