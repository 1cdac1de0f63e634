"""The daily report's row rules on the office's real layouts (issue #13, cases 9, 10, 11):
through the CLI ``hotline-kpi ingest`` and the inbox of a real ``serve``, asserting the days
stored and their figures (``hotline-kpi export daily --format json``), not only success.

- 9: the month template, dates pre-filled past today without figures: blank rows.
- 10: weekly subtotals, 合计 in a 序号 column, a two-cell signature footer, the CSV export
  of a two-row header.
- 11: a count in scientific notation (``1.1E+04``) and 话务员受理量 above 受理量: refused,
  naming the value or both columns.

Case 9 needs "today": the processes run on the real clock, so its dates are around the real
date in Shanghai, with a catalogue for that year inheriting the 2019 one.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.common import TARGETS, ZONE
from tests.processes import run_cli, service_env, start_serve
from tests.reliability.support import FAST_SCANS, counts, drop, files, wait_for

TODAY = dt.datetime.now(ZONE).date()


def _csv(rows: list[list[object]]) -> bytes:
    return "".join(",".join("" if c is None else str(c) for c in row) + "\r\n" for row in rows).encode("utf-8")


def _targets(base: Path, years: set[int]) -> Path:
    """The 2019 catalogue, and one inheriting it for each of ``years``."""
    folder = base / "targets"
    folder.mkdir(parents=True, exist_ok=True)
    src = TARGETS / "shanghai-12345-2019.yaml"
    (folder / src.name).write_bytes(src.read_bytes())
    for year in years - {2019}:
        (folder / f"shanghai-12345-{year}.yaml").write_text(f"inherits: {src.name}\nyear: {year}\n", encoding="utf-8")
    return folder


@dataclass(frozen=True)
class Case:
    id: str
    name: str
    data: bytes
    #: day -> the counters the office must see for it (others are checked to be empty).
    days: dict[dt.date, dict[str, int]] = field(default_factory=dict)
    #: Words the CLI output must hold (a note, or the error's place and why).
    says: tuple[str, ...] = ()
    #: Refused: nothing stored, exit status 1.
    refused: bool = False


def _template() -> Case:
    """A month template: figures on the four days before today, then dated rows without
    figures from today to ten days on (the office fills one row a day)."""
    filled = [TODAY - dt.timedelta(days=n) for n in (4, 3, 2, 1)]
    blank = [TODAY + dt.timedelta(days=n) for n in range(11)]
    rows: list[list[object]] = [["日期", "受理量", "呼入量", "接通量", "接通率", "话务员受理量", "一次性解答量"]]
    days = {}
    for i, day in enumerate(filled):
        rows.append([day.isoformat(), 11000 + i, 10000 + i, 9000 + i, "", 8000 + i, 7000 + i])
        days[day] = dict(requests_accepted=11000 + i, calls_offered=10000 + i, calls_answered=9000 + i,
                         first_contact_eligible=8000 + i, first_contact_resolved=7000 + i)
    rows += [[day.isoformat(), "", "", "", "", "", ""] for day in blank]
    note = f"11 dated row(s) without figures skipped ({blank[0].isoformat()} … {blank[-1].isoformat()})"
    return Case("9-month-template", "月报模板日报.csv", _csv(rows), days, (note,))


def _d(day: int, month: int = 3) -> dt.date:
    return dt.date(2019, month, day)


def _weekly() -> Case:
    rows: list[list[object]] = [["日期", "受理量", "呼入量", "接通量"]]
    days = {}
    week: list[int] = [0, 0, 0]
    month: list[int] = [0, 0, 0]
    for n in range(1, 11):
        values = [11000 + n, 10000 + n, 9000 + n]
        rows.append([f"2019-03-{n:02d}", *values])
        days[_d(n)] = dict(requests_accepted=values[0], calls_offered=values[1], calls_answered=values[2])
        week = [a + b for a, b in zip(week, values)]
        month = [a + b for a, b in zip(month, values)]
        if n in (3, 10):
            rows.append([f"第{1 if n == 3 else 2}周小计", *week])
            week = [0, 0, 0]
    rows.append(["本月合计", *month])
    return Case("10-weekly-subtotals", "3月日报-周小计.csv", _csv(rows), days,
                ("第1周小计 row skipped; its totals match", "第2周小计 row skipped; its totals match",
                 "本月合计 row skipped; its totals match"))


def _serial_column() -> Case:
    rows: list[list[object]] = [["序号", "日期", "受理量", "呼入量"]]
    days = {}
    for n in range(1, 5):
        rows.append([n, f"2019-04-{n:02d}", 100 * n, 90 * n])
        days[_d(n, 4)] = dict(requests_accepted=100 * n, calls_offered=90 * n)
        if n == 2:
            rows.append(["小计", "", 300, 270])
    rows.append(["合计", "", 1000, 900])
    return Case("10-total-in-a-serial-column", "4月日报-序号.csv", _csv(rows), days,
                ("小计 row skipped; its totals match", "合计 row skipped; its totals match"))


def _footer() -> Case:
    rows: list[list[object]] = [["", "日期", "受理量", "呼入量", "接通量", "备注"]]
    days = {}
    for n in range(1, 4):
        rows.append(["", f"2019-05-{n:02d}", 500 + n, 400 + n, 300 + n, ""])
        days[_d(n, 5)] = dict(requests_accepted=500 + n, calls_offered=400 + n, calls_answered=300 + n)
    rows.append(["", "制表人：张三", "", "", "审核人：李四", ""])
    return Case("10-two-cell-signature-footer", "5月日报-签名.csv", _csv(rows), days, ("remark skipped",))


def _two_row_header() -> Case:
    rows: list[list[object]] = [["日期", "话务", "", "", "工单", ""],
                                ["", "受理量", "呼入量", "接通量", "派单量", "有责退单量"]]
    days = {}
    for n in range(1, 4):
        rows.append([f"2019-06-{n:02d}", 700 + n, 600 + n, 500 + n, 40 + n, n])
        days[_d(n, 6)] = dict(requests_accepted=700 + n, calls_offered=600 + n, calls_answered=500 + n,
                              tickets_dispatched=40 + n, tickets_returned_operator_fault=n)
    return Case("10-two-row-header-csv", "6月日报-两行表头.csv", _csv(rows), days)


def _scientific() -> Case:
    rows = [["日期", "受理量", "呼入量"], ["2019-07-01", "11024", "10000"], ["2019-07-02", "1.1E+04", "10000"]]
    return Case("11-scientific-notation", "7月日报.csv", _csv(rows),
                says=("row 3", "受理量", "1.1E+04", "scientific notation"), refused=True)


def _part_above_whole() -> Case:
    rows = [["日期", "受理量", "话务员受理量", "一次性解答量"], ["2019-08-01", "9000", "9500", "5000"]]
    return Case("11-operator-requests-above-all-requests", "8月日报.csv", _csv(rows),
                says=("row 2", "话务员受理量 (9500) is greater than 受理量 (9000)"), refused=True)


CLI_CASES = [_template(), _weekly(), _serial_column(), _footer(), _two_row_header(), _scientific(),
             _part_above_whole()]
YEARS = {2019, TODAY.year, (TODAY + dt.timedelta(days=10)).year}


def _env(tmp_path: Path, sqlite_url: str) -> dict[str, str]:
    return service_env(tmp_path, targets_dir=_targets(tmp_path, YEARS),
                       extra={"HOTLINE_KPI_DATABASE_URL": sqlite_url, **FAST_SCANS})


def _exported(env: dict[str, str], base: Path, days: list[dt.date]) -> dict[dt.date, dict[str, int | None]]:
    first, last = min(days), max(days)
    out = run_cli(env, "export", "daily", "--from", first.isoformat(), "--to", last.isoformat(), "--format", "json",
                  cwd=base).stdout
    return {dt.date.fromisoformat(d.pop("date")): d for d in json.loads(out)["days"]}


def _assert_stored(env: dict[str, str], base: Path, case: Case) -> None:
    """Exactly the case's days hold figures, with exactly its values; every other counter is empty."""
    span = [*case.days, max(case.days) + dt.timedelta(days=15)]  # the template's blank days too
    seen = _exported(env, base, span)
    for day, values in seen.items():
        expected = case.days.get(day, {})
        assert {k: v for k, v in values.items() if v is not None} == expected, (case.id, day, values)


