"""Prometheus: the project's rules and scrape configuration, checked by promtool and run
for real against a real ``hotline-kpi serve``.

- promtool check rules / check config / test rules (config/prometheus/tests/*.yml), and
  that those rule tests cover every alert firing and not firing and every recording rule;
- end to end: the demo year in a temp SQLite store, a real ``serve`` on a free loopback
  port, a real Prometheus (Debian package ``prometheus``) scraping it every second with
  the project's scrape job and rule files; through Prometheus's HTTP query API the gauges
  carry exactly what ``hotline-kpi evaluate --as-of 2019-12-31 --format json`` computes,
  the recording rules agree with it, every rule loaded and evaluates without error, and
  the alerts the demo data should raise (and only those) are active.

Nothing is skipped: without promtool/prometheus the tests fail and say to run
``make test``, which installs them.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

from hotline_kpi.service.kpi_metrics import JUDGED_WINDOWS, WINDOWS
from tests.common import ROOT, SHANGHAI as HOTLINE, ZONE
from tests.processes import DemoTemplate, ServeProcess, Started, prepare_demo, run_cli, start_process, start_serve

#: Starts real processes (tests/processes.py): deselected by ``pytest -m 'not system'``.
pytestmark = pytest.mark.system

PROM_DIR = ROOT / "config" / "prometheus"
PROM_CONFIG = PROM_DIR / "prometheus.yml"
RULES = PROM_DIR / "rules" / "hotline-kpi.rules.yml"
RULE_TESTS = sorted((PROM_DIR / "tests").glob("*.yml"))
JOB = "hotline-kpi"
STATUSES = ("met", "breached", "no_data", "tracked")
#: Every wait is bounded by this many seconds.
WAIT = 60.0


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found on PATH: run `make test`, which installs the Debian package "
                    f"prometheus (prometheus and promtool)", pytrace=False)
    return path


def _run(args: list[str], cwd: Path, timeout: float = 120) -> str:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    out = f"$ {' '.join(args)}  (in {cwd})\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    assert proc.returncode == 0, out
    return out


def _rules_doc() -> dict[str, Any]:
    return yaml.safe_load(RULES.read_text(encoding="utf-8"))


def _rule_names() -> tuple[set[str], set[str]]:
    alerts, records = set(), set()
    for group in _rules_doc()["groups"]:
        for rule in group["rules"]:
            (alerts if "alert" in rule else records).add(rule.get("alert") or rule["record"])
    return alerts, records


# --- promtool -------------------------------------------------------------------------


def test_promtool_check_rules() -> None:
    out = _run([_tool("promtool"), "check", "rules", str(RULES.relative_to(PROM_DIR))], cwd=PROM_DIR)
    assert "SUCCESS" in out


def test_promtool_check_config() -> None:
    # Run from config/prometheus: rule_files (rules/*.yml) is relative to the config file.
    out = _run([_tool("promtool"), "check", "config", PROM_CONFIG.name], cwd=PROM_DIR)
    assert "SUCCESS: 1 rule files found" in out, out


def test_prometheus_yml_scrapes_the_service() -> None:
    cfg = yaml.safe_load(PROM_CONFIG.read_text(encoding="utf-8"))
    assert cfg["rule_files"] == ["rules/*.yml"]
    [job] = [j for j in cfg["scrape_configs"] if j["job_name"] == JOB]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert [t for sc in job["static_configs"] for t in sc["targets"]] == ["hotline-kpi:9105"]


def test_promtool_test_rules() -> None:
    assert RULE_TESTS, "no promtool rule tests in config/prometheus/tests"
    out = _run([_tool("promtool"), "test", "rules", *(str(p.relative_to(PROM_DIR)) for p in RULE_TESTS)],
               cwd=PROM_DIR)
    assert "FAILED" not in out, out


def test_rule_tests_cover_every_alert_firing_and_not_firing_and_every_recording_rule() -> None:
    alerts, records = _rule_names()
    firing: set[str] = set()
    silent: set[str] = set()
    expressions: list[str] = []
    for path in RULE_TESTS:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        rule_files = [(path.parent / f).resolve() for f in doc["rule_files"]]
        assert rule_files == [RULES.resolve()], f"{path.name} must test {RULES}"
        for test in doc["tests"]:
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else silent).add(case["alertname"])
            expressions += [case["expr"] for case in test.get("promql_expr_test", [])]
    assert alerts - firing == set(), "alerts never tested firing"
    assert alerts - silent == set(), "alerts never tested not firing"
    assert {r for r in records if not any(r in e for e in expressions)} == set(), "recording rules never tested"


# --- end to end: serve + Prometheus ----------------------------------------------------


def _get_json(url: str, timeout: float = 5) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


@dataclass
class PrometheusProcess(Started):
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-20000:]
        except FileNotFoundError:
            return ""

    def api(self, path: str, **params: str) -> Any:
        url = f"{self.base_url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        body = _get_json(url)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, promql: str) -> list[tuple[dict[str, str], float]]:
        data = self.api("query", query=promql)
        assert data["resultType"] == "vector", data
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]


def _prometheus_config(service_port: int) -> dict[str, Any]:
    """The project's scrape job and rules, pointed at the test's service, every second."""
    cfg = yaml.safe_load(PROM_CONFIG.read_text(encoding="utf-8"))
    [job] = [j for j in cfg["scrape_configs"] if j["job_name"] == JOB]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{service_port}"]}]
    cfg["global"] = {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
    cfg["rule_files"] = [str(PROM_DIR / rf) for rf in cfg["rule_files"]]
    cfg["scrape_configs"] = [job]
    return cfg


def start_prometheus(base: Path, service_port: int,
                     addfinalizer: Callable[[Callable[[], object]], object]) -> PrometheusProcess:
    binary = _tool("prometheus")
    config = base / "prometheus.yml"
    config.write_text(yaml.safe_dump(_prometheus_config(service_port), sort_keys=False), encoding="utf-8")

    def ready(prom: Started) -> str | None:
        assert isinstance(prom, PrometheusProcess)
        with urllib.request.urlopen(f"{prom.base_url}/-/ready", timeout=2) as resp:
            return None if resp.status == 200 else f"/-/ready: {resp.status}"

    prom = start_process(lambda port: [binary, f"--config.file={config}", f"--storage.tsdb.path={base / f'tsdb-{port}'}",
                                       f"--web.listen-address=127.0.0.1:{port}"],
                         log_dir=base, name="prometheus", addfinalizer=addfinalizer, ready=ready, cwd=base,
                         ready_timeout=WAIT, make=PrometheusProcess)
    assert isinstance(prom, PrometheusProcess)
    return prom


@dataclass
class Stack:
    serve: ServeProcess
    prom: PrometheusProcess
    expected: dict[str, Any]

    def logs(self) -> str:
        return f"--- serve log\n{self.serve.log()[-20000:]}\n--- prometheus log\n{self.prom.log()}"

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = WAIT) -> Any:
        """Poll ``check`` until it returns something truthy; fail with both logs after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            for p, name in ((self.serve.proc, "serve"), (self.prom.proc, "prometheus")):
                if p.poll() is not None:
                    raise AssertionError(f"{name} exited with {p.returncode} while waiting for {what}\n{self.logs()}")
            try:
                last = check()
            except (OSError, urllib.error.URLError, AssertionError, KeyError, ValueError) as exc:
                last = f"{exc.__class__.__name__}: {exc}"
            else:
                if last:
                    return last
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})\n{self.logs()}")


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          demo_template: DemoTemplate) -> Iterator[Stack]:
    _tool("prometheus")
    base = tmp_path_factory.mktemp("prometheus-e2e")
    env = prepare_demo(demo_template, base)
    expected = json.loads(run_cli(env, "evaluate", "--as-of", "2019-12-31", "--format", "json", cwd=base).stdout)
    serve = start_serve(env, base, request.addfinalizer, ready_timeout=WAIT)
    prom = start_prometheus(base, serve.port, request.addfinalizer)
    s = Stack(serve, prom, expected)
    n_values = sum(r["value"] is not None for r in expected["results"] if r["window"] in WINDOWS)
    s.wait_for("Prometheus to scrape the service",
               lambda: prom.query(f'up{{job="{JOB}"}} == 1')
               and len(prom.query(f'hotline_kpi_indicator_value{{job="{JOB}"}}')) == n_values)
    s.wait_for("the recording rules to produce",
               lambda: prom.query("hotline_window:hotline_kpi_indicator_judged:count"))
    yield s


