"""Messages in the office's language, reviewed by a reader of Chinese only (issue #14): the
words inside a Chinese sentence are Chinese too. A source is named by its display name (日报,
回访导出 ... as the status page and the mails name it), the id only where a command takes it.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
from click.testing import CliRunner

from hotline_kpi.cli import _use_language, cli
from hotline_kpi.cli.app import App
from tests.test_cli import REPORT
from tests.test_messages import _chinese, english_sentences


def _run(args: list[str], clock) -> tuple[int, str]:  # noqa: ANN001
    result = CliRunner().invoke(cli, args, obj=App(clock=clock), catch_exceptions=False)
    _use_language("zh")
    return result.exit_code, result.output


def test_a_file_of_no_known_source_lists_the_sources_by_their_chinese_names(cli_env, tmp_path, clock):
    path = tmp_path / "不明.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    code, text = _run(["ingest", str(path)], clock)
    assert code != 0 and _chinese(text) and english_sentences(text) == [], text
    assert "日报（daily-report）：表头含 日期" in text, text
    for shown in ("回访导出（callbacks）：", "话务队列日志（queue-log）：", "工单导出（tickets）："):
        assert shown in text, (shown, text)
    assert "; " not in text and "callbacks：" not in text
    code, text = _run(["--lang", "en", "ingest", str(path)], clock)
    assert "daily report (daily-report): " in text and "; " in text, text


def test_a_loaded_file_names_its_source_in_chinese(cli_env, tmp_path, clock):
    path = tmp_path / "一月.csv"
    path.write_text(REPORT, encoding="utf-8")
    code, text = _run(["ingest", str(path)], clock)
    assert code == 0, text
    assert "一月.csv：日报，" in text and "daily-report" not in text, text
    code, text = _run(["ingest", str(path)], clock)
    assert "日报" in text and "daily-report" not in text, text


def test_several_daily_report_sheets_are_named_in_chinese(cli_env, tmp_path, clock):
    wb = openpyxl.Workbook()
    first = wb.active
    first.title = "一月"
    second = wb.create_sheet("二月")
    for ws in (first, second):
        for line in REPORT.strip().splitlines():
            ws.append([float(v) if v.replace(".", "").isdigit() else v for v in line.split(",")])
    path = tmp_path / "两表.xlsx"
    wb.save(path)
    code, text = _run(["ingest", str(path)], clock)
    assert code != 0 and english_sentences(text) == [], text
    assert "多个工作表都含日报表头" in text and "daily report" not in text, text
    code, text = _run(["--lang", "en", "ingest", str(path)], clock)
    assert "several sheets hold a daily report header" in text, text
