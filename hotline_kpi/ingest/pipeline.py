"""Loading one file: hash, parse and validate outside any transaction, keep the original,
then store everything in one short write transaction. A file loads whole or not at all.

Raw sources (:class:`~hotline_kpi.ingest.base.RecordIngestor`) store through their store
step (:mod:`hotline_kpi.ingest.storing`), which merges with what earlier files left. For an append-only log the
pipeline also keeps a high-water mark: a file whose beginning is byte for byte a log
loaded before (same first line, same hash of the loaded part) is read from where the
last load stopped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO, Callable, Iterable

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from hotline_kpi.i18n import M_
from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import Clock, local_today
from hotline_kpi.files import check, copy_atomic, display_name, open_pinned
from hotline_kpi.domain import ParsedFile
from hotline_kpi.ingest.base import IngestContext, Progress, Resume
from hotline_kpi.ingest.registry import detect_source, get_ingestor
from hotline_kpi.ingest.storing import store_records
from hotline_kpi.problems import IngestRejected, Problem
from hotline_kpi.settings import Settings
from hotline_kpi.store import provenance, records
from hotline_kpi.store.db import read_session, write_session
from hotline_kpi.store.provenance import FileMeta, StoreRequest, StoreResult

_HEAD_BYTES = 64 * 1024
_SAFE = re.compile(r"[^A-Za-z0-9._\-\u4e00-\u9fff]+")


class LoadAbandoned(Exception):
    """Raised by an ``ingest_file`` caller's ``before_commit``: the load is rolled back
    whole and no original is kept (the file changed while it was read)."""


@dataclass(frozen=True)
class IngestOutcome:
    path: Path
    source: str
    hotline_id: str
    sha256: str
    result: StoreResult
    notes: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        return self.result.status


def file_hashes(path: Path, prefixes: Iterable[int] = (), limit: int | None = None,
                cancel: threading.Event | None = None,
                pinned: BinaryIO | None = None) -> tuple[str, int, dict[int, str]]:
    """SHA-256 and size of the file (of its first ``limit`` bytes), and the SHA-256 of its
    first n bytes for each n in ``prefixes`` (within the file), in one pass (called off within
    a MiB once ``cancel`` is set: :class:`~hotline_kpi.files.Cancelled`). ``pinned``: the
    file as opened at the start of the load (:func:`~hotline_kpi.files.open_pinned`)."""
    h = hashlib.sha256()
    size = 0
    wanted = sorted({n for n in prefixes if n >= 0})
    found: dict[int, str] = {}
    buffer = memoryview(bytearray(1 << 20))  # read into one buffer: no new memory per chunk
    with open_pinned(pinned) if pinned is not None else path.open("rb", buffering=0) as f:
        while chunk := buffer[:f.readinto(buffer if limit is None else buffer[:min(1 << 20, limit - size)])]:
            while wanted and wanted[0] <= size + len(chunk):
                cut = wanted.pop(0) - size
                h.update(chunk[:cut])
                found[size + cut] = h.copy().hexdigest()
                chunk = chunk[cut:]
                size += cut
            h.update(chunk)
            size += len(chunk)
            check(cancel)
    if wanted and wanted[0] == size:  # pragma: no cover - covered by the loop's <=
        found[size] = h.hexdigest()
    return h.hexdigest(), size, found


def _stored(engine: Engine, hotline_id: str, source: str, sha256: str) -> bool:
    """Whether a load of these bytes is in the store (an interrupt can come just after the
    commit): True too when the store cannot be asked, so that no kept original is lost."""
    try:
        with read_session(engine) as session:
            return provenance.find_loaded(session, hotline_id, source, sha256) is not None
    except Exception:  # noqa: BLE001 - the store is down: keep the original rather than guess
        return True


def original_path(path: Path, sha256: str, originals: Path, hotline_id: str, source: str, today: dt.date) -> Path:
    """Where :func:`keep_original` keeps a file: by content hash, under the load's year."""
    safe_name = _SAFE.sub("_", path.name)[-120:] or "file"
    return originals / hotline_id / source / f"{today:%Y}" / f"{sha256[:16]}-{safe_name}"


