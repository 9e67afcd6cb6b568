"""A partnership run: a police case export and a council export in one de-duplicated picture."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from hotspots.cli import main
from hotspots.geocode import PostcodeIndex, locate_incidents
from hotspots.io import load_incidents, read_postcode_table
from tests.partner_pairs import synthetic_partner_exports


@pytest.fixture(scope="module")
def partner_run(tmp_path_factory, police_slice: Path) -> Path:
    """Exports built from real police.uk rows, as an analyst's folder, run by config."""
    located = locate_incidents(load_incidents(police_slice).incidents).incidents
    index = PostcodeIndex.from_table(read_postcode_table()[0])
    pair = synthetic_partner_exports(located, index, seed=1)
    folder = tmp_path_factory.mktemp("partnership")
    for rel, table in pair.files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(folder / rel, index=False)
    config = pair.config_toml + '\n[callers]\nperson_column = "Caller ID"\n'
    (folder / "hotspots.toml").write_text(config)
    out = folder / "out"
    code = main(
        [
            "-q",
            "run",
            "--config",
            str(folder / "hotspots.toml"),
            "--areas",
            "leicestershire/beats",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


def test_counts_add_up_with_merged_duplicates(partner_run: Path) -> None:
    meta = json.loads((partner_run / "run.json").read_text())
    merged = meta["rows_merged_as_duplicates"]
    assert merged > 0
    assert meta["rows_read"] == meta["rows_used"] + meta["rows_rejected"] + merged


def test_duplicates_report(partner_run: Path) -> None:
    links = pd.read_csv(partner_run / "duplicates.csv")
    assert list(links.columns) == ["group", "source", "id", "kept", "distance_m", "days_apart"]
    meta = json.loads((partner_run / "run.json").read_text())
    assert (~links["kept"]).sum() == meta["rows_merged_as_duplicates"]
    assert links.groupby("group")["kept"].sum().eq(1).all()  # one record kept per group
    assert links.groupby("group")["source"].nunique().gt(1).all()  # never within one source


def test_rates_funnels_and_no_person_ids_published(partner_run: Path) -> None:
    areas = pd.read_csv(partner_run / "areas.csv")
    assert {
        "residents",
        "rate_per_1000",
        "rate_low",
        "rate_high",
        "significance",
        "repeat_callers",
    } <= set(areas.columns)
    assert (partner_run / "funnel_beat.png").read_bytes()[:4] == b"\x89PNG"
    import re

    for name in [
        "hotspots.geojson",
        "hotspots.csv",
        "areas.csv",
        "map.html",
        "patrol_list.csv",
        "duplicates.csv",
    ]:
        text = (partner_run / name).read_text()
        assert "Caller ID" not in text, name
        assert not re.search(r"\bC\d{6}\b", text), name  # no caller id value anywhere
