"""Loading one file: hash, parse and validate outside any transaction, keep the original,
then store everything in one short write transaction. A file loads whole or not at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import Clock, local_today
from hotline_kpi.files import display_name
from hotline_kpi.ingest.base import IngestContext, Progress
from hotline_kpi.ingest.registry import detect_source, get_ingestor
from hotline_kpi.settings import Settings
from hotline_kpi.store import repo
from hotline_kpi.store.db import read_session, write_session

_HEAD_BYTES = 64 * 1024
_SAFE = re.compile(r"[^A-Za-z0-9._\-\u4e00-\u9fff]+")


@dataclass(frozen=True)
class IngestOutcome:
    path: Path
    source: str
    hotline_id: str
    sha256: str
    result: repo.StoreResult
    notes: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        return self.result.status


def file_sha256(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def keep_original(path: Path, sha256: str, originals: Path, hotline_id: str, source: str, today: dt.date) -> Path:
    """Copy the file under ``originals/`` by content hash (temp file + rename: atomic).

    Content-addressed, so keeping the same file twice is a no-op.
    """
    safe_name = _SAFE.sub("_", path.name)[-120:] or "file"
    folder = originals / hotline_id / source / f"{today:%Y}"
    target = folder / f"{sha256[:16]}-{safe_name}"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out, path.open("rb") as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
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
) -> IngestOutcome:
    """Load one file. Raises IngestRejected (nothing stored) or UnknownSource."""
    hotline = catalogues.hotline(hotline_id or settings.default_hotline)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a file")
    with path.open("rb") as f:
        head = f.read(_HEAD_BYTES)
    source = source or detect_source(path, head)
    ingestor = get_ingestor(source)
    sha256, size = file_sha256(path)

    with read_session(engine) as session:
        existing = repo.find_loaded(session, hotline.id, source, sha256)
    if existing is not None:
        return IngestOutcome(path, source, hotline.id, sha256, repo.StoreResult("already_loaded", existing.id))

    today = local_today(clock, hotline.zone)
    ctx = IngestContext(hotline=hotline, catalogues=catalogues, today=today, formulas=settings.formulas,
                        progress=progress)
    parsed = ingestor.parse(path, ctx)

    original = keep_original(path, sha256, settings.originals_dir, hotline.id, source, today)
    with write_session(engine) as session:
        repo.ensure_hotline(session, hotline)
        result = repo.store_parsed(
            session,
            hotline_id=hotline.id,
            parsed=parsed,
            file=repo.FileMeta(display_name(path.name), sha256, size, str(original)),
            at=clock.now(),
            settings_json=json.dumps(settings.formulas.model_dump(mode="json"), sort_keys=True),
            source_priority=settings.source_priority,
        )
    return IngestOutcome(path, source, hotline.id, sha256, result, parsed.notes)
