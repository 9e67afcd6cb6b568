"""Tests for hotspots.clusters: threshold cells, DBSCAN/HDBSCAN on weighted locations."""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.cluster import DBSCAN

from hotspots.clusters import (
    LEADING_COLUMNS,
    auto_min_samples,
    dbscan_hotspots,
    find_hotspots,
    hdbscan_hotspots,
    threshold_hotspots,
    weighted_k_distance,
)
from hotspots.grid import Grid
from hotspots.schema import CRSError, InputError

X0, Y0 = 450_000.0, 300_000.0


def _grid(n: int = 10, cell: float = 10.0, mask: np.ndarray | None = None) -> Grid:
    return Grid(xmin=X0, ymax=Y0 + n * cell, cell_size_m=cell, nrows=n, ncols=n, mask=mask)


def _cell_points(grid: Grid, cells: list[tuple[int, int]]) -> pd.DataFrame:
    """One incident at the centre of each listed (row, col) cell (repeats allowed)."""
    r = np.array([c[0] for c in cells], float)
    c = np.array([c[1] for c in cells], float)
    half = grid.cell_size_m / 2
    return pd.DataFrame(
        {"x": grid.xmin + c * grid.cell_size_m + half, "y": grid.ymax - r * grid.cell_size_m - half}
    )


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """True when labellings a and b (0/-1 = none) group the items identically."""
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def _blobs(
    seed: int = 0, n: int = 150, sd: float = 15.0, noise: int = 40
) -> tuple[pd.DataFrame, np.ndarray]:
    """Three tight blobs 2 km apart plus sparse noise, in metres; returns truth 1..3 / 0."""
    rng = np.random.default_rng(seed)
    centres = np.array([[X0, Y0], [X0 + 2000, Y0], [X0, Y0 + 2000]])
    xy = np.vstack(
        [rng.normal(c, sd, (n, 2)) for c in centres]
        + [rng.uniform([X0 - 5000, Y0 - 5000], [X0 - 3000, Y0 - 3000], (noise, 2))]
    )
    truth = np.repeat([1, 2, 3, 0], [n, n, n, noise])
    return pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]}), truth


# --- threshold -------------------------------------------------------------------------


def test_threshold_two_blobs_exact_counts_and_areas():
    g = _grid()
    scores = np.zeros(g.shape)
    blob_a = [(1, 1), (1, 2), (2, 1)]
    blob_b = [(6, 6), (6, 7), (7, 6), (7, 7)]
    for r, c in blob_a:
        scores[r, c] = 5.0
    for r, c in blob_b:
        scores[r, c] = 4.0
    scores[4, 4] = 1.0
    inc = _cell_points(g, [(1, 1), (2, 1), (1, 2)] + [(6, 6)] * 3 + [(7, 7)] * 2 + [(4, 4), (0, 9)])
    hs = threshold_hotspots(scores, g, inc, threshold=3.0)
    p = hs.polygons
    assert p["hotspot_id"].tolist() == [1, 2]
    assert p["incidents"].tolist() == [5, 3]  # blob B has more incidents, so it is hotspot 1
    assert p["area_m2"].tolist() == [400.0, 300.0]
    assert p["density_km2"].tolist() == [5 / 400e-6, 3 / 300e-6]
    assert p["share"].tolist() == [0.5, 0.3]
    assert hs.labels.tolist() == [2, 2, 2, 1, 1, 1, 1, 1, 0, 0]
    assert p.crs.to_epsg() == 27700
    blob_a_shape = shapely.union(
        shapely.box(X0 + 10, Y0 + 80, X0 + 30, Y0 + 90),
        shapely.box(X0 + 10, Y0 + 70, X0 + 20, Y0 + 80),
    )
    assert shapely.equals(p.geometry[1], blob_a_shape)
    assert list(p.columns[:7]) == list(LEADING_COLUMNS)
    assert hs.params["cutoff"] == 3.0 and hs.params["threshold_rule"] == "explicit"


def test_threshold_connectivity_8_joins_corners_4_does_not():
    g = _grid(3)
    scores = np.array([[5.0, 0, 0], [0, 5, 0], [0, 0, 5]])
    inc = _cell_points(g, [(0, 0), (1, 1), (2, 2), (2, 2)])
    eight = threshold_hotspots(scores, g, inc, threshold=5.0)
    four = threshold_hotspots(scores, g, inc, threshold=5.0, connectivity=4)
    assert eight.polygons["incidents"].tolist() == [4]
    assert eight.polygons["area_m2"].tolist() == [300.0]
    assert four.polygons["incidents"].tolist() == [2, 1, 1]
    # equal counts: numbered north to south
    assert four.labels.tolist() == [2, 3, 1, 1]


