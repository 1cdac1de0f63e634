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
