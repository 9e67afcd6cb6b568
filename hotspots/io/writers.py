"""Writers for run outputs: CSV, GeoJSON, GeoPackage, JSON — all atomic and deterministic.

Deterministic means the same table gives byte-identical files: rows keep the order given
(callers sort), floats are written with a fixed format, GeoJSON coordinates are rounded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.io.atomic import atomic_path, write_text_atomic
from hotspots.schema import CRS_METRIC, CRS_WGS84

#: Decimal places of WGS84 coordinates in GeoJSON (≈ 0.1 m).
GEOJSON_DECIMALS = 6


def write_csv(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write ``frame`` as UTF-8 CSV atomically (no index, floats to 6 significant places)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g", lineterminator="\n")


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


#: Rows per GeoPackage write: pyogrio converts a whole frame at once, holding about 1 GB
#: per million points on top of it, so long layers (incidents) are appended in chunks.
GPKG_CHUNK_ROWS = 250_000


def write_gpkg(layers: Mapping[str, pd.DataFrame], path: str | os.PathLike[str]) -> None:
    """Write several layers into one GeoPackage atomically (all or nothing).

    A layer is a GeoDataFrame, or a plain DataFrame of points with ``x``/``y`` columns in
    EPSG:27700 whose geometry is built one chunk at a time (five million shapely points
    would hold over 1 GB at once). Categorical columns are written as their text and
    datetime columns as ``YYYY-MM-DD HH:MM`` text, also per chunk.

    GDAL stamps each layer with the current time (``gpkg_contents.last_change``); a fixed
    ``OGR_CURRENT_DATE`` keeps the file byte-identical for the same inputs.
    """
    import pyogrio

    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2000-01-01T00:00:00.000Z"})
    with atomic_path(path) as tmp:
        for name, frame in layers.items():
            for start in range(0, max(len(frame), 1), GPKG_CHUNK_ROWS):
                part = _gpkg_chunk(frame.iloc[start : start + GPKG_CHUNK_ROWS])
                part.to_file(tmp, layer=name, driver="GPKG", mode="a" if start else "w")


def _gpkg_chunk(part: pd.DataFrame) -> gpd.GeoDataFrame:
    geometry = part.geometry.name if isinstance(part, gpd.GeoDataFrame) else None
    text = {}
    for col in part.columns:
        if col == geometry:
            continue
        if isinstance(part[col].dtype, pd.CategoricalDtype):
            text[col] = part[col].astype("str")
        elif pd.api.types.is_datetime64_any_dtype(part[col]):
            text[col] = part[col].dt.strftime("%Y-%m-%d %H:%M")
    if text:
        part = part.assign(**text)
    if geometry is not None:
        return part
    points = shapely.points(part["x"].to_numpy(float), part["y"].to_numpy(float))
    return gpd.GeoDataFrame(part, geometry=points, crs=CRS_METRIC)
