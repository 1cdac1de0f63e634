"""Messages in the office's language (issue #14): every bad-input case the suite already
exercises (tests/reliability/test_bad_input.py, through the CLI and the inbox's quarantine
report) is walked again in the default language. Each message must be Chinese, name its
place (the file, the row as the spreadsheet numbers it, the column header as written,
the value as written) and hold no English sentence; ``--lang en`` gives English.
"""

from __future__ import annotations

import os
import re

import pytest
from click.testing import CliRunner

from hotline_kpi.cli import cli
from hotline_kpi.cli.app import App
from hotline_kpi.service.inbox import Inbox
from hotline_kpi.store.db import make_engine
from tests.reliability.support import counts
from tests.reliability.test_bad_input import CASE_IDS, CASES, DISAGREEMENTS, Bad, Disagreement
from tests.service.test_inbox import settled_scan

#: Three or more English words in a row: a sentence (or a phrase) left untranslated.
_ENGLISH = re.compile(r"[A-Za-z]+(?:[ ,'’-]+[A-Za-z]+){2,}")
#: What may stay as written in a Chinese message: names of files, settings, options, formats,
#: encodings, Asterisk events; and the text of the file itself (a value or header as written).
_KEPT = re.compile(r"/[\w./-]+|docs/[\w./-]+|--[a-z-]+|HOTLINE_KPI_\w+|\b[a-z_]+\.[a-z_]+\b|tr -d '\\\\000' < queue_log > "
                   r"queue_log\.clean|time\|callid\|queuename\|agent\|event\|data|"
                   r"“[^”]*”|'[^']*'")


def english_sentences(text: str) -> list[str]:
    """The English phrases of a message once names, values and quoted text are set aside."""
    return _ENGLISH.findall(_KEPT.sub(" ", text))


def _chinese(text: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", text) is not None


def _place_words(case_says: tuple[str, ...]) -> list[str]:
    """The place an English case names, as its Chinese message must name it: the file
    (and the value) as written, "row 3" as 第 3 行."""
    words = []
    for word in case_says:
        m = re.fullmatch(r"row (\d+)", word)
        if m:
            words.append(f"第 {m.group(1)} 行")
        elif re.search(r"[\u4e00-\u9fff]", word) or re.fullmatch(r"[\d-]{6,}|=.*|#\w+!", word):
            words.append(word)  # a file name, a header or a value as written
    return words


def _check(text: str, case_id: str, says: tuple[str, ...]) -> None:
    assert _chinese(text), (case_id, text[:800])
    assert english_sentences(text) == [], (case_id, english_sentences(text), text[:1500])
    for word in _place_words(says):
        assert word.lower() in text.lower(), (case_id, word, text[:1500])


def test_the_english_sentence_finder_finds_one():
    assert english_sentences("日报.csv：第 3 行：不是数字（UTF-8 BOM）") == []  # names: no sentence
    assert english_sentences("日报.csv：第 3 行：not a number") == ["not a number"]
    assert english_sentences("值“see the sheet for more”：不是数字") == []  # the file's own text


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_cli_says_what_is_wrong_in_chinese_by_default(case: Bad, cli_env, tmp_path, clock):
    path = tmp_path / "in" / case.name
    path.parent.mkdir()
    path.write_bytes(case.data)
    args = ["ingest", *(["--source", case.source] if case.source else []), str(path)]
    result = CliRunner().invoke(cli, args, obj=App(clock=clock), catch_exceptions=False)
    assert result.exit_code == 1, result.output
    _check(result.stderr, case.id, case.says)
    assert "未存入任何数据" in result.stderr


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_quarantine_report_is_chinese(case: Bad, sqlite_url, settings, catalogues, clock):
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
        report = (settings.quarantine_dir / (case.name + ".error.txt")).read_text(encoding="utf-8")
        _check(report, case.id, case.says)
    finally:
        engine.dispose()


@pytest.mark.parametrize("case", DISAGREEMENTS, ids=[d.id for d in DISAGREEMENTS])
def test_a_disagreement_between_sources_is_told_in_chinese(case: Disagreement, cli_env, tmp_path, clock):
    folder = tmp_path / "in"
    folder.mkdir()
    for name, data in (case.first, case.second):
        (folder / name).write_bytes(data)
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(folder / case.first[0])], obj=App(clock=clock)).exit_code == 0
    result = runner.invoke(cli, ["ingest", str(folder / case.second[0])], obj=App(clock=clock),
                           catch_exceptions=False)
    assert result.exit_code == 1
    _check(result.stderr, case.id, ())
    # the figure by its Chinese name (受理量), not the internal requests_accepted; both files named
    assert "受理量" in result.stderr and "requests_accepted" not in result.stderr
    assert case.first[0] in result.stderr and case.second[0] in result.stderr


