"""The backfill: the daily history as OpenMetrics text with timestamps, for Prometheus.

The exporter shows current state only: Prometheus drops scraped samples older than its
head block, so a day's figures cannot be scraped "as of" that day (observability.md).
Those who want the history in Prometheus write it with ``hotline-kpi export openmetrics``
and load it with ``promtool tsdb create-blocks-from openmetrics`` (docs/history.md).

One sample per series and day, stamped at the start of the day (local midnight in the
hotline's zone, like ``hotline_kpi_data_date_timestamp_seconds``):

- ``hotline_kpi_daily_indicator_value{hotline, indicator}``: the indicator over that day
  alone, exactly the ``day`` window of ``hotline-kpi evaluate --as-of DAY``;
- ``hotline_kpi_daily_indicator_target{hotline, indicator}``: what that day is compared
  against (the annual volume pro-rated to one day);
- ``hotline_kpi_daily_counter_value{hotline, counter}``: the stored daily counters, as
  ``hotline-kpi export daily`` prints them.

No data is no sample, never NaN. Pure: rows, catalogues and settings in, text out.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence
from zoneinfo import ZoneInfo

from hotline_kpi.catalogue import Catalogue
from hotline_kpi.domain import COUNTERS, DailyCounters, Window
from hotline_kpi.aggregate import aggregate_rows
from hotline_kpi.evaluate import evaluate_window
from hotline_kpi.formulas import FormulaSettings

VALUE = "hotline_kpi_daily_indicator_value"
TARGET = "hotline_kpi_daily_indicator_target"
COUNTER = "hotline_kpi_daily_counter_value"

_HELP = {
    VALUE: "Indicator value over one day (ratios 0-1, seconds, requests), stamped at the start of the day; "
           "absent without data.",
    TARGET: "Target the day is compared against (volume: the annual target pro-rated to one day), stamped at "
            "the start of the day.",
    COUNTER: "Daily counter as stored (absent when unknown), stamped at the start of the day.",
}

#: Prometheus keeps samples this recent in its head block; a backfill must stay older.
HEAD_BLOCK = dt.timedelta(hours=3)


@dataclass(frozen=True)
class Sample:
    metric: str
    labels: tuple[tuple[str, str], ...]
    value: float
    timestamp: int


@dataclass(frozen=True)
class OpenMetricsExport:
    text: str
    samples: int
    #: Days that had data and were left out because their start is after ``not_after``.
    days_too_recent: tuple[dt.date, ...]
    #: Years of the range without a target catalogue: no indicator samples for them.
    years_without_catalogue: tuple[int, ...]


def day_start(day: dt.date, zone: ZoneInfo) -> int:
    """UNIX seconds of local midnight starting ``day`` in ``zone``."""
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def daily_samples(hotline_id: str, zone: ZoneInfo, rows: Iterable[DailyCounters],
                  catalogue_for: Callable[[int], Catalogue | None], settings: FormulaSettings, first: dt.date,
                  last: dt.date) -> list[Sample]:
    """Every sample of ``first``..``last`` (both inclusive), grouped by metric family,
    then by series, each series in time order (as OpenMetrics requires).

    Indicator values are computed by the same code as ``evaluate`` (the ``day`` window);
    a day whose year has no catalogue (``catalogue_for`` returns None) has counters only.
    """
    if last < first:
        raise ValueError(f"range ends ({last}) before it starts ({first})")
    by_day = {r.day: r for r in rows if first <= r.day <= last}
    days = _days(first, last)
    values: dict[str, list[Sample]] = {}
    targets: dict[str, list[Sample]] = {}
    counters: dict[str, list[Sample]] = {c: [] for c in COUNTERS}
    for day in days:
        ts = day_start(day, zone)
        row = by_day.get(day)
        if row is not None:
            for c in COUNTERS:
                v = row.get(c)
                if v is not None:
                    counters[c].append(Sample(COUNTER, (("hotline", hotline_id), ("counter", c)), v, ts))
        cat = catalogue_for(day.year)
        if cat is None:
            continue
        for ind in cat.quantitative:
            formula = ind.formula_for(settings)
            agg = aggregate_rows([row] if row is not None else [], formula, day, day)
            r = evaluate_window(ind, Window.DAY, agg, day, formula=formula)
            labels = (("hotline", hotline_id), ("indicator", ind.id))
            if r.value is not None:
                values.setdefault(ind.id, []).append(Sample(VALUE, labels, r.value, ts))
            if r.target is not None:
                targets.setdefault(ind.id, []).append(Sample(TARGET, labels, r.target, ts))
    out: list[Sample] = []
    for family in (values, targets, counters):
        for series in family.values():
            out.extend(series)
    return out


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ValueError(f"non-finite value {value!r} in the history")  # a bug upstream, never exported
    return repr(float(value))  # shortest text that reads back as the same double


def render(samples: Sequence[Sample]) -> Iterator[str]:
    """OpenMetrics lines (with newline) for samples grouped by family; ends with ``# EOF``."""
    seen: set[str] = set()
    current = None
    for s in samples:
        if s.metric != current:
            if s.metric in seen:
                raise ValueError(f"samples of {s.metric} are not contiguous")
            seen.add(s.metric)
            current = s.metric
            yield f"# HELP {s.metric} {_HELP.get(s.metric, s.metric)}\n"
            yield f"# TYPE {s.metric} gauge\n"
        labels = ",".join(f'{k}="{_escape(v)}"' for k, v in s.labels)
        yield f"{s.metric}{{{labels}}} {_number(s.value)} {s.timestamp}\n"
    yield "# EOF\n"


def export_openmetrics(
    hotline_id: str,
    zone: ZoneInfo,
    rows: Iterable[DailyCounters],
    catalogue_for: Callable[[int], Catalogue | None],
    settings: FormulaSettings,
    first: dt.date,
    last: dt.date,
    not_after: dt.datetime | None = None,
) -> OpenMetricsExport:
    """The history of ``first``..``last`` as OpenMetrics text.

    Days starting after ``not_after`` are left out (a backfill must stay clear of the
    Prometheus head block: pass now minus :data:`HEAD_BLOCK`); they are reported in
    ``days_too_recent`` when they had data.
    """
    samples = daily_samples(hotline_id, zone, rows, catalogue_for, settings, first, last)
    too_recent: set[dt.date] = set()
    if not_after is not None:
        limit = not_after.timestamp()
        kept = []
        for s in samples:
            if s.timestamp > limit:
                too_recent.add(dt.datetime.fromtimestamp(s.timestamp, zone).date())
            else:
                kept.append(s)
        samples = kept
    missing = tuple(y for y in range(first.year, last.year + 1) if catalogue_for(y) is None)
    return OpenMetricsExport("".join(render(samples)), len(samples), tuple(sorted(too_recent)), missing)
