"""What a Chinese user reads from the command line, word for word (issue #14, the new-user
review): Click's own texts, the settings file's language, and the CLI's messages; each in
Chinese by default and in English by ``--lang en`` or ``language = "en"``."""

from __future__ import annotations

from click.testing import CliRunner

from hotline_kpi.cli import cli
from hotline_kpi.cli.app import App


def _run(*args: str, clock=None):
    return CliRunner().invoke(cli, list(args), obj=App(clock=clock) if clock else None, prog_name="hotline-kpi")


def test_clicks_own_words_in_help_are_chinese(cli_env):
    out = _run("export", "daily", "--help").output
    assert out.startswith("用法：hotline-kpi export daily [选项]\n")
    assert "--from 日期" in out and "起始本地日期（YYYY-MM-DD）。  [必填]" in out
    assert "--hotline 文本" in out and "-o, --output 文件" in out
    assert "[required]" not in out and "[OPTIONS]" not in out and "TEXT" not in out
    # the help texts line up on a terminal, where 日期 takes four columns
    from hotline_kpi.cli.clicktext import _width
    starts = {_width(line[:line.index(text)]) for line in out.splitlines() for text in ("起始本地日期", "显示此帮助信息")
              if text in line}
    assert len(starts) == 1, out
    root = _run("--help").output
    assert root.startswith("用法：hotline-kpi [选项] 命令 [参数]…\n"), root
    assert "\n选项：\n" in root and "\n命令：\n" in root
    assert _run("ingest", "--help").output.startswith("用法：hotline-kpi ingest [选项] 文件…\n")
    assert _run("report", "--help").output.startswith("用法：hotline-kpi report [选项] [命令] [参数]…\n")
    en = _run("--lang", "en", "export", "daily", "--help").output
    assert en.startswith("Usage: hotline-kpi export daily [OPTIONS]\n")
    assert "--from DATE" in en and "First local date (YYYY-MM-DD).  [required]" in en and "--hotline TEXT" in en
    assert _run("--lang", "en", "ingest", "--help").output.startswith("Usage: hotline-kpi ingest [OPTIONS] FILES...\n")


def test_clicks_usage_errors_are_whole_chinese_sentences(cli_env):
    bad = _run("report", "--year", "abc")
    assert bad.exit_code == 2
    assert bad.output.endswith("错误：'--year' 的值无效：'abc' 不是有效的整数。\n"), bad.output
    missing = _run("export", "daily")
    assert missing.exit_code == 2 and missing.output.endswith("错误：缺少选项 '--from'。\n"), missing.output
    no_file = _run("ingest")
    assert no_file.exit_code == 2 and no_file.output.endswith("错误：缺少参数 '文件…'。\n"), no_file.output
    misplaced = _run("report", "--lang", "zh")  # a root option given to a group: Click's own sentence, in 。
    assert misplaced.output.endswith("错误：没有选项 '--lang'。\n"), misplaced.output
    en = _run("--lang", "en", "report", "--year", "abc")
    assert en.output.endswith("Error: Invalid value for '--year': 'abc' is not a valid integer.\n"), en.output
    assert _run("--lang", "en", "export", "daily").output.endswith("Error: Missing option '--from'.\n")


def test_the_settings_files_language_applies_to_help_and_usage_errors(cli_env, tmp_path):
    cfg = tmp_path / "office.toml"
    cfg.write_text('language = "en"\n')
    (tmp_path / "hotline-kpi.toml").write_text('language = "en"\n')  # the default file, in the working folder
    for args in (["--config", str(cfg)], []):
        help_ = _run(*args, "--help")
        assert help_.output.startswith("Usage: hotline-kpi [OPTIONS] COMMAND [ARGS]...\n"), help_.output
        assert "Show this message and exit." in help_.output
        unknown = _run(*args, "nosuch")
        assert unknown.exit_code == 2 and unknown.output.endswith("Error: No such command 'nosuch'.\n")
    zh = _run("--config", str(cfg), "--lang", "zh", "nosuch")  # --lang before the file
    assert zh.output.endswith("错误：没有命令 'nosuch'。\n"), zh.output
    (tmp_path / "hotline-kpi.toml").unlink()
    assert _run("nosuch").output.endswith("错误：没有命令 'nosuch'。\n")


