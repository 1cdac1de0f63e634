"""The 项目资金 block of the self-evaluation: the funding the office enters checked against
the catalogue's budget lines (they must add up; no source of funds negative), and the
execution per source of funds shown only where the ledger gives it. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hotline_kpi.catalogue import Catalogue
from hotline_kpi.i18n import M_, join
from hotline_kpi.scoring_rules import ScoringError

WAN = 10_000


@dataclass(frozen=True)
class FundingRow:
    label: str
    initial_wan: float | None
    full_year_wan: float | None
    executed_wan: float | None
    weight: float | None = None
    rate: float | None = None
    score: float | None = None


#: Said where the execution per source of funds is left blank.
NOT_SPLIT = "支出台账未记录资金来源，全年执行数未按当年财政拨款、上年结转资金、其他资金分列，只列合计。"


class FundingError(ScoringError):
    """The funding entered does not add up; ``problems`` name each figure."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def _wan(yuan: float) -> str:
    return f"{yuan / WAN:,.2f}"


def check_funding(catalogue: Catalogue, fund: Any, full_year: float, initial: float) -> None:
    """The budget lines add up to the full-year budget, and no source of funds is negative."""
    problems: list[str] = []
    project = catalogue.project
    lines = project.budget_lines if project else ()
    lines_total = sum(ln.amount_yuan for ln in lines)
    if lines and fund.full_year_budget_yuan is not None and abs(fund.full_year_budget_yuan - lines_total) > 0.5:
        problems.append(str(M_(
            "funding.full_year_budget_yuan: the full-year budget {budget} 万元 is not the sum of the budget lines "
            "{total} 万元 ({lines}); enter the budget the lines add up to, or correct the lines in the target "
            "catalogue", budget=_wan(fund.full_year_budget_yuan), total=_wan(lines_total),
            lines=join(f"{ln.name} {_wan(ln.amount_yuan)}" for ln in lines))))
    others = fund.carried_over_yuan + fund.other_yuan
    for key, budget in (("full_year_budget_yuan", full_year), ("initial_budget_yuan", initial)):
        if others > budget + 0.5:
            problems.append(str(M_(
                "funding: carried over {carried} 万元 plus other funds {other} 万元 exceed the budget "
                "({key}) {budget} 万元: the year's own appropriation would be {fiscal} 万元",
                carried=_wan(fund.carried_over_yuan), other=_wan(fund.other_yuan), key=key, budget=_wan(budget),
                fiscal=_wan(budget - others))))
    if problems:
        raise FundingError(problems)


def funding_rows(fund: Any, initial: float, full_year: float, executed: float, weight: float, rate: float | None,
                 score: float, notes: list[str]) -> tuple[FundingRow, ...]:
    """年度资金总额 and its sources. The ledger records no source of funds: execution per
    source is known only when all of it is 当年财政拨款; otherwise it is left blank and a
    note says so (never a pro-rata estimate shown as fact)."""
    single = not fund.carried_over_yuan and not fund.other_yuan
    if not single:
        notes.append(NOT_SPLIT)
    others = fund.carried_over_yuan + fund.other_yuan
    return (
        FundingRow("年度资金总额", initial / WAN, full_year / WAN, executed / WAN, weight, rate, score),
        FundingRow("其中：当年财政拨款", (initial - others) / WAN, (full_year - others) / WAN,
                   executed / WAN if single else None),
        FundingRow("上年结转资金", fund.carried_over_yuan / WAN, fund.carried_over_yuan / WAN, 0.0 if single else None),
        FundingRow("其他资金", fund.other_yuan / WAN, fund.other_yuan / WAN, 0.0 if single else None),
    )
