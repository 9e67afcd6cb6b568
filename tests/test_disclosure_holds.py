"""Disclosure control that holds: under ``min_count`` k no count from 1 to k-1 can be read
back from the published outputs by the routes an analyst (or anyone) would try: the
density raster summed over an area, the raster's tags, the monthly columns, a parent
area's count minus its children shown, or the whole's count minus the areas shown."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from scipy.spatial import cKDTree

from hotspots.boundaries import load_areas
from hotspots.cli import main
from hotspots.density import kde_surface
from hotspots.pipeline._disclosure import (
    cross_layer_hidden,
    disclosure_control,
    published_surface,
)
from hotspots.seasonal import MONTH_COLUMNS

K = 5
#: Few enough in the city-centre slice for many small beats and months.
CATEGORY = "Burglary"


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory, police_slice: Path) -> Path:
    out = tmp_path_factory.mktemp("k5") / "out"
    code = main(
        [
            "-q",
            "run",
            "--incidents",
            str(police_slice),
            "--areas",
            "leicestershire/beats",
            "--category",
            CATEGORY,
            "--min-count",
            str(K),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


@pytest.fixture(scope="module")
def incidents(police_slice: Path) -> pd.DataFrame:
    from hotspots.io import InputSpec
    from hotspots.pipeline import FilterConfig, RunConfig, prepare

    cfg = RunConfig(
        inputs=[InputSpec.police_uk(police_slice)],
        areas=[("leicestershire/beats", {})],
        filter=FilterConfig(categories=[CATEGORY]),
    )
    return prepare(cfg).incidents


def _hidden_parts_known(values: np.ndarray, hidden: np.ndarray) -> bool:
    """Whether a total's hidden parts could be worked out: one of them, or all 1s."""
    return bool(hidden.sum() == 1 or (hidden.any() and (values[hidden] == 1).all()))


def test_no_raster_cell_rests_on_fewer_than_k_incidents(shared_run, incidents):
    with rasterio.open(shared_run / "density.tif") as src:
        values = src.read(1, masked=True)
        tags = src.tags()
        x0, y0, cell = src.transform.c, src.transform.f, src.transform.a
    assert "n_points" not in tags and "total_weight" not in tags
    assert "min_count 5" in tags["disclosure"]
    reach = json.loads(tags["bandwidth_m"])
    rows, cols = np.nonzero(~values.mask & (values.filled(0) > 0))
    assert len(rows) > 100
    centres = np.c_[x0 + (cols + 0.5) * cell, y0 - (rows + 0.5) * cell]
    tree = cKDTree(incidents[["x", "y"]].to_numpy())
    # brute force: incidents within the quartic radius of each published cell centre
    near = tree.query_ball_point(centres, reach, return_length=True)
    assert near.min() >= K
    step = K / (np.pi * (reach / 1000) ** 2)
    shown = values.compressed()
    assert np.allclose(shown / step, np.round(shown / step), atol=1e-3)  # rounded to steps


def test_raster_sum_over_a_blanked_beat_does_not_give_its_count(shared_run, incidents):
    areas = pd.read_csv(shared_run / "areas.csv")
    beats = areas.loc[areas["layer"] == "beat"].set_index("name")
    blanked = beats.index[beats["incidents"].isna()]
    counts = incidents["beat"].value_counts()
    small = [b for b in blanked if 1 <= counts.get(b, 0) < K]
    assert small  # the slice has small beats
    polys = load_areas("leicestershire/beats")[0].polygons.set_index("name")
    with rasterio.open(shared_run / "density.tif") as src:
        values = src.read(1, masked=True).filled(0.0)
        t = src.transform
    cell_km2 = (t.a / 1000) ** 2
    rr, cc = np.indices(values.shape)
    xs, ys = t.c + (cc + 0.5) * t.a, t.f - (rr + 0.5) * t.a
    import shapely

    exact = 0
    for beat in small:
        inside = shapely.contains_xy(polys.geometry[beat], xs, ys)
        exact += round(float(values[inside].sum() * cell_km2)) == counts[beat]
    assert exact <= len(small) // 4  # was every one of them before the rule


