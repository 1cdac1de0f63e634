"""Call states of the Asterisk queue_log, and merging them into the store (source ``queue-log``).

:mod:`hotline_kpi.ingest.queue_log` reads the lines into these states; this module holds
what a state is, how two partial states of one call join, how a day's calls are counted,
how they are stored (compact, per hotline and local date), and the store step that joins
a parsed file's states with those earlier files left and recounts the touched days.
"""

from __future__ import annotations

import datetime as dt
import marshal
import os
import struct
import tempfile
import zlib
from array import array
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Iterable
from zoneinfo import ZoneInfo

from hotline_kpi.domain import DayRecord
from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.settings import QueueLogSettings
from hotline_kpi.store.provenance import StoreRequest

if TYPE_CHECKING:
    from hotline_kpi.ingest.queue_log import ParsedQueueLog

# --- events ---------------------------------------------------------------------------------

#: Event classes: the deciding ones, TAIL (events of a call that decide nothing: after the
#: answer, or while it rings) and SYSTEM (membership and system events, no call).
ENTER, CONNECT, ABANDON, TIMEOUT, EMPTY, KEY, TAIL, SYSTEM = range(8)

#: Outcome codes as stored (0: no outcome yet) and their event names.
OUTCOME_NAMES = {CONNECT: "CONNECT", ABANDON: "ABANDON", TIMEOUT: "EXITWITHTIMEOUT", EMPTY: "EXITEMPTY",
                 KEY: "EXITWITHKEY"}

#: No ENTERQUEUE seen: larger than any time, so that min() joins enters.
NO_TIME = 1 << 62

# --- call states ---------------------------------------------------------------------------
#
# A call's state is seven integers, the same in memory (a list, updated in place), in the
# spool and in the store (a tuple):
#
#   (enter, connect_at, connect_wait, exit_at, exit_code, exit_wait, first_seen)
#
# enter is NO_TIME without an ENTERQUEUE; connect_at and exit_at are -1 when not seen;
# exit_wait is -1 when the exit did not say. So min() joins enters and first_seen, max()
# joins exits (the latest, then the higher code, the longer wait), and the CONNECT is
# the earliest seen (then the shorter wait).

State = tuple[int, int, int, int, int, int, int]
WIDTH = 7


def join(a: State, b: State) -> State:
    """The state of a call from two partial states: order-free, and join(a, a) == a."""
    if b[1] < 0 or (0 <= a[1] and (a[1], a[2]) <= (b[1], b[2])):
        c_at, c_wait = a[1], a[2]
    else:
        c_at, c_wait = b[1], b[2]
    x = max((a[3], a[4], a[5]), (b[3], b[4], b[5]))
    return (min(a[0], b[0]), c_at, c_wait, x[0], x[1], x[2], min(a[6], b[6]))


def anchor(state: State) -> int:
    """The time a call is filed under: its ENTERQUEUE, else its first event."""
    return state[0] if state[0] != NO_TIME else state[6]


def outcome(state: State) -> tuple[int, int, int]:
    """(outcome code, its time, its wait): CONNECT if the call reached an agent, else its
    deciding exit; (0, -1, -1) while it has neither."""
    if state[1] >= 0:
        return CONNECT, state[1], state[2]
    if state[3] >= 0:
        return state[4], state[3], state[5]
    return 0, -1, -1


_BLOB_MAGIC = b"HKQC2"
_LITTLE = array("q", [1]).tobytes()[0] == 1


def encode_calls(calls: dict[bytes, State]) -> bytes:
    """Stored form of one day's calls: the ids, then the seven numbers of each (int64 LE),
    compressed. Plain bytes and arrays, not pickle or marshal, whose formats change
    between Pythons."""
    return zlib.compress(pack_calls(calls), 1)


