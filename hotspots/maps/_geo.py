"""Input checks and the one reprojection to longitude/latitude for display.

Geometry is simplified in metres (EPSG:27700) first, then reprojected once to EPSG:4326
and rounded to 6 decimal places (about 0.1 m), which keeps the HTML small without any
visible change.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.geometry import mapping

from hotspots._validation import require_metric_crs
from hotspots.schema import CRS_WGS84, InputError

#: Decimal places of displayed coordinates (1e-6 degrees is about 0.1 m).
COORD_DP = 6


def check_frame(frame: object, what: str, columns: Sequence[str] = ()) -> gpd.GeoDataFrame:
    """Check that ``frame`` is a GeoDataFrame in metres with ``columns``; return it."""
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(f"{what} must be a GeoDataFrame in EPSG:27700, got {type(frame).__name__}")
    require_metric_crs(frame.crs, what)
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise InputError(f"{what} lacks column(s) {absent}; it has {list(frame.columns)}")
    keep = ~(frame.geometry.isna() | frame.geometry.is_empty)
    return frame[keep.to_numpy()]


def check_table(frame: object, what: str, columns: Sequence[str]) -> pd.DataFrame:
    """Check that ``frame`` is a DataFrame with ``columns``; return it."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"{what} must be a DataFrame, got {type(frame).__name__}")
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise InputError(f"{what} lacks column(s) {absent}; it has {list(frame.columns)}")
    return frame


def _round(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(geoms, lambda c: np.round(c, COORD_DP))


def display_geometry(
    frame: gpd.GeoDataFrame, *, tolerance_m: float, coverage: bool = False
) -> np.ndarray:
    """Simplified, reprojected and rounded geometries of ``frame`` (EPSG:4326, shapely).

    ``coverage=True`` treats the polygons as a coverage (area layers tile the force) and
    simplifies shared edges once, so neighbours stay gap-free; an invalid coverage falls
    back to per-polygon topology-preserving simplification.

    Examples
    --------
    >>> sq = gpd.GeoDataFrame(geometry=[shapely.box(458000, 304000, 458100, 304100)],
    ...                       crs=27700)
    >>> g = display_geometry(sq, tolerance_m=10)[0]
    >>> [round(v, 6) for v in g.bounds] == list(g.bounds)
    True
    """
    geoms = frame.geometry.to_numpy()
    if len(geoms) == 0:
        return geoms
    if coverage and bool(shapely.coverage_is_valid(geoms)):
        geoms = shapely.coverage_simplify(geoms, tolerance_m)
    else:
        geoms = shapely.simplify(geoms, tolerance_m, preserve_topology=True)
    out = gpd.GeoSeries(geoms, crs=frame.crs).to_crs(CRS_WGS84).to_numpy()
    return _round(out)


def lonlat(x: np.ndarray, y: np.ndarray, crs: object) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude (rounded) of points in ``crs``."""
    t = Transformer.from_crs(crs, CRS_WGS84, always_xy=True)
    lon, lat = t.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.round(lon, COORD_DP), np.round(lat, COORD_DP)


def label_points(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """A point inside each polygon (for rank labels), as longitude and latitude."""
    pts = shapely.point_on_surface(frame.geometry.to_numpy())
    return lonlat(shapely.get_x(pts), shapely.get_y(pts), frame.crs)


def latlon_bounds(frames: Sequence[gpd.GeoDataFrame]) -> list[list[float]] | None:
    """``[[south, west], [north, east]]`` around all non-empty frames, or None."""
    boxes = [f.total_bounds for f in frames if len(f)]
    if not boxes:
        return None
    b = np.array(boxes)
    t = Transformer.from_crs(frames[0].crs, CRS_WGS84, always_xy=True)
    w, s, e, n = t.transform_bounds(b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())
    return [[round(s, COORD_DP), round(w, COORD_DP)], [round(n, COORD_DP), round(e, COORD_DP)]]


def feature(geom: object, props: dict) -> dict:
    """A GeoJSON feature dict."""
    return {"type": "Feature", "geometry": mapping(geom), "properties": props}
