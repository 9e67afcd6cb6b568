"""Tests for hotspots.density: exact references, units, masks, bandwidth rules, dual KDE."""

from __future__ import annotations

import json
import logging
import math

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import erf

from hotspots.density import (
    QUARTIC_PER_GAUSSIAN,
    DensitySurface,
    bandwidth_arcgis,
    bandwidth_lcv,
    bandwidth_normal_reference,
    kde_surface,
    location_spacing_m,
    relative_surface,
)
from hotspots.grid import make_grid, mask_from_geometry
from hotspots.schema import CRSError, InputError

# --------------------------------------------------------------------------- references


def quartic(dx, dy, h):
    d2 = dx * dx + dy * dy
    return np.where(d2 < h * h, 3.0 / (math.pi * h * h) * (1.0 - d2 / (h * h)) ** 2, 0.0)


def gauss_axis(d, s):
    """One axis of the Gaussian cut at |d| <= 4s and rescaled to unit mass."""
    g = np.exp(-d * d / (2 * s * s)) / (s * math.sqrt(2 * math.pi)) / erf(4 / math.sqrt(2))
    return np.where(np.abs(d) <= 4 * s, g, 0.0)


def centres(grid):
    c = grid.cell_size_m
    xs = grid.xmin + c / 2 + c * np.arange(grid.ncols)
    ys = grid.ymax - c / 2 - c * np.arange(grid.nrows)
    return xs, ys


def brute_force(xy, w, grid, kernel, bw):
    """Exact density per km² at every cell centre from the given (weighted) points."""
    xs, ys = centres(grid)
    if kernel == "gaussian":  # separable: one matrix product is the exact double sum
        gy = gauss_axis(ys[:, None] - xy[None, :, 1], bw)
        gx = gauss_axis(xs[:, None] - xy[None, :, 0], bw)
        return (gy * w) @ gx.T * 1e6
    out = np.zeros(grid.shape)
    c = grid.cell_size_m
    col = np.floor((xy[:, 0] - grid.xmin) / c).astype(int)
    row = np.floor((grid.ymax - xy[:, 1]) / c).astype(int)
    reach = math.ceil(bw / c) + 1
    for di in range(-reach, reach + 1):
        for dj in range(-reach, reach + 1):
            r, cc = row + di, col + dj
            ok = (r >= 0) & (r < grid.nrows) & (cc >= 0) & (cc < grid.ncols)
            val = quartic(xs[cc[ok]] - xy[ok, 0], ys[r[ok]] - xy[ok, 1], bw) * w[ok]
            np.add.at(out, (r[ok], cc[ok]), val * 1e6)
    return out


def lattice_binning(xy, w, grid, k):
    """Quadratic Lagrange binning onto nodes at cell centres + multiples of cell/k."""
    f = grid.cell_size_m / k
    u = (xy[:, 0] - (grid.xmin + grid.cell_size_m / 2)) / f
    v = (grid.ymax - grid.cell_size_m / 2 - xy[:, 1]) / f
    nodes, weights = [], []
    for pos in (u, v):
        n = np.floor(pos + 0.5)
        t = pos - n
        nodes.append([n - 1, n, n + 1])
        weights.append([t * (t - 1) / 2, 1 - t * t, t * (t + 1) / 2])
    pts, wts = [], []
    for a in range(3):
        for b in range(3):
            x = grid.xmin + grid.cell_size_m / 2 + nodes[0][a] * f
            y = grid.ymax - grid.cell_size_m / 2 - nodes[1][b] * f
            pts.append(np.column_stack([x, y]))
            wts.append(w * weights[0][a] * weights[1][b])
    return np.concatenate(pts), np.concatenate(wts)


