"""Group-robot webhooks beside SMTP: 企业微信群机器人 (WeCom) and 钉钉自定义机器人 (DingTalk).

A rule routes to a robot by naming it among its recipients, ``webhook:<name>``, where
``<name>`` is a key of ``alerts.webhooks`` (docs/alerts.md). The robot gets the rendered
notification's subject and text part, as a ``text`` message (no markdown: names and
notes come from data). Everything else is the mail's path: the same outbox row, claim,
one ``alert_delivery`` row per recipient (a robot is one recipient), backoff and
``retry_for``. Robots keep no idempotency key: a post whose answer the sender never got
(a timeout, or a sender killed mid-post) may be in the group already, so the next post to
that robot begins with （可能重复） (docs/alerts.md §4a).

The published APIs answer HTTP 200 with a JSON body ``{"errcode": 0, "errmsg": "ok"}``;
errors come as another ``errcode``. Classification:

- ``sent``: ``errcode`` 0;
- ``transient``: a rate limit (WeCom 45009 "api freq out of limit", DingTalk 130101
  "send too fast"), ``errcode`` -1 (system busy), HTTP 429 and 5xx, a body that is not
  the expected JSON, connection errors and timeouts;
- ``permanent``: any other ``errcode`` (a wrong key or token, a bad signature, a
  keyword the robot does not accept: an operator fixes the configuration and uses
  ``alerts resend``) and other HTTP 4xx.

DingTalk robots with 加签 (signing) need ``timestamp`` (ms) and ``sign`` =
base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}")) on the URL; the timestamp comes
from the injected clock. The URL (it carries the key or access token) and the secret are
secrets: they are in no log or error text this module writes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from email.message import EmailMessage
from typing import Callable, Mapping, Sequence

from hotline_kpi.alerts.smtp import NOTICE_HEADER, UNANSWERED, RecipientResult, Transport
from hotline_kpi.i18n import Lang, t
from hotline_kpi.settings import WebhookSettings

log = logging.getLogger(__name__)

PREFIX = "webhook:"
#: errcode values that mean "later": WeCom's and DingTalk's rate limits, "system busy".
RETRY_ERRCODES = {45009, 130101, -1}
#: Text limits of the APIs (bytes of UTF-8): WeCom text 2048, DingTalk 20000.
LIMITS = {"wecom": 2048, "dingtalk": 20000}


def is_webhook(recipient: str) -> bool:
    return recipient.startswith(PREFIX)


def sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature of a timestamp (URL-encoded base64)."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(mac).decode())


def _text(message: EmailMessage, lang: Lang = "zh", recipient: str = "") -> str:
    """The robot's text: the subject, then the mail's text part without its first line when
    that only repeats the subject; LF line ends; 【重发】 before the subject for ``alerts resend``,
    （可能重复） for a robot that may already hold it (NOTICE_HEADER)."""
    body = ""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            body = part.get_content()
            break
    subject = str(message["Subject"] or "").strip()
    lines = body.replace("\r\n", "\n").replace("\r", "\n").strip("\n").split("\n")
    if lines and lines[0].strip() and lines[0].strip() in subject:
        lines = lines[1:]
        while lines and not lines[0].strip():
            lines = lines[1:]
    notice = str(message.get(NOTICE_HEADER, "")).split()
    mark = (t("webhook_resend", lang) if notice[:1] == ["resend"] else
            t("webhook_possible_duplicate", lang) if notice[:1] == ["possible-duplicate"] and recipient in notice[1:]
            else "")
    head = f"{mark} {subject}" if mark else subject
    return "\n".join([head, "", *lines]).strip()


def _clip(text: str, limit: int, lang: Lang) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    more = "\n" + t("webhook_clipped", lang)
    return data[:limit - len(more.encode())].decode(errors="ignore") + more


def payload(kind: str, message: EmailMessage, lang: Lang = "zh", recipient: str = "") -> bytes:
    text = _clip(_text(message, lang, recipient), LIMITS[kind], lang)
    return json.dumps({"msgtype": "text", "text": {"content": text}}, ensure_ascii=False).encode()


def classify(status: int, body: bytes) -> tuple[str, int | None, str]:
    """(outcome, code, error) of one answer; code is the errcode, or the HTTP status."""
    if status == 429 or status >= 500:
        return "transient", status, f"HTTP {status}"
    if status >= 400:
        return "permanent", status, f"HTTP {status}"
    try:
        doc = json.loads(body)
        errcode = int(doc["errcode"])
    except (ValueError, KeyError, TypeError):
        return "transient", status, f"HTTP {status}: not the robot API's JSON answer"
    if errcode == 0:
        return "sent", 0, ""
    msg = f"errcode {errcode}: {str(doc.get('errmsg', ''))[:300]}"
    return ("transient" if errcode in RETRY_ERRCODES else "permanent"), errcode, msg


class WebhookTransport:
    """Posts to the configured robots; ``now_ms`` gives DingTalk's timestamp."""

    def __init__(self, webhooks: Mapping[str, WebhookSettings], now_ms: Callable[[], int], lang: Lang = "zh"):
        self.webhooks = webhooks
        self.now_ms = now_ms
        self.lang = lang

    def post(self, recipient: str, message: EmailMessage) -> RecipientResult:
        name = recipient[len(PREFIX):]
        hook = self.webhooks.get(name)
        if hook is None:
            return RecipientResult(recipient, "permanent", None, f"no webhook {name!r} in alerts.webhooks")
        url = hook.url.get_secret_value()
        if hook.kind == "dingtalk" and hook.secret.get_secret_value():
            ts = self.now_ms()
            url += ("&" if "?" in url else "?") + f"timestamp={ts}&sign={sign(hook.secret.get_secret_value(), ts)}"
        req = urllib.request.Request(url, data=payload(hook.kind, message, self.lang, recipient), method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(req, timeout=hook.timeout_seconds) as resp:
                outcome, code, error = classify(resp.status, resp.read(65536))
        except urllib.error.HTTPError as exc:
            outcome, code, error = classify(exc.code, exc.read(65536) if exc.fp else b"")
        except urllib.error.URLError as exc:
            # Before the request was sent whole (connection refused, connect timeout): the
            # robot has nothing.
            reason = exc.reason
            outcome, code, error = "transient", None, f"{type(reason).__name__}: {reason}"[:300]
        except OSError as exc:
            # The post went out and no answer came (read timeout, reset): the robot may have
            # shown it; the next post to it says （可能重复）.
            outcome, code, error = "transient", None, f"{UNANSWERED}: {type(exc).__name__}: {exc}"[:300]
        if outcome != "sent":
            log.warning("webhook %s (%s): %s %s", name, hook.kind, outcome, error)
        return RecipientResult(recipient, outcome, code, error)  # type: ignore[arg-type]


class ChannelTransport:
    """Mail recipients to SMTP, ``webhook:<name>`` recipients to their robot; one result
    per recipient, in order, as :class:`Transport` promises."""

    def __init__(self, smtp: Transport | None, webhooks: WebhookTransport):
        self.smtp = smtp
        self.webhooks = webhooks

    def send(self, message: EmailMessage, sender: str, recipients: Sequence[str]) -> list[RecipientResult]:
        results: dict[str, RecipientResult] = {}
        mail = [r for r in recipients if not is_webhook(r)]
        if mail:
            if self.smtp is None:
                for r in mail:
                    results[r] = RecipientResult(r, "transient", None, "SMTP is not configured (smtp.host)")
            else:
                for res in self.smtp.send(message, sender, mail):
                    results[res.recipient] = res
        for r in recipients:
            if is_webhook(r):
                results[r] = self.webhooks.post(r, message)
        return [results[r] for r in recipients]
