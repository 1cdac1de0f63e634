"""Evaluation on hand-computed fixtures, against the real Shanghai 12345 2019 catalogue."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings as hyp_settings, strategies as st

from hotline_kpi.catalogue import load_catalogue
from hotline_kpi.domain import COUNTERS, WINDOWS, Aggregate, Comparator, DailyCounters, Status, Window
from hotline_kpi.aggregate import RowError, aggregate_rows, aggregates_from_rows
from hotline_kpi.evaluate import (
    AsOfOutsideCatalogue,
    WindowResult,
    build_scoreboard,
    completeness,
    evaluate,
    evaluate_window,
)
from hotline_kpi.formulas import FormulaSettings, build_formula
from hotline_kpi.snapshot import SCHEMA_VERSION, scoreboard_to_json
from tests.common import SHANGHAI as HOTLINE

CATALOGUE = load_catalogue(Path(__file__).resolve().parents[1] / "hotline_kpi/defaults/targets/shanghai-12345-2019.yaml")
#: The same targets for a leap year (2020): only the year differs.
CATALOGUE_2020 = CATALOGUE.model_copy(update={"year": 2020})
DEFAULTS = FormulaSettings()
D = dt.date


def day(d: dt.date, **counters: float | None) -> DailyCounters:
    return DailyCounters(HOTLINE, d, counters)


def result(
    indicator_id: str,
    window: Window,
    rows: list[DailyCounters],
    as_of: dt.date,
    settings: FormulaSettings = DEFAULTS,
) -> WindowResult:
    """One result through the whole pure pipeline (aggregates in Python, then evaluate)."""
    catalogue = CATALOGUE if as_of.year == 2019 else CATALOGUE_2020
    results = evaluate(catalogue, settings, aggregates_from_rows(catalogue, settings, rows, as_of), as_of)
    (found,) = [r for r in results if r.indicator_id == indicator_id and r.window is window]
    return found


# ---------------------------------------------------------------- each formula


def test_connection_rate_is_answered_over_offered_less_short_abandons():
    rows = [
        day(D(2019, 5, 1), calls_offered=100, calls_abandoned_short=10, calls_answered=81),
        day(D(2019, 5, 2), calls_offered=200, calls_abandoned_short=20, calls_answered=162),
    ]
    r = result("connection_rate", Window.MONTH_TO_DATE, rows, D(2019, 5, 2))
    # (81 + 162) / ((100 - 10) + (200 - 20)) = 243 / 270 = 0.9
    assert (r.numerator, r.denominator) == (243, 270)
    assert r.value == 0.9
    assert r.status is Status.MET
    assert r.target == 0.9 and r.comparator is Comparator.GE and r.unit == "ratio"


def test_connection_rate_counts_short_abandons_as_offered_when_exclusion_is_off():
    rows = [day(D(2019, 5, 1), calls_offered=100, calls_abandoned_short=10, calls_answered=81)]
    on = result("connection_rate", Window.DAY, rows, D(2019, 5, 1))
    off = result("connection_rate", Window.DAY, rows, D(2019, 5, 1), FormulaSettings(exclude_short_abandons=False))
    assert (on.value, on.status) == (81 / 90, Status.MET)
    assert (off.value, off.status) == (0.81, Status.BREACHED)


def test_a_day_without_a_short_abandon_count_contributes_its_offered_calls_as_reported():
    rows = [
        day(D(2019, 5, 1), calls_offered=100, calls_abandoned_short=10, calls_answered=81),
        day(D(2019, 5, 2), calls_offered=50, calls_abandoned_short=None, calls_answered=45),  # typed daily report
    ]
    r = result("connection_rate", Window.TRAILING_7D, rows, D(2019, 5, 2))
    # (81 + 45) / (90 + 50) = 126 / 140
    assert (r.numerator, r.denominator, r.days_with_data) == (126, 140, 2)
    assert r.value == 0.9


def test_abandon_rate_is_the_unanswered_share_of_offered_calls_and_only_tracked():
    rows = [day(D(2019, 5, 1), calls_offered=100, calls_abandoned_short=10, calls_answered=81)]
    r = result("abandon_rate", Window.DAY, rows, D(2019, 5, 1))
    # (100 - 10 - 81) / (100 - 10) = 9 / 90
    assert (r.numerator, r.denominator) == (9, 90)
    assert r.value == pytest.approx(0.1)
    assert r.status is Status.TRACKED and r.target is None


def test_15s_rate_is_over_offered_calls_by_default_and_over_answered_calls_when_set():
    rows = [day(D(2019, 5, 1), calls_offered=110, calls_abandoned_short=10, calls_answered=80, calls_answered_within_15s=72)]
    offered = result("answered_within_15s_rate", Window.DAY, rows, D(2019, 5, 1))
    answered = result(
        "answered_within_15s_rate", Window.DAY, rows, D(2019, 5, 1), FormulaSettings(within_15s_denominator="answered")
    )
    assert (offered.numerator, offered.denominator, offered.value) == (72, 100, 0.72)  # 72 / (110 - 10)
    assert (answered.numerator, answered.denominator, answered.value) == (72, 80, 0.9)  # Hangzhou reading
    assert offered.status is answered.status is Status.TRACKED


def test_average_answer_seconds_is_total_wait_over_answered_calls_and_8s_itself_is_met():
    at_8 = [day(D(2019, 5, 1), calls_answered=80, answer_wait_seconds_sum=640)]
    above = [day(D(2019, 5, 1), calls_answered=80, answer_wait_seconds_sum=640.5)]
    r = result("average_answer_seconds", Window.DAY, at_8, D(2019, 5, 1))
    assert (r.value, r.status, r.unit) == (8.0, Status.MET, "seconds")
    r = result("average_answer_seconds", Window.DAY, above, D(2019, 5, 1))
    assert (r.value, r.status) == (8.00625, Status.BREACHED)


def test_first_contact_resolution_rate_is_resolved_over_eligible():
    rows = [
        day(D(2019, 5, 1), first_contact_resolved=30, first_contact_eligible=70),
        day(D(2019, 5, 2), first_contact_resolved=20, first_contact_eligible=30),
    ]
    r = result("first_contact_resolution_rate", Window.TRAILING_7D, rows, D(2019, 5, 2))
    assert (r.numerator, r.denominator, r.value, r.status) == (50, 100, 0.5, Status.MET)


@pytest.mark.parametrize(("returned", "status"), [(6, Status.MET), (7, Status.BREACHED)])
def test_operator_fault_return_rate_must_stay_strictly_below_7_percent(returned, status):
    rows = [day(D(2019, 5, 1), tickets_returned_operator_fault=returned, tickets_dispatched=100)]
    r = result("operator_fault_return_rate", Window.DAY, rows, D(2019, 5, 1))
    assert r.value == returned / 100 and r.status is status and r.comparator is Comparator.LT


def test_satisfaction_rate_is_satisfied_over_valid_responses():
    rows = [day(D(2019, 5, 1), survey_satisfied=89, survey_responses=100)]
    r = result("satisfaction_rate", Window.DAY, rows, D(2019, 5, 1))
    assert (r.value, r.status) == (0.89, Status.BREACHED)


def test_requests_accepted_is_a_total_compared_with_a_target_pro_rated_by_days():
    rows = [day(D(2019, 2, d), requests_accepted=11_000) for d in range(1, 29)]
    r = result("requests_accepted", Window.MONTH_TO_DATE, rows, D(2019, 2, 28))
    assert r.value == 11_000 * 28 and r.denominator is None
    # 4,000,000 * 28 / 365 = 306,849.3...
    assert r.target == r.pace == pytest.approx(4_000_000 * 28 / 365)
    assert r.annual_target == 4_000_000
    assert r.status is Status.MET and r.shortfall == 0

    short = result("requests_accepted", Window.DAY, [day(D(2019, 2, 1), requests_accepted=10_000)], D(2019, 2, 1))
    assert short.status is Status.BREACHED
    assert short.shortfall == pytest.approx(4_000_000 / 365 - 10_000)  # 958.9 requests behind pace


@pytest.mark.parametrize(("as_of", "days"), [(D(2019, 12, 31), 365), (D(2020, 12, 31), 366)])
def test_year_to_date_pace_on_31_december_is_the_full_annual_target(as_of, days):
    rows = [day(as_of - dt.timedelta(days=i), requests_accepted=10_000) for i in range(days)]
    r = result("requests_accepted", Window.YEAR_TO_DATE, rows, as_of)
    assert r.days_in_window == r.days_with_data == days
    assert r.target == r.pace == 4_000_000
    assert r.value == 10_000 * days and r.status is Status.BREACHED
    assert r.shortfall == 4_000_000 - 10_000 * days


def test_a_leap_year_puts_29_february_in_the_windows_and_paces_over_366_days():
    rows = [day(D(2020, 2, d), requests_accepted=d) for d in range(1, 30)] + [
        day(D(2020, 3, 1), requests_accepted=100)
    ]
    as_of = D(2020, 3, 1)
    week = result("requests_accepted", Window.TRAILING_7D, rows, as_of)
    assert (week.start, week.end) == (D(2020, 2, 24), D(2020, 3, 1))
    assert week.value == 24 + 25 + 26 + 27 + 28 + 29 + 100
    assert week.pace == pytest.approx(4_000_000 * 7 / 366)
    ytd = result("requests_accepted", Window.YEAR_TO_DATE, rows, as_of)
    assert ytd.days_in_window == 31 + 29 + 1
    assert ytd.days_with_data == 30
    assert ytd.pace == pytest.approx(4_000_000 * 61 / 366)
    feb = result("requests_accepted", Window.MONTH_TO_DATE, rows, D(2020, 2, 29))
    assert feb.days_in_window == 29 and feb.value == sum(range(1, 30))


# ---------------------------------------------------------------- windows, gaps, zeros


def test_a_zero_call_day_has_no_day_value_but_does_not_break_year_to_date():
    rows = [
        day(D(2019, 1, 1), calls_offered=0, calls_abandoned_short=0, calls_answered=0),
        day(D(2019, 1, 2), calls_offered=100, calls_abandoned_short=0, calls_answered=95),
    ]
    d1 = result("connection_rate", Window.DAY, rows, D(2019, 1, 1))
    assert (d1.value, d1.status, d1.denominator, d1.days_with_data) == (None, Status.NO_DATA, 0, 1)
    ytd = result("connection_rate", Window.YEAR_TO_DATE, rows, D(2019, 1, 2))
    assert (ytd.value, ytd.status, ytd.days_with_data) == (0.95, Status.MET, 2)


def test_an_empty_window_is_no_data_never_100_percent():
    r = result("connection_rate", Window.DAY, [], D(2019, 6, 1))
    assert (r.value, r.status, r.numerator, r.denominator, r.days_with_data) == (None, Status.NO_DATA, 0, 0, 0)
    v = result("requests_accepted", Window.DAY, [], D(2019, 6, 1))
    assert (v.value, v.status, v.shortfall) == (None, Status.NO_DATA, None)
    assert v.pace == pytest.approx(4_000_000 / 365)  # the pace is known without data


def test_a_missing_day_is_a_gap_not_a_zero():
    rows = [
        day(D(2019, 3, 1), calls_offered=100, calls_answered=90, requests_accepted=10),
        # 2 March: no row at all.
        day(D(2019, 3, 3), calls_offered=100, calls_answered=94, requests_accepted=20),
    ]
    r = result("connection_rate", Window.MONTH_TO_DATE, rows, D(2019, 3, 3))
    assert (r.numerator, r.denominator) == (184, 200)
    assert (r.days_with_data, r.days_in_window) == (2, 3)
    gap = result("connection_rate", Window.DAY, rows, D(2019, 3, 2))
    assert gap.status is Status.NO_DATA and gap.days_with_data == 0

    c = completeness(rows, D(2019, 3, 3))
    assert c.missing == ((D(2019, 1, 1), D(2019, 2, 28)), (D(2019, 3, 2), D(2019, 3, 2)))
    assert (c.days_elapsed, c.days_with_data) == (62, 2)
    assert c.ratio == 2 / 62


def test_a_day_missing_one_side_of_a_ratio_drops_out_of_both_sums():
    rows = [
        day(D(2019, 3, 1), calls_offered=100, calls_answered=90),
        day(D(2019, 3, 2), calls_offered=None, calls_answered=50),  # answered known, offered not
    ]
    r = result("connection_rate", Window.MONTH_TO_DATE, rows, D(2019, 3, 2))
    assert (r.numerator, r.denominator, r.days_with_data) == (90, 100, 1)


def test_as_of_1_march_starts_the_month_and_the_trailing_week_reaches_into_february():
    rows = [day(D(2019, 2, d), calls_offered=10, calls_answered=10) for d in range(20, 29)]
    rows.append(day(D(2019, 3, 1), calls_offered=10, calls_answered=5))
    as_of = D(2019, 3, 1)
    mtd = result("connection_rate", Window.MONTH_TO_DATE, rows, as_of)
    assert (mtd.start, mtd.days_in_window, mtd.value) == (D(2019, 3, 1), 1, 0.5)
    week = result("connection_rate", Window.TRAILING_7D, rows, as_of)
    assert (week.start, week.end) == (D(2019, 2, 23), D(2019, 3, 1))
    assert (week.numerator, week.denominator) == (6 * 10 + 5, 7 * 10)
    month30 = result("connection_rate", Window.TRAILING_30D, rows, as_of)
    assert (month30.start, month30.days_with_data) == (D(2019, 1, 31), 10)


@pytest.mark.parametrize(
    ("as_of", "start", "days"),
    [
        (D(2019, 3, 31), D(2019, 1, 1), 90),
        (D(2019, 4, 1), D(2019, 4, 1), 1),
        (D(2019, 6, 30), D(2019, 4, 1), 91),
        (D(2019, 7, 1), D(2019, 7, 1), 1),
        (D(2019, 10, 1), D(2019, 10, 1), 1),
        (D(2019, 12, 31), D(2019, 10, 1), 92),
        (D(2020, 3, 31), D(2020, 1, 1), 91),
    ],
)
def test_quarter_to_date_restarts_on_the_first_day_of_each_quarter(as_of, start, days):
    r = result("requests_accepted", Window.QUARTER_TO_DATE, [], as_of)
    assert (r.start, r.end, r.days_in_window) == (start, as_of, days)
    assert r.pace == pytest.approx(4_000_000 * days / (366 if as_of.year == 2020 else 365))


def test_a_rate_is_the_ratio_of_sums_not_the_average_of_daily_rates():
    rows = [
        day(D(2019, 5, 1), calls_offered=100, calls_answered=100),  # 100%
        day(D(2019, 5, 2), calls_offered=1000, calls_answered=800),  # 80%
    ]
    r = result("connection_rate", Window.MONTH_TO_DATE, rows, D(2019, 5, 2))
    # Averaging the days would give 90% and "met"; the ratio of sums is 900/1100.
    assert r.value == 900 / 1100
    assert r.status is Status.BREACHED


def test_tracked_indicators_get_status_tracked_and_no_target():
    rows = [day(D(2019, 5, 1), calls_offered=100, calls_answered=10, calls_answered_within_15s=1)]
    for indicator_id in ("answered_within_15s_rate", "abandon_rate"):
        r = result(indicator_id, Window.DAY, rows, D(2019, 5, 1))
        assert r.status is Status.TRACKED and r.value is not None and r.target is None


# ---------------------------------------------------------------- sums


def test_integer_sums_stay_exact_beyond_float_precision():
    formula = build_formula("requests_accepted", DEFAULTS)
    rows = [day(D(2019, 1, 1), requests_accepted=2**53), day(D(2019, 1, 2), requests_accepted=1.0)]
    agg = aggregate_rows(rows, formula, D(2019, 1, 1), D(2019, 1, 2))
    assert agg.numerator == 2**53 + 1 and isinstance(agg.numerator, int)


def test_fractional_wait_seconds_are_summed_without_drift():
    formula = build_formula("average_answer_seconds", DEFAULTS)
    rows = [day(D(2019, 1, d), answer_wait_seconds_sum=0.1, calls_answered=1) for d in range(1, 11)]
    agg = aggregate_rows(rows, formula, D(2019, 1, 1), D(2019, 1, 10))
    assert agg.numerator == 1.0  # a naive float loop gives 0.9999999999999999
    assert agg == Aggregate(1.0, 10, 10, 10)


def test_rows_outside_the_window_are_ignored_and_a_total_has_no_denominator():
    formula = build_formula("requests_accepted", DEFAULTS)
    rows = [day(D(2019, 1, d), requests_accepted=d) for d in range(1, 11)]
    assert aggregate_rows(rows, formula, D(2019, 1, 3), D(2019, 1, 5)) == Aggregate(3 + 4 + 5, None, 3, 3)


def test_a_day_given_twice_is_an_error_not_a_silent_pick():
    formula = build_formula("requests_accepted", DEFAULTS)
    rows = [day(D(2019, 1, 1), requests_accepted=1), day(D(2019, 1, 1), requests_accepted=2)]
    with pytest.raises(RowError, match="2019-01-01"):
        aggregate_rows(rows, formula, D(2019, 1, 1), D(2019, 1, 1))


def test_a_non_finite_counter_is_an_error():
    formula = build_formula("average_answer_seconds", DEFAULTS)
    rows = [day(D(2019, 1, 1), answer_wait_seconds_sum=math.nan, calls_answered=1)]
    with pytest.raises(RowError, match="answer_wait_seconds_sum"):
        aggregate_rows(rows, formula, D(2019, 1, 1), D(2019, 1, 1))


# ---------------------------------------------------------------- evaluate, scoreboard


def test_evaluate_gives_every_quantitative_indicator_every_window_in_order():
    as_of = D(2019, 5, 1)
    results = evaluate(CATALOGUE, DEFAULTS, {}, as_of)
    expected = [(i.id, w) for i in CATALOGUE.quantitative for w in WINDOWS]
    assert [(r.indicator_id, r.window) for r in results] == expected
    assert all(r.status is Status.NO_DATA and r.value is None for r in results)


def test_a_stored_empty_aggregate_and_a_missing_one_give_the_same_result():
    ind = CATALOGUE.indicator("connection_rate")
    as_of = D(2019, 5, 1)
    assert evaluate_window(ind, Window.DAY, None, as_of) == evaluate_window(ind, Window.DAY, Aggregate(0, 0, 0, 1), as_of)


def test_an_aggregate_of_the_wrong_length_is_rejected():
    ind = CATALOGUE.indicator("connection_rate")
    with pytest.raises(ValueError, match="aggregate covers 7 days"):
        evaluate_window(ind, Window.DAY, Aggregate(1, 1, 1, 7), D(2019, 5, 1))


def test_evaluate_rejects_an_as_of_date_outside_the_catalogue_year():
    with pytest.raises(AsOfOutsideCatalogue, match="2020-01-01"):
        evaluate(CATALOGUE, DEFAULTS, {}, D(2020, 1, 1))


def test_completeness_lists_missing_runs_per_counter():
    rows = [
        day(D(2019, 1, 1), calls_offered=10, calls_answered=9, survey_responses=None),
        day(D(2019, 1, 2), calls_offered=10, calls_answered=None),
        day(D(2019, 1, 4), calls_offered=10, calls_answered=9),
    ]
    c = completeness(rows, D(2019, 1, 5))
    assert (c.start, c.days_elapsed, c.days_with_data, c.ratio) == (D(2019, 1, 1), 5, 3, 0.6)
    assert c.missing == ((D(2019, 1, 3), D(2019, 1, 3)), (D(2019, 1, 5), D(2019, 1, 5)))
    answered = c.counter("calls_answered")
    assert answered.days_present == 2
    assert answered.missing == ((D(2019, 1, 2), D(2019, 1, 3)), (D(2019, 1, 5), D(2019, 1, 5)))
    assert c.counter("survey_responses").missing == ((D(2019, 1, 1), D(2019, 1, 5)),)
    assert [cc.counter for cc in c.counters] == list(COUNTERS)


def _full_days_until(as_of: dt.date) -> list[DailyCounters]:
    rows = []
    d = D(as_of.year, 1, 1)
    while d <= as_of:
        if d.day != 10:  # the 10th of every month is missing
            rows.append(
                day(
                    d, requests_accepted=11_000, calls_offered=10_000, calls_abandoned_short=100,
                    calls_answered=9_000, answer_wait_seconds_sum=9_000 * 7.5, calls_answered_within_15s=8_500,
                    first_contact_resolved=6_000, first_contact_eligible=10_000, tickets_dispatched=3_000,
                    tickets_returned_operator_fault=150, survey_responses=500, survey_satisfied=460,
                )
            )
        d += dt.timedelta(days=1)
    return rows


def test_scoreboard_json_follows_the_contract_and_has_no_nan():
    as_of = D(2019, 3, 11)
    # 11 March is a zero-call day (connection counters only): its day window has no value.
    rows = [r for r in _full_days_until(D(2019, 3, 10)) if r.day != as_of]
    rows.append(day(as_of, calls_offered=0, calls_abandoned_short=0, calls_answered=0))
    sb = build_scoreboard(CATALOGUE, DEFAULTS, aggregates_from_rows(CATALOGUE, DEFAULTS, rows, as_of), rows, as_of, HOTLINE)
    doc = scoreboard_to_json(sb)
    json.dumps(doc, allow_nan=False, ensure_ascii=False)  # no NaN or infinity anywhere

    assert set(doc) == {"schema_version", "hotline", "as_of", "data_date", "settings", "completeness", "results"}
    assert doc["schema_version"] == SCHEMA_VERSION == 1
    assert (doc["hotline"], doc["as_of"], doc["data_date"]) == (HOTLINE, "2019-03-11", "2019-03-11")
    assert doc["settings"] == DEFAULTS.model_dump(mode="json")
    assert doc["settings"]["short_abandon_seconds"] == 5
    assert doc["completeness"]["missing"] == [
        {"first": "2019-01-10", "last": "2019-01-10"},
        {"first": "2019-02-10", "last": "2019-02-10"},
        {"first": "2019-03-10", "last": "2019-03-10"},
    ]
    assert doc["completeness"]["days_elapsed"] == 70
    assert doc["completeness"]["counters"]["requests_accepted"]["days_present"] == 66  # 11 March lacks it
    assert len(doc["results"]) == len(CATALOGUE.quantitative) * len(WINDOWS)
    keys = {"id", "window", "start", "end", "value", "target", "annual_target", "comparator", "status",
            "numerator", "denominator", "days_with_data", "days_in_window", "unit", "pace", "shortfall"}
    assert all(set(r) == keys for r in doc["results"])

    by = {(r["id"], r["window"]): r for r in doc["results"]}
    conn_day = by[("connection_rate", "day")]
    assert (conn_day["value"], conn_day["status"], conn_day["denominator"]) == (None, "no_data", 0)
    ytd = by[("connection_rate", "year_to_date")]
    # 66 full days of 9,000 / (10,000 - 100), plus the zero day.
    assert (ytd["numerator"], ytd["denominator"], ytd["days_with_data"]) == (66 * 9_000, 66 * 9_900, 67)
    assert (ytd["comparator"], ytd["status"], ytd["start"], ytd["end"]) == (">=", "met", "2019-01-01", "2019-03-11")
    vol = by[("requests_accepted", "year_to_date")]
    assert vol["pace"] == pytest.approx(4_000_000 * 70 / 365)
    assert vol["shortfall"] == pytest.approx(4_000_000 * 70 / 365 - 66 * 11_000)
    assert (vol["denominator"], vol["annual_target"], vol["unit"]) == (None, 4_000_000, "requests")
    assert by[("abandon_rate", "day")]["status"] == "no_data"
    assert by[("answered_within_15s_rate", "year_to_date")]["status"] == "tracked"
    assert by[("average_answer_seconds", "year_to_date")]["value"] == 7.5


def test_scoreboard_data_date_is_the_last_day_with_any_data():
    rows = [day(D(2019, 3, 1), requests_accepted=1), day(D(2019, 3, 2), calls_offered=None)]
    sb = build_scoreboard(CATALOGUE, DEFAULTS, {}, rows, D(2019, 3, 5), HOTLINE)
    assert sb.data_date == D(2019, 3, 1)
    assert build_scoreboard(CATALOGUE, DEFAULTS, {}, [], D(2019, 3, 5), HOTLINE).data_date is None


def test_scoreboard_rejects_rows_of_another_hotline():
    rows = [DailyCounters("beijing-12345", D(2019, 3, 1), {"requests_accepted": 1})]
    with pytest.raises(RowError, match="another hotline"):
        build_scoreboard(CATALOGUE, DEFAULTS, {}, rows, D(2019, 3, 5), HOTLINE)


# ---------------------------------------------------------------- properties


def _maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), strategy)


@st.composite
def valid_counters(draw: st.DrawFn) -> dict[str, float | None]:
    """One day's counters that respect part <= whole (a short abandon is never answered)."""
    offered = draw(st.integers(0, 10**6))
    answered = draw(st.integers(0, offered))
    short = draw(st.integers(0, offered - answered))
    eligible = draw(st.integers(0, 10**5))
    dispatched = draw(st.integers(0, 10**5))
    responses = draw(st.integers(0, 10**4))
    values = {
        "requests_accepted": draw(st.integers(0, 10**6)),
        "calls_offered": offered,
        "calls_answered": answered,
        "calls_abandoned_short": short,
        "answer_wait_seconds_sum": draw(st.floats(0, 600.0)) * answered,
        "calls_answered_within_15s": draw(st.integers(0, answered)),
        "first_contact_eligible": eligible,
        "first_contact_resolved": draw(st.integers(0, eligible)),
        "tickets_dispatched": dispatched,
        "tickets_returned_operator_fault": draw(st.integers(0, dispatched)),
        "survey_responses": responses,
        "survey_satisfied": draw(st.integers(0, responses)),
    }
    dropped = draw(st.sets(st.sampled_from(COUNTERS)))  # unknown on this day
    return {k: (None if k in dropped else v) for k, v in values.items()}


