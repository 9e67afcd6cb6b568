"""Space-time pattern classes in the manner of ArcGIS Emerging Hot Spot Analysis."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from hotspots.schema import InputError

from ._mannkendall import mann_kendall
from ._months import log

#: Every class :func:`emerging_classes` can return.
CLASSES: tuple[str, ...] = (
    "new",
    "consecutive",
    "intensifying",
    "persistent",
    "diminishing",
    "sporadic",
    "historical",
    "no pattern",
)


def emerging_classes(
    cell_period_counts: np.ndarray | pd.DataFrame,
    *,
    hot: np.ndarray | pd.DataFrame | None = None,
    top_share: float = 0.1,
    persistent_share: float = 0.9,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Classify each cell (or hotspot) by its history of being hot across periods.

    The rules follow ArcGIS Emerging Hot Spot Analysis (hot spots only, so there is no
    "oscillating" class); ``n`` is the number of periods, "hot share" the fraction of
    periods in which the cell is hot, and the trend is the Mann–Kendall test
    (``pymannkendall.original_test``) of the cell's counts over the periods at ``alpha``
    (raw p, as ArcGIS), checked in this order:

    - ``"no pattern"``: never hot;
    - ``"intensifying"`` / ``"diminishing"`` / ``"persistent"``: hot share ≥
      ``persistent_share`` (0.9) and hot in the final period, with a significant upward /
      downward / no trend in counts;
    - ``"historical"``: hot share ≥ ``persistent_share`` but not hot in the final period;
    - ``"new"``: hot in the final period only;
    - ``"consecutive"``: one uninterrupted run of ≥ 2 hot periods ending at the final
      period and never hot before it;
    - ``"sporadic"``: hot on and off (everything else with at least one hot period). ArcGIS
      also requires the final period to be hot; like sfdep's implementation, a cell
      that was hot on and off but not in the final period is called sporadic here too,
      rather than "no pattern".

    Parameters
    ----------
    cell_period_counts : ndarray or DataFrame, shape (n_periods, n_cells)
        Counts per period (rows, oldest first) and cell (columns). A DataFrame's columns
        label the cells in the output.
    hot : bool ndarray or DataFrame of the same shape, optional
        Whether each cell is hot in each period (e.g. Gi* class ≥ 2 from
        :mod:`hotspots.gistar`). Default: the cells in the top ``top_share`` of cells by
        count in that period — count ≥ the k-th largest count with k = ⌈top_share ×
        n_cells⌉ (ties included) — and with a count above 0.
    top_share : float
        Share of cells hot per period when ``hot`` is not given (0.1).
    persistent_share : float
        Minimum hot share of the persistent/intensifying/diminishing/historical classes.
    alpha : float
        Significance level of the Mann–Kendall trend in counts.

    Returns
    -------
    DataFrame
        One row per cell, in column order: ``cell``, ``hot_periods``, ``hot_share``,
        ``final_hot``, ``trend_z``, ``trend_p``, ``trend_slope`` (Sen's slope, counts per
        period) and ``emerging_class``. The trend columns are filled only for the cells
        whose class they decide (hot share ≥ ``persistent_share`` and hot in the final
        period) and are ``NaN`` elsewhere; use :func:`trend_tests` for trends of areas.

    Examples
    --------
    >>> hot = np.array([[0, 1, 0], [0, 1, 1], [1, 1, 1]], dtype=bool)
    >>> emerging_classes(np.ones((3, 3)), hot=hot, persistent_share=0.9)["emerging_class"].tolist()
    ['new', 'persistent', 'consecutive']
    """
    counts, cells = _as_matrix(cell_period_counts)
    n_periods = counts.shape[0]
    for name, value in (
        ("top_share", top_share),
        ("persistent_share", persistent_share),
        ("alpha", alpha),
    ):
        if not (isinstance(value, float | int) and 0 < value <= 1):
            raise InputError(f"{name} must be a number in (0, 1], got {value!r}")
    if hot is None:
        hot_m = _top_cells(counts, top_share)
        log.info(
            "Hot cells set automatically (rule: top %.0f%% of cells by count in each period, "
            "count > 0)",
            100 * top_share,
        )
    else:
        hot_m = _as_hot(hot, counts.shape)
    if n_periods < 10:
        log.info("Only %d periods: the Mann-Kendall trend has little power below 10", n_periods)
    trend = np.full((counts.shape[1], 3), np.nan)
    # The trend only decides between intensifying, persistent and diminishing: only those
    # cells are tested, all in one array pass (the results of pymannkendall.original_test).
    needs_trend = np.flatnonzero(_is_persistent(hot_m, persistent_share) & hot_m[-1])
    if len(needs_trend):
        res = mann_kendall(counts[:, needs_trend].T)
        trend[needs_trend] = np.column_stack([res.z, res.p, res.slope])
    out = pd.DataFrame(
        {
            "cell": cells,
            "hot_periods": hot_m.sum(axis=0),
            "hot_share": hot_m.mean(axis=0),
            "final_hot": hot_m[-1],
            "trend_z": trend[:, 0],
            "trend_p": trend[:, 1],
            "trend_slope": trend[:, 2],
        }
    )
    out["emerging_class"] = [
        _classify(hot_m[:, c], z, p, persistent_share, alpha)
        for c, (z, p) in enumerate(trend[:, :2])
    ]
    return out