def _row(out: str, indicator_id: str) -> list[str]:
    """A row of `targets show` by its indicator id (the last column, 编号)."""
    rows = ([cell.strip() for cell in line.strip().strip("│").split("│")] for line in out.splitlines()
            if line.startswith("│"))
    return next(cells for cells in rows if cells[-1] == indicator_id)


def test_targets_show_writes_targets_as_the_office_does(cli_env, clock):
    out = _run("targets", "show", clock=clock).output
    # the office's names first (指标 by its display name), the internal id last, as 编号
    assert _row(out, "connection_rate")[0] == "热线接通率"
    assert _row(out, "requests_accepted")[4] == "≥ 4,000,000/年"
    assert _row(out, "connection_rate")[4] == "≥ 90%"
    assert _row(out, "operator_fault_return_rate")[4] == "＜ 7%"
    assert _row(out, "average_answer_seconds")[4] == "≤ 8 秒"
    header = next(line for line in out.splitlines() if line.startswith("┃"))
    assert [c.strip() for c in header.strip("┃").split("┃")][::6] == ["指标", "编号"]
    assert "e+" not in out and "ratio" not in out and ">=" not in out
    # the title: the hotline's name, full-width brackets, no checkout path (the shipped catalogue)
    assert "上海市12345市民服务热线 2019（内置目录）" in out and "/" not in out.splitlines()[0]
    # the file to copy for a catalogue of one's own, said once under the table
    assert "内置目录即文件 " in out and "shanghai-12345-2019.yaml；如需修改目标，请把它复制到自己的文件夹" in out
    # the display name (回访), the seed's typo said once, under the table, as 原文如此, by name not id
    assert _row(out, "satisfaction_rate")[0] == "12345热线回访市民满意度※"
    assert ("※ 12345热线回访市民满意度：目录中的三级指标原文为“12345热线回民市民满意度”（原文如此），"
            "此处用其显示名称。") in out.replace("\n", "").replace("  ", ""), out
    assert "satisfaction_rate：" not in out
    en = _run("--lang", "en", "targets", "show", clock=clock).output
    assert _row(en, "requests_accepted")[4] == ">= 4,000,000/year" and _row(en, "connection_rate")[4] == ">= 90%"
    assert "Shanghai 12345 Citizen Service Hotline 2019 (built-in catalogue)" in en


def test_settings_errors_say_the_allowed_form_and_sources_in_words(cli_env, tmp_path, clock):
    (tmp_path / "hotline-kpi.toml").write_text(
        'source_priority = ["queue-log", "ticket", "daily-report"]\n[alerts]\ndigest_at = "9:75"\n', encoding="utf-8")
    zh = _run("targets", "show", clock=clock)
    assert zh.exit_code == 1
    assert ("设置文件 hotline-kpi.toml，设置项 source_priority：未知的数据来源 “ticket”；可用的来源："
            "daily-report（日报）、queue-log（话务队列日志）、tickets（工单导出）、callbacks（回访导出）、spending（支出台账）"
            ) in zh.stderr, zh.stderr
    assert ("设置文件 hotline-kpi.toml，设置项 alerts.digest_at（值 “9:75”）："
            "不是“时:分”形式的时刻（00:00 至 23:59，例如 08:30）") in zh.stderr, zh.stderr
    assert "[0-5]" not in zh.stderr and "^" not in zh.stderr
    en = _run("--lang", "en", "targets", "show", clock=clock)
    assert "key source_priority: unknown source(s) 'ticket'; the sources are daily-report (daily report), " in en.stderr
    assert "key alerts.digest_at (value '9:75'): not a time of day written HH:MM (00:00 to 23:59, e.g. 08:30)" in en.stderr


def test_a_pattern_of_the_catalogue_is_said_in_words():
    from hotline_kpi.i18n import localize
    from hotline_kpi.validation import problem

    error = {"type": "string_pattern_mismatch", "ctx": {"pattern": r"^[a-z0-9][a-z0-9-]{0,62}$"}}
    assert localize(problem(error), "zh") == ("不是有效的编号：由小写英文字母、数字或连字符 - 组成，以字母或数字开头，"
                                              "最多 63 个字符（例如 shanghai-12345）")
    assert localize(problem({"type": "string_pattern_mismatch", "ctx": {"pattern": "^x+$"}}), "zh") == "写法不符合要求"
    assert localize(problem(error), "en").startswith("not an id: lower-case letters, digits or -")


