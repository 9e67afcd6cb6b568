"""Tests for hotspots.rank: scores and tie-breaks, patrol lists, repeat locations."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotspots.clusters import find_hotspots
from hotspots.grid import Grid
from hotspots.io import mode_per_group
from hotspots.rank import patrol_list, rank_hotspots, repeat_locations
from hotspots.schema import CRSError, InputError


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "hotspot_id": [1, 2, 3, 4, 5],
            "label": ["High St", "Mill Ln", "Park", "Market", "Station"],
            "incidents": [40, 40, 25, 40, 10],
            "share": [0.2, 0.2, 0.125, 0.2, 0.05],
            "area_m2": [4e5, 1e5, 5e4, 1e5, 2e5],
            "density_km2": [100.0, 400.0, 500.0, 400.0, 50.0],
            "beat": ["B1", "B2", "B2", "B3", "B1"],
            "beat_all": ["B1", "B2", "B2", "B3", "B1"],
            "harm": [10.0, 300.0, 20.0, 5.0, 300.0],
        }
    )


def test_default_rank_is_incidents_with_deterministic_tie_breaks():
    ranked = rank_hotspots(_table().sample(frac=1, random_state=3))
    # 40, 40, 40 tie on score and incidents: lower hotspot_id first
    assert ranked["hotspot_id"].tolist() == [1, 2, 4, 3, 5]
    assert ranked["rank"].tolist() == [1, 2, 3, 4, 5]
    assert ranked["score"].tolist() == [40, 40, 40, 25, 10]
    assert (ranked["score_definition"] == "number of incidents in the hotspot").all()


def test_density_ties_broken_by_incidents_then_id():
    t = _table()
    t.loc[2, "incidents"] = 50  # hotspot 3: density 500, top
    ranked = rank_hotspots(t, score="density")
    assert ranked["hotspot_id"].tolist() == [3, 2, 4, 1, 5]
    t.loc[2, "density_km2"] = 400.0  # now ties with 2 and 4 but has more incidents
    assert rank_hotspots(t, score="density")["hotspot_id"].tolist() == [3, 2, 4, 1, 5]


def test_harm_gistar_persistence_and_callable():
    t = _table()
    assert rank_hotspots(t, score="harm")["hotspot_id"].tolist() == [2, 5, 3, 1, 4]
    t2 = t.rename(columns={"harm": "chi_days"})
    r = rank_hotspots(t2, score="harm", harm_column="chi_days")
    assert "chi_days" in r["score_definition"][0]
    z = {1: 1.0, 2: 4.0, 3: 2.5, 4: 3.0, 5: 0.0}
    assert rank_hotspots(t, score="gistar", gistar_z=z)["hotspot_id"].tolist() == [2, 4, 3, 1, 5]
    assert rank_hotspots(t, score="gistar", gistar_z=pd.Series(z))["score"].tolist() == [
        4.0,
        3.0,
        2.5,
        1.0,
        0.0,
    ]
    pers = np.array([0.1, 0.2, 0.9, 0.2, 0.5])  # row order
    assert rank_hotspots(t, score="persistence", persistence=pers)["hotspot_id"].tolist() == [
        3,
        5,
        2,
        4,
        1,
    ]

    def fewest(frame):
        return -frame["incidents"]

    r = rank_hotspots(t, score=fewest)
    assert r["hotspot_id"].tolist() == [5, 3, 1, 2, 4]
    assert r["score_definition"][0] == "custom score fewest"


def test_weighted_percentile_score():
    t = _table()
    r = rank_hotspots(t, score={"incidents": 3, "harm": 1})
    inc_pct = {1: 4 / 5, 2: 4 / 5, 3: 2 / 5, 4: 4 / 5, 5: 1 / 5}  # three-way tie at ranks 3-5
    harm_pct = {1: 2 / 5, 2: 4.5 / 5, 3: 3 / 5, 4: 1 / 5, 5: 4.5 / 5}
    want = {h: 0.75 * inc_pct[h] + 0.25 * harm_pct[h] for h in inc_pct}
    got = dict(zip(r["hotspot_id"], r["score"], strict=True))
    assert got == pytest.approx(want)
    assert r["hotspot_id"].tolist() == [2, 1, 4, 3, 5]
    assert "0.75 x incidents + 0.25 x harm" in r["score_definition"][0]


def test_rank_accepts_a_hotspot_set():
    g = Grid(xmin=0.0, ymax=40.0, cell_size_m=10.0, nrows=4, ncols=4)
    inc = pd.DataFrame({"x": [5.0, 5.0, 35.0], "y": [35.0, 35.0, 5.0]})
    hs = find_hotspots(inc, grid=g, threshold=1.0)
    r = rank_hotspots(hs)
    assert r["hotspot_id"].tolist() == [1, 2] and isinstance(r, gpd.GeoDataFrame)


def test_rank_errors():
    t = _table()
    with pytest.raises(InputError, match="gistar_z"):
        rank_hotspots(t, score="gistar")
    with pytest.raises(InputError, match=r"hotspot_id \[5\]"):
        rank_hotspots(t, score="gistar", gistar_z={1: 1, 2: 1, 3: 1, 4: 1})
    with pytest.raises(InputError, match=r"hotspot_id \[3\]"):
        rank_hotspots(t, score="persistence", persistence=[1, 1, np.nan, 1, 1])
    with pytest.raises(InputError, match="weights"):
        rank_hotspots(t, score={"incidents": -1})
    with pytest.raises(InputError, match="score must be"):
        rank_hotspots(t, score="loudness")
    with pytest.raises(InputError, match="'harm'"):
        rank_hotspots(t.drop(columns="harm"), score="harm")


# --- patrol list ---------------------------------------------------------------------------


def test_patrol_list_top_n_and_columns():
    p = patrol_list(rank_hotspots(_table()), top_n=2, study_area_m2=1e7)
    assert list(p.columns) == [
        "rank",
        "hotspot_id",
        "label",
        "beat",
        "incidents",
        "area_m2",
        "score",
        "cumulative_area_share",
        "cumulative_incident_share",
    ]
    assert p["hotspot_id"].tolist() == [1, 2]
    assert p["cumulative_area_share"].tolist() == pytest.approx([0.04, 0.05])
    assert p["cumulative_incident_share"].tolist() == pytest.approx([0.2, 0.4])


def test_patrol_list_area_budget_skips_what_does_not_fit():
    ranked = rank_hotspots(_table())  # order 1 (4e5), 2 (1e5), 4 (1e5), 3 (5e4), 5 (2e5)
    p = patrol_list(ranked, max_area_km2=0.3)
    assert p["hotspot_id"].tolist() == [2, 4, 3]  # 1 is too big alone; 5 would overflow
    assert p["area_m2"].sum() == 2.5e5
    assert p["cumulative_area_share"].isna().all()
    p = patrol_list(ranked, max_area_share=0.05, study_area_m2=1e7)  # 5e5 m2
    assert p["hotspot_id"].tolist() == [1, 2]
    both = patrol_list(ranked, max_area_share=0.05, max_area_km2=0.3, study_area_m2=1e7, top_n=2)
    assert both["hotspot_id"].tolist() == [2, 4]
    with pytest.raises(InputError, match="study_area_m2"):
        patrol_list(ranked, max_area_share=0.05)
    with pytest.raises(InputError, match="fraction"):
        patrol_list(ranked, max_area_share=5, study_area_m2=1e7)
    with pytest.raises(InputError, match="ranked"):
        patrol_list(_table())


# --- repeat locations ------------------------------------------------------------------


def _inc(months: list[str], x: float = 100.0, y: float = 200.0, **cols) -> pd.DataFrame:
    return pd.DataFrame(
        {"x": x, "y": y, "when": pd.to_datetime(months), "precision": "month", **cols}
    )


def test_three_in_six_months_is_a_repeat_location():
    r = repeat_locations(_inc(["2024-01-01", "2024-03-01", "2024-06-01"]))
    assert len(r) == 1
    row = r.iloc[0]
    assert (row["x"], row["y"], row["incidents_total"], row["max_in_window"]) == (100, 200, 3, 3)
    assert row["window_start"] == pd.Timestamp("2024-01-01")
    assert row["window_end"] == pd.Timestamp("2024-06-01")


def test_three_over_seven_months_is_not():
    inc = _inc(["2024-01-01", "2024-04-01", "2024-07-01"])
    assert repeat_locations(inc).empty
    assert len(repeat_locations(inc, window_months=7)) == 1
    assert len(repeat_locations(inc, min_incidents=2)) == 1


def test_window_boundaries_with_precise_timestamps():
    inc = _inc(["2024-01-15 10:00", "2024-07-15 09:59", "2024-07-15 10:00"])
    r = repeat_locations(inc, min_incidents=2)
    assert r["max_in_window"].tolist() == [2]  # [Jan 15 10:00, Jul 15 10:00) excludes the 3rd
    assert r["window_start"][0] == pd.Timestamp("2024-01-15 10:00")
    assert repeat_locations(inc).empty
    # month ends: Aug 31 + 6 months = Feb 28 (exclusive), so Feb 28 is out, Feb 27 in
    assert repeat_locations(_inc(["2022-08-31", "2022-12-01", "2023-02-28"])).empty
    assert len(repeat_locations(_inc(["2022-08-31", "2022-12-01", "2023-02-27"]))) == 1


def test_repeat_location_columns_rounding_and_areas():
    a = _inc(
        ["2024-01-01"] * 2 + ["2024-02-01"],
        x=10.4,
        y=20.0,
        category=["Anti-social behaviour", "Drugs", "Anti-social behaviour"],
        location=["On or near Elm Road"] * 3,
        beat=["B1", "B2", "B2"],
    )
    b = _inc(
        ["2024-05-01"], x=9.6, y=20.2, category="Drugs", location="On or near Elm Road", beat="B2"
    )
    far = _inc(
        ["2024-01-01"] * 5,
        x=500.0,
        y=20.0,
        category="Burglary",
        location="On or near Oak Way",
        beat="B7",
    )
    r = repeat_locations(pd.concat([a, b, far], ignore_index=True), area_columns=None)
    assert r["x"].tolist() == [500.0, 10.0] and r["y"].tolist() == [20.0, 20.0]
    assert r["max_in_window"].tolist() == [5, 4]
    assert r["categories"].tolist() == ["Burglary (5)", "Anti-social behaviour (2); Drugs (2)"]
    assert r["location"].tolist() == ["On or near Oak Way", "On or near Elm Road"]
    assert r["beat"].tolist() == ["B7", "B2"]
    assert list(r.columns) == [
        "x",
        "y",
        "location",
        "incidents_total",
        "max_in_window",
        "window_start",
        "window_end",
        "first",
        "last",
        "categories",
        "beat",
    ]
    by_text = repeat_locations(pd.concat([a, b, far]), by=("location",))
    assert by_text["incidents_total"].tolist() == [5, 4]


def test_areas_of_a_location_are_the_most_frequent_ties_to_the_lowest_whatever_the_order():
    # Two incidents in B9, two in B3, one missing: a tie, won by the lower name B3, in any
    # row order (the one "most frequent value per group" rule, hotspots.io._frames).
    rows = _inc(["2024-01-01"] * 5, x=10.0, y=20.0, beat=["B9", "B3", None, "B9", "B3"])
    for order in ([0, 1, 2, 3, 4], [3, 2, 0, 4, 1]):
        r = repeat_locations(rows.iloc[order], area_columns=["beat"])
        assert r["beat"].tolist() == ["B3"]


def test_mode_per_group_counts_weights_and_category_order():
    groups = ["a", "a", "a", "b", "b", None]
    assert mode_per_group(groups, ["x", "y", "y", "q", "p", "z"]).to_dict() == {"a": "y", "b": "p"}
    # By weight (e.g. overlap area): one large piece beats two small ones.
    assert mode_per_group(["a"] * 3, ["x", "x", "y"], weights=[1.0, 1.0, 5.0]).to_dict() == {
        "a": "y"
    }
    # "Lowest" is the categorical's own order, and the dtype is kept.
    cat = pd.Categorical(["q", "p"], categories=["q", "p"])
    got = mode_per_group(["b", "b"], cat)
    assert got.to_dict() == {"b": "q"} and isinstance(got.dtype, pd.CategoricalDtype)
    assert mode_per_group([], []).empty


def test_repeat_locations_geodataframe_and_errors():
    inc = _inc(["2024-01-01"] * 3)
    geo = gpd.GeoDataFrame(
        inc.drop(columns=["x", "y"]), geometry=gpd.points_from_xy(inc.x, inc.y), crs=27700
    )
    assert repeat_locations(geo)["x"].tolist() == [100.0]
    with pytest.raises(CRSError):
        repeat_locations(geo.to_crs(4326))
    with pytest.raises(InputError, match="window_months"):
        repeat_locations(inc, window_months=0)
    with pytest.raises(InputError, match="when"):
        repeat_locations(inc.drop(columns="when"))
    with pytest.raises(InputError, match="by"):
        repeat_locations(inc, by=("address",))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 30)), min_size=1, max_size=60),
    st.integers(1, 4),
    st.integers(1, 8),
)
def test_property_matches_brute_force_over_months(rows, min_incidents, window):
    when = [pd.Timestamp("2022-01-01") + pd.DateOffset(months=m) for _, m in rows]
    inc = pd.DataFrame(
        {"x": [float(loc) * 10 for loc, _ in rows], "y": 0.0, "when": pd.to_datetime(when)}
    )
    got = repeat_locations(inc, min_incidents=min_incidents, window_months=window)
    want = {}
    for loc in {r[0] for r in rows}:
        ms = [m for lc, m in rows if lc == loc]
        best = max(sum(start <= m < start + window for m in ms) for start in range(0, 31))
        if best >= min_incidents:
            want[loc * 10.0] = (len(ms), best)
    assert (
        dict(
            zip(
                got["x"],
                zip(got["incidents_total"], got["max_in_window"], strict=True),
                strict=True,
            )
        )
        == want
    )
