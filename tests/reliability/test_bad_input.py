"""Hostile and broken files, through the CLI ``ingest`` and through the inbox.

Each must be a clear error naming the place, a non-zero exit of the CLI, nothing stored
(every data table counted, the spending ledger's too), and in the inbox the original kept
byte for byte in quarantine with an error report beside it. Every format is covered:
daily report (CSV and XLSX), queue_log, ticket and callback exports, spending ledger; and
two sources disagreeing about one day.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import zipfile
from dataclasses import dataclass

import pytest
from click.testing import CliRunner
from openpyxl import Workbook
from sqlalchemy import func, select

from hotline_kpi.cli import cli
from hotline_kpi.cli.app import App
from hotline_kpi.domain import DayRecord, ParsedFile
from hotline_kpi.i18n import set_language
from hotline_kpi.ingest.base import IngestRejected
from hotline_kpi.ingest.pipeline import ingest_file
from hotline_kpi.service.inbox import Inbox
from hotline_kpi.settings import DEFAULT_SOURCE_PRIORITY
from hotline_kpi.store import provenance, sums
from hotline_kpi.store.db import make_engine, read_session, write_session
from hotline_kpi.store.models import CallbackRow, IngestRow, TicketRow
from tests.common import SHANGHAI
from tests.ingest.qlog import T0, answered
from tests.reliability.support import counts
from tests.service.test_inbox import settled_scan

HEADER = "日期,受理量,呼入量,接通量,平均接通时长(秒),话务员受理量,一次性解答量,派单量,有责退单量,回访量,满意量"
GOOD_ROW = "2019-01-01,11000,10000,9300,7.5,9300,5200,4100,180,400,372"


def _report(*rows: str, encoding: str = "utf-8") -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode(encoding)


def _row(day: str = "2019-01-02", **cells: str) -> str:
    """A good row with some cells replaced (by header name)."""
    names = HEADER.split(",")
    values = ["", "12000", "11000", "9900", "8.0", "9900", "5400", "4500", "200", "420", "380"]
    values[0] = day
    for k, v in cells.items():
        values[names.index(k)] = v
    return ",".join(values)


@dataclass(frozen=True)
class Bad:
    id: str
    name: str
    data: bytes
    #: Words the error must contain (the place and the why), case-insensitive.
    says: tuple[str, ...]
    source: str | None = None


_JUNK = bytes(range(256)) * 64
_TRUNCATED = _report(GOOD_ROW)[:-1] + "，备注满".encode("utf-8")[:-1]  # ends inside a 3-byte character
_WIDE = (HEADER + "," + ",".join(f"c{i}" for i in range(100_000)) + "\n" + GOOD_ROW + ",1" * 100_000 + "\n").encode()

#: The English wording is read here (the Chinese of these cases: tests/test_messages.py).
pytestmark = pytest.mark.usefixtures("english")

CASES = [
    Bad("empty", "日报.csv", b"", ("日报.csv",)),
    Bad("header-only", "日报.csv", _report(), ("日报.csv",)),
    Bad("binary-junk", "日报.csv", _JUNK, ("日报.csv",)),
    Bad("binary-junk-as-queue-log", "queue_log", _JUNK, ("queue_log",), "queue-log"),
    # UTF-16 with its BOM loads (tests/ingest/test_sheets.py); without one it is refused.
    Bad("utf-16-no-bom", "日报.csv", _report(GOOD_ROW, encoding="utf-16-le"), ("日报.csv", "utf-16")),
    Bad("mixed-utf8-gb18030", "日报.csv", _report(GOOD_ROW) + "2019-01-03,备注".encode("gb18030") + b"\n",
        ("日报.csv",)),
    Bad("truncated-multibyte", "日报.csv", _TRUNCATED, ("日报.csv",)),
    Bad("100000-columns", "日报.csv", _WIDE, ("日报.csv", "100,011 columns", "more than 1,000")),
    Bad("future-date", "日报.csv", _report(GOOD_ROW, _row("2020-03-02")), ("row 3", "2020-03-02")),
    Bad("outside-catalogue-year", "日报.csv", _report(GOOD_ROW, _row("2017-06-01")), ("row 3", "2017-06-01")),
    Bad("negative-count", "日报.csv", _report(GOOD_ROW, _row(呼入量="-5")), ("row 3", "呼入量", "-5")),
    Bad("answered-over-offered", "日报.csv", _report(GOOD_ROW, _row(呼入量="100", 接通量="101")), ("row 3",)),
    Bad("day-twice", "日报.csv", _report(GOOD_ROW, GOOD_ROW.replace("11000", "11001")), ("2019-01-01",)),
    Bad("nan", "日报.csv", _report(GOOD_ROW, _row(接通量="NaN")), ("row 3", "接通量", "nan")),
    Bad("infinity", "日报.csv", _report(GOOD_ROW, _row(**{"平均接通时长(秒)": "Infinity"})), ("row 3", "infinity")),
    Bad("overflow-10**30", "日报.csv", _report(GOOD_ROW, _row(受理量=str(10**30))), ("row 3", "受理量", "plausible maximum")),
    Bad("overflow-in-queue-log", "queue_log",
        ("\n".join(answered("c1", 0, wait=5)) + f"\n{10**30}|c2|12345|NONE|ENTERQUEUE||1380000|1\n").encode(),
        ("queue_log", "row 4"), "queue-log"),
    Bad("nan-in-queue-log", "queue_log",
        ("\n".join(answered("c1", 0, wait=5)) + f"\n{T0 + 9}|c2|12345|NONE|ENTERQUEUE||1380000|1\n"
         f"{T0 + 20}|c2|12345|SIP/1|CONNECT|NaN|c2b|1\n").encode(), ("queue_log", "row 5"), "queue-log"),
]


# --- XLSX daily reports -------------------------------------------------------------------------

_GOOD_CELLS: list[object] = ["2019-01-01", 11000, 10000, 9300, 7.5, 9300, 5200, 4100, 180, 400, 372]
_ROW3: list[object] = ["2019-01-02", 12000, 11000, 9900, 8, 9900, 5400, 4500, 200, 420, 380]


def _xlsx(rows: list[list[object]], *, far: str | None = None, text: dict[str, str] | None = None) -> bytes:
    """A workbook of ``rows``; ``far``: one more cell holding "x" there; ``text``: cells
    written as text even when they start with "=" (openpyxl would write a formula)."""
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    for ref, value in (text or {}).items():
        ws[ref] = value
        ws[ref].data_type = "s"
    if far:
        ws[far] = "x"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _patched(xlsx: bytes, old: bytes, new: bytes | None = None, cut: float | None = None) -> bytes:
    """``xlsx`` with its first sheet's XML edited: ``old`` replaced by ``new`` (must occur),
    or the XML cut to its first ``cut`` share (damaged inside a valid zip)."""
    src = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                if cut is not None:
                    data = data[: int(len(data) * cut)]
                else:
                    assert old in data, (old, data[:500])
                    data = data.replace(old, new or b"")
            z.writestr(info.filename, data)
    return out.getvalue()


_XLSX = _xlsx([HEADER.split(","), _GOOD_CELLS, _ROW3])

# --- ticket and callback exports, spending ledger -----------------------------------------------

TICKETS = ("工单编号,受理时间,受理渠道,办理方式,是否退单,退单责任\r\n"
           "GD20190301001,2019-03-01 08:00:00,电话,直接答复,否,\r\n")
CALLBACKS = "回访编号,工单编号,回访时间,回访方式,回访结果\r\nHF001,GD20190301001,2019-03-02 10:00:00,电话,满意\r\n"
SPENDING = "月份,预算项目,金额(元)\r\n2019-03,basic_operation,1000.00\r\n"


def _rows_of(text: str) -> list[list[object]]:
    return [line.split(",") for line in text.splitlines()]


def _text_cases(prefix: str, name: str, good: str, extra_row: str, tail: str) -> list[Bad]:
    """The encoding and emptiness cases for one CSV export: ``extra_row`` is a good row
    to write in GB18030 after UTF-8 ones, ``tail`` text to cut inside its last character."""
    header = good.splitlines()[0] + "\r\n"
    return [
        Bad(f"{prefix}-empty", name, b"", (name, "empty")),
        Bad(f"{prefix}-header-only", name, header.encode("utf-8-sig"), (name, "holds no")),
        Bad(f"{prefix}-binary-junk", name, _JUNK, (name, "binary")),
        Bad(f"{prefix}-utf-16-no-bom", name, good.encode("utf-16-le"), (name, "utf-16")),
        Bad(f"{prefix}-mixed-utf8-gb18030", name, good.encode() + extra_row.encode("gb18030") + b"\r\n", (name,)),
        Bad(f"{prefix}-truncated-multibyte", name, good.encode() + tail.encode()[:-1], (name, "truncated")),
    ]


_TICKETS_XLSX = _xlsx(_rows_of(TICKETS))

CASES += [
    # XLSX daily reports
    Bad("xlsx-empty", "日报.xlsx", b"", ("日报.xlsx", "empty")),
    Bad("xlsx-text-renamed", "日报.xlsx", _report(GOOD_ROW), ("日报.xlsx", "not an xlsx")),
    Bad("xlsx-truncated-zip", "日报.xlsx", _XLSX[: len(_XLSX) // 2], ("日报.xlsx", "not a readable xlsx")),
    Bad("xlsx-junk-after-zip-magic", "日报.xlsx", b"PK\x03\x04" + _JUNK, ("日报.xlsx", "not a readable xlsx")),
    Bad("xlsx-damaged-sheet-xml", "日报.xlsx", _patched(_XLSX, b"", cut=0.5), ("日报.xlsx", "not a readable xlsx")),
    Bad("xlsx-cell-at-XFD1048576", "日报.xlsx", _xlsx([HEADER.split(","), _GOOD_CELLS], far="XFD1048576"),
        ("日报.xlsx", "XFD1048576", "1,048,576 rows", "16,384 columns")),
    Bad("xlsx-nan-number", "日报.xlsx", _patched(_XLSX, b'<c r="D3" t="n"><v>9900</v>', b'<c r="D3" t="n"><v>NaN</v>'),
        ("日报.xlsx", "not a readable xlsx")),
    Bad("xlsx-inf-number", "日报.xlsx", _patched(_XLSX, b'<c r="E3" t="n"><v>8</v>', b'<c r="E3" t="n"><v>INF</v>'),
        ("日报.xlsx", "not a readable xlsx")),
    Bad("xlsx-nan-text", "日报.xlsx", _xlsx([HEADER.split(","), _GOOD_CELLS, _ROW3], text={"D3": "NaN"}),
        ("日报.xlsx", "row 3", "接通量 (D)", "nan")),
    Bad("xlsx-infinity-text", "日报.xlsx", _xlsx([HEADER.split(","), _GOOD_CELLS, _ROW3], text={"E3": "Infinity"}),
        ("日报.xlsx", "row 3", "infinity")),
    Bad("xlsx-excel-error", "日报.xlsx",
        _patched(_XLSX, b'<c r="D3" t="n"><v>9900</v>', b'<c r="D3" t="e"><v>#NUM!</v>'),
        ("日报.xlsx", "row 3", "接通量 (D)", "#NUM!")),
    Bad("xlsx-negative", "日报.xlsx", _xlsx([HEADER.split(","), _GOOD_CELLS, [*_ROW3[:2], -5, *_ROW3[3:]]]),
        ("日报.xlsx", "row 3", "呼入量 (C)", "-5")),
    Bad("xlsx-overflow-1e300", "日报.xlsx",
        _patched(_XLSX, b'<c r="B3" t="n"><v>12000</v>', b'<c r="B3" t="n"><v>1E+300</v>'),
        ("日报.xlsx", "row 3")),  # the message (range or digits) is the number parser's
    Bad("xlsx-formula-never-calculated", "日报.xlsx",
        _xlsx([HEADER.split(","), _GOOD_CELLS, [*_ROW3[:3], "=C3-100", *_ROW3[4:]]]),
        ("日报.xlsx", "row 3", "接通量 (D)", "=C3-100", "no cached value")),
    Bad("xlsx-formula-string-as-count", "日报.xlsx", _xlsx([HEADER.split(","), _GOOD_CELLS, _ROW3], text={"D3": "=1+1"}),
        ("日报.xlsx", "row 3", "接通量 (D)", "=1+1", "not a number")),
    # ticket exports
    *_text_cases("tickets", "工单导出.csv", TICKETS, "GD2,2019-03-01 09:00:00,电话,直接答复,否,备注", "，备注"),
    Bad("tickets-xlsx-text-renamed", "工单导出.xlsx", TICKETS.encode(), ("工单导出.xlsx", "not an xlsx")),
    Bad("tickets-xlsx-truncated-zip", "工单导出.xlsx", _TICKETS_XLSX[:2000], ("工单导出.xlsx", "not a readable xlsx")),
    Bad("tickets-xlsx-damaged-sheet-xml", "工单导出.xlsx", _patched(_TICKETS_XLSX, b"", cut=0.7),
        ("工单导出.xlsx", "damaged")),
    Bad("tickets-xlsx-cell-at-XFD1048576", "工单导出.xlsx", _xlsx(_rows_of(TICKETS), far="XFD1048576"),
        ("工单导出.xlsx", "row 1048576", "column XFD", "'x'", "at most 1,000 columns")),
    Bad("tickets-bad-moment", "工单导出.csv", (TICKETS + "GD2,=NOW(),电话,直接答复,否,\r\n").encode(),
        ("工单导出.csv", "row 3", "受理时间", "=NOW()")),
    # callback exports
    *_text_cases("callbacks", "回访导出.csv", CALLBACKS, "HF002,GD20190301001,2019-03-02 11:00:00,电话,很满意",
                 "满意"),
    Bad("callbacks-xlsx-text-renamed", "回访导出.xlsx", CALLBACKS.encode(), ("回访导出.xlsx", "not an xlsx")),
    Bad("callbacks-future", "回访导出.csv", (CALLBACKS + "HF002,GD2,2020-03-05 10:00:00,电话,满意\r\n").encode(),
        ("回访导出.csv", "row 3", "2020-03-05")),
    Bad("callbacks-formula-as-result", "回访导出.csv", (CALLBACKS + "HF002,GD2,2019-03-02 11:00:00,电话,=1+1\r\n").encode(),
        ("回访导出.csv", "row 3", "回访结果", "=1+1")),
    # spending ledger
    *_text_cases("spending", "项目支出台账-2019.csv", SPENDING, "2019-04,基本运行费,1000.00", "基本运行费"),
    Bad("spending-nan", "项目支出台账-2019.csv", (SPENDING + "2019-04,basic_operation,NaN\r\n").encode(),
        ("项目支出台账-2019.csv", "row 3", "金额(元)", "nan", "not a finite number")),
    Bad("spending-infinity", "项目支出台账-2019.csv", (SPENDING + "2019-04,basic_operation,Infinity\r\n").encode(),
        ("项目支出台账-2019.csv", "row 3", "infinity")),
    Bad("spending-overflow", "项目支出台账-2019.csv", (SPENDING + f"2019-04,basic_operation,{10**30}\r\n").encode(),
        ("项目支出台账-2019.csv", "row 3", "plausible maximum")),
    Bad("spending-formula", "项目支出台账-2019.csv", (SPENDING + "2019-04,basic_operation,=SUM(C2:C9)\r\n").encode(),
        ("项目支出台账-2019.csv", "row 3", "=SUM(C2:C9)", "not a number")),
    Bad("spending-future-month", "项目支出台账-2019.csv", (SPENDING + "2020-04,basic_operation,1.00\r\n").encode(),
        ("项目支出台账-2019.csv", "row 3", "future")),
    Bad("spending-unknown-line", "项目支出台账-2019.csv", (SPENDING + "2019-04,'; DROP TABLE spending; --,1.00\r\n").encode(),
        ("项目支出台账-2019.csv", "row 3", "DROP TABLE")),
]
CASE_IDS = [c.id for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_cli_rejects_bad_input_with_its_place_and_stores_nothing(case: Bad, cli_env, tmp_path, clock):
    before = counts(cli_env)
    path = tmp_path / "in" / case.name
    path.parent.mkdir()
    path.write_bytes(case.data)
    # In English (--lang en): the words below are English; tests/test_messages.py walks these
    # cases in the default language, Chinese.
    args = ["--lang", "en", "ingest", *(["--source", case.source] if case.source else []), str(path)]
    result = CliRunner().invoke(cli, args, obj=App(clock=clock), catch_exceptions=False)
    assert result.exit_code == 1, result.output
    said = result.stderr.lower()
    for word in case.says:
        assert word.lower() in said, (word, result.stderr[:2000])
    assert "nothing" in said and "traceback" not in said
    assert counts(cli_env) == before
    assert path.read_bytes() == case.data  # the file itself is never touched
    assert not any(p.is_file() for p in (tmp_path / "var" / "originals").rglob("*"))  # no original kept


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_inbox_quarantines_bad_input_with_a_report_and_stores_nothing(case: Bad, sqlite_url, settings, catalogues,
                                                                          clock):
    set_language("en")  # the office's language is Chinese by default: tests/test_messages.py
    engine = make_engine(sqlite_url)
    try:
        box = Inbox(engine, settings, catalogues, clock)
        box.ensure_folders()
        path = box.root / case.name
        path.write_bytes(case.data)
        stamp = clock.now().timestamp() - 60
        os.utime(path, (stamp, stamp))
        [result] = settled_scan(box)
        assert result.outcome == "rejected", result
        kept = settings.quarantine_dir / case.name
        assert kept.read_bytes() == case.data
        report = (settings.quarantine_dir / (case.name + ".error.txt")).read_text(encoding="utf-8").lower()
        for word in case.says:
            assert word.lower() in report, (word, report[:2000])
        assert counts(sqlite_url) == {k: 0 for k in counts(sqlite_url)}
        assert list(box.root.iterdir()) == []
    finally:
        engine.dispose()


# --- a file over the size limit, and formula strings --------------------------------------------


def test_a_file_over_max_file_bytes_is_rejected_before_it_is_read(sqlite_url, settings, catalogues, clock,
                                                                  monkeypatch, tmp_path):
    """The 2 GiB default is not written in the suite: a small limit shows the check. The
    check is by size only, before detection or parsing (no read of the content at all);
    that a big queue_log is read in bounded memory is shown in tests/ingest/test_queue_log.py."""
    from hotline_kpi.ingest.base import IngestRejected
    from hotline_kpi.ingest.pipeline import ingest_file

    small = settings.model_copy(update={"max_file_bytes": 1000})
    path = tmp_path / "日报.csv"
    path.write_bytes(_report(GOOD_ROW) + b"\n" * 2000)
    opened: list[str] = []
    real_open = type(path).open
    monkeypatch.setattr(type(path), "open", lambda self, *a, **k: opened.append(str(self)) or real_open(self, *a, **k))
    engine = make_engine(sqlite_url)
    try:
        with pytest.raises(IngestRejected, match=r"over the limit of 1,000 bytes \(setting max_file_bytes\)"):
            ingest_file(engine, path, settings=small, catalogues=catalogues, clock=clock)
        assert str(path) not in opened
        box = Inbox(engine, small, catalogues, clock)
        box.ensure_folders()
        os.replace(path, box.root / path.name)
        stamp = clock.now().timestamp() - 60
        os.utime(box.root / path.name, (stamp, stamp))
        [result] = settled_scan(box)
        assert result.outcome == "rejected" and (small.quarantine_dir / path.name).is_file()
        assert "max_file_bytes" in (small.quarantine_dir / (path.name + ".error.txt")).read_text(encoding="utf-8")
        assert counts(sqlite_url) == {k: 0 for k in counts(sqlite_url)}
    finally:
        engine.dispose()


FORMULAS = ("=cmd|' /C calc'!A0", "+SUM(A1:A9)", "-2+3", "@SUM(1)", "=HYPERLINK(\"http://x\")")


def test_formula_strings_in_a_ticket_export_are_stored_as_data(sqlite_url, settings, catalogues, clock, tmp_path):
    from sqlalchemy import select

    from hotline_kpi.ingest.pipeline import ingest_file
    from hotline_kpi.store.db import read_session
    from hotline_kpi.store.models import TicketRow

    rows = [["工单编号", "受理时间", "受理渠道", "办理方式", "是否退单", "退单责任"]]
    rows += [[f, f"2019-03-01 0{i}:00:00", "电话", "直接答复", "否", ""] for i, f in enumerate(FORMULAS)]
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path = tmp_path / "工单导出.csv"
    path.write_bytes(buf.getvalue().encode("utf-8-sig"))
    engine = make_engine(sqlite_url)
    try:
        outcome = ingest_file(engine, path, settings=settings, catalogues=catalogues, clock=clock)
        assert outcome.source == "tickets" and outcome.status == "loaded"
        with read_session(engine) as s:
            stored = set(s.scalars(select(TicketRow.ticket_no)))
        assert stored == set(FORMULAS)  # verbatim: never evaluated, never stripped
    finally:
        engine.dispose()


def test_formula_strings_in_a_callback_export_and_an_xlsx_ticket_export_are_stored_as_data(
        sqlite_url, settings, catalogues, clock, tmp_path):
    """Text cells starting with = + - @ (written as text in the XLSX, as plain cells in the
    CSV) are identities like any other: stored verbatim, never evaluated or stripped."""
    tickets = [_rows_of(TICKETS)[0]] + [[f, f"2019-03-01 0{i}:00:00", "电话", "直接答复", "否", ""]
                                        for i, f in enumerate(FORMULAS)]
    text = {f"A{i + 2}": f for i, f in enumerate(FORMULAS)}
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(
        [["回访编号", "工单编号", "回访时间", "回访方式", "回访结果"]]
        + [[f, f, f"2019-03-02 0{i}:00:00", "电话", "满意"] for i, f in enumerate(FORMULAS)])
    (tmp_path / "工单导出.xlsx").write_bytes(_xlsx(tickets, text=text))
    (tmp_path / "回访导出.csv").write_bytes(buf.getvalue().encode("utf-8-sig"))
    engine = make_engine(sqlite_url)
    try:
        for name in ("工单导出.xlsx", "回访导出.csv"):
            outcome = ingest_file(engine, tmp_path / name, settings=settings, catalogues=catalogues, clock=clock)
            assert outcome.status == "loaded", name
        with read_session(engine) as s:
            assert set(s.scalars(select(TicketRow.ticket_no))) == set(FORMULAS)
            assert set(s.scalars(select(CallbackRow.callback_id))) == set(FORMULAS)
            assert set(s.scalars(select(CallbackRow.ticket_no))) == set(FORMULAS)
    finally:
        engine.dispose()


def _dimension(xlsx: bytes, ref: bytes) -> bytes:
    """The sheet's ``<dimension>`` element as written: openpyxl spells it ``<… />`` with the
    standard library's serializer and ``<…/>`` with lxml (installed with python-docx)."""
    data = zipfile.ZipFile(io.BytesIO(xlsx)).read("xl/worksheets/sheet1.xml")
    found = re.search(rb'<dimension ref="' + re.escape(ref) + rb'" ?/>', data)
    assert found, data[:500]
    return found.group(0)


