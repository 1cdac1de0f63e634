"""Alerts inside the service: jobs, the evaluation hook, and the metrics."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from hotline_kpi import defaults
from hotline_kpi.alerts.rules import RulesError
from hotline_kpi.alerts.alerting import ALERTS_DIGEST, ALERTS_DISPATCH
from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.service.exporter import MetricsCache
from hotline_kpi.service.jobs import EVALUATE_DAILY
from hotline_kpi.service.runtime import Service
from hotline_kpi.settings import Settings
from tests.alerts.conftest import OPS, World, load_days, local, rates
from tests.common import TARGETS


def test_the_service_judges_alerts_when_it_evaluates_and_schedules_delivery(world: World):
    service = Service(world.settings, world.catalogues, world.engine, world.clock, holder="leader-1")
    jobs = {j.id: j for j in service.jobs()}
    assert {EVALUATE_DAILY, ALERTS_DISPATCH, ALERTS_DIGEST} <= set(jobs)
    assert jobs[ALERTS_DIGEST].catch_up and not jobs[ALERTS_DISPATCH].catch_up
    assert str(jobs[ALERTS_DIGEST].trigger).startswith("cron[hour='9', minute='0'")

    world.clock.set(local(2019, 6, 4, 8, 30))
    load_days(world.engine, world.catalogues, world.clock.now(), {dt.date(2019, 6, 3): rates(answer_seconds=9.0)})
    service.evaluate("schedule")
    assert service.run_job(jobs[ALERTS_DISPATCH]) is True
    assert len(world.smtp.to(OPS)) == 1
    assert service.alerting is not None and service.alerting.holder == "leader-1"


def test_the_shipped_rules_load_from_any_folder_and_a_named_file_must_exist(english, 
        tmp_path: Path, catalogues: CatalogueSet, sqlite_engine, clock, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # an empty folder: the default rules come from the package
    base = dict(database_url="sqlite://", var_dir=tmp_path / "var", targets_dir=TARGETS, _env_file=None)
    service = Service(Settings(**base), catalogues, sqlite_engine, clock)
    assert service.alerting is not None
    assert "connection_rate_ytd" in {r.id for r in service.alerting.config.rules}
    with pytest.raises(RulesError, match="file not found"):
        Service(Settings(**base, alerts={"rules_file": tmp_path / "missing.yaml"}), catalogues, sqlite_engine, clock)
    bad = tmp_path / "bad.yaml"
    bad.write_text("default_recipients: [a@example.org]\nrules:\n"
                   "  - {id: x, indicator: no_such, window: day, condition: breached}\n", encoding="utf-8")
    with pytest.raises(RulesError, match="no catalogue has an indicator 'no_such'"):
        Service(Settings(**base, alerts={"rules_file": bad}), catalogues, sqlite_engine, clock)


def test_without_an_smtp_host_states_are_kept_and_mail_waits(world: World):
    settings = world.settings.model_copy(update={"smtp": world.settings.smtp.model_copy(update={"host": ""})})
    service = Service(settings, world.catalogues, world.engine, world.clock)
    assert service.alerting is not None and service.alerting.transport is None
    assert ALERTS_DISPATCH not in {j.id for j in service.jobs()}
    world.clock.set(local(2019, 6, 4, 8, 30))
    load_days(world.engine, world.catalogues, world.clock.now(), {dt.date(2019, 6, 3): rates(answer_seconds=9.0)})
    service.evaluate("schedule")
    m = service.cache.model.alerts
    assert m is not None and m.by_state[("firing", "warning")] == 1 and m.owed == 1


def test_alert_metrics_follow_states_deliveries_and_the_oldest_undelivered_mail(world: World):
    cache = MetricsCache(world.engine, {"shanghai-12345": "Asia/Shanghai"}, world.clock.now)
    world.smtp.stop()
    world.day(dt.date(2019, 6, 3), answer_seconds=9.0, connection=0.85)
    world.dispatch()
    world.clock.advance(dt.timedelta(minutes=10))
    cache.refresh()
    reg = cache.registry
    assert reg.get_sample_value("hotline_kpi_alerts", {"state": "firing", "severity": "warning"}) == 1
    assert reg.get_sample_value("hotline_kpi_alerts", {"state": "pending", "severity": "critical"}) == 1
    assert reg.get_sample_value("hotline_kpi_alerts", {"state": "firing", "severity": "critical"}) == 0
    assert reg.get_sample_value("hotline_kpi_alert_notifications_undelivered") == 1
    assert reg.get_sample_value("hotline_kpi_alert_oldest_undelivered_age_seconds") == 600
    assert reg.get_sample_value("hotline_kpi_alert_notifications_sent_total") == 0

    world.smtp.handler.rcpt_replies[OPS] = "550 5.1.1 gone"
    world.smtp.start()
    world.dispatch()
    cache.refresh()
    assert reg.get_sample_value("hotline_kpi_alert_notifications_failed_total") == 1
    assert reg.get_sample_value("hotline_kpi_alert_notifications_undelivered") == 0
    assert reg.get_sample_value("hotline_kpi_alert_oldest_undelivered_age_seconds") == 0


def test_the_shipped_rules_leave_out_what_a_catalogue_of_ones_own_lacks_and_a_named_file_stays_strict(
        tmp_path: Path, sqlite_engine, clock, caplog: pytest.LogCaptureFixture):
    # An office's own catalogue that tracks satisfaction without a target: the shipped
    # satisfaction rules have nothing to judge. serve still starts with every other rule.
    text = (TARGETS / "shanghai-12345-2019.yaml").read_text(encoding="utf-8")
    block = text[text.index("  - id: satisfaction_rate"):text.index("  - id: national_ranking")]
    own = tmp_path / "targets"
    own.mkdir()
    (own / "shanghai-12345-2019.yaml").write_text(text.replace(block, (
        "  - id: satisfaction_rate\n    level3: 回访满意度\n    name_en: Callback satisfaction rate\n"
        "    kind: quantitative\n    formula: satisfaction_rate\n    unit: ratio\n    tracked_only: true\n\n")),
        encoding="utf-8")
    catalogues = CatalogueSet.from_dir(own)
    base = dict(database_url="sqlite://", var_dir=tmp_path / "var", targets_dir=own, _env_file=None)
    with caplog.at_level("WARNING"):
        service = Service(Settings(**base), catalogues, sqlite_engine, clock)
    assert service.alerting is not None
    ids = {r.id for r in service.alerting.config.rules}
    assert "connection_rate_ytd" in ids and "requests_accepted_final" in ids
    assert not {i for i in ids if i.startswith("satisfaction")}
    assert "satisfaction_rate_ytd" in caplog.text
    named = tmp_path / "rules.yaml"
    named.write_text((Path(defaults.path(defaults.ALERT_RULES))).read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(RulesError, match="satisfaction_rate' has no target to miss"):
        Service(Settings(**base, alerts={"rules_file": named}), catalogues, sqlite_engine, clock)
