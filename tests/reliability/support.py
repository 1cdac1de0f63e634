"""Shared by the reliability suite: raw HTTP, table counts, and the secrets planted in the
environment (serve processes: tests/processes.py).

Every wait is bounded.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Callable, Mapping

from sqlalchemy import func, select

from hotline_kpi.store.db import make_engine, read_session
from hotline_kpi.store.models import IngestAttemptRow
from tests.common import DATA_TABLES

#: Secrets planted in the environment of a serve process; none may show anywhere.
PG_PASSWORD = "pg-PASSWORD-4f7e1c"
SMTP_PASSWORD = "smtp-PASSWORD-9b2d55"
TOKEN = "bearer-TOKEN-0a8c3e71d2"
SECRETS = (PG_PASSWORD, SMTP_PASSWORD, TOKEN)


def counts(url: str) -> dict[str, int]:
    """Rows in every data table of the store at ``url``."""
    eng = make_engine(url)
    try:
        with read_session(eng) as s:
            return {t.name: s.scalar(select(func.count()).select_from(t)) for t in DATA_TABLES}
    finally:
        eng.dispose()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"not within {timeout:g} s: {what}")


def raw_get(port: int, target: str, headers: Mapping[str, str] | None = None, method: str = "GET",
            timeout: float = 5) -> tuple[int, bytes]:
    """Send the request line exactly as given (no client-side normalisation of ``..``)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def drop(folder: Path, name: str, data: bytes | str, age_seconds: float = 60) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp))
    return path


#: A serve that scans its inbox every second, loads a file at once and refreshes /metrics
#: every second.
FAST_SCANS = {
    "HOTLINE_KPI_SERVICE__INBOX_SCAN_SECONDS": "1",
    "HOTLINE_KPI_SERVICE__INBOX_SETTLE_SECONDS": "0",
    "HOTLINE_KPI_SERVICE__METRICS_REFRESH_SECONDS": "1",
}


def attempts(url: str) -> list[tuple[str, str, str]]:
    """(file name, result, message) of every inbox or CLI attempt, oldest first."""
    eng = make_engine(url)
    try:
        with read_session(eng) as s:
            return [(r.file_name, r.result, r.message)
                    for r in s.scalars(select(IngestAttemptRow).order_by(IngestAttemptRow.id))]
    finally:
        eng.dispose()


def metric(port: int, name: str, labels: str = "") -> float | None:
    """The value of the series ``name`` on the /metrics of the serve on ``port``: with
    exactly ``labels`` (e.g. ``job_id="x"``) when given, else unlabelled or the first one;
    None when absent."""
    status, body = raw_get(port, "/metrics")
    assert status == 200, f"/metrics answered {status}"
    for line in body.decode().splitlines():
        if labels and line.startswith(f"{name}{{{labels}}} "):
            return float(line.rsplit(" ", 1)[1])
        if not labels and (line.startswith(name + " ") or line.startswith(name + "{")):
            return float(line.rsplit(" ", 1)[1])
    return None


def errors_on_metrics(port: int) -> float:
    """The sum of ``hotline_kpi_ingest_files_total{result="error"}`` over the sources."""
    status, body = raw_get(port, "/metrics")
    assert status == 200, f"/metrics answered {status}"
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
               if line.startswith("hotline_kpi_ingest_files_total{") and 'result="error"' in line)


def files(folder: Path) -> list[Path]:
    """Every file below ``folder`` (none when it is not a folder), sorted."""
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
