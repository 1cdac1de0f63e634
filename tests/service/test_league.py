"""The league table from the store, on SQLite and PostgreSQL: four hotlines evaluated by the
service's own job, then /api/v1/league, the status page and /metrics, each checked
against ranks and roll-ups worked out by hand below.

The data (every hotline the same counters on both days, 2019-01-01 and 2019-01-02; as of
2019-01-02, so the year to date is those two days):

    hotline  province  offered answered wait_s  15s  fc_elig fc_res  disp ret  survey sat  requests
    a        江苏省       1000     950    4750  900     800    480    100   2    100   95    20000
    b        江苏省        100      80     320   60     100     50     50   1     10    9    20000
    c        浙江省       1000     950    4750  900     800    480    100   2    100   95    20000
    d        (none)      1000     900    7200  850     800    400    100   5   (none)      20000

Ratios of the two days' sums (each sum is twice a day's, so the ratio is the day's):

    connection (higher better)   a .95  b .80  c .95  d .90        -> a 1, c 1, d 3, b 4
    abandon (lower better)       a .05  b .20  c .05  d .10        -> a 1, c 1, d 3, b 4
    within 15 s of offered (hi)  a .90  b .60  c .90  d .85        -> a 1, c 1, d 3, b 4
    answer seconds (lower)       a 5    b 4    c 5    d 8          -> b 1, a 2, c 2, d 4
    first contact (higher)       a .60  b .50  c .60  d .50        -> a 1, c 1, b 3, d 3
    fault returns (lower)        a .02  b .02  c .02  d .05        -> a 1, b 1, c 1, d 4
    satisfaction (higher)        a .95  b .90  c .95  d no data    -> a 1, c 1, b 3, d unranked
    requests accepted            40,000 each: a volume, not ranked

Scores (report/scoring: six targeted indicators of weight 10; positive actual/target x 10,
reverse target/actual x 10, capped at 10; the year-to-date target of requests is
4,000,000 x 2/365 = 21,917.8, beaten by 40,000 -> 10; total rescaled to 100 of 60):

    a, c: 10 x 6 = 60 -> 100.00
    b: connection .80/.90 x 10 = 8.89; seconds 8/4 -> 10 (capped); the rest 10 -> 58.89 x 100/60 = 98.15
    d: satisfaction has no data -> 0 (report.scoring.no_data "zero"); fault .07/.05 -> 10 (capped);
       the rest 10 -> 50 x 100/60 = 83.33
    rank on score: a 1, c 1, b 3, d 4

Provinces from summed counters: 江苏省 = a + b; 浙江省 = c; d in none.

    江苏 connection (950 + 80) x 2 / ((1000 + 100) x 2) = 2060 / 2200 = 0.93636 (not the
         average of rates (.95 + .80) / 2 = .875) -> 2nd behind 浙江 .95
    江苏 seconds (4750 + 320) x 2 / ((950 + 80) x 2) = 10140 / 2060 = 4.9223 -> 1st before 浙江 5
    江苏 satisfaction (95 + 9) x 2 / ((100 + 10) x 2) = 208 / 220 = 0.94545 -> 2nd behind 浙江 .95
    江苏 requests 4 x 20,000 = 80,000

The peer (the shipped benchmark, Beijing 2019): satisfaction 87%, comparable: a .95, c .95,
b .90 are better -> would be 4th; requests accepted 2,520,000: a volume, not ranked.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from lxml import html as lxml_html
from prometheus_client import CollectorRegistry
from sqlalchemy import insert
from starlette.testclient import TestClient

from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import FixedClock
from hotline_kpi.domain import COUNTERS
from hotline_kpi.service.exporter import MetricsCache
from hotline_kpi.service.jobs import evaluate_hotlines
from hotline_kpi.service.league import LeagueBoard
from hotline_kpi.service.league_metrics import register
from hotline_kpi.service.runtime import Service
from hotline_kpi.service.web import build_app
from hotline_kpi.store.models import DailyCountersRow, HotlineRow
from tests.common import SHANGHAI, TZ

DAYS = (dt.date(2019, 1, 1), dt.date(2019, 1, 2))
CLOCK = dt.datetime(2019, 1, 3, 9, 0, tzinfo=TZ)  # yesterday in Shanghai: 2019-01-02
PROVINCES = {"a": "江苏省", "b": "江苏省", "c": "浙江省", "d": ""}
DAY = {  # offered, answered, wait, 15s, fc_elig, fc_res, dispatched, returned, survey, satisfied
    "a": (1000, 950, 4750, 900, 800, 480, 100, 2, 100, 95),
    "b": (100, 80, 320, 60, 100, 50, 50, 1, 10, 9),
    "c": (1000, 950, 4750, 900, 800, 480, 100, 2, 100, 95),
    "d": (1000, 900, 7200, 850, 800, 400, 100, 5, None, None),
}


def _catalogues(catalogues: CatalogueSet) -> CatalogueSet:
    base = catalogues.for_year(SHANGHAI, 2019)
    return CatalogueSet([base.model_copy(update={"hotline": base.hotline.model_copy(
        update={"id": f"league-{k}", "name": f"热线{k.upper()}", "name_en": f"Hotline {k.upper()}",
                "province": p})}) for k, p in PROVINCES.items()])


def _fill(engine, keys: str = "abcd", requests: int = 20000, days: tuple[dt.date, ...] = DAYS,
          new: bool = True) -> None:
    rows = []
    for k, (off, ans, wait, w15, fce, fcr, disp, ret, srv, sat) in DAY.items():
        if k not in keys:
            continue
        for day in days:
            vals = dict.fromkeys(COUNTERS)
            vals.update(requests_accepted=requests, calls_offered=off, calls_answered=ans, calls_abandoned_short=0,
                        answer_wait_seconds_sum=wait, calls_answered_within_15s=w15, first_contact_eligible=fce,
                        first_contact_resolved=fcr, tickets_dispatched=disp, tickets_returned_operator_fault=ret,
                        survey_responses=srv, survey_satisfied=sat)
            rows.append({"hotline_id": f"league-{k}", "day": day, "provenance": "{}", **vals})
    with engine.begin() as conn:
        if new:
            conn.execute(insert(HotlineRow), [{"id": f"league-{k}", "name": f"热线{k.upper()}", "name_en": f"Hotline {k}",
                                               "timezone": "Asia/Shanghai"} for k in keys])
        conn.execute(insert(DailyCountersRow), rows)


@pytest.fixture
def world(engine, settings, catalogues):
    cats = _catalogues(catalogues)
    clock = FixedClock(CLOCK)
    _fill(engine)
    assert sorted(evaluate_hotlines(engine, settings, cats, clock, "test")) == [f"league-{k}" for k in "abcd"]
    cache = MetricsCache(engine, {h.id: h.timezone for h in cats.hotlines()}, clock.now)
    cache.refresh()
    return cache, settings, cats, clock


RANKS = {  # indicator -> ranks of a, b, c, d (the docstring's table)
    "connection_rate": [1, 4, 1, 3],
    "abandon_rate": [1, 4, 1, 3],
    "answered_within_15s_rate": [1, 4, 1, 3],
    "average_answer_seconds": [2, 1, 2, 4],
    "first_contact_resolution_rate": [1, 3, 1, 3],
    "operator_fault_return_rate": [1, 1, 1, 4],
    "satisfaction_rate": [1, 3, 1, None],
}


def test_the_api_serves_hand_computed_ranks_scores_roll_ups_and_the_peer(world):
    cache, settings, cats, clock = world
    board = LeagueBoard.from_settings(settings, cats)
    client = TestClient(build_app(cache, settings, cats, clock.now, league=board))
    body = client.get("/api/v1/league").json()
    assert body["window"] == "year_to_date"
    hot = {h["hotline"]: h for h in body["hotlines"]}
    for ind, ranks in RANKS.items():
        assert [hot[f"league-{k}"]["indicators"][ind]["rank"] for k in "abcd"] == ranks, ind
    d_sat = hot["league-d"]["indicators"]["satisfaction_rate"]
    assert (d_sat["value"], d_sat["rank"], d_sat["unranked"]) == (None, None, "no_data")
    req = hot["league-a"]["indicators"]["requests_accepted"]
    assert (req["value"], req["rank"], req["unranked"]) == (40000, None, "volume")
    assert hot["league-b"]["indicators"]["connection_rate"]["value"] == pytest.approx(0.8)
    assert hot["league-b"]["indicators"]["average_answer_seconds"]["value"] == pytest.approx(4.0)
    assert [(h["hotline"], h["score"], h["score_rank"]) for h in body["hotlines"]] == [
        ("league-a", 100.0, 1), ("league-c", 100.0, 1), ("league-b", 98.15, 3), ("league-d", 83.33, 4)]
    assert (hot["league-a"]["province"], hot["league-d"]["province"]) == ("江苏省", None)

    prov = {p["province"]: p for p in body["provinces"]}
    assert list(prov) == ["江苏省", "浙江省"] and body["without_province"] == ["league-d"]
    js, zj = prov["江苏省"]["indicators"], prov["浙江省"]["indicators"]
    assert prov["江苏省"]["hotlines"] == ["league-a", "league-b"]
    assert (js["connection_rate"]["numerator"], js["connection_rate"]["denominator"]) == (2060, 2200)
    assert js["connection_rate"]["value"] == pytest.approx(2060 / 2200)
    assert (js["connection_rate"]["rank"], zj["connection_rate"]["rank"]) == (2, 1)
    assert js["average_answer_seconds"]["value"] == pytest.approx(10140 / 2060)
    assert (js["average_answer_seconds"]["rank"], zj["average_answer_seconds"]["rank"]) == (1, 2)
    assert js["satisfaction_rate"]["value"] == pytest.approx(208 / 220)
    assert (js["satisfaction_rate"]["rank"], zj["satisfaction_rate"]["rank"]) == (2, 1)
    assert js["requests_accepted"]["value"] == 80000

    (peer,) = body["peers"]
    assert peer["published_figures"] is True and peer["year"] == 2019 and peer["peer"] == "北京12345"
    sat = peer["indicators"]["satisfaction_rate"]
    assert (sat["value"], sat["rank"], sat["comparable"]) == (0.87, 4, True)
    assert "基本满意" in sat["definition"] and sat["published"] == "满意率87%"
    assert peer["indicators"]["requests_accepted"]["unranked"] == "volume"
    assert peer["indicators"]["connection_rate"] == {"value": None, "rank": None, "unranked": "not_published"}
    assert {f["label"]: f["published"] for f in peer["other_figures"]} == {"全年来电量": "来电696万个（约1.9万个/日）",
                                                                         "解决率": "解决率75%"}
    assert body["year"] == 2019 and body["as_of"] == {"first": "2019-01-02", "last": "2019-01-02"}
    assert hot["league-b"]["name_en"] == "Hotline B"

    # served from the board, built once per evaluation, not per request
    builds = board.builds
    assert client.get("/api/v1/league").json() == body
    assert board.builds == builds
    # encoded and compressed once per evaluation (issue #19): the same bytes, gzip when asked
    assert board.answer(cache.model.snapshots) is board.answer(cache.model.snapshots)
    zipped = client.get("/api/v1/league", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.json() == body
    assert client.get("/api/v1/league", headers={"Accept-Encoding": "identity"}).headers.get("content-encoding") is None
    other = client.get("/api/v1/league?window=day").json()
    assert other["window"] == "day" and board.builds == builds + 1
    bad = client.get("/api/v1/league?window=week")
    assert bad.status_code == 400 and "year_to_date" in bad.json()["windows"]


def _cell(page, row_attr: str, key: str, ind: str) -> tuple[str, str]:
    (td,) = page.xpath(f'//table[contains(@class,"league")]//tr[@{row_attr}="{key}"]/td[@data-indicator="{ind}"]')
    return td.xpath('string(span[@class="value"])'), td.xpath('string(span[@class="rank"])')


def test_the_status_page_shows_the_league_in_chinese(world):
    cache, settings, cats, clock = world
    client = TestClient(build_app(cache, settings, cats, clock.now))
    page = lxml_html.fromstring(client.get("/").text)
    assert page.xpath('string(//section[@id="league"]/h2)') == "排行榜（年累计）"
    assert _cell(page, "data-hotline", "league-b", "average_answer_seconds") == ("4.00 秒", "第1名")
    assert _cell(page, "data-hotline", "league-a", "average_answer_seconds") == ("5.00 秒", "第2名")
    assert _cell(page, "data-hotline", "league-b", "connection_rate") == ("80.00%", "第4名")
    assert _cell(page, "data-hotline", "league-d", "satisfaction_rate") == ("—", "无数据，不排名")
    assert _cell(page, "data-hotline", "league-a", "requests_accepted") == ("40,000", "规模指标，不排名")
    rows = page.xpath('//table[contains(@class,"hotlines")]/tbody/tr[@data-hotline]')
    assert [(r.get("data-hotline"), r.xpath('string(td[@class="score"])'), r.xpath('string(td[@class="score-rank"])'))
            for r in rows] == [("league-a", "100.00", "1"), ("league-c", "100.00", "1"), ("league-b", "98.15", "3"),
                               ("league-d", "83.33", "4")]
    assert page.xpath('string(//tr[@data-hotline="league-d"]/td[@class="province"])') == "未填写"
    # 江苏 connection 2060 / 2200 = 93.64%, 2nd; seconds 10140 / 2060 = 4.92 s, 1st
    assert _cell(page, "data-province", "江苏省", "connection_rate") == ("93.64%", "第2名")
    assert _cell(page, "data-province", "江苏省", "average_answer_seconds") == ("4.92 秒", "第1名")
    assert _cell(page, "data-province", "浙江省", "connection_rate") == ("95.00%", "第1名")
    # the peer, marked as published figures, with its definitions
    assert page.xpath('string(//tr[@data-peer="北京12345"]/td[@class="name"])') == "北京12345（2019年公开数据）"
    assert _cell(page, "data-peer", "北京12345", "satisfaction_rate") == ("87.00%", "相当于第4名")
    notes = page.xpath('string(//div[contains(@class,"peer-definitions")])')
    assert "非本系统评估，不计入任何省份" in notes and "满意率87%" in notes and "基本满意" in notes
    assert not page.xpath('//tr[@data-province="北京12345"]')
    # what the peer does not publish is said so; its figures matching none of our
    # indicators (解决率, 来电量) are shown with their definitions
    assert _cell(page, "data-peer", "北京12345", "connection_rate") == ("—", "无公开数据")
    assert _cell(page, "data-peer", "北京12345", "average_answer_seconds") == ("—", "无公开数据")
    assert "解决率：解决率75%；北京解决率为办理单位解决的比例" in notes
    assert "全年来电量：来电696万个（约1.9万个/日）；来电量反映业务规模" in notes
    assert page.xpath('string(//p[contains(@class,"league-as-of")])') == (
        "数据截至2019年1月2日；仅对2019年的评估排名和汇总，不跨年度比较或相加")
    assert page.xpath('string(//tr[@data-hotline="league-b"]/td[@class="as-of"])') == "2019年1月2日"
    english = lxml_html.fromstring(client.get("/?lang=en").text)
    assert english.xpath('string(//section[@id="league"]/h2)').startswith("League table")
    assert _cell(english, "data-hotline", "league-b", "average_answer_seconds")[1] == "No. 1"
    # the boards' English names, not the Chinese ones
    assert english.xpath('string(//table[contains(@class,"league")]//tr[@data-hotline="league-b"]/td[@class="name"])'
                         ) == "Hotline B"
    assert _cell(english, "data-peer", "北京12345", "connection_rate") == ("—", "no published figure")
    assert english.xpath('string(//p[contains(@class,"league-as-of")])').startswith("as of 2019-01-02")


def test_the_collector_exports_ranks_and_scores_within_ten_series_per_hotline(world):
    cache, settings, cats, clock = world
    registry = CollectorRegistry(auto_describe=False)
    register([registry], LeagueBoard.from_settings(settings, cats), lambda: cache.model.snapshots)
    for ind, ranks in RANKS.items():
        for k, r in zip("abcd", ranks):
            assert registry.get_sample_value("hotline_kpi_league_rank",
                                             {"hotline": f"league-{k}", "indicator": ind}) == r, (ind, k)
    assert registry.get_sample_value("hotline_kpi_league_rank", {"hotline": "league-a",
                                                                 "indicator": "requests_accepted"}) is None
    assert registry.get_sample_value("hotline_kpi_league_score", {"hotline": "league-b"}) == 98.15
    assert registry.get_sample_value("hotline_kpi_league_score_rank", {"hotline": "league-d"}) == 4
    assert registry.get_sample_value("hotline_kpi_league_ranked_hotlines", {"indicator": "satisfaction_rate"}) == 3
    per_hotline: dict[str, int] = {}
    for family in registry.collect():
        for s in family.samples:
            if "hotline" in s.labels:
                per_hotline[s.labels["hotline"]] = per_hotline.get(s.labels["hotline"], 0) + 1
    assert max(per_hotline.values()) <= 10 and per_hotline["league-a"] == 9


def test_the_service_registers_the_league_with_its_metrics(engine, settings, catalogues):
    cats = _catalogues(catalogues)
    _fill(engine)
    settings = settings.model_copy(update={"database_url": engine.url.render_as_string(hide_password=False)})
    svc = Service(settings, cats, engine, FixedClock(CLOCK), holder="test")
    try:
        svc.evaluate("test")
        svc.cache.refresh()
        text = svc.cache.rendered().decode()
        assert re.search(r'^hotline_kpi_league_rank\{hotline="league-b",indicator="average_answer_seconds"\} 1\.0$',
                         text, re.M)
        assert svc.cache.registry.get_sample_value("hotline_kpi_league_score_rank", {"hotline": "league-b"}) == 3
    finally:
        svc.stop()


# --- a catalogue added while serving, the year boundary, hotlines without data -----------

def _catalogue_file(folder, key: str, year: int, province: str, parent: str = "base/shanghai.yaml") -> None:
    extra = "" if parent.startswith("base/") else f"year: {year}\n"
    (folder / f"league-{key}-{year}.yaml").write_text(
        f"inherits: {parent}\n{extra}hotline:\n  id: league-{key}\n  name: 热线{key.upper()}\n"
        f"  name_en: Hotline {key.upper()}\n  province: {province or 'null'}\n", encoding="utf-8")


@pytest.fixture
def served(engine, settings, tmp_path):
    """The service as ``serve`` runs it: a catalogue folder followed while serving (a and b
    in 2019, e configured without any data), its own evaluation, the page and the API."""
    from hotline_kpi.service.catalogues import LiveCatalogues
    from tests.common import TARGETS

    folder = tmp_path / "targets"
    (folder / "base").mkdir(parents=True)
    (folder / "base" / "shanghai.yaml").write_text((TARGETS / "shanghai-12345-2019.yaml").read_text("utf-8"), "utf-8")
    for k, p in (("a", "江苏省"), ("b", "江苏省"), ("e", "浙江省")):
        _catalogue_file(folder, k, 2019, p)
    live = LiveCatalogues(folder)
    settings = settings.model_copy(update={"database_url": engine.url.render_as_string(hide_password=False),
                                           "targets_dir": folder})
    _fill(engine, "ab")
    svc = Service(settings, live, engine, FixedClock(CLOCK), holder="test")
    svc.evaluate("test")
    client = TestClient(build_app(svc.cache, settings, live, svc.clock.now, league=svc.league))
    yield svc, client, folder, settings
    svc.stop()


def test_a_hotline_added_while_serving_joins_the_league_the_page_and_the_metrics(served, caplog):
    """A new hotline's catalogue is added while ``serve`` runs and ``hotline-kpi ingest``
    evaluates it with the folder as it is now: the league, the page and the metrics list
    it at the next refresh (they used to leave it out silently until a restart)."""
    svc, client, folder, settings = served
    assert [h["hotline"] for h in client.get("/api/v1/league").json()["hotlines"]] == [
        "league-a", "league-b", "league-e"]
    caplog.set_level(logging.INFO, logger="hotline_kpi")
    _catalogue_file(folder, "c", 2019, "浙江省")
    _fill(svc.engine, "c")
    cli_catalogues = CatalogueSet.from_dir(folder)  # what `hotline-kpi ingest --hotline league-c` loads
    assert evaluate_hotlines(svc.engine, settings, cli_catalogues, svc.clock, "ingest", ["league-c"]) == ["league-c"]
    svc.cache.refresh()

    body = client.get("/api/v1/league").json()
    hot = {h["hotline"]: h for h in body["hotlines"]}
    # c has a's counters: connection .95 -> 1st with a; b .80 -> 3rd
    assert [hot[f"league-{k}"]["indicators"]["connection_rate"]["rank"] for k in "abc"] == [1, 3, 1]
    assert hot["league-c"]["name"] == "热线C" and hot["league-c"]["province"] == "浙江省"
    assert {p["province"]: p["hotlines"] for p in body["provinces"]} == {"江苏省": ["league-a", "league-b"],
                                                                          "浙江省": ["league-c"]}
    page = lxml_html.fromstring(client.get("/").text)
    assert _cell(page, "data-hotline", "league-c", "connection_rate") == ("95.00%", "第1名")
    assert svc.cache.registry.get_sample_value("hotline_kpi_league_rank",
                                               {"hotline": "league-c", "indicator": "connection_rate"}) == 1
    assert any("league-c 2019" in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]
    assert svc.catalogues.reloads == 1


def test_a_configured_hotline_without_data_is_listed_not_ranked(served):
    svc, client, _folder, _settings = served
    body = client.get("/api/v1/league").json()
    e = next(h for h in body["hotlines"] if h["hotline"] == "league-e")
    assert (e["score"], e["score_rank"], e["as_of"]) == (None, None, None)
    assert {i["rank"] for i in e["indicators"].values()} == {None}
    assert {i["unranked"] for i in e["indicators"].values()} == {"no_data"}
    # in no roll-up (it has nothing to add): 浙江省 has no hotline with data
    assert [p["province"] for p in body["provinces"]] == ["江苏省"]
    page = lxml_html.fromstring(client.get("/").text)
    assert _cell(page, "data-hotline", "league-e", "connection_rate") == ("—", "无数据，不排名")
    assert page.xpath('string(//tr[@data-hotline="league-e"]/td[@class="score"])') == "—"


def test_the_league_ranks_and_rolls_up_one_year_only(served):
    """At the year boundary: b's 2020 catalogue (inheriting 2019) is added while serving and
    b evaluated as of 2020-01-01 (one day of 2020), a still as of 2019-01-02. The league is
    of 2020: b is ranked alone (1st of 1), a is listed as not of 2020 and not ranked, and
    江苏省 is rolled up from b's 2020 counters only: 80 / 100 (not (1900 + 80) / (2000 + 100))."""
    svc, client, folder, settings = served
    _catalogue_file(folder, "b", 2020, "江苏省", parent="league-b-2019.yaml")
    _fill(svc.engine, "b", days=(dt.date(2020, 1, 1),), new=False)
    clock = FixedClock(dt.datetime(2020, 1, 2, 9, 0, tzinfo=TZ))
    assert evaluate_hotlines(svc.engine, settings, CatalogueSet.from_dir(folder), clock, "ingest",
                             ["league-b"]) == ["league-b"]
    svc.cache.refresh()
    body = client.get("/api/v1/league").json()
    assert body["year"] == 2020 and body["as_of"] == {"first": "2020-01-01", "last": "2020-01-01"}
    hot = {h["hotline"]: h for h in body["hotlines"]}
    assert hot["league-b"]["as_of"] == "2020-01-01" and hot["league-a"]["as_of"] == "2019-01-02"
    assert hot["league-b"]["indicators"]["connection_rate"]["rank"] == 1
    assert hot["league-b"]["indicators"]["connection_rate"]["value"] == pytest.approx(0.8)
    a = hot["league-a"]["indicators"]["connection_rate"]
    assert (a["rank"], a["unranked"], hot["league-a"]["score_rank"]) == (None, "other_year", None)
    (js,) = body["provinces"]
    assert js["hotlines"] == ["league-b"]
    assert (js["indicators"]["connection_rate"]["numerator"], js["indicators"]["connection_rate"]["denominator"]) == (
        80, 100)
    assert js["indicators"]["requests_accepted"]["value"] == 20000
    page = lxml_html.fromstring(client.get("/").text)
    assert page.xpath('string(//p[contains(@class,"league-as-of")])').startswith("数据截至2020年1月1日")
    assert page.xpath('string(//tr[@data-hotline="league-a"]/td[@class="as-of"])') == "2019年1月2日"
    assert _cell(page, "data-hotline", "league-a", "connection_rate") == ("95.00%", "非2020年数据，不排名")
    assert _cell(page, "data-hotline", "league-b", "connection_rate") == ("80.00%", "第1名")
    assert svc.cache.registry.get_sample_value("hotline_kpi_league_rank",
                                               {"hotline": "league-a", "indicator": "connection_rate"}) is None
    assert svc.cache.registry.get_sample_value("hotline_kpi_league_ranked_hotlines",
                                               {"indicator": "connection_rate"}) == 1
