"""The demo's raw exports agree with the plan they are drawn from, through the real pipeline."""

from __future__ import annotations

import datetime as dt

from hotline_kpi.demo import generate_year
from hotline_kpi.demo_sources import write_demo_sources
from hotline_kpi.ingest.pipeline import ingest_file
from hotline_kpi.store import sums
from hotline_kpi.store.db import read_session
from tests.common import SHANGHAI

SCALE = 0.01


def test_queue_log_tickets_and_callbacks_reproduce_the_plan_of_january(tmp_path, sqlite_engine, settings,
                                                                      catalogues, clock):
    files = write_demo_sources(tmp_path / "demo", 2019, 12345, scale=SCALE)
    assert {s for s, _ in files} == {"queue-log", "tickets", "callbacks"}
    again = write_demo_sources(tmp_path / "demo", 2019, 12345, scale=SCALE)
    assert [p.read_bytes() for _, p in again] == [p.read_bytes() for _, p in files]  # deterministic

    # January's figures are final once February's files are in (tickets returned in
    # February appear again, updated, in February's export).
    for source, path in files:
        if any(f"{m}" in path.name for m in ("201901", "201902", "2019-01", "2019-02")):
            outcome = ingest_file(sqlite_engine, path, settings=settings, catalogues=catalogues, clock=clock,
                                  source=source)
            assert outcome.status == "loaded"
    plan = {d.day: d for d in generate_year(2019, 12345) if d.day.month == 1}
    with read_session(sqlite_engine) as s:
        got = {r.day: r.values for r in sums.daily_counters(s, SHANGHAI, dt.date(2019, 1, 1), dt.date(2019, 1, 31))}
    s = lambda n: round(n * SCALE)  # noqa: E731
    for day, p in plan.items():
        g = got[day]
        answered = s(p.calls_answered)
        assert g["calls_answered"] == answered, day
        assert abs(g["calls_offered"] - s(p.calls_offered)) <= 1, day  # a call past midnight may count next day
        assert g["calls_answered_within_15s"] == min(answered, s(p.calls_answered_within_15s)), day
        assert abs(g["answer_wait_seconds_sum"] / answered - p.asa_seconds) < 0.6, day
        assert g["first_contact_eligible"] == answered and g["first_contact_resolved"] == s(p.first_contact_resolved)
        assert g["requests_accepted"] == answered + s(p.requests_accepted - p.calls_answered), day
        assert g["tickets_returned_operator_fault"] == s(p.tickets_returned_operator_fault), day
        if p.survey_responses is not None:
            assert (g["survey_responses"], g["survey_satisfied"]) == (s(p.survey_responses), s(p.survey_satisfied))
