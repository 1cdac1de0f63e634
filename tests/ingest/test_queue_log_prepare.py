"""Days made ready for the store step while a big queue_log is still read (``prepare.py``):
the waiting thread does the store step's work on the days the parts have gone past. A day so
prepared is used only while it still holds: the store ends with the same counters and the
same stored calls as when nothing is prepared, whatever came late."""

from __future__ import annotations

import datetime as dt
import shutil
import threading

import pytest
from sqlalchemy import select

from hotline_kpi.demo import generate_year
from hotline_kpi.demo_sources import queue_log_days
from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.ingest.queue_log import parallel
from hotline_kpi.ingest.queue_log.blob import decode_calls
from hotline_kpi.ingest.queue_log.calls import LocalDays
from hotline_kpi.ingest.queue_log.prepare import DayPreparer
from hotline_kpi.ingest.queue_log.spool import Spool
from hotline_kpi.settings import QueueLogSettings
from hotline_kpi.store.db import make_engine, read_session
from hotline_kpi.store.models import QueueCallDayRow
from tests.common import TZ
from tests.ingest.qlog import counters, ev, load

WAIT = 30  # seconds a part waits for the preparer (a guard against a hang, not a timing)
H, DAY = 3600, 86400
#: The demo plan's 1 March 2019 in Shanghai: ``ev`` times are seconds after 08:00 of it.
FIRST = dt.date(2019, 3, 1)