def test_a_toml_error_is_said_in_chinese_with_the_parsers_words_as_detail(cli_env, tmp_path, clock):
    (tmp_path / "hotline-kpi.toml").write_text('language = "zh"\nsmtp.port 25\n', encoding="utf-8")
    zh = _run("targets", "show", clock=clock)
    assert zh.exit_code == 1
    assert ("设置文件 hotline-kpi.toml：不是有效的 TOML：第 2 行第 11 列：键后面应有等号 ="
            "（详情：“Expected '=' after a key in a key/value pair”）") in zh.stderr, zh.stderr
    en = _run("--lang", "en", "targets", "show", clock=clock)
    assert ("settings file hotline-kpi.toml: not valid TOML: line 2, column 11: a key must be followed by = "
            "(detail: 'Expected '=' after a key in a key/value pair')") in en.stderr, en.stderr


def test_a_yaml_error_is_said_in_chinese_with_the_parsers_words_as_detail(tmp_path):
    from hotline_kpi.files import ConfigFileError, read_yaml
    from hotline_kpi.i18n import localize

    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - id: x\n    note: a: b\n", encoding="utf-8")
    try:
        read_yaml(path, ConfigFileError)
    except ConfigFileError as exc:
        [problem] = exc.problems
    assert localize(problem, "zh") == ("不是有效的 YAML：第 3 行第 12 列：此处不能写“键: 值”（缩进不对，或值中的冒号没有加引号）"
                                       "（详情：“mapping values are not allowed here”）")
    assert localize(problem, "en").startswith("not valid YAML: line 3, column 12: key: value cannot stand here")


def test_a_report_of_an_empty_year_is_refused(cli_env, tmp_path, clock):
    zh = _run("report", "--year", "2019", "--format", "md", "--out", str(tmp_path / "out"), clock=clock)
    assert zh.exit_code == 1
    assert zh.stderr == ("错误：库中没有上海市12345市民服务热线（shanghai-12345） 2019 年的任何数据，无从生成自评报告；"
                         "请先用 `hotline-kpi ingest` 载入该年的文件\n"), zh.stderr
    assert not (tmp_path / "out").exists()  # nothing written
    en = _run("--lang", "en", "report", "--year", "2019", "--format", "md", "--out", str(tmp_path / "out"), clock=clock)
    assert en.exit_code == 1 and "error: no figures of Shanghai 12345 Citizen Service Hotline (shanghai-12345) for 2019 in the store" in en.stderr


def test_a_port_out_of_range_is_refused_before_anything_listens(cli_env):
    # 99999 used to be taken modulo 65536: the service listened on 34463 without a word
    bad = _run("serve", "--port", "99999")
    assert bad.exit_code == 2
    assert bad.output.endswith("错误：'--port' 的值无效：99999 不在范围 1 至 65535 内。\n"), bad.output
    en = _run("--lang", "en", "serve", "--port", "0")
    assert en.exit_code == 2
    assert en.output.endswith("Error: Invalid value for '--port': 0 is not in the range 1<=x<=65535.\n"), en.output


def _usage_error(result, sentence: str, command: str) -> None:
    """A usage error as Click shows its own: the usage line, the help hint, then the sentence."""
    prog = " ".join(["hotline-kpi", command]) if command else "hotline-kpi"
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"用法：{prog} "), result.output
    assert f"可运行 '{prog} --help' 查看帮助。\n" in result.output, result.output
    assert result.output.endswith(f"\n错误：{sentence}\n"), result.output


def test_the_projects_own_usage_errors_name_the_option_and_end_in_a_full_stop(cli_env):
    _usage_error(_run("evaluate", "--as-of", "2019-13-01"),
                 "'--as-of' 的值无效：'2019-13-01' 不是日期（YYYY-MM-DD）。", "evaluate")
    _usage_error(_run("export", "daily", "--from", "x", "--to", "2019-01-01"),
                 "'--from' 的值无效：'x' 不是日期（YYYY-MM-DD）。", "export daily")
    _usage_error(_run("export", "openmetrics", "--from", "2019-01-01", "--to", "y"),
                 "'--to' 的值无效：'y' 不是日期（YYYY-MM-DD）。", "export openmetrics")
    _usage_error(_run("export", "daily", "--from", "2019-02-01", "--to", "2019-01-01"),
                 "'--to' 的值无效：2019-01-01 早于 --from 2019-02-01。", "export daily")
    _usage_error(_run("export", "daily", "--from", "2019-01-01", "--to", "2019-01-02", "--format", "json",
                      "--headers", "zh"),
                 "'--headers' 的值无效：--headers 只用于 csv 和 xlsx，不用于 json（json 的键是计数项的内部名称）。",
                 "export daily")
    en = _run("--lang", "en", "export", "daily", "--from", "2019-02-01", "--to", "2019-01-01")
    assert en.output.endswith("Error: Invalid value for '--to': 2019-01-01 is before --from 2019-02-01.\n"), en.output
    en = _run("--lang", "en", "evaluate", "--as-of", "2019-13-01")
    assert en.output.endswith("Error: Invalid value for '--as-of': '2019-13-01' is not a date (YYYY-MM-DD).\n")


