"""Workbooks beyond what openpyxl reads, and which sheet of a workbook is read.

Excel 97-2003 .xls, WPS .et, .ods and .xlsb are opened with python-calamine (dates come as
dates in either date system). :func:`choose_sheet` decides the sheet for the daily report
(:mod:`.grid`) and the exports (:mod:`.sheet`) alike: the one visible sheet with a
recognised header; a hidden sheet is never read unless ``--sheet`` names it; several
candidates are an error naming them. :func:`peek_tables` gives source recognition
(:mod:`.registry`) the first rows of each visible sheet, or of a text file.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


from hotline_kpi.i18n import M_, Msg, join, q
from hotline_kpi.ingest.base import MAX_COLUMNS
from hotline_kpi.ingest.text import decode_prefix, error_text, header_key, is_blank
from hotline_kpi.problems import IngestRejected, Problem

#: Rows of each sheet (or lines of a text) that source recognition looks at.
PEEK_ROWS = 20

#: Workbook file names: read as workbooks when their bytes are (a .xls that is really
#: tab-separated text, as some systems export, is read as text).
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".et", ".ett", ".ods", ".xlsb")
#: Names a source's name hint applies to: text tables and workbooks.
TABLE_SUFFIXES = (".csv", ".txt", ".tsv", *WORKBOOK_SUFFIXES)
#: The start of an OLE2 compound file: Excel 97-2003 .xls, WPS .et, or an encrypted workbook.
OLE_MAGIC = b"\xd0\xcf\x11\xe0"


def workbook_kind(path: Path, magic: bytes) -> str | None:
    """"openpyxl" (an .xlsx), "calamine" (.xls/.et/.ods/.xlsb), or None (text) from the first
    128 bytes and the name. A zip is an .xlsx unless it says it is OpenDocument or is named .xlsb."""
    suffix = path.suffix.lower()
    if magic.startswith(b"PK\x03\x04"):
        if suffix in (".ods", ".xlsb") or b"opendocument" in magic:
            return "calamine"
        return "openpyxl"
    if magic.startswith(OLE_MAGIC):
        return "calamine"
    return None


def open_calamine(path: Path, file: str):  # type: ignore[no-untyped-def]
    """The python-calamine workbook of ``path``; :class:`IngestRejected` if it cannot be read."""
    from python_calamine import CalamineWorkbook

    try:
        return CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # noqa: BLE001 - calamine raises its own errors and ValueError/OSError
        raise IngestRejected(file, [Problem(file, M_("not a readable workbook ({error}); an encrypted workbook must be saved "
                                               "without a password", error=error_text(exc)))]) from None


def calamine_sheet_infos(wb) -> list["SheetInfo"]:  # type: ignore[no-untyped-def]
    from python_calamine import SheetTypeEnum, SheetVisibleEnum

    return [SheetInfo(m.name, m.visible != SheetVisibleEnum.Visible)
            for m in wb.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]


@lru_cache(maxsize=4)
def _xls_errors(path: str, size: int, mtime_ns: int) -> dict[str, dict[tuple[int, int], str]]:
    """{sheet: {(row, column), 0-based: "#N/A"}}: the error cells of an Excel 97-2003 file.

    python-calamine gives an error cell (a constant #N/A or a formula showing #DIV/0!) as
    an empty cell, which would load as an unknown figure; xlrd keeps its type and code.
    Empty when xlrd cannot read the file (a WPS .et it does not know): calamine's reading
    stands then."""
    import xlrd

    errors: dict[str, dict[tuple[int, int], str]] = {}
    try:
        book = xlrd.open_workbook(path, on_demand=True, logfile=io.StringIO())
    except Exception:  # noqa: BLE001 - xlrd raises its own errors on what calamine reads
        return errors
    try:
        for index, name in enumerate(book.sheet_names()):
            sheet = book.sheet_by_index(index)
            found = errors.setdefault(name, {})
            for r in range(sheet.nrows):
                for c, kind in enumerate(sheet.row_types(r)):
                    if kind == xlrd.XL_CELL_ERROR:
                        code = sheet.cell_value(r, c)
                        found[(r, c)] = xlrd.error_text_from_code.get(code, f"#ERROR {code}")
            book.unload_sheet(index)
    except Exception:  # noqa: BLE001
        return {}
    finally:
        book.release_resources()
    return errors


def error_cells(wb, name: str) -> dict[tuple[int, int], str]:  # type: ignore[no-untyped-def]
    """The error cells of sheet ``name`` of an .xls/.et read by calamine (see :func:`_xls_errors`)."""
    path = getattr(wb, "path", None)
    if not path:
        return {}
    try:
        with open(path, "rb") as f:
            magic = f.read(8)
        stat = Path(path).stat()
    except OSError:
        return {}
    if magic.startswith(OLE_MAGIC):
        return _xls_errors(str(path), stat.st_size, stat.st_mtime_ns).get(name, {})
    if magic.startswith(b"PK") and str(path).lower().endswith(".ods"):
        return _ods_errors(str(path), stat.st_size, stat.st_mtime_ns).get(name, {})
    return {}


@lru_cache(maxsize=4)
def _ods_errors(path: str, size: int, mtime_ns: int) -> dict[str, dict[tuple[int, int], str]]:
    """The error cells of an .ods (calcext:value-type="error", as LibreOffice writes them)."""
    import zipfile
    from xml.etree import ElementTree as ET

    t = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
    calcext = "{urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0}value-type"
    errors: dict[str, dict[tuple[int, int], str]] = {}
    try:
        with zipfile.ZipFile(path) as z, z.open("content.xml") as f:
            found: dict[tuple[int, int], str] = {}
            row = 0
            for _, el in ET.iterparse(f, events=("end",)):
                if el.tag == f"{t}table":
                    errors[el.get(f"{t}name", "")], found, row = found, {}, 0
                    el.clear()
                elif el.tag == f"{t}table-row":
                    col = 0
                    for cell in el:
                        if cell.get(calcext) == "error":
                            found[(row, col)] = "".join(cell.itertext()).strip() or "#ERROR"
                        col += int(cell.get(f"{t}number-columns-repeated", "1"))
                    row += int(el.get(f"{t}number-rows-repeated", "1"))
                    el.clear()
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, ET.ParseError):
        return {}
    return errors


def calamine_rows(wb, name: str, file: str, limit: int | None = None) -> list[list[object]]:  # type: ignore[no-untyped-def]
    """The rows of sheet ``name`` from A1 (blank cells None, whole floats as int; an error
    cell of an .xls as its text, "#N/A", as openpyxl gives it for an .xlsx)."""
    try:
        sheet = wb.get_sheet_by_name(name)
        rows = sheet.to_python(skip_empty_area=False, nrows=limit)
    except Exception as exc:  # noqa: BLE001
        raise IngestRejected(file, [Problem(file, M_("sheet {sheet} is damaged ({error})", sheet=q(name),
                                                       error=error_text(exc)))]
                             ) from None
    errors = error_cells(wb, name)
    out: list[list[object]] = []
    for r, cells in enumerate(rows):
        row: list[object] = []
        for c, v in enumerate(cells):
            if isinstance(v, str) and v == "":
                v = errors.get((r, c))
            elif isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 53:
                v = int(v)
            row.append(v)
        while row and row[-1] is None:
            row.pop()
        out.append(row)
    return out


def peek_tables(path: Path, head: bytes, limit: int | None = None) -> list[tuple[str, list[list[object]]]]:
    """The first ``limit`` rows of each visible sheet of a workbook (cheaply: read-only,
    no more rows), or of a text file split at commas, tabs and semicolons (one table
    each): what source recognition looks at. Empty when nothing can be read."""
    limit = limit or PEEK_ROWS
    kind = workbook_kind(path, head[:128])
    tables: list[tuple[str, list[list[object]]]] = []
    try:
        if kind == "openpyxl":
            from openpyxl import load_workbook  # (imported only when a workbook is read)

            wb = load_workbook(path, read_only=True, data_only=True)
            try:
                for ws in wb.worksheets:
                    if ws.sheet_state != "visible":
                        continue
                    ws.reset_dimensions()
                    rows = [list(r[:MAX_COLUMNS]) for r, _ in zip(ws.iter_rows(values_only=True), range(limit))]
                    tables.append((ws.title, rows))
            finally:
                wb.close()
        elif kind == "calamine":
            wb = open_calamine(path, path.name)
            for info in calamine_sheet_infos(wb):
                if not info.hidden:
                    tables.append((info.name, calamine_rows(wb, info.name, path.name, limit)))
        else:
            text = decode_prefix(head)
            if text:
                lines = text.splitlines()[:limit]
                if len(lines) > 1 and len(head) >= 4096:
                    lines = lines[:-1]  # the last line may be cut
                for delimiter in (",", "\t", ";"):
                    tables.append(("", [list(r) for r in csv.reader(lines, delimiter=delimiter)]))
    except Exception:  # noqa: BLE001 - a damaged file: recognised by name, rejected by its ingestor
        return tables
    return tables


def seen_text(tables: list[tuple[str, list[list[object]]]], head: bytes) -> Msg:
    """What an error says was seen: the first non-blank row of each sheet, or the first line."""
    shown: list[str] = []
    for name, rows in tables:
        if not name:
            break
        first = next((r for r in rows if any(not is_blank(c) for c in r)), None)
        cells = ", ".join(" ".join(str(c).split()) for c in (first or []) if not is_blank(c))[:200]
        shown.append(M_("sheet {sheet}: {what}", sheet=q(name),
                        what=M_("first row {cells}", cells=cells) if first else M_("empty")))
    if shown:
        return join(shown, "; ")
    text = decode_prefix(head)
    if text is None:
        return M_("binary data, not text") if head else M_("an empty file")
    first_line = next((ln for ln in text.splitlines() if ln.strip()), "")
    return M_("first line {line}", line=q(first_line[:200])) if first_line else M_("an empty file")


@dataclass
class SheetInfo:
    """What sheet choice knows of one sheet."""

    name: str
    hidden: bool = False
    active: bool = False
    #: Whether a header of the wanted kind was found in its first rows.
    header: bool = False
    #: Why it is not read although it has a header (a month summary), or why it has none.
    why: str = ""
    summary: bool = False


def _quoted(names: list[str]) -> Msg:
    return join(q(n) for n in names)


def choose_sheet(file: str, sheets: list[SheetInfo], wanted: str | None, describe: str,
                 notes: list[str]) -> str:
    """The sheet to read, or :class:`IngestRejected` naming every sheet that could be meant.

    ``wanted`` (``--sheet``) wins, even over a hidden sheet (with a note). Otherwise the
    candidates are the visible sheets with a recognised header that do not look like a
    summary; exactly one is read. A hidden sheet is never read: a note says so.
    """
    names = [s.name for s in sheets]
    if not sheets:
        raise IngestRejected(file, [Problem(file, M_("the workbook has no worksheets"))])
    if wanted is not None:
        match = next((s for s in sheets if s.name == wanted), None) or next(
            (s for s in sheets if header_key(s.name) == header_key(wanted)), None)
        if match is None:
            raise IngestRejected(file, [Problem(file, M_("no sheet named {wanted} (--sheet); the workbook's sheets: {names}",
                                                   wanted=q(wanted), names=_quoted(names)))])
        notes.append(M_("read sheet {sheet} (--sheet), a hidden sheet", sheet=q(match.name)) if match.hidden
                     else M_("read sheet {sheet} (--sheet)", sheet=q(match.name)))
        return match.name
    hidden = [s.name for s in sheets if s.hidden]
    if hidden:
        notes.append(M_("hidden sheet(s) {sheets} not read: a hidden sheet is never read unless "
                        "--sheet names it", sheets=_quoted(hidden)))
    visible = [s for s in sheets if not s.hidden]
    found = [s for s in visible if s.header and not s.summary]
    summaries = [s for s in visible if s.header and s.summary]
    if len(found) == 1:
        for s in summaries:
            notes.append(M_("sheet {sheet} not read: {why}", sheet=q(s.name), why=s.why))
        if len(sheets) > 1:
            notes.append(M_("read sheet {sheet}", sheet=q(found[0].name)))
        return found[0].name
    if len(found) > 1:
        active = next((s.name for s in found if s.active), None)
        also = M_(" (the active one is {sheet})", sheet=q(active)) if active else ""
        raise IngestRejected(file, [Problem(file, M_(
            "several sheets hold a {describe}: {sheets}{also}; choose one with --sheet NAME, or keep one such "
            "sheet per workbook (the inbox cannot be told which)", describe=describe,
            sheets=_quoted([s.name for s in found]), also=also))])
    if summaries:
        raise IngestRejected(file, [Problem(file, M_("sheet {sheet}: {why}; not read as daily data (name it with --sheet NAME "
                                               "if it does hold days)", sheet=q(s.name), why=s.why)) for s in summaries])
    problems = [Problem(file, M_("sheet {sheet}: {why}", sheet=q(s.name), why=s.why)) for s in visible]
    if hidden:
        notes.pop()  # the hidden sheets are a problem here, not a note
        problems.append(Problem(file, M_("hidden sheet(s) {sheets} not read (name one with --sheet)", sheets=_quoted(hidden))))
    raise IngestRejected(file, problems)
