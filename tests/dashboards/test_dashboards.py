"""The provisioned dashboards and data sources hold together (no process runs here);
and the test's expansion of Grafana's SQL macros matches Grafana's documented output."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from hotline_kpi.catalogue import CatalogueSet
from tests.common import TARGETS
from tests.dashboards import grafana

DASHBOARDS = grafana.load_dashboards()
DATASOURCES = grafana.load_datasources()
UIDS = {"overview.json": "hotline-kpi-overview", "trends.json": "hotline-kpi-trends",
        "operations.json": "hotline-kpi-operations"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_the_three_dashboards_have_pinned_unique_uids() -> None:
    assert {name: d["uid"] for name, d in DASHBOARDS.items()} == UIDS
    for d in DASHBOARDS.values():
        assert d.get("id") is None, "a provisioned dashboard carries no database id"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_shape(name: str) -> None:
    d = DASHBOARDS[name]
    assert d["timezone"] == "Asia/Shanghai"
    assert CJK.search(d["title"]), d["title"]
    assert "hotline-kpi" in d["tags"]
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert "hotline" in variables and not variables["hotline"].get("multi")
    ids = [p["id"] for p in d["panels"]] + [c["id"] for p in d["panels"] for c in p.get("panels", [])]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for p in grafana.panels(d):
        assert CJK.search(p["title"]), f"{name}: panel title {p['title']!r} is not Chinese"
        assert p.get("targets"), f"{name}: panel {p['title']!r} has no query"
        for t in p["targets"]:
            assert t.get("refId"), p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]
    for q in grafana.queries(name, d):
        if "hotline=" in q.text or "hotline =" in q.text:
            assert "$hotline" in q.text, f"{q.where}: a hotline filter not bound to the variable"


def test_every_data_source_used_is_provisioned_with_its_type() -> None:
    provisioned = {ds["uid"]: ds["type"] for ds in DATASOURCES}
    used = []
    for name, d in DASHBOARDS.items():
        for q in grafana.queries(name, d):
            used.append((q.where, q.datasource))
        for p in grafana.panels(d):
            if p.get("datasource"):
                used.append((f"{name} / {p['title']}", p["datasource"]))
        for v in d["templating"]["list"]:
            if v.get("datasource"):
                used.append((f"{name} / ${v['name']}", v["datasource"]))
    assert used
    for where, ds in used:
        assert ds.get("uid") in provisioned, f"{where}: data source uid {ds.get('uid')!r} is not provisioned"
        assert ds.get("type") == provisioned[ds["uid"]], f"{where}: type {ds.get('type')} != provisioned"


def test_the_data_sources_are_pinned_and_take_secrets_from_the_environment() -> None:
    by_type = {ds["type"]: ds for ds in DATASOURCES}
    assert set(by_type) >= {"prometheus", "grafana-postgresql-datasource"}
    assert len({ds["uid"] for ds in DATASOURCES}) == len(DATASOURCES)
    pg = by_type["grafana-postgresql-datasource"]
    assert pg["jsonData"]["database"].startswith("$__env{")  # Grafana 12: database in jsonData
    assert "database" not in pg
    assert re.fullmatch(r"\$__env\{\w+\}", pg["secureJsonData"]["password"])
    assert "password" not in pg and "password" not in pg.get("jsonData", {})
    for ds in DATASOURCES:
        assert ds["access"] == "proxy"
        assert ds["url"].startswith("$__env{"), ds["name"]


def test_the_dashboard_provider_reads_files() -> None:
    providers = grafana.load_dashboard_providers()
    assert len(providers) == 1
    p = providers[0]
    assert p["type"] == "file" and p["options"]["path"] == "/etc/grafana/dashboards/hotline-kpi"


def _year_to_date_stats() -> list[tuple[str, str, dict]]:
    out = []
    for p in grafana.panels(DASHBOARDS["overview.json"]):
        if p["type"] != "stat":
            continue
        a = p["targets"][0]["expr"]
        m = re.fullmatch(r'max\(hotline_kpi_indicator_value\{hotline="\$hotline",indicator="(\w+)",'
                         r'window="year_to_date"\}\)', a)
        if m:
            out.append((m.group(1), p["title"], p["fieldConfig"]["defaults"]["thresholds"]["steps"]))
    return out


def test_overview_thresholds_sit_at_the_catalogue_targets() -> None:
    """Grafana's thresholds are static: they must equal the targets of the newest
    catalogue, in the right direction (green on the side that meets the target)."""
    cats = CatalogueSet.from_dir(TARGETS)
    hotline = "shanghai-12345"
    cat = cats.for_year(hotline, cats.years(hotline)[-1])
    stats = {ind: (title, steps) for ind, title, steps in _year_to_date_stats()}
    targeted = {i.id: i for i in cat.quantitative if i.targeted and i.aggregation == "ratio"}
    assert set(targeted) <= set(stats), f"no year-to-date stat for {set(targeted) - set(stats)}"
    for ind_id, ind in targeted.items():
        title, steps = stats[ind_id]
        assert len(steps) == 2 and steps[0]["value"] is None, title
        assert steps[1]["value"] == ind.threshold, f"{title}: threshold {steps[1]['value']} != target {ind.threshold}"
        meets_above = ind.comparator.value in (">=", ">")
        assert [s["color"] for s in steps] == (["red", "green"] if meets_above else ["green", "red"]), title
    for ind_id, (title, steps) in stats.items():
        if ind_id not in targeted:
            assert len(steps) == 1, f"{title}: a tracked indicator has no target threshold"


# --- the SQL macro expansion of the tests, against Grafana's documented examples -------

RANGE = (dt.datetime(2017, 4, 21, 5, 1, 17, tzinfo=dt.timezone.utc),
         dt.datetime(2017, 4, 21, 5, 6, 17, tzinfo=dt.timezone.utc))


@pytest.mark.parametrize("sql, expanded", [
    ("$__timeFilter(time)", "time BETWEEN '2017-04-21T05:01:17Z' AND '2017-04-21T05:06:17Z'"),
    ("$__time(day)", 'day AS "time"'),
    ("$__timeFrom()", "'2017-04-21T05:01:17Z'"),
    ("$__timeTo()", "'2017-04-21T05:06:17Z'"),
    ("$__timeGroup(time_column,'5m')", "floor(extract(epoch from time_column)/300)*300"),
    ("$__timeGroupAlias(time_column, '1d')", 'floor(extract(epoch from time_column)/86400)*86400 AS "time"'),
    ("$__unixEpochFilter(ts)", "ts >= 1492750877 AND ts <= 1492751177"),
    ("$__unixEpochFrom()", "1492750877"),
])
def test_grafana_sql_macros_expand_as_grafana_does(sql: str, expanded: str) -> None:
    assert grafana.expand_sql_macros(sql, *RANGE) == expanded


def test_an_unknown_macro_fails_as_in_grafana() -> None:
    with pytest.raises(ValueError, match="unknown macro"):
        grafana.expand_sql_macros("SELECT $__nope(x)", *RANGE)


def test_fractional_range_ends_keep_milliseconds() -> None:
    end = dt.datetime(2019, 12, 31, 23, 59, 59, 999000, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert grafana.expand_sql_macros("$__timeTo()", RANGE[0], end) == "'2019-12-31T15:59:59.999Z'"


def test_variables_interpolate_and_unknown_ones_fail() -> None:
    assert grafana.interpolate("a='$hotline' b=${hotline} c=[[hotline]] $__timeFilter(t)",
                               {"hotline": "h"}) == "a='h' b=h c=h $__timeFilter(t)"
    with pytest.raises(KeyError):
        grafana.interpolate("$nope", {})


def test_no_panel_sums_what_an_ha_pair_reports_twice() -> None:
    """Two ``serve`` processes on one database export the same figures and counters
    (docs/metrics.md): a panel reduces them with ``max``/``min``, never ``sum``. Only the
    leader flag differs between processes, and summing it counts the leaders."""
    for name, d in DASHBOARDS.items():
        for q in grafana.queries(name, d):
            if not q.is_prometheus:
                continue
            for m in re.finditer(r"\b(sum|count)\b\s*(?:by\s*\([^)]*\)\s*)?\(", q.text):
                inner = q.text[m.end():]
                assert inner.startswith("hotline_kpi_scheduler_leader") or inner.startswith("max by") \
                    or inner.startswith("min by"), f"{q.where}: {m.group(1)} over per-process series: {q.text}"


def test_trends_draw_a_missing_day_as_a_gap() -> None:
    """A day without a row is no point, not a null: Grafana joins the neighbours unless
    it inserts nulls where two points are further apart than a day (insertNulls)."""
    for p in grafana.panels(DASHBOARDS["trends.json"]):
        if p["type"] != "timeseries":
            continue
        custom = p["fieldConfig"]["defaults"]["custom"]
        assert custom["spanNulls"] is False, p["title"]
        assert 86_400_000 < custom["insertNulls"] < 2 * 86_400_000, p["title"]


def test_volumes_are_shown_in_wan_jian() -> None:
    for name, d in DASHBOARDS.items():
        for p in grafana.panels(d):
            for q in grafana.queries(name, {"panels": [p]}):
                if "requests_accepted" in q.text and "ratio" not in q.text and p["type"] != "table" \
                        and "volume_pace:ratio" not in q.text and "annual_target" not in q.text.split("/")[-1]:
                    assert p["fieldConfig"]["defaults"]["unit"] == "suffix:万件", q.where
                    assert "10000" in q.text, q.where


def test_no_title_hard_codes_a_year_or_a_target() -> None:
    for name, d in DASHBOARDS.items():
        texts = [d["title"], d.get("description", "")] + [t for p in d["panels"] for t in (p["title"],)]
        texts += [t for p in grafana.panels(d) for t in (p["title"], p.get("description", ""))]
        for text in texts:
            if "演示" in text:  # the Trends link to the demo year says which year it is
                continue
            assert not re.search(r"20\d\d|400万|4,000,000", text), f"{name}: {text!r}"


def test_the_target_stats_take_their_threshold_from_the_target_query() -> None:
    for p in grafana.panels(DASHBOARDS["overview.json"]):
        refs = {t["refId"]: t for t in p.get("targets", [])}
        target = [r for r, t in refs.items() if "hotline_kpi_indicator_target" in t.get("expr", "")]
        if p["type"] != "stat" or not target:
            continue
        cfd = [t for t in p.get("transformations", []) if t["id"] == "configFromData"]
        assert cfd, f"{p['title']}: threshold not taken from the target"
        opts = cfd[0]["options"]
        assert opts["configRefId"] == target[0]
        assert opts["mappings"] == [{"fieldName": refs[target[0]]["legendFormat"], "handlerKey": "threshold1"}]


def test_every_recording_rule_is_charted() -> None:
    import yaml

    from tests.common import ROOT
    rules = [r["record"] for path in (ROOT / "config" / "prometheus" / "rules").glob("*.yml")
             for g in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"] for r in g["rules"] if "record" in r]
    text = json.dumps(DASHBOARDS, ensure_ascii=False)
    assert rules and [r for r in rules if r not in text] == []


def test_every_dashboard_links_the_status_page_and_the_others() -> None:
    for name, d in DASHBOARDS.items():
        links = d["links"]
        assert any(link["type"] == "dashboards" and "hotline-kpi" in link["tags"] for link in links), name
        status = [link for link in links if link.get("url", "").startswith("${status_url}")]
        assert status and CJK.search(status[0]["title"]), name
        variables = {v["name"]: v for v in d["templating"]["list"]}
        assert variables["status_url"]["type"] == "textbox" and \
            variables["status_url"]["query"].startswith("http"), name
