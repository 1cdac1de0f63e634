"""The web app's error answers in the office's language, in place of Starlette's English
"Not Found" and "Method Not Allowed": JSON with a machine-readable ``error`` code and a
``message`` for people under /api (as the API's other errors), a small HTML page for a
browser, plain text otherwise. The language: ``?lang=en|zh``, else the ``language`` setting.
"""

from __future__ import annotations

import json
from typing import Callable

from markupsafe import escape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from hotline_kpi.i18n import Lang, _

#: Status -> the API's error code.
CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
         500: "internal_error"}


def message(status: int, path: str, method: str, lang: Lang) -> str:
    """What went wrong, for people."""
    if status == 404:
        return _("there is nothing at {path} on this service", lang=lang, path=path)
    if status == 405:
        return _("{method} is not allowed: this service only answers GET and HEAD requests", lang=lang,
                 method=method)
    if status == 401:
        return _("credentials required (settings http_auth)", lang=lang)
    if status == 500:
        return _("the service failed to answer this request; the service log tells why", lang=lang)
    return _("the request could not be answered (HTTP status {status})", lang=lang, status=status)


def language(query: str | bytes, default: Lang) -> Lang:
    """The language a request asks for (``lang=en`` or ``lang=zh`` in its query), else ``default``."""
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    for part in text.split("&"):
        if part in ("lang=en", "lang=zh"):
            return "en" if part == "lang=en" else "zh"
    return default


def body(status: int, path: str, method: str, accept: str | None, lang: Lang) -> tuple[bytes, str]:
    """The answer's body and media type: JSON under /api, HTML for a browser, else text."""
    text = message(status, path, method, lang)
    if path == "/api" or path.startswith("/api/"):
        doc = {"error": CODES.get(status, f"http_{status}"), "message": text}
        return json.dumps(doc, ensure_ascii=False).encode("utf-8"), "application/json"
    if accept and "text/html" in accept:
        title = _("Hotline KPI status", lang=lang)
        back = _("Back to the status page", lang=lang)
        page = (f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
                f'</head><body><h1>{escape(text)}</h1><p><a href="/?lang={lang}">{escape(back)}</a></p></body>'
                f'</html>\n')
        return page.encode("utf-8"), "text/html; charset=utf-8"
    return (text + "\n").encode("utf-8"), "text/plain; charset=utf-8"


def handlers(default: Lang) -> dict[object, Callable[[Request, Exception], Response]]:
    """Starlette's exception handlers: its HTTP errors (404, 405 ...) and a failure (500)."""

    def answer(request: Request, status: int, headers: dict[str, str] | None = None) -> Response:
        lang = language(request.url.query, default)
        data, media = body(status, request.url.path, request.method, request.headers.get("accept"), lang)
        return Response(data, status_code=status, media_type=media, headers=headers)

    def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return answer(request, exc.status_code, dict(exc.headers or {}))

    def failure(request: Request, exc: Exception) -> Response:
        return answer(request, 500)

    return {HTTPException: http_error, 500: failure}
