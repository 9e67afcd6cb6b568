"""Benchmark hotspot finding on police.uk-like data (incidents snapped to ~50k map points).

    python benchmarks/bench_clusters.py [--quick]

Compares DBSCAN on distinct locations weighted by incident counts (what
:func:`hotspots.clusters.dbscan_hotspots` does) with scikit-learn DBSCAN on every incident,
HDBSCAN through fast_hdbscan on weighted locations with fast_hdbscan on every incident and
scikit-learn HDBSCAN on a subsample, and times threshold hotspots.

Each step runs in a forked child of a lean parent, so its memory is its own: "peak MB" is
the child's peak resident set (``VmHWM``, reset through ``/proc/self/clear_refs``) above its
resident set at the start of the step. Steps under ~2 s are repeated up to 3 times and the
best time kept, as the machine may be shared. numba-compiled code (fast_hdbscan) is loaded
before the clock starts. ``--quick`` runs 10k and 100k incidents only (< 1 minute). Each
size ends with a ``RESULT {json}`` record of the DBSCAN figures that ``run_all.py`` collects.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import time
from collections.abc import Callable
from queue import Empty
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

SEED = 2026
EXTENT_M = 60_000.0
N_POINTS = 50_000
# scikit-learn DBSCAN holds every neighbour pair (an 8-byte index each, plus per-point array
# overhead); above this many it would not fit in 24 GB, so it runs on a 10 % subsample.
MAX_PAIRS = 400_000_000


def snap_points(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """~50k map points: 40 towns (Gaussian, 0.5-3 km) and a rural scatter; with popularity."""
    towns = rng.uniform(5_000, EXTENT_M - 5_000, (40, 2))
    sizes = rng.dirichlet(np.full(40, 0.7)) * N_POINTS * 0.8
    parts = [
        rng.normal(c, rng.uniform(500, 3_000), (max(int(s), 1), 2))
        for c, s in zip(towns, sizes, strict=True)
    ]
    parts.append(rng.uniform(0, EXTENT_M, (N_POINTS - sum(map(len, parts)), 2)))
    pts = np.round(np.vstack(parts)) + [430_000.0, 270_000.0]
    # A few map points (town centres, stations, shops) take a large share of incidents.
    weight = rng.pareto(1.2, len(pts)) + 0.05
    return pts, weight / weight.sum()


def incidents(n: int, rng: np.random.Generator, pts: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    xy = pts[rng.choice(len(pts), n, p=p)]
    return pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]})


def _status(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return float(line.split()[1]) / 1024
    return float("nan")


def _child(step: str, xy: np.ndarray, kw: dict[str, Any], queue: Any) -> None:
    try:
        fn = STEPS[step]
        if step in NUMBA_STEPS:  # load fast_hdbscan's compiled code (disk cache) untimed
            import fast_hdbscan

            fast_hdbscan.HDBSCAN(min_cluster_size=5).fit(np.random.default_rng(0).random((500, 2)))
        best, peak, spent, out = float("inf"), 0.0, 0.0, None
        for _ in range(3):
            base = _status("VmRSS")
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            t = time.perf_counter()
            out = fn(xy, **kw)
            took = time.perf_counter() - t
            best, spent = min(best, took), spent + took
            peak = max(peak, _status("VmHWM") - base)
            if spent + took > 2.0:
                break
        queue.put((out, best, peak))
    except BaseException as exc:  # report to the parent rather than leave it waiting
        queue.put(exc)


def measure(step: str, xy: np.ndarray, **kw: Any) -> tuple[Any, float, float]:
    """Run a step in a fresh child process: its result, best seconds and peak MB above start.

    Children come from a forkserver that has imported the libraries but never run them, so
    no step inherits another's memory or OpenMP state.
    """
    ctx = mp.get_context("forkserver")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(step, xy, kw, queue))
    proc.start()
    while True:
        try:
            got = queue.get(timeout=1.0)
            break
        except Empty:
            if not proc.is_alive():
                raise RuntimeError(f"step {step} died (exit code {proc.exitcode})") from None
    proc.join()
    if isinstance(got, BaseException):
        raise got
    return got


def _frame(xy: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]})


def ours_dbscan(xy: np.ndarray, **kw: Any) -> tuple[dict, int, np.ndarray]:
    from hotspots.clusters import dbscan_hotspots

    hs = dbscan_hotspots(_frame(xy), **kw)
    return hs.params, hs.n_hotspots, hs.labels


def sklearn_dbscan(xy: np.ndarray, eps_m: float, min_samples: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.cluster import DBSCAN

    fit = DBSCAN(eps=eps_m, min_samples=min_samples).fit(xy)
    return fit.labels_, fit.core_sample_indices_


def ours_hdbscan(xy: np.ndarray) -> tuple[int, int]:
    from hotspots.clusters import hdbscan_hotspots

    hh = hdbscan_hotspots(_frame(xy), engine="fast_hdbscan")
    return hh.params["min_cluster_size"], hh.n_hotspots


def fast_hdbscan_all(xy: np.ndarray, min_cluster_size: int) -> int:
    import fast_hdbscan

    return int(
        fast_hdbscan.HDBSCAN(
            min_cluster_size=min_cluster_size, reproducible=True, cluster_selection_method="leaf"
        )
        .fit(xy - xy.min(axis=0))
        .labels_.max()
        + 1
    )


def sklearn_hdbscan(xy: np.ndarray) -> int:
    from sklearn.cluster import HDBSCAN

    return int(
        HDBSCAN(min_cluster_size=max(5, len(xy) // 1000), copy=True).fit(xy).labels_.max() + 1
    )


def threshold(xy: np.ndarray) -> tuple[float, int]:
    from hotspots.clusters import find_hotspots

    th = find_hotspots(_frame(xy))
    return th.params["cell_size_m"], th.n_hotspots


STEPS: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (
        ours_dbscan,
        sklearn_dbscan,
        ours_hdbscan,
        fast_hdbscan_all,
        sklearn_hdbscan,
        threshold,
    )
}
NUMBA_STEPS = {"ours_hdbscan", "fast_hdbscan_all"}


def neighbour_pairs(xy: np.ndarray, eps_m: float) -> int:
    """Neighbour pairs DBSCAN on every incident would hold, counted on weighted locations."""
    pts, w = np.unique(xy, axis=0, return_counts=True)
    nb = cKDTree(pts).query_ball_point(pts, eps_m, workers=-1)
    return int(sum(w[i] * w[idx].sum() for i, idx in enumerate(nb)))


def agrees(labels: np.ndarray, ref_labels: np.ndarray, ref_core: np.ndarray) -> bool:
    """Same members and the same clusters of core incidents as DBSCAN on every incident.

    Border incidents reachable from two clusters go to the nearest core in ours and to the
    first cluster reached in scikit-learn, so only they may differ.
    """
    core = np.zeros(len(labels), bool)
    core[ref_core] = True
    a, b = labels[core].tolist(), ref_labels[core].tolist()
    same_core = len(set(zip(a, b, strict=True))) == len(set(a)) == len(set(b))
    return same_core and bool(((labels > 0) == (ref_labels >= 0)).all())


def bench_size(n: int, xy: np.ndarray, hdb_sub: int, row: Callable[..., None]) -> None:
    n_loc = len(np.unique(xy, axis=0))
    (params, n_hot, labels), t_ours, mb_ours = measure("ours_dbscan", xy)
    eps, ms = params["eps_m"], params["min_samples"]
    row(
        n,
        "DBSCAN ours (weighted locations, auto rules)",
        t_ours,
        mb_ours,
        f"{n_loc:,} locations; eps {eps:g} m, min_samples {ms}; {n_hot} hotspots",
    )
    _, t_fix, mb = measure("ours_dbscan", xy, eps_m=eps, min_samples=ms)
    row(n, "DBSCAN ours, eps given (no k-distance)", t_fix, mb)
    pairs = neighbour_pairs(xy, eps)
    sub = xy if pairs <= MAX_PAIRS else xy[np.random.default_rng(SEED).random(n) < 0.1]
    (ref, core), t_sk, mb_sk = measure("sklearn_dbscan", sub, eps_m=eps, min_samples=ms)
    if len(sub) == n:
        row(
            n,
            "DBSCAN sklearn, every incident",
            t_sk,
            mb_sk,
            f"{pairs / 1e6:,.0f}M neighbour pairs; same core clusters and members: "
            f"{agrees(labels, ref, core)}; sklearn / ours time {t_sk / t_ours:.1f}",
        )
    else:
        row(
            n,
            f"DBSCAN sklearn, {len(sub):,} subsample",
            t_sk,
            mb_sk,
            f"all {n:,} would hold {pairs / 1e6:,.0f}M neighbour pairs "
            f"(>{pairs * 8 / 2**30:,.0f} GB): not run",
        )
    record = {"bench": "dbscan", "n": n, "locations": n_loc, "ours_s": t_ours, "ours_mb": mb_ours}
    record |= {"eps_given_s": t_fix, "neighbour_pairs": pairs, "sklearn_n": len(sub)}
    record |= {"sklearn_s": t_sk, "sklearn_mb": mb_sk, "load_avg": os.getloadavg()[0]}
    print("RESULT " + json.dumps(record), flush=True)
    (mcs, n_hot), t_fh, mb = measure("ours_hdbscan", xy)
    row(
        n,
        "HDBSCAN ours (fast_hdbscan, weighted locations)",
        t_fh,
        mb,
        f"min_cluster_size {mcs} (leaf); {n_hot} hotspots",
    )
    _, t_fa, mb = measure("fast_hdbscan_all", xy, min_cluster_size=mcs)
    row(n, "HDBSCAN fast_hdbscan, every incident", t_fa, mb, f"its time / ours {t_fa / t_fh:.1f}")
    hsub = xy[np.random.default_rng(SEED).permutation(n)[:hdb_sub]]
    _, t_hs, mb = measure("sklearn_hdbscan", hsub)
    row(
        n,
        f"HDBSCAN sklearn, {len(hsub):,} of them",
        t_hs,
        mb,
        f"~N^2: about {t_hs * (n / len(hsub)) ** 2:,.1f} s for all" if len(hsub) < n else "",
    )
    (cell, n_hot), t_th, mb = measure("threshold", xy)
    row(n, "threshold (counts, auto grid, q0.99)", t_th, mb, f"{cell:g} m cells; {n_hot} hotspots")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10k and 100k only (< 1 minute)")
    args = ap.parse_args()
    # Not fast_hdbscan: importing it starts numba's OpenMP pool, which forbids forking.
    mp.set_forkserver_preload(
        ["numpy", "pandas", "geopandas", "sklearn.cluster", "hotspots.clusters"]
    )
    sizes = (10_000, 100_000) if args.quick else (10_000, 100_000, 1_000_000)
    rng = np.random.default_rng(SEED)
    pts, p = snap_points(rng)
    print(
        f"# bench_clusters{' --quick' if args.quick else ''}: {platform.machine()}, "
        f"{mp.cpu_count()} cores; {len(pts):,} map points over a "
        f"{EXTENT_M / 1000:.0f} km square\n"
    )
    print(f"{'incidents':>9} | {'step':<47} | {'time':>10} | {'peak':>10} | notes")

    def row(n: int, step: str, secs: float, mb: float, note: str = "") -> None:
        print(f"{n:>9,} | {step:<47} | {secs:8.2f} s | {mb:7.0f} MB | {note}", flush=True)

    for n in sizes:
        xy = np.ascontiguousarray(incidents(n, rng, pts, p)[["x", "y"]].to_numpy())
        bench_size(n, xy, 5_000 if args.quick else 20_000, row)


if __name__ == "__main__":
    main()
