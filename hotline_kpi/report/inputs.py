"""What the report reads besides the store: the office's input file (YAML, or the XLSX
template of :mod:`.inputs_xlsx`) and the peer benchmark. A bad file raises an error that
names the file and the key (``indicators.cost_control.band``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import re
import unicodedata

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hotline_kpi.files import ConfigFileError, read_yaml
from hotline_kpi.i18n import M_, Msg, q
from hotline_kpi.validation import problem, shown_value


class InputsError(ConfigFileError):
    what = M_("report input file")


class BenchmarkError(ConfigFileError):
    what = M_("benchmark file")


def percent_of(value: Any, shown_as_percent: bool = False) -> float:
    """The office's 档内得分比例 as a percentage of the weight (0-100), one rule for the YAML
    file and the workbook: 70, '70', '70%' and '７０％' are 70; a spreadsheet number shown
    as a percentage (0.5 formatted 0%, shown 50%) is 50; a bare number between 0 and 1 is
    refused as ambiguous (0.7 of what: 70% or 0.7%?)."""
    if isinstance(value, bool):
        raise ValueError(str(M_("{value} is not a percentage: write 70 or 70%", value=q(value))))
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip().replace(" ", "")
        explicit = text.endswith("%")
        try:
            number = float(text.rstrip("%"))
        except ValueError:
            raise ValueError(str(M_("{value} is not a percentage: write 70 or 70%", value=q(value)))) from None
    else:
        number, explicit = float(value), False
        if shown_as_percent:
            number, explicit = number * 100, True
    if not explicit and 0 < number < 1:
        raise ValueError(str(M_("{value} is ambiguous: write the percentage of the weight, e.g. 70 or 70% "
                                "(in a spreadsheet a cell formatted as a percentage also counts)", value=q(value))))
    if not 0 <= number <= 100:
        raise ValueError(str(M_("{value} is not between 0% and 100%", value=q(value))))
    return round(number, 6)


class IndicatorInput(BaseModel):
    """What the office says about one indicator."""

    model_config = ConfigDict(extra="forbid")

    applicable: bool = True
    #: Qualitative: the rating (a band's name or label, e.g. A or 达成) and optionally a
    #: percentage of the weight within it. No rating: the row scores nothing (a draft).
    band: str | None = None
    percent: float | None = None
    #: The evidence the rating rests on (佐证材料). A rating without it does not count.
    evidence: str = ""
    #: The 实际完成值 of a qualitative indicator (free text).
    actual_text: str = ""
    #: The office's 偏差原因分析及改进措施; replaces the draft when given.
    explanation: str = ""

    @field_validator("percent", mode="before")
    @classmethod
    def _percent(cls, value: Any) -> float | None:
        return None if value is None or value == "" else percent_of(value)


class RankingInput(BaseModel):
    """The year's national ranking of government hotlines, as published (影响力目标)."""

    model_config = ConfigDict(extra="forbid")

    rank: int | None = Field(None, ge=1)
    score: float | None = None
    #: Hotlines ranked (optional, shown as 第2名／共335条).
    of: int | None = Field(None, ge=1)
    #: Who published the ranking, and where (required for the rank to count).
    source: str = ""

    @model_validator(mode="after")
    def _rank_within(self) -> "RankingInput":
        if self.rank is not None and self.of is not None and self.rank > self.of:
            raise ValueError(str(M_("rank {rank} is below the last place: only {of} hotlines were ranked",
                                    rank=self.rank, of=self.of)))
        return self


class FundingInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: 年初预算数 / 全年预算数 in yuan; default: the catalogue's budget.
    initial_budget_yuan: float | None = None
    full_year_budget_yuan: float | None = None
    #: Of the total: 当年财政拨款 / 上年结转资金 / 其他资金 (default: all 当年财政拨款).
    carried_over_yuan: float = Field(0, ge=0)
    other_yuan: float = Field(0, ge=0)


