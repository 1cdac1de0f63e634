"""What a Chinese reader sees on the status page, /readyz and the HTTP side, word for word
(and the English under ``lang=en``): ages as people say them, a hotline by its name, full-width
brackets in Chinese text, one word for the inbox, error answers in the language, a trend's
title without a target, and each data source's line in every state. In process (Starlette's
test client, a FixedClock, SQLite); tests/service/test_status_page_layouts.py looks at the
same page in Chromium."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from hotline_kpi.clock import FixedClock
from hotline_kpi.formatting import duration
from hotline_kpi.i18n import localize
from hotline_kpi.service.runtime import Service
from hotline_kpi.service.web import build_app
from hotline_kpi.settings import Settings
from hotline_kpi.store.db import make_engine
from tests.common import TARGETS
from tests.service.test_status_model import BAD_REPORT, SH, _client, _drop, local
from tests.service.test_status_page import Element, parse_html
from tests.test_cli import REPORT

ROOT = Path(__file__).resolve().parents[2]
HOTLINE_ZH, HOTLINE_EN = "上海市12345市民服务热线", "Shanghai 12345 Citizen Service Hotline"
#: Half-width punctuation touching Chinese text: 状态 (年累计), 达标 (进度目标, 文件: x, 3/4 (75%).
HALF_WIDTH = re.compile(r"[\u3400-\u9fff（）：；，。][ ]?[(),:;]|[(),:;][ ]?[\u3400-\u9fff（）：；，]"
                        r"|[\u3400-\u9fff（）][ ]?\(|\)[ ]?[\u3400-\u9fff]")


@pytest.fixture
def service(sqlite_url, tmp_path, catalogues):
    settings = Settings(database_url=sqlite_url, var_dir=tmp_path / "var", targets_dir=TARGETS,
                        service={"inbox_scan_seconds": 1, "inbox_settle_seconds": 0,
                                 "readiness_max_age_seconds": 60},
                        _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(sqlite_url)
    svc = Service(settings, catalogues, engine, FixedClock(local(2019, 1, 5, 9, 0)), holder="test")
    yield svc
    svc.stop()
    engine.dispose()


def _board(client: TestClient, lang: str = "zh") -> tuple[Element, Element]:
    doc = parse_html(client.get(f"/?lang={lang}").text)
    return doc, doc.find("section", cls="board", data_hotline=SH)


def _visible_and_said(doc: Element) -> list[str]:
    """Every text a reader meets: the page's text, and the words of titles, aria-labels and
    the phone's cell labels (data-label)."""
    out = [doc.text()]
    stack = [doc]
    while stack:
        el = stack.pop()
        out += [el.attrs[a] for a in ("aria-label", "title", "data-label") if a in el.attrs]
        stack += [c for c in el.children if isinstance(c, Element) and c.tag not in ("style", "script")]
    return out


# --- 1. ages as people say them, a hotline by its name -------------------------------------------


@pytest.mark.parametrize(("seconds", "zh", "en"), [
    (1, "1 秒", "1 second"), (45, "45 秒", "45 seconds"), (60, "60 秒", "60 seconds"), (119, "119 秒", "119 seconds"),
    (300, "5 分钟", "5 minutes"), (5400, "90 分钟", "90 minutes"), (7200, "2 小时", "2 hours"),
    (26 * 3600, "26 小时", "26 hours"), (36 * 3600, "36 小时", "36 hours"), (2 * 86400, "2 天", "2 days"),
    (2.5 * 86400, "2.5 天", "2.5 days"), (12.3 * 86400, "12 天", "12 days"),
])
def test_a_duration_reads_as_people_say_it(seconds, zh, en):
    assert localize(duration(seconds), "zh") == zh
    assert localize(duration(seconds), "en") == en


def test_readiness_names_the_hotline_and_says_its_age_in_words(service):
    client = _client(service)
    _drop(service, "jan.csv", REPORT)
    assert client.get("/readyz").json()["ready"] is True
    service.clock.advance(dt.timedelta(minutes=5))
    service.cache.refresh()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["reasons"] == [f"{HOTLINE_ZH}：最近一次评估在 5 分钟前（上限 60 秒）"]
    assert client.get("/readyz?lang=en").json()["reasons"] == [
        f"{HOTLINE_EN}: last evaluation 5 minutes ago (limit 60 seconds)"]
    doc, _ = _board(client)
    banner = doc.find(id="not-ready")
    assert [li.text() for li in banner.find_all("li")] == [f"{HOTLINE_ZH}：最近一次评估在 5 分钟前（上限 60 秒）"]
    service.clock.advance(dt.timedelta(days=3))
    service.cache.refresh()
    assert client.get("/readyz").json()["reasons"] == [f"{HOTLINE_ZH}：最近一次评估在 3 天前（上限 60 秒）"]


