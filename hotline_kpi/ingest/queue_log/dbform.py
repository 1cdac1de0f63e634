"""The database form of the queue_log: the realtime table exported as CSV (columns time,
callid, queuename, agent, event, data1..data5). Its rows become file-form lines, then go
through the same scan."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from typing import BinaryIO, Iterator
from zoneinfo import ZoneInfo

from hotline_kpi.i18n import M_
from hotline_kpi.ingest.base import IngestContext
from hotline_kpi.ingest.queue_log.calls import LocalDays
from hotline_kpi.ingest.queue_log.scan import Scan, scan_lines
from hotline_kpi.ingest.queue_log.spool import Spool

_DB_COLUMNS = ("time", "callid", "queuename", "agent", "event")


def sniff_db_header(text: str) -> tuple[str, list[str]] | None:
    first = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    for delimiter in (",", "\t", ";", "|"):
        cells = [c.strip().strip('"').casefold() for c in first.split(delimiter)]
        if all(c in cells for c in _DB_COLUMNS):
            return delimiter, cells
    return None


def scan_db(f: BinaryIO, db: tuple[str, list[str]], scan: Scan, spool: Spool, days: LocalDays,
            allowed_day, latest: int, patterns, ctx: IngestContext, size: int):
    """The realtime table exported as CSV: rows become file-form lines, then the same scan."""
    delimiter, header = db
    encoding = _encoding(f)
    text = io.TextIOWrapper(f, encoding=encoding, errors="strict", newline="")
    reader = csv.reader(text, delimiter=delimiter)
    zone = ZoneInfo(ctx.queue_log.db_time_zone) if ctx.queue_log.db_time_zone else ctx.hotline.zone
    batches = _batches(f, reader, _Layout.of(header), zone, scan, encoding, ctx.progress, size)
    # Row numbers: the header is row 1 (a quoted cell spanning lines is not expected here).
    max_time, spooled, _ = scan_lines(batches, 2, scan, spool, days, allowed_day, latest, patterns, None)
    return max_time, spooled


def _encoding(f: BinaryIO) -> str:
    """UTF-8 (with or without BOM), else GB18030; the file is left at its start."""
    f.seek(0)
    raw = f.read(1 << 20)
    f.seek(0)
    encoding = "utf-8-sig"
    try:
        raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.end < len(raw) - 3:  # not merely a character cut at the end of the sample
            encoding = "gb18030"
    return encoding


@dataclass(frozen=True)
class _Layout:
    """Where the columns of the export are: time, callid, queuename, agent, event, then
    data1..data5, or one ``data`` column holding them joined by '|'."""

    base: list[int]
    data_cols: list[int | None]
    combined: int | None
    width: int

    @classmethod
    def of(cls, header: list[str]) -> "_Layout":
        col = {name: i for i, name in enumerate(header)}
        data_cols = [col.get(f"data{i}") for i in range(1, 6)]
        combined = col.get("data") if data_cols[0] is None else None
        return cls([col[c] for c in _DB_COLUMNS], data_cols, combined, len(header))

    def line(self, cells: list[str], zone: ZoneInfo) -> bytes:
        """A row as a file-form line (the time as an epoch when it reads)."""
        if len(cells) < self.width:
            cells = cells + [""] * (self.width - len(cells))
        base = self.base
        t = _db_time(cells[base[0]], zone)
        parts = [t if t is not None else _field(cells, base[0])]
        parts += [_field(cells, i) for i in base[1:]]
        if self.combined is not None:
            parts += [p.encode("utf-8") for p in cells[self.combined].split("|")]
        else:
            parts += [_field(cells, i) for i in self.data_cols]
        while len(parts) > 5 and parts[-1] == b"":
            parts.pop()
        return b"|".join(parts)


def _field(cells: list[str], i: int | None) -> bytes:
    # A '|' inside a cell (an agent's name) would shift the fields after it.
    return cells[i].replace("|", "/").encode("utf-8") if i is not None and i < len(cells) else b""


def _batches(f: BinaryIO, reader, layout: _Layout, zone: ZoneInfo, scan: Scan, encoding: str, progress,
             size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    try:
        next(reader)  # the header
        for cells in reader:
            if not any(c.strip() for c in cells):
                batch.append(b"")
                continue
            batch.append(layout.line(cells, zone))
            if len(batch) >= 10_000:
                yield batch
                batch = []
                if progress is not None:
                    progress(min(f.tell(), size), size)
    except UnicodeDecodeError as exc:
        scan.problem(M_("not {encoding} text ({reason}); save the export as UTF-8 throughout",
                        encoding=encoding.replace('-sig', ''), reason=exc.reason), None)
    except csv.Error as exc:
        scan.problem(M_("not valid CSV: {error}", error=str(exc)), reader.line_num)
    yield batch


def _db_time(value: str, zone: ZoneInfo) -> bytes | None:
    """The realtime table's time: "2019-01-01 08:00:00[.ffffff][+08:00]" in ``zone`` unless it
    carries an offset, or a UNIX epoch. None when unreadable (the scan reports it)."""
    text = value.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return text.split(".")[0].encode()
    try:
        moment = dt.datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return str(int(moment.timestamp() // 1)).encode()
