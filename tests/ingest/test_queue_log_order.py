"""The store step joins the partial states of a reused call id the same whatever order they
come in: the spool's order depends on where the blocks were cut, the memory horizon and the
parts, none of which may change a counter.

Found by a review: a log that reuses a call id while an earlier call of it is still open gave
1 answered call of 1 offered with 4 KB blocks and 1 of 2 with 1 MB blocks.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil

import pytest
from hypothesis import given, settings as hyp_settings, strategies as st

from hotline_kpi.ingest.queue_log.calls import NO_TIME, merge_states, named, regroup
from hotline_kpi.settings import QueueLogSettings
from hotline_kpi.store.db import make_engine
from tests.ingest.qlog import DAY, T0, counters, ev, load, write
from tests.ingest.test_queue_log_columnar import _one_part

# --- the unit: merge_states and regroup are order-free ------------------------------------------

_T = 1_551_398_400


@st.composite
def _state(draw):
    enter = draw(st.one_of(st.just(NO_TIME), st.integers(0, 30_000)))
    seen = draw(st.integers(0, 30_000)) if enter == NO_TIME else enter
    connect = draw(st.one_of(st.just(-1), st.integers(seen, seen + 400)))
    exit_at = draw(st.one_of(st.just(-1), st.integers(seen, seen + 400)))
    code = draw(st.integers(2, 8)) if exit_at >= 0 else 0
    wait = draw(st.integers(-1, 400)) if exit_at >= 0 else -1
    return (_T + enter if enter != NO_TIME else NO_TIME, _T + connect if connect >= 0 else -1,
            5 if connect >= 0 else 0, _T + exit_at if exit_at >= 0 else -1, code, wait, _T + seen)


_items = st.lists(st.tuples(st.sampled_from([b"a", b"b", b"1551398400.7"]), _state()), max_size=9)


def _keyed(items, rng):
    """The items with some keys of an earlier call ``id~anchor`` (as the scan names them)."""
    out = []
    for key, state in items:
        if rng.random() < 0.3:
            key = named(key, [state, state])[0][0]
        out.append((key, state))
    return out


@hyp_settings(max_examples=400, deadline=None)
@given(stored=_items, items=_items, seed=st.integers(0, 1 << 30))
def test_merge_states_gives_the_same_calls_in_any_order(stored, items, seed):
    rng = random.Random(seed)
    base: dict = {}
    merge_states(base, _keyed(stored, random.Random(seed + 1)))
    items = _keyed(items, rng)
    first = dict(base)
    merge_states(first, items)
    shuffled = items[:]
    rng.shuffle(shuffled)
    second = dict(base)
    merge_states(second, shuffled)
    assert sorted(first.items()) == sorted(second.items())


@hyp_settings(max_examples=300, deadline=None)
@given(states=st.lists(_state(), max_size=8), seed=st.integers(0, 1 << 30))
def test_regroup_gives_the_same_calls_in_any_order(states, seed):
    shuffled = states[:]
    random.Random(seed).shuffle(shuffled)
    assert regroup(states) == regroup(shuffled)


def test_the_case_the_review_found():
    # X entered at t0 and was still open; at t1 an ENTERQUEUE and an EXITWITHTIMEOUT (the open
    # call's exit, within a day); at t1+61 X reused, answered after 5 s. As the scan spooled them
    # with the earlier call read out of memory first:
    t0, t1 = _T, _T + 41_037
    items = [(b"X", (t0, -1, 0, -1, 0, -1, t0)),
             (b"X", (t1 + 61, t1 + 66, 5, -1, 0, -1, t1 + 61)),
             named(b"X", [(t1, -1, 0, t1, 3, 0, t1), (0,) * 7])[0]]
    calls: dict = {}
    merge_states(calls, items)
    assert sorted(calls.values()) == [(t0, -1, 0, t1, 3, 0, t0), (t1 + 61, t1 + 66, 5, -1, 0, -1, t1 + 61)]


# --- end to end: the block size changes no counter ------------------------------------------------


def _filler(until: int, skip: list[tuple[int, int]]) -> list[str]:
    """Unique calls every minute up to ``until`` (outside the ``skip`` spans), each abandoned
    after 3 s: they make a log of many 4 KB blocks and hours, so the scan reads older calls out
    of memory (6 hours of log after their first line)."""
    lines = []
    for i in range(1, until // 60):
        t = i * 60
        if not any(lo < t <= hi for lo, hi in skip):
            lines += [ev(t, f"f{i}", "ENTERQUEUE", "", "138", 1), ev(t + 3, f"f{i}", "ABANDON", 1, 1, 3)]
    return lines


def _reused_open_call_log() -> list[str]:
    """X enters and stays open; at t1 (11 hours on) an ENTERQUEUE of X and its exit; X reused at
    t1 + 61 and answered after 5 s."""
    t1 = 41_037
    lines = [ev(0, "X", "ENTERQUEUE", "", "138", 1), *_filler(43_200, [(t1 - 60, t1 + 120)]),
             ev(t1, "X", "ENTERQUEUE", "", "138", 1), ev(t1, "X", "EXITWITHTIMEOUT", 1, 1, 0),
             ev(t1 + 61, "X", "ENTERQUEUE", "", "138", 1), ev(t1 + 66, "X", "CONNECT", 5, "x", 1),
             ev(t1 + 126, "X", "COMPLETECALLER", 5, 60, 1)]
    return sorted(lines, key=lambda line: int(line.split("|")[0]))


def _an_open_call_judged_whole_log() -> list[str]:
    """A call whose exit was lost (a), the next call of its id (c) answered a day later after a
    queue overflow at d, and the id reused at e: more than a day after c entered, less than a
    day after d. Read in one block, e is a new call because c (its whole) entered more than a
    day before; with the old memory horizon c had left memory and e joined d's lines."""
    a, b, c = 0, 30_000, 34_000
    d, e = c + 80_000, c + 90_000
    x = [ev(a, "X", "ENTERQUEUE", "", "138", 1),
         ev(b, "X", "ENTERQUEUE", "", "138", 1), ev(b, "X", "EXITWITHKEY", 3, 1, 1, 0),
         ev(c, "X", "ENTERQUEUE", "", "138", 1),
         ev(d, "X", "ENTERQUEUE", "", "138", 1), ev(d + 400, "X", "EXITWITHTIMEOUT", 1, 1, 400),
         ev(d + 430, "X", "ENTERQUEUE", "", "138", 1), ev(d + 435, "X", "CONNECT", 5, "x", 1),
         ev(e, "X", "ENTERQUEUE", "", "138", 1), ev(e + 5, "X", "CONNECT", 5, "y", 1),
         ev(e + 65, "X", "COMPLETECALLER", 5, 60, 1)]
    skip = [(t - 120, t + 500) for t in (a, b, c, d, e)]
    return sorted(x + _filler(e + 3_600, skip), key=lambda line: int(line.split("|")[0]))


