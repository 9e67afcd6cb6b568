"""Tests for hotspots.gistar: hand-worked cases, brute-force references, esda, permutations."""

from __future__ import annotations

import itertools
import json
import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtr
from scipy.stats import false_discovery_control

from hotspots.gistar import (
    CONFIDENCE_LEVELS,
    GiStarResult,
    classify,
    gistar_grid,
    gistar_polygons,
)
from hotspots.schema import CRSError, InputError


def dense_gistar_z(values: np.ndarray, valid: np.ndarray, band_cells: float) -> np.ndarray:
    """Reference Gi* z from a dense 0/1 weights matrix built from cell-centre distances."""
    rows, cols = np.nonzero(valid)
    x = values[valid]
    n = x.size
    dist2 = (rows[:, None] - rows[None, :]) ** 2 + (cols[:, None] - cols[None, :]) ** 2
    w = (dist2 <= band_cells**2 + 1e-9).astype(float)
    wsum = w.sum(axis=1)
    mean = x.sum() / n
    s = math.sqrt((x**2).sum() / n - mean**2)
    z = (w @ x - mean * wsum) / (s * np.sqrt((n * (w**2).sum(axis=1) - wsum**2) / (n - 1)))
    out = np.full(values.shape, np.nan)
    out[valid] = z
    return out


# --- hand-worked ------------------------------------------------------------------------


def test_hand_worked_4x4_band_of_one_cell():
    counts = np.array([[0, 1, 2, 0], [3, 5, 1, 0], [0, 2, 4, 1], [1, 0, 0, 2]], dtype=float)
    res = gistar_grid(counts, cell_size_m=100.0, distance_band_m=100.0)
    flat = [v for row in counts.tolist() for v in row]
    n = len(flat)
    mean = sum(flat) / n
    s = math.sqrt(sum(v * v for v in flat) / n - mean * mean)

    def by_hand(r: int, c: int) -> float:
        total, w = 0.0, 0
        for rr in range(4):
            for cc in range(4):
                if abs(rr - r) + abs(cc - c) <= 1:  # band of one cell: self + rook neighbours
                    total += counts[rr][cc]
                    w += 1
        return (total - mean * w) / (s * math.sqrt((n * w - w * w) / (n - 1)))

    assert res.z[1, 1] == pytest.approx(by_hand(1, 1), abs=1e-12)
    assert res.z[3, 3] == pytest.approx(by_hand(3, 3), abs=1e-12)
    # On paper: n = 16, sum 22, sum of squares 66, so mean 1.375 and S^2 = 66/16 - 1.375^2.
    # Cell (1, 1): 1 + 3 + 5 + 1 + 2 = 12 over W = 5; corner (3, 3): 2 + 1 + 0 = 3 over W = 3.
    s2 = 66 / 16 - 1.375**2
    assert res.z[1, 1] == pytest.approx((12 - 1.375 * 5) / math.sqrt(s2 * (16 * 5 - 25) / 15))
    assert res.z[3, 3] == pytest.approx((3 - 1.375 * 3) / math.sqrt(s2 * (16 * 3 - 9) / 15))
    assert res.n_neighbours[1, 1] == 5 and res.n_neighbours[3, 3] == 3
    assert res.p[1, 1] == pytest.approx(2 * (1 - 0.5 * (1 + math.erf(res.z[1, 1] / 2**0.5))))


def test_against_dense_weights_on_masked_random_grid():
    rng = np.random.default_rng(7)
    counts = rng.poisson(2.0, (15, 15)).astype(float)
    counts[4:8, 9:13] += rng.poisson(4.0, (4, 4))
    mask = rng.random((15, 15)) > 0.2
    counts[~mask] = np.nan  # masked cells may hold anything
    for band_cells in (1.0, math.sqrt(2.0), 2.5, 4.0):
        res = gistar_grid(counts, cell_size_m=50.0, mask=mask, distance_band_m=50.0 * band_cells)
        ref = dense_gistar_z(counts, mask, band_cells)
        np.testing.assert_allclose(res.z, ref, rtol=0, atol=1e-10)
        assert res.n == mask.sum()
        assert np.array_equal(np.isnan(res.z), ~mask)


