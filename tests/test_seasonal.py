"""Tests for hotspots.seasonal: profiles, significance, trends, emerging classes, change."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pymannkendall as mk
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from hotspots.schema import InputError
from hotspots.seasonal import (
    CLASSES,
    HOUR_COLUMNS,
    MONTH_ABBREVIATIONS,
    MONTH_COLUMNS,
    SEASON_MONTHS,
    SEASONS,
    decompose,
    emerging_classes,
    monthly_series,
    period_change,
    season_label,
    season_of,
    seasonal_profiles,
    sparkline_svg,
    trend_tests,
    trending_up,
    trending_up_rows,
)
from hotspots.seasonal._profiles import SEASON_OF_MONTH

REAL = Path("/work/shared/data/police-uk-street-leicestershire-2024-2025")


def incidents_from_counts(counts: np.ndarray, start: str, groups=None, by="beat") -> pd.DataFrame:
    """Month-precision incidents from a (groups × months) matrix of counts."""
    counts = np.atleast_2d(np.asarray(counts, dtype=int))
    months = pd.date_range(start, periods=counts.shape[1], freq="MS")
    groups = groups if groups is not None else [f"g{i:03d}" for i in range(len(counts))]
    g_idx, m_idx = np.nonzero(counts)
    reps = counts[g_idx, m_idx]
    return pd.DataFrame(
        {
            "when": months[np.repeat(m_idx, reps)],
            "precision": "month",
            "category": "Anti-social behaviour",
            by: np.repeat(np.asarray(groups, dtype=object)[g_idx], reps),
        }
    )


def bh_reference(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values, written out from the 1995 step-up rule."""
    m = len(p)
    order = np.argsort(p)
    q = np.empty(m)
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p[i] * m / rank)
        q[i] = running
    return q


# --------------------------------------------------------------------------- profiles


def test_known_july_peak_and_exact_means():
    rng = np.random.default_rng(1)
    month_of_year = np.tile(np.arange(1, 13), 3)
    rate = 30 + 40 * np.exp(-((month_of_year - 7) ** 2) / 2)  # July 70, Jun/Aug 54, else ~30
    counts = rng.poisson(rate)
    inc = incidents_from_counts(counts, "2022-01-01")
    row = seasonal_profiles(inc, by="beat").iloc[0]
    assert row["peak_month"] == 7
    assert row["peak_season"] == "summer"
    assert row["seasonal_p"] < 1e-6
    expected = counts.reshape(3, 12).mean(axis=0)
    np.testing.assert_allclose(row[list(MONTH_COLUMNS)].to_numpy(float), expected)
    assert row["incidents"] == counts.sum()
    assert row["months_covered"] == 36 and row["years_covered"] == 3.0
    assert row["seasonal_index_peak"] == pytest.approx(expected.max() / expected.mean())
    assert row["top3_share"] == pytest.approx(np.sort(expected)[-3:].sum() / expected.sum())
    assert row["amplitude"] == pytest.approx((expected.max() - expected.min()) / expected.mean())


def test_partial_year_does_not_fake_a_peak():
    # 18 months Jan 2024..Jun 2025 at a flat 10 a month: raw counts are 20 in Jan-Jun and
    # 10 in Jul-Dec, but the mean per year is 10 everywhere.
    inc = incidents_from_counts(np.full(18, 10), "2024-01-01")
    row = seasonal_profiles(inc, by="beat").iloc[0]
    np.testing.assert_array_equal(row[list(MONTH_COLUMNS)].to_numpy(float), np.full(12, 10.0))
    assert row["seasonal_p"] == pytest.approx(1.0)
    assert row["amplitude"] == 0.0 and row["seasonal_index_peak"] == 1.0
    # A real second-half peak is still found although that half is covered only once.
    counts = np.full(18, 10)
    counts[6] = 40  # July 2024
    peak = seasonal_profiles(incidents_from_counts(counts, "2024-01-01"), by="beat").iloc[0]
    assert peak["peak_month"] == 7 and peak["m07"] == 40.0 and peak["m01"] == 10.0


