"""Cell scoring (hotspots.scoring), hit rate / PAI / PEI / RRI and backtests (hotspots.evaluate),
and ``run_evaluation`` end to end on the shipped police.uk slice."""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hotspots.evaluate import (
    ALL_CATEGORIES,
    backtest_folds,
    backtest_summary,
    evaluate,
    hit_rate_pai,
    rolling_backtest,
)
from hotspots.grid import Grid, bin_counts, make_grid
from hotspots.schema import InputError
from hotspots.scoring import (
    BLEND_FALLBACK_WEIGHT,
    BLEND_WEIGHTS_TRIED,
    DEFAULT_METHOD,
    METHODS,
    ScoringMethod,
    as_method,
    cell_scores,
    rank_cells,
)

# --------------------------------------------------------------------------- hit_rate_pai


def test_hand_worked_measures() -> None:
    # 2 x 3 cells, all in the study area. Order by score: (0,0)=9, (1,2)=7, (0,2)=5, ...
    scores = np.array([[9.0, 1.0, 5.0], [2.0, 3.0, 7.0]])
    test = np.array([[4.0, 0.0, 1.0], [2.0, 0.0, 3.0]])  # T = 10
    train = np.array([[5.0, 1.0, 2.0], [0.0, 1.0, 1.0]])  # M = 10
    t = hit_rate_pai(scores, test, train_counts=train, area_shares=[1 / 6, 2 / 6, 0.5])
    assert t["cells"].tolist() == [1, 2, 3]
    assert t["hits"].tolist() == [4.0, 7.0, 8.0]
    assert t["hit_rate"].tolist() == pytest.approx([0.4, 0.7, 0.8])
    # PAI = hit rate / (k / N): 0.4·6, 0.7·3, 0.8·2
    assert t["pai"].tolist() == pytest.approx([2.4, 2.1, 1.6])
    # best possible: 4; 4+3; 4+3+2
    assert t["pei"].tolist() == pytest.approx([4 / 4, 7 / 7, 8 / 9])
    # RRI = (n / m) / (T / M); m = 5, 6, 8 training incidents caught
    assert t["rri"].tolist() == pytest.approx([(4 / 5) / 1, (7 / 6) / 1, (8 / 8) / 1])


def test_share_rounds_to_nearest_cell_and_pai_uses_actual_share() -> None:
    scores = np.arange(10.0)[::-1].reshape(2, 5)
    test = np.ones((2, 5))
    t = hit_rate_pai(scores, test, area_shares=[0.01, 0.25, 0.35])
    # 0.01 · 10 rounds to 0 cells -> at least 1; 2.5 rounds half up to 3; 3.5 -> 4
    assert t["cells"].tolist() == [1, 3, 4]
    assert t["pai"].tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_perfect_scores_give_pei_one() -> None:
    rng = np.random.default_rng(3)
    test = rng.poisson(0.7, size=(20, 30)).astype(float)
    t = hit_rate_pai(test, test, area_shares=[0.005, 0.01, 0.05, 0.1, 0.5, 1.0])
    assert t["pei"].tolist() == pytest.approx([1.0] * 6)
    assert t["hit_rate"].iloc[-1] == pytest.approx(1.0)
    assert t["pai"].iloc[-1] == pytest.approx(1.0)


def test_ties_are_broken_row_major_from_the_north_west() -> None:
    scores = np.array([[1.0, 2.0, 2.0], [2.0, 0.0, 1.0]])
    assert rank_cells(scores).tolist() == [1, 2, 3, 0, 5, 4]
    test = np.array([[0.0, 0.0, 5.0], [7.0, 0.0, 0.0]])
    flat = hit_rate_pai(np.ones((2, 3)), test, area_shares=[1 / 6, 3 / 6])
    assert flat["hits"].tolist() == [0.0, 5.0]  # cells (0,0) then (0,1), (0,2)
    again = hit_rate_pai(np.ones((2, 3)), test, area_shares=[1 / 6, 3 / 6])
    pd.testing.assert_frame_equal(flat, again)


