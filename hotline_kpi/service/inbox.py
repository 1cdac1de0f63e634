"""The inbox: files dropped in a folder are recognised, loaded and moved, never deleted.

- ``inbox/FILE`` loads for the default hotline, ``inbox/<hotline-id>/FILE`` for that one.
- A loaded (or already loaded) file moves to ``archive/YYYY/MM/``; a rejected one to
  ``quarantine/`` with ``FILE.error.txt`` beside it. The move happens only after the
  load committed: if it fails (archive read-only, disk full) the file stays in the inbox
  and the next scan finds it already loaded and tries the move again.
- A file modified less than ``inbox_settle_seconds`` ago is still being written: left.
- Hidden and temporary names (``.x``, ``*.tmp``, ``*.part``, ``~x``) are left alone.
- Symlinks are never followed and non-regular files (FIFOs, sockets, devices) never
  opened: they go to quarantine as they are. Unknown sub-folders are left and reported.
- Any other failure (database down) leaves the file for the next scan.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from sqlalchemy import Engine

from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import Clock
from hotline_kpi.files import display_name, write_atomic
from hotline_kpi.problems import IngestRejected
from hotline_kpi.ingest.pipeline import IngestOutcome, ingest_file
from hotline_kpi.ingest.registry import UnknownSource
from hotline_kpi.settings import Settings
from hotline_kpi.store import provenance
from hotline_kpi.store.db import write_session

log = logging.getLogger(__name__)

Outcome = Literal["loaded", "already_loaded", "rejected", "left", "error"]
_TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".download", ".swp", ".lock")


@dataclass(frozen=True)
class InboxResult:
    name: str
    hotline_id: str
    outcome: Outcome
    detail: str = ""
    moved_to: Path | None = None
    source: str = ""


def _is_temporary(name: str) -> bool:
    return name.startswith((".", "~")) or name.lower().endswith(_TEMP_SUFFIXES)


def _free_target(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name.1``, ``name.2`` ... if taken: nothing is overwritten."""
    target = folder / name
    n = 0
    while os.path.lexists(target):
        n += 1
        stem, dot, ext = name.rpartition(".")
        target = folder / (f"{stem}.{n}{dot}{ext}" if dot and stem else f"{name}.{n}")
    return target


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = _free_target(folder, path.name)
    os.rename(path, target)  # same filesystem; renames a symlink itself, never its target
    return target