@pytest.mark.parametrize("rate", [40, 1])
def test_flat_profiles_are_not_significant_across_seeds(rate):
    # 200 independent flat Poisson groups over a partial span (18 months): the exposure-
    # adjusted p-value is roughly uniform, so about 5% fall below 0.05 (chi-square path for
    # rate 40, Monte-Carlo path for rate 1).
    counts = np.random.default_rng(rate).poisson(rate, size=(200, 18))
    prof = seasonal_profiles(incidents_from_counts(counts, "2024-01-01"), by="beat")
    p = prof["seasonal_p"].to_numpy()
    assert 0.01 <= np.mean(p < 0.05) <= 0.10
    assert 0.4 <= np.median(p) <= 0.6


def test_seasonal_p_matches_scipy_chisquare_with_exposure():
    counts = np.random.default_rng(3).poisson(30, size=20)  # Jan 2024 .. Aug 2025
    row = seasonal_profiles(incidents_from_counts(counts, "2024-01-01"), by="beat").iloc[0]
    observed = np.bincount(np.arange(20) % 12, weights=counts, minlength=12)
    exposure = np.bincount(np.arange(20) % 12, minlength=12)
    expected = counts.sum() * exposure / exposure.sum()
    assert row["seasonal_p"] == pytest.approx(stats.chisquare(observed, expected).pvalue)


def test_small_count_p_agrees_with_exact_enumeration():
    # 3 incidents in Jan, Jan and Feb over one year: exact p by enumerating all 12^3
    # equally likely placements under H0.
    inc = incidents_from_counts(np.r_[2, 1, np.zeros(10, int)], "2025-01-01")
    inc = pd.concat(
        [inc, incidents_from_counts([np.r_[np.zeros(11, int), 1]], "2025-01-01", groups=["other"])]
    )
    year = pd.date_range("2025-01-01", periods=12, freq="MS")
    prof = seasonal_profiles(inc, by="beat", months_with_data=year)
    p = prof.set_index("beat").loc["g000", "seasonal_p"]

    def x2(c):
        e = 3 / 12
        return ((np.bincount(c, minlength=12) - e) ** 2 / e).sum()

    observed = x2([0, 0, 1])
    exact = np.mean([x2(c) >= observed - 1e-9 for c in itertools.product(range(12), repeat=3)])
    assert p == pytest.approx(exact, abs=0.01)
    assert p > 0.05


def test_groups_with_zero_one_and_few_incidents():
    counts = np.zeros((3, 24), int)
    counts[1, 5] = 1
    counts[2, [1, 8, 14]] = 1
    inc = incidents_from_counts(counts[1:], "2024-01-01", groups=["one", "few"])
    # "none" has its only incident outside the requested period.
    inc = pd.concat([inc, incidents_from_counts([[1]], "2023-01-01", groups=["none"])])
    prof = seasonal_profiles(inc, by="beat", period=("2024-01-01", "2025-12-31"))
    prof = prof.set_index("beat")
    assert list(prof.index) == ["few", "none", "one"]
    # No incidents, no peak month: missing, not a placeholder month 0.
    assert prof.loc["none", "incidents"] == 0 and pd.isna(prof.loc["none", "peak_month"])
    assert prof["peak_month"].dtype == "Int64"
    assert prof.loc[["few", "one"], "peak_month"].tolist() == [2, 6]
    csv = prof[["incidents", "peak_month"]].to_csv(index=False, float_format="%.6g")
    assert csv.split() == ["incidents,peak_month", "3,2", "0,", "1,6"]  # empty when missing
    assert prof.loc["none", "peak_season"] == "" and prof.loc["none", "seasonal_p"] == 1.0
    assert np.isnan(prof.loc["none", "seasonal_index_peak"])
    assert prof.loc["one", "seasonal_p"] == 1.0
    assert prof.loc["few", "seasonal_p"] > 0.5


def test_dow_and_hour_only_from_precise_rows():
    inc = pd.DataFrame(
        {
            "when": pd.to_datetime(
                [
                    "2025-03-01",
                    "2025-03-01",  # month precision: no day, no hour
                    "2025-03-03",
                    "2025-03-04",  # day precision: Mon, Tue
                    "2025-03-08 23:40",
                    "2025-03-09 00:05",  # minute: Sat 23h, Sun 00h
                    "2025-04-01",
                    "2025-04-01",
                ],
                format="ISO8601",
            ),
            "precision": ["month", "month", "day", "day", "minute", "minute", "month", "month"],
            "beat": ["A"] * 6 + ["B"] * 2,
        }
    )
    prof = seasonal_profiles(inc, by="beat").set_index("beat")
    a, b = prof.loc["A"], prof.loc["B"]
    assert a["incidents"] == 6 and a["dow_rows"] == 4 and a["hour_rows"] == 2
    assert [a[f"d{d}"] for d in range(1, 8)] == [1, 1, 0, 0, 0, 1, 1]
    assert a["h23"] == 1 and a["h00"] == 1 and a[list(HOUR_COLUMNS)].sum() == 2
    assert b["dow_rows"] == 0 and b["hour_rows"] == 0
    assert b[[f"d{d}" for d in range(1, 8)] + list(HOUR_COLUMNS)].isna().all()


