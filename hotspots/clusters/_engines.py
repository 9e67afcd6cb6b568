"""Density-clustering engines: DBSCAN and HDBSCAN on distinct locations in metres.

police.uk snaps incidents to map points, so many share a location: both engines cluster
the distinct locations weighted by their incidents (:func:`_unique_locations`), then give
every incident its location's cluster. DBSCAN with ``sample_weight`` reproduces running
it on every incident, with border locations going to their nearest core
(:func:`_nearest_core`); ``fast_hdbscan`` with weights approximates HDBSCAN on every
incident, and scikit-learn's HDBSCAN (no weights) runs on every incident.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hotspots._validation import positive_number, whole_number
from hotspots.clusters._polygons import _check_hull, _hull_params, _hull_polygons
from hotspots.clusters._result import HotspotSet, _result
from hotspots.clusters._rules import _auto_eps, _buffer, _half_nn, _min_params, _size
from hotspots.grid import Grid, points_xy
from hotspots.schema import InputError

log = logging.getLogger("hotspots.clusters")


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
    rules (package notes).

    Examples
    --------
    >>> pts = pd.DataFrame({"x": [0.0] * 6 + [30.0, 500.0], "y": [0.0] * 6 + [0.0, 0.0]})
    >>> hs = dbscan_hotspots(pts, eps_m=50, min_samples=5, hull="buffer", buffer_m=10)
    >>> hs.labels.tolist(), hs.polygons["incidents"].tolist()
    ([1, 1, 1, 1, 1, 1, 1, 0], [7])
    """
    from sklearn.cluster import DBSCAN

    xy, crs = points_xy(incidents)
    _check_hull(hull)
    pts, inverse, weight = _unique_locations(xy)
    params: dict[str, Any] = {
        "engine": "sklearn.cluster.DBSCAN on distinct locations, "
        "sample_weight = incidents per location",
        "n_locations": len(pts),
    }
    ms, rule = _size(min_samples, "min_samples", len(xy))
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
    return _point_result(
        incidents,
        pts,
        ulab,
        inverse,
        crs,
        "dbscan",
        params,
        hull,
        area_columns,
        repeat_locations_table,
    )


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
    xy, crs = points_xy(incidents)
    _check_hull(hull)
    mcs, mcs_rule = _size(min_cluster_size, "min_cluster_size", len(xy))
    ms = mcs if min_samples is None else whole_number(min_samples, "min_samples")
    if cluster_selection_method not in ("leaf", "eom"):
        raise InputError(
            f"cluster_selection_method must be 'leaf' or 'eom', got {cluster_selection_method!r}"
        )
    engine = _hdbscan_engine(engine)
    pts, inverse, weight = _unique_locations(xy)
    params: dict[str, Any] = {
        "min_cluster_size": mcs,
        "min_cluster_size_rule": mcs_rule,
        "min_samples": ms,
        "min_samples_rule": "explicit" if min_samples else "min_cluster_size",
        "cluster_selection_method": cluster_selection_method,
        "n_locations": len(pts),
    }
    buffer_m, brule = _buffer(buffer_m, grid, *_half_nn(pts))
    opts = {
        "min_cluster_size": mcs,
        "min_samples": ms,
        "cluster_selection_method": cluster_selection_method,
    }
    if engine == "fast_hdbscan":
        import fast_hdbscan

        params["engine"] = "fast_hdbscan on distinct locations, sample_weight = incidents"
        ulab = np.full(len(pts), -1)
        if len(pts) >= 2:
            # fast_hdbscan works in float32: centre the coordinates so metres keep ~mm.
            ulab = (
                fast_hdbscan.HDBSCAN(**opts, reproducible=True)
                .fit(pts - pts.min(axis=0), sample_weight=weight.astype(float))
                .labels_
            )
    else:
        from sklearn.cluster import HDBSCAN

        pts, inverse = xy, np.arange(len(xy))
        params["engine"] = "sklearn.cluster.HDBSCAN on every incident (no sample weights)"
        ulab = np.full(len(pts), -1)
        if len(pts) > ms:
            ulab = HDBSCAN(**opts, copy=True).fit(pts).labels_
    params |= _hull_params(hull, buffer_m, brule)
    params |= _min_params(min_incidents, mcs, "min_cluster_size")
    return _point_result(
        incidents,
        pts,
        ulab,
        inverse,
        crs,
        "hdbscan",
        params,
        hull,
        area_columns,
        repeat_locations_table,
    )


def _hdbscan_engine(engine: str) -> str:
    if engine not in ("auto", "fast_hdbscan", "sklearn"):
        raise InputError(f"engine must be 'auto', 'fast_hdbscan' or 'sklearn', got {engine!r}")
    if engine == "sklearn":
        return engine
    try:
        import fast_hdbscan  # noqa: F401
    except ImportError:
        if engine == "fast_hdbscan":
            raise InputError(
                "engine='fast_hdbscan' but fast_hdbscan is not installed; "
                "pip install fast-hdbscan (or use engine='sklearn')"
            ) from None
        log.info("fast_hdbscan not installed: using scikit-learn HDBSCAN on every incident")
        return "sklearn"
    return "fast_hdbscan"


def _unique_locations(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct ``(n, 2)`` locations, each incident's location, and incidents per location."""
    pts, inverse, counts = np.unique(xy, axis=0, return_inverse=True, return_counts=True)
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


def _point_result(
    incidents: pd.DataFrame,
    pts: np.ndarray,
    plab: np.ndarray,
    inverse: np.ndarray,
    crs: str | None,
    method: str,
    params: dict[str, Any],
    hull: str,
    area_columns: Sequence[str],
    repeat_table: pd.DataFrame | None,
) -> HotspotSet:
    """The hotspots of cluster labels ``plab`` (-1: noise) of the locations ``pts``."""
    member = plab >= 0
    ids, dense = np.unique(plab[member], return_inverse=True)
    plab_dense = np.zeros(len(plab), dtype=np.int64)
    plab_dense[member] = dense.ravel() + 1
    geoms = _hull_polygons(pts, plab_dense, len(ids), hull, params["buffer_m"])
    return _result(
        incidents, plab_dense[inverse], geoms, crs, method, params, area_columns, repeat_table
    )
