"""What a mail says: subjects in both languages, bodies, and escaping of data and config."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path

from sqlalchemy import Engine

from hotline_kpi.alerts.content import Links, daily_figures, headline, render_alert, render_digest, DigestItem
from hotline_kpi.alerts.smtp import build_message
from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import FixedClock
from hotline_kpi.domain import DailyCounters
from hotline_kpi.formulas import FormulaSettings
from tests.alerts.conftest import OFFICE, SH, SmtpServer, World, local, make_settings, rates
from tests.common import TARGETS


def figures(**extra) -> dict:
    base = {"rule": "r", "condition": "breached", "as_of": "2019-06-09", "data_date": "2019-06-09",
            "id": "connection_rate", "window": "year_to_date", "start": "2019-01-01", "end": "2019-06-09",
            "value": 0.8872, "target": 0.9, "annual_target": 0.9, "comparator": ">=", "status": "breached",
            "unit": "ratio", "days_with_data": 160, "days_in_window": 160, "pace": None, "shortfall": None}
    return {**base, **extra}


def test_subjects_name_severity_indicator_window_value_and_target(catalogues: CatalogueSet):
    cat = catalogues.for_year(SH, 2019)
    conn, wait, vol = cat.indicator("connection_rate"), cat.indicator("average_answer_seconds"), \
        cat.indicator("requests_accepted")
    assert headline("firing", figures(), conn, "zh") == "热线接通率 年累计 88.72% 低于目标 90%"
    assert headline("firing", figures(), conn, "en") == "Connection rate Year to date 88.72% below target 90%"
    assert headline("resolved", figures(value=0.9012), conn, "en") == \
        "Connection rate Year to date 90.12% meets target 90%"
    slow = figures(id="average_answer_seconds", window="trailing_7d", value=9.1, target=8, comparator="<=",
                   unit="seconds")
    assert headline("firing", slow, wait, "zh") == "电话接通时长 近7日 9.10 秒 高于目标 8 秒"
    assert headline("firing", slow, wait, "en") == "Average speed of answer 7 days 9.10 s above target 8 s"
    behind = figures(id="requests_accepted", condition="behind_pace", value=1_800_000, target=1_912_329,
                     pace=1_912_329, shortfall=112_329, annual_target=4_000_000, unit="requests")
    assert headline("firing", behind, vol, "zh") == "全年12345热线平台受理量 年累计 1,800,000 落后进度 1,912,329"
    risk = figures(condition="at_risk", projection={"projected_value": 0.891, "threshold": 0.9, "comparator": ">="})
    assert headline("firing", risk, conn, "zh") == "热线接通率 年末预测 89.10% 低于目标 90%"
    quiet = {"condition": "no_data", "source": "daily-report", "after_days": 2, "days_since": 3.25}
    assert headline("firing", quiet, None, "zh") == "日报 已 3.2 天未载入新文件（阈值 2 天）"
    assert headline("firing", quiet, None, "en") == "daily report no file loaded for 3.2 days (limit 2 days)"
    assert headline("resolved", quiet, None, "zh") == "日报 已恢复载入"


def test_an_english_notice_is_english_and_rfc_2047_encoded_only_where_needed(catalogues: CatalogueSet):
    cat = catalogues.for_year(SH, 2019)
    content = render_alert(lang="en", kind="firing", severity="critical", hotline=cat.hotline,
                           indicator=cat.indicator("connection_rate"), rule_id="r", rule_note="", figures=figures(),
                           payload={"results": [], "completeness": {}}, days=[], links=Links(), since=None,
                           alert_id=7)
    assert content.subject == "[12345 KPI][CRITICAL] Connection rate Year to date 88.72% below target 90%"
    assert "Indicator: Connection rate" in content.text and "Shanghai 12345 Citizen Service Hotline" in content.html
    zh = render_alert(lang="zh", kind="firing", severity="critical", hotline=cat.hotline,
                      indicator=cat.indicator("connection_rate"), rule_id="r", rule_note="", figures=figures(),
                      payload={"results": []}, days=[], links=Links(), since=None, alert_id=7)
    msg = build_message(subject=zh.subject, text=zh.text, html=zh.html, sender="kpi@example.org", to=[OFFICE],
                        message_id="<x@example.org>", date=local(2019, 6, 10))
    raw = msg.as_bytes()
    assert b"=?utf-8?" in raw and "热线".encode() not in raw.split(b"\r\n\r\n", 1)[0]  # headers are ASCII
    back = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(back["Subject"]) == "[12345 KPI][严重] 热线接通率 年累计 88.72% 低于目标 90%"
    assert [p.get_content_type() for p in back.walk()] == ["multipart/alternative", "text/plain", "text/html"]


def test_daily_figures_judge_each_day_and_mark_gaps(catalogues: CatalogueSet):
    cat = catalogues.for_year(SH, 2019)
    ind = cat.indicator("connection_rate")
    d = dt.date(2019, 6, 1)
    rows = [DailyCounters(SH, d, rates(connection=0.85)), DailyCounters(SH, d + dt.timedelta(days=2), rates())]
    got = daily_figures(rows, ind, ind.formula_for(FormulaSettings()), d, d + dt.timedelta(days=2))
    assert [(f.value, f.status) for f in got] == [(0.85, "breached"), (None, "no_data"), (0.95, "met")]
    vol = cat.indicator("requests_accepted")  # a 365th of 4,000,000 a day is 10,959
    [day] = daily_figures(rows[:1], vol, vol.formula_for(FormulaSettings()), d, d)
    assert (day.value, day.status) == (11_000, "met")


def test_the_digest_lists_what_still_fires(catalogues: CatalogueSet):
    hotline = catalogues.hotline(SH)
    c = render_digest(lang="en", hotline=hotline, links=Links(status_url="https://kpi.example.org/"), items=[
        DigestItem("critical", "Connection rate Year to date 88.72% below target 90%", local(2019, 6, 1, 8, 30), 9)])
    assert c.subject == "[12345 KPI] Daily digest: 1 alert(s) still firing"
    assert "2019-06-01 08:30" in c.text and "https://kpi.example.org/?lang=en" in c.html


HOSTILE_NAME = '<script>alert("x")</script>热线接通率 & co'
HOSTILE_NOTE = '<img src=x onerror="alert(1)">'


def test_a_hostile_indicator_name_and_note_are_escaped_in_the_html(
        engine: Engine, tmp_path: Path, smtp_server: SmtpServer):
    targets = tmp_path / "targets"
    targets.mkdir()
    (targets / "hostile.yaml").write_text(
        f"inherits: {TARGETS / 'shanghai-12345-2019.yaml'}\n"
        "indicators:\n"
        "  - id: connection_rate\n"
        f"    level3: '{HOSTILE_NAME}'\n"
        f"    note: '{HOSTILE_NOTE} </table>'\n", encoding="utf-8")
    rules = ("default_recipients: [office@example.org]\nrules:\n"
             "  - {id: conn, indicator: connection_rate, window: day, condition: breached,\n"
             f"     note: '{HOSTILE_NOTE}'}}\n")
    settings = make_settings(tmp_path, engine.url.render_as_string(hide_password=False), smtp_server.port,
                             rules=rules, targets=targets)
    catalogues = CatalogueSet.from_dir(targets)
    world = World(engine, settings, catalogues, FixedClock(local(2019, 6, 3)), smtp_server)
    world.day(dt.date(2019, 6, 3), connection=0.85)
    world.dispatch()
    [mail] = smtp_server.messages
    html = mail.part("html")
    assert "<script>" not in html and "<img" not in html and "</table> " not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;热线接通率 &amp; co" in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert HOSTILE_NAME in mail.part("plain")  # the text part is plain text: shown as written
    assert mail.subject == f"[12345 KPI][警告] {HOSTILE_NAME} 当日 85.00% 低于目标 90%"


def test_a_status_line_and_a_resolved_subject_never_contradict_the_figures(catalogues: CatalogueSet):
    cat = catalogues.for_year(SH, 2019)
    conn, wait, vol = cat.indicator("connection_rate"), cat.indicator("average_answer_seconds"), \
        cat.indicator("requests_accepted")
    # What `alerts list --all` showed as "年累计 92.31% 低于目标 90%" for an inactive alert.
    assert headline("status", figures(value=0.9231), conn, "zh") == "热线接通率 年累计 92.31%，达标（目标 ≥ 90%）"
    assert headline("status", figures(value=0.9231), conn, "en") == \
        "Connection rate Year to date 92.31%, meets target (>= 90%)"
    fast = figures(id="average_answer_seconds", window="trailing_7d", value=7.43, target=8, comparator="<=",
                   unit="seconds")
    assert headline("status", fast, wait, "zh") == "电话接通时长 近7日 7.43 秒，达标（目标 ≤ 8 秒）"
    ahead = figures(id="requests_accepted", condition="behind_pace", value=4_043_724, target=4_000_000,
                    pace=4_000_000, shortfall=0, annual_target=4_000_000, unit="requests")
    assert headline("status", ahead, vol, "zh") == "全年12345热线平台受理量 年累计 4,043,724，达到进度（进度 4,000,000）"
    # Still breached (e.g. pending before it fires): the breach wording is the truth.
    assert headline("status", figures(), conn, "zh") == "热线接通率 年累计 88.72% 低于目标 90%"
    # The final-verdict rule before 31 December: no "全年最终结果".
    early = figures(condition="missed", value=0.9231, final=False)
    assert headline("status", early, conn, "zh") == "热线接通率 年累计 92.31%，达标（目标 ≥ 90%）"
    fresh = {"condition": "no_data", "source": "daily-report", "after_days": 2, "days_since": 0.5}
    assert headline("status", fresh, None, "zh") == "日报 12 小时前载入过文件（阈值 2 天）"
    # An at-risk alert resolved by its probability while the projection is still short: not "达到目标".
    risk = figures(condition="at_risk", projection={"projected_value": 0.899, "threshold": 0.9, "comparator": ">="})
    assert headline("resolved", risk, conn, "zh") == "热线接通率 年末预测 89.90% 低于目标 90%"
    assert headline("resolved", figures(value=0.9231), conn, "zh") == "热线接通率 年累计 92.31% 达到目标 90%"
