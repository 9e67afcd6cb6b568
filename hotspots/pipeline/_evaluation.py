"""``hotspots evaluate``: score cells on a training period, test them on a later one, write
``evaluation.csv``, ``evaluation.png`` and ``evaluation.json``.

The grid is the one ``hotspots run`` would use for the same configuration: the study area
is the union of the first area layer, the cell size ``config.grid.cell_size_m`` or, when that is
None, the ``"arcgis"`` rule of :func:`hotspots.grid.make_grid` (shorter side of the study
area / 250, rounded to a nice value in 10–500 m), cells outside the area masked. Without
area layers the grid covers the bounds of the loaded incidents (both periods) unmasked.
Measures and methods: :mod:`hotspots.evaluate`, :mod:`hotspots.scoring`,
``docs/evaluation.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hotspots._validation import parse_month
from hotspots.boundaries import study_area
from hotspots.evaluate import (
    CURVE_AREA_SHARES,
    DEFAULT_AREA_SHARES,
    Evaluation,
    category_mask,
    evaluate,
)
from hotspots.forecast import HORIZON_MONTHS, MIN_HISTORY_MONTHS
from hotspots.grid import Grid, make_grid, mask_from_geometry
from hotspots.io import write_bytes_atomic, write_csv, write_json
from hotspots.pipeline._config import RunConfig
from hotspots.pipeline._stages import Prepared, prepare
from hotspots.report import curve_png
from hotspots.schema import InputError
from hotspots.scoring import DEFAULT_METHOD, FORECAST_METHOD, ScoringMethod, as_method

log = logging.getLogger("hotspots.pipeline")

#: Columns of ``evaluation.csv``, in order.
CSV_COLUMNS = [
    "method",
    "method_params",
    "category",
    "train_from",
    "train_to",
    "test_from",
    "test_to",
    "cell_size_m",
    "n_train",
    "n_test",
    "area_share",
    "cells",
    "hits",
    "hit_rate",
    "pai",
    "pei",
    "rri",
]


@dataclass(frozen=True, kw_only=True)
class EvaluationRun:
    """One backtest written by :func:`run_evaluation`.

    Attributes
    ----------
    table
        ``evaluation.csv``: :data:`CSV_COLUMNS`, one row per method and area share.
    metadata
        ``evaluation.json``: the periods, grid, methods and their parameters, and the row
        counts (``rows``: rows read, used, rejected).
    """

    table: pd.DataFrame
    metadata: dict[str, Any]


def run_evaluation(
    config: RunConfig,
    *,
    train: tuple[str, str],
    test: tuple[str, str],
    category: str | None = None,
    out: str | Path,
    methods: Mapping[str, ScoringMethod | str] | None = None,
    area_shares: Sequence[float] = DEFAULT_AREA_SHARES,
) -> EvaluationRun:
    """Backtest the scoring methods on one train/test split of the config's incidents.

    Parameters
    ----------
    config
        The run configuration (inputs, areas, cell size, density options). Its month
        filters are replaced by the two periods; its categories by ``category`` if given.
    train, test
        Inclusive ``("YYYY-MM", "YYYY-MM")`` month ranges; the test period must start
        after the training period ends.
    category
        One category (e.g. ``"Anti-social behaviour"``); None uses all (or the config's).
    out
        Folder for ``evaluation.csv`` (:data:`CSV_COLUMNS`, one row per method and area
        share), ``evaluation.png`` (hit-rate and PAI curves over 0.25–20 % of the area)
        and ``evaluation.json`` (parameters and counts).
    methods
        Label → method (see :func:`parse_methods` for the ``--methods`` text); None
        compares ``forecast`` (:data:`hotspots.scoring.FORECAST_METHOD`, the best measured;
        left out with fewer than six training months), ``default``
        (:data:`hotspots.scoring.DEFAULT_METHOD`, the blend ``hotspots run`` ranks with),
        ``counts`` and ``kde`` (the run's density surface: ``config.density.kernel``,
        ``config.density.bandwidth_m``, ``config.density.bandwidth_rule``).
        With ``category``, the training incidents of every category are the methods'
        ``context`` (used by ``forecast``).
    area_shares
        Shares of the study area reported in the CSV.

    Returns
    -------
    EvaluationRun
        The tables written to ``evaluation.csv`` and ``evaluation.json``.
    """
    train_from, train_to = _period(train, "train")
    test_from, test_to = _period(test, "test")
    if test_from <= train_to:
        raise InputError(
            f"the test period ({test_from}..{test_to}) must start after the "
            f"training period ends ({train_to}): test incidents would leak into "
            "training"
        )
    cfg = config.updated(
        filter={"month_from": str(train_from), "month_to": str(test_to), "last_months": None}
    )
    prepared = prepare(cfg)
    incidents = prepared.incidents
    month = incidents["when"].dt.to_period("M")
    in_period = ((month >= train_from) & (month <= train_to)).to_numpy()
    in_cat = np.ones(len(incidents), bool) if not category else category_mask(incidents, category)
    in_train = in_period & in_cat
    in_test = ((month >= test_from) & (month <= test_to)).to_numpy() & in_cat
    # Context for methods that borrow across categories: training months only, never test.
    context = incidents.loc[in_period] if category else None
    for name, rows, lo, hi in (
        ("training", in_train, train_from, train_to),
        ("test", in_test, test_from, test_to),
    ):
        if not rows.any():
            raise InputError(
                f"no incidents in the {name} months {lo}..{hi}"
                + (f" for category {category!r}" if category else "")
            )
    grid = evaluation_grid(prepared, config)
    n_months = train_to.ordinal - train_from.ordinal + 1
    resolved = dict(methods) if methods is not None else _default_methods(config, n_months)
    shares = sorted({*(float(a) for a in area_shares), *CURVE_AREA_SHARES})
    ev = evaluate(
        incidents.loc[in_train],
        incidents.loc[in_test],
        grid,
        methods=resolved,
        area_shares=shares,
        context=context,
    )
    table = _csv_table(ev, area_shares, category, (train_from, train_to, test_from, test_to))
    out = Path(out)
    write_csv(table, out / "evaluation.csv", neutralise_formulas=config.output.formula_guard)
    title = (
        f"{category or 'All categories'}: trained {train_from}..{train_to}, "
        f"tested {test_from}..{test_to}, {grid.cell_size_m:g} m cells"
    )
    write_bytes_atomic(out / "evaluation.png", curve_png(ev.table, title=title))
    metadata = _metadata(ev, prepared, category, (train_from, train_to, test_from, test_to))
    write_json(metadata, out / "evaluation.json")
    best = table.loc[np.isclose(table["area_share"], 0.01), ["method", "pai"]]
    log.info("PAI at 1%% of the area: %s", ", ".join(f"{m} {p:.1f}" for m, p in best.values))
    return EvaluationRun(table=table, metadata=metadata)


def evaluation_grid(prepared: Prepared, config: RunConfig) -> Grid:
    """The grid ``hotspots run`` would use: study-area bounds, its cell-size rule, masked."""
    area = study_area(prepared.layers)
    if area is None:
        inc = prepared.incidents
        bounds = (inc["x"].min(), inc["y"].min(), inc["x"].max(), inc["y"].max())
        return make_grid(bounds, cell_size_m=config.grid.cell_size_m)
    grid = make_grid(area.bounds, cell_size_m=config.grid.cell_size_m)
    return grid.with_mask(mask_from_geometry(grid, area))


def parse_methods(text: str) -> dict[str, ScoringMethod]:
    """Methods from a comma-separated list, each labelled by its own text.

    Items: a method name (``counts``, ``kde``, ``blend``, ``forecast``); ``kde:KERNEL`` or
    ``kde:KERNEL:METRES`` for a fixed-bandwidth KDE; ``NAME:KEY=VALUE[:KEY=VALUE]`` for any
    parameter (numbers are read as numbers).

    Examples
    --------
    >>> m = parse_methods("counts,kde:quartic:300,blend:weight=0.25")
    >>> list(m)
    ['counts', 'kde:quartic:300', 'blend:weight=0.25']
    >>> m["kde:quartic:300"].label
    "kde(bandwidth_m=300.0, kernel='quartic')"
    """
    out: dict[str, ScoringMethod] = {}
    for raw in str(text).split(","):
        item = raw.strip()
        if not item:
            continue
        name, *args = [a.strip() for a in item.split(":")]
        params: dict[str, Any] = {}
        positional = [a for a in args if "=" not in a]
        if positional and name != "kde":
            raise InputError(
                f"--methods: {item!r}: only kde takes KERNEL[:METRES] without a "
                "name; write KEY=VALUE (e.g. blend:weight=0.25)"
            )
        if len(positional) > 2:
            raise InputError(f"--methods: {item!r} is not kde:KERNEL:METRES")
        if positional:
            params["kernel"] = positional[0]
        if len(positional) == 2:
            params["bandwidth_m"] = _number(positional[1], item)
        for a in args:
            if "=" in a:
                key, value = (v.strip() for v in a.split("=", 1))
                params[key] = _number(value, item) if _is_number(value) else value
        if item in out:
            raise InputError(f"--methods: {item!r} is given twice")
        out[item] = as_method(name, **params)
    if not out:
        raise InputError("--methods is empty: give e.g. counts,kde:quartic:300,forecast")
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(text: str, item: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"--methods: {item!r}: {text!r} is not a number") from None
    return value


def _default_methods(config: RunConfig, n_months: int) -> dict[str, ScoringMethod | str]:
    kde = ScoringMethod(
        "kde",
        {
            "kernel": config.density.kernel,
            "bandwidth_m": config.density.bandwidth_m,
            "bandwidth_rule": config.density.bandwidth_rule,
        },
    )
    out: dict[str, ScoringMethod | str] = {}
    if n_months >= MIN_HISTORY_MONTHS + HORIZON_MONTHS:
        out["forecast"] = FORECAST_METHOD
    else:
        log.warning(
            "Method 'forecast' left out: it needs %d training months, got %d",
            MIN_HISTORY_MONTHS + HORIZON_MONTHS,
            n_months,
        )
    out.update({"default": DEFAULT_METHOD, "counts": "counts", "kde": kde})
    return out


def _period(value: tuple[Any, Any], name: str) -> tuple[pd.Period, pd.Period]:
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise InputError(
            f"{name} must be (from, to) months like ('2025-01', '2025-06'), got {value!r}"
        ) from None
    months = []
    for part, text in (("from", lo), ("to", hi)):
        months.append(parse_month(str(text), f"{name} {part}:").to_period("M"))
    if months[0] > months[1]:
        raise InputError(f"{name}: {months[0]} is after {months[1]}")
    return months[0], months[1]


def _csv_table(
    ev: Evaluation,
    area_shares: Sequence[float],
    category: str | None,
    months: tuple[pd.Period, ...],
) -> pd.DataFrame:
    wanted = np.isin(
        np.round(ev.table["area_share"], 10), np.round(np.asarray(area_shares, dtype=float), 10)
    )
    table = ev.table.loc[wanted].copy()
    table["method_params"] = table["method"].map({k: m.label for k, m in ev.methods.items()})
    table["category"] = category or "all"
    for col, m in zip(("train_from", "train_to", "test_from", "test_to"), months, strict=True):
        table[col] = str(m)
    table["cell_size_m"] = ev.grid.cell_size_m
    table["n_train"] = ev.n_train
    table["n_test"] = ev.n_test
    return table[CSV_COLUMNS].reset_index(drop=True)


def _metadata(
    ev: Evaluation, prepared: Prepared, category: str | None, months: tuple[pd.Period, ...]
) -> dict[str, Any]:
    return {
        "train": [str(months[0]), str(months[1])],
        "test": [str(months[2]), str(months[3])],
        "category": category or "all",
        "study_area": [lyr.layer for lyr in prepared.layers[:1]] or "bounds of the incidents",
        **ev.params(),
        "rows": prepared.counts,
        "measures": {
            "hit_rate": "test incidents in the selected cells / all test incidents",
            "pai": "hit rate / share of study-area cells selected (Chainey et al. 2008)",
            "pei": "PAI / PAI of the best possible selection of as many cells (Hunt 2016)",
            "rri": "(test / training incidents in the selection) / (test / training "
            "incidents overall) (Levine 2008)",
        },
    }
