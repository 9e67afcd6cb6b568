"""Printable patrol briefings: one self-contained HTML page per NPA that prints to A4.

Each page holds a map of the area's patrol hotspots, the patrol plan's rows for the area,
the times to patrol, and how to read it. The map is in two parts:

- a street map (Leaflet, inlined from ``hotspots/_data/web``) with OpenStreetMap tiles, the
  numbered hotspot outlines and the beat boundaries, fitted to the hotspots. It is the only
  thing the page fetches (tiles, when the reader is online) and is left out entirely, with
  its script, when the run has no online tiles (``--offline-map``);
- the static outline map (a PNG from :func:`hotspots.report.static_map_png`: numbered
  outlines, beat boundaries and names, scale bar), always embedded. It shows, on screen
  and in print, whenever the street map does not: no script, no network, tiles blocked, or
  no tile loaded within :data:`TILE_WAIT_MS`. Once a street tile loads, the street map
  replaces it.

The page is plain string building: every value from data goes through
:func:`html.escape`, nothing from data is ever template source, and the only data inside a
``<script>`` is JSON (:func:`script_json`, ``<`` escaped) read with ``JSON.parse``; the
script itself is a constant, and it puts labels on the map as text nodes, never as HTML.
"""

from __future__ import annotations

import base64
import html
import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots._validation import require_metric_crs
from hotspots.grid import Grid
from hotspots.maps import leaflet_css, leaflet_js
from hotspots.patrol import NO_TIMES
from hotspots.report import static_map_png
from hotspots.schema import CRS_WGS84, InputError

#: Around the area's hotspots, the printed map shows at least this much, in metres.
MIN_VIEW_M = 1500.0
VIEW_MARGIN_M = 400.0
#: Street tiles of the briefing's street map (the same as map.html's).
TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
TILE_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)
#: The street map gives way to the outline map when no tile has loaded by then.
TILE_WAIT_MS = 6000
#: Display geometry: simplified by this much (metres), coordinates to 6 decimals (~0.1 m).
SIMPLIFY_M = 2.0

CSS = """
@page { size: A4 portrait; margin: 12mm; }
body { font: 10.5pt/1.35 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  color: #111; max-width: 186mm; margin: 0 auto; padding: 8px; }
h1 { font-size: 15pt; margin: 0 0 2px; } h2 { font-size: 12pt; margin: 12px 0 4px; }
.sub { color: #444; margin: 0 0 8px; }
img.map { display: block; width: 100%; max-height: 135mm; object-fit: contain;
  border: 1px solid #999; }
.live { margin: 0; } .live[hidden] { display: none; }
.live-map { width: 100%; height: 130mm; border: 1px solid #999; background: #f4f4f0; }
body.hs-live img.map, body.hs-live .png-note { display: none; }
.hs-badge { background: #c0392b; color: #fff; border: 1.5px solid #fff; border-radius: 50%;
  font: bold 11px/19px system-ui, Arial, sans-serif; text-align: center;
  box-shadow: 0 0 2px rgba(0, 0, 0, .6); }
.leaflet-container .leaflet-control-attribution { font-size: 8pt; }
table { border-collapse: collapse; width: 100%; font-size: 9.5pt; }
th, td { border-bottom: 1px solid #bbb; padding: 3px 4px; text-align: left; vertical-align: top; }
th { background: #eee; }
td.n { text-align: right; white-space: nowrap; }
.note { color: #7a3b00; font-size: 9pt; }
.small { font-size: 8.5pt; color: #444; }
ul { margin: 4px 0; padding-left: 18px; }
@media print {
  body { padding: 0; max-width: none; }
  thead { display: table-header-group; }
  tr, img.map, .live { break-inside: avoid; page-break-inside: avoid; }
  .leaflet-control-zoom { display: none; }
  .live-map { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { break-after: avoid; page-break-after: avoid; }
}
"""