def test_a_huge_declared_sheet_dimension_is_harmless(sqlite_url, settings, catalogues, clock, tmp_path):
    """``<dimension ref="A1:XFD1048576"/>`` is only a claim: a daily report and a ticket
    export that declare it load their real rows, with no padding row or column read."""
    huge = b'<dimension ref="A1:XFD1048576" />'
    report = _patched(_XLSX, _dimension(_XLSX, b"A1:K3"), huge)
    tickets = _patched(_TICKETS_XLSX, _dimension(_TICKETS_XLSX, b"A1:F2"), huge)
    (tmp_path / "日报.xlsx").write_bytes(report)
    (tmp_path / "工单导出.xlsx").write_bytes(tickets)
    engine = make_engine(sqlite_url)
    try:
        first = ingest_file(engine, tmp_path / "日报.xlsx", settings=settings, catalogues=catalogues, clock=clock)
        assert (first.status, first.result.days_new) == ("loaded", 2)
        second = ingest_file(engine, tmp_path / "工单导出.xlsx", settings=settings, catalogues=catalogues, clock=clock)
        assert second.status == "loaded"
        with read_session(engine) as s:
            assert list(s.scalars(select(TicketRow.ticket_no))) == ["GD20190301001"]
    finally:
        engine.dispose()


# --- two sources disagreeing about one day --------------------------------------------------------

