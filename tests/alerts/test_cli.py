"""`hotline-kpi alerts ...` against the store and the real SMTP server."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.cli import cli
from hotline_kpi.cli.app import App
from hotline_kpi.clock import FixedClock
from hotline_kpi.store.db import make_engine, read_session
from hotline_kpi.store.models import AlertEventRow
from tests.alerts.conftest import OPS, SmtpServer, World, local, make_settings
from tests.common import TARGETS
from tests.processes import free_port


@pytest.fixture
def setup(tmp_path: Path, sqlite_url: str, smtp_server: SmtpServer, catalogues: CatalogueSet,
          monkeypatch: pytest.MonkeyPatch):
    for key in list(os.environ):
        if key.startswith("HOTLINE_KPI_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    settings = make_settings(tmp_path, sqlite_url, smtp_server.port)
    env = {
        "HOTLINE_KPI_DATABASE_URL": sqlite_url, "HOTLINE_KPI_VAR_DIR": str(tmp_path / "var"),
        "HOTLINE_KPI_TARGETS_DIR": str(TARGETS), "HOTLINE_KPI_SMTP__HOST": "127.0.0.1",
        "HOTLINE_KPI_SMTP__PORT": str(smtp_server.port), "HOTLINE_KPI_SMTP__SECURITY": "none",
        "HOTLINE_KPI_SMTP__FROM_ADDRESS": "kpi@hotline.example",
        "HOTLINE_KPI_ALERTS__RULES_FILE": str(settings.alerts.rules_file),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    clock = FixedClock(local(2019, 6, 3))
    world = World(make_engine(sqlite_url), settings, catalogues, clock, smtp_server)


    def run(*args: str, ok: bool = True):
        result = CliRunner().invoke(cli, list(args), obj=App(clock=clock), catch_exceptions=False)
        assert (result.exit_code == 0) is ok, result.output
        return result

    yield world, run
    world.engine.dispose()


def test_list_shows_firing_alerts_and_undelivered_mail_until_dispatch_delivers_it(setup):
    world, run = setup
    world.smtp.stop()
    world.day(dt.date(2019, 6, 3), answer_seconds=9.0)
    world.dispatch()  # refused: stays owed

    out = run("alerts", "list").output
    assert "answer_day" in out and "告警中" in out and "电话接通时长 当日 9.00 秒 高于目标 8 秒" in out
    assert "待投递的通知" in out and OPS in out and "邮件服务器拒绝连接：“[Errno 111] Connection" in out
    assert "ConnectionRefusedError" not in out
    assert "connection_day" not in out  # inactive: only with --all
    assert "connection_day" in run("alerts", "list", "--all").output

    world.smtp.start()
    world.clock.advance(dt.timedelta(minutes=5))
    assert "投递成功 1 条" in run("alerts", "dispatch").output
    assert len(world.smtp.to(OPS)) == 1
    out = run("alerts", "list").output
    assert "没有待投递的通知" in out


def test_resend_queues_a_notification_again(setup):
    world, run = setup
    world.day(dt.date(2019, 6, 3), answer_seconds=9.0, connection=0.85)  # answer fires, connection pends
    run("alerts", "dispatch")
    assert "2019-06-04 08:30" in run("alerts", "list", "--all").output  # last notified, local time
    with read_session(world.engine) as s:
        fired = s.scalars(select(AlertEventRow.id).where(AlertEventRow.kind == "firing")).one()
        pending = s.scalars(select(AlertEventRow.id).where(AlertEventRow.kind == "pending")).one()
    assert "已重新排队为事件" in run("alerts", "resend", str(fired)).output
    run("alerts", "dispatch")
    assert len(world.smtp.to(OPS)) == 2
    assert f"错误：事件 {pending}（转入待定）没有发送过邮件，无可重发" in run("alerts", "resend", str(pending), ok=False).output
    for missing in ("9999", "0", "-3"):
        assert f"错误：事件 {missing} 不存在（事件编号见 `hotline-kpi alerts list`）" in \
            run("alerts", "resend", "--", missing, ok=False).output
    assert "error: event 9999 does not exist" in run("--lang", "en", "alerts", "resend", "9999", ok=False).output


def test_test_email_goes_straight_to_the_server(setup):
    world, run = setup
    out = run("alerts", "test-email", "--to", "me@example.org").output
    assert "me@example.org：已发送" in out
    [mail] = world.smtp.messages
    assert mail.subject == "[12345 KPI][测试] hotline-kpi 测试邮件"
    world.smtp.handler.rcpt_replies["no@example.org"] = "550 5.1.1 unknown"
    out = run("alerts", "test-email", "--to", "no@example.org", ok=False).output
    assert "no@example.org：永久失败（邮件服务器拒收：“RCPT refused: 550 5.1.1 unknown”）" in out
    assert "“x”不是单纯的电子邮件地址" in run("alerts", "test-email", "--to", "x", ok=False).output


def test_without_smtp_settings_the_commands_say_what_to_set(setup, monkeypatch: pytest.MonkeyPatch):
    _, run = setup
    monkeypatch.delenv("HOTLINE_KPI_SMTP__HOST")
    assert "smtp.host" in run("alerts", "dispatch", ok=False).output
    assert "smtp.host" in run("alerts", "test-email", "--to", "a@example.org", ok=False).output
    assert "SMTP：未配置" in run("alerts", "list").output
    assert "群机器人：未配置（alerts.webhooks）" in run("alerts", "list").output


def test_list_names_the_configured_group_robots_without_their_secrets(setup, monkeypatch: pytest.MonkeyPatch):
    """Review of #16, finding 11: an office with robots only read "SMTP: not configured"."""
    _, run = setup
    monkeypatch.delenv("HOTLINE_KPI_SMTP__HOST")
    monkeypatch.setenv("HOTLINE_KPI_ALERTS__WEBHOOKS__OFFICE_WECOM__KIND", "wecom")
    monkeypatch.setenv("HOTLINE_KPI_ALERTS__WEBHOOKS__OFFICE_WECOM__URL", "https://qyapi.example/send?key=SECRETKEY")
    monkeypatch.setenv("HOTLINE_KPI_ALERTS__WEBHOOKS__OFFICE_DINGTALK__KIND", "dingtalk")
    monkeypatch.setenv("HOTLINE_KPI_ALERTS__WEBHOOKS__OFFICE_DINGTALK__URL", "https://oapi.example/send?access_token=TOK")
    out = run("alerts", "list").output
    assert "群机器人：webhook:office_dingtalk（钉钉群机器人）、webhook:office_wecom（企业微信群机器人）" in out
    assert "SECRETKEY" not in out and "TOK" not in out


