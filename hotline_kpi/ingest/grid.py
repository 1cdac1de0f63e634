"""The daily report read into a grid: the sheet or CSV as rows of cells, its header found
by the names offices use for each column (:data:`HEADER_ALIASES`, docs/data-formats.md).

XLSX adds what a CSV cannot say: merged ranges (a 日期 merged down over a two-level
header), percent formats, formulas without a cached value, the workbook's date system.
Excel 97-2003 .xls, WPS .et, .ods and .xlsb are read with python-calamine (dates come
as dates in either date system; merged ranges of .xls/.xlsx/.ods; no number formats).
Which sheet is read: :func:`hotline_kpi.ingest.sheet.choose_sheet`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence


from hotline_kpi.i18n import M_, join, q
from hotline_kpi.domain import COUNTERS
from hotline_kpi.ingest.base import MAX_COLUMNS
from hotline_kpi.ingest.excel import WINDOWS_EPOCH, column_letter
from hotline_kpi.ingest.sheet import alias_index
from hotline_kpi.ingest.workbook import (SheetInfo, calamine_rows, calamine_sheet_infos, choose_sheet,
                                         open_calamine, workbook_kind)
from hotline_kpi.ingest.text import (BadValue, UndecodableText, decode_bytes, error_text, header_key, is_blank, parse_date,
                                     split_unit)
from hotline_kpi.problems import IngestRejected, Problem

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet


#: Canonical column -> the header names offices use for it. Matched after
#: :func:`~hotline_kpi.ingest.text.split_unit` (NFKC, no whitespace, case-folded, no
#: ``_``/``-``, unit suffix such as "(秒)" or "(%)" split off). The canonical name itself
#: is always accepted too, so "Calls Offered" and "calls_offered" need no entry.
#: Documented in docs/data-formats.md: keep the two in step.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("日期", "统计日期", "报表日期", "day", "report date"),
    # counts
    "requests_accepted": ("受理量", "受理总量", "平台受理量", "总受理量", "accepted requests"),
    "calls_offered": ("呼入量", "人工呼入量", "人工请求量", "来电量", "offered calls", "inbound calls"),
    "calls_answered": ("接通量", "人工接通量", "接听量", "answered calls"),
    "calls_abandoned_short": ("短时放弃量", "short abandons", "short abandoned calls"),
    "calls_answered_within_15s": ("15秒接通量", "15秒内接通量", "answered within 15s"),
    "answer_wait_seconds_sum": ("等待总时长", "answer wait seconds", "total wait seconds", "total answer wait"),
    "first_contact_eligible": ("话务员受理量", "operator handled requests"),
    "first_contact_resolved": ("一次性解答量", "resolved first contact"),
    "tickets_dispatched": ("派单量", "dispatched tickets"),
    "tickets_returned_operator_fault": ("有责退单量", "话务员有责退单量", "operator fault returns"),
    "survey_responses": ("回访量", "有效回访量", "callbacks"),
    "survey_satisfied": ("满意量", "satisfied"),
    # rates and averages: become counts only with their base
    "connection_rate": ("接通率", "人工接通率", "answer rate"),
    "average_answer_seconds": ("平均接通时长", "平均应答时长", "average speed of answer", "asa"),
    "first_contact_resolution_rate": ("一次性解答率", "话务员一次性解答率", "fcr", "fcr rate"),
    "operator_fault_return_rate": ("退单率", "有责退单率", "return rate"),
    "satisfaction_rate": ("满意度", "满意率", "回访满意率", "satisfaction"),
    "answered_within_15s_rate": ("15秒接通率", "15秒内接通率", "service level"),
}


_ALIASES = alias_index(HEADER_ALIASES)
assert set(COUNTERS) <= set(HEADER_ALIASES), "every counter needs a daily-report column"


def column_for(header: object) -> tuple[str | None, str | None]:
    """(canonical column or None, unit suffix or None) of one header cell."""
    if not isinstance(header, str) or is_blank(header):
        return None, None
    name, unit = split_unit(header)
    if name in _ALIASES:
        return _ALIASES[name], unit
    whole = header_key(header)  # a header whose name itself ends in ")" or "%"
    return _ALIASES.get(whole), None


#: Rows searched for the header: title rows and two-level headers sit above it.
HEADER_SEARCH_ROWS = 20


#: Rows of a daily-report sheet: one a day, so a few thousand at most; more is not a daily report.
MAX_REPORT_ROWS = 100_000


@dataclass
class Grid:
    """One sheet (or a CSV) as rows of cell values, with what XLSX adds."""

    #: (1-based row number as a person sees it, cell values) in file order.
    rows: list[tuple[int, list[object]]]
    #: The first rows with every merged range filled from its top-left cell.
    head: list[list[object]]
    #: Whether problems name columns by letter ("接通率 (E)"): XLSX yes, CSV no.
    letters: bool = False
    #: Day 0 of serial dates: the workbook's (1900 or 1904 system); CSV assumes 1900.
    epoch: dt.datetime = WINDOWS_EPOCH
    #: (row, 0-based column) of numeric cells with a % number format: they store ratios.
    percent_cells: set[tuple[int, int]] = field(default_factory=set)
    #: (row, 0-based column) -> formula text, for formulas without a cached value.
    uncached: dict[tuple[int, int], str] = field(default_factory=dict)
    #: (first row, last row, first col, last col), 0-based columns, of merges over rows.
    row_merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    #: The sheet read, for a workbook ("" for CSV): problems name it.
    sheet: str = ""
    #: Row numbers hidden in the sheet (by a filter or by hand); the reading layer fills
    #: it where the format says so (XLSX), a CSV has none.
    hidden_rows: set[int] = field(default_factory=set)


def find_header(head: Sequence[Sequence[object]]) -> tuple[int, int] | None:
    """(index into ``head``, number of known columns) of the header row, or None.

    The header is the row with a date column and the most known names; on a tie the
    lower row wins, since a two-level header repeats vertically merged names.
    """
    best: tuple[int, int] | None = None
    for i, cells in enumerate(head[:HEADER_SEARCH_ROWS]):
        names = {column_for(c)[0] for c in cells} - {None}
        if "date" in names and (best is None or len(names) >= best[1]):
            best = (i, len(names))
    return best


def reject(file: str, why: str, row: int | None = None) -> IngestRejected:
    return IngestRejected(file, [Problem(file, why, row)])


def read_grid(path: Path, file: str, notes: list[str], sheet: str | None = None) -> Grid:
    """The grid of a CSV/text file or of the one sheet of a workbook chosen by
    :func:`~hotline_kpi.ingest.sheet.choose_sheet` (``sheet``: ``--sheet``)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise reject(file, M_("cannot read the file: {error}", error=exc.strerror or str(exc))) from None
    if not data.strip():
        raise reject(file, M_("the file is empty"))
    kind = workbook_kind(path, data[:128])
    if kind == "openpyxl":
        return _xlsx_grid(data, file, notes, sheet)
    if kind == "calamine":
        return _calamine_grid(path, file, notes, sheet)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        raise reject(file, M_("not an XLSX workbook (it is not a zip archive)"))
    try:
        decoded = decode_bytes(data)
    except UndecodableText as exc:
        raise reject(file, exc.why) from None
    if not decoded.text.strip():
        raise reject(file, M_("the file is empty"))
    notes.append(M_("decoded as {encoding} (with BOM)", encoding=decoded.encoding) if decoded.had_bom
                 else M_("decoded as {encoding}", encoding=decoded.encoding))
    return _csv_grid(decoded.text, file)