def clustered(n, seed, span=10_000.0):
    rng = np.random.default_rng(seed)
    centre = rng.random((40, 2)) * span * 0.8 + span * 0.1
    size = rng.uniform(50, 400, 40)
    lab = rng.integers(0, 40, n)
    xy = centre[lab] + rng.normal(size=(n, 2)) * size[lab, None]
    xy[: n // 5] = rng.random((n // 5, 2)) * span
    return xy


def max_rel_error(est, ref):
    if ref.max() <= 0:  # a kernel narrower than the cells can miss every centre
        return float(np.abs(est).max())
    sel = ref > 0.01 * ref.max()
    return float(np.max(np.abs(est[sel] - ref[sel]) / ref[sel]))


@pytest.fixture(scope="module")
def ten_k():
    return clustered(10_000, seed=0)


# --------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize("kernel", ["quartic", "gaussian"])
def test_matches_brute_force_on_binned_points(kernel):
    xy = clustered(2_000, seed=3, span=4_000.0)
    s = kde_surface(xy, kernel=kernel, bandwidth_m=200, cell_size_m=50, snap_spacing_m=1)
    nodes, w = lattice_binning(xy, np.ones(len(xy)), s.grid, s.subcell_factor)
    assert max_rel_error(s.values, brute_force(nodes, w, s.grid, kernel, 200)) < 1e-6


@pytest.mark.parametrize("kernel", ["quartic", "gaussian"])
def test_points_on_cell_centres_are_exact(kernel):
    grid = make_grid((0.0, 0.0, 3000.0, 3000.0), cell_size_m=50)
    xs, ys = centres(grid)
    rng = np.random.default_rng(5)
    xy = np.column_stack([rng.choice(xs[10:-10], 300), rng.choice(ys[10:-10], 300)])
    s = kde_surface(xy, kernel=kernel, bandwidth_m=150, extent=grid, snap_spacing_m=1)
    ref = brute_force(xy, np.ones(300), grid, kernel, 150)
    np.testing.assert_allclose(s.values, ref, rtol=1e-9, atol=1e-9 * ref.max())


@pytest.mark.parametrize("kernel", ["quartic", "gaussian"])
def test_within_two_percent_of_raw_points(kernel, ten_k):
    s = kde_surface(ten_k, kernel=kernel, bandwidth_m=250, cell_size_m=50, snap_spacing_m=1)
    err = max_rel_error(s.values, brute_force(ten_k, np.ones(len(ten_k)), s.grid, kernel, 250))
    assert err <= 0.02, f"max relative error {err:.4f} where density > 1% of max"


def test_within_two_percent_at_default_cell_size(ten_k):
    s = kde_surface(ten_k, bandwidth_m=250, snap_spacing_m=1)
    assert s.cell_size_rule == "arcgis"
    ref = brute_force(ten_k, np.ones(len(ten_k)), s.grid, "quartic", 250)
    assert max_rel_error(s.values, ref) <= 0.02


@settings(max_examples=25, deadline=None)
@given(
    xy=st.lists(st.tuples(st.floats(0, 2000), st.floats(0, 2000)), min_size=1, max_size=30),
    ratio=st.floats(0.5, 8.0),
    kernel=st.sampled_from(["quartic", "gaussian"]),
    seed=st.integers(0, 1000),
)
def test_any_points_match_brute_force_on_binned_points(xy, ratio, kernel, seed):
    # Irrational nudges: a point exactly midway between lattice nodes, or a node exactly
    # 4σ away, goes to one side or the other by rounding alone.
    xy = np.array(xy) + [1e-4 * math.sqrt(2), 1e-4 * math.sqrt(3)]
    w = np.random.default_rng(seed).uniform(0.1, 3.0, len(xy))
    bw = 50 * ratio * (1 + 1e-6 / math.pi)
    s = kde_surface(xy, weights=w, kernel=kernel, bandwidth_m=bw, cell_size_m=50, snap_spacing_m=1)
    nodes, nw = lattice_binning(xy, w, s.grid, s.subcell_factor)
    ref = brute_force(nodes, nw, s.grid, kernel, bw)
    assert max_rel_error(s.values, ref) < 1e-6
    assert np.nanmin(s.values) >= 0.0
    if ratio >= 4:  # cell-centre sampling holds the mass once the kernel spans 4+ cells
        assert abs(np.nansum(s.per_cell) / w.sum() - 1.0) < 2e-3


# --------------------------------------------------------------------------- extents


def test_study_area_mask_gives_nan_outside():
    area = shapely.Point(1000, 1000).buffer(600)
    xy = clustered(500, seed=1, span=2000.0)
    s = kde_surface(xy, bandwidth_m=200, cell_size_m=50, extent=area, snap_spacing_m=1)
    expected = mask_from_geometry(s.grid, area)
    assert np.array_equal(np.isfinite(s.values), expected)
    assert s.grid.mask is not None and not expected.all()


def test_study_area_geodataframe_and_crs_mismatch():
    area = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1000, 1000)], crs=27700)
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy([500.0, 520.0], [500.0, 480.0]), crs=27700)
    s = kde_surface(pts, bandwidth_m=200, cell_size_m=50, extent=area)
    assert s.crs == "EPSG:27700" and s.grid.shape == (21, 21)
    with pytest.raises(CRSError, match="EPSG:3857"):
        kde_surface(pts, bandwidth_m=200, cell_size_m=50, extent=area.to_crs(3857))
    utm = make_grid((0.0, 0.0, 1000.0, 1000.0), cell_size_m=50, crs="EPSG:32630")
    with pytest.raises(CRSError, match="extent is in EPSG:32630"):
        kde_surface(pts, bandwidth_m=200, extent=utm)


