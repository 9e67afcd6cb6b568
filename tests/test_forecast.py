"""The forecast model (hotspots.forecast), its scoring method and the --methods parse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hotspots import forecast as fc
from hotspots.cli import build_parser
from hotspots.evaluate import evaluate, rolling_backtest
from hotspots.grid import Grid
from hotspots.pipeline import parse_methods
from hotspots.schema import InputError
from hotspots.scoring import FORECAST_METHOD, ScoringMethod, as_method, cell_scores


def _grid(n: int = 12, cell: float = 100.0) -> Grid:
    return Grid(xmin=0.0, ymax=n * cell, cell_size_m=cell, nrows=n, ncols=n)


def _incidents(months: int = 12, seed: int = 1, n: int = 12) -> pd.DataFrame:
    """A hot cell, a warm cell and scattered noise over ``months`` months from 2025-01."""
    rng = np.random.default_rng(seed)
    rows = []
    for m in range(months):
        when = pd.Timestamp(2025, 1, 1) + pd.DateOffset(months=m)
        pts = [(250.0, 950.0)] * 4 + [(850.0, 350.0)] * 2
        pts += [tuple(p) for p in rng.uniform(0, n * 100.0, size=(3, 2))]
        for x, y in pts:
            rows.append({"x": x, "y": y, "when": when, "category": "Burglary"})
            rows.append({"x": x + 1, "y": y - 1, "when": when, "category": "Anti-social behaviour"})
    return pd.DataFrame(rows)


def test_monthly_stack_counts_each_month_and_cell():
    g = _grid(3, 10.0)
    xy = np.array([[5.0, 25.0], [5.0, 25.0], [25.0, 5.0], [99.0, 99.0]])
    month = np.array([24301, 24303, 24303, 24302])  # the last point is off the grid
    s = fc.monthly_stack(xy, month, g, first=24300, last=24303)
    assert s.shape == (4, 3, 3)
    assert s.sum() == 3
    assert s[1, 0, 0] == 1 and s[3, 0, 0] == 1 and s[3, 2, 2] == 1


def test_smooth_matches_a_brute_force_loop():
    rng = np.random.default_rng(0)
    surface = rng.poisson(0.3, size=(9, 11)).astype(float)
    sigma = 1.5
    k = fc.gaussian_stencil(sigma)
    r = k.shape[0] // 2
    brute = np.zeros_like(surface)
    for i in range(surface.shape[0]):
        for j in range(surface.shape[1]):
            for di in range(-r, r + 1):
                for dj in range(-r, r + 1):
                    ii, jj = i + di, j + dj
                    if 0 <= ii < surface.shape[0] and 0 <= jj < surface.shape[1]:
                        brute[i, j] += k[di + r, dj + r] * surface[ii, jj]
    np.testing.assert_allclose(fc.smooth(surface, sigma), brute, atol=1e-12)


def test_cell_features_against_a_brute_force_loop():
    rng = np.random.default_rng(3)
    stack = rng.poisson(0.4, size=(6, 7, 8)).astype(float)
    context = stack + rng.poisson(0.5, size=stack.shape)
    f = fc.cell_features(stack, 100.0, context=context, sigmas_m=(100.0, 250.0), recent_months=2)
    names = fc.feature_names((100.0, 250.0), context=True)
    assert f.shape == (len(names), 7, 8)
    col = {n: f[i] for i, n in enumerate(names)}
    for i in range(7):
        for j in range(8):
            series = [stack[m, i, j] for m in range(6)]
            assert col["rate"][i, j] == pytest.approx(sum(series) / 6)
            assert col["recent_rate"][i, j] == pytest.approx(sum(series[-2:]) / 2)
            assert col["active_share"][i, j] == pytest.approx(sum(v > 0 for v in series) / 6)
            assert col["context_rate"][i, j] == pytest.approx(context[:, i, j].sum() / 6)
    np.testing.assert_allclose(col["smooth_250m"], fc.smooth(stack.sum(0) / 6, 2.5), atol=1e-12)
    np.testing.assert_allclose(
        col["context_smooth_100m"], fc.smooth(context.sum(0) / 6, 1.0), atol=1e-12
    )


@pytest.mark.parametrize("n_windows", [3, fc.N_WINDOWS])
def test_training_windows_stay_inside_the_training_months(n_windows):
    for n in range(1, 40):
        windows = fc.training_windows(n, horizon=3, n_windows=n_windows)
        for hist, target in windows:
            assert hist.start == 0 and hist.stop == target.start
            assert target.stop <= n  # no target month after the training period
            assert target.stop - target.start == 3
            assert hist.stop >= fc.MIN_HISTORY_MONTHS
        # every shift the months allow, up to n_windows
        assert len(windows) == min(n_windows, max(0, n - fc.MIN_HISTORY_MONTHS - 3 + 1))
    assert [(h.stop, t.stop) for h, t in fc.training_windows(9, n_windows=3)] == [
        (6, 9),
        (5, 8),
        (4, 7),
    ]
    assert [t.stop for _, t in fc.training_windows(9)] == [9, 8, 7, 6]


def test_rate_weight_mixes_the_model_with_the_naive_forecast():
    rng = np.random.default_rng(7)
    stack = rng.poisson(0.6, size=(9, 10, 10)).astype(float)
    mask = np.ones((10, 10), bool)
    mask[0, :3] = False
    kw = {"cell_size_m": 100.0, "max_iter": 20, "min_samples_leaf": 5}
    model = fc.CellForecaster(rate_weight=0.0, **kw).fit(stack, mask)
    naive = stack.sum(axis=0) / 9 * 3  # mean monthly count x 3 months
    alone = model.predict(stack, mask)
    model.rate_weight = 1.0
    np.testing.assert_allclose(model.predict(stack, mask)[mask], naive[mask], rtol=1e-12)
    model.rate_weight = 0.2
    mixed = model.predict(stack, mask)
    np.testing.assert_allclose(mixed[mask], (0.8 * alone + 0.2 * naive)[mask], rtol=1e-12)
    assert (mixed[~mask] == 0).all()
    with pytest.raises(InputError, match="rate_weight"):
        fc.CellForecaster(rate_weight=1.5, **kw).fit(stack, mask)
    with pytest.raises(InputError, match="rate_weight"):
        cell_scores(_incidents(9), _grid(), method="forecast", rate_weight=-0.1)


def test_forecaster_never_sees_months_after_its_stack():
    """Structural: fit sees only the stack; its windows' targets are inside it."""
    rng = np.random.default_rng(5)
    stack = rng.poisson(0.5, size=(9, 10, 10)).astype(float)
    mask = np.ones((10, 10), bool)
    model = fc.CellForecaster(cell_size_m=100.0, max_iter=20, min_samples_leaf=5).fit(stack, mask)
    assert all(t.stop <= stack.shape[0] for _, t in model.windows_)
    # The same training months with any test period after them: the same forecast.
    incidents = _incidents(12)
    g = _grid()
    train = incidents[incidents["when"] < "2025-10-01"]
    test_a = incidents[incidents["when"] >= "2025-10-01"]
    test_b = test_a.assign(x=test_a["x"][::-1].to_numpy())
    ev_a = evaluate(train, test_a, g, methods=["forecast"], area_shares=[0.05])
    ev_b = evaluate(train, test_b, g, methods=["forecast"], area_shares=[0.05])
    s = cell_scores(train, g, method="forecast")
    assert np.isfinite(s).all()
    assert ev_a.methods == ev_b.methods