def test_missing_months_are_gaps_not_zeros():
    # Like the real 2024-25 folder: Jan-Apr 2024 and all of 2025, nothing May-Dec 2024.
    counts = np.r_[np.full(4, 10), np.zeros(8, int), np.full(12, 10)]
    inc = incidents_from_counts(counts, "2024-01-01")
    series = monthly_series(inc, by="beat")
    assert series.shape == (1, 24)
    assert series.iloc[0, 4:12].isna().all() and (series.iloc[0, :4] == 10).all()
    assert series.attrs["months_without_data"][0] == "2024-05"
    row = seasonal_profiles(inc, by="beat").iloc[0]
    assert row["months_covered"] == 16 and row["seasonal_p"] == pytest.approx(1.0)
    assert (row[list(MONTH_COLUMNS)] == 10).all()
    # Declaring the months as loaded turns them into real zeros (and a strong dip).
    loaded = pd.date_range("2024-01-01", periods=24, freq="MS")
    declared = monthly_series(inc, by="beat", months_with_data=loaded)
    assert (declared.iloc[0, 4:12] == 0).all()
    assert seasonal_profiles(inc, by="beat", months_with_data=loaded).iloc[0]["m07"] == 5.0
    with pytest.raises(InputError, match="not listed in months_with_data"):
        monthly_series(inc, by="beat", months_with_data=loaded[:3])


def test_zero_filled_quiet_months_and_multi_key_groups():
    inc = pd.DataFrame(
        {
            "when": pd.to_datetime(["2025-01-01", "2025-03-01", "2025-02-01", "2025-03-01"]),
            "beat": ["B", "B", "A", "A"],
            "category": ["x", "x", "y", "x"],
        }
    )
    series = monthly_series(inc, by=["beat", "category"])
    assert list(series.index) == [("A", "x"), ("A", "y"), ("B", "x")]
    np.testing.assert_array_equal(series.to_numpy(), [[0, 0, 1], [0, 1, 0], [1, 0, 1]])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 29), st.sampled_from("ABC")), min_size=1, max_size=60))
def test_totals_are_conserved(rows):
    months = pd.date_range("2023-01-01", periods=30, freq="MS")
    inc = pd.DataFrame(
        {"when": months[[m for m, _ in rows]], "precision": "month", "beat": [g for _, g in rows]}
    )
    truth = inc["beat"].value_counts().sort_index()
    series = monthly_series(inc, by="beat")
    np.testing.assert_array_equal(series.sum(axis=1).to_numpy(), truth.to_numpy())
    prof = seasonal_profiles(inc, by="beat")
    month_of_year = series.columns.month.to_numpy() - 1
    exposure = np.bincount(month_of_year[series.notna().any(axis=0).to_numpy()], minlength=12)
    rebuilt = np.nansum(prof[list(MONTH_COLUMNS)].to_numpy() * exposure, axis=1)
    np.testing.assert_allclose(rebuilt, truth.to_numpy())
    assert ((prof["seasonal_p"] > 0) & (prof["seasonal_p"] <= 1)).all()


def test_profiles_do_not_depend_on_row_order():
    counts = np.random.default_rng(5).poisson(3, size=(4, 14))
    inc = incidents_from_counts(counts, "2024-03-01")
    a = seasonal_profiles(inc, by="beat")
    b = seasonal_profiles(inc.sample(frac=1, random_state=2), by="beat")
    pd.testing.assert_frame_equal(a, b)


# --------------------------------------------------------------------------- trends