def test_english_by_option_and_by_setting(cli_env, tmp_path, clock, monkeypatch):
    path = tmp_path / "日报.csv"
    path.write_bytes("日期,受理量,呼入量\n2019-01-01,11000,九十五\n".encode())
    runner = CliRunner()
    zh = runner.invoke(cli, ["ingest", str(path)], obj=App(clock=clock))
    assert zh.exit_code == 1
    assert "日报.csv，第 2 行，“呼入量”列，值“九十五”：不是数字" in zh.stderr
    assert "错误：1 个文件中 1 个被拒收" in zh.stderr or "错误：" in zh.stderr
    en = runner.invoke(cli, ["--lang", "en", "ingest", str(path)], obj=App(clock=clock))
    assert "日报.csv, row 2, column 呼入量, value '九十五': not a number" in en.stderr
    assert "error: 1 of 1 file(s) rejected; nothing of them was stored" in en.stderr
    assert not english_sentences(zh.stderr) and _chinese(zh.stderr)
    monkeypatch.setenv("HOTLINE_KPI_LANGUAGE", "en")
    by_setting = runner.invoke(cli, ["ingest", str(path)], obj=App(clock=clock))
    assert "not a number" in by_setting.stderr and "rejected" in by_setting.stderr


def test_clicks_own_messages_and_help_are_chinese_by_default_and_english_by_option(cli_env):
    runner = CliRunner()
    help_zh = runner.invoke(cli, ["--help"])
    assert help_zh.exit_code == 0
    assert "用法：" in help_zh.output and "选项：" in help_zh.output and "命令：" in help_zh.output
    assert "显示此帮助信息并退出。" in help_zh.output and "载入文件。" in help_zh.output
    assert not english_sentences(help_zh.output.replace("hotline-kpi", "")), help_zh.output
    sub = runner.invoke(cli, ["ingest", "--help"])
    assert "产生这些文件的系统" in sub.output and not english_sentences(sub.output), sub.output
    bad = runner.invoke(cli, ["--bogus"])
    assert bad.exit_code == 2 and "错误：没有选项 '--bogus'。" in bad.output
    missing = runner.invoke(cli, ["ingest"])
    assert missing.exit_code == 2 and "缺少参数" in missing.output, missing.output
    help_en = runner.invoke(cli, ["--lang", "en", "--help"])  # --lang is eager: it comes before --help
    assert "Usage:" in help_en.output and "Show this message and exit." in help_en.output
    assert "Load files." in help_en.output
    bad_en = runner.invoke(cli, ["--lang", "en", "--bogus"])
    assert "No such option" in bad_en.output


def test_language_before_click_parses():
    from hotline_kpi.cli import language_from

    assert language_from(["--lang", "en", "ingest"], {}) == "en"
    assert language_from(["--lang=zh"], {"HOTLINE_KPI_LANGUAGE": "en"}) == "zh"
    assert language_from(["ingest", "--", "--lang", "en"], {}) is None
    assert language_from([], {"HOTLINE_KPI_LANGUAGE": "en"}) == "en"
    assert language_from([], {"HOTLINE_KPI_LANGUAGE": "fr"}) is None
