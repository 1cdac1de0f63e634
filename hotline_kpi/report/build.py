"""The self-evaluation table: catalogue + the year's daily rows + spending + the office's
inputs + a benchmark -> a :class:`Report` every writer renders. Pure (no session, clock
or settings object); :func:`load_report` is the store edge.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from hotline_kpi.catalogue import Catalogue, Indicator
from hotline_kpi.domain import DailyCounters, days_in_year
from hotline_kpi.aggregate import aggregate_rows
from hotline_kpi.budget import Execution, execution_of
from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.report.analysis import draft_deviation, prose, zh_value
from hotline_kpi.report.funding import NOT_SPLIT, FundingError, FundingRow, check_funding, funding_rows  # noqa: F401
from hotline_kpi.report.inputs import (  # noqa: F401 - re-exported: the report's inputs
    Benchmark,
    BenchmarkError,
    IndicatorInput,
    InputsError,
    RankingInput,
    ReportInputs,
    load_benchmark,
    VOLUME_UNITS,
    is_volume,
)
from hotline_kpi.i18n import _
from hotline_kpi.scoring_rules import ScoringError
from hotline_kpi.report.scoring import (
    ScoringRules,
    Scored,
    Total,
    budget_execution_score,
    qualitative_score,
    quantitative_score,
    total_score,
)

WAN = 10_000


#: The 影响力目标 row: scored from the national ranking the office enters.
RANKING_ID = "national_ranking"


# --------------------------------------------------------------------------- the report


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
    #: Qualitative: the evidence the office's rating rests on; ``rated`` False: no
    #: rating (or no evidence), the row scored nothing and the report is a draft.
    evidence: str = ""
    rated: bool = True


@dataclass(frozen=True)
class PeerRow:
    label: str
    ours: float | None
    peer: float
    unit: str
    beaten: bool | None  # None: not compared
    published: str
    #: How the peer's definition differs from ours (口径差异).
    difference: str = ""


@dataclass(frozen=True)
class Missing:
    """What the office still has to give before the report is final."""

    indicator: str  # the 三级指标
    what: str


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
    #: Figures of the peer left out of the comparison, with why (label, difference).
    peer_excluded: tuple[tuple[str, str], ...] = ()
    missing: tuple[Missing, ...] = ()
    inputs: ReportInputs = field(default_factory=ReportInputs)
    #: Text the office still has to write: a row that lost points without its 偏差原因 (or
    #: with the system's 【系统分析】 draft only), a section left to the office.
    unwritten: tuple[Missing, ...] = ()

    @property
    def draft(self) -> bool:
        """Anything unrated or unwritten: the report is a 草稿 and ``report --final`` refuses."""
        return bool(self.missing or self.unwritten)

    @property
    def to_do(self) -> tuple[Missing, ...]:
        """Everything that keeps the report a draft, ratings first."""
        return self.missing + self.unwritten

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
    check_funding(catalogue, fund, full_year, initial)
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
        notes.append("未导入支出数据，全年执行数按0计，预算执行率得分为0。")
    funding = funding_rows(fund, initial, full_year, executed, weight_b, rate, b_score, notes)

    peers, excluded = _peers(catalogue, formulas, rows, benchmark, start, end)

    # --- indicator rows
    out_rows: list[IndicatorRow] = []
    missing: list[Missing] = []
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
            out_rows.append(IndicatorRow(ind, target_text, actual, zh_value(actual, ind.unit, target_text), ind.weight, score, met,
                                         explanation, not given.explanation and bool(draft), monthly))
        else:
            row, lack = _qualitative_row(ind, given, inputs, rules)
            out_rows.append(row)
            score = row.score
            if lack:
                missing.append(Missing(ind.display_name_zh, lack))
        scored.append(Scored(ind.id, ind.weight, score))
    total = total_score(scored, rules)
    out_rows, unwritten = _reasons_owed(out_rows, inputs, catalogue)
    data_days = len({r.day for r in rows})
    if data_days < days_in_year(year):
        notes.append(f"全年 {days_in_year(year)} 天中 {data_days} 天有数据。")
    return Report(
        catalogue=catalogue, year=year, funding=funding, execution=execution, budget_score=b_score,
        budget_weight=weight_b, overall_goal=prose((project.annual_goal or project.goal) if project else ""),
        overall_actual=inputs.overall_actual or default_overall_actual(out_rows, execution, year),
        rows=tuple(out_rows), total=total, peers=tuple(peers),
        peer_name=benchmark.peer if benchmark else "", peer_source=benchmark.source if benchmark else "",
        not_published=benchmark.not_published if benchmark else (), rules=rules, formulas=formulas,
        data_days=data_days, notes=tuple(notes), peer_excluded=tuple(excluded), missing=tuple(missing),
        inputs=inputs, unwritten=tuple(unwritten),
    )


def _peers(catalogue: Catalogue, formulas: FormulaSettings, rows: tuple[DailyCounters, ...],
           benchmark: Benchmark | None, start: dt.date, end: dt.date
           ) -> tuple[list[PeerRow], list[tuple[str, str]]]:
    """Only comparably defined indicators are compared; volumes never are (how much is not
    how well). The rest is listed with the definition difference that keeps it out."""
    peers: list[PeerRow] = []
    excluded: list[tuple[str, str]] = []
    if benchmark is None:
        return peers, excluded
    for fig in benchmark.figures:
        ind = catalogue.indicator(fig.indicator) if fig.indicator else None
        unit = fig.unit or (ind.unit if ind else "")
        if not fig.comparable or is_volume(unit) or ind is None:
            excluded.append((fig.label, fig.difference))
            continue
        ours = _value(ind, formulas, rows, start, end)
        hib = fig.higher_is_better
        if hib is None and ind.comparator is not None:
            hib = ind.comparator.higher_is_better
        beaten = None if ours is None or hib is None else (ours > fig.value if hib else ours < fig.value)
        peers.append(PeerRow(fig.label, ours, fig.value, unit, beaten, fig.published, fig.difference))
    return peers, excluded


def _qualitative_row(ind: Indicator, given: IndicatorInput, inputs: ReportInputs, rules: ScoringRules
                     ) -> tuple[IndicatorRow, str]:
    """A qualitative row scored only from the office's rating with its evidence (the
    ranking for the 影响力目标 row); unrated it scores 0 and says what is missing."""
    target_text = ind.target_text or ""
    if ind.id == RANKING_ID:
        rk = inputs.ranking
        if rk.rank is None or not rk.source.strip():
            lack = "未填写全国排名名次" if rk.rank is None else "未填写排名来源"
            return IndicatorRow(ind, target_text, None, "未填写排名", ind.weight, 0.0, None,
                                f"【待办公室填写】{lack}，本项暂计0分。", False, rated=False), lack
        band = rules.rank_band(rk.rank)
        score = qualitative_score(ind.weight, band.name, None, rules)
        text = f"全国第{rk.rank}名" + (f"（共{rk.of}条热线）" if rk.of else "")
        if rk.score is not None:
            text += f"，得分{rk.score:g}"
        return IndicatorRow(ind, target_text, None, given.actual_text or text, ind.weight, score, None,
                            given.explanation, False, note=f"{band.name}（{band.label}）" if band.label else band.name,
                            evidence=f"来源：{rk.source.strip()}"), ""
    if given.band is not None:  # a rating that does not exist is refused, with or without evidence
        try:
            band = rules.band(given.band)
        except ScoringError as exc:
            raise ScoringError(_("{key}: {error}", key=f"indicators.{ind.id}.band", error=str(exc))) from None
    if given.band is None or not given.evidence.strip():
        lack = "未评级" if given.band is None else "已评级但未填写佐证材料"
        return IndicatorRow(ind, target_text, None, "未评级", ind.weight, 0.0, None,
                            f"【待办公室评级】{lack}，本项暂计0分。", False, rated=False), lack
    try:
        score = qualitative_score(ind.weight, band.name, given.percent, rules)
    except ScoringError as exc:
        raise ScoringError(_("{key}: {error}", key=f"indicators.{ind.id}.percent", error=str(exc))) from None
    note = band.name + (f"（{band.label}）" if band.label else "") + (f" {given.percent:g}%" if given.percent is not None else "")
    return IndicatorRow(ind, target_text, None, given.actual_text or band.label or band.name, ind.weight, score, None,
                        given.explanation, False, note=note, evidence=given.evidence.strip()), ""


#: What a row's 偏差原因 cell says while the office has not written it.
OWED = "【待办公室填写】{what}，扣{lost}分：请填写偏差原因分析及改进措施。"


#: The mark after a 三级指标 reproduced verbatim from the seed's table though it reads wrong
#: (its 回民 for 回访): the indicator has a display name of its own (``name_zh``).
SIC_MARK = "※"


def level3_cell(ind: Indicator) -> str:
    """The 三级指标 cell of the reproduced table: the seed's text, marked when it reads wrong."""
    return ind.level3 + SIC_MARK if ind.name_zh and ind.name_zh != ind.level3 else ind.level3


