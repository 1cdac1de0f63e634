"""The state machine, pure: previous state + observation + time -> state and transition."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline_kpi.alerts.state import AlertState, AlertStatus, Change, drop, step
from tests.alerts.conftest import local

T0 = local(2019, 6, 4, 8, 30)
DAY = dt.date(2019, 6, 3)


def run(observations: list[bool | None], for_count: int) -> tuple[AlertState, list[Change]]:
    state, changes = AlertState(), []
    for i, holds in enumerate(observations):
        state, tr = step(state, holds, DAY + dt.timedelta(days=i), for_count, T0 + dt.timedelta(days=i))
        if tr is not None:
            changes.append(tr.change)
    return state, changes


def test_fires_on_the_for_th_consecutive_day_and_once():
    state, changes = run([True, True, True, True], for_count=3)
    assert changes == [Change.PENDING, Change.FIRING]
    assert state.status is AlertStatus.FIRING and state.count == 4
    assert state.fired_at == T0 + dt.timedelta(days=2)


def test_for_one_fires_at_once_without_a_pending_step():
    assert run([True], for_count=1)[1] == [Change.FIRING]


def test_flapping_inside_the_for_window_never_fires():
    state, changes = run([True, False] * 5 + [True, True, False], for_count=3)
    assert Change.FIRING not in changes
    assert changes.count(Change.PENDING) == 6 and changes.count(Change.CLEARED) == 6
    assert state.status is AlertStatus.INACTIVE and state.count == 0


def test_resolves_once_when_the_condition_stops_holding():
    state, changes = run([True, True, False, False], for_count=1)
    assert changes == [Change.FIRING, Change.RESOLVED]
    assert state.status is AlertStatus.INACTIVE and state.fired_at is None


def test_an_unknown_observation_changes_nothing():
    firing, _ = run([True], for_count=1)
    assert step(firing, None, DAY + dt.timedelta(days=5), 1, T0) == (firing, None)
    pending, _ = run([True], for_count=3)
    after, tr = step(pending, None, DAY + dt.timedelta(days=1), 3, T0)
    assert after == pending and tr is None


def test_the_same_as_of_date_again_counts_once():
    state, _ = run([True], for_count=2)
    again, tr = step(state, True, DAY, 2, T0 + dt.timedelta(hours=2))
    assert tr is None and again.count == 1 and again.status is AlertStatus.PENDING
    older, tr = step(state, True, DAY - dt.timedelta(days=3), 2, T0)  # a re-run for an older date
    assert tr is None and older.count == 1


def test_a_removed_rule_drops_its_alert_silently():
    firing, _ = run([True], for_count=1)
    state, tr = drop(firing, T0)
    assert state.status is AlertStatus.INACTIVE and tr is not None and tr.change is Change.DROPPED
    assert drop(AlertState(), T0) == (AlertState(), None)


def test_for_below_one_is_refused():
    with pytest.raises(ValueError):
        step(AlertState(), True, DAY, 0, T0)


@given(st.lists(st.booleans(), max_size=40), st.integers(min_value=1, max_value=5))
def test_firing_iff_the_last_for_observations_held_since_it_last_was_inactive(obs: list[bool], for_count: int):
    state, changes = run(list(obs), for_count)
    run_length = 0
    for holds in obs:
        run_length = run_length + 1 if holds else 0
    # firing exactly when the current run of holding days reached the for count
    assert (state.status is AlertStatus.FIRING) == (run_length >= for_count)
    # notices alternate: never two firings without a resolution between them
    notices = [c for c in changes if c in (Change.FIRING, Change.RESOLVED)]
    assert all(a != b for a, b in zip(notices, notices[1:]))
