"""Degenerate data: 0, 1, 2 incidents, one location, one beat, a tiny study area, huge grids."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from hotspots.cli import main
from hotspots.grid import make_grid
from hotspots.schema import InputError
from tests.helpers import write_police_csv

G = {
    "Month": "2025-06",
    "Longitude": "-1.1330",
    "Latitude": "52.6340",
    "Location": "On or near High Street",
    "Crime type": "Anti-social behaviour",
}


def _run(tmp_path: Path, rows: list[dict], *extra: str) -> tuple[int, Path]:
    f = write_police_csv(tmp_path / "2025-06-x-street.csv", rows)
    out = tmp_path / "out"
    code = main(
        ["-q", "run", "--incidents", str(f), "--out", str(out), *extra]
        + ([] if "--areas" in extra else ["--areas", "leicestershire/beats"])
    )
    return code, out


def test_no_usable_incident_is_a_clear_error(tmp_path: Path, capsys) -> None:
    code, out = _run(tmp_path, [{**G, "Longitude": "", "Latitude": ""}, {**G, "Month": "2025-13"}])
    assert code == 2
    err = capsys.readouterr().err
    assert "no usable incidents" in err and "no_location 1" in err and "bad_date 1" in err
    assert not (out / "run.json").exists()


@pytest.mark.parametrize(
    "rows",
    [
        [G],
        [G, {**G, "Longitude": "-1.1400"}],
        [G] * 50,
        [G] * 10 + [{**G, "Month": "2025-07"}] * 10,
    ],
    ids=["one", "two", "one-location", "one-location-two-months"],
)
def test_tiny_inputs_run(tmp_path: Path, rows: list[dict]) -> None:
    code, out = _run(tmp_path, rows)
    assert code == 0
    meta = json.loads((out / "run.json").read_text())
    assert meta["rows_used"] == len(rows)
    hs = gpd.read_file(out / "hotspots.geojson")
    if len(rows) < 5:  # below the default minimum size of a hotspot
        assert len(hs) == 0
    else:
        assert hs["incidents"].sum() == len(rows) and (hs["area_m2"] > 0).all()


def test_one_beat_of_one_square_km(tmp_path: Path) -> None:
    beat = gpd.GeoDataFrame(
        {"BEAT": ["Only beat"]}, geometry=[shapely.box(458300, 304200, 459300, 305200)], crs=27700
    )
    path = tmp_path / "beat.gpkg"
    beat.to_file(path)
    rows = [
        {**G, "Longitude": f"{-1.1330 + i * 2e-4:.5f}", "Latitude": f"{52.6340 + i * 1e-4:.5f}"}
        for i in range(30)
    ] + [{**G, "Longitude": "-1.3000"}]
    code, out = _run(tmp_path, rows, "--areas", str(path), "--area-field", "beat=BEAT")
    assert code == 0
    meta = json.loads((out / "run.json").read_text())
    assert meta["rejects_by_reason"] == {"outside_study_area": 1}
    assert meta["rows_read"] == meta["rows_used"] + meta["rows_rejected"]


def test_grid_too_large_suggests_a_cell_size() -> None:
    with pytest.raises(InputError, match=r"use a larger cell size \(e.g. cell_size_m="):
        make_grid((400_000, 280_000, 480_000, 350_000), cell_size_m=1)