def test_known_upward_trend_detected_with_right_slope():
    rng = np.random.default_rng(11)
    t = np.arange(48)
    plain = rng.poisson(30 + 1.0 * t)  # 12 a year
    seasonal = rng.poisson(60 + 0.5 * t + 25 * np.cos(2 * np.pi * (t % 12 - 6) / 12))  # 6 a year
    falling = rng.poisson(90 - 1.5 * t)  # -18 a year
    inc = incidents_from_counts(
        np.vstack([plain, seasonal, falling]), "2021-01-01", groups=["plain", "seasonal", "falling"]
    )
    out = trend_tests(inc, by="beat").set_index("beat")
    assert out.loc["plain", "trend"] == "up"
    assert out.loc["plain", "trend_slope_per_year"] == pytest.approx(12, rel=0.15)
    assert out.loc["seasonal", "trend"] == "up"
    assert out.loc["seasonal", "trend_test"] == "seasonal_mann_kendall"
    assert out.loc["seasonal", "trend_slope_per_year"] == pytest.approx(6, rel=0.15)
    assert out.loc["falling", "trend"] == "down"
    assert out.loc["falling", "trend_slope_per_year"] == pytest.approx(-18, rel=0.15)


def test_flat_noise_gives_no_trend_after_fdr():
    flat = np.random.default_rng(21).poisson(30, size=(100, 36))
    out = trend_tests(incidents_from_counts(flat, "2022-01-01"), by="beat")
    # Some groups have a raw p below 0.05; none survives the Benjamini-Hochberg adjustment.
    assert (out["trend_p"] < 0.05).sum() >= 2
    assert (out["trend"] == "none").all()
    np.testing.assert_allclose(out["trend_q"], bh_reference(out["trend_p"].to_numpy()))


def test_fdr_across_groups_finds_the_real_trends():
    rng = np.random.default_rng(21)
    t = np.arange(36)
    counts = np.vstack([rng.poisson(30, size=(100, 36)), rng.poisson(30 + 1.2 * t, (10, 36))])
    groups = [f"flat{i:03d}" for i in range(100)] + [f"up{i:02d}" for i in range(10)]
    inc = incidents_from_counts(counts, "2022-01-01", groups=groups)
    out = trend_tests(inc, by="beat", seasonal_adjust=False)
    np.testing.assert_allclose(out["trend_q"], bh_reference(out["trend_p"].to_numpy()))
    found = out.loc[out["trend"] != "none", "beat"]
    assert set(groups[100:]) <= set(found)
    assert found.str.startswith("flat").mean() <= 0.2  # false discovery proportion
    # The 10 trending groups raise the BH thresholds: with alpha = 0.05 a flat group is
    # called only if its q is below 0.05, exactly as the reference adjustment says.
    assert set(found) == set(out.loc[bh_reference(out["trend_p"].to_numpy()) < 0.05, "beat"])
    ups = trending_up(inc, by="beat", seasonal_adjust=False)
    expected = out[out["trend"] == "up"].sort_values(
        "trend_slope_per_year", ascending=False, kind="stable"
    )
    assert ups["beat"].tolist() == expected["beat"].tolist()
    assert ups["trend_slope_per_year"].is_monotonic_decreasing


def test_too_few_months_are_not_tested():
    inc = incidents_from_counts([[1, 2, 3, 4, 5]], "2025-01-01")
    row = trend_tests(inc, by="beat").iloc[0]
    assert row["trend"] == "none" and row["trend_test"] == "not_tested"
    assert np.isnan(row["trend_p"]) and np.isnan(row["trend_q"]) and row["months_used"] == 5


def test_trend_skips_gap_months_and_uses_real_spacing():
    counts = np.r_[np.arange(4) + 5, np.zeros(8, int), np.arange(12) + 15]
    inc = incidents_from_counts(counts, "2024-01-01")
    row = trend_tests(inc, by="beat").iloc[0]
    y = counts.astype(float)
    y[4:12] = np.nan
    assert row["months_used"] == 16 and row["trend_test"] == "mann_kendall"
    assert row["trend_p"] == pytest.approx(mk.original_test(y[np.isfinite(y)]).p)
    # Sen's slope is 1 a month with the gap counted as elapsed time (12 a year); treating the
    # 16 observed months as consecutive would give a steeper slope.
    assert row["trend_slope_per_year"] == pytest.approx(12.0)