#: One ticket on 2019-01-01: the tickets source then says 1 request was accepted that day,
#: where the daily report's GOOD_ROW says 11,000.
ONE_TICKET = ("工单编号,受理时间,受理渠道,办理方式,是否退单,退单责任\r\n"
              "GD20190101001,2019-01-01 08:00:00,电话,直接答复,否,\r\n").encode("utf-8")


@dataclass(frozen=True)
class Disagreement:
    id: str
    first: tuple[str, bytes]
    second: tuple[str, bytes]
    says: tuple[str, ...]


DISAGREEMENTS = [
    Disagreement("report-then-tickets", ("日报-2019-01.csv", _report(GOOD_ROW)), ("工单导出.csv", ONE_TICKET),
                 ("工单导出.csv", "column 受理量", "value '1'", "2019-01-01: 受理量: the ticket export gives 1",
                  "the daily report (日报-2019-01.csv) gives 11000", "more than the 5.0% allowed (setting source_tolerance)")),
    Disagreement("tickets-then-report", ("工单导出.csv", ONE_TICKET), ("日报-2019-01.csv", _report(GOOD_ROW)),
                 ("日报-2019-01.csv", "row 2", "column 受理量", "value '11000'", "2019-01-01: 受理量: the daily report gives 11000",
                  "the ticket export (工单导出.csv) gives 1")),
]


