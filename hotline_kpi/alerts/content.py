"""What an alert mail says, in Chinese (the default) or English; pure.

A subject names the hotline, severity, indicator, window, value and target, e.g.
``[12345 KPI][严重] 热线接通率 年累计 88.72% 低于目标 90%``. Bodies are rendered twice from
one context, as text and as HTML (Jinja2, autoescape on for HTML). Data and config texts
(indicator names, notes) are never translated, only escaped.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, StrictUndefined

from hotline_kpi.alerts import templates
from hotline_kpi.catalogue import Hotline, Indicator
from hotline_kpi.domain import Comparator, DailyCounters, days_in_year
from hotline_kpi.aggregate import aggregate_rows, rows_by_day
from hotline_kpi.formatting import duration, fmt_comparator, fmt_threshold, fmt_value
from hotline_kpi.formulas import Formula
from hotline_kpi.i18n import Lang, localize, source_label, t
from hotline_kpi.snapshot import CompletenessDoc, SnapshotDoc, read

_WORDS: dict[str, tuple[str, str]] = {
    "critical": ("严重", "CRITICAL"),
    "warning": ("警告", "WARNING"),
    "resolved": ("已恢复", "RESOLVED"),
    "test": ("测试", "TEST"),
    "below_target": ("低于目标", "below target"),
    "above_target": ("高于目标", "above target"),
    "misses_target": ("未达目标", "misses target"),
    "meets_target": ("达到目标", "meets target"),
    "behind_pace": ("落后进度", "behind pace"),
    "on_pace": ("达到进度", "on pace"),
    "meets_with_target": ("，达标（目标 {target}）", ", meets target ({target})"),
    "on_pace_with_pace": ("，达到进度（进度 {pace}）", ", on pace (pace {pace})"),
    "with_target": ("（目标 {target}）", " (target {target})"),
    "last_file_ago": ("{days}前载入过文件（阈值 {limit}）", "last file loaded {days} ago (limit {limit})"),
    "year_end_projection": ("年末预测", "year-end projection"),
    "final_result": ("全年最终结果", "final result for the year"),
    "no_file_for": ("已 {days}未载入新文件（阈值 {limit}）", "no file loaded for {days} (limit {limit})"),
    "never_loaded": ("从未载入文件", "no file ever loaded"),
    "loading_again": ("已恢复载入", "files loading again"),
    "hotline": ("热线", "Hotline"),
    "indicator": ("指标", "Indicator"),
    "window": ("统计区间", "Window"),
    "value": ("数值", "Value"),
    "target": ("目标", "Target"),
    "status": ("状态", "Status"),
    "pace": ("进度目标", "Pace"),
    "shortfall": ("差额", "Shortfall"),
    "annual_target": ("全年目标", "Annual target"),
    "projection": ("年末预测", "Year-end projection"),
    "interval": ("区间", "interval"),
    "required": ("其余天数需达到", "Needed over the rest of the year"),
    "miss_probability": ("未达目标概率", "Probability of missing the target"),
    "source": ("数据来源", "Source"),
    "last_loaded": ("最后载入", "Last file loaded"),
    "never": ("从未", "never"),
    "as_of": ("截至", "As of"),
    "data_date": ("数据日期", "Data date"),
    "severity": ("级别", "Severity"),
    "alert": ("告警", "Alert"),
    "fired_at": ("触发时间", "Firing since"),
    "resolved_at": ("恢复时间", "Resolved at"),
    "rule": ("规则", "Rule"),
    "periods": ("月累计与年累计", "Month and year to date"),
    "last_14_days": ("近14日", "Last 14 days"),
    "date": ("日期", "Date"),
    "days_with_data": ("有数据天数", "Days with data"),
    "completeness": ("数据完整度", "Completeness"),
    "status_page": ("状态页", "Status page"),
    "grafana": ("Grafana 看板", "Grafana dashboard"),
    "footer": ("此消息由 hotline-kpi 自动发送", "Sent automatically by hotline-kpi"),
    "digest_headline": ("{hotline}：{n} 项告警仍在触发", "{hotline}: {n} alert(s) still firing"),
    "digest_subject": ("每日汇总 {n} 项告警仍在触发", "Daily digest: {n} alert(s) still firing"),
    "test_headline": ("hotline-kpi 测试邮件", "hotline-kpi test message"),
    "test_body": ("如果您收到此邮件，告警邮件的发送设置可用。发送时间：{at}",
                  "If you read this, alert mail delivery works. Sent at {at}."),
}



def w(key: str, lang: Lang, **kwargs: object) -> str:
    zh, en = _WORDS[key]
    text = zh if lang == "zh" else en
    return text.format(**kwargs) if kwargs else text


def words(lang: Lang) -> dict[str, str]:
    return {k: w(k, lang) for k in _WORDS}


def source_name(source: str, lang: Lang) -> str:
    return localize(source_label(source), lang)


def _one_line(text: str) -> str:
    """No line breaks or control characters in a header, however the config spells it."""
    return re.sub(r"[\s\x00-\x1f\x7f]+", " ", text).strip()


@dataclass(frozen=True)
class Content:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Links:
    status_url: str = ""
    grafana_url: str = ""

    def for_hotline(self, hotline_id: str, lang: Lang) -> list[tuple[str, str]]:
        out = []
        if self.status_url:
            out.append((w("status_page", lang), _with_query(self.status_url, {"lang": lang})))
        if self.grafana_url:
            out.append((w("grafana", lang), _with_query(self.grafana_url, {"var-hotline": hotline_id})))
        return out


def _with_query(url: str, extra: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in extra]
    return urlunsplit(parts._replace(query=urlencode([*query, *extra.items()])))


@dataclass(frozen=True)
class DayFigure:
    day: dt.date
    value: float | None
    #: met | breached | no_data | tracked
    status: str


def daily_figures(rows: Iterable[DailyCounters], indicator: Indicator, formula: Formula,
                  start: dt.date, end: dt.date) -> list[DayFigure]:
    """The indicator day by day, judged against its target (an annual total against a
    365th or 366th of it); a day without the formula's counters is ``no_data``."""
    # The rows by day once (a day given twice is an error, as aggregate_rows says), then one
    # row per day: aggregating every day over all the rows was quadratic (a 90-day trend
    # over a year of rows held the status page's build for seconds per hotline).
    by_day = rows_by_day(rows, start, end) if end >= start else {}
    out = []
    day = start
    while day <= end:
        row = by_day.get(day)
        agg = aggregate_rows(() if row is None else (row,), formula, day, day)
        value: float | None
        if agg.days_with_data == 0:
            value = None
        elif formula.kind == "ratio":
            value = agg.numerator / agg.denominator if agg.denominator else None
        else:
            value = float(agg.numerator)
        if value is None:
            status = "no_data"
        elif not indicator.targeted or indicator.comparator is None or indicator.threshold is None:
            status = "tracked"
        else:
            target = indicator.threshold
            if indicator.aggregation == "annual_total":
                target = target / days_in_year(day.year)
            status = "met" if indicator.comparator.holds(value, target) else "breached"
        out.append(DayFigure(day, value, status))
        day += dt.timedelta(days=1)
    return out


