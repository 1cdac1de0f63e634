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
