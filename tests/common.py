"""Constants shared by the test suite, defined once (imported, never copied).

Tests use the hotline's own zone (Asia/Shanghai), never UTC, so zone bugs show.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Table

from hotline_kpi.store.models import Base

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ROOT / "hotline_kpi" / "defaults" / "targets"
#: The id of the hotline of the real target catalogue (hotline_kpi/defaults/targets).
SHANGHAI = "shanghai-12345"
#: Its zone, as a fixed offset (Shanghai has had no daylight saving time since 1991) ...
TZ = dt.timezone(dt.timedelta(hours=8))
#: ... and as the IANA zone the service itself uses.
ZONE = ZoneInfo("Asia/Shanghai")
UTC = dt.timezone.utc

#: The store's bookkeeping tables: what a load of data never writes (the hotline row, the
#: evaluations, the attempts log, the scheduler's and alerting's state, report runs).
BOOKKEEPING_TABLES = frozenset({
    "hotline", "evaluation_snapshot", "ingest_attempt", "job_run", "lease", "alert", "alert_event",
    "alert_delivery", "report_run",
})

#: Every data table of the store: every table of the ORM metadata except the bookkeeping
#: ones, so that a new table is counted as data until it is named here as bookkeeping.
DATA_TABLES: tuple[Table, ...] = tuple(t for t in Base.metadata.sorted_tables if t.name not in BOOKKEEPING_TABLES)
assert BOOKKEEPING_TABLES <= set(Base.metadata.tables), BOOKKEEPING_TABLES - set(Base.metadata.tables)
