"""The league table, pure (hotline_kpi/league.py): ranks worked out by hand.

The store-backed league (both backends, the API, the page, the metrics) is in
tests/service/test_league.py.
"""

from __future__ import annotations

import pytest

from hotline_kpi.league import (
    NO_DATA,
    NOT_COMPARABLE,
    OTHER_YEAR,
    VOLUME,
    Figure,
    HotlineFigures,
    Peer,
    PeerFigure,
    build_league,
    competition_ranks,
    sum_figures,
    would_rank,
)


def test_ties_share_a_rank_and_leave_a_gap_1224():
    # higher is better: 0.9 is 1st; the two 0.8 are both 2nd (one better each); 0.7 has
    # three better -> 4th.
    assert competition_ranks({"a": 0.9, "b": 0.8, "c": 0.8, "d": 0.7}, True) == {"a": 1, "b": 2, "c": 2, "d": 4}
    # lower is better: the same values rank the other way round: 0.7 1st, 0.8 2nd twice, 0.9 4th.
    assert competition_ranks({"a": 0.9, "b": 0.8, "c": 0.8, "d": 0.7}, False) == {"a": 4, "b": 2, "c": 2, "d": 1}


def test_no_value_is_unranked_and_pushes_nobody_down():
    assert competition_ranks({"a": 3.0, "b": None, "c": 5.0}, False) == {"a": 1, "b": None, "c": 2}


def test_a_peer_would_rank_without_moving_the_hotlines():
    # 0.87 among 0.95, 0.95, 0.90, (none): three strictly better -> would be 4th; a tie
    # with 0.90 would share 3rd.
    assert would_rank(0.87, [0.95, 0.95, 0.90, None], True) == 4
    assert would_rank(0.90, [0.95, 0.95, 0.90, None], True) == 3


def test_a_roll_up_sums_the_counters_never_averages_the_rates():
    big, small = Figure(950, 1000, 2), Figure(80, 100, 2)
    rolled = sum_figures([big, small, Figure(0, 0, 0)])
    # (950 + 80) / (1000 + 100) = 1030 / 1100 = 0.93636..., not (0.95 + 0.80) / 2 = 0.875;
    # the figure without a day of data adds nothing, not even its days.
    assert rolled == Figure(1030, 1100, 4)
    assert rolled.value == pytest.approx(1030 / 1100)
    assert sum_figures([Figure(0, 0, 0)]) is None
    # a total (no denominator) is the plain sum
    assert sum_figures([Figure(40000, None, 2), Figure(40000, None, 2)]) == Figure(80000, None, 4)


def _h(hid: str, province: str, score: float | None, **rates: tuple[float, float]) -> HotlineFigures:
    return HotlineFigures(hid, hid.upper(), province, {k: Figure(n, d, 2) for k, (n, d) in rates.items()}, score)


