"""An ingested dataset read back by ``run`` gives what a run on the original files gives.

The data: the shipped two months of Leicester police.uk rows (2025-06, 2025-07) and a
small council export (2025-07, 2025-08) located by full postcode, postcode sector,
lon/lat and swapped lat/lon, ingested together in this process (``scheduler="sync"``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hotspots.batch import ingest
from hotspots.cli import main
from hotspots.geocode import POSTCODE_PRECISION_M, lonlat_to_bng
from hotspots.io import ColumnMapping, InputSpec, read_incident_dataset, read_postcode_table
from hotspots.pipeline import DuplicatesConfig, FilterConfig, PopulationConfig, RunConfig, prepare
from tests.helpers import write_police_csv

POLICE = "Leicestershire Police"
COUNCIL_ROWS = [  # Ref, Date, Type, Postcode, Longitude, Latitude
    ("C1", "03/07/2025", "Criminal damage and arson", "LE1 1AA", "", ""),
    ("C2", "10/07/2025", "Anti-social behaviour", "le11ab", "", ""),
    ("C3", "02/08/2025", "Anti-social behaviour", "LE1 5", "", ""),
    ("C4", "15/08/2025", "Public order", "", "-1.1300", "52.6340"),
    ("C5", "20/08/2025", "Anti-social behaviour", "", "52.6350", "-1.1310"),
    ("C6", "25/08/2025", "Anti-social behaviour", "", "", ""),  # no location: rejected
]


def _sector_precision_m(sector: str) -> float:
    """RMS distance of the sector's postcodes from their mean, plus a full postcode's."""
    table, _ = read_postcode_table()
    pcs = table["postcode"].str.upper().str.replace(" ", "")
    rows = table.loc[pcs.str[:-2] == sector.replace(" ", "")].drop_duplicates("postcode")
    x, y = lonlat_to_bng(rows["lon"].to_numpy(), rows["lat"].to_numpy())
    rms = np.sqrt(np.mean((x - x.mean()) ** 2 + (y - y.mean()) ** 2))
    return float(rms) + POSTCODE_PRECISION_M


@pytest.fixture(scope="module")
def council(tmp_path_factory) -> InputSpec:
    path = tmp_path_factory.mktemp("council") / "council.csv"
    cols = ["Ref", "Date", "Type", "Postcode", "Longitude", "Latitude"]
    pd.DataFrame(COUNCIL_ROWS, columns=cols).to_csv(path, index=False)
    mapping = ColumnMapping(
        id="Ref", date="Date", category="Type", postcode="Postcode", lon="Longitude", lat="Latitude"
    )
    return InputSpec((str(path),), source="council", columns=mapping)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, police_slice: Path, council: InputSpec) -> Path:
    out = tmp_path_factory.mktemp("ingest") / "both.parquet"
    ingest([InputSpec.police_uk(police_slice), council], out, scheduler="sync", progress=False)
    return out


def _config(*inputs: InputSpec, last_months: int | None = None) -> RunConfig:
    return RunConfig(
        inputs=list(inputs),
        areas=[("leicestershire/beats", {})],
        filter=FilterConfig(last_months=last_months),
        population=PopulationConfig(enabled=False),
        duplicates=DuplicatesConfig(enabled=False),
    )


def _located(config: RunConfig) -> pd.DataFrame:
    inc = prepare(config).incidents
    cols = ["source", "incident_id", "x", "y", "loc_precision_m", "geocode_note"]
    out = inc[cols].astype({"source": str, "geocode_note": str})
    return out.sort_values(["source", "incident_id"]).reset_index(drop=True)


def _dataset_spec(dataset: Path, **filters) -> InputSpec:
    return dataclasses.replace(InputSpec.police_uk(dataset), filters=filters)


def test_dataset_keeps_location_precision_and_geocode_note(dataset, council) -> None:
    from_files = _located(_config(council))
    from_dataset = _located(_config(_dataset_spec(dataset, force="council")))
    pd.testing.assert_frame_equal(from_dataset, from_files)
    got = from_dataset.set_index("incident_id")
    sector = _sector_precision_m("LE1 5")
    assert got["loc_precision_m"].to_dict() == pytest.approx(
        {"C1": POSTCODE_PRECISION_M, "C2": POSTCODE_PRECISION_M, "C3": sector, "C4": 0.0, "C5": 0.0}
    )
    assert got["geocode_note"].to_dict() == {
        "C1": "located by postcode",
        "C2": "located by postcode",
        "C3": "located by postcode",
        "C4": "",
        "C5": "lat/lon swapped, fixed",
    }


def test_geocode_notes_in_run_json_match_the_files(dataset, council) -> None:
    from_files = prepare(_config(council)).notes
    assert from_files == {"located by postcode": 3, "lat/lon swapped, fixed": 1}
    assert prepare(_config(_dataset_spec(dataset, force="council"))).notes == from_files


def test_ingest_stores_the_geocode_note(dataset) -> None:
    rows = read_incident_dataset(dataset, filters={"force": "council"}, categorical=False)
    notes = rows.set_index("incident_id")["geocode_note"].sort_index()
    assert notes.tolist() == ["located by postcode"] * 3 + ["", "lat/lon swapped, fixed"]


def _period(config: RunConfig) -> tuple[str, str]:
    start, end = prepare(config).period
    return f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d %H:%M:%S}"


def test_last_months_on_a_dataset_counts_back_from_its_latest_month(dataset, police_slice) -> None:
    one_force = _config(_dataset_spec(dataset, force=POLICE), last_months=1)
    assert _period(one_force) == ("2025-07-01", "2025-07-31 23:59:59")
    files = _located(_config(InputSpec.police_uk(police_slice), last_months=1))
    pd.testing.assert_frame_equal(_located(one_force), files)
    whole = _config(_dataset_spec(dataset), last_months=2)  # the council's August is latest
    assert _period(whole) == ("2025-07-01", "2025-08-31 23:59:59")


def test_last_months_over_files_and_a_dataset_takes_the_latest_of_all(
    tmp_path, dataset, police_slice
) -> None:
    later = tmp_path / "2025-09-leicestershire-street.csv"
    write_police_csv(
        later,
        [
            {
                "Crime ID": "sep1",
                "Month": "2025-09",
                "Longitude": "-1.1250",
                "Latitude": "52.6350",
                "Crime type": "Drugs",
            }
        ],
    )
    dataset_last = _config(
        InputSpec.police_uk(police_slice), _dataset_spec(dataset), last_months=2
    )  # the files end in July, the dataset in August
    assert _period(dataset_last) == ("2025-07-01", "2025-08-31 23:59:59")
    files_last = _config(_dataset_spec(dataset), InputSpec.police_uk(later), last_months=2)
    assert _period(files_last) == ("2025-08-01", "2025-09-30 23:59:59")
    located = _located(files_last).set_index("incident_id")
    assert located.index.tolist() == ["C3", "C4", "C5", "sep1"]
    assert located["geocode_note"].tolist() == [
        "located by postcode",
        "",
        "lat/lon swapped, fixed",
        "",
    ]
    sector = _sector_precision_m("LE1 5")
    assert located["loc_precision_m"].tolist() == pytest.approx([sector, 0.0, 0.0, 0.0])


def test_last_months_on_a_dataset_with_no_rows_for_its_filters_says_so(dataset) -> None:
    from hotspots.schema import InputError

    with pytest.raises(InputError, match="last_months"):
        prepare(_config(_dataset_spec(dataset, force="nobody"), last_months=3))


def test_cli_run_on_a_dataset_with_last_months(tmp_path, dataset) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "-q",
            "run",
            "--incidents",
            str(dataset),
            "--areas",
            "leicestershire/beats",
            "--last-months",
            "12",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert (out / "run.json").is_file()
