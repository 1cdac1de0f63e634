"""The status page as the office meets it, in headless Chromium at a desk (1400 px) and on
a phone (390 px): over the demo store, whose data (2019) is years old and whose alerts
fire, and over a fresh store (a file of yesterday, served in process with a FixedClock).
The DOM Chromium built is read back (banner, alerts, trends, links), the page is asked
whether it scrolls sideways, and the screenshots are kept in /tmp for a person to look at.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from hotline_kpi.clock import FixedClock
from hotline_kpi.service.runtime import Service
from hotline_kpi.settings import Settings
from hotline_kpi.store.db import make_engine
from tests.common import SHANGHAI as HOTLINE
from tests.common import TARGETS
from tests.processes import DemoTemplate, ServeProcess, http_get, prepare_demo, start_serve
from tests.service.cdp import Browser
from tests.service.test_status_page import FLAGS, Element, chromium, parse_html, read_png  # noqa: F401 - fixture
from tests.test_cli import REPORT
from tests.service.served import serving

pytestmark = pytest.mark.system

SH = ZoneInfo("Asia/Shanghai")
GRAFANA = "https://grafana.example.org/d/hotline-kpi/overview"
WIDTHS = (1400, 390)
INDICATORS = ("requests_accepted", "connection_rate", "average_answer_seconds", "first_contact_resolution_rate",
              "operator_fault_return_rate", "satisfaction_rate")


def day_zh(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("status-layouts")


@pytest.fixture(scope="module")
def stale(workdir: Path, request: pytest.FixtureRequest, demo_template: DemoTemplate) -> ServeProcess:
    """The demo year served today: its last data day is 2019-12-31."""
    base = workdir / "stale"
    env = prepare_demo(demo_template, base, extra_env={"HOTLINE_KPI_ALERTS__GRAFANA_URL": GRAFANA})
    return start_serve(env, base, request.addfinalizer, ready_timeout=60)


def look(chromium: Path, workdir: Path, url: str, width: int, name: str) -> tuple[Element, int, Path]:
    """The DOM, the page's scroll width and a full-page screenshot at ``width`` CSS px."""
    with Browser(chromium, FLAGS, workdir) as b:
        b.open(url, width, 900)
        html = b.evaluate("document.documentElement.outerHTML")
        scroll = b.evaluate("document.scrollingElement.scrollWidth")
        png = Path("/tmp") / f"status-{name}-{width}.png"
        b.screenshot(png)
    return parse_html(html), scroll, png


def check_trends(board: Element) -> None:
    rows = {tr.attrs["data-indicator"]: tr for tr in board.find_all("tr") if tr.has_attr("data-indicator")}
    assert set(INDICATORS) <= set(rows)
    for iid in INDICATORS:
        tr = rows[iid]
        svg = tr.find("svg", cls="trend")
        name = tr.find("td", cls="name").text()
        assert svg.attrs["role"] == "img"
        assert svg.attrs["aria-label"].startswith(f"{name}：近90天每日数值与目标"), svg.attrs["aria-label"]
        assert svg.find("title").text() == svg.attrs["aria-label"]
        assert svg.find_all("polyline", cls="values"), f"{iid}: no line of daily values"
        assert svg.find_all("line", cls="target"), f"{iid}: no target line"


def check_downloads(board: Element, served: ServeProcess | str, expect_year_days: int) -> None:
    """The page's download links give XLSX files with Chinese headers and numeric cells."""
    links = {a.attrs["class"].split()[-1]: a for a in board.find("p", cls="downloads").find_all("a")}
    assert links["scoreboard"].text() == "评估结果（XLSX）" and links["daily"].text() == "本年每日计数（XLSX）"
    for kind, link in links.items():
        path = link.attrs["href"]
        if isinstance(served, str):
            status, body = http_get(served.rstrip("/") + path)
        else:
            status, body = served.get(path)
        assert status == 200, (path, status, body[:300])
        ws = load_workbook(io.BytesIO(body)).active
        header = [c.value for c in ws[1]]
        rows = list(ws.iter_rows(min_row=2, values_only=True))
        if kind == "scoreboard":
            assert header[:2] == ["指标", "统计区间"] and header[4] == "数值"
            values = [r[4] for r in rows if r[4] is not None]
            assert values and all(isinstance(v, (int, float)) for v in values)
        else:
            assert header[:3] == ["日期", "受理量", "呼入量"]
            assert len(rows) == expect_year_days
            assert all(isinstance(r[1], int) for r in rows if r[1] is not None) and any(r[1] for r in rows)