def esc(value: object) -> str:
    """HTML-escaped text of a value ("" for missing).

    Examples
    --------
    >>> esc("<b>x</b>"), esc(float("nan")), esc(None)
    ('&lt;b&gt;x&lt;/b&gt;', '', '')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value is pd.NA or value is pd.NaT:
        return ""
    return html.escape(str(value), quote=True)


def plain_text(value: object) -> str:
    """The text of a value, unescaped ("" for missing): for JSON read as text by a script.

    Examples
    --------
    >>> plain_text("<b>x</b>"), plain_text(float("nan")), plain_text(pd.NA)
    ('<b>x</b>', '', '')
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return str(value)


def _share(value: object) -> str:
    v = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    if pd.isna(v):
        return ""
    v = 100 * float(v)
    return f"{v:.1f}%" if v >= 0.95 else f"{v:.2f}%"


def _count(value: object) -> str:
    v = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return "small count" if pd.isna(v) else f"{int(round(float(v))):,}"


def _view(hotspots: gpd.GeoDataFrame) -> shapely.Polygon:
    """A square-ish box around the hotspots, with a margin, at least :data:`MIN_VIEW_M`."""
    x0, y0, x1, y1 = hotspots.total_bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half_w = max((x1 - x0) / 2 + VIEW_MARGIN_M, MIN_VIEW_M / 2)
    half_h = max((y1 - y0) / 2 + VIEW_MARGIN_M, MIN_VIEW_M / 2)
    return shapely.box(cx - half_w, cy - half_h, cx + half_w, cy + half_h)


def _beats_in_view(
    hotspots: gpd.GeoDataFrame, areas_layer: gpd.GeoDataFrame | None, view: shapely.Polygon
) -> gpd.GeoDataFrame:
    """The area layer's ``name`` and boundaries clipped to ``view`` (empty without a layer)."""
    if areas_layer is not None and len(areas_layer):
        require_metric_crs(areas_layer.crs, "areas_layer")
        clipped = gpd.clip(areas_layer[["name", areas_layer.geometry.name]], view)
        return clipped[~clipped.geometry.is_empty]
    return gpd.GeoDataFrame({"name": []}, geometry=[], crs=hotspots.crs)


def briefing_map_png(
    *,
    hotspots: gpd.GeoDataFrame,
    areas_layer: gpd.GeoDataFrame | None,
    density: np.ndarray | None,
    density_grid: Grid | None,
    title: str,
    attribution: str,
) -> bytes:
    """The area's patrol hotspots, numbered, with the beat boundaries clipped to a box
    around them (so the map is at patrol scale, not the whole NPA)."""
    require_metric_crs(hotspots.crs, "hotspots")
    view = _view(hotspots)
    clipped = _beats_in_view(hotspots, areas_layer, view)
    frame = gpd.GeoDataFrame({"name": [""]}, geometry=[view.boundary], crs=hotspots.crs)
    layer = pd.concat([clipped, frame], ignore_index=True) if len(clipped) else frame
    return static_map_png(
        hotspots=hotspots,
        areas_layer=gpd.GeoDataFrame(layer, geometry=layer.geometry.name, crs=hotspots.crs),
        density=density,
        density_grid=density_grid,
        title=title,
        attribution=attribution,
    )


def script_json(obj: object) -> str:
    """JSON that is safe as the text of a ``<script>`` element: every ``<`` is escaped, so
    neither ``</script>`` nor ``<!--`` can occur.

    Examples
    --------
    >>> script_json({"label": "</script><script>alert(1)</script>"})
    '{"label":"\\\\u003c/script>\\\\u003cscript>alert(1)\\\\u003c/script>"}'
    """
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _display(geoms: gpd.GeoSeries) -> list[dict]:
    """GeoJSON geometries in EPSG:4326, simplified in metres and rounded to 6 decimals."""
    simple = shapely.simplify(geoms.to_numpy(), SIMPLIFY_M, preserve_topology=True)
    out = gpd.GeoSeries(simple, crs=geoms.crs).to_crs(CRS_WGS84).to_numpy()
    out = shapely.transform(out, lambda c: np.round(c, 6))
    return [shapely.geometry.mapping(g) for g in out]


