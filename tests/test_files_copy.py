"""Keeping an original: the first ``length`` bytes of the file (the part hashed) copied whole
to its place, by the kernel where it can and through the process where it cannot."""

from __future__ import annotations

import os
import threading

import pytest
from pathlib import Path

from hotline_kpi.files import copy_atomic

DATA = bytes(range(256)) * 5000 + b"tail"  # 1,280,004 bytes: more than one MiB read


@pytest.mark.parametrize("kernel", [True, False], ids=["copy_file_range", "read-write"])
@pytest.mark.parametrize("length", [None, 0, 1, len(DATA) - 4, len(DATA)])  # (more: Shrank, below)
def test_the_first_length_bytes_are_copied_whole(tmp_path, monkeypatch, kernel, length):
    source = tmp_path / "queue_log"
    source.write_bytes(DATA)
    if not kernel:
        def refuse(*args):
            raise OSError(18, "Invalid cross-device link")

        monkeypatch.setattr(os, "copy_file_range", refuse)
    target = tmp_path / "kept" / "abc-queue_log"
    copy_atomic(source, target, length, temp_prefix=".incoming-")
    assert target.read_bytes() == DATA[:length]
    assert [p.name for p in target.parent.iterdir()] == ["abc-queue_log"]  # no temp file left


def test_a_copy_that_fails_half_way_through_the_kernel_goes_on_through_the_process(tmp_path, monkeypatch):
    """copy_file_range copies a part, then refuses: the rest is copied by reads and writes,
    from where it stopped."""
    source = tmp_path / "queue_log"
    source.write_bytes(DATA)
    real = os.copy_file_range
    calls = []

    def once(src, dst, count, *args):
        calls.append(count)
        if len(calls) > 1:
            raise OSError(38, "Function not implemented")
        return real(src, dst, 100_000, *args)

    monkeypatch.setattr(os, "copy_file_range", once)
    target = tmp_path / "kept"
    copy_atomic(source, target, len(DATA) - 4)
    assert target.read_bytes() == DATA[:-4]
    assert len(calls) == 2


def test_a_failed_copy_leaves_nothing_behind(tmp_path):
    target = tmp_path / "kept" / "x"
    with pytest.raises(FileNotFoundError):
        copy_atomic(tmp_path / "missing", target)
    assert list(target.parent.iterdir()) == []


class _SetAfter:
    """A cancel flag that reads as set from its ``n``-th look on (a copy called off midway)."""

    def __init__(self, n: int):
        self.n, self.looks = n, 0

    def is_set(self) -> bool:
        self.looks += 1
        return self.looks >= self.n


@pytest.mark.parametrize("kernel", [True, False], ids=["copy_file_range", "read-write"])
@pytest.mark.parametrize("after", [1, 2])
def test_a_copy_called_off_leaves_nothing(tmp_path, monkeypatch, kernel, after):
    from hotline_kpi.files import Cancelled

    source = tmp_path / "queue_log"
    source.write_bytes(DATA * 60)  # 77 MB: more than one 64 MiB step of the kernel's copy
    if not kernel:
        monkeypatch.setattr(os, "copy_file_range", lambda *a: (_ for _ in ()).throw(OSError(18, "cross-device")))
    target = tmp_path / "kept" / "abc-queue_log"
    cancel = _SetAfter(after)
    with pytest.raises(Cancelled):
        copy_atomic(source, target, temp_prefix=".incoming-", cancel=cancel)
    assert cancel.looks == after  # stopped at the first look that saw it set
    assert list(target.parent.iterdir()) == []  # neither the original nor a temp file


def test_a_hash_called_off_stops_and_one_not_called_off_is_the_files(tmp_path):
    import hashlib

    from hotline_kpi.files import Cancelled
    from hotline_kpi.ingest.pipeline import file_hashes

    source = tmp_path / "queue_log"
    source.write_bytes(DATA * 3)
    cancel = _SetAfter(2)
    with pytest.raises(Cancelled):
        file_hashes(source, (), None, cancel)
    assert cancel.looks == 2  # after the second MiB
    assert file_hashes(source, (), None, _SetAfter(10**9))[0] == hashlib.sha256(DATA * 3).hexdigest()


