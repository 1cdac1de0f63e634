"""Property-based tests (hypothesis) of the evaluation formulas and of ingest order (issue #9).

- Every rate of every window lies in [0, 1] for any non-negative counters with parts
  within wholes (answered <= offered, ...).
- Year to date is its months put together: a ratio indicator's YTD value is the sum of its
  monthly numerators over the sum of its monthly denominators (the average answer time
  weighted by answered calls, never a mean of monthly rates), a volume is the sum of its
  months; the quarter to date likewise from the months of the quarter. The expected values
  are computed here from the counters by the definitions of docs/kpi-definitions.md, not
  by the code under test.
- The order in which files are ingested does not change the result: daily reports of
  disjoint days and queue_logs (whose days may overlap a report day with the same call
  figures: the documented source priority picks one, and the figures agree) give the same
  scoreboard JSON in any order, through the real pipeline and a fresh SQLite store.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import replace
import tempfile
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from hotline_kpi.aggregate import aggregates_from_rows
from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import FixedClock
from hotline_kpi.domain import COUNTERS, DailyCounters, Status, Window
from hotline_kpi.evaluate import evaluate
from hotline_kpi.evaluation import load_scoreboard
from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.ingest.pipeline import ingest_file
from hotline_kpi.settings import Settings
from hotline_kpi.snapshot import scoreboard_to_json
from hotline_kpi.store import sums as store_sums
from hotline_kpi.store.db import make_engine, read_session
from tests.common import SHANGHAI, TARGETS, TZ
from tests.reliability.test_properties_parsers import Call, call_days, csv_bytes, expected_counters

CATALOGUES = CatalogueSet.from_dir(TARGETS)
CATALOGUE = CATALOGUES.for_year(SHANGHAI, 2019)
FORMULAS = FormulaSettings()
D = dt.date
Values = dict[str, float | None]


# --- counters ---------------------------------------------------------------------------------------------


@st.composite
def day_counters(draw: st.DrawFn) -> Values:
    """One day's counters: non-negative, parts within wholes (a short abandon is an unanswered
    call), any of them unknown. Sizes reach far beyond 2**53 over a year."""
    offered = draw(st.integers(0, 10**12))
    answered = draw(st.integers(0, offered))
    short = draw(st.integers(0, offered - answered))
    eligible, dispatched, responses = (draw(st.integers(0, 10**9)) for _ in range(3))
    values: Values = {
        "requests_accepted": draw(st.integers(0, 10**12)),
        "calls_offered": offered,
        "calls_answered": answered,
        "calls_abandoned_short": short,
        "calls_answered_within_15s": draw(st.integers(0, answered)),
        "answer_wait_seconds_sum": draw(st.integers(0, 10**6)) / 4 * min(answered, 10**6),
        "first_contact_eligible": eligible,
        "first_contact_resolved": draw(st.integers(0, eligible)),
        "tickets_dispatched": dispatched,
        "tickets_returned_operator_fault": draw(st.integers(0, dispatched)),
        "survey_responses": responses,
        "survey_satisfied": draw(st.integers(0, responses)),
    }
    unknown = draw(st.sets(st.sampled_from(COUNTERS)))
    return {k: (None if k in unknown else v) for k, v in values.items()}


year_of_days = st.dictionaries(st.dates(D(2019, 1, 1), D(2019, 12, 31)), day_counters(), max_size=40)


def _offered(v: Values) -> float:
    return v["calls_offered"] - (v["calls_abandoned_short"] or 0)  # type: ignore[operator]


#: Indicator -> (counters that must be known on a day, numerator, denominator or None for a
#: volume): docs/kpi-definitions.md with the default formula settings.
DEFINITIONS: dict[str, tuple[tuple[str, ...], Callable[[Values], float], Callable[[Values], float] | None]] = {
    "requests_accepted": (("requests_accepted",), lambda v: v["requests_accepted"], None),  # type: ignore[dict-item]
    "connection_rate": (("calls_answered", "calls_offered"), lambda v: v["calls_answered"], _offered),  # type: ignore[dict-item]
    "abandon_rate": (("calls_offered", "calls_answered"), lambda v: _offered(v) - v["calls_answered"], _offered),  # type: ignore[operator]
    "answered_within_15s_rate": (("calls_answered_within_15s", "calls_offered"),
                                 lambda v: v["calls_answered_within_15s"], _offered),  # type: ignore[dict-item]
    "average_answer_seconds": (("answer_wait_seconds_sum", "calls_answered"),
                               lambda v: v["answer_wait_seconds_sum"], lambda v: v["calls_answered"]),  # type: ignore[dict-item]
    "first_contact_resolution_rate": (("first_contact_resolved", "first_contact_eligible"),
                                      lambda v: v["first_contact_resolved"], lambda v: v["first_contact_eligible"]),  # type: ignore[dict-item]
    "operator_fault_return_rate": (("tickets_returned_operator_fault", "tickets_dispatched"),
                                   lambda v: v["tickets_returned_operator_fault"], lambda v: v["tickets_dispatched"]),  # type: ignore[dict-item]
    "satisfaction_rate": (("survey_satisfied", "survey_responses"), lambda v: v["survey_satisfied"],
                          lambda v: v["survey_responses"]),  # type: ignore[dict-item]
}


def test_the_definitions_here_cover_every_quantitative_indicator() -> None:
    assert {i.formula for i in CATALOGUE.quantitative} == set(DEFINITIONS)


def sums(days: dict[dt.date, Values], formula: str, start: dt.date, end: dt.date) -> tuple[float, float | None, int]:
    """(numerator, denominator, days with data) of ``formula`` over start..end, by definition."""
    required, num, den = DEFINITIONS[formula]
    n = d = 0.0
    count = 0
    for day, v in days.items():
        if start <= day <= end and all(v[c] is not None for c in required):
            n += num(v)
            d += den(v) if den is not None else 0
            count += 1
    return n, (d if den is not None else None), count


def month_end(year: int, month: int) -> dt.date:
    return (D(year, month + 1, 1) if month < 12 else D(year + 1, 1, 1)) - dt.timedelta(days=1)


def results(days: dict[dt.date, Values], as_of: dt.date) -> dict[tuple[str, Window], object]:
    rows = [DailyCounters(SHANGHAI, day, v) for day, v in days.items()]
    found = evaluate(CATALOGUE, FORMULAS, aggregates_from_rows(CATALOGUE, FORMULAS, rows, as_of), as_of)
    return {(CATALOGUE.indicator(r.indicator_id).formula, r.window): r for r in found}  # type: ignore[union-attr]


# --- formulas ---------------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(days=year_of_days, as_of=st.dates(D(2019, 1, 1), D(2019, 12, 31)))
def test_every_rate_of_every_window_stays_within_0_and_1(days: dict[dt.date, Values], as_of: dt.date) -> None:
    """For any valid counters, every ratio indicator (the average answer time is seconds,
    not a ratio) in every window is in [0, 1], or has no value with status no_data (no day
    with its counters, or a zero denominator); never NaN or infinity."""
    for (formula, window), r in results(days, as_of).items():
        if r.value is None:  # type: ignore[attr-defined]
            assert r.status is Status.NO_DATA  # type: ignore[attr-defined]
            assert r.days_with_data == 0 or r.denominator == 0  # type: ignore[attr-defined]
        elif formula == "average_answer_seconds":
            assert r.value >= 0  # type: ignore[attr-defined]
        elif formula != "requests_accepted":
            assert 0 <= r.value <= 1, (formula, window, r)  # type: ignore[attr-defined]


def _ratio(n: float, d: float | None, count: int) -> float | None:
    if count == 0:
        return None
    if d is None:
        return n
    return n / d if d else None


@settings(max_examples=100, deadline=None)
@given(days=year_of_days, as_of=st.dates(D(2019, 1, 1), D(2019, 12, 31)))
def test_year_and_quarter_to_date_are_their_months_put_together(days: dict[dt.date, Values], as_of: dt.date) -> None:
    """Every indicator's year-to-date value is the sum of its months' numerators over the sum
    of their denominators (volumes: the sum of the months), counted here by definition from
    the counters; the quarter to date likewise from the quarter's months; the month to date
    is the month itself. Numerators and denominators match too, so the average answer time
    is weighted by answered calls, not a mean of monthly averages."""
    found = results(days, as_of)
    q_first = 3 * ((as_of.month - 1) // 3) + 1
    for formula in DEFINITIONS:
        months = {m: sums(days, formula, D(2019, m, 1), min(month_end(2019, m), as_of)) for m in range(1, as_of.month + 1)}
        for window, first in ((Window.YEAR_TO_DATE, 1), (Window.QUARTER_TO_DATE, q_first),
                              (Window.MONTH_TO_DATE, as_of.month)):
            part = [months[m] for m in range(first, as_of.month + 1)]
            n = sum(p[0] for p in part)
            d = None if DEFINITIONS[formula][2] is None else sum(p[1] for p in part)  # type: ignore[misc]
            count = sum(p[2] for p in part)
            r = found[(formula, window)]
            assert r.days_with_data == count  # type: ignore[attr-defined]
            assert r.numerator == pytest.approx(n, rel=1e-12, abs=1e-9)  # type: ignore[attr-defined]
            if d is None:
                assert r.denominator is None  # type: ignore[attr-defined]
            else:
                assert r.denominator == pytest.approx(d, rel=1e-12, abs=1e-9)  # type: ignore[attr-defined]
            want = _ratio(n, d, count)
            if want is None:
                assert r.value is None  # type: ignore[attr-defined]
            else:
                assert r.value == pytest.approx(want, rel=1e-9, abs=1e-12), (formula, window)  # type: ignore[attr-defined]


# --- ingest order ---------------------------------------------------------------------------------------------

REPORT_HEADER = ["日期", "受理量", "呼入量", "接通量", "短时放弃量", "15秒接通量", "等待总时长", "回访量", "满意量"]
_REPORT_COUNTERS = ["requests_accepted", "calls_offered", "calls_answered", "calls_abandoned_short",
                    "calls_answered_within_15s", "answer_wait_seconds_sum", "survey_responses", "survey_satisfied"]


@st.composite
def report_figures(draw: st.DrawFn) -> dict[str, int]:
    offered = draw(st.integers(0, 50_000))
    answered = draw(st.integers(0, offered))
    responses = draw(st.integers(0, 500))
    return dict(requests_accepted=draw(st.integers(0, 80_000)), calls_offered=offered, calls_answered=answered,
                calls_abandoned_short=draw(st.integers(0, offered - answered)),
                calls_answered_within_15s=draw(st.integers(0, answered)),
                answer_wait_seconds_sum=draw(st.integers(0, 30 * answered)), survey_responses=responses,
                survey_satisfied=draw(st.integers(0, responses)))


def _figure(v: float | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def report_file(days: dict[dt.date, dict[str, float]]) -> bytes:
    rows: list[list[object]] = [REPORT_HEADER]
    for day, v in sorted(days.items()):
        rows.append([day.isoformat(), *(_figure(v.get(c)) for c in _REPORT_COUNTERS)])
    return csv_bytes(rows, "utf-8-sig")


def queue_log_file(calls: list[Call]) -> bytes:
    lines = sorted((ln for c in calls for ln in c.lines()), key=lambda ln: ln[0])
    return "".join("|".join(map(str, ln)) + "\n" for ln in lines).encode()


@st.composite
def file_sets(draw: st.DrawFn) -> list[tuple[str, str, bytes]]:
    """(name, source, bytes) of 2-5 files: daily reports over disjoint days, and queue_logs
    of one day each (any days, the same day again included); a report day may be a queue_log
    day, then with the queue_log's call figures (the sources agree)."""
    logs = [(day, [replace(c, cid=f"L{i}-{c.cid}") for c in calls])  # call ids unique per log
            for i, (day, calls) in enumerate(draw(st.lists(call_days(), max_size=2)))]
    log_days: dict[dt.date, list[Call]] = {}
    for day, calls in logs:
        log_days.setdefault(day, []).extend(calls)
    pool = sorted(draw(st.sets(st.dates(D(2019, 1, 1), D(2019, 12, 31)), max_size=10)) | set(log_days))
    owner = {day: draw(st.integers(0, 2)) for day in pool}  # which report covers the day (2: none)
    for day, calls in log_days.items():
        if len(calls) != len(next(c for d, c in logs if d == day)):
            # Two logs of one day: a report of the whole day disagrees with either log alone,
            # and source_tolerance rejects whichever comes second: order matters, by design.
            owner[day] = 2
    reports: list[dict[dt.date, dict[str, float]]] = [{}, {}]
    for day, k in owner.items():
        if k == 2:
            continue
        figures: dict[str, float] = dict(draw(report_figures()))
        if day in log_days:
            figures.update(expected_counters(log_days[day]))  # the same calls counted by the office
        reports[k][day] = figures
    files = [(f"日报-{k}.csv", "daily-report", report_file(r)) for k, r in enumerate(reports) if r]
    files += [(f"queue_log.{i}", "queue-log", queue_log_file(calls)) for i, (_, calls) in enumerate(logs)]
    if not files:
        files.append(("日报-9.csv", "daily-report", report_file({D(2019, 6, 1): dict(draw(report_figures()))})))
    return files


