"""Benchmark: ingest a year of a big hotline's Asterisk queue_log, against DuckDB (issue #4).

Generates a one-year queue_log for a hotline of about 11,000 calls a day (the demo year's
plan at full scale: ~4 million calls, ~12 million lines, ~830 MB) into a temporary folder
(never committed), then, each in its own process:

- the project: ``hotline-kpi``'s ingest pipeline into a fresh SQLite store (parse, join,
  count, one write transaction), then the queue-log source's daily counters read back;
- the reference: DuckDB SQL over the same file (``read_csv`` of the pipe-delimited lines,
  each call's ENTERQUEUE joined to its deciding event, grouped by local date).

Prints both wall times, both peak memories (all the side's processes at once, sampled every
50 ms from the bench's own process: RSS, and PSS, which splits a page shared between
processes among them), the CPU time (the project's ingesting process and its worker
processes, sampled; DuckDB's process, all its threads: a figure less disturbed than wall
time on a busy machine) and the
ratio, and checks that the daily counters agree exactly (exit 1 if not).

    .venv/bin/python bench/ingest_queue_log.py [--days 365] [--dir DIR] [--keep]

``--days`` shortens the year; ``--dir`` reuses (or keeps) the generated file there.
Needs duckdb (``pip install duckdb``; the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hotline_kpi.formulas import FormulaSettings  # noqa: E402
from hotline_kpi.settings import QueueLogSettings  # noqa: E402

#: The reference computes local dates with a fixed offset: Asia/Shanghai has had no
#: daylight saving time since 1991.
SHANGHAI_OFFSET = 8 * 3600
_KNOWN_CALL = ("ENTERQUEUE", "CONNECT", "ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY",
               "COMPLETECALLER", "COMPLETEAGENT", "TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER",
               "RINGNOANSWER", "RINGCANCELED", "AGENTDUMP", "SYSCOMPAT")
_KNOWN_SYSTEM = ("ADDMEMBER", "REMOVEMEMBER", "PAUSE", "UNPAUSE", "PAUSEALL", "UNPAUSEALL", "AGENTLOGIN",
                 "AGENTLOGOFF", "AGENTCALLBACKLOGIN", "AGENTCALLBACKLOGOFF", "QUEUESTART", "CONFIGRELOAD",
                 "PENALTY", "RINGINUSE")
_EXIT_CODES = {"ABANDON": 2, "EXITWITHTIMEOUT": 3, "EXITEMPTY": 4, "EXITWITHKEY": 5}


def _sql_list(items) -> str:
    return ", ".join("'" + str(i).replace("'", "''") + "'" for i in items)


def duckdb_daily_counters(path: Path, formulas: FormulaSettings = FormulaSettings(),
                          queue_log: QueueLogSettings = QueueLogSettings(),
                          offset_seconds: int = SHANGHAI_OFFSET, threads: int | None = None
                          ) -> dict[str, dict[str, float]]:
    """The queue-log counters per local date (ISO), computed by DuckDB SQL: the reference.

    The same rules as hotline_kpi.ingest.queue_log, written as one query: per call id, the
    earliest ENTERQUEUE, the earliest CONNECT (then the shorter wait) or else the latest
    exit (then the higher exit code, the longer wait); unresolved once the log's latest
    known line is ``unresolved_after_hours`` past the ENTERQUEUE. Only for well-formed
    files of one hotline (every queue counts).
    """
    import duckdb

    exits = " ".join(f"WHEN '{e}' THEN {c}" for e, c in _EXIT_CODES.items())
    offered_codes = [c for e, c in _EXIT_CODES.items() if e in formulas.offered_exits] or [-99]
    age = round(queue_log.unresolved_after_hours * 3600)
    columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in
                              ("t", "cid", "q", "agent", "ev", "d1", "d2", "d3", "d4", "d5")) + "}"
    short_counts = "TRUE" if 2 in offered_codes else "FALSE"
    query = f"""
    WITH raw AS (
        SELECT * FROM read_csv(?, delim = '|', quote = '', escape = '', header = false, auto_detect = false,
                               null_padding = true, strict_mode = false, columns = {columns})
    ), known AS (
        SELECT CAST(t AS BIGINT) AS t, cid, trim(ev) AS ev, d1, d3, d4 FROM raw
        WHERE trim(ev) IN ({_sql_list(_KNOWN_CALL + _KNOWN_SYSTEM)})
    ), mark AS (
        SELECT max(t) AS wm FROM known
    ), calls AS (
        SELECT cid,
               min(t) FILTER (WHERE ev = 'ENTERQUEUE') AS enter,
               min({{'t': t, 'w': CAST(trim(d1) AS BIGINT)}}) FILTER (WHERE ev = 'CONNECT') AS conn,
               max({{'t': t, 'c': CASE ev {exits} END,
                     'w': coalesce(CAST(nullif(trim(CASE WHEN ev = 'EXITWITHKEY' THEN d4 ELSE d3 END), '')
                                        AS BIGINT), -1)}})
                   FILTER (WHERE ev IN ({_sql_list(_EXIT_CODES)})) AS ex
        FROM known
        WHERE ev IN ({_sql_list(_KNOWN_CALL)}) AND cid NOT IN ('', 'NONE', 'REALTIME', 'MANAGER', 'CLI')
        GROUP BY cid
    )
    SELECT DATE '1970-01-01' + CAST(floor((enter + {offset_seconds}) / 86400) AS INTEGER) AS day,
           count(*) FILTER (WHERE conn IS NOT NULL
                               OR (ex IS NOT NULL AND ex.c IN ({", ".join(map(str, offered_codes))}))
                               OR (ex IS NULL AND (SELECT wm FROM mark) - enter >= {age}
                                   AND {str(queue_log.unresolved_offered).upper()})) AS calls_offered,
           count(*) FILTER (WHERE conn IS NOT NULL) AS calls_answered,
           count(*) FILTER (WHERE conn IS NULL AND ex.c = 2 AND {short_counts}
                               AND ex.w >= 0 AND ex.w <= {formulas.short_abandon_seconds}) AS calls_abandoned_short,
           coalesce(sum(conn.w), 0) AS answer_wait_seconds_sum,
           count(*) FILTER (WHERE conn.w <= {formulas.answer_within_seconds}) AS calls_answered_within_15s
    FROM calls WHERE enter IS NOT NULL
    GROUP BY day HAVING count(*) > 0 ORDER BY day
    """
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    rows = con.execute(query, [str(path)]).fetchall()
    names = ("calls_offered", "calls_answered", "calls_abandoned_short", "answer_wait_seconds_sum",
             "calls_answered_within_15s")
    return {day.isoformat(): {n: float(v) for n, v in zip(names, vals)} for day, *vals in rows}


# --- the two sides, each run in a child process ----------------------------------------------------


def _peak_mb() -> float:
    """The peak RSS of this process alone (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child_project(file: Path, db: Path) -> dict:
    from hotline_kpi.catalogue import CatalogueSet
    from hotline_kpi.clock import FixedClock
    from hotline_kpi.ingest.pipeline import ingest_file
    from hotline_kpi.settings import Settings
    from hotline_kpi.store import migrate
    from hotline_kpi.store.db import make_engine, read_session
    from hotline_kpi.store.models import SourceDayRow
    from sqlalchemy import select

    url = f"sqlite:///{db}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    settings = Settings(database_url=url, var_dir=db.parent / "var", targets_dir=ROOT / "hotline_kpi" / "defaults" / "targets",
                        _env_file=None)
    catalogues = CatalogueSet.from_dir(settings.targets_dir)
    clock = FixedClock(dt.datetime(2020, 3, 1, 9, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    start = time.perf_counter()
    outcome = ingest_file(engine, file, settings=settings, catalogues=catalogues, clock=clock, source="queue-log")
    wall = time.perf_counter() - start
    peak = _peak_mb()
    with read_session(engine) as s:
        rows = s.scalars(select(SourceDayRow).where(SourceDayRow.source == "queue-log",
                                                    SourceDayRow.is_current.is_(True)))
        days = {r.day.isoformat(): {c: float(getattr(r, c)) for c in (
            "calls_offered", "calls_answered", "calls_abandoned_short", "answer_wait_seconds_sum",
            "calls_answered_within_15s")} for r in rows}
    return {"wall": wall, "peak_mb": peak, "days": days, "notes": list(outcome.notes),
            "cpu": time.process_time()}


def _child_duckdb(file: Path) -> dict:
    start = time.perf_counter()
    days = duckdb_daily_counters(file)
    wall = time.perf_counter() - start
    return {"wall": wall, "peak_mb": _peak_mb(), "days": days, "cpu": time.process_time()}


def _descendants(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux: /proc/PID/task/TID/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, ValueError):  # the process ended meanwhile: it has no children left
            pass
    return out


def _kib(path: str, name: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(name):
                    return int(line.split()[1])
    except OSError:  # the process ended meanwhile: it holds nothing
        pass
    return 0


def _run_child(*args: str) -> dict:
    """Run one side in a child process; meanwhile sample, every 50 ms from this process, the
    memory of the child and all its descendants at once (the worker processes run at the
    same time: their sum is the job's memory, where ``ru_maxrss`` gives only the largest
    child): RSS (a shared library's pages counted in every process) and PSS (each shared
    page split between the processes that map it)."""
    proc = subprocess.Popen([sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    rss = pss = 0
    cpu: dict[int, float] = {}  # the CPU seconds last seen of each process but the child itself
    tick = os.sysconf("SC_CLK_TCK")
    while proc.poll() is None:
        pids = _descendants(proc.pid)
        rss = max(rss, sum(_kib(f"/proc/{p}/status", "VmRSS:") for p in pids))
        pss = max(pss, sum(_kib(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids))
        for p in pids[1:]:
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                cpu[p] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            except (OSError, ValueError, IndexError):  # ended meanwhile: its last sample stands
                pass
        time.sleep(0.05)
    out, err = proc.communicate()
    if proc.returncode != 0:
        sys.exit(f"child {args[0]} failed:\n{out}\n{err}")
    result = json.loads(out.strip().splitlines()[-1])
    result["tree_rss_mb"], result["tree_pss_mb"] = rss / 1024, pss / 1024
    result["cpu_others"] = sum(cpu.values())
    return result


# --- generating the file -------------------------------------------------------------------------------


def generate(path: Path, days: int, seed: int = 12345) -> tuple[int, int, int]:
    """Write the queue_log of the first ``days`` days of the demo year at full scale."""
    from hotline_kpi.demo import generate_year
    from hotline_kpi.demo_sources import queue_log_days

    plan = generate_year(2019, seed)[:days]
    calls = lines = size = 0
    tmp = path.with_suffix(".partial")
    with tmp.open("wb") as f:
        for _day, day_calls, data in queue_log_days(plan, seed, 1.0):
            f.write(data)
            calls += len(day_calls)
            lines += data.count(b"\n")
            size += len(data)
    os.replace(tmp, path)
    return calls, lines, size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=365, help="days of 2019 to generate (default: the whole year)")
    ap.add_argument("--dir", type=Path, default=None, help="folder for the file (reused when it is there)")
    ap.add_argument("--keep", action="store_true", help="keep the generated file and the store")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        kind, *rest = args.child
        result = _child_project(Path(rest[0]), Path(rest[1])) if kind == "project" else _child_duckdb(Path(rest[0]))
        print(json.dumps(result))
        return 0

    folder = args.dir or Path(tempfile.mkdtemp(prefix="hotline-kpi-bench-qlog-"))
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / f"queue_log-2019-{args.days}d"
    if file.exists():
        print(f"reusing {file} ({file.stat().st_size / 1e6:,.0f} MB)")
    else:
        t = time.perf_counter()
        calls, lines, size = generate(file, args.days)
        print(f"generated {file}: {calls:,} calls, {lines:,} lines, {size / 1e6:,.0f} MB "
              f"in {time.perf_counter() - t:.0f} s")
    db = folder / "store.db"
    for p in (db, db.with_name("store.db-wal"), db.with_name("store.db-shm")):
        p.unlink(missing_ok=True)
    shutil.rmtree(folder / "var", ignore_errors=True)
    try:
        project = _run_child("project", str(file), str(db))
        ref = _run_child("duckdb", str(file))
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    same = project["days"] == ref["days"]
    diff = [d for d in sorted(set(project["days"]) | set(ref["days"]))
            if project["days"].get(d) != ref["days"].get(d)]
    print(f"{'':14} {'wall':>9} {'peak memory, all processes at once':>36}")
    print(f"{'hotline-kpi':14} {project['wall']:8.2f}s   RSS {project['tree_rss_mb']:5.0f} MB, PSS {project['tree_pss_mb']:5.0f} MB"
          f"   (CPU {project['cpu']:.1f} s, worker processes {project['cpu_others']:.1f} s)")
    print(f"{'DuckDB':14} {ref['wall']:8.2f}s   RSS {ref['tree_rss_mb']:5.0f} MB, PSS {ref['tree_pss_mb']:5.0f} MB"
          f"   (CPU {ref['cpu']:.1f} s, all threads)")
    print(f"ratio (hotline-kpi / DuckDB): wall {project['wall'] / ref['wall']:.2f}, "
          f"memory (RSS) {project['tree_rss_mb'] / ref['tree_rss_mb']:.2f}")
    print(f"the ingesting process alone (ru_maxrss): hotline-kpi {project['peak_mb']:.0f} MB, "
          f"DuckDB {ref['peak_mb']:.0f} MB")
    print(f"days: {len(project['days'])} (hotline-kpi), {len(ref['days'])} (DuckDB); counters agree: "
          f"{'yes, exactly' if same else 'NO'}")
    for d in diff[:10]:
        print(f"  {d}: hotline-kpi {project['days'].get(d)}\n  {'':10}  DuckDB      {ref['days'].get(d)}")
    for note in project["notes"]:
        print(f"  note: {note}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
