"""Two senders on one PostgreSQL database: every mail goes out once.

Two dispatchers, each with its own engine (its own connections, as two processes would
have) and holder id, start together and race over the same owed rows. The conditional
UPDATE of the claim decides; the SMTP server counts what it got.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hotline_kpi.alerts.dispatch import PassReport
from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import FixedClock
from hotline_kpi.store.db import make_engine, read_session
from hotline_kpi.store.models import AlertDeliveryRow, AlertEventRow
from tests.alerts.conftest import SmtpServer, World, local, make_settings

INDICATORS = ("connection_rate", "average_answer_seconds", "satisfaction_rate", "first_contact_resolution_rate")
WINDOWS = ("day", "trailing_7d", "trailing_30d", "month_to_date", "year_to_date")
RECIPIENTS = ("a@example.org", "b@example.org")

MANY_RULES = "default_recipients: [{}]\nrules:\n".format(", ".join(RECIPIENTS)) + "".join(
    f"  - {{id: {ind}_{win}, indicator: {ind}, window: {win}, condition: breached}}\n"
    for ind in INDICATORS for win in WINDOWS
)


@pytest.mark.postgres
@pytest.mark.parametrize("round_", range(3))
def test_two_senders_on_one_postgresql_database_send_every_mail_once(
        round_: int, pg_url: str, tmp_path: Path, catalogues: CatalogueSet, smtp_server: SmtpServer):
    settings = make_settings(tmp_path, pg_url, smtp_server.port, rules=MANY_RULES)
    engine = make_engine(pg_url)
    world = World(engine, settings, catalogues, FixedClock(local(2019, 6, 3)), smtp_server)
    world.day(dt.date(2019, 6, 3), connection=0.80, answer_seconds=12.0, satisfaction=0.70, fcr=0.30)
    with read_session(engine) as s:
        owed = s.scalar(select(func.count()).select_from(AlertEventRow).where(AlertEventRow.processed_at.is_(None)))
    assert owed == len(INDICATORS) * len(WINDOWS) == 20

    engines = [make_engine(pg_url), make_engine(pg_url)]
    senders = [world.build(engine=e, holder=f"sender-{i}").dispatcher() for i, e in enumerate(engines)]
    start = threading.Barrier(len(senders))
    reports: list[PassReport] = [PassReport() for _ in senders]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait(timeout=30)
            while senders[i].step(reports[i]):
                pass
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(senders))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)

    received = smtp_server.messages
    per_id = Counter(m.message_id for m in received)
    assert len(per_id) == 20 and set(per_id.values()) == {1}  # every mail, once
    assert sorted(r for m in received for r in m.rcpt_tos) == sorted(RECIPIENTS * 20)
    assert sum(r.processed for r in reports) == 20
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(AlertEventRow).where(
            AlertEventRow.notify.is_(True), AlertEventRow.processed_at.is_(None))) == 0
        assert s.scalar(select(func.count()).select_from(AlertDeliveryRow)) == 40
    for e in [*engines, engine]:
        e.dispose()


def test_of_two_senders_that_saw_the_same_row_only_one_claims_it(world: World):
    world.day(dt.date(2019, 6, 3), answer_seconds=9.0)
    first, second = world.build(holder="first").dispatcher(), world.build(holder="second").dispatcher()
    now = world.clock.now()
    assert first.due(now) == second.due(now) != []
    [row] = first.due(now)
    assert first.claim(row, now) is not None
    assert second.claim(row, now) is None  # row count 0: the other one has it
    assert second.step(report := PassReport()) is False and report.lost_claims == 0  # no longer listed as due
    assert world.smtp.messages == []


@pytest.mark.postgres
def test_two_evaluations_at_once_write_one_transition(pg_url: str, tmp_path: Path, catalogues: CatalogueSet,
                                                      smtp_server: SmtpServer):
    from hotline_kpi.service.jobs import evaluate_hotlines
    from tests.alerts.conftest import load_days, rates

    settings = make_settings(tmp_path, pg_url, smtp_server.port)
    engine = make_engine(pg_url)
    world = World(engine, settings, catalogues, FixedClock(local(2019, 6, 4, 8, 30)), smtp_server)
    load_days(engine, catalogues, world.clock.now(), {dt.date(2019, 6, 3): rates(answer_seconds=9.0)})
    engines = [make_engine(pg_url) for _ in range(4)]
    start = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def run(e) -> None:  # noqa: ANN001
        try:
            alerting = world.build(engine=e)
            start.wait(timeout=30)
            evaluate_hotlines(e, settings, catalogues, world.clock, "ingest", alerting=alerting)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with read_session(engine) as s:
        kinds = list(s.scalars(select(AlertEventRow.kind).order_by(AlertEventRow.id)))
    assert kinds == ["firing"]  # four evaluations, one state change
    world.dispatch()
    assert len(smtp_server.messages) == 1
    for e in [*engines, engine]:
        e.dispose()
