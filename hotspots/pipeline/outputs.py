"""Writing a run's outputs: each file atomically, all deterministic for the same inputs."""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.io.atomic import write_bytes_atomic, write_text_atomic
from hotspots.io.writers import write_csv, write_geojson, write_gpkg, write_json
from hotspots.maps import map_html, patrol_map
from hotspots.pipeline.analysis import DAY_COLUMNS, HOUR_OF_DAY_COLUMNS
from hotspots.report import funnel_plot_png, static_map_png
from hotspots.schema import PERSONAL_COLUMN_HINTS, InputError
from hotspots.seasonal import DOW_COLUMNS, HOUR_COLUMNS, MONTH_COLUMNS

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


#: Counts per area, hotspot or place (of incidents, or of repeat callers): under
#: ``min_count`` k each is blanked on its own where it is 1 to k-1.
SMALL_COUNT_COLUMNS = (
    "incidents",
    "dow_rows",
    *DOW_COLUMNS,
    "hour_rows",
    *HOUR_COLUMNS,
    "repeat_caller_incidents",
    "repeat_callers",
    "incidents_from_repeat_callers",
    "max_in_window",
)
#: Blanked with a small count: they read back to it (monthly means, rates, density, share,
#: score, category shares, the sparkline's month values) or describe only those incidents.
BLANKED_WITH = {
    "incidents": (
        *MONTH_COLUMNS,
        "peak_month",
        "seasonal_p",
        "trend_slope_per_year",
        "trend_p",
        "spark_svg",
        "rate_per_1000",
        "rate_low",
        "rate_high",
        "p_vs_overall",
        "score",
        "density_km2",
        "share",
        "cumulative_incident_share",
        "top_categories",
    ),
    "dow_rows": ("peak_day", "day_p"),
    "hour_rows": ("peak_hour", "hour_p"),
}
#: Totals and their parts (days of ``dow_rows``, hours of ``hour_rows``): a part blanked
#: alone would be the total minus the parts shown.
PARTS_OF = {"dow_rows": DOW_COLUMNS, "hour_rows": HOUR_COLUMNS}


def disclosure_control(table: pd.DataFrame, k: int) -> pd.DataFrame:
    """A table as published under ``min_count`` k (areas, hotspots, patrol list, places).

    With k > 1: each count in :data:`SMALL_COUNT_COLUMNS` from 1 to k-1 is blanked (0 stays:
    it discloses no incident); where a row's ``incidents``, ``dow_rows`` or ``hour_rows`` is
    blanked, so are the columns :data:`BLANKED_WITH` lists for it; where a day (or hour) of
    a shown ``dow_rows`` (``hour_rows``) is blanked, more of that row's days (hours) are
    blanked, smallest first, until its blanks cannot be worked out from the total and the
    days shown (see :func:`_complementary`); rows that are one place (repeat locations,
    ``incidents_total``) are dropped below k. With k <= 1 the table itself is returned.

    Examples
    --------
    >>> t = pd.DataFrame({"incidents": [0, 3, 17], "score": [0, 3, 17], "dow_rows": [0, 3, 17],
    ...     "peak_day": [None, 5, 1], "d1": [0, 0, 9], "d2": [0, 1, 2], "d3": [0, 2, 6]})
    >>> disclosure_control(t, 5)  # d3 = 6 goes with d2 = 2: else d2 = 17 - 9 - 6
       incidents  score  dow_rows  peak_day  d1   d2   d3
    0        0.0    0.0       0.0       NaN   0  0.0  0.0
    1        NaN    NaN       NaN       NaN   0  NaN  NaN
    2       17.0   17.0      17.0       1.0   9  NaN  NaN
    >>> disclosure_control(t, 1) is t
    True
    """
    if k <= 1:
        return table
    small = {
        c: _small(pd.to_numeric(table[c], errors="coerce"), k)
        for c in SMALL_COUNT_COLUMNS
        if c in table.columns
    }
    out = table.copy()
    for total, parts in PARTS_OF.items():
        cols = [c for c in parts if c in small]
        if total in small and cols:
            hidden = _complementary(
                table[cols].apply(pd.to_numeric, errors="coerce").to_numpy(float),
                np.column_stack([small[c].to_numpy(bool) for c in cols]),
                total_shown=(~small[total]).to_numpy(bool),
            )
            small.update({c: pd.Series(hidden[:, j], table.index) for j, c in enumerate(cols)})
    for c, hide in small.items():
        out[c] = out[c].where(~hide)
    for key, cols in BLANKED_WITH.items():
        if key in small:
            for c in (c for c in cols if c in out.columns):
                out[c] = out[c].where(~small[key], "" if c == "spark_svg" else np.nan)
    if "incidents_total" in out.columns:  # a repeat location: its count is the row
        out = out[~_small(pd.to_numeric(out["incidents_total"], errors="coerce"), k)]
    return out


