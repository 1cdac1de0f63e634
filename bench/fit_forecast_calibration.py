"""Fit of the interval's split-conformal calibration (docs/forecast.md section 2.5): run
the backtest of bench/backtest_forecast.py on development years (seed set 0) with the
calibration switched off, and print, per indicator and month end, the factor that
stretches the model's spread so that the 80% interval holds 80% of the development years
(the conformal quantile of the normalised errors, :mod:`hotline_kpi.forecast.calibration`),
as the ``SPREAD_FACTORS`` constant to paste into that module. Also printed: the pooled and
per-process coverage of the raw and (in sample) the calibrated interval.

    .venv/bin/python bench/fit_forecast_calibration.py --years 100 [--drift-scale connection_rate=1.5]
        [--dump /tmp/dev.pickle | --load /tmp/dev.pickle]
"""

from __future__ import annotations

import argparse
import math
import pickle
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import backtest_forecast as bt  # noqa: E402

from hotline_kpi.forecast import calibration, levels  # noqa: E402


def _run(task: tuple[dict[str, float], str, int, float]) -> list[tuple]:
    drift_scale, process, seed, level = task
    calibration.SPREAD_FACTORS.clear()  # the raw model: the calibration is what is fitted
    levels.DRIFT_SCALE.clear()
    levels.DRIFT_SCALE.update(drift_scale)
    return bt.run_year((process, seed, level))


def score(r: tuple) -> float:
    """The normalised error of a record (process, indicator, month, projected, low, high,
    truth, ...): how many times the interval's half on the truth's side it lies from the
    median (<= 1: inside the raw interval)."""
    mid, low, high, truth = r[3], r[4], r[5], r[6]
    half = (high - mid) if truth >= mid else (mid - low)
    gap = abs(truth - mid)
    if half <= 0:
        return 0.0 if gap == 0 else math.inf
    return gap / half


def conformal_quantile(scores: list[float], level: float) -> float:
    """The ceil((n + 1) level)-th smallest score (split conformal prediction)."""
    s = sorted(scores)
    k = min(len(s), math.ceil((len(s) + 1) * level))
    return s[k - 1]


def coverage_tables(records: list[tuple], factors: dict[tuple[str, int], float]) -> dict[str, dict]:
    """Coverage per (process or "pooled", indicator, month) with the factors applied."""
    cells: dict = defaultdict(list)
    for r in records:
        inside = score(r) <= factors.get((r[1], r[2]), 1.0)
        cells[("pooled", r[1], r[2])].append(inside)
        cells[(r[0], r[1], r[2])].append(inside)
    return {k: sum(v) / len(v) for k, v in cells.items()}


def report(title: str, cov: dict, procs: list[str], ids: list[str]) -> None:
    months = range(bt.FROM_MONTH, 12)
    counts = {p: sum(not 0.75 <= cov[(p, i, m)] <= 0.85 for i in ids for m in months) for p in [*procs, "pooled"]}
    print(f"\n{title}: cells from month {bt.FROM_MONTH} outside 75-85%: "
          + ", ".join(f"{p} {n}" for p, n in counts.items()) + f"; all six {sum(counts[p] for p in procs)}")
    print(f"  pooled coverage, months {bt.FROM_MONTH}-11")
    for i in ids:
        print(f"  {i:31}" + " ".join(f"{cov[('pooled', i, m)] * 100:4.0f}" for m in months))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--years", type=int, default=100, help="development years per process")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0, help="seed set (0: development; never fit on 1)")
    ap.add_argument("--level", type=float, default=0.8)
    ap.add_argument("--drift-scale", default="", help="formula=factor,... (levels.DRIFT_SCALE for this run)")
    ap.add_argument("--dump", help="write the raw records to this pickle")
    ap.add_argument("--load", help="read the raw records from this pickle instead of running")
    args = ap.parse_args()
    procs = list(bt.PROCESSES)
    if args.load:
        with open(args.load, "rb") as f:
            records = pickle.load(f)
    else:
        drift_scale = {k: float(v) for k, v in (kv.split("=") for kv in args.drift_scale.split(",") if kv)}
        tasks = [(drift_scale, p, args.seed * 1_000_000 + i * 7919 + 13 * k, args.level)
                 for k, p in enumerate(procs) for i in range(args.years)]
        t = time.perf_counter()
        with ProcessPoolExecutor(args.workers) as pool:
            records = [r for chunk in pool.map(_run, tasks, chunksize=4) for r in chunk]
        print(f"{len(tasks)} development years (seed set {args.seed}, drift scale {drift_scale or 'none'}) "
              f"in {time.perf_counter() - t:.0f} s")
        if args.dump:
            with open(args.dump, "wb") as f:
                pickle.dump(records, f)
    ids = list(dict.fromkeys(r[1] for r in records))
    formula = {ind.id: ind.formula_for(bt.SETTINGS).id for ind in bt.CATALOGUE.quantitative if ind.targeted}
    by_cell: dict = defaultdict(list)
    for r in records:
        by_cell[(r[1], r[2])].append(score(r))
    factors = {cell: conformal_quantile(s, args.level) for cell, s in by_cell.items()}
    report("raw model", coverage_tables(records, {}), procs, ids)
    report("calibrated (in sample)", coverage_tables(records, factors), procs, ids)
    print("\nSPREAD_FACTORS: dict[str, tuple[float, ...]] = {")
    for i in ids:
        row = ", ".join(f"{factors[(i, m)]:.3f}" for m in bt.MONTHS)
        print(f'    "{formula[i]}": ({row}),')
    print("}")


if __name__ == "__main__":
    main()
