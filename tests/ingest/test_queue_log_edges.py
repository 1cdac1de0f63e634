"""Edges of a queue_log load met by a review: a call line without a queue name among queue
patterns that take it (the vectorised scan counts it as the line scan does); a new log found
loaded by another process while it was parsed (nothing of it stays behind); an original that
cannot be kept after a good parse (nothing of the parse stays behind); a call id that is not
UTF-8 held in memory while later blocks are read the vectorised way."""

from __future__ import annotations

import tempfile

import pytest

from tests.ingest.qlog import ev
from tests.ingest.test_queue_log_columnar import _scan_here


def test_call_without_queue_name_is_kept_by_the_vectorised_scan_as_by_the_line_scan(tmp_path, catalogues):
    # Queue patterns that take lines without a queue name (""); the block also holds a
    # membership event of another queue ("NONE"). The line scan counts the call with the empty
    # queue; the vectorised scan's filter `is_call & ~q.is_in(theirs)` is null for a null queue
    # and drops the call.
    lines = [ev(0, "s1", "QUEUESTART", "", queue="NONE"),
             ev(10, "e1", "ENTERQUEUE", "", "138", 1, queue=""),
             ev(15, "e1", "ABANDON", 1, 1, 5, queue=""),
             ev(20, "a1", "ENTERQUEUE", "", "139", 1),
             ev(25, "a1", "CONNECT", 5, "x", 1)]
    path = tmp_path / "queue_log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    patterns = ("12345*", "")
    blocks: list[int] = []
    vectorised = _scan_here(path, catalogues, True, patterns, blocks)
    assert blocks == [1]  # the block was read the vectorised way
    assert vectorised == _scan_here(path, catalogues, False, patterns)
    assert sum(len(states) for states in vectorised[0].values()) == 2  # the call without a queue name counted


def test_a_log_found_loaded_after_its_parse_leaves_no_original_behind(tmp_path, sqlite_engine, settings, catalogues,
                                                                      clock, monkeypatch):
    # Two names of one new log loaded at once (the inbox and a manual `hotline-kpi ingest`):
    # the second finishes first. The first, hashed alongside its parse, then finds the same
    # bytes loaded and returns "already_loaded", but the original it kept meanwhile (under its
    # own name) stays on disk, referenced by no load.
    from sqlalchemy import select

    from hotline_kpi.ingest.queue_log import QueueLogIngestor
    from hotline_kpi.store.db import read_session
    from hotline_kpi.store.models import IngestRow
    from tests.ingest.qlog import answered, load

    lines = "\n".join(answered("c1", 0, wait=3)) + "\n"
    a, b = tmp_path / "queue_log", tmp_path / "queue_log.copy"
    a.write_text(lines, encoding="utf-8")
    b.write_text(lines, encoding="utf-8")
    parse = QueueLogIngestor.parse
    others = []

    def parse_while_another_loads(self, p, ctx):
        if p == a and not others:
            others.append(load(sqlite_engine, b, settings, catalogues, clock))
        return parse(self, p, ctx)

    monkeypatch.setattr(QueueLogIngestor, "parse", parse_while_another_loads)
    outcome = load(sqlite_engine, a, settings, catalogues, clock)
    assert others[0].result.status == "loaded"
    assert outcome.result.status == "already_loaded"
    with read_session(sqlite_engine) as s:
        referenced = set(s.scalars(select(IngestRow.original_path)))
    kept = {str(p) for p in settings.originals_dir.rglob("*") if p.is_file()}
    assert kept == referenced


def test_an_original_that_cannot_be_kept_leaves_no_spool_behind(tmp_path, sqlite_engine, settings, catalogues, clock,
                                                                 monkeypatch):
    # The copier thread fails (the originals' disk is full) after the parse succeeded:
    # `keeping.result()` raises outside any try, and the parsed spool (temp files) is never closed.
    import tempfile

    import pytest

    from hotline_kpi.ingest import pipeline
    from tests.ingest.qlog import answered, load

    spool_dir = tmp_path / "tmp"
    spool_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool_dir))
    path = tmp_path / "queue_log"
    path.write_text("\n".join(answered("c1", 0, wait=3)) + "\n", encoding="utf-8")

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pipeline, "copy_atomic", disk_full)
    with pytest.raises(OSError):
        load(sqlite_engine, path, settings, catalogues, clock)
    assert [p.name for p in spool_dir.iterdir()] == []


