from __future__ import annotations


import pytest
from pydantic import ValidationError

from hotline_kpi.settings import Settings
from tests.common import ROOT



@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for key in list(__import__("os").environ):
        if key.startswith("HOTLINE_KPI_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray ./hotline-kpi.toml or .env


def test_defaults_are_the_embedded_sqlite_store_and_shanghai_time():
    s = Settings()
    assert s.database_url == "sqlite:///./var/hotline-kpi.db"
    assert s.timezone == "Asia/Shanghai" and s.language == "zh"
    assert s.formulas.short_abandon_seconds == 5 and s.formulas.exclude_short_abandons is True
    assert s.formulas.basic_satisfied_is_satisfied is True and s.formulas.within_15s_denominator == "offered"


def test_environment_with_prefix_and_nested_delimiter(monkeypatch):
    monkeypatch.setenv("HOTLINE_KPI_DATABASE_URL", "postgresql+psycopg://u@db/hk")
    monkeypatch.setenv("HOTLINE_KPI_FORMULAS__SHORT_ABANDON_SECONDS", "10")
    monkeypatch.setenv("HOTLINE_KPI_FORMULAS__WITHIN_15S_DENOMINATOR", "answered")
    s = Settings()
    assert s.database_url == "postgresql+psycopg://u@db/hk"
    assert s.formulas.short_abandon_seconds == 10 and s.formulas.within_15s_denominator == "answered"


def test_config_file_then_dotenv_then_environment(monkeypatch, tmp_path):
    cfg = tmp_path / "hk.toml"
    cfg.write_text('language = "en"\ntimezone = "Asia/Urumqi"\n[formulas]\nshort_abandon_seconds = 0\n')
    monkeypatch.setenv("HOTLINE_KPI_CONFIG_FILE", str(cfg))
    (tmp_path / ".env").write_text("HOTLINE_KPI_TIMEZONE=Asia/Hong_Kong\n")
    s = Settings()
    assert (s.language, s.timezone, s.formulas.short_abandon_seconds) == ("en", "Asia/Hong_Kong", 0)
    monkeypatch.setenv("HOTLINE_KPI_TIMEZONE", "Asia/Shanghai")
    assert Settings().timezone == "Asia/Shanghai"


def test_the_shipped_example_settings_file_is_valid(monkeypatch):
    monkeypatch.setenv("HOTLINE_KPI_CONFIG_FILE", str(ROOT / "hotline_kpi" / "defaults" / "hotline-kpi.example.toml"))
    s = Settings()
    assert s.formulas.offered_exits == ("ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY")


@pytest.mark.parametrize(("var", "value"), [
    ("HOTLINE_KPI_TIMEZONE", "Mars/Olympus"),
    ("HOTLINE_KPI_FORMULAS__SHORT_ABANDON_SECONDS", "-1"),
    ("HOTLINE_KPI_FORMULAS__WITHIN_15S_DENOMINATOR", "everything"),
    ("HOTLINE_KPI_LANGUAGE", "fr"),
])
def test_invalid_settings_are_refused(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(ValidationError):
        Settings()


def test_a_dotenv_shared_with_compose_is_fine_but_misspelt_keys_are_errors(monkeypatch, tmp_path):
    from hotline_kpi.settings import load_settings, unknown_keys

    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=secret\nHOTLINE_KPI_LANGUAGE=en\n")
    assert load_settings().language == "en"
    monkeypatch.setenv("HOTLINE_KPI_LANGAUGE", "zh")
    monkeypatch.setenv("HOTLINE_KPI_SERVICE__PORTT", "1")
    monkeypatch.setenv("HOTLINE_KPI_FORMULAS__SHORT_ABANDON_SECONDS", "3")  # a real nested one
    assert unknown_keys() == ["HOTLINE_KPI_LANGAUGE", "HOTLINE_KPI_SERVICE__PORTT"]
    with pytest.raises(ValueError, match="HOTLINE_KPI_LANGAUGE"):
        load_settings()


def test_the_state_folder_holds_the_database_and_the_reports_unless_they_are_set(monkeypatch, tmp_path):
    from pathlib import Path

    s = Settings()  # the default state folder: the paths of before
    assert (s.database_url, s.report.output_dir, s.report.inputs_dir) == (
        "sqlite:///./var/hotline-kpi.db", Path("var/reports"), Path("var/report-inputs"))
    monkeypatch.setenv("HOTLINE_KPI_VAR_DIR", str(tmp_path / "x"))
    s = Settings()
    assert s.database_url == f"sqlite:///{tmp_path}/x/hotline-kpi.db"
    assert (s.report.output_dir, s.report.inputs_dir) == (tmp_path / "x" / "reports", tmp_path / "x" / "report-inputs")
    monkeypatch.setenv("HOTLINE_KPI_REPORT__INPUTS_DIR", "/srv/in")
    monkeypatch.setenv("HOTLINE_KPI_DATABASE_URL", "sqlite:////srv/db")
    s = Settings()
    assert (s.database_url, s.report.inputs_dir) == ("sqlite:////srv/db", Path("/srv/in"))


def test_report_inputs_of_before_in_config_report_are_still_found(monkeypatch, tmp_path):
    from pathlib import Path

    (tmp_path / "config" / "report").mkdir(parents=True)
    assert Settings().report.inputs_dir == Path("config/report")
