"""The hotline office's daily report: one row a day, as CSV or XLSX (source ``daily-report``).

Counts are the record; a rate column becomes a count only together with its base (接通率
with 呼入量 gives 接通量), because a rate alone cannot be summed into a year. The header is
found by its names (see :data:`HEADER_ALIASES` and docs/data-formats.md), below any
title rows; a 合计 row is checked against the days and skipped. The whole file is
read before anything is returned: every problem is reported at once.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Sequence

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import WINDOWS_EPOCH
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula
from openpyxl.worksheet.worksheet import Worksheet

from hotline_kpi.domain import COUNTERS, FLOAT_COUNTERS, DayRecord, ParsedFile
from hotline_kpi.ingest.base import MAX_COLUMNS, IngestContext, IngestRejected, Problem, ignored_note, require_clean
from hotline_kpi.ingest.text import (
    BadValue,
    Measured,
    UndecodableText,
    decode_bytes,
    decode_prefix,
    header_key,
    is_blank,
    normalise_text,
    parse_count,
    parse_date,
    parse_ratio,
    parse_seconds,
    split_unit,
)

SOURCE = "daily-report"

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


@dataclass(frozen=True)
class _Rate:
    numerator: str
    #: None: the 15-second rate, whose base is a formula setting.
    denominator: str | None
    #: An average of seconds per answered call rather than a ratio.
    seconds: bool = False


#: In the order they are applied: the connection rate first, because the average answer
#: time and the 15-second rate can use the answered calls it derives.
_RATES: dict[str, _Rate] = {
    "connection_rate": _Rate("calls_answered", "calls_offered"),
    "first_contact_resolution_rate": _Rate("first_contact_resolved", "first_contact_eligible"),
    "operator_fault_return_rate": _Rate("tickets_returned_operator_fault", "tickets_dispatched"),
    "satisfaction_rate": _Rate("survey_satisfied", "survey_responses"),
    "average_answer_seconds": _Rate("answer_wait_seconds_sum", "calls_answered", seconds=True),
    "answered_within_15s_rate": _Rate("calls_answered_within_15s", None),
}

#: How far a rate may sit from count/base when the cell does not show its precision (a
#: binary number in XLSX): 0.05 percentage points, or 0.05 s of average answer time.
#: Text gets half a unit of its last written digit instead ("92.35%": 0.00005).
_RATIO_TOLERANCE = Decimal("0.0005")
_SECONDS_TOLERANCE = Decimal("0.05")
_FLOAT_SLACK = Decimal("1e-9")

_COUNT_UNITS = {None, "个", "件", "次", "通", "人次", "单", "条", "人", "个数"}
_SECONDS_UNITS = {None, "秒", "s", "sec", "secs", "seconds", "秒钟"}
_RATE_UNITS = {None, "%"}

#: Rows searched for the header: title rows and two-level headers sit above it.
HEADER_SEARCH_ROWS = 20
#: Rows of a daily-report sheet: one a day, so a few thousand at most; more is not a daily report.
MAX_REPORT_ROWS = 100_000
_PROGRESS_EVERY = 200

_TOTAL = re.compile(r"^(?:.*(?:合计|总计|小计)|total|grandtotal|subtotal|sum)$")
_AVERAGE = re.compile(r"^(?:平均|日均|均值|平均值|average|mean|avg)$")
#: Footnotes offices put under the table ("注：接通率=接通量/呼入量", "制表人：…").
_REMARK = re.compile(r"^(?:注|备注|说明|附注|制表|审核|填报|数据来源|来源|note|notes|remark|source)")


def _alias_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for column, aliases in HEADER_ALIASES.items():
        for alias in (column, *aliases):
            key = header_key(alias)
            if index.setdefault(key, column) != column:
                raise AssertionError(f"header alias {alias!r} maps to both {index[key]} and {column}")
    return index


_ALIASES = _alias_index()
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


# --- the grid both formats are read into ----------------------------------------------------


@dataclass
class _Grid:
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


@dataclass(frozen=True)
class _Column:
    index: int
    name: str
    label: str
    unit: str | None


def _find_header(head: Sequence[Sequence[object]]) -> tuple[int, int] | None:
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


def _label(cell: object, index: int, letters: bool) -> str:
    text = " ".join(str(cell).split())
    if not letters:
        return text
    return f"{text} ({get_column_letter(index + 1)})"


# --- the ingestor -------------------------------------------------------------------------------


class DailyReportIngestor:
    """Reads the office's daily report (CSV in UTF-8 or GB18030, or XLSX)."""

    source = SOURCE

    def sniff(self, path: Path, head: bytes) -> bool:
        """A .csv/.xlsx named like a daily report, or a CSV whose first lines hold its header."""
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".xlsx"):
            return False
        name = path.name.casefold()
        if any(word in name for word in ("日报", "daily", "report")):
            return True
        if suffix != ".csv":
            return False  # the head of an XLSX is compressed: nothing to read in it
        text = decode_prefix(head)
        if text is None:
            return False
        for delimiter in (",", "\t", ";"):
            found = _find_header(_csv_rows(text, delimiter, HEADER_SEARCH_ROWS))
            if found is not None and found[1] >= 3:
                return True
        return False

    def parse(self, path: Path, ctx: IngestContext) -> ParsedFile:
        """Read every row of ``path``; raise :class:`IngestRejected` listing every problem.

        Row numbers in problems and records are those Excel or a text editor shows.
        """
        file = path.name
        notes: list[str] = []
        grid = _read(path, file, notes)
        return _Parser(grid, file, ctx, notes).run()


