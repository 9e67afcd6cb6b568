"""Groups of a batch: distinct key values, their output folders and their run configs."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hotspots.io import FilterValue, InputSpec, is_incident_dataset, safe_slug, value_counts
from hotspots.pipeline import RunConfig
from hotspots.schema import InputError


def slug(value: Any) -> str:
    """A folder name for a key value: :func:`hotspots.io.safe_slug` (lower-case ASCII
    words joined by hyphens; never ``/``, ``..``, NUL or a Windows device name).

    Examples
    --------
    >>> slug("Leicestershire Police"), slug("Anti-social behaviour"), slug(2025)
    ('leicestershire-police', 'anti-social-behaviour', '2025')
    >>> slug("Devon & Cornwall Police"), slug(""), slug(None), slug("../.."), slug("CON")
    ('devon-cornwall-police', 'blank', 'null', 'blank', 'con-0')
    """
    if value is None:
        return "null"
    return safe_slug(value, default="blank")


def group_slugs(groups: Sequence[tuple[Any, ...]]) -> list[tuple[str, ...]]:
    """Folder names per group; values that would share a name get a hash of the value
    (stable when other values come and go, so a re-run finds each group's folder), and
    any name still shared after that a ``-2``, ``-3`` suffix.

    Examples
    --------
    >>> group_slugs([("A B", 1), ("a-b", 1), ("C", 2)])
    [('a-b-728aa5', '1'), ('a-b-656d39', '1'), ('c', '2')]
    """
    width = len(groups[0]) if groups else 0
    names: list[dict[Any, str]] = []
    for k in range(width):
        values = sorted({g[k] for g in groups}, key=lambda v: (v is None, str(v)))
        mapping = {v: slug(v) for v in values}
        for digits in (6, 40):  # the long hash only if a short one met another name
            count = Counter(mapping.values())
            mapping = {
                v: s if count[s] == 1 else f"{slug(v)}-{_digest(v)[:digits]}"
                for v, s in mapping.items()
            }
        # A value that slugs to another's hashed name: number what still clashes.
        seen: set[str] = set()
        for v, s in mapping.items():
            n, name = 1, s
            while name in seen:
                n += 1
                name = f"{s}-{n}"
            seen.add(name)
            mapping[v] = name
        names.append(mapping)
    return [tuple(names[k][g[k]] for k in range(width)) for g in groups]


def _digest(value: Any) -> str:
    return hashlib.sha1(repr(value).encode()).hexdigest()


def list_groups(
    dataset: str | Path,
    by: Sequence[str],
    config: RunConfig,
    *,
    filters: Mapping[str, FilterValue] | None = None,
) -> dict[tuple[Any, ...], int]:
    """Rows per distinct value of the ``by`` columns among those the config and filters
    select, sorted by value."""
    if not is_incident_dataset(dataset):
        raise InputError(
            f"dataset: {dataset} is not an ingested dataset; run `hotspots ingest` first"
        )
    if not by:
        raise InputError("by: give at least one column to group on, e.g. force")
    period = config.period() if not config.filter.last_months else None
    return value_counts(
        dataset, list(by), filters=filters, period=period, categories=config.filter.categories
    )


def group_config(
    config: RunConfig,
    dataset: str | Path,
    by: Sequence[str],
    values: Sequence[Any],
    out: str | Path,
    *,
    filters: Mapping[str, FilterValue] | None = None,
) -> RunConfig:
    """The config of one group: inputs = the dataset filtered to the group, its own out.

    ``filters`` (column → value or values) narrow every group further.

    An area path may name a key in braces, ``boundaries/{force}/beats.gpkg``: it becomes
    the :func:`slug` of the group's value, so each force gets its own beats.
    ``hotspots.pipeline.run(group_config(...))`` on its own gives the same outputs as the
    group's part of a batch.

    Examples
    --------
    >>> cfg = group_config(RunConfig(areas=[("b/{force}/beats.gpkg", {"beat": "name"})]),
    ...                    "national.parquet", ["force"], ["Kent Police"], "out/kent-police")
    >>> cfg.areas, dict(cfg.inputs[0].filters), cfg.output.dir
    ((('b/kent-police/beats.gpkg', {'beat': 'name'}),), {'force': 'Kent Police'}, 'out/kent-police')
    """
    keys = dict(zip(by, values, strict=True))
    spec = dataclasses.replace(InputSpec.police_uk(dataset), filters={**(filters or {}), **keys})
    pattern = re.compile(r"\{(" + "|".join(re.escape(k) for k in keys) + r")\}")
    areas = [
        (pattern.sub(lambda m: slug(keys[m.group(1)]), str(path)), fields)
        for path, fields in config.areas
    ]
    return config.updated(inputs=[spec], output={"dir": str(out)}, areas=areas)
