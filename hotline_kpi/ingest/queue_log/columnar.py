"""The vectorised scan of the file form: blocks of lines parsed and grouped by call in native
code (polars), with the line scan (:mod:`.scan`) for whatever the vectorised path cannot
treat exactly.

Every block of complete lines goes one of two ways:

- **the line scan**, line by line as before, when the block holds anything irregular: a
  line the vectorised checks do not accept exactly as the line scan would (a blank or short
  line, a time or wait that is not plain digits in range, a call event without a call id,
  an event name or a call id with blanks around it, a carriage return, text that is not UTF-8, a date
  met for the first time that the catalogue refuses). Problems are then reported by the
  line scan, with their rows, as before;
- **the vectorised path** otherwise. Tallies (membership/system events, unknown events,
  other queues) and the watermark are column sums. The call lines are grouped by call id;
  a call is *plain* when its id is not in memory from an earlier block, its lines span at
  most a day, and no ENTERQUEUE of it comes after one of its exits or COMPLETEs. The
  state of a plain call is then what the line scan's state machine makes of its lines in
  any order (the earliest ENTERQUEUE, the earliest CONNECT then the shorter wait, the
  latest exit then the higher code and the longer wait, the earliest line): min and max
  of packed keys. The lines of every other call (an id carried over from the block before,
  a reused id, an overflow into another queue) go through the line scan's state machine,
  in their order.

Plain calls older than the memory horizon go to the day buffers right after the calls the
line scan moves out, the others into memory: the spool holds the same states as the line
scan's, so the counters are the same by construction (tests/ingest/test_queue_log_columnar.py
runs both on the same messy logs and compares every counter of every day).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Sequence

from hotline_kpi.ingest.queue_log.calls import (
    ABANDON,
    COMPLETE,
    CONNECT,
    DAY_SECONDS,
    EMPTY,
    ENTER,
    KEY,
    MAX_WAIT_SECONDS,
    NO_TIME,
    SYSTEM,
    TIMEOUT,
    LocalDays,
)
from hotline_kpi.ingest.queue_log.scan import (
    _EARLIEST,
    _EVENTS,
    _NOT_A_CALL,
    MEMORY_HORIZON_SECONDS,
    Scan,
    _Held,
    _Machine,
    _no_gc,
    _queue_filter,
    _text,
)
from hotline_kpi.ingest.queue_log.reader import line_marks
from hotline_kpi.ingest.queue_log.spool import Spool

_COLUMNS = ["t", "cid", "q", "agent", "ev", "d1", "d2", "d3", "d4", "d5"]
_EVENT_CODES = {k.decode(): v for k, v in _EVENTS.items()}
_EXITS = (ABANDON, TIMEOUT, EMPTY, KEY)
_NOT_A_CALL_TEXT = [c.decode() for c in _NOT_A_CALL if c]
#: The engine of every plan here: polars 2's default (streaming) took 4% more CPU and 15-25 MB
#: more memory on the year's bench file, whose blocks are a few MiB.
_ENGINE = "in-memory"
#: Packed keys (int64): a CONNECT is t * _C + wait; an exit (t * 16 + code) * _C + wait + 1.
_C = 1 << 17


class _Irregular(Exception):
    """The block holds something the vectorised path does not treat exactly: the line scan reads it."""


def scan_blocks(blocks: Iterable[bytes], first_row: int, scan: Scan, spool: Spool, days: LocalDays,
                allowed_day, latest: int, patterns: Sequence[str] | None,
                progress=None, nul_from: int | None = None) -> tuple[int | None, int, int]:
    """:func:`.scan.scan_lines` for blocks of complete lines (bytes ending in a newline):
    the same states spooled, tallies and problems; returns (latest event time or None,
    states spooled, lines read).

    ``nul_from``: the byte offset of the first block; each block is then looked at for NUL
    bytes first, and the scan stops at the first (``scan.nul``: its offset and line)."""
    import polars  # noqa: F401  (imported here: only the file form's scan needs it)

    with _no_gc():
        held = _Held(spool, days)
        machine = _Machine(scan, held.calls, days, allowed_day, latest, patterns)
        parked = _Parked(held, days)
        belongs = _queue_filter(patterns) if patterns is not None else None
        spool_every = scan.ctx.queue_log.spool_every_calls
        row0 = first_row
        for block in blocks:
            n, odd = line_marks(block)
            if nul_from is not None:
                at = block.find(b"\x00") if odd else -1
                if at >= 0:
                    scan.nul = (nul_from + at, row0 + block.count(b"\n", 0, at))
                    break
                nul_from += len(block)
            try:
                plain = _vectorised(block, n, odd, scan, machine, belongs, latest, parked)
            except _Irregular:
                parked.unpark()  # the state machine reads every line of the block, a MiB of them at a time
                stopped, at, read = None, 0, 0
                while stopped is None and at < len(block):
                    cut = block.find(b"\n", min(at + (1 << 20), len(block) - 1)) + 1
                    lines = block[at:cut].split(b"\n")
                    lines.pop()
                    stopped, at, read = machine.batch(lines, row0 + read), cut, read + len(lines)
                if stopped is not None:
                    row0 += read - len(lines) + stopped + 1
                    break
                plain = None
            limit = machine.watermark - MEMORY_HORIZON_SECONDS
            held.spill(limit)
            parked.spill(limit)
            if plain is not None:
                _place(plain, limit, held, parked, days)
                scan.vectorised += 1
            if held.buffered >= spool_every:
                held.flush()
            row0 += n
            if progress is not None:
                progress()
        held.spill(None)
        parked.spill(None)
        held.flush()
    return (machine.watermark or None), held.spooled, row0 - first_row



def _vectorised(block: bytes, n: int, odd: bool, scan: Scan, machine: _Machine, belongs, latest: int,
                parked: "_Parked"):
    """Scan one block the vectorised way: the plain calls (a frame), after the other calls'
    lines went through the state machine. Raises :class:`_Irregular` before changing anything.

    One read of the fields needed (the queue only with queue patterns, data4 only where an
    EXITWITHKEY is), then one plan: the checks and the grouping by call run together. The
    plan's expressions are made once per scan (:func:`_plan`): the Python work per block is
    kept small, as two blocks are read at once in threads that share the interpreter."""
    import polars as pl

    if (odd and b"\r" in block) or block.startswith(b"\xef\xbb\xbf"):  # (the reader would drop a byte order mark)
        raise _Irregular
    read = [0, 1, 4, 5, 7, 8] + ([2] if belongs is not None else [])
    try:  # (text not UTF-8, or a time not an integer, is refused here; a short line's fields: nulls)
        df = pl.read_csv(block, has_header=False, separator="|", quote_char=None, schema=_schema(), columns=sorted(read),
                         truncate_ragged_lines=True, comment_prefix=None, raise_if_empty=False,
                         missing_columns="insert")
    except Exception as exc:  # noqa: BLE001 - whatever polars refuses, the line scan reads
        raise _Irregular from exc
    if df.height != n:
        raise _Irregular
    x = _plan(latest)
    code, cid = pl.col("code"), pl.col("cid")
    lf = df.lazy().with_columns(code=x.code)
    is_call = x.is_call
    other: dict[str, int] = {}
    if belongs is not None:
        theirs = [q for q in df["q"].unique().to_list() if not belongs((q or "").encode())]
        if theirs:
            out = pl.col("q").is_in([q for q in theirs if q is not None]).fill_null(False)  # (a null queue: below)
            if None in theirs:
                out = out | pl.col("q").is_null()
            for q, k in lf.filter(is_call & out).group_by("q").len().collect(engine=_ENGINE).iter_rows():
                name = _text((q or "").encode())
                other[name] = other.get(name, 0) + k
            is_call = is_call & ~out
    call_lines = lf.filter(is_call)
    calls = call_lines.with_columns(wt=x.wait_text).with_columns(w=x.wait)
    plain_call = x.plain
    if machine.calls or parked:  # a call carried over from the blocks before is never plain
        plain_call = plain_call & ~cid.is_in(parked.ids(machine.calls).implode())
    per_call = calls.select(x.per_line).group_by("cid").agg(x.per_call).with_columns(plain=plain_call)
    first, second, per_call = pl.collect_all([lf.select(x.checks), calls.select(x.call_checks),
                                              per_call.select("cid", "plain", *x.state)], engine=_ENGINE)
    ev_null, unknown, bad_time, tmax, system = first.row(0)
    if ev_null or bad_time:
        raise _Irregular  # a blank or short line, or a time the line scan reports or floors
    unknown_names = _unknown_events(lf.filter(code < 0).select("ev").collect(engine=_ENGINE)) if unknown else {}
    no_id, bad_wait, first_enter, last_enter, spaced = second.row(0)
    if no_id or bad_wait:
        raise _Irregular  # a call event without a call id, a wait missing, not plain digits or too long
    if spaced or (odd and per_call.select(pl.col("cid").str.strip_chars(" \t\x0b\x0c") != pl.col("cid"))
                  .to_series().any()):  # (tabs and the like only in a block with control bytes)
        raise _Irregular  # blanks around a call id: the line scan reads the id without them
    if first_enter is not None:
        _check_days(call_lines, first_enter, last_enter, machine)
    # Nothing irregular: from here on the block is read.
    plain = per_call["plain"]
    rest = per_call.filter(~plain)["cid"]
    if rest.len():
        # The lines as the state machine reads them (fields 0, 1, 2, 4, 5, 7 and 8 are all it reads;
        # the queue only with patterns, data4 only for an EXITWITHKEY).
        field = (lambda name, there: pl.col(name).fill_null("") if there else pl.lit(""))
        lines = calls.filter(cid.is_in(rest.implode())).select(pl.concat_str(
            [pl.col("t").cast(pl.String), "cid", field("q", belongs is not None), pl.lit(""), "ev",
             field("d1", True), pl.lit(""), field("d3", True), field("d4", True)], separator="|")
        ).collect(engine=_ENGINE).to_series()
        parked.unpark(rest)
        if lines.len():
            before = len(scan.problems)
            machine.batch([ln.encode() for ln in lines.to_list()], 0)
            if len(scan.problems) != before:  # pragma: no cover - the checks above are the line scan's
                raise AssertionError("the vectorised checks let a problem line through")
    machine.watermark = max(machine.watermark, tmax or 0)
    scan.system += system
    for name, k in unknown_names.items():
        scan.unknown_events[name] = scan.unknown_events.get(name, 0) + k
    for name, k in other.items():
        scan.other_queues[name] = scan.other_queues.get(name, 0) + k
    return per_call.filter(plain).drop("plain")


class _Exprs:
    """The expressions of the per-block plan (:func:`_plan`)."""

    def __init__(self, latest: int):
        import polars as pl

        code, t, cid = pl.col("code"), pl.col("t"), pl.col("cid")
        self.code = pl.col("ev").replace_strict(_EVENT_CODES, default=-1, return_dtype=pl.Int8)
        known = code >= 0
        self.is_call = known & (code != SYSTEM)
        self.wait_text = (pl.when(code == CONNECT).then(pl.col("d1")).when(code == KEY).then(pl.col("d4"))
                          .when(code.is_in(_EXITS)).then(pl.col("d3")))
        # A wait is whole seconds, plain digits (as the line scan reads it): the cast refuses the
        # rest but for a sign and leading zeros beyond ten digits, checked as text.
        self.wait = pl.col("wt").cast(pl.Int64, strict=False)
        w, wt = pl.col("w"), pl.col("wt")
        self.checks = [
            pl.col("ev").null_count().alias("a"), (code < 0).sum().alias("b"),
            (known & (t.is_null() | (t < _EARLIEST) | (t > latest))).sum().alias("c"),
            t.filter(known).max().alias("d"), (code == SYSTEM).sum().alias("e")]
        self.call_checks = [
            (cid.is_null() | cid.is_in(_NOT_A_CALL_TEXT)).sum().alias("a"),
            (code.is_in((CONNECT, *_EXITS)) & ((w > MAX_WAIT_SECONDS) | (w < 0) | (wt.is_not_null() & w.is_null())
                                               | (wt.is_null() & code.is_in((CONNECT, ABANDON)))
                                               | wt.str.starts_with("+") | (wt.str.len_bytes() > 10))).sum().alias("b"),
            t.filter(code == ENTER).min().alias("c"), t.filter(code == ENTER).max().alias("d"),
            (cid.str.starts_with(" ") | cid.str.ends_with(" ")).sum().alias("e")]
        is_x = code.is_in((*_EXITS, COMPLETE))
        wf = w.fill_null(-1)
        # Per line the value each aggregate takes (null: none), then plain min/max per call.
        self.per_line = [
            cid, t, pl.when(code == ENTER).then(t).alias("e"), pl.when(is_x).then(t).alias("x"),
            pl.when(code == CONNECT).then(t * _C + wf).alias("c"),
            pl.when(is_x).then((t * 16 + code.cast(pl.Int64)) * _C + wf + 1).alias("k")]
        self.per_call = [
            pl.col("e").min().alias("enter"), pl.col("e").max().alias("last_enter"),
            pl.col("x").min().alias("first_x"), pl.col("c").min().alias("conn"), pl.col("k").max().alias("exit"),
            t.min().alias("seen"), t.max().alias("last")]
        self.plain = (pl.col("last") - pl.col("seen") <= DAY_SECONDS) & (
            pl.col("last_enter").is_null() | pl.col("first_x").is_null()
            | (pl.col("last_enter") <= pl.col("first_x")))
        x, c = pl.col("exit"), pl.col("conn")
        #: A plain call's state (the numbers of :data:`.calls.WIDTH`, in order), from its aggregates.
        self.state = [
            pl.col("enter").fill_null(NO_TIME).alias("enter"),
            pl.when(c.is_null()).then(-1).otherwise(c // _C).alias("c_at"),
            pl.when(c.is_null()).then(0).otherwise(c % _C).alias("c_wait"),
            pl.when(x.is_null()).then(-1).otherwise(x // (_C * 16)).alias("x_at"),
            pl.when(x.is_null()).then(0).otherwise(x // _C % 16).alias("x_code"),
            pl.when(x.is_null()).then(-1).otherwise(x % _C - 1).alias("x_wait"),
            pl.col("seen")]


@lru_cache(maxsize=8)
def _plan(latest: int) -> _Exprs:
    return _Exprs(latest)


def _schema():
    import polars as pl

    # (fields past the tenth too: polars 2 refuses a block whose first line has more than named)
    return {c: (pl.Int64 if c == "t" else pl.String) for c in _COLUMNS + [f"x{i}" for i in range(22)]}


def _unknown_events(unknown) -> dict[str, int]:
    """Tallies of unknown events by name, as the line scan keeps them; an event name that is a
    known one with blanks around it is irregular (the line scan reads its line)."""
    out: dict[str, int] = {}
    if not unknown.height:
        return out
    for ev, k in unknown.group_by("ev").len().iter_rows():
        name = ev.encode().strip()
        if name in _EVENTS:
            raise _Irregular
        key = _text(name) or "(empty)"
        out[key] = out.get(key, 0) + k
    return out


def _check_days(calls, first: int, last: int, machine: _Machine) -> None:
    """The local dates of the block's ENTERQUEUEs met for the first time, checked against the
    catalogue as the line scan checks them: a date with a problem makes the block irregular."""
    import numpy as np
    import polars as pl

    days = machine.days
    bounds, _ = _day_bounds(days, first, last)
    new = [day for _, day in bounds if day not in machine.checked_days]
    if any(machine.allowed_day(day, None) for day in new):
        # A refused date in the block's span of ENTERQUEUEs: irregular if an ENTERQUEUE is on it.
        if len(bounds) > 1:
            times = calls.filter(pl.col("code") == ENTER).select("t").collect(engine=_ENGINE)["t"].to_numpy()
            at = np.searchsorted(np.asarray([b[0] for b in bounds], dtype=np.int64), times, "right") - 1
            new = [bounds[i][1] for i in np.unique(at).tolist() if bounds[i][1] not in machine.checked_days]
        for day in new:
            if machine.allowed_day(day, None):
                raise _Irregular
    machine.checked_days.update(new)


def _day_bounds(days: LocalDays, lo: int, hi: int):
    """[(start, date)] of the local days from the one of ``lo`` to the one of ``hi``."""
    out = []
    t = lo
    while True:
        day = days.of(t)
        out.append((days.lo, day))
        if hi < days.hi:
            return out, day
        t = days.hi


def _place(plain, limit: int, held: _Held, parked: "_Parked", days: LocalDays) -> None:
    """The plain calls: those first seen before ``limit`` to the day buffers (as the spill
    after the block would move them), the others parked (:class:`_Parked`). No Python
    object is made per call: ids stay a column, states an array."""
    if not plain.height:
        return
    import numpy as np

    numbers = plain.drop("cid").to_numpy().astype(np.int64, copy=False)
    ids = plain["cid"]
    old = _leaving(numbers, limit)
    if old.any():
        _to_buffers(ids, numbers, np.flatnonzero(old), held, days)
    if not old.all():
        keep = np.flatnonzero(~old)
        parked.add(ids.gather(keep), numbers[keep])


def _leaving(numbers, limit: int):
    """Which states leave memory: first seen before ``limit``, and a day before it for a call
    that may go on (:func:`~.calls.ended`; as :meth:`_Held.spill` decides)."""
    seen, x_at = numbers[:, 6], numbers[:, 3]
    ended = (x_at >= 0) & ((numbers[:, 1] < 0) | (x_at >= numbers[:, 1]))
    return (seen < limit) & ((seen < limit - DAY_SECONDS) | ended)


def _to_buffers(ids, numbers, sel, held: _Held, days: LocalDays) -> None:
    """Rows ``sel`` of the states (``ids``, a column; ``numbers``) to the day buffers of their
    anchors, each day's ids joined by newlines (as the spool keeps them)."""
    import numpy as np

    anchor = np.where(numbers[sel, 0] != NO_TIME, numbers[sel, 0], numbers[sel, 6])
    bounds, _ = _day_bounds(days, int(anchor.min()), int(anchor.max()))
    at = np.searchsorted(np.asarray([b[0] for b in bounds], dtype=np.int64), anchor, "right") - 1
    for i in np.unique(at).tolist():
        pick = sel[at == i]
        day = bounds[i][1]
        buf = held.buffers.get(day)
        if buf is None:
            buf = held.buffers[day] = ([], [], [], [])
        joined = ids.gather(pick).str.join("\n").item().encode("utf-8", "surrogateescape")
        buf[2].append((joined, len(pick)))
        buf[3].append(numbers[pick])
    held.buffered += len(sel)
    held.lo = held.hi = 0  # the spill's cached buffer may be another day's