# --- reading files into grids ---------------------------------------------------------------------


def _reject(file: str, why: str, row: int | None = None) -> IngestRejected:
    return IngestRejected(file, [Problem(file, why, row)])


def _read(path: Path, file: str, notes: list[str]) -> _Grid:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _reject(file, f"cannot read the file: {exc.strerror or exc}") from None
    if not data.strip():
        raise _reject(file, "the file is empty")
    if data.startswith(b"PK\x03\x04"):
        return _xlsx_grid(data, file, notes)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _reject(file, "an old .xls or encrypted workbook: save it as .xlsx (Excel workbook) or CSV")
    if path.suffix.lower() == ".xlsx":
        raise _reject(file, "not an XLSX workbook (it is not a zip archive)")
    try:
        decoded = decode_bytes(data)
    except UndecodableText as exc:
        raise _reject(file, exc.why) from None
    if not decoded.text.strip():
        raise _reject(file, "the file is empty")
    notes.append(f"decoded as {decoded.encoding}" + (" (with BOM)" if decoded.had_bom else ""))
    return _csv_grid(decoded.text, file)


def _xlsx_grid(data: bytes, file: str, notes: list[str]) -> _Grid:
    """The first sheet whose header is found.

    Not read-only mode: merged ranges are only known to a fully loaded sheet. Loaded a
    second time with formulas, to tell a formula never calculated (no cached value:
    an error) from an empty cell (unknown).
    """
    try:
        values = load_workbook(io.BytesIO(data), data_only=True)
        formulas = load_workbook(io.BytesIO(data), data_only=False)
    except Exception as exc:  # noqa: BLE001 - a damaged workbook fails in any of openpyxl's parsers
        raise _reject(file, f"not a readable XLSX workbook ({type(exc).__name__}: {exc})") from None
    tried = []
    for ws in values.worksheets:
        # The used range is where the farthest cell is: one stray cell at XFD1048576 would
        # make the grid 17 billion cells. A daily report is far smaller: refuse before reading.
        if ws.max_column > MAX_COLUMNS or ws.max_row > MAX_REPORT_ROWS:
            far = f"{get_column_letter(ws.max_column)}{ws.max_row}"
            raise _reject(file, f"sheet {ws.title!r} reaches cell {far} ({ws.max_row:,} rows, {ws.max_column:,} "
                          f"columns): a daily report has at most {MAX_REPORT_ROWS:,} rows and {MAX_COLUMNS:,} "
                          "columns; delete the cells beyond the table")
        grid = _sheet_grid(ws, formulas[ws.title], values.epoch)
        if _find_header(grid.head) is not None:
            if len(values.worksheets) > 1:
                notes.append(f"read sheet {ws.title!r}")
            return grid
        tried.append(f"{ws.title!r}: {_no_header_why(grid)}")
    if not tried:
        raise _reject(file, "the workbook has no worksheets")
    raise IngestRejected(file, [Problem(file, f"sheet {t}") for t in tried])