def _load_with_blocks(tmp_path, sqlite_template, settings, catalogues, clock, lines, vectorised, chunk):
    db = tmp_path / f"{chunk}.db"
    shutil.copy(sqlite_template, db)
    engine = make_engine(f"sqlite:///{db}")
    mine = settings.model_copy(update={
        "var_dir": tmp_path / f"var-{chunk}",
        "queue_log": QueueLogSettings(vectorised=vectorised, read_chunk_bytes=chunk, **_one_part(vectorised))})
    (tmp_path / f"q{chunk}").mkdir()
    load(engine, write(tmp_path / f"q{chunk}" / "queue_log", lines), mine, catalogues, clock)
    found = counters(engine)
    engine.dispose()
    return found


def _filled(lines: list[str], day) -> int:
    return sum(1 for line in lines if "|f" in line and "ENTERQUEUE" in line and _day_of(line) == day)


def _day_of(line: str):
    from tests.common import TZ

    return dt.datetime.fromtimestamp(int(line.split("|")[0]), TZ).date()


@pytest.mark.parametrize("vectorised", [False, True], ids=["line scan", "vectorised"])
def test_the_block_size_changes_no_counter(tmp_path, sqlite_template, settings, catalogues, clock, vectorised):
    lines = _reused_open_call_log()
    found = {chunk: _load_with_blocks(tmp_path, sqlite_template, settings, catalogues, clock, lines, vectorised,
                                      chunk)[DAY] for chunk in (4 << 10, 1 << 20)}
    # the first X: offered, timed out (not answered); the second: answered after 5 s
    assert found[4 << 10]["calls_offered"] == _filled(lines, DAY) + 2
    assert found[4 << 10]["calls_answered"] == 1
    assert found[4 << 10]["answer_wait_seconds_sum"] == 5
    assert found[4 << 10] == found[1 << 20]


