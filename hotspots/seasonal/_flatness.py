"""Tests of month-of-year counts against a profile without seasonality.

Two null hypotheses share one goodness-of-fit machinery:

- "flat": the same rate every month, so a calendar month's expected count is
  proportional to its exposure (how many times it is covered by data);
- "trend only": a smooth log-linear trend and no seasonality (used to decide whether the
  seasonal Mann–Kendall test is needed; a trend alone also makes later calendar months
  busier, which the flat test would call seasonal).
"""

from __future__ import annotations

from functools import lru_cache
from math import sqrt

import numpy as np
from scipy.special import logsumexp
from scipy.stats import chi2

#: Expected count per month at or above which the chi-square approximation is used.
MIN_EXPECTED = 5.0
#: Monte-Carlo draws for the multinomial test when some expected count is below MIN_EXPECTED.
MC_DRAWS = 9999


def profile_p(observed: np.ndarray, weights: np.ndarray, *, seed: int, fitted: int = 0) -> float:
    """p-value of month-of-year counts against expected counts proportional to ``weights``.

    Pearson's X² over the months with positive weight is referred to chi-square with
    k − 1 − ``fitted`` degrees of freedom when every expected count is ≥ 5; otherwise to
    9,999 multinomial draws under H0 from ``numpy.random.default_rng(seed)``
    (p = (1 + #draws with X² ≥ observed) / 10,000). No incidents, or too few months for
    one degree of freedom, give p = 1.

    Examples
    --------
    >>> profile_p(np.array([10] * 12), np.ones(12), seed=0)
    1.0
    >>> round(profile_p(np.array([5] * 6 + [15] * 6), np.ones(12), seed=0), 6)
    0.001585
    """
    return float(profile_p_many(observed[None, :], weights, seed=seed, fitted=fitted)[0])


def profile_p_many(
    observed: np.ndarray, weights: np.ndarray, *, seed: int, fitted: int = 0
) -> np.ndarray:
    """:func:`profile_p` of every row of ``observed`` (groups × months) in one array pass.

    ``weights`` is one row for all groups or one row per group. The chi-square rows are
    computed together (row sums over the same months, so each p-value is the one
    :func:`profile_p` gives for that row alone); only rows that need the Monte-Carlo test
    are handled one by one, and those with the same total and probabilities share one set
    of draws.

    Examples
    --------
    >>> profile_p_many(np.array([[10] * 12, [5] * 6 + [15] * 6]), np.ones(12), seed=0).round(6)
    array([1.      , 0.001585])
    """
    observed = np.asarray(observed)
    weights = np.broadcast_to(np.asarray(weights, dtype=float), observed.shape)
    out = np.ones(len(observed))
    use = weights > 0
    patterns, which = np.unique(use, axis=0, return_inverse=True)
    for k, pattern in enumerate(patterns):  # one pattern unless weights differ in their zeros
        rows = np.flatnonzero(which.ravel() == k)
        dof = int(pattern.sum()) - 1 - fitted
        if dof < 1:
            continue
        # C order: numpy then sums each row pairwise, as it sums one row alone.
        obs = np.ascontiguousarray(observed[np.ix_(rows, pattern)], dtype=float)
        w = np.ascontiguousarray(weights[np.ix_(rows, pattern)])
        total = obs.sum(axis=1)
        probs = w / w.sum(axis=1, keepdims=True)
        expected = total[:, None] * probs
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = ((obs - expected) ** 2 / expected).sum(axis=1)
        some = total != 0
        exact = some & (expected.min(axis=1) >= MIN_EXPECTED)
        out[rows[exact]] = chi2.sf(stat[exact], df=dof)
        for i in np.flatnonzero(some & ~exact):
            sim = _null_statistics(int(total[i]), tuple(probs[i].tolist()), seed)
            # The relative tolerance keeps draws that equal the observed X² from being lost
            # to rounding.
            exceed = MC_DRAWS - int(np.searchsorted(sim, stat[i] * (1 - 1e-9), side="left"))
            out[rows[i]] = (1 + exceed) / (MC_DRAWS + 1)
    return out


