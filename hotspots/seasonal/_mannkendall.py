"""Mann–Kendall and seasonal Mann–Kendall tests with Sen's slopes, for many series at once.

Each row of a ``(groups, months)`` array is one series; ``NaN`` is a missing month. The
results are those of ``pymannkendall.original_test`` and ``pymannkendall.seasonal_test``
(period 12) row by row — the same statistics to the last bit, since every number is formed
by the same floating-point operations in the same order — but computed in a few array
passes over all rows instead of a Python loop per row (and per pair of months inside
pymannkendall).

- S: the sum of sign(x_j − x_i) over pairs of observed months i < j (exact integers);
- Var(S): (n(n−1)(2n+5) − Σ t(t−1)(2t+5)) / 18 over the groups of t tied values;
- z: (S − 1)/√Var(S) for S > 0, (S + 1)/√Var(S) for S < 0, 0 for S = 0;
- p: 2·(1 − Φ(|z|)) (two-sided);
- Sen's slope: the median of (x_j − x_i)/(j − i) over all pairs of positions with both
  months observed (per month; ×12 for a yearly figure is left to the caller). The seasonal
  test sums S and Var(S) over the twelve calendar months (Var(S) added in month order) and
  its slope is the median of the same-month year-on-year changes, per year.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

#: Pairwise differences are formed for at most this many values at a time (memory bound).
_CHUNK_VALUES = 4_000_000


@dataclass(frozen=True, kw_only=True)
class MannKendall:
    """Per-row results: ``s``, ``var_s``, ``z``, ``p`` and Sen's ``slope`` (NaN if none)."""

    s: np.ndarray
    var_s: np.ndarray
    z: np.ndarray
    p: np.ndarray
    slope: np.ndarray


def mann_kendall(x: np.ndarray) -> MannKendall:
    """The Mann–Kendall test of every row of ``x`` (as ``pymannkendall.original_test``).

    Examples
    --------
    >>> res = mann_kendall(np.array([[1.0, 2, np.nan, 4, 3, 6], [5.0, 5, 5, 5, 5, 5]]))
    >>> res.s.tolist(), res.slope.tolist(), res.p.round(6).tolist()
    ([8.0, 0.0], [1.0, 0.0], [0.086411, 1.0])
    """
    x = _as_rows(x)
    s, slope = _score_and_slope(x[:, None, :])
    s = s[:, 0]
    var_s = _variance(x)
    z, p = _z_and_p(s, var_s)
    return MannKendall(s=s, var_s=var_s, z=z, p=p, slope=slope)


def seasonal_mann_kendall(x: np.ndarray, period: int = 12) -> MannKendall:
    """The seasonal Mann–Kendall test of every row (as ``pymannkendall.seasonal_test``).

    Position ``k`` of a row is season ``k % period``; a row is padded with ``NaN`` to whole
    cycles. The slope is per cycle (per year for monthly data with ``period=12``).

    Examples
    --------
    >>> y = np.arange(36.0)[None, :] + np.tile([0.0, 5, 0], 12)[None, :]
    >>> res = seasonal_mann_kendall(y)
    >>> float(res.s[0]), float(res.slope[0])
    (36.0, 12.0)
    """
    x = _as_rows(x)
    groups, n = x.shape
    if n % period:
        x = np.pad(x, ((0, 0), (0, period - n % period)), constant_values=np.nan)
    cycles = x.reshape(groups, -1, period).transpose(0, 2, 1)  # (groups, season, cycle)
    s_season, slope = _score_and_slope(cycles)
    s = np.zeros(groups)
    var_s = np.zeros(groups)
    for season in range(period):  # pymannkendall adds the seasons in this order
        s = s + s_season[:, season]
        var_s = var_s + _variance(np.ascontiguousarray(cycles[:, season, :]))
    z, p = _z_and_p(s, var_s)
    return MannKendall(s=s, var_s=var_s, z=z, p=p, slope=slope)


def _as_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"expected a (groups, months) array, got shape {x.shape}")
    return x


def _score_and_slope(series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """S per (row, sub-series) and Sen's slope per row over all its sub-series' pairs.

    ``series`` is ``(rows, k, n)``: k sub-series of length n per row (k = 1, or the seasons).
    """
    rows, k, n = series.shape
    i, j = np.triu_indices(n, 1)
    gap = (j - i).astype(float)
    s = np.zeros((rows, k))
    slope = np.full(rows, np.nan)
    step = max(1, _CHUNK_VALUES // max(1, k * len(i)))
    for lo in range(0, rows, step):
        part = series[lo : lo + step]
        d = part[:, :, j] - part[:, :, i]  # (rows, k, pairs); NaN if either is missing
        sign = np.sign(d)
        s[lo : lo + step] = np.where(np.isnan(sign), 0.0, sign).sum(axis=2)
        d /= gap
        slope[lo : lo + step] = _nanmedian_rows(d.reshape(len(part), -1))
    return s, slope


def _nanmedian_rows(d: np.ndarray) -> np.ndarray:
    """``np.nanmedian`` of each row: the mean of the middle order statistics of its values."""
    out = np.full(len(d), np.nan)
    if d.shape[1] == 0:
        return out
    valid = (~np.isnan(d)).sum(axis=1)
    ordered = np.sort(d, axis=1)  # NaN last
    some = valid > 0
    rows = np.flatnonzero(some)
    lo = ordered[rows, (valid[some] - 1) // 2]
    hi = ordered[rows, valid[some] // 2]
    out[some] = (lo + hi) / 2  # np.median: mean of the one or two middle values
    return out


def _variance(x: np.ndarray) -> np.ndarray:
    """Var(S) of each row of ``x`` (missing values skipped), with the tie correction."""
    ordered = np.sort(x, axis=1)
    valid = ~np.isnan(ordered)
    n = valid.sum(axis=1).astype(float)
    # Runs of equal values in each sorted row: t(t-1)(2t+5) summed over the runs.
    starts = valid.copy()
    starts[:, 1:] &= ordered[:, 1:] != ordered[:, :-1]
    run = np.cumsum(starts.ravel()) - 1
    flat_valid = valid.ravel()
    t = np.bincount(run[flat_valid], minlength=int(starts.sum())).astype(float)
    run_row = np.repeat(np.arange(len(x)), starts.sum(axis=1))
    ties = np.bincount(run_row, weights=t * (t - 1) * (2 * t + 5), minlength=len(x))
    return (n * (n - 1) * (2 * n + 5) - ties) / 18


def _z_and_p(s: np.ndarray, var_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.sqrt(var_s)
        z = np.where(s > 0, (s - 1) / root, np.where(s < 0, (s + 1) / root, 0.0))
    p = 2 * (1 - norm.cdf(np.abs(z)))
    return z, p
