"""The KPI families of the exporter: the figures of the stored snapshots (per hotline,
indicator and window), the year-end projections and the budget execution. Built fresh
from a :class:`~hotline_kpi.service.metrics_model.MetricsModel` at every render."""

from __future__ import annotations

from typing import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric

from hotline_kpi.domain import Status
from hotline_kpi.service.metrics_model import DEFAULT_ZONE, MetricsModel, day_start

#: The windows exported to Prometheus: the day, the month and the year to date (what the
#: dashboards and the rules read). The trailing and quarter windows stay on the status page,
#: in /api/v1/scoreboard and in the history (docs/metrics.md, "What is not exported").
WINDOWS = ("day", "month_to_date", "year_to_date")
#: The windows with a breach flag: the two the targets are judged on (a day is too noisy).
JUDGED_WINDOWS = ("month_to_date", "year_to_date")
#: The one window whose denominators are exported: a province's (or the nation's) rate is
#: the sum of its hotlines' numerators over the sum of their denominators, and a
#: numerator is the value times the denominator (docs/metrics.md, "Roll-ups in PromQL").
ROLLUP_WINDOW = "year_to_date"


def kpi_families(m: MetricsModel) -> Iterable[Metric]:
    """The figures of the stored snapshots: large, rendered only when a snapshot changes.

    Lean (issue #19): no four-way status set (``breached`` 1/0 and an absent series say
    it), no per-window target (it is the annual target for rates and times and the pace
    for the volume), no shortfall (``pace - value``); values carry their unit as a label."""
    labels = ["hotline", "indicator", "window"]
    value = GaugeMetricFamily("hotline_kpi_indicator_value",
                              "Indicator value over the window, in the unit of label unit (ratio 0-1, seconds, "
                              "requests); absent when no data.", labels=[*labels, "unit"])
    annual = GaugeMetricFamily("hotline_kpi_indicator_annual_target",
                               "The annual target of the indicator (rates and times: the target of every window).",
                               labels=["hotline", "indicator", "unit"])
    breached = GaugeMetricFamily("hotline_kpi_indicator_breached",
                                 "1 if the indicator misses its target over the window, 0 if it meets it; "
                                 "absent without data or target.", labels=labels)
    pace = GaugeMetricFamily("hotline_kpi_volume_pace_requests",
                             "Pro-rated annual volume target up to the as-of date, over the window (the volume's "
                             "target for the window).", labels=labels)
    data_date = GaugeMetricFamily("hotline_kpi_data_date_timestamp_seconds",
                                  "Start (local midnight) of the last day with data that the figures describe.",
                                  labels=["hotline"])
    as_of = GaugeMetricFamily("hotline_kpi_as_of_date_timestamp_seconds",
                              "Start (local midnight) of the as-of date of the evaluation.", labels=["hotline"])
    complete = GaugeMetricFamily("hotline_kpi_data_completeness_ratio",
                                 "Days with data over days elapsed in the year to date.", labels=["hotline"])
    evaluated = GaugeMetricFamily("hotline_kpi_last_evaluation_timestamp_seconds",
                                  "When the hotline was last evaluated.", labels=["hotline"])
    denominator = GaugeMetricFamily("hotline_kpi_indicator_denominator",
                                    "Denominator of a rate or a time over the window, year to date only (calls "
                                    "offered, answered, ...; the numerator is the value times it): a roll-up over "
                                    "hotlines is sum(value * denominator) / sum(denominator).", labels=labels)
    info = GaugeMetricFamily("hotline_kpi_hotline_info",
                             "1 per evaluated hotline, with its province (empty when the catalogue gives none) "
                             "and name: join with group_left to roll up by province.",
                             labels=["hotline", "province", "name"])
    annual_seen: set[tuple[str, str]] = set()
    for hid, snap in sorted(m.snapshots.items()):
        doc = snap.doc
        zone = m.zones.get(hid, DEFAULT_ZONE)
        for r in doc.results:
            if r.window not in WINDOWS:
                continue
            lv = [hid, r.id, r.window]
            if r.value is not None:
                value.add_metric([*lv, r.unit or ""], float(r.value))
            if r.annual_target is not None and (hid, r.id) not in annual_seen:
                annual_seen.add((hid, r.id))
                annual.add_metric([hid, r.id, r.unit or ""], float(r.annual_target))
            if r.window in JUDGED_WINDOWS and r.status in (Status.MET, Status.BREACHED):
                breached.add_metric(lv, 1 if r.status is Status.BREACHED else 0)
            if r.pace is not None:
                pace.add_metric(lv, float(r.pace))
            if r.window == ROLLUP_WINDOW and r.denominator is not None and r.value is not None:
                denominator.add_metric(lv, float(r.denominator))
        name, province = m.hotline_info.get(hid, ("", ""))
        info.add_metric([hid, province, name], 1)
        ts = day_start(doc.data_date, zone)
        if ts is not None:
            data_date.add_metric([hid], ts)
        as_of_ts = day_start(doc.as_of, zone)
        if as_of_ts is not None:
            as_of.add_metric([hid], as_of_ts)
        comp = doc.completeness
        if comp.ratio is not None:
            complete.add_metric([hid], float(comp.ratio))
        evaluated.add_metric([hid], snap.evaluated_at.timestamp())
    yield from (value, annual, breached, pace, data_date, as_of, complete, evaluated, denominator, info)
    yield from _projection_families(m)
    yield from _budget_families(m)


