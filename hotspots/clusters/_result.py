"""The one result of every hotspot method: :class:`HotspotSet` and its summary table.

:func:`_result` turns raw group labels and polygons into the numbered, summarised
hotspots: ids by incidents (most first; ties north to south, then west to east), share,
area, density, top categories, the area layers each hotspot is in, street labels
(:mod:`hotspots.labels`) and repeat locations inside.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.grid import points_xy
from hotspots.io import mode_per_group
from hotspots.labels import place_labels
from hotspots.schema import InputError

log = logging.getLogger("hotspots.clusters")

#: Number of categories listed in ``top_categories``.
TOP_CATEGORIES = 3
#: Fixed columns of ``HotspotSet.polygons`` (area-layer columns follow ``top_categories``).
LEADING_COLUMNS = (
    "hotspot_id",
    "label",
    "incidents",
    "share",
    "area_m2",
    "density_km2",
    "top_categories",
)


@dataclass(frozen=True, kw_only=True, eq=False)
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


def _result(
    incidents: pd.DataFrame,
    raw: np.ndarray,
    geoms: np.ndarray,
    crs: str | None,
    method: str,
    params: dict[str, Any],
    area_columns: Sequence[str],
    repeat_table: pd.DataFrame | None,
    *,
    log_summary: bool = True,
) -> HotspotSet:
    """Number hotspots by incidents (ties: north to south, then west to east), summarise.

    ``raw`` is each incident's group (1..len(geoms), 0 for none) and ``geoms`` the group
    polygons; groups with fewer than ``params["min_incidents"]`` incidents are dropped.
    """
    area_columns = list(area_columns)
    missing = [c for c in area_columns if c not in incidents.columns]
    if missing:
        raise InputError(
            f"area_columns {missing} are not columns of the incidents; "
            f"columns are {list(incidents.columns)}"
        )
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
    frame = pd.DataFrame(
        {
            "hotspot_id": ids,
            "label": "",
            "incidents": n_inc,
            "share": n_inc / max(len(labels), 1),
            "area_m2": area,
            "density_km2": n_inc / (area / 1e6) if len(area) else np.zeros(0),
            "top_categories": _top_categories(incidents, labels, ids, n_inc),
        }
    )
    for layer in area_columns:
        frame[layer], frame[f"{layer}_all"] = _areas(incidents[layer], labels, ids)
    # Labels name streets, then the beat (else the first area layer): hotspots.labels.
    suffix = "beat" if "beat" in area_columns else (area_columns[0] if area_columns else None)
    frame["label"] = _labels(
        incidents, labels, ids, centre[order], frame[suffix].tolist() if suffix else None
    )
    frame["repeat_locations"] = _repeat_counts(repeat_table, geoms)
    params = {"method": method, "n_incidents": len(labels), "area_columns": area_columns, **params}
    if log_summary:
        log.info(
            "%d %s hotspots hold %d of %d incidents",
            len(ids),
            method,
            int((labels > 0).sum()),
            len(labels),
        )
    polygons = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=crs))
    return HotspotSet(polygons=polygons, labels=labels, method=method, params=params)


def _counts_by(labels: np.ndarray, values: pd.Series) -> pd.DataFrame:
    """(id, value, n) for member incidents, most frequent first within id, then by value."""
    m = labels > 0
    # Counted on codes: the member incidents' values are never materialised as objects.
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, uniques = values.cat.codes.to_numpy()[m], values.cat.categories.to_numpy(object)
    else:
        codes, uniques = pd.factorize(values.to_numpy()[m], use_na_sentinel=True)
    named = codes >= 0  # missing values are left out
    pair, n = np.unique(
        labels[m][named].astype(np.int64) * max(len(uniques), 1) + codes[named],
        return_counts=True,
    )
    c = pd.DataFrame(
        {
            "id": pair // max(len(uniques), 1),
            "value": np.asarray(uniques)[pair % max(len(uniques), 1)],
            "n": n.astype(np.int64),
        }
    )
    return c.sort_values(["id", "n", "value"], ascending=[True, False, True], kind="stable")


def _labels(
    incidents: pd.DataFrame,
    labels: np.ndarray,
    ids: np.ndarray,
    centres: np.ndarray,
    areas: list | None,
) -> list[str]:
    """Street labels by the rule of :mod:`hotspots.labels`; coordinates without text."""
    fallback = [f"near {shapely.get_x(p):.0f}, {shapely.get_y(p):.0f}" for p in centres]
    if "location" not in incidents.columns or not len(ids):
        return fallback
    xy, _ = points_xy(incidents)
    centre_xy = np.column_stack([shapely.get_x(centres), shapely.get_y(centres)])
    table = place_labels(
        labels,
        ids,
        incidents["location"],
        x=xy[:, 0],
        y=xy[:, 1],
        centres=centre_xy,
        areas=areas,
        fallback=fallback,
    )
    return table["label"].tolist()


def _top_categories(
    incidents: pd.DataFrame, labels: np.ndarray, ids: np.ndarray, n_inc: np.ndarray
) -> list[str]:
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
    # The majority from these counts rather than from every incident (ties: the lowest
    # value, in a categorical's category order).
    counted = c["value"]
    if isinstance(values.dtype, pd.CategoricalDtype):
        counted = pd.Categorical(counted, dtype=values.dtype)
    majority = mode_per_group(c["id"], counted, weights=c["n"])
    every = c.assign(value=c["value"].astype(str)).groupby("id")["value"].agg("; ".join)
    return ([majority.get(i, pd.NA) for i in ids], [every.get(i, "") for i in ids])


def _repeat_counts(table: pd.DataFrame | None, geoms: np.ndarray) -> pd.Series:
    if table is None:
        return pd.Series(pd.NA, index=range(len(geoms)), dtype="Int64")
    if not {"x", "y"} <= set(table.columns):
        raise InputError(
            "repeat_locations_table needs x and y columns (as made by "
            f"hotspots.rank.repeat_locations); it has {list(table.columns)}"
        )
    points = shapely.points(table["x"].to_numpy(float), table["y"].to_numpy(float))
    inside, _ = shapely.STRtree(points).query(geoms, predicate="covers")
    return pd.Series(np.bincount(inside, minlength=len(geoms)), dtype="Int64")
