r"""Getis-Ord Gi* hot spot statistics on a grid of counts or on area polygons.

Gi* (the cell itself included among its neighbours) with binary weights, as in ArcGIS
"Hot Spot Analysis" and "Optimized Hot Spot Analysis" (Getis & Ord 1992; Ord & Getis 1995):

.. math::

    z_i = \frac{\sum_j w_{ij} x_j - \bar x W_i}
               {S \sqrt{(n W_i - W_i^2) / (n - 1)}}, \qquad
    W_i = \sum_j w_{ij},\; S = \sqrt{\textstyle\sum_j x_j^2 / n - \bar x^2}

over the ``n`` in-area cells, with ``w_ij = 1`` when j lies within the distance band of i
(or shares a boundary with it), ``w_ii = 1``. ``W_i`` is each cell's own neighbour count,
so cells at the edge of the study area are tested against their smaller neighbourhood.
Where the statistic is 0/0 (all values equal, or a neighbourhood that covers the whole
study area) there is nothing to test: ``z = 0``, ``p = 1``, not significant.

Default distance band on a grid (``band_rule``)
-----------------------------------------------
Two cells (``"two_cells"``): each cell with the 12 cells whose centres are within two cell
widths. ArcGIS's default (the distance that gives every feature one neighbour) is one cell
on a grid, too small to smooth anything; Optimized Hot Spot Analysis looks for the first
peak of global Moran's I z over increasing bands, but on Leicestershire crime counts that
z rose steadily from 1 to 10 cells at every cell size and extent tried (no peak), so that
rule would only fall back. Pass ``distance_band_m`` to choose the scale yourself.

Pseudo p-values
---------------
Conditional randomisation as in esda: the cell keeps its own value and its ``W_i - 1``
neighbours are a random draw, without replacement, from the other ``n - 1`` values. Gi* is
monotone in the neighbourhood sum, so only sums are simulated. Each permutation is one
random ordered sequence of ``max W_i`` distinct cells shared by all cells (as esda shares
its permutation ids): a cell with ``W_i - 1`` neighbours takes the first ``W_i - 1`` values
of the sequence, skipping itself, which is an exact uniform draw from the others.
The two-sided pseudo p is ``min(1, (2 min(#sim >= obs, #sim <= obs) + 1) / (P + 1))``.
Because the cell's own value is held fixed, ``p_sim`` tests its *neighbours* given the cell;
the analytic ``p`` treats the cell's value as random too, so the two differ most for small
neighbourhoods (a lone high cell among ordinary ones is hot by ``p``, not by ``p_sim``).

Classes (``Gi_Bin``)
--------------------
+3/+2/+1 (hot) and -3/-2/-1 (cold) where the p-value used (``p_sim`` when permutations
were run, else ``p``) -- or its Benjamini-Hochberg adjusted value ``q`` when ``fdr=True``
-- is at most 0.01/0.05/0.10; the sign is that of ``z``. ``q`` is scipy's
:func:`scipy.stats.false_discovery_control` (``method="bh"``) over the in-area cells.
Comparing ``q`` with each level is exactly the BH step-up procedure run at that level,
which is how ArcGIS applies its FDR correction to each confidence bin.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from scipy.signal import fftconvolve
from scipy.special import ndtr
from scipy.stats import false_discovery_control

from hotspots._validation import check_scalar, require_metric_crs, whole_number
from hotspots.schema import InputError

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)

#: Significance levels of the 90, 95 and 99 % confidence bins (two-sided).
CONFIDENCE_LEVELS: tuple[float, float, float] = (0.10, 0.05, 0.01)
#: Default distance band on a grid, in cells (rule ``"two_cells"``).
DEFAULT_BAND_CELLS = 2
_LABELS = {
    3: "Hot spot 99%",
    2: "Hot spot 95%",
    1: "Hot spot 90%",
    0: "Not significant",
    -1: "Cold spot 90%",
    -2: "Cold spot 95%",
    -3: "Cold spot 99%",
}
_WEIGHTS = ("distance_band", "queen", "rook")
# Relative slack for "same distance" and "same sum" comparisons in floating point.
_EPS = 1e-9
# Permutations are simulated in blocks of at most this many drawn values (bounds memory).
_BLOCK_VALUES = 2_000_000


@dataclass(frozen=True, kw_only=True, eq=False)
class GiStarResult:
    """Gi* z-scores, p-values and hot/cold classes, with the parameters that made them.

    Arrays have the shape of the input values (grid or one entry per polygon); cells
    outside the study area have NaN statistics, class 0 and ``n_neighbours`` 0.

    Attributes
    ----------
    z : numpy.ndarray
        Gi* z-scores.
    p : numpy.ndarray
        Two-sided p-values of ``z`` under the normal approximation.
    p_sim : numpy.ndarray or None
        Two-sided pseudo p-values from conditional permutations; None when
        ``permutations == 0``.
    q : numpy.ndarray
        Benjamini-Hochberg adjusted values of the p used for the classes (``p_sim`` if
        present, else ``p``); reported even when ``fdr`` is False.
    classes : numpy.ndarray
        int8, +3/+2/+1 hot spot at 99/95/90 % confidence, -1/-2/-3 cold, 0 not significant.
    n_neighbours : numpy.ndarray
        ``W_i``: in-area neighbours of each cell, the cell itself included.
    weights : str
        ``"distance_band"``, ``"queen"`` or ``"rook"``.
    distance_band_m : float or None
        The distance band in metres (None for contiguity weights).
    band_rule : str
        ``"explicit"``, ``"two_cells"`` (grid default), ``"arcgis_one_neighbour"``
        (polygon default) or ``"contiguity"``.
    permutations, seed : int
        Number of conditional permutations and the random seed.
    fdr : bool
        Whether the classes use the FDR-adjusted ``q`` rather than the raw p.
    n : int
        Number of in-area cells (polygons) in the statistic.
    """

    z: np.ndarray
    p: np.ndarray
    p_sim: np.ndarray | None
    q: np.ndarray
    classes: np.ndarray
    n_neighbours: np.ndarray
    weights: str
    distance_band_m: float | None
    band_rule: str
    permutations: int
    seed: int
    fdr: bool
    n: int

    def labels(self) -> np.ndarray:
        """Class names ("Hot spot 99%" ... "Not significant" ... "Cold spot 99%").

        Cells outside the study area get an empty string.
        """
        out = np.array([_LABELS[c] for c in self.classes.ravel().tolist()], dtype=object)
        out = out.reshape(self.classes.shape)
        out[self.n_neighbours == 0] = ""
        return out

    def params(self) -> dict[str, Any]:
        """JSON-ready parameters; ``band_rule`` says how the distance band was chosen.

        Examples
        --------
        >>> res = gistar_grid(np.eye(5), cell_size_m=100)
        >>> p = res.params()
        >>> p["distance_band_m"], p["band_rule"], p["band_auto"], p["p_used"], p["n"]
        (200.0, 'two_cells', True, 'p', 25)
        """
        band = self.distance_band_m
        return {
            "weights": self.weights,
            "distance_band_m": None if band is None else float(band),
            "band_rule": self.band_rule,
            "band_auto": self.band_rule not in ("explicit", "contiguity"),
            "permutations": int(self.permutations),
            "seed": int(self.seed),
            "p_used": "p" if self.p_sim is None else "p_sim",
            "fdr": bool(self.fdr),
            "classes": "hot/cold at 90/95/99% "
            + ("after Benjamini-Hochberg FDR" if self.fdr else "by the unadjusted p"),
            "n": int(self.n),
        }


def classify(z: np.ndarray, p: np.ndarray) -> np.ndarray:
    """ArcGIS ``Gi_Bin`` classes from z-scores and two-sided p (or FDR ``q``) values.

    ``|class|`` is 3, 2 or 1 where ``p <= 0.01``, ``0.05`` or ``0.10`` (99/95/90 %
    confidence), signed like ``z``; 0 otherwise and where either input is NaN.

    Examples
    --------
    >>> classify(np.array([3.0, 2.0, -1.7, 0.5, np.nan]),
    ...          np.array([0.003, 0.046, 0.09, 0.6, np.nan])).tolist()
    [3, 2, -1, 0, 0]
    """
    z = np.asarray(z, dtype=float)
    p = np.asarray(p, dtype=float)
    if z.shape != p.shape:
        raise InputError(f"z and p must have the same shape, got {z.shape} and {p.shape}")
    level = np.zeros(z.shape, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        for rank, alpha in enumerate(CONFIDENCE_LEVELS, start=1):
            level[p <= alpha] = rank
        return (level * np.sign(np.nan_to_num(z))).astype(np.int8)


def gistar_grid(
    counts: np.ndarray,
    *,
    cell_size_m: float,
    mask: np.ndarray | None = None,
    distance_band_m: float | None = None,
    permutations: int = 0,
    seed: int = 0,
    fdr: bool = True,
) -> GiStarResult:
    """Gi* hot spots of counts on a regular grid (e.g. :func:`hotspots.grid.bin_counts`).

    Neighbours are the in-area cells whose centres lie within ``distance_band_m`` of the
    cell's centre, the cell included. Runs in O(cells log cells) via FFT convolution.

    Parameters
    ----------
    counts
        2-D array of counts (any finite values) per cell.
    cell_size_m
        Side of a cell in metres.
    mask
        Boolean array, True for cells in the study area; cells outside are neither tested
        nor neighbours and do not count in ``n``, the mean or the variance.
    distance_band_m
        Neighbourhood radius in metres, at least one cell; None means two cells (see the
        module notes).
    permutations
        Number of conditional permutations for ``p_sim`` (0 for the analytic p only; 999
        is usual).
    seed
        Seed of the permutations.
    fdr
        Classify by the Benjamini-Hochberg adjusted ``q`` instead of the raw p.

    Examples
    --------
    >>> counts = np.zeros((7, 7)); counts[2:5, 2:5] = 5.0
    >>> res = gistar_grid(counts, cell_size_m=100, distance_band_m=100)
    >>> round(float(res.z[3, 3]), 2), int(res.classes[3, 3]), int(res.n_neighbours[0, 0])
    (4.92, 3, 3)
    >>> res.labels()[3, 3]
    'Hot spot 99%'
    """
    values, valid = _check_grid(counts, mask, cell_size_m)
    _check_options(permutations, seed, fdr)
    band_rule = "explicit"
    if distance_band_m is None:
        distance_band_m, band_rule = DEFAULT_BAND_CELLS * cell_size_m, "two_cells"
        log.info(
            "Distance band set to %g metres automatically (rule: two_cells, %d cells of %g m)",
            distance_band_m,
            DEFAULT_BAND_CELLS,
            cell_size_m,
        )
    else:
        distance_band_m = check_scalar(distance_band_m, "distance_band_m", float, unit="metres")
        if distance_band_m < cell_size_m:
            raise InputError(
                f"distance_band_m must be at least cell_size_m ({cell_size_m:g} m), "
                f"else a cell has no neighbour; got {distance_band_m!r}"
            )
    distance_band_m = float(distance_band_m)
    stencil = _stencil(distance_band_m / cell_size_m, values.shape)
    filled = np.where(valid, values, 0.0)
    k = np.rint(_window_sum(valid.astype(float), stencil, whole=True)).astype(np.int64)
    x = values[valid]
    integral = _integral(x)
    local = _window_sum(filled, stencil, whole=integral)
    if integral:  # FFT sums of integers are off by rounding only: make them exact
        local = np.rint(local)
    stats = _statistics(x, local[valid], k[valid], permutations, seed, fdr, integral)
    return GiStarResult(
        z=_scatter(stats.z, valid),
        p=_scatter(stats.p, valid),
        p_sim=None if stats.p_sim is None else _scatter(stats.p_sim, valid),
        q=_scatter(stats.q, valid),
        classes=_scatter(stats.classes, valid),
        n_neighbours=np.where(valid, k, 0),
        weights="distance_band",
        distance_band_m=distance_band_m,
        band_rule=band_rule,
        permutations=permutations,
        seed=seed,
        fdr=fdr,
        n=int(x.size),
    )


def gistar_polygons(
    gdf: gpd.GeoDataFrame,
    column: str,
    *,
    weights: str = "queen",
    distance_band_m: float | None = None,
    permutations: int = 0,
    seed: int = 0,
    fdr: bool = True,
) -> GiStarResult:
    """Gi* hot spots of a value per area polygon (beats, LSOAs, ...), in row order.

    Each polygon is its own neighbour. ``"queen"``: polygons whose boundaries share any
    point (or that overlap); ``"rook"``: polygons sharing a stretch of boundary of positive
    length; ``"distance_band"``: centroids within ``distance_band_m`` (default: ArcGIS's
    rule, the largest nearest-neighbour centroid distance, so that every polygon has a
    neighbour; needs a metric CRS).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> boxes = [shapely.box(c, r, c + 1, r + 1) for r in range(3) for c in range(3)]
    >>> gdf = gpd.GeoDataFrame({"n": [1, 2, 1, 2, 9, 2, 1, 2, 1]}, geometry=boxes)
    >>> res = gistar_polygons(gdf, "n", weights="rook")
    >>> res.n_neighbours.tolist()
    [3, 4, 3, 4, 5, 4, 3, 4, 3]
    >>> round(float(res.z[4]), 3)
    1.403
    """
    x = _check_polygons(gdf, column)
    _check_options(permutations, seed, fdr)
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    band_rule = "contiguity"
    if weights == "distance_band":
        require_metric_crs(gdf.crs, "gdf")
        rows, cols, distance_band_m, band_rule = _band_pairs(geoms, distance_band_m)
    elif weights in ("queen", "rook"):
        if distance_band_m is not None:
            raise InputError(
                f"distance_band_m={distance_band_m!r} needs "
                f"weights='distance_band', not weights={weights!r}"
            )
        rows, cols = _contiguity_pairs(geoms, rook=weights == "rook")
    else:
        raise InputError(f"weights must be one of {_WEIGHTS}, got {weights!r}")
    local = x + np.bincount(rows, weights=x[cols], minlength=x.size)
    k = 1 + np.bincount(rows, minlength=x.size)
    islands = int(np.sum(k == 1))
    if islands:
        log.warning(
            "%d of %d polygons have no neighbour but themselves (weights=%s)",
            islands,
            x.size,
            weights,
        )
    integral = _integral(x)
    stats = _statistics(x, local, k, permutations, seed, fdr, integral)
    return GiStarResult(
        z=stats.z,
        p=stats.p,
        p_sim=stats.p_sim,
        q=stats.q,
        classes=stats.classes,
        n_neighbours=k,
        weights=weights,
        distance_band_m=distance_band_m,
        band_rule=band_rule,
        permutations=permutations,
        seed=seed,
        fdr=fdr,
        n=int(x.size),
    )


# --- the statistic ---------------------------------------------------------------------


class _Stats(NamedTuple):
    """Gi* of each cell or polygon (``p_sim`` None without permutations)."""

    z: np.ndarray
    p: np.ndarray
    p_sim: np.ndarray | None
    q: np.ndarray
    classes: np.ndarray


def _statistics(
    x: np.ndarray,
    local: np.ndarray,
    k: np.ndarray,
    permutations: int,
    seed: int,
    fdr: bool,
    integral: bool,
) -> _Stats:
    """z, p, p_sim, q and classes of Gi* from values, neighbourhood sums and counts."""
    n = x.size
    if n < 3:
        raise InputError(f"Gi* needs at least 3 cells or polygons in the study area, got {n}")
    if n < 30:
        log.warning("Gi* on only %d cells or polygons: ArcGIS advises at least 30", n)
    mean = x.mean()
    s = math.sqrt(np.mean((x - mean) ** 2))
    den = s * np.sqrt((n * k - k * k) / (n - 1.0))
    # 0/0: no variation at all, or a neighbourhood covering the whole area.
    defined = (k < n) & (s > 1e-12 * np.abs(x).max())
    if not defined.all():
        log.warning(
            "Gi* is undefined (0/0) for %d of %d cells: no variation in the values or "
            "a neighbourhood covering the whole area; set to z=0, p=1",
            int(np.sum(~defined)),
            n,
        )
    z = np.zeros(n)
    np.divide(local - mean * k, den, out=z, where=defined)
    p = 2.0 * ndtr(-np.abs(z))
    p_sim = None
    if permutations:
        p_sim = _pseudo_p(x, local, k, permutations, seed, integral)
        needed = math.ceil(n / (CONFIDENCE_LEVELS[0] * (permutations + 1)))
        if fdr and needed > 1:
            log.warning(
                "With %d permutations the smallest pseudo p is %.2g: after the FDR "
                "correction over %d cells, a cell is significant at 90%% only if at "
                "least %d cells reach it; use more permutations or the analytic p",
                permutations,
                1 / (permutations + 1),
                n,
                needed,
            )
    p_used = p if p_sim is None else p_sim
    q = false_discovery_control(p_used, method="bh")
    return _Stats(z, p, p_sim, q, classify(z, q if fdr else p_used))


def _pseudo_p(
    x: np.ndarray, local: np.ndarray, k: np.ndarray, permutations: int, seed: int, integral: bool
) -> np.ndarray:
    """Two-sided pseudo p of each cell's neighbourhood sum under conditional randomisation."""
    n = x.size
    rng = np.random.default_rng(seed)
    m = k - 1  # neighbours other than the cell itself
    draw = int(m.max()) + 1  # one spare value, used when the sequence hits the cell itself
    obs = local - x
    tol = 0.0 if integral else _EPS * float(np.abs(x).sum())
    groups = [(mv, np.flatnonzero(m == mv)) for mv in np.unique(m)]
    ge = np.zeros(n, dtype=np.int64)
    le = np.zeros(n, dtype=np.int64)
    block = max(1, _BLOCK_VALUES // draw)
    for start in range(0, permutations, block):
        size = min(block, permutations - start)
        ids = np.empty((size, draw), dtype=np.intp)
        for row in range(size):
            ids[row] = rng.choice(n, size=draw, replace=False)
        prefix = np.zeros((size, draw + 1))
        np.cumsum(x[ids], axis=1, out=prefix[:, 1:])
        # Every cell of a group first takes the plain prefix sum of its sequence ...
        for mv, cells in groups:
            col = np.sort(prefix[:, mv])
            ge[cells] += size - np.searchsorted(col, obs[cells] - tol, side="left")
            le[cells] += np.searchsorted(col, obs[cells] + tol, side="right")
        # ... except where its own id is among those values: then it skips itself and
        # takes the spare, so the sum is prefix[m + 1] - x_i. Re-count those few.
        r, t = np.nonzero(np.arange(draw) < m[ids])
        hit = ids[r, t]
        old = prefix[r, m[hit]]
        new = prefix[r, m[hit] + 1] - x[hit]
        o = obs[hit]
        ge += np.bincount(
            hit, (new >= o - tol).astype(float) - (old >= o - tol), minlength=n
        ).astype(np.int64)
        le += np.bincount(
            hit, (new <= o + tol).astype(float) - (old <= o + tol), minlength=n
        ).astype(np.int64)
    return np.minimum(1.0, (2 * np.minimum(ge, le) + 1) / (permutations + 1))


# --- grid weights ----------------------------------------------------------------------


def _stencil(radius_cells: float, shape: tuple[int, int]) -> np.ndarray:
    """Binary disc of cell offsets within ``radius_cells``, no larger than the grid needs."""
    r = math.floor(radius_cells * (1 + _EPS))
    rr, rc = min(r, shape[0] - 1), min(r, shape[1] - 1)
    dy, dx = np.mgrid[-rr : rr + 1, -rc : rc + 1]
    return (dy * dy + dx * dx <= radius_cells**2 * (1 + _EPS)).astype(float)


#: Largest stencil (cells) summed directly rather than by FFT.
_DIRECT_STENCIL_CELLS = 121


def _window_sum(a: np.ndarray, stencil: np.ndarray, *, whole: bool = False) -> np.ndarray:
    """Sum of ``a`` over the (symmetric) stencil around each cell (zero outside the grid).

    ``whole``: ``a`` holds whole numbers only. Their direct sums are exact, so a small
    stencil is summed directly (several times faster than an FFT of the grid) and the
    result is what the FFT gives once rounded; other values always go by FFT.
    """
    if whole and stencil.size <= _DIRECT_STENCIL_CELLS:
        from scipy import ndimage

        return ndimage.correlate(a, stencil, mode="constant", cval=0.0)
    return fftconvolve(a, stencil, mode="same")


# --- polygon weights -------------------------------------------------------------------


def _contiguity_pairs(geoms: np.ndarray, *, rook: bool) -> tuple[np.ndarray, np.ndarray]:
    """Both directions of each pair of polygons that touch (queen) or share an edge (rook)."""
    import shapely

    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    if rook:
        # A shared edge (or an overlap) has positive length; a shared corner is a point.
        shared = shapely.length(shapely.intersection(geoms[a], geoms[b])) > 0
        a, b = a[shared], b[shared]
    return np.concatenate([a, b]), np.concatenate([b, a])


def _band_pairs(
    geoms: np.ndarray, distance_band_m: float | None
) -> tuple[np.ndarray, np.ndarray, float, str]:
    """Pairs of polygons whose centroids lie within the band (default: ArcGIS's rule)."""
    import shapely
    from scipy.spatial import cKDTree

    xy = shapely.get_coordinates(shapely.centroid(geoms))
    tree = cKDTree(xy)
    rule = "explicit"
    if distance_band_m is None:
        dist, _ = tree.query(xy, k=2)
        distance_band_m, rule = float(dist[:, 1].max()), "arcgis_one_neighbour"
        log.info(
            "Distance band set to %g metres automatically (rule: %s, largest "
            "nearest-neighbour centroid distance)",
            distance_band_m,
            rule,
        )
    else:
        distance_band_m = check_scalar(
            distance_band_m,
            "distance_band_m",
            float,
            min_val=0,
            include_boundaries="neither",
            unit="metres",
        )
    pairs = tree.query_pairs(float(distance_band_m) * (1 + _EPS), output_type="ndarray")
    a, b = pairs[:, 0].astype(np.intp), pairs[:, 1].astype(np.intp)
    return np.concatenate([a, b]), np.concatenate([b, a]), float(distance_band_m), rule


# --- validation ------------------------------------------------------------------------


def _integral(x: np.ndarray) -> bool:
    """True when all values are integers small enough for exact float sums."""
    return bool(np.all(x == np.round(x)) and np.abs(x).sum() < 2**52)


def _scatter(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    fill = 0 if values.dtype.kind == "i" else np.nan
    out = np.full(valid.shape, fill, dtype=values.dtype)
    out[valid] = values
    return out


def _check_options(permutations: object, seed: object, fdr: object) -> None:
    whole_number(permutations, "permutations", minimum=0)
    whole_number(seed, "seed", minimum=0)
    if not isinstance(fdr, bool | np.bool_):
        raise InputError(f"fdr must be True or False, got {fdr!r}")


def _check_grid(counts: object, mask: object, cell_size_m: object) -> tuple[np.ndarray, np.ndarray]:
    check_scalar(
        cell_size_m, "cell_size_m", float, min_val=0, include_boundaries="neither", unit="metres"
    )
    try:
        values = np.asarray(counts, dtype=float)
    except (TypeError, ValueError) as err:
        raise InputError(f"counts must be a 2-D numeric array: {err}") from None
    if values.ndim != 2:
        raise InputError(f"counts must be a 2-D array, got {values.ndim} dimension(s)")
    if mask is None:
        valid = np.ones(values.shape, dtype=bool)
    else:
        valid = np.asarray(mask)
        if valid.dtype != bool or valid.shape != values.shape:
            raise InputError(
                f"mask must be a boolean array of shape {values.shape}, got "
                f"{valid.dtype} of shape {valid.shape}"
            )
    bad = valid & ~np.isfinite(values)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(
            f"counts has {int(bad.sum())} non-finite value(s) in the study area, "
            f"first at row {r}, column {c}: {values[r, c]!r}; mask those cells out"
        )
    return values, valid


def _check_polygons(gdf: object, column: object) -> np.ndarray:
    import geopandas as gpd
    import pandas as pd

    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError(f"gdf must be a GeoDataFrame, got {type(gdf).__name__}")
    if column not in gdf.columns:
        raise InputError(f"column {column!r} not in gdf; columns are {list(gdf.columns)}")
    kinds = set(gdf.geometry.geom_type.dropna())
    if (
        gdf.geometry.isna().any()
        or gdf.geometry.is_empty.any()
        or not kinds <= {"Polygon", "MultiPolygon"}
    ):
        raise InputError(
            f"gdf geometry must be non-empty polygons, got types {sorted(kinds)} "
            "or missing/empty geometries"
        )
    col = gdf[column]
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        raise InputError(f"column {column!r} must be numeric, got dtype {col.dtype}")
    x = col.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(x)
    if bad.any():
        raise InputError(
            f"column {column!r} has {int(bad.sum())} missing or infinite value(s), "
            f"first at index {gdf.index[np.argmax(bad)]!r}"
        )
    return x
