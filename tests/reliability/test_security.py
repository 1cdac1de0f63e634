"""Security: optional auth of / and /api, a read-only HTTP side that serves no file, and no
secret (database password, SMTP password, auth token) in logs, metrics, /readyz or error pages."""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
import zipfile

import pytest
from pydantic import ValidationError
from starlette.testclient import TestClient

from hotline_kpi.clock import FixedClock
from hotline_kpi.ingest.pipeline import ingest_file
from hotline_kpi.service.auth import check_authorization
from hotline_kpi.service.runtime import Service
from hotline_kpi.service.web import build_app
from hotline_kpi.settings import HttpAuthSettings, Settings
from hotline_kpi.store.db import make_engine
from tests.common import ROOT, TARGETS
from tests.reliability.support import (
    PG_PASSWORD,
    SECRETS,
    SMTP_PASSWORD,
    TOKEN,
    drop,
    raw_get,
    wait_for,
)
from tests.processes import run_cli, service_env, start_serve
from tests.test_cli import REPORT

PROTECTED = ("/", "/?lang=en", "/api/v1/scoreboard", "/api/v1/scoreboard/shanghai-12345",
             "/download/scoreboard.xlsx", "/download/daily.xlsx?hotline=shanghai-12345")
PROBES = ("/metrics", "/healthz", "/readyz")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def make_client(sqlite_url, tmp_path, catalogues):
    made: list[tuple[Service, object]] = []

    def make(**auth) -> TestClient:
        settings = Settings(database_url=sqlite_url, var_dir=tmp_path / "var", targets_dir=TARGETS,
                            http_auth=auth or {}, _env_file=None)  # type: ignore[call-arg]
        engine = make_engine(sqlite_url)
        clock = FixedClock(dt.datetime(2020, 3, 1, 1, 0, tzinfo=dt.timezone.utc))
        svc = Service(settings, catalogues, engine, clock, holder="test")
        made.append((svc, engine))
        (tmp_path / "jan.csv").write_text(REPORT, encoding="utf-8")
        ingest_file(engine, tmp_path / "jan.csv", settings=settings, catalogues=catalogues, clock=clock)
        svc.evaluate("test")
        return TestClient(build_app(svc.cache, settings, catalogues, clock.now, svc.state))

    yield make
    for svc, engine in made:
        svc.stop()
        engine.dispose()  # type: ignore[attr-defined]


# --- settings and the check itself ---------------------------------------------------------------


def test_auth_is_off_by_default_and_an_incomplete_configuration_is_refused():
    assert Settings(_env_file=None).http_auth.mode == "none"  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="至少 16 个字符的令牌"):
        HttpAuthSettings(mode="bearer", token="short")
    with pytest.raises(ValidationError, match="basic 方式须有用户名和密码"):
        HttpAuthSettings(mode="basic", username="ops")
    shown = repr(HttpAuthSettings(mode="bearer", token=TOKEN)) + str(HttpAuthSettings(mode="bearer", token=TOKEN))
    assert TOKEN not in shown


@pytest.mark.parametrize("header, ok", [
    (f"Bearer {TOKEN}", True), (f"bearer {TOKEN}", True), (f"Bearer  {TOKEN} ", True),
    (None, False), ("", False), ("Bearer", False), (f"Bearer {TOKEN}x", False), (f"Bearer {TOKEN[:-1]}", False),
    (f"Basic {TOKEN}", False), (_basic("x", TOKEN), False), (f"Token {TOKEN}", False),
])
def test_bearer_tokens_are_checked_exactly(header, ok):
    assert check_authorization(header, HttpAuthSettings(mode="bearer", token=TOKEN)) is ok


@pytest.mark.parametrize("header, ok", [
    (_basic("ops", "pa:ss wörd"), True), (_basic("ops", "pa:ss wör"), False), (_basic("Ops", "pa:ss wörd"), False),
    (_basic("", ""), False), ("Basic !!!notbase64", False), ("Basic " + base64.b64encode(b"\xff\xfe").decode(), False),
    ("Basic " + base64.b64encode(b"ops").decode(), False), ("Bearer pa:ss wörd", False), (None, False),
])
def test_basic_credentials_are_checked_exactly(header, ok):
    settings = HttpAuthSettings(mode="basic", username="ops", password="pa:ss wörd")
    assert check_authorization(header, settings) is ok


# --- over HTTP (in process) ----------------------------------------------------------------------


