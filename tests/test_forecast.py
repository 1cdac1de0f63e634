"""Year-end projections, error budgets, required pace and burn rates on hand-computed cases.

The real Shanghai 12345 2019 catalogue throughout (a copy with another year where a
case needs one). Flat data (the same counters every day) makes the forecast exact, so
the expected figures can be worked out by hand; the comments show the arithmetic.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import assume, given, settings as hyp_settings, strategies as st

from hotline_kpi.catalogue import Catalogue, load_catalogue
from hotline_kpi.domain import Comparator, DailyCounters, Status, days_in_year
from hotline_kpi.aggregate import RowError, aggregate_rows
from hotline_kpi.evaluate import AsOfOutsideCatalogue
from hotline_kpi.forecast import (
    PaceStatus,
    Projection,
    day_type,
    prepare,
    project,
    project_series,
)
from hotline_kpi.forecast import calibration
from hotline_kpi.forecast.calibration import spread_factor
from hotline_kpi.forecast.levels import JUMP_P
from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.snapshot import projection_to_json
from tests.common import SHANGHAI as HOTLINE

CATALOGUE = load_catalogue(Path(__file__).resolve().parents[1] / "hotline_kpi/defaults/targets/shanghai-12345-2019.yaml")
CATALOGUE_2020 = CATALOGUE.model_copy(update={"year": 2020})
DEFAULTS = FormulaSettings()
D = dt.date
TARGETED = ("requests_accepted", "connection_rate", "first_contact_resolution_rate",
            "operator_fault_return_rate", "average_answer_seconds", "satisfaction_rate")

#: One ordinary day: 11,000 requests; 1,000 calls offered, 950 answered (95%), 7 s
#: average wait; 550 of 1,000 resolved first time (55%); 60 of 1,000 tickets returned
#: for operator fault (6%); 92 of 100 callbacks satisfied (92%).
FLAT = dict(
    requests_accepted=11_000, calls_offered=1_000, calls_answered=950, answer_wait_seconds_sum=7 * 950,
    first_contact_eligible=1_000, first_contact_resolved=550, tickets_dispatched=1_000,
    tickets_returned_operator_fault=60, survey_responses=100, survey_satisfied=92,
)


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def rows_for(first: dt.date, last: dt.date, **overrides: float | None) -> list[DailyCounters]:
    return [DailyCounters(HOTLINE, d, {**FLAT, **overrides}) for d in days(first, last)]


def by_id(projections: tuple[Projection, ...]) -> dict[str, Projection]:
    return {p.indicator_id: p for p in projections}


def one(indicator_id: str, rows: list[DailyCounters], as_of: dt.date, catalogue: Catalogue = CATALOGUE,
        **kw) -> Projection:
    return by_id(project(catalogue, DEFAULTS, rows, as_of, **kw))[indicator_id]


def with_target(catalogue: Catalogue, indicator_id: str, **update) -> Catalogue:
    inds = tuple(i.model_copy(update=update) if i.id == indicator_id else i for i in catalogue.indicators)
    return catalogue.model_copy(update={"indicators": inds})


# ---------------------------------------------------------------- 31 December


def test_on_31_december_the_projection_is_the_year_to_date_and_the_interval_collapses():
    ps = by_id(project(CATALOGUE, DEFAULTS, rows_for(D(2019, 1, 1), D(2019, 12, 31)), D(2019, 12, 31)))
    assert tuple(ps) == TARGETED  # catalogue order, targeted indicators only
    for p in ps.values():
        assert p.days_forecast == 0 and p.days_with_data == 365
        assert p.projected_value == p.ytd_value == p.interval_low == p.interval_high
        assert p.required_value is None
        assert p.burn_rate_7d is None and p.burn_rate_30d is None
        assert p.projected_status is Status.MET
        assert p.pace_status is PaceStatus.SECURED  # met, and no day left to lose it
        assert "final" in p.note_en and "最终值" in p.note_zh
    # 365 x 11,000 = 4,015,000 requests: the target is reached, nothing more is needed.
    assert ps["requests_accepted"].projected_value == 4_015_000
    assert ps["requests_accepted"].budget_remaining == 0
    # The budgets are the year's slack, counted in the errors of each indicator:
    # connection 346,750 answered - 0.9 x 365,000 offered = 18,250 more unanswered calls;
    assert ps["connection_rate"].budget_remaining == pytest.approx(346_750 - 328_500)
    assert ps["connection_rate"].budget_unit == "unanswered_calls"
    # returns 0.07 x 365,000 - 21,900 = 3,650 more operator-fault returns;
    assert ps["operator_fault_return_rate"].budget_remaining == pytest.approx(3_650)
    # waiting 8 s x 346,750 answered - 7 s x 346,750 = 346,750 more wait-seconds;
    assert ps["average_answer_seconds"].budget_remaining == pytest.approx(346_750)
    assert ps["average_answer_seconds"].budget_unit == "wait_seconds"
    # satisfaction 33,580 - 0.9 x 36,500 = 730 more dissatisfied responses.
    assert ps["satisfaction_rate"].budget_remaining == pytest.approx(730)


def test_on_31_december_a_missed_target_cannot_be_met():
    p = one("connection_rate", rows_for(D(2019, 1, 1), D(2019, 12, 31), calls_answered=890), D(2019, 12, 31))
    assert p.projected_value == pytest.approx(0.89) and p.projected_status is Status.BREACHED
    assert p.pace_status is PaceStatus.CANNOT_BE_MET
    # 324,850 answered - 328,500 needed: 3,650 unanswered calls too many.
    assert p.budget_remaining == pytest.approx(-3_650)


# ---------------------------------------------------------------- lost, secured


def test_a_target_already_lost_cannot_be_met():
    # 1 Jan - 30 Nov (334 days) at 9% returns: 30,060 returns of 334,000 tickets. Even
    # with no return in December (31,000 tickets) the year ends at 30,060 / 365,000 =
    # 8.24%, not below 7%: the budget 0.07 x 365,000 - 30,060 = -4,510 is overdrawn.
    p = one("operator_fault_return_rate", rows_for(D(2019, 1, 1), D(2019, 11, 30),
                                                    tickets_returned_operator_fault=90), D(2019, 11, 30))
    assert p.days_with_data == 334 and p.days_forecast == 31
    assert p.forecast_denominator == pytest.approx(31_000)
    assert p.budget_remaining == pytest.approx(-4_510)
    assert p.pace_status is PaceStatus.CANNOT_BE_MET
    assert p.required_value is None
    assert p.projected_value == pytest.approx(0.09) and p.projected_status is Status.BREACHED
    assert p.burn_rate_7d is None and p.burn_rate_30d is None  # no budget left to burn
    assert "Cannot be met" in p.note_en and "无法达成" in p.note_zh


def test_a_rate_already_secured_survives_every_remaining_call_failing():
    # 333,666 answered of 334,000 by 30 Nov; with all 31,000 December calls unanswered
    # the year still ends at 333,666 / 365,000 = 91.4% >= 90%.
    p = one("connection_rate", rows_for(D(2019, 1, 1), D(2019, 11, 30), calls_answered=999), D(2019, 11, 30))
    assert p.pace_status is PaceStatus.SECURED
    assert p.required_value is None
    # 333,666 + 31,000 - 328,500 = 36,166 >= the 31,000 calls left: more than can fail.
    assert p.budget_remaining == pytest.approx(36_166)
    assert p.budget_remaining >= p.forecast_denominator
    assert "Secured" in p.note_en and "已确保" in p.note_zh


def test_a_volume_already_reached_is_secured():
    # 200 days (1 Jan - 19 Jul) of 20,000 requests = 4,000,000: the target (>=) is reached.
    p = one("requests_accepted", rows_for(D(2019, 1, 1), D(2019, 7, 19), requests_accepted=20_000),
            D(2019, 7, 19))
    assert p.ytd_value == 4_000_000
    assert p.pace_status is PaceStatus.SECURED
    assert p.budget_remaining == 0 and p.budget_unit == "requests_needed"
    assert p.required_value is None


def test_a_volume_one_request_short_still_needs_it():
    p = one("requests_accepted", rows_for(D(2019, 1, 1), D(2019, 7, 19), requests_accepted=20_000)[:-1]
            + rows_for(D(2019, 7, 19), D(2019, 7, 19), requests_accepted=19_999), D(2019, 7, 19))
    assert p.pace_status is PaceStatus.ON_TRACK
    assert p.budget_remaining == 1
    assert p.required_value == pytest.approx(1 / (365 - 200))


# ---------------------------------------------------------------- 29 February


def test_29_february_of_a_leap_year_spreads_the_rest_over_306_days():
    rows = rows_for(D(2020, 1, 1), D(2020, 2, 29))
    p = one("requests_accepted", rows, D(2020, 2, 29), CATALOGUE_2020)
    # 60 days seen, 366 - 60 = 306 forecast at 11,000 a day.
    assert (p.days_with_data, p.days_forecast) == (60, 306)
    assert p.ytd_value == 660_000
    assert p.projected_value == pytest.approx(366 * 11_000)
    # Flat months: no drift between January and February and no daily noise, so the
    # posterior leaves next to no weight on drift and the spread is tiny (a few requests)
    # -- and 4,026,000 against 4,000,000 is then missed only if the level steps down later
    # in the year (a reform, a new contract: docs/forecast.md 2.3), which the prior gives
    # JUMP_P for the year, half of it downwards.
    assert p.interval_low == pytest.approx(p.projected_value, rel=1e-4) == pytest.approx(p.interval_high, rel=1e-4)
    assert 0 < p.miss_probability < JUMP_P / 2
    assert p.budget_remaining == 4_000_000 - 660_000
    assert p.required_unit == "requests_per_day"
    assert p.required_value == pytest.approx(3_340_000 / 306)  # 10,915.03 a day
    assert p.pace_status is PaceStatus.ON_TRACK and p.projected_status is Status.MET

    c = one("connection_rate", rows, D(2020, 2, 29), CATALOGUE_2020)
    # 57,000 of 60,000 answered; 306,000 calls to come; 0.9 x 366,000 = 329,400 needed:
    # the rest must answer 272,400 / 306,000 = 89.02%, i.e. 33,600 calls may go unanswered.
    assert c.forecast_denominator == pytest.approx(306_000)
    assert c.required_value == pytest.approx(272_400 / 306_000)
    assert c.budget_remaining == pytest.approx(33_600)


# ---------------------------------------------------------------- missing days


def test_missing_days_are_forecast_not_counted_as_zero():
    gap = set(days(D(2019, 3, 1), D(2019, 3, 10)))
    rows = [r for r in rows_for(D(2019, 1, 1), D(2019, 6, 30)) if r.day not in gap]
    p = one("requests_accepted", rows, D(2019, 6, 30))
    assert p.days_with_data == 171
    assert p.ytd_value == 171 * 11_000  # the scoreboard's year to date: the gap adds nothing
    # 10 gap days + 184 days to come are forecast: the year still comes to 365 x 11,000.
    assert p.days_forecast == 194
    assert p.projected_value == pytest.approx(4_015_000)
    assert p.required_value == pytest.approx((4_000_000 - 171 * 11_000) / 194)
    assert "10 past day(s) without data" in p.note_en and "10天缺数" in p.note_zh


def test_a_day_missing_one_counter_of_a_formula_is_a_gap_for_that_formula_only():
    rows = rows_for(D(2019, 1, 1), D(2019, 6, 30))
    rows[40] = DailyCounters(HOTLINE, rows[40].day, {**FLAT, "survey_satisfied": None})
    ps = by_id(project(CATALOGUE, DEFAULTS, rows, D(2019, 6, 30)))
    assert ps["satisfaction_rate"].days_with_data == 180 and ps["satisfaction_rate"].days_forecast == 185
    assert ps["connection_rate"].days_with_data == 181
    assert ps["satisfaction_rate"].projected_value == pytest.approx(0.92)


def test_a_gap_is_forecast_at_the_level_of_its_own_month():
    # A whole year at 11,000 a day but a busy March at 16,000, of which 1-10 March never
    # arrived. On 31 December only those 10 days are open: March 11-31 is three whole
    # weeks, so each weekday of March ran at 16,000, and so are the 10 days forecast
    # (within the spread of the weekday factors fitted on the whole year, 0.1%).
    gap = set(days(D(2019, 3, 1), D(2019, 3, 10)))
    rows = [r for r in rows_for(D(2019, 1, 1), D(2019, 12, 31)) if r.day not in gap]
    rows = [DailyCounters(HOTLINE, r.day, {**FLAT, "requests_accepted": 16_000}) if r.day.month == 3 else r
            for r in rows]
    p = one("requests_accepted", rows, D(2019, 12, 31))
    assert p.days_forecast == 10
    assert p.ytd_value == 334 * 11_000 + 21 * 16_000
    assert p.forecast_numerator == pytest.approx(10 * 16_000, rel=2e-3)
    assert p.projected_value == pytest.approx(p.ytd_value + 160_000, rel=1e-4)


# ---------------------------------------------------------------- the strict "< 7%"


def test_exactly_seven_percent_is_lost_for_less_than_but_holds_for_at_most():
    # Full year at exactly 70 returns per 1,000 tickets: 7.00%, which is not below 7%.
    rows = rows_for(D(2019, 1, 1), D(2019, 12, 31), tickets_returned_operator_fault=70)
    strict = one("operator_fault_return_rate", rows, D(2019, 12, 31))
    assert strict.projected_value == pytest.approx(0.07)
    assert strict.projected_status is Status.BREACHED and strict.pace_status is PaceStatus.CANNOT_BE_MET
    assert strict.budget_remaining == pytest.approx(0, abs=1e-6)
    at_most = one("operator_fault_return_rate", rows, D(2019, 12, 31),
                  with_target(CATALOGUE, "operator_fault_return_rate", comparator=Comparator.LE))
    assert at_most.projected_status is Status.MET and at_most.pace_status is PaceStatus.SECURED


def test_a_zero_budget_mid_year_cannot_be_met_under_a_strict_target():
    # By 30 June: 25,550 returns of 181,000 tickets; 184,000 more tickets forecast, so
    # the year has 365,000 and 7% of it is 25,550: not one more return fits under "< 7%",
    # and even none at all leaves the year at exactly 7% -- lost.
    rows = rows_for(D(2019, 1, 1), D(2019, 6, 30), tickets_returned_operator_fault=141)
    rows += [DailyCounters(HOTLINE, D(2019, 7, 1), {})]  # after the as-of date: ignored
    rows[0] = DailyCounters(HOTLINE, D(2019, 1, 1), {**FLAT, "tickets_returned_operator_fault": 141 + 29})
    strict = one("operator_fault_return_rate", rows, D(2019, 6, 30))
    assert strict.forecast_denominator == pytest.approx(184_000)
    assert strict.budget_remaining == pytest.approx(0, abs=1e-6)
    assert strict.pace_status is PaceStatus.CANNOT_BE_MET
    # Under "<= 7%" the same year is still possible: the rest must have no return at all.
    at_most = one("operator_fault_return_rate", rows, D(2019, 6, 30),
                  with_target(CATALOGUE, "operator_fault_return_rate", comparator=Comparator.LE))
    assert at_most.pace_status is PaceStatus.AT_RISK
    assert at_most.required_value == pytest.approx(0, abs=1e-9)


# ---------------------------------------------------------------- burn rate


def test_burn_rate_compares_the_recent_error_rate_with_the_even_spend():
    # 95% answered until 23 June, then a bad week at 80% (24-30 June, Monday to Sunday).
    rows = rows_for(D(2019, 1, 1), D(2019, 6, 23)) + rows_for(D(2019, 6, 24), D(2019, 6, 30), calls_answered=800)
    p = one("connection_rate", rows, D(2019, 6, 30))
    # Answered 174 x 950 + 7 x 800 = 170,900 of 181,000; 184,000 calls to come.
    # Budget: 170,900 + 184,000 - 0.9 x 365,000 = 26,400 unanswered calls, i.e. an even
    # spend of 26,400 / 184,000 = 14.35% unanswered from now on.
    assert p.budget_remaining == pytest.approx(26_400)
    even = 26_400 / 184_000
    # Last 7 days: 20% unanswered -> 1.39 x the even spend; last 30: 2,550 / 30,000 = 8.5%.
    assert p.burn_rate_7d == pytest.approx(0.2 / even)
    assert p.burn_rate_30d == pytest.approx(0.085 / even)
    assert p.required_value == pytest.approx(1 - even)


def test_burn_rate_of_a_lower_is_better_target_counts_the_numerator():
    rows = rows_for(D(2019, 1, 1), D(2019, 6, 30))
    p = one("average_answer_seconds", rows, D(2019, 6, 30))
    # 8 s x 346,750 - 7 s x 171,950 = 1,570,350 wait-seconds for 174,800 calls to come:
    # an even spend of 8.98 s a call; the last 7 and 30 days wait 7 s.
    allowance = (8 * 346_750 - 7 * 171_950) / 174_800
    assert p.required_value == pytest.approx(allowance)
    assert p.burn_rate_7d == pytest.approx(7 / allowance) == p.burn_rate_30d


def test_early_january_burn_rate_reaches_into_the_previous_year():
    prev = rows_for(D(2018, 1, 1), D(2018, 12, 31), calls_answered=800)
    rows = rows_for(D(2019, 1, 1), D(2019, 1, 20))
    p = one("connection_rate", rows, D(2019, 1, 20), previous_year_rows=prev)
    q = one("connection_rate", rows, D(2019, 1, 20))
    assert q.burn_rate_30d == pytest.approx(q.burn_rate_7d)  # 2019 days only
    assert p.burn_rate_30d > p.burn_rate_7d  # 10 days of December 2018 at 80% answered


# ---------------------------------------------------------------- the seasonal profile


def _shape(day: dt.date) -> float:
    """Half volume on rest days (weekends and holidays), full on working days (incl. 调休)."""
    return 1.0 if chinese_calendar.is_workday(day) else 0.5


def test_holidays_and_make_up_working_days_come_from_the_previous_year():
    prev = [DailyCounters(HOTLINE, d, {**FLAT, "requests_accepted": 10_000 * _shape(d)})
            for d in days(D(2018, 1, 1), D(2018, 12, 31))]
    rows = [DailyCounters(HOTLINE, d, {**FLAT, "requests_accepted": 12_000 * _shape(d)})
            for d in days(D(2019, 1, 1), D(2019, 6, 30))]
    p = one("requests_accepted", rows, D(2019, 6, 30), previous_year_rows=prev)
    # The second half of 2019 at this year's level (12,000) with 2019's own calendar:
    # National Day (1-7 Oct) at half, the make-up Saturdays 29 Sep and 12 Oct at full.
    expected = sum(12_000 * _shape(d) for d in days(D(2019, 1, 1), D(2019, 12, 31)))
    assert p.projected_value == pytest.approx(expected, rel=1e-9)
    assert p.interval_high - p.interval_low < 1e-4 * expected
    assert "previous-year" not in p.note_en


def test_the_holiday_calendar_tells_holidays_make_up_days_and_weekdays():
    assert day_type(D(2019, 2, 5)) == ("holiday:Spring Festival", True)
    assert day_type(D(2019, 2, 9)) == ("holiday:Spring Festival", True)  # a Saturday of the break
    assert day_type(D(2019, 2, 2)) == ("makeup", True)  # Saturday worked for the Spring Festival
    assert day_type(D(2019, 10, 12)) == ("makeup", True)
    assert day_type(D(2019, 10, 13)) == ("wd6", True)
    assert day_type(D(2020, 2, 29)) == ("wd5", True)


def test_a_year_the_holiday_calendar_does_not_know_falls_back_to_weekdays_with_a_note():
    catalogue = CATALOGUE.model_copy(update={"year": 2099})
    assert day_type(D(2099, 10, 1)) == ("wd3", False)
    rows = rows_for(D(2099, 1, 1), D(2099, 3, 31))
    p = one("requests_accepted", rows, D(2099, 3, 31), catalogue)
    assert p.projected_value == pytest.approx(365 * 11_000)
    assert "does not cover 2099" in p.note_en and "未收录2099年" in p.note_zh


# ---------------------------------------------------------------- too little data, errors


def test_too_few_days_give_no_projection_and_say_so():
    p = one("connection_rate", rows_for(D(2019, 1, 1), D(2019, 1, 13)), D(2019, 1, 13))
    assert p.ytd_value == pytest.approx(0.95)
    assert p.pace_status is PaceStatus.INSUFFICIENT_DATA and p.projected_status is Status.NO_DATA
    assert p.projected_value is p.interval_low is p.budget_remaining is p.required_value is None
    assert "Only 13 day(s)" in p.note_en and "仅有13天" in p.note_zh
    enough = one("connection_rate", rows_for(D(2019, 1, 1), D(2019, 1, 14)), D(2019, 1, 14))
    assert enough.pace_status is PaceStatus.ON_TRACK
    assert "Less than two months" in enough.note_en


def test_a_hotline_without_rows_has_no_projection():
    ps = project(CATALOGUE, DEFAULTS, [], D(2019, 5, 1))
    assert all(p.pace_status is PaceStatus.INSUFFICIENT_DATA and p.ytd_value is None for p in ps)


def test_the_as_of_date_must_lie_in_the_catalogue_year():
    with pytest.raises(AsOfOutsideCatalogue):
        project(CATALOGUE, DEFAULTS, [], D(2020, 1, 1))


def test_a_day_given_twice_is_an_error():
    rows = rows_for(D(2019, 1, 1), D(2019, 1, 31))
    with pytest.raises(RowError, match="同一天在数据行中出现了不止一次"):
        project(CATALOGUE, DEFAULTS, rows + rows[:1], D(2019, 1, 31))


def test_rows_of_another_hotline_are_an_error():
    rows = rows_for(D(2019, 1, 1), D(2019, 1, 31))
    rows[3] = DailyCounters("beijing-12345", rows[3].day, FLAT)
    with pytest.raises(RowError, match="another hotline"):
        project(CATALOGUE, DEFAULTS, rows, D(2019, 1, 31))


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.2])
def test_the_interval_level_lies_strictly_between_0_and_1(level):
    with pytest.raises(ValueError, match="level"):
        project(CATALOGUE, DEFAULTS, rows_for(D(2019, 1, 1), D(2019, 3, 31)), D(2019, 3, 31), level=level)


# ---------------------------------------------------------------- noisy data, JSON


def noisy_year(seed: int, year: int = 2019, last: dt.date | None = None) -> list[DailyCounters]:
    rng = random.Random(seed)
    out = []
    for d in days(D(year, 1, 1), last or D(year, 12, 31)):
        offered = round(1_000 * _shape(d) * rng.uniform(0.85, 1.15))
        answered = round(offered * rng.uniform(0.85, 0.97))
        out.append(DailyCounters(HOTLINE, d, {
            **FLAT, "requests_accepted": offered * 11, "calls_offered": offered, "calls_answered": answered,
            "answer_wait_seconds_sum": answered * rng.uniform(5, 10),
            "tickets_returned_operator_fault": rng.randint(40, 90),
            "survey_satisfied": rng.randint(85, 97)}))
    return out


def test_a_wider_level_gives_a_wider_interval():
    rows = noisy_year(1, last=D(2019, 5, 31))
    narrow = one("connection_rate", rows, D(2019, 5, 31), level=0.5)
    wide = one("connection_rate", rows, D(2019, 5, 31), level=0.95)
    assert wide.interval_level == 0.95
    assert wide.interval_low < narrow.interval_low < narrow.projected_value < narrow.interval_high < wide.interval_high
    assert narrow.projected_value == wide.projected_value


def test_projection_json_is_json_safe_with_iso_dates_and_every_field():
    ps = project(CATALOGUE, DEFAULTS, noisy_year(2, last=D(2019, 8, 15)), D(2019, 8, 15),
                 previous_year_rows=noisy_year(3, 2018))
    docs = [projection_to_json(p) for p in ps]
    json.dumps(docs, allow_nan=False, ensure_ascii=False)
    assert set(docs[0]) == {
        "id", "as_of", "unit", "comparator", "threshold", "ytd_value", "projected_value", "interval_low",
        "interval_high", "interval_level", "projected_status", "budget_remaining", "budget_unit",
        "required_value", "required_unit", "pace_status", "burn_rate_7d", "burn_rate_30d", "days_with_data",
        "days_forecast", "forecast_numerator", "forecast_denominator", "note_zh", "note_en",
            "miss_probability"}
    rate = next(d for d in docs if d["id"] == "operator_fault_return_rate")
    assert rate["as_of"] == "2019-08-15" and rate["comparator"] == "<" and rate["threshold"] == 0.07
    assert rate["pace_status"] in {s.value for s in PaceStatus}
    assert rate["projected_status"] in ("met", "breached")
    volume = next(d for d in docs if d["id"] == "requests_accepted")
    assert volume["forecast_denominator"] is None and volume["burn_rate_7d"] is None
    empty = projection_to_json(project(CATALOGUE, DEFAULTS, [], D(2019, 5, 1))[0])
    json.dumps(empty, allow_nan=False)
    assert empty["projected_value"] is None and empty["pace_status"] == "insufficient_data"


# ---------------------------------------------------------------- properties


@st.composite
def situations(draw):
    """A year to date of random daily counts, an as-of date and a target for the returns."""
    seed = draw(st.integers(0, 10_000))
    as_of = D(2019, 1, 14) + dt.timedelta(days=draw(st.integers(0, 349)))
    threshold = draw(st.sampled_from([0.02, 0.05, 0.065, 0.07, 0.08, 0.12]))
    comparator = draw(st.sampled_from([Comparator.LT, Comparator.LE]))
    return noisy_year(seed, last=as_of), as_of, threshold, comparator


@hyp_settings(max_examples=40, deadline=None)
@given(situations())
def test_spending_exactly_the_budget_lands_exactly_on_the_target(situation):
    rows, as_of, threshold, comparator = situation
    catalogue = with_target(CATALOGUE, "operator_fault_return_rate", threshold=threshold, comparator=comparator)
    p = one("operator_fault_return_rate", rows, as_of, catalogue)
    formula = catalogue.indicator("operator_fault_return_rate").formula_for(DEFAULTS)
    ytd = aggregate_rows(rows, formula, D(2019, 1, 1), as_of)
    den = p.forecast_denominator
    # The budget is the numerator the rest may add; at that total the year is exactly on target.
    assert (ytd.numerator + p.budget_remaining) / (ytd.denominator + den) == pytest.approx(threshold)
    if p.required_value is not None:
        assert p.required_value * den == pytest.approx(p.budget_remaining)
        assert p.pace_status in (PaceStatus.ON_TRACK, PaceStatus.AT_RISK)
    elif p.pace_status is PaceStatus.CANNOT_BE_MET:
        assert p.budget_remaining <= 1e-6
    else:
        assert p.pace_status is PaceStatus.SECURED
        assert p.budget_remaining >= den - 1e-6
    assert (p.pace_status is PaceStatus.ON_TRACK) == (
        p.required_value is not None and comparator.holds(p.projected_value, threshold))
    assert p.interval_low <= p.projected_value <= p.interval_high


@hyp_settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), as_of_day=st.integers(13, 330), threshold=st.sampled_from([0.85, 0.9, 0.93]))
def test_a_rest_of_year_at_the_required_pace_ends_on_the_target(seed, as_of_day, threshold):
    """Flat volumes (so the forecast is exact), random answered calls; the rest of the
    year is then filled in at exactly the required pace and evaluated like the scoreboard."""
    as_of = D(2019, 1, 1) + dt.timedelta(days=as_of_day)
    rng = random.Random(seed)
    rows = [DailyCounters(HOTLINE, r.day, {**r.values, "calls_answered": rng.randint(800, 1_000)})
            for r in rows_for(D(2019, 1, 1), as_of)]
    catalogue = with_target(CATALOGUE, "connection_rate", threshold=threshold)
    p = one("connection_rate", rows, as_of, catalogue)
    assume(p.required_value is not None)
    rest = [DailyCounters(HOTLINE, r.day, {**r.values, "calls_answered": 1_000 * p.required_value})
            for r in rows_for(as_of + dt.timedelta(days=1), D(2019, 12, 31))]
    formula = catalogue.indicator("connection_rate").formula_for(DEFAULTS)
    year = aggregate_rows(rows + rest, formula, D(2019, 1, 1), D(2019, 12, 31))
    assert year.numerator / year.denominator == pytest.approx(threshold)
    # ... and the calls left unanswered on the way are exactly the budget.
    unanswered = math.fsum(1_000 - r.values["calls_answered"] for r in rest)
    assert unanswered == pytest.approx(p.budget_remaining)
    assert len(rest) == days_in_year(2019) - p.days_with_data


# ---------------------------------------------------------------- drifting monthly levels


def test_months_that_drift_give_an_interval_that_narrows_as_the_year_fills(monkeypatch):
    # The connection rate alternates 94% / 92% month by month (no daily noise): the
    # month-to-month steps are the drift (docs/forecast.md 2.3).
    rows = [DailyCounters(HOTLINE, d, {**FLAT, "calls_answered": 940 if d.month % 2 else 920})
            for d in days(D(2019, 1, 1), D(2019, 9, 30))]

    def half_width(as_of: dt.date) -> float:
        p = one("connection_rate", [r for r in rows if r.day <= as_of], as_of)
        assert p.interval_low < p.projected_value < p.interval_high
        return p.interval_high - p.projected_value

    calibrated = half_width(D(2019, 3, 31)), half_width(D(2019, 9, 30))
    k = spread_factor("connection_rate", D(2019, 3, 31)), spread_factor("connection_rate", D(2019, 9, 30))
    monkeypatch.setattr(calibration, "SPREAD_FACTORS", {})  # the drift model alone
    march, september = half_width(D(2019, 3, 31)), half_width(D(2019, 9, 30))
    # Flat months would give next to none; nine open months after two steps seen give
    # about 2.6 points, three open months after eight steps about 0.7.
    assert 0.015 < march < 0.035 and 0.004 < september < 0.012 and march > 3 * september
    # The calibration (2.5) stretches both by the connection rate's factor of the date.
    assert k[0] > 1 > k[1]
    assert calibrated == pytest.approx((k[0] * march, k[1] * september), rel=1e-6)


def _noisy_months(seed: int, drift: float) -> list[DailyCounters]:
    """January-June: the connection rate's days vary by 1 point around a monthly level
    that steps by ``drift`` a month."""
    rng = random.Random(seed)
    level, by_month = 0.93, {}
    for m in range(1, 7):
        level += rng.gauss(0, drift)
        by_month[m] = level
    return [DailyCounters(HOTLINE, d, {**FLAT, "calls_answered": round(1_000 * (by_month[d.month] + rng.gauss(0, 0.01)))})
            for d in days(D(2019, 1, 1), D(2019, 6, 30))]


def test_day_to_day_noise_is_not_mistaken_for_drift():
    # The same daily noise, with and without monthly steps of 1 point: the month means of
    # 30 noisy days vary by about 0.2 points, which the model knows is sampling noise.
    def width(drift: float, seed: int) -> float:
        p = one("connection_rate", _noisy_months(seed, drift), D(2019, 6, 30))
        return p.interval_high - p.interval_low

    still = sorted(width(0.0, s) for s in range(5))[2]
    drifting = sorted(width(0.01, s) for s in range(5))[2]
    assert still < 0.5 * drifting


def test_last_years_summer_dip_is_forecast_and_widens_the_interval():
    # Last year the connection rate fell from 95% to 85% in July and August; this year
    # January-May ran at 95%. The forecast carries the dip, and since a dip's size varies
    # from year to year (TAU), the interval is wider than with a flat last year.
    def year_rows(year: int, last: dt.date, dip: bool) -> list[DailyCounters]:
        return [DailyCounters(HOTLINE, d, {**FLAT, "calls_offered": 1_000,
                                           "calls_answered": 850 if dip and d.month in (7, 8) else 950})
                for d in days(D(year, 1, 1), last)]

    this = year_rows(2019, D(2019, 5, 31), False)
    dipped = one("connection_rate", this, D(2019, 5, 31), previous_year_rows=year_rows(2018, D(2018, 12, 31), True))
    flat = one("connection_rate", this, D(2019, 5, 31), previous_year_rows=year_rows(2018, D(2018, 12, 31), False))
    # 62 of 365 days at 85%: 95% - 10 x 62 / 365 = 93.3%.
    assert dipped.projected_value == pytest.approx(0.95 - 0.10 * 62 / 365, abs=0.002)
    assert flat.projected_value == pytest.approx(0.95, abs=0.0005)
    assert dipped.interval_high - dipped.interval_low > 2 * (flat.interval_high - flat.interval_low)


def test_the_miss_probability_at_the_interval_bound_is_the_tail_of_the_interval():
    # One model for both: a target at the 80% interval's lower bound is missed with 10%.
    rows = noisy_year(4, last=D(2019, 5, 31))
    p = one("connection_rate", rows, D(2019, 5, 31))
    at_low = with_target(CATALOGUE, "connection_rate", threshold=p.interval_low)
    at_high = with_target(CATALOGUE, "connection_rate", threshold=p.interval_high)
    assert one("connection_rate", rows, D(2019, 5, 31), at_low).miss_probability == pytest.approx(0.10, abs=0.005)
    assert one("connection_rate", rows, D(2019, 5, 31), at_high).miss_probability == pytest.approx(0.90, abs=0.005)


def test_projecting_prepared_series_is_the_same_as_projecting_rows():
    # The backtest's path (series built once a year, projected at each month end).
    rows, prev = noisy_year(5), noisy_year(6, 2018)
    prepared = prepare(CATALOGUE, DEFAULTS, rows, prev)
    for as_of in (D(2019, 2, 28), D(2019, 7, 31)):
        direct = project(CATALOGUE, DEFAULTS, [r for r in rows if r.day <= as_of], as_of, prev)
        assert project_series(CATALOGUE, DEFAULTS, prepared, as_of) == direct


def test_the_probability_of_missing_follows_the_distance_to_the_target():
    rows = [DailyCounters(HOTLINE, d, {**FLAT, "calls_answered": 905 if d.month % 2 else 895})
            for d in days(D(2019, 1, 1), D(2019, 6, 30))]
    p = one("connection_rate", rows, D(2019, 6, 30))  # 90.0% projected against >= 90%: a coin toss
    assert 0.35 < p.miss_probability < 0.65
    easy = with_target(CATALOGUE, "connection_rate", threshold=0.88)
    hard = with_target(CATALOGUE, "connection_rate", threshold=0.92)
    assert one("connection_rate", rows, D(2019, 6, 30), easy).miss_probability < 0.05
    assert one("connection_rate", rows, D(2019, 6, 30), hard).miss_probability > 0.95


def test_one_step_in_the_level_is_not_taken_for_a_drift_that_goes_on():
    # The connection rate's days vary by 1 point; in one year the level steps down by 3
    # points in June and stays there (a reform, a new contract). By the end of September
    # the step is known: the months to come are forecast at the new level, and the
    # interval is about as narrow as a flat year's (the step component of docs/forecast.md
    # 2.3), not several times wider as if the level went on moving by 3 points.
    def year(seed: int, step: float) -> list[DailyCounters]:
        rng = random.Random(seed)
        return [DailyCounters(HOTLINE, d, {**FLAT, "calls_answered": round(
                    1_000 * ((0.93 if d.month < 6 else 0.93 - step) + rng.gauss(0, 0.01)))})
                for d in days(D(2019, 1, 1), D(2019, 9, 30))]

    ratios = []
    for seed in range(3):
        stepped = one("connection_rate", year(seed, 0.03), D(2019, 9, 30))
        flat = one("connection_rate", year(seed, 0.0), D(2019, 9, 30))
        # Five months at 93%, four at 90% and three to come at 90%: 91.75% for the year.
        assert stepped.projected_value == pytest.approx(0.93 - 0.03 * 214 / 365, abs=0.003)
        ratios.append((stepped.interval_high - stepped.interval_low) / (flat.interval_high - flat.interval_low))
    assert sorted(ratios)[1] < 2