def _plain_calls(n: int, start: int = 0) -> list[str]:
    out = []
    for i in range(n):
        out += [ev(start + i * 5, f"f{i}", "ENTERQUEUE", "", "138", 1), ev(start + i * 5 + 3, f"f{i}", "ABANDON", 1, 1, 3)]
    return out


def _gbk_call_then_plain_calls(tmp_path, n: int, first: list[str] = ()):
    # A call id in GBK (中), not UTF-8: its block is read line by line and the call stays in the
    # state machine's memory; the next blocks are plain and read the vectorised way, which
    # lists the ids in memory as text to tell them from its own.
    from tests.ingest.qlog import T0

    body = "".join(line + "\n" for line in first).encode()
    body += ("%d|\xd6\xd0|12345|NONE|ENTERQUEUE||138|1\n" % (T0 + 1)).encode("latin-1")
    body += ("\n".join(_plain_calls(n, 10)) + "\n").encode()
    path = tmp_path / "queue_log"
    path.write_bytes(body)
    return path


def test_a_call_id_that_is_not_utf8_in_memory_does_not_stop_the_vectorised_scan(tmp_path, catalogues):
    path = _gbk_call_then_plain_calls(tmp_path, 200, [ev(0, "x", "ENTERQUEUE", "", "138", 1)])
    blocks: list[int] = []
    vectorised = _scan_here(path, catalogues, True, blocks=blocks)
    assert blocks[0] >= 2  # blocks after it were read the vectorised way, with the call in memory
    assert vectorised == _scan_here(path, catalogues, False)


def test_a_call_id_that_is_not_utf8_loads_as_with_the_line_scan(tmp_path, catalogues):
    from tests.ingest.test_queue_log_columnar import _parse, _settings

    path = _gbk_call_then_plain_calls(tmp_path, 300)
    line_scan = _parse(path, catalogues, _settings(False))
    assert not isinstance(line_scan, list)  # the line scan loads it (no problem)
    assert _parse(path, catalogues, _settings(True)) == line_scan


def _kept(settings) -> list[str]:
    return sorted(p.name for p in settings.originals_dir.rglob("*") if p.is_file())


def test_an_interrupt_while_storing_leaves_no_original_behind(tmp_path, sqlite_engine, settings, catalogues, clock,
                                                              monkeypatch):
    # Ctrl-C while the store step runs (after the parse, the original kept meanwhile): the
    # write transaction is rolled back, so the original (830 MB for a year's log) must go too.
    import pytest
    from sqlalchemy import func, select

    from hotline_kpi.ingest import pipeline
    from hotline_kpi.store.db import read_session
    from hotline_kpi.store.models import IngestRow
    from tests.ingest.qlog import answered, load

    path = tmp_path / "queue_log"
    path.write_text("\n".join(answered("c1", 0, wait=3)) + "\n", encoding="utf-8")

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(pipeline, "store_records", interrupted)
        with pytest.raises(KeyboardInterrupt):
            load(sqlite_engine, path, settings, catalogues, clock)
    assert _kept(settings) == []
    with read_session(sqlite_engine) as s:
        assert s.scalar(select(func.count()).select_from(IngestRow)) == 0
    # The next load keeps it, with its load.
    assert load(sqlite_engine, path, settings, catalogues, clock).result.status == "loaded"
    assert len(_kept(settings)) == 1


def test_an_interrupt_after_the_commit_keeps_the_original_of_the_stored_load(tmp_path, sqlite_engine, settings,
                                                                            catalogues, clock, monkeypatch):
    # The interrupt arrives once the load is committed (as the write session ends): the load
    # is in the store, so its original stays.
    import pytest

    from hotline_kpi.ingest import pipeline
    from tests.ingest.qlog import answered, load

    path = tmp_path / "queue_log"
    path.write_text("\n".join(answered("c1", 0, wait=3)) + "\n", encoding="utf-8")
    write_session = pipeline.write_session

    class _CommittedThenInterrupted:
        def __init__(self, engine):
            self.inner = write_session(engine)

        def __enter__(self):
            return self.inner.__enter__()

        def __exit__(self, *exc):
            self.inner.__exit__(*exc)
            if exc[0] is None:
                raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "write_session", _CommittedThenInterrupted)
    with pytest.raises(KeyboardInterrupt):
        load(sqlite_engine, path, settings, catalogues, clock)
    assert len(_kept(settings)) == 1


