"""The appendix: the formula and scoring settings the report was computed with."""

from __future__ import annotations

from hotline_kpi.report.build import Report


def settings_lines(report: Report) -> list[tuple[str, str]]:
    r = report.rules
    bands = " / ".join(f"{b.name} {b.high:g}-{b.low:g}%" for b in r.qualitative_bands)
    grades = "，".join(f"{g.name} ≥{g.at_least:g}" for g in r.grades)
    w = report.catalogue.weights
    out = [
        ("权重", f"预算执行率 {w.budget_execution:g}，产出指标 {w.output:g}，效益指标 {w.effect:g}，满意度指标 {w.satisfaction:g}"),
        ("预算执行率得分", "分值 × 执行率（全年执行数 ÷ 全年预算数）" + ("，不超过分值" if r.cap_at_weight else "")),
        ("正向指标得分", "实际完成值 ÷ 目标值 × 分值" + ("，不超过分值" if r.cap_at_weight else "")),
        ("反向指标得分", "目标值 ÷ 实际完成值 × 分值" + ("，不超过分值" if r.cap_at_weight else "")),
        ("定性指标", f"档次 {bands}（只给档次时取{ {'top': '上限', 'middle': '中值', 'bottom': '下限'}[r.band_score] }）"),
        ("不适用指标", "不计分，总分按适用指标分值之和折算为100分"),
        ("无数据的定量指标", "计0分" if r.no_data == "zero" else "按不适用处理"),
        ("等级", grades),
        ("小数", f"得分四舍五入保留{r.decimals}位"),
    ]
    for key, value in report.formulas.model_dump(mode="json").items():
        out.append((f"口径 formulas.{key}", str(value)))
    return out
