"""Benchmark: loading ~1M police.uk rows, and exact area assignment vs geopandas.sjoin.

Run: ``python benchmarks/bench_load_assign.py [--quick]``. Uses the embedded
Leicestershire data; the 1M-row case repeats its 51 monthly files (copied to a temp
folder) so the reader sees real files.

Assignment: points drawn from the real incident locations and moved by a 30 m Gaussian
(so many fall near a beat boundary), assigned to the 171 shipped beats by
``assign_areas`` and by ``geopandas.sjoin(predicate="intersects")``. Both are warmed up on
10 points first, then each is timed ``--repeat`` times (best kept) in the same process.
sjoin's time is the join alone; its answer is then reduced to one area per point by the
same tie rule as ours (the first polygon, in name order, of those holding the point) and
must equal ours point for point, or the benchmark fails. The last line of each case is a
``RESULT {json}`` record that ``run_all.py`` collects.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.assign import assign_areas
from hotspots.boundaries import AreaLayer, load_areas
from hotspots.geocode import locate_incidents
from hotspots.io import EMBEDDED_POLICE_UK as EMBEDDED_INCIDENTS
from hotspots.io import load_incidents


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _result(record: dict) -> None:
    print("RESULT " + json.dumps({**record, "load_avg": os.getloadavg()[0]}), flush=True)


def best_of(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def bench_load(copies: int) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        for c in range(copies):
            for f in sorted(EMBEDDED_INCIDENTS.glob("*.csv.gz")):
                shutil.copy(f, Path(tmp) / f"c{c}-{f.name}")
        t = time.perf_counter()
        res = load_incidents(tmp)
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        located = locate_incidents(res.incidents)
        geo_s = time.perf_counter() - t
    n = res.rows_read
    print(
        f"load {n:,} rows: read+validate {load_s:.2f} s ({n / load_s:,.0f} rows/s); "
        f"lon/lat -> EPSG:27700 {geo_s:.2f} s; peak RSS {_peak_mb():,.0f} MB"
    )
    _result({"bench": "load", "rows": n, "read_s": load_s, "project_s": geo_s})
    return located.incidents


def sjoin_first(layer: AreaLayer, joined: gpd.GeoDataFrame, n: int) -> np.ndarray:
    """sjoin's matches reduced to one name per point: the first polygon, as ours."""
    first = joined["index_right"].groupby(level=0).min().reindex(range(n))
    names = layer.polygons["name"].to_numpy(dtype=object)
    hit = first.notna().to_numpy()
    out = np.full(n, "", dtype=object)
    out[hit] = names[first[hit].to_numpy(np.int64)]
    return out


def bench_assign(n: int, base: pd.DataFrame, repeat: int) -> None:
    beats = load_areas("leicestershire/beats")[0]
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(base), n)
    x = base["x"].to_numpy()[pick] + rng.normal(0, 30, n)
    y = base["y"].to_numpy()[pick] + rng.normal(0, 30, n)
    frame = pd.DataFrame({"_row": np.arange(n), "x": x, "y": y})

    def sjoin(k: int = n) -> gpd.GeoDataFrame:
        pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x[:k], y[:k]), crs=27700)
        return gpd.sjoin(pts, beats.polygons, predicate="intersects", how="left")

    def ours(k: int = n) -> pd.DataFrame:
        return assign_areas(frame.head(k), [beats], tolerance_m=0)[0]

    ours(10)  # warm up each method once (imports, first-call set-up): only the work is timed
    sjoin(10)
    sjoin_s, joined = best_of(sjoin, repeat)
    ours_s, out = best_of(ours, repeat)
    strtree_s, _ = best_of(
        lambda: shapely.STRtree(beats.polygons.geometry.values).query(
            shapely.points(x, y), predicate="within"
        ),
        1,
    )
    same = sjoin_first(beats, joined, n) == out["beat"].to_numpy()
    print(
        f"assign {n:,} points to {len(beats.polygons)} beats (best of {repeat}): "
        f"sjoin {sjoin_s:.2f} s, STRtree.query(within) {strtree_s:.2f} s, "
        f"hotspots {ours_s:.3f} s (sjoin/ours {sjoin_s / ours_s:.1f}x); "
        f"identical to sjoin for {same.mean():.4%} of points"
    )
    _result(
        {
            "bench": "assign",
            "n": n,
            "areas": len(beats.polygons),
            "repeat": repeat,
            "ours_s": ours_s,
            "sjoin_s": sjoin_s,
            "strtree_s": strtree_s,
            "identical": bool(same.all()),
        }
    )
    if not same.all():
        raise SystemExit(f"assign_areas differs from sjoin for {(~same).sum():,} points")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (< 1 min)")
    parser.add_argument("--repeat", type=int, default=3, help="timings kept: best of this many")
    args = parser.parse_args()
    base = bench_load(1 if args.quick else 2)
    for n in [100_000] if args.quick else [100_000, 1_000_000]:
        bench_assign(n, base, args.repeat)


if __name__ == "__main__":
    main()
