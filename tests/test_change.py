"""Hotspot change between two periods: fuzzy similarity/kappa, S-index, ``hotspots change``.

Every expected value is worked by hand in the comments (not by calling the code twice).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots.change import (
    HOTSPOT_RULE,
    FuzzySimilarity,
    HotspotChange,
    cell_classes,
    fuzzy_similarity,
    hotspot_change,
    s_index,
)
from hotspots.cli import main
from hotspots.grid import Grid
from hotspots.maps import change_map, map_html
from hotspots.maps._change import CHANGE_COLOURS, STATUS_STYLES
from hotspots.schema import InputError

# --- fuzzy similarity ---------------------------------------------------------------------
# One row of three cells. Before: hot, ns, ns. After: ns, hot, ns (the hot spot moved east).
BEFORE = np.array([[1, 0, 0]])
AFTER = np.array([[0, 1, 0]])


def test_fuzzy_similarity_hand_worked_row() -> None:
    # radius 1 cell, halving 1 cell: a class one cell away counts 2^-1 = 0.5.
    # mu_before(hot) = [1, .5, 0], mu_before(ns) = [.5, 1, 1]
    # mu_after(hot)  = [.5, 1, .5], mu_after(ns) = [1, .5, 1]
    # cell 0: before hot, after ns -> min(mu_after(hot)[0], mu_before(ns)[0]) = min(.5, .5)
    # cell 1: before ns, after hot -> min(mu_after(ns)[1], mu_before(hot)[1]) = min(.5, .5)
    # cell 2: ns in both -> min(1, 1) = 1.  S = 2/3; over hot/cold cells (0, 1): 0.5.
    r = fuzzy_similarity(BEFORE, AFTER, radius_cells=1, permutations=0)
    assert r.cells.tolist() == [[0.5, 0.5, 1.0]]
    assert r.similarity == pytest.approx(2 / 3)
    assert r.similarity_significant == pytest.approx(0.5)
    assert math.isnan(r.expected) and math.isnan(r.kappa)


def test_crisp_comparison_is_cohens_kappa() -> None:
    # radius 0: agreement only where the classes are equal: [0, 0, 1], S = 1/3.
    # class shares: before hot 1/3 ns 2/3, after the same: E = 1/9 + 4/9 = 5/9.
    # kappa = (1/3 - 5/9) / (1 - 5/9) = (-2/9) / (4/9) = -0.5.
    r = fuzzy_similarity(BEFORE, AFTER, radius_cells=0)
    assert r.cells.tolist() == [[0.0, 0.0, 1.0]]
    assert r.similarity == pytest.approx(1 / 3)
    assert r.expected == pytest.approx(5 / 9)
    assert r.kappa == pytest.approx(-0.5)
    same = fuzzy_similarity(BEFORE, BEFORE, radius_cells=0)
    assert same.similarity == 1.0 and same.kappa == pytest.approx(1.0)


def test_expected_similarity_by_permutation() -> None:
    # The after map's one hot cell, placed at random among the 3 cells (radius 1):
    # at 0 (same as before): S = 1; at 1: S = 2/3 (above); at 2: cell 0 before hot has no
    # hot after within 1 cell -> 0, cell 1 ns/ns -> 1, cell 2 ns before... after hot, no
    # hot before within 1 cell -> 0: S = 1/3.  E = (1 + 2/3 + 1/3) / 3 = 2/3, kappa ~ 0.
    r = fuzzy_similarity(BEFORE, AFTER, radius_cells=1, permutations=3000, seed=1)
    assert r.expected == pytest.approx(2 / 3, abs=0.02)
    assert abs(r.kappa) < 0.07
    assert r.permutations == 3000


def test_diagonal_decay_and_mask() -> None:
    # 2x2: hot top-left before, hot bottom-right after (radius 2).
    # cell (0,0): mu_after(hot) = 2^-sqrt(2) = 0.37521 (diagonal), mu_before(ns) = 0.5
    # -> 0.37521; (1,1) the same; (0,1), (1,0): ns in both -> 1.
    b = np.array([[2, 0], [0, 0]])
    a = np.array([[0, 0], [0, 3]])
    r = fuzzy_similarity(b, a, permutations=0)
    d = 2 ** -math.sqrt(2)
    assert r.cells[0, 0] == pytest.approx(d) and r.cells[1, 1] == pytest.approx(d)
    assert r.similarity == pytest.approx((2 * d + 2) / 4)
    # masking out (1,1): the after hot spot is gone from the comparison (and from the
    # neighbourhoods): cell (0,0) hot before has no hot after -> 0; S = (0 + 1 + 1) / 3.
    mask = np.array([[True, True], [True, False]])
    m = fuzzy_similarity(b, a, mask=mask, permutations=0)
    assert np.isnan(m.cells[1, 1])
    assert m.similarity == pytest.approx(2 / 3)


def test_fuzzy_bad_input() -> None:
    with pytest.raises(InputError, match="same shape"):
        fuzzy_similarity(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(InputError, match="radius_cells"):
        fuzzy_similarity(BEFORE, AFTER, radius_cells=-1)


# --- cells and hotspots ------------------------------------------------------------------


def test_cell_classes() -> None:
    b = np.array([3, 0, 2, 1, -1, 0, -2, -3, 0])
    a = np.array([1, 2, 0, -1, -3, -1, 0, 1, 0])
    assert cell_classes(b, a).tolist() == [
        "persistent hot",
        "new hot",
        "gone hot",
        "hot to cold",
        "persistent cold",
        "new cold",
        "gone cold",
        "cold to hot",
        "not significant",
    ]


def test_hotspot_status_hand_worked() -> None:
    # 5x5 grid of 100 m cells (B before hot, A after hot, P both):
    #   row 0: P A . . .     hotspot 1 (cells (0,0), (0,1)): a cell hot in both: persistent
    #   row 1: . . . . .
    #   row 2: . . A . .     hotspot 2 ((2,2), (3,1), (4,1), 8-connected): hot before at
    #   row 3: . B . . .     (3,1), after at (2,2) and (4,1), never both: shifted
    #   row 4: . A . . B     hotspot 3 ((4,4)): only before: gone
    b = np.zeros((5, 5), int)
    a = np.zeros((5, 5), int)
    b[0, 0], a[0, 0], a[0, 1] = 3, 2, 1
    a[2, 2], b[3, 1], a[4, 1] = 1, 1, 1
    b[4, 4] = 2
    counts_b = np.zeros((5, 5))
    counts_b[0, 0], counts_b[4, 4] = 7, 4
    counts_a = np.zeros((5, 5))
    counts_a[0, 0], counts_a[0, 1] = 5, 3
    grid = Grid(0.0, 500.0, 100.0, 5, 5)
    hc = hotspot_change(
        b, a, grid=grid, counts_before=counts_b, counts_after=counts_a, permutations=0
    )
    hs = hc.hotspots.set_index("hotspot_id")
    assert hs["status"].tolist() == ["persistent", "shifted", "gone"]
    assert hs["cells"].tolist() == [2, 3, 1]
    assert hs.loc[1, ["before", "after"]].tolist() == [7, 5 + 3]
    assert hs.loc[3, ["before", "after"]].tolist() == [4, 0]
    assert hs.loc[1].geometry.area == pytest.approx(2 * 100 * 100)
    # (4,4) hot before, no hot after within 2 cells: similarity 0; (0,0) same class: 1
    cells = hc.cells.set_index(["row", "col"])
    assert cells.loc[(4, 4), "similarity"] == 0.0
    assert cells.loc[(0, 0), "similarity"] == 1.0
    assert cells.loc[(0, 1), "change"] == "new hot"
    assert hc.summary["hotspots"] == {"persistent": 1, "shifted": 1, "new": 0, "gone": 1}
    assert hc.summary["cells"]["gone hot"] == 2 and hc.summary["cells"]["new hot"] == 3
    assert len(hc.cells) == 6  # only cells hot or cold in some period
    # One result protocol: frozen, keyword-only, params() with the rules of the comparison.
    p = hc.params()
    assert p["fuzzy"] == hc.similarity.params() and p["fuzzy"]["radius_cells"] == 2.0
    assert p["fuzzy"]["expected_rule"] == "not estimated (permutations=0)"
    assert p["hotspot_rule"] == HOTSPOT_RULE == hc.summary["hotspot_rule"]
    assert "Gi* bin > 0" in p["cell_rule"]
    for result, cls in ((hc, HotspotChange), (hc.similarity, FuzzySimilarity)):
        fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
        with pytest.raises(TypeError):
            cls(*fields.values())
        with pytest.raises(dataclasses.FrozenInstanceError):
            result.summary = {}  # type: ignore[misc]


# --- S-index ------------------------------------------------------------------------------


def test_s_index_fisher_hand_worked() -> None:
    # A: 5 of 10 before, 0 of 10 after. Fisher: 20 incidents, 5 in A, 10 before;
    # P(all 5 of A's before) = C(10,5) C(10,0) / C(20,5) = 252 / 15504 = 0.016254;
    # the other tail (none before) is as likely: p = 2 x 0.016254 = 0.032508 < 0.05.
    # B is the complement: the same table, the same p.  Both change: S = 0.
    table, s = s_index(pd.Series({"A": 5, "B": 5}), pd.Series({"A": 0, "B": 10}))
    assert table["p"].tolist() == pytest.approx([2 * 252 / 15504] * 2)
    assert table["direction"].tolist() == ["lower share", "higher share"]
    assert s["s_index"] == 0.0
    # C, empty in both periods, is trivially similar: S = 1/3; the robust S leaves it out.
    table, s = s_index(pd.Series({"A": 5, "B": 5, "C": 0}), pd.Series({"A": 0, "B": 10}))
    assert table.set_index("area").loc["C", "similar"]
    assert s["s_index"] == pytest.approx(1 / 3) and s["s_index_robust"] == 0.0
    assert s["areas"] == 3 and s["areas_with_incidents"] == 2
    # Twice the incidents after, same shares: every p is 1, S = 1.
    table, s = s_index(pd.Series({"A": 3, "B": 7}), pd.Series({"A": 6, "B": 14}))
    assert table["p"].tolist() == pytest.approx([1.0, 1.0])
    assert table["share_change"].tolist() == pytest.approx([0.0, 0.0])
    assert s["s_index"] == 1.0


def test_s_index_andresen_monte_carlo() -> None:
    # After: every incident in B. Every resample puts all of them in B, so A's interval
    # is [0, 0] and B's [1, 1]; the before shares (0.5, 0.5) lie outside both: S = 0.
    table, s = s_index(
        pd.Series({"A": 50, "B": 50}), pd.Series({"A": 0, "B": 100}), method="andresen"
    )
    assert table["interval_low"].tolist() == [0.0, 1.0]
    assert table["interval_high"].tolist() == [0.0, 1.0]
    assert s["s_index"] == 0.0 and np.isnan(table["p"]).all()
    # Same shares with large counts: the 95% band of 8,500 draws at p = 0.5 is about
    # +-1.1 points wide, and 0.5 lies inside it.
    table, s = s_index(
        pd.Series({"A": 5000, "B": 5000}), pd.Series({"A": 5000, "B": 5000}), method="andresen"
    )
    assert s["s_index"] == 1.0
    assert 0.485 < table["interval_low"].iloc[0] < 0.5 < table["interval_high"].iloc[0] < 0.515


def test_s_index_bad_input() -> None:
    with pytest.raises(InputError, match="no incidents"):
        s_index(pd.Series({"A": 0}), pd.Series({"A": 3}))
    with pytest.raises(InputError, match="method"):
        s_index(pd.Series({"A": 1}), pd.Series({"A": 3}), method="chi2")


# --- hotspots change (end to end) ---------------------------------------------------------


def _rows_with_location(path: Path) -> int:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        frame = pd.read_csv(fh)
    return int(frame["Longitude"].notna().sum())


def test_cli_change_on_embedded_slice(tmp_path: Path, police_slice: Path) -> None:
    out = tmp_path / "change"
    args = ["change", "--incidents", str(police_slice), "--areas", "leicestershire/beats"]
    args += ["--before", "2025-06:2025-06", "--after", "2025-07:2025-07", "--out", str(out)]
    assert main([*args, "-q"]) == 0
    meta = json.loads((out / "change.json").read_text())
    assert meta["outputs"] == [
        "change.csv",
        "change.json",
        "change_cells.geojson",
        "change_hotspots.geojson",
        "change_map.html",
    ]
    # every located row of each month is counted (the slice lies inside the beats)
    assert meta["incidents"]["before"] == _rows_with_location(
        police_slice / "2025-06-leicestershire-street.csv.gz"
    )
    assert meta["incidents"]["after"] == _rows_with_location(
        police_slice / "2025-07-leicestershire-street.csv.gz"
    )
    f = meta["fuzzy"]
    assert 0 <= f["similarity_significant"] <= f["similarity"] <= 1
    assert f["fuzzy_kappa"] == pytest.approx(
        (f["similarity"] - f["expected_similarity"]) / (1 - f["expected_similarity"]), abs=1e-3
    )  # from the figures rounded to 6 decimals, divided by 1 - E ~ 0.01
    table = pd.read_csv(out / "change.csv")
    beats = table[table["layer"] == "beat"]
    s = meta["s_index"]["beat"]
    assert len(beats) == s["areas"]
    assert s["s_index"] == pytest.approx(beats["similar"].mean(), abs=1e-6)
    assert beats["before"].sum() == s["incidents_before"] <= meta["incidents"]["before"]
    cells = gpd.read_file(out / "change_cells.geojson")
    assert cells.crs.to_epsg() == 4326
    hot = cells["change"].isin(["persistent hot", "new hot", "gone hot"])
    assert hot.sum() == sum(meta["cells"][k] for k in ("persistent hot", "new hot", "gone hot"))
    spots = gpd.read_file(out / "change_hotspots.geojson")
    assert spots["status"].value_counts().to_dict() == {
        k: v for k, v in meta["hotspots"].items() if v
    }
    assert not list(out.glob(".staging-*"))
    # deterministic: the same run gives the same bytes
    again = tmp_path / "again"
    assert main([*args[:-1], str(again), "-q"]) == 0
    for name in meta["outputs"]:
        if name != "change.json":
            assert (out / name).read_bytes() == (again / name).read_bytes(), name
    # the map: offline assets, street tiles by default, the overall figures of change.json
    page = (out / "change_map.html").read_text(encoding="utf-8")
    assert "cdn.jsdelivr" not in page and "tile.openstreetmap.org" in page
    for value in (f["similarity_significant"], f["fuzzy_kappa"], s["s_index"]):
        assert f">{value:.4g}<" in page
    assert "Beat: S-index result" in page and "Hotspot 1 · persistent" in page


def test_cli_change_bad_windows(tmp_path: Path, police_slice: Path, capsys) -> None:
    args = ["change", "--incidents", str(police_slice), "--before", "2025-06:2025-07"]
    args += ["--after", "2025-07:2025-07", "--out", str(tmp_path / "x")]
    assert main(args) == 2
    assert "overlap" in capsys.readouterr().err


# --- the change map -----------------------------------------------------------------------

#: Area names that would be compiled (``{{7*7}}`` -> 49) or end the page's script.
HOSTILE = "Beat {{7*7}} </script><b>x"


def _map_inputs(*, min_count: bool = False) -> dict:
    # One row of 18 cells, 100 m, in Leicester; ns cells keep the hotspots apart:
    #   0 P, 2 new hot, 4 gone hot, 6 hot to cold, 8 persistent cold, 10 new cold,
    #   12 gone cold, 14 cold to hot, 16 hot before + 17 hot after (touching: shifted).
    b = np.zeros((1, 18), int)
    a = np.zeros((1, 18), int)
    for col, (vb, va) in {
        0: (3, 2),
        2: (0, 1),
        4: (2, 0),
        6: (1, -1),
        8: (-2, -2),
        10: (0, -1),
        12: (-1, 0),
        14: (-3, 3),
        16: (1, 0),
        17: (0, 2),
    }.items():
        b[0, col], a[0, col] = vb, va
    grid = Grid(458000.0, 304100.0, 100.0, 1, 18)
    counts = np.full((1, 18), 9.0)
    hc = hotspot_change(
        b, a, grid=grid, counts_before=counts, counts_after=counts * 2, permutations=0
    )
    cells, spots = hc.cells, hc.hotspots
    if min_count:  # as published under --min-count 10: the 9s are blanked
        cells = cells.assign(before=np.nan)
        spots = spots.assign(before=spots["before"].where(spots["before"] >= 10))
    table, summary = s_index(pd.Series({HOSTILE: 30, "B2": 70}), pd.Series({HOSTILE: 5, "B2": 95}))
    areas = gpd.GeoDataFrame(
        table.rename(columns={"area": "name"}),
        geometry=[
            shapely.box(457900, 303900, 458900, 304200),
            shapely.box(458900, 303900, 459900, 304200),
        ],
        crs=27700,
    )
    return dict(
        cells=cells,
        hotspots=spots,
        areas={"beat": areas},
        similarity={
            **hc.similarity.params(),
            "fuzzy_kappa": 0.93364,
            "expected_similarity": 0.9915,
        },
        s_index={"beat": summary},
        rules={"Hotspot status": hc.summary["hotspot_rule"]},
        title="Hotspot change",
        period="Jun 2025 against Jul 2025",
        params={"Cell size": "100 m"},
        attribution="police.uk",
    )


def test_change_map_carries_every_class_and_the_overall_figures() -> None:
    inputs = _map_inputs()
    page = map_html(change_map(**inputs))
    for name in CHANGE_COLOURS:  # each class in the legend with its count of cells
        assert f"{name} (1 cell)" in page or f"{name} (2 cells)" in page, name
    assert "new hot (2 cells)" in page and "gone hot (2 cells)" in page
    for status in STATUS_STYLES:
        assert "Hotspot" in page and f"· {status}" in page, status
    spots = inputs["hotspots"].set_index("hotspot_id")["status"].value_counts().to_dict()
    assert spots == {"persistent": 1, "new": 2, "gone": 2, "shifted": 1}
    assert "1 persistent, 1 shifted, 2 new, 2 gone" in page
    sim = inputs["similarity"]
    assert f">{sim['similarity_significant']:.4g}<" in page
    assert ">0.9336<" in page and ">0.9915<" in page  # kappa, expected (4 digits)
    # S-index: the hostile area (30% -> 5%) lost its share, B2 gained: 0 of 2 similar
    assert "S-index, Beat (0 of 2 areas similar)</th><td>0<" in page
    assert "lower share after (1)" in page and "higher share after (1)" in page
    assert "Hotspot status</b>: 8-connected cells" in page
    assert "tile.openstreetmap.org" not in page  # no tiles unless asked for
    assert "tile.openstreetmap.org" in map_html(change_map(**inputs, online_tiles=True))
    assert page == map_html(change_map(**_map_inputs()))  # deterministic


def test_change_map_shows_hostile_names_literally_and_published_counts() -> None:
    page = map_html(change_map(**_map_inputs(min_count=True)))
    # escaped for HTML, then < written as \u003c inside the script: shown as typed
    assert "Beat {{7*7}} &lt;/script&gt;&lt;b&gt;x" in page
    assert "Beat 49" not in page and "</script><b>" not in page
    assert "incidents before small count, not shown, after 18" in page  # a cell
    # a hotspot's popup, inside the script's JSON (where every < is written \u003c)
    assert "Incidents before\\u003c/th>\\u003ctd>small count, not shown" in page
    # a foreign folium element is refused, as for the patrol map
    import folium

    m = change_map(**_map_inputs())
    folium.Marker([52.6, -1.1], tooltip="x").add_to(m)
    with pytest.raises(InputError, match="render data as template source"):
        map_html(m)


def test_change_map_bad_input() -> None:
    inputs = _map_inputs()
    with pytest.raises(InputError, match="cells lacks column"):
        change_map(**{**inputs, "cells": inputs["cells"].drop(columns="change")})
    with pytest.raises(InputError, match="needs metres"):
        change_map(**{**inputs, "hotspots": inputs["hotspots"].to_crs(4326)})
    empty = inputs["cells"].iloc[:0]
    with pytest.raises(InputError, match="nothing to map"):
        change_map(
            **{**inputs, "cells": empty, "hotspots": inputs["hotspots"].iloc[:0], "areas": {}}
        )


BEATS = Path(__file__).resolve().parents[1] / (
    "hotspots/_data/boundaries/leicestershire/beats_approx.geojson.gz"
)


def test_cli_change_map_offline_hostile_names_published_counts(
    tmp_path: Path, police_slice: Path
) -> None:
    beats = gpd.read_file(f"/vsigzip/{BEATS}")
    beats["beat_name"] = beats["beat_name"] + " " + HOSTILE
    areas = tmp_path / "beats.geojson"
    beats.to_file(areas, driver="GeoJSON")
    config = tmp_path / "change.toml"
    config.write_text("[output]\noffline_map = true\n", encoding="utf-8")
    out = tmp_path / "change"
    args = ["change", "--incidents", str(police_slice), "--areas", str(areas)]
    args += ["--area-field", "beat=beat_name", "--config", str(config), "--min-count", "5"]
    args += ["--before", "2025-06:2025-06", "--after", "2025-07:2025-07", "--out", str(out)]
    assert main([*args, "-q"]) == 0
    page = (out / "change_map.html").read_text(encoding="utf-8")
    assert "openstreetmap.org" not in page  # config.output.offline_map: no tile URL at all
    assert "{{7*7}} &lt;/script&gt;&lt;b&gt;x" in page
    assert "49 </script>" not in page and "</script><b>" not in page
    # the counts shown are the published ones: blanked cells say so, hotspots match
    cells = gpd.read_file(out / "change_cells.geojson")
    assert cells["before"].isna().any()
    assert "incidents before small count, not shown" in page
    for spot in gpd.read_file(out / "change_hotspots.geojson").to_dict("records"):
        assert f"Hotspot {spot['hotspot_id']} · {spot['status']}" in page
        before = "small count, not shown" if pd.isna(spot["before"]) else f"{spot['before']:,.0f}"
        assert f"incidents before {before}, after" in page
    assert "Small counts</th><td>1 to 4 not shown (min_count 5)" in page
