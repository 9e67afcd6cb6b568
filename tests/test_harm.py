"""Harm weights: from a column or a table, and harm-weighted density and ranking in ``run``."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hotspots.cli import main
from hotspots.harm import BUILTIN_TABLES, harm_weights
from hotspots.schema import InputError


def test_column_weights() -> None:
    inc = pd.DataFrame({"category": ["Burglary"] * 3, "harm": ["1,200.5", " 3 ", ""]})
    assert harm_weights(inc, column="harm", default=0.0).tolist() == [1200.5, 3.0, 0.0]
    with pytest.raises(InputError, match="row 3 is blank"):
        harm_weights(inc, column="harm")
    bad = pd.DataFrame({"harm": ["2", "-1"]})
    with pytest.raises(InputError, match="row 2 has '-1'"):
        harm_weights(bad, column="harm")
    with pytest.raises(InputError, match="not in the incidents"):
        harm_weights(bad, column="severity")
    numeric = pd.DataFrame({"harm": [1.0, np.inf]})
    with pytest.raises(InputError, match="not a number"):
        harm_weights(numeric, column="harm")


def test_table_weights() -> None:
    inc = pd.DataFrame({"category": ["Burglary", "Anti-social behaviour", "Drugs"]})
    table = {"burglary": 20, "Anti-social  behaviour": 0.5}
    assert harm_weights(inc, table=table, default=1.0).tolist() == [20.0, 0.5, 1.0]
    with pytest.raises(InputError, match="no weight for 1 .*'Drugs'"):
        harm_weights(inc, table=table)
    with pytest.raises(InputError, match="one of them"):
        harm_weights(inc)
    assert BUILTIN_TABLES == {}  # no published table by police.uk category shipped


def _partner_csv(police_slice: Path, path: Path) -> pd.DataFrame:
    frames = []
    for f in sorted(police_slice.glob("*.csv.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            frames.append(pd.read_csv(fh))
    raw = pd.concat(frames).dropna(subset=["Longitude"])
    out = pd.DataFrame(
        {
            "month": raw["Month"],
            "category": raw["Crime type"],
            "lon": raw["Longitude"],
            "lat": raw["Latitude"],
        }
    )
    # violence counts 10, everything else 1 (an illustrative weight, not an index)
    out["harm"] = np.where(out["category"] == "Violence and sexual offences", 10.0, 1.0)
    out.to_csv(path, index=False)
    return out


def test_run_harm_spots_end_to_end(tmp_path: Path, police_slice: Path) -> None:
    data = _partner_csv(police_slice, tmp_path / "partner.csv")
    config = tmp_path / "run.toml"
    config.write_text(
        f'out = "{(tmp_path / "out").as_posix()}"\n'
        "[[inputs]]\n"
        'path = "partner.csv"\n'
        'source = "partner"\n'
        "[inputs.columns]\n"
        'month = "month"\ncategory = "category"\nlon = "lon"\nlat = "lat"\n'
        "[[areas]]\n"
        'path = "leicestershire/beats"\n'
        "[hotspots]\n"
        'rank_by = "harm"\nharm_column = "harm"\n',
        encoding="utf-8",
    )
    assert main(["run", "--config", str(config), "-q"]) == 0
    out = tmp_path / "out"
    meta = json.loads((out / "run.json").read_text())
    text = json.dumps(meta)
    assert '"harm_column": "harm"' in text
    # the total harm: 10 per violent incident, 1 per other (all rows lie in the beats)
    violent = int((data["category"] == "Violence and sexual offences").sum())
    expected_total = 10 * violent + (len(data) - violent)
    assert f'"total": {float(expected_total)}' in text
    spots = pd.read_csv(out / "hotspots.csv")
    # ranked by harm: the score of each hotspot is its harm, and ranks follow it
    assert (np.diff(spots["score"].to_numpy()) <= 0).all()
    share = spots["top_categories"].str.extract(r"Violence and sexual offences \((\d+)%\)")[0]
    v = share.fillna(0).astype(float) / 100 * spots["incidents"]
    # harm = incidents + 9 x violent incidents (shares are rounded to whole percent)
    approx = spots["incidents"] + 9 * v
    assert np.allclose(spots["score"], approx, atol=9 * 0.005 * spots["incidents"] + 1)
    assert (spots["score"] >= spots["incidents"]).all()
