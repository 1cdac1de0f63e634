"""The league table, pure: hotlines ranked per indicator and on a score, provinces rolled
up from summed counters, peers from published figures beside them (docs/league.md).

- **Direction**: each indicator's formula says whether more is better (the connection
  rate) or less (the abandon rate, the average answer time). A volume (requests
  accepted: how much, not how well) is shown and summed but never ranked.
- **Ties** share a rank and leave a gap after them (competition ranking, "1224"): a rank
  is 1 + the number of entries strictly better.
- **No data**: a hotline without a value for an indicator is not ranked on it (``rank``
  ``None``, ``unranked`` "no_data"); it does not push the others down.
- **Provinces** are rolled up from the hotlines' summed counters: a rate is the sum of the
  numerators over the sum of the denominators, never an average of the hotlines' rates.
  A hotline without a province is listed, ranked, and in no roll-up.
- **One year**: a league ranks and rolls up the hotlines whose latest evaluation is of
  the league's year, the latest year of any of them; a hotline whose latest evaluation
  is of an earlier year (the scheduled evaluation has not reached it yet) is listed, not
  ranked (``unranked`` "other_year"), and in no roll-up: counters of two years are never
  compared or summed. A configured hotline without an evaluation (no figures) is listed,
  not ranked (no data on every indicator), and in no roll-up.
- **Peers** (a hotline known only from its published figures) stand beside the table,
  marked as such, with the definition of each figure; a comparable figure shows where it
  would stand among the hotlines (1 + the hotlines strictly better), without moving
  any hotline's rank; peers are never rolled into a province.

Nothing here reads a session, a clock, the settings or a file.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Iterable, Mapping

#: Whether a higher value is better, per formula; None: a volume, shown but not ranked.
DIRECTIONS: Mapping[str, bool | None] = {
    "requests_accepted": None,
    "connection_rate": True,
    "abandon_rate": False,
    "answered_within_15s_rate": True,
    "average_answer_seconds": False,
    "first_contact_resolution_rate": True,
    "operator_fault_return_rate": False,
    "satisfaction_rate": True,
}

#: Why an entry has no rank on an indicator.
NO_DATA = "no_data"
VOLUME = "volume"
NOT_COMPARABLE = "not_comparable"
OTHER_YEAR = "other_year"
#: A peer's indicator its benchmark file lists under ``not_published``.
NOT_PUBLISHED = "not_published"


@dataclass(frozen=True)
class Figure:
    """The summed counters of one indicator over one window: ``numerator`` /
    ``denominator`` over the days that had them (``denominator`` None: a total)."""

    numerator: float
    denominator: float | None
    days_with_data: int

    @property
    def value(self) -> float | None:
        if self.days_with_data <= 0:
            return None
        if self.denominator is None:
            return self.numerator
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class HotlineFigures:
    """What the league needs of one hotline's evaluation."""

    hotline_id: str
    name: str
    #: From the hotline catalogue; "" = not given (in no roll-up).
    province: str
    figures: Mapping[str, Figure]
    #: The self-evaluation score of the window (None: nothing to score).
    score: float | None = None
    #: The evaluation's as-of date (ISO); None: the hotline has no evaluation.
    as_of: str | None = None
    name_en: str = ""

    @property
    def year(self) -> int | None:
        return None if self.as_of is None else int(self.as_of[:4])


@dataclass(frozen=True)
class PeerFigure:
    indicator: str
    value: float
    #: Defined as ours (compared) or not (shown, never ranked).
    comparable: bool
    #: How the peer's definition differs from ours.
    definition: str
    #: The figure as published (满意率87%).
    published: str = ""
    #: The benchmark's own label (解决率), for a figure matching none of our indicators.
    label: str = ""


@dataclass(frozen=True)
class Peer:
    name: str
    year: int
    source: str
    figures: tuple[PeerFigure, ...]
    #: Indicators the peer publishes no figure for.
    not_published: tuple[str, ...] = ()


@dataclass(frozen=True)
class Place:
    """One entry on one indicator: its value and rank, or why it has none."""

    value: float | None
    rank: int | None
    #: "" when ranked; otherwise NO_DATA, VOLUME or NOT_COMPARABLE.
    unranked: str = ""
    figure: Figure | None = None


@dataclass(frozen=True)
class HotlineRow:
    hotline_id: str
    name: str
    province: str
    as_of: str | None
    places: Mapping[str, Place]
    score: float | None
    score_rank: int | None
    name_en: str = ""


@dataclass(frozen=True)
class ProvinceRow:
    province: str
    hotlines: tuple[str, ...]
    places: Mapping[str, Place]


@dataclass(frozen=True)
class PeerRow:
    name: str
    year: int
    source: str
    #: Rank: where the published figure would stand among the hotlines.
    places: Mapping[str, Place]
    figures: Mapping[str, PeerFigure] = field(default_factory=dict)
    #: Published figures that match none of the league's indicators, shown with their definition.
    others: tuple[PeerFigure, ...] = ()


@dataclass(frozen=True)
class League:
    window: str
    indicators: tuple[str, ...]
    #: Best score first, then by hotline id; unscored hotlines last.
    hotlines: tuple[HotlineRow, ...]
    #: By province name.
    provinces: tuple[ProvinceRow, ...]
    peers: tuple[PeerRow, ...]
    #: Hotlines without a province (ranked, in no roll-up).
    without_province: tuple[str, ...]
    #: The year ranked and rolled up (None: no hotline has an evaluation).
    year: int | None = None
    #: The as-of dates of the ranked hotlines' evaluations (ISO), earliest and latest.
    as_of: tuple[str, str] | None = None

    def hotline(self, hotline_id: str) -> HotlineRow | None:
        return next((h for h in self.hotlines if h.hotline_id == hotline_id), None)

    def province(self, name: str) -> ProvinceRow | None:
        return next((p for p in self.provinces if p.province == name), None)


