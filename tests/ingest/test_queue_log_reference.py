"""The benchmark's agreement check at a small size: the project's queue-log counters equal
those DuckDB SQL computes from the same file (bench/ingest_queue_log.py's reference).

The file is three days of the demo plan (a sample of its calls) with the mess real logs
have added: duplicated and reordered lines, blank lines, unknown events, a call overflowing
to a second queue, lines without their ENTERQUEUE, calls that never exit. Loaded whole
and in pieces. Skipped when duckdb is not installed (it is in the ``test`` and ``bench``
extras).
"""

from __future__ import annotations

import importlib.util
import random

import pytest

from hotline_kpi.demo import generate_year
from hotline_kpi.demo_sources import queue_log_days
from tests.common import ROOT
from tests.ingest.qlog import counters, ev, load

duckdb = pytest.importorskip("duckdb", reason="duckdb is not installed (pip install duckdb: the test/bench extra)")


def _reference():
    spec = importlib.util.spec_from_file_location("bench_ingest_queue_log", ROOT / "bench" / "ingest_queue_log.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.duckdb_daily_counters


def _messy_log() -> list[str]:
    plan = generate_year(2019, 12345)[59:62]  # 1-3 March 2019
    lines = [ln for _, _, data in queue_log_days(plan, seed=7, scale=0.05) for ln in data.decode().splitlines()]
    rng = random.Random(3)
    extra = [
        ev(100, "overflow", "ENTERQUEUE", "", "138", 1), ev(160, "overflow", "EXITWITHTIMEOUT", 1, 1, 60),
        ev(161, "overflow", "ENTERQUEUE", "", "138", 1, queue="12345-b"),
        ev(170, "overflow", "CONNECT", 9, "x", 1, queue="12345-b", agent="话务员 李娜"),
        ev(300, "orphan", "CONNECT", 4, "y", 1, agent="SIP/8"), ev(400, "orphan", "COMPLETEAGENT", 4, 96, 1),
        ev(500, "lost", "ENTERQUEUE", "", "138", 1),
        ev(600, "odd", "DID", "12345"), ev(601, "odd", "INFO", "whatever|with|fields"), "",
        ev(700, "key", "ENTERQUEUE", "", "138", 1), ev(705, "key", "EXITWITHKEY", 0, 1, 1, 5),
        ev(800, "old", "ENTERQUEUE", "", "138", 1), ev(830, "old", "EXITWITHKEY", 9, 1),  # no waittime (old Asterisk)
    ]
    for line in extra:
        lines.insert(rng.randrange(len(lines) // 3), line)
    for _ in range(40):  # duplicates anywhere, and neighbours swapped
        lines.insert(rng.randrange(len(lines)), rng.choice(lines))
        i = rng.randrange(len(lines) - 1)
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    return lines


def _as_floats(found):
    return {d.isoformat(): {k: float(v) for k, v in vals.items()} for d, vals in found.items()}


def test_the_project_and_duckdb_agree_on_a_messy_log_whole_and_in_pieces(tmp_path, sqlite_template, settings,
                                                                          catalogues, clock):
    import shutil

    from hotline_kpi.store.db import make_engine

    lines = _messy_log()
    whole = tmp_path / "queue_log"
    whole.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = _reference()(whole, threads=1)
    assert len(expected) >= 3 and sum(v["calls_offered"] for v in expected.values()) > 1000

    for pieces in (1, 4):
        db = tmp_path / f"{pieces}.db"
        shutil.copy(sqlite_template, db)
        engine = make_engine(f"sqlite:///{db}")
        cut = [len(lines) * i // pieces for i in range(pieces + 1)]
        for i, (a, b) in enumerate(zip(cut, cut[1:])):
            part = tmp_path / f"queue_log.{pieces - i}"
            part.write_text("\n".join(lines[a:b]) + "\n", encoding="utf-8")
            load(engine, part, settings, catalogues, clock)
        assert _as_floats(counters(engine)) == expected, f"{pieces} piece(s)"
        engine.dispose()