def summary_why(grid: Grid, title: str) -> str | None:
    """Why a sheet with a daily-report header holds month figures rather than days, or None:
    its name says 汇总/合计/总计/summary/total, or every date in it is a month end
    (a month total dated 2019-03-31), or it has one row per month."""
    key = header_key(title)
    for word in ("汇总", "合计", "总计", "summary", "total"):
        if word in key:
            return M_("its name says it is a summary ({word})", word=word)
    found = find_header(grid.head)
    if found is None:
        return None
    header = grid.head[found[0]]
    col = next(i for i, c in enumerate(header) if column_for(c)[0] == "date")
    dates = []
    for _, cells in grid.rows[found[0] + 1:]:
        try:
            d = parse_date(cells[col], epoch=grid.epoch) if col < len(cells) else None
        except BadValue:
            continue
        if d is not None:
            dates.append(d)
    if not dates:
        return None
    if all((d + dt.timedelta(days=1)).day == 1 for d in dates):
        return M_("its dates ({dates}) are all month ends: month totals, not days",
                  dates=", ".join(d.isoformat() for d in dates[:3]) + (" ..." if len(dates) > 3 else ""))
    if len(dates) >= 2 and len({(d.year, d.month) for d in dates}) == len(dates):
        return "it has one row per month: month figures, not days"
    return None