def test_threshold_quantile_rule_ignores_empty_cells_and_keeps_ties():
    g = _grid(4)
    scores = np.array([[0, 0, 1, 2], [0, 3, 3, 0], [0, 0, 0, 0], [7, 0, 0, 0]], float)
    inc = _cell_points(g, [(3, 0), (1, 1), (1, 2), (0, 3)])
    hs = threshold_hotspots(scores, g, inc, quantile=0.6)
    expected = float(np.quantile([1, 2, 3, 3, 7], 0.6))  # only the five cells above zero
    assert hs.params["cutoff"] == expected == 3.0
    assert hs.params["cells_selected"] == 3  # both 3s (a tie at the cutoff) and the 7
    assert sorted(hs.polygons["area_m2"].tolist()) == [100.0, 200.0]


def test_threshold_mean_sd_rule_and_mask_and_nan():
    g = _grid(4)
    scores = np.arange(16, dtype=float).reshape(4, 4)
    scores[0, 0] = np.nan
    mask = np.ones(g.shape, bool)
    mask[3, 3] = False  # the top score is outside the study area
    g = g.with_mask(mask)
    inc = _cell_points(g, [(3, 3), (3, 2), (3, 1)])
    hs = threshold_hotspots(scores, g, inc, threshold="mean_sd", k_sd=1.0)
    vals = scores[mask & np.isfinite(scores)]
    cutoff = vals.mean() + vals.std()
    assert hs.params["cutoff"] == pytest.approx(cutoff)
    assert hs.params["cells_selected"] == int((vals >= cutoff).sum())
    assert hs.labels[0] == 0  # incident in the masked cell is not a member


def test_find_hotspots_accepts_a_surface_object_and_counts_by_default():
    g = _grid()
    inc = _cell_points(g, [(2, 2)] * 4 + [(8, 8)])
    surface = SimpleNamespace(
        values=np.where(np.arange(100).reshape(10, 10) == 22, 1.0, 0.0), grid=g
    )
    hs = find_hotspots(inc, scores=surface)
    assert hs.polygons["incidents"].tolist() == [4]
    counted = find_hotspots(inc, grid=g, threshold=2.0)
    assert counted.polygons["incidents"].tolist() == [4]
    with pytest.raises(InputError, match="grid"):
        find_hotspots(inc, scores=np.zeros((10, 10)))


def test_no_hotspots_gives_empty_table_with_fixed_columns():
    g = _grid()
    inc = _cell_points(g, [(1, 1)])
    hs = threshold_hotspots(np.zeros(g.shape), g, inc, area_columns=())
    assert hs.n_hotspots == 0 and hs.labels.tolist() == [0]
    assert list(hs.polygons.columns) == [*LEADING_COLUMNS, "repeat_locations", "geometry"]


# --- summaries -------------------------------------------------------------------------


def test_summary_columns():
    g = _grid()
    inc = _cell_points(g, [(1, 1)] * 5 + [(1, 2)] * 2 + [(9, 9)])
    inc["category"] = ["Anti-social behaviour"] * 3 + ["Burglary"] * 2 + ["Drugs"] * 2 + ["X"]
    inc["location"] = ["On or near High Street"] * 4 + ["On or near Mill Lane"] * 3 + ["A"]
    inc["beat"] = ["B2", "B2", "B1", "B1", "B2", "B2", pd.NA, "B9"]
    inc["npa"] = ["N2", "N1", "N2", "N1", "N2", "N1", "N9", "N1"]
    scores = np.zeros(g.shape)
    scores[1, 1:3] = 1.0
    repeats = pd.DataFrame({"x": [X0 + 15.0, X0 + 95.0, X0 + 20.0], "y": [Y0 + 85.0] * 3})
    hs = threshold_hotspots(
        scores, g, inc, threshold=1.0, area_columns=["beat", "npa"], repeat_locations_table=repeats
    )
    row = hs.polygons.iloc[0]
    # Streets by the hotspots.labels rule (Mill Lane's 3 >= 25% of High Street's 4), then the
    # majority beat (issue #18: labels name streets, beat, not only the commonest text).
    assert row["label"] == "High Street / Mill Lane, B2"
    assert row["top_categories"] == ("Anti-social behaviour (43%); Burglary (29%); Drugs (29%)")
    assert (row["beat"], row["beat_all"]) == ("B2", "B2; B1")  # most incidents first
    assert (row["npa"], row["npa_all"]) == ("N1", "N1; N2; N9")  # 3-3 tie: by name
    assert row["repeat_locations"] == 2  # the point on the cell edge counts, x+95 does not
    with pytest.raises(InputError, match="ward"):
        threshold_hotspots(scores, g, inc, threshold=1.0, area_columns=["ward"])


