"""A real ``hotline-kpi serve`` with its SMTP server down for a long time, and in a machine
zone other than the hotline's.

Mail: the SMTP port is closed (nothing listens), the demo year breaches a target, and
the alert mail it owes is retried with capped exponential backoff; the service is
SIGKILLed and restarted while the mail is still owed; then a real SMTP server
(aiosmtpd, tests/alerts/conftest.py) comes up on that port and the mail arrives exactly
once per recipient, and nothing more after. "Hours" cannot be waited for in the suite:
the delays are scaled down through the settings (backoff 1 s doubling to a 1.5 s cap
instead of 30 s to 30 min; retry_for 4 s instead of a day). The backoff over real hours
is tested with a fake clock (the default delays, ten hours down) in
``test_the_default_backoff_over_a_ten_hour_outage_with_a_fake_clock`` below; giving up
after a day of hourly passes in
``tests/alerts/test_delivery.py::test_transient_failures_give_up_after_retry_for_and_say_so``.

Zone: ``TZ`` of the processes is set to a machine zone whose current local date differs
from today's date in Asia/Shanghai (chosen at test time), and once to ``UTC`` exactly
(the container case). "Today", "yesterday", the as-of date of an evaluation, the
daily report's future-date check and the daily job's schedule must all follow Shanghai.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, select

from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import FixedClock
from hotline_kpi.service.jobs import EVALUATE_DAILY
from hotline_kpi.store import migrate
from hotline_kpi.store.db import make_engine, read_session, write_session
from hotline_kpi.store.models import AlertDeliveryRow, AlertEventRow, EvaluationSnapshotRow, JobRunRow
from tests.alerts.conftest import OPS, SmtpServer, World, local, make_settings
from tests.common import TARGETS, UTC, ZONE
from tests.reliability.support import counts, drop, wait_for
from tests.processes import DemoTemplate, ServeProcess, free_port, prepare_demo, run_cli, service_env, start_serve

#: Starts real processes (tests/processes.py): deselected by ``pytest -m 'not system'``.
#: English wording is read here (the Chinese: tests/test_messages.py).
pytestmark = [pytest.mark.system, pytest.mark.usefixtures("english")]


# --- mail --------------------------------------------------------------------------------

OFFICE, DIRECTOR = "office@example.org", "director@example.org"
#: One rule the demo year breaches (average answer time 8.27 s over 2019 against <= 8 s),
#: mailed once to two recipients.
RULES = f"""
default_recipients: [{OFFICE}]
rules:
  - id: answer_ytd
    indicator: average_answer_seconds
    window: year_to_date
    condition: breached
    severity: critical
    recipients: [{OFFICE}, {DIRECTOR}]
    repeat: never
    send_resolved: false
