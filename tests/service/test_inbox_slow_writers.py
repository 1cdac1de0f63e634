"""Issue #13, case 1: a file still being written is never loaded, with a REAL slow writer.

A writer process (not a faked mtime) writes part of a file into the inbox of a real
``hotline-kpi serve``, pauses longer than the settle time with the file open, then
writes the rest. Whatever the scans saw in between, the store must end up holding the
whole file exactly (10 of 10 days, 300 of 300 calls), the file archived whole, nothing
quarantined.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline_kpi.store.db import make_engine, read_session
from hotline_kpi.store.models import SourceDayRow
from tests.ingest.qlog import answered
from tests.processes import service_env, start_serve
from tests.reliability.support import files, wait_for

pytestmark = pytest.mark.system

SETTLE = 1.0
PAUSE = 4.0  # longer than the settle time and than several scan intervals
SLOW = {
    "HOTLINE_KPI_SERVICE__INBOX_SCAN_SECONDS": "1",
    "HOTLINE_KPI_SERVICE__INBOX_SETTLE_SECONDS": str(SETTLE),
    "HOTLINE_KPI_SERVICE__METRICS_REFRESH_SECONDS": "1",
}

#: Writes argv[2] (bytes from a file) to argv[1], then sleeps argv[4] s with the file open,
#: then writes argv[3]; each part flushed and fsynced: what a scp or a row-by-row program does.
WRITER = r"""
import os, sys, time
target, first, second, pause = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
with open(target, "wb") as f:
    f.write(open(first, "rb").read()); f.flush(); os.fsync(f.fileno())
    print("first part written", flush=True)
    time.sleep(pause)
    f.write(open(second, "rb").read()); f.flush(); os.fsync(f.fileno())
print("done", flush=True)
"""

HEADER = "日期,受理量,呼入量,接通量,平均接通时长(秒),话务员受理量,一次性解答量,派单量,有责退单量,回访量,满意量\n"


def _report_rows(days: int) -> list[str]:
    rows = []
    for i in range(days):
        day = dt.date(2019, 1, 1) + dt.timedelta(days=i)
        rows.append(f"{day:%Y-%m-%d},{11000 + 10 * i},{10000 + 10 * i},9300,7.5,9300,5200,4100,180,400,372\n")
    return rows


def _slow_write(tmp_path: Path, target: Path, first: bytes, second: bytes, pause: float) -> subprocess.Popen:
    parts = tmp_path / "parts"
    parts.mkdir(exist_ok=True)
    (parts / "1").write_bytes(first)
    (parts / "2").write_bytes(second)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target), str(parts / "1"), str(parts / "2"),
                             str(pause)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "first part written"
    return proc


def _current_rows(url: str, source: str) -> list[SourceDayRow]:
    eng = make_engine(url)
    try:
        with read_session(eng) as s:
            return list(s.scalars(select(SourceDayRow).where(SourceDayRow.source == source,
                                                             SourceDayRow.is_current.is_(True))))
    finally:
        eng.dispose()


def _serve(tmp_path: Path, request, extra: dict[str, str] | None = None):
    """serve on the migrated store ``tmp_path/store.db`` (the sqlite_url fixture)."""
    env = service_env(tmp_path, extra={**SLOW, **(extra or {})})
    served = start_serve(env, tmp_path, request.addfinalizer, wait_for="/healthz")
    inbox = tmp_path / "var" / "inbox"
    wait_for(inbox.is_dir, 30, "the inbox created")
    return served, inbox, env["HOTLINE_KPI_DATABASE_URL"]


def _settle_and_finish(served, inbox: Path, writer: subprocess.Popen, name: str) -> None:
    assert writer.wait(timeout=60) == 0
    # The complete file is now stable: it must be loaded and leave the inbox within a few scans.
    wait_for(lambda: not (inbox / name).exists(), 30, f"{name} loaded and moved out of the inbox")
    time.sleep(2.5)  # two more scans: nothing else happens to it
    assert served.proc.poll() is None, served.log()[-5000:]


def test_a_daily_report_written_in_two_parts_is_loaded_whole(tmp_path, sqlite_url, request):
    served, inbox, url = _serve(tmp_path, request)
    rows = _report_rows(10)
    first, second = (HEADER + "".join(rows[:5])).encode(), "".join(rows[5:]).encode()
    writer = _slow_write(tmp_path, inbox / "日报-2019-01.csv", first, second, PAUSE)
    _settle_and_finish(served, inbox, writer, "日报-2019-01.csv")
    stored = _current_rows(url, "daily-report")
    assert len(stored) == 10, f"{len(stored)} of 10 days stored\n{served.log()[-4000:]}"
    assert sum(r.calls_offered for r in stored) == sum(10000 + 10 * i for i in range(10))  # 呼入量
    archived = [p for p in files(tmp_path / "var" / "archive") if p.name == "日报-2019-01.csv"]
    assert [p.read_bytes() for p in archived] == [first + second]
    assert files(tmp_path / "var" / "quarantine") == []


def test_a_queue_log_written_with_a_pause_is_loaded_whole(tmp_path, sqlite_url, request):
    served, inbox, url = _serve(tmp_path, request)
    lines: list[str] = []
    for i in range(300):
        lines += answered(f"c{i:04d}", t=20 * i, wait=5 + i % 10)
    text = "".join(line + "\n" for line in lines)
    cut = len("".join(line + "\n" for line in lines[:449]))  # mid-call: an ENTERQUEUE without its CONNECT
    writer = _slow_write(tmp_path, inbox / "queue_log", text[:cut].encode(), text[cut:].encode(), PAUSE)
    _settle_and_finish(served, inbox, writer, "queue_log")
    stored = _current_rows(url, "queue-log")
    offered = sum(r.calls_offered or 0 for r in stored)
    answered_ = sum(r.calls_answered or 0 for r in stored)
    assert (offered, answered_) == (300, 300), f"{offered}/{answered_} of 300 calls stored\n{served.log()[-4000:]}"
    assert files(tmp_path / "var" / "quarantine") == []
