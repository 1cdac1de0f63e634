"""Issue #13 through the inbox of a real ``serve``, for the cases whose own tests go through
``hotline-kpi ingest``: a correction with fewer columns (2), an earlier file undoing a
correction (3), a reused call id (5), the ticket channel 12345热线 (6), a queue_log with
crash padding (11), a queue_log over New Year (13) and an unknown folder (12). One serve,
the files dropped one after the other as the office would; each assertion is a figure
the office sees (the stored day), or the place an error names."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline_kpi.store import sums
from hotline_kpi.store.db import make_engine, read_session
from hotline_kpi.store.models import IngestAttemptRow
from tests.common import SHANGHAI
from tests.ingest.test_issue13_records import NEW_YEAR_LOG, REPORT, REUSE, TICKETS_HEADER, _ev, _ticket
from tests.processes import service_env, start_serve
from tests.reliability.support import FAST_SCANS, files, wait_for


#: English wording is read here (the Chinese: tests/test_messages.py).
pytestmark = [pytest.mark.system, pytest.mark.usefixtures("english")]

D = dt.date


def _day(url: str, day: D) -> dict[str, float | None]:
    engine = make_engine(url)
    try:
        with read_session(engine) as s:
            rows = sums.daily_counters(s, SHANGHAI, day, day)
        return dict(rows[0].values) if rows else {}
    finally:
        engine.dispose()


class Office:
    """Drops files into the inbox of a running serve and waits until each has left it."""

    def __init__(self, base: Path):
        self.base, self.inbox = base, base / "var" / "inbox"
        self.archive, self.quarantine = base / "var" / "archive", base / "var" / "quarantine"

    def deliver(self, name: str, data: bytes | str, served) -> str:  # noqa: ANN001
        """Write the file (then age it past the settle time) and wait until it is archived
        or quarantined; returns which."""
        before = (len(files(self.archive)), len(files(self.quarantine)))
        self.inbox.mkdir(parents=True, exist_ok=True)
        path = self.inbox / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        wait_for(lambda: not path.exists() or served.proc.poll() is not None, 60, f"{name} taken from the inbox")
        assert served.proc.poll() is None, served.log()
        after = (len(files(self.archive)), len(files(self.quarantine)))
        return "archived" if after[0] > before[0] else "quarantined" if after[1] > before[1] else "?"


def test_the_inbox_of_a_real_serve_keeps_the_figures_of_the_issue_13_files(tmp_path, sqlite_url, request):
    env = service_env(tmp_path, extra={"HOTLINE_KPI_DATABASE_URL": sqlite_url, **FAST_SCANS})
    office = Office(tmp_path)
    served = start_serve(env, tmp_path, request.addfinalizer, wait_for="/healthz")

    # Case 3: v1, then v2 correcting 03-03, then v1 again: its figure is current again.
    v2 = REPORT.replace("2019-03-03,12000", "2019-03-03,12999")
    assert office.deliver("日报-v1.csv", REPORT, served) == "archived"
    assert office.deliver("日报-v2.csv", v2, served) == "archived"
    assert _day(sqlite_url, D(2019, 3, 3))["requests_accepted"] == 12999
    assert office.deliver("日报-v1-again.csv", REPORT, served) == "archived"
    assert _day(sqlite_url, D(2019, 3, 3))["requests_accepted"] == 12000

    # Case 2: a correction of two counters keeps the ten others of the day.
    before = _day(sqlite_url, D(2019, 3, 3))
    fix = "日期,受理量,呼入量\n2019-03-03,12345,11111\n"
    assert office.deliver("日报更正-0303.csv", fix, served) == "archived"
    after = _day(sqlite_url, D(2019, 3, 3))
    assert (after["requests_accepted"], after["calls_offered"]) == (12345, 11111)
    assert {c: after[c] for c in after if c not in ("requests_accepted", "calls_offered")} == \
           {c: before[c] for c in before if c not in ("requests_accepted", "calls_offered")}
    assert after["calls_answered"] == 9900 and after["survey_satisfied"] == 380

    # Case 6: 12345热线 is the phone channel: the operators' requests are counted.
    tickets = TICKETS_HEADER + "".join(
        _ticket(f"T{n}", f"2019-03-05 09:0{n}:00", "12345热线") for n in range(3)) + \
        _ticket("T9", "2019-03-05 10:00:00", "网站")
    assert office.deliver("工单导出-0305.csv", tickets, served) == "archived"
    mar5 = _day(sqlite_url, D(2019, 3, 5))
    assert (mar5["requests_accepted"], mar5["first_contact_eligible"], mar5["first_contact_resolved"]) == (4, 3, 3)

    # Case 5: call ids reused the same day (after an abandon, after a completed answer) are
    # new calls, in one file (03-01: no other source supplies that day).
    lines, expected = REUSE["same day"]
    log = "".join(line + "\n" for line in lines)
    assert office.deliver("queue_log", log, served) == "archived"
    for day, (offered, answered) in expected.items():
        got = _day(sqlite_url, day)
        assert (got["calls_offered"], got["calls_answered"]) == (offered, answered), day

    # Case 11: crash padding (NUL bytes) is refused, the error naming the line and byte offset.
    good = [_ev(DAY3, "z", "ENTERQUEUE", "", "138", 1), _ev(DAY3 + 5, "z", "CONNECT", 5, "zb", 1)]
    head = "".join(line + "\n" for line in good).encode()
    padded = head + b"\x00" * 512 + (_ev(DAY3 + 90, "y", "ENTERQUEUE", "", "138", 1) + "\n").encode()
    assert office.deliver("queue_log.1", padded, served) == "quarantined"
    [report] = [p for p in files(office.quarantine) if p.name.endswith(".error.txt")]
    text = report.read_text(encoding="utf-8")
    assert f"from byte offset {len(head):,}" in text and "row 3" in text, text

    # Case 13: a queue_log over New Year loads 2019-01-01 and leaves out 2018-12-31.
    assert office.deliver("queue_log-newyear", "".join(line + "\n" for line in NEW_YEAR_LOG), served) == "archived"
    jan1 = _day(sqlite_url, D(2019, 1, 1))
    assert (jan1["calls_offered"], jan1["calls_answered"], jan1["calls_answered_within_15s"]) == (3, 2, 1)
    assert _day(sqlite_url, D(2018, 12, 31)) == {}

    # Case 12: a folder that is not a hotline id is left alone and reported once.
    odd = office.inbox / "3月报表"
    odd.mkdir()
    (odd / "日报.csv").write_text(REPORT, encoding="utf-8")
    engine = make_engine(sqlite_url)
    try:
        def left() -> list[str]:
            with read_session(engine) as s:
                return list(s.scalars(select(IngestAttemptRow.file_name).where(IngestAttemptRow.result == "left")))
        wait_for(lambda: bool(left()), 30, "the unknown folder reported")
        time.sleep(3)  # three more scans: still one report
        assert len(left()) == 1 and "3月报表" in left()[0]
    finally:
        engine.dispose()
    assert (odd / "日报.csv").read_text(encoding="utf-8") == REPORT
    assert served.stop() == 0


#: Seconds from the queue_log tests' T0 (2019-03-01 08:00) to 2019-03-04 08:00: a day of its own.
DAY3 = 3 * 86400
