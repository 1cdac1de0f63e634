"""The data tables: hotlines, loads and their provenance, each source's days and the
effective counters, and the raw records of the hotline's systems (see the package doc)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hotline_kpi.store.models.base import Base, CounterColumns, UTCDateTime


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
    ingested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
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


class SourceStateRow(Base):
    """One row per hotline and raw source: the lock every load of it takes, and its state."""

    __tablename__ = "source_state"

    hotline_id: Mapped[str] = mapped_column(ForeignKey("hotline.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: queue-log: the latest event time read so far (UNIX seconds). Calls still open this
    #: long after entering count as unresolved (settings.queue_log.unresolved_after_hours).
    watermark: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


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
    #: The day's call states, compressed (a Zstandard frame; zlib before 2026-12, still read;
    #: hotline_kpi.ingest.queue_log.blob):
    #: the call ids joined by newlines, then the seven numbers of each state column by column,
    #: narrowed and byte-shuffled (``HKQC4``; ``HKQC5``, rows of int64, for numbers that are
    #: no time of ours). Days stored before 2026-12 (``HKQC3``, ``HKQC2``: an earlier call of a
    #: reused id under ``id~anchor``, now ``id|anchor``) are read as well.
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
    accepted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: Local date of acceptance in the hotline's zone: the day the ticket counts for.
    day: Mapped[dt.date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(32))
    request_type: Mapped[str] = mapped_column(String(32), default="")
    #: direct (直接答复: resolved on the call) | dispatch (派单) | "" (not yet decided)
    handling: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str] = mapped_column(String(200), default="")
    returned: Mapped[bool] = mapped_column(Boolean)
    operator_fault: Mapped[bool] = mapped_column(Boolean)
    returned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    return_reason: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
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
    called_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: Local date of the callback in the hotline's zone.
    day: Mapped[dt.date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(16), default="")
    #: very_satisfied | satisfied | basically_satisfied | dissatisfied | very_dissatisfied
    #: | unreached | refused
    result: Mapped[str] = mapped_column(String(24))
    ingest_id: Mapped[int] = mapped_column(ForeignKey("ingest.id"))


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
