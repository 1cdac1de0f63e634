"""Counting a day's call states as columns (numpy, :func:`count_calls`) against the per-call
rules written out as a plain loop: the same counters and bookkeeping for any states."""

from __future__ import annotations

from hypothesis import given, settings as hsettings, strategies as st

from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.ingest.queue_log.calls import (
    ABANDON,
    COMPLETE,
    EMPTY,
    KEY,
    NO_TIME,
    OUTCOME_NAMES,
    TIMEOUT,
    count_calls,
    state_array,
)
from hotline_kpi.ingest.queue_log.blob import decode_calls, encode_calls, pack_calls
from hotline_kpi.settings import QueueLogSettings

T0 = 1_551_398_400  # 2019-03-01 08:00 in Shanghai


def _loop(states, formulas: FormulaSettings, queue_log: QueueLogSettings, watermark: int) -> dict:
    """The rules call by call (the scan's earlier per-call loop)."""
    offered_exits = {code for code, name in OUTCOME_NAMES.items() if name in formulas.offered_exits}
    short_limit = formulas.short_abandon_seconds if ABANDON in offered_exits else -1
    before = watermark - round(queue_log.unresolved_after_hours * 3600)
    c = dict(offered=0, answered=0, short=0, fast=0, wait=0, orphans=0, unresolved=0, open=0, since=None)
    for enter, c_at, c_wait, x_at, x_code, x_wait, _ in states:
        if enter == NO_TIME:
            c["orphans"] += 1
        elif c_at >= 0:
            c["answered"] += 1
            c["wait"] += c_wait
            c["fast"] += c_wait <= formulas.answer_within_seconds
        elif x_at >= 0 and x_code != COMPLETE:
            if x_code in offered_exits:
                c["offered"] += 1
                c["short"] += x_code == ABANDON and 0 <= x_wait <= short_limit
        elif enter <= before:
            c["unresolved"] += 1
            c["offered"] += queue_log.unresolved_offered
        else:
            c["open"] += 1
            c["since"] = enter if c["since"] is None else min(c["since"], enter)
    return {"calls_offered": c["offered"] + c["answered"], "calls_answered": c["answered"],
            "calls_abandoned_short": c["short"], "answer_wait_seconds_sum": float(c["wait"]),
            "calls_answered_within_15s": c["fast"], "entered": len(states) - c["orphans"], "orphans": c["orphans"],
            "unresolved": c["unresolved"], "open": c["open"], "open_since": c["since"]}


_state = st.tuples(
    st.one_of(st.just(NO_TIME), st.integers(T0, T0 + 86400)),
    st.one_of(st.just(-1), st.integers(T0, T0 + 90000)), st.integers(0, 120),
    st.one_of(st.just(-1), st.integers(T0, T0 + 90000)), st.sampled_from([0, ABANDON, TIMEOUT, EMPTY, KEY, COMPLETE]),
    st.integers(-1, 120), st.integers(T0, T0 + 86400))


@hsettings(max_examples=200, deadline=None)
@given(states=st.lists(_state, max_size=60), hours=st.sampled_from([1.0, 4.0, 24.0]),
       unresolved_offered=st.booleans(), exits=st.sampled_from([("ABANDON", "EXITWITHTIMEOUT"), ()]),
       wm=st.integers(T0, T0 + 2 * 86400))
def test_counting_as_columns_is_the_per_call_rules(states, hours, unresolved_offered, exits, wm):
    formulas = FormulaSettings(offered_exits=exits) if exits != ("ABANDON", "EXITWITHTIMEOUT") else FormulaSettings()
    queue_log = QueueLogSettings(unresolved_after_hours=hours, unresolved_offered=unresolved_offered)
    got = count_calls(states, formulas, queue_log, wm)
    calls = {f"c{i}".encode(): s for i, s in enumerate(states)}
    from_array = count_calls(state_array(calls), formulas, queue_log, wm)
    want = _loop(states, formulas, queue_log, wm)
    for found in (got, from_array):
        assert {**found.counters, "entered": found.entered, "orphans": found.orphans, "unresolved": found.unresolved,
                "open": found.open, "open_since": found.open_since} == want
        assert all(type(v) is int for k, v in found.counters.items() if k != "answer_wait_seconds_sum")
    # Packed from the array, the stored day decodes to the same states.
    assert decode_calls(encode_calls(calls)) == calls
    assert pack_calls(calls, state_array(calls)) == pack_calls(calls)


def test_connect_counts_before_any_exit():
    states = [(T0, T0 + 20, 20, T0 + 300, COMPLETE, -1, T0), (T0, -1, 0, T0 + 9, ABANDON, 9, T0)]
    found = count_calls(states, FormulaSettings(), QueueLogSettings(), T0 + 400)
    assert found.counters["calls_answered"] == 1 and found.counters["calls_offered"] == 2
