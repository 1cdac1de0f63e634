"""The rules file: the shipped one fits the 2019 targets; bad ones are refused with their place."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline_kpi.alerts.rules import Condition, RulesError, Severity, check_against, load_rules, parse_rules
from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.domain import Window
from hotline_kpi.settings import DEFAULT_SOURCE_PRIORITY
from tests.common import ROOT

SHIPPED = ROOT / "hotline_kpi" / "defaults" / "alerts.yaml"


def test_the_shipped_rules_cover_every_2019_target_and_every_source(catalogues: CatalogueSet):
    config = load_rules(SHIPPED)
    assert check_against(config, catalogues, DEFAULT_SOURCE_PRIORITY) == []
    targeted = {i.id for cat in catalogues for i in cat.quantitative if i.targeted}
    ytd = {r.indicator for r in config.rules if r.window is Window.YEAR_TO_DATE
           and r.condition in (Condition.BREACHED, Condition.BEHIND_PACE)}
    assert ytd == targeted
    assert {r.indicator for r in config.rules if r.condition is Condition.AT_RISK} == targeted
    assert {r.source for r in config.rules if r.condition is Condition.NO_DATA} == set(DEFAULT_SOURCE_PRIORITY)
    # The final verdict of the complete year, per target: at once, critical, mailed once.
    final = [r for r in config.rules if r.condition is Condition.MISSED]
    assert {r.indicator for r in final} == targeted
    assert all(r.for_ == 1 and r.severity is Severity.CRITICAL and r.repeat == "never" for r in final)
    assert config.default_recipients and all(r.repeat == "digest" and r.send_resolved for r in config.rules
                                             if r.condition is not Condition.MISSED)
    conn = config.rule("connection_rate_ytd")
    assert conn is not None and conn.severity is Severity.CRITICAL and conn.for_ == 1
    assert config.rule("requests_accepted_behind_pace").tolerance == 0.05  # type: ignore[union-attr]


def test_defaults_apply_to_every_rule_unless_it_says_otherwise():
    config = parse_rules({
        "default_recipients": ["a@example.org"],
        "defaults": {"for": 3, "severity": "critical", "send_resolved": False},
        "rules": [
            {"id": "x", "indicator": "connection_rate", "window": "day", "condition": "breached"},
            {"id": "y", "indicator": "connection_rate", "window": "day", "condition": "breached", "for": 1,
             "recipients": ["b@example.org"]},
        ],
    })
    x, y = config.rules
    assert (x.for_, x.severity, x.send_resolved) == (3, Severity.CRITICAL, False)
    assert y.for_ == 1 and config.recipients(y) == ("b@example.org",) and config.recipients(x) == ("a@example.org",)


@pytest.mark.parametrize(("rule", "message"), [
    ({"id": "r", "condition": "breached", "window": "day"}, "needs an indicator"),
    ({"id": "r", "condition": "breached", "indicator": "connection_rate"}, "needs a window"),
    ({"id": "r", "condition": "no_data", "source": "daily-report"}, "needs source and after_days"),
    ({"id": "r", "condition": "no_data", "source": "x", "after_days": 2, "indicator": "connection_rate"},
     "has no indicator or window"),
    ({"id": "r", "condition": "at_risk", "indicator": "connection_rate", "window": "day"}, "year end"),
    ({"id": "r", "condition": "missed", "indicator": "connection_rate", "window": "day"}, "year end"),
    ({"id": "r", "condition": "breached", "indicator": "connection_rate", "window": "day", "probability": 0.5},
     "probability applies to at_risk"),
    ({"id": "r", "condition": "at_risk", "indicator": "connection_rate", "probability": 1.5}, "probability"),
    ({"id": "r", "condition": "missed", "indicator": "requests_accepted", "for": 7}, "'for' must be 1"),
    ({"id": "r", "condition": "breached", "indicator": "connection_rate", "window": "day", "tolerance": 0.1},
     "tolerance applies to behind_pace"),
    ({"id": "r", "condition": "breached", "indicator": "connection_rate", "window": "fortnight"}, "window"),
    ({"id": "r", "condition": "breached", "indicator": "connection_rate", "window": "day", "for": 0}, "for"),
    ({"id": "r", "condition": "breached", "indicator": "connection_rate", "window": "day",
      "recipients": ["Boss <boss@example.org>"]}, "not a plain e-mail address"),
    ({"id": "r", "condition": "breached", "indicator": "connection_rate", "window": "day",
      "recipients": ["a@example.org\r\nBcc: evil@example.org"]}, "not a plain e-mail address"),
    ({"id": "r", "condition": "breached", "indicator": "connection_rate", "window": "day", "severity": "page"},
     "severity"),
])
def test_a_bad_rule_is_refused_naming_the_rule_and_field(english, rule: dict, message: str):
    with pytest.raises(RulesError) as info:
        parse_rules({"default_recipients": ["a@example.org"], "rules": [rule]}, "alerts.yaml")
    text = str(info.value)
    assert "alerts.yaml" in text and "rule 'r'" in text and message in text


def test_rules_without_anybody_to_tell_are_refused(english):
    with pytest.raises(RulesError, match="without recipients"):
        parse_rules({"rules": [{"id": "r", "condition": "breached", "indicator": "connection_rate",
                                "window": "day"}]})


def test_duplicate_ids_and_unknown_indicators_are_reported(english, catalogues: CatalogueSet):
    with pytest.raises(RulesError, match="more than once: r"):
        parse_rules({"default_recipients": ["a@example.org"], "rules": [
            {"id": "r", "condition": "no_data", "source": "tickets", "after_days": 1}] * 2})
    config = parse_rules({"default_recipients": ["a@example.org"], "rules": [
        {"id": "a", "condition": "breached", "indicator": "nope", "window": "day"},
        {"id": "b", "condition": "breached", "indicator": "answered_within_15s_rate", "window": "day"},
        {"id": "c", "condition": "behind_pace", "indicator": "connection_rate", "window": "day"},
        {"id": "d", "condition": "no_data", "source": "fax", "after_days": 1},
    ]})
    problems = "\n".join(check_against(config, catalogues, DEFAULT_SOURCE_PRIORITY))
    assert "'a': no catalogue has an indicator 'nope'" in problems
    assert "'b': indicator 'answered_within_15s_rate' has no target" in problems
    assert "'c': behind_pace needs an annual total" in problems
    assert "'d': unknown source 'fax'" in problems


def test_an_unreadable_file_says_so(english, tmp_path: Path):
    with pytest.raises(RulesError, match="file not found"):
        load_rules(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [\n", encoding="utf-8")
    with pytest.raises(RulesError, match="not valid YAML"):
        load_rules(bad)
