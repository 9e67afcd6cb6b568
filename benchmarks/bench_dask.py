"""Dask scale-out: ingest a synthetic national archive, then batch runs and backtests.

    python benchmarks/bench_dask.py [--rows 20000000] [--quick] [--batch-forces 2]

The archive is written as police.uk-like monthly CSV files (``YYYY-MM/YYYY-MM-<force>-
street.csv``, as in the downloaded zip): the 43 territorial forces of England and Wales
laid out on a 7 × 7 national grid, each replaying the real Leicestershire months shipped
in ``hotspots/_data/police_uk/leicestershire`` (cycled), moved to its grid place, scaled
by a force size (lognormal, mean 1), resampled and jittered (σ 15 m). Each force gets the
Leicestershire beats moved the same way, so per-force area assignment runs as for real.

Measured in one run:

1. ingest (CSV → Parquet dataset) on a 2-worker LocalCluster: rows/s, worker peak RSS;
2. per-task overhead: 1,000 no-op tasks;
3. ``run_batch`` by force × category (``--batch-forces`` forces spread over the size
   range, all 14 categories) in one process and on the 2-worker cluster;
4. the same groups with ``task="evaluate"`` (backtest: 6 months train, 6 months test).

Peak memory is the largest RSS seen (sampled every 0.2 s) of each worker process, or of
this process for the one-process runs. Nothing is asserted; numbers go to stdout and
``--json``. The work folder is deleted unless ``--keep``.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psutil
from pyproj import Transformer

from hotspots.batch import ingest, run_batch, slug
from hotspots.io import InputSpec, dataset_info
from hotspots.pipeline import PopulationConfig, RunConfig

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "hotspots" / "_data" / "police_uk" / "leicestershire"
BEATS = ROOT / "hotspots" / "_data" / "boundaries" / "leicestershire" / "beats_approx.geojson.gz"
BEAT_FIELDS = {"beat": "beat_name", "npa": "npa_name", "district": "district"}
FORCES = [
    "Avon and Somerset Constabulary",
    "Bedfordshire Police",
    "Cambridgeshire Constabulary",
    "Cheshire Constabulary",
    "City of London Police",
    "Cleveland Police",
    "Cumbria Constabulary",
    "Derbyshire Constabulary",
    "Devon & Cornwall Police",
    "Dorset Police",
    "Durham Constabulary",
    "Dyfed-Powys Police",
    "Essex Police",
    "Gloucestershire Constabulary",
    "Greater Manchester Police",
    "Gwent Police",
    "Hampshire Constabulary",
    "Hertfordshire Constabulary",
    "Humberside Police",
    "Kent Police",
    "Lancashire Constabulary",
    "Leicestershire Police",
    "Lincolnshire Police",
    "Merseyside Police",
    "Metropolitan Police Service",
    "Norfolk Constabulary",
    "North Wales Police",
    "North Yorkshire Police",
    "Northamptonshire Police",
    "Northumbria Police",
    "Nottinghamshire Police",
    "South Wales Police",
    "South Yorkshire Police",
    "Staffordshire Police",
    "Suffolk Constabulary",
    "Surrey Police",
    "Sussex Police",
    "Thames Valley Police",
    "Warwickshire Police",
    "West Mercia Police",
    "West Midlands Police",
    "West Yorkshire Police",
    "Wiltshire Police",
]
LEICS_BOX = (-1.65, 52.35, -0.40, 53.00)  # lon/lat: drops the few stray far-away points
LEICS_CENTRE = (460_000.0, 305_000.0)  # BNG metres


def force_layout(seed: int = 0) -> pd.DataFrame:
    """Grid place (BNG offset from Leicestershire) and size factor of each force."""
    rng = np.random.default_rng(seed)
    size = rng.lognormal(0.0, 0.8, len(FORCES))
    size = np.clip(size / size.mean(), 0.2, 5.0)
    col, row = np.arange(len(FORCES)) % 7, np.arange(len(FORCES)) // 7
    return pd.DataFrame(
        {
            "force": FORCES,
            "dx": 120_000 + 85_000 * col - LEICS_CENTRE[0],
            "dy": 80_000 + 120_000 * row - LEICS_CENTRE[1],
            "size": size,
        }
    )


@functools.cache
def _real_months() -> list[pd.DataFrame]:
    """The real monthly files, stray points dropped, with BNG x/y (NaN where no location)."""
    to_bng = Transformer.from_crs(4326, 27700, always_xy=True)
    out = []
    for f in sorted(REAL.glob("*-street.csv.gz")):
        frame = pd.read_csv(f, dtype=str, keep_default_na=False)
        lon = pd.to_numeric(frame["Longitude"], errors="coerce")
        lat = pd.to_numeric(frame["Latitude"], errors="coerce")
        inside = lon.between(LEICS_BOX[0], LEICS_BOX[2]) & lat.between(LEICS_BOX[1], LEICS_BOX[3])
        frame = frame.loc[inside | lon.isna()].reset_index(drop=True)
        x, y = to_bng.transform(
            pd.to_numeric(frame["Longitude"], errors="coerce").to_numpy(),
            pd.to_numeric(frame["Latitude"], errors="coerce").to_numpy(),
        )
        out.append(frame.assign(_x=x, _y=y))
    return out


def _write_force(args: tuple) -> int:
    """All months of one force as police.uk CSV files; returns rows written."""
    i, force, dx, dy, size, months, archive, seed = args
    real = _real_months()
    to_ll = Transformer.from_crs(27700, 4326, always_xy=True)
    rng = np.random.default_rng([seed, i])
    rows = 0
    for m, month in enumerate(months):
        base = real[m % len(real)]
        pick = rng.integers(0, len(base), int(round(size * len(base))))
        f = base.iloc[pick].reset_index(drop=True)
        x = f["_x"].to_numpy() + dx + rng.normal(0, 15, len(f))
        y = f["_y"].to_numpy() + dy + rng.normal(0, 15, len(f))
        f["Longitude"], f["Latitude"] = to_ll.transform(x, y)  # NaN stays blank
        has_id = f["Crime ID"] != ""
        ids = pd.Series([f"{i:02d}{m:03d}{k:07d}" for k in range(len(f))])
        f["Crime ID"] = ids.where(has_id, "")
        f["Month"] = month
        f["Reported by"] = f["Falls within"] = force
        folder = archive / month
        folder.mkdir(parents=True, exist_ok=True)
        f.drop(columns=["_x", "_y"]).to_csv(
            folder / f"{month}-{slug(force)}-street.csv", index=False, float_format="%.6f"
        )
        rows += len(f)
    return rows


def _write_beats(layout: pd.DataFrame, areas: Path) -> None:
    beats = gpd.read_file(f"/vsigzip/{BEATS}").to_crs(27700)
    for _, r in layout.iterrows():
        folder = areas / slug(r["force"])
        folder.mkdir(parents=True, exist_ok=True)
        moved = beats.copy()
        moved["geometry"] = beats.geometry.translate(r["dx"], r["dy"])
        moved.to_file(folder / "beats.gpkg", driver="GPKG")


def generate(work: Path, rows: int, seed: int = 0) -> dict:
    """Write the synthetic archive and per-force beats; return what was written."""
    layout = force_layout(seed)
    real_mean = np.mean([len(f) for f in _real_months()])
    n_months = max(12, math.ceil(rows / (len(FORCES) * real_mean)))  # 12: for the backtest
    scale = rows / (len(FORCES) * n_months * real_mean)
    months = [str(p) for p in pd.period_range("2019-01", periods=n_months, freq="M")]
    t0 = time.perf_counter()
    jobs = [
        (i, r.force, r.dx, r.dy, r.size * scale, months, work / "archive", seed)
        for i, r in enumerate(layout.itertuples())
    ]
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        written = sum(pool.map(_write_force, jobs))
    _write_beats(layout, work / "areas")
    return {
        "rows": written,
        "months": n_months,
        "files": n_months * len(FORCES),
        "csv_gb": round(sum(p.stat().st_size for p in (work / "archive").rglob("*.csv")) / 1e9, 2),
        "seconds": round(time.perf_counter() - t0, 1),
    }


class PeakRSS:
    """Largest RSS and CPU time used, of this process or of its children (Dask workers).

    Sampled every ``every_s``; CPU seconds are counted from the first sample of each
    process, so they do not depend on other work competing for the cores.
    """

    def __init__(self, children: bool, every_s: float = 0.2) -> None:
        self.children, self.every_s = children, every_s
        self.peaks: dict[int, int] = {}
        self.cpu: dict[int, list[float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        me = psutil.Process()
        while True:
            procs = me.children(recursive=True) if self.children else [me]
            for p in procs:
                try:
                    self.peaks[p.pid] = max(self.peaks.get(p.pid, 0), p.memory_info().rss)
                    t = p.cpu_times()
                    self.cpu.setdefault(p.pid, [t.user + t.system] * 2)[1] = t.user + t.system
                except psutil.Error:
                    continue
            if self._stop.wait(self.every_s):
                break

    @property
    def cpu_seconds(self) -> float:
        return round(sum(last - first for first, last in self.cpu.values()), 1)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def top_gib(self, n: int) -> list[float]:
        return [round(v / 2**30, 2) for v in sorted(self.peaks.values(), reverse=True)[:n]]


def _noop(x: int) -> int:
    return x


def _timed(label: str, results: dict, fn, *, children: bool, workers: int) -> object:
    with PeakRSS(children) as mem:
        t0 = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - t0
    load = round(os.getloadavg()[0], 1)  # other work on the machine skews the numbers
    results[label] = {
        "seconds": round(seconds, 2),
        "cpu_seconds": mem.cpu_seconds,
        "peak_rss_gib": mem.top_gib(workers),
        "loadavg_1m_after": load,
    }
    print(
        f"{label}: {seconds:.1f} s ({mem.cpu_seconds} CPU s), peak RSS "
        f"{mem.top_gib(workers)} GiB, load {load}",
        flush=True,
    )
    return value


def _batch_stats(report) -> dict:
    s = report.summary
    ok = s.loc[s["status"] != "failed"]
    return {
        "groups": len(s),
        "failed": int((s["status"] == "failed").sum()),
        "incidents": int(ok["incidents"].sum()),
        "group_seconds_mean": round(float(ok["seconds"].mean()), 2),
        "group_seconds_max": round(float(ok["seconds"].max()), 2),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--quick", action="store_true", help="about 1M rows")
    ap.add_argument(
        "--batch-forces",
        type=int,
        default=2,
        help="forces (spread over the size range) batched by category",
    )
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    rows = 1_000_000 if args.quick else args.rows
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-dask-"))
    import dask
    import distributed

    results: dict = {
        "machine": {
            "cores": os.cpu_count(),
            "ram_gib": round(psutil.virtual_memory().total / 2**30),
        }
    }
    try:
        results["archive"] = generate(work, rows)
        print(f"archive: {results['archive']}", flush=True)
        layout = force_layout().sort_values("size").reset_index(drop=True)
        pick = np.linspace(0, len(layout) - 1, args.batch_forces).round().astype(int)
        forces = sorted(layout.loc[pick, "force"])
        config = RunConfig(
            areas=[(str(work / "areas" / "{force}" / "beats.gpkg"), BEAT_FIELDS)],
            population=PopulationConfig(enabled=False),
        )
        t0 = time.perf_counter()
        with (
            dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}),
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, dashboard_address=":0"
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            results["cluster_start_s"] = round(time.perf_counter() - t0, 2)
            address = cluster.scheduler_address
            dataset = work / "national.parquet"
            rep = _timed(
                "ingest_2_workers",
                results,
                lambda: ingest(
                    [InputSpec.police_uk(work / "archive")],
                    dataset,
                    scheduler=address,
                    progress=False,
                ),
                children=True,
                workers=2,
            )
            results["ingest_2_workers"].update(
                rows_read=rep.rows_read,
                rows_used=rep.rows_used,
                rows_per_s=round(rep.rows_per_s),
                tasks=rep.tasks,
                part_files=rep.part_files,
                parquet_gb=round(
                    sum(p.stat().st_size for p in dataset.rglob("*.parquet")) / 1e9, 2
                ),
            )
            t0 = time.perf_counter()
            client.gather(client.map(_noop, range(1000), pure=False))
            results["noop_task_ms"] = round((time.perf_counter() - t0), 2)  # s per 1,000
            print(f"no-op task: {results['noop_task_ms']:.2f} ms each", flush=True)
            months = dataset_info(dataset)["months"]
            last = pd.Period(months[1], freq="M")
            evaluate_args = {
                "train": (str(last - 11), str(last - 6)),
                "test": (str(last - 5), str(last)),
            }
            for task, extra in (("run", {}), ("evaluate", {"evaluate_args": evaluate_args})):
                for mode, scheduler, workers in (
                    ("1_process", "sync", 1),
                    ("2_workers", address, 2),
                ):
                    label = f"{task}_by_force_category_{mode}"
                    report = _timed(
                        label,
                        results,
                        lambda task=task, extra=extra, scheduler=scheduler, label=label: run_batch(
                            dataset,
                            by=["force", "category"],
                            config=config,
                            out=work / label,
                            scheduler=scheduler,
                            task=task,
                            filters={"force": forces},
                            progress=False,
                            **extra,
                        ),
                        children=scheduler != "sync",
                        workers=workers,
                    )
                    results[label].update(_batch_stats(report))
        results["batch_forces"] = forces
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
