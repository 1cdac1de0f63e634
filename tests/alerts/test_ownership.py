"""One owner per alert (docs/alerts.md, "Who sends what").

hotline-kpi mails KPI breaches itself (hotline_kpi/defaults/alerts.yaml, exactly once, Chinese);
Alertmanager sends only the service's own health. The test reads the project's
Prometheus rules and routes every alert rule through config/alertmanager/alertmanager.yml
the way Alertmanager routes (depth-first, the first matching child unless ``continue``,
the parent's receiver when no child matches; matchers anchored like Alertmanager's). No
``amtool`` is installed here (Debian ships it in prometheus-alertmanager, which is not on
this machine), so the routing tree is walked in Python; ``promtool check rules`` runs on
the rules (tests/service/test_prometheus.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import yaml

from hotline_kpi.alerts.rules import Condition, load_rules
from tests.common import ROOT

AM_DIR = ROOT / "config" / "alertmanager"
AM = yaml.safe_load((AM_DIR / "alertmanager.yml").read_text(encoding="utf-8"))
RULE_FILES = sorted((ROOT / "config" / "prometheus" / "rules").glob("*.y*ml"))
#: Families that carry KPI figures or their verdicts: an alert reading one is about a KPI
#: breach, which the service owns.
KPI_FAMILIES = re.compile(r"\bhotline_kpi_(indicator_\w+|volume_\w+|projected_value|projection_\w+|"
                          r"error_budget_\w+|required_value)\b")
INTEGRATIONS = ("email_configs", "webhook_configs", "wechat_configs", "slack_configs", "pagerduty_configs",
                "opsgenie_configs", "pushover_configs", "victorops_configs", "sns_configs", "telegram_configs",
                "webex_configs", "discord_configs", "msteams_configs")


def _alert_rules() -> Iterator[dict[str, Any]]:
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            yield from (r for r in group["rules"] if "alert" in r)


_MATCHER = re.compile(r'^\s*(\w+)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')


def _matches(route: dict[str, Any], labels: dict[str, str]) -> bool:
    for m in route.get("matchers", []):
        name, op, value = _MATCHER.match(m).groups()  # type: ignore[union-attr]
        got = labels.get(name, "")
        hit = re.fullmatch(value, got) is not None if op in ("=~", "!~") else got == value
        if hit != (op in ("=", "=~")):
            return False
    for name, value in (route.get("match") or {}).items():
        if labels.get(name, "") != value:
            return False
    for name, value in (route.get("match_re") or {}).items():
        if re.fullmatch(value, labels.get(name, "")) is None:
            return False
    return True


def route(labels: dict[str, str], node: dict[str, Any] = AM["route"], parent: str | None = None) -> list[str]:
    """The receivers Alertmanager notifies for an alert with ``labels``."""
    receiver = node.get("receiver", parent)
    out: list[str] = []
    for child in node.get("routes", []):
        if _matches(child, labels):
            out += route(labels, child, receiver)
            if not child.get("continue"):
                break
    return out or [receiver]  # type: ignore[list-item]


def _sends(receiver: str) -> bool:
    r = next(r for r in AM["receivers"] if r["name"] == receiver)
    return any(r.get(k) for k in INTEGRATIONS)


def test_every_alert_rule_has_one_owner() -> None:
    kpi, health = [], []
    for rule in _alert_rules():
        labels = {"alertname": rule["alert"], **rule.get("labels", {})}
        receivers = route(labels)
        if KPI_FAMILIES.search(rule["expr"]):
            kpi.append(rule["alert"])
            assert not any(_sends(r) for r in receivers), \
                f"{rule['alert']} is a KPI breach, mailed by hotline-kpi; Alertmanager routes it to {receivers}"
        else:
            health.append(rule["alert"])
            assert any(_sends(r) for r in receivers), \
                f"{rule['alert']} is about the service's health; Alertmanager routes it nowhere ({receivers})"
    assert set(kpi) == {"HotlineKpiIndicatorBreachedYearToDate", "HotlineKpiIndicatorBreachedMonthToDate",
                        "HotlineKpiVolumeBehindPace"}
    assert {"HotlineKpiServiceDown", "HotlineKpiJobFailing", "HotlineKpiDataStale"} <= set(health)


def test_the_service_mails_the_breaches_alertmanager_leaves_out() -> None:
    """The year-to-date and month-to-date breaches and the pace are in hotline_kpi/defaults/alerts.yaml."""
    config = load_rules(ROOT / "hotline_kpi" / "defaults" / "alerts.yaml")
    kinds = {(r.condition, r.window.value if r.window else None) for r in config.rules}
    assert (Condition.BREACHED, "year_to_date") in kinds
    assert (Condition.BEHIND_PACE, "year_to_date") in kinds
    assert any(c is Condition.BREACHED for c, _ in kinds)


def test_the_routing_walk_follows_alertmanager() -> None:
    tree = {"receiver": "root", "routes": [
        {"receiver": "a", "matchers": ['x=~"1|2"'], "continue": True},
        {"receiver": "b", "matchers": ["x!=3"]},
        {"receiver": "c", "matchers": ['y="z"']}]}
    assert route({"x": "1"}, tree) == ["a", "b"]
    assert route({"x": "12"}, tree) == ["b"]  # anchored regex
    assert route({"x": "3", "y": "z"}, tree) == ["c"]
    assert route({"x": "3"}, tree) == ["root"]


def _defined(path: Path) -> set[str]:
    return set(re.findall(r'\{\{-?\s*define\s+"([^"]+)"', path.read_text(encoding="utf-8")))


def test_alertmanager_mail_is_chinese_from_the_rules_annotations() -> None:
    files = [AM_DIR / g for g in AM["templates"]]
    templates = [p for g in AM["templates"] for p in AM_DIR.glob(g)]
    assert templates, files
    defined = set().union(*map(_defined, templates))
    text = "".join(p.read_text(encoding="utf-8") for p in templates)
    for receiver in AM["receivers"]:
        for mail in receiver.get("email_configs", []):
            used = set(re.findall(r'template\s+"([^"]+)"', yaml.safe_dump(mail)))
            assert {"hotline_kpi.subject", "hotline_kpi.text", "hotline_kpi.html"} <= used, mail
            assert used <= defined, f"undefined templates {used - defined}"
    assert "summary_zh" in text and "description_zh" in text and "已恢复" in text
    for rule in _alert_rules():
        ann = rule.get("annotations", {})
        assert re.search(r"[\u4e00-\u9fff]", ann.get("summary_zh", "")), rule["alert"]
        assert re.search(r"[\u4e00-\u9fff]", ann.get("description_zh", "")), rule["alert"]
