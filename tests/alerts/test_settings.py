"""The smtp and alerts settings groups."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from hotline_kpi.settings import Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith("HOTLINE_KPI_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_the_smtp_password_comes_from_the_environment_and_never_shows(monkeypatch):
    monkeypatch.setenv("HOTLINE_KPI_SMTP__HOST", "mail.example.org")
    monkeypatch.setenv("HOTLINE_KPI_SMTP__USERNAME", "kpi")
    monkeypatch.setenv("HOTLINE_KPI_SMTP__PASSWORD", "s3cret!")
    s = Settings()
    assert s.smtp.password.get_secret_value() == "s3cret!"
    assert "s3cret!" not in repr(s) and "s3cret!" not in str(s.model_dump())
    assert (s.smtp.security, s.smtp.effective_port) == ("starttls", 587)


def test_defaults_and_ports_by_security():
    s = Settings()
    assert s.smtp.host == "" and s.alerts.digest_at == "09:00" and s.alerts.rules_file.parts[-3:] == ("hotline_kpi", "defaults", "alerts.yaml")
    assert Settings(smtp={"security": "tls"}).smtp.effective_port == 465
    assert Settings(smtp={"security": "none"}).smtp.effective_port == 25
    assert Settings(smtp={"security": "none", "port": 2525}).smtp.effective_port == 2525


@pytest.mark.parametrize("group", [
    {"smtp": {"security": "ssl"}},
    {"smtp": {"from_address": "Hotline <kpi@example.org>"}},
    {"alerts": {"digest_at": "25:00"}},
    {"alerts": {"grafana_url": "javascript:alert(1)"}},
    {"alerts": {"status_url": "ftp://x"}},
])
def test_bad_values_are_refused(group):
    with pytest.raises(ValidationError):
        Settings(**group)


def test_alerts_recipients_replace_the_shipped_placeholder_and_mail_to_example_org_is_refused(
        monkeypatch, engine, catalogues, clock):
    from hotline_kpi.alerts.alerting import Alerting
    from hotline_kpi.alerts.rules import RulesError
    from hotline_kpi.i18n import set_language

    set_language("en")
    monkeypatch.setenv("HOTLINE_KPI_SMTP__HOST", "127.0.0.1")  # mail on; nothing is sent while building
    with pytest.raises(RulesError) as refused:
        Alerting.from_settings(Settings(), catalogues, engine, clock)
    assert "placeholder address(es) kpi-office@example.org" in str(refused.value)
    assert "HOTLINE_KPI_ALERTS__RECIPIENTS" in str(refused.value)
    monkeypatch.setenv("HOTLINE_KPI_ALERTS__RECIPIENTS", "kpi@12345.sh.gov.cn, webhook:office")
    monkeypatch.setenv("HOTLINE_KPI_ALERTS__WEBHOOKS", '{"office": {"kind": "wecom", "url": "https://qyapi.example/x"}}')
    alerting = Alerting.from_settings(Settings(), catalogues, engine, clock)
    rule = alerting.config.rules[0]
    assert alerting.config.recipients(rule) == ("kpi@12345.sh.gov.cn", "webhook:office")
    monkeypatch.setenv("HOTLINE_KPI_ALERTS__RECIPIENTS", "not an address")
    with pytest.raises(ValidationError, match="not a plain e-mail address"):
        Settings()