def test_grid_extent_is_used_as_is_and_cell_size_must_agree():
    grid = make_grid((0.0, 0.0, 1000.0, 800.0), cell_size_m=50)
    s = kde_surface(np.array([[500.0, 400.0]]), bandwidth_m=200, extent=grid)
    assert s.grid is grid
    with pytest.raises(InputError, match="cell_size_m=25"):
        kde_surface(np.array([[500.0, 400.0]]), bandwidth_m=200, extent=grid, cell_size_m=25)


def test_incidents_beyond_the_kernel_reach_of_the_grid_add_nothing():
    grid = make_grid((0.0, 0.0, 1000.0, 1000.0), cell_size_m=50)
    xy = np.array([[500.0, 500.0], [1249.0, 500.0], [5000.0, 5000.0]])
    s = kde_surface(xy, bandwidth_m=200, extent=grid, snap_spacing_m=1)
    alone = kde_surface(xy[:1], bandwidth_m=200, extent=grid, snap_spacing_m=1).values
    np.testing.assert_allclose(s.values, alone, rtol=1e-12, atol=1e-12 * alone.max())
    assert s.n_points == 3


def test_edge_correction_divides_by_kernel_mass_inside():
    area = shapely.box(0, 0, 1000, 1000)
    xy = np.array([[25.0, 525.0]])  # a cell centre on the western edge
    plain = kde_surface(xy, bandwidth_m=200, cell_size_m=50, extent=area, snap_spacing_m=1)
    fixed = kde_surface(
        xy, bandwidth_m=200, cell_size_m=50, extent=area, edge_correction=True, snap_spacing_m=1
    )
    xs, ys = centres(plain.grid)
    row, col = int(np.argmin(np.abs(ys - 525))), int(np.argmin(np.abs(xs - 25)))
    offsets = np.arange(-5, 6) * 50.0
    stencil = quartic(offsets[None, :], offsets[:, None], 200)
    inside = stencil[:, 5:].sum() / stencil.sum()  # columns west of the area are outside
    assert fixed.edge_corrected and not plain.edge_corrected
    assert fixed.values[row, col] == pytest.approx(plain.values[row, col] / inside, rel=1e-9)
    assert plain.values[row, col] == pytest.approx(3 / (math.pi * 200**2) * 1e6, rel=1e-9)


# --------------------------------------------------------------------------- inputs


def test_geographic_crs_is_refused():
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy([-1.13], [52.63]), crs=4326)
    with pytest.raises(CRSError, match="to_crs"):
        kde_surface(pts, bandwidth_m=200)


def test_geodataframe_equals_array():
    xy = clustered(300, seed=2, span=2000.0)
    gdf = gpd.GeoDataFrame(
        {"harm": np.arange(300.0) % 3}, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=27700
    )
    a = kde_surface(gdf, bandwidth_m=200, cell_size_m=50, weights="harm")
    b = kde_surface(xy, bandwidth_m=200, cell_size_m=50, weights=np.arange(300.0) % 3)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.total_weight == 300.0


@pytest.mark.parametrize("points", [np.empty((0, 2)), gpd.GeoDataFrame(geometry=[], crs=27700)])
def test_no_points_is_a_clear_error(points):
    with pytest.raises(InputError, match="no incidents"):
        kde_surface(points, bandwidth_m=200)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kernel": "epanechnikov"}, "kernel"),
        ({"bandwidth_m": -5}, "bandwidth_m"),
        ({"bandwidth_rule": "scott"}, "bandwidth_rule"),
        ({"weights": [1.0, -1.0]}, "weights"),
        ({"weights": [1.0]}, "one value per incident"),
        ({"weights": [0.0, 0.0]}, "weights sum to zero"),
        ({"weights": "harm"}, "weights='harm' is not a column"),
        ({"extent": "Leicester"}, "extent"),
    ],
)
def test_bad_options_name_the_argument(kwargs, match):
    with pytest.raises(InputError, match=match):
        kde_surface(np.array([[0.0, 0.0], [100.0, 50.0]]), **kwargs)