def _rotate(path, lines: int = 400) -> bytes:
    """logrotate: the log renamed to queue_log.1, a new log under its name."""
    new_log = b"1551398400|NONE|NONE|NONE|QUEUESTART|\n" * lines
    path.rename(path.with_name(path.name + ".1"))
    path.write_bytes(new_log)
    return new_log


@pytest.mark.parametrize("where", ["the parse", "the parse, no new log yet", "a part read by a thread",
                                   "a part read by a worker process"])
def test_a_log_rotated_before_the_parse_opens_it_is_refused_not_counted_under_the_first_ones_hash(
        tmp_path, sqlite_engine, settings, catalogues, clock, monkeypatch, where):
    """The load opens the file once (its hash and kept original come from there); the parse,
    and each part of a big log, open the name again. When another file has the name by then
    (logrotate ran in between), the load stops, saying so, instead of counting the new log's
    lines under the old one's hash: nothing stored, no original kept. Loaded again, the file
    under the name loads as itself."""
    from hotline_kpi.i18n import localize
    from hotline_kpi.ingest import pipeline
    from hotline_kpi.ingest.queue_log import parallel
    from hotline_kpi.problems import IngestRejected
    from tests.ingest.qlog import answered, counters, load

    scratch = tmp_path / "tmp"  # (the temporary folder: no spool of any part is left in it)
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", None)
    path = tmp_path / "queue_log"
    path.write_text("\n".join(answered("c1", 0, wait=3) + answered("c2", 60, wait=8)) + "\n", encoding="utf-8")
    if where.startswith("the parse"):
        real = pipeline.get_ingestor  # (called after the load opened the file, before the parse)
        rotate = (lambda: path.rename(path.with_name("queue_log.1"))) if "no new log" in where else (
            lambda: _rotate(path))
        monkeypatch.setattr(pipeline, "get_ingestor", lambda source: (rotate(), real(source))[1])
    else:
        settings = settings.model_copy(update={"queue_log": settings.queue_log.model_copy(update={
            "vectorised": "thread" in where, "parallel_min_bytes": 1, "parallel_part_min_bytes": 1})})
        monkeypatch.setattr(parallel, "_workers", lambda size, s: 2)
        enter = parallel._Workers.__enter__
        monkeypatch.setattr(parallel._Workers, "__enter__", lambda self: (_rotate(path), enter(self))[1])
    with pytest.raises(IngestRejected) as caught:  # (from a worker process too, pickled back whole)
        load(sqlite_engine, path, settings, catalogues, clock)
    assert list(scratch.iterdir()) == []
    [problem] = caught.value.problems
    assert localize(problem.why, "zh") == "加载期间这个文件名下的文件变了（被改名或替换：日志轮转了？）：未加载任何内容，请重新加载"
    assert localize(problem.why, "en").startswith("the file under this name changed while it was being loaded")
    assert counters(sqlite_engine) == {}
    assert not settings.originals_dir.exists() or not any(p.is_file() for p in settings.originals_dir.rglob("*"))
    monkeypatch.undo()
    if path.exists():
        again = load(sqlite_engine, path, settings, catalogues, clock)  # the new log, as itself
        assert again.status == "loaded" and counters(sqlite_engine) == {}  # (it holds no call)


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz", "zstd"])
@pytest.mark.parametrize("source", [None, "queue-log"])
def test_a_compressed_log_is_refused_as_compressed_saying_how_to_decompress_it(
        tmp_path, sqlite_engine, settings, catalogues, clock, kind, source):
    """logrotate's ``compress`` leaves ``queue_log.1.gz``: refused as a compressed file with the
    command that gives the log back, nothing stored. Before, with --source queue-log it was
    "NUL bytes ... remove them (tr -d '\\000')", which turned it into garbage; without, "cannot
    tell which system produced this file"."""
    import bz2
    import gzip
    import lzma

    import zstandard

    from hotline_kpi.i18n import localize
    from hotline_kpi.problems import IngestRejected
    from tests.ingest.qlog import answered, counters, load

    log = ("\n".join(answered("c1", 0, wait=3)) + "\n").encode()
    packed = {"gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress,
              "zstd": zstandard.ZstdCompressor().compress}[kind](log)
    command = {"gzip": "gunzip -k", "bzip2": "bunzip2 -k", "xz": "unxz -k", "zstd": "unzstd"}[kind]
    path = tmp_path / "queue_log.1.gz"
    path.write_bytes(packed)
    with pytest.raises(IngestRejected) as caught:
        load(sqlite_engine, path, settings, catalogues, clock, source=source)
    [problem] = caught.value.problems
    assert localize(problem.why, "zh") == f"文件是压缩文件（{kind}）：请先解压（{command} queue_log.1.gz），再加载解压出的文件"
    assert localize(problem.why, "en") == (f"the file is compressed ({kind}): decompress it first ({command} "
                                           "queue_log.1.gz) and load the file that gives")
    assert counters(sqlite_engine) == {}
    assert not settings.originals_dir.exists() or not any(p.is_file() for p in settings.originals_dir.rglob("*"))


