"""The written self-evaluation report (绩效自评报告): its sections as plain blocks every
writer renders (DOCX, HTML and its PDF, Markdown). Pure; every figure comes from the same
:class:`~hotline_kpi.report.build.Report` as the self-evaluation table."""

from __future__ import annotations

from dataclasses import dataclass, field

from hotline_kpi.report.analysis import prose, zh_value
from hotline_kpi.report.build import RANKING_ID, IndicatorRow, Report, level3_cell, lost_points, sic_notes

CN_NUM = "一二三四五六七八九十"

#: Left blank for the office to fill by hand (the signature block).
SIGNATURE = ("单位负责人", "填报人", "联系电话", "填报日期")


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Block:
    """One paragraph (``text``), a sub-heading (``heading``), a table or a chart."""

    text: str = ""
    heading: str = ""
    table: Table | None = None
    chart: str = ""  # indicator id of a monthly trend chart


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple[Block, ...] = field(default_factory=tuple)


def wan(x: float | None) -> str:
    return "—" if x is None else f"{x:,.2f}"


def pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.2f}%"


def report_title(report: Report) -> str:
    return f"{report.project_name}{report.year}年度绩效自评报告"


def missing_lines(report: Report) -> list[str]:
    return [f"{m.indicator}：{m.what}" for m in report.to_do]


def _basic(report: Report) -> Section:
    p = report.catalogue.project
    blocks = [Block(heading="（一）立项依据")]
    basis = p.basis if p else ()
    blocks += [Block(text=f"{i}．{b}") for i, b in enumerate(basis, 1)] or [Block(text="（待办公室补充）")]
    blocks.append(Block(heading="（二）项目内容"))
    blocks.append(Block(text=prose("".join(x for x in ((p.goal if p else ""), (p.content if p else "")) if x))
                        or "（待办公室补充）"))
    ex = report.execution
    blocks.append(Block(heading="（三）资金情况"))
    total = ex.budget_yuan / 10_000
    parts = "、".join(f"{ln.name}{ln.budget_yuan / 10_000:,.0f}万元" for ln in ex.lines)
    blocks.append(Block(text=f"项目预算{total:,.0f}万元，其中{parts}。全年执行{ex.executed_yuan / 10_000:,.2f}万元，"
                             f"预算执行率{pct(ex.rate)}。"))
    rows = tuple((ln.name, wan(ln.budget_yuan / 10_000), wan(ln.executed_yuan / 10_000), pct(ln.rate))
                 for ln in ex.lines)
    rows += (("合计", wan(total), wan(ex.executed_yuan / 10_000), pct(ex.rate)),)
    blocks.append(Block(table=Table(("预算项目", "预算数（万元）", "执行数（万元）", "执行率"), rows)))
    return Section("项目基本情况", tuple(blocks))


def _goals(report: Report) -> Section:
    rows = tuple((r.indicator.level1, r.indicator.level2, level3_cell(r.indicator), r.target_text, f"{r.weight:g}")
                 for r in report.rows)
    return Section("绩效目标", (
        Block(text=f"年度总体目标：{prose(report.overall_goal)}"),
        Block(text=f"绩效指标共{len(report.rows)}项，另预算执行率{report.budget_weight:g}分，合计100分。"),
        Block(table=Table(("一级指标", "二级指标", "三级指标", "年度指标值", "分值"), rows)),
        *(Block(text=note) for note in sic_notes(r.indicator for r in report.rows)),
    ))


def _work(report: Report) -> Section:
    given = report.inputs.self_evaluation_work.strip()
    from hotline_kpi.domain import days_in_year

    days = days_in_year(report.year)
    text = (f"数据来源为热线平台每日业务数据（受理量、接通、等待时长、一次性解答、有责退单、回访满意度）和财务支出台账；"
            f"全年{days}天中{report.data_days}天有业务数据。定性指标由办公室依据佐证材料评级，"
            f"影响力目标按当年公布的全国政务服务热线排名评分。")
    blocks = [Block(text=given)] if given else []
    blocks.append(Block(text=text))
    blocks += [Block(text=n) for n in report.notes]
    return Section("自评工作开展情况", tuple(blocks))


def _indicator_text(row: IndicatorRow) -> str:
    ind = row.indicator
    score = "不适用，不计分" if row.score is None else f"得{row.score:.2f}分（分值{row.weight:g}分）"
    if ind.kind == "quantitative":
        met = {True: "达到目标", False: "未达到目标", None: "无数据"}[row.met]
        return f"年度指标值{row.target_text}，实际完成{row.actual_text}，{met}，{score}。"
    if not row.rated:
        return f"年度指标值{row.target_text}，办公室尚未评级，暂计0分。"
    ev = row.evidence.rstrip("。")
    ev = (ev + "。") if ev.startswith("来源") else (f"佐证材料：{ev}。" if ev else "")
    tier = row.note.split(" ")[0]
    done = "" if row.actual_text in tier else f"实际完成{row.actual_text}，"
    who = "按全国排名评为" if ind.id == RANKING_ID else "办公室评级为"
    return f"年度指标值{row.target_text}，{done}{who}{tier}，{score}。{ev}"


