"""A real ``hotline-kpi serve`` whose group robots (WeCom, DingTalk) are down, SIGKILLed and
restarted while the notification is owed: each robot gets it exactly once when it
comes back, as mail does in test_serve_mail_and_zone.py.

The robots are tests/alerts/robots.py, a local HTTP server that stands in for the WeCom
and DingTalk APIs (they cannot be reached from here); it checks the key, the token and
DingTalk's signature against the real clock. No SMTP is configured: robots alone make
the service schedule its delivery jobs. Delays are scaled down through the settings.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline_kpi.store.db import make_engine, read_session
from hotline_kpi.store.models import AlertDeliveryRow, AlertEventRow, JobRunRow
from tests.alerts.robots import DINGTALK_PATH, KEY, SECRET, TOKEN, WECOM_PATH, RobotServer
from tests.processes import DemoTemplate, prepare_demo, start_serve
from tests.reliability.support import wait_for

pytestmark = pytest.mark.system

WECOM, DING = "webhook:office_wecom", "webhook:office_dingtalk"
#: The demo year breaches the average answer time (8.27 s against <= 8 s).
RULES = f"""
rules:
  - id: answer_ytd
    indicator: average_answer_seconds
    window: year_to_date
    condition: breached
    severity: critical
    recipients: [{WECOM}, {DING}]
    repeat: never
    send_resolved: false
