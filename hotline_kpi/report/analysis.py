"""A first draft of 偏差原因分析 for a missed indicator: which months and days pulled the
year down most, and which days had no data. Pure; the office edits the wording.

"Pulled down" is measured in the indicator's own counts: for a rate, how many more
answered calls (resolved requests, satisfied responses ...) the period would have needed
to reach the target on its own volume (target x denominator - numerator), or for a
reverse rate how many fewer; for an annual total, how far the period stayed below its
pro-rated share of the target. Summed over the periods this is the year's shortfall.
"""

from __future__ import annotations

import calendar
import re
import datetime as dt
from typing import Iterable

from hotline_kpi.catalogue import Indicator
from hotline_kpi.domain import DailyCounters, days_in_year
from hotline_kpi.aggregate import aggregate_rows
from hotline_kpi.formatting import _trim
from hotline_kpi.formulas import FormulaSettings

#: The count word of a volume in Chinese prose, by unit (a target's own word wins: 400万个).
_COUNT_WORD = {"requests": "件", "calls": "个", "tickets": "件"}


def prose(text: str) -> str:
    """Chinese prose from a folded YAML text: no blank between two Chinese sentences."""
    return re.sub(r"(?<=[，。；：、！？）”])\s+|\s+(?=[\u4e00-\u9fff“（])(?<=[\u4e00-\u9fff\s])", "", text).strip()


def zh_value(value: float | None, unit: str, target_text: str = "") -> str:
    """A value as Chinese prose writes it: 92.00%, 8.27秒, 4,043,724个（404.37万个）."""
    if value is None:
        return "—"
    if unit == "ratio":
        return f"{100 * value:.2f}%"
    if unit == "seconds":
        return f"{value:.2f}秒"
    m = re.search(r"万([件个次通条单])", target_text)
    word = m.group(1) if m else _COUNT_WORD.get(unit, "")
    if not word:
        return f"{value:,.0f}"
    return f"{value:,.0f}{word}" + (f"（{value / 10_000:,.2f}万{word}）" if m else "")


def zh_threshold(value: float, unit: str) -> str:
    if unit == "ratio":
        return f"{_trim(100 * value, 2)}%"
    if unit == "seconds":
        return f"{_trim(value, 2)}秒"
    return f"{_trim(value, 2)}{_COUNT_WORD.get(unit, '')}"

def shortfall(ind: Indicator, formulas: FormulaSettings, rows: Iterable[DailyCounters], start: dt.date,
              end: dt.date, year: int) -> tuple[float, float | None]:
    """(how far the period fell short in counts, the period's value); 0 when it met the target."""
    f = ind.formula_for(formulas)
    agg = aggregate_rows(rows, f, start, end)
    assert ind.threshold is not None and ind.comparator is not None
    if agg.days_with_data == 0:
        return 0.0, None
    if f.kind == "ratio":
        den = agg.denominator or 0
        value = agg.numerator / den if den else None
        need = ind.threshold * den - agg.numerator
        gap = need if ind.comparator.higher_is_better else -need
        return max(0.0, gap), value
    share = ind.threshold * ((end - start).days + 1) / days_in_year(year)
    return max(0.0, share - agg.numerator), float(agg.numerator)


def _runs(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    runs: list[tuple[dt.date, dt.date]] = []
    for d in sorted(days):
        if runs and runs[-1][1] + dt.timedelta(days=1) == d:
            runs[-1] = (runs[-1][0], d)
        else:
            runs.append((d, d))
    return runs


_ZH_CMP = {">=": "不低于", ">": "高于", "<=": "不高于", "<": "低于"}


def zh_date(d: dt.date) -> str:
    """A date as Chinese prose writes it: 2019年12月31日."""
    return f"{d.year}年{d.month}月{d.day}日"


#: How a period's gap reads, per indicator: a sentence fragment around the count.
_GAP_TEXT = {
    "connection_rate": "少接通{n}个来电",
    "first_contact_resolution_rate": "少一次性解答{n}件",
    "operator_fault_return_rate": "有责退单多{n}件",
    "average_answer_seconds": "累计等待时长超出{n}秒",
    "satisfaction_rate": "满意评价少{n}个",
    "requests_accepted": "受理量比按天数折算的目标少{n}件",
}


def _shown_gap(ind: Indicator, gap: float) -> str:
    return _GAP_TEXT.get(ind.id, "与目标相差{n}").format(n=f"{gap:,.0f}")


def draft_deviation(ind: Indicator, formulas: FormulaSettings, rows: Iterable[DailyCounters], year: int,
                    actual: float | None, top: int = 3) -> str:
    rows = tuple(rows)
    if ind.threshold is None or ind.comparator is None:
        return ""
    target = zh_threshold(ind.threshold, ind.unit)
    if actual is None:
        return f"【系统分析】全年无{ind.display_name_zh}数据，无法评价；请补充数据来源（目标{target}）。"
    lines = [f"【系统分析】全年实际{zh_value(actual, ind.unit, ind.target_text or '')}，目标{_ZH_CMP.get(ind.comparator.value, '')}{target}，未达标。"]
    months = []
    for m in range(1, 13):
        s, e = dt.date(year, m, 1), dt.date(year, m, calendar.monthrange(year, m)[1])
        gap, value = shortfall(ind, formulas, rows, s, e, year)
        if gap > 0:
            months.append((gap, m, value))
    months.sort(reverse=True)
    if months:
        total = sum(g for g, _, _ in months)
        shown = "；".join(f"{m}月 {zh_value(v, ind.unit)}（{_shown_gap(ind, g)}，占全年差距的{100 * g / total:.0f}%）"
                         for g, m, v in months[:top])
        lines.append(f"与目标差距最大的月份：{shown}。")
    days = []
    for r in rows:
        if r.day.year != year:
            continue
        gap, value = shortfall(ind, formulas, rows, r.day, r.day, year)
        if gap > 0:
            days.append((gap, r.day, value))
    days.sort(reverse=True)
    if days:
        shown = "；".join(f"{zh_date(d)} {zh_value(v, ind.unit)}" for _, d, v in days[:top])
        lines.append(f"与目标差距最大的日期：{shown}。")
    f = ind.formula_for(formulas)
    required = f.required_counters
    have = {r.day for r in rows if all(r.get(c) is not None for c in required)}
    missing = [dt.date(year, 1, 1) + dt.timedelta(days=i) for i in range(days_in_year(year))]
    missing = [d for d in missing if d not in have]
    if missing:
        runs = _runs(missing)
        shown = "、".join(zh_date(a) if a == b else f"{zh_date(a)}至{zh_date(b)}" for a, b in runs[:5])
        more = f"等{len(runs)}段" if len(runs) > 5 else ""
        lines.append(f"数据缺失：{len(missing)}天（{shown}{more}），缺失日不计入全年值。")
    lines.append("改进措施：（待办公室补充）")
    return "".join(lines)