def test_mask_excludes_cells_and_their_test_incidents() -> None:
    scores = np.array([[100.0, 1.0], [2.0, 3.0]])
    test = np.array([[50.0, 1.0], [0.0, 3.0]])
    mask = np.array([[False, True], [True, True]])
    t = hit_rate_pai(scores, test, mask=mask, area_shares=[1 / 3])
    # N = 3, T = 4 (the 50 outside are ignored); top in-area cell is (1,1) with 3
    assert t[["cells", "hits", "hit_rate", "pai"]].iloc[0].tolist() == pytest.approx(
        [1, 3.0, 0.75, 2.25]
    )
    # None mask: NaN scores are outside the study area
    nan_scores = np.where(mask, scores, np.nan)
    pd.testing.assert_frame_equal(t, hit_rate_pai(nan_scores, test, area_shares=[1 / 3]))


def test_nan_where_undefined() -> None:
    scores = np.array([[2.0, 1.0]])
    t = hit_rate_pai(
        scores, np.zeros((1, 2)), train_counts=np.array([[0.0, 4.0]]), area_shares=[0.5]
    )
    assert t[["hit_rate", "pai", "pei", "rri"]].isna().all(axis=None)
    t = hit_rate_pai(scores, np.array([[1.0, 1.0]]), area_shares=[0.5])
    assert math.isnan(t["rri"].iloc[0])  # no training counts given
    t = hit_rate_pai(
        scores, np.array([[1.0, 1.0]]), train_counts=np.array([[0.0, 4.0]]), area_shares=[0.5]
    )
    assert math.isnan(t["rri"].iloc[0])  # no training incidents in the selection


@pytest.mark.parametrize("bad", [[0.0], [1.5], [], [float("nan")]])
def test_bad_area_shares(bad: list[float]) -> None:
    with pytest.raises(InputError, match="area_shares"):
        hit_rate_pai(np.ones((2, 2)), np.ones((2, 2)), area_shares=bad)


def test_shape_mismatch() -> None:
    with pytest.raises(InputError, match="test_counts has shape"):
        hit_rate_pai(np.ones((2, 2)), np.ones((2, 3)))


def _brute_force(
    scores: np.ndarray, test: np.ndarray, train: np.ndarray, share: float
) -> tuple[float, float, float, float]:
    cells = [(-s, i) for i, s in enumerate(scores.ravel())]
    n = len(cells)
    k = max(1, int(math.floor(share * n + 0.5)))
    chosen = [i for _, i in sorted(cells)[:k]]
    hits = sum(test.ravel()[i] for i in chosen)
    total = test.sum()
    best = sum(sorted(test.ravel(), reverse=True)[:k])
    caught = sum(train.ravel()[i] for i in chosen)
    hr = hits / total if total else math.nan
    pai = hr / (k / n)
    pei = hits / best if best else math.nan
    rri = (hits / caught) / (total / train.sum()) if caught and total else math.nan
    return hr, pai, pei, rri


@settings(max_examples=60, deadline=None)
@given(
    scores=arrays(float, (4, 5), elements=st.integers(0, 4).map(float)),
    test=arrays(float, (4, 5), elements=st.integers(0, 3).map(float)),
    train=arrays(float, (4, 5), elements=st.integers(0, 3).map(float)),
    share=st.sampled_from([0.05, 0.1, 0.25, 0.5, 0.8, 1.0]),
)
def test_matches_brute_force(scores, test, train, share) -> None:
    got = hit_rate_pai(scores, test, train_counts=train, area_shares=[share]).iloc[0]
    want = _brute_force(scores, test, train, share)
    np.testing.assert_allclose([got.hit_rate, got.pai, got.pei, got.rri], want, equal_nan=True)
    if test.sum() > 0:
        assert 0.0 <= got.pei <= 1.0 + 1e-12


# --------------------------------------------------------------------------- scoring

GRID = Grid(xmin=0.0, ymax=1000.0, cell_size_m=100.0, nrows=10, ncols=10)


