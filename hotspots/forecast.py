"""Prospective cell forecasts: a gradient-boosted model over lagged, multi-scale counts.

Compute only (no I/O). :func:`monthly_stack` bins the training incidents per month;
:func:`cell_features` turns a stack of months into per-cell features (counts over the
whole history and over its last months, months with any incident, Gaussian smoothings at
several radii by FFT convolution, optionally the same for a *context* stack such as all
crime); :func:`training_windows` cuts the training months into (history, target) pairs
that lie entirely inside the training period; :class:`CellForecaster` fits a
scikit-learn ``HistGradientBoostingRegressor`` (Poisson loss) on those pairs and predicts
the next ``horizon`` months' incidents per cell from the whole training period, mixed
with the naive forecast (the cell's own mean monthly count × ``horizon``).

No test month is ever seen: the model is fitted on windows whose targets are training
months (:func:`training_windows` asserts it), and predicts from the training stack only.
Notes and backtests: ``docs/evaluation.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve

from hotspots._validation import check_scalar
from hotspots.grid import Grid
from hotspots.schema import InputError

#: Gaussian smoothing radii (sigma) of the features, in metres.
FEATURE_SIGMAS_M: tuple[float, ...] = (100.0, 200.0, 400.0, 800.0)
#: Months at the end of a history counted separately (the "recent" features).
RECENT_MONTHS = 3
#: Months forecast (and the length of each training target).
HORIZON_MONTHS = 3
#: Most training windows (targets ending 0, 1, 2 … months before the training period's
#: end): every shift a 12-month training period allows (7) and more on longer ones, capped
#: so that long histories do not multiply the fitting time.
N_WINDOWS = 12
#: Weight of the naive forecast (the cell's mean monthly count × horizon) in the final
#: mix with the model's forecast: the model's trees give plateaus of equal forecasts at
#: the top of the ranking, which the cell's own count orders. Chosen by temporal
#: cross-validation inside the training months (docs/evaluation.md).
RATE_WEIGHT = 0.2
#: Shortest history a training window may have.
MIN_HISTORY_MONTHS = 3
#: The Gaussian stencil is cut at this many sigmas.
TRUNCATE_SIGMAS = 3.0


def monthly_stack(
    xy: np.ndarray,
    month: np.ndarray,
    grid: Grid,
    weights: np.ndarray | None = None,
    *,
    first: int | None = None,
    last: int | None = None,
) -> np.ndarray:
    """Incidents per month and cell: float64 ``(n_months, nrows, ncols)``.

    ``month`` is a month number (year × 12 + month) per incident; months run from
    ``first`` (default the earliest) to ``last`` (default the latest), empty ones included.
    Points off the grid are ignored.

    Examples
    --------
    >>> g = Grid(xmin=0.0, ymax=20.0, cell_size_m=10.0, nrows=2, ncols=2)
    >>> s = monthly_stack(np.array([[5.0, 15.0], [15.0, 5.0]]), np.array([1, 3]), g)
    >>> s.shape, s[:, 0, 0].tolist(), s[:, 1, 1].tolist()
    ((3, 2, 2), [1.0, 0.0, 0.0], [0.0, 0.0, 1.0])
    """
    month = np.asarray(month, dtype=np.int64)
    first = int(month.min()) if first is None else int(first)
    last = int(month.max()) if last is None else int(last)
    n_months = last - first + 1
    if n_months < 1:
        raise InputError(f"monthly_stack: last month {last} is before the first {first}")
    row, col, ok = grid.cell_of(xy[:, 0], xy[:, 1])
    rel = month - first
    ok &= (rel >= 0) & (rel < n_months)
    flat = (rel[ok] * grid.nrows + row[ok]) * grid.ncols + col[ok]
    w = None if weights is None else np.asarray(weights, dtype=float)[ok]
    size = n_months * grid.nrows * grid.ncols
    counts = np.bincount(flat, weights=w, minlength=size).astype(np.float64)
    return counts.reshape(n_months, *grid.shape)


def gaussian_stencil(sigma_cells: float, truncate: float = TRUNCATE_SIGMAS) -> np.ndarray:
    """Normalised 2-D Gaussian weights on cell offsets within ``truncate`` sigmas.

    Examples
    --------
    >>> k = gaussian_stencil(1.0)
    >>> k.shape, round(float(k.sum()), 12), bool(k[3, 3] == k.max())
    ((7, 7), 1.0, True)
    """
    r = max(1, int(math.ceil(truncate * sigma_cells)))
    off = np.arange(-r, r + 1, dtype=float)
    g = np.exp(-0.5 * (off / sigma_cells) ** 2)
    k = np.outer(g, g)
    return k / k.sum()


def smooth(surface: np.ndarray, sigma_cells: float) -> np.ndarray:
    """``surface`` convolved with :func:`gaussian_stencil` (zero outside the grid), by FFT."""
    out = fftconvolve(surface, gaussian_stencil(sigma_cells), mode="same")
    return np.maximum(out, 0.0)  # FFT round-off leaves tiny negatives in empty regions


def feature_names(
    sigmas_m: Sequence[float] = FEATURE_SIGMAS_M, *, context: bool = False
) -> list[str]:
    """Names of the columns of :func:`cell_features`, in order."""
    names = ["rate", "recent_rate", "active_share"]
    names += [f"smooth_{s:g}m" for s in sigmas_m]
    if context:
        names += ["context_rate", "context_recent_rate"]
        names += [f"context_smooth_{s:g}m" for s in sigmas_m]
    return names


def cell_features(
    stack: np.ndarray,
    cell_size_m: float,
    *,
    context: np.ndarray | None = None,
    sigmas_m: Sequence[float] = FEATURE_SIGMAS_M,
    recent_months: int = RECENT_MONTHS,
) -> np.ndarray:
    """Per-cell features of a history of months: float64 ``(n_features, nrows, ncols)``.

    Columns (:func:`feature_names`): ``rate`` (incidents per month over the history),
    ``recent_rate`` (per month over its last ``recent_months``), ``active_share`` (share
    of months with any incident), ``smooth_<s>m`` (``rate`` smoothed by a Gaussian of
    sigma ``s`` metres); with ``context`` (a stack of the same months, e.g. all crime)
    also ``context_rate``, ``context_recent_rate`` and ``context_smooth_<s>m``. Rates make
    histories of different lengths comparable.
    """
    stack = np.asarray(stack, dtype=float)
    if stack.ndim != 3 or stack.shape[0] < 1:
        raise InputError(f"cell_features needs a (months, rows, cols) stack, got {stack.shape}")
    n = stack.shape[0]
    recent = min(recent_months, n)
    rate = stack.sum(axis=0) / n
    out = [rate, stack[-recent:].sum(axis=0) / recent, (stack > 0).sum(axis=0) / n]
    out += [smooth(rate, s / cell_size_m) for s in sigmas_m]
    if context is not None:
        context = np.asarray(context, dtype=float)
        if context.shape != stack.shape:
            raise InputError(f"context has shape {context.shape}, the stack {stack.shape}")
        c_rate = context.sum(axis=0) / n
        out += [c_rate, context[-recent:].sum(axis=0) / recent]
        out += [smooth(c_rate, s / cell_size_m) for s in sigmas_m]
    return np.stack(out)


def training_windows(
    n_months: int,
    *,
    horizon: int = HORIZON_MONTHS,
    n_windows: int = N_WINDOWS,
    min_history: int = MIN_HISTORY_MONTHS,
) -> list[tuple[slice, slice]]:
    """(history, target) month slices inside a training period of ``n_months`` months.

    Window *j* (0 = latest) predicts the ``horizon`` months ending *j* months before the
    period's end from all the months before them. Every target month is a training month
    (index < ``n_months``); histories shorter than ``min_history`` are dropped.

    Examples
    --------
    >>> [(h.stop, t.start, t.stop) for h, t in training_windows(12, n_windows=3)]
    [(9, 9, 12), (8, 8, 11), (7, 7, 10)]
    >>> len(training_windows(12)), len(training_windows(9))  # every shift the months allow
    (7, 4)
    >>> training_windows(5)
    []
    """
    out = []
    for j in range(n_windows):
        end = n_months - j
        start = end - horizon
        if start < min_history:
            break
        out.append((slice(0, start), slice(start, end)))
    for hist, target in out:  # the structural guarantee: nothing after the training period
        if not (0 <= hist.stop == target.start < target.stop <= n_months):
            raise AssertionError("a training window reaches outside the training months")
    return out


@dataclass
class CellForecaster:
    """Gradient-boosted forecast of the next ``horizon`` months' incidents per cell.

    scikit-learn shape: ``__init__`` stores parameters, :meth:`fit` learns from a
    training stack and returns ``self``, learned things end in ``_``.

    Parameters
    ----------
    cell_size_m
        Cell side (for the smoothing radii).
    sigmas_m, recent_months, horizon, n_windows
        Feature radii, recent-months window, forecast length, most training windows
        (:func:`training_windows`).
    rate_weight
        Share of the naive forecast (the cell's mean monthly count × ``horizon``) in the
        prediction: ``(1 - rate_weight) × model + rate_weight × naive``.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization, random_state
        Of ``HistGradientBoostingRegressor(loss="poisson")``.
    quiet_sample
        Share of the cells without incidents of their own kept for fitting (weighted up).
    """

    cell_size_m: float
    sigmas_m: tuple[float, ...] = FEATURE_SIGMAS_M
    recent_months: int = RECENT_MONTHS
    horizon: int = HORIZON_MONTHS
    n_windows: int = N_WINDOWS
    rate_weight: float = RATE_WEIGHT
    max_iter: int = 150
    learning_rate: float = 0.05
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 100
    l2_regularization: float = 1.0
    quiet_sample: float = 0.1
    random_state: int = 0

    def fit(
        self, stack: np.ndarray, mask: np.ndarray, context: np.ndarray | None = None
    ) -> CellForecaster:
        """Learn from the training months only (``stack``: months × rows × cols)."""
        from sklearn.ensemble import HistGradientBoostingRegressor

        self._rate_weight()  # refused before the fit, not after it
        windows = training_windows(stack.shape[0], horizon=self.horizon, n_windows=self.n_windows)
        if not windows:
            raise InputError(
                f"the forecast model needs at least {MIN_HISTORY_MONTHS + self.horizon} "
                f"training months, got {stack.shape[0]}"
            )
        xs, ys = [], []
        inside = np.asarray(mask, dtype=bool)
        for hist, target in windows:
            f = self._features(stack[hist], None if context is None else context[hist])
            xs.append(f[:, inside].T)
            ys.append(stack[target].sum(axis=0)[inside])
        x, y = np.concatenate(xs), np.concatenate(ys)
        keep = x.any(axis=1)  # cells with no activity at any scale: a constant, learned below
        self.windows_ = windows
        self.empty_rate_ = float(y[~keep].mean()) if (~keep).any() else 0.0
        x, y = x[keep], y[keep]
        # Cells without incidents of their own in the history ("quiet") are most rows and
        # carry little: keep a fixed-seed sample of them, weighted up to stand for the rest.
        quiet = x[:, 0] == 0
        rng = np.random.default_rng(self.random_state)
        take = ~quiet | (rng.random(len(x)) < self.quiet_sample)
        weight = np.where(quiet, 1.0 / self.quiet_sample, 1.0)[take]
        self.model_ = HistGradientBoostingRegressor(
            loss="poisson",
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            # Small grids (tests, a few streets) would get one leaf: at most 1/20 of the rows.
            min_samples_leaf=max(2, min(self.min_samples_leaf, int(take.sum()) // 20)),
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
        ).fit(x[take], y[take], sample_weight=weight)
        return self

    def predict(
        self, stack: np.ndarray, mask: np.ndarray, context: np.ndarray | None = None
    ) -> np.ndarray:
        """Expected incidents per cell in the ``horizon`` months after ``stack``: the model's
        forecast mixed with the naive one (``rate_weight``)."""
        f = self._features(stack, context)
        inside = np.asarray(mask, dtype=bool)
        x = f[:, inside].T
        out = np.zeros(inside.shape)
        pred = np.full(len(x), self.empty_rate_)
        keep = x.any(axis=1)
        if keep.any():
            pred[keep] = self.model_.predict(x[keep])
        naive = stack.sum(axis=0)[inside] / stack.shape[0] * self.horizon
        share = self._rate_weight()
        out[inside] = (1.0 - share) * pred + share * naive
        return out

    def _rate_weight(self) -> float:
        return float(check_scalar(self.rate_weight, "rate_weight", float, min_val=0, max_val=1))

    def _features(self, stack: np.ndarray, context: np.ndarray | None) -> np.ndarray:
        return cell_features(
            stack,
            self.cell_size_m,
            context=context,
            sigmas_m=self.sigmas_m,
            recent_months=self.recent_months,
        )
