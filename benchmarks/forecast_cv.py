"""Development harness for the forecast's configuration: inner temporal CV and test splits.

Usage: ``python benchmarks/forecast_cv.py --out ROWS.csv [--stages inner,test]
[--forces ...] [--folds PERIOD:FOLD ...] [--categories ...]`` then
``python benchmarks/forecast_cv.py --summarise ROWS.csv``.

The splits, data, categories and baselines are those of ``backtest_real.py`` (imported,
not copied). Per split and category the model is fitted once (``rate_weight=0``: the
model alone) and every post-processing variant below is scored from that one fit:

* ``inner``: fitted on the split's training months before its last 3, validated on those
  last 3 (baselines fitted the same way) — what a configuration may be chosen on;
* ``test``: fitted on the whole training period, tested on the split's test months — for
  the report only, never for choosing.

Variants (``naive``: the cell's mean monthly count × 3 inside the study area; ``F``: the
shipped mix ``(1 − RATE_WEIGHT) × model + RATE_WEIGHT × naive``; ``g(s)``: the forecast's
own Gaussian ``smooth`` of σ ``s`` m): ``shipped`` (F), ``model alone``, ``naive g<s>``
(the naive term smoothed: ``0.8 × model + 0.2 × g(naive)``) and ``post g<s> <share>``
(``(1 − share) × F + share × g(F)``). These are candidates for robustness to small
relocations of the points (police.uk's snap-point change of July 2022,
docs/evaluation.md); ``--summarise`` ranks them by the inner stage's score, the mean of
the four force × share mean ratios, the criterion the configuration is chosen by.
About 13 minutes for every split, category and stage on two quiet cores.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from backtest_real import CATEGORIES, SHARES, SHORT, is_baseline, load, methods, splits

from hotspots.evaluate import backtest_folds, category_mask, hit_rate_pai
from hotspots.forecast import RATE_WEIGHT, smooth
from hotspots.scoring import cell_scores

NAIVE_SIGMAS_M = (25.0, 35.0, 50.0, 75.0, 100.0, 150.0)
POST_SIGMAS_M = (50.0, 100.0)
POST_SHARES = (0.1, 0.2, 0.3)
HORIZON = 3


def variants(model: np.ndarray, naive: np.ndarray, cell_m: float) -> dict[str, np.ndarray]:
    """Every variant's scores from the model-only forecast and the naive one (0 outside)."""
    w = RATE_WEIGHT
    shipped = (1 - w) * model + w * naive
    out = {"shipped": shipped, "model alone": model}
    for s in NAIVE_SIGMAS_M:
        out[f"naive g{s:g}"] = (1 - w) * model + w * smooth(naive, s / cell_m)
    for s in POST_SIGMAS_M:
        sm = smooth(shipped, s / cell_m)
        for share in POST_SHARES:
            out[f"post g{s:g} {share:g}"] = (1 - share) * shipped + share * sm
    return out


def score_split(incidents, grid, month, fit_months, eval_months, category):
    """Rows (method, area_share, pai) of the baselines and every variant for one split."""
    in_fit = month.isin(fit_months).to_numpy()
    cat = category_mask(incidents, category)
    train = incidents.loc[in_fit & cat]
    test = incidents.loc[month.isin(eval_months).to_numpy() & cat]
    inside = grid.in_area
    test_counts = np.nan_to_num(cell_scores(test, grid, method="counts"))
    scores = {
        label: cell_scores(train, grid, method=m)
        for label, m in methods(False).items()
        if is_baseline(label)
    }
    model = cell_scores(
        train, grid, method="forecast", rate_weight=0.0, context=incidents.loc[in_fit]
    )
    naive = np.nan_to_num(scores["counts"]) / len(fit_months) * HORIZON
    for label, s in variants(np.nan_to_num(model), naive, grid.cell_size_m).items():
        scores[label] = np.where(inside, s, np.nan)
    rows = []
    for label, s in scores.items():
        t = hit_rate_pai(s, test_counts, mask=inside, area_shares=SHARES)
        rows += [
            {"method": label, "area_share": a, "pai": p}
            for a, p in zip(t["area_share"], t["pai"], strict=True)
        ]
    return rows


