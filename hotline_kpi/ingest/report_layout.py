"""The layout of the office's daily report around its day rows: which rows are totals,
subtotals, averages or footnotes, which are blank rows of a template, and a two-row header
exported to CSV (docs/data-formats.md, "Rows"). Pure functions of cell values; the
daily report's parser (:mod:`.daily_report`) decides what to do with each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

from hotline_kpi.ingest.grid import column_for, find_header
from hotline_kpi.ingest.text import is_blank, is_unknown, normalise_text

TOTAL = re.compile(r"^(?:.*(?:合计|总计|小计)|total|grandtotal|subtotal|sum)$")
#: A subtotal (a week's): checked against the days since the previous subtotal (or, for a
#: running subtotal, since the first day) and skipped; days may follow it.
SUBTOTAL = re.compile(r"^(?:.*小计|.*周合计|.*周总计|subtotal|weeklytotal|weektotal)$")
AVERAGE = re.compile(r"^(?:平均|日均|均值|平均值|average|mean|avg)$")
#: Footnotes offices put under the table ("注：接通率=接通量/呼入量", "制表人：…").
REMARK = re.compile(r"^(?:注|备注|说明|附注|制表|审核|填报|负责人|联系人|联系电话|报送|数据来源|来源|"
                     r"note|notes|remark|source|preparedby|checkedby|approvedby)")


def is_remark_row(cells: Sequence[object]) -> bool:
    """Footnotes and signatures ("注：…", "制表人：张三 … 审核人：李四"): every filled cell a
    text starting like one, in any columns."""
    return all(isinstance(c, str) and REMARK.match(normalise_text(c).casefold()) for c in cells if not is_blank(c))


@dataclass(frozen=True)
class TotalRow:
    row: int
    label: str
    values: dict[str, object]
    #: Sums of the days it covers: all above it, or for a subtotal those since the previous one.
    sums: dict[str, Decimal]
    unsummable: set[str]
    #: A subtotal only: the sums of all days above it, for a running subtotal.
    running: dict[str, Decimal] | None = None
    running_unsummable: set[str] | None = None


def summary_label(cells: Sequence[object], date_index: int, known: set[int]) -> str | None:
    """The text naming a summary row (合计, 第2周小计, 平均): in the date cell, or, when the
    date cell is empty, in a cell outside the known columns (a 序号 column)."""
    raw_date = cells[date_index] if date_index < len(cells) else None
    if isinstance(raw_date, str) and not is_blank(raw_date):
        return raw_date.strip()
    if not is_blank(raw_date):
        return None
    for i, cell in enumerate(cells):
        if i not in known and isinstance(cell, str) and not is_blank(cell):
            marker = normalise_text(cell).casefold()
            if TOTAL.match(marker) or AVERAGE.match(marker):
                return cell.strip()
    return None


def no_figure(value: object) -> bool:
    """Empty, a dash, or the #DIV/0! a template's rate formula shows on a day without figures."""
    return is_unknown(value) or (isinstance(value, str) and normalise_text(value).casefold() == "#div/0!")


def header_rows(head: list[list[object]]) -> list[list[object]]:
    """``head`` with a two-row header joined: the CSV export of a sheet whose 日期 was merged
    down over two header rows holds it in the upper row only, above an empty cell, with the
    group names (话务, 工单) beside it. A row of column names without a date column gets
    the known names of the row above in its empty cells; a row already complete is kept."""
    out = [list(cells) for cells in head]
    for i in range(1, len(out)):
        below, above = out[i], head[i - 1]
        names = [column_for(c)[0] for c in below]
        if "date" in names or not any(names):
            continue
        for j, cell in enumerate(below):
            if is_blank(cell) and j < len(above) and column_for(above[j])[0] is not None:
                below[j] = above[j]
    original, joined = find_header(head), find_header(out)
    if joined is not None and (original is None or joined[1] > original[1]):
        return out
    return head