def _log(path, late: bool) -> None:
    """Twelve days of the demo plan (a sample), with: a call over the first midnight whose
    CONNECT is written a day late (its states are spooled under the first and the second day,
    to be joined), an id reused the next day, a call without ENTERQUEUE, one that never exits;
    and (``late``) lines of the second day written once the parts are far past it: one in the
    first part, one at the end of the file (the second part's)."""
    plan = generate_year(2019, 12345)[59:71]
    lines = [ln for _, _, data in queue_log_days(plan, seed=5, scale=0.02) for ln in data.decode().splitlines()]
    extra = [
        ev(5 * DAY + 15 * H, "re", "ENTERQUEUE", "", "138", 1), ev(5 * DAY + 15 * H + 4, "re", "ABANDON", 1, 1, 4),
        ev(6 * DAY + H, "re", "ENTERQUEUE", "", "138", 1), ev(6 * DAY + H + 9, "re", "CONNECT", 9, "x", 1),
        ev(7 * DAY + 3 * H, "orph", "CONNECT", 4, "y", 1), ev(7 * DAY + 3 * H + 60, "orph", "COMPLETEAGENT", 4, 56, 1),
        ev(8 * DAY + 2 * H, "lost", "ENTERQUEUE", "", "138", 1),
    ]
    lines = sorted(lines + extra + [ev(16 * H - 10, "mid", "ENTERQUEUE", "", "138", 1)],
                   key=lambda ln: int(ln.split("|", 1)[0]))
    two_days_on = next(i for i, ln in enumerate(lines) if int(ln.split("|", 1)[0]) > int(ev(2 * DAY, "", "").split("|")[0]))
    lines.insert(two_days_on, ev(16 * H + 10, "mid", "CONNECT", 20, "m", 1))
    if late:
        # An ENTERQUEUE of the second day (Shanghai) half-way through the file, its CONNECT at the end.
        lines.insert(len(lines) // 2 - 50, ev(DAY + 2 * H, "late", "ENTERQUEUE", "", "138", 1))
        lines.append(ev(DAY + 2 * H + 7, "late", "CONNECT", 7, "x", 1))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _settings(settings, **queue_log):
    return settings.model_copy(update={"queue_log": QueueLogSettings(
        read_chunk_bytes=8192, spool_every_calls=100, parallel_min_bytes=1, parallel_part_min_bytes=1, **queue_log)})


def _stored(engine) -> dict[dt.date, dict]:
    with read_session(engine) as s:
        return {r.day: (decode_calls(r.calls), r.entered, r.orphans, r.open_since)
                for r in s.scalars(select(QueueCallDayRow))}


@pytest.fixture
def other_engine(sqlite_template, tmp_path):
    """A second empty store (SQLite), for the load without anything prepared."""
    path = tmp_path / "baseline.db"
    shutil.copy(sqlite_template, path)
    eng = make_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()


def _interleaved(monkeypatch) -> list[dt.date]:
    """Each part waits after every block until the preparer has looked at the spools twice
    (the first look may have begun before the block was spooled): the days are prepared while
    the parts read, however the machine schedules the threads. Returns the days the store
    step takes as prepared (filled in as it runs)."""
    monkeypatch.setattr(parallel, "_workers", lambda size, settings: 2)
    looked = threading.Condition()
    polls = [0]
    real_poll, real_ready, real_blocks = DayPreparer.poll, DayPreparer.ready, parallel.pipe_blocks

    def poll(self, spools):
        real_poll(self, spools)
        with looked:
            polls[0] += 1
            looked.notify_all()

    def pipe_blocks(f, end, done, chunk):
        for block in real_blocks(f, end, done, chunk):
            yield block
            with looked:
                seen = polls[0]
                assert looked.wait_for(lambda: polls[0] >= seen + 2, WAIT)

    used: list[dt.date] = []

    def ready(self, spool, day):
        found = real_ready(self, spool, day)
        if found is not None:
            used.append(day)
        return found

    monkeypatch.setattr(DayPreparer, "poll", poll)
    monkeypatch.setattr(DayPreparer, "ready", ready)
    monkeypatch.setattr(parallel, "pipe_blocks", pipe_blocks)
    return used


@pytest.mark.parametrize("late", [False, True], ids=["in order", "late lines"])
@pytest.mark.parametrize("hours", [4.0, 24.0], ids=["unresolved after 4 h", "after 24 h"])
def test_days_prepared_while_the_file_is_read_store_what_the_store_step_would(
        tmp_path, engine, other_engine, settings, catalogues, clock, monkeypatch, late, hours):
    path = tmp_path / "queue_log"
    _log(path, late)
    configured = _settings(settings, unresolved_after_hours=hours)

    with monkeypatch.context() as m:  # the store step does every day itself
        m.setattr(parallel, "_workers", lambda size, settings: 2)
        m.setattr(DayPreparer, "poll", lambda self, spools: None)
        baseline = load(other_engine, path, configured, catalogues, clock)
    used = _interleaved(monkeypatch)
    outcome = load(engine, path, configured, catalogues, clock)

    assert outcome.result.status == baseline.result.status == "loaded"
    assert outcome.notes == baseline.notes
    assert counters(engine) == counters(other_engine)
    assert _stored(engine) == _stored(other_engine)
    days = sorted(counters(engine))
    assert days[0] == FIRST and len(days) == 12
    first, second = FIRST, FIRST + dt.timedelta(days=1)
    calls = _stored(engine)
    assert calls[first][0][b"mid"][1] == calls[first][0][b"mid"][0] + 20  # joined: answered after 20 s
    assert b"mid" not in calls[second][0]
    # Days stored as prepared: those each part had gone three days past, but, with late lines,
    # the second (a segment came after it was prepared, and another in the other part).
    assert first in used and (second in used) is not late
    assert {FIRST + dt.timedelta(days=d) for d in (7, 8)} <= set(used)  # (in the second part)
    assert any("orph" in n for n in outcome.notes)  # on the 8th day
    assert any("unresolved" in n for n in outcome.notes)  # "lost", on the 9th


def _write(spool: Spool, day: dt.date, ids: list[bytes], enter: int) -> None:
    numbers = []
    for i, _ in enumerate(ids):
        numbers += [enter + i, enter + i + 5, 5, -1, 0, -1, enter + i]
    spool.write(day, ids, numbers)


def _day_start(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(0), tzinfo=TZ).timestamp())


