"""The status page, the office's first screen: built when what it shows changed (checked
at each refresh of the exporter's cache), never per request.

:class:`StatusPage` listens to :class:`~hotline_kpi.service.exporter.MetricsCache`: after
each refresh it reads what the page shows beyond the snapshots (alerts firing and
pending, the last file of each source, the quarantined files' sources) and, when any
input changed (:meth:`StatusPage._inputs`), builds the page in both languages: only the
boards whose own inputs changed are rendered again, the others are kept
(:mod:`~hotline_kpi.service.page_parts`); requests get those bytes. What it reads from the
store: :mod:`~hotline_kpi.service.page_data`. The daily counters behind the trends
and the daily download are read again only when an evaluation changed. When the store
cannot be read, the last good figures stay and the not-ready banner says why.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any, Callable
from zoneinfo import ZoneInfo

from hotline_kpi import __version__
from hotline_kpi.alerts.content import daily_figures, source_name
from hotline_kpi.alerts.outbox import AlertView, summary
from hotline_kpi.alerts.rules import AlertsConfig, Condition
from hotline_kpi.catalogue import CatalogueSet, Indicator
from hotline_kpi.domain import Comparator, DailyCounters, Status, Window, days_in_year
from hotline_kpi.forecast import PaceStatus
from hotline_kpi.formatting import fmt_required, fmt_threshold, fmt_value
from hotline_kpi.i18n import Lang, _, localize, t
from hotline_kpi.service.exporter import MetricsCache, MetricsModel
from hotline_kpi.service.exposition import Compressed
from hotline_kpi.service.league import LeagueBoard
from hotline_kpi.service.page_data import TREND_DAYS, PageData, read_page_data
from hotline_kpi.service.page_parts import BoardCache, PageTemplate, Same
from hotline_kpi.service.snapshots import Snapshot
from hotline_kpi.service import wording
from hotline_kpi.service.trend import TrendPoint, svg
from hotline_kpi.settings import Settings
from hotline_kpi.snapshot import ProjectionDoc, ResultDoc

log = logging.getLogger(__name__)

PAGE_WINDOWS = ("day", "trailing_7d", "month_to_date", "quarter_to_date", "year_to_date")
#: The page is rebuilt at least this often when nothing it shows changed (the ages on it).
PAGE_MAX_AGE_SECONDS = 300
#: Data this many days behind today is stale when no no_data rule says otherwise.
DEFAULT_STALE_DAYS = 2.0
#: Comparators as the office writes them (不低于 ≥, 不高于 ≤, 低于 ＜).
SIGNS = {"zh": {">=": "≥", ">": "＞", "<=": "≤", "<": "＜"}, "en": {">=": "≥", ">": ">", "<=": "≤", "<": "<"}}


def sign(cmp: Comparator | None, lang: Lang) -> str:
    return "" if cmp is None else SIGNS[lang][cmp.value]


def day_text(d: dt.date | None, lang: Lang) -> str:
    """A date as the office writes it: 2019年12月31日 (English: 2019-12-31)."""
    if d is None:
        return "—"
    return f"{d.year}年{d.month}月{d.day}日" if lang == "zh" else d.isoformat()


def moment_text(at: dt.datetime | None, zone: ZoneInfo, lang: Lang) -> str:
    """A moment in the hotline's zone: 2026年12月5日 08:30 (English: 2026-12-05 08:30)."""
    if at is None:
        return "—"
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    local = at.astimezone(zone)
    return f"{day_text(local.date(), lang)} {local:%H:%M}"


def target_text(ind: Indicator, lang: Lang) -> str:
    """The target with its comparator sign: ≥ 90%, ≤ 8 秒, ≥ 4,000,000/年."""
    if not ind.targeted or ind.comparator is None or ind.threshold is None:
        return t("no_target", lang)
    text = f"{sign(ind.comparator, lang)} {fmt_threshold(ind.threshold, ind.unit, lang)}"
    return text + t("per_year", lang) if ind.aggregation == "annual_total" else text


