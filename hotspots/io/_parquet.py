"""The ingested incident dataset: Parquet files partitioned by force and year.

``hotspots ingest`` validates inputs once and writes the canonical, located rows here;
``run``, ``evaluate`` and ``batch`` then read only the rows they need, with filters on
force, period and category pushed down to the Parquet reader (whole partitions and row
groups are skipped unread).

Layout (hive partitioning, readable by pyarrow, Dask, DuckDB, Spark)::

    national.parquet/
        _hotspots_dataset.json     marker: format, CRS, hotspots version, counts, values
        _common_metadata           schema of the part files (without partition columns)
        _rejects.csv               rejected input rows (ingest only), as in run's rejects.csv
        force=Leicestershire%20Police/year=2025/part-c00012-0.parquet

Columns: ``incident_id``, ``when`` (timestamp, month precision for police.uk),
``precision``, ``category``, ``source``, ``location``, ``x``/``y`` (EPSG:27700 metres,
float64), ``loc_precision_m`` (metres; 0 for coordinates, more for a postcode or sector
centroid), ``geocode_note`` (how the row was located or repaired, e.g. "located by
postcode"; absent in datasets written before it was kept), pass-through columns
(``lsoa_code``, ``outcome`` …), ``file``/``line`` (where the row came from), and the
partition columns ``force`` (string) and ``year`` (int32). Repetitive text columns are
dictionary-encoded.

Readers other than this module: read the partition columns as strings (Dask fails to
read a hive partition column as categorical without its categories).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from hotspots._validation import category_key
from hotspots.io._atomic import write_text_atomic
from hotspots.schema import CRS_METRIC, InputError

MARKER = "_hotspots_dataset.json"
COMMON_METADATA = "_common_metadata"
FORMAT = "hotspots-incident-dataset"
FORMAT_VERSION = 1
DEFAULT_PARTITIONS: tuple[str, ...] = ("force", "year")
#: Text columns with few distinct values, stored dictionary-encoded.
DICTIONARY_COLUMNS = frozenset(
    {
        "precision",
        "category",
        "source",
        "location",
        "geocode_note",
        "lsoa_code",
        "lsoa_name",
        "outcome",
        "file",
    }
)
_FLOAT_COLUMNS = ("x", "y", "loc_precision_m")
_FIRST = ("incident_id", "when", "precision", "category", "source", "location", *_FLOAT_COLUMNS)
_PARTITION_TYPES = {"year": pa.int32()}

FilterValue = str | int | None | Sequence[str | int | None]


def is_incident_dataset(path: str | Path) -> bool:
    """True when ``path`` is a folder written by :func:`write_incident_dataset` or ingest."""
    return (Path(path) / MARKER).is_file()


def dataset_info(path: str | Path) -> dict[str, Any]:
    """The dataset's marker: format, CRS, partitioning, counts and distinct values."""
    p = Path(path)
    if not is_incident_dataset(p):
        raise InputError(
            f"{p}: not a hotspots incident dataset (no {MARKER}); create one with `hotspots ingest`"
        )
    info = json.loads((p / MARKER).read_text(encoding="utf-8"))
    if info.get("format") != FORMAT or info.get("format_version", 0) > FORMAT_VERSION:
        raise InputError(
            f"{p / MARKER}: format {info.get('format')!r} version "
            f"{info.get('format_version')!r} is not one this version reads"
        )
    return info


