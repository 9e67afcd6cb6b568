"""Automatic controls: candidate places like the treated ones, matched on the before period.

The rule (``controls="auto"``):

1. **Candidates** are the square cells of a grid over the study area whose side is the
   square root of the median treated area (so a candidate is as large as a typical treated
   place), whose centre is in the study area, and which lie at least ``2 × buffer_m`` from
   every treated area (neither a candidate nor its own buffer then touches a treated area's
   buffer). Cells are named by their south-west corner, ``E451000N304000``.
2. **Features** of each treated area and candidate, from its monthly counts over the
   before period: *level* ``log(1 + mean monthly count)`` and *trend* the least-squares
   slope of ``log(1 + monthly count)`` per month (0 with one month). Each feature is
   standardised by its mean and standard deviation over the treated areas and the
   candidates with any before-period incident.
3. **Matching**: nearest neighbour on the Euclidean distance of the standardised features,
   one control per treated area, without replacement. Treated areas take their control in
   an order drawn at random with ``seed`` (greedy matching), and ties are broken at random
   with the same generator: the same data and seed give the same controls.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.grid import Grid, bin_counts, cell_polygons, make_grid, mask_from_geometry
from hotspots.schema import CRS_METRIC, InputError

CANDIDATE_RULE = (
    "square cells of the median treated area over the study area, centre inside it, at "
    "least 2 × buffer_m from every treated area"
)
MATCH_RULE = (
    "nearest neighbour on standardised before-period level log(1 + mean monthly count) and "
    "trend (slope of log(1 + monthly count) per month), without replacement, greedy in a "
    "random order of the treated areas (seeded); ties broken at random (seeded)"
)


def candidate_cells(
    treated: gpd.GeoDataFrame, *, study_area: shapely.Geometry, buffer_m: float
) -> tuple[gpd.GeoDataFrame, Grid]:
    """Candidate control cells (``name``, ``geometry``) and the grid they come from."""
    side = float(np.sqrt(np.median(treated.area.to_numpy())))
    if not np.isfinite(side) or side <= 0:
        raise InputError("treated areas: their median area is 0; give polygons, not lines")
    grid = make_grid(study_area.bounds, cell_size_m=side)
    inside = mask_from_geometry(grid, study_area)
    rows, cols = np.nonzero(inside)
    cells = cell_polygons(grid, rows, cols)
    keep_out = shapely.buffer(shapely.union_all(treated.geometry.values), 2 * buffer_m)
    ok = ~shapely.intersects(cells, keep_out)
    rows, cols, cells = rows[ok], cols[ok], cells[ok]
    sw_x = grid.xmin + cols * grid.cell_size_m
    sw_y = grid.ymax - (rows + 1) * grid.cell_size_m
    names = [f"E{a:.0f}N{b:.0f}" for a, b in zip(sw_x, sw_y, strict=True)]
    out = gpd.GeoDataFrame(
        {"name": names, "_row": rows, "_col": cols}, geometry=cells, crs=CRS_METRIC
    )
    return out.sort_values("name").reset_index(drop=True), grid


def cell_monthly_counts(
    cells: gpd.GeoDataFrame,
    grid,
    x: np.ndarray,
    y: np.ndarray,
    month: np.ndarray,
    months: int,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Counts (or sums of ``weights``) per candidate cell and before-period month,
    ``(len(cells), months)``."""
    out = np.zeros((len(cells), months))
    for m in range(months):
        sel = month == m
        counts = bin_counts(grid, x[sel], y[sel], None if weights is None else weights[sel])
        out[:, m] = counts[cells["_row"].to_numpy(), cells["_col"].to_numpy()]
    return out


def features(monthly: np.ndarray) -> np.ndarray:
    """Level and trend of each row of monthly counts (see the module rule), ``(n, 2)``.

    Examples
    --------
    >>> features(np.array([[1.0, 1.0, 1.0], [0.0, 1.0, 3.0]])).round(3).tolist()
    [[0.693, 0.0], [0.847, 0.693]]
    """
    monthly = np.atleast_2d(np.asarray(monthly, dtype=float))
    level = np.log1p(monthly.mean(axis=1))
    m = monthly.shape[1]
    if m < 2:
        return np.column_stack([level, np.zeros(len(level))])
    t = np.arange(m) - (m - 1) / 2
    slope = np.log1p(monthly) @ t / (t @ t)
    return np.column_stack([level, slope])


def match_controls(
    treated_monthly: np.ndarray, candidate_monthly: np.ndarray, *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Index of each treated area's control among the candidates, and its distance.

    Examples
    --------
    >>> t = np.array([[10.0, 12.0], [2.0, 1.0]])
    >>> c = np.array([[0.0, 0.0], [2.0, 1.0], [11.0, 12.0], [10.0, 12.0]])
    >>> idx, dist = match_controls(t, c, seed=1)
    >>> idx.tolist(), dist.round(3).tolist()
    ([3, 1], [0.0, 0.0])
    """
    ft, fc = features(treated_monthly), features(candidate_monthly)
    n_t, n_c = len(ft), len(fc)
    if n_c < n_t:
        raise InputError(
            f"controls auto: only {n_c} candidate places for {n_t} treated areas; give a "
            "larger study area (--areas), a smaller --buffer-m, or --controls FILE"
        )
    active = np.asarray(candidate_monthly).sum(axis=1) > 0
    pool = np.vstack([ft, fc[active]])
    mean = pool.mean(axis=0)
    sd = pool.std(axis=0)
    sd[~(sd > 0)] = 1.0
    zt, zc = (ft - mean) / sd, (fc - mean) / sd
    rng = np.random.default_rng(seed)
    available = np.ones(n_c, dtype=bool)
    chosen = np.full(n_t, -1, dtype=np.int64)
    dist = np.full(n_t, np.nan)
    for i in rng.permutation(n_t):
        d = np.sqrt(((zc - zt[i]) ** 2).sum(axis=1))
        d[~available] = np.inf
        best = np.flatnonzero(d <= d.min() + 1e-12)
        j = best[0] if len(best) == 1 else rng.choice(best)
        chosen[i], dist[i] = j, d[j]
        available[j] = False
    return chosen, dist


def pair_given_controls(
    treated: gpd.GeoDataFrame,
    controls: gpd.GeoDataFrame,
    treated_monthly: np.ndarray,
    control_monthly: np.ndarray,
    *,
    seed: int,
) -> tuple[pd.Series, np.ndarray, str]:
    """Pair given controls with the treated areas: by name when the controls carry the
    treated areas' names, else by :func:`match_controls` among them. Returns treated name →
    control name, the match distances (NaN when paired by name) and the rule used."""
    t_names, c_names = treated["name"].tolist(), controls["name"].tolist()
    if sorted(t_names) == sorted(c_names):
        return (
            pd.Series(t_names, index=t_names),
            np.full(len(t_names), np.nan),
            ("given controls paired with the treated areas of the same name"),
        )
    if len(c_names) < len(t_names):
        raise InputError(
            f"--controls: {len(c_names)} control areas for {len(t_names)} treated areas; give "
            "one control per treated area (named like it, or matched automatically among "
            "at least as many), or use --controls auto"
        )
    idx, dist = match_controls(treated_monthly, control_monthly, seed=seed)
    pairs = pd.Series([c_names[j] for j in idx], index=t_names)
    return pairs, dist, "given controls matched to the treated areas: " + MATCH_RULE
