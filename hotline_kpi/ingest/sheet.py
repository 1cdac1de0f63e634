"""Record exports (one row per ticket or callback) as CSV or a workbook: header, rows, times.

The ticket and callback systems export a table with a header row (possibly below a
title row) and one row per record. This module finds the header by its names, hands out
the rows as {canonical column: cell}, and reads the moments those systems write
("2019-01-01 08:30:05", "2019/1/1 8:30", "2019年1月1日 08:30", XLSX date-times, Excel
serial numbers), in the hotline's zone. Decoding and normalising reuse :mod:`.text`.

Workbooks: .xlsx through openpyxl; Excel 97-2003 .xls, WPS .et, .ods and .xlsb through
python-calamine; which sheet is read: :mod:`.workbook`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from itertools import chain
from typing import Iterator, Mapping
from zoneinfo import ZoneInfo


from hotline_kpi.ingest.excel import WINDOWS_EPOCH, column_letter, from_excel
from hotline_kpi.i18n import M_, Msg, join, q
from hotline_kpi.ingest.base import MAX_COLUMNS, IngestRejected, Problem, Progress, ignored_note
from hotline_kpi.ingest.datefault import date_fault
from hotline_kpi.ingest.text import BadValue, UndecodableText, decode_bytes, error_text, header_key, is_blank
from hotline_kpi.ingest.workbook import (SheetInfo, calamine_rows, calamine_sheet_infos, choose_sheet, open_calamine,
                                         workbook_kind)

#: Rows searched for the header (title rows may sit above it).
HEADER_SEARCH_ROWS = 20
_PROGRESS_EVERY = 1000


@dataclass(frozen=True)
class Column:
    index: int
    name: str
    #: How problems name the column: its header text, with the letter in XLSX ("受理时间 (B)").
    label: str


@dataclass
class Table:
    """The header of an export and an iterator over its rows (row number, {name: cell})."""

    columns: dict[str, Column]
    rows: Iterator[tuple[int, dict[str, object]]]
    #: Header cells that matched no known column.
    ignored: list[str]
    notes: list[str]
    #: Day 0 of serial numbers: the workbook's (1900 or 1904 system); CSV assumes 1900.
    epoch: dt.datetime = WINDOWS_EPOCH
    #: The sheet read, for a workbook ("" for CSV): rejections name it.
    sheet: str = ""


def alias_index(aliases: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    index: dict[str, str] = {}
    for column, names in aliases.items():
        for alias in (column, *names):
            key = header_key(alias)
            if index.setdefault(key, column) != column:
                raise AssertionError(f"header alias {alias!r} maps to both {index[key]} and {column}")
    return index


def has_header(rows: list[list[object]], aliases: Mapping[str, tuple[str, ...]], required: tuple[str, ...]) -> bool:
    """Whether one of ``rows`` holds every ``required`` column under one of its ``aliases``."""
    index = alias_index(aliases)
    return _find_header(list(enumerate(rows, 1)), index, required) is not None


def read_table(path: Path, aliases: Mapping[str, tuple[str, ...]], required: tuple[str, ...],
               describe: str, progress: Progress | None = None, sheet: str | None = None) -> Table:
    """Open a CSV or workbook export and find its header; raise :class:`IngestRejected` if none.

    ``required`` columns must all be in the header row; ``describe`` names the export in
    messages ("ticket export"). ``progress`` is called with (rows read, rows in the file).
    ``sheet`` (``--sheet``) chooses the sheet of a workbook (see :func:`choose_sheet`).
    """
    file = path.name
    index = alias_index(aliases)
    try:
        with path.open("rb") as f:
            magic = f.read(128)
    except OSError as exc:
        raise IngestRejected(file, [Problem(file, M_("cannot read the file: {error}", error=exc.strerror or str(exc)))]) from None
    totals: dict[str, int] = {}
    kind = workbook_kind(path, magic)
    infos: list[SheetInfo] = []
    if kind == "openpyxl":
        grids = _xlsx_sheets(path, file, totals, infos)
    elif kind == "calamine":
        grids = _calamine_sheets(path, file, totals, infos)
    elif path.suffix.lower() in (".xlsx", ".xlsm") and magic:
        raise IngestRejected(file, [Problem(file, M_("not an XLSX workbook (it is not a zip archive)"))])
    else:
        grids = [("", _csv_rows(path, file, totals), False, WINDOWS_EPOCH)]
    heads: dict[str, list[tuple[int, list[object]]]] = {}
    for (name, rows, _, _), info in zip(grids, infos or [SheetInfo("")]):
        if info.hidden and name != sheet:
            continue  # never read: not even its head
        head: list[tuple[int, list[object]]] = []
        for item in rows:
            head.append(item)
            if len(head) >= HEADER_SEARCH_ROWS:
                break
        heads[name] = head
        info.header = _find_header(head, index, required) is not None
        if not info.header:
            info.why = _why_no_header(head, index, required, describe, "", aliases)
    choice_notes: list[str] = []
    if infos:
        chosen = choose_sheet(file, infos, sheet, describe, choice_notes)
    else:
        chosen = ""
        if not heads[""]:
            raise IngestRejected(file, [Problem(file, M_("the file is empty"))])
    for name, rows, letters, epoch in grids:
        if name != chosen:
            continue
        head = heads.get(name)
        if head is None:  # a hidden sheet named by --sheet
            head = []
            for item in rows:
                head.append(item)
                if len(head) >= HEADER_SEARCH_ROWS:
                    break
        found = _find_header(head, index, required)
        if found is None:
            raise IngestRejected(file, [Problem(file, _why_no_header(head, index, required, describe, "", aliases))],
                                 sheet=chosen or None, notes=choice_notes)
        at, row_no = found
        cells = head[at][1]
        columns: dict[str, Column] = {}
        ignored: list[str] = []
        problems: list[Problem] = []
        for i, cell in enumerate(cells):
            if is_blank(cell):
                continue
            text = " ".join(str(cell).split())
            label = f"{text} ({column_letter(i + 1)})" if letters else text
            name = index.get(header_key(str(cell)))
            if name is None:
                ignored.append(label)
            elif name in columns:
                problems.append(Problem(file, M_("two columns mean the same figure: {first} and {second}; keep one",
                                                   first=columns[name].label, second=label),
                                        row_no, label, text))
            else:
                columns[name] = Column(i, name, label)
        if problems:
            raise IngestRejected(file, problems, sheet=chosen or None, notes=choice_notes)
        notes = choice_notes
        if ignored:
            notes.append(ignored_note(ignored))

        def body(rest=head[at + 1:], rows=rows, columns=columns, total=totals.get(sheet, 0)
                 ) -> Iterator[tuple[int, dict[str, object]]]:
            row_no = 0
            for row_no, cells in chain(rest, rows):
                if progress is not None and not row_no % _PROGRESS_EVERY:
                    progress(row_no, max(total, row_no))
                if all(is_blank(c) for c in cells):
                    continue
                yield row_no, {c.name: (cells[c.index] if c.index < len(cells) else None) for c in columns.values()}
            if progress is not None:
                progress(row_no, row_no)

        return Table(columns, body(), ignored, notes, epoch, chosen)
    raise AssertionError(f"sheet {chosen!r} vanished")  # pragma: no cover - chosen among grids


def _find_header(head: list[tuple[int, list[object]]], index: dict[str, str],
                 required: tuple[str, ...]) -> tuple[int, int] | None:
    for i, (row_no, cells) in enumerate(head):
        names = {index.get(header_key(str(c))) for c in cells if not is_blank(c)}
        if all(r in names for r in required):
            return i, row_no
    return None


def _why_no_header(head: list[tuple[int, list[object]]], index: dict[str, str], required: tuple[str, ...],
                   describe: str, sheet: str, aliases: Mapping[str, tuple[str, ...]] | None = None) -> Msg:
    where = M_("sheet {sheet}: ", sheet=q(sheet)) if sheet else ""
    shown = {r: (aliases or {}).get(r, (r,))[0] for r in required}
    best: tuple[int, int, set[str]] | None = None
    for row_no, cells in head:
        names = {index.get(header_key(str(c))) for c in cells if not is_blank(c)} - {None}
        if names and (best is None or len(names) > len(best[2])):
            best = (row_no, len(names), names)  # type: ignore[arg-type]
    if best is None:
        return M_("{where}no header row of a {describe} in the first {n} rows (expected columns {columns}; "
                  "see docs/data-formats.md)", where=where, describe=describe, n=HEADER_SEARCH_ROWS,
                  columns=join(shown[r] for r in required))
    missing = [shown[r] for r in required if r not in best[2]]
    return M_("{where}row {row} looks like the header of a {describe} but lacks {columns}", where=where,
              row=best[0], describe=describe, columns=join(missing))


def _csv_rows(path: Path, file: str, totals: dict[str, int]) -> Iterator[tuple[int, list[object]]]:
    data = path.read_bytes()
    if not data.strip():
        raise IngestRejected(file, [Problem(file, M_("the file is empty"))])
    try:
        text = decode_bytes(data).text
    except UndecodableText as exc:
        raise IngestRejected(file, [Problem(file, exc.why)]) from None
    totals[""] = text.count("\n") + 1
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = max((",", "\t", ";"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 1

    def rows() -> Iterator[tuple[int, list[object]]]:
        nonlocal line
        try:
            for cells in reader:
                yield line, list(cells)
                line = reader.line_num + 1  # a quoted cell may span lines
        except csv.Error as exc:
            raise IngestRejected(file, [Problem(file, M_("not valid CSV: {error}", error=str(exc)), line)]) from None

    return rows()


def _calamine_sheets(path: Path, file: str, totals: dict[str, int], infos: list[SheetInfo]
                     ) -> list[tuple[str, Iterator[tuple[int, list[object]]], bool, dt.datetime]]:
    """The sheets of an .xls/.et/.ods/.xlsb (python-calamine gives dates as dates, in
    either date system, so the epoch does not matter)."""
    wb = open_calamine(path, file)
    infos += calamine_sheet_infos(wb)

    def rows(name: str) -> Iterator[tuple[int, list[object]]]:
        cells = calamine_rows(wb, name, file)
        totals[name] = len(cells)
        for r, row in enumerate(cells, 1):
            if len(row) > MAX_COLUMNS:
                letter = column_letter(MAX_COLUMNS + 1)
                raise IngestRejected(file, [Problem(file, M_("sheet {sheet}: a cell beyond column {letter}: an export "
                                                       "has at most {max:,} columns", sheet=q(name), letter=letter,
                                                       max=MAX_COLUMNS), r)])
            yield r, row

    return [(i.name, rows(i.name), True, WINDOWS_EPOCH) for i in infos]


def _xlsx_sheets(path: Path, file: str, totals: dict[str, int], infos: list[SheetInfo]
                 ) -> list[tuple[str, Iterator[tuple[int, list[object]]], bool, dt.datetime]]:
    # Read-only mode streams the rows: exports can hold hundreds of thousands of records.
    try:
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - a damaged workbook fails in any of openpyxl's parsers
        raise IngestRejected(file, [Problem(file, M_("not a readable XLSX workbook ({error})", error=error_text(exc)))]
                             ) from None
    epoch = wb.epoch

    def rows(ws) -> Iterator[tuple[int, list[object]]]:  # type: ignore[no-untyped-def]
        # Read-only mode parses the sheet while it is iterated: damage shows only here.
        parsed, r = ws.iter_rows(values_only=True), 0
        while True:
            try:
                cells = next(parsed)
            except StopIteration:
                return
            except Exception as exc:  # noqa: BLE001 - a damaged sheet fails in any of openpyxl's parsers
                raise IngestRejected(file, [Problem(file, M_("sheet {sheet} is damaged after row {row:,} ({error})", sheet=q(ws.title),
                                                       row=r, error=error_text(exc)), r + 1)]) from None
            r += 1
            if len(cells) > MAX_COLUMNS:  # blank styled cells far right are dropped; a value there is refused
                beyond = next((i for i in range(MAX_COLUMNS, len(cells)) if not is_blank(cells[i])), None)
                if beyond is not None:
                    letter = column_letter(beyond + 1)
                    raise IngestRejected(file, [Problem(
                        file, M_("a cell in column {letter} ({n:,}): an export has at most {max:,} columns; delete "
                                 "the cells beyond the table", letter=letter, n=beyond + 1, max=MAX_COLUMNS),
                        r, letter, str(cells[beyond]))])
                cells = cells[:MAX_COLUMNS]
            yield r, list(cells)

    active = wb.active.title if wb.active is not None else None
    for ws in wb.worksheets:
        infos.append(SheetInfo(ws.title, ws.sheet_state != "visible", ws.title == active))
        totals[ws.title] = ws.max_row or 0
        # The declared dimension (<dimension ref="A1:XFD1048576"/>) would pad every row to
        # its width: read each row only as wide as its own cells.
        ws.reset_dimensions()
    return [(ws.title, rows(ws), True, epoch) for ws in wb.worksheets]


# --- moments ----------------------------------------------------------------------------------

_MOMENT = re.compile(
    r"^(?P<y>\d{4})(?:[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})|年(?P<m2>\d{1,2})月(?P<d2>\d{1,2})日?)"
    r"(?:[t ]*(?P<H>\d{1,2})(?::|时)(?P<M>\d{2})分?(?::?(?P<S>\d{2})(?:\.(?P<f>\d{1,6}))?秒?)?)?"
    r"(?P<tz>z|[+-]\d{2}:?\d{2})?$"
)


def parse_moment(value: object, zone: ZoneInfo, *, epoch: dt.datetime = WINDOWS_EPOCH) -> dt.datetime | None:
    """An aware moment from a cell; a time without zone is in ``zone`` (the hotline's).

    Accepts XLSX date-times, "2019-01-01 08:30:05", "2019/1/1 8:30", "2019年1月1日 08时30分",
    ISO with an offset, and Excel serial numbers with a fraction of a day. A date alone
    means its midnight. None when blank; raises :class:`BadValue` otherwise, also for an
    offset of a day or more and for a moment that cannot be expressed in ``zone`` or UTC
    (0001-01-01 00:00+08:00 is in year 0 in UTC): callers convert every moment.
    """
    try:
        moment = _parse_moment(value, zone, epoch)
        if moment is not None:
            moment.astimezone(zone)
            moment.astimezone(dt.timezone.utc)
    except OverflowError:  # also a number cell too big for a float
        raise BadValue(M_("date and time out of range")) from None
    return moment


def _parse_moment(value: object, zone: ZoneInfo, epoch: dt.datetime) -> dt.datetime | None:
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise BadValue(M_("expected a date and time, got a TRUE/FALSE cell"))
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(0), tzinfo=zone)
    if isinstance(value, (int, float)):
        return _serial(float(value), zone, epoch)
    if not isinstance(value, str):
        raise BadValue(M_("expected a date and time, got {kind}", kind=type(value).__name__))
    if len(value) >= 16 and value[4] == "-" and value.isascii():
        try:  # the common "2019-03-01 08:30:05", read in C
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
    text = " ".join(unicodedata.normalize("NFKC", value).split()).casefold()
    if re.fullmatch(r"\d{5}(?:\.\d+)?", text):
        return _serial(float(text), zone, epoch)
    m = _MOMENT.match(text)
    if not m:
        raise BadValue(M_("not a date and time (expected e.g. 2019-01-01 08:30:05 or 2019/1/1 8:30)"))
    month, day = m.group("m") or m.group("m2"), m.group("d") or m.group("d2")
    frac = (m.group("f") or "").ljust(6, "0")
    try:
        moment = dt.datetime(int(m.group("y")), int(month), int(day), int(m.group("H") or 0), int(m.group("M") or 0),
                             int(m.group("S") or 0), int(frac or 0))
    except ValueError:
        fault = date_fault(int(m.group("y")), int(month), int(day))
        raise BadValue(fault or M_("not a real time of day")) from None
    tz = m.group("tz")
    if tz:
        if tz == "z":
            return moment.replace(tzinfo=dt.timezone.utc)
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        if int(digits[:2]) > 23 or int(digits[2:]) > 59:
            raise BadValue(M_("not a time zone offset: {tz}", tz=tz))
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return moment.replace(tzinfo=dt.timezone(sign * offset))
    return moment.replace(tzinfo=zone)


def _serial(serial: float, zone: ZoneInfo, epoch: dt.datetime) -> dt.datetime:
    if not math.isfinite(serial) or serial < 1:
        raise BadValue(M_("not a date (serial number below 1)"))
    if int(serial) == 60 and epoch == WINDOWS_EPOCH:
        raise BadValue(M_("serial 60 is 29 February 1900, a day that does not exist (an Excel quirk)"))
    try:
        moment = from_excel(serial, epoch)
    except (OverflowError, ValueError):
        raise BadValue(M_("date serial number out of range")) from None
    return moment.replace(tzinfo=zone)


@lru_cache(maxsize=4096)
def value_key(text: str) -> str:
    """:func:`~hotline_kpi.ingest.text.header_key` of a cell value, cached: exports repeat a
    few values (派单, 是, 话务员有责) hundreds of thousands of times."""
    return header_key(text)


def cell_text(value: object) -> str:
    """A cell as text: NFKC, surrounding whitespace removed; "" when blank."""
    if value is None:
        return ""
    if isinstance(value, str) and value.isascii():
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()
