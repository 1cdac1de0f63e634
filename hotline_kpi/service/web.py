"""HTTP on one port: /metrics, /healthz, /readyz, /api/v1/scoreboard, /api/v1/league and the status page
(built when what it shows changed by :mod:`hotline_kpi.service.page`).

Read-only: every route answers GET and HEAD only. Optional authentication of / and /api:
:mod:`hotline_kpi.service.auth` (settings.http_auth). Everything is served from the
exporter's cached model; no request evaluates, and none but /readyz's freshness check
depends on the database being up.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any, Callable

from jinja2 import Environment, FileSystemLoader, select_autoescape
import json
import threading

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from hotline_kpi.alerts.rules import AlertsConfig
from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.formatting import duration, worded
from hotline_kpi.i18n import M_, Lang, _, localize
from hotline_kpi.service import errors
from hotline_kpi.service.auth import AuthMiddleware
from hotline_kpi.service.exporter import MetricsCache, MetricsModel
from hotline_kpi.service.exposition import Answer, Compressed
from hotline_kpi.service.league import LEAGUE_WINDOWS, LeagueBoard
from hotline_kpi.service.page import StatusPage
from hotline_kpi.service.page_parts import PageTemplate
from hotline_kpi.settings import Settings

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).parent / "templates"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def model_readiness(m: MetricsModel, now: dt.datetime, max_age_seconds: float,
                    name: Callable[[str], object] = str) -> tuple[bool, list[str]]:
    """Ready when the store was readable at the last refresh and every hotline's last
    evaluation is younger than ``max_age_seconds``; otherwise the reasons, a hotline named
    by ``name`` (its display name), ages as people say them (3 分钟, 26 小时, 2 天)."""
    reasons = []
    if not m.database_up:
        reasons.append(M_("database unreachable: {error}", error=m.error or M_("not read yet")))
    if not m.snapshots:
        reasons.append(M_("no evaluation stored yet"))
    for hid, snap in sorted(m.snapshots.items()):
        age = (now - snap.evaluated_at).total_seconds()
        if age > max_age_seconds:
            reasons.append(M_("{hotline}: last evaluation {age} ago (limit {limit})", hotline=name(hid),
                              age=duration(age), limit=duration(max_age_seconds)))
    return not reasons, reasons


def readiness(cache: MetricsCache, now: dt.datetime, max_age_seconds: float,
              name: Callable[[str], object] = str) -> tuple[bool, list[str]]:
    return model_readiness(cache.model, now, max_age_seconds, name)


def hotline_names(catalogues: CatalogueSet) -> Callable[[str], object]:
    """A hotline's display name in the language shown (its id when no catalogue names it)."""

    def name(hid: str) -> object:
        h = next((h for h in catalogues.hotlines() if h.id == hid), None)
        return hid if h is None else worded(h.name, h.name_en)

    return name


def _rules(settings: Settings, catalogues: CatalogueSet) -> AlertsConfig | None:
    """The alert rules (their no_data rules say when a source is overdue); None if unreadable."""
    from hotline_kpi.alerts.alerting import load_config
    from hotline_kpi.alerts.rules import RulesError

    try:
        return load_config(settings, catalogues)
    except RulesError:
        return None


