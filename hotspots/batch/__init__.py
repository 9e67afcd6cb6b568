"""Scale-out: ingest once to a partitioned Parquet dataset, then run many groups with Dask.

A layer above :mod:`hotspots.pipeline` and below :mod:`hotspots.cli`::

    from hotspots.batch import ingest, run_batch
    from hotspots.io import InputSpec
    from hotspots.pipeline import RunConfig

    report = ingest([InputSpec.police_uk("downloads/2025-12.zip")], "national.parquet")
    beats = RunConfig(areas=[("boundaries/{force}/beats.gpkg", {"beat": "BEAT_NAME"})])
    batch = run_batch("national.parquet", by=["force"], config=beats, out="by-force")

Dask (``pip install 'hotspots[distributed]'``) is imported only when a cluster is used;
``scheduler="sync"`` runs everything in this process. See ``docs/scaling.md``.
"""

from __future__ import annotations

from hotspots.batch._cluster import SYNC
from hotspots.batch._groups import group_config, list_groups, slug
from hotspots.batch._ingest import REJECTS_FILE, IngestReport, ingest
from hotspots.batch._run import GROUP_MARKER, BatchReport, run_batch, run_group

__all__ = [
    "SYNC",
    "REJECTS_FILE",
    "GROUP_MARKER",
    "IngestReport",
    "BatchReport",
    "ingest",
    "run_batch",
    "run_group",
    "group_config",
    "list_groups",
    "slug",
]
