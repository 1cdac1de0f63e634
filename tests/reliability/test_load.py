"""Load: /metrics, the status page and the scoreboard API of a real ``hotline-kpi serve``
under sustained load from a second process on loopback (wrk), while the scheduler keeps
its schedule.

Each case starts ``serve`` on a demo store (inbox scanned every second, metrics refreshed
every second), runs ``wrk -t2 -c16 -d10s`` against one endpoint and, during the load,
drops a daily report into the inbox. It proves, for that endpoint:

- no socket error (connect, read, write, timeout) and no non-2xx answer;
- every answer was a whole 200 body of its kind (checked for each response by wrk's Lua
  ``response`` hook), and a normal GET after the load parses (Prometheus text format,
  the page's table, the API's JSON);
- the service is still up and ready, logged no error, and stops cleanly;
- the scheduler kept its schedule under the load: the inbox_scan runs in the ``job_run``
  table and ``hotline_kpi_job_runs_total`` on /metrics (read during the load) advanced by
  at least a third of duration / interval, and the dropped file was loaded while wrk
  was still running.

Nothing here asserts a speed: the latency figures (p50/p90/p99, requests per second) are
printed (``pytest -s``) and, when HOTLINE_KPI_TEST_LOAD_REPORT names a file, written to it as
JSON (one key per endpoint). ``bench/load.py`` runs the same for longer and prints a table.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from hotline_kpi.service.jobs import job_runs
from hotline_kpi.store.db import make_engine, read_session
from hotline_kpi.store.models import IngestRow
from tests.reliability.support import drop, wait_for
from tests.processes import ServeProcess, http_get, prepare_demo, start_serve

#: Starts real processes (tests/processes.py): deselected by ``pytest -m 'not system'``.
pytestmark = pytest.mark.system

#: Seconds of load per endpoint (the whole test stays well under a minute).
LOAD_SECONDS = 10
#: The service's inbox scan interval during the test.
SCAN_SECONDS = 1.0
WRK_THREADS = 2
WRK_CONNECTIONS = 16
#: wrk's own per-request timeout: an answer slower than this counts as a timeout error.
WRK_TIMEOUT_SECONDS = 10

#: A wrk script: checks every response's body in the ``response`` hook (per wrk thread)
#: and prints one JSON line in ``done``: requests, errors by kind, latency percentiles (µs)
#: and how many bodies were whole. Arguments after ``--``: a text every body must contain,
#: and the text every body must end with.
WRK_LUA = r"""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  must_contain = args[1] or ""
  must_end = args[2] or ""
  good = 0
  bad = 0
  first_bad = ""
end

function response(status, headers, body)
  local ok = status == 200 and body ~= nil
    and string.find(body, must_contain, 1, true) ~= nil
    and (must_end == "" or string.sub(body, -string.len(must_end)) == must_end)
  if ok then
    good = good + 1
  else
    bad = bad + 1
    if first_bad == "" then
      first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 200)
    end
  end
end

local function quote(s)
  return '"' .. string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end) .. '"'
end

function done(summary, latency, requests)
  local good_total, bad_total, first = 0, 0, ""
  for _, t in ipairs(threads) do
    good_total = good_total + t:get("good")
    bad_total = bad_total + t:get("bad")
    if first == "" then first = t:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    '\nLOAD-JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d}, ' ..
    '"latency_us": {"min": %d, "p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}, ' ..
    '"bodies_ok": %d, "bodies_bad": %d, "first_bad": %s}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency.min, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    good_total, bad_total, quote(first)))
