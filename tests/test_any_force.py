"""Any force out of the box: areas from the rows, and a guard against the wrong boundaries.

The Lincolnshire cases use ../shared/data/police-uk-street-lincolnshire-2025 and skip
cleanly without it; the rest use the shipped Leicester slice.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots.cli import main
from hotspots.data_areas import STRAY_DISTRICT_SHARE, areas_from_rows, district_of
from hotspots.io import InputSpec
from hotspots.pipeline import RunConfig, prepare

LINCS_DISTRICTS = {
    "Boston",
    "East Lindsey",
    "Lincoln",
    "North Kesteven",
    "South Holland",
    "South Kesteven",
    "West Lindsey",
}


@pytest.fixture(scope="module")
def lincs(shared_data) -> Path:
    path = shared_data / "police-uk-street-lincolnshire-2025"
    if not path.is_dir():
        pytest.skip("Lincolnshire 2025 police.uk data not in ../shared/data")
    return path


def _relabelled(src: Path, dest: Path, force: str, months: int = 3) -> Path:
    """police.uk files of ``src`` as another force's (one the package does not ship)."""
    dest.mkdir()
    for f in sorted(src.glob("*.csv.gz"))[:months]:
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            rows = pd.read_csv(fh, dtype=str, keep_default_na=False)
        rows["Falls within"] = rows["Reported by"] = force
        rows.to_csv(dest / f.name.replace(".gz", ""), index=False)
    return dest


def _run(args: list[str], capsys) -> tuple[int, str]:
    code = main(["-q", *args])
    return code, capsys.readouterr().err


def test_run_with_only_incidents_uses_the_forces_own_lsoas(lincs, tmp_path, capsys):
    out = tmp_path / "out"
    code, err = _run(["run", "--incidents", str(lincs), "--out", str(out)], capsys)
    assert code == 0, err
    meta = json.loads((out / "run.json").read_text())
    located = meta["rows_read"] - meta["rejects_by_reason"].get("no_location", 0)
    assert meta["rows_used"] >= 0.95 * located
    assert [a["layer"] for a in meta["areas"]] == ["lsoa", "district", "force"]
    study = meta["study_area"]
    assert study["lsoas_with_shipped_polygons"] > 400 and study["lsoas_drawn_from_cells"] == 0
    assert set(study["stray_districts"]).isdisjoint(LINCS_DISTRICTS)
    areas = pd.read_csv(out / "areas.csv")
    assert set(areas.loc[areas["layer"] == "district", "name"]) == LINCS_DISTRICTS
    assert list(areas.loc[areas["layer"] == "force", "name"]) == ["Lincolnshire Police"]
    top = pd.read_csv(out / "hotspots.csv").sort_values("rank").head(10)
    assert set(top["district"]) <= LINCS_DISTRICTS
    assert top["district"].iloc[0] == "Lincoln"  # the county's city has the busiest place


def test_a_force_the_package_does_not_ship(lincs, tmp_path, capsys):
    data = _relabelled(lincs, tmp_path / "in", "Testshire Police")
    out = tmp_path / "out"
    code, err = _run(["run", "--incidents", str(data), "--out", str(out)], capsys)
    assert code == 0, err
    meta = json.loads((out / "run.json").read_text())
    assert meta["rows_used"] >= 0.95 * meta["rows_read"]
    study = meta["study_area"]
    assert study["lsoas_with_shipped_polygons"] == 0 and study["lsoas_drawn_from_cells"] > 400
    assert "250 m cells" in study["rule"]
    hot = gpd.read_file(out / "hotspots.geojson").to_crs(27700)
    lincoln = shapely.Point(497600, 371300).buffer(5000)  # Lincoln city centre, 5 km
    assert hot.sort_values("rank").head(3).intersects(lincoln).any()


def test_wrong_boundaries_are_refused_with_the_fix(lincs, tmp_path, capsys):
    code, err = _run(
        [
            "run",
            "--incidents",
            str(lincs),
            "--areas",
            "leicestershire/beats",
            "--out",
            str(tmp_path / "out"),
        ],
        capsys,
    )
    assert code == 2
    line = err.strip().splitlines()
    assert len(line) == 1
    for words in (
        "100% of the 68,522 located rows fall outside",
        "leicestershire/beats",
        "Lincolnshire Police",
        "--areas lincolnshire/beats",
        "--allow-outside",
    ):
        assert words in line[0], words
    code, err = _run(
        ["validate", "--incidents", str(lincs), "--areas", "leicestershire/beats"], capsys
    )
    assert code == 2 and "Lincolnshire Police" in err


def test_allow_outside_runs_anyway(police_slice, tmp_path, capsys):
    far = gpd.GeoDataFrame(
        {"beat": ["Elsewhere", "Centre"]},
        crs=27700,
        geometry=[
            shapely.box(300000, 300000, 400000, 400000),
            shapely.box(458000, 303500, 459000, 304500),
        ],
    )
    areas = tmp_path / "far.geojson"
    far.to_file(areas, driver="GeoJSON")
    args = [
        "run",
        "--incidents",
        str(police_slice),
        "--areas",
        str(areas),
        "--area-field",
        "beat=beat",
        "--out",
        str(tmp_path / "out"),
    ]
    code, err = _run(args, capsys)
    assert code == 2 and "fall outside the areas" in err
    code, err = _run([*args, "--allow-outside"], capsys)
    assert code == 0, err


