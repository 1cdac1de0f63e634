"""Two sources for one day: a counter of a file far from another source's current value of
the same counter and day (settings ``source_tolerance`` and ``source_tolerance_units``)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline_kpi.i18n import M_, source_label
from hotline_kpi.domain import COUNTERS, USUAL_HEADERS, DayRecord, counter_name
from hotline_kpi.problems import Problem, plain_number
from hotline_kpi.settings import DEFAULT_SOURCE_TOLERANCE_UNITS
from hotline_kpi.store.db import chunks
from hotline_kpi.store.models import IngestRow, SourceDayRow


def relative_difference(a: float, b: float) -> float:
    """|a - b| / max(|a|, |b|): 0 when equal (both 0 included), at most 1 for counts >= 0."""
    largest = max(abs(a), abs(b))
    return 0.0 if largest == 0 else abs(a - b) / largest


def _header(rec: DayRecord, counter: str) -> tuple[str, str]:
    """(column as problems name it, header alone) of ``counter`` in the file of ``rec``: the
    header as written ("受理量 (B)", "受理量"), else the counter's usual Chinese header."""
    label = rec.labels.get(counter)
    if label:
        return label, re.sub(r" \([A-Z]{1,3}\)$", "", label)
    usual = USUAL_HEADERS.get(counter) or counter_name(counter)
    return usual, usual


def _shown(v: float) -> str:
    return plain_number(round(v, 6))


def disagreements(session: Session, hotline_id: str, file_name: str, source: str, records: Sequence[DayRecord],
                  tolerance: float, units: float = DEFAULT_SOURCE_TOLERANCE_UNITS) -> list[Problem]:
    """Every counter of ``records`` further than ``tolerance`` (relative difference) and
    more than ``units`` (absolute difference) from another source's current value of that
    counter for the same day, with both places. The absolute floor keeps small counts
    (3 returns against 4: 25% apart) from counting as a disagreement.

    Only other sources are compared: a later file of the same source is a correction.
    ``tolerance`` >= 1 checks nothing (counts are never negative: never more than 100% apart).
    """
    if tolerance >= 1 or not records:
        return []
    by_day = {r.day: r for r in records}
    others: dict[dt.date, list[SourceDayRow]] = {}
    for chunk in chunks(sorted(by_day)):
        for row in session.scalars(select(SourceDayRow).where(
                SourceDayRow.hotline_id == hotline_id, SourceDayRow.source != source,
                SourceDayRow.is_current.is_(True), SourceDayRow.day.in_(chunk))):
            others.setdefault(row.day, []).append(row)
    files: dict[int, str] = {}
    for chunk in chunks(sorted({r.ingest_id for rows in others.values() for r in rows})):
        files.update((i, name) for i, name in session.execute(
            select(IngestRow.id, IngestRow.file_name).where(IngestRow.id.in_(chunk))))
    problems: list[Problem] = []
    for day in sorted(others):
        rec = by_day[day]
        for counter in COUNTERS:
            mine = rec.counters.get(counter)
            if mine is None:
                continue
            for other in sorted(others[day], key=lambda r: r.source):
                theirs = getattr(other, counter)
                if theirs is None:
                    continue
                apart = relative_difference(mine, theirs)
                if apart > tolerance and abs(mine - theirs) > units:
                    column, header = _header(rec, counter)
                    problems.append(Problem(
                        file_name, M_("{day}: {counter}: the {source} gives {mine} but the {other} ({file}) gives "
                                      "{theirs}, {apart:.1%} apart: more than the {tolerance:.1%} allowed (setting "
                                      "source_tolerance)",
                                      day=day.isoformat(), counter=header, source=source_label(source),
                                      mine=_shown(mine), other=source_label(other.source),
                                      file=files.get(other.ingest_id, "?"),
                                      theirs=_shown(theirs), apart=apart, tolerance=tolerance),
                        rec.row, column, _shown(mine)))
    return problems
