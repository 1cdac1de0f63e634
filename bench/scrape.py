"""Benchmark: /metrics of a real ``hotline-kpi serve`` with 50 hotlines' series, under load
from a second process on loopback, while the scheduler runs the inbox scan every 2 s.

Setup (in a temp folder, nothing of the repository is touched):
- 50 target catalogues: hotline_kpi/defaults/targets/shanghai-12345-2019.yaml copied with hotline ids
  hl-001 ... hl-050;
- a SQLite store whose ``daily_counters`` hold the demo year (``hotline-kpi demo`` into a
  scratch store, its rows copied to every hotline id);
- ``hotline-kpi serve`` with HOTLINE_KPI_SERVICE__INBOX_SCAN_SECONDS=2; its start-up
  catch-up of the daily evaluation evaluates the 50 hotlines and stores their snapshots.

Load, one phase after the other, each for ``--duration`` seconds:
1. wrk (Debian) at maximum throughput (wrk has no rate limit and wrk2 is not packaged);
2. a Python client in its own process that sends ``--rate`` requests/s on a fixed
   schedule (open loop: latency counts from the scheduled send time, so a slow answer
   cannot hide the requests queued behind it), keep-alive connections, ``--threads``
   threads, time.perf_counter.

The scheduler is checked during each phase: the inbox_scan runs counted in the job_run
table and by hotline_kpi_job_runs_total{job_id="inbox_scan"} before and after, against
elapsed / interval, and the largest gap between runs (from the service's log).

Goal (issue #3): p99 under 20 ms at 200 requests/s on this 2-core machine, and the
scheduler keeps its schedule meanwhile.

    .venv/bin/python bench/scrape.py [--hotlines 50] [--duration 20] [--rate 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_P99_MS = 20.0
TARGET_FILE = ROOT / "hotline_kpi" / "defaults" / "targets" / "shanghai-12345-2019.yaml"
_VENV_CLI = Path(sys.executable).with_name("hotline-kpi")
CLI = [str(_VENV_CLI)] if _VENV_CLI.exists() else [sys.executable, "-m", "hotline_kpi"]


# --- setup ---------------------------------------------------------------------------------


def write_catalogues(folder: Path, n: int) -> list[str]:
    """``n`` copies of the 2019 Shanghai catalogue, each with its own hotline id."""
    folder.mkdir(parents=True)
    text = TARGET_FILE.read_text(encoding="utf-8")
    anchor = "hotline:\n  id: shanghai-12345\n"
    assert anchor in text, f"{TARGET_FILE}: hotline id line not found"
    ids = [f"hl-{i:03d}" for i in range(1, n + 1)]
    for hid in ids:
        (folder / f"{hid}-2019.yaml").write_text(text.replace(anchor, f"hotline:\n  id: {hid}\n", 1), encoding="utf-8")
    return ids


def base_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_KPI_")}
    env.update(extra)
    return env


def fill_store(work: Path, targets: Path, ids: list[str]) -> Path:
    """The demo year's daily rows under every hotline id, in a migrated SQLite store."""
    from sqlalchemy import insert, select

    from hotline_kpi.catalogue import CatalogueSet
    from hotline_kpi.store import migrate, provenance
    from hotline_kpi.store.db import make_engine, write_session
    from hotline_kpi.store.models import DailyCountersRow

    scratch = work / "demo"
    scratch.mkdir()
    subprocess.run([*CLI, "demo", "--raw-from", "13"], cwd=scratch, check=True, timeout=300, stdout=subprocess.DEVNULL,
                   env=base_env({"HOTLINE_KPI_DATABASE_URL": f"sqlite:///{scratch / 'demo.db'}",
                                 "HOTLINE_KPI_VAR_DIR": str(scratch / "var"),
                                 "HOTLINE_KPI_TARGETS_DIR": str(TARGET_FILE.parent)}))
    demo = make_engine(f"sqlite:///{scratch / 'demo.db'}")
    cols = [c.key for c in DailyCountersRow.__table__.columns if c.key != "hotline_id"]
    with demo.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            select(*[DailyCountersRow.__table__.c[k] for k in cols])
            .where(DailyCountersRow.hotline_id == "shanghai-12345"))]
    demo.dispose()
    assert len(rows) == 365, f"demo store holds {len(rows)} days"

    path = work / "store.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    cats = CatalogueSet.from_dir(targets)
    with write_session(engine) as s:
        for hid in ids:
            provenance.ensure_hotline(s, cats.hotline(hid))
    with engine.begin() as conn:
        for hid in ids:
            conn.execute(insert(DailyCountersRow), [{**r, "hotline_id": hid} for r in rows])
    engine.dispose()
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# --- what the service reports -------------------------------------------------------------------


