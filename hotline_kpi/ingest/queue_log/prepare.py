"""Days made ready for the store step while a big file is still being read.

The parts of a big file form are read by worker threads (:mod:`.parallel`); the thread that
waits for them is otherwise idle. It reads back the days the parts have gone well past from
their spools and does the store step's work on each (the join check, the counters, the
packed and compressed form) ahead of time, so that the store step, which runs alone once
the file is read, mostly writes what is ready.

Nothing here is trusted blindly: a day is used as prepared only when, at store time, its
segments in the spool are exactly those it was prepared from (a late line of the day, or
the same day in two parts, means a segment it did not see: the day is then done as
before), and the store holds no calls of the day. Its counters do not depend on the log's
final watermark: a day is prepared only when none of its calls is still waiting at a
watermark the log has reached (each is answered, has left the queue or is unresolved).
Whatever is not prepared, or no longer holds, is done by the store step itself.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass

import numpy as np

from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.ingest.queue_log.blob import compress, pack_arrays
from hotline_kpi.ingest.queue_log.calls import EARLIER, DayCount, LocalDays, count_calls, orphan_examples
from hotline_kpi.ingest.queue_log.spool import Spool
from hotline_kpi.settings import QueueLogSettings

#: A day is prepared once its part has written states of a day this many days later: the
#: calls of a day leave the parse's memory at most a day and the memory horizon after it.
_BEHIND = dt.timedelta(days=3)


@dataclass(eq=False)
class PreparedDay:
    """One day's calls, read from one part's spool and ready to store."""

    day: dt.date
    #: The segments it was prepared from: (file, offset, size) each (:meth:`Spool.segments`).
    segments: tuple
    calls: int
    #: The counters, at a watermark no later than the log's, with no call still waiting (so
    #: the same at the log's own: a waiting call is unresolved from then on).
    count: DayCount
    #: Where its stored form (compressed) is in the preparer's file: (offset, size).
    blob: tuple[int, int]
    #: Ids of up to five calls without an ENTERQUEUE (as the store step's note shows them).
    orphans: list[str]
    #: The day before as prepared in the same part, and whether a call id is under both.
    after: "PreparedDay | None" = None
    joins_after: bool = True

    def __len__(self) -> int:
        return self.calls


class DayPreparer:
    """Prepares the days of the parts' spools (:meth:`poll`, from the waiting thread); keeps
    the compressed days in a temporary file of its own (they would otherwise add up in
    memory: tens of MB for a year)."""

    def __init__(self, formulas: FormulaSettings, queue_log: QueueLogSettings, days: LocalDays):
        self.formulas, self.queue_log, self.local = formulas, queue_log, days
        self.days: dict[dt.date, PreparedDay | None] = {}  # None: met in two parts
        self._next: dict[int, dt.date] = {}  # part -> the next day to look at
        self._last: dict[int, tuple[PreparedDay, np.ndarray]] = {}  # part -> its latest prepared day, id_hashes
        self._file = None
        self._size = 0
        self._powers = _Powers()
        self.stopped = False

    def poll(self, spools: list[Spool | None]) -> None:
        """Prepare the days the parts have gone past since the last call. Preparing is only
        ahead of time: on any error here (a part that failed and closed its spool meanwhile,
        a full disk) it stops, and the store step does the days not prepared; the part's own
        error, if any, is the one the load reports."""
        if self.stopped:
            return
        try:
            self._poll(spools)
        except Exception:  # noqa: BLE001 - see above: the days prepared so far are still checked at store time
            self.stopped = True

    def finish(self) -> None:
        """The parts are read: let go of what only preparing needed."""
        self.stopped = True
        self._last.clear()
        self._powers = _Powers()
        if self._file is not None:
            self._file.flush()  # (the store step reads the days back from it)

    def _poll(self, spools: list[Spool | None]) -> None:
        for part, spool in enumerate(spools):
            latest = spool.latest if spool is not None else None
            if latest is None:
                continue
            day = self._next.get(part)
            if day is None:
                day = min(spool.index)  # (the writer only adds: the C-level scan sees a whole dict)
            while day <= latest - _BEHIND:
                segments = spool.index.get(day)
                if segments:
                    self._prepare(part, spool, day, tuple(segments))
                day += dt.timedelta(days=1)
            self._next[part] = day

    def _prepare(self, part: int, spool: Spool, day: dt.date, segments: tuple) -> None:
        if day in self.days:
            self.days[day] = None
            return
        self.days[day] = None
        joined, n, numbers = spool.read_segments(segments)
        if not n or EARLIER in joined:
            return
        keys = id_hashes(joined, self._powers)
        if (keys[1:] == keys[:-1]).any():  # (an id twice, or two ids of one hash: the store step sees)
            return
        # A lower bound of the log's watermark: a state of the latest day has a line of it.
        count = count_calls(numbers, self.formulas, self.queue_log, self.local.bounds(spool.latest)[0])
        if count.open:  # (a call still waiting at that watermark: counted at the log's own, at store time)
            return
        blob = compress(pack_arrays(joined, n, numbers))
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="hotline-kpi-queue-log-", suffix=".days")
        self._file.write(blob)
        at, self._size = self._size, self._size + len(blob)
        orphans = orphan_examples(joined.split(b"\n"), numbers) if count.orphans else []
        last = self._last.get(part)
        after = last[0] if last is not None and last[0].day == day - dt.timedelta(days=1) else None
        shared = after is None or bool(np.isin(keys, last[1], assume_unique=True).any())
        prepared = PreparedDay(day, tuple((spool._files[k], o, size) for k, o, size in segments), n, count,
                               (at, len(blob)), orphans, after, shared)
        self.days[day] = prepared
        self._last[part] = (prepared, keys)

    def ready(self, spool: Spool, day: dt.date) -> PreparedDay | None:
        """The day as prepared, if its segments in ``spool`` (all parts adopted) are still
        those it was prepared from."""
        prepared = self.days.get(day)
        if prepared is None or spool.segments(day) != prepared.segments:
            return None
        return prepared

    def blob(self, prepared: PreparedDay) -> bytes:
        at, size = prepared.blob
        return os.pread(self._file.fileno(), size, at)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


#: The multiplier of the ids' hashes (odd: it has an inverse modulo 2**64).
_P = 0x9E3779B97F4A7C15
_P_INVERSE = pow(_P, -1, 1 << 64)


class _Powers:
    """_P**k and its inverse's, modulo 2**64, for k below a length that grows as needed."""

    def __init__(self) -> None:
        self.up = self.down = np.ones(1, dtype=np.uint64)

    def upto(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.up) < n:
            m = max(n, 2 * len(self.up), 1 << 18)
            self.up = self.down = np.ones(1, dtype=np.uint64)  # (the old ones go first: the parts hold the memory)
            self.up, self.down = _power_table(_P, m), _power_table(_P_INVERSE, m)  # (both, or neither)
        return self.up, self.down