def _by(samples: list[tuple[dict[str, str], float]], *labels: str) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = {}
    for metric, value in samples:
        key = tuple(metric[name] for name in labels)
        assert key not in out, f"duplicate series {metric}"
        out[key] = value
    return out


def _local_midnight(day: str) -> float:
    d = dt.date.fromisoformat(day)
    return dt.datetime(d.year, d.month, d.day, tzinfo=ZONE).timestamp()


def test_gauges_in_prometheus_carry_the_values_evaluate_computes(stack: Stack) -> None:
    prom, exp = stack.prom, stack.expected
    assert exp["hotline"] == HOTLINE and exp["as_of"] == "2019-12-31"
    sel = f'{{job="{JOB}",instance="127.0.0.1:{stack.serve.port}",hotline="{HOTLINE}"}}'
    key = ("indicator", "window")

    def series(metric: str, *labels: str) -> dict[tuple[str, ...], float]:
        return _by(prom.query(metric + sel), *labels)

    value = series("hotline_kpi_indicator_value", *key, "unit")
    annual = series("hotline_kpi_indicator_annual_target", "indicator", "unit")
    breached = series("hotline_kpi_indicator_breached", *key)
    pace = series("hotline_kpi_volume_pace_requests", *key)

    # The lean exposition (issue #19): the windows the dashboards and rules read; a
    # breach flag on the judged windows; no status set, per-window target or shortfall.
    all_results = exp["results"]
    assert len({(r["id"], r["window"]) for r in all_results}) == len(all_results)
    results = [r for r in all_results if r["window"] in WINDOWS]
    assert {r["window"] for r in results} == set(WINDOWS)
    for r in results:
        k = (r["id"], r["window"])
        where = f"{r['id']} {r['window']}"
        # exact: the exposition and the API both print floats that round-trip
        assert value.get((*k, r["unit"])) == r["value"], where
        assert r["status"] in STATUSES, where
        if r["window"] in JUDGED_WINDOWS:
            assert breached.get(k) == ({"met": 0.0, "breached": 1.0}.get(r["status"])), where
        assert pace.get(k) == r.get("pace"), where
        if r["annual_target"] is not None:
            assert annual[(r["id"], r["unit"])] == r["annual_target"], where
            # what the dropped per-window target said: the annual target, the pace for the volume
            assert r["target"] == (r["pace"] if r.get("pace") is not None else r["annual_target"]), where
        if r.get("shortfall") is not None:  # what the dropped shortfall said: the rule computes pace - value
            assert r["shortfall"] == max(0.0, r["pace"] - r["value"]), where
    # and nothing else: absent series for "no data", never NaN, no stray label sets
    assert set(value) == {(r["id"], r["window"], r["unit"]) for r in results if r["value"] is not None}
    assert set(breached) == {(r["id"], r["window"]) for r in results
                             if r["window"] in JUDGED_WINDOWS and r["status"] in ("met", "breached")}
    assert set(pace) == {(r["id"], r["window"]) for r in results if r.get("pace") is not None}
    assert set(annual) == {(r["id"], r["unit"]) for r in results if r["annual_target"] is not None}
    for metric in ("hotline_kpi_indicator_status", "hotline_kpi_indicator_target",
                   "hotline_kpi_indicator_days_with_data", "hotline_kpi_volume_shortfall_requests",
                   "hotline_kpi_counter_missing_days"):
        assert prom.query(metric) == [], f"{metric} is no longer exported"
    assert not any(math.isnan(v) for _, v in prom.query("hotline_kpi_indicator_value"))
    # the demo year has a breach to show (the figures are checked against evaluate above)
    assert any(r["status"] == "breached" for r in results if r["window"] in JUDGED_WINDOWS)

    # the date the figures describe, and completeness
    assert series("hotline_kpi_data_date_timestamp_seconds")[()] == _local_midnight(exp["data_date"])
    assert series("hotline_kpi_as_of_date_timestamp_seconds")[()] == _local_midnight(exp["as_of"])
    comp = exp["completeness"]
    assert series("hotline_kpi_data_completeness_ratio")[()] == comp["ratio"]

    # the service's own health, through Prometheus
    inst = f'{{job="{JOB}",instance="127.0.0.1:{stack.serve.port}"}}'
    for metric in ("up", "hotline_kpi_exporter_up", "hotline_kpi_database_up", "hotline_kpi_scheduler_leader"):
        assert [v for _, v in prom.query(metric + inst)] == [1.0], metric


