"""The league table as the service shows it: built from the latest evaluation of every
hotline (the exporter's cached snapshots), once per evaluation, never per request.

:class:`LeagueBoard` turns the snapshots into :func:`hotline_kpi.league.build_league`'s
input (each window's summed counters, the hotline's province from the catalogue, the
self-evaluation score of the window's quantitative indicators) and keeps the result,
its JSON (``/api/v1/league``) and its page section per window until a snapshot changes.
The metrics are :mod:`hotline_kpi.service.league_metrics`'.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, Mapping

from hotline_kpi.catalogue import CatalogueSet, Indicator
from hotline_kpi.domain import WINDOWS
from hotline_kpi.formatting import fmt_value
from hotline_kpi.i18n import Lang, _, t
from hotline_kpi.league import (
    DIRECTIONS,
    NO_DATA,
    NOT_COMPARABLE,
    NOT_PUBLISHED,
    OTHER_YEAR,
    VOLUME,
    Figure,
    HotlineFigures,
    League,
    Peer,
    PeerFigure,
    Place,
    build_league,
)
from hotline_kpi.report.scoring import Scored, quantitative_score, total_score
from hotline_kpi.scoring_rules import ScoringRules
from hotline_kpi.service.exposition import Compressed
from hotline_kpi.service.snapshots import Snapshot
from hotline_kpi.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_WINDOW = "year_to_date"
LEAGUE_WINDOWS: tuple[str, ...] = tuple(w.value for w in WINDOWS)


def peers_from_settings(settings: Settings) -> tuple[Peer, ...]:
    """The peer of the benchmark file (report.benchmark_file) as the league's peer; none
    when no file is set or it cannot be read (the report says why; the league goes on)."""
    from hotline_kpi.report.inputs import load_benchmark

    path = settings.report.benchmark_file
    if path is None:
        return ()
    try:
        b = load_benchmark(path)
    except Exception as exc:  # noqa: BLE001 - a bad benchmark must not stop the service
        log.warning("league: benchmark %s not read: %s", path, exc)
        return ()
    # Every figure: one matching none of our indicators (解决率, 来电量) is shown with its definition.
    figs = tuple(PeerFigure(f.indicator or "", f.value, f.comparable, f.difference, f.published, f.label)
                 for f in b.figures)
    return (Peer(b.peer_short or b.peer, b.year, b.source.strip(), figs, tuple(b.not_published)),)


def window_score(indicators: tuple[Indicator, ...], doc: Any, window: str, rules: ScoringRules) -> float | None:
    """The self-evaluation's score of the quantitative indicators over ``window``
    (docs/report.md: actual / target x weight, reverse target / actual x weight, capped;
    rescaled to 100 over their weights). The budget and the qualitative rows need the
    office's input and are left out. None when no scored indicator has a value."""
    scored: list[Scored] = []
    any_value = False
    for ind in indicators:
        if ind.tracked_only or ind.weight <= 0 or ind.comparator is None:
            continue
        r = doc.result(ind.id, window)
        if r is None or r.value is None or r.target is None:
            scored.append(Scored(ind.id, ind.weight, None if rules.no_data == "not_applicable" else 0.0))
            continue
        any_value = True
        scored.append(Scored(ind.id, ind.weight, quantitative_score(r.value, r.target, ind.comparator, ind.weight,
                                                                     rules)))
    return total_score(scored, rules).total if any_value else None


def hotline_figures(snap: Snapshot, catalogues: CatalogueSet, window: str, rules: ScoringRules
                    ) -> tuple[HotlineFigures, dict[str, Indicator]] | None:
    doc = snap.doc
    if doc.as_of is None:
        return None
    cat = catalogues.get(snap.hotline_id, doc.as_of.year)  # the service's set loads a new file here
    if cat is None:
        log.warning("%s", _("league: no target catalogue for {hotline} in {year}: its evaluation is not listed",
                            hotline=snap.hotline_id, year=doc.as_of.year))
        return None
    figures: dict[str, Figure] = {}
    names: dict[str, Indicator] = {}
    for ind in cat.quantitative:
        r = doc.result(ind.id, window)
        if ind.formula is None or r is None or r.numerator is None:
            continue
        figures[ind.formula] = Figure(r.numerator, r.denominator, r.days_with_data)
        names.setdefault(ind.formula, ind)
    h = cat.hotline
    return (HotlineFigures(h.id, h.name, h.province, figures, window_score(cat.quantitative, doc, window, rules),
                           doc.as_of.isoformat(), h.name_en), names)


