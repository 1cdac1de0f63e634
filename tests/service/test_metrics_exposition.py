"""The lean exposition of issue #19 on a real ``hotline-kpi serve`` holding the demo year:
series per hotline, HELP texts, and the formats a scraper negotiates (OpenMetrics, gzip),
checked with promtool and with a real Prometheus scraping through a loopback proxy that
records what the two said to each other."""

from __future__ import annotations

import difflib
import gzip
import re
import socket
import subprocess
import threading
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from hotline_kpi.catalogue import CatalogueSet
from tests.common import ROOT, SHANGHAI as HOTLINE, TARGETS
from tests.processes import DemoTemplate, ServeProcess, prepare_demo, start_serve
from tests.service.test_prometheus import JOB, WAIT, PrometheusProcess, _tool, start_prometheus

#: Starts real processes (tests/processes.py): deselected by ``pytest -m 'not system'``.
pytestmark = pytest.mark.system

#: This exposition's share of the 120 series a hotline may cost (issue #19); the league
#: table's own collector adds about ten.
BUDGET_PER_HOTLINE = 110
#: What Prometheus 2.42 sends (scrape/scrape.go, acceptHeader with OpenMetrics enabled).
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


@pytest.fixture(scope="module")
def serve(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          demo_template: DemoTemplate) -> ServeProcess:
    base = tmp_path_factory.mktemp("exposition")
    env = prepare_demo(demo_template, base)
    return start_serve(env, base, request.addfinalizer, ready_timeout=WAIT)


