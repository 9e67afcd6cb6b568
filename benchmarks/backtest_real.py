"""Rolling backtests of the cell scoring methods on real police.uk data, two forces.

Usage: ``python benchmarks/backtest_real.py [--quick] [--csv PATH] [--render CSV] [--write-docs]``

Protocol (docs/evaluation.md, issue #20): 100 m cells; the study area from the data (the
rows' own LSOAs, as ``hotspots evaluate`` without ``--areas``: :func:`evaluation_grid`);
categories anti-social behaviour, violence and sexual offences, burglary; train on 9–12
months, test on the next 3. Splits:

* Leicestershire (embedded data, ``hotspots.embedded_police_uk()``): 2020–2022 train 12
  months, test 3, step 3 (7 splits); 2025 train 9, test Oct–Dec (1 split);
* Lincolnshire 2025 (``../shared/data/police-uk-street-lincolnshire-2025``): train 9, test
  Oct–Dec (1 split).

Methods: counts and fixed-bandwidth KDEs (quartic and Gaussian, 100–800 m) — the
baselines — the blend (``hotspots run``'s ranking) and the forecast model. Per force ×
share (1 %, 5 %) the ratio of each method to the best baseline *of that category and
split* is averaged over categories × splits (the aim: ≥ 1.05) and its minimum reported
(the aim: ≥ 1.0). ``--write-docs`` replaces the block between the
``<!-- backtest-real -->`` markers in docs/evaluation.md. ``--render CSV`` re-renders a
saved ``--csv`` without recomputing. ``--quick``: Lincolnshire only, counts, two KDEs,
blend, forecast (about 4 minutes).
"""

from __future__ import annotations

import argparse
import logging
import re
import time
from pathlib import Path

import pandas as pd

from hotspots.evaluate import rolling_backtest
from hotspots.io import InputSpec, embedded_police_uk
from hotspots.pipeline import (
    DuplicatesConfig,
    GridConfig,
    PopulationConfig,
    RunConfig,
    evaluation_grid,
    prepare,
)
from hotspots.scoring import DEFAULT_METHOD, FORECAST_METHOD, ScoringMethod

ROOT = Path(__file__).resolve().parents[1]
LINCS = ROOT.parent / "shared" / "data" / "police-uk-street-lincolnshire-2025"
DOC = ROOT / "docs" / "evaluation.md"
MARK_BEGIN, MARK_END = "<!-- backtest-real -->", "<!-- /backtest-real -->"
CATEGORIES = ("Anti-social behaviour", "Violence and sexual offences", "Burglary")
SHORT = {
    "Anti-social behaviour": "ASB",
    "Violence and sexual offences": "violence",
    "Burglary": "burglary",
}
SHARES = (0.01, 0.05)
BANDWIDTHS_M = (100, 200, 300, 400, 600, 800)


def methods(quick: bool) -> dict[str, ScoringMethod]:
    out = {"counts": ScoringMethod("counts")}
    kdes = (
        [("quartic", 100), ("gaussian", 100)]
        if quick
        else [(k, b) for k in ("quartic", "gaussian") for b in BANDWIDTHS_M]
    )
    for kernel, bw in kdes:
        out[f"kde {kernel} {bw} m"] = ScoringMethod("kde", {"kernel": kernel, "bandwidth_m": bw})
    out["blend"] = DEFAULT_METHOD
    out["forecast"] = FORECAST_METHOD
    return out


def is_baseline(method: str) -> bool:
    return method == "counts" or method.startswith("kde ")


def load(path: Path) -> tuple[pd.DataFrame, object]:
    cfg = RunConfig(
        inputs=[InputSpec.police_uk(str(path))],
        grid=GridConfig(cell_size_m=100.0),
        duplicates=DuplicatesConfig(enabled=False),
        population=PopulationConfig(enabled=False),
    )
    prepared = prepare(cfg)
    return prepared.incidents[["when", "category", "x", "y"]], evaluation_grid(prepared, cfg)


def splits(quick: bool) -> list[tuple[str, Path, str, str | None, str | None, int]]:
    """(force, data, period label, first month, last month, training months)."""
    out = [("Lincolnshire", LINCS, "2025", None, None, 9)]
    if not quick:
        out += [
            ("Leicestershire", embedded_police_uk(), "2020-22", None, "2022-12", 12),
            ("Leicestershire", embedded_police_uk(), "2025", "2025-01", None, 9),
        ]
    return out


