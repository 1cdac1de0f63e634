"""The profile ``level(year) x month factor x day-type factor`` fitted to daily sums, and
the Student-t quantile of the interval (docs/forecast.md section 2). Pure."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from statistics import NormalDist
from typing import Mapping, Sequence

from hotline_kpi.forecast.calendar import day_type, fallback_chain

#: or after so many rounds.
_TOLERANCE = 1e-10
_MAX_ROUNDS = 100


@dataclass(frozen=True)
class Profile:
    """``level x month[m] x kind[c]`` for the current year."""

    level: float
    month: Mapping[int, float]
    kind: Mapping[str, float]

    def predict(self, day: dt.date) -> float:
        cat = day_type(day)[0]
        factor = 1.0
        for c in fallback_chain(cat):
            if c in self.kind:
                factor = self.kind[c]
                break
        return self.level * self.month.get(day.month, 1.0) * factor


def fit_profile(points: Sequence[tuple[dt.date, float]], year: int) -> Profile:
    """Fit the profile by backfitting on grouped sums (ratio estimators per factor).

    Each factor is ``sum(y) / sum(fitted without it)`` over its days, so a month with a
    holiday is not mistaken for a slow month. Levels are per year; the day-type factors
    are fitted on both years; the month factors on the previous year only (this year's
    months seen so far would otherwise pull them towards themselves, and their
    deviation from last year's shape is what the interval measures). Without a
    previous year the month profile is flat.
    """
    groups: dict[tuple[bool, int, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for day, y in points:
        g = groups[(day.year == year, day.month, day_type(day)[0])]
        g[0] += y
        g[1] += 1
    level = {True: 1.0, False: 1.0}
    month: dict[int, float] = {m: 1.0 for (cur, m, _) in groups if not cur}
    kind: dict[str, float] = {c: 1.0 for (_, _, c) in groups}

    items = [(cur, m, c, s, n) for (cur, m, c), (s, n) in groups.items()]

    def ratio(key_of, fitted_without, only_previous: bool = False) -> dict:
        num: dict = defaultdict(float)
        den: dict = defaultdict(float)
        for cur, m, c, s, n in items:
            if only_previous and cur:
                continue
            k = key_of(cur, m, c)
            num[k] += s
            den[k] += n * fitted_without(cur, m, c)
        return {k: num[k] / den[k] for k in num if den[k] > 0}

    def m_of(m: int) -> float:
        return month.get(m, 1.0)

    def update_level() -> None:
        num = {True: 0.0, False: 0.0}
        den = {True: 0.0, False: 0.0}
        for cur, m, c, s, n in items:
            num[cur] += s
            den[cur] += n * month.get(m, 1.0) * kind[c]
        level.update({k: num[k] / den[k] for k in num if den[k] > 0})

    def update_month() -> None:
        num: dict[int, float] = defaultdict(float)
        den: dict[int, float] = defaultdict(float)
        lp = level[False]
        for cur, m, c, s, n in items:
            if not cur:
                num[m] += s
                den[m] += n * lp * kind[c]
        month.update({k: num[k] / den[k] for k in num if den[k] > 0})

    def update_kind() -> None:
        num: dict[str, float] = defaultdict(float)
        den: dict[str, float] = defaultdict(float)
        for cur, m, c, s, n in items:
            num[c] += s
            den[c] += n * level[cur] * month.get(m, 1.0)
        kind.update({k: num[k] / den[k] for k in num if den[k] > 0})

    # The same ratio estimators as ``ratio`` above, written out: the loop runs often.
    for _ in range(_MAX_ROUNDS):
        before = (dict(level), dict(month), dict(kind))
        update_level()
        if month:
            update_month()
            mean_m = sum(month.values()) / len(month)
            if mean_m > 0:
                month = {m: f / mean_m for m, f in month.items()}
        update_kind()
        weekdays = [f for c, f in kind.items() if c.startswith("wd")]
        mean_w = sum(weekdays) / len(weekdays) if weekdays else 0.0
        if mean_w > 0:
            kind = {c: f / mean_w for c, f in kind.items()}
        if all(abs(new[k] - old[k]) <= _TOLERANCE * abs(old[k]) for new, old in zip((level, month, kind), before)
               for k in old):
            break
    level.update(ratio(lambda cur, m, c: cur, lambda cur, m, c: m_of(m) * kind[c]))

    # Pooled factors for day types never seen (a holiday not yet reached this year).
    pooled = ratio(
        lambda cur, m, c: "holiday" if c.startswith("holiday:") else (
            "weekend" if c in ("wd5", "wd6") else ("workweek" if c.startswith("wd") else c)),
        lambda cur, m, c: level[cur] * m_of(m),
    )
    for name in ("holiday", "weekend", "workweek"):
        if name in pooled:
            kind.setdefault(name, pooled[name])
    kind.setdefault("holiday", kind.get("weekend", 1.0))
    return Profile(level=level[True], month=month, kind=kind)


# --------------------------------------------------------------------------- statistics


def _t_central(q: float, df: int) -> float:
    """``P(|T| <= q)`` for Student's t with whole ``df`` (Abramowitz & Stegun 26.7.3-4)."""
    theta = math.atan(q / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    if df % 2 == 1:
        total, term = 0.0, math.cos(theta)
        for k in range(1, (df - 1) // 2 + 1):
            total += term
            term *= c2 * (2 * k) / (2 * k + 1)
        return 2 / math.pi * (theta + math.sin(theta) * total)
    total, term = 0.0, 1.0
    for k in range(1, df // 2 + 1):
        total += term
        term *= c2 * (2 * k - 1) / (2 * k)
    return math.sin(theta) * total


def t_cdf(x: float, df: int) -> float:
    """``P(T <= x)`` for Student's t with ``df`` degrees of freedom (normal beyond 200)."""
    if df > 200:
        return NormalDist().cdf(x)
    half = _t_central(abs(x), df) / 2
    return 0.5 + half if x >= 0 else 0.5 - half


def t_quantile(level: float, df: int) -> float:
    """``q`` with ``P(|T| <= q) = level`` for Student's t with ``df`` degrees of freedom.

    Closed forms of the t distribution for whole ``df`` (Abramowitz & Stegun 26.7.3-4),
    inverted by bisection; the normal quantile beyond 200 degrees of freedom.
    """
    if df > 200:
        return NormalDist().inv_cdf(0.5 + level / 2)
    lo, hi = 0.0, 1.0
    while _t_central(hi, df) < level:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_central(mid, df) < level else (lo, mid)
    return (lo + hi) / 2