def evaluate_in_order(files: list[tuple[str, str, bytes]], order: list[int], folder: Path,
                      template: Path) -> tuple[dict, list]:
    """Ingest ``files`` in ``order`` into a fresh store: (scoreboard JSON as of 31 December,
    effective daily counters)."""
    work = Path(tempfile.mkdtemp(dir=folder))
    shutil.copy(template, work / "store.db")
    engine = make_engine(f"sqlite:///{work / 'store.db'}")
    settings = Settings(database_url=f"sqlite:///{work / 'store.db'}", var_dir=work / "var", targets_dir=TARGETS,
                        _env_file=None)  # type: ignore[call-arg]
    clock = FixedClock(dt.datetime(2020, 3, 1, 9, 0, tzinfo=TZ))
    try:
        for i in order:
            name, source, data = files[i]
            path = work / name
            path.write_bytes(data)
            outcome = ingest_file(engine, path, settings=settings, catalogues=CATALOGUES, clock=clock, source=source)
            assert outcome.status == "loaded"
        with read_session(engine) as s:
            board = scoreboard_to_json(load_scoreboard(s, CATALOGUES, FORMULAS, SHANGHAI, D(2019, 12, 31)))
            daily = [(r.day, dict(r.values)) for r in store_sums.daily_counters(s, SHANGHAI, D(2019, 1, 1), D(2019, 12, 31))]
        return board, daily
    finally:
        engine.dispose()
        shutil.rmtree(work, ignore_errors=True)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=file_sets(), data=st.data())
def test_the_order_of_ingest_does_not_change_the_evaluation(files: list[tuple[str, str, bytes]],
                                                            data: st.DataObject, sqlite_template: Path,
                                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    """Daily reports of disjoint days and queue_logs loaded in any order into a fresh SQLite
    store give the same effective counters and the same scoreboard JSON (every indicator,
    every window, completeness); every rate in it lies in [0, 1]."""
    folder = tmp_path_factory.mktemp("order")
    order = data.draw(st.permutations(range(len(files))), label="order")
    first = evaluate_in_order(files, list(range(len(files))), folder, sqlite_template)
    again = evaluate_in_order(files, list(order), folder, sqlite_template)
    assert again == first
    board = first[0]
    for r in board["results"]:
        if r["value"] is not None and r["unit"] != "seconds" and r["denominator"] is not None:
            assert 0 <= r["value"] <= 1, r