"""


def test_robots_down_survive_a_sigkill_and_get_the_notification_once(
        db_url: str, tmp_path: Path, request: pytest.FixtureRequest, demo_template: DemoTemplate):
    robots = RobotServer(lambda: int(time.time() * 1000))
    robots.stop()  # the port stays known; nothing listens: connection refused
    request.addfinalizer(lambda: robots.server is not None and robots.stop())
    rules = tmp_path / "alerts.yaml"
    tmp_path.mkdir(parents=True, exist_ok=True)
    rules.write_text(RULES, encoding="utf-8")
    base = f"http://127.0.0.1:{robots.port}"
    env = prepare_demo(demo_template, tmp_path, {
        "HOTLINE_KPI_DATABASE_URL": db_url,
        "HOTLINE_KPI_ALERTS__RULES_FILE": str(rules),
        "HOTLINE_KPI_ALERTS__WEBHOOKS__OFFICE_WECOM__KIND": "wecom",
        "HOTLINE_KPI_ALERTS__WEBHOOKS__OFFICE_WECOM__URL": f"{base}{WECOM_PATH}?key={KEY}",
        "HOTLINE_KPI_ALERTS__WEBHOOKS__OFFICE_DINGTALK__KIND": "dingtalk",
        "HOTLINE_KPI_ALERTS__WEBHOOKS__OFFICE_DINGTALK__URL": f"{base}{DINGTALK_PATH}?access_token={TOKEN}",
        "HOTLINE_KPI_ALERTS__WEBHOOKS__OFFICE_DINGTALK__SECRET": SECRET,
        "HOTLINE_KPI_ALERTS__WEBHOOKS__OFFICE_DINGTALK__TIMEOUT_SECONDS": "3",
        "HOTLINE_KPI_ALERTS__WEBHOOKS__OFFICE_WECOM__TIMEOUT_SECONDS": "3",
        "HOTLINE_KPI_SMTP__BACKOFF_INITIAL_SECONDS": "1",
        "HOTLINE_KPI_SMTP__BACKOFF_MAX_SECONDS": "1.5",
        "HOTLINE_KPI_SMTP__RETRY_FOR_SECONDS": "3600",
        "HOTLINE_KPI_ALERTS__DISPATCH_INTERVAL_SECONDS": "1",
        "HOTLINE_KPI_ALERTS__CLAIM_TIMEOUT_SECONDS": "10",
        "HOTLINE_KPI_SERVICE__LEASE_SECONDS": "3",
    })
    engine = make_engine(db_url)
    request.addfinalizer(engine.dispose)

    def deliveries() -> list[tuple[str, str, int | None]]:
        with read_session(engine) as s:
            return [(d.recipient, d.outcome, d.code)
                    for d in s.scalars(select(AlertDeliveryRow).order_by(AlertDeliveryRow.id))]

    def runs() -> int:
        with read_session(engine) as s:
            row = s.get(JobRunRow, "alerts_dispatch")
            return int(row.runs_total or 0) if row is not None else 0

    def events() -> list[AlertEventRow]:
        with read_session(engine) as s:
            return list(s.scalars(select(AlertEventRow).where(AlertEventRow.processed_at.is_not(None)
                                                               | AlertEventRow.recipients.is_not(None))))

    first = start_serve(env, tmp_path, request.addfinalizer)
    wait_for(lambda: len([d for d in deliveries() if d[0] == WECOM]) >= 2, 60,
             f"two refused posts to the WeCom robot\n{first.log()}", every=0.3)
    first.proc.kill()  # SIGKILL: no clean stop, a claim may be left behind
    first.proc.wait(timeout=10)
    assert {(o, c) for _, o, c in deliveries()} == {("transient", None)}
    assert robots.received == []

    second = start_serve(env, tmp_path, request.addfinalizer)
    n = len(deliveries())
    wait_for(lambda: len(deliveries()) > n, 60, f"the restarted serve retries\n{second.log()}", every=0.3)
    robots.start()
    wait_for(lambda: {(r, o) for r, o, _ in deliveries()} >= {(WECOM, "sent"), (DING, "sent")}, 60,
             f"both robots got it once they were back\n{second.log()}", every=0.3)
    # Three more delivery passes send nothing more.
    passes = runs()
    wait_for(lambda: runs() >= passes + 3, 30, "three more delivery passes")
    assert len(robots.to("wecom")) == 1 and len(robots.to("dingtalk")) == 1
    assert robots.to("wecom")[0].startswith("[12345 KPI][严重]")
    [ev] = [e for e in events() if json.loads(e.recipients or "[]") == [WECOM, DING]]
    assert ev.outcome == "sent" and ev.processed_at is not None
    assert second.stop() == 0


def test_a_serve_killed_mid_post_leaves_a_marked_second_copy(
        db_url: str, tmp_path: Path, request: pytest.FixtureRequest, demo_template: DemoTemplate):
    """Review 16 finding 1: the robot took the post (the group shows it) and answers slowly;
    serve is SIGKILLed before the answer. Robots keep no idempotency key, so the restarted
    serve cannot know whether the group has it: it sends again, after the claim expired,
    and the group sees the second copy marked （可能重复）."""
    robots = RobotServer(lambda: int(time.time() * 1000))
    robots.delay = 8.0
    request.addfinalizer(lambda: robots.server is not None and robots.stop())
    rules = tmp_path / "alerts.yaml"
    tmp_path.mkdir(parents=True, exist_ok=True)
    rules.write_text(RULES, encoding="utf-8")
    base = f"http://127.0.0.1:{robots.port}"
    env = prepare_demo(demo_template, tmp_path, {
        "HOTLINE_KPI_DATABASE_URL": db_url,
        "HOTLINE_KPI_ALERTS__RULES_FILE": str(rules),
        "HOTLINE_KPI_ALERTS__WEBHOOKS__OFFICE_WECOM__KIND": "wecom",
        "HOTLINE_KPI_ALERTS__WEBHOOKS__OFFICE_WECOM__URL": f"{base}{WECOM_PATH}?key={KEY}",
        "HOTLINE_KPI_ALERTS__WEBHOOKS__OFFICE_DINGTALK__KIND": "dingtalk",
        "HOTLINE_KPI_ALERTS__WEBHOOKS__OFFICE_DINGTALK__URL": f"{base}{DINGTALK_PATH}?access_token={TOKEN}",
        "HOTLINE_KPI_ALERTS__WEBHOOKS__OFFICE_DINGTALK__SECRET": SECRET,
        "HOTLINE_KPI_ALERTS__WEBHOOKS__OFFICE_WECOM__TIMEOUT_SECONDS": "10",
        "HOTLINE_KPI_ALERTS__DISPATCH_INTERVAL_SECONDS": "1",
        "HOTLINE_KPI_ALERTS__CLAIM_TIMEOUT_SECONDS": "10",
        "HOTLINE_KPI_SERVICE__LEASE_SECONDS": "3",
    })
    engine = make_engine(db_url)
    request.addfinalizer(engine.dispose)

    def deliveries() -> list[tuple[str, str, int | None]]:
        with read_session(engine) as s:
            return [(d.recipient, d.outcome, d.code)
                    for d in s.scalars(select(AlertDeliveryRow).order_by(AlertDeliveryRow.id))]

    def runs() -> int:
        with read_session(engine) as s:
            row = s.get(JobRunRow, "alerts_dispatch")
            return int(row.runs_total or 0) if row is not None else 0

    first = start_serve(env, tmp_path, request.addfinalizer)
    wait_for(lambda: len(robots.to("wecom")) == 1, 60, f"the WeCom robot took the post\n{first.log()}", every=0.1)
    time.sleep(0.3)
    first.proc.kill()  # SIGKILL while the robot is still answering
    first.proc.wait(timeout=10)
    assert deliveries() == [] and robots.to("dingtalk") == []
    robots.delay = 0
    second = start_serve(env, tmp_path, request.addfinalizer)
    wait_for(lambda: {(r, o) for r, o, _ in deliveries()} >= {(WECOM, "sent"), (DING, "sent")}, 90,
             f"the restarted serve sent once the claim expired\n{second.log()}", every=0.3)
    passes = runs()
    wait_for(lambda: runs() >= passes + 3, 30, "three more delivery passes")
    # What each group shows: WeCom the first copy and a second one marked as such; DingTalk
    # (not reached before the kill; the restarted serve cannot know that) one marked copy.
    [original, again] = robots.to("wecom")
    assert original.startswith("[12345 KPI][严重]") and again == "（可能重复） " + original
    assert robots.to("dingtalk") == [again]
    assert [(r, o) for r, o, _ in deliveries()] == [(WECOM, "sent"), (DING, "sent")]
    assert second.stop() == 0
