"""The evaluation document: the JSON every evaluation is stored, served and exported as.

One module owns the document (docs/kpi-definitions.md, docs/forecast.md, docs/report.md):

- the writers: :func:`scoreboard_to_json` (the stable contract, ``schema_version`` 1) and
  the keys an evaluation adds to it (:func:`extras_to_json`: ``projections``, ``budget``);
  ``hotline-kpi evaluate --format json``, ``/api/v1/scoreboard`` and the stored
  snapshots are these dicts;
- the reader: :func:`read` turns a stored document back into frozen dataclasses
  (:class:`SnapshotDoc` and its parts) for the exporter, the status page and the alert
  conditions, so none of them takes the document apart by string key.

Pure: no session, no clock, no settings object, no I/O.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable, Mapping, TypeVar

from hotline_kpi.budget import Execution
from hotline_kpi.domain import Comparator, Status
from hotline_kpi.evaluate import Completeness, DateRange, Scoreboard, WindowResult
from hotline_kpi.forecast import PaceStatus, Projection

E = TypeVar("E", bound=Enum)

#: Version of the JSON produced by :func:`scoreboard_to_json`; bumped on any change that
#: is not a pure addition of keys.
SCHEMA_VERSION = 1


# --------------------------------------------------------------------------- writing


def _real(x: float | None, within: str = "scoreboard") -> float | None:
    """A JSON-safe real; NaN or infinity here is a bug upstream, not something to hide."""
    if x is None:
        return None
    if not math.isfinite(x):
        raise ValueError(f"non-finite number {x!r} in a {within}")
    return float(x)


def _count(x: float | None) -> float | int | None:
    """Sums of counts: ints when integral (exact beyond 2**53), floats otherwise."""
    if isinstance(x, int):
        return x
    x = _real(x)
    return int(x) if x is not None and x.is_integer() else x


def _iso(d: dt.date | None) -> str | None:
    return None if d is None else d.isoformat()


def _ranges(runs: tuple[DateRange, ...]) -> list[dict[str, str]]:
    return [{"first": a.isoformat(), "last": b.isoformat()} for a, b in runs]


def result_to_json(r: WindowResult) -> dict[str, Any]:
    return {
        "id": r.indicator_id,
        "window": r.window.value,
        "start": r.start.isoformat(),
        "end": r.end.isoformat(),
        "value": _real(r.value),
        "target": _real(r.target),
        "annual_target": _real(r.annual_target),
        "comparator": None if r.comparator is None else r.comparator.value,
        "status": r.status.value,
        "numerator": _count(r.numerator),
        "denominator": _count(r.denominator),
        "days_with_data": r.days_with_data,
        "days_in_window": r.days_in_window,
        "unit": r.unit,
        "pace": _real(r.pace),
        "shortfall": _real(r.shortfall),
    }


def completeness_to_json(c: Completeness) -> dict[str, Any]:
    return {
        "start": c.start.isoformat(),
        "as_of": c.as_of.isoformat(),
        "days_elapsed": c.days_elapsed,
        "days_with_data": c.days_with_data,
        "ratio": _real(c.ratio),
        "missing": _ranges(c.missing),
        "counters": {
            cc.counter: {"days_present": cc.days_present, "missing": _ranges(cc.missing)} for cc in c.counters
        },
    }


def scoreboard_to_json(sb: Scoreboard) -> dict[str, Any]:
    """The stable JSON contract (schema_version 1, docs/kpi-definitions.md); JSON-safe."""
    return {
        "schema_version": SCHEMA_VERSION,
        "hotline": sb.hotline_id,
        "as_of": sb.as_of.isoformat(),
        "data_date": _iso(sb.data_date),
        "settings": sb.settings.model_dump(mode="json"),
        "completeness": completeness_to_json(sb.completeness),
        "results": [result_to_json(r) for r in sb.results],
    }


def _proj_real(x: float | None) -> float | None:
    return _real(x, "projection")


def projection_to_json(p: Projection) -> dict[str, Any]:
    """One entry of ``projections`` in the evaluate JSON (docs/forecast.md section 4)."""
    return {
        "id": p.indicator_id,
        "as_of": p.as_of.isoformat(),
        "unit": p.unit,
        "comparator": p.comparator.value,
        "threshold": _proj_real(p.threshold),
        "ytd_value": _proj_real(p.ytd_value),
        "projected_value": _proj_real(p.projected_value),
        "interval_low": _proj_real(p.interval_low),
        "interval_high": _proj_real(p.interval_high),
        "interval_level": _proj_real(p.interval_level),
        "projected_status": p.projected_status.value,
        "budget_remaining": _proj_real(p.budget_remaining),
        "budget_unit": p.budget_unit,
        "required_value": _proj_real(p.required_value),
        "required_unit": p.required_unit,
        "pace_status": p.pace_status.value,
        "burn_rate_7d": _proj_real(p.burn_rate_7d),
        "burn_rate_30d": _proj_real(p.burn_rate_30d),
        "days_with_data": p.days_with_data,
        "days_forecast": p.days_forecast,
        "forecast_numerator": _proj_real(p.forecast_numerator),
        "forecast_denominator": _proj_real(p.forecast_denominator),
        "note_zh": p.note_zh,
        "note_en": p.note_en,
        "miss_probability": _proj_real(p.miss_probability),
    }


def budget_to_json(e: Execution, as_of: dt.date) -> dict[str, Any]:
    """Budget execution up to the as-of month: per line and in all, against an even pace."""
    return {
        "budget_yuan": e.budget_yuan,
        "executed_yuan": e.executed_yuan,
        "execution_rate": e.rate,
        "even_pace_yuan": e.even_pace_yuan(as_of.month),
        "cost_per_request_yuan": e.cost_per_request,
        "lines": [{"id": ln.id, "name": ln.name, "budget_yuan": ln.budget_yuan, "executed_yuan": ln.executed_yuan,
                   "execution_rate": ln.rate} for ln in e.lines],
        "monthly_yuan": list(e.monthly_yuan),
    }


def extras_to_json(projections: Iterable[Projection], budget: Execution | None, as_of: dt.date) -> dict[str, Any]:
    """The keys the projections and budget execution add to the scoreboard JSON
    (docs/forecast.md, docs/report.md); no ``budget`` key without a budget execution."""
    out: dict[str, Any] = {"projections": [projection_to_json(p) for p in projections]}
    if budget is not None:
        out["budget"] = budget_to_json(budget, as_of)
    return out


# --------------------------------------------------------------------------- reading
#
# The reader is lenient where the readers always were: a key missing from a document
# (an older snapshot, a test's partial one) reads as None (counts: 0, texts: ""), and an
# enum value this build does not know reads as None. The defaults live here only.


def _date(text: Any) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _member(enum: type[E], value: Any) -> E | None:
    try:
        return None if value is None else enum(value)
    except ValueError:
        return None


def _range_docs(runs: Any) -> tuple[DateRange, ...]:
    return tuple((dt.date.fromisoformat(r["first"]), dt.date.fromisoformat(r["last"])) for r in runs or ())


@dataclass(frozen=True)
class ResultDoc:
    """One entry of ``results``: an indicator over a window (see :func:`result_to_json`)."""

    id: str
    #: The window's name, e.g. ``year_to_date`` (equal to the :class:`~hotline_kpi.domain.Window`).
    window: str
    status: Status | None = None
    value: float | None = None
    target: float | None = None
    annual_target: float | None = None
    comparator: Comparator | None = None
    unit: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    numerator: float | None = None
    denominator: float | None = None
    days_with_data: int = 0
    days_in_window: int | None = None
    pace: float | None = None
    shortfall: float | None = None
    #: The entry as stored, keys this build does not know included (what a mail quotes).
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def read(cls, r: Mapping[str, Any]) -> ResultDoc:
        return cls(
            id=r["id"], window=r["window"], status=_member(Status, r.get("status")), value=r.get("value"),
            target=r.get("target"), annual_target=r.get("annual_target"),
            comparator=_member(Comparator, r.get("comparator")), unit=r.get("unit"), start=_date(r.get("start")),
            end=_date(r.get("end")), numerator=r.get("numerator"), denominator=r.get("denominator"),
            days_with_data=r.get("days_with_data") or 0, days_in_window=r.get("days_in_window"),
            pace=r.get("pace"), shortfall=r.get("shortfall"), raw=dict(r),
        )


@dataclass(frozen=True)
class CounterDoc:
    days_present: int = 0
    missing: tuple[DateRange, ...] = ()


@dataclass(frozen=True)
class CompletenessDoc:
    """``completeness``: which days of the year to date have data (see :func:`completeness_to_json`)."""

    start: dt.date | None = None
    as_of: dt.date | None = None
    days_elapsed: int = 0
    days_with_data: int = 0
    ratio: float | None = None
    missing: tuple[DateRange, ...] = ()
    counters: Mapping[str, CounterDoc] = field(default_factory=dict)

    @classmethod
    def read(cls, c: Mapping[str, Any]) -> CompletenessDoc:
        return cls(
            start=_date(c.get("start")), as_of=_date(c.get("as_of")), days_elapsed=c.get("days_elapsed", 0),
            days_with_data=c.get("days_with_data", 0), ratio=c.get("ratio"), missing=_range_docs(c.get("missing")),
            counters={name: CounterDoc(cc.get("days_present", 0), _range_docs(cc.get("missing")))
                      for name, cc in (c.get("counters") or {}).items()},
        )


@dataclass(frozen=True)
class ProjectionDoc:
    """One entry of ``projections``: the year-end outlook of a target (see :func:`projection_to_json`)."""

    id: str
    pace_status: PaceStatus | None = None
    projected_status: Status | None = None
    as_of: dt.date | None = None
    unit: str | None = None
    comparator: Comparator | None = None
    threshold: float | None = None
    ytd_value: float | None = None
    projected_value: float | None = None
    interval_low: float | None = None
    interval_high: float | None = None
    interval_level: float | None = None
    budget_remaining: float | None = None
    budget_unit: str = ""
    required_value: float | None = None
    required_unit: str | None = None
    burn_rate_7d: float | None = None
    burn_rate_30d: float | None = None
    days_with_data: int | None = None
    days_forecast: int | None = None
    forecast_numerator: float | None = None
    forecast_denominator: float | None = None
    note_zh: str = ""
    note_en: str = ""
    #: P(the year misses the target); None in projections stored before it existed.
    miss_probability: float | None = None
    #: The entry as stored (what a mail quotes).
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def read(cls, p: Mapping[str, Any]) -> ProjectionDoc:
        return cls(
            id=p["id"], pace_status=_member(PaceStatus, p.get("pace_status")),
            projected_status=_member(Status, p.get("projected_status")), as_of=_date(p.get("as_of")),
            unit=p.get("unit"), comparator=_member(Comparator, p.get("comparator")), threshold=p.get("threshold"),
            ytd_value=p.get("ytd_value"), projected_value=p.get("projected_value"),
            interval_low=p.get("interval_low"), interval_high=p.get("interval_high"),
            interval_level=p.get("interval_level"), budget_remaining=p.get("budget_remaining"),
            budget_unit=p.get("budget_unit", ""), required_value=p.get("required_value"),
            required_unit=p.get("required_unit"), burn_rate_7d=p.get("burn_rate_7d"),
            burn_rate_30d=p.get("burn_rate_30d"), days_with_data=p.get("days_with_data"),
            days_forecast=p.get("days_forecast"), forecast_numerator=p.get("forecast_numerator"),
            forecast_denominator=p.get("forecast_denominator"), note_zh=p.get("note_zh") or "",
            note_en=p.get("note_en") or "", miss_probability=p.get("miss_probability"), raw=dict(p),
        )


@dataclass(frozen=True)
class BudgetLineDoc:
    id: str
    budget_yuan: float
    executed_yuan: float
    name: str | None = None
    execution_rate: float | None = None


@dataclass(frozen=True)
class BudgetDoc:
    """``budget``: budget execution up to the as-of month (see :func:`budget_to_json`)."""

    even_pace_yuan: float
    budget_yuan: float | None = None
    executed_yuan: float | None = None
    execution_rate: float | None = None
    cost_per_request_yuan: float | None = None
    lines: tuple[BudgetLineDoc, ...] = ()
    monthly_yuan: tuple[float, ...] = ()

    @classmethod
    def read(cls, b: Mapping[str, Any]) -> BudgetDoc:
        return cls(
            even_pace_yuan=b["even_pace_yuan"], budget_yuan=b.get("budget_yuan"),
            executed_yuan=b.get("executed_yuan"), execution_rate=b.get("execution_rate"),
            cost_per_request_yuan=b.get("cost_per_request_yuan"),
            lines=tuple(BudgetLineDoc(ln["id"], ln["budget_yuan"], ln["executed_yuan"], ln.get("name"),
                                      ln.get("execution_rate")) for ln in b.get("lines") or ()),
            monthly_yuan=tuple(b.get("monthly_yuan") or ()),
        )


@dataclass(frozen=True)
class SnapshotDoc:
    """A whole evaluation document: the scoreboard and the keys added to it."""

    hotline: str | None = None
    as_of: dt.date | None = None
    #: The last day with any known counter (``None``: none).
    data_date: dt.date | None = None
    schema_version: int | None = None
    #: The formula settings the figures were computed with, as stored.
    settings: Mapping[str, Any] = field(default_factory=dict)
    completeness: CompletenessDoc = CompletenessDoc()
    results: tuple[ResultDoc, ...] = ()
    #: Empty when the document has no projections (none stored, or none targeted).
    projections: tuple[ProjectionDoc, ...] = ()
    #: ``None`` without a budget execution.
    budget: BudgetDoc | None = None

    def result(self, indicator: str, window: str) -> ResultDoc | None:
        """The first result of ``indicator`` over ``window``; ``None`` if the document has none."""
        return next((r for r in self.results if r.id == indicator and r.window == window), None)

    def projection(self, indicator: str) -> ProjectionDoc | None:
        return next((p for p in self.projections if p.id == indicator), None)


def read(payload: Mapping[str, Any]) -> SnapshotDoc:
    """A stored evaluation document (:func:`scoreboard_to_json` plus :func:`extras_to_json`)
    as typed values. Raises ``KeyError`` for a result or projection without its id or
    window or a budget without its figures, ``ValueError`` for a date that is not ISO."""
    budget = payload.get("budget")
    return SnapshotDoc(
        hotline=payload.get("hotline"),
        as_of=_date(payload.get("as_of")),
        data_date=_date(payload.get("data_date")),
        schema_version=payload.get("schema_version"),
        settings=dict(payload.get("settings") or {}),
        completeness=CompletenessDoc.read(payload.get("completeness") or {}),
        results=tuple(ResultDoc.read(r) for r in payload.get("results") or ()),
        projections=tuple(ProjectionDoc.read(p) for p in payload.get("projections") or () if isinstance(p, Mapping)),
        budget=BudgetDoc.read(budget) if budget else None,
    )
