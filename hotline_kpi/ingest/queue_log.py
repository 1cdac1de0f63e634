"""The call platform's Asterisk queue_log (source ``queue-log``), file form and database form.

One event per line (``epoch|callid|queuename|agent|EVENT|data1|...``), or the realtime
table exported as CSV (columns time, callid, queuename, agent, event, data1..data5).
Every line of a call joins one *call state*, keyed by callid:

- ``enter``: its earliest ENTERQUEUE (the call counts on the local date of it);
- ``outcome``: the deciding event: a CONNECT beats any queue exit (a call that reached an
  agent is answered, even after leaving another queue first); among CONNECTs the earliest
  decides, among exits the latest (the call's final fate);
- ``first_seen``: its earliest event of any kind (where a call without ENTERQUEUE sits).

Joining is order-free and idempotent: the state of a call is the same whatever the order
of its lines, their duplicates, or how they were split across files. That is what makes
the log safe to read in pieces: the parse keeps in memory only the calls of the last few
hours of log time and spools the rest; at store time (:func:`store_calls`) the spooled
states join the states kept from earlier pieces, day by day, so a call that entered in
one file and ended in the next is joined, and a line read twice changes nothing.

Counting happens at store time, over the joined states of each touched day, with the
formula settings (short abandons, offered exits, the 15-second threshold) and the log's
watermark (its latest event time): a call that entered but never exited counts as
*unresolved* only once the log has gone on ``unresolved_after_hours`` past it; until then
it is *open* and not counted yet. States, counting and the store step live in
:mod:`hotline_kpi.ingest.queue_calls`; this module reads lines into states.
"""

from __future__ import annotations

import csv
import datetime as dt
import fnmatch
import gc
import io
import multiprocessing
import os
import re
import threading
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Sequence
from zoneinfo import ZoneInfo

from hotline_kpi.ingest.base import (
    MAX_PROBLEMS,
    IngestContext,
    IngestRejected,
    ParsedRecords,
    Problem,
    StoreRequest,
    day_problems,
)
from hotline_kpi.ingest.queue_calls import (
    ABANDON,
    CONNECT,
    EMPTY,
    ENTER,
    KEY,
    NO_TIME,
    OUTCOME_NAMES,
    SYSTEM,
    TAIL,
    TIMEOUT,
    LocalDays,
    Spool,
    store_calls,
)
from hotline_kpi.settings import QueueLogSettings

SOURCE = "queue-log"

# --- events --------------------------------------------------------------------------------

_EVENTS: dict[bytes, int] = {
    b"ENTERQUEUE": ENTER,
    b"CONNECT": CONNECT,
    b"ABANDON": ABANDON,
    b"EXITWITHTIMEOUT": TIMEOUT,
    b"EXITEMPTY": EMPTY,
    b"EXITWITHKEY": KEY,
    # Events of a call that decide nothing: after the answer, or while it rings.
    **{e: TAIL for e in (b"COMPLETECALLER", b"COMPLETEAGENT", b"TRANSFER", b"BLINDTRANSFER", b"ATTENDEDTRANSFER",
                         b"RINGNOANSWER", b"RINGCANCELED", b"AGENTDUMP", b"SYSCOMPAT")},
    # Membership and system events: no call.
    **{e: SYSTEM for e in (b"ADDMEMBER", b"REMOVEMEMBER", b"PAUSE", b"UNPAUSE", b"PAUSEALL", b"UNPAUSEALL",
                           b"AGENTLOGIN", b"AGENTLOGOFF", b"AGENTCALLBACKLOGIN", b"AGENTCALLBACKLOGOFF",
                           b"QUEUESTART", b"CONFIGRELOAD", b"PENALTY", b"RINGINUSE")},
}

#: Position of the waittime field per exit (app_queue.c): data3 for ABANDON,
#: EXITWITHTIMEOUT and EXITEMPTY (position|origposition|waittime), data4 for EXITWITHKEY
#: (key|position|origposition|waittime). Index into the split line (data1 is index 5).
_WAIT_AT = {ABANDON: 7, TIMEOUT: 7, EMPTY: 7, KEY: 8}
_NOT_A_CALL = frozenset({b"", b"NONE", b"REALTIME", b"MANAGER", b"CLI"})

_NO_TIME = NO_TIME
#: Times before this are not plausible for a call platform (2000-01-01 UTC).
_EARLIEST = 946_684_800

