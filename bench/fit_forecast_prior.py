"""Fit of the interval's prior constants (docs/forecast.md section 5): run the backtest of
bench/backtest_forecast.py on the development seed set (0) for candidate constants of
:mod:`hotline_kpi.forecast.levels` and print, per candidate, the pooled miscalibration
(sum over indicators and month ends from March of the distance of the coverage to the
75-85% band) and the cells outside, pooled and per process.

    .venv/bin/python bench/fit_forecast_prior.py --years 40 'P_STILL=0.3,JUMP_P=0.15' ...
    .venv/bin/python bench/fit_forecast_prior.py 'DRIFT_SCALE.connection_rate=1.5' ...

The candidates run the raw model (the calibration of section 2.5 switched off, no drift
scale unless given): the prior is fitted first, the calibration on top of it
(bench/fit_forecast_calibration.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import backtest_forecast as bt  # noqa: E402

from hotline_kpi.forecast import calibration, drift, levels  # noqa: E402


def _set(constants: dict[str, float]) -> None:
    # The raw model: the prior is fitted before (and beneath) the calibration of section 2.5.
    calibration.SPREAD_FACTORS.clear()
    levels.DRIFT_SCALE.clear()
    for k, v in constants.items():
        if k.startswith("DRIFT_SCALE."):  # a prior drift scale of one formula
            levels.DRIFT_SCALE[k.split(".", 1)[1]] = v
            continue
        setattr(levels, k, v)
        if hasattr(drift, k):
            setattr(drift, k, v)


def _run(task: tuple[dict[str, float], str, int, float]) -> list[tuple]:
    constants, process, seed, level = task
    _set(constants)
    return bt.run_year((process, seed, level))


def score(records: list[tuple], procs: list[str]) -> tuple[float, int, dict[str, int], dict[int, float]]:
    cells: dict = defaultdict(list)
    per: dict = defaultdict(list)
    for r in records:
        if r[2] >= bt.FROM_MONTH:
            cells[(r[1], r[2])].append(r[4] <= r[6] <= r[5])
            per[(r[0], r[1], r[2])].append(r[4] <= r[6] <= r[5])
    cov = {k: sum(v) / len(v) for k, v in cells.items()}
    miscal = sum(max(0.75 - c, 0) + max(c - 0.85, 0) for c in cov.values())
    outside = sum(not 0.75 <= c <= 0.85 for c in cov.values())
    per_out = {p: sum(not 0.75 <= sum(v) / len(v) <= 0.85 for k, v in per.items() if k[0] == p) for p in procs}
    by_month = {m: sum(c for k, c in cov.items() if k[1] == m) / sum(1 for k in cov if k[1] == m)
                for m in range(bt.FROM_MONTH, 12)}
    return miscal, outside, per_out, by_month, cov


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--years", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--table", action="store_true", help="print the pooled coverage of every cell")
    ap.add_argument("candidates", nargs="+", help="NAME=value,NAME=value (constants of forecast.levels)")
    args = ap.parse_args()
    procs = list(bt.PROCESSES)
    with ProcessPoolExecutor(args.workers) as pool:
        for cand in args.candidates:
            constants = {k: float(v) for k, v in (kv.split("=") for kv in cand.split(",") if kv)}
            tasks = [(constants, p, args.seed * 1_000_000 + i * 7919 + 13 * k, 0.8)
                     for k, p in enumerate(procs) for i in range(args.years)]
            t = time.perf_counter()
            records = [r for chunk in pool.map(_run, tasks, chunksize=4) for r in chunk]
            miscal, outside, per, by_month, cov = score(records, procs)
            print(f"{cand}: miscal {miscal:.3f} pooled outside {outside}/54 per process {per} "
                  f"pooled by month {' '.join(f'{m}:{c:.0%}' for m, c in by_month.items())} "
                  f"({time.perf_counter() - t:.0f} s)", flush=True)
            if args.table:
                for iid in dict.fromkeys(k[0] for k in cov):
                    print(f"  {iid:31}" + " ".join(f"{cov[(iid, m)]:4.0%}" for m in range(bt.FROM_MONTH, 12)))


if __name__ == "__main__":
    main()
