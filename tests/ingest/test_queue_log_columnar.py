"""The vectorised scan of the queue_log (hotline_kpi.ingest.queue_log.columnar) against the line
scan on the same files: the same call states spooled (as a multiset per day), the same tallies,
notes and problems, and through the pipeline the same counters of every day and the same stored
calls. Blocks are small (4 KB) so that a file is many blocks: some plain, read the vectorised
way, some holding an irregular line, read line by line, and calls crossing block ends.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from hotline_kpi.demo import generate_year
from hotline_kpi.demo_sources import queue_log_days
from hotline_kpi.ingest.base import MAX_PROBLEMS, IngestContext, IngestRejected
from hotline_kpi.ingest.queue_log import QueueLogIngestor, decode_calls
from hotline_kpi.ingest.queue_log.calls import LocalDays
from hotline_kpi.ingest.queue_log.columnar import scan_blocks
from hotline_kpi.ingest.queue_log.reader import pipe_batches, pipe_blocks
from hotline_kpi.ingest.queue_log.scan import Scan, latest_time, scan_lines
from hotline_kpi.ingest.queue_log.spool import Spool
from hotline_kpi.settings import QueueLogSettings
from hotline_kpi.store import records
from hotline_kpi.store.db import make_engine, read_session
from tests.ingest.qlog import T0, counters, ev, load

SMALL = 4 << 10


def _settings(vectorised: bool, **more) -> QueueLogSettings:
    return QueueLogSettings(vectorised=vectorised, read_chunk_bytes=SMALL, spool_every_calls=200,
                            **{**_one_part(vectorised), **more})


def _one_part(vectorised: bool) -> dict:
    """Read in one part: by a worker thread with the vectorised scan (it only runs there),
    in the test's own thread with the line scan."""
    return {"parallel_min_bytes": 1, "parallel_part_min_bytes": 1 << 40} if vectorised else {
        "parallel_min_bytes": 1 << 40}


def _ctx(catalogues, queue_log: QueueLogSettings) -> IngestContext:
    return IngestContext(hotline=catalogues.hotline("shanghai-12345"), catalogues=catalogues,
                         today=dt.date(2020, 1, 1), queue_log=queue_log)


def _parse(path, catalogues, queue_log: QueueLogSettings):
    """What the parse hands to the store: (states per day as sorted lists, max time, calls, notes),
    or the problems when the file is refused."""
    try:
        parsed = QueueLogIngestor().parse(path, _ctx(catalogues, queue_log))
    except IngestRejected as exc:
        return [(p.file, p.why, p.row, p.column, p.value) for p in exc.problems]
    try:
        days = {}
        for day in parsed.spool.days():
            ids, numbers = parsed.spool.read(day)
            it = iter(numbers)
            days[day] = sorted(zip(ids, zip(it, it, it, it, it, it, it)))
        return days, parsed.max_time, parsed.calls, parsed.end_lines, list(parsed.notes)
    finally:
        parsed.close()


def _scan_here(path, catalogues, vectorised: bool, patterns=None, blocks: list[int] | None = None):
    """The scan alone, in the test's own process (no worker process to start): the vectorised
    scan or the line scan over the file in 4 KB blocks; (states per day, max time, problems, tallies).
    ``patterns``: the queue patterns (None: every queue); ``blocks`` gets the number of blocks
    read the vectorised way."""
    ctx = _ctx(catalogues, _settings(vectorised))
    scan, spool = Scan(path.name, ctx), Spool()
    try:
        with path.open("rb") as f:
            size = path.stat().st_size
            args = (1, scan, spool, LocalDays(ctx.hotline.zone), lambda day, row: [], latest_time(ctx), patterns)
            if vectorised:
                found = scan_blocks(pipe_blocks(f, size, [0], SMALL), *args)
            else:
                found = scan_lines(pipe_batches(f, size, [0], SMALL), *args)
        days = {}
        for day in spool.days():
            ids, numbers = spool.read(day)
            it = iter(numbers)
            days[day] = sorted(zip(ids, zip(it, it, it, it, it, it, it)))
        if blocks is not None:
            blocks.append(scan.vectorised)
        return days, found, scan.problems, scan.blank, scan.system, scan.unknown_events, scan.other_queues
    finally:
        spool.close()


