"""GeoTIFF output for density and other grid surfaces (rasterio, written atomically)."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from hotspots.io._atomic import atomic_path
from hotspots.schema import InputError


def write_geotiff(
    path: str | os.PathLike[str],
    values: np.ndarray,
    *,
    transform: Any,
    crs: Any,
    nodata: float = -9999.0,
    description: str = "",
    tags: dict[str, Any] | None = None,
    units: str | None = None,
) -> None:
    """Write a 2-D surface as a single-band float32 GeoTIFF.

    NaN and infinite values become ``nodata``. The file is DEFLATE-compressed (with the
    floating-point predictor), carries the band ``description`` and ``units``, and stores
    ``tags`` as GDAL metadata: strings as they are, anything else as sorted JSON. It is
    written to a temporary file and renamed, so a failed write leaves no partial file.

    Parameters
    ----------
    path
        Target ``.tif`` path.
    values
        ``(nrows, ncols)`` array, first row northmost.
    transform
        North-up affine transform of the top-left corner (``Grid.transform``).
    crs
        The raster's CRS, e.g. ``"EPSG:27700"``.
    nodata
        Value written for missing cells.
    description, units
        Band description and unit label.
    tags
        Parameters to record in the file's metadata.

    Examples
    --------
    >>> import tempfile, pathlib, rasterio
    >>> from affine import Affine
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "d.tif"
    >>> write_geotiff(out, np.array([[1.5, np.nan]]), transform=Affine(50, 0, 0, 0, -50, 100),
    ...               crs="EPSG:27700", tags={"bandwidth_m": 250.0})
    >>> with rasterio.open(out) as src:
    ...     src.read(1).tolist(), src.nodata, src.tags()["bandwidth_m"]
    ([[1.5, -9999.0]], -9999.0, '250.0')
    """
    import rasterio

    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2 or 0 in arr.shape:
        raise InputError(f"values must be a non-empty 2-D array, got shape {arr.shape}")
    if transform.e >= 0 or transform.b != 0 or transform.d != 0:
        raise InputError(f"transform must be north-up (no rotation, negative y step): {transform}")
    out = np.where(np.isfinite(arr), arr, nodata).astype(np.float32)
    profile = {
        "driver": "GTiff",
        "height": arr.shape[0],
        "width": arr.shape[1],
        "count": 1,
        "dtype": "float32",
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "compress": "deflate",
        "predictor": 3,
    }
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(out, 1)
        dst.set_band_description(1, description)
        if units:
            dst.set_band_unit(1, units)
        if tags:
            dst.update_tags(**{str(k): _tag_text(v) for k, v in sorted(tags.items())})


def _tag_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
