"""Optional authentication of the HTTP side: bearer token or HTTP basic (settings.http_auth).

Off by default (the service binds to loopback). When on, the status page and /api need
the credentials; /metrics, /healthz and /readyz stay open for Prometheus and probes unless
``protect_probes``. Credentials are compared in constant time (:func:`hmac.compare_digest`)
and never logged: a refusal logs the path and the client address, never the header.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from typing import Any, Awaitable, Callable, MutableMapping

from hotline_kpi.i18n import Lang
from hotline_kpi.service import errors
from hotline_kpi.settings import HttpAuthSettings

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Open unless ``protect_probes``: Prometheus and the orchestrator's probes.
PROBES = ("/metrics", "/healthz", "/readyz")
REALM = "hotline-kpi"


def _eq(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def check_authorization(header: str | None, settings: HttpAuthSettings) -> bool:
    """Whether an ``Authorization`` header value satisfies ``settings`` (mode none: always)."""
    if settings.mode == "none":
        return True
    if not header:
        return False
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if settings.mode == "bearer":
        return scheme.lower() == "bearer" and _eq(value, settings.token.get_secret_value())
    if scheme.lower() != "basic":
        return False
    try:
        user, sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    # Both compared whatever the first says: the time does not tell which one was wrong.
    ok_user = _eq(user, settings.username)
    ok_password = _eq(password, settings.password.get_secret_value())
    return bool(sep) and ok_user and ok_password


def protects(path: str, settings: HttpAuthSettings) -> bool:
    if settings.mode == "none":
        return False
    return settings.protect_probes or path not in PROBES


def challenge(settings: HttpAuthSettings) -> str:
    return f'Bearer realm="{REALM}"' if settings.mode == "bearer" else f'Basic realm="{REALM}", charset="UTF-8"'


class AuthMiddleware:
    """ASGI middleware: 401 with ``WWW-Authenticate`` unless the request may pass."""

    def __init__(self, app: ASGIApp, settings: HttpAuthSettings, lang: Lang = "zh"):
        self.app = app
        self.settings = settings
        self.lang = lang

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not protects(scope.get("path", ""), self.settings):
            await self.app(scope, receive, send)
            return
        header = None
        for name, value in scope.get("headers") or ():
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        if check_authorization(header, self.settings):
            await self.app(scope, receive, send)
            return
        client = scope.get("client") or ("?", 0)
        log.warning("http auth: refused %s %s from %s (%s)", scope.get("method"), scope.get("path"), client[0],
                    "no credentials" if header is None else "wrong credentials")
        lang = errors.language(scope.get("query_string") or b"", self.lang)
        accept = next((v.decode("latin-1") for k, v in scope.get("headers") or () if k == b"accept"), None)
        body, media = errors.body(401, scope.get("path", ""), scope.get("method", "GET"), accept, lang)
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", media.encode()), (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", challenge(self.settings).encode("latin-1")), (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body if scope.get("method") != "HEAD" else b""})