def days_of(year: int, max_size: int) -> st.SearchStrategy:
    return st.dictionaries(st.dates(D(year, 1, 1), D(year, 12, 31)), valid_counters(), max_size=max_size)


RATE_FORMULAS = ("connection_rate", "abandon_rate", "answered_within_15s_rate", "first_contact_resolution_rate",
                 "operator_fault_return_rate", "satisfaction_rate")


@hyp_settings(max_examples=200, deadline=None)
@given(
    data=days_of(2019, 20),
    formula_id=st.sampled_from(RATE_FORMULAS),
    exclude=st.booleans(),
    den15=st.sampled_from(["offered", "answered"]),
)
def test_rates_stay_within_0_and_1_for_valid_counters(data, formula_id, exclude, den15):
    settings = FormulaSettings(exclude_short_abandons=exclude, within_15s_denominator=den15)
    rows = [day(d, **v) for d, v in data.items()]
    formula = build_formula(formula_id, settings)
    agg = aggregate_rows(rows, formula, D(2019, 1, 1), D(2019, 12, 31))
    ind = next(i for i in CATALOGUE.quantitative if i.formula == formula_id)
    r = evaluate_window(ind, Window.YEAR_TO_DATE, agg, D(2019, 12, 31), formula=formula)
    if r.value is None:
        assert r.status is Status.NO_DATA and (agg.days_with_data == 0 or agg.denominator == 0)
    else:
        assert 0 <= r.value <= 1


