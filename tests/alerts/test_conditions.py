"""Conditions against a stored evaluation payload; pure."""

from __future__ import annotations

import datetime as dt

from hotline_kpi.alerts.conditions import observe, observe_rule
from hotline_kpi.alerts.rules import parse_rules
from tests.alerts.conftest import ZONE, local

NOW = local(2019, 6, 10, 8, 30)


def rule(**fields):
    return parse_rules({"default_recipients": ["a@example.org"], "rules": [{"id": "r", **fields}]}).rules[0]


def payload(*results: dict, projections: list[dict] | None = None) -> dict:
    p = {"as_of": "2019-06-09", "data_date": "2019-06-09", "results": list(results)}
    if projections is not None:
        p["projections"] = projections
    return p


def result(ind: str, window: str, status: str, value=0.88, target=0.9, **extra) -> dict:
    return {"id": ind, "window": window, "status": status, "value": value, "target": target, "unit": "ratio",
            "comparator": ">=", **extra}


def test_breached_follows_the_scoreboard_status_and_no_data_is_unknown():
    r = rule(condition="breached", indicator="connection_rate", window="trailing_7d")
    assert observe_rule(r, payload(result("connection_rate", "trailing_7d", "breached")), {}, NOW, ZONE).holds is True
    assert observe_rule(r, payload(result("connection_rate", "trailing_7d", "met")), {}, NOW, ZONE).holds is False
    assert observe_rule(r, payload(result("connection_rate", "trailing_7d", "no_data")), {}, NOW, ZONE).holds is None
    assert observe_rule(r, payload(), {}, NOW, ZONE).holds is None  # the indicator is not in the evaluation
    obs = observe_rule(r, payload(result("connection_rate", "trailing_7d", "breached")), {}, NOW, ZONE)
    assert obs.day == dt.date(2019, 6, 9) and obs.figures["value"] == 0.88 and obs.figures["rule"] == "r"


def test_behind_pace_allows_the_tolerance():
    r = rule(condition="behind_pace", indicator="requests_accepted", window="year_to_date", tolerance=0.05)
    vol = dict(unit="requests", comparator=">=", value=1_900_000, target=2_000_000)

    def holds(shortfall: float) -> bool | None:
        res = result("requests_accepted", "year_to_date", "breached", pace=2_000_000, shortfall=shortfall, **vol)
        return observe_rule(r, payload(res), {}, NOW, ZONE).holds

    assert holds(100_000) is False  # exactly 5% behind: within the tolerance
    assert holds(100_001) is True
    assert holds(0) is False


def test_at_risk_needs_a_projection_and_is_inactive_without_one():
    r = rule(condition="at_risk", indicator="connection_rate")
    ytd = result("connection_rate", "year_to_date", "met", value=0.91)
    assert observe_rule(r, payload(ytd), {}, NOW, ZONE).holds is None  # no projections key yet
    for status, holds in [("at_risk", True), ("cannot_be_met", True), ("on_track", False), ("secured", False),
                          ("insufficient_data", None)]:
        p = payload(ytd, projections=[{"id": "connection_rate", "pace_status": status, "projected_value": 0.89}])
        obs = observe_rule(r, p, {}, NOW, ZONE)
        assert obs.holds is holds, status
    assert obs.figures["projection"]["projected_value"] == 0.89


def test_at_risk_holds_from_its_probability_of_missing_the_target():
    ytd = result("connection_rate", "year_to_date", "met", value=0.91)

    def holds(r, status: str, miss: float) -> bool | None:
        p = payload(ytd, projections=[{"id": "connection_rate", "pace_status": status, "miss_probability": miss}])
        return observe_rule(r, p, {}, NOW, ZONE).holds

    default = rule(condition="at_risk", indicator="connection_rate")  # 0.5: more likely missed than met
    assert (holds(default, "at_risk", 0.62), holds(default, "on_track", 0.5), holds(default, "on_track", 0.31)) == (
        True, True, False)
    cautious = rule(condition="at_risk", indicator="connection_rate", probability=0.2)
    assert holds(cautious, "on_track", 0.31) is True and holds(cautious, "on_track", 0.19) is False
    # Decided outlooks: lost is certain, secured is safe; too little data stays unknown.
    assert (holds(cautious, "cannot_be_met", 1.0), holds(cautious, "secured", 0.0)) == (True, False)
    assert holds(cautious, "insufficient_data", 0.9) is None


def test_no_data_counts_days_since_the_last_file_and_ignores_sources_that_never_delivered():
    r = rule(condition="no_data", source="daily-report", after_days=2)
    p = payload()
    loads = {"daily-report": NOW - dt.timedelta(days=2, minutes=1)}
    obs = observe_rule(r, p, loads, NOW, ZONE)
    assert obs.holds is True and obs.figures["days_since"] == 2.0 and obs.day == dt.date(2019, 6, 10)
    assert observe_rule(r, p, {"daily-report": NOW - dt.timedelta(days=1)}, NOW, ZONE).holds is False
    assert observe_rule(r, p, {"tickets": NOW - dt.timedelta(days=9)}, NOW, ZONE).holds is None


def test_rules_can_be_limited_to_some_hotlines():
    config = parse_rules({"default_recipients": ["a@example.org"], "rules": [
        {"id": "all", "condition": "no_data", "source": "tickets", "after_days": 1},
        {"id": "only_hz", "condition": "no_data", "source": "tickets", "after_days": 1, "hotlines": ["hangzhou"]},
    ]})
    assert [o.rule_id for o in observe(config, "shanghai-12345", payload(), {}, NOW, ZONE)] == ["all"]
