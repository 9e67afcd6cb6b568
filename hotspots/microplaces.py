"""Micro-place hotspots: places one foot patrol can cover in a visit.

Hot-spots policing works on *micro-places*: addresses, street segments and small clusters of
them, not neighbourhoods. Sherman & Weisburd (1995, Minneapolis Hot Spots Patrol
Experiment) patrolled 110 hot spots each no longer than one street block, all visible from
one point; Koper (1995) found visits of about 10-15 minutes gave the longest residual
deterrence; the College of Policing hot spots policing guidance targets small, precisely
defined places ranked by concentration; Braga, Turchan, Papachristos & Hureau (2019, Campbell
systematic review, 65 studies) reviews programmes whose units are such micro-places.

:func:`microplace_hotspots` therefore caps every hotspot:

``max_area_m2`` (default :data:`DEFAULT_MAX_AREA_M2`, 100,000 m² = 0.1 km² = 10 ha) and
``max_extent_m`` (default :data:`DEFAULT_MAX_EXTENT_M`, 300 m)
    A hotspot's cells fit in a ``max_extent_m`` x ``max_extent_m`` box and cover at most
    ``max_area_m2`` -- about a 150 m walk from its centre to any edge: two or three street
    blocks, walked round in a 10-15 minute visit. A hotspot is always at least one cell;
    with cells larger than the caps, one cell is the hotspot (say so: use a finer grid).

Rule (``split_rule = "capped watershed"``)
    1. Cells are *selected* as by :func:`hotspots.clusters.threshold_hotspots` (cutoff rule
       ``threshold``/``quantile``/``k_sd``, score > 0, inside the study area).
    2. The score surface is smoothed with a Gaussian of one cell (``scipy.ndimage``) so
       that single noisy cells do not cut a street in two; selected cells are visited in
       order of smoothed score, highest first (ties: row-major from the north-west).
    3. Each not-yet-assigned cell in that order seeds a new micro-place, which floods to
       neighbouring selected cells (8-neighbours) in order of smoothed score, only
       *downhill or level* from the cell it is reached from (so two peaks become two
       places: a watershed), and only while the place stays within both caps.
    4. Cells left out by the caps seed places of their own in their turn. Places with
       fewer than ``min_incidents`` incidents are dropped.

:func:`top_microplaces` gives the same rows as ranking every place and keeping the first
``top_n``, but labels and describes only those (a run's seasonal map layers keep 20 of
some 500 places each).

Extra columns (beyond :data:`hotspots.clusters.LEADING_COLUMNS` and the area columns):
``incident_share`` (share of all input incidents, the same as ``share``), ``area_share``
(share of the study area), ``incidents_per_ha``, ``persistence`` (share of the data's months
in which the place had an incident; NaN without ``when``), ``peak_score`` (its highest
smoothed cell score), ``top_point_share``, ``artefact``, ``artefact_note`` (see
:mod:`hotspots.labels`).
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from hotspots._validation import check_same_crs, positive_number
from hotspots.clusters import (
    HotspotSet,
    _cell_unions,
    _cutoff,
    _min_params,
    _result,
)
from hotspots.grid import Grid, points_xy
from hotspots.labels import NEARBY_RADIUS_M, ONE_POINT_MIN_PER_MONTH, artefact_flags
from hotspots.schema import InputError

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)

#: Default largest area of one micro-place: 0.1 km² (10 ha).
DEFAULT_MAX_AREA_M2 = 100_000.0
#: Default largest side of the box holding one micro-place, metres.
DEFAULT_MAX_EXTENT_M = 300.0
#: Gaussian sigma, in cells, of the smoothing that orders and splits the cells.
SMOOTH_CELLS = 1.0
#: Columns added to the hotspot table, in order, before the geometry.
MICROPLACE_COLUMNS = (
    "incident_share",
    "area_share",
    "incidents_per_ha",
    "persistence",
    "peak_score",
    "top_point_share",
    "artefact",
    "artefact_note",
)


def split_cells(
    scores: np.ndarray,
    selected: np.ndarray,
    *,
    max_cells: int,
    max_span: int,
) -> np.ndarray:
    """Label selected cells into capped watershed places (1, 2, ... in seed order; 0 none).

    ``scores`` orders and splits (higher first; flooding only downhill or level);
    ``max_cells`` caps the cells of one place and ``max_span`` the rows and the columns its
    bounding box spans.

    Examples
    --------
    Two peaks joined by a lower saddle become two places:

    >>> s = np.array([[9.0, 5, 2, 6, 8]])
    >>> split_cells(s, s > 0, max_cells=10, max_span=10).tolist()
    [[1, 1, 1, 2, 2]]

    A plateau of five cells with a cap of two cells per place:

    >>> split_cells(np.ones((1, 5)), np.ones((1, 5), bool), max_cells=2, max_span=5).tolist()
    [[1, 1, 2, 2, 3]]
    """
    nrows, ncols = scores.shape
    flat = scores.ravel()
    sel = selected.ravel()
    out = np.zeros(flat.size, dtype=np.int64)
    cells = np.flatnonzero(sel)
    order = cells[np.lexsort((cells, -flat[cells]))]
    next_id = 0
    for seed in order:
        if out[seed]:
            continue
        next_id += 1
        out[seed] = next_id
        r0, c0 = divmod(int(seed), ncols)
        box = [r0, r0, c0, c0]
        size = 1
        heap: list[tuple[float, int, float]] = []
        _push_neighbours(heap, int(seed), flat, sel, out, nrows, ncols)
        while heap and size < max_cells:
            neg, cell, parent = heapq.heappop(heap)
            if out[cell] or -neg > parent:
                continue
            r, c = divmod(cell, ncols)
            nb = [min(box[0], r), max(box[1], r), min(box[2], c), max(box[3], c)]
            if nb[1] - nb[0] + 1 > max_span or nb[3] - nb[2] + 1 > max_span:
                continue
            out[cell] = next_id
            box = nb
            size += 1
            _push_neighbours(heap, cell, flat, sel, out, nrows, ncols)
    return out.reshape(scores.shape)


def _push_neighbours(
    heap: list,
    cell: int,
    flat: np.ndarray,
    sel: np.ndarray,
    out: np.ndarray,
    nrows: int,
    ncols: int,
) -> None:
    r, c = divmod(cell, ncols)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            rr, cc = r + dr, c + dc
            if (dr or dc) and 0 <= rr < nrows and 0 <= cc < ncols:
                n = rr * ncols + cc
                if sel[n] and not out[n]:
                    heapq.heappush(heap, (-float(flat[n]), n, float(flat[cell])))


def microplace_hotspots(
    scores: np.ndarray,
    grid: Grid,
    incidents: pd.DataFrame,
    *,
    max_area_m2: float = DEFAULT_MAX_AREA_M2,
    max_extent_m: float = DEFAULT_MAX_EXTENT_M,
    threshold: str | float = "quantile",
    quantile: float = 0.99,
    k_sd: float = 2.0,
    min_incidents: int | None = None,
    area_columns: Sequence[str] = (),
    repeat_locations_table: pd.DataFrame | None = None,
    study_area_m2: float | None = None,
) -> HotspotSet:
    """Hotspots as micro-places of at most ``max_area_m2`` and ``max_extent_m`` (module notes).

    Parameters are those of :func:`hotspots.clusters.threshold_hotspots` plus the two caps
    and ``study_area_m2`` (for ``area_share``; default: the grid's in-area cells).

    Examples
    --------
    A 1 x 6 strip of 100 m cells, two peaks, a 300 m extent cap:

    >>> g = Grid(xmin=0.0, ymax=100.0, cell_size_m=100.0, nrows=1, ncols=6)
    >>> s = np.array([[1.0, 9, 8, 1, 7, 1]])
    >>> inc = pd.DataFrame({"x": [150.0] * 4 + [250.0, 450.0, 450.0], "y": [50.0] * 7,
    ...                     "location": ["On or near High Street"] * 7})
    >>> hs = microplace_hotspots(s, g, inc, threshold=1.0)
    >>> hs.polygons[["incidents", "area_m2", "artefact"]].values.tolist()
    [[5, 30000.0, 'one_point'], [2, 20000.0, 'one_point']]
    """
    places = _places(
        scores,
        grid,
        incidents,
        max_area_m2,
        max_extent_m,
        threshold,
        quantile,
        k_sd,
        min_incidents,
        study_area_m2,
    )
    return _described(places, incidents, places.raw, area_columns, repeat_locations_table)


def top_microplaces(
    scores: np.ndarray,
    grid: Grid,
    incidents: pd.DataFrame,
    *,
    rank: Callable[[pd.DataFrame, np.ndarray], pd.DataFrame],
    top_n: int,
    max_area_m2: float = DEFAULT_MAX_AREA_M2,
    max_extent_m: float = DEFAULT_MAX_EXTENT_M,
    threshold: str | float = "quantile",
    quantile: float = 0.99,
    k_sd: float = 2.0,
    min_incidents: int | None = None,
    area_columns: Sequence[str] = (),
    study_area_m2: float | None = None,
) -> pd.DataFrame:
    """The first ``top_n`` rows of ``rank(hs.polygons, hs.labels)``, ``hs`` being
    :func:`microplace_hotspots` with the same arguments, in rank order.

    ``rank`` ranks a hotspot table (the incidents of each hotspot given by the labels) and
    may read only ``hotspot_id``, ``incidents``, ``share``, ``area_m2``, ``density_km2``,
    ``persistence`` and ``geometry``: it ranks every place on those, and only the top
    ``top_n`` are then described (labels, areas, artefacts), which is most of the work.

    Examples
    --------
    >>> g = Grid(xmin=0.0, ymax=100.0, cell_size_m=100.0, nrows=1, ncols=6)
    >>> s = np.array([[1.0, 9, 8, 1, 7, 1]])
    >>> inc = pd.DataFrame({"x": [150.0] * 4 + [250.0, 450.0, 450.0], "y": [50.0] * 7,
    ...                     "location": ["On or near High Street"] * 7})
    >>> by_area = lambda t, labels: t.sort_values("area_m2", kind="stable").assign(
    ...     rank=range(1, len(t) + 1))
    >>> top = top_microplaces(s, g, inc, rank=by_area, top_n=1, threshold=1.0)
    >>> top["hotspot_id"].tolist(), top["area_m2"].tolist(), top["rank"].tolist()
    ([2], [20000.0], [1])
    """
    places = _places(
        scores,
        grid,
        incidents,
        max_area_m2,
        max_extent_m,
        threshold,
        quantile,
        k_sd,
        min_incidents,
        study_area_m2,
    )
    # Every place numbered and measured as _result numbers it, without the text columns.
    plain = _result(
        pd.DataFrame({"x": places.x, "y": places.y}),
        places.raw,
        places.geoms,
        places.crs,
        "microplace",
        places.params,
        [],
        None,
    )
    cheap = plain.polygons[["hotspot_id", "incidents", "share", "area_m2", "density_km2"]]
    cheap = cheap.assign(
        persistence=persistence(plain.labels, cheap["hotspot_id"], incidents),
        geometry=plain.polygons.geometry,
    ).set_geometry("geometry")
    ranked = rank(cheap, plain.labels).head(top_n).reset_index(drop=True)
    top = ranked["hotspot_id"].to_numpy(np.int64)
    # _result numbers a subset of places in the same relative order as all of them.
    kept = np.isin(plain.labels, top)
    raw = np.where(kept, places.raw, 0)
    # Their description reads their own incidents and, for street names nearby, those
    # within NEARBY_RADIUS_M of their centres (a metre more, against rounding): describe
    # them from those rows alone.
    centres = shapely.get_coordinates(shapely.centroid(places.geoms[np.unique(raw[kept]) - 1]))
    near = kept.copy()
    for cx, cy in centres:
        near |= (places.x - cx) ** 2 + (places.y - cy) ** 2 <= (NEARBY_RADIUS_M + 1.0) ** 2
    hs = _described(places, incidents, raw, area_columns, None, rows=np.flatnonzero(near))
    true_id = np.sort(top)
    table = hs.polygons.assign(hotspot_id=true_id[hs.polygons["hotspot_id"].to_numpy() - 1])
    added = [c for c in ranked.columns if c not in cheap.columns]
    rows = table.set_index("hotspot_id").loc[top].reset_index()
    return rows.join(ranked[added])


@dataclass(frozen=True)
class _Places:
    """The capped-watershed places of one score surface, before numbering and description."""

    raw: np.ndarray  # each incident's place, 1..len(geoms), 0 for none
    geoms: np.ndarray
    peak: np.ndarray  # highest smoothed score of each place
    x: np.ndarray
    y: np.ndarray
    crs: str | None
    params: dict[str, Any]
    study_m2: float


def _places(
    scores: np.ndarray,
    grid: Grid,
    incidents: pd.DataFrame,
    max_area_m2: float,
    max_extent_m: float,
    threshold: str | float,
    quantile: float,
    k_sd: float,
    min_incidents: int | None,
    study_area_m2: float | None,
) -> _Places:
    from scipy import ndimage

    max_area_m2 = positive_number(max_area_m2, "max_area_m2", unit="square metres")
    max_extent_m = positive_number(max_extent_m, "max_extent_m", unit="metres")
    scores = np.asarray(scores, dtype=float)
    if scores.shape != grid.shape:
        raise InputError(f"scores has shape {scores.shape} but the grid is {grid.shape}")
    xy, crs = points_xy(incidents)
    x, y = xy[:, 0], xy[:, 1]
    check_same_crs(crs, grid.crs, "incidents", "the grid")
    valid = grid.in_area & np.isfinite(scores)
    cutoff, rule = _cutoff(scores[valid], threshold, quantile, k_sd)
    selected = valid & (scores >= cutoff) & (scores > 0)
    cell = grid.cell_size_m
    max_cells = max(1, math.floor(max_area_m2 / cell**2 + 1e-9))
    max_span = max(1, math.floor(max_extent_m / cell + 1e-9))
    if cell**2 > max_area_m2 or cell > max_extent_m:
        log.warning(
            "Grid cells of %g m exceed the micro-place caps (%g m2, %g m): each "
            "hotspot is one cell; use a finer --cell-size-m",
            cell,
            max_area_m2,
            max_extent_m,
        )
    smooth = ndimage.gaussian_filter(np.where(valid, scores, 0.0), SMOOTH_CELLS, mode="constant")
    comp = split_cells(smooth, selected, max_cells=max_cells, max_span=max_span)
    n_comp = int(comp.max(initial=0))
    rows, cols = np.nonzero(comp)
    geoms = _cell_unions(grid, rows, cols, comp[rows, cols], n_comp)
    r, c, on = grid.cell_of(x, y)
    raw = np.zeros(len(x), dtype=np.int64)
    raw[on] = comp[r[on], c[on]]
    # Highest smoothed score of each place (ndimage.maximum by label is several times slower).
    peak = np.full(n_comp, -np.inf)
    np.maximum.at(peak, comp[rows, cols] - 1, smooth[rows, cols])
    log.info(
        "Micro-place hotspots: cutoff %.6g (rule: %s); %d selected cells split into %d "
        "places of at most %g m2 and %g m across (rule: capped watershed)",
        cutoff,
        rule,
        int(selected.sum()),
        n_comp,
        max_area_m2,
        max_extent_m,
    )
    params = {
        "threshold": threshold,
        "threshold_rule": rule,
        "cutoff": float(cutoff),
        "quantile": quantile,
        "k_sd": k_sd,
        "cells_selected": int(selected.sum()),
        "cell_size_m": cell,
        "max_area_m2": max_area_m2,
        "max_extent_m": max_extent_m,
        "split_rule": "capped watershed of the score smoothed by a 1-cell Gaussian",
        "max_cells": max_cells,
        "max_span_cells": max_span,
        **_min_params(min_incidents, 1, "default 1"),
    }
    study = float(study_area_m2) if study_area_m2 else float(grid.in_area.sum()) * cell**2
    return _Places(raw, geoms, peak, x, y, crs, params, study)


def _described(
    places: _Places,
    incidents: pd.DataFrame,
    raw: np.ndarray,
    area_columns: Sequence[str],
    repeat_locations_table: pd.DataFrame | None,
    *,
    rows: np.ndarray | None = None,
) -> HotspotSet:
    """The numbered, summarised hotspots of the places that ``raw`` keeps.

    ``rows``: positions of the incidents to describe them from (every member incident and
    every one near them; default all); shares, persistence and the artefact threshold
    still count all incidents. The labels cover every incident either way (0 outside
    ``rows``, which hold every member).
    """
    some = slice(None) if rows is None else rows
    part = incidents if rows is None else incidents.iloc[rows]
    hs = _result(
        part,
        raw[some],
        places.geoms,
        places.crs,
        "microplace",
        places.params,
        area_columns,
        repeat_locations_table,
        log_summary=rows is None,  # a subset's counts are not the run's: the caller logged
    )
    labels = hs.labels
    if rows is not None:
        labels = np.zeros(len(raw), dtype=hs.labels.dtype)
        labels[rows] = hs.labels
        share = hs.polygons["incidents"].to_numpy() / max(len(raw), 1)
        hs = replace(hs, polygons=hs.polygons.assign(share=share))
    # _result renumbers the places; map each new id to the peak of its old component.
    old_of_new = pd.Series(raw[raw > 0], index=labels[raw > 0]).groupby(level=0).first()
    table = _extra_columns(
        hs.polygons,
        labels,
        incidents,
        places.x,
        places.y,
        places.study_m2,
        places.peak,
        old_of_new,
    )
    return HotspotSet(
        polygons=table,
        labels=labels,
        method=hs.method,
        params={**hs.params, "study_area_m2": places.study_m2},
    )


def _extra_columns(
    polygons: gpd.GeoDataFrame,
    labels: np.ndarray,
    incidents: pd.DataFrame,
    x: np.ndarray,
    y: np.ndarray,
    study_m2: float,
    peak: np.ndarray,
    old_of_new: pd.Series,
) -> pd.DataFrame:
    p = polygons.copy()
    ids = p["hotspot_id"].to_numpy(int)
    p["incident_share"] = p["share"]
    p["area_share"] = p["area_m2"] / study_m2 if study_m2 > 0 else np.nan
    p["incidents_per_ha"] = p["incidents"] / (p["area_m2"] / 1e4)
    p["persistence"] = persistence(labels, ids, incidents)
    peaks = np.asarray(peak, dtype=float)
    p["peak_score"] = [
        float(peaks[old_of_new[i] - 1]) if i in old_of_new.index else np.nan for i in ids
    ]
    months = (
        pd.to_datetime(incidents["when"]).dt.to_period("M").nunique()
        if "when" in incidents.columns
        else 0
    )
    flags = artefact_flags(
        labels,
        ids,
        x,
        y,
        incidents.get("location"),
        min_point_incidents=ONE_POINT_MIN_PER_MONTH * months,
    )
    for col in ("top_point_share", "artefact", "artefact_note"):
        p[col] = flags[col].to_numpy()
    geometry = p.pop("geometry")
    return p.set_geometry(geometry) if hasattr(p, "set_geometry") else p.assign(geometry=geometry)


def persistence(labels: np.ndarray, ids: Sequence[int], incidents: pd.DataFrame) -> np.ndarray:
    """Share of the data's months in which each hotspot had at least one incident.

    The months are those in which any incident of ``incidents`` falls (gaps in the data are
    not counted against a place). NaN for every hotspot without a ``when`` column.

    Examples
    --------
    >>> inc = pd.DataFrame({"when": pd.to_datetime(["2025-01-01", "2025-02-01",
    ...                                            "2025-03-01", "2025-03-01"])})
    >>> persistence(np.array([1, 0, 1, 2]), [1, 2], inc).tolist()
    [0.6666666666666666, 0.3333333333333333]
    """
    wanted = np.asarray(ids, dtype=int)
    if "when" not in incidents.columns or not len(wanted):
        return np.full(len(wanted), np.nan)
    month = _month_codes(incidents["when"])
    n_months = len(np.unique(month))
    labels = np.asarray(labels, dtype=np.int64)
    m = labels > 0
    # One code per (hotspot, month): distinct codes are the months each hotspot was active.
    lowest = int(month.min()) if len(month) else 0
    span = int(month.max()) - lowest + 1 if len(month) else 1
    active = np.unique(labels[m] * span + (month[m] - lowest))
    counts = np.bincount(active // span, minlength=int(labels.max(initial=0)) + 1)
    inside = (wanted >= 0) & (wanted < len(counts))
    per_id = np.where(inside, counts[np.where(inside, wanted, 0)], 0).astype(float)
    return per_id / max(n_months, 1)


def _month_codes(when: pd.Series) -> np.ndarray:
    """``year * 12 + month`` of every row; one shared code (below all others) for no date."""
    dates = pd.DatetimeIndex(pd.to_datetime(when))
    codes = dates.year.to_numpy(np.float64) * 12 + dates.month.to_numpy(np.float64)
    lowest = np.nanmin(codes) - 1 if np.isfinite(codes).any() else 0.0
    return np.where(np.isfinite(codes), codes, lowest).astype(np.int64)
