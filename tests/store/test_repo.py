"""The store on both backends: revisions, idempotency, source priority, SQL sums."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from sqlalchemy import func, select

from hotline_kpi.domain import COUNTERS, DayRecord, ParsedFile, WINDOWS
from hotline_kpi.aggregate import aggregates_from_rows
from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.settings import DEFAULT_SOURCE_PRIORITY
from hotline_kpi.store import migrate, provenance, sums
from hotline_kpi.store.db import make_engine, read_session, write_session
from hotline_kpi.store.models import DailyCountersRow, IngestRow, SourceDayRow
from tests.common import SHANGHAI

D = dt.date


def _meta(name: str, sha: str) -> provenance.FileMeta:
    return provenance.FileMeta(name=name, sha256=sha, size_bytes=1, original_path=f"/originals/{sha}")


def _store(engine, catalogues, parsed: ParsedFile, sha: str, name: str = "f.csv") -> provenance.StoreResult:
    with write_session(engine) as s:
        provenance.ensure_hotline(s, catalogues.hotline(SHANGHAI))
        return provenance.store_parsed(
            s, hotline_id=SHANGHAI, parsed=parsed, file=_meta(name, sha),
            at=dt.datetime(2020, 1, 2, tzinfo=dt.timezone.utc), settings_json="{}",
            source_priority=DEFAULT_SOURCE_PRIORITY,
        )


def _day(day: D, **counters: float) -> DayRecord:
    return DayRecord(day=day, counters=counters)


def _report(*days: DayRecord, source: str = "daily-report") -> ParsedFile:
    return ParsedFile(source=source, days=tuple(days))


def _effective(engine, day: D) -> dict[str, float | None]:
    with read_session(engine) as s:
        rows = sums.daily_counters(s, SHANGHAI, day, day)
    assert len(rows) == 1
    return dict(rows[0].values)


def test_a_stored_file_becomes_the_effective_counters(engine, catalogues):
    result = _store(engine, catalogues, _report(_day(D(2019, 1, 1), calls_offered=100, calls_answered=90)), "a" * 64)
    assert (result.status, result.days_new, result.days_revised) == ("loaded", 1, 0)
    eff = _effective(engine, D(2019, 1, 1))
    assert eff["calls_offered"] == 100 and eff["calls_answered"] == 90
    assert eff["survey_responses"] is None  # unknown stays unknown, never 0


def test_the_same_file_again_changes_nothing(engine, catalogues):
    parsed = _report(_day(D(2019, 1, 1), calls_offered=100, calls_answered=90))
    first = _store(engine, catalogues, parsed, "a" * 64)
    again = _store(engine, catalogues, parsed, "a" * 64)
    assert again.status == "already_loaded" and again.ingest_id == first.ingest_id
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(IngestRow)) == 1
        assert s.scalar(select(func.count()).select_from(SourceDayRow)) == 1


def test_a_corrected_file_revises_its_days_and_keeps_the_earlier_revision(engine, catalogues):
    _store(engine, catalogues, _report(
        _day(D(2019, 1, 1), calls_offered=100, calls_answered=90),
        _day(D(2019, 1, 2), calls_offered=200, calls_answered=150),
    ), "a" * 64, "jan-v1.csv")
    result = _store(engine, catalogues, _report(
        _day(D(2019, 1, 1), calls_offered=100, calls_answered=90),   # unchanged
        _day(D(2019, 1, 2), calls_offered=200, calls_answered=180),  # corrected
    ), "b" * 64, "jan-v2.csv")
    assert (result.days_new, result.days_revised, result.days_unchanged) == (0, 1, 1)
    assert _effective(engine, D(2019, 1, 2))["calls_answered"] == 180
    with read_session(engine) as s:
        revs = provenance.revisions(s, SHANGHAI, D(2019, 1, 2), "daily-report")
        assert [(r.revision, r.is_current, r.file_name, r.values["calls_answered"]) for r in revs] == [
            (1, False, "jan-v1.csv", 150), (2, True, "jan-v2.csv", 180)]
        # The unchanged day keeps the provenance of the file that first supplied it.
        assert provenance.provenance(s, SHANGHAI, D(2019, 1, 1))["calls_answered"][1] == "jan-v1.csv"
        assert provenance.provenance(s, SHANGHAI, D(2019, 1, 2))["calls_answered"] == ("daily-report", "jan-v2.csv", "b" * 64)


def test_several_sources_fill_one_day_and_raw_systems_win(engine, catalogues):
    _store(engine, catalogues, _report(
        _day(D(2019, 3, 1), calls_offered=100, calls_answered=92, survey_responses=10, survey_satisfied=9)), "a" * 64)
    # Within the default source_tolerance (5%): loaded, and the priority decides.
    _store(engine, catalogues, _report(_day(D(2019, 3, 1), calls_offered=98, calls_answered=90),
                                       source="queue-log"), "b" * 64)
    eff = _effective(engine, D(2019, 3, 1))
    assert (eff["calls_offered"], eff["calls_answered"]) == (98, 90)   # the call platform's figures
    assert (eff["survey_responses"], eff["survey_satisfied"]) == (10, 9)  # only the report has them
    with read_session(engine) as s:
        prov = provenance.provenance(s, SHANGHAI, D(2019, 3, 1))
    assert prov["calls_offered"][0] == "queue-log" and prov["survey_satisfied"][0] == "daily-report"


def test_requests_by_channel_are_kept_per_revision(engine, catalogues):
    day = DayRecord(D(2019, 5, 1), {"requests_accepted": 30}, channels={"电话": 20, "网站": 10})
    _store(engine, catalogues, _report(day, source="tickets"), "a" * 64)
    with read_session(engine) as s:
        assert sums.channel_totals(s, SHANGHAI, D(2019, 5, 1), D(2019, 5, 31)) == {"电话": 20, "网站": 10}


def test_a_failure_inside_the_transaction_stores_nothing(engine, catalogues, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(provenance, "recompute_effective", boom)
    with pytest.raises(RuntimeError):
        _store(engine, catalogues, _report(_day(D(2019, 1, 1), calls_offered=1)), "a" * 64)
    with read_session(engine) as s:
        for model in (IngestRow, SourceDayRow, DailyCountersRow):
            assert s.scalar(select(func.count()).select_from(model)) == 0


# --- SQL sums agree with the pure Python ones ------------------------------------------

_counts = st.one_of(st.none(), st.integers(min_value=0, max_value=5000))


@st.composite
def _days(draw):
    start = D(2019, 1, 1)
    out = []
    for offset in sorted(draw(st.sets(st.integers(0, 364), max_size=40))):
        offered = draw(_counts)
        vals: dict[str, float | None] = {c: draw(_counts) for c in COUNTERS}
        vals["calls_offered"] = offered
        if offered is not None and vals["calls_answered"] is not None:
            vals["calls_answered"] = min(vals["calls_answered"], offered)
        vals["answer_wait_seconds_sum"] = draw(st.one_of(st.none(), st.floats(0, 1e5, allow_nan=False)))
        out.append(DayRecord(start + dt.timedelta(days=offset), {k: v for k, v in vals.items() if v is not None}))
    return out


@pytest.mark.parametrize("as_of", [D(2019, 3, 1), D(2019, 12, 31), D(2019, 7, 15)])
def test_sql_window_sums_equal_the_python_sums(engine, catalogues, as_of):
    cat = catalogues.for_year(SHANGHAI, 2019)
    fs = FormulaSettings()
    formulas = {i.id: i.formula_for(fs) for i in cat.quantitative}

    @hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(days=_days())
    def check(days):
        with write_session(engine) as s:
            s.query(DailyCountersRow).delete()
            for rec in days:
                s.add(DailyCountersRow(hotline_id=SHANGHAI, day=rec.day, provenance="{}",
                                       **{c: rec.counters.get(c) for c in COUNTERS}))
        with read_session(engine) as s:
            sql = sums.window_aggregates(s, [SHANGHAI], as_of, formulas)[SHANGHAI]
            rows = sums.daily_counters(s, SHANGHAI, D(2018, 1, 1), as_of)
        py = aggregates_from_rows(cat, fs, rows, as_of)
        for key in [(i, w) for i in formulas for w in WINDOWS]:
            a = py[key]
            b = sql.get(key)
            if b is None:  # no row of the hotline in any window: the store returns nothing
                assert a.days_with_data == 0
                continue
            assert (a.days_with_data, a.days_in_window) == (b.days_with_data, b.days_in_window), key
            assert a.numerator == pytest.approx(b.numerator, rel=1e-12, abs=1e-9), key
            if a.denominator is None:
                assert b.denominator is None
            else:
                assert a.denominator == pytest.approx(b.denominator, rel=1e-12, abs=1e-9), key

    with write_session(engine) as s:
        provenance.ensure_hotline(s, catalogues.hotline(SHANGHAI))
    check()


def test_sqlite_writers_wait_for_each_other_instead_of_failing(sqlite_url, catalogues):
    """Two threads each read-then-write in a loop: with BEGIN IMMEDIATE none sees 'database is locked'."""
    engine = make_engine(sqlite_url, busy_timeout_seconds=30)
    with write_session(engine) as s:
        provenance.ensure_hotline(s, catalogues.hotline(SHANGHAI))
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for i in range(25):
                day = D(2019, 1, 1) + dt.timedelta(days=offset * 100 + i)
                with write_session(engine) as s:
                    s.scalar(select(func.count()).select_from(DailyCountersRow))  # read first ...
                    s.add(DailyCountersRow(hotline_id=SHANGHAI, day=day, provenance="{}", calls_offered=i))  # ... then write
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(DailyCountersRow)) == 50
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_engine):
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_database_without_schema_is_reported_with_what_to_run(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(migrate.SchemaNotCurrent, match="hotline-kpi db upgrade"):
        migrate.require_current(engine)
    migrate.upgrade(engine)
    migrate.require_current(engine)