def test_a_parse_that_fails_calls_off_the_copy_of_the_original(tmp_path, sqlite_engine, settings, catalogues, clock,
                                                               monkeypatch):
    # Ctrl-C during a big log's parse: the copy of its original, running alongside, is called
    # off rather than finished and then deleted.
    from hotline_kpi.files import Cancelled
    from hotline_kpi.ingest import pipeline
    from hotline_kpi.ingest.queue_log import QueueLogIngestor
    from tests.ingest.qlog import answered, load

    path = tmp_path / "queue_log"
    path.write_text("\n".join(answered("c1", 0, wait=3)) + "\n", encoding="utf-8")
    seen, copying = [], threading.Event()

    def copy_until_called_off(source, target, length=None, temp_prefix=None, cancel=None, pinned=None):
        copying.set()
        seen.append(cancel.wait(30))  # held until the pipeline calls it off (30 s: a guard, not a timing)
        raise Cancelled

    def interrupted(self, p, ctx):
        assert copying.wait(30)  # the interrupt comes while the original is being copied
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "copy_atomic", copy_until_called_off)
    monkeypatch.setattr(QueueLogIngestor, "parse", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load(sqlite_engine, path, settings, catalogues, clock)
    assert seen == [True]
    assert not settings.originals_dir.exists() or not any(p.is_file() for p in settings.originals_dir.rglob("*"))


@pytest.mark.parametrize("kernel", [True, False], ids=["copy_file_range", "read and write"])
def test_a_file_shorter_than_what_was_hashed_is_not_kept(tmp_path, monkeypatch, kernel):
    """The log was truncated or replaced by a shorter one between its hash and its copy: the
    copy fails (nothing left) rather than keeping fewer bytes as the original of the load."""
    from hotline_kpi.files import Shrank, copy_atomic, os_reason
    from hotline_kpi.i18n import localize

    if not kernel:
        monkeypatch.delattr(os, "copy_file_range", raising=False)
    source = tmp_path / "queue_log"
    source.write_bytes(b"x" * 1000)
    target = tmp_path / "kept" / "original"
    with pytest.raises(Shrank) as caught:
        copy_atomic(source, target, 1500, temp_prefix=".incoming-")
    assert not target.exists() and list((tmp_path / "kept").iterdir()) == []
    assert localize(os_reason(caught.value), "zh") == f"{source}：读取期间文件变短了"
    assert localize(os_reason(caught.value), "en") == f"{source}: the file got shorter while it was being read"
    copy_atomic(source, target, 1000)  # exactly its length: kept
    assert target.read_bytes() == b"x" * 1000


@pytest.mark.parametrize("hashed", ["before the parse", "alongside the parse"])
def test_a_log_rotated_between_its_hash_and_its_copy_keeps_the_bytes_loaded(
        tmp_path, sqlite_engine, settings, catalogues, clock, monkeypatch, hashed):
    """logrotate renames the log and a longer one takes its name after the load hashed it and
    before its original is copied: the original kept is the file that was hashed and loaded
    (one descriptor, opened at the start of the load), not the first bytes of the new log.
    Before 2026-12 the copy opened the name again and kept the new log's bytes under the
    old log's hash. A new log is hashed alongside its parse; one whose size was loaded
    before, or a file of another source, before it."""
    import hashlib

    from hotline_kpi.ingest import pipeline
    from hotline_kpi.ingest.queue_log import QueueLogIngestor
    from hotline_kpi.store import provenance
    from hotline_kpi.store.db import read_session
    from tests.ingest.qlog import answered, load

    if hashed == "before the parse":  # a file of this size was loaded before: hashed first
        earlier = tmp_path / "earlier" / "queue_log"
        earlier.parent.mkdir()
    path = tmp_path / "queue_log"
    loaded = ("\n".join(answered("c1", 0, wait=3) + answered("c2", 60, wait=8)) + "\n").encode()
    path.write_bytes(loaded)
    if hashed == "before the parse":
        earlier.write_bytes(loaded.replace(b"c1", b"c0"))  # the same size, other bytes
        load(sqlite_engine, earlier, settings, catalogues, clock)
    new_log = b"1546272000|NONE|NONE|NONE|QUEUESTART|\n" * 400  # longer than the log loaded
    real_copy, real_parse, parsed = pipeline.copy_atomic, QueueLogIngestor.parse, threading.Event()

    def parse(self, p, ctx):
        try:
            return real_parse(self, p, ctx)
        finally:
            parsed.set()

    def rotate_then_copy(source, target, *args, **kwargs):
        assert parsed.wait(30)  # (the parse has read the log; 30 s: a guard, not a timing)
        source.rename(source.with_name("queue_log.1"))
        source.write_bytes(new_log)
        return real_copy(source, target, *args, **kwargs)

    monkeypatch.setattr(pipeline, "copy_atomic", rotate_then_copy)
    monkeypatch.setattr(QueueLogIngestor, "parse", parse)
    outcome = load(sqlite_engine, path, settings, catalogues, clock)
    assert outcome.status == "loaded"
    assert outcome.sha256 == hashlib.sha256(loaded).hexdigest()
    with read_session(sqlite_engine) as session:
        ingest = provenance.find_loaded(session, "shanghai-12345", "queue-log", outcome.sha256)
        kept = Path(ingest.original_path)
    assert kept.read_bytes() == loaded
    assert path.read_bytes() == new_log  # (the rotation did happen)


def test_a_second_ctrl_c_while_the_original_is_copied_never_keeps_another_files_bytes(
        tmp_path, sqlite_engine, settings, catalogues, clock, monkeypatch):
    """Ctrl-C while the load waits for the copy of its original, and again while it waits for
    the copying thread to end: the load closes its descriptor of the file while the copy is
    under way, and the next file opened would get that number. The copy reads a descriptor
    of its own and is called off: no original is left holding another file's bytes (before,
    the copy went on through the reused number and kept the other file under this file's
    hash; a later good load of the file then kept that copy). Found by review."""
    from concurrent.futures import ThreadPoolExecutor

    from hotline_kpi import files
    from hotline_kpi.ingest import pipeline
    from tests.ingest.qlog import answered, load

    path = tmp_path / "queue_log"
    loaded = ("\n".join(answered("c1", 0, wait=3) + answered("c2", 60, wait=8)) + "\n").encode()
    path.write_bytes(loaded)
    other = tmp_path / "unrelated.db"
    other.write_bytes(b"X" * 10_000)
    in_copy, go, done = threading.Event(), threading.Event(), threading.Event()
    real_copy, real_cfr = pipeline.copy_atomic, os.copy_file_range

    def copy(*a, **kw):
        try:
            return real_copy(*a, **kw)
        finally:
            done.set()

    def held_copy_file_range(src, dst, count, *a):  # a big log: the kernel copy is under way
        in_copy.set()
        assert go.wait(30)  # (30 s: a guard, not a timing)
        return real_cfr(src, dst, count, *a)

    class Interrupted(ThreadPoolExecutor):
        def submit(self, fn, *a, **kw):
            future = super().submit(fn, *a, **kw)

            def result(*_a, **_kw):  # Ctrl-C while the load waits for the copy
                assert in_copy.wait(30)
                raise KeyboardInterrupt
            future.result = result
            return future

        def shutdown(self, wait=True, **kw):  # Ctrl-C again, while it waits for the thread to end
            super().shutdown(wait=False, **kw)
            raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "copy_file_range", held_copy_file_range)
    monkeypatch.setattr(pipeline, "copy_atomic", copy)
    monkeypatch.setattr(pipeline, "ThreadPoolExecutor", Interrupted)
    with pytest.raises(KeyboardInterrupt):
        load(sqlite_engine, path, settings, catalogues, clock)
    with other.open("rb"):  # (anything opened now may get the number the load closed)
        go.set()
        assert done.wait(30)
    kept = [p for p in settings.originals_dir.rglob("*") if p.is_file()]
    assert all(p.read_bytes() == loaded for p in kept), [p.read_bytes()[:8] for p in kept]


