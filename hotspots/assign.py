"""Assigning located incidents to areas: the beat, NPA, LSOA… that holds each point.

This stage comes after :mod:`hotspots.geocode` (every incident has ``x``/``y`` in
EPSG:27700) and :mod:`hotspots.boundaries` (the area layers), and before the grid.

Exact and fast. Each point is looked up in a label raster (the index of the polygon
covering each cell) unless its cell is near a boundary; those points are tested exactly,
each prepared polygon testing the points in its bounding box in one vectorised call.
Either way a point in several polygons (on a shared edge, where they overlap) goes to the
first of them in the layer's row order, which is name order for ``load_areas`` layers.
A point outside every polygon (coastline, police.uk snapping) takes the nearest area
within a tolerance, and the distance is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots._validation import check_same_crs, check_scalar, require_metric_crs
from hotspots.boundaries import AreaLayer
from hotspots.schema import CRS_METRIC

__all__ = ["assign_areas"]

#: Largest label raster built for fast assignment (cells); coarser cells above it.
_MAX_LABEL_CELLS = 30_000_000
_LABEL_CELL_M = 10.0


def assign_areas(
    incidents: pd.DataFrame,
    layers: Sequence[AreaLayer],
    *,
    tolerance_m: float = 100.0,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Add one column per area layer (``beat``, ``npa``…) with the area holding each point.

    Parameters
    ----------
    incidents
        Frame with ``x``/``y`` in EPSG:27700.
    layers
        Area layers; the first is the study area. Layers derived from it (the NPA named on
        each beat) are filled from the beat, so beats always nest in their NPA. A layer
        with a ``name_column`` (LSOAs named by police.uk rows) takes each row's own name
        where the layer has that area, and leaves the row unassigned otherwise.
    tolerance_m
        Points outside every polygon (coastline, snapping) take the nearest area within
        this distance; beyond it they are left unassigned.

    Returns
    -------
    (incidents with area columns, boolean array: True where the first layer has no area)

    Notes
    -----
    Exact and fast: each point is looked up in a label raster (10 m cells or coarser, about
    ten cells per point) unless its cell is near a boundary, in which case it is tested
    exactly against the prepared polygons. A point on a shared edge (or where polygons
    overlap) goes to the first of the areas in the layer's order (name order).
    ``<layer>_snap_m`` records the snapping distance where one was used.

    Examples
    --------
    Two 1 km squares side by side: a point inside each, one on their shared edge (the
    first by name), one 50 m outside (snapped) and one far outside:

    >>> from shapely import box
    >>> squares = gpd.GeoDataFrame({"name": ["A", "B"]}, crs=27700,
    ...                            geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000)])
    >>> points = pd.DataFrame({"x": [500.0, 1500.0, 1000.0, 2050.0, 9000.0],
    ...                        "y": [500.0, 500.0, 500.0, 500.0, 500.0]})
    >>> out, unassigned = assign_areas(points, [AreaLayer("beat", squares)])
    >>> out["beat"].tolist(), out["beat_snap_m"].tolist(), unassigned.tolist()
    (['A', 'B', 'A', 'B', ''], [0.0, 0.0, 0.0, 50.0, 0.0], [False, False, False, False, True])
    """
    tolerance_m = check_scalar(tolerance_m, "tolerance_m", float, min_val=0, unit="metres")
    for layer in layers:
        _check_layer_crs(layer)
    out = incidents.copy(deep=False)  # copy-on-write: new columns only, no 5M-row copy
    x = out["x"].to_numpy(float)
    y = out["y"].to_numpy(float)
    unassigned = np.zeros(len(out), dtype=bool)
    for i, layer in enumerate(layers):
        if layer.derived_from is not None and layer.derived_from in out:
            out[layer.layer] = out[layer.derived_from].map(layer.parent_names).fillna("")
            continue
        if layer.name_column is not None:  # the rows name their own area
            codes = out[layer.name_column].astype("string").fillna("").str.strip()
            known = codes.isin(set(layer.polygons["name"]))
            out[layer.layer] = codes.where(known, "").astype(object).to_numpy()
            if i == 0:
                unassigned = ~known.to_numpy(bool)
            continue
        idx, snap = _polygon_of_points(layer.polygons, x, y, tolerance_m)
        names = layer.polygons["name"].to_numpy(dtype=object)
        out[layer.layer] = np.where(idx >= 0, names[np.maximum(idx, 0)], "")
        if (snap > 0).any():
            out[f"{layer.layer}_snap_m"] = np.round(snap, 1)
        if i == 0:
            unassigned = idx < 0
    return out, unassigned


def _check_layer_crs(layer: AreaLayer) -> None:
    """Points are EPSG:27700 metres: a layer in degrees (or another grid) would match none."""
    what = f"the polygons of area layer {layer.layer!r}"
    require_metric_crs(layer.polygons.crs, what)
    check_same_crs(layer.polygons.crs, CRS_METRIC, what, "the incidents' x/y")