@pytest.mark.system
@pytest.mark.usefixtures("english")  # English wording read (the Chinese: tests/test_messages.py)
@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_the_cli_loads_the_office_layouts_with_the_figures_the_files_say(case: Case, tmp_path, sqlite_url):
    env = _env(tmp_path, sqlite_url)
    path = tmp_path / case.name
    path.write_bytes(case.data)
    before = counts(sqlite_url)
    proc = run_cli(env, "ingest", "--no-evaluate", path.name, cwd=tmp_path, check=False)
    said = proc.stdout + proc.stderr
    for words in case.says:
        assert words in said, (words, said)
    if case.refused:
        assert proc.returncode == 1, said
        assert counts(sqlite_url) == before, said
        return
    assert proc.returncode == 0, said
    assert f"{len(case.days)} new" in said, said
    assert counts(sqlite_url)["daily_counters"] == len(case.days), said
    _assert_stored(env, tmp_path, case)


@pytest.mark.system
@pytest.mark.usefixtures("english")  # English wording read (the Chinese: tests/test_messages.py)
def test_the_inbox_of_a_real_serve_loads_the_template_and_the_layouts(tmp_path, sqlite_url, request):
    loaded = [c for c in CLI_CASES if not c.refused]
    env = _env(tmp_path, sqlite_url)
    inbox = tmp_path / "var" / "inbox"
    for case in loaded:
        drop(inbox, case.name, case.data)
    served = start_serve(env, tmp_path, request.addfinalizer, wait_for="/healthz")
    wait_for(lambda: len(files(tmp_path / "var" / "archive")) == len(loaded)
             or bool(files(tmp_path / "var" / "quarantine")) or served.proc.poll() is not None, 60,
             "every file archived")
    quarantined = {p.name: p.read_text(encoding="utf-8", errors="replace")
                   for p in files(tmp_path / "var" / "quarantine")}
    assert not quarantined, quarantined
    assert sorted(p.name for p in files(tmp_path / "var" / "archive")) == sorted(c.name for c in loaded)
    assert counts(sqlite_url)["daily_counters"] == sum(len(c.days) for c in loaded)
    for case in loaded:
        _assert_stored(env, tmp_path, case)
    assert served.stop() == 0
