"""The store side of alerts: states, state changes (the outbox) and their notifications.

Every function takes the session first and works inside the caller's transaction:
:func:`evaluate_snapshot` runs in the evaluation's own write transaction, so a state
change and its outbox row commit (or roll back) together with the snapshot that caused
them (healthchecks' Flip pattern, reliability.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from hotline_kpi.alerts.conditions import Observation, observe
from hotline_kpi.alerts.content import (
    Content,
    DigestItem,
    Links,
    daily_figures,
    headline,
    render_alert,
    render_digest,
)
from hotline_kpi.alerts.rules import AlertsConfig, Rule
from hotline_kpi.alerts.smtp import UNANSWERED
from hotline_kpi.alerts.state import AlertState, AlertStatus, Change, Transition, drop, step
from hotline_kpi.catalogue import CatalogueSet, Indicator
from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.i18n import Lang
from hotline_kpi.store import sums
from hotline_kpi.store.models import (
    AlertDeliveryRow,
    AlertEventRow,
    AlertRow,
    EvaluationSnapshotRow,
    IngestRow,
)

#: Days of daily figures a notice shows.
HISTORY_DAYS = 14


@dataclass(frozen=True)
class AlertContext:
    """What writing alerts needs besides the session: built once at the edge."""

    config: AlertsConfig
    catalogues: CatalogueSet
    formulas: FormulaSettings
    lang: Lang
    links: Links
    #: Right-hand side of Message-IDs (the domain of the sender address).
    domain: str
    retry_for: dt.timedelta
    digest_at: dt.time
    digest_quiet: dt.timedelta


def utc(at: dt.datetime) -> dt.datetime:
    """Aware UTC: SQLite stores the wall time without its offset, so store UTC only."""
    if at.tzinfo is None:
        raise ValueError("naive datetime")
    return at.astimezone(dt.timezone.utc)


def message_id(kind: str, event_id: int, key: str, at: dt.datetime, domain: str) -> str:
    """Stable for one notification (retries reuse it), distinct across alerts,
    transitions and databases (the hash covers the alert key and the transition time)."""
    digest = hashlib.sha256(f"{key}|{kind}|{event_id}|{utc(at).isoformat()}".encode()).hexdigest()[:16]
    return f"<hotline-kpi.{event_id}.{kind}.{digest}@{domain}>"


def alert_key(rule_id: str, hotline_id: str) -> str:
    return f"{rule_id}/{hotline_id}"


def _state(row: AlertRow) -> AlertState:
    return AlertState(AlertStatus(row.state), row.held_days or 0, row.last_day, row.since, row.fired_at)


def _apply(row: AlertRow, new: AlertState) -> None:
    row.state = new.status.value
    row.held_days = new.count
    row.last_day = new.last_day
    row.since = None if new.since is None else utc(new.since)
    row.fired_at = None if new.fired_at is None else utc(new.fired_at)


def last_loads(session: Session, hotline_id: str) -> dict[str, dt.datetime]:
    """When a file of each source was last loaded for the hotline (the no_data rules)."""
    q = (select(IngestRow.source, func.max(IngestRow.ingested_at))
         .where(IngestRow.hotline_id == hotline_id).group_by(IngestRow.source))
    return {src: at for src, at in session.execute(q) if at is not None}  # type: ignore[misc]


def _indicator(catalogues: CatalogueSet, hotline_id: str, figures: Mapping[str, Any]) -> Indicator | None:
    ind_id = figures.get("id")
    as_of = figures.get("as_of")
    if not ind_id or not as_of:
        return None
    cat = catalogues.get(hotline_id, dt.date.fromisoformat(str(as_of)).year)
    if cat is None:
        return None
    try:
        return cat.indicator(str(ind_id))
    except KeyError:
        return None


def _owe(ev: AlertEventRow, content: Content, recipients: Sequence[str], key: str, ctx: AlertContext,
         now: dt.datetime) -> None:
    ev.notify = True
    ev.recipients = json.dumps(list(recipients))
    ev.subject, ev.body_text, ev.body_html = content.subject, content.text, content.html
    ev.message_id = message_id(ev.kind, ev.id, key, now, ctx.domain)
    ev.next_attempt_at = utc(now)
    ev.deliver_by = utc(now + ctx.retry_for)
    ev.processed_at = None
    ev.outcome = ""


def _record(session: Session, row: AlertRow, tr: Transition, obs: Observation | None, rule: Rule | None,
            snapshot: EvaluationSnapshotRow | None, payload: Mapping[str, Any], ctx: AlertContext,
            now: dt.datetime) -> AlertEventRow:
    ev = AlertEventRow(
        alert_id=row.id, hotline_id=row.hotline_id, kind=tr.change.value, old_state=tr.old.value,
        new_state=tr.new.value, at=utc(now), snapshot_id=None if snapshot is None else snapshot.id,
        figures=json.dumps(dict(obs.figures) if obs else {}, ensure_ascii=False, allow_nan=False),
        notify=False, recipients="[]", attempts=0, processed_at=utc(now), outcome="none",
    )
    session.add(ev)
    session.flush()
    notify = rule is not None and obs is not None and (
        tr.change is Change.FIRING or (tr.change is Change.RESOLVED and rule.send_resolved))
    if not notify:
        return ev
    assert rule is not None and obs is not None
    hotline = ctx.catalogues.hotline(row.hotline_id)
    indicator = _indicator(ctx.catalogues, row.hotline_id, obs.figures)
    days = []
    if indicator is not None and indicator.formula is not None:
        end = obs.day
        start = end - dt.timedelta(days=HISTORY_DAYS - 1)
        rows = sums.daily_counters(session, row.hotline_id, start, end)
        days = daily_figures(rows, indicator, indicator.formula_for(ctx.formulas), start, end)
    content = render_alert(
        lang=ctx.lang, kind=tr.change.value, severity=rule.severity.value, hotline=hotline, indicator=indicator,
        rule_id=rule.id, rule_note=rule.note, figures=obs.figures, payload=payload, days=days, links=ctx.links,
        since=now, alert_id=row.id,
    )
    _owe(ev, content, ctx.config.recipients(rule), alert_key(rule.id, row.hotline_id), ctx, now)
    if tr.change is Change.RESOLVED:
        # Thread the recovery under the notice it answers.
        fired = session.scalars(
            select(AlertEventRow.message_id)
            .where(AlertEventRow.alert_id == row.id, AlertEventRow.kind == Change.FIRING.value)
            .order_by(AlertEventRow.id.desc()).limit(1)
        ).first()
        ev.in_reply_to = fired or ""
    return ev


def summary(catalogues: CatalogueSet, hotline_id: str, figures: Mapping[str, Any], lang: Lang,
            state: str = "firing") -> str:
    """One line on an alert's last figures (digest, ``alerts list``): a firing or pending alert
    in the words of its breach, an inactive one as its figures stand (met, on pace…)."""
    if not figures.get("condition"):
        return ""
    kind = "firing" if state in ("firing", "pending") else "status"
    return headline(kind, figures, _indicator(catalogues, hotline_id, figures), lang)


def lock_hotline(session: Session, hotline_id: str) -> None:
    """Serialise alert writers of one hotline until the transaction ends.

    An ingest and the daily job can evaluate at once; on PostgreSQL a transaction-scoped
    advisory lock makes the second wait instead of both writing the same transition. (A
    row lock on ``hotline`` would also meet the FK locks that every insert referencing the
    hotline takes.) SQLite writers are already serialised by BEGIN IMMEDIATE.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(f"hotline-kpi alerts/{hotline_id}".encode()).digest()[:8], "big") >> 1
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def evaluate_snapshot(session: Session, snapshot_id: int, ctx: AlertContext, now: dt.datetime) -> list[AlertEventRow]:
    """Judge every rule against one stored evaluation, inside its transaction.

    Updates each alert's state, writes a row per state change, and for a change that
    notifies renders the mail and leaves the row owed (the outbox). Returns the rows
    written. Alerts of rules no longer in the file go inactive without a mail.
    """
    snap = session.get(EvaluationSnapshotRow, snapshot_id)
    if snap is None:
        raise KeyError(f"no evaluation snapshot {snapshot_id}")
    hid = snap.hotline_id
    payload = json.loads(snap.payload)
    zone = ZoneInfo(ctx.catalogues.hotline(hid).timezone)
    lock_hotline(session, hid)
    observations = observe(ctx.config, hid, payload, last_loads(session, hid), now, zone)
    rows = {r.rule_id: r for r in session.scalars(select(AlertRow).where(AlertRow.hotline_id == hid))}
    events: list[AlertEventRow] = []
    for obs in observations:
        rule = ctx.config.rule(obs.rule_id)
        assert rule is not None
        row = rows.get(rule.id)
        if row is None:
            row = AlertRow(rule_id=rule.id, hotline_id=hid, severity=rule.severity.value,
                           state=AlertStatus.INACTIVE.value, held_days=0, evaluated_at=utc(now), figures="{}")
            session.add(row)
            session.flush()
        new, tr = step(_state(row), obs.holds, obs.day, rule.for_, now)
        _apply(row, new)
        row.severity = rule.severity.value
        row.evaluated_at = utc(now)
        row.figures = json.dumps(dict(obs.figures), ensure_ascii=False, allow_nan=False)
        if tr is not None:
            events.append(_record(session, row, tr, obs, rule, snap, payload, ctx, now))
    applying = {o.rule_id for o in observations}
    for rule_id, row in rows.items():
        if rule_id not in applying:
            new, tr = drop(_state(row), now)
            _apply(row, new)
            if tr is not None:
                events.append(_record(session, row, tr, None, None, snap, payload, ctx, now))
    session.flush()
    return events


