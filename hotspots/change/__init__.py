"""Hotspot change between two periods: which hot spots are new, persistent or gone.

``hotspot_change(gi_before, gi_after, grid=..., counts_before=..., counts_after=...)``
compares the grid Gi* classes of two periods cell by cell and hotspot by hotspot, with the
fuzzy similarity and fuzzy kappa of :mod:`hotspots.change._fuzzy`; ``s_index`` compares
the periods' shares of incidents area by area (:mod:`hotspots.change._sindex`).
Methods: ``docs/change.md``.

Cell classes (``change``), from each period's class (hot: Gi* bin > 0, cold: < 0):
``persistent hot``, ``new hot``, ``gone hot``, ``hot to cold``, ``persistent cold``,
``new cold``, ``gone cold``, ``cold to hot`` and ``not significant``.

A *hotspot* is a group of touching cells (8-connected) that are hot in either period; it
is ``persistent`` when some of its cells are hot in both, ``new`` when its cells are hot
only after, ``gone`` when only before, and ``shifted`` when its before and after hot cells
touch but do not overlap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import ndimage

from hotspots.grid import Grid, cell_polygons
from hotspots.schema import CRS_METRIC, InputError

from ._fuzzy import (
    CLASSES,
    DEFAULT_HALVING_CELLS,
    DEFAULT_PERMUTATIONS,
    DEFAULT_RADIUS_CELLS,
    FuzzySimilarity,
    fuzzy_similarity,
    hot_cold,
)
from ._sindex import ANDRESEN_SAMPLE_SHARE, ANDRESEN_SAMPLES, METHODS, s_index

__all__ = [
    "ANDRESEN_SAMPLES",
    "ANDRESEN_SAMPLE_SHARE",
    "CELL_CLASSES",
    "CLASSES",
    "DEFAULT_HALVING_CELLS",
    "DEFAULT_PERMUTATIONS",
    "DEFAULT_RADIUS_CELLS",
    "FuzzySimilarity",
    "HOTSPOT_RULE",
    "HotspotChange",
    "METHODS",
    "cell_classes",
    "fuzzy_similarity",
    "hot_cold",
    "hotspot_change",
    "s_index",
]

#: ``change`` of a cell from its (before, after) classes.
CELL_CLASSES = {
    (1, 1): "persistent hot",
    (0, 1): "new hot",
    (1, 0): "gone hot",
    (1, -1): "hot to cold",
    (-1, -1): "persistent cold",
    (0, -1): "new cold",
    (-1, 0): "gone cold",
    (-1, 1): "cold to hot",
    (0, 0): "not significant",
}
#: How cells make hotspots and how a hotspot's status is decided.
HOTSPOT_RULE = (
    "8-connected cells hot (Gi* bin > 0) in either period; persistent: "
    "some cell hot in both; shifted: hot before and after in touching but different "
    "cells; new: hot only after; gone: hot only before"
)


@dataclass(frozen=True, kw_only=True)
class HotspotChange:
    """Result of :func:`hotspot_change`.

    Attributes
    ----------
    cells
        One row per in-area cell that is hot or cold in either period (the others are
        ``not significant`` in both, with similarity 1): ``row``, ``col``,
        ``before_bin``, ``after_bin`` (Gi* bins),
        ``before_class``, ``after_class``, ``change``, ``similarity``, ``before``,
        ``after`` (counts), ``hotspot_id`` (0: none), geometry (EPSG:27700 squares).
    hotspots
        One row per hotspot: ``hotspot_id``, ``status``, ``cells``, ``persistent_cells``,
        ``new_cells``, ``gone_cells``, ``before``, ``after`` (counts), ``similarity``
        (mean over its cells), geometry (union of its cells).
    similarity
        The :class:`FuzzySimilarity` of the two maps.
    summary
        Counts of cells and hotspots per class, and the hotspot rule.
    """

    cells: gpd.GeoDataFrame = field(repr=False)
    hotspots: gpd.GeoDataFrame = field(repr=False)
    similarity: FuzzySimilarity
    summary: dict[str, Any]

    def params(self) -> dict[str, Any]:
        """JSON-ready parameters: the fuzzy comparison's (with ``expected_rule``) and the
        rules that make cells classes and hotspots."""
        return {
            "fuzzy": self.similarity.params(),
            "cell_rule": "hot: Gi* bin > 0, cold: < 0, in each period; change from the "
            "(before, after) classes (CELL_CLASSES)",
            "hotspot_rule": HOTSPOT_RULE,
        }


def cell_classes(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The ``change`` class of each cell from two grids of Gi* bins (object array).

    Examples
    --------
    >>> cell_classes(np.array([3, 0, 2, -1]), np.array([1, 2, 0, 0])).tolist()
    ['persistent hot', 'new hot', 'gone hot', 'gone cold']
    """
    a, b = hot_cold(before), hot_cold(after)
    out = np.empty(a.shape, dtype=object)
    for (ca, cb), name in CELL_CLASSES.items():
        out[(a == ca) & (b == cb)] = name
    return out


