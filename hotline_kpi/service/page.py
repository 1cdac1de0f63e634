"""The status page, the office's first screen: built when what it shows changed (checked
at each refresh of the exporter's cache), never per request.

:class:`StatusPage` listens to :class:`~hotline_kpi.service.exporter.MetricsCache`: after
each refresh it reads what the page shows beyond the snapshots (alerts firing and
pending, the last file of each source, the quarantined files' sources) and, when any
input changed (:meth:`StatusPage._inputs`), renders the page in both languages; requests
get those bytes. The daily counters behind the trends
and the daily download are read again only when an evaluation changed. When the store
cannot be read, the last good figures stay and the not-ready banner says why.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from hotline_kpi import __version__
from hotline_kpi.alerts.content import daily_figures, source_name
from hotline_kpi.alerts.outbox import AlertView, list_alerts, summary
from hotline_kpi.alerts.rules import AlertsConfig, Condition
from hotline_kpi.catalogue import CatalogueSet, Indicator
from hotline_kpi.domain import Comparator, DailyCounters, Status, Window, days_in_year
from hotline_kpi.forecast import PaceStatus
from hotline_kpi.formatting import fmt_required, fmt_threshold, fmt_value
from hotline_kpi.i18n import Lang, _, localize, t
from hotline_kpi.service.exporter import MetricsCache, MetricsModel
from hotline_kpi.service.exposition import Compressed
from hotline_kpi.service.kpi_render import YIELD_SECONDS
from hotline_kpi.service.metrics_model import Markers
from hotline_kpi.service.league import LeagueBoard
from hotline_kpi.service.snapshots import Snapshot
from hotline_kpi.service import wording
from hotline_kpi.service.trend import TrendPoint, svg
from hotline_kpi.settings import Settings
from hotline_kpi.snapshot import ProjectionDoc, ResultDoc
from hotline_kpi.store import sums
from hotline_kpi.store.db import read_session
from hotline_kpi.store.models import IngestAttemptRow, IngestRow

log = logging.getLogger(__name__)

PAGE_WINDOWS = ("day", "trailing_7d", "month_to_date", "quarter_to_date", "year_to_date")
#: Days of daily values a trend draws.
TREND_DAYS = 90
#: The page is rebuilt at least this often when nothing it shows changed (the ages on it).
PAGE_MAX_AGE_SECONDS = 300
#: Data this many days behind today is stale when no no_data rule says otherwise.
DEFAULT_STALE_DAYS = 2.0
#: Comparators as the office writes them (不低于 ≥, 不高于 ≤, 低于 ＜).
SIGNS = {"zh": {">=": "≥", ">": "＞", "<=": "≤", "<": "＜"}, "en": {">=": "≥", ">": ">", "<=": "≤", "<": "<"}}
_NUMBERED = re.compile(r"^(.*)\.\d+(\.[^.]+)?$")


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


@dataclass(frozen=True)
class PageData:
    """What the page reads besides the snapshots, all in one read."""

    alerts: tuple[AlertView, ...] = ()
    #: (hotline, source) -> (file name, when loaded): the last file loaded
    last_files: Mapping[tuple[str, str], tuple[str, dt.datetime]] = field(default_factory=dict)
    #: (hotline, source) -> quarantined files still in the quarantine folder
    quarantined: Mapping[tuple[str, str], int] = field(default_factory=dict)
    #: hotline -> the daily counters from the trend's first day (or 1 January) to the as-of date
    counters: Mapping[str, tuple[DailyCounters, ...]] = field(default_factory=dict)
    #: the snapshots the counters were read for: (hotline, snapshot id)
    counters_key: tuple[tuple[str, int], ...] = ()
    #: the store's change markers the alerts and files were read at, and the quarantine
    #: listing: read again only when one of them moved (metrics_model.Markers)
    markers: Markers | None = None
    waiting: tuple[str, ...] | None = None
    #: how many times the alerts and files were read (tests: not at every refresh)
    reads: int = 0


def quarantine_files(folder: os.PathLike[str] | str) -> list[str]:
    """The files waiting in quarantine (their error notes and done markers aside)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(n for n in names if not n.endswith((".error.txt", ".done")) and not n.startswith("."))


def counters_span(snap: Snapshot) -> tuple[dt.date, dt.date]:
    """The days of counters the page keeps for a snapshot: its year to date and the trend's days."""
    as_of = snap.as_of
    return min(dt.date(as_of.year, 1, 1), as_of - dt.timedelta(days=TREND_DAYS - 1)), as_of