def _utf8(ids) -> list[str]:
    """The ids that are UTF-8, as text: an id that is not (held by the state machine from a
    block read line by line) is no id of a block read the vectorised way, which is all UTF-8."""
    out = []
    for k in ids:
        try:
            out.append(k.decode())
        except UnicodeDecodeError:
            continue
    return out


class _Parked:
    """Plain calls of the last blocks not yet older than the memory horizon, kept as the
    column and array they came in (not a list per call in the state machine's dict): moved
    to the day buffers by :meth:`spill` with the calls in memory, or handed to the state
    machine (:meth:`unpark`) when a later block has lines of their id. A parked id is never
    plain in a later block (:meth:`ids`), so it is parked once."""

    def __init__(self, held: _Held, days: LocalDays):
        self.held, self.days = held, days
        #: [ids (a column), numbers, alive] of each parked block
        self.blocks: list[list] = []
        self.count = 0

    def __bool__(self) -> bool:
        return self.count > 0

    def add(self, ids, numbers) -> None:
        import numpy as np

        self.blocks.append([ids, numbers, np.ones(len(ids), dtype=bool)])
        self.count += len(ids)

    def ids(self, calls: dict[bytes, list]):
        """The ids parked and those of ``calls`` (the state machine's), as one column."""
        import polars as pl

        parts = [ids.filter(pl.Series(alive)) for ids, _, alive in self.blocks]
        if calls:
            parts.append(pl.Series(_utf8(calls), dtype=pl.String))
        return pl.concat(parts) if parts else pl.Series([], dtype=pl.String)

    def unpark(self, cids=None) -> None:
        """Hand the parked states of ``cids`` (a column; None: all) to the state machine's calls."""
        import numpy as np

        calls = self.held.calls
        for entry in self.blocks:
            ids, numbers, alive = entry
            rows = np.flatnonzero(alive if cids is None else alive & ids.is_in(cids.implode()).to_numpy())
            if len(rows):
                for cid, state in zip(ids.gather(rows).to_list(), numbers[rows].tolist()):
                    calls[cid.encode("utf-8", "surrogateescape")] = state
                alive[rows] = False
                self.count -= len(rows)
        self.blocks = [e for e in self.blocks if e[2].any()]

    def spill(self, limit: int | None) -> None:
        """Move the parked calls that leave memory at ``limit`` (all: None) to the day buffers."""
        import numpy as np

        for ids, numbers, alive in self.blocks:
            rows = np.flatnonzero(alive if limit is None else alive & _leaving(numbers, limit))
            if len(rows):
                _to_buffers(ids, numbers, rows, self.held, self.days)
                alive[rows] = False
                self.count -= len(rows)
        self.blocks = [e for e in self.blocks if e[2].any()]
