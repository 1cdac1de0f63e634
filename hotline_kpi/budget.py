"""Budget execution: the year's spending per budget line and month against the budget.

Pure: a catalogue (its project's budget lines) and the spending ledger's sums in,
figures out. Read by the evaluation (the ``budget`` key of the scoreboard JSON, the
exporter) and by the self-evaluation report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from hotline_kpi.catalogue import Catalogue


@dataclass(frozen=True)
class BudgetLineExecution:
    id: str
    name: str
    budget_yuan: float
    executed_yuan: float

    @property
    def rate(self) -> float | None:
        return self.executed_yuan / self.budget_yuan if self.budget_yuan else None


@dataclass(frozen=True)
class Execution:
    """Budget execution of the year (or up to a month)."""

    lines: tuple[BudgetLineExecution, ...]
    #: Yuan spent per month (1..12), all lines.
    monthly_yuan: tuple[float, ...]
    budget_yuan: float
    requests_accepted: float | None

    @property
    def executed_yuan(self) -> float:
        return sum(ln.executed_yuan for ln in self.lines)

    @property
    def rate(self) -> float | None:
        return self.executed_yuan / self.budget_yuan if self.budget_yuan else None

    def even_pace_yuan(self, month: int) -> float:
        """What an even spend would have reached by the end of ``month``."""
        return self.budget_yuan * month / 12

    @property
    def cost_per_request(self) -> float | None:
        return self.executed_yuan / self.requests_accepted if self.requests_accepted else None


def execution_of(catalogue: Catalogue, spending: Mapping[tuple[int, str], float],
                 requests_accepted: float | None, full_year_budget_yuan: float | None = None) -> Execution:
    """Execution per line and month from {(month, line id): yuan}."""
    project = catalogue.project
    lines = project.budget_lines if project else ()
    out = tuple(BudgetLineExecution(ln.id, ln.name, ln.amount_yuan,
                                    sum(v for (m, lid), v in spending.items() if lid == ln.id)) for ln in lines)
    monthly = tuple(sum(v for (m, _), v in spending.items() if m == month) for month in range(1, 13))
    budget = full_year_budget_yuan or (project.budget_total_yuan if project and project.budget_total_yuan else
                                       sum(ln.amount_yuan for ln in lines))
    return Execution(out, monthly, budget, requests_accepted)
