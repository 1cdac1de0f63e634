"""The one ingest protocol, its errors, and the checks every source shares.

An ingestor turns a file into a :class:`~hotline_kpi.domain.ParsedFile` with every day
validated, or raises :class:`IngestRejected` listing every problem it found (file, row,
column, value, why). It touches no database: parsing happens before the one short write
transaction of :mod:`hotline_kpi.ingest.pipeline`, so a rejected file stores nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Protocol

from hotline_kpi.catalogue import CatalogueSet, Hotline
from hotline_kpi.domain import COUNTER_BOUNDS, COUNTERS, FLOAT_COUNTERS, MAX_COUNT, DayRecord, ParsedFile
from hotline_kpi.formulas import FormulaSettings

#: Called with (units done, units total) while a file is read; units are bytes or rows.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Problem:
    """One reason a file was rejected, with its place."""

    file: str
    why: str
    row: int | None = None
    column: str | None = None
    value: str | None = None

    def __str__(self) -> str:
        place = self.file
        if self.row is not None:
            place += f", row {self.row}"
        if self.column is not None:
            place += f", column {self.column}"
        shown = ""
        if self.value is not None:
            v = self.value if len(self.value) <= 80 else self.value[:77] + "..."
            shown = f", value {v!r}"
        return f"{place}{shown}: {self.why}"


class IngestRejected(ValueError):
    """A file was rejected as a whole; ``problems`` lists every reason found."""

    def __init__(self, file: str, problems: Iterable[Problem]):
        self.file = file
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("IngestRejected needs at least one problem")
        shown = self.problems[:50]
        more = len(self.problems) - len(shown)
        lines = [f"{file}: rejected, nothing stored ({len(self.problems)} problem(s)):"]
        lines += [f"  - {p}" for p in shown]
        if more:
            lines.append(f"  ... and {more} more")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class IngestContext:
    """What an ingestor may know besides the file: no session, no clock, no settings object."""

    hotline: Hotline
    catalogues: CatalogueSet
    #: Today's local date in the hotline's zone: days after it are rejected as future.
    today: dt.date
    formulas: FormulaSettings = field(default_factory=FormulaSettings)
    progress: Progress | None = None


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


def check_records(records: Iterable[DayRecord], ctx: IngestContext, file: str) -> list[Problem]:
    """Checks every source shares: dates, counter ranges, part <= whole, one row a day."""
    problems: list[Problem] = []
    seen: dict[dt.date, int | None] = {}
    years = set(ctx.catalogues.years(ctx.hotline.id))
    for rec in records:
        where = dict(file=file, row=rec.row)
        if rec.day in seen:
            first = seen[rec.day]
            also = f" (also at row {first})" if first is not None else ""
            problems.append(Problem(why=f"day {rec.day.isoformat()} appears twice{also}", column="date",
                                    value=rec.day.isoformat(), **where))
        seen[rec.day] = rec.row
        if rec.day > ctx.today:
            problems.append(Problem(why=f"date is in the future (today is {ctx.today.isoformat()} in "
                                    f"{ctx.hotline.timezone})", column="date", value=rec.day.isoformat(), **where))
        elif rec.day.year not in years:
            known = ", ".join(map(str, sorted(years))) or "none"
            problems.append(Problem(why=f"no target catalogue for {ctx.hotline.id} in {rec.day.year} "
                                    f"(catalogue years: {known})", column="date", value=rec.day.isoformat(), **where))
        for name, value in rec.counters.items():
            if name not in COUNTERS:
                problems.append(Problem(why=f"unknown counter {name!r}", column=name, **where))
                continue
            problems += _check_value(name, value, file, rec.row)
        for part, whole in COUNTER_BOUNDS:
            a, b = rec.counters.get(part), rec.counters.get(whole)
            if a is not None and b is not None and _finite(a) and _finite(b) and a > b:
                problems.append(Problem(why=f"{part} ({a:g}) is greater than {whole} ({b:g})", column=part,
                                        value=f"{a:g}", **where))
        offered, answered, short = (rec.counters.get(c) for c in
                                    ("calls_offered", "calls_answered", "calls_abandoned_short"))
        if None not in (offered, answered, short) and all(map(_finite, (offered, answered, short))):
            # A short abandon is an unanswered call: both together cannot exceed the offered calls.
            if answered + short > offered:  # type: ignore[operator]
                problems.append(Problem(why=f"calls_answered ({answered:g}) + calls_abandoned_short ({short:g}) "
                                        f"exceed calls_offered ({offered:g})", column="calls_abandoned_short",
                                        value=f"{short:g}", **where))
        for channel, count in rec.channels.items():
            problems += _check_value(f"requests_accepted[{channel}]", count, file, rec.row)
    return problems


def _finite(v: float) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_value(name: str, value: float, file: str, row: int | None) -> list[Problem]:
    shown = repr(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return [Problem(file, f"{name} must be a number", row, name, shown)]
    if not math.isfinite(value):
        return [Problem(file, f"{name} must be a finite number", row, name, shown)]
    if value < 0:
        return [Problem(file, f"{name} cannot be negative", row, name, shown)]
    if value > MAX_COUNT:
        return [Problem(file, f"{name} exceeds the plausible maximum {MAX_COUNT:,}", row, name, shown)]
    if name not in FLOAT_COUNTERS and value != int(value):
        return [Problem(file, f"{name} must be a whole number", row, name, shown)]
    return []


def require_clean(records: list[DayRecord], ctx: IngestContext, file: str, problems: list[Problem]) -> None:
    """Raise :class:`IngestRejected` with ``problems`` plus the shared checks, if any."""
    problems = problems + check_records(records, ctx, file)
    if not records and not problems:
        problems.append(Problem(file, "the file holds no days"))
    if problems:
        raise IngestRejected(file, problems)
