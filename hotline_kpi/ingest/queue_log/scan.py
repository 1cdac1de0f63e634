"""The line scan of the queue_log: lines (file form, or database rows made into file-form
lines) through the per-line state machine into call states, spooled by local date, with
the problems and tallies of what was skipped."""

from __future__ import annotations

import datetime as dt
import fnmatch
import gc
import re
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator, Sequence

from hotline_kpi.i18n import M_
from hotline_kpi.ingest.base import MAX_PROBLEMS, IngestContext, Problem
from hotline_kpi.ingest.queue_log.calls import (
    ABANDON,
    COMPLETE,
    CONNECT,
    DAY_SECONDS,
    MAX_WAIT_SECONDS,
    EMPTY,
    ENTER,
    KEY,
    NO_TIME,
    OUTCOME_NAMES,
    SYSTEM,
    TAIL,
    TIMEOUT,
    LocalDays,
    anchor,
    ended,
    other_call,
    reenter,
)
from hotline_kpi.ingest.queue_log.spool import Spool

# --- events --------------------------------------------------------------------------------

_EVENTS: dict[bytes, int] = {
    b"ENTERQUEUE": ENTER,
    b"CONNECT": CONNECT,
    b"ABANDON": ABANDON,
    b"EXITWITHTIMEOUT": TIMEOUT,
    b"EXITEMPTY": EMPTY,
    b"EXITWITHKEY": KEY,
    # Events of a call that decide nothing: after the answer, or while it rings.
    b"COMPLETECALLER": COMPLETE,
    b"COMPLETEAGENT": COMPLETE,
    **{e: TAIL for e in (b"TRANSFER", b"BLINDTRANSFER", b"ATTENDEDTRANSFER",
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

#: Times before this are not plausible for a call platform (2000-01-01 UTC).
_EARLIEST = 946_684_800

#: Calls are kept in memory for this long of log time after their first line (a call that
#: may go on, a day more), then spooled; later lines of the same call join at store time.
#: Only memory depends on it.
MEMORY_HORIZON_SECONDS = 6 * 3600


@dataclass
class Scan:
    """One pass over the lines: the call states of the last hours, problems and tallies."""

    file: str
    ctx: IngestContext
    problems: list[Problem] = field(default_factory=list)
    unknown_events: dict[str, int] = field(default_factory=dict)
    other_queues: dict[str, int] = field(default_factory=dict)
    blank: int = 0
    system: int = 0
    lines: int = 0
    vectorised: int = 0  # blocks read by the vectorised scan (:mod:`.columnar`), the others line by line
    nul: tuple[int, int] | None = None  # the first NUL byte a worker met: (byte offset, line)

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


def scan_lines(batches: Iterable[list[bytes]], first_row: int, scan: Scan, spool: Spool, days: LocalDays,
               allowed_day, latest: int, patterns: Sequence[str] | None,
               progress=None) -> tuple[int | None, int, int]:
    with _no_gc():
        return _scan_lines(batches, first_row, scan, spool, days, allowed_day, latest, patterns, progress)


def _scan_lines(batches: Iterable[list[bytes]], first_row: int, scan: Scan, spool: Spool, days: LocalDays,
                allowed_day, latest: int, patterns: Sequence[str] | None,
                progress=None) -> tuple[int | None, int, int]:
    """Feed lines (in batches) through the call states.

    Returns (latest event time or None, states spooled, lines read). The lines go through
    :meth:`_Machine.batch`; between batches the calls of older log time leave memory.
    """
    held = _Held(spool, days)
    machine = _Machine(scan, held.calls, days, allowed_day, latest, patterns)
    horizon = MEMORY_HORIZON_SECONDS
    spool_every = scan.ctx.queue_log.spool_every_calls
    row0 = first_row  # the number of the first line of the current batch
    for lines in batches:
        stopped = machine.batch(lines, row0)
        if stopped is not None:  # too many problems
            row0 += stopped + 1
            break
        # Calls first seen more than the horizon before the log's latest line are spooled.
        held.spill(machine.watermark - horizon)
        if held.buffered >= spool_every:
            held.flush()
        row0 += len(lines)
        if progress is not None:
            progress()
    held.spill(None)
    held.flush()
    return (machine.watermark or None), held.spooled, row0 - first_row


class _Held:
    """The calls in memory (call id -> state as a list, updated in place), and the day
    buffers of the calls moved out of memory until they are written to the spool."""

    def __init__(self, spool: Spool, days: LocalDays):
        self.spool = spool
        self.days = days
        self.calls: dict[bytes, list] = {}
        self.buffers: dict[dt.date, tuple] = {}  # day -> (ids, numbers, joined ids, int64 arrays): Spool.write's
        self.buffered = self.spooled = 0
        self.lo = self.hi = 0  # bounds of the day whose buffer ``buf`` is, while spilling
        self.buf: tuple[list[bytes], list[int], list[tuple[bytes, int]], list] = ([], [], [], [])

    def spill(self, limit: int | None) -> None:
        """Move the calls first seen before ``limit`` (all: None) to the day buffers. A call that
        may go on stays a day more: the line that ends it, or a new call under its id, is then
        judged against the whole call, however the file is cut into blocks."""
        calls, days, buffers, no_time = self.calls, self.days, self.buffers, NO_TIME
        lo, hi, buf = self.lo, self.hi, self.buf
        gone = list(calls) if limit is None else [cid for cid, st in calls.items() if st[6] < limit and (
            st[6] < limit - DAY_SECONDS or ended(st) >= 0)]
        for cid in gone:
            st = calls.pop(cid)
            t = st[0] if st[0] != no_time else st[6]
            if not (lo <= t < hi):
                day = days.of(t)
                lo, hi = days.lo, days.hi
                buf = buffers.get(day)
                if buf is None:
                    buf = buffers[day] = ([], [], [], [])
            buf[0].append(cid)
            buf[1].extend(st)
        self.lo, self.hi, self.buf = lo, hi, buf
        self.buffered += len(gone)

    def flush(self) -> None:
        for day, (ids, numbers, joined_ids, arrays) in self.buffers.items():
            # (joined_ids, arrays: states the vectorised scan moved out, as blocks of ids and arrays)
            self.spooled += self.spool.write(day, ids, numbers, arrays, joined_ids)
        self.buffers.clear()
        self.buffered = 0
        self.lo = self.hi = 0  # the cached buffer is gone


class _Machine:
    """The per-line state machine: each line of a call updates the call's state in
    ``calls``. The log's watermark (its latest time) and the local day of the last
    ENTERQUEUE carry over from one batch to the next.

    :meth:`batch` is the hot loop of the ingestor (12 million lines for a year of a big
    hotline), so kept flat: names are locals, the rare cases (problems, new days, exits)
    are out of line, and a line's number is only worked out when a problem needs it.
    """

    def __init__(self, scan: Scan, calls: dict[bytes, list], days: LocalDays, allowed_day, latest: int,
                 patterns: Sequence[str] | None):
        self.scan = scan
        self.calls = calls
        self.days = days
        self.allowed_day = allowed_day
        self.latest = latest
        # Queue names of other hotlines are skipped; without patterns every queue counts.
        self.belongs = _queue_filter(patterns) if patterns is not None else None
        self.watermark = 0
        self.lo = self.hi = 0  # bounds of the local day of the last ENTERQUEUE
        self.checked_days: set[dt.date] = set()

    def batch(self, lines: list[bytes], row0: int) -> int | None:
        """Scan a batch whose first line is row ``row0``: None, or the index of the line at
        which the scan stopped (too many problems)."""
        scan, calls, latest, belongs, problems = self.scan, self.calls, self.latest, self.belongs, self.scan.problems
        events, not_a_call, earliest, no_time = _EVENTS, _NOT_A_CALL, _EARLIEST, NO_TIME
        enter_code, connect_code, tail_code, system_code, complete_code = ENTER, CONNECT, TAIL, SYSTEM, COMPLETE
        day = DAY_SECONDS
        watermark, lo, hi = self.watermark, self.lo, self.hi
        for line in lines:
            parts = line.split(b"|")
            try:
                code = events[parts[4]]
                t = int(parts[0])
            except (IndexError, KeyError, ValueError):
                got = self.irregular(line, parts, row0, lines)
                if not got:
                    if got is None and len(problems) >= MAX_PROBLEMS:
                        break
                    continue
                code, t = got
            if watermark < t <= latest:
                watermark = t
            elif t > latest or t < earliest:  # (the watermark is never past ``latest``)
                if self.bad_time(t, parts[0], row0, lines, line):
                    break
                continue
            if code == system_code:
                scan.system += 1
                continue
            if belongs is not None and not belongs(parts[2]):
                self.other_queue(parts[2])
                continue
            cid = parts[1].strip()  # (blanks around a call id, as around the other fields: not part of it)
            st = calls.get(cid)
            if st is None:
                if cid in not_a_call:
                    if self.stop(M_("{event} without a call id", event=_text(parts[4].strip())), row0, lines, line, "callid", cid):
                        break
                    continue
                st = calls[cid] = [no_time, -1, 0, -1, 0, -1, t]
            elif t < st[6]:
                if t < st[6] - day:  # a line of an earlier call of a reused id
                    st = other_call(calls, cid, st, t)
                st[6] = t
            elif t > st[6] + day and t > anchor(st) + day:  # the id reused by a new call
                st = other_call(calls, cid, st, t)
            if code == enter_code:
                if st[3] >= 0 and t >= st[3] and ended(st) >= 0:  # overflow, or the id reused
                    st = other_call(calls, cid, st, t) if reenter(st, t) else st
                if t < st[0]:
                    st[0] = t
                if not (lo <= t < hi):
                    lo, hi, stop = self.new_day(t, row0, lines, line)
                    if stop:
                        break
            elif code == connect_code:
                try:
                    wait = int(parts[5])
                    if not 0 <= wait <= MAX_WAIT_SECONDS:
                        raise ValueError
                except (ValueError, IndexError):
                    if _bad_data(scan, code, parts, _row(row0, lines, line)):
                        break
                    continue
                # The earliest CONNECT decides (then the shorter wait): order-free.
                if st[1] < 0 or t < st[1] or (t == st[1] and wait < st[2]):
                    st[1], st[2] = t, wait
            elif code == complete_code:
                if t >= st[3]:
                    st[3], st[4], st[5] = t, complete_code, -1
            elif code != tail_code and self.exit(st, code, t, parts, row0, lines, line):
                break
        else:
            line = None
        self.watermark, self.lo, self.hi = watermark, lo, hi
        return None if line is None else _index(lines, line)

    def exit(self, st: list, code: int, t: int, parts: list[bytes], row0: int, lines: list[bytes],
             line: bytes) -> bool:
        """An exit of the queue (ABANDON, EXITWITH...): whether the scan stops (too many problems)."""
        at = _WAIT_AT[code]
        value = parts[at].strip() if len(parts) > at else b""
        try:
            if value:
                wait = int(value)
                if not 0 <= wait <= MAX_WAIT_SECONDS:
                    raise ValueError
            elif code == ABANDON:
                raise ValueError
            else:
                wait = -1  # older versions write no waittime for these exits
        except ValueError:
            return _bad_data(self.scan, code, parts, _row(row0, lines, line))
        # The latest exit decides (then the higher code, the longer wait): order-free.
        if t > st[3] or (t == st[3] and (code, wait) > (st[4], st[5])):
            st[3], st[4], st[5] = t, code, wait
        return False

    def bad_time(self, t: int, raw: bytes, row0: int, lines: list[bytes], line: bytes) -> bool:
        why = M_("time is in the future") if t > self.latest else M_("time before 2000: not a UNIX time in seconds?")
        return self.stop(why, row0, lines, line, "time", raw)

    def other_queue(self, queue: bytes) -> None:
        name = _text(queue)
        self.scan.other_queues[name] = self.scan.other_queues.get(name, 0) + 1

    def new_day(self, t: int, row0: int, lines: list[bytes], line: bytes) -> tuple[int, int, bool]:
        """An ENTERQUEUE outside the local day of the last one: that day's bounds, and
        whether the scan stops (a date met for the first time is checked against the
        catalogue)."""
        days = self.days
        day = days.of(t)
        if day in self.checked_days:
            return days.lo, days.hi, False
        return days.lo, days.hi, self.first_of_day(day, row0, lines, line)

    def stop(self, why: str, row0: int, lines: list[bytes], line: bytes, column: str, value: bytes) -> bool:
        """Report a problem of ``line``: whether the scan stops (too many problems)."""
        self.scan.problem(why, _row(row0, lines, line), column, value)
        return len(self.scan.problems) >= MAX_PROBLEMS

    def irregular(self, line: bytes, parts: list[bytes], row0: int, lines: list[bytes]) -> tuple[int, int] | tuple[()] | None:
        """A line that is not a plain call event line: (event code, time); None to skip it
        (a problem reported, or a blank line), () to skip it quietly (an unknown event)."""
        scan = self.scan
        if len(parts) >= 5 and parts[4] not in _EVENTS:
            name = parts[4].strip()
            if name not in _EVENTS:
                name = _text(name) or "(empty)"
                scan.unknown_events[name] = scan.unknown_events.get(name, 0) + 1
                return ()
            code = _EVENTS[name]
        else:
            code = _EVENTS[parts[4]] if len(parts) >= 5 else 0
        row = _row(row0, lines, line)
        if len(parts) < 5:
            if not line.strip():
                scan.blank += 1
            else:
                scan.problem(M_("not a queue_log line: expected time|callid|queuename|agent|event|data..."), row,
                             value=line)
            return None
        t = _odd_time(parts[0], scan, row)
        return None if t is None else (code, t)

    def first_of_day(self, day: dt.date, row0: int, lines: list[bytes], line: bytes) -> bool:
        """A local date met for the first time: checked against the catalogue. Whether the
        scan stops (too many problems)."""
        self.checked_days.add(day)
        found = self.allowed_day(day, None)
        if found:
            row = _row(row0, lines, line)  # only now: finding it costs a pass over the batch
            problems = self.scan.problems
            problems.extend(replace(p, row=row) for p in found)
            return len(problems) >= MAX_PROBLEMS
        return False


def _index(lines: list[bytes], line: bytes) -> int:
    return next(i for i, x in enumerate(lines) if x is line)


def _row(row0: int, lines: list[bytes], line: bytes) -> int:
    return row0 + _index(lines, line)


def _odd_time(raw: bytes, scan: Scan, row: int) -> int | None:
    """A time that is not a plain integer: "1366720340.5" (some loaders) is floored."""
    text = raw.strip()
    try:
        if re.fullmatch(rb"\d+\.\d+", text):
            return int(text.split(b".")[0])
        return int(text)
    except ValueError:
        pass
    scan.problem(M_("time must be a UNIX time in seconds"), row, "time", raw)
    return None


def _bad_data(scan: Scan, code: int, parts: list[bytes], row: int) -> bool:
    """Report a CONNECT or exit without a usable wait: whether the scan stops (too many problems)."""
    name = OUTCOME_NAMES[code]
    if code == CONNECT:
        at, column, why = 5, "data1", M_("CONNECT needs its holdtime (data1): whole seconds from 0 to 86400")
    else:
        at = _WAIT_AT[code]
        column = f"data{at - 4}"
        why = M_("{event} needs its waittime ({column}): whole seconds from 0 to 86400",
                 event=name, column=column)
    value = parts[at] if len(parts) > at else None
    scan.problem(why, row, column, value if value is not None else b"|".join(parts))
    return len(scan.problems) >= MAX_PROBLEMS


def latest_time(ctx: IngestContext) -> int:
    """The end of today in the hotline's zone: a later time is a clock or parsing error."""
    end = dt.datetime.combine(ctx.today + dt.timedelta(days=1), dt.time(0), tzinfo=ctx.hotline.zone)
    return int(end.timestamp()) - 1


def scan_notes(scan: Scan) -> list[str]:
    notes = []
    if scan.blank:
        notes.append(M_("{n:,} blank line(s) skipped", n=scan.blank))
    if scan.system:
        notes.append(M_("{n:,} membership/system event(s) (ADDMEMBER, PAUSE, QUEUESTART ...) skipped", n=scan.system))
    if scan.unknown_events:
        shown = ", ".join(f"{k} ×{v:,}" for k, v in sorted(scan.unknown_events.items()))
        notes.append(M_("unknown events skipped: {events}", events=shown))
    if scan.other_queues:
        shown = ", ".join(f"{k} ×{v:,}" for k, v in sorted(scan.other_queues.items()))
        notes.append(M_("lines of queues that do not belong to {hotline} skipped: {queues}", hotline=scan.ctx.hotline.id,
                        queues=shown))
    return notes
