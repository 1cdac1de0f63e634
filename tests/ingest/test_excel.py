"""hotline_kpi.ingest.excel: openpyxl's constants and helpers without importing openpyxl up front."""

import subprocess
import sys
from pathlib import Path

from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import WINDOWS_EPOCH
from openpyxl.utils.datetime import from_excel as openpyxl_from_excel

from hotline_kpi.ingest import excel


def test_the_epoch_letters_and_serial_dates_are_openpyxls():
    assert excel.WINDOWS_EPOCH == WINDOWS_EPOCH
    assert [excel.column_letter(n) for n in (1, 26, 27, 16384)] == ["A", "Z", "AA", "XFD"]
    assert [excel.column_letter(n) for n in (1, 28)] == [get_column_letter(1), get_column_letter(28)]
    assert excel.from_excel(43831.5) == openpyxl_from_excel(43831.5) == __import__("datetime").datetime(2020, 1, 1, 12)


def test_an_ingest_or_the_cli_does_not_load_openpyxl_until_a_workbook_is_read():
    """A process that ingests a queue_log or a CSV (the CLI's, the service's) does not pay
    openpyxl's and lxml's 20 MB; reading a workbook loads it."""
    code = """
import sys
from hotline_kpi.ingest.pipeline import ingest_file
import hotline_kpi.cli
print("before", any(m.split(".")[0] in ("openpyxl", "lxml") for m in sys.modules))
from hotline_kpi.ingest.sheet import parse_moment
from zoneinfo import ZoneInfo
print("moment", parse_moment(43831.5, ZoneInfo("Asia/Shanghai")))
print("after", "openpyxl" in sys.modules)
"""
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["before False", "moment 2020-01-01 12:00:00+08:00", "after True"]
