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

- ``base``: the declarative base and shared column types; ``data``: the tables above;
  ``service``: the service's own state (snapshots, jobs, lease, alerts, report runs).
"""

from hotline_kpi.store.models.base import NAMING, Base, CounterColumns, UTCDateTime
from hotline_kpi.store.models.data import (
    CallbackRow,
    DailyCountersRow,
    HotlineRow,
    IngestRow,
    LogMarkRow,
    QueueCallDayRow,
    SourceDayChannelRow,
    SourceDayRow,
    SourceStateRow,
    SpendingRow,
    TicketRow,
)
from hotline_kpi.store.models.service import (
    AlertDeliveryRow,
    AlertEventRow,
    AlertRow,
    EvaluationSnapshotRow,
    IngestAttemptRow,
    JobRunRow,
    LeaseRow,
    ReportRunRow,
)

__all__ = [
    "Base",
    "CounterColumns",
    "UTCDateTime",
    "NAMING",
    "HotlineRow",
    "IngestRow",
    "SourceDayRow",
    "SourceDayChannelRow",
    "DailyCountersRow",
    "SourceStateRow",
    "LogMarkRow",
    "QueueCallDayRow",
    "TicketRow",
    "CallbackRow",
    "SpendingRow",
    "EvaluationSnapshotRow",
    "IngestAttemptRow",
    "JobRunRow",
    "LeaseRow",
    "AlertRow",
    "AlertEventRow",
    "AlertDeliveryRow",
    "ReportRunRow",
]
