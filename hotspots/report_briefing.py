"""Printable patrol briefings: one self-contained HTML page per NPA that prints to A4.

Each page holds a static map of the area's patrol hotspots (numbered outlines over the
density, with beat boundaries and names, drawn by :func:`hotspots.report.static_map_png`
and embedded as a PNG), the patrol plan's rows for the area, the times to patrol, and how
to read it. No script, no external file: it opens and prints anywhere, offline.

The page is plain string building: every value from data goes through
:func:`html.escape`, and nothing from data is ever template source.
"""

from __future__ import annotations

import base64
import html
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.grid import Grid
from hotspots.patrol import NO_TIMES
from hotspots.report import static_map_png
from hotspots.schema import InputError, require_metric_crs

#: Around the area's hotspots, the printed map shows at least this much, in metres.
MIN_VIEW_M = 1500.0
VIEW_MARGIN_M = 400.0

CSS = """
@page { size: A4 portrait; margin: 12mm; }
body { font: 10.5pt/1.35 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  color: #111; max-width: 186mm; margin: 0 auto; padding: 8px; }
h1 { font-size: 15pt; margin: 0 0 2px; } h2 { font-size: 12pt; margin: 12px 0 4px; }
.sub { color: #444; margin: 0 0 8px; }
img.map { display: block; width: 100%; max-height: 135mm; object-fit: contain;
  border: 1px solid #999; }
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
  tr, img.map { break-inside: avoid; page-break-inside: avoid; }
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
    if areas_layer is not None and len(areas_layer):
        require_metric_crs(areas_layer.crs, "areas_layer")
        clipped = gpd.clip(areas_layer[["name", areas_layer.geometry.name]], view)
        clipped = clipped[~clipped.geometry.is_empty]
    else:
        clipped = gpd.GeoDataFrame({"name": []}, geometry=[], crs=hotspots.crs)
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
) -> str:
    """One briefing page (escaped HTML) for the patrol plan's rows of one area.

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
    img = (
        '<img class="map" alt="Map of the patrol hotspots" src="data:image/png;base64,'
        + base64.b64encode(map_png).decode("ascii")
        + '">'
        if map_png
        else "<p>No map: no hotspot geometry for this area.</p>"
    )
    streets = (
        "The printed map has no streets: no street data is held offline. The hotspot names "
        "give their streets; the interactive map (map.html) shows OpenStreetMap streets when "
        "opened with a network connection."
        if online_map
        else "The printed map has no streets: no street data is held offline, and this run "
        "was made with --offline-map. The hotspot names give their streets."
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
        f"{img}"
        "<h2>Where and when to patrol</h2>"
        "<table><thead><tr><th>#</th><th>Place</th><th>Beat</th><th>Visits a week</th>"
        "<th>When</th><th>Share</th><th>Incidents</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        "<h2>How to read this briefing</h2><ul>"
        "<li>Numbers on the map are the hotspots' priority ranks across the force; red "
        "outlines are the places to patrol, grey lines and names are beats (the box is "
        "the edge of the map). Where numbers crowd, use the list.</li>"
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
