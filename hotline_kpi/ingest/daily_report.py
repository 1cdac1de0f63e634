"""The hotline office's daily report: one row a day, as CSV or XLSX (source ``daily-report``).

Counts are the record; a rate column becomes a count only together with its base (接通率
with 呼入量 gives 接通量), because a rate alone cannot be summed into a year. The header is
found by its names (see :data:`~hotline_kpi.ingest.grid.HEADER_ALIASES` and docs/data-formats.md), below any
title rows; a 合计 row is checked against the days and skipped. The whole file is
read before anything is returned: every problem is reported at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Sequence


from hotline_kpi.ingest.excel import column_letter
from hotline_kpi.i18n import M_, join
from hotline_kpi.domain import COUNTERS, FLOAT_COUNTERS, DayRecord, ParsedFile
from hotline_kpi.ingest.base import MAX_COLUMNS, IngestContext, IngestRejected, Problem, ignored_note, require_clean
from hotline_kpi.problems import plain_number, written
from hotline_kpi.ingest.workbook import TABLE_SUFFIXES, WORKBOOK_SUFFIXES
from hotline_kpi.ingest.grid import (HEADER_ALIASES, HEADER_SEARCH_ROWS, Grid, column_for, csv_rows, find_header,
                                     no_header_why, read_grid, reject)
from hotline_kpi.ingest.report_layout import (AVERAGE, SUBTOTAL, TOTAL, TotalRow, header_rows, is_remark_row,
                                              no_figure, summary_label)
from hotline_kpi.ingest.text import (BadValue, Measured, decode_prefix, is_blank, normalise_text, parse_count,
                                     parse_date, parse_ratio, parse_seconds)

SOURCE = "daily-report"


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

_PROGRESS_EVERY = 200

@dataclass(frozen=True)
class _Column:
    index: int
    name: str
    label: str
    unit: str | None


def _label(cell: object, index: int, letters: bool) -> str:
    text = " ".join(str(cell).split())
    if not letters:
        return text
    return f"{text} ({column_letter(index + 1)})"


# --- the ingestor -------------------------------------------------------------------------------


class DailyReportIngestor:
    """Reads the office's daily report (CSV in UTF-8 or GB18030, or XLSX)."""

    source = SOURCE

    def sniff(self, path: Path, head: bytes) -> bool:
        """A table named like a daily report, or a CSV whose first lines hold its header (a name
        hint: :func:`~hotline_kpi.ingest.registry.detect_source` goes by content first)."""
        suffix = path.suffix.lower()
        if suffix not in TABLE_SUFFIXES:
            return False
        name = path.name.casefold()
        if any(word in name for word in ("日报", "daily", "report")):
            return True
        if suffix in WORKBOOK_SUFFIXES:
            return False  # content: read by detect_source
        text = decode_prefix(head)
        if text is None:
            return False
        for delimiter in (",", "\t", ";"):
            found = find_header(csv_rows(text, delimiter, HEADER_SEARCH_ROWS))
            if found is not None and found[1] >= 3:
                return True
        return False

    def parse(self, path: Path, ctx: IngestContext) -> ParsedFile:
        """Read every row of ``path``; raise :class:`IngestRejected` listing every problem.

        Row numbers in problems and records are those Excel or a text editor shows.
        """
        file = path.name
        notes: list[str] = []
        try:
            grid = read_grid(path, file, notes, ctx.sheet)
        except IngestRejected as exc:
            raise IngestRejected(exc.file, exc.problems, sheet=exc.sheet, notes=notes) from None
        try:
            return _Parser(grid, file, ctx, notes).run()
        except IngestRejected as exc:
            # The rejection of a workbook names the sheet read; the notes may tell why it failed.
            raise IngestRejected(exc.file, exc.problems, sheet=grid.sheet or exc.sheet, notes=notes) from None


# --- parsing rows -------------------------------------------------------------------------------------


