"""A throwaway PostgreSQL cluster for the test suite (real server, not a fake).

Uses ``HOTLINE_KPI_TEST_POSTGRES_URL`` when set (a server the caller runs); otherwise
starts a private cluster from Debian's packaged binaries in a temporary folder on a
free loopback port. initdb and pg_ctl refuse to run as root, so as root they run as the
``postgres`` user (reference/observability.md, "Machine notes").
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.processes import free_port


class PostgresUnavailable(RuntimeError):
    pass


@dataclass
class Cluster:
    url: str  # SQLAlchemy URL of the "postgres" maintenance database
    folder: Path | None
    bindir: Path | None
    owned: bool

    def database_url(self, name: str) -> str:
        base, _, _ = self.url.rpartition("/")
        return f"{base}/{name}"

    def stop(self) -> None:
        if not self.owned or self.folder is None or self.bindir is None:
            return
        _run(_as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "stop"]),
             check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _run(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise PostgresUnavailable(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def find_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


def start_cluster() -> Cluster:
    url = os.environ.get("HOTLINE_KPI_TEST_POSTGRES_URL")
    if url:
        return Cluster(url, None, None, owned=False)
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb). "
            "Run the suite with `make test`, which installs Debian's postgresql package, "
            "or set HOTLINE_KPI_TEST_POSTGRES_URL to a server you run."
        )
    folder = Path(tempfile.mkdtemp(prefix="hotline-kpi-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    _run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                       "--no-sync", "--locale=C"]))
    port = free_port()
    opts = (f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
    _run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(folder / "log"), "-w",
                       "-t", "60", "start"]))
    return Cluster(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", folder, bindir, owned=True)
