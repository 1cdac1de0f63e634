"""Benchmark: evaluate every indicator and window of N hotlines at one as-of date.

N hotlines (300 by default) x Y years (3 by default: 2017-2019; 5: 2015-2019) of daily counters are written straight into the
store's ``daily_counters`` table (this measures evaluation, not file parsing), then
``evaluation.evaluate_many`` evaluates all hotlines as of 2019-12-31 with the sums pushed
into SQL. The reference is the same evaluation done by loading the rows and summing in
Python (``aggregate.aggregates_from_rows``). Goal (issue #2): under 2 s on a 2-core machine;
issue #19: 350 hotlines x 5 years on PostgreSQL under 1 s.

    .venv/bin/python bench/evaluate.py [--backend sqlite|postgresql|both] [--hotlines 300] [--years 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from hotline_kpi.aggregate import aggregates_from_rows  # noqa: E402
from hotline_kpi.catalogue import CatalogueSet, load_catalogue  # noqa: E402
from hotline_kpi.domain import COUNTERS  # noqa: E402
from hotline_kpi.evaluate import evaluate  # noqa: E402
from hotline_kpi.evaluation import evaluate_many  # noqa: E402
from hotline_kpi.formulas import FormulaSettings  # noqa: E402
from hotline_kpi.domain import Window  # noqa: E402
from hotline_kpi.league import Figure, HotlineFigures, build_league  # noqa: E402
from hotline_kpi.store import migrate, sums  # noqa: E402
from hotline_kpi.store.db import make_engine, read_session  # noqa: E402
from hotline_kpi.store.models import DailyCountersRow, HotlineRow  # noqa: E402

YEARS: tuple[int, ...] = (2017, 2018, 2019)
AS_OF = dt.date(2019, 12, 31)
GOAL_SECONDS = 2.0
#: Issue #19: 350 hotlines x 5 years on PostgreSQL.
GOAL_19_SECONDS = 1.0


def catalogues_for(n: int) -> CatalogueSet:
    base = load_catalogue(ROOT / "hotline_kpi/defaults/targets/shanghai-12345-2019.yaml")
    cats = []
    for i in range(n):
        hotline = base.hotline.model_copy(update={"id": f"bench-{i:03d}"})
        for year in YEARS:
            cats.append(base.model_copy(update={"hotline": hotline, "year": year}))
    return CatalogueSet(cats)


def fill(engine, n: int) -> int:
    rng = random.Random(7)
    with engine.begin() as conn:
        conn.execute(insert(HotlineRow), [
            {"id": f"bench-{i:03d}", "name": f"热线{i}", "name_en": f"Hotline {i}", "timezone": "Asia/Shanghai"}
            for i in range(n)])
    rows = 0
    for i in range(n):
        batch = []
        day = dt.date(YEARS[0], 1, 1)
        while day <= AS_OF:
            offered = rng.randint(2000, 12000)
            answered = int(offered * rng.uniform(0.85, 0.97))
            vals = {c: None for c in COUNTERS}
            vals.update(
                requests_accepted=answered + 500, calls_offered=offered, calls_answered=answered,
                calls_abandoned_short=int(offered * 0.01), answer_wait_seconds_sum=answered * rng.uniform(5, 10),
                calls_answered_within_15s=int(answered * 0.9), first_contact_eligible=answered,
                first_contact_resolved=int(answered * 0.55), tickets_dispatched=int(answered * 0.45),
                tickets_returned_operator_fault=int(answered * 0.02), survey_responses=400, survey_satisfied=368,
            )
            batch.append({"hotline_id": f"bench-{i:03d}", "day": day, "provenance": "{}", **vals})
            day += dt.timedelta(days=1)
        with engine.begin() as conn:
            conn.execute(insert(DailyCountersRow), batch)
        rows += len(batch)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE daily_counters"))
    return rows


def time_job(engine, url: str, cats: CatalogueSet) -> tuple[float, int]:
    """The service's evaluation job over every hotline (scoreboard, projections, budget,
    one snapshot each, stored in one transaction): what `serve` runs after a day's files."""
    from hotline_kpi.clock import FixedClock
    from hotline_kpi.service.jobs import evaluate_hotlines
    from hotline_kpi.settings import Settings

    with tempfile.TemporaryDirectory(prefix="hk-bench-var-") as var:
        settings = Settings(database_url=url, var_dir=Path(var), _env_file=None)  # type: ignore[call-arg]
        clock = FixedClock(dt.datetime(AS_OF.year + 1, 1, 1, 1, 0, tzinfo=dt.timezone.utc))
        t0 = time.perf_counter()
        done = evaluate_hotlines(engine, settings, cats, clock, "bench")
        return time.perf_counter() - t0, len(done)