def test_choices_and_ranges_are_written_as_chinese_lists(cli_env):
    _usage_error(_run("evaluate", "--format", "xml"), "'--format' 的值无效：'xml' 不是 'table'、'json' 之一。", "evaluate")
    _usage_error(_run("export", "daily", "--from", "2019-01-01", "--to", "2019-01-02", "--format", "x"),
                 "'--format' 的值无效：'x' 不是 'csv'、'json'、'xlsx' 之一。", "export daily")
    _usage_error(_run("report", "template", "--format", "x"),
                 "'--format' 的值无效：'x' 不是 'yaml'、'xlsx' 之一。", "report template")
    ingest = _run("ingest", "--source", "x", "a.csv")
    assert ingest.output.endswith("错误：'--source' 的值无效：'x' 不是 'callbacks'、'daily-report'、'queue-log'、"
                                  "'spending'、'tickets' 之一。\n"), ingest.output
    _usage_error(_run("--lang", "fr"), "'--lang' 的值无效：'fr' 不是 'zh'、'en' 之一。", "")
    _usage_error(_run("demo", "--raw-from", "20"), "'--raw-from' 的值无效：20 不在范围 1 至 13 内。", "demo")
    assert "[默认：12；1 至" in _run("demo", "--help").output
    en = _run("--lang", "en", "evaluate", "--format", "xml")
    assert en.output.endswith("Error: Invalid value for '--format': 'xml' is not one of 'table', 'json'.\n")
    assert "[default: 12; 1<=x<=13]" in _run("--lang", "en", "demo", "--help").output


def test_a_wrong_lang_falls_back_to_the_settings_files_language(cli_env, tmp_path):
    (tmp_path / "hotline-kpi.toml").write_text('language = "en"\n')
    bad = _run("--lang", "fr")
    assert bad.exit_code == 2
    assert bad.output.startswith("Usage: hotline-kpi [OPTIONS] COMMAND [ARGS]...\n"), bad.output
    assert bad.output.endswith("Error: Invalid value for '--lang': 'fr' is not one of 'zh', 'en'.\n"), bad.output


def test_a_missing_option_value_shows_the_usage_line_like_every_usage_error(cli_env):
    _usage_error(_run("evaluate", "--as-of"), "选项 '--as-of' 需要 1 个值。", "evaluate")
    _usage_error(_run("--lang"), "选项 '--lang' 需要 1 个值。", "")
    en = _run("--lang", "en", "export", "daily", "--from")
    assert en.output.startswith("Usage: hotline-kpi export daily [OPTIONS]\n"), en.output
    assert en.output.endswith("Error: Option '--from' requires an argument.\n"), en.output