def keep_original(path: Path, sha256: str, originals: Path, hotline_id: str, source: str, today: dt.date,
                  length: int | None = None, cancel: threading.Event | None = None,
                  pinned: BinaryIO | None = None) -> Path:
    """Copy the file (its first ``length`` bytes: the part hashed) under ``originals/`` by
    content hash (temp file + rename: atomic).

    Content-addressed, so keeping the same file twice is a no-op.
    """
    target = original_path(path, sha256, originals, hotline_id, source, today)
    if not target.exists():
        copy_atomic(path, target, length, temp_prefix=".incoming-", cancel=cancel, pinned=pinned)
    return target


def ingest_file(
    engine: Engine,
    path: Path,
    *,
    settings: Settings,
    catalogues: CatalogueSet,
    clock: Clock,
    hotline_id: str | None = None,
    source: str | None = None,
    progress: Progress | None = None,
    before_commit: Callable[[], None] | None = None,
    sheet: str | None = None,
) -> IngestOutcome:
    """Load one file. Raises IngestRejected (nothing stored) or UnknownSource.

    An IngestRejected raised once the source is known carries it as ``source``.
    ``before_commit`` is called inside the write transaction, after everything is stored
    and before the commit: an exception it raises rolls the whole load back (the inbox
    raises LoadAbandoned there when the file changed while it was read)."""
    hotline = catalogues.hotline(hotline_id or settings.default_hotline)
    if not path.exists():
        raise FileNotFoundError(M_("{path}: no such file", path=str(path)))
    if not path.is_file():
        raise FileNotFoundError(M_("{path}: not a file", path=str(path)))
    _check_size(path, path.stat().st_size, settings)  # before anything is opened: a huge file costs nothing
    # One descriptor for the load: the hashes and the kept original are of the file opened
    # here, even when the name is given to another file meanwhile (a log rotated while read).
    with path.open("rb") as pinned:
        return _load(engine, path, pinned, hotline, settings, catalogues, clock, source, progress, before_commit,
                     sheet)


#: What a file compressed as a whole begins with, and the command that gives the file back
#: (a log rotated with logrotate's ``compress`` is gzip: ``queue_log.1.gz``).
_COMPRESSED = ((b"\x1f\x8b", "gzip", "gunzip -k"), (b"BZh", "bzip2", "bunzip2 -k"),
               (b"\xfd7zXZ\x00", "xz", "unxz -k"), (b"\x28\xb5\x2f\xfd", "zstd", "unzstd"))


def _check_not_compressed(path: Path, head: bytes) -> None:
    """A compressed file is refused as such (its bytes would read as binary data: NUL bytes,
    or no known source), saying how to decompress it."""
    for magic, kind, command in _COMPRESSED:
        if head.startswith(magic) and (kind != "bzip2" or head[3:4].isdigit()):
            name = display_name(path.name)
            raise IngestRejected(name, [Problem(name, M_(
                "the file is compressed ({kind}): decompress it first ({command} {file}) and load the file that "
                "gives", kind=kind, command=command, file=path.name))])


def _check_size(path: Path, size: int, settings: Settings) -> None:
    if size > settings.max_file_bytes:
        raise IngestRejected(display_name(path.name), [Problem(
            display_name(path.name), M_("file of {size:,} bytes is over the limit of {max:,} bytes (setting "
                                        "max_file_bytes); split it or raise the limit", size=size,
                                        max=settings.max_file_bytes))])