def test_against_esda_g_local_star():
    esda = pytest.importorskip("esda")
    libpysal = pytest.importorskip("libpysal")
    rng = np.random.default_rng(3)
    counts = rng.poisson(3.0, (12, 10)).astype(float)
    mask = np.ones(counts.shape, dtype=bool)
    mask[0, :4] = False
    rows, cols = np.nonzero(mask)
    centres = np.column_stack([cols * 200.0 + 100.0, -rows * 200.0 - 100.0])
    w = libpysal.weights.DistanceBand(centres, threshold=400.0, binary=True, silence_warnings=True)
    ref = esda.G_Local(counts[mask], w, transform="B", star=True, permutations=0)
    res = gistar_grid(counts, cell_size_m=200.0, mask=mask, distance_band_m=400.0)
    np.testing.assert_allclose(res.z[mask], ref.Zs, rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.p[mask], 2 * ref.p_norm, rtol=0, atol=1e-12)


# --- permutations -----------------------------------------------------------------------


def exact_conditional_p(values: np.ndarray, band_cells: float) -> np.ndarray:
    """Two-sided p of each cell's neighbour sum over all subsets of the other cells."""
    rows, cols = np.indices(values.shape)
    rows, cols, x = rows.ravel(), cols.ravel(), values.ravel()
    out = np.empty(x.size)
    for i in range(x.size):
        near = (rows - rows[i]) ** 2 + (cols - cols[i]) ** 2 <= band_cells**2
        obs = x[near].sum() - x[i]
        others = np.delete(x, i)
        sums = np.array([sum(c) for c in itertools.combinations(others, int(near.sum()) - 1)])
        out[i] = min(1.0, 2 * min(np.mean(sums >= obs), np.mean(sums <= obs)))
    return out.reshape(values.shape)


def test_pseudo_p_matches_exact_enumeration():
    values = np.array([[0, 3, 1, 7], [2, 9, 4, 0], [1, 1, 5, 2]], dtype=float)
    res = gistar_grid(values, cell_size_m=10.0, distance_band_m=10.0, permutations=20_000, seed=1)
    exact = exact_conditional_p(values, 1.0)
    # Monte Carlo standard error of 2 * a proportion over 20k draws is at most 0.0071.
    np.testing.assert_allclose(res.p_sim, exact, rtol=0, atol=0.03)


def test_pseudo_p_reproducible_with_seed():
    rng = np.random.default_rng(0)
    counts = rng.poisson(2.0, (20, 20)).astype(float)
    a = gistar_grid(counts, cell_size_m=100.0, permutations=199, seed=5)
    b = gistar_grid(counts, cell_size_m=100.0, permutations=199, seed=5)
    c = gistar_grid(counts, cell_size_m=100.0, permutations=199, seed=6)
    assert np.array_equal(a.p_sim, b.p_sim) and np.array_equal(a.classes, b.classes)
    assert not np.array_equal(a.p_sim, c.p_sim)
    assert a.p_sim.min() >= 1 / 200 and a.p_sim.max() <= 1.0


def test_pseudo_p_close_to_normal_approximations_for_large_n():
    rng = np.random.default_rng(11)
    values = rng.normal(10.0, 1.0, (60, 60))
    band_cells = 3.0
    res = gistar_grid(
        values, cell_size_m=100.0, distance_band_m=100.0 * band_cells, permutations=1999, seed=2
    )
    # Normal approximation of the conditional null: the cell fixed, its k - 1 neighbours
    # drawn without replacement from the other n - 1 values.
    x = values.ravel()
    n, m = x.size, res.n_neighbours.ravel() - 1
    rows, cols = np.indices(values.shape)
    rows, cols = rows.ravel(), cols.ravel()
    obs = (
        np.array(
            [
                x[(rows - rows[i]) ** 2 + (cols - cols[i]) ** 2 <= band_cells**2].sum()
                for i in range(n)
            ]
        )
        - x
    )
    mean_o = (x.sum() - x) / (n - 1)
    var_o = ((x**2).sum() - x**2) / (n - 1) - mean_o**2
    zc = (obs - m * mean_o) / np.sqrt(m * var_o * (n - 1 - m) / (n - 2))
    p_cond = 2 * ndtr(-np.abs(zc))
    diff = np.abs(p_cond - res.p_sim.ravel())
    assert diff.mean() < 0.015 and diff.max() < 0.07
    # The analytic p also lets the cell's own value vary, a shift of about 1/sqrt(k) in z:
    # close to p_sim only in large neighbourhoods (k = 113 here).
    wide = gistar_grid(values, cell_size_m=100.0, distance_band_m=600.0, permutations=1999, seed=2)
    assert np.corrcoef(wide.p.ravel(), wide.p_sim.ravel())[0, 1] > 0.97
    assert np.abs(wide.p - wide.p_sim).mean() < 0.06