@lru_cache(maxsize=128)
def _null_statistics(total: int, probs: tuple[float, ...], seed: int) -> np.ndarray:
    """Sorted X² of MC_DRAWS multinomial draws under H0.

    Cached because it depends only on the total, the probabilities and the seed: groups
    with the same total share it, and each group's p-value is the same as if drawn alone.
    """
    p = np.asarray(probs)
    expected = total * p
    draws = np.random.default_rng(seed).multinomial(total, p, size=MC_DRAWS)
    return np.sort(((draws - expected) ** 2 / expected).sum(axis=1))


def trend_adjusted_seasonal_p(y: np.ndarray, month_of_year: np.ndarray, *, seed: int) -> float:
    """p-value of "no seasonality beyond a log-linear trend" for a monthly series.

    The trend rate exp(a + b·t) is fitted by Poisson maximum likelihood (``a`` profiled
    out, so ``b`` maximises b·Σ y_t t − N·log Σ exp(b t) over observed months); each
    calendar month's expected count is then N × its share of Σ exp(b̂ t), and
    :func:`profile_p` tests the month-of-year totals with one more fitted parameter.
    Its Monte-Carlo branch keeps b̂ fixed, which makes the p-value conservative.

    Examples
    --------
    >>> t = np.arange(36)
    >>> rising = np.round(20 * np.exp(0.03 * t))
    >>> trend_adjusted_seasonal_p(rising, t % 12, seed=0) > 0.5
    True
    """
    return float(trend_adjusted_seasonal_p_many(y[None, :], month_of_year, seed=seed)[0])


def trend_adjusted_seasonal_p_many(
    y: np.ndarray, month_of_year: np.ndarray, *, seed: int
) -> np.ndarray:
    """:func:`trend_adjusted_seasonal_p` of every row of ``y`` (groups × months).

    The trend of every row is fitted in one vectorised run of the bounded Brent method of
    ``scipy.optimize.minimize_scalar`` (the same steps, row by row, as one call per row);
    the month-of-year tests then go through :func:`profile_p_many`.

    Examples
    --------
    >>> t = np.arange(36)
    >>> y = np.vstack([np.round(20 * np.exp(0.03 * t)), 10 + 30 * (t % 12 == 6)])
    >>> (trend_adjusted_seasonal_p_many(y, t % 12, seed=0) > 0.05).tolist()
    [True, False]
    """
    y = np.asarray(y, dtype=float)
    out = np.ones(len(y))
    seen_rows = np.isfinite(y)
    patterns, which = np.unique(seen_rows, axis=0, return_inverse=True)
    for k, seen in enumerate(patterns):  # one pattern when the gaps are those of the load
        rows = np.flatnonzero(which.ravel() == k)
        counts = np.ascontiguousarray(y[np.ix_(rows, seen)])  # rows summed pairwise
        total = counts.sum(axis=1)
        rows, counts, total = rows[total != 0], counts[total != 0], total[total != 0]
        if len(rows) == 0:
            continue
        t = np.flatnonzero(seen) / 12.0
        t = t - t.mean()
        slope = _fit_trends(total, (counts * t).sum(axis=1), t)
        bt = slope[:, None] * t
        rate = np.exp(bt - bt.max(axis=1, keepdims=True))
        moy = month_of_year[seen]
        observed = np.zeros((len(rows), 12))
        weights = np.zeros((len(rows), 12))
        for i, m in enumerate(moy):  # in month order, as np.bincount adds its weights
            observed[:, m] += counts[:, i]
            weights[:, m] += rate[:, i]
        out[rows] = profile_p_many(observed, weights, seed=seed, fitted=1)
    return out