def test_serve_refuses_an_invalid_rules_file_with_the_problems_and_no_traceback(setup, tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch):
    """Before: ``serve`` died with a Python traceback ending in RulesError."""
    _, run = setup
    bad = tmp_path / "bad-rules.yaml"
    bad.write_text("rules:\n  - name: x\n    indicator: nope\n", encoding="utf-8")
    monkeypatch.setenv("HOTLINE_KPI_ALERTS__RULES_FILE", str(bad))
    out = run("serve", "--port", "1", ok=False).output
    assert f"{bad}：告警规则无效" in out  # in the default language, Chinese
    assert "第 1 条规则，字段“condition”：缺少此项" in out
    assert "Traceback" not in out


def test_list_all_says_an_inactive_alert_meets_its_target_in_words_true_to_its_figures(setup):
    world, run = setup
    world.day(dt.date(2019, 6, 3), answer_seconds=7.5)
    out = run("alerts", "list", "--all").output
    # Not "95.00% 低于目标 90%": an inactive row says its figures as they stand.
    assert "热线接通率 当日 95.00%，达标（目标 ≥ 90%）" in out
    assert "电话接通时长 当日 7.50 秒，达标（目标 ≤ 8 秒）" in out
    assert "低于目标" not in out and "高于目标" not in out
    # Hotline and rule by the names people read; the rule id stays, last, for the record.
    assert "告警：上海市12345市民服务热线" in out and "shanghai-12345" not in out
    assert "热线接通率·当日" in out and "规则编号" in out and "connection_day" in out
    en = run("--lang", "en", "alerts", "list", "--all").output
    assert "Connection rate Day 95.00%, meets target" in en and "(>= 90%)" in en  # the cell wraps


def test_test_email_to_a_closed_port_says_the_server_and_the_reason_in_chinese(setup, monkeypatch: pytest.MonkeyPatch,
                                                                             caplog: pytest.LogCaptureFixture):
    world, run = setup
    caplog.set_level(logging.WARNING, logger="hotline_kpi.alerts.smtp")
    port = free_port()  # closed again at once: a connection to it is refused (port 1 is not: CI's sandbox answers it)
    monkeypatch.setenv("HOTLINE_KPI_SMTP__PORT", str(port))
    monkeypatch.setenv("HOTLINE_KPI_SMTP__SECURITY", "starttls")
    out = run("alerts", "test-email", "--to", "a@b.c", ok=False).output
    assert "a@b.c：暂时失败（邮件服务器拒绝连接：“[Errno 111] Connection refused”）" in out, out
    assert f"错误：未能通过 127.0.0.1:{port}（STARTTLS 加密）投递给所有收件人" in out, out
    assert "ConnectionRefusedError" not in out and "(starttls)" not in out
    # the log line of the SMTP client, which serve writes to its log, says it the same way
    said = [r.getMessage() for r in caplog.records if r.name == "hotline_kpi.alerts.smtp"]
    assert said == ["SMTP：1 位收件人暂时失败：邮件服务器拒绝连接：“[Errno 111] Connection refused”"], said
    assert f"SMTP：127.0.0.1:{port}（STARTTLS 加密）" in run("alerts", "list").output
    en = run("--lang", "en", "alerts", "test-email", "--to", "a@b.c", ok=False).output
    assert "a@b.c: " in en and "the mail server refused the connection: '[Errno 111] Connection refused'" in en, en
    assert f"127.0.0.1:{port} (STARTTLS encryption)" in en
