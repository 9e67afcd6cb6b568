"""Writers for run outputs: CSV, GeoJSON, GeoPackage, JSON — all atomic and deterministic.

Deterministic means the same table gives byte-identical files: rows keep the order given
(callers sort), floats are written with a fixed format, GeoJSON coordinates are rounded.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa

from hotspots.io._atomic import atomic_path, fsync_file, write_text_atomic
from hotspots.io._frames import map_distinct
from hotspots.schema import CRS_METRIC, CRS_WGS84

#: Decimal places of WGS84 coordinates in GeoJSON (≈ 0.1 m).
GEOJSON_DECIMALS = 6


#: GDAL settings while :func:`write_gpkg` writes, restored after it. GDAL stamps each
#: layer with the current time (``gpkg_contents.last_change``): a fixed one keeps the file
#: byte-identical for the same inputs. SQLite's rollback journal and its syncs at every
#: commit guard a file against a crash mid-write; this one is a temporary file, deleted if
#: anything fails and flushed once (fsync) before it is renamed into place, so they guard
#: nothing and are off (measured: about 15% of the GeoPackage's time; the same bytes).
GPKG_GDAL_OPTIONS = {
    "OGR_CURRENT_DATE": "2000-01-01T00:00:00.000Z",
    "OGR_SQLITE_JOURNAL": "OFF",
    "OGR_SQLITE_SYNCHRONOUS": "OFF",
}

#: First characters that make a spreadsheet read a text cell as a formula (OWASP, "CSV
#: Injection"): ``=HYPERLINK(…)``, ``+cmd|…`` (DDE), ``-2+3``, ``@SUM(…)``, tab, CR.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def write_csv(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    chunks: Iterable[pd.DataFrame] = (),
    neutralise_formulas: bool = True,
) -> None:
    """Write ``frame`` as UTF-8 CSV atomically (no index, floats to 6 significant places).

    Every CSV the tool writes goes through here.

    Parameters
    ----------
    frame
        The table; its columns make the header.
    path
        The file to write.
    chunks
        More rows with the same columns as ``frame``, appended in order without a header,
        so that a table larger than memory can be streamed.
    neutralise_formulas
        Prefix text cells (and column names) that a spreadsheet would run as a formula
        with ``'`` (see :func:`formula_safe`). Off for machine consumers that want the
        text as it was.
    """
    guard = formula_safe if neutralise_formulas else _unchanged
    options = {"index": False, "float_format": "%.6g", "lineterminator": "\n"}
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        guard(frame).to_csv(fh, **options)
        for chunk in chunks:
            guard(chunk).to_csv(fh, header=False, **options)


def _unchanged(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


def formula_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with text cells and column names starting with one of
    :data:`FORMULA_START` prefixed by ``'``, so that a spreadsheet shows them as text.

    Only text is changed: columns of text, categories or Python objects, and there only
    the values that are ``str``. Numbers stay numbers, negative ones included; a number
    held as text (``"-5"`` in a text column) is text and is prefixed like any other.
    Work is per column (Arrow string kernels) or per distinct value (categories, object
    columns), never per cell in Python. The frame itself is returned when nothing starts
    with those characters.

    Examples
    --------
    >>> t = pd.DataFrame({"where": ["=1+1", "-5", "ok", None], "n": [-1, 2, 3, 4]})
    >>> formula_safe(t)
      where  n
    0  '=1+1 -1
    1    '-5  2
    2     ok  3
    3    NaN  4
    """
    fixed: dict[int, pd.Series] = {}
    for i in range(frame.shape[1]):
        safe = _formula_safe_column(frame.iloc[:, i])
        if safe is not None:
            fixed[i] = safe
    header = [_formula_safe_text(c) for c in frame.columns]
    if not fixed and header == list(frame.columns):
        return frame
    out = frame.copy(deep=False)
    for i, col in fixed.items():
        out.isetitem(i, col)
    out.columns = header
    return out


def _formula_safe_text(value: object) -> object:
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_START) else value


