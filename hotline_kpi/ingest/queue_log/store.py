"""The store step of the queue_log: join a parsed file's states with those earlier files
left, recount the touched days and revise them, inside the pipeline's write transaction.

The only module of the package that touches the store (:mod:`hotline_kpi.store`).
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

import numpy as np

from hotline_kpi.i18n import M_
from hotline_kpi.domain import DayRecord
from hotline_kpi.ingest.queue_log.blob import compress, decode_calls, pack_arrays, pack_calls, rekey_legacy, \
    stored_before_2026_12
from hotline_kpi.ingest.queue_log.calls import (
    NO_TIME,
    EARLIER,
    DayCount,
    LocalDays,
    State,
    anchor,
    base_id,
    count_calls,
    orphan_examples,
    join,
    merge_states,
    named,
    regroup,
    same_call,
    state_array,
)
from hotline_kpi.ingest.queue_log.prepare import PreparedDay
from hotline_kpi.ingest.queue_log.spool import ParsedQueueLog, Spool
from hotline_kpi.store import provenance, records
from hotline_kpi.store.provenance import StoreRequest


def store_calls(session, parsed: ParsedQueueLog, request: StoreRequest):
    """Join the parsed states into the stored days and revise the touched days' counters.

    Runs inside the caller's write transaction. Days are processed in date order with the
    previous day still in memory, so a call whose lines were filed under two neighbouring
    days (it entered before midnight and its lines after it were read in another piece,
    or its ENTERQUEUE came in a later piece than its CONNECT) is joined into one. Lines
    of one call more than a day apart are not joined, nor two calls of a reused call id
    (:func:`~.calls.same_call`, the same rule as the line scan's).
    """
    hotline_id = request.hotline_id
    source = parsed.source
    state = records.lock_source_state(session, hotline_id, source, request.at)
    watermark = max(state.watermark or 0, parsed.max_time or 0)
    age = round(request.queue_log.unresolved_after_hours * 3600)
    days = LocalDays(request.zone)
    spool = parsed.spool
    assert spool is not None
    touched = set(spool.days())
    recount = set(records.queue_days_open_before(session, hotline_id, watermark - age))
    one = dt.timedelta(days=1)
    wanted = touched | recount | {d - one for d in touched} | {d + one for d in touched}
    ingest = provenance.new_ingest(session, hotline_id, source, request)

    changed: set[dt.date] = touched | recount
    day_records: list[DayRecord] = []
    totals = DayCount({})
    orphan_ids: list[str] = []

    # Zstandard releases the GIL: days are compressed in two threads while the next are joined,
    # and written a few at a time.
    packer = ThreadPoolExecutor(2)
    pending: deque = deque()
    ready: list[records.QueueDayWrite] = []

    def write_one() -> None:
        day, future, count, row = pending.popleft()
        blob = future if isinstance(future, bytes) else future.result()
        if row is None or row.calls != blob or row.open_since != count.open_since:
            ready.append(records.QueueDayWrite(day, blob, count.entered, count.orphans, count.open_since,
                                               exists=row is not None))
        if len(ready) >= 16 or not pending:
            records.put_queue_days(session, hotline_id, ingest.id, ready)
            ready.clear()

    def finish(day: dt.date, calls: "dict[bytes, State] | _Spooled | PreparedDay", row) -> None:
        if day not in changed or (row is None and not len(calls)):
            return
        if isinstance(calls, PreparedDay):  # counted, packed and compressed while the file was read
            count = calls.count
            pending.append((day, spool.prepared.blob(calls), count, row))
            orphans = calls.orphans
        else:
            if isinstance(calls, _Spooled):  # counted and packed from the spool's arrays
                numbers = calls.numbers
                raw = pack_arrays(calls.joined, len(calls.ids), numbers)
            else:
                numbers = state_array(calls)  # counted and packed as columns
                raw = pack_calls(calls, numbers)
            count = count_calls(numbers, request.formulas, request.queue_log, watermark)
            pending.append((day, packer.submit(compress, raw), count, row))
            orphans = []
            if count.orphans and len(orphan_ids) < 5:
                if isinstance(calls, _Spooled):
                    orphans = orphan_examples(calls.ids, numbers)
                else:
                    found = (cid for cid, s in calls.items() if s[0] == NO_TIME)
                    orphans = [base_id(cid).decode("utf-8", "backslashreplace") for cid in islice(found, 5)]
        if len(pending) > 4:
            write_one()
        totals.open += count.open
        totals.unresolved += count.unresolved
        totals.orphans += count.orphans
        if count.orphans and len(orphan_ids) < 5:
            orphan_ids.extend(orphans)
        if count.entered or (row is not None and row.entered):
            # A day whose calls all moved to the day before (joined with an earlier
            # ENTERQUEUE there) is revised to zeros rather than left with stale counters.
            day_records.append(DayRecord(day=day, counters=count.counters))

    prev_day: dt.date | None = None
    prev: dict[bytes, State] | _Spooled | PreparedDay = {}
    prev_row = None
    for day, row in records.queue_days(session, hotline_id, sorted(wanted)):
        cur = _day_calls(spool, day, row)
        if prev_day is not None and prev_day == day - one and len(prev) and len(cur):
            if _may_join(spool, prev, cur):  # (the common case: no call id under both days, nothing to join)
                prev, cur = _as_dict(spool, prev), _as_dict(spool, cur)
                if join_days(prev, cur, days, prev_day):
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
    hours = M_("{h:g} h", h=request.queue_log.unresolved_after_hours)
    if totals.open:
        notes.append(M_("{n:,} call(s) still in the queue at the end of the log: counted once their exit is read, "
                        "or as unresolved when the log has gone on {hours} past them", n=totals.open, hours=hours))
    if totals.unresolved:
        how = M_("counted as offered, not answered") if request.queue_log.unresolved_offered else M_("not counted")
        notes.append(M_("{n:,} unresolved call(s) on the days touched (an ENTERQUEUE and no exit {hours} of log "
                        "later): {how}", n=totals.unresolved, hours=hours, how=how))
    if totals.orphans:
        notes.append(M_("{n:,} call(s) on the days touched without an ENTERQUEUE (orphans, not counted), e.g. {ids}",
                        n=totals.orphans, ids=", ".join(orphan_ids[:5])))
    return provenance.store_days(session, ingest, source, sorted(day_records, key=lambda r: r.day), request, notes)


class _Spooled:
    """One day's calls as the spool holds them, while none of them needs a join: the ids
    (joined by newlines, as a list and as a set) and their numbers, an int64 array of rows of
    WIDTH. No Python object per call state: most days of a load are counted and packed
    from the arrays as they are."""

    __slots__ = ("joined", "ids", "keys", "numbers")

    def __init__(self, joined: bytes, ids: list[bytes], keys: set[bytes], numbers: np.ndarray):
        self.joined, self.ids, self.keys, self.numbers = joined, ids, keys, numbers

    def __len__(self) -> int:
        return len(self.ids)


def _day_calls(spool: Spool, day: dt.date, row) -> "dict[bytes, State] | _Spooled | PreparedDay":
    """The calls of ``day``: the spooled states joined into the stored ones (``row``), or,
    for a day without stored calls whose spooled states are one per id and no reused id
    among them, the day as prepared while the file was read (:mod:`.prepare`), else the
    spool's arrays as they are."""
    if row is None and spool.prepared is not None:
        prepared = spool.prepared.ready(spool, day)
        if prepared is not None:
            return prepared
    return _read_day(spool, day, row)


def _read_day(spool: Spool, day: dt.date, row) -> "dict[bytes, State] | _Spooled":
    """:func:`_day_calls` from the spool, whatever was prepared."""
    joined, n, numbers = spool.read_arrays(day)
    ids = joined.split(b"\n") if n else []
    if row is None and EARLIER not in joined:
        keys = set(ids)
        if len(keys) == n:
            return _Spooled(joined, ids, keys, numbers)
    cur = decode_calls(row.calls) if row is not None else {}
    if row is not None and b"~" in joined and stored_before_2026_12(row.calls):
        rekey_legacy(cur, ids)
    merge_states(cur, zip(ids, map(tuple, numbers.tolist())))
    return cur


def _spooled(spool: Spool, prepared: PreparedDay) -> "_Spooled":
    """A prepared day's calls as the spool holds them (one per id, no reused id: as prepared)."""
    return _read_day(spool, prepared.day, None)


def _may_join(spool: Spool, prev, cur) -> bool:
    """Whether two neighbouring days may hold states of one call: a call id under both (an
    earlier call of a reused id, ``id|anchor``, stands for its id)."""
    if isinstance(cur, PreparedDay) and cur.after is not None and cur.after is prev:
        return cur.joins_after  # (found while the file was read)
    keys = []
    for calls in (prev, cur):
        if isinstance(calls, PreparedDay):
            calls = _spooled(spool, calls)
        if isinstance(calls, _Spooled):
            keys.append(calls.keys)
        elif EARLIER in b"".join(calls):
            return True
        else:
            keys.append(calls.keys())
    return not keys[0].isdisjoint(keys[1])


def _as_dict(spool: Spool, calls) -> dict[bytes, State]:
    if isinstance(calls, PreparedDay):
        calls = _spooled(spool, calls)
    if isinstance(calls, _Spooled):
        return dict(zip(calls.ids, map(tuple, calls.numbers.tolist())))
    return calls


def join_days(prev: dict[bytes, State], cur: dict[bytes, State], days: LocalDays, prev_day: dt.date) -> bool:
    """Join the states of one call filed under two neighbouring days (``prev_day`` and the next),
    each call then under the day of its anchor. Whether anything moved."""
    if EARLIER not in b"".join(prev) and EARLIER not in b"".join(cur):  # the common case: no reused id
        moved = False
        for cid in prev.keys() & cur.keys():
            if same_call(prev[cid], cur[cid]):
                joined = join(prev.pop(cid), cur.pop(cid))
                (prev if days.of(anchor(joined)) == prev_day else cur)[cid] = joined
                moved = True
        return moved
    ids = {base_id(k) for k in prev} & {base_id(k) for k in cur}
    if not ids:
        return False
    keys: dict[bytes, list[tuple[dict, bytes]]] = {}
    for calls in (prev, cur):
        for k in calls:
            if base_id(k) in ids:
                keys.setdefault(base_id(k), []).append((calls, k))
    for cid, where in keys.items():
        calls = regroup([d.pop(k) for d, k in where])
        for day_calls in (prev, cur):
            mine = [st for st in calls if (days.of(anchor(st)) == prev_day) == (day_calls is prev)]
            day_calls.update(named(cid, mine))
    return True
