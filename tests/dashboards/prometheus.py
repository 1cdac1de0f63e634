"""A real Prometheus (Debian's /usr/bin/prometheus) for the tests, on a free loopback port.

Every wait is bounded; the process is stopped (SIGTERM, then SIGKILL) by the finalizer
it registers, and its log is shown when something fails.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.processes import Started, start_process


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install Debian's prometheus package (make test-deps / .ci/install-test-deps)")
    return path


class PrometheusError(AssertionError):
    pass


@dataclass
class PrometheusProcess(Started):
    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-6000:]
        except FileNotFoundError:
            return ""

    def api(self, path: str, params: dict[str, Any] | list[tuple[str, Any]], timeout: float = 10) -> Any:
        """GET /api/v1/<path>; returns ``data``; raises with Prometheus' error otherwise."""
        url = self.url(f"/api/v1/{path}") + "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params = {"query": expr} if at is None else {"query": expr, "time": at}
        return self.api("query", params)["result"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        return self.api("query_range", {"query": expr, "start": start, "end": end, "step": step})["result"]


def start_prometheus(config: Path, data_dir: Path, log_dir: Path,
                     addfinalizer: Callable[[Callable[[], object]], object], *args: str,
                     ready_timeout: float = 60) -> PrometheusProcess:
    """Start Prometheus with ``config`` and storage ``data_dir``; wait (bounded) for /-/ready."""
    exe = binary("prometheus")

    def ready(prom: Started) -> str | None:
        with urllib.request.urlopen(prom.url("/-/ready"), timeout=2) as resp:  # type: ignore[attr-defined]
            return None if resp.status == 200 else f"/-/ready: {resp.status}"

    prom = start_process(lambda port: [exe, f"--config.file={config}", f"--storage.tsdb.path={data_dir}",
                                       f"--web.listen-address=127.0.0.1:{port}", *args],
                         log_dir=log_dir, name="prometheus", addfinalizer=addfinalizer, ready=ready,
                         ready_timeout=ready_timeout, make=PrometheusProcess)
    assert isinstance(prom, PrometheusProcess)
    return prom


def wait_for(prom: PrometheusProcess, expr: str, what: str, timeout: float = 60) -> list[dict[str, Any]]:
    """Poll the instant query ``expr`` until it returns a series (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = prom.query(expr)
        if result:
            return result
        time.sleep(0.5)
    raise PrometheusError(f"{what}: `{expr}` returned nothing within {timeout:g} s\n--- log\n{prom.log()}")
