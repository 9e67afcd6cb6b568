"""Rates that are right, or absent, anywhere (issue #16 item 5).

Hand-worked synthetic cases for the coverage rule and the 2011→2021 weights; real-data runs
on ../shared/data (Lincolnshire 2025) that skip cleanly without it; and a sliver beat on the
shipped Leicester slice.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import box

from hotspots.boundaries import AreaLayer, load_areas
from hotspots.cli import main
from hotspots.io import read_lsoa_changes, read_population
from hotspots.pipeline import population_by_layer
from hotspots.rates import (
    COVERAGE_MIN,
    apply_coverage,
    apportion_with_coverage,
    area_rates,
    lsoa_weights,
    weighted_residents,
)


def _gdf(names: list[str], geoms: list, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": names, **cols}, geometry=geoms, crs=27700)


# --- the coverage rule, by hand ------------------------------------------------------------


def test_coverage_rule_hand_worked() -> None:
    # Two 1 km² LSOAs: L1 1,000 residents, L2 500. Beats: A = L1 + half of L2 (all covered);
    # B = the other half of L2 + a 20 m strip outside (0.5 of 0.52 km² covered: 96.15%);
    # C = a 100 m sliver of L2 + 1 km² outside (0.1 of 1.1 km²: 9.09%); D = all outside.
    lsoas = gpd.GeoDataFrame(
        {"residents": [1000.0, 500.0]},
        crs=27700,
        geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000)],
    )
    beats = _gdf(
        ["A", "B", "C", "D"],
        [
            box(0, 0, 1500, 1000),
            box(1500, 0, 2020, 1000),
            box(1900, 0, 3000, 1000),
            box(5000, 0, 6000, 1000),
        ],
    )
    found = apportion_with_coverage(lsoas, beats)
    assert found["residents"].round(6).tolist() == [1250.0, 250.0, 50.0, 0.0]
    assert found["coverage"].round(6).tolist() == [
        1.0,
        round(0.5 / 0.52, 6),
        round(0.1 / 1.1, 6),
        0.0,
    ]
    kept = apply_coverage(found["residents"], found["coverage"])
    assert kept["rate_blank_reason"].tolist() == [
        "",
        "",
        "partial_coverage",
        "outside_lsoa_polygons",
    ]
    assert kept["residents"].tolist()[:2] == [1250.0, 250.0]
    assert kept["residents"].iloc[2:].isna().all()  # never the sliver's 50 residents
    rates = area_rates(pd.Series({"A": 25, "B": 5, "C": 40, "D": 3}), kept["residents"])
    assert rates["rate_per_1000"].iloc[:2].tolist() == [20.0, 20.0]
    assert rates["rate_per_1000"].iloc[2:].isna().all()  # not 40 / 50 = 800 per 1,000
    # the overall rate is from covered areas only: 30 / 1,500, so both are as expected
    assert rates["significance"].tolist() == ["as expected"] * 4
    assert COVERAGE_MIN == 0.95


def test_unknown_residents_do_not_cover() -> None:
    lsoas = gpd.GeoDataFrame(
        {"residents": [1000.0, np.nan]},
        crs=27700,
        geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000)],
    )
    found = apportion_with_coverage(lsoas, _gdf(["A"], [box(0, 0, 2000, 1000)]))
    assert found.loc["A"].tolist() == [1000.0, 0.5]


def test_lsoa_weights_split_and_mixed_years_count_people_once() -> None:
    # 2011 P (600 residents) split into N1 (70% of its area) and N2 (20%; shares
    # normalised: 7/9 and 2/9). A district holding P and N1 (a run mixing 2022 and 2024
    # rows) holds P's 600 people once, not 600 + 466.67.
    pop = pd.Series({"P": 600.0, "Q": 900.0})
    ch = pd.DataFrame(
        {"LSOA11CD": ["P", "P"], "LSOA21CD": ["N1", "N2"], "share_of_2011_area": [0.7, 0.2]}
    )
    w = lsoa_weights(["Q", "N1", "N2", "P", "X"], pop, ch)
    assert w["code"].tolist() == ["Q", "N1", "N2", "P"]  # X: unknown, no row
    per = weighted_residents(w, pop)
    assert per.round(4).to_dict() == {"Q": 900.0, "N1": 466.6667, "N2": 133.3333, "P": 600.0}
    groups = pd.Series({"Q": "D1", "N1": "D2", "N2": "D2", "P": "D3"})
    assert weighted_residents(w, pop, groups).round(4).to_dict() == {
        "D1": 900.0,
        "D2": 600.0,
        "D3": 600.0,
    }
    mixed = pd.Series({"P": "D", "N1": "D"})
    assert weighted_residents(w, pop, mixed).to_dict() == {"D": 600.0}


def test_population_by_layer_lsoa_codes_and_their_district() -> None:
    """By code from the shipped national table; a 2021 split through the shipped change
    table; an unknown code blank with its reason; the district over the coverage rule."""
    pop = read_population()
    ch = read_lsoa_changes()
    codes = ["E01013600", "E01034010", "E01099999", "W01000001"]
    lsoa = AreaLayer(
        "lsoa",
        _gdf(codes, [box(i * 1000, 0, i * 1000 + 1000, 1000) for i in range(4)]),
        name_column="lsoa_code",
    )
    district = AreaLayer(
        "district",
        _gdf(["D", "W"], [box(0, 0, 3000, 1000), box(3000, 0, 4000, 1000)]),
        derived_from="lsoa",
        parent_names={"E01013600": "D", "E01034010": "D", "E01099999": "D", "W01000001": "W"},
    )
    found = population_by_layer([lsoa, district])
    t = found.tables["lsoa"]
    parent = ch.loc[ch["LSOA11CD"] == "E01013607", "share_of_2011_area"]
    split = pop["E01013607"] * 0.267 / parent.sum()
    assert t.loc["E01013600", "residents"] == 1921  # Leicester 003A, Census 2011
    assert t.loc["E01034010", "residents"] == pytest.approx(split)
    assert t.loc["W01000001", "residents"] == pop["W01000001"]  # Wales too
    assert np.isnan(t.loc["E01099999", "residents"])
    assert t["rate_blank_reason"].tolist() == ["", "", "lsoa_code_without_residents", ""]
    assert t.loc["E01034010", "population_vintage"] == "Census 2011, split to 2021 LSOA by area"
    d = found.tables["district"]
    # D: two of its three 1 km² LSOAs have residents (66.7% < 95%): blank, not 1921 + split
    assert d.loc["D", "residents_coverage"] == pytest.approx(0.6667)
    assert np.isnan(d.loc["D", "residents"]) and d.loc["D", "rate_blank_reason"] == (
        "partial_coverage"
    )
    assert d.loc["W", "residents"] == pop["W01000001"]
    meta = found.metadata()
    assert meta["layers"]["lsoa"] == {
        "method": "by LSOA code",
        "areas": 4,
        "with_rate": 3,
        "blank": {"lsoa_code_without_residents": 1},
    }
    assert meta["layers"]["district"]["blank"] == {"partial_coverage": 1}
    assert meta["vintage"].startswith("Census 2011")
    assert "Open Government Licence" in meta["attribution"]
    assert set(meta["reasons"]) == {"lsoa_code_without_residents", "partial_coverage"}


def test_beats_where_no_lsoa_polygons_are_shipped_say_so() -> None:
    far = AreaLayer("beat", _gdf(["Far"], [box(100_000, 100_000, 101_000, 101_000)]))
    t = population_by_layer([far]).tables["beat"]
    assert np.isnan(t.loc["Far", "residents"])
    assert t.loc["Far", "rate_blank_reason"] == "outside_lsoa_polygons"


# --- a sliver beat on the shipped Leicester slice ------------------------------------------


@pytest.fixture(scope="module")
def sliver_run(tmp_path_factory, police_slice: Path) -> Path:
    """Leicestershire beats, one of them (Moira) stretched west into Derbyshire, where no
    LSOA polygons are shipped: most of it has unknown residents."""
    beats = load_areas("leicestershire/beats")[0].polygons.rename(columns={"name": "BEAT"})
    force = load_areas("leicestershire/force")[0].polygons.geometry.union_all()
    moira = beats["BEAT"] == "Moira"
    x0, y0, _, y1 = beats.loc[moira].total_bounds
    extra = box(x0 - 8000, y0, x0 + 1000, y1).difference(force)
    beats.loc[moira, "geometry"] = beats.loc[moira].geometry.union(extra).to_numpy()
    folder = tmp_path_factory.mktemp("sliver")
    beats.to_crs(4326).to_file(folder / "beats.geojson", driver="GeoJSON")
    out = folder / "out"
    code = main(
        [
            "-q",
            "run",
            "--incidents",
            str(police_slice),
            "--areas",
            str(folder / "beats.geojson"),
            "--area-field",
            "beat=BEAT",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


def test_a_beat_mostly_outside_the_population_has_no_rate(sliver_run: Path) -> None:
    areas = pd.read_csv(sliver_run / "areas.csv", keep_default_na=False, na_values=[""])
    beats = areas[areas["layer"] == "beat"].set_index("name")
    assert len(beats) == 171
    moira = beats.loc["Moira"]
    assert moira["residents_coverage"] < 0.95
    assert np.isnan(moira["residents"]) and np.isnan(moira["rate_per_1000"])
    assert moira["rate_blank_reason"] == "partial_coverage"
    others = beats.drop(index="Moira")
    assert others["rate_per_1000"].notna().all() and (others["residents_coverage"] >= 0.95).all()
    assert (others["population_vintage"] == "Census 2011, apportioned by area").all()
    rates = json.loads((sliver_run / "run.json").read_text())["parameters"]["rates"]
    assert rates["layers"]["beat"]["with_rate"] == 170
    assert rates["layers"]["beat"]["blank"] == {"partial_coverage": 1}
    assert rates["coverage_min"] == 0.95 and rates["vintage"].startswith("Census 2011")


# --- real data: Lincolnshire 2025, any force from the rows ---------------------------------


@pytest.fixture(scope="module")
def lincs(shared_data) -> Path:
    path = shared_data / "police-uk-street-lincolnshire-2025"
    if not path.is_dir():
        pytest.skip("Lincolnshire 2025 police.uk data not in ../shared/data")
    return path


@pytest.fixture(scope="module")
def census(shared_data) -> pd.DataFrame:
    path = shared_data / "census2011-lsoa-population" / "census2011_lsoa_population_ew.csv.gz"
    if not path.exists():
        pytest.skip("census2011-lsoa-population not in ../shared/data")
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def lincs_rows(lincs) -> pd.DataFrame:
    parts = []
    for f in sorted(lincs.glob("*.csv.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            parts.append(pd.read_csv(fh, dtype=str, keep_default_na=False))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def lincs_run(lincs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lincs") / "out"
    assert main(["-q", "run", "--incidents", str(lincs), "--out", str(out)]) == 0
    return out


def test_only_incidents_gives_lsoa_and_district_rates(lincs_run, census, lincs_rows) -> None:
    areas = pd.read_csv(lincs_run / "areas.csv", keep_default_na=False, na_values=[""])
    lsoa = areas[areas["layer"] == "lsoa"].set_index("name")
    assert lsoa["rate_per_1000"].notna().all()  # all 435, 29 of them 2021 splits
    pop = census.set_index("lsoa11_code")["all_usual_residents"].astype(float)
    # One LSOA by hand: Boston 001A (E01026007, unchanged 2011 → 2021) from the raw rows.
    n = int(((lincs_rows["LSOA code"] == "E01026007") & (lincs_rows["Longitude"] != "")).sum())
    assert lsoa.loc["E01026007", "incidents"] == n
    assert lsoa.loc["E01026007", "residents"] == pop["E01026007"] == 1106
    assert lsoa.loc["E01026007", "rate_per_1000"] == pytest.approx(n / 1106 * 1000, rel=1e-5)
    # A 2021 split (Boston 003E, 43.9% of 2011 Boston 003A's area; its sibling 54.6%).
    assert lsoa.loc["E01034681", "residents"] == round(pop["E01026006"] * 0.439 / 0.985)
    # Districts: exactly the census districts' totals.
    lincs_census = census[census["police_force"] == "Lincolnshire"]
    by_lad = lincs_census.groupby("lad11_name")["all_usual_residents"].apply(
        lambda s: s.astype(int).sum()
    )
    district = areas[areas["layer"] == "district"].set_index("name")
    assert district["residents"].astype(int).to_dict() == by_lad.to_dict()
    lincoln = district.loc["Lincoln"]
    assert lincoln["rate_per_1000"] == pytest.approx(lincoln["incidents"] / 93541 * 1000, rel=1e-5)
    force = areas[areas["layer"] == "force"].iloc[0]
    assert force["residents"] == 713_653
    meta = json.loads((lincs_run / "run.json").read_text())["parameters"]["rates"]
    assert {k: v["with_rate"] for k, v in meta["layers"].items()} == {
        "lsoa": 435,
        "district": 7,
        "force": 1,
    }
    assert "2011->2021" in meta["lsoa2021"]


def test_lincolnshire_beats_reaching_into_the_wash_are_blank_not_guessed(lincs, tmp_path):
    out = tmp_path / "out"
    assert (
        main(
            [
                "-q",
                "run",
                "--incidents",
                str(lincs),
                "--areas",
                "lincolnshire/beats",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    areas = pd.read_csv(out / "areas.csv", keep_default_na=False, na_values=[""])
    beats = areas[areas["layer"] == "beat"].set_index("name")
    hurn = beats.loc["Holbeach Hurn"]  # a 2013 ward reaching over the Wash's mudflats
    assert hurn["residents_coverage"] == pytest.approx(0.9358, abs=1e-4)
    assert np.isnan(hurn["rate_per_1000"]) and hurn["rate_blank_reason"] == "partial_coverage"
    meta = json.loads((out / "run.json").read_text())["parameters"]["rates"]
    assert meta["layers"]["beat"]["with_rate"] == 176
    assert meta["layers"]["beat"]["blank"] == {"partial_coverage": 4}
    # no beat has a rate from a sliver: every rate is over ≥ 95% coverage
    assert (beats.loc[beats["rate_per_1000"].notna(), "residents_coverage"] >= 0.95).all()