#: Calls are kept in memory for this long of log time after their first line, then
#: spooled; later lines of the same call join at store time. Only memory depends on it.
MEMORY_HORIZON_SECONDS = 6 * 3600

_PIPE_LINE = re.compile(rb"^\d{9,11}(?:\.\d+)?\|[^|\r\n]*\|[^|\r\n]*\|[^|\r\n]*\|[A-Z_]+")
_DB_COLUMNS = ("time", "callid", "queuename", "agent", "event")


# --- parsing ------------------------------------------------------------------------------------


@dataclass
class ParsedQueueLog(ParsedRecords):
    """What one queue_log file held: spooled call states, ready to be joined at store time."""

    spool: Spool | None = None
    #: The latest event time in the file (UNIX seconds), None without any line.
    max_time: int | None = None
    #: Bytes of complete lines up to which the file was read, and the lines in them.
    end_offset: int = 0
    end_lines: int = 0
    #: Whether the file is the append-only file form (high-water marks apply).
    appendable: bool = False
    calls: int = 0

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()


@dataclass
class _Scan:
    """One pass over the lines: the call states of the last hours, problems and tallies."""

    file: str
    ctx: IngestContext
    problems: list[Problem] = field(default_factory=list)
    unknown_events: dict[str, int] = field(default_factory=dict)
    other_queues: dict[str, int] = field(default_factory=dict)
    blank: int = 0
    system: int = 0
    lines: int = 0

    def problem(self, why: str, row: int, column: str | None = None, value: bytes | str | None = None) -> None:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "backslashreplace").rstrip("\r\n")
        self.problems.append(Problem(self.file, why, row, column, value))


def _queue_filter(patterns: Sequence[str] | None) -> "callable":
    cache: dict[bytes, bool] = {}

    def belongs(queue: bytes) -> bool:
        hit = cache.get(queue)
        if hit is None:
            if patterns is None:
                hit = True
            else:
                name = _text(queue)
                hit = any(fnmatch.fnmatchcase(name, p) for p in patterns)
            cache[queue] = hit
        return hit

    return belongs


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("gb18030", "backslashreplace")