def test_seasonal_adjust_rule():
    rng = np.random.default_rng(8)
    t = np.arange(36)
    wave = rng.poisson(40 + 30 * np.cos(2 * np.pi * t / 12))
    flat = rng.poisson(40, size=36)
    rising = np.round(20 + 2.0 * t)  # a strong trend alone is not seasonality
    inc = incidents_from_counts(
        np.vstack([wave, flat, rising]), "2022-01-01", groups=["wave", "flat", "rising"]
    )
    auto = trend_tests(inc, by="beat").set_index("beat")
    assert auto["trend_test"].to_dict() == {
        "flat": "mann_kendall",
        "rising": "mann_kendall",
        "wave": "seasonal_mann_kendall",
    }
    assert auto.loc["wave", "seasonal_p_detrended"] < 1e-6
    assert auto.loc["rising", "seasonal_p_detrended"] > 0.5
    # The plain month-of-year test would have called the trend seasonal.
    assert seasonal_profiles(inc, by="beat").set_index("beat").loc["rising", "seasonal_p"] < 0.01
    always = trend_tests(inc, by="beat", seasonal_adjust=True)["trend_test"]
    assert (always == "seasonal_mann_kendall").all()
    never = trend_tests(inc, by="beat", seasonal_adjust=False)["trend_test"]
    assert (never == "mann_kendall").all()
    short = trend_tests(incidents_from_counts(wave[:18], "2022-01-01"), by="beat")
    assert short["trend_test"].iloc[0] == "mann_kendall"
    with pytest.raises(InputError, match="seasonal_adjust"):
        trend_tests(inc, by="beat", seasonal_adjust="yes")


# --------------------------------------------------------------------------- change


def test_period_change_matches_binomtest_and_fdr():
    rng = np.random.default_rng(4)
    counts = rng.poisson(5, size=(6, 9))
    counts[0, 3:] += 15  # a real rise in group 0
    inc = incidents_from_counts(counts, "2025-01-01")
    out = period_change(
        inc, by="beat", before=("2025-01-01", "2025-03-31"), after=("2025-04-01", "2025-09-30")
    )
    before = counts[:, :3].sum(axis=1)
    after = counts[:, 3:].sum(axis=1)
    p = [
        stats.binomtest(int(a), int(a + b), 6 / 9).pvalue
        for a, b in zip(after, before, strict=True)
    ]
    np.testing.assert_array_equal(out["before"], before)
    np.testing.assert_array_equal(out["after"], after)
    np.testing.assert_allclose(out["p"], p)
    np.testing.assert_allclose(out["q"], bh_reference(np.array(p)))
    np.testing.assert_array_equal(out["significant"], bh_reference(np.array(p)) < 0.05)
    assert out["significant"].iloc[0]
    np.testing.assert_allclose(out["change_pct"], 100 * (after - before) / before)
    np.testing.assert_allclose(out["rate_ratio"], (after / 6) / (before / 3))


def test_period_change_lengths_count_only_months_with_data():
    # Before Jan-Apr 2024 (4 months); after Jan-Dec 2024... with May-Dec missing it is 0
    # months, so use 2025: the gap between does not matter, only months with data.
    counts = np.r_[np.full(4, 10), np.zeros(8, int), np.full(12, 10)]
    inc = incidents_from_counts(counts, "2024-01-01")
    out = period_change(
        inc, by="beat", before=("2024-01-01", "2024-12-31"), after=("2025-01-01", "2025-12-31")
    ).iloc[0]
    assert (out["before"], out["after"]) == (40, 120)
    assert out["rate_ratio"] == pytest.approx(1.0)
    assert out["p"] == pytest.approx(stats.binomtest(120, 160, 12 / 16).pvalue)
    assert not out["significant"]
    with pytest.raises(InputError, match="overlap"):
        period_change(
            inc, by="beat", before=("2024-01-01", "2024-06-30"), after=("2024-06-01", "2024-12-31")
        )
    with pytest.raises(InputError, match="no months with data"):
        period_change(
            inc, by="beat", before=("2024-06-01", "2024-12-31"), after=("2025-01-01", "2025-12-31")
        )


# --------------------------------------------------------------------------- emerging


