"""The alerts' words an office reads (issue #14, the new-user review): the service log's alert
lines, `alerts list`'s kinds and outcomes, and a rules file that is missing; Chinese by
default, English by ``--lang en``."""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

import pytest

from hotline_kpi.alerts.alerting import Alerting
from hotline_kpi.i18n import set_language
from tests.alerts.conftest import OPS
from tests.alerts.test_cli import setup  # noqa: F401 - the fixture

LOG = "hotline_kpi.alerts.alerting"


def test_the_alert_log_lines_are_chinese_with_the_states_named(setup, caplog: pytest.LogCaptureFixture):  # noqa: F811
    world, _run = setup
    set_language("zh")
    with caplog.at_level(logging.INFO, logger=LOG):
        world.day(dt.date(2019, 6, 3), answer_seconds=9.0)
    lines = [r.getMessage() for r in caplog.records if r.name == LOG]
    # The alert by its hotline's display name and its indicator's, not by its number alone.
    assert any(re.fullmatch(r"告警 \d+（上海市12345市民服务热线：电话接通时长）：未激活 → 告警中（开始告警），待发通知", line)
               for line in lines), lines
    caplog.clear()
    set_language("en")
    try:
        with caplog.at_level(logging.INFO, logger=LOG):
            world.day(dt.date(2019, 6, 4), answer_seconds=6.0)
        lines = [r.getMessage() for r in caplog.records if r.name == LOG]
        assert any(line.endswith(": firing → inactive (resolved)") for line in lines), lines
    finally:
        set_language("zh")


def test_without_an_smtp_host_the_log_says_so_in_chinese(setup, caplog: pytest.LogCaptureFixture):  # noqa: F811
    world, _run = setup
    settings = world.settings.model_copy(update={"smtp": world.settings.smtp.model_copy(update={"host": ""})})
    set_language("zh")
    with caplog.at_level(logging.WARNING, logger=LOG):
        Alerting.from_settings(settings, world.catalogues, world.engine, world.clock)
    assert "未设置 smtp.host：告警邮件暂存在发件箱中（见 `hotline-kpi alerts list`）" in caplog.text
    caplog.clear()
    set_language("en")
    try:
        with caplog.at_level(logging.WARNING, logger=LOG):
            Alerting.from_settings(settings, world.catalogues, world.engine, world.clock)
        assert "smtp.host is not set: alert mail waits in the outbox" in caplog.text
    finally:
        set_language("zh")


def test_list_names_the_kind_and_outcome_in_words(setup):  # noqa: F811
    world, run = setup
    world.smtp.handler.rcpt_replies[OPS] = "550 5.1.1 gone"
    world.day(dt.date(2019, 6, 3), answer_seconds=9.0)
    world.dispatch()  # refused for good: a failure of its own
    world.smtp.stop()
    world.day(dt.date(2019, 6, 4), answer_seconds=9.0, satisfaction=0.5)  # satisfaction_day fires: its mail stays owed
    world.dispatch()
    out = run("alerts", "list").output
    owed = next(line for line in out.splitlines() if "kpi@" not in line and "开始告警" in line)
    assert owed.split("│")[2].strip() == "开始告警", out  # the 类型 column
    failed = next(line for line in out.splitlines() if OPS in line and "550" in line)
    assert failed.split("│")[4].strip() == "永久失败", out  # the 结果 column
    for raw in ("│ firing", "│ permanent"):
        assert raw not in out, (raw, out)
    en = run("--lang", "en", "alerts", "list").output
    assert "│ started firing" in en and "│ permanent" in en, en


def test_list_says_the_rules_file_is_missing_and_fails(setup, monkeypatch, tmp_path: Path):  # noqa: F811
    _world, run = setup
    gone = tmp_path / "gone.yaml"
    monkeypatch.setenv("HOTLINE_KPI_ALERTS__RULES_FILE", str(gone))
    result = run("alerts", "list", ok=False)
    assert result.exit_code == 1
    assert ("错误：告警规则无法使用，因此不会研判任何告警，也不会发送邮件（`serve` 拒绝启动）："
            f"{gone}：告警规则无效：\n  - 找不到文件") in result.stderr, result.stderr
    en = run("--lang", "en", "alerts", "list", ok=False)
    assert "error: the alert rules cannot be used" in en.stderr and "file not found" in en.stderr
