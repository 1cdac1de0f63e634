"""Scoring rules of the self-evaluation (docs/report.md), pure: numbers in, points out.

Defaults follow 财预〔2020〕10号 practice and are all settings (``report.scoring``):

- budget execution: score = weight x 执行率, capped at the weight (86.19% of 10 -> 8.62);
- a positive quantitative indicator (>= X): actual / target x weight; a reverse one
  (<= X): target / actual x weight; both capped at the weight;
- a qualitative indicator: the office rates it in a band of the weight, 100-80 / 80-60 /
  60-0 % (A / B / C); a band given without a percentage scores the band's top;
- a not-applicable indicator drops out and the total is rescaled to 100;
- grades: 优 90-100, 良 80-89, 中 60-79, 差 0-59.

Scores are rounded half-up to ``decimals`` places as shown in the table, and the total
is the rescaled sum of the rounded scores, so the printed figures add up.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable

from hotline_kpi.domain import Comparator
from hotline_kpi.i18n import M_
from hotline_kpi.scoring_rules import ScoringError, ScoringRules


def round_score(x: float, decimals: int = 2) -> float:
    """Half-up, as people round (8.615 -> 8.62; Python's round() would give 8.61)."""
    return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def _cap(points: float, weight: float, rules: ScoringRules) -> float:
    points = max(0.0, points)
    return min(points, weight) if rules.cap_at_weight else points


def budget_execution_score(executed_yuan: float, budget_yuan: float, weight: float,
                           rules: ScoringRules = ScoringRules()) -> float:
    """weight x 执行率 (executed / full-year budget); a zero budget scores 0."""
    if budget_yuan <= 0:
        return 0.0
    return round_score(_cap(weight * executed_yuan / budget_yuan, weight, rules), rules.decimals)


def quantitative_score(actual: float, target: float, comparator: Comparator, weight: float,
                       rules: ScoringRules = ScoringRules()) -> float:
    """Positive (>=, >): actual / target x weight; reverse (<=, <): target / actual x weight.

    A reverse indicator with an actual of 0 (no fault at all, no wait) earns the weight;
    a positive one with a target of 0 earns it whenever the actual is not negative.
    """
    if comparator.higher_is_better:
        ratio = 1.0 if target <= 0 else actual / target
    else:
        ratio = 1.0 if actual <= 0 else target / actual
    return round_score(_cap(ratio * weight, weight, rules), rules.decimals)


def qualitative_score(weight: float, band: str, percent: float | None = None,
                      rules: ScoringRules = ScoringRules()) -> float:
    """The office's rating: a band, optionally a percentage of the weight within it."""
    b = rules.band(band)
    if percent is None:
        percent = {"top": b.high, "middle": (b.low + b.high) / 2, "bottom": b.low}[rules.band_score]
    elif not b.low <= percent <= b.high:
        raise ScoringError(str(M_("{percent}% is outside band {band} ({low}-{high}%)", percent=f"{percent:g}",
                                  band=b.name, low=f"{b.low:g}", high=f"{b.high:g}")))
    return round_score(weight * percent / 100, rules.decimals)


@dataclass(frozen=True)
class Scored:
    id: str
    weight: float
    #: ``None``: not applicable (drops out of the total).
    score: float | None


@dataclass(frozen=True)
class Total:
    #: Sum of the scores of the applicable items.
    raw: float
    #: Sum of the weights of the applicable items.
    applicable_weight: float
    #: ``raw`` rescaled to 100 (equal to ``raw`` when every item applies and weights add to 100).
    total: float
    grade: str
    dropped: tuple[str, ...]


def total_score(items: Iterable[Scored], rules: ScoringRules = ScoringRules(), full: float = 100) -> Total:
    items = list(items)
    applicable = [i for i in items if i.score is not None]
    raw = sum(i.score for i in applicable if i.score is not None)
    weight = sum(i.weight for i in applicable)
    total = 0.0 if weight <= 0 else raw * full / weight
    total = round_score(total, rules.decimals)
    return Total(round_score(raw, rules.decimals), weight, total, grade(total, rules),
                 tuple(i.id for i in items if i.score is None))


def grade(total: float, rules: ScoringRules = ScoringRules()) -> str:
    for g in rules.grades:
        if total >= g.at_least:
            return g.name
    return rules.grades[-1].name
