"""A new user's review of the ingest path, in the default language (Chinese): each case
asserts the exact text the office sees (issue #14)."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from hotline_kpi.cli import cli
from hotline_kpi.cli.app import App

needs_soffice = pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")


def _ingest(clock, *args: str):
    return CliRunner().invoke(cli, ["ingest", "--no-evaluate", *args], obj=App(clock=clock), catch_exceptions=False)


def _days_stored(url: str) -> int:
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return con.execute("SELECT count(*) FROM source_day").fetchone()[0]
    finally:
        con.close()


def _convert(xlsx: Path, fmt: str) -> Path:
    out = xlsx.parent / "converted"
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{xlsx.parent}/lo-profile",
                    "--convert-to", fmt, "--outdir", str(out), str(xlsx)],
                   check=True, capture_output=True, timeout=180)
    return out / f"{xlsx.stem}.{fmt}"


@needs_soffice
@pytest.mark.parametrize("fmt", ["xls", "ods"])
def test_an_xls_with_excel_error_values_is_refused_like_an_xlsx(cli_env, tmp_path, clock, fmt):
    """LibreOffice saves =NA() and =1/0 with their error results; python-calamine would read
    them as empty cells (an unknown figure, loaded silently)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "十二月"
    ws.append(["日期", "受理量", "呼入量", "接通量", "接通率"])
    ws.append([dt.date(2019, 12, 3), "=NA()", 8916, 8557, 0.9597])
    ws.append([dt.date(2019, 12, 4), 9000, 8916, 8557, "=1/0"])
    wb.save(tmp_path / "na.xlsx")
    book = _convert(tmp_path / "na.xlsx", fmt)
    result = _ingest(clock, str(book))
    assert result.exit_code == 1, result.output
    assert f"✗ na.{fmt}：已拒收，未存入任何数据（2 个问题，工作表“十二月”）" in result.stderr
    assert f"na.{fmt}，第 2 行，“受理量 (B)”列，值“#N/A”：Excel 错误值 #N/A" in result.stderr
    assert f"na.{fmt}，第 3 行，“接通率 (E)”列，值“#DIV/0!”：Excel 错误值 #DIV/0!" in result.stderr
    assert _days_stored(cli_env) == 0


def test_a_disagreement_names_the_sources_by_display_name_and_the_column_as_written(cli_env, tmp_path, clock):
    tickets = tmp_path / "工单导出-2019-12.csv"
    rows = ["工单编号,受理时间,受理渠道,办理方式,是否退单,退单责任"]
    rows += [f"T{i:05d},2019-12-02 08:{i % 60:02d}:00,电话,直接答复,否," for i in range(20)]
    tickets.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert _ingest(clock, str(tickets)).exit_code == 0
    report = tmp_path / "formula.csv"
    report.write_text("日期,受理量,呼入量,接通量\n2019-12-02,9650,8916,8557\n", encoding="utf-8")
    result = _ingest(clock, str(report))
    assert result.exit_code == 1, result.output
    assert ("formula.csv，第 2 行，“受理量”列，值“9650”：2019-12-02：受理量：日报为 9650，而工单导出"
            "（工单导出-2019-12.csv）为 20，相差 99.8%：超过允许的 5.0%（设置项 source_tolerance）") in result.stderr
    en = CliRunner().invoke(cli, ["--lang", "en", "ingest", "--no-evaluate", str(report)], obj=App(clock=clock))
    assert ("formula.csv, row 2, column 受理量, value '9650': 2019-12-02: 受理量: the daily report gives 9650 but "
            "the ticket export (工单导出-2019-12.csv) gives 20, 99.8% apart: more than the 5.0% allowed "
            "(setting source_tolerance)") in en.stderr


_KNOWN = ("已知数据来源：回访导出（callbacks）：表头含 工单编号、回访时间、回访结果；日报（daily-report）：表头含 日期 及 "
          "受理量、呼入量、接通量 等列；话务队列日志（queue-log）：Asterisk queue_log 行（时间|呼叫编号|队列|坐席|事件|……）；"
          "支出台账（spending）：表头含 预算项目 和 金额；工单导出（tickets）：表头含 工单编号、受理时间、受理渠道、办理方式、是否退单。")