def _blocks_read_vectorised(path, catalogues) -> tuple[int, int]:
    """(blocks read the vectorised way, all blocks) when the file is scanned in 4 KB blocks."""
    ctx = _ctx(catalogues, _settings(True))
    scan, spool = Scan(path.name, ctx), Spool()
    try:
        with path.open("rb") as f:
            blocks = list(pipe_blocks(f, path.stat().st_size, [0], SMALL))
        scan_blocks(iter(blocks), 1, scan, spool, LocalDays(ctx.hotline.zone), lambda day, row: [],
                    latest_time(ctx), None)
    finally:
        spool.close()
    return scan.vectorised, len(blocks)


def _messy_log(seed: int) -> list[str]:
    """Four days of the demo plan (a sample) with the mess of real logs: reused call ids,
    overflow, orphans, calls that never exit, exits without a waittime, unknown and system
    events, other queues, duplicated and swapped lines, a call over midnight."""
    plan = generate_year(2019, 12345)[59:63]
    lines = [ln for _, _, data in queue_log_days(plan, seed=seed, scale=0.04) for ln in data.decode().splitlines()]
    rng = random.Random(seed)
    h, day = 3600, 86400
    extra = [
        # reused ids: the same day, the next day, two days apart; an answered call's id reused
        ev(0, "r1", "ENTERQUEUE", "", "138", 1), ev(3, "r1", "ABANDON", 1, 1, 3),
        ev(7 * h, "r1", "ENTERQUEUE", "", "139", 1), ev(7 * h + 20, "r1", "CONNECT", 20, "x", 1),
        ev(14 * h, "r2", "ENTERQUEUE", "", "138", 1), ev(14 * h + 3, "r2", "ABANDON", 1, 1, 3),
        ev(day + h, "r2", "ENTERQUEUE", "", "139", 1), ev(day + h + 10, "r2", "CONNECT", 10, "x", 1),
        ev(h, "r3", "ENTERQUEUE", "", "138", 1), ev(h + 300, "r3", "EXITWITHTIMEOUT", 1, 1, 300),
        ev(2 * day + 2 * h, "r3", "ENTERQUEUE", "", "139", 1), ev(2 * day + 2 * h + 10, "r3", "CONNECT", 10, "x", 1),
        ev(8 * h, "r4", "ENTERQUEUE", "", "140", 1), ev(8 * h + 5, "r4", "CONNECT", 5, "y", 1),
        ev(8 * h + 300, "r4", "COMPLETECALLER", 5, 295, 1),
        ev(9 * h, "r4", "ENTERQUEUE", "", "141", 1), ev(9 * h + 2, "r4", "ABANDON", 1, 1, 2),
        # overflow: timed out of one queue, into the next within seconds, answered
        ev(2 * h, "o1", "ENTERQUEUE", "", "138", 1), ev(2 * h + 60, "o1", "EXITWITHTIMEOUT", 1, 1, 60),
        ev(2 * h + 61, "o1", "ENTERQUEUE", "", "138", 1), ev(2 * h + 120, "o1", "EXITWITHTIMEOUT", 1, 1, 59),
        ev(2 * h + 120, "o1", "ENTERQUEUE", "", "138", 1), ev(2 * h + 150, "o1", "CONNECT", 30, "x", 1),
        ev(2 * h + 400, "o1", "COMPLETEAGENT", 30, 250, 1),
        # an exit and an ENTERQUEUE in the same second; an orphan; a call that never exits
        ev(3 * h, "s1", "ENTERQUEUE", "", "138", 1), ev(3 * h, "s1", "ABANDON", 1, 1, 0),
        ev(3 * h + 5, "orph", "CONNECT", 4, "y", 1, agent="SIP/8"), ev(3 * h + 90, "orph", "COMPLETEAGENT", 4, 85, 1),
        ev(4 * h, "lost", "ENTERQUEUE", "", "138", 1),
        # exits without a waittime (older Asterisk), EXITWITHKEY with one
        ev(5 * h, "k1", "ENTERQUEUE", "", "138", 1), ev(5 * h + 30, "k1", "EXITWITHKEY", 9, 1),
        ev(5 * h + 40, "k2", "ENTERQUEUE", "", "138", 1), ev(5 * h + 45, "k2", "EXITWITHKEY", 0, 1, 1, 5),
        ev(5 * h + 50, "e1", "ENTERQUEUE", "", "138", 1), ev(5 * h + 55, "e1", "EXITEMPTY", 1, 1),
        # unknown and system events, another hotline's queue, an agent name in Chinese
        ev(6 * h, "odd", "DID", "12345"), ev(6 * h + 1, "odd", "INFO", "whatever|with|fields"),
        ev(6 * h + 2, "NONE", "ADDMEMBER", "SIP/8001"), ev(6 * h + 3, "NONE", "PAUSE", "lunch"),
        ev(6 * h + 4, "q2", "ENTERQUEUE", "", "138", 1, queue="99999"),
        ev(6 * h + 9, "q2", "CONNECT", 5, "z", 1, queue="99999", agent="话务员 李娜"),
        # a call entering before midnight, answered after it
        ev(16 * h - 5, "mid", "ENTERQUEUE", "", "138", 1), ev(16 * h + 10, "mid", "CONNECT", 15, "m", 1),
    ]
    for line in extra:
        lines.insert(rng.randrange(len(lines)), line)
    for _ in range(60):  # duplicates anywhere, and neighbours swapped
        lines.insert(rng.randrange(len(lines)), rng.choice(lines))
        i = rng.randrange(len(lines) - 1)
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    return lines