@pytest.mark.parametrize("vectorised", [False, True], ids=["line scan", "vectorised"])
def test_an_open_call_stays_in_memory_until_a_day_has_passed(tmp_path, sqlite_template, settings, catalogues,
                                                              clock, vectorised):
    lines = _an_open_call_judged_whole_log()
    found = {chunk: _load_with_blocks(tmp_path, sqlite_template, settings, catalogues, clock, lines, vectorised,
                                      chunk) for chunk in (4 << 10, 1 << 20)}
    day2 = DAY + dt.timedelta(days=1)
    small = found[4 << 10]
    # day 1: a (offered, exited at b) and c (answered at d + 435, after 5 s); day 2: e (answered after 5 s)
    assert (small[DAY]["calls_offered"], small[DAY]["calls_answered"]) == (_filled(lines, DAY) + 2, 1)
    assert (small[day2]["calls_offered"], small[day2]["calls_answered"]) == (_filled(lines, day2) + 1, 1)
    assert small[DAY]["answer_wait_seconds_sum"] == small[day2]["answer_wait_seconds_sum"] == 5
    assert small == found[1 << 20]


# --- a call id holding the old key separator ------------------------------------------------------


@pytest.mark.parametrize("vectorised", [False, True], ids=["line scan", "vectorised"])
def test_call_ids_with_a_tilde_are_calls_of_their_own(tmp_path, sqlite_template, settings, catalogues, clock,
                                                       vectorised):
    """Until 2026-12 the key of an earlier call of a reused id was ``id~anchor``, so the ids
    ``a~1`` and ``a~2`` were read as two states of one call ``a`` and joined: 1 call offered of 3."""
    lines = [ev(0, "a~1", "ENTERQUEUE", "", "138", 1), ev(10, "a~2", "ENTERQUEUE", "", "138", 1),
             ev(12, "a~1", "CONNECT", 12, "x", 1, agent="SIP/1"),
             ev(20, "a", "ENTERQUEUE", "", "138", 1),
             ev(30, "a~2", "CONNECT", 20, "x", 1, agent="SIP/2"), ev(35, "a", "ABANDON", 1, 1, 15),
             ev(90, "a~1", "COMPLETECALLER", 12, 78, 1, agent="SIP/1"),
             ev(95, "a~2", "COMPLETECALLER", 20, 65, 1, agent="SIP/2")]
    shutil.copy(sqlite_template, tmp_path / "store.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    mine = settings.model_copy(update={"queue_log": QueueLogSettings(vectorised=vectorised, **_one_part(vectorised))})
    load(engine, write(tmp_path / "queue_log", lines), mine, catalogues, clock)
    got = counters(engine)[DAY]
    engine.dispose()
    assert (got["calls_offered"], got["calls_answered"], got["answer_wait_seconds_sum"]) == (3, 2, 32)


def _an_answered_call_judged_whole_log() -> list[str]:
    """A call answered after an overflow and never completed (a transfer writes no COMPLETE), so
    it may go on: an ENTERQUEUE of its id 18 hours later joins it (the rule of one call), a
    later one more than a day after its ENTERQUEUE is a new call (B), and B's id reused again (C)."""
    a = 3_600
    x = [ev(a, "X", "ENTERQUEUE", "", "138", 1), ev(a + 3_600, "X", "EXITWITHTIMEOUT", 1, 1, 3_600),
         ev(a + 3_601, "X", "ENTERQUEUE", "", "138", 1), ev(a + 3_606, "X", "CONNECT", 5, "x", 1),
         ev(a + 66_034, "X", "ENTERQUEUE", "", "138", 1), ev(a + 66_434, "X", "EXITWITHTIMEOUT", 1, 1, 400),
         ev(a + 66_464, "X", "ENTERQUEUE", "", "138", 1), ev(a + 66_469, "X", "CONNECT", 5, "x", 1),
         ev(a + 97_024, "X", "ENTERQUEUE", "", "138", 1), ev(a + 97_424, "X", "EXITEMPTY", 1, 1),
         ev(a + 151_149, "X", "ENTERQUEUE", "", "138", 1), ev(a + 151_154, "X", "ABANDON", 1, 1, 5)]
    skip = [(int(line.split("|")[0]) - T0 - 120, int(line.split("|")[0]) - T0 + 120) for line in x]
    return sorted(x + _filler(a + 155_000, skip), key=lambda line: int(line.split("|")[0]))


@pytest.mark.parametrize("vectorised", [False, True], ids=["line scan", "vectorised"])
def test_an_answered_call_not_completed_stays_in_memory_until_a_day_has_passed(
        tmp_path, sqlite_template, settings, catalogues, clock, vectorised):
    lines = _an_answered_call_judged_whole_log()
    found = {chunk: _load_with_blocks(tmp_path, sqlite_template, settings, catalogues, clock, lines, vectorised,
                                      chunk) for chunk in (4 << 10, 1 << 20)}
    small, one = found[4 << 10], dt.timedelta(days=1)
    got = {day: (small[day]["calls_offered"] - _filled(lines, day), small[day]["calls_answered"])
           for day in (DAY, DAY + one, DAY + 2 * one)}
    # X answered on day 1 (with the ENTERQUEUE 18 h later); B on day 2 left (EXITEMPTY); C abandoned on day 3
    assert got == {DAY: (1, 1), DAY + one: (1, 0), DAY + 2 * one: (1, 0)}
    assert small == found[1 << 20]


@pytest.mark.parametrize("vectorised", [False, True], ids=["line scan", "vectorised"])
def test_a_reuse_a_day_after_an_answered_call_whose_complete_was_lost(tmp_path, sqlite_template, settings,
                                                                      catalogues, clock, vectorised):
    """(From the review of the first form of the rule, which kept only calls with no outcome.)"""
    h = 3600
    x = [ev(0, "X", "ENTERQUEUE", "", "138", 1), ev(5, "X", "CONNECT", 5, "x", 1),  # answered, COMPLETE lost
         ev(10 * h, "X", "ENTERQUEUE", "", "138", 1),  # not ended: joins that call
         ev(25 * h, "X", "ENTERQUEUE", "", "138", 1), ev(25 * h + 9, "X", "ABANDON", 1, 1, 9)]  # a day on: new call
    lines = sorted(x + _filler(26 * h, [(-120, 120), (10 * h - 120, 10 * h + 120), (25 * h - 120, 25 * h + 120)]),
                   key=lambda line: int(line.split("|")[0]))
    found = {chunk: _load_with_blocks(tmp_path, sqlite_template, settings, catalogues, clock, lines, vectorised,
                                      chunk) for chunk in (4 << 10, 1 << 20)}
    day2 = DAY + dt.timedelta(days=1)
    assert found[4 << 10][day2]["calls_offered"] == _filled(lines, day2) + 1  # the X of 25 h
    assert found[4 << 10][DAY]["calls_answered"] == 1
    assert found[4 << 10] == found[1 << 20]


# --- a log resumed across the change of key ------------------------------------------------------


def _as_stored_before_2026_12(engine) -> None:
    """The stored days as the code before 2026-12 left them: a call id with a ``~`` regrouped
    under the part before it (its ``base_id`` then), blob form HKQC3."""
    import zlib

    from sqlalchemy import select

    from hotline_kpi.ingest.queue_log.blob import decode_calls, decompress, encode_calls
    from hotline_kpi.store.db import write_session
    from hotline_kpi.store.models.data import QueueCallDayRow

    with write_session(engine) as s:
        for row in s.scalars(select(QueueCallDayRow)):
            calls = {k.split(b"~", 1)[0]: v for k, v in decode_calls(row.calls).items()}
            row.calls = zlib.compress(b"HKQC3" + decompress(encode_calls(calls))[5:])


def test_a_log_with_a_tilde_id_resumed_across_the_change_of_key(tmp_path, sqlite_template, settings, catalogues,
                                                                   clock):
    """(From the review.) The first part was loaded before the change, the grown log after it:
    the stored ``a`` is ``a~7``'s call, its CONNECT joins it (before: an orphan, 1 offered, 0 answered)."""
    part1 = [ev(0, "a~7", "ENTERQUEUE", "", "138", 1), ev(5, "b", "ENTERQUEUE", "", "138", 1),
             ev(8, "b", "ABANDON", 1, 1, 3)]
    part2 = [ev(20, "a~7", "CONNECT", 20, "x", 1, agent="SIP/1"),
             ev(80, "a~7", "COMPLETECALLER", 20, 60, 1, agent="SIP/1"),
             ev(90, "c~1", "ENTERQUEUE", "", "138", 1), ev(95, "c~1", "ABANDON", 1, 1, 5)]
    shutil.copy(sqlite_template, tmp_path / "store.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    log = tmp_path / "q" / "queue_log"
    log.parent.mkdir()
    load(engine, write(log, part1), settings, catalogues, clock)
    _as_stored_before_2026_12(engine)
    load(engine, write(log, part1 + part2), settings, catalogues, clock)  # the log grew: resumed
    got = counters(engine)[DAY]
    engine.dispose()
    assert (got["calls_offered"], got["calls_answered"], got["answer_wait_seconds_sum"]) == (3, 1, 20)


def test_legacy_keys_go_back_only_when_one_id_claims_them():
    from hotline_kpi.ingest.queue_log.blob import rekey_legacy

    st1, st2 = (_T, -1, 0, -1, 0, -1, _T), (_T + 900, -1, 0, -1, 0, -1, _T + 900)
    stored = {b"a|%d" % _T: st1, b"a": st2, b"b": st1}
    rekey_legacy(stored, [b"a~7", b"b~1", b"b~2", b"z"])
    assert stored == {b"a~7|%d" % _T: st1, b"a~7": st2, b"b": st1}  # b: two ids claim it, left
    stored = {b"a": st1}
    rekey_legacy(stored, [b"a~7", b"a"])  # a itself comes again: left
    assert stored == {b"a": st1}


def _overflow(gap: int) -> list[str]:
    """A call times out in queue A after 100 s and enters queue B ``gap`` s later (Asterisk
    writes it in the same second, 0), answered there after 100 s, completed a minute on."""
    def line(t, event, *data, queue, agent="NONE"):
        return ev(t, "ov", event, *data, queue=queue, agent=agent)

    return [line(0, "ENTERQUEUE", "", "138", 1, queue="12345A"), line(100, "EXITWITHTIMEOUT", 1, 1, 100,
                                                                      queue="12345A"),
            line(100 + gap, "ENTERQUEUE", "", "138", 1, queue="12345B"),
            line(200, "CONNECT", 100 - gap, "x", 2, queue="12345B", agent="SIP/1"),
            line(260, "COMPLETECALLER", 100 - gap, 60, 1, queue="12345B", agent="SIP/1")]


@pytest.mark.parametrize("vectorised", [False, True], ids=["line scan", "vectorised"])
@pytest.mark.parametrize("gap", [0, 1], ids=["the same second", "a second later"])
def test_an_overflow_answered_in_the_next_queue_is_one_answered_call_however_the_log_is_split(
        tmp_path, sqlite_template, settings, catalogues, clock, vectorised, gap):
    """Guards the overflow against a reuse rule that splits on lines after a call's exit (one
    tried in 28d3b41 and reverted: it lost this answer read whole, kept it read in pieces):
    read whole, in small blocks, and as rotated pieces cut anywhere, it is one call, answered
    after 100 s in queue B (the wait counted is queue B's, as Asterisk writes it)."""
    lines = _overflow(gap)
    whole = {chunk: _load_with_blocks(tmp_path, sqlite_template, settings, catalogues, clock, lines, vectorised,
                                      chunk)[DAY] for chunk in (4 << 10, 1 << 20)}
    assert whole[4 << 10] == whole[1 << 20]
    day = whole[1 << 20]
    assert (day["calls_offered"], day["calls_answered"], day["answer_wait_seconds_sum"]) == (1, 1, 100 - gap)
    for cuts in ([2], [3], [2, 3]):
        bounds = [0, *cuts, len(lines)]
        db = tmp_path / f"pieces-{cuts}.db"
        shutil.copy(sqlite_template, db)
        engine = make_engine(f"sqlite:///{db}")
        mine = settings.model_copy(update={"var_dir": tmp_path / f"var-{cuts}", "queue_log": QueueLogSettings(
            vectorised=vectorised, **_one_part(vectorised))})
        folder = tmp_path / f"pieces-{cuts}"
        folder.mkdir()
        for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
            load(engine, write(folder / f"queue_log.{len(bounds) - 2 - i}", lines[a:b]), mine, catalogues, clock)
        assert counters(engine)[DAY] == day, cuts
        engine.dispose()
