"""The one way the tests run processes: ``hotline-kpi`` commands, a ``hotline-kpi serve``
and the other servers the suites start (Prometheus...).

- ``run_cli``: one CLI command to its end, with the environment of ``service_env``;
- ``start_process``: a long-running process on a free loopback port, its output in a
  log file, waited for until a readiness probe passes (bounded), stopped by a finalizer
  (SIGTERM then SIGKILL, or SIGKILL of its whole process group);
- ``start_serve``: ``hotline-kpi serve`` through ``start_process``, waited for until
  /readyz (or /healthz) answers 200, or not waited for at all;
- ``prepare_demo``: a store holding the demo year, copied from a template that
  ``build_demo_template`` makes once per test session (``hotline-kpi demo`` is run once,
  not once per test; the tests of the demo command itself still run it).

Everything is bounded; a process that dies or never gets ready fails the test with its log.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

from tests.common import ROOT, TARGETS

#: The console script of the venv the tests run in (falls back to ``python -m hotline_kpi``).
_SCRIPT = Path(sys.executable).with_name("hotline-kpi")
CLI: list[str] = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "hotline_kpi"]
#: ``python -m hotline_kpi``, for the test of that entry point.
PYTHON_M: list[str] = [sys.executable, "-m", "hotline_kpi"]

Finalizer = Callable[[Callable[[], object]], object]

__all__ = ["CLI", "PYTHON_M", "ROOT", "TARGETS", "ServeProcess", "Started", "build_demo_template", "free_port",
           "http_get", "kill_group", "prepare_demo", "readyz", "run_cli", "service_env", "start_process",
           "start_serve", "stop_process"]


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
    if "HOTLINE_KPI_LANGUAGE" in os.environ:  # the `english` fixture of tests reading English output
        env["HOTLINE_KPI_LANGUAGE"] = os.environ["HOTLINE_KPI_LANGUAGE"]
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


def kill_group(proc: subprocess.Popen) -> int | None:
    """SIGKILL the whole process group of ``proc`` (started with ``start_new_session``; no
    clean stop of any kind) and reap it. Returns the exit status."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=10)
    return proc.returncode


def run_cli(env: Mapping[str, str], *args: str, cwd: Path, timeout: float = 120, check: bool = True,
            command: Sequence[str] = CLI) -> subprocess.CompletedProcess[str]:
    """Run ``hotline-kpi ARGS`` to its end (at most ``timeout`` s). With ``check`` (the
    default) a non-zero exit fails the test with its output; without, the caller looks
    at the exit status itself."""
    proc = subprocess.run([*command, *args], env=dict(env), cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"hotline-kpi {' '.join(args)} exited {proc.returncode}\n--- stdout\n{proc.stdout}"
                             f"\n--- stderr\n{proc.stderr}")
    return proc