def _choose(file: str, grids: dict[str, Grid], infos: list[SheetInfo], wanted: str | None,
            notes: list[str]) -> Grid:
    """Sheet choice for the daily report: summaries are only told apart when several
    visible sheets have a header (a one-sheet report of the 31st is a day, not a total)."""
    for info in infos:
        grid = grids.get(info.name)
        if grid is None:
            continue
        info.header = find_header(grid.head) is not None
        info.why = "" if info.header else no_header_why(grid)
    if sum(1 for i in infos if i.header and not i.hidden) > 1:
        for info in infos:
            if info.header and not info.hidden:
                why = summary_why(grids[info.name], info.name)
                info.summary, info.why = why is not None, why or ""
    name = choose_sheet(file, infos, wanted, M_("daily report header"), notes)
    grid = grids[name]
    grid.sheet = name
    return grid


def _calamine_grid(path: Path, file: str, notes: list[str], wanted: str | None) -> Grid:
    """An .xls/.et/.ods/.xlsb sheet as a grid, through python-calamine."""
    wb = open_calamine(path, file)
    infos = calamine_sheet_infos(wb)
    grids: dict[str, Grid] = {}
    for info in infos:
        if info.hidden and info.name != wanted:
            continue  # a hidden sheet is never read
        head = calamine_rows(wb, info.name, file, HEADER_SEARCH_ROWS + 1)
        width = max((len(r) for r in head), default=0)
        if width > MAX_COLUMNS:
            raise reject(file, M_("sheet {sheet} has {width:,} columns: a daily report has at most {max:,}; delete "
                            "the cells beyond the table", sheet=q(info.name), width=width, max=MAX_COLUMNS))
        rows = calamine_rows(wb, info.name, file)
        if len(rows) > MAX_REPORT_ROWS or max((len(r) for r in rows), default=0) > MAX_COLUMNS:
            raise reject(file, M_("sheet {sheet} has {n:,} rows: a daily report has at most {rows:,} rows and {max:,} "
                            "columns; delete the cells beyond the table", sheet=q(info.name), n=len(rows),
                            rows=MAX_REPORT_ROWS, max=MAX_COLUMNS))
        grid = Grid(rows=[(r, cells) for r, cells in enumerate(rows, 1)], head=[], letters=True)
        grid.head = [list(cells) for cells in rows[:HEADER_SEARCH_ROWS]]
        try:
            merges = wb.get_sheet_by_name(info.name).merged_cell_ranges or []
        except Exception:  # noqa: BLE001 - merges are a help for the header, not data
            merges = []
        if not merges and path.suffix.lower() == ".ods":
            merges = _ods_merges(path, info.name)
        for (r0, c0), (r1, c1) in merges:
            top_left = rows[r0][c0] if r0 < len(rows) and c0 < len(rows[r0]) else None
            for r in range(r0, min(r1, HEADER_SEARCH_ROWS - 1) + 1):
                if r >= len(grid.head):
                    break
                for c in range(c0, c1 + 1):
                    while len(grid.head[r]) <= c:
                        grid.head[r].append(None)
                    grid.head[r][c] = top_left
            if r1 > r0:
                grid.row_merges.append((r0 + 1, r1 + 1, c0, c1))
        grids[info.name] = grid
    return _choose(file, grids, infos, wanted, notes)