end
"""


@dataclass(frozen=True)
class Endpoint:
    """One loaded path: what each body must contain and end with, and how a normal GET is checked."""

    name: str
    path: str
    must_contain: str
    must_end: str
    check: Callable[[bytes], str | None] = field(repr=False)


def _check_metrics(body: bytes) -> str | None:
    families = {f.name: f for f in text_string_to_metric_families(body.decode("utf-8"))}
    for name in ("hotline_kpi_build_info", "hotline_kpi_job_runs", "hotline_kpi_indicator_value"):
        if name not in families or not families[name].samples:
            return f"/metrics: family {name} missing or empty (families: {sorted(families)[:20]} ...)"
    return None


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.open_tables = self.tables = self.cells = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.open_tables += 1
        elif tag == "td" and self.open_tables:
            self.cells += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.open_tables:
            self.open_tables -= 1
            self.tables += 1


def _check_page(body: bytes) -> str | None:
    parser = _Tables()
    parser.feed(body.decode("utf-8"))
    parser.close()
    if parser.tables < 1 or parser.cells < 10 or parser.open_tables:
        return (f"/: {parser.tables} closed table(s), {parser.open_tables} unclosed, {parser.cells} cells "
                f"(want a whole scoreboard table); body ends {body[-200:]!r}")
    return None


def _check_scoreboard(body: bytes) -> str | None:
    payload = json.loads(body)
    if not isinstance(payload, dict) or not payload.get("results"):
        return f"/api/v1/scoreboard: no results in {body[:300]!r}"
    return None


ENDPOINTS = (
    Endpoint("metrics", "/metrics", "hotline_kpi_build_info", "\n", _check_metrics),
    Endpoint("status-page", "/", "<table", "</html>", _check_page),
    Endpoint("scoreboard-api", "/api/v1/scoreboard", '"results"', "}", _check_scoreboard),
)


# --- wrk ------------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    """What wrk's ``done`` hook reported for one run."""

    endpoint: str
    requests: int
    seconds: float
    bytes: int
    errors: dict[str, int]
    latency_ms: dict[str, float]
    bodies_ok: int
    bodies_bad: int
    first_bad: str
    command: str

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_total(self) -> int:
        return sum(self.errors.values())

    def line(self) -> str:
        lat = self.latency_ms
        errs = ", ".join(f"{k} {v}" for k, v in self.errors.items())
        return (f"{self.endpoint}: {self.requests} requests in {self.seconds:.1f} s = "
                f"{self.requests_per_second:.0f} req/s; latency p50 {lat['p50']:.2f} ms, p90 {lat['p90']:.2f} ms, "
                f"p99 {lat['p99']:.2f} ms, max {lat['max']:.2f} ms; errors: {errs}; "
                f"bodies whole {self.bodies_ok}, not whole {self.bodies_bad}")


def wrk_binary() -> str:
    """The wrk executable; fails (not skips) without it, like a missing PostgreSQL."""
    wrk = shutil.which("wrk")
    if wrk is None:
        pytest.fail("wrk not found: install Debian's wrk package (`make test` does, via .ci/install-test-deps)")
    return wrk


def start_wrk(wrk: str, script: Path, url: str, endpoint: Endpoint, seconds: int, threads: int = WRK_THREADS,
              connections: int = WRK_CONNECTIONS) -> subprocess.Popen[str]:
    """wrk against ``url`` for ``seconds`` s with the body-checking ``script``, in its own process."""
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout",
           f"{WRK_TIMEOUT_SECONDS}s", "-s", str(script), url, "--", endpoint.must_contain, endpoint.must_end]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                            start_new_session=True)


def finish_wrk(proc: subprocess.Popen[str], endpoint: Endpoint, seconds: int) -> WrkResult:
    """Wait (bounded) for a wrk started by :func:`start_wrk` and parse its ``LOAD-JSON`` line."""
    try:
        out, err = proc.communicate(timeout=seconds + WRK_TIMEOUT_SECONDS + 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=10)
        raise AssertionError(f"wrk on {endpoint.path} did not finish within {seconds + WRK_TIMEOUT_SECONDS + 30} s:"
                             f"\n{out}\n{err}") from None
    lines = [ln for ln in out.splitlines() if ln.startswith("LOAD-JSON ")]
    if proc.returncode != 0 or len(lines) != 1:
        raise AssertionError(f"wrk on {endpoint.path} exited {proc.returncode} with {len(lines)} LOAD-JSON line(s)"
                             f"\n--- stdout\n{out}\n--- stderr\n{err}")
    r = json.loads(lines[0].removeprefix("LOAD-JSON "))
    return WrkResult(
        endpoint=endpoint.path, requests=r["requests"], seconds=r["duration_us"] / 1e6, bytes=r["bytes"],
        errors=r["errors"], latency_ms={k: v / 1000 for k, v in r["latency_us"].items()},
        bodies_ok=r["bodies_ok"], bodies_bad=r["bodies_bad"], first_bad=r["first_bad"],
        command=" ".join(str(a) for a in proc.args),  # type: ignore[union-attr]
    )


