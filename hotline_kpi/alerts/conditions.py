"""Whether each rule's condition holds, from a stored evaluation; pure.

The input is the snapshot payload exactly as stored (``scoreboard_to_json`` plus any
keys added later, such as ``projections``), read with :func:`hotline_kpi.snapshot.read`
like the status page and the exporter read it, so alerts judge what they show. Each
observation carries the figures the mail will quote.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from hotline_kpi.alerts.rules import AlertsConfig, Condition, Rule
from hotline_kpi.domain import Status, Window
from hotline_kpi.forecast import PaceStatus
from hotline_kpi.snapshot import read

#: Projection pace statuses that make ``at_risk`` hold; on_track and secured do not;
#: insufficient_data (or no projection at all) leaves it unknown.
AT_RISK_STATUSES = frozenset({PaceStatus.AT_RISK, PaceStatus.CANNOT_BE_MET})
NOT_AT_RISK_STATUSES = frozenset({PaceStatus.ON_TRACK, PaceStatus.SECURED})
#: ``at_risk`` without its own ``probability``: more likely missed than met.
DEFAULT_RISK = 0.5


@dataclass(frozen=True)
class Observation:
    rule_id: str
    #: True / False, or None when it cannot be told (no data for the window, no projection).
    holds: bool | None
    #: The as-of date the observation is about (the day the "for" count counts).
    day: dt.date
    #: JSON-safe figures for the mail and ``alerts list``.
    figures: Mapping[str, Any] = field(default_factory=dict)


def observe_rule(rule: Rule, payload: Mapping[str, Any], last_loaded: Mapping[str, dt.datetime],
                 now: dt.datetime, zone: ZoneInfo) -> Observation:
    """One rule against one hotline's stored evaluation (and, for ``no_data``, the time of
    the last file loaded per source; a source never loaded leaves the rule unknown)."""
    doc = read(payload)
    assert doc.as_of is not None, "an evaluation without its as-of date"
    as_of = doc.as_of
    base = {"rule": rule.id, "condition": rule.condition.value, "as_of": as_of.isoformat(),
            "data_date": None if doc.data_date is None else doc.data_date.isoformat()}
    if rule.condition is Condition.NO_DATA:
        assert rule.source is not None and rule.after_days is not None
        today = now.astimezone(zone).date()
        last = last_loaded.get(rule.source)
        figures = {**base, "source": rule.source, "after_days": rule.after_days,
                   "last_loaded_at": None if last is None else last.isoformat()}
        if last is None:
            return Observation(rule.id, None, today, figures)
        days_since = (now - last).total_seconds() / 86400
        figures["days_since"] = round(days_since, 2)
        return Observation(rule.id, days_since > rule.after_days, today, figures)

    assert rule.indicator is not None
    if rule.condition is Condition.AT_RISK:
        proj = doc.projection(rule.indicator)
        ytd = doc.result(rule.indicator, Window.YEAR_TO_DATE)
        figures = {**base, **(ytd.raw if ytd else {}), "window": Window.YEAR_TO_DATE.value,
                   "projection": None if proj is None else dict(proj.raw)}
        status = None if proj is None else proj.pace_status
        if proj is not None and proj.miss_probability is not None and status in AT_RISK_STATUSES | NOT_AT_RISK_STATUSES:
            limit = DEFAULT_RISK if rule.probability is None else rule.probability
            figures["probability"] = limit
            return Observation(rule.id, proj.miss_probability >= limit, as_of, figures)
        if status in AT_RISK_STATUSES:
            return Observation(rule.id, True, as_of, figures)
        if status in NOT_AT_RISK_STATUSES:
            return Observation(rule.id, False, as_of, figures)
        return Observation(rule.id, None, as_of, figures)

    if rule.condition is Condition.MISSED:
        return _observe_missed(rule, doc, base)

    assert rule.window is not None
    r = doc.result(rule.indicator, rule.window)
    if r is None:
        return Observation(rule.id, None, as_of, {**base, "id": rule.indicator, "window": rule.window.value})
    figures = {**base, **r.raw}
    if rule.condition is Condition.BEHIND_PACE:
        if r.pace is None or r.shortfall is None:
            return Observation(rule.id, None, as_of, figures)
        return Observation(rule.id, r.shortfall > rule.tolerance * r.pace, as_of, figures)
    if r.status is Status.BREACHED:
        return Observation(rule.id, True, as_of, figures)
    if r.status is Status.MET:
        return Observation(rule.id, False, as_of, figures)
    return Observation(rule.id, None, as_of, figures)  # no_data, tracked


def year_complete(as_of: dt.date) -> bool:
    """Whether an evaluation as of ``as_of`` is the year's final one (31 December)."""
    return (as_of.month, as_of.day) == (12, 31)


def _observe_missed(rule: Rule, doc: Any, base: dict[str, Any]) -> Observation:
    """The final verdict: holds on the evaluation of 31 December when the year's figure
    misses the annual target; does not hold on any other day (the year is not over, or a
    new one has begun), so it fires at once on the final evaluation, whatever came before."""
    as_of = doc.as_of
    r = doc.result(rule.indicator, Window.YEAR_TO_DATE)
    figures = {**base, **(r.raw if r else {"id": rule.indicator}), "window": Window.YEAR_TO_DATE.value,
               "final": year_complete(as_of)}
    if not year_complete(as_of):
        return Observation(rule.id, False, as_of, figures)
    if r is None or r.status not in (Status.BREACHED, Status.MET):
        return Observation(rule.id, None, as_of, figures)  # no data for the year: nothing to judge
    return Observation(rule.id, r.status is Status.BREACHED, as_of, figures)


def observe(config: AlertsConfig, hotline_id: str, payload: Mapping[str, Any],
            last_loaded: Mapping[str, dt.datetime], now: dt.datetime, zone: ZoneInfo) -> list[Observation]:
    """Every rule that applies to ``hotline_id``, in file order."""
    return [observe_rule(rule, payload, last_loaded, now, zone)
            for rule in config.rules if rule.applies_to(hotline_id)]
