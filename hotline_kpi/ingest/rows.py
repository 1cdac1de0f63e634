"""What the exports of the raw systems (tickets, callbacks, spending) share around their
rows: recognising the export, and reading its rows into records with every problem kept
in its place, the read stopped after :data:`~hotline_kpi.ingest.base.MAX_PROBLEMS`, and
each day's check (future, no catalogue) made once per file. The records of a day whose
year has no target catalogue are left out with one note (a file with no other day is
refused): :class:`~hotline_kpi.ingest.base.OtherYears`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterator, Mapping

from hotline_kpi.i18n import M_
from hotline_kpi.ingest.base import MAX_PROBLEMS, IngestContext, OtherYears, future_problems
from hotline_kpi.ingest.sheet import Table
from hotline_kpi.ingest.workbook import TABLE_SUFFIXES, WORKBOOK_SUFFIXES
from hotline_kpi.ingest.text import decode_prefix, header_key
from hotline_kpi.problems import IngestRejected, Problem


def sniff_export(path: Path, head: bytes, *, names: tuple[str, ...], not_names: tuple[str, ...] = (),
                 aliases: Mapping[str, tuple[str, ...]], header: tuple[str, ...]) -> bool:
    """A table whose name holds one of ``names`` (and none of ``not_names``), or a CSV
    whose first line has every column of ``header`` under one of its ``aliases``. A name
    hint: :func:`~hotline_kpi.ingest.registry.detect_source` goes by content first."""
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        return False
    name = path.name.casefold()
    if any(w in name for w in not_names):
        return False
    if any(w in name for w in names):
        return True
    if suffix in WORKBOOK_SUFFIXES:
        return False  # content: read by detect_source
    text = decode_prefix(head) or ""
    first = [header_key(c) for c in text.splitlines()[0].replace("\t", ",").split(",")] if text else []
    return all(any(header_key(a) in first for a in (c, *aliases[c])) for c in header)


class RecordRows:
    """The rows of one export table, read into records.

    Iterating yields (row number, cells) until :data:`MAX_PROBLEMS` problems were found;
    a row's problems go to :attr:`problems`; :meth:`finish` then rejects the file with all
    of them, or when it held no record at all.
    """

    def __init__(self, table: Table, file: str, ctx: IngestContext):
        self.table, self.file, self.ctx = table, file, ctx
        #: The column headers as written in the file (with their letter in an XLSX).
        self.label = {name: c.label for name, c in table.columns.items()}
        self.problems: list[Problem] = []
        self._days: dict[dt.date, list[Problem]] = {}
        #: Days whose year has no catalogue: their records are left out (:meth:`covers`).
        self.other_years = OtherYears(ctx, file)

    def __iter__(self) -> Iterator[tuple[int, dict[str, object]]]:
        for row, cells in self.table.rows:
            if len(self.problems) >= MAX_PROBLEMS:
                self.problems.append(Problem(self.file, M_("stopped reading after {n} problems", n=MAX_PROBLEMS)))
                return
            yield row, cells

    def day(self, day: dt.date, row: int, column: str) -> list[Problem]:
        """Whether ``day`` may be read (not in the future, :func:`future_problems`), checked
        once per file: the first row of a day names the place. Whether its year has a
        catalogue is :meth:`covers`."""
        if day not in self._days:
            self._days[day] = future_problems(day, self.ctx, self.file, row, column=column)
        return self._days[day]

    def covers(self, day: dt.date) -> bool:
        """Whether a valid record of ``day`` is kept: False (it is left out, and counted for
        the note) when its year has no target catalogue."""
        return self.other_years.covers(day)

    def finish(self, records: int, what: str, each: str) -> list[str]:
        """Reject the file with every problem found, or when it held no ``what`` (``each``:
        one of them, as in "ticket(s)"); else the notes (the days left out)."""
        if self.problems:
            raise IngestRejected(self.file, self.problems, sheet=self.table.sheet or None, notes=self.table.notes)
        if not records:
            if self.other_years.days:
                raise self.other_years.refusal()
            raise IngestRejected(self.file, [Problem(self.file, M_("the export holds no {what}", what=what))],
                                 sheet=self.table.sheet or None)
        return self.other_years.note(each)