def test_emerging_classes_one_per_class():
    n = 10
    hot = np.zeros((n, 8), dtype=bool)
    counts = np.full((n, 8), 5.0)
    hot[-1, 0] = True  # new
    hot[-3:, 1] = True  # consecutive
    hot[:, 2] = True
    counts[:, 2] = np.arange(n) + 1.0  # intensifying
    hot[:, 3] = True
    counts[:, 3] = [5, 7, 5, 6, 7, 5, 6, 5, 7, 6]  # persistent (no trend)
    hot[:, 4] = True
    counts[:, 4] = 20.0 - np.arange(n)  # diminishing
    hot[[0, 3, 6, 9], 5] = True  # sporadic
    hot[:9, 6] = True  # historical (9 of 10, not last)
    cells = [
        "new",
        "consecutive",
        "intensifying",
        "persistent",
        "diminishing",
        "sporadic",
        "historical",
        "no pattern",
    ]
    frame = pd.DataFrame(counts, columns=cells)
    out = emerging_classes(frame, hot=hot)
    assert out["emerging_class"].tolist() == cells
    assert out["cell"].tolist() == cells
    assert set(out["emerging_class"]) <= set(CLASSES)
    assert out.loc[6, "hot_share"] == 0.9 and not out.loc[6, "final_hot"]
    assert out.loc[2, "trend_slope"] == pytest.approx(1.0)


def test_emerging_sporadic_when_final_not_hot_and_bad_hot():
    hot = np.array([[1], [0], [1], [0]], dtype=bool)
    assert emerging_classes(np.ones((4, 1)), hot=hot)["emerging_class"].iloc[0] == "sporadic"
    with pytest.raises(InputError, match="shape"):
        emerging_classes(np.ones((4, 2)), hot=hot)
    with pytest.raises(InputError, match="n_periods"):
        emerging_classes(np.ones((1, 2)))


def test_emerging_automatic_hot_is_top_share_of_cells():
    counts = np.array(
        [
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ],
        dtype=float,
    )
    out = emerging_classes(counts, top_share=0.2)
    # Top 2 of 10 cells per period (counts > 0 only): cells 8, 9 in period 0; 0, 1 in period
    # 1; none in period 2.
    np.testing.assert_array_equal(out["hot_periods"], [1, 1, 0, 0, 0, 0, 0, 0, 1, 1])
    assert (
        out["emerging_class"] == np.where(out["hot_periods"] > 0, "sporadic", "no pattern")
    ).all()


# --------------------------------------------------------------------------- small helpers


def test_season_of_every_month():
    assert [season_of(m) for m in range(1, 13)] == (
        ["winter"] * 2 + ["spring"] * 3 + ["summer"] * 3 + ["autumn"] * 3 + ["winter"]
    )
    for bad in (0, 13, 1.5, True):
        with pytest.raises(InputError):
            season_of(bad)


def test_seasons_are_defined_once():
    # Every month in exactly one season; the vectorised look-up agrees with the mapping.
    months = sorted(m for ms in SEASON_MONTHS.values() for m in ms)
    assert months == list(range(1, 13)) and SEASONS == tuple(SEASON_MONTHS)
    assert [SEASONS[i] for i in SEASON_OF_MONTH] == [season_of(m) for m in range(1, 13)]
    assert season_label("autumn") == "Autumn (Sep–Nov)"
    assert [m[0] for m in MONTH_ABBREVIATIONS] == list("JFMAMJJASOND")
    with pytest.raises(InputError, match="'Summer'"):
        season_label("Summer")