@contextmanager
def _no_gc() -> Iterator[None]:
    """The scan makes millions of small lists and tuples and no reference cycles: the cyclic
    garbage collector would walk the growing heap again and again (it more than doubled the
    scan time), so it is paused for the scan and restored after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def scan_lines(batches: Iterable[list[bytes]], first_row: int, scan: _Scan, spool: Spool, days: LocalDays,
               allowed_day, latest: int, patterns: Sequence[str] | None,
               progress=None) -> tuple[int | None, int, int]:
    with _no_gc():
        return _scan_lines(batches, first_row, scan, spool, days, allowed_day, latest, patterns, progress)


def _scan_lines(batches: Iterable[list[bytes]], first_row: int, scan: _Scan, spool: Spool, days: LocalDays,
                allowed_day, latest: int, patterns: Sequence[str] | None,
                progress=None) -> tuple[int | None, int, int]:
    """Feed lines (in batches) through the call states.

    Returns (latest event time or None, states spooled, lines read). The hot loop of the
    ingestor (12 million lines for a year of a big hotline), so kept flat: names are
    locals, the rare cases (problems, new days, spilling) are out of line or once per
    batch, and a line's number is only worked out when a problem needs it.

    A call in memory is its state as a list, updated in place (no tuple per event).
    """
    calls: dict[bytes, list] = {}
    buffers: dict[dt.date, tuple[list[bytes], list[int]]] = {}
    buffered = spooled = watermark = 0
    horizon = MEMORY_HORIZON_SECONDS
    spool_every = scan.ctx.queue_log.spool_every_calls
    problems = scan.problems
    checked_days: set[dt.date] = set()
    events = _EVENTS
    not_a_call = _NOT_A_CALL
    wait_at = _WAIT_AT
    earliest = _EARLIEST
    enter_code, connect_code, abandon_code, tail_code, system_code = ENTER, CONNECT, ABANDON, TAIL, SYSTEM
    no_time = _NO_TIME
    # Queue names of other hotlines are skipped; without patterns every queue counts.
    belongs = _queue_filter(patterns) if patterns is not None else None
    lo = hi = 0  # bounds of the local day of the last ENTERQUEUE
    lo_s = hi_s = 0  # bounds of the day whose buffer ``buf`` is, while spilling
    buf: tuple[list[bytes], list[int]] = ([], [])
    row0 = first_row  # the number of the first line of the current batch
    lines: list[bytes] = []

    def row_of(line: bytes) -> int:
        return row0 + next(i for i, x in enumerate(lines) if x is line)

    def spill(limit: int | None) -> None:
        """Move the calls first seen before ``limit`` (all: None) to the day buffers."""
        nonlocal buffered, lo_s, hi_s, buf
        gone = list(calls) if limit is None else [cid for cid, st in calls.items() if st[6] < limit]
        for cid in gone:
            st = calls.pop(cid)
            t = st[0] if st[0] != no_time else st[6]
            if not (lo_s <= t < hi_s):
                day = days.of(t)
                lo_s, hi_s = days.lo, days.hi
                buf = buffers.get(day)
                if buf is None:
                    buf = buffers[day] = ([], [])
            buf[0].append(cid)
            buf[1].extend(st)
        buffered += len(gone)

    def flush() -> None:
        nonlocal buffered, spooled, lo_s, hi_s
        for day, (ids, numbers) in buffers.items():
            spool.write(day, ids, numbers)
            spooled += len(ids)
        buffers.clear()
        buffered = 0
        lo_s = hi_s = 0  # the cached buffer is gone

    def odd(line: bytes, parts: list[bytes]) -> int | None:
        """A line that is not a plain call event line: returns its time, or None to skip it."""
        row = row_of(line)
        if len(parts) < 5:
            if not line.strip():
                scan.blank += 1
            else:
                scan.problem("not a queue_log line: expected time|callid|queuename|agent|event|data...", row,
                             value=line)
            return None
        return _odd_time(parts[0], scan, row)

    for lines in batches:
        for line in lines:
            parts = line.split(b"|")
            try:
                code = events[parts[4]]
                t = int(parts[0])
            except (IndexError, KeyError, ValueError):
                if len(parts) >= 5 and parts[4] not in events:
                    name = parts[4].strip()
                    if name in events:
                        code = events[name]
                    else:
                        name = _text(name) or "(empty)"
                        scan.unknown_events[name] = scan.unknown_events.get(name, 0) + 1
                        continue
                else:
                    code = events[parts[4]] if len(parts) >= 5 else 0
                t = odd(line, parts)
                if t is None:
                    if len(problems) >= MAX_PROBLEMS:
                        break
                    continue
            if t > watermark:
                if t > latest:
                    scan.problem("time is in the future", row_of(line), "time", parts[0])
                    if len(problems) >= MAX_PROBLEMS:
                        break
                    continue
                watermark = t
            elif t < earliest:
                scan.problem("time before 2000: not a UNIX time in seconds?", row_of(line), "time", parts[0])
                if len(problems) >= MAX_PROBLEMS:
                    break
                continue
            if code == system_code:
                scan.system += 1
                continue
            if belongs is not None and not belongs(parts[2]):
                name = _text(parts[2])
                scan.other_queues[name] = scan.other_queues.get(name, 0) + 1
                continue
            cid = parts[1]
            st = calls.get(cid)
            if st is None:
                if cid in not_a_call:
                    scan.problem(f"{_text(parts[4].strip())} without a call id", row_of(line), "callid", cid)
                    if len(problems) >= MAX_PROBLEMS:
                        break
                    continue
                st = calls[cid] = [no_time, -1, 0, -1, 0, -1, t]
            elif t < st[6]:
                st[6] = t
            if code == enter_code:
                if t < st[0]:
                    st[0] = t
                if not (lo <= t < hi):
                    day = days.of(t)
                    lo, hi = days.lo, days.hi
                    if day not in checked_days:
                        checked_days.add(day)
                        found = allowed_day(day, None)
                        if found:
                            row = row_of(line)  # only now: finding it costs a pass over the batch
                            problems.extend(replace(p, row=row) for p in found)
                            if len(problems) >= MAX_PROBLEMS:
                                break
            elif code == connect_code:
                try:
                    wait = int(parts[5])
                    if wait < 0:
                        raise ValueError
                except (ValueError, IndexError):
                    _bad_data(scan, code, parts, row_of(line))
                    if len(problems) >= MAX_PROBLEMS:
                        break
                    continue
                # The earliest CONNECT decides (then the shorter wait): order-free.
                if st[1] < 0 or t < st[1] or (t == st[1] and wait < st[2]):
                    st[1] = t
                    st[2] = wait
            elif code != tail_code:
                at = wait_at[code]
                value = parts[at].strip() if len(parts) > at else b""
                try:
                    if value:
                        wait = int(value)
                        if wait < 0:
                            raise ValueError
                    elif code == abandon_code:
                        raise ValueError
                    else:
                        wait = -1  # older versions write no waittime for these exits
                except ValueError:
                    _bad_data(scan, code, parts, row_of(line))
                    if len(problems) >= MAX_PROBLEMS:
                        break
                    continue
                # The latest exit decides (then the higher code, the longer wait): order-free.
                if t > st[3] or (t == st[3] and (code, wait) > (st[4], st[5])):
                    st[3] = t
                    st[4] = code
                    st[5] = wait
        else:
            # Calls first seen more than the horizon before the log's latest line are spooled.
            spill(watermark - horizon)
            if buffered >= spool_every:
                flush()
            row0 += len(lines)
            if progress is not None:
                progress()
            continue
        row0 += next(i for i, x in enumerate(lines) if x is line) + 1
        break  # too many problems
    spill(None)
    flush()
    return (watermark or None), spooled, row0 - first_row


def _odd_time(raw: bytes, scan: _Scan, row: int) -> int | None:
    """A time that is not a plain integer: "1366720340.5" (some loaders) is floored."""
    text = raw.strip()
    try:
        if re.fullmatch(rb"\d+\.\d+", text):
            return int(text.split(b".")[0])
        return int(text)
    except ValueError:
        pass
    scan.problem("time must be a UNIX time in seconds", row, "time", raw)
    return None


def _bad_data(scan: _Scan, code: int, parts: list[bytes], row: int) -> None:
    name = OUTCOME_NAMES[code]
    if code == CONNECT:
        at, column, why = 5, "data1", "CONNECT needs its holdtime (data1): whole seconds, not negative"
    else:
        at = _WAIT_AT[code]
        column = f"data{at - 4}"
        why = f"{name} needs its waittime ({column}): whole seconds, not negative"
    value = parts[at] if len(parts) > at else None
    scan.problem(why, row, column, value if value is not None else b"|".join(parts))


# --- the two file forms ------------------------------------------------------------------------------


def _pipe_batches(f: BinaryIO, end: int, done: list[int], chunk_size: int) -> Iterator[list[bytes]]:
    """Complete lines of the file form, in batches of about ``chunk_size`` bytes, up to byte ``end``.

    ``end`` is where the last line end is: an unfinished last line is left for the next
    read of the grown file. ``done[0]`` follows the bytes handed out (for progress).
    """
    pos = f.tell()
    rest = b""
    while pos < end:
        chunk = f.read(min(chunk_size, end - pos))
        if not chunk:
            break
        pos += len(chunk)
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        done[0] = pos - len(rest)
        yield lines
    if rest:  # cannot happen: end is just after a newline
        yield [rest]


def _last_line_end(f: BinaryIO, size: int, chunk_size: int) -> int:
    """The offset just after the file's last newline (0 when it has none)."""
    pos = size
    while pos > 0:
        start = max(0, pos - chunk_size)
        f.seek(start)
        block = f.read(pos - start)
        at = block.rfind(b"\n")
        if at >= 0:
            return start + at + 1
        pos = start
    return 0