def with_partition_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``year`` (from ``when``) and fill a blank or missing ``force`` with ``source``.

    Examples
    --------
    >>> f = pd.DataFrame({"when": pd.to_datetime(["2025-06-01"]), "source": ["council"]})
    >>> with_partition_columns(f)[["force", "year"]].values.tolist()
    [['council', 2025]]
    """
    out = frame.copy()
    src = out["source"].astype(str)
    if "force" in out:
        force = out["force"].astype(str).str.strip()
        out["force"] = force.where(force.ne("") & out["force"].notna(), src)
    else:
        out["force"] = src
    out["year"] = out["when"].dt.year.astype("int32")
    return out


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    """The frame as an Arrow table in the dataset's compact, fixed types and column order."""
    first = [c for c in _FIRST if c in frame.columns]
    cols = first + [c for c in frame.columns if c not in first]
    table = pa.Table.from_pandas(frame[cols], preserve_index=False)
    fields = []
    for f in table.schema:
        if f.name in _FLOAT_COLUMNS:
            t = pa.float64()
        elif f.name == "when":
            t = pa.timestamp("us")
        elif f.name in ("line", "year"):
            t = pa.int32()
        elif _is_text(f.type) or (pa.types.is_dictionary(f.type) and _is_text(f.type.value_type)):
            # By name, never by the pandas dtype: an extra column may be categorical in
            # one file's chunk and text in another's, and every part needs one schema.
            dictionary = f.name in DICTIONARY_COLUMNS
            t = pa.dictionary(pa.int32(), pa.string()) if dictionary else pa.string()
        elif pa.types.is_dictionary(f.type):
            t = pa.dictionary(pa.int32(), pa.string())
        else:
            t = f.type
        fields.append(pa.field(f.name, t))
    return table.cast(pa.schema(fields)).replace_schema_metadata(None)


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def partitioning(partition_cols: Sequence[str]) -> ds.Partitioning:
    """Hive partitioning; values are percent-encoded in folder names and read as text."""
    schema = pa.schema([(c, _PARTITION_TYPES.get(c, pa.string())) for c in partition_cols])
    return ds.partitioning(schema, flavor="hive")


def write_parts(
    table: pa.Table, path: str | Path, *, partition_cols: Sequence[str], tag: str
) -> list[str]:
    """Write ``table`` under ``path`` as part files named ``part-<tag>-<i>.parquet``.

    Rows keep their order within each part. Returns the written paths. Used by ingest,
    where each task writes its own parts; :func:`write_incident_dataset` adds the marker.
    """
    written: list[str] = []
    ds.write_dataset(
        table,
        str(path),
        format="parquet",
        partitioning=partitioning(partition_cols),
        basename_template=f"part-{tag}-{{i}}.parquet",
        existing_data_behavior="overwrite_or_ignore",
        preserve_order=True,
        file_options=ds.ParquetFileFormat().make_write_options(compression="zstd"),
        file_visitor=lambda f: written.append(f.path),
    )
    return sorted(written)


def write_marker(
    path: str | Path,
    *,
    file_schema: pa.Schema,
    partition_cols: Sequence[str],
    summary: Mapping[str, Any],
) -> None:
    """Write ``_common_metadata`` and then the marker, which makes the dataset complete."""
    p = Path(path)
    pq.write_metadata(file_schema, p / COMMON_METADATA)
    try:
        hotspots_version = version("hotspots")
    except PackageNotFoundError:
        hotspots_version = "unknown"
    info = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "hotspots_version": hotspots_version,
        "crs": CRS_METRIC,
        "partitioning": {"flavor": "hive", "columns": list(partition_cols)},
        **summary,
    }
    write_text_atomic(p / MARKER, json.dumps(info, indent=2, sort_keys=True) + "\n")


def value_summary(frame: pd.DataFrame) -> dict[str, Any]:
    """Distinct categories, forces, years and the month span of canonical rows."""
    when = frame["when"].dropna()
    return {
        "rows": int(len(frame)),
        "categories": sorted(frame["category"].astype(str).unique().tolist()),
        "forces": sorted(frame["force"].astype(str).unique().tolist()),
        "years": sorted(int(y) for y in frame["year"].unique()),
        "months": [f"{when.min():%Y-%m}", f"{when.max():%Y-%m}"] if len(when) else None,
    }