def test_every_option_has_chinese_help_and_cjk_help_wraps_by_display_width(cli_env):
    from hotline_kpi.cli.clicktext import NO_LINE_START, _width

    expected = {("evaluate",): "--format [table|json]  输出：供阅读的表格，或供程序使用的 JSON。",
                ("serve",): "写入日志的最低级别（DEBUG 最详细）。",
                ("export", "daily"): "热线编号（默认：设置项 default_hotline）。",
                ("export", "openmetrics"): "热线编号（默认：设置项 default_hotline）。",
                ("targets", "show"): "目标目录的年份（默认：最新一年）。",
                ("report", "template"): "热线编号（默认：设置项 default_hotline）。"}
    for command, text in expected.items():
        out = _run(*command, "--help").output
        assert text in out, out
    assert "热线编号（默认：设置项 default_hotline）。" in _run("targets", "show", "--help").output
    assert "模拟数据的年份。  [默认：2019]" in _run("demo", "--help").output

    import click

    def undocumented(command: click.Command, path: str) -> list[str]:
        missing = [f"{path} {p.opts[0]}" for p in command.params if isinstance(p, click.Option) and not p.help]
        for name, sub in getattr(command, "commands", {}).items():
            missing += undocumented(sub, f"{path} {name}")
        return missing

    _run("--help")  # the tree's help texts in Chinese
    assert undocumented(cli, "hotline-kpi") == []
    for command in (("ingest",), ("demo",), ("serve",), ("db",), ("export", "daily"), ("report",)):
        out = CliRunner().invoke(cli, [*command, "--help"], prog_name="hotline-kpi", terminal_width=60).output
        for line in out.splitlines():  # an option's own name may be longer: Click puts its help below
            assert _width(line) <= 60 or line.lstrip().startswith("-"), (command, line)
            assert line.strip()[:1] not in NO_LINE_START, (command, line)
    sheet = _run("ingest", "--help").output
    assert "\n" + " " * 34 + "。" not in sheet and "列出其名称）。" in sheet.replace("\n" + " " * 34, ""), sheet
    db = _run("db", "--help").output
    assert "数据库结构（Alembic 迁移）。" in db and "显示数据库的结构版本。" in db


def test_cjk_text_breaks_between_characters_and_never_before_a_closing_mark():
    from hotline_kpi.cli.clicktext import wrap_text

    text = "热线编号（默认：设置项 default_hotline）。"
    assert wrap_text(text, 14).splitlines() == ["热线编号（默", "认：设置项", "default_hotline）。"]
    assert wrap_text(text, 10).splitlines() == ["热线编号", "（默认：设", "置项", "default_hotline）。"]
    assert wrap_text("列出其名称）。", 10).splitlines() == ["列出其名", "称）。"]  # 称 goes down with ）。
    assert wrap_text("report.inputs_dir/<热线>-<年份>.yaml", 22).splitlines() == ["report.inputs_dir/<热", "线>-<年份>.yaml"]
    assert wrap_text("甲乙  [默认：12；1 至 13]", 40) == "甲乙  [默认：12；1 至 13]"  # Click's two spaces kept
    english = "First local date (YYYY-MM-DD), the last one included in the export."
    import click
    assert wrap_text(english, 30) == click.formatting.wrap_text(english, 30, preserve_paragraphs=True)


def test_a_groups_command_list_shows_each_commands_first_chinese_sentence(cli_env):
    out = _run("export", "--help").output
    assert "openmetrics  以带时间戳的 OpenMetrics 格式导出每日历史，供 `promtool tsdb\n" in out, out
    assert "create-blocks-from openmetrics` 使用。\n" in out and "..." not in out, out
    root = _run("--help").output
    assert "\n  ingest    载入文件。\n" in root, root
    assert "  ingest    Load files." in _run("--lang", "en", "--help").output


def test_a_year_without_a_catalogue_names_the_hotline_as_the_office_does(cli_env, clock):
    zh = _run("targets", "show", "--year", "2020", clock=clock)
    assert zh.exit_code == 1
    assert "错误：没有 上海市12345市民服务热线（shanghai-12345） 2020 年的目标目录（已有年份：2019）" in zh.stderr, zh.stderr
    assert "没有 上海市12345市民服务热线（shanghai-12345） 2026 年的目标目录" in \
        _run("evaluate", "--as-of", "2026-01-05", clock=clock).stderr
    en = _run("--lang", "en", "targets", "show", "--year", "2020", clock=clock)
    assert "no target catalogue for Shanghai 12345 Citizen Service Hotline (shanghai-12345) in 2020" in en.stderr


def test_an_unsupported_database_url_says_the_supported_forms_in_chinese(cli_env, monkeypatch, clock):
    monkeypatch.setenv("HOTLINE_KPI_DATABASE_URL", "mysql://u:secret@h/db")
    zh = _run("targets", "show", clock=clock)
    assert zh.exit_code == 1
    assert ("不支持数据库类型 mysql；支持的写法：sqlite:///路径、postgresql+psycopg://用户:密码@主机/库名"
            in zh.stderr), zh.stderr
    assert "secret" not in zh.stderr and "PASSWORD" not in zh.stderr
    en = _run("--lang", "en", "targets", "show", clock=clock)
    assert "supported forms: sqlite:///PATH, postgresql+psycopg://USER:PASSWORD@HOST/DBNAME" in en.stderr, en.stderr