def _inbox_rejection(sqlite_url, settings, catalogues, clock, name: str, data: bytes) -> str:
    """Drop ``data`` as ``name`` in the inbox (written a minute ago), scan it until settled and
    return the rejection report it leaves in quarantine."""
    import os

    from hotline_kpi.service.inbox import Inbox
    from hotline_kpi.store.db import make_engine
    from tests.service.test_inbox import settled_scan

    engine = make_engine(sqlite_url)
    try:
        box = Inbox(engine, settings, catalogues, clock)
        box.ensure_folders()
        dropped = box.root / name
        dropped.write_bytes(data)
        stamp = clock.now().timestamp() - 60
        os.utime(dropped, (stamp, stamp))
        [outcome] = settled_scan(box)
        assert outcome.outcome == "rejected", outcome
        return (settings.quarantine_dir / f"{name}.error.txt").read_text(encoding="utf-8")
    finally:
        engine.dispose()


def test_an_unrecognised_file_tells_the_cli_of_source_and_the_inbox_how_to_be_recognised(
        cli_env, tmp_path, clock, sqlite_url, settings, catalogues):
    data = "姓名,部门\n张三,办公室\n".encode()
    path = tmp_path / "数据.csv"
    path.write_bytes(data)
    result = _ingest(clock, str(path))
    assert result.exit_code == 1
    assert _KNOWN + "请用 --source 指定其来源。\n" in result.stderr

    report = _inbox_rejection(sqlite_url, settings, catalogues, clock, "数据.csv", data)
    assert _KNOWN + "要让收件箱识别它，请使用该来源的表头，或在文件名中写明来源（日报、工单、回访或支出）。" in report
    assert "--source" not in report


@pytest.mark.parametrize("written, why", [
    ("2019-13-01", "不是真实存在的日期：月份 13 不存在"),
    ("2019-02-29", "不是真实存在的日期：2019 年 2 月只有 28 天，没有 29 日"),
    ("2019年4月31日", "不是真实存在的日期：2019 年 4 月只有 30 天，没有 31 日"),
])
def test_a_date_that_does_not_exist_is_told_as_written_and_why(cli_env, tmp_path, clock, written, why):
    path = tmp_path / "日报.csv"
    path.write_text(f"日期,受理量,呼入量,接通量\n{written},9000,8916,8557\n", encoding="utf-8")
    result = _ingest(clock, str(path))
    assert result.exit_code == 1
    assert f"日报.csv，第 2 行，“日期”列，值“{written}”：{why}\n" in result.stderr


def test_a_header_without_a_date_column_quotes_the_headers_not_understood(cli_env, tmp_path, clock):
    path = tmp_path / "日报.csv"
    path.write_text("日子,受理量,呼入量\n2019-12-03,9000,8916\n", encoding="utf-8")
    result = _ingest(clock, "--source", "daily-report", str(path))
    assert result.exit_code == 1
    assert "第 1 行像表头（受理量、呼入量），但没有日期列（日期 或 date）；未能识别的列名：“日子”" in result.stderr


def test_a_rejected_workbook_tells_its_notes_on_the_cli_and_in_the_quarantine_report(
        cli_env, tmp_path, clock, sqlite_url, settings, catalogues):
    wb = Workbook()
    ws = wb.active
    ws.title = "十二月"
    ws.append(["日期", "受理量", "呼入量", "接通量"])
    ws.append([dt.date(2019, 12, 3), "abc", 8916, 8557])
    hidden = wb.create_sheet("隐藏")
    hidden.append(["日期", "受理量", "呼入量", "接通量"])
    hidden.sheet_state = "hidden"
    book = tmp_path / "hid.xlsx"
    wb.save(book)
    expected = ("✗ hid.xlsx：已拒收，未存入任何数据（1 个问题，工作表“十二月”）：\n"
                "  - hid.xlsx，第 2 行，“受理量 (B)”列，值“abc”：不是数字\n"
                "  说明：未读取隐藏工作表 “隐藏”：除非用 --sheet 指定，隐藏工作表不会被读取\n"
                "  说明：已读取工作表“十二月”\n")
    result = _ingest(clock, str(book))
    assert result.exit_code == 1
    assert expected in result.stderr

    report = _inbox_rejection(sqlite_url, settings, catalogues, clock, "hid.xlsx", book.read_bytes())
    assert expected.removeprefix("✗ ") in report


def test_two_columns_meaning_the_same_are_named_not_an_unknown_source(cli_env, tmp_path, clock):
    path = tmp_path / "dup.csv"
    path.write_text("日期,受理量,受理总量\n2019-12-03,9000,9000\n", encoding="utf-8")
    result = _ingest(clock, str(path))
    assert result.exit_code == 1
    assert "无法判断" not in result.stderr
    assert "dup.csv，“受理总量”列，值“受理总量”：两列表示同一数据：受理量 和 受理总量；请只保留一列" in result.stderr
