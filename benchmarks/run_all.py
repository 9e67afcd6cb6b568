"""Run every benchmark in one go: ``python benchmarks/run_all.py [--quick]``.

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
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "bench_run.py",
    "bench_load_assign.py",
    "bench_kde.py",
    "bench_clusters.py",
    "bench_gistar.py",
    "backtest_real.py",
    "bench_dask.py",
]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, about 3 minutes")
    parser.add_argument("--only", nargs="*", help="run only these scripts")
    args = parser.parse_args()
    failed = []
    for script in args.only or SCRIPTS:
        path = HERE / script
        if not path.exists():
            continue
        if script == "bench_dask.py" and importlib.util.find_spec("distributed") is None:
            print(f"== {script}: skipped (pip install 'hotspots[distributed]')")
            continue
        print(f"== {script}", flush=True)
        t = time.perf_counter()
        cmd = [sys.executable, str(path)] + (["--quick"] if args.quick else [])
        if subprocess.run(cmd).returncode != 0:
            failed.append(script)
        print(f"== {script}: {time.perf_counter() - t:.0f} s\n", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
