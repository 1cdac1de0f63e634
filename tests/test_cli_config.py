"""``--config``: the settings file reaches the settings without a write to the process environment."""

from __future__ import annotations

import pytest

import os

from click.testing import CliRunner

from hotline_kpi.cli import cli
from hotline_kpi.cli.app import App
from hotline_kpi.settings import load_settings


def test_the_config_option_is_read_and_the_environment_left_alone(cli_env, tmp_path, clock):
    cfg = tmp_path / "hk.toml"
    cfg.write_text('language = "en"\n')
    result = CliRunner().invoke(cli, ["--config", str(cfg), "targets", "show"], obj=App(clock=clock),
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "level 1" in result.output  # the file's language
    assert "HOTLINE_KPI_CONFIG_FILE" not in os.environ
    assert load_settings().language == "zh"  # nothing of the file stayed behind


def test_a_missing_config_file_is_reported(cli_env, tmp_path, clock):
    missing = tmp_path / "nowhere.toml"
    result = CliRunner().invoke(cli, ["--lang", "en", "--config", str(missing), "targets", "show"], obj=App(clock=clock))
    assert result.exit_code == 1
    assert f"invalid settings: settings file {missing} (given by --config) not found" in result.output
    assert "HOTLINE_KPI_CONFIG_FILE" not in os.environ


def test_load_settings_takes_the_file_before_the_environment_variable(cli_env, tmp_path, monkeypatch):
    given, other = tmp_path / "given.toml", tmp_path / "other.toml"
    given.write_text('language = "en"\n')
    other.write_text('timezone = "Asia/Urumqi"\n')
    monkeypatch.setenv("HOTLINE_KPI_CONFIG_FILE", str(other))
    s = load_settings(config_file=given)
    assert (s.language, s.timezone) == ("en", "Asia/Shanghai")
    assert load_settings().timezone == "Asia/Urumqi"


def _run(args, clock):
    return CliRunner().invoke(cli, args, obj=App(clock=clock))


def test_a_misspelt_top_level_key_of_the_settings_file_is_refused_naming_file_and_key(cli_env, tmp_path, clock):
    cfg = tmp_path / "hotline-kpi.toml"
    for line, shown in [('databse_url = "postgresql+psycopg://u@db/x"', "databse_url（是否想写 database_url？）"),
                        ('var-dir = "/x"', "var-dir（是否想写 var_dir？）"),
                        ('languge = "en"', "languge（是否想写 language？）"),
                        ('[alerts]\nrule_fille = "r.yaml"', "alerts.rule_fille（是否想写 rules_file？）")]:
        cfg.write_text(line + "\n")
        result = _run(["db", "upgrade"], clock)  # ./hotline-kpi.toml, found by default
        assert result.exit_code == 1, result.output
        assert f"设置文件 {cfg.name}" in result.output and shown in result.output, result.output


def test_settings_file_errors_name_the_file_and_a_notepad_bom_is_accepted(cli_env, tmp_path, clock):
    cfg = tmp_path / "hk.toml"
    cfg.write_bytes("\ufefflanguage = \"en\"\n".encode("utf-8"))  # Notepad's UTF-8 BOM
    assert load_settings(config_file=cfg).language == "en"
    cfg.write_text('database_url = "postgresql\n')
    result = _run(["--config", str(cfg), "targets", "show"], clock)
    assert result.exit_code == 1
    assert f"设置文件 {cfg}：不是有效的 TOML：第 1 行第 27 列" in result.output, result.output
    cfg.write_text('[service]\nport = 0\n')
    result = _run(["--config", str(cfg), "targets", "show"], clock)
    assert result.exit_code == 1
    assert f"设置文件 {cfg}，设置项 service.port（值 “0”）：应不小于 1" in result.output, result.output


def test_relative_paths_of_a_config_file_are_read_from_its_folder(cli_env, tmp_path, monkeypatch):
    etc = tmp_path / "etc"
    etc.mkdir()
    cfg = etc / "hotline-kpi.toml"
    cfg.write_text('targets_dir = "./mytargets"\nvar_dir = "state"\n'
                   'database_url = "sqlite:///state/hk.db"\n[report]\noutput_dir = "out"\n')
    monkeypatch.delenv("HOTLINE_KPI_VAR_DIR")
    monkeypatch.delenv("HOTLINE_KPI_TARGETS_DIR")
    monkeypatch.delenv("HOTLINE_KPI_DATABASE_URL")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    s = load_settings(config_file=cfg)
    assert s.targets_dir == etc / "mytargets" and s.var_dir == etc / "state"
    assert s.report.output_dir == etc / "out" and s.database_url == f"sqlite:///{etc}/state/hk.db"
