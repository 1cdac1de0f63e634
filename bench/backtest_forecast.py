"""Backtest of the year-end projection (issue #6): many synthetic years with a known outcome.

For every synthetic year the projection is made at each month end (31 Jan .. 31 Dec)
from the rows up to that day, and compared with the year's final value (the
year_to_date value on 31 December of the complete year). Printed: the mean absolute
error by month end per indicator, the interval's coverage (share of final values inside
the interval; it should be near the stated level, 80% by default) and how often the
projected status (met / breached) was the final one. The figures go into docs/forecast.md.

Three families of years:

- ``prev``: this module's generator, a year and its previous year (the usual case);
- ``noprev``: the same generator without the previous year (a hotline's first year);
- ``demo``: :func:`hotline_kpi.demo.generate_year` for 2019 with varied seeds, no
  previous year (its holiday table is 2019's, so it has none).

The generator varies, per year: the volume (7,000-16,000 calls a day), year-on-year
growth (-5% .. +25%), the month and weekday shapes, the holiday dips (by name, from the
chinesecalendar package, so make-up working days are working days), a slow AR(1) drift
of the level and of every rate (what a model with fixed factors cannot foresee),
typhoon surges and platform outages on random days, and, in half the years, runs of
missing days (which the projection must forecast, while the truth has them).

    .venv/bin/python bench/backtest_forecast.py [--years 120] [--level 0.8] [--workers 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import statistics
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import chinese_calendar  # noqa: E402

from hotline_kpi.catalogue import Catalogue, load_catalogue  # noqa: E402
from hotline_kpi.demo import generate_year  # noqa: E402
from hotline_kpi.domain import DailyCounters, Status  # noqa: E402
from hotline_kpi.aggregate import aggregate_rows  # noqa: E402
from hotline_kpi.forecast import project  # noqa: E402
from hotline_kpi.formulas import FormulaSettings  # noqa: E402

HOTLINE = "shanghai-12345"
CATALOGUE = load_catalogue(ROOT / "hotline_kpi/defaults/targets/shanghai-12345-2019.yaml")
SETTINGS = FormulaSettings()
YEARS = tuple(range(2019, 2027))  # years the holiday calendar knows, with their previous year

_MONTH = {1: 0.96, 2: 0.86, 3: 0.99, 4: 1.0, 5: 1.01, 6: 1.04, 7: 1.10, 8: 1.12, 9: 1.0, 10: 0.97, 11: 0.99, 12: 0.98}
_WEEKDAY = (1.10, 1.04, 1.02, 1.01, 1.00, 0.83, 0.78)


def _binomial(rng: random.Random, n: int, p: float) -> int:
    p = min(max(p, 0.0), 1.0)
    sd = math.sqrt(max(n * p * (1 - p), 1e-9))
    return max(0, min(n, round(rng.gauss(n * p, sd))))


class _Drift:
    """AR(1) around 0: slow deviations that persist for weeks (phi 0.97)."""

    def __init__(self, rng: random.Random, sd: float, phi: float = 0.97):
        self.rng, self.phi, self.innov = rng, phi, sd * math.sqrt(1 - phi * phi)
        self.x = rng.gauss(0, sd)

    def step(self) -> float:
        self.x = self.phi * self.x + self.rng.gauss(0, self.innov)
        return self.x


def synthetic_pair(year: int, seed: int) -> tuple[list[DailyCounters], list[DailyCounters]]:
    """(previous year's rows, this year's rows), complete, for one random shape."""
    rng = random.Random(seed)
    base = rng.uniform(7_000, 16_000)
    growth = rng.uniform(-0.05, 0.25)
    month = {m: f * math.exp(rng.gauss(0, 0.03)) for m, f in _MONTH.items()}
    weekday = [f * math.exp(rng.gauss(0, 0.03)) for f in _WEEKDAY]
    holiday = {"Spring Festival": rng.uniform(0.4, 0.65)}
    other_holiday = rng.uniform(0.65, 0.85)
    rates = dict(conn=rng.uniform(0.92, 0.975), fcr=rng.uniform(0.48, 0.60), ret=rng.uniform(0.04, 0.075),
                 sat=rng.uniform(0.88, 0.94), asa=rng.uniform(4.5, 8.0), online=rng.uniform(0.05, 0.15))
    headroom = rng.uniform(1.0, 1.15)
    out = []
    for y, level in ((year - 1, base / (1 + growth)), (year, base)):
        capacity = level * headroom * rng.uniform(0.97, 1.03)  # staffing follows demand, roughly
        ym = {m: f * math.exp(rng.gauss(0, 0.015)) for m, f in month.items()}
        drift = {k: _Drift(rng, sd) for k, sd in
                 (("vol", 0.04), ("conn", 0.006), ("fcr", 0.012), ("ret", 0.004), ("sat", 0.006), ("asa", 0.4))}
        surges = {dt.date(y, rng.randint(7, 9), rng.randint(1, 28)): rng.uniform(1.3, 1.8) for _ in range(rng.randint(0, 2))}
        outages = {dt.date(y, rng.randint(1, 12), rng.randint(1, 28)): rng.uniform(0.6, 0.9) for _ in range(rng.randint(0, 2))}
        rows = []
        day = dt.date(y, 1, 1)
        while day.year == y:
            on_holiday, name = chinese_calendar.get_holiday_detail(day)
            if on_holiday and name is not None:
                f_day = holiday.get(name, other_holiday)
            elif not on_holiday and day.weekday() >= 5:
                f_day = 0.95 * weekday[0]  # a make-up working day: a busy weekday
            else:
                f_day = weekday[day.weekday()]
            d = {k: v.step() for k, v in drift.items()}
            demand = level * ym[day.month] * f_day * math.exp(d["vol"]) * surges.get(day, 1.0)
            offered = max(300, round(demand * rng.gauss(1.0, 0.035)))
            short = _binomial(rng, offered, 0.02)
            load = offered / capacity
            conn = (rates["conn"] - 0.55 * max(0.0, load - 0.92) + d["conn"] + rng.gauss(0, 0.006)) * outages.get(day, 1.0)
            answered = _binomial(rng, offered - short, min(conn, 0.995))
            asa = max(1.5, rates["asa"] + 40 * max(0.0, load - 0.93) + d["asa"] + rng.gauss(0, 0.5)) / outages.get(day, 1.0)
            online = round(level * rates["online"] * rng.gauss(1.0, 0.08))
            resolved = _binomial(rng, answered, rates["fcr"] + d["fcr"] + rng.gauss(0, 0.01))
            dispatched = answered - resolved + round(online * 0.6)
            returned = _binomial(rng, dispatched, rates["ret"] + d["ret"] + rng.gauss(0, 0.004))
            responses = max(50, round(dispatched * 0.085 * rng.gauss(1.0, 0.05)))
            satisfied = _binomial(rng, responses, rates["sat"] + d["sat"] - (0.04 if day in surges else 0.0))
            rows.append(DailyCounters(HOTLINE, day, dict(
                requests_accepted=answered + online, calls_offered=offered, calls_answered=answered,
                calls_abandoned_short=short, answer_wait_seconds_sum=round(asa * answered, 1),
                calls_answered_within_15s=_binomial(rng, answered, 1 - math.exp(-15 / asa * 0.9)),
                first_contact_eligible=answered, first_contact_resolved=resolved, tickets_dispatched=dispatched,
                tickets_returned_operator_fault=returned, survey_responses=responses, survey_satisfied=satisfied)))
            day += dt.timedelta(days=1)
        out.append(rows)
    return out[0], out[1]


def demo_rows(seed: int) -> list[DailyCounters]:
    return [
        DailyCounters(HOTLINE, d.day, dict(
            requests_accepted=d.requests_accepted, calls_offered=d.calls_offered, calls_answered=d.calls_answered,
            answer_wait_seconds_sum=d.asa_seconds * d.calls_answered,
            calls_answered_within_15s=d.calls_answered_within_15s, first_contact_eligible=d.first_contact_eligible,
            first_contact_resolved=d.first_contact_resolved, tickets_dispatched=d.tickets_dispatched,
            tickets_returned_operator_fault=d.tickets_returned_operator_fault, survey_responses=d.survey_responses,
            survey_satisfied=d.survey_satisfied))
        for d in generate_year(2019, seed)
    ]


def with_gaps(rows: list[DailyCounters], rng: random.Random) -> list[DailyCounters]:
    """The rows less 1-3 runs of 1-10 consecutive days (data that never arrived)."""
    missing: set[dt.date] = set()
    for _ in range(rng.randint(1, 3)):
        start = rows[rng.randrange(len(rows))].day
        missing.update(start + dt.timedelta(days=i) for i in range(rng.randint(1, 10)))
    return [r for r in rows if r.day not in missing]


def month_ends(year: int) -> list[dt.date]:
    return [dt.date(year, m + 1, 1) - dt.timedelta(days=1) for m in range(1, 12)] + [dt.date(year, 12, 31)]


def run_year(task: tuple[str, int, float]) -> list[tuple]:
    """Projections of one synthetic year at every month end, against its final values."""
    family, seed, level = task
    rng = random.Random(seed * 7 + 1)
    if family == "demo":
        year, prev, cur = 2019, [], demo_rows(seed)
    else:
        year = YEARS[seed % len(YEARS)]
        prev, cur = synthetic_pair(year, seed)
        if family == "noprev":
            prev = []
    catalogue: Catalogue = CATALOGUE.model_copy(update={"year": year})
    final = {}
    for ind in catalogue.quantitative:
        if ind.targeted:
            agg = aggregate_rows(cur, ind.formula_for(SETTINGS), dt.date(year, 1, 1), dt.date(year, 12, 31))
            final[ind.id] = agg.numerator / agg.denominator if agg.denominator is not None else float(agg.numerator)
    seen = with_gaps(cur, rng) if seed % 2 == 0 else cur
    out = []
    for as_of in month_ends(year):
        rows = [r for r in seen if r.day <= as_of]
        if as_of.month == 12:
            rows = [r for r in cur if r.day <= as_of]  # by year end the data is complete
        for p in project(catalogue, SETTINGS, rows, as_of, prev, level):
            truth = final[p.indicator_id]
            ind = catalogue.indicator(p.indicator_id)
            final_met = ind.comparator.holds(truth, ind.threshold)
            out.append((family, p.indicator_id, as_of.month, p.projected_value, p.interval_low, p.interval_high,
                        truth, p.projected_status is Status.MET, final_met))
    return out


SCALE = {"requests_accepted": (1.0, "requests", "{:,.0f}"), "average_answer_seconds": (1.0, "s", "{:.3f}")}


def fmt(indicator: str, x: float) -> str:
    scale, _, f = SCALE.get(indicator, (100.0, "pp", "{:.3f}"))
    return f.format(x * scale)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--years", type=int, default=120, help="synthetic years in all (default 120)")
    ap.add_argument("--level", type=float, default=0.8, help="interval level (default 0.8)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    share = {"prev": 0.5, "noprev": 0.25, "demo": 0.25}
    tasks = [(fam, 1000 + i, args.level) for fam, s in share.items() for i in range(round(args.years * s))]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        records = [r for chunk in pool.map(run_year, tasks) for r in chunk]
    took = time.perf_counter() - started

    ids = list(dict.fromkeys(r[1] for r in records))
    counts = {fam: sum(1 for t in tasks if t[0] == fam) for fam in share}
    print(f"backtest: {len(tasks)} synthetic years ({', '.join(f'{f} {n}' for f, n in counts.items())}), "
          f"projection at each month end, interval level {args.level:.0%}, {took:.0f} s")

    print("\nMean absolute error of the projected year-end value, by month end (all families)")
    print("units: rates in percentage points, average answer time in seconds, volume in requests")
    print(f"{'indicator':32}" + "".join(f"{m:>9}" for m in range(1, 13)))
    for iid in ids:
        cells = []
        for month in range(1, 13):
            errs = [abs(r[3] - r[6]) for r in records if r[1] == iid and r[2] == month and r[3] is not None]
            cells.append(fmt(iid, statistics.fmean(errs)) if errs else "-")
        print(f"{iid:32}" + "".join(f"{c:>9}" for c in cells))

    def coverage(rs: list[tuple]) -> str:
        rs = [r for r in rs if r[3] is not None]
        return f"{sum(r[4] <= r[6] <= r[5] for r in rs) / len(rs):.0%}" if rs else "-"

    print(f"\nInterval coverage by month end (share of final values inside the {args.level:.0%} interval; "
          "31 Dec excluded, where the interval is the final value)")
    print(f"{'indicator':32}" + "".join(f"{m:>6}" for m in range(1, 12)) + f"{'all':>7}")
    by = defaultdict(list)
    for r in records:
        if r[2] < 12:
            by[(r[1], r[2])].append(r)
            by[(r[1], 0)].append(r)
            by[("all", r[2])].append(r)
            by[("all", 0)].append(r)
    for iid in [*ids, "all"]:
        print(f"{iid:32}" + "".join(f"{coverage(by[(iid, m)]):>6}" for m in range(1, 12)) + f"{coverage(by[(iid, 0)]):>7}")

    print("\nInterval coverage by family and month end (all indicators)")
    print(f"{'family':32}" + "".join(f"{m:>6}" for m in range(1, 12)) + f"{'all':>7}")
    for fam in share:
        rs = [r for r in records if r[0] == fam and r[2] < 12]
        print(f"{fam:32}" + "".join(f"{coverage([r for r in rs if r[2] == m]):>6}" for m in range(1, 12))
              + f"{coverage(rs):>7}")

    print("\nProjected status (met/breached) equal to the final status, by month end (all indicators)")
    line = []
    for month in range(1, 13):
        rs = [r for r in records if r[2] == month and r[3] is not None]
        line.append(f"{sum(r[7] == r[8] for r in rs) / len(rs):.0%}" if rs else "-")
    print(f"{'':32}" + "".join(f"{c:>6}" for c in line))


if __name__ == "__main__":
    main()
