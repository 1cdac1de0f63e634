"""A spreadsheet's value in a problem as the office sees it in the sheet (issue #14, the
new-user review): no float noise (0.553, not 0.5529999999999999), a percent-formatted cell
as 55.30%, and no exponent notation anywhere (4000000, 0.05%)."""

from __future__ import annotations

import datetime as dt

from hotline_kpi.problems import plain_number, written
from tests.ingest.test_daily_report import problems, write_xlsx
from tests.ingest.test_sheets import _convert, needs_soffice

NOISY = 0.5529999999999999  # how a legacy .xls stores the 55.30% typed in


def test_numbers_are_written_without_noise_or_exponents():
    assert written(NOISY) == "0.553" and written(NOISY, percent=True) == "55.30%"
    assert written(0.5, percent=True) == "50.00%" and written(4e6) == "4000000" and written(1.0) == "1"
    assert plain_number(5e-05) == "0.00005" and plain_number(1e-9) == "0.000000001"


def _mismatch(tmp_path, percent: bool):
    rows = [["日期", "呼入量", "接通量", "接通率"], [dt.datetime(2019, 1, 1), 4_000_000, 2_000_000, NOISY]]
    path = write_xlsx(tmp_path / "r.xlsx", rows, formats={"D2": "0.00%"} if percent else None)
    [found] = problems(path)
    return found


def test_a_rate_that_does_not_match_its_counts_is_told_as_written(tmp_path):
    found = _mismatch(tmp_path, percent=True)
    assert found.value == "55.30%"
    assert found.render("zh") == (
        "r.xlsx，第 2 行，“接通率 (D)”列，值“55.30%”：与数量不符：接通量 (C) / 呼入量 (B) = 2000000 / 4000000 = 50%，"
        "而比率为 55.3%（允许误差 0.05%）")
    assert found.render("en").endswith(
        "= 2000000 / 4000000 = 50%, the rate says 55.3% (allowed difference 0.05%)"), found.render("en")


def test_a_general_formatted_value_is_shown_as_the_sheet_shows_it(tmp_path):
    found = _mismatch(tmp_path, percent=False)
    assert found.value == "0.553" and "0.5529999999999999" not in found.render("zh")
    assert "e-0" not in found.render("zh") and "e+0" not in found.render("zh")


def test_the_allowed_difference_of_a_written_percentage_has_no_exponent(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("日期,呼入量,接通量,接通率\n2019-01-01,4000000,2000000,55.30%\n", encoding="utf-8")
    [found] = problems(path)
    assert found.render("zh").endswith("与数量不符：接通量 / 呼入量 = 2000000 / 4000000 = 50%，而比率为 55.3%（允许误差 0.005%）"), \
        found.render("zh")


def test_large_counts_in_a_problem_have_no_exponent(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("日期,呼入量,接通量\n2019-01-01,4000000,4000001\n", encoding="utf-8")
    [found] = problems(path)
    assert found.render("zh") == "r.csv，第 2 行，“接通量”列，值“4000001”：接通量（4000001）大于呼入量（4000000）", found.render("zh")
    assert found.render("en").endswith("value '4000001': 接通量 (4000001) is greater than 呼入量 (4000000)"), found.render("en")


@needs_soffice
def test_a_legacy_xls_value_is_shown_as_the_sheet_shows_it(tmp_path):
    """LibreOffice writes the .xls (Excel 97-2003): calamine reads its binary double back."""
    rows = [["日期", "呼入量", "接通量", "接通率"], [dt.datetime(2019, 1, 1), 4_000_000, 2_000_000, NOISY]]
    xls = _convert(write_xlsx(tmp_path / "r.xlsx", rows), "xls")
    [found] = problems(xls)
    assert found.value == "0.553", found
    assert found.render("zh").endswith("值“0.553”：与数量不符：接通量 (C) / 呼入量 (B) = 2000000 / 4000000 = 50%，"
                                       "而比率为 55.3%（允许误差 0.05%）"), found.render("zh")
