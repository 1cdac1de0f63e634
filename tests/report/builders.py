"""A year of flat daily counters whose scores are computed by hand (tests/report)."""

from __future__ import annotations

import datetime as dt

from hotline_kpi.catalogue import load_catalogue
from hotline_kpi.domain import DailyCounters
from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.report.build import Report, ReportInputs, build_report, load_benchmark
from tests.common import TARGETS

#: Every day of 2019: 10,000 requests (3.65M against 4M: 9.125 -> 9.13 of 10), 95% answered
#: (10), 60% first-contact (10), 5% operator-fault returns (10), 10 s average wait against
#: 8 s (8 / 10 x 10 = 8.00), 92% satisfied (10).
DAY = {"requests_accepted": 10_000, "calls_offered": 10_000, "calls_abandoned_short": 0, "calls_answered": 9_500,
       "calls_answered_within_15s": 9_000, "answer_wait_seconds_sum": 95_000, "first_contact_eligible": 9_500,
       "first_contact_resolved": 5_700, "tickets_dispatched": 4_000, "tickets_returned_operator_fault": 200,
       "survey_responses": 1_000, "survey_satisfied": 920}
LINES = {"basic_operation": 19_030_000, "platform": 9_480_000, "agent_staffing": 95_890_000, "taxes": 8_940_000}
BENCHMARK = TARGETS.parent / "benchmarks" / "beijing-12345-2019.yaml"

#: The office's ratings, all with evidence: cost_control A (6), service_reach B (4.8),
#: environmental_impact C (3.6), sustainability A (6); ranking 2nd -> B (4.8).
RATED = {
    "cost_control": {"band": "A", "evidence": "外包合同按月考核结算，每件受理成本低于上年。"},
    "service_reach": {"band": "部分达成", "evidence": "新增企业专席和手语视频客服；农村地区知晓率仍低。"},
    "environmental_impact": {"band": "C", "evidence": "电子工单全面替代纸质工单，机房能耗未下降。"},
    "sustainability": {"band": "A", "evidence": "接入一网通办总客服，新增网站和APP渠道。"},
}
RANKING = {"rank": 2, "of": 335, "score": 96.07, "source": "第三方全国政务热线服务质量监测年度报告"}
#: The office's 偏差原因分析及改进措施 for every row that loses points above (a final report
#: needs one per row), and the texts the office writes.
REASONS = {
    "requests_accepted": {"explanation": "网站和APP渠道分流了电话受理，下一步统一统计全渠道受理量。"},
    "average_answer_seconds": {"explanation": "夏季高峰坐席不足，下一步按话务预测增开坐席。"},
    "national_ranking": {"explanation": "与排名第一的热线相比，一次性解答率仍有差距，下一步加强知识库。"},
    "service_reach": {"explanation": "农村地区知晓率低，下一步开展进社区宣传。"},
    "environmental_impact": {"explanation": "机房能耗未下降，下一步实施机房节能改造。"},
}
TEXTS = {"problems_next_steps": "夏季高峰接通时长超标，下一步增加坐席。", "result_use": "用于下一年度预算编制。"}


def every_reason() -> dict:
    """A reason for every indicator (a store without data loses points on every row)."""
    cat = load_catalogue(TARGETS / "shanghai-12345-2019.yaml")
    return {i.id: {"explanation": f"{i.display_name_zh}的偏差原因及改进措施（办公室填写）。"}
            for i in cat.indicators if not i.tracked_only}


def explained(indicators: dict, reasons: dict = REASONS) -> dict:
    """``indicators`` with the office's reasons merged in (the rating entries kept)."""
    out = {k: dict(v) for k, v in indicators.items()}
    for k, v in reasons.items():
        out[k] = {**out.get(k, {}), **v}
    return out


def rows(year: int = 2019, **day: float | None) -> list[DailyCounters]:
    d, out = dt.date(year, 1, 1), []
    while d.year == year:
        out.append(DailyCounters("shanghai-12345", d, {**DAY, **day}))
        d += dt.timedelta(days=1)
    return out


def spending(share: float = 0.8) -> dict[tuple[int, str], float]:
    return {(m, line): amount * share / 12 for m in range(1, 13) for line, amount in LINES.items()}


def report(indicators: dict | None = None, ranking: dict | None = None, share: float = 0.8,
           **inputs: object) -> Report:
    cat = load_catalogue(TARGETS / "shanghai-12345-2019.yaml")
    given = ReportInputs.model_validate({"indicators": indicators if indicators is not None else explained(RATED),
                                         "ranking": ranking if ranking is not None else RANKING,
                                         **TEXTS, **inputs})
    return build_report(cat, FormulaSettings(), rows(), spending(share), given, load_benchmark(BENCHMARK))
