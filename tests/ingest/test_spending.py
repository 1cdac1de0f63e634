"""The finance ledger's spending export: budget lines of the catalogue, months or days,
and a corrected export replacing the months it covers."""

from __future__ import annotations

import datetime as dt

import pytest
from openpyxl import Workbook

from hotline_kpi.ingest.base import IngestRejected
from hotline_kpi.store import sums
from hotline_kpi.store.db import read_session
from tests.ingest import qlog
from tests.ingest.test_tickets import write_csv

SH = "shanghai-12345"


def spent(engine):
    with read_session(engine) as s:
        return sums.monthly_spending(s, SH, 2019)


def test_monthly_rows_by_id_and_name_are_stored_per_line(tmp_path, engine, settings, catalogues, clock):
    rows = [["2019-01", "agent_staffing", "7990000.50"], ["2019年1月", "应交税费", "745000"],
            ["2019/02", "12345热线基本运行费（房租、物业及水、电、电话费、上网费等）", "1585833.33"],
            ["", "合计", "10320833.83"]]
    out = qlog.load(engine, write_csv(tmp_path / "spending.csv", rows, ["月份", "预算项目", "金额(元)"]), settings,
                    catalogues, clock, source=None)
    assert out.source == "spending"
    assert spent(engine) == {(1, "agent_staffing"): 7990000.5, (1, "taxes"): 745000.0,
                             (2, "basic_operation"): 1585833.33}


def test_a_corrected_export_replaces_the_months_it_covers(tmp_path, engine, settings, catalogues, clock):
    head = ["日期", "预算科目", "支出金额"]
    qlog.load(engine, write_csv(tmp_path / "a.csv", [["2019-03-05", "platform", "100"], ["2019-04-01", "taxes", "50"]],
                                head), settings, catalogues, clock, source="spending")
    qlog.load(engine, write_csv(tmp_path / "b.csv", [["2019-03-20", "platform", "80"], ["2019-03-21", "platform", "-5"]],
                                head), settings, catalogues, clock, source="spending")
    assert spent(engine) == {(3, "platform"): 75.0, (4, "taxes"): 50.0}


#: The English wording of the product is read here (the Chinese: tests/test_messages.py).
pytestmark = pytest.mark.usefixtures("english")


def test_xlsx_with_dates(tmp_path, sqlite_engine, settings, catalogues, clock):
    wb = Workbook()
    ws = wb.active
    ws.append(["2019年经费支出明细"])
    ws.append(["日期", "预算项目", "金额（元）"])
    ws.append([dt.datetime(2019, 5, 6), "税费", 1234.56])
    path = tmp_path / "经费支出.xlsx"
    wb.save(path)
    qlog.load(sqlite_engine, path, settings, catalogues, clock, source="spending")
    assert spent(sqlite_engine) == {(5, "taxes"): 1234.56}


def test_bad_rows_are_reported_with_their_place_and_nothing_is_stored(tmp_path, sqlite_engine, settings, catalogues,
                                                                      clock):
    rows = [["2019-13", "taxes", "1"], ["2019-02", "catering", "1"], ["2019-02", "taxes", "12%"],
            ["2021-02", "taxes", "1"]]
    with pytest.raises(IngestRejected) as err:
        qlog.load(sqlite_engine, write_csv(tmp_path / "spending.csv", rows, ["月份", "预算项目", "金额"]), settings,
                  catalogues, clock, source="spending")
    text = str(err.value)
    assert "row 2" in text and "month 13 does not exist" in text
    assert "unknown budget line" in text and "'catering'" in text
    assert "percentage" in text
    assert "future" in text
    assert spent(sqlite_engine) == {}
