"""The stored form of a day's calls (queue_call_day.calls): the numbers column by column,
narrowed and byte-shuffled (HKQC3), read back exactly whatever they are; days stored in the
earlier form (HKQC2, rows of int64) are still read, and rewritten in the new form when their
day is stored again."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings as hsettings, strategies as st

from hotline_kpi.ingest.queue_log.blob import decode_calls, decompress, encode_calls, pack_arrays, unpack_calls
from hotline_kpi.ingest.queue_log.calls import NO_TIME, WIDTH

T0 = 1_546_272_000  # 2019-01-01 00:00 +08:00

_time = st.integers(T0 - 86400, T0 + 3 * 86400)
_state = st.tuples(
    st.one_of(st.just(NO_TIME), _time), st.one_of(st.just(-1), _time), st.integers(0, 86400),
    st.one_of(st.just(-1), _time), st.integers(0, 8), st.integers(-1, 86400), _time)
#: Numbers no call of ours has: the form falls back to rows of int64 and still reads them back.
_odd = st.tuples(*[st.integers(-(1 << 63), (1 << 63) - 1)] * WIDTH)


@hsettings(max_examples=300, deadline=None)
@given(states=st.lists(st.one_of(_state, _state, _state, _odd), max_size=40))
def test_any_numbers_are_read_back_exactly(states):
    calls = {f"{T0 + i}.{i}".encode(): s for i, s in enumerate(states)}
    assert decode_calls(encode_calls(calls)) == calls


def _v2(calls: dict[bytes, tuple]) -> bytes:
    """A day as the earlier version stored it: magic, counts, ids, rows of int64 LE."""
    joined = b"\n".join(calls)
    rows = np.array(list(calls.values()), dtype="<i8").tobytes()
    return zlib.compress(b"HKQC2" + struct.pack("<II", len(calls), len(joined)) + joined + rows, 1)


def _day(n: int = 11_000) -> dict[bytes, tuple]:
    rng = np.random.default_rng(7)
    seen = np.sort(rng.integers(T0, T0 + 86400, n))
    wait = rng.integers(0, 40, n)
    answered = rng.random(n) < 0.93
    return {f"{int(s)}.{i}".encode(): (int(s), int(s + w) if a else -1, int(w) if a else 0,
                                       int(s + w + 200) if a else int(s + w), 8 if a else 2,
                                       -1 if a else int(w), int(s))
            for i, (s, w, a) in enumerate(zip(seen, wait, answered))}


def test_a_day_stored_in_the_earlier_form_is_read_as_it_was():
    calls = _day(500)
    assert decode_calls(_v2(calls)) == calls
    assert unpack_calls(zlib.decompress(_v2(calls)))[1].dtype == np.int64


def test_a_busy_day_takes_far_fewer_bytes_than_before():
    calls = _day()  # 11,000 calls: a busy day of the year's plan
    new, old = encode_calls(calls), _v2(calls)
    assert decode_calls(new) == calls
    assert len(new) < 0.8 * len(old), (len(new), len(old))
    raw = decompress(new)
    assert raw.startswith(b"HKQC4") and len(raw) < 0.6 * len(zlib.decompress(old))


def test_a_day_is_stored_as_a_zstandard_frame_and_one_stored_with_zlib_is_still_read():
    """Days are compressed with Zstandard since 2026-12 (a third of zlib's time, on the
    ingest's critical path); those stored with zlib before read back the same."""
    calls = _day(2_000)
    new = encode_calls(calls)
    assert new[:4] == b"\x28\xb5\x2f\xfd"  # the frame's magic number
    raw = decompress(new)
    assert raw.startswith(b"HKQC4")
    as_before = zlib.compress(raw, 1)  # the same packed day as stored before 2026-12
    assert decode_calls(as_before) == decode_calls(new) == calls
    assert len(new) < len(as_before)
    with pytest.raises(zstandard.ZstdError):  # a frame cut short is refused, not read as fewer calls
        decode_calls(new[:-10])


def test_an_empty_day_and_a_bad_blob():
    assert decode_calls(encode_calls({})) == {}
    assert unpack_calls(pack_arrays(b"", 0, np.zeros((0, WIDTH), np.int64)))[0] == []
    with pytest.raises(ValueError, match="bad magic"):
        decode_calls(zlib.compress(b"HKQC9" + bytes(8)))


def test_a_day_stored_before_2026_12_has_its_earlier_calls_keys_rewritten():
    """Until 2026-12 an earlier call of a reused id was stored as ``id~anchor``; a call id may
    hold ``~``, never ``|`` (the queue_log's field separator), which keys use now."""
    calls = {b"1551398400.7~1551398460": (1551398460, -1, 0, 1551398470, 2, 10, 1551398460),
             b"1551398400.7": (1551402000, 1551402005, 5, -1, 0, -1, 1551402000),
             b"a~b~1551398500": (1551398500, -1, 0, -1, 0, -1, 1551398500),
             b"a~b": (1551410000, -1, 0, -1, 0, -1, 1551410000),
             b"plain~id": (1551420000, -1, 0, -1, 0, -1, 1551420000)}
    new = {b"1551398400.7|1551398460": calls[b"1551398400.7~1551398460"],
           b"1551398400.7": calls[b"1551398400.7"], b"a~b|1551398500": calls[b"a~b~1551398500"],
           b"a~b": calls[b"a~b"], b"plain~id": calls[b"plain~id"]}
    assert decode_calls(_v2(calls)) == new
    columns = decompress(encode_calls(calls))  # the same day in the columns' form, as HKQC3
    assert decode_calls(zlib.compress(b"HKQC3" + columns[5:])) == new
    assert decode_calls(encode_calls(new)) == new  # the new forms keep every key as it is
    assert decode_calls(encode_calls(calls)) == calls