def write_incident_dataset(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    partition_cols: Sequence[str] = DEFAULT_PARTITIONS,
) -> Path:
    """Write canonical, located incidents as a partitioned Parquet dataset.

    Parameters
    ----------
    frame
        Canonical incidents with ``x``/``y`` in EPSG:27700 (see :mod:`hotspots.schema`).
        ``year`` is derived from ``when``; a missing or blank ``force`` takes ``source``.
    path
        A new or empty folder.
    partition_cols
        Hive partition columns, outermost first.

    Examples
    --------
    >>> import tempfile
    >>> f = pd.DataFrame({"incident_id": ["a", "b"], "category": ["Drugs", "Robbery"],
    ...     "when": pd.to_datetime(["2024-12-01", "2025-01-01"]), "source": "police.uk",
    ...     "x": [458300.0, 458310.0], "y": [304700.0, 304710.0], "force": "Leics"})
    >>> out = write_incident_dataset(f, tempfile.mkdtemp() + "/d.parquet")
    >>> read_incident_dataset(out, filters=[("year", "==", 2025)])["incident_id"].tolist()
    ['b']
    """
    p = Path(path)
    if p.exists() and any(p.iterdir()):
        raise InputError(f"{p}: the output folder exists and is not empty")
    full = with_partition_columns(frame)
    missing = [c for c in partition_cols if c not in full]
    if missing:
        raise InputError(f"partition_cols: {missing} not among the columns {list(full.columns)}")
    table = to_arrow(full)
    write_parts(table, p, partition_cols=partition_cols, tag="c00000")
    file_schema = pa.schema([f for f in table.schema if f.name not in partition_cols])
    write_marker(
        p, file_schema=file_schema, partition_cols=partition_cols, summary=value_summary(full)
    )
    return p


def open_dataset(path: str | Path) -> ds.Dataset:
    """The dataset as a :class:`pyarrow.dataset.Dataset` with its full, unified schema."""
    info = dataset_info(path)
    parts = list(info["partitioning"]["columns"])
    file_schema = pq.read_schema(Path(path) / COMMON_METADATA)
    schema = pa.schema([*file_schema, *partitioning(parts).schema])
    return ds.dataset(str(path), format="parquet", partitioning=partitioning(parts), schema=schema)


def filter_expression(
    dataset: ds.Dataset,
    filters: Mapping[str, FilterValue] | Iterable[tuple[str, str, Any]] | None = None,
    *,
    period: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    categories: Sequence[str] | None = None,
    known_categories: Sequence[str] = (),
) -> ds.Expression | None:
    """One pushed-down filter from column filters, a period and harmonised categories.

    ``filters`` is a mapping ``column -> value`` (a list means any of; None means null) or
    pyarrow-style ``(column, op, value)`` tuples. ``period`` is inclusive on ``when`` and
    also prunes ``year`` partitions. ``categories`` match ignoring case and spacing, like
    :func:`hotspots.io.load_incidents`.
    """
    names = set(dataset.schema.names)
    exprs: list[ds.Expression] = []
    if isinstance(filters, Mapping):
        for col, value in filters.items():
            _check_column(col, names)
            exprs.append(_equals(col, value))
    elif filters:
        for col, op, value in filters:
            _check_column(col, names)
            exprs.append(pq.filters_to_expression([(col, op, value)]))
    if period is not None:
        start, end = (pa.scalar(pd.Timestamp(t).as_unit("us"), pa.timestamp("us")) for t in period)
        exprs.append((pc.field("when") >= start) & (pc.field("when") <= end))
        if "year" in names:
            exprs.append(pc.field("year").isin(list(range(period[0].year, period[1].year + 1))))
    if categories:
        wanted = {category_key(c) for c in categories}
        exprs.append(
            pc.field("category").isin([c for c in known_categories if category_key(c) in wanted])
        )
    if not exprs:
        return None
    out = exprs[0]
    for e in exprs[1:]:
        out = out & e
    return out


def _check_column(col: str, names: set[str]) -> None:
    if col not in names:
        raise InputError(f"filter column {col!r} is not in the dataset; it has {sorted(names)}")


