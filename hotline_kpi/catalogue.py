"""Target catalogues: one YAML file per hotline and year, validated into typed values.

A catalogue file may start with ``inherits: other.yaml`` (a path relative to the file):
the parent is loaded first, top-level mappings are merged key by key, and indicators are
merged by ``id`` (a child entry overrides fields of the parent's indicator of that id, or
adds a new one; ``remove: true`` drops it).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hotline_kpi.clock import ZoneName
from hotline_kpi.domain import Comparator
from hotline_kpi.files import ConfigFileError, describe_location, read_yaml
from hotline_kpi.formulas import FORMULA_IDS, FormulaSettings, build_formula, Formula
from hotline_kpi.i18n import M_, join, q
from hotline_kpi.validation import problem, shown_value


class CatalogueError(ConfigFileError):
    """A catalogue file is unreadable or invalid; the message names file, indicator and field."""

    what = M_("target catalogue")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Hotline(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    name: str
    name_en: str
    short_name: str = ""
    timezone: ZoneName = "Asia/Shanghai"
    #: The province (or province-level city) the hotline belongs to, for the league
    #: table's roll-ups; "" = not given (ranked, in no roll-up). ``province: null`` (or
    #: "") clears a province inherited from the parent file.
    province: str = ""

    @field_validator("province", mode="before")
    @classmethod
    def _cleared(cls, value: Any) -> Any:
        return "" if value is None else value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def label(self) -> str:
        return self.short_name or self.id

    def display_name(self, lang: str) -> str:
        """The hotline's name as people read it (its id is for files and commands)."""
        return self.name if lang == "zh" else self.name_en


class BudgetLine(_Model):
    id: str
    name: str
    name_en: str = ""
    amount_yuan: float = Field(ge=0)


class Project(_Model):
    name: str
    department: str = ""
    implementer: str = ""
    goal: str = ""
    annual_goal: str = ""
    #: 立项依据: the documents the project rests on, and 项目内容 (the written report).
    basis: tuple[str, ...] = ()
    content: str = ""
    budget_total_yuan: float | None = Field(None, ge=0)
    budget_lines: tuple[BudgetLine, ...] = ()

    @model_validator(mode="after")
    def _lines_add_up(self) -> "Project":
        if self.budget_lines and self.budget_total_yuan is not None:
            total = sum(line.amount_yuan for line in self.budget_lines)
            if abs(total - self.budget_total_yuan) > 0.5:
                raise ValueError(M_("budget_lines add up to {total} yuan, not budget_total_yuan {expected}",
                                    total=f"{total:,.0f}", expected=f"{self.budget_total_yuan:,.0f}"))
        return self


class Weights(_Model):
    budget_execution: float = Field(10, ge=0)
    output: float = Field(50, ge=0)
    effect: float = Field(30, ge=0)
    satisfaction: float = Field(10, ge=0)


