"""The SMTP transport (stdlib smtplib and email), with errors classified per recipient.

- ``permanent``: a 5xx reply to RCPT for that recipient, or to MAIL FROM / DATA for the
  whole message (sender or content refused): recorded, never retried.
- ``transient``: everything else -- connection refused, timeouts, TLS and login
  failures, disconnects, 4xx replies: retried with backoff (reliability.md: Alertmanager
  retries connect, TLS, auth, MAIL/RCPT/DATA errors; a wrong login is fixed by the
  operator, so it is worth retrying too).
- ``sent``: the server accepted the message for that recipient.

The password is only ever handed to ``SMTP.login``; it is in no message, log or
exception text this module builds.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.policy
import logging
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Literal, Protocol, Sequence

from hotline_kpi.i18n import M_, Msg, _, q, t
from hotline_kpi.settings import SmtpSettings

log = logging.getLogger(__name__)

Outcome = Literal["sent", "transient", "permanent"]


@dataclass(frozen=True)
class RecipientResult:
    recipient: str
    outcome: Outcome
    code: int | None = None
    error: str = ""


class Transport(Protocol):
    def send(self, message: EmailMessage, sender: str, recipients: Sequence[str]) -> list[RecipientResult]:
        """Try to hand ``message`` to the server for ``recipients`` (the envelope).

        Returns one result per recipient, in order. Network and SMTP failures are
        results, not exceptions; only a programming error (a malformed message) raises.
        """
        ...


#: A header for the robots (webhook.py): "resend" (alerts resend), or "possible-duplicate"
#: followed by the recipients that may already hold the notification.
NOTICE_HEADER = "X-Hotline-KPI-Notice"
#: The error of a robot post that went out and got no answer (webhook.py): the robot may
#: have shown it, so the next post to it is marked.
UNANSWERED = "no answer after the post"


def build_message(*, subject: str, text: str, html: str, sender: str, to: Sequence[str], message_id: str,
                  date: dt.datetime, in_reply_to: str = "", alert_key: str = "") -> EmailMessage:
    """A multipart/alternative (text, HTML) message; non-ASCII headers are RFC 2047
    encoded when it is serialised (policy SMTP)."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(date if date.tzinfo else date.replace(tzinfo=dt.timezone.utc))
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    # RFC 3834: no auto-replies (vacation notices) to machine mail.
    msg["Auto-Submitted"] = "auto-generated"
    if alert_key:
        msg["X-Hotline-KPI-Alert"] = alert_key
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """smtplib encodes credentials as ASCII; a non-ASCII name or password goes as UTF-8
    AUTH PLAIN (RFC 4616) instead of failing with UnicodeEncodeError."""
    if (username + password).isascii():
        smtp.login(username, password)
        return
    smtp.ehlo_or_helo_if_needed()
    if "plain" not in smtp.esmtp_features.get("auth", "").lower().split():
        raise smtplib.SMTPException("the server offers no AUTH PLAIN, needed for a non-ASCII login")
    token = base64.b64encode(f"\0{username}\0{password}".encode("utf-8")).decode("ascii")
    code, resp = smtp.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, resp)


def _reply_text(resp: bytes | str) -> str:
    return resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)


def _by_code(code: int) -> Outcome:
    return "permanent" if 500 <= code <= 599 else "transient"


