"""Scores on hand-computed cases (kpi.md §3)."""

from __future__ import annotations

import pytest

from hotline_kpi.domain import Comparator
from hotline_kpi.scoring_rules import Band, ScoringError, ScoringRules
from hotline_kpi.report.scoring import (
    Scored,
    budget_execution_score,
    grade,
    qualitative_score,
    quantitative_score,
    total_score,
)

GE, LE = Comparator.GE, Comparator.LE


def seed_items(**overrides: float | None) -> list[Scored]:
    """The 2019 catalogue's weights: budget 10, five outputs of 10, five effects of 6, satisfaction 10."""
    weights = {"budget": 10, "requests": 10, "connection": 10, "fcr": 10, "returns": 10, "asa": 10,
               "cost": 6, "reach": 6, "environment": 6, "sustain": 6, "ranking": 6, "satisfaction": 10}
    return [Scored(k, w, overrides.get(k, w)) for k, w in weights.items()]


def test_all_met_scores_full_marks():
    assert quantitative_score(4_100_000, 4_000_000, GE, 10) == 10  # capped at the weight
    assert quantitative_score(0.05, 0.07, LE, 10) == 10
    t = total_score(seed_items())
    assert (t.total, t.grade, t.dropped) == (100, "优", ())


def test_one_missed_positive_indicator():
    # 接通率 85.5% against 90%: 85.5 / 90 x 10 = 9.50
    s = quantitative_score(0.855, 0.90, GE, 10)
    assert s == 9.5
    assert total_score(seed_items(connection=s)).total == 99.5


def test_one_missed_reverse_indicator():
    # 平均接通时长 10 s against <= 8 s: 8 / 10 x 10 = 8.00; 有责退单率 7.5% vs 7%: 9.33
    assert quantitative_score(10, 8, LE, 10) == 8.0
    assert quantitative_score(0.075, 0.07, LE, 10) == 9.33
    assert quantitative_score(0, 8, LE, 10) == 10  # no wait at all
    assert total_score(seed_items(asa=8.0)).total == 98.0


def test_a_not_applicable_row_drops_out_and_the_total_is_rescaled():
    # 环境效益 not applicable (weight 6 out); 控制成本 rated 4.80 of 6:
    # raw 94 - 1.2 = 92.8 over 94 applicable points -> 92.8 / 94 x 100 = 98.72
    t = total_score(seed_items(environment=None, cost=4.8))
    assert t.raw == 92.8
    assert t.applicable_weight == 94
    assert t.total == 98.72
    assert t.dropped == ("environment",)


def test_budget_execution_8619_percent_scores_862_of_10():
    assert budget_execution_score(114_925_746, 133_340_000, 10) == 8.62
    assert budget_execution_score(0.8619, 1, 10) == 8.62
    assert budget_execution_score(1.2, 1, 10) == 10  # over-spending earns no more than the weight
    assert budget_execution_score(5, 0, 10) == 0


def test_rounding_is_half_up():
    assert budget_execution_score(0.8615, 1, 10) == 8.62  # round() would give 8.61 (binary 8.615)


def test_qualitative_bands():
    assert qualitative_score(6, "A") == 6.0
    assert qualitative_score(6, "B") == 4.8
    assert qualitative_score(6, "C") == 3.6
    assert qualitative_score(6, "B", 70) == 4.2
    with pytest.raises(ScoringError):
        qualitative_score(6, "A", 70)
    with pytest.raises(ScoringError):
        qualitative_score(6, "D")
    local = ScoringRules(qualitative_bands=(Band(name="A", low=80, high=100), Band(name="B", low=50, high=80),
                                            Band(name="C", low=0, high=50)), band_score="middle")
    assert qualitative_score(10, "B", rules=local) == 6.5


@pytest.mark.parametrize("total, expected", [(100, "优"), (90, "优"), (89.99, "良"), (80, "良"), (79.5, "中"),
                                             (60, "中"), (59.99, "差"), (0, "差")])
def test_grades(total, expected):
    assert grade(total) == expected


def test_uncapped_rule_is_a_setting():
    assert quantitative_score(0.99, 0.90, GE, 10, ScoringRules(cap_at_weight=False)) == 11.0