def _power_table(p: int, m: int) -> np.ndarray:
    """p**k modulo 2**64 for k < m, made in place (no temporaries of its size)."""
    table = np.full(m, p, dtype=np.uint64)
    table[0] = 1
    with np.errstate(over="ignore"):
        np.multiply.accumulate(table, out=table)
    return table


def id_hashes(joined: bytes, powers: _Powers) -> np.ndarray:
    """A 64-bit hash of each id in ``joined`` (ids joined by newlines), sorted: the polynomial
    of its bytes in _P, modulo 2**64, plus its length. Ids of different hashes differ, so two
    days of disjoint hashes share no id, and a day of hashes all different holds no id twice:
    what the store step's sets of ids would find, in numpy loops that let go of the
    interpreter lock (the parts read on meanwhile). Two ids of one hash only send their days
    to the store step."""
    b = np.frombuffer(joined, np.uint8)
    up, down = powers.upto(len(b) + 1)
    ends = np.flatnonzero(b == 10)
    starts = np.concatenate(([0], ends + 1))
    ends = np.concatenate((ends, [len(b)]))
    sums = np.empty(len(b) + 1, dtype=np.uint64)  # (one array, worked in place: the parts hold the memory)
    sums[0] = 0
    terms = sums[1:]
    terms[:] = b
    with np.errstate(over="ignore"):
        terms += np.uint64(1)
        terms *= up[:len(b)]
        np.cumsum(terms, out=terms)
        hashes = (sums[ends] - sums[starts]) * down[starts] + (ends - starts).astype(np.uint64)
    hashes.sort()
    return hashes
