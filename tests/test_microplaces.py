"""Tests for hotspots.microplaces: capped watershed micro-places, shares, concentration rank."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hotspots.clusters import threshold_hotspots
from hotspots.grid import Grid
from hotspots.labels import ARTEFACT_NOTES, is_snap_type
from hotspots.microplaces import (
    DEFAULT_MAX_AREA_M2,
    DEFAULT_MAX_EXTENT_M,
    microplace_hotspots,
    persistence,
    split_cells,
    top_microplaces,
)
from hotspots.rank import rank_hotspots
from hotspots.schema import InputError

X0, Y0 = 450_000.0, 300_000.0


def _grid(nrows: int, ncols: int, cell: float = 100.0) -> Grid:
    return Grid(xmin=X0, ymax=Y0 + nrows * cell, cell_size_m=cell, nrows=nrows, ncols=ncols)


def _points(
    grid: Grid, cells: list[tuple[int, int]], n: list[int], when: str = "2025-01"
) -> pd.DataFrame:
    rows = [(r, c) for (r, c), k in zip(cells, n, strict=True) for _ in range(k)]
    half = grid.cell_size_m / 2
    return pd.DataFrame(
        {
            "x": [grid.xmin + c * grid.cell_size_m + half for _, c in rows],
            "y": [grid.ymax - r * grid.cell_size_m - half for r, _ in rows],
            "when": pd.Timestamp(when),
            "location": "On or near High Street",
        }
    )


# --- the split rule, by hand --------------------------------------------------------------


def test_two_peaks_split_at_the_saddle():
    # 9 floods down 5, 2, 1; the 2 east of the 1 is uphill, so 8 seeds a second place.
    s = np.array([[9.0, 5, 2, 1, 2, 6, 8]])
    assert split_cells(s, s > 0, max_cells=100, max_span=100).tolist() == [[1, 1, 1, 1, 2, 2, 2]]


def test_caps_on_cells_and_span_by_hand():
    flat = np.ones((3, 3))
    out = split_cells(flat, flat > 0, max_cells=4, max_span=2)
    # Seed (0,0) takes (0,1), (1,0), (1,1) (ties by cell order) and is full at 4 cells; seed
    # (0,2) takes (1,2) but (2,2) would span 3 rows; seed (2,0) takes (2,1) but (2,2) would
    # span 3 columns; (2,2) is a place of its own.
    assert out.tolist() == [[1, 1, 2], [1, 1, 2], [3, 3, 4]]


def test_unselected_cells_stay_out():
    s = np.array([[5.0, 4, 3]])
    assert split_cells(s, np.array([[True, False, True]]), max_cells=9, max_span=9).tolist() == [
        [1, 0, 2]
    ]


# --- micro-place hotspots -----------------------------------------------------------------


def _two_peak_area():
    """A 1 x 9 strip of 100 m cells: two busy peaks (cols 1 and 7) joined by a busy ridge."""
    g = _grid(1, 9)
    counts = [20, 60, 20, 10, 8, 10, 20, 50, 20]
    inc = _points(g, [(0, c) for c in range(9)], counts)
    scores = np.array([counts], dtype=float)
    return g, inc, scores


def test_a_dense_area_becomes_two_micro_places_not_one_blob():
    g, inc, scores = _two_peak_area()
    blob = threshold_hotspots(scores, g, inc, threshold=5.0)
    assert blob.n_hotspots == 1 and blob.polygons["area_m2"].tolist() == [90_000.0]
    hs = microplace_hotspots(scores, g, inc, threshold=5.0, max_extent_m=10_000, max_area_m2=1e7)
    p = hs.polygons
    # Smoothed (1-cell Gaussian) the strip is 9.42 13.64 10.56 5.88 4.26 5.66 9.60 12.05
    # 8.46: the west peak floods downhill to its lowest cell (col 4), the east peak takes
    # cols 5-8 -- two places, split at the saddle.
    assert hs.n_hotspots == 2
    assert p["incidents"].tolist() == [20 + 60 + 20 + 10 + 8, 10 + 20 + 50 + 20]
    assert p["area_m2"].tolist() == [50_000.0, 40_000.0]
    assert (hs.labels[:118] == 1).all() and (hs.labels[118:] == 2).all()


def test_default_caps_keep_every_place_small():
    g, inc, scores = _two_peak_area()
    hs = microplace_hotspots(scores, g, inc, threshold=5.0)
    p = hs.polygons
    assert (p["area_m2"] <= DEFAULT_MAX_AREA_M2).all()
    widths = p.geometry.bounds["maxx"] - p.geometry.bounds["minx"]
    # 300 m = 3 cells: the west peak takes cols 0-2, the east 6-8, then col 3 seeds a place
    # that floods down to col 4, and col 5 (uphill from col 4) is a place of its own.
    assert (widths <= DEFAULT_MAX_EXTENT_M).all()
    assert p["incidents"].tolist() == [100, 90, 18, 10]
    assert p["area_m2"].tolist() == [30_000.0, 30_000.0, 20_000.0, 10_000.0]
    assert hs.params["max_span_cells"] == 3 and hs.params["max_cells"] == 10


def test_shares_density_and_persistence_columns_exactly():
    g = _grid(1, 4)
    inc = pd.concat(
        [
            _points(g, [(0, 0)], [3], "2025-01"),
            _points(g, [(0, 0)], [1], "2025-02"),
            _points(g, [(0, 3)], [4], "2025-03"),
        ],
        ignore_index=True,
    )
    scores = np.array([[4.0, 0, 0, 4]])
    hs = microplace_hotspots(scores, g, inc, threshold=1.0, study_area_m2=1e6)
    p = hs.polygons.sort_values("hotspot_id")
    assert p["incidents"].tolist() == [4, 4]
    assert p["incident_share"].tolist() == [0.5, 0.5]
    assert p["area_share"].tolist() == [0.01, 0.01]
    assert p["incidents_per_ha"].tolist() == [4.0, 4.0]
    # three months in the data: the west cell had incidents in two, the east in one
    assert sorted(p["persistence"].round(4).tolist()) == [0.3333, 0.6667]


def test_one_point_artefact_is_flagged_with_a_note():
    g = _grid(1, 3)
    # 12 months: 60 incidents at one point (>= 4 a month, 100% of the place) ...
    busy = pd.concat([_points(g, [(0, 0)], [5], f"2025-{m:02d}") for m in range(1, 13)])
    # ... and a place of 30 spread over three points (none holds half)
    spread = pd.concat([_points(g, [(0, 2)], [10], f"2025-{m:02d}") for m in (1, 2, 3)])
    spread["x"] += np.repeat([-30.0, 0.0, 30.0], 10)
    inc = pd.concat([busy, spread], ignore_index=True)
    hs = microplace_hotspots(np.array([[60.0, 0, 30]]), g, inc, threshold=1.0)
    p = hs.polygons.set_index("incidents")
    assert p.loc[60, "artefact"] == "one_point" and p.loc[60, "top_point_share"] == 1.0
    assert p.loc[60, "artefact_note"] == ARTEFACT_NOTES["one_point"]
    assert "recording address" in p.loc[60, "artefact_note"]
    assert p.loc[30, "artefact"] == "" and p.loc[30, "top_point_share"] == round(1 / 3, 4)


def test_bad_caps_are_refused():
    g, inc, scores = _two_peak_area()
    with pytest.raises(InputError, match="max_area_m2"):
        microplace_hotspots(scores, g, inc, max_area_m2=0)


def test_persistence_without_dates_is_nan():
    assert np.isnan(persistence(np.array([1]), [1], pd.DataFrame({"x": [0.0]}))).all()


# --- ranking ------------------------------------------------------------------------------


def test_concentration_prefers_dense_persistent_places_over_size():
    t = pd.DataFrame(
        {
            "hotspot_id": [1, 2, 3],
            "incidents": [300, 100, 120],
            "density_km2": [3000.0, 10000.0, 12000.0],
            "persistence": [0.5, 1.0, 1.0],
        }
    )
    r = rank_hotspots(t, score="concentration")
    # percentiles: density 1/3, 2/3, 1; persistence 1/3, 5/6, 5/6; incidents 1, 1/3, 2/3
    # scores 0.5 d + 0.25 p + 0.25 i: 0.5, 0.625, 0.875 -- the biggest place ranks last
    assert r["hotspot_id"].tolist() == [3, 2, 1]
    assert r["score"].round(4).tolist() == [0.875, 0.625, 0.5]
    assert r["score_definition"].iloc[0].startswith("concentration")


def test_exclude_ranks_artefacts_last_but_keeps_them():
    t = pd.DataFrame(
        {
            "hotspot_id": [1, 2, 3],
            "incidents": [50, 40, 30],
            "artefact": ["one_point", "", "hospital"],
        }
    )
    r = rank_hotspots(t, exclude="artefact")
    assert r["hotspot_id"].tolist() == [2, 1, 3]
    assert r["excluded"].tolist() == [False, True, True]
    with pytest.raises(InputError, match="nope"):
        rank_hotspots(t, exclude="nope")


# --- end to end on the shipped police.uk slice ----------------------------------------------


@pytest.fixture(scope="module")
def slice_run(police_slice, tmp_path_factory):
    from hotspots.io import InputSpec
    from hotspots.pipeline import OutputConfig, RunConfig, run

    cfg = RunConfig(
        inputs=[InputSpec.police_uk(police_slice)],
        areas=[("leicestershire/beats", {})],
        output=OutputConfig(dir=str(tmp_path_factory.mktemp("microplaces"))),
    )
    return run(cfg)


def _hotspots(result):
    return getattr(result, "analysis", result).hotspots


def test_slice_top_20_are_micro_places_named_by_streets(slice_run):
    h = _hotspots(slice_run).sort_values("rank")
    top = h[h["patrol"]]
    assert 1 <= len(top) <= 20 and top["rank"].tolist() == list(range(1, len(top) + 1))
    assert (top["area_m2"] <= 250_000).all() and (top["area_m2"] <= DEFAULT_MAX_AREA_M2).all()
    for label in top["label"]:
        first = label.split(",")[0].split(" (")[0].split(" near ")[0].split(" / ")[0]
        assert not is_snap_type(first) or " near " in label, label
        assert not label.startswith("near "), label
    assert {"incident_share", "area_share", "artefact", "artefact_note"} <= set(h.columns)
    assert 0 < h["area_share"].sum() < 1 and 0 < h["incident_share"].sum() <= 1


def test_top_microplaces_are_the_head_of_the_whole_ranking():
    # Many places of varied sizes, months and streets: describing only the top three must
    # give the same rows as describing all of them and keeping the first three by rank.
    rng = np.random.default_rng(3)
    g = _grid(12, 12)
    cells = [(int(r), int(c)) for r, c in rng.integers(0, 12, size=(40, 2))]
    n = rng.integers(1, 30, size=len(cells)).tolist()
    inc = _points(g, cells, n)
    inc["when"] = pd.Timestamp("2024-01") + pd.to_timedelta(rng.integers(0, 300, len(inc)), "D")
    inc["location"] = rng.choice(["On or near A Road", "On or near Supermarket"], len(inc))
    inc["beat"] = rng.choice(["N", "S"], len(inc))
    scores = np.zeros(g.shape)
    np.add.at(scores, tuple(np.array(cells).T), n)
    caps = {"threshold": 1.0, "area_columns": ["beat"]}

    harm = rng.uniform(0, 5, len(inc))

    def rank(table, labels):  # harm per hotspot from the labels, as a run does
        per = np.bincount(labels, weights=harm, minlength=int(labels.max()) + 1)
        with_harm = table.assign(harm=per[table["hotspot_id"].to_numpy()])
        return rank_hotspots(with_harm, score="concentration")

    whole = microplace_hotspots(scores, g, inc, **caps)
    expected = rank(whole.polygons, whole.labels).head(3).reset_index(drop=True)
    assert whole.n_hotspots > 3 and expected["hotspot_id"].tolist() != [1, 2, 3]
    got = top_microplaces(scores, g, inc, rank=rank, top_n=3, **caps)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_top_microplaces_name_nearby_streets_as_the_whole_run_does():
    # The top place's incidents are all at a supermarket: its label takes the street of
    # incidents near it (outside the place, 100 m from its centre), not one further off.
    g = _grid(1, 9)
    inc = _points(g, [(0, 1), (0, 2), (0, 5), (0, 7)], [40, 3, 6, 20])
    inc["location"] = (
        ["On or near Supermarket"] * 40
        + ["On or near Mill Lane"] * 3
        + ["On or near Far Road"] * 6
        + ["On or near Supermarket"] * 20
    )
    scores = np.array([[0.0, 40, 3, 0, 0, 6, 0, 20, 0]])

    def rank(table, _labels):
        return rank_hotspots(table, score="incidents")

    whole = microplace_hotspots(scores, g, inc, threshold=10.0)
    expected = rank(whole.polygons, whole.labels).head(1).reset_index(drop=True)
    got = top_microplaces(scores, g, inc, rank=rank, top_n=1, threshold=10.0)
    assert got["label"].tolist() == ["Supermarket near Mill Lane"]
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
