"""The one ingest protocol, its errors, and the checks every source shares.

An ingestor turns a file into a :class:`~hotline_kpi.domain.ParsedFile` with every day
validated, or raises :class:`IngestRejected` listing every problem it found (file, row,
column, value, why). It touches no database: parsing happens before the one short write
transaction of :mod:`hotline_kpi.ingest.pipeline`, so a rejected file stores nothing.

Raw sources (call log, tickets, callbacks) hold records rather than finished days: a call,
a ticket or a callback may be seen again in a later file, and must then update what was
stored rather than count twice. Their ingestors follow :class:`RecordIngestor`: ``parse``
reads and validates the file into :class:`ParsedRecords` (still without a database); the
store step of :mod:`hotline_kpi.ingest.storing` then merges those records with the stored
ones inside the pipeline's write transaction and recomputes the counters of the days they
touch. Nothing here imports the store: the pipeline and the store steps are the only doors.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Mapping, Protocol

from hotline_kpi.catalogue import CatalogueSet, Hotline
from hotline_kpi.domain import (COUNTER_BOUNDS, COUNTERS, FLOAT_COUNTERS, MAX_COUNT, DayRecord, ParsedFile,
                                 counter_name)
from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.i18n import M_, Msg
from hotline_kpi.problems import IngestRejected, Problem, plain_number, written
from hotline_kpi.settings import QueueLogSettings, TicketSettings

#: Called with (units done, units total) while a file is read; units are bytes or rows.
Progress = Callable[[int, int], None]

#: A file with more problems than this is not read further: the first ones tell enough,
#: and collecting millions would take memory.
MAX_PROBLEMS = 1000

#: A header with more columns than this is not a hotline export (a spreadsheet has at most
#: 16,384): the file is rejected rather than read with thousands of ignored columns.
MAX_COLUMNS = 1000


#: The date column where a source names none (a raw log): shown as 日期 in Chinese.
DATE = M_("date")


def ignored_note(ignored: list[str], shown: int = 20) -> Msg:
    """The note listing ignored columns, the first ``shown`` of them."""
    more = M_(" ... and {n:,} more", n=len(ignored) - shown) if len(ignored) > shown else ""
    return M_("ignored columns: {columns}{more}", columns=", ".join(ignored[:shown]), more=more)


@dataclass(frozen=True)
class Resume:
    """Where to go on reading an append-only log whose beginning was loaded before."""

    #: Bytes already read (always just after a line end) and the lines in them.
    offset: int
    lines: int


@dataclass(frozen=True)
class IngestContext:
    """What an ingestor may know besides the file: no session, no clock, no settings object."""

    hotline: Hotline
    catalogues: CatalogueSet
    #: Today's local date in the hotline's zone: days after it are rejected as future.
    today: dt.date
    formulas: FormulaSettings = field(default_factory=FormulaSettings)
    progress: Progress | None = None
    queue_log: QueueLogSettings = field(default_factory=QueueLogSettings)
    tickets: TicketSettings = field(default_factory=TicketSettings)
    #: For a :class:`RecordIngestor` with ``resumable``: the part of this log already loaded.
    resume: Resume | None = None
    #: Bytes of the file that were hashed: a log still being written is read only up to
    #: there, so the load, its hash and its kept original are the same bytes.
    size: int | None = None
    #: The sheet of a workbook to read (``--sheet``); None: the one visible sheet with a
    #: recognised header (see :func:`hotline_kpi.ingest.sheet.choose_sheet`).
    sheet: str | None = None
    #: (device, inode) of the file the load opened first, hashed and keeps: a reader that
    #: opens the name again must find that file (:func:`open_same`).
    identity: tuple[int, int] | None = None


def open_same(path: Path, ctx: IngestContext) -> BinaryIO:
    """``path`` opened for reading, refused when it is no longer the file the load opened
    first (``ctx.identity``): a log rotated meanwhile, another file now has its name. The
    load would otherwise count the other file's lines under the first one's hash."""
    try:
        f = path.open("rb")
    except FileNotFoundError:  # renamed, and no file has the name yet
        if ctx.identity is None:
            raise
    else:
        st = os.fstat(f.fileno())
        if ctx.identity is None or (st.st_dev, st.st_ino) == ctx.identity:
            return f
        f.close()
    raise IngestRejected(path.name, [Problem(path.name, M_(
        "the file under this name changed while it was being loaded (renamed or replaced: a log rotated?): "
        "nothing was loaded; load it again"))])


@dataclass
class ParsedRecords:
    """The validated records of one file of a raw source, before they are stored.

    May hold temporary resources (a spool file): the pipeline calls :meth:`close`.
    """

    source: str
    notes: list[str] = field(default_factory=list)

    def close(self) -> None:
        """Release temporary resources; the records cannot be stored afterwards."""


class Ingestor(Protocol):
    #: The ``--source`` name, e.g. ``daily-report``.
    source: str

    def sniff(self, path: Path, head: bytes) -> bool:
        """Whether a file with this name and these first bytes looks like this source."""
        ...

    def parse(self, path: Path, ctx: IngestContext) -> ParsedFile:
        """Read and validate the whole file; raise :class:`IngestRejected` on any problem.

        Must not touch the database. Must report every bad row, not only the first.
        """
        ...


class RecordIngestor(Protocol):
    """A raw source whose records merge with what earlier files stored (see the module doc)."""

    source: str
    #: True for append-only logs: the pipeline recognises a file that is a loaded log grown
    #: longer (high-water mark) and passes ``ctx.resume`` so only the new part is read.
    resumable: bool

    def sniff(self, path: Path, head: bytes) -> bool:
        """Whether a file with this name and these first bytes looks like this source."""
        ...

    def parse(self, path: Path, ctx: IngestContext) -> ParsedRecords:
        """Read and validate the whole file (from ``ctx.resume`` on, if given).

        Must not touch the database. Raises :class:`IngestRejected` listing every problem.
        """
        ...


def future_problems(day: dt.date, ctx: IngestContext, file: str, row: int | None,
                    column: str = DATE) -> list[Problem]:
    """A day after today (in the hotline's zone) is a clock or parsing error: refused."""
    if day > ctx.today:
        return [Problem(file, M_("date is in the future (today is {today} in {zone})", today=ctx.today.isoformat(),
                                   zone=ctx.hotline.timezone),
                        row, column, day.isoformat())]
    return []


def day_problems(day: dt.date, ctx: IngestContext, file: str, row: int | None,
                 column: str = DATE) -> list[Problem]:
    """A day is acceptable when it is not after today and its year has a target catalogue.

    The daily report refuses a row of another year with this (a typed report of another
    year is a wrong file); the raw sources leave such days out instead (:class:`OtherYears`)."""
    where = dict(file=file, row=row, column=column, value=day.isoformat())
    future = future_problems(day, ctx, file, row, column)
    if future:
        return future
    years = ctx.catalogues.years(ctx.hotline.id)
    if day.year not in years:
        known = ", ".join(map(str, sorted(years))) or M_("none")
        return [Problem(why=M_("no target catalogue for {hotline} in {year} (catalogue years: {known})",
                               hotline=ctx.hotline.id, year=day.year, known=known), **where)]
    return []


def add_year_how_to(ctx: IngestContext, years: list[int]) -> Msg:
    """How to add target catalogues for ``years``: a file each, inheriting the nearest
    catalogue year's file."""
    year = years[0]
    have = ctx.catalogues.years(ctx.hotline.id)
    if not have:
        return M_("add a target catalogue for {hotline} and {year}", hotline=ctx.hotline.id, year=year)
    near = min(have, key=lambda y: (abs(y - year), -y))
    cat = ctx.catalogues.get(ctx.hotline.id, near)
    parent = Path(cat.source_path).name if cat is not None and cat.source_path else f"{ctx.hotline.id}-{near}.yaml"
    each = M_(" (one file a year)") if len(years) > 1 else ""
    return M_("to load {years}, add a catalogue file for {year}{each} next to {parent} "
              "(e.g. {hotline}-{year}.yaml) holding `inherits: {parent}` and `year: {year}` "
              "(then override what differs)", years=", ".join(map(str, years)), year=year, each=each,
              parent=parent, hotline=ctx.hotline.id)


class OtherYears:
    """The days of a raw source's file whose year has no target catalogue.

    Their records are left out and the rest of the file loads, with one note naming them
    (:meth:`note`); a file with no day in a catalogue year is refused (:meth:`refusal`).
    Future days are not this: they stay refused (:func:`future_problems`).
    """

    def __init__(self, ctx: IngestContext, file: str):
        self.ctx, self.file = ctx, file
        self.years = frozenset(ctx.catalogues.years(ctx.hotline.id))
        self.days: set[dt.date] = set()
        self.records = 0

    def covers(self, day: dt.date) -> bool:
        """Whether ``day`` has a catalogue; if not, it is remembered (and one record counted)."""
        if day.year in self.years:
            return True
        self.days.add(day)
        self.records += 1
        return False

    def _what(self) -> tuple[Msg, Msg]:
        days = sorted(self.days)
        first, last = days[0].isoformat(), days[-1].isoformat()
        span = (M_("1 day, {first},", first=first) if len(days) == 1
                else M_("{n:,} days, {first} … {last},", n=len(days), first=first, last=last))
        found = sorted({d.year for d in days})
        known = ", ".join(map(str, sorted(self.years))) or M_("none")
        why = M_("no target catalogue for {hotline} in {year} (catalogue years: {known})",
                 hotline=self.ctx.hotline.id, year=", ".join(map(str, found)), known=known)
        return span, M_("{why}; {how}", why=why, how=add_year_how_to(self.ctx, found))

    def note(self, what: str, counted: bool = True) -> list[Msg]:
        """The one note naming the days left out (none if there are none): "3 ticket(s) on
        ..." with ``what`` = "ticket(s)" (the records :meth:`covers` counted), or "the calls
        of ..." with ``what`` = "calls" and ``counted`` False."""
        if not self.days:
            return []
        days, why = self._what()
        left = (M_("{n:,} {what} on {days}", n=self.records, what=what, days=days) if counted
                else M_("the {what} of {days}", what=what, days=days))
        return [M_("{left} not loaded: {why}; then load those days from a file of their own (this file is "
                   "now loaded: loading it again changes nothing)", left=left, why=why)]

    def refusal(self) -> IngestRejected:
        """The rejection of a file none of whose days has a catalogue."""
        days, why = self._what()
        return IngestRejected(self.file, [Problem(self.file, M_(
            "no day of the file has a target catalogue (it holds {days}): {why}; then load the file again",
            days=str(days)[:-1], why=why))])


def check_records(records: Iterable[DayRecord], ctx: IngestContext, file: str,
                  labels: Mapping[str, str] | None = None) -> list[Problem]:
    """Checks every source shares: dates, counter ranges, part <= whole, one row a day.

    ``labels``: counter -> its column as written in the file (the daily report's header),
    so that a part above its whole names both columns the way the clerk sees them.
    """
    named = labels or {}

    def label(counter: str) -> str:
        return named.get(counter) or counter_name(counter)
    problems: list[Problem] = []
    seen: dict[dt.date, int | None] = {}
    for rec in records:
        where = dict(file=file, row=rec.row)
        if rec.day in seen:
            first = seen[rec.day]
            also = M_(" (also at row {row})", row=first) if first is not None else ""
            problems.append(Problem(why=M_("day {day} appears twice{also}", day=rec.day.isoformat(), also=also),
                                    column=named.get("date", DATE),
                                    value=rec.day.isoformat(), **where))
        seen[rec.day] = rec.row
        problems += day_problems(rec.day, ctx, file, rec.row, named.get("date", DATE))
        for name, value in rec.counters.items():
            if name not in COUNTERS:
                problems.append(Problem(why=M_("unknown counter {name}", name=repr(name)), column=name, **where))
                continue
            problems += _check_value(label(name), name, value, file, rec.row)
        for part, whole in COUNTER_BOUNDS:
            a, b = rec.counters.get(part), rec.counters.get(whole)
            if a is not None and b is not None and _finite(a) and _finite(b) and a > b:
                lp, lw = label(part), label(whole)
                problems.append(Problem(why=M_("{part} ({a}) is greater than {whole} ({b})", part=lp,
                                               a=plain_number(a), whole=lw, b=plain_number(b)), column=lp,
                                        value=plain_number(a), **where))
        offered, answered, short = (rec.counters.get(c) for c in
                                    ("calls_offered", "calls_answered", "calls_abandoned_short"))
        if None not in (offered, answered, short) and all(map(_finite, (offered, answered, short))):
            # A short abandon is an unanswered call: both together cannot exceed the offered calls.
            if answered + short > offered:  # type: ignore[operator]
                la, ls, lo = (label(c) for c in ("calls_answered", "calls_abandoned_short", "calls_offered"))
                problems.append(Problem(why=M_("{la} ({answered}) + {ls} ({short}) exceed {lo} ({offered})",
                                               la=la, answered=plain_number(answered), ls=ls, short=plain_number(short),
                                               lo=lo, offered=plain_number(offered)),
                                        column=ls, value=plain_number(short), **where))
        for channel, count in rec.channels.items():
            label = f"{label('requests_accepted')}[{channel}]"
            problems += _check_value(label, label, count, file, rec.row)
    return problems


def _finite(v: float) -> bool:
    """A number within the plausible range: only those are compared with each other (a value
    beyond it is reported by :func:`_check_value`; an int of 400 digits cannot even be
    converted to float for ``math.isfinite`` or ``:g``)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    return abs(v) <= MAX_COUNT if isinstance(v, int) else math.isfinite(v) and abs(v) <= MAX_COUNT


def _check_value(label: str, name: str, value: float, file: str, row: int | None) -> list[Problem]:
    """``label``: the column as written in the file (the counter's name if the file has no header)."""
    shown = written(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return [Problem(file, M_("{name} must be a number", name=label), row, label, shown)]
    if isinstance(value, float) and not math.isfinite(value):  # an int is finite (and may not fit a float)
        return [Problem(file, M_("{name} must be a finite number", name=label), row, label, shown)]
    if value < 0:
        return [Problem(file, M_("{name} cannot be negative", name=label), row, label, shown)]
    if value > MAX_COUNT:
        return [Problem(file, M_("{name} exceeds the plausible maximum {max:,}", name=label, max=MAX_COUNT),
                        row, label, shown)]
    if name not in FLOAT_COUNTERS and value != int(value):
        return [Problem(file, M_("{name} must be a whole number", name=label), row, label, shown)]
    return []


def require_clean(records: list[DayRecord], ctx: IngestContext, file: str, problems: list[Problem],
                  labels: Mapping[str, str] | None = None) -> None:
    """Raise :class:`IngestRejected` with ``problems`` plus the shared checks, if any."""
    problems = problems + check_records(records, ctx, file, labels)
    if not records and not problems:
        problems.append(Problem(file, M_("the file holds no days")))
    if problems:
        raise IngestRejected(file, problems)
