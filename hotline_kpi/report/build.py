"""The self-evaluation table: catalogue + the year's daily rows + spending + the office's
inputs + a benchmark -> a :class:`Report` every writer renders. Pure (no session, clock
or settings object); :func:`load_report` is the store edge.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field

from hotline_kpi.catalogue import Catalogue, Indicator
from hotline_kpi.domain import DailyCounters, days_in_year
from hotline_kpi.aggregate import aggregate_rows
from hotline_kpi.budget import Execution, execution_of
from hotline_kpi.formatting import fmt_value
from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.report.analysis import draft_deviation
from hotline_kpi.report.scoring import (
    ScoringError,
    ScoringRules,
    Scored,
    Total,
    budget_execution_score,
    qualitative_score,
    quantitative_score,
    total_score,
)

WAN = 10_000


# --------------------------------------------------------------------------- inputs


class IndicatorInput(BaseModel):
    """What the office says about one indicator."""

    model_config = ConfigDict(extra="forbid")

    applicable: bool = True
    #: Qualitative: the band (A, B, C) and optionally a percentage of the weight in it.
    band: str | None = None
    percent: float | None = None
    #: The 实际完成值 of a qualitative indicator (free text).
    actual_text: str = ""
    #: The office's 偏差原因分析及改进措施; replaces the draft when given.
    explanation: str = ""


class FundingInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: 年初预算数 / 全年预算数 in yuan; default: the catalogue's budget.
    initial_budget_yuan: float | None = None
    full_year_budget_yuan: float | None = None
    #: Of the total: 当年财政拨款 / 上年结转资金 / 其他资金 (default: all 当年财政拨款).
    carried_over_yuan: float = 0
    other_yuan: float = 0


class ReportInputs(BaseModel):
    """The file the office edits (`hotline-kpi report template` writes it)."""

    model_config = ConfigDict(extra="forbid")

    hotline: str = ""
    year: int | None = None
    overall_actual: str = ""
    funding: FundingInput = Field(default_factory=FundingInput)
    indicators: dict[str, IndicatorInput] = Field(default_factory=dict)


class InputsError(ValueError):
    pass


def load_inputs(path: Path) -> ReportInputs:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return ReportInputs.model_validate(data)
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise InputsError(f"{path}: invalid report input file: {exc}") from None


class BenchmarkFigure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    label: str
    value: float
    indicator: str | None = None
    counter: str | None = None
    unit: str = ""
    higher_is_better: bool | None = None
    comparable: bool = True
    published: str = ""


class Benchmark(BaseModel):
    model_config = ConfigDict(extra="forbid")

    peer: str
    peer_short: str = ""
    year: int
    source: str = ""
    figures: tuple[BenchmarkFigure, ...] = ()
    not_published: tuple[str, ...] = ()


def load_benchmark(path: Path) -> Benchmark:
    try:
        return Benchmark.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise InputsError(f"{path}: invalid benchmark file: {exc}") from None


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class FundingRow:
    label: str
    initial_wan: float | None
    full_year_wan: float | None
    executed_wan: float | None
    weight: float | None = None
    rate: float | None = None
    score: float | None = None


@dataclass(frozen=True)
class IndicatorRow:
    indicator: Indicator
    target_text: str
    actual: float | None
    actual_text: str
    weight: float
    score: float | None  # None: not applicable
    met: bool | None
    explanation: str
    drafted: bool
    #: Month -> value (quantitative only).
    monthly: Mapping[int, float | None] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class PeerRow:
    label: str
    ours: float | None
    peer: float
    unit: str
    beaten: bool | None  # None: not compared
    published: str


@dataclass(frozen=True)
class Report:
    catalogue: Catalogue
    year: int
    funding: tuple[FundingRow, ...]
    execution: Execution
    budget_score: float
    budget_weight: float
    overall_goal: str
    overall_actual: str
    rows: tuple[IndicatorRow, ...]
    total: Total
    peers: tuple[PeerRow, ...]
    peer_name: str
    peer_source: str
    not_published: tuple[str, ...]
    rules: ScoringRules
    formulas: FormulaSettings
    data_days: int
    notes: tuple[str, ...] = ()

    @property
    def project_name(self) -> str:
        return self.catalogue.project.name if self.catalogue.project else self.catalogue.hotline.name


def _month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def _value(ind: Indicator, formulas: FormulaSettings, rows: tuple[DailyCounters, ...], start: dt.date,
           end: dt.date) -> float | None:
    f = ind.formula_for(formulas)
    agg = aggregate_rows(rows, f, start, end)
    if agg.days_with_data == 0:
        return None
    if f.kind == "ratio":
        return agg.numerator / agg.denominator if agg.denominator else None
    return float(agg.numerator)


def build_report(
    catalogue: Catalogue,
    formulas: FormulaSettings,
    rows: Iterable[DailyCounters],
    spending: Mapping[tuple[int, str], float],
    inputs: ReportInputs | None = None,
    benchmark: Benchmark | None = None,
    rules: ScoringRules = ScoringRules(),
) -> Report:
    year = catalogue.year
    rows = tuple(r for r in rows if r.day.year == year)
    inputs = inputs or ReportInputs()
    notes: list[str] = []
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)

    # --- funding
    project = catalogue.project
    fund = inputs.funding
    budget_total = project.budget_total_yuan if project and project.budget_total_yuan else 0.0
    full_year = fund.full_year_budget_yuan or budget_total
    initial = fund.initial_budget_yuan or budget_total
    requests = None
    try:
        req_ind = catalogue.indicator("requests_accepted")
        requests = _value(req_ind, formulas, rows, start, end)
    except KeyError:
        pass
    execution = execution_of(catalogue, spending, requests, full_year)
    executed = execution.executed_yuan
    weight_b = catalogue.weights.budget_execution
    b_score = budget_execution_score(executed, full_year, weight_b, rules)
    rate = executed / full_year if full_year else None
    if not spending:
        notes.append("未导入支出数据（--source spending）：全年执行数按0计，预算执行率得分为0。")
    fiscal = full_year - fund.carried_over_yuan - fund.other_yuan
    funding = (
        FundingRow("年度资金总额", initial / WAN, full_year / WAN, executed / WAN, weight_b, rate, b_score),
        FundingRow("其中：当年财政拨款", (initial - fund.carried_over_yuan - fund.other_yuan) / WAN, fiscal / WAN,
                   (executed * fiscal / full_year if full_year else 0) / WAN),
        FundingRow("上年结转资金", fund.carried_over_yuan / WAN, fund.carried_over_yuan / WAN,
                   (executed * fund.carried_over_yuan / full_year if full_year else 0) / WAN),
        FundingRow("其他资金", fund.other_yuan / WAN, fund.other_yuan / WAN,
                   (executed * fund.other_yuan / full_year if full_year else 0) / WAN),
    )

    # --- peers (before rows: the ranking indicator's draft uses them)
    peers: list[PeerRow] = []
    if benchmark is not None:
        for fig in benchmark.figures:
            ours: float | None = None
            unit = fig.unit
            hib = fig.higher_is_better
            if fig.indicator:
                ind = catalogue.indicator(fig.indicator)
                ours = _value(ind, formulas, rows, start, end)
                unit = unit or ind.unit
                if hib is None and ind.comparator is not None:
                    hib = ind.comparator.higher_is_better
            elif fig.counter:
                vals = [r.get(fig.counter) for r in rows]
                known = [v for v in vals if v is not None]
                ours = float(sum(known)) if known else None
            beaten = None
            if fig.comparable and ours is not None and hib is not None:
                beaten = ours > fig.value if hib else ours < fig.value
            peers.append(PeerRow(fig.label, ours if fig.comparable else None, fig.value, unit, beaten, fig.published))

    # --- indicator rows
    out_rows: list[IndicatorRow] = []
    scored: list[Scored] = [Scored("budget_execution", weight_b, b_score)]
    for ind in catalogue.indicators:
        if ind.tracked_only:
            continue
        given = inputs.indicators.get(ind.id, IndicatorInput())
        target_text = ind.target_text or ""
        if not given.applicable:
            out_rows.append(IndicatorRow(ind, target_text, None, "不适用", ind.weight, None, None,
                                         given.explanation or "本年度不适用，不计分，总分按适用指标分值折算为100分。", False))
            scored.append(Scored(ind.id, ind.weight, None))
            continue
        if ind.kind == "quantitative":
            actual = _value(ind, formulas, rows, start, end)
            monthly = {m: _value(ind, formulas, rows, *_month_bounds(year, m)) for m in range(1, 13)}
            assert ind.comparator is not None and ind.threshold is not None
            if actual is None:
                score = None if rules.no_data == "not_applicable" else 0.0
                met = None
            else:
                score = quantitative_score(actual, ind.threshold, ind.comparator, ind.weight, rules)
                met = ind.comparator.holds(actual, ind.threshold)
            draft = "" if met else draft_deviation(ind, formulas, rows, year, actual)
            explanation = given.explanation or draft
            out_rows.append(IndicatorRow(ind, target_text, actual, fmt_value(actual, ind.unit), ind.weight, score, met,
                                         explanation, not given.explanation and bool(draft), monthly))
            scored.append(Scored(ind.id, ind.weight, score))
        else:
            band, percent, suggested = given.band, given.percent, ""
            if band is None:
                band, suggested = suggest_band(ind, execution, peers, rules)
            try:
                score = qualitative_score(ind.weight, band, percent, rules)
            except ScoringError as exc:
                raise InputsError(f"indicator {ind.id}: {exc}") from None
            actual_text = given.actual_text or default_actual_text(ind, execution, peers, benchmark)
            explanation = given.explanation or suggested
            out_rows.append(IndicatorRow(ind, target_text, None, actual_text, ind.weight, score, None,
                                         explanation, bool(suggested) and not given.explanation,
                                         note=f"评级 {band}" + (f" {percent:g}%" if percent is not None else "")))
            scored.append(Scored(ind.id, ind.weight, score))
    total = total_score(scored, rules)
    data_days = len({r.day for r in rows})
    if data_days < days_in_year(year):
        notes.append(f"全年 {days_in_year(year)} 天中 {data_days} 天有数据。")
    return Report(
        catalogue=catalogue, year=year, funding=funding, execution=execution, budget_score=b_score,
        budget_weight=weight_b, overall_goal=(project.annual_goal or project.goal) if project else "",
        overall_actual=inputs.overall_actual or default_overall_actual(out_rows, execution, year),
        rows=tuple(out_rows), total=total, peers=tuple(peers),
        peer_name=benchmark.peer if benchmark else "", peer_source=benchmark.source if benchmark else "",
        not_published=benchmark.not_published if benchmark else (), rules=rules, formulas=formulas,
        data_days=data_days, notes=tuple(notes),
    )


def suggest_band(ind: Indicator, execution: Execution, peers: list[PeerRow], rules: ScoringRules
                 ) -> tuple[str, str]:
    """A band the system suggests when the office gave none, and why (always marked as a draft)."""
    top = rules.qualitative_bands[0].name
    mid = rules.qualitative_bands[min(1, len(rules.qualitative_bands) - 1)].name
    low = rules.qualitative_bands[-1].name
    if ind.id == "cost_control" and execution.rate is not None:
        r = execution.rate
        band = top if 0.9 <= r <= 1.0 else mid if 0.8 <= r <= 1.05 else low
        return band, f"【系统建议评级{band}，待办公室确认】预算执行率{100 * r:.2f}%。"
    if ind.id == "national_ranking":
        compared = [p for p in peers if p.beaten is not None]
        if compared:
            beaten = sum(1 for p in compared if p.beaten)
            band = top if beaten == len(compared) else mid if 2 * beaten >= len(compared) else low
            return band, f"【系统建议评级{band}，待办公室确认】可比指标{len(compared)}项，超过北京{beaten}项。"
    return top, f"【系统建议评级{top}，待办公室确认】"


def default_actual_text(ind: Indicator, execution: Execution, peers: list[PeerRow],
                        benchmark: Benchmark | None) -> str:
    if ind.id == "cost_control":
        parts = []
        if execution.rate is not None:
            parts.append(f"预算执行率{100 * execution.rate:.2f}%")
        if execution.cost_per_request is not None:
            parts.append(f"每件受理成本{execution.cost_per_request:,.2f}元")
        return "，".join(parts) or "—"
    if ind.id == "national_ranking" and peers:
        compared = [p for p in peers if p.beaten is not None]
        beaten = sum(1 for p in compared if p.beaten)
        return f"与{benchmark.peer_short or benchmark.peer if benchmark else '标杆'}可比指标{len(compared)}项，超过{beaten}项"
    return "—"


def default_overall_actual(rows: list[IndicatorRow], execution: Execution, year: int) -> str:
    quant = [r for r in rows if r.indicator.kind == "quantitative" and r.score is not None]
    met = sum(1 for r in quant if r.met)
    text = f"{year}年定量指标{len(quant)}项，达标{met}项"
    missed = [r.indicator.display_name_zh for r in quant if r.met is False]
    if missed:
        text += "，未达标：" + "、".join(missed)
    if execution.rate is not None:
        text += f"；预算执行率{100 * execution.rate:.2f}%"
    return text + "。"


def load_report(session: Any, catalogues: Any, formulas: FormulaSettings, hotline_id: str, year: int,
                inputs: ReportInputs | None, benchmark: Benchmark | None, rules: ScoringRules) -> Report:
    """The store edge: the year's daily rows and spending, then :func:`build_report`."""
    from hotline_kpi.store import sums

    catalogue = catalogues.for_year(hotline_id, year)
    rows = sums.daily_counters(session, hotline_id, dt.date(year, 1, 1), dt.date(year, 12, 31))
    spending = sums.monthly_spending(session, hotline_id, year)
    return build_report(catalogue, formulas, rows, spending, inputs, benchmark, rules)


def template_inputs(report: Report) -> dict[str, Any]:
    """The office's input file, pre-filled with the drafts (written by `report template`)."""
    inds: dict[str, Any] = {}
    for r in report.rows:
        entry: dict[str, Any] = {"applicable": True}
        if r.indicator.kind == "qualitative":
            entry["band"] = r.note.split()[1] if r.note else report.rules.qualitative_bands[0].name
            entry["percent"] = None
            entry["actual_text"] = r.actual_text
        entry["explanation"] = r.explanation if not r.drafted else ""
        inds[r.indicator.id] = entry
    return {
        "hotline": report.catalogue.hotline.id,
        "year": report.year,
        "overall_actual": report.overall_actual,
        "funding": {"initial_budget_yuan": None, "full_year_budget_yuan": None, "carried_over_yuan": 0,
                    "other_yuan": 0},
        "indicators": inds,
    }
