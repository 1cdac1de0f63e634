"""The settings of the self-evaluation's scoring: bands, grades, caps, rounding.

Settings (``report.scoring``) validate them; :mod:`hotline_kpi.report.scoring` applies them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
