"""Helpers for tests that run the real service: a temp SQLite store with the demo year,
and a real ``hotline-kpi serve`` subprocess on a free loopback port.

Everything is bounded: the demo load, the wait for /readyz and the stop (SIGTERM, then
SIGKILL). The service's log is kept in a file and shown when something fails.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

ROOT = Path(__file__).resolve().parent.parent.parent
TARGETS = ROOT / "config" / "targets"
#: The console script of the venv the tests run in (falls back to ``python -m hotline_kpi``).
_SCRIPT = Path(sys.executable).with_name("hotline-kpi")
CLI: list[str] = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "hotline_kpi"]


def free_port() -> int:
    """A port free on 127.0.0.1 right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_env(base: Path, targets_dir: Path = TARGETS, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a CLI or serve run on the store ``base/store.db`` and ``base/var``.

    Inherited HOTLINE_KPI_* variables are dropped so that the developer's own settings
    never leak into a test; commands run with ``base`` as working directory, so no
    ./hotline-kpi.toml or ./.env of the repository is read either.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_KPI_")}
    env.update({
        "HOTLINE_KPI_DATABASE_URL": f"sqlite:///{base / 'store.db'}",
        "HOTLINE_KPI_VAR_DIR": str(base / "var"),
        "HOTLINE_KPI_TARGETS_DIR": str(targets_dir),
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra or {})
    return env


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> int | None:
    """SIGTERM, wait up to ``timeout`` s, then SIGKILL. Returns the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return proc.returncode


def run_cli(env: Mapping[str, str], *args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``hotline-kpi ARGS``; fails the test with its output when it exits non-zero."""
    proc = subprocess.run([*CLI, *args], env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"hotline-kpi {' '.join(args)} exited {proc.returncode}\n--- stdout\n{proc.stdout}"
                             f"\n--- stderr\n{proc.stderr}")
    return proc


def prepare_demo(base: Path, extra_env: Mapping[str, str] | None = None, timeout: float = 180) -> dict[str, str]:
    """A temp SQLite store under ``base`` holding the demo year (``hotline-kpi demo``);
    returns the environment that points the CLI and ``serve`` at it."""
    base.mkdir(parents=True, exist_ok=True)
    env = service_env(base, extra=extra_env)
    run_cli(env, "demo", "--raw-from", "13", cwd=base, timeout=timeout)
    return env


def http_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    """GET ``url``; returns (status, body) for HTTP errors too (no exception)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@dataclass
class ServeProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    env: dict[str, str] = field(repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def get(self, path: str, timeout: float = 5) -> tuple[int, bytes]:
        return http_get(self.url(path), timeout)

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL. Returns the exit status."""
        return stop_process(self.proc, timeout)


def start_serve(env: Mapping[str, str], base: Path, addfinalizer: Callable[[Callable[[], object]], object],
                *args: str, ready_timeout: float = 60, port: int | None = None) -> ServeProcess:
    """Start ``hotline-kpi serve --port P [ARGS]`` on a free loopback port and wait (at
    most ``ready_timeout`` s) until /readyz answers 200. ``addfinalizer`` (pytest's
    ``request.addfinalizer``) gets the stop. Fails with the service's log when the process
    dies or never gets ready; retries once on another port if the chosen one was taken."""
    for attempt in range(2):
        p = port or free_port()
        log_path = base / f"serve-{p}.log"
        log_file = open(log_path, "wb")  # noqa: SIM115 - closed by the finalizer
        proc = subprocess.Popen([*CLI, "serve", "--host", "127.0.0.1", "--port", str(p), *args], env=dict(env),
                                cwd=base, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        served = ServeProcess(proc, p, log_path, dict(env))

        def _finalize(served: ServeProcess = served, log_file=log_file) -> None:
            try:
                served.stop()
            finally:
                log_file.close()

        addfinalizer(_finalize)
        deadline = time.monotonic() + ready_timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                status, body = served.get("/readyz", timeout=2)
            except (OSError, urllib.error.URLError) as exc:
                last = f"{exc.__class__.__name__}: {exc}"
            else:
                if status == 200:
                    return served
                last = f"{status} {body.decode('utf-8', 'replace')[:500]}"
            time.sleep(0.2)
        if proc.poll() is not None and port is None and attempt == 0 and "could not listen" in served.log():
            continue  # the free port was taken in between: try another one
        served.stop()
        raise AssertionError(f"hotline-kpi serve on port {p} not ready within {ready_timeout:g} s "
                             f"(exit status {proc.poll()}; last /readyz: {last})\n--- serve log\n{served.log()}")
    raise AssertionError("unreachable")


def readyz(served: ServeProcess) -> dict:
    status, body = served.get("/readyz")
    return {"status": status, **json.loads(body)}