@hyp_settings(max_examples=100, deadline=None)
@given(
    year=st.sampled_from([2019, 2020]),
    data=st.data(),
    formula_id=st.sampled_from(("requests_accepted", "average_answer_seconds") + RATE_FORMULAS),
    exclude=st.booleans(),
)
def test_year_to_date_sums_equal_the_sum_of_month_to_date_sums_at_month_ends(year, data, formula_id, exclude):
    days = data.draw(days_of(year, 60))
    last_month = data.draw(st.integers(1, 12))
    settings = FormulaSettings(exclude_short_abandons=exclude)
    rows = [day(d, **v) for d, v in days.items()]
    formula = build_formula(formula_id, settings)

    def month_end(m: int) -> dt.date:
        return (D(year, m + 1, 1) if m < 12 else D(year + 1, 1, 1)) - dt.timedelta(days=1)

    start, end = D(year, 1, 1), month_end(last_month)
    ytd = aggregate_rows(rows, formula, start, end)
    months = [aggregate_rows(rows, formula, D(year, m, 1), month_end(m)) for m in range(1, last_month + 1)]
    assert ytd.days_with_data == sum(m.days_with_data for m in months)
    assert ytd.days_in_window == sum(m.days_in_window for m in months)
    num = [m.numerator for m in months]
    den = [m.denominator for m in months]
    if formula_id == "average_answer_seconds":  # fractional seconds: equal to rounding
        assert ytd.numerator == pytest.approx(math.fsum(num), rel=1e-12, abs=1e-9)
    else:
        assert ytd.numerator == sum(num)
    assert ytd.denominator == (None if formula.kind == "total" else sum(den))
