"""Decoding and cell-value parsing shared by the ingestors of office spreadsheets and CSVs.

Small pure functions: bytes -> text, header text -> matching key, and one cell (a string
from a CSV, or whatever openpyxl returns) -> a number, a ratio or a date. Each raises
:class:`BadValue` with a reason a person can act on; callers turn that into a
:class:`~hotline_kpi.ingest.base.Problem` with the file, row and column. ``None`` as a
result always means "unknown" (an empty cell, "—", "/", "N/A"), never 0.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


from hotline_kpi.ingest.excel import WINDOWS_EPOCH, from_excel
from hotline_kpi.i18n import M_, Msg
from hotline_kpi.ingest.datefault import date_fault


class BadValue(ValueError):
    """A cell (or a whole text) could not be read; ``why`` says what was expected."""

    def __init__(self, why: str):
        self.why = why
        super().__init__(why)


class UndecodableText(BadValue):
    """Bytes that are neither UTF-8 nor GB18030; ``offset`` is the first bad byte (or None)."""

    def __init__(self, why: str, offset: int | None = None):
        self.offset = offset
        super().__init__(why)


def error_text(exc: BaseException) -> Msg:
    """What a library's exception says, for a message: the kind of damage in the office's
    language where it is known; the library's own (English) words only in English."""
    import zipfile

    if isinstance(exc, zipfile.BadZipFile):
        return M_("not a zip archive")
    return M_("{kind}: {detail}", kind=type(exc).__name__, detail=str(exc))


# --- bytes -> text ------------------------------------------------------------------------


@dataclass(frozen=True)
class Decoded:
    text: str
    #: "utf-8" (with or without BOM: the BOM is removed), "utf-16" (BOM required) or "gb18030".
    encoding: str
    had_bom: bool = False


def decode_bytes(data: bytes) -> Decoded:
    """Decode a whole file strictly: UTF-8 (BOM optional), else GB18030, else raise.

    UTF-8 is tried first because UTF-8 bytes usually also decode as GB18030, silently,
    into mojibake; the reverse almost never happens. GB18030 is a superset of GBK and
    GB2312, so one attempt covers all three (and 䶮 or € that GBK lacks). UTF-16 with its
    BOM is what Excel's "Unicode text" saves (tab-separated): decoded strictly too. Raises
    :class:`UndecodableText` for NUL bytes (binary, or UTF-16 without a BOM), a character
    cut off at the end, or bytes valid in none of these encodings.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _utf16(data)
    nul = data.find(b"\x00")
    if nul >= 0 and _looks_utf16(data):
        raise UndecodableText(M_("UTF-16 text without a byte-order mark: save it as UTF-8, or as Unicode text "
                                 "(UTF-16 with its BOM)"), 0)
    if nul >= 0:
        raise UndecodableText(M_("binary data, not text (NUL byte at byte offset {offset})", offset=nul), nul)
    try:
        text = data.decode("utf-8-sig")
        return Decoded(text, "utf-8", data.startswith(b"\xef\xbb\xbf"))
    except UnicodeDecodeError as exc:
        utf8_error = exc
    # A UTF-8 file cut inside its last character fails only at the very end; decoding it
    # as GB18030 instead could succeed and turn every Chinese header into mojibake. A
    # file that is pure ASCII before that point gives no evidence either way, so it may
    # still be GB18030 text ending in a Chinese character.
    if utf8_error.reason == "unexpected end of data" and utf8_error.end == len(data):
        if any(b >= 0x80 for b in data[: utf8_error.start]):
            raise UndecodableText(
                M_("the file ends inside a UTF-8 multi-byte character (byte offset {offset}): "
                   "it was probably truncated", offset=utf8_error.start), utf8_error.start)
    try:
        return Decoded(data.decode("gb18030"), "gb18030")
    except UnicodeDecodeError as exc:
        if exc.end == len(data) and exc.reason in ("incomplete multibyte sequence", "unexpected end of data"):
            raise UndecodableText(
                M_("the file ends inside a GB18030 multi-byte character (byte offset {offset}): "
                   "it was probably truncated", offset=exc.start), exc.start) from None
        raise UndecodableText(
            M_("neither UTF-8 (invalid byte at offset {utf8}) nor GB18030 "
               "(invalid byte at offset {gb}); save the file as UTF-8 or GBK", utf8=utf8_error.start, gb=exc.start),
            utf8_error.start) from None


def _looks_utf16(data: bytes) -> bool:
    """NUL bytes mostly at odd (or mostly at even) offsets -- the high byte of ASCII
    characters -- and the sample decodes: UTF-16 without BOM."""
    sample = data[:4096]
    sample = sample[: len(sample) // 2 * 2]
    nuls = [i for i, b in enumerate(sample) if b == 0]
    odd = sum(i % 2 for i in nuls)
    if len(nuls) < 2 or 0.2 * len(nuls) < min(odd, len(nuls) - odd):
        return False
    try:
        sample.decode("utf-16-le" if 2 * odd > len(nuls) else "utf-16-be")
    except UnicodeDecodeError:
        return False
    return True


def _utf16(data: bytes) -> Decoded:
    encoding = "utf-16-le" if data.startswith(b"\xff\xfe") else "utf-16-be"
    body = data[2:]
    if len(body) % 2:
        raise UndecodableText(M_("the UTF-16 file has an odd number of bytes ({n:,}): it was probably "
                                 "truncated", n=len(data)), len(data) - 1)
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UndecodableText(M_("invalid UTF-16 at byte offset {offset} ({reason})", offset=exc.start + 2,
                                    reason=exc.reason), exc.start + 2) from None
    if "\x00" in text:
        nul = text.index("\x00")
        raise UndecodableText(M_("binary data, not text (NUL character at character {n:,})", n=nul), None)
    return Decoded(text, "utf-16", True)


def decode_prefix(head: bytes) -> str | None:
    """The first bytes of a file as text, for sniffing only; None if they are not text.

    ``head`` may end in the middle of a character, so up to 3 trailing bytes are
    dropped before giving up. Never use this for the data itself: use :func:`decode_bytes`.
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        body = head[2: len(head) - (len(head) % 2)]
        try:
            return body.decode("utf-16-le" if head.startswith(b"\xff\xfe") else "utf-16-be", "ignore")
        except UnicodeDecodeError:  # pragma: no cover - "ignore" never raises
            return None
    if b"\x00" in head:
        return None
    # UTF-8 first with every cut: a UTF-8 head cut mid-character often decodes as GB18030.
    for encoding in ("utf-8-sig", "gb18030"):
        for cut in range(4):
            try:
                return head[: len(head) - cut].decode(encoding)
            except UnicodeDecodeError:
                continue
    return None