class _Parser:
    """One pass over a grid; collects every problem, then hands over to require_clean."""

    def __init__(self, grid: Grid, file: str, ctx: IngestContext, notes: list[str]):
        self.grid, self.file, self.ctx, self.notes = grid, file, ctx, notes
        self.problems: list[Problem] = []
        self.records: list[DayRecord] = []
        #: Per count column, the sum of the cells read, for checking a 合计 row; a
        #: column with an unreadable cell cannot be checked (its problem is reported).
        self.sums: dict[str, Decimal] = {}
        self.unsummable: set[str] = set()
        #: The same since the last subtotal row (a week's days).
        self.part_sums: dict[str, Decimal] = {}
        self.part_unsummable: set[str] = set()
        #: (row, day) of rows with a date and no figures: blank rows of a template.
        self.blank_days: list[tuple[int, dt.date]] = []

    def named(self, name: str) -> str:
        """A figure as the file names it: its column's header, else its usual header (受理量...)."""
        return getattr(self, "labels", {}).get(name) or HEADER_ALIASES.get(name, (name,))[0]

    def problem(self, why: str, row: int | None = None, column: str | None = None, value: object = None,
                percent: bool = False) -> None:  # percent: the cell has a % number format (shown 55.30%)
        shown = None if value is None else written(value, percent)
        self.problems.append(Problem(self.file, why, row, column, shown))

    def run(self) -> ParsedFile:
        grid = self.grid
        head = header_rows(grid.head)
        found = find_header(head)
        if found is None:
            raise reject(self.file, no_header_why(grid))
        header_at = found[0]
        header_row = grid.rows[header_at][0]
        columns = self._columns(head[header_at])
        self.labels = {c.name: c.label for c in columns}
        date_col = next(c for c in columns if c.name == "date")
        known = {c.index for c in columns}
        for (row, col), formula in sorted(grid.uncached.items()):
            if row >= header_row and col in known:
                label = next(c.label for c in columns if c.index == col)
                self.problem(M_("formula {formula} has no cached value: the workbook was saved without being "
                                "calculated; open it in Excel and save it again", formula=formula), row, label, formula)
        for first, last, c1, c2 in grid.row_merges:
            hit = [c for c in columns if c1 <= c.index <= c2]
            if first > header_row and hit:
                self.problem(M_("cells merged over rows {first}-{last}: a value must belong to one day", first=first, last=last),
                             first, hit[0].label)
        body = grid.rows[header_at + 1:]
        self._rows(body, columns, date_col)
        if not self.records and not self.problems:
            if self.blank_days:
                raise reject(self.file, M_("all {n} dated rows below the header (row {row}) are without figures: "
                                           "nothing to load yet", n=len(self.blank_days), row=header_row))
            raise reject(self.file, M_("the header is at row {row} but no day rows follow it", row=header_row))
        labels = {c.name: c.label for c in columns}
        require_clean(self.records, self.ctx, self.file, self.problems, labels)
        derived = sorted({name for rec in self.records for name in rec.derived})
        if derived:
            self.notes.append(M_("derived from a rate and its base: {names}", names=join(map(self.named, derived))))
        return ParsedFile(SOURCE, tuple(self.records), tuple(self.notes))

    def _columns(self, header: Sequence[object]) -> list[_Column]:
        columns: list[_Column] = []
        ignored: list[str] = []
        seen: dict[str, _Column] = {}
        letters = self.grid.letters
        if len(header) > MAX_COLUMNS:
            raise reject(self.file, M_("the header has {n:,} columns, more than {max:,}: not a daily report",
                                       n=len(header), max=MAX_COLUMNS))
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
                self.problem(M_("unit ({unit}) not understood for {name}", unit=unit, name=label), column=label,
                             value=str(cell))
                continue
            if name in seen:
                self.problem(M_("two columns mean the same figure: {first} and {second}; keep one",
                                first=seen[name].label, second=label), column=label,
                             value=str(cell))
                continue
            seen[name] = _Column(i, name, label, unit)
            columns.append(seen[name])
        if ignored:
            self.notes.append(ignored_note(ignored))
        if len(columns) == 1:
            self.problem(M_("the header has a date column but no count or rate column"), column=columns[0].label)
        return columns

    def _rows(self, body: list[tuple[int, list[object]]], columns: list[_Column], date_col: _Column) -> None:
        counts = [c for c in columns if c.name in COUNTERS]
        self.sums = {c.name: Decimal(0) for c in counts}
        self.part_sums = dict(self.sums)
        known = {c.index for c in columns}
        figures = [c.index for c in columns if c.name != "date"]
        totals: list[TotalRow] = []
        summary_at: int | None = None
        hidden: list[tuple[int, dt.date]] = []
        progress = self.ctx.progress
        for done, (row, cells) in enumerate(body, 1):
            if progress is not None and (done % _PROGRESS_EVERY == 0 or done == len(body)):
                progress(done, len(body))
            if all(is_blank(c) for c in cells):
                continue
            texts = [str(c).strip() for c in cells if not is_blank(c)]
            if is_remark_row(cells):
                # Footnotes and signatures ("注：…", "制表人：张三 … 审核人：李四"), in any cells.
                self.notes.append(M_("row {row}: remark skipped: {text}", row=row, text=" … ".join(texts)[:80]))
                continue
            raw_date = _cell(cells, date_col.index)
            label = summary_label(cells, date_col.index, known)
            marker = normalise_text(label).casefold() if label else ""
            if TOTAL.match(marker) or AVERAGE.match(marker):
                assert label is not None
                if AVERAGE.match(marker):
                    self.notes.append(M_("row {row}: {label} row skipped", row=row, label=label))
                    summary_at = summary_at or row
                    continue
                values = {c.name: _cell(cells, c.index) for c in counts}
                if SUBTOTAL.match(marker):
                    # A week's subtotal: checked against the days since the previous one,
                    # or since the first day (a running subtotal); days may follow.
                    totals.append(TotalRow(row, label, values, dict(self.part_sums), set(self.part_unsummable),
                                            running=dict(self.sums), running_unsummable=set(self.unsummable)))
                    self.part_sums = {name: Decimal(0) for name in self.part_sums}
                    self.part_unsummable = set()
                else:
                    # Checked against the days above it, once every row is read.
                    totals.append(TotalRow(row, label, values, dict(self.sums), set(self.unsummable)))
                    summary_at = summary_at or row
                continue
            if all(no_figure(_cell(cells, i)) for i in figures):
                day = self._blank_day(raw_date)
                if day is not None:
                    self.blank_days.append((row, day))
                    continue
            record = self._day(row, cells, columns, date_col)
            if summary_at is not None:
                self.problem(M_("a day row after the total row at row {row}", row=summary_at), row, date_col.label,
                             raw_date)
            if record is not None:
                self.records.append(record)
                if row in self.grid.hidden_rows:
                    hidden.append((row, record.day))
        for total in totals:
            self._check_total(total, counts)
        if self.blank_days:
            days = sorted(day for _, day in self.blank_days)
            n = len(days)
            span = days[0].isoformat() if n == 1 else f"{days[0].isoformat()} … {days[-1].isoformat()}"
            self.notes.append(M_("{n} dated row(s) without figures skipped ({span})", n=n, span=span))
        if hidden:
            rows = join([M_("row {row} ({day})", row=r, day=d.isoformat()) for r, d in hidden[:20]])
            self.notes.append(M_("{n} hidden row(s) (a filter, or hidden by hand) loaded like the others: {rows}{more}",
                                 n=len(hidden), rows=rows, more=" ..." if len(hidden) > 20 else ""))

    def _blank_day(self, raw_date: object) -> dt.date | None:
        """The date of a row without figures, or None when its date cell is not a date
        (then the row is read as any other and its date reported)."""
        try:
            return parse_date(raw_date, epoch=self.grid.epoch)
        except BadValue:
            return None

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
                    self.problem(M_("the row has figures but no date"), row, date_col.label)
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
                        self.part_sums[c.name] += Decimal(str(count))
            except BadValue as exc:
                self.problem(exc.why, row, c.label, value, (row, c.index) in self.grid.percent_cells)
                bad.add(c.name)
        self.unsummable |= bad
        self.part_unsummable |= bad
        derived = self._apply_rates(row, counters, rates, bad, {c.name for c in columns})
        if day is None:
            return None
        # Kept even when a cell was bad (the file is rejected anyway): the shared checks
        # then also report this row's other faults, a day twice or a future date.
        return DayRecord(day=day, counters=counters, derived=frozenset(derived), row=row, labels=self.labels)

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
            pct = (row, column.index) in self.grid.percent_cells
            base_name = spec.denominator or (
                "calls_offered" if self.ctx.formulas.within_15s_denominator == "offered" else "calls_answered")
            if base_name in bad or spec.numerator in bad:
                continue  # already reported: a second message about the same cell helps no one
            base = counters.get(base_name)
            if base is None:
                where = (M_("{name} is empty on this row", name=self.named(base_name))
                         if base_name in present or base_name in derived else M_("{name} has no column",
                                                                                 name=self.named(base_name)))
                self.problem(M_("a rate without its base cannot be summed into a year: {where}", where=where),
                             row, column.label, raw, pct)
                continue
            count = counters.get(spec.numerator)
            if base == 0:
                # Nothing to take a rate of: Excel would have shown #DIV/0!.
                if measured.value != 0:
                    self.problem(M_("a value above 0 on a day with {name} 0", name=self.named(base_name)), row,
                                 column.label, raw, pct)
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
                    shown = (lambda d: plain_number(round(d, 4))) if spec.seconds else (  # noqa: E731
                        lambda d: plain_number(round(100 * d, 4)) + "%")
                    self.problem(M_("does not match the counts: {num} / {den} = {count} / {base} = {exact}, "
                                    "the rate says {said} (allowed difference {allowed})",
                                    num=self.named(spec.numerator), den=self.named(base_name), count=plain_number(count),
                                    base=plain_number(base), exact=shown(exact), said=shown(measured.value),
                                    allowed=shown(allowed - _FLOAT_SLACK)), row, column.label, raw, pct)
        return derived

    def _check_total(self, total: TotalRow, counts: list[_Column]) -> None:
        read: dict[str, tuple[_Column, object, int | float]] = {}
        ok = True
        for c in counts:
            raw = total.values.get(c.name)
            if (total.row, c.index) in self.grid.uncached:
                ok = False
                continue
            try:
                value = parse_count(raw, whole=c.name not in FLOAT_COUNTERS)
            except BadValue as exc:
                self.problem(M_("{why} (in the {label} row)", why=exc.why, label=total.label), total.row, c.label, raw)
                ok = False
                continue
            if value is not None and c.name not in total.unsummable:
                read[c.name] = (c, raw, value)
        if not ok:
            return

        def matches(sums: dict[str, Decimal]) -> bool:
            return all(abs(Decimal(str(v)) - sums[n]) <= _FLOAT_SLACK for n, (_, _, v) in read.items())

        if matches(total.sums):
            self.notes.append(M_("row {row}: {label} row skipped; its totals match the days", row=total.row,
                                 label=total.label))
            return
        if total.running is not None and total.running_unsummable is not None:
            running = {n: v for n, v in read.items() if n not in total.running_unsummable}
            if running == read and matches(total.running):
                self.notes.append(M_("row {row}: {label} row skipped; its totals match the days so far",
                                     row=total.row, label=total.label))
                return
        for name, (c, raw, value) in read.items():
            if abs(Decimal(str(value)) - total.sums[name]) > _FLOAT_SLACK:
                since = M_(" since the previous subtotal") if total.running is not None else ""
                self.problem(M_("the {label} row says {value:,} but the days{since} add up to {sum:,}",
                                label=total.label, value=value, since=since, sum=total.sums[name]), total.row, c.label, raw)


def _cell(cells: Sequence[object], index: int) -> object:
    return cells[index] if index < len(cells) else None


