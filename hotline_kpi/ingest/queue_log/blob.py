"""The stored form of a day's call states (the ``calls`` of a stored queue_log day): packed
into columns of the narrowest integers (:func:`pack_arrays`), then compressed, and back.

Days stored before 2026-12 (zlib; keys of an earlier call of a reused id as ``id~anchor``)
are read as they are, their keys rewritten.
"""

from __future__ import annotations

import re
import struct
import zlib

import numpy as np
import zstandard

from hotline_kpi.ingest.queue_log.calls import NO_TIME, WIDTH, State, base_id, state_array

#: The stored forms: columns (below), and rows of int64 for numbers beyond _PLAIN_LIMIT.
_BLOB_MAGIC = b"HKQC4"
_BLOB_MAGIC_ROWS = b"HKQC5"
#: Read only: the same two forms as stored before 2026-12, with keys ``id~anchor``.
_LEGACY = {b"HKQC3": _BLOB_MAGIC, b"HKQC2": _BLOB_MAGIC_ROWS}
_LEGACY_KEY = re.compile(rb"^(.*)~(-?[0-9]+)$", re.S)
#: Columns stored as the difference from ``seen`` (column 6), with the value meaning "none".
_RELATIVE = {0: NO_TIME, 1: -1, 3: -1}
#: Beyond this (but for those "none" values) a number is not a time or wait of ours: such a
#: day is stored as rows of int64, as before.
_PLAIN_LIMIT = 1 << 40
#: The first bytes of a Zstandard frame (a zlib stream begins with 0x78).
_ZSTD_FRAME = b"\x28\xb5\x2f\xfd"


def encode_calls(calls: dict[bytes, State]) -> bytes:
    """Stored form of one day's calls: the ids, then the seven numbers of each, compressed.
    Plain bytes and arrays, not pickle or marshal, whose formats change between Pythons."""
    return compress(pack_calls(calls))


def compress(raw: bytes) -> bytes:
    """A packed day as stored: a Zstandard frame (level 1; it holds its size). zlib (level 1)
    took three times as long on the ingest's critical path, and its days are still read.
    (A compressor per call: one may not be shared between threads; making one is cheap.)"""
    return zstandard.ZstdCompressor(level=1).compress(raw)


def decompress(blob: bytes) -> bytes:
    """A stored day's packed form: a Zstandard frame, or zlib as stored before 2026-12."""
    if blob[:4] == _ZSTD_FRAME:
        return zstandard.ZstdDecompressor().decompress(blob)
    return zlib.decompress(blob)


def pack_calls(calls: dict[bytes, State], numbers: np.ndarray | None = None) -> bytes:
    """:func:`encode_calls` before compression (``numbers``: :func:`state_array` of ``calls``
    when already made)."""
    if numbers is None:
        numbers = state_array(calls)
    return pack_arrays(b"\n".join(calls), len(calls), numbers)


def pack_arrays(joined: bytes, count: int, numbers: np.ndarray) -> bytes:
    """:func:`pack_calls` of ``count`` calls given as their ids joined by newlines and their
    numbers (an int64 array of rows of WIDTH, in the same order).

    The numbers go column by column, each in the narrowest integer type that holds it, its
    bytes shuffled (all first bytes, then all second bytes ...): the times as differences
    from the call's first line, ``seen`` from the day's earliest. About half the bytes of
    rows of int64, and zlib compresses them in about half the time."""
    numbers = np.asarray(numbers, dtype=np.int64).reshape(-1, WIDTH)
    head = struct.pack("<II", count, len(joined))
    seen = numbers[:, 6]
    masks = {c: numbers[:, c] == none for c, none in _RELATIVE.items()}
    if count:
        plain = numbers.copy()
        for c, mask in masks.items():
            plain[mask, c] = 0
        if np.abs(plain).max() > _PLAIN_LIMIT:
            return b"".join((_BLOB_MAGIC_ROWS, head, joined, numbers.astype("<i8", copy=False).tobytes()))
    base = int(seen.min()) if count else 0
    # The columns as stored (a row each): relative ones from ``seen``, ``seen`` from ``base``.
    values = numbers.T.copy()
    for c, mask in masks.items():
        values[c] -= values[6]
        values[c][mask] = 0
    values[6] -= base
    lo, hi = (values.min(axis=1).tolist(), values.max(axis=1).tolist()) if count else ([0] * WIDTH, [0] * WIDTH)
    parts = [_BLOB_MAGIC, head, joined]
    for c in range(WIDTH):
        size = _width(lo[c], hi[c])
        mask = masks.get(c)
        flags = 1 if mask is not None and mask.any() else 0
        parts.append(struct.pack("<BBq", size, flags, base if c == 6 else 0))
        if flags:
            parts.append(np.packbits(mask).tobytes())
        # the bytes shuffled: all first bytes, then all second bytes ...
        parts.append(values[c].astype(f"<i{size}").view(np.uint8).reshape(-1, size).T.tobytes())
    return b"".join(parts)