"""
BACKOFF_INITIAL, BACKOFF_MAX = 1.0, 1.5


def _delay(attempt: int) -> dt.timedelta:
    """The delay the settings above promise after the ``attempt``-th failure (dispatch.Backoff)."""
    return dt.timedelta(seconds=min(BACKOFF_INITIAL * 2 ** (attempt - 1), BACKOFF_MAX))


def _mail_env(demo: DemoTemplate, base: Path, smtp_port: int, retry_for: float,
              database_url: str | None = None) -> dict[str, str]:
    rules = base / "alerts.yaml"
    base.mkdir(parents=True, exist_ok=True)
    rules.write_text(RULES, encoding="utf-8")
    extra = {
        "HOTLINE_KPI_SMTP__HOST": "127.0.0.1", "HOTLINE_KPI_SMTP__PORT": str(smtp_port),
        "HOTLINE_KPI_SMTP__SECURITY": "none", "HOTLINE_KPI_SMTP__FROM_ADDRESS": "kpi@hotline.example",
        "HOTLINE_KPI_SMTP__TIMEOUT_SECONDS": "3",
        "HOTLINE_KPI_SMTP__BACKOFF_INITIAL_SECONDS": str(BACKOFF_INITIAL),
        "HOTLINE_KPI_SMTP__BACKOFF_MAX_SECONDS": str(BACKOFF_MAX),
        "HOTLINE_KPI_SMTP__RETRY_FOR_SECONDS": str(retry_for),
        "HOTLINE_KPI_ALERTS__RULES_FILE": str(rules),
        "HOTLINE_KPI_ALERTS__DISPATCH_INTERVAL_SECONDS": "1",
        "HOTLINE_KPI_ALERTS__CLAIM_TIMEOUT_SECONDS": "10",
        "HOTLINE_KPI_SERVICE__LEASE_SECONDS": "3",
        "HOTLINE_KPI_SERVICE__METRICS_REFRESH_SECONDS": "1",
    }
    if database_url is not None:
        extra["HOTLINE_KPI_DATABASE_URL"] = database_url
    return prepare_demo(demo, base, extra)


class Outbox:
    """Reads the alert outbox of the store a serve process writes (its own engine)."""

    def __init__(self, url: str):
        self.engine = make_engine(url)

    def events(self) -> list[dict[str, Any]]:
        with read_session(self.engine) as s:
            return [{"id": e.id, "processed_at": e.processed_at, "outcome": e.outcome, "attempts": e.attempts,
                     "next_attempt_at": e.next_attempt_at, "deliver_by": e.deliver_by,
                     "recipients": json.loads(e.recipients)}
                    for e in s.scalars(select(AlertEventRow).order_by(AlertEventRow.id))]

    def deliveries(self) -> list[dict[str, Any]]:
        with read_session(self.engine) as s:
            return [{"event": d.event_id, "recipient": d.recipient, "attempt": d.attempt, "at": d.at,
                     "outcome": d.outcome, "code": d.code, "error": d.error}
                    for d in s.scalars(select(AlertDeliveryRow).order_by(AlertDeliveryRow.id))]

    def runs(self, job_id: str) -> int:
        with read_session(self.engine) as s:
            row = s.get(JobRunRow, job_id)
            return int(row.runs_total or 0) if row is not None else 0

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def closed_smtp() -> Iterator[SmtpServer]:
    """A loopback port with nothing listening (connections refused) and the real SMTP
    server that will listen on it once ``start()`` is called; stopped at the end."""
    server = SmtpServer(free_port())
    try:
        yield server
    finally:
        server.stop()


def _metrics(served: ServeProcess) -> dict[str, float]:
    status, body = served.get("/metrics")
    assert status == 200, f"/metrics answered {status}"
    return {s.name: s.value for fam in text_string_to_metric_families(body.decode("utf-8"))
            for s in fam.samples if s.name.startswith("hotline_kpi_alert_notifications")}


def _assert_capped_backoff(attempts: dict[int, dt.datetime], event: dict[str, Any]) -> None:
    """Each retry came no sooner than the capped delay after the previous failure, and the
    next attempt is scheduled exactly that delay after the last one."""
    numbers = sorted(attempts)
    assert numbers == list(range(1, len(numbers) + 1)), f"event {event['id']}: attempts {numbers} are not 1..n"
    for k in numbers[:-1]:
        gap = attempts[k + 1] - attempts[k]
        assert gap >= _delay(k), (f"event {event['id']}: attempt {k + 1} came {gap} after attempt {k}, "
                                  f"sooner than the backoff {_delay(k)}")
    last = numbers[-1]
    if event["processed_at"] is None:
        assert event["next_attempt_at"] - attempts[last] == _delay(last), (
            f"event {event['id']}: next attempt {event['next_attempt_at']} is not {_delay(last)} after attempt "
            f"{last} at {attempts[last]}")


def _attempt_times(deliveries: list[dict[str, Any]], event_id: int,
                   outcome: str = "transient") -> dict[int, dt.datetime]:
    """Attempt number -> when it was made, for the deliveries of ``event_id`` with ``outcome``."""
    return {d["attempt"]: d["at"] for d in deliveries if d["event"] == event_id and d["outcome"] == outcome}


def test_mail_owed_while_smtp_is_down_survives_a_sigkill_and_is_delivered_once(
        db_url: str, tmp_path: Path, closed_smtp: SmtpServer, request: pytest.FixtureRequest,
        demo_template: DemoTemplate):
    """SMTP refused for the whole life of a first ``serve`` (retried with backoff capped at
    1.5 s), that serve SIGKILLed with the mail owed, a second serve retrying it in turn, then
    the server up: one message per recipient, recorded as sent, and nothing more after
    further delivery passes. On SQLite and on PostgreSQL."""
    env = _mail_env(demo_template, tmp_path, closed_smtp.port, retry_for=3600, database_url=db_url)
    outbox = Outbox(db_url)
    request.addfinalizer(outbox.close)

    first = start_serve(env, tmp_path, request.addfinalizer)
    wait_for(lambda: bool(outbox.events()), 30, "the breach of the demo year wrote a notification")
    events = outbox.events()
    assert len(events) == 1 and sorted(events[0]["recipients"]) == sorted([OFFICE, DIRECTOR]), events
    event_id = events[0]["id"]
    # Three refused attempts: delays 1 s, then 1.5 s (capped; uncapped it would be 2 s).
    wait_for(lambda: len(_attempt_times(outbox.deliveries(), event_id)) >= 3, 40,
             f"three refused attempts of notification {event_id}\n{first.log()}", every=0.3)
    first.proc.kill()  # SIGKILL: no clean stop, no lease released, a claim may be left behind
    first.proc.wait(timeout=10)
    killed_at = len(_attempt_times(outbox.deliveries(), event_id))
    (ev,) = outbox.events()
    assert ev["processed_at"] is None, f"notification {event_id} settled while SMTP was down: {ev}"
    refused = [d for d in outbox.deliveries() if d["event"] == event_id]
    assert {d["outcome"] for d in refused} == {"transient"} and {d["code"] for d in refused} == {None}, refused
    assert {d["recipient"] for d in refused} == {OFFICE, DIRECTOR}
    assert closed_smtp.messages == []
    assert killed_at >= 3
    _assert_capped_backoff(_attempt_times(outbox.deliveries(), event_id), ev)

    second = start_serve(env, tmp_path, request.addfinalizer)
    wait_for(lambda: len(_attempt_times(outbox.deliveries(), event_id)) >= killed_at + 1, 40,
             f"the restarted serve retries notification {event_id} too\n{second.log()}", every=0.3)
    (ev,) = outbox.events()
    assert ev["processed_at"] is None
    _assert_capped_backoff(_attempt_times(outbox.deliveries(), event_id), ev)
    wait_for(lambda: _metrics(second).get("hotline_kpi_alert_notifications_undelivered") == 1, 15,
             "/metrics shows the undelivered notification")
    assert _metrics(second)["hotline_kpi_alert_notifications_sent_total"] == 0

    closed_smtp.start()
    wait_for(lambda: outbox.events()[0]["processed_at"] is not None, 30,
             f"notification {event_id} delivered once SMTP is up\n{second.log()}", every=0.3)
    (ev,) = outbox.events()
    assert ev["outcome"] == "sent", ev
    sent = [d for d in outbox.deliveries() if d["outcome"] == "sent"]
    assert sorted(d["recipient"] for d in sent) == sorted([OFFICE, DIRECTOR]), sent

    # Nothing more: three further delivery passes of the live service send nothing.
    passes = outbox.runs("alerts_dispatch")
    wait_for(lambda: outbox.runs("alerts_dispatch") >= passes + 3, 30, "three more delivery passes")
    for rcpt in (OFFICE, DIRECTOR):
        got = closed_smtp.to(rcpt)
        assert len(got) == 1, f"{rcpt} received {len(got)} messages: {[m.subject for m in got]}"
    assert sum(len(m.rcpt_tos) for m in closed_smtp.messages) == 2, [m.rcpt_tos for m in closed_smtp.messages]
    assert len({m.message_id for m in closed_smtp.messages}) == 1
    assert len(outbox.events()) == 1 and [d for d in outbox.deliveries() if d["outcome"] == "sent"] == sent
    wait_for(lambda: _metrics(second).get("hotline_kpi_alert_notifications_undelivered") == 0, 15,
             "/metrics shows nothing undelivered")
    m = _metrics(second)
    sent_total = m["hotline_kpi_alert_notifications_sent_total"]
    assert (sent_total, m["hotline_kpi_alert_notifications_failed_total"]) == (2, 0), m
    assert second.stop() == 0


def test_mail_undeliverable_past_retry_for_is_given_up_visibly_and_never_sent_later(
        tmp_path: Path, closed_smtp: SmtpServer, request: pytest.FixtureRequest, demo_template: DemoTemplate):
    """SMTP down for longer than ``retry_for_seconds`` (4 s here, a day by default): the
    recipients are given up (recorded as expired), which shows in the log, in /metrics
    (failed +2, nothing undelivered) and in ``hotline-kpi alerts list``; an SMTP server
    coming up afterwards gets nothing."""
    env = _mail_env(demo_template, tmp_path, closed_smtp.port, retry_for=4)
    url = env["HOTLINE_KPI_DATABASE_URL"]
    outbox = Outbox(url)
    request.addfinalizer(outbox.close)
    served = start_serve(env, tmp_path, request.addfinalizer)
    wait_for(lambda: bool(outbox.events()) and outbox.events()[0]["processed_at"] is not None, 40,
             f"the notification given up\n{served.log()}", every=0.3)
    (ev,) = outbox.events()
    assert ev["outcome"] == "expired", ev
    deliveries = outbox.deliveries()
    expired = [d for d in deliveries if d["outcome"] == "expired"]
    assert sorted(d["recipient"] for d in expired) == sorted([OFFICE, DIRECTOR]), deliveries
    assert all(d["error"].startswith(f"gave up after {ev['attempts']} attempt(s)") for d in expired), expired
    tries = _attempt_times(deliveries, ev["id"])
    assert len(tries) >= 2, f"only {len(tries)} attempt(s) before giving up: {deliveries}"
    _assert_capped_backoff(tries, ev)
    assert max(tries.values()) >= ev["deliver_by"], "gave up before retry_for had passed"
    assert f"notification {ev['id']}: gave up on 2 recipient(s)" in served.log()
    wait_for(lambda: _metrics(served).get("hotline_kpi_alert_notifications_failed_total") == 2, 15,
             "/metrics counts the two recipients given up")
    m = _metrics(served)
    owed, sent_total = m["hotline_kpi_alert_notifications_undelivered"], m["hotline_kpi_alert_notifications_sent_total"]
    assert (owed, sent_total) == (0, 0), m
    listing = run_cli(env, "alerts", "list", cwd=tmp_path).stdout
    assert "no undelivered notifications" in listing and listing.count("expired") >= 2, listing

    closed_smtp.start()  # too late: given up means given up
    passes = outbox.runs("alerts_dispatch")
    wait_for(lambda: outbox.runs("alerts_dispatch") >= passes + 3, 30, "three more delivery passes")
    assert closed_smtp.messages == []
    assert outbox.deliveries() == deliveries
    assert served.stop() == 0


def test_the_default_backoff_over_a_ten_hour_outage_with_a_fake_clock(engine: Engine, tmp_path: Path,
                                                                      catalogues: CatalogueSet):
    """The hours the subprocess tests above cannot wait, in process with a FixedClock and
    the default delays (30 s doubling to a 30 min cap, a day to give up): a real SMTP
    server on loopback is down for ten hours, then up. The attempts come 30 s, 60 s, ...,
    960 s apart, then every 1800 s; the mail is delivered once when the server is back,
    and nothing more is sent over the rest of the day."""
    server = SmtpServer(free_port())  # not started: connections refused
    try:
        settings = make_settings(tmp_path, engine.url.render_as_string(hide_password=False), server.port,
                                 backoff_initial_seconds=30, backoff_max_seconds=1800, retry_for_seconds=86400)
        world = World(engine, settings, catalogues, FixedClock(local(2019, 6, 3, 8, 30)), server)
        world.day(dt.date(2019, 6, 3), answer_seconds=9.0)  # the answer_day rule fires: OPS is owed a mail
        outbox = Outbox(engine.url.render_as_string(hide_password=False))
        try:
            (ev,) = outbox.events()
            down_until = world.clock.now() + dt.timedelta(hours=10)
            tried: list[dt.datetime] = []
            while True:
                (ev,) = outbox.events()
                if ev["next_attempt_at"] > down_until:
                    break
                world.clock.set(ev["next_attempt_at"])
                assert world.dispatch().transient == 1, f"attempt at {world.clock.now()} was not refused"
                tried.append(world.clock.now())
            gaps = [(b - a).total_seconds() for a, b in zip(tried, tried[1:])]
            assert gaps == [min(30 * 2 ** k, 1800) for k in range(len(gaps))], gaps
            assert gaps.count(1800) >= 10, f"the cap was not reached for hours: {gaps}"
            server.start()
            world.clock.set(ev["next_attempt_at"])
            assert world.dispatch().sent == 1
            for _ in range(14):
                world.clock.advance(dt.timedelta(hours=1))
                assert world.dispatch().processed == 0
            assert len(server.to(OPS)) == 1 and len(server.messages) == 1
            (ev,) = outbox.events()
            assert ev["outcome"] == "sent"
        finally:
            outbox.close()
    finally:
        server.stop()


# --- zone --------------------------------------------------------------------------------

HEADER = "日期,受理量,呼入量,接通量,平均接通时长(秒),话务员受理量,一次性解答量,派单量,有责退单量,回访量,满意量"
EVALUATE_AT = dt.time(8, 30)


def _report(*days: dt.date) -> str:
    rows = (f"{d.isoformat()},11000,10000,9300,7.5,9300,5200,4100,180,400,372" for d in days)
    return "\n".join([HEADER, *rows]) + "\n"


def machine_zone_other_than_shanghai(now: dt.datetime) -> str:
    """A machine zone whose local date differs from Shanghai's at ``now``."""
    hour = now.astimezone(ZONE).hour
    return "UTC" if hour < 8 else "Etc/GMT+12" if hour < 20 else "Etc/GMT-14"


