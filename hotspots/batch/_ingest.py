"""``ingest``: police.uk archives, folders and mapped exports → a partitioned Parquet dataset.

Each task reads one chunk of input files (a few tens of MB of text) with exactly the code
``run`` uses — :func:`hotspots.io.load_incidents` then
:func:`hotspots.geocode.locate_incidents` — and writes its own part files and rejects;
only counts come back. The one check that spans files, duplicate ids within a source, is
finished in two more small steps: tasks hash their ids into buckets, one task per bucket
finds ids first seen in an earlier chunk, and only the chunks holding such rows are
re-ingested with them rejected ``duplicate_id`` — the same rows ``run`` over all the files
would reject, with the same reasons.
"""

from __future__ import annotations

import logging
import shutil
import struct
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hotspots.batch._cluster import connect, run_tasks, worker_count
from hotspots.geocode import PostcodeIndex, locate_incidents
from hotspots.io import (
    DEFAULT_PARTITIONS,
    InputSpec,
    SourceFile,
    expand_paths,
    is_incident_dataset,
    load_incidents,
    make_rejects,
    read_postcode_table,
    to_arrow,
    value_summary,
    with_partition_columns,
    write_csv,
    write_marker,
    write_parts,
)
from hotspots.pipeline import Prepared
from hotspots.schema import InputError, Reason

log = logging.getLogger(__name__)

REJECTS_FILE = "_rejects.csv"
_WORK = "_work"
#: Location inputs replaced by x/y once located; not stored. ``loc_precision_m`` and
#: ``geocode_note`` are stored: ``run`` on the dataset reports them as a run on the files.
_LOCATION_INPUTS = ("_row", "lon", "lat", "easting", "northing", "postcode")
_HASH_KEYS = ("hotspots-ids-k1!", "hotspots-ids-k2!")  # two 64-bit hashes: no collisions
_REJECT_FIRST = ["source", "file", "line", "reason", "detail"]


@dataclass(frozen=True)
class IngestReport:
    """What ``ingest`` wrote: counts (read = used + rejected), partitions and speed."""

    path: Path
    rows_read: int
    rows_used: int
    rows_rejected: int
    rejects_by_reason: dict[str, int]
    files: int
    tasks: int
    part_files: int
    forces: int
    years: list[int]
    duplicates_across_files: int
    seconds: float
    workers: int
    rejects_path: Path
    geocode_fixes: dict[str, int] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float:
        """Input rows read per second of wall-clock time (planning to marker)."""
        return self.rows_read / self.seconds if self.seconds > 0 else float("nan")

    def summary(self) -> str:
        """A few lines for the terminal."""
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(self.rejects_by_reason.items()))
        return (
            f"Ingested {self.files:,} files into {self.path} ({self.part_files:,} part files, "
            f"{self.forces} forces, years {self.years[0] if self.years else '-'}–"
            f"{self.years[-1] if self.years else '-'}).\n"
            f"Rows: {self.rows_read:,} read = {self.rows_used:,} used + "
            f"{self.rows_rejected:,} rejected ({reasons or 'none'}); rejects in "
            f"{self.rejects_path}.\n"
            f"{self.seconds:.1f} s on {self.workers} worker(s): {self.rows_per_s:,.0f} rows/s."
        )


@dataclass(frozen=True)
class _Chunk:
    """Input files ingested by one task, in the order ``run`` would read them."""

    index: int
    spec: InputSpec
    files: tuple[SourceFile, ...]


def _text_size(f: SourceFile) -> int:
    """Uncompressed size, read cheaply: zip directory, gzip trailer, or file size."""
    if f.member is not None:
        with zipfile.ZipFile(f.path) as zf:  # by position: member names may repeat
            info = zf.infolist()[f.index] if f.index is not None else zf.getinfo(f.member)
            return info.file_size
    size = f.path.stat().st_size
    if f.path.name.lower().endswith(".gz") and size >= 18:
        with open(f.path, "rb") as fh:
            fh.seek(-4, 2)
            return max(size, struct.unpack("<I", fh.read(4))[0])  # ISIZE, mod 2**32
    return size