def pack_calls(calls: dict[bytes, State]) -> bytes:
    """:func:`encode_calls` before compression."""
    ids = list(calls)
    numbers = array("q", list(chain.from_iterable(calls.values())))
    if not _LITTLE:
        numbers.byteswap()
    joined = b"\n".join(ids)
    head = _BLOB_MAGIC + struct.pack("<II", len(ids), len(joined))
    return head + joined + numbers.tobytes()


def decode_calls(blob: bytes) -> dict[bytes, State]:
    data = zlib.decompress(blob)
    if not data.startswith(_BLOB_MAGIC):
        raise ValueError("not a stored queue_log day (bad magic)")
    count, size = struct.unpack_from("<II", data, len(_BLOB_MAGIC))
    start = len(_BLOB_MAGIC) + 8
    ids = data[start:start + size].split(b"\n") if count else []
    numbers = array("q")
    numbers.frombytes(data[start + size:])
    if not _LITTLE:
        numbers.byteswap()
    it = iter(numbers)
    return dict(zip(ids, zip(it, it, it, it, it, it, it)))


# --- counting --------------------------------------------------------------------------------


@dataclass
class DayCount:
    """The counters of one day's calls and what was left out of them."""

    counters: dict[str, float]
    entered: int = 0
    orphans: int = 0
    open: int = 0
    unresolved: int = 0
    #: The earliest ENTERQUEUE among the open calls (None: none open).
    open_since: int | None = None


def count_calls(states: Iterable[State], formulas: FormulaSettings, queue_log: QueueLogSettings,
                watermark: int) -> DayCount:
    """Counters of one day's calls under the formula settings, at the log's ``watermark``.

    A call counts once it has an ENTERQUEUE and an outcome, or once the log has gone on
    ``unresolved_after_hours`` past its ENTERQUEUE without one (unresolved: offered and
    not answered when ``unresolved_offered``). A call without ENTERQUEUE never counts.
    """
    offered_exits = {code for code, name in OUTCOME_NAMES.items() if name in formulas.offered_exits}
    short_limit = formulas.short_abandon_seconds if ABANDON in offered_exits else 0
    within = formulas.answer_within_seconds
    unresolved_before = watermark - round(queue_log.unresolved_after_hours * 3600)
    offered = answered = short = fast = wait_sum = total = 0
    out = DayCount({})
    for total, (enter, c_at, c_wait, x_at, x_code, x_wait, _seen) in enumerate(states, 1):
        if enter == NO_TIME:
            out.orphans += 1
        elif c_at >= 0:
            answered += 1
            wait_sum += c_wait
            if c_wait <= within:
                fast += 1
        elif x_at >= 0:
            if x_code in offered_exits:
                offered += 1
                if x_code == ABANDON and 0 <= x_wait < short_limit:
                    short += 1
        elif enter <= unresolved_before:
            out.unresolved += 1
            if queue_log.unresolved_offered:
                offered += 1
        else:
            out.open += 1
            out.open_since = enter if out.open_since is None else min(out.open_since, enter)
    out.entered = total - out.orphans
    out.counters = {
        "calls_offered": offered + answered,
        "calls_answered": answered,
        "calls_abandoned_short": short,
        "answer_wait_seconds_sum": float(wait_sum),
        "calls_answered_within_15s": fast,
    }
    return out


# --- local dates ------------------------------------------------------------------------------


class LocalDays:
    """UNIX seconds -> local date in the hotline's zone, with the current day's bounds cached
    (lines come mostly in time order, so nearly every lookup is two comparisons)."""

    def __init__(self, zone: ZoneInfo):
        self.zone = zone
        self.lo = self.hi = 0
        self.day = dt.date(1970, 1, 1)

    def of(self, t: int) -> dt.date:
        if self.lo <= t < self.hi:
            return self.day
        day = dt.datetime.fromtimestamp(t, self.zone).date()
        self.lo, self.hi = self.bounds(day)
        self.day = day
        return day

    def bounds(self, day: dt.date) -> tuple[int, int]:
        start = dt.datetime.combine(day, dt.time(0), tzinfo=self.zone)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=self.zone)
        return int(start.timestamp()), int(end.timestamp())


