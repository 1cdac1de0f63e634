"""The league table in the metrics: a collector of its own over the exporter's snapshots.

Year to date only, at most 9 series per hotline: its rank on each ranked indicator
(``hotline_kpi_league_rank{hotline,indicator}``, 1 = best, ties share a rank, no series
when the hotline is not ranked on it), its score and its rank on the score. Beside them,
per indicator, how many hotlines are ranked (to read a rank as "12th of 350"). The
provinces are not exported: PromQL computes them as ratios of sums from each hotline's
year-to-date value, its ``hotline_kpi_indicator_denominator`` and the province of
``hotline_kpi_hotline_info`` (docs/metrics.md, "Roll-ups in PromQL").
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hotline_kpi.service.league import DEFAULT_WINDOW, LeagueBoard
from hotline_kpi.service.snapshots import Snapshot

log = logging.getLogger(__name__)


class LeagueCollector(Collector):
    def __init__(self, board: LeagueBoard, snapshots: Callable[[], Mapping[str, Snapshot]]):
        self._board, self._snapshots = board, snapshots

    def collect(self) -> Iterable[Metric]:
        league = self._board.league(self._snapshots(), DEFAULT_WINDOW)
        rank = GaugeMetricFamily("hotline_kpi_league_rank",
                                 "Rank of the hotline among the hotlines on the indicator, year to date (1 = best; "
                                 "ties share a rank; absent: no data).", labels=["hotline", "indicator"])
        ranked = GaugeMetricFamily("hotline_kpi_league_ranked_hotlines",
                                   "Hotlines ranked on the indicator, year to date.", labels=["indicator"])
        score = GaugeMetricFamily("hotline_kpi_league_score",
                                  "Self-evaluation score of the quantitative indicators, year to date (of 100).",
                                  labels=["hotline"])
        score_rank = GaugeMetricFamily("hotline_kpi_league_score_rank",
                                       "Rank of the hotline on the score, year to date (1 = best).", labels=["hotline"])
        counts = dict.fromkeys(league.indicators, 0)
        for h in league.hotlines:
            for ind, place in h.places.items():
                if place.rank is not None:
                    rank.add_metric([h.hotline_id, ind], place.rank)
                    counts[ind] += 1
            if h.score is not None and h.score_rank is not None:
                score.add_metric([h.hotline_id], h.score)
                score_rank.add_metric([h.hotline_id], h.score_rank)
        for ind, n in counts.items():
            if n:
                ranked.add_metric([ind], n)
        return [rank, ranked, score, score_rank]


def register(registries: Iterable[CollectorRegistry], board: LeagueBoard,
             snapshots: Callable[[], Mapping[str, Snapshot]]) -> None:
    for registry in registries:
        registry.register(LeagueCollector(board, snapshots))
