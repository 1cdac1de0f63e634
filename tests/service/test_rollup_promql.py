"""A province's rate as a ratio of sums, in PromQL, on a real Prometheus: the query of
docs/metrics.md ("Roll-ups in PromQL"), run on a Prometheus scraping the exporter's
rendering of the league's four hotlines (tests/service/test_league.py: evaluated by the
service's job from a real store), against the figures worked out by hand there.

The exporter's answer is served by a small loopback HTTP server here (the same bytes
``/metrics`` serves: ``MetricsCache.answer``), because the four hotlines' catalogues are
built in the test, which a ``hotline-kpi serve`` process would not read."""

from __future__ import annotations

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hotline_kpi.service.exporter import MetricsCache
from tests.common import ROOT
from tests.service.test_league import world  # noqa: F401 - the fixture
from tests.service.test_prometheus import WAIT, start_prometheus

pytestmark = pytest.mark.system


def _documented_query() -> str:
    docs = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    section = docs[docs.index("## Roll-ups in PromQL"):]
    [query] = re.findall(r"```promql\n(.*?)```", section, re.S)[:1]
    return query


def _serve(cache: Any) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            answer = cache.answer(self.headers.get("Accept"), self.headers.get("Accept-Encoding"))
            self.send_response(200)
            self.send_header("Content-Type", answer.media_type)
            for k, v in answer.headers().items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_provinces_connection_rate_is_the_ratio_of_sums_on_a_real_prometheus(
        world, request: pytest.FixtureRequest, tmp_path) -> None:  # noqa: F811
    _, _, cats, clock = world
    hotlines = cats.hotlines()  # as the service builds its cache (runtime.py): with the provinces
    cache = MetricsCache(world[0].engine, {h.id: h.timezone for h in hotlines}, clock.now,
                         hotline_info={h.id: (h.name, h.province) for h in hotlines})
    cache.refresh()
    server = _serve(cache)
    request.addfinalizer(server.shutdown)
    prom = start_prometheus(tmp_path, server.server_address[1], request.addfinalizer)
    query = _documented_query()
    deadline = time.monotonic() + WAIT
    got: dict[tuple[str, str], float] = {}
    while time.monotonic() < deadline:
        got = {(m["province"], m["indicator"]): v for m, v in prom.query(query)}
        if ("江苏省", "connection_rate") in got:
            break
        time.sleep(0.5)
    # 江苏省 = a + b: (950 + 80) x 2 / ((1000 + 100) x 2), not the average of .95 and .80
    assert got[("江苏省", "connection_rate")] == pytest.approx(2060 / 2200, rel=1e-12)
    assert got[("江苏省", "connection_rate")] != pytest.approx((0.95 + 0.80) / 2)
    # answer seconds weighted by answered calls; satisfaction by survey responses
    assert got[("江苏省", "average_answer_seconds")] == pytest.approx(10140 / 2060, rel=1e-12)
    assert got[("江苏省", "satisfaction_rate")] == pytest.approx(208 / 220, rel=1e-12)
    assert got[("浙江省", "connection_rate")] == pytest.approx(0.95, rel=1e-12)
    # d has no province: in no roll-up; only the two provinces, each rate and time once
    assert {p for p, _ in got} == {"江苏省", "浙江省"}
    assert len([k for k in got if k[0] == "江苏省"]) == 7
