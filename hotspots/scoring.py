"""Cell scores for choosing patrol cells: training incidents → one number per grid cell.

A scoring method maps the incidents of a *training* period onto the analysis grid; the
cells with the highest scores are where the next period's incidents are expected.
:func:`cell_scores` is the one verb, :func:`rank_cells` the selection order;
:mod:`hotspots.evaluate` backtests the methods. Full notes and the backtest tables:
``docs/evaluation.md``.

Methods (:data:`METHODS`)
-------------------------
``"counts"``
    Incidents (or summed weights) per cell in the training period: the baseline.
``"kde"``
    Expected incidents per cell from :func:`hotspots.density.kde_surface` (density ×
    cell area) with the given ``kernel``, ``bandwidth_m`` and ``bandwidth_rule`` (the
    defaults are those of ``kde_surface``: quartic, ArcGIS rule).
``"blend"``
    ``counts + weight × kde``, the KDE Gaussian with σ = ``bandwidth_m``. The counts decide
    the order wherever they differ by more than the smoothed term; the KDE ranks the many
    cells with equal (often zero or one) counts by the activity around them. police.uk
    moves every incident to a nearby map point, so single cells with many incidents are
    real, repeatable concentrations that smoothing alone blurs away, while counts alone
    leave ties to chance.

    Automatic parameters: ``bandwidth_m=None`` is two cell sides (rule ``"2 cells"``);
    ``weight=None`` is chosen by temporal cross-validation inside the training period
    (rule ``"temporal cross-validation"``): each of :data:`BLEND_WEIGHTS_TRIED` is fitted
    on the training incidents before the last :data:`VALIDATION_MONTHS` months, and the
    one whose top cells capture most of those last months' incidents (hit rates summed
    at :data:`VALIDATION_SHARES` of the area; the smaller weight on a tie) is used on the
    whole training period. Without ``when`` or with too few months the weight falls
    back to :data:`BLEND_FALLBACK_WEIGHT`. Both choices are logged.

``"forecast"``
    Expected incidents in the next 3 months from :class:`hotspots.forecast.CellForecaster`
    (gradient boosting over lagged multi-scale counts of the category and, given
    ``context``, of all categories), fitted on windows inside the training months only,
    mixed with the naive forecast (share ``rate_weight``, default
    :data:`hotspots.forecast.RATE_WEIGHT`).
    :data:`FORECAST_METHOD`: the best measured in the two-force backtests of
    ``docs/evaluation.md`` and the first method of ``hotspots evaluate``.

Every method takes ``half_life_months``: weight each incident by
``0.5 ** (age / half_life_months)``, its age counted in whole months back from the latest
training month (needs the ``when`` column). None (default) weights all months equally.

:data:`DEFAULT_METHOD` is the blend with both parameters automatic: in rolling backtests on
Leicestershire police.uk data (2020–2022 and 2025; ASB, violence, burglary, all crime;
100 m and 250 m cells) it matched or beat both the counts and the best fixed-bandwidth KDE
at 1 % and 5 % of the area in 28 of 32 comparisons, the other four within 0.5 PAI
(``docs/evaluation.md``).
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from hotspots._validation import check_scalar, check_weights, positive_number, whole_number
from hotspots.density import kde_surface
from hotspots.grid import Grid, bin_counts, points_xy
from hotspots.schema import InputError

log = logging.getLogger(__name__)

#: Automatic blend bandwidth: this many cell sides (rule ``"2 cells"``).
BLEND_BANDWIDTH_CELLS = 2.0
#: Blend weights tried by the temporal cross-validation, smallest first.
BLEND_WEIGHTS_TRIED: tuple[float, ...] = (0.1, 0.25, 1.0, 4.0)
#: Blend weight when cross-validation is not possible (no months, too few months).
BLEND_FALLBACK_WEIGHT = 0.25
#: Months at the end of the training period held out to choose the blend weight.
VALIDATION_MONTHS = 3
#: Area shares whose hit rates are summed to compare blend weights.
VALIDATION_SHARES: tuple[float, ...] = (0.01, 0.02, 0.05)


@dataclass(frozen=True)
class ScoringMethod:
    """A scoring method name (a key of :data:`METHODS`) and its parameters.

    Examples
    --------
    >>> ScoringMethod("blend", {"weight": 0.5}).label
    'blend(weight=0.5)'
    >>> ScoringMethod("counts").label
    'counts'
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # A read-only copy: DEFAULT_METHOD is shared and must not change under anyone.
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def label(self) -> str:
        """The name with its parameters, e.g. ``blend(weight=0.25)``."""
        if not self.params:
            return self.name
        inner = ", ".join(f"{k}={v!r}" for k, v in sorted(self.params.items()))
        return f"{self.name}({inner})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``{"name": ..., "params": {...}}``."""
        return {"name": self.name, "params": dict(self.params)}


