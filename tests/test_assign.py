"""Area assignment against independent references: a brute-force shapely test and sjoin.

The fast path (label raster, then prepared polygons for points near an edge) must give
exactly the area a plain point-in-polygon test gives, at every raster resolution, for
points on edges and vertices, in holes and where polygons overlap. The tie rule: a point
in several polygons (on a shared edge, or where they overlap) goes to the first of them in
the layer's row order, which is name order for layers from ``load_areas``.
"""

from __future__ import annotations

from functools import cache

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from hotspots.assign import assign_areas
from hotspots.boundaries import AreaLayer, load_areas


@cache
def _beats() -> AreaLayer:
    return load_areas("leicestershire/beats")[0]


def _shapes() -> AreaLayer:
    """A donut with an island in its hole, a square overlapping the donut, a square
    sharing the donut's right edge, and a two-part polygon."""
    donut = shapely.box(0, 0, 3000, 3000).difference(shapely.box(1000, 1000, 2000, 2000))
    polys = gpd.GeoDataFrame(
        {"name": ["A donut", "B island", "C overlap", "D neighbour", "E two parts"]},
        geometry=[
            donut,
            shapely.box(1000, 1000, 2000, 2000),
            shapely.box(2500, 2500, 3500, 3500),
            shapely.box(3000, 0, 4000, 2000),
            shapely.MultiPolygon(
                [shapely.box(5000, 0, 5500, 500), shapely.box(6000, 0, 6500, 500)]
            ),
        ],
        crs=27700,
    )
    return AreaLayer("beat", polys)


def _brute_force(layer: AreaLayer, x: np.ndarray, y: np.ndarray) -> list[str]:
    """Every point against every polygon; boundary points count as inside; first wins."""
    geoms = np.asarray(layer.polygons.geometry.values)
    hits = shapely.intersects(geoms[:, None], shapely.points(x, y)[None, :])
    names = layer.polygons["name"].to_numpy(dtype=object)
    return [names[h.argmax()] if h.any() else "" for h in hits.T]


def _sjoin(layer: AreaLayer, x: np.ndarray, y: np.ndarray) -> list[str]:
    """geopandas.sjoin (intersects), several matches resolved by the same tie rule."""
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=27700)
    joined = gpd.sjoin(pts, layer.polygons, predicate="intersects", how="left")
    first = joined["index_right"].groupby(level=0).min()
    names = layer.polygons["name"].to_numpy(dtype=object)
    return [names[int(i)] if pd.notna(i) else "" for i in first.sort_index()]


def _assign(layer: AreaLayer, x: np.ndarray, y: np.ndarray) -> list[str]:
    frame = pd.DataFrame({"_row": np.arange(len(x)), "x": x, "y": y})
    out, unassigned = assign_areas(frame, [layer], tolerance_m=0)
    assert (unassigned == (out["beat"] == "").to_numpy()).all()
    return out["beat"].tolist()


# Offsets across an edge: exactly on it, a rounding error off, a few centimetres, a metre,
# and about the raster's cell sizes.
_OFFSETS = st.sampled_from([0.0, 1e-9, -1e-9, 0.01, -0.01, 1.0, -1.0, 7.5, -7.5, 40.0, -40.0])


@st.composite
def _points_on_edges(draw: st.DrawFn, layer: AreaLayer) -> tuple[np.ndarray, np.ndarray]:
    """Points on polygon vertices and edges, and just either side of them."""
    coords = shapely.get_coordinates(shapely.boundary(np.asarray(layer.polygons.geometry.values)))
    xs, ys = [], []
    for _ in range(draw(st.integers(1, 40))):
        i = draw(st.integers(0, len(coords) - 2))
        t = draw(st.sampled_from([0.0, 0.5, 1.0]) | st.floats(0, 1))
        (ax, ay), (bx, by) = coords[i], coords[i + 1]
        length = max(np.hypot(bx - ax, by - ay), 1e-12)
        off = draw(_OFFSETS)  # along the edge's normal
        xs.append(ax + t * (bx - ax) - off * (by - ay) / length)
        ys.append(ay + t * (by - ay) + off * (bx - ax) / length)
    return np.array(xs), np.array(ys)


# Points far off the layer (decided from the raster's extent) that also make the raster
# coarser: its cell grows with the number of points, from 10 m to hundreds of metres.
_PADDING = st.sampled_from([0, 3_000, 60_000])


def _with_padding(x: np.ndarray, y: np.ndarray, pad: int) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([x, np.full(pad, -1e5)]), np.concatenate([y, np.full(pad, -1e5)])


@settings(max_examples=40, deadline=None)
@given(data=st.data(), pad=_PADDING)
def test_real_beats_on_and_near_edges_match_brute_force(data: st.DataObject, pad: int) -> None:
    layer = _beats()
    x, y = data.draw(_points_on_edges(layer))
    got = _assign(layer, *_with_padding(x, y, pad))
    assert got[: len(x)] == _brute_force(layer, x, y)
    assert set(got[len(x) :]) <= {""}


@settings(max_examples=60, deadline=None)
@given(data=st.data(), pad=_PADDING)
def test_holes_overlaps_and_shared_edges_match_brute_force(data: st.DataObject, pad: int) -> None:
    layer = _shapes()
    x, y = data.draw(_points_on_edges(layer))
    got = _assign(layer, *_with_padding(x, y, pad))
    assert got[: len(x)] == _brute_force(layer, x, y)
    assert set(got[len(x) :]) <= {""}


def test_the_tie_rule_on_boundaries_and_overlaps() -> None:
    x = np.array([1500.0, 1000.0, 2750.0, 3000.0, 3000.0, 3250.0, 5500.0, 5750.0])
    y = np.array([1500.0, 1500.0, 2750.0, 1000.0, 2750.0, 3250.0, 250.0, 250.0])
    assert _assign(_shapes(), x, y) == [
        "B island",  # inside the hole: the island only
        "A donut",  # on the hole's edge: donut and island, the donut first
        "A donut",  # where the donut and the square overlap
        "A donut",  # on the shared edge with D
        "A donut",  # on the donut's edge inside C, and on D's corner
        "C overlap",
        "E two parts",  # on the edge of the first part
        "",  # between the parts
    ]


@pytest.mark.parametrize("n", [1_000, 200_000])
def test_police_uk_like_points_match_sjoin(n: int) -> None:
    # Points scattered around the beats' own vertices, so many fall near an edge.
    layer = _beats()
    coords = shapely.get_coordinates(np.asarray(layer.polygons.geometry.values))
    rng = np.random.default_rng(n)
    pick = rng.integers(0, len(coords), n)
    x = coords[pick, 0] + rng.normal(0, 30, n)
    y = coords[pick, 1] + rng.normal(0, 30, n)
    assert _assign(layer, x, y) == _sjoin(layer, x, y)


def test_assigning_leaves_the_callers_polygons_unprepared() -> None:
    layer = _shapes()
    _assign(layer, np.array([1000.0]), np.array([1500.0]))
    assert not shapely.is_prepared(np.asarray(layer.polygons.geometry.values)).any()
