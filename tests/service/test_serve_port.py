"""``serve`` binds its port before it does anything: a port in use stops it at once, with no
lease taken, no inbox file touched and no job run."""

from __future__ import annotations

import socket
import sqlite3

import pytest

from tests.processes import free_port, run_cli, service_env

pytestmark = pytest.mark.system


def test_serve_on_a_port_in_use_exits_before_any_work(tmp_path):
    env = service_env(tmp_path)
    run_cli(env, "db", "upgrade", cwd=tmp_path)
    inbox = tmp_path / "var" / "inbox"
    inbox.mkdir(parents=True)
    (inbox / "daily.csv").write_text("not, a, report\n")  # a scan would archive or quarantine it
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen(1)
        result = run_cli(env, "serve", "--port", str(port), cwd=tmp_path, check=False, timeout=60)
    assert result.returncode != 0
    assert f"无法监听 127.0.0.1:{port}" in result.stderr, result.stderr
    assert (inbox / "daily.csv").is_file() and not (tmp_path / "var" / "quarantine").exists()
    with sqlite3.connect(tmp_path / "store.db") as db:
        assert db.execute("select count(*) from lease").fetchone() == (0,)
        assert db.execute("select count(*) from job_run").fetchone() == (0,)


def _healthcheck_command() -> list[str]:
    """The Dockerfile's HEALTHCHECK command (exec form), as the engine runs it."""
    import json
    import re

    from tests.common import ROOT

    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    (cmd,) = re.findall(r"^HEALTHCHECK .*?CMD (\[.*\])\s*$", text, re.M)
    return json.loads(cmd)


def test_the_image_healthcheck_asks_the_port_the_service_is_given(tmp_path, request):
    import subprocess
    import sys

    from tests.processes import start_serve

    port = free_port()
    env = service_env(tmp_path, extra={"HOTLINE_KPI_SERVICE__PORT": str(port)})
    run_cli(env, "db", "upgrade", cwd=tmp_path)
    start_serve(env, tmp_path, request.addfinalizer, port=port, wait_for="/healthz")
    command = [sys.executable if part == "python" else part for part in _healthcheck_command()]
    assert subprocess.run(command, env=env, timeout=30).returncode == 0
    elsewhere = dict(env, HOTLINE_KPI_SERVICE__PORT=str(free_port()))  # nothing listens there
    assert subprocess.run(command, env=elsewhere, capture_output=True, timeout=30).returncode != 0


def test_serve_logs_its_start_and_stop_in_chinese_without_uvicorn_lines(tmp_path, request):
    """The service log an office reads (issue #14): the service's own start and stop lines in
    the default language; uvicorn's English lifecycle lines (Started server process [N],
    Shutting down, Finished server process [N]) are not among them."""
    import json

    from tests.processes import start_serve

    env = service_env(tmp_path)
    run_cli(env, "db", "upgrade", cwd=tmp_path)
    served = start_serve(env, tmp_path, request.addfinalizer, wait_for="/healthz")
    assert served.stop() == 0
    messages = [json.loads(line)["msg"] for line in served.log().splitlines() if line.startswith("{")]
    pid = served.proc.pid
    assert f"服务已启动（进程 {pid}），监听 127.0.0.1:{served.port}" in messages, messages
    assert "服务正在停止：先等正在运行的任务完成" in messages and f"服务已停止（进程 {pid}）" in messages, messages
    assert messages.index(f"服务已停止（进程 {pid}）") == len(messages) - 1, messages
    said = "\n".join(messages)
    for english in ("Started server process", "Shutting down", "Finished server process", "Uvicorn running",
                    "heap settled"):
        assert english not in said, said
