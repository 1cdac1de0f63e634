"""Why a written year, month and day is no date: said in words (月份 13 不存在), not by
showing the date normalised back ("2019-13-1"), since the office looks for what it wrote."""

from __future__ import annotations

import calendar

from hotline_kpi.i18n import M_, Msg


def date_fault(year: int, month: int, day: int) -> Msg | None:
    """What is wrong with a written year, month and day (月份 13 不存在), or None if it is a date."""
    if not 1 <= year <= 9999:
        return M_("not a real date: there is no year {year}", year=year)
    if not 1 <= month <= 12:
        return M_("not a real date: there is no month {month}", month=month)
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        return M_("not a real date: {year}-{month:02d} has {days} days, not {day}", year=year, month=month,
                  days=days, day=day)
    return None
