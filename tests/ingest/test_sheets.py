"""Issue #13, cases 4, 7 and 8: which sheet is read, which source a file is, which formats load.

Every test goes through the real CLI (``hotline-kpi ingest`` in a subprocess) or the inbox
of a real ``serve``, and asserts the figures stored, not only success.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from openpyxl import Workbook
from openpyxl.utils.datetime import MAC_EPOCH

from tests.processes import run_cli, service_env, start_serve
from tests.reliability.support import FAST_SCANS, drop, wait_for

#: English wording is read here (the Chinese: tests/test_messages.py).
pytestmark = [pytest.mark.system, pytest.mark.usefixtures("english")]

HEADER = ["日期", "受理量", "呼入量", "接通量"]


def _days(start: dt.date, *figures: tuple[int, int, int]) -> list[list[object]]:
    return [[start + dt.timedelta(days=i), *f] for i, f in enumerate(figures)]


MARCH = _days(dt.date(2019, 3, 1), (11000, 10000, 9300), (12000, 11000, 9900), (10500, 9800, 9000))
OLD = _days(dt.date(2019, 3, 1), (1, 1, 1), (2, 2, 2), (3, 3, 3))
FEB = _days(dt.date(2019, 2, 1), (9000, 8000, 7000), (9100, 8100, 7100))


def _workbook(path: Path, sheets: list[tuple[str, list[list[object]]]], *, hidden: tuple[str, ...] = (),
              active: str | None = None, epoch: dt.datetime | None = None) -> Path:
    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
        if title in hidden:
            ws.sheet_state = "hidden"
    if active is not None:
        wb.active = wb.sheetnames.index(active)
    if epoch is not None:
        wb.epoch = epoch
    wb.save(path)
    return path



def _stored(url: str) -> dict[str, tuple[object, object, object]]:
    """day -> (受理量, 呼入量, 接通量) of the current daily-report revision."""
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        rows = con.execute("SELECT day, requests_accepted, calls_offered, calls_answered FROM source_day "
                           "WHERE is_current AND source = 'daily-report' ORDER BY day").fetchall()
    finally:
        con.close()
    return {str(d): (a, o, n) for d, a, o, n in rows}


def _tickets(url: str) -> list[str]:
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return sorted(r[0] for r in con.execute("SELECT ticket_no FROM ticket"))
    finally:
        con.close()


@pytest.fixture
def env(tmp_path, sqlite_url):
    return service_env(tmp_path, extra={"HOTLINE_KPI_DATABASE_URL": sqlite_url, "HOTLINE_KPI_LANGUAGE": "en"})


def _ingest(env, tmp_path, *args: str, check: bool = True):
    return run_cli(env, "ingest", "--no-evaluate", *args, cwd=tmp_path, check=check)


STORED_MARCH = {"2019-03-01": (11000, 10000, 9300), "2019-03-02": (12000, 11000, 9900),
                "2019-03-03": (10500, 9800, 9000)}


# --- case 4: the wrong sheet ----------------------------------------------------------------------


def test_a_hidden_sheet_and_a_month_summary_are_never_read_as_days(env, tmp_path):
    book = _workbook(tmp_path / "3月日报.xlsx", [
        ("数据源(旧)", [HEADER, *OLD]),
        ("3月日报", [HEADER, *MARCH]),
        ("3月汇总", [HEADER, [dt.date(2019, 3, 31), 33500, 30800, 28200]]),
    ], hidden=("数据源(旧)",), active="3月日报")
    out = _ingest(env, tmp_path, str(book))
    assert _stored(env["HOTLINE_KPI_DATABASE_URL"]) == STORED_MARCH
    assert "3 new" in out.stdout
    assert "数据源(旧)" in out.stdout and "hidden" in out.stdout  # the note says what was not read
    assert "3月汇总" in out.stdout


def test_several_daily_sheets_without_sheet_is_an_error_naming_them_and_sheet_chooses(env, tmp_path):
    book = _workbook(tmp_path / "日报.xlsx", [("2月日报", [HEADER, *FEB]), ("3月日报", [HEADER, *MARCH])],
                     active="3月日报")
    refused = _ingest(env, tmp_path, str(book), check=False)
    assert refused.returncode == 1
    assert "2月日报" in refused.stderr and "3月日报" in refused.stderr and "--sheet" in refused.stderr
    assert _stored(env["HOTLINE_KPI_DATABASE_URL"]) == {}
    _ingest(env, tmp_path, "--sheet", "2月日报", str(book))
    assert _stored(env["HOTLINE_KPI_DATABASE_URL"]) == {"2019-02-01": (9000, 8000, 7000),
                                                        "2019-02-02": (9100, 8100, 7100)}
    _ingest(env, tmp_path, "--sheet", "3月日报", str(book))  # each sheet is its own load, not "already loaded"
    assert len(_stored(env["HOTLINE_KPI_DATABASE_URL"])) == 5
    missing = _ingest(env, tmp_path, "--sheet", "4月日报", str(book), check=False)
    assert missing.returncode == 1 and "4月日报" in missing.stderr and "2月日报" in missing.stderr


def test_a_problem_in_a_workbook_names_the_sheet(env, tmp_path):
    book = _workbook(tmp_path / "日报.xlsx", [("说明", [["填表说明"]]),
                                             ("3月日报", [HEADER, *MARCH, [dt.date(2019, 3, 4), -5, 1, 1]])])
    refused = _ingest(env, tmp_path, str(book), check=False)
    assert refused.returncode == 1 and "3月日报" in refused.stderr and "row 5" in refused.stderr


TICKET_HEADER = ["工单编号", "受理时间", "受理渠道", "办理方式", "是否退单", "退单责任"]


def test_a_ticket_export_reads_its_visible_sheet_not_a_hidden_one(env, tmp_path):
    book = _workbook(tmp_path / "工单导出.xlsx", [
        ("旧", [TICKET_HEADER, ["OLD001", "2019-03-01 08:00:00", "电话", "直接答复", "否", ""]]),
        ("工单", [TICKET_HEADER, ["GD001", "2019-03-01 08:00:00", "电话", "直接答复", "否", ""],
                 ["GD002", "2019-03-01 09:00:00", "电话", "派单", "否", ""]]),
    ], hidden=("旧",), active="工单")
    _ingest(env, tmp_path, str(book))
    assert _tickets(env["HOTLINE_KPI_DATABASE_URL"]) == ["GD001", "GD002"]


# --- case 8: legacy and other formats ---------------------------------------------------------------


def _convert(xlsx: Path, fmt: str) -> Path:
    out = xlsx.parent / "converted"
    out.mkdir(exist_ok=True)
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{xlsx.parent}/lo-profile",
                    "--convert-to", fmt, "--outdir", str(out), str(xlsx)],
                   check=True, capture_output=True, timeout=120)
    return out / f"{xlsx.stem}.{fmt}"


needs_soffice = pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")

#: A two-level header: 日期 merged down over both rows, 呼入/接通 grouped under 话务.
TWO_LEVEL = [["日期", "受理量", "话务", None], [None, None, "呼入量", "接通量"],
             *[[d, a, o, n] for d, a, o, n in MARCH]]


def _two_level(path: Path, epoch: dt.datetime | None = None) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "3月日报"
    for row in TWO_LEVEL:
        ws.append(row)
    ws.merge_cells("A1:A2")
    ws.merge_cells("B1:B2")
    ws.merge_cells("C1:D1")
    if epoch is not None:
        wb.epoch = epoch
    wb.save(path)
    return path


@needs_soffice
@pytest.mark.parametrize("fmt", ["xls", "ods", "et"])
def test_xls_wps_et_and_ods_reports_load_with_merged_headers(env, tmp_path, fmt):
    source = _two_level(tmp_path / "日报.xlsx")
    converted = _convert(source, "xls" if fmt == "et" else fmt)
    target = tmp_path / f"3月日报.{fmt}"
    shutil.copy(converted, target)  # a WPS .et is an .xls file with another name
    out = _ingest(env, tmp_path, str(target))
    assert "daily report" in out.stdout and "3 new" in out.stdout
    assert _stored(env["HOTLINE_KPI_DATABASE_URL"]) == STORED_MARCH


@needs_soffice
def test_an_xls_of_the_1904_date_system_reads_its_dates(env, tmp_path):
    source = _two_level(tmp_path / "日报1904.xlsx", epoch=MAC_EPOCH)
    xls = _convert(source, "xls")
    _ingest(env, tmp_path, str(xls))
    assert _stored(env["HOTLINE_KPI_DATABASE_URL"]) == STORED_MARCH


def test_utf16_unicode_text_saved_by_excel_loads(env, tmp_path):
    text = "\r\n".join("\t".join(str(c) for c in row) for row in [HEADER, *MARCH]) + "\r\n"
    path = tmp_path / "3月日报.txt"
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    out = _ingest(env, tmp_path, "--source", "daily-report", str(path))
    assert "utf-16" in out.stdout.casefold()
    assert _stored(env["HOTLINE_KPI_DATABASE_URL"]) == STORED_MARCH


def test_a_damaged_xls_is_refused_with_its_name(env, tmp_path):
    path = tmp_path / "日报.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    refused = _ingest(env, tmp_path, "--source", "daily-report", str(path), check=False)
    assert refused.returncode == 1 and "日报.xls" in refused.stderr and "Traceback" not in refused.stderr
    assert _stored(env["HOTLINE_KPI_DATABASE_URL"]) == {}


# --- case 7: the source from the content ------------------------------------------------------------


def test_a_report_named_without_daily_loads_by_its_content(env, tmp_path):
    book = _workbook(tmp_path / "12345热线5月运行数据.xlsx", [("3月", [["12345热线运行数据"], HEADER, *MARCH])])
    out = _ingest(env, tmp_path, str(book))
    assert "daily report" in out.stdout
    assert _stored(env["HOTLINE_KPI_DATABASE_URL"]) == STORED_MARCH


def test_a_name_that_says_two_sources_goes_by_content(env, tmp_path):
    book = _workbook(tmp_path / "工单日报-2019-03.xlsx", [("工单", [
        TICKET_HEADER, ["GD101", "2019-03-01 08:00:00", "电话", "直接答复", "否", ""]])])
    out = _ingest(env, tmp_path, str(book))
    assert "ticket export" in out.stdout
    assert _tickets(env["HOTLINE_KPI_DATABASE_URL"]) == ["GD101"]


def test_an_unrecognised_file_says_what_was_seen_and_lists_the_sources(env, tmp_path):
    book = _workbook(tmp_path / "数据.xlsx", [("Sheet1", [["姓名", "部门", "电话"], ["张三", "办公室", "1"]])])
    refused = _ingest(env, tmp_path, str(book), check=False)
    assert refused.returncode == 1
    assert "姓名" in refused.stderr and "部门" in refused.stderr
    for source in ("daily-report", "tickets", "callbacks", "queue-log", "spending"):
        assert source in refused.stderr
    csv = tmp_path / "notes.csv"
    csv.write_text("甲,乙,丙\n1,2,3\n", encoding="utf-8")
    refused = _ingest(env, tmp_path, str(csv), check=False)
    assert refused.returncode == 1 and "甲,乙,丙" in refused.stderr


def test_the_inbox_of_serve_loads_a_report_by_its_content(tmp_path, sqlite_url, request):
    env = service_env(tmp_path, extra={"HOTLINE_KPI_DATABASE_URL": sqlite_url, **FAST_SCANS})
    start_serve(env, tmp_path, request.addfinalizer, wait_for="/healthz")
    staging = tmp_path / "staging"
    staging.mkdir()
    book = _workbook(staging / "a.xlsx", [("3月", [HEADER, *MARCH])])
    drop(tmp_path / "var" / "inbox", "12345热线5月运行数据.xlsx", book.read_bytes())
    wait_for(lambda: len(_stored(sqlite_url)) == 3, 60, "the report loaded from the inbox")
    assert _stored(sqlite_url) == STORED_MARCH
    assert any((tmp_path / "var" / "archive").rglob("*运行数据*"))


@needs_soffice
def test_the_inbox_of_serve_reads_an_xls_without_its_hidden_sheet_and_refuses_two_daily_sheets(
        tmp_path, sqlite_url, request):
    env = service_env(tmp_path, extra={"HOTLINE_KPI_DATABASE_URL": sqlite_url, **FAST_SCANS})
    start_serve(env, tmp_path, request.addfinalizer, wait_for="/healthz")
    staging = tmp_path / "staging"
    staging.mkdir()
    xls = _convert(_workbook(staging / "feb.xlsx", [("旧", [HEADER, *OLD[:2]]), ("2月", [HEADER, *FEB])],
                             hidden=("旧",), active="2月"), "xls")
    two = _workbook(staging / "two.xlsx", [("2月日报", [HEADER, *FEB]), ("3月日报", [HEADER, *MARCH])])
    inbox = tmp_path / "var" / "inbox"
    drop(inbox, "2月运行数据.xls", xls.read_bytes())
    drop(inbox, "两个月.xlsx", two.read_bytes())
    report = tmp_path / "var" / "quarantine" / "两个月.xlsx.error.txt"
    wait_for(lambda: len(_stored(sqlite_url)) == 2 and report.exists(), 60, "the .xls loaded, the other refused")
    assert _stored(sqlite_url) == {"2019-02-01": (9000, 8000, 7000), "2019-02-02": (9100, 8100, 7100)}
    text = report.read_text(encoding="utf-8")
    assert "2月日报" in text and "3月日报" in text and "--sheet" in text


@needs_soffice
def test_a_ticket_export_as_xls_is_recognised_and_loads(env, tmp_path):
    book = _workbook(tmp_path / "导出.xlsx", [("旧", [TICKET_HEADER, ["OLD001", "2019-03-01 08:00:00", "电话", "直接答复",
                                                                     "否", ""]]),
                                              ("工单", [TICKET_HEADER,
                                                       ["GD001", "2019-03-01 08:00:00", "电话", "直接答复", "否", ""],
                                                       ["GD002", "2019-03-01 09:00:00", "电话", "派单", "否", ""]])],
                     hidden=("旧",), active="工单")
    out = _ingest(env, tmp_path, str(_convert(book, "xls")))
    assert "ticket export" in out.stdout
    assert _tickets(env["HOTLINE_KPI_DATABASE_URL"]) == ["GD001", "GD002"]