def test_slice_without_areas_uses_shipped_leicestershire_lsoas(police_slice):
    prepared = prepare(RunConfig(inputs=[InputSpec.police_uk([str(police_slice)])]))
    areas = prepared.data_areas
    assert areas is not None and areas.cell_polygons == 0 and areas.shipped_polygons > 0
    inc = prepared.incidents
    assert (inc["lsoa"].astype(str) == inc["lsoa_code"].astype(str)).all()
    assert set(inc["district"].astype(str)) <= {"Leicester", "Oadby and Wigston", "Blaby"}
    assert set(inc["force"].astype(str)) == {"Leicestershire Police"}


def test_strays_and_cell_outlines_hand_worked():
    """Three LSOAs of one district and a stray; the 100 m cell (0, 0) holds two of E1 and
    one of E2, so it is E1's; E2 keeps its other cell; the stray's rows are left out."""
    rows = pd.DataFrame(
        {
            "x": [10.0, 20.0, 30.0, 150.0, 250.0, 9e5],
            "y": [10.0, 20.0, 30.0, 50.0, 50.0, 9e5],
            "lsoa_code": ["E1", "E1", "E2", "E2", "E3", "W9"],
            "lsoa_name": [
                "Town 001A",
                "Town 001A",
                "Town 001B",
                "Town 001B",
                "Town 002A",
                "Far 001A",
            ],
            "force": ["A Police"] * 5 + ["B Police"],
        }
    )
    found = areas_from_rows(rows, cell_size_m=100.0, stray_district_share=0.2)
    lsoa = found.layers[0].polygons.set_index("name").geometry
    assert lsoa["E1"].equals(shapely.box(0, 0, 100, 100))
    assert lsoa["E2"].equals(shapely.box(100, 0, 200, 100))
    assert lsoa["E3"].equals(shapely.box(200, 0, 300, 100))
    assert found.stray_districts == {"Far": 1}
    force = found.layers[2]
    assert dict(force.parent_names) == {"E1": "A Police", "E2": "A Police", "E3": "A Police"}
    assert force.polygons.area.tolist() == [30_000.0]
    # shipped polygons are used where the code has one
    shipped = gpd.GeoDataFrame({"name": ["E3"]}, geometry=[shapely.box(200, 0, 260, 40)], crs=27700)
    found = areas_from_rows(rows, shipped, cell_size_m=100.0, stray_district_share=0.2)
    assert (found.shipped_polygons, found.cell_polygons) == (1, 2)
    assert found.layers[0].polygons.set_index("name").geometry["E3"].area == 2400.0


def test_default_stray_share_separates_real_districts():
    """The documented default sits between strays (≤ 0.1%) and the smallest real
    district measured (1.8%)."""
    assert 0.001 < STRAY_DISTRICT_SHARE < 0.018
    names = pd.Series(["Stoke-on-Trent 001A", "Bournemouth, Christchurch and Poole 015D", ""])
    assert list(district_of(names)) == ["Stoke-on-Trent", "Bournemouth, Christchurch and Poole", ""]
    assert np.all(district_of(pd.Series([None], dtype=object)) == "")


def test_rows_outside_are_not_reported_as_a_missing_category(police_slice, tmp_path, capsys):
    far = gpd.GeoDataFrame(
        {"beat": ["Elsewhere"]}, crs=27700, geometry=[shapely.box(300000, 300000, 310000, 310000)]
    )
    areas = tmp_path / "far.geojson"
    far.to_file(areas, driver="GeoJSON")
    code, err = _run(
        [
            "validate",
            "--incidents",
            str(police_slice),
            "--areas",
            str(areas),
            "--area-field",
            "beat=beat",
            "--allow-outside",
            "--category",
            "Anti-social behaviour",
        ],
        capsys,
    )
    assert code == 0  # validate lists the rejects
    code, err = _run(
        [
            "run",
            "--incidents",
            str(police_slice),
            "--areas",
            str(areas),
            "--area-field",
            "beat=beat",
            "--allow-outside",
            "--category",
            "Anti-social behaviour",
            "--out",
            str(tmp_path / "o"),
        ],
        capsys,
    )
    assert code == 2 and "outside_study_area" in err and "no incident has the category" not in err


def test_export_without_lsoas_gets_a_cell_study_area_without_strays(tmp_path):
    """A partner export names no LSOA: its study area is its populated 1 km cells, and a
    lone far-away row (under 0.5% of the rows) is outside it."""
    from hotspots.io import ColumnMapping

    rng = np.random.default_rng(3)
    n = 300
    rows = pd.DataFrame(
        {
            "Ref": [f"C{i}" for i in range(n + 1)],
            "Date": ["2025-06-01"] * (n + 1),
            "Type": ["Anti-social behaviour"] * (n + 1),
            "E": np.r_[458_000 + rng.uniform(0, 3000, n), 530_043],
            "N": np.r_[304_000 + rng.uniform(0, 3000, n), 180_358],
        }
    )
    rows.to_csv(tmp_path / "cases.csv", index=False)
    mapping = ColumnMapping(id="Ref", date="Date", category="Type", easting="E", northing="N")
    prepared = prepare(
        RunConfig(inputs=[InputSpec((str(tmp_path / "cases.csv"),), "council", mapping)])
    )
    assert prepared.layers == [] and prepared.cell_study_area is not None
    assert prepared.counts["rejects_by_reason"] == {"outside_study_area": 1}
    assert prepared.cell_study_area.polygon.bounds[0] >= 456_000
    assert prepared.cell_study_area.polygon.area <= 25e6  # a 5 x 5 km square at most
