"""A big queue_log read in parts by threads of the ingesting process: a part that fails stops
the others at their next block (nothing of theirs stays behind), and the progress moves while
the parts are read, not only when they end."""

from __future__ import annotations

import dataclasses
import glob
import os
import tempfile
import threading

import pytest

from hotline_kpi.ingest.queue_log import QueueLogIngestor, parallel
from tests.common import ROOT
from tests.ingest.test_queue_log_columnar import _ctx, _messy_log, _settings

WAIT = 30  # seconds a held part waits for what the test expects (a guard against a hang, not a timing)


@pytest.fixture
def log(tmp_path, monkeypatch):
    lines = _messy_log(seed=3)
    path = tmp_path / "queue_log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(parallel, "_workers", lambda size, settings: 2)  # two parts on any machine
    return path


def _spools() -> set[str]:
    """Spool files: named ones in the temporary folder, and unnamed ones this process holds open."""
    named = set(glob.glob(os.path.join(tempfile.gettempdir(), "hotline-kpi-queue-log-*.spool")))
    held = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # (closed meanwhile, or the listing's own)
            continue
        if target.startswith(tempfile.gettempdir()) and target.endswith("(deleted)"):
            held.add(target)
    return named | held


def test_a_part_that_fails_stops_the_other_at_its_next_block(log, catalogues, monkeypatch):
    workers, read = [], {"first": 0}
    first_used = threading.Event()
    enter = parallel._Workers.__enter__
    monkeypatch.setattr(parallel._Workers, "__enter__", lambda self: (workers.append(self), enter(self))[1])
    blocks = parallel.pipe_blocks

    def pipe_blocks(f, end, done, chunk):
        if f.tell() > 0:  # the second part: the disk fails once the first part has used its first block
            assert first_used.wait(WAIT)  # (else, on a busy machine, the first part may not have begun)
            raise OSError("the disk is gone")
        for block in blocks(f, end, done, chunk):
            read["first"] += 1
            yield block
            if read["first"] == 1:  # held after its first block until the parts are called off
                first_used.set()
                assert workers[0].stop.wait(WAIT)

    monkeypatch.setattr(parallel, "pipe_blocks", pipe_blocks)
    before = _spools()
    with pytest.raises(OSError, match="the disk is gone"):
        QueueLogIngestor().parse(log, _ctx(catalogues, _settings(True, parallel_part_min_bytes=1)))
    assert read["first"] == 2  # its second block was read, then the scan stopped before using it
    assert _spools() == before  # neither part's spool is left behind


def test_the_progress_moves_while_the_parts_are_read(log, catalogues, monkeypatch):
    size = log.stat().st_size
    seen: list[int] = []
    moved = threading.Event()

    def progress(done: int, total: int) -> None:
        assert total == size
        seen.append(done)
        if 0 < done < size:
            moved.set()

    blocks = parallel.pipe_blocks

    def pipe_blocks(f, end, done, chunk):
        for i, block in enumerate(blocks(f, end, done, chunk)):
            yield block
            if i == 0:  # each part waits after its first block until the progress has moved
                assert moved.wait(WAIT)

    monkeypatch.setattr(parallel, "pipe_blocks", pipe_blocks)
    ctx = dataclasses.replace(_ctx(catalogues, _settings(True, parallel_part_min_bytes=1)), progress=progress)
    parsed = QueueLogIngestor().parse(log, ctx)
    try:
        assert any("parts at once (one thread each)" in n for n in parsed.notes)
        assert seen == sorted(seen) and seen[-1] == size  # never backwards; the whole file at the end
        assert any(0 < d < size for d in seen)
    finally:
        parsed.close()


_KILLED_CHILD = """
import sys, threading
from pathlib import Path
from hotline_kpi.ingest.queue_log import QueueLogIngestor, parallel
from tests.common import TARGETS
from tests.ingest.test_queue_log_columnar import _ctx, _settings
from hotline_kpi.catalogue import CatalogueSet

blocks = parallel.pipe_blocks
def pipe_blocks(f, end, done, chunk):
    for i, block in enumerate(blocks(f, end, done, chunk)):
        yield block
        if i == 3:
            print("reading", flush=True)
            threading.Event().wait()  # held here until killed
parallel.pipe_blocks = pipe_blocks
parallel._workers = lambda size, settings: 2
QueueLogIngestor().parse(Path(sys.argv[1]), _ctx(CatalogueSet.from_dir(TARGETS), _settings(True, parallel_part_min_bytes=1)))
"""


def test_a_killed_parse_leaves_no_spool_file(log, tmp_path):
    """SIGKILL (the OOM killer, a power cut of the container) while two parts are read: no spool
    file is left in the temporary folder (a year's spool is about 150 MB; killed processes had
    left hundreds)."""
    import signal
    import subprocess
    import sys

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    errors = tmp_path / "stderr"
    with errors.open("wb") as stderr:
        child = subprocess.Popen([sys.executable, "-c", _KILLED_CHILD, str(log)], stdout=subprocess.PIPE,
                                 stderr=stderr, env={**os.environ, "TMPDIR": str(scratch)}, cwd=ROOT)
        try:
            said = child.stdout.readline().strip()
            during = sorted(p.name for p in scratch.iterdir())
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(WAIT)
    assert said == b"reading", errors.read_text(errors="replace")  # (what the child said if it failed)
    assert during == []  # no name while it is written either
    assert sorted(p.name for p in scratch.iterdir()) == []


def test_a_part_that_fails_while_days_are_prepared_reports_its_own_error(tmp_path, catalogues, monkeypatch):
    """A part that fails closes its spool before its thread ends: the preparer, reading that
    spool meanwhile, fails too. Its error must not stand for the part's (preparing days ahead
    is only ahead of time: it stops, and the store step would do them)."""
    import errno

    from hotline_kpi.ingest.queue_log.prepare import DayPreparer
    from hotline_kpi.ingest.queue_log.spool import Spool
    from tests.ingest.test_queue_log_prepare import _log

    path = tmp_path / "queue_log"
    _log(path, False)
    monkeypatch.setattr(parallel, "_workers", lambda size, settings: 2)
    closed, polled = threading.Event(), threading.Event()
    real_poll, real_close, real_blocks = DayPreparer.poll, Spool.close, parallel.pipe_blocks

    def poll(self, spools):  # held back until the failing part has closed its spool
        if closed.is_set():
            try:
                real_poll(self, spools)
            finally:
                polled.set()

    def close(self):
        real_close(self)
        if self.shared:  # the part's spool, closed before its thread ends
            closed.set()
            assert polled.wait(WAIT)

    def pipe_blocks(f, end, done, chunk):
        second = f.tell() > 0
        yield from real_blocks(f, end, done, chunk)
        if second:
            raise OSError(errno.EIO, "the disk is gone")

    monkeypatch.setattr(DayPreparer, "poll", poll)
    monkeypatch.setattr(Spool, "close", close)
    monkeypatch.setattr(parallel, "pipe_blocks", pipe_blocks)
    with pytest.raises(OSError, match="the disk is gone"):
        QueueLogIngestor().parse(path, _ctx(catalogues, _settings(True, parallel_part_min_bytes=1)))
