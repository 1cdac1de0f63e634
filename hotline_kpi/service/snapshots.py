"""Evaluation snapshots: the scoreboard JSON of each evaluation, kept as history.

The exporter, the status page and the API read the latest one per hotline; nothing at
scrape or page time evaluates. The document is :mod:`hotline_kpi.snapshot`'s: written by
its writers, read back as typed values by :func:`hotline_kpi.snapshot.read`
(:attr:`Snapshot.doc`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline_kpi.evaluate import Scoreboard
from hotline_kpi.snapshot import SnapshotDoc, read, scoreboard_to_json
from hotline_kpi.store.models import EvaluationSnapshotRow


@dataclass(frozen=True)
class Snapshot:
    id: int
    hotline_id: str
    as_of: dt.date
    data_date: dt.date | None
    evaluated_at: dt.datetime
    trigger: str
    #: The document as stored (served as is by /api/v1/scoreboard).
    payload: dict[str, Any]

    @cached_property
    def doc(self) -> SnapshotDoc:
        """The document as typed values, read once per snapshot."""
        return read(self.payload)


def _snapshot(row: EvaluationSnapshotRow) -> Snapshot:
    return Snapshot(row.id, row.hotline_id, row.as_of, row.data_date, row.evaluated_at, row.trigger,
                    json.loads(row.payload))


def store_snapshot(session: Session, sb: Scoreboard, at: dt.datetime, trigger: str,
                   extra: dict[str, Any] | None = None) -> int:
    payload = scoreboard_to_json(sb)
    if extra:
        payload.update(extra)
    row = EvaluationSnapshotRow(
        hotline_id=sb.hotline_id, as_of=sb.as_of, data_date=sb.data_date, evaluated_at=at.astimezone(dt.timezone.utc),
        trigger=trigger, payload=json.dumps(payload, ensure_ascii=False, allow_nan=False),
    )
    session.add(row)
    session.flush()
    return row.id


def latest_snapshots_reusing(session: Session, known: dict[str, Snapshot]) -> dict[str, Snapshot]:
    """The latest snapshot of each hotline; decodes only those not in ``known`` (same id)
    (the exporter refreshes often; a snapshot changes about once a day)."""
    ids = dict(
        session.execute(
            select(EvaluationSnapshotRow.hotline_id, func.max(EvaluationSnapshotRow.id))
            .group_by(EvaluationSnapshotRow.hotline_id)
        ).all()
    )
    out = {hid: known[hid] for hid, sid in ids.items() if hid in known and known[hid].id == sid}
    missing = [sid for hid, sid in ids.items() if hid not in out]
    if missing:
        for row in session.scalars(select(EvaluationSnapshotRow).where(EvaluationSnapshotRow.id.in_(missing))):
            out[row.hotline_id] = _snapshot(row)
    return out