class ReportInputs(BaseModel):
    """The file the office edits (`hotline-kpi report template` writes it, empty)."""

    model_config = ConfigDict(extra="forbid")

    hotline: str = ""
    year: int | None = None
    overall_actual: str = ""
    funding: FundingInput = Field(default_factory=FundingInput)
    ranking: RankingInput = Field(default_factory=RankingInput)
    #: 自评工作开展情况 and 自评结果应用 of the written report (drafted when empty).
    self_evaluation_work: str = ""
    problems_next_steps: str = ""
    result_use: str = ""
    indicators: dict[str, IndicatorInput] = Field(default_factory=dict)


def _problems(exc: ValidationError) -> list[Msg]:
    return [M_("{where}: {problem}{value}", where=M_("field {field}", field=q(".".join(str(p) for p in e["loc"])))
               if e["loc"] else M_("the file"), problem=problem(e), value=shown_value(e)) for e in exc.errors()]


def parse_inputs(path: Path, data: Any) -> ReportInputs:
    try:
        return ReportInputs.model_validate(data or {})
    except ValidationError as exc:
        raise InputsError(path, _problems(exc)) from None


def load_yaml_inputs(path: Path) -> ReportInputs:
    """The YAML input file (:func:`hotline_kpi.report.inputs_xlsx.load_inputs` takes either)."""
    return parse_inputs(path, read_yaml(path, InputsError))


#: Units of a volume (how much, not how well): never a measure of merit between hotlines.
VOLUME_UNITS = ("calls", "requests", "tickets", "count")
_VOLUME_EN = re.compile(r"(" + "|".join(VOLUME_UNITS) + r")(/(day|week|month|year))?")
#: The same in Chinese: a count word, optionally scaled (万件) or per period (件/日).
_VOLUME_ZH = re.compile(r"(千|万|十万|百万|千万|亿)?(件|个|次|通|人次|条|单|宗|起|张|笔)((/|每)(日|天|周|月|季|年))?")


def is_volume(unit: str) -> bool:
    """A unit that counts how much (calls, 件, 万件, 次/日 ...), not how well."""
    u = unicodedata.normalize("NFKC", unit or "").strip().lower()
    return bool(_VOLUME_EN.fullmatch(u) or _VOLUME_ZH.fullmatch(u))


class BenchmarkFigure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    label: str
    value: float
    indicator: str | None = None
    counter: str | None = None
    unit: str = ""
    higher_is_better: bool | None = None
    #: Defined as ours is: compared. Otherwise left out of the comparison (the
    #: ``difference`` says why).
    comparable: bool = True
    #: How the peer's definition differs from ours (口径差异), stated in the report.
    difference: str = ""
    published: str = ""

    @model_validator(mode="after")
    def _no_volume_as_merit(self) -> "BenchmarkFigure":
        if self.comparable and is_volume(self.unit):
            raise ValueError(str(M_("a volume ({unit}: how much, not how well) is not a measure of merit: set "
                                    "comparable: false", unit=self.unit)))
        if not self.difference:
            raise ValueError(M_("state the definition difference (difference), or 口径一致"))
        return self


class Benchmark(BaseModel):
    model_config = ConfigDict(extra="forbid")

    peer: str
    peer_short: str = ""
    year: int
    source: str = ""
    figures: tuple[BenchmarkFigure, ...] = ()
    not_published: tuple[str, ...] = ()


def load_benchmark(path: Path) -> Benchmark:
    data = read_yaml(path, BenchmarkError)
    try:
        return Benchmark.model_validate(data)
    except ValidationError as exc:
        probs = []
        for e in exc.errors():
            loc = e["loc"]
            if len(loc) >= 2 and loc[0] == "figures" and isinstance(loc[1], int):
                figs = (data or {}).get("figures") or []
                ident = figs[loc[1]].get("id") if loc[1] < len(figs) and isinstance(figs[loc[1]], dict) else None
                where = M_("field {field}", field=q(f"figures[{ident or loc[1] + 1}]" + "".join(f".{p}" for p in loc[2:])))
            else:
                where = M_("field {field}", field=q(".".join(str(p) for p in loc))) if loc else M_("the file")
            probs.append(M_("{where}: {problem}{value}", where=where, problem=problem(e), value=shown_value(e)))
        raise BenchmarkError(path, probs) from None
