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
from typing import Any, Iterable

from hotline_kpi.budget import Execution
from hotline_kpi.evaluate import Completeness, DateRange, Scoreboard, WindowResult
from hotline_kpi.forecast import Projection

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
