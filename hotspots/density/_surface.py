"""Density surfaces: the result classes and the verbs that make them.

:func:`kde_surface` resolves the parameters (kernel, automatic bandwidth, grid), runs the
binned-FFT engine and returns a :class:`DensitySurface` that records every choice and the
rule behind it; :func:`relative_surface` compares two surfaces on one grid (dual KDE) as a
:class:`RelativeSurface`. Both write themselves as GeoTIFFs.

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

import numpy as np
from affine import Affine
from pyproj import CRS

from hotspots._validation import check_weights, positive_number
from hotspots.grid import Grid
from hotspots.schema import InputError

from ._bandwidth import (
    BANDWIDTH_RULES,
    MAX_BANDWIDTH_M,
    auto_bandwidth,
    bandwidth_warnings,
    location_spacing_m,
    may_be_finer_than_locations,
)
from ._binned import binned_density, mass_inside, subcell_factor
from ._inputs import check_choice, nonempty_points_xy, resolve_grid
from ._kernels import KERNELS, support_radius_m

log = logging.getLogger("hotspots.density")

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
        from hotspots.io import write_geotiff

        write_geotiff(
            path,
            self.values,  # type: ignore[attr-defined]
            transform=self.transform,
            crs=self.crs,
            description=self.description,  # type: ignore[attr-defined]
            tags=self.params() if tags is None else tags,  # type: ignore[attr-defined]
            units=self.units,  # type: ignore[attr-defined]
        )


@dataclass(frozen=True, eq=False, kw_only=True)
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


@dataclass(frozen=True, eq=False, kw_only=True)
class RelativeSurface(_OnGrid):
    """Ratio or difference of two density surfaces on the same grid (dual KDE).

    ``values`` is dimensionless for ``how="ratio"``; incidents per km² (or, when
    ``normalised``, share of each surface's total per km²) for ``how="difference"``.
    NaN outside either study area and, for ratios, where the denominator is below
    ``min_denominator``, chosen by ``min_denominator_rule`` (``"explicit"``, or a share of
    the denominator's maximum; None for differences, which have no floor).
    """

    values: np.ndarray = field(repr=False)
    grid: Grid
    how: str
    normalised: bool
    min_denominator: float | None
    min_denominator_rule: str | None
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
            "min_denominator_rule": self.min_denominator_rule,
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
    xy, crs = nonempty_points_xy(points, "points")
    w = check_weights(weights, len(xy), frame=points, positive_sum=True)
    kernel = check_choice(kernel, KERNELS, "kernel")
    notes: list[str] = []
    if bandwidth_m is None:
        rule = check_choice(bandwidth_rule, BANDWIDTH_RULES, "bandwidth_rule")
        if len(xy) and bool(np.all(xy == xy[0])):
            # No spread to measure: the floor below sets the bandwidth to the cell size.
            bandwidth_m, rule_notes = 0.0, ["all incidents are at one location"]
        else:
            bandwidth_m, rule_notes = auto_bandwidth(xy, w, kernel, rule)
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
    grid = resolve_grid(extent, xy, crs, cell_size_m, support_radius_m(kernel, bandwidth_m))
    floor = grid.cell_size_m * (2.0 if kernel == "quartic" else 1.0)
    if rule != "explicit" and bandwidth_m < floor:
        # An automatic bandwidth below the cell scale (points at a handful of locations)
        # would paint single cells: floor it (quartic radius 2 cells, Gaussian sigma 1 cell).
        notes.append(
            f"automatic bandwidth {bandwidth_m:.0f} m raised to {floor:g} m, the "
            f"floor for automatic bandwidths on {grid.cell_size_m:g} m cells"
        )
        bandwidth_m = float(floor)
        grid = resolve_grid(extent, xy, crs, cell_size_m, support_radius_m(kernel, bandwidth_m))
    k, cap_note = subcell_factor(grid, kernel, bandwidth_m)
    notes += cap_note
    values = binned_density(grid, xy, w, kernel, bandwidth_m, k) * _M2_PER_KM2
    if edge_correction:
        values /= mass_inside(grid, kernel, bandwidth_m)
    np.maximum(values, 0.0, out=values)
    if grid.mask is not None:
        values[~grid.mask] = np.nan
    if snap_spacing_m is None and may_be_finer_than_locations(xy, bandwidth_m):
        snap_spacing_m = location_spacing_m(xy)
    notes += bandwidth_warnings(bandwidth_m, grid.cell_size_m, snap_spacing_m)
    for note in notes:
        log.warning(note)
    return DensitySurface(
        values=values,
        grid=grid,
        bandwidth_m=float(bandwidth_m),
        kernel=kernel,
        bandwidth_rule=rule,
        n_points=len(xy),
        total_weight=float(w.sum()),
        edge_corrected=bool(edge_correction),
        subcell_factor=k,
        warnings=tuple(notes),
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
    >>> from hotspots.grid import make_grid
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
    how = check_choice(how, ("ratio", "difference"), "how")
    _require_same_grid(numerator.grid, denominator.grid)
    a, b = numerator.values, denominator.values
    if normalise:
        a, b = a / numerator.total_weight, b / denominator.total_weight
    notes = _mismatch_notes(numerator, denominator)
    floor, floor_rule = None, None
    if how == "difference":
        values = a - b
    else:
        top = float(np.nanmax(b)) if np.isfinite(b).any() else 0.0
        if min_denominator is None:
            floor, floor_rule = RATIO_FLOOR_SHARE * top, f"{RATIO_FLOOR_SHARE:.0%} of maximum"
        else:
            floor, floor_rule = positive_number(min_denominator, "min_denominator"), "explicit"
        if top <= 0.0:
            notes.append("the denominator surface is zero everywhere: every ratio is NaN")
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(b > floor, a / b, np.nan)
    for note in notes:
        log.warning(note)
    masks = [m for m in (numerator.grid.mask, denominator.grid.mask) if m is not None]
    mask = np.logical_and.reduce(masks) if masks else None
    return RelativeSurface(
        values=values,
        grid=numerator.grid.with_mask(mask),
        how=how,
        normalised=bool(normalise),
        min_denominator=floor,
        min_denominator_rule=floor_rule,
        numerator=numerator.params(),
        denominator=denominator.params(),
        warnings=tuple(notes),
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
