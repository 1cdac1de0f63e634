"""The evaluate command's table as a Chinese reader sees it: full-width brackets and
punctuation in Chinese (状态（年累计）, 未达标（进度目标 …，差额 …）, 3/4（75.0%）), ASCII in English."""

from __future__ import annotations

from tests.test_cli import REPORT, env, run  # noqa: F401 - fixtures


def _evaluate(run, tmp_path, monkeypatch, *lang: str) -> str:  # noqa: ANN001
    from rich.console import Console

    import hotline_kpi.cli.app as cli_app

    # One line a row (a file gets 160 columns): the cells are read whole.
    monkeypatch.setattr(cli_app, "Console", lambda **kw: Console(**{**kw, "width": 300}))
    (tmp_path / "jan.csv").write_text(REPORT, encoding="utf-8")
    assert run("ingest", str(tmp_path / "jan.csv")).exit_code == 0
    result = run(*lang, "evaluate", "--as-of", "2019-01-04")
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_chinese_table_uses_full_width_brackets(run, tmp_path, monkeypatch):  # noqa: F811
    out = _evaluate(run, tmp_path, monkeypatch)
    assert "状态（年累计）" in out and "状态 (" not in out
    volume = next(line for line in out.splitlines() if "全年12345热线平台受理量" in line)
    assert "未达标（进度目标 43,836，差额 10,336）" in volume, volume
    assert "数据完整度：3/4（75.0%）" in out
    assert " (" not in out.replace("呼损率（放弃率）", "")


def test_the_english_table_keeps_ascii(run, tmp_path, monkeypatch):  # noqa: F811
    out = _evaluate(run, tmp_path, monkeypatch, "--lang", "en")
    assert "Status (Year to date)" in out and "Completeness: 3/4 (75.0%)" in out
    volume = next(line for line in out.splitlines() if "Requests accepted" in line)
    assert "breached (pace 43,836, shortfall 10,336)" in volume, volume