# --- header text ----------------------------------------------------------------------------

_UNIT_SUFFIX = re.compile(r"^(?P<name>.+?)(?:\((?P<paren>[^()]*)\)|(?P<pct>%))$")


def normalise_text(value: str) -> str:
    """NFKC (full-width letters, digits and ％ become ASCII) and all whitespace removed.

    Whitespace inside cells is noise in these files ("合 计", a header broken over two
    lines by Alt+Enter), never meaning.
    """
    return "".join(unicodedata.normalize("NFKC", value).split())


def header_key(value: str) -> str:
    """The key a header is matched on: normalised, case-folded, without ``_`` and ``-``."""
    return normalise_text(value).casefold().replace("_", "").replace("-", "")


def split_unit(header: str) -> tuple[str, str | None]:
    """("平均接通时长", "秒") from "平均接通时长（秒）"; ("接通率", "%") from "接通率%".

    Both parts are :func:`header_key` forms; the unit is None when there is none.
    """
    key = header_key(header)
    m = _UNIT_SUFFIX.match(key)
    if not m:
        return key, None
    unit = m.group("paren") if m.group("paren") is not None else m.group("pct")
    return m.group("name"), unit


# --- cell values ------------------------------------------------------------------------------

#: Written for "no figure" in these reports. Dash-like characters survive NFKC unchanged
#: (only the full-width hyphen "－" becomes "-"), so all of them are listed.
_UNKNOWN = re.compile(r"^(?:[-‐‑‒–—―]+|/|n/a|na)$")


def is_blank(value: object) -> bool:
    """None or a string of whitespace only."""
    return value is None or (isinstance(value, str) and not value.strip())


def is_unknown(value: object) -> bool:
    """Whether the cell means "no figure": blank, a dash ("—", "–", "-", "－"), "/", "N/A"."""
    if is_blank(value):
        return True
    return isinstance(value, str) and bool(_UNKNOWN.match(normalise_text(value).casefold()))


@dataclass(frozen=True)
class Number:
    """A number as written: its exact value, whether it carried a % sign, and its precision."""

    value: Decimal
    percent: bool = False
    #: Exponent of the last written digit (-2 for "92.35"); None when the cell held a
    #: binary number (XLSX) whose shown precision is not known.
    exponent: int | None = None

    @property
    def half_unit(self) -> Decimal | None:
        """Half a unit in the last written place: how far rounding can have moved it."""
        return None if self.exponent is None else Decimal(5).scaleb(self.exponent - 1)


