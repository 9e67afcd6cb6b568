"""The public builder: checks inputs and stacks the layers, panel and legend."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import to_hex

from hotspots.grid import Grid
from hotspots.maps._elements import (
    Chrome,
    EscapedLayerControl,
    OnlineTiles,
    PatrolMap,
    Setup,
    set_page_title,
)
from hotspots.maps._geo import check_frame, latlon_bounds
from hotspots.maps._panel import CSS, panel_html
from hotspots.maps._points import incident_layer, repeat_layer
from hotspots.maps._polygons import (
    area_layer,
    density_layer,
    gistar_layer,
    hotspot_layer,
    seasonal_layer,
)
from hotspots.maps._text import esc
from hotspots.schema import InputError

#: Area columns (e.g. beat, NPA) in the patrol panel's list; popups show them all.
PANEL_AREA_COLUMNS = 1
NAME_TILES = "OpenStreetMap (online)"
NAME_OTHERS = "Other hotspots"
#: From this zoom (streets readable) the area and density shading fade.
STREET_ZOOM = 15


def _area_columns(hot: pd.DataFrame, area_keys: list[str]) -> list[str]:
    cols = [k for k in area_keys if k in hot.columns]
    return cols + [c for c in ("beat", "npa") if c in hot.columns and c not in cols]


def patrol_map(
    *,
    hotspots: gpd.GeoDataFrame,
    areas: dict[str, gpd.GeoDataFrame],
    density: np.ndarray | None = None,
    density_grid: Grid | None = None,
    gistar_cells: gpd.GeoDataFrame | None = None,
    repeat_locations: pd.DataFrame | None = None,
    incidents: gpd.GeoDataFrame | pd.DataFrame | None = None,
    monthly_hotspot_layers: dict[str, gpd.GeoDataFrame] | None = None,
    title: str,
    period: str,
    params: dict,
    attribution: str,
    online_tiles: bool = False,
    max_markers: int = 5000,
    patrol_plan: pd.DataFrame | None = None,
    plan_note: str = "",
) -> folium.Map:
    """The patrol-planning map: ranked hotspots over density, areas and supporting layers.

    Everything is drawn from results already computed; all geometry comes in EPSG:27700
    and is simplified in metres, reprojected once to EPSG:4326 and rounded to 6 decimal
    places. Write it with :func:`map_html`, which makes the page work offline.

    Parameters
    ----------
    hotspots
        Hotspot polygons with ``rank`` (1 = top) and ``incidents``; optional ``hotspot_id``,
        ``label``, ``area_m2``, ``density_km2``, ``top_categories``, area columns named
        like the keys of ``areas`` (e.g. ``beat``, ``npa``) and seasonal columns
        ``peak_month``, ``trend``, ``trend_slope_per_year``, ``class``, ``spark_svg``,
        ``peak_day``, ``day_p``, ``dow_rows``, ``peak_hour``, ``hour_p``, ``hour_rows`` (a
        popup line only where given). A missing ``incidents`` is a count blanked by
        disclosure control: shown as "small count, not shown".
    areas
        Area layers by name, each with ``name`` and ``incidents`` (missing: blanked, as for
        hotspots; optional ``rate_per_1000``, ``change``, ``peak_month``, ``trend``,
        ``spark_svg``, ``top_hotspots``, ``significance``, ``peak_day``, ``day_p``,
        ``dow_rows``, ``peak_hour``, ``hour_p``, ``hour_rows``): one choropleth each, the
        first shown at start.
    density, density_grid
        The density surface (incidents per km², row 0 northmost, NaN outside) and its grid,
        shown as an image warped to Web Mercator with a colour-scale legend.
    gistar_cells
        Gi* cells with ``gi_bin`` (:attr:`hotspots.gistar.GiStarResult.classes`: +3/+2/+1
        hot at 99/95/90 %, -1/-2/-3 cold, 0 not drawn) and ``z``.
    repeat_locations
        ``x``, ``y`` (EPSG:27700), ``location``, ``incidents_total``, ``max_in_window``.
    incidents
        Points (``x``/``y`` or point geometry) with ``category``, ``location``, ``when``;
        clustered when there are at most ``max_markers``, otherwise left out with a note.
    monthly_hotspot_layers
        Hotspot polygons per season or month, by display name (one layer each).
    title, period, params, attribution
        Shown in the patrol panel; ``params`` as a table of the settings used.
    online_tiles
        Add an OpenStreetMap street layer (tiles fetched from the internet when the page
        is opened; offline the page works without them and says so). The pipeline turns
        it on by default (``[output] online_tiles``); False, here or with the CLI's
        ``--offline-map``, leaves no tile URL in the page.
    max_markers
        Most incidents drawn individually, and most repeat locations drawn (the busiest).
    patrol_plan, plan_note
        The patrol plan (:func:`hotspots.patrol.patrol_plan`: ``rank``,
        ``visits_per_week``, ``minutes_per_visit``, ``when``, ``expected_share``, ``note``)
        shown as the panel's first table and in each hotspot's popup, with a line of text
        saying how it was made. When ``hotspots`` has a boolean ``patrol`` column, the
        patrol hotspots are the ranked layer and the others a layer that is off at start.

    Returns
    -------
    folium.Map

    Examples
    --------
    >>> import shapely
    >>> sq = shapely.box(458000, 304000, 458300, 304300)
    >>> hot = gpd.GeoDataFrame({"rank": [1], "incidents": [40], "label": ["High St"]},
    ...                        geometry=[sq], crs=27700)
    >>> m = patrol_map(hotspots=hot, areas={}, title="Test", period="2025",
    ...                params={"cell_size_m": 50}, attribution="police.uk")
    >>> [c.layer_name for c in m.elements if hasattr(c, "layer_name")]
    ['Hotspots (ranked)']
    """
    hot = check_frame(hotspots, "hotspots", ("rank", "incidents"))
    hot = hot.sort_values("rank", kind="stable")
    if not isinstance(areas, dict):
        raise InputError(f"areas must be a dict of layer name to GeoDataFrame, got {type(areas)}")
    area_frames = {
        k: check_frame(v, f"areas[{k!r}]", ("name", "incidents")) for k, v in areas.items()
    }
    if (density is None) != (density_grid is None):
        raise InputError("density and density_grid must be given together")
    if not isinstance(max_markers, int) or max_markers < 0:
        raise InputError(f"max_markers must be a whole number >= 0, got {max_markers!r}")
    bounds = latlon_bounds([*area_frames.values(), hot])
    if bounds is None:
        raise InputError("nothing to map: hotspots and every area layer are empty")

    centre = [round((bounds[0][i] + bounds[1][i]) / 2, 6) for i in (0, 1)]
    m = PatrolMap(
        location=centre,
        tiles=None,
        zoom_start=12,
        control_scale=True,
        font_size="13px",
        maxZoom=19,
        zoomSnap=0.25,  # fit the force snugly beside the panel
    )
    set_page_title(m, esc(title))
    m.add_child(Setup(CSS))
    tiles = None
    if online_tiles:
        tiles = OnlineTiles(
            "OpenStreetMap", name=NAME_TILES, overlay=True, max_zoom=19, max_native_zoom=19
        )
        tiles.add_to(m)
    plan = _check_plan(patrol_plan)
    hot = _with_plan(hot, plan)
    patrol, others = _split_patrol(hot)
    notes: list[str] = []
    for i, (key, frame) in enumerate(area_frames.items()):
        m.add_child(area_layer(key, frame, show=i == 0))
    if density is not None and density_grid is not None:  # both or neither, checked above
        surface = density_layer(density, density_grid)
        if surface is None:
            notes.append("The density surface has no incidents to show.")
        else:
            m.add_child(surface)
    if gistar_cells is not None:
        layer, more = gistar_layer(gistar_cells)
        m.add_child(layer)
        notes += more
    palette = colormaps["tab10"]
    for i, (name, frame) in enumerate((monthly_hotspot_layers or {}).items()):
        m.add_child(seasonal_layer(str(name), frame, to_hex(palette(i % 10))))
    area_cols = _area_columns(hot, list(area_frames))
    if len(others):
        m.add_child(hotspot_layer(others, area_cols, name=NAME_OTHERS, show=False))
    hot_layer = hotspot_layer(patrol, area_cols)
    m.add_child(hot_layer)
    if repeat_locations is not None:
        layer, more = repeat_layer(repeat_locations, max_markers)
        m.add_child(layer)
        notes += more
    if incidents is not None:
        markers, more = incident_layer(incidents, max_markers)
        if markers is not None:
            m.add_child(markers)
        notes += more
    m.add_child(EscapedLayerControl(collapsed=False))
    if len(others):
        notes.append(
            f"{len(others):,} hotspots outside the patrol list are in the layer "
            f"“{NAME_OTHERS}” (off at the start)."
        )
    panel = panel_html(
        title=title,
        period=period,
        hot=patrol,
        area_cols=area_cols[:PANEL_AREA_COLUMNS],
        notes=[esc(n) for n in notes],
        params=params,
        attribution=attribution,
        plan=plan,
        plan_note=plan_note,
        tiles=tiles is not None,
    )
    m.add_child(
        Chrome(
            panel,
            hotspots=hot_layer,
            attribution=esc(attribution),
            bounds=bounds,
            tiles=tiles,
            street_zoom=STREET_ZOOM,
        )
    )
    return m


_PLAN_NEEDS = ("rank", "visits_per_week", "minutes_per_visit", "when")


def _check_plan(plan: object) -> pd.DataFrame | None:
    if plan is None:
        return None
    if not isinstance(plan, pd.DataFrame):
        raise InputError(f"patrol_plan must be a DataFrame, got {type(plan).__name__}")
    absent = [c for c in _PLAN_NEEDS if c not in plan.columns]
    if absent:
        raise InputError(f"patrol_plan lacks column(s) {absent}; it has {list(plan.columns)}")
    return plan.sort_values("rank", kind="stable")


def _with_plan(hot: gpd.GeoDataFrame, plan: pd.DataFrame | None) -> gpd.GeoDataFrame:
    """Hotspots with the plan's visits and times (``plan_*`` columns) for their popups."""
    if plan is None:
        return hot
    cols = {
        "visits_per_week": "plan_visits_per_week",
        "minutes_per_visit": "plan_minutes_per_visit",
        "when": "plan_when",
    }
    extra = plan[["rank", *cols]].rename(columns=cols).drop_duplicates("rank")
    merged = hot.merge(extra, on="rank", how="left")
    return gpd.GeoDataFrame(merged, geometry=hot.geometry.name, crs=hot.crs)


def _split_patrol(hot: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Patrol hotspots (``patrol`` true) and the others; all are patrol ones without it."""
    if "patrol" not in hot.columns:
        return hot, hot.iloc[:0]
    flag = hot["patrol"].fillna(False).astype(bool).to_numpy()
    if not flag.any():
        return hot, hot.iloc[:0]
    return hot[flag], hot[~flag]
