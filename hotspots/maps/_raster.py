"""The density surface as a transparent PNG warped to Web Mercator.

Leaflet stretches an image overlay linearly in Web Mercator (EPSG:3857) between its
corner coordinates, so the surface is warped from the British National Grid to
EPSG:3857 with rasterio before encoding; the overlay then lies where the cells are,
with no skew. Nearest-neighbour resampling keeps the cell values as computed.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass

import numpy as np
from affine import Affine
from matplotlib import colormaps
from PIL import Image

from hotspots.grid import Grid
from hotspots.schema import InputError

CMAP = "YlOrRd"
#: Longest side of the displayed image in pixels; larger surfaces are shown coarser.
MAX_PIXELS = 2000
#: Values below this share of the top of the colour scale are left transparent.
_CLEAR_BELOW = 0.02
#: Colour-scale top: this percentile of the positive values, so one extreme cell does not
#: wash out the rest (higher values show in the top colour; the legend says "or more").
_TOP_PERCENTILE = 99.5


@dataclass(frozen=True, kw_only=True)
class DensityImage:
    """A density PNG ready for an image overlay, with its colour scale."""

    data_url: str
    bounds: list[list[float]]  # [[south, west], [north, east]]
    vmax: float
    clipped: bool
    shape: tuple[int, int]


def palette_alpha(n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """RGB (0–255) and alpha (0–1) of each colour index; index 0 is nodata.

    Low densities fade out so the boundaries underneath stay readable.
    """
    frac = np.arange(n) / (n - 1)
    rgb = np.round(colormaps[CMAP](frac)[:, :3] * 255).astype(np.uint8)
    alpha = np.where(frac < _CLEAR_BELOW, 0.0, np.minimum(1.0, 0.35 + 1.5 * frac) * 0.85)
    alpha[0] = 0.0
    return rgb, alpha


def density_image(density: np.ndarray, grid: Grid) -> DensityImage | None:
    """Warp, colour and encode ``density`` (incidents per km², row 0 northmost).

    Returns None when the surface has no positive value to show.
    """
    from pyproj import Transformer
    from rasterio.warp import Resampling, reproject, transform_bounds

    arr = np.asarray(density, dtype=np.float64)
    if arr.shape != grid.shape:
        raise InputError(f"density has shape {arr.shape} but density_grid is {grid.shape}")
    positive = arr[np.isfinite(arr) & (arr > 0)]
    if positive.size == 0:
        return None
    vmax = float(np.percentile(positive, _TOP_PERCENTILE))
    clipped = bool(positive.max() > vmax)

    dst_crs = "EPSG:3857"
    left, bottom, right, top = transform_bounds(
        grid.crs, dst_crs, grid.xmin, grid.ymin, grid.xmax, grid.ymax, densify_pts=21
    )
    # One source cell's length in Web Mercator metres at the centre (about 1.65 cells at
    # Leicester's latitude), coarser if the image would be too large; the size is rounded
    # up so the image covers every cell.
    to_merc = Transformer.from_crs(grid.crs, dst_crs, always_xy=True)
    cx, cy = (grid.xmin + grid.xmax) / 2, (grid.ymin + grid.ymax) / 2
    (x0, x1), (y0, y1) = to_merc.transform([cx, cx + grid.cell_size_m], [cy, cy])
    cell = math.hypot(x1 - x0, y1 - y0)
    res = max(cell, (right - left) / MAX_PIXELS, (top - bottom) / MAX_PIXELS)
    width = math.ceil((right - left) / res - 1e-9)
    height = math.ceil((top - bottom) / res - 1e-9)
    transform = Affine(res, 0.0, left, 0.0, -res, top)
    warped = np.full((height, width), np.nan)
    reproject(
        arr,
        warped,
        src_transform=grid.transform,
        src_crs=grid.crs,
        src_nodata=np.nan,
        dst_transform=transform,
        dst_crs=dst_crs,
        dst_nodata=np.nan,
        resampling=Resampling.nearest,
    )

    index = np.zeros(warped.shape, dtype=np.uint8)
    ok = np.isfinite(warped)
    index[ok] = 1 + np.round(np.clip(warped[ok] / vmax, 0, 1) * 254).astype(np.uint8)
    rgb, alpha = palette_alpha()
    img = Image.frombytes("P", (width, height), index.tobytes())
    img.putpalette(rgb.tobytes())
    buf = io.BytesIO()
    img.save(
        buf,
        format="PNG",
        optimize=True,
        transparency=np.round(alpha * 255).astype(np.uint8).tobytes(),
    )
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")

    west, north = transform.c, transform.f
    east, south = west + transform.a * width, north + transform.e * height
    to_ll = Transformer.from_crs(dst_crs, "EPSG:4326", always_xy=True)
    lon0, lat0 = to_ll.transform(west, south)
    lon1, lat1 = to_ll.transform(east, north)
    bounds = [[round(lat0, 6), round(lon0, 6)], [round(lat1, 6), round(lon1, 6)]]
    return DensityImage(
        data_url=url, bounds=bounds, vmax=vmax, clipped=clipped, shape=(height, width)
    )
