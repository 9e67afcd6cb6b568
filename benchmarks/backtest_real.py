"""Rolling backtests of the cell scoring methods on the embedded Leicestershire police.uk data.

Usage: ``python benchmarks/backtest_real.py [--quick] [--csv PATH]``

Study area: the Leicestershire force area (registry ``leicestershire/force``). Grids: 100 m
cells and the automatic cell size (``"arcgis"`` rule, 250 m over the force). Categories:
anti-social behaviour, violence and sexual offences, burglary, and all crime. Folds:

* 2020–2022: train 12 months, test the next 3, step 3 (7 folds, tests from Dec 2020);
* 2025: train 6 months, test the next 3, step 3 (2 folds; 2024 has only four months).

Prints mean PAI at 1 % and 5 % of the area per category × method (markdown, for
``docs/evaluation.md``) and the timings. ``--quick`` runs 100 m cells, two 2022 folds and
fewer methods (< 1 minute). ``--csv`` writes every fold's rows.
"""

from __future__ import annotations

import argparse
import logging
import time

import pandas as pd

from hotspots.boundaries import load_areas, study_area
from hotspots.evaluate import backtest_summary, rolling_backtest
from hotspots.geocode import locate_incidents
from hotspots.grid import make_grid, mask_from_geometry
from hotspots.io.load import load_incidents
from hotspots.io.sources import EMBEDDED_POLICE_UK
from hotspots.scoring import DEFAULT_METHOD, ScoringMethod

CATEGORIES = ("Anti-social behaviour", "Violence and sexual offences", "Burglary", None)
SHORT = {"Anti-social behaviour": "ASB", "Violence and sexual offences": "violence",
         "Burglary": "burglary", "all": "all crime"}


def methods(quick: bool) -> dict[str, ScoringMethod]:
    out = {
        "default": DEFAULT_METHOD,
        "counts": ScoringMethod("counts"),
        "kde gaussian 100 m": ScoringMethod("kde", {"kernel": "gaussian", "bandwidth_m": 100}),
        "kde gaussian 200 m": ScoringMethod("kde", {"kernel": "gaussian", "bandwidth_m": 200}),
        "kde quartic arcgis": ScoringMethod("kde"),
    }
    if quick:
        return out
    out.update({
        "kde gaussian 300 m": ScoringMethod("kde", {"kernel": "gaussian", "bandwidth_m": 300}),
        "kde quartic 250 m": ScoringMethod("kde", {"bandwidth_m": 250}),
        "kde quartic 500 m": ScoringMethod("kde", {"bandwidth_m": 500}),
        "blend weight 0.1": ScoringMethod("blend", {"weight": 0.1}),
        "blend weight 0.25": ScoringMethod("blend", {"weight": 0.25}),
        "blend weight 1": ScoringMethod("blend", {"weight": 1.0}),
        "blend sigma 100 m": ScoringMethod("blend", {"bandwidth_m": 100}),
        "counts half-life 6 months": ScoringMethod("counts", {"half_life_months": 6}),
        "default half-life 6 months": ScoringMethod("blend", {"half_life_months": 6}),
    })
    return out


def load() -> tuple[pd.DataFrame, object]:
    incidents = locate_incidents(load_incidents(EMBEDDED_POLICE_UK).incidents).incidents
    area = study_area(load_areas("leicestershire/force"))
    return incidents[["when", "category", "x", "y"]], area


def grid_for(area: object, cell_size_m: float | None):
    grid = make_grid(area.bounds, cell_size_m=cell_size_m)  # type: ignore[attr-defined]
    return grid.with_mask(mask_from_geometry(grid, area))


def run(quick: bool) -> pd.DataFrame:
    t0 = time.perf_counter()
    incidents, area = load()
    print(f"loaded {len(incidents):,} incidents in {time.perf_counter() - t0:.1f} s")
    month = incidents["when"].dt.to_period("M")
    if quick:
        periods = {"2022": (incidents[(month >= "2021-01") & (month <= "2022-06")], 12, 3)}
        cells: tuple[float | None, ...] = (100.0,)
    else:
        periods = {"2020-22": (incidents[month <= "2022-12"], 12, 3),
                   "2025": (incidents[month >= "2025-01"], 6, 3)}
        cells = (100.0, None)
    frames = []
    for cell in cells:
        grid = grid_for(area, cell)
        for label, (subset, train, step) in periods.items():
            t = time.perf_counter()
            table = rolling_backtest(subset, grid, train_months=train, test_months=3,
                                     step_months=step, categories=CATEGORIES,
                                     methods=methods(quick))
            folds = table["fold"].nunique()
            print(f"{grid.cell_size_m:g} m cells ({grid.cell_size_rule}), {label}: {folds} folds "
                  f"in {time.perf_counter() - t:.1f} s")
            frames.append(table.assign(cell_size_m=grid.cell_size_m, period=label))
    print(f"total {time.perf_counter() - t0:.1f} s")
    return pd.concat(frames, ignore_index=True)


def markdown(table: pd.DataFrame) -> str:
    """One table per cell size × period: methods down, category PAI@1 % / @5 % across."""
    parts = []
    for (cell, period), rows in table.groupby(["cell_size_m", "period"], sort=False):
        s = backtest_summary(rows)
        folds = int(s["folds"].max())
        wide = s.pivot(index="method", columns="category", values=["pai_0.01", "pai_0.05"])
        order = list(dict.fromkeys(s["method"]))
        cats = list(dict.fromkeys(s["category"]))
        head = " | ".join(f"{SHORT.get(c, c)} @1% | @5%" for c in cats)
        lines = [f"**{cell:g} m cells, {period} ({folds} folds): mean PAI**", "",
                 f"| method | {head} |", "|---" * (1 + 2 * len(cats)) + "|"]
        for m in order:
            vals = " | ".join(f"{wide.loc[m, ('pai_0.01', c)]:.1f} | "
                              f"{wide.loc[m, ('pai_0.05', c)]:.1f}" for c in cats)
            lines.append(f"| {m} | {vals} |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100 m, two folds, fewer methods")
    ap.add_argument("--csv", help="write every fold's rows to this CSV")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)  # bandwidth notes would repeat on every fold
    table = run(args.quick)
    if args.csv:
        table.to_csv(args.csv, index=False)
    print()
    print(markdown(table))


if __name__ == "__main__":
    main()