class SmtpTransport:
    """Opens one connection per message: a few mails a day need no pooling, and a
    failure stays confined to one notification."""

    def __init__(self, settings: SmtpSettings):
        if not settings.host:
            raise ValueError("SMTP host is not set (smtp.host)")
        self.settings = settings

    def describe(self) -> str:
        s = self.settings
        login = f", login {s.username}" if s.username else ""
        return f"{s.host}:{s.effective_port} ({s.security}{login})"

    def _context(self) -> ssl.SSLContext:
        cafile = str(self.settings.ca_file) if self.settings.ca_file else None
        return ssl.create_default_context(cafile=cafile)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        smtp: smtplib.SMTP
        if s.security == "tls":
            smtp = smtplib.SMTP_SSL(s.host, s.effective_port, timeout=s.timeout_seconds, context=self._context())
        else:
            smtp = smtplib.SMTP(s.host, s.effective_port, timeout=s.timeout_seconds)
        try:
            if s.security == "starttls":
                smtp.starttls(context=self._context())
            if s.username:
                _login(smtp, s.username, s.password.get_secret_value())
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage, sender: str, recipients: Sequence[str]) -> list[RecipientResult]:
        recipients = list(recipients)
        try:
            smtp = self._connect()
        except smtplib.SMTPResponseException as exc:  # greeting, EHLO, STARTTLS, AUTH replies
            return self._all(recipients, "transient", exc.smtp_code, f"{exc.smtp_code} {_reply_text(exc.smtp_error)}")
        except (smtplib.SMTPException, OSError) as exc:  # refused, timeout, TLS, disconnect
            return self._all(recipients, "transient", None, f"{exc.__class__.__name__}: {exc}")
        try:
            refused = smtp.send_message(message, from_addr=sender, to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused: results per recipient
            refused = exc.recipients
        except smtplib.SMTPSenderRefused as exc:
            return self._all(recipients, _by_code(exc.smtp_code), exc.smtp_code,
                             f"MAIL FROM refused: {exc.smtp_code} {_reply_text(exc.smtp_error)}")
        except smtplib.SMTPDataError as exc:
            return self._all(recipients, _by_code(exc.smtp_code), exc.smtp_code,
                             f"DATA refused: {exc.smtp_code} {_reply_text(exc.smtp_error)}")
        except smtplib.SMTPResponseException as exc:
            return self._all(recipients, "transient", exc.smtp_code, f"{exc.smtp_code} {_reply_text(exc.smtp_error)}")
        except (smtplib.SMTPException, OSError) as exc:
            return self._all(recipients, "transient", None, f"{exc.__class__.__name__}: {exc}")
        finally:
            self._quit(smtp)
        out = []
        for rcpt in recipients:
            if rcpt in refused:
                code, resp = refused[rcpt]
                out.append(RecipientResult(rcpt, _by_code(code), code, f"RCPT refused: {code} {_reply_text(resp)}"))
            else:
                out.append(RecipientResult(rcpt, "sent", 250, ""))
        return out

    @staticmethod
    def _quit(smtp: smtplib.SMTP) -> None:
        # Once DATA was accepted the mail is the server's: a failing QUIT must not turn it
        # into a retry (that would send it twice).
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    @staticmethod
    def _all(recipients: Sequence[str], outcome: Outcome, code: int | None, error: str) -> list[RecipientResult]:
        log.warning("%s", _("SMTP: {outcome} for {n} recipient(s): {error}", outcome=t(outcome), n=len(recipients),
                            error=error_text(error)))
        return [RecipientResult(r, outcome, code, error) for r in recipients]


#: What a delivery error means, by the exception the SMTP client raised (its text is the system's, English).
_REASONS: tuple[tuple[str, Msg], ...] = (
    ("ConnectionRefusedError", M_("the mail server refused the connection")),
    ("TimeoutError", M_("the mail server did not answer in time")),
    ("gaierror", M_("the mail server's name is not known")),
    ("SMTPServerDisconnected", M_("the mail server closed the connection")),
    ("SSLError", M_("the encrypted connection failed")),
    ("OSError", M_("the network is unreachable")),
)


def network_reason(error: str) -> tuple[str, str]:
    """What a delivery error means, and the system's own words without the Python class name
    (``ConnectionRefusedError: [Errno 111] Connection refused`` -> ``[Errno 111] Connection refused``)."""
    for prefix, why in _REASONS:
        if error.startswith(prefix):
            detail = re.sub(r"^\w+: ", "", error) if error.startswith(prefix + ": ") else error
            return str(why), detail
    replied = re.search(r"\b[45]\d\d\b", error) is not None  # an SMTP reply code: the server answered no
    return (_("the mail server refused the mail") if replied else _("delivery failed")), error


def error_text(error: str) -> str:
    """A stored delivery error as the office reads it: what it means, then the system's words."""
    if not error:
        return ""
    why, detail = network_reason(error)
    return _("{why}: {error}", why=why, error=q(detail))
