"""Behaviours that must not depend on whether text columns are categoricals or text."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from hotspots.io import ColumnMapping, InputSpec, load_incidents
from tests.helpers import write_police_csv

_EXPORT = ColumnMapping(
    id="Ref", date="Date", category="Type", easting="Easting", northing="Northing"
)


def test_ingest_of_exports_whose_extra_column_repeats_in_one_file_only(tmp_path: Path) -> None:
    """Each file's text is compacted on its own; the dataset schema must not depend on it."""
    from hotspots.batch import ingest
    from hotspots.io import read_incident_dataset

    head = "Ref,Date,Type,Easting,Northing,Team\n"
    (tmp_path / "a.csv").write_text(
        head + "".join(f"A{i},01/06/2025,Burglary,{458000 + i},304000,T1\n" for i in range(10))
    )
    (tmp_path / "b.csv").write_text(
        head + "".join(f"B{i},02/06/2025,Burglary,{458000 + i},304100,X{i}\n" for i in range(10))
    )
    spec = InputSpec((str(tmp_path / "a.csv"), str(tmp_path / "b.csv")), "council", _EXPORT)
    out = tmp_path / "d.parquet"
    ingest([spec], out, scheduler="sync", chunk_mb=1e-9, progress=False)  # a chunk per file
    back = read_incident_dataset(out, categorical=False).sort_values("incident_id")
    assert back["Team"].tolist() == ["T1"] * 10 + [
        "X0",
        "X1",
        "X2",
        "X3",
        "X4",
        "X5",
        "X6",
        "X7",
        "X8",
        "X9",
    ]


def test_repeat_location_ties_on_loaded_incidents_are_in_text_order(tmp_path: Path) -> None:
    """``repeat_locations`` documents ties broken by the lowest value; on the public
    ``load_incidents`` output (categories in order of appearance) it must still be text order."""
    from hotspots.geocode import locate_incidents
    from hotspots.rank import repeat_locations

    point = {
        "Month": "2025-06",
        "Longitude": "-1.1300",
        "Latitude": "52.6300",
        "Location": "On or near High Street",
    }
    rows = [
        {**point, "Crime ID": f"c{i}", "Crime type": t}
        for i, t in enumerate(["Vehicle crime", "Vehicle crime", "Burglary", "Burglary"])
    ]
    loaded = load_incidents(write_police_csv(tmp_path / "2025-06-x-street.csv", rows))
    located = locate_incidents(loaded.incidents).incidents
    assert repeat_locations(located)["categories"].tolist() == ["Burglary (2); Vehicle crime (2)"]


def test_nulls_in_a_geopackage_export_are_blanks(tmp_path: Path) -> None:
    """A null id takes the file:line id, a null category is blank (no_category) and is not
    reported as an unmapped label (a NaN there crashes ``hotspots validate``/``run``)."""
    gdf = gpd.GeoDataFrame(
        {"case": ["G1", None], "date": ["2024-01-15", "2024-01-16"], "type": [None, "Drugs"]},
        geometry=shapely.points([458000.0, 458100.0], [304000.0, 304000.0]),
        crs=27700,
    )
    gdf.to_file(tmp_path / "c.gpkg", driver="GPKG")
    m = ColumnMapping(id="case", date="date", category="type")
    r = load_incidents(InputSpec((str(tmp_path / "c.gpkg"),), "fire", m))
    assert r.unmapped_categories == {}
    assert r.rejects["reason"].tolist() == ["no_category"]
    assert r.incidents["incident_id"].tolist() == ["c.gpkg:2"]


def test_a_bad_coordinate_is_rejected_as_such_beside_an_export_with_postcodes(
    tmp_path: Path,
) -> None:
    """A police.uk row has no postcode to fall back on, whatever other inputs have."""
    police = write_police_csv(
        tmp_path / "2025-06-x-street.csv",
        [
            {
                "Crime ID": "a",
                "Month": "2025-06",
                "Longitude": "abc",
                "Latitude": "52.63",
                "Crime type": "Drugs",
            }
        ],
    )
    (tmp_path / "x.csv").write_text("Ref,Date,Type,Postcode\n1,01/06/2025,Noise,LE1 4JB\n")
    m = ColumnMapping(id="Ref", date="Date", category="Type", postcode="Postcode")
    r = load_incidents([InputSpec.police_uk(police), InputSpec((str(tmp_path / "x.csv"),), "c", m)])
    assert r.rejects[["reason", "detail"]].values.tolist() == [
        ["bad_coordinates", "not a number: Longitude 'abc'"]
    ]


def test_last_months_of_exports_count_back_from_the_latest_row_of_any_category(
    tmp_path: Path,
) -> None:
    """As police.uk file names do: the category filter does not move the window."""
    from hotspots.pipeline import FilterConfig, RunConfig, prepare

    (tmp_path / "x.csv").write_text(
        "Ref,Date,Type,Easting,Northing\n"
        "1,15/10/2025,Burglary,458500,304500\n"
        "2,15/11/2025,Burglary,458500,304500\n"
        "3,15/12/2025,Drugs,458500,304500\n"
    )
    spec = InputSpec((str(tmp_path / "x.csv"),), "council", _EXPORT)
    prepared = prepare(
        RunConfig(
            inputs=[spec],
            filter=FilterConfig(last_months=2, categories=["burglary"]),
        )
    )
    assert prepared.period[0] == pd.Timestamp("2025-11-01")
    assert prepared.incidents["incident_id"].tolist() == ["2"]
    reasons = dict(zip(prepared.rejects["_row"], prepared.rejects["reason"], strict=True))
    assert reasons == {0: "out_of_period", 2: "filtered_category"}
