"""HTTP on one port: /metrics, /healthz, /readyz, /api/v1/scoreboard and the status page
(built once per cache refresh by :mod:`hotline_kpi.service.page`).

Read-only: every route answers GET and HEAD only. Optional authentication of / and /api:
:mod:`hotline_kpi.service.auth` (settings.http_auth). Everything is served from the
exporter's cached model; no request evaluates, and none but /readyz's freshness check
depends on the database being up.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable, Mapping

from jinja2 import Environment, FileSystemLoader, select_autoescape
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from hotline_kpi.alerts.rules import AlertsConfig
from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.i18n import M_, Lang, _, localize, t
from hotline_kpi.service.auth import AuthMiddleware
from hotline_kpi.service.exporter import MetricsCache, MetricsModel
from hotline_kpi.service.page import StatusPage
from hotline_kpi.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def model_readiness(m: MetricsModel, now: dt.datetime, max_age_seconds: float) -> tuple[bool, list[str]]:
    """Ready when the store was readable at the last refresh and every hotline's last
    evaluation is younger than ``max_age_seconds``; otherwise the reasons."""
    reasons = []
    if not m.database_up:
        reasons.append(M_("database unreachable: {error}", error=m.error or M_("not read yet")))
    if not m.snapshots:
        reasons.append(M_("no evaluation stored yet"))
    for hid, snap in sorted(m.snapshots.items()):
        age = (now - snap.evaluated_at).total_seconds()
        if age > max_age_seconds:
            reasons.append(M_("{hotline}: last evaluation {age:.1f} h ago (limit {limit:.1f} h)", hotline=hid,
                              age=age / 3600, limit=max_age_seconds / 3600))
    return not reasons, reasons


def readiness(cache: MetricsCache, now: dt.datetime, max_age_seconds: float) -> tuple[bool, list[str]]:
    return model_readiness(cache.model, now, max_age_seconds)


def _rules(settings: Settings, catalogues: CatalogueSet) -> AlertsConfig | None:
    """The alert rules (their no_data rules say when a source is overdue); None if unreadable."""
    from hotline_kpi.alerts.alerting import load_config
    from hotline_kpi.alerts.rules import RulesError

    try:
        return load_config(settings, catalogues)
    except RulesError:
        return None


def build_app(cache: MetricsCache, settings: Settings, catalogues: CatalogueSet, now: Callable[[], dt.datetime],
              state: Callable[[], dict[str, Any]] = dict, rules: AlertsConfig | None = None) -> Starlette:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"])
    env.install_null_translations(newstyle=True)  # each render passes the catalogue of its language
    template = env.get_template("status.html")
    max_age = settings.service.readiness_max_age_seconds

    def render(ctx: Mapping[str, Any]) -> str:
        lang: Lang = ctx["lang"]
        return template.render(**ctx, t=lambda key, **kw: t(key, lang, **kw),
                               gettext=lambda msgid, **kw: _(msgid, lang=lang, **kw),
                               ngettext=lambda one, many, n, **kw: _(one if n == 1 else many, lang=lang, **kw))

    page = StatusPage(cache, settings, catalogues, now, rules if rules is not None else _rules(settings, catalogues),
                      render, lambda m, at: model_readiness(m, at, max_age))

    def lang_of(request: Request) -> Lang:
        lang = request.query_params.get("lang", settings.language)
        return "en" if lang == "en" else "zh"

    async def metrics(request: Request) -> Response:
        return Response(cache.rendered(), media_type=CONTENT_TYPE_LATEST)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        ok, reasons = readiness(cache, now(), max_age)  # the reasons in the language (?lang=, else the setting)
        lang = lang_of(request)
        return JSONResponse({"ready": ok, "reasons": [localize(r, lang) for r in reasons], **state()},
                            status_code=200 if ok else 503)

    async def scoreboard(request: Request) -> Response:
        hid = request.path_params.get("hotline") or request.query_params.get("hotline") or settings.default_hotline
        payload = cache.snapshot_json(hid)
        if payload is None:
            known = sorted(cache.model.snapshots)
            # "error" is the machine-readable code; "message" is for people, in the language
            message = _("no evaluation for hotline {hotline}", lang=lang_of(request), hotline=hid)
            return JSONResponse({"error": "no_evaluation", "message": message, "hotline": hid, "hotlines": known},
                                status_code=404)
        return JSONResponse(payload)

    async def status_page(request: Request) -> Response:
        return HTMLResponse(page.html[lang_of(request)])

    async def download(request: Request) -> Response:
        kind = request.path_params["kind"]
        hid = request.query_params.get("hotline") or settings.default_hotline
        lang = lang_of(request)
        data = page.download(kind, hid, lang) if kind in ("scoreboard", "daily") else None
        if data is None:
            return PlainTextResponse(_("no evaluation for hotline {hotline}", lang=lang, hotline=hid) + "\n",
                                     status_code=404)
        name = f"{hid}-{kind}-{page.model.snapshots[hid].as_of.isoformat()}.xlsx"
        return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})

    methods = ["GET", "HEAD"]
    return Starlette(middleware=[Middleware(AuthMiddleware, settings=settings.http_auth, lang=settings.language)], routes=[
        Route("/", status_page, methods=methods),
        Route("/metrics", metrics, methods=methods),
        Route("/healthz", healthz, methods=methods),
        Route("/readyz", readyz, methods=methods),
        Route("/download/{kind}.xlsx", download, methods=methods),
        Route("/api/v1/scoreboard", scoreboard, methods=methods),
        Route("/api/v1/scoreboard/{hotline}", scoreboard, methods=methods),
    ])
