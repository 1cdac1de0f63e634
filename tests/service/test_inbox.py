"""The inbox: good, bad, half-written, duplicate and odd files; nothing is ever deleted."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hotline_kpi.service.inbox import Inbox, InboxResult
from hotline_kpi.store.db import make_engine, read_session
from hotline_kpi.store.models import IngestAttemptRow, IngestRow, SourceDayRow
from tests.test_cli import REPORT


#: The English wording of the product is read here (the Chinese: tests/test_messages.py).
pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def inbox(sqlite_url, settings, catalogues, clock):
    engine = make_engine(sqlite_url)
    loaded: list[str] = []
    box = Inbox(engine, settings, catalogues, clock, on_loaded=loaded.append)
    box.ensure_folders()
    box.loaded = loaded  # type: ignore[attr-defined]
    yield box
    engine.dispose()


def _drop(box: Inbox, name: str, data: bytes | str, age_seconds: float = 60, folder: Path | None = None) -> Path:
    path = (folder or box.root) / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    stamp = box.clock.now().timestamp() - age_seconds
    os.utime(path, (stamp, stamp))
    return path


def settled_scan(box: Inbox) -> list[InboxResult]:
    """Two scans, as the service does them: a file loads only when it is the same at two
    consecutive scans. What the first scan did to an entry (quarantined a symlink) is
    kept; otherwise the second scan's result."""
    first = {r.name: r for r in box.scan()}
    second = {r.name: r for r in box.scan()}
    assert all(r.outcome == "left" for n, r in first.items() if n in second), first
    return [r for n, r in sorted({**second, **{n: r for n, r in first.items() if r.outcome != "left"}}.items())]


def _count(box: Inbox, model) -> int:
    with read_session(box.engine) as s:
        return s.scalar(select(func.count()).select_from(model))


def _all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink())


def test_a_good_file_is_loaded_archived_by_month_and_triggers_evaluation(inbox):
    _drop(inbox, "日报-2019-01.csv", REPORT)
    [result] = settled_scan(inbox)
    assert result.outcome == "loaded" and result.source == "daily-report"
    local = inbox.clock.now().astimezone(inbox.settings.zone)
    assert result.moved_to == inbox.settings.archive_dir / f"{local:%Y}" / f"{local:%m}" / "日报-2019-01.csv"
    assert result.moved_to.read_text(encoding="utf-8") == REPORT
    assert list(inbox.root.iterdir()) == []
    assert inbox.loaded == ["shanghai-12345"]
    assert _count(inbox, SourceDayRow) == 3


def test_a_bad_file_goes_to_quarantine_with_an_error_report_and_stores_nothing(inbox):
    bad = REPORT.replace("9300,7.5", "99300,7.5")
    _drop(inbox, "bad.csv", bad)
    [result] = settled_scan(inbox)
    assert result.outcome == "rejected"
    q = inbox.settings.quarantine_dir
    assert (q / "bad.csv").read_text(encoding="utf-8") == bad  # the original, untouched
    report = (q / "bad.csv.error.txt").read_text(encoding="utf-8")
    assert "bad.csv" in report and "row 2" in report and "99300" in report
    assert _count(inbox, IngestRow) == 0 and inbox.loaded == []
    with read_session(inbox.engine) as s:
        assert s.scalars(select(IngestAttemptRow.result)).all() == ["rejected"]


def test_a_file_still_being_written_is_left_for_a_later_scan(inbox):
    path = _drop(inbox, "growing.csv", REPORT, age_seconds=1)
    [result] = inbox.scan()
    assert result.outcome == "left" and path.exists() and _count(inbox, IngestRow) == 0
    inbox.clock.advance(dt.timedelta(seconds=30))
    [result] = inbox.scan()
    assert result.outcome == "loaded" and not path.exists()


def test_the_same_file_twice_is_archived_twice_and_loaded_once(inbox):
    _drop(inbox, "jan.csv", REPORT)
    settled_scan(inbox)
    _drop(inbox, "jan.csv", REPORT)
    [again] = settled_scan(inbox)
    assert again.outcome == "already_loaded"
    assert again.moved_to is not None and again.moved_to.name == "jan.1.csv"  # nothing overwritten
    assert _count(inbox, IngestRow) == 1 and inbox.loaded == ["shanghai-12345"]


