"""Monotonic trend per group: Mann–Kendall or seasonal Mann–Kendall, Sen's slope, BH FDR."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control

from hotspots.schema import InputError

from ._flatness import trend_adjusted_seasonal_p_many
from ._mannkendall import mann_kendall, seasonal_mann_kendall
from ._months import attach_span, log, prepare

#: Fewer observed months than this: no test (trend "none", p NaN).
MIN_MONTHS = 6
#: The seasonal Mann–Kendall test needs at least two years of observed months.
MIN_MONTHS_SEASONAL = 24


def trend_tests(
    incidents: pd.DataFrame,
    *,
    by: str | Sequence[str],
    period: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    alpha: float = 0.05,
    seasonal_adjust: bool | Literal["auto"] = "auto",
    months_with_data: Iterable[pd.Timestamp] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Test each group's monthly counts for a monotonic trend, with FDR control across groups.

    The monthly series is that of :func:`monthly_series`: zero-filled, with months in
    which the whole dataset has no data treated as missing (``NaN``) and skipped.

    Test choice (``trend_test``):

    - fewer than 6 months with data: not tested (``"not_tested"``, trend ``"none"``,
      p ``NaN``);
    - ``seasonal_adjust="auto"``: the seasonal Mann–Kendall test (Hirsch, Slack & Smith
      1982; ``pymannkendall.seasonal_test``, period 12) when the group has ≥ 24 months with
      data and is significantly seasonal net of trend (``seasonal_p_detrended < alpha``:
      month-of-year totals against a fitted log-linear trend without seasonality — the
      plain flat test of :func:`seasonal_profiles` would call a strong trend seasonal,
      since later calendar months are then busier); otherwise the original Mann–Kendall
      test (``pymannkendall.original_test``);
    - ``True``: seasonal whenever there are ≥ 24 months; ``False``: never.

    Parameters
    ----------
    incidents : DataFrame
        Canonical incidents (``when`` plus the ``by`` columns).
    by : str or list of str
        Grouping column(s).
    period : (start, end), optional
        Inclusive months to cover; default the data's month span.
    alpha : float
        False discovery rate for ``trend`` (and the seasonality threshold of ``"auto"``).
    seasonal_adjust : {"auto", True, False}
        See above.
    months_with_data : iterable of dates, optional
        Months for which data exists; default months with any incident in ``incidents``
        (pass the full load's ``when`` column when ``incidents`` is a subset).
    seed : int
        Seed for the small-count seasonality test.

    Returns
    -------
    DataFrame
        One row per group, sorted by group: the ``by`` columns, ``months_used`` (months with
        data), ``seasonal_p_detrended`` (see above; ``NaN`` below 24 months), ``trend``
        (``"up"``/``"down"`` when the Benjamini–Hochberg adjusted p is below ``alpha``,
        else ``"none"``), ``trend_slope_per_year`` (change in incidents per month, per year:
        Sen's slope on the monthly series × 12, or for the seasonal test the seasonal Sen
        slope — median of same-month year-on-year changes),
        ``trend_p`` (raw p), ``trend_q`` (BH-adjusted across the tested groups) and
        ``trend_test`` (``"mann_kendall"``, ``"seasonal_mann_kendall"`` or
        ``"not_tested"``).

    Examples
    --------
    >>> months = pd.date_range("2023-01-01", periods=24, freq="MS")
    >>> inc = pd.DataFrame({"when": months.repeat(np.arange(1, 25)), "beat": "A"})
    >>> trend_tests(inc, by="beat")[["beat", "trend", "trend_slope_per_year", "trend_test"]]
      beat trend  trend_slope_per_year    trend_test
    0    A    up                  12.0  mann_kendall
    """
    if not (isinstance(alpha, float | int) and 0 < alpha < 1):
        raise InputError(f"alpha must be a number between 0 and 1, got {alpha!r}")
    if not (isinstance(seasonal_adjust, bool) or seasonal_adjust == "auto"):
        raise InputError(f"seasonal_adjust must be 'auto', True or False, got {seasonal_adjust!r}")
    prep = prepare(incidents, by, period, months_with_data)
    series = prep.counts()
    moy = prep.month_of_year()
    stats = _test_all(series, moy, alpha, seasonal_adjust, seed)
    table = prep.groups.copy()
    table["months_used"] = np.isfinite(series).sum(axis=1).astype(np.int64)
    p = stats["trend_p"].to_numpy(float)
    q = np.full(len(p), np.nan)
    tested = np.isfinite(p)
    if tested.any():
        q[tested] = false_discovery_control(p[tested], method="bh")
    z = stats["z"].to_numpy(float)
    table["seasonal_p_detrended"] = stats["seasonal_p"].to_numpy(float)
    table["trend"] = np.where(q < alpha, np.where(z > 0, "up", "down"), "none")
    table["trend_slope_per_year"] = stats["trend_slope_per_year"].to_numpy(float)
    table["trend_p"] = p
    table["trend_q"] = q
    table["trend_test"] = stats["trend_test"].to_numpy(object)
    log.info(
        "Trend tests: %d groups, %s",
        len(table),
        ", ".join(f"{n} {t}" for t, n in table["trend_test"].value_counts().sort_index().items()),
    )
    table.attrs["alpha"] = alpha
    table.attrs["seasonal_adjust"] = seasonal_adjust
    return attach_span(table, prep)


