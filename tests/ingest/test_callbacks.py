"""Satisfaction callback (回访) exports: responses and satisfied answers by local date."""

from __future__ import annotations

import datetime as dt

import pytest

from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.ingest.base import IngestRejected
from tests.ingest import qlog
from tests.ingest.test_tickets import write_csv

HEADER = ["回访编号", "工单编号", "回访时间", "回访方式", "回访结果"]
D1, D2 = dt.date(2019, 6, 3), dt.date(2019, 6, 4)
RESULTS = ["非常满意", "满意", "基本满意", "不满意", "非常不满意", "未接通", "拒绝评价", "很满意"]


def load(engine, path, settings, catalogues, clock, source=None):
    return qlog.load(engine, path, settings, catalogues, clock, source=source)


def callback_counters(engine):
    from sqlalchemy import select

    from hotline_kpi.store.db import read_session
    from hotline_kpi.store.models import SourceDayRow

    with read_session(engine) as s:
        rows = s.scalars(select(SourceDayRow).where(SourceDayRow.source == "callbacks",
                                                    SourceDayRow.is_current.is_(True)))
        return {r.day: (r.survey_responses, r.survey_satisfied) for r in rows}


def rows(results, day="2019-06-03", start=0):
    return [[f"HF{start + i}", f"T{start + i}", f"{day} {9 + i % 8:02d}:00:00", "电话", r] for i, r in enumerate(results)]


def test_unreached_and_refused_are_not_responses_and_basic_satisfied_counts_by_default(tmp_path, engine, settings,
                                                                                        catalogues, clock):
    outcome = load(engine, write_csv(tmp_path / "回访导出.csv", rows(RESULTS), HEADER), settings, catalogues, clock,
                   source=None)
    assert outcome.source == "callbacks"
    assert callback_counters(engine) == {D1: (6, 4)}


#: The English wording of the product is read here (the Chinese: tests/test_messages.py).
pytestmark = pytest.mark.usefixtures("english")


def test_basic_satisfied_is_a_setting(tmp_path, sqlite_engine, settings, catalogues, clock):
    settings = settings.model_copy(update={"formulas": FormulaSettings(basic_satisfied_is_satisfied=False)})
    load(sqlite_engine, write_csv(tmp_path / "cb.csv", rows(RESULTS), HEADER), settings, catalogues, clock,
         source="callbacks")
    assert callback_counters(sqlite_engine) == {D1: (6, 3)}


def test_a_callback_exported_again_replaces_the_stored_one(tmp_path, sqlite_engine, settings, catalogues, clock):
    load(sqlite_engine, write_csv(tmp_path / "a.csv", rows(["满意", "未接通"]), HEADER), settings, catalogues, clock,
         source="callbacks")
    corrected = rows(["满意", "不满意"]) + rows(["满意"], day="2019-06-04", start=10)
    load(sqlite_engine, write_csv(tmp_path / "b.csv", corrected, HEADER), settings, catalogues, clock,
         source="callbacks")
    assert callback_counters(sqlite_engine) == {D1: (2, 1), D2: (1, 1)}


def test_without_a_callback_number_ticket_and_time_identify_a_callback(tmp_path, sqlite_engine, settings, catalogues,
                                                                       clock):
    header = ["工单编号", "回访时间", "回访结果"]
    first = [["T1", "2019-06-03 09:00:00", "未接通"], ["T1", "2019-06-03 15:00:00", "满意"]]
    load(sqlite_engine, write_csv(tmp_path / "回访1.csv", first, header), settings, catalogues, clock)
    load(sqlite_engine, write_csv(tmp_path / "回访2.csv", first[1:], header), settings, catalogues, clock)
    assert callback_counters(sqlite_engine) == {D1: (1, 1)}


def test_an_unknown_result_is_reported_with_its_place(tmp_path, sqlite_engine, settings, catalogues, clock):
    bad = rows(["满意", "还行吧"])
    with pytest.raises(IngestRejected) as err:
        load(sqlite_engine, write_csv(tmp_path / "cb.csv", bad, HEADER), settings, catalogues, clock,
             source="callbacks")
    assert [(p.row, p.column, p.value) for p in err.value.problems] == [(3, "回访结果", "还行吧")]
    assert callback_counters(sqlite_engine) == {}
