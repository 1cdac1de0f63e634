"""Atomic file writes: a temp file in the same folder, fsync, then rename."""

from __future__ import annotations

import errno
import functools
import mmap
import os
import struct
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Mapping

from hotline_kpi.i18n import M_, Msg, q


@functools.cache
def _umask() -> int:
    """The process umask, read once (from /proc where possible: os.umask() would change it
    for a moment under other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes) -> None:
    write_atomic_parts(path, [data])


def write_atomic_parts(path: Path, parts: Iterable[bytes], temp_prefix: str | None = None) -> None:
    """Write ``parts`` one after the other to ``path``, atomically: a reader sees the old
    file or the whole new one, never a part (``temp_prefix`` names the temp file)."""

    def write(f: BinaryIO) -> None:
        for part in parts:
            f.write(part)

    _write_atomic_with(path, write, temp_prefix)


class Cancelled(Exception):
    """A copy or a hash called off by its caller (``cancel`` set): nothing of it is left."""


class Shrank(OSError):
    """The file held fewer bytes than were to be copied (hashed and parsed): it was truncated
    or replaced meanwhile. Nothing of the copy is left."""


def check(cancel: threading.Event | None) -> None:
    """Raise :class:`Cancelled` once ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled


def copy_atomic(source: Path, path: Path, length: int | None = None, temp_prefix: str | None = None,
                cancel: threading.Event | None = None, pinned: BinaryIO | None = None) -> None:
    """Copy the first ``length`` bytes of ``source`` (all of it for None) to ``path``, atomically
    as :func:`write_atomic_parts`. A big copy shares the file's blocks where the file system
    can (a reflink, :func:`_clone`: XFS, btrfs), else goes to the disk straight from one
    buffer, past the page cache (:func:`_copy_direct`); otherwise, and for what those leave,
    the kernel copies (``copy_file_range``: no pass of the bytes through this process) where it can,
    else a MiB at a time. Once ``cancel`` is set the copy stops within 64 MiB, leaving
    nothing (:class:`Cancelled`). ``pinned``: the file ``source`` named when it was opened
    (read from its start), whatever the name holds now (a log rotated meanwhile)."""

    def write(f: BinaryIO) -> None:
        with open_pinned(pinned) if pinned is not None else source.open("rb") as src:
            left = os.fstat(src.fileno()).st_size if length is None else length
            done = 0
            if left >= DIRECT_MIN_BYTES:
                done = _clone(src.fileno(), f.fileno(), left) or _copy_direct(src.fileno(), f.fileno(), left, cancel)
            left -= done
            src.seek(done)
            f.seek(done)
            step = 1 << 30 if cancel is None else 64 << 20
            if hasattr(os, "copy_file_range"):
                try:
                    while left > 0 and (check(cancel) or (
                            n := os.copy_file_range(src.fileno(), f.fileno(), min(left, step)))):
                        left -= n
                        done += n
                except OSError:  # (another file system, an old kernel): copied through this process instead
                    pass
            src.seek(done)
            f.seek(done)
            f.truncate()
            while left > 0 and (check(cancel) or (chunk := src.read(min(1 << 20, left)))):
                f.write(chunk)
                left -= len(chunk)
            if left > 0:  # (a copy that silently stopped short would be kept as the bytes loaded)
                raise Shrank(errno.EIO, None, str(source))

    _write_atomic_with(path, write, temp_prefix)


#: Copies of at least this many bytes are cloned (:func:`_clone`) or go past the page cache
#: (:func:`_copy_direct`).
DIRECT_MIN_BYTES = 32 << 20
#: The buffer of such a copy; its writes are whole multiples of _DIRECT_ALIGN (4 KiB: a
#: multiple of the block size of any disk).
_DIRECT_CHUNK = 4 << 20
_DIRECT_ALIGN = 4096


#: ioctl FICLONERANGE (linux/fs.h: _IOW(0x94, 13, struct file_clone_range)).
_FICLONERANGE = 0x4020940D


def _clone(src: int, dst: int, length: int) -> int:
    """Make the first whole 4 KiB blocks of ``length`` bytes of ``src`` the start of ``dst``
    (empty) by sharing them (a reflink, FICLONERANGE: XFS and btrfs, on one file system): no
    byte copied, no space taken, as ``copy_file_range`` does by itself there. Returns the bytes
    cloned: 0 where that cannot be (ext4, another file system, not Linux)."""
    whole = length // _DIRECT_ALIGN * _DIRECT_ALIGN
    if not whole or not sys.platform.startswith("linux"):
        return 0
    import fcntl

    try:
        fcntl.ioctl(dst, _FICLONERANGE, struct.pack("qQQQ", src, 0, whole, 0))
    except OSError:
        return 0
    return whole


