"""Polygon and image layers: areas, density, Gi* cells, seasonal and ranked hotspots."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib import colormaps
from matplotlib.colors import to_hex

from hotspots.gistar import CONFIDENCE_LEVELS
from hotspots.grid import Grid
from hotspots.maps._elements import ScriptLayer, js_json
from hotspots.maps._geo import check_frame, display_geometry, feature, label_points
from hotspots.maps._panel import (
    HOTSPOT_FILL,
    HOTSPOT_LINE,
    legend_density,
    legend_hotspots,
    legend_outline,
    legend_swatches,
)
from hotspots.maps._popups import area_popup, area_tooltip, hotspot_popup, hotspot_tooltip
from hotspots.maps._raster import density_image
from hotspots.maps._text import area_title, count, esc, incidents_text, missing, number
from hotspots.schema import InputError

#: Boundary simplification for display, metres (well below a street's width).
AREA_TOLERANCE_M = 15.0
HOTSPOT_TOLERANCE_M = 5.0
#: Rank badges for the first LABELLED_RANKS hotspots; at each zoom a badge that would touch
#: a better-ranked one (closer than BADGE_GAP_PX, centre to centre) is left out.
LABELLED_RANKS = 30
BADGE_GAP_PX = 24
#: More significant Gi* cells than this are merged per class (one outline per class).
MAX_GISTAR_CELLS = 4000
NAME_HOTSPOTS = "Hotspots (ranked)"
NAME_DENSITY = "Density (incidents per km²)"
NAME_GISTAR = "Gi* hot and cold spots"

#: Colour of each Gi* bin (``gi_bin``: +3/+2/+1 hot at 99/95/90 %, -1/-2/-3 cold), in
#: legend order.
_GISTAR_COLOURS = {
    3: "#b2182b",
    2: "#ef8a62",
    1: "#fddbc7",
    -1: "#d1e5f0",
    -2: "#67a9cf",
    -3: "#2166ac",
}


class _Styles:
    """Distinct Leaflet style dicts, numbered in order of first use (features carry the index)."""

    def __init__(self) -> None:
        self.items: list[dict] = []
        self._index: dict[str, int] = {}

    def __call__(self, style: dict) -> int:
        key = js_json(style)
        if key not in self._index:
            self._index[key] = len(self.items)
            self.items.append(style)
        return self._index[key]


def _geojson_layer(
    features: list[dict],
    styles: _Styles,
    pane: str,
    *,
    name: str,
    show: bool,
    legend: str = "",
) -> ScriptLayer:
    data = {"type": "FeatureCollection", "features": features}
    js = f"hsGeoJson({js_json(data)}, {js_json(styles.items)}, {js_json(pane)})"
    return ScriptLayer(js, name=name, show=show, legend=legend)


def _class_breaks(values: np.ndarray, *, integer: bool) -> np.ndarray:
    """Quantile class edges (quintiles, fewer for few values), rounded for the legend.

    Examples
    --------
    >>> _class_breaks(np.array([100.0, 300.0, np.nan]), integer=True).tolist()
    [100.0, 200.0, 300.0]
    """
    v = values[np.isfinite(values)]
    if v.size == 0:
        return np.array([])
    q = np.quantile(v, np.linspace(0.0, 1.0, min(5, len(np.unique(v))) + 1))
    return np.unique(np.round(q) if integer else np.round(q, 1))


def _class_labels(breaks: np.ndarray, *, integer: bool) -> list[str]:
    n = len(breaks) - 1
    if n < 1:
        return [f"{breaks[0]:,.0f}" if integer else f"{breaks[0]:,.1f}"] if len(breaks) else []
    labels = []
    fmt = "{:,.0f}" if integer else "{:,.1f}"
    for i in range(n):
        hi = breaks[i + 1] - 1 if integer and i < n - 1 else breaks[i + 1]
        lo_t, hi_t = fmt.format(breaks[i]), fmt.format(max(hi, breaks[i]))
        labels.append(lo_t if lo_t == hi_t else f"{lo_t} – {hi_t}")
    return labels


def area_layer(key: str, frame: gpd.GeoDataFrame, *, show: bool) -> ScriptLayer:
    use_rate = "rate_per_1000" in frame.columns and frame["rate_per_1000"].notna().any()
    col = "rate_per_1000" if use_rate else "incidents"
    values = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
    breaks = _class_breaks(values, integer=not use_rate)
    n = max(len(breaks) - 1, 1)
    colours = [to_hex(colormaps["Purples"](x)) for x in np.linspace(0.2, 0.85, n)]
    cls = np.clip(np.searchsorted(breaks[1:-1], values, side="right"), 0, n - 1)
    has_sig = "significance" in frame.columns
    geoms = display_geometry(frame, tolerance_m=AREA_TOLERANCE_M, coverage=True)
    styles, features = _Styles(), []
    for g, row, v, c in zip(geoms, frame.to_dict("records"), values, cls, strict=True):
        above = has_sig and row.get("significance") == "above"
        style = {
            "color": "#3f007d" if above else "#555555",
            "weight": 3 if above else 1,
            "fillColor": colours[c] if np.isfinite(v) else "#d9d9d9",
            "fillOpacity": 0.55,
        }
        value_text = incidents_text(row["incidents"]) + (
            f" · {number(v)} per 1,000 residents" if use_rate and np.isfinite(v) else ""
        )
        features.append(
            feature(
                g,
                {
                    "s": styles(style),
                    "k": "area",
                    "t": area_tooltip(row, key, value_text),
                    "p": area_popup(row, key),
                },
            )
        )
    unit = "incidents per 1,000 residents" if use_rate else "incidents"
    items = list(zip(colours, _class_labels(breaks, integer=not use_rate), strict=False))
    if not np.isfinite(values).all():
        hidden = frame["incidents"].isna().any()  # small counts blanked (min_count)
        items.append(("#d9d9d9", "no data or small count" if hidden else "no data"))
    extra = (
        (
            '<div><span class="hs-sw" style="border:3px solid #3f007d"></span>'
            "significantly above expected</div>"
        )
        if has_sig
        else ""
    )
    legend = legend_swatches(f"{area_title(key)}: {unit}", items, extra)
    return _geojson_layer(
        features, styles, "hs-areas", name=f"{area_title(key)}: {unit}", show=show, legend=legend
    )


def hotspot_layer(
    hot: gpd.GeoDataFrame,
    area_cols: list[str],
    *,
    name: str = NAME_HOTSPOTS,
    show: bool = True,
    pane: str = "hs-hotspots",
) -> ScriptLayer:
    """Ranked hotspot outlines with rank badges (decluttered per zoom) and popups."""
    geoms = display_geometry(hot, tolerance_m=HOTSPOT_TOLERANCE_M)
    lon, lat = label_points(hot)
    styles, features = _Styles(), []
    labels: list[tuple[float, float, str]] = []  # lat, lon, rank as the badge text
    for i, (g, row) in enumerate(zip(geoms, hot.to_dict("records"), strict=True)):
        rank = int(row["rank"])
        style = {
            "color": HOTSPOT_LINE,
            "weight": 3.5 if rank <= 10 else 2,
            "fillColor": HOTSPOT_FILL,
            "fillOpacity": 0.15,
        }
        if not show:  # hotspots beyond the patrol plan: drawn lighter when switched on
            style = {**style, "weight": 1.5, "dashArray": "4 3", "fillOpacity": 0.08}
        features.append(
            feature(
                g,
                {
                    "s": styles(style),
                    "k": "hotspot",
                    "rank": rank,
                    "t": hotspot_tooltip(row),
                    "p": hotspot_popup(row, area_cols),
                },
            )
        )
        if rank <= LABELLED_RANKS:
            labels.append((float(lat[i]), float(lon[i]), str(rank)))
    data = {"type": "FeatureCollection", "features": features}
    labels.sort(key=lambda r: int(r[2]))  # decluttered in rank order: the better rank wins
    js = (
        "(function () {"
        f" var geo = hsGeoJson({js_json(data)}, {js_json(styles.items)}, {js_json(pane)});"
        f' var badges = hsLabels({js_json(labels)}, "hs-labels");'
        " var g = L.featureGroup([geo]);"
        f" hsDeclutter(map, g, badges, {BADGE_GAP_PX}); g.hsGeo = geo; return g; }})()"
    )
    legend = (
        legend_hotspots()
        if show
        else legend_outline(name, HOTSPOT_LINE, "hotspot not in the patrol plan")
    )
    return ScriptLayer(js, name=name, show=show, legend=legend)


def density_layer(density: np.ndarray, grid: Grid) -> ScriptLayer | None:
    if not isinstance(grid, Grid):
        raise InputError(f"density_grid must be a hotspots.grid.Grid, got {type(grid).__name__}")
    img = density_image(density, grid)
    if img is None:
        return None
    js = (
        f"L.imageOverlay({js_json(img.data_url)}, {js_json(img.bounds)},"
        " {pane: 'hs-density', interactive: false})"
    )
    return ScriptLayer(
        js, name=NAME_DENSITY, show=True, legend=legend_density(img.vmax, img.clipped)
    )


def gistar_layer(cells: gpd.GeoDataFrame) -> tuple[ScriptLayer, list[str]]:
    """Gi* cells coloured by their bin (``gi_bin``); cells of bin 0 are not drawn."""
    cells = check_frame(cells, "gistar_cells", ("gi_bin", "z"))
    bins = pd.to_numeric(cells["gi_bin"], errors="coerce").to_numpy(float)
    keep = np.isin(bins, list(_GISTAR_COLOURS))
    sig = cells[keep]
    sig_bins = bins[keep].astype(int).tolist()
    present = [b for b in _GISTAR_COLOURS if b in set(sig_bins)]
    notes: list[str] = []
    if len(sig) > MAX_GISTAR_CELLS:
        notes.append(f"{len(sig):,} significant Gi* cells are drawn merged by class.")
        cell_geoms = sig.geometry.to_numpy()
        merged = [shapely.union_all(cell_geoms[[k == b for k in sig_bins]]) for b in present]
        frame = gpd.GeoDataFrame(geometry=merged, crs=cells.crs)
        geoms, keys = display_geometry(frame, tolerance_m=1.0), present
        tips = [_gi_name(b) for b in present]
    else:
        geoms, keys = display_geometry(sig, tolerance_m=1.0), sig_bins
        tips = [
            _gi_name(b) + ("" if missing(z) else f" (z = {float(z):.2f})")
            for b, z in zip(sig_bins, sig["z"], strict=True)
        ]
    styles = _Styles()
    features = [
        feature(g, {"s": styles(_gi_style(_GISTAR_COLOURS[k])), "t": t})
        for g, k, t in zip(geoms, keys, tips, strict=True)
    ]
    items = [(_GISTAR_COLOURS[b], _gi_name(b, legend=True)) for b in present]
    legend = legend_swatches("Gi* hot and cold spots", items or [("#f7f7f7", "none significant")])
    layer = _geojson_layer(
        features, styles, "hs-gistar", name=NAME_GISTAR, show=False, legend=legend
    )
    return layer, notes


def _gi_name(gi_bin: int, *, legend: bool = False) -> str:
    """The name of a Gi* bin: "Hot spot 99%" (legend: "Hot spot, 99% confidence").

    Examples
    --------
    >>> _gi_name(3), _gi_name(-1, legend=True)
    ('Hot spot 99%', 'Cold spot, 90% confidence')
    """
    kind = "Hot" if gi_bin > 0 else "Cold"
    confidence = round(100 * (1 - CONFIDENCE_LEVELS[abs(gi_bin) - 1]))
    return f"{kind} spot, {confidence}% confidence" if legend else f"{kind} spot {confidence}%"


def _gi_style(colour: str) -> dict:
    return {"color": colour, "weight": 0.5, "fillColor": colour, "fillOpacity": 0.7}


def seasonal_layer(name: str, frame: gpd.GeoDataFrame, colour: str) -> ScriptLayer:
    frame = check_frame(frame, f"monthly_hotspot_layers[{name!r}]")
    geoms = display_geometry(frame, tolerance_m=HOTSPOT_TOLERANCE_M)
    styles, features = _Styles(), []
    style = styles({"color": colour, "weight": 2, "fillColor": colour, "fillOpacity": 0.25})
    for g, row in zip(geoms, frame.to_dict("records"), strict=True):
        bits = [f"<b>{esc(name)}</b>"]
        if not missing(row.get("rank")):
            bits.append(f"hotspot {int(row['rank'])}")
        if not missing(row.get("incidents")):
            bits.append(f"{count(row['incidents'])} incidents")
        if esc(row.get("label")):
            bits.append(esc(row.get("label")))
        features.append(feature(g, {"s": style, "t": " · ".join(bits)}))
    return _geojson_layer(
        features,
        styles,
        "hs-seasonal",
        name=f"Hotspots: {esc(name)}",
        show=False,
        legend=legend_outline(f"Hotspots: {esc(name)}", colour),
    )