def _get(serve: ServeProcess, path: str, **headers: str) -> tuple[dict[str, str], bytes]:
    req = urllib.request.Request(serve.url(path), headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
        return {k.lower(): v for k, v in resp.headers.items()}, resp.read()


def _series(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_each_hotline_costs_at_most_its_budget_of_series(serve: ServeProcess) -> None:
    _, body = _get(serve, "/metrics")
    per_hotline: dict[str, int] = {}
    for line in _series(body.decode()):
        m = re.search(r'[{,]hotline="([^"]+)"', line)
        if m:
            per_hotline[m.group(1)] = per_hotline.get(m.group(1), 0) + 1
    assert set(per_hotline) == {HOTLINE}
    assert per_hotline[HOTLINE] <= BUDGET_PER_HOTLINE, per_hotline
    # and the figures are there: the three windows of the eight indicators that have data
    assert len([s for s in _series(body.decode()) if s.startswith("hotline_kpi_indicator_value{")]) == 24
    assert "hotline_kpi_indicator_status" not in body.decode()


def test_help_texts_name_indicators_as_the_catalogue_shows_them(serve: ServeProcess) -> None:
    """HELP stays English (docs/metrics.md says why); where a metric text or the metric
    reference names an indicator in Chinese it is the catalogue's display name: 回访,
    never the seed's typo 回民."""
    _, body = _get(serve, "/metrics")
    helps = [line for line in body.decode().splitlines() if line.startswith("# HELP ")]
    assert helps and not [h for h in helps if "回民" in h]
    assert not [h for h in helps if re.search(r"[\u4e00-\u9fff]", h) and "回访" not in h and "满意度" in h]
    docs = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert "回民" not in docs
    catalogue = CatalogueSet.from_dir(TARGETS).get(HOTLINE, 2019)
    assert catalogue is not None
    exported = set(re.findall(r'indicator="([^"]+)"', body.decode()))
    for ind in catalogue.indicators:  # the labels table names each exported indicator as people see it
        if ind.id not in exported:
            continue
        assert f"`{ind.id}` ({ind.display_name_zh}" in docs, ind.id
    assert "12345热线回访市民满意度" in docs


ACCEPTS = {"text": "*/*", "openmetrics": PROMETHEUS_ACCEPT}
TYPES = {"text": "text/plain; version=0.0.4; charset=utf-8",
         "openmetrics": "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores"}


def _promtool_check(body: bytes) -> str:
    out = subprocess.run([_tool("promtool"), "check", "metrics"], input=body, capture_output=True, timeout=60)
    return (out.stdout + out.stderr).decode()


@pytest.mark.parametrize("fmt", sorted(ACCEPTS))
def test_formats_and_gzip_are_negotiated_like_prometheus_client(serve: ServeProcess, fmt: str) -> None:
    # the same answer, packed or not. A refresh between the two requests moves the refresh
    # time, and a job run finished meanwhile (the inbox scan runs every few seconds) moves
    # the service's own job series, so the pair is asked again until no refresh fell between.
    strip = re.compile(rb"^hotline_kpi_(snapshot_refresh_timestamp|alert_oldest_undelivered_age)\S* \S+\n", re.M)
    pairs = []
    for _attempt in range(5):
        headers, plain = _get(serve, "/metrics", Accept=ACCEPTS[fmt])
        assert headers["content-type"] == TYPES[fmt] and "content-encoding" not in headers
        headers, packed = _get(serve, "/metrics", Accept=ACCEPTS[fmt], **{"Accept-Encoding": "gzip, deflate"})
        assert headers["content-type"] == TYPES[fmt] and headers["content-encoding"] == "gzip"
        assert "Accept-Encoding" in headers["vary"]
        unpacked = gzip.decompress(packed)
        pairs.append((strip.sub(b"", plain), strip.sub(b"", unpacked)))
        if pairs[-1][0] == pairs[-1][1]:
            break
    assert pairs[-1][0] == pairs[-1][1], [line for line in difflib.unified_diff(
        pairs[-1][0].decode().splitlines(), pairs[-1][1].decode().splitlines(), lineterm="", n=0)][:20]
    assert len(packed) * 4 < len(plain)
    text = unpacked.decode()
    if fmt == "openmetrics":
        assert text.endswith("# EOF\n") and text.count("# EOF") == 1
        assert "# TYPE hotline_kpi_job_runs counter" in text
        # promtool lints the text format: an OpenMetrics counter's family is named
        # without _total, so its samples are "without help text" to it; nothing else.
        found = [line for line in _promtool_check(unpacked).splitlines() if line.strip()]
        assert found and all(re.fullmatch(r"hotline_kpi_\w+_total no help text", line) for line in found), found
    else:
        assert "# EOF" not in text
        assert _promtool_check(unpacked) == ""


def test_the_api_and_the_page_answer_gzip_when_asked(serve: ServeProcess) -> None:
    for path, kind in (("/api/v1/scoreboard", "application/json"), ("/", "text/html")):
        headers, plain = _get(serve, path)
        assert headers["content-type"].startswith(kind) and "content-encoding" not in headers
        headers, packed = _get(serve, path, **{"Accept-Encoding": "gzip"})
        assert headers["content-type"].startswith(kind) and headers["content-encoding"] == "gzip"
        if kind == "application/json":
            assert gzip.decompress(packed) == plain
        else:  # the page may be rebuilt between the two requests (its "now")
            assert gzip.decompress(packed).decode().count("<table") == plain.decode().count("<table")


# --- a real Prometheus, through a proxy that records the exchange -------------------------


class RecordingProxy:
    """Forwards loopback TCP connections to the service and keeps the first request's
    headers and the first response's headers of each connection."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.requests: list[str] = []
        self.responses: list[str] = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(client, upstream, self.requests), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, self.responses), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket, heads: list[str]) -> None:
        buf = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if buf is not None:
                    buf += data
                    if b"\r\n\r\n" in buf:
                        heads.append(buf.split(b"\r\n\r\n", 1)[0].decode("latin-1"))
                        buf = None  # type: ignore[assignment]
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop = True
        self.sock.close()


@pytest.fixture(scope="module")
def scraped(request: pytest.FixtureRequest, serve: ServeProcess,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrometheusProcess, RecordingProxy]]:
    proxy = RecordingProxy(serve.port)
    request.addfinalizer(proxy.close)
    prom = start_prometheus(tmp_path_factory.mktemp("prometheus-om"), proxy.port, request.addfinalizer)
    yield prom, proxy


def _wait(what: str, check: Any, timeout: float = WAIT) -> Any:
    import time

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, AssertionError, KeyError, ValueError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def test_a_real_prometheus_scrapes_openmetrics_gzip_and_stores_the_figures(
        scraped: tuple[PrometheusProcess, RecordingProxy], serve: ServeProcess) -> None:
    prom, proxy = scraped
    _, body = _get(serve, "/metrics")
    n_values = len([s for s in _series(body.decode()) if s.startswith("hotline_kpi_indicator_value{")])
    _wait("Prometheus to store the indicator values",
          lambda: len(prom.query(f'hotline_kpi_indicator_value{{job="{JOB}"}}')) == n_values)
    [(_, up)] = prom.query(f'up{{job="{JOB}"}}')
    assert up == 1.0
    scrapes = [r for r in proxy.requests if r.startswith("GET /metrics ")]
    assert scrapes, proxy.requests
    head = scrapes[0].lower()
    assert "accept: application/openmetrics-text" in head and re.search(r"accept-encoding:[^\r\n]*gzip", head)
    answers = [r.lower() for r in proxy.responses if r.startswith("HTTP/1.1 200")]
    assert answers and all("content-encoding: gzip" in a for a in answers)
    assert all("content-type: application/openmetrics-text; version=1.0.0" in a for a in answers)
    # Prometheus parsed OpenMetrics: the counter's family is named without _total
    meta = _wait("the target's metadata", lambda: prom.api("targets/metadata", metric="hotline_kpi_job_runs"))
    assert {m["type"] for m in meta} == {"counter"}
    # and the values are the exporter's, exactly
    got = {(m["indicator"], m["window"]): v for m, v in prom.query(f'hotline_kpi_indicator_value{{job="{JOB}"}}')}
    want = {}
    for line in _series(body.decode()):
        if line.startswith("hotline_kpi_indicator_value{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
            want[(labels["indicator"], labels["window"])] = float(line.rsplit(" ", 1)[1])
    assert got == want