def test_stale_store_with_alerts_firing_at_desk_and_phone(chromium: Path, stale: ServeProcess, workdir: Path) -> None:
    with sqlite3.connect(stale.env["HOTLINE_KPI_DATABASE_URL"].removeprefix("sqlite:///")) as conn:
        active = dict(conn.execute("SELECT rule_id, state FROM alert WHERE hotline_id = ? AND state IN "
                                   "('firing', 'pending')", (HOTLINE,)).fetchall())
    conn.close()
    assert "firing" in active.values(), active
    for width in WIDTHS:
        today = dt.datetime.now(SH).date()
        doc, scroll, png = look(chromium, workdir, stale.url("/"), width, "stale")
        assert scroll <= width, f"{width} px: the page is {scroll} px wide (scrolls sideways)"
        board = doc.find("section", cls="board", data_hotline=HOTLINE)
        banner = board.find("div", cls="stale").find("strong").text()
        lag = (today - dt.date(2019, 12, 31)).days
        assert banner in (f"数据已过期：最新数据是2019年12月31日的，今天是{day_zh(today)}，已滞后{lag}天。",
                          f"数据已过期：最新数据是2019年12月31日的，今天是{day_zh(today - dt.timedelta(days=1))}，"
                          f"已滞后{lag - 1}天。"), banner  # a test run across midnight
        shown = {li.attrs["data-rule"]: li.attrs["data-state"] for li in board.find("ul", cls="alerts").find_all("li")}
        assert shown == active
        for li in board.find("ul", cls="alerts").find_all("li"):
            assert li.find("span", cls="badge").text() in ("严重", "警告")
            assert re.fullmatch(r"自\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d起", li.find("span", cls="when").text())
            assert li.find("span", cls="headline").text()
        check_trends(board)
        grafana = doc.find("a", cls="grafana")
        assert grafana.attrs["href"] == GRAFANA and grafana.text() == "Grafana 看板"
        daily = board.find("li", data_source="daily-report")
        assert daily.find("span", cls="last-file").attrs["data-file"], daily.text()
        check_downloads(board, stale, expect_year_days=365)
        image = read_png(png)
        assert image.width == width and image.height > 600, (image.width, image.height)


@pytest.fixture
def fresh(sqlite_url: str, tmp_path: Path, catalogues) -> str:  # noqa: ANN001
    """A store holding REPORT, served in process at 09:00 Shanghai on the day after its last day."""

    settings = Settings(database_url=sqlite_url, var_dir=tmp_path / "var", targets_dir=TARGETS,
                        service={"inbox_settle_seconds": 0}, _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(sqlite_url)
    svc = Service(settings, catalogues, engine, FixedClock(dt.datetime(2019, 1, 5, 9, 0, tzinfo=SH)), holder="test")
    settings.inbox_dir.mkdir(parents=True)
    path = settings.inbox_dir / "jan.csv"
    path.write_text(REPORT, encoding="utf-8")
    at = svc.clock.now().timestamp() - 60
    os.utime(path, (at, at))
    svc.scan_inbox()
    svc.scan_inbox()
    with serving(svc, settings, catalogues, engine) as url:
        yield url


def test_fresh_store_at_desk_and_phone(chromium: Path, fresh: str, workdir: Path) -> None:
    for width in WIDTHS:
        doc, scroll, png = look(chromium, workdir, fresh, width, "fresh")
        assert scroll <= width, f"{width} px: the page is {scroll} px wide (scrolls sideways)"
        assert not doc.find_all(id="not-ready")
        board = doc.find("section", cls="board", data_hotline=HOTLINE)
        assert not board.find_all("div", cls="stale")
        assert board.find("span", cls="data-date").text() == "2019年1月4日"
        assert [li.attrs["data-state"] for li in board.find_all("li", cls="alert")] == ["pending"]
        assert not doc.find_all("a", cls="grafana")  # alerts.grafana_url not set: no link
        check_trends(board)
        check_downloads(board, fresh, expect_year_days=4)
        assert read_png(png).width == width
