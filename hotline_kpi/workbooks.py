"""The office's downloads as XLSX: the scoreboard of an evaluation and the daily counters;
pure (values in, bytes out).

Headers are the office's words (Chinese by default, English by ``lang``; the daily sheet
can also keep the counters' internal names, ``headers="names"``, like the CSV export).
Numbers stay numbers: a ratio is a fraction shown with a percent format, seconds and
counts are numbers with a number format, a date is a date; an unknown value is an empty
cell. No text ever becomes a formula (a text cell is written as text, and one starting
with = + - @ gets Excel's quote prefix), as in the report's workbook.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import TYPE_CHECKING, Iterable, Literal

from hotline_kpi.catalogue import Catalogue
from hotline_kpi.domain import COUNTERS, FLOAT_COUNTERS, DailyCounters, counter_name
from hotline_kpi.i18n import C_, Lang, _, localize, t
from hotline_kpi.snapshot import SnapshotDoc

if TYPE_CHECKING:  # (openpyxl is imported when a workbook is written: hotline_kpi.ingest.excel says why)
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

Headers = Literal["zh", "en", "names"]
_RISKY = ("=", "+", "-", "@", "\t", "\r", "\n")
WINDOWS = ("day", "trailing_7d", "trailing_30d", "month_to_date", "quarter_to_date", "year_to_date")
_FORMATS = {"ratio": "0.00%", "seconds": "0.00", "requests": "#,##0"}
#: The unit a value (and its target) is in, its own column beside it (a ratio is a fraction
#: shown with a percent format: its unit is %).
_UNITS = {"ratio": "%", "seconds": C_("unit", "s"), "requests": C_("unit", "requests"),
          "calls": C_("unit", "calls"), "yuan": C_("unit", "yuan")}


def unit_text(unit: str, lang: Lang) -> str:
    """An indicator's unit as the sheet names it: %, 秒, 件, 个, 元 (empty: no unit)."""
    return localize(_UNITS[unit], lang) if unit in _UNITS else ""


def _text(ws: Worksheet, row: int, col: int, text: str) -> None:
    cell = ws.cell(row=row, column=col)
    cell.value = text
    cell.data_type = "s"
    if text.startswith(_RISKY):
        cell.quotePrefix = True


def _number(ws: Worksheet, row: int, col: int, value: float | int | None, fmt: str) -> None:
    if value is None:
        return
    cell = ws.cell(row=row, column=col)
    cell.value = int(value) if isinstance(value, float) and value.is_integer() and fmt == "#,##0" else value
    cell.number_format = fmt


def _date(ws: Worksheet, row: int, col: int, day: dt.date | None) -> None:
    if day is not None:
        cell = ws.cell(row=row, column=col)
        cell.value = day
        cell.number_format = "yyyy-mm-dd"


def _header(ws: Worksheet, names: list[str]) -> None:
    for col, name in enumerate(names, 1):
        _text(ws, 1, col, name)
    ws.freeze_panes = "A2"
    for col, name in enumerate(names, 1):
        ws.column_dimensions[ws.cell(row=1, column=col).column_letter].width = max(10, 2 * len(name) + 2)


def _bytes(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def scoreboard_headers(lang: Lang) -> list[str]:
    return [t("indicator", lang), _("Window", lang=lang), _("First day", lang=lang), _("Last day", lang=lang),
            _("Value", lang=lang), _("Unit", lang=lang), _("Comparator", lang=lang), t("target", lang), t("status", lang),
            _("Days with data", lang=lang), _("Days in window", lang=lang)]


def scoreboard_xlsx(doc: SnapshotDoc, catalogue: Catalogue, lang: Lang = "zh") -> bytes:
    """One row per indicator and window: value and target as numbers in the indicator's unit."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = _("Scoreboard", lang=lang)
    _header(ws, scoreboard_headers(lang))
    row = 2
    for ind in catalogue.quantitative:
        for window in WINDOWS:
            r = doc.result(ind.id, window)
            if r is None:
                continue
            fmt = _FORMATS.get(ind.unit, "0.00")
            _text(ws, row, 1, ind.display_name(lang))
            _text(ws, row, 2, t(window, lang))
            _date(ws, row, 3, r.start)
            _date(ws, row, 4, r.end)
            _number(ws, row, 5, r.value, fmt)
            _text(ws, row, 6, unit_text(ind.unit, lang))
            if r.comparator is not None and r.target is not None:  # no target: nothing to compare with
                _text(ws, row, 7, {">=": "≥", ">": "＞" if lang == "zh" else ">", "<=": "≤",
                                   "<": "＜" if lang == "zh" else "<"}[r.comparator.value])
            _number(ws, row, 8, r.target, fmt)
            _text(ws, row, 9, t((r.status.value if r.status else "no_data"), lang))
            _number(ws, row, 10, r.days_with_data, "0")
            _number(ws, row, 11, r.days_in_window, "0")
            row += 1
    ws.column_dimensions["A"].width = 30
    return _bytes(wb)


def daily_headers(headers: Headers) -> list[str]:
    if headers == "names":
        return ["date", *COUNTERS]
    lang: Lang = "zh" if headers == "zh" else "en"
    return [_("Date", lang=lang), *(_("{name} (seconds)", lang=lang, name=localize(counter_name(c), lang))
                                    if c in FLOAT_COUNTERS else localize(counter_name(c), lang) for c in COUNTERS)]


def daily_xlsx(rows: Iterable[DailyCounters], first: dt.date, last: dt.date, headers: Headers = "zh") -> bytes:
    """One row a day from ``first`` to ``last``; a counter not known that day is an empty cell."""
    by_day = {r.day: r for r in rows}
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = _("Daily counters", lang="en" if headers == "en" else "zh") if headers != "names" else "daily"
    _header(ws, daily_headers(headers))
    ws.column_dimensions["A"].width = 12
    day, row = first, 2
    while day <= last:
        _date(ws, row, 1, day)
        counters = by_day.get(day)
        for col, c in enumerate(COUNTERS, 2):
            value = None if counters is None else counters.get(c)
            _number(ws, row, col, value, "#,##0.0" if c in FLOAT_COUNTERS else "#,##0")
        day += dt.timedelta(days=1)
        row += 1
    return _bytes(wb)