def _last(at: dt.time, zone: ZoneInfo, now: dt.datetime) -> dt.datetime:
    """The latest ``at`` (local time in ``zone``) not after ``now``."""
    local = now.astimezone(zone)
    slot = dt.datetime.combine(local.date(), at, tzinfo=zone)
    return slot if slot <= local else dt.datetime.combine(local.date() - dt.timedelta(days=1), at, tzinfo=zone)


def _targets(base: Path, years: set[int]) -> Path:
    """The 2019 catalogue, and one inheriting it for each of ``years``."""
    folder = base / "targets"
    folder.mkdir(parents=True)
    src = TARGETS / "shanghai-12345-2019.yaml"
    (folder / src.name).write_bytes(src.read_bytes())
    for year in years - {2019}:
        (folder / f"shanghai-12345-{year}.yaml").write_text(f"inherits: {src.name}\nyear: {year}\n", encoding="utf-8")
    return folder


def _json_lines(log: str) -> list[dict[str, Any]]:
    """The complete JSON entries of a serve log (the last line may still be being written)."""
    out = []
    for line in log.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _zone_case(base: Path, machine_tz: str, addfinalizer: Callable[[Callable[[], object]], object]) -> dt.date:
    """Everything that says "today" in one machine zone; returns the Shanghai date it ran on."""
    now = dt.datetime.now(UTC)
    sh_today = now.astimezone(ZONE).date()
    yesterday, tomorrow = sh_today - dt.timedelta(days=1), sh_today + dt.timedelta(days=1)
    targets = _targets(base, {sh_today.year - 1, sh_today.year, sh_today.year + 1})
    env = service_env(base, targets_dir=targets, extra={
        "TZ": machine_tz,
        "HOTLINE_KPI_SERVICE__EVALUATE_AT": EVALUATE_AT.strftime("%H:%M"),
        "HOTLINE_KPI_SERVICE__INBOX_SCAN_SECONDS": "1", "HOTLINE_KPI_SERVICE__INBOX_SETTLE_SECONDS": "0",
        "HOTLINE_KPI_SERVICE__METRICS_REFRESH_SECONDS": "1",
    })
    machine = ZoneInfo(machine_tz)
    # The processes really run in the machine zone: Python's own "today" there is the machine's.
    code = "import datetime, time; print(datetime.date.today(), time.strftime('%z'))"
    probe = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30,
                           check=True).stdout.split()
    machine_today = now.astimezone(machine).date()
    assert probe == [machine_today.isoformat(), now.astimezone(machine).strftime("%z")], (machine_tz, probe)

    eng = make_engine(env["HOTLINE_KPI_DATABASE_URL"])
    migrate.upgrade(eng)  # the schema (no date in it): in process, to spare a CLI start
    # The daily job's last scheduled time: 08:30 in Shanghai, not 08:30 on the machine. Its
    # last start is put between the two, so that the catch-up at start-up decides by zone.
    due_sh, due_machine = _last(EVALUATE_AT, ZONE, now), _last(EVALUATE_AT, machine, now)
    assert due_sh != due_machine
    overdue = due_machine < due_sh
    last_started = due_sh + dt.timedelta(minutes=-1 if overdue else 1)
    with write_session(eng) as s:
        s.add(JobRunRow(job_id=EVALUATE_DAILY, last_started_at=last_started.astimezone(UTC), runs_total=1,
                        failures_total=0, last_error=""))
    eng.dispose()

    # The daily report's future-date check, through the CLI: tomorrow in Shanghai is refused,
    # today in Shanghai is taken, whatever the machine's date.
    days = (sh_today - dt.timedelta(days=2), yesterday, sh_today)
    (base / "future.csv").write_text(_report(tomorrow), encoding="utf-8")
    (base / "today.csv").write_text(_report(*days), encoding="utf-8")
    proc = run_cli(env, "ingest", "--source", "daily-report", "today.csv", "future.csv", cwd=base, timeout=120,
                   check=False)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 1, said
    assert tomorrow.isoformat() in said and f"today is {sh_today.isoformat()} in Asia/Shanghai" in said, said
    assert counts(env["HOTLINE_KPI_DATABASE_URL"])["daily_counters"] == len(days), said
    # "yesterday" of an evaluation without --as-of: Shanghai's.
    board = json.loads(run_cli(env, "evaluate", "--format", "json", cwd=base).stdout)
    assert board["as_of"] == yesterday.isoformat(), (board["as_of"], yesterday, machine_today)

    served = start_serve(env, base, addfinalizer, wait_for="/healthz")
    wait_for(lambda: "job evaluate_daily: next run at" in served.log(), 30, "the scheduler's start logged")
    log = _json_lines(served.log())
    (next_run,) = [dt.datetime.fromisoformat(e["msg"].rsplit(" ", 1)[1]) for e in log
                   if e["msg"].startswith("job evaluate_daily: next run at")]
    expected = _last(EVALUATE_AT, ZONE, now) + dt.timedelta(days=1)
    assert next_run == expected and next_run.utcoffset() == dt.timedelta(hours=8) \
        and next_run.time() == EVALUATE_AT, (next_run, expected, machine_tz)
    caught_up = any(e["msg"] == f"job {EVALUATE_DAILY} is overdue: running it now" for e in log)
    assert caught_up is overdue, (f"last start {last_started}, due {due_sh} in Shanghai / {due_machine} on the "
                                  f"machine: catch-up {caught_up}, expected {overdue}")

    # Through the inbox of the running serve: the same check and the same "yesterday".
    inbox = base / "var" / "inbox"
    drop(inbox, "future-日报.csv", _report(tomorrow))
    report = base / "var" / "quarantine" / "future-日报.csv.error.txt"
    wait_for(report.exists, 30, f"the future-dated report quarantined\n{served.log()}")
    text = report.read_text(encoding="utf-8")
    assert tomorrow.isoformat() in text and f"today is {sh_today.isoformat()} in Asia/Shanghai" in text, text
    # One day more than the CLI loaded: a new file, so it loads and is evaluated.
    drop(inbox, "today-日报.csv", _report(sh_today - dt.timedelta(days=3), *days))
    wait_for(lambda: (base / "var" / "archive").exists() and any((base / "var" / "archive").rglob("*today-日报.csv")),
             30, f"today's report loaded and archived\n{served.log()}")

    def snapshots() -> list[tuple[str, dt.date]]:
        eng = make_engine(env["HOTLINE_KPI_DATABASE_URL"])
        try:
            with read_session(eng) as s:
                return sorted((r.trigger, r.as_of) for r in s.scalars(select(EvaluationSnapshotRow)))
        finally:
            eng.dispose()

    # Evaluated after the CLI load and after the inbox load (and at start-up when the
    # catch-up ran), each as of Shanghai's yesterday.
    expected_snapshots = [("ingest", yesterday)] * 2 + ([("schedule", yesterday)] if overdue else [])
    wait_for(lambda: [t for t, _ in snapshots()] == [t for t, _ in expected_snapshots], 30,
             f"the evaluations {expected_snapshots}, got {snapshots()}\n{served.log()}")
    assert snapshots() == expected_snapshots, (snapshots(), machine_tz)
    status, body = served.get("/api/v1/scoreboard/shanghai-12345")
    assert status == 200 and json.loads(body)["as_of"] == yesterday.isoformat(), body[:300]
    assert served.stop() == 0
    return sh_today


