"""The profile ``level(year) x month factor x day-type factor`` fitted to daily sums
(docs/forecast.md section 2.1), on arrays of a year's days. Pure."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hotline_kpi.forecast.calendar import fallback_chain
from hotline_kpi.forecast.series import YearCalendar

#: Backfitting stops when no factor moves by more than this (relative), or after so many rounds.
_TOLERANCE = 1e-10
_MAX_ROUNDS = 100


@dataclass(frozen=True, eq=False)
class Profile:
    """The fitted value of every day of the current year and the month factors (1.0 for a
    month the previous year does not show; all 1.0 without a previous year)."""

    day: np.ndarray
    month: np.ndarray


def _pooled_name(c: str) -> str:
    if c.startswith("holiday:"):
        return "holiday"
    if c in ("wd5", "wd6"):
        return "weekend"
    return "workweek" if c.startswith("wd") else c


def fit_profile(cur: np.ndarray, prev: np.ndarray, cal: YearCalendar, cal_prev: YearCalendar) -> Profile:
    """Fit the profile by backfitting on grouped sums (ratio estimators per factor).

    ``cur``, ``prev``: a side's daily sums of this year and the previous one, NaN where a
    day has no data. Each factor is ``sum(y) / sum(fitted without it)`` over its days, so
    a month with a holiday is not mistaken for a slow month. Levels are per year; the
    day-type factors are fitted on both years; the month factors on the previous year only
    (this year's months seen so far would otherwise pull them towards themselves, and
    their departure from last year's shape is what the interval measures). Without a
    previous year the month profile is flat.
    """
    names = sorted(set(cal.types) | set(cal_prev.types))
    index = {t: i for i, t in enumerate(names)}
    k_n = len(names)
    remap = [np.array([index[t] for t in c.types], dtype=np.intp) for c in (cal_prev, cal)]
    sums = np.zeros((2, 12, k_n))
    counts = np.zeros((2, 12, k_n))
    for yr, (vals, c) in enumerate(((prev, cal_prev), (cur, cal))):
        ok = ~np.isnan(vals)
        g = c.month[ok] * k_n + remap[yr][c.kind[ok]]
        sums[yr] = np.bincount(g, weights=vals[ok], minlength=12 * k_n).reshape(12, k_n)
        counts[yr] = np.bincount(g, minlength=12 * k_n).reshape(12, k_n)
    level = np.ones(2)
    month = np.ones(12)
    kind = np.ones(k_n)
    has_month = counts[0].sum(axis=1) > 0
    has_kind = counts.sum(axis=(0, 1)) > 0
    weekday = np.array([n.startswith("wd") for n in names]) & has_kind
    s_year, s_month, s_kind = sums.sum(axis=(1, 2)), sums[0].sum(axis=1), sums.sum(axis=(0, 1))

    def levels() -> np.ndarray:
        den = (counts * month[None, :, None] * kind[None, None, :]).sum(axis=(1, 2))
        return np.where(den > 0, s_year / np.where(den > 0, den, 1), level)

    for _ in range(_MAX_ROUNDS):
        before = np.concatenate((level, month, kind))
        level = levels()
        if has_month.any():
            den = (counts[0] * level[0] * kind[None, :]).sum(axis=1)
            month = np.where(has_month & (den > 0), s_month / np.where(den > 0, den, 1), month)
            mean_m = month[has_month].mean()
            if mean_m > 0:
                month = np.where(has_month, month / mean_m, 1.0)
        den = (counts * level[:, None, None] * month[None, :, None]).sum(axis=(0, 1))
        kind = np.where(has_kind & (den > 0), s_kind / np.where(den > 0, den, 1), kind)
        if weekday.any() and (mean_w := kind[weekday].mean()) > 0:
            kind = kind / mean_w
        after = np.concatenate((level, month, kind))
        if np.all(np.abs(after - before) <= _TOLERANCE * np.abs(before)):
            break
    level = levels()

    # Pooled factors for day types never seen (a holiday not yet reached this year).
    factor = {n: kind[i] for i, n in enumerate(names) if has_kind[i]}
    exp = (counts * level[:, None, None] * month[None, :, None]).sum(axis=(0, 1))
    pooled: dict[str, list[float]] = {}
    for i, n in enumerate(names):
        if has_kind[i]:
            p = pooled.setdefault(_pooled_name(n), [0.0, 0.0])
            p[0] += s_kind[i]
            p[1] += exp[i]
    for name in ("holiday", "weekend", "workweek"):
        if name in pooled and pooled[name][1] > 0:
            factor.setdefault(name, pooled[name][0] / pooled[name][1])
    factor.setdefault("holiday", factor.get("weekend", 1.0))
    per_type = np.ones(len(cal.types))
    for i, t in enumerate(cal.types):
        per_type[i] = next((factor[c] for c in fallback_chain(t) if c in factor), 1.0)
    return Profile(day=level[1] * month[cal.month] * per_type[cal.kind], month=month)