def job_runs_db(db: Path, job: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        row = conn.execute("SELECT runs_total FROM job_run WHERE job_id = ?", (job,)).fetchone()
        return int(row[0]) if row else 0
    finally:
        conn.close()


def sample_value(metrics: str, name: str, **labels: str) -> float | None:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.compile(rf"^{re.escape(name)}(?:\{{{re.escape(want)}\}})? (\S+)$", re.M) if labels else \
        re.compile(rf"^{re.escape(name)} (\S+)$", re.M)
    m = pattern.search(metrics)
    return float(m.group(1)) if m else None


def job_runs_metric(metrics: str, job: str) -> float:
    """hotline_kpi_job_runs_total of a job (label job_id; job in early versions), 0 when absent."""
    for label in ("job_id", "job"):
        v = sample_value(metrics, "hotline_kpi_job_runs_total", **{label: job})
        if v is not None:
            return v
    return 0.0


def series_per_hotline(metrics: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in re.finditer(r'^[^#\n][^\n]*?[{,]hotline="([^"]+)"', metrics, re.M):
        out[m.group(1)] = out.get(m.group(1), 0) + 1
    return out


def gzip_answer(url: str) -> tuple[str, int, bytes]:
    """(Content-Type, compressed size, decompressed body) of a scrape as Prometheus asks."""
    import gzip

    req = urllib.request.Request(url, headers=dict(h.split(": ", 1) for h in PROMETHEUS_HEADERS.split("\r\n") if h))
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.headers.get("Content-Encoding") == "gzip", r.headers
        packed = r.read()
        return r.headers.get("Content-Type", ""), len(packed), gzip.decompress(packed)


def series_count(metrics: str) -> int:
    return sum(1 for line in metrics.splitlines() if line and not line.startswith("#"))


def scan_starts(log: Path, since: float, until: float) -> list[float]:
    """Start times (epoch s) of inbox_scan runs that finished in [since, until], from the JSON log."""
    starts = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        m = re.match(r"job inbox_scan (?:done|failed) in ([0-9.]+) s", entry.get("msg", ""))
        if not m:
            continue
        end = dt.datetime.fromisoformat(entry["ts"]).timestamp()
        if since <= end <= until:
            starts.append(end - float(m.group(1)))
    return starts


@dataclass
class Schedule:
    elapsed: float
    expected: float
    runs_db: int
    runs_metric: float
    max_gap: float | None
    mean_gap: float | None

    def line(self) -> str:
        gaps = (f", gaps between runs mean {self.mean_gap:.2f} s, max {self.max_gap:.2f} s"
                if self.max_gap is not None else "")
        return (f"inbox_scan runs in {self.elapsed:.1f} s: {self.runs_db} (job_run table), "
                f"{self.runs_metric:g} (hotline_kpi_job_runs_total); expected {self.expected:.1f}{gaps}")


class ScheduleWatch:
    def __init__(self, db: Path, url: str, log: Path, interval: float):
        self.db, self.url, self.log, self.interval = db, url, log, interval

    def _metric(self) -> float:
        _, body = get(self.url)
        return job_runs_metric(body.decode(), "inbox_scan")

    def __enter__(self) -> "ScheduleWatch":
        self.t0 = time.time()
        self.db0, self.m0 = job_runs_db(self.db, "inbox_scan"), self._metric()
        return self

    def __exit__(self, *exc: object) -> None:
        self.t1 = time.time()
        self.db1 = job_runs_db(self.db, "inbox_scan")
        # The exporter re-reads the job table after every job and at least every 10 s
        # (metrics_refresh_seconds): give it that long.
        time.sleep(min(self.interval, 10) + 0.5)
        self.m1 = self._metric()

    def result(self) -> Schedule:
        elapsed = self.t1 - self.t0
        starts = scan_starts(self.log, self.t0, self.t1 + 1)
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        # m1 was read one interval later than db1 and may count one or two more runs.
        return Schedule(elapsed, elapsed / self.interval, self.db1 - self.db0, self.m1 - self.m0,
                        max(gaps) if gaps else None, statistics.mean(gaps) if gaps else None)


# --- load -----------------------------------------------------------------------------------------


@dataclass
class Load:
    name: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    note: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _ms(text: str) -> float:
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    assert m, text
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[m.group(2)]


def run_wrk(url: str, duration: int, connections: int, threads: int, headers: str = "") -> Load:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s", url]
    for h in filter(None, headers.split("\r\n")):
        cmd[1:1] = ["-H", h]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", out, re.M))
    lat = re.search(r"^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)", out, re.M)
    total = re.search(r"^\s+(\d+) requests in ([0-9.]+)(\w+),", out, re.M)
    assert pct and lat and total, out
    seconds = _ms(total.group(2) + total.group(3)) / 1000
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(non2xx.group(1)) if non2xx else 0
    what = ", OpenMetrics + gzip" if "gzip" in headers else ""
    return Load(f"wrk, {connections} connections, max throughput{what}", int(total.group(1)), errors, seconds,
                _ms(pct["50"]), _ms(pct["99"]), _ms(lat.group(3)), note=" ".join(cmd))


class _Conn:
    """A minimal keep-alive HTTP/1.1 GET over a raw socket, reading into one reused buffer:
    the client must cost far less CPU than the service it measures (http.client spends
    more on a 2 MB body than the service does to send it)."""

    def __init__(self, host: str, port: int, path: str, timeout: float = 5, headers: str = ""):
        self.addr, self.timeout = (host, port), timeout
        self.gzip = "gzip" in headers.lower()
        self.request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: bench-scrape\r\n"
                        f"{headers}\r\n").encode()
        self.buf = bytearray(4 << 20)
        self.sock: socket.socket | None = None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def get(self) -> bool:
        """One GET; True for a whole 200 answer that looks like an exposition."""
        if self.sock is None:
            self.sock = socket.create_connection(self.addr, timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = self.sock
        sock.sendall(self.request)
        got, head_end = 0, -1
        while head_end < 0:
            n = sock.recv_into(memoryview(self.buf)[got:])
            if n == 0:
                raise ConnectionError("closed before the headers")
            got += n
            head_end = self.buf.find(b"\r\n\r\n", 0, got)
        head = bytes(self.buf[:head_end]).decode("latin-1")
        m = re.search(r"(?im)^content-length:\s*(\d+)", head)
        if m is None:
            raise ConnectionError("no Content-Length")
        total = head_end + 4 + int(m.group(1))
        if total > len(self.buf):
            self.buf.extend(bytes(total - len(self.buf)))
        view = memoryview(self.buf)
        while got < total:
            n = sock.recv_into(view[got:total])
            if n == 0:
                raise ConnectionError("closed in the body")
            got += n
        ok = head.startswith("HTTP/1.1 200 ")
        if self.gzip:  # asked for gzip: a gzip answer (the body is checked whole once, at set-up)
            return ok and bool(re.search(r"(?im)^content-encoding:\s*gzip", head)) and \
                self.buf[head_end + 4:head_end + 6] == b"\x1f\x8b"
        ok = ok and self.buf[total - 1] == 10
        return ok and self.buf.find(b"hotline_kpi_build_info", head_end, total) >= 0


#: What Prometheus 2.42 sends with every scrape.
PROMETHEUS_HEADERS = ("Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
                      "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\nAccept-Encoding: gzip\r\n")


def paced_client(url: str, rate: float, duration: float, threads: int, headers: str = "") -> dict:
    """Runs in the child process: ``rate`` requests/s on a fixed schedule for ``duration`` s."""
    u = urllib.parse.urlsplit(url)
    n = int(rate * duration)
    counter = itertools.count()
    lock = threading.Lock()
    from_schedule: list[float] = []
    service: list[float] = []
    late: list[float] = []
    errors = [0]
    start = time.perf_counter() + 0.2

    def worker() -> None:
        conn = _Conn(u.hostname or "127.0.0.1", u.port or 80, u.path or "/", headers=headers)
        while True:
            i = next(counter)
            if i >= n:
                break
            due = start + i / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            sent = time.perf_counter()
            try:
                ok = conn.get()
            except OSError:
                ok = False
                conn.close()
            done = time.perf_counter()
            with lock:
                from_schedule.append(done - due)
                service.append(done - sent)
                late.append(sent - due)
                if not ok:
                    errors[0] += 1
        conn.close()

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=duration + 60)
    elapsed = time.perf_counter() - start
    return {"requests": len(service), "errors": errors[0], "seconds": elapsed,
            "from_schedule": from_schedule, "service": service, "late": late}


def quantile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))]