def test_label_falls_back_to_coordinates_without_location_text():
    g = _grid()
    inc = _cell_points(g, [(1, 1)] * 2).assign(location=["No Location", pd.NA])
    scores = np.zeros(g.shape)
    scores[1, 1] = 1
    hs = threshold_hotspots(scores, g, inc, threshold=1.0)
    assert hs.polygons["label"].tolist() == [f"near {X0 + 15:.0f}, {Y0 + 85:.0f}"]
    assert hs.polygons["repeat_locations"].isna().all()


# --- DBSCAN / HDBSCAN -----------------------------------------------------------------


def test_dbscan_recovers_blobs_in_metres():
    inc, truth = _blobs()
    hs = dbscan_hotspots(inc, eps_m=30, min_samples=10, hull="convex")
    assert hs.n_hotspots == 3
    for hid in (1, 2, 3):
        members = truth[hs.labels == hid]
        assert len(set(members)) == 1 and members[0] != 0
        assert len(members) >= 0.95 * 150
    assert (hs.labels[truth == 0] == 0).all()
    covered = shapely.covers(
        hs.polygons.geometry.to_numpy()[hs.labels[hs.labels > 0] - 1],
        shapely.points(inc[["x", "y"]].to_numpy()[hs.labels > 0]),
    )
    assert covered.all()


def test_dbscan_on_weighted_locations_equals_dbscan_on_every_duplicate():
    rng = np.random.default_rng(3)
    snap, _ = _blobs(seed=3, n=60, sd=40.0)
    snap = snap.round(0)
    repeats = rng.integers(1, 12, len(snap))
    inc = snap.loc[np.repeat(snap.index, repeats)].sample(frac=1, random_state=1)
    inc = inc.reset_index(drop=True)
    hs = dbscan_hotspots(inc)  # automatic eps and min_samples
    xy = inc[["x", "y"]].to_numpy()
    ref = DBSCAN(eps=hs.params["eps_m"], min_samples=hs.params["min_samples"]).fit(xy)
    assert hs.params["min_samples_rule"] == "n/1000" and hs.params["min_samples"] == 5
    assert hs.params["n_locations"] == len(snap.drop_duplicates())
    assert hs.n_hotspots >= 2
    core = np.zeros(len(inc), bool)
    core[ref.core_sample_indices_] = True
    assert ((hs.labels > 0) == (ref.labels_ >= 0)).all()
    assert _same_partition(hs.labels[core], ref.labels_[core])
    border = np.flatnonzero((ref.labels_ >= 0) & ~core)
    nearest = np.argmin(
        np.where(core, np.hypot(*(xy[border, None] - xy[None]).transpose(2, 0, 1)), np.inf), axis=1
    )
    np.testing.assert_array_equal(hs.labels[border], hs.labels[nearest])


def test_dbscan_border_location_joins_nearest_core():
    # Cores at -40..0 and 90..130 (10 incidents each, eps 50, min_samples 25); the location
    # at 46 reaches both clusters' cores but is not core itself: it is 44 m from 90.
    x = np.repeat([-40.0, -20.0, 0.0, 90.0, 110.0, 130.0, 46.0], [10] * 6 + [1])
    hs = dbscan_hotspots(pd.DataFrame({"x": x + X0, "y": Y0}), eps_m=50, min_samples=25)
    assert hs.polygons["incidents"].tolist() == [31, 30]
    assert hs.labels[-1] == hs.labels[x == 90.0][0] == 1


def test_weighted_k_distance_matches_brute_force():
    rng = np.random.default_rng(5)
    pts = rng.integers(0, 50, (40, 2)).astype(float)
    pts = np.unique(pts, axis=0)
    w = rng.integers(1, 6, len(pts))
    every = np.repeat(pts, w, axis=0)
    for k in (1, 3, 7, 20, int(w.sum()), int(w.sum()) + 1):
        got = weighted_k_distance(pts, w, k)
        d = np.sort(np.hypot(*(pts[:, None, :] - every[None, :, :]).transpose(2, 0, 1)), axis=1)
        want = d[:, k - 1] if k <= len(every) else np.full(len(pts), np.inf)
        np.testing.assert_array_equal(got, want)


