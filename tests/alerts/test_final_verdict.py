"""The year's final verdict: a complete year loaded at once fires a critical alert for every
annual target missed on that very evaluation (the shipped rules, hotline_kpi/defaults/alerts.yaml), and
mails it once. Store, evaluation, outbox and a real SMTP server on loopback; runs on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from hotline_kpi.alerts.conditions import observe_rule
from hotline_kpi.alerts.rules import parse_rules
from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import FixedClock
from hotline_kpi.store.db import read_session
from hotline_kpi.store.models import AlertRow
from tests.alerts.conftest import SmtpServer, World, load_days, local, make_settings, rates
from tests.common import ROOT, ZONE

SHIPPED = (ROOT / "hotline_kpi" / "defaults" / "alerts.yaml").read_text(encoding="utf-8")
OFFICE = "kpi-office@example.org"  # the shipped file's default recipient


def states(world: World) -> dict[str, str]:
    with read_session(world.engine) as s:
        return {a.rule_id: a.state for a in s.scalars(select(AlertRow))}


def test_a_complete_year_loaded_at_once_fires_every_missed_target_on_that_evaluation(
        engine, tmp_path: Path, catalogues: CatalogueSet, smtp_server: SmtpServer):
    settings = make_settings(tmp_path, engine.url.render_as_string(hide_password=False), smtp_server.port,
                             rules=SHIPPED)
    world = World(engine, settings, catalogues, FixedClock(local(2020, 1, 6, 8, 30)), smtp_server)
    # 2019 whole, in one file: 10,000 requests a day (3,650,000 < 4,000,000) and a
    # satisfaction of 88% (< 90%); every other target met.
    year = [dt.date(2019, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    load_days(engine, catalogues, world.clock.now(), {d: rates(requests=10_000, satisfaction=0.88) for d in year})

    world.evaluate()  # as of 2019-12-31, the last day with data: the final evaluation
    now = states(world)
    assert now["requests_accepted_final"] == "firing" and now["satisfaction_rate_final"] == "firing"
    for ok in ("connection_rate_final", "first_contact_resolution_rate_final", "operator_fault_return_rate_final",
               "average_answer_seconds_final"):
        assert now[ok] == "inactive", ok
    # What the final rule replaces: the pace rule would still be waiting out its week.
    assert now["requests_accepted_behind_pace"] == "pending"

    world.dispatch()
    subjects = [m.subject for m in smtp_server.to(OFFICE)]
    finals = [s for s in subjects if "全年最终结果" in s]
    assert sorted(finals) == sorted([
        "[12345 KPI][严重] 全年12345热线平台受理量 全年最终结果 3,650,000 低于目标 4,000,000",
        "[12345 KPI][严重] 12345热线回访市民满意度 全年最终结果 88.00% 低于目标 90%",
    ]), subjects
    volume = next(m for m in smtp_server.to(OFFICE) if "受理量 全年最终结果" in m.subject)
    assert "全年结果：12345热线平台受理量未达到400万个。" in volume.part("plain")

    # Evaluated again the next morning (still as of 31 December): nothing mailed twice.
    sent = len(smtp_server.messages)
    world.clock.set(local(2020, 1, 7, 8, 30))
    world.evaluate()
    world.dispatch()
    assert [m.subject for m in smtp_server.messages[sent:] if "全年最终结果" in m.subject] == []


def test_missed_holds_only_on_31_december():
    config = parse_rules({"default_recipients": ["a@example.org"], "rules": [
        {"id": "v", "indicator": "requests_accepted", "condition": "missed"}]})
    rule = config.rules[0]

    def payload(as_of: str, status: str) -> dict:
        return {"as_of": as_of, "results": [{"id": "requests_accepted", "window": "year_to_date",
                                             "status": status, "value": 3.9e6, "target": 4e6}]}

    now = dt.datetime(2020, 1, 2, tzinfo=ZONE)
    assert observe_rule(rule, payload("2019-12-31", "breached"), {}, now, ZONE).holds is True
    assert observe_rule(rule, payload("2019-12-31", "met"), {}, now, ZONE).holds is False
    # Any other day: the year is not over, or (the next year's evaluations) a new one has
    # begun; the shipped rules then go quiet without a "resolved" mail (send_resolved: false).
    assert observe_rule(rule, payload("2019-12-30", "breached"), {}, now, ZONE).holds is False
    assert observe_rule(rule, payload("2020-01-08", "breached"), {}, now, ZONE).holds is False
    assert observe_rule(rule, payload("2019-12-31", "no_data"), {}, now, ZONE).holds is None