def test_recording_rules_agree_with_evaluate(stack: Stack) -> None:
    prom, results = stack.prom, stack.expected["results"]
    windows = sorted(JUDGED_WINDOWS)  # the windows with a breach flag (issue #19)
    judged = {w: [r for r in results if r["window"] == w and r["status"] in ("met", "breached")] for w in windows}

    breached = _by(prom.query(f'hotline_window:hotline_kpi_indicator_breached:sum{{hotline="{HOTLINE}"}}'), "window")
    count = _by(prom.query(f'hotline_window:hotline_kpi_indicator_judged:count{{hotline="{HOTLINE}"}}'), "window")
    met = _by(prom.query(f'hotline_window:hotline_kpi_indicator_met:ratio{{hotline="{HOTLINE}"}}'), "window")
    assert breached == {(w,): float(sum(r["status"] == "breached" for r in rs)) for w, rs in judged.items() if rs}
    assert count == {(w,): float(len(rs)) for w, rs in judged.items() if rs}
    assert met == {(w,): pytest.approx(sum(r["status"] == "met" for r in rs) / len(rs), rel=1e-12)
                   for w, rs in judged.items() if rs}

    pace = _by(prom.query(f'hotline_indicator_window:hotline_kpi_volume_pace:ratio{{hotline="{HOTLINE}"}}'),
               "indicator", "window")
    assert pace == {(r["id"], r["window"]): r["value"] / r["pace"] for r in results
                    if r["window"] in WINDOWS and r.get("pace") and r["value"] is not None}
    assert pace, "the demo year has a volume indicator"

    [(_, age)] = prom.query(f'hotline:hotline_kpi_data_age:seconds{{hotline="{HOTLINE}"}}')
    assert age == pytest.approx(time.time() - _local_midnight(stack.expected["data_date"]), abs=120)
    [(_, eval_age)] = prom.query(f'hotline:hotline_kpi_evaluation_age:seconds{{hotline="{HOTLINE}"}}')
    assert 0 <= eval_age < 600