def _sheet_grid(ws: Worksheet, ws_formulas: Worksheet, epoch: dt.datetime) -> _Grid:
    grid = _Grid(rows=[], head=[], letters=True, epoch=epoch)
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


def _csv_rows(text: str, delimiter: str, limit: int | None = None) -> list[list[object]]:
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


def _csv_grid(text: str, file: str) -> _Grid:
    # Comma unless the header reads better split on a tab or semicolon.
    scores = []
    for delimiter in (",", "\t", ";"):
        found = _find_header(_csv_rows(text, delimiter, HEADER_SEARCH_ROWS))
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
        raise _reject(file, f"not valid CSV: {exc}", row=line) from None
    return _Grid(rows=rows, head=[cells for _, cells in rows[:HEADER_SEARCH_ROWS]])


# --- parsing rows -------------------------------------------------------------------------------------


class _Parser:
    """One pass over a grid; collects every problem, then hands over to require_clean."""

    def __init__(self, grid: _Grid, file: str, ctx: IngestContext, notes: list[str]):
        self.grid, self.file, self.ctx, self.notes = grid, file, ctx, notes
        self.problems: list[Problem] = []
        self.records: list[DayRecord] = []
        #: Per count column, the sum of the cells read, for checking a 合计 row; a
        #: column with an unreadable cell cannot be checked (its problem is reported).
        self.sums: dict[str, Decimal] = {}
        self.unsummable: set[str] = set()

    def problem(self, why: str, row: int | None = None, column: str | None = None, value: object = None) -> None:
        shown = None if value is None else (value if isinstance(value, str) else repr(value))
        self.problems.append(Problem(self.file, why, row, column, shown))

    def run(self) -> ParsedFile:
        grid = self.grid
        found = _find_header(grid.head)
        if found is None:
            raise _reject(self.file, _no_header_why(grid))
        header_at = found[0]
        header_row = grid.rows[header_at][0]
        columns = self._columns(grid.head[header_at])
        date_col = next(c for c in columns if c.name == "date")
        known = {c.index for c in columns}
        for (row, col), formula in sorted(grid.uncached.items()):
            if row >= header_row and col in known:
                label = next(c.label for c in columns if c.index == col)
                self.problem(f"formula {formula} has no cached value: the workbook was saved without being "
                             "calculated; open it in Excel and save it again", row, label, formula)
        for first, last, c1, c2 in grid.row_merges:
            hit = [c for c in columns if c1 <= c.index <= c2]
            if first > header_row and hit:
                self.problem(f"cells merged over rows {first}-{last}: a value must belong to one day",
                             first, hit[0].label)
        body = grid.rows[header_at + 1:]
        self._rows(body, columns, date_col)
        if not self.records and not self.problems:
            raise _reject(self.file, f"the header is at row {header_row} but no day rows follow it")
        require_clean(self.records, self.ctx, self.file, self.problems)
        derived = sorted({name for rec in self.records for name in rec.derived})
        if derived:
            self.notes.append("derived from a rate and its base: " + ", ".join(derived))
        return ParsedFile(SOURCE, tuple(self.records), tuple(self.notes))

    def _columns(self, header: Sequence[object]) -> list[_Column]:
        columns: list[_Column] = []
        ignored: list[str] = []
        seen: dict[str, _Column] = {}
        letters = self.grid.letters
        if len(header) > MAX_COLUMNS:
            raise _reject(self.file, f"the header has {len(header):,} columns, more than {MAX_COLUMNS:,}: "
                          "not a daily report")
        for i, cell in enumerate(header):
            if is_blank(cell):
                continue
            name, unit = column_for(cell)
            label = _label(cell, i, letters)
            if name is None:
                ignored.append(label)
                continue
            allowed = _RATE_UNITS if name in _RATES and name != "average_answer_seconds" else (
                _SECONDS_UNITS if name in ("average_answer_seconds", "answer_wait_seconds_sum") else _COUNT_UNITS)
            if name != "date" and unit not in allowed:
                self.problem(f"unit ({unit}) not understood for {name}", column=label, value=str(cell))
                continue
            if name in seen:
                self.problem(f"two columns mean {name}: {seen[name].label} and {label}", column=label,
                             value=str(cell))
                continue
            seen[name] = _Column(i, name, label, unit)
            columns.append(seen[name])
        if ignored:
            self.notes.append(ignored_note(ignored))
        if len(columns) == 1:
            self.problem("the header has a date column but no count or rate column", column=columns[0].label)
        return columns

    def _rows(self, body: list[tuple[int, list[object]]], columns: list[_Column], date_col: _Column) -> None:
        counts = [c for c in columns if c.name in COUNTERS]
        self.sums = {c.name: Decimal(0) for c in counts}
        totals: list[tuple[int, str, dict[str, object], dict[str, Decimal], set[str]]] = []
        summary_at: int | None = None
        progress = self.ctx.progress
        for done, (row, cells) in enumerate(body, 1):
            if progress is not None and (done % _PROGRESS_EVERY == 0 or done == len(body)):
                progress(done, len(body))
            if all(is_blank(c) for c in cells):
                continue
            raw_date = _cell(cells, date_col.index)
            marker = normalise_text(raw_date).casefold() if isinstance(raw_date, str) else ""
            if _REMARK.match(marker) and all(is_blank(c) for i, c in enumerate(cells) if i != date_col.index):
                self.notes.append(f"row {row}: remark skipped: {str(raw_date).strip()[:60]}")
                continue
            if _TOTAL.match(marker) or _AVERAGE.match(marker):
                if _TOTAL.match(marker):
                    # Checked against the days above it, once every row is read.
                    totals.append((row, str(raw_date).strip(), {c.name: _cell(cells, c.index) for c in counts},
                                   dict(self.sums), set(self.unsummable)))
                else:
                    self.notes.append(f"row {row}: {str(raw_date).strip()} row skipped")
                summary_at = summary_at or row
                continue
            record = self._day(row, cells, columns, date_col)
            if summary_at is not None:
                self.problem(f"a day row after the total row at row {summary_at}", row, date_col.label,
                             raw_date)
            if record is not None:
                self.records.append(record)
        for row, text, values, sums, unsummable in totals:
            self._check_total(row, text, values, counts, sums, unsummable)

    def _day(self, row: int, cells: list[object], columns: list[_Column], date_col: _Column) -> DayRecord | None:
        """The record of one row, or None without a readable date; problems are reported."""
        raw_date = _cell(cells, date_col.index)
        day: dt.date | None = None
        if (row, date_col.index) not in self.grid.uncached:
            try:
                day = parse_date(raw_date, epoch=self.grid.epoch)
            except BadValue as exc:
                self.problem(exc.why, row, date_col.label, raw_date)
            else:
                if day is None:
                    self.problem("the row has figures but no date", row, date_col.label)
        counters: dict[str, float] = {}
        rates: dict[str, tuple[_Column, Measured, object]] = {}
        bad: set[str] = set()
        for c in columns:
            value = _cell(cells, c.index)
            if c.name == "date":
                continue
            if (row, c.index) in self.grid.uncached:
                bad.add(c.name)  # reported once, with the formula
                continue
            try:
                if c.name in _RATES:
                    measured = self._rate_value(c, value, row)
                    if measured is not None:
                        rates[c.name] = (c, measured, value)
                else:
                    count = parse_count(value, whole=c.name not in FLOAT_COUNTERS)
                    if count is not None:
                        counters[c.name] = count
                        self.sums[c.name] += Decimal(str(count))
            except BadValue as exc:
                self.problem(exc.why, row, c.label, value)
                bad.add(c.name)
        self.unsummable |= bad
        derived = self._apply_rates(row, counters, rates, bad, {c.name for c in columns})
        if day is None:
            return None
        # Kept even when a cell was bad (the file is rejected anyway): the shared checks
        # then also report this row's other faults, a day twice or a future date.
        return DayRecord(day=day, counters=counters, derived=frozenset(derived), row=row)

    def _rate_value(self, c: _Column, value: object, row: int) -> Measured | None:
        if c.name == "average_answer_seconds":
            return parse_seconds(value)
        return parse_ratio(value, percent_column=c.unit == "%",
                           percent_formatted=(row, c.index) in self.grid.percent_cells)

    def _apply_rates(self, row: int, counters: dict[str, float], rates: dict[str, tuple[_Column, Measured, object]],
                     bad: set[str], present: set[str]) -> set[str]:
        derived: set[str] = set()
        for name, spec in _RATES.items():
            if name not in rates:
                continue
            column, measured, raw = rates[name]
            base_name = spec.denominator or (
                "calls_offered" if self.ctx.formulas.within_15s_denominator == "offered" else "calls_answered")
            if base_name in bad or spec.numerator in bad:
                continue  # already reported: a second message about the same cell helps no one
            base = counters.get(base_name)
            if base is None:
                where = "is empty on this row" if base_name in present or base_name in derived else "has no column"
                self.problem(f"a rate without its base cannot be summed into a year: {base_name} {where}",
                             row, column.label, raw)
                continue
            count = counters.get(spec.numerator)
            if base == 0:
                # Nothing to take a rate of: Excel would have shown #DIV/0!.
                if measured.value != 0:
                    self.problem(f"a value above 0 on a day with {base_name} 0", row, column.label, raw)
                elif count is None:
                    counters[spec.numerator] = 0.0 if spec.seconds else 0
                    derived.add(spec.numerator)
            elif count is None:
                product = measured.value * Decimal(str(base))
                counters[spec.numerator] = (
                    float(product) if spec.seconds else int(product.to_integral_value(ROUND_HALF_EVEN)))
                derived.add(spec.numerator)
            else:
                exact = Decimal(str(count)) / Decimal(str(base))
                default = _SECONDS_TOLERANCE if spec.seconds else _RATIO_TOLERANCE
                allowed = (measured.half_unit if measured.half_unit is not None else default) + _FLOAT_SLACK
                if abs(exact - measured.value) > allowed:
                    self.problem(f"does not match the counts: {spec.numerator} / {base_name} = {count:g} / {base:g} "
                                 f"= {float(exact):.6g}, the rate says {float(measured.value):.6g} "
                                 f"(allowed difference {float(allowed):.2g})", row, column.label, raw)
        return derived

    def _check_total(self, row: int, text: str, values: dict[str, object], counts: list[_Column],
                     sums: dict[str, Decimal], unsummable: set[str]) -> None:
        ok = True
        for c in counts:
            raw = values.get(c.name)
            if (row, c.index) in self.grid.uncached:
                ok = False
                continue
            try:
                total = parse_count(raw, whole=c.name not in FLOAT_COUNTERS)
            except BadValue as exc:
                self.problem(f"{exc.why} (in the {text} row)", row, c.label, raw)
                ok = False
                continue
            if total is None or c.name in unsummable:
                continue
            if abs(Decimal(str(total)) - sums[c.name]) > _FLOAT_SLACK:
                self.problem(f"the {text} row says {total:,} but the days add up to {sums[c.name]:,}",
                             row, c.label, raw)
                ok = False
        if ok:
            self.notes.append(f"row {row}: {text} row skipped; its totals match the days")


def _cell(cells: Sequence[object], index: int) -> object:
    return cells[index] if index < len(cells) else None


def _no_header_why(grid: _Grid) -> str:
    for (row, _), cells in zip(grid.rows, grid.head):
        names = {column_for(c)[0] for c in cells} - {None}
        if len(names) >= 2:
            return (f"row {row} looks like the header ({', '.join(sorted(names))}) but has no date column "
                    "(日期 or date)")
    return (f"no header row found in the first {HEADER_SEARCH_ROWS} rows: expected a date column (日期 or date) "
            "and columns such as 受理量, 呼入量, 接通量 (see docs/data-formats.md)")
