"""The service's own state: evaluation snapshots, ingest attempts, job runs, the leader
lease, alerts with their events (the outbox) and deliveries, and report runs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hotline_kpi.store.models.base import Base, UTCDateTime


class EvaluationSnapshotRow(Base):
    """One stored evaluation of one hotline: the scoreboard JSON, kept as history.

    The exporter and the status page read the latest one per hotline; a scrape never
    evaluates.
    """

    __tablename__ = "evaluation_snapshot"
    __table_args__ = (
        # Serves "latest snapshot per hotline" (exporter, status page, API).
        Index("ix_evaluation_snapshot_latest", "hotline_id", "evaluated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hotline_id: Mapped[str] = mapped_column(ForeignKey("hotline.id"))
    as_of: Mapped[dt.date] = mapped_column(Date)
    data_date: Mapped[dt.date | None] = mapped_column(Date)
    evaluated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    trigger: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)


class IngestAttemptRow(Base):
    """Every file the service or the CLI tried to load, with its outcome (metrics, status page)."""

    __tablename__ = "ingest_attempt"
    __table_args__ = (Index("ix_ingest_attempt_source_result", "source", "result"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    hotline_id: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))
    file_name: Mapped[str] = mapped_column(String(512))
    #: loaded | already_loaded | rejected | error
    result: Mapped[str] = mapped_column(String(16))
    days: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")


class JobRunRow(Base):
    """The last run of each scheduled job: catch-up after a restart, and the job metrics."""

    __tablename__ = "job_run"

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_duration_seconds: Mapped[float | None] = mapped_column(Float)
    runs_total: Mapped[int] = mapped_column(BigInteger, default=0)
    failures_total: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")


class LeaseRow(Base):
    """A named lease: only its holder runs the scheduler (SQLite; PostgreSQL adds an advisory lock)."""

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AlertRow(Base):
    """The current state of one rule on one hotline (healthchecks' ``Check``)."""

    __tablename__ = "alert"
    __table_args__ = (UniqueConstraint("rule_id", "hotline_id", name="uq_alert_rule_hotline"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    hotline_id: Mapped[str] = mapped_column(ForeignKey("hotline.id"))
    #: warning | critical (the rule's, as of the last evaluation)
    severity: Mapped[str] = mapped_column(String(16))
    #: inactive | pending | firing
    state: Mapped[str] = mapped_column(String(16))
    #: Consecutive evaluated days the condition held: the "for" count, kept across restarts.
    held_days: Mapped[int] = mapped_column(Integer, default=0)
    #: The as-of date last counted in ``held_days``.
    last_day: Mapped[dt.date | None] = mapped_column(Date)
    since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    fired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    evaluated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: When a mail about it (its firing notice or a digest listing it) last reached a server.
    last_notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The figures of the last evaluation (JSON), for digests and ``alerts list``.
    figures: Mapped[str] = mapped_column(Text, default="{}")


class AlertEventRow(Base):
    """A state change of an alert (healthchecks' ``Flip``), a digest or a resend.

    Written in the transaction of the evaluation that caused it. A row that notifies is
    also the outbox entry: owed while ``processed_at`` is NULL, claimed by a sender with
    a conditional UPDATE of ``claimed_by``/``claimed_until``, and processed only once
    every recipient was accepted by the SMTP server, refused for good, or given up on.
    The message (subject, bodies, Message-ID) is rendered when the row is written, so a
    retry sends the same bytes.
    """

    __tablename__ = "alert_event"
    __table_args__ = (
        # Serves the history of one alert (In-Reply-To of a resolved notice, alerts list).
        Index("ix_alert_event_alert", "alert_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alert.id"))
    hotline_id: Mapped[str] = mapped_column(String(64))
    #: pending | cleared | firing | resolved | dropped | digest | resend
    kind: Mapped[str] = mapped_column(String(16))
    old_state: Mapped[str] = mapped_column(String(16), default="")
    new_state: Mapped[str] = mapped_column(String(16), default="")
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("evaluation_snapshot.id"))
    figures: Mapped[str] = mapped_column(Text, default="{}")
    #: Digests: one per slot, hotline and recipient (a second run of the job adds nothing).
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    notify: Mapped[bool] = mapped_column(Boolean, default=False)
    #: JSON list of addresses, resolved from the rule when the row was written.
    recipients: Mapped[str] = mapped_column(Text, default="[]")
    message_id: Mapped[str] = mapped_column(String(255), default="")
    in_reply_to: Mapped[str] = mapped_column(String(255), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    #: Claims so far (a claim abandoned by a crash counts too).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Transient failures are retried until then; then the rest is given up (expired).
    deliver_by: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: none (no mail) | sent | partial (some recipients refused for good) | failed | expired
    outcome: Mapped[str] = mapped_column(String(16), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")


class AlertDeliveryRow(Base):
    """One delivery attempt of one notification to one recipient, with its outcome."""

    __tablename__ = "alert_delivery"
    __table_args__ = (
        # Serves "which recipients are already done" before each retry of a notification.
        Index("ix_alert_delivery_event", "event_id", "recipient"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("alert_event.id"))
    recipient: Mapped[str] = mapped_column(String(320))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: sent | transient (retried) | permanent (5xx: not retried) | expired (retries gave up)
    outcome: Mapped[str] = mapped_column(String(16))
    code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text, default="")


class ReportRunRow(Base):
    """One year-end report drafted (and mailed) by the service: a restart does not resend it."""

    __tablename__ = "report_run"

    hotline_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    drafted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    mailed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    files: Mapped[str] = mapped_column(Text, default="")
