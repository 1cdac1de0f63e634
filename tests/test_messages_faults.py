"""Messages in the office's language, the fault cases (issue #14; tests/test_messages.py walks
the bad-input cases): an unreachable database, a store without schema, a state folder where the
original cannot be kept, an inbox archive that cannot be written, SMTP refused, a port in use, a
bad settings file (a wrong value, a TOML error, a wrong environment variable), a bad target
catalogue, a bad alert rules file, a bad report input file, a report or evaluation for a year
without a catalogue.

Each is run as the office runs it (the CLI, in-process unless a process of its own is needed)
and its message must be Chinese by default: Chinese text, the place named as written (the file,
the key, the value, the address), no run of three or more English words outside what is quoted
or a name (tests/test_messages.english_sentences), no traceback; ``--lang en`` gives English.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import yaml
from click.testing import CliRunner

from hotline_kpi.cli import _use_language, cli
from hotline_kpi.cli.app import App
from hotline_kpi.service.inbox import Inbox
from hotline_kpi.store.db import make_engine
from tests.common import TARGETS
from tests.processes import CLI, free_port
from tests.service.test_inbox import settled_scan
from tests.test_cli import REPORT
from tests.test_messages import _chinese, english_sentences


def sentences(text: str) -> list[str]:
    """English phrases of a message; a command quoted in backticks (`hotline-kpi db upgrade`) is a name."""
    return english_sentences(re.sub(r"`[^`]*`", " ", text))


@dataclass
class Fault:
    id: str
    #: Sets the fault up (the CLI environment of ``cli_env`` is in place) and returns the
    #: command's arguments and what the Chinese message must name, as written.
    prepare: Callable[[Path, pytest.MonkeyPatch], tuple[list[str], list[str]]]
    #: What the English message says.
    english: str
    #: Run as a process of its own (``serve`` configures logging and binds a port).
    process: bool = False


def _unreachable_database(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    port = free_port()  # closed again: a connection to it is refused
    mp.setenv("HOTLINE_KPI_DATABASE_URL", f"postgresql+psycopg://kpi:secret-pw@127.0.0.1:{port}/kpi")
    return ["evaluate"], [f"127.0.0.1:{port}", "database_url", "无法连接数据库"]


def _no_schema(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    mp.setenv("HOTLINE_KPI_DATABASE_URL", f"sqlite:///{tmp / 'empty.db'}")
    return ["evaluate"], [str(tmp / "empty.db"), "hotline-kpi db upgrade"]


def _original_not_kept(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    (tmp / "notafolder").write_text("a file where var_dir should be a folder")
    mp.setenv("HOTLINE_KPI_VAR_DIR", str(tmp / "notafolder" / "var"))
    (tmp / "日报.csv").write_bytes(REPORT.encode("utf-8") if isinstance(REPORT, str) else REPORT)
    return ["ingest", str(tmp / "日报.csv")], ["日报.csv", str(tmp / "notafolder"), "未存入任何数据"]


def _smtp_refused(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    port = free_port()  # closed again: a connection to it is refused
    mp.setenv("HOTLINE_KPI_SMTP__HOST", "127.0.0.1")
    mp.setenv("HOTLINE_KPI_SMTP__PORT", str(port))
    mp.setenv("HOTLINE_KPI_SMTP__SECURITY", "none")
    return ["alerts", "test-email", "--to", "office@example.org"], [
        "office@example.org", f"127.0.0.1:{port}", "邮件服务器拒绝连接"]


_HELD: list[socket.socket] = []


def _port_in_use(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    _HELD.append(s)
    port = s.getsockname()[1]
    return ["serve", "--host", "127.0.0.1", "--port", str(port)], [f"127.0.0.1:{port}", "端口已被其他程序占用"]


def _settings_value(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    (tmp / "hotline-kpi.toml").write_text('sqlite_busy_timeout_seconds = "abc"\n[smtp]\nport = 99999\nsecurity = "ssl"\n'
                                          '[alerts]\ngrafana_url = "ftp://grafana"\n', encoding="utf-8")
    return ["targets", "show"], ["hotline-kpi.toml", "sqlite_busy_timeout_seconds", "abc", "smtp.port", "99999",
                                 "65535", "smtp.security", "ssl", "alerts.grafana_url", "ftp://grafana"]


def _settings_toml(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    (tmp / "hotline-kpi.toml").write_text('[service]\nport = 9105\nhost = "127.0.0.1\n', encoding="utf-8")
    return ["targets", "show"], ["hotline-kpi.toml", "第 3 行"]


def _settings_environment(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    mp.setenv("HOTLINE_KPI_SERVICE__PORT", "nine")
    return ["targets", "show"], ["HOTLINE_KPI_SERVICE__PORT", "nine", "不是整数"]


def _catalogue(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    folder = tmp / "targets"
    folder.mkdir()
    text = (TARGETS / "shanghai-12345-2019.yaml").read_text(encoding="utf-8")
    (folder / "2019.yaml").write_text(text.replace("formula: satisfaction_rate", "formula: happiness", 1), "utf-8")
    mp.setenv("HOTLINE_KPI_TARGETS_DIR", str(folder))
    return ["targets", "show"], [str(folder / "2019.yaml"), "satisfaction_rate", "happiness", "目标目录无效"]


def _catalogue_yaml(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    folder = tmp / "targets"
    folder.mkdir()
    (folder / "2019.yaml").write_text("hotline:\n  id: [x\nyear: 2019\n", encoding="utf-8")
    mp.setenv("HOTLINE_KPI_TARGETS_DIR", str(folder))
    return ["targets", "show"], [str(folder / "2019.yaml"), "YAML", "第 3 行"]


def _rules(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    rules = tmp / "告警规则.yaml"
    rules.write_text(yaml.safe_dump({"default_recipients": ["office@example.org"], "rules": [
        {"id": "接通率日报", "condition": "breached", "indicator": "connection_rate", "window": "fortnight"},
        {"id": "no-window", "condition": "breached", "indicator": "connection_rate"}]}, allow_unicode=True),
        encoding="utf-8")
    mp.setenv("HOTLINE_KPI_ALERTS__RULES_FILE", str(rules))
    return ["alerts", "dispatch"], [str(rules), "接通率日报", "window", "fortnight", "no-window", "告警规则无效"]


def _report_inputs(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    inputs = tmp / "填报.yaml"
    inputs.write_text(yaml.safe_dump({"year": "二〇一九"}, allow_unicode=True), encoding="utf-8")
    return ["report", "--year", "2019", "--format", "md", "--out", str(tmp / "out"), "--inputs", str(inputs)], [
        str(inputs), "year", "二〇一九", "报告填报文件无效"]


def _report_inputs_code(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    inputs = tmp / "填报.yaml"
    inputs.write_text(yaml.safe_dump({"indicators": {"cost_contrl": {"band": "A"}}}), encoding="utf-8")
    return ["report", "--year", "2019", "--format", "md", "--out", str(tmp / "out"), "--inputs", str(inputs)], [
        str(inputs), "indicators.cost_contrl", "2019", "报告填报文件无效"]


def _band(evidence: str) -> Callable[[Path, pytest.MonkeyPatch], tuple[list[str], list[str]]]:
    """A rating that does not exist is refused, evidence or none (issue #14, review)."""
    def prepare(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
        inputs = tmp / "填报.yaml"
        inputs.write_text(yaml.safe_dump({"indicators": {"cost_control": {"band": "D", "evidence": evidence}}}),
                          encoding="utf-8")
        return ["report", "--year", "2019", "--format", "md", "--out", str(tmp / "out"), "--inputs", str(inputs)], [
            "indicators.cost_control.band", "“D”", "没有评级", "A（达成）"]
    return prepare


def _a_day_loaded(tmp: Path) -> None:
    """One day of figures in the store: `report` refuses an empty year before anything else."""
    day = tmp / "day.csv"
    day.write_text("日期,受理量,呼入量\n2019-01-02,11000,9500\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["ingest", "--no-evaluate", str(day)])
    assert result.exit_code == 0, result.output


def _report_format(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    _a_day_loaded(tmp)
    return ["report", "--year", "2019", "--format", "pdf,foo", "--out", str(tmp / "out")], ["foo", "未知的报告格式", "md、docx"]


def _report_year(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    return ["report", "--year", "2018"], ["2018", "2019", "--year"]


def _evaluate_year(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    return ["evaluate", "--as-of", "2018-06-01"], ["2018", "2019", "--as-of"]


def _database_url(url: str, command: str, *places: str) -> Callable[[Path, pytest.MonkeyPatch], tuple[list[str], list[str]]]:
    """A database URL the product cannot open (issue #14, review): named with the variable,
    the password hidden, and the forms it takes."""
    def prepare(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
        mp.setenv("HOTLINE_KPI_DATABASE_URL", url)
        return [command], ["HOTLINE_KPI_DATABASE_URL", *places]
    return prepare


_FORMS = ("sqlite:///", "postgresql+psycopg://")


def _sqlite_folder(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    mp.setenv("HOTLINE_KPI_DATABASE_URL", "sqlite:////proc/nope/x.db")
    return ["evaluate"], ["database_url", "/proc/nope", "文件不存在"]


def _export_into_proc(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    return (["export", "daily", "--from", "2019-01-01", "--to", "2019-01-02", "--format", "xlsx", "-o", "/proc/x.xlsx"],
            ["/proc/x.xlsx", "文件不存在"])


def _report_under_a_file(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    (tmp / "afile").write_text("a file, not a folder")
    _a_day_loaded(tmp)
    return ["report", "--year", "2019", "--format", "md", "--out", "afile/sub"], ["afile/sub", "此处应为文件夹，却是文件"]


def _report_into_proc(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    _a_day_loaded(tmp)
    return ["report", "--year", "2019", "--format", "md", "--out", "/proc/rep"], ["/proc/rep", "文件不存在"]


def _environment(variable: str, value: str, *places: str) -> Callable[[Path, pytest.MonkeyPatch], tuple[list[str], list[str]]]:
    def prepare(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
        mp.setenv(variable, value)
        return ["evaluate"], [f"环境变量 {variable}（值 “{value}”）：", *places]
    return prepare


FAULTS = [
    Fault("report-band-unknown", _band("会议纪要"), "unknown rating 'D'"),
    Fault("report-band-unknown-without-evidence", _band(""), "unknown rating 'D'"),
    Fault("report-format-unknown", _report_format, "unknown report format(s) foo"),
    Fault("environment-list-not-json", _environment("HOTLINE_KPI_SOURCE_PRIORITY", "queue-log", "应为 JSON 列表"),
          "environment variable HOTLINE_KPI_SOURCE_PRIORITY (value 'queue-log'): a JSON list"),
    Fault("environment-group-not-json", _environment("HOTLINE_KPI_SERVICE", '{"port":', "应为 JSON 对象",
                                                     "HOTLINE_KPI_SERVICE__"), "a JSON object"),
    Fault("environment-language", _environment("HOTLINE_KPI_LANGUAGE", "fr", "zh", "en"),
          "environment variable HOTLINE_KPI_LANGUAGE"),
    Fault("export-output-unwritable", _export_into_proc, "/proc/x.xlsx: no such file"),
    Fault("report-out-under-a-file", _report_under_a_file, "afile/sub: a file where a folder should be"),
    Fault("report-out-unwritable", _report_into_proc, "/proc/rep: no such file"),
    Fault("database-url-unknown-kind", _database_url("foo://bar", "evaluate", "“foo://bar”", "foo", *_FORMS),
          "database foo is not supported"),
    Fault("database-url-not-a-url", _database_url("not a url", "evaluate", "“not a url”", *_FORMS),
          "not a database URL"),
    Fault("database-url-psycopg2", _database_url("postgresql+psycopg2://u:secret-pw@localhost/db", "evaluate",
                                                 "postgresql+psycopg2://u:***@localhost/db", *_FORMS),
          "database postgresql+psycopg2 is not supported"),
    Fault("database-url-mysql-serve", _database_url("mysql://u:secret-pw@h/db", "serve", "mysql", *_FORMS),
          "database mysql is not supported", process=True),
    Fault("database-url-not-a-url-serve", _database_url("not a url", "serve", "“not a url”", *_FORMS),
          "not a database URL", process=True),
    Fault("database-url-sqlite-folder", _sqlite_folder, "cannot open the database"),
    Fault("database-url-sqlite-folder-serve", lambda t, m: (["serve"], _sqlite_folder(t, m)[1]),
          "cannot open the database", process=True),
    Fault("database-unreachable", _unreachable_database, "cannot reach the database"),
    Fault("database-without-schema", _no_schema, "has no schema"),
    Fault("original-cannot-be-kept", _original_not_kept, "its original could not be kept"),
    Fault("smtp-refused", _smtp_refused, "the mail server refused the connection"),
    Fault("port-in-use", _port_in_use, "the port is in use by another program", process=True),
    Fault("settings-file-values", _settings_value, "must be at most 65535"),
    Fault("settings-file-toml", _settings_toml, "not valid TOML: line 3"),
    Fault("settings-environment", _settings_environment, "environment variable HOTLINE_KPI_SERVICE__PORT"),
    Fault("catalogue-invalid", _catalogue, "invalid target catalogue"),
    Fault("catalogue-not-yaml", _catalogue_yaml, "not valid YAML: line 3"),
    Fault("rules-invalid", _rules, "invalid alert rules"),
    Fault("report-inputs-invalid", _report_inputs, "invalid report input file"),
    Fault("report-inputs-unknown-indicator", _report_inputs_code, "not an indicator of the 2019 catalogue"),
    Fault("report-year-without-catalogue", _report_year, "no target catalogue for"),
    Fault("evaluate-year-without-catalogue", _evaluate_year, "no target catalogue for"),
]


def _run(fault: Fault, args: list[str], clock, cwd: Path) -> tuple[int, str]:  # noqa: ANN001
    if fault.process:
        done = subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, env=dict(os.environ),
                              timeout=120)
        return done.returncode, done.stdout + done.stderr
    result = CliRunner().invoke(cli, args, obj=App(clock=clock), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_a_fault_is_told_in_chinese_naming_its_place_and_in_english_by_option(fault: Fault, cli_env, tmp_path,
                                                                              monkeypatch, clock):
    args, places = fault.prepare(tmp_path, monkeypatch)
    try:
        code, text = _run(fault, args, clock, tmp_path)
        assert code != 0, text
        assert "Traceback" not in text, text[-3000:]
        assert _chinese(text), (fault.id, text)
        assert sentences(text) == [], (fault.id, sentences(text), text)
        for place in places:
            assert place in text, (fault.id, place, text)
        assert "secret-pw" not in text  # a password in a URL is never shown
        _use_language("zh")
        code_en, text_en = _run(fault, ["--lang", "en", *args], clock, tmp_path)
        assert code_en == code and fault.english in text_en, (fault.id, text_en)
    finally:
        while _HELD:
            _HELD.pop().close()


def test_the_inbox_says_in_chinese_that_the_archive_cannot_be_written(sqlite_url, settings, catalogues, clock,
                                                                      caplog):
    engine = make_engine(sqlite_url)
    try:
        box = Inbox(engine, settings, catalogues, clock)
        box.ensure_folders()
        settings.archive_dir.rmdir()
        settings.archive_dir.write_text("a file where the archive folder should be")  # root ignores permissions
        path = box.root / "一月.csv"
        path.write_text(REPORT, encoding="utf-8")
        stamp = clock.now().timestamp() - 60
        os.utime(path, (stamp, stamp))
        with caplog.at_level("WARNING", logger="hotline_kpi.service.inbox"):
            [result] = settled_scan(box)
        assert result.outcome == "error" and path.exists()
        logged = "\n".join(r.getMessage() for r in caplog.records)
        for text in (result.detail, logged):
            assert _chinese(text) and sentences(text) == [], text
        assert "无法归档" in result.detail and "文件留在收件箱" in result.detail, result.detail
        assert "此处应为文件夹，却是文件" in result.detail and str(settings.archive_dir) in result.detail
        assert "收件箱：错误 一月.csv：" in logged, logged
    finally:
        engine.dispose()


@pytest.mark.parametrize("written", ["postgres://kpi:pw@db.example/kpi", "postgresql://kpi:pw@db.example/kpi"])
def test_a_postgres_url_as_libpq_writes_it_means_the_psycopg_driver(written, monkeypatch):
    from hotline_kpi.settings import Settings

    monkeypatch.setenv("HOTLINE_KPI_DATABASE_URL", written)
    assert Settings().database_url == "postgresql+psycopg://kpi:pw@db.example/kpi"

