"""The evaluation job: evaluate every hotline with data and store the snapshots."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Sequence

from sqlalchemy import Engine

from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import Clock, local_today
from hotline_kpi.evaluation import default_as_of, load_evaluation
from hotline_kpi.service.snapshots import store_snapshot
from hotline_kpi.settings import Settings
from hotline_kpi.store import sums
from hotline_kpi.store.db import read_session, write_session

if TYPE_CHECKING:
    from hotline_kpi.alerts.alerting import Alerting

log = logging.getLogger(__name__)


def evaluate_hotlines(engine: Engine, settings: Settings, catalogues: CatalogueSet, clock: Clock, trigger: str,
                      hotline_ids: Sequence[str] | None = None, alerting: Alerting | None = None) -> list[str]:
    """Evaluate (as of each hotline's last day with data, not after yesterday) and store a
    snapshot per hotline in one transaction; returns the hotlines evaluated. With
    ``alerting``, the alert rules are judged against each snapshot in that transaction."""
    known = {h.id for h in catalogues.hotlines()}
    done: list[str] = []
    boards = []
    with read_session(engine) as s:
        ids = list(hotline_ids) if hotline_ids is not None else sums.hotline_ids_with_data(s)
        for hid in ids:
            if hid not in known:
                continue
            as_of = default_as_of(s, hid, local_today(clock, catalogues.hotline(hid).zone))
            if catalogues.get(hid, as_of.year) is None:
                log.warning("no target catalogue for %s in %s: not evaluated", hid, as_of.year)
                continue
            boards.append(load_evaluation(s, catalogues, settings.formulas, hid, as_of))
    with write_session(engine) as s:
        at = clock.now()
        for ev in boards:
            sb = ev.scoreboard
            snapshot_id = store_snapshot(s, sb, at, trigger, extra=ev.extra_json())
            if alerting is not None:
                # Alert state changes (and their outbox rows) commit or roll back with the
                # evaluation that caused them.
                alerting.on_snapshot(s, snapshot_id, at)
            done.append(sb.hotline_id)
    return done
