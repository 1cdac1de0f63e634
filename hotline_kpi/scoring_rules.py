"""The settings of the self-evaluation's scoring: bands, grades, caps, rounding.

Settings (``report.scoring``) validate them; :mod:`hotline_kpi.report.scoring` applies them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hotline_kpi.i18n import _, q


class Band(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    #: What the band means (达成 / 部分达成 / 未达成); the office may rate by name or label.
    label: str = ""
    #: Share of the weight, percent: low (inclusive) .. high (inclusive).
    low: float = Field(ge=0, le=100)
    high: float = Field(ge=0, le=100)


class RankBand(BaseModel):
    """A national rank at or above ``rank_at_most`` earns the band ``band``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rank_at_most: int = Field(ge=1)
    band: str


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
        (Band(name="A", label="达成", low=80, high=100), Band(name="B", label="部分达成", low=60, high=80),
         Band(name="C", label="未达成", low=0, high=60)),
        description="Bands of a qualitative indicator, percent of its weight (central practice 100-80/80-60/60-0; "
        "a local variant uses 80-50).")
    band_score: Literal["top", "middle", "bottom"] = Field(
        "top", description="What a band given without a percentage scores.")
    ranking_bands: tuple[RankBand, ...] = Field(
        (RankBand(rank_at_most=1, band="A"), RankBand(rank_at_most=5, band="B")),
        description="The 影响力目标 row: the band a national rank earns (first match, best first); a rank "
        "below every entry earns the last band.")
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
        names = {b.name for b in self.qualitative_bands}
        for rb in self.ranking_bands:
            if rb.band not in names:
                raise ValueError(f"ranking band {rb.band!r} is not one of the qualitative bands")
        if [g.at_least for g in self.grades] != sorted((g.at_least for g in self.grades), reverse=True):
            raise ValueError("grades must be listed highest first")
        if not self.grades or self.grades[-1].at_least != 0:
            raise ValueError("the last grade must start at 0")
        return self

    def band(self, name: str) -> Band:
        for b in self.qualitative_bands:
            if name.strip().casefold() in (b.name.casefold(), b.label.casefold()):
                return b
        known = "、".join(f"{b.name}（{b.label}）" if b.label else b.name for b in self.qualitative_bands)
        raise ScoringError(_("unknown rating {name} (ratings: {known})", name=q(name), known=known))

    def rank_band(self, rank: int) -> Band:
        for rb in self.ranking_bands:
            if rank <= rb.rank_at_most:
                return self.band(rb.band)
        return self.qualitative_bands[-1]


class ScoringError(ValueError):
    """An input cannot be scored (a band that does not exist, a percentage outside its band)."""
