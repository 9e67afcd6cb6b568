"""Benchmark: loading ~1M police.uk rows, and exact area assignment vs geopandas.sjoin.

Run: ``python benchmarks/bench_load_assign.py [--quick]``. Uses the embedded
Leicestershire data; the 1M-row case repeats its 51 monthly files (copied to a temp
folder) so the reader sees real files.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from hotspots.assign import assign_areas
from hotspots.boundaries import load_areas
from hotspots.geocode import locate_incidents
from hotspots.io import EMBEDDED_POLICE_UK as EMBEDDED_INCIDENTS
from hotspots.io import load_incidents


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_load(copies: int) -> None:
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
    return located.incidents


def bench_assign(n: int, base) -> None:
    beats = load_areas("leicestershire/beats")[0]
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(base), n)
    x = base["x"].to_numpy()[pick] + rng.normal(0, 30, n)
    y = base["y"].to_numpy()[pick] + rng.normal(0, 30, n)
    frame = base.iloc[:0][["_row"]].reindex(range(n)).assign(x=x, y=y, _row=np.arange(n))

    # Warm up each method once (imports, first-call set-up) so only the work is timed.
    assign_areas(frame.head(10), [beats], tolerance_m=0)
    gpd.sjoin(
        gpd.GeoDataFrame(geometry=gpd.points_from_xy(x[:10], y[:10]), crs=27700),
        beats.polygons,
        predicate="intersects",
        how="left",
    )

    t = time.perf_counter()
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=27700)
    joined = gpd.sjoin(pts, beats.polygons, predicate="intersects", how="left")
    joined = joined[~joined.index.duplicated()]
    sjoin_s = time.perf_counter() - t

    t = time.perf_counter()
    tree = shapely.STRtree(beats.polygons.geometry.values)
    tree.query(shapely.points(x, y), predicate="within")
    strtree_s = time.perf_counter() - t

    t = time.perf_counter()
    out, _ = assign_areas(frame, [beats], tolerance_m=0)
    ours_s = time.perf_counter() - t
    agree = (joined["name"].fillna("").to_numpy() == out["beat"].to_numpy()).mean()
    print(
        f"assign {n:,} points to {len(beats.polygons)} beats: sjoin {sjoin_s:.2f} s, "
        f"STRtree {strtree_s:.2f} s, hotspots {ours_s:.2f} s "
        f"(sjoin/ours {sjoin_s / ours_s:.1f}x); identical to sjoin for {agree:.4%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (< 1 min)")
    args = parser.parse_args()
    base = bench_load(1 if args.quick else 2)
    for n in [100_000] if args.quick else [100_000, 1_000_000]:
        bench_assign(n, base)


if __name__ == "__main__":
    main()
