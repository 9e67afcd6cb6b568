"""Classical additive decomposition of a regular series into trend, seasonal and residual."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hotspots.schema import InputError


def decompose(series: pd.Series, *, period: int = 12) -> pd.DataFrame:
    """Split a regular series (e.g. one row of :func:`monthly_series`) into components.

    Classical additive decomposition (as in R's ``decompose``): the trend is the centred
    moving average over one period (a 2×12 average for even periods, so each calendar
    month has equal weight), ``NaN`` for the first and last half period; the seasonal
    component is the mean detrended value at each position in the cycle, centred to sum
    to zero; the residual is what is left. Missing values (``NaN`` months) make the trend
    ``NaN`` wherever they fall inside the window and are skipped in the seasonal means.
    STL (statsmodels) is not used so that the result is the same with or without that
    optional package.

    Parameters
    ----------
    series : Series
        Values at regular steps, oldest first; at least two full periods.
    period : int
        Steps per cycle (12 for monthly data).

    Returns
    -------
    DataFrame
        Index of ``series``; columns ``observed``, ``trend``, ``seasonal``, ``residual``.

    Examples
    --------
    >>> t = np.arange(36)
    >>> s = pd.Series(10 + 0.5 * t + np.tile([3, -3], 18))
    >>> out = decompose(s, period=2)
    >>> out["seasonal"].iloc[:4].tolist(), out["trend"].iloc[1:3].tolist()
    ([3.0, -3.0, 3.0, -3.0], [10.5, 11.0])
    >>> bool(np.allclose(out["residual"].iloc[1:-1], 0))
    True
    """
    if not isinstance(series, pd.Series):
        raise InputError(f"series must be a pandas Series, got {type(series).__name__}")
    if isinstance(period, bool) or not isinstance(period, int | np.integer) or period < 2:
        raise InputError(f"period must be a whole number ≥ 2, got {period!r}")
    y = series.to_numpy(dtype=float)
    if len(y) < 2 * period:
        raise InputError(
            f"series has {len(y)} values; decomposition needs at least two periods ({2 * period})"
        )
    if period % 2:
        weights = np.full(period, 1.0 / period)
    else:
        weights = np.r_[0.5, np.ones(period - 1), 0.5] / period
    half = len(weights) // 2
    trend = np.full(len(y), np.nan)
    trend[half : len(y) - half] = np.convolve(y, weights, mode="valid")
    detrended = y - trend
    position = np.arange(len(y)) % period
    with np.errstate(invalid="ignore"):
        sums = np.bincount(position, weights=np.nan_to_num(detrended), minlength=period)
        n = np.bincount(position, weights=np.isfinite(detrended), minlength=period)
        index = np.where(n > 0, sums / n, np.nan)
    index -= np.nanmean(index)
    seasonal = index[position]
    return pd.DataFrame(
        {"observed": y, "trend": trend, "seasonal": seasonal, "residual": y - trend - seasonal},
        index=series.index,
    )
