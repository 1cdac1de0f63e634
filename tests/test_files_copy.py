"""Keeping an original: the first ``length`` bytes of the file (the part hashed) copied whole
to its place, by the kernel where it can and through the process where it cannot."""

from __future__ import annotations

import os

import pytest

from hotline_kpi.files import copy_atomic

DATA = bytes(range(256)) * 5000 + b"tail"  # 1,280,004 bytes: more than one MiB read


@pytest.mark.parametrize("kernel", [True, False], ids=["copy_file_range", "read-write"])
@pytest.mark.parametrize("length", [None, 0, 1, len(DATA) - 4, len(DATA), len(DATA) + 100])
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
