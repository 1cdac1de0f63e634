"""Reading the file form of the queue_log: batches of complete lines, and where the last
line end is (an unfinished last line is left for the next read of the grown file)."""

from __future__ import annotations

import os
import re
from typing import BinaryIO, Iterator

#: A file-form line: ``epoch|callid|queuename|agent|EVENT``.
PIPE_LINE = re.compile(rb"^\d{9,11}(?:\.\d+)?\|[^|\r\n]*\|[^|\r\n]*\|[^|\r\n]*\|[A-Z_]+")


def pipe_batches(f: BinaryIO, end: int, done: list[int], chunk_size: int) -> Iterator[list[bytes]]:
    """Complete lines of the file form, in batches of about ``chunk_size`` bytes, up to byte ``end``.

    ``end`` is where the last line end is: an unfinished last line is left for the next
    read of the grown file. ``done[0]`` follows the bytes handed out (for progress).
    """
    for block in pipe_blocks(f, end, done, chunk_size):
        lines = block.split(b"\n")
        lines.pop()
        yield lines


def last_line_end(f: BinaryIO, size: int, chunk_size: int) -> int:
    """The offset just after the file's last newline (0 when it has none)."""
    pos = size
    while pos > 0:
        start = max(0, pos - chunk_size)
        f.seek(start)
        block = f.read(pos - start)
        at = block.rfind(b"\n")
        if at >= 0:
            return start + at + 1
        pos = start
    return 0


def line_marks(block: bytes) -> tuple[int, bool]:
    """(The newlines in ``block``, whether it holds any other byte below 32: a NUL, a carriage
    return, a tab ...), counted by numpy, whose loops let go of the interpreter lock (the parts
    of a big file are read at once by threads): a block holding neither is not searched again
    for those, under the lock, byte by byte."""
    import numpy as np

    a = np.frombuffer(block, np.uint8)
    lines = int(np.count_nonzero(a == 10))
    return lines, int(np.count_nonzero(a < 32)) > lines


def pipe_blocks(f: BinaryIO, end: int, done: list[int], chunk_size: int) -> Iterator[bytes]:
    """:func:`pipe_batches` as blocks of bytes: each about ``chunk_size`` bytes of complete
    lines, ending just after a newline. A block is read just to its last newline, found first
    in its last 64 KiB: not read long and copied short, a copy of the whole block under the
    interpreter lock while the other parts wait for it. (Where that cannot be, the part of a
    line read past a block's end is read again with the next block, a seek back.)"""
    pos = f.tell()
    try:
        fd = f.fileno()
    except (AttributeError, OSError):  # (not a file on disk: the block is cut after it is read)
        fd = None
    while pos < end:
        want = min(chunk_size, end - pos)
        if fd is not None and pos + want < end:
            peek = min(want, 1 << 16)
            at = os.pread(fd, peek, pos + want - peek).rfind(b"\n")
            if at >= 0:
                want -= peek - at - 1
        chunk = f.read(want)
        if not chunk:
            break
        at = chunk.rfind(b"\n")
        if at < 0:  # a line longer than a block: read on to its end
            chunk += f.readline()
            at = len(chunk) - 1
            if not chunk.endswith(b"\n"):  # cannot happen: end is just after a newline
                yield chunk + b"\n"
                return
        elif at + 1 < len(chunk):
            f.seek(pos + at + 1)
            chunk = chunk[:at + 1]
        pos += at + 1
        done[0] = pos
        yield chunk
