"""How well cell scores from one period pick out the next period's incidents.

The verbs: :func:`hit_rate_pai` (one score surface against one test period),
:func:`evaluate` (several scoring methods, one train/test split), :func:`rolling_backtest`
(many splits, many categories) and :func:`backtest_summary`. Full notes: ``docs/evaluation.md``.

Selecting cells
---------------
For an area share ``a`` the ``k = max(1, floor(a · N + ½))`` highest-scoring cells are
selected, N being the number of study-area cells. Ties in score are broken by cell order,
row-major from the north-west corner, so the selection is deterministic; cells whose score
is NaN inside the study area rank last (:func:`hotspots.scoring.rank_cells`). Test
incidents in cells outside the study area are ignored (in neither numerator nor denominator).

Measures (n = test incidents in the selected cells, T = all test incidents in the study area)
--------------------------------------------------------------------------------------------
``hit_rate``
    ``n / T``.
``pai``
    Predictive Accuracy Index (Chainey, Tompson & Uhlig 2008): ``(n / T) / (k / N)``, the
    hit rate over the share of area actually selected (``k / N``, within half a cell of
    ``a``). 1 means no better than choosing cells at random.
``pei``
    Predictive Efficiency Index (Hunt 2016): ``PAI / PAI*`` where ``PAI*`` is the PAI of the
    best possible selection of k cells, the k cells with most test incidents; so
    ``n / n*`` with ``n*`` their incidents. 1 means no k cells could have done better.
``rri``
    Recapture Rate Index (Levine 2008): ``(n / m) / (T / M)`` with m the training incidents
    in the selected cells and M all training incidents in the study area: how much the
    selected cells' count grew relative to the whole area's. Needs the training counts.

Each is NaN where undefined (no test incidents; for RRI also no training counts given,
none in the selection, or none at all).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hotspots._validation import category_key
from hotspots.grid import Grid
from hotspots.io import progress
from hotspots.schema import InputError
from hotspots.scoring import (
    DEFAULT_METHOD,
    ScoringMethod,
    as_method,
    cell_scores,
    rank_cells,
)

#: Area shares reported by default: 0.5 %, 1 %, 2 %, 5 % and 10 % of the study area.
DEFAULT_AREA_SHARES: tuple[float, ...] = (0.005, 0.01, 0.02, 0.05, 0.1)
#: Fine area shares for PAI / hit-rate curves: 0.25 % steps up to 20 %.
CURVE_AREA_SHARES: tuple[float, ...] = tuple(round(0.0025 * i, 4) for i in range(1, 81))
#: Methods compared by default: the default blend, the counts baseline, the density surface.
#: (``hotspots evaluate`` adds :data:`~hotspots.scoring.FORECAST_METHOD`, the best measured,
#: which needs six months and is slower: see :func:`hotspots.pipeline.run_evaluation`.)
DEFAULT_METHODS: dict[str, ScoringMethod | str] = {
    "default": DEFAULT_METHOD,
    "counts": "counts",
    "kde": "kde",
}
#: Label of the all-categories slice in backtests.
ALL_CATEGORIES = "all"
MEASURES = ("hit_rate", "pai", "pei", "rri")


def hit_rate_pai(
    scores: np.ndarray,
    test_counts: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    train_counts: np.ndarray | None = None,
    area_shares: Sequence[float] = DEFAULT_AREA_SHARES,
) -> pd.DataFrame:
    """Hit rate, PAI, PEI and RRI of the top-scored cells at each share of the area.

    Parameters
    ----------
    scores
        Cell scores (higher = selected first), any 2-D shape.
    test_counts
        Test-period incidents per cell, same shape.
    mask
        Study-area cells (True); None means the cells where ``scores`` is finite.
    train_counts
        Training-period incidents per cell, for RRI (NaN without them).
    area_shares
        Shares of the study-area cells to select, each in (0, 1].

    Returns
    -------
    pandas.DataFrame
        One row per share: ``area_share``, ``cells`` (k), ``hits`` (n), ``hit_rate``,
        ``pai``, ``pei``, ``rri``.

    Examples
    --------
    Four cells; the top one (by score) holds 3 of the 4 test incidents:

    >>> scores = np.array([[4.0, 3.0], [2.0, 1.0]])
    >>> test = np.array([[3.0, 0.0], [0.0, 1.0]])
    >>> t = hit_rate_pai(scores, test, area_shares=[0.25, 0.5])
    >>> t[["area_share", "cells", "hit_rate", "pai", "pei"]].to_dict("list")
    {'area_share': [0.25, 0.5], 'cells': [1, 2], 'hit_rate': [0.75, 0.75],
     'pai': [3.0, 1.5], 'pei': [1.0, 0.75]}
    """
    scores = np.asarray(scores, dtype=float)
    test = _counts_like(test_counts, scores, "test_counts")
    inside = np.isfinite(scores) if mask is None else _mask_like(mask, scores)
    shares = _shares(area_shares)
    n_cells = int(inside.sum())
    if n_cells == 0:
        raise InputError("the study area has no cells: the mask (or every score) is empty/NaN")
    order = rank_cells(scores, inside)
    cum_test = np.cumsum(test.ravel()[order])
    cum_best = np.cumsum(np.sort(test[inside])[::-1])
    k = np.array([max(1, math.floor(s * n_cells + 0.5)) for s in shares])
    total = cum_test[-1]
    hits = cum_test[k - 1]
    best = cum_best[k - 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        hit_rate = np.where(total > 0, hits / total, np.nan)
        pai = hit_rate / (k / n_cells)
        pei = np.where(best > 0, hits / best, np.nan)
        rri = np.full(len(k), np.nan)
        if train_counts is not None:
            train = _counts_like(train_counts, scores, "train_counts")
            cum_train = np.cumsum(train.ravel()[order])
            caught = cum_train[k - 1]
            ok = (caught > 0) & (total > 0)
            rri = np.where(ok, (hits / caught) / (total / cum_train[-1]), np.nan)
    return pd.DataFrame(
        {
            "area_share": shares,
            "cells": k,
            "hits": hits,
            "hit_rate": hit_rate,
            "pai": pai,
            "pei": pei,
            "rri": rri,
        }
    )


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """Scoring methods evaluated on one train/test split.

    Attributes
    ----------
    table : pandas.DataFrame
        Tidy: ``method``, ``area_share``, ``cells``, ``hits``, ``hit_rate``, ``pai``, ``pei``,
        ``rri``; methods in the order given, shares ascending.
    methods : dict
        Label → the resolved :class:`~hotspots.scoring.ScoringMethod`.
    grid : Grid
        The grid (cell size, the rule that chose it, study-area mask).
    n_train, n_test : int
        Incidents in the study area in each period.
    """

    table: pd.DataFrame = field(repr=False)
    methods: dict[str, ScoringMethod]
    grid: Grid = field(repr=False)
    n_train: int
    n_test: int

    def params(self) -> dict[str, Any]:
        """JSON-ready parameters: methods, grid, incident counts."""
        return {
            "methods": {k: m.to_dict() for k, m in self.methods.items()},
            "cell_size_m": float(self.grid.cell_size_m),
            "cell_size_rule": self.grid.cell_size_rule,
            "study_area_cells": int(self.grid.in_area.sum()),
            "n_train": self.n_train,
            "n_test": self.n_test,
            "tie_break": "row-major cell order from the north-west corner",
        }


def evaluate(
    train_incidents: Any,
    test_incidents: Any,
    grid: Grid,
    *,
    methods: Mapping[str, ScoringMethod | str] | Sequence[ScoringMethod | str] | None = None,
    area_shares: Sequence[float] = DEFAULT_AREA_SHARES,
    context: Any = None,
) -> Evaluation:
    """Score cells from the training incidents with each method and test them on the next.

    Parameters
    ----------
    train_incidents, test_incidents
        Incidents with ``x``/``y`` (EPSG:27700) or ``(N, 2)`` arrays of metres, as for
        :func:`hotspots.scoring.cell_scores`.
    grid
        The analysis grid with the study-area mask.
    methods
        Label → method (name or :class:`~hotspots.scoring.ScoringMethod`), or a sequence
        of methods labelled by their :attr:`~hotspots.scoring.ScoringMethod.label`. None:
        :data:`DEFAULT_METHODS`.
    area_shares
        Shares of the study area (:data:`DEFAULT_AREA_SHARES`; :data:`CURVE_AREA_SHARES`
        for curves).
    context
        Training-period incidents of all categories (when ``train_incidents`` is one
        category), passed to :func:`~hotspots.scoring.cell_scores` for methods that borrow
        strength across categories. Never test incidents.

    Examples
    --------
    >>> g = Grid(xmin=0.0, ymax=20.0, cell_size_m=10.0, nrows=2, ncols=2)
    >>> train = np.array([[5.0, 15.0], [5.0, 15.0], [15.0, 5.0]])
    >>> test = np.array([[5.0, 15.0], [15.0, 15.0]])
    >>> ev = evaluate(train, test, g, methods=["counts"], area_shares=[0.25])
    >>> ev.table[["method", "hit_rate", "pai", "pei", "rri"]].to_dict("records")
    [{'method': 'counts', 'hit_rate': 0.5, 'pai': 2.0, 'pei': 1.0, 'rri': 0.75}]
    """
    resolved = resolve_methods(methods)
    train_counts = _bin(train_incidents, grid)
    test_counts = _bin(test_incidents, grid)
    frames = [
        hit_rate_pai(
            cell_scores(train_incidents, grid, method=m, context=context),
            test_counts,
            mask=grid.in_area,
            train_counts=train_counts,
            area_shares=area_shares,
        ).assign(method=label)
        for label, m in resolved.items()
    ]
    table = pd.concat(frames, ignore_index=True)
    inside = grid.in_area
    return Evaluation(
        table=table[["method", *(c for c in table.columns if c != "method")]],
        methods=resolved,
        grid=grid,
        n_train=int(train_counts[inside].sum()),
        n_test=int(test_counts[inside].sum()),
    )


def resolve_methods(
    methods: Mapping[str, ScoringMethod | str] | Sequence[ScoringMethod | str] | None,
) -> dict[str, ScoringMethod]:
    """Label → checked :class:`~hotspots.scoring.ScoringMethod` (see :func:`evaluate`)."""
    if methods is None:
        methods = DEFAULT_METHODS
    if isinstance(methods, Mapping):
        out = {str(k): as_method(v) for k, v in methods.items()}
    else:
        resolved = [as_method(m) for m in methods]
        out = {m.label: m for m in resolved}
        if len(out) < len(resolved):
            raise InputError("methods has the same method twice; label them with a dict")
    if not out:
        raise InputError("methods is empty: give at least one scoring method")
    return out


@dataclass(frozen=True, kw_only=True)
class Fold:
    """One backtest split: training and test months (inclusive, ``pandas.Period``)."""

    train_from: pd.Period
    train_to: pd.Period
    test_from: pd.Period
    test_to: pd.Period


def backtest_folds(
    months: Any,
    *,
    train_months: int = 12,
    test_months: int = 3,
    step_months: int = 3,
) -> list[Fold]:
    """Rolling train/test splits over the months present in the data.

    The months are split into runs of consecutive months; within each run the first fold
    trains on its first ``train_months`` months and tests on the next ``test_months``, and
    each later fold moves ``step_months`` on, while the test months fit in the run. No fold
    spans a gap in the data, and every test month is after every training month.

    Examples
    --------
    >>> months = pd.period_range("2021-01", "2021-08", freq="M")
    >>> [(f.train_from.strftime("%m"), f.test_to.strftime("%m"))
    ...  for f in backtest_folds(months, train_months=4, test_months=2, step_months=2)]
    [('01', '06'), ('03', '08')]
    """
    for name, v in (
        ("train_months", train_months),
        ("test_months", test_months),
        ("step_months", step_months),
    ):
        if not isinstance(v, int | np.integer) or v < 1:
            raise InputError(f"{name} must be a whole number of months >= 1, got {v!r}")
    ordinals = sorted({p.ordinal for p in pd.PeriodIndex(months, freq="M")})
    folds: list[Fold] = []
    for run in _runs(ordinals):
        start = run[0]
        while start + train_months + test_months - 1 <= run[-1]:
            t0 = start + train_months
            train_from, train_to, test_from, test_to = (
                pd.Period(ordinal=o, freq="M") for o in (start, t0 - 1, t0, t0 + test_months - 1)
            )
            folds.append(
                Fold(train_from=train_from, train_to=train_to, test_from=test_from, test_to=test_to)
            )
            start += step_months
    return folds


def rolling_backtest(
    incidents: pd.DataFrame,
    grid: Grid,
    *,
    train_months: int = 12,
    test_months: int = 3,
    step_months: int = 3,
    categories: Sequence[str | None] = (None,),
    methods: Mapping[str, ScoringMethod | str] | Sequence[ScoringMethod | str] | None = None,
    area_shares: Sequence[float] = DEFAULT_AREA_SHARES,
) -> pd.DataFrame:
    """Evaluate methods on every rolling fold (:func:`backtest_folds`) and category.

    Parameters
    ----------
    incidents
        Canonical incidents: ``x``, ``y`` (EPSG:27700), ``when`` and ``category``.
    grid
        The analysis grid with the study-area mask.
    train_months, test_months, step_months
        Fold lengths and step (see :func:`backtest_folds`).
    categories
        Category names (as in ``category``) or None for all incidents, labelled
        :data:`ALL_CATEGORIES`.
    methods, area_shares
        As for :func:`evaluate`.

    Returns
    -------
    pandas.DataFrame
        One row per fold × category × method × share: ``fold`` (0, 1, …), ``train_from``,
        ``train_to``, ``test_from``, ``test_to`` (``YYYY-MM``), ``category``, ``n_train``,
        ``n_test`` and the columns of :func:`hit_rate_pai`. Folds with no test incidents in
        a category are left out.
    """
    missing = {"x", "y", "when", "category"} - set(incidents.columns)
    if missing:
        raise InputError(
            f"incidents has no {sorted(missing)} columns; rolling_backtest needs "
            "canonical x, y, when and category"
        )
    resolved = resolve_methods(methods)
    month = pd.to_datetime(incidents["when"]).dt.to_period("M")
    folds = backtest_folds(
        month.dropna().unique(),
        train_months=train_months,
        test_months=test_months,
        step_months=step_months,
    )
    if not folds:
        raise InputError(
            f"the data has no {train_months + test_months} consecutive months: "
            "no fold fits; shorten train_months or test_months"
        )
    frames = []
    for label, wanted in ((_category_label(c), c) for c in categories):
        keep = (
            np.ones(len(incidents), bool) if wanted is None else _category_mask(incidents, wanted)
        )
        for i, fold in enumerate(progress(folds, desc=f"backtest {label}", unit="fold")):
            in_train = ((month >= fold.train_from) & (month <= fold.train_to)).to_numpy()
            tr = keep & in_train
            te = keep & (month >= fold.test_from).to_numpy() & (month <= fold.test_to).to_numpy()
            if not te.any():
                continue
            # Context: every category, training months only.
            context = None if wanted is None else incidents.loc[in_train]
            ev = evaluate(
                incidents.loc[tr],
                incidents.loc[te],
                grid,
                methods=resolved,
                area_shares=area_shares,
                context=context,
            )
            if ev.n_test == 0:
                continue
            frames.append(
                ev.table.assign(
                    fold=i,
                    train_from=str(fold.train_from),
                    train_to=str(fold.train_to),
                    test_from=str(fold.test_from),
                    test_to=str(fold.test_to),
                    category=label,
                    n_train=ev.n_train,
                    n_test=ev.n_test,
                )
            )
    if not frames:
        raise InputError("no fold has test incidents in the study area for these categories")
    table = pd.concat(frames, ignore_index=True)
    lead = [
        "fold",
        "train_from",
        "train_to",
        "test_from",
        "test_to",
        "category",
        "method",
        "n_train",
        "n_test",
    ]
    return table[lead + [c for c in table.columns if c not in lead]]


def backtest_summary(
    table: pd.DataFrame,
    *,
    area_shares: Sequence[float] = (0.01, 0.05),
    measure: str = "pai",
) -> pd.DataFrame:
    """Mean of a measure over folds per category × method at the given area shares.

    Returns columns ``category``, ``method``, ``folds`` and ``<measure>_<share>`` (e.g.
    ``pai_0.01``), categories and methods in their first-seen order.

    Examples
    --------
    >>> t = pd.DataFrame({"fold": [0, 1], "category": "all", "method": "counts",
    ...                   "area_share": 0.01, "pai": [10.0, 20.0]})
    >>> backtest_summary(t, area_shares=[0.01]).to_dict("records")
    [{'category': 'all', 'method': 'counts', 'folds': 2, 'pai_0.01': 15.0}]
    """
    if measure not in MEASURES:
        raise InputError(f"measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    out: pd.DataFrame | None = None
    for share in _shares(area_shares):
        rows = table.loc[np.isclose(table["area_share"], share)]
        if rows.empty:
            raise InputError(f"the table has no rows at area_share={share:g}")
        g = rows.groupby(["category", "method"], sort=False)
        part = g[measure].mean().rename(f"{measure}_{share:g}").to_frame()
        part.insert(0, "folds", g["fold"].nunique())
        out = part if out is None else out.join(part.drop(columns="folds"))
    assert out is not None  # _shares gives at least one share
    return out.reset_index()


def _bin(incidents: Any, grid: Grid) -> np.ndarray:
    scores = cell_scores(incidents, grid, method="counts")
    return np.nan_to_num(scores, nan=0.0)


def _category_label(category: str | None) -> str:
    return ALL_CATEGORIES if category is None else str(category)


def category_mask(incidents: pd.DataFrame, category: str) -> np.ndarray:
    """Rows of ``incidents`` in ``category`` (case- and space-insensitive); InputError if none."""
    return _category_mask(incidents, category)


def _category_mask(incidents: pd.DataFrame, category: str) -> np.ndarray:
    keys = incidents["category"].astype(str).map(category_key)
    keep = (keys == category_key(category)).to_numpy()
    if not keep.any():
        found = sorted(incidents["category"].astype(str).unique())
        raise InputError(f"categories: {category!r} is not in the data; it has {found}")
    return keep


def _runs(ordinals: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for o in ordinals:
        if runs and o == runs[-1][-1] + 1:
            runs[-1].append(o)
        else:
            runs.append([o])
    return runs


def _shares(area_shares: Sequence[float]) -> np.ndarray:
    try:
        shares = np.asarray(area_shares, dtype=float).ravel()
    except (TypeError, ValueError):
        raise InputError(f"area_shares must be numbers in (0, 1], got {area_shares!r}") from None
    bad = ~np.isfinite(shares) | (shares <= 0) | (shares > 1)
    if len(shares) == 0 or bad.any():
        raise InputError(f"area_shares must be numbers in (0, 1], got {area_shares!r}")
    return np.sort(shares)


def _counts_like(counts: Any, scores: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(counts, dtype=float)
    if arr.shape != scores.shape:
        raise InputError(f"{name} has shape {arr.shape} but scores has {scores.shape}")
    arr = np.where(np.isnan(arr), 0.0, arr)
    if (arr < 0).any():
        raise InputError(f"{name} must be counts >= 0")
    return arr


def _mask_like(mask: Any, scores: np.ndarray) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.shape != scores.shape:
        raise InputError(f"mask has shape {arr.shape} but scores has {scores.shape}")
    return arr.astype(bool)
