"""The vectorised per-area statistics give the results of the per-area code they replaced.

The reference implementations below are the loops the package used before issue #21 (one
``pymannkendall`` call, one ``minimize_scalar`` and one ``profile_p`` per group), kept
here verbatim as the reference. Statistics must be equal exactly; p-values within 1e-12.
Timings are never asserted here (benchmarks/bench_run.py measures them).
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
import pandas as pd
import pymannkendall as mk
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp
from scipy.stats import chi2

from hotspots.io import embedded_police_uk
from hotspots.seasonal import monthly_series, seasonal_profiles, trend_tests
from hotspots.seasonal._flatness import (
    MC_DRAWS,
    MIN_EXPECTED,
    profile_p_many,
    trend_adjusted_seasonal_p_many,
)
from hotspots.seasonal._mannkendall import mann_kendall, seasonal_mann_kendall
from hotspots.seasonal._months import prepare
from hotspots.seasonal._profiles import _shape_columns
from hotspots.seasonal._seasons import SEASON_OF_MONTH, SEASONS
from hotspots.seasonal._trend import MIN_MONTHS, MIN_MONTHS_SEASONAL, _test_all

P_TOL = 1e-12

# ---------------------------------------------------------------- the reference (old code)


def ref_profile_p(observed, weights, *, seed, fitted=0):
    use = weights > 0
    obs = observed[use].astype(float)
    total = obs.sum()
    dof = int(use.sum()) - 1 - fitted
    if total == 0 or dof < 1:
        return 1.0
    probs = weights[use] / weights[use].sum()
    expected = total * probs
    stat = float(((obs - expected) ** 2 / expected).sum())
    if expected.min() >= MIN_EXPECTED:
        return float(chi2.sf(stat, df=dof))
    sim = ref_null_statistics(int(total), tuple(probs.tolist()), seed)
    exceed = MC_DRAWS - int(np.searchsorted(sim, stat * (1 - 1e-9), side="left"))
    return (1 + exceed) / (MC_DRAWS + 1)


@lru_cache(maxsize=128)
def ref_null_statistics(total, probs, seed):
    p = np.asarray(probs)
    expected = total * p
    draws = np.random.default_rng(seed).multinomial(total, p, size=MC_DRAWS)
    return np.sort(((draws - expected) ** 2 / expected).sum(axis=1))


def ref_trend_adjusted_seasonal_p(y, month_of_year, *, seed):
    seen = np.isfinite(y)
    counts = y[seen]
    total = counts.sum()
    if total == 0:
        return 1.0
    t = np.flatnonzero(seen) / 12.0
    t = t - t.mean()
    slope = minimize_scalar(
        lambda b: total * logsumexp(b * t) - b * (counts * t).sum(),
        bounds=(-5.0, 5.0),
        method="bounded",
    ).x
    rate = np.exp(slope * t - (slope * t).max())
    moy = month_of_year[seen]
    observed = np.bincount(moy, weights=counts, minlength=12)
    weights = np.bincount(moy, weights=rate, minlength=12)
    return ref_profile_p(observed, weights, seed=seed, fitted=1)


def ref_test_one(y, moy, alpha, seasonal_adjust, seed):
    n = int(np.isfinite(y).sum())
    if n < MIN_MONTHS:
        return np.nan, np.nan, np.nan, np.nan, "not_tested"
    seasonal_p = np.nan
    if n >= MIN_MONTHS_SEASONAL:
        seasonal_p = ref_trend_adjusted_seasonal_p(y, moy, seed=seed)
    seasonal = n >= MIN_MONTHS_SEASONAL and (
        seasonal_adjust is True or (seasonal_adjust == "auto" and seasonal_p < alpha)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if seasonal:
            res = mk.seasonal_test(y, period=12)
            return seasonal_p, res.z, res.slope, res.p, "seasonal_mann_kendall"
        res = mk.original_test(y)
        return seasonal_p, res.z, res.slope * 12, res.p, "mann_kendall"


def ref_shape_columns(means, incidents):
    n = len(means)
    out = {
        "peak_month": np.zeros(n, np.int64),
        "peak_season": np.full(n, "", dtype=object),
        "seasonal_index_peak": np.full(n, np.nan),
        "top3_share": np.full(n, np.nan),
        "amplitude": np.full(n, np.nan),
    }
    for i in np.flatnonzero(incidents > 0):
        row = means[i]
        covered = ~np.isnan(row)
        vals = row[covered]
        avg = vals.mean()
        out["peak_month"][i] = int(np.nanargmax(row)) + 1
        season_means = [
            np.nanmean(row[in_s]) if covered[in_s].any() else -np.inf
            for in_s in (SEASON_OF_MONTH == s for s in range(4))
        ]
        out["peak_season"][i] = SEASONS[int(np.argmax(season_means))]
        out["seasonal_index_peak"][i] = vals.max() / avg
        out["top3_share"][i] = np.sort(vals)[-3:].sum() / vals.sum()
        out["amplitude"][i] = (vals.max() - vals.min()) / avg
    return out


# ---------------------------------------------------------------- data


def random_series(rng, groups, months, *, gaps="common", scale=None):
    """Poisson monthly counts (many ties, some zero rows) with NaN gap months."""
    scale = rng.gamma(0.7, 6.0, groups) if scale is None else np.full(groups, scale)
    t = np.arange(months)
    trend = np.exp(rng.normal(0, 0.4, groups)[:, None] * t / 12)
    season = 1 + rng.uniform(0, 0.6, groups)[:, None] * np.cos(2 * np.pi * (t - 6) / 12)
    y = rng.poisson(scale[:, None] * trend * season).astype(float)
    if gaps == "common":
        y[:, rng.random(months) < 0.12] = np.nan
    elif gaps == "per_row":
        y[rng.random(y.shape) < 0.1] = np.nan
    return y


@pytest.fixture(scope="module")
def real_incidents() -> pd.DataFrame:
    """Every embedded police.uk row: month, LSOA and crime type (read directly, fast)."""
    files = sorted(embedded_police_uk().glob("*.csv.gz"))
    if not files:
        pytest.skip("embedded police.uk data not found")
    frames = [
        pd.read_csv(f, usecols=["Month", "LSOA code", "Crime type"], dtype=str) for f in files
    ]
    rows = pd.concat(frames, ignore_index=True).dropna()
    return pd.DataFrame(
        {
            "when": pd.to_datetime(rows["Month"], format="%Y-%m"),
            "precision": "month",
            "lsoa": rows["LSOA code"].to_numpy(),
            "category": rows["Crime type"].to_numpy(),
        }
    )


def assert_mk_equal(res, refs, *, scale=1.0):
    assert res.s.tolist() == [float(r.s) for r in refs]
    assert res.var_s.tolist() == [float(r.var_s) for r in refs]
    np.testing.assert_array_equal(res.z, [float(r.z) for r in refs])
    np.testing.assert_array_equal(res.slope * scale, [r.slope * scale for r in refs])
    np.testing.assert_allclose(res.p, [r.p for r in refs], rtol=0, atol=P_TOL)


# ---------------------------------------------------------------- Mann–Kendall and Sen


@pytest.mark.parametrize("months", [6, 7, 13, 24, 37, 51, 73])
@pytest.mark.parametrize("gaps", ["none", "common", "per_row"])
def test_mann_kendall_matches_pymannkendall_on_random_series(months, gaps):
    rng = np.random.default_rng(months)
    y = random_series(rng, 60, months, gaps=gaps)
    y[0] = 3.0  # all tied
    y[1] = np.arange(months, dtype=float)  # no ties
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        refs = [mk.original_test(row) for row in y]
    assert_mk_equal(mann_kendall(y), refs)


@pytest.mark.parametrize("months", [24, 30, 36, 51, 73, 100])
@pytest.mark.parametrize("gaps", ["none", "common", "per_row"])
def test_seasonal_mann_kendall_matches_pymannkendall_on_random_series(months, gaps):
    rng = np.random.default_rng(100 + months)
    y = random_series(rng, 40, months, gaps=gaps)
    y[0] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        refs = [mk.seasonal_test(row, period=12) for row in y]
    assert_mk_equal(seasonal_mann_kendall(y), refs)


def test_mann_kendall_on_continuous_values():
    rng = np.random.default_rng(7)
    y = rng.normal(size=(30, 40)) * 1e3
    y[:, 5] = np.nan
    assert_mk_equal(mann_kendall(y), [mk.original_test(row) for row in y])
    assert_mk_equal(seasonal_mann_kendall(y), [mk.seasonal_test(row) for row in y])


# ---------------------------------------------------------------- flatness tests


@pytest.mark.parametrize("scale", [0.3, 2.0, 8.0, 40.0])
def test_profile_p_many_matches_the_per_row_test(scale):
    rng = np.random.default_rng(int(scale * 10))
    counts = rng.poisson(scale * rng.uniform(0.5, 1.5, (50, 12)))
    counts[0] = 0
    exposure = rng.integers(0, 6, 12).astype(float)
    got = profile_p_many(counts, exposure, seed=3)
    ref = [ref_profile_p(row, exposure, seed=3) for row in counts]
    np.testing.assert_allclose(got, ref, rtol=0, atol=P_TOL)
    per_row = rng.uniform(0, 2, (50, 12))
    per_row[per_row < 0.2] = 0.0  # different zero patterns per row
    got = profile_p_many(counts, per_row, seed=3, fitted=1)
    ref = [ref_profile_p(row, w, seed=3, fitted=1) for row, w in zip(counts, per_row, strict=True)]
    np.testing.assert_allclose(got, ref, rtol=0, atol=P_TOL)


@pytest.mark.parametrize("months", [24, 35, 51, 73, 120])
@pytest.mark.parametrize("gaps", ["common", "per_row"])
def test_trend_adjusted_seasonal_p_matches_minimize_scalar(months, gaps):
    rng = np.random.default_rng(1000 + months)
    y = random_series(rng, 80, months, gaps=gaps)
    y[0] = 0.0
    y[1] = np.where(np.isnan(y[1]), np.nan, 1e4 * np.exp(np.arange(months) * 0.4))  # at a bound
    moy = np.arange(months) % 12
    got = trend_adjusted_seasonal_p_many(y, moy, seed=0)
    ref = [ref_trend_adjusted_seasonal_p(row, moy, seed=0) for row in y]
    np.testing.assert_allclose(got, ref, rtol=0, atol=P_TOL)


# ---------------------------------------------------------------- whole tables, real data


def ref_trend_stats(series, moy, alpha=0.05, seasonal_adjust="auto", seed=0):
    return pd.DataFrame(
        [ref_test_one(y, moy, alpha, seasonal_adjust, seed) for y in series],
        columns=["seasonal_p", "z", "trend_slope_per_year", "trend_p", "trend_test"],
    )


def assert_stats_equal(got, ref):
    assert got["trend_test"].tolist() == ref["trend_test"].tolist()
    for col in ("z", "trend_slope_per_year"):
        np.testing.assert_array_equal(got[col].to_numpy(float), ref[col].to_numpy(float))
    for col in ("seasonal_p", "trend_p"):
        np.testing.assert_allclose(
            got[col].to_numpy(float), ref[col].to_numpy(float), rtol=0, atol=P_TOL
        )


@pytest.mark.parametrize("seasonal_adjust", ["auto", True, False])
def test_trend_statistics_on_random_groups(seasonal_adjust):
    rng = np.random.default_rng(11)
    series = random_series(rng, 150, 51)
    moy = (np.arange(51) + 11) % 12
    got = _test_all(series, moy, 0.05, seasonal_adjust, 0)
    assert_stats_equal(got, ref_trend_stats(series, moy, seasonal_adjust=seasonal_adjust))


@pytest.mark.parametrize("by", ["lsoa", ["category", "lsoa"]])
def test_trend_and_profile_statistics_on_the_embedded_data(real_incidents, by):
    inc = real_incidents
    if by != "lsoa":  # two categories: ~1,500 groups, many small
        inc = inc[inc["category"].isin(["Burglary", "Anti-social behaviour"])]
    prep = prepare(inc, by, None, real_incidents["when"])
    series, moy = prep.counts(), prep.month_of_year()
    assert_stats_equal(_test_all(series, moy, 0.05, "auto", 0), ref_trend_stats(series, moy))

    counts = np.zeros((prep.n_groups, 12))
    np.add.at(counts, (prep.code, moy[prep.offset]), 1)
    exposure = prep.exposure().astype(float)
    np.testing.assert_allclose(
        profile_p_many(counts, exposure, seed=0),
        [ref_profile_p(row, exposure, seed=0) for row in counts],
        rtol=0,
        atol=P_TOL,
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(exposure > 0, counts / exposure, np.nan)
    incidents = counts.sum(axis=1)
    got, ref = _shape_columns(means, incidents), ref_shape_columns(means, incidents)
    for name in ref:
        np.testing.assert_array_equal(got[name], ref[name])


def test_public_tables_on_the_embedded_data(real_incidents):
    """trend_tests and seasonal_profiles end to end against the reference statistics."""
    inc = real_incidents
    table = trend_tests(inc, by="lsoa")
    series = monthly_series(inc, by="lsoa").to_numpy(float)
    moy = prepare(inc, "lsoa").month_of_year()
    ref = ref_trend_stats(series, moy)
    np.testing.assert_array_equal(table["trend_slope_per_year"], ref["trend_slope_per_year"])
    np.testing.assert_allclose(table["trend_p"], ref["trend_p"], rtol=0, atol=P_TOL)
    assert table["trend_test"].tolist() == ref["trend_test"].tolist()
    prof = seasonal_profiles(inc, by="lsoa")
    assert prof["peak_month"].between(1, 12).all()
    assert len(prof) == len(table)


# ---------------------------------------------------------------- the snap-spacing check


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("bandwidth_m", [5.0, 40.0, 120.0, 250.0, 600.0])
def test_quick_spacing_test_never_skips_a_warning(seed, bandwidth_m):
    """When the quick grid test skips the spacing, the exact spacing is within the bandwidth."""
    from hotspots.density import location_spacing_m
    from hotspots.density._bandwidth import may_be_finer_than_locations

    rng = np.random.default_rng(seed)
    n = 60_000
    span = [2_000.0, 20_000.0, 60_000.0, 200_000.0][seed]
    snap = rng.uniform(0, span, (rng.integers(2_000, 40_000), 2))  # police.uk-like snap points
    xy = snap[rng.integers(0, len(snap), n)]
    if seed % 2:
        xy[: n // 5] = rng.uniform(0, span, (n // 5, 2))
    if not may_be_finer_than_locations(xy, bandwidth_m):
        assert location_spacing_m(xy) <= bandwidth_m