def _small(values: pd.Series, k: int) -> pd.Series:
    """True where a count is between 1 and k-1 (False for 0, k or more, and missing)."""
    return values.notna() & suppress_small(values, k).isna()


def _complementary(
    values: np.ndarray, hidden: np.ndarray, *, total_shown: np.ndarray
) -> np.ndarray:
    """``hidden`` (rows × parts) with more parts hidden in each row whose total is shown,
    the smallest shown first (non-zero before zero; the first on ties), until the row's
    hidden parts cannot be worked out: at least two, and not all 1 (two or more 1s that
    sum to the total minus the parts shown are each 1).

    Examples
    --------
    >>> values = np.array([[9, 2, 6, 0], [1, 0, 1, 8], [1, 1, 1, 1]], dtype=float)
    >>> hidden = values == 2
    >>> hidden[1:] = values[1:] == 1
    >>> _complementary(values, hidden, total_shown=np.array([True, True, False])).astype(int)
    array([[0, 1, 1, 0],
           [1, 0, 1, 1],
           [1, 1, 1, 1]])
    """
    hidden = hidden.copy()
    for i in np.flatnonzero(total_shown & hidden.any(axis=1)):
        row, hid = values[i], hidden[i]  # hid is a view: setting it hides in ``hidden``
        for j in np.lexsort((row, row == 0)):  # smallest first, zeros last
            if hid.sum() >= 2 and not (row[hid] == 1).all():
                break
            hid[j] = True
    return hidden


@dataclass(frozen=True)
class Published:
    """A run's tables as every output shows them: :func:`disclosure_control` applied once,
    with the run's ``min_count``, to each (the tables themselves when it is 1 or less)."""

    hotspots: gpd.GeoDataFrame
    areas: dict[str, gpd.GeoDataFrame]
    patrol: pd.DataFrame
    repeats: pd.DataFrame
    seasonal_hotspots: dict[str, gpd.GeoDataFrame]
    min_count: int


def published(result) -> Published:
    """The run's hotspots, areas, patrol list, repeat locations and seasonal hotspots as
    published (see :func:`disclosure_control`)."""
    a, k = result.analysis, result.config.min_count
    return Published(
        hotspots=disclosure_control(a.hotspots, k),
        areas={name: disclosure_control(t, k) for name, t in a.areas.items()},
        patrol=disclosure_control(a.patrol, k),
        repeats=disclosure_control(a.repeats, k),
        seasonal_hotspots={n: disclosure_control(t, k) for n, t in a.seasonal_hotspots.items()},
        min_count=k,
    )


def hotspots_layer(hs: gpd.GeoDataFrame, area_cols: list[str]) -> gpd.GeoDataFrame:
    """The ranked hotspot polygons with their fixed columns, sorted by rank."""
    seasonal = [
        "peak_month",
        "seasonal_p",
        "trend",
        "trend_slope_per_year",
        "trend_p",
        *MONTH_COLUMNS,
        *DAY_COLUMNS,  # only present when the run's data has days / times
        *HOUR_OF_DAY_COLUMNS,
        "class",
    ]
    cols = [
        c
        for c in HOTSPOT_COLUMNS + area_cols + [f"{a}_all" for a in area_cols] + seasonal
        if c in hs.columns
    ]
    return hs[cols + [hs.geometry.name]].sort_values("rank").reset_index(drop=True)


