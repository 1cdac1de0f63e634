"""The service's catalogue set follows the folder (hotline_kpi/service/catalogues.py): a
file added while serving is loaded when a snapshot names its hotline and year; what cannot
be loaded is logged, never dropped silently. No store involved: files only."""

from __future__ import annotations

import logging

from hotline_kpi.service.catalogues import LiveCatalogues
from tests.common import TARGETS

SEED = (TARGETS / "shanghai-12345-2019.yaml").read_text(encoding="utf-8")


def test_a_new_year_is_loaded_when_asked_and_a_broken_folder_keeps_the_last_good_set(tmp_path, caplog):
    (tmp_path / "sh-2019.yaml").write_text(SEED, encoding="utf-8")
    live = LiveCatalogues(tmp_path)
    caplog.set_level(logging.INFO, logger="hotline_kpi")
    # nothing changed: no reload, the miss is logged once
    assert live.get("shanghai-12345", 2020) is None and live.get("shanghai-12345", 2020) is None
    assert live.reloads == 0
    assert sum("shanghai-12345" in r.getMessage() and "2020" in r.getMessage() for r in caplog.records) == 1
    # the 2020 file, inheriting 2019, is loaded at the next miss
    (tmp_path / "sh-2020.yaml").write_text("inherits: sh-2019.yaml\nyear: 2020\n", encoding="utf-8")
    assert live.get("shanghai-12345", 2020).year == 2020 and live.reloads == 1
    assert live.years("shanghai-12345") == [2019, 2020]
    # a broken file: the set loaded before stays, and the log says why
    (tmp_path / "x-2019.yaml").write_text("inherits: sh-2019.yaml\nhotline:\n  id: X!\n", encoding="utf-8")
    caplog.clear()
    assert live.get("x", 2019) is None and live.get("shanghai-12345", 2020) is not None
    assert any(r.levelno == logging.WARNING and "x-2019.yaml" in r.getMessage() for r in caplog.records), \
        [r.getMessage() for r in caplog.records]
    # a new hotline asked for by id
    (tmp_path / "x-2019.yaml").write_text("inherits: sh-2019.yaml\nhotline:\n  id: x-12345\n", encoding="utf-8")
    assert live.hotline("x-12345").id == "x-12345" and live.reloads == 2


def test_it_travels_to_worker_processes_as_a_plain_set(tmp_path):
    """The queue_log parser sends its ingest context (catalogues included) to spawned
    worker processes: the live set pickles as the catalogues it holds (no lock)."""
    import pickle

    from hotline_kpi.catalogue import CatalogueSet

    (tmp_path / "sh-2019.yaml").write_text(SEED, encoding="utf-8")
    copy = pickle.loads(pickle.dumps(LiveCatalogues(tmp_path)))
    assert type(copy) is CatalogueSet and copy.years("shanghai-12345") == [2019]
