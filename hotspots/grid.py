"""The analysis grid: a north-up raster of square cells in metres over the study area.

Rows run north to south (row 0 is the northmost), columns west to east, as in
rasterio. Cells whose centre lies outside the study area are masked (``mask`` is
``False``) and become nodata in outputs, not zero.

Automatic cell size
-------------------
``cell_size_rule="arcgis"``: the shorter side of the study area's extent divided by 250
(ArcGIS Kernel Density's default), rounded down to a "nice" value (1, 2, 2.5 or 5 × 10^k
metres) and kept within 10–100 m. The 100 m cap keeps hotspots at patrol scale (a street
or two): ArcGIS's rule gives 200–250 m cells over a force, too coarse to send a patrol to,
and the rolling backtests in docs/evaluation.md score 100 m cells well.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from affine import Affine

from hotspots._validation import positive_number, require_metric_crs
from hotspots.schema import CRS_METRIC, InputError

log = logging.getLogger(__name__)

#: Refuse grids larger than this many cells (a 1 m grid over a force would exhaust memory).
MAX_CELLS = 25_000_000
_NICE_STEPS = (1.0, 2.0, 2.5, 5.0)


@dataclass(frozen=True)
class Grid:
    """A north-up grid of square cells in a metric CRS.

    Attributes
    ----------
    xmin, ymax : float
        West and north edges of the grid, metres.
    cell_size_m : float
        Side of a cell, metres.
    nrows, ncols : int
        Grid shape.
    crs : str
        The metric CRS (EPSG:27700 by default).
    mask : numpy.ndarray or None
        Boolean ``(nrows, ncols)``, True for cells in the study area; None means all cells.
    cell_size_rule : str
        ``"explicit"`` or the name of the automatic rule that chose the cell size.
    """

    xmin: float
    ymax: float
    cell_size_m: float
    nrows: int
    ncols: int
    crs: str = CRS_METRIC
    mask: np.ndarray | None = field(default=None, compare=False, repr=False)
    cell_size_rule: str = "explicit"

    @property
    def shape(self) -> tuple[int, int]:
        return (self.nrows, self.ncols)

    @property
    def xmax(self) -> float:
        return self.xmin + self.ncols * self.cell_size_m

    @property
    def ymin(self) -> float:
        return self.ymax - self.nrows * self.cell_size_m

    @property
    def transform(self) -> Affine:
        """Affine transform from (col, row) to (x, y) of the cell's top-left corner."""
        return Affine(self.cell_size_m, 0.0, self.xmin, 0.0, -self.cell_size_m, self.ymax)

    @property
    def cell_area_km2(self) -> float:
        return (self.cell_size_m / 1000.0) ** 2

    @property
    def in_area(self) -> np.ndarray:
        """Boolean mask of study-area cells (all True when no mask was given)."""
        if self.mask is None:
            return np.ones(self.shape, dtype=bool)
        return self.mask

    def with_mask(self, mask: np.ndarray | None) -> Grid:
        """Return a copy of this grid with another study-area mask."""
        if mask is not None and mask.shape != self.shape:
            raise InputError(f"mask shape {mask.shape} does not match grid shape {self.shape}")
        return Grid(
            self.xmin,
            self.ymax,
            self.cell_size_m,
            self.nrows,
            self.ncols,
            self.crs,
            mask,
            self.cell_size_rule,
        )

    def cell_of(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row and column of each point, and whether it falls on the grid.

        Examples
        --------
        >>> g = Grid(xmin=0.0, ymax=100.0, cell_size_m=10.0, nrows=10, ncols=10)
        >>> r, c, ok = g.cell_of(np.array([5.0, 95.0, 150.0]), np.array([95.0, 5.0, 5.0]))
        >>> r.tolist(), c.tolist(), ok.tolist()
        ([0, 9, 9], [0, 9, 15], [True, True, False])
        """
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        col = np.floor((x - self.xmin) / self.cell_size_m).astype(np.int64)
        row = np.floor((self.ymax - y) / self.cell_size_m).astype(np.int64)
        ok = (col >= 0) & (col < self.ncols) & (row >= 0) & (row < self.nrows)
        return row, col, ok

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates as two ``(nrows, ncols)`` arrays (x, y)."""
        half = self.cell_size_m / 2.0
        xs = self.xmin + half + self.cell_size_m * np.arange(self.ncols)
        ys = self.ymax - half - self.cell_size_m * np.arange(self.nrows)
        return np.meshgrid(xs, ys)


def nice_cell_size(raw_m: float) -> float:
    """Round a cell size down to 1, 2, 2.5 or 5 × 10^k metres.

    Examples
    --------
    >>> nice_cell_size(238.0), nice_cell_size(99.0), nice_cell_size(1234.0)
    (200.0, 50.0, 1000.0)
    """
    if not math.isfinite(raw_m) or raw_m <= 0:
        raise InputError(f"cell size must be a positive number of metres, got {raw_m!r}")
    exp = 10.0 ** math.floor(math.log10(raw_m))
    best = exp
    for step in _NICE_STEPS:
        if step * exp <= raw_m + 1e-9:
            best = step * exp
    return best


def auto_cell_size(width_m: float, height_m: float) -> float:
    """The ``"arcgis"`` rule: shorter extent side / 250, rounded to a nice value in 10–100 m.

    Examples
    --------
    >>> auto_cell_size(60_000, 55_000)
    100.0
    >>> auto_cell_size(15_000, 20_000)
    50.0
    >>> auto_cell_size(1_000, 1_000)
    10.0
    """
    raw = max(min(width_m, height_m), 1.0) / 250.0
    return float(min(max(nice_cell_size(max(raw, 1e-3)), 10.0), 100.0))


def make_grid(
    bounds: tuple[float, float, float, float],
    *,
    cell_size_m: float | None = None,
    crs: str = CRS_METRIC,
    max_cells: int = MAX_CELLS,
) -> Grid:
    """Build a grid covering ``bounds`` (xmin, ymin, xmax, ymax in metres).

    The grid origin snaps to a multiple of the cell size, so grids of the same cell size
    over overlapping areas share cell edges (surfaces from two periods line up).

    Parameters
    ----------
    bounds
        Extent to cover, metres.
    cell_size_m
        Side of a cell in metres; None chooses it by the ``"arcgis"`` rule.
    crs
        The metric CRS of ``bounds``.
    max_cells
        Refuse larger grids with an error suggesting a cell size that fits.

    Examples
    --------
    >>> g = make_grid((1000.0, 2000.0, 1950.0, 2420.0), cell_size_m=100)
    >>> g.xmin, g.ymax, g.nrows, g.ncols
    (1000.0, 2500.0, 6, 10)
    """
    xmin, ymin, xmax, ymax = (float(b) for b in bounds)
    if not all(math.isfinite(b) for b in (xmin, ymin, xmax, ymax)) or xmax < xmin or ymax < ymin:
        raise InputError(f"grid bounds must be finite (xmin, ymin, xmax, ymax), got {bounds!r}")
    rule = "explicit"
    if cell_size_m is None:
        cell_size_m = auto_cell_size(xmax - xmin, ymax - ymin)
        rule = "arcgis"
        log.info(
            "Cell size set to %g metres automatically (rule: arcgis, shorter side / 250, "
            "within 10-100 m)",
            cell_size_m,
        )
    cell_size_m = positive_number(cell_size_m, "cell_size_m", unit="metres")
    gx0 = math.floor(xmin / cell_size_m) * cell_size_m
    gy1 = math.ceil(ymax / cell_size_m) * cell_size_m
    # +1 so that points lying exactly on the east or south edge still get a cell.
    ncols = math.floor((xmax - gx0) / cell_size_m) + 1
    nrows = math.floor((gy1 - ymin) / cell_size_m) + 1
    if nrows * ncols > max_cells:
        suggest = nice_cell_size(cell_size_m * math.sqrt(nrows * ncols / max_cells)) * 2
        raise InputError(
            f"a {cell_size_m:g} m grid over {xmax - xmin:.0f} x {ymax - ymin:.0f} m needs "
            f"{nrows * ncols:,} cells, more than the limit of {max_cells:,}; "
            f"use a larger cell size (e.g. cell_size_m={suggest:g}) or a smaller study area"
        )
    return Grid(gx0, gy1, cell_size_m, nrows, ncols, crs, None, rule)


def bin_counts(
    grid: Grid,
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Count (or sum weights of) points per cell with :func:`numpy.bincount`.

    Points off the grid are ignored. Returns a float64 ``(nrows, ncols)`` array.

    Examples
    --------
    >>> g = Grid(xmin=0.0, ymax=20.0, cell_size_m=10.0, nrows=2, ncols=2)
    >>> bin_counts(g, np.array([1.0, 2.0, 15.0]), np.array([19.0, 18.0, 1.0])).tolist()
    [[2.0, 0.0], [0.0, 1.0]]
    """
    row, col, ok = grid.cell_of(x, y)
    flat = row[ok] * grid.ncols + col[ok]
    w = None if weights is None else np.asarray(weights, dtype=float)[ok]
    counts = np.bincount(flat, weights=w, minlength=grid.nrows * grid.ncols)
    return counts.astype(np.float64).reshape(grid.shape)


def mask_from_geometry(grid: Grid, geometry: object) -> np.ndarray:
    """Boolean mask of cells whose centre lies in ``geometry`` (a shapely geometry in metres).

    Uses :func:`rasterio.features.rasterize`, which tests cell centres.
    """
    from rasterio.features import rasterize

    if geometry is None or getattr(geometry, "is_empty", True):
        return np.ones(grid.shape, dtype=bool)
    burned = rasterize(
        [(geometry, 1)], out_shape=grid.shape, transform=grid.transform, fill=0, dtype="uint8"
    )
    return burned.astype(bool)


def cell_polygons(grid: Grid, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Shapely box polygons for the given cells (array of geometries)."""
    import shapely

    rows = np.asarray(rows)
    cols = np.asarray(cols)
    x0 = grid.xmin + cols * grid.cell_size_m
    y1 = grid.ymax - rows * grid.cell_size_m
    return shapely.box(x0, y1 - grid.cell_size_m, x0 + grid.cell_size_m, y1)


def points_xy(points: Any, what: str = "incidents") -> tuple[np.ndarray, str | None]:
    """(N, 2) easting/northing in metres of incidents, and the CRS they were given in.

    ``points`` is a GeoDataFrame/GeoSeries of points in a metric CRS (else
    :class:`~hotspots.schema.CRSError`), a DataFrame with canonical ``x``/``y`` columns
    (EPSG:27700), or an (N, 2) array of metres (CRS ``None``). Every coordinate must be
    finite; the error names the first row that is not.

    Examples
    --------
    >>> import pandas as pd
    >>> xy, crs = points_xy(pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]}))
    >>> xy.tolist(), crs
    ([[1.0, 3.0], [2.0, 4.0]], 'EPSG:27700')
    >>> points_xy(np.zeros((0, 2)))[0].shape
    (0, 2)
    """
    import geopandas as gpd
    import pandas as pd
    import shapely
    from pyproj import CRS

    if isinstance(points, gpd.GeoDataFrame | gpd.GeoSeries):
        require_metric_crs(points.crs, what)
        crs = CRS.from_user_input(points.crs).to_string()
        geom = np.asarray(points.geometry.array, dtype=object)
        bad = np.flatnonzero(
            shapely.is_missing(geom) | shapely.is_empty(geom) | (shapely.get_type_id(geom) != 0)
        )
        if len(bad):
            raise InputError(
                f"{what} must be non-empty points; {len(bad)} rows are not "
                f"(first: row {points.index[bad[0]]!r}, {geom[bad[0]]!r:.60})"
            )
        xy = shapely.get_coordinates(geom).reshape(-1, 2)
    elif isinstance(points, pd.DataFrame):
        missing = [c for c in ("x", "y") if c not in points.columns]
        if missing:
            raise InputError(
                f"{what} has no {' or '.join(missing)} column (canonical EPSG:27700 easting/"
                f"northing in metres; columns are {list(points.columns)[:12]}); pass a "
                "GeoDataFrame or an (N, 2) array"
            )
        crs = CRS_METRIC
        xy = np.column_stack(
            [pd.to_numeric(points[c], errors="coerce").to_numpy(float) for c in ("x", "y")]
        ).reshape(-1, 2)
    else:
        crs = None
        try:
            xy = np.asarray(points, dtype=float)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{what} must be points or an (N, 2) array of metres: {exc}") from None
        if xy.size == 0:
            xy = xy.reshape(0, 2)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise InputError(f"{what} must be an (N, 2) array of metres, got shape {xy.shape}")
    bad = np.flatnonzero(~np.isfinite(xy).all(axis=1))
    if len(bad):
        row = points.index[bad[0]] if isinstance(points, pd.DataFrame | pd.Series) else int(bad[0])
        raise InputError(
            f"{what} row {row!r} has non-finite coordinates {xy[bad[0]].tolist()}; drop or "
            "geocode such rows first"
        )
    return xy, crs