def read_page_data(engine: Engine, model: MetricsModel, quarantine_dir: os.PathLike[str] | str, default_hotline: str,
                   before: PageData) -> PageData:
    """What the page shows beyond the model. The alerts (about three per hotline, with
    their figures), the last file of each source and the quarantined files are read again
    only when the model's change markers or the quarantine listing moved, and the daily
    counters only when a snapshot changed: a refresh that finds nothing new reads nothing
    here (with 350 hotlines the full read held the interpreter for about half a second at
    every refresh, docs/performance.md)."""
    key = tuple(sorted((hid, snap.id) for hid, snap in model.snapshots.items()))
    waiting = tuple(quarantine_files(quarantine_dir))
    markers = model.markers
    same = markers is not None and markers == before.markers and waiting == before.waiting
    if same and key == before.counters_key:
        return before
    with read_session(engine) as s:
        alerts, last_files, quarantined, reads = before.alerts, before.last_files, before.quarantined, before.reads
        if not same:
            alerts, last_files, quarantined = _read_alerts_and_files(s, waiting, default_hotline)
            reads += 1
        counters = before.counters
        if key != before.counters_key:  # read again only for the hotlines evaluated since
            had = dict(before.counters_key)
            counters = {hid: before.counters[hid] if had.get(hid) == snap.id and hid in before.counters
                        else tuple(sums.daily_counters(s, hid, *counters_span(snap)))
                        for hid, snap in model.snapshots.items()}
    return PageData(alerts, last_files, quarantined, counters, key, markers, waiting, reads)


def _read_alerts_and_files(s: Any, waiting: tuple[str, ...], default_hotline: str) -> tuple[
        tuple[AlertView, ...], dict[tuple[str, str], tuple[str, dt.datetime]], dict[tuple[str, str], int]]:
    alerts = tuple(a for a in list_alerts(s) if a.state in ("firing", "pending"))
    last_ids = select(func.max(IngestRow.id)).group_by(IngestRow.hotline_id, IngestRow.source)
    last_files = {(r.hotline_id, r.source): (r.file_name, r.ingested_at)
                  for r in s.scalars(select(IngestRow).where(IngestRow.id.in_(last_ids)))}
    quarantined: dict[tuple[str, str], int] = {}
    if waiting:
        wanted = {n: (_NUMBERED.sub(r"\1\2", n)) for n in waiting}
        by_name = {name: (hid, src) for name, hid, src in s.execute(
            select(IngestAttemptRow.file_name, IngestAttemptRow.hotline_id, IngestAttemptRow.source)
            .where(IngestAttemptRow.result == "rejected",
                   IngestAttemptRow.file_name.in_(set(wanted) | set(wanted.values())))
            .order_by(IngestAttemptRow.id))}
        for n, plain in wanted.items():
            where = by_name.get(n) or by_name.get(plain) or (default_hotline, "unknown")
            quarantined[where] = quarantined.get(where, 0) + 1
    return alerts, last_files, quarantined


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
                 render: Callable[[Mapping[str, Any]], str],
                 readiness: Callable[[MetricsModel, dt.datetime], tuple[bool, list[str]]],
                 league: LeagueBoard | None = None):
        self.cache, self.settings, self.catalogues, self.now = cache, settings, catalogues, now
        self.league = league
        self.rules = rules
        self._render, self._readiness = render, readiness
        self._lock = threading.Lock()
        self.data = PageData()
        #: the model the page was last built from
        self.model = cache.model
        self.html: dict[Lang, str] = {}
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
                if inputs == self._built_from and self.html:
                    return  # nothing the page shows changed: no rebuild (a refresh is not an evaluation)
                html: dict[Lang, str] = {lang: self._render(self.context(model, self.data, now, lang))
                                         for lang in ("zh", "en")}
                self.answers = {lang: Compressed.of(h.encode("utf-8"), "text/html; charset=utf-8")
                                for lang, h in html.items()}
                self.html = html
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
                    rows = [r for r in self.data.counters.get(hid, ()) if r.day >= first]
                    data = daily_xlsx(rows, first, as_of, lang)
                self._downloads = {k: v for k, v in self._downloads.items() if k[2] == snap.id or k[1] != hid}
                self._downloads[key] = data
            return self._downloads[key]

    # --- the page's context ----------------------------------------------------------

    def context(self, model: MetricsModel, data: PageData, now: dt.datetime, lang: Lang) -> dict[str, Any]:
        ok, reasons = self._readiness(model, now)
        boards = []
        for hid, snap in sorted(model.snapshots.items()):
            if (b := self.board(hid, snap, data, now, lang)) is not None:
                boards.append(b)
            time.sleep(YIELD_SECONDS)  # a waiting request gets the interpreter between boards (kpi_render.py)
        grafana = self.settings.alerts.grafana_url
        league = self.league.section(model.snapshots, lang) if self.league is not None else None
        return {"lang": lang, "boards": boards, "windows": PAGE_WINDOWS, "ready": ok, "league": league,
                "reasons": [localize(r, lang) for r in reasons], "version": __version__, "grafana_url": grafana,
                "generated": moment_text(now, self.settings.zone, lang) + f":{now.astimezone(self.settings.zone):%S}"}

    def board(self, hid: str, snap: Snapshot, data: PageData, now: dt.datetime, lang: Lang) -> dict[str, Any] | None:
        doc = snap.doc
        if doc.as_of is None:
            return None
        cat = self.catalogues.get(hid, doc.as_of.year)
        if cat is None:
            return None
        zone = cat.hotline.zone
        counters = data.counters.get(hid, ())
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
