"""/metrics negotiated as prometheus_client's own exposition negotiates (its
``choose_encoder`` of the installed version), and gzip refused when the client says
``q=0``: over the league's four hotlines evaluated from a real store (tests/service/
test_league.py's world), through the HTTP app."""

from __future__ import annotations

import pytest
from prometheus_client.exposition import choose_encoder
from starlette.testclient import TestClient

from hotline_kpi.service.web import build_app
from tests.service.test_league import world  # noqa: F401 - the fixture

ACCEPTS = [
    "",
    "*/*",
    "text/plain",
    "text/plain;version=0.0.4",
    "text/plain;version=1.0.0",
    "application/openmetrics-text",
    "application/openmetrics-text; version=0.0.1",  # below 1.0.0: the client answers text 0.0.4
    "application/openmetrics-text; version=1.0.0",
    "application/openmetrics-text; version=2.0.0",
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8",
    # Prometheus 2.42 (scrape/scrape.go)
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
]


def _lines(body: bytes) -> list[bytes]:
    """The exposition's lines in order of family (the two renderings order the families
    differently) minus the ones that move between two renderings."""
    keep = [ln for ln in body.splitlines() if not ln.startswith((b"hotline_kpi_snapshot_refresh",
                                                                   b"hotline_kpi_alert_oldest"))]
    return sorted(keep)


@pytest.fixture
def client(world):  # noqa: F811
    cache, settings, cats, clock = world
    return cache, TestClient(build_app(cache, settings, cats, clock.now))


@pytest.mark.parametrize("accept", ACCEPTS)
def test_the_content_type_and_the_body_are_what_prometheus_client_answers(client, accept: str) -> None:
    cache, http = client
    encoder, content_type = choose_encoder(accept)
    got = http.get("/metrics", headers={"Accept": accept, "Accept-Encoding": "identity"})
    assert got.status_code == 200 and "content-encoding" not in got.headers
    assert got.headers["content-type"] == content_type
    assert b"hotline_kpi_indicator_denominator{" in got.content  # the snapshots are in
    assert _lines(got.content) == _lines(encoder(cache.registry))


@pytest.mark.parametrize("header, gz", [
    ("gzip", True), ("gzip, deflate", True), ("deflate, GZIP;q=0.5", True), ("gzip;q=1.0", True),
    ("gzip;q=0", False), ("gzip; q=0.0", False), ("deflate, gzip;q=0", False), ("identity", False),
    ("", False), ("br", False),
])
def test_gzip_only_when_acceptable(client, header: str, gz: bool) -> None:
    _, http = client
    plain = http.get("/metrics", headers={"Accept-Encoding": "identity"})
    got = http.get("/metrics", headers={"Accept-Encoding": header})
    assert got.status_code == 200
    # the test client inflates a gzip answer; the header says what was sent
    assert (got.headers.get("content-encoding") == "gzip") is gz
    assert _lines(got.content) == _lines(plain.content)
    for path in ("/api/v1/league", "/"):
        answer = http.get(path, headers={"Accept-Encoding": header})
        assert answer.status_code == 200 and (answer.headers.get("content-encoding") == "gzip") is gz, path