class Indicator(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    level1: str = ""
    level2: str = ""
    level3: str
    #: The Chinese display name where the seed's 三级指标 text must stay verbatim but reads
    #: wrong (its 回民 for 回访): every page, mail, chart and metric uses this; only the
    #: reproduced table of the self-evaluation shows ``level3`` (with a 原文如此 footnote).
    name_zh: str = ""
    name_en: str
    target_text: str = ""
    note: str = ""
    category: Literal["output", "effect", "satisfaction"] | None = None
    kind: Literal["quantitative", "qualitative"]
    formula: str | None = None
    #: ``annual_total``: the target is a total for the calendar year (pro-rated for
    #: shorter windows); ``ratio``: the target applies to the value of every window.
    aggregation: Literal["ratio", "annual_total"] = "ratio"
    comparator: Comparator | None = None
    threshold: float | None = None
    unit: Literal["ratio", "seconds", "requests", "calls", "yuan", ""] = ""
    weight: float = Field(0, ge=0)
    tracked_only: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> "Indicator":
        if self.kind == "quantitative":
            if self.formula is None:
                raise ValueError(M_("a quantitative indicator needs a formula"))
            if self.formula not in FORMULA_IDS:
                raise ValueError(M_("formula {formula} is not one of {known}", formula=q(self.formula),
                                    known=join(FORMULA_IDS)))
            if not self.tracked_only and (self.comparator is None or self.threshold is None):
                raise ValueError(M_("a targeted quantitative indicator needs comparator and threshold"))
            if self.unit == "ratio" and self.threshold is not None and not 0 <= self.threshold <= 1:
                raise ValueError(M_("threshold {threshold} of a ratio must be within 0..1", threshold=self.threshold))
        else:
            if self.formula is not None or self.threshold is not None:
                raise ValueError(M_("a qualitative indicator has no formula or threshold"))
        if not self.tracked_only and self.category is None:
            raise ValueError(M_("a scored indicator needs a category (output, effect or satisfaction)"))
        return self

    @property
    def display_name_zh(self) -> str:
        return self.name_zh or self.level3

    def display_name(self, lang: str) -> str:
        """The one name of the indicator shown to people (``level3`` only in the seed's table)."""
        return self.display_name_zh if lang == "zh" else self.name_en

    @property
    def targeted(self) -> bool:
        return self.kind == "quantitative" and not self.tracked_only

    def formula_for(self, settings: FormulaSettings) -> Formula:
        assert self.formula is not None, self.id
        return build_formula(self.formula, settings)


class Catalogue(_Model):
    hotline: Hotline
    year: int = Field(ge=2000, le=2100)
    project: Project | None = None
    weights: Weights = Weights()
    indicators: tuple[Indicator, ...]
    #: Where it was loaded from (for messages); not part of the YAML.
    source_path: str = ""

    @model_validator(mode="after")
    def _unique_and_weighted(self) -> "Catalogue":
        ids = [i.id for i in self.indicators]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(M_("indicator ids appear more than once: {ids}", ids=join(dupes)))
        for category in ("output", "effect", "satisfaction"):
            members = [i for i in self.indicators if i.category == category and not i.tracked_only]
            if not members:
                continue
            total = sum(i.weight for i in members)
            expected = getattr(self.weights, category)
            if abs(total - expected) > 1e-6:
                raise ValueError(M_("weights of the {category} indicators add up to {total}, not {expected} ({ids})",
                                    category=category, total=f"{total:g}", expected=f"{expected:g}",
                                    ids=join(i.id for i in members)))
        return self

    @property
    def quantitative(self) -> tuple[Indicator, ...]:
        return tuple(i for i in self.indicators if i.kind == "quantitative")

    def indicator(self, indicator_id: str) -> Indicator:
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        raise KeyError(indicator_id)

    def covers(self, day: dt.date) -> bool:
        return day.year == self.year


def _merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = dict(parent)
    for key, value in child.items():
        if key == "indicators" and isinstance(value, list) and isinstance(parent.get("indicators"), list):
            by_id: dict[Any, dict[str, Any]] = {
                ind.get("id"): dict(ind) for ind in parent["indicators"] if isinstance(ind, dict)
            }
            order = list(by_id)
            for ind in value:
                if not isinstance(ind, dict):
                    raise ValueError(M_("indicators: entry {entry} is not a mapping", entry=q(ind)))
                iid = ind.get("id")
                if ind.get("remove"):
                    by_id.pop(iid, None)
                    order = [o for o in order if o != iid]
                elif iid in by_id:
                    by_id[iid] = {**by_id[iid], **ind}
                else:
                    by_id[iid] = dict(ind)
                    order.append(iid)
            out["indicators"] = [by_id[i] for i in order]
        elif isinstance(value, dict) and isinstance(parent.get(key), dict):
            out[key] = _merge(parent[key], value)
        else:
            out[key] = value
    return out


def _read_raw(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(str(p) for p in seen + (path,))
        raise CatalogueError(path, [M_("field 'inherits': inheritance cycle {chain}", chain=chain)])
    data = read_yaml(path, CatalogueError)
    if not isinstance(data, dict):
        raise CatalogueError(path, [M_("the file must hold a mapping (hotline, year, indicators, ...)")])
    parent_name = data.pop("inherits", None)
    if parent_name is not None:
        if not isinstance(parent_name, str):
            raise CatalogueError(path, [M_("field 'inherits': expected a file name, got {value}", value=q(parent_name))])
        parent = _read_raw(path.parent / parent_name, seen + (path,))
        try:
            data = _merge(parent, data)
        except ValueError as exc:
            raise CatalogueError(path, [exc.args[0]]) from None
    return data


def load_catalogue(path: Path | str) -> Catalogue:
    """Load and validate one catalogue file; raises :class:`CatalogueError`."""
    path = Path(path)
    raw = _read_raw(path)
    try:
        return Catalogue.model_validate({**raw, "source_path": str(path)})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = describe_location(tuple(err["loc"]), raw, "indicators", M_("indicator"), M_("catalogue"))
            problems.append(M_("{where}: {problem}{value}", where=where, problem=problem(err), value=shown_value(err)))
        raise CatalogueError(path, problems) from None


class CatalogueSet:
    """All catalogues found in a folder, by hotline and year."""

    def __init__(self, catalogues: list[Catalogue]):
        self._by_key: dict[tuple[str, int], Catalogue] = {}
        for cat in catalogues:
            key = (cat.hotline.id, cat.year)
            if key in self._by_key:
                raise CatalogueError(
                    cat.source_path,
                    [M_("hotline {hotline} year {year} is also defined in {file}", hotline=q(key[0]), year=key[1],
                        file=self._by_key[key].source_path)],
                )
            self._by_key[key] = cat

    @classmethod
    def from_dir(cls, folder: Path | str) -> "CatalogueSet":
        folder = Path(folder)
        if not folder.is_dir():
            raise CatalogueError(folder, [M_("target catalogue folder not found")])
        return cls([load_catalogue(p) for p in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))])

    def hotlines(self) -> list[Hotline]:
        seen: dict[str, Hotline] = {}
        for (hid, _year), cat in sorted(self._by_key.items()):
            seen[hid] = cat.hotline
        return list(seen.values())

    def hotline(self, hotline_id: str) -> Hotline:
        for h in self.hotlines():
            if h.id == hotline_id:
                return h
        known = join(h.id for h in self.hotlines()) if self.hotlines() else M_("none")
        raise KeyError(M_("no target catalogue for hotline {hotline} (known: {known})", hotline=q(hotline_id), known=known))

    def years(self, hotline_id: str) -> list[int]:
        return sorted(year for (hid, year) in self._by_key if hid == hotline_id)

    def get(self, hotline_id: str, year: int) -> Catalogue | None:
        return self._by_key.get((hotline_id, year))

    def for_year(self, hotline_id: str, year: int) -> Catalogue:
        cat = self.get(hotline_id, year)
        if cat is None:
            years = join(map(str, self.years(hotline_id))) if self.years(hotline_id) else M_("none")
            raise KeyError(M_("no target catalogue for hotline {hotline} in {year} (years: {years})",
                              hotline=q(hotline_id), year=year, years=years))
        return cat

    def __iter__(self):
        return iter(self._by_key.values())