def test_auto_eps_rule_is_reported_and_reproducible():
    inc, _ = _blobs()
    hs = dbscan_hotspots(inc)
    ms = auto_min_samples(len(inc))
    pts, w = np.unique(inc[["x", "y"]].to_numpy(), axis=0, return_counts=True)
    raw = np.quantile(weighted_k_distance(pts, w, ms), 0.05)
    assert hs.params["eps_m"] == float(min(max(round(raw), 10), 1000))
    assert hs.params["eps_m_rule"].startswith("k-distance q0.05")
    assert hs.params["buffer_m"] == hs.params["eps_m"] / 2
    assert hs.params["min_incidents"] == 1 and hs.params["min_incidents_rule"] == "default 1"


def _recovers(labels: np.ndarray, truth: np.ndarray, share: float) -> bool:
    """Each hotspot lies within one true blob and holds at least ``share`` of it."""
    for hid in range(1, labels.max() + 1):
        members = truth[labels == hid]
        if len(set(members)) != 1 or members[0] == 0:
            return False
        if len(members) < share * (truth == members[0]).sum():
            return False
    return labels.max() == 3


@pytest.mark.parametrize("engine", ["sklearn", "fast_hdbscan"])
def test_hdbscan_recovers_blobs(engine):
    if engine == "fast_hdbscan":
        pytest.importorskip("fast_hdbscan")
    inc, truth = _blobs(n=100, noise=0)  # HDBSCAN would call the 40 noise points a cluster
    hs = hdbscan_hotspots(inc, min_cluster_size=30, engine=engine, cluster_selection_method="eom")
    assert hs.params["engine"].startswith(engine.replace("sklearn", "sklearn.cluster"))
    assert _recovers(hs.labels, truth, 0.9)


def test_hdbscan_weighted_locations_match_every_duplicate_on_blobs():
    pytest.importorskip("fast_hdbscan")
    snap, truth = _blobs(seed=2, n=50, sd=30.0, noise=0)
    reps = np.random.default_rng(2).integers(1, 8, len(snap))
    inc = snap.loc[np.repeat(snap.index, reps)].reset_index(drop=True)
    truth = np.repeat(truth, reps)
    fast = hdbscan_hotspots(
        inc, min_cluster_size=40, engine="fast_hdbscan", cluster_selection_method="eom"
    )
    slow = hdbscan_hotspots(
        inc, min_cluster_size=40, engine="sklearn", cluster_selection_method="eom"
    )
    assert fast.params["n_locations"] == len(snap)
    assert _recovers(fast.labels, truth, 0.9) and _recovers(slow.labels, truth, 0.9)


def test_single_location_hotspot_has_area():
    inc = pd.DataFrame({"x": [X0] * 8, "y": [Y0] * 8})
    for hull in ("concave", "convex", "buffer"):
        hs = dbscan_hotspots(inc, eps_m=20, min_samples=5, hull=hull)
        assert hs.polygons["area_m2"].iloc[0] == pytest.approx(np.pi * 10**2, rel=0.02)


def test_geographic_crs_refused_and_metric_geodataframe_accepted():
    inc, _ = _blobs()
    geo = gpd.GeoDataFrame(geometry=gpd.points_from_xy(inc.x, inc.y), crs=27700)
    a = dbscan_hotspots(inc, eps_m=30, min_samples=10)
    b = dbscan_hotspots(geo, eps_m=30, min_samples=10)
    np.testing.assert_array_equal(a.labels, b.labels)
    wgs = geo.to_crs(4326)
    for call in (
        lambda: dbscan_hotspots(wgs),
        lambda: hdbscan_hotspots(wgs),
        lambda: find_hotspots(wgs),
    ):
        with pytest.raises(CRSError, match="EPSG:4326"):
            call()
    utm = geo.to_crs(32630)
    with pytest.raises(CRSError, match="grid"):
        threshold_hotspots(np.zeros((10, 10)), _grid(), utm)