def test_a_day_is_ready_only_with_the_segments_it_was_prepared_from():
    """A segment written for a day after it was prepared (a late line), or the day in another
    part's spool too: the day is not ready; its neighbours still are."""
    days = [FIRST + dt.timedelta(days=i) for i in range(8)]
    parts = [Spool(shared=True), Spool(shared=True)]
    preparer = DayPreparer(FormulaSettings(), QueueLogSettings(), LocalDays(TZ))
    main = Spool()
    try:
        for n, day in enumerate(days):
            _write(parts[0], day, [b"d%d-%d" % (n, i) for i in range(3)], _day_start(day) + 9 * H)
        _write(parts[1], days[7], [b"z"], _day_start(days[7]) + H)
        preparer.poll(parts)
        assert sorted(d for d, p in preparer.days.items() if p is not None) == days[:5]  # three days behind the latest
        _write(parts[0], days[1], [b"late"], _day_start(days[1]) + 10 * H)  # late: after it was prepared
        _write(parts[1], days[2], [b"other"], _day_start(days[2]) + 11 * H)  # the same day in the other part
        preparer.finish()  # (the parts are read, as _Workers says before the store step)
        for part in parts:
            main.adopt(*part.detach())
        main.prepared = preparer
        ready = [d for d in days if preparer.ready(main, d) is not None]
        assert ready == [days[0], days[3], days[4]]
        day = preparer.ready(main, days[0])
        assert len(day) == 3 and day.count.counters["calls_answered"] == 3 and not day.count.open
        assert decode_calls(preparer.blob(day)) == {b"d0-%d" % i: (
            _day_start(days[0]) + 9 * H + i, _day_start(days[0]) + 9 * H + i + 5, 5, -1, 0, -1,
            _day_start(days[0]) + 9 * H + i) for i in range(3)}
        assert day.after is None and preparer.ready(main, days[4]).after is preparer.days[days[3]]
        assert not preparer.days[days[4]].joins_after  # no id under both: nothing to join
        # (an id under both days is found: the 4th and 5th day of the end-to-end test above)
    finally:
        main.close()
        for part in parts:
            part.close()


def test_an_id_twice_in_a_day_or_a_reused_key_is_left_to_the_store_step():
    parts = [Spool(shared=True)]
    preparer = DayPreparer(FormulaSettings(), QueueLogSettings(), LocalDays(TZ))
    try:
        start = _day_start(FIRST)
        _write(parts[0], FIRST, [b"x", b"x"], start + H)
        _write(parts[0], FIRST + dt.timedelta(days=1), [b"y", b"y|%d" % (start + DAY)], start + DAY + H)
        _write(parts[0], FIRST + dt.timedelta(days=2), [b"y"], start + 2 * DAY + H)
        _write(parts[0], FIRST + dt.timedelta(days=5), [b"w"], start + 5 * DAY + H)
        preparer.poll(parts)
        assert preparer.days[FIRST] is None and preparer.days[FIRST + dt.timedelta(days=1)] is None
        third = preparer.days[FIRST + dt.timedelta(days=2)]
        assert third is not None and third.after is None  # (the day before was not prepared)
        assert third.count.counters["calls_answered"] == 1
    finally:
        parts[0].close()
        preparer.close()


def test_the_id_hashes_of_equal_ids_are_equal_wherever_they_are():
    """What the preparer decides by hashes is what sets of the ids would decide: an id twice in
    a day, an id under two days. (Ids of one hash would only send a day to the store step.)"""
    import random

    from hotline_kpi.ingest.queue_log.prepare import _Powers, id_hashes

    rng = random.Random(19)
    alphabet = b"0123456789.abc|~\xff\x00 \t"
    powers = _Powers()
    pool = [bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 40))) for _ in range(3000)] + [
        b"1546296511.7970", b"1546296511.797", b"", b"a" * 300_000]
    pool = [p.replace(b"\n", b"") for p in pool]
    for _ in range(30):
        day1 = rng.sample(pool, rng.randrange(1, 400))
        day2 = rng.sample(pool, rng.randrange(1, 400)) + rng.choices(day1, k=rng.randrange(0, 3))
        h1, h2 = (id_hashes(b"\n".join(ids), powers) for ids in (day1, day2))
        assert len(h1) == len(day1) and list(h1) == sorted(h1)
        assert (len(set(h1.tolist())) == len(day1)) == (len(set(day1)) == len(day1))
        assert (len(set(h2.tolist())) == len(day2)) == (len(set(day2)) == len(day2))
        assert bool(set(h1.tolist()) & set(h2.tolist())) == bool(set(day1) & set(day2))
    assert len(powers.up) > 300_000  # (grown for the long id)