def areas_table(areas: dict[str, gpd.GeoDataFrame]) -> pd.DataFrame:
    """One row per area of every layer: layer, name, incidents, seasonal columns…"""
    frames = []
    for gdf in areas.values():
        frame = pd.DataFrame(gdf.drop(columns=[gdf.geometry.name, "spark_svg"], errors="ignore"))
        frames.append(frame)
    first = ["layer", "name", "incidents"]
    if not frames:  # a run without area layers
        return pd.DataFrame(columns=first)
    table = pd.concat(frames, ignore_index=True)
    table = table[first + [c for c in table.columns if c not in first]]
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
    pub = published(result)
    files: dict[str, Path] = {}
    hotspots = hotspots_layer(pub.hotspots, [lyr.layer for lyr in result.prepared.layers])
    files["hotspots.geojson"] = out / "hotspots.geojson"
    write_geojson(hotspots, files["hotspots.geojson"])
    files["hotspots.csv"] = out / "hotspots.csv"
    write_csv(pd.DataFrame(hotspots.drop(columns=hotspots.geometry.name)), files["hotspots.csv"])
    files["areas.csv"] = out / "areas.csv"
    write_csv(areas_table(pub.areas), files["areas.csv"])
    files["patrol_list.csv"] = out / "patrol_list.csv"
    write_csv(pub.patrol, files["patrol_list.csv"])
    files["repeat_locations.csv"] = out / "repeat_locations.csv"
    write_csv(pub.repeats, files["repeat_locations.csv"])
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
    for layer, gdf in pub.areas.items():
        layers[f"areas_{layer}"] = gdf.drop(columns=["spark_svg"], errors="ignore")
    files["hotspots.gpkg"] = out / "hotspots.gpkg"
    write_gpkg(layers, files["hotspots.gpkg"])
    files["map.html"] = out / "map.html"
    write_text_atomic(
        files["map.html"], _map(result, pub, pub.hotspots, pub.areas, result.config.title)
    )
    if result.config.map_per_area:
        for name, html in _area_maps(result, pub, result.config.map_per_area):
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
        # The force rate is from every incident; the plot shows the published counts only.
        overall = table["incidents"].sum() / table["residents"].sum() * 1000
        shown = pub.areas[layer]
        files[f"funnel_{layer}.png"] = out / f"funnel_{layer}.png"
        write_bytes_atomic(
            files[f"funnel_{layer}.png"],
            funnel_plot_png(
                pd.DataFrame(shown[["name", "incidents", "residents"]]),
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


def _map(
    result,
    pub: Published,
    hotspots: gpd.GeoDataFrame,
    areas: dict[str, gpd.GeoDataFrame],
    title: str,
) -> str:
    """The patrol map's HTML from published tables. Under disclosure control (``min_count``
    k > 1) single incidents are not drawn either, and the panel says what is blanked."""
    a = result.analysis
    k = pub.min_count
    params = result.map_params()
    if k > 1:
        params["Small counts"] = f"1 to {k - 1} not shown (min_count {k})"
    m = patrol_map(
        hotspots=hotspots,
        areas=areas,
        density=a.surface.values,
        density_grid=a.surface.grid,
        gistar_cells=a.gistar_cells,
        repeat_locations=pub.repeats.head(MAP_REPEAT_LOCATIONS),
        monthly_hotspot_layers=pub.seasonal_hotspots,
        incidents=result.prepared.incidents if k <= 1 else None,
        title=title,
        period=result.period_text,
        params=params,
        attribution=result.attribution,
        online_tiles=result.config.map_online_tiles,
    )
    return map_html(m)


def _slug(text: str) -> str:
    """A file-name-safe area name ("Melton & Rutland" → "melton-rutland")."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "area"


def _area_maps(result, pub: Published, layer: str):
    """One map per area of ``layer`` (e.g. per NPA): its hotspots and the areas inside it."""
    if layer not in pub.areas:
        raise InputError(
            f"map_per_area {layer!r} is not an area layer of this run; "
            f"the layers are {sorted(pub.areas)}"
        )
    for _, area in pub.areas[layer].iterrows():
        inside = area.geometry.buffer(-1.0)
        if layer in pub.hotspots:
            hotspots = pub.hotspots[pub.hotspots[layer] == area["name"]]
        else:
            hotspots = pub.hotspots[pub.hotspots.intersects(inside)]
        areas = {n: t[t.intersects(inside)] for n, t in pub.areas.items()}
        title = f"{result.config.title}: {area['name']}"
        yield f"{_slug(str(area['name']))}.html", _map(result, pub, hotspots, areas, title)
