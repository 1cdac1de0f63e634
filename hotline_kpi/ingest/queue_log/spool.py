"""The spool: call states written to a temporary file between parse and store, and
:class:`ParsedQueueLog`, the spool of one parsed file with its marks (what the parse hands
to the store step)."""

from __future__ import annotations

import datetime as dt
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from hotline_kpi.ingest.base import ParsedRecords
from hotline_kpi.ingest.queue_log.calls import WIDTH
_HEAD = struct.Struct("<II")  # a segment: states, bytes of the ids


class Spool:
    """Call states by local date, on disk: the parse's memory does not grow with the file.

    A segment is the count of its states and the size of their ids, the ids joined by
    newlines (a call id holds none), then the seven numbers of each state (int64, this
    machine's byte order: written and read back on the same machine). The store step reads
    a day as one block of ids and one array (:meth:`read_arrays`), without a Python object per
    number. A spool can take over the files of other spools (those of parallel workers,
    :meth:`adopt`).
    """

    def __init__(self, named: bool = False, shared: bool = False) -> None:
        # Without a name (``named``: only a worker process's, handed over by its path): the
        # file is gone with the process however it ends, a kill included. ``shared``: read by
        # another thread while written (a worker thread's: :mod:`.prepare`), so each segment is
        # in the file before it is in the index, and reads never move the file's position.
        if named:
            fd, name = tempfile.mkstemp(prefix="hotline-kpi-queue-log-", suffix=".spool")
            self.paths, file = [Path(name)], os.fdopen(fd, "w+b")
        else:
            self.paths, file = [], tempfile.TemporaryFile(prefix="hotline-kpi-queue-log-", suffix=".spool")
        self._files: list[BinaryIO] = [file]
        #: day -> [(file number, offset, size)]
        self.index: dict[dt.date, list[tuple[int, int, int]]] = {}
        self.states = 0
        self.shared = shared
        #: The latest day a segment was written for (None: none yet).
        self.latest: dt.date | None = None
        #: Days made ready for the store step while the file was read (:mod:`.prepare`).
        self.prepared = None

    def write(self, day: dt.date, ids: list[bytes], numbers: list[int], arrays: list[np.ndarray] = (),
              joined_ids: list[tuple[bytes, int]] = ()) -> int:
        """Spool the states of ``ids``, their numbers in one list (WIDTH per state), then those
        of ``joined_ids`` ((ids joined by newlines, how many) each, in order), their numbers
        in ``arrays`` (int64, rows of WIDTH, in the same order). Returns the states spooled."""
        joined = b"\n".join(([b"\n".join(ids)] if ids else []) + [j for j, _ in joined_ids])
        count = len(ids) + sum(k for _, k in joined_ids)
        parts = [_HEAD.pack(count, len(joined)), joined]
        if numbers:
            parts.append(np.asarray(numbers, dtype=np.int64).tobytes())
        parts += [a.astype(np.int64, copy=False).tobytes() for a in arrays]
        data = b"".join(parts)
        f = self._files[0]
        offset = f.seek(0, os.SEEK_END)
        f.write(data)
        if self.shared:
            f.flush()
        self.index.setdefault(day, []).append((0, offset, len(data)))
        self.states += count
        if self.latest is None or day > self.latest:
            self.latest = day
        return count

    def read(self, day: dt.date) -> tuple[list[bytes], list[int]]:
        """Every state spooled for ``day``: ids, and their numbers (WIDTH per state) in one list."""
        joined, count, numbers = self.read_arrays(day)
        return (joined.split(b"\n") if count else []), numbers.ravel().tolist()

    def read_arrays(self, day: dt.date) -> tuple[bytes, int, np.ndarray]:
        """Every state spooled for ``day``: the ids joined by newlines, how many, and their
        numbers as an int64 array of rows of WIDTH (read-only)."""
        return self.read_segments(self.index.get(day, ()))

    def read_segments(self, segments) -> tuple[bytes, int, np.ndarray]:
        """:meth:`read_arrays` of the segments given ((file number, offset, size) each)."""
        blobs: list[bytes] = []
        arrays: list[np.ndarray] = []
        count = 0
        for n, offset, size in segments:
            f = self._files[n]
            if not self.shared:
                f.flush()
            data = os.pread(f.fileno(), size, offset)
            k, id_bytes = _HEAD.unpack_from(data)
            if not k:
                continue
            blobs.append(data[_HEAD.size:_HEAD.size + id_bytes])
            arrays.append(np.frombuffer(data, np.int64, k * WIDTH, _HEAD.size + id_bytes))
            count += k
        numbers = (arrays[0] if len(arrays) == 1 else np.concatenate(arrays)) if arrays else np.zeros(0, np.int64)
        return b"\n".join(blobs), count, numbers.reshape(-1, WIDTH)

    def days(self) -> list[dt.date]:
        return sorted(self.index)

    def segments(self, day: dt.date) -> tuple:
        """The segments of ``day`` as (file, offset, size): the same on a worker's spool and
        on the spool that adopted it."""
        return tuple((self._files[n], offset, size) for n, offset, size in self.index.get(day, ()))

    def detach(self) -> "tuple[str | BinaryIO, dict[dt.date, list[tuple[int, int]]], int]":
        """Hand the (single) file over: (its path, the file closed, for a named spool; else the
        open file; day -> [(offset, size)], states)."""
        f = self._files[0]
        f.flush()
        if self.paths:
            f.close()
        handle = str(self.paths[0]) if self.paths else f
        return handle, {d: [(o, n) for _, o, n in segs] for d, segs in self.index.items()}, self.states

    def adopt(self, handle: "str | BinaryIO", index: dict[dt.date, list[tuple[int, int]]], states: int) -> None:
        """Take over a detached spool's file (closed with this spool; a named one is unlinked
        once open, so that nothing is left of it whatever happens next)."""
        if isinstance(handle, str):
            f = open(handle, "rb")
            Path(handle).unlink(missing_ok=True)
        else:
            f = handle
        self._files.append(f)
        n = len(self._files) - 1
        for day, segments in index.items():
            self.index.setdefault(day, []).extend((n, o, size) for o, size in segments)
        self.states += states

    def close(self) -> None:
        try:
            for f in self._files:
                f.close()
        finally:
            if self.prepared is not None:
                self.prepared.close()
            for path in self.paths:
                path.unlink(missing_ok=True)


@dataclass
class ParsedQueueLog(ParsedRecords):
    """What one queue_log file held: spooled call states, ready to be joined at store time."""

    spool: Spool | None = None
    #: The latest event time in the file (UNIX seconds), None without any line.
    max_time: int | None = None
    #: Bytes of complete lines up to which the file was read, and the lines in them.
    end_offset: int = 0
    end_lines: int = 0
    #: Whether the file is the append-only file form (high-water marks apply).
    appendable: bool = False
    calls: int = 0

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()
