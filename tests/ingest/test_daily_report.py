"""The office's daily report (CSV and XLSX), read against the real 2019 Shanghai catalogue.

Files are built in each test: CSV bytes in the encoding under test, workbooks with
openpyxl, so every case shows the exact cells it is about.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

import openpyxl
import pytest
from hypothesis import assume, given, settings, strategies as st
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.domain import ParsedFile
from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.ingest.base import IngestContext, IngestRejected, Problem
from hotline_kpi.ingest.daily_report import DailyReportIngestor
from hotline_kpi.ingest.grid import HEADER_ALIASES
from tests.common import ROOT

CATALOGUES = CatalogueSet.from_dir(ROOT / "hotline_kpi" / "defaults" / "targets")
TODAY = dt.date(2026, 11, 26)
D1, D2, D3 = dt.date(2019, 1, 1), dt.date(2019, 1, 2), dt.date(2019, 1, 3)
INGESTOR = DailyReportIngestor()


def context(**overrides: Any) -> IngestContext:
    fields: dict[str, Any] = dict(hotline=CATALOGUES.hotline("shanghai-12345"), catalogues=CATALOGUES, today=TODAY)
    return IngestContext(**(fields | overrides))


def write_csv(path: Path, rows: Sequence[Sequence[object]], encoding: str = "utf-8", delimiter: str = ",") -> Path:
    text = "".join(delimiter.join(_csv_cell(c, delimiter) for c in row) + "\r\n" for row in rows)
    path.write_bytes(text.encode(encoding))
    return path


def _csv_cell(cell: object, delimiter: str) -> str:
    text = "" if cell is None else str(cell)
    return f'"{text}"' if delimiter in text or "\n" in text else text


def write_xlsx(path: Path, rows: Sequence[Sequence[object]], merges: Iterable[str] = (), epoch: Any = None,
               formats: dict[str, str] | None = None, before: Sequence[str] = ()) -> Path:
    wb = openpyxl.Workbook()
    if epoch is not None:
        wb.epoch = epoch
    ws = wb.active
    for title in before:  # sheets in front of the report, e.g. a cover sheet
        wb.create_sheet(title, 0)["A1"] = "说明"
    for row in rows:
        ws.append(list(row))
    for rng in merges:
        ws.merge_cells(rng)
    for ref, fmt in (formats or {}).items():
        ws[ref].number_format = fmt
    wb.save(path)
    return path


def parse(path: Path, **ctx: Any) -> ParsedFile:
    return INGESTOR.parse(path, context(**ctx))


def problems(path: Path, **ctx: Any) -> tuple[Problem, ...]:
    with pytest.raises(IngestRejected) as err:
        parse(path, **ctx)
    assert all(p.file == path.name for p in err.value.problems)
    return err.value.problems


def only(found: Sequence[Problem]) -> Problem:
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def by_day(parsed: ParsedFile) -> dict[dt.date, dict[str, float]]:
    return {r.day: dict(r.counters) for r in parsed.days}


BASIC = [
    ["日期", "受理量", "呼入量", "接通量", "接通率", "平均接通时长(秒)", "话务员受理量", "一次性解答量", "一次性解答率",
     "派单量", "有责退单量", "退单率", "回访量", "满意量", "满意度"],
    ["2019/1/1", "11,024", "10,000", "9,000", "90.00%", "7.5", "8,000", "7,600", "95.00%",
     "2,000", "10", "0.50%", "1,000", "960", "96.0%"],
    ["2019/1/2", "12,000", "10,500", "9,975", "95.00%", "8.0", "8,100", "7,695", "95.0%",
     "2,100", "21", "1.0%", "1,050", "1,008", "96.0%"],
]
BASIC_DAYS = {
    D1: dict(requests_accepted=11024, calls_offered=10000, calls_answered=9000, answer_wait_seconds_sum=67500.0,
             first_contact_eligible=8000, first_contact_resolved=7600, tickets_dispatched=2000,
             tickets_returned_operator_fault=10, survey_responses=1000, survey_satisfied=960),
    D2: dict(requests_accepted=12000, calls_offered=10500, calls_answered=9975, answer_wait_seconds_sum=79800.0,
             first_contact_eligible=8100, first_contact_resolved=7695, tickets_dispatched=2100,
             tickets_returned_operator_fault=21, survey_responses=1050, survey_satisfied=1008),
}


# --- encodings -----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_the_same_report_reads_alike_in_every_encoding(tmp_path, encoding):
    parsed = parse(write_csv(tmp_path / "日报.csv", BASIC, encoding))
    assert parsed.source == "daily-report"
    assert by_day(parsed) == BASIC_DAYS
    assert [r.row for r in parsed.days] == [2, 3]
    assert all(r.derived == {"answer_wait_seconds_sum"} for r in parsed.days)


def test_a_bom_does_not_hide_the_date_header(tmp_path):
    path = write_csv(tmp_path / "r.csv", BASIC, "utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf\xe6\x97\xa5")
    assert [r.day for r in parse(path).days] == [D1, D2]


def test_a_gb18030_only_character_in_the_title_row(tmp_path):
    path = write_csv(tmp_path / "r.csv", [["2019年1月 䶮 12345热线日报"], *BASIC], "gb18030")
    parsed = parse(path)
    assert by_day(parsed) == BASIC_DAYS
    assert [r.row for r in parsed.days] == [3, 4]
    assert "decoded as gb18030" in parsed.notes


def test_utf8_that_would_also_decode_as_gb18030_keeps_its_headers(tmp_path):
    rows = [["日期", "受理总量", "话务员受理量", "15秒接通量"], ["2019-01-01", "5", "4", "3"]]
    path = write_csv(tmp_path / "r.csv", rows, "utf-8")
    path.read_bytes().decode("gb18030")  # the trap is real: no error here
    parsed = parse(path)
    assert by_day(parsed) == {D1: dict(requests_accepted=5, first_contact_eligible=4, calls_answered_within_15s=3)}
    assert "decoded as utf-8" in parsed.notes


@pytest.mark.parametrize("delimiter", ["\t", ";"])
def test_tab_and_semicolon_files_when_the_header_uses_them(tmp_path, delimiter):
    rows = [["日期", "受理量", "呼入量", "接通量"], ["2019-01-01", "11,024", "10,000", "9,000"]]
    parsed = parse(write_csv(tmp_path / "r.csv", rows, delimiter=delimiter))
    assert by_day(parsed) == {D1: dict(requests_accepted=11024, calls_offered=10000, calls_answered=9000)}


# --- headers ---------------------------------------------------------------------------------------


def test_header_variants_full_width_units_newlines_and_english(tmp_path):
    rows = [["12345热线运行日报", None, None],
            ["统计日期", "受理总量\n(个)", "人工呼入量（个）", "人工接通量", "平均应答时长（秒）", "回访满意率(%)",
             "有效回访量", "Notes"],
            ["2019-01-01", "100", "80", "60", "10", "90", "50", "x"]]
    parsed = parse(write_csv(tmp_path / "r.csv", rows))
    assert by_day(parsed) == {D1: dict(requests_accepted=100, calls_offered=80, calls_answered=60,
                                       answer_wait_seconds_sum=600.0, survey_responses=50, survey_satisfied=45)}
    assert "ignored columns: Notes" in parsed.notes


def test_english_headers_are_case_insensitive(tmp_path):
    rows = [["DATE", "Requests Accepted", "calls_offered", "Calls Answered", "Connection Rate"],
            ["2019-01-01", "100", "80", "60", "75%"]]
    assert by_day(parse(write_csv(tmp_path / "r.csv", rows))) == {
        D1: dict(requests_accepted=100, calls_offered=80, calls_answered=60)}


def test_every_counter_has_a_column_and_aliases_do_not_collide():
    from hotline_kpi.domain import COUNTERS

    assert set(COUNTERS) <= set(HEADER_ALIASES)


def test_a_file_without_a_date_column_is_rejected(tmp_path):
    rows = [["受理量", "呼入量", "接通量"], ["1", "2", "1"]]
    found = only(problems(write_csv(tmp_path / "r.csv", rows)))
    assert "no date column" in found.why


def test_two_columns_with_the_same_meaning_are_rejected(tmp_path):
    rows = [["日期", "受理量", "受理总量"], ["2019-01-01", "1", "2"]]
    found = only(problems(write_csv(tmp_path / "r.csv", rows)))
    assert (found.column, found.why) == ("受理总量", "two columns mean the same figure: 受理量 and 受理总量; keep one")


def test_a_unit_that_is_not_seconds_on_the_answer_time_is_rejected(tmp_path):
    rows = [["日期", "接通量", "平均接通时长(分钟)"], ["2019-01-01", "10", "1.5"]]
    found = only(problems(write_csv(tmp_path / "r.csv", rows)))
    assert found.column == "平均接通时长(分钟)" and "unit (分钟)" in found.why


# --- values --------------------------------------------------------------------------------------


@pytest.mark.parametrize("marker", ["—", "–", "-", "－", "/", "", "N/A"])
def test_unknown_markers_leave_the_counter_absent_not_zero(tmp_path, marker):
    rows = [["日期", "受理量", "呼入量", "接通率"], ["2019-01-01", marker, "100", marker]]
    assert by_day(parse(write_csv(tmp_path / "r.csv", rows, "gb18030"))) == {D1: dict(calls_offered=100)}


@pytest.mark.parametrize(
    "rate, header, answered",
    [("92.35%", "接通率", 9235), ("0.9235", "接通率", 9235), ("92.35", "接通率(%)", 9235),
     ("９２．３５％", "接通率", 9235), ("92.35%", "接通率（%）", 9235)],
)
def test_rate_forms_become_the_same_count(tmp_path, rate, header, answered):
    rows = [["日期", "呼入量", header], ["2019-01-01", "10,000", rate]]
    parsed = parse(write_csv(tmp_path / "r.csv", rows, "gb18030"))
    assert by_day(parsed) == {D1: dict(calls_offered=10000, calls_answered=answered)}
    assert parsed.days[0].derived == {"calls_answered"}


def test_a_rate_above_one_without_a_percent_sign_is_an_error(tmp_path):
    rows = [["日期", "呼入量", "接通率"], ["2019-01-01", "100", "92.35"]]
    found = only(problems(write_csv(tmp_path / "r.csv", rows)))
    assert (found.row, found.column, found.value) == (2, "接通率", "92.35")
    assert "% sign" in found.why


@pytest.mark.parametrize("value", ["NaN", "inf", "Infinity"])
def test_nan_and_infinity_are_errors(tmp_path, value):
    rows = [["日期", "受理量"], ["2019-01-01", value]]
    found = only(problems(write_csv(tmp_path / "r.csv", rows)))
    assert (found.row, found.column, found.value, found.why) == (2, "受理量", value, "not a finite number")


def test_counts_are_whole_numbers_but_a_zero_fraction_is_fine(tmp_path):
    rows = [["日期", "受理量"], ["2019-01-01", "11024.0"], ["2019-01-02", "11024.5"]]
    found = only(problems(write_csv(tmp_path / "r.csv", rows)))
    assert (found.row, found.value, found.why) == (3, "11024.5", "expected a whole number")
    ok = write_csv(tmp_path / "ok.csv", rows[:2])
    assert by_day(parse(ok)) == {D1: dict(requests_accepted=11024)}


@pytest.mark.parametrize(
    "text",
    ["2019-01-01", "2019/1/1", "2019.1.1", "2019年1月1日", "20190101", "2019-01-01 00:00:00", "43466"],
)
def test_date_forms_in_csv(tmp_path, text):
    rows = [["日期", "受理量"], [text, "1"]]
    assert [r.day for r in parse(write_csv(tmp_path / "r.csv", rows, "gbk")).days] == [D1]


def test_serial_60_in_a_csv_is_the_fictitious_1900_leap_day(tmp_path):
    rows = [["日期", "受理量"], ["60", "1"]]
    found = only(problems(write_csv(tmp_path / "r.csv", rows)))
    assert (found.row, found.column, found.value) == (2, "日期", "60")
    assert "29 February 1900" in found.why


# --- rates and their bases -------------------------------------------------------------------------


def test_a_rate_with_its_base_becomes_a_derived_count_rounded_half_even(tmp_path):
    rows = [["日期", "派单量", "退单率", "回访量", "满意度"],
            ["2019-01-01", "5", "50%", "7", "50%"]]  # 2.5 -> 2 and 3.5 -> 4
    parsed = parse(write_csv(tmp_path / "r.csv", rows))
    record = parsed.days[0]
    assert dict(record.counters) == dict(tickets_dispatched=5, tickets_returned_operator_fault=2,
                                         survey_responses=7, survey_satisfied=4)
    assert record.derived == {"tickets_returned_operator_fault", "survey_satisfied"}
    assert any("derived from a rate" in n for n in parsed.notes)


def test_average_answer_time_uses_answered_calls_derived_from_the_connection_rate(tmp_path):
    rows = [["日期", "呼入量", "接通率", "平均接通时长(秒)"], ["2019-01-01", "10000", "0.9", "7.5"]]
    record = parse(write_csv(tmp_path / "r.csv", rows)).days[0]
    assert dict(record.counters) == dict(calls_offered=10000, calls_answered=9000, answer_wait_seconds_sum=67500.0)
    assert isinstance(record.counters["answer_wait_seconds_sum"], float)
    assert record.derived == {"calls_answered", "answer_wait_seconds_sum"}


@pytest.mark.parametrize("denominator, expected", [("offered", 800), ("answered", 720)])
def test_the_15_second_rate_uses_the_configured_denominator(tmp_path, denominator, expected):
    rows = [["日期", "呼入量", "接通量", "15秒接通率"], ["2019-01-01", "1000", "900", "80%"]]
    formulas = FormulaSettings(within_15s_denominator=denominator)
    record = parse(write_csv(tmp_path / "r.csv", rows), formulas=formulas).days[0]
    assert record.counters["calls_answered_within_15s"] == expected


def test_a_rate_on_a_day_with_a_zero_base(tmp_path):
    rows = [["日期", "呼入量", "接通率", "平均接通时长"], ["2019-01-01", "0", "0%", "0"], ["2019-01-02", "0", "90%", "—"]]
    found = only(problems(write_csv(tmp_path / "r.csv", rows)))
    assert (found.row, found.column, found.value) == (3, "接通率", "90%")
    assert "呼入量 0" in found.why  # the base by its column header
    ok = parse(write_csv(tmp_path / "ok.csv", rows[:2]))
    assert by_day(ok) == {D1: dict(calls_offered=0, calls_answered=0, answer_wait_seconds_sum=0.0)}


def test_a_rate_whose_base_column_is_missing_is_an_error(tmp_path):
    rows = [["日期", "受理量", "满意度"], ["2019-01-01", "100", "96%"], ["2019-01-02", "100", "97%"]]
    found = problems(write_csv(tmp_path / "r.csv", rows))
    assert [(p.row, p.column, p.value) for p in found] == [(2, "满意度", "96%"), (3, "满意度", "97%")]
    assert all("a rate without its base cannot be summed into a year" in p.why for p in found)
    assert "回访量 has no column" in found[0].why  # its usual header: the file has none


def test_a_rate_whose_base_cell_is_empty_on_that_row_is_an_error(tmp_path):
    rows = [["日期", "回访量", "满意度"], ["2019-01-01", "100", "96%"], ["2019-01-02", "—", "97%"],
            ["2019-01-03", "—", "—"]]
    found = only(problems(write_csv(tmp_path / "r.csv", rows)))
    assert (found.row, found.column, found.value) == (3, "满意度", "97%")
    assert "回访量 is empty on this row" in found.why


def test_count_and_rate_that_agree_within_the_printed_precision_are_accepted(tmp_path):
    rows = [["日期", "呼入量", "接通量", "接通率", "平均接通时长"],
            ["2019-01-01", "10000", "9235", "92.35%", "7.5"],  # exact
            ["2019-01-02", "10000", "9213", "92%", "8"],  # 92.13% printed as 92%
            ["2019-01-03", "3", "2", "66.667%", "7.0"]]
    rows[1][4], rows[2][4], rows[3][4] = "7.5", "8", "7.0"
    parsed = parse(write_csv(tmp_path / "r.csv", rows))
    assert [r.counters["calls_answered"] for r in parsed.days] == [9235, 9213, 2]
    assert all("calls_answered" not in r.derived for r in parsed.days)


def test_count_and_rate_that_disagree_are_an_error(tmp_path):
    rows = [["日期", "呼入量", "接通量", "接通率"],
            ["2019-01-01", "10000", "9236", "92.35%"],  # 92.36%: beyond half of 0.01%
            ["2019-01-02", "10000", "9000", "0.95"]]
    found = problems(write_csv(tmp_path / "r.csv", rows))
    assert [(p.row, p.column, p.value) for p in found] == [(2, "接通率", "92.35%"), (3, "接通率", "0.95")]
    assert "does not match the counts" in found[0].why


def test_an_average_answer_time_that_disagrees_with_the_wait_total_is_an_error(tmp_path):
    rows = [["日期", "接通量", "等待总时长(秒)", "平均接通时长(秒)"],
            ["2019-01-01", "100", "750", "7.5"], ["2019-01-02", "100", "750", "7.6"]]
    found = only(problems(write_csv(tmp_path / "r.csv", rows)))
    assert (found.row, found.column, found.value) == (3, "平均接通时长(秒)", "7.6")


# --- totals, blank rows and bad dates -------------------------------------------------------------


@pytest.mark.parametrize("label", ["合计", "总计", "合 计", "小计", "Total"])
def test_a_total_row_that_matches_the_days_is_skipped(tmp_path, label):
    rows = [*BASIC, [label, "23,024", "20,500", "18,975", "92.56%", "", "16,100", "15,295", "", "4,100", "31", "",
                     "2,050", "1,968", ""]]
    parsed = parse(write_csv(tmp_path / "r.csv", rows, "gbk"))
    assert by_day(parsed) == BASIC_DAYS
    assert any(n.startswith("row 4:") and "totals match" in n for n in parsed.notes)


def test_a_total_row_that_does_not_match_names_the_column(tmp_path):
    rows = [["日期", "受理量", "呼入量"], ["2019-01-01", "10", "20"], ["2019-01-02", "5", "7"], ["合计", "15", "26"]]
    found = only(problems(write_csv(tmp_path / "r.csv", rows)))
    assert (found.row, found.column, found.value) == (4, "呼入量", "26")
    assert "add up to 27" in found.why


def test_a_day_after_the_total_row_is_an_error(tmp_path):
    rows = [["日期", "受理量"], ["2019-01-01", "10"], ["合计", "10"], ["2019-01-02", "5"]]
    found = only(problems(write_csv(tmp_path / "r.csv", rows)))
    assert (found.row, found.column, found.value) == (4, "日期", "2019-01-02")
    assert "after the total row at row 3" in found.why


def test_blank_rows_are_skipped_and_rows_keep_their_line_numbers(tmp_path):
    rows = [["日期", "受理量"], [], ["2019-01-01", "10"], ["", ""], ["2019-01-02", "5"]]
    parsed = parse(write_csv(tmp_path / "r.csv", rows))
    assert [(r.day, r.row) for r in parsed.days] == [(D1, 3), (D2, 5)]


def test_a_quoted_cell_over_two_lines_keeps_later_line_numbers_right(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('日期,受理量,备注\n2019-01-01,10,"two\nlines"\n2019-01-02,x,\n', encoding="utf-8")
    assert only(problems(path)).row == 4


def test_an_unreadable_date_or_a_row_without_a_date_is_an_error(tmp_path):
    rows = [["日期", "受理量"], ["2019-01-01", "10"], ["一月二日", "5"], ["", "7"]]
    found = problems(write_csv(tmp_path / "r.csv", rows))
    assert [(p.row, p.column, p.value) for p in found] == [(3, "日期", "一月二日"), (4, "日期", None)]
    assert "no date" in found[1].why


# --- the shared checks -------------------------------------------------------------------------------


def test_a_day_twice(tmp_path):
    rows = [["日期", "受理量"], ["2019-01-01", "10"], ["2019/1/1", "11"]]
    found = only(problems(write_csv(tmp_path / "r.csv", rows)))
    assert (found.row, found.column) == (3, "日期") and "appears twice (also at row 2)" in found.why


def test_a_future_day(tmp_path):
    rows = [["日期", "受理量"], ["2019-01-01", "10"], ["2019-01-02", "11"]]
    found = only(problems(write_csv(tmp_path / "r.csv", rows), today=D1))
    assert (found.row, found.value) == (3, "2019-01-02") and "future" in found.why


def test_a_year_without_a_catalogue(tmp_path):
    rows = [["日期", "受理量"], ["2018-12-31", "10"], ["2019-01-01", "11"]]
    found = only(problems(write_csv(tmp_path / "r.csv", rows)))
    assert (found.row, found.value) == (2, "2018-12-31") and "no target catalogue" in found.why


def test_a_negative_count(tmp_path):
    rows = [["日期", "受理量"], ["2019-01-01", "-10"]]
    found = only(problems(write_csv(tmp_path / "r.csv", rows)))
    assert (found.row, found.column, found.why) == (2, "受理量", "受理量 cannot be negative")  # the header as written


def test_answered_above_offered(tmp_path):
    rows = [["日期", "呼入量", "接通量"], ["2019-01-01", "10", "11"]]
    found = only(problems(write_csv(tmp_path / "r.csv", rows)))
    # Named as the file writes them (docs: columns in problems are named by their header text).
    assert (found.row, found.column) == (2, "接通量") and found.why == "接通量 (11) is greater than 呼入量 (10)"


def test_every_problem_of_the_file_is_listed_at_once(tmp_path):
    rows = [["日报 2019年1月"],
            ["日期", "受理量", "呼入量", "接通量", "接通率"],
            ["2019-01-01", "10", "100", "90", "90%"],
            ["2019-01-32", "10", "100", "90", "90%"],
            ["2019-01-03", "NaN", "100", "90", "90%"],
            ["2019-01-04", "10", "100", "", "150"],
            ["2019-01-05", "10", "", "", "90%"],
            ["2019-01-01", "10", "100", "101", ""],
            ["合计", "99", "", "", ""]]
    found = problems(write_csv(tmp_path / "r.csv", rows, "gb18030"))
    got = {(p.row, p.column, p.value) for p in found}
    assert got == {
        (4, "日期", "2019-01-32"),
        (5, "受理量", "NaN"),
        (6, "接通率", "150"),
        (7, "接通率", "90%"),
        (8, "日期", "2019-01-01"),
        (8, "接通量", "101"),  # named as written in the file
    }, [str(p) for p in found]
    assert all(p.file == "r.csv" and p.why for p in found)


# --- broken files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"\r\n \r\n", b"\xef\xbb\xbf"])
def test_an_empty_file(tmp_path, content):
    path = tmp_path / "r.csv"
    path.write_bytes(content)
    assert only(problems(path)).why == "the file is empty"


def test_a_header_only_file(tmp_path):
    found = only(problems(write_csv(tmp_path / "r.csv", [["日期", "受理量"]])))
    assert "no day rows" in found.why


def test_binary_junk(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(bytes(range(256)) * 4)
    assert "binary data" in only(problems(path)).why


def test_a_truncated_multibyte_character_at_the_end(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes("日期,受理量\n2019-01-01,10\n合计".encode("utf-8")[:-1])
    assert "truncated" in only(problems(path)).why


def test_bytes_that_are_neither_utf8_nor_gb18030(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes("日期,受理量\n".encode("utf-8") + b"\xff\xfe\xff,1\n")
    assert "neither UTF-8" in only(problems(path)).why


def test_junk_named_xlsx(tmp_path):
    path = tmp_path / "日报.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    assert "not a readable XLSX workbook" in only(problems(path)).why
    path.write_bytes(b"hello")
    assert "not an XLSX workbook" in only(problems(path)).why


def test_no_header_anywhere(tmp_path):
    found = only(problems(write_csv(tmp_path / "r.csv", [["a", "b"], ["1", "2"]])))
    assert "no header row found" in found.why


# --- XLSX ------------------------------------------------------------------------------------------------


def test_xlsx_with_a_merged_title_and_a_two_level_header(tmp_path):
    rows = [["2019年1月 12345热线日报", None, None, None, None, None],
            ["日期", "受理量", "话务", None, None, "备注"],
            [None, None, "呼入量", "接通量", "接通率", None],
            [dt.datetime(2019, 1, 1), 11024, 10000, 9000, 0.9, None],
            [dt.date(2019, 1, 2), 12000, 10000, None, 0.95, "rate only"]]
    path = write_xlsx(tmp_path / "r.xlsx", rows, merges=["A1:F1", "A2:A3", "B2:B3", "C2:E2", "F2:F3"])
    parsed = parse(path)
    assert by_day(parsed) == {D1: dict(requests_accepted=11024, calls_offered=10000, calls_answered=9000),
                              D2: dict(requests_accepted=12000, calls_offered=10000, calls_answered=9500)}
    assert [r.row for r in parsed.days] == [4, 5]
    assert "ignored columns: 备注 (F)" in parsed.notes


def test_xlsx_problems_name_the_column_by_header_and_letter(tmp_path):
    rows = [["日期", "呼入量", "接通量", "备注", "接通率"], [dt.datetime(2019, 1, 1), 100, 90, None, 0.5]]
    found = only(problems(write_xlsx(tmp_path / "r.xlsx", rows)))
    assert (found.row, found.column, found.value) == (2, "接通率 (E)", "0.5")


def test_xlsx_percent_cells_under_a_percent_header_are_ratios(tmp_path):
    rows = [["日期", "呼入量", "接通率(%)", "满意度(%)", "回访量"], [dt.datetime(2019, 1, 1), 1000, 0.955, 96, 100]]
    path = write_xlsx(tmp_path / "r.xlsx", rows, formats={"C2": "0.00%"})
    counters = by_day(parse(path))[D1]
    assert counters["calls_answered"] == 955 and counters["survey_satisfied"] == 96


@pytest.mark.parametrize("epoch, serial", [(None, 43466), (CALENDAR_MAC_1904, 43466 - 1462)])
def test_xlsx_raw_serial_dates_follow_the_workbook_epoch(tmp_path, epoch, serial):
    rows = [["日期", "受理量"], [serial, 10], [dt.datetime(2019, 1, 2), 11]]
    path = write_xlsx(tmp_path / "r.xlsx", rows, epoch=epoch)
    assert openpyxl.load_workbook(path).epoch == (epoch or openpyxl.utils.datetime.CALENDAR_WINDOWS_1900)
    assert [r.day for r in parse(path).days] == [D1, D2]


def test_xlsx_serial_60_is_an_error_in_the_1900_system(tmp_path):
    found = only(problems(write_xlsx(tmp_path / "r.xlsx", [["日期", "受理量"], [60, 10]])))
    assert (found.row, found.column, found.value) == (2, "日期 (A)", "60")


def test_xlsx_formula_without_a_cached_value_is_an_error_naming_the_cell(tmp_path):
    rows = [["日期", "呼入量", "接通量"], [dt.datetime(2019, 1, 1), 100, "=B2*0.9"], [dt.datetime(2019, 1, 2), 100, 80]]
    found = only(problems(write_xlsx(tmp_path / "r.xlsx", rows)))
    assert (found.row, found.column, found.value) == (2, "接通量 (C)", "=B2*0.9")
    assert "no cached value" in found.why


def test_xlsx_total_row_and_the_first_sheet_with_a_header(tmp_path):
    rows = [["日期", "受理量", "呼入量"], [dt.datetime(2019, 1, 1), 10, 20], [dt.datetime(2019, 1, 2), 5, 7],
            ["合计", 15, 28]]
    found = only(problems(write_xlsx(tmp_path / "r.xlsx", rows, before=["说明"])))
    assert (found.row, found.column, found.value) == (4, "呼入量 (C)", "28")
    rows[-1][2] = 27
    parsed = parse(write_xlsx(tmp_path / "ok.xlsx", rows, before=["说明"]))
    assert len(parsed.days) == 2 and "read sheet 'Sheet'" in parsed.notes


def test_xlsx_cells_merged_over_two_days_are_an_error(tmp_path):
    rows = [["日期", "受理量"], [dt.datetime(2019, 1, 1), 10], [dt.datetime(2019, 1, 2), None]]
    found = only(problems(write_xlsx(tmp_path / "r.xlsx", rows, merges=["B2:B3"])))
    assert (found.row, found.column) == (2, "受理量 (B)") and "merged over rows 2-3" in found.why


def test_xlsx_without_a_header_lists_the_sheets(tmp_path):
    found = only(problems(write_xlsx(tmp_path / "r.xlsx", [["hello"]])))
    assert found.why.startswith("sheet 'Sheet': no header row found")


# --- sniffing and progress ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, head, expected",
    [
        ("2019年1月日报.xlsx", b"PK\x03\x04", True),
        ("Daily-2019-01.csv", b"", True),
        ("export.csv", "日期,受理量,呼入量\n".encode("gbk"), True),
        ("export.csv", "标题\n日期,受理量,接通率,备注".encode("utf-8")[:-2], True),
        ("export.csv", "日期,受理量\n".encode("utf-8"), False),
        ("export.csv", "工单编号,受理时间,受理渠道\n".encode("utf-8"), False),
        ("export.csv", b"\x00\x01\x02", False),
        # A .txt is what Excel's "Unicode text" and "Text (tab delimited)" save (issue #13).
        ("report.txt", "日期,受理量,呼入量\n".encode("utf-8"), True),
        ("report.pdf", "日期,受理量,呼入量\n".encode("utf-8"), False),
        ("data.xlsx", b"PK\x03\x04", False),
    ],
)
def test_sniff(name, head, expected):
    assert INGESTOR.sniff(Path(name), head) is expected


def test_progress_is_reported_every_few_hundred_rows(tmp_path):
    days = [D1 + dt.timedelta(days=i) for i in range(365)]
    rows = [["日期", "受理量"], *[[d.isoformat(), "1"] for d in days]]
    calls: list[tuple[int, int]] = []
    parsed = parse(write_csv(tmp_path / "r.csv", rows), progress=lambda done, total: calls.append((done, total)))
    assert len(parsed.days) == 365
    assert calls == [(200, 365), (365, 365)]


# --- property: whatever valid report is written, the counts come back --------------------------------

_HEADERS = {
    "requests_accepted": ["受理量", "受理总量", "平台受理量"],
    "calls_offered": ["呼入量", "人工呼入量", "来电量"],
    "calls_answered": ["接通量", "人工接通量", "接听量"],
    "calls_answered_within_15s": ["15秒接通量", "15秒内接通量"],
    "first_contact_eligible": ["话务员受理量"],
    "first_contact_resolved": ["一次性解答量"],
    "tickets_dispatched": ["派单量"],
    "tickets_returned_operator_fault": ["有责退单量", "话务员有责退单量"],
    "survey_responses": ["回访量", "有效回访量"],
    "survey_satisfied": ["满意量"],
}
_DATE_FORMS = ["{d:%Y-%m-%d}", "{d.year}/{d.month}/{d.day}", "{d.year}年{d.month}月{d.day}日", "{d:%Y%m%d}"]


@st.composite
def _day_counts(draw: st.DrawFn) -> dict[str, int | None]:
    def part(whole: int | None) -> int | None:
        return draw(st.none() | st.integers(0, whole if whole is not None else 10**7))

    offered = draw(st.none() | st.integers(0, 10**7))
    answered = part(offered)
    eligible = draw(st.none() | st.integers(0, 10**7))
    dispatched = draw(st.none() | st.integers(0, 10**7))
    responses = draw(st.none() | st.integers(0, 10**7))
    # 话务员受理量 is a part of 受理量 (issue #13): the whole is drawn at least as big.
    accepted = draw(st.none() | st.integers(eligible or 0, 10**9))
    return dict(requests_accepted=accepted, calls_offered=offered,
                calls_answered=answered, calls_answered_within_15s=part(answered) if answered is not None else None,
                first_contact_eligible=eligible, first_contact_resolved=part(eligible),
                tickets_dispatched=dispatched, tickets_returned_operator_fault=part(dispatched),
                survey_responses=responses, survey_satisfied=part(responses))


@settings(max_examples=60, deadline=None)
@given(
    days=st.lists(_day_counts(), min_size=1, max_size=12),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gbk", "gb18030"]),
    headers=st.fixed_dictionaries({k: st.sampled_from(v) for k, v in _HEADERS.items()}),
    date_form=st.sampled_from(_DATE_FORMS),
    unknown=st.sampled_from(["", "—", "-", "/", "N/A"]),
    grouped=st.booleans(),
    title=st.booleans(),
)
def test_any_valid_report_parses_back_to_exactly_its_counts(days, encoding, headers, date_form, unknown, grouped,
                                                            title):
    names = list(_HEADERS)
    rows: list[list[object]] = [["12345热线日报"]] if title else []
    rows.append(["日期", *(headers[n] for n in names)])
    expected = {}
    for i, counts in enumerate(days):
        day = D1 + dt.timedelta(days=i)
        cells = [unknown if counts[n] is None else (f"{counts[n]:,}" if grouped else str(counts[n])) for n in names]
        rows.append([date_form.format(d=day), *cells])
        if any(v is not None for v in counts.values()):  # a date without figures is a blank row (issue #13)
            expected[day] = {n: v for n, v in counts.items() if v is not None}
    assume(expected)
    with tempfile.TemporaryDirectory() as folder:
        parsed = parse(write_csv(Path(folder) / "r.csv", rows, encoding))
    assert by_day(parsed) == expected
    assert all(not r.derived for r in parsed.days)


def test_footnote_rows_under_the_table_are_skipped_with_a_note(tmp_path, catalogues):
    from hotline_kpi.ingest.base import IngestContext
    from hotline_kpi.ingest.daily_report import DailyReportIngestor
    import datetime as _dt

    path = tmp_path / "notes.csv"
    path.write_text("日期,呼入量,接通量\n2019-01-01,100,90\n合计,100,90\n注：接通率=接通量/呼入量,,\n制表人：张三,,\n",
                    encoding="utf-8")
    ctx = IngestContext(hotline=catalogues.hotline("shanghai-12345"), catalogues=catalogues,
                        today=_dt.date(2020, 1, 1))
    parsed = DailyReportIngestor().parse(path, ctx)
    assert [d.day for d in parsed.days] == [_dt.date(2019, 1, 1)]
    assert sum("remark skipped" in n for n in parsed.notes) == 2


def test_a_remark_with_figures_beside_it_is_not_silently_skipped(tmp_path, catalogues):
    from hotline_kpi.ingest.base import IngestContext, IngestRejected
    from hotline_kpi.ingest.daily_report import DailyReportIngestor
    import datetime as _dt

    path = tmp_path / "notes.csv"
    path.write_text("日期,呼入量,接通量\n2019-01-01,100,90\n备注,5,4\n", encoding="utf-8")
    ctx = IngestContext(hotline=catalogues.hotline("shanghai-12345"), catalogues=catalogues,
                        today=_dt.date(2020, 1, 1))
    with pytest.raises(IngestRejected):
        DailyReportIngestor().parse(path, ctx)


# --- issue #13: the office's real layouts (cases 9, 10, 11); CLI and inbox: test_daily_report_rows.py --------


MARCH_TODAY = dt.date(2019, 3, 19)
MARCH = [["日期", "受理量", "呼入量", "接通量", "接通率", "话务员受理量"]]


def _march(n: int) -> list[object]:
    return [f"2019-03-{n:02d}", 11000 + n, 10000 + n, 9000 + n, "", 8000 + n]


def test_the_month_template_mid_month_loads_the_filled_days_and_skips_the_dated_blank_rows(tmp_path):
    blank = [[f"2019-03-{n:02d}", "", "—", "", "#DIV/0!", ""] for n in range(20, 32)]
    rows = [*MARCH, *(_march(n) for n in range(17, 20)), *blank,
            ["合计", sum(11000 + n for n in range(17, 20)), "", "", "", ""]]
    parsed = parse(write_csv(tmp_path / "r.csv", rows), today=MARCH_TODAY)
    assert by_day(parsed) == {dt.date(2019, 3, n): dict(requests_accepted=11000 + n, calls_offered=10000 + n,
                                                        calls_answered=9000 + n, first_contact_eligible=8000 + n)
                              for n in range(17, 20)}
    assert "12 dated row(s) without figures skipped (2019-03-20 … 2019-03-31)" in parsed.notes
    assert any("合计 row skipped; its totals match" in n for n in parsed.notes)


def test_a_dated_row_with_some_figures_is_a_day_and_may_be_in_the_future(tmp_path):
    rows = [*MARCH, _march(19), ["2019-03-20", "", "", "", "", "12"], ["2019-03-21", "", "", "", "", ""]]
    found = only(problems(write_csv(tmp_path / "r.csv", rows), today=MARCH_TODAY))
    assert (found.row, found.value) == (3, "2019-03-20") and "future" in found.why


def test_a_template_without_any_figure_yet_is_refused_saying_so(tmp_path):
    rows = [*MARCH, *([f"2019-03-{n:02d}", "", "", "", "", ""] for n in range(1, 32))]
    found = only(problems(write_csv(tmp_path / "r.csv", rows), today=dt.date(2019, 2, 28)))
    assert "all 31 dated rows" in found.why and "without figures" in found.why


def _weeks(subtotal_of: callable) -> list[list[object]]:
    rows: list[list[object]] = [["日期", "受理量", "呼入量"]]
    for n in range(1, 8):
        rows.append([f"2019-03-{n:02d}", n, 10 * n])
        if n in (3, 7):
            rows.append([f"第{1 if n == 3 else 2}周小计", *subtotal_of(n)])
    rows.append(["合计", 28, 280])
    return rows


def test_weekly_subtotals_are_checked_against_their_week_and_never_summed_as_days(tmp_path):
    week = {3: (6, 60), 7: (22, 220)}
    parsed = parse(write_csv(tmp_path / "r.csv", _weeks(lambda n: week[n])))
    assert by_day(parsed) == {dt.date(2019, 3, n): dict(requests_accepted=n, calls_offered=10 * n) for n in range(1, 8)}
    assert [n for n in parsed.notes if "totals match" in n] == [
        "row 5: 第1周小计 row skipped; its totals match the days", "row 10: 第2周小计 row skipped; its totals match the days",
        "row 11: 合计 row skipped; its totals match the days"]


def test_a_running_subtotal_matches_the_days_so_far(tmp_path):
    running = {3: (6, 60), 7: (28, 280)}
    parsed = parse(write_csv(tmp_path / "r.csv", _weeks(lambda n: running[n])))
    assert len(parsed.days) == 7 and any("row 10: 第2周小计" in n and "so far" in n for n in parsed.notes)


def test_a_wrong_weekly_subtotal_names_its_column(tmp_path):
    wrong = {3: (6, 60), 7: (22, 221)}
    found = only(problems(write_csv(tmp_path / "r.csv", _weeks(lambda n: wrong[n]))))
    assert (found.row, found.column, found.value) == (10, "呼入量", "221")
    assert "第2周小计 row says 221 but the days since the previous subtotal add up to 220" in found.why


@pytest.mark.parametrize("label", ["本周合计", "小计", "第 2 周小计"])
def test_a_subtotal_in_the_date_column_does_not_end_the_table(tmp_path, label):
    rows = [["日期", "受理量"], ["2019-03-01", 5], [label, 5], ["2019-03-02", 7], ["合计", 12]]
    assert len(parse(write_csv(tmp_path / "r.csv", rows)).days) == 2


def test_a_total_in_a_serial_column_with_the_date_cell_empty_is_the_total_row(tmp_path):
    rows = [["序号", "日期", "受理量", "呼入量"], [1, dt.datetime(2019, 3, 1), 10, 9], [2, dt.datetime(2019, 3, 2), 20, 18],
            ["合计", None, 30, 27]]
    parsed = parse(write_xlsx(tmp_path / "r.xlsx", rows, merges=["A4:B4"]))
    assert by_day(parsed) == {dt.date(2019, 3, 1): dict(requests_accepted=10, calls_offered=9),
                              dt.date(2019, 3, 2): dict(requests_accepted=20, calls_offered=18)}
    assert "row 4: 合计 row skipped; its totals match the days" in parsed.notes
    wrong = [*rows[:3], ["合计", None, 31, 27]]
    found = only(problems(write_xlsx(tmp_path / "w.xlsx", wrong)))
    assert (found.row, found.column, found.value) == (4, "受理量 (C)", "31")


def test_a_two_cell_signature_footer_is_a_footnote_in_any_columns(tmp_path):
    rows = [[None, "日期", "受理量", "呼入量", "接通量"], [None, dt.datetime(2019, 3, 1), 10, 9, 8],
            [None, None, None, None, None], [None, "制表人：张三", None, "审核人：李四", None]]
    parsed = parse(write_xlsx(tmp_path / "r.xlsx", rows))
    assert by_day(parsed) == {dt.date(2019, 3, 1): dict(requests_accepted=10, calls_offered=9, calls_answered=8)}
    assert "row 4: remark skipped: 制表人：张三 … 审核人：李四" in parsed.notes


@pytest.mark.parametrize("group_row", [["日期", "话务", "", "", "工单"], ["", "话务", "", "", "工单"]])
def test_the_csv_export_of_a_two_row_header_is_read(tmp_path, group_row):
    second = ["" if group_row[0] else "日期", "受理量", "呼入量", "接通量", "派单量"]
    rows = [group_row, second, ["2019-03-01", 10, 9, 8, 3], ["2019-03-02", 20, 19, 18, 4]]
    parsed = parse(write_csv(tmp_path / "r.csv", rows))
    assert by_day(parsed)[dt.date(2019, 3, 2)] == dict(requests_accepted=20, calls_offered=19, calls_answered=18,
                                                       tickets_dispatched=4)
    assert [r.row for r in parsed.days] == [3, 4]


def test_hidden_day_rows_are_loaded_with_a_note_naming_them(tmp_path):
    """A filter hides rows from the view, not from the month: a clerk who left one on still
    means the whole sheet. The rows are loaded, and the note names them (Grid.hidden_rows is
    filled by the reading layer for XLSX)."""
    from hotline_kpi.ingest.daily_report import _Parser
    from hotline_kpi.ingest.grid import Grid

    rows = [(1, ["日期", "受理量"]), (2, ["2019-03-01", "10"]), (3, ["2019-03-02", "20"]), (4, ["2019-03-03", "30"])]
    grid = Grid(rows=rows, head=[cells for _, cells in rows], hidden_rows={3, 4})
    parsed = _Parser(grid, "r.csv", context(), []).run()
    assert [r.day for r in parsed.days] == [dt.date(2019, 3, n) for n in (1, 2, 3)]
    assert "2 hidden row(s) (a filter, or hidden by hand) loaded like the others: row 3 (2019-03-02), " \
           "row 4 (2019-03-03)" in parsed.notes


def test_rows_hidden_by_a_filter_in_an_xlsx_are_named_in_the_notes(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in [["日期", "受理量"], [dt.datetime(2019, 3, 1), 10], [dt.datetime(2019, 3, 2), 20]]:
        ws.append(row)
    ws.auto_filter.ref = "A1:B3"
    ws.row_dimensions[3].hidden = True
    wb.save(tmp_path / "r.xlsx")
    parsed = parse(tmp_path / "r.xlsx")
    assert len(parsed.days) == 2 and any("row 3 (2019-03-02)" in n for n in parsed.notes)


@pytest.mark.parametrize("written", ["1.1E+04", "1.1e4", "１．１Ｅ＋０４", "11E3"])
def test_a_count_in_scientific_notation_is_refused_naming_the_value(tmp_path, written):
    rows = [["日期", "受理量", "呼入量"], ["2019-03-01", written, "10000"]]
    found = only(problems(write_csv(tmp_path / "r.csv", rows)))
    assert (found.row, found.column, found.value) == (2, "受理量", written)
    assert "scientific notation is not exact" in found.why and "1,000s" in found.why


def test_a_count_in_scientific_notation_with_every_digit_written_is_exact(tmp_path):
    rows = [["日期", "受理量", "呼入量"], ["2019-03-01", "1.1024E+04", "1.00000E+04"]]
    assert by_day(parse(write_csv(tmp_path / "r.csv", rows))) == {
        dt.date(2019, 3, 1): dict(requests_accepted=11024, calls_offered=10000)}


def test_operator_requests_above_all_requests_name_both_columns_as_written(tmp_path):
    rows = [["日期", "受理量", "话务员受理量"], [dt.datetime(2019, 3, 1), 9000, 9500]]
    found = only(problems(write_xlsx(tmp_path / "r.xlsx", rows)))
    assert (found.row, found.column, found.value) == (2, "话务员受理量 (C)", "9500")
    assert found.why == "话务员受理量 (C) (9500) is greater than 受理量 (B) (9000)"
