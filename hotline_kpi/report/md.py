"""The report as Markdown (for a wiki or a mail body)."""

from __future__ import annotations

from hotline_kpi.report.appendix import settings_lines
from hotline_kpi.report.build import Report
from hotline_kpi.report.xlsx import TITLE


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def to_markdown(report: Report) -> str:
    p = report.catalogue.project
    out = [f"# {TITLE}（{report.year}年度）", "",
           f"- 项目名称：{report.project_name}", f"- 主管部门：{p.department if p else ''}",
           f"- 实施单位：{p.implementer if p else ''}", "",
           "## 项目资金（万元）", "", "| | 年初预算数 | 全年预算数 | 全年执行数 | 分值 | 执行率 | 得分 |", "|---|---:|---:|---:|---:|---:|---:|"]
    for f in report.funding:
        w = f"{f.weight:g}" if f.weight is not None else "—"
        rate = f"{100 * f.rate:.2f}%" if f.rate is not None else "—"
        score = f"{f.score:.2f}" if f.score is not None else "—"
        out.append(f"| {f.label} | {f.initial_wan or 0:,.2f} | {f.full_year_wan or 0:,.2f} | {f.executed_wan or 0:,.2f} "
                   f"| {w} | {rate} | {score} |")
    out += ["", "## 年度总体目标", "", f"- 预期目标：{_cell(report.overall_goal)}",
            f"- 实际完成情况：{_cell(report.overall_actual)}", "", "## 绩效指标", "",
            "| 一级指标 | 二级指标 | 三级指标 | 年度指标值 | 实际完成值 | 分值 | 得分 | 偏差原因分析及改进措施 |",
            "|---|---|---|---|---|---:|---:|---|"]
    for r in report.rows:
        i = r.indicator
        score = "不适用" if r.score is None else f"{r.score:.2f}"
        out.append(f"| {_cell(i.level1)} | {_cell(i.level2)} | {_cell(i.level3)} | {_cell(r.target_text)} | "
                   f"{_cell(r.actual_text)} | {r.weight:g} | {score} | {_cell(r.explanation)} |")
    t = report.total
    out += ["", f"**总分 {t.total:.2f}，等级 {t.grade}**" + (f"（不适用指标已剔除，按{t.applicable_weight:g}分折算）" if t.dropped else ""), ""]
    out += [f"注：{n}" for n in report.notes]
    ex = report.execution
    out += ["", "## 预算执行", "", "| 预算项目 | 预算（万元） | 执行（万元） | 执行率 |", "|---|---:|---:|---:|"]
    for ln in ex.lines:
        rate = f"{100 * ln.rate:.2f}%" if ln.rate is not None else "—"
        out.append(f"| {_cell(ln.name)} | {ln.budget_yuan / 1e4:,.2f} | {ln.executed_yuan / 1e4:,.2f} | {rate} |")
    if ex.cost_per_request is not None:
        out.append(f"\n每件受理成本：{ex.cost_per_request:,.2f} 元")
    if report.peers:
        out += ["", f"## 同行对比：{report.peer_name}", "", "| 指标 | 本热线 | 标杆 | 是否超过 |", "|---|---:|---:|---|"]
        from hotline_kpi.formatting import fmt_value
        for pr in report.peers:
            b = "—" if pr.beaten is None else ("是" if pr.beaten else "否")
            out.append(f"| {_cell(pr.label)} | {fmt_value(pr.ours, pr.unit)} | {fmt_value(pr.peer, pr.unit)} | {b} |")
        out.append(f"\n来源：{_cell(report.peer_source)}")
    out += ["", "## 附录：口径与评分设置", ""] + [f"- {k}：{v}" for k, v in settings_lines(report)]
    return "\n".join(out) + "\n"
