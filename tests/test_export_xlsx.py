"""`hotline-kpi export daily --format xlsx --headers zh`: the daily counters as the office
opens them (read back with openpyxl: Chinese headers, numbers as numbers, unknown days
empty), and csv with the same headers."""

from __future__ import annotations

import csv
import datetime as dt
import io

from click.testing import CliRunner
from openpyxl import load_workbook

from hotline_kpi.cli import cli
from hotline_kpi.cli.app import App
from tests.test_cli import REPORT, env, run  # noqa: F401 - fixtures

ZH_HEADERS = ["日期", "受理量", "呼入量", "接通量"]


def test_export_daily_xlsx_with_chinese_headers(run, tmp_path):  # noqa: F811
    (tmp_path / "jan.csv").write_text(REPORT, encoding="utf-8")
    assert run("ingest", str(tmp_path / "jan.csv")).exit_code == 0
    out = tmp_path / "daily.xlsx"
    result = run("export", "daily", "--from", "2019-01-01", "--to", "2019-01-05", "--format", "xlsx",
                 "--headers", "zh", "--output", str(out))
    assert result.exit_code == 0, result.output
    ws = load_workbook(out).active
    header = [c.value for c in ws[1]]
    assert header[:4] == ZH_HEADERS and all(h and not h.isascii() for h in header)
    assert "等待总时长（秒）" in header  # the one counter in seconds says so (issue #14)
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in rows] == [dt.datetime(2019, 1, d) for d in range(1, 6)]
    first = dict(zip(header, rows[0]))
    assert (first["受理量"], first["呼入量"], first["接通量"]) == (11000, 10000, 9300)
    assert all(isinstance(first[h], int) for h in ("受理量", "呼入量", "接通量"))
    assert rows[2][1:] == (None,) * (len(header) - 1)  # 3 January: no file, empty cells (not 0)

    english = tmp_path / "daily-en.xlsx"
    assert run("export", "daily", "--from", "2019-01-01", "--to", "2019-01-05", "--format", "xlsx",
               "--headers", "en", "-o", str(english)).exit_code == 0
    english_header = [c.value for c in load_workbook(english).active[1]]
    assert english_header[0] == "Date" and "answer_wait_seconds_sum (seconds)" in english_header

    text = run("export", "daily", "--from", "2019-01-01", "--to", "2019-01-02", "--headers", "zh").stdout
    rows_csv = list(csv.reader(io.StringIO(text)))
    assert rows_csv[0][:4] == ZH_HEADERS and rows_csv[1][:4] == ["2019-01-01", "11000", "10000", "9300"]


def test_export_daily_xlsx_needs_an_output_file(env, clock):  # noqa: F811
    result = CliRunner().invoke(cli, ["export", "daily", "--from", "2019-01-01", "--to", "2019-01-05",
                                      "--format", "xlsx"], obj=App(clock=clock))
    assert result.exit_code == 2
    assert "XLSX 是二进制文件：请用 --output 指定要写入的文件" in result.output