def _adversarial(seed: int, days: int = 24, per_day: int = 100) -> list[str]:
    """Days from 28 December 2018 (a year without a catalogue: its days are left out after the
    parse), with calls over midnight, ids reused on a later day and on the same day, orphans,
    calls that never exit, and about one line in 700 written up to five days late."""
    import random

    rng = random.Random(seed)
    start = int(dt.datetime(2018, 12, 28, tzinfo=TZ).timestamp())
    out: list[tuple[int, str]] = []
    used: list[str] = []
    for d in range(days):
        base = start + d * DAY
        for k in range(per_day):
            t = base + rng.randrange(8 * H, 22 * H)
            r = rng.random()
            cid = rng.choice(used) if r < 0.01 and used else used[-1] if r < 0.013 and d == 12 and used else \
                f"{t}.{d}.{k}"
            used.append(cid)
            kind, w = rng.random(), rng.randrange(1, 120)
            if kind < 0.05:
                t = base + DAY - rng.randrange(5, 60)  # over midnight
            if kind < 0.03:  # an orphan
                events = [(t + w, "CONNECT", w, "x", 1), (t + w + 30, "COMPLETEAGENT", w, 30, 1)]
            else:
                o = rng.random()
                events = [(t, "ENTERQUEUE", "", "138", 1)] + (
                    [(t + w, "CONNECT", w, "x", 1), (t + w + 60, "COMPLETECALLER", w, 60, 1)] if o < 0.6 else
                    [(t + w, "ABANDON", 1, 1, w)] if o < 0.85 else [] if o < 0.92 else
                    [(t + w, "EXITWITHTIMEOUT", 1, 1, w)])
            for at, event, *data in events:
                late = rng.randrange(DAY, 5 * DAY) if rng.random() < 0.0015 else 0
                out.append((at + late, "|".join([str(at), cid, "12345", "NONE", event, *map(str, data)])))
    return [line for _, line in sorted(out, key=lambda x: x[0])]


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("loads", [1, 2], ids=["one load", "a growing log in two loads"])
def test_a_messy_log_over_new_year_stores_the_same_prepared_or_not(tmp_path, engine, other_engine, settings,
                                                                   catalogues, clock, monkeypatch, seed, loads):
    """Days prepared while the file is read, against none prepared, on a log over a year
    boundary (the days of 2018 are left out), with late lines and reused ids; whole, or as a
    log that grew between two loads (the second load's days have calls stored already)."""
    lines = _adversarial(seed)
    configured = _settings(settings)
    cut = len(lines) // 2 if loads == 2 else len(lines)
    outcomes = {}
    for name, eng in (("none prepared", other_engine), ("prepared", engine)):
        path = tmp_path / name / "queue_log"
        path.parent.mkdir()
        with monkeypatch.context() as m:
            if name == "prepared":
                used = _interleaved(m)
            else:
                m.setattr(parallel, "_workers", lambda size, settings: 2)
                m.setattr(DayPreparer, "poll", lambda self, spools: None)
            outcomes[name] = []
            for upto in sorted({cut, len(lines)}):
                path.write_text("\n".join(lines[:upto]) + "\n", encoding="utf-8")
                outcomes[name].append(load(eng, path, configured, catalogues, clock))
    assert len(used) >= 5
    # (which orphans a note names as examples follows polars' grouping order, which varies)
    notes = {name: [[n.split(", e.g.")[0] for n in o.notes] for o in found] for name, found in outcomes.items()}
    assert notes["prepared"] == notes["none prepared"]
    assert [o.result.status for o in outcomes["prepared"]] == ["loaded"] * len(outcomes["prepared"])
    assert min(counters(engine)) == dt.date(2019, 1, 1)
    assert counters(engine) == counters(other_engine)
    assert _stored(engine) == _stored(other_engine)
