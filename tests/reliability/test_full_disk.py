"""A full disk under a real ``hotline-kpi serve``: ``var/`` on a small tmpfs filled to the
last byte.

The inbox keeps the original of every file it loads (``var/originals``) before storing
anything, so on a full disk that copy is what fails. The file must stay in the inbox,
byte for byte, nothing stored, the error visible; once space is freed, the next scan
loads it once and archives it.

Mounting a tmpfs needs root (CI runs as root); elsewhere the test is skipped, saying so.
The store itself (SQLite) lies outside the full filesystem: a full database disk is the
database's failure, covered by the database-down rows of docs/reliability.md.
"""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from tests.reliability.support import FAST_SCANS, attempts, counts, drop, errors_on_metrics, files, wait_for
from tests.processes import service_env, start_serve
from tests.test_cli import REPORT

#: Starts real processes (tests/processes.py): deselected by ``pytest -m 'not system'``.
pytestmark = pytest.mark.system

@pytest.fixture
def small_var(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """``tmp_path/var`` as a 512 KiB tmpfs, unmounted at the end."""
    var = tmp_path / "var"
    var.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs for a full disk needs root (CI runs as root)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0755", "tmpfs", str(var)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    request.addfinalizer(lambda: subprocess.run(["umount", "-l", str(var)], capture_output=True))
    return var


def _fill(folder: Path) -> Path:
    """Write one file in ``folder`` until the filesystem is full; returns it."""
    filler = folder / "filler.bin"
    chunk = b"\0" * 4096
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    with open(filler, "ab", buffering=0) as f:  # the last partial block too
        try:
            while True:
                f.write(b"\0")
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def test_a_full_disk_keeps_the_file_in_the_inbox_stores_nothing_and_it_loads_once_space_is_freed(
        small_var: Path, tmp_path: Path, sqlite_url: str, request: pytest.FixtureRequest):
    env = service_env(tmp_path, extra={"HOTLINE_KPI_DATABASE_URL": sqlite_url, **FAST_SCANS})
    for folder in ("inbox", "originals", "archive", "quarantine"):
        (small_var / folder).mkdir()
    path = drop(small_var / "inbox", "jan.csv", REPORT)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    filler = _fill(small_var / "quarantine")
    before = counts(sqlite_url)

    served = start_serve(env, tmp_path, request.addfinalizer, wait_for="/healthz")
    wait_for(lambda: any(r[1] == "error" for r in attempts(sqlite_url)) or served.proc.poll() is not None, 30,
             "an inbox error recorded for jan.csv")
    assert served.proc.poll() is None, f"serve exited\n{served.log()}"
    [error, *_] = [r for r in attempts(sqlite_url) if r[1] == "error"]
    assert error[0] == "jan.csv" and "No space left on device" in error[2], error
    wait_for(lambda: "No space left on device" in served.log(), 15, "the error in the serve log")
    wait_for(lambda: errors_on_metrics(served.port) >= 1, 15, 'hotline_kpi_ingest_files_total{result="error"}')
    assert path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == digest, "jan.csv left or changed"
    assert counts(sqlite_url) == before, "something was stored although the original could not be kept"
    assert files(small_var / "originals") == [], "a partial copy of the original was left behind"

    filler.unlink()  # space again
    wait_for(lambda: not path.exists(), 30, "jan.csv loaded and archived once space is free")
    archived = files(small_var / "archive")
    assert [p.name for p in archived] == ["jan.csv"]
    assert hashlib.sha256(archived[0].read_bytes()).hexdigest() == digest
    assert len(files(small_var / "originals")) == 1, "the original was not kept"
    after = counts(sqlite_url)
    assert after["ingest"] == before["ingest"] + 1 and after["source_day"] > before["source_day"]
    assert [r[1] for r in attempts(sqlite_url) if r[1] != "error"] == ["loaded"]
    assert served.stop() == 0