# --- FDR and classes --------------------------------------------------------------------


def brute_force_bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q from its definition, O(m^2): for each test, the smallest
    ``m p_j / r_j`` (capped at 1) over the tests j with ``p_j >= p_i``, where ``r_j`` counts
    the p-values ``<= p_j`` (tied p-values share the largest rank)."""
    p = np.asarray(p, dtype=float)
    m = p.size
    rank = (p[None, :] <= p[:, None]).sum(axis=1)
    scaled = np.minimum(1.0, m * p / rank)
    return np.array([scaled[p >= pi].min() for pi in p])


def test_q_is_benjamini_hochberg_from_its_definition():
    rng = np.random.default_rng(4)
    p = np.concatenate([rng.random(200) ** 3, [0.5, 0.5, 0.01, 1.0, 0.0]])
    np.testing.assert_allclose(
        false_discovery_control(p, method="bh"), brute_force_bh(p), rtol=1e-12
    )
    counts = rng.poisson(3.0, (30, 30)).astype(float)
    counts[10:13, 10:13] += 4
    mask = np.ones(counts.shape, dtype=bool)
    mask[:4, :4] = False
    # The analytic p, and pseudo p-values (many ties) with the permutations.
    for permutations in (0, 99):
        res = gistar_grid(counts, cell_size_m=100.0, mask=mask, permutations=permutations)
        used = (res.p if res.p_sim is None else res.p_sim)[mask]
        expected = brute_force_bh(used)
        np.testing.assert_allclose(res.q[mask], expected, rtol=1e-12)
        assert np.isnan(res.q[~mask]).all()
        assert np.array_equal(res.classes[mask], classify(res.z[mask], expected))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=60))
def test_polygon_q_matches_the_definition(values):
    gdf = gpd.GeoDataFrame(
        {"n": values}, geometry=[shapely.box(i, 0, i + 1, 1) for i in range(len(values))]
    )
    res = gistar_polygons(gdf, "n", weights="rook")
    q = brute_force_bh(res.p)
    np.testing.assert_allclose(res.q, q, rtol=1e-12, atol=1e-300)
    assert np.all(res.q >= res.p - 1e-15) and np.all(res.q <= 1.0)
    # A q within rounding of a level may fall either side of it.
    clear = np.all(np.abs(q[:, None] - np.array(CONFIDENCE_LEVELS)) > 1e-12, axis=1)
    assert np.array_equal(res.classes[clear], classify(res.z, q)[clear])


def test_classify_bins_and_signs():
    z = np.array([3.0, 2.5, 1.8, 1.0, -1.7, -2.0, -3.0, np.nan, 2.0])
    p = np.array([0.01, 0.05, 0.10, 0.3, 0.1, 0.02, 0.001, 0.01, np.nan])
    assert classify(z, p).tolist() == [3, 2, 1, 0, -1, -2, -3, 0, 0]
    with pytest.raises(InputError):
        classify(z, p[:3])


def test_fdr_changes_classes():
    rng = np.random.default_rng(8)
    counts = rng.poisson(3.0, (40, 40)).astype(float)
    counts[10:13, 10:13] += 4
    raw = gistar_grid(counts, cell_size_m=100.0, fdr=False)
    adj = gistar_grid(counts, cell_size_m=100.0, fdr=True)
    assert np.array_equal(raw.classes, classify(raw.z, raw.p))
    assert np.array_equal(
        adj.classes, classify(adj.z, brute_force_bh(adj.p.ravel()).reshape(adj.p.shape))
    )
    assert np.abs(adj.classes).sum() < np.abs(raw.classes).sum()
    assert adj.classes[11, 11] == 3


# --- grid details -----------------------------------------------------------------------


def test_masked_cells_are_nan_and_unlabelled():
    counts = np.arange(36, dtype=float).reshape(6, 6)
    mask = np.ones((6, 6), dtype=bool)
    mask[0, 0] = mask[5, 2] = False
    res = gistar_grid(counts, cell_size_m=10.0, mask=mask, permutations=9)
    for arr in (res.z, res.p, res.p_sim, res.q):
        assert np.isnan(arr[0, 0]) and np.isnan(arr[5, 2])
        assert np.isfinite(arr[mask]).all()
    assert res.classes[0, 0] == 0 and res.n_neighbours[0, 0] == 0
    labels = res.labels()
    assert labels[0, 0] == "" and labels.shape == (6, 6)
    assert set(labels[mask]) <= {
        "Hot spot 99%",
        "Hot spot 95%",
        "Hot spot 90%",
        "Not significant",
        "Cold spot 90%",
        "Cold spot 95%",
        "Cold spot 99%",
    }


def test_all_zero_counts_are_not_significant():
    res = gistar_grid(np.zeros((8, 8)), cell_size_m=100.0, permutations=99)
    assert np.all(res.z == 0) and np.all(res.p == 1) and np.all(res.p_sim == 1)
    assert np.all(res.classes == 0)


def test_neighbourhood_covering_whole_area_is_not_significant():
    counts = np.array([[0.0, 5.0, 1.0], [2.0, 0.0, 3.0]])
    res = gistar_grid(counts, cell_size_m=1.0, distance_band_m=5.0, permutations=19)
    assert np.all(res.z == 0) and np.all(res.p == 1) and np.all(res.p_sim == 1)


def test_default_band_is_two_cells_and_result_carries_parameters():
    res = gistar_grid(np.eye(10), cell_size_m=250.0, permutations=0)
    assert isinstance(res, GiStarResult)
    assert (res.distance_band_m, res.band_rule, res.weights) == (
        500.0,
        "two_cells",
        "distance_band",
    )
    assert res.n_neighbours[5, 5] == 13 and res.p_sim is None
    assert res.classes.dtype == np.int8 and res.z.shape == (10, 10)
    explicit = gistar_grid(np.eye(10), cell_size_m=250.0, distance_band_m=500.0)
    assert explicit.band_rule == "explicit"
    np.testing.assert_array_equal(explicit.z, res.z)


def test_params_say_which_rule_chose_the_band_and_are_json_ready():
    res = gistar_grid(np.eye(10), cell_size_m=250.0, permutations=9, seed=3)
    assert json.loads(json.dumps(res.params())) == {
        "weights": "distance_band",
        "distance_band_m": 500.0,
        "band_rule": "two_cells",
        "band_auto": True,
        "permutations": 9,
        "seed": 3,
        "p_used": "p_sim",
        "fdr": True,
        "classes": "hot/cold at 90/95/99% after Benjamini-Hochberg FDR",
        "n": 100,
    }
    explicit = gistar_grid(np.eye(10), cell_size_m=250.0, distance_band_m=500, fdr=False)
    p = explicit.params()
    assert (p["band_rule"], p["band_auto"], p["p_used"]) == ("explicit", False, "p")
    assert p["classes"] == "hot/cold at 90/95/99% by the unadjusted p"
    rook = gistar_polygons(squares([1.0] * 8 + [2.0]), "n", weights="rook").params()
    assert (rook["distance_band_m"], rook["band_rule"], rook["band_auto"]) == (
        None,
        "contiguity",
        False,
    )
    with pytest.raises(TypeError):  # keyword-only, like every result
        GiStarResult(*[getattr(res, f) for f in res.__dataclass_fields__])


@settings(max_examples=25, deadline=None)
@given(st.floats(0.1, 100.0), st.floats(-50.0, 50.0), st.integers(0, 10_000))
def test_z_invariant_to_affine_change_of_values(scale, shift, seed):
    values = np.random.default_rng(seed).poisson(3.0, (9, 7)).astype(float)
    if values.std() == 0:
        return
    base = gistar_grid(values, cell_size_m=1.0, distance_band_m=1.5)
    moved = gistar_grid(values * scale + shift, cell_size_m=1.0, distance_band_m=1.5)
    flipped = gistar_grid(-values, cell_size_m=1.0, distance_band_m=1.5)
    np.testing.assert_allclose(moved.z, base.z, atol=1e-8)
    np.testing.assert_allclose(flipped.z, -base.z, atol=1e-12)


# --- polygons ---------------------------------------------------------------------------


def squares(values: list[float], side: float = 100.0) -> gpd.GeoDataFrame:
    """A 3 x 3 block of square polygons (row-major from the south-west) plus any extras."""
    boxes = [
        shapely.box(c * side, r * side, (c + 1) * side, (r + 1) * side)
        for r in range(3)
        for c in range(3)
    ]
    boxes += [
        shapely.box(1000.0 + i * side, 0.0, 1000.0 + (i + 0.5) * side, side / 2)
        for i in range(len(values) - 9)
    ]
    return gpd.GeoDataFrame({"n": values}, geometry=boxes, crs="EPSG:27700")


def test_polygon_contiguity_and_z():
    values = [4.0, 1.0, 0.0, 2.0, 8.0, 1.0, 0.0, 3.0, 2.0, 5.0]
    gdf = squares(values)
    queen = gistar_polygons(gdf, "n", weights="queen")
    rook = gistar_polygons(gdf, "n", weights="rook")
    assert queen.n_neighbours.tolist() == [4, 6, 4, 6, 9, 6, 4, 6, 4, 1]
    assert rook.n_neighbours.tolist() == [3, 4, 3, 4, 5, 4, 3, 4, 3, 1]
    # The same 3 x 3 block as grid cells: rook = band of 1 cell, queen = band of sqrt(2).
    grid = np.array(values[:9]).reshape(3, 3)
    x = np.array(values)
    n, mean = x.size, x.mean()
    s = x.std()
    for res, band in ((rook, 1.0), (queen, math.sqrt(2))):
        rows, cols = np.indices((3, 3))
        for i in range(9):
            near = (rows - rows.flat[i]) ** 2 + (cols - cols.flat[i]) ** 2 <= band**2 + 1e-9
            w = near.sum()
            expect = (grid[near].sum() - mean * w) / (s * math.sqrt((n * w - w * w) / (n - 1)))
            assert res.z[i] == pytest.approx(expect, abs=1e-12)
    # The island's neighbourhood is itself: z is its standardised value.
    assert rook.z[9] == pytest.approx((5.0 - mean) / s)


def test_polygon_distance_band_default_and_explicit():
    gdf = squares([4.0, 1.0, 0.0, 2.0, 8.0, 1.0, 0.0, 3.0, 2.0])
    auto = gistar_polygons(gdf, "n", weights="distance_band")
    assert auto.distance_band_m == pytest.approx(100.0)
    assert auto.band_rule == "arcgis_one_neighbour"
    rook = gistar_polygons(gdf, "n", weights="rook")
    np.testing.assert_allclose(auto.z, rook.z, atol=1e-12)
    wide = gistar_polygons(
        gdf, "n", weights="distance_band", distance_band_m=150.0, permutations=99, seed=3
    )
    assert wide.n_neighbours.tolist() == [4, 6, 4, 6, 9, 6, 4, 6, 4]
    assert wide.p_sim is not None and wide.p_sim.shape == (9,)
    with pytest.raises(CRSError):
        gistar_polygons(gdf.set_crs(4326, allow_override=True), "n", weights="distance_band")


# --- invalid input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"counts": np.ones(9)},
        {"counts": [["a", "b"], ["c", "d"]]},
        {"cell_size_m": 0.0},
        {"cell_size_m": float("nan")},
        {"cell_size_m": "100"},
        {"mask": np.ones((4, 4), dtype=int)},
        {"mask": np.ones((3, 4), dtype=bool)},
        {"counts": np.where(np.eye(4) == 1, np.nan, 1.0)},
        {"mask": np.eye(4, dtype=bool) & (np.arange(4) < 2)},
        {"distance_band_m": 50.0},
        {"distance_band_m": float("inf")},
        {"permutations": -1},
        {"permutations": 9.5},
        {"permutations": True},
        {"seed": -3},
        {"fdr": "yes"},
    ],
)
def test_invalid_grid_inputs_raise(kwargs):
    args = {"counts": np.arange(16.0).reshape(4, 4), "cell_size_m": 100.0, **kwargs}
    with pytest.raises(InputError):
        gistar_grid(args.pop("counts"), **args)


def test_invalid_polygon_inputs_raise():
    gdf = squares([1.0] * 8 + [2.0])
    with pytest.raises(InputError, match="GeoDataFrame"):
        gistar_polygons(gdf.drop(columns="geometry"), "n")
    with pytest.raises(InputError, match="not in gdf"):
        gistar_polygons(gdf, "missing")
    with pytest.raises(InputError, match="numeric"):
        gistar_polygons(gdf.assign(n=["a"] * 9), "n")
    with pytest.raises(InputError, match="missing or infinite"):
        gistar_polygons(gdf.assign(n=[np.nan] + [1.0] * 8), "n")
    with pytest.raises(InputError, match="weights must be"):
        gistar_polygons(gdf, "n", weights="knn")
    with pytest.raises(InputError, match="distance_band"):
        gistar_polygons(gdf, "n", weights="queen", distance_band_m=100.0)
    with pytest.raises(InputError, match="polygons"):
        gistar_polygons(gdf.set_geometry(gdf.centroid), "n")
    with pytest.raises(InputError, match="permutations"):
        gistar_polygons(gdf, "n", permutations=-5)
