"""Report runs: which year-end self-evaluations were drafted, claimed once across processes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline_kpi.store.models import ReportRunRow


def report_run(session: Session, hotline_id: str, year: int):  # noqa: ANN201 - ReportRunRow | None
    return session.get(ReportRunRow, (hotline_id, year))


def claim_report_run(session: Session, hotline_id: str, year: int, at: dt.datetime) -> bool:
    """Record that the ``year`` report of ``hotline_id`` is being drafted; False when it
    was already (the row's primary key makes a second claim fail, across processes)."""
    if session.get(ReportRunRow, (hotline_id, year)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(ReportRunRow(hotline_id=hotline_id, year=year, drafted_at=at, mailed_at=None, files=""))
    except IntegrityError:
        return False
    return True
