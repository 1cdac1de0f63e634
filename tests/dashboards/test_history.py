"""``hotline-kpi export openmetrics``: the writer (pure), and the documented backfill with
promtool into a real Prometheus that then returns the 2019 daily values exactly."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import subprocess

import pytest

from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.domain import COUNTERS, DailyCounters
from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.backfill import COUNTER, TARGET, VALUE, day_start, export_openmetrics
from tests.common import SHANGHAI as HOTLINE, TARGETS, ZONE
from tests.dashboards.conftest import DemoDatabase
from tests.dashboards.prometheus import binary, start_prometheus
from tests.processes import run_cli

CATALOGUES = CatalogueSet.from_dir(TARGETS)


def _cat(year: int):
    return CATALOGUES.get(HOTLINE, year)


def _row(day: dt.date, **values) -> DailyCounters:
    base = dict(requests_accepted=11000, calls_offered=10000, calls_answered=9100, calls_abandoned_short=None,
                answer_wait_seconds_sum=70000.5, calls_answered_within_15s=8000, first_contact_resolved=5000,
                first_contact_eligible=9000, tickets_dispatched=4000, tickets_returned_operator_fault=250,
                survey_responses=500, survey_satisfied=460)
    return DailyCounters(HOTLINE, day, {**base, **values})


def _lines(text: str, metric: str, label: str) -> dict[str, list[tuple[str, int]]]:
    out: dict[str, list[tuple[str, int]]] = {}
    for m in re.finditer(rf'^{metric}\{{hotline="[^"]*",{label}="(\w+)"\}} (\S+) (\d+)$', text, re.M):
        out.setdefault(m.group(1), []).append((m.group(2), int(m.group(3))))
    return out


# --- the writer ---------------------------------------------------------------------------

def test_one_sample_per_series_and_day_at_local_midnight_ending_with_eof() -> None:
    d1, d2 = dt.date(2019, 1, 1), dt.date(2019, 1, 2)
    res = export_openmetrics(HOTLINE, ZONE, [_row(d1), _row(d2, calls_answered=9200)], _cat, FormulaSettings(),
                             d1, d2)
    text = res.text
    assert text.endswith("\n# EOF\n") and text.count("# EOF") == 1
    assert day_start(d1, ZONE) == 1546272000  # 2019-01-01T00:00+08:00
    values = _lines(text, VALUE, "indicator")
    assert values["connection_rate"] == [(repr(9100 / 10000), 1546272000), (repr(9200 / 10000), 1546358400)]
    assert values["requests_accepted"] == [("11000.0", 1546272000), ("11000.0", 1546358400)]
    targets = _lines(text, TARGET, "indicator")
    assert targets["connection_rate"][0][0] == "0.9"
    assert float(targets["requests_accepted"][0][0]) == 4_000_000 / 365
    assert "abandon_rate" not in targets, "a tracked indicator has no target"
    counters = _lines(text, COUNTER, "counter")
    assert counters["calls_answered"] == [("9100", 1546272000), ("9200", 1546358400)]
    assert counters["answer_wait_seconds_sum"][0][0] == "70000.5"
    assert "calls_abandoned_short" not in counters, "an unknown counter is no sample"
    assert res.samples == len([ln for ln in text.splitlines() if not ln.startswith("#")])


def test_families_are_contiguous_with_one_help_and_type_each() -> None:
    days = [dt.date(2019, 3, 1) + dt.timedelta(days=i) for i in range(5)]
    text = export_openmetrics(HOTLINE, ZONE, [_row(d) for d in days], _cat, FormulaSettings(),
                              days[0], days[-1]).text
    names = [ln.split("{")[0] for ln in text.splitlines() if not ln.startswith("#")]
    blocks = [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]
    assert blocks == [VALUE, TARGET, COUNTER]
    for metric in (VALUE, TARGET, COUNTER):
        assert text.count(f"# TYPE {metric} gauge\n") == 1 and text.count(f"# HELP {metric} ") == 1
    for series in _lines(text, VALUE, "indicator").values():
        stamps = [ts for _, ts in series]
        assert stamps == sorted(set(stamps))


def test_no_data_is_no_sample_never_nan() -> None:
    day = dt.date(2019, 9, 29)
    rows = [_row(day, survey_responses=None, survey_satisfied=None, calls_offered=0, calls_answered=0,
                 answer_wait_seconds_sum=0.0, calls_answered_within_15s=0)]
    text = export_openmetrics(HOTLINE, ZONE, rows, _cat, FormulaSettings(), day, dt.date(2019, 9, 30)).text
    values = _lines(text, VALUE, "indicator")
    assert "satisfaction_rate" not in values  # callbacks unknown
    assert "connection_rate" not in values  # 0 / 0: no value
    assert len(values["requests_accepted"]) == 1  # 30 September has no row at all
    assert "NaN" not in text and "Inf" not in text
    assert _lines(text, COUNTER, "counter")["calls_offered"] == [("0", day_start(day, ZONE))]


def test_recent_days_and_years_without_catalogue_are_left_out_and_reported() -> None:
    first, last = dt.date(2018, 12, 30), dt.date(2019, 1, 3)
    rows = [_row(first + dt.timedelta(days=i)) for i in range(5)]
    not_after = dt.datetime(2019, 1, 2, 3, 0, tzinfo=ZONE)  # 2 January's start is past, 3 January's is not
    res = export_openmetrics(HOTLINE, ZONE, rows, _cat, FormulaSettings(), first, last, not_after=not_after)
    assert res.days_too_recent == (dt.date(2019, 1, 3),)
    assert res.years_without_catalogue == (2018,)
    values = _lines(res.text, VALUE, "indicator")
    assert [ts for _, ts in values["connection_rate"]] == [day_start(dt.date(2019, 1, d), ZONE) for d in (1, 2)]
    counters = _lines(res.text, COUNTER, "counter")
    assert len(counters["calls_offered"]) == 4  # 2018 days keep their counters


def test_label_values_are_escaped() -> None:
    day = dt.date(2019, 1, 1)
    odd = 'a"b\\c'
    res = export_openmetrics(odd, ZONE, [DailyCounters(odd, day, {"requests_accepted": 1})], lambda y: None,
                             FormulaSettings(), day, day)
    assert 'hotline="a\\"b\\\\c",counter="requests_accepted"} 1 1546272000' in res.text


# --- the backfill ------------------------------------------------------------------------

CHECK_DAYS = [dt.date(2019, 1, 1), dt.date(2019, 8, 10), dt.date(2019, 9, 29),
              dt.date(2019, 12, 31)]


@pytest.mark.system
@pytest.mark.postgres
def test_backfilled_history_returns_the_2019_daily_values(demo_pg: DemoDatabase, tmp_path,
                                                          request: pytest.FixtureRequest) -> None:
    om = tmp_path / "history.om"
    run_cli(demo_pg.env, "export", "openmetrics", "--from", "2019-01-01", "--to", "2019-12-31", "--output", str(om),
            cwd=demo_pg.base)
    blocks = tmp_path / "blocks"
    # As docs/history.md does it (bigger blocks than the 2 h default: one per day otherwise).
    proc = subprocess.run([binary("promtool"), "tsdb", "create-blocks-from", "openmetrics",
                           "--max-block-duration=744h", str(om), str(blocks)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\n", encoding="utf-8")
    prom = start_prometheus(config, blocks, tmp_path, request.addfinalizer, "--storage.tsdb.retention.time=20y")

    start = day_start(dt.date(2019, 1, 1), ZONE)
    end = day_start(dt.date(2019, 12, 31), ZONE)
    series = prom.query_range(f'{VALUE}{{hotline="{HOTLINE}"}}', start, end, 86400)
    by_indicator = {s["metric"]["indicator"]: dict((int(t), v) for t, v in s["values"]) for s in series}
    assert len(by_indicator["requests_accepted"]) == 365
    assert sorted(by_indicator["requests_accepted"])[0] == start

    for day in CHECK_DAYS:
        ts = day_start(day, ZONE)
        out = run_cli(demo_pg.env, "evaluate", "--as-of", day.isoformat(), "--format", "json", cwd=demo_pg.base)
        for r in json.loads(out.stdout)["results"]:
            if r["window"] != "day":
                continue
            got = by_indicator.get(r["id"], {}).get(ts)
            if r["value"] is None:
                assert got is None, (day, r["id"], got)
            else:
                assert got is not None and float(got) == r["value"], (day, r["id"], got, r["value"])

    counters = prom.query_range(f'{COUNTER}{{hotline="{HOTLINE}"}}', start, end, 86400)
    by_counter = {s["metric"]["counter"]: dict((int(t), v) for t, v in s["values"]) for s in counters}
    out = run_cli(demo_pg.env, "export", "daily", "--from", "2019-01-01", "--to", "2019-12-31", cwd=demo_pg.base)
    for rec in csv.DictReader(io.StringIO(out.stdout)):
        day = dt.date.fromisoformat(rec["date"])
        if day not in CHECK_DAYS:
            continue
        for c in COUNTERS:
            got = by_counter.get(c, {}).get(day_start(day, ZONE))
            assert (got is None) == (rec[c] == ""), (day, c)
            if got is not None:
                assert float(got) == float(rec[c]), (day, c, got, rec[c])


@pytest.mark.system
@pytest.mark.postgres
def test_the_command_writes_to_standard_output_and_checks_its_range(demo_pg: DemoDatabase) -> None:
    out = run_cli(demo_pg.env, "export", "openmetrics", "--from", "2019-12-30", "--to", "2019-12-31",
                  cwd=demo_pg.base)
    assert out.stdout.endswith("# EOF\n")
    stamps = {int(ln.rsplit(" ", 1)[1]) for ln in out.stdout.splitlines() if not ln.startswith("#")}
    assert stamps == {day_start(dt.date(2019, 12, 30), ZONE), day_start(dt.date(2019, 12, 31), ZONE)}
    proc = run_cli(demo_pg.env, "export", "openmetrics", "--from", "2019-02-01", "--to", "2019-01-01",
                   cwd=demo_pg.base, timeout=60, check=False)
    assert proc.returncode == 2 and "早于 --from" in proc.stderr  # Chinese by default (#14)
