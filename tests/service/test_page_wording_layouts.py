"""The status page's words in headless Chromium (Debian ``chromium``) at a desk (1400 px)
and on a phone (390 px), in the state with the most to say: not ready (the last evaluation
7 minutes old against a 60-second limit), data out of date, an overdue source, a daily
report and a file of no known source waiting in quarantine. Served in process (a FixedClock,
SQLite); the DOM Chromium built is read back, the page is asked whether it scrolls sideways,
and the screenshots are kept in /tmp (status-wording-*.png) for a person to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from hotline_kpi.clock import FixedClock
from hotline_kpi.service.runtime import Service
from hotline_kpi.settings import Settings
from hotline_kpi.store.db import make_engine
from tests.common import TARGETS
from tests.service.test_status_model import BAD_REPORT, SH, _drop, local
from tests.service.test_status_page import chromium  # noqa: F401 - fixture
from tests.service.test_status_page_layouts import look
from tests.test_cli import REPORT
from tests.service.served import serving

pytestmark = pytest.mark.system

LINES = {
    "zh": {"daily-report": "日报：最后载入文件“jan.csv”，载入时间2019年1月5日 09:00；"
                           "隔离区有1个文件待处理（原因见同名的 .error.txt 文件）",
           "callbacks": "回访导出：尚未载入任何文件；隔离区没有待处理的文件",
           "unknown": "无法识别的文件：隔离区有1个待处理（原因见同名的 .error.txt 文件）"},
    "en": {"daily-report": "daily report: last file jan.csv, loaded 2019-01-05 09:00; "
                           "1 file waiting in quarantine (the reason is in its .error.txt)",
           "callbacks": "callback export: no file loaded yet; no file waiting in quarantine",
           "unknown": "unrecognised files: 1 waiting in quarantine (the reason is in its .error.txt)"},
}
NOT_READY = {"zh": "上海市12345市民服务热线：最近一次评估在 7 分钟前（上限 60 秒）",
             "en": "Shanghai 12345 Citizen Service Hotline: last evaluation 7 minutes ago (limit 60 seconds)"}
OVERDUE = {"zh": "日报：已 3 天未载入新文件（告警规则允许 2 天）",
           "en": "daily report: no file loaded for 3 days (its alert rule allows 2 days)"}


@pytest.fixture
def troubled(sqlite_url: str, tmp_path: Path, catalogues) -> Iterator[str]:  # noqa: ANN001

    settings = Settings(database_url=sqlite_url, var_dir=tmp_path / "var", targets_dir=TARGETS,
                        service={"inbox_settle_seconds": 0, "readiness_max_age_seconds": 60},
                        _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(sqlite_url)
    svc = Service(settings, catalogues, engine, FixedClock(local(2019, 1, 5, 9, 0)), holder="test")
    _drop(svc, "jan.csv", REPORT)
    svc.clock.set(local(2019, 1, 8, 9, 0))  # three days without a file
    _drop(svc, "bad.csv", BAD_REPORT)  # a daily report rejected
    _drop(svc, "notes.csv", "hello,world\n1,2\n")  # a file of no known source
    svc.evaluate("schedule")
    svc.clock.set(local(2019, 1, 8, 9, 7))  # seven minutes later: not ready
    svc.cache.refresh()
    with serving(svc, settings, catalogues, engine) as url:
        yield url


# English at 1400 px is left out: its long column headers (nowrap) make the scoreboard
# wider than a desk's window, as before these words changed (see the report of #14's review).
@pytest.mark.parametrize(("lang", "width"), [("zh", 1400), ("zh", 390), ("en", 390)])
def test_the_troubled_page_reads_right_and_fits(chromium: Path, troubled: str, tmp_path: Path,  # noqa: F811
                                                lang: str, width: int) -> None:
    doc, scroll, png = look(chromium, tmp_path, f"{troubled}?lang={lang}", width, f"wording-{lang}")
    assert scroll <= width, f"{lang} at {width} px: the page is {scroll} px wide (scrolls sideways)"
    assert [li.text() for li in doc.find(id="not-ready").find_all("li")] == [NOT_READY[lang]]
    board = doc.find("section", cls="board", data_hotline=SH)
    assert [li.text() for li in board.find("div", cls="stale").find_all("li")] == [OVERDUE[lang]]
    lines = {li.attrs["data-source"]: li.text() for li in board.find("ul", cls="sources").find_all("li")}
    for source, text in LINES[lang].items():
        assert lines[source] == text
    assert png.stat().st_size > 0