def _status(r: ResultDoc | None) -> str:
    status = None if r is None else r.status
    return (status or Status.NO_DATA).value


def _outlook(pr: ProjectionDoc | None, unit: str, lang: Lang) -> dict[str, str] | None:
    if pr is None:
        return None
    pace = pr.pace_status
    return {"value": fmt_value(pr.projected_value, unit, lang), "status": "" if pace is None else pace.value,
            "status_text": t((pace or PaceStatus.INSUFFICIENT_DATA).value, lang),
            "required": fmt_required(pr.required_value, pr.required_unit, unit, lang) or "",
            "note": pr.note_zh if lang == "zh" else pr.note_en,
            "miss": "" if pr.miss_probability is None else f"{100 * pr.miss_probability:.0f}%"}


class StatusPage:
    """The page's model and its two renderings, rebuilt after each cache refresh."""

    def __init__(self, cache: MetricsCache, settings: Settings, catalogues: CatalogueSet,
                 now: Callable[[], dt.datetime], rules: AlertsConfig | None,
                 template: PageTemplate,
                 readiness: Callable[[MetricsModel, dt.datetime], tuple[bool, list[str]]],
                 league: LeagueBoard | None = None):
        self.cache, self.settings, self.catalogues, self.now = cache, settings, catalogues, now
        self.league = league
        self.rules = rules
        self.template, self._readiness = template, readiness
        self._lock = threading.Lock()
        self.data = PageData()
        #: the model the page was last built from
        self.model = cache.model
        #: each hotline's board per language, rendered again only when what it shows changed
        self.boards = BoardCache()
        #: per language: the league section the HTML was rendered from, and the HTML
        self._league_html: dict[Lang, tuple[Same, str]] = {}
        #: the page's answers (HTML and its gzip copy) per language, made with each build
        self.answers: dict[Lang, Compressed] = {}
        #: the inputs of the last build (see _inputs)
        self._built_from: tuple[Any, ...] | None = None
        #: how many times the page was built (tests: not once per request)
        self.builds = 0
        #: (kind, hotline, snapshot id, language) -> the XLSX bytes, made on first download
        self._downloads: dict[tuple[str, str, int, str], bytes] = {}
        self.update(cache.model)
        cache.listeners.append(self.update)

    def update(self, model: MetricsModel) -> None:
        """Read what the page shows beyond the model and render it; never raises (the
        refresh that calls it must go on): a failed read keeps the last good data."""
        with self._lock:
            if model.database_up:
                try:
                    self.data = read_page_data(self.cache.engine, model, self.settings.quarantine_dir,
                                               self.settings.default_hotline, self.data)
                except Exception as exc:  # noqa: BLE001 - the banner tells; the last good data stays
                    log.warning("status page: could not read the store: %s", exc.__class__.__name__)
            self.model = model
            try:
                now = self.now()
                inputs = self._inputs(model, now)
                if inputs == self._built_from and self.answers:
                    return  # nothing the page shows changed: no rebuild (a refresh is not an evaluation)
                self.answers = {lang: Compressed.of(self.build(model, self.data, now, lang), "text/html; charset=utf-8")
                                for lang in ("zh", "en")}
                self._built_from = inputs
                self.builds += 1
            except Exception:  # noqa: BLE001 - keep serving the last good page
                log.exception("status page: rendering failed")

    def _inputs(self, model: MetricsModel, now: dt.datetime) -> tuple[Any, ...]:
        """What the page is built from. The page is rebuilt when one of them changes (an
        evaluation, an alert, a file loaded or quarantined, the store's health, readiness,
        the day) and otherwise at most every PAGE_MAX_AGE_SECONDS, for the ages it shows
        (days since a source's last file): with 350 hotlines a build is seconds of work
        that held the interpreter at every refresh (docs/performance.md)."""
        d = self.data
        return (tuple(sorted((hid, snap.id) for hid, snap in model.snapshots.items())), d.alerts,
                tuple(sorted(d.last_files.items())), tuple(sorted(d.quarantined.items())), model.database_up,
                model.error, self._readiness(model, now), now.astimezone(self.settings.zone).date(),
                int(now.timestamp() // PAGE_MAX_AGE_SECONDS))

    def download(self, kind: str, hid: str, lang: Lang) -> bytes | None:
        """The scoreboard (``kind`` "scoreboard") or the daily counters of the year to date
        ("daily") of the hotline's last evaluation as XLSX; made once per evaluation, from
        what the page already holds (no request reads the store). None: no such evaluation."""
        from hotline_kpi.workbooks import daily_xlsx, scoreboard_xlsx

        snap = self.model.snapshots.get(hid)
        if snap is None or snap.doc.as_of is None:
            return None
        key = (kind, hid, snap.id, lang)
        with self._lock:
            if key not in self._downloads:
                as_of = snap.doc.as_of
                if kind == "scoreboard":
                    cat = self.catalogues.get(hid, as_of.year)
                    if cat is None:
                        return None
                    data = scoreboard_xlsx(snap.doc, cat, lang)
                else:
                    first = dt.date(as_of.year, 1, 1)
                    rows = [r for r in self.data.counters_of(hid) if r.day >= first]
                    data = daily_xlsx(rows, first, as_of, lang)
                self._downloads = {k: v for k, v in self._downloads.items() if k[2] == snap.id or k[1] != hid}
                self._downloads[key] = data
            return self._downloads[key]

    def build(self, model: MetricsModel, data: PageData, now: dt.datetime, lang: Lang) -> bytes:
        """The page in ``lang``: the boards whose key (:meth:`board_key`) changed rendered
        again, the others and the league section kept (page_parts.py); the same bytes as
        :meth:`render_whole`. With 350 hotlines rendering every board held the serving
        process for 18-27 s at each change (docs/performance.md)."""
        ctx = self.context(model, data, now, lang, boards=False)
        alerts: dict[str, list[AlertView]] = {}
        for a in data.alerts:
            alerts.setdefault(a.hotline_id, []).append(a)
        boards = []
        for hid, snap in sorted(model.snapshots.items()):
            key = self.board_key(hid, snap, data, now, lang, tuple(alerts.get(hid, ())))
            html = self.boards.get(hid, lang, key, lambda: self._board_html(ctx, hid, snap, data, now, lang))
            if html is not None:
                boards.append(html)
        self.boards.keep_only(set(model.snapshots))
        league = self._league_html.get(lang)
        if league is None or league[0] != Same(ctx["league"]):
            league = self._league_html[lang] = (Same(ctx["league"]), self.template.league(ctx))
        return self.template.assemble(ctx, league[1], boards)

    def render_whole(self, model: MetricsModel, data: PageData, now: dt.datetime, lang: Lang) -> bytes:
        """The page rendered whole, every board from its context (the reference of :meth:`build`)."""
        return self.template.render(self.context(model, data, now, lang)).encode("utf-8")

    def board_key(self, hid: str, snap: Snapshot, data: PageData, now: dt.datetime, lang: Lang,
                  alerts: tuple[AlertView, ...]) -> tuple[Any, ...]:
        """Everything a board shows that can change while serving: its snapshot, catalogue,
        daily counters and alerts, its sources as shown (with the ages of their last files)
        and today in the hotline's zone. The settings and rules are fixed for the page's life."""
        cat = None if snap.doc.as_of is None else self.catalogues.get(hid, snap.doc.as_of.year)
        if cat is None:
            return (snap.id, None)
        zone = cat.hotline.zone
        return (snap.id, snap.evaluated_at, Same(cat), Same(data.counters.get(hid)), alerts,
                self.sources(hid, data, now, zone, lang), now.astimezone(zone).date())

    def _board_html(self, ctx: dict[str, Any], hid: str, snap: Snapshot, data: PageData, now: dt.datetime,
                    lang: Lang) -> bytes | None:
        b = self.board(hid, snap, data, now, lang)
        return None if b is None else self.template.board(ctx, b)

    # --- the page's context ----------------------------------------------------------

    def context(self, model: MetricsModel, data: PageData, now: dt.datetime, lang: Lang,
                boards: bool = True) -> dict[str, Any]:
        """The page's context; without ``boards`` the page around them (build() keeps them)."""
        ok, reasons = self._readiness(model, now)
        shown = [b for hid, snap in sorted(model.snapshots.items())
                 if (b := self.board(hid, snap, data, now, lang)) is not None] if boards else []
        grafana = self.settings.alerts.grafana_url
        league = self.league.section(model.snapshots, lang) if self.league is not None else None
        return {"lang": lang, "boards": shown, "windows": PAGE_WINDOWS, "ready": ok, "league": league,
                "reasons": [localize(r, lang) for r in reasons], "version": __version__,
                "grafana_links": wording.grafana_links(grafana, lang),
                "generated": moment_text(now, self.settings.zone, lang) + f":{now.astimezone(self.settings.zone):%S}"}

    def board(self, hid: str, snap: Snapshot, data: PageData, now: dt.datetime, lang: Lang) -> dict[str, Any] | None:
        doc = snap.doc
        if doc.as_of is None:
            return None
        cat = self.catalogues.get(hid, doc.as_of.year)
        if cat is None:
            return None
        zone = cat.hotline.zone
        counters = data.counters_of(hid)
        rows = [self.row(ind, doc, counters, lang) for ind in cat.quantitative]
        comp = doc.completeness
        pct = f"{100 * (comp.ratio or 0):.1f}%"
        sources = self.sources(hid, data, now, zone, lang)
        today = now.astimezone(zone).date()
        lag = None if doc.data_date is None else (today - doc.data_date).days
        limits = [r.after_days for r in self._no_data_rules(hid) if r.after_days is not None]
        limit = min(limits) if limits else DEFAULT_STALE_DAYS
        overdue = [s for s in sources if s["overdue"]]
        stale = None
        if (lag is not None and lag > limit) or overdue:
            stale = {"text": _("Data out of date: the latest data is of {data_date}, today is {today}: {days} day(s) "
                               "behind.", lang=lang, data_date=day_text(doc.data_date, lang),
                               today=day_text(today, lang), days=lag if lag is not None else "—"),
                     "sources": [s["overdue_text"] for s in overdue]}
        return {
            "hotline": cat.hotline.name if lang == "zh" else cat.hotline.name_en, "id": hid,
            "as_of": doc.as_of.isoformat(), "as_of_text": day_text(doc.as_of, lang),
            "data_date": "—" if doc.data_date is None else doc.data_date.isoformat(),
            "data_date_text": day_text(doc.data_date, lang),
            "completeness": f"{comp.days_with_data}/{comp.days_elapsed}",
            "completeness_pct": f"（{pct}）" if lang == "zh" else f" ({pct})",
            "evaluated_at": moment_text(snap.evaluated_at, zone, lang), "rows": rows, "stale": stale,
            "alerts": self.alerts(hid, data, zone, lang), "sources": sources,
            "downloads": [(_("Scoreboard (XLSX)", lang=lang), f"/download/scoreboard.xlsx?hotline={hid}&lang={lang}",
                           "scoreboard"),
                          (_("Daily counters of the year (XLSX)", lang=lang),
                           f"/download/daily.xlsx?hotline={hid}&lang={lang}", "daily")],
        }

    def row(self, ind: Indicator, doc: Any, counters: tuple[DailyCounters, ...], lang: Lang) -> dict[str, Any]:
        cells = []
        for w in PAGE_WINDOWS:
            r = doc.result(ind.id, w)
            cells.append({"window": w, "label": t(w, lang), "status": _status(r),
                          "text": fmt_value(None if r is None else r.value, ind.unit, lang)})
        ytd = doc.result(ind.id, Window.YEAR_TO_DATE)
        return {"id": ind.id, "name": ind.display_name(lang), "target": target_text(ind, lang), "cells": cells,
                "status": _status(ytd), "status_text": t(_status(ytd), lang),
                "projected": _outlook(doc.projection(ind.id), ind.unit, lang),
                "trend": self.trend(ind, doc.as_of, counters, lang)}

    def trend(self, ind: Indicator, as_of: dt.date, counters: tuple[DailyCounters, ...], lang: Lang) -> Any:
        if ind.formula is None:
            return None
        start = as_of - dt.timedelta(days=TREND_DAYS - 1)
        days = daily_figures(counters, ind, ind.formula_for(self.settings.formulas), start, as_of)
        target = ind.threshold if ind.targeted else None
        if target is not None and ind.aggregation == "annual_total":
            target = target / days_in_year(as_of.year)
        known = [d for d in days if d.value is not None]
        last = known[-1] if known else None
        label = wording.trend_label(
            ind.display_name(lang), TREND_DAYS,
            (f"{sign(ind.comparator, lang)} {fmt_threshold(round(target), ind.unit, lang)}" + t("per_day", lang)
             if ind.aggregation == "annual_total" else f"{sign(ind.comparator, lang)} "
             f"{fmt_threshold(target, ind.unit, lang)}") if target is not None else None,
            fmt_value(last.value, ind.unit, lang) if last else None, day_text(last.day if last else None, lang), lang)
        above = None if ind.comparator is None or target is None else ind.comparator.higher_is_better
        return svg([TrendPoint(d.day, d.value) for d in days], target, label, above)

    def alerts(self, hid: str, data: PageData, zone: ZoneInfo, lang: Lang) -> list[dict[str, Any]]:
        out = []
        for a in data.alerts:
            if a.hotline_id != hid:
                continue
            rule = self.rules.rule(a.rule_id) if self.rules else None
            firing = a.state == "firing"
            since = a.fired_at if firing and a.fired_at else a.since
            held = ""
            if not firing and rule is not None:
                held = _("held on {held} of {needed} evaluated day(s)", lang=lang, held=a.held_days, needed=rule.for_)
            out.append({"rule": a.rule_id, "state": a.state, "state_text": t(a.state, lang),
                        "severity": a.severity, "severity_text": t(a.severity, lang),
                        "headline": summary(self.catalogues, hid, a.figures, lang) or a.rule_id,
                        "since": _("since {at}", lang=lang, at=moment_text(since, zone, lang)), "held": held,
                        "note": rule.note if rule is not None else "", "order": (not firing, a.severity != "critical",
                                                                                 since or dt.datetime.min)})
        out.sort(key=lambda x: (x["order"][0], x["order"][1], str(x["order"][2])))
        return out

    def _no_data_rules(self, hid: str) -> list[Any]:
        if self.rules is None:
            return []
        return [r for r in self.rules.rules if r.condition is Condition.NO_DATA and r.applies_to(hid)]

    def sources(self, hid: str, data: PageData, now: dt.datetime, zone: ZoneInfo, lang: Lang) -> list[dict[str, Any]]:
        rules = {r.source: r for r in self._no_data_rules(hid)}
        names = sorted(set(rules) | {src for h, src in data.last_files if h == hid}
                       | {src for h, src in data.quarantined if h == hid})
        out = []
        for src in names:
            last = data.last_files.get((hid, src))
            rule = rules.get(src)
            days = None if last is None else (now - last[1]).total_seconds() / 86400
            overdue = rule is not None and rule.after_days is not None and days is not None and days > rule.after_days
            shown = wording.source_title(src, source_name(src, lang), lang)
            waiting = data.quarantined.get((hid, src), 0)
            at = moment_text(last[1], zone, lang) if last else ""
            out.append({
                "source": src, "name": shown, "file": last[0] if last else "", "at": at, "quarantined": waiting,
                "quarantined_text": wording.waiting_text(src, waiting, lang),
                "last_text": wording.last_file_text(src, last[0] if last else None, at, lang),
                "overdue": overdue,
                "overdue_text": "" if not overdue else wording.overdue_text(
                    shown, days, rule.after_days, lang),  # type: ignore[arg-type,union-attr]
            })
        return out
