"""Automatic defaults of the hotspot methods, each with the rule that chose it.

Every function here returns a value and the name of its rule (``"explicit"`` when the
caller gave the value), which :class:`~hotspots.clusters.HotspotSet` records in ``params``
as ``<name>_rule``: ``min_samples``/``min_cluster_size`` (``"n/1000"``), DBSCAN's ``eps_m``
(``"k-distance q0.05"``), ``buffer_m`` and ``min_incidents``. The package notes of
:mod:`hotspots.clusters` give each rule and why.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from hotspots._validation import positive_number, whole_number
from hotspots.grid import Grid

log = logging.getLogger("hotspots.clusters")

#: Quantile of the weighted k-distances of distinct locations that sets ``eps_m``.
EPS_QUANTILE = 0.05
EPS_RANGE_M = (10.0, 1000.0)
MIN_BUFFER_M = 5.0
# Rows x neighbours held at once by the k-distance query (bounds its memory to ~32 MB).
_KNN_BLOCK = 2_000_000


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
            rows = todo[start : start + step]
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


def _size(value: int | None, name: str, n: int) -> tuple[int, str]:
    """``min_samples``/``min_cluster_size``: the value given, else the ``"n/1000"`` rule."""
    if value is not None:
        return whole_number(value, name), "explicit"
    size = auto_min_samples(n)
    log.info(
        "%s set to %d incidents automatically (rule: n/1000, 0.1%% of %d incidents, at least 5)",
        name,
        size,
        n,
    )
    return size, "n/1000"


def _auto_eps(pts: np.ndarray, weight: np.ndarray, min_samples: int) -> tuple[float, str]:
    """DBSCAN's ``eps_m`` by the ``"k-distance q0.05"`` rule."""
    kd = weighted_k_distance(pts, weight, min_samples)
    kd = kd[np.isfinite(kd)]
    raw = float(np.quantile(kd, EPS_QUANTILE)) if kd.size else EPS_RANGE_M[1]
    eps = float(min(max(round(raw), EPS_RANGE_M[0]), EPS_RANGE_M[1]))
    return eps, (
        f"k-distance q{EPS_QUANTILE:g}: {EPS_QUANTILE:.0%} quantile ({raw:.1f} m) of "
        f"the distance within which each distinct location gathers {min_samples} "
        f"incidents, rounded and kept within {EPS_RANGE_M[0]:g}-{EPS_RANGE_M[1]:g} m"
    )


def _half_nn(pts: np.ndarray) -> tuple[float, str]:
    """HDBSCAN's automatic ``buffer_m``: half the median nearest-neighbour distance."""
    from scipy.spatial import cKDTree

    half = 0.0
    if len(pts) >= 2:
        d, _ = cKDTree(pts).query(pts, k=2)
        half = float(np.median(d[:, 1])) / 2
    return (
        max(round(half, 1), MIN_BUFFER_M),
        f"half the median nearest-neighbour distance of distinct locations, "
        f"at least {MIN_BUFFER_M:g} m",
    )


def _buffer(buffer_m: float | None, grid: Grid | None, auto: float, rule: str) -> tuple[float, str]:
    """``buffer_m`` given, else half a grid cell when there is a grid, else ``auto``."""
    if buffer_m is not None:
        return positive_number(buffer_m, "buffer_m", unit="metres"), "explicit"
    if grid is not None:
        auto, rule = grid.cell_size_m / 2, "half a grid cell"
    log.info("Hotspot polygons buffered by %g metres automatically (rule: %s)", auto, rule)
    return float(auto), rule


def _min_params(min_incidents: int | None, auto: int, rule: str) -> dict[str, Any]:
    """``min_incidents`` and its rule, for ``params`` (``auto`` by ``rule`` when None)."""
    if min_incidents is None:
        return {"min_incidents": auto, "min_incidents_rule": rule}
    return {
        "min_incidents": whole_number(min_incidents, "min_incidents"),
        "min_incidents_rule": "explicit",
    }
