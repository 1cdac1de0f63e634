"""The error of the open days: this year's monthly levels as a local-level model, a random
walk observed through the sampling noise of each month's days (docs/forecast.md section
2.3). Pure.

A month's *deviation* ``d_m`` is how far its days stray from the profile (a ratio: the
observed rate less the profile's; a volume: observed over profile, less 1). The model, for
the twelve monthly levels ``mu``:

    d_m = mu_m + e_m                    e_m ~ N(0, v / n_m)   (v: day variance, n_m days)
    mu  = c + walk(s2) + j x step + a x shape + g
          a ~ N(0, TAU^2),  g_m ~ N(0, v / n_prev_m),  j ~ N(0, (JUMP_SIZE x prior drift)^2)

``c`` is a diffuse starting level, ``walk(s2)`` a random walk with month-to-month variance
``s2``; ``step`` one step of the level at the start of some month (a reform, a new
contract: prior probability ``JUMP_P`` in the year, any month from February alike);
``shape`` is last year's month shape in deviation units (its amplitude may differ this
year by ``TAU``); ``g`` the sampling noise of last year's month factors. The drift ``s2``
and the step's month (or none) get a joint posterior over a grid (prior: no drift with
weight ``P_STILL``, else a log-normal around the prior drift, ``PRIOR_SPREAD`` wide)
times the likelihood of the months seen; the level of the open days is the posterior
mixture of the Gaussian forecasts (Kalman smoothing of the months seen, prediction of
those to come). The prior constants were fitted on the backtest's development years
(docs/forecast.md section 5). Few months seen: the prior dominates and the interval is
wide; the more months seen, the more the data decide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

#: Prior month-to-month drift (standard deviation of a random-walk step): a share by
#: ``PRIOR_SHARE`` of its binomial scale sqrt(p (1 - p)), a volume or an average of seconds
#: by ``PRIOR_RELATIVE`` of its level.
PRIOR_SHARE = 0.02
PRIOR_RELATIVE = 0.03
#: The prior drift of an indicator (by formula id) is its rule above times this factor
#: (1 for a formula not listed): fitted on the backtest's development years (the connection
#: rate and the answer time step and dip by more, relative to the rule, than the others).
DRIFT_SCALE: dict[str, float] = {"connection_rate": 1.5, "average_answer_seconds": 2.0}
#: Prior weight of "no drift at all", and the spread (sd of the natural log of the drift
#: variance) of the log-normal prior around the prior drift.
P_STILL = 0.3
PRIOR_SPREAD = 1.5
#: The amplitude of last year's month shape may differ this year by this share (sd).
TAU = 0.15
#: Prior probability of one step in the year's level (a reform, a new contract, a change
#: of staffing), equally likely at the start of any month from February to December, and
#: its size (sd) in units of the prior drift.
JUMP_P = 0.15
JUMP_SIZE = 3.0
#: A month counts as seen with at least this many days of data.
MIN_MONTH_DAYS = 7
#: The grid of the drift variance, in units of the prior drift variance (0: no drift).
_GRID = np.concatenate(([0.0], np.exp(np.linspace(math.log(1 / 64), math.log(64), 25))))
_STEPS = np.minimum.outer(np.arange(12.0), np.arange(12.0))
#: Last year's walk around its own mean: the error it leaves in last year's month shape.
_CENTRE = np.eye(12) - 1 / 12
_LAST_YEAR = _CENTRE @ _STEPS @ _CENTRE
_N = NormalDist()
_SQRT2 = math.sqrt(2)
_SQRT2PI = math.sqrt(2 * math.pi)


#: A step at the start of month j (1..11) moves the levels of months j..11 (row 0: none).
_JUMPS = np.vstack((np.zeros(12), (np.arange(12)[None, :] >= np.arange(1, 12)[:, None]).astype(float)))
_JUMP_COV = np.einsum("jm,jn->jmn", _JUMPS, _JUMPS)


def prior_weights() -> np.ndarray:
    """The prior over (drift variance, step month): a (26 x 12) array summing to 1."""
    logs = np.log(_GRID[1:])
    w = np.exp(-0.5 * (logs / PRIOR_SPREAD) ** 2)
    drift = np.concatenate(([P_STILL], (1 - P_STILL) * w / w.sum()))
    step = np.concatenate(([1 - JUMP_P], np.full(11, JUMP_P / 11)))
    return np.outer(drift, step)


@dataclass(frozen=True)
class OpenDaysError:
    """The open days' level (a ratio: the rate's departure from the profile; a volume: the
    relative departure) as a mixture of normals: ``weights``, ``means``, ``sds``."""

    weights: tuple[float, ...]
    means: tuple[float, ...]
    sds: tuple[float, ...]
    #: Months seen for a week or more (fewer than two: the drift rests on the prior).
    months_seen: int

    def below(self, x: float) -> float:
        """P(the open days' level < ``x``)."""
        total = 0.0
        for w, m, s in zip(self.weights, self.means, self.sds):
            total += w * (0.5 * (1 + math.erf((x - m) / (s * _SQRT2))) if s > 0 else float(x > m))
        return total

    def _density(self, x: float) -> float:
        return sum(w * math.exp(-0.5 * ((x - m) / s) ** 2) / (s * _SQRT2PI)
                   for w, m, s in zip(self.weights, self.means, self.sds) if s > 0)

    def quantile(self, p: float) -> float:
        """The ``p`` quantile: Newton's method inside a shrinking bracket."""
        lo = min(m - 12 * s for m, s in zip(self.means, self.sds)) - 1e-12
        hi = max(m + 12 * s for m, s in zip(self.means, self.sds)) + 1e-12
        mean = sum(w * m for w, m in zip(self.weights, self.means))
        sd = math.sqrt(sum(w * (s * s + (m - mean) ** 2) for w, m, s in zip(self.weights, self.means, self.sds)))
        x = mean + _N.inv_cdf(p) * sd
        tol = 1e-10 * max(sd, 1e-300)
        for _ in range(100):
            f = self.below(x) - p
            if f < 0:
                lo = max(lo, x)
            else:
                hi = min(hi, x)
            dens = self._density(x)
            step = f / dens if dens > 0 else math.inf
            nxt = x - step
            if not lo < nxt < hi:
                nxt = (lo + hi) / 2
            if abs(nxt - x) <= tol or hi - lo <= tol:
                return nxt
            x = nxt
        return x

    def median(self) -> float:
        return self.quantile(0.5)

    def scaled(self, factor: float) -> OpenDaysError:
        """The mixture stretched by ``factor`` about its median (each component's mean moved
        ``factor`` times as far from it, each sd times ``factor``): every quantile moves
        ``factor`` times as far from the median, which stays; ``below`` changes the same
        way (the interval's calibration, :mod:`.calibration`)."""
        if factor == 1.0:
            return self
        if not factor > 0 or not math.isfinite(factor):
            raise ValueError(f"spread factor {factor!r} must be a positive number")
        mid = self.median()
        return OpenDaysError(self.weights, tuple(mid + factor * (m - mid) for m in self.means),
                             tuple(factor * s for s in self.sds), self.months_seen)

    def bounds(self, level: float) -> tuple[float, float]:
        return self.quantile((1 - level) / 2), self.quantile((1 + level) / 2)


def _month_sums(values: np.ndarray, month: np.ndarray) -> np.ndarray:
    return np.bincount(month, weights=values, minlength=12)


def open_days_error(
    num: np.ndarray, den: np.ndarray | None, fit_num: np.ndarray, fit_den: np.ndarray | None,
    seen: np.ndarray, open_: np.ndarray, month: np.ndarray, shape: np.ndarray, prev_days: np.ndarray,
    prior_sd: float, has_shape: bool = False,
) -> OpenDaysError:
    """The open days' level under the model of the module docstring.

    ``num``/``den``: the days' sums (``den`` None for a volume), ``fit_*`` the profile's;
    ``seen``/``open_`` masks of the days with data and of the days to forecast; ``month``
    each day's month (0..11); ``shape`` last year's month shape in deviation units (zeros
    without a previous year); ``prev_days`` the days of data of each month last year;
    ``has_shape``: the month shape comes from last year, whose levels drifted too (its
    walk around its own mean stays in the shape).
    """
    is_ratio = den is not None
    ms = np.flatnonzero(seen)
    mo = month[ms]
    if is_ratio:
        ok = den[ms] > 0
        daily = np.where(ok, num[ms] / np.where(ok, den[ms], 1) - fit_num[ms] / fit_den[ms], np.nan)
        s_n, s_d = _month_sums(num[ms], mo), _month_sums(den[ms], mo)
        f_n, f_d = _month_sums(fit_num[ms], mo), _month_sums(fit_den[ms], mo)
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = s_n / s_d - f_n / f_d
        weights_open = _month_sums(fit_den[open_], month[open_])
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            daily = num[ms] / fit_num[ms] - 1
            dev = _month_sums(num[ms], mo) / _month_sums(fit_num[ms], mo) - 1
        weights_open = _month_sums(fit_num[open_], month[open_])
    good = np.isfinite(daily)
    n_m = np.bincount(mo[good], minlength=12).astype(float)
    sum_m = _month_sums(daily[good], mo[good])
    mean_m = np.divide(sum_m, n_m, out=np.zeros(12), where=n_m > 0)
    resid = daily[good] - mean_m[mo[good]]
    # Robust (median absolute deviation): an outage day does not make every month noisy.
    dof = float(np.sum(np.maximum(n_m - 1, 0)))
    if dof > 0:
        v = (1.4826 * float(np.median(np.abs(resid)))) ** 2 * resid.size / dof
    else:
        v = prior_sd ** 2
    v = max(v, 1e-6 * prior_sd ** 2)

    use = np.flatnonzero((n_m >= MIN_MONTH_DAYS) & np.isfinite(dev))
    n_open = int(open_.sum())
    if n_open == 0 or weights_open.sum() <= 0 or use.size == 0:
        return OpenDaysError((1.0,), (0.0,), (0.0,), len(use))
    w = weights_open / weights_open.sum()
    d = dev[use]
    h = v / n_m[use]
    g = np.divide(v, prev_days, out=np.zeros(12), where=prev_days > 0)
    p2 = prior_sd ** 2
    kappa = 1e4 * max(p2, v, float(d @ d) / d.size)
    base = kappa + TAU ** 2 * np.outer(shape, shape) + np.diag(g)
    walk = _STEPS + (_LAST_YEAR if has_shape else 0.0)
    sigmas = (base[None, None] + (_GRID * p2)[:, None, None, None] * walk[None, None]
              + (JUMP_SIZE ** 2 * p2) * _JUMP_COV[None]).reshape(-1, 12, 12)    # (k, 12, 12)
    s_ss = sigmas[:, use][:, :, use] + np.diag(h)[None]
    chol = np.linalg.cholesky(s_ss)
    alpha = np.linalg.solve(s_ss, d[None, :, None])[..., 0]                     # (k, S)
    logdet = 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    loglik = -0.5 * (logdet + np.einsum("ks,ks->k", alpha, np.broadcast_to(d, alpha.shape)))
    post = prior_weights().ravel() * np.exp(loglik - loglik.max())
    post /= post.sum()
    cross = sigmas[:, :, use]                                                   # (k, 12, S)
    wc = np.einsum("m,kms->ks", w, cross)                                       # (k, S)
    means = np.einsum("ks,ks->k", wc, alpha)
    var = np.einsum("m,kmn,n->k", w, sigmas, w) - np.einsum(
        "ks,ks->k", wc, np.linalg.solve(s_ss, wc[..., None])[..., 0])
    # The days' own noise around their month's level, over the open days.
    var = np.maximum(var, 0.0) + v / n_open
    keep = post > 1e-5
    return OpenDaysError(tuple(map(float, post[keep] / post[keep].sum())), tuple(map(float, means[keep])),
                         tuple(map(float, np.sqrt(var[keep]))),
                         int(use.size))