def test_without_auth_everything_is_open(make_client):
    client = make_client()
    for path in PROTECTED + PROBES:
        assert client.get(path).status_code == 200, path


def test_bearer_auth_guards_the_page_and_api_and_leaves_probes_open(make_client):
    client = make_client(mode="bearer", token=TOKEN)
    for path in PROTECTED:
        r = client.get(path)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer realm="), path
        assert TOKEN not in r.text
        assert client.get(path, headers={"Authorization": "Bearer wrong-token-000000"}).status_code == 401
        assert client.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200, path
        assert client.head(path).status_code == 401
    for path in PROBES:
        assert client.get(path).status_code == 200, path
    # Unknown paths and write methods are refused before anything else is said about them.
    assert client.get("/etc/passwd").status_code == 401
    assert client.post("/api/v1/scoreboard", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 405


def test_basic_auth_and_protected_probes(make_client):
    client = make_client(mode="basic", username="ops", password="s3cret pass", protect_probes=True)
    for path in PROTECTED + PROBES:
        r = client.get(path)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic realm="), path
        assert client.get(path, headers={"Authorization": _basic("ops", "s3cret pass")}).status_code == 200, path


# --- a real serve process with secrets in its environment ----------------------------------------

TRAVERSALS = ("/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd", "/static/../../etc/passwd",
              "//etc/passwd", "/api/v1/scoreboard/..%2f..%2f..%2fetc%2fpasswd", "/api/v1/../../../../etc/passwd",
              "/%252e%252e/etc/passwd", "/templates/status.html", "/..\\..\\etc\\passwd", "/.env",
              "/hotline-kpi.toml", "/var/hotline-kpi.db", "/store.db")


def _secret_env(tmp_path, database_url: str, **extra: str) -> dict[str, str]:
    return service_env(tmp_path, extra={
        "HOTLINE_KPI_DATABASE_URL": database_url,
        "HOTLINE_KPI_SMTP__HOST": "127.0.0.1", "HOTLINE_KPI_SMTP__PORT": "9",  # discard port: refused
        "HOTLINE_KPI_SMTP__USERNAME": "alerts", "HOTLINE_KPI_SMTP__PASSWORD": SMTP_PASSWORD,
        "HOTLINE_KPI_ALERTS__RULES_FILE": str(ROOT / "hotline_kpi" / "defaults" / "alerts.yaml"),
        # mail on with the shipped rules needs recipients of one's own (not example.org)
        "HOTLINE_KPI_ALERTS__RECIPIENTS": "kpi-office@hotline.test",
        "HOTLINE_KPI_ALERTS__DISPATCH_INTERVAL_SECONDS": "1",
        "HOTLINE_KPI_SERVICE__INBOX_SCAN_SECONDS": "1", "HOTLINE_KPI_SERVICE__INBOX_SETTLE_SECONDS": "0",
        "HOTLINE_KPI_SERVICE__METRICS_REFRESH_SECONDS": "1",
        **extra,
    })


def _assert_no_secret(where: str, data: bytes | str) -> None:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    for secret in SECRETS:
        assert secret not in text, f"secret {secret[:8]}... found in {where}"


@pytest.mark.system
@pytest.mark.postgres
def test_a_served_postgresql_store_leaks_no_secret_and_serves_no_file(pg_url, tmp_path, request):
    # The throwaway cluster trusts loopback, so a password in the URL is accepted and unused.
    user_host, _, rest = pg_url.partition("@")
    url = f"{user_host}:{PG_PASSWORD}@{rest}"
    env = _secret_env(tmp_path, url, HOTLINE_KPI_HTTP_AUTH__MODE="bearer", HOTLINE_KPI_HTTP_AUTH__TOKEN=TOKEN)
    served = start_serve(env, tmp_path, request.addfinalizer, "--log-level", "DEBUG", wait_for="/healthz")
    drop(tmp_path / "var" / "inbox", "jan.csv", REPORT)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    wait_for(lambda: raw_get(served.port, "/readyz")[0] == 200, 60, "the dropped report evaluated")

    bodies: dict[str, bytes] = {}
    for path in ("/metrics", "/readyz", "/healthz"):
        status, bodies[path] = raw_get(served.port, path)
        assert status == 200, path
    for path in PROTECTED:
        assert raw_get(served.port, path)[0] == 401
        status, bodies[path] = raw_get(served.port, path, auth)
        assert status == 200, path
    assert raw_get(served.port, "/", {"Authorization": "Bearer not-the-token-1234"})[0] == 401
    for target in TRAVERSALS:
        status, body = raw_get(served.port, target, auth)
        assert status in (400, 404), (target, status)
        assert b"root:" not in body and b"[service]" not in body and b"SQLite format" not in body, target
        bodies[target] = body
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, bodies[method] = raw_get(served.port, "/api/v1/scoreboard", auth, method=method)
        assert status == 405, method
    status, bodies["unknown hotline"] = raw_get(served.port, "/api/v1/scoreboard/nope", auth)
    assert status == 404
    assert served.stop() == 0
    for where, body in bodies.items():
        _assert_no_secret(where, body)
    log = served.log()
    assert '"level": "debug"' in log or '"level": "info"' in log  # the JSON log really was captured
    assert "http auth: refused" in log  # refusals are logged ...
    _assert_no_secret("the serve log", log)  # ... without the credentials


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["ingest", "x.csv"], ["evaluate"]])
def test_an_unreachable_database_is_reported_without_its_password(tmp_path, command):
    from tests.processes import free_port

    url = f"postgresql+psycopg://hotline:{PG_PASSWORD}@127.0.0.1:{free_port()}/kpi?connect_timeout=3"
    env = _secret_env(tmp_path, url, HOTLINE_KPI_HTTP_AUTH__MODE="bearer", HOTLINE_KPI_HTTP_AUTH__TOKEN=TOKEN)
    (tmp_path / "x.csv").write_text(REPORT, encoding="utf-8")
    proc = run_cli(env, *command, cwd=tmp_path, timeout=60, check=False)
    assert proc.returncode != 0
    assert "127.0.0.1" in proc.stdout + proc.stderr  # it says where it could not connect ...
    _assert_no_secret(f"hotline-kpi {command[0]} output", proc.stdout + proc.stderr)  # ... not with what


