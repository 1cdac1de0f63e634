"""The status page's inline trend (service/trend.py): a gap where a day has no data, the
target as a dashed line, the last day's dot green when it meets the target, red when not;
its words in <title> and aria-label, escaped."""

from __future__ import annotations

import datetime as dt

from hotline_kpi.service.trend import HEIGHT, TrendPoint, svg
from tests.service.test_status_page import parse_html

DAY = dt.date(2019, 12, 1)


def points(*values: float | None) -> list[TrendPoint]:
    return [TrendPoint(DAY + dt.timedelta(days=i), v) for i, v in enumerate(values)]


def test_a_day_without_data_breaks_the_line_and_the_target_is_drawn():
    doc = parse_html(str(svg(points(0.91, 0.92, None, 0.88, 0.89), 0.9, "接通率 <近5天>", met_above=True)))
    el = doc.find("svg", cls="trend")
    assert el.attrs["aria-label"] == "接通率 <近5天>" and el.find("title").text() == "接通率 <近5天>"
    lines = el.find_all("polyline", cls="values")
    assert [len(pl.attrs["points"].split()) for pl in lines] == [2, 2]
    target = el.find("line", cls="target")
    y_target = float(target.attrs["y1"])
    # 0.91 and 0.92 are above the target (smaller y), 0.88 and 0.89 below.
    ys = [float(p.split(",")[1]) for pl in lines for p in pl.attrs["points"].split()]
    assert ys[0] < y_target and ys[1] < y_target and ys[2] > y_target and ys[3] > y_target
    assert all(0 <= y <= HEIGHT for y in ys)
    assert el.find("circle", cls="last").attrs["fill"] == "#cf222e"  # 0.89 misses >= 0.9


def test_lower_is_better_and_no_data_at_all():
    doc = parse_html(str(svg(points(7.0, 7.5), 8.0, "接通时长", met_above=False)))
    assert doc.find("circle", cls="last").attrs["fill"] == "#1a7f37"
    empty = parse_html(str(svg(points(None, None), 8.0, "无数据"))).find("svg", cls="trend")
    assert not empty.find_all("polyline") and empty.find("title").text() == "无数据"