def test_input_errors():
    inc, _ = _blobs()
    with pytest.raises(InputError, match="method"):
        find_hotspots(inc, method="kmeans")
    with pytest.raises(InputError, match="hull"):
        dbscan_hotspots(inc, hull="alpha")
    with pytest.raises(InputError, match="eps_m"):
        dbscan_hotspots(inc, eps_m=-1)
    with pytest.raises(InputError, match="connectivity"):
        threshold_hotspots(np.zeros((10, 10)), _grid(), inc, connectivity=6)
    with pytest.raises(InputError, match="shape"):
        threshold_hotspots(np.zeros((3, 3)), _grid(), inc)
    with pytest.raises(InputError, match="finite"):
        dbscan_hotspots(pd.DataFrame({"x": [1.0, np.nan], "y": [1.0, 2.0]}))
    with pytest.raises(InputError, match="x"):
        dbscan_hotspots(pd.DataFrame({"easting": [1.0]}))
    # Whole numbers of at least 1: never a boolean, a float or zero.
    for kwargs in ({"min_samples": True}, {"min_samples": 5.0}, {"min_incidents": 0}):
        with pytest.raises(InputError, match=next(iter(kwargs))):
            dbscan_hotspots(inc, eps_m=30, **kwargs)
    with pytest.raises(InputError, match="min_samples"):
        hdbscan_hotspots(inc, min_cluster_size=20, min_samples=0, engine="sklearn")
    with pytest.raises(InputError, match="min_cluster_size"):
        hdbscan_hotspots(inc, min_cluster_size=True, engine="sklearn")


def test_hotspot_set_is_frozen_and_keyword_only():
    hs = dbscan_hotspots(_blobs()[0], eps_m=30, min_samples=10)
    with pytest.raises(TypeError):
        type(hs)(hs.polygons, hs.labels, hs.method, hs.params)
    with pytest.raises(AttributeError):
        hs.method = "other"


def test_row_order_does_not_change_hotspots():
    inc, _ = _blobs()
    shuffled = inc.sample(frac=1, random_state=7)
    a = dbscan_hotspots(inc, eps_m=30, min_samples=10)
    b = dbscan_hotspots(shuffled, eps_m=30, min_samples=10)
    np.testing.assert_array_equal(a.labels[shuffled.index.to_numpy()], b.labels)
    assert a.polygons.geometry.geom_equals(b.polygons.geometry).all()


# --- properties ------------------------------------------------------------------------


def _check_consistent(hs, xy: np.ndarray) -> None:
    labels = hs.labels
    n = hs.n_hotspots
    assert labels.shape == (len(xy),) and labels.min(initial=0) >= 0 and labels.max(initial=0) <= n
    counts = np.bincount(labels, minlength=n + 1)[1:]
    assert hs.polygons["hotspot_id"].tolist() == list(range(1, n + 1))
    assert hs.polygons["incidents"].tolist() == counts.tolist()
    assert hs.polygons["incidents"].sum() == (labels > 0).sum()
    assert (np.diff(counts) <= 0).all() and (hs.polygons["area_m2"] > 0).all()
    member = labels > 0
    geoms = hs.polygons.geometry.to_numpy()[labels[member] - 1]
    assert shapely.covers(geoms, shapely.points(xy[member])).all()


coords = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=80)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(coords, st.integers(1, 12), st.floats(1.0, 15.0), st.sampled_from(["concave", "buffer"]))
def test_property_dbscan_counts_add_up(pts, min_samples, eps, hull):
    xy = np.array(pts, float) * 5 + [X0, Y0]
    inc = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]})
    hs = dbscan_hotspots(inc, eps_m=eps, min_samples=min_samples, hull=hull)
    _check_consistent(hs, xy)
    ref = DBSCAN(eps=eps, min_samples=min_samples).fit(xy).labels_
    assert ((hs.labels > 0) == (ref >= 0)).all()  # same members (border ties aside)


@settings(max_examples=40, deadline=None)
@given(
    coords,
    st.integers(0, 2**32 - 1),
    st.sampled_from([4, 8]),
    st.sampled_from(["quantile", "mean_sd"]),
)
def test_property_threshold_counts_add_up(pts, seed, connectivity, rule):
    g = _grid(8, 25.0)
    xy = np.array(pts, float) * 5 + [X0, Y0]
    scores = np.random.default_rng(seed).gamma(0.5, 1.0, g.shape)
    hs = threshold_hotspots(
        scores,
        g,
        pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]}),
        threshold=rule,
        quantile=0.8,
        connectivity=connectivity,
    )
    _check_consistent(hs, xy)
    cells = hs.params["cells_selected"]
    assert hs.polygons["area_m2"].sum() <= cells * 625.0 + 1e-6