# --- the spool: states written to a temp file between parse and store ---------------------------


class Spool:
    """Call states by local date, on disk: the parse's memory does not grow with the file.

    Segments are marshal data (fast; written and read back by the same Python). A spool
    can take over the files of other spools (those of parallel workers, :meth:`adopt`).
    """

    def __init__(self) -> None:
        fd, name = tempfile.mkstemp(prefix="hotline-kpi-queue-log-", suffix=".spool")
        self.paths = [Path(name)]
        self._files: list[BinaryIO] = [os.fdopen(fd, "w+b")]
        #: day -> [(file number, offset, size)]
        self.index: dict[dt.date, list[tuple[int, int, int]]] = {}
        self.states = 0

    def write(self, day: dt.date, ids: list[bytes], numbers: list[int]) -> None:
        data = marshal.dumps((ids, numbers))
        f = self._files[0]
        offset = f.seek(0, os.SEEK_END)
        f.write(data)
        self.index.setdefault(day, []).append((0, offset, len(data)))
        self.states += len(ids)

    def read(self, day: dt.date) -> tuple[list[bytes], list[int]]:
        """Every state spooled for ``day``: ids, and their numbers (WIDTH per state) in one list."""
        ids: list[bytes] = []
        numbers: list[int] = []
        for n, offset, size in self.index.get(day, ()):
            f = self._files[n]
            f.flush()
            f.seek(offset)
            more_ids, more_numbers = marshal.loads(f.read(size))
            ids += more_ids
            numbers += more_numbers
        return ids, numbers

    def days(self) -> list[dt.date]:
        return sorted(self.index)

    def detach(self) -> tuple[str, dict[dt.date, list[tuple[int, int]]], int]:
        """Close the (single) file and hand it over: (path, day -> [(offset, size)], states)."""
        self._files[0].close()
        return str(self.paths[0]), {d: [(o, n) for _, o, n in segs] for d, segs in self.index.items()}, self.states

    def adopt(self, path: str, index: dict[dt.date, list[tuple[int, int]]], states: int) -> None:
        """Take over a detached spool's file (it is deleted with this spool)."""
        self.paths.append(Path(path))
        self._files.append(open(path, "rb"))
        n = len(self._files) - 1
        for day, segments in index.items():
            self.index.setdefault(day, []).extend((n, o, size) for o, size in segments)
        self.states += states

    def close(self) -> None:
        for f in self._files:
            f.close()
        for path in self.paths:
            path.unlink(missing_ok=True)


# --- store: join with what earlier pieces left, count, and revise the days -------------------------------