def _formula_safe_column(col: pd.Series) -> pd.Series | None:
    """The column with formula-like text prefixed, or None when it has none."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = pd.Series(col.cat.categories)
        safe = _formula_safe_column(cats) if pd.api.types.is_string_dtype(cats.dtype) else None
        if safe is None:
            return None
        if safe.is_unique:
            return col.cat.rename_categories(safe.to_numpy())
        # "=a" and "'=a" both present: the prefixed names clash as categories.
        return _formula_safe_column(col.astype(object))
    if col.dtype == object:  # any Python values: test the distinct ones that are str
        codes, uniques = pd.factorize(col)
        flags = np.fromiter(
            (isinstance(v, str) and v.startswith(FORMULA_START) for v in uniques),
            dtype=bool,
            count=len(uniques),
        )
        if not flags.any():
            return None
        rows = np.append(flags, False)[codes]  # code -1 (missing) picks the False
        return col.mask(rows, "'" + col[rows])
    if pd.api.types.is_string_dtype(col.dtype):
        rows = col.str.startswith(FORMULA_START).fillna(False).to_numpy(bool)
        return col.mask(rows, "'" + col) if rows.any() else None
    return None


def write_json(data: Mapping[str, object], path: str | os.PathLike[str]) -> None:
    """Write ``data`` as indented, key-sorted JSON atomically."""
    write_text_atomic(
        path, json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n"
    )


def _json_default(value: object) -> object:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def geojson_text(gdf: gpd.GeoDataFrame) -> str:
    """GeoJSON of ``gdf`` in EPSG:4326 with rounded coordinates (deterministic)."""
    out = gdf.to_crs(CRS_WGS84) if gdf.crs is not None else gdf
    out = out.copy()
    for col in out.columns:
        if col != out.geometry.name and pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    out = out.set_geometry(out.geometry.set_precision(10.0**-GEOJSON_DECIMALS))
    return out.to_json(drop_id=True, na="null", to_wgs84=False)


def write_geojson(gdf: gpd.GeoDataFrame, path: str | os.PathLike[str]) -> None:
    """Write ``gdf`` as GeoJSON (EPSG:4326, 6 decimal places) atomically."""
    write_text_atomic(path, geojson_text(gdf))


#: Rows per batch when streaming a point layer (incidents) into a GeoPackage: each batch's
#: points and text exist only while it is written.
GPKG_CHUNK_ROWS = 250_000


def write_gpkg(layers: Mapping[str, pd.DataFrame], path: str | os.PathLike[str]) -> None:
    """Write several layers into one GeoPackage atomically (all or nothing).

    A layer is a GeoDataFrame, or a plain DataFrame of points with ``x``/``y`` columns in
    EPSG:27700. A point frame is streamed to GDAL in batches of :data:`GPKG_CHUNK_ROWS`
    rows, each batch's geometry built as it goes: five million shapely points would hold
    over 1 GB at once, and appending chunk by chunk makes GDAL update the spatial index
    row by row (measured: 84 s for 5.3M points against 25 s streamed). Categorical
    columns are written as their text and datetime columns as ``YYYY-MM-DD HH:MM`` text.

    GDAL runs with :data:`GPKG_GDAL_OPTIONS` (a fixed layer time, so the file is
    byte-identical for the same inputs; no SQLite journal or syncs, the file being flushed
    once when complete); the caller's GDAL settings are restored afterwards.
    """
    import pyogrio

    with atomic_path(path) as tmp, _gdal_config(GPKG_GDAL_OPTIONS):
        for name, frame in layers.items():
            if isinstance(frame, gpd.GeoDataFrame):
                _as_text(frame).to_file(tmp, layer=name, driver="GPKG")
                continue
            batches = (
                _point_batch(frame.iloc[i : i + GPKG_CHUNK_ROWS])
                for i in range(0, max(len(frame), 1), GPKG_CHUNK_ROWS)
            )
            first = next(batches)
            reader = pa.RecordBatchReader.from_batches(first.schema, chain([first], batches))
            pyogrio.write_arrow(
                reader,
                tmp,
                layer=name,
                driver="GPKG",
                geometry_name="geom",
                geometry_type="Point",
                crs=CRS_METRIC,
            )
        fsync_file(tmp)


@contextlib.contextmanager
def _gdal_config(options: Mapping[str, str]) -> Iterator[None]:
    """GDAL configuration ``options`` set for the ``with`` block, the previous ones restored."""
    import pyogrio

    previous = {name: pyogrio.get_gdal_config_option(name) for name in options}
    pyogrio.set_gdal_config_options(dict(options))
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(previous)  # None unsets an option


def _as_text(part: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as their text, datetime columns as ``YYYY-MM-DD HH:MM``."""
    text = {}
    for col in part.columns:
        if isinstance(part[col].dtype, pd.CategoricalDtype) or part[col].dtype == object:
            text[col] = part[col].astype("str")
        elif pd.api.types.is_datetime64_any_dtype(part[col]):
            text[col] = part[col].dt.strftime("%Y-%m-%d %H:%M")
    return part.assign(**text) if text else part


def _point_batch(part: pd.DataFrame) -> pa.RecordBatch:
    """One batch of a point layer: its columns as text where categorical or datetime, plus
    WKB points from ``x``/``y``. Text is made once per distinct value, in Arrow."""
    dates = {
        c: map_distinct(part[c], lambda s: s.dt.strftime("%Y-%m-%d %H:%M"))
        for c in part.columns
        if pd.api.types.is_datetime64_any_dtype(part[c])
    }
    table = pa.Table.from_pandas(part.assign(**dates), preserve_index=False)
    schema = pa.schema(
        pa.field(f.name, pa.large_string()) if pa.types.is_dictionary(f.type) else f
        for f in table.schema
    )
    table = table.cast(schema).append_column(
        "geom", point_wkb(part["x"].to_numpy(float), part["y"].to_numpy(float))
    )
    batches = table.combine_chunks().to_batches()
    return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)


#: Well-known binary of a 2-D point: byte order (1 = little-endian), type 1, x, y.
_WKB_POINT = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])


def point_wkb(x: np.ndarray, y: np.ndarray) -> pa.Array:
    """WKB points as an Arrow binary array, written straight from the coordinates.

    Byte for byte what ``shapely.to_wkb(shapely.points(x, y))`` gives, without making a
    GEOS point per row.

    Examples
    --------
    >>> import shapely
    >>> wkb = point_wkb(np.array([1.5]), np.array([2.0]))
    >>> wkb[0].as_py() == shapely.to_wkb(shapely.Point(1.5, 2.0))
    True
    """
    rec = np.empty(len(x), dtype=_WKB_POINT)
    rec["order"], rec["type"], rec["x"], rec["y"] = 1, 1, x, y
    offsets = np.arange(0, _WKB_POINT.itemsize * (len(x) + 1), _WKB_POINT.itemsize, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.binary(), len(x), [None, pa.py_buffer(offsets), pa.py_buffer(rec.tobytes())]
    )