def _copy_direct(src: int, dst: int, length: int, cancel: threading.Event | None) -> int:
    """Copy the first whole 4 KiB blocks of ``length`` bytes of ``src`` to the start of ``dst``
    (both descriptors, ``dst`` empty) with direct I/O (O_DIRECT): each chunk is read into one
    aligned buffer and written from it to the disk, past the page cache. Returns the bytes
    copied: the caller copies the rest (the last partial block; all of it, 0, where direct
    I/O is not to be had: another system, a file system without it).

    A copy of a big log through the page cache (``copy_file_range``, or reads and writes)
    costs the kernel a page of cache for every page copied, and writing them back later: on
    the year's bench log (830 MB) 1.4 s of system CPU against 0.2 s this way, taken from
    the cores the parse runs on, and the log's original does not push the store's pages out
    of the cache."""
    direct = getattr(os, "O_DIRECT", 0)
    if not direct:
        return 0
    import fcntl

    flags = fcntl.fcntl(dst, fcntl.F_GETFL)
    try:
        fcntl.fcntl(dst, fcntl.F_SETFL, flags | direct)
    except OSError:  # (a file system without direct I/O)
        return 0
    done = 0
    try:
        with mmap.mmap(-1, _DIRECT_CHUNK) as buffer:  # (page aligned, as direct I/O needs)
            view = memoryview(buffer)
            try:
                while (want := min(_DIRECT_CHUNK, length - done) // _DIRECT_ALIGN * _DIRECT_ALIGN) > 0:
                    check(cancel)
                    n = os.preadv(src, [view[:want]], done)
                    if n < want:  # the file shrank: the caller finds it short
                        break
                    written = os.write(dst, view[:n])
                    done += written
                    if written < n:  # (a short write: the caller writes the rest the usual way)
                        break
            except OSError as exc:
                if exc.errno != errno.EINVAL or done:
                    raise
                # (refused on the first write: no direct I/O on this file system after all)
            finally:
                view.release()
    finally:
        fcntl.fcntl(dst, fcntl.F_SETFL, flags)
    return done


def open_pinned(pinned: BinaryIO) -> BinaryIO:
    """A reader of an open file from its start (another file object on its descriptor, left
    open when this one is closed; they share the position: one reads at a time)."""
    f = open(pinned.fileno(), "rb", buffering=0, closefd=False)
    f.seek(0)
    return f  # type: ignore[return-value]


def _write_atomic_with(path: Path, write: Callable[[BinaryIO], None], temp_prefix: str | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix or f".{path.name}.")
    except OSError as exc:  # named by the file asked for, not the temp file nobody typed
        raise type(exc)(exc.errno, exc.strerror, str(path)) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; the result is an ordinary file
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def display_name(name: str) -> str:
    """A file name safe to store, log and show: undecodable bytes escaped (``\\xff``),
    control characters made visible. File names come from outside and may hold anything."""
    raw = os.fsencode(name).decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in raw)


class ConfigFileError(ValueError):
    """A config file is unreadable or invalid; ``problems`` name each place (what, field).

    The problems are messages (:class:`~hotline_kpi.i18n.Msg`) or plain text; ``str()`` shows
    the whole in the current language."""

    #: What the file is, in the message: "invalid <what>".
    what: Msg = M_("config file")

    def __init__(self, path: Path | str, problems: list[Any]):
        self.path = str(path)
        self.problems = problems
        super().__init__(self.message("en"))

    def message(self, lang: Any = None) -> str:
        from hotline_kpi.i18n import localize

        head = localize(M_("{path}: invalid {what}:", path=self.path, what=self.what), lang)
        return head + "\n" + "\n".join(f"  - {localize(p, lang)}" for p in self.problems)

    def __str__(self) -> str:
        return self.message()


def read_yaml(path: Path, error: Callable[[Path, list[str]], Exception]) -> Any:
    """Parse a YAML config file; an unreadable or malformed one raises ``error(path, [why])``."""
    import yaml

    from hotline_kpi.validation import yaml_problem

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(path, [M_("file not found")]) from None
    except UnicodeDecodeError as exc:
        raise error(path, [M_("not UTF-8 text (byte {offset})", offset=exc.start)]) from None
    except OSError as exc:
        raise error(path, [M_("cannot read: {error}", error=exc.strerror or str(exc))]) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            raise error(path, [M_("not valid YAML: line {line}, column {column}: {problem}", line=mark.line + 1,
                                  column=mark.column + 1,
                                  problem=yaml_problem(str(getattr(exc, "problem", "") or "")))]) from None
        raise error(path, [M_("not valid YAML: {error}", error=q(exc))]) from None


def describe_location(loc: tuple[Any, ...], raw: Mapping[str, Any], items: str, noun: Msg, whole: Msg) -> Msg:
    """Where a pydantic error is, in the config file's terms: ``rule 'x', field 'for'``
    for ``loc`` ``(items, 3, "for")`` when the 4th of the ``items`` list has id ``x``."""
    if len(loc) >= 2 and loc[0] == items and isinstance(loc[1], int):
        entries = raw.get(items) or []
        ident = entries[loc[1]].get("id") if loc[1] < len(entries) and isinstance(entries[loc[1]], dict) else None
        who = M_("{noun} {id}", noun=noun, id=q(ident)) if ident else M_("{noun} #{n}", noun=noun, n=loc[1] + 1)
        rest = [str(p) for p in loc[2:]]
        return M_("{who}, field {field}", who=who, field=q(".".join(rest))) if rest else who
    return M_("field {field}", field=q(".".join(str(p) for p in loc))) if loc else whole


def os_reason(exc: OSError) -> Msg:
    """Why a file operation failed, in words of the office's language (the system's own text is
    English, quoted after it): the path and the reason."""
    if isinstance(exc, Shrank):
        return M_("{path}: {why}", path=exc.filename, why=M_("the file got shorter while it was being read"))
    by_type = ((FileNotFoundError, M_("no such file")), (IsADirectoryError, M_("a folder, not a file")),
               (PermissionError, M_("permission denied")), (NotADirectoryError, M_("a file where a folder should be")))
    by_errno = {errno.ENOSPC: M_("the disk is full"), errno.EROFS: M_("read-only file system"),
                errno.EDQUOT: M_("the disk quota is used up"),
                errno.EEXIST: M_("a file of that name is in the way")}
    known = next((w for t, w in by_type if isinstance(exc, t)), None) or by_errno.get(exc.errno or 0)
    said = q(exc.strerror or type(exc).__name__)  # the system's own words too: what a search for the error finds
    why = M_("{why} ({error})", why=known, error=said) if known is not None else said
    return M_("{path}: {why}", path=exc.filename, why=why) if exc.filename else why