# --- digests ---------------------------------------------------------------------------


def digest_slot(now: dt.datetime, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The latest local ``at`` not after ``now`` (the digest this moment belongs to); pure."""
    local = now.astimezone(zone)
    slot = dt.datetime.combine(local.date(), at, tzinfo=zone)
    if slot > local:
        slot = dt.datetime.combine(local.date() - dt.timedelta(days=1), at, tzinfo=zone)
    return slot


def enqueue_digests(session: Session, ctx: AlertContext, now: dt.datetime) -> list[AlertEventRow]:
    """Write the digest of the current slot for every hotline and recipient that has
    alerts still firing (rules with ``repeat: digest``, firing since before the slot
    minus the quiet time). At most one digest per slot, hotline and recipient: running
    it again, or late, adds nothing. Returns the rows written."""
    firing = list(session.scalars(select(AlertRow).where(AlertRow.state == AlertStatus.FIRING.value)
                                  .order_by(AlertRow.hotline_id, AlertRow.id)))
    by_hotline: dict[str, list[AlertRow]] = {}
    for row in firing:
        by_hotline.setdefault(row.hotline_id, []).append(row)
    events = []
    for hid, rows in by_hotline.items():
        try:
            hotline = ctx.catalogues.hotline(hid)
        except KeyError:
            continue
        slot = digest_slot(now, ctx.digest_at, hotline.zone)
        per_recipient: dict[str, list[AlertRow]] = {}
        for row in rows:
            rule = ctx.config.rule(row.rule_id)
            fired = row.fired_at
            if rule is None or rule.repeat != "digest" or fired is None or fired > slot - ctx.digest_quiet:
                continue
            for rcpt in ctx.config.recipients(rule):
                per_recipient.setdefault(rcpt, []).append(row)
        if not per_recipient:
            continue
        lock_hotline(session, hid)
        for rcpt, members in per_recipient.items():
            key = f"digest/{hid}/{utc(slot).isoformat()}/{rcpt}"
            exists = session.scalar(select(AlertEventRow.id).where(AlertEventRow.dedupe_key == key))
            if exists is not None:
                continue
            items = []
            for row in sorted(members, key=lambda r: (r.severity != "critical", r.id)):
                figures = json.loads(row.figures or "{}")
                items.append(DigestItem(row.severity, summary(ctx.catalogues, hid, figures, ctx.lang),
                                        row.fired_at, row.held_days))
            content = render_digest(lang=ctx.lang, hotline=hotline, items=items, links=ctx.links)
            ev = AlertEventRow(
                alert_id=None, hotline_id=hid, kind="digest", at=utc(now), dedupe_key=key,
                figures=json.dumps({"slot": slot.isoformat(), "alert_ids": [r.id for r in members]}),
                notify=True, attempts=0,
            )
            session.add(ev)
            session.flush()
            _owe(ev, content, [rcpt], key, ctx, now)
            events.append(ev)
    session.flush()
    return events


# --- resend ----------------------------------------------------------------------------


class NotANotification(ValueError):
    """``alerts resend`` of an event that never was a mail (pending, cleared, ...)."""

    def __init__(self, event_id: int, kind: str | None):
        self.event_id = event_id
        #: The event's kind (pending, inactive...), None when there is no such event.
        self.kind = kind
        super().__init__(f"event {event_id}: " + ("no such event" if kind is None else f"a {kind} change sends no mail"))


def resend(session: Session, event_id: int, ctx: AlertContext, now: dt.datetime) -> AlertEventRow:
    """Queue a notification again, to all its recipients, as a new outbox row with a new
    Message-ID (mail clients drop a second copy of a Message-ID they already hold)."""
    orig = session.get(AlertEventRow, event_id)
    if orig is None:
        raise NotANotification(event_id, None)
    if not orig.notify:
        raise NotANotification(event_id, orig.kind)
    ev = AlertEventRow(
        alert_id=orig.alert_id, hotline_id=orig.hotline_id, kind="resend", at=utc(now),
        figures=json.dumps({"resend_of": orig.id}), notify=True, attempts=0,
    )
    session.add(ev)
    session.flush()
    content = Content(orig.subject, orig.body_text, orig.body_html)
    _owe(ev, content, json.loads(orig.recipients), f"resend/{orig.id}", ctx, now)
    ev.in_reply_to = orig.message_id
    return ev


# --- reading: alerts list and metrics ------------------------------------------------------


@dataclass(frozen=True)
class AlertView:
    id: int
    rule_id: str
    hotline_id: str
    severity: str
    state: str
    held_days: int
    since: dt.datetime | None
    fired_at: dt.datetime | None
    last_notified_at: dt.datetime | None
    figures: Mapping[str, Any]


@dataclass(frozen=True)
class OwedView:
    """A notification not yet delivered to every recipient."""

    event_id: int
    kind: str
    alert_id: int | None
    hotline_id: str
    subject: str
    at: dt.datetime
    attempts: int
    next_attempt_at: dt.datetime | None
    deliver_by: dt.datetime | None
    claimed_by: str | None
    remaining: tuple[str, ...]
    last_error: str


def list_alerts(session: Session) -> list[AlertView]:
    return [AlertView(r.id, r.rule_id, r.hotline_id, r.severity, r.state, r.held_days or 0, r.since,
                      r.fired_at, r.last_notified_at, json.loads(r.figures or "{}"))
            for r in session.scalars(select(AlertRow).order_by(AlertRow.hotline_id, AlertRow.id))]


def done_recipients(session: Session, event_id: int) -> set[str]:
    """Recipients that need nothing more: accepted by the server or refused for good."""
    return set(session.scalars(
        select(AlertDeliveryRow.recipient)
        .where(AlertDeliveryRow.event_id == event_id, AlertDeliveryRow.outcome.in_(("sent", "permanent")))
    ))


def unanswered_posts(session: Session, event_id: int, recipients: Sequence[str]) -> tuple[str, ...]:
    """Those of ``recipients`` whose last attempt was a post left unanswered."""
    last: dict[str, str] = {}
    for rcpt, error in session.execute(
            select(AlertDeliveryRow.recipient, AlertDeliveryRow.error)
            .where(AlertDeliveryRow.event_id == event_id).order_by(AlertDeliveryRow.id)):
        last[rcpt] = error or ""
    return tuple(r for r in recipients if last.get(r, "").startswith(UNANSWERED))


def owed_notifications(session: Session) -> list[OwedView]:
    out = []
    for ev in session.scalars(select(AlertEventRow).where(AlertEventRow.processed_at.is_(None))
                              .order_by(AlertEventRow.next_attempt_at, AlertEventRow.id)):
        done = done_recipients(session, ev.id)
        remaining = tuple(r for r in json.loads(ev.recipients) if r not in done)
        out.append(OwedView(ev.id, ev.kind, ev.alert_id, ev.hotline_id, ev.subject, ev.at,  # type: ignore[arg-type]
                            ev.attempts, ev.next_attempt_at, ev.deliver_by, ev.claimed_by, remaining,
                            ev.last_error))
    return out


def recent_failures(session: Session, limit: int = 20) -> list[AlertDeliveryRow]:
    """Deliveries refused for good or given up, newest first."""
    return list(session.scalars(
        select(AlertDeliveryRow).where(AlertDeliveryRow.outcome.in_(("permanent", "expired")))
        .order_by(AlertDeliveryRow.id.desc()).limit(limit)
    ))


@dataclass(frozen=True)
class AlertStats:
    #: (state, severity) -> alerts
    by_state: Mapping[tuple[str, str], int]
    #: deliveries to one recipient each
    sent: int
    failed: int
    owed: int
    oldest_owed_at: dt.datetime | None


def alert_stats(session: Session) -> AlertStats:
    by_state = {(st, sev): int(n) for st, sev, n in session.execute(
        select(AlertRow.state, AlertRow.severity, func.count()).group_by(AlertRow.state, AlertRow.severity))}
    outcomes = {o: int(n) for o, n in session.execute(
        select(AlertDeliveryRow.outcome, func.count()).group_by(AlertDeliveryRow.outcome))}
    owed, oldest = session.execute(
        select(func.count(), func.min(AlertEventRow.at)).where(AlertEventRow.processed_at.is_(None))).one()
    return AlertStats(by_state, outcomes.get("sent", 0), outcomes.get("permanent", 0) + outcomes.get("expired", 0),
                      int(owed or 0), oldest)
