"""The scoreboard and projection tables and the budget line, in the output language."""

from __future__ import annotations

import datetime as dt

from rich.table import Table

from hotline_kpi.cli.app import App
from hotline_kpi.domain import Status, Window
from hotline_kpi.evaluate import Scoreboard, WindowResult
from hotline_kpi.formatting import fmt_required, fmt_target, fmt_value, paren
from hotline_kpi.i18n import Lang, t


_STATUS_STYLE = {Status.MET: "green", Status.BREACHED: "bold red", Status.NO_DATA: "yellow", Status.TRACKED: "dim"}
_TABLE_WINDOWS = (Window.DAY, Window.TRAILING_30D, Window.MONTH_TO_DATE, Window.QUARTER_TO_DATE, Window.YEAR_TO_DATE)


def render_scoreboard(sb: Scoreboard, app: App) -> Table:
    lang = app.lang
    cat = app.catalogues.for_year(sb.hotline_id, sb.as_of.year)
    hotline = cat.hotline
    title = t("scoreboard_title", lang, hotline=hotline.name if lang == "zh" else hotline.name_en, as_of=sb.as_of)
    comp = sb.completeness
    colon = "：" if lang == "zh" else ": "
    day = sb.data_date
    shown = "—" if day is None else (f"{day.year}年{day.month}月{day.day}日" if lang == "zh" else str(day))
    caption = (f"{t('data_date', lang)}{colon}{shown} · {t('completeness', lang)}{colon}"
               f"{comp.days_with_data}/{comp.days_elapsed}{paren(f'{100 * comp.ratio:.1f}%', lang)}")
    table = Table(title=title, caption=caption)
    table.add_column(t("indicator", lang))
    table.add_column(t("target", lang))
    for w in _TABLE_WINDOWS:
        table.add_column(t(w.value, lang), justify="right")
    table.add_column(t("status", lang) + paren(t("year_to_date", lang), lang))
    by_key = {(r.indicator_id, r.window): r for r in sb.results}
    for ind in cat.quantitative:
        ytd: WindowResult = by_key[(ind.id, Window.YEAR_TO_DATE)]
        name = ind.display_name(lang)
        target = fmt_target(ind, lang)
        cells = [fmt_value(by_key[(ind.id, w)].value, ind.unit, lang) for w in _TABLE_WINDOWS]
        status = f"[{_STATUS_STYLE[ytd.status]}]{t(ytd.status.value, lang)}[/]"
        if ytd.pace is not None and ytd.value is not None:
            pace = f"{t('pace', lang)} {ytd.pace:,.0f}"
            if ytd.shortfall:
                pace += f"{'，' if lang == 'zh' else ', '}{t('shortfall', lang)} {ytd.shortfall:,.0f}"
            status += paren(pace, lang)
        table.add_row(name, target, *cells, status)
    return table


def budget_line(e, as_of: dt.date, lang: Lang) -> str:  # noqa: ANN001 - report.build.Execution
    """Budget execution to the as-of month in one line (figures in 万元, as the office reports them)."""
    rate = "—" if e.rate is None else f"{100 * e.rate:.2f}%"
    cost = "—" if e.cost_per_request is None else f"{e.cost_per_request:.2f}"
    wan = lambda yuan: f"{yuan / 10_000:,.2f}"  # noqa: E731
    if lang == "zh":
        return (f"预算执行（截至{as_of.month}月）：执行率 {rate}，已执行 {wan(e.executed_yuan)} 万元 / 全年预算 "
                f"{wan(e.budget_yuan)} 万元（均衡进度 {wan(e.even_pace_yuan(as_of.month))} 万元）；每件受理成本 {cost} 元")
    return (f"Budget execution (to month {as_of.month}): {rate}, spent {wan(e.executed_yuan)} of "
            f"{wan(e.budget_yuan)} 10k yuan (even pace {wan(e.even_pace_yuan(as_of.month))}); cost per request {cost} yuan")


_PACE_STYLE = {"on_track": "green", "secured": "bold green", "at_risk": "bold red", "cannot_be_met": "bold red",
               "insufficient_data": "yellow"}


def render_projections(projections, app: App, sb: Scoreboard) -> Table:  # noqa: ANN001
    lang = app.lang
    cat = app.catalogues.for_year(sb.hotline_id, sb.as_of.year)
    table = Table(title=t("projection_title", lang, year=sb.as_of.year))
    for key in ("indicator", "target", "projected", "interval", "pace_status", "required", "budget", "burn_7d",
                "burn_30d"):
        table.add_column(t(key, lang), justify="left" if key in ("indicator", "target", "pace_status") else "right")
    notes: dict[str, list[str]] = {}
    for p in projections:
        ind = cat.indicator(p.indicator_id)
        interval = ("—" if p.interval_low is None else
                    f"{fmt_value(p.interval_low, ind.unit, lang)} – {fmt_value(p.interval_high, ind.unit, lang)}")
        pace = f"[{_PACE_STYLE.get(p.pace_status.value, '')}]{t(p.pace_status.value, lang)}[/]"
        required = fmt_required(p.required_value, p.required_unit, ind.unit, lang) or "—"
        budget = "—" if p.budget_remaining is None else f"{p.budget_remaining:,.0f} {t('unit_' + p.budget_unit, lang)}"
        burn = ["—" if b is None else f"{b:.2f}" for b in (p.burn_rate_7d, p.burn_rate_30d)]
        table.add_row(ind.display_name(lang), fmt_target(ind, lang),
                      fmt_value(p.projected_value, ind.unit, lang), interval, pace, required, budget, *burn)
        note = p.note_zh if lang == "zh" else p.note_en
        if note:
            notes.setdefault(note, []).append(ind.display_name(lang))
    sep, colon = ("、", "：") if lang == "zh" else (", ", ": ")
    lines = [note if len(names) == len(projections) else f"{sep.join(names)}{colon}{note}"
             for note, names in notes.items()]
    if lines:
        table.caption = "\n".join(lines)
    return table
