"""Hotspots as polygons: high cells of a surface, or dense clusters of incidents.

Three methods, one result (:class:`HotspotSet`):

``"threshold"`` (:func:`threshold_hotspots`)
    Cells of a score surface (a KDE surface, raw counts per cell or any blend) at or above a
    cutoff, merged with their 8 neighbours (``connectivity=8``, the default: cells touching
    at a corner join, so a hotspot along a diagonal street stays one hotspot) or with their 4
    edge neighbours only (``connectivity=4``). Each merged group is one hotspot whose polygon
    is the exact union of its cells; its members are the incidents whose cell is in the group.
    Cutoff rules: ``"quantile"`` -- the ``quantile`` (default 0.99) of the in-area cells whose
    score is above zero (empty cells are left out, else on a sparse grid the cutoff would be
    zero); ``"mean_sd"`` -- mean + ``k_sd`` x standard deviation of all in-area cells; or a
    number. Ties at the cutoff are all kept; cells scoring zero or less never are.
``"dbscan"`` (:func:`dbscan_hotspots`)
    scikit-learn DBSCAN on coordinates in metres. police.uk snaps incidents to map points, so
    many share a location: DBSCAN runs on the distinct locations with
    ``sample_weight`` = incidents there, which gives exactly the core points, clusters of
    core points and members of running it on every incident, far faster. A border location
    within ``eps_m`` of two clusters' cores joins the cluster of its nearest core location
    (plain DBSCAN gives it to whichever cluster it meets first, which depends on row order).
``"hdbscan"`` (:func:`hdbscan_hotspots`)
    ``fast_hdbscan`` on distinct locations weighted by their incidents (its core distances
    and cluster sizes count weights; this approximates, not reproduces, HDBSCAN on every
    duplicate). Without ``fast_hdbscan``, scikit-learn's HDBSCAN runs on every incident (it
    has no sample weights): exact, but its cost grows about as N^2.

Automatic defaults (each reported in ``HotspotSet.params`` with its rule, and logged)
-------------------------------------------------------------------------------------
``min_samples`` (DBSCAN) and ``min_cluster_size`` (HDBSCAN), rule ``"n/1000"``
    0.1 % of the incidents, at least 5: the rule scales with the period analysed, so a
    two-year extract does not find twice as many hotspots as a one-year one.
``eps_m`` (DBSCAN), rule ``"k-distance q0.05"``
    For each distinct location, the distance within which it gathers ``min_samples``
    incidents (itself included: its weighted k-distance). ``eps_m`` is the 5th percentile of
    those distances over distinct locations, rounded to the metre and kept within 10-1000 m,
    so that about the 5 % most crowded locations are DBSCAN core points.
``buffer_m`` (point methods)
    Half a grid cell when a grid is given; else ``eps_m / 2`` for DBSCAN (buffers of
    neighbouring core points then touch) and for HDBSCAN half the median distance from a
    distinct location to its nearest neighbour, at least 5 m.
``min_incidents``
    Hotspots with fewer member incidents are dropped: 1 for thresholds (a smoothed surface
    can exceed the cutoff where nothing happened) and for DBSCAN (every cluster is kept: one
    whose border points went to a neighbouring cluster can hold fewer than ``min_samples``),
    ``min_cluster_size`` for HDBSCAN (fast_hdbscan's weighted clusters can fall short of it).

Polygons of point methods: ``hull="concave"`` (:func:`shapely.concave_hull` of the member
locations, ``ratio`` :data:`CONCAVE_RATIO`), ``"convex"`` or ``"buffer"`` (no hull), then
buffered by ``buffer_m`` so a hotspot at one location still has an area. Polygons of
different hotspots may touch or, rarely, overlap; membership is always by ``labels``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots._validation import positive_number
from hotspots.grid import Grid, bin_counts, make_grid, points_xy
from hotspots.io.frames import mode_per_group
from hotspots.labels import place_labels
from hotspots.schema import CRS_METRIC, CRSError, InputError

log = logging.getLogger(__name__)

#: shapely ``concave_hull`` ratio: 0 is the tightest hull, 1 the convex hull.
CONCAVE_RATIO = 0.3
#: Number of categories listed in ``top_categories``.
TOP_CATEGORIES = 3
#: Quantile of the weighted k-distances of distinct locations that sets ``eps_m``.
EPS_QUANTILE = 0.05
EPS_RANGE_M = (10.0, 1000.0)
MIN_BUFFER_M = 5.0
#: Fixed columns of ``HotspotSet.polygons`` (area-layer columns follow ``top_categories``).
LEADING_COLUMNS = ("hotspot_id", "label", "incidents", "share", "area_m2", "density_km2",
                   "top_categories")
_HULLS = ("concave", "convex", "buffer")
# Rows x neighbours held at once by the k-distance query (bounds its memory to ~32 MB).
_KNN_BLOCK = 2_000_000


@dataclass(frozen=True, eq=False)
class HotspotSet:
    """Hotspot polygons, each incident's hotspot, and the parameters that made them.

    Attributes
    ----------
    polygons : geopandas.GeoDataFrame
        One row per hotspot, in the incidents' metric CRS (EPSG:27700 for plain frames),
        columns ``hotspot_id`` (1, 2, ... by incidents, most first), ``label`` (its streets, a
        snap-point qualifier and its beat: :func:`hotspots.labels.place_labels`), ``incidents``,
        ``share`` (of all input incidents), ``area_m2`` (always > 0), ``density_km2``
        (incidents per km2), ``top_categories`` (e.g. ``"Burglary (60%); Drugs (40%)"``),
        for each area layer ``<layer>`` (the area most member incidents are in) and
        ``<layer>_all`` (every area touched, most incidents first, ``"; "``-separated),
        ``repeat_locations`` (repeat locations inside; missing when no table was given)
        and ``geometry``.
    labels : numpy.ndarray
        ``hotspot_id`` of each input incident, in input order; 0 for none.
    method : str
        ``"threshold"``, ``"dbscan"`` or ``"hdbscan"``.
    params : dict
        Every parameter used, automatic ones with ``<name>_rule`` saying which rule chose
        them (``"explicit"`` when given).
    """

    polygons: gpd.GeoDataFrame
    labels: np.ndarray
    method: str
    params: dict[str, Any]

    @property
    def n_hotspots(self) -> int:
        return len(self.polygons)


def incident_xy(incidents: pd.DataFrame, what: str = "incidents"
                ) -> tuple[np.ndarray, np.ndarray, str]:
    """Easting and northing of each incident in metres, and their CRS.

    As :func:`hotspots.grid.points_xy`: a GeoDataFrame gives its point geometries (its CRS
    must be metric, else :class:`~hotspots.schema.CRSError`); a plain DataFrame gives its
    ``x``/``y`` columns, taken to be EPSG:27700.

    Examples
    --------
    >>> x, y, crs = incident_xy(pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]}))
    >>> x.tolist(), y.tolist(), crs
    ([1.0, 2.0], [3.0, 4.0], 'EPSG:27700')
    """
    xy, crs = points_xy(incidents, what)
    return xy[:, 0].copy(), xy[:, 1].copy(), crs or CRS_METRIC


def auto_min_samples(n_incidents: int) -> int:
    """The ``"n/1000"`` rule: 0.1 % of the incidents, at least 5.

    Examples
    --------
    >>> auto_min_samples(300_000), auto_min_samples(1_200)
    (300, 5)
    """
    return max(5, math.ceil(n_incidents / 1000))


def weighted_k_distance(points: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """Distance from each location to the nearest locations holding ``k`` incidents.

    The location's own incidents count, so a location with ``k`` or more has distance 0;
    ``inf`` where all the data together hold fewer than ``k``.

    Examples
    --------
    >>> pts = np.array([[0.0, 0.0], [3.0, 0.0], [10.0, 0.0]])
    >>> weighted_k_distance(pts, np.array([2, 1, 5]), 3).tolist()
    [3.0, 3.0, 0.0]
    """
    from scipy.spatial import cKDTree

    n = len(points)
    out = np.full(n, np.inf)
    if n == 0:
        return out
    tree = cKDTree(points)
    w = np.asarray(weights, dtype=float)
    # Heavy locations reach k within few neighbours: start with about twice the neighbours
    # the mean weight needs and widen only for the locations still short of k.
    kq = min(n, max(8, math.ceil(2 * k / w.mean())))
    todo = np.arange(n)
    while len(todo):
        step = max(1, _KNN_BLOCK // kq)
        short = []
        for start in range(0, len(todo), step):
            rows = todo[start:start + step]
            d, idx = tree.query(points[rows], k=kq, workers=-1)
            d, idx = d.reshape(len(rows), kq), idx.reshape(len(rows), kq)
            reached = np.cumsum(w[idx], axis=1) >= k
            done = reached[:, -1]
            out[rows[done]] = d[done, np.argmax(reached[done], axis=1)]
            short.append(rows[~done])
        todo = np.concatenate(short)
        if kq == n:
            break
        kq = min(n, kq * 4)
    return out


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
    ``grid`` only for the default ``buffer_m``. See the module notes for every default.

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
    common = {"area_columns": area_columns, "min_incidents": min_incidents,
              "repeat_locations_table": repeat_locations_table}
    if method == "threshold":
        if scores is not None and not isinstance(scores, np.ndarray) and hasattr(scores, "grid"):
            grid = scores.grid if grid is None else grid
            scores = scores.values
        if scores is None:
            x, y, _ = incident_xy(incidents)
            if grid is None:
                grid = make_grid((x.min(), y.min(), x.max(), y.max()) if len(x) else (0, 0, 0, 0))
            scores = bin_counts(grid, x, y)
        if grid is None:
            raise InputError("scores were given without a grid; pass grid= (or a surface "
                             "object with .values and .grid)")
        return threshold_hotspots(scores, grid, incidents, threshold=threshold,
                                  quantile=quantile, k_sd=k_sd, **common)
    point = {"hull": hull, "buffer_m": buffer_m, "grid": grid, **common}
    if method == "dbscan":
        return dbscan_hotspots(incidents, eps_m=eps_m, min_samples=min_samples, **point)
    if method == "hdbscan":
        return hdbscan_hotspots(incidents, min_cluster_size=min_cluster_size,
                                min_samples=min_samples, **point)
    raise InputError(f"method must be 'threshold', 'dbscan' or 'hdbscan', got {method!r}")


def threshold_hotspots(
    scores: np.ndarray,
    grid: Grid,
    incidents: pd.DataFrame,
    *,
    threshold: str | float = "quantile",
    quantile: float = 0.99,
    k_sd: float = 2.0,
    connectivity: int = 8,
    min_incidents: int | None = None,
    area_columns: Sequence[str] = (),
    repeat_locations_table: pd.DataFrame | None = None,
) -> HotspotSet:
    """Hotspots as connected groups of cells whose score reaches a cutoff.

    Parameters
    ----------
    scores
        ``(nrows, ncols)`` cell scores, first row northmost; NaN cells and cells outside
        ``grid.mask`` are never hotspots.
    grid
        The grid of ``scores``.
    incidents
        The incidents (x/y frame or metric GeoDataFrame) counted into the hotspots.
    threshold
        ``"quantile"``, ``"mean_sd"`` or a cutoff score (module notes).
    quantile, k_sd
        Parameters of the two rules.
    connectivity
        8 (corner neighbours join, the default) or 4 (edge neighbours only).
    min_incidents
        Drop hotspots with fewer member incidents (default 1).
    area_columns, repeat_locations_table
        Area layers to summarise and an optional repeat-location table (x, y columns).

    Examples
    --------
    >>> g = Grid(xmin=0.0, ymax=30.0, cell_size_m=10.0, nrows=3, ncols=3)
    >>> s = np.array([[5.0, 0, 0], [0, 5, 0], [0, 0, 1]])
    >>> pts = pd.DataFrame({"x": [5.0, 15.0, 25.0], "y": [25.0, 15.0, 5.0]})
    >>> threshold_hotspots(s, g, pts, threshold=5.0).polygons["area_m2"].tolist()
    [200.0]
    >>> threshold_hotspots(s, g, pts, threshold=5.0, connectivity=4).polygons["area_m2"].tolist()
    [100.0, 100.0]
    """
    from scipy import ndimage

    scores = np.asarray(scores, dtype=float)
    if scores.shape != grid.shape:
        raise InputError(f"scores has shape {scores.shape} but the grid is {grid.shape}")
    if connectivity not in (4, 8):
        raise InputError(f"connectivity must be 4 or 8, got {connectivity!r}")
    x, y, crs = incident_xy(incidents)
    _same_crs(crs, grid.crs)
    valid = grid.in_area & np.isfinite(scores)
    cutoff, rule = _cutoff(scores[valid], threshold, quantile, k_sd)
    log.info("Hotspot cutoff set to %.6g (rule: %s)", cutoff, rule)
    selected = valid & (scores >= cutoff) & (scores > 0)
    comp, n_comp = ndimage.label(selected, structure=ndimage.generate_binary_structure(
        2, 2 if connectivity == 8 else 1))
    rows, cols = np.nonzero(comp)
    geoms = _cell_unions(grid, rows, cols, comp[rows, cols], n_comp)
    r, c, on = grid.cell_of(x, y)
    raw = np.zeros(len(x), dtype=np.int64)
    raw[on] = comp[r[on], c[on]]
    params = {"threshold": threshold, "threshold_rule": rule, "cutoff": float(cutoff),
              "quantile": quantile, "k_sd": k_sd, "connectivity": connectivity,
              "cells_selected": int(selected.sum()), "cell_size_m": grid.cell_size_m,
              **_min_params(min_incidents, 1, "default 1")}
    return _result(incidents, raw, geoms, crs, "threshold", params, area_columns,
                   repeat_locations_table)


def dbscan_hotspots(
    incidents: pd.DataFrame,
    *,
    eps_m: float | None = None,
    min_samples: int | None = None,
    min_incidents: int | None = None,
    hull: str = "concave",
    buffer_m: float | None = None,
    grid: Grid | None = None,
    area_columns: Sequence[str] = (),
    repeat_locations_table: pd.DataFrame | None = None,
) -> HotspotSet:
    """DBSCAN hotspots on distinct locations weighted by their incidents, in metres.

    ``eps_m`` and ``min_samples`` default to the ``"k-distance q0.05"`` and ``"n/1000"``
    rules (module notes).

    Examples
    --------
    >>> pts = pd.DataFrame({"x": [0.0] * 6 + [30.0, 500.0], "y": [0.0] * 6 + [0.0, 0.0]})
    >>> hs = dbscan_hotspots(pts, eps_m=50, min_samples=5, hull="buffer", buffer_m=10)
    >>> hs.labels.tolist(), hs.polygons["incidents"].tolist()
    ([1, 1, 1, 1, 1, 1, 1, 0], [7])
    """
    from sklearn.cluster import DBSCAN

    x, y, crs = incident_xy(incidents)
    _check_hull(hull)
    pts, inverse, weight = _unique_locations(x, y)
    params: dict[str, Any] = {"engine": "sklearn.cluster.DBSCAN on distinct locations, "
                              "sample_weight = incidents per location",
                              "n_locations": len(pts)}
    ms, rule = _size(min_samples, "min_samples", len(x))
    params |= {"min_samples": ms, "min_samples_rule": rule}
    if eps_m is None:
        eps_m, rule = _auto_eps(pts, weight, ms)
        log.info("DBSCAN eps set to %g metres automatically (rule: %s)", eps_m, rule)
    else:
        eps_m, rule = positive_number(eps_m, "eps_m", unit="metres"), "explicit"
    params |= {"eps_m": eps_m, "eps_m_rule": rule}
    ulab = np.zeros(0, dtype=np.int64)
    if len(pts):
        fit = DBSCAN(eps=eps_m, min_samples=ms).fit(pts, sample_weight=weight)
        ulab = _nearest_core(pts, fit.labels_, fit.core_sample_indices_)
    buffer_m, brule = _buffer(buffer_m, grid, eps_m / 2, "eps_m / 2")
    params |= _hull_params(hull, buffer_m, brule)
    params |= _min_params(min_incidents, 1, "default 1")
    return _point_result(incidents, pts, ulab, inverse, crs, "dbscan", params, hull,
                         area_columns, repeat_locations_table)


def hdbscan_hotspots(
    incidents: pd.DataFrame,
    *,
    min_cluster_size: int | None = None,
    min_samples: int | None = None,
    cluster_selection_method: str = "leaf",
    engine: str = "auto",
    min_incidents: int | None = None,
    hull: str = "concave",
    buffer_m: float | None = None,
    grid: Grid | None = None,
    area_columns: Sequence[str] = (),
    repeat_locations_table: pd.DataFrame | None = None,
) -> HotspotSet:
    """HDBSCAN hotspots (``fast_hdbscan`` on weighted distinct locations when available).

    ``min_cluster_size`` defaults to the ``"n/1000"`` rule and ``min_samples`` to
    ``min_cluster_size``. ``cluster_selection_method="leaf"`` (the default here) keeps the
    smallest dense clusters; ``"eom"`` tends to return whole towns. ``engine`` is
    ``"auto"``, ``"fast_hdbscan"`` or ``"sklearn"``; the one used is in ``params``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> xy = np.vstack([rng.normal(0, 5, (40, 2)), rng.normal(1000, 5, (40, 2))])
    >>> hs = hdbscan_hotspots(pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]}),
    ...                       min_cluster_size=20, engine="sklearn")
    >>> hs.polygons["incidents"].tolist()
    [40, 40]
    """
    x, y, crs = incident_xy(incidents)
    _check_hull(hull)
    mcs, mcs_rule = _size(min_cluster_size, "min_cluster_size", len(x))
    ms = _positive_int(min_samples, "min_samples") or mcs
    if cluster_selection_method not in ("leaf", "eom"):
        raise InputError("cluster_selection_method must be 'leaf' or 'eom', got "
                         f"{cluster_selection_method!r}")
    engine = _hdbscan_engine(engine)
    pts, inverse, weight = _unique_locations(x, y)
    params: dict[str, Any] = {
        "min_cluster_size": mcs, "min_cluster_size_rule": mcs_rule,
        "min_samples": ms, "min_samples_rule": "explicit" if min_samples else "min_cluster_size",
        "cluster_selection_method": cluster_selection_method, "n_locations": len(pts)}
    buffer_m, brule = _buffer(buffer_m, grid, *_half_nn(pts))
    opts = {"min_cluster_size": mcs, "min_samples": ms,
            "cluster_selection_method": cluster_selection_method}
    if engine == "fast_hdbscan":
        import fast_hdbscan

        params["engine"] = "fast_hdbscan on distinct locations, sample_weight = incidents"
        ulab = np.full(len(pts), -1)
        if len(pts) >= 2:
            # fast_hdbscan works in float32: centre the coordinates so metres keep ~mm.
            ulab = fast_hdbscan.HDBSCAN(**opts, reproducible=True).fit(
                pts - pts.min(axis=0), sample_weight=weight.astype(float)).labels_
    else:
        from sklearn.cluster import HDBSCAN

        pts, inverse = np.column_stack([x, y]), np.arange(len(x))
        params["engine"] = "sklearn.cluster.HDBSCAN on every incident (no sample weights)"
        ulab = np.full(len(pts), -1)
        if len(pts) > ms:
            ulab = HDBSCAN(**opts, copy=True).fit(pts).labels_
    params |= _hull_params(hull, buffer_m, brule)
    params |= _min_params(min_incidents, mcs, "min_cluster_size")
    return _point_result(incidents, pts, ulab, inverse, crs, "hdbscan", params, hull,
                         area_columns, repeat_locations_table)


# --- parameters -------------------------------------------------------------------------

def _cutoff(values: np.ndarray, threshold: str | float, quantile: float, k_sd: float
            ) -> tuple[float, str]:
    if threshold == "quantile":
        if not 0 < quantile < 1:
            raise InputError(f"quantile must be between 0 and 1, got {quantile!r}")
        # FFT convolution leaves round-off of ~1e-16 of the peak in empty cells: those are
        # zero, not "above zero".
        top = float(values.max()) if values.size else 0.0
        positive = values[values > top * 1e-9] if top > 0 else values[:0]
        if positive.size == 0:
            return math.inf, f"quantile {quantile:g} of cells above zero (none)"
        return (float(np.quantile(positive, quantile)),
                f"quantile {quantile:g} of the {positive.size} in-area cells above zero")
    if threshold == "mean_sd":
        if values.size == 0:
            return math.inf, f"mean + {k_sd:g} sd of in-area cells (none)"
        return (float(values.mean() + k_sd * values.std()),
                f"mean + {k_sd:g} sd of the {values.size} in-area cells")
    if isinstance(threshold, int | float) and not isinstance(threshold, bool) \
            and math.isfinite(threshold):
        return float(threshold), "explicit"
    raise InputError(f"threshold must be 'quantile', 'mean_sd' or a number, got {threshold!r}")


def _size(value: int | None, name: str, n: int) -> tuple[int, str]:
    if value is not None:
        return int(_positive_int(value, name)), "explicit"
    size = auto_min_samples(n)
    log.info("%s set to %d incidents automatically (rule: n/1000, 0.1%% of %d incidents, "
             "at least 5)", name, size, n)
    return size, "n/1000"


def _auto_eps(pts: np.ndarray, weight: np.ndarray, min_samples: int) -> tuple[float, str]:
    kd = weighted_k_distance(pts, weight, min_samples)
    kd = kd[np.isfinite(kd)]
    raw = float(np.quantile(kd, EPS_QUANTILE)) if kd.size else EPS_RANGE_M[1]
    eps = float(min(max(round(raw), EPS_RANGE_M[0]), EPS_RANGE_M[1]))
    return eps, (f"k-distance q{EPS_QUANTILE:g}: {EPS_QUANTILE:.0%} quantile ({raw:.1f} m) of "
                 f"the distance within which each distinct location gathers {min_samples} "
                 f"incidents, rounded and kept within {EPS_RANGE_M[0]:g}-{EPS_RANGE_M[1]:g} m")


def _half_nn(pts: np.ndarray) -> tuple[float, str]:
    from scipy.spatial import cKDTree

    half = 0.0
    if len(pts) >= 2:
        d, _ = cKDTree(pts).query(pts, k=2)
        half = float(np.median(d[:, 1])) / 2
    return (max(round(half, 1), MIN_BUFFER_M),
            f"half the median nearest-neighbour distance of distinct locations, "
            f"at least {MIN_BUFFER_M:g} m")


def _buffer(buffer_m: float | None, grid: Grid | None, auto: float, rule: str
            ) -> tuple[float, str]:
    if buffer_m is not None:
        return positive_number(buffer_m, "buffer_m", unit="metres"), "explicit"
    if grid is not None:
        auto, rule = grid.cell_size_m / 2, "half a grid cell"
    log.info("Hotspot polygons buffered by %g metres automatically (rule: %s)", auto, rule)
    return float(auto), rule


def _hull_params(hull: str, buffer_m: float, rule: str) -> dict[str, Any]:
    out: dict[str, Any] = {"hull": hull, "buffer_m": buffer_m, "buffer_m_rule": rule}
    if hull == "concave":
        out["concave_ratio"] = CONCAVE_RATIO
    return out


def _min_params(min_incidents: int | None, auto: int, rule: str) -> dict[str, Any]:
    if min_incidents is None:
        return {"min_incidents": auto, "min_incidents_rule": rule}
    return {"min_incidents": _positive_int(min_incidents, "min_incidents"),
            "min_incidents_rule": "explicit"}


def _hdbscan_engine(engine: str) -> str:
    if engine not in ("auto", "fast_hdbscan", "sklearn"):
        raise InputError(f"engine must be 'auto', 'fast_hdbscan' or 'sklearn', got {engine!r}")
    if engine == "sklearn":
        return engine
    try:
        import fast_hdbscan  # noqa: F401
    except ImportError:
        if engine == "fast_hdbscan":
            raise InputError("engine='fast_hdbscan' but fast_hdbscan is not installed; "
                             "pip install fast-hdbscan (or use engine='sklearn')") from None
        log.info("fast_hdbscan not installed: using scikit-learn HDBSCAN on every incident")
        return "sklearn"
    return "fast_hdbscan"


def _positive_int(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InputError(f"{name} must be a whole number of at least 1, got {value!r}")
    return int(value)


def _check_hull(hull: str) -> None:
    if hull not in _HULLS:
        raise InputError(f"hull must be one of {', '.join(map(repr, _HULLS))}, got {hull!r}")


def _same_crs(crs: str, grid_crs: str) -> None:
    from pyproj import CRS

    if CRS.from_user_input(crs) != CRS.from_user_input(grid_crs):
        raise CRSError(f"incidents are in {crs} but the grid is in {grid_crs}; "
                       f"reproject the incidents, e.g. gdf.to_crs({grid_crs!r})")


# --- geometry ---------------------------------------------------------------------------

def _unique_locations(x: np.ndarray, y: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pts, inverse, counts = np.unique(np.column_stack([x, y]), axis=0, return_inverse=True,
                                     return_counts=True)
    return pts, inverse.ravel(), counts


def _nearest_core(pts: np.ndarray, labels: np.ndarray, core: np.ndarray) -> np.ndarray:
    """Give each border location the cluster of its nearest core location.

    DBSCAN hands a border point within reach of two clusters to whichever it meets first,
    which depends on row order; the nearest core does not.
    """
    from scipy.spatial import cKDTree

    border = np.flatnonzero(labels >= 0)
    border = border[~np.isin(border, core)]
    if len(border):
        _, nearest = cKDTree(pts[core]).query(pts[border])
        labels = labels.copy()
        labels[border] = labels[core[nearest]]
    return labels


def _cell_unions(grid: Grid, rows: np.ndarray, cols: np.ndarray, comp: np.ndarray,
                 n: int) -> np.ndarray:
    # Edges from one arange, so neighbouring boxes share bit-identical coordinates and
    # their union leaves no slivers.
    xe = grid.xmin + grid.cell_size_m * np.arange(grid.ncols + 1)
    ye = grid.ymax - grid.cell_size_m * np.arange(grid.nrows + 1)
    boxes = shapely.box(xe[cols], ye[rows + 1], xe[cols + 1], ye[rows])
    order = np.argsort(comp, kind="stable")
    splits = np.searchsorted(comp[order], np.arange(2, n + 1))
    return np.array([shapely.coverage_union_all(b) for b in np.split(boxes[order], splits)]
                    if n else [], dtype=object)


def _point_result(incidents: pd.DataFrame, pts: np.ndarray, plab: np.ndarray,
                  inverse: np.ndarray, crs: str, method: str, params: dict[str, Any],
                  hull: str, area_columns: Sequence[str], repeat_table: pd.DataFrame | None
                  ) -> HotspotSet:
    member = plab >= 0
    ids, dense = np.unique(plab[member], return_inverse=True)
    plab_dense = np.zeros(len(plab), dtype=np.int64)
    plab_dense[member] = dense.ravel() + 1
    order = np.argsort(plab_dense[member], kind="stable")
    shapes = shapely.multipoints(pts[member][order], indices=plab_dense[member][order] - 1)
    if hull == "concave":
        shapes = shapely.concave_hull(shapes, ratio=CONCAVE_RATIO)
    elif hull == "convex":
        shapes = shapely.convex_hull(shapes)
    geoms = shapely.buffer(shapes, params["buffer_m"]) if len(ids) else np.array([], object)
    return _result(incidents, plab_dense[inverse], geoms, crs, method, params, area_columns,
                   repeat_table)


# --- the result table -------------------------------------------------------------------

def _result(incidents: pd.DataFrame, raw: np.ndarray, geoms: np.ndarray, crs: str,
            method: str, params: dict[str, Any], area_columns: Sequence[str],
            repeat_table: pd.DataFrame | None) -> HotspotSet:
    """Number hotspots by incidents (ties: north to south, then west to east), summarise."""
    area_columns = list(area_columns)
    missing = [c for c in area_columns if c not in incidents.columns]
    if missing:
        raise InputError(f"area_columns {missing} are not columns of the incidents; "
                         f"columns are {list(incidents.columns)}")
    counts = np.bincount(raw, minlength=len(geoms) + 1)[1:]
    centre = shapely.centroid(geoms)
    cx, cy = shapely.get_x(centre), shapely.get_y(centre)
    keep = np.flatnonzero(counts >= max(params["min_incidents"], 1))
    order = keep[np.lexsort((cx[keep], -cy[keep], -counts[keep]))]
    new_id = np.zeros(len(geoms) + 1, dtype=np.int64)
    new_id[order + 1] = np.arange(1, len(order) + 1)
    labels = new_id[raw]
    geoms = geoms[order]
    n_inc = counts[order]
    area = shapely.area(geoms) if len(geoms) else np.zeros(0)
    ids = np.arange(1, len(order) + 1)
    frame = pd.DataFrame({
        "hotspot_id": ids,
        "label": "",
        "incidents": n_inc,
        "share": n_inc / max(len(labels), 1),
        "area_m2": area,
        "density_km2": n_inc / (area / 1e6) if len(area) else np.zeros(0),
        "top_categories": _top_categories(incidents, labels, ids, n_inc),
    })
    for layer in area_columns:
        frame[layer], frame[f"{layer}_all"] = _areas(incidents[layer], labels, ids)
    # Labels name streets, then the beat (else the first area layer): hotspots.labels.
    suffix = "beat" if "beat" in area_columns else (area_columns[0] if area_columns else None)
    frame["label"] = _labels(incidents, labels, ids, centre[order],
                             frame[suffix].tolist() if suffix else None)
    frame["repeat_locations"] = _repeat_counts(repeat_table, geoms)
    params = {"method": method, "n_incidents": len(labels), "area_columns": area_columns,
              **params}
    log.info("%d %s hotspots hold %d of %d incidents", len(ids), method,
             int((labels > 0).sum()), len(labels))
    polygons = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=crs))
    return HotspotSet(polygons, labels, method, params)


def _counts_by(labels: np.ndarray, values: pd.Series) -> pd.DataFrame:
    """(id, value, n) for member incidents, most frequent first within id, then by value."""
    m = labels > 0
    f = pd.DataFrame({"id": labels[m], "value": values.to_numpy()[m]}).dropna()
    c = f.groupby(["id", "value"], sort=False).size().reset_index(name="n")
    return c.sort_values(["id", "n", "value"], ascending=[True, False, True], kind="stable")


def _labels(incidents: pd.DataFrame, labels: np.ndarray, ids: np.ndarray,
            centres: np.ndarray, areas: list | None) -> list[str]:
    """Street labels by the rule of :mod:`hotspots.labels`; coordinates without text."""
    fallback = [f"near {shapely.get_x(p):.0f}, {shapely.get_y(p):.0f}" for p in centres]
    if "location" not in incidents.columns or not len(ids):
        return fallback
    x, y, _ = incident_xy(incidents)
    xy = np.column_stack([shapely.get_x(centres), shapely.get_y(centres)])
    table = place_labels(labels, ids, incidents["location"], x=x, y=y, centres=xy,
                         areas=areas, fallback=fallback)
    return table["label"].tolist()


def _top_categories(incidents: pd.DataFrame, labels: np.ndarray, ids: np.ndarray,
                    n_inc: np.ndarray) -> list[str]:
    if "category" not in incidents.columns or not len(ids):
        return [""] * len(ids)
    c = _counts_by(labels, incidents["category"])
    c = c[c.groupby("id").cumcount() < TOP_CATEGORIES]
    total = dict(zip(ids, n_inc, strict=True))
    text = [f"{v} ({100 * n / total[i]:.0f}%)" for i, v, n in c.itertuples(index=False)]
    joined = pd.Series(text, index=c["id"].to_numpy(), dtype=object).groupby(level=0).agg("; ".join)
    return [joined.get(i, "") for i in ids]


def _areas(values: pd.Series, labels: np.ndarray, ids: np.ndarray) -> tuple[list, list[str]]:
    c = _counts_by(labels, values)
    majority = mode_per_group(labels[labels > 0], values.to_numpy()[labels > 0])
    every = c.assign(value=c["value"].astype(str)).groupby("id")["value"].agg("; ".join)
    return ([majority.get(i, pd.NA) for i in ids], [every.get(i, "") for i in ids])


def _repeat_counts(table: pd.DataFrame | None, geoms: np.ndarray) -> pd.Series:
    if table is None:
        return pd.Series(pd.NA, index=range(len(geoms)), dtype="Int64")
    if not {"x", "y"} <= set(table.columns):
        raise InputError("repeat_locations_table needs x and y columns (as made by "
                         f"hotspots.rank.repeat_locations); it has {list(table.columns)}")
    points = shapely.points(table["x"].to_numpy(float), table["y"].to_numpy(float))
    inside, _ = shapely.STRtree(points).query(geoms, predicate="covers")
    return pd.Series(np.bincount(inside, minlength=len(geoms)), dtype="Int64")