# --- 2. full-width brackets and punctuation in Chinese text -------------------------------------


def test_the_chinese_page_has_no_half_width_brackets_or_punctuation_and_the_english_keeps_ascii(service):
    client = _client(service)
    _drop(service, "jan.csv", REPORT)
    service.clock.set(local(2019, 1, 8, 9, 0))  # stale, an overdue source, alerts, a quarantined file
    _drop(service, "bad.csv", BAD_REPORT)
    service.evaluate("schedule")
    doc, board = _board(client)
    for text in _visible_and_said(doc):
        assert not HALF_WIDTH.search(text), HALF_WIDTH.search(text).group(0) + " in " + text  # type: ignore[union-attr]
    assert board.find("span", cls="completeness").text() == "3/4（75.0%）"
    assert [th.text() for th in board.find_all("th")][7] == "状态（年累计）"
    _, english = _board(client, "en")
    assert english.find("span", cls="completeness").text() == "3/4 (75.0%)"
    assert [th.text() for th in english.find_all("th")][7] == "Status (Year to date)"


def test_the_error_answers_carry_no_half_width_punctuation_in_chinese(service):
    client = _client(service)
    for path, method in (("/nowhere", "GET"), ("/api/v1/nowhere", "GET"), ("/", "POST"), ("/api/v1/scoreboard", "GET")):
        text = client.request(method, path).text
        assert not HALF_WIDTH.search(json.loads(text)["message"] if path.startswith("/api") else text), text
    assert client.get("/api/v1/league?window=week").json()["message"] == (
        "未知的统计区间 week；可选：day、trailing_7d、trailing_30d、month_to_date、quarter_to_date、year_to_date")
    assert client.get("/api/v1/league?window=week&lang=en").json()["message"] == (
        "unknown window week; one of day, trailing_7d, trailing_30d, month_to_date, quarter_to_date, year_to_date")


# --- 3. one word for the inbox --------------------------------------------------------------------


def test_the_inbox_is_called_shoujianxiang_everywhere():
    """收件箱, never 收件夹: the catalogue (page, CLI, log), the docs and the code."""
    places = [ROOT / "hotline_kpi" / "locale" / "zh_CN" / "LC_MESSAGES" / "hotline_kpi.po",
              *sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md",
              *sorted((ROOT / "hotline_kpi").rglob("*.py")), *sorted((ROOT / "hotline_kpi").rglob("*.html"))]
    found = [str(p.relative_to(ROOT)) for p in places if p.exists() and "收件夹" in p.read_text(encoding="utf-8")]
    assert found == []


# --- 4. 404, 405 and the like in the language --------------------------------------------------------