def run(backend: str, n: int, job: bool = False) -> dict:
    cluster = None
    tmp = tempfile.TemporaryDirectory(prefix="hk-bench-")
    if backend == "sqlite":
        url = f"sqlite:///{tmp.name}/bench.db"
    else:
        from tests.pg import start_cluster

        cluster = start_cluster()
        url = cluster.url
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        t0 = time.perf_counter()
        stored = fill(engine, n)
        fill_s = time.perf_counter() - t0
        cats = catalogues_for(n)
        ids = [f"bench-{i:03d}" for i in range(n)]
        fs = FormulaSettings()

        timings = []
        for _ in range(3):
            t0 = time.perf_counter()
            with read_session(engine) as s:
                results = evaluate_many(s, cats, fs, ids, AS_OF)
            timings.append(time.perf_counter() - t0)
        with read_session(engine) as s:
            scanned = sums.rows_scanned(s, ids, AS_OF)
        # The league table of the same results (year to date; the pure part the service
        # builds once per evaluation).
        t0 = time.perf_counter()
        league = build_league("year_to_date", [
            HotlineFigures(h, h, f"省{int(h[-3:]) % 31:02d}", {
                cats.for_year(h, AS_OF.year).indicator(r.indicator_id).formula or r.indicator_id:
                    Figure(r.numerator, r.denominator, r.days_with_data)
                for r in results[h] if r.window == Window.YEAR_TO_DATE}) for h in ids])
        league_s = time.perf_counter() - t0
        assert len(league.hotlines) == n and len(league.provinces) == min(n, 31)

        # Reference: load the same rows and sum them in Python.
        t0 = time.perf_counter()
        with read_session(engine) as s:
            ref = {}
            for hid in ids:
                cat = cats.for_year(hid, AS_OF.year)
                rows = sums.daily_counters(s, hid, AS_OF - dt.timedelta(days=400), AS_OF)
                ref[hid] = evaluate(cat, fs, aggregates_from_rows(cat, fs, rows, AS_OF), AS_OF)
        ref_s = time.perf_counter() - t0
        agree = all(
            [(r.indicator_id, r.window, r.status, r.days_with_data) for r in results[h]]
            == [(r.indicator_id, r.window, r.status, r.days_with_data) for r in ref[h]]
            and all((a.value is None and b.value is None) or abs(a.value - b.value) < 1e-9
                    for a, b in zip(results[h], ref[h]))
            for h in ids
        )
        n_results = sum(len(v) for v in results.values())
        job_s, job_n = time_job(engine, url, cats) if job else (None, 0)
        return dict(job_s=job_s, job_n=job_n, backend=backend, hotlines=n, stored=stored, fill_s=fill_s, best=min(timings), runs=timings,
                    scanned=scanned, results=n_results, ref_s=ref_s, agree=agree, league_s=league_s)
    finally:
        engine.dispose()
        if cluster is not None:
            cluster.stop()
        tmp.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--hotlines", type=int, default=300)
    ap.add_argument("--years", type=int, default=3, help="years of daily counters ending with 2019")
    ap.add_argument("--job", action="store_true",
                    help="also time the service's evaluation job (projections and snapshots) over every hotline")
    args = ap.parse_args()
    global YEARS
    YEARS = tuple(range(AS_OF.year - args.years + 1, AS_OF.year + 1))
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for b in backends:
        r = run(b, args.hotlines, args.job)
        print(f"[{r['backend']}] {r['hotlines']} hotlines x {len(YEARS)} years: {r['stored']:,} daily rows stored "
              f"(fill {r['fill_s']:.1f} s)")
        print(f"[{r['backend']}] evaluate all at {AS_OF}: best {r['best']:.3f} s of {len(r['runs'])} "
              f"({', '.join(f'{t:.3f}' for t in r['runs'])}); rows scanned {r['scanned']:,}; "
              f"{r['results']:,} window results")
        print(f"[{r['backend']}] reference (rows loaded, summed in Python): {r['ref_s']:.3f} s; "
              f"ratio SQL/reference {r['best'] / r['ref_s']:.2f}; goal {GOAL_SECONDS:.1f} s: "
              f"{'met' if r['best'] < GOAL_SECONDS else 'MISSED'} ({r['best'] / GOAL_SECONDS:.2f} of goal); "
              f"results agree: {r['agree']}")
        print(f"[{r['backend']}] issue #19 goal {GOAL_19_SECONDS:.1f} s (350 hotlines x 5 years, PostgreSQL): "
              f"{'met' if r['best'] < GOAL_19_SECONDS else 'MISSED'} ({r['best'] / GOAL_19_SECONDS:.2f} of goal)")
        print(f"[{r['backend']}] league table of the results (year to date, 31 provinces): {r['league_s']:.3f} s")
        if r["job_s"] is not None:
            print(f"[{r['backend']}] the service's evaluation job (scoreboards, projections, snapshots stored) "
                  f"over {r['job_n']} hotlines: {r['job_s']:.1f} s")


if __name__ == "__main__":
    main()