def _incidents(n: int, months: list[str], seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    hot = rng.random(n) < 0.6
    x = np.where(hot, rng.normal(250, 40, n), rng.uniform(0, 1000, n)).clip(1, 999)
    y = np.where(hot, rng.normal(750, 40, n), rng.uniform(0, 1000, n)).clip(1, 999)
    when = pd.to_datetime(rng.choice(months, n))
    cat = rng.choice(["Burglary", "Anti-social behaviour"], n)
    return pd.DataFrame({"when": when, "category": cat, "x": x, "y": y})


def test_counts_method_equals_bin_counts_and_masks() -> None:
    inc = _incidents(200, ["2024-01"])
    mask = np.ones(GRID.shape, bool)
    mask[0, :3] = False
    grid = GRID.with_mask(mask)
    got = cell_scores(inc, grid, method="counts")
    want = bin_counts(grid, inc["x"].to_numpy(), inc["y"].to_numpy())
    np.testing.assert_array_equal(got[mask], want[mask])
    assert np.isnan(got[~mask]).all()


def test_default_method_exists_and_runs(caplog: pytest.LogCaptureFixture) -> None:
    assert DEFAULT_METHOD.name in METHODS
    inc = _incidents(400, [f"2024-{m:02d}" for m in range(1, 13)])
    with caplog.at_level(logging.INFO, logger="hotspots.scoring"):
        s = cell_scores(inc, GRID)
    assert s.shape == GRID.shape and np.isfinite(s).all()
    weight = [r for r in caplog.messages if r.startswith("Blend weight set to")]
    assert len(weight) == 1 and "temporal cross-validation" in weight[0]
    assert float(weight[0].split()[4]) in BLEND_WEIGHTS_TRIED
    # counts order kept: the busiest cell scores highest
    counts = bin_counts(GRID, inc["x"].to_numpy(), inc["y"].to_numpy())
    assert np.unravel_index(np.argmax(s), s.shape) == np.unravel_index(np.argmax(counts), s.shape)


def test_blend_weight_cv_picks_the_smallest_weight_that_finds_the_held_out_cell() -> None:
    # Early months: 10 incidents in each of the four cells around (2, 2), which has none,
    # and single incidents in isolated cells. The last 3 months: incidents at (2, 2) only.
    # Of 100 cells, the top 5 (5 %) hold (2, 2) only when weight × KDE there exceeds an
    # isolated cell's count of 1: KDE(2, 2) ≈ 4 · 10 · 0.035 = 1.4, so weight 1, not 0.1/0.25.
    def centre(r: int, c: int) -> tuple[float, float]:
        return 50.0 + 100 * c, 950.0 - 100 * r

    rows = [
        (*centre(r, c), "2024-01-01")
        for r, c in [(1, 2), (3, 2), (2, 1), (2, 3)]
        for _ in range(10)
    ]
    rows += [(*centre(r, c), "2024-02-01") for r, c in [(8, 8), (8, 1), (1, 8), (6, 6)]]
    rows += [(*centre(2, 2), m) for m in ("2024-04-01", "2024-05-01", "2024-06-01")]
    inc = pd.DataFrame(rows, columns=["x", "y", "when"]).assign(
        when=lambda d: pd.to_datetime(d["when"])
    )
    np.testing.assert_array_equal(
        cell_scores(inc, GRID), cell_scores(inc, GRID, weight=1.0, bandwidth_m=200.0)
    )


def test_blend_weight_falls_back_without_months(caplog: pytest.LogCaptureFixture) -> None:
    xy = _incidents(50, ["2024-01"])[["x", "y"]].to_numpy()
    with caplog.at_level(logging.INFO, logger="hotspots.scoring"):
        got = cell_scores(xy, GRID)
    assert any(f"Blend weight set to {BLEND_FALLBACK_WEIGHT:g}" in m for m in caplog.messages)
    np.testing.assert_allclose(got, cell_scores(xy, GRID, weight=BLEND_FALLBACK_WEIGHT))


def test_blend_is_counts_plus_weighted_kde() -> None:
    inc = _incidents(100, ["2024-01"])
    got = cell_scores(inc, GRID, method="blend", weight=0.5, bandwidth_m=150)
    kde = cell_scores(inc, GRID, method="kde", kernel="gaussian", bandwidth_m=150)
    np.testing.assert_allclose(got, cell_scores(inc, GRID, method="counts") + 0.5 * kde)


def test_half_life_weights_by_month_age() -> None:
    inc = pd.DataFrame(
        {
            "when": pd.to_datetime(["2024-07-01", "2024-01-01", "2024-01-01"]),
            "x": [50.0, 950.0, 950.0],
            "y": [950.0, 50.0, 50.0],
        }
    )
    s = cell_scores(inc, GRID, method="counts", half_life_months=6)
    assert s[0, 0] == 1.0 and s[9, 9] == 1.0  # two incidents six months older: 2 · 0.5
    with pytest.raises(InputError, match="'when'"):
        cell_scores(inc[["x", "y"]].to_numpy(), GRID, method="counts", half_life_months=6)


def test_empty_training_scores_zero() -> None:
    for method in METHODS:
        s = cell_scores(np.empty((0, 2)), GRID, method=method)
        assert (s == 0).all()


def test_method_validation() -> None:
    with pytest.raises(InputError, match="is not one of"):
        cell_scores(np.zeros((1, 2)), GRID, method="hotness")
    with pytest.raises(InputError, match="has no parameter 'radius'"):
        as_method("counts", radius=3)
    m = ScoringMethod("blend", {"weight": 1})
    assert as_method(m, bandwidth_m=50).params == {"weight": 1, "bandwidth_m": 50}
    assert m.params == {"weight": 1}
    with pytest.raises(TypeError):
        DEFAULT_METHOD.params["weight"] = 2  # type: ignore[index]


# --------------------------------------------------------------------------- evaluate / folds


def test_evaluate_table_and_params() -> None:
    inc = _incidents(300, ["2024-01", "2024-02"], seed=1)
    train, test = inc[inc["when"] < "2024-02-01"], inc[inc["when"] >= "2024-02-01"]
    ev = evaluate(train, test, GRID, area_shares=[0.01, 0.1])
    assert list(ev.table.columns) == [
        "method",
        "area_share",
        "cells",
        "hits",
        "hit_rate",
        "pai",
        "pei",
        "rri",
    ]
    assert ev.table["method"].unique().tolist() == ["default", "counts", "kde"]
    assert (ev.n_train, ev.n_test) == (len(train), len(test))
    counts = ev.table[ev.table["method"] == "counts"].reset_index(drop=True)
    want = hit_rate_pai(
        cell_scores(train, GRID, method="counts"),
        bin_counts(GRID, test["x"].to_numpy(), test["y"].to_numpy()),
        train_counts=bin_counts(GRID, train["x"].to_numpy(), train["y"].to_numpy()),
        area_shares=[0.01, 0.1],
    )
    pd.testing.assert_frame_equal(counts.drop(columns="method"), want)
    assert ev.params()["methods"]["default"] == {"name": "blend", "params": {}}


def test_folds_follow_runs_of_months_without_leaks() -> None:
    months = [
        *pd.period_range("2020-01", "2020-12", freq="M"),
        *pd.period_range("2022-01", "2022-09", freq="M"),
    ]
    folds = backtest_folds(months, train_months=6, test_months=3, step_months=3)
    got = [(str(f.train_from), str(f.train_to), str(f.test_from), str(f.test_to)) for f in folds]
    assert got == [
        ("2020-01", "2020-06", "2020-07", "2020-09"),
        ("2020-04", "2020-09", "2020-10", "2020-12"),
        ("2022-01", "2022-06", "2022-07", "2022-09"),
    ]
    with pytest.raises(InputError, match="train_months"):
        backtest_folds(months, train_months=0)


def test_rolling_backtest_uses_the_right_months() -> None:
    months = [f"2023-{m:02d}" for m in range(1, 13)]
    inc = _incidents(600, months, seed=2)
    table = rolling_backtest(
        inc,
        GRID,
        train_months=6,
        test_months=2,
        step_months=2,
        categories=[None, "burglary"],
        methods=["counts"],
        area_shares=[0.05],
    )
    assert table["fold"].unique().tolist() == [0, 1, 2]
    assert table["category"].unique().tolist() == [ALL_CATEGORIES, "burglary"]
    month = inc["when"].dt.to_period("M").astype(str)
    for row in table.itertuples():
        assert row.train_to < row.test_from
        sel = inc["category"].eq("Burglary") if row.category == "burglary" else True
        n_train = int((sel & month.between(row.train_from, row.train_to)).sum())
        n_test = int((sel & month.between(row.test_from, row.test_to)).sum())
        assert (row.n_train, row.n_test) == (n_train, n_test)
    summary = backtest_summary(table, area_shares=[0.05])
    assert summary.columns.tolist() == ["category", "method", "folds", "pai_0.05"]
    assert summary["folds"].tolist() == [3, 3]
    mean = table.loc[table["category"] == "burglary", "pai"].mean()
    assert summary.loc[1, "pai_0.05"] == pytest.approx(mean)
    with pytest.raises(InputError, match="not in the data"):
        rolling_backtest(inc, GRID, train_months=6, categories=["Robbery"])


# --------------------------------------------------------------------------- run_evaluation


def test_run_evaluation_end_to_end(police_slice, tmp_path) -> None:
    from hotspots.io import InputSpec
    from hotspots.pipeline import RunConfig, run_evaluation

    cfg = RunConfig(inputs=[InputSpec.police_uk(police_slice)], areas=[])
    backtest = run_evaluation(
        cfg, train=("2025-06", "2025-06"), test=("2025-07", "2025-07"), out=tmp_path
    )
    table = backtest.table
    written = json.loads((tmp_path / "evaluation.json").read_text(encoding="utf-8"))
    assert backtest.metadata["rows"] == written["rows"] and written["rows"]["rows_used"] > 0
    csv = pd.read_csv(tmp_path / "evaluation.csv")
    assert {"method", "area_share", "hit_rate", "pai", "pei", "rri"} <= set(csv.columns)
    assert {"default", "counts"} <= set(csv["method"])
    for method in ("default", "counts"):
        shares = csv.loc[csv["method"] == method, "area_share"].tolist()
        assert shares == pytest.approx([0.005, 0.01, 0.02, 0.05, 0.1])
    assert len(csv) == len(table)
    assert (csv["n_train"] > 0).all() and (csv["n_test"] > 0).all()
    assert csv["pai"].between(0, 1 / 0.005 + 1e-6).all()
    assert (tmp_path / "evaluation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InputError, match="must start after"):
        run_evaluation(cfg, train=("2025-06", "2025-07"), test=("2025-07", "2025-07"), out=tmp_path)


def test_run_evaluation_with_beats_uses_the_run_grid(police_slice, tmp_path) -> None:
    from hotspots.io import InputSpec
    from hotspots.pipeline import GridConfig, RunConfig, run_evaluation

    cfg = RunConfig(
        inputs=[InputSpec.police_uk(police_slice)],
        areas=[("leicestershire/beats", {})],
        grid=GridConfig(cell_size_m=500),
    )
    table = run_evaluation(
        cfg,
        train=("2025-06", "2025-06"),
        test=("2025-07", "2025-07"),
        category="anti-social behaviour",
        out=tmp_path,
    ).table
    assert (table["cell_size_m"] == 500).all()
    assert (table["category"] == "anti-social behaviour").all()
    # The study area is the union of the beats: k = 0.5 % of its 500 m cells.
    assert table["cells"].iloc[0] == math.floor(0.005 * _beats_cells(500) + 0.5)


def _beats_cells(cell_m: float) -> int:
    from hotspots.boundaries import load_areas, study_area
    from hotspots.grid import mask_from_geometry

    area = study_area(load_areas("leicestershire/beats"))
    grid = make_grid(area.bounds, cell_size_m=cell_m)
    return int(mask_from_geometry(grid, area).sum())
