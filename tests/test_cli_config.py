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
    assert f"invalid settings: settings file {missing} (HOTLINE_KPI_CONFIG_FILE) not found" in result.output
    assert "HOTLINE_KPI_CONFIG_FILE" not in os.environ


def test_load_settings_takes_the_file_before_the_environment_variable(cli_env, tmp_path, monkeypatch):
    given, other = tmp_path / "given.toml", tmp_path / "other.toml"
    given.write_text('language = "en"\n')
    other.write_text('timezone = "Asia/Urumqi"\n')
    monkeypatch.setenv("HOTLINE_KPI_CONFIG_FILE", str(other))
    s = load_settings(config_file=given)
    assert (s.language, s.timezone) == ("en", "Asia/Shanghai")
    assert load_settings().timezone == "Asia/Urumqi"
