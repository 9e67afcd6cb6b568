"""Bandwidth rules, and the check that a bandwidth is not finer than the data's locations.

Automatic bandwidths (``bandwidth_rule``): :func:`bandwidth_arcgis` (ArcGIS Pro's spatial
Silverman rule, the default), :func:`bandwidth_normal_reference` (the two-dimensional
normal-reference rule, an upper bound for clustered data) and :func:`bandwidth_lcv`
(likelihood cross-validation on binned data). Each returns the chosen kernel's own
parameter: a quartic radius or a Gaussian σ, converted by :data:`QUARTIC_PER_GAUSSIAN`.

:func:`location_spacing_m` measures how far apart the distinct incident locations are
(police.uk's anonymising snap points); a bandwidth below it is warned about, because the
surface then shows single locations rather than hotspots.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd
import scipy.fft as sfft

from hotspots._validation import check_weights, positive_number
from hotspots.grid import make_grid
from hotspots.schema import InputError

from ._inputs import check_choice, nonempty_points_xy
from ._kernels import (
    GAUSSIAN_TRUNCATE,
    KERNELS,
    QUARTIC_PER_GAUSSIAN,
    gauss_1d,
)

log = logging.getLogger("hotspots.density")

BANDWIDTH_RULES: tuple[str, ...] = ("arcgis", "normal_reference", "lcv")
#: Widest bandwidth accepted (metres): wider than any police force's hotspot analysis
#: could use (a kernel beyond a force's width is a flat surface), and the bound that
#: keeps the padded grid's size arithmetic in range for any number a config can hold.
MAX_BANDWIDTH_M = 100_000.0
#: LCV bins at a third of the smallest candidate σ on at most this many cells.
LCV_MAX_CELLS = 2**21


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
    kernel = check_choice(kernel, KERNELS, "kernel")
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
    kernel = check_choice(kernel, KERNELS, "kernel")
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
    kernel = check_choice(kernel, KERNELS, "kernel")
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

    xy, _ = nonempty_points_xy(points, "points")
    codes, span = _distinct_locations(*(_cm_above_min(xy[:, i]) for i in (0, 1)))
    if len(codes) < 2:
        return None
    unique_xy = np.column_stack([codes // span, codes % span]).astype(float) / 100.0
    pick = _spacing_sample(len(codes))
    query = unique_xy if pick is None else unique_xy[pick]
    tree = cKDTree(unique_xy, balanced_tree=False, compact_nodes=False)
    dist, _ = tree.query(query, k=2)
    return float(np.median(dist[:, 1]))


#: Most distinct locations whose nearest-neighbour distances the spacing is the median of.
_SPACING_SAMPLE = 20_000


def _cm_above_min(coordinate: np.ndarray) -> np.ndarray:
    """One coordinate rounded to whole centimetres, counted from its smallest value."""
    cm = np.round(coordinate * 100.0).astype(np.int64)  # contiguous, unlike a column of xy
    cm -= cm.min()
    return cm


def _distinct_locations(x_cm: np.ndarray, y_cm: np.ndarray) -> tuple[np.ndarray, int]:
    """Each distinct location once, in order of first appearance, as ``x * span + y``."""
    span = int(y_cm.max()) + 1
    return pd.unique(x_cm * span + y_cm), span  # hashing: faster than sorting


def _spacing_sample(n_distinct: int) -> np.ndarray | None:
    """The fixed-seed sample of distinct locations the spacing queries (None: all)."""
    if n_distinct <= _SPACING_SAMPLE:
        return None
    return np.sort(np.random.default_rng(0).choice(n_distinct, _SPACING_SAMPLE, replace=False))


#: Locations up to which the exact spacing is always computed (it is quick below this).
_SPACING_EXACT_ROWS = 50_000
#: Largest grid (cells) of the quick test; a finer one would cost more than it saves.
_SPACING_MAX_CELLS = 4_000_000


def may_be_finer_than_locations(xy: np.ndarray, bandwidth_m: float) -> bool:
    """False when :func:`location_spacing_m` is provably at most ``bandwidth_m``.

    The spacing warning needs the median nearest-neighbour distance of (a sample of at
    most 20,000) distinct locations to exceed the bandwidth; this test proves it does not,
    in a few passes over the points and no tree. On a grid of cells of side ``h ≤
    bandwidth/(2√2)`` (locations rounded to 1 cm, as there), a location whose cell holds
    another location, or any of whose 8 neighbouring cells is occupied, has a neighbour
    within 2√2·h ≤ bandwidth. Only "isolated" locations (alone in their cell, all 8
    neighbours empty) can lie farther. The median of the q sampled distances is within
    the bandwidth when fewer than ⌈q/2⌉ of the sampled locations are isolated.

    Cheapest first: the cells with no occupied neighbour bound the isolated locations
    from above, and the occupied cells bound the distinct locations (so q) from below;
    when those bounds already pass, no location is looked at one by one. Otherwise the
    sample the spacing would query is drawn exactly as there and its isolated locations
    counted. True (compute the spacing) when neither proves it, below 50,000 points, or
    when the grid would exceed 4M cells; the result is then that of the exact spacing.
    """
    if len(xy) <= _SPACING_EXACT_ROWS or not bandwidth_m > 0:
        return True
    side = int(bandwidth_m * 100.0 / (2.0 * math.sqrt(2.0)))  # cell side in cm, rounded down
    if side < 1:
        return True
    x, y = (_cm_above_min(xy[:, i]) for i in (0, 1))
    nx, ny = int(x.max()) // side + 3, int(y.max()) // side + 3  # a border of empty cells
    if nx * ny > _SPACING_MAX_CELLS:
        return True
    occupied = np.bincount(_cell_of(x, y, side, ny), minlength=nx * ny).reshape(nx, ny) > 0
    neighbours = np.zeros((nx, ny), dtype=bool)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            if dx or dy:
                neighbours[1:-1, 1:-1] |= occupied[1 + dx : nx - 1 + dx, 1 + dy : ny - 1 + dy]
    alone = (occupied & ~neighbours).ravel()
    if _median_within(int(alone.sum()), int(occupied.sum())):
        return False
    codes, span = _distinct_locations(x, y)
    cells = _cell_of(codes // span, codes % span, side, ny)
    isolated = alone[cells] & (np.bincount(cells, minlength=nx * ny) == 1)[cells]
    pick = _spacing_sample(len(codes))
    sampled = isolated if pick is None else isolated[pick]
    return not _median_within(int(sampled.sum()), len(sampled))


def _cell_of(x_cm: np.ndarray, y_cm: np.ndarray, side: int, ny: int) -> np.ndarray:
    """Flat index of each location's grid cell (cells of ``side`` cm, a border of one)."""
    cell = x_cm // side
    cell += 1
    cell *= ny
    cell += y_cm // side
    cell += 1
    return cell