def test_months_never_show_a_small_count_or_one_that_can_be_worked_out(shared_run, incidents):
    areas = pd.read_csv(shared_run / "areas.csv")
    month = incidents["when"].dt.month
    with_data = np.isin(np.arange(1, 13), month.unique())  # other months are known zeros
    checked = 0
    for layer, table in areas.groupby("layer"):
        counts = (
            pd.crosstab(incidents[layer].astype(str), month)
            .reindex(index=table["name"].astype(str), columns=range(1, 13), fill_value=0)
            .fillna(0)
        )
        c = counts.to_numpy()
        shown = table[list(MONTH_COLUMNS)].notna().to_numpy()
        assert not (shown & (c >= 1) & (c < K)).any(), layer
        for i in np.flatnonzero(table["incidents"].notna().to_numpy()):
            assert not _hidden_parts_known(c[i], ~shown[i] & with_data), (layer, i)
            checked += (~shown[i] & with_data).any()
    assert checked > 5  # areas whose total is shown and some months are not


def test_no_area_is_its_parent_minus_the_areas_shown(shared_run, incidents):
    areas = pd.read_csv(shared_run / "areas.csv")
    beats = areas.loc[areas["layer"] == "beat"].set_index("name")
    npas = areas.loc[areas["layer"] == "npa"].set_index("name")
    tried = 0
    for npa, rows in incidents.groupby("npa"):
        if npa == "" or pd.isna(npas.loc[npa, "incidents"]):
            continue
        nested = [
            b
            for b in rows["beat"].unique()
            if b and (incidents.loc[incidents["beat"] == b, "npa"] == npa).all()
        ]
        counts = rows["beat"].value_counts()
        rest = len(rows) - sum(counts[b] for b in nested)
        values = np.array([counts[b] for b in nested] + [rest])
        hidden = np.array([pd.isna(beats.loc[b, "incidents"]) for b in nested] + [rest > 0])
        assert not _hidden_parts_known(values, hidden), npa
        tried += hidden[:-1].any()
    assert tried  # some NPA had a blanked beat
    # the whole: run.json's rows used minus every beat shown
    assert json.loads((shared_run / "run.json").read_text())["rows_used"] == len(incidents)
    counts = incidents["beat"].value_counts().reindex(beats.index, fill_value=0)
    rest = int((incidents["beat"] == "").sum())
    values = np.append(counts.to_numpy(), rest)
    hidden = np.append(beats["incidents"].isna().to_numpy(), rest > 0)
    assert not _hidden_parts_known(values, hidden)


def test_cross_layer_rule_by_hand():
    # N1 = 30: B1 3 (small), B2 12, B3 15; N2 = 9: B4 9 alone; whole = 39.
    inc = pd.DataFrame(
        {
            "beat": ["B1"] * 3 + ["B2"] * 12 + ["B3"] * 15 + ["B4"] * 9,
            "npa": ["N1"] * 30 + ["N2"] * 9,
        }
    )
    areas = {
        "beat": pd.DataFrame({"name": ["B1", "B2", "B3", "B4"], "incidents": [3, 12, 15, 9]}),
        "npa": pd.DataFrame({"name": ["N1", "N2"], "incidents": [30, 9]}),
    }
    got = cross_layer_hidden(areas, inc, K)
    # B1 alone would be N1 - B2 - B3: the smallest shown (B2) goes with it.
    assert got["beat"].tolist() == [True, True, False, False]
    assert got["npa"].tolist() == [False, False]
    pub = disclosure_control(areas["beat"], K, hide=got["beat"])
    assert pub["incidents"].isna().tolist() == [True, True, False, False]


def test_month_rule_by_hand():
    # one area, 20 incidents: 2 in January, 18 in July over one year
    t = pd.DataFrame({"name": ["A"], "incidents": [20], **{m: [0.0] for m in MONTH_COLUMNS}})
    t["m01"], t["m07"] = 2.0, 18.0
    counts = np.zeros((1, 12))
    counts[0, 0], counts[0, 6] = 2, 18
    pub = disclosure_control(t, K, month_counts=counts)
    # January (2) is small; alone it is 20 - 18, so July goes too (smallest non-zero shown)
    assert pub[["m01", "m07"]].isna().to_numpy().tolist() == [[True, True]]
    assert pub["m02"].tolist() == [0.0] and pub["incidents"].tolist() == [20]
    assert disclosure_control(t, 1) is t


def test_published_surface_is_the_surface_when_k_is_one():
    pts = np.random.default_rng(0).normal(500, 50, size=(40, 2))
    s = kde_surface(pts, cell_size_m=25, bandwidth_m=100)
    assert published_surface(s, pts[:, 0], pts[:, 1], 1) is s
    pub = published_surface(s, pts[:, 0], pts[:, 1], 50)  # more than there are
    assert np.isnan(pub.values).all()
