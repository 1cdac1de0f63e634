"""Benchmark: /metrics, the status page and the scoreboard API of a real ``hotline-kpi serve``
under sustained load from wrk (a second process, loopback), while the scheduler scans the
inbox every second. The same run as tests/reliability/test_load.py, longer, with a table.

Setup (in a temp folder, nothing of the repository is touched): a SQLite store holding the
demo year (``hotline-kpi demo --raw-from 13``, as the tests' ``prepare_demo``) and one
``hotline-kpi serve`` on a free loopback port with HOTLINE_KPI_SERVICE__INBOX_SCAN_SECONDS
(``--scan-seconds``, default 1) and metrics refreshed every second.

Load: for each endpoint in turn, ``wrk -t2 -c16 -d<duration>s --latency`` with the test's
Lua script (every body checked whole; percentiles, requests and errors printed by its
``done`` hook as JSON). The inbox_scan runs in the ``job_run`` table are counted before
and after each phase, against duration / interval.

Reference (issue #3): p99 < 20 ms at 200 requests/s for /metrics. Debian's wrk 4.1 has no
``-R`` (fixed rate; that is wrk2, not packaged), so this reports the latencies at maximum
throughput (16 connections kept busy against one process): they are an upper bound of the
latency at 200 req/s, not the same measure. bench/scrape.py measures /metrics at a fixed
200 req/s (and with 50 hotlines' series).

    .venv/bin/python bench/load.py [--duration 30] [--endpoints metrics,status-page,scoreboard-api]
                                   [--threads 2] [--connections 16] [--json FILE] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.reliability.test_load import (  # noqa: E402 - after the sys.path line
    ENDPOINTS,
    WRK_LUA,
    WrkResult,
    finish_wrk,
    scan_runs_db,
    start_wrk,
)
from tests.processes import build_demo_template, http_get, prepare_demo, start_serve  # noqa: E402

GOAL_P99_MS = 20.0
GOAL_RATE = 200


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=30, help="Seconds of load per endpoint.")
    ap.add_argument("--endpoints", default=",".join(e.name for e in ENDPOINTS),
                    help=f"Comma-separated, from: {', '.join(e.name for e in ENDPOINTS)}.")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads.")
    ap.add_argument("--connections", type=int, default=16, help="wrk connections.")
    ap.add_argument("--scan-seconds", type=float, default=1.0, help="Inbox scan interval of the service.")
    ap.add_argument("--json", type=Path, default=None, help="Also write the figures to this file as JSON.")
    ap.add_argument("--keep", action="store_true", help="Keep the temp folder (store, log).")
    args = ap.parse_args()
    chosen = [e for e in ENDPOINTS if e.name in args.endpoints.split(",")]
    if not chosen:
        raise SystemExit(f"no known endpoint in {args.endpoints!r}")
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")

    # SIGTERM (a timeout, kill) runs the clean-up below: the service is stopped, the temp folder removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    finalizers: list[Callable[[], object]] = []
    try:
        t = time.perf_counter()
        base = work / "svc"
        env = prepare_demo(build_demo_template(work / "template"), base, extra_env={
            "HOTLINE_KPI_SERVICE__INBOX_SCAN_SECONDS": f"{args.scan_seconds:g}",
            "HOTLINE_KPI_SERVICE__INBOX_SETTLE_SECONDS": "0",
            "HOTLINE_KPI_SERVICE__METRICS_REFRESH_SECONDS": "1",
        })
        served = start_serve(env, base, finalizers.append)
        url = env["HOTLINE_KPI_DATABASE_URL"]
        print(f"setup: demo store and serve on {served.base_url} in {time.perf_counter() - t:.1f} s", flush=True)
        for e in chosen:
            status, body = http_get(served.url(e.path), timeout=10)
            print(f"  {e.path}: {status}, {len(body):,} bytes", flush=True)
        script = work / "load.lua"
        script.write_text(WRK_LUA, encoding="utf-8")

        rows: list[tuple[WrkResult, int]] = []
        for e in chosen:
            time.sleep(1.0)  # let the previous phase's connections close
            before = scan_runs_db(url)
            proc = start_wrk(wrk, script, served.url(e.path), e, args.duration, args.threads, args.connections)
            try:
                result = finish_wrk(proc, e, args.duration)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
            rows.append((result, scan_runs_db(url) - before))
            print(f"  {result.line()}", flush=True)
        ready = http_get(served.url("/readyz"))[0]
        alive = served.proc.poll() is None
        exit_status = served.stop()

        cpu = os.cpu_count()
        load1, load5, _ = os.getloadavg()
        expected = args.duration / args.scan_seconds
        print(f"\nmachine: {cpu} CPUs, load average {load1:.2f} (1 min) {load5:.2f} (5 min) at the end; service: "
              f"uvicorn, one process, demo store (SQLite, one hotline); wrk {args.threads} threads, "
              f"{args.connections} connections, {args.duration} s per endpoint, max throughput, on loopback")
        print(f"after the load: serve alive {alive}, /readyz {ready}, exit status on SIGTERM {exit_status}\n")
        print("| endpoint | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | socket errors | non-2xx | "
              "bodies not whole | inbox_scan runs (expected) |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r, runs in rows:
            lat = r.latency_ms
            sock = r.errors["connect"] + r.errors["read"] + r.errors["write"] + r.errors["timeout"]
            print(f"| `{r.endpoint}` | {r.requests:,} | {r.requests_per_second:,.0f} | {lat['p50']:.2f} | "
                  f"{lat['p90']:.2f} | {lat['p99']:.2f} | {lat['max']:.2f} | {sock} | {r.errors['status']} | "
                  f"{r.bodies_bad} | {runs} ({expected:g}) |")
        metrics = next((r for r, _ in rows if r.endpoint == "/metrics"), None)
        print(f"\nreference (issue #3): /metrics p99 < {GOAL_P99_MS:g} ms at {GOAL_RATE} req/s. wrk 4.1 (Debian) has "
              "no -R fixed rate, so the figures above are at maximum throughput, not at 200 req/s"
              + (f"; /metrics ran at {metrics.requests_per_second:,.0f} req/s with p99 {metrics.latency_ms['p99']:.2f}"
                 f" ms" if metrics else "") + ". Fixed-rate figures: bench/scrape.py.")
        if args.json:
            args.json.write_text(json.dumps({
                "cpus": cpu, "duration_seconds": args.duration, "threads": args.threads,
                "connections": args.connections, "scan_seconds": args.scan_seconds,
                "results": [{**asdict(r), "requests_per_second": r.requests_per_second, "inbox_scan_runs": runs,
                             "inbox_scan_expected": expected} for r, runs in rows],
            }, indent=2) + "\n", encoding="utf-8")
        failed = any(r.error_total or r.bodies_bad for r, _ in rows) or ready != 200 or not alive
        return 1 if failed else 0
    finally:
        for fin in reversed(finalizers):
            try:
                fin()
            except (OSError, subprocess.SubprocessError):
                pass
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