_GROUPED = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$")
_PLAIN = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$")
_NOT_FINITE = re.compile(r"^[+-]?(?:nan|inf|infinity)$")


def parse_number(value: object) -> Number | None:
    """A number from a cell: 11024, "11,024", "92.35%", "９５．５％", "1.2E+04"; None if unknown.

    Raises :class:`BadValue` for NaN or infinity, booleans, dates, Excel error values
    ("#DIV/0!") and text that is not a number.
    """
    if is_unknown(value):
        return None
    if isinstance(value, bool):
        raise BadValue(M_("expected a number, got a TRUE/FALSE cell"))
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise BadValue(M_("not a finite number"))
        # repr() is the shortest text that round-trips, so 0.9235 stays 0.9235.
        return Number(_bounded(Decimal(repr(value)) if isinstance(value, float) else Decimal(value)))
    if isinstance(value, (dt.date, dt.time, dt.timedelta)):
        raise BadValue(M_("expected a number, got a date or time cell"))
    if not isinstance(value, str):
        raise BadValue(M_("expected a number, got {kind}", kind=type(value).__name__))
    text = normalise_text(value).casefold()
    if text.startswith("#"):
        raise BadValue(M_("Excel error value {value}", value=value.strip()))
    if _NOT_FINITE.match(text):
        raise BadValue(M_("not a finite number"))
    percent = text.endswith("%")
    if percent:
        text = text[:-1]
    if _GROUPED.match(text):
        text = text.replace(",", "")
    elif not _PLAIN.match(text):
        raise BadValue(M_("not a number"))
    try:
        number = _bounded(Decimal(text))
    except InvalidOperation:
        raise BadValue(M_("not a number")) from None
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite: checked above
    return Number(number, percent, exponent)


#: Numbers are refused beyond this many digits before or after the point ("1e309",
#: "0e99999999", 5,000 nines): no figure of these files comes near, and such a number
#: overflows a float, the int-to-text limit, or the decimal context further on.
MAX_DIGITS = 100


def _bounded(number: Decimal) -> Decimal:
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite: checked by the callers
    if number.adjusted() >= MAX_DIGITS or not -MAX_DIGITS <= exponent <= MAX_DIGITS:
        raise BadValue(M_("number out of range (more than {n} digits)", n=MAX_DIGITS))
    return number


def parse_count(value: object, *, whole: bool = True) -> int | float | None:
    """A count of calls, requests or tickets; None if unknown.

    ``whole`` counts must be whole numbers (11024.0 is accepted as 11024) and come back
    as ``int``; others (a sum of seconds) come back as ``float``. Negative values are
    returned, not refused: the range checks of :mod:`.base` report them with context.
    """
    number = parse_number(value)
    if number is None:
        return None
    if number.percent:
        raise BadValue(M_("expected a count, got a percentage"))
    if number.exponent is not None and number.exponent > 0:
        # "1.1E+04" is how Excel shows 11,024 in a narrow General column, and how it exports
        # it to CSV: the digits below the last written one are not in the file. Exact only
        # when they reach the units ("1.1024E+04").
        raise BadValue(M_("a count in scientific notation is not exact: only the digits down to the "
                          "{unit:,}s are written; format the column as a number in Excel "
                          "(or widen it) and save again", unit=10 ** number.exponent))
    if whole:
        if number.value != number.value.to_integral_value():
            raise BadValue(M_("expected a whole number"))
        return int(number.value)
    as_float = float(number.value)
    if not math.isfinite(as_float):
        raise BadValue(M_("number too large"))
    return as_float


@dataclass(frozen=True)
class Measured:
    """A rate or an average as read, with how far it may be from the exact value."""

    value: Decimal
    #: Half a unit of the last written digit, or None if the cell held a binary number.
    half_unit: Decimal | None


_RATIO_TOO_BIG = M_("a rate above 1 needs a % sign (or a (%) in its column header)")


