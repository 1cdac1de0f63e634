"""Reading a big file form in parts at once: the cuts, the worker threads (the vectorised
scan) or processes (the line scan) and handing their parts (problems, tallies, spools) over
to the caller's scan.

The parts' states join at store time exactly as the pieces of a rotated log do.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from concurrent.futures import FIRST_EXCEPTION, Executor, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Iterator

from hotline_kpi.ingest.base import MAX_PROBLEMS, IngestContext, Problem, future_problems, open_same
from hotline_kpi.ingest.queue_log.calls import LocalDays
from hotline_kpi.ingest.queue_log.columnar import scan_blocks
from hotline_kpi.ingest.queue_log.prepare import DayPreparer
from hotline_kpi.ingest.queue_log.reader import pipe_batches, pipe_blocks
from hotline_kpi.ingest.queue_log.scan import Scan, _no_gc, latest_time, scan_lines
from hotline_kpi.ingest.queue_log.spool import Spool
from hotline_kpi.settings import QueueLogSettings


def scan_file(f: BinaryIO, path: Path, start: int, end: int, first_row: int, scan: Scan, spool: Spool,
              days: LocalDays, allowed_day, latest: int, patterns, ctx: IngestContext, size: int):
    """Scan bytes [start, end) of the file form. Returns (latest event time or None, states
    spooled, lines read, parts).

    A big file (``parallel_min_bytes``) is read in parts at once. With the vectorised scan
    every part is read by a thread of this process: polars works without the interpreter
    lock, and one process holds the libraries and the interpreter once (worker processes
    each held their own: a third more memory for the ingest, and half a second's start each).
    Otherwise this process reads the first part itself with the line scan, the others'
    parts in worker processes alongside (the line scan is Python: threads would take turns
    at the interpreter); a smaller file is read here, by the line scan."""
    settings = ctx.queue_log
    cuts = _cuts(f, start, end, _workers(end - start, settings))
    if all_in_workers(start, end, settings):
        return _all_in_workers(path, cuts, first_row, scan, spool, ctx, size)
    done = [start]
    progress = ctx.progress
    share = (end - start) / max(1, cuts[1] - start)  # the others' parts are read alongside this one
    tick = (lambda: progress(start + int((done[0] - start) * share), size)) if progress is not None else None
    with _Workers(path, cuts[1:], ctx) as others:
        f.seek(start)
        found = _scan_range(f, cuts[1], done, first_row, scan, spool, days, allowed_day, latest, patterns, ctx,
                            tick, vectorised=False)
        found = _hand_over(others, found, first_row, scan, spool)
    if len(cuts) > 2:
        _dates_once(scan.problems)
    return (*found, len(cuts) - 1)


def all_in_workers(start: int, end: int, settings: QueueLogSettings) -> bool:
    """Whether bytes [start, end) of a file form are read by the vectorised scan in worker
    threads only. They also look for NUL bytes in what they read (the caller need not)."""
    return settings.vectorised and end - start >= settings.parallel_min_bytes


def _all_in_workers(path: Path, cuts: list[int], first_row: int, scan: Scan, spool: Spool, ctx: IngestContext,
                    size: int):
    # While the parts are read, this thread makes the days they have gone past ready to store.
    if spool.prepared is None:
        spool.prepared = DayPreparer(ctx.formulas, ctx.queue_log, LocalDays(ctx.hotline.zone))
    with _no_gc(), _Workers(path, cuts, ctx, threads=True, size=size, prepare=spool.prepared) as parts:
        found = _hand_over(parts, (None, 0, 0), first_row, scan, spool)
    if len(cuts) > 2:
        _dates_once(scan.problems)
    return (*found, len(cuts) - 1)


def _hand_over(workers: "_Workers", found: tuple, first_row: int, scan: Scan,
               spool: Spool) -> tuple[int | None, int, int]:
    """Add the workers' parts, in file order, to what this process read (``found``)."""
    max_time, spooled, lines = found
    for part in workers.results():
        # Row numbers of a part go on from the lines of the parts before it.
        if part.nul is not None and scan.nul is None:  # (the first in file order)
            scan.nul = (part.nul[0], part.nul[1] + first_row - 1 + lines)
        part.hand_over(scan, spool, first_row - 1 + lines)
        spooled += part.spooled
        lines += part.lines
        if part.max_time is not None and (max_time is None or part.max_time > max_time):
            max_time = part.max_time
    return max_time, spooled, lines


def _scan_range(f: BinaryIO, end: int, done: list[int], first_row: int, scan: Scan, spool: Spool, days: LocalDays,
                allowed_day, latest: int, patterns, ctx: IngestContext, tick, vectorised: bool,
                stop: threading.Event | None = None):
    """Scan from the file's position to ``end``: vectorised (:mod:`.columnar`, in a worker
    thread only) or by the line scan. ``stop``: once set, the scan ends before its next block
    (raising :class:`_Stopped`)."""
    chunk = ctx.queue_log.read_chunk_bytes
    if vectorised:
        blocks = pipe_blocks(f, end, done, chunk)
        return scan_blocks(_until(stop, blocks) if stop is not None else blocks, first_row, scan, spool, days,
                           allowed_day, latest, patterns, tick, nul_from=f.tell())
    return scan_lines(pipe_batches(f, end, done, chunk), first_row, scan, spool, days, allowed_day, latest,
                      patterns, tick)


class _Stopped(Exception):
    """A part's read was called off: another part failed, or the caller stopped waiting."""


def _until(stop: threading.Event, blocks: Iterator[bytes]) -> Iterator[bytes]:
    for block in blocks:
        if stop.is_set():
            raise _Stopped
        yield block


def _dates_once(problems: list[Problem]) -> None:
    """A date in the future is reported once, by the first part that met it."""
    seen: set[tuple] = set()
    problems[:] = [p for p in problems if not (p.column == "time" and p.why.startswith(
        ("no target catalogue", "date is in the future")) and ((p.why, p.value) in seen or seen.add(
        (p.why, p.value))))][:MAX_PROBLEMS]


def _workers(size: int, settings: QueueLogSettings) -> int:
    """Files (the part still to read) at least ``parallel_min_bytes`` big are read by several
    processes at once."""
    if size < settings.parallel_min_bytes:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cpus, 4, size // settings.parallel_part_min_bytes))


def _cuts(f: BinaryIO, start: int, end: int, parts: int) -> list[int]:
    """[start, ..., end]: ``parts`` ranges of about equal size, each cut just after a line end."""
    cuts = [start]
    for k in range(1, parts):
        f.seek(start + (end - start) * k // parts)
        f.readline()
        at = f.tell()
        if cuts[-1] < at < end:
            cuts.append(at)
    cuts.append(end)
    return cuts


@dataclass
class _Part:
    """What a worker read from its range of the file."""

    max_time: int | None
    spooled: int
    lines: int
    problems: list[Problem]
    blank: int
    system: int
    unknown_events: dict[str, int]
    other_queues: dict[str, int]
    #: (path or open file, index, states) of the worker's spool, handed over to the parent's.
    spool: tuple[str | BinaryIO, dict, int] | None
    #: Blocks the worker read the vectorised way.
    vectorised: int = 0
    #: The first NUL byte in the part: (byte offset, line in the part), where it stopped.
    nul: tuple[int, int] | None = None

    def hand_over(self, scan: Scan, spool: Spool, shift: int) -> None:
        """Add the part's problems (their rows shifted by ``shift``), tallies and spool to
        the caller's."""
        scan.problems += [replace(p, row=p.row + shift) if p.row is not None else p for p in self.problems]
        scan.blank += self.blank
        scan.system += self.system
        scan.vectorised += self.vectorised
        _add(scan.unknown_events, self.unknown_events)
        _add(scan.other_queues, self.other_queues)
        spool.adopt(*self.spool)
        self.spool = None


def _add(counts: dict[str, int], more: dict[str, int]) -> None:
    for k, v in more.items():
        counts[k] = counts.get(k, 0) + v


def _scan_part(path: str, start: int, end: int, ctx: IngestContext, process: bool = True,
               stop: threading.Event | None = None, done: list[int] | None = None,
               slot: tuple[list, int] | None = None) -> _Part:
    """Worker: scan bytes [start, end) of the file form into a spool of its own (a thread's
    scan ends early once ``stop`` is set; ``done[0]`` follows where it has read to; its spool
    is put in ``slot``, (list, index), for the waiting thread to read while it is written)."""
    file = Path(path).name
    if process:
        # polars' thread pool: one thread a worker process (the parts are the parallelism; more
        # threads would only add their memory arenas). Set before polars is first imported here.
        os.environ.setdefault("POLARS_MAX_THREADS", "1")
    scan = Scan(file, ctx)
    spool = Spool(named=process, shared=slot is not None)  # (a process hands its spool over by name)
    if slot is not None:
        slot[0][slot[1]] = spool
    try:
        with open_same(Path(path), ctx) as f:
            f.seek(start)
            max_time, spooled, lines = _scan_range(
                f, end, done if done is not None else [start], 1, scan, spool, LocalDays(ctx.hotline.zone),
                lambda day, row: future_problems(day, ctx, file, row, column="time"),
                latest_time(ctx), ctx.queue_log.queue_patterns(ctx.hotline.id), ctx, None,
                vectorised=ctx.queue_log.vectorised, stop=stop)
        handed = spool.detach()
    except BaseException:
        spool.close()
        raise
    return _Part(max_time, spooled, lines, scan.problems, scan.blank, scan.system, scan.unknown_events,
                 scan.other_queues, handed, scan.vectorised, scan.nul)


class _Workers:
    """Workers scanning the ranges of ``cuts``: threads of this process (``threads``, the
    vectorised scan), or processes for the ranges after the first while the caller scans
    the first (the line scan); spools of parts never handed over are deleted."""

    def __init__(self, path: Path, cuts: list[int], ctx: IngestContext, threads: bool = False, size: int = 0,
                 prepare: DayPreparer | None = None):
        self.threads = threads
        #: Threads: the parts' spools (once made), and what prepares their days meanwhile.
        self.spools: list[Spool | None] = [None] * (len(cuts) - 1)
        self.prepare = prepare
        #: Threads: the caller's progress (bytes read by all parts so far, of ``size``).
        self.progress, self.size = (ctx.progress, size) if threads else (None, 0)
        #: Threads: where each part has read to (its ``done``, as the reader keeps it).
        self.done = [[a] for a in cuts[:-1]]
        self.ranges = list(zip(cuts, cuts[1:]))
        self.ctx = replace(ctx, progress=None, resume=None)
        self.path = str(path)
        self.pool: Executor | None = None
        self.futures: list = []
        #: Set when the parts are no longer wanted: the threads end before their next block.
        self.stop = threading.Event()

    def __enter__(self) -> "_Workers":
        if self.ranges and self.threads:
            self.pool = ThreadPoolExecutor(len(self.ranges), thread_name_prefix="queue-log-part")
            self.futures = [self.pool.submit(_scan_part, self.path, a, b, self.ctx, False, self.stop, done,
                                             (self.spools, i))
                            for i, ((a, b), done) in enumerate(zip(self.ranges, self.done))]
        elif self.ranges:
            # fork is quick and needs no importable __main__; a process with other threads
            # (the service) spawns instead, as forking it could copy a lock mid-use; so does
            # one that has used polars (its thread pool is threads Python does not see).
            alone = threading.active_count() == 1 and "polars" not in sys.modules
            method = "fork" if alone and os.name == "posix" else "spawn"
            self.pool = ProcessPoolExecutor(len(self.ranges), mp_context=multiprocessing.get_context(method))
            self.futures = [self.pool.submit(_scan_part, self.path, a, b, self.ctx) for a, b in self.ranges]
        return self

    def results(self) -> Iterator[_Part]:
        """The parts in file order; a part that failed (threads: any, at once) raises its error."""
        if self.threads and self.futures:
            start = self.ranges[0][0]
            every = 0.05 if self.prepare is not None else 0.25 if self.progress else None
            while wait(self.futures, every, FIRST_EXCEPTION).not_done:
                if any(f.done() and f.exception() is not None for f in self.futures):
                    break
                if self.prepare is not None:
                    self.prepare.poll(self.spools)
                if self.progress is not None:
                    self.progress(start + sum(d[0] - a for d, (a, _) in zip(self.done, self.ranges)), self.size)
            if self.prepare is not None:
                self.prepare.finish()
            failed = next((f for f in self.futures if f.done() and f.exception() is not None), None)
            if failed is not None:
                self.stop.set()
                failed.result()
        for future in self.futures:
            yield future.result()

    def __exit__(self, *exc: object) -> None:
        if self.pool is None:
            return
        self.stop.set()  # (threads still reading, after a failure or an interrupt: they end at their next block)
        self.pool.shutdown(wait=True, cancel_futures=True)
        for future in self.futures:
            if future.done() and not future.cancelled() and future.exception() is None:
                part = future.result()
                if part.spool is not None:  # not adopted: the parse failed
                    handle = part.spool[0]
                    if isinstance(handle, str):
                        Path(handle).unlink(missing_ok=True)
                    else:
                        handle.close()
