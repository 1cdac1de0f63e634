"""Call states of the queue_log: what a state is, how two partial states of one call join,
and how a day's calls are counted (their stored form: :mod:`.blob`).

The bottom of the package: it imports no other module of it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import chain
from typing import Iterable
from zoneinfo import ZoneInfo

import numpy as np

from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.settings import QueueLogSettings

# --- events ---------------------------------------------------------------------------------

#: Event classes: the deciding ones, TAIL (events of a call that decide nothing: after the
#: answer, or while it rings), SYSTEM (membership and system events, no call) and COMPLETE
#: (COMPLETECALLER/COMPLETEAGENT: the end of an answered call, kept as its last "exit").
ENTER, CONNECT, ABANDON, TIMEOUT, EMPTY, KEY, TAIL, SYSTEM, COMPLETE = range(9)

#: Outcome codes as stored (0: no outcome yet) and their event names.
OUTCOME_NAMES = {CONNECT: "CONNECT", ABANDON: "ABANDON", TIMEOUT: "EXITWITHTIMEOUT", EMPTY: "EXITEMPTY",
                 KEY: "EXITWITHKEY"}

#: No ENTERQUEUE seen: larger than any time, so that min() joins enters.
NO_TIME = 1 << 62

#: Lines of one call id more than this apart (from the call's ENTERQUEUE, else its first
#: line) are different calls.
DAY_SECONDS = 86_400
#: No caller waits in a queue longer than a day (a wait beyond it is a corrupt field, not a call).
MAX_WAIT_SECONDS = 86_400
#: An ENTERQUEUE this long or less after the call left a queue is the same call entering the
#: next queue (overflow); later, the call id is reused by a new call.
REENTER_SECONDS = 60

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


def ended(state) -> int:
    """When the call ended (its latest exit, or COMPLETE after the answer); -1 while it may
    go on (no exit yet, or answered after its last exit and not completed)."""
    x = state[3]
    if x < 0 or (state[1] >= 0 and x < state[1]):
        return -1
    return x


def same_call(a, b) -> bool:
    """Whether two states of one call id are one call. Different calls: more than a day apart
    (:data:`DAY_SECONDS`, from their anchors), or the later one has an ENTERQUEUE more than
    :data:`REENTER_SECONDS` after the earlier one ended. Lines without an ENTERQUEUE join the
    call before them (within a day)."""
    ta, tb = anchor(a), anchor(b)
    if ta > tb:
        a, b, ta, tb = b, a, tb, ta
    if tb - ta > DAY_SECONDS:
        return False
    if b[0] == NO_TIME:
        return True
    end = ended(a)
    return end < 0 or b[0] <= end + REENTER_SECONDS


def reenter(state: list, t: int) -> bool:
    """An ENTERQUEUE at ``t`` after the call in ``state`` ended: whether it is a new call (the
    id reused). Within :data:`REENTER_SECONDS` of a queue exit it is the call entering the next
    queue (overflow): an exit strictly before it is then superseded (reset), the call waits
    again (one in the same second may be written either side of it: kept, order-free)."""
    if t > ended(state) + REENTER_SECONDS:
        return True
    if state[4] != COMPLETE and t > state[3]:
        state[3], state[4], state[5] = -1, 0, -1
    return False


#: Joins a call id and an anchor in the key of an earlier call of a reused id (``id|anchor``):
#: the queue_log's field separator, which no call id holds. (Days stored before 2026-12 used
#: ``~``, which one may; they are read with their keys rewritten: :func:`unpack_calls`.)
EARLIER = b"|"


def other_call(calls: dict, cid: bytes, st: list, t: int) -> list:
    """A line at ``t`` of another call than ``st`` (the id reused), in the line scan's ``calls``:
    the state it joins. The call ``st`` is kept as ``cid|anchor`` (joined at store time by the
    same rule); a line of an earlier call read late gets a state of its own."""
    if t < anchor(st):
        return calls.setdefault(cid + b"|%d" % t, [NO_TIME, -1, 0, -1, 0, -1, t])
    key = cid + b"|%d" % anchor(st)
    calls[key] = st if key not in calls else list(join(calls[key], st))
    new = calls[cid] = [NO_TIME, -1, 0, -1, 0, -1, t]
    return new


def base_id(key: bytes) -> bytes:
    """The call id of a state's key: an earlier call of a reused id is kept as ``id|anchor``."""
    return key.split(EARLIER, 1)[0]


def regroup(states: list) -> list[State]:
    """The calls of one call id from its partial states: in the order of their anchors, each
    joins the latest call it is :func:`same_call` with, or starts a call. Order-free: states
    of one anchor are taken in a fixed order, not as they came."""
    out: list[State] = []
    for st in sorted(map(tuple, states), key=lambda s: (anchor(s), s)):
        for i in range(len(out) - 1, -1, -1):
            if same_call(out[i], st):
                out[i] = join(out[i], st)
                break
        else:
            out.append(st)
    return out


def named(cid: bytes, calls: list[State]) -> list[tuple[bytes, State]]:
    """Keys for the calls of one id (in anchor order): the latest is ``cid``, the earlier ``cid|anchor``."""
    return [(cid if i == len(calls) - 1 else cid + b"|%d" % anchor(st), st) for i, st in enumerate(calls)]