def live_map_data(
    hotspots: gpd.GeoDataFrame,
    areas_layer: gpd.GeoDataFrame | None,
    labels: dict[int, str],
) -> dict:
    """What the street map draws: the hotspot outlines (rank, label, badge position) and the
    beat boundaries in the printed map's box, in longitude/latitude.

    Examples
    --------
    >>> hot = gpd.GeoDataFrame({"rank": [3]}, geometry=[shapely.box(458000, 304000,
    ...     458200, 304200)], crs=27700)
    >>> d = live_map_data(hot, None, {3: "High St"})
    >>> d["hotspots"][0]["rank"], d["hotspots"][0]["label"], d["beats"]
    (3, 'High St', [])
    """
    require_metric_crs(hotspots.crs, "hotspots")
    hot = hotspots[~(hotspots.geometry.isna() | hotspots.geometry.is_empty)]
    hot = hot.sort_values("rank", kind="stable")
    pts = gpd.GeoSeries(hot.geometry.representative_point(), crs=hot.crs).to_crs(CRS_WGS84)
    spots = [
        {
            "rank": int(rank),
            "label": str(labels.get(int(rank), "")),
            "at": [round(float(p.y), 6), round(float(p.x), 6)],
            "geometry": g,
        }
        for rank, p, g in zip(hot["rank"], pts, _display(hot.geometry), strict=True)
    ]
    beats = []
    if len(hot):
        clipped = _beats_in_view(hot, areas_layer, _view(hot))
        beats = [
            {"name": "" if pd.isna(n) else str(n), "geometry": g}
            for n, g in zip(clipped["name"], _display(clipped.geometry.boundary), strict=True)
        ]
    return {"hotspots": spots, "beats": beats}


#: The street map's script: a constant (no data in it); the data is the JSON block.
LIVE_JS = """
(function () {
  var box = document.getElementById('hs-live');
  var src = document.getElementById('hs-live-data');
  if (!box || !src || typeof L === 'undefined') { return; }
  var data = JSON.parse(src.textContent);
  box.hidden = false;
  var map = L.map(box.querySelector('.live-map'), {zoomSnap: 0.25, scrollWheelZoom: false});
  L.control.scale({imperial: false}).addTo(map);
  var loaded = 0, gaveUp = false;
  function fallBack() {
    // No street tile: the outline map (always in the page) is the briefing's map.
    if (loaded || gaveUp) { return; }
    gaveUp = true;
    box.hidden = true;  // not map.remove(): Leaflet may still be finishing a tile event
  }
  var tiles = L.tileLayer(TILE_URL, {maxZoom: 19, attribution: TILE_ATTRIBUTION});
  tiles.on('tileload', function () {
    if (gaveUp) { return; }
    loaded += 1;
    document.body.classList.add('hs-live');
  });
  tiles.on('load', function () { if (!loaded) { fallBack(); } });
  tiles.addTo(map);
  window.setTimeout(fallBack, TILE_WAIT_MS);
  function text(value) {
    var el = document.createElement('span');
    el.textContent = value;
    return el;
  }
  data.beats.forEach(function (b) {
    var line = L.geoJSON(b.geometry, {
      interactive: true, style: {color: '#555', weight: 1.5, dashArray: '5 4', fill: false}
    }).addTo(map);
    if (b.name) { line.bindTooltip(text('Beat ' + b.name), {sticky: true}); }
  });
  var outlines = L.featureGroup().addTo(map);
  data.hotspots.forEach(function (h) {
    var shape = L.geoJSON(h.geometry, {
      style: {color: '#c0392b', weight: 2.5, fillColor: '#c0392b', fillOpacity: 0.12}
    });
    shape.bindTooltip(text('#' + h.rank + ' ' + h.label), {sticky: true});
    outlines.addLayer(shape);
  });
  data.hotspots.forEach(function (h) {
    L.marker(h.at, {
      interactive: false, keyboard: false, zIndexOffset: 100000 - 1000 * h.rank,  // best on top
      icon: L.divIcon({className: 'hs-badge', html: text(String(h.rank)), iconSize: [22, 22]})
    }).addTo(map);
  });
  if (data.hotspots.length) {
    map.fitBounds(outlines.getBounds(), {padding: [30, 30], maxZoom: 17});
  }
  window.addEventListener('beforeprint', function () { map.invalidateSize(false); });
})();
"""


