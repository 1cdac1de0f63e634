"""Alerts end to end: store -> evaluation -> state -> outbox -> a real SMTP server.

Every test runs on SQLite and PostgreSQL and asserts on what the aiosmtpd server on
loopback received. Time is a FixedClock in Shanghai; nothing sleeps.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from hotline_kpi.alerts import outbox
from hotline_kpi.store.db import read_session
from hotline_kpi.store.models import AlertDeliveryRow, AlertEventRow, AlertRow
from tests.alerts.conftest import DIRECTOR, OFFICE, OPS, World, local

D1 = dt.date(2019, 6, 3)


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def alert(world: World, rule_id: str) -> AlertRow:
    with read_session(world.engine) as s:
        return s.scalars(select(AlertRow).where(AlertRow.rule_id == rule_id)).one()


def events(world: World, kind: str | None = None) -> list[AlertEventRow]:
    with read_session(world.engine) as s:
        q = select(AlertEventRow).order_by(AlertEventRow.id)
        if kind:
            q = q.where(AlertEventRow.kind == kind)
        return list(s.scalars(q))


def deliveries(world: World) -> list[AlertDeliveryRow]:
    with read_session(world.engine) as s:
        return list(s.scalars(select(AlertDeliveryRow).order_by(AlertDeliveryRow.id)))


# --- firing, "for", flapping, restart ------------------------------------------------------


def test_a_breach_fires_once_after_its_for_count_with_subject_and_figures(world: World):
    world.day(D1, connection=0.85)
    assert alert(world, "connection_day").state == "pending"
    assert world.dispatch().processed == 0 and world.smtp.messages == []

    world.day(D1 + days(1), connection=0.8872)
    assert alert(world, "connection_day").state == "firing"
    world.dispatch()
    [mail] = world.smtp.messages
    assert mail.subject == "[12345 KPI][严重] 热线接通率 当日 88.72% 低于目标 90%"
    assert sorted(mail.rcpt_tos) == sorted([OFFICE, DIRECTOR])
    assert b"Subject: [12345 =?utf-8?" in mail.data  # RFC 2047 on the wire
    assert mail.message.get_content_type() == "multipart/alternative"
    text, html = mail.part("plain"), mail.part("html")
    for body in (text, html):
        assert "88.72%" in body and "90%" in body
        assert "2019-06-03" in body and "85.00%" in body  # the last 14 days
        assert "月累计" in body and "年累计" in body and "86.86%" in body  # month and year to date
        assert "数据完整度" in body and "2/155" in body
        assert "https://kpi.example.org/status?lang=zh" in body
        assert "var-hotline=shanghai-12345" in body
        assert "当日接通率低于90%" in body  # the rule's note
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert mail.message["X-Hotline-KPI-Alert"] == "connection_day/shanghai-12345"

    # Still breached on the next days: no second mail (the digest repeats, not the cycle).
    world.day(D1 + days(2), connection=0.80)
    world.evaluate()  # the same day evaluated again
    world.dispatch()
    assert len(world.smtp.messages) == 1
    assert [e.kind for e in events(world) if e.alert_id == alert(world, "connection_day").id] == ["pending", "firing"]


def test_a_flapping_indicator_sends_nothing_and_its_pending_count_survives_a_restart(world: World):
    for i, rate in enumerate([0.85, 0.95, 0.85, 0.95, 0.85]):
        world.day(D1 + days(i), connection=rate)
        world.dispatch()
    assert world.smtp.messages == []
    kinds = [e.kind for e in events(world) if e.alert_id == alert(world, "connection_day").id]
    assert kinds == ["pending", "cleared", "pending", "cleared", "pending"]  # every change is a row
    row = alert(world, "connection_day")
    assert (row.state, row.held_days) == ("pending", 1)

    world.restart()  # the count is in the database, not in the process
    assert alert(world, "connection_day").held_days == 1
    world.day(D1 + days(5), connection=0.86)
    world.dispatch()
    [mail] = world.smtp.messages
    assert mail.subject.startswith("[12345 KPI][严重] 热线接通率 当日 86.00%")


def test_evaluating_the_same_day_again_does_not_advance_the_for_count(world: World):
    world.day(D1, connection=0.85)
    world.evaluate()
    world.evaluate()
    assert alert(world, "connection_day").state == "pending"
    assert alert(world, "connection_day").held_days == 1


# --- digest and resolved notices -------------------------------------------------------------


def test_the_digest_repeats_on_schedule_and_not_before(world: World):
    world.day(D1, connection=0.95, answer_seconds=9.5)  # answer_day fires at once (for 1)
    world.dispatch()
    assert [m.subject for m in world.smtp.to(OPS)] == ["[12345 KPI][警告] 电话接通时长 当日 9.50 秒 高于目标 8 秒"]

    def digest_at(at: dt.datetime) -> int:
        world.clock.set(at)
        world.alerting.digest()
        return len(world.smtp.to(OPS)) - 1

    assert digest_at(local(2019, 6, 4, 9, 0)) == 0  # fired 30 minutes ago: its notice just told
    assert digest_at(local(2019, 6, 5, 8, 59)) == 0  # not before 09:00
    assert digest_at(local(2019, 6, 5, 9, 0)) == 1
    digest = world.smtp.to(OPS)[-1]
    assert digest.subject == "[12345 KPI] 每日汇总 1 项告警仍在触发"
    assert "电话接通时长" in digest.part("plain") and "9.50 秒" in digest.part("html")
    assert digest_at(local(2019, 6, 5, 15, 0)) == 1  # once per slot, however often the job runs
    world.alerting.digest()
    assert digest_at(local(2019, 6, 6, 8, 0)) == 1
    assert digest_at(local(2019, 6, 6, 9, 1)) == 2  # the next day's
    assert alert(world, "answer_day").last_notified_at is not None

    world.day(dt.date(2019, 6, 6), answer_seconds=6.0)  # recovers (send_resolved: false)
    assert digest_at(local(2019, 6, 8, 9, 0)) == 2  # nothing firing, no digest
    assert world.smtp.to(OFFICE) == []  # the other rules stayed quiet


def test_the_resolved_notice_is_sent_once_and_threads_under_the_firing_one(world: World):
    world.day(D1, connection=0.85)
    world.day(D1 + days(1), connection=0.85)
    world.dispatch()
    world.day(D1 + days(2), connection=0.95)
    world.dispatch()
    world.day(D1 + days(3), connection=0.96)
    world.day(D1 + days(4), connection=0.97)
    world.dispatch()
    mails = world.smtp.to(OFFICE)
    assert [m.subject for m in mails] == [
        "[12345 KPI][严重] 热线接通率 当日 85.00% 低于目标 90%",
        "[12345 KPI][已恢复] 热线接通率 当日 95.00% 达到目标 90%",
    ]
    assert mails[1].message["In-Reply-To"] == mails[0].message_id
    assert alert(world, "connection_day").state == "inactive"


def test_resolved_notices_can_be_switched_off_per_rule(world: World):
    world.day(D1, answer_seconds=9.0)
    world.day(D1 + days(1), answer_seconds=7.0)
    world.dispatch()
    assert [m.subject.split("]")[1] for m in world.smtp.to(OPS)] == ["[警告"]
    assert [e.kind for e in events(world) if e.alert_id == alert(world, "answer_day").id] == ["firing", "resolved"]


# --- routing ------------------------------------------------------------------------------------


def test_recipients_are_routed_per_rule(world: World):
    world.day(D1, connection=0.85, answer_seconds=9.0, satisfaction=0.80)
    world.day(D1 + days(1), connection=0.85, answer_seconds=9.0, satisfaction=0.80)
    world.dispatch()
    by_rcpt = {a: sorted(m.subject.split("] ", 1)[1].split(" ")[0] for m in world.smtp.to(a))
               for a in (OFFICE, DIRECTOR, OPS)}
    assert by_rcpt == {
        OFFICE: ["12345热线回访市民满意度", "热线接通率"],  # its own rule, and the default list (回访: the display name)
        DIRECTOR: ["热线接通率"],
        OPS: ["电话接通时长"],
    }
    assert all(m.mail_from == "kpi@hotline.example" for m in world.smtp.messages)


# --- SMTP failures ----------------------------------------------------------------------------------


def test_a_refused_connection_is_retried_with_backoff_and_delivers_exactly_once(world: World):
    world.smtp.stop()  # nothing listens: connection refused
    world.day(D1, answer_seconds=9.0)
    report = world.dispatch()
    assert (report.processed, report.transient) == (1, 1)
    with read_session(world.engine) as s:
        [owed] = outbox.owed_notifications(s)
        assert owed.remaining == (OPS,) and "Connection refused" in owed.last_error
        assert outbox.alert_stats(s).owed == 1

    world.clock.advance(dt.timedelta(seconds=30))  # the backoff (60 s) has not passed
    assert world.dispatch().processed == 0
    world.clock.advance(dt.timedelta(seconds=31))
    assert world.dispatch().transient == 1  # still down: second attempt, next in 120 s
    world.smtp.start()
    world.clock.advance(dt.timedelta(seconds=60))
    assert world.dispatch().processed == 0  # not due yet, although the server is back
    world.clock.advance(dt.timedelta(seconds=61))
    assert world.dispatch().sent == 1
    for _ in range(3):
        world.clock.advance(dt.timedelta(hours=1))
        world.dispatch()
    assert len(world.smtp.to(OPS)) == 1
    assert [d.outcome for d in deliveries(world)] == ["transient", "transient", "sent"]
    with read_session(world.engine) as s:
        assert outbox.owed_notifications(s) == []


def test_a_550_for_one_recipient_is_recorded_and_the_others_get_the_mail(world: World):
    world.smtp.handler.rcpt_replies[DIRECTOR] = "550 5.1.1 <director@example.org>: no such user"
    world.day(D1, connection=0.85)
    world.day(D1 + days(1), connection=0.85)
    report = world.dispatch()
    assert (report.sent, report.permanent) == (1, 1)
    assert [m.rcpt_tos for m in world.smtp.messages] == [[OFFICE]]
    outcomes = {(d.recipient, d.outcome, d.code) for d in deliveries(world)}
    assert outcomes == {(OFFICE, "sent", 250), (DIRECTOR, "permanent", 550)}
    [fired] = events(world, "firing")
    assert fired.processed_at is not None and fired.outcome == "partial"
    world.clock.advance(dt.timedelta(days=1))
    assert world.dispatch().processed == 0  # a permanent refusal is not retried
    with read_session(world.engine) as s:
        assert outbox.alert_stats(s).failed == 1
        assert [d.recipient for d in outbox.recent_failures(s)] == [DIRECTOR]


def test_a_4xx_for_one_recipient_is_retried_for_that_recipient_only(world: World):
    world.smtp.handler.rcpt_replies[DIRECTOR] = "451 4.3.0 mailbox busy, try later"
    world.day(D1, connection=0.85)
    world.day(D1 + days(1), connection=0.85)
    assert world.dispatch().transient == 1
    del world.smtp.handler.rcpt_replies[DIRECTOR]
    world.clock.advance(dt.timedelta(minutes=2))
    assert world.dispatch().sent == 1
    assert [m.rcpt_tos for m in world.smtp.messages] == [[OFFICE], [DIRECTOR]]
    assert len({m.message_id for m in world.smtp.messages}) == 1  # the same mail, stable Message-ID
    assert events(world, "firing")[0].outcome == "sent"


def test_transient_failures_give_up_after_retry_for_and_say_so(world: World):
    world.smtp.stop()
    world.day(D1, answer_seconds=9.0)
    for _ in range(40):
        world.dispatch()
        world.clock.advance(dt.timedelta(hours=1))
    [fired] = events(world, "firing")
    assert fired.processed_at is not None and fired.outcome == "expired"
    assert deliveries(world)[-1].outcome == "expired"
    with read_session(world.engine) as s:
        assert outbox.alert_stats(s).failed == 1 and outbox.owed_notifications(s) == []


def test_a_sender_killed_after_its_claim_leaves_the_mail_for_the_restarted_one(world: World):
    world.day(D1, answer_seconds=9.0)
    doomed = world.alerting.dispatcher()
    [due] = doomed.due(world.clock.now())
    assert doomed.claim(due, world.clock.now()) is not None  # ... and the process dies here

    world.restart()
    assert world.dispatch().processed == 0  # the claim is still live: nobody sends twice
    with read_session(world.engine) as s:
        assert outbox.owed_notifications(s)[0].remaining == (OPS,)  # still owed, visibly
    world.clock.advance(dt.timedelta(seconds=601))  # alerts.claim_timeout_seconds
    assert world.dispatch().sent == 1
    world.clock.advance(dt.timedelta(hours=2))
    world.dispatch()
    assert len(world.smtp.to(OPS)) == 1
    [fired] = events(world, "firing")
    assert fired.attempts == 2 and fired.outcome == "sent"


# --- the transaction --------------------------------------------------------------------------------


def test_state_changes_commit_with_the_evaluation_or_not_at_all(world: World, monkeypatch: pytest.MonkeyPatch):
    from hotline_kpi.store.models import EvaluationSnapshotRow

    world.day(D1, answer_seconds=6.0)

    def boom(*args, **kwargs):
        raise RuntimeError("renderer broke")

    monkeypatch.setattr("hotline_kpi.alerts.outbox.render_alert", boom)
    with pytest.raises(RuntimeError):
        world.day(D1 + days(1), answer_seconds=9.0)
    with read_session(world.engine) as s:
        snapshots = s.scalar(select(func.count()).select_from(EvaluationSnapshotRow))
    assert snapshots == 1  # the second evaluation rolled back whole ...
    assert alert(world, "answer_day").state == "inactive"  # ... with its state change
    assert events(world, "firing") == []


def test_resend_queues_a_new_copy_with_a_new_message_id(world: World):
    world.day(D1, answer_seconds=9.0)
    world.dispatch()
    [fired] = events(world, "firing")
    new_id = world.alerting.resend(fired.id)
    world.dispatch()
    first, again = world.smtp.to(OPS)
    assert again.subject == first.subject and again.message_id != first.message_id
    assert again.message["In-Reply-To"] == first.message_id
    assert json.loads(events(world, "resend")[0].figures) == {"resend_of": fired.id} and new_id > fired.id


def test_a_source_that_stops_delivering_fires_its_no_data_rule(engine, tmp_path, catalogues, smtp_server):
    from hotline_kpi.clock import FixedClock
    from tests.alerts.conftest import make_settings

    rules = ("default_recipients: [office@example.org]\nrules:\n"
             "  - {id: quiet_report, condition: no_data, source: daily-report, after_days: 2, severity: critical}\n"
             "  - {id: quiet_log, condition: no_data, source: queue-log, after_days: 2}\n")
    settings = make_settings(tmp_path, engine.url.render_as_string(hide_password=False), smtp_server.port,
                             rules=rules)
    world = World(engine, settings, catalogues, FixedClock(local(2019, 6, 3)), smtp_server)
    world.day(D1)  # a file arrives on 4 June, 08:30
    for day in (5, 6, 7):  # the daily job runs; no new file
        world.clock.set(local(2019, 6, day, 8, 30))
        world.evaluate()
        world.dispatch()
    [mail] = world.smtp.to(OFFICE)
    assert mail.subject == "[12345 KPI][严重] 日报 已 3 天未载入新文件（阈值 2 天）"
    assert "2019-06-04 08:30" in mail.part("plain")  # when the last file came
    assert alert(world, "quiet_log").state == "inactive"  # a source that never delivered stays quiet

    world.day(dt.date(2019, 6, 6))  # a file again, on 7 June
    world.dispatch()
    assert [m.subject for m in world.smtp.to(OFFICE)][1:] == ["[12345 KPI][已恢复] 日报 已恢复载入"]


def test_a_pass_stops_at_an_unreachable_server_and_the_rest_waits_its_turn(world: World):
    world.smtp.stop()
    world.day(D1, answer_seconds=9.0, satisfaction=0.80)  # two rules fire at once
    report = world.dispatch()
    assert (report.processed, report.unreachable) == (1, True)  # not one connect timeout per row
    world.smtp.start()
    assert world.dispatch().processed == 1  # the other one was due all along
    world.clock.advance(dt.timedelta(minutes=2))
    assert world.dispatch().processed == 1  # the first one, after its backoff
    assert len(world.smtp.messages) == 2 and len({m.message_id for m in world.smtp.messages}) == 2


def test_a_message_that_cannot_be_built_is_a_permanent_failure_not_an_endless_claim(world: World):
    from sqlalchemy import update

    from hotline_kpi.store.db import write_session

    world.day(D1, answer_seconds=9.0)
    with write_session(world.engine) as s:  # a header no mail may carry
        s.execute(update(AlertEventRow).values(message_id="<broken\r\nBcc: x@example.org>"))
    assert world.dispatch().permanent == 1
    [fired] = events(world, "firing")
    assert fired.outcome == "failed" and "cannot build the message" in deliveries(world)[0].error
    assert world.smtp.messages == []
