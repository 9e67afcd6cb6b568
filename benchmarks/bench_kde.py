"""Benchmark kde_surface against the binning floor, gaussian_filter, scikit-learn and scipy.

Synthetic clustered incidents over 60 x 60 km, a 1200 x 1200 grid of 50 m cells, bandwidth
250 m (quartic radius / Gaussian sigma). All methods run in the same process, one after
another; times are the best of ``--repeat`` runs, peak memory is tracemalloc's peak of a
separate run (numpy and Python allocations). scikit-learn and scipy are far too slow for the
whole grid: they are timed on a random subsample of cells (and, for gaussian_kde, of
incidents) and scaled up linearly, which the table says.

The plain public call (no ``snap_spacing_m``) adds the snap-spacing check: the quick grid
test of ``may_be_finer_than_locations`` and, only when it cannot rule out a warning, the
exact ``location_spacing_m``. Its rows time that call, and the check alone, the same way.
The last line per size is a ``RESULT {json}`` record that ``run_all.py`` collects.

Accuracy is the largest relative error against exact sums over the raw incidents, at a
random sample of cells whose density exceeds 1 % of the maximum.

    python benchmarks/bench_kde.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal
from scipy.spatial import cKDTree
from scipy.special import erf

from hotspots.density import kde_surface, location_spacing_m
from hotspots.density._bandwidth import may_be_finer_than_locations
from hotspots.grid import Grid, bin_counts, make_grid

SPAN_M = 60_000.0
CELL_M = 50.0
BANDWIDTH_M = 250.0


@dataclass
class Row:
    method: str
    n: int
    seconds: float
    peak_mib: float
    error: float | None
    note: str = ""


def clustered_points(n: int, seed: int = 0) -> np.ndarray:
    """80 % of incidents in 2,000 Gaussian blobs (SD 30-500 m, skewed sizes), 20 % uniform."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(2_000, SPAN_M - 2_000, (2_000, 2))
    share = rng.pareto(1.2, 2_000) + 1.0
    lab = rng.choice(2_000, size=n, p=share / share.sum())
    xy = centres[lab] + rng.normal(size=(n, 2)) * rng.uniform(30, 500, 2_000)[lab, None]
    background = n // 5
    xy[:background] = rng.uniform(0, SPAN_M, (background, 2))
    return np.clip(xy, 0.0, SPAN_M - 1e-3)


