"""The ingest contract, run over every source format on both store backends.

Every format gives a good file (two days) and a file with one bad cell. For each, through
``pipeline.ingest_file`` against the ``engine`` fixture (SQLite and PostgreSQL):

- a good file loads, with provenance (the load's row, the revision of each day, the
  file behind every effective counter) and its original kept byte for byte;
- loading the same content again changes nothing;
- a bad file is rejected with file, row, column and value, and stores nothing at all;
- a failure inside the write transaction stores nothing at all;
- progress is reported up to the end of the file;
- the CLI exits non-zero on a rejected file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from hotline_kpi.ingest.base import IngestRejected
from hotline_kpi.ingest.pipeline import ingest_file
from hotline_kpi.store import provenance
from hotline_kpi.store.db import read_session
from hotline_kpi.store.models import IngestRow
from tests.common import DATA_TABLES, SHANGHAI
from tests.ingest.qlog import T0, abandoned, answered, ev

D1, D2 = dt.date(2019, 3, 1), dt.date(2019, 3, 2)


def _csv(path: Path, rows: list[list[object]], encoding: str = "utf-8-sig") -> Path:
    path.write_bytes(("\r\n".join(",".join(map(str, r)) for r in rows) + "\r\n").encode(encoding))
    return path


def _xlsx(path: Path, rows: list[list[object]]) -> Path:
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    wb.save(path)
    return path


def _lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- one good and one bad file per format ----------------------------------------------------------

REPORT = [["日期", "受理量", "呼入量", "接通量"], ["2019-03-01", "100", "90", "80"], ["2019-03-02", "110", "95", "90"]]
TICKETS = [["工单编号", "受理时间", "受理渠道", "办理方式", "是否退单", "退单责任"],
           ["T1", "2019-03-01 09:00:00", "电话", "直接答复", "否", ""],
           ["T2", "2019-03-01 10:00:00", "网站", "派单", "是", "话务员有责"],
           ["T3", "2019-03-02 10:00:00", "电话", "派单", "否", ""]]
CALLBACKS = [["回访编号", "工单编号", "回访时间", "回访结果"],
             ["H1", "T1", "2019-03-01 15:00:00", "满意"], ["H2", "T2", "2019-03-01 16:00:00", "未接通"],
             ["H3", "T3", "2019-03-02 15:00:00", "不满意"]]
QUEUE_LOG = [*answered("c1", 0, wait=5), *abandoned("c2", 60, wait=2), *answered("c3", 24 * 3600, wait=9)]


def _local(t: int) -> str:
    return dt.datetime.fromtimestamp(T0 + t, dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S")


QUEUE_DB = [["time", "callid", "queuename", "agent", "event", "data1", "data2", "data3"]] + [
    [_local(int(line.split("|")[0]) - T0), *line.split("|")[1:], *[""] * (8 - len(line.split("|")))][:8]
    for line in QUEUE_LOG]


@dataclass(frozen=True)
class Format:
    id: str
    source: str
    good: Callable[[Path], Path]
    #: A file with one bad cell, and (row, column, value) of the problem it must give.
    bad: Callable[[Path], Path]
    problem: tuple[int, str | None, str | None]
    counter: str


def _bad_rows(rows: list[list[object]], row: int, col: int, value: object) -> list[list[object]]:
    out = [list(r) for r in rows]
    out[row - 1][col] = value
    return out


FORMATS = [
    Format("daily-report-csv", "daily-report", lambda d: _csv(d / "日报.csv", REPORT),
           lambda d: _csv(d / "日报.csv", _bad_rows(REPORT, 3, 2, "九十五")), (3, "呼入量", "九十五"), "calls_offered"),
    Format("daily-report-xlsx", "daily-report", lambda d: _xlsx(d / "日报.xlsx", REPORT),
           lambda d: _xlsx(d / "日报.xlsx", _bad_rows(REPORT, 3, 2, "九十五")), (3, "呼入量 (C)", "九十五"),
           "calls_offered"),
    Format("queue-log-file", "queue-log", lambda d: _lines(d / "queue_log", QUEUE_LOG),
           lambda d: _lines(d / "queue_log", [*QUEUE_LOG[:4], ev(61, "c2", "ABANDON", 1, 1, "x"), *QUEUE_LOG[5:]]),
           (5, "data3", "x"), "calls_answered"),
    Format("queue-log-database-csv", "queue-log", lambda d: _csv(d / "queue_log.csv", QUEUE_DB, "utf-8"),
           lambda d: _csv(d / "queue_log.csv", _bad_rows(QUEUE_DB, 3, 5, "soon"), "utf-8"), (3, "data1", "soon"),
           "calls_answered"),
    Format("tickets-csv", "tickets", lambda d: _csv(d / "工单导出.csv", TICKETS),
           lambda d: _csv(d / "工单导出.csv", _bad_rows(TICKETS, 4, 1, "3月2日上午")), (4, "受理时间", "3月2日上午"),
           "requests_accepted"),
    Format("tickets-xlsx", "tickets", lambda d: _xlsx(d / "工单导出.xlsx", TICKETS),
           lambda d: _xlsx(d / "工单导出.xlsx", _bad_rows(TICKETS, 4, 1, "3月2日上午")), (4, "受理时间 (B)", "3月2日上午"),
           "requests_accepted"),
    Format("callbacks-csv", "callbacks", lambda d: _csv(d / "回访导出.csv", CALLBACKS),
           lambda d: _csv(d / "回访导出.csv", _bad_rows(CALLBACKS, 3, 3, "还行")), (3, "回访结果", "还行"),
           "survey_responses"),
    Format("callbacks-xlsx", "callbacks", lambda d: _xlsx(d / "回访导出.xlsx", CALLBACKS),
           lambda d: _xlsx(d / "回访导出.xlsx", _bad_rows(CALLBACKS, 3, 3, "还行")), (3, "回访结果 (D)", "还行"),
           "survey_responses"),
]


@pytest.fixture(params=FORMATS, ids=[f.id for f in FORMATS])
def fmt(request) -> Format:
    return request.param


def _ingest(engine, path, settings, catalogues, clock, **kw):
    return ingest_file(engine, path, settings=settings, catalogues=catalogues, clock=clock, **kw)


def _row_counts(engine) -> dict[str, int]:
    with read_session(engine) as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in DATA_TABLES}


# --- the contract ---------------------------------------------------------------------------------------


def test_a_good_file_loads_with_provenance_and_its_original_kept(fmt, engine, tmp_path, settings, catalogues,
                                                                 clock):
    path = fmt.good(tmp_path)
    outcome = _ingest(engine, path, settings, catalogues, clock)  # recognised without --source
    assert (outcome.source, outcome.status, outcome.result.first_day, outcome.result.last_day) == (
        fmt.source, "loaded", D1, D2)
    with read_session(engine) as s:
        ingest = s.get(IngestRow, outcome.result.ingest_id)
        assert (ingest.source, ingest.file_name, ingest.content_sha256, ingest.days) == (
            fmt.source, path.name, outcome.sha256, 2)
        assert Path(ingest.original_path).read_bytes() == path.read_bytes()
        for day in (D1, D2):
            revs = provenance.revisions(s, SHANGHAI, day, fmt.source)
            assert [(r.revision, r.is_current, r.ingest_id) for r in revs] == [(1, True, ingest.id)]
            assert provenance.provenance(s, SHANGHAI, day)[fmt.counter] == (fmt.source, path.name, outcome.sha256)


def test_loading_the_same_content_again_changes_nothing(fmt, engine, tmp_path, settings, catalogues, clock):
    path = fmt.good(tmp_path)
    first = _ingest(engine, path, settings, catalogues, clock, source=fmt.source)
    before = _row_counts(engine)
    copy = tmp_path / "again" / path.name
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    again = _ingest(engine, copy, settings, catalogues, clock, source=fmt.source)
    assert (again.status, again.result.ingest_id) == ("already_loaded", first.result.ingest_id)
    assert _row_counts(engine) == before


def test_a_bad_file_is_rejected_with_its_place_and_stores_nothing(fmt, engine, tmp_path, settings, catalogues,
                                                                  clock):
    path = fmt.bad(tmp_path)
    before = _row_counts(engine)
    with pytest.raises(IngestRejected) as err:
        _ingest(engine, path, settings, catalogues, clock, source=fmt.source)
    assert [(p.file, p.row, p.column, p.value) for p in err.value.problems] == [(path.name, *fmt.problem)]
    assert path.name in str(err.value) and f"第 {fmt.problem[0]} 行" in str(err.value)  # Chinese by default
    assert f"row {fmt.problem[0]}" in err.value.render("en")
    assert _row_counts(engine) == before
    assert not settings.originals_dir.exists() or not any(settings.originals_dir.rglob("*.*"))


def test_a_failure_inside_the_write_transaction_stores_nothing(fmt, engine, tmp_path, settings, catalogues, clock,
                                                               monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(provenance, "recompute_effective", boom)
    before = _row_counts(engine)
    with pytest.raises(RuntimeError, match="disk on fire"):
        _ingest(engine, fmt.good(tmp_path), settings, catalogues, clock, source=fmt.source)
    assert _row_counts(engine) == before
    monkeypatch.undo()
    assert _ingest(engine, fmt.good(tmp_path), settings, catalogues, clock, source=fmt.source).status == "loaded"


def test_progress_is_reported_to_the_end(fmt, sqlite_engine, tmp_path, settings, catalogues, clock):
    seen: list[tuple[int, int]] = []
    _ingest(sqlite_engine, fmt.good(tmp_path), settings, catalogues, clock, source=fmt.source,
            progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1] > 0
    assert all(done <= total for done, total in seen)


def test_the_cli_exits_non_zero_on_a_rejected_raw_file(tmp_path, sqlite_url, clock, cli_env):
    from hotline_kpi.cli import cli
    from hotline_kpi.cli.app import App

    good = _lines(tmp_path / "queue_log.1", QUEUE_LOG)
    bad = FORMATS[2].bad(tmp_path)
    result = CliRunner().invoke(cli, ["ingest", "--source", "queue-log", str(good), str(bad)], obj=App(clock=clock),
                                catch_exceptions=False)
    assert result.exit_code == 1
    # Chinese by default: the file loaded, the place of the problem, the count of rejected files
    assert "queue_log.1：话务队列日志" in result.stdout and "第 5 行" in result.stderr
    assert "2 个文件中 1 个被拒收" in result.stderr