def test_project_rules_load_and_evaluate_without_errors(stack: Stack) -> None:
    alerts, records = _rule_names()
    groups = {g["name"] for g in _rules_doc()["groups"]}

    def all_evaluated() -> list[dict[str, Any]]:
        rules = [r for g in stack.prom.api("rules")["groups"] for r in g["rules"]]
        ok = rules and all(not r["lastEvaluation"].startswith("0001-") for r in rules)
        return rules if ok else []

    rules = stack.wait_for("every rule to be evaluated", all_evaluated)
    loaded_groups = {(g["name"], g["file"]) for g in stack.prom.api("rules")["groups"]}
    assert loaded_groups == {(name, str(RULES)) for name in groups}
    assert {r["name"] for r in rules if r["type"] == "alerting"} == alerts
    assert {r["name"] for r in rules if r["type"] == "recording"} == records
    bad = [(r["name"], r["health"], r.get("lastError")) for r in rules if r["health"] != "ok" or r.get("lastError")]
    assert bad == [], f"{bad}\n{stack.logs()}"


def test_demo_data_raises_exactly_the_expected_alerts(stack: Stack) -> None:
    """The demo year is 2019 and the clock is now: HotlineKpiDataStale is correct on it
    (pending for its first hour); the year-to-date breaches evaluate computes are alerted
    (pending for 15 m); nothing about the service's health is."""
    results = stack.expected["results"]
    ytd = [r for r in results if r["window"] == "year_to_date"]
    expected = {("HotlineKpiDataStale", HOTLINE, "")}
    expected |= {("HotlineKpiIndicatorBreachedYearToDate", HOTLINE, r["id"]) for r in ytd
                 if r["status"] == "breached" and r.get("pace") is None}
    expected |= {("HotlineKpiIndicatorBreachedMonthToDate", HOTLINE, r["id"]) for r in results
                 if r["window"] == "month_to_date" and r["status"] == "breached"}
    expected |= {("HotlineKpiVolumeBehindPace", HOTLINE, r["id"]) for r in ytd if (r.get("shortfall") or 0) > 0}
    assert ("HotlineKpiIndicatorBreachedYearToDate", HOTLINE, "average_answer_seconds") in expected

    def active() -> set[tuple[str, str, str]]:
        return {(a["labels"]["alertname"], a["labels"].get("hotline", ""), a["labels"].get("indicator", ""))
                for a in stack.prom.api("alerts")["alerts"] if a["state"] in ("pending", "firing")}

    stack.wait_for(f"the alerts {sorted(expected)} (and no other)", lambda: active() == expected)
    by_name = {a["labels"]["alertname"]: a for a in stack.prom.api("alerts")["alerts"]}
    stale = by_name["HotlineKpiDataStale"]
    assert stale["labels"]["severity"] == "warning"
    assert stale["annotations"]["summary_zh"].startswith(f"{HOTLINE}：最新数据已是 ")
    breach = by_name["HotlineKpiIndicatorBreachedYearToDate"]
    assert breach["labels"]["severity"] == "critical"
    assert "against the target" in breach["annotations"]["description"]


# --- docs/metrics.md -------------------------------------------------------------------

DOCS = ROOT / "docs" / "metrics.md"


def _documented_metrics() -> dict[str, list[str]]:
    """Rows of the metric reference tables: name -> cells."""
    rows = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `hotline_kpi_"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[cells[0].strip("`")] = cells
    return rows


def test_docs_list_every_exported_metric_with_a_working_example_query(stack: Stack) -> None:
    status, body = stack.serve.get("/metrics")
    assert status == 200
    families = {}
    for line in body.decode().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            families[name] = kind  # the text format names counters with their _total
    documented = _documented_metrics()
    assert set(documented) == set(families), "docs/metrics.md and /metrics disagree"
    for name, cells in documented.items():
        assert cells[1].startswith(families[name]), f"{name}: type {cells[1]!r}, exported as {families[name]}"
        example = cells[-1].strip("`")
        assert name in example, f"{name}: example {example!r} does not use it"
        stack.prom.query(example)  # valid PromQL: the API answers success

    alerts, records = _rule_names()
    text = DOCS.read_text(encoding="utf-8")
    assert [a for a in sorted(alerts | records) if f"`{a}`" not in text] == []
