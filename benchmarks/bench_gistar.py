"""Benchmark Gi* on a grid: hotspots.gistar against esda.G_Local(star=True).

Usage: ``python benchmarks/bench_gistar.py [--quick]``

Each engine runs in its own subprocess on the same synthetic counts (Poisson background
plus a few hot blocks), so imports and memory do not leak between engines. Reported:
wall time of the statistic (median of repeats for the fast engines; esda with permutations
once), the time to build esda's weights and to compile its numba code (separately), and
memory: the child's own peak RSS (``ru_maxrss``) and the peak RSS of the whole process tree
sampled every 10 ms (esda's permutations run in joblib worker processes), each also as the
increase over the child's RSS before the timed call.

First calls are reported too: ours is the first of its repeats (after ``import``), esda's
is its numba compile (timed on a tiny problem) plus its warm run. The last line is a
``RESULT {json}`` record that ``run_all.py`` collects.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ENGINES = ("ours_analytic", "ours_perm", "esda_analytic", "esda_perm")
CELL_M = 200.0
BAND_M = 400.0
SEED = 0


def make_counts(side: int) -> np.ndarray:
    rng = np.random.default_rng(42)
    counts = rng.poisson(1.5, (side, side)).astype(float)
    for r, c in rng.integers(10, side - 10, size=(max(3, side // 30), 2)):
        counts[r - 3 : r + 4, c - 3 : c + 4] += rng.poisson(4.0, (7, 7))
    return counts


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_engine(engine: str, side: int, perms: int, out: Path) -> dict:
    """Body of a child process: time one engine, save its z and p_sim for comparison."""
    counts = make_counts(side)
    setup = warmup = 0.0
    if engine.startswith("ours"):
        from hotspots.gistar import gistar_grid

        p = perms if engine == "ours_perm" else 0

        def call():
            res = gistar_grid(
                counts,
                cell_size_m=CELL_M,
                distance_band_m=BAND_M,
                permutations=p,
                seed=SEED,
                fdr=True,
            )
            return res.z.ravel(), res.p_sim.ravel() if p else None

        repeats = 5
    else:
        import esda
        from libpysal.weights import DistanceBand

        rows, cols = np.indices(counts.shape)
        centres = np.column_stack([cols.ravel() * CELL_M, -rows.ravel() * CELL_M])
        t = time.perf_counter()
        w = DistanceBand(centres, threshold=BAND_M, binary=True, silence_warnings=True)
        setup = time.perf_counter() - t
        p = perms if engine == "esda_perm" else 0
        if p:  # compile the numba kernels on a tiny problem first
            t = time.perf_counter()
            tiny = DistanceBand(centres[:50], threshold=BAND_M, binary=True, silence_warnings=True)
            esda.G_Local(
                counts.ravel()[:50], tiny, transform="B", star=True, permutations=9, seed=SEED
            )
            warmup = time.perf_counter() - t

        def call():
            g = esda.G_Local(
                counts.ravel(),
                w,
                transform="B",
                star=True,
                permutations=p,
                seed=SEED,
                keep_simulations=False,
            )
            return g.Zs, g.p_sim if p else None

        repeats = 1 if p else 3
    base = rss_mb()
    print("READY", flush=True)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        z, p_sim = call()
        times.append(time.perf_counter() - t)
    np.savez(out, z=z, p_sim=np.array([]) if p_sim is None else p_sim)
    return {
        "engine": engine,
        "run_s": statistics.median(times),
        "first_s": times[0],
        "setup_s": setup,
        "warmup_s": warmup,
        "base_mb": base,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def tree_rss_mb(proc) -> float:
    import psutil

    try:
        procs = [proc, *proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs) / 2**20
    except psutil.Error:
        return 0.0


def measure(engine: str, side: int, perms: int, folder: Path) -> dict:
    """Run one engine in a subprocess, sampling the RSS of its process tree."""
    import psutil

    out = folder / f"{engine}.npz"
    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--engine",
            engine,
            "--side",
            str(side),
            "--perms",
            str(perms),
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    proc = psutil.Process(child.pid)
    peak = {"before": 0.0, "during": 0.0}
    phase = ["before"]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[phase[0]] = max(peak[phase[0]], tree_rss_mb(proc))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines = []
    for line in child.stdout:
        if line.strip() == "READY":
            phase[0] = "during"
        else:
            lines.append(line)
    child.wait()
    done.set()
    sampler.join()
    if child.returncode:
        raise SystemExit(f"{engine} failed with exit code {child.returncode}")
    result = json.loads(lines[-1])
    result["tree_peak_mb"] = max(peak.values())
    result["tree_extra_mb"] = max(0.0, peak["during"] - result["base_mb"])
    result["arrays"] = dict(np.load(out))
    return result


def report(results: dict[str, dict], side: int, perms: int) -> None:
    print(
        f"\nGi* on {side}x{side} = {side * side:,} cells ({CELL_M:g} m), band {BAND_M:g} m, "
        f"{perms} permutations for *_perm\n"
    )
    head = (
        f"{'engine':<15}{'run s':>10}{'weights s':>11}{'compile s':>11}"
        f"{'maxrss MB':>11}{'+MB':>8}{'tree MB':>9}{'+MB':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in results.values():
        print(
            f"{r['engine']:<15}{r['run_s']:>10.4f}{r['setup_s']:>11.2f}{r['warmup_s']:>11.1f}"
            f"{r['maxrss_mb']:>11.0f}{r['maxrss_mb'] - r['base_mb']:>8.0f}"
            f"{r['tree_peak_mb']:>9.0f}{r['tree_extra_mb']:>8.0f}"
        )
    ours_a, ours_p = results["ours_analytic"], results["ours_perm"]
    esda_a, esda_p = results["esda_analytic"], results["esda_perm"]
    print(
        f"\nspeed-up analytic: {esda_a['run_s'] / ours_a['run_s']:.0f}x "
        f"(with esda's weights build: "
        f"{(esda_a['run_s'] + esda_a['setup_s']) / ours_a['run_s']:.0f}x)"
    )
    print(
        f"speed-up {perms} permutations: {esda_p['run_s'] / ours_p['run_s']:.0f}x; "
        f"extra memory of the call: ours {ours_p['tree_extra_mb']:.0f} MB, "
        f"esda {esda_p['tree_extra_mb']:.0f} MB (process tree)"
    )
    dz = np.abs(ours_a["arrays"]["z"] - esda_a["arrays"]["z"]).max()
    print(
        f"first calls, {perms} permutations: ours {ours_p['first_s']:.3f} s, esda "
        f"{esda_p['warmup_s'] + esda_p['run_s']:.1f} s (numba compile {esda_p['warmup_s']:.1f} s "
        f"+ run): {(esda_p['warmup_s'] + esda_p['run_s']) / ours_p['first_s']:.0f}x"
    )
    ps_ours, ps_esda = ours_p["arrays"]["p_sim"], esda_p["arrays"]["p_sim"]
    two_sided = np.minimum(1.0, 2 * ps_esda)
    print(f"max |z ours - z esda| = {dz:.2e}")
    print(
        f"p_sim: ours two-sided vs min(1, 2 x esda one-sided 'directed'): mean |diff| "
        f"{np.abs(ps_ours - two_sided).mean():.3f}, correlation "
        f"{np.corrcoef(ps_ours, two_sided)[0, 1]:.3f} (ours counts ties on both sides)"
    )
    figures = ("run_s", "first_s", "setup_s", "warmup_s", "maxrss_mb", "tree_peak_mb")
    record = {"bench": "gistar", "cells": side * side, "cell_m": CELL_M, "band_m": BAND_M}
    record |= {"permutations": perms, "max_abs_dz": float(dz)}
    for r in results.values():
        record |= {f"{r['engine']}_{k}": r[k] for k in (*figures, "tree_extra_mb")}
    print("RESULT " + json.dumps({**record, "load_avg": os.getloadavg()[0]}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100x100 grid, under a minute")
    ap.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)
    ap.add_argument("--side", type=int, default=300, help=argparse.SUPPRESS)
    ap.add_argument("--perms", type=int, default=999, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.engine:
        print(json.dumps(run_engine(args.engine, args.side, args.perms, args.out)))
        return
    side = 100 if args.quick else args.side
    with tempfile.TemporaryDirectory() as tmp:
        results = {e: measure(e, side, args.perms, Path(tmp)) for e in ENGINES}
    report(results, side, args.perms)


if __name__ == "__main__":
    main()