def test_trending_up_rows_breaks_ties_by_table_order():
    # Many equal slopes: the order is the table's (a stable sort), whatever their number.
    n = 40
    table = pd.DataFrame(
        {
            "beat": [f"b{i:02d}" for i in range(n)],
            "trend": ["up", "none"] * (n // 2),
            "trend_slope_per_year": np.repeat([1.0, 3.0], n // 2),
        }
    )
    up = trending_up_rows(table)
    assert up["beat"].tolist() == [f"b{i:02d}" for i in range(20, n, 2)] + [
        f"b{i:02d}" for i in range(0, 20, 2)
    ]
    assert up.index.tolist() == list(range(n // 2))
    with pytest.raises(InputError, match="trend_slope_per_year"):
        trending_up_rows(table.drop(columns="trend_slope_per_year"))


def test_decompose_recovers_trend_and_season():
    t = np.arange(48)
    pattern = np.array([5, 3, 1, -1, -3, -5, -5, -3, -1, 1, 3, 5], dtype=float)
    series = pd.Series(
        100 + 2.0 * t + pattern[t % 12], index=pd.date_range("2021-01-01", periods=48, freq="MS")
    )
    out = decompose(series)
    assert list(out.columns) == ["observed", "trend", "seasonal", "residual"]
    assert out["trend"].iloc[:6].isna().all() and out["trend"].iloc[-6:].isna().all()
    np.testing.assert_allclose(out["trend"].iloc[6:-6], (100 + 2.0 * t)[6:-6])
    np.testing.assert_allclose(out["seasonal"], pattern[t % 12])
    np.testing.assert_allclose(out["residual"].iloc[6:-6], 0, atol=1e-12)
    with pytest.raises(InputError, match="two periods"):
        decompose(series.iloc[:20])


def test_sparkline_is_deterministic_self_contained_and_escaped():
    values = [1 / 3, 2, 3, 4, 5, 6, 9, 7, np.nan, 3, 2, 0]
    svg = sparkline_svg(values)
    assert svg == sparkline_svg(list(values))
    root = ET.fromstring(svg)  # well-formed XML
    ns = "{http://www.w3.org/2000/svg}"
    rects = root.findall(f"{ns}rect")
    assert len(rects) == 11  # the NaN month has no bar
    assert [r.get("fill") for r in rects].count("#d9480f") == 1
    assert rects[6].get("fill") == "#d9480f"  # July, the peak
    assert "".join(t.text for t in root.findall(f"{ns}text")) == "JFMAMJJASOND"
    assert "Jan: 0.3" in svg and "0.333" not in svg
    # Only drawing elements and plain attributes: no scripts, styles, links or event handlers.
    assert {e.tag.removeprefix(ns) for e in root.iter()} == {"svg", "title", "rect", "text"}
    attributes = {a for e in root.iter() for a in e.attrib}
    assert attributes <= {
        "width",
        "height",
        "viewBox",
        "role",
        "aria-label",
        "x",
        "y",
        "fill",
        "font-size",
        "font-family",
        "text-anchor",
    }
    assert svg.count("http") == 1  # the xmlns declaration only
    with pytest.raises(InputError):
        sparkline_svg(["<script>alert(1)</script>"] * 12)
    with pytest.raises(InputError, match="12"):
        sparkline_svg([1, 2, 3])
    with pytest.raises(InputError, match="highlight"):
        sparkline_svg([1] * 12, highlight=12)
    assert "#d9480f" not in sparkline_svg([0] * 12)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"when": pd.Series(["2025-01"] * 3)}, "datetime64"),
        ({"when": pd.Series([pd.NaT] * 3, dtype="datetime64[ns]")}, "missing date"),
        ({"precision": ["month", "hour", "month"]}, "precision"),
    ],
)
def test_bad_incidents_raise_input_error(change, message):
    inc = pd.DataFrame(
        {"when": pd.to_datetime(["2025-01-01"] * 3), "precision": ["month"] * 3, "beat": ["A"] * 3}
    )
    for column, values in change.items():
        inc[column] = values
    with pytest.raises(InputError, match=message):
        seasonal_profiles(inc, by="beat")


def test_bad_options_raise_input_error():
    inc = incidents_from_counts([[1, 2]], "2025-01-01")
    with pytest.raises(InputError, match="lsoa"):
        seasonal_profiles(inc, by="lsoa")
    with pytest.raises(InputError, match="before it starts"):
        monthly_series(inc, by="beat", period=("2025-05-01", "2025-01-01"))
    with pytest.raises(InputError, match="alpha"):
        trend_tests(inc, by="beat", alpha=5)


# --------------------------------------------------------------------------- real data


@pytest.mark.skipif(not REAL.is_dir(), reason="shared police.uk data not available")
def test_leicestershire_2025_asb_peaks_in_summer():
    files = sorted(REAL.glob("2025-*-leicestershire-street.csv.gz"))
    raw = pd.concat([pd.read_csv(f, usecols=["Month", "Crime type"]) for f in files])
    asb = raw[raw["Crime type"] == "Anti-social behaviour"]
    inc = pd.DataFrame(
        {
            "when": pd.to_datetime(asb["Month"], format="%Y-%m"),
            "precision": "month",
            "force": "Leicestershire",
        }
    )
    row = seasonal_profiles(inc, by="force").iloc[0]
    # Monthly ASB counts as given in the folder's PROVENANCE.md.
    published = [892, 878, 1251, 1294, 1444, 1347, 1485, 1498, 1101, 1278, 881, 829]
    assert row[list(MONTH_COLUMNS)].tolist() == published
    assert row["peak_month"] == 8
    assert row["peak_season"] == "summer" and row["seasonal_p"] < 1e-10
    assert row["dow_rows"] == 0 and row["hour_rows"] == 0