def merge_states(calls: dict, items) -> None:
    """Join (key, state) pairs into one day's ``calls`` in place, by call id under :func:`same_call`.

    Order-free: the states of an id that comes more than once (among ``items``, or as keys
    ``id|anchor``, or a state that is another call than the one in ``calls``) are regrouped
    together with the ones in ``calls`` (:func:`regroup`, in anchor order). Joining them as
    they came would decide by the order of the spool, which depends on block bounds. The
    common case (a new id, or one call seen again) is a dict lookup."""
    earlier: dict[bytes, list[bytes]] = {}  # call id -> its keys id|anchor in ``calls``
    for k in calls:
        if EARLIER in k:
            earlier.setdefault(base_id(k), []).append(k)
    once: dict[bytes, State] = {}
    pending: dict[bytes, list] = {}
    for key, st in items:
        if EARLIER in key:
            key = base_id(key)
        elif key not in pending and key not in once:
            once[key] = st
            continue
        if key in once:
            pending[key] = [once.pop(key)]
        pending.setdefault(key, []).append(st)
    for key, st in once.items():
        if key not in earlier:
            old = calls.get(key)
            if old is None:
                calls[key] = st
                continue
            if same_call(old, st):
                calls[key] = join(old, st)
                continue
        pending[key] = [st]
    for cid, states in pending.items():
        states += [calls.pop(k) for k in [*earlier.get(cid, ()), cid] if k in calls]
        if len(states) == 2 and same_call(*states):  # (the common case, as regroup would: one call)
            calls[cid] = join(*states)
        else:
            calls.update(named(cid, regroup(states)))


def outcome(state: State) -> tuple[int, int, int]:
    """(outcome code, its time, its wait): CONNECT if the call reached an agent, else its
    deciding exit; (0, -1, -1) while it has neither."""
    if state[1] >= 0:
        return CONNECT, state[1], state[2]
    if state[3] >= 0 and state[4] != COMPLETE:
        return state[4], state[3], state[5]
    return 0, -1, -1


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


def count_calls(states: "Iterable[State] | np.ndarray", formulas: FormulaSettings, queue_log: QueueLogSettings,
                watermark: int) -> DayCount:
    """Counters of one day's calls under the formula settings, at the log's ``watermark``.

    A call counts once it has an ENTERQUEUE and an outcome, or once the log has gone on
    ``unresolved_after_hours`` past its ENTERQUEUE without one (unresolved: offered and
    not answered when ``unresolved_offered``). A call without ENTERQUEUE never counts.
    ``states``: the states, or their numbers as an int64 array of rows of WIDTH
    (:func:`state_array`); counted as column operations.
    """
    a = states if isinstance(states, np.ndarray) else np.array(list(states), dtype=np.int64).reshape(-1, WIDTH)
    offered_exits = [code for code, name in OUTCOME_NAMES.items() if name in formulas.offered_exits]
    # "Within N seconds" means a wait of at most N seconds, for both thresholds
    # (docs/kpi-definitions.md section 1). -1: no short abandons when hang-ups are not offered.
    short_limit = formulas.short_abandon_seconds if ABANDON in offered_exits else -1
    unresolved_before = watermark - round(queue_log.unresolved_after_hours * 3600)
    enter, c_at, c_wait, x_at, x_code, x_wait = (a[:, i] for i in range(6))
    entered = enter != NO_TIME
    answered = entered & (c_at >= 0)
    # (COMPLETE without its CONNECT: open until joined)
    exited = entered & ~answered & (x_at >= 0) & (x_code != COMPLETE)
    offered_exit = exited & np.isin(x_code, offered_exits)
    short = offered_exit & (x_code == ABANDON) & (x_wait >= 0) & (x_wait <= short_limit)
    waiting = entered & ~answered & ~exited
    unresolved = waiting & (enter <= unresolved_before)
    still_open = waiting & ~unresolved
    out = DayCount({})
    n_answered = int(answered.sum())
    out.entered = int(entered.sum())
    out.orphans = len(a) - out.entered
    out.unresolved = int(unresolved.sum())
    out.open = int(still_open.sum())
    out.open_since = int(enter[still_open].min()) if out.open else None
    offered = int(offered_exit.sum()) + (out.unresolved if queue_log.unresolved_offered else 0)
    out.counters = {
        "calls_offered": offered + n_answered,
        "calls_answered": n_answered,
        "calls_abandoned_short": int(short.sum()),
        "answer_wait_seconds_sum": float(int(c_wait[answered].sum())),
        "calls_answered_within_15s": int((answered & (c_wait <= formulas.answer_within_seconds)).sum()),
    }
    return out


def orphan_examples(ids: list[bytes], numbers: np.ndarray, k: int = 5) -> list[str]:
    """The ids (as a note shows them) of the first ``k`` states without an ENTERQUEUE, of
    ``ids`` and their ``numbers`` (rows of WIDTH, in the same order)."""
    found = np.flatnonzero(numbers[:, 0] == NO_TIME)[:k].tolist()
    return [base_id(ids[i]).decode("utf-8", "backslashreplace") for i in found]


def state_array(calls: dict[bytes, State]) -> np.ndarray:
    """The numbers of ``calls`` (in the dict's order) as an int64 array of rows of WIDTH."""
    return np.fromiter(chain.from_iterable(calls.values()), np.int64, WIDTH * len(calls)).reshape(-1, WIDTH)


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
