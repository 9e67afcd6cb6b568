"""Writing a run's outputs: each file atomically, all deterministic for the same inputs."""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd

from hotspots.io.atomic import write_bytes_atomic, write_text_atomic
from hotspots.io.writers import write_csv, write_geojson, write_gpkg, write_json
from hotspots.maps import map_html, patrol_map
from hotspots.pipeline.analysis import DAY_COLUMNS, HOUR_OF_DAY_COLUMNS
from hotspots.report import funnel_plot_png, static_map_png
from hotspots.schema import PERSONAL_COLUMN_HINTS, InputError

log = logging.getLogger(__name__)

#: The map shows the busiest repeat locations only; repeat_locations.csv has them all.
MAP_REPEAT_LOCATIONS = 300
HOTSPOT_COLUMNS = [
    "rank",
    "hotspot_id",
    "score",
    "incidents",
    "area_m2",
    "density_km2",
    "share",
    "label",
    "top_categories",
    "repeat_locations",
    "repeat_caller_incidents",
]


def personal_columns(columns: list[str]) -> list[str]:
    """Columns whose names suggest personal data or free text (dropped unless kept).

    Examples
    --------
    >>> personal_columns(["incident_id", "Caller Name", "victim_id", "risk"])
    ['Caller Name', 'victim_id']
    """
    return [c for c in columns if any(h in c.lower() for h in PERSONAL_COLUMN_HINTS)]


def suppress_small(values: pd.Series, k: int) -> pd.Series:
    """Disclosure control: counts between 1 and k-1 become NaN (shown as suppressed)."""
    if k <= 1:
        return values
    return values.where((values == 0) | (values >= k))


def hotspots_layer(result) -> gpd.GeoDataFrame:
    """The ranked hotspot polygons with their fixed columns, sorted by rank."""
    hs = result.analysis.hotspots
    area_cols = [lyr.layer for lyr in result.prepared.layers]
    seasonal = [
        "peak_month",
        "seasonal_p",
        "trend",
        "trend_slope_per_year",
        "trend_p",
        *[f"m{m:02d}" for m in range(1, 13)],
        *DAY_COLUMNS,  # only present when the run's data has days / times
        *HOUR_OF_DAY_COLUMNS,
        "class",
    ]
    cols = [
        c
        for c in HOTSPOT_COLUMNS + area_cols + [f"{a}_all" for a in area_cols] + seasonal
        if c in hs.columns
    ]
    out = hs[cols + [hs.geometry.name]].sort_values("rank").reset_index(drop=True)
    out["incidents"] = suppress_small(out["incidents"], result.config.min_count)
    return out


def areas_table(result) -> pd.DataFrame:
    """One row per area of every layer: layer, name, incidents, seasonal columns…"""
    frames = []
    for gdf in result.analysis.areas.values():
        frame = pd.DataFrame(gdf.drop(columns=[gdf.geometry.name, "spark_svg"], errors="ignore"))
        frames.append(frame)
    first = ["layer", "name", "incidents"]
    if not frames:  # a run without area layers
        return pd.DataFrame(columns=first)
    table = pd.concat(frames, ignore_index=True)
    table = table[first + [c for c in table.columns if c not in first]]
    table["incidents"] = suppress_small(table["incidents"], result.config.min_count)
    return table.sort_values(["layer", "name"]).reset_index(drop=True)


def incidents_layer(result) -> pd.DataFrame:
    """The incidents for the GeoPackage: points from x/y, built per chunk by the writer."""
    inc = result.prepared.incidents
    drop = ["_row"]
    if not result.config.keep_personal:
        drop += personal_columns(list(inc.columns))
    return inc.drop(columns=drop)


def write_outputs(result, out: Path) -> dict[str, str]:
    """Write every output file of a run into ``out``; return name → path.

    Files are first written into a staging folder inside ``out`` and moved into place only
    when all of them exist, ``run.json`` last: a run that fails leaves the previous outputs
    as they were, and a folder with ``run.json`` newer than the rest is complete.
    """
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        written = _write_all(result, staging)
        for name in sorted(written, key=lambda n: n == "run.json"):
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {name: str(out / name) for name in written}


