"""Treated, control and buffer zones, and which zone each incident falls in.

Buffers (displacement / diffusion catchments) are rings of ``buffer_m`` around each area,
outside every treated and control area. Rings of neighbouring areas can overlap: an
incident there counts once, for the *nearest* area (so per-area counts add up to the
``all`` row). An incident inside a treated area counts for it, then one inside a control;
one inside two overlapping treated areas counts for the first by name.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots._validation import require_metric_crs
from hotspots.schema import CRS_METRIC, InputError

#: Default buffer width, metres. Bowers et al. (2011, *J. Exp. Criminol.* 7:347–374, the
#: systematic review of displacement and diffusion) found catchments of one or two street
#: blocks — a few hundred metres — the norm, and Ratcliffe's WDQ practice (e.g. the
#: Philadelphia Foot Patrol Experiment, Ratcliffe et al. 2011) uses a ring about a block
#: wide (~400 ft) around each target area; 250 m is one long UK street block.
DEFAULT_BUFFER_M = 250.0

#: Zone roles, in the order an incident is claimed by them.
ROLES = ("treated", "control", "buffer", "control_buffer")


def check_areas(areas: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    """``areas`` as a GeoDataFrame with ``name`` and polygons in metres, sorted by name."""
    if not isinstance(areas, gpd.GeoDataFrame) or "name" not in areas:
        raise InputError(f"{what}: expected a GeoDataFrame with a 'name' column")
    require_metric_crs(areas.crs, what)
    if len(areas) == 0:
        raise InputError(f"{what}: no areas")
    names = areas["name"].astype(str)
    if names.duplicated().any():
        raise InputError(f"{what}: area {names[names.duplicated()].iloc[0]!r} appears twice")
    kinds = set(shapely.get_type_id(areas.geometry.values).tolist())
    if not kinds <= {3, 6}:
        raise InputError(f"{what}: areas must be polygons (got geometry types {sorted(kinds)})")
    out = gpd.GeoDataFrame(
        {"name": names.to_numpy()}, geometry=areas.geometry.values, crs=areas.crs
    )
    return out.sort_values("name").reset_index(drop=True)


def zones(
    treated: gpd.GeoDataFrame,
    controls: gpd.GeoDataFrame,
    pairs: pd.Series,
    *,
    buffer_m: float,
) -> gpd.GeoDataFrame:
    """The polygons of every zone: ``role``, ``name`` (its own), ``area`` (the treated area
    it belongs to), ``geometry`` (EPSG:27700), sorted by area, role.

    ``pairs`` maps each treated name to its control's name.
    """
    t_union = shapely.union_all(treated.geometry.values)
    c_union = shapely.union_all(controls.geometry.values)
    core = shapely.union(t_union, c_union)
    t_rings = shapely.difference(shapely.buffer(treated.geometry.values, buffer_m), core)
    t_ring_union = shapely.union_all(t_rings)
    c_rings = shapely.difference(
        shapely.buffer(controls.geometry.values, buffer_m), shapely.union(core, t_ring_union)
    )
    control_of = {c: t for t, c in pairs.items()}
    frames = [
        (treated["name"], treated["name"], "treated", treated.geometry.values),
        (controls["name"], controls["name"].map(control_of), "control", controls.geometry.values),
        (treated["name"], treated["name"], "buffer", t_rings),
        (controls["name"], controls["name"].map(control_of), "control_buffer", c_rings),
    ]
    rows = []
    for names, areas, role, geoms in frames:
        keep = areas.notna().to_numpy()
        rows.append(
            gpd.GeoDataFrame(
                {
                    "area": areas[keep].to_numpy(),
                    "role": role,
                    "name": names[keep].to_numpy(),
                },
                geometry=np.asarray(geoms)[keep],
                crs=CRS_METRIC,
            )
        )
    out = pd.concat(rows, ignore_index=True)
    out["_order"] = out["role"].map({r: i for i, r in enumerate(ROLES)})
    out = out.sort_values(["area", "_order"]).drop(columns="_order").reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=CRS_METRIC)


def assign_zones(
    x: np.ndarray,
    y: np.ndarray,
    treated: gpd.GeoDataFrame,
    controls: gpd.GeoDataFrame,
    *,
    buffer_m: float,
) -> tuple[np.ndarray, np.ndarray]:
    """For each point, its role (index into :data:`ROLES`, −1 for none) and the row of the
    treated or control area it counts for (−1 for none).

    Order: inside a treated area; inside a control; within ``buffer_m`` of a treated area
    (its buffer, the nearest treated area's); within ``buffer_m`` of a control.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    role = np.full(len(x), -1, dtype=np.int8)
    owner = np.full(len(x), -1, dtype=np.int64)
    everything = shapely.union_all(
        np.concatenate([treated.geometry.values, controls.geometry.values])
    )
    xmin, ymin, xmax, ymax = shapely.bounds(everything)
    near = np.flatnonzero(
        (x >= xmin - buffer_m)
        & (x <= xmax + buffer_m)
        & (y >= ymin - buffer_m)
        & (y <= ymax + buffer_m)
    )
    if not len(near):
        return role, owner
    points = shapely.points(x[near], y[near])
    for code, areas in ((0, treated), (1, controls)):
        free = role[near] < 0
        tree = shapely.STRtree(areas.geometry.values)
        hit_pt, hit_area = tree.query(points[free], predicate="intersects")
        # several areas: the first by name (areas are sorted by name)
        order = np.lexsort((hit_area, hit_pt))
        hit_pt, hit_area = hit_pt[order], hit_area[order]
        first = np.r_[True, hit_pt[1:] != hit_pt[:-1]] if len(hit_pt) else np.array([], bool)
        idx = near[np.flatnonzero(free)[hit_pt[first]]]
        role[idx] = code
        owner[idx] = hit_area[first]
    if buffer_m > 0:
        for code, areas in ((2, treated), (3, controls)):
            free = role[near] < 0
            if not free.any():
                break
            tree = shapely.STRtree(areas.geometry.values)
            hit_pt, hit_area = tree.query_nearest(
                points[free], max_distance=buffer_m, all_matches=False
            )
            idx = near[np.flatnonzero(free)[hit_pt]]
            role[idx] = code
            owner[idx] = hit_area
    return role, owner
