"""Every query of every provisioned dashboard returns data from the real sources.

- PromQL goes to a real Prometheus that scrapes a real ``hotline-kpi serve`` holding the
  demo year on PostgreSQL, with the project's prometheus.yml (scrape interval cut to 1 s)
  and rules. The alert rules' ``for`` durations are dropped in the test copy, so the alerts
  that would fire after an hour on the demo data (stale data, targets missed) fire at
  once and the "firing alerts" panel has something to show.
- SQL, with Grafana's macros expanded for a 2019 time range, runs on that PostgreSQL as a
  login user that holds only the hotline_kpi_grafana role, and must return rows with a
  ``time`` column, sorted by it, each value column with data.
- Template variables resolve to real values through the same sources.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from sqlalchemy import Engine

from hotline_kpi.store.db import make_engine
from tests.dashboards import grafana
from tests.dashboards.conftest import DemoDatabase, GrafanaLogin
from tests.dashboards.prometheus import PrometheusProcess, start_prometheus, wait_for
from tests.common import ROOT, SHANGHAI as HOTLINE, TZ
from tests.processes import ServeProcess, start_serve

pytestmark = [pytest.mark.postgres, pytest.mark.system]

PROMETHEUS_CONFIG = ROOT / "config" / "prometheus" / "prometheus.yml"
#: The time range the SQL panels are checked over: the demo year, as Grafana sends an
#: absolute range picked in the dashboard's zone (to = the last millisecond of the day).
FROM_2019 = dt.datetime(2019, 1, 1, tzinfo=TZ)
TO_2019 = dt.datetime(2019, 12, 31, 23, 59, 59, 999000, tzinfo=TZ)
VARIABLES = {"hotline": HOTLINE}

DASHBOARDS = grafana.load_dashboards()
QUERIES = [q for name, d in DASHBOARDS.items() for q in grafana.queries(name, d)]


def _ids(qs: list[grafana.Query]) -> list[str]:
    return [f"{q.dashboard}:{q.panel}:{q.ref_id}" for q in qs]


PROMQL = [q for q in QUERIES if q.is_prometheus]
SQL = [q for q in QUERIES if q.is_sql]


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


@pytest.fixture(scope="module")
def stack(demo_pg: DemoDatabase, tmp_path_factory: pytest.TempPathFactory,
          request: pytest.FixtureRequest) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("stack")
    env = {**demo_pg.env,
           "HOTLINE_KPI_VAR_DIR": str(base / "var"),
           "HOTLINE_KPI_SERVICE__INBOX_SCAN_SECONDS": "1",
           "HOTLINE_KPI_SERVICE__INBOX_SETTLE_SECONDS": "0",
           "HOTLINE_KPI_SERVICE__METRICS_REFRESH_SECONDS": "1"}
    _drop_inbox_files(demo_pg, base / "var" / "inbox")
    serve = start_serve(env, base, request.addfinalizer, ready_timeout=90)
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
    prom = start_prometheus(config, base / "tsdb", base, request.addfinalizer)
    # Range functions (increase(...[1h])) need at least two samples: wait for several scrapes.
    wait_for(prom, 'count_over_time(up{job="hotline-kpi"}[5m]) >= 5', "five scrapes of serve")
    wait_for(prom, 'hotline_kpi_indicator_value{window="year_to_date"}', "the KPI series")
    wait_for(prom, 'ALERTS{alertstate="firing"}', "a firing alert from the project's rules")
    yield Stack(serve, prom, started)


@pytest.fixture(scope="module")
def reader(grafana_login: GrafanaLogin) -> Iterator[Engine]:
    engine = make_engine(grafana_login.url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.mark.parametrize("query", PROMQL, ids=_ids(PROMQL))
def test_promql_panel_query_returns_series(stack: Stack, query: grafana.Query) -> None:
    now = time.time()
    window = int(now - stack.started) + 1
    expr = grafana.interpolate(query.text, {**VARIABLES, **grafana.prometheus_builtins(window)})
    assert "$" not in expr, f"{query.where}: unresolved variable in {expr}"
    if query.target.get("instant"):
        result = stack.prometheus.query(expr)
    else:
        result = stack.prometheus.query_range(expr, max(stack.started, now - 120), now, 1)
        result = [s for s in result if s["values"]]
    assert result, (f"{query.where}: `{expr}` returned no series\n"
                    f"--- /metrics of serve\n{stack.serve.get('/metrics')[1].decode()[:4000]}")


@pytest.mark.parametrize("query", SQL, ids=_ids(SQL))
def test_sql_panel_query_returns_rows_with_time(reader: Engine, query: grafana.Query) -> None:
    sql = grafana.expand_sql_macros(grafana.interpolate(query.text, VARIABLES), FROM_2019, TO_2019)
    assert "$" not in sql, f"{query.where}: unexpanded variable or macro in\n{sql}"
    with reader.connect() as conn:
        result = conn.exec_driver_sql(sql)
        columns = list(result.keys())
        rows = result.fetchall()
    assert rows, f"{query.where}: no rows for 2019\n{sql}"
    assert "time" in columns, f"{query.where}: no time column in {columns}"
    times = [r[columns.index("time")] for r in rows]
    assert all(isinstance(t, dt.datetime) and t.tzinfo is not None for t in times), times[:3]
    assert times == sorted(times), f"{query.where}: rows not sorted by time"
    assert FROM_2019 <= times[0] and times[-1] <= TO_2019
    for i, col in enumerate(columns):
        if col != "time":
            assert any(r[i] is not None for r in rows), f"{query.where}: column {col!r} has no value in 2019"


def test_the_2019_sql_panels_chart_the_whole_year(reader: Engine) -> None:
    """A daily panel has a point on every day of the demo year (365), in local days."""
    q = next(q for q in SQL if "grafana_indicator_daily" in q.text and "connection_rate" in q.text)
    sql = grafana.expand_sql_macros(grafana.interpolate(q.text, VARIABLES), FROM_2019, TO_2019)
    with reader.connect() as conn:
        times = [r[0] for r in conn.exec_driver_sql(sql)]
    assert len(times) == 365
    assert times[0].astimezone(TZ) == FROM_2019
    assert times[-1].astimezone(TZ) == dt.datetime(2019, 12, 31, tzinfo=TZ)


def test_template_variables_resolve_to_the_demo_hotline(stack: Stack, reader: Engine) -> None:
    seen = 0
    for name, d in DASHBOARDS.items():
        for var in d["templating"]["list"]:
            ds_type = (var.get("datasource") or {}).get("type")
            query = var["query"] if isinstance(var["query"], str) else var["query"].get("query", "")
            if ds_type == grafana.PROMETHEUS:
                lv = grafana.label_values_query(query)
                assert lv is not None, f"{name} ${var['name']}: not a label_values() query: {query}"
                metric, label = lv
                params = [("match[]", metric)] if metric else []
                values = stack.prometheus.api(f"label/{label}/values", params)
            else:
                assert ds_type in grafana.POSTGRES_TYPES, f"{name} ${var['name']}: data source {ds_type}"
                with reader.connect() as conn:
                    result = conn.exec_driver_sql(query)
                    cols = list(result.keys())
                    values = [r[cols.index("__value") if "__value" in cols else 0] for r in result]
            assert HOTLINE in values, f"{name} ${var['name']}: {values}"
            seen += 1
    assert seen == len(DASHBOARDS)
