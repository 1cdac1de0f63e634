"""The grafana_* views (migration 0005) compute what ``evaluate`` computes, and the
hotline_kpi_grafana role reads them and nothing else."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Iterator

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.domain import Window
from hotline_kpi.evaluation import load_scoreboard
from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.service.snapshots import store_snapshot
from hotline_kpi.store import migrate
from hotline_kpi.store.db import make_engine, read_session, write_session
from hotline_kpi.store.models import DailyCountersRow, HotlineRow
from tests.common import SHANGHAI as HOTLINE, TARGETS
from tests.dashboards.conftest import DemoDatabase, GrafanaLogin

pytestmark = pytest.mark.postgres

VIEWS = ("grafana_hotline", "grafana_formula_settings", "grafana_indicator_target", "grafana_indicator_terms",
         "grafana_indicator_daily", "grafana_indicator_trailing_30d", "grafana_volume_cumulative")
#: Days of the demo year worth checking: 1 January (trailing windows reach into 2018),
#: the Spring Festival lull, the typhoon surge, the two days without callbacks, 31 December.
DEMO_DAYS = [dt.date(2019, 1, 1), dt.date(2019, 1, 5), dt.date(2019, 2, 5), dt.date(2019, 8, 10),
             dt.date(2019, 9, 29), dt.date(2019, 9, 30), dt.date(2019, 10, 2), dt.date(2019, 12, 31)]


@pytest.fixture(scope="module")
def catalogues() -> CatalogueSet:
    return CatalogueSet.from_dir(TARGETS)


@pytest.fixture(scope="module")
def demo_engine(demo_pg: DemoDatabase) -> Iterator[Engine]:
    engine = make_engine(demo_pg.url)
    try:
        yield engine
    finally:
        engine.dispose()


def _rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(sql), params)]


def _view(engine: Engine, view: str, day: dt.date) -> dict[str, dict[str, Any]]:
    return {r["indicator"]: r for r in _rows(engine, f"SELECT * FROM {view} WHERE hotline = :h AND day = :d",
                                               h=HOTLINE, d=day)}


def _same(sql_value: float | None, py_value: float | None, indicator: str) -> bool:
    if sql_value is None or py_value is None:
        return sql_value is None and py_value is None
    if indicator == "average_answer_seconds":
        # Fractional wait seconds: Python sums them with fsum, SQL in double precision.
        return math.isclose(sql_value, py_value, rel_tol=1e-12)
    return sql_value == py_value  # exact sums of whole numbers, the same IEEE division


def _check_against_evaluate(engine: Engine, catalogues: CatalogueSet, settings: FormulaSettings,
                            day: dt.date) -> None:
    with read_session(engine) as s:
        sb = load_scoreboard(s, catalogues, settings, HOTLINE, day)
    daily, trailing = _view(engine, "grafana_indicator_daily", day), _view(engine, "grafana_indicator_trailing_30d", day)
    for r in sb.results:
        view = {Window.DAY: daily, Window.TRAILING_30D: trailing}.get(r.window)
        if view is None:
            continue
        where = f"{day} {r.indicator_id} {r.window.value}"
        if r.window is Window.DAY and not daily:
            assert r.value is None and r.days_with_data == 0, where  # a gap: no row
            continue
        row = view[r.indicator_id]
        assert _same(row["value"], r.value, r.indicator_id), (where, row["value"], r.value)
        assert row["target"] == r.target, (where, row["target"], r.target)
        assert row["days_with_data"] == r.days_with_data, where
        if r.value is not None and r.denominator is not None:
            assert _same(row["denominator"], r.denominator, ""), where


@pytest.mark.system
@pytest.mark.parametrize("day", DEMO_DAYS, ids=str)
def test_daily_and_trailing_30d_views_equal_evaluate(demo_engine: Engine, catalogues: CatalogueSet,
                                                      day: dt.date) -> None:
    _check_against_evaluate(demo_engine, catalogues, FormulaSettings(), day)


@pytest.mark.system
def test_the_cumulative_volume_is_the_year_to_date_value_against_its_pace(demo_engine: Engine,
                                                                          catalogues: CatalogueSet) -> None:
    rows = {r["day"]: r for r in _rows(demo_engine, "SELECT * FROM grafana_volume_cumulative WHERE hotline = :h",
                                       h=HOTLINE)}
    assert len(rows) == 365
    for day in DEMO_DAYS:
        with read_session(demo_engine) as s:
            sb = load_scoreboard(s, catalogues, FormulaSettings(), HOTLINE, day)
        ytd = next(r for r in sb.results if r.indicator_id == "requests_accepted" and r.window is Window.YEAR_TO_DATE)
        assert rows[day]["cumulative"] == ytd.value
        assert rows[day]["pace"] == ytd.pace
        assert rows[day]["annual_target"] == ytd.annual_target == 4_000_000


# --- formula settings, gaps and the rest of the year, on hand-made rows ------------------

def _insert(engine: Engine) -> None:
    """Ten March days: short abandons on some, a gap (5 March), a day without calls
    (7 March), a day without callbacks (8 March)."""
    base = dict(requests_accepted=1000, calls_offered=900, calls_answered=800, calls_abandoned_short=None,
                answer_wait_seconds_sum=5000.5, calls_answered_within_15s=700, first_contact_resolved=400,
                first_contact_eligible=700, tickets_dispatched=300, tickets_returned_operator_fault=20,
                survey_responses=100, survey_satisfied=93)
    with write_session(engine) as s:
        s.add(HotlineRow(id=HOTLINE, name="上海市12345市民服务热线", name_en="Shanghai 12345", timezone="Asia/Shanghai"))
        s.flush()
        for i in range(1, 11):
            day = dt.date(2019, 3, i)
            if i == 5:
                continue
            v = dict(base, calls_offered=900 + 7 * i, calls_answered=790 + 3 * i, requests_accepted=1000 + i)
            if i % 3 == 0:
                v["calls_abandoned_short"] = 11 * i
            if i == 7:
                v.update(calls_offered=0, calls_answered=0, answer_wait_seconds_sum=0.0, calls_answered_within_15s=0,
                         calls_abandoned_short=0)
            if i == 8:
                v.update(survey_responses=None, survey_satisfied=None)
            s.add(DailyCountersRow(hotline_id=HOTLINE, day=day, provenance="{}", **v))


SETTINGS = [FormulaSettings(),
            FormulaSettings(exclude_short_abandons=False, within_15s_denominator="answered")]


@pytest.mark.parametrize("settings", SETTINGS, ids=["defaults", "no-short-abandons,15s-of-answered"])
def test_the_views_follow_the_settings_of_the_latest_evaluation(pg_url: str, catalogues: CatalogueSet,
                                                                settings: FormulaSettings) -> None:
    engine = make_engine(pg_url)
    try:
        _insert(engine)
        with write_session(engine) as s:
            sb = load_scoreboard(s, catalogues, settings, HOTLINE, dt.date(2019, 3, 10))
            store_snapshot(s, sb, dt.datetime(2019, 3, 11, 1, tzinfo=dt.timezone.utc), "test")
        for i in range(1, 11):
            _check_against_evaluate(engine, catalogues, settings, dt.date(2019, 3, i))
        gap = _view(engine, "grafana_indicator_daily", dt.date(2019, 3, 5))
        assert gap == {}, "a day without a row is a gap: no row, never a zero"
        no_calls = _view(engine, "grafana_indicator_daily", dt.date(2019, 3, 7))
        assert no_calls["connection_rate"]["value"] is None and no_calls["connection_rate"]["days_with_data"] == 1
        cumulative = {r["day"]: r for r in _rows(engine, "SELECT * FROM grafana_volume_cumulative")}
        assert len(cumulative) == 365, "the pace line runs to 31 December"
        assert cumulative[dt.date(2019, 2, 28)]["cumulative"] is None
        assert cumulative[dt.date(2019, 3, 10)]["cumulative"] == sum(1000 + i for i in range(1, 11) if i != 5)
        assert cumulative[dt.date(2019, 3, 11)]["cumulative"] is None, "no value after the last day with data"
        assert cumulative[dt.date(2019, 12, 31)]["pace"] == 4_000_000
    finally:
        engine.dispose()


def test_without_a_stored_evaluation_the_views_have_values_but_no_targets(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        _insert(engine)
        first = _view(engine, "grafana_indicator_daily", dt.date(2019, 3, 1))
        assert first["connection_rate"]["value"] == 793 / 907
        assert first["connection_rate"]["target"] is None
    finally:
        engine.dispose()


@pytest.mark.system
# --- the role -------------------------------------------------------------------------

def test_the_grafana_role_reads_the_views_and_nothing_else(grafana_login: GrafanaLogin) -> None:
    engine = make_engine(grafana_login.url)
    try:
        for view in VIEWS:
            with engine.connect() as conn:
                assert conn.execute(text(f"SELECT count(*) FROM {view}")).scalar_one() > 0, view
        for forbidden in ("SELECT * FROM daily_counters", "SELECT * FROM evaluation_snapshot",
                          "SELECT * FROM ingest", "DELETE FROM daily_counters",
                          "CREATE TABLE grafana_scratch (x int)"):
            with engine.connect() as conn, pytest.raises(DBAPIError) as exc:
                conn.execute(text(forbidden))
            assert "permission denied" in str(exc.value) or "read-only transaction" in str(exc.value), forbidden
    finally:
        engine.dispose()


def test_the_migration_downgrades_and_upgrades_again(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        before = ScriptDirectory(str(migrate.MIGRATIONS)).get_revision("0005").down_revision
        command.downgrade(migrate.alembic_config(engine), str(before))
        with engine.connect() as conn:
            left = conn.execute(text("SELECT count(*) FROM pg_views WHERE viewname LIKE 'grafana%'")).scalar_one()
        assert left == 0
        migrate.upgrade(engine)
        with engine.connect() as conn:
            names = set(conn.execute(text("SELECT viewname FROM pg_views WHERE viewname LIKE 'grafana%'")).scalars())
            granted = set(conn.execute(text(
                "SELECT table_name FROM information_schema.role_table_grants "
                "WHERE grantee = 'hotline_kpi_grafana' AND privilege_type = 'SELECT'")).scalars())
        assert names == set(VIEWS) == granted
    finally:
        engine.dispose()


def test_sqlite_gets_no_views(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        views = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'view'")).scalars().all()
    assert views == []