def _polygon_of_points(
    polys: gpd.GeoDataFrame, x: np.ndarray, y: np.ndarray, tolerance_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Index of the polygon holding each point (-1 none) and the snapping distance."""
    n = len(x)
    found = np.full(n, -1, dtype=np.int64)
    snapped = np.zeros(n)
    if n == 0:
        return found, snapped
    decided = _look_up_label_raster(polys, x, y, found)
    _test_exactly(polys, x, y, np.flatnonzero(~decided), found)
    missing = np.flatnonzero(found < 0)
    if len(missing) and tolerance_m > 0:
        _snap_to_nearest(polys, x, y, missing, tolerance_m, found, snapped)
    return found, snapped


def _look_up_label_raster(
    polys: gpd.GeoDataFrame, x: np.ndarray, y: np.ndarray, found: np.ndarray
) -> np.ndarray:
    """Fill ``found`` from the label raster where a point's cell is away from every edge;
    return which points were decided so.

    A point off the raster (which spans the layer's bounds and a cell more) lies outside
    every polygon, so it is decided too, as no area.
    """
    labels, near_edge, x0, y1, cell = _label_raster(polys, tuple(polys.total_bounds), len(x))
    nrows, ncols = labels.shape
    col_f = (x - x0) / cell
    row_f = (y1 - y) / cell
    on = (col_f >= 0) & (col_f < ncols) & (row_f >= 0) & (row_f < nrows)
    off = ~on & np.isfinite(col_f) & np.isfinite(row_f)
    where = np.flatnonzero(on)
    flat = row_f[where].astype(np.int64) * ncols + col_f[where].astype(np.int64)
    inner = ~near_edge.ravel()[flat]
    where, flat = where[inner], flat[inner]
    found[where] = labels.ravel()[flat].astype(np.int64) - 1
    decided = off
    decided[where] = True
    return decided


def _test_exactly(
    polys: gpd.GeoDataFrame, x: np.ndarray, y: np.ndarray, which: np.ndarray, found: np.ndarray
) -> None:
    """Fill ``found`` for the points ``which`` by an exact point-in-polygon test.

    Each polygon, prepared, tests in one vectorised call the points inside its bounding
    box; polygons go in order and a point keeps its first hit, so a point on a shared
    edge (boundary points count as inside) goes to the first polygon by name.
    """
    import shapely

    if not len(which):
        return
    # Prepare copies: preparing attaches an index to the geometry, and these are the
    # caller's polygons.
    geoms = shapely.transform(np.asarray(polys.geometry.values), lambda xy: xy)
    shapely.prepare(geoms)
    by_x = which[np.argsort(x[which], kind="stable")]
    xs, ys = x[by_x], y[by_x]
    result = np.full(len(by_x), -1, dtype=np.int64)
    for i, (xmin, ymin, xmax, ymax) in enumerate(shapely.bounds(geoms)):
        band = np.arange(np.searchsorted(xs, xmin, "left"), np.searchsorted(xs, xmax, "right"))
        band = band[(ys[band] >= ymin) & (ys[band] <= ymax) & (result[band] < 0)]
        inside = shapely.intersects_xy(geoms[i], xs[band], ys[band])
        result[band[inside]] = i
    found[by_x] = result


def _snap_to_nearest(
    polys: gpd.GeoDataFrame,
    x: np.ndarray,
    y: np.ndarray,
    which: np.ndarray,
    tolerance_m: float,
    found: np.ndarray,
    snapped: np.ndarray,
) -> None:
    """Give the points ``which`` (in no polygon) the nearest polygon within ``tolerance_m``
    (the first by name at equal distance), recording the distance in ``snapped``."""
    import shapely

    tree = shapely.STRtree(polys.geometry.values)
    pts = shapely.points(x[which], y[which])
    pi, gi = tree.query_nearest(
        pts, max_distance=tolerance_m, return_distance=False, all_matches=True
    )
    first = pd.Series(gi).groupby(pi).min()
    hit = which[first.index.to_numpy()]
    found[hit] = first.to_numpy()
    snapped[hit] = shapely.distance(
        pts[first.index.to_numpy()], polys.geometry.values[first.to_numpy()]
    )


def _label_raster(
    polys: gpd.GeoDataFrame, bounds: tuple[float, float, float, float], n_points: int
) -> tuple[np.ndarray, np.ndarray, float, float, float]:
    """Raster of polygon index + 1 (0 = none), a mask of cells near any boundary, and the
    raster's left edge, top edge and cell size.

    The raster has about ten cells per point (at least 10 m cells, at most
    ``_MAX_LABEL_CELLS``): building it then costs about as much as the lookups it saves.
    """
    from affine import Affine
    from rasterio.features import rasterize
    from scipy.ndimage import binary_dilation

    xmin, ymin, xmax, ymax = bounds
    cell = _LABEL_CELL_M
    limit = min(_MAX_LABEL_CELLS, max(10 * n_points, 10_000))
    while ((xmax - xmin) / cell + 2) * ((ymax - ymin) / cell + 2) > limit:
        cell *= 2
    ncols = int(np.ceil((xmax - xmin) / cell)) + 2
    nrows = int(np.ceil((ymax - ymin) / cell)) + 2
    x0, y1 = xmin - cell, ymax + cell
    transform = Affine(cell, 0, x0, 0, -cell, y1)
    dtype = "uint16" if len(polys) < 65_535 else "uint32"
    geoms = polys.geometry.values
    # Burn in reverse so that where polygons overlap the first one (by name order) wins,
    # matching the exact test's first-match rule.
    shapes = [(g, i + 1) for i, g in reversed(list(enumerate(geoms)))]
    labels = rasterize(shapes, out_shape=(nrows, ncols), transform=transform, fill=0, dtype=dtype)
    edges = rasterize(
        [(g.boundary, 1) for g in geoms],
        out_shape=(nrows, ncols),
        transform=transform,
        fill=0,
        dtype="uint8",
        all_touched=True,
    )
    # One more cell of margin: a point is answered from the raster only when its whole
    # cell lies inside one polygon (or outside all), which makes the fast path exact.
    near_edge = binary_dilation(edges.astype(bool), iterations=1)
    return labels, near_edge, x0, y1, cell