def _name(indicator: Indicator | None, figures: Mapping[str, Any], lang: Lang) -> str:
    if indicator is None:
        return str(figures.get("id", ""))
    return indicator.display_name(lang)


def _hotline_name(hotline: Hotline, lang: Lang) -> str:
    return hotline.name if lang == "zh" else hotline.name_en


def _target_text(value: float | None, unit: str, annual_total: bool, lang: Lang) -> str:
    if value is None:
        return "—"
    return fmt_value(value, unit, lang) if annual_total else fmt_threshold(value, unit, lang)


def headline(kind: str, figures: Mapping[str, Any], indicator: Indicator | None, lang: Lang) -> str:
    """What happened, with value and target: the subject without its prefix (``kind`` firing
    or resolved), or, with ``kind="status"``, the rule's figures as they stand for an alert
    that is not firing (``alerts list --all``). Whatever the kind, the words never contradict
    the figures: a value that meets its target is never said to be below it."""
    condition = figures.get("condition")
    if condition == "no_data":
        src = source_name(str(figures.get("source", "")), lang)
        if figures.get("days_since") is None:
            return _one_line(f"{src} {w('never_loaded', lang)}")
        # Ages as people say them: 3 天, 36 小时 (formatting.duration), not 3.0 天.
        limit = localize(duration(float(figures["after_days"]) * 86400), lang)
        days = localize(duration(float(figures["days_since"]) * 86400), lang)
        if kind == "resolved":
            return _one_line(f"{src} {w('loading_again', lang)}")
        if kind == "status" and float(figures["days_since"]) <= float(figures["after_days"]):
            return _one_line(f"{src} {w('last_file_ago', lang, days=days, limit=limit)}")
        return _one_line(f"{src} {w('no_file_for', lang, days=days, limit=limit)}")

    name = _name(indicator, figures, lang)
    unit = str(figures.get("unit") or (indicator.unit if indicator else ""))
    cmp = Comparator(figures["comparator"]) if figures.get("comparator") else None
    if condition == "at_risk":
        proj = figures.get("projection") or {}
        cmp = Comparator(proj["comparator"]) if proj.get("comparator") else cmp
        return _compared(kind, f"{name} {w('year_end_projection', lang)}", cmp, proj.get("projected_value"),
                         proj.get("threshold"), unit, unit == "requests", lang)

    window = t(str(figures.get("window", "")), lang)
    annual_total = figures.get("pace") is not None
    if condition == "missed" and (kind != "status" or figures.get("final", True)):
        # the year is over: the figure against the annual target, no pace
        return _compared(kind, f"{name} {w('final_result', lang)}", cmp, figures.get("value"), figures.get("target"),
                         unit, annual_total, lang)
    if condition == "behind_pace" or annual_total:
        value, pace = figures.get("value"), figures.get("target")
        shown, pace_text = fmt_value(value, unit, lang), _target_text(pace, unit, annual_total, lang)
        ahead = value is not None and pace is not None and value >= pace
        if kind == "status" and ahead:
            return _one_line(f"{name} {window} {shown}{w('on_pace_with_pace', lang, pace=pace_text)}")
        rel = "on_pace" if kind == "resolved" else "behind_pace"
        return _one_line(f"{name} {window} {shown} {w(rel, lang)} {pace_text}")
    return _compared(kind, f"{name} {window}", cmp, figures.get("value"), figures.get("target"), unit,
                     annual_total, lang)