def run_paced(url: str, rate: float, duration: float, threads: int, headers: str = "") -> Load:
    """The paced client in a second process (so the service and the client do not share a GIL)."""
    code = ("import json, sys; sys.path.insert(0, %r); from bench.scrape import paced_client; "
            "print(json.dumps(paced_client(%r, %r, %r, %r, %r)))" % (str(ROOT), url, rate, duration, threads, headers))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=duration + 120,
                         check=True).stdout
    r = json.loads(out)
    lat = [x * 1000 for x in r["from_schedule"]]
    svc = [x * 1000 for x in r["service"]]
    late = [x * 1000 for x in r["late"]]
    note = (f"service time (from the actual send) p50 {quantile(svc, .5):.2f} ms, p99 {quantile(svc, .99):.2f} ms; "
            f"sends later than scheduled by > 5 ms: {sum(1 for x in late if x > 5)}")
    what = "as Prometheus asks: OpenMetrics, gzip" if "gzip" in headers else "text format, uncompressed"
    return Load(f"Python client, {rate:g} req/s fixed schedule, {threads} threads, {what}", r["requests"], r["errors"],
                r["seconds"], quantile(lat, .5), quantile(lat, .99), max(lat), note=note)


# --- main -----------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hotlines", type=int, default=50)
    ap.add_argument("--duration", type=int, default=20, help="Seconds of each load phase.")
    ap.add_argument("--rate", type=float, default=200.0, help="Requests/s of the paced client.")
    ap.add_argument("--threads", type=int, default=8, help="Threads of the paced client.")
    ap.add_argument("--connections", type=int, default=8, help="wrk connections.")
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--scan-seconds", type=float, default=2.0, help="Inbox scan interval of the service.")
    ap.add_argument("--ready-seconds", type=int, default=900, help="How long the start-up evaluation may take.")
    ap.add_argument("--phases", default="wrk,paced-gzip,paced-plain",
                    help="Load phases, in order: wrk (as Prometheus asks), paced-gzip (as Prometheus asks), "
                         "paced-plain (text format, uncompressed).")
    ap.add_argument("--reuse", type=Path, default=None,
                    help="A folder kept by an earlier run (--keep): its catalogues and store, evaluated already.")
    ap.add_argument("--keep", action="store_true", help="Keep the temp folder (store, catalogues, log).")
    ap.add_argument("--save-metrics", type=Path, default=None, help="Write one /metrics answer to this file.")
    args = ap.parse_args()

    # SIGTERM (a timeout, kill) runs the clean-up below: the service is stopped, the temp folder removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = args.reuse or Path(tempfile.mkdtemp(prefix="bench-scrape-"))
    if args.reuse:
        args.keep = True
        (work / "serve.log").unlink(missing_ok=True)
    proc = None
    try:
        t = time.perf_counter()
        targets = work / "targets"
        if args.reuse:
            ids, db = sorted(p.name.rsplit("-", 1)[0] for p in targets.glob("hl-*.yaml")), work / "store.db"
        else:
            ids = write_catalogues(targets, args.hotlines)
            db = fill_store(work, targets, ids)
        print(f"setup: {len(ids)} hotlines x 365 days in {db} ({time.perf_counter() - t:.1f} s)", flush=True)

        port = free_port()
        log = work / "serve.log"
        env = base_env({
            "HOTLINE_KPI_DATABASE_URL": f"sqlite:///{db}", "HOTLINE_KPI_VAR_DIR": str(work / "var"),
            "HOTLINE_KPI_TARGETS_DIR": str(targets), "HOTLINE_KPI_DEFAULT_HOTLINE": ids[0],
            "HOTLINE_KPI_SERVICE__INBOX_SCAN_SECONDS": f"{args.scan_seconds:g}",
        })
        with open(log, "wb") as out:
            proc = subprocess.Popen([*CLI, "serve", "--port", str(port)], cwd=work, env=env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        metrics_url = base + "/metrics"
        # Ready, and the start-up evaluation of every hotline done and exported.
        deadline = time.monotonic() + args.ready_seconds
        body, state = b"", "no answer"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"serve exited {proc.returncode}:\n{log.read_text()}")
            try:
                status, ready = get(base + "/readyz", 2)
                state = f"/readyz {status} {ready[:300]!r}"
                if status == 200:
                    status, body = get(metrics_url)
                    text = body.decode()
                    n = len(set(re.findall(r'hotline_kpi_last_evaluation_timestamp_seconds\{hotline="([^"]+)"', text)))
                    runs = job_runs_metric(text, "evaluate_daily")
                    state += f"; /metrics {status}: {n} hotlines evaluated, evaluate_daily runs {runs:g}"
                    if n == len(ids) and runs >= 1:
                        break
            except OSError as exc:
                state = f"{exc.__class__.__name__}: {exc}"
            time.sleep(0.5)
        else:
            raise SystemExit(f"serve not ready with {len(ids)} hotlines evaluated in {args.ready_seconds} s ({state}):\n"
                             f"{log.read_text()[-5000:]}")
        text = body.decode()
        if args.save_metrics:
            args.save_metrics.write_bytes(body)
        size, series = len(body), series_count(text)
        values = len(re.findall(r"^hotline_kpi_indicator_value\{", text, re.M))
        print(f"/metrics: {size:,} bytes, {series:,} series ({values:,} hotline_kpi_indicator_value), "
              f"{len(ids)} hotlines; load average before the load {os.getloadavg()[0]:.2f}", flush=True)

        results: list[tuple[Load, Schedule]] = []
        ctype, packed, unpacked = gzip_answer(metrics_url)
        per = series_per_hotline(text)
        print(f"as Prometheus asks: {ctype}, gzip {packed:,} bytes ({len(unpacked):,} uncompressed, "
              f"{series_count(unpacked.decode()):,} series); series per hotline: max {max(per.values())}, "
              f"min {min(per.values())} over {len(per)} hotlines", flush=True)
        for phase in args.phases.split(","):
            time.sleep(min(args.scan_seconds, 2.0))
            with ScheduleWatch(db, metrics_url, log, args.scan_seconds) as watch:
                if phase == "wrk":
                    load = run_wrk(metrics_url, args.duration, args.connections, args.wrk_threads, PROMETHEUS_HEADERS)
                else:
                    load = run_paced(metrics_url, args.rate, args.duration, args.threads,
                                     PROMETHEUS_HEADERS if phase == "paced-gzip" else "")
            results.append((load, watch.result()))

        cpu = os.cpu_count()
        load1, load5, _ = os.getloadavg()
        print(f"\nmachine: {cpu} CPUs, load average {load1:.2f} (1 min) {load5:.2f} (5 min) at the end; "
              f"service: uvicorn, one process; clients on the same host over loopback")
        print(f"/metrics size: {size:,} bytes (text, uncompressed), {packed:,} bytes gzip (OpenMetrics); "
              f"series: {series:,}; per hotline: max {max(per.values())}")
        for load, sched in results:
            print(f"\n{load.name}:")
            print(f"  requests {load.requests:,} in {load.seconds:.1f} s = {load.rps:,.1f} req/s; errors {load.errors}")
            print(f"  latency p50 {load.p50_ms:.2f} ms, p99 {load.p99_ms:.2f} ms, max {load.max_ms:.2f} ms; "
                  f"p99 / {GOAL_P99_MS:g} ms goal = {load.p99_ms / GOAL_P99_MS:.2f}")
            if load.note:
                print(f"  {load.note}")
            print(f"  scheduler: {sched.line()}")
        return 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