class LeagueBoard:
    """The league of the latest snapshots, per window, kept until a snapshot changes."""

    def __init__(self, catalogues: CatalogueSet, rules: ScoringRules = ScoringRules(), peers: tuple[Peer, ...] = ()):
        self.catalogues, self.rules, self.peers = catalogues, rules, peers
        self._lock = threading.Lock()
        self._key: tuple[tuple[tuple[str, int], ...], int] | None = None
        self._cache: dict[tuple[str, str], Any] = {}
        #: indicator (formula id) -> the catalogue's indicator that names it
        self.names: dict[str, Indicator] = {}
        #: how many leagues were built (tests: once per evaluation, not per request)
        self.builds = 0

    @classmethod
    def from_settings(cls, settings: Settings, catalogues: CatalogueSet) -> "LeagueBoard":
        return cls(catalogues, settings.report.scoring, peers_from_settings(settings))

    def _memo(self, snapshots: Mapping[str, Snapshot], kind: str, window: str, make: Any) -> Any:
        # A catalogue loaded again while serving (service/catalogues.py) may list a new hotline.
        key = (tuple(sorted((hid, s.id) for hid, s in snapshots.items())), getattr(self.catalogues, "reloads", 0))
        with self._lock:
            if key != self._key:
                self._key, self._cache = key, {}
            if (kind, window) not in self._cache:
                self._cache[(kind, window)] = make()
            return self._cache[(kind, window)]

    def league(self, snapshots: Mapping[str, Snapshot], window: str = DEFAULT_WINDOW) -> League:
        def make() -> League:
            entries = []
            for _hid, snap in sorted(snapshots.items()):
                got = hotline_figures(snap, self.catalogues, window, self.rules)
                if got is not None:
                    entries.append(got[0])
                    for k, v in got[1].items():
                        self.names.setdefault(k, v)
            # A configured hotline without any evaluation (no data yet) is listed, not ranked.
            for h in self.catalogues.hotlines():
                if h.id not in snapshots:
                    entries.append(HotlineFigures(h.id, h.name, h.province, {}, None, None, h.name_en))
            self.builds += 1
            return build_league(window, entries, self.peers)

        return self._memo(snapshots, "league", window, make)

    def json(self, snapshots: Mapping[str, Snapshot], window: str = DEFAULT_WINDOW) -> dict[str, Any]:
        league = self.league(snapshots, window)
        return self._memo(snapshots, "json", window, lambda: league_to_json(league, self.catalogues))

    def answer(self, snapshots: Mapping[str, Snapshot], window: str = DEFAULT_WINDOW) -> Compressed:
        """/api/v1/league's answer for ``window``: the JSON encoded and gzip-compressed once
        per evaluation (the default window right after the refresh that saw it), never per request."""
        doc = self.json(snapshots, window)  # outside _memo: its lock is not re-entrant

        def make() -> Compressed:
            body = json.dumps(doc, ensure_ascii=False, allow_nan=False, indent=None,
                              separators=(",", ":")).encode("utf-8")
            return Compressed.of(body, "application/json")

        return self._memo(snapshots, "answer", window, make)

    def section(self, snapshots: Mapping[str, Snapshot], lang: Lang, window: str = DEFAULT_WINDOW
                ) -> dict[str, Any] | None:
        """The status page's league section (two hotlines or more), in ``lang``."""
        if len(snapshots) < 2:
            return None
        league = self.league(snapshots, window)
        return self._memo(snapshots, f"section-{lang}", window, lambda: page_section(league, self, lang))


def _place_json(p: Place | None) -> dict[str, Any] | None:
    if p is None:
        return None
    out: dict[str, Any] = {"value": p.value, "rank": p.rank}
    if p.unranked:
        out["unranked"] = p.unranked
    if p.figure is not None:
        out.update(numerator=p.figure.numerator, denominator=p.figure.denominator,
                   days_with_data=p.figure.days_with_data)
    return out


def _peer_figure_json(f: PeerFigure) -> dict[str, Any]:
    return {"label": f.label, "value": f.value, "comparable": f.comparable, "definition": f.definition,
            "published": f.published}


def league_to_json(league: League, catalogues: CatalogueSet) -> dict[str, Any]:
    """The league as /api/v1/league serves it (docs/league.md)."""
    return {
        "window": league.window, "year": league.year,
        "as_of": None if league.as_of is None else {"first": league.as_of[0], "last": league.as_of[1]},
        "indicators": [{"id": i, "higher_is_better": DIRECTIONS.get(i), "ranked": DIRECTIONS.get(i) is not None}
                       for i in league.indicators],
        "hotlines": [{"hotline": h.hotline_id, "name": h.name,
                      "name_en": h.name_en or None,
                      "province": h.province or None, "as_of": h.as_of, "score": h.score, "score_rank": h.score_rank,
                      "indicators": {i: _place_json(h.places[i]) for i in league.indicators}}
                     for h in league.hotlines],
        "provinces": [{"province": p.province, "hotlines": list(p.hotlines),
                       "indicators": {i: _place_json(p.places[i]) for i in league.indicators}}
                      for p in league.provinces],
        "without_province": list(league.without_province),
        "peers": [{"peer": p.name, "published_figures": True, "year": p.year, "source": p.source,
                   "indicators": {i: {**(_place_json(pl) or {}),
                                      **({"comparable": p.figures[i].comparable, "definition": p.figures[i].definition,
                                          "published": p.figures[i].published} if i in p.figures else {})}
                                  for i, pl in p.places.items()},
                   "other_figures": [_peer_figure_json(f) for f in p.others]}
                  for p in league.peers],
    }


