"""The report as Markdown (for a wiki or a mail body): the same sections and tables."""

from __future__ import annotations

from hotline_kpi.report.appendix import settings_lines
from hotline_kpi.report.build import Report, level3_cell, sic_notes
from hotline_kpi.report.narrative import SIGNATURE, missing_lines, report_title, sections
from hotline_kpi.report.xlsx import TITLE


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    return (["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows] + [""])


def to_markdown(report: Report) -> str:
    out = []
    if report.draft:
        out += ["> **草稿**：以下事项尚未完成，报告不得报送。", ">"] + [f"> - {m}" for m in missing_lines(report)] + [""]
    out += [f"# {report_title(report)}", ""]
    for s in sections(report):
        out += [f"## {s.title}", ""]
        for b in s.blocks:
            if b.heading:
                out += [f"### {b.heading}", ""]
            elif b.table is not None:
                out += _table(b.table.header, list(b.table.rows))
            elif b.chart:
                continue
            else:
                out += [b.text, ""]
    p = report.catalogue.project
    out += [f"## 附件：{TITLE}（{report.year}年度）", "",
            f"- 项目名称：{report.project_name}", f"- 主管部门：{p.department if p else ''}",
            f"- 实施单位：{p.implementer if p else ''}", "", "项目资金（万元）", ""]
    fund = []
    for f in report.funding:
        w = f"{f.weight:g}" if f.weight is not None else "—"
        rate = f"{100 * f.rate:.2f}%" if f.rate is not None else "—"
        score = f"{f.score:.2f}" if f.score is not None else "—"
        fund.append((f.label, *("—" if x is None else f"{x:,.2f}" for x in (f.initial_wan, f.full_year_wan,
                                                                            f.executed_wan)), w, rate, score))
    out += _table(("", "年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分"), fund)
    out += [f"- 年度总体目标：{_cell(report.overall_goal)}", f"- 实际完成情况：{_cell(report.overall_actual)}", ""]
    rows = [(r.indicator.level1, r.indicator.level2, level3_cell(r.indicator), r.target_text, r.actual_text, f"{r.weight:g}",
             "不适用" if r.score is None else f"{r.score:.2f}", r.explanation) for r in report.rows]
    out += _table(("一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "偏差原因分析及改进措施"), rows)
    t = report.total
    out += [f"**总分{t.total:.2f}分，等级为“{t.grade}”**"
            + (f"（不适用指标已剔除，按{t.applicable_weight:g}分折算）" if t.dropped else ""), ""]
    out += [*sic_notes(r.indicator for r in report.rows), ""] if sic_notes(r.indicator for r in report.rows) else []
    out += ["## 附录：口径与评分设置", ""] + [f"- {k}：{v}" for k, v in settings_lines(report)] + [""]
    out += [f"{label}：＿＿＿＿＿＿＿＿" for label in SIGNATURE]
    return "\n".join(out) + "\n"
