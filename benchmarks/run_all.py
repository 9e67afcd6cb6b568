"""Run every benchmark in one go and build the README's speed table from their figures.

    python benchmarks/run_all.py [--quick] [--only SCRIPT ...] [--write-readme]
    python benchmarks/run_all.py --table-only [--write-readme]

Each benchmark compares hotspots with the obvious alternative in the same run and prints
ratios (see each script's docstring for what is measured and how):

* bench_run.py — the whole ``hotspots.run`` on the embedded data (442k rows) and twice it,
  against the floor of reading and projecting the same rows; stage timings and a profile
* bench_load_assign.py — loading ~1M police.uk rows; exact area assignment vs geopandas.sjoin
* bench_kde.py — KDE vs binning floor, scipy.ndimage, scikit-learn KernelDensity, gaussian_kde
* bench_clusters.py — weighted DBSCAN/HDBSCAN vs scikit-learn on every point
* bench_gistar.py — Gi* analytic and 999 permutations vs esda
* backtest_real.py — PAI of scoring methods on the real data (chooses the default)
* bench_dask.py — ingest and batch on a LocalCluster vs one process (needs the
  ``distributed`` extra)
* bench_memory.py — the whole run on 5.3M rows: time and peak memory (~3 minutes, 3.3 GiB)

Every script prints ``RESULT {json}`` lines with its measured figures. A full run (not
``--quick``) stores each script's records in ``benchmarks/results.json`` (replacing that
script's previous ones), and the speed table is built from that file only, so each row is
a figure a benchmark measured; ``--write-readme`` puts the table into README.md between
``<!-- speed-table -->`` and ``<!-- /speed-table -->``. ``--only bench_run.py
--write-readme`` re-measures one script's rows and keeps the others'.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"
RESULTS = HERE / "results.json"
BEGIN, END = "<!-- speed-table -->", "<!-- /speed-table -->"
PREFIX = "RESULT "
SCRIPTS = [
    "bench_run.py",
    "bench_load_assign.py",
    "bench_kde.py",
    "bench_clusters.py",
    "bench_gistar.py",
    "backtest_real.py",
    "bench_dask.py",
    "bench_memory.py",
]

Record = dict[str, Any]
Row = tuple[str, str, str, str]  # task, hotspots, the alternative, how it was measured


def run_script(script: str, quick: bool) -> tuple[int, list[Record]]:
    """Run one benchmark, echoing its output; its exit code and its RESULT records."""
    cmd = [sys.executable, str(HERE / script)] + (["--quick"] if quick else [])
    records: list[Record] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(PREFIX):
                records.append(json.loads(line[len(PREFIX) :]))
            else:
                print(line, end="", flush=True)
    return proc.returncode, records


def machine() -> str:
    """What the figures were measured on."""
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"{mem_gib:.0f} GiB, Python {platform.python_version()}"
    )


def store(results: dict, script: str, records: list[Record]) -> None:
    results[script] = {
        "measured": dt.date.today().isoformat(),
        "machine": machine(),
        "records": records,
    }


def _largest(records: list[Record], bench: str) -> Record | None:
    mine = [r for r in records if r["bench"] == bench]
    return max(mine, key=lambda r: r.get("n", 0)) if mine else None


def _kde_rows(r: Record) -> list[Row]:
    g, q, check = r["gaussian_s"], r["quartic_s"], r["check_s"]
    gp, gg = r["gaussian_plain_s"], r["gaussian_given_alternately_s"]
    qp, qg = r["quartic_plain_s"], r["quartic_given_alternately_s"]
    sk = r["sklearn_s"]
    nrows, ncols = r["grid"]
    best = f"warm, best of {r['repeat']}, one process; `snap_spacing_m` given"
    return [
        (
            f"KDE, {r['n']:,} points, {nrows}×{ncols} grid of {r['cell_m']:g} m, Gaussian "
            f"σ {r['bandwidth_m']:g} m",
            f"{g:.2f} s",
            f"scikit-learn KernelDensity ≈ {sk:,.0f} s ({sk / g:,.0f}×; timed on "
            f"{r['sklearn_cells']:,} cells, scaled to the grid)",
            best,
        ),
        (
            f"same, quartic (radius {r['bandwidth_m']:g} m)",
            f"{q:.2f} s",
            f"floor: np.bincount + one fftconvolve {r['floor_s']:.2f} s (nearest-cell, no "
            "sub-cell accuracy)",
            best,
        ),
        (
            "plain `kde_surface(points)`: no `snap_spacing_m`, so it runs its snap-spacing check",
            f"Gaussian {gp:.2f} s ({gp / gg:.2f}× the call with `snap_spacing_m`, "
            f"{gg:.2f} s), quartic {qp:.2f} s ({qp / qg:.2f}×); the check alone "
            f"{check:.3f} s, {check / g:.0%} of the Gaussian KDE",
            "–",
            f"warm, best of {r['repeat']}; plain and given calls timed alternately",
        ),
    ]


def _run_row(r: Record) -> Row:
    twice = r["label"] != "embedded 51 months"
    what = (
        f"same, {r['rows']:,} rows (the data twice, months shifted)"
        if twice
        else f"whole `hotspots.run`, {r['rows']:,} embedded rows, all outputs (`bench_run.py`)"
    )
    run_s, floor_s = r["run_s"], r["floor_s"]
    return (
        what,
        f"{run_s:.1f} s, {run_s / floor_s:.0f}× the floor ({floor_s:.2f} s); peak RSS "
        f"{r['rss_gib']:.2f} GiB",
        "the floor: a pyarrow CSV read + one pyproj transform of the same rows",
        f"each a first call in a fresh process, after imports; best of {r['repeat']}, run "
        "and floor alternating in one run; whole-process peak RSS",
    )


def _fixed_row(r: Record) -> Row:
    parts = {
        "GeoPackage": r["gpkg_s"],
        "PNGs": r["png_s"],
        "imports inside the run": r["imports_s"],
    }
    total, floor_s = sum(parts.values()), r["floor_s"]
    return (
        f"of the whole run ({r['rows']:,} rows): the fixed costs of its byte-identical outputs",
        f"{total:.1f} s, {total / floor_s:.1f}× the floor: "
        + ", ".join(f"{name} {sec:.2f} s" for name, sec in parts.items()),
        f"the 10× goal leaves {10 * floor_s - total:.2f} s for reading, analysis and every "
        "other output",
        "writers (GDAL, Agg, zlib: C code) from one cProfile run; imports by -X importtime "
        "in the best run",
    )


def _assign_row(r: Record) -> Row:
    ours, sj = r["ours_s"], r["sjoin_s"]
    same = "identical answers for every point" if r["identical"] else "ANSWERS DIFFER"
    return (
        f"assign {r['n']:,} points to {r['areas']} beats, exact",
        f"{ours:.2f} s",
        f"geopandas.sjoin (intersects) {sj:.2f} s: ours {sj / ours:.1f}× faster; {same}",
        f"warm (a 10-point call first), best of {r['repeat']} each, one process",
    )


def _gistar_row(r: Record) -> Row:
    ours, esda = r["ours_perm_run_s"], r["esda_perm_run_s"]
    ours_first = r["ours_perm_first_s"]
    esda_first = r["esda_perm_warmup_s"] + esda
    mem_ours, mem_esda = r["ours_perm_tree_peak_mb"], r["esda_perm_tree_peak_mb"]
    return (
        f"Gi*, {r['cells']:,} cells, {r['permutations']} permutations",
        f"{ours:.3f} s",
        f"esda G_Local(star=True) {esda:.1f} s warm ({esda / ours:.0f}×); first call "
        f"{esda_first:.0f} s with its numba compile ({esda_first / ours_first:,.0f}× our "
        f"first call, {ours_first:.3f} s); peak RSS {mem_ours:,.0f} MB vs {mem_esda:,.0f} MB "
        f"(1/{mem_esda / mem_ours:.0f})",
        "each engine in its own fresh process; ours the median of 5 calls, esda one call "
        "after compiling on a tiny problem; peak RSS of the whole process tree (esda's "
        "workers included), sampled every 10 ms",
    )


def _dbscan_row(r: Record) -> Row:
    pairs = r["neighbour_pairs"]
    if r["sklearn_n"] == r["n"]:
        alt = f"scikit-learn on every point {r['sklearn_s']:.1f} s"
    else:
        alt = (
            f"scikit-learn on every point: {pairs / 1e6:,.0f}M neighbour pairs, > "
            f"{pairs * 8 / 2**30:,.0f} GB, not run"
        )
    return (
        f"DBSCAN, {r['n']:,} police.uk-like points ({r['locations']:,} locations)",
        f"{r['ours_s']:.1f} s",
        alt,
        "best of up to 3 calls (warm) in a fresh child process per step",
    )


def _memory_row(r: Record) -> Row:
    return (
        f"whole run on {r['rows_read']:,} police.uk rows (`bench_memory.py`)",
        f"{r['wall_s']:.0f} s, peak RSS {r['peak_gib']:.2f} GiB",
        "goal: under 3.5 GiB",
        "one run in a fresh process: wall time with imports and every output; "
        "whole-process peak RSS",
    )


#: Which script's records make which rows, in table order.
TABLE: list[tuple[str, Callable[[list[Record]], list[Row]]]] = [
    ("bench_kde.py", lambda rs: _kde_rows(r) if (r := _largest(rs, "kde")) else []),
    (
        "bench_run.py",
        lambda rs: (
            [_run_row(r) for r in rs if r["bench"] == "run"]
            + [_fixed_row(r) for r in rs if r["bench"] == "run_fixed"]
        ),
    ),
    ("bench_load_assign.py", lambda rs: [_assign_row(r)] if (r := _largest(rs, "assign")) else []),
    ("bench_gistar.py", lambda rs: [_gistar_row(r)] if (r := _largest(rs, "gistar")) else []),
    ("bench_clusters.py", lambda rs: [_dbscan_row(r)] if (r := _largest(rs, "dbscan")) else []),
    ("bench_memory.py", lambda rs: [_memory_row(r)] if (r := _largest(rs, "memory")) else []),
]


def speed_table(results: dict) -> str:
    """The markdown speed table, every figure from ``results`` (script → its records)."""
    lines = [
        "| task | hotspots | the obvious alternative | how measured |",
        "|---|---|---|---|",
    ]
    dates, machines, loads = set(), set(), []
    for script, rows_of in TABLE:
        entry = results.get(script)
        rows = rows_of(entry["records"]) if entry else []
        if not rows:
            rows = [(f"`{script}`", "not measured", "–", f"`run_all.py --only {script}`")]
        else:
            dates.add(entry["measured"])
            machines.add(entry["machine"])
            loads += [r["load_avg"] for r in entry["records"] if "load_avg" in r]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    when = " to ".join(sorted({min(dates), max(dates)})) if dates else "never"
    load = (
        f"; 1-minute load average {min(loads):.1f}–{max(loads):.1f} as figures were recorded"
        if loads
        else ""
    )
    lines += [
        "",
        f"Measured {when} on {'; '.join(sorted(machines)) or 'no machine'}, shared with other "
        f"jobs{load}: absolute times move with the load, ratios compare runs made side by side. "
        "Generated from `benchmarks/results.json` by `python benchmarks/run_all.py "
        "--write-readme`.",
    ]
    return "\n".join(lines)


def write_readme(table: str, readme: Path = README) -> None:
    text = readme.read_text(encoding="utf-8")
    head, found, rest = text.partition(BEGIN)
    _, found_end, tail = rest.partition(END)
    if not (found and found_end):
        raise SystemExit(f"{readme} has no {BEGIN} ... {END} markers around its speed table")
    readme.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes; nothing stored")
    parser.add_argument("--only", nargs="*", help="run only these scripts")
    parser.add_argument("--table-only", action="store_true", help="no runs: the stored table")
    parser.add_argument("--write-readme", action="store_true", help="update README.md's table")
    args = parser.parse_args()
    if args.quick and args.write_readme:
        parser.error("--write-readme takes full-size figures only: drop --quick")
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    quick_results: dict = {}
    failed = []
    for script in [] if args.table_only else args.only or SCRIPTS:
        if not (HERE / script).exists():
            continue
        if script == "bench_dask.py" and importlib.util.find_spec("distributed") is None:
            print(f"== {script}: skipped (pip install 'hotspots[distributed]')")
            continue
        print(f"== {script}", flush=True)
        t = time.perf_counter()
        code, records = run_script(script, args.quick)
        print(f"== {script}: {time.perf_counter() - t:.0f} s\n", flush=True)
        if code:
            failed.append(script)
        elif records:
            store(quick_results if args.quick else results, script, records)
    if not args.quick and not args.table_only:
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    table = speed_table(quick_results if args.quick else results)
    print(("(--quick: small sizes, not stored)\n" if args.quick else "") + table)
    if args.write_readme:
        write_readme(table)
        print(f"\nwritten to {README}")
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