def test_the_same_file_loaded_by_two_processes_at_once_is_already_loaded_for_the_second(
        tmp_path, engine, settings, catalogues, clock, monkeypatch):
    """Two `ingest` runs of one log at once (a cron job and an operator): the second to reach
    the store finds the first's load there when it commits (the unique content hash), and
    says "already loaded" as if it had come later; the original stays (it is the first
    load's, kept under the same name). Before, it ended in a raw IntegrityError traceback.
    The race is made certain here: the first load runs to its end while the second's check
    before the store is shown none (two real processes hit the window only now and then)."""
    import hashlib

    from hotline_kpi.ingest import pipeline
    from hotline_kpi.store import provenance
    from hotline_kpi.store.db import read_session
    from tests.ingest.qlog import answered, counters, load

    path = tmp_path / "queue_log"
    path.write_text("\n".join(answered("c1", 0, wait=3) + answered("c2", 60, wait=8)) + "\n", encoding="utf-8")
    first = load(engine, path, settings, catalogues, clock)
    assert first.status == "loaded"
    before = counters(engine)
    real, calls = provenance.find_loaded, []

    def not_yet_on_the_first_look(*a):
        calls.append(a)
        return None if len(calls) == 1 else real(*a)

    monkeypatch.setattr(pipeline.provenance, "find_loaded", not_yet_on_the_first_look)
    second = load(engine, path, settings, catalogues, clock)
    assert second.status == "already_loaded" and second.result.ingest_id == first.result.ingest_id
    assert counters(engine) == before
    kept = [p for p in settings.originals_dir.rglob("*") if p.is_file()]
    assert [p.read_bytes() for p in kept] == [path.read_bytes()]
    with read_session(engine) as session:
        assert real(session, "shanghai-12345", "queue-log", hashlib.sha256(path.read_bytes()).hexdigest()) is not None