def test_odd_names_symlinks_folders_and_fifos_are_handled_without_harm(inbox, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text(REPORT, encoding="utf-8")
    os.symlink(secret, inbox.root / "link.csv")
    os.mkfifo(inbox.root / "pipe.csv")
    (inbox.root / "some-folder").mkdir()
    _drop(inbox, ".hidden.csv", REPORT)
    _drop(inbox, "upload.csv.part", REPORT)
    odd = os.fsdecode(b"evil..\\ \n\xff name.csv")
    _drop(inbox, odd, REPORT)
    results = {r.name: r for r in settled_scan(inbox)}
    assert results["link.csv"].outcome == "rejected" and "symbolic link" in results["link.csv"].detail
    assert os.path.islink(inbox.settings.quarantine_dir / "link.csv")  # moved as a link, never followed
    assert secret.read_text(encoding="utf-8") == REPORT
    assert results["pipe.csv"].outcome == "rejected"
    assert results["some-folder"].outcome == "left" and (inbox.root / "some-folder").is_dir()
    assert results[".hidden.csv"].outcome == "left" and results["upload.csv.part"].outcome == "left"
    shown = next(name for name in results if "evil" in name)
    assert "\\x0a" in shown and "\\xff" in shown  # shown escaped, loaded all the same
    assert results[shown].outcome == "loaded"
    assert _count(inbox, IngestRow) == 1


def test_files_in_a_hotline_folder_load_for_that_hotline(inbox):
    folder = inbox.root / "shanghai-12345"
    folder.mkdir()
    _drop(inbox, "jan.csv", REPORT, folder=folder)
    [result] = settled_scan(inbox)
    assert result.outcome == "loaded" and result.hotline_id == "shanghai-12345"


def test_an_archive_that_cannot_be_written_leaves_the_file_in_the_inbox(inbox):
    if os.geteuid() == 0:
        # root ignores permission bits: make the archive path a file instead.
        inbox.settings.archive_dir.rmdir()
        inbox.settings.archive_dir.write_text("not a folder")
    else:
        inbox.settings.archive_dir.chmod(0o500)
    path = _drop(inbox, "jan.csv", REPORT)
    [result] = settled_scan(inbox)
    assert result.outcome == "error" and "could not be archived" in result.detail and path.exists()
    assert _count(inbox, IngestRow) == 1  # loaded; the next scan finds it already loaded
    if inbox.settings.archive_dir.is_file():
        inbox.settings.archive_dir.unlink()
    else:
        inbox.settings.archive_dir.chmod(0o700)
    [result] = inbox.scan()
    assert result.outcome == "already_loaded" and not path.exists()


def test_a_database_failure_leaves_the_file_for_the_next_scan(inbox, monkeypatch):
    import hotline_kpi.service.inbox as module

    def down(*a, **k):
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(module, "ingest_file", down)
    path = _drop(inbox, "jan.csv", REPORT)
    [result] = settled_scan(inbox)
    assert result.outcome == "error" and path.exists()
    assert not any(inbox.settings.quarantine_dir.iterdir())


def test_the_log_lines_of_an_odd_file_name_are_valid_utf8(inbox, caplog):
    # A name with an undecodable byte (\xff) reaches Python as a lone surrogate: a log line
    # quoting the raw path could not be written as UTF-8 (nor sent by a log shipper).
    caplog.set_level(logging.INFO, logger="hotline_kpi")
    _drop(inbox, os.fsdecode(b"jan \xff.csv"), REPORT)
    [result] = settled_scan(inbox)
    assert result.outcome == "loaded"
    lines = [r.getMessage() for r in caplog.records if "inbox:" in r.getMessage()]
    assert len(lines) == 1 and "\\xff" in lines[0]
    lines[0].encode("utf-8")  # raises UnicodeEncodeError on a surrogate


# --- issue #13 case 1: a file is read only when complete ------------------------------------------


def test_a_file_loads_only_when_unchanged_at_two_scans(inbox):
    path = _drop(inbox, "jan.csv", REPORT.splitlines(keepends=True)[0] + REPORT.splitlines(keepends=True)[1])
    [first] = inbox.scan()
    assert first.outcome == "left" and "first seen" in first.detail
    with path.open("a", encoding="utf-8") as f:  # the writer goes on; the age is still 60 s
        f.write("".join(REPORT.splitlines(keepends=True)[2:]))
    stamp = inbox.clock.now().timestamp() - 60
    os.utime(path, (stamp, stamp))
    [second] = inbox.scan()
    assert second.outcome == "left" and "changed since the last scan" in second.detail
    [third] = inbox.scan()
    assert third.outcome == "loaded" and _count(inbox, SourceDayRow) == 3


@pytest.mark.parametrize("name", ["jan.csv.filepart", "jan.csv.part", "jan.csv.partial", "jan.csv.tmp",
                                  "jan.csv.crdownload", "~$jan.xlsx", ".jan.csv"])
def test_uploaders_temporary_names_are_never_read_nor_moved(inbox, name):
    path = _drop(inbox, name, "half a file, not a report")
    for _ in range(3):
        [result] = inbox.scan()
        assert result.outcome == "left" and path.exists()
    assert _all_files(inbox.settings.quarantine_dir) == [] and _count(inbox, IngestAttemptRow) == 0


def test_a_file_changed_while_it_is_loaded_is_rolled_back_and_loaded_whole_later(inbox, monkeypatch):
    import hotline_kpi.service.inbox as module

    real = module.ingest_file
    path = _drop(inbox, "jan.csv", REPORT.splitlines(keepends=True)[0] + REPORT.splitlines(keepends=True)[1])
    grown = {"done": False}

    def growing(*a, before_commit, **k):
        def append_then_check():
            if not grown["done"]:  # the writer appends while the load is inside its transaction
                grown["done"] = True
                with path.open("a", encoding="utf-8") as f:
                    f.write("".join(REPORT.splitlines(keepends=True)[2:]))
                stamp = inbox.clock.now().timestamp() - 60  # the same mtime as before: the size tells
                os.utime(path, (stamp, stamp))
            before_commit()
        return real(*a, before_commit=append_then_check, **k)

    monkeypatch.setattr(module, "ingest_file", growing)
    [result] = settled_scan(inbox)
    assert result.outcome == "left" and "changed while it was read; nothing stored" in result.detail
    assert path.exists() and _count(inbox, IngestRow) == 0 and _count(inbox, SourceDayRow) == 0
    assert _all_files(inbox.settings.originals_dir) == []  # no original of the partial read kept
    [result] = settled_scan(inbox)
    assert result.outcome == "loaded" and _count(inbox, SourceDayRow) == 3


def test_with_done_markers_a_file_waits_for_its_marker_and_the_marker_is_archived_with_it(inbox):
    inbox.settings = inbox.settings.model_copy(update={"service": inbox.settings.service.model_copy(
        update={"inbox_done_marker": True})})
    path = _drop(inbox, "jan.csv", REPORT)
    [result] = settled_scan(inbox)
    assert result.outcome == "left" and "waiting for jan.csv.done" in result.detail and path.exists()
    _drop(inbox, "jan.csv.done", "")
    results = {r.name: r for r in inbox.scan()}
    assert results["jan.csv"].outcome == "loaded"
    assert results["jan.csv.done"].outcome == "left"
    archived = results["jan.csv"].moved_to
    assert archived is not None and archived.with_name("jan.csv.done").is_file()
    assert list(inbox.root.iterdir()) == []


# --- issue #13 case 12: housekeeping ------------------------------------------------------------


def _attempts(box: Inbox) -> list[tuple[str, str, str]]:
    with read_session(box.engine) as s:
        return [(r.source, r.file_name, r.result) for r in s.scalars(select(IngestAttemptRow).order_by(IngestAttemptRow.id))]


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_unknown_folder_is_reported_once_and_again_when_it_changes(inbox, caplog):
    caplog.set_level(logging.INFO, logger="hotline_kpi")
    folder = inbox.root / "3月报表"
    folder.mkdir()
    _drop(inbox, "日报.csv", REPORT, folder=folder)
    for _ in range(3):
        [result] = inbox.scan()
        assert result.outcome == "left" and "3月报表/ is not a hotline id" in result.detail
    assert _attempts(inbox) == [("unknown", "3月报表", "left")]
    [warning] = _warnings(caplog)
    assert "3月报表/" in warning and "日报.csv" in warning and "shanghai-12345" in warning
    _drop(inbox, "日报2.csv", REPORT, folder=folder)  # a new file in it: reported again
    inbox.scan()
    assert len(_attempts(inbox)) == 2 and (folder / "日报.csv").exists() and (folder / "日报2.csv").exists()


def test_a_folder_inside_a_hotline_folder_is_left_unread_and_reported_once(inbox, caplog):
    caplog.set_level(logging.INFO, logger="hotline_kpi")
    hotline = inbox.root / "shanghai-12345"
    (hotline / "old").mkdir(parents=True)
    _drop(inbox, "jan.csv", REPORT, folder=hotline / "old")
    (hotline / "x.csv").mkdir()  # a folder named like a file: cannot be read as one
    for _ in range(3):
        results = {r.name: r for r in inbox.scan()}
        assert {r.outcome for r in results.values()} == {"left"}
    assert "shanghai-12345/old/" in results["old"].detail and "not read" in results["old"].detail
    assert (hotline / "old" / "jan.csv").is_file() and (hotline / "x.csv").is_dir()
    assert _all_files(inbox.settings.quarantine_dir) == []
    assert sorted(_attempts(inbox)) == [("unknown", "old", "left"), ("unknown", "x.csv", "left")]
    assert len(_warnings(caplog)) == 2


def test_an_unreadable_file_warns_once_until_it_changes(inbox, caplog, monkeypatch):
    import hotline_kpi.service.inbox as module

    caplog.set_level(logging.INFO, logger="hotline_kpi")
    path = _drop(inbox, "jan.csv", REPORT)
    if os.geteuid() == 0:  # root reads a chmod 000 file: make the read itself fail
        def denied(p):
            raise PermissionError(13, "Permission denied", str(p))
        monkeypatch.setattr(module, "_probe", denied)
    else:
        path.chmod(0)
    for _ in range(4):
        [result] = inbox.scan()
        assert result.outcome == "left" and path.exists()
    assert "jan.csv: cannot be read (Permission denied)" in result.detail
    assert _attempts(inbox) == [("unknown", "jan.csv", "error")]
    assert len(_warnings(caplog)) == 1
    stamp = inbox.clock.now().timestamp() - 30  # it changed: reported again
    os.utime(path, (stamp, stamp))
    inbox.scan()
    inbox.scan()
    assert len(_attempts(inbox)) == 2 and not _all_files(inbox.settings.quarantine_dir)


def test_a_rejection_is_recorded_under_the_source_that_was_recognised(inbox):
    _drop(inbox, "bad.csv", REPORT.replace("9300,7.5", "99300,7.5"))
    _drop(inbox, "what.bin", b"\x00\x01 nothing anyone exports")
    settled_scan(inbox)
    assert sorted(_attempts(inbox)) == [("daily-report", "bad.csv", "rejected"), ("unknown", "what.bin", "rejected")]


def test_the_rest_of_a_file_whose_writer_paused_too_long_is_refused_pointing_at_the_first_part(inbox):
    # Found by a new-user test: `cat part1 > f; sleep 5; cat part2 >> f` with a 1 s settle
    # time loads part 1 (the file was complete by every sign) and the rest arrives as a new
    # file without a header. It cannot be told from a finished file; the refusal says so.
    head, *days = REPORT.splitlines(keepends=True)
    _drop(inbox, "jan.csv", head + days[0])
    [first] = settled_scan(inbox)
    assert first.outcome == "loaded"
    _drop(inbox, "jan.csv", "".join(days[1:]) or "2019-01-02,1,1,1\n")
    [rest] = settled_scan(inbox)
    assert rest.outcome == "rejected"
    assert "A file of the same name" in rest.detail and "was loaded at" in rest.detail
    assert "inbox_settle_seconds" in rest.detail and "inbox_done_marker" in rest.detail
    [report] = [p for p in inbox.settings.quarantine_dir.rglob("*.error.txt")]
    assert "A file of the same name" in report.read_text(encoding="utf-8")
    # Another name is not pointed at anything.
    _drop(inbox, "other.csv", "no header here\n")
    [other] = settled_scan(inbox)
    assert other.outcome == "rejected" and "A file of the same name" not in other.detail