def _write_all(result, out: Path) -> list[str]:
    a = result.analysis
    files: dict[str, Path] = {}
    hotspots = hotspots_layer(result)
    files["hotspots.geojson"] = out / "hotspots.geojson"
    write_geojson(hotspots, files["hotspots.geojson"])
    files["hotspots.csv"] = out / "hotspots.csv"
    write_csv(pd.DataFrame(hotspots.drop(columns=hotspots.geometry.name)), files["hotspots.csv"])
    files["areas.csv"] = out / "areas.csv"
    write_csv(areas_table(result), files["areas.csv"])
    files["patrol_list.csv"] = out / "patrol_list.csv"
    write_csv(a.patrol, files["patrol_list.csv"])
    files["repeat_locations.csv"] = out / "repeat_locations.csv"
    write_csv(a.repeats, files["repeat_locations.csv"])
    files["density.tif"] = out / "density.tif"
    a.surface.to_geotiff(files["density.tif"])
    if result.prepared.links is not None:
        files["duplicates.csv"] = out / "duplicates.csv"
        write_csv(result.prepared.links, files["duplicates.csv"])
    files["rejects.csv"] = out / "rejects.csv"
    write_csv(result.prepared.rejects_table(), files["rejects.csv"])
    layers = {
        "hotspots": hotspots,
        "gistar_cells": a.gistar_cells,
    }
    if result.config.min_count <= 1:  # single incidents are not shared under disclosure control
        layers["incidents"] = incidents_layer(result)
    for layer, gdf in a.areas.items():
        layers[f"areas_{layer}"] = gdf.drop(columns=["spark_svg"], errors="ignore")
    files["hotspots.gpkg"] = out / "hotspots.gpkg"
    write_gpkg(layers, files["hotspots.gpkg"])
    files["map.html"] = out / "map.html"
    write_text_atomic(files["map.html"], _map(result, a.hotspots, a.areas, result.config.title))
    if result.config.map_per_area:
        for name, html in _area_maps(result, result.config.map_per_area):
            files[f"maps/{name}"] = out / "maps" / name
            write_text_atomic(files[f"maps/{name}"], html)
    first_layer = next(iter(a.areas.values()), None)
    if first_layer is not None:
        files["map.png"] = out / "map.png"
        write_bytes_atomic(
            files["map.png"],
            static_map_png(
                hotspots=a.hotspots.head(result.config.top_n),
                areas_layer=first_layer,
                density=a.surface.values,
                density_grid=a.surface.grid,
                title=result.config.title,
                attribution=result.attribution,
            ),
        )
    for layer, table in a.areas.items():
        if "residents" not in table or table["residents"].sum() <= 0:
            continue
        overall = table["incidents"].sum() / table["residents"].sum() * 1000
        files[f"funnel_{layer}.png"] = out / f"funnel_{layer}.png"
        write_bytes_atomic(
            files[f"funnel_{layer}.png"],
            funnel_plot_png(
                pd.DataFrame(table[["name", "incidents", "residents"]]),
                overall_rate_per_1000=overall,
                title=f"{result.config.title}: {layer} rates per 1,000 residents "
                f"({result.period_text})",
            ),
        )
    files["run.json"] = out / "run.json"
    meta = result.metadata()
    meta["outputs"] = sorted(files)
    write_json(meta, files["run.json"])
    return sorted(files)


def _map(result, hotspots: gpd.GeoDataFrame, areas: dict[str, gpd.GeoDataFrame], title: str) -> str:
    """The patrol map's HTML. Under disclosure control (``min_count`` k > 1) small counts
    are blanked, and neither single incidents nor repeat locations below k are drawn."""
    a = result.analysis
    k = result.config.min_count
    repeats = a.repeats.head(MAP_REPEAT_LOCATIONS)
    incidents = result.prepared.incidents
    if k > 1:
        hotspots = hotspots.assign(incidents=suppress_small(hotspots["incidents"], k))
        areas = {n: t.assign(incidents=suppress_small(t["incidents"], k)) for n, t in areas.items()}
        repeats = repeats[repeats["incidents_total"] >= k]
        incidents = None
    m = patrol_map(
        hotspots=hotspots,
        areas=areas,
        density=a.surface.values,
        density_grid=a.surface.grid,
        gistar_cells=a.gistar_cells,
        repeat_locations=repeats,
        monthly_hotspot_layers=a.seasonal_hotspots,
        incidents=incidents,
        title=title,
        period=result.period_text,
        params=result.map_params(),
        attribution=result.attribution,
        online_tiles=result.config.map_online_tiles,
    )
    return map_html(m)


def _slug(text: str) -> str:
    """A file-name-safe area name ("Melton & Rutland" → "melton-rutland")."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "area"


def _area_maps(result, layer: str):
    """One map per area of ``layer`` (e.g. per NPA): its hotspots and the areas inside it."""
    a = result.analysis
    if layer not in a.areas:
        raise InputError(
            f"map_per_area {layer!r} is not an area layer of this run; "
            f"the layers are {sorted(a.areas)}"
        )
    for _, area in a.areas[layer].iterrows():
        inside = area.geometry.buffer(-1.0)
        if layer in a.hotspots:
            hotspots = a.hotspots[a.hotspots[layer] == area["name"]]
        else:
            hotspots = a.hotspots[a.hotspots.intersects(inside)]
        areas = {n: t[t.intersects(inside)] for n, t in a.areas.items()}
        title = f"{result.config.title}: {area['name']}"
        yield f"{_slug(str(area['name']))}.html", _map(result, hotspots, areas, title)
