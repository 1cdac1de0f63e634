"""The status page's model, in process (Starlette's test client, a FixedClock, SQLite): the
stale-data banner and its overdue sources, the alerts firing and pending, the per-source
line (last file, quarantined files), comparators as the office writes them, and a page
built once per cache refresh, not per request. Chromium reads the same page in
tests/service/test_status_page.py."""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient

from hotline_kpi.clock import FixedClock
from hotline_kpi.service.runtime import Service
from hotline_kpi.service.web import build_app
from hotline_kpi.settings import Settings
from hotline_kpi.store.db import make_engine
from tests.common import TARGETS
from tests.service.test_status_page import parse_html
from tests.test_cli import REPORT

SH = "shanghai-12345"
SHANGHAI = ZoneInfo("Asia/Shanghai")
#: A daily report the registry recognises (its header) with a date that is none: rejected.
BAD_REPORT = REPORT.replace("2019-01-04", "2019-01-45")


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def service(db_url, tmp_path, catalogues):
    settings = Settings(database_url=db_url, var_dir=tmp_path / "var", targets_dir=TARGETS,
                        service={"inbox_scan_seconds": 1, "inbox_settle_seconds": 0},
                        alerts={"grafana_url": "https://grafana.example.org/d/hotline-kpi"},
                        _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(db_url)
    # 09:00 in Shanghai the day after the last day of REPORT: the data are fresh.
    svc = Service(settings, catalogues, engine, FixedClock(local(2019, 1, 5, 9, 0)), holder="test")
    yield svc
    svc.stop()
    engine.dispose()


def _client(svc: Service) -> TestClient:
    return TestClient(build_app(svc.cache, svc.settings, svc.catalogues, svc.clock.now, svc.state))


def _drop(svc: Service, name: str, text: str) -> None:
    svc.settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    path = svc.settings.inbox_dir / name
    path.write_text(text, encoding="utf-8")
    at = svc.clock.now().timestamp() - 60  # written a minute before the service's "now"
    os.utime(path, (at, at))
    svc.scan_inbox()  # first sighting
    svc.scan_inbox()  # the same at two scans: read


def _board(client: TestClient, lang: str = "zh"):
    doc = parse_html(client.get(f"/?lang={lang}").text)
    return doc, doc.find("section", cls="board", data_hotline=SH)


def test_not_ready_banner_in_plain_chinese(service):
    service.cache.refresh()
    doc = parse_html(_client(service).get("/").text)
    banner = doc.find(id="not-ready")
    assert banner.find("strong").text() == "服务未就绪："
    assert [li.text() for li in banner.find_all("li")] == ["尚未存储任何评估结果"]
    assert doc.find(id="no-data").text() == "尚无评估结果。"


def test_fresh_store_has_no_banner_and_tells_each_source(service):
    client = _client(service)
    _drop(service, "jan.csv", REPORT)
    doc, board = _board(client)
    assert not doc.find_all(id="not-ready")
    assert not board.find_all("div", cls="stale"), board.find("div", cls="stale").text()
    assert board.find("span", cls="data-date").text() == "2019年1月4日"
    # Nothing fires; the volume is behind its pace on its first day: pending (for: 7).
    alerts = board.find_all("li", cls="alert")
    assert [(li.attrs["data-rule"], li.attrs["data-state"]) for li in alerts] == [
        ("requests_accepted_behind_pace", "pending")]
    assert alerts[0].find("span", cls="headline").text() == "全年12345热线平台受理量 年累计 33,500 落后进度 43,836"
    assert alerts[0].find("span", cls="held").text() == "已连续1天，满7天触发"
    assert alerts[0].find("span", cls="when").text() == "自2019年1月5日 09:00起"
    daily = board.find("li", data_source="daily-report")
    assert daily.find("span", cls="last-file").attrs["data-file"] == "jan.csv"
    assert daily.text() == "日报：最后载入文件“jan.csv”，载入时间2019年1月5日 09:00；隔离区没有待处理的文件"
    # Comparators and punctuation as the office writes them.
    targets = {tr.attrs["data-indicator"]: tr.find("td", cls="target").text()
               for tr in board.find_all("tr") if tr.has_attr("data-indicator")}
    assert targets["connection_rate"] == "≥ 90%"
    assert targets["average_answer_seconds"] == "≤ 8 秒"
    assert targets["operator_fault_return_rate"] == "＜ 7%"
    # The trends say in words what they draw (an annual volume against a 365th of its target a day).
    trends = {tr.attrs["data-indicator"]: tr.find("svg", cls="trend")
              for tr in board.find_all("tr") if tr.has_attr("data-indicator")}
    assert trends["requests_accepted"].attrs["aria-label"] == (
        "全年12345热线平台受理量：近90天每日数值与目标（≥ 10,959/日）对比；最新为10,500（2019年1月4日）")
    assert trends["connection_rate"].find("title").text() == (
        "热线接通率：近90天每日数值与目标（≥ 90%）对比；最新为91.84%（2019年1月4日）")
    page = client.get("/").text
    for ascii_sign in (">=", "<=", "&lt;", "&gt;="):
        assert ascii_sign not in board.text(), ascii_sign
    assert "（" in board.find("span", cls="completeness").text() and "(" not in board.find(
        "span", cls="completeness").text()
    assert 'class="grafana" href="https://grafana.example.org/d/hotline-kpi"' in page


def test_stale_store_shows_the_banner_the_overdue_source_and_the_alerts(service):
    client = _client(service)
    _drop(service, "jan.csv", REPORT)
    service.clock.set(local(2019, 1, 8, 9, 0))  # three days later, no new file
    _drop(service, "bad.csv", BAD_REPORT)
    service.evaluate("schedule")
    doc, board = _board(client)
    stale = board.find("div", cls="stale")
    assert stale.find("strong").text() == "数据已过期：最新数据是2019年1月4日的，今天是2019年1月8日，已滞后4天。"
    assert [li.text() for li in stale.find_all("li")] == ["日报：已 3 天未载入新文件（告警规则允许 2 天）"]
    alerts = {li.attrs["data-rule"]: li for li in board.find("ul", cls="alerts").find_all("li")}
    no_data = alerts["no_data_daily_report"]
    assert no_data.attrs["data-state"] == "firing"
    assert no_data.find("span", cls="badge").text() == "严重"
    assert no_data.find("span", cls="when").text() == "自2019年1月8日 09:00起"
    assert no_data.find("span", cls="headline").text() == "日报 已 3 天未载入新文件（阈值 2 天）"
    firing_first = [li.attrs["data-state"] for li in board.find("ul", cls="alerts").find_all("li")]
    assert firing_first == sorted(firing_first, key=lambda s: s != "firing")
    daily = board.find("li", data_source="daily-report")
    assert daily.find("span", cls="quarantined").attrs["data-count"] == "1"
    assert daily.find("span", cls="quarantined").text() == "隔离区有1个文件待处理（原因见同名的 .error.txt 文件）"
    # English on request, the same facts.
    _, en = _board(client, "en")
    assert en.find("div", cls="stale").find("strong").text() == (
        "Data out of date: the latest data is of 2019-01-04, today is 2019-01-08: 4 day(s) behind.")


def test_the_page_is_built_once_per_change_not_per_request_nor_per_refresh(service):
    client = _client(service)
    _drop(service, "jan.csv", REPORT)
    app_page = client.get("/").text
    page = next(listener.__self__ for listener in service.cache.listeners)
    before = page.builds
    for _ in range(20):
        assert client.get("/").text == app_page
    assert page.builds == before
    service.cache.refresh()  # nothing changed: the page stays (issue #19)
    assert page.builds == before
    service.evaluate("test")  # a new evaluation: built again, once
    assert page.builds == before + 1


def test_a_refresh_that_finds_nothing_new_reads_no_alerts_or_files(service):
    """Issue #19: the page's alerts and last files are read again only when the store's
    change markers (or the quarantine listing) moved; what moved is shown."""
    client = _client(service)
    _drop(service, "jan.csv", REPORT)
    page = next(listener.__self__ for listener in service.cache.listeners)
    reads, data = page.data.reads, page.data
    for _ in range(5):
        service.cache.refresh()
    assert page.data.reads == reads and page.data is data  # nothing read, nothing rebuilt
    # A rejected file: an attempt row and a quarantined file move the markers; read again, shown.
    _drop(service, "feb.csv", BAD_REPORT)
    service.cache.refresh()  # as the inbox job's end does (Service.run_job)
    assert page.data.reads == reads + 1
    _, board = _board(client)
    assert board.find("li", data_source="daily-report").find("span", cls="quarantined").attrs["data-count"] == "1"
    service.cache.refresh()
    assert page.data.reads == reads + 1


def _sheet(data: bytes):
    import io

    from openpyxl import load_workbook

    return load_workbook(io.BytesIO(data)).active


def test_downloads_are_xlsx_with_chinese_headers_and_numbers(service):
    client = _client(service)
    _drop(service, "jan.csv", REPORT)
    doc, board = _board(client)
    links = {a.attrs["class"].split()[-1]: a for a in board.find("p", cls="downloads").find_all("a")}
    assert links["scoreboard"].text() == "评估结果（XLSX）" and links["daily"].text() == "本年每日计数（XLSX）"

    got = client.get(links["scoreboard"].attrs["href"])
    assert got.status_code == 200 and got.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert got.headers["content-disposition"] == f'attachment; filename="{SH}-scoreboard-2019-01-04.xlsx"'
    ws = _sheet(got.content)
    assert [c.value for c in ws[1]] == ["指标", "统计区间", "起始日期", "截止日期", "数值", "单位", "比较", "目标",
                                        "状态", "有数据天数", "区间天数"]
    rows = {(r[0], r[1]): r for r in ws.iter_rows(min_row=2, values_only=True)}
    ytd = rows[("热线接通率", "年累计")]
    # 9300 + 9900 + 9000 answered of 10000 + 11000 + 9800 offered: a number, shown as a percent.
    assert ytd[4] == pytest.approx(28200 / 30800) and isinstance(ytd[4], float)
    assert ytd[2] == dt.datetime(2019, 1, 1) and ytd[3] == dt.datetime(2019, 1, 4)
    assert ytd[5:9] == ("%", "≥", 0.9, "达标") and ytd[9:] == (3, 4)
    assert rows[("话务员有责退单率", "年累计")][6] == "＜"
    volume = rows[("全年12345热线平台受理量", "年累计")]
    assert volume[4] == 33500 and isinstance(volume[4], int) and volume[5] == "件"
    # Seconds say so in their row; an indicator without a target compares with nothing.
    assert rows[("电话接通时长", "年累计")][5] == "秒"
    abandon = rows[("呼损率（放弃率）", "年累计")]
    assert abandon[5:8] == ("%", None, None), abandon
    percent = next(c for c in ws.iter_rows(min_row=2) if c[0].value == "热线接通率" and c[1].value == "年累计")[4]
    assert percent.number_format == "0.00%"

    daily = _sheet(client.get(links["daily"].attrs["href"]).content)
    assert [c.value for c in daily[1]][:4] == ["日期", "受理量", "呼入量", "接通量"]
    assert "等待总时长（秒）" in [c.value for c in daily[1]] and "等待总时长" not in [c.value for c in daily[1]]
    days = list(daily.iter_rows(min_row=2, values_only=True))
    assert [d[0] for d in days] == [dt.datetime(2019, 1, d) for d in (1, 2, 3, 4)]
    assert days[0][1:4] == (11000, 10000, 9300) and all(isinstance(v, int) for v in days[0][1:4])
    assert days[2][1:] == (None,) * (len(days[2]) - 1)  # no file for 3 January: empty, not 0

    assert client.get("/download/daily.xlsx?hotline=nowhere").status_code == 404
    builds = next(listener.__self__ for listener in service.cache.listeners).builds
    client.get(links["daily"].attrs["href"])
    assert next(listener.__self__ for listener in service.cache.listeners).builds == builds
