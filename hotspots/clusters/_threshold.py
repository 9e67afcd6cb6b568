"""Threshold hotspots: connected groups of grid cells whose score reaches a cutoff.

The cutoff is a rule (``"quantile"`` of the in-area cells above zero, or ``"mean_sd"``)
or a number (:func:`_cutoff`); selected cells join their 8 (or 4) neighbours and each
group is one hotspot, its polygon the exact union of its cells.
:mod:`hotspots.microplaces` splits the same selected cells into patrol-sized places.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from hotspots._validation import check_same_crs
from hotspots.clusters._polygons import _cell_unions
from hotspots.clusters._result import HotspotSet, _result
from hotspots.clusters._rules import _min_params
from hotspots.grid import Grid, points_xy
from hotspots.schema import InputError

log = logging.getLogger("hotspots.clusters")


def threshold_hotspots(
    scores: np.ndarray,
    grid: Grid,
    incidents: pd.DataFrame,
    *,
    threshold: str | float = "quantile",
    quantile: float = 0.99,
    k_sd: float = 2.0,
    connectivity: int = 8,
    min_incidents: int | None = None,
    area_columns: Sequence[str] = (),
    repeat_locations_table: pd.DataFrame | None = None,
) -> HotspotSet:
    """Hotspots as connected groups of cells whose score reaches a cutoff.

    Parameters
    ----------
    scores
        ``(nrows, ncols)`` cell scores, first row northmost; NaN cells and cells outside
        ``grid.mask`` are never hotspots.
    grid
        The grid of ``scores``.
    incidents
        The incidents (x/y frame or metric GeoDataFrame) counted into the hotspots.
    threshold
        ``"quantile"``, ``"mean_sd"`` or a cutoff score (package notes).
    quantile, k_sd
        Parameters of the two rules.
    connectivity
        8 (corner neighbours join, the default) or 4 (edge neighbours only).
    min_incidents
        Drop hotspots with fewer member incidents (default 1).
    area_columns, repeat_locations_table
        Area layers to summarise and an optional repeat-location table (x, y columns).

    Examples
    --------
    >>> g = Grid(xmin=0.0, ymax=30.0, cell_size_m=10.0, nrows=3, ncols=3)
    >>> s = np.array([[5.0, 0, 0], [0, 5, 0], [0, 0, 1]])
    >>> pts = pd.DataFrame({"x": [5.0, 15.0, 25.0], "y": [25.0, 15.0, 5.0]})
    >>> threshold_hotspots(s, g, pts, threshold=5.0).polygons["area_m2"].tolist()
    [200.0]
    >>> threshold_hotspots(s, g, pts, threshold=5.0, connectivity=4).polygons["area_m2"].tolist()
    [100.0, 100.0]
    """
    from scipy import ndimage

    scores = np.asarray(scores, dtype=float)
    if scores.shape != grid.shape:
        raise InputError(f"scores has shape {scores.shape} but the grid is {grid.shape}")
    if connectivity not in (4, 8):
        raise InputError(f"connectivity must be 4 or 8, got {connectivity!r}")
    xy, crs = points_xy(incidents)
    check_same_crs(crs, grid.crs, "incidents", "the grid")
    valid = grid.in_area & np.isfinite(scores)
    cutoff, rule = _cutoff(scores[valid], threshold, quantile, k_sd)
    log.info("Hotspot cutoff set to %.6g (rule: %s)", cutoff, rule)
    selected = valid & (scores >= cutoff) & (scores > 0)
    comp, n_comp = ndimage.label(
        selected, structure=ndimage.generate_binary_structure(2, 2 if connectivity == 8 else 1)
    )
    rows, cols = np.nonzero(comp)
    geoms = _cell_unions(grid, rows, cols, comp[rows, cols], n_comp)
    r, c, on = grid.cell_of(xy[:, 0], xy[:, 1])
    raw = np.zeros(len(xy), dtype=np.int64)
    raw[on] = comp[r[on], c[on]]
    params = {
        "threshold": threshold,
        "threshold_rule": rule,
        "cutoff": float(cutoff),
        "quantile": quantile,
        "k_sd": k_sd,
        "connectivity": connectivity,
        "cells_selected": int(selected.sum()),
        "cell_size_m": grid.cell_size_m,
        **_min_params(min_incidents, 1, "default 1"),
    }
    return _result(
        incidents, raw, geoms, crs, "threshold", params, area_columns, repeat_locations_table
    )


def _cutoff(
    values: np.ndarray, threshold: str | float, quantile: float, k_sd: float
) -> tuple[float, str]:
    """The cutoff score over the in-area cell ``values``, and its rule.

    Examples
    --------
    >>> _cutoff(np.array([0.0, 1.0, 2.0, 3.0]), "mean_sd", 0.99, 1.0)[0]
    2.618033988749895
    """
    if threshold == "quantile":
        if not 0 < quantile < 1:
            raise InputError(f"quantile must be between 0 and 1, got {quantile!r}")
        # FFT convolution leaves round-off of ~1e-16 of the peak in empty cells: those are
        # zero, not "above zero".
        top = float(values.max()) if values.size else 0.0
        positive = values[values > top * 1e-9] if top > 0 else values[:0]
        if positive.size == 0:
            return math.inf, f"quantile {quantile:g} of cells above zero (none)"
        return (
            float(np.quantile(positive, quantile)),
            f"quantile {quantile:g} of the {positive.size} in-area cells above zero",
        )
    if threshold == "mean_sd":
        if values.size == 0:
            return math.inf, f"mean + {k_sd:g} sd of in-area cells (none)"
        return (
            float(values.mean() + k_sd * values.std()),
            f"mean + {k_sd:g} sd of the {values.size} in-area cells",
        )
    if (
        isinstance(threshold, int | float)
        and not isinstance(threshold, bool)
        and math.isfinite(threshold)
    ):
        return float(threshold), "explicit"
    raise InputError(f"threshold must be 'quantile', 'mean_sd' or a number, got {threshold!r}")
