"""The inbox: files dropped in a folder are recognised, loaded and moved, never deleted.

- ``inbox/FILE`` loads for the default hotline, ``inbox/<hotline-id>/FILE`` for that one.
- A file is read only when complete: its size, modification time and inode are the same
  at two consecutive scans (the first sighting never loads) and it was last modified at
  least ``inbox_settle_seconds`` ago. With ``inbox_done_marker`` it also waits for
  ``NAME.done`` beside it (archived or quarantined with it).
- The file must not change while it is read: its size and time are compared again inside
  the write transaction, before the commit; if they changed the load is rolled back
  whole and the file stays for a later scan. A rejection of a file that changed while it
  was read is not a rejection either: the file stays.
- A loaded (or already loaded) file moves to ``archive/YYYY/MM/``; a rejected one to
  ``quarantine/`` with ``FILE.error.txt`` beside it. The move happens only after the
  load committed: if it fails (archive read-only, disk full) the file stays in the inbox
  and the next scan finds it already loaded and tries the move again.
- Hidden and temporary names of common uploaders (``.x``, ``~x``, ``~$x`` Office locks,
  ``*.filepart`` WinSCP, ``*.part``, ``*.partial``, ``*.tmp``, ``*.crdownload`` ...) are
  never read, never moved.
- Symlinks are never followed and non-regular files (FIFOs, sockets, devices) never
  opened: they go to quarantine as they are. Folders that are not a hotline id, folders
  inside a hotline folder and files that cannot be opened are left alone and reported
  once (a warning and an ingest attempt), again only when they change.
- Any other failure (database down) leaves the file for the next scan.
"""

from __future__ import annotations

import datetime as dt

import errno
import fcntl
import logging
import os
import signal
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from sqlalchemy import Engine

from hotline_kpi.i18n import M_, _
from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import Clock
from hotline_kpi.files import display_name, os_reason, write_atomic
from hotline_kpi.problems import IngestRejected
from hotline_kpi.ingest.pipeline import IngestOutcome, LoadAbandoned, ingest_file
from hotline_kpi.ingest.registry import UnknownSource
from hotline_kpi.settings import Settings
from hotline_kpi.store import provenance
from hotline_kpi.store.db import write_session

log = logging.getLogger(__name__)

Outcome = Literal["loaded", "already_loaded", "rejected", "left", "error"]
#: Names uploaders give a file while they write it (then rename it): never read.
_TEMP_SUFFIXES = (".filepart", ".part", ".partial", ".tmp", ".temp", ".crdownload", ".download", ".swp", ".lock")
#: ``NAME.done`` marks NAME complete (setting ``service.inbox_done_marker``).
DONE_SUFFIX = ".done"
#: What identifies one state of a file: size, modification time (ns), inode.
_Sig = tuple[int, int, int]


def _one_line(detail: str, first: int = 3) -> str:
    """A rejection's head and its first problems on one log line (every problem is in the
    quarantine's NAME.error.txt): the head's colon is followed by what it announces."""
    lines = [line.strip() for line in detail.splitlines() if line.strip()]
    if not lines:
        return ""
    head, problems = lines[0], [line[2:] if line.startswith("- ") else line for line in lines[1:]]
    if not problems:
        return head.rstrip(":：")
    shown = _("; ").join(problems[:first])
    if len(problems) > first:
        shown += _(" … and {n} more (see the quarantine's error file)", n=len(problems) - first)
    return head + ("" if head.endswith("：") else " ") + shown


@dataclass(frozen=True)
class InboxResult:
    name: str
    hotline_id: str
    outcome: Outcome
    detail: str = ""
    moved_to: Path | None = None
    source: str = ""


#: The outcomes as the service log names them (in the language).
_OUTCOMES = {"loaded": M_("loaded"), "already_loaded": M_("already loaded"), "rejected": M_("rejected"),
             "left": M_("left"), "error": M_("error")}


def _is_temporary(name: str) -> bool:
    return name.startswith((".", "~")) or name.lower().endswith(_TEMP_SUFFIXES)


def _sig(st: os.stat_result) -> _Sig:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _now_sig(path: Path) -> _Sig | None:
    try:
        return _sig(os.lstat(path))
    except OSError:
        return None


