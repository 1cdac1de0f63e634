"""The test set-up starts and stops only what it started, by process id (issue #17): no
script, Makefile target or test stops a process by its name (``pkill``, ``killall``, a
``kill`` of what ``pgrep`` or ``pidof`` found), which would stop a Prometheus or a
PostgreSQL that someone else runs on the same machine."""

from __future__ import annotations

import re
from pathlib import Path

from tests.common import ROOT

BY_NAME = re.compile(r"\b(pkill|killall|pidof)\b|kill[^\n]*\$\((pgrep|pidof)\b|\bpgrep\b[^\n]*\|\s*xargs\s+kill")


def _scripts() -> list[Path]:
    found = [ROOT / "Makefile", *sorted((ROOT / ".ci").iterdir())]
    for folder in ("tests", "bench"):
        found += sorted((ROOT / folder).rglob("*.py")) + sorted((ROOT / folder).rglob("*.sh"))
    return [p for p in found if p.is_file() and p != Path(__file__).resolve()]


def test_nothing_stops_a_process_by_its_name() -> None:
    offenders = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in _scripts()
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if not line.lstrip().startswith("#") and BY_NAME.search(line)]
    assert not offenders, "\n".join(offenders)


def test_the_debian_install_starts_no_packaged_daemon_and_stops_none() -> None:
    text = (ROOT / ".ci" / "install-test-deps").read_text(encoding="utf-8")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "policy-rc.d" in code and "exit 101" in code  # invoke-rc.d starts nothing while it installs
    assert not re.search(r"\b(service|systemctl|invoke-rc\.d)\b[^\n]*\bstop\b", code), "it stops a service"