def start_cli(env: Mapping[str, str], *args: str, cwd: Path) -> subprocess.Popen[bytes]:
    """``hotline-kpi ARGS`` started in its own process group and not waited for (to be
    killed on purpose with ``kill_group``); its output is piped."""
    return subprocess.Popen([*CLI, *args], env=dict(env), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def http_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    """GET ``url``; returns (status, body) for HTTP errors too (no exception)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# --- long-running processes -------------------------------------------------------------------


@dataclass
class Started:
    """A process started by ``start_process``: its port and its log."""

    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL. Returns the exit status."""
        return stop_process(self.proc, timeout)


def start_process(command: Callable[[int], list[str]], *, log_dir: Path, name: str,
                  addfinalizer: Finalizer, ready: Callable[[Started], str | None] | None,
                  env: Mapping[str, str] | None = None, cwd: Path | None = None, ready_timeout: float = 60,
                  port: int | None = None, port_taken: str = "address already in use",
                  make: Callable[[subprocess.Popen[bytes], int, Path], Started] = Started,
                  kill_at_end: bool = False) -> Started:
    """Start ``command(port)`` on ``port`` or a free loopback port, in its own process
    group, its output in ``log_dir/NAME-PORT.log``; the finalizer stops it (SIGTERM then
    SIGKILL; with ``kill_at_end``, SIGKILL of its process group) and closes the log.

    ``ready(started)`` returns None once the process is ready, else what it saw last; it
    is polled (bounded by ``ready_timeout``), and an exception of the OSError family
    counts as "not yet". The process dying or never getting ready fails the test with its
    log; when the log says ``port_taken`` (the free port was taken in between) it is tried
    once more on another port. ``ready=None``: returned at once, not waited for."""
    for attempt in range(2):
        p = port or free_port()
        log_path = log_dir / f"{name}-{p}.log"
        log_file = open(log_path, "wb")  # noqa: SIM115 - closed by the finalizer
        proc = subprocess.Popen(command(p), env=dict(env) if env is not None else None, cwd=cwd, stdout=log_file,
                                stderr=subprocess.STDOUT, start_new_session=True)
        started = make(proc, p, log_path)

        def _finalize(started: Started = started, log_file=log_file) -> None:
            try:
                if kill_at_end:
                    kill_group(started.proc)
                else:
                    started.stop()
            finally:
                log_file.close()

        addfinalizer(_finalize)
        if ready is None:
            return started
        deadline = time.monotonic() + ready_timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                not_ready = ready(started)
            except (OSError, urllib.error.URLError) as exc:
                last = f"{exc.__class__.__name__}: {exc}"
            else:
                if not_ready is None:
                    return started
                last = not_ready
            time.sleep(0.2)
        if proc.poll() is not None and port is None and attempt == 0 and port_taken in started.log():
            continue  # the free port was taken in between: try another one
        started.stop()
        raise AssertionError(f"{name} on port {p} not ready within {ready_timeout:g} s "
                             f"(exit status {proc.poll()}; last: {last})\n--- {name} log\n{started.log()[-20000:]}")
    raise AssertionError("unreachable")


@dataclass
class ServeProcess(Started):
    env: dict[str, str] = field(repr=False, default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def get(self, path: str, timeout: float = 5) -> tuple[int, bytes]:
        return http_get(self.url(path), timeout)


def _answers_200(path: str) -> Callable[[Started], str | None]:
    def probe(served: Started) -> str | None:
        assert isinstance(served, ServeProcess)
        status, body = served.get(path, timeout=2)
        return None if status == 200 else f"{path}: {status} {body.decode('utf-8', 'replace')[:500]}"

    return probe


def start_serve(env: Mapping[str, str], base: Path, addfinalizer: Finalizer, *args: str,
                ready_timeout: float = 60, port: int | None = None, wait_for: str | None = "/readyz",
                kill_at_end: bool = False) -> ServeProcess:
    """Start ``hotline-kpi serve --port P [ARGS]`` (working directory and log in ``base``)
    on a free loopback port and wait (at most ``ready_timeout`` s) until ``wait_for``
    answers 200: /readyz by default; /healthz when the store may be empty or down on
    purpose; None to return at once (its start-up is what the test watches).
    ``addfinalizer`` (pytest's ``request.addfinalizer``) gets the stop."""
    def command(p: int) -> list[str]:
        return [*CLI, "serve", "--host", "127.0.0.1", "--port", str(p), *args]

    def make(proc: subprocess.Popen[bytes], p: int, log_path: Path) -> ServeProcess:
        return ServeProcess(proc, p, log_path, dict(env))

    served = start_process(command, log_dir=base, name="serve", addfinalizer=addfinalizer,
                           ready=_answers_200(wait_for) if wait_for else None, env=env, cwd=base,
                           ready_timeout=ready_timeout, port=port, port_taken="Address already in use", make=make,
                           kill_at_end=kill_at_end)
    assert isinstance(served, ServeProcess)
    return served


def readyz(served: ServeProcess) -> dict:
    status, body = served.get("/readyz")
    return {"status": status, **json.loads(body)}


# --- the demo year, loaded once per session --------------------------------------------------


@dataclass(frozen=True)
class DemoTemplate:
    """``hotline-kpi demo --raw-from 13`` run once in ``base`` (store.db and var/)."""

    base: Path


def build_demo_template(base: Path, timeout: float = 300) -> DemoTemplate:
    """Run ``hotline-kpi demo --raw-from 13`` on a SQLite store in ``base``, as
    ``prepare_demo`` did for every test before (same command, same environment but the
    settings of the service, mail and alerts, which the demo does not read)."""
    base.mkdir(parents=True, exist_ok=True)
    run_cli(service_env(base), "demo", "--raw-from", "13", cwd=base, timeout=timeout)
    assert not any(base.glob("store.db-*")), "the demo left a SQLite journal behind"
    return DemoTemplate(base)


#: Settings ``prepare_demo`` may be given: read by ``serve``, never by ``hotline-kpi demo``.
_NOT_READ_BY_THE_DEMO = ("HOTLINE_KPI_SERVICE__", "HOTLINE_KPI_SMTP__", "HOTLINE_KPI_ALERTS__")


def prepare_demo(template: DemoTemplate, base: Path, extra_env: Mapping[str, str] | None = None,
                 timeout: float = 180) -> dict[str, str]:
    """A SQLite store under ``base`` holding the demo year, as ``hotline-kpi demo --raw-from
    13`` leaves it: a copy of the session's template (store.db and var/, the stored paths
    of the kept originals pointed at the copy). Returns the environment that points the
    CLI and ``serve`` at it. When ``extra_env`` points the store elsewhere (PostgreSQL),
    the demo is run there (at most ``timeout`` s)."""
    base.mkdir(parents=True, exist_ok=True)
    env = service_env(base, extra=extra_env)
    if env["HOTLINE_KPI_DATABASE_URL"] != f"sqlite:///{base / 'store.db'}":
        run_cli(env, "demo", "--raw-from", "13", cwd=base, timeout=timeout)
        return env
    unexpected = [k for k in extra_env or {} if not k.startswith(_NOT_READ_BY_THE_DEMO)
                  and k != "HOTLINE_KPI_DATABASE_URL"]  # the store's own URL (checked above)
    assert not unexpected, f"settings the demo may read, not in the template: {unexpected}"
    assert not (base / "var").exists(), f"{base} already holds a var folder"
    if (base / "store.db").exists():  # a migrated empty store (the sqlite_url fixture): the demo's replaces it
        with sqlite3.connect(base / "store.db") as conn:
            assert conn.execute("SELECT count(*) FROM ingest").fetchone() == (0,), f"{base}/store.db holds data"
        conn.close()
    shutil.copyfile(template.base / "store.db", base / "store.db")
    shutil.copytree(template.base / "var", base / "var", symlinks=True)
    old, new = str(template.base / "var"), str(base / "var")
    with sqlite3.connect(base / "store.db") as conn:
        conn.execute("UPDATE ingest SET original_path = ? || substr(original_path, ?) WHERE original_path LIKE ?",
                     (new, len(old) + 1, old + "/%"))
    conn.close()
    return env