def test_not_found_and_not_allowed_answer_in_the_language(service):
    client = _client(service)
    page = client.get("/nowhere", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    doc = parse_html(page.text)
    assert doc.find("h1").text() == "本服务没有这个地址：/nowhere"
    assert doc.find("a").text() == "返回状态页" and doc.find("html").attrs["lang"] == "zh-CN"
    assert "Not Found" not in page.text
    plain = client.get("/nowhere")
    assert plain.status_code == 404 and plain.text == "本服务没有这个地址：/nowhere\n"
    assert client.get("/nowhere?lang=en").text == "there is nothing at /nowhere on this service\n"
    api = client.get("/api/v1/nowhere")
    assert api.status_code == 404 and api.json() == {"error": "not_found", "message": "本服务没有这个地址：/api/v1/nowhere"}
    assert client.get("/api/v1/nowhere?lang=en").json()["message"] == "there is nothing at /api/v1/nowhere on this service"
    assert client.get("/download/other.xlsx").text == "本服务没有这个地址：/download/other.xlsx\n"

    post = client.post("/", headers={"Accept": "text/html"})
    assert post.status_code == 405 and set(post.headers["allow"].split(", ")) == {"GET", "HEAD"}
    assert parse_html(post.text).find("h1").text() == "不接受 POST 请求：本服务只读，只响应 GET 和 HEAD 请求"
    assert "Method Not Allowed" not in post.text
    api = client.delete("/api/v1/scoreboard?lang=en")
    assert api.status_code == 405 and api.json() == {
        "error": "method_not_allowed", "message": "DELETE is not allowed: this service only answers GET and HEAD requests"}
    assert client.post("/api/v1/league").json()["message"] == "不接受 POST 请求：本服务只读，只响应 GET 和 HEAD 请求"


def test_a_refused_request_is_told_in_the_language(sqlite_url, tmp_path, catalogues):
    settings = Settings(database_url=sqlite_url, var_dir=tmp_path / "var", targets_dir=TARGETS,
                        http_auth={"mode": "bearer", "token": "t0ken-of-the-office-1234"},
                        _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(sqlite_url)
    svc = Service(settings, catalogues, engine, FixedClock(local(2019, 1, 5, 9, 0)), holder="test")
    try:
        client = _client(svc)
        page = client.get("/")
        assert page.status_code == 401 and page.text == "需要登录凭据（设置项 http_auth）\n"
        assert client.get("/?lang=en").text == "credentials required (settings http_auth)\n"
        assert client.get("/api/v1/scoreboard").json() == {"error": "unauthorized",
                                                           "message": "需要登录凭据（设置项 http_auth）"}
    finally:
        svc.stop()
        engine.dispose()


# --- 5. a trend without a target ---------------------------------------------------------------------


def test_a_trend_without_a_target_says_so_and_one_without_data_too(service):
    client = _client(service)
    _drop(service, "jan.csv", REPORT)
    _, board = _board(client)
    trends = {tr.attrs["data-indicator"]: tr.find("svg", cls="trend").attrs["aria-label"]
              for tr in board.find_all("tr") if tr.has_attr("data-indicator") and tr.find_all("svg")}
    assert trends["abandon_rate"] == "呼损率（放弃率）：近90天每日数值（无目标）；最新为8.16%（2019年1月4日）"
    assert trends["answered_within_15s_rate"] == "15秒接通率：近90天每日数值（无目标）；这些天没有数据"
    assert trends["connection_rate"] == "热线接通率：近90天每日数值与目标（≥ 90%）对比；最新为91.84%（2019年1月4日）"
    # No target, no outlook: its cells say so (a phone shows them as labelled lines).
    row = board.find("tr", data_indicator="abandon_rate")
    assert (row.find("td", cls="projection").text(), row.find("td", cls="miss-probability").text()) == ("—", "—")
    _, english = _board(client, "en")
    trends = {tr.attrs["data-indicator"]: tr.find("svg", cls="trend").attrs["aria-label"]
              for tr in english.find_all("tr") if tr.has_attr("data-indicator") and tr.find_all("svg")}
    assert trends["abandon_rate"] == "Abandon rate: daily values of the last 90 days (no target); latest 8.16% (2019-01-04)"
    assert trends["answered_within_15s_rate"] == ("Answered within 15 s: daily values of the last 90 days (no target); "
                                                  "no data on these days")


# --- 6. each data source's line, in every state ------------------------------------------------------


def _lines(client: TestClient, lang: str) -> dict[str, str]:
    _, board = _board(client, lang)
    return {li.attrs["data-source"]: li.text() for li in board.find("ul", cls="sources").find_all("li")}


def test_each_source_line_reads_right_in_every_state(service):
    client = _client(service)
    _drop(service, "jan.csv", REPORT)  # loaded
    service.clock.set(local(2019, 1, 8, 9, 0))
    _drop(service, "bad.csv", BAD_REPORT)  # a daily report rejected: quarantined
    _drop(service, "notes.csv", "hello,world\n1,2\n")  # a file of no known source: quarantined
    _drop(service, "junk.csv", "foo,bar\n3,4\n")
    service.evaluate("schedule")
    zh = _lines(client, "zh")
    assert zh["callbacks"] == "回访导出：尚未载入任何文件；隔离区没有待处理的文件"
    assert zh["daily-report"] == ("日报：最后载入文件“jan.csv”，载入时间2019年1月5日 09:00；"
                                  "隔离区有1个文件待处理（原因见同名的 .error.txt 文件）")
    assert zh["unknown"] == "无法识别的文件：隔离区有2个待处理（原因见各自同名的 .error.txt 文件）"
    en = _lines(client, "en")
    assert en["callbacks"] == "callback export: no file loaded yet; no file waiting in quarantine"
    assert en["daily-report"] == ("daily report: last file jan.csv, loaded 2019-01-05 09:00; "
                                  "1 file waiting in quarantine (the reason is in its .error.txt)")
    assert en["unknown"] == "unrecognised files: 2 waiting in quarantine (the reason is in each one's .error.txt)"
    _drop(service, "bad2.csv", BAD_REPORT)
    service.cache.refresh()
    assert _lines(client, "zh")["daily-report"].endswith("；隔离区有2个文件待处理（原因见各自同名的 .error.txt 文件）")
    assert _lines(client, "en")["daily-report"].endswith(
        "; 2 files waiting in quarantine (the reason is in each one's .error.txt)")
    (service.settings.quarantine_dir / "junk.csv").unlink()
    service.cache.refresh()
    assert _lines(client, "zh")["unknown"] == "无法识别的文件：隔离区有1个待处理（原因见同名的 .error.txt 文件）"
    assert _lines(client, "en")["unknown"] == "unrecognised files: 1 waiting in quarantine (the reason is in its .error.txt)"
    # The overdue source in the stale banner: its age in words.
    _, board = _board(client)
    assert [li.text() for li in board.find("div", cls="stale").find_all("li")] == [
        "日报：已 3 天未载入新文件（告警规则允许 2 天）"]
    _, english = _board(client, "en")
    assert [li.text() for li in english.find("div", cls="stale").find_all("li")] == [
        "daily report: no file loaded for 3 days (its alert rule allows 2 days)"]


def test_a_failure_inside_the_service_is_told_in_the_language(service, monkeypatch):
    """A route that raises (made to, by a stand-in for the cache's answer: nothing real fails
    on demand here) answers 500 in the language, without Starlette's "Internal Server Error"."""
    client = TestClient(build_app(service.cache, service.settings, service.catalogues, service.clock.now,
                                  service.state), raise_server_exceptions=False)

    def broken(*args: object) -> None:
        raise RuntimeError("stand-in failure")

    monkeypatch.setattr(service.cache, "answer", broken)
    failed = client.get("/metrics")
    assert failed.status_code == 500 and failed.text == "服务处理该请求时出错，原因见服务日志\n"
    assert client.get("/metrics?lang=en").text == "the service failed to answer this request; the service log tells why\n"


# --- 7. a link to each Grafana dashboard ----------------------------------------------------------


def _page_with_grafana(sqlite_url, tmp_path, catalogues, grafana_url: str) -> list[tuple[str, str]]:
    settings = Settings(database_url=sqlite_url, var_dir=tmp_path / "var", targets_dir=TARGETS,
                        alerts={"grafana_url": grafana_url}, _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(sqlite_url)
    svc = Service(settings, catalogues, engine, FixedClock(local(2019, 1, 5, 9, 0)), holder="test")
    try:
        svc.cache.refresh()
        doc = parse_html(_client(svc).get("/").text)
        return [(a.text(), a.attrs["href"]) for a in doc.find("nav").find_all("a", cls="grafana")]
    finally:
        svc.stop()
        engine.dispose()


def test_the_page_links_each_provisioned_grafana_dashboard_by_its_title(sqlite_url, tmp_path, catalogues):
    """alerts.grafana_url set: one link per dashboard the product provisions (dashboards/*.json),
    {grafana_url}/d/{uid}, named by the dashboard's own Chinese title (issue #14)."""
    links = _page_with_grafana(sqlite_url, tmp_path, catalogues, "https://grafana.example.org/")
    assert links == [("12345热线 KPI 总览", "https://grafana.example.org/d/hotline-kpi-overview"),
                     ("12345热线 KPI 趋势", "https://grafana.example.org/d/hotline-kpi-trends"),
                     ("12345热线 KPI 运行状态", "https://grafana.example.org/d/hotline-kpi-operations")]
    shipped = {json.loads(p.read_text(encoding="utf-8"))["uid"]: json.loads(p.read_text(encoding="utf-8"))["title"]
               for p in sorted((ROOT / "dashboards").glob("*.json"))}
    assert {href.rsplit("/d/", 1)[1]: title for title, href in links} == shipped  # every dashboard, as it says


def test_a_grafana_url_of_one_dashboard_is_linked_alone(sqlite_url, tmp_path, catalogues):
    url = "https://grafana.example.org/d/abc123/kpi"
    assert _page_with_grafana(sqlite_url, tmp_path, catalogues, url) == [("Grafana 看板", url)]