def _monthly(row: IndicatorRow) -> str:
    vals = [(m, row.monthly.get(m)) for m in range(1, 13)]
    return "月度走势：" + "；".join(f"{m}月{zh_value(v, row.indicator.unit)}" for m, v in vals) + "。"


def _analysis(report: Report) -> Section:
    t = report.total
    blocks = [Block(text=f"自评总分{t.total:.2f}分，等级为“{t.grade}”。"
                         + (f"不适用指标已剔除，按适用分值{t.applicable_weight:g}分折算为100分。" if t.dropped else "")),
              Block(heading="（一）预算执行率"),
              Block(text=f"全年预算{wan(report.execution.budget_yuan / 10_000)}万元，执行"
                         f"{wan(report.execution.executed_yuan / 10_000)}万元，执行率{pct(report.execution.rate)}，"
                         f"得{report.budget_score:.2f}分（分值{report.budget_weight:g}分）。预算执行率只在本项计分。")]
    for i, row in enumerate(report.rows, 2):
        blocks.append(Block(heading=f"（{_cn(i)}）{row.indicator.display_name_zh}"))
        blocks.append(Block(text=_indicator_text(row)))
        if row.indicator.id == "cost_control" and report.execution.cost_per_request is not None:
            blocks.append(Block(text=f"每件受理成本{report.execution.cost_per_request:,.2f}元（供参考，预算执行率不在本项重复计分）。"))
        if row.indicator.kind == "quantitative" and row.monthly:
            blocks.append(Block(text=_monthly(row)))
            blocks.append(Block(chart=row.indicator.id))
    if report.peers or report.peer_excluded:
        blocks.append(Block(heading=f"（{_cn(len(report.rows) + 2)}）与{report.peer_name}的可比指标"))
        rows = tuple((p.label, zh_value(p.ours, p.unit), zh_value(p.peer, p.unit),
                      "—" if p.beaten is None else ("是" if p.beaten else "否"), p.difference) for p in report.peers)
        if rows:
            blocks.append(Block(table=Table(("指标", "本热线", report.peer_name, "是否超过", "口径差异"), rows)))
        for label, diff in report.peer_excluded:
            blocks.append(Block(text=f"未作比较：{label}。{diff}"))
        names = []
        for ind_id in report.not_published:
            try:
                names.append(report.catalogue.indicator(ind_id).display_name_zh)
            except KeyError:
                continue
        if names:
            blocks.append(Block(text=f"{report.peer_name}未公开以下指标，无法比较：{'、'.join(names)}。"))
        if report.peer_source:
            blocks.append(Block(text=f"来源：{report.peer_source}"))
    return Section("绩效目标完成情况分析", tuple(blocks))


def _cn(n: int) -> str:
    if n <= 10:
        return CN_NUM[n - 1]
    return ("十" if n < 20 else CN_NUM[n // 10 - 1] + "十") + (CN_NUM[n % 10 - 1] if n % 10 else "")


def _deviation(report: Report) -> Section:
    blocks = []
    for row in report.rows:
        if row.explanation and (lost_points(row) or row.met is False or row.drafted or not row.rated
                                or row.indicator.kind == "qualitative"):
            blocks.append(Block(text=f"{row.indicator.display_name_zh}：{row.explanation}"))
    return Section("偏差原因分析及改进措施", tuple(blocks) or (Block(text="各项指标均达到目标，无偏差。"),))


def _problems(report: Report) -> Section:
    given = report.inputs.problems_next_steps.strip()
    if given:
        return Section("存在问题及下一步工作", (Block(text=given),))
    missed = [r.indicator.display_name_zh for r in report.rows if r.met is False]
    text = ("（待办公室补充）" + (f"未达标指标：{'、'.join(missed)}。" if missed else ""))
    return Section("存在问题及下一步工作", (Block(text=text),))


def _use(report: Report) -> Section:
    given = report.inputs.result_use.strip()
    return Section("自评结果应用", (Block(text=given or "自评结果将作为下一年度预算安排、绩效目标调整和外包合同考核的参考（待办公室确认）。"),))


def sections(report: Report) -> list[Section]:
    """The report's numbered sections, in the order a finance reviewer expects."""
    parts = [_basic(report), _goals(report), _work(report), _analysis(report), _deviation(report),
             _problems(report), _use(report)]
    return [Section(f"{CN_NUM[i]}、{s.title}", s.blocks) for i, s in enumerate(parts)]