def rank_cells(scores: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Flat indices of the study-area cells in selection order: highest score first.

    Ties are broken by cell order, row-major from the north-west corner; NaN scores inside
    the study area come last. ``mask`` None means the cells where ``scores`` is finite.

    Examples
    --------
    >>> rank_cells(np.array([[1.0, 3.0], [3.0, np.nan]])).tolist()
    [1, 2, 0]
    """
    cells, key = _rank_key(scores, mask)
    return cells[np.argsort(-key, kind="stable")]


def _leading_cells(scores: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` cells of :func:`rank_cells` (same order), sorting only the cells that
    score at least the ``n``-th highest score rather than every cell.

    Examples
    --------
    >>> s = np.array([[1.0, 3.0], [3.0, 2.0]])
    >>> _leading_cells(s, np.ones((2, 2), bool), 3).tolist(), rank_cells(s)[:3].tolist()
    ([1, 2, 3], [1, 2, 3])
    """
    cells, key = _rank_key(scores, mask)
    if n < len(key):
        nth = np.partition(key, len(key) - n)[len(key) - n]
        # Every cell tied with the n-th is kept, in cell order, so ties fall as in the
        # full stable sort.
        cells, key = cells[key >= nth], key[key >= nth]
    return cells[np.argsort(-key, kind="stable")][:n]


def _rank_key(scores: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Study-area cells (flat indices, in cell order) and their scores, NaN as -inf."""
    scores = np.asarray(scores, dtype=float)
    inside = np.isfinite(scores) if mask is None else np.asarray(mask, dtype=bool)
    cells = np.flatnonzero(inside)
    return cells, np.nan_to_num(scores.ravel()[cells], nan=-np.inf)


def _counts(xy: np.ndarray, w: np.ndarray, _month: np.ndarray | None, grid: Grid) -> np.ndarray:
    return bin_counts(grid, xy[:, 0], xy[:, 1], w)


def _kde(
    xy: np.ndarray,
    w: np.ndarray,
    _month: np.ndarray | None,
    grid: Grid,
    *,
    kernel: str = "quartic",
    bandwidth_m: float | None = None,
    bandwidth_rule: str = "arcgis",
) -> np.ndarray:
    if w.sum() <= 0:
        return np.zeros(grid.shape)
    surface = kde_surface(
        xy,
        weights=w,
        extent=grid,
        kernel=kernel,
        bandwidth_m=bandwidth_m,
        bandwidth_rule=bandwidth_rule,
    )
    return surface.per_cell


def _blend(
    xy: np.ndarray,
    w: np.ndarray,
    month: np.ndarray | None,
    grid: Grid,
    *,
    weight: float | None = None,
    bandwidth_m: float | None = None,
) -> np.ndarray:
    if bandwidth_m is None:
        bandwidth_m = BLEND_BANDWIDTH_CELLS * grid.cell_size_m
        log.info(
            "Blend bandwidth set to %g metres automatically (rule: 2 cells, Gaussian sigma)",
            bandwidth_m,
        )
    if weight is None:
        weight, rule = _blend_weight_cv(xy, w, month, grid, bandwidth_m)
        log.info("Blend weight set to %g automatically (rule: %s)", weight, rule)
    weight = check_scalar(weight, "weight", float, min_val=0)
    counts = _counts(xy, w, month, grid)
    if weight == 0:
        return counts
    return counts + weight * _kde(xy, w, month, grid, kernel="gaussian", bandwidth_m=bandwidth_m)


def _blend_weight_cv(
    xy: np.ndarray, w: np.ndarray, month: np.ndarray | None, grid: Grid, bandwidth_m: float
) -> tuple[float, str]:
    """The candidate weight whose blend, fitted on the earlier training months, best
    captures the last :data:`VALIDATION_MONTHS` (summed hit rates at :data:`VALIDATION_SHARES`).
    """
    if month is None or len(month) == 0:
        return BLEND_FALLBACK_WEIGHT, "fallback, no incident months to validate on"
    late = month > month.max() - VALIDATION_MONTHS
    inside = grid.in_area
    held = _counts(xy[late], w[late], None, grid)
    if late.all():
        return BLEND_FALLBACK_WEIGHT, (
            f"fallback, fewer than {VALIDATION_MONTHS + 1} months of training incidents"
        )
    if held[inside].sum() <= 0:
        return BLEND_FALLBACK_WEIGHT, "fallback, no incidents in the study area to validate on"
    early = ~late
    counts = _counts(xy[early], w[early], None, grid)
    smooth = _kde(xy[early], w[early], None, grid, kernel="gaussian", bandwidth_m=bandwidth_m)
    n_cells = int(inside.sum())
    ks = [max(1, math.floor(a * n_cells + 0.5)) for a in VALIDATION_SHARES]

    def captured(weight: float) -> float:
        # Only the leading max(ks) cells of the ranking are read.
        scores = np.where(inside, counts + weight * smooth, np.nan)
        order = _leading_cells(scores, inside, max(ks))
        cum = np.cumsum(held.ravel()[order])
        return float(sum(cum[k - 1] for k in ks))

    # max() keeps the first of equals: the smallest weight, the closest to plain counts.
    best = max(BLEND_WEIGHTS_TRIED, key=captured)
    return best, (
        f"temporal cross-validation: fitted before, validated on the last "
        f"{VALIDATION_MONTHS} training months"
    )


def _forecast(
    xy: np.ndarray,
    w: np.ndarray,
    month: np.ndarray | None,
    grid: Grid,
    *,
    context: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    horizon_months: int | float = 3,
    rate_weight: float | None = None,
) -> np.ndarray:
    """Expected incidents per cell over the next ``horizon_months`` from
    :class:`hotspots.forecast.CellForecaster`, fitted on windows inside the training months
    (``rate_weight``: the share of the naive forecast in the mix, None for
    :data:`hotspots.forecast.RATE_WEIGHT`; 0 for the model alone).
    """
    from hotspots.forecast import MIN_HISTORY_MONTHS, RATE_WEIGHT, CellForecaster, monthly_stack

    # --methods reads every number as a float: horizon_months=3.0 is 3 months.
    if isinstance(horizon_months, float) and horizon_months.is_integer():
        horizon_months = int(horizon_months)
    horizon_months = whole_number(horizon_months, "horizon_months", unit="months")
    if len(xy) == 0:
        return np.zeros(grid.shape)
    if month is None:
        raise InputError("method 'forecast' needs incidents with a 'when' column (months)")
    months = [month] if context is None else [month, context[2]]
    spans = [m for m in months if len(m)]
    if not spans:
        return np.zeros(grid.shape)
    first = int(min(m.min() for m in spans))
    last = int(max(m.max() for m in spans))
    if last - first + 1 < MIN_HISTORY_MONTHS + horizon_months:
        raise InputError(
            f"method 'forecast' needs at least {MIN_HISTORY_MONTHS + horizon_months} training "
            f"months, the incidents span {last - first + 1}; use 'blend' on shorter data"
        )
    stack = monthly_stack(xy, month, grid, w, first=first, last=last)
    ctx = None
    if context is not None:
        ctx = monthly_stack(context[0], context[2], grid, context[1], first=first, last=last)
    model = CellForecaster(
        cell_size_m=grid.cell_size_m,
        horizon=horizon_months,
        rate_weight=RATE_WEIGHT if rate_weight is None else rate_weight,  # checked by fit
    )
    model.fit(stack, grid.in_area, ctx)
    log.info(
        "Forecast model fitted on %d training windows inside the %d training months%s",
        len(model.windows_),
        stack.shape[0],
        " with all-category context" if ctx is not None else "",
    )
    return model.predict(stack, grid.in_area, ctx)


@dataclass(frozen=True)
class MethodInfo:
    """A registered scoring method: its function and a one-line description."""

    function: Callable[..., np.ndarray] = field(repr=False)
    description: str

    @property
    def defaults(self) -> dict[str, Any]:
        """Keyword parameters and their defaults."""
        sig = inspect.signature(self.function)
        return {
            p.name: p.default
            for p in sig.parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        }


#: The scoring methods by name.
METHODS: dict[str, MethodInfo] = {
    "counts": MethodInfo(_counts, "training incidents per cell (the baseline)"),
    "kde": MethodInfo(
        _kde,
        "expected incidents per cell from a kernel density surface "
        "(kde_surface: kernel, bandwidth_m, bandwidth_rule)",
    ),
    "blend": MethodInfo(
        _blend,
        "counts + weight x Gaussian KDE per cell (sigma bandwidth_m, "
        "default two cells; weight by temporal cross-validation): "
        "counts with ties broken by nearby activity",
    ),
    "forecast": MethodInfo(
        _forecast,
        "gradient-boosted forecast of the next months' incidents "
        "per cell from lagged multi-scale counts of the category "
        "and of all categories (context); hotspots.forecast",
    ),
}

#: Methods whose function takes the ``context`` incidents (all categories, same months).
CONTEXT_METHODS = frozenset({"forecast"})

#: The method ``hotspots run`` ranks cells with, chosen by rolling backtests.
DEFAULT_METHOD = ScoringMethod("blend")
#: The best method measured in the rolling backtests of ``docs/evaluation.md`` (both
#: forces): the default of ``hotspots evaluate``. Needs months (``when``) and at least six
#: training months.
FORECAST_METHOD = ScoringMethod("forecast")


def as_method(method: ScoringMethod | str, **params: Any) -> ScoringMethod:
    """Resolve a name or :class:`ScoringMethod` (plus overriding params) and check it.

    Examples
    --------
    >>> as_method("kde", kernel="gaussian", bandwidth_m=100).label
    "kde(bandwidth_m=100, kernel='gaussian')"
    >>> as_method("blend", radius=3)
    Traceback (most recent call last):
    ...
    hotspots.schema.InputError: method 'blend' has no parameter 'radius'; ...
    """
    if isinstance(method, str):
        method = ScoringMethod(method)
    elif not isinstance(method, ScoringMethod):
        raise InputError(f"method must be a name or ScoringMethod, got {type(method).__name__}")
    if method.name not in METHODS:
        raise InputError(f"method {method.name!r} is not one of {', '.join(map(repr, METHODS))}")
    merged = {**method.params, **params}
    allowed = [k for k in METHODS[method.name].defaults if k != "context"]
    allowed.append("half_life_months")
    for key in merged:
        if key not in allowed:
            raise InputError(
                f"method {method.name!r} has no parameter {key!r}; it takes {', '.join(allowed)}"
            )
    return ScoringMethod(method.name, merged)


def cell_scores(
    incidents: Any,
    grid: Grid,
    *,
    method: ScoringMethod | str = DEFAULT_METHOD,
    weights: Any = None,
    context: Any = None,
    **params: Any,
) -> np.ndarray:
    """Score every grid cell from training incidents; higher means patrol first.

    Parameters
    ----------
    incidents
        DataFrame/GeoDataFrame with canonical ``x``/``y`` (EPSG:27700; ``when`` for
        ``half_life_months`` and the blend's automatic weight), a metric GeoDataFrame of
        points, or an ``(N, 2)`` array of metres. May be empty (every cell then scores 0).
    grid
        The analysis grid; cells outside its mask are NaN.
    method
        A name in :data:`METHODS` or a :class:`ScoringMethod`; default
        :data:`DEFAULT_METHOD`.
    weights
        Per-incident non-negative weights (array or column name); None counts each once.
    context
        Incidents of all categories over the same training months (``x``, ``y``,
        ``when``), for methods that borrow strength across categories (``"forecast"``);
        other methods ignore it. None: no context.
    **params
        Parameters of the method (override those of ``method``), and ``half_life_months``.

    Returns
    -------
    numpy.ndarray
        float64 ``grid.shape``, row 0 northmost, NaN outside the study area.

    Examples
    --------
    >>> g = Grid(xmin=0.0, ymax=30.0, cell_size_m=10.0, nrows=3, ncols=3)
    >>> xy = np.array([[5.0, 25.0], [6.0, 24.0], [25.0, 5.0]])
    >>> cell_scores(xy, g, method="counts").tolist()
    [[2.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    >>> s = cell_scores(xy, g)  # the default blend: the counts' order, no ties
    >>> bool(s[0, 1] > s[1, 2] > 0)
    True
    """
    spec = as_method(method, **params)
    kwargs = dict(spec.params)
    half_life = kwargs.pop("half_life_months", None)
    xy, _ = points_xy(incidents)
    w = check_weights(weights, len(xy), frame=incidents)
    month = _months(incidents)
    if half_life is not None:
        if month is None:
            raise InputError("half_life_months needs incidents with a 'when' column")
        half_life = positive_number(half_life, "half_life_months", unit="months")
        w = w * 0.5 ** ((month.max(initial=0) - month) / half_life)
    if spec.name in CONTEXT_METHODS and context is not None:
        cxy, _ = points_xy(context, "context")
        cmonth = _months(context)
        if cmonth is None:
            raise InputError("context needs incidents with a 'when' column")
        kwargs["context"] = (cxy, np.ones(len(cxy)), cmonth)
    scores = METHODS[spec.name].function(xy, w, month, grid, **kwargs).astype(float, copy=True)
    scores[~grid.in_area] = np.nan
    return scores


def _months(incidents: Any) -> np.ndarray | None:
    """Month number (year × 12 + month) of each incident, or None without ``when``."""
    if not isinstance(incidents, pd.DataFrame) or "when" not in incidents.columns:
        return None
    when = pd.to_datetime(incidents["when"])
    if when.isna().any():
        raise InputError(f"incidents: 'when' is missing for {int(when.isna().sum())} rows")
    return (when.dt.year * 12 + when.dt.month).to_numpy(dtype=np.int64)