def plan_files(inputs: Sequence[InputSpec]) -> list[tuple[InputSpec, SourceFile, int]]:
    """Every input file with its spec and text size, in the order ``run`` reads them."""
    planned = []
    for spec in inputs:
        if spec.filters or any(is_incident_dataset(p) for p in spec.paths):
            raise InputError(
                f"{spec.paths}: already an ingested dataset; give the original "
                "police.uk files or exports"
            )
        if spec.columns is None:  # as read_police_uk: street files when there are any
            files = expand_paths(list(spec.paths))
            street = [f for f in files if "-street" in Path(f.member or f.path.name).name]
            files = street or files
        else:  # a mapped input is read whole from each given path
            files = [SourceFile(str(p), Path(p)) for p in spec.paths]
            for f in files:
                if not f.path.exists():
                    expand_paths(f.path)  # raises MissingFileError naming it
        planned += [(spec, f, _text_size(f) if f.path.is_file() else 0) for f in files]
    if not planned:
        raise InputError("no incident inputs to ingest")
    return planned


def plan_chunks(
    planned: list[tuple[InputSpec, SourceFile, int]], *, chunk_mb: float, min_chunks: int = 1
) -> list[_Chunk]:
    """Consecutive files of one spec, about ``chunk_mb`` MB of text each (smaller when
    that leaves fewer than ``min_chunks`` chunks, so every worker gets several)."""
    total = sum(size for _, _, size in planned)
    target = max(1.0, min(chunk_mb * 1e6, total / max(min_chunks, 1)))
    chunks: list[_Chunk] = []
    batch: list[SourceFile] = []
    size = 0
    for k, (spec, f, n) in enumerate(planned):
        batch.append(f)
        size += n
        last = k + 1 == len(planned) or planned[k + 1][0] is not spec
        if size >= target or last:
            chunks.append(_Chunk(len(chunks), spec, tuple(batch)))
            batch, size = [], 0
    return chunks


def _local_files(chunk: _Chunk, tmp: Path) -> tuple[list[str], dict[str, str]]:
    """Paths load_incidents can read, and local name → original name (zip members)."""
    paths, names = [], {}
    for j, f in enumerate(chunk.files):
        if f.member is None:
            paths.append(str(f.path))
            continue
        local = tmp / str(j) / Path(f.member).name  # same base name: same ASB ids as run
        local.parent.mkdir(parents=True)
        local.write_bytes(f.read())
        paths.append(str(local))
        names[str(local)] = f.name
    return paths, names


def _id_hashes(raw: pd.DataFrame, spec: InputSpec, buckets: int) -> pd.DataFrame:
    """Hashes of (source, id) of every row with an id — rejected rows too, as in run."""
    col = "Crime ID" if spec.columns is None else spec.columns.id
    if not col or col not in raw:
        return pd.DataFrame({"bucket": [], "h1": [], "h2": [], "row": []})
    ids = raw[col].astype(str).str.strip()
    has = (ids != "").to_numpy()
    keys = (spec.source + "\x1f" + ids[has]).to_numpy(dtype=object)
    h1, h2 = (pd.util.hash_array(keys, hash_key=k) for k in _HASH_KEYS)
    return pd.DataFrame(
        {
            "bucket": (h1 % np.uint64(buckets)).astype(np.int32),
            "h1": h1,
            "h2": h2,
            "row": np.flatnonzero(has).astype(np.int64),
        }
    ).sort_values(["bucket", "row"], kind="stable")


def _write_id_groups(hashes: pd.DataFrame, path: Path) -> dict[int, int]:
    """One row group per bucket, so a bucket task reads only its own rows."""
    groups: dict[int, int] = {}
    if hashes.empty:
        return groups
    table = pa.Table.from_pandas(hashes, preserve_index=False)
    with pq.ParquetWriter(path, table.schema) as writer:
        for b, rows in hashes.groupby("bucket", sort=True):
            writer.write_table(pa.Table.from_pandas(rows, preserve_index=False))
            groups[int(b)] = len(groups)
    return groups