def hotspot_change(
    gi_before: np.ndarray,
    gi_after: np.ndarray,
    *,
    grid: Grid,
    counts_before: np.ndarray | None = None,
    counts_after: np.ndarray | None = None,
    radius_cells: float = DEFAULT_RADIUS_CELLS,
    halving_cells: float = DEFAULT_HALVING_CELLS,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
) -> HotspotChange:
    """Compare two periods' Gi* classes on ``grid``: per cell, per hotspot and overall.

    Parameters
    ----------
    gi_before, gi_after
        Gi* bins (``GiStarResult.classes``) of each period on ``grid``.
    grid
        The common grid (its ``mask`` is the study area).
    counts_before, counts_after
        Incidents per cell in each period, carried to the outputs (optional).
    radius_cells, halving_cells, permutations, seed
        Of :func:`fuzzy_similarity`.
    """
    before = np.asarray(gi_before)
    after = np.asarray(gi_after)
    if before.shape != grid.shape or after.shape != grid.shape:
        raise InputError(
            f"Gi* grids {before.shape} and {after.shape} do not match the grid {grid.shape}"
        )
    mask = grid.in_area
    sim = fuzzy_similarity(
        before,
        after,
        mask=mask,
        radius_cells=radius_cells,
        halving_cells=halving_cells,
        permutations=permutations,
        seed=seed,
    )
    zeros = np.zeros(grid.shape)
    cb = zeros if counts_before is None else np.asarray(counts_before, dtype=float)
    ca = zeros if counts_after is None else np.asarray(counts_after, dtype=float)
    a, b = hot_cold(before), hot_cold(after)
    hot_any = mask & ((a > 0) | (b > 0))
    labels, n = ndimage.label(hot_any, structure=np.ones((3, 3), dtype=int))
    keep = mask & ((a != 0) | (b != 0))  # a cell not significant in both has s = 1
    rows, cols = np.nonzero(keep)
    change = cell_classes(before, after)
    cells = gpd.GeoDataFrame(
        {
            "row": rows,
            "col": cols,
            "before_bin": before[rows, cols].astype(int),
            "after_bin": after[rows, cols].astype(int),
            "before_class": [CLASSES[int(v)] for v in a[rows, cols]],
            "after_class": [CLASSES[int(v)] for v in b[rows, cols]],
            "change": change[rows, cols],
            "similarity": np.round(sim.cells[rows, cols], 6),
            "before": cb[rows, cols].astype(np.int64),
            "after": ca[rows, cols].astype(np.int64),
            "hotspot_id": labels[rows, cols].astype(int),
        },
        geometry=cell_polygons(grid, rows, cols),
        crs=grid.crs or CRS_METRIC,
    )
    hotspots = _hotspots(labels, n, a, b, cb, ca, sim.cells, grid)
    summary = {
        "cells": {
            name: int(((change == name) & mask).sum())
            for name in CELL_CLASSES.values()
            if name != "not significant"
        },
        "hotspots": {
            s: int((hotspots["status"] == s).sum())
            for s in ("persistent", "shifted", "new", "gone")
        },
        "hotspot_rule": HOTSPOT_RULE,
    }
    return HotspotChange(cells=cells, hotspots=hotspots, similarity=sim, summary=summary)


def _hotspots(labels, n, a, b, cb, ca, sim_cells, grid) -> gpd.GeoDataFrame:
    cols_out = ["hotspot_id", "status", "cells", "persistent_cells", "new_cells"]
    cols_out += ["gone_cells", "before", "after", "similarity"]
    if n == 0:
        return gpd.GeoDataFrame({c: [] for c in cols_out}, geometry=[], crs=grid.crs or CRS_METRIC)
    index = np.arange(1, n + 1)

    def total(values):
        return np.asarray(ndimage.sum(values, labels, index))

    both = ((a > 0) & (b > 0)).astype(float)
    only_after = ((a <= 0) & (b > 0)).astype(float)
    only_before = ((a > 0) & (b <= 0)).astype(float)
    persistent, new, gone = total(both), total(only_after), total(only_before)
    status = np.where(
        persistent > 0,
        "persistent",
        np.where((new > 0) & (gone > 0), "shifted", np.where(new > 0, "new", "gone")),
    )
    rows, cols = np.nonzero(labels)
    ids = labels[rows, cols]
    boxes = cell_polygons(grid, rows, cols)
    order = np.argsort(ids, kind="stable")
    splits = np.cumsum(np.bincount(ids, minlength=n + 1)[1:])[:-1]
    geoms = [shapely.union_all(part) for part in np.split(boxes[order], splits)]
    frame = pd.DataFrame(
        {
            "hotspot_id": index,
            "status": status,
            "cells": total(np.ones(labels.shape)).astype(int),
            "persistent_cells": persistent.astype(int),
            "new_cells": new.astype(int),
            "gone_cells": gone.astype(int),
            "before": total(cb).round().astype(np.int64),
            "after": total(ca).round().astype(np.int64),
            "similarity": np.round(np.asarray(ndimage.mean(sim_cells, labels, index)), 6),
        }
    )
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=grid.crs or CRS_METRIC)
