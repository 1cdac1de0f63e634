"""The service's target catalogues, following the catalogue folder while ``serve`` runs.

``serve`` loads the catalogue folder at start. A catalogue added later (a new year of a
hotline, ``inherits:`` its last year, or a new hotline) is evaluated by
``hotline-kpi ingest`` from the command line, which loads the folder afresh: its snapshot
then names a hotline or year the service does not know, and the league table and the
status page (which read the catalogue of each snapshot's hotline and year) silently
left it out until a restart. :class:`LiveCatalogues` is the set the service hands
around: asked for a hotline and year it does not hold, it loads the folder again if any
file in it changed since the last load, and says so in the log; a snapshot whose
catalogue is still missing (or whose folder no longer loads) is logged once per change
of the folder, never silently dropped.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Iterable

from hotline_kpi.catalogue import Catalogue, CatalogueError, CatalogueSet, Hotline
from hotline_kpi.i18n import _

log = logging.getLogger(__name__)

Signature = tuple[tuple[str, int, int], ...]


def folder_signature(folder: Path) -> Signature:
    """The catalogue files of ``folder`` with their modification time and size: a reload
    is needed when it changed (a listing and a stat per file; no file is read)."""
    out = []
    try:
        with os.scandir(folder) as entries:
            for e in entries:
                if e.name.endswith((".yaml", ".yml")) and e.is_file():
                    st = e.stat()
                    out.append((e.name, st.st_mtime_ns, st.st_size))
    except OSError:
        return ()
    return tuple(sorted(out))


class LiveCatalogues(CatalogueSet):
    """A :class:`CatalogueSet` of a folder that loads the folder again when asked for a
    hotline and year it does not hold and the folder changed since (see the module)."""

    def __init__(self, folder: Path | str, loaded: CatalogueSet | None = None):
        self.folder = Path(folder)
        self._reload_lock = threading.Lock()
        self._signature = folder_signature(self.folder)
        #: (hotline, year) already logged as missing for the current folder signature
        self._told: set[tuple[str, int]] = set()
        #: how many times the folder was loaded again (tests)
        self.reloads = 0
        base = loaded if loaded is not None else CatalogueSet.from_dir(self.folder)
        super().__init__(list(base))

    def __reduce__(self) -> tuple[type, tuple[list[Catalogue]]]:
        # Sent to the queue_log line scan's worker processes inside the ingest context: they
        # need the catalogues as they are now, not the lock or the folder (a plain set).
        return (CatalogueSet, (list(self),))

    def get(self, hotline_id: str, year: int) -> Catalogue | None:
        cat = super().get(hotline_id, year)
        if cat is None and self.follow([(hotline_id, year)]):
            cat = super().get(hotline_id, year)
        return cat

    def hotline(self, hotline_id: str) -> Hotline:
        if not self.years(hotline_id):
            self.follow([(hotline_id, None)])
        return super().hotline(hotline_id)

    def follow(self, wanted: Iterable[tuple[str, int | None]]) -> bool:
        """Make sure the set holds each (hotline, year) of ``wanted`` (year None: any
        year), loading the folder again if it changed; True if a reload happened. What
        is still missing afterwards is logged once per change of the folder."""
        missing = [(h, y) for h, y in wanted if not self._holds(h, y)]
        if not missing:
            return False
        with self._reload_lock:
            reloaded = False
            signature = folder_signature(self.folder)
            if signature != self._signature:
                self._signature, self._told = signature, set()
                try:
                    fresh = CatalogueSet.from_dir(self.folder)
                except CatalogueError as exc:
                    log.warning("%s", _("target catalogues changed but do not load; the service keeps those it "
                                        "loaded: {error}", error=str(exc)))
                else:
                    before = set(self._by_key)
                    self._by_key = dict(fresh._by_key)  # one assignment: readers see the old or the new set
                    self.reloads += 1
                    reloaded = True
                    added = sorted(set(self._by_key) - before)
                    log.info("%s", _("target catalogues loaded again from {folder}: new {added}", folder=self.folder,
                                     added=", ".join(f"{h} {y}" for h, y in added) or "—"))
            for h, y in missing:
                if not self._holds(h, y) and (h, y or 0) not in self._told:
                    self._told.add((h, y or 0))
                    log.warning("%s", _("no target catalogue for {hotline} in {year} in {folder}: its evaluation is "
                                        "left out of the league table and the status page", hotline=h,
                                        year=y if y is not None else "—", folder=self.folder))
            return reloaded

    def _holds(self, hotline_id: str, year: int | None) -> bool:
        if year is None:
            return bool(self.years(hotline_id))
        return CatalogueSet.get(self, hotline_id, year) is not None