def build_app(cache: MetricsCache, settings: Settings, catalogues: CatalogueSet, now: Callable[[], dt.datetime],
              state: Callable[[], dict[str, Any]] = dict, rules: AlertsConfig | None = None,
              league: LeagueBoard | None = None) -> Starlette:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"])
    env.install_null_translations(newstyle=True)  # each render passes the catalogue of its language
    max_age = settings.service.readiness_max_age_seconds
    names = hotline_names(catalogues)

    league = league if league is not None else LeagueBoard.from_settings(settings, catalogues)
    page = StatusPage(cache, settings, catalogues, now, rules if rules is not None else _rules(settings, catalogues),
                      PageTemplate(env), lambda m, at: model_readiness(m, at, max_age, names), league=league)

    lang_of_setting: Lang = "en" if settings.language == "en" else "zh"

    def lang_of(request: Request) -> Lang:
        lang = request.query_params.get("lang", settings.language)
        return "en" if lang == "en" else "zh"

    def respond(a: Answer, status_code: int = 200) -> Response:
        return Response(a.body, status_code=status_code, media_type=a.media_type, headers=a.headers())

    async def metrics(request: Request) -> Response:
        # Pre-rendered and pre-compressed at refresh: a lookup (service/exposition.py).
        return respond(cache.answer(request.headers.get("accept"), request.headers.get("accept-encoding")))

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        ok, reasons = readiness(cache, now(), max_age, names)  # the reasons in the language (?lang=, else the setting)
        lang = lang_of(request)
        return JSONResponse({"ready": ok, "reasons": [localize(r, lang) for r in reasons], **state()},
                            status_code=200 if ok else 503)

    # The API's answers, made once per evaluation on the first request that needs them
    # (one hotline's document: small), never per request. The league's default window is
    # made right after each refresh, in the refresh's thread, not by a request.
    api: dict[str, tuple[int, Compressed]] = {}
    made = threading.Lock()

    def warm_league(m: MetricsModel) -> None:
        try:
            league.answer(m.snapshots)
        except Exception:  # noqa: BLE001 - a request will try again and show the error
            log.exception("league table: building failed")

    cache.listeners.append(warm_league)

    def api_answer(hid: str) -> Compressed | None:
        snap = cache.model.snapshots.get(hid)
        if snap is None:
            return None
        got = api.get(hid)
        if got is None or got[0] != snap.id:
            with made:
                body = json.dumps(snap.payload, ensure_ascii=False, allow_nan=False, indent=None,
                                  separators=(",", ":")).encode("utf-8")
                got = api[hid] = (snap.id, Compressed.of(body, "application/json"))
        return got[1]

    async def scoreboard(request: Request) -> Response:
        hid = request.path_params.get("hotline") or request.query_params.get("hotline") or settings.default_hotline
        answer = api_answer(hid)
        if answer is None:
            known = sorted(cache.model.snapshots)
            # "error" is the machine-readable code; "message" is for people, in the language
            message = _("no evaluation for hotline {hotline}", lang=lang_of(request), hotline=hid)
            return JSONResponse({"error": "no_evaluation", "message": message, "hotline": hid, "hotlines": known},
                                status_code=404)
        return respond(answer.pick(request.headers.get("accept-encoding")))

    async def league_table(request: Request) -> Response:
        window = request.query_params.get("window", "year_to_date")
        if window not in LEAGUE_WINDOWS:
            lang = lang_of(request)
            message = _("unknown window {window}; one of {windows}", lang=lang, window=window,
                        windows=("、" if lang == "zh" else ", ").join(LEAGUE_WINDOWS))
            return JSONResponse({"error": "unknown_window", "message": message, "window": window,
                                 "windows": list(LEAGUE_WINDOWS)}, status_code=400)
        return respond(league.answer(cache.model.snapshots, window).pick(request.headers.get("accept-encoding")))

    async def status_page(request: Request) -> Response:
        # Rendered and compressed when built (page.py), in the refresh's thread: a lookup.
        return respond(page.answers[lang_of(request)].pick(request.headers.get("accept-encoding")))

    def download(request: Request) -> Response:
        # Sync: Starlette runs it in its thread pool; the first download of an evaluation
        # makes a workbook (tens of ms) and must not hold the event loop serving /metrics.
        kind = request.path_params["kind"]
        hid = request.query_params.get("hotline") or settings.default_hotline
        lang = lang_of(request)
        if kind not in ("scoreboard", "daily"):
            raise HTTPException(404)  # answered by errors.handlers, in the language
        data = page.download(kind, hid, lang)
        if data is None:
            return PlainTextResponse(_("no evaluation for hotline {hotline}", lang=lang, hotline=hid) + "\n",
                                     status_code=404)
        name = f"{hid}-{kind}-{page.model.snapshots[hid].as_of.isoformat()}.xlsx"
        return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})

    methods = ["GET", "HEAD"]
    return Starlette(middleware=[Middleware(AuthMiddleware, settings=settings.http_auth, lang=settings.language)],
                     exception_handlers=errors.handlers(lang_of_setting), routes=[
        Route("/", status_page, methods=methods),
        Route("/metrics", metrics, methods=methods),
        Route("/healthz", healthz, methods=methods),
        Route("/readyz", readyz, methods=methods),
        Route("/download/{kind}.xlsx", download, methods=methods),
        Route("/api/v1/scoreboard", scoreboard, methods=methods),
        Route("/api/v1/scoreboard/{hotline}", scoreboard, methods=methods),
        Route("/api/v1/league", league_table, methods=methods),
    ])
