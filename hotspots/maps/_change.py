"""The hotspot change map: two periods' hot and cold cells, hotspots and areas compared.

:func:`change_map` draws what ``hotspots change`` computed (:mod:`hotspots.change`) with
the patrol map's machinery: the same inert elements, panes, panel box, legend and
offline page (:func:`hotspots.maps.map_html`). Layers: the cells hot or cold in either
period coloured by their change class, the change hotspots outlined by status, and one
layer per area layer coloured by its S-index result; a panel gives the overall figures,
the hotspots by status and the rules. All text from data is HTML-escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.maps._elements import (
    Chrome,
    EscapedLayerControl,
    OnlineTiles,
    PatrolMap,
    ScriptLayer,
    Setup,
    js_json,
    set_page_title,
)
from hotspots.maps._geo import check_frame, display_geometry, feature, latlon_bounds
from hotspots.maps._panel import CSS, TILES_NOTE, legend_outline, legend_swatches
from hotspots.maps._polygons import (
    AREA_TOLERANCE_M,
    HOTSPOT_TOLERANCE_M,
    MAX_GISTAR_CELLS,
    _geojson_layer,
    _Styles,
)
from hotspots.maps._text import (
    HIDDEN_COUNT,
    area_title,
    as_number,
    count,
    esc,
    missing,
    p_text,
    param_text,
    shown_count,
    table,
)
from hotspots.schema import InputError

#: Change classes of a cell, in legend order, with their fill colours.
CHANGE_COLOURS = {
    "persistent hot": "#b2182b",
    "new hot": "#fd8d3c",
    "gone hot": "#fcc5c0",
    "cold to hot": "#c51b7d",
    "hot to cold": "#542788",
    "persistent cold": "#2166ac",
    "new cold": "#67a9cf",
    "gone cold": "#d1e5f0",
}
#: Hotspot status: (outline colour, dash pattern or "", legend text).
STATUS_STYLES = {
    "persistent": ("#7a0019", "", "some cell hot in both periods"),
    "shifted": ("#6a3d9a", "6 4", "moved to touching cells"),
    "new": ("#e6550d", "", "hot only after"),
    "gone": ("#525252", "4 4", "hot only before"),
}
#: S-index result of an area (``direction``): fill colour and legend text.
DIRECTION_COLOURS = {
    "similar": ("#d9d9d9", "similar share"),
    "higher share": ("#d6604d", "higher share after"),
    "lower share": ("#4393c3", "lower share after"),
}
NAME_CELLS = "Cells: change of hot and cold spots"
NAME_STATUS = "Hotspots: persistent, shifted, new, gone"
NAME_STUDY = "Study area"
#: Most hotspots listed in the panel (the map draws them all).
MAX_LISTED = 200

CHANGE_CSS = """
.hs-fig td { text-align: right; font-variant-numeric: tabular-nums; padding-left: 8px; }
.hs-fig th { font-weight: normal; }
.hs-fig tr.hs-main th, .hs-fig tr.hs-main td { font-weight: 600; }
.hs-rule { margin: 2px 0 4px; }
"""


def change_map(
    *,
    cells: gpd.GeoDataFrame,
    hotspots: gpd.GeoDataFrame,
    areas: Mapping[str, gpd.GeoDataFrame],
    similarity: Mapping[str, object],
    s_index: Mapping[str, Mapping[str, object]],
    rules: Mapping[str, str],
    title: str,
    period: str,
    params: Mapping[str, object],
    attribution: str,
    study_area: gpd.GeoDataFrame | None = None,
    notes: Sequence[str] = (),
    online_tiles: bool = False,
) -> folium.Map:
    """The map of how the hotspots changed between two periods.

    Everything is drawn from results already computed (EPSG:27700 in, simplified in
    metres, shown in EPSG:4326). Write it with :func:`map_html`.

    Parameters
    ----------
    cells
        ``HotspotChange.cells`` (as published): ``change``, ``similarity``, ``before``,
        ``after`` (a missing count is one blanked by disclosure control), optional
        ``before_class``, ``after_class``, ``hotspot_id``.
    hotspots
        ``HotspotChange.hotspots``: ``hotspot_id``, ``status``, ``cells``, ``before``,
        ``after``, optional ``persistent_cells``, ``new_cells``, ``gone_cells``,
        ``similarity``.
    areas
        Per area layer (key as ``change.csv``'s ``layer``): polygons with ``name`` and the
        S-index columns ``direction``, ``before``, ``after``, optional ``before_share``,
        ``after_share``, ``share_change``, ``p``, ``q``, ``interval_low``,
        ``interval_high``; coloured by ``direction``, the first layer shown at start.
    similarity
        The overall grid figures: ``similarity``, ``similarity_significant``,
        ``expected_similarity``, ``fuzzy_kappa`` (``FuzzySimilarity.params()``).
    s_index
        Per area layer, the summary of :func:`hotspots.change.s_index`.
    rules
        Headings and plain-text rules (the fuzzy measure, hotspot status, S-index…).
    title, period, params, attribution, notes
        Shown in the panel (``notes`` as plain text, escaped here).
    study_area
        Its outline, drawn when there is no area layer, and the view when nothing else
        is drawn.
    online_tiles
        Add OpenStreetMap street tiles (fetched when the page opens), as for the
        patrol map; False leaves no tile URL in the page.

    Examples
    --------
    >>> sq = shapely.box(458000, 304000, 458100, 304100)
    >>> cells = gpd.GeoDataFrame({"change": ["new hot"], "similarity": [0.5],
    ...     "before": [0], "after": [6], "hotspot_id": [1]}, geometry=[sq], crs=27700)
    >>> spots = gpd.GeoDataFrame({"hotspot_id": [1], "status": ["new"], "cells": [1],
    ...     "before": [0], "after": [6]}, geometry=[sq], crs=27700)
    >>> m = change_map(cells=cells, hotspots=spots, areas={}, similarity={}, s_index={},
    ...                rules={}, title="Change", period="2024 against 2025", params={},
    ...                attribution="police.uk")
    >>> [c.layer_name for c in m.elements if hasattr(c, "layer_name")]
    ['Cells: change of hot and cold spots', 'Hotspots: persistent, shifted, new, gone']
    """
    cells = check_frame(cells, "cells", ("change", "similarity", "before", "after"))
    spots = check_frame(hotspots, "hotspots", ("hotspot_id", "status", "cells"))
    spots = spots.assign(**{c: spots[c] if c in spots else np.nan for c in ("before", "after")})
    if not isinstance(areas, Mapping):
        raise InputError(f"areas must be a dict of layer name to GeoDataFrame, got {type(areas)}")
    area_frames = {
        str(k): check_frame(v, f"areas[{k!r}]", ("name", "direction", "before", "after"))
        for k, v in areas.items()
    }
    study = None if study_area is None else check_frame(study_area, "study_area")
    bounds = latlon_bounds(
        [*area_frames.values(), *([study] if study is not None else []), cells, spots]
    )
    if bounds is None:
        raise InputError("nothing to map: no cells, hotspots, areas or study area")
    centre = [round((bounds[0][i] + bounds[1][i]) / 2, 6) for i in (0, 1)]
    m = PatrolMap(
        location=centre,
        tiles=None,
        zoom_start=12,
        control_scale=True,
        font_size="13px",
        maxZoom=19,
        zoomSnap=0.25,
    )
    set_page_title(m, esc(title))
    m.add_child(Setup(CSS + CHANGE_CSS))
    tiles = None
    if online_tiles:
        tiles = OnlineTiles(
            "OpenStreetMap",
            name="OpenStreetMap (online)",
            overlay=True,
            max_zoom=19,
            max_native_zoom=19,
        )
        tiles.add_to(m)
    for i, (key, frame) in enumerate(area_frames.items()):
        m.add_child(s_index_layer(key, frame, show=i == 0))
    if study is not None and not area_frames and len(study):
        m.add_child(_study_layer(study))
    status = _status_of(spots)
    layer, more = change_cells_layer(cells, status)
    m.add_child(layer)
    spots = _ordered(spots)
    hot_layer = status_layer(spots)
    m.add_child(hot_layer)
    m.add_child(EscapedLayerControl(collapsed=False))
    panel = _panel(
        title=title,
        period=period,
        spots=spots,
        cells=cells,
        similarity=similarity,
        s_index=s_index,
        rules=rules,
        params=params,
        attribution=attribution,
        notes=[esc(n) for n in notes] + more,
        tiles=tiles is not None,
    )
    m.add_child(
        Chrome(
            panel,
            hotspots=hot_layer,
            attribution=esc(attribution),
            bounds=bounds,
            tiles=tiles,
        )
    )
    return m


def _status_of(spots: gpd.GeoDataFrame) -> dict[int, str]:
    return {
        int(i): str(s)
        for i, s in zip(spots["hotspot_id"], spots["status"], strict=True)
        if not missing(i)
    }


def _ordered(spots: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Hotspots by status (persistent, shifted, new, gone), larger first, then by id."""
    order = {s: i for i, s in enumerate(STATUS_STYLES)}
    key = pd.DataFrame(
        {
            "status": spots["status"].map(order).fillna(len(order)).to_numpy(),
            "cells": -pd.to_numeric(spots["cells"], errors="coerce").fillna(0).to_numpy(),
            "id": pd.to_numeric(spots["hotspot_id"], errors="coerce").to_numpy(),
        }
    )
    return spots.iloc[np.lexsort((key["id"], key["cells"], key["status"]))]


def _figure(value: object) -> str:
    """An overall figure to four significant digits ("not computed" when missing)."""
    if missing(value):
        return "not computed"
    v = as_number(value)
    if v is None:
        return esc(value)
    return "not computed" if not math.isfinite(v) else f"{v:.4g}"


def _cells(n: int) -> str:
    return f"{n:,} cell{'s' * (n != 1)}"


def _pct(value: object) -> str:
    v = as_number(value)
    return "" if v is None else f"{100 * v:.2f}%"


def _points(value: object) -> str:
    v = as_number(value)
    return "" if v is None else f"{100 * v:+.2f} points"


# --- layers ---------------------------------------------------------------------------------


def change_cells_layer(
    cells: gpd.GeoDataFrame, status: Mapping[int, str]
) -> tuple[ScriptLayer, list[str]]:
    """The cells hot or cold in either period, filled by change class (merged when many)."""
    cells = cells[cells["change"].isin(list(CHANGE_COLOURS))]
    notes: list[str] = []
    styles = _Styles()
    classes = [str(c) for c in cells["change"]]
    if len(cells) > MAX_GISTAR_CELLS:
        notes.append(f"{len(cells):,} changed cells are drawn merged by class.")
        present = [c for c in CHANGE_COLOURS if c in set(classes)]
        geoms = cells.geometry.to_numpy()
        merged = [shapely.union_all(geoms[[k == c for k in classes]]) for c in present]
        frame = gpd.GeoDataFrame(geometry=merged, crs=cells.crs)
        shown = display_geometry(frame, tolerance_m=1.0)
        features = [
            feature(g, {"s": styles(_cell_style(c)), "k": "cell", "t": f"<b>{esc(c)}</b>"})
            for g, c in zip(shown, present, strict=True)
        ]
    else:
        shown = display_geometry(cells, tolerance_m=1.0)
        features = [
            feature(
                g,
                {"s": styles(_cell_style(c)), "k": "cell", "t": _cell_tooltip(row, status)},
            )
            for g, c, row in zip(shown, classes, cells.to_dict("records"), strict=True)
        ]
    tally = pd.Series(classes, dtype=object).value_counts()
    items = [
        (colour, f"{esc(name)} ({_cells(int(tally.get(name, 0)))})")
        for name, colour in CHANGE_COLOURS.items()
    ]
    legend = legend_swatches("Cells: before → after", items)
    layer = _geojson_layer(features, styles, "hs-gistar", name=NAME_CELLS, show=True, legend=legend)
    return layer, notes


def _cell_style(change: str) -> dict:
    colour = CHANGE_COLOURS[change]
    return {"color": colour, "weight": 0.5, "fillColor": colour, "fillOpacity": 0.7}


def _cell_tooltip(row: Mapping, status: Mapping[int, str]) -> str:
    classes = ""
    if not missing(row.get("before_class")) and not missing(row.get("after_class")):
        classes = f"{esc(row['before_class'])} → {esc(row['after_class'])}"
    hid = as_number(row.get("hotspot_id"))
    spot = ""
    if hid is not None and hid > 0:
        spot = f"hotspot {int(hid)}" + (f" ({esc(status[int(hid)])})" if int(hid) in status else "")
    lines = [
        f"<b>{esc(row['change']).capitalize()}</b>",
        classes,
        f"incidents before {shown_count(row['before'])}, after {shown_count(row['after'])}",
        f"similarity {_figure(row['similarity'])}",
        spot,
    ]
    return "<br>".join(t for t in lines if t)


def status_layer(spots: gpd.GeoDataFrame) -> ScriptLayer:
    """Hotspot outlines by status, with a tooltip and a popup each (``rank`` = id)."""
    geoms = display_geometry(spots, tolerance_m=HOTSPOT_TOLERANCE_M)
    styles, features = _Styles(), []
    for g, row in zip(geoms, spots.to_dict("records"), strict=True):
        colour, dash, _ = STATUS_STYLES.get(str(row["status"]), ("#000000", "", ""))
        style = {"color": colour, "weight": 3, "fill": False}
        if dash:
            style["dashArray"] = dash
        features.append(
            feature(
                g,
                {
                    "s": styles(style),
                    "k": "hotspot",
                    "rank": int(row["hotspot_id"]),
                    "t": _spot_tooltip(row),
                    "p": _spot_popup(row),
                },
            )
        )
    data = {"type": "FeatureCollection", "features": features}
    js = (
        "(function () {"
        f" var geo = hsGeoJson({js_json(data)}, {js_json(styles.items)}, 'hs-hotspots');"
        " var g = L.featureGroup([geo]); g.hsGeo = geo; return g; })()"
    )
    tally = spots["status"].astype(str).value_counts()
    legend = "<b>Hotspots (touching hot cells)</b>" + "".join(
        f'<div><span class="hs-sw" style="border:2px {"dashed" if dash else "solid"} '
        f'{colour};background:none"></span>{status} ({int(tally.get(status, 0)):,}): '
        f"{text}</div>"
        for status, (colour, dash, text) in STATUS_STYLES.items()
    )
    return ScriptLayer(js, name=NAME_STATUS, show=True, legend=legend)


def _spot_title(row: Mapping) -> str:
    return f"Hotspot {int(row['hotspot_id'])} · {esc(row['status'])}"


def _spot_tooltip(row: Mapping) -> str:
    return (
        f"<b>{_spot_title(row)}</b><br>incidents before {shown_count(row['before'])}, "
        f"after {shown_count(row['after'])}"
    )


def _spot_popup(row: Mapping) -> str:
    rows = [
        ("Status", esc(row["status"])),
        ("Cells", count(row.get("cells"))),
        ("Hot in both", count(row.get("persistent_cells"))),
        ("Hot only after (new)", count(row.get("new_cells"))),
        ("Hot only before (gone)", count(row.get("gone_cells"))),
        ("Incidents before", shown_count(row["before"])),
        ("Incidents after", shown_count(row["after"])),
        ("Mean similarity", "" if missing(row.get("similarity")) else _figure(row["similarity"])),
    ]
    return f'<div class="hs-pop"><h4>{_spot_title(row)}</h4>{table(rows)}</div>'


def s_index_layer(key: str, frame: gpd.GeoDataFrame, *, show: bool) -> ScriptLayer:
    """The areas of one layer filled by their S-index result (``direction``)."""
    geoms = display_geometry(frame, tolerance_m=AREA_TOLERANCE_M, coverage=True)
    styles, features = _Styles(), []
    for g, row in zip(geoms, frame.to_dict("records"), strict=True):
        fill, text = DIRECTION_COLOURS.get(str(row["direction"]), ("#ffffff", "not tested"))
        style = {"color": "#555555", "weight": 1, "fillColor": fill, "fillOpacity": 0.45}
        p = p_text(row.get("p"))
        tip = f"<b>{area_title(key)} {esc(row['name'])}</b><br>{text}" + (f" ({p})" if p else "")
        features.append(
            feature(g, {"s": styles(style), "k": "area", "t": tip, "p": _area_popup(row, key)})
        )
    tally = frame["direction"].astype(str).value_counts()
    items = [
        (fill, f"{text} ({int(tally.get(d, 0)):,})")
        for d, (fill, text) in DIRECTION_COLOURS.items()
    ]
    name = f"{area_title(key)}: S-index result"
    return _geojson_layer(
        features, styles, "hs-areas", name=name, show=show, legend=legend_swatches(name, items)
    )


def _area_popup(row: Mapping, key: str) -> str:
    low, high = row.get("interval_low"), row.get("interval_high")
    interval = "" if missing(low) or missing(high) else f"{_pct(low)} – {_pct(high)}"
    hidden = missing(row["before"]) or missing(row["after"])
    rows = [
        ("Result", esc(DIRECTION_COLOURS.get(str(row["direction"]), ("", row["direction"]))[1])),
        ("Incidents before", shown_count(row["before"])),
        ("Incidents after", shown_count(row["after"])),
        ("Share before", HIDDEN_COUNT if hidden else _pct(row.get("before_share"))),
        ("Share after", HIDDEN_COUNT if hidden else _pct(row.get("after_share"))),
        ("Change of share", "" if hidden else _points(row.get("share_change"))),
        ("Test", p_text(row.get("p"))),
        ("FDR-adjusted", p_text(row.get("q"))),
        ("Resampled after shares (95%)", interval),
    ]
    return f'<div class="hs-pop"><h4>{area_title(key)} {esc(row["name"])}</h4>{table(rows)}</div>'


def _study_layer(study: gpd.GeoDataFrame) -> ScriptLayer:
    geoms = display_geometry(study, tolerance_m=AREA_TOLERANCE_M)
    styles = _Styles()
    style = styles({"color": "#555555", "weight": 1.5, "fill": False, "dashArray": "5 4"})
    features = [feature(g, {"s": style}) for g in geoms]
    return _geojson_layer(
        features,
        styles,
        "hs-areas",
        name=NAME_STUDY,
        show=True,
        legend=legend_outline(NAME_STUDY, "#555555", "the area compared"),
    )


# --- panel ----------------------------------------------------------------------------------


def _figures_table(similarity: Mapping, s_index: Mapping[str, Mapping]) -> str:
    rows = [
        (
            "hs-main",
            "Fuzzy similarity, hot and cold cells",
            similarity.get("similarity_significant"),
        ),
        ("", "Fuzzy similarity, whole study area", similarity.get("similarity")),
        ("", "Expected by chance", similarity.get("expected_similarity")),
        ("hs-main", "Fuzzy kappa", similarity.get("fuzzy_kappa")),
    ]
    body = "".join(
        f'<tr class="{cls}"><th>{label}</th><td>{_figure(v)}</td></tr>' for cls, label, v in rows
    )
    for layer, s in s_index.items():
        similar, n = s.get("similar_areas"), s.get("areas")
        of = f" ({count(similar)} of {count(n)} areas similar)" if not missing(n) else ""
        body += (
            f'<tr class="hs-main"><th>S-index, {area_title(str(layer))}'
            f"{esc(of)}</th><td>{_figure(s.get('s_index'))}</td></tr>"
        )
        if not missing(s.get("s_index_robust")):
            body += (
                f"<tr><th>S-index, {area_title(str(layer))}, areas with incidents</th>"
                f"<td>{_figure(s.get('s_index_robust'))}</td></tr>"
            )
    if not s_index:
        body += "<tr><th>S-index</th><td>no area layers</td></tr>"
    return f'<table class="hs-kv hs-fig">{body}</table>'


def _spot_table(spots: gpd.GeoDataFrame) -> str:
    rows = []
    for r in spots.head(MAX_LISTED).to_dict("records"):
        hid = int(r["hotspot_id"])
        rows.append(
            f'<tr data-rank="{hid}" tabindex="0"><td class="n">{hid}</td>'
            f'<td>{esc(r["status"])}</td><td class="n">{count(r["cells"])}</td>'
            f'<td class="n">{count(r["before"]) or "–"}</td>'
            f'<td class="n">{count(r["after"]) or "–"}</td></tr>'
        )
    head = "".join(f"<th>{h}</th>" for h in ("#", "Status", "Cells", "Before", "After"))
    more = (
        f'<div class="hs-sub">The first {MAX_LISTED:,} of {len(spots):,} are listed; the map '
        "shows all.</div>"
        if len(spots) > MAX_LISTED
        else ""
    )
    return (
        f'<div class="hs-scroll"><table class="hs-list"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{more}"
    )


def _panel(
    *,
    title: str,
    period: str,
    spots: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    similarity: Mapping,
    s_index: Mapping[str, Mapping],
    rules: Mapping[str, str],
    params: Mapping[str, object],
    attribution: str,
    notes: Sequence[str],
    tiles: bool,
) -> str:
    note_html = "".join(f'<div class="hs-note">{n}</div>' for n in notes)
    if tiles:
        note_html += (
            f'<div class="hs-note" id="hs-tiles-note" style="display:none">{TILES_NOTE}</div>'
        )
    tally = spots["status"].astype(str).value_counts()
    status_line = ", ".join(f"{int(tally.get(s, 0)):,} {s}" for s in STATUS_STYLES)
    if len(spots):
        listed = (
            f"<h3>Hotspots: {status_line}</h3><div>Click a row to zoom to the hotspot.</div>"
            + _spot_table(spots)
        )
    else:
        listed = "<p>No cell is hot in either period: no hotspots to compare.</p>"
    if not len(cells):
        listed += "<p>No cell is hot or cold in either period.</p>"
    rule_html = "".join(
        f'<div class="hs-rule"><b>{esc(k)}</b>: {esc(v)}</div>' for k, v in rules.items()
    )
    param_rows = "".join(
        f"<tr><th>{esc(k)}</th><td>{param_text(v)}</td></tr>" for k, v in params.items()
    )
    streets = (
        "<li>Streets come from OpenStreetMap tiles, fetched when the page opens; without a "
        "network everything else still works.</li>"
        if tiles
        else "<li>This copy has no street map (offline_map).</li>"
    )
    return (
        '<div id="hs-panel" class="hs-box"><details open>'
        f'<summary><b>{esc(title)}</b> <span class="hs-period">{esc(period)}</span></summary>'
        f"{note_html}<h3>Overall similarity (1 = the same map)</h3>"
        f"{_figures_table(similarity, s_index)}{listed}"
        "<details><summary>How to read this map</summary><ul>"
        "<li>Filled squares are grid cells hot or cold (Gi*) in either period, coloured by "
        "what they were before and after: dark red hot in both, orange newly hot, pale "
        "pink hot before only; blues the same for cold spots.</li>"
        "<li>Outlines are hotspots (touching cells hot in either period), by status; click "
        "one, or a row above, for its details.</li>"
        "<li>Shaded areas show the S-index result: grey where the area kept its share of "
        "incidents, red where its share rose, blue where it fell.</li>"
        "<li>Fuzzy similarity is 1 for identical maps and gives part credit to a class "
        "found in a nearby cell; fuzzy kappa corrects it for chance (0: no better than "
        "chance). The S-index is the share of areas that kept their share.</li>"
        f"{streets}"
        "<li>Use the layer list (top right) to switch layers on and off.</li>"
        "</ul></details>"
        f"<details><summary>Rules</summary>{rule_html}</details>"
        f'<details><summary>Method and parameters</summary><table class="hs-kv">{param_rows}'
        "</table></details>"
        f'<div class="hs-src">Source: {esc(attribution)}</div>'
        "</details></div>"
    )