def _test_all(
    series: np.ndarray, moy: np.ndarray, alpha: float, seasonal_adjust: bool | str, seed: int
) -> pd.DataFrame:
    """Seasonal p, z, slope per year, p and test name of every monthly series (NaN gaps).

    One array pass per test over all the groups (see :mod:`._mannkendall`), with the
    results of ``pymannkendall.original_test`` / ``seasonal_test`` on each group's series.
    """
    n = np.isfinite(series).sum(axis=1)
    g = len(series)
    seasonal_p = np.full(g, np.nan)
    long = np.flatnonzero(n >= MIN_MONTHS_SEASONAL)
    if len(long):
        seasonal_p[long] = trend_adjusted_seasonal_p_many(series[long], moy, seed=seed)
    if seasonal_adjust == "auto":
        seasonal = (n >= MIN_MONTHS_SEASONAL) & (seasonal_p < alpha)
    else:
        seasonal = (n >= MIN_MONTHS_SEASONAL) & bool(seasonal_adjust)
    tested = n >= MIN_MONTHS
    z, slope, p = np.full(g, np.nan), np.full(g, np.nan), np.full(g, np.nan)
    test = np.where(tested, "mann_kendall", "not_tested").astype(object)
    plain = np.flatnonzero(tested & ~seasonal)
    if len(plain):
        res = mann_kendall(series[plain])
        z[plain], slope[plain], p[plain] = res.z, res.slope * 12, res.p
    # Positions, not dates, define the seasons: the series is complete month by month
    # (gaps are NaN), so position mod 12 is a fixed calendar month.
    by_season = np.flatnonzero(tested & seasonal)
    if len(by_season):
        res = seasonal_mann_kendall(series[by_season], period=12)
        z[by_season], slope[by_season], p[by_season] = res.z, res.slope, res.p
        test[by_season] = "seasonal_mann_kendall"
    return pd.DataFrame(
        {
            "seasonal_p": seasonal_p,
            "z": z,
            "trend_slope_per_year": slope,
            "trend_p": p,
            "trend_test": test,
        }
    )


def trending_up(
    incidents: pd.DataFrame,
    *,
    by: str | Sequence[str],
    alpha: float = 0.05,
    **kw: Any,
) -> pd.DataFrame:
    """Groups whose counts trend significantly upwards, steepest first.

    :func:`trending_up_rows` of :func:`trend_tests` (``kw`` is passed on): the rows with
    ``trend == "up"`` after Benjamini–Hochberg control at ``alpha``, sorted by
    ``trend_slope_per_year`` descending (ties by group).

    Examples
    --------
    >>> months = pd.date_range("2023-01-01", periods=24, freq="MS")
    >>> inc = pd.DataFrame({"when": months.repeat(np.arange(1, 25)).append(months),
    ...                     "beat": ["A"] * 300 + ["B"] * 24})
    >>> trending_up(inc, by="beat")["beat"].tolist()
    ['A']
    """
    return trending_up_rows(trend_tests(incidents, by=by, alpha=alpha, **kw))


def trending_up_rows(trends: pd.DataFrame) -> pd.DataFrame:
    """The rows of a :func:`trend_tests` table (or several stacked) trending up, steepest first.

    ``trend == "up"``, sorted by ``trend_slope_per_year`` descending; ties keep the table's
    order (a stable sort: :func:`trend_tests` rows are sorted by group), so the same table
    always gives the same rows in the same order. The index is reset.

    Examples
    --------
    >>> t = pd.DataFrame({"beat": ["A", "B", "C", "D"], "trend": ["up", "none", "up", "up"],
    ...                   "trend_slope_per_year": [2.0, 9.0, 5.0, 2.0]})
    >>> trending_up_rows(t)["beat"].tolist()
    ['C', 'A', 'D']
    """
    missing = {"trend", "trend_slope_per_year"} - set(trends.columns)
    if missing:
        raise InputError(
            f"trends lacks column(s) {sorted(missing)}: pass a table made by trend_tests"
        )
    up = trends[trends["trend"] == "up"]
    return up.sort_values("trend_slope_per_year", ascending=False, kind="stable").reset_index(
        drop=True
    )
