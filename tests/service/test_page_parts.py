"""The status page built in parts (issue #19), on SQLite and PostgreSQL: after one
hotline's new evaluation only that hotline's board is rendered again (in each language)
and shows the new figure; a later tick of the clock renders no board unless what a board
shows changed (a new day: every board, with its stale-data banner); the served page is at
every step the whole template's rendering byte for byte (page_parts.py)."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from lxml import html as lxml_html
from sqlalchemy import update
from starlette.testclient import TestClient

from hotline_kpi.clock import FixedClock
from hotline_kpi.service.exporter import MetricsCache
from hotline_kpi.service.jobs import evaluate_hotlines
from hotline_kpi.service.page import StatusPage
from hotline_kpi.service.web import build_app
from hotline_kpi.store.models import DailyCountersRow
from tests.service.test_league import CLOCK, DAYS, _catalogues, _fill

HOTLINES = [f"league-{k}" for k in "abcd"]


@pytest.fixture
def served(engine, settings, catalogues):
    cats = _catalogues(catalogues)
    clock = FixedClock(CLOCK)
    _fill(engine)
    assert sorted(evaluate_hotlines(engine, settings, cats, clock, "test")) == HOTLINES
    cache = MetricsCache(engine, {h.id: h.timezone for h in cats.hotlines()}, clock.now)
    cache.refresh()
    client = TestClient(build_app(cache, settings, cats, clock.now))
    page = next(f.__self__ for f in cache.listeners if isinstance(getattr(f, "__self__", None), StatusPage))
    return engine, settings, cats, clock, cache, client, page


def _ytd(client: TestClient, hid: str, indicator: str, lang: str = "zh") -> str:
    doc = lxml_html.fromstring(client.get(f"/?lang={lang}").text)
    return doc.xpath(f'string(//section[@data-hotline="{hid}"]//tr[@data-indicator="{indicator}"]'
                     f'/td[@data-window="year_to_date"])')


def _same_as_whole(client: TestClient, page: StatusPage, clock: FixedClock) -> None:
    for lang in ("zh", "en"):
        served = client.get(f"/?lang={lang}", headers={"Accept-Encoding": "identity"}).content
        assert served == page.render_whole(page.model, page.data, clock.now(), lang)


def test_a_new_evaluation_of_one_hotline_renders_its_board_only(served):
    engine, settings, cats, clock, cache, client, page = served
    _same_as_whole(client, page, clock)
    assert _ytd(client, "league-b", "connection_rate") == "80.00%"
    rendered, builds = page.boards.rendered, page.builds
    # b answers 90 calls of 100 on the second day instead of 80: (80 + 90) / 200 = 85.00%
    with engine.begin() as conn:
        conn.execute(update(DailyCountersRow).where(DailyCountersRow.hotline_id == "league-b",
                                                    DailyCountersRow.day == DAYS[1]).values(calls_answered=90))
    assert evaluate_hotlines(engine, settings, cats, clock, "ingest", ["league-b"]) == ["league-b"]
    cache.refresh()
    assert page.builds == builds + 1
    assert page.boards.rendered == rendered + 2  # b's board, in Chinese and in English; a, c, d kept
    assert _ytd(client, "league-b", "connection_rate") == "85.00%"
    assert _ytd(client, "league-b", "connection_rate", "en") == "85.00%"
    assert _ytd(client, "league-a", "connection_rate") == "95.00%"
    _same_as_whole(client, page, clock)
    cache.refresh()  # nothing new: nothing rendered
    assert (page.builds, page.boards.rendered) == (builds + 1, rendered + 2)


def test_a_later_tick_renders_a_board_only_when_what_it_shows_changed(served):
    engine, settings, cats, clock, cache, client, page = served
    rendered, builds = page.boards.rendered, page.builds
    doc = lxml_html.fromstring(client.get("/").text)
    assert not doc.xpath('//div[contains(@class,"stale")]')
    clock.advance(dt.timedelta(minutes=10))  # the page's periodic rebuild: the boards are the same
    cache.refresh()
    assert page.builds == builds + 1 and page.boards.rendered == rendered
    _same_as_whole(client, page, clock)
    clock.advance(dt.timedelta(days=2))  # 2019-01-05: the data of 2019-01-02 are 3 days behind
    cache.refresh()
    assert page.boards.rendered == rendered + 2 * len(HOTLINES)
    doc = lxml_html.fromstring(client.get("/").text)
    banners = {s.get("data-hotline"): s.xpath('string(.//div[contains(@class,"stale")]//strong)')
               for s in doc.xpath('//section[@data-hotline]')}
    assert sorted(banners) == HOTLINES
    for text in banners.values():  # the wording is the catalogue's; the facts are these
        assert "2019年1月2日" in text and "2019年1月5日" in text and "3天" in text, text
    _same_as_whole(client, page, clock)


def test_serve_settles_the_heap_after_many_new_snapshots_not_after_one(served, caplog):
    """heap.py: a refresh whose snapshots replaced more than a quarter of those at the last
    settle collects once and freezes the survivors (what ``hotline-kpi serve`` turns on);
    one hotline's new evaluation of four does not."""
    import gc

    engine, settings, cats, clock, cache, client, page = served
    cache.heap_upkeep = True
    try:
        with caplog.at_level(logging.DEBUG, logger="hotline_kpi.service.exporter"):
            cache.refresh()  # as at start-up: four snapshots, none settled yet
        assert cache.settles == 1 and gc.get_freeze_count() > 0
        # Operator-internal: at DEBUG, never among the INFO lines an office reads (issue #14).
        settled = [r for r in caplog.records if r.getMessage().startswith("heap settled after new snapshots")]
        assert [r.levelno for r in settled] == [logging.DEBUG], caplog.text
        assert evaluate_hotlines(engine, settings, cats, clock, "ingest", ["league-a"]) == ["league-a"]
        cache.refresh()
        assert cache.settles == 1  # one of four since the last settle
        assert sorted(evaluate_hotlines(engine, settings, cats, clock, "schedule")) == HOTLINES
        cache.refresh()
        assert cache.settles == 2
        cache.refresh()  # nothing new
        assert cache.settles == 2
        assert _ytd(client, "league-b", "connection_rate") == "80.00%"  # the page is whole
    finally:
        gc.unfreeze()