def sic_notes(indicators: Iterable[Indicator]) -> list[str]:
    """The footnote under a table that shows :func:`level3_cell`: 原文如此, and the name the
    report uses everywhere else (the verbatim text is not repeated)."""
    return [f"{SIC_MARK}原文如此：三级指标照录原表，本报告其余各处称“{i.name_zh}”。"
            for i in indicators if i.name_zh and i.name_zh != i.level3]


def lost_points(row: IndicatorRow) -> bool:
    return row.score is not None and row.score < row.weight


def _reasons_owed(rows: list[IndicatorRow], inputs: ReportInputs, catalogue: Catalogue
                  ) -> tuple[list[IndicatorRow], list[Missing]]:
    """Every row that lost points needs the office's 偏差原因分析及改进措施: a rated row
    without one gets a placeholder in its cell; the system's 【系统分析】 draft stays but
    does not count as written. Sections left to the office are listed too."""
    out, owed = [], []
    for row in rows:
        if not row.rated or not lost_points(row):
            out.append(row)
            continue
        name = row.indicator.display_name_zh
        if not row.explanation:
            what = (f"评为{row.note.split(' ')[0]}" if row.note else "未达到目标")
            row = replace(row, explanation=OWED.format(what=what, lost=f"{row.weight - row.score:.2f}"))
            owed.append(Missing(name, "失分，未填写偏差原因分析及改进措施"))
        elif row.drafted:
            owed.append(Missing(name, "偏差原因为系统草拟，未填写办公室的分析及改进措施"))
        out.append(row)
    project = catalogue.project
    if not (project and project.basis):
        owed.append(Missing("立项依据", "目标库未列立项依据"))
    if not (project and (project.goal or project.content)):
        owed.append(Missing("项目内容", "目标库未写项目内容"))
    if not inputs.problems_next_steps.strip():
        owed.append(Missing("存在问题及下一步工作", "未填写"))
    if not inputs.result_use.strip():
        owed.append(Missing("自评结果应用", "未填写"))
    return out, owed


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
    """The office's input file, empty: nothing is rated or written for the office."""
    inds: dict[str, Any] = {}
    for r in report.rows:
        entry: dict[str, Any] = {"applicable": True}
        if r.indicator.kind == "qualitative" and r.indicator.id != RANKING_ID:
            entry.update(band=None, percent=None, evidence="", actual_text="")
        entry["explanation"] = ""
        inds[r.indicator.id] = entry
    return {
        "hotline": report.catalogue.hotline.id,
        "year": report.year,
        "overall_actual": "",
        "funding": {"initial_budget_yuan": None, "full_year_budget_yuan": None, "carried_over_yuan": 0,
                    "other_yuan": 0},
        "ranking": {"rank": None, "of": None, "score": None, "source": ""},
        "self_evaluation_work": "",
        "problems_next_steps": "",
        "result_use": "",
        "indicators": inds,
    }
