"""Edges of a queue_log load met by a review: a call line without a queue name among queue
patterns that take it (the vectorised scan counts it as the line scan does); a new log found
loaded by another process while it was parsed (nothing of it stays behind); an original that
cannot be kept after a good parse (nothing of the parse stays behind)."""

from __future__ import annotations

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