def _sniff_db_header(text: str) -> tuple[str, list[str]] | None:
    first = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    for delimiter in (",", "\t", ";", "|"):
        cells = [c.strip().strip('"').casefold() for c in first.split(delimiter)]
        if all(c in cells for c in _DB_COLUMNS):
            return delimiter, cells
    return None


# --- reading a big file in parts, one process each ---------------------------------------------------

def _workers(size: int, settings: QueueLogSettings) -> int:
    """Files (the part still to read) at least ``parallel_min_bytes`` big are read by several
    processes at once: the parts' states join at store time exactly as the pieces of a
    rotated log do."""
    if size < settings.parallel_min_bytes:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cpus, 4, size // settings.parallel_part_min_bytes))


def _cuts(f: BinaryIO, start: int, end: int, parts: int) -> list[int]:
    """[start, ..., end]: ``parts`` ranges of about equal size, each cut just after a line end."""
    cuts = [start]
    for k in range(1, parts):
        f.seek(start + (end - start) * k // parts)
        f.readline()
        at = f.tell()
        if cuts[-1] < at < end:
            cuts.append(at)
    cuts.append(end)
    return cuts


@dataclass
class _Part:
    """What a worker read from its range of the file."""

    max_time: int | None
    spooled: int
    lines: int
    problems: list[Problem]
    blank: int
    system: int
    unknown_events: dict[str, int]
    other_queues: dict[str, int]
    #: (path, index, states) of the worker's spool, handed over to the parent's.
    spool: tuple[str, dict, int] | None


def _scan_part(path: str, start: int, end: int, ctx: IngestContext) -> _Part:
    """Worker: scan bytes [start, end) of the file form into a spool of its own."""
    file = Path(path).name
    scan = _Scan(file, ctx)
    spool = Spool()
    try:
        with open(path, "rb") as f:
            f.seek(start)
            max_time, spooled, lines = scan_lines(
                _pipe_batches(f, end, [start], ctx.queue_log.read_chunk_bytes), 1, scan, spool, LocalDays(ctx.hotline.zone),
                lambda day, row: day_problems(day, ctx, file, row, column="time"), _latest(ctx),
                ctx.queue_log.queue_patterns(ctx.hotline.id))
        handed = spool.detach()
    except BaseException:
        spool.close()
        raise
    return _Part(max_time, spooled, lines, scan.problems, scan.blank, scan.system, scan.unknown_events,
                 scan.other_queues, handed)


class _Workers:
    """Worker processes scanning the ranges after the first (``cuts`` from the first cut on)
    while the caller scans the first; spools of parts never handed over are deleted."""

    def __init__(self, path: Path, cuts: list[int], ctx: IngestContext):
        self.ranges = list(zip(cuts, cuts[1:]))
        self.ctx = replace(ctx, progress=None, resume=None)
        self.path = str(path)
        self.pool: ProcessPoolExecutor | None = None
        self.futures: list = []

    def __enter__(self) -> "_Workers":
        if self.ranges:
            # fork is quick and needs no importable __main__; a process with other threads
            # (the service) spawns instead, as forking it could copy a lock mid-use.
            method = "fork" if threading.active_count() == 1 and os.name == "posix" else "spawn"
            self.pool = ProcessPoolExecutor(len(self.ranges), mp_context=multiprocessing.get_context(method))
            self.futures = [self.pool.submit(_scan_part, self.path, a, b, self.ctx) for a, b in self.ranges]
        return self

    def results(self) -> Iterator[_Part]:
        for future in self.futures:
            yield future.result()

    def __exit__(self, *exc: object) -> None:
        if self.pool is None:
            return
        self.pool.shutdown(wait=True, cancel_futures=True)
        for future in self.futures:
            if future.done() and not future.cancelled() and future.exception() is None:
                part = future.result()
                if part.spool is not None:  # not adopted: the parse failed
                    Path(part.spool[0]).unlink(missing_ok=True)


def _latest(ctx: IngestContext) -> int:
    """The end of today in the hotline's zone: a later time is a clock or parsing error."""
    end = dt.datetime.combine(ctx.today + dt.timedelta(days=1), dt.time(0), tzinfo=ctx.hotline.zone)
    return int(end.timestamp()) - 1


class QueueLogIngestor:
    """Reads the Asterisk queue_log: the file form (pipe-delimited) and the database form (CSV)."""

    source = SOURCE
    #: The file form only grows: the pipeline passes ``ctx.resume`` to read only what is new.
    resumable = True

    def sniff(self, path: Path, head: bytes) -> bool:
        if b"\x00" in head:
            return False
        lines = [ln for ln in head.splitlines()[:20] if ln.strip()]
        if not lines:
            return "queue_log" in path.name.casefold()
        if sum(1 for ln in lines if _PIPE_LINE.match(ln)) >= max(1, len(lines) // 2):
            return True
        try:
            text = head.decode("utf-8-sig", "ignore")
        except UnicodeDecodeError:  # pragma: no cover - "ignore" never raises
            return False
        return _sniff_db_header(text) is not None

    def parse(self, path: Path, ctx: IngestContext) -> ParsedQueueLog:
        """Read the lines (the file form from ``ctx.resume`` on) into spooled call states.

        Raises :class:`IngestRejected` listing every bad line (up to MAX_PROBLEMS).
        """
        file = path.name
        scan = _Scan(file, ctx)
        zone = ctx.hotline.zone
        days = LocalDays(zone)
        latest = _latest(ctx)

        def allowed_day(day: dt.date, row: int) -> list[Problem]:
            return day_problems(day, ctx, file, row, column="time")

        patterns = ctx.queue_log.queue_patterns(ctx.hotline.id)
        size = path.stat().st_size if ctx.size is None else min(ctx.size, path.stat().st_size)
        spool = Spool()
        parsed = ParsedQueueLog(source=SOURCE, spool=spool)
        try:
            with path.open("rb") as f:
                head = f.read(64 * 1024)
                if not head.strip() and size <= len(head):
                    # A log rotated on a quiet night: nothing to read, nothing wrong.
                    parsed.notes.append("the file holds no lines")
                    return parsed
                if b"\x00" in head:
                    raise IngestRejected(file, [Problem(file, "binary data, not a queue_log (NUL byte)")])
                first = next((ln for ln in head.splitlines() if ln.strip()), b"")
                db = None if _PIPE_LINE.match(first.lstrip(b"\xef\xbb\xbf")) else _sniff_db_header(
                    head.decode("utf-8-sig", "replace"))
                if db is None:
                    max_time, spooled = self._parse_file(f, size, scan, spool, days, allowed_day, latest,
                                                         patterns, ctx, parsed, path)
                else:
                    max_time, spooled = self._parse_db(f, db, scan, spool, days, allowed_day, latest,
                                                       patterns, ctx, size)
                    parsed.end_offset = size
            if ctx.progress is not None:
                ctx.progress(size, size)
            if scan.problems:
                if len(scan.problems) >= MAX_PROBLEMS:
                    scan.problems.append(Problem(file, f"stopped reading after {MAX_PROBLEMS} problems"))
                raise IngestRejected(file, scan.problems)
            parsed.max_time = max_time
            parsed.calls = spooled
            parsed.notes.extend(_scan_notes(scan))
            return parsed
        except BaseException:
            spool.close()
            raise

    def store(self, session, parsed: ParsedQueueLog, request: StoreRequest):
        return store_calls(session, parsed, request)

    def _parse_file(self, f: BinaryIO, size: int, scan: _Scan, spool: Spool, days: LocalDays, allowed_day,
                    latest: int, patterns, ctx: IngestContext, parsed: ParsedQueueLog, path: Path):
        start, first_row = (ctx.resume.offset, ctx.resume.lines + 1) if ctx.resume else (0, 1)
        end = _last_line_end(f, size, ctx.queue_log.read_chunk_bytes)
        cuts = _cuts(f, start, end, _workers(end - start, ctx.queue_log))
        done = [start]
        progress = ctx.progress
        share = (end - start) / max(1, cuts[1] - start)  # the others' parts are read alongside this one
        tick = (lambda: progress(start + int((done[0] - start) * share), size)) if progress is not None else None
        with _Workers(path, cuts[1:], ctx) as others:
            f.seek(start)
            batches = _pipe_batches(f, cuts[1], done, ctx.queue_log.read_chunk_bytes)
            max_time, spooled, lines = scan_lines(batches, first_row, scan, spool, days, allowed_day, latest,
                                                  patterns, tick)
            for part in others.results():
                # Row numbers of a part go on from the lines of the parts before it.
                shift = first_row - 1 + lines
                scan.problems += [replace(p, row=p.row + shift) if p.row is not None else p for p in part.problems]
                scan.blank += part.blank
                scan.system += part.system
                for k, v in part.unknown_events.items():
                    scan.unknown_events[k] = scan.unknown_events.get(k, 0) + v
                for k, v in part.other_queues.items():
                    scan.other_queues[k] = scan.other_queues.get(k, 0) + v
                spool.adopt(*part.spool)
                part.spool = None
                spooled += part.spooled
                lines += part.lines
                if part.max_time is not None and (max_time is None or part.max_time > max_time):
                    max_time = part.max_time
        if len(cuts) > 2:
            # A date outside the catalogue is reported once, by the first part that met it.
            seen: set[tuple] = set()
            scan.problems[:] = [p for p in scan.problems if not (p.column == "time" and p.why.startswith(
                ("no target catalogue", "date is in the future")) and ((p.why, p.value) in seen or seen.add(
                (p.why, p.value))))][:MAX_PROBLEMS]
            parsed.notes.append(f"read in {len(cuts) - 1} parts at once (one process each)")
        parsed.end_offset = max(end, start)
        parsed.end_lines = first_row - 1 + lines
        parsed.appendable = True
        if start:
            parsed.notes.append(f"read from byte {start:,} (line {first_row:,} on): the part before was loaded "
                                "earlier from this log")
        if end < size:
            parsed.notes.append(f"the last line (from byte {end:,}) has no line end yet: it is read when the "
                                "file has grown")
        return max_time, spooled

    def _parse_db(self, f: BinaryIO, db: tuple[str, list[str]], scan: _Scan, spool: Spool, days: LocalDays,
                  allowed_day, latest: int, patterns, ctx: IngestContext, size: int):
        """The realtime table exported as CSV: rows become file-form lines, then the same scan."""
        delimiter, header = db
        f.seek(0)
        raw = f.read(1 << 20)
        f.seek(0)
        encoding = "utf-8-sig"
        try:
            raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            if exc.end < len(raw) - 3:  # not merely a character cut at the end of the sample
                encoding = "gb18030"
        text = io.TextIOWrapper(f, encoding=encoding, errors="strict", newline="")
        reader = csv.reader(text, delimiter=delimiter)
        zone = ZoneInfo(ctx.queue_log.db_time_zone) if ctx.queue_log.db_time_zone else ctx.hotline.zone
        col = {name: i for i, name in enumerate(header)}
        data_cols = [col.get(f"data{i}") for i in range(1, 6)]
        combined = col.get("data") if data_cols[0] is None else None
        base = [col[c] for c in _DB_COLUMNS]
        progress = ctx.progress
        width = len(header)

        def field(cells: list[str], i: int | None) -> bytes:
            # A '|' inside a cell (an agent's name) would shift the fields after it.
            return cells[i].replace("|", "/").encode("utf-8") if i is not None and i < len(cells) else b""

        def batches() -> Iterator[list[bytes]]:
            batch: list[bytes] = []
            try:
                next(reader)  # the header
                for cells in reader:
                    if not any(c.strip() for c in cells):
                        batch.append(b"")
                        continue
                    if len(cells) < width:
                        cells = cells + [""] * (width - len(cells))
                    t = _db_time(cells[base[0]], zone)
                    parts = [t if t is not None else field(cells, base[0])]
                    parts += [field(cells, i) for i in base[1:]]
                    if combined is not None:
                        parts += [p.encode("utf-8") for p in cells[combined].split("|")]
                    else:
                        parts += [field(cells, i) for i in data_cols]
                    while len(parts) > 5 and parts[-1] == b"":
                        parts.pop()
                    batch.append(b"|".join(parts))
                    if len(batch) >= 10_000:
                        yield batch
                        batch = []
                        if progress is not None:
                            progress(min(f.tell(), size), size)
            except UnicodeDecodeError as exc:
                scan.problem(f"not {encoding.replace('-sig', '')} text ({exc.reason}); save the export as UTF-8 "
                             "throughout", None)
            except csv.Error as exc:
                scan.problem(f"not valid CSV: {exc}", reader.line_num)
            yield batch

        # Row numbers: the header is row 1 (a quoted cell spanning lines is not expected here).
        max_time, spooled, _ = scan_lines(batches(), 2, scan, spool, days, allowed_day, latest, patterns, None)
        return max_time, spooled


def _db_time(value: str, zone: ZoneInfo) -> bytes | None:
    """The realtime table's time: "2019-01-01 08:00:00[.ffffff][+08:00]" in ``zone`` unless it
    carries an offset, or a UNIX epoch. None when unreadable (the scan reports it)."""
    text = value.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return text.split(".")[0].encode()
    try:
        moment = dt.datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return str(int(moment.timestamp() // 1)).encode()


def _scan_notes(scan: _Scan) -> list[str]:
    notes = []
    if scan.blank:
        notes.append(f"{scan.blank:,} blank line(s) skipped")
    if scan.system:
        notes.append(f"{scan.system:,} membership/system event(s) (ADDMEMBER, PAUSE, QUEUESTART ...) skipped")
    if scan.unknown_events:
        shown = ", ".join(f"{k} ×{v:,}" for k, v in sorted(scan.unknown_events.items()))
        notes.append(f"unknown events skipped: {shown}")
    if scan.other_queues:
        shown = ", ".join(f"{k} ×{v:,}" for k, v in sorted(scan.other_queues.items()))
        notes.append(f"lines of queues that do not belong to {scan.ctx.hotline.id} skipped: {shown}")
    return notes
