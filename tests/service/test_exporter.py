"""The collector over stored snapshots, on a registry of its own."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from hotline_kpi.service.jobs import evaluate_hotlines
from hotline_kpi.service.exporter import KpiCollector, MetricsCache, MetricsModel, load_model
from hotline_kpi.service.snapshots import Snapshot
from hotline_kpi.store.db import make_engine
from tests.test_cli import REPORT

SH = "shanghai-12345"


def _snapshot(hid: str, results: list[dict], data_date="2019-01-04") -> Snapshot:
    payload = {"hotline": hid, "as_of": "2019-01-04", "data_date": data_date,
               "completeness": {"ratio": 0.75, "days_elapsed": 4, "days_with_data": 3,
                                "counters": {"calls_offered": {"days_present": 3, "missing": []}}},
               "results": results}
    return Snapshot(1, hid, dt.date(2019, 1, 4), dt.date(2019, 1, 4),
                    dt.datetime(2020, 3, 1, 1, 0, tzinfo=dt.timezone.utc), "test", payload)


def _result(ind: str, window: str, value, status: str, target=0.9, **extra) -> dict:
    return {"id": ind, "window": window, "value": value, "target": target, "status": status,
            "days_with_data": 3, **extra}


def _registry(model: MetricsModel) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(KpiCollector(lambda: model))
    return reg


def test_values_annual_targets_paces_and_breach_flags_are_exported():
    model = MetricsModel(snapshots={SH: _snapshot(SH, [
        _result("connection_rate", "year_to_date", 0.8872, "breached", unit="ratio", annual_target=0.9),
        _result("requests_accepted", "year_to_date", 40000, "breached", target=43836, pace=43836, shortfall=3836,
                annual_target=4_000_000, unit="requests"),
    ])}, zones={SH: "Asia/Shanghai"}, database_up=True)
    reg = _registry(model)
    lbl = {"hotline": SH, "indicator": "connection_rate", "window": "year_to_date"}
    assert reg.get_sample_value("hotline_kpi_indicator_value", {**lbl, "unit": "ratio"}) == pytest.approx(0.8872)
    assert reg.get_sample_value("hotline_kpi_indicator_annual_target",
                                {"hotline": SH, "indicator": "connection_rate", "unit": "ratio"}) == 0.9
    assert reg.get_sample_value("hotline_kpi_indicator_breached", lbl) == 1
    vol = {"hotline": SH, "indicator": "requests_accepted", "window": "year_to_date"}
    assert reg.get_sample_value("hotline_kpi_volume_pace_requests", vol) == 43836
    assert reg.get_sample_value("hotline_kpi_indicator_value", {**vol, "unit": "requests"}) == 40000
    assert reg.get_sample_value("hotline_kpi_indicator_annual_target",
                                {"hotline": SH, "indicator": "requests_accepted", "unit": "requests"}) == 4_000_000
    # the date the figures describe: local midnight of 2019-01-04 in Shanghai
    assert reg.get_sample_value("hotline_kpi_data_date_timestamp_seconds", {"hotline": SH}) == \
        dt.datetime(2019, 1, 3, 16, 0, tzinfo=dt.timezone.utc).timestamp()
    assert reg.get_sample_value("hotline_kpi_data_completeness_ratio", {"hotline": SH}) == 0.75
    assert reg.get_sample_value("hotline_kpi_database_up") == 1
    # what the lean exposition (issue #19) no longer repeats: the breach flag and an absent
    # series say the status, the annual target or the pace the window's target, pace - value
    # the shortfall
    names = {m.name for m in reg.collect()}
    assert names.isdisjoint({"hotline_kpi_indicator_status", "hotline_kpi_indicator_target",
                             "hotline_kpi_indicator_days_with_data", "hotline_kpi_volume_shortfall_requests",
                             "hotline_kpi_counter_missing_days"})


def test_only_the_day_month_and_year_to_date_are_exported_and_judged_on_month_and_year():
    model = MetricsModel(snapshots={SH: _snapshot(SH, [
        _result("connection_rate", w, 0.8, "breached", unit="ratio")
        for w in ("day", "trailing_7d", "trailing_30d", "month_to_date", "quarter_to_date", "year_to_date")])})
    reg = _registry(model)
    values = {s.labels["window"] for m in reg.collect() if m.name == "hotline_kpi_indicator_value" for s in m.samples}
    flags = {s.labels["window"] for m in reg.collect() if m.name == "hotline_kpi_indicator_breached"
             for s in m.samples}
    assert values == {"day", "month_to_date", "year_to_date"}
    assert flags == {"month_to_date", "year_to_date"}


def test_no_data_is_an_absent_series_never_nan():
    model = MetricsModel(snapshots={SH: _snapshot(SH, [_result("satisfaction_rate", "month_to_date", None,
                                                               "no_data")])})
    reg = _registry(model)
    lbl = {"hotline": SH, "indicator": "satisfaction_rate", "window": "month_to_date"}
    assert not [s for m in reg.collect() if m.name.startswith("hotline_kpi_indicator_") for s in m.samples]
    assert reg.get_sample_value("hotline_kpi_indicator_breached", lbl) is None
    for metric in reg.collect():
        for sample in metric.samples:
            assert not math.isnan(sample.value), sample


def test_a_label_set_that_disappears_is_no_longer_exported():
    current = {"model": MetricsModel(snapshots={
        SH: _snapshot(SH, [_result("connection_rate", "day", 0.95, "met")]),
        "other": _snapshot("other", [_result("connection_rate", "day", 0.91, "met")]),
    })}
    reg = CollectorRegistry(auto_describe=False)
    reg.register(KpiCollector(lambda: current["model"]))
    other = {"hotline": "other", "indicator": "connection_rate", "window": "day"}
    assert reg.get_sample_value("hotline_kpi_indicator_value", {**other, "unit": ""}) == 0.91
    current["model"] = MetricsModel(snapshots={SH: _snapshot(SH, [_result("connection_rate", "day", 0.95, "met")])})
    assert reg.get_sample_value("hotline_kpi_indicator_value", {**other, "unit": ""}) is None
    assert reg.get_sample_value("hotline_kpi_indicator_value", {**other, "hotline": SH, "unit": ""}) == 0.95


def test_a_broken_model_gives_an_error_gauge_not_a_failed_scrape():
    def broken() -> MetricsModel:
        raise RuntimeError("boom")

    reg = CollectorRegistry(auto_describe=False)
    reg.register(KpiCollector(broken))
    assert reg.get_sample_value("hotline_kpi_exporter_up") == 0


@pytest.fixture
def evaluated(engine: Engine, settings, catalogues, clock, tmp_path):
    from hotline_kpi.ingest.pipeline import ingest_file

    (tmp_path / "jan.csv").write_text(REPORT, encoding="utf-8")
    ingest_file(engine, tmp_path / "jan.csv", settings=settings, catalogues=catalogues, clock=clock)
    evaluate_hotlines(engine, settings, catalogues, clock, "test")
    return engine


def test_the_cache_reads_stored_snapshots_on_both_backends(evaluated, clock):
    cache = MetricsCache(evaluated, {SH: "Asia/Shanghai"}, clock.now)
    assert cache.refresh() is True
    text = cache.rendered().decode()
    assert 'hotline_kpi_indicator_value{hotline="shanghai-12345",indicator="connection_rate",unit="ratio",window="year_to_date"}' \
        in text
    assert 'hotline_kpi_ingest_files_total' in text
    model = load_model(evaluated, {SH: "Asia/Shanghai"})
    ytd = next(r for r in model.snapshots[SH].payload["results"]
               if r["id"] == "connection_rate" and r["window"] == "year_to_date")
    assert ytd["numerator"] == 28200 and ytd["denominator"] == 30800


def test_a_database_failure_keeps_the_last_snapshot_and_says_so(sqlite_url, settings, catalogues, clock, tmp_path):
    from hotline_kpi.ingest.pipeline import ingest_file

    engine = make_engine(sqlite_url)
    (tmp_path / "jan.csv").write_text(REPORT, encoding="utf-8")
    ingest_file(engine, tmp_path / "jan.csv", settings=settings, catalogues=catalogues, clock=clock)
    evaluate_hotlines(engine, settings, catalogues, clock, "test")
    cache = MetricsCache(engine, {SH: "Asia/Shanghai"}, clock.now)
    cache.refresh()
    cache.engine = make_engine(f"sqlite:///{tmp_path}/no/such/dir/db.sqlite")  # the store goes away
    assert cache.refresh() is False
    reg = cache.registry
    assert reg.get_sample_value("hotline_kpi_database_up") == 0
    assert reg.get_sample_value("hotline_kpi_indicator_value",
                                {"hotline": SH, "indicator": "connection_rate", "window": "day",
                                 "unit": "ratio"}) is not None
    assert "hotline_kpi_database_up 0.0" in cache.rendered().decode()
    engine.dispose()


def test_a_load_by_the_cli_or_demo_gives_the_last_ingest_time(evaluated, clock):
    """Review of #16, finding 6: a file loaded by `ingest` (or `demo`), not through the inbox,
    left "各来源最近一次成功导入距今" and the 数据载入 annotation empty."""
    cache = MetricsCache(evaluated, {SH: "Asia/Shanghai"}, clock.now)
    assert cache.refresh() is True
    text = cache.rendered().decode()
    line = f'hotline_kpi_last_ingest_success_timestamp_seconds{{hotline="{SH}",source="daily-report"}} '
    [value] = [ln[len(line):] for ln in text.splitlines() if ln.startswith(line)]
    assert float(value) == clock.now().timestamp()


def test_the_kpi_half_renders_only_the_hotlines_whose_snapshot_changed(evaluated, settings, catalogues, clock):
    """Issue #19: an evaluation of one hotline renders that hotline's series, not all
    hotlines'; the assembled half is byte for byte the whole rendering, and /metrics shows
    the new evaluation."""
    from prometheus_client import generate_latest
    from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

    from hotline_kpi.service.kpi_metrics import kpi_families

    second = MetricsModel(snapshots={SH: _snapshot(SH, [_result("connection_rate", "day", 0.5, "breached")]),
                                     "beijing-12345": _snapshot("beijing-12345", [
                                         _result("connection_rate", "day", 0.95, "met")])},
                          zones={SH: "Asia/Shanghai"})
    from hotline_kpi.service.kpi_render import KpiRenderer

    renderer = KpiRenderer(kpi_families, pause=lambda: None)
    got = renderer.render(second)
    whole = _registry(second)
    assert got["text"] == generate_latest(KpiOnly(second))
    assert got["openmetrics"] + b"# EOF\n" == openmetrics_latest(KpiOnly(second))
    assert renderer.hotlines_rendered == 2
    assert renderer.render(second) == got and renderer.hotlines_rendered == 2  # nothing changed: nothing rendered
    assert whole.get_sample_value("hotline_kpi_indicator_value", {"hotline": "beijing-12345",
                                  "indicator": "connection_rate", "window": "day", "unit": ""}) == 0.95

    cache = MetricsCache(evaluated, {SH: "Asia/Shanghai"}, clock.now)
    cache.refresh()
    rendered = cache.kpi_renderer.hotlines_rendered
    cache.refresh()
    assert cache.kpi_renderer.hotlines_rendered == rendered  # a refresh without a new evaluation
    evaluate_hotlines(evaluated, settings, catalogues, clock, "test", [SH])
    cache.refresh()
    assert cache.kpi_renderer.hotlines_rendered == rendered + 1
    new_id = cache.model.snapshots[SH].id
    evaluated_at = cache.model.snapshots[SH].evaluated_at.timestamp()
    assert cache.registry.get_sample_value("hotline_kpi_last_evaluation_timestamp_seconds", {"hotline": SH}) \
        == evaluated_at
    line = f'hotline_kpi_last_evaluation_timestamp_seconds{{hotline="{SH}"}} '
    assert any(ln.startswith(line) and float(ln[len(line):]) == evaluated_at
               for ln in cache.rendered().decode().splitlines()), new_id


class KpiOnly:
    """The KPI families of a model as one registry (the whole rendering, for comparison)."""

    def __init__(self, model: MetricsModel):
        self.model = model

    def collect(self):
        from hotline_kpi.service.kpi_metrics import kpi_families

        return list(kpi_families(self.model))


def test_ingest_counters_start_at_zero_for_every_source_and_result_before_any_file(engine, clock):
    """docs/metrics.md: the ingest counters are there from 0 before the first file (so
    increase() sees the first reject); a job's series appear with its first run."""
    from hotline_kpi.ingest.registry import ingestors

    cache = MetricsCache(engine, {SH: "Asia/Shanghai"}, clock.now)
    assert cache.refresh() is True
    for source in ingestors():
        for result in ("loaded", "already_loaded", "rejected", "error"):
            assert cache.registry.get_sample_value("hotline_kpi_ingest_files_total",
                                                   {"source": source, "result": result}) == 0, (source, result)
    assert "hotline_kpi_job_runs_total{" not in cache.rendered().decode()