def test_an_invalid_auth_setting_is_refused_without_echoing_the_token(tmp_path):
    env = service_env(tmp_path, extra={"HOTLINE_KPI_HTTP_AUTH__MODE": "bearer",
                                       "HOTLINE_KPI_HTTP_AUTH__TOKEN": "short-secret"})
    proc = run_cli(env, "serve", "--port", "1", cwd=tmp_path, timeout=60, check=False)
    assert proc.returncode == 1 and "http_auth" in proc.stderr.lower()
    assert "short-secret" not in proc.stdout + proc.stderr


@pytest.mark.postgres
def test_a_report_carries_no_secret(pg_url, tmp_path):
    """The year-end report in every format, drawn from a PostgreSQL store whose URL holds a
    password, with the SMTP password and a bearer token set: none of the three appears in
    the XLSX (every part of the zip), the PDF (its text by pdftotext and its raw bytes),
    the HTML, the Markdown or the command's output."""
    user_host, _, rest = pg_url.partition("@")
    env = _secret_env(tmp_path, f"{user_host}:{PG_PASSWORD}@{rest}", HOTLINE_KPI_HTTP_AUTH__MODE="bearer",
                      HOTLINE_KPI_HTTP_AUTH__TOKEN=TOKEN,
                      HOTLINE_KPI_SERVICE__STATUS_URL="https://kpi.example.org/", HOTLINE_KPI_LANGUAGE="zh")
    (tmp_path / "jan.csv").write_text(REPORT, encoding="utf-8")
    outputs: list[str] = []
    for args in (["ingest", "jan.csv"],
                 ["report", "--year", "2019", "--format", "xlsx,pdf,html,md", "--out", str(tmp_path / "out")]):
        proc = run_cli(env, *args, cwd=tmp_path, timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        outputs.append(proc.stdout + proc.stderr)
    _assert_no_secret("the report command's output", "\n".join(outputs))
    files = sorted((tmp_path / "out").iterdir())
    assert {p.suffix for p in files} >= {".xlsx", ".pdf", ".html", ".md"}, files
    for path in files:
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                for part in z.namelist():
                    _assert_no_secret(f"{path.name}:{part}", z.read(part))
        elif path.suffix == ".pdf":
            text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True).stdout
            assert "2019" in text.decode("utf-8", "replace"), "pdftotext read nothing: the check would be empty"
            _assert_no_secret(f"{path.name} (text)", text)
            _assert_no_secret(f"{path.name} (bytes)", path.read_bytes())
        else:
            _assert_no_secret(path.name, path.read_bytes())
