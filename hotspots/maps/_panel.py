"""The patrol panel, legend sections and page CSS (escaped HTML strings)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from hotspots.maps._raster import palette_alpha
from hotspots.maps._text import (
    area_title,
    as_number,
    count,
    esc,
    month_name,
    number,
    p_text,
    param_text,
    trend_html,
)

HOTSPOT_LINE = "#7a0019"
HOTSPOT_FILL = "#e31a1c"

CSS = """
.leaflet-container { background: #eef0ea;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
.hs-box { background: rgba(255,255,255,.95); color: #222;
  border-radius: 6px; box-shadow: 0 1px 5px rgba(0,0,0,.4); font-size: 12px;
  line-height: 1.35; font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial,
  sans-serif; padding: 6px 10px; }
#hs-panel { position: fixed; z-index: 1000; top: 10px; left: 54px;
  width: clamp(400px, 32vw, 560px); max-width: calc(100vw - 130px); box-sizing: border-box;
  max-height: calc(100vh - 40px); overflow-y: auto; overflow-x: hidden; }
#hs-panel > details > summary { cursor: pointer; font-size: 14px; }
#hs-panel h3 { font-size: 12px; margin: 8px 0 2px; }
.hs-period { font-size: 12px; color: #444; font-weight: normal; }
.hs-scroll { max-height: 40vh; overflow-y: auto; overflow-x: hidden; }
table.hs-list { border-collapse: collapse; width: 100%; margin-top: 4px; }
.hs-list td, .hs-list th { overflow-wrap: anywhere; }
.hs-list td.n, .hs-list td.nw, .hs-list th { white-space: nowrap; overflow-wrap: normal; }
.hs-sub { color: #666; font-size: 10.5px; }
.hs-warn { color: #8a4b00; }
.hs-up { color: #b2182b; font-weight: bold; } .hs-down { color: #2166ac; font-weight: bold; }
.hs-list thead th { position: sticky; top: 0; background: #fff; }
.hs-list { font-size: 11.5px; }
.hs-list th, .hs-list td { padding: 2px 3px; border-bottom: 1px solid #ddd; text-align: left;
  vertical-align: top; }
.hs-list td.n { text-align: right; }
.hs-list tbody tr { cursor: pointer; }
.hs-list tbody tr:hover, .hs-list tbody tr:focus { background: #fde0dd; outline: none; }
.hs-note { background: #fff3cd; padding: 4px 6px; border-radius: 4px; margin: 4px 0; }
.hs-src { color: #555; font-size: 11px; margin-top: 6px; }
.hs-kv { border-collapse: collapse; font-size: 12px; }
.hs-kv th { text-align: left; padding: 1px 8px 1px 0; font-weight: 600; vertical-align: top; }
.hs-kv td { padding: 1px 0; }
#hs-legend { max-height: 45vh; overflow: auto; max-width: 260px; }
.leaflet-control-attribution { max-width: 60vw; font-size: 10px; }
.hs-leg + .hs-leg { margin-top: 6px; }
.hs-leg b { display: block; margin-bottom: 2px; }
.hs-sw { display: inline-block; width: 14px; height: 12px; vertical-align: middle;
  margin-right: 5px; border: 1px solid #555; }
.hs-dot { display: inline-block; border-radius: 50%; vertical-align: middle; margin-right: 5px;
  border: 1px solid #333; }
.hs-grad { height: 12px; border: 1px solid #888; }
.hs-ticks { display: flex; justify-content: space-between; }
.hs-rank { background: #7a0019; color: #fff; border: 1px solid #fff; border-radius: 50%;
  text-align: center; font: bold 11px/20px sans-serif; }
.hs-rank.inline { display: inline-block; width: 20px; height: 20px; vertical-align: middle; }
.hs-pop h4 { margin: 0 0 4px; font-size: 13px; }
.hs-spark svg { max-width: 100%; height: auto; }
"""


def _says_something(trend: object) -> bool:
    return str(trend) in ("up", "down")


def _trend_cell(r: dict) -> str:
    """An arrow only for a significant rise or fall (Mann–Kendall), with its p as a tip."""
    trend = r.get("trend")
    if not _says_something(trend):
        return "<td></td>"
    word = trend_html(trend, r.get("trend_slope_per_year"))
    p = p_text(r.get("trend_p"))
    tip = word + (f" ({p})" if p else "")
    return f'<td class="hs-{esc(trend)}" title="{tip}">{trend_html(trend, short=True)}</td>'


def _list_table(hot: pd.DataFrame, area_cols: Sequence[str]) -> str:
    """The ranked list: #, place, areas, incidents, peak month and, only where some hotspot
    has a significant trend, the trend. Text wraps, so the table fits the panel."""
    has_peak = "peak_month" in hot.columns
    has_trend = "trend" in hot.columns and any(_says_something(t) for t in hot["trend"])
    head = ["#", "Place", *[area_title(c) for c in area_cols], "Incidents"]
    head += ["Peak"] * has_peak + ["Trend"] * has_trend
    rows = []
    for r in hot.to_dict("records"):
        label = esc(r.get("label")) or esc(r.get("hotspot_id"))
        cells = [
            f'<td class="n">{int(r["rank"])}</td>',
            f"<td>{label}</td>",
            *[f"<td>{esc(r.get(c))}</td>" for c in area_cols],
            f'<td class="n">{count(r["incidents"]) or "–"}</td>',  # "–": small count
        ]
        if has_peak:
            cells.append(f"<td>{month_name(r.get('peak_month'), short=True)}</td>")
        if has_trend:
            cells.append(_trend_cell(r))
        rows.append(f'<tr data-rank="{int(r["rank"])}">{"".join(cells)}</tr>')
    th = "".join(f"<th>{h}</th>" for h in head)
    return (
        f'<table class="hs-list"><thead><tr>{th}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _share_text(value: object) -> str:
    share = as_number(value)
    if share is None:
        return ""
    v = 100 * share
    return f"{v:.1f}%" if v >= 0.95 else f"{v:.2f}%"


def _when_short(r: dict) -> str:
    """Peak days and hours (data with times), else peak months; the full text is a tip."""
    timed = " · ".join(t for t in (esc(r.get("peak_days")), esc(r.get("peak_hours"))) if t)
    return timed or esc(r.get("peak_months")) or esc(r.get("when"))


def plan_table(plan: pd.DataFrame, area_cols: Sequence[str]) -> str:
    """The patrol plan: #, place (and areas), visits a week × minutes, when, share."""
    head = ["#", "Place", "Visits", "When", "Share"]
    rows = []
    for r in plan.to_dict("records"):
        visits = int(r["visits_per_week"])
        dose = f"{visits} × {number(float(r['minutes_per_visit']))} min" if visits else "none"
        note = esc(r.get("note"))
        place = esc(r.get("label")) or esc(r.get("hotspot_id"))
        # areas the label does not name already (labels often end with the beat)
        areas = " · ".join(t for t in (esc(r.get(c)) for c in area_cols) if t and t not in place)
        place += f'<div class="hs-sub">{areas}</div>' if areas else ""
        place += f'<div class="hs-sub hs-warn">&#9888; {note}</div>' if note else ""
        when = f'<span title="{esc(r.get("when"))}">{_when_short(r)}</span>'
        cells = [
            f'<td class="n">{int(r["rank"])}</td>',
            f"<td>{place}</td>",
            f'<td class="nw">{dose}</td>',
            f"<td>{when}</td>",
            f'<td class="n">{_share_text(r.get("expected_share"))}</td>',
        ]
        rows.append(f'<tr data-rank="{int(r["rank"])}">{"".join(cells)}</tr>')
    th = "".join(f"<th>{h}</th>" for h in head)
    return (
        f'<table class="hs-list hs-plan"><thead><tr>{th}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


#: Shown (by the page) when a street tile fails to load.
TILES_NOTE = (
    "Street map tiles could not be loaded (no network, or tiles blocked here). "
    "Every other layer and this panel work offline."
)


def panel_html(
    *,
    title: str,
    period: str,
    hot: pd.DataFrame,
    area_cols: Sequence[str],
    notes: Sequence[str],
    params: dict,
    attribution: str,
    plan: pd.DataFrame | None = None,
    plan_note: str = "",
    tiles: bool = False,
) -> str:
    """The collapsible patrol panel; ``notes`` are escaped HTML sentences, ``plan_note``
    plain text (escaped here)."""
    parts = []
    if plan is not None and len(plan):
        parts.append(
            "<details open><summary><b>Patrol plan</b></summary>"
            + (f'<div class="hs-sub">{esc(plan_note)}</div>' if plan_note else "")
            + f'<div class="hs-scroll">{plan_table(plan, area_cols)}</div></details>'
        )
    if len(hot):
        parts.append(
            "<h3>Hotspots by priority</h3><div>Click a row to zoom to the hotspot.</div>"
            + f'<div class="hs-scroll">{_list_table(hot, area_cols)}</div>'
        )
    else:
        parts.append("<p>No hotspots were found with these settings.</p>")
    ranked = "".join(parts)
    note_html = "".join(f'<div class="hs-note">{n}</div>' for n in notes)
    if tiles:
        note_html += (
            f'<div class="hs-note" id="hs-tiles-note" style="display:none">{TILES_NOTE}</div>'
        )
    param_rows = "".join(
        f"<tr><th>{esc(k)}</th><td>{param_text(v)}</td></tr>" for k, v in params.items()
    )
    streets = (
        "<li>Streets come from OpenStreetMap tiles, fetched when the page opens; without a "
        "network everything else still works.</li>"
        if tiles
        else "<li>This copy has no street map (made with --offline-map); the hotspot "
        "names give their streets.</li>"
    )
    return (
        '<div id="hs-panel" class="hs-box"><details open>'
        f'<summary><b>{esc(title)}</b> <span class="hs-period">{esc(period)}</span></summary>'
        f"{note_html}{ranked}"
        "<details><summary>How to read this map</summary><ul>"
        "<li>Red outlines numbered 1, 2, 3… are the hotspots, in priority order. "
        "Click one for its details. Where badges would overlap, the better rank is shown; "
        "zoom in for the rest.</li>"
        "<li>The patrol plan gives visits a week of a few minutes each (Koper 1995), when "
        "to make them, and the share of all incidents the hotspot holds.</li>"
        "<li>Yellow-to-red shading is the estimated number of incidents per km² "
        "(kernel density); it is an estimate, not a count of events at that spot.</li>"
        "<li>Shaded areas show incidents (or the rate per 1,000 residents) per area; "
        "the shading fades at street zoom.</li>"
        f"{streets}"
        "<li>Use the layer list (top right) to switch layers on and off.</li>"
        "</ul></details>"
        f'<details><summary>Method and parameters</summary><table class="hs-kv">{param_rows}'
        "</table></details>"
        f'<div class="hs-src">Source: {esc(attribution)}</div>'
        "</details></div>"
    )


def legend_hotspots() -> str:
    return (
        "<b>Hotspots</b>"
        f'<span class="hs-sw" style="border:2px solid {HOTSPOT_LINE};'
        f'background:rgba(227,26,28,.15)"></span>hotspot '
        '<span class="hs-rank inline">1</span> priority rank'
    )


def legend_density(vmax: float, clipped: bool) -> str:
    rgb, alpha = palette_alpha()
    idx = [round(i * 255 / 10) for i in range(11)]
    stops = ", ".join(
        f"rgba({rgb[i][0]},{rgb[i][1]},{rgb[i][2]},{alpha[i]:.2f}) {i / 2.55:.0f}%" for i in idx
    )
    top = ("&ge; " if clipped else "") + number(vmax)
    return (
        "<b>Density, incidents per km²</b>"
        f'<div class="hs-grad" style="background:linear-gradient(to right, {stops})"></div>'
        f'<div class="hs-ticks"><span>0</span><span>{number(vmax / 2)}</span>'
        f"<span>{top}</span></div>"
    )


def legend_swatches(title: str, items: Sequence[tuple[str, str]], extra: str = "") -> str:
    """A titled list of (colour, escaped text) swatches."""
    rows = "".join(
        f'<div><span class="hs-sw" style="background:{c}"></span>{t}</div>' for c, t in items
    )
    return f"<b>{title}</b>{rows}{extra}"


def legend_outline(title: str, colour: str, text: str = "hotspot in this period") -> str:
    return (
        f'<b>{title}</b><span class="hs-sw" style="border:2px solid {colour};'
        f'background:{colour}40"></span>{text}'
    )


def legend_dots(title: str, fill: str, text: str, size: int) -> str:
    return (
        f'<b>{title}</b><span class="hs-dot" style="background:{fill};width:{size}px;'
        f'height:{size}px"></span>{text}'
    )
