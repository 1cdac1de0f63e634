"""The store-backed evaluation: the SQL window sums, daily rows and spending of one
hotline fed to the pure evaluation (:mod:`hotline_kpi.evaluate`), forecast and budget."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy.orm import Session

from hotline_kpi.budget import Execution, execution_of
from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.domain import Window
from hotline_kpi.evaluate import Scoreboard, WindowResult, build_scoreboard, evaluate
from hotline_kpi.forecast import Projection, project
from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.snapshot import extras_to_json, scoreboard_to_json
from hotline_kpi.store import sums


def default_as_of(session: Session, hotline_id: str, today: dt.date) -> dt.date:
    """The last day with data, but never today or later (today's figures are incomplete);
    yesterday when the hotline has no data up to then."""
    yesterday = today - dt.timedelta(days=1)
    return sums.last_data_day(session, hotline_id, not_after=yesterday) or yesterday


def load_scoreboard(
    session: Session, catalogues: CatalogueSet, formulas: FormulaSettings, hotline_id: str, as_of: dt.date
) -> Scoreboard:
    return load_evaluation(session, catalogues, formulas, hotline_id, as_of, with_projections=False).scoreboard


@dataclass(frozen=True)
class Evaluation:
    """A scoreboard and the year-end projections of the same hotline and as-of date."""

    scoreboard: Scoreboard
    projections: tuple[Projection, ...] = ()
    #: Budget execution of the year up to the as-of month (None without a budget in the catalogue).
    budget: Execution | None = None

    def extra_json(self) -> dict[str, Any]:
        """The keys the projections and budget execution add to the scoreboard JSON
        (docs/forecast.md, docs/report.md)."""
        return extras_to_json(self.projections, self.budget, self.scoreboard.as_of)

    def to_json(self) -> dict[str, Any]:
        return {**scoreboard_to_json(self.scoreboard), **self.extra_json()}


def load_evaluation(
    session: Session,
    catalogues: CatalogueSet,
    formulas: FormulaSettings,
    hotline_id: str,
    as_of: dt.date,
    *,
    with_projections: bool = True,
) -> Evaluation:
    """Scoreboard (sums in SQL) and projections (fitted on this year's and, where
    stored, the previous year's daily rows) of one hotline."""
    catalogue = catalogues.for_year(hotline_id, as_of.year)
    fmap = {i.id: i.formula_for(formulas) for i in catalogue.quantitative}
    aggregates = sums.window_aggregates(session, [hotline_id], as_of, fmap)[hotline_id]
    rows = sums.daily_counters(session, hotline_id, dt.date(as_of.year, 1, 1), as_of)
    board = build_scoreboard(catalogue, formulas, aggregates, rows, as_of, hotline_id)
    if not with_projections:
        return Evaluation(board)
    previous = sums.daily_counters(session, hotline_id, dt.date(as_of.year - 1, 1, 1), dt.date(as_of.year - 1, 12, 31))
    budget = None
    spending: dict[tuple[int, str], float] = {}
    if catalogue.project is not None and catalogue.project.budget_lines:
        spending = {k: v for k, v in sums.monthly_spending(session, hotline_id, as_of.year).items()
                    if k[0] <= as_of.month}
    if spending:  # no ledger loaded: no execution figures (not "0% executed")
        ytd_requests = next((r.value for r in board.results
                             if r.indicator_id == "requests_accepted" and r.window == Window.YEAR_TO_DATE), None)
        budget = execution_of(catalogue, spending, ytd_requests)
    return Evaluation(board, project(catalogue, formulas, rows, as_of, previous_year_rows=previous), budget)


def evaluate_many(
    session: Session,
    catalogues: CatalogueSet,
    formulas: FormulaSettings,
    hotline_ids: Sequence[str],
    as_of: dt.date,
) -> dict[str, tuple[WindowResult, ...]]:
    """Every indicator and window of many hotlines: one grouped SQL scan per catalogue shape."""
    out: dict[str, tuple[WindowResult, ...]] = {}
    by_shape: dict[tuple[str, ...], list[str]] = {}
    for hid in hotline_ids:
        cat = catalogues.for_year(hid, as_of.year)
        by_shape.setdefault(tuple(i.formula or "" for i in cat.quantitative), []).append(hid)
    for hids in by_shape.values():
        cat0 = catalogues.for_year(hids[0], as_of.year)
        fmap = {i.id: i.formula_for(formulas) for i in cat0.quantitative}
        by_hotline = sums.window_aggregates(session, hids, as_of, fmap)
        for hid in hids:
            out[hid] = evaluate(catalogues.for_year(hid, as_of.year), formulas, by_hotline[hid], as_of)
    return out
