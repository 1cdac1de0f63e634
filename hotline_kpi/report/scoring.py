"""Scoring rules of the self-evaluation (kpi.md §3), pure: numbers in, points out.

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
from typing import Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hotline_kpi.domain import Comparator


class Band(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    #: Share of the weight, percent: low (inclusive) .. high (inclusive).
    low: float = Field(ge=0, le=100)
    high: float = Field(ge=0, le=100)


class Grade(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    #: The lowest total that earns this grade.
    at_least: float = Field(ge=0, le=100)


class ScoringRules(BaseModel):
    """How the self-evaluation is scored (HOTLINE_KPI_REPORT__SCORING__<NAME>)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cap_at_weight: bool = Field(True, description="A score never exceeds its weight (over-achievement earns nothing).")
    qualitative_bands: tuple[Band, ...] = Field(
        (Band(name="A", low=80, high=100), Band(name="B", low=60, high=80), Band(name="C", low=0, high=60)),
        description="Bands of a qualitative indicator, percent of its weight (central practice 100-80/80-60/60-0; "
        "a local variant uses 80-50).")
    band_score: Literal["top", "middle", "bottom"] = Field(
        "top", description="What a band given without a percentage scores.")
    no_data: Literal["zero", "not_applicable"] = Field(
        "zero", description="A quantitative indicator without data for the year scores 0, or drops out like a "
        "not-applicable one.")
    grades: tuple[Grade, ...] = Field(
        (Grade(name="优", at_least=90), Grade(name="良", at_least=80), Grade(name="中", at_least=60),
         Grade(name="差", at_least=0)),
        description="Grades by total score, highest first.")
    decimals: int = Field(2, ge=0, le=4, description="Decimals of every score (rounded half-up).")

    @model_validator(mode="after")
    def _ordered(self) -> "ScoringRules":
        for b in self.qualitative_bands:
            if b.low > b.high:
                raise ValueError(f"band {b.name}: low {b.low} is above high {b.high}")
        if [g.at_least for g in self.grades] != sorted((g.at_least for g in self.grades), reverse=True):
            raise ValueError("grades must be listed highest first")
        if not self.grades or self.grades[-1].at_least != 0:
            raise ValueError("the last grade must start at 0")
        return self

    def band(self, name: str) -> Band:
        for b in self.qualitative_bands:
            if b.name.casefold() == name.strip().casefold():
                return b
        raise ScoringError(f"unknown band {name!r} (bands: {', '.join(b.name for b in self.qualitative_bands)})")


class ScoringError(ValueError):
    """An input cannot be scored (a band that does not exist, a percentage outside its band)."""


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
        raise ScoringError(f"{percent:g}% is outside band {b.name} ({b.low:g}-{b.high:g}%)")
    return round_score(weight * percent / 100, rules.decimals)


def band_of(percent: float, rules: ScoringRules = ScoringRules()) -> str:
    """The band a percentage of the weight falls in (the higher band on a shared edge)."""
    for b in rules.qualitative_bands:
        if b.low <= percent <= b.high:
            return b.name
    return rules.qualitative_bands[-1].name


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
