"""The split-conformal calibration of the projection's interval (docs/forecast.md 2.5):
one stretched distribution behind the interval, the probability of missing and the
at-risk rule."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from hotline_kpi.forecast import calibration
from hotline_kpi.forecast.calibration import spread_factor
from hotline_kpi.forecast.levels import OpenDaysError
from hotline_kpi.forecast.project import PaceStatus
from tests.test_forecast import CATALOGUE, DEFAULTS, noisy_year, one, with_target

D = dt.date
AS_OF = D(2019, 5, 31)


@pytest.fixture
def raw(monkeypatch):
    """The model without calibration (factor 1 everywhere)."""
    monkeypatch.setattr(calibration, "SPREAD_FACTORS", {})


def test_stretching_the_mixture_moves_every_quantile_about_the_unmoved_median():
    e = OpenDaysError((0.7, 0.3), (0.0, 0.02), (0.01, 0.03), 5)
    s = e.scaled(2.5)
    mid = e.median()
    assert s.median() == pytest.approx(mid, abs=1e-12)
    for p in (0.02, 0.1, 0.3, 0.7, 0.9, 0.98):
        assert s.quantile(p) == pytest.approx(mid + 2.5 * (e.quantile(p) - mid), abs=1e-10)
    for x in (-0.05, -0.01, 0.0, 0.015, 0.06):
        # P(stretched < mid + 2.5 (x - mid)) = P(raw < x): the same distribution, stretched.
        assert s.below(mid + 2.5 * (x - mid)) == pytest.approx(e.below(x), abs=1e-12)
    assert e.scaled(1.0) is e
    with pytest.raises(ValueError):
        e.scaled(0.0)


def test_the_factor_is_read_at_month_ends_and_interpolated_between(monkeypatch):
    monkeypatch.setattr(calibration, "SPREAD_FACTORS", {"connection_rate": tuple(float(m) for m in range(1, 12))})
    assert spread_factor("connection_rate", D(2019, 1, 31)) == 1.0
    assert spread_factor("connection_rate", D(2019, 2, 28)) == 2.0
    assert spread_factor("connection_rate", D(2019, 11, 30)) == 11.0
    # 14 of the 28 days from 31 January to 28 February: half-way.
    assert spread_factor("connection_rate", D(2019, 2, 14)) == pytest.approx(1.5)
    assert spread_factor("connection_rate", D(2019, 1, 10)) == 1.0      # before the first month end
    assert spread_factor("connection_rate", D(2019, 12, 20)) == 11.0    # after the last
    assert spread_factor("satisfaction_rate", D(2019, 6, 30)) == 1.0    # no fitted row: unchanged


def test_the_shipped_table_covers_every_targeted_indicator_of_the_default_catalogue():
    for ind in CATALOGUE.quantitative:
        if ind.targeted:
            row = calibration.SPREAD_FACTORS[ind.formula_for(DEFAULTS).id]
            assert len(row) == 11 and all(math.isfinite(k) and 0.2 < k < 5 for k in row), (ind.id, row)


def test_a_factor_of_two_doubles_the_interval_and_moves_the_miss_probability_with_it(raw, monkeypatch):
    rows = noisy_year(4, last=AS_OF)
    before = one("connection_rate", rows, AS_OF)
    other = one("satisfaction_rate", rows, AS_OF)
    monkeypatch.setattr(calibration, "SPREAD_FACTORS", {"connection_rate": (2.0,) * 11})
    after = one("connection_rate", rows, AS_OF)
    # The projection (the median) stays; both halves of the interval double.
    assert after.projected_value == pytest.approx(before.projected_value, abs=1e-12)
    assert after.interval_high - after.projected_value == pytest.approx(
        2 * (before.interval_high - before.projected_value), rel=1e-6)
    assert after.projected_value - after.interval_low == pytest.approx(
        2 * (before.projected_value - before.interval_low), rel=1e-6)
    # The probability of missing reads the same stretched distribution: a target on the
    # calibrated lower bound is missed with 10%, one on the raw bound (now inside) more often.
    at_new_low = with_target(CATALOGUE, "connection_rate", threshold=after.interval_low)
    at_old_low = with_target(CATALOGUE, "connection_rate", threshold=before.interval_low)
    assert one("connection_rate", rows, AS_OF, at_new_low).miss_probability == pytest.approx(0.10, abs=0.005)
    p_old = one("connection_rate", rows, AS_OF, at_old_low).miss_probability
    assert 0.2 < p_old < 0.5
    # Other indicators are untouched.
    assert one("satisfaction_rate", rows, AS_OF) == other


def test_a_target_at_the_projection_is_a_coin_toss_and_at_risk_follows_the_probability():
    rows = noisy_year(4, last=AS_OF)
    p = one("connection_rate", rows, AS_OF)
    at_median = with_target(CATALOGUE, "connection_rate", threshold=p.projected_value)
    assert one("connection_rate", rows, AS_OF, at_median).miss_probability == pytest.approx(0.5, abs=1e-6)
    for delta in (-0.002, 0.002):
        q = one("connection_rate", rows, AS_OF, with_target(CATALOGUE, "connection_rate",
                                                            threshold=p.projected_value + delta))
        assert (q.pace_status is PaceStatus.AT_RISK) == (q.miss_probability >= 0.5)


def test_the_miss_probability_rises_with_the_target():
    rows = noisy_year(4, last=AS_OF)
    p = one("connection_rate", rows, AS_OF)
    step = (p.interval_high - p.interval_low + 0.02) / 14
    targets = [p.interval_low - 0.01 + step * i for i in range(15)]
    probs = [one("connection_rate", rows, AS_OF, with_target(CATALOGUE, "connection_rate", threshold=t))
             .miss_probability for t in targets]
    assert probs == sorted(probs) and probs[0] < 0.1 < 0.9 < probs[-1]
    # Lower is better (the answer time, <= 8 s): a higher target is missed less often.
    a = one("average_answer_seconds", rows, AS_OF)
    lows = [one("average_answer_seconds", rows, AS_OF,
                with_target(CATALOGUE, "average_answer_seconds", threshold=a.projected_value + d)).miss_probability
            for d in (-0.3, -0.1, 0.0, 0.1, 0.3)]
    assert lows == sorted(lows, reverse=True) and lows[2] == pytest.approx(0.5, abs=1e-6)