def parse_ratio(value: object, *, percent_column: bool = False, percent_formatted: bool = False) -> Measured | None:
    """A ratio in 0..1 from "92.35%", "０．９２３５", 0.9235, or 92.35 under a "(%)" header.

    ``percent_column``: the header carries "(%)", so a plain number is in percent.
    ``percent_formatted``: an XLSX cell with a % number format, which stores 0.9235 for
    what it shows as 92.35%: the value is a ratio whatever the header says. Raises
    :class:`BadValue` for a rate outside 0..100%.
    """
    number = parse_number(value)
    if number is None:
        return None
    scaled = number.percent or (percent_column and not percent_formatted)
    ratio = number.value / 100 if scaled else number.value
    half = number.half_unit
    if half is not None and scaled:
        half /= 100
    if ratio < 0:
        raise BadValue(M_("a rate cannot be negative"))
    if ratio > 1:
        raise BadValue(M_("a rate cannot exceed 100%") if scaled else _RATIO_TOO_BIG)
    return Measured(ratio, half)


def parse_seconds(value: object) -> Measured | None:
    """A duration in seconds (an average answer time), not negative; None if unknown."""
    number = parse_number(value)
    if number is None:
        return None
    if number.percent:
        raise BadValue(M_("expected seconds, got a percentage"))
    if number.value < 0:
        raise BadValue(M_("a duration cannot be negative"))
    return Measured(number.value, number.half_unit)


# --- dates ------------------------------------------------------------------------------------

_YMD = re.compile(
    r"^(?P<y>\d{4})(?:[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})|年(?P<m2>\d{1,2})月(?P<d2>\d{1,2})日?)"
    r"(?:[t ](?P<time>\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?$"
)
_MIDNIGHT = re.compile(r"^0?0:00(?::00(?:\.0+)?)?$")
_COMPACT = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$")
_SERIAL = re.compile(r"^\d{1,7}(?:\.0*)?$")


def excel_serial_date(serial: float, epoch: dt.datetime = WINDOWS_EPOCH) -> dt.date:
    """The day of an Excel serial number in the workbook's epoch (1900 or 1904 system).

    Raises :class:`BadValue` for serial 60 in the 1900 system, the 29 February 1900 that
    Excel invented (Lotus 1-2-3 compatibility), and for fractions (a time of day).
    """
    if serial != int(serial):
        raise BadValue(M_("a date serial number with a time of day; expected a whole day"))
    serial = int(serial)
    if serial < 1:
        raise BadValue(M_("not a date (serial number below 1)"))
    if serial == 60 and epoch == WINDOWS_EPOCH:
        raise BadValue(M_("serial 60 is 29 February 1900, a day that does not exist (an Excel quirk)"))
    try:
        return from_excel(serial, epoch).date()
    except OverflowError:
        raise BadValue(M_("date serial number out of range")) from None


def parse_date(value: object, *, epoch: dt.datetime = WINDOWS_EPOCH) -> dt.date | None:
    """A day from 2019-01-01, 2019/1/1, 2019.1.1, 2019年1月1日, 20190101, a date cell, or
    an Excel serial number (in ``epoch``, the workbook's; 1900 for CSV). None if blank.

    A time part is accepted only at midnight ("2019-01-01 00:00:00"): these are daily
    figures, and a time would mean the cell holds something else. Raises :class:`BadValue`.
    """
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise BadValue(M_("expected a date, got a TRUE/FALSE cell"))
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0):
            raise BadValue(M_("a date with a time of day; expected a whole day"))
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise BadValue(M_("not a date"))
        if 19000101 <= value <= 29991231 and value == int(value):
            return _compact(str(int(value)))
        return excel_serial_date(value, epoch)
    if not isinstance(value, str):
        raise BadValue(M_("expected a date, got {kind}", kind=type(value).__name__))
    # Whitespace is collapsed, not removed: it separates the date from a time part.
    text = " ".join(unicodedata.normalize("NFKC", value).split()).casefold()
    if _COMPACT.match(text):
        return _compact(text)
    if _SERIAL.match(text):
        return excel_serial_date(float(text), epoch)
    m = _YMD.match(text)
    if not m:
        raise BadValue(M_("not a date (expected e.g. 2019-01-01, 2019/1/1 or 2019年1月1日)"))
    if m.group("time") and not _MIDNIGHT.match(m.group("time")):
        raise BadValue(M_("a date with a time of day; expected a whole day"))
    month, day = m.group("m") or m.group("m2"), m.group("d") or m.group("d2")
    return _make_date(int(m.group("y")), int(month), int(day))


def _compact(text: str) -> dt.date:
    m = _COMPACT.match(text)
    assert m is not None
    return _make_date(int(m.group("y")), int(m.group("m")), int(m.group("d")))


def _make_date(year: int, month: int, day: int) -> dt.date:
    fault = date_fault(year, month, day)
    if fault is not None:
        raise BadValue(fault)
    return dt.date(year, month, day)
