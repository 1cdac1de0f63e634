"""HTTP on one port: /metrics, /healthz, /readyz, /api/v1/scoreboard and the status page.

Read-only: every route answers GET and HEAD only. Optional authentication of / and /api:
:mod:`hotline_kpi.service.auth` (settings.http_auth). Everything is served from the
exporter's cached model; no request evaluates, and none but /readyz's freshness check
depends on the database being up.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable

from jinja2 import Environment, FileSystemLoader, select_autoescape
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from hotline_kpi import __version__
from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.domain import Status, Window
from hotline_kpi.forecast import PaceStatus
from hotline_kpi.formatting import fmt_required, fmt_target, fmt_value
from hotline_kpi.i18n import M_, Lang, _, localize, t
from hotline_kpi.service.auth import AuthMiddleware
from hotline_kpi.service.exporter import MetricsCache
from hotline_kpi.settings import Settings
from hotline_kpi.snapshot import ProjectionDoc, ResultDoc

TEMPLATES = Path(__file__).parent / "templates"
_PAGE_WINDOWS = ("day", "trailing_7d", "month_to_date", "quarter_to_date", "year_to_date")


def _outlook(pr: ProjectionDoc | None, unit: str, lang: Lang) -> dict[str, str] | None:
    """The year-end projection cell: projected value, outlook and the pace still required."""
    if pr is None:
        return None
    req = fmt_required(pr.required_value, pr.required_unit, unit, lang) or ""
    pace = pr.pace_status
    return {"value": fmt_value(pr.projected_value, unit, lang), "status": "" if pace is None else pace.value,
            "status_text": t((pace or PaceStatus.INSUFFICIENT_DATA).value, lang), "required": req,
            "note": pr.note_zh if lang == "zh" else pr.note_en,
            "miss": "" if pr.miss_probability is None else f"{100 * pr.miss_probability:.0f}%"}


def _status(r: ResultDoc | None) -> str:
    """A result's status for the page: no result or no status is no data."""
    status = None if r is None else r.status
    return (status or Status.NO_DATA).value


def readiness(cache: MetricsCache, now: dt.datetime, max_age_seconds: float) -> tuple[bool, list[str]]:
    """Ready when the store was readable at the last refresh and every hotline's last
    evaluation is younger than ``max_age_seconds``; otherwise the reasons."""
    m = cache.model
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


def build_app(cache: MetricsCache, settings: Settings, catalogues: CatalogueSet, now: Callable[[], dt.datetime],
              state: Callable[[], dict[str, Any]] = dict) -> Starlette:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"])
    env.install_null_translations(newstyle=True)  # each render passes the catalogue of its language
    page = env.get_template("status.html")

    def lang_of(request: Request) -> Lang:
        lang = request.query_params.get("lang", settings.language)
        return "en" if lang == "en" else "zh"

    async def metrics(request: Request) -> Response:
        return Response(cache.rendered(), media_type=CONTENT_TYPE_LATEST)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        ok, reasons = readiness(cache, now(), settings.service.readiness_max_age_seconds)
        return JSONResponse({"ready": ok, "reasons": reasons, **state()}, status_code=200 if ok else 503)

    async def scoreboard(request: Request) -> Response:
        hid = request.path_params.get("hotline") or request.query_params.get("hotline") or settings.default_hotline
        payload = cache.snapshot_json(hid)
        if payload is None:
            known = sorted(cache.model.snapshots)
            return JSONResponse({"error": f"no evaluation for hotline {hid!r}", "hotlines": known}, status_code=404)
        return JSONResponse(payload)

    async def status_page(request: Request) -> Response:
        lang = lang_of(request)
        boards = []
        for hid, snap in sorted(cache.model.snapshots.items()):
            doc = snap.doc
            assert doc.as_of is not None, f"{hid}: snapshot {snap.id} has no as-of date"
            cat = catalogues.get(hid, doc.as_of.year)
            if cat is None:
                continue
            rows = []
            for ind in cat.quantitative:
                cells = []
                for w in _PAGE_WINDOWS:
                    r = doc.result(ind.id, w)
                    cells.append({"window": w, "text": fmt_value(None if r is None else r.value, ind.unit, lang),
                                  "status": _status(r)})
                ytd = doc.result(ind.id, Window.YEAR_TO_DATE)
                rows.append({
                    "id": ind.id, "name": ind.display_name(lang),
                    "target": fmt_target(ind, lang), "cells": cells,
                    "status": _status(ytd), "status_text": t(_status(ytd), lang),
                    "days": 0 if ytd is None else ytd.days_with_data,
                    "projected": _outlook(doc.projection(ind.id), ind.unit, lang),
                })
            comp = doc.completeness
            boards.append({
                "hotline": cat.hotline.name if lang == "zh" else cat.hotline.name_en, "id": hid,
                "as_of": doc.as_of.isoformat(), "data_date": "—" if doc.data_date is None else doc.data_date.isoformat(),
                "completeness": f"{comp.days_with_data}/{comp.days_elapsed}",
                "completeness_pct": f"{100 * (comp.ratio or 0):.1f}%",
                "evaluated_at": snap.evaluated_at.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M"),
                "rows": rows,
            })
        ok, reasons = readiness(cache, now(), settings.service.readiness_max_age_seconds)
        html = page.render(
            lang=lang, t=lambda key, **kw: t(key, lang, **kw), boards=boards, windows=_PAGE_WINDOWS,
            ready=ok, reasons=[localize(r, lang) for r in reasons], version=__version__,
            gettext=lambda msgid, **kw: _(msgid, lang=lang, **kw),
            ngettext=lambda one, many, n, **kw: _(one if n == 1 else many, lang=lang, **kw),
            generated=now().astimezone(settings.zone).strftime("%Y-%m-%d %H:%M:%S"),
        )
        return HTMLResponse(html)

    methods = ["GET", "HEAD"]
    return Starlette(middleware=[Middleware(AuthMiddleware, settings=settings.http_auth)], routes=[
        Route("/", status_page, methods=methods),
        Route("/metrics", metrics, methods=methods),
        Route("/healthz", healthz, methods=methods),
        Route("/readyz", readyz, methods=methods),
        Route("/api/v1/scoreboard", scoreboard, methods=methods),
        Route("/api/v1/scoreboard/{hotline}", scoreboard, methods=methods),
    ])