def test_non_finite_coordinates_are_refused():
    with pytest.raises(InputError, match="row 1"):
        kde_surface(np.array([[0.0, 0.0], [np.nan, 50.0]]), bandwidth_m=100)


def test_one_point():
    s = kde_surface(np.array([[1025.0, 2025.0]]), bandwidth_m=250, cell_size_m=50)
    assert s.n_points == 1 and s.total_weight == 1.0
    assert np.nanmax(s.values) == pytest.approx(3 / (math.pi * 250**2) * 1e6, rel=1e-9)
    assert np.nansum(s.per_cell) == pytest.approx(1.0, abs=1e-3)
    # No spread for a rule to measure: the automatic bandwidth is the cell size, said so.
    auto = kde_surface(np.array([[1025.0, 2025.0]]), cell_size_m=50)
    assert auto.bandwidth_m == 100.0 and auto.bandwidth_rule == "arcgis"
    assert any("one location" in w for w in auto.warnings)


def test_all_points_at_one_location():
    one = kde_surface(
        np.array([[500.0, 500.0]]), bandwidth_m=150, cell_size_m=50, kernel="gaussian"
    )
    many = kde_surface(np.full((7, 2), 500.0), bandwidth_m=150, cell_size_m=50, kernel="gaussian")
    np.testing.assert_allclose(many.values, 7 * one.values, rtol=1e-12, atol=1e-12)
    auto = kde_surface(np.full((7, 2), 500.0), bandwidth_rule="normal_reference", cell_size_m=50)
    assert auto.bandwidth_m == 100.0  # quartic radius floor: 2 cells
    assert np.nansum(auto.per_cell) == pytest.approx(7.0, rel=1e-3)  # centre sampling


