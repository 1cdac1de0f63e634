"""ORM models. The schema itself is created and upgraded by the Alembic migrations.

Layout:
- ``ingest``: one row per loaded file, with its provenance (source, name, content hash,
  time, where the original is kept).
- ``source_day``: what one source said about one hotline-day, one row per revision;
  ``is_current`` marks the revision in force. Earlier revisions stay queryable.
- ``daily_counters``: the effective counters per hotline-day, merged from the current
  ``source_day`` rows by source priority. It is derived state, rebuilt for the touched
  days in the same transaction as every load, so that evaluation sums one narrow table
  (see bench/evaluate.py).

Raw sources (issue #4) keep what they read, so that a record seen again updates it
instead of counting twice, and their ``source_day`` revisions are recomputed from it:

- ``queue_call_day``: the calls of the Asterisk queue_log per hotline and local date of
  their ENTERQUEUE, each call's state joined from all the lines read so far (compact,
  compressed: a year is about 4 million calls).
- ``ticket`` and ``callback``: one row per ticket number and per callback.
- ``log_mark``: high-water marks of append-only logs (re-reading a grown file reads only
  the new part); ``source_state``: one row per hotline and source, locked by every load
  of that source so that two loads merge one after the other.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CounterColumns:
    """The canonical counters (hotline_kpi.domain.COUNTERS) as nullable columns: NULL = unknown."""

    requests_accepted: Mapped[int | None] = mapped_column(BigInteger)
    calls_offered: Mapped[int | None] = mapped_column(BigInteger)
    calls_answered: Mapped[int | None] = mapped_column(BigInteger)
    calls_abandoned_short: Mapped[int | None] = mapped_column(BigInteger)
    answer_wait_seconds_sum: Mapped[float | None] = mapped_column(Float)
    calls_answered_within_15s: Mapped[int | None] = mapped_column(BigInteger)
    first_contact_resolved: Mapped[int | None] = mapped_column(BigInteger)
    first_contact_eligible: Mapped[int | None] = mapped_column(BigInteger)
    tickets_dispatched: Mapped[int | None] = mapped_column(BigInteger)
    tickets_returned_operator_fault: Mapped[int | None] = mapped_column(BigInteger)
    survey_responses: Mapped[int | None] = mapped_column(BigInteger)
    survey_satisfied: Mapped[int | None] = mapped_column(BigInteger)


class HotlineRow(Base):
    __tablename__ = "hotline"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))


class IngestRow(Base):
    __tablename__ = "ingest"
    __table_args__ = (
        # Serves the "was this exact file already loaded?" lookup that makes re-ingest a no-op.
        UniqueConstraint("hotline_id", "source", "content_sha256", name="uq_ingest_file"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hotline_id: Mapped[str] = mapped_column(ForeignKey("hotline.id"))
    source: Mapped[str] = mapped_column(String(32))
    file_name: Mapped[str] = mapped_column(String(512))
    content_sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    original_path: Mapped[str] = mapped_column(String(1024))
    ingested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    first_day: Mapped[dt.date | None] = mapped_column(Date)
    last_day: Mapped[dt.date | None] = mapped_column(Date)
    days: Mapped[int] = mapped_column(Integer)
    days_revised: Mapped[int] = mapped_column(Integer, default=0)
    #: The formula settings in force when the file was read (JSON), for provenance.
    settings_json: Mapped[str] = mapped_column(Text, default="{}")
    notes: Mapped[str] = mapped_column(Text, default="")


class SourceDayRow(CounterColumns, Base):
    __tablename__ = "source_day"
    __table_args__ = (
        UniqueConstraint("hotline_id", "day", "source", "revision", name="uq_source_day_revision"),
        # Serves the lookup of the revision in force for (hotline, source, day).
        Index("ix_source_day_current", "hotline_id", "source", "day", "is_current"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hotline_id: Mapped[str] = mapped_column(ForeignKey("hotline.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(32))
    revision: Mapped[int] = mapped_column(Integer)
    is_current: Mapped[bool] = mapped_column(Boolean)
    ingest_id: Mapped[int] = mapped_column(ForeignKey("ingest.id"), index=True)
    #: Comma-separated counters computed from a rate and its base, not read as counts.
    derived: Mapped[str] = mapped_column(String(512), default="")


class SourceDayChannelRow(Base):
    __tablename__ = "source_day_channel"

    source_day_id: Mapped[int] = mapped_column(ForeignKey("source_day.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger)


class DailyCountersRow(CounterColumns, Base):
    __tablename__ = "daily_counters"

    hotline_id: Mapped[str] = mapped_column(ForeignKey("hotline.id"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    #: JSON {counter: source_day.id} naming the revision each effective value came from.
    provenance: Mapped[str] = mapped_column(Text, default="{}")


# --- raw sources: what they read, kept for merging (issue #4) -------------------------


class SourceStateRow(Base):
    """One row per hotline and raw source: the lock every load of it takes, and its state."""

    __tablename__ = "source_state"

    hotline_id: Mapped[str] = mapped_column(ForeignKey("hotline.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: queue-log: the latest event time read so far (UNIX seconds). Calls still open this
    #: long after entering count as unresolved (settings.queue_log.unresolved_after_hours).
    watermark: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class LogMarkRow(Base):
    """How far an append-only log was read: its first ``length`` bytes, with their hash.

    A log is recognised by the hash of its first line; a file whose first ``length`` bytes
    hash to ``prefix_sha256`` is the same log grown, and only its new part is read.
    """

    __tablename__ = "log_mark"

    hotline_id: Mapped[str] = mapped_column(ForeignKey("hotline.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    head_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    length: Mapped[int] = mapped_column(BigInteger)
    prefix_sha256: Mapped[str] = mapped_column(String(64))
    #: Lines in the first ``length`` bytes: row numbers of the new part go on from there.
    lines: Mapped[int] = mapped_column(BigInteger)
    ingest_id: Mapped[int] = mapped_column(ForeignKey("ingest.id"))


class QueueCallDayRow(Base):
    """The queue_log calls of one hotline-day (local date of the call's first ENTERQUEUE;
    calls seen without any ENTERQUEUE sit on the date of their first event)."""

    __tablename__ = "queue_call_day"

    hotline_id: Mapped[str] = mapped_column(ForeignKey("hotline.id"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    #: zlib-compressed lines ``callid TAB enter TAB outcome TAB outcome_at TAB wait TAB first_seen``
    #: sorted by callid (hotline_kpi.ingest.queue_log.encode_calls).
    calls: Mapped[bytes] = mapped_column(LargeBinary)
    entered: Mapped[int] = mapped_column(Integer)
    orphans: Mapped[int] = mapped_column(Integer)
    #: The earliest ENTERQUEUE of the calls that were still open when the day was last
    #: counted: once the watermark passes it by the unresolved age, the day is counted again.
    open_since: Mapped[int | None] = mapped_column(BigInteger)
    ingest_id: Mapped[int] = mapped_column(ForeignKey("ingest.id"))


class TicketRow(Base):
    """A ticket (工单) as last exported; the ticket number is its identity."""

    __tablename__ = "ticket"
    __table_args__ = (
        # Serves the recount of the "tickets" source's counters for the touched days.
        Index("ix_ticket_day", "hotline_id", "day"),
    )

    hotline_id: Mapped[str] = mapped_column(ForeignKey("hotline.id"), primary_key=True)
    ticket_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    accepted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    #: Local date of acceptance in the hotline's zone: the day the ticket counts for.
    day: Mapped[dt.date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(32))
    request_type: Mapped[str] = mapped_column(String(32), default="")
    #: direct (直接答复: resolved on the call) | dispatch (派单) | "" (not yet decided)
    handling: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str] = mapped_column(String(200), default="")
    returned: Mapped[bool] = mapped_column(Boolean)
    operator_fault: Mapped[bool] = mapped_column(Boolean)
    returned_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    return_reason: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(64), default="")
    #: The latest time in the row (accepted, returned, closed; UNIX seconds): an older
    #: export never overwrites a newer one.
    version: Mapped[int] = mapped_column(BigInteger)
    ingest_id: Mapped[int] = mapped_column(ForeignKey("ingest.id"))


class CallbackRow(Base):
    """A satisfaction callback (回访) as last exported."""

    __tablename__ = "callback"
    __table_args__ = (
        # Serves the recount of the "callbacks" source's counters for the touched days.
        Index("ix_callback_day", "hotline_id", "day"),
    )

    hotline_id: Mapped[str] = mapped_column(ForeignKey("hotline.id"), primary_key=True)
    #: The export's callback number (回访编号) when it has one, else ticket number + time.
    callback_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    ticket_no: Mapped[str] = mapped_column(String(64))
    called_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    #: Local date of the callback in the hotline's zone.
    day: Mapped[dt.date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(16), default="")
    #: very_satisfied | satisfied | basically_satisfied | dissatisfied | very_dissatisfied
    #: | unreached | refused
    result: Mapped[str] = mapped_column(String(24))
    ingest_id: Mapped[int] = mapped_column(ForeignKey("ingest.id"))


# --- the service (scheduler, exporter, status page) ----------------------------------


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
    evaluated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    trigger: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)


class IngestAttemptRow(Base):
    """Every file the service or the CLI tried to load, with its outcome (metrics, status page)."""

    __tablename__ = "ingest_attempt"
    __table_args__ = (Index("ix_ingest_attempt_source_result", "source", "result"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
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
    last_started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_duration_seconds: Mapped[float | None] = mapped_column(Float)
    runs_total: Mapped[int] = mapped_column(BigInteger, default=0)
    failures_total: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")


class LeaseRow(Base):
    """A named lease: only its holder runs the scheduler (SQLite; PostgreSQL adds an advisory lock)."""

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


# --- alerts (issue #5): state, state changes that double as the outbox, deliveries ---


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
    since: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    fired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    evaluated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    #: When a mail about it (its firing notice or a digest listing it) last reached a server.
    last_notified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
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
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
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
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: Transient failures are retried until then; then the rest is given up (expired).
    deliver_by: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    processed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: none (no mail) | sent | partial (some recipients refused for good) | failed | expired
    outcome: Mapped[str] = mapped_column(String(16), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")


# Serves the dispatcher's scan for owed notifications (``WHERE processed_at IS NULL ORDER
# BY next_attempt_at``) and the oldest-undelivered metric: only owed rows are indexed, so
# the index stays a handful of entries however long the history grows.
Index("ix_alert_event_owed", AlertEventRow.next_attempt_at,
      sqlite_where=AlertEventRow.processed_at.is_(None), postgresql_where=AlertEventRow.processed_at.is_(None))


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
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    #: sent | transient (retried) | permanent (5xx: not retried) | expired (retries gave up)
    outcome: Mapped[str] = mapped_column(String(16))
    code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text, default="")


# --- budget execution and the year-end report (issue #7) ---


class SpendingRow(Base):
    """Money spent on one budget line of one hotline's project, per day or per month.

    ``day`` is the date of the spending, or the first of the month when the ledger gives
    only a month (``monthly``). A spending file replaces everything stored for the months
    it covers (ledgers are re-exported whole, corrections included), so a row is never
    counted twice.
    """

    __tablename__ = "spending"
    __table_args__ = (
        # Serves the year's execution sum and the replace-by-month of a new file.
        Index("ix_spending_hotline_day", "hotline_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hotline_id: Mapped[str] = mapped_column(ForeignKey("hotline.id"))
    ingest_id: Mapped[int] = mapped_column(ForeignKey("ingest.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    monthly: Mapped[bool] = mapped_column(Boolean, default=False)
    budget_line: Mapped[str] = mapped_column(String(64))
    #: The amount in fen (1/100 yuan): integers sum exactly on every backend, and SQLite
    #: has no exact decimal type.
    amount_fen: Mapped[int] = mapped_column(BigInteger)


class ReportRunRow(Base):
    """One year-end report drafted (and mailed) by the service: a restart does not resend it."""

    __tablename__ = "report_run"

    hotline_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    drafted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    mailed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    files: Mapped[str] = mapped_column(Text, default="")