def stop_wrk(proc: subprocess.Popen[str]) -> None:
    """Finalizer: a wrk still running (a failed assertion mid-load) is killed."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


# --- what the service reports ---------------------------------------------------------------------


def scan_runs_db(url: str) -> int:
    """runs_total of the inbox_scan job in the job_run table (0 before its first run)."""
    eng = make_engine(url)
    try:
        return next((r.runs_total for r in job_runs(eng) if r.job_id == "inbox_scan"), 0)
    finally:
        eng.dispose()


def scan_runs_metric(served: ServeProcess) -> float:
    """hotline_kpi_job_runs_total{job_id="inbox_scan"} on /metrics."""
    status, body = served.get("/metrics", timeout=WRK_TIMEOUT_SECONDS)
    assert status == 200, f"/metrics answered {status}"
    for family in text_string_to_metric_families(body.decode("utf-8")):
        for s in family.samples:
            if s.name == "hotline_kpi_job_runs_total" and s.labels.get("job_id") == "inbox_scan":
                return s.value
    raise AssertionError("/metrics: no hotline_kpi_job_runs_total{job_id=\"inbox_scan\"}")


def ingested(url: str, file_name: str) -> IngestRow | None:
    eng = make_engine(url)
    try:
        with read_session(eng) as s:
            return s.scalars(select(IngestRow).where(IngestRow.file_name == file_name)).first()
    finally:
        eng.dispose()


def report_csv(index: int) -> str:
    """A one-day daily report, different for every ``index`` (a new file, a revised day)."""
    return ("日期,受理量,呼入量,接通量,平均接通时长(秒),话务员受理量,一次性解答量,派单量,有责退单量,回访量,满意量\n"
            f"2019-03-{index + 1:02d},11000,10000,{9300 + index},7.5,9300,5200,4100,180,400,372\n")


def write_report(result: dict[str, object], endpoint: str) -> None:
    """Merge this endpoint's figures into the JSON file HOTLINE_KPI_TEST_LOAD_REPORT names (if set)."""
    target = os.environ.get("HOTLINE_KPI_TEST_LOAD_REPORT")
    if not target:
        return
    path = Path(target)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            data = {}
    except (FileNotFoundError, ValueError):
        data = {}
    data[endpoint] = result
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@dataclass
class ScheduleSeen:
    """The scheduler as seen around and during one load run."""

    runs_db_before: int = 0
    runs_db_after: int = 0
    runs_metric_before: float = 0.0
    #: the last /metrics value read while wrk was still running
    runs_metric_during: float = 0.0
    metric_reads_during: int = 0
    #: seconds after wrk's start at which the dropped file was seen loaded, wrk still running
    loaded_after: float | None = None


