"""Small queue_log files written line by line, and loading them through the real pipeline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterable

from hotline_kpi.ingest.pipeline import IngestOutcome, ingest_file
from hotline_kpi.store import sums
from hotline_kpi.store.db import read_session
from tests.common import SHANGHAI, TZ

#: 2019-03-01 08:00 in Shanghai: times in the tests are seconds after it.
T0 = int(dt.datetime(2019, 3, 1, 8, 0, tzinfo=TZ).timestamp())
DAY = dt.date(2019, 3, 1)
CALL_COUNTERS = ("calls_offered", "calls_answered", "calls_abandoned_short", "answer_wait_seconds_sum",
                 "calls_answered_within_15s")


def ev(t: int, cid: str, event: str, *data: object, queue: str = "12345", agent: str = "NONE") -> str:
    """One line: ``epoch|callid|queue|agent|EVENT|data...`` with the time T0 + t."""
    return "|".join([str(T0 + t), cid, queue, agent, event, *map(str, data)])


def answered(cid: str, t: int, wait: int, talk: int = 60, agent: str = "SIP/8001", queue: str = "12345") -> list[str]:
    return [ev(t, cid, "ENTERQUEUE", "", "13800000000", 1, queue=queue),
            ev(t + wait, cid, "CONNECT", wait, cid + "b", 2, queue=queue, agent=agent),
            ev(t + wait + talk, cid, "COMPLETECALLER", wait, talk, 1, queue=queue, agent=agent)]


def abandoned(cid: str, t: int, wait: int, queue: str = "12345") -> list[str]:
    return [ev(t, cid, "ENTERQUEUE", "", "13800000000", 1, queue=queue),
            ev(t + wait, cid, "ABANDON", 1, 1, wait, queue=queue)]


def write(path: Path, lines: Iterable[str], end: str = "\n", encoding: str = "utf-8") -> Path:
    path.write_bytes("".join(line + end for line in lines).encode(encoding))
    return path


def load(engine, path: Path, settings, catalogues, clock, source: str | None = "queue-log") -> IngestOutcome:
    return ingest_file(engine, path, settings=settings, catalogues=catalogues, clock=clock, source=source)


def counters(engine, source: str = "queue-log") -> dict[dt.date, dict[str, float]]:
    """The current counters of ``source`` per day (only the days it supplied)."""
    from sqlalchemy import select

    from hotline_kpi.store.models import SourceDayRow

    with read_session(engine) as s:
        rows = s.scalars(select(SourceDayRow).where(SourceDayRow.source == source, SourceDayRow.is_current.is_(True)))
        return {r.day: {c: getattr(r, c) for c in CALL_COUNTERS if getattr(r, c) is not None} for r in rows}


def effective(engine, day: dt.date) -> dict[str, float | None]:
    with read_session(engine) as s:
        rows = sums.daily_counters(s, SHANGHAI, day, day)
    return dict(rows[0].values) if rows else {}