def _width(lo: int, hi: int) -> int:
    """The bytes of the narrowest integer type that holds [lo, hi] (1, 2, 4 or 8)."""
    for size, limit in ((1, 1 << 7), (2, 1 << 15), (4, 1 << 31)):
        if -limit <= lo and hi < limit:
            return size
    return 8


def stored_before_2026_12(blob: bytes) -> bool:
    """Whether a stored day is in a form of before 2026-12 (keys ``id~anchor``)."""
    # (only zlib was used then; a Zstandard frame is of a later form)
    return blob[:4] != _ZSTD_FRAME and zlib.decompressobj().decompress(blob, len(_BLOB_MAGIC)) in _LEGACY


def rekey_legacy(stored: dict[bytes, State], ids: list[bytes]) -> None:
    """A day stored before 2026-12 holds the calls of an id with a ``~`` under the part before
    it (taken for an earlier call's key then): when one such id of that part comes again in
    ``ids`` (and the part itself does not), its states go back under the id, so its new lines
    meet them."""
    found: dict[bytes, set[bytes]] = {}
    plain = set()
    for key in ids:
        cid = base_id(key)
        if b"~" in cid:
            found.setdefault(cid.split(b"~", 1)[0], set()).add(cid)
        else:
            plain.add(cid)
    for part, cids in found.items():
        if len(cids) == 1 and part not in plain:
            (cid,) = cids
            for key in [k for k in stored if base_id(k) == part]:
                stored[cid + key[len(part):]] = stored.pop(key)


def decode_calls(blob: bytes) -> dict[bytes, State]:
    ids, numbers = unpack_calls(decompress(blob))
    return dict(zip(ids, map(tuple, numbers.tolist())))


def unpack_calls(data: bytes) -> tuple[list[bytes], np.ndarray]:
    """The ids and numbers (int64, rows of WIDTH) of a day packed by :func:`pack_arrays`
    (either form, or either form as stored before 2026-12)."""
    magic = data[:len(_BLOB_MAGIC)]
    legacy = magic in _LEGACY
    magic = _LEGACY.get(magic, magic)
    if magic not in (_BLOB_MAGIC, _BLOB_MAGIC_ROWS):
        raise ValueError("not a stored queue_log day (bad magic)")
    count, size = struct.unpack_from("<II", data, len(_BLOB_MAGIC))
    at = len(_BLOB_MAGIC) + 8
    ids = data[at:at + size].split(b"\n") if count else []
    if legacy and b"~" in data[at:at + size]:
        # an earlier call's key was id~anchor (the last ~ and the digits after it)
        ids = [_LEGACY_KEY.sub(rb"\1|\2", k) for k in ids]
    at += size
    if magic == _BLOB_MAGIC_ROWS:
        return ids, np.frombuffer(data, "<i8", count * WIDTH, at).astype(np.int64).reshape(-1, WIDTH)
    numbers = np.empty((count, WIDTH), dtype=np.int64)
    masks = {}
    for c in range(WIDTH):
        itemsize, flags, base = struct.unpack_from("<BBq", data, at)
        at += 10
        if flags:
            k = (count + 7) // 8
            masks[c] = np.unpackbits(np.frombuffer(data, np.uint8, k, at), count=count).astype(bool)
            at += k
        raw = np.frombuffer(data, np.uint8, count * itemsize, at).reshape(itemsize, count).T.copy()
        at += count * itemsize
        numbers[:, c] = raw.view(np.dtype(f"<i{itemsize}")).ravel()
        numbers[:, c] += base
    seen = numbers[:, 6]
    for c, none in _RELATIVE.items():
        numbers[:, c] += seen
        if c in masks:
            numbers[masks[c], c] = none
    return ids, numbers