@pytest.mark.parametrize("tab", [True, False], ids=["a tab and spaces", "spaces only"])
@pytest.mark.parametrize("vectorised", [True, False], ids=["vectorised", "line scan"])
def test_blanks_around_a_call_id_are_not_part_of_it(tmp_path, sqlite_engine, settings, catalogues, clock,
                                                    vectorised, tab):
    """A tab after the call id of one ENTERQUEUE (an export edited by hand): the call is still
    one answered call of its id, as blanks around the time, the event or a wait are ignored.
    Before, `m11<TAB>` was a call of its own (offered, never answered) and `m11` an orphan:
    4,192 answered instead of 4,193 on the reporter's day, exit 0."""
    from tests.ingest.qlog import abandoned, answered, counters, load

    lines = answered("m10", 0, wait=3) + answered("m11", 60, wait=8) + abandoned("m12", 120, wait=30)
    lines[3] = lines[3].replace("|m11|", "|m11\t|" if tab else "|m11  |")  # m11's ENTERQUEUE
    # (spaces only: a block without control bytes, checked in the plan, not searched again)
    lines[-2] = lines[-2].replace("|m12|", "| m12 |")  # m12's ENTERQUEUE
    assert "ENTERQUEUE" in lines[3] and "ENTERQUEUE" in lines[-2]
    path = tmp_path / "queue_log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = settings.model_copy(update={"queue_log": settings.queue_log.model_copy(update={
        "vectorised": vectorised, "parallel_min_bytes": 1 if vectorised else 1 << 40})})
    outcome = load(sqlite_engine, path, settings, catalogues, clock)
    [day] = counters(sqlite_engine).values()
    assert (day["calls_offered"], day["calls_answered"], day["answer_wait_seconds_sum"]) == (3, 2, 11)
    assert not any("orphan" in str(n) for n in outcome.notes)


@pytest.mark.parametrize("vectorised", [True, False], ids=["vectorised", "line scan"])
def test_a_log_saved_with_a_byte_order_mark_loads_and_grows(tmp_path, sqlite_engine, settings, catalogues, clock,
                                                           vectorised):
    """A queue_log saved by a Windows editor begins with a UTF-8 byte order mark. Before, it was
    refused: line 1, column time, value "1551401995" (the mark invisible in the message).
    It loads now, and the grown log resumes after the bytes loaded, as any log."""
    from tests.ingest.qlog import answered, counters, load

    settings = settings.model_copy(update={"queue_log": settings.queue_log.model_copy(update={
        "vectorised": vectorised, "parallel_min_bytes": 1 if vectorised else 1 << 40})})
    path = tmp_path / "queue_log"
    path.write_bytes(b"\xef\xbb\xbf" + ("\n".join(answered("c1", 0, wait=3)) + "\n").encode())
    first = load(sqlite_engine, path, settings, catalogues, clock)
    assert first.status == "loaded"
    [day] = counters(sqlite_engine).values()
    assert (day["calls_offered"], day["calls_answered"], day["answer_wait_seconds_sum"]) == (1, 1, 3)
    with path.open("a", encoding="utf-8") as f:
        f.write("\n".join(answered("c2", 100, wait=9)) + "\n")
    again = load(sqlite_engine, path, settings, catalogues, clock)
    assert any("read from byte" in n for n in again.notes), again.notes
    [day] = counters(sqlite_engine).values()
    assert (day["calls_offered"], day["calls_answered"], day["answer_wait_seconds_sum"]) == (2, 2, 12)