def _ods_merges(path: Path, sheet: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Merged ranges ((row, col), (last row, last col)), 0-based, in the first rows of an
    .ods sheet (python-calamine does not report them for ODS)."""
    import zipfile
    from xml.etree import ElementTree as ET

    table_ns = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
    t = f"{{{table_ns}}}"
    merges = []
    try:
        with zipfile.ZipFile(path) as z, z.open("content.xml") as f:
            in_sheet, row = False, 0
            for event, el in ET.iterparse(f, events=("start", "end")):
                if el.tag == f"{t}table":
                    if event == "start":
                        in_sheet, row = el.get(f"{t}name") == sheet, 0
                    elif in_sheet:
                        break
                    continue
                if not in_sheet or el.tag != f"{t}table-row" or event != "end":
                    continue
                col = 0
                for cell in el:
                    span_c = int(cell.get(f"{t}number-columns-spanned", "1"))
                    span_r = int(cell.get(f"{t}number-rows-spanned", "1"))
                    if span_c > 1 or span_r > 1:
                        merges.append(((row, col), (row + span_r - 1, col + span_c - 1)))
                    col += int(cell.get(f"{t}number-columns-repeated", "1"))
                row += int(el.get(f"{t}number-rows-repeated", "1"))
                el.clear()
                if row >= HEADER_SEARCH_ROWS:
                    break
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, ET.ParseError):
        return []
    return merges


def _xlsx_grid(data: bytes, file: str, notes: list[str], wanted: str | None = None) -> Grid:
    """The sheet chosen by :func:`~hotline_kpi.ingest.sheet.choose_sheet`.

    Not read-only mode: merged ranges are only known to a fully loaded sheet. Loaded a
    second time with formulas, to tell a formula never calculated (no cached value:
    an error) from an empty cell (unknown).
    """
    try:
        from openpyxl import load_workbook  # (imported only when a workbook is read)

        values = load_workbook(io.BytesIO(data), data_only=True)
        formulas = load_workbook(io.BytesIO(data), data_only=False)
    except Exception as exc:  # noqa: BLE001 - a damaged workbook fails in any of openpyxl's parsers
        raise reject(file, M_("not a readable XLSX workbook ({error})", error=error_text(exc))) from None
    active = values.active.title if values.active is not None else None
    infos = [SheetInfo(ws.title, ws.sheet_state != "visible", ws.title == active) for ws in values.worksheets]
    grids: dict[str, Grid] = {}
    for ws, info in zip(values.worksheets, infos):
        if info.hidden and ws.title != wanted:
            continue  # a hidden sheet is never read
        # The used range is where the farthest cell is: one stray cell at XFD1048576 would
        # make the grid 17 billion cells. A daily report is far smaller: refuse before reading.
        if ws.max_column > MAX_COLUMNS or ws.max_row > MAX_REPORT_ROWS:
            far = f"{column_letter(ws.max_column)}{ws.max_row}"
            raise reject(file, M_("sheet {sheet} reaches cell {far} ({n:,} rows, {width:,} columns): a daily report has "
                             "at most {rows:,} rows and {max:,} columns; delete the cells beyond the table",
                             sheet=q(ws.title), far=far, n=ws.max_row, width=ws.max_column, rows=MAX_REPORT_ROWS,
                             max=MAX_COLUMNS))
        grid = _sheet_grid(ws, formulas[ws.title], values.epoch)
        grid.hidden_rows = {r for r, d in ws.row_dimensions.items() if d.hidden}
        grids[ws.title] = grid
    return _choose(file, grids, infos, wanted, notes)


def _sheet_grid(ws: Worksheet, ws_formulas: Worksheet, epoch: dt.datetime) -> Grid:
    from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

    grid = Grid(rows=[], head=[], letters=True, epoch=epoch)
    bounds = dict(min_row=1, max_row=ws.max_row, min_col=1, max_col=ws.max_column)
    for r, cells in enumerate(ws.iter_rows(**bounds), 1):
        grid.rows.append((r, [cell.value for cell in cells]))
        for c, cell in enumerate(cells):
            if isinstance(cell.value, (int, float)) and "%" in (cell.number_format or ""):
                grid.percent_cells.add((r, c))
    for cells in ws_formulas.iter_rows(**bounds):
        for cell in cells:
            if cell.data_type == "f" and grid.rows[cell.row - 1][1][cell.column - 1] is None:
                f = cell.value
                grid.uncached[(cell.row, cell.column - 1)] = (
                    f.text if isinstance(f, ArrayFormula) else f"={f.ref}" if isinstance(f, DataTableFormula)
                    else str(f))
    # A merged range holds its value only in its top-left cell; header detection sees
    # it in every cell, so a 日期 merged down over a two-level header is on both rows.
    grid.head = [list(cells) for _, cells in grid.rows[:HEADER_SEARCH_ROWS]]
    for merged in ws.merged_cells.ranges:
        top_left = grid.rows[merged.min_row - 1][1][merged.min_col - 1]
        for r in range(merged.min_row, min(merged.max_row, HEADER_SEARCH_ROWS) + 1):
            for c in range(merged.min_col, merged.max_col + 1):
                grid.head[r - 1][c - 1] = top_left
        if merged.max_row > merged.min_row:
            grid.row_merges.append((merged.min_row, merged.max_row, merged.min_col - 1, merged.max_col - 1))
    return grid


def csv_rows(text: str, delimiter: str, limit: int | None = None) -> list[list[object]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[object]] = []
    try:
        for cells in reader:
            rows.append(list(cells))
            if limit is not None and len(rows) >= limit:
                break
    except csv.Error:
        pass  # only a guess here; the full read reports it with its line
    return rows


def _csv_grid(text: str, file: str) -> Grid:
    # Comma unless the header reads better split on a tab or semicolon.
    scores = []
    for delimiter in (",", "\t", ";"):
        found = find_header(csv_rows(text, delimiter, HEADER_SEARCH_ROWS))
        scores.append((found[1] if found else 0, delimiter))
    best = max(scores, key=lambda s: s[0])
    delimiter = best[1] if best[0] > 0 else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[object]]] = []
    line = 1
    try:
        for cells in reader:
            rows.append((line, list(cells)))
            line = reader.line_num + 1  # a quoted cell may span lines
    except csv.Error as exc:
        raise reject(file, M_("not valid CSV: {error}", error=str(exc)), row=line) from None
    return Grid(rows=rows, head=[cells for _, cells in rows[:HEADER_SEARCH_ROWS]])


def no_header_why(grid: Grid) -> str:
    for (row, _), cells in zip(grid.rows, grid.head):
        names = {column_for(c)[0] for c in cells} - {None}
        if len(names) >= 2:
            shown = [str(c).strip() for c in cells if column_for(c)[0] is not None]
            unknown = [str(c).strip() for c in cells if not is_blank(c) and column_for(c)[0] is None]
            if unknown:
                return M_("row {row} looks like the header ({columns}) but has no date column (日期 or date); "
                          "headers not understood: {unknown}", row=row, columns=join(shown),
                          unknown=join(q(u) for u in unknown))
            return M_("row {row} looks like the header ({columns}) but has no date column (日期 or date)",
                      row=row, columns=join(shown))
    return M_("no header row found in the first {n} rows: expected a date column (日期 or date) "
              "and columns such as 受理量, 呼入量, 接通量 (see docs/data-formats.md)", n=HEADER_SEARCH_ROWS)
