"""What a density is estimated from and over: the incidents, the extent and its grid.

Reads incidents with :func:`hotspots.grid.points_xy` (refusing an empty set, which has no
density) and turns the ``extent`` argument of :func:`~hotspots.density.kde_surface` (None,
a :class:`~hotspots.grid.Grid`, bounds or a study area) into the grid the surface is on.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from hotspots._validation import check_same_crs, positive_number, require_metric_crs
from hotspots.grid import Grid, make_grid, mask_from_geometry, points_xy
from hotspots.schema import CRS_METRIC, InputError


def nonempty_points_xy(points: Any, what: str) -> tuple[np.ndarray, str | None]:
    """:func:`hotspots.grid.points_xy`, refusing an empty set (no density to estimate).

    Examples
    --------
    >>> nonempty_points_xy(np.zeros((0, 2)), "points")
    Traceback (most recent call last):
    ...
    hotspots.schema.InputError: points is empty: there are no incidents to estimate a density from
    """
    xy, crs = points_xy(points, what)
    if len(xy) == 0:
        raise InputError(f"{what} is empty: there are no incidents to estimate a density from")
    return xy, crs


def resolve_grid(
    extent: Any, xy: np.ndarray, crs: str | None, cell_size_m: float | None, reach: float
) -> Grid:
    """The grid of a surface: ``extent`` as documented in :func:`kde_surface`, the points'
    bounds padded by the kernel's ``reach`` when it is None."""
    if cell_size_m is not None:
        cell_size_m = positive_number(cell_size_m, "cell_size_m", unit="metres")
    if extent is None:
        lo, hi = xy.min(axis=0) - reach, xy.max(axis=0) + reach
        return make_grid(
            (lo[0], lo[1], hi[0], hi[1]), cell_size_m=cell_size_m, crs=crs or CRS_METRIC
        )
    if isinstance(extent, Grid):
        check_same_crs(crs, extent.crs, "points", "extent")
        if cell_size_m is not None and not math.isclose(cell_size_m, extent.cell_size_m):
            raise InputError(
                f"cell_size_m={cell_size_m:g} differs from the extent grid's "
                f"{extent.cell_size_m:g} m; pass one or the other"
            )
        return extent
    if isinstance(extent, gpd.GeoDataFrame | gpd.GeoSeries):
        require_metric_crs(extent.crs, "extent")
        ext_crs = CRS.from_user_input(extent.crs).to_string()
        check_same_crs(crs, ext_crs, "points", "extent")
        crs, geom = ext_crs, extent.geometry.union_all()
    elif isinstance(extent, shapely.Geometry):
        geom = extent
    else:
        try:
            bounds = tuple(float(b) for b in extent)
        except (TypeError, ValueError):
            bounds = ()
        if len(bounds) != 4:
            raise InputError(
                "extent must be None, a Grid, (xmin, ymin, xmax, ymax) or a study "
                f"area geometry, got {type(extent).__name__}"
            )
        return make_grid(bounds, cell_size_m=cell_size_m, crs=crs or CRS_METRIC)
    if geom is None or geom.is_empty:
        raise InputError("extent is an empty geometry")
    grid = make_grid(geom.bounds, cell_size_m=cell_size_m, crs=crs or CRS_METRIC)
    return grid.with_mask(mask_from_geometry(grid, geom))


def check_choice(value: Any, choices: tuple[str, ...], name: str) -> str:
    """``value`` if it is one of ``choices``, else :class:`InputError` listing them.

    Examples
    --------
    >>> check_choice("gaussian", ("quartic", "gaussian"), "kernel")
    'gaussian'
    >>> check_choice("box", ("quartic", "gaussian"), "kernel")
    Traceback (most recent call last):
    ...
    hotspots.schema.InputError: kernel must be one of 'quartic', 'gaussian', got 'box'
    """
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value
