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
import re
import time
from typing import Iterator

import pytest
from sqlalchemy import Engine

from hotline_kpi.store.db import make_engine
from tests.dashboards import grafana
from tests.dashboards.conftest import GrafanaLogin
from tests.dashboards.stack import Stack
from tests.common import SHANGHAI as HOTLINE, TZ

pytestmark = [pytest.mark.postgres, pytest.mark.system]

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
    if "hotline_kpi_required_value" in expr and not stack.prometheus.query("hotline_kpi_required_value"):
        return  # absent on 31 December (every target secured or lost): test_panel_meaning checks it is empty
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
            if var["type"] == "textbox":
                continue
            if var["name"] == "year":
                assert ds_type == grafana.PROMETHEUS
                values = grafana.query_result_values(stack.prometheus.query(
                    grafana.query_result_query(grafana.interpolate(query, VARIABLES))), var.get("regex", ""))
                assert values == ["2019"], f"{name} $year: {values} (the demo's as-of year)"
                continue
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


ANNOTATIONS = [(name, a) for name, d in DASHBOARDS.items() for a in d["annotations"]["list"]
               if (a.get("datasource") or {}).get("type") == grafana.PROMETHEUS]


@pytest.mark.parametrize("name, annotation", ANNOTATIONS, ids=[f"{n}:{a['name']}" for n, a in ANNOTATIONS])
def test_annotation_queries_run_on_the_exported_metrics(stack: Stack, name: str, annotation: dict) -> None:
    """Annotation queries mark changes (a load, an evaluation, an alert firing); over the
    test's few minutes they may mark nothing, but they must run and read metrics that exist."""
    expr = grafana.interpolate(annotation["expr"], VARIABLES)
    now = time.time()
    stack.prometheus.query_range(expr, now - 300, now, 15)  # raises with Prometheus' error
    for metric in set(re.findall(r"\b(hotline_kpi_\w+|ALERTS)\b", expr)):
        if metric != "ALERTS":
            assert stack.prometheus.query(metric), f"{name} / {annotation['name']}: {metric} is not exported"
