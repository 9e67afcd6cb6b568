"""Duplicate linking across sources, repeat callers, and the synthetic partnership pair."""

from __future__ import annotations

import itertools
import tomllib
from decimal import Decimal, localcontext
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from hotspots.geocode import PostcodeIndex, locate_incidents
from hotspots.io import EMBEDDED_POLICE_UK, InputSpec, load_incidents, read_postcode_table
from hotspots.linkage import LINK_COLUMNS, LinkResult, link_duplicates, repeat_callers
from hotspots.linkage._candidates import candidate_pairs
from hotspots.linkage._evidence import (
    DISTANCE_BINS,
    DISTANCE_BINS_PER_UNIT,
    MIN_LEARN_PAIRS,
    learn_probability,
    postcode_precision,
)
from hotspots.pipeline import load_config
from hotspots.schema import InputError
from tests.partner_pairs import (
    COUNCIL_CATEGORIES,
    score_links,
    synthetic_partner_exports,
)

ASB = "Anti-social behaviour"
CD = "Criminal damage and arson"


def _inc(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (source, id, when, precision, category, x, y, loc_precision_m)."""
    cols = ["source", "incident_id", "when", "precision", "category", "x", "y", "loc_precision_m"]
    frame = pd.DataFrame(rows, columns=cols)
    frame["when"] = pd.to_datetime(frame["when"])
    frame["x"] = frame["x"].astype(float)
    frame["y"] = frame["y"].astype(float)
    frame["loc_precision_m"] = frame["loc_precision_m"].astype(float)
    frame.insert(0, "_row", np.arange(len(frame)))
    return frame


def _linked(frame: pd.DataFrame, **kw) -> set[frozenset[str]]:
    links = link_duplicates(frame, **kw).links
    return {frozenset(g["id"]) for _, g in links.groupby("group")}


# --- distance ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prec_a", "prec_b", "limit"),
    [(0, 0, 50), (0, 100, 150), (100, 100, 250), (0, 400, 450), (0, 20, 70)],
)
def test_automatic_distance_limit_from_precision(prec_a, prec_b, limit) -> None:
    for gap, expected in ((limit - 0.5, True), (limit + 0.5, False)):
        frame = _inc(
            [
                ("police", "P", "2025-06-03", "day", ASB, 0, 0, prec_a),
                ("council", "C", "2025-06-03", "day", ASB, gap, 0, prec_b),
            ]
        )
        result = link_duplicates(frame)
        assert (len(result.links) == 2) is expected, (prec_a, prec_b, gap)
        if expected:
            assert result.groups["distance_limit_m"].tolist() == [limit]
    assert result.params["distance_automatic"] is True
    assert result.params["distance_rule"] == "max(50 m, loc_precision_m of both records + 50 m)"
    assert result.params["distance_scale_rule"].startswith(
        "distances are judged in units of max(50 m, spread of both records + 50 m)"
    )


def test_fixed_distance_and_rule_terms() -> None:
    frame = _inc(
        [
            ("police", "P", "2025-06-03", "day", ASB, 0, 0, 0),
            ("council", "C", "2025-06-03", "day", ASB, 120, 0, 100),
        ]
    )
    assert _linked(frame, distance_m=100) == set()
    assert _linked(frame, distance_m=130) == {frozenset({"P", "C"})}
    assert _linked(frame, allowance_m=10) == set()  # 110 m limit
    assert _linked(frame, allowance_m=0, min_distance_m=125) == {frozenset({"P", "C"})}
    fixed = link_duplicates(frame, distance_m=130).params
    assert fixed["distance_rule"] == fixed["distance_scale_rule"] == "fixed"


# --- time -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when_a", "prec_a", "when_b", "prec_b", "expected"),
    [
        ("2025-06-03", "day", "2025-06-10", "day", True),  # 7 days
        ("2025-06-03", "day", "2025-06-11", "day", False),  # 8 days
        ("2025-06-10", "day", "2025-06-03", "day", True),  # order does not matter
        ("2025-06-03 23:50", "minute", "2025-06-10 00:10", "minute", True),  # calendar days
        ("2025-06-01", "month", "2025-06-30", "day", True),  # in the month
        ("2025-06-01", "month", "2025-07-01", "day", False),  # next month
        ("2025-06-01", "month", "2025-05-31", "day", False),
        ("2025-06-01", "month", "2025-06-01", "month", True),
        ("2025-06-01", "month", "2025-07-01", "month", False),
    ],
)
def test_time_window_and_month_matching(when_a, prec_a, when_b, prec_b, expected) -> None:
    frame = _inc(
        [
            ("police.uk", "A", when_a, prec_a, ASB, 0, 0, 0),
            ("council", "B", when_b, prec_b, ASB, 10, 0, 100),
        ]
    )
    assert bool(_linked(frame)) is expected


def test_month_rows_can_be_left_out_and_days_apart_is_blank_for_them() -> None:
    frame = _inc(
        [
            ("police.uk", "A", "2025-06-01", "month", ASB, 0, 0, 0),
            ("council", "B", "2025-06-20", "day", ASB, 10, 0, 100),
        ]
    )
    assert _linked(frame, link_month_precision=False) == set()
    result = link_duplicates(frame)
    days = result.links.set_index("id")["days_apart"]
    assert days["A"] == 0 and np.isnan(days["B"])  # kept record 0; the other unknown
    assert result.groups["time_basis"].tolist() == ["month"]


def test_window_days_option() -> None:
    frame = _inc(
        [
            ("police", "A", "2025-06-03", "day", ASB, 0, 0, 0),
            ("council", "B", "2025-06-05", "day", ASB, 10, 0, 100),
        ]
    )
    assert _linked(frame, window_days=1) == set()
    assert _linked(frame, window_days=2) == {frozenset({"A", "B"})}


# --- sources and categories -------------------------------------------------------------


def test_identical_rows_within_one_source_are_never_linked() -> None:
    # Exact police.uk repeats (same month, point, category) are separate incidents.
    rows = [("police.uk", f"f.csv:{i}", "2025-06-01", "month", ASB, 5, 5, 0) for i in range(4)]
    rows += [("council", f"C{i}", "2025-06-02", "day", ASB, 5, 5, 100) for i in range(2)]
    result = link_duplicates(_inc(rows))
    assert len(result.groups) == 2  # each council record takes one police.uk row
    for _, g in result.links.groupby("group"):
        assert sorted(g["source"]) == ["council", "police.uk"]
    only_police = _inc(rows[:4])
    assert link_duplicates(only_police).links.empty


@pytest.mark.parametrize(
    ("cat_a", "cat_b", "families", "expected"),
    [
        (ASB, "Personal", "default", True),  # Home Office ASB sub-type
        (ASB, "anti-social  BEHAVIOUR", "default", True),  # wording variants
        (ASB, CD, "default", False),
        ("Robbery", "Violence and sexual offences", "default", True),
        ("Shoplifting", "Other theft", "default", True),
        ("Burglary", "Other theft", "default", False),
        ("Public order", ASB, "default", False),
        ("Public order", ASB, {"Public order": "ASB", ASB: "ASB"}, True),
        ("Robbery", "Violence and sexual offences", None, False),
        ("Fly tipping", "fly tipping", None, True),  # unmapped wording is its own family
    ],
)
def test_category_families(cat_a, cat_b, families, expected) -> None:
    frame = _inc(
        [
            ("police", "A", "2025-06-03", "day", cat_a, 0, 0, 0),
            ("council", "B", "2025-06-03", "day", cat_b, 10, 0, 100),
        ]
    )
    kw = {} if families == "default" else {"category_families": families}
    assert bool(_linked(frame, **kw)) is expected


# --- groups and the keep rule -----------------------------------------------------------


def test_one_record_per_source_per_group_and_keep_rule() -> None:
    frame = _inc(
        [
            ("police.uk", "PU1", "2025-06-01", "month", ASB, 1000, 1000, 0),
            ("police_cases", "PC1", "2025-06-12", "day", ASB, 1000, 1000, 0),
            ("council", "ASB-1", "2025-06-13", "day", ASB, 1030, 1040, 100),
            ("council", "ASB-2", "2025-06-14", "day", ASB, 1030, 1040, 100),
        ]
    )
    result = link_duplicates(frame)
    # Both council records are candidates for PC1; the closer in time joins its group.
    assert _linked(frame) == {frozenset({"PU1", "PC1", "ASB-1"})}
    links = result.links
    assert links.loc[links["kept"], "id"].tolist() == ["PC1"]  # coordinates + day beat month
    assert result.merged.tolist() == [0, 2]
    assert sorted(result.kept["incident_id"]) == ["ASB-2", "PC1"]
    row = links.set_index("id")
    assert row.loc["ASB-1", "distance_m"] == 50.0 and row.loc["ASB-1", "days_apart"] == 1.0
    assert np.isnan(row.loc["PU1", "days_apart"]) and row.loc["PU1", "distance_m"] == 0.0
    assert result.groups["records"].tolist() == [3]


def test_complete_linkage_every_pair_in_a_group_passes() -> None:
    # B links to A and to C, but A and C are 12 days apart: only one of them joins B.
    frame = _inc(
        [
            ("s1", "A", "2025-06-01", "day", ASB, 0, 0, 0),
            ("s2", "B", "2025-06-07", "day", ASB, 0, 0, 0),
            ("s3", "C", "2025-06-13", "day", ASB, 0, 0, 0),
        ]
    )
    groups = _linked(frame)
    assert len(groups) == 1 and len(next(iter(groups))) == 2


@pytest.mark.parametrize(("priority", "kept"), [(None, "A1"), (["b"], "B1"), (["a", "b"], "A1")])
def test_source_priority_breaks_ties(priority, kept) -> None:
    frame = _inc(
        [
            ("b", "B1", "2025-06-03", "day", ASB, 0, 0, 0),
            ("a", "A1", "2025-06-03", "day", ASB, 10, 0, 0),
        ]
    )
    result = link_duplicates(frame, source_priority=priority)
    assert result.links.loc[result.links["kept"], "id"].tolist() == [kept]
    assert result.params["source_priority"][0] == (priority or ["a"])[0]


def test_links_table_columns_order_and_accounting() -> None:
    rng = np.random.default_rng(3)
    n = 300
    frame = _inc(
        [
            (
                ("police", "council", "police.uk")[i % 3],
                f"id{i:03d}",
                f"2025-06-{1 + rng.integers(28):02d}",
                ("day", "day", "month")[i % 3],
                (ASB, CD)[rng.integers(2)],
                rng.uniform(0, 2000),
                rng.uniform(0, 2000),
                (0.0, 100.0, 0.0)[i % 3],
            )
            for i in range(n)
        ]
    )
    result = link_duplicates(frame)
    links = result.links
    assert tuple(links.columns) == LINK_COLUMNS
    assert len(links) > 20
    key = list(zip(links["group"], ~links["kept"], links["source"], links["id"], strict=True))
    assert key == sorted(key)
    assert (links.groupby("group")["kept"].sum() == 1).all()
    assert not links.duplicated(["group", "source"]).any()
    assert len(result.kept) + len(result.merged) == n
    assert len(result.merged) == int((~links["kept"]).sum())
    assert (links.loc[links["kept"], ["distance_m", "days_apart"]] == 0).all().all()
    assert links["group"].tolist()[0] == 1 and links["group"].max() == len(result.groups)


def test_deterministic_whatever_the_row_order() -> None:
    rng = np.random.default_rng(7)
    frame = _inc(
        [
            (
                ("police", "council")[i % 2],
                f"id{i}",
                f"2025-06-{1 + i % 20:02d}",
                "day",
                ASB,
                rng.uniform(0, 500),
                rng.uniform(0, 500),
                (0.0, 100.0)[i % 2],
            )
            for i in range(200)
        ]
    )
    a = link_duplicates(frame)
    b = link_duplicates(frame.sample(frac=1, random_state=1))
    pd.testing.assert_frame_equal(a.links, b.links)
    pd.testing.assert_frame_equal(a.groups, b.groups)
    assert a.merged.tolist() == b.merged.tolist()


def test_delay_distribution_is_learnt_and_ranks_candidates() -> None:
    # 30 clear pairs where the council logs 2 days later, then one ambiguous report: at
    # the same point, police records 1 day after and 2 days before it.
    rows = []
    for i in range(30):
        rows += [
            ("police", f"P{i}", "2025-03-10", "day", ASB, i * 1000, 0, 0),
            ("council", f"C{i}", "2025-03-12", "day", ASB, i * 1000 + 20, 0, 100),
        ]
    rows += [
        ("police", "late", "2025-08-11", "day", ASB, 50_000, 0, 0),
        ("police", "early", "2025-08-08", "day", ASB, 50_000, 0, 0),
        ("council", "X", "2025-08-10", "day", ASB, 50_020, 0, 100),
    ]
    result = link_duplicates(_inc(rows))
    # No coincidences anywhere: every pair in the window counts as a duplicate.
    assert result.params["learnt"] == {
        "police -> council": {
            "duplicates": 32,
            "coincidences_in_window": 0.0,
            "median": 2,
            "shares": {-1: round(1 / 32, 3), 2: round(31 / 32, 3)},
        }
    }
    assert frozenset({"early", "X"}) in _linked(_inc(rows))
    without = _inc(rows[-3:])  # too few pairs to learn from: nearest in time wins
    assert link_duplicates(without).params["learnt"] == {}
    assert _linked(without) == {frozenset({"late", "X"})}


def test_competitors_count_other_candidates() -> None:
    frame = _inc(
        [
            ("police", "P1", "2025-06-03", "day", ASB, 0, 0, 0),
            ("police", "P2", "2025-06-05", "day", ASB, 0, 0, 0),
            ("police", "P3", "2025-06-06", "day", ASB, 0, 0, 0),
            ("council", "C1", "2025-06-03", "day", ASB, 20, 0, 100),
            ("police", "Q1", "2025-06-03", "day", CD, 9000, 0, 0),
            ("council", "D1", "2025-06-03", "day", CD, 9020, 0, 100),
        ]
    )
    groups = link_duplicates(frame).groups
    assert groups["competitors"].tolist() == [2, 0]
    assert groups["probability"].isna().all()  # too few pairs to learn from


# --- learnt probability and postcode precision ------------------------------------------


def _reference_probability(offset, share, t_a, t_b, window, band):
    """learn_probability written out directly, loops and all."""
    lags = list(range(-window, window + 1))
    far = [o for o in range(-band[1], band[1] + 1) if band[0] <= abs(o)]

    def shape(o: int) -> int:
        return sum(1 for x in t_a for y in t_b if y - x == o)

    inside = [abs(o) <= window for o in offset]
    outside = [band[0] <= abs(o) <= band[1] for o in offset]
    far_shape = sum(shape(o) for o in far)
    scale = sum(outside) / far_shape if far_shape else 0.0
    chance = {o: scale * shape(o) for o in lags}
    seen = {o: sum(1 for x, i in zip(offset, inside, strict=True) if i and x == o) for o in lags}
    excess = {o: max(seen[o] - chance[o], 0.0) for o in lags}
    n_dup = sum(excess.values())
    if n_dup < MIN_LEARN_PAIRS or 0 < sum(outside) < MIN_LEARN_PAIRS:
        return None
    # Bins a tenth of the pair's scale wide; the last holds three scales and beyond.
    assert (DISTANCE_BINS_PER_UNIT, DISTANCE_BINS) == (10, 30)
    bins = [min(int(u * 10), 29) for u in share]
    g = [
        sum(1 for b, o in zip(bins, outside, strict=True) if o and b == k) / max(sum(outside), 1)
        for k in range(30)
    ]
    inside_bins = [
        sum(1 for b, i in zip(bins, inside, strict=True) if i and b == k) for k in range(30)
    ]
    dup_dist = [max(inside_bins[k] - g[k] * sum(chance.values()), 0.0) for k in range(30)]
    out = []
    for o, b, i in zip(offset, bins, inside, strict=True):
        if not i:
            out.append(np.nan)
            continue
        dup = n_dup * (excess[o] / n_dup) * (dup_dist[b] / max(sum(dup_dist), 1e-12))
        total = dup + chance[o] * g[b]
        out.append(dup / total if total > 0 else 0.0)
    return np.array(out)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 3),
    st.integers(20, 80),
    st.one_of(st.just(0), st.integers(40, 100)),
    st.integers(0, 2**32 - 1),
)
def test_learnt_probability_matches_reference(window, n_dup, n_far, seed) -> None:
    # Duplicates a few days apart and close by; coincidences at any offset up to the band,
    # up to four scales away (beyond the last bin's start).
    rng = np.random.default_rng(seed)
    band = (window + 1, window + 8)
    offset = np.r_[rng.integers(-1, 3, n_dup), rng.integers(-band[1], band[1] + 1, n_far)]
    share = np.r_[rng.uniform(0, 0.4, n_dup), rng.uniform(0, 4, n_far)]
    t_a = rng.integers(0, 40, n_dup + n_far)
    t_b = t_a + offset
    got = learn_probability(offset, share, t_a, t_b, window=window, band=band)
    want = _reference_probability(offset, share, t_a, t_b, window, band)
    assert (got is None) == (want is None)
    if got is not None:
        np.testing.assert_allclose(got[0], want, rtol=1e-9, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=2, max_size=40),
    st.lists(st.integers(0, 39), min_size=1, max_size=5),
)
def test_postcode_precision_is_the_third_nearest_other_centroid(points, at) -> None:
    pts = np.array(points, dtype=float) * 10.0
    idx = [i % len(pts) for i in at]
    xy = np.vstack([pts[idx], [[1.5, 2.5]]])  # the last record is not on a centroid
    loc = np.r_[np.where(np.arange(len(idx)) % 2, 100.0, 10.0), 100.0]
    prec, spread, on = postcode_precision(xy, loc, pts)
    k = min(3, len(pts) - 1)
    for n, i in enumerate(idx):
        others = np.sort(np.hypot(*(pts - pts[i]).T))
        # The record's own centroid is at 0; others at the same point count as neighbours.
        # The spread is the postcode's own size; it widens the stated precision where
        # centroids are sparse and never narrows it where they are dense.
        assert on[n] and spread[n] == pytest.approx(max(others[k], 25.0))
        assert prec[n] == pytest.approx(max(others[k], loc[n], 25.0))
    assert not on[-1] and prec[-1] == spread[-1] == 100.0


def test_postcode_points_widen_but_never_tighten_the_distance_limit() -> None:
    dense = np.array([(x, y) for x in range(0, 300, 30) for y in range(0, 300, 30)], float)
    sparse = np.array([(0, 10_000), (400, 10_000), (0, 10_400), (-400, 10_000)], float)
    grid = np.vstack([dense, sparse])
    frame = _inc(
        [
            ("police", "P", "2025-06-03", "day", ASB, 150, 290, 0),
            ("council", "C", "2025-06-03", "day", ASB, 150, 150, 100),  # dense centroids
            ("police", "Q", "2025-06-03", "day", CD, 5000, 100, 0),
            ("council", "D", "2025-06-03", "day", CD, 5000, 0, 100),  # sector, not a centroid
            ("police", "R", "2025-06-03", "day", ASB, 0, 10_300, 0),
            ("council", "E", "2025-06-03", "day", ASB, 0, 10_000, 100),  # sparse centroids
        ]
    )
    assert _linked(frame) == {frozenset({"P", "C"}), frozenset({"Q", "D"})}  # 150 m limits
    wide = link_duplicates(frame, postcode_points=grid)
    # C's 3rd-nearest other centroid is 30 m away, but the postcode's stated 100 m stands:
    # the caller's postcode need not be the centroid nearest the incident. E's is 400 m
    # away: limit 400 + 50 m, so R (300 m away) links.
    assert {frozenset(g["id"]) for _, g in wide.links.groupby("group")} == {
        frozenset({"P", "C"}),
        frozenset({"Q", "D"}),
        frozenset({"R", "E"}),
    }
    assert sorted(wide.groups["distance_limit_m"]) == [150, 150, 450]
    assert wide.params["records_with_postcode_precision"] == 2
    with pytest.raises(InputError, match="postcode_points"):
        link_duplicates(frame, postcode_points=np.zeros((3, 3)))


def _rec(loc: list[float], spread: list[float], xy: list[tuple[float, float]], source: list[int]):
    """Per-record arrays as link_duplicates builds them: one family, all on one day."""
    n = len(loc)
    return {
        "source": np.array(source),
        "family": np.zeros(n, dtype=np.int64),
        "xy": np.array(xy, dtype=float),
        "loc": np.array(loc, dtype=float),
        "spread": np.array(spread, dtype=float),
        "linkable": np.ones(n, dtype=bool),
        "month": np.zeros(n, dtype=bool),
        "start": np.zeros(n, dtype=np.int64),
        "month_index": np.zeros(n, dtype=np.int64),
    }


def test_limit_from_precision_scale_from_spread() -> None:
    # Police P exactly located; council C on a dense centroid (spread 30 m, stated 100 m),
    # E on a sparse one (spread 400 m), D at a sector point (100 m, no centroid).
    rec = _rec(
        loc=[0, 100, 400, 100, 0],
        spread=[0, 30, 400, 100, 0],
        xy=[(0, 0), (60, 0), (0, 300), (0, -140), (5000, 0)],
        source=[0, 1, 1, 1, 0],
    )
    got = candidate_pairs(rec, None, 7, 50.0, 50.0).sort_values("b")
    # C: limit max(50, 0 + 100 + 50) = 150 m, scale max(50, 0 + 30 + 50) = 80 m, so 60 m
    # is 0.75 of a scale; E: 400 + 50 = 450 m both; D: 100 + 50 = 150 m both.
    assert got[["a", "b", "distance", "limit", "scale"]].values.tolist() == [
        [0, 1, 60.0, 150.0, 80.0],
        [0, 2, 300.0, 450.0, 450.0],
        [0, 3, 140.0, 150.0, 150.0],
    ]
    fixed = candidate_pairs(rec, 200.0, 7, 50.0, 50.0).sort_values("b")
    assert fixed[["b", "limit", "scale"]].values.tolist() == [[1, 200, 200], [3, 200, 200]]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 1),
            st.sampled_from([0.0, 10.0, 100.0, 250.0, 700.0]),
            st.floats(0, 1),
            st.integers(0, 40),
            st.integers(0, 40),
        ),
        min_size=2,
        max_size=12,
    ),
    st.floats(0, 120),
    st.floats(0, 120),
)
def test_scale_lies_between_the_floor_and_the_limit(records, min_distance, allowance) -> None:
    # Spread at most the precision, as postcode_precision gives it.
    src, loc, frac, x, y = (list(col) for col in zip(*records, strict=True))
    spread = [p * f for p, f in zip(loc, frac, strict=True)]
    rec = _rec(loc, spread, [(i * 25.0, j * 25.0) for i, j in zip(x, y, strict=True)], src)
    got = candidate_pairs(rec, None, 7, min_distance, allowance)
    gap = np.hypot(*(rec["xy"][:, None, :] - rec["xy"][None, :, :]).transpose(2, 0, 1))
    want = {
        (i, j)
        for i in range(len(src))
        for j in range(len(src))
        if src[i] < src[j] and gap[i, j] <= max(min_distance, loc[i] + loc[j] + allowance)
    }
    assert set(zip(got["a"], got["b"], strict=True)) == want
    assert (got["scale"] >= min_distance).all() and (got["scale"] <= got["limit"]).all()
    same = np.isclose(rec["spread"], rec["loc"])
    both = same[got["a"]] & same[got["b"]]
    np.testing.assert_allclose(got["scale"][both], got["limit"][both])


def _learnable(test_days: int, test_gap_m: float) -> pd.DataFrame:
    """40 clear duplicates one day apart, far-away coincidences at every offset, and one
    test pair ``test_days`` apart and ``test_gap_m`` metres apart, alone."""
    rows = []
    for i in range(40):
        day = f"2025-0{1 + i % 6}-{1 + i % 27:02d}"
        rows += [
            ("police", f"P{i}", day, "day", ASB, i * 1000, 0, 0),
            (
                "council",
                f"C{i}",
                str(pd.Timestamp(day) + pd.Timedelta(days=1))[:10],
                "day",
                ASB,
                i * 1000 + 20,
                0,
                100,
            ),
        ]
    base = pd.Timestamp("2025-04-15")
    rows.append(("police", "B", "2025-04-15", "day", ASB, 100_000, 0, 0))
    for o in range(-28, 29):
        when = str(base + pd.Timedelta(days=o))[:10]
        rows.append(("council", f"N{o}", when, "day", ASB, 100_120, 0, 100))
    rows += [
        ("police", "T", "2025-05-10", "day", ASB, 200_000, 0, 0),
        (
            "council",
            "U",
            str(pd.Timestamp("2025-05-10") + pd.Timedelta(days=test_days))[:10],
            "day",
            ASB,
            200_000 + test_gap_m,
            0,
            100,
        ),
    ]
    return _inc(rows)


def test_min_probability_keeps_out_pairs_that_look_like_coincidences() -> None:
    # Duplicates come a day later and close by; coincidences anywhere in time, ~120 m off.
    # A pair 5 days and 120 m apart looks like a coincidence; 1 day and 20 m like a duplicate.
    odd = link_duplicates(_learnable(5, 120))
    learnt = odd.params["learnt"]["police -> council"]
    assert learnt["median"] == 1 and learnt["duplicates"] >= 40
    assert frozenset({"T", "U"}) not in {frozenset(g["id"]) for _, g in odd.links.groupby("group")}
    assert frozenset({"T", "U"}) in _linked(_learnable(5, 120), min_probability=0)
    good = link_duplicates(_learnable(1, 20))
    pair = good.links[good.links["id"].isin(["T", "U"])]["group"].unique()
    assert len(pair) == 1
    assert good.groups.set_index("group").at[pair[0], "probability"] > 0.9
    shuffled = link_duplicates(_learnable(1, 20).sample(frac=1, random_state=3))
    pd.testing.assert_frame_equal(good.links, shuffled.links)
    pd.testing.assert_frame_equal(good.groups, shuffled.groups)
    # 40 clean duplicates + B's one in-window coincidence at offset 1: all linked once.
    assert len(good.groups) >= 40 and (good.groups["probability"] >= 0.5).all()


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # Same point and day: council B (row 0) is as near to police A (row 1) as to C
        # (row 2); the pair with the smaller other row wins.
        (
            [
                ("council", "B", "2025-06-03", "day", ASB, 0, 0, 100),
                ("police", "A", "2025-06-03", "day", ASB, 0, 0, 0),
                ("police", "C", "2025-06-03", "day", ASB, 0, 0, 0),
            ],
            {frozenset({"B", "A"})},
        ),
        # The pair with the smaller first row wins: rows 0-2 before rows 1-2.
        (
            [
                ("police", "A", "2025-06-03", "day", ASB, 0, 0, 0),
                ("police", "C", "2025-06-03", "day", ASB, 0, 0, 0),
                ("council", "B", "2025-06-03", "day", ASB, 0, 0, 100),
            ],
            {frozenset({"A", "B"})},
        ),
        # Distance at the limit on the same day (1 + 0) against the same point 7 days
        # apart (0 + 7/7).
        (
            [
                ("police", "FAR", "2025-06-10", "day", ASB, 400, 0, 0),
                ("council", "C", "2025-06-10", "day", ASB, 0, 0, 350),
                ("police", "LATE", "2025-06-03", "day", ASB, 0, 0, 0),
            ],
            {frozenset({"FAR", "C"})},
        ),
        # Both sqrt(0.8) of the limit: 160 x 320 m over 400 m and 200 x 400 m over 500 m,
        # one bit apart in floating point (the second smaller); rows decide, not rounding.
        (
            [
                ("police", "P0", "2025-06-03", "day", ASB, 0, 0, 0),
                ("council", "C1", "2025-06-03", "day", ASB, 160, 320, 350),
                ("police", "P2", "2025-06-03", "day", ASB, -40, -80, 100),
            ],
            {frozenset({"P0", "C1"})},
        ),
    ],
)
def test_equal_scores_are_taken_in_row_order(rows, expected) -> None:
    frame = _inc(rows)
    assert _linked(frame) == expected
    assert _linked(frame.iloc[::-1]) == expected  # by _row, not by input position


@st.composite
def _two_source_incidents(draw: st.DrawFn) -> pd.DataFrame:
    """Up to 8 records of two sources on a 40 m lattice, in shuffled row order, text as
    strings or as categoricals. At most 4 x 4 = 16 candidate pairs, fewer than
    MIN_LEARN_PAIRS, so nothing is learnt. Narrow lattices and few distinct days make equal
    distances, delays and scores common."""
    span = draw(st.sampled_from([0, 1, 3, 12]))  # lattice steps of 40 m
    days = draw(st.sampled_from([0, 2, 12]))
    records = draw(
        st.lists(
            st.tuples(
                st.integers(0, 1),
                st.integers(0, span),
                st.integers(0, span),
                st.integers(0, days),
                st.sampled_from([0.0, 100.0, 350.0]),
                st.booleans(),
            ),
            min_size=1,
            max_size=8,
        )
    )
    frame = _inc(
        [
            (("a", "b")[s], f"r{i}", f"2025-06-{1 + d:02d}", "day", (ASB, CD)[c], x * 40, y * 40, p)
            for i, (s, x, y, d, p, c) in enumerate(records)
        ]
    )
    frame = frame.iloc[draw(st.permutations(range(len(frame))))]
    if draw(st.booleans()):
        frame = frame.astype({c: "category" for c in ("source", "incident_id", "category")})
    return frame


def _reference_greedy(frame: pd.DataFrame) -> set[frozenset[str]]:
    """Greedy one-to-one matching written out: candidates by score, exact to 9 decimal
    places (decimal arithmetic on the integer squared distance), then the smaller _row of
    the pair, then the larger."""
    recs = frame.sort_values("_row").to_dict("records")
    cand = []
    with localcontext() as ctx:
        ctx.prec = 40
        for ri, rj in itertools.combinations(recs, 2):
            limit = max(50.0, ri["loc_precision_m"] + rj["loc_precision_m"] + 50.0)
            dist2 = int((ri["x"] - rj["x"]) ** 2 + (ri["y"] - rj["y"]) ** 2)
            days = abs((ri["when"] - rj["when"]).days)
            if (
                ri["source"] != rj["source"]
                and ri["category"] == rj["category"]
                and dist2 <= limit**2
                and days <= 7
            ):
                score = Decimal(dist2).sqrt() / Decimal(limit) + Decimal(days) / 7
                key = (score.quantize(Decimal("1e-9")), ri["_row"], rj["_row"])
                cand.append((key, ri["incident_id"], rj["incident_id"]))
    taken, expected = set(), set()
    for _, i, j in sorted(cand):
        if i not in taken and j not in taken:
            taken |= {i, j}
            expected.add(frozenset({i, j}))
    return expected


@settings(max_examples=300, deadline=None)
@given(_two_source_incidents())
def test_matches_brute_force_greedy(frame) -> None:
    # Nothing learnt, so the score is distance / limit + days / 7, matched greedily one to
    # one; equal scores in _row order.
    result = link_duplicates(frame)
    assert result.params["learnt"] == {}
    assert {frozenset(g["id"]) for _, g in result.links.groupby("group")} == _reference_greedy(
        frame
    )


def test_input_errors() -> None:
    frame = _inc([("a", "A", "2025-06-03", "day", ASB, 0, 0, 0)])
    with pytest.raises(InputError, match="loc_precision_m"):
        link_duplicates(frame.drop(columns="loc_precision_m"))
    with pytest.raises(InputError, match="distance_m"):
        link_duplicates(frame, distance_m=-5)
    with pytest.raises(InputError, match="window_days"):
        link_duplicates(frame, window_days=float("nan"))
    with pytest.raises(InputError, match="_row"):
        link_duplicates(pd.concat([frame, frame]))
    with pytest.raises(InputError, match="precision"):
        link_duplicates(frame.assign(precision="year"))
    with pytest.raises(InputError, match="'x'"):
        link_duplicates(frame.assign(x=np.nan))
    with pytest.raises(InputError, match="min_probability"):
        link_duplicates(frame, min_probability=1.5)
    assert link_duplicates(frame.iloc[:0]).links.empty


# --- repeat callers ---------------------------------------------------------------------


def _calls(rows: list[tuple[str, str, object]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "when": pd.to_datetime([r[0] for r in rows]),
            "source": [r[1] for r in rows],
            "Caller ID": [r[2] for r in rows],
            "beat": ["N1", "N2"] * (len(rows) // 2) + ["N1"] * (len(rows) % 2),
        }
    )


def test_three_in_twelve_months_yes_over_thirteen_no() -> None:
    rows = [
        ("2025-01-01", "council", "C9"),
        ("2025-06-15", "police", "C9"),
        ("2025-12-31", "council", "C9"),  # three inside 12 months
        ("2025-01-10", "council", "D4"),
        ("2025-07-01", "council", "D4"),
        ("2026-01-10", "council", "D4"),  # the 12 months end on 2026-01-09
        ("2025-02-01", "council", "E1"),
        ("2025-02-02", "council", "E1"),
    ]
    r = repeat_callers(_calls(rows), person_column="Caller ID")
    assert r.flags["_repeat_caller"].tolist() == [True] * 3 + [False] * 5
    assert r.persons["max_in_window"].tolist() == [3, 2, 2]
    assert r.params["repeat_callers"] == 1
    lenient = repeat_callers(_calls(rows), person_column="Caller ID", window_months=13)
    assert lenient.flags["_repeat_caller"].tolist() == [True] * 6 + [False] * 2
    two = repeat_callers(_calls(rows), person_column="Caller ID", min_incidents=2)
    assert two.flags["_repeat_caller"].all()


def test_only_incidents_inside_a_busy_window_are_flagged() -> None:
    rows = [
        ("2023-01-05", "c", "A"),
        ("2023-02-05", "c", "A"),
        ("2023-03-05", "c", "A"),
        ("2025-06-01", "c", "A"),
    ]
    r = repeat_callers(_calls(rows), person_column="Caller ID")
    assert r.flags["_repeat_caller"].tolist() == [True, True, True, False]


def test_blank_ids_are_not_persons_and_sources_option() -> None:
    rows = [
        ("2025-01-01", "council", ""),
        ("2025-01-02", "council", None),
        ("2025-01-03", "council", "  "),
        ("2025-01-04", "council", np.nan),
        ("2025-02-01", "council", "X1"),
        ("2025-02-02", "police", "X1"),
        ("2025-02-03", "police", " X1 "),
    ]
    r = repeat_callers(_calls(rows), person_column="Caller ID")
    assert r.flags["_person"].isna().tolist() == [True] * 4 + [False] * 3
    assert r.flags["_repeat_caller"].tolist() == [False] * 4 + [True] * 3
    assert r.params["rows_without_person"] == 4 and r.params["persons"] == 1
    apart = repeat_callers(_calls(rows), person_column="Caller ID", across_sources=False)
    assert not apart.flags["_repeat_caller"].any() and apart.params["persons"] == 2


def test_no_ids_in_any_output_and_counts_per_area() -> None:
    rows = [(f"2025-0{m}-01", "council", "SECRET-ID-1") for m in range(1, 5)]
    rows += [("2025-03-03", "council", "secret-2")]
    frame = _calls(rows).set_index(pd.Index([10, 11, 12, 13, 14]))
    r = repeat_callers(frame, person_column="Caller ID", area_columns=["beat"])
    assert r.flags.index.tolist() == [10, 11, 12, 13, 14]
    text = "".join(t.to_csv() for t in (r.flags, r.persons, r.per_area)) + repr(r.params)
    assert "SECRET" not in text and "secret" not in text
    assert r.per_area.to_dict("records") == [
        {"layer": "beat", "area": "N1", "repeat_callers": 1, "incidents_from_repeat_callers": 2},
        {"layer": "beat", "area": "N2", "repeat_callers": 1, "incidents_from_repeat_callers": 2},
    ]
    whole = repeat_callers(frame, person_column="Caller ID").per_area
    assert whole.to_dict("records") == [
        {"layer": "all", "area": "all", "repeat_callers": 1, "incidents_from_repeat_callers": 4}
    ]


def test_repeat_caller_errors() -> None:
    frame = _calls([("2025-01-01", "c", "A")])
    with pytest.raises(InputError, match="Caller"):
        repeat_callers(frame, person_column="Caller")
    with pytest.raises(InputError, match="min_incidents"):
        repeat_callers(frame, person_column="Caller ID", min_incidents=0)
    with pytest.raises(InputError, match="window_months"):
        repeat_callers(frame, person_column="Caller ID", window_months=1.5)


# --- the synthetic partnership pair, end to end through the loaders ---------------------


@pytest.fixture(scope="module")
def slice_setup(police_slice: Path) -> tuple[pd.DataFrame, PostcodeIndex]:
    police_uk = load_incidents(InputSpec.police_uk(police_slice)).incidents
    return locate_incidents(police_uk).incidents, PostcodeIndex.from_table(read_postcode_table()[0])


def _run_pair(
    police_uk: pd.DataFrame,
    postcodes: PostcodeIndex,
    folder: Path,
    link_kw=None,
    month_files: list[Path] | None = None,
    **kw,
) -> tuple[dict[str, float], LinkResult]:
    """Build the pair, write it as an analyst's folder, load it by config, link, score.

    With ``month_files`` the council export is linked against those police.uk files (the
    month case) instead of the police case export."""
    pair = synthetic_partner_exports(police_uk, postcodes, **kw)
    for rel, table in pair.files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(folder / rel, index=False)
    (folder / "hotspots.toml").write_text(pair.config_toml, encoding="utf-8")
    pair.truth.to_csv(folder / "truth.csv", index=False)
    inputs = load_config(folder / "hotspots.toml").inputs
    police, police_id = "police_cases", "police_ref"
    if month_files is not None:
        inputs = [*(i for i in inputs if i.source == "council"), InputSpec.police_uk(month_files)]
        police, police_id = "police.uk", "police_uk_id"
    loaded = load_incidents(inputs)
    located = locate_incidents(loaded.incidents, postcodes=postcodes)
    assert located.rejects.empty and not loaded.unmapped_categories
    assert month_files is not None or loaded.rejects.empty  # police.uk has unlocated rows
    truth = set(zip(pair.truth[police_id], pair.truth["council_ref"], strict=True))
    result = link_duplicates(located.incidents, postcode_points=postcodes, **(link_kw or {}))
    scores = score_links(result.links, located.incidents, truth, police_source=police)
    return scores, result


@pytest.fixture(scope="module")
def county_2025() -> pd.DataFrame:
    """All 2025 Leicestershire police.uk rows (103k), located."""
    files = sorted(EMBEDDED_POLICE_UK.glob("2025-*-leicestershire-street.csv.gz"))
    return locate_incidents(load_incidents(InputSpec.police_uk(files)).incidents).incidents


def test_linkage_meets_the_target_county_wide(slice_setup, county_2025, tmp_path: Path) -> None:
    # A council export re-reporting 30% of ASB and criminal damage, plus council-only
    # reports half as many, where real incidents happen. Defaults, given the postcode table
    # the run located with.
    s, result = _run_pair(county_2025, slice_setup[1], tmp_path)
    assert s["true"] == 6694 and len(result.kept) + len(result.merged) == 113_127
    # Partner or a same-point, same-category look-alike; right council records merged.
    for measure in ("place", "record"):
        assert s[f"{measure}_precision"] >= 0.95 and s[f"{measure}_recall"] >= 0.95, s
    # Measured 0.915 / 0.916 exact and 0.926 / 0.926 twin (docs/partnership.md).
    assert min(s["precision"], s["recall"], s["twin_precision"], s["twin_recall"]) >= 0.90
    learnt = result.params["learnt"]["police_cases -> council"]
    assert learnt["median"] in (1, 2) and sum(learnt["shares"][d] for d in range(4)) > 0.9


def test_month_rows_keep_their_distance_evidence(slice_setup, county_2025, tmp_path: Path) -> None:
    # Month-only police.uk rows against the council export: the time evidence is the month,
    # so the distance evidence decides. It is learnt in units of the records' spread, not
    # as a share of the widened limit (that share lumped 20 m and 45 m pairs in a city
    # together: look-alike recall fell to 0.543 on this seed). Measured 0.850 / 0.862, as
    # in the release before the limit was widened.
    files = sorted(EMBEDDED_POLICE_UK.glob("2025-*-leicestershire-street.csv.gz"))
    s, result = _run_pair(county_2025, slice_setup[1], tmp_path, month_files=files, seed=1)
    assert s["place_precision"] >= 0.84 and s["place_recall"] >= 0.85, s
    assert set(result.groups["time_basis"]) == {"month"}


def test_linkage_of_postcode_geocoded_re_reports(slice_setup, county_2025, tmp_path: Path) -> None:
    # Issue 20: every re-report at a random postcode centroid within 150 m of the police
    # point (not the nearest: 3,317 of 6,528 are 100-150 m away), 0-2 days later.
    geo = {"postcode_within_m": 150.0, "near_m": 150.0, "max_delay_days": 2}
    only, _ = _run_pair(county_2025, slice_setup[1], tmp_path / "only", council_only=0.0, **geo)
    # Re-reports only, as in the issue: measured 0.965 / 0.960 look-alike, 1.000 / 0.995
    # records (before the postcode precision became a floor: records recall 0.757).
    for measure in ("place", "record"):
        assert only[f"{measure}_precision"] >= 0.95 and only[f"{measure}_recall"] >= 0.95, only
    # With council-only reports half as many, located the same way.
    s, result = _run_pair(county_2025, slice_setup[1], tmp_path / "full", **geo)
    assert s["true"] == 6528
    # The right council records merged: measured 0.955 / 0.989.
    assert s["record_precision"] >= 0.95 and s["record_recall"] >= 0.95, s
    # Partner or look-alike: measured 0.921 / 0.955. Even knowing which council records are
    # re-reports the partner is chosen right only 96.5% of the time (other police records
    # of the category within 150 m and 0-2 days, at other points), so look-alike precision
    # is about 0.965 x records precision (docs/partnership.md).
    assert s["place_precision"] >= 0.90 and s["place_recall"] >= 0.95, s
    merged = set(result.links.loc[~result.links["kept"], "id"])
    by_band = _recall_by_band(merged, tmp_path / "full")
    assert min(by_band.values()) >= 0.95, by_band  # each distance band and each delay


def _recall_by_band(merged: set[str], folder: Path) -> dict[str, float]:
    """Records recall of the re-reports by distance band (0-50, 50-100, 100-150 m) and by
    delay (0, 1, 2 days), from the exports written in ``folder``."""
    police = pd.read_csv(folder / "exports" / "police_cases.csv").set_index("Case Ref")
    council = pd.read_csv(folder / "exports" / "council_asb.csv").set_index("Case Ref")
    loaded = load_incidents(load_config(folder / "hotspots.toml").inputs).incidents
    located = locate_incidents(loaded, postcodes=PostcodeIndex.from_table(read_postcode_table()[0]))
    at = located.incidents.set_index("incident_id")
    pairs = pd.read_csv(folder / "truth.csv")
    p_xy = police.loc[pairs["police_ref"], ["Easting", "Northing"]].to_numpy(float)
    c_xy = at.loc[pairs["council_ref"], ["x", "y"]].to_numpy(float)
    dist = np.hypot(*(p_xy - c_xy).T)
    delay = (
        pd.to_datetime(
            council.loc[pairs["council_ref"], "Date Reported"], format="%d/%m/%Y"
        ).to_numpy()
        - pd.to_datetime(
            police.loc[pairs["police_ref"], "Date Reported"], format="%d/%m/%Y"
        ).to_numpy()
    ) // np.timedelta64(1, "D")
    hit = pairs["council_ref"].isin(merged).to_numpy()
    out = {}
    for lo, hi in ((0, 50), (50, 100), (100, np.inf)):  # up to 150 m, plus rounding
        out[f"{lo}-{min(hi, 150)} m"] = float(hit[(dist >= lo) & (dist < hi)].mean())
    for d in (0, 1, 2):
        out[f"{d} days"] = float(hit[delay == d].mean())
    return out


def test_linkage_on_city_centre_pair(slice_setup, tmp_path: Path) -> None:
    # Leicester city centre, two months: the densest part of the county. Every council
    # record a re-report: linked to its partner or a look-alike nearly always.
    clean, _ = _run_pair(*slice_setup, tmp_path / "clean", council_only=0.0)
    assert clean["place_precision"] >= 0.98 and clean["place_recall"] >= 0.93
    # Council-only reports at hot spots coincide with police records in place, day and
    # category; measured 0.906 / 0.941 look-alike, 0.914 / 0.949 by record (one of the 256
    # re-reports is 0.004; 0.906 / 0.945 and 0.918 / 0.957 with the 100 m limits of dense
    # centroids, which missed re-reports geocoded further away).
    full, _ = _run_pair(*slice_setup, tmp_path / "full")
    assert full["place_precision"] >= 0.88 and full["place_recall"] >= 0.93
    assert full["record_precision"] >= 0.9 and full["record_recall"] >= 0.94
    # Without the probability rule every coincidence in the window may link.
    loose, _ = _run_pair(*slice_setup, tmp_path / "loose", link_kw={"min_probability": 0})
    assert loose["place_precision"] < full["place_precision"] - 0.02


def test_synthetic_pair_shape_and_truth(slice_setup) -> None:
    police_uk, postcodes = slice_setup
    pair = synthetic_partner_exports(police_uk, postcodes, seed=4)
    again = synthetic_partner_exports(police_uk, postcodes, seed=4)
    pd.testing.assert_frame_equal(pair.council, again.council)
    assert list(pair.police_cases.columns) == [
        "Case Ref",
        "Date Reported",
        "Offence",
        "Easting",
        "Northing",
    ]
    assert list(pair.council.columns) == [
        "Case Ref",
        "Date Reported",
        "ASB Type",
        "Postcode",
        "Caller ID",
        "Risk Level",
    ]
    assert len(pair.police_cases) == len(police_uk)
    asb_cd = police_uk["category"].isin([ASB, CD]).sum()
    assert len(pair.truth) == pytest.approx(0.3 * asb_cd, abs=1)
    assert len(pair.council) == len(pair.truth) + round(0.5 * len(pair.truth))
    assert set(pair.council["ASB Type"]) <= set(COUNCIL_CATEGORIES)
    police = pair.police_cases.set_index("Case Ref")
    council = pair.council.set_index("Case Ref")
    day = pd.to_datetime(
        police.loc[pair.truth["police_ref"], "Date Reported"], format="%d/%m/%Y"
    ).to_numpy()
    later = pd.to_datetime(
        council.loc[pair.truth["council_ref"], "Date Reported"], format="%d/%m/%Y"
    ).to_numpy()
    assert set((later - day) // np.timedelta64(1, "D")) == {0, 1, 2, 3}
    cfg = tomllib.loads(pair.config_toml)
    assert {i["source"] for i in cfg["inputs"]} == {"police_cases", "council"}
    # Re-reports and council-only reports alike sit at the postcode nearest a real ASB or
    # criminal damage incident.
    tidy = council["Postcode"].str.upper().str.replace(" ", "")
    cases = pair.police_cases[pair.police_cases["Offence"].isin([ASB, CD])]
    pcs = postcodes.full
    near = cKDTree(pcs[["x", "y"]].to_numpy()).query(cases[["Easting", "Northing"]].to_numpy())[1]
    asb_cd_near = set(pcs.index[near].str.replace(" ", ""))
    assert set(tidy) <= asb_cd_near


def test_synthetic_pair_late_reports_and_spread(slice_setup) -> None:
    police_uk, postcodes = slice_setup
    pair = synthetic_partner_exports(police_uk, postcodes, late_share=1.0, near_m=300.0)
    police = pair.police_cases.set_index("Case Ref")
    council = pair.council.set_index("Case Ref")
    gap = (
        pd.to_datetime(
            council.loc[pair.truth["council_ref"], "Date Reported"], format="%d/%m/%Y"
        ).to_numpy()
        - pd.to_datetime(
            police.loc[pair.truth["police_ref"], "Date Reported"], format="%d/%m/%Y"
        ).to_numpy()
    )
    assert set(gap // np.timedelta64(1, "D")) == {4, 5, 6, 7}
    with pytest.raises(InputError, match="late_share"):
        synthetic_partner_exports(police_uk, postcodes, late_share=2.0)


def test_synthetic_pair_postcode_within(slice_setup) -> None:
    police_uk, postcodes = slice_setup
    pair = synthetic_partner_exports(
        police_uk, postcodes, postcode_within_m=150.0, near_m=150.0, max_delay_days=2, seed=3
    )
    again = synthetic_partner_exports(
        police_uk, postcodes, postcode_within_m=150.0, near_m=150.0, max_delay_days=2, seed=3
    )
    pd.testing.assert_frame_equal(pair.council, again.council)
    police = pair.police_cases.set_index("Case Ref").loc[pair.truth["police_ref"]]
    council = pair.council.set_index("Case Ref").loc[pair.truth["council_ref"]]
    tidy = council["Postcode"].str.upper().str.replace(" ", "")
    pcs = postcodes.full.set_index(postcodes.full.index.str.replace(" ", ""))
    dist = np.hypot(
        *(police[["Easting", "Northing"]].to_numpy() - pcs.loc[tidy, ["x", "y"]].to_numpy()).T
    )
    # Not the nearest centroid: spread over the whole 150 m, most of them beyond 100 m.
    assert dist.max() <= 151 and np.mean(dist >= 100) > 0.4 and np.mean(dist < 50) > 0.05
    gap = (
        pd.to_datetime(council["Date Reported"], format="%d/%m/%Y").to_numpy()
        - pd.to_datetime(police["Date Reported"], format="%d/%m/%Y").to_numpy()
    )
    assert set(gap // np.timedelta64(1, "D")) == {0, 1, 2}
    with pytest.raises(InputError, match="postcode_within_m"):
        synthetic_partner_exports(police_uk, postcodes, postcode_within_m=-1.0)