class Inbox:
    def __init__(self, engine: Engine, settings: Settings, catalogues: CatalogueSet, clock: Clock,
                 on_loaded: Callable[[str], None] | None = None):
        self.engine = engine
        self.settings = settings
        self.catalogues = catalogues
        self.clock = clock
        self.on_loaded = on_loaded
        self.root = settings.inbox_dir

    def ensure_folders(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for folder in (self.settings.archive_dir, self.settings.quarantine_dir):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # reported per file when a move fails; the files stay in the inbox
                log.warning("cannot create %s: %s", display_name(str(folder)), exc)

    def scan(self) -> list[InboxResult]:
        """Process every entry once; returns what happened to each (left ones included)."""
        self.ensure_folders()
        known = {h.id for h in self.catalogues.hotlines()}
        results: list[InboxResult] = []
        default = self.settings.default_hotline
        for entry in sorted(os.scandir(self.root), key=lambda e: e.name):
            if entry.is_dir(follow_symlinks=False):
                if entry.name in known:
                    for sub in sorted(os.scandir(entry.path), key=lambda e: e.name):
                        results.append(self._one(Path(sub.path), entry.name))
                elif not _is_temporary(entry.name):
                    results.append(InboxResult(display_name(entry.name), default, "left",
                                               f"folder {display_name(entry.name)!r} is not a hotline id "
                                               f"({', '.join(sorted(known))}); left alone"))
                continue
            results.append(self._one(Path(entry.path), default))
        # Logged before the loaded hotlines are evaluated: a failed evaluation must not hide
        # what happened to the files.
        for r in results:
            if r.outcome in ("rejected", "error"):
                log.warning("inbox: %s %s: %s", r.outcome, r.name, r.detail.splitlines()[0] if r.detail else "")
            elif r.outcome != "left":
                log.info("inbox: %s %s -> %s", r.outcome, r.name, display_name(str(r.moved_to)))
        loaded_hotlines = {r.hotline_id for r in results if r.outcome == "loaded"}
        for hid in sorted(loaded_hotlines):
            if self.on_loaded is not None:
                self.on_loaded(hid)
        return results

    def _one(self, path: Path, hotline_id: str) -> InboxResult:
        name = display_name(path.name)
        if _is_temporary(path.name):
            return InboxResult(name, hotline_id, "left", "temporary or hidden name")
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return InboxResult(name, hotline_id, "left", "vanished")
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
            why = "a symbolic link (never followed)" if stat.S_ISLNK(st.st_mode) else "not a regular file"
            return self._quarantine(path, hotline_id, "", f"{name}: {why}; moved to quarantine unread")
        age = self.clock.now().timestamp() - st.st_mtime
        if age < self.settings.service.inbox_settle_seconds:
            return InboxResult(name, hotline_id, "left", f"modified {age:.1f} s ago: still being written?")
        try:
            outcome = ingest_file(self.engine, path, settings=self.settings, catalogues=self.catalogues,
                                  clock=self.clock, hotline_id=hotline_id)
        except (IngestRejected, UnknownSource) as exc:
            source = ""
            if isinstance(exc, IngestRejected):
                source = getattr(exc, "source", "") or ""
            return self._quarantine(path, hotline_id, source, str(exc))
        except Exception as exc:  # noqa: BLE001 - the database may be down: keep the file, retry next scan
            self._record(hotline_id, "", name, "error", 0, f"{exc.__class__.__name__}: {exc}")
            return InboxResult(name, hotline_id, "error", f"{exc.__class__.__name__}: {exc}; left in the inbox")
        return self._archive(path, hotline_id, outcome)

    def _archive(self, path: Path, hotline_id: str, outcome: IngestOutcome) -> InboxResult:
        name = display_name(path.name)
        r = outcome.result
        days = r.days_new + r.days_revised + r.days_unchanged
        self._record(hotline_id, outcome.source, name, r.status, days, "")
        local = self.clock.now().astimezone(self.settings.zone)
        try:
            target = _move(path, self.settings.archive_dir / f"{local:%Y}" / f"{local:%m}")
        except OSError as exc:
            detail = f"{r.status} but could not be archived ({exc}); left in the inbox"
            # Recorded as an attempt too: hotline_kpi_ingest_files{result="error"} shows it.
            self._record(hotline_id, outcome.source, name, "error", 0, detail)
            return InboxResult(name, hotline_id, "error", detail, None, outcome.source)
        return InboxResult(name, hotline_id, r.status, "", target, outcome.source)  # type: ignore[arg-type]

    def _quarantine(self, path: Path, hotline_id: str, source: str, message: str) -> InboxResult:
        name = display_name(path.name)
        self._record(hotline_id, source or "unknown", name, "rejected", 0, message)
        try:
            target = _move(path, self.settings.quarantine_dir)
            stamp = self.clock.now().astimezone(self.settings.zone).isoformat(timespec="seconds")
            write_atomic(target.with_name(target.name + ".error.txt"),
                         f"{stamp} rejected: {name}\n\n{message}\n".encode("utf-8"))
        except OSError as exc:
            return InboxResult(name, hotline_id, "error", f"rejected but could not be quarantined ({exc}); left in "
                               f"the inbox\n{message}", None, source)
        return InboxResult(name, hotline_id, "rejected", message, target, source)

    def _record(self, hotline_id: str, source: str, name: str, result: str, days: int, message: str) -> None:
        try:
            with write_session(self.engine) as s:
                provenance.record_attempt(s, at=self.clock.now(), hotline_id=hotline_id, source=source or "unknown",
                                    file_name=name, result=result, days=days, message=message[:4000])
        except Exception as exc:  # noqa: BLE001 - bookkeeping must not stop the scan
            log.warning("could not record the ingest attempt of %s: %s", name, exc.__class__.__name__)