def _key(value: float, higher_is_better: bool) -> float:
    return -value if higher_is_better else value


def competition_ranks(values: Mapping[str, float | None], higher_is_better: bool) -> dict[str, int | None]:
    """1 + the number of entries strictly better; ``None`` for an entry without a value."""
    keys = sorted(_key(v, higher_is_better) for v in values.values() if v is not None)
    return {k: None if v is None else bisect_left(keys, _key(v, higher_is_better)) + 1 for k, v in values.items()}


def would_rank(value: float, others: Iterable[float | None], higher_is_better: bool) -> int:
    """Where ``value`` would stand among ``others`` without moving them (ties share)."""
    k = _key(value, higher_is_better)
    return 1 + sum(1 for v in others if v is not None and _key(v, higher_is_better) < k)


def sum_figures(figures: Iterable[Figure]) -> Figure | None:
    """The roll-up of several hotlines' figures: the counters summed (a rate is then the
    ratio of the sums). Figures without a day of data add nothing; None if none had one."""
    with_data = [f for f in figures if f.days_with_data > 0]
    if not with_data:
        return None
    total = any(f.denominator is None for f in with_data)
    return Figure(sum(f.numerator for f in with_data),
                  None if total else sum(f.denominator or 0 for f in with_data),
                  sum(f.days_with_data for f in with_data))


def _places(figures: Mapping[str, Figure | None], indicator: str) -> dict[str, Place]:
    direction = DIRECTIONS.get(indicator)
    values = {k: (f.value if f is not None else None) for k, f in figures.items()}
    if direction is None:
        return {k: Place(values[k], None, VOLUME if values[k] is not None else NO_DATA, figures[k]) for k in figures}
    ranks = competition_ranks(values, direction)
    return {k: Place(values[k], ranks[k], "" if ranks[k] is not None else NO_DATA, figures[k]) for k in figures}


def build_league(window: str, hotlines: Iterable[HotlineFigures], peers: Iterable[Peer] = (),
                 indicators: Iterable[str] | None = None) -> League:
    """The league of ``hotlines`` over ``window``; ``indicators`` defaults to every
    indicator any hotline has, in :data:`DIRECTIONS` order. Only the hotlines of the
    latest year are ranked and rolled up (see the module)."""
    listed = list(hotlines)
    years = [h.year for h in listed if h.year is not None]
    year = max(years) if years else None
    # Of the league's year, or of none stated (a hotline without an evaluation has no figures).
    entries = [h for h in listed if h.year is None or h.year == year]
    if indicators is None:
        present = {i for h in listed for i in h.figures}
        order = list(DIRECTIONS) + sorted(present - set(DIRECTIONS))
        inds = tuple(i for i in order if i in present)
    else:
        inds = tuple(indicators)
    by_id = {h.hotline_id: h for h in entries}

    per_ind = {i: _places({h.hotline_id: h.figures.get(i) for h in entries}, i) for i in inds}
    score_ranks = competition_ranks({h.hotline_id: h.score for h in entries}, True)
    rows = [HotlineRow(h.hotline_id, h.name, h.province, h.as_of, {i: per_ind[i][h.hotline_id] for i in inds},
                       h.score, score_ranks[h.hotline_id], h.name_en) for h in entries]
    for h in listed:  # listed, not ranked: another year's evaluation, or none at all
        if h.hotline_id in by_id:
            continue
        places = {i: Place((f.value if (f := h.figures.get(i)) is not None else None), None, OTHER_YEAR, f)
                  for i in inds}
        rows.append(HotlineRow(h.hotline_id, h.name, h.province, h.as_of, places, h.score, None, h.name_en))
    rows.sort(key=lambda r: (r.score_rank is None, r.score_rank or 0, r.hotline_id))

    members: dict[str, list[str]] = {}
    for h in entries:
        if h.province and h.figures:
            members.setdefault(h.province, []).append(h.hotline_id)
    rolled = {p: {i: sum_figures(f for hid in hids if (f := by_id[hid].figures.get(i)) is not None) for i in inds}
              for p, hids in members.items()}
    prov_places = {i: _places({p: rolled[p][i] for p in rolled}, i) for i in inds}
    provinces = [ProvinceRow(p, tuple(sorted(hids)), {i: prov_places[i][p] for i in inds})
                 for p, hids in members.items()]
    provinces.sort(key=lambda r: r.province)

    peer_rows = []
    for peer in peers:
        places: dict[str, Place] = {}
        figs: dict[str, PeerFigure] = {}
        for ind in peer.not_published:
            if ind in inds:
                places[ind] = Place(None, None, NOT_PUBLISHED)
        for f in peer.figures:
            if f.indicator not in inds:
                continue
            figs[f.indicator] = f
            direction = DIRECTIONS.get(f.indicator)
            if direction is None:
                places[f.indicator] = Place(f.value, None, VOLUME)
            elif not f.comparable:
                places[f.indicator] = Place(f.value, None, NOT_COMPARABLE)
            else:
                others = [per_ind[f.indicator][h.hotline_id].value for h in entries]
                places[f.indicator] = Place(f.value, would_rank(f.value, others, direction))
        extra = tuple(f for f in peer.figures if f.indicator not in inds)
        peer_rows.append(PeerRow(peer.name, peer.year, peer.source, places, figs, extra))

    dates = sorted(h.as_of for h in entries if h.as_of is not None)
    return League(window, inds, tuple(rows), tuple(provinces), tuple(peer_rows),
                  tuple(sorted(h.hotline_id for h in entries if not h.province)), year,
                  (dates[0], dates[-1]) if dates else None)