def test_league_ranks_direction_aware_rolls_up_provinces_and_places_a_peer():
    league = build_league("year_to_date", [
        _h("a", "江苏省", 100.0, connection_rate=(1900, 2000), average_answer_seconds=(9500, 1900),
           satisfaction_rate=(190, 200), requests_accepted=(40000, None)),
        _h("b", "江苏省", 98.15, connection_rate=(160, 200), average_answer_seconds=(640, 160),
           satisfaction_rate=(18, 20), requests_accepted=(40000, None)),
        _h("c", "浙江省", 100.0, connection_rate=(1900, 2000), average_answer_seconds=(9500, 1900),
           satisfaction_rate=(190, 200), requests_accepted=(40000, None)),
        _h("d", "", 83.33, connection_rate=(1800, 2000), average_answer_seconds=(14400, 1800),
           requests_accepted=(40000, None)),
    ], [Peer("北京12345", 2019, "公开报道", (
        PeerFigure("satisfaction_rate", 0.87, True, "“基本满意”是否计入未说明"),
        PeerFigure("requests_accepted", 2520000, False, "工单数，口径不同"),
        PeerFigure("connection_rate", 0.99, False, "口径不同"),
    ))])
    assert league.indicators == ("requests_accepted", "connection_rate", "average_answer_seconds", "satisfaction_rate")
    rank = {h.hotline_id: {i: p.rank for i, p in h.places.items()} for h in league.hotlines}
    # connection (higher better): a .95, c .95 -> 1, 1; d .90 -> 3; b .80 -> 4
    assert [rank[h]["connection_rate"] for h in "abcd"] == [1, 4, 1, 3]
    # average answer seconds (lower better): b 640/160 = 4 s -> 1; a, c 9500/1900 = 5 s -> 2, 2; d 8 s -> 4
    assert [rank[h]["average_answer_seconds"] for h in "abcd"] == [2, 1, 2, 4]
    # satisfaction: a, c .95 -> 1, 1; b .90 -> 3; d has no figure: unranked, said so
    assert [rank[h]["satisfaction_rate"] for h in "abcd"] == [1, 3, 1, None]
    assert league.hotline("d").places["satisfaction_rate"].unranked == NO_DATA
    # a volume is shown, never ranked
    assert (league.hotline("a").places["requests_accepted"].value, league.hotline("a").places["requests_accepted"].rank,
            league.hotline("a").places["requests_accepted"].unranked) == (40000, None, VOLUME)
    # score: 100, 100 -> 1, 1; 98.15 -> 3; 83.33 -> 4; rows best first, ties by id
    assert [(h.hotline_id, h.score_rank) for h in league.hotlines] == [("a", 1), ("c", 1), ("b", 3), ("d", 4)]

    # provinces: 江苏 = a + b, 浙江 = c; d has none and is in no roll-up
    assert [p.province for p in league.provinces] == ["江苏省", "浙江省"]
    assert league.without_province == ("d",)
    js, zj = league.province("江苏省"), league.province("浙江省")
    assert js.hotlines == ("a", "b")
    # 江苏 connection: (1900 + 160) / (2000 + 200) = 2060 / 2200 = 0.93636 < 浙江 0.95 -> 2nd, 1st
    assert js.places["connection_rate"].value == pytest.approx(2060 / 2200)
    assert (js.places["connection_rate"].rank, zj.places["connection_rate"].rank) == (2, 1)
    # 江苏 seconds: (9500 + 640) / (1900 + 160) = 10140 / 2060 = 4.922 s < 浙江 5 s -> 1st, 2nd
    assert js.places["average_answer_seconds"].value == pytest.approx(10140 / 2060)
    assert (js.places["average_answer_seconds"].rank, zj.places["average_answer_seconds"].rank) == (1, 2)
    assert js.places["requests_accepted"].value == 80000

    # the peer: satisfaction 0.87 below a .95, c .95, b .90 -> would be 4th; nobody moved
    (peer,) = league.peers
    assert peer.places["satisfaction_rate"].rank == 4
    assert peer.places["requests_accepted"].unranked == VOLUME
    assert peer.places["connection_rate"].unranked == NOT_COMPARABLE
    assert peer.figures["satisfaction_rate"].definition == "“基本满意”是否计入未说明"
    assert rank["b"]["satisfaction_rate"] == 3
    assert all(p.province != "北京12345" for p in league.provinces)


def test_only_the_latest_year_is_ranked_and_rolled_up():
    # a: two days of 2020, connection 80/100 = .80; b: the whole of 2019, 950/1000 = .95;
    # n: configured, no evaluation. The league is of 2020: a ranks 1st of 1 (b's better
    # 2019 value does not count), b is listed as other_year; 江苏 = a's 2020 counters only
    # (80/100), not (80 + 950) / (100 + 1000); n is listed without data and in no roll-up.
    league = build_league("year_to_date", [
        HotlineFigures("a", "A", "江苏省", {"connection_rate": Figure(80, 100, 2)}, 90.0, "2020-01-02"),
        HotlineFigures("b", "B", "江苏省", {"connection_rate": Figure(950, 1000, 365)}, 100.0, "2019-12-31"),
        HotlineFigures("n", "N", "江苏省", {}, None, None),
    ])
    assert (league.year, league.as_of) == (2020, ("2020-01-02", "2020-01-02"))
    a, b, n = (league.hotline(k) for k in "abn")
    assert (a.places["connection_rate"].rank, a.score_rank) == (1, 1)
    assert (b.places["connection_rate"].rank, b.places["connection_rate"].unranked, b.score_rank) == (
        None, OTHER_YEAR, None)
    assert b.places["connection_rate"].value == pytest.approx(0.95)
    assert (n.places["connection_rate"].rank, n.places["connection_rate"].unranked) == (None, NO_DATA)
    (js,) = league.provinces
    assert js.hotlines == ("a",) and js.places["connection_rate"].figure == Figure(80, 100, 2)
    assert [h.hotline_id for h in league.hotlines] == ["a", "b", "n"]