def _load(engine: Engine, path: Path, pinned: BinaryIO, hotline, settings: Settings, catalogues: CatalogueSet,
          clock: Clock, source: str | None, progress: Progress | None, before_commit: Callable[[], None] | None,
          sheet: str | None) -> IngestOutcome:
    """:func:`ingest_file` of the file opened as ``pinned``."""
    opened = os.fstat(pinned.fileno())
    on_disk = opened.st_size
    _check_size(path, on_disk, settings)  # (the file opened: another may have taken the name since the stat)
    head = pinned.read(_HEAD_BYTES)
    _check_not_compressed(path, head)
    source = source or detect_source(path, head)
    ingestor = get_ingestor(source)

    # An append-only log grown since it was loaded: find where the last load stopped.
    head_sha: str | None = None
    marks: list[records.Mark] = []
    resumable = getattr(ingestor, "resumable", False)
    if resumable:
        line_end = head.find(b"\n")
        if line_end >= 0:
            head_sha = hashlib.sha256(head[: line_end + 1]).hexdigest()
            with read_session(engine) as session:
                marks = records.log_marks(session, hotline.id, source, head_sha)
    # A new log of a size no earlier load of its source had cannot have been loaded before:
    # it is hashed while it is parsed (a second a gigabyte), its first on_disk bytes.
    alongside = False
    if resumable and not marks and sheet is None:
        with read_session(engine) as session:
            alongside = not records.size_loaded(session, hotline.id, source, on_disk)
    sha256, size, prefix_hashes = ("", on_disk, {}) if alongside else file_hashes(
        path, [m.length for m in marks], pinned=pinned)
    if sheet is not None:
        # Each sheet of a workbook is its own load: "already loaded" is per sheet read.
        sha256 = hashlib.sha256(f"{sha256}\0sheet\0{sheet}".encode()).hexdigest()

    if not alongside:
        with read_session(engine) as session:
            existing = provenance.find_loaded(session, hotline.id, source, sha256)
            # A day table (the daily report) loaded before and since superseded by a correction
            # is read again: loading it is a new revision that makes its values current again.
            # A raw source merges records by identity: the same bytes again change nothing.
            undo = (existing is not None and not hasattr(ingestor, "resumable")
                    and provenance.load_superseded(session, existing.id))
        if existing is not None and not undo:
            return IngestOutcome(path, source, hotline.id, sha256, StoreResult("already_loaded", existing.id))

    matching = [m for m in marks if prefix_hashes.get(m.length) == m.prefix_sha256]
    mark = max(matching, key=lambda m: m.length, default=None)
    today = local_today(clock, hotline.zone)
    ctx = IngestContext(hotline=hotline, catalogues=catalogues, today=today, formulas=settings.formulas,
                        progress=progress, queue_log=settings.queue_log, tickets=settings.tickets,
                        resume=Resume(mark.length, mark.lines) if mark is not None else None, size=size,
                        sheet=sheet, identity=(opened.st_dev, opened.st_ino))

    called_off = threading.Event()  # the parse failed or was interrupted: the hash and the copy stop

    # The copy's own descriptor of the file opened: it stays open until the copy ends, even
    # if the load is interrupted and closes its own meanwhile (whose number the next file
    # opened would get).
    own = open(os.dup(pinned.fileno()), "rb", buffering=0)

    def keep() -> tuple[str, Path, bool]:
        """(The file's hash, where its original is kept, whether it was kept before.)"""
        with own:
            sha = file_hashes(path, (), size, called_off, own)[0] if alongside else sha256
            target = original_path(path, sha, settings.originals_dir, hotline.id, source, today)
            before = target.exists()
            return sha, keep_original(path, sha, settings.originals_dir, hotline.id, source, today, size,
                                      called_off, own), before

    # The original is copied while the file is parsed (a copy of a big log takes seconds);
    # a rejected file leaves no original behind, unless the same content was kept before.
    with ThreadPoolExecutor(1) as copier:
        keeping = copier.submit(keep)
        try:
            parsed = ingestor.parse(path, ctx)
        except BaseException as exc:
            if isinstance(exc, IngestRejected):
                exc.source = source  # type: ignore[attr-defined]
            called_off.set()  # (an original kept before is untouched; a copy under way leaves nothing)
            with contextlib.suppress(Exception):  # (a copy that failed too left nothing: the parse's error stands)
                _, kept, kept_before = keeping.result()
                if not kept_before:
                    kept.unlink(missing_ok=True)
            raise
        try:
            sha256, original, kept_before = keeping.result()
        except BaseException:  # the original could not be kept, or an interrupt while waiting: nothing is stored
            called_off.set()
            if not isinstance(parsed, ParsedFile):
                parsed.close()
            with contextlib.suppress(Exception):  # (the copy ended; one finished meanwhile goes with the load)
                _, kept, kept_before = keeping.result()
                if not kept_before:
                    kept.unlink(missing_ok=True)
            raise
    if alongside:
        with read_session(engine) as session:
            existing = provenance.find_loaded(session, hotline.id, source, sha256)
        if existing is not None:  # the same bytes, loaded by another process meanwhile
            parsed.close()
            if not kept_before:
                original.unlink(missing_ok=True)
            return IngestOutcome(path, source, hotline.id, sha256, StoreResult("already_loaded", existing.id))
    try:
        file = FileMeta(display_name(path.name), sha256, size, str(original))
        formulas_json = settings.formulas.model_dump(mode="json")
        with write_session(engine) as session:
            provenance.ensure_hotline(session, hotline)
            if isinstance(parsed, ParsedFile):
                result = provenance.store_parsed(
                    session,
                    hotline_id=hotline.id,
                    parsed=parsed,
                    file=file,
                    at=clock.now(),
                    settings_json=json.dumps(formulas_json, sort_keys=True),
                    source_priority=settings.source_priority,
                    source_tolerance=settings.source_tolerance,
                    source_tolerance_units=settings.source_tolerance_units,
                )
            else:
                used = {"formulas": formulas_json, "queue_log": settings.queue_log.model_dump(mode="json"),
                        "tickets": settings.tickets.model_dump(mode="json")}
                request = StoreRequest(
                    hotline_id=hotline.id, zone=hotline.zone, file=file, at=clock.now(),
                    settings_json=json.dumps(used, sort_keys=True, ensure_ascii=False),
                    source_priority=tuple(settings.source_priority), source_tolerance=settings.source_tolerance,
                    source_tolerance_units=settings.source_tolerance_units, formulas=settings.formulas,
                    queue_log=settings.queue_log, tickets=settings.tickets,
                )
                result = store_records(session, parsed, request)
                if head_sha is not None and getattr(parsed, "appendable", False) and parsed.end_offset > 0:
                    end = parsed.end_offset
                    if end == size:
                        prefix = sha256
                    elif mark is not None and end == mark.length:
                        prefix = mark.prefix_sha256
                    else:  # an unfinished last line was left out: hash what was read
                        prefix = file_hashes(path, [end], pinned=pinned)[2][end]
                    records.save_log_mark(session, hotline.id, source, head_sha,
                                       records.Mark(end, prefix, parsed.end_lines), result.ingest_id)
            if before_commit is not None:
                before_commit()
    except (IngestRejected, LoadAbandoned) as exc:  # rejected while storing (another source disagrees) or
        if isinstance(exc, IngestRejected):           # abandoned by before_commit: keep no original
            exc.source = source  # type: ignore[attr-defined]
        if not kept_before:
            original.unlink(missing_ok=True)
        raise
    except IntegrityError:
        # Another process loaded the same bytes meanwhile (two runs of one cron job, say): its
        # load won the race to the store. The original, kept by content hash, is its original.
        with read_session(engine) as session:
            existing = provenance.find_loaded(session, hotline.id, source, sha256)
        if existing is None:
            if not kept_before and not _stored(engine, hotline.id, source, sha256):
                original.unlink(missing_ok=True)
            raise
        return IngestOutcome(path, source, hotline.id, sha256, StoreResult("already_loaded", existing.id))
    except BaseException:  # an interrupt (Ctrl-C) or a fault while storing: the original goes with the load
        if not kept_before and not _stored(engine, hotline.id, source, sha256):
            original.unlink(missing_ok=True)
        raise
    finally:
        if not isinstance(parsed, ParsedFile):
            parsed.close()
    return IngestOutcome(path, source, hotline.id, sha256, result, result.notes)
