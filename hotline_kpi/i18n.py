"""Labels in Chinese (the default) and English. Data and config texts are never translated."""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]

_TEXT: dict[str, tuple[str, str]] = {
    # windows
    "day": ("当日", "Day"),
    "trailing_7d": ("近7日", "7 days"),
    "trailing_30d": ("近30日", "30 days"),
    "month_to_date": ("月累计", "Month to date"),
    "quarter_to_date": ("季累计", "Quarter to date"),
    "year_to_date": ("年累计", "Year to date"),
    # statuses
    "met": ("达标", "met"),
    "breached": ("未达标", "breached"),
    "no_data": ("无数据", "no data"),
    "tracked": ("跟踪", "tracked"),
    # table
    "indicator": ("指标", "Indicator"),
    "target": ("目标", "Target"),
    "status": ("状态", "Status"),
    "completeness": ("数据完整度", "Completeness"),
    "scoreboard_title": ("{hotline} 绩效指标 截至 {as_of}", "{hotline} KPIs as of {as_of}"),
    "data_date": ("数据日期", "Data date"),
    "pace": ("进度目标", "pace"),
    "shortfall": ("差额", "shortfall"),
    "days_with_data": ("有数据天数", "days with data"),
    "missing": ("缺失", "missing"),
    "per_year": ("/年", "/year"),
    "seconds": ("秒", "s"),
    "no_target": ("无目标", "no target"),
    # year-end projection (docs/forecast.md)
    "projection_title": ("{year}年末预测", "{year} year-end projection"),
    "projected": ("预测年末值", "Projected"),
    "interval": ("80%区间", "80% interval"),
    "pace_status": ("研判", "Outlook"),
    "required": ("余下须达", "Required pace"),
    "miss_probability": ("未达目标概率", "Chance of missing"),
    "budget": ("尚可容许的差错", "Budget left"),
    "burn_7d": ("近7日差错倍数（1为均衡）", "Burn 7d"),
    "burn_30d": ("近30日差错倍数（1为均衡）", "Burn 30d"),
    "per_day": ("/日", "/day"),
    "on_track": ("可达成", "on track"),
    "at_risk": ("有风险", "at risk"),
    "cannot_be_met": ("已无法达成", "cannot be met"),
    "secured": ("已确保", "secured"),
    "insufficient_data": ("数据不足", "too little data"),
    "unit_requests_needed": ("件（尚需受理）", "requests needed"),
    "unit_unanswered_calls": ("个未接通", "unanswered calls"),
    "unit_unresolved_requests": ("件未一次解答", "unresolved requests"),
    "unit_operator_fault_returns": ("件有责退单", "operator-fault returns"),
    "unit_wait_seconds": ("秒（等待时长）", "wait seconds"),
    "unit_dissatisfied_responses": ("个不满意", "dissatisfied responses"),
    "unit_errors": ("", "errors"),
    # year-end report (docs/report.md)
    "report_not_final": ("报告仍是草稿，不能出具正式版。以下指标尚未评级（或缺少佐证材料、排名来源）：\n{items}\n"
                         "请在输入文件中填写后重新生成。",
                         "The report is still a draft and cannot be made final. Not yet rated (or without "
                         "evidence or ranking source):\n{items}\nFill them in the input file and run again."),
    "report_draft_missing": ("草稿：{n}项指标尚未评级，见报告中的缺项清单。",
                             "Draft: {n} indicator(s) not yet rated; see the list in the report."),
    "webhook_clipped": ("…（全文见邮件或状态页）", "… (the full text is in the mail and on the status page)"),
}


def t(key: str, lang: Lang = "zh", **kwargs: object) -> str:
    zh, en = _TEXT.get(key, (key, key))
    text = zh if lang == "zh" else en
    return text.format(**kwargs) if kwargs else text
