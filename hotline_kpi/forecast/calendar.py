"""The day types of the forecast profile: weekday, public holiday or make-up working day
(调休) from the ``chinesecalendar`` package (docs/forecast.md section 2.2). Pure."""

from __future__ import annotations

import datetime as dt
import functools

import chinese_calendar


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


def fallback_chain(category: str) -> tuple[str, ...]:
    """Categories tried in turn when ``category`` was never observed."""
    if category.startswith("holiday:"):
        return (category, "holiday", "weekend")
    if category == "makeup":
        return ("makeup", "workweek")
    return (category,)