# --- the test ---------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_sustained_load_gets_whole_answers_and_the_scheduler_keeps_its_schedule(endpoint, tmp_path, request,
                                                                                 demo_template):
    """wrk for LOAD_SECONDS against one endpoint of a real serve: no error, every body whole,
    the service still ready, inbox scans on schedule and a dropped file loaded during the load."""
    wrk = wrk_binary()
    index = ENDPOINTS.index(endpoint)
    env = prepare_demo(demo_template, tmp_path / "svc", extra_env={
        "HOTLINE_KPI_SERVICE__INBOX_SCAN_SECONDS": f"{SCAN_SECONDS:g}",
        "HOTLINE_KPI_SERVICE__INBOX_SETTLE_SECONDS": "0",
        "HOTLINE_KPI_SERVICE__METRICS_REFRESH_SECONDS": "1",
    })
    base = tmp_path / "svc"
    url = env["HOTLINE_KPI_DATABASE_URL"]
    served = start_serve(env, base, request.addfinalizer)
    # The scheduler is running before the load starts (its first scan has been recorded).
    wait_for(lambda: scan_runs_db(url) >= 1, 30, "a first inbox_scan run before the load")
    script = tmp_path / "load.lua"
    script.write_text(WRK_LUA, encoding="utf-8")
    inbox, name = base / "var" / "inbox", f"load-{endpoint.name}.csv"

    seen = ScheduleSeen(runs_db_before=scan_runs_db(url), runs_metric_before=scan_runs_metric(served))
    started = time.monotonic()
    proc = start_wrk(wrk, script, served.url(endpoint.path), endpoint, LOAD_SECONDS)
    request.addfinalizer(lambda: stop_wrk(proc))
    time.sleep(1.0)  # the load is on before the file arrives
    assert proc.poll() is None, f"wrk exited early: {proc.communicate(timeout=10)}"
    drop(inbox, name, report_csv(index))
    while proc.poll() is None:
        if seen.loaded_after is None and ingested(url, name) is not None and proc.poll() is None:
            seen.loaded_after = time.monotonic() - started
        value = scan_runs_metric(served)
        if proc.poll() is None:  # read while the load was still on
            seen.runs_metric_during, seen.metric_reads_during = value, seen.metric_reads_during + 1
        time.sleep(0.5)
    result = finish_wrk(proc, endpoint, LOAD_SECONDS)
    seen.runs_db_after = scan_runs_db(url)

    expected = LOAD_SECONDS / SCAN_SECONDS
    figures = {**asdict(result), "requests_per_second": result.requests_per_second,
               "schedule": {**asdict(seen), "expected_runs": expected, "scan_interval_seconds": SCAN_SECONDS}}
    print(f"\nload {result.line()}\n  inbox_scan runs during the load: {seen.runs_db_after - seen.runs_db_before} "
          f"(job_run table), expected ~{expected:g}; dropped file seen loaded after "
          f"{'-' if seen.loaded_after is None else f'{seen.loaded_after:.1f}'} s of load\n"
          f"  {result.command}")
    write_report(figures, endpoint.name)

    # No error of any kind, and every answer a whole 200 body.
    assert result.requests > 0, result
    assert result.error_total == 0, f"{endpoint.path}: wrk errors {result.errors} in {result.requests} requests"
    assert result.bodies_bad == 0 and result.bodies_ok == result.requests, (
        f"{endpoint.path}: {result.bodies_bad} of {result.requests} answers not a whole 200 body ending "
        f"{endpoint.must_end!r} with {endpoint.must_contain!r}; first: {result.first_bad!r}")

    # Still up and ready, and a normal GET parses.
    assert served.proc.poll() is None, f"serve exited {served.proc.returncode}\n{served.log()}"
    status, body = http_get(served.url("/readyz"))
    assert status == 200, f"/readyz after the load: {status} {body[:500]!r}"
    assert http_get(served.url("/healthz"))[0] == 200
    status, body = http_get(served.url(endpoint.path), timeout=WRK_TIMEOUT_SECONDS)
    assert status == 200, f"{endpoint.path} after the load: {status}"
    problem = endpoint.check(body)
    assert problem is None, problem

    # The scheduler kept its schedule while under load.
    least = math.ceil(expected / 3)
    ran = seen.runs_db_after - seen.runs_db_before
    assert ran >= least, f"inbox_scan ran {ran} times in {LOAD_SECONDS} s of load (job_run), want >= {least}"
    assert seen.metric_reads_during >= 1, "/metrics was never read during the load"
    shown = seen.runs_metric_during - seen.runs_metric_before
    assert shown >= least, (f"hotline_kpi_job_runs_total{{job_id=\"inbox_scan\"}} rose by {shown:g} on /metrics "
                            f"during the load, want >= {least}")
    assert seen.loaded_after is not None, (
        f"{inbox / name}: not loaded while wrk ran (ingest row {ingested(url, name)}, "
        f"still in the inbox: {(inbox / name).exists()})\n{served.log()[-3000:]}")
    assert not (inbox / name).exists() and list((base / "var" / "archive").rglob(name)), \
        f"{name}: not moved from the inbox to the archive"

    # Nothing went wrong inside the service, and it stops cleanly.
    log = served.log()
    assert "database is locked" not in log and '"level": "error"' not in log and "Traceback" not in log, log[-3000:]
    assert served.stop() == 0, served.log()[-3000:]
