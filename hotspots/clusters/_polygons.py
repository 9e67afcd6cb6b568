"""Hotspot polygons: exact unions of grid cells, and hulls of clustered locations.

The threshold method's polygon is the union of its cells (:func:`_cell_unions`); the point
methods draw a hull round each cluster's distinct locations -- ``"concave"``
(:func:`shapely.concave_hull`, ``ratio`` :data:`CONCAVE_RATIO`), ``"convex"`` or
``"buffer"`` (no hull) -- and buffer it by ``buffer_m`` so a hotspot at one location still
has an area (:func:`_hull_polygons`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from hotspots.grid import Grid
from hotspots.schema import InputError

#: shapely ``concave_hull`` ratio: 0 is the tightest hull, 1 the convex hull.
CONCAVE_RATIO = 0.3
_HULLS = ("concave", "convex", "buffer")


def _check_hull(hull: str) -> None:
    if hull not in _HULLS:
        raise InputError(f"hull must be one of {', '.join(map(repr, _HULLS))}, got {hull!r}")


def _hull_params(hull: str, buffer_m: float, rule: str) -> dict[str, Any]:
    """The hull, its buffer and the buffer's rule, for ``params``."""
    out: dict[str, Any] = {"hull": hull, "buffer_m": buffer_m, "buffer_m_rule": rule}
    if hull == "concave":
        out["concave_ratio"] = CONCAVE_RATIO
    return out


def _cell_unions(
    grid: Grid, rows: np.ndarray, cols: np.ndarray, comp: np.ndarray, n: int
) -> np.ndarray:
    """One polygon per group ``1..n``: the union of the cells ``(rows, cols)`` labelled
    ``comp``.

    Examples
    --------
    >>> g = Grid(xmin=0.0, ymax=20.0, cell_size_m=10.0, nrows=2, ncols=2)
    >>> polys = _cell_unions(g, np.array([0, 0, 1]), np.array([0, 1, 1]), np.array([1, 1, 2]), 2)
    >>> shapely.area(polys).tolist()
    [200.0, 100.0]
    """
    # Edges from one arange, so neighbouring boxes share bit-identical coordinates and
    # their union leaves no slivers.
    xe = grid.xmin + grid.cell_size_m * np.arange(grid.ncols + 1)
    ye = grid.ymax - grid.cell_size_m * np.arange(grid.nrows + 1)
    boxes = shapely.box(xe[cols], ye[rows + 1], xe[cols + 1], ye[rows])
    order = np.argsort(comp, kind="stable")
    splits = np.searchsorted(comp[order], np.arange(2, n + 1))
    return np.array(
        [shapely.coverage_union_all(b) for b in np.split(boxes[order], splits)] if n else [],
        dtype=object,
    )


def _hull_polygons(
    pts: np.ndarray, dense: np.ndarray, n: int, hull: str, buffer_m: float
) -> np.ndarray:
    """One polygon per cluster ``1..n``: the ``hull`` of its locations, buffered.

    ``dense`` is the cluster (1..n, 0 for none) of each distinct location ``pts``.

    Examples
    --------
    >>> pts = np.array([[0.0, 0.0], [10.0, 0.0], [50.0, 0.0]])
    >>> polys = _hull_polygons(pts, np.array([1, 1, 0]), 1, "convex", 1.0)
    >>> len(polys), round(float(shapely.area(polys[0])))
    (1, 23)
    """
    if not n:
        return np.array([], object)
    member = dense > 0
    order = np.argsort(dense[member], kind="stable")
    shapes = shapely.multipoints(pts[member][order], indices=dense[member][order] - 1)
    if hull == "concave":
        shapes = shapely.concave_hull(shapes, ratio=CONCAVE_RATIO)
    elif hull == "convex":
        shapes = shapely.convex_hull(shapes)
    return shapely.buffer(shapes, buffer_m)