@pytest.mark.parametrize("mess", ["plain", "a blank line", "crlf in one place", "unknown spaced event",
                                  "a byte order mark", "trailing pipes"])
def test_the_vectorised_scan_spools_the_same_states_as_the_line_scan(tmp_path, catalogues, mess):
    lines = _messy_log(seed=7)
    if mess == "a blank line":
        lines.insert(len(lines) // 2, "")
    elif mess == "crlf in one place":
        lines[len(lines) // 3] += "\r"
    elif mess == "a byte order mark":
        lines[0] = "\ufeff" + lines[0]
    elif mess == "unknown spaced event":
        lines.insert(len(lines) // 4, ev(10, "sp", " CONNECT ", 4, "x", 1))
    elif mess == "trailing pipes":  # every line (so each block's first) 11 fields or more
        lines = [ln + "|" * (1 + i % 3) for i, ln in enumerate(lines)]
    path = tmp_path / "queue_log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    vectorised, blocks = _blocks_read_vectorised(path, catalogues)
    assert blocks > 50 and vectorised > blocks * 0.8  # most blocks are plain
    line_scan = _parse(path, catalogues, _settings(False))
    assert _parse(path, catalogues, _settings(True)) == line_scan
    if mess == "a byte order mark":  # skipped by both (was refused by both as line 1's time, since 2026-12)
        path.write_text("\n".join([lines[0][1:], *lines[1:]]) + "\n", encoding="utf-8")
        assert line_scan == _parse(path, catalogues, _settings(False))  # the same states as without it
    assert sum(len(v) for v in line_scan[0].values()) > 1000
    # Queue patterns: the other hotline's queue is left out, and tallied, the same way.
    patterns = {"queues": {"shanghai-12345": ("12345*",)}}
    assert _parse(path, catalogues, _settings(True, **patterns)) == _parse(path, catalogues, _settings(False, **patterns))


def test_problems_are_the_line_scans_with_their_rows(tmp_path, catalogues):
    lines = _messy_log(seed=8)
    lines.insert(len(lines) // 2, ev(10, "bad", "CONNECT", "x", "y", 1))
    lines.insert(len(lines) // 3, ev(10, "bad2", "ABANDON", 1, 1, 90000))
    lines.insert(len(lines) // 4, "1234|not-a-time")
    path = tmp_path / "queue_log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = _parse(path, catalogues, _settings(True))
    assert found == _parse(path, catalogues, _settings(False))
    assert [p[3] for p in found] == [None, "data3", "data1"]


@pytest.mark.parametrize("where", ["second part", "unfinished last line"])
def test_nul_bytes_are_found_by_the_workers_as_by_the_ingesting_process(tmp_path, catalogues, where):
    # A big file's workers look for NUL bytes in the blocks they read (the ingesting process
    # does not read the file first): the same refusal, byte offset, line and run as the whole-file
    # check, even behind a bad line and with the run longer than a read block.
    lines = _messy_log(seed=9)
    lines.insert(len(lines) // 4, ev(10, "bad", "CONNECT", "x", "y", 1))
    data = ("\n".join(lines) + "\n").encode()
    if where == "second part":
        at = data.index(b"\n", len(data) * 3 // 4) + 1
        data = data[:at] + b"\x00" * 70_000 + data[at:]
    else:
        data += b"1551398400|c|q|a|ENTER\x00\x00\x00"
    path = tmp_path / "queue_log"
    path.write_bytes(data)
    two_parts = {"parallel_min_bytes": 1, "parallel_part_min_bytes": len(data) // 3}  # (one per core, up to 2)
    found = _parse(path, catalogues, _settings(True, **two_parts))
    assert found == _parse(path, catalogues, _settings(False))
    [(file, why, row, _, value)] = found
    offset = data.index(b"\x00")
    run = 70_000 if where == "second part" else 3
    assert f"NUL bytes ({run:,} from byte offset {offset:,})" in why
    assert row == data.count(b"\n", 0, offset) + 1 and value == f"byte {offset:,}"


def _stored(engine) -> dict:
    """Every stored call state, by day."""
    with read_session(engine) as s:
        days = [d for d in (dt.date(2019, 2, 27) + dt.timedelta(days=i) for i in range(8))]
        return {day: decode_calls(row.calls) for day, row in records.queue_days(s, "shanghai-12345", days)
                if row is not None}


@pytest.mark.parametrize("pieces", [1, 3])
def test_the_pipeline_counts_every_day_the_same_and_stores_the_same_calls(tmp_path, sqlite_template, settings,
                                                                          catalogues, clock, pieces):
    lines = _messy_log(seed=9)
    cut = [len(lines) * i // pieces for i in range(pieces + 1)]
    paths = []
    for i, (a, b) in enumerate(zip(cut, cut[1:])):
        paths.append(tmp_path / f"queue_log.{pieces - i}")
        paths[-1].write_text("\n".join(lines[a:b]) + "\n", encoding="utf-8")

    def run(vectorised: bool, parallel: bool):
        parts = {"parallel_min_bytes": 1, "parallel_part_min_bytes": 1} if parallel else _one_part(vectorised)
        queue_log = QueueLogSettings(vectorised=vectorised, read_chunk_bytes=SMALL, spool_every_calls=300, **parts)
        db = tmp_path / f"{vectorised}-{parallel}.db"
        shutil.copy(sqlite_template, db)
        engine = make_engine(f"sqlite:///{db}")
        mine = settings.model_copy(update={"var_dir": tmp_path / f"var-{vectorised}-{parallel}", "queue_log": queue_log})
        notes = [load(engine, p, mine, catalogues, clock).notes for p in paths]
        found = counters(engine), _stored(engine), notes
        engine.dispose()
        return found

    expected = run(False, False)
    assert len(expected[0]) >= 4 and sum(v["calls_offered"] for v in expected[0].values()) > 1000
    assert run(True, False) == expected
    par_counts, par_stored, par_notes = run(True, True)
    assert (par_counts, par_stored) == expected[:2]
    # In parts at once: threads with the vectorised scan, processes with the line scan.
    line_counts, line_stored, line_notes = run(False, True)
    assert (line_counts, line_stored) == expected[:2]
    for notes, each in ((par_notes, "thread"), (line_notes, "process")):
        assert all(any(n.endswith(f"parts at once (one {each} each)") for n in file_notes) for file_notes in notes)


# --- properties: random calls, reused ids, any order ---------------------------------------------

_EVENT_LINES = [
    lambda t, c: ev(t, c, "ENTERQUEUE", "", "138", 1),
    lambda t, c: ev(t, c, "CONNECT", t % 30, "x", 1, agent="SIP/8001"),
    lambda t, c: ev(t, c, "ABANDON", 1, 1, t % 50),
    lambda t, c: ev(t, c, "EXITWITHTIMEOUT", 1, 1, t % 90),
    lambda t, c: ev(t, c, "EXITEMPTY", 1, 1),
    lambda t, c: ev(t, c, "EXITWITHKEY", 3, 1, 1, t % 20),
    lambda t, c: ev(t, c, "COMPLETECALLER", 5, 60, 1, agent="SIP/8001"),
    lambda t, c: ev(t, c, "COMPLETEAGENT", 5, 60, 1, agent="SIP/8001"),
    lambda t, c: ev(t, c, "RINGNOANSWER", 15000, agent="SIP/8002"),
    lambda t, c: ev(t, "NONE", "PAUSE", "lunch", agent="SIP/8003"),
    lambda t, c: ev(t, c, "DID", "12345"),
]

_line = st.tuples(st.integers(0, 3 * 86400), st.integers(0, 40), st.integers(0, len(_EVENT_LINES) - 1))


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(calls=st.lists(st.tuples(st.integers(0, 3 * 86400), st.integers(0, 40), st.integers(0, 400),
                                st.integers(0, 2)), min_size=20, max_size=250),
       noise=st.lists(_line, max_size=80), swaps=st.lists(st.integers(0, 10**6), max_size=40))
def test_property_random_logs_spool_the_same_states(tmp_path_factory, catalogues, calls, noise, swaps):
    """Calls of a small pool of ids (so ids are reused, sometimes within seconds of an exit),
    answered, abandoned or left open, with random lines between them, neighbours swapped."""
    lines = []
    for t, cid, wait, fate in calls:
        c = f"c{cid}"
        lines.append(ev(t, c, "ENTERQUEUE", "", "138", 1))
        if fate == 0:
            lines += [ev(t + wait, c, "CONNECT", wait, "x", 1), ev(t + wait + 60, c, "COMPLETECALLER", wait, 60, 1)]
        elif fate == 1:
            lines.append(ev(t + wait, c, "ABANDON", 1, 1, wait))
    lines.sort(key=lambda ln: int(ln.split("|", 1)[0]))
    for t, cid, kind in noise:
        lines.insert(t % (len(lines) + 1), _EVENT_LINES[kind](t, f"c{cid}"))
    for k in swaps:
        i = k % (len(lines) - 1)
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    path = tmp_path_factory.mktemp("random") / "queue_log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert _scan_here(path, catalogues, vectorised=True) == _scan_here(path, catalogues, vectorised=False)
    assert T0  # times are seconds after 2019-03-01 08:00


_INGEST_IN_A_FRESH_PROCESS = """
import datetime as dt, json, os, sys, threading
from pathlib import Path
from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import FixedClock
from hotline_kpi.ingest.base import IngestContext
from hotline_kpi.ingest.queue_log import QueueLogIngestor
from hotline_kpi.ingest.queue_log import parallel
from hotline_kpi.ingest.pipeline import ingest_file
from hotline_kpi.settings import QueueLogSettings, Settings
from hotline_kpi.store.db import make_engine
from tests.ingest.qlog import counters

path, db, targets = (Path(a) for a in sys.argv[1:4])
queue_log = QueueLogSettings(read_chunk_bytes=4096, parallel_min_bytes=1, parallel_part_min_bytes=1)
settings = Settings(database_url=f"sqlite:///{db}", var_dir=db.parent / "var", targets_dir=targets,
                    queue_log=queue_log, _env_file=None)
catalogues = CatalogueSet.from_dir(targets)
blocks, readers, pools = [], [], []
hand_over = parallel._Part.hand_over
parallel._Part.hand_over = lambda part, *a: (blocks.append(part.vectorised), hand_over(part, *a))[1]
scan_part = parallel._scan_part
parallel._scan_part = lambda *a: (readers.append([os.getpid(), threading.current_thread().name]), scan_part(*a))[1]
process_pool = parallel.ProcessPoolExecutor
parallel.ProcessPoolExecutor = lambda *a, **k: (pools.append(1), process_pool(*a, **k))[1]
engine = make_engine(settings.database_url)
clock = FixedClock(dt.datetime(2020, 3, 1, 9, tzinfo=dt.timezone(dt.timedelta(hours=8))))
outcome = ingest_file(engine, path, settings=settings, catalogues=catalogues, clock=clock, source="queue-log")
days = counters(engine)
print(json.dumps({"pid": os.getpid(), "readers": readers, "pools": len(pools), "blocks": blocks, "days": len(days),
                  "offered": sum(v["calls_offered"] for v in days.values()), "notes": list(outcome.notes)}))
"""


def test_a_big_file_is_read_in_parts_by_threads_of_the_ingesting_process(tmp_path, sqlite_template):
    """A big file ingested in a fresh process (the CLI's or the service's): its parts are read
    at once by threads of that process with the vectorised scan, and no worker process is
    started (each would hold the interpreter and the libraries once more). The note says so."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    lines = _messy_log(seed=11)
    path = tmp_path / "queue_log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "store.db"
    shutil.copy(sqlite_template, db)
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", _INGEST_IN_A_FRESH_PROCESS, str(path), str(db),
                          str(root / "hotline_kpi" / "defaults" / "targets")],
                         cwd=root, capture_output=True, text=True, check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["pools"] == 0
    assert len(found["readers"]) == len(found["blocks"]) >= 2
    assert all(pid == found["pid"] and name.startswith("queue-log-part") for pid, name in found["readers"])
    assert all(n > 0 for n in found["blocks"])  # each thread read blocks vectorised
    assert f"read in {len(found['blocks'])} parts at once (one thread each)" in found["notes"]
    assert found["days"] >= 4 and found["offered"] > 1000


@pytest.mark.parametrize("bad_from", [None, 0.1, 0.7], ids=["no problem", "problems in the first MiB",
                                                             "problems past the first MiB"])
def test_a_big_irregular_block_read_a_mib_at_a_time_is_read_as_the_line_scan_reads_it(tmp_path, catalogues,
                                                                                     bad_from):
    """A block of several MiB with an irregular line (a tab after a call id) goes to the line
    scan a MiB of lines at a time (not all its lines at once: a year with such lines went over
    300 MB). The states, and the problems and where the scan stopped (too many: it stops at
    MAX_PROBLEMS), are the line scan's, row for row."""
    lines = _messy_log(seed=11) * 6  # (about 2 MB: one block of 4 MiB, read as two MiB of lines and a rest)
    lines[len(lines) // 2] = lines[len(lines) // 2].replace("|", "|\t", 1)  # a tab before a call id
    if bad_from is not None:
        first = int(len(lines) * bad_from)
        for i in range(first, first + MAX_PROBLEMS + 500):  # more lines with a time that is not one than are told
            lines[i] = "x" + lines[i]
    path = tmp_path / "queue_log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert 3 << 19 < path.stat().st_size < 4 << 20
    big = {"read_chunk_bytes": 4 << 20}
    vectorised = _parse(path, catalogues, _settings(True).model_copy(update=big))
    assert vectorised == _parse(path, catalogues, _settings(False).model_copy(update=big))
    if bad_from is not None:
        rows = [p[2] for p in vectorised]
        assert rows[0] == int(len(lines) * bad_from) + 1 and len(rows) == MAX_PROBLEMS