def ingest_chunk(
    chunk: _Chunk,
    *,
    out: str,
    partition_cols: Sequence[str],
    postcodes: str | None,
    buckets: int,
    duplicates: bool = False,
) -> dict[str, Any]:
    """Ingest one chunk: validate and locate as ``run`` does, write parts and rejects.

    With ``duplicates`` the rows found by the bucket tasks (ids first seen in an earlier
    chunk) are rejected ``duplicate_id`` first, as ``run`` over all the files would.
    """
    t0 = time.perf_counter()
    root, work = Path(out), Path(out) / _WORK
    tag = f"c{chunk.index:05d}"
    with tempfile.TemporaryDirectory(prefix="hotspots-ingest-") as tmp:
        paths, names = _local_files(chunk, Path(tmp))
        spec = replace(chunk.spec, paths=tuple(paths))
        load = load_incidents([spec])
    raw = load.raw
    if names:  # zip members were read from a temporary copy: report the archive name
        raw["_file"] = raw["_file"].map(lambda n: names.get(n, n))
        files = [{**r, "file": names.get(str(r["file"]), r["file"])} for r in load.files]
    else:
        files = list(load.files)
    id_groups: dict[int, int] = {}
    if buckets > 1 and not duplicates:
        id_groups = _write_id_groups(
            _id_hashes(raw, chunk.spec, buckets), work / f"ids-{tag}.parquet"
        )
    incidents, rejects = load.incidents, [load.rejects]
    if duplicates:
        rows = _duplicate_rows(work, chunk.index)
        dup = incidents["_row"].isin(rows)
        rejects.append(
            make_rejects(
                incidents.loc[dup, "_row"], Reason.DUPLICATE_ID, incidents.loc[dup, "incident_id"]
            )
        )
        incidents = incidents.loc[~dup].reset_index(drop=True)
    index = None
    needs_postcodes = chunk.spec.columns is not None and chunk.spec.columns.postcode
    if needs_postcodes or postcodes:
        index = PostcodeIndex.from_table(read_postcode_table(postcodes)[0])
    located = locate_incidents(incidents, postcodes=index)
    rejects.append(located.rejects)
    all_rejects = pd.concat([r for r in rejects if len(r)] or rejects[:1], ignore_index=True)
    prepared = Prepared(located.incidents, load, all_rejects, [], None, located.notes)
    counts = prepared.counts
    if counts["rows_read"] != counts["rows_used"] + counts["rows_rejected"]:
        raise RuntimeError(f"{chunk.files[0].name}: row accounting broken: {counts}")
    frame = _dataset_rows(located.incidents, raw)
    table = to_arrow(frame)
    parts = write_parts(table, root, partition_cols=partition_cols, tag=tag) if len(frame) else []
    reject_table = prepared.rejects_table()
    if len(reject_table):
        work.mkdir(parents=True, exist_ok=True)
        reject_table.astype({"line": "int64"}).to_parquet(
            work / f"rejects-{tag}.parquet", index=False
        )
    return {
        "index": chunk.index,
        "counts": counts,
        "notes": located.notes,
        "unmapped": load.unmapped_categories,
        "files": files,
        "parts": parts,
        "schema": pa.schema([f for f in table.schema if f.name not in partition_cols]),
        "reject_columns": list(reject_table.columns),
        "values": value_summary(frame) if len(frame) else None,
        "id_groups": id_groups,
        "seconds": round(time.perf_counter() - t0, 3),
    }