def test_weights_scale_and_zero_weight_drops_a_point():
    xy = clustered(200, seed=4, span=2000.0)
    grid = make_grid((-500.0, -500.0, 2500.0, 2500.0), cell_size_m=50)
    base = kde_surface(xy, bandwidth_m=200, extent=grid, snap_spacing_m=1)
    double = kde_surface(
        xy, bandwidth_m=200, extent=grid, weights=np.full(200, 2.0), snap_spacing_m=1
    )
    np.testing.assert_allclose(double.values, 2 * base.values, rtol=1e-12, atol=1e-12)
    w = np.ones(200)
    w[0] = 0.0
    dropped = kde_surface(xy, bandwidth_m=200, extent=grid, weights=w, snap_spacing_m=1)
    rest = kde_surface(xy[1:], bandwidth_m=200, extent=grid, snap_spacing_m=1)
    np.testing.assert_allclose(dropped.values, rest.values, rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------- bandwidth rules

# A 600 x 800 m rectangle's corners and its centre: mean centre (300, 400), corners 500 m away.
RECT = np.array([[0.0, 0.0], [600.0, 0.0], [0.0, 800.0], [600.0, 800.0], [300.0, 400.0]])


def test_arcgis_rule_by_hand():
    # SD = sqrt(4 * 500² / 5); Dm = 500 and sqrt(1/ln 2) * 500 = 600.6 > SD; n = 5.
    assert bandwidth_arcgis(RECT) == pytest.approx(0.9 * math.sqrt(200_000) * 5**-0.2)
    # Weight 4 on the centre: SD = sqrt(4 * 500² / 8); weighted median = (0 + 500) / 2
    # (cumulative weight hits half exactly); sqrt(1/ln 2) * 250 < SD; n = sum of weights.
    w = [1, 1, 1, 1, 4]
    expected = 0.9 * math.sqrt(1 / math.log(2)) * 250 * 8**-0.2
    assert bandwidth_arcgis(RECT, w) == pytest.approx(expected)
    assert bandwidth_arcgis(RECT, kernel="gaussian") == pytest.approx(
        0.9 * math.sqrt(200_000) * 5**-0.2 / QUARTIC_PER_GAUSSIAN
    )


def test_normal_reference_rule_by_hand_uses_both_axes():
    # var_x = 4 * 300² / 5 = 72,000; var_y = 4 * 400² / 5 = 128,000; sigma = sqrt(100,000).
    h = math.sqrt(100_000) * 5 ** (-1 / 6)
    assert bandwidth_normal_reference(RECT, kernel="gaussian") == pytest.approx(h)
    assert bandwidth_normal_reference(RECT) == pytest.approx(h * 2.7791932, rel=1e-6)
    # Weighted: var_x = 4 * 300² / 8, var_y = 4 * 400² / 8 -> sigma 250; n_eff = 8² / 20.
    w = np.array([1, 1, 1, 1, 4.0])
    h_w = 250 * 3.2 ** (-1 / 6)
    assert bandwidth_normal_reference(RECT, w, kernel="gaussian") == pytest.approx(h_w)
    assert bandwidth_normal_reference(RECT, 10 * w, kernel="gaussian") == pytest.approx(h_w)
    stretched = RECT * [1.0, 3.0]  # sfhotspot's fault was to look at x only
    assert bandwidth_normal_reference(stretched) > 2 * bandwidth_normal_reference(RECT)


def exact_lcv(xy, sigma, sigma_max):
    """Leave-one-location-out log-likelihood of the Gaussian KDE on raw points, floored at
    the uniform density over the bounding box grown by 4 * sigma_max on each side."""
    dx = xy[:, None, 0] - xy[None, :, 0]
    dy = xy[:, None, 1] - xy[None, :, 1]
    same = (dx == 0) & (dy == 0)
    k = np.where(same, 0.0, gauss_axis(dx, sigma) * gauss_axis(dy, sigma))
    others = k.sum(axis=1) / (len(xy) - same.sum(axis=1))
    width, height = np.ptp(xy, axis=0) + 8 * sigma_max
    return float(np.mean(np.log(np.maximum(others, 1 / (width * height)))))


def test_lcv_rule_matches_exact_cross_validation():
    rng = np.random.default_rng(7)
    xy = np.concatenate([c + rng.normal(0, 40, (8, 2)) for c in ([0, 0], [400, 100], [150, 500])])
    xy = np.concatenate([xy, [[3000.0, 3000.0]]])  # an outlier: floored, it cannot dominate
    gaps = np.hypot(*(xy[:, None] - xy[None, :]).transpose(2, 0, 1))
    assert gaps[np.triu_indices(len(xy), 1)].min() > 5  # no two share a 3.3 m lattice cell
    candidates = [10.0, 20.0, 40.0, 80.0, 160.0, 320.0]
    scores = [exact_lcv(xy, s, 320.0) for s in candidates]
    top2 = sorted(scores)[-2:]
    assert top2[1] - top2[0] > 0.05  # a clear winner, so binning cannot flip it
    best = candidates[int(np.argmax(scores))]
    assert best < 320.0
    assert bandwidth_lcv(xy, kernel="gaussian", candidates_m=candidates) == best
    radii = [c * QUARTIC_PER_GAUSSIAN for c in candidates]
    assert bandwidth_lcv(xy, candidates_m=radii) == pytest.approx(best * QUARTIC_PER_GAUSSIAN)


def test_lcv_is_not_fooled_by_repeated_locations():
    xy = clustered(600, seed=12, span=4_000.0)
    once = bandwidth_lcv(xy)
    assert bandwidth_lcv(xy, np.full(600, 3.0)) == pytest.approx(once, rel=1e-9)
    candidates = np.geomspace(20.0, 2000.0, 15)
    assert bandwidth_lcv(np.repeat(xy, 3, axis=0), candidates_m=candidates) == bandwidth_lcv(
        xy, candidates_m=candidates
    )


def test_lcv_default_search_finds_a_local_maximum():
    xy = clustered(1_000, seed=8, span=3_000.0)
    sigma = bandwidth_lcv(xy, kernel="gaussian")
    top = 1.5 * bandwidth_normal_reference(xy, kernel="gaussian")
    here = exact_lcv(xy, sigma, top)
    assert top / 100 < sigma < top
    assert here >= exact_lcv(xy, sigma * 0.8, top) and here >= exact_lcv(xy, sigma * 1.25, top)


def test_lcv_needs_spread_at_the_candidate_scale():
    with pytest.raises(InputError, match="one 0.3 m LCV lattice cell"):
        bandwidth_lcv(
            np.array([[0.1, 0.1], [0.11, 0.11]]), kernel="gaussian", candidates_m=[1.0, 2.0]
        )


def test_rules_are_reported_and_logged(caplog):
    xy = clustered(400, seed=9, span=3_000.0)
    with caplog.at_level(logging.INFO, logger="hotspots.density"):
        s = kde_surface(xy, bandwidth_rule="normal_reference", cell_size_m=50)
    assert s.bandwidth_m == pytest.approx(bandwidth_normal_reference(xy))
    assert "Bandwidth set to" in caplog.text and "normal_reference" in caplog.text
    p = s.params()
    assert p["bandwidth_auto"] and p["bandwidth_rule"] == "normal_reference"
    assert not p["cell_size_auto"] and p["units"] == "incidents per km2"
    json.dumps(p)


def test_warns_when_bandwidth_is_finer_than_cells_or_snap_points(caplog):
    lattice = np.stack(np.meshgrid(np.arange(20) * 100.0, np.arange(20) * 100.0), -1)
    xy = np.repeat(lattice.reshape(-1, 2), 3, axis=0)  # police.uk-like repeated snap points
    assert location_spacing_m(xy) == pytest.approx(100.0)
    with caplog.at_level(logging.WARNING, logger="hotspots.density"):
        s = kde_surface(xy, bandwidth_m=40, cell_size_m=50)
    assert len(s.warnings) == 2
    assert "below the cell size" in s.warnings[0] and "(100 m)" in s.warnings[1]
    assert "snap points" in caplog.text
    assert kde_surface(xy, bandwidth_m=150, cell_size_m=50).warnings == ()


# --------------------------------------------------------------------------- dual KDE


def test_relative_surface_ratio_difference_and_guards():
    xy = clustered(300, seed=10, span=2_000.0)
    grid = make_grid((-400.0, -400.0, 2400.0, 2400.0), cell_size_m=50)
    a = kde_surface(xy, bandwidth_m=200, extent=grid, weights=np.full(300, 3.0), snap_spacing_m=1)
    b = kde_surface(xy, bandwidth_m=200, extent=grid, snap_spacing_m=1)
    ratio = relative_surface(a, b)
    kept = b.values > 0.01 * np.nanmax(b.values)
    np.testing.assert_allclose(ratio.values[kept], 3.0, rtol=1e-9)
    assert np.isnan(ratio.values[~kept]).all()
    assert ratio.min_denominator == pytest.approx(0.01 * np.nanmax(b.values))
    assert ratio.params()["min_denominator_rule"] == "1% of maximum"
    fixed = relative_surface(a, b, min_denominator=5.0)
    assert (fixed.min_denominator, fixed.min_denominator_rule) == (5.0, "explicit")
    same = relative_surface(a, b, normalise=True)
    np.testing.assert_allclose(same.values[kept], 1.0, rtol=1e-9)
    diff = relative_surface(a, b, how="difference")
    np.testing.assert_allclose(diff.values, 2 * b.values, rtol=1e-9, atol=1e-9)
    assert diff.units == "incidents per km2" and ratio.units == "ratio"
    assert diff.min_denominator is None and diff.min_denominator_rule is None
    assert ratio.grid.mask is None  # neither input had a study-area mask
    json.dumps(ratio.params())


def test_relative_surface_needs_the_same_grid():
    xy = np.array([[500.0, 500.0], [600.0, 550.0]])
    a = kde_surface(xy, bandwidth_m=200, cell_size_m=50)
    b = kde_surface(xy, bandwidth_m=200, cell_size_m=25)
    with pytest.raises(InputError, match="extent=numerator.grid"):
        relative_surface(a, b)
    c = kde_surface(xy[:1], bandwidth_m=300, extent=a.grid)
    assert "smoothed differently" in relative_surface(a, c).warnings[0]


# --------------------------------------------------------------------------- GeoTIFF


def test_geotiff_round_trip(tmp_path):
    area = shapely.Point(1000, 1000).buffer(700)
    xy = clustered(200, seed=11, span=2000.0)
    s = kde_surface(xy, bandwidth_m=250, cell_size_m=50, extent=area, snap_spacing_m=1)
    assert isinstance(s, DensitySurface)
    path = tmp_path / "out" / "density.tif"
    s.to_geotiff(path)
    row, col = np.unravel_index(np.nanargmax(s.values), s.values.shape)
    with rasterio.open(path) as src:
        band = src.read(1)
        assert src.crs.to_epsg() == 27700
        assert src.transform == s.transform
        assert src.nodata == -9999.0 and src.dtypes[0] == "float32"
        assert src.compression.name.lower() == "deflate"
        assert band[row, col] == pytest.approx(s.values[row, col], rel=1e-6)
        assert (band[~s.grid.mask] == -9999.0).all()
        assert src.descriptions[0].startswith("quartic kernel density")
        assert float(src.tags()["bandwidth_m"]) == 250.0
        assert json.loads(src.tags()["grid"])["nrows"] == s.grid.nrows
    assert sorted(p.name for p in path.parent.iterdir()) == ["density.tif"]
