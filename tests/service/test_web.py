"""HTTP endpoints, served from the cache; and a file dropped in the inbox of a running service."""

from __future__ import annotations

import datetime as dt
import os
import re
import time

import pytest
from starlette.testclient import TestClient

from hotline_kpi.clock import FixedClock
from hotline_kpi.service.runtime import Service
from hotline_kpi.service.web import build_app
from hotline_kpi.settings import Settings
from hotline_kpi.store.db import make_engine
from tests.common import TARGETS
from tests.test_cli import REPORT

SH = "shanghai-12345"


@pytest.fixture
def service(sqlite_url, tmp_path, catalogues):
    settings = Settings(database_url=sqlite_url, var_dir=tmp_path / "var", targets_dir=TARGETS,
                        service={"inbox_scan_seconds": 1, "inbox_settle_seconds": 0},
                        _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(sqlite_url)
    clock = FixedClock(dt.datetime(2020, 3, 1, 1, 0, tzinfo=dt.timezone.utc))
    svc = Service(settings, catalogues, engine, clock, holder="test")
    yield svc
    svc.stop()
    engine.dispose()


def _client(svc: Service) -> TestClient:
    return TestClient(build_app(svc.cache, svc.settings, svc.catalogues, svc.clock.now, svc.state))


def _load(svc: Service, tmp_path) -> None:
    from hotline_kpi.ingest.pipeline import ingest_file

    (tmp_path / "jan.csv").write_text(REPORT, encoding="utf-8")
    ingest_file(svc.engine, tmp_path / "jan.csv", settings=svc.settings, catalogues=svc.catalogues, clock=svc.clock)
    svc.evaluate("test")


def test_before_any_evaluation_the_service_is_alive_but_not_ready(service):
    service.cache.refresh()
    client = _client(service)
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "尚未存储任何评估结果" in ready.json()["reasons"]  # the language setting, zh
    assert "no evaluation stored yet" in client.get("/readyz?lang=en").json()["reasons"]
    missing = client.get("/api/v1/scoreboard")
    assert missing.status_code == 404 and missing.json()["error"] == "no_evaluation"  # the code stays
    assert "shanghai-12345" in missing.json()["message"] and re.search(r"[\u4e00-\u9fff]", missing.json()["message"])
    assert client.get("/api/v1/scoreboard?lang=en").json()["message"] == "no evaluation for hotline shanghai-12345"
    page = client.get("/")
    assert page.status_code == 200 and "尚无评估结果" in page.text


def test_every_endpoint_answers_after_an_evaluation(service, tmp_path):
    _load(service, tmp_path)
    client = _client(service)
    assert client.get("/readyz").json()["ready"] is True
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert 'hotline_kpi_indicator_value{hotline="shanghai-12345",indicator="connection_rate"' in metrics.text
    board = client.get("/api/v1/scoreboard").json()
    assert board["hotline"] == SH and board["as_of"] == "2019-01-04"
    assert client.get(f"/api/v1/scoreboard/{SH}").json() == board
    page = client.get("/")
    assert "热线接通率" in page.text and "91.56%" in page.text  # 28200 / 30800
    english = client.get("/?lang=en")
    assert "Connection rate" in english.text and 'lang="en"' in english.text


def test_the_http_side_is_read_only(service, tmp_path):
    _load(service, tmp_path)
    client = _client(service)
    for path in ("/", "/metrics", "/api/v1/scoreboard"):
        assert client.post(path).status_code == 405
        assert client.delete(path).status_code == 405


def test_readiness_fails_when_the_last_evaluation_is_too_old(service, tmp_path):
    _load(service, tmp_path)
    service.clock.advance(dt.timedelta(days=2))
    ready = _client(service).get("/readyz?lang=en")
    assert ready.status_code == 503 and "last evaluation" in ready.json()["reasons"][0]


def test_a_file_dropped_in_the_inbox_of_a_running_service_shows_in_metrics(service):
    """No restart: the scan loads it, evaluates, and the next scrape has the figures."""
    service.coordinate_once()
    service.start()
    client = _client(service)
    assert 'indicator="connection_rate"' not in client.get("/metrics").text
    path = service.settings.inbox_dir / "jan.csv"
    path.write_text(REPORT, encoding="utf-8")
    old = service.clock.now().timestamp() - 60
    os.utime(path, (old, old))
    deadline = time.monotonic() + 30  # bounded wait, not a timing assertion
    text = ""
    while time.monotonic() < deadline:
        text = client.get("/metrics").text
        if 'indicator="connection_rate",unit="ratio",window="year_to_date"' in text:
            break
        time.sleep(0.1)
    line = next(l for l in text.splitlines()
                if l.startswith('hotline_kpi_indicator_value{hotline="shanghai-12345",indicator="connection_rate",'
                                'unit="ratio",window="year_to_date"}'))
    assert float(line.split()[-1]) == pytest.approx(28200 / 30800)
    assert not path.exists()