def _probe(path: Path) -> bool:
    """Open the file and read a byte without following a symlink (raises OSError when it
    cannot be read); True when the kernel says a process has it open for writing.

    The check is a read lease (Linux ``F_SETLEASE``), taken and given back at once: it is
    refused while any process holds the file open for writing. It works on local
    filesystems for files the service owns (or as root); elsewhere it cannot tell and the
    stability rule alone decides. The lease-break signal is set to SIGURG (ignored by
    default), so a writer opening the file in that instant cannot stop the service."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        os.read(fd, 1)
        if not hasattr(fcntl, "F_SETLEASE") or not hasattr(fcntl, "F_SETSIG"):
            return False
        try:
            fcntl.fcntl(fd, fcntl.F_SETSIG, signal.SIGURG)
            fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
        except OSError as exc:
            return exc.errno == errno.EAGAIN  # EAGAIN: open for writing; EACCES, EINVAL: cannot tell
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        return False
    finally:
        os.close(fd)


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


#: How long after a load a rejected file of the same name is pointed at it (see _quarantine).
_CONTINUATION = dt.timedelta(minutes=10)


class Inbox:
    def __init__(self, engine: Engine, settings: Settings, catalogues: CatalogueSet, clock: Clock,
                 on_loaded: Callable[[str], None] | None = None):
        self.engine = engine
        self.settings = settings
        self.catalogues = catalogues
        self.clock = clock
        self.on_loaded = on_loaded
        self.root = settings.inbox_dir
        #: Each file's state at the previous scan (and, being filled, at this one): a file
        #: loads only when it is the same at two consecutive scans. In memory: a restart
        #: costs one scan interval.
        self._seen: dict[str, _Sig] = {}
        self._seen_now: dict[str, _Sig] = {}
        #: What was reported about an entry left alone (its state): reported again only
        #: when it changes.
        self._reported: dict[str, object] = {}
        self._reported_now: set[str] = set()
        #: Files archived lately (path in the inbox -> when, bytes): a rejected file of the same
        #: name soon after may be the rest of a file whose writer paused longer than the settle time.
        self._archived: dict[str, tuple[dt.datetime, int]] = {}

    def ensure_folders(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for folder in (self.settings.archive_dir, self.settings.quarantine_dir):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # reported per file when a move fails; the files stay in the inbox
                log.warning("%s", _("cannot create {folder}: {error}", folder=display_name(str(folder)), error=os_reason(exc)))

    def scan(self) -> list[InboxResult]:
        """Process every entry once; returns what happened to each (left ones included)."""
        self.ensure_folders()
        known = {h.id for h in self.catalogues.hotlines()}
        results: list[InboxResult] = []
        default = self.settings.default_hotline
        self._seen_now, self._reported_now = {}, set()
        for entry in sorted(os.scandir(self.root), key=lambda e: e.name):
            if entry.is_dir(follow_symlinks=False):
                if entry.name in known:
                    for sub in sorted(os.scandir(entry.path), key=lambda e: e.name):
                        results.append(self._one(Path(sub.path), entry.name))
                elif not _is_temporary(entry.name):
                    files = sorted(e.name for e in os.scandir(entry.path))
                    shown = ", ".join(display_name(n) for n in files[:5]) + (" ..." if len(files) > 5 else "")
                    results.append(self._left_reported(
                        Path(entry.path), default, ("folder", tuple(files)),
                        _("inbox folder {folder}/ is not a hotline id ({known}): its {n} file(s) ({files}) are not "
                          "read; move them into the inbox or a hotline folder", folder=display_name(entry.name),
                          known=", ".join(sorted(known)), n=len(files), files=shown or _("none"))))
                continue
            results.append(self._one(Path(entry.path), default))
        self._seen = self._seen_now
        self._reported = {k: v for k, v in self._reported.items() if k in self._reported_now}
        # Logged before the loaded hotlines are evaluated: a failed evaluation must not hide
        # what happened to the files.
        for r in results:
            if r.outcome in ("rejected", "error"):
                if r.detail.startswith(r.name):  # a rejection names the file and says "rejected" itself
                    log.warning("%s", _("inbox: {detail}", detail=_one_line(r.detail)))
                else:
                    log.warning("%s", _("inbox: {outcome} {file}: {detail}", outcome=_OUTCOMES[r.outcome],
                                        file=r.name, detail=_one_line(r.detail)))
            elif r.outcome != "left":
                log.info("%s", _("inbox: {outcome} {file} -> {moved_to}", outcome=_OUTCOMES[r.outcome], file=r.name,
                                 moved_to=display_name(str(r.moved_to))))
        loaded_hotlines = {r.hotline_id for r in results if r.outcome == "loaded"}
        for hid in sorted(loaded_hotlines):
            if self.on_loaded is not None:
                self.on_loaded(hid)
        return results

    def _left_reported(self, path: Path, hotline_id: str, state: object, message: str,
                       result: str = "left") -> InboxResult:
        """Left alone; reported (a warning and an ingest attempt) the first time it is seen
        in this state only, not at every scan."""
        key = os.fsdecode(path)
        self._reported_now.add(key)
        if self._reported.get(key) != state:
            self._reported[key] = state
            log.warning("%s", _("inbox: {detail}", detail=message))
            self._record(hotline_id, "unknown", display_name(path.name), result, 0, message)
        return InboxResult(display_name(path.name), hotline_id, "left", message)

    def _one(self, path: Path, hotline_id: str) -> InboxResult:
        result = self._look(path, hotline_id)
        if result.moved_to is not None:  # gone: a new file under this name is a first sighting again
            self._seen_now.pop(os.fsdecode(path), None)
        return result

    def _look(self, path: Path, hotline_id: str) -> InboxResult:
        name = display_name(path.name)
        if _is_temporary(path.name):
            return InboxResult(name, hotline_id, "left", "temporary or hidden name: still being uploaded?")
        if path.name.endswith(DONE_SUFFIX):
            return InboxResult(name, hotline_id, "left", "a done marker: moved with its file")
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return InboxResult(name, hotline_id, "left", _("vanished"))
        if stat.S_ISDIR(st.st_mode):
            entries = tuple(sorted(os.listdir(path))) if os.access(path, os.R_OK) else ()
            return self._left_reported(path, hotline_id, ("folder", entries),
                                       _("{folder}/: a folder inside a hotline folder; left alone, not read (its {n} "
                                         "file(s) belong in the hotline folder itself)",
                                         folder=display_name(str(path.relative_to(self.root))), n=len(entries)))
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
            why = _("a symbolic link (never followed)") if stat.S_ISLNK(st.st_mode) else _("not a regular file")
            return self._quarantine(path, hotline_id, "", _("{file}: {why}; moved to quarantine unread", file=name,
                                                            why=why))
        key = os.fsdecode(path)
        sig = self._seen_now[key] = _sig(st)
        before = self._seen.get(key)
        if before != sig:
            why = _("first seen") if before is None else _("changed since the last scan ({before:,} -> {now:,} bytes)",
                                                           before=before[0], now=sig[0])
            return InboxResult(name, hotline_id, "left", _("{why}: loaded once it is the same at two scans", why=why))
        age = self.clock.now().timestamp() - st.st_mtime
        if age < self.settings.service.inbox_settle_seconds:
            return InboxResult(name, hotline_id, "left", _("modified {age:.1f} s ago: still being written?", age=age))
        marker = path.with_name(path.name + DONE_SUFFIX)
        if self.settings.service.inbox_done_marker and not os.path.isfile(marker):
            return InboxResult(name, hotline_id, "left", _("waiting for {marker} (inbox_done_marker)",
                                                           marker=display_name(marker.name)))
        try:
            writing = _probe(path)
        except OSError as exc:
            return self._left_reported(path, hotline_id, ("unreadable", sig, str(exc)),
                                       _("{file}: cannot be read ({error}); left in the inbox, reported again when it "
                                         "changes", file=name, error=exc.strerror or exc), result="error")
        if writing:
            return InboxResult(name, hotline_id, "left", _("open for writing by another process: still being written"))

        def unchanged() -> None:
            if _now_sig(path) != sig:
                raise LoadAbandoned(name)

        try:
            outcome = ingest_file(self.engine, path, settings=self.settings, catalogues=self.catalogues,
                                  clock=self.clock, hotline_id=hotline_id, before_commit=unchanged)
        except LoadAbandoned:
            return self._changed_while_read(name, hotline_id, _("nothing stored"))
        except (IngestRejected, UnknownSource) as exc:
            if _now_sig(path) != sig:  # a writer was still at it: not the file's fault
                return self._changed_while_read(name, hotline_id, _("not rejected"))
            source = getattr(exc, "source", "") or ""
            return self._quarantine(path, hotline_id, source, str(getattr(exc, "inbox", exc)))
        except Exception as exc:  # noqa: BLE001 - the database may be down: keep the file, retry next scan
            error = str(os_reason(exc)) if isinstance(exc, OSError) else f"{exc.__class__.__name__}: {exc}"
            self._record(hotline_id, "", name, "error", 0, error)
            return InboxResult(name, hotline_id, "error", _("{error}; left in the inbox", error=error))
        if _now_sig(path) != sig:  # changed between the check and the commit: keep it, the next load takes the rest
            detail = _("{file}: {outcome}, but changed right after; left in the inbox for the next scan", file=name,
                       outcome=_OUTCOMES.get(outcome.result.status, outcome.result.status))
            log.warning("%s", _("inbox: {detail}", detail=detail))
            return InboxResult(name, hotline_id, "left", detail, None, outcome.source)
        return self._archive(path, hotline_id, outcome)

    def _changed_while_read(self, name: str, hotline_id: str, what: str) -> InboxResult:
        detail = _("{file}: changed while it was read; {what}; loaded once it is the same at two scans", file=name,
                   what=what)
        log.warning("%s", _("inbox: {detail}", detail=detail))
        return InboxResult(name, hotline_id, "left", detail)

    def _move_marker(self, path: Path, target: Path) -> None:
        marker = path.with_name(path.name + DONE_SUFFIX)
        if os.path.lexists(marker):
            try:
                os.rename(marker, _free_target(target.parent, target.name + DONE_SUFFIX))
            except OSError as exc:
                log.warning("%s", _("inbox: could not move {file}: {error}", file=display_name(marker.name), error=os_reason(exc)))

    def _archive(self, path: Path, hotline_id: str, outcome: IngestOutcome) -> InboxResult:
        name = display_name(path.name)
        r = outcome.result
        days = r.days_new + r.days_revised + r.days_unchanged
        self._record(hotline_id, outcome.source, name, r.status, days, "")
        local = self.clock.now().astimezone(self.settings.zone)
        try:
            target = _move(path, self.settings.archive_dir / f"{local:%Y}" / f"{local:%m}")
        except OSError as exc:
            detail = _("{outcome} but could not be archived ({error}); left in the inbox",
                       outcome=_OUTCOMES.get(r.status, r.status), error=os_reason(exc))
            # Recorded as an attempt too: hotline_kpi_ingest_files{result="error"} shows it.
            self._record(hotline_id, outcome.source, name, "error", 0, detail)
            return InboxResult(name, hotline_id, "error", detail, None, outcome.source)
        self._move_marker(path, target)
        now = self.clock.now()
        self._archived = {k: v for k, v in self._archived.items() if now - v[0] < _CONTINUATION}
        self._archived[str(path)] = (now, target.stat().st_size)
        return InboxResult(name, hotline_id, r.status, "", target, outcome.source)  # type: ignore[arg-type]

    def _quarantine(self, path: Path, hotline_id: str, source: str, message: str) -> InboxResult:
        name = display_name(path.name)
        earlier = self._archived.get(str(path))
        if earlier is not None and self.clock.now() - earlier[0] < _CONTINUATION:
            at = earlier[0].astimezone(self.settings.zone).strftime("%H:%M:%S")
            message += "\n\n" + _(
                "A file of the same name ({size:,} bytes) was loaded at {at}: if this is the rest of it, its writer "
                "paused longer than inbox_settle_seconds ({settle:g} s) and the first part was loaded alone. Drop "
                "the whole file again (it revises those days), and raise inbox_settle_seconds above the writer's "
                "pauses or turn on inbox_done_marker.", size=earlier[1], at=at,
                settle=self.settings.service.inbox_settle_seconds)
        self._record(hotline_id, source or "unknown", name, "rejected", 0, message)
        try:
            target = _move(path, self.settings.quarantine_dir)
            stamp = self.clock.now().astimezone(self.settings.zone).isoformat(timespec="seconds")
            write_atomic(target.with_name(target.name + ".error.txt"),
                         (_("{stamp} rejected: {file}", stamp=stamp, file=name) + f"\n\n{message}\n").encode("utf-8"))
        except OSError as exc:
            return InboxResult(name, hotline_id, "error", _("rejected but could not be quarantined ({error}); left in "
                                                            "the inbox", error=os_reason(exc)) + f"\n{message}", None, source)
        self._move_marker(path, target)
        return InboxResult(name, hotline_id, "rejected", message, target, source)

    def _record(self, hotline_id: str, source: str, name: str, result: str, days: int, message: str) -> None:
        try:
            with write_session(self.engine) as s:
                provenance.record_attempt(s, at=self.clock.now(), hotline_id=hotline_id, source=source or "unknown",
                                    file_name=name, result=result, days=days, message=message[:4000])
        except Exception as exc:  # noqa: BLE001 - bookkeeping must not stop the scan
            log.warning("%s", _("could not record the ingest attempt of {file}: {error}", file=name,
                                error=exc.__class__.__name__))