def test_forecast_method_ranks_the_hot_cell_first_and_is_deterministic():
    g = _grid()
    train = _incidents(9)
    burg = train[train["category"] == "Burglary"]
    a = cell_scores(burg, g, method=FORECAST_METHOD, context=train)
    b = cell_scores(burg, g, method=FORECAST_METHOD, context=train)
    np.testing.assert_array_equal(a, b)
    assert np.unravel_index(np.nanargmax(a), a.shape) == (2, 2)


def test_forecast_needs_months():
    g = _grid()
    with pytest.raises(InputError, match="when"):
        cell_scores(np.array([[50.0, 50.0]]), g, method="forecast")
    short = _incidents(4)
    with pytest.raises(InputError, match="training months"):
        cell_scores(short, g, method="forecast")


def test_context_is_not_a_user_parameter():
    with pytest.raises(InputError, match="no parameter 'context'"):
        as_method("forecast", context=1)


def test_rolling_backtest_context_is_training_months_only(monkeypatch):
    seen = []
    import hotspots.evaluate as ev_mod

    real = ev_mod.evaluate

    def spy(train, test, grid, **kw):
        ctx = kw.get("context")
        if ctx is not None:
            seen.append((ctx["when"].max(), test["when"].min()))
        return real(train, test, grid, **kw)

    monkeypatch.setattr(ev_mod, "evaluate", spy)
    rolling_backtest(
        _incidents(12),
        _grid(),
        train_months=9,
        test_months=3,
        categories=["Burglary"],
        methods=["counts"],
        area_shares=[0.05],
    )
    assert seen and all(last_train < first_test for last_train, first_test in seen)


def test_parse_methods():
    m = parse_methods(
        "counts, kde:quartic:300,kde:gaussian:200,kde:gaussian,forecast,blend:weight=0.25"
    )
    assert list(m) == [
        "counts",
        "kde:quartic:300",
        "kde:gaussian:200",
        "kde:gaussian",
        "forecast",
        "blend:weight=0.25",
    ]
    assert m["kde:quartic:300"] == ScoringMethod("kde", {"kernel": "quartic", "bandwidth_m": 300.0})
    assert dict(m["kde:gaussian:200"].params) == {"kernel": "gaussian", "bandwidth_m": 200.0}
    assert dict(m["kde:gaussian"].params) == {"kernel": "gaussian"}
    assert dict(m["blend:weight=0.25"].params) == {"weight": 0.25}
    assert m["forecast"].name == "forecast"


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "empty"),
        ("nope", "not one of"),
        ("kde:quartic:abc", "not a number"),
        ("blend:3", "KEY=VALUE"),
        ("kde:quartic:1:2", "KERNEL:METRES"),
        ("counts,counts", "twice"),
        ("blend:radius=3", "no parameter"),
    ],
)
def test_parse_methods_errors(text, match):
    with pytest.raises(InputError, match=match):
        parse_methods(text)


def test_cli_evaluate_takes_methods():
    args = build_parser().parse_args(
        [
            "evaluate",
            "--incidents",
            "x.csv",
            "--train-from",
            "2025-01",
            "--train-to",
            "2025-09",
            "--test-from",
            "2025-10",
            "--test-to",
            "2025-12",
            "--methods",
            "counts,kde:quartic:300,kde:gaussian:200,forecast",
        ]
    )
    assert args.methods == "counts,kde:quartic:300,kde:gaussian:200,forecast"
    assert list(parse_methods(args.methods)) == [
        "counts",
        "kde:quartic:300",
        "kde:gaussian:200",
        "forecast",
    ]
    default = build_parser().parse_args(
        [
            "evaluate",
            "--incidents",
            "x.csv",
            "--train-from",
            "2025-01",
            "--train-to",
            "2025-09",
            "--test-from",
            "2025-10",
            "--test-to",
            "2025-12",
        ]
    )
    assert default.methods is None
