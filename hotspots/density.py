"""Kernel density surfaces (KDE) of incidents on the analysis grid.

One verb, :func:`kde_surface`, turns incident points into a :class:`DensitySurface`:
incidents per km² at the centre of every grid cell (NaN outside the study area), with
the kernel, bandwidth, cell size and the rules that chose them. :func:`relative_surface`
compares two surfaces (dual KDE: ratio or difference). Full notes: ``docs/density.md``.

Kernels (``bandwidth_m`` is always the kernel's own parameter)
-------------------------------------------------------------
``"quartic"`` (biweight; the crime-mapping default of ArcGIS and QGIS)
    ``K(d) = 3 / (pi h²) · (1 - (d/h)²)²`` for ``d < h``, else 0; ``h = bandwidth_m`` is the
    search radius. Its per-axis standard deviation is ``h / sqrt(8)``.
``"gaussian"``
    ``K = exp(-d² / 2σ²) / (2 pi σ²)`` with ``σ = bandwidth_m``, truncated to the square
    ``|dx|, |dy| <= 4σ`` (which contains the 4σ disc) and divided by the mass kept,
    ``erf(4 / sqrt 2)² = 0.99987``, so that every incident still counts once.

Engine
------
Cell values are the density *at the cell centre* (the ArcGIS/QGIS convention). Incidents
are binned onto a lattice ``k`` times finer than the grid, whose nodes include every cell
centre, with quadratic (3-point Lagrange) weights along each axis; the binned lattice is
convolved with the kernel sampled on the lattice, one FFT per sub-cell phase, and only the
cell-centre nodes are kept. The cost is ``O(9 N + k² · cells · log cells)``.

``k`` is the smallest integer making the lattice spacing at most a quarter of the kernel's
per-axis standard deviation (σ, or ``h / sqrt 8`` for the quartic): 1 for a 250 m
Gaussian on 50 m cells, 3 for a 250 m quartic. It is capped at 8, and lowered so that the
lattice holds at most :data:`MAX_FINE_CELLS` values (a warning says so). Against exact sums
over the raw incidents the error stays under 1 % where the density exceeds 1 % of its
maximum (10,000 clustered incidents, both kernels), where nearest-cell binning gives 13 %
(Gaussian) and 54 % (quartic). Lagrange weights can be negative, so values are clipped at
zero (what is clipped is at most ~1e-4 of the maximum).

Units
-----
Values are incidents (or summed weights) per km²: the kernel is a density per m², scaled
by 10⁶. ``values × cell area in km²`` (:attr:`DensitySurface.per_cell`) is the expected
number of incidents per cell and sums to the total weight of the incidents whose kernel
lies inside the grid.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.fft as sfft
import shapely
from affine import Affine
from pyproj import CRS
from scipy.special import erf

from hotspots._validation import positive_number, require_metric_crs
from hotspots.grid import Grid, make_grid, mask_from_geometry, points_xy
from hotspots.schema import CRS_METRIC, CRSError, InputError

log = logging.getLogger(__name__)

KERNELS: tuple[str, ...] = ("quartic", "gaussian")
BANDWIDTH_RULES: tuple[str, ...] = ("arcgis", "normal_reference", "lcv")

#: The Gaussian is cut at this many σ along each axis and renormalised.
GAUSSIAN_TRUNCATE = 4.0
#: Widest bandwidth accepted (metres): wider than any police force's hotspot analysis
#: could use (a kernel beyond a force's width is a flat surface), and the bound that
#: keeps the padded grid's size arithmetic in range for any number a config can hold.
MAX_BANDWIDTH_M = 100_000.0
_GAUSSIAN_MASS_KEPT = float(erf(GAUSSIAN_TRUNCATE / math.sqrt(2.0)) ** 2)
#: Quartic radius equivalent to a Gaussian σ: the ratio of canonical bandwidths
#: (R(K)/μ₂(K)²)^(1/6) in two dimensions, (2304/5)^(1/6) ≈ 2.779 (Marron & Nolan 1988).
QUARTIC_PER_GAUSSIAN = (2304.0 / 5.0) ** (1.0 / 6.0)
#: Sub-cell lattice spacing is at most the kernel's per-axis SD divided by this.
SUBCELL_SD_RATIO = 4.0
MAX_SUBCELL_FACTOR = 8
_BIN_CHUNK = 2**18
#: Largest sub-cell lattice (float64 values, 256 MiB) before the factor is reduced.
MAX_FINE_CELLS = 2**25
#: LCV bins at a third of the smallest candidate σ on at most this many cells.
LCV_MAX_CELLS = 2**21
#: Default ratio floor: denominator cells below this share of its maximum become NaN.
RATIO_FLOOR_SHARE = 0.01
_M2_PER_KM2 = 1e6


class _OnGrid:
    """Georeferencing read from the surface's ``grid``, and the GeoTIFF writer (shared by
    the surface classes, which give ``values``, ``units``, ``description`` and ``params``)."""

    grid: Grid

    @property
    def transform(self) -> Affine:
        return self.grid.transform

    @property
    def crs(self) -> str:
        return self.grid.crs

    @property
    def cell_size_m(self) -> float:
        return self.grid.cell_size_m

    def to_geotiff(
        self, path: str | os.PathLike[str], *, tags: dict[str, Any] | None = None
    ) -> None:
        """Write the surface as a float32 GeoTIFF with ``tags`` (default: the parameters)."""
        from hotspots.io.raster import write_geotiff

        write_geotiff(
            path,
            self.values,  # type: ignore[attr-defined]
            transform=self.transform,
            crs=self.crs,
            description=self.description,  # type: ignore[attr-defined]
            tags=self.params() if tags is None else tags,  # type: ignore[attr-defined]
            units=self.units,  # type: ignore[attr-defined]
        )


@dataclass(frozen=True, eq=False)
class DensitySurface(_OnGrid):
    """A kernel density surface and the parameters that produced it.

    Attributes
    ----------
    values : numpy.ndarray
        float64 ``(nrows, ncols)``, row 0 northmost: incidents per km² at each cell centre;
        NaN for cells outside the study-area mask.
    grid : hotspots.grid.Grid
        The grid (with its mask, cell size and the rule that chose the cell size).
    bandwidth_m : float
        Quartic radius or Gaussian σ, metres.
    kernel : str
        ``"quartic"`` or ``"gaussian"``.
    bandwidth_rule : str
        ``"explicit"``, ``"arcgis"``, ``"normal_reference"`` or ``"lcv"``.
    n_points : int
        Number of incidents given.
    total_weight : float
        Sum of their weights (``n_points`` without weights).
    edge_corrected : bool
        Whether values were divided by the share of kernel mass inside the study area.
    subcell_factor : int
        Sub-cell refinement ``k`` of the binning lattice.
    warnings : tuple of str
        Cautions about the parameters (also logged).
    """

    values: np.ndarray = field(repr=False)
    grid: Grid
    bandwidth_m: float
    kernel: str
    bandwidth_rule: str
    n_points: int
    total_weight: float
    edge_corrected: bool
    subcell_factor: int = 1
    warnings: tuple[str, ...] = ()

    @property
    def cell_size_rule(self) -> str:
        return self.grid.cell_size_rule

    @property
    def per_cell(self) -> np.ndarray:
        """Expected incidents per cell: ``values`` × cell area in km²."""
        return self.values * self.grid.cell_area_km2

    def params(self) -> dict[str, Any]:
        """JSON-ready parameters, saying which were automatic and by which rule."""
        return {
            "kernel": self.kernel,
            "bandwidth_m": float(self.bandwidth_m),
            "bandwidth_rule": self.bandwidth_rule,
            "bandwidth_auto": self.bandwidth_rule != "explicit",
            "cell_size_m": float(self.cell_size_m),
            "cell_size_rule": self.cell_size_rule,
            "cell_size_auto": self.cell_size_rule != "explicit",
            "units": self.units,
            "value_at": "cell centre",
            "n_points": int(self.n_points),
            "total_weight": float(self.total_weight),
            "edge_corrected": bool(self.edge_corrected),
            "subcell_factor": int(self.subcell_factor),
            "grid": _grid_params(self.grid),
            "warnings": list(self.warnings),
        }

    @property
    def units(self) -> str:
        return "incidents per km2"

    @property
    def description(self) -> str:
        return f"{self.kernel} kernel density, incidents per km2"


@dataclass(frozen=True, eq=False)
class RelativeSurface(_OnGrid):
    """Ratio or difference of two density surfaces on the same grid (dual KDE).

    ``values`` is dimensionless for ``how="ratio"``; incidents per km² (or, when
    ``normalised``, share of each surface's total per km²) for ``how="difference"``.
    NaN outside either study area and, for ratios, where the denominator is below
    ``min_denominator``.
    """

    values: np.ndarray = field(repr=False)
    grid: Grid
    how: str
    normalised: bool
    min_denominator: float | None
    numerator: dict[str, Any] = field(repr=False)
    denominator: dict[str, Any] = field(repr=False)
    warnings: tuple[str, ...] = ()

    @property
    def units(self) -> str:
        if self.how == "ratio":
            return "ratio"
        return "share of total per km2" if self.normalised else "incidents per km2"

    def params(self) -> dict[str, Any]:
        """JSON-ready parameters, including those of both input surfaces."""
        return {
            "how": self.how,
            "normalised": self.normalised,
            "min_denominator": self.min_denominator,
            "units": self.units,
            "grid": _grid_params(self.grid),
            "numerator": self.numerator,
            "denominator": self.denominator,
            "warnings": list(self.warnings),
        }

    @property
    def description(self) -> str:
        return f"relative density ({self.how}), {self.units}"


def kde_surface(
    points: Any,
    *,
    cell_size_m: float | None = None,
    bandwidth_m: float | None = None,
    kernel: str = "quartic",
    weights: Any = None,
    extent: Any = None,
    bandwidth_rule: str = "arcgis",
    edge_correction: bool = False,
    snap_spacing_m: float | None = None,
) -> DensitySurface:
    """Kernel density of incidents, in incidents per km² at each cell centre.

    Parameters
    ----------
    points
        GeoDataFrame/GeoSeries of points in a metric CRS, a DataFrame with canonical
        ``x``/``y`` columns (EPSG:27700), or an ``(N, 2)`` array of metres.
    cell_size_m
        Cell side in metres; None lets :func:`hotspots.grid.make_grid` choose (rule
        ``"arcgis"``). Must match ``extent`` when that is a :class:`~hotspots.grid.Grid`.
    bandwidth_m
        Quartic radius or Gaussian σ in metres; None uses ``bandwidth_rule``.
    kernel
        ``"quartic"`` (default) or ``"gaussian"``.
    weights
        Per-incident weights (harm scores, counts): array-like of length N, or a column
        name of ``points``. Non-negative.
    extent
        None: the points' bounds padded by the kernel's reach (quartic ``h``, Gaussian
        4σ). A ``Grid`` (used as is, with its mask); ``(xmin, ymin, xmax, ymax)``; or a
        study area (shapely geometry, GeoDataFrame/GeoSeries) whose outside cells are NaN.
        Incidents outside the extent still count where their kernel reaches into it.
    bandwidth_rule
        Rule for an automatic bandwidth: ``"arcgis"``, ``"normal_reference"`` or ``"lcv"``
        (see :func:`bandwidth_arcgis`, :func:`bandwidth_normal_reference`,
        :func:`bandwidth_lcv`). Ignored when ``bandwidth_m`` is given.
    edge_correction
        Divide by the share of each cell's kernel mass that lies inside the study area
        (the mask, or the grid's rectangle), undoing the fall-off at its edges.
    snap_spacing_m
        Median nearest-neighbour spacing of distinct incident locations, for the warning
        about bandwidths finer than the location data; None computes it
        (:func:`location_spacing_m`) unless a quick test on a grid proves the spacing is at
        most the bandwidth (so no warning), which is the usual case. Pass it to skip that
        work when running many KDEs on subsets of one dataset.

    Returns
    -------
    DensitySurface

    Examples
    --------
    >>> xy = np.array([[1000.0, 1000.0], [1100.0, 1000.0], [1050.0, 1080.0]])
    >>> s = kde_surface(xy, cell_size_m=50, bandwidth_m=200)
    >>> s.values.shape, s.kernel, s.bandwidth_rule
    ((11, 11), 'quartic', 'explicit')
    >>> round(float(np.nansum(s.per_cell)), 2)
    3.0
    """
    xy, crs = _points_xy(points, "points")
    w = _weights(weights, points, len(xy))
    kernel = _check_choice(kernel, KERNELS, "kernel")
    notes: list[str] = []
    if bandwidth_m is None:
        rule = _check_choice(bandwidth_rule, BANDWIDTH_RULES, "bandwidth_rule")
        if len(xy) and bool(np.all(xy == xy[0])):
            # No spread to measure: the floor below sets the bandwidth to the cell size.
            bandwidth_m, rule_notes = 0.0, ["all incidents are at one location"]
        else:
            bandwidth_m, rule_notes = _auto_bandwidth(xy, w, kernel, rule)
            log.info(
                "Bandwidth set to %.0f metres automatically (rule: %s, %s %s)",
                bandwidth_m,
                rule,
                kernel,
                "radius" if kernel == "quartic" else "sigma",
            )
        notes += rule_notes
    else:
        bandwidth_m = positive_number(
            bandwidth_m, "bandwidth_m", unit="metres", at_most=MAX_BANDWIDTH_M
        )
        rule = "explicit"
    grid = _resolve_grid(extent, xy, crs, cell_size_m, support_radius_m(kernel, bandwidth_m))
    floor = grid.cell_size_m * (2.0 if kernel == "quartic" else 1.0)
    if rule != "explicit" and bandwidth_m < floor:
        # An automatic bandwidth below the cell scale (points at a handful of locations)
        # would paint single cells: floor it (quartic radius 2 cells, Gaussian sigma 1 cell).
        notes.append(
            f"automatic bandwidth {bandwidth_m:.0f} m raised to {floor:g} m, the "
            f"floor for automatic bandwidths on {grid.cell_size_m:g} m cells"
        )
        bandwidth_m = float(floor)
        grid = _resolve_grid(extent, xy, crs, cell_size_m, support_radius_m(kernel, bandwidth_m))
    k, cap_note = _subcell_factor(grid, kernel, bandwidth_m)
    notes += cap_note
    values = _binned_density(grid, xy, w, kernel, bandwidth_m, k) * _M2_PER_KM2
    if edge_correction:
        values /= _mass_inside(grid, kernel, bandwidth_m)
    np.maximum(values, 0.0, out=values)
    if grid.mask is not None:
        values[~grid.mask] = np.nan
    if snap_spacing_m is None and _may_be_finer_than_locations(xy, bandwidth_m):
        snap_spacing_m = location_spacing_m(xy)
    notes += _bandwidth_warnings(bandwidth_m, grid.cell_size_m, snap_spacing_m)
    for note in notes:
        log.warning(note)
    return DensitySurface(
        values,
        grid,
        float(bandwidth_m),
        kernel,
        rule,
        len(xy),
        float(w.sum()),
        bool(edge_correction),
        k,
        tuple(notes),
    )


def relative_surface(
    numerator: DensitySurface,
    denominator: DensitySurface,
    *,
    how: str = "ratio",
    normalise: bool = False,
    min_denominator: float | None = None,
) -> RelativeSurface:
    """Dual KDE: ratio or difference of two surfaces made on the same grid.

    Parameters
    ----------
    numerator, denominator
        Surfaces on the same grid (same origin, cell size, shape and CRS); make the second
        with ``extent=numerator.grid``.
    how
        ``"ratio"`` (numerator / denominator) or ``"difference"`` (numerator − denominator).
    normalise
        Divide each surface by its total weight first, comparing where each set of
        incidents is concentrated rather than how many there are (relative risk).
    min_denominator
        Ratio only: cells whose denominator (per km², after normalising) is below this
        are NaN rather than a huge, unstable ratio. None uses
        :data:`RATIO_FLOOR_SHARE` (1 %) of the denominator's maximum.

    Examples
    --------
    >>> xy = np.array([[500.0, 500.0], [520.0, 540.0]])
    >>> grid = make_grid((0.0, 0.0, 1000.0, 1000.0), cell_size_m=50)
    >>> a = kde_surface(xy, bandwidth_m=200, extent=grid)
    >>> b = kde_surface(xy[:1], bandwidth_m=200, extent=grid)
    >>> r = relative_surface(a, b, how="difference")
    >>> round(float(np.nansum(r.values) * grid.cell_area_km2), 2)
    1.0
    """
    for name, s in (("numerator", numerator), ("denominator", denominator)):
        if not isinstance(s, DensitySurface):
            raise InputError(f"{name} must be a DensitySurface, got {type(s).__name__}")
    how = _check_choice(how, ("ratio", "difference"), "how")
    _require_same_grid(numerator.grid, denominator.grid)
    a, b = numerator.values, denominator.values
    if normalise:
        a, b = a / numerator.total_weight, b / denominator.total_weight
    notes = _mismatch_notes(numerator, denominator)
    floor = None
    if how == "difference":
        values = a - b
    else:
        top = float(np.nanmax(b)) if np.isfinite(b).any() else 0.0
        floor = (
            RATIO_FLOOR_SHARE * top
            if min_denominator is None
            else positive_number(min_denominator, "min_denominator")
        )
        if top <= 0.0:
            notes.append("the denominator surface is zero everywhere: every ratio is NaN")
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(b > floor, a / b, np.nan)
    for note in notes:
        log.warning(note)
    masks = [m for m in (numerator.grid.mask, denominator.grid.mask) if m is not None]
    mask = np.logical_and.reduce(masks) if masks else None
    return RelativeSurface(
        values,
        numerator.grid.with_mask(mask),
        how,
        bool(normalise),
        floor,
        numerator.params(),
        denominator.params(),
        tuple(notes),
    )


# --------------------------------------------------------------------------- kernels


def kernel_sd_m(kernel: str, bandwidth_m: float) -> float:
    """Per-axis standard deviation of the kernel, metres (σ; quartic radius / √8).

    Examples
    --------
    >>> kernel_sd_m("gaussian", 100.0), round(kernel_sd_m("quartic", 100.0), 2)
    (100.0, 35.36)
    """
    return bandwidth_m if kernel == "gaussian" else bandwidth_m / math.sqrt(8.0)


def support_radius_m(kernel: str, bandwidth_m: float) -> float:
    """How far the kernel reaches along an axis: the quartic radius or 4σ.

    Examples
    --------
    >>> support_radius_m("quartic", 250.0), support_radius_m("gaussian", 250.0)
    (250.0, 1000.0)
    """
    return bandwidth_m if kernel == "quartic" else GAUSSIAN_TRUNCATE * bandwidth_m


def _kernel_2d(kernel: str, bw: float, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Kernel density per m² at displacements (dx, dy), broadcasting."""
    if kernel == "quartic":
        u = np.maximum(1.0 - (dx * dx + dy * dy) / (bw * bw), 0.0)
        return 3.0 / (math.pi * bw * bw) * u * u
    return _gauss_1d(bw, dx) * _gauss_1d(bw, dy)


def _gauss_1d(sigma: float, d: np.ndarray) -> np.ndarray:
    """One axis of the truncated, renormalised Gaussian (product of two is the 2-D kernel)."""
    d = np.asarray(d, dtype=float)
    g = np.exp(-0.5 * (d / sigma) ** 2) / (sigma * math.sqrt(2.0 * math.pi))
    g = g / math.sqrt(_GAUSSIAN_MASS_KEPT)
    return np.where(np.abs(d) <= GAUSSIAN_TRUNCATE * sigma, g, 0.0)


# --------------------------------------------------------------------------- engine


def _subcell_factor(grid: Grid, kernel: str, bw: float) -> tuple[int, list[str]]:
    """Smallest k with lattice spacing <= kernel SD / 4, capped (see the module notes)."""
    want = math.ceil(SUBCELL_SD_RATIO * grid.cell_size_m / kernel_sd_m(kernel, bw) - 1e-9)
    want = min(max(want, 1), MAX_SUBCELL_FACTOR)
    pad = 2 * _pad_cells(grid, kernel, bw)
    cells = (grid.nrows + pad) * (grid.ncols + pad)
    k = want
    while k > 1 and k * k * cells > MAX_FINE_CELLS:
        k -= 1
    if k < want:
        return k, [
            f"sub-cell factor reduced from {want} to {k} to keep the binning lattice "
            f"under {MAX_FINE_CELLS:,} values: values at low densities are less "
            "accurate; use larger cells or a smaller extent"
        ]
    return k, []


def _pad_cells(grid: Grid, kernel: str, bw: float) -> int:
    # +3 cells: no incident dropped off the padded lattice can reach a cell centre.
    return math.ceil(support_radius_m(kernel, bw) / grid.cell_size_m) + 3


def _binned_density(
    grid: Grid, xy: np.ndarray, w: np.ndarray, kernel: str, bw: float, k: int
) -> np.ndarray:
    """Density per m² at the cell centres: sub-cell binning + polyphase FFT convolution."""
    c = grid.cell_size_m
    f = c / k
    s = _pad_cells(grid, kernel, bw)
    rows, cols = grid.nrows + 2 * s, grid.ncols + 2 * s
    # Lattice node (0, 0) lies s cells north-west of the first cell centre.
    x0 = grid.xmin + c / 2.0 - s * c
    y0 = grid.ymax - c / 2.0 + s * c
    shape = (sfft.next_fast_len(rows, real=True), sfft.next_fast_len(cols, real=True))
    # Binning straight onto the FFT shape saves a padded copy per phase; incidents in the
    # extra rows and columns are beyond the kernel's reach and wrap onto no cell centre.
    fine = _quadratic_bin((y0 - xy[:, 1]) / f, (xy[:, 0] - x0) / f, w, k, *shape)
    t = np.arange(-s, s + 1)
    acc = np.zeros((shape[0], shape[1] // 2 + 1), dtype=complex)
    for p in range(k):
        for q in range(k):
            # Centre node k·(i+s) minus lattice node k·I+p is k·t−p lattice steps.
            spec = _stencil_spectrum(kernel, bw, (k * t - p) * f, (k * t - q) * f, t, shape)
            acc += sfft.rfft2(fine[:, p, :, q]) * spec
    out = sfft.irfft2(acc, s=shape)
    return out[s : s + grid.nrows, s : s + grid.ncols]


def _quadratic_bin(
    v: np.ndarray, u: np.ndarray, w: np.ndarray, k: int, rows: int, cols: int
) -> np.ndarray:
    """Bin weights onto the lattice (row v, column u in lattice steps), 3 nodes per axis.

    Returns ``(rows, k, cols, k)``: ``[I, p, J, q]`` is lattice node ``(k·I + p, k·J + q)``.
    Quadratic Lagrange weights on the nearest node and its neighbours reproduce any
    quadratic exactly and sum to one per incident. Chunked to bound the index memory.
    """
    width = k * cols
    fine = None
    chunk = max(_BIN_CHUNK, k * k * rows * cols // 16)  # index arrays ~ lattice in memory
    # Node (nv + a, nu + b) for a, b in −1..1 is the flat index base + shift[a, b].
    shift = (np.arange(-1, 2)[:, None] * width + np.arange(-1, 2)[None, :]).reshape(9, 1)
    for start in range(0, len(w), chunk):
        part = slice(start, start + chunk)
        vv, uu, ww = v[part], u[part], w[part]
        nv, nu = np.floor(vv + 0.5), np.floor(uu + 0.5)
        keep = (nv >= 1) & (nv <= k * rows - 2) & (nu >= 1) & (nu <= width - 2)
        if not keep.all():
            vv, uu, ww, nv, nu = vv[keep], uu[keep], ww[keep], nv[keep], nu[keep]
        base = (nv * width + nu).astype(np.int64)
        row_w = _lagrange3(vv - nv)
        row_w *= ww
        wts = row_w[:, None, :] * _lagrange3(uu - nu)[None, :, :]
        part_sum = np.bincount(
            (base + shift).ravel(), weights=wts.ravel(), minlength=k * rows * width
        )
        fine = part_sum if fine is None else np.add(fine, part_sum, out=fine)
    return fine.reshape(rows, k, cols, k)


def _lagrange3(t: np.ndarray) -> np.ndarray:
    """Quadratic Lagrange weights of nodes −1, 0, +1 for an offset t in [−½, ½).

    They are t(t − 1)/2, 1 − t², t(t + 1)/2, computed from t²/2 and t/2 in place.
    """
    out = np.empty((3, len(t)))
    half_sq = np.multiply(t, t, out=out[1])
    half_sq *= 0.5
    half_t = 0.5 * t
    np.subtract(half_sq, half_t, out=out[0])
    np.add(half_sq, half_t, out=out[2])
    np.multiply(half_sq, -2.0, out=out[1])
    out[1] += 1.0
    return out


def _stencil_spectrum(
    kernel: str, bw: float, dy: np.ndarray, dx: np.ndarray, t: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """rfft2 of the kernel stencil at offsets t (wrapped, so output index = input index)."""
    if kernel == "gaussian":  # separable: two 1-D transforms
        col = np.zeros(shape[0])
        col[t % shape[0]] = _gauss_1d(bw, dy)
        row = np.zeros(shape[1])
        row[t % shape[1]] = _gauss_1d(bw, dx)
        return sfft.fft(col)[:, None] * sfft.rfft(row)[None, :]
    stencil = np.zeros((len(t), shape[1]))
    stencil[:, t % shape[1]] = _kernel_2d(kernel, bw, dx[None, :], dy[:, None])
    half = np.zeros((shape[0], shape[1] // 2 + 1), dtype=complex)
    half[t % shape[0]] = sfft.rfft(stencil, axis=1)
    return sfft.fft(half, axis=0, overwrite_x=True)


def _mass_inside(grid: Grid, kernel: str, bw: float) -> np.ndarray:
    """Share of the kernel mass around each cell centre that falls on study-area cells."""
    from scipy.signal import fftconvolve

    c = grid.cell_size_m
    half = math.ceil(support_radius_m(kernel, bw) / c)
    t = np.arange(-half, half + 1) * c
    stencil = _kernel_2d(kernel, bw, t[None, :], t[:, None])
    inside = fftconvolve(grid.in_area.astype(float), stencil, mode="same") / stencil.sum()
    # Cells outside the mask become NaN anyway; keep the division finite there.
    return np.where(grid.in_area, np.clip(inside, 1e-12, None), 1.0)


# --------------------------------------------------------------------------- bandwidth rules


def bandwidth_arcgis(xy: Any, weights: Any = None, *, kernel: str = "quartic") -> float:
    """ArcGIS Pro's default search radius (a spatial Silverman rule), metres.

    ``r = 0.9 · min(SD, sqrt(1 / ln 2) · Dm) · n^(-1/5)`` where SD is the standard distance
    (root mean squared distance from the mean centre), Dm the median distance from the
    mean centre and n the number of incidents. With weights, as in ArcGIS with a
    population field, the centre, SD and Dm are weighted and n is the sum of the weights.
    ``r`` is the quartic radius; for ``kernel="gaussian"`` the equivalent σ,
    ``r / QUARTIC_PER_GAUSSIAN`` (≈ r / 2.779), is returned.

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [300.0, 0.0], [0.0, 400.0], [300.0, 400.0]])
    >>> round(bandwidth_arcgis(xy), 1)  # SD = Dm = 250; 0.9 · 250 · 4^-0.2
    170.5
    """
    xy, w = _rule_inputs(xy, weights)
    kernel = _check_choice(kernel, KERNELS, "kernel")
    total = w.sum()
    centre = w @ xy / total
    d = np.hypot(xy[:, 0] - centre[0], xy[:, 1] - centre[1])
    sd = math.sqrt(float(w @ (d * d)) / total)
    dm = _weighted_median(d, w)
    radius = 0.9 * min(sd, math.sqrt(1.0 / math.log(2.0)) * dm) * total**-0.2
    if radius <= 0.0:
        raise InputError(
            "bandwidth rule 'arcgis' gives 0 m: at least half of the incidents "
            "are at the mean centre; pass bandwidth_m or use another rule"
        )
    return float(radius if kernel == "quartic" else radius / QUARTIC_PER_GAUSSIAN)


def bandwidth_normal_reference(xy: Any, weights: Any = None, *, kernel: str = "quartic") -> float:
    """Two-dimensional normal-reference (Silverman/Scott) bandwidth, metres.

    For a Gaussian kernel ``H = h²I`` and normal data with covariance ``σ²I`` the
    AMISE-optimal ``h = σ · (4 / ((d + 2) n))^(1 / (d + 4))``, which for ``d = 2`` is
    ``h = σ · n^(-1/6)``. Both axes count: ``σ = sqrt((σx² + σy²) / 2)`` (weighted
    population variances), and ``n`` is the effective number of incidents
    ``(Σw)² / Σw²`` (n without weights; unchanged by rescaling harm scores). The quartic
    radius is ``h · QUARTIC_PER_GAUSSIAN`` (≈ 2.779 h), the ratio of the kernels'
    canonical bandwidths. It oversmooths clustered data: treat it as an upper bound.

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [300.0, 0.0], [0.0, 400.0], [300.0, 400.0]])
    >>> round(bandwidth_normal_reference(xy, kernel="gaussian"), 1)  # 176.8 · 4^(-1/6)
    140.3
    """
    xy, w = _rule_inputs(xy, weights)
    kernel = _check_choice(kernel, KERNELS, "kernel")
    sigma = _normal_reference_sigma(xy, w)
    return float(sigma if kernel == "gaussian" else sigma * QUARTIC_PER_GAUSSIAN)


def bandwidth_lcv(
    xy: Any, weights: Any = None, *, kernel: str = "quartic", candidates_m: Any = None
) -> float:
    """Likelihood cross-validation bandwidth, metres.

    Maximises the cross-validated log-likelihood ``Σ wᵢ log f̃(xᵢ) / Σ wᵢ`` over candidate
    bandwidths. ``f̃(xᵢ)`` is the Gaussian KDE at incident i built without the incidents at
    i's location (leave-one-location-out: police.uk repeats snap points, and counting an
    incident's twins would drive the bandwidth to zero), and never less than the uniform
    density ``1 / A`` over the incidents' bounding box enlarged by 4σ of the largest
    candidate on each side (an isolated incident would otherwise force the bandwidth up to
    its distance from the nearest other one, LCV's known oversmoothing).

    It runs on binned data: incidents go to a lattice a third of the smallest candidate σ
    apart (at most :data:`LCV_MAX_CELLS` nodes; a lattice cell is "a location"), one FFT
    per candidate. The Gaussian is used because the quartic's compact support leaves most
    incidents without neighbours at small radii; for ``kernel="quartic"`` candidates are
    radii and the σ found is converted (× ≈ 2.779).

    Default candidates: 20 values spaced evenly in log scale from 1/100 of to 1.5 times the
    normal-reference σ, then 9 more between the neighbours of the best.

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [40.0, 0.0], [0.0, 50.0], [2000.0, 0.0], [2030.0, 40.0]])
    >>> bandwidth_lcv(xy, kernel="gaussian", candidates_m=[10, 40, 200])
    40.0
    """
    xy, w = _rule_inputs(xy, weights)
    kernel = _check_choice(kernel, KERNELS, "kernel")
    scale = 1.0 if kernel == "gaussian" else QUARTIC_PER_GAUSSIAN
    sigmas = None
    if candidates_m is not None:
        given = np.ravel(candidates_m)
        sigmas = np.array([positive_number(c, "candidates_m", unit="metres") for c in given])
        sigmas = np.unique(sigmas) / scale
    sigma, notes = _lcv_sigma(xy, w, sigmas)
    for note in notes:
        log.warning(note)
    return sigma * scale


def location_spacing_m(points: Any) -> float | None:
    """Median distance from each distinct incident location to the nearest other one, metres.

    Locations are distinct after rounding to 1 cm. For police.uk data this is the typical
    spacing of its anonymising snap points (about 100 m in towns). None when fewer than
    two distinct locations. Queries a fixed-seed sample of at most 20,000 locations.

    Examples
    --------
    >>> location_spacing_m(np.array([[0.0, 0.0], [0.0, 0.0], [30.0, 40.0], [30.0, 140.0]]))
    50.0
    """
    from scipy.spatial import cKDTree

    xy, _ = _points_xy(points, "points")
    cm = np.round(xy * 100.0).astype(np.int64)
    cm -= cm.min(axis=0)
    span = int(cm[:, 1].max()) + 1
    codes = pd.unique(cm[:, 0] * span + cm[:, 1])  # hashing: faster than sorting
    if len(codes) < 2:
        return None
    unique_xy = np.column_stack([codes // span, codes % span]).astype(float) / 100.0
    query = unique_xy
    if len(unique_xy) > 20_000:
        pick = np.random.default_rng(0).choice(len(unique_xy), 20_000, replace=False)
        query = unique_xy[np.sort(pick)]
    tree = cKDTree(unique_xy, balanced_tree=False, compact_nodes=False)
    dist, _ = tree.query(query, k=2)
    return float(np.median(dist[:, 1]))


#: Locations up to which the exact spacing is always computed (it is quick below this).
_SPACING_EXACT_ROWS = 50_000
#: Largest grid (cells) of the quick test; a finer one would cost more than it saves.
_SPACING_MAX_CELLS = 4_000_000


def _may_be_finer_than_locations(xy: np.ndarray, bandwidth_m: float) -> bool:
    """False when :func:`location_spacing_m` is provably at most ``bandwidth_m``.

    The spacing warning needs the median nearest-neighbour distance of (a sample of at
    most 20,000) distinct locations to exceed the bandwidth; this test proves it does not,
    in a few passes over the points and no tree. On a grid of cells of side ``h ≤
    bandwidth/(2√2)`` (locations rounded to 1 cm, as there), a location whose cell holds
    another location, or any of whose 8 neighbouring cells is occupied, has a neighbour
    within 2√2·h ≤ bandwidth. Only "isolated" locations (alone in their cell, all 8
    neighbours empty) can lie farther; there are M of them, one per isolated cell. With
    D ≥ D₀ = occupied cells + cells holding several locations, a sample of n = min(D,
    20,000) has at least n − M locations within the bandwidth, so its median is within it
    when M < min(⌈D₀/2⌉, 10,000). True (compute the spacing) otherwise, below 50,000 points,
    or when the grid would exceed 4M cells; the result is then that of the exact spacing.
    """
    if len(xy) <= _SPACING_EXACT_ROWS or not bandwidth_m > 0:
        return True
    cm = np.round(xy * 100.0).astype(np.int64)
    cm -= cm.min(axis=0)
    side = int(bandwidth_m * 100.0 / (2.0 * math.sqrt(2.0)))  # cell side in cm, rounded down
    if side < 1:
        return True
    cx, cy = cm[:, 0] // side, cm[:, 1] // side
    nx, ny = int(cx.max()) + 3, int(cy.max()) + 3  # a border of empty cells
    if nx * ny > _SPACING_MAX_CELLS:
        return True
    cell = (cx + 1) * ny + (cy + 1)
    code = cm[:, 0] * (int(cm[:, 1].max()) + 1) + cm[:, 1]
    rep = np.zeros(nx * ny, dtype=np.int64)
    rep[cell] = code  # one of each cell's locations (whichever is written last)
    several = np.bincount(cell, weights=code != rep[cell], minlength=nx * ny) > 0
    occupied = np.bincount(cell, minlength=nx * ny).reshape(nx, ny) > 0
    neighbours = np.zeros((nx, ny), dtype=np.int8)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            if dx or dy:
                neighbours[1:-1, 1:-1] |= occupied[1 + dx : nx - 1 + dx, 1 + dy : ny - 1 + dy]
    isolated = occupied & ~several.reshape(nx, ny) & (neighbours == 0)
    m = int(isolated.sum())
    d_min = int(occupied.sum()) + int(several.sum())
    return not m < min((d_min + 1) // 2, 10_000)


def _auto_bandwidth(
    xy: np.ndarray, w: np.ndarray, kernel: str, rule: str
) -> tuple[float, list[str]]:
    if rule == "arcgis":
        return bandwidth_arcgis(xy, w, kernel=kernel), []
    if rule == "normal_reference":
        return bandwidth_normal_reference(xy, w, kernel=kernel), []
    xy_r, w_r = _rule_inputs(xy, w)
    sigma, notes = _lcv_sigma(xy_r, w_r, None)
    return sigma * (1.0 if kernel == "gaussian" else QUARTIC_PER_GAUSSIAN), notes


def _rule_inputs(xy: Any, weights: Any) -> tuple[np.ndarray, np.ndarray]:
    """Points and weights for a bandwidth rule: positive weights, at least two locations."""
    pts, _ = _points_xy(xy, "xy")
    w = _weights(weights, xy, len(pts))
    pts, w = pts[w > 0], w[w > 0]
    if np.ptp(pts, axis=0).max() == 0.0:
        raise InputError(
            f"all {len(pts)} incidents are at one location: an automatic "
            "bandwidth needs spread between them; pass bandwidth_m"
        )
    return pts, w


def _normal_reference_sigma(xy: np.ndarray, w: np.ndarray) -> float:
    total = w.sum()
    mean = w @ xy / total
    var = w @ ((xy - mean) ** 2) / total
    n_eff = total * total / float(w @ w)
    return float(math.sqrt((var[0] + var[1]) / 2.0) * n_eff ** (-1.0 / 6.0))


def _weighted_median(d: np.ndarray, w: np.ndarray) -> float:
    """Median of d with weights w; averages the two middle values on an exact tie (np.median)."""
    order = np.argsort(d, kind="stable")
    d, cw = d[order], np.cumsum(w[order])
    half = cw[-1] / 2.0
    i = int(np.searchsorted(cw, half * (1.0 - 1e-12)))
    if math.isclose(cw[i], half, rel_tol=1e-12) and i + 1 < len(d):
        return float((d[i] + d[i + 1]) / 2.0)
    return float(d[i])


def _lcv_sigma(xy: np.ndarray, w: np.ndarray, sigmas: np.ndarray | None) -> tuple[float, list[str]]:
    """Gaussian σ maximising the binned cross-validated likelihood (see bandwidth_lcv)."""
    notes: list[str] = []
    auto = sigmas is None
    if auto:
        top = 1.5 * _normal_reference_sigma(xy, w)
        sigmas = np.geomspace(top / 100.0, top, 20)
    lo, hi = float(sigmas[0]), float(sigmas[-1])
    reach = GAUSSIAN_TRUNCATE * hi
    width, height = np.ptp(xy, axis=0) + reach
    step = max(lo / 3.0, math.sqrt(width * height / LCV_MAX_CELLS))
    if step > lo / 3.0:
        if auto:
            sigmas = np.geomspace(min(3.0 * step, hi), hi, 20)
        notes.append(
            f"LCV lattice limited to {step:.0f} m spacing by its size: bandwidths "
            f"below {3 * step:.0f} m (sigma) are not resolved"
        )
    lik = _CrossValidatedLikelihood(xy, w, step, reach)
    scores = [lik(s) for s in sigmas]
    best = int(np.argmax(scores))
    if auto and best in (0, len(sigmas) - 1):
        end = "lower" if best == 0 else "upper"
        notes.append(
            f"LCV maximum at the {end} end of its search range (sigma {sigmas[best]:.0f} m)"
        )
    elif auto:
        fine = np.geomspace(sigmas[best - 1], sigmas[best + 1], 11)[1:-1]
        sigmas = np.concatenate([sigmas, fine])
        scores += [lik(s) for s in fine]
        best = int(np.argmax(scores))
    return float(sigmas[best]), notes


class _CrossValidatedLikelihood:
    """Binned leave-one-location-out Gaussian log-likelihood (per unit weight) of σ."""

    def __init__(self, xy: np.ndarray, w: np.ndarray, step: float, reach: float) -> None:
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        grid = make_grid(
            (lo[0], lo[1], hi[0], hi[1]), cell_size_m=step, max_cells=2 * LCV_MAX_CELLS
        )
        row, col, _ = grid.cell_of(xy[:, 0], xy[:, 1])
        counts = np.bincount(
            row * grid.ncols + col, weights=w, minlength=grid.nrows * grid.ncols
        ).reshape(grid.shape)
        self.where = np.nonzero(counts)
        if len(self.where[0]) < 2:
            raise InputError(
                f"all incidents fall in one {step:.1f} m LCV lattice cell: "
                "use larger candidates_m or pass bandwidth_m"
            )
        self.mass = counts[self.where]
        self.total = float(w.sum())
        width, height = hi - lo + 2.0 * reach
        self.floor = 1.0 / (width * height)
        # Zero padding by the kernel's reach keeps the circular convolution linear.
        pad = math.ceil(reach / step) + 1
        self.shape = tuple(sfft.next_fast_len(n + pad, real=True) for n in grid.shape)
        self.spectrum = sfft.rfft2(counts, s=self.shape)
        self.offsets = [_wrapped(n) * step for n in self.shape]

    def __call__(self, sigma: float) -> float:
        gy = sfft.fft(_gauss_1d(sigma, self.offsets[0]))
        gx = sfft.rfft(_gauss_1d(sigma, self.offsets[1]))
        dens = sfft.irfft2(self.spectrum * (gy[:, None] * gx[None, :]), s=self.shape)
        # Take away each location's own incidents, then share among the rest.
        own = self.mass * float(_gauss_1d(sigma, np.array(0.0)) ** 2)
        others = np.maximum(dens[self.where] - own, 0.0) / (self.total - self.mass)
        return float(self.mass @ np.log(np.maximum(others, self.floor)) / self.total)


def _wrapped(n: int) -> np.ndarray:
    """Signed offsets of a length-n circular array: 0, 1, …, then −…, −1."""
    i = np.arange(n)
    return np.where(i > n // 2, i - n, i)


def _bandwidth_warnings(bw: float, cell: float, spacing: float | None) -> list[str]:
    notes = []
    if bw < cell:
        notes.append(
            f"bandwidth {bw:.0f} m is below the cell size {cell:g} m: the surface "
            "shows single cells rather than hotspots; use a larger bandwidth or "
            "smaller cells"
        )
    if spacing is not None and bw < spacing:
        notes.append(
            f"bandwidth {bw:.0f} m is below the median spacing of distinct incident "
            f"locations ({spacing:.0f} m): the surface shows single locations (for "
            "police.uk data, its anonymising snap points) rather than hotspots"
        )
    return notes


# --------------------------------------------------------------------------- inputs


def _points_xy(points: Any, what: str) -> tuple[np.ndarray, str | None]:
    """:func:`hotspots.grid.points_xy`, refusing an empty set (no density to estimate)."""
    xy, crs = points_xy(points, what)
    if len(xy) == 0:
        raise InputError(f"{what} is empty: there are no incidents to estimate a density from")
    return xy, crs


def _weights(weights: Any, points: Any, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    if isinstance(weights, str):
        if not isinstance(points, pd.DataFrame) or weights not in points.columns:
            raise InputError(f"weights={weights!r} is not a column of points")
        weights = points[weights]
    try:
        w = np.asarray(weights, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"weights must be numbers: {exc}") from None
    if w.shape != (n,):
        raise InputError(f"weights must have one value per incident ({n}), got shape {w.shape}")
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if len(bad):
        raise InputError(f"weights must be finite and >= 0; row {bad[0]} is {w[bad[0]]!r}")
    if w.sum() <= 0:
        raise InputError("weights sum to zero: there is nothing to estimate a density from")
    return w


def _resolve_grid(
    extent: Any, xy: np.ndarray, crs: str | None, cell_size_m: float | None, reach: float
) -> Grid:
    if cell_size_m is not None:
        cell_size_m = positive_number(cell_size_m, "cell_size_m", unit="metres")
    if extent is None:
        lo, hi = xy.min(axis=0) - reach, xy.max(axis=0) + reach
        return make_grid(
            (lo[0], lo[1], hi[0], hi[1]), cell_size_m=cell_size_m, crs=crs or CRS_METRIC
        )
    if isinstance(extent, Grid):
        _same_crs(crs, extent.crs)
        if cell_size_m is not None and not math.isclose(cell_size_m, extent.cell_size_m):
            raise InputError(
                f"cell_size_m={cell_size_m:g} differs from the extent grid's "
                f"{extent.cell_size_m:g} m; pass one or the other"
            )
        return extent
    if isinstance(extent, gpd.GeoDataFrame | gpd.GeoSeries):
        require_metric_crs(extent.crs, "extent")
        ext_crs = CRS.from_user_input(extent.crs).to_string()
        _same_crs(crs, ext_crs)
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


def _same_crs(points_crs: str | None, other: str) -> None:
    if points_crs is not None and CRS.from_user_input(points_crs) != CRS.from_user_input(other):
        raise CRSError(
            f"points are in {points_crs} but extent is in {other}; reproject one, "
            f"e.g. points.to_crs({other!r})"
        )


def _require_same_grid(a: Grid, b: Grid) -> None:
    same = (
        a.shape == b.shape
        and math.isclose(a.cell_size_m, b.cell_size_m)
        and math.isclose(a.xmin, b.xmin)
        and math.isclose(a.ymax, b.ymax)
        and CRS.from_user_input(a.crs) == CRS.from_user_input(b.crs)
    )
    if not same:
        raise InputError(
            f"numerator and denominator are on different grids ({_describe(a)} vs "
            f"{_describe(b)}); make the second with extent=numerator.grid"
        )


def _describe(g: Grid) -> str:
    return f"{g.nrows}x{g.ncols} cells of {g.cell_size_m:g} m from ({g.xmin:g}, {g.ymax:g}) {g.crs}"


def _mismatch_notes(a: DensitySurface, b: DensitySurface) -> list[str]:
    if a.kernel == b.kernel and math.isclose(a.bandwidth_m, b.bandwidth_m):
        return []
    return [
        f"numerator and denominator are smoothed differently ({a.kernel} "
        f"{a.bandwidth_m:.0f} m vs {b.kernel} {b.bandwidth_m:.0f} m): the comparison "
        "mixes smoothing with real differences"
    ]


def _grid_params(g: Grid) -> dict[str, Any]:
    return {
        "xmin": float(g.xmin),
        "ymax": float(g.ymax),
        "nrows": int(g.nrows),
        "ncols": int(g.ncols),
        "crs": g.crs,
        "masked": g.mask is not None,
    }


def _check_choice(value: Any, choices: tuple[str, ...], name: str) -> str:
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value
