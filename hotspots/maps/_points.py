"""Point layers: repeat locations and clustered incidents, as compact rows built in the browser.

Thousands of points as GeoJSON features with their own popup HTML would cost ~500 bytes
each; rows of numbers with indexes into shared tables of escaped text cost ~35–65.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.maps._elements import IncidentCluster, ScriptLayer, js_json
from hotspots.maps._geo import check_frame, check_table, lonlat
from hotspots.maps._panel import legend_dots
from hotspots.maps._text import count, esc, shown_count
from hotspots.schema import CRS_METRIC, InputError

#: Repeat locations are shown at the start only up to this many (else switched off).
SHOW_REPEATS = 500
NAME_REPEAT = "Repeat locations"
NAME_INCIDENTS = "Incidents (clustered)"

_REPEAT_JS = """(function (names, windows, rows) {
  var popup = hsPopup();
  return L.featureGroup(rows.map(function (d) {
    var name = names[d[2]] || "Repeat location";
    var when = windows[d[6]] ? "<tr><th>That window</th><td>" + windows[d[6]] + "</td></tr>" : "";
    return L.circleMarker([d[0], d[1]], {pane: "hs-points", radius: d[5], color: "#222222",
        weight: 1, fillColor: "#ff7f00", fillOpacity: 0.85})
      .bindTooltip("<b>" + name + "</b><br>" + d[3] + " incidents", {sticky: true})
      .bindPopup('<div class="hs-pop"><h4>' + name + '</h4><table class="hs-kv">'
        + "<tr><th>Incidents</th><td>" + d[3] + "</td></tr>"
        + "<tr><th>Most in one time window</th><td>" + d[4] + "</td></tr>" + when
        + "</table></div>", popup);
  }));
})"""


def _window_texts(repeat: pd.DataFrame) -> list[str]:
    if not {"window_start", "window_end"} <= set(repeat.columns):
        return [""] * len(repeat)
    start = pd.to_datetime(repeat["window_start"], errors="coerce")
    end = pd.to_datetime(repeat["window_end"], errors="coerce")
    return [
        "" if pd.isna(a) or pd.isna(b) else f"{a:%b %Y} – {b:%b %Y}"
        for a, b in zip(start, end, strict=True)
    ]


def repeat_layer(repeat: pd.DataFrame, max_markers: int) -> tuple[ScriptLayer, list[str]]:
    """Repeat locations as compact rows; the busiest ``max_markers`` when there are more.

    SVG, not canvas: a canvas in its own pane would swallow clicks meant for the hotspots.
    """
    cols = ("x", "y", "location", "incidents_total", "max_in_window")
    repeat = check_table(repeat, "repeat_locations", cols)
    repeat = repeat[
        np.isfinite(repeat["x"].to_numpy(float)) & np.isfinite(repeat["y"].to_numpy(float))
    ]
    totals = pd.to_numeric(repeat["incidents_total"], errors="coerce").fillna(0).to_numpy(float)
    notes = []
    if len(repeat) > max_markers:
        notes.append(f"The {max_markers:,} busiest of {len(repeat):,} repeat locations are shown.")
        keep = np.sort(np.argsort(-totals, kind="stable")[:max_markers])
        repeat, totals = repeat.iloc[keep], totals[keep]
    lon, lat = lonlat(repeat["x"], repeat["y"], CRS_METRIC)
    top = max(float(totals.max()) if len(totals) else 0.0, 1.0)
    names = [esc(v) for v in repeat["location"]]
    windows = _window_texts(repeat)
    tables = {"names": sorted(set(names)), "windows": sorted(set(windows))}
    name_ix = {t: i for i, t in enumerate(tables["names"])}
    window_ix = {t: i for i, t in enumerate(tables["windows"])}
    peaks = repeat["max_in_window"].to_numpy()
    rows = []
    # Smallest first, so the busiest places are drawn on top.
    for i in np.argsort(totals, kind="stable"):
        # Circle area in proportion to the count, so big places do not swamp the map.
        radius = round(4 + 10 * float(np.sqrt(max(totals[i], 0) / top)), 1)
        rows.append(
            [
                float(lat[i]),
                float(lon[i]),
                name_ix[names[i]],
                count(totals[i]),
                shown_count(peaks[i]),
                radius,
                window_ix[windows[i]],
            ]
        )
    js = f"{_REPEAT_JS}({js_json(tables['names'])}, {js_json(tables['windows'])}, {js_json(rows)})"
    legend = legend_dots(NAME_REPEAT, "#ff7f00", f"size shows incidents (largest {count(top)})", 14)
    show = len(rows) <= SHOW_REPEATS
    if not show:
        notes.append(
            f"{NAME_REPEAT} are off at the start (too many to read at force scale); "
            "switch them on in the layer list."
        )
    return ScriptLayer(js, name=NAME_REPEAT, show=show, legend=legend), notes


def _when_texts(incidents: pd.DataFrame) -> list[str]:
    """Dates shown no more precisely than the data (police.uk: month only)."""
    if "when" not in incidents.columns:
        return [""] * len(incidents)
    when = pd.to_datetime(incidents["when"], errors="coerce")
    if "precision" in incidents.columns:
        precision = incidents["precision"].astype(str).to_numpy()
    else:
        midnight = (when.dt.hour == 0) & (when.dt.minute == 0)
        level = (
            "month"
            if bool((midnight & (when.dt.day == 1)).all())
            else "day"
            if bool(midnight.all())
            else "minute"
        )
        precision = np.full(len(when), level)
    formats = {"month": "%b %Y", "day": "%d %b %Y"}
    return [
        "" if pd.isna(w) else w.strftime(formats.get(p, "%d %b %Y %H:%M"))
        for w, p in zip(when, precision, strict=True)
    ]


def incident_layer(
    incidents: pd.DataFrame, max_markers: int
) -> tuple[IncidentCluster | None, list[str]]:
    n = len(incidents)
    if n > max_markers:
        return None, [
            f"{n:,} incidents are not shown one by one (more than {max_markers:,}); "
            "the density and hotspot layers summarise them."
        ]
    if isinstance(incidents, pd.DataFrame) and {"x", "y"} <= set(incidents.columns):
        inc = incidents
        x, y, crs = inc["x"].to_numpy(float), inc["y"].to_numpy(float), CRS_METRIC
    elif isinstance(incidents, gpd.GeoDataFrame):
        inc = check_frame(incidents, "incidents")
        x, y, crs = inc.geometry.x.to_numpy(), inc.geometry.y.to_numpy(), inc.crs
    else:
        raise InputError("incidents need x and y columns (EPSG:27700) or point geometry")
    ok = np.isfinite(x) & np.isfinite(y)
    inc, x, y = inc[ok], x[ok], y[ok]
    lon, lat = lonlat(x, y, crs)
    texts = {
        c: ([esc(v) for v in inc[c]] if c in inc.columns else [""] * len(inc))
        for c in ("category", "location")
    }
    texts["when"] = _when_texts(inc)
    tables = {c: sorted(set(v)) for c, v in texts.items()}
    lookup = {c: {t: i for i, t in enumerate(tables[c])} for c in tables}
    rows = [
        [float(lat[i]), float(lon[i])] + [lookup[c][texts[c][i]] for c in tables]
        for i in range(len(inc))
    ]
    style = {
        "pane": "hs-points",
        "radius": 4,
        "color": "#08306b",
        "weight": 1,
        "fillColor": "#4292c6",
        "fillOpacity": 0.9,
    }
    js = (
        "(function (c, l, w, rows, s) { var popup = hsPopup(); return rows.map(function (r) {"
        " return L.circleMarker([r[0], r[1]], s).bindPopup(function () {"
        " return '<b>' + c[r[2]] + '</b><br>' + l[r[3]] + '<br>' + w[r[4]]; }, popup); }); })("
        f"{js_json(tables['category'])}, {js_json(tables['location'])}, "
        f"{js_json(tables['when'])}, {js_json(rows)}, {js_json(style)})"
    )
    legend = legend_dots(
        NAME_INCIDENTS, "#4292c6", f"one incident ({len(inc):,}); numbers are clusters", 9
    )
    return IncidentCluster(js, name=NAME_INCIDENTS, show=False, legend=legend), []