def _cell(p: Place | None, unit: str, lang: Lang, peer: bool = False, year: int | None = None) -> dict[str, str]:
    if p is not None and p.unranked == NOT_PUBLISHED:
        return {"text": "—", "rank": "", "note": _("no published figure", lang=lang), "class": NOT_PUBLISHED}
    if p is not None and p.unranked == OTHER_YEAR:
        return {"text": fmt_value(p.value, unit, lang), "rank": "",
                "note": _("not of {year}, not ranked", lang=lang, year=year), "class": OTHER_YEAR}
    if p is None or p.value is None:
        return {"text": "—", "rank": "", "note": _("no data, not ranked", lang=lang), "class": NO_DATA}
    text = fmt_value(p.value, unit, lang)
    if p.unranked == VOLUME:
        return {"text": text, "rank": "", "note": _("a volume, not ranked", lang=lang), "class": VOLUME}
    if p.unranked == NOT_COMPARABLE:
        return {"text": text, "rank": "", "note": _("defined otherwise, not ranked", lang=lang), "class": NOT_COMPARABLE}
    rank = (_("would be No. {rank}", lang=lang, rank=p.rank) if peer else _("No. {rank}", lang=lang, rank=p.rank))
    return {"text": text, "rank": rank, "note": "", "class": "ranked"}


def page_section(league: League, board: LeagueBoard, lang: Lang) -> dict[str, Any]:
    inds = [(i, board.names.get(i)) for i in league.indicators]
    heads = [{"id": i, "name": ind.display_name(lang) if ind else i, "unit": ind.unit if ind else ""} for i, ind in inds]
    units = {h["id"]: h["unit"] for h in heads}
    none = _("not given", lang=lang)
    rows = [{"id": h.hotline_id, "name": h.name if lang == "zh" else (h.name_en or h.name),
             "province": h.province or none,
             "as_of": _as_of_text(h.as_of, lang),
             "score": "—" if h.score is None else f"{h.score:.2f}",
             "score_rank": "—" if h.score_rank is None else str(h.score_rank),
             "cells": [{"indicator": i, **_cell(h.places[i], units[i], lang, year=league.year)}
                       for i in league.indicators]}
            for h in league.hotlines]
    provinces = [{"name": p.province, "count": len(p.hotlines),
                  "cells": [{"indicator": i, **_cell(p.places[i], units[i], lang)} for i in league.indicators]}
                 for p in league.provinces]
    peers = [{"name": p.name, "year": p.year, "source": p.source,
              "label": _("{peer} (published figures, {year})", lang=lang, peer=p.name, year=p.year),
              "note": _("{peer}: published figures of {year}, not evaluated here and in no province; source: {source}",
                        lang=lang, peer=p.name, year=p.year, source=p.source or "—"),
              "cells": [{"indicator": i, **_cell(p.places.get(i), units[i], lang, peer=True)}
                        for i in league.indicators],
              "definitions": [{"name": next(h["name"] for h in heads if h["id"] == i), "published": f.published,
                               "definition": f.definition} for i, f in p.figures.items()]
                             + [{"name": f.label or f.indicator, "published": f.published, "definition": f.definition}
                                for f in p.others]}
             for p in league.peers]
    if league.as_of is None:
        as_of = ""
    elif league.as_of[0] == league.as_of[1]:
        as_of = _("as of {day}", lang=lang, day=_as_of_text(league.as_of[0], lang))
    else:
        as_of = _("as of {first} to {last}", lang=lang, first=_as_of_text(league.as_of[0], lang),
                  last=_as_of_text(league.as_of[1], lang))
    return {"window": t(league.window, lang), "indicators": heads, "rows": rows, "provinces": provinces,
            "peers": peers, "year": league.year or "", "as_of": as_of}


def _as_of_text(iso: str | None, lang: Lang) -> str:
    """An ISO date as the office writes it: 2019年1月2日 (English: 2019-01-02)."""
    if iso is None:
        return "—"
    y, m, d = (int(x) for x in iso.split("-"))
    return f"{y}年{m}月{d}日" if lang == "zh" else iso