def _median_within(isolated: int, distinct_at_least: int) -> bool:
    """With at most ``isolated`` locations farther than the bandwidth from every other and
    at least ``distinct_at_least`` distinct locations, the sampled median is within it."""
    q = min(distinct_at_least, _SPACING_SAMPLE)
    return isolated < (q + 1) // 2


def auto_bandwidth(
    xy: np.ndarray, w: np.ndarray, kernel: str, rule: str
) -> tuple[float, list[str]]:
    """The bandwidth ``rule`` gives for ``kernel``, and its cautions (LCV only)."""
    if rule == "arcgis":
        return bandwidth_arcgis(xy, w, kernel=kernel), []
    if rule == "normal_reference":
        return bandwidth_normal_reference(xy, w, kernel=kernel), []
    xy_r, w_r = _rule_inputs(xy, w)
    sigma, notes = _lcv_sigma(xy_r, w_r, None)
    return sigma * (1.0 if kernel == "gaussian" else QUARTIC_PER_GAUSSIAN), notes


def _rule_inputs(xy: Any, weights: Any) -> tuple[np.ndarray, np.ndarray]:
    """Points and weights for a bandwidth rule: positive weights, at least two locations."""
    pts, _ = nonempty_points_xy(xy, "xy")
    w = check_weights(weights, len(pts), frame=xy, positive_sum=True)
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
    if sigmas is None:
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
        gy = sfft.fft(gauss_1d(sigma, self.offsets[0]))
        gx = sfft.rfft(gauss_1d(sigma, self.offsets[1]))
        dens = sfft.irfft2(self.spectrum * (gy[:, None] * gx[None, :]), s=self.shape)
        # Take away each location's own incidents, then share among the rest.
        own = self.mass * float(gauss_1d(sigma, np.array(0.0)) ** 2)
        others = np.maximum(dens[self.where] - own, 0.0) / (self.total - self.mass)
        return float(self.mass @ np.log(np.maximum(others, self.floor)) / self.total)


def _wrapped(n: int) -> np.ndarray:
    """Signed offsets of a length-n circular array: 0, 1, …, then −…, −1."""
    i = np.arange(n)
    return np.where(i > n // 2, i - n, i)


def bandwidth_warnings(bw: float, cell: float, spacing: float | None) -> list[str]:
    """Cautions for a bandwidth finer than the cells or than the incident locations."""
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
