"""The provisioned dashboards and data sources hold together (no process runs here);
and the test's expansion of Grafana's SQL macros matches Grafana's documented output."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import yaml

from hotline_kpi.catalogue import CatalogueSet
from tests.common import ROOT, TARGETS
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
        target = [r for r, t in refs.items() if "hotline_kpi_indicator_annual_target" in t.get("expr", "")]
        if p["type"] != "stat" or not target or len(refs) < 2:  # a stat of the target alone has no threshold
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


# --- What a Chinese reader sees (review of #16, findings 3 and 4) ---------------------------

#: How each indicator's values are shown: a ratio in percent, a volume in 万件, a time in 秒.
KIND = {"requests_accepted": "volume", "average_answer_seconds": "seconds"}
UNIT_OF = {"ratio": {"percentunit"}, "volume": {"suffix:万件"}, "seconds": {"s", "suffix:秒"}}
ALL = {"requests_accepted", "connection_rate", "first_contact_resolution_rate", "operator_fault_return_rate",
       "average_answer_seconds", "satisfaction_rate", "answered_within_15s_rate", "abandon_rate"}
PER_INDICATOR = re.compile(r"\bhotline_kpi_(indicator_value|volume_pace_requests|indicator_annual_target|projected_value|"
                           r"projection_interval|required_value)\b")


def _indicators(expr: str) -> set[str]:
    """The indicators a query's selectors admit."""
    out: set[str] | None = None
    for op, value in re.findall(r'indicator\s*(=~|!~|=|!=)\s*"([^"]*)"', expr):
        names = set(value.split("|"))
        chosen = {"=": names, "=~": names, "!=": ALL - names, "!~": ALL - names}[op]
        out = chosen if out is None else out & chosen
    return ALL if out is None else out


def test_a_table_or_stat_of_indicator_values_has_one_unit_and_states_it() -> None:
    """A table column has one unit: a table mixing ratios, volumes and seconds showed
    0.9231 for 92.31%, 4043724.0000 for 404.37万件 and 8.27 without 秒."""
    for name, d in DASHBOARDS.items():
        for p in grafana.panels(d):
            if p["type"] not in ("table", "stat"):
                continue
            overridden = {o["matcher"]["options"] for o in p["fieldConfig"].get("overrides", [])
                          if any(pr["id"] == "unit" for pr in o["properties"])}
            renamed = {}
            for t in p.get("transformations", []):
                if t["id"] == "organize":
                    renamed = t["options"].get("renameByName", {})
            for q in grafana.queries(name, {"panels": [p]}):
                if not q.is_prometheus or not PER_INDICATOR.search(q.text) or "ratio" in q.text \
                        or re.search(r"/\s*(\(|max|min|hotline_)", q.text):  # a share of two figures
                    continue
                column = renamed.get(f"Value #{q.ref_id}", q.target.get("legendFormat"))
                if column in overridden:
                    continue
                kinds = {KIND.get(i, "ratio") for i in _indicators(q.text)}
                assert len(kinds) == 1, f"{q.where}: one column, several units ({sorted(kinds)})"
                unit, kind = p["fieldConfig"]["defaults"].get("unit"), kinds.pop()
                # the volume still needed is requests a day (docs/metrics.md)
                want = {"suffix:件/日"} if kind == "volume" and "required_value" in q.text else UNIT_OF[kind]
                assert unit in want, f"{q.where}: unit {unit!r}"
                if unit == "suffix:万件" and "required_value" not in q.text:
                    assert "10000" in q.text, q.where


def test_annotation_titles_are_chinese_words_not_ids() -> None:
    for name, d in DASHBOARDS.items():
        for a in d["annotations"]["list"]:
            if (a.get("datasource") or {}).get("type") != grafana.PROMETHEUS:
                continue
            title = a.get("titleFormat", "")
            assert "{{" not in title and re.search(r"[\u4e00-\u9fff]", title), f"{name} / {a['name']}: {title!r}"
            assert "{{" not in a.get("textFormat", ""), f"{name} / {a['name']}: {a['textFormat']!r}"


def test_every_prometheus_alert_has_its_chinese_annotation() -> None:
    rules = yaml.safe_load((ROOT / "config/prometheus/rules/hotline-kpi.rules.yml").read_text(encoding="utf-8"))
    names = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    for name in ("overview.json", "operations.json"):
        annotated = {m for a in DASHBOARDS[name]["annotations"]["list"]
                     for m in re.findall(r'alertname="(\w+)"', a.get("expr", ""))}
        assert annotated == names, f"{name}: {sorted(names ^ annotated)}"


@pytest.mark.parametrize("panel, labels, shown", [
    ("年末未达标概率", {"indicator": "satisfaction_rate"}, "12345热线回访市民满意度"),
    ("年末未达标概率", {"indicator": "answered_within_15s_rate"}, "15秒接通率（跟踪）"),
    ("拒收与出错的文件（每小时）", {"source": "daily-report", "result": "error"}, "日报 出错"),
    ("任务上次成功距今", {"job_id": "alerts_dispatch"}, "告警通知投递"),
])
def test_legends_name_series_in_chinese(panel: str, labels: dict[str, str], shown: str) -> None:
    [(p, q)] = [(p, q) for n, d in DASHBOARDS.items() for p in grafana.panels(d) if p["title"] == panel
                for q in grafana.queries(n, {"panels": [p]})]
    assert grafana.shown_name(q.target["legendFormat"], labels, p) == shown