def _compared(kind: str, what: str, cmp: Comparator | None, value: float | None, target: float | None, unit: str,
              annual_total: bool, lang: Lang) -> str:
    """``what`` with its value against its target, in words true to the figures."""
    shown, target_text = fmt_value(value, unit, lang), _target_text(target, unit, annual_total, lang)
    meets = None if cmp is None or value is None or target is None else cmp.holds(value, target)
    if kind == "status":
        if meets is None:
            rule = target_text if cmp is None else f"{fmt_comparator(cmp.value, lang)} {target_text}"
            return _one_line(f"{what} {shown}{w('with_target', lang, target=rule)}")
        if meets:
            rule = f"{fmt_comparator(cmp.value, lang)} {target_text}"  # type: ignore[union-attr]
            return _one_line(f"{what} {shown}{w('meets_with_target', lang, target=rule)}")
    rel = _relation("resolved" if kind == "resolved" and meets is not False else "firing", cmp, value, target)
    return _one_line(f"{what} {shown} {w(rel, lang)} {target_text}")


def _relation(kind: str, cmp: Comparator | None, value: float | None, target: float | None) -> str:
    if kind == "resolved":
        return "meets_target"
    if cmp is None or value is None or target is None:
        return "misses_target"
    if value == target:  # a strict comparator missed by equality: neither below nor above
        return "misses_target"
    return "below_target" if cmp.higher_is_better else "above_target"


def subject(hotline: Hotline, badge: str, text: str) -> str:
    return _one_line(f"[{hotline.label} KPI][{badge}] {text}")