def store_calls(session, parsed: "ParsedQueueLog", request: StoreRequest):
    """Join the parsed states into the stored days and revise the touched days' counters.

    Runs inside the caller's write transaction. Days are processed in date order with the
    previous day still in memory, so a call whose lines were filed under two neighbouring
    days (it entered before midnight and its lines after it were read in another piece,
    or its ENTERQUEUE came in a later piece than its CONNECT) is joined into one. Lines
    of one call more than a day apart are not joined.
    """
    from hotline_kpi.store import repo

    hotline_id = request.hotline_id
    source = parsed.source
    state = repo.lock_source_state(session, hotline_id, source, request.at)
    watermark = max(state.watermark or 0, parsed.max_time or 0)
    age = round(request.queue_log.unresolved_after_hours * 3600)
    days = LocalDays(request.zone)
    spool = parsed.spool
    assert spool is not None
    touched = set(spool.days())
    recount = set(repo.queue_days_open_before(session, hotline_id, watermark - age))
    one = dt.timedelta(days=1)
    wanted = touched | recount | {d - one for d in touched} | {d + one for d in touched}
    ingest = repo.new_ingest(session, hotline_id, source, request)

    changed: set[dt.date] = touched | recount
    records: list[DayRecord] = []
    totals = DayCount({})
    orphan_ids: list[str] = []

    # zlib releases the GIL: days are compressed in a thread while the next is joined.
    packer = ThreadPoolExecutor(1)
    pending: deque = deque()

    def write_one() -> None:
        day, future, count, row = pending.popleft()
        blob = future.result()
        if row is None or row.calls != blob or row.open_since != count.open_since:
            repo.put_queue_day(session, hotline_id, day, blob, count.entered, count.orphans, count.open_since,
                               ingest.id, exists=row is not None)

    def finish(day: dt.date, calls: dict[bytes, State], row) -> None:
        if day not in changed or (row is None and not calls):
            return
        count = count_calls(calls.values(), request.formulas, request.queue_log, watermark)
        pending.append((day, packer.submit(zlib.compress, pack_calls(calls), 1), count, row))
        if len(pending) > 2:
            write_one()
        totals.open += count.open
        totals.unresolved += count.unresolved
        totals.orphans += count.orphans
        if count.orphans and len(orphan_ids) < 5:
            orphan_ids.extend(islice((cid.decode("utf-8", "backslashreplace") for cid, s in calls.items()
                                      if s[0] == NO_TIME), 5))
        if count.entered or (row is not None and row.entered):
            # A day whose calls all moved to the day before (joined with an earlier
            # ENTERQUEUE there) is revised to zeros rather than left with stale counters.
            records.append(DayRecord(day=day, counters=count.counters))

    prev_day: dt.date | None = None
    prev: dict[bytes, State] = {}
    prev_row = None
    for day, row in repo.queue_days(session, hotline_id, sorted(wanted)):
        ids, numbers = spool.read(day)
        it = iter(numbers)
        states = zip(it, it, it, it, it, it, it)
        if row is None:
            cur = dict(zip(ids, states))
            if len(cur) < len(ids):  # a call spooled twice (split by the memory horizon): join
                cur = {}
                it = iter(numbers)
                for cid, new in zip(ids, zip(it, it, it, it, it, it, it)):
                    old = cur.get(cid)
                    cur[cid] = new if old is None else join(old, new)
        else:
            cur = decode_calls(row.calls)
            for cid, new in zip(ids, states):
                old = cur.get(cid)
                cur[cid] = new if old is None else join(old, new)
        if prev_day is not None and prev_day == day - one and prev and cur:
            for cid in prev.keys() & cur.keys():
                joined = join(prev.pop(cid), cur.pop(cid))
                (prev if days.of(anchor(joined)) == prev_day else cur)[cid] = joined
                changed.update((prev_day, day))
        if prev_day is not None:
            finish(prev_day, prev, prev_row)
        prev_day, prev, prev_row = day, cur, row
    if prev_day is not None:
        finish(prev_day, prev, prev_row)
    try:
        while pending:
            write_one()
    finally:
        packer.shutdown(cancel_futures=True)

    state.watermark = watermark
    state.updated_at = request.at
    notes = list(parsed.notes)
    hours = f"{request.queue_log.unresolved_after_hours:g} h"
    if totals.open:
        notes.append(f"{totals.open:,} call(s) still in the queue at the end of the log: counted once their exit "
                     f"is read, or as unresolved when the log has gone on {hours} past them")
    if totals.unresolved:
        how = "counted as offered, not answered" if request.queue_log.unresolved_offered else "not counted"
        notes.append(f"{totals.unresolved:,} unresolved call(s) on the days touched (an ENTERQUEUE and no exit "
                     f"{hours} of log later): {how}")
    if totals.orphans:
        notes.append(f"{totals.orphans:,} call(s) on the days touched without an ENTERQUEUE (orphans, not "
                     f"counted), e.g. {', '.join(orphan_ids[:5])}")
    return repo.store_days(session, ingest, source, sorted(records, key=lambda r: r.day), request, notes)