def _equals(col: str, value: FilterValue) -> ds.Expression:
    if value is None:
        return pc.field(col).is_null()
    if isinstance(value, str | int):
        return pc.field(col) == value
    values = list(value)
    expr = pc.field(col).isin([v for v in values if v is not None])
    return expr | pc.field(col).is_null() if None in values else expr


def read_incident_dataset(
    path: str | Path,
    *,
    filters: Mapping[str, FilterValue] | Iterable[tuple[str, str, Any]] | None = None,
    columns: Sequence[str] | None = None,
    period: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    categories: Sequence[str] | None = None,
    categorical: bool = True,
) -> pd.DataFrame:
    """Read rows of an incident dataset, with filters pushed down to the Parquet reader.

    Parameters
    ----------
    path
        The dataset folder.
    filters
        ``{"force": "Leicestershire Police"}`` (a list for any of several values) or
        pyarrow-style tuples ``[("year", ">=", 2024)]``.
    columns
        Columns to read (default all).
    period, categories
        As for :func:`hotspots.io.load_incidents` (inclusive period on ``when``;
        categories ignoring case and spacing).
    categorical
        Dictionary-encoded text as pandas categoricals (compact); False gives plain text.
    """
    dataset, expr = _filtered(path, filters, period, categories)
    if columns is not None:
        for c in columns:
            _check_column(c, set(dataset.schema.names))
    table = dataset.to_table(columns=list(columns) if columns is not None else None, filter=expr)
    if not categorical:
        table = table.cast(
            pa.schema(
                [
                    pa.field(f.name, pa.string()) if pa.types.is_dictionary(f.type) else f
                    for f in table.schema
                ]
            )
        )
    return table.to_pandas()


def value_counts(
    path: str | Path,
    by: Sequence[str],
    *,
    filters: Mapping[str, FilterValue] | None = None,
    period: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    categories: Sequence[str] | None = None,
) -> dict[tuple[Any, ...], int]:
    """Rows per distinct combination of the ``by`` columns, sorted by value (nulls last).

    Only the ``by`` columns are read, one record batch at a time, so memory stays small
    however large the dataset.
    """
    dataset, expr = _filtered(path, filters, period, categories)
    names = set(dataset.schema.names)
    for c in by:
        _check_column(c, names)
    counts: dict[tuple[Any, ...], int] = {}
    for batch in dataset.to_batches(columns=list(by), filter=expr):
        if batch.num_rows:
            combos = (
                pa.Table.from_batches([batch]).group_by(list(by)).aggregate([([], "count_all")])
            )
            keys = zip(*(combos[c].to_pylist() for c in by), strict=True)
            for key, n in zip(keys, combos["count_all"].to_pylist(), strict=True):
                counts[key] = counts.get(key, 0) + n
    order = sorted(counts, key=lambda t: tuple((v is None, v if v is not None else "") for v in t))
    return {k: counts[k] for k in order}


def _filtered(
    path: str | Path,
    filters: Mapping[str, FilterValue] | Iterable[tuple[str, str, Any]] | None,
    period: tuple[pd.Timestamp, pd.Timestamp] | None,
    categories: Sequence[str] | None,
) -> tuple[ds.Dataset, ds.Expression | None]:
    """The dataset at ``path`` and its pushed-down filter (categories as ingest named them)."""
    dataset = open_dataset(path)
    known = dataset_info(path).get("categories", ())
    expr = filter_expression(
        dataset, filters, period=period, categories=categories, known_categories=known
    )
    return dataset, expr


def latest_month(
    path: str | Path, *, filters: Mapping[str, FilterValue] | None = None
) -> pd.Timestamp | None:
    """First day of the latest month among the (filtered) rows, for ``last_months``."""
    dataset = open_dataset(path)
    expr = filter_expression(dataset, filters)
    latest = None
    for batch in dataset.to_batches(columns=["when"], filter=expr):
        m = pc.max(batch.column("when")).as_py()
        if m is not None and (latest is None or m > latest):
            latest = m
    return None if latest is None else pd.Timestamp(latest).to_period("M").to_timestamp()
