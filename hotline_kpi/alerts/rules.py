"""Alert rules: hotline_kpi/defaults/alerts.yaml validated into typed values.

The file holds ``default_recipients``, ``defaults`` (fields every rule takes unless it
says otherwise) and ``rules``. Conditions (docs/alerts.md):

- ``breached``: the indicator misses its target over the window (the scoreboard status);
- ``behind_pace``: an annual total (the volume) is behind its pro-rated target by more
  than ``tolerance`` (a fraction of the pace) over the window;
- ``at_risk``: the probability of missing the target (the projection's
  ``miss_probability``) is at least ``probability`` (default 0.5); projections stored
  without it: ``pace_status`` at_risk or cannot_be_met; evaluated only when the stored
  evaluation carries ``projections``;
- ``no_data``: no file of ``source`` loaded for the hotline for ``after_days`` days;
- ``missed``: the year's final verdict: the evaluation is of 31 December (the year is
  complete) and the year_to_date figure misses the annual target. It fires on that
  evaluation (``for`` must be 1) and holds no more once evaluations move to the next year.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hotline_kpi.domain import Window
from hotline_kpi.files import ConfigFileError, describe_location, read_yaml
from hotline_kpi.i18n import M_, join
from hotline_kpi.settings import check_address
from hotline_kpi.validation import problem, shown_value

_WEBHOOK = re.compile(r"^webhook:[a-z0-9][a-z0-9_-]{0,62}$")


def check_recipient(value: str) -> str:
    """An e-mail address, or ``webhook:<name>`` of a group robot in alerts.webhooks."""
    value = value.strip()
    return value if _WEBHOOK.match(value) else check_address(value)

class Condition(StrEnum):
    BREACHED = "breached"
    BEHIND_PACE = "behind_pace"
    AT_RISK = "at_risk"
    NO_DATA = "no_data"
    MISSED = "missed"


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


class RulesError(ConfigFileError):
    """The rules file is unreadable or invalid; the message names file, rule and field."""

    what = M_("alert rules")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Rule(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    condition: Condition
    #: breached / behind_pace / at_risk: the catalogue indicator id.
    indicator: str | None = None
    #: breached / behind_pace: the window (at_risk is about the year end; no_data has none).
    window: Window | None = None
    #: no_data: the source name (daily-report, queue-log, tickets, callbacks).
    source: str | None = None
    #: no_data: the rule holds once the last file of the source is older than this.
    after_days: float | None = Field(None, gt=0, le=366)
    #: behind_pace: how far behind the pace counts, as a fraction of the pace (0.05 = 5%).
    tolerance: float = Field(0.0, ge=0, lt=1)
    #: at_risk: the probability of missing the target from which the rule holds (0.5:
    #: more likely missed than met).
    probability: float | None = Field(None, gt=0, lt=1)
    #: Consecutive evaluated days (distinct as-of dates) the condition must hold to fire.
    for_: int = Field(1, alias="for", ge=1, le=366)
    severity: Severity = Severity.WARNING
    #: Empty: the file's ``default_recipients``.
    recipients: tuple[str, ...] = ()
    #: While firing: ``digest`` lists it in the daily digest; ``never`` mails it once only.
    repeat: Literal["digest", "never"] = "digest"
    send_resolved: bool = True
    #: Hotline ids the rule applies to; empty: every hotline.
    hotlines: tuple[str, ...] = ()
    #: A sentence shown in the mail (config text: escaped in HTML like all data).
    note: str = ""

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_recipient(a) for a in v)

    @model_validator(mode="after")
    def _fields_fit_the_condition(self) -> "Rule":
        if self.condition is Condition.NO_DATA:
            if not self.source or self.after_days is None:
                raise ValueError(M_("a no_data rule needs source and after_days"))
            if self.indicator or self.window:
                raise ValueError(M_("a no_data rule has no indicator or window"))
        else:
            if not self.indicator:
                raise ValueError(M_("a {condition} rule needs an indicator", condition=self.condition.value))
            if self.source or self.after_days is not None:
                raise ValueError(M_("a {condition} rule has no source or after_days", condition=self.condition.value))
            if self.condition in (Condition.AT_RISK, Condition.MISSED):
                if self.window not in (None, Window.YEAR_TO_DATE):
                    raise ValueError(M_("a {condition} rule is about the year end: leave window out (or year_to_date)",
                                        condition=self.condition.value))
                if self.condition is Condition.MISSED and self.for_ != 1:
                    raise ValueError(M_("a missed rule is the year's final verdict and fires at once: 'for' must be 1, "
                                        "not {value}", value=self.for_))
            elif self.window is None:
                raise ValueError(M_("a {condition} rule needs a window", condition=self.condition.value))
        if self.probability is not None and self.condition is not Condition.AT_RISK:
            raise ValueError(M_("probability applies to at_risk rules only"))
        if self.tolerance and self.condition is not Condition.BEHIND_PACE:
            raise ValueError(M_("tolerance applies to behind_pace rules only"))
        return self

    def applies_to(self, hotline_id: str) -> bool:
        return not self.hotlines or hotline_id in self.hotlines


class AlertsConfig(_Model):
    default_recipients: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    source_path: str = ""

    @field_validator("default_recipients")
    @classmethod
    def _addresses(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_recipient(a) for a in v)

    @model_validator(mode="after")
    def _unique_and_routed(self) -> "AlertsConfig":
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(M_("rule ids appear more than once: {ids}", ids=join(dupes)))
        unrouted = [r.id for r in self.rules if not r.recipients and not self.default_recipients]
        if unrouted:
            raise ValueError(M_("rules without recipients and no default_recipients: {ids}", ids=join(unrouted)))
        return self

    def rule(self, rule_id: str) -> Rule | None:
        for r in self.rules:
            if r.id == rule_id:
                return r
        return None

    def recipients(self, rule: Rule) -> tuple[str, ...]:
        return rule.recipients or self.default_recipients


def parse_rules(data: Any, path: Path | str = "<rules>") -> AlertsConfig:
    """Validate already-parsed YAML; raises :class:`RulesError`."""
    if not isinstance(data, dict):
        raise RulesError(path, [M_("the file must hold a mapping (default_recipients, defaults, rules)")])
    data = dict(data)
    defaults = data.pop("defaults", None) or {}
    if not isinstance(defaults, dict):
        raise RulesError(path, [M_("field 'defaults': expected a mapping")])
    rules = data.get("rules") or []
    if not isinstance(rules, list):
        raise RulesError(path, [M_("field 'rules': expected a list")])
    data["rules"] = [{**defaults, **r} if isinstance(r, dict) else r for r in rules]
    try:
        return AlertsConfig.model_validate({**data, "source_path": str(path)})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = describe_location(tuple(err["loc"]), data, "rules", M_("rule"), M_("rules file"))
            problems.append(M_("{where}: {problem}{value}", where=where, problem=problem(err), value=shown_value(err)))
        raise RulesError(path, problems) from None


def load_rules(path: Path | str) -> AlertsConfig:
    """Load and validate a rules file; raises :class:`RulesError`."""
    path = Path(path)
    data = read_yaml(path, RulesError)
    return parse_rules(data, path)


def check_against(config: AlertsConfig, catalogues: Iterable[Any], sources: Iterable[str] = ()) -> list[str]:
    """Problems of ``config`` against the target catalogues (indicator unknown, not
    targeted, behind_pace on a ratio) and the known source names; empty when it fits."""
    cats = list(catalogues)
    known_sources = set(sources)
    problems: list[str] = []
    for rule in config.rules:
        if rule.condition is Condition.NO_DATA:
            if known_sources and rule.source not in known_sources:
                problems.append(f"rule {rule.id!r}: unknown source {rule.source!r} "
                                f"(known: {', '.join(sorted(known_sources))})")
            continue
        found = [ind for cat in cats for ind in cat.indicators if ind.id == rule.indicator]
        if not found:
            problems.append(f"rule {rule.id!r}: no catalogue has an indicator {rule.indicator!r}")
            continue
        if not all(ind.targeted for ind in found):
            problems.append(f"rule {rule.id!r}: indicator {rule.indicator!r} has no target to miss")
        if rule.condition is Condition.BEHIND_PACE and not all(i.aggregation == "annual_total" for i in found):
            problems.append(f"rule {rule.id!r}: behind_pace needs an annual total (the volume), "
                            f"not {rule.indicator!r}")
    return problems