@pytest.mark.parametrize("which", ["machine-date-differs", "UTC"])
def test_today_yesterday_and_the_daily_schedule_follow_shanghai_not_the_machine_zone(
        which: str, tmp_path: Path, request: pytest.FixtureRequest):
    """With TZ a zone whose date differs from Shanghai's (picked now: UTC before 08:00 in
    Shanghai, UTC-12 before 20:00, else UTC+14), and with TZ=UTC exactly (the container;
    its date equals Shanghai's from 08:00 on, but its 08:30 never does): the future-date
    check (CLI and inbox) refuses Shanghai's tomorrow and takes Shanghai's today, an
    evaluation without --as-of (CLI and serve) is as of Shanghai's yesterday, the daily
    job's next run is 08:30 +08:00 and its catch-up at start-up follows Shanghai's 08:30.
    Run again once if Shanghai's date changes while the test runs (midnight)."""
    for attempt in range(2):
        now = dt.datetime.now(UTC)
        machine_tz = machine_zone_other_than_shanghai(now) if which == "machine-date-differs" else "UTC"
        if which == "machine-date-differs":
            assert now.astimezone(ZoneInfo(machine_tz)).date() != now.astimezone(ZONE).date()
        ran_on = _zone_case(tmp_path / f"run{attempt}", machine_tz, request.addfinalizer)
        if ran_on == dt.datetime.now(UTC).astimezone(ZONE).date():
            return
    pytest.fail("Shanghai's date changed during both runs")


def test_the_machine_zone_rule_of_the_test_picks_a_date_other_than_shanghais():
    """The zone picked by the test above differs in date from Shanghai at every hour."""
    base = dt.datetime(2024, 2, 28, 16, 0, tzinfo=UTC)  # 00:00 on 29 February in Shanghai
    for minutes in range(0, 24 * 60, 15):
        now = base + dt.timedelta(minutes=minutes)
        zone = ZoneInfo(machine_zone_other_than_shanghai(now))
        assert now.astimezone(zone).date() != now.astimezone(ZONE).date(), now
