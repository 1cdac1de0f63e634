"""WeCom and DingTalk group robots beside SMTP, through the same outbox, claims and
exactly-once rules (docs/alerts.md).

The real services (qyapi.weixin.qq.com, oapi.dingtalk.com) cannot be reached from here:
``tests/alerts/robots.py`` is a local HTTP server that STANDS IN FOR THEM, answering as
their published APIs do (errcode JSON, rate limits, signature checks, 5xx, outages).
Everything else is real: the store (SQLite and PostgreSQL), the evaluation, the outbox,
the SMTP server on loopback.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import urllib.parse
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import Engine, select

from hotline_kpi.alerts.rules import RulesError
from hotline_kpi.alerts.webhook import classify, sign
from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import FixedClock
from hotline_kpi.store.db import read_session
from hotline_kpi.store.models import AlertDeliveryRow, AlertEventRow
from tests.alerts.conftest import OFFICE, SmtpServer, World, local, make_settings
from tests.alerts.robots import KEY, SECRET, TOKEN, RobotServer

D1 = dt.date(2019, 6, 3)
WECOM, DING = "webhook:office-wecom", "webhook:office-dingtalk"
RULES = f"""
default_recipients: [{OFFICE}]
rules:
  - id: answer_day
    indicator: average_answer_seconds
    window: day
    condition: breached
    severity: warning
    recipients: [{OFFICE}, {WECOM}, {DING}]
    send_resolved: false
  - id: satisfaction_day
    indicator: satisfaction_rate
    window: day
    condition: breached
    recipients: [{WECOM}]