def _dataset_rows(incidents: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """Located canonical rows with their origin (file, line) and partition columns."""
    where = raw.loc[incidents["_row"].to_numpy(), ["_file", "_line"]]
    frame = incidents.drop(columns=[c for c in _LOCATION_INPUTS if c in incidents])
    frame["file"] = where["_file"].to_numpy()
    frame["line"] = where["_line"].to_numpy(dtype=np.int64)
    return with_partition_columns(frame)


def find_duplicates(bucket: int, *, sources: list[tuple[int, str, int]], out: str) -> dict:
    """Rows of one hash bucket whose (source, id) was first seen in an earlier chunk.

    Writes them (chunk, row) to ``_work/dups-b<bucket>.parquet``; returns counts per chunk.
    """
    frames = []
    for chunk, path, group in sources:
        t = pq.ParquetFile(path).read_row_group(group, columns=["h1", "h2", "row"])
        frames.append(t.to_pandas().assign(chunk=chunk))
    ids = pd.concat(frames, ignore_index=True).sort_values(["chunk", "row"], kind="stable")
    first = ids.groupby(["h1", "h2"], sort=False)["chunk"].transform("min")
    dups = ids.loc[ids["chunk"] > first, ["chunk", "row"]]
    if len(dups):
        dups.to_parquet(Path(out) / _WORK / f"dups-b{bucket:03d}.parquet", index=False)
    return {int(k): int(v) for k, v in dups["chunk"].value_counts().items()}


def _duplicate_rows(work: Path, chunk: int) -> np.ndarray:
    rows = [
        pq.read_table(p, filters=[("chunk", "==", chunk)], columns=["row"])["row"].to_numpy()
        for p in sorted(work.glob("dups-b*.parquet"))
    ]
    return np.concatenate(rows) if rows else np.array([], dtype=np.int64)


def ingest(
    inputs: Sequence[InputSpec],
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    partition_cols: Sequence[str] = DEFAULT_PARTITIONS,
    postcodes: str | None = None,
    chunk_mb: float = 64.0,
    progress: bool = True,
) -> IngestReport:
    """Validate inputs once and write them as a Parquet dataset partitioned by force and year.

    Parameters
    ----------
    inputs
        police.uk files, folders or zip archives as downloaded, and mapped exports (as for
        ``run``). The force of a row is police.uk's "Falls within", or a ``force`` column of
        an export, or else the input's source label.
    out
        A new folder (conventionally ``NAME.parquet``), read back with
        :func:`hotspots.io.read_incident_dataset`.
    workers, scheduler
        Dask: ``scheduler=None`` starts a local cluster of ``workers`` processes (default:
        one per core); an address such as ``"tcp://host:8786"`` uses that cluster (its
        workers must see ``inputs`` and ``out`` at the same paths); ``"sync"`` runs in
        this process without Dask.
    partition_cols
        Hive partition columns.
    postcodes
        Postcode centroid table for exports located by postcode (as ``run``'s).
    chunk_mb
        Text per task, in MB: a task holds about ten times this in memory.
    progress
        Show a progress bar on a terminal.

    Returns
    -------
    IngestReport
        Counts (``rows_read == rows_used + rows_rejected``), partitions and rows/s. Rejected
        rows are written to ``_rejects.csv`` in ``out``, with the columns of ``run``'s
        ``rejects.csv``.
    """
    t0 = time.perf_counter()
    root = Path(out)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise InputError(f"out: {root} exists and is not empty; remove it or choose another")
    planned = plan_files(inputs)
    (root / _WORK).mkdir(parents=True)
    # ingest_chunk keyword arguments, the same for every chunk
    options: dict[str, Any] = {
        "out": str(root),
        "partition_cols": tuple(partition_cols),
        "postcodes": postcodes,
    }
    with connect(scheduler, workers) as client:
        chunks = plan_chunks(planned, chunk_mb=chunk_mb, min_chunks=4 * worker_count(client))
        buckets = int(np.clip(len(chunks) // 8, 2, 64)) if len(chunks) > 1 else 0
        results = {}
        for i, res in run_tasks(
            client,
            ingest_chunk,
            chunks,
            desc="ingest",
            progress=progress,
            buckets=buckets,
            **options,
        ):
            results[i] = res
        dup_chunks = _cross_file_duplicates(client, results, root, buckets, progress)
        redo = [chunks[i] for i in sorted(dup_chunks)]
        for c in redo:
            for part in results[c.index]["parts"]:
                Path(part).unlink()
        for i, res in run_tasks(
            client,
            ingest_chunk,
            redo,
            desc="duplicates",
            progress=progress,
            buckets=0,
            duplicates=True,
            **options,
        ):
            results[redo[i].index] = res
        n_workers = worker_count(client)
    ordered = [results[i] for i in range(len(chunks))]
    report = _finish(ordered, root, partition_cols, n_workers, t0, sum(dup_chunks.values()))
    log.info(report.summary())
    return report


def _cross_file_duplicates(
    client: Any, results: dict[int, dict], root: Path, buckets: int, progress: bool
) -> dict[int, int]:
    """Chunk index → rows to reject as duplicates of ids first seen in earlier chunks."""
    per_bucket: dict[int, list[tuple[int, str, int]]] = {}
    for i, res in sorted(results.items()):
        for b, group in res["id_groups"].items():
            per_bucket.setdefault(b, []).append(
                (i, str(root / _WORK / f"ids-c{i:05d}.parquet"), group)
            )
    found: Counter[int] = Counter()
    if buckets < 2 or len(per_bucket) == 0:
        return {}
    items = sorted(b for b, s in per_bucket.items() if len({c for c, _, _ in s}) > 1)
    for _, counts in run_tasks(
        client,
        _find_in_bucket,
        [(b, per_bucket[b]) for b in items],
        desc="duplicate ids",
        progress=progress,
        out=str(root),
    ):
        found.update(counts)
    return dict(found)


def _find_in_bucket(item: tuple[int, list[tuple[int, str, int]]], *, out: str) -> dict:
    bucket, sources = item
    return find_duplicates(bucket, sources=sources, out=out)


def _finish(
    results: list[dict],
    root: Path,
    partition_cols: Sequence[str],
    workers: int,
    t0: float,
    duplicates: int,
) -> IngestReport:
    """Check the counts, write ``_rejects.csv``, the schema and the marker; drop work files."""
    read = sum(r["counts"]["rows_read"] for r in results)
    used = sum(r["counts"]["rows_used"] for r in results)
    rejected = sum(r["counts"]["rows_rejected"] for r in results)
    if read != used + rejected:
        raise RuntimeError(f"row accounting broken: {read} read, {used} used, {rejected} rejected")
    reasons: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    unmapped: dict[str, set[str]] = {}
    for r in results:
        reasons.update(r["counts"]["rejects_by_reason"])
        notes.update(r["notes"])
        for src, labels in r["unmapped"].items():
            unmapped.setdefault(src, set()).update(labels)
    rejects_path = root / REJECTS_FILE
    _write_rejects(results, root / _WORK, rejects_path)
    values = [r["values"] for r in results if r["values"]]
    months = [m for v in values for m in v["months"] or []]
    summary = {
        "rows": used,
        "counts": {
            "rows_read": read,
            "rows_used": used,
            "rows_rejected": rejected,
            "rejects_by_reason": dict(sorted(reasons.items())),
            "duplicates_across_files": duplicates,
        },
        "categories": sorted({c for v in values for c in v["categories"]}),
        "forces": sorted({c for v in values for c in v["forces"]}),
        "years": sorted({y for v in values for y in v["years"]}),
        "months": [min(months), max(months)] if months else None,
        "inputs": [f for r in results for f in r["files"]],
        "geocode_fixes": dict(sorted(notes.items())),
        "unmapped_categories": {k: sorted(v) for k, v in sorted(unmapped.items())},
        "rejects": REJECTS_FILE,
    }
    schema = pa.unify_schemas([r["schema"] for r in results])
    shutil.rmtree(root / _WORK)
    write_marker(root, file_schema=schema, partition_cols=partition_cols, summary=summary)
    return IngestReport(
        path=root,
        rows_read=read,
        rows_used=used,
        rows_rejected=rejected,
        rejects_by_reason=dict(sorted(reasons.items())),
        files=sum(len(r["files"]) for r in results),
        tasks=len(results),
        part_files=sum(len(r["parts"]) for r in results),
        forces=len(summary["forces"]),
        years=summary["years"],
        duplicates_across_files=duplicates,
        seconds=round(time.perf_counter() - t0, 3),
        workers=workers,
        rejects_path=rejects_path,
        geocode_fixes=summary["geocode_fixes"],
    )


def _write_rejects(results: list[dict], work: Path, path: Path) -> None:
    """Stream every chunk's rejects, in reading order, into one CSV (columns unioned)."""
    columns = list(_REJECT_FIRST)
    for r in results:
        columns += [c for c in r["reject_columns"] if c not in columns]
    parts = (work / f"rejects-c{r['index']:05d}.parquet" for r in results)
    chunks = (
        pd.read_parquet(part).reindex(columns=columns, fill_value="")
        for part in parts
        if part.exists()
    )
    write_csv(pd.DataFrame(columns=columns), path, chunks=chunks)
