"""The stack the panel tests query: a real ``hotline-kpi serve`` holding the demo year on
PostgreSQL and a real Prometheus scraping it every second with the project's
prometheus.yml and rules (the alert rules' ``for`` dropped, so that the alerts that would
fire after an hour on the demo data fire at once)."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from tests.common import ROOT
from tests.dashboards.conftest import DemoDatabase
from tests.dashboards.prometheus import PrometheusProcess, start_prometheus, wait_for
from tests.processes import ServeProcess, start_serve

PROMETHEUS_CONFIG = ROOT / "config" / "prometheus" / "prometheus.yml"


@dataclass
class Stack:
    serve: ServeProcess
    prometheus: PrometheusProcess
    started: float


def _test_rules(folder: Path) -> str:
    """The project's rule files with every alert's ``for`` dropped (see the module doc)."""
    out = folder / "rules"
    out.mkdir()
    files = sorted((PROMETHEUS_CONFIG.parent / "rules").glob("*.y*ml"))
    assert files, "config/prometheus/rules/ has no rule file"
    for path in files:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in doc.get("groups", []):
            group["interval"] = "1s"
            for rule in group.get("rules", []):
                rule.pop("for", None)
                rule.pop("keep_firing_for", None)
        (out / path.name).write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return str(out / "*.yml")


def _prometheus_config(folder: Path, target: str) -> Path:
    """The project's prometheus.yml: same job and rules, scraping ``target`` every second."""
    assert PROMETHEUS_CONFIG.exists(), f"{PROMETHEUS_CONFIG} is missing"
    cfg = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    cfg["global"] = {**cfg.get("global", {}), "scrape_interval": "1s", "scrape_timeout": "1s",
                     "evaluation_interval": "1s"}
    cfg["rule_files"] = [_test_rules(folder)]
    cfg.pop("alerting", None)  # no Alertmanager here
    jobs = [j for j in cfg["scrape_configs"] if j["job_name"] == "hotline-kpi"]
    assert jobs, "prometheus.yml has no scrape job hotline-kpi (the dashboards query up{job=\"hotline-kpi\"})"
    job = jobs[0]
    job.pop("scrape_interval", None)
    job.pop("scrape_timeout", None)
    job["static_configs"] = [{"targets": [target]}]
    cfg["scrape_configs"] = [job]
    path = folder / "prometheus.yml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def _drop_inbox_files(demo: DemoDatabase, inbox: Path) -> None:
    """One good file (already loaded: a success for the freshness panel) and one bad one
    (rejected: the rejected-files panels)."""
    inbox.mkdir(parents=True)
    reports = sorted((demo.base / "var" / "demo" / "2019").rglob("*.csv"))
    assert reports, "the demo wrote no daily reports"
    shutil.copy(reports[0], inbox / reports[0].name)
    header = reports[0].read_text(encoding="utf-8-sig").splitlines()[0]
    (inbox / "12345热线日报-2019-13.csv").write_text(f"{header}\n2019-13-45,不是数字\n", encoding="utf-8")


def start_stack(demo_pg: DemoDatabase, base: Path,
                addfinalizer: Callable[[Callable[[], object]], object]) -> Stack:
    env = {**demo_pg.env,
           "HOTLINE_KPI_VAR_DIR": str(base / "var"),
           "HOTLINE_KPI_SERVICE__INBOX_SCAN_SECONDS": "1",
           "HOTLINE_KPI_SERVICE__INBOX_SETTLE_SECONDS": "0",
           "HOTLINE_KPI_SERVICE__METRICS_REFRESH_SECONDS": "1"}
    _drop_inbox_files(demo_pg, base / "var" / "inbox")
    serve = start_serve(env, base, addfinalizer, ready_timeout=90)
    # The first inbox scan runs at start; wait (bounded) until its results are exported.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _, body = serve.get("/metrics")
        text = body.decode()
        if 'result="rejected"' in text and "hotline_kpi_last_ingest_success_timestamp_seconds{" in text:
            break
        time.sleep(0.3)
    else:
        raise AssertionError(f"the inbox files never showed in /metrics\n--- serve log\n{serve.log()}")
    config = _prometheus_config(base, f"127.0.0.1:{serve.port}")
    started = time.time()
    prom = start_prometheus(config, base / "tsdb", base, addfinalizer)
    # Range functions (increase(...[1h])) need at least two samples: wait for several scrapes.
    wait_for(prom, 'count_over_time(up{job="hotline-kpi"}[5m]) >= 5', "five scrapes of serve")
    wait_for(prom, 'hotline_kpi_indicator_value{window="year_to_date"}', "the KPI series")
    wait_for(prom, 'ALERTS{alertstate="firing"}', "a firing alert from the project's rules")
    return Stack(serve, prom, started)


