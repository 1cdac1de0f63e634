"""The serving process's garbage collector kept off the request path (issue #19).

A full collection of CPython's cyclic garbage collector holds every thread while it scans
all tracked objects: with 350 hotlines' snapshots, league and page state (about 190,000
objects) 0.3-0.9 s on the project's shared 2-core machine, each time enough objects had
survived since the last one; every /metrics request waited (docs/performance.md). After
a refresh whose snapshots replaced more than a quarter of those at the last settle (the
start-up, the daily evaluation, or many hotlines' files loaded one by one)
:func:`settle` collects once and freezes what survived (:func:`gc.freeze`): the later
collections scan only the objects made since, a few thousand. Each settle unfreezes
first, so an object frozen earlier that has become cyclic garbage since is collected
then, not kept for ever. Only ``hotline-kpi serve`` turns this on
(``MetricsCache.heap_upkeep``): a test process is left alone.
"""

from __future__ import annotations

import gc
import time
from typing import Mapping

#: A refresh that replaced more than this share of the snapshots settles the heap.
SETTLE_SHARE = 0.25


def replaced_many(before: Mapping[str, object], after: Mapping[str, object]) -> bool:
    """Whether ``after``'s snapshots (hotline -> snapshot with an ``id``) replaced at least
    more than SETTLE_SHARE of them since ``before``."""
    new = sum(1 for hid, snap in after.items()
              if hid not in before or getattr(before[hid], "id", None) != getattr(snap, "id", None))
    return new > 0 and new > SETTLE_SHARE * len(after)


def settle() -> tuple[float, int]:
    """Collect once and freeze the survivors; returns the seconds it took and the objects frozen."""
    start = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return time.perf_counter() - start, gc.get_freeze_count()
