"""Data is never template source: Jinja2 syntax in any text reaches the map as text.

branca compiles the text of every ``Element`` as a Jinja2 template, so data that reached
the page through it could run code (``{{ … os.popen(…) }}``), change (``{{7*7}}`` → 49),
vanish or stop the run (``{#``). Every channel here carries the payloads and must come
out literally. The browser check of the same payloads is in test_browser.py.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots.cli import main
from hotspots.maps import map_html, patrol_map
from hotspots.maps._elements import Text
from hotspots.maps._text import MAX_TEXT_CHARS, esc

#: Jinja2 syntax of every kind: an expression, a statement, a comment start, and loose
#: delimiters; together they must survive as typed.
PAYLOAD = "{{7*7}} {% if 1 %}x{% endif %} {# {% }}"
#: Would run a shell command if it were ever compiled as a template.
RCE = "{{ cycler.__init__.__globals__.os.popen('touch {marker}').read() }}"
BEATS = Path(__file__).resolve().parents[1] / (
    "hotspots/_data/boundaries/leicestershire/beats_approx.geojson.gz"
)


def tagged(channel: str) -> str:
    return f"{channel} {PAYLOAD}"


def _map_inputs() -> dict:
    sq = shapely.box(458000, 304000, 458300, 304300)
    hot = gpd.GeoDataFrame(
        {
            "rank": [1],
            "incidents": [40],
            "label": [tagged("label")],
            "top_categories": [tagged("categories")],
            "beat": [tagged("hotbeat")],
        },
        geometry=[sq],
        crs=27700,
    )
    area = gpd.GeoDataFrame(
        {"name": [tagged("areaname")], "incidents": [50]},
        geometry=[shapely.box(457000, 303000, 459000, 305000)],
        crs=27700,
    )
    repeat = pd.DataFrame(
        {
            "x": [458100.0],
            "y": [304100.0],
            "location": [tagged("repeat")],
            "incidents_total": [9],
            "max_in_window": [3],
        }
    )
    incidents = pd.DataFrame(
        {
            "x": [458100.0, 458150.0],
            "y": [304100.0, 304150.0],
            "category": [tagged("category")] * 2,
            "location": [tagged("location")] * 2,
            "when": pd.Timestamp("2025-07-01"),
        }
    )
    return dict(
        hotspots=hot,
        areas={"beat": area, "zone": area.assign(name=tagged("zonename"))},
        repeat_locations=repeat,
        incidents=incidents,
        monthly_hotspot_layers={tagged("season"): hot},
        title=tagged("title"),
        period=tagged("period"),
        params={tagged("paramkey"): tagged("paramvalue")},
        attribution=tagged("attribution"),
    )


CHANNELS = (
    "label",
    "categories",
    "hotbeat",
    "areaname",
    "zonename",
    "repeat",
    "category",
    "location",
    "season",
    "title",
    "period",
    "paramkey",
    "paramvalue",
    "attribution",
)


def test_every_map_channel_shows_jinja_syntax_literally():
    html = map_html(patrol_map(**_map_inputs()))
    for channel in CHANNELS:
        assert tagged(channel) in html, channel
        assert f"{channel} 49" not in html, channel  # never evaluated


def test_rendered_page_parts_are_all_inert_text():
    """Every part branca puts on the page is Text, never a compiled template (but the
    constant charset meta tag the Figure starts with)."""
    m = patrol_map(**_map_inputs())
    map_html(m)
    fig = m.get_root()
    for part in (fig.header, fig.html, fig.script):
        kinds = {
            name: type(el).__name__ for name, el in part._children.items() if name != "meta_http"
        }
        assert kinds and set(kinds.values()) == {Text.__name__}, kinds


def test_a_foreign_folium_element_is_refused():
    import folium

    m = patrol_map(**_map_inputs())
    folium.Marker([52.6, -1.1], popup="x").add_to(m)
    with pytest.raises(ValueError, match="template source.*Marker"):
        map_html(m)


def test_long_text_is_cut_for_display():
    assert esc("a" * 5_000_000) == "a" * (MAX_TEXT_CHARS - 1) + "…"
    assert esc("<" * 1000).count("&lt;") == MAX_TEXT_CHARS - 1  # cut before escaping


def _hostile_inputs(tmp_path: Path, police_slice: Path, marker: Path) -> tuple[Path, Path]:
    src = next(police_slice.glob("*.csv.gz"))
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        rows = pd.read_csv(fh, dtype=str, keep_default_na=False)
    pick = np.arange(len(rows)) % 4
    rows.loc[pick == 0, "Location"] = "On or near " + tagged("street")
    rows.loc[pick == 1, "Location"] = "On or near " + RCE.format(marker=marker)
    rows.loc[pick == 2, "Location"] = "On or near Unit {#4"
    rows.loc[pick == 3, "Crime type"] = tagged("crimetype")
    incidents = tmp_path / "in {{7*7}}"
    incidents.mkdir()
    rows.to_csv(incidents / "2025-06-x{{7*7}}-street.csv", index=False)
    beats = gpd.read_file(f"/vsigzip/{BEATS}")
    beats["beat_name"] = beats["beat_name"] + " " + tagged("beat")
    beats["npa_name"] = beats["npa_name"] + " " + tagged("npa")
    areas = tmp_path / "beats.geojson"
    beats.to_file(areas, driver="GeoJSON")
    return incidents, areas


@pytest.mark.slow
def test_run_with_jinja_in_every_input_channel(tmp_path, police_slice, capsys):
    marker = tmp_path / "pwned"
    incidents, areas = _hostile_inputs(tmp_path, police_slice, marker)
    out = tmp_path / "out"
    code = main(
        [
            "-q",
            "run",
            "--incidents",
            str(incidents),
            "--areas",
            str(areas),
            "--area-field",
            "beat=beat_name",
            "--area-field",
            "npa=npa_name",
            "--map-per-area",
            "npa",
            "--title",
            tagged("title"),
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert not marker.exists()  # the payload never ran
    page = (out / "map.html").read_text(encoding="utf-8")
    for channel in ("street", "crimetype", "beat", "npa", "title"):
        assert tagged(channel) in page, channel
    assert "Unit {#4" in page
    assert "street 49" not in page and "title 49" not in page
    per_npa = sorted((out / "maps").glob("*.html"))
    assert per_npa
    for path in per_npa:
        text = path.read_text(encoding="utf-8")
        assert tagged("title") in text and tagged("npa") in text, path.name
