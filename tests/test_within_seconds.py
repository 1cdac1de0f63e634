"""One meaning of "within N seconds": a wait of at most N seconds (docs/kpi-definitions.md §1).

At the boundary, through the paths a user takes: a queue_log and an office daily report
ingested with the command line, the counters read back with ``export daily`` and the
rates and statuses with ``evaluate --format json``. (The ticket export carries no waits:
no "within N seconds" rule applies to it; its one limit, the strict < 7% return rate, is
tested at its edge in tests/test_evaluate.py.)
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from hotline_kpi.cli import cli
from hotline_kpi.cli.app import App
from tests.ingest.qlog import abandoned, answered, write


@pytest.fixture
def run(cli_env, clock):
    def invoke(*args: str):
        result = CliRunner().invoke(cli, list(args), obj=App(clock=clock), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    return invoke


def exported(run, day: str) -> dict[str, str]:
    rows = list(csv.DictReader(io.StringIO(run("export", "daily", "--from", day, "--to", day, "--format", "csv"))))
    assert len(rows) == 1
    return rows[0]


def day_results(run, day: str) -> dict[str, dict]:
    board = json.loads(run("evaluate", "--as-of", day, "--format", "json"))
    return {r["id"]: r for r in board["results"] if r["window"] == "day"}


def test_a_queue_log_counts_a_wait_of_exactly_5_and_15_seconds_as_within(run, tmp_path):
    lines = [
        *answered("a14", 0, wait=14), *answered("a15", 30, wait=15), *answered("a16", 60, wait=16),
        *abandoned("x4", 90, wait=4), *abandoned("x5", 120, wait=5), *abandoned("x6", 150, wait=6),
    ]
    run("ingest", str(write(tmp_path / "queue_log", lines)))
    row = exported(run, "2019-03-01")
    # 15 s is within 15 s; 5 s is within the 5-second short-abandon limit: the same rule.
    assert row["calls_answered_within_15s"] == "2"      # 14 s and 15 s, not 16 s
    assert row["calls_abandoned_short"] == "2"          # 4 s and 5 s, not 6 s
    assert (row["calls_offered"], row["calls_answered"]) == ("6", "3")

    results = day_results(run, "2019-03-01")
    # offered' = 6 offered - 2 short abandons = 4
    assert (results["connection_rate"]["numerator"], results["connection_rate"]["denominator"]) == (3, 4)
    assert results["answered_within_15s_rate"]["value"] == pytest.approx(2 / 4)


def test_the_limits_follow_their_settings_with_the_same_rule(run, tmp_path, monkeypatch):
    monkeypatch.setenv("HOTLINE_KPI_FORMULAS__SHORT_ABANDON_SECONDS", "10")
    monkeypatch.setenv("HOTLINE_KPI_FORMULAS__ANSWER_WITHIN_SECONDS", "20")
    lines = [*answered("a20", 0, wait=20), *answered("a21", 40, wait=21),
             *abandoned("x10", 90, wait=10), *abandoned("x11", 120, wait=11)]
    run("ingest", str(write(tmp_path / "queue_log", lines)))
    row = exported(run, "2019-03-01")
    assert (row["calls_answered_within_15s"], row["calls_abandoned_short"]) == ("1", "1")


DAILY_REPORT = (
    "日期,受理量,呼入量,接通量,平均接通时长(秒),15秒接通量,话务员受理量,一次性解答量,派单量,有责退单量,回访量,满意量\n"
    "2019-01-01,11000,10000,9000,7.999,8000,9000,5200,4100,180,400,372\n"
    "2019-01-02,11000,10000,9000,8.000,8000,9000,5200,4100,180,400,372\n"
    "2019-01-03,11000,10000,9000,8.001,8000,9000,5200,4100,180,400,372\n"
)


def test_a_daily_report_average_answer_time_of_exactly_8_seconds_is_within_8_seconds(run, tmp_path):
    """The target 平均接通时长控制在8秒以内 is "within 8 s": fractional averages at the edge."""
    (tmp_path / "daily.csv").write_text(DAILY_REPORT, encoding="utf-8")
    run("ingest", str(tmp_path / "daily.csv"))
    assert exported(run, "2019-01-02")["answer_wait_seconds_sum"] == "72000"
    seen = {}
    for day in ("2019-01-01", "2019-01-02", "2019-01-03"):
        asa = day_results(run, day)["average_answer_seconds"]
        seen[day] = (round(asa["value"], 3), asa["status"])
    assert seen == {"2019-01-01": (7.999, "met"), "2019-01-02": (8.0, "met"), "2019-01-03": (8.001, "breached")}
