"""Unit tests of hotspots.rates: every expected value worked by hand or computed another way.

Exact Poisson intervals are checked against their definition (root-finding with scipy on a
Poisson CDF summed in pure Python) and against Garwood's published table; funnel limits
and p-values against the same pure-Python CDF; areal apportioning against areas of
rectangles and triangles worked on paper.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq
from shapely import Polygon, box

from hotspots.boundaries import AreaLayer
from hotspots.pipeline import population_by_layer
from hotspots.rates import (
    COVERAGE_MIN,
    FUNNEL_LEVELS,
    apply_coverage,
    apportion_population,
    apportion_with_coverage,
    area_rates,
    funnel_limits,
    lsoa_weights,
    poisson_interval,
    poisson_test_p,
    weighted_residents,
)
from hotspots.schema import CRSError, InputError


def _cdf(k: int, mu: float) -> float:
    """P(X <= k) for X ~ Poisson(mu), summed term by term (no scipy)."""
    return sum(math.exp(-mu) * mu**i / math.factorial(i) for i in range(k + 1))


def _quantile(q: float, mu: float) -> int:
    """The smallest k with P(X <= k) >= q: the definition of a discrete quantile."""
    k = 0
    while _cdf(k, mu) < q:
        k += 1
    return k


# --- exact (Garwood) intervals ------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 5, 10, 37, 50])
@pytest.mark.parametrize("level", [0.95, 0.998])
def test_poisson_interval_solves_its_definition(k: int, level: float) -> None:
    # Lower limit L: P(X >= k | L) = a/2; upper U: P(X <= k | U) = a/2.
    a = 1 - level
    low = brentq(lambda m: (1 - _cdf(k - 1, m)) - a / 2, 1e-9, 200, xtol=1e-12)
    high = brentq(lambda m: _cdf(k, m) - a / 2, 1e-9, 200, xtol=1e-12)
    lo, hi = poisson_interval(np.array([k]), level)
    assert lo[0] == pytest.approx(low, rel=1e-8)
    assert hi[0] == pytest.approx(high, rel=1e-8)


def test_poisson_interval_matches_garwoods_table() -> None:
    # Garwood (1936), 95%: 0 -> (0, 3.689), 1 -> (0.0253, 5.572), 5 -> (1.623, 11.668),
    # 10 -> (4.795, 18.390). For k = 0 the upper limit is -ln(0.025) exactly.
    lo, hi = poisson_interval(np.array([0, 1, 5, 10]))
    assert np.round(lo, 4).tolist() == [0.0, 0.0253, 1.6235, 4.7954]
    assert np.round(hi, 3).tolist() == [3.689, 5.572, 11.668, 18.39]
    assert hi[0] == pytest.approx(-math.log(0.025), rel=1e-12)


@pytest.mark.parametrize("level", [0.0, 1.0, 95, True, "0.95", float("nan")])
def test_a_level_must_be_a_share_strictly_between_0_and_1(level) -> None:
    with pytest.raises(InputError, match="level"):
        poisson_interval(np.array([3]), level)
    with pytest.raises(InputError, match="level"):
        funnel_limits(np.array([1000.0]), 0.01, level)
    with pytest.raises(InputError, match="level"):
        area_rates(pd.Series({"A": 1}), pd.Series({"A": 10}), level=level)


# --- the exact test against the overall rate ----------------------------------------------


def test_poisson_test_p_doubles_the_smaller_tail_and_caps_at_one() -> None:
    p = poisson_test_p(np.array([0, 5, 2, 50, 5]), np.array([1.0, 1.0, 2.0, 27.5, 27.5]))
    assert p[0] == pytest.approx(2 * math.exp(-1), rel=1e-12)  # P(X <= 0) = e^-1
    assert p[1] == pytest.approx(2 * (1 - _cdf(4, 1.0)), rel=1e-9)  # upper tail P(X >= 5)
    assert p[2] == 1.0  # both tails over 1/2: 2 * P(X >= 2 | 2) = 1.19, capped
    assert p[3] == pytest.approx(2 * (1 - _cdf(49, 27.5)), rel=1e-6)
    assert p[4] == pytest.approx(2 * _cdf(5, 27.5), rel=1e-9)  # lower tail


# --- rates per 1,000 ----------------------------------------------------------------------


def test_area_rates_hand_worked() -> None:
    # A: 50 in 1,000; B: 5 in 1,000; C: residents unknown; D: no residents. The overall rate
    # is from A and B only: 55 / 2,000, so each expects 27.5.
    t = area_rates(
        pd.Series({"A": 50, "B": 5, "C": 3, "D": 4}),
        pd.Series({"A": 1000.0, "B": 1000.0, "C": np.nan, "D": 0.0}),
    )
    assert t.index.tolist() == ["A", "B", "C", "D"]
    assert t["rate_per_1000"].tolist()[:2] == [50.0, 5.0]
    assert t["rate_per_1000"].iloc[2:].isna().all()
    lo, hi = poisson_interval(np.array([50, 5]))
    assert t["rate_low"].tolist()[:2] == pytest.approx(lo.tolist())  # x 1,000 / 1,000
    assert t["rate_high"].tolist()[:2] == pytest.approx(hi.tolist())
    assert t.loc["A", "p_vs_overall"] == pytest.approx(2 * (1 - _cdf(49, 27.5)), rel=1e-6)
    assert t.loc["B", "p_vs_overall"] == pytest.approx(2 * _cdf(5, 27.5), rel=1e-9)
    assert t["p_vs_overall"].iloc[2:].isna().all()
    assert t["significance"].tolist() == ["above", "below", "as expected", "as expected"]
    assert t["residents"].tolist()[1::2] == [1000.0, 0.0] and np.isnan(t.loc["C", "residents"])


def test_area_rates_per_other_base_and_residents_missing_from_the_table() -> None:
    t = area_rates(pd.Series({"A": 7, "B": 7}), pd.Series({"A": 350.4}), per=100_000)
    assert t.loc["A", "residents"] == 350.0  # rounded for the table, not for the rate
    assert t.loc["A", "rate_per_1000"] == pytest.approx(7 / 350.4 * 100_000)
    lo, hi = poisson_interval(np.array([7]))
    assert t.loc["A", "rate_low"] == pytest.approx(lo[0] / 350.4 * 100_000)
    assert t.loc["A", "rate_high"] == pytest.approx(hi[0] / 350.4 * 100_000)
    assert t.loc["A", "significance"] == "as expected"  # it is the overall rate: p = 1
    assert np.isnan(t.loc["B", "rate_per_1000"]) and t.loc["B", "significance"] == "as expected"
    with pytest.raises(InputError, match="per"):
        area_rates(pd.Series({"A": 7}), pd.Series({"A": 350.0}), per=0)


def test_significance_uses_the_level() -> None:
    # 40 against 27.5 expected: p = 2 P(X >= 40 | 27.5) ≈ 0.0284, under 5% but not under 1%.
    n, pop = pd.Series({"A": 40, "B": 15}), pd.Series({"A": 1000.0, "B": 1000.0})
    p = 2 * (1 - _cdf(39, 27.5))
    assert 0.01 < p < 0.05
    assert area_rates(n, pop)["significance"].tolist() == ["above", "below"]
    assert area_rates(n, pop, level=0.99)["significance"].tolist() == ["as expected"] * 2


# --- funnel limits ------------------------------------------------------------------------


def test_funnel_limits_are_exact_poisson_quantiles() -> None:
    residents = np.array([1000.0, 500.0, 20_000.0])
    overall = 0.02  # 20 per 1,000: expected 20, 10 and 400 incidents
    for level in FUNNEL_LEVELS:
        a = 1 - level
        lo, hi = funnel_limits(residents, overall, level)
        expected = {20: 1000.0, 10: 500.0}  # incidents expected -> residents
        want_lo = [_quantile(a / 2, mu) * 1000 / r for mu, r in expected.items()]
        want_hi = [_quantile(1 - a / 2, mu) * 1000 / r for mu, r in expected.items()]
        assert lo[:2].tolist() == want_lo and hi[:2].tolist() == want_hi
        # the funnel narrows towards the overall rate as residents grow
        assert lo[0] < lo[2] < 20 < hi[2] < hi[0]
    lo, hi = funnel_limits(residents[:2], overall, 0.95)
    assert lo.tolist() == [12.0, 8.0] and hi.tolist() == [29.0, 34.0]  # 12, 29 of 20; 4, 17 of 10


# --- areal apportioning -------------------------------------------------------------------


def _sources() -> gpd.GeoDataFrame:
    # L1: 1 km² square, 1,200 residents. L2: right triangle of 0.5 km² (legs 1 km) with
    # hypotenuse x + y = 2,000, 300 residents. L3: 1 km² above L1, residents unknown.
    return gpd.GeoDataFrame(
        {"residents": [1200.0, 300.0, np.nan]},
        crs=27700,
        geometry=[
            box(0, 0, 1000, 1000),
            Polygon([(1000, 0), (2000, 0), (1000, 1000)]),
            box(0, 1000, 1000, 2000),
        ],
    )


def _targets() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["T1", "T2", "T3", "T4", "T5", "W"]},
        crs=27700,
        geometry=[
            box(0, 0, 250, 1000),  # a quarter of L1
            box(250, 0, 1000, 2000),  # 3/4 of L1 and 3/4 of L3 (unknown): 0.75 of 1.5 km²
            box(1000, 0, 1500, 500),  # inside L2 (corner on the hypotenuse): half of it
            box(1500, 0, 2500, 1000),  # L2's corner triangle, 0.125 km² of 1 km²
            box(10_000, 10_000, 11_000, 11_000),  # far from every source
            box(0, 0, 1000, 1000),  # all of L1, overlapping T1 and T2
        ],
    )


def test_apportion_with_coverage_hand_worked() -> None:
    found = apportion_with_coverage(_sources(), _targets())
    assert found.index.tolist() == ["T1", "T2", "T3", "T4", "T5", "W"]
    # T1: 1/4 of 1,200; T2: 3/4 of 1,200 (L3 adds none); T3: 0.25/0.5 of 300; T4: 0.125/0.5
    # of 300; W: all of L1, whatever other targets overlap it.
    assert found["residents"].round(9).tolist() == [300.0, 900.0, 150.0, 75.0, 0.0, 1200.0]
    assert found["coverage"].round(12).tolist() == [1.0, 0.5, 1.0, 0.125, 0.0, 1.0]
    assert apportion_population(_sources(), _targets()).round(9).tolist() == [
        300.0,
        900.0,
        150.0,
        75.0,
        0.0,
        1200.0,
    ]


def test_apportion_with_other_column_names() -> None:
    src = _sources().rename(columns={"residents": "people"})
    tgt = _targets().rename(columns={"name": "beat"})
    found = apportion_with_coverage(src, tgt, residents="people", target_name="beat")
    assert found.loc["T4"].round(9).tolist() == [75.0, 0.125]


def test_apportion_when_nothing_overlaps_or_nothing_is_known() -> None:
    far = _targets().iloc[[4]]
    assert apportion_with_coverage(_sources(), far).loc["T5"].tolist() == [0.0, 0.0]
    unknown = _sources().assign(residents=np.nan)
    found = apportion_with_coverage(unknown, _targets())
    assert (found["residents"] == 0).all() and (found["coverage"] == 0).all()


def test_apportion_refuses_degrees_and_two_different_grids() -> None:
    with pytest.raises(CRSError, match="target"):
        apportion_with_coverage(_sources(), _targets().to_crs(4326))
    with pytest.raises(CRSError, match="source areas are in EPSG:27700 but the target layer"):
        apportion_with_coverage(_sources(), _targets().to_crs(32630))


# --- the coverage rule and its reasons ----------------------------------------------------


def test_apply_coverage_reasons_at_and_around_the_threshold() -> None:
    assert COVERAGE_MIN == 0.95
    t = apply_coverage(
        pd.Series({"A": 2000.0, "B": 100.0, "C": 50.0, "D": np.nan, "E": 0.0, "F": 10.0}),
        pd.Series({"A": 0.95, "B": 0.949, "D": 1.0, "E": 0.99, "F": 0.123456}),
    )
    # A: exactly 95% counts; B: just under; C: no coverage given (none); D: residents
    # unknown but covered; E: covered, nobody lives there; F: under, rounded for the table.
    assert t["rate_blank_reason"].tolist() == [
        "",
        "partial_coverage",
        "outside_lsoa_polygons",
        "no_residents",
        "no_residents",
        "partial_coverage",
    ]
    assert t["residents"].tolist()[0] == 2000.0 and t["residents"].iloc[1:].isna().all()
    assert t["residents_coverage"].tolist() == [0.95, 0.949, 0.0, 1.0, 0.99, 0.1235]


def test_apply_coverage_threshold_and_reason_are_the_callers() -> None:
    t = apply_coverage(
        pd.Series({"A": 10.0, "B": 10.0, "C": 10.0}),
        pd.Series({"A": 1.0, "B": 0.9999, "C": 0.0}),
        coverage_min=1.0,
        reason_uncovered="not_in_population_table",
    )
    assert t["rate_blank_reason"].tolist() == ["", "partial_coverage", "not_in_population_table"]
    loose = apply_coverage(pd.Series({"A": 10.0}), pd.Series({"A": 0.2}), coverage_min=0.2)
    assert loose["residents"].tolist() == [10.0]


@pytest.mark.parametrize("bad", [0, -0.1, 1.5, True, "0.95", float("nan")])
def test_coverage_min_must_be_a_share_above_0(bad) -> None:
    with pytest.raises(InputError, match="coverage_min"):
        apply_coverage(pd.Series({"A": 1.0}), pd.Series({"A": 1.0}), coverage_min=bad)


def test_your_own_table_blank_reasons(tmp_path: Path) -> None:
    table = tmp_path / "pop.csv"
    table.write_text('BEAT,RESIDENTS\nA,"1,000"\nB,0\n', encoding="utf-8")
    beats = AreaLayer(
        "beat",
        gpd.GeoDataFrame(
            {"name": ["A", "B", "C"]},
            crs=27700,
            geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)],
        ),
    )
    found = population_by_layer(
        [beats],
        population_file=str(table),
        population_layer="beat",
        id_field="BEAT",
        residents_field="RESIDENTS",
    )
    t = found.tables["beat"]
    assert t["rate_blank_reason"].tolist() == ["", "no_residents", "not_in_population_table"]
    assert t.loc["A", "residents"] == 1000.0 and t["residents"].iloc[1:].isna().all()
    assert t["population_vintage"].tolist() == ["your table pop.csv", "", ""]


# --- 2011 LSOAs behind 2021 codes ---------------------------------------------------------


def _pop_and_changes() -> tuple[pd.Series, pd.DataFrame]:
    # A (400) and B (600) merge into M; P (900) splits into S1 (50% of its area) and S2
    # (40%: shares normalised to 5/9 and 4/9); U (100) is unchanged; Z, parent of S3, has
    # no residents in the table.
    pop = pd.Series({"A": 400.0, "B": 600.0, "P": 900.0, "U": 100.0})
    changes = pd.DataFrame(
        {
            "LSOA11CD": ["A", "B", "P", "P", "Z"],
            "LSOA21CD": ["M", "M", "S1", "S2", "S3"],
            "share_of_2011_area": [1.0, 1.0, 0.5, 0.4, 1.0],
        }
    )
    return pop, changes


def test_lsoa_weights_merges_splits_and_unknown_codes() -> None:
    pop, changes = _pop_and_changes()
    w = lsoa_weights(["M", "U", "S2", "S1", "S3", "A", "U"], pop, changes)
    assert w.round(6).values.tolist() == [
        ["M", "A", 1.0],
        ["M", "B", 1.0],
        ["U", "U", 1.0],
        ["S2", "P", round(4 / 9, 6)],
        ["S1", "P", round(5 / 9, 6)],
        ["A", "A", 1.0],
    ]  # in the order given, each code once; S3 has no row: its residents are unknown


def test_weighted_residents_by_code_and_by_group() -> None:
    pop, changes = _pop_and_changes()
    w = lsoa_weights(["M", "U", "S2", "S1", "A"], pop, changes)
    assert weighted_residents(w, pop).round(9).to_dict() == {
        "M": 1000.0,
        "U": 100.0,
        "S2": 400.0,
        "S1": 500.0,
        "A": 400.0,
    }
    # District D holds M and A (A counted once: its shares 1 + 1 are capped at 1); E holds
    # both halves of P and U; a code in no group is left out.
    groups = pd.Series({"M": "D", "A": "D", "S1": "E", "S2": "E", "U": "E"})
    assert weighted_residents(w, pop, groups).round(9).to_dict() == {"D": 1000.0, "E": 1000.0}
    assert weighted_residents(w, pop, groups.drop("U")).round(9).to_dict() == {
        "D": 1000.0,
        "E": 900.0,
    }