@pytest.mark.parametrize("case", DISAGREEMENTS, ids=[d.id for d in DISAGREEMENTS])
def test_the_cli_rejects_a_file_that_disagrees_with_another_source(case: Disagreement, cli_env, tmp_path, clock):
    """The second file disagrees with the first (another source) about 2019-01-01 by far
    more than 5%: exit 1, both sources, files and values named; nothing of it stored, no
    original of it kept; the first file's data untouched."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / case.first[0]).write_bytes(case.first[1])
    (folder / case.second[0]).write_bytes(case.second[1])
    runner = CliRunner()
    ok = runner.invoke(cli, ["ingest", str(folder / case.first[0])], obj=App(clock=clock), catch_exceptions=False)
    assert ok.exit_code == 0, ok.output
    before = counts(cli_env)
    kept_before = sorted(p for p in (tmp_path / "var" / "originals").rglob("*") if p.is_file())
    result = runner.invoke(cli, ["--lang", "en", "ingest", str(folder / case.second[0])], obj=App(clock=clock),
                           catch_exceptions=False)
    assert result.exit_code == 1, result.output
    for word in case.says:
        assert word.lower() in result.stderr.lower(), (word, result.stderr[:2000])
    assert "nothing" in result.stderr.lower() and "traceback" not in result.stderr.lower()
    assert counts(cli_env) == before
    assert (folder / case.second[0]).read_bytes() == case.second[1]
    assert sorted(p for p in (tmp_path / "var" / "originals").rglob("*") if p.is_file()) == kept_before


@pytest.mark.parametrize("case", DISAGREEMENTS, ids=[d.id for d in DISAGREEMENTS])
def test_the_inbox_quarantines_a_file_that_disagrees_with_another_source(case: Disagreement, sqlite_url, settings,
                                                                         catalogues, clock):
    set_language("en")
    engine = make_engine(sqlite_url)
    try:
        box = Inbox(engine, settings, catalogues, clock)
        box.ensure_folders()
        stamp = clock.now().timestamp() - 60
        for (name, data), want in ((case.first, "loaded"), (case.second, "rejected")):
            path = box.root / name
            path.write_bytes(data)
            os.utime(path, (stamp, stamp))
            before = counts(sqlite_url)
            [result] = settled_scan(box)
            assert result.outcome == want, result
        assert counts(sqlite_url) == before
        name, data = case.second
        assert (settings.quarantine_dir / name).read_bytes() == data
        report = (settings.quarantine_dir / (name + ".error.txt")).read_text(encoding="utf-8").lower()
        for word in case.says:
            assert word.lower() in report, (word, report[:2000])
        assert list(box.root.iterdir()) == []
    finally:
        engine.dispose()


def _store(engine, catalogues, source: str, sha: str, name: str, tolerance: float = 0.05, units: float = 10,
           **counters: float) -> provenance.StoreResult:
    with write_session(engine) as s:
        provenance.ensure_hotline(s, catalogues.hotline(SHANGHAI))
        return provenance.store_parsed(
            s, hotline_id=SHANGHAI, parsed=ParsedFile(source, (DayRecord(dt.date(2019, 3, 1), counters, row=2),)),
            file=provenance.FileMeta(name, sha * 64, 1, f"/originals/{sha}"),
            at=dt.datetime(2020, 1, 2, tzinfo=dt.timezone.utc), settings_json="{}",
            source_priority=DEFAULT_SOURCE_PRIORITY, source_tolerance=tolerance, source_tolerance_units=units)


def _stored(engine) -> tuple[int, dict[str, float | None]]:
    with read_session(engine) as s:
        ingests = s.scalar(select(func.count()).select_from(IngestRow))
        [day] = sums.daily_counters(s, SHANGHAI, dt.date(2019, 3, 1), dt.date(2019, 3, 1))
    return ingests, dict(day.values)


def test_the_store_rejects_a_disagreement_beyond_source_tolerance_and_keeps_priority_within(engine, catalogues):
    """On both backends: within 5% the file loads and the priority decides (the call
    platform wins); 13% apart the file is rejected inside the transaction and nothing of it
    stays; a same-source correction is never a disagreement; a difference within
    source_tolerance_units (10) is none either; 0 and 0 units demand exact agreement
    and 1 switches the check off."""
    _store(engine, catalogues, "daily-report", "a", "日报.csv", calls_offered=100, calls_answered=92)
    _store(engine, catalogues, "queue-log", "b", "queue_log", calls_offered=98, calls_answered=90)  # 2%, 2.2%
    assert _stored(engine)[1]["calls_answered"] == 90

    with pytest.raises(IngestRejected) as caught:  # 80 vs 92: 13% apart
        _store(engine, catalogues, "queue-log", "c", "queue_log.1", calls_offered=98, calls_answered=80)
    [problem] = caught.value.problems
    assert (problem.file, problem.row, problem.column, problem.value) == ("queue_log.1", 2, "接通量", "80")  # a queue_log has no header: the usual one
    assert "the daily report (日报.csv) gives 92" in problem.why and "13.0% apart" in problem.why
    assert _stored(engine) == (2, {**_stored(engine)[1], "calls_offered": 98, "calls_answered": 90})

    # The daily report corrects itself by 30%: its own earlier figure is no disagreement,
    # but the call platform's 90 is (69 vs 90).
    with pytest.raises(IngestRejected, match="the queue log"):
        _store(engine, catalogues, "daily-report", "d", "日报-v2.csv", calls_offered=100, calls_answered=69)
    _store(engine, catalogues, "daily-report", "e", "日报-v2.csv", calls_offered=98, calls_answered=89)
    assert _stored(engine)[0] == 3

    # 0 and 0 units: exact only. With the default 10 units, 1 call apart is no disagreement.
    with pytest.raises(IngestRejected, match=r"1\.0% apart: more than the 0\.0% allowed \(setting source_tolerance\)"):
        _store(engine, catalogues, "callbacks", "f", "回访.csv", 0.0, 0, calls_offered=99)
    _store(engine, catalogues, "callbacks", "g", "回访.csv", 0.0, 0, calls_offered=98)
    _store(engine, catalogues, "tickets", "h", "工单.csv", 1.0, calls_offered=1)  # 1: no check
    ingests, values = _stored(engine)
    assert ingests == 5 and (values["calls_offered"], values["calls_answered"]) == (98, 90)  # priority: queue-log

    # Small counts: 3 operator-fault returns against 4 are 25% apart but within 10 units.
    _store(engine, catalogues, "daily-report", "i", "日报-v3.csv", tickets_returned_operator_fault=3)
    _store(engine, catalogues, "tickets", "j", "工单-v2.csv", 1.0, tickets_returned_operator_fault=4)
    assert _stored(engine)[1]["tickets_returned_operator_fault"] == 4  # priority: tickets
    with pytest.raises(IngestRejected, match="column 有责退单量"):  # 15 units and 79% apart
        _store(engine, catalogues, "daily-report", "k", "日报-v4.csv", tickets_returned_operator_fault=19)