def _classify(h: np.ndarray, z: float, p: float, persistent_share: float, alpha: float) -> str:
    """The class of one cell's hot history ``h`` (oldest first) and count trend."""
    n_hot = int(h.sum())
    if n_hot == 0:
        return "no pattern"
    if _is_persistent(h, persistent_share):
        if not h[-1]:
            return "historical"
        if p < alpha:
            return "intensifying" if z > 0 else "diminishing"
        return "persistent"
    if h[-1]:
        run = len(h) - int(np.flatnonzero(~h)[-1]) - 1
        if n_hot == 1:
            return "new"
        if run == n_hot:
            return "consecutive"
    return "sporadic"


def _is_persistent(hot: np.ndarray, persistent_share: float) -> np.ndarray:
    """Hot in at least ``persistent_share`` of periods (axis 0)."""
    # A small tolerance so that e.g. 9 of 10 periods counts as 90%.
    return hot.mean(axis=0) >= persistent_share - 1e-12


def _as_matrix(data: np.ndarray | pd.DataFrame) -> tuple[np.ndarray, list[object]]:
    """Counts as a float (n_periods, n_cells) array, and the cell labels."""
    cells = list(data.columns) if isinstance(data, pd.DataFrame) else None
    try:
        counts = np.asarray(data, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"cell_period_counts must be numbers: {exc}") from exc
    if counts.ndim != 2 or counts.shape[0] < 2 or counts.shape[1] < 1:
        raise InputError(
            f"cell_period_counts must be 2-D (n_periods ≥ 2, n_cells ≥ 1), got shape {counts.shape}"
        )
    if not np.isfinite(counts).all():
        raise InputError("cell_period_counts has missing or infinite values")
    return counts, cells if cells is not None else list(range(counts.shape[1]))


def _as_hot(hot: np.ndarray | pd.DataFrame, shape: tuple[int, ...]) -> np.ndarray:
    """``hot`` as a bool array of ``shape``; 0/1 numbers are accepted."""
    arr = np.asarray(hot)
    if arr.shape != shape:
        raise InputError(f"hot must have the shape of cell_period_counts {shape}, got {arr.shape}")
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise InputError("hot must be True/False (or 1/0) per period and cell")
        arr = arr.astype(bool)
    return arr


def _top_cells(counts: np.ndarray, top_share: float) -> np.ndarray:
    """Per period: cells with a count ≥ the k-th largest (k = ⌈share × cells⌉) and > 0."""
    k = max(1, math.ceil(top_share * counts.shape[1]))
    threshold = -np.partition(-counts, k - 1, axis=1)[:, k - 1]
    return (counts >= threshold[:, None]) & (counts > 0)
