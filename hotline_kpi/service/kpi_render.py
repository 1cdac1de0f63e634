"""The snapshots' half of /metrics rendered hotline by hotline, each hotline once per snapshot.

The KPI families (:mod:`hotline_kpi.service.kpi_metrics`) are per hotline: no sample of
one hotline depends on another's snapshot. :class:`KpiRenderer` keeps, per hotline, the
sample lines of each family in both formats for the snapshot they were rendered from,
renders again only the hotlines whose snapshot changed, and assembles each family as its
header followed by every hotline's lines (a family stays one group, as both formats
require). Before, every evaluation re-rendered all hotlines: with 350 hotlines 7.2 s of
interpreter time in the serving process each time one hotline's file loaded
(docs/performance.md). Between hotlines the renderer sleeps for a moment, so that a
request waiting for the interpreter gets it within about a hotline's rendering (some
milliseconds), not only at the interpreter's 5 ms switch.

Collectors over all the snapshots together (the league table's ranks) are rendered whole
at each change; they are small (at most 9 series per hotline).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

from prometheus_client import generate_latest
from prometheus_client.core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.registry import Collector

from hotline_kpi.service.exposition import OM_EOF, OPENMETRICS, TEXT
from hotline_kpi.service.metrics_model import MetricsModel
from hotline_kpi.service.snapshots import Snapshot

#: Seconds slept between two hotlines' renderings (lets a waiting request thread run).
YIELD_SECONDS = 0.0002


class _One:
    """A registry of the given families (prometheus_client's renderers call collect())."""

    def __init__(self, families: Iterable[Metric]):
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


def _empty(f: Metric) -> Metric:
    return Metric(f.name, f.documentation, f.type, f.unit)


def _headers(families: Sequence[Metric]) -> list[dict[str, bytes]]:
    out = []
    for f in families:
        e = _One([_empty(f)])
        out.append({TEXT: generate_latest(e), OPENMETRICS: openmetrics_latest(e)[: -len(OM_EOF)]})
    return out


def render_whole(registry: object) -> dict[str, bytes]:
    """Both formats of a registry (OpenMetrics without its ``# EOF``)."""
    om = openmetrics_latest(registry)  # type: ignore[arg-type]
    assert om.endswith(OM_EOF)
    return {TEXT: generate_latest(registry), OPENMETRICS: om[: -len(OM_EOF)]}  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Lines:
    snapshot_id: int
    #: per family (in kpi_families' order): the sample lines in each format
    lines: tuple[dict[str, bytes], ...]


class KpiRenderer:
    """Per hotline, the rendered sample lines of its snapshot; see the module's doc."""

    def __init__(self, families: Callable[[MetricsModel], Iterable[Metric]],
                 others: Sequence[Collector] = (), pause: Callable[[], None] = lambda: time.sleep(YIELD_SECONDS)):
        self._families = families
        self.others: list[Collector] = list(others)
        self._pause = pause
        self._by_hotline: dict[str, _Lines] = {}
        self._headers: list[dict[str, bytes]] | None = None
        #: hotlines rendered so far (tests: one evaluation of one hotline renders one)
        self.hotlines_rendered = 0

    def render(self, model: MetricsModel) -> dict[str, bytes]:
        """Both formats of the KPI half for ``model``'s snapshots (OpenMetrics without ``# EOF``)."""
        snaps: Mapping[str, Snapshot] = model.snapshots
        kept = {hid: got for hid, got in self._by_hotline.items() if hid in snaps and got.snapshot_id == snaps[hid].id}
        for hid in sorted(set(snaps) - set(kept)):
            kept[hid] = self._render_one(model, hid)
            self.hotlines_rendered += 1
            self._pause()
        if self._headers is None:
            self._headers = _headers(list(self._families(MetricsModel(zones=model.zones))))
        self._by_hotline = kept
        order = sorted(kept)
        out: dict[str, bytes] = {}
        for fmt in (TEXT, OPENMETRICS):
            parts: list[bytes] = []
            for i, head in enumerate(self._headers):
                parts.append(head[fmt])
                parts.extend(kept[hid].lines[i][fmt] for hid in order)
            out[fmt] = b"".join(parts)
        if self.others:
            rest = render_whole(_One([f for c in self.others for f in c.collect()]))
            out = {fmt: out[fmt] + rest[fmt] for fmt in out}
        return out

    def _render_one(self, model: MetricsModel, hid: str) -> _Lines:
        one = MetricsModel(snapshots={hid: model.snapshots[hid]}, zones=model.zones, hotline_info=model.hotline_info)
        families = list(self._families(one))
        if self._headers is None:
            self._headers = _headers(families)
        lines = []
        for f, head in zip(families, self._headers, strict=True):
            if not f.samples:
                lines.append({TEXT: b"", OPENMETRICS: b""})
                continue
            whole = render_whole(_One([f]))
            got = {}
            for fmt in (TEXT, OPENMETRICS):
                assert whole[fmt].startswith(head[fmt]), (f.name, fmt)
                got[fmt] = whole[fmt][len(head[fmt]):]
            lines.append(got)
        return _Lines(model.snapshots[hid].id, tuple(lines))
