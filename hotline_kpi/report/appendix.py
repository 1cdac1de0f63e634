"""The appendix: the formula and scoring settings the report was computed with, written
as sentences a finance reviewer reads (no setting names, no program values)."""

from __future__ import annotations

from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.report.build import Report

#: Queue exits, as the office calls them.
_EXITS = {"ABANDON": "排队中主动挂断", "EXITWITHTIMEOUT": "排队超时", "EXITEMPTY": "无坐席可接入",
          "EXITWITHKEY": "排队中按键退出"}


def formula_lines(f: FormulaSettings) -> list[tuple[str, str]]:
    exits = "、".join(_EXITS.get(e, e) for e in f.offered_exits)
    short = (f"排队{f.short_abandon_seconds}秒内挂断的来电视为短时放弃，" +
             ("不计入呼入量（接通率、放弃率、15秒接通率的分母）。" if f.exclude_short_abandons
              else "仍计入呼入量。"))
    within = "全部呼入量" if f.within_15s_denominator == "offered" else "已接通来电"
    return [
        ("呼入量口径", f"接通的来电加上未接通的来电，未接通的包括{exits}。"),
        ("短时放弃", short),
        ("满意度口径", "回访中“非常满意”“满意”" + ("和“基本满意”均计为满意" if f.basic_satisfied_is_satisfied
                                              else "计为满意，“基本满意”不计为满意") + "，满意度为满意评价数除以有效回访数。"),
        ("及时接通", f"{f.answer_within_seconds}秒内接通为及时接通，15秒接通率的分母为{within}。"),
    ]


def settings_lines(report: Report) -> list[tuple[str, str]]:
    r = report.rules
    bands = "；".join(f"{b.label or b.name}（{b.name}档）得分值的{b.low:g}%至{b.high:g}%" for b in r.qualitative_bands)
    pick = {"top": "上限", "middle": "中值", "bottom": "下限"}[r.band_score]
    grades = []
    for i, g in enumerate(r.grades):
        if i == 0:
            grades.append(f"{g.name}为{g.at_least:g}分及以上")
        else:
            grades.append(f"{g.name}为{g.at_least:g}分及以上、不足{r.grades[i - 1].at_least:g}分")
    ranks = []
    for rb in r.ranking_bands:
        b = r.band(rb.band)
        where = "第1名" if rb.rank_at_most == 1 else f"第{rb.rank_at_most}名及以前"
        ranks.append(f"{where}为{b.label or b.name}")
    capped = "，不超过分值" if r.cap_at_weight else "，可超过分值"
    w = report.catalogue.weights
    out = [
        ("权重", f"预算执行率{w.budget_execution:g}分，产出指标{w.output:g}分，效益指标{w.effect:g}分，"
               f"满意度指标{w.satisfaction:g}分。"),
        ("预算执行率得分", f"分值乘以执行率（全年执行数除以全年预算数）{capped}。预算执行率只在此项计分，经济效益指标不再重复计入。"),
        ("正向指标得分", f"实际完成值除以目标值再乘以分值{capped}。"),
        ("反向指标得分", f"目标值除以实际完成值再乘以分值{capped}；实际完成值为0时得满分。"),
        ("定性指标", f"由办公室依据佐证材料评级：{bands}；只评档次时取该档{pick}。未评级或无佐证材料的指标暂计0分，报告不能出具正式版。"),
        ("影响力指标", "按办公室填写的当年全国政务服务热线排名（名次、得分、来源）评级：" + "，".join(ranks)
         + f"，其余为{r.qualitative_bands[-1].label or r.qualitative_bands[-1].name}。"),
        ("不适用指标", "不计分，总分按适用指标分值之和折算为100分。"),
        ("无数据的定量指标", "计0分。" if r.no_data == "zero" else "按不适用处理。"),
        ("等级", "；".join(grades) + "。"),
        ("小数", f"得分四舍五入保留{r.decimals}位小数，总分由各项保留后的得分相加。"),
    ]
    return out + formula_lines(report.formulas)
