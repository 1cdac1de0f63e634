"""The queue_log ingestor (source ``queue-log``): tells the two forms apart, reads a file
into spooled call states and hands them to the store step."""

from __future__ import annotations

import datetime as dt
import os
from codecs import BOM_UTF8
from pathlib import Path
from typing import BinaryIO

from hotline_kpi.i18n import M_
from hotline_kpi.ingest.base import (MAX_PROBLEMS, IngestContext, IngestRejected, OtherYears, Problem, future_problems,
                                     open_same)
from hotline_kpi.ingest.queue_log.calls import LocalDays
from hotline_kpi.ingest.queue_log.dbform import scan_db, sniff_db_header
from hotline_kpi.ingest.queue_log.parallel import all_in_workers, scan_file
from hotline_kpi.ingest.queue_log.reader import PIPE_LINE, last_line_end
from hotline_kpi.ingest.queue_log.scan import Scan, latest_time, scan_notes
from hotline_kpi.ingest.queue_log.spool import ParsedQueueLog, Spool

SOURCE = "queue-log"


class QueueLogIngestor:
    """Reads the Asterisk queue_log: the file form (pipe-delimited) and the database form (CSV)."""

    source = SOURCE
    #: The file form only grows: the pipeline passes ``ctx.resume`` to read only what is new.
    resumable = True

    def sniff(self, path: Path, head: bytes) -> bool:
        # NUL bytes (padding a crash left) do not hide a log: parse() refuses it naming them.
        head = head.replace(b"\x00", b"")
        lines = [ln for ln in head.splitlines()[:20] if ln.strip()]
        if not lines:
            return "queue_log" in path.name.casefold()
        if sum(1 for ln in lines if PIPE_LINE.match(ln)) >= max(1, len(lines) // 2):
            return True
        try:
            text = head.decode("utf-8-sig", "ignore")
        except UnicodeDecodeError:  # pragma: no cover - "ignore" never raises
            return False
        return sniff_db_header(text) is not None

    def parse(self, path: Path, ctx: IngestContext) -> ParsedQueueLog:
        """Read the lines (the file form from ``ctx.resume`` on) into spooled call states.

        Raises :class:`IngestRejected` listing every bad line (up to MAX_PROBLEMS).
        """
        file = path.name
        scan = Scan(file, ctx)
        zone = ctx.hotline.zone
        days = LocalDays(zone)
        latest = latest_time(ctx)

        def allowed_day(day: dt.date, row: int) -> list[Problem]:
            # A day whose year has no catalogue is left out after the scan (leave_out_other_years).
            return future_problems(day, ctx, file, row, column="time")

        patterns = ctx.queue_log.queue_patterns(ctx.hotline.id)
        spool = Spool()
        parsed = ParsedQueueLog(source=SOURCE, spool=spool)
        try:
            with open_same(path, ctx) as f:
                on_disk = os.fstat(f.fileno()).st_size  # (the file opened, not what the name holds now)
                size = on_disk if ctx.size is None else min(ctx.size, on_disk)
                head = f.read(64 * 1024)
                if size == 0:
                    raise IngestRejected(file, [Problem(file, M_("the file is empty (0 bytes): nothing was loaded; "
                                                                 "a copy that failed or a log not yet written?"))])
                if not head.strip() and size <= len(head):
                    raise IngestRejected(file, [Problem(file, M_("the file holds only blank lines: no queue_log "
                                                                 "line, nothing was loaded"))])
                # (a byte order mark, as Windows editors write one, is not part of the first time)
                start, line = (ctx.resume.offset, ctx.resume.lines + 1) if ctx.resume else (
                    len(BOM_UTF8) if head.startswith(BOM_UTF8) else 0, 1)
                first = next((ln for ln in head.splitlines() if ln.strip()), b"")
                db = None if PIPE_LINE.match(first.lstrip(BOM_UTF8)) else sniff_db_header(
                    head.decode("utf-8-sig", "replace"))
                end = last_line_end(f, size, ctx.queue_log.read_chunk_bytes) if db is None else size
                # The worker threads of a big file form look for NUL bytes in the blocks they
                # read (in parallel); otherwise the whole file is checked here, first.
                workers = db is None and all_in_workers(start, end, ctx.queue_log)
                if not workers:
                    nul = nul_place(f, size, start, line)  # a resumed log: the part loaded before was checked
                    if nul is not None:
                        raise IngestRejected(file, [nul_problem(file, *nul)])
                f.seek(len(head))
                if db is None:
                    max_time, spooled = self._parse_file(f, size, start, end, scan, spool, days, allowed_day,
                                                         latest, patterns, ctx, parsed, path)
                    if workers:  # the first NUL a worker met, else any in an unfinished last line
                        nul = nul_place(f, size, *scan.nul) if scan.nul else nul_place(
                            f, size, end, parsed.end_lines + 1)
                        if nul is not None:
                            raise IngestRejected(file, [nul_problem(file, *nul)])
                else:
                    max_time, spooled = scan_db(f, db, scan, spool, days, allowed_day, latest, patterns, ctx,
                                                size)
                    parsed.end_offset = size
            if ctx.progress is not None:
                ctx.progress(size, size)
            if scan.problems:
                # (a note, not a problem: shown after the first 50 problems, not counted among them)
                stopped = [M_("stopped reading after {n} problems", n=MAX_PROBLEMS)] if len(
                    scan.problems) >= MAX_PROBLEMS else []
                raise IngestRejected(file, scan.problems[:MAX_PROBLEMS], notes=stopped)
            parsed.max_time = max_time
            parsed.calls = spooled - leave_out_other_years(spool, ctx, file, parsed.notes)
            parsed.notes.extend(scan_notes(scan))
            return parsed
        except BaseException:
            spool.close()
            raise

    def _parse_file(self, f: BinaryIO, size: int, start: int, end: int, scan: Scan, spool: Spool, days: LocalDays,
                    allowed_day, latest: int, patterns, ctx: IngestContext, parsed: ParsedQueueLog, path: Path):
        first_row = ctx.resume.lines + 1 if ctx.resume else 1
        max_time, spooled, lines, parts = scan_file(f, path, start, end, first_row, scan, spool, days, allowed_day,
                                                    latest, patterns, ctx, size)
        if parts > 1 and all_in_workers(start, end, ctx.queue_log):
            parsed.notes.append(M_("read in {n} parts at once (one thread each)", n=parts))
        elif parts > 1:
            parsed.notes.append(M_("read in {n} parts at once (one process each)", n=parts))
        parsed.end_offset = max(end, start)
        parsed.end_lines = first_row - 1 + lines
        parsed.appendable = True
        if ctx.resume:
            parsed.notes.append(M_("read from byte {start:,} (line {line:,} on): the part before was loaded "
                                   "earlier from this log", start=start, line=first_row))
        if end < size:
            parsed.notes.append(M_("the last line (from byte {end:,}) has no line end yet: it is read when the "
                                   "file has grown", end=end))
        return max_time, spooled


def leave_out_other_years(spool: Spool, ctx: IngestContext, file: str, notes: list[str]) -> int:
    """Drop the spooled call states of days whose year has no target catalogue, with one note
    naming the days; refuse the file if no day is left. Returns the states dropped.

    A call belongs to the local day of its ENTERQUEUE (a call entering at 23:59:50 on
    2018-12-31 and answered after midnight is a call of 2018-12-31), as everywhere."""
    other = OtherYears(ctx, file)
    dropped = [day for day in spool.days() if not other.covers(day)]
    if not dropped:
        return 0
    if len(dropped) == len(spool.index):
        raise other.refusal()
    states = 0
    for day in dropped:
        states += spool.read_arrays(day)[1]
        del spool.index[day]
    spool.states -= states
    notes.extend(other.note(M_("calls"), counted=False))
    return states


def nul_place(f: BinaryIO, size: int, start: int = 0, line: int = 1,
              chunk: int = 1 << 16) -> tuple[int, int, int] | None:
    """Where the first NUL byte is: (byte offset, line number, length of its run), or None.

    One pass of ``bytes.find`` (memchr): about a second a gigabyte, so every file is checked."""
    f.seek(start)
    pos, lines = start, line
    while pos < size:
        block = f.read(min(chunk, size - pos))
        if not block:
            break
        at = block.find(b"\x00")
        if at >= 0:
            lines += block.count(b"\n", 0, at)
            rest = block[at:]
            run = len(rest) - len(rest.lstrip(b"\x00"))
            end = pos + len(block)
            while run == end - pos - at and end < size:  # the run goes on into the next block
                more = f.read(min(chunk, size - end))
                if not more:
                    break
                end += len(more)
                stripped = more.lstrip(b"\x00")
                run += len(more) - len(stripped)
                if stripped:
                    break
            return pos + at, lines, run
        lines += block.count(b"\n")
        pos += len(block)
    return None


def nul_problem(file: str, offset: int, line: int, run: int) -> Problem:
    return Problem(file, M_("NUL bytes ({run:,} from byte offset {offset:,}): padding a crash or power loss left in "
                            "the log, or binary data. Remove them (e.g. tr -d '\\000' < queue_log > queue_log.clean) "
                            "and load the file again", run=run, offset=offset), line, None,
                   M_("byte {offset:,}", offset=offset))