"""


@pytest.fixture
def robots_world(engine: Engine, tmp_path: Path, catalogues: CatalogueSet,
                 smtp_server: SmtpServer) -> Iterator[tuple[World, RobotServer]]:
    clock = FixedClock(local(2019, 6, 3, 8, 30))
    robots = RobotServer(lambda: int(clock.now().timestamp() * 1000))
    base = f"http://127.0.0.1:{robots.port}"
    settings = make_settings(tmp_path, engine.url.render_as_string(hide_password=False), smtp_server.port,
                             rules=RULES)
    alerts = settings.alerts.model_dump()
    alerts["webhooks"] = {
        "office-wecom": {"kind": "wecom", "url": f"{base}/cgi-bin/webhook/send?key={KEY}"},
        "office-dingtalk": {"kind": "dingtalk", "url": f"{base}/robot/send?access_token={TOKEN}",
                            "secret": SECRET}}
    alerts["webhooks"] = {k: {**v, "timeout_seconds": 5} for k, v in alerts["webhooks"].items()}
    settings = settings.model_copy(update={"alerts": type(settings.alerts)(**alerts)})
    try:
        yield World(engine, settings, catalogues, clock, smtp_server), robots
    finally:
        if robots.server is not None:
            robots.stop()


def _deliveries(world: World) -> list[tuple[str, str, int | None]]:
    with read_session(world.engine) as s:
        return [(d.recipient, d.outcome, d.code) for d in s.scalars(select(AlertDeliveryRow).order_by(AlertDeliveryRow.id))]


def test_one_breach_goes_once_to_the_mail_and_both_robots_signed_and_in_chinese(robots_world):
    world, robots = robots_world
    world.day(D1, answer_seconds=9.0)
    assert world.dispatch().sent == 3
    [wecom], [ding] = robots.to("wecom"), robots.to("dingtalk")
    assert wecom == ding
    assert wecom.startswith("[12345 KPI][警告] 电话接通时长") and "目标" in wecom
    assert len(world.smtp.to(OFFICE)) == 1
    for _ in range(3):  # later passes send nothing again
        world.clock.advance(dt.timedelta(hours=1))
        world.dispatch()
    assert len(robots.to("wecom")) == len(robots.to("dingtalk")) == 1 and len(world.smtp.messages) == 1


def test_rules_route_per_rule(robots_world):
    world, robots = robots_world
    world.day(D1, satisfaction=0.5)
    world.dispatch()
    assert len(robots.to("wecom")) == 1 and robots.to("dingtalk") == [] and world.smtp.messages == []


def test_a_rate_limit_and_a_5xx_are_retried_and_deliver_exactly_once(robots_world):
    world, robots = robots_world
    robots.script = [(200, {"errcode": 45009, "errmsg": "api freq out of limit"}),
                     (502, {"errcode": -1, "errmsg": "bad gateway"})]
    world.day(D1, answer_seconds=9.0)
    report = world.dispatch()
    assert (report.sent, report.transient) == (1, 2)  # the mail went; both robots wait
    world.clock.advance(dt.timedelta(seconds=61))
    assert world.dispatch().sent == 2
    world.clock.advance(dt.timedelta(hours=3))
    world.dispatch()
    assert len(robots.to("wecom")) == len(robots.to("dingtalk")) == 1
    outcomes = _deliveries(world)
    assert (WECOM, "transient", 45009) in outcomes and (DING, "transient", 502) in outcomes
    assert [o for o in outcomes if o[1] == "sent"] == [(OFFICE, "sent", 250), (WECOM, "sent", 0), (DING, "sent", 0)]


def test_an_outage_of_the_robots_is_waited_out_and_delivers_once(robots_world):
    world, robots = robots_world
    robots.stop()  # connection refused
    world.day(D1, answer_seconds=9.0)
    assert world.dispatch().transient == 2
    world.clock.advance(dt.timedelta(seconds=61))
    assert world.dispatch().transient == 2
    robots.start()
    world.clock.advance(dt.timedelta(seconds=121))
    assert world.dispatch().sent == 2
    world.clock.advance(dt.timedelta(hours=3))
    world.dispatch()
    assert len(robots.to("wecom")) == len(robots.to("dingtalk")) == 1 and len(world.smtp.messages) == 1
    with read_session(world.engine) as s:
        [fired] = s.scalars(select(AlertEventRow).where(AlertEventRow.kind == "firing")).all()
        assert fired.outcome == "sent" and fired.processed_at is not None


def test_a_sender_killed_after_its_claim_leaves_the_robots_to_the_restarted_one(robots_world):
    world, robots = robots_world
    world.day(D1, answer_seconds=9.0)
    doomed = world.alerting.dispatcher()
    [due] = doomed.due(world.clock.now())
    assert doomed.claim(due, world.clock.now()) is not None  # ... and the process dies here
    world.restart()
    assert world.dispatch().processed == 0  # the live claim: nobody posts twice
    world.clock.advance(dt.timedelta(seconds=601))  # alerts.claim_timeout_seconds
    assert world.dispatch().sent == 3
    world.clock.advance(dt.timedelta(hours=2))
    world.dispatch()
    assert len(robots.to("wecom")) == len(robots.to("dingtalk")) == 1 and len(world.smtp.messages) == 1
    # The dead sender's outcome is unknown: the groups are told this may be a second copy.
    assert robots.to("wecom")[0].startswith("（可能重复） [12345 KPI][警告] 电话接通时长")
    assert robots.to("dingtalk")[0].startswith("（可能重复） [12345 KPI][警告]")


def test_a_post_left_unanswered_is_retried_marked_as_a_possible_duplicate(robots_world):
    """The robot took the post and answered after the timeout: the group shows it, the
    sender saw a timeout. The retry says （可能重复）; a robot that answered is not marked."""
    world, robots = robots_world
    alerts = world.settings.alerts.model_dump()
    alerts["webhooks"]["office-wecom"]["timeout_seconds"] = 0.5
    world.settings = world.settings.model_copy(update={"alerts": type(world.settings.alerts)(**alerts)})
    world.restart()
    robots.delay = 1.5
    world.day(D1, answer_seconds=9.0)
    report = world.dispatch()
    assert report.transient >= 1 and (WECOM, "transient", None) in _deliveries(world)
    robots.delay = 0
    world.clock.advance(dt.timedelta(seconds=61))
    world.dispatch()
    world.clock.advance(dt.timedelta(hours=3))
    world.dispatch()
    first, second = robots.to("wecom")
    assert not first.startswith("（") and second == "（可能重复） " + first
    assert [d for d in _deliveries(world) if d[0] == WECOM][-1] == (WECOM, "sent", 0)


def test_the_robot_text_is_lf_only_without_a_repeated_subject_and_signed_as_a_message(robots_world):
    world, robots = robots_world
    world.day(D1, answer_seconds=9.0)
    world.dispatch()
    [text] = robots.to("wecom")
    lines = text.split("\n")
    assert "\r" not in text
    assert lines[0].startswith("[12345 KPI][警告] 电话接通时长") and lines[1] == ""
    headline = lines[0].split("] ", 2)[-1]
    assert all(headline not in line for line in lines[1:])
    assert "此消息由 hotline-kpi 自动发送" in text and "邮件由" not in text


def test_alerts_resend_is_marked_as_a_resend_on_the_robots(robots_world):
    world, robots = robots_world
    world.day(D1, answer_seconds=9.0)
    world.dispatch()
    with read_session(world.engine) as s:
        [fired] = s.scalars(select(AlertEventRow).where(AlertEventRow.kind == "firing")).all()
    world.alerting.resend(fired.id)
    world.dispatch()
    first, again = robots.to("dingtalk")
    assert again == "【重发】 " + first


def test_a_wrong_key_or_signature_is_permanent_and_not_retried(robots_world):
    world, robots = robots_world
    hooks = {k: v.model_dump() for k, v in world.settings.alerts.webhooks.items()}
    hooks["office-wecom"]["url"] = hooks["office-wecom"]["url"].get_secret_value().replace(KEY, "wrong")
    hooks["office-dingtalk"]["secret"] = "SECwrong"
    hooks["office-dingtalk"]["url"] = hooks["office-dingtalk"]["url"].get_secret_value()
    alerts = world.settings.alerts.model_copy(update={"webhooks": {
        k: type(next(iter(world.settings.alerts.webhooks.values())))(**v) for k, v in hooks.items()}})
    world.settings = world.settings.model_copy(update={"alerts": alerts})
    world.alerting = world.build()
    world.day(D1, answer_seconds=9.0)
    report = world.dispatch()
    assert (report.sent, report.permanent) == (1, 2)
    world.clock.advance(dt.timedelta(days=1))
    assert world.dispatch().processed == 0
    assert {(r, o, c) for r, o, c in _deliveries(world) if r != OFFICE} == {
        (WECOM, "permanent", 93000), (DING, "permanent", 310000)}
    assert robots.received == []


def test_a_rule_naming_an_unknown_robot_stops_the_alerting(engine: Engine, tmp_path: Path,
                                                           catalogues: CatalogueSet, smtp_server: SmtpServer):
    settings = make_settings(tmp_path, engine.url.render_as_string(hide_password=False), smtp_server.port,
                             rules=RULES)
    with pytest.raises(RulesError, match="收件人 webhook:office-dingtalk, webhook:office-wecom：alerts.webhooks 中没有这个群机器人"):
        World(engine, settings, catalogues, FixedClock(local(2019, 6, 3, 8, 30)), smtp_server)


@pytest.mark.parametrize("status, body, outcome", [
    (200, {"errcode": 0, "errmsg": "ok"}, "sent"),
    (200, {"errcode": 45009, "errmsg": "api freq out of limit"}, "transient"),
    (200, {"errcode": 130101, "errmsg": "send too fast"}, "transient"),
    (200, {"errcode": -1, "errmsg": "system busy"}, "transient"),
    (200, {"errcode": 93000, "errmsg": "invalid webhook url"}, "permanent"),
    (200, {"errcode": 310000, "errmsg": "sign not match"}, "permanent"),
    (500, {}, "transient"), (503, {}, "transient"), (429, {}, "transient"), (404, {}, "permanent"),
])
def test_answers_are_classified_as_the_apis_document(status: int, body: dict, outcome: str) -> None:
    assert classify(status, json.dumps(body).encode())[0] == outcome
    assert classify(200, b"<html>proxy error</html>")[0] == "transient"


def test_dingtalk_signature_matches_the_documented_recipe() -> None:
    """DingTalk's doc: sign = urlEncode(base64(HmacSHA256(secret, timestamp + "\\n" + secret)))."""
    ts = 1575000000000
    mac = hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(), hashlib.sha256).digest()
    assert sign(SECRET, ts) == urllib.parse.quote_plus(base64.b64encode(mac).decode())


def test_a_long_notification_is_clipped_to_the_robot_api_limit() -> None:
    from email.message import EmailMessage

    from hotline_kpi.alerts.webhook import payload

    msg = EmailMessage()
    msg["Subject"] = "[12345 KPI] 每日汇总"
    msg.set_content("热线接通率低于目标。\n" * 1000)
    for kind, limit in (("wecom", 2048), ("dingtalk", 20000)):
        text = json.loads(payload(kind, msg))["text"]["content"]
        assert len(text.encode()) <= limit and text.startswith("[12345 KPI] 每日汇总")
        assert text.endswith("（全文见邮件或状态页）")
    assert json.loads(payload("wecom", msg, "en"))["text"]["content"].endswith("on the status page)")