def _fit_trends(total: np.ndarray, moment: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per row, the b in [-5, 5] minimising total·logsumexp(b·t) − b·moment.

    ``scipy.optimize._optimize._minimize_scalar_bounded`` (xatol 1e-5, at most 500
    evaluations) run on all rows in lockstep: each row follows its own golden-section or
    parabolic steps and stops when its own interval is small enough, so its result is the
    one a call for that row alone returns (±5 per year in log rate: a 150-fold yearly change).
    """

    def f(b: np.ndarray) -> np.ndarray:
        return total * logsumexp(b[:, None] * t, axis=1) - b * moment

    n = len(total)
    sqrt_eps = sqrt(2.2e-16)
    golden_mean = 0.5 * (3.0 - sqrt(5.0))
    xatol, maxfun = 1e-5, 500
    a, b = np.full(n, -5.0), np.full(n, 5.0)
    fulc = a + golden_mean * (b - a)
    nfc, xf = fulc.copy(), fulc.copy()
    rat, e = np.zeros(n), np.zeros(n)
    fx = f(xf)
    num = 1
    ffulc, fnfc = fx.copy(), fx.copy()
    xm = 0.5 * (a + b)
    tol1 = sqrt_eps * np.abs(xf) + xatol / 3.0
    tol2 = 2.0 * tol1
    live = np.ones(n, dtype=bool)
    while True:
        live &= np.abs(xf - xm) > (tol2 - 0.5 * (b - a))
        if not live.any():
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            parabolic = np.abs(e) > tol1
            r = (xf - nfc) * (fx - ffulc)
            q = (xf - fulc) * (fx - fnfc)
            p = (xf - fulc) * q - (xf - nfc) * r
            q = 2.0 * (q - r)
            p = np.where(q > 0.0, -p, p)
            q = np.abs(q)
            r = e
            accept = (
                parabolic
                & (np.abs(p) < np.abs(0.5 * q * r))
                & (p > q * (a - xf))
                & (p < q * (b - xf))
            )
            rat_p = (p + 0.0) / q
            x_p = xf + rat_p
            si = np.sign(xm - xf) + ((xm - xf) == 0)
            rat_p = np.where(((x_p - a) < tol2) | ((b - x_p) < tol2), tol1 * si, rat_p)
        e_g = np.where(xf >= xm, a - xf, b - xf)
        new_e = np.where(accept, rat, e_g)
        new_rat = np.where(accept, rat_p, golden_mean * e_g)
        si = np.sign(new_rat) + (new_rat == 0)
        x = xf + si * np.maximum(np.abs(new_rat), tol1)
        fu = f(x)
        num += 1
        better = fu <= fx
        second = ~better & ((fu <= fnfc) | (nfc == xf))
        third = ~better & ~second & ((fu <= ffulc) | (fulc == xf) | (fulc == nfc))
        new_a = np.where(better, np.where(x >= xf, xf, a), np.where(x < xf, x, a))
        new_b = np.where(better, np.where(x >= xf, b, xf), np.where(x < xf, b, x))
        new_fulc = np.where(better | second, nfc, np.where(third, x, fulc))
        new_ffulc = np.where(better | second, fnfc, np.where(third, fu, ffulc))
        new_nfc = np.where(better, xf, np.where(second, x, nfc))
        new_fnfc = np.where(better, fx, np.where(second, fu, fnfc))
        new_xf = np.where(better, x, xf)
        new_fx = np.where(better, fu, fx)
        keep = ~live
        a, b = np.where(keep, a, new_a), np.where(keep, b, new_b)
        fulc, ffulc = np.where(keep, fulc, new_fulc), np.where(keep, ffulc, new_ffulc)
        nfc, fnfc = np.where(keep, nfc, new_nfc), np.where(keep, fnfc, new_fnfc)
        xf, fx = np.where(keep, xf, new_xf), np.where(keep, fx, new_fx)
        e, rat = np.where(keep, e, new_e), np.where(keep, rat, new_rat)
        xm = 0.5 * (a + b)
        tol1 = sqrt_eps * np.abs(xf) + xatol / 3.0
        tol2 = 2.0 * tol1
        if num >= maxfun:
            break
    return xf