def timed(fn: Callable[[], object], repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def timed_alternately(
    first: Callable[[], object], second: Callable[[], object], repeat: int
) -> tuple[float, float]:
    """Best times of two calls run in turn, so that a busy machine slows both alike."""
    best = [math.inf, math.inf]
    for _ in range(repeat):
        for i, fn in enumerate((first, second)):
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best[0], best[1]


def peak_mib(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def quartic_stencil(grid: Grid) -> np.ndarray:
    r = math.ceil(BANDWIDTH_M / grid.cell_size_m)
    d = np.arange(-r, r + 1) * grid.cell_size_m
    d2 = d[None, :] ** 2 + d[:, None] ** 2
    return np.where(
        d2 < BANDWIDTH_M**2, 3 / (math.pi * BANDWIDTH_M**2) * (1 - d2 / BANDWIDTH_M**2) ** 2, 0.0
    )


def floor_fft(grid: Grid, xy: np.ndarray, stencil: np.ndarray) -> np.ndarray:
    """The floor: nearest-cell np.bincount + one fftconvolve with the quartic stencil."""
    counts = bin_counts(grid, xy[:, 0], xy[:, 1])
    return signal.fftconvolve(counts, stencil, mode="same") * 1e6


def binned_gaussian_filter(grid: Grid, xy: np.ndarray) -> np.ndarray:
    counts = bin_counts(grid, xy[:, 0], xy[:, 1])
    sigma = BANDWIDTH_M / grid.cell_size_m
    return (
        ndimage.gaussian_filter(counts, sigma, mode="constant", truncate=4.0) / grid.cell_area_km2
    )


def exact_at(
    grid: Grid, tree: cKDTree, xy: np.ndarray, cells: np.ndarray, kernel: str
) -> np.ndarray:
    """Exact density per km² at the given flat cell indices, from the raw incidents."""
    xc, yc = grid.centres()
    pts = np.column_stack([xc.ravel()[cells], yc.ravel()[cells]])
    out = np.empty(len(cells))
    reach = BANDWIDTH_M if kernel == "quartic" else 4 * BANDWIDTH_M * math.sqrt(2)
    for i, near in enumerate(tree.query_ball_point(pts, reach)):
        d = xy[near] - pts[i]
        if kernel == "quartic":
            u = np.maximum(1 - (d**2).sum(1) / BANDWIDTH_M**2, 0)
            out[i] = (3 / (math.pi * BANDWIDTH_M**2) * u * u).sum()
        else:
            inside = (np.abs(d) <= 4 * BANDWIDTH_M).all(1)
            g = np.exp(-(d[inside] ** 2).sum(1) / (2 * BANDWIDTH_M**2))
            out[i] = g.sum() / (2 * math.pi * BANDWIDTH_M**2) / erf(4 / math.sqrt(2)) ** 2
    return out * 1e6


def max_error(values: np.ndarray, exact: np.ndarray, cells: np.ndarray) -> float:
    est = values.ravel()[cells]
    return float(np.max(np.abs(est - exact) / exact))


def run(n: int, args: argparse.Namespace, grid: Grid) -> list[Row]:
    xy = clustered_points(n)
    rep = args.repeat
    rng = np.random.default_rng(1)
    stencil = quartic_stencil(grid)
    spacing = location_spacing_m(xy)
    methods: dict[str, tuple[Callable[[], np.ndarray], str]] = {
        "floor: bincount + fftconvolve (quartic)": (
            lambda: floor_fft(grid, xy, stencil),
            "quartic",
        ),
        "binned + ndimage.gaussian_filter": (lambda: binned_gaussian_filter(grid, xy), "gaussian"),
        "kde_surface quartic": (
            lambda: (
                kde_surface(xy, bandwidth_m=BANDWIDTH_M, extent=grid, snap_spacing_m=spacing).values
            ),
            "quartic",
        ),
        "kde_surface gaussian": (
            lambda: (
                kde_surface(
                    xy,
                    bandwidth_m=BANDWIDTH_M,
                    extent=grid,
                    kernel="gaussian",
                    snap_spacing_m=spacing,
                ).values
            ),
            "gaussian",
        ),
    }
    tree = cKDTree(xy)
    rows = []
    plain_pairs: dict[str, tuple[float, float]] = {}
    for name, (fn, kernel) in methods.items():
        seconds = timed(fn, rep)
        mem = peak_mib(fn)
        values = fn()
        top = np.nanmax(values)
        dense = np.flatnonzero(values.ravel() > 0.01 * top)
        cells = rng.choice(dense, min(args.check_cells, len(dense)), replace=False)
        err = max_error(values, exact_at(grid, tree, xy, cells, kernel), cells)
        rows.append(Row(name, n, seconds, mem, err))
    for kernel in ("quartic", "gaussian"):
        given = methods[f"kde_surface {kernel}"][0]

        def plain(k: str = kernel) -> np.ndarray:
            return kde_surface(xy, bandwidth_m=BANDWIDTH_M, extent=grid, kernel=k).values

        given_s, plain_s = timed_alternately(given, plain, rep)
        rows.append(
            Row(
                f"kde_surface {kernel}, plain call",
                n,
                plain_s,
                peak_mib(plain),
                None,
                f"no snap_spacing_m: the spacing check runs inside; {given_s:.3g} s with it, "
                "timed alternately",
            )
        )
        plain_pairs[kernel] = (given_s, plain_s)
    rows.append(
        Row(
            "snap-spacing check of the plain call",
            n,
            timed(lambda: spacing_check(xy), rep),
            peak_mib(lambda: spacing_check(xy)),
            None,
            f"quick grid test{'' if spacing_check(xy) is None else ' + exact spacing'}",
        )
    )
    rows.append(
        Row(
            "location_spacing_m (exact spacing)",
            n,
            timed(lambda: location_spacing_m(xy), rep),
            peak_mib(lambda: location_spacing_m(xy)),
            None,
            "what the check computes when the quick test cannot rule out a warning",
        )
    )
    rows.append(sklearn_row(grid, xy, args.sk_cells))
    rows.append(scipy_row(grid, xy, args.scipy_points, args.scipy_cells))
    emit(rows, n, grid, args, plain_pairs)
    return rows


def spacing_check(xy: np.ndarray) -> float | None:
    """The work the plain kde_surface call adds (bandwidth given): as in kde_surface."""
    if may_be_finer_than_locations(xy, BANDWIDTH_M):
        return location_spacing_m(xy)
    return None


def emit(
    rows: list[Row],
    n: int,
    grid: Grid,
    args: argparse.Namespace,
    plain_pairs: dict[str, tuple[float, float]],
) -> None:
    """One machine-readable line of this size's figures, for run_all.py."""
    sec = {r.method: r.seconds for r in rows if r.n == n}
    record = {
        "bench": "kde",
        "n": n,
        "grid": [grid.nrows, grid.ncols],
        "cell_m": CELL_M,
        "bandwidth_m": BANDWIDTH_M,
        "repeat": args.repeat,
        "gaussian_s": sec["kde_surface gaussian"],
        "gaussian_plain_s": sec["kde_surface gaussian, plain call"],
        "gaussian_given_alternately_s": plain_pairs["gaussian"][0],
        "quartic_s": sec["kde_surface quartic"],
        "quartic_plain_s": sec["kde_surface quartic, plain call"],
        "quartic_given_alternately_s": plain_pairs["quartic"][0],
        "check_s": sec["snap-spacing check of the plain call"],
        "floor_s": sec["floor: bincount + fftconvolve (quartic)"],
        "sklearn_s": sec["scikit-learn KernelDensity gaussian, rtol=1e-4"],
        "sklearn_cells": args.sk_cells,
        "load_avg": os.getloadavg()[0],
    }
    print("RESULT " + json.dumps(record), flush=True)


def sample_cells(grid: Grid, m: int, seed: int) -> np.ndarray:
    xc, yc = grid.centres()
    pick = np.random.default_rng(seed).choice(xc.size, m, replace=False)
    return np.column_stack([xc.ravel()[pick], yc.ravel()[pick]])


def sklearn_row(grid: Grid, xy: np.ndarray, m: int) -> Row:
    from sklearn.neighbors import KernelDensity

    cells = sample_cells(grid, m, 2)

    def fit_score() -> None:
        kd = KernelDensity(
            kernel="gaussian", bandwidth=BANDWIDTH_M, rtol=1e-4, algorithm="kd_tree"
        ).fit(xy)
        kd.score_samples(cells)

    t0 = time.perf_counter()
    kd = KernelDensity(
        kernel="gaussian", bandwidth=BANDWIDTH_M, rtol=1e-4, algorithm="kd_tree"
    ).fit(xy)
    fit = time.perf_counter() - t0
    score = timed(lambda: kd.score_samples(cells), 1)
    scaled = fit + score * grid.nrows * grid.ncols / m
    return Row(
        "scikit-learn KernelDensity gaussian, rtol=1e-4",
        len(xy),
        scaled,
        peak_mib(fit_score),
        None,
        f"scaled from {m:,} cells (all incidents)",
    )


def scipy_row(grid: Grid, xy: np.ndarray, n_sub: int, m: int) -> Row:
    from scipy.stats import gaussian_kde

    cells = sample_cells(grid, m, 3)
    sub = xy[np.random.default_rng(4).choice(len(xy), min(n_sub, len(xy)), replace=False)]
    # gaussian_kde scales the data covariance; this factor gives roughly sigma = 250 m.
    factor = BANDWIDTH_M / math.sqrt(np.mean(np.var(sub, axis=0)))

    def evaluate() -> None:
        gaussian_kde(sub.T, bw_method=factor).evaluate(cells.T)

    seconds = timed(evaluate, 1) * (len(xy) / len(sub)) * (grid.nrows * grid.ncols / m)
    return Row(
        "scipy gaussian_kde",
        len(xy),
        seconds,
        peak_mib(evaluate),
        None,
        f"scaled from {len(sub):,} incidents x {m:,} cells",
    )


def print_table(rows: list[Row]) -> None:
    print(
        "| incidents | method | time (s) | x gaussian_filter | peak MiB | max rel. error | note |"
    )
    print("|---:|---|---:|---:|---:|---:|---|")
    for n in sorted({r.n for r in rows}):
        group = [r for r in rows if r.n == n]
        base = next(r.seconds for r in group if "gaussian_filter" in r.method)
        for r in group:
            err = "-" if r.error is None else f"{100 * r.error:.2f} %"
            print(
                f"| {n:,} | {r.method} | {r.seconds:.3g} | {r.seconds / base:,.1f} | "
                f"{r.peak_mib:,.0f} | {err} | {r.note} |"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller run, under a minute")
    args = parser.parse_args(argv)
    sizes = (10_000, 100_000, 1_000_000)
    args.repeat, args.check_cells, args.sk_cells = 3, 3_000, 2_000
    args.scipy_points, args.scipy_cells = 20_000, 500
    if args.quick:
        sizes = (10_000, 100_000)
        args.repeat, args.check_cells, args.sk_cells = 1, 500, 200
        args.scipy_points, args.scipy_cells = 5_000, 200
    grid = make_grid((0.0, 0.0, SPAN_M - 0.1, SPAN_M - 0.1), cell_size_m=CELL_M)
    print(
        f"grid {grid.nrows} x {grid.ncols} cells of {CELL_M:g} m, bandwidth "
        f"{BANDWIDTH_M:g} m; python {sys.version.split()[0]}, numpy {np.__version__}"
    )
    rows: list[Row] = []
    for n in sizes:
        rows += run(n, args, grid)
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