def live_map_html(data: dict) -> str:
    """The street map's part of the page: Leaflet inline, the data as JSON, the script.

    The box starts ``hidden`` (a page without script shows only the outline map); the
    script shows it, and hides it again when no tile loads.
    """
    js = (
        LIVE_JS.replace("TILE_URL", json.dumps(TILE_URL))
        .replace("TILE_ATTRIBUTION", json.dumps(TILE_ATTRIBUTION))
        .replace("TILE_WAIT_MS", str(int(TILE_WAIT_MS)))
    )
    return (
        f"<style>{leaflet_css()}</style>"
        '<figure class="live" id="hs-live" hidden><div class="live-map" role="img" '
        'aria-label="Street map of the patrol hotspots"></div></figure>'
        f'<script type="application/json" id="hs-live-data">{script_json(data)}</script>'
        f"<script>{leaflet_js()}</script><script>{js}</script>"
    )


def briefing_html(
    *,
    area_name: str,
    area_kind: str,
    plan: pd.DataFrame,
    map_png: bytes | None,
    title: str,
    period: str,
    plan_note: str,
    attribution: str,
    online_map: bool,
    hotspots: gpd.GeoDataFrame | None = None,
    areas_layer: gpd.GeoDataFrame | None = None,
) -> str:
    """One briefing page (escaped HTML) for the patrol plan's rows of one area.

    With ``online_map`` and the area's ``hotspots`` (polygons with ``rank``, EPSG:27700),
    the page adds the street map (OpenStreetMap tiles, the hotspots numbered and named as
    in the list, ``areas_layer``'s boundaries); ``map_png`` is its fallback, and the whole
    map when ``online_map`` is false (no script and no tile URL in the page then).

    Examples
    --------
    >>> plan = pd.DataFrame({"rank": [1], "label": ["<b>High St</b>"], "beat": ["B1"],
    ...     "visits_per_week": [14], "minutes_per_visit": [15.0], "when": ["Sat; 20:00–24:00"],
    ...     "expected_share": [0.012], "incidents": [40], "note": [""]})
    >>> page = briefing_html(area_name="City", area_kind="NPA", plan=plan, map_png=None,
    ...     title="T", period="2025", plan_note="rule", attribution="police.uk",
    ...     online_map=True)
    >>> "&lt;b&gt;High St&lt;/b&gt;" in page, "<b>High St</b>" in page, "<script" in page
    (True, False, False)
    """
    if not isinstance(plan, pd.DataFrame) or "rank" not in plan.columns:
        raise InputError("plan must be a patrol plan DataFrame with 'rank'")
    rows = []
    for r in plan.sort_values("rank", kind="stable").to_dict("records"):
        visits = int(r.get("visits_per_week") or 0)
        minutes = float(r.get("minutes_per_visit") or 0)
        dose = f"{visits} × {minutes:g} min" if visits else "not visited"
        note = esc(r.get("note"))
        basis = esc(r.get("when_basis"))
        when_text = str(r.get("when") or "").replace(NO_TIMES, "")  # said once, below
        when = esc(when_text) + (f'<div class="small">{basis}</div>' if basis else "")
        place = esc(r.get("label")) or esc(r.get("hotspot_id"))
        if note:
            place += f'<div class="note">&#9888; {note}</div>'
        rows.append(
            "<tr>"
            f'<td class="n">{int(r["rank"])}</td><td>{place}</td><td>{esc(r.get("beat"))}</td>'
            f'<td class="n">{dose}</td><td>{when}</td>'
            f'<td class="n">{_share(r.get("expected_share"))}</td>'
            f'<td class="n">{_count(r.get("incidents"))}</td>'
            "</tr>"
        )
    total_h = float(pd.to_numeric(plan.get("hours_per_week", pd.Series(dtype=float))).sum())
    total_share = pd.to_numeric(plan.get("expected_share", pd.Series(dtype=float))).sum()
    live = ""
    if online_map and hotspots is not None and len(hotspots):
        labels = {
            int(r["rank"]): str(plain_text(r.get("label")) or plain_text(r.get("hotspot_id")))
            for r in plan.to_dict("records")
        }
        live = live_map_html(live_map_data(hotspots, areas_layer, labels))
    img = (
        '<img class="map" id="hs-png" alt="Outline map of the patrol hotspots" '
        'src="data:image/png;base64,' + base64.b64encode(map_png).decode("ascii") + '">'
        if map_png
        else "<p>No map: no hotspot geometry for this area.</p>"
    )
    if live and map_png:
        img += (
            '<p class="small png-note">Outline map: the street map could not be shown '
            "(no network, or map tiles blocked here). The place names in the list give "
            "the streets.</p>"
        )
    streets = (
        "The map shows OpenStreetMap streets under the hotspots when the page is opened "
        "with a network connection, and prints with them once they have loaded. Without "
        "a network (or where tiles are blocked) it shows the outline map instead: no street "
        "data is held offline, so the place names in the list give the streets."
        if live
        else "The map has no streets: no street data is held offline"
        + (", and this run was made with --offline-map" if not online_map else "")
        + ". The place names in the list give the streets."
    )
    heading = f"{esc(area_kind)} {esc(area_name)}" if area_kind else esc(area_name)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Patrol briefing: {heading}</title><style>{CSS}</style></head><body>"
        f"<h1>Patrol briefing: {heading}</h1>"
        f'<p class="sub">{esc(title)} · {esc(period)} · {len(plan)} patrol hotspot'
        f"{'s' * (len(plan) != 1)}, {total_h:g} hours a week, "
        f"{_share(total_share)} of all incidents</p>"
        f"{live}{img}"
        "<h2>Where and when to patrol</h2>"
        "<table><thead><tr><th>#</th><th>Place</th><th>Beat</th><th>Visits a week</th>"
        "<th>When</th><th>Share</th><th>Incidents</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        "<h2>How to read this briefing</h2><ul>"
        "<li>Numbers on the map are the hotspots' priority ranks across the force, the "
        "same as # in the list; red outlines are the places to patrol, grey lines are beat "
        "boundaries (on the outline map, with the beat names; its box is the edge of the "
        "map). Where numbers crowd, use the list.</li>"
        "<li><b>Visits a week</b>: short visits spread over the week at unpredictable "
        "times, each of the minutes shown (about 15: Koper 1995 found the deterrent effect "
        "grows up to 14–15 minutes and little after). Stay on foot and visible.</li>"
        "<li><b>When</b>: the peak days and hours where the data has dates and times; "
        "police.uk data has months only, so it gives the peak months (any day and time: "
        "spread the visits) and cannot say which hours. The small line says what the "
        "peak rests on and its p-value (below 0.05: a clear peak).</li>"
        "<li><b>Share</b>: the share of all the period's incidents that happened in the "
        "hotspot.</li>"
        "<li>A &#9888; note means the incidents may be recorded at one address (a police "
        "station, custody suite or hospital, or one map point): check before patrolling.</li>"
        f"<li>{streets}</li>"
        "</ul>"
        f'<p class="small">{esc(plan_note)}</p>'
        f'<p class="small">Source: {esc(attribution)}</p>'
        "</body></html>\n"
    )