def run(args) -> None:
    out = Path(args.out)
    loaded = {}
    for force, path, label, lo, hi, train_n in splits(False):
        if args.forces and force not in args.forces:
            continue
        if force not in loaded:
            loaded[force] = load(path)
        incidents, grid = loaded[force]
        month = incidents["when"].dt.to_period("M")
        keep = pd.Series(True, index=incidents.index)
        if lo:
            keep &= month >= lo
        if hi:
            keep &= month <= hi
        inc, mon = incidents.loc[keep], month.loc[keep]
        folds = backtest_folds(mon.unique(), train_months=train_n, test_months=3, step_months=3)
        for i, fold in enumerate(folds):
            if args.folds and f"{label}:{i}" not in args.folds:
                continue
            train_months = pd.period_range(fold.train_from, fold.train_to, freq="M")
            test_months = pd.period_range(fold.test_from, fold.test_to, freq="M")
            stages = {
                "inner": (train_months[:-3], train_months[-3:]),
                "test": (train_months, test_months),
            }
            for stage in args.stages:
                fit_m, eval_m = stages[stage]
                for category in args.categories or CATEGORIES:
                    t = time.perf_counter()
                    rows = score_split(inc, grid, mon, fit_m, eval_m, category)
                    frame = pd.DataFrame(rows).assign(
                        force=force,
                        split=f"{label} test {fold.test_from}",
                        stage=stage,
                        category=SHORT[category],
                    )
                    frame.to_csv(out, mode="a", header=not out.exists(), index=False)
                    print(
                        f"{force} {label}:{i} {stage} {SHORT[category]} "
                        f"{time.perf_counter() - t:.0f} s",
                        flush=True,
                    )


def summarise(path: str) -> None:
    """Per stage: mean and min ratio per force × share, the score (mean of the four
    means: what the inner stage chooses by) and the cells below 1; then the Jun 2022 split."""
    t = pd.read_csv(path)
    key = ["force", "split", "stage", "category", "area_share"]
    best = t[t["method"].map(is_baseline)].groupby(key)["pai"].max().rename("best")
    t = t[~t["method"].map(is_baseline)].join(best, on=key)
    t["ratio"] = t["pai"] / t["best"]
    pd.set_option("display.width", 250)
    for stage, rows in t.groupby("stage"):
        by = rows.groupby(["method", "force", "area_share"])["ratio"]
        wide = by.agg(["mean", "min"]).unstack(["force", "area_share"])
        wide.columns = [f"{a} {f[:5]} {s:g}" for a, f, s in wide.columns]
        wide["score"] = by.mean().groupby("method").mean()
        wide["n<1"] = rows.groupby("method")["ratio"].apply(lambda r: int((r < 1).sum()))
        print(f"\n== {stage}: ratio to the best baseline over categories × splits")
        print(wide.sort_values("score", ascending=False).round(4).to_string())
    jun = t[(t["category"] == "violence") & t["split"].str.contains("2022-06")]
    if len(jun):
        print("\n== Leicestershire violence, test Jun 2022 (inner: its own training months)")
        table = jun.pivot_table(index="method", columns=["stage", "area_share"], values="ratio")
        print(table.round(3).to_string())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="append rows to this CSV")
    ap.add_argument("--stages", default="inner,test")
    ap.add_argument("--forces", nargs="*")
    ap.add_argument("--folds", nargs="*", help="PERIOD:FOLD, e.g. 2020-22:6")
    ap.add_argument("--categories", nargs="*")
    ap.add_argument("--summarise", metavar="CSV")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.summarise:
        summarise(args.summarise)
        return
    args.stages = args.stages.split(",")
    run(args)


if __name__ == "__main__":
    main()