def _local(at: str | dt.datetime | None, zone: ZoneInfo) -> str:
    if at is None:
        return "—"
    if isinstance(at, str):
        at = dt.datetime.fromisoformat(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _periods(doc: SnapshotDoc, indicator: Indicator | None, lang: Lang) -> list[dict[str, str]]:
    if indicator is None:
        return []
    out = []
    for window in ("month_to_date", "year_to_date"):
        r = doc.result(indicator.id, window)
        if r is None:
            continue
        annual_total = r.pace is not None
        target = _target_text(r.target, indicator.unit, annual_total, lang)
        if r.comparator is not None and not annual_total:
            target = f"{r.comparator.value} {target}"
        status = "no_data" if r.status is None else r.status.value
        out.append({"label": t(window, lang), "value": fmt_value(r.value, indicator.unit, lang),
                    "target": target, "status": t(status, lang), "status_class": status,
                    "days": f"{r.days_with_data}/{r.days_in_window or 0}"})
    return out


def _completeness(doc: SnapshotDoc, lang: Lang) -> str:
    comp = doc.completeness
    if comp == CompletenessDoc():  # the document has none
        return "—"
    text = f"{comp.days_with_data}/{comp.days_elapsed} ({100 * (comp.ratio or 0):.1f}%)"
    data_date = doc.data_date.isoformat() if doc.data_date else "—"
    return f"{text} · {t('data_date', lang)} {data_date}"


def _facts(kind: str, severity: str, hotline: Hotline, indicator: Indicator | None, figures: Mapping[str, Any],
           lang: Lang, zone: ZoneInfo, since: dt.datetime | None, rule_id: str) -> list[tuple[str, str]]:
    facts = [(w("hotline", lang), _hotline_name(hotline, lang))]
    condition = figures.get("condition")
    unit = str(figures.get("unit") or (indicator.unit if indicator else ""))
    if condition == "no_data":
        facts += [(w("source", lang), source_name(str(figures.get("source", "")), lang)),
                  (w("last_loaded", lang), _local(figures.get("last_loaded_at"), zone)
                   if figures.get("last_loaded_at") else w("never", lang))]
    else:
        facts.append((w("indicator", lang), _name(indicator, figures, lang)))
        if condition == "at_risk":
            proj = figures.get("projection") or {}
            text = fmt_value(proj.get("projected_value"), unit, lang)
            if proj.get("interval_low") is not None and proj.get("interval_high") is not None:
                text += (f" ({w('interval', lang)} {fmt_value(proj['interval_low'], unit, lang)} – "
                         f"{fmt_value(proj['interval_high'], unit, lang)})")
            facts.append((w("projection", lang), text))
            if proj.get("threshold") is not None:
                facts.append((w("annual_target", lang),
                              f"{proj.get('comparator', '')} {_target_text(proj['threshold'], unit, unit == 'requests', lang)}"))
            if proj.get("miss_probability") is not None:
                facts.append((w("miss_probability", lang), f"{100 * float(proj['miss_probability']):.0f}%"))
            if proj.get("required_value") is not None:
                req_unit = "ratio" if proj.get("required_unit") == "ratio" else unit
                facts.append((w("required", lang), fmt_value(proj["required_value"], req_unit, lang)))
        else:
            annual_total = figures.get("pace") is not None
            facts.append((w("window", lang), f"{t(str(figures.get('window', '')), lang)} "
                                             f"{figures.get('start', '')} – {figures.get('end', '')}"))
            facts.append((w("value", lang), fmt_value(figures.get("value"), unit, lang)))
            target = _target_text(figures.get("target"), unit, annual_total, lang)
            if figures.get("comparator") and not annual_total:
                target = f"{figures['comparator']} {target}"
            facts.append((w("pace" if annual_total else "target", lang), target))
            if annual_total:
                facts.append((w("shortfall", lang), fmt_value(figures.get("shortfall"), unit, lang)))
                facts.append((w("annual_target", lang), fmt_value(figures.get("annual_target"), unit, lang)))
            facts.append((w("days_with_data", lang),
                          f"{figures.get('days_with_data', 0)}/{figures.get('days_in_window', 0)}"))
        facts.append((w("as_of", lang), str(figures.get("as_of", ""))))
    badge = w("resolved" if kind == "resolved" else severity, lang)
    facts.append((w("severity", lang), badge))
    facts.append((w("resolved_at" if kind == "resolved" else "fired_at", lang), _local(since, zone)))
    facts.append((w("rule", lang), rule_id))
    return facts


_HTML_ENV = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
_TEXT_ENV = Environment(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True)


def _render(text_tpl: str, html_tpl: str, ctx: Mapping[str, Any]) -> tuple[str, str]:
    return _TEXT_ENV.from_string(text_tpl).render(**ctx), _HTML_ENV.from_string(html_tpl).render(**ctx)


def render_alert(*, lang: Lang, kind: str, severity: str, hotline: Hotline, indicator: Indicator | None,
                 rule_id: str, rule_note: str, figures: Mapping[str, Any], payload: Mapping[str, Any],
                 days: Sequence[DayFigure], links: Links, since: dt.datetime | None, alert_id: int) -> Content:
    """A firing or resolved notice. ``figures``: the observation; ``payload``: the stored
    evaluation it came from (month and year to date, completeness)."""
    zone = hotline.zone
    doc = read(payload)
    head = headline(kind, figures, indicator, lang)
    badge = w("resolved" if kind == "resolved" else severity, lang)
    subj = subject(hotline, badge, head)
    unit = indicator.unit if indicator else ""
    notes = [n for n in (rule_note, indicator.note if indicator else "") if n]
    proj = figures.get("projection") or {}
    if proj.get("note_zh" if lang == "zh" else "note_en"):
        notes.append(proj["note_zh" if lang == "zh" else "note_en"])
    ctx = {
        "L": words(lang), "html_lang": "zh-CN" if lang == "zh" else "en", "subject": subj, "headline": head,
        "badge": badge, "badge_class": "resolved" if kind == "resolved" else severity,
        "facts": _facts(kind, severity, hotline, indicator, figures, lang, zone, since, rule_id),
        "notes": notes,
        "periods": _periods(doc, indicator, lang),
        "days": [{"date": d.day.isoformat(), "value": fmt_value(d.value, unit, lang), "status": t(d.status, lang),
                  "status_class": d.status} for d in days],
        "completeness": _completeness(doc, lang),
        "links": links.for_hotline(hotline.id, lang),
        "footer": f"{w('footer', lang)} · {w('alert', lang)} #{alert_id} · {w('rule', lang)} {rule_id}",
    }
    text, html = _render(templates.ALERT_TEXT, templates.ALERT_HTML, ctx)
    return Content(subj, text, html)


@dataclass(frozen=True)
class DigestItem:
    severity: str
    headline: str
    fired_at: dt.datetime | None
    held_days: int


def render_digest(*, lang: Lang, hotline: Hotline, items: Sequence[DigestItem], links: Links) -> Content:
    """The daily digest of one hotline's alerts still firing, for one recipient."""
    n = len(items)
    subj = _one_line(f"[{hotline.label} KPI] {w('digest_subject', lang).format(n=n)}")
    ctx = {
        "L": words(lang), "html_lang": "zh-CN" if lang == "zh" else "en", "subject": subj,
        "headline": w("digest_headline", lang).format(hotline=_hotline_name(hotline, lang), n=n),
        "alerts": [{"severity": w(i.severity, lang), "severity_class": i.severity, "headline": i.headline,
                    "fired_at": _local(i.fired_at, hotline.zone)} for i in items],
        "links": links.for_hotline(hotline.id, lang),
        "footer": w("footer", lang),
    }
    text, html = _render(templates.DIGEST_TEXT, templates.DIGEST_HTML, ctx)
    return Content(subj, text, html)


def render_test(*, lang: Lang, label: str, at: dt.datetime, zone: ZoneInfo) -> Content:
    subj = _one_line(f"[{label} KPI][{w('test', lang)}] {w('test_headline', lang)}")
    ctx = {"html_lang": "zh-CN" if lang == "zh" else "en", "subject": subj, "headline": w("test_headline", lang),
           "body": w("test_body", lang).format(at=_local(at, zone)), "footer": w("footer", lang)}
    text, html = _render(templates.TEST_TEXT, templates.TEST_HTML, ctx)
    return Content(subj, text, html)