def _budget_families(m: MetricsModel) -> Iterable[Metric]:
    """Budget execution of the year up to the as-of month (docs/report.md): totals over the
    budget lines, a fixed number of series whatever the catalogue's lines (each line is in
    /api/v1/scoreboard and in the year-end report)."""
    budget = GaugeMetricFamily("hotline_kpi_budget_yuan", "The year's budget, all budget lines, in yuan.",
                               labels=["hotline"])
    executed = GaugeMetricFamily("hotline_kpi_budget_executed_yuan",
                                 "Spent so far this year (to the as-of month), all budget lines, in yuan.",
                                 labels=["hotline"])
    ratio = GaugeMetricFamily("hotline_kpi_budget_execution_ratio",
                              "Spent so far over the year's budget, all lines.", labels=["hotline"])
    pace = GaugeMetricFamily("hotline_kpi_budget_even_pace_yuan",
                             "What an even spend would have reached by the end of the as-of month, in yuan.",
                             labels=["hotline"])
    cost = GaugeMetricFamily("hotline_kpi_cost_per_request_yuan",
                             "Spent so far over the requests accepted so far, in yuan.", labels=["hotline"])
    for hid, snap in sorted(m.snapshots.items()):
        b = snap.doc.budget
        if b is None:
            continue
        total = b.budget_yuan if b.budget_yuan is not None else sum(line.budget_yuan for line in b.lines)
        spent = b.executed_yuan if b.executed_yuan is not None else sum(line.executed_yuan for line in b.lines)
        budget.add_metric([hid], float(total))
        executed.add_metric([hid], float(spent))
        if b.execution_rate is not None:
            ratio.add_metric([hid], float(b.execution_rate))
        pace.add_metric([hid], float(b.even_pace_yuan))
        if b.cost_per_request_yuan is not None:
            cost.add_metric([hid], float(b.cost_per_request_yuan))
    return (budget, executed, ratio, pace, cost)


def _projection_families(m: MetricsModel) -> Iterable[Metric]:
    """Year-end outlook per annual target (docs/forecast.md); absent where not projected."""
    labels = ["hotline", "indicator"]
    projected = GaugeMetricFamily("hotline_kpi_projected_value",
                                  "Projected year-end value of the indicator (unit: label unit, as its value).",
                                  labels=[*labels, "unit"])
    interval = GaugeMetricFamily("hotline_kpi_projection_interval",
                                 "Bounds of the projection's interval (its level: 80% by default; unit: label unit).",
                                 labels=[*labels, "bound", "unit"])
    budget = GaugeMetricFamily("hotline_kpi_error_budget_remaining",
                               "Errors the rest of the year can still absorb before the annual target is lost "
                               "(label budget_unit: unanswered_calls, wait_seconds, requests_needed, ...); "
                               "negative = overdrawn.", labels=[*labels, "budget_unit"])
    required = GaugeMetricFamily("hotline_kpi_required_value",
                                 "Value the rest of the year must average to still meet the target (unit: label "
                                 "unit; volume: requests_per_day); absent when secured or lost.",
                                 labels=[*labels, "unit"])
    pace = GaugeMetricFamily("hotline_kpi_projection_status",
                             "1 with the label status of the current year-end outlook (on_track, at_risk, "
                             "cannot_be_met, secured, insufficient_data); the other states are absent.",
                             labels=[*labels, "status"])
    miss = GaugeMetricFamily("hotline_kpi_projection_miss_probability",
                             "Probability that the year ends missing the target (the projection's model).",
                             labels=labels)
    for hid, snap in sorted(m.snapshots.items()):
        for p in snap.doc.projections:
            lv = [hid, p.id]
            if p.projected_value is not None:
                projected.add_metric([*lv, p.unit or ""], float(p.projected_value))
            for bound, x in (("low", p.interval_low), ("high", p.interval_high)):
                if x is not None:
                    interval.add_metric([*lv, bound, p.unit or ""], float(x))
            if p.budget_remaining is not None:
                budget.add_metric([*lv, p.budget_unit], float(p.budget_remaining))
            if p.required_value is not None:
                required.add_metric([*lv, p.required_unit or p.unit or ""], float(p.required_value))
            if p.miss_probability is not None:
                miss.add_metric(lv, float(p.miss_probability))
            if p.pace_status is not None:
                pace.add_metric([*lv, p.pace_status.value], 1)
    # The burn rates (7 and 30 days) are in /api/v1/scoreboard and `hotline-kpi evaluate`, not
    # here: 12 series a hotline mid-year, over the budget of issue #19 (docs/metrics.md).
    return (projected, interval, budget, required, pace, miss)
