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

import numpy as np
from scipy.optimize import minimize_scalar
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
    use = weights > 0
    obs = observed[use].astype(float)
    total = obs.sum()
    dof = int(use.sum()) - 1 - fitted
    if total == 0 or dof < 1:
        return 1.0
    probs = weights[use] / weights[use].sum()
    expected = total * probs
    stat = float(((obs - expected) ** 2 / expected).sum())
    if expected.min() >= MIN_EXPECTED:
        return float(chi2.sf(stat, df=dof))
    sim = _null_statistics(int(total), tuple(probs.tolist()), seed)
    # The relative tolerance keeps draws that equal the observed X² from being lost to rounding.
    exceed = MC_DRAWS - int(np.searchsorted(sim, stat * (1 - 1e-9), side="left"))
    return (1 + exceed) / (MC_DRAWS + 1)


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
    seen = np.isfinite(y)
    counts = y[seen]
    total = counts.sum()
    if total == 0:
        return 1.0
    t = np.flatnonzero(seen) / 12.0
    t = t - t.mean()
    slope = minimize_scalar(
        lambda b: total * logsumexp(b * t) - b * (counts * t).sum(),
        bounds=(-5.0, 5.0),  # ±5 per year in log rate: a 150-fold yearly change
        method="bounded",
    ).x
    rate = np.exp(slope * t - (slope * t).max())
    moy = month_of_year[seen]
    observed = np.bincount(moy, weights=counts, minlength=12)
    weights = np.bincount(moy, weights=rate, minlength=12)
    return profile_p(observed, weights, seed=seed, fitted=1)
