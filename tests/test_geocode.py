"""Coordinates, postcodes and area assignment (edges, snapping, nesting)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from hotspots.assign import assign_areas
from hotspots.boundaries import AreaLayer, load_areas
from hotspots.geocode import (
    PostcodeIndex,
    locate_incidents,
    lonlat_to_bng,
    normalise_postcode,
)
from hotspots.io import read_postcode_table
from hotspots.schema import CRSError


def _frame(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    return pd.DataFrame({"_row": np.arange(n), **cols})


def test_bng_true_origin_and_a_known_point() -> None:
    # The projection's true origin, 49°N 2°W, maps to (400000, -100000) in OSGB36; WGS84 vs
    # OSGB36 datums differ by ~100 m there, so allow that.
    x, y = lonlat_to_bng(np.array([-2.0]), np.array([49.0]))
    assert abs(x[0] - 400_000) < 150 and abs(y[0] + 100_000) < 150
    # Leicester railway station: OS grid ref SK 593 042 (~459300, 304200)
    x, y = lonlat_to_bng(np.array([-1.1253]), np.array([52.6315]))
    assert abs(x[0] - 459_300) < 200 and abs(y[0] - 304_200) < 200


def test_coordinate_reasons_and_fixes() -> None:
    lon = np.array([-1.13, 52.63, 0.0, 120.0, 458000.0, np.inf, -1.13])
    lat = np.array([52.63, -1.13, 0.0, 30.0, 304000.0, 52.0, np.nan])
    located = locate_incidents(_frame(lon=lon, lat=lat))
    reasons = dict(zip(located.rejects["_row"], located.rejects["reason"], strict=True))
    assert reasons == {
        2: "null_island",
        3: "outside_uk",
        5: "bad_coordinates",
        6: "bad_coordinates",
    }
    assert located.notes == {
        "lat/lon swapped, fixed": 1,
        "easting/northing in lon/lat columns, fixed": 1,
    }
    inc = located.incidents.set_index("_row")
    assert inc.loc[0, "x"] == pytest.approx(inc.loc[1, "x"])  # swapped row repaired
    assert inc.loc[4, "x"] == 458000.0 and inc.loc[4, "y"] == 304000.0


def test_easting_northing_checks() -> None:
    # (304000, 458000) is a valid point too, so only a swap that leaves the grid is detectable
    e = np.array([458000.0, 1_100_000.0, -1.13, 0.0, 900000.0])
    n = np.array([304000.0, 300_000.0, 52.63, 0.0, 900000.0])
    located = locate_incidents(_frame(easting=e, northing=n))
    assert located.rejects["reason"].tolist() == ["null_island", "outside_uk"]
    assert located.notes == {
        "easting/northing swapped, fixed": 1,
        "lon/lat in easting/northing columns, fixed": 1,
    }


def test_postcodes_full_sector_unknown_bad() -> None:
    table, dropped = read_postcode_table()
    assert dropped >= 8  # NSPL non-geographic postcodes with no coordinates
    index = PostcodeIndex.from_table(table)
    pcs = ["le100aa", "LE1 1AA", "LE11 4", "LE99 9ZZ", "not a postcode", "LE11"]
    located = locate_incidents(_frame(postcode=pcs), postcodes=index)
    reasons = dict(zip(located.rejects["_row"], located.rejects["reason"], strict=True))
    assert reasons == {3: "unknown_postcode", 4: "bad_postcode", 5: "bad_postcode"}
    inc = located.incidents.set_index("_row")
    x, y = lonlat_to_bng(np.array([-1.12498]), np.array([52.63212]))  # LE1 1AA in the table
    assert inc.loc[1, "x"] == pytest.approx(x[0]) and inc.loc[1, "y"] == pytest.approx(y[0])
    assert inc.loc[2, "loc_precision_m"] > inc.loc[1, "loc_precision_m"]  # sector is coarser
    assert normalise_postcode(pd.Series(["le1  1aa"])).tolist() == ["LE1 1AA"]


def test_coordinates_win_and_postcode_is_fallback() -> None:
    index = PostcodeIndex.from_table(read_postcode_table()[0])
    f = _frame(
        lon=np.array([-1.13, np.nan]),
        lat=np.array([52.63, np.nan]),
        postcode=["LE1 1AA", "LE1 1AA"],
    )
    located = locate_incidents(f, postcodes=index)
    assert located.incidents["loc_precision_m"].tolist() == [0.0, 100.0]


def _squares() -> AreaLayer:
    # Two 1 km squares sharing the edge x = 1000, and a third 1 km away.
    polys = gpd.GeoDataFrame(
        {"name": ["A", "B", "C"]},
        geometry=[
            shapely.box(0, 0, 1000, 1000),
            shapely.box(1000, 0, 2000, 1000),
            shapely.box(3000, 0, 4000, 1000),
        ],
        crs=27700,
    )
    return AreaLayer("beat", polys)


def test_shared_edge_gets_exactly_one_area_and_snapping() -> None:
    f = _frame(
        x=np.array([500.0, 1000.0, 1500.0, 2050.0, 2500.0, 1000.0]),
        y=np.array([500.0, 500.0, 500.0, 500.0, 500.0, 1000.0]),
    )
    out, unassigned = assign_areas(f, [_squares()], tolerance_m=100)
    assert out["beat"].tolist() == ["A", "A", "B", "B", "", "A"]
    assert unassigned.tolist() == [False, False, False, False, True, False]
    assert out["beat_snap_m"].tolist()[3] == pytest.approx(50.0)


def test_npa_of_a_beat_is_derived_from_the_beat_file() -> None:
    beats, npas, _ = load_areas("leicestershire/beats")
    assert npas.derived_from == "beat"
    pts = beats.polygons.representative_point()
    f = _frame(x=pts.x.to_numpy(), y=pts.y.to_numpy())
    out, unassigned = assign_areas(f, [beats, npas])
    assert not unassigned.any()
    assert out["beat"].tolist() == beats.polygons["name"].tolist()
    assert out["npa"].nunique() == 6
    assert out["npa"].map(len).gt(0).all()


def test_a_layer_on_another_metric_grid_is_refused_naming_it() -> None:
    utm = AreaLayer("beat", _squares().polygons.set_crs(32630, allow_override=True))
    with pytest.raises(CRSError, match="area layer 'beat' are in EPSG:32630"):
        assign_areas(_frame(x=np.array([500.0]), y=np.array([500.0])), [utm])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(-200, 4200), st.floats(-200, 1200)), min_size=1, max_size=60))
def test_fast_assignment_equals_exact_test(points) -> None:
    xy = np.array(points, dtype=float)
    layer = _squares()
    out, _ = assign_areas(_frame(x=xy[:, 0], y=xy[:, 1]), [layer], tolerance_m=0)
    geoms = layer.polygons.geometry.values
    for (x, y), got in zip(xy, out["beat"], strict=True):
        hits = [
            n
            for n, g in zip(layer.polygons["name"], geoms, strict=True)
            if g.intersects(shapely.Point(x, y))
        ]
        assert got == (hits[0] if hits else "")
