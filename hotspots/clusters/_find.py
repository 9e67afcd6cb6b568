"""One entry point for the three methods: :func:`find_hotspots` picks one by name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hotspots.clusters._engines import dbscan_hotspots, hdbscan_hotspots
from hotspots.clusters._result import HotspotSet
from hotspots.clusters._threshold import threshold_hotspots
from hotspots.grid import Grid, bin_counts, make_grid, points_xy
from hotspots.schema import InputError


def find_hotspots(
    incidents: pd.DataFrame,
    *,
    method: str = "threshold",
    scores: Any = None,
    grid: Grid | None = None,
    area_columns: Sequence[str] = (),
    eps_m: float | None = None,
    min_samples: int | None = None,
    min_cluster_size: int | None = None,
    threshold: str | float = "quantile",
    quantile: float = 0.99,
    k_sd: float = 2.0,
    min_incidents: int | None = None,
    hull: str = "concave",
    buffer_m: float | None = None,
    repeat_locations_table: pd.DataFrame | None = None,
) -> HotspotSet:
    """Find hotspots by ``method`` (``"threshold"``, ``"dbscan"`` or ``"hdbscan"``).

    For ``"threshold"``, ``scores`` is a 2-D array of cell scores on ``grid`` or an object
    with ``values`` and ``grid`` (a density surface). Without scores, the incidents are
    counted per cell of ``grid``; without a grid, one is made over the incidents' extent
    (cell size by the grid's ``"arcgis"`` rule). The point methods ignore ``scores`` and use
    ``grid`` only for the default ``buffer_m``. See the package notes for every default.

    Examples
    --------
    >>> pts = pd.DataFrame({"x": [5.0, 5.0, 15.0, 95.0], "y": [95.0, 95.0, 95.0, 5.0],
    ...                     "location": ["On or near High Street"] * 3 + ["On or near Mill Lane"]})
    >>> g = Grid(xmin=0.0, ymax=100.0, cell_size_m=10.0, nrows=10, ncols=10)
    >>> hs = find_hotspots(pts, grid=g, threshold=2.0)
    >>> hs.polygons[["hotspot_id", "label", "incidents", "area_m2"]].to_numpy().tolist()
    [[1, 'High Street', 2, 100.0]]
    >>> hs.labels.tolist()
    [1, 1, 0, 0]
    """
    common: dict[str, Any] = {
        "area_columns": area_columns,
        "min_incidents": min_incidents,
        "repeat_locations_table": repeat_locations_table,
    }
    if method == "threshold":
        if scores is not None and not isinstance(scores, np.ndarray) and hasattr(scores, "grid"):
            grid = scores.grid if grid is None else grid
            scores = scores.values
        if scores is None:
            xy, _ = points_xy(incidents)
            x, y = xy[:, 0], xy[:, 1]
            if grid is None:
                grid = make_grid((x.min(), y.min(), x.max(), y.max()) if len(x) else (0, 0, 0, 0))
            scores = bin_counts(grid, x, y)
        if grid is None:
            raise InputError(
                "scores were given without a grid; pass grid= (or a surface "
                "object with .values and .grid)"
            )
        return threshold_hotspots(
            scores, grid, incidents, threshold=threshold, quantile=quantile, k_sd=k_sd, **common
        )
    point: dict[str, Any] = {"hull": hull, "buffer_m": buffer_m, "grid": grid, **common}
    if method == "dbscan":
        return dbscan_hotspots(incidents, eps_m=eps_m, min_samples=min_samples, **point)
    if method == "hdbscan":
        return hdbscan_hotspots(
            incidents, min_cluster_size=min_cluster_size, min_samples=min_samples, **point
        )
    raise InputError(f"method must be 'threshold', 'dbscan' or 'hdbscan', got {method!r}")