def run(quick: bool) -> pd.DataFrame:
    frames, loaded = [], {}
    for force, path, label, lo, hi, train in splits(quick):
        t = time.perf_counter()
        if force not in loaded:
            loaded[force] = load(path)
        incidents, grid = loaded[force]
        month = incidents["when"].dt.to_period("M")
        keep = pd.Series(True, index=incidents.index)
        if lo:
            keep &= month >= lo
        if hi:
            keep &= month <= hi
        table = rolling_backtest(
            incidents.loc[keep],
            grid,
            train_months=train,
            test_months=3,
            step_months=3,
            categories=CATEGORIES,
            methods=methods(quick),
            area_shares=SHARES,
        )
        print(
            f"{force} {label}: {table['fold'].nunique()} splits, "
            f"{int(grid.in_area.sum()):,} cells, {time.perf_counter() - t:.0f} s",
            flush=True,
        )
        frames.append(table.assign(force=force, period=label))
    return pd.concat(frames, ignore_index=True)


def with_ratios(table: pd.DataFrame) -> pd.DataFrame:
    """Add ``split`` and ``ratio``: PAI / best baseline PAI of the same split, category, share."""
    t = table.copy()
    t["split"] = t["period"] + " test " + t["test_from"].astype(str)
    key = ["force", "split", "category", "area_share"]
    best = t.loc[t["method"].map(is_baseline)].groupby(key)["pai"].max().rename("best_pai")
    t = t.join(best, on=key)
    t["ratio"] = t["pai"] / t["best_pai"]
    return t


def markdown(table: pd.DataFrame) -> str:
    t = with_ratios(table)
    t["category"] = t["category"].map(lambda c: SHORT.get(c, c))
    order = list(dict.fromkeys(t["method"]))
    parts = [
        "**Summary: mean over categories × splits; ratio = PAI / best baseline PAI of "
        "the same category and split (aim: mean ≥ 1.05, minimum ≥ 1.0)**",
        "",
        "| force | method | PAI@1% | ratio@1% mean | min | PAI@5% | ratio@5% mean | min "
        "| PEI@1% | PEI@5% |",
        "|---" * 10 + "|",
    ]
    for force, rows in t.groupby("force", sort=False):
        for m in order:
            r = rows[rows["method"] == m]
            cells = []
            for share in SHARES:
                s = r[r["area_share"].round(4) == share]
                cells += [
                    f"{s['pai'].mean():.1f}",
                    f"{s['ratio'].mean():.3f}",
                    f"{s['ratio'].min():.3f}",
                ]
            pei = [f"{r.loc[r['area_share'].round(4) == a, 'pei'].mean():.3f}" for a in SHARES]
            parts.append(f"| {force} | {m} | " + " | ".join(cells + pei) + " |")
    parts += ["", "**Per split (PAI / PEI at 1 % and 5 % of the area)**", ""]
    for (force, cat), rows in t.groupby(["force", "category"], sort=False):
        splits_ = list(dict.fromkeys(rows["split"]))
        head = " | ".join(f"{s} @1% | @5%" for s in splits_)
        parts += [
            f"*{force}, {cat}*",
            "",
            f"| method | {head} |",
            "|---" * (1 + 2 * len(splits_)) + "|",
        ]
        for m in order:
            vals = []
            for s in splits_:
                for share in SHARES:
                    x = rows[
                        (rows["method"] == m)
                        & (rows["split"] == s)
                        & (rows["area_share"].round(4) == share)
                    ]
                    vals.append(
                        f"{x['pai'].iloc[0]:.1f} / {x['pei'].iloc[0]:.2f}" if len(x) else "–"
                    )
            parts.append(f"| {m} | " + " | ".join(vals) + " |")
        parts.append("")
    return "\n".join(parts).rstrip()


def write_docs(text: str, path: Path = DOC) -> None:
    doc = path.read_text(encoding="utf-8")
    block = f"{MARK_BEGIN}\n{text}\n{MARK_END}"
    pattern = re.compile(re.escape(MARK_BEGIN) + ".*?" + re.escape(MARK_END), re.S)
    if pattern.search(doc):
        doc = pattern.sub(lambda _: block, doc)
    else:
        doc = doc.rstrip() + "\n\n" + block + "\n"
    path.write_text(doc, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="Lincolnshire, fewer methods")
    ap.add_argument("--csv", help="write every split's rows to this CSV")
    ap.add_argument("--render", metavar="CSV", help="render a saved --csv instead of running")
    ap.add_argument("--write-docs", action="store_true", help="update docs/evaluation.md")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)  # per-fold notes would repeat
    t0 = time.perf_counter()
    table = pd.read_csv(args.render) if args.render else run(args.quick)
    if args.csv:
        table.to_csv(args.csv, index=False)
    text = markdown(table)
    print(text)
    if args.write_docs:
        write_docs(text)
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