def _direct_io_here(folder: Path) -> bool:
    """Whether the file system of ``folder`` takes direct I/O (tmpfs before Linux 6.6 does not)."""
    import fcntl

    fd = os.open(folder / ".probe", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_DIRECT)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
        os.unlink(folder / ".probe")


@pytest.fixture
def direct(monkeypatch):
    """Every copy goes past the page cache, in 8 KiB chunks (a big log's are 4 MiB): returns
    the bytes each copy sent that way."""
    from hotline_kpi import files

    sent: list[int] = []
    real = files._copy_direct

    def copy_direct(*args):
        sent.append(real(*args))
        return sent[-1]

    monkeypatch.setattr(files, "DIRECT_MIN_BYTES", 1)
    monkeypatch.setattr(files, "_DIRECT_CHUNK", 8192)
    monkeypatch.setattr(files, "_copy_direct", copy_direct)
    monkeypatch.setattr(files, "_clone", lambda *a: 0)  # (as on ext4: a file system that clones, below)
    return sent


@pytest.mark.parametrize("length", [1, 4095, 4096, 4097, 3 * 8192 + 100, len(DATA) - 4, None])
def test_a_big_copy_goes_to_the_disk_past_the_page_cache_whole(tmp_path, direct, length):
    """The whole 4 KiB blocks by direct I/O, from one aligned buffer; the last partial block
    through the page cache: the same bytes."""
    if not _direct_io_here(tmp_path):
        pytest.skip("this file system takes no direct I/O (the fallback is tested below)")
    source = tmp_path / "queue_log"
    source.write_bytes(DATA)
    target = tmp_path / "kept" / "abc-queue_log"
    copy_atomic(source, target, length, temp_prefix=".incoming-")
    assert target.read_bytes() == DATA[:length]
    assert direct == [(len(DATA) if length is None else length) // 4096 * 4096]
    assert [p.name for p in target.parent.iterdir()] == ["abc-queue_log"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # an ordinary file, as before


def _umask() -> int:
    from hotline_kpi.files import _umask as umask

    return umask()


@pytest.mark.parametrize("refused", ["flag", "first write"])
def test_where_direct_io_is_refused_the_copy_goes_through_the_page_cache(tmp_path, direct, monkeypatch, refused):
    """A file system without direct I/O refuses the flag (tmpfs before Linux 6.6), or the
    first write (some network and FUSE file systems): nothing is lost, the copy is whole."""
    import errno
    import fcntl

    from hotline_kpi import files

    source = tmp_path / "queue_log"
    source.write_bytes(DATA)
    if refused == "flag":
        real_fcntl = fcntl.fcntl

        def no_direct(fd, cmd, arg=0):
            if cmd == fcntl.F_SETFL and arg & os.O_DIRECT:
                raise OSError(errno.EINVAL, "Invalid argument")
            return real_fcntl(fd, cmd, arg)

        monkeypatch.setattr(fcntl, "fcntl", no_direct)
    else:
        real_write = os.write

        def refuse_direct(fd, data):
            import fcntl as f

            if f.fcntl(fd, f.F_GETFL) & os.O_DIRECT:
                raise OSError(errno.EINVAL, "Invalid argument")
            return real_write(fd, data)

        monkeypatch.setattr(files.os, "write", refuse_direct)
    target = tmp_path / "kept"
    copy_atomic(source, target, len(DATA) - 4)
    assert target.read_bytes() == DATA[:-4]
    assert direct == [0]


def test_a_direct_copy_of_a_file_that_shrank_or_was_called_off_leaves_nothing(tmp_path, direct):
    from hotline_kpi.files import Cancelled, Shrank

    source = tmp_path / "queue_log"
    source.write_bytes(DATA)
    target = tmp_path / "kept" / "abc"
    with pytest.raises(Shrank):
        copy_atomic(source, target, len(DATA) + 8192, temp_prefix=".incoming-")
    cancel = _SetAfter(3)
    with pytest.raises(Cancelled):
        copy_atomic(source, target, temp_prefix=".incoming-", cancel=cancel)
    assert cancel.looks == 3  # (the third 8 KiB chunk)
    assert list(target.parent.iterdir()) == []


@pytest.fixture
def btrfs(tmp_path):
    """A small btrfs on a loop device: a file system that shares blocks between files (as XFS
    does). Making and mounting it needs root and btrfs-progs (CI has both); elsewhere the test
    is skipped, saying so."""
    import shutil
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a btrfs image needs root (CI runs as root)")
    if shutil.which("mkfs.btrfs") is None:
        pytest.skip("mkfs.btrfs is missing (btrfs-progs: .ci/install-test-deps installs it)")
    image, mount = tmp_path / "btrfs.img", tmp_path / "btrfs"
    mount.mkdir()
    with image.open("wb") as f:
        f.truncate(300 << 20)
    made = subprocess.run(["mkfs.btrfs", "-q", str(image)], capture_output=True, text=True)
    done = subprocess.run(["mount", "-o", "loop", str(image), str(mount)], capture_output=True, text=True)
    if made.returncode or done.returncode:
        pytest.skip(f"cannot make or mount a btrfs image here: {(made.stderr + done.stderr).strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_on_a_file_system_that_shares_blocks_a_big_original_is_a_clone(btrfs, monkeypatch):
    """XFS and btrfs clone a file (a reflink): no byte copied, no space taken. A big original
    there is a clone of the log's whole 4 KiB blocks, the rest copied; not a copy past the page
    cache, which would write it all again."""
    import subprocess

    from hotline_kpi import files

    calls = {"clone": [], "direct": []}
    real_clone = files._clone
    monkeypatch.setattr(files, "_clone", lambda *a: calls["clone"].append(real_clone(*a)) or calls["clone"][-1])
    monkeypatch.setattr(files, "_copy_direct", lambda *a: calls["direct"].append(a) or 0)
    data = os.urandom(100 << 20) + b"the last partial block"
    source = btrfs / "queue_log"
    source.write_bytes(data)
    subprocess.run(["sync"], check=True)
    free = os.statvfs(btrfs).f_bavail * os.statvfs(btrfs).f_frsize
    target = btrfs / "kept" / "abc-queue_log"
    copy_atomic(source, target, len(data) - 4, temp_prefix=".incoming-")
    subprocess.run(["sync"], check=True)
    assert target.read_bytes() == data[:-4]
    assert calls == {"clone": [(len(data) - 4) // 4096 * 4096], "direct": []}
    used = free - os.statvfs(btrfs).f_bavail * os.statvfs(btrfs).f_frsize
    assert used < 10 << 20  # (a copy would have taken the 100 MB again)
