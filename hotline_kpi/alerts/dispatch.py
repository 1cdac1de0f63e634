"""Delivery: claim one owed notification, send it, record the outcome.

A sender claims with a conditional UPDATE (``... WHERE processed_at IS NULL AND
(claimed_until IS NULL OR claimed_until < now)``): a row count of 1 means the row is
its own, anything else that another sender got there first (healthchecks' pattern).
The claim commits before any network I/O; the send happens outside any transaction;
the outcome is recorded in a second transaction. The row stays owed until the SMTP
server accepted the mail, refused it for good, or the retries ran out, so a sender
that dies between claim and send leaves a claim that expires after
``claim_timeout`` and another sender (or the restarted one) sends the mail
(healthchecks issue #212 is the mistake this avoids: reliability.md).

Each attempt writes one ``alert_delivery`` row per recipient. A retry goes only to the
recipients still open; those accepted or refused for good are done.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Sequence

from sqlalchemy import Engine, or_, select, update

from hotline_kpi.alerts.outbox import done_recipients, unanswered_posts, utc
from hotline_kpi.alerts.smtp import NOTICE_HEADER, RecipientResult, Transport, build_message
from hotline_kpi.clock import Clock
from hotline_kpi.store.db import read_session, write_session
from hotline_kpi.store.models import AlertDeliveryRow, AlertEventRow, AlertRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    initial: dt.timedelta
    maximum: dt.timedelta

    def delay(self, attempts: int) -> dt.timedelta:
        """Delay after the ``attempts``-th failed attempt: initial, doubling, capped."""
        factor = 2 ** max(0, min(attempts - 1, 30))
        return min(self.initial * factor, self.maximum)


@dataclass(frozen=True)
class Claim:
    event_id: int
    attempt: int
    alert_id: int | None
    hotline_id: str
    kind: str
    recipients: tuple[str, ...]
    #: The recipients this attempt sends to (not yet accepted nor refused for good).
    remaining: tuple[str, ...]
    subject: str
    body_text: str
    body_html: str
    message_id: str
    in_reply_to: str
    at: dt.datetime
    figures: str
    #: Recipients that may already hold this notification: all of ``remaining`` when the
    #: row was taken over from a sender that died between claim and record (a crash
    #: mid-send), else the robots whose last post went out and got no answer (a timeout).
    uncertain: tuple[str, ...] = ()


@dataclass
class PassReport:
    """What one delivery pass did (``alerts dispatch``)."""

    processed: int = 0
    sent: int = 0
    transient: int = 0
    permanent: int = 0
    expired: int = 0
    #: Rows another sender claimed between our scan and our claim.
    lost_claims: int = 0
    #: The server could not be reached (no SMTP reply at all): the pass stopped there.
    unreachable: bool = False


class Dispatcher:
    def __init__(self, engine: Engine, transport: Transport, clock: Clock, *, sender: str, holder: str,
                 claim_timeout: dt.timedelta, backoff: Backoff):
        self.engine = engine
        self.transport = transport
        self.clock = clock
        self.sender = sender
        self.holder = holder
        self.claim_timeout = claim_timeout
        self.backoff = backoff

    def due(self, now: dt.datetime, limit: int = 20) -> list[int]:
        """Owed rows whose next attempt is due and that nobody holds a live claim on."""
        n = utc(now)
        with read_session(self.engine) as s:
            return list(s.scalars(
                select(AlertEventRow.id)
                .where(AlertEventRow.processed_at.is_(None), AlertEventRow.next_attempt_at <= n,
                       or_(AlertEventRow.claimed_until.is_(None), AlertEventRow.claimed_until < n))
                .order_by(AlertEventRow.next_attempt_at, AlertEventRow.id).limit(limit)
            ))

    def claim(self, event_id: int, now: dt.datetime) -> Claim | None:
        """Take the row for ``claim_timeout``; None when another sender has it or it is
        no longer owed. Commits before returning: no transaction stays open while sending."""
        n = utc(now)
        with write_session(self.engine) as s:
            # A claim still set but expired: its sender died between claim and record.
            stale = s.scalar(select(AlertEventRow.claimed_by).where(AlertEventRow.id == event_id)) is not None
            res = s.execute(
                update(AlertEventRow)
                .where(AlertEventRow.id == event_id, AlertEventRow.processed_at.is_(None),
                       AlertEventRow.next_attempt_at <= n,
                       or_(AlertEventRow.claimed_until.is_(None), AlertEventRow.claimed_until < n))
                .values(claimed_by=self.holder, claimed_until=n + self.claim_timeout,
                        attempts=AlertEventRow.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            if res.rowcount != 1:  # type: ignore[attr-defined]
                return None
            ev = s.get(AlertEventRow, event_id)
            assert ev is not None
            recipients = tuple(json.loads(ev.recipients))
            done = done_recipients(s, event_id)
            remaining = tuple(r for r in recipients if r not in done)
            uncertain = remaining if stale else unanswered_posts(s, event_id, remaining)
            return Claim(ev.id, ev.attempts, ev.alert_id, ev.hotline_id, ev.kind, recipients,
                         remaining, ev.subject, ev.body_text, ev.body_html,
                         ev.message_id, ev.in_reply_to, ev.at, ev.figures, uncertain)  # type: ignore[arg-type]

    def send(self, claim: Claim) -> list[RecipientResult]:
        if not claim.remaining:
            return []
        rule = json.loads(claim.figures or "{}").get("rule")
        try:
            msg = build_message(subject=claim.subject, text=claim.body_text, html=claim.body_html,
                                sender=self.sender, to=claim.recipients, message_id=claim.message_id, date=claim.at,
                                in_reply_to=claim.in_reply_to, alert_key=f"{rule or claim.kind}/{claim.hotline_id}")
        except (ValueError, TypeError) as exc:
            # A message that cannot be built never will be: a permanent failure, recorded
            # and shown (alerts list, metrics), instead of a claim retried for ever.
            log.error("notification %s: cannot build the message: %s", claim.event_id, exc)
            return [RecipientResult(r, "permanent", None, f"cannot build the message: {exc}")
                    for r in claim.remaining]
        # Robots have no Message-ID to drop a second copy by: they mark a resend (webhook.py).
        if claim.uncertain:
            msg[NOTICE_HEADER] = " ".join(["possible-duplicate", *claim.uncertain])
        elif claim.kind == "resend":
            msg[NOTICE_HEADER] = "resend"
        return self.transport.send(msg, self.sender, claim.remaining)

    def record(self, claim: Claim, results: Sequence[RecipientResult], now: dt.datetime) -> int:
        """Write one delivery row per recipient; settle the row when nobody is left open,
        else schedule the next attempt, or give up once ``deliver_by`` has passed.
        Returns the recipients given up on."""
        n = utc(now)
        with write_session(self.engine) as s:
            ev = s.get(AlertEventRow, claim.event_id, with_for_update=True)
            assert ev is not None
            for r in results:
                s.add(AlertDeliveryRow(event_id=ev.id, recipient=r.recipient, attempt=claim.attempt, at=n,
                                       outcome=r.outcome, code=r.code, error=r.error[:2000]))
            s.flush()
            done = done_recipients(s, ev.id)
            open_ = [r for r in claim.recipients if r not in done]
            errors = [r.error for r in results if r.outcome != "sent" and r.error]
            if errors:
                ev.last_error = errors[0][:2000]
            deliver_by = ev.deliver_by
            expired = 0
            if open_ and deliver_by is not None and n >= deliver_by:
                for rcpt in open_:
                    s.add(AlertDeliveryRow(event_id=ev.id, recipient=rcpt, attempt=claim.attempt, at=n,
                                           outcome="expired", code=None,
                                           error=f"gave up after {claim.attempt} attempt(s): {ev.last_error}"[:2000]))
                log.error("notification %s: gave up on %d recipient(s) after %d attempt(s)", ev.id, len(open_),
                          claim.attempt)
                expired, open_ = len(open_), []
            if open_:
                # The last try falls on the deadline itself rather than after it.
                nxt = n + self.backoff.delay(claim.attempt)
                ev.next_attempt_at = nxt if deliver_by is None else min(nxt, deliver_by)
            else:
                sent_to = set(s.scalars(select(AlertDeliveryRow.recipient).where(
                    AlertDeliveryRow.event_id == ev.id, AlertDeliveryRow.outcome == "sent")))
                ev.processed_at = n
                if sent_to >= set(claim.recipients):
                    ev.outcome = "sent"
                elif sent_to:
                    ev.outcome = "partial"
                else:
                    ev.outcome = "expired" if expired else "failed"
            if ev.claimed_by == self.holder:
                ev.claimed_by = None
                ev.claimed_until = None
            if any(r.outcome == "sent" for r in results):
                self._mark_notified(s, claim, n)
        return expired

    @staticmethod
    def _mark_notified(s, claim: Claim, n: dt.datetime) -> None:  # type: ignore[no-untyped-def]
        ids = [claim.alert_id] if claim.alert_id is not None else json.loads(claim.figures or "{}").get("alert_ids", [])
        if ids:
            s.execute(update(AlertRow).where(AlertRow.id.in_(ids)).values(last_notified_at=n)
                      .execution_options(synchronize_session=False))

    def step(self, report: PassReport | None = None) -> bool:
        """Claim, send and record one due notification; returns whether there was one."""
        now = self.clock.now()
        for event_id in self.due(now):
            claim = self.claim(event_id, now)
            if claim is None:  # another sender got it first
                if report is not None:
                    report.lost_claims += 1
                continue
            results = self.send(claim)
            expired = self.record(claim, results, self.clock.now())
            if report is not None:
                report.processed += 1
                report.expired += expired
                for r in results:
                    setattr(report, r.outcome, getattr(report, r.outcome) + 1)
                report.unreachable = bool(results) and all(r.outcome == "transient" and r.code is None
                                                           for r in results)
            log.info("notification %s (%s): %s", claim.event_id, claim.kind,
                     ", ".join(f"{r.recipient} {r.outcome}" for r in results) or "nothing left to send")
            return True
        return False

    def run_pass(self, max_steps: int = 1000) -> PassReport:
        """Steps until nothing is due (a retried row is due again only after its backoff),
        or until the server could not be reached: the other rows stay due for the next
        pass rather than each waiting out its own connection timeout now."""
        report = PassReport()
        for _ in range(max_steps):
            if not self.step(report) or report.unreachable:
                break
        return report
