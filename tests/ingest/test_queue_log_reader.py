"""The blocks of the file form: complete lines, cut at the last newline within the block size,
read just to it (its last 64 KiB looked at first), the same blocks however they are found."""

from __future__ import annotations

import io
import random

import pytest

from hotline_kpi.ingest.queue_log.reader import pipe_blocks


def _expected(data: bytes, start: int, end: int, chunk: int) -> list[bytes]:
    """The blocks by the rule: at most ``chunk`` bytes each, up to their last newline (a line
    longer than that: the block ends with it)."""
    out, pos = [], start
    while pos < end:
        block = data[pos:min(end, pos + chunk)]
        at = block.rfind(b"\n")
        cut = pos + at + 1 if at >= 0 else data.index(b"\n", pos) + 1
        out.append(data[pos:cut])
        pos = cut
    return out


def _lines(rng: random.Random, n: int, longest: int) -> bytes:
    return b"".join(b"%d|c%d|q|NONE|EV|%s\n" % (1550000000 + i, i, b"x" * rng.randrange(longest)) for i in range(n))


@pytest.mark.parametrize("chunk", [64, 1000, 8192, 70_000, 200_000])
@pytest.mark.parametrize("on_disk", [True, False], ids=["file", "in memory"])
def test_blocks_are_complete_lines_cut_at_the_last_newline_within_the_size(tmp_path, chunk, on_disk):
    rng = random.Random(chunk)
    # short lines, lines longer than a block, and one longer than the 64 KiB looked at first
    data = _lines(rng, 3000, 120) + _lines(rng, 5, 3 * chunk) + b"%d|long|q|NONE|EV|%s\n" % (
        1560000000, b"y" * 150_000) + _lines(rng, 500, 40)
    path = tmp_path / "queue_log"
    path.write_bytes(data)
    start = data.index(b"\n", 777) + 1  # a part that starts after a line end, as the cuts do
    done = [start]
    with (path.open("rb") if on_disk else io.BytesIO(data)) as f:
        f.seek(start)
        blocks = list(pipe_blocks(f, len(data), done, chunk))
    assert blocks == _expected(data, start, len(data), chunk)
    assert done == [len(data)]


def test_whatever_the_look_ahead_finds_a_block_ends_at_its_own_last_newline(tmp_path, monkeypatch):
    """The look at a block's last 64 KiB only spares a copy: when it finds no newline there
    (here every look is made to find none), the block is read long and cut, as before."""
    import os

    data = b"".join(b"%d|c|q|NONE|EV\n" % i for i in range(5000))
    path = tmp_path / "queue_log"
    path.write_bytes(data)
    real = os.pread
    monkeypatch.setattr(os, "pread", lambda fd, n, at: real(fd, n, at).replace(b"\n", b"-"))  # sees no newline
    with path.open("rb") as f:
        blocks = list(pipe_blocks(f, len(data), [0], 4096))
    assert blocks == _expected(data, 0, len(data), 4096)
