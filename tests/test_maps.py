"""The patrol map's HTML (layers, legend, escaping, offline, determinism, size) and report PNGs."""

from __future__ import annotations

import base64
import html as htmllib
import io
import json
import re

import geopandas as gpd
import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from hotspots.grid import make_grid
from hotspots.maps import map_html, patrol_map
from hotspots.maps._text import esc
from hotspots.report import funnel_plot_png, static_map_png
from hotspots.schema import CRSError, InputError

XSS = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SPARK = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="60" height="16">'
    '<polyline points="0,12 30,2 60,9" fill="none" stroke="#333"/></svg>'
)
ALL_LAYERS = {
    "Beat: incidents",
    "NPA: incidents per 1,000 residents",
    "Density (incidents per km²)",
    "Gi* hot and cold spots",
    "Hotspots: Spring (Mar–May)",
    "Hotspots: Summer (Jun–Aug)",
    "Hotspots (ranked)",
    "Repeat locations",
    "Incidents (clustered)",
}


def box(x: float, y: float, w: float) -> shapely.Polygon:
    return shapely.box(x, y, x + w, y + w)


def make_inputs(**changes: object) -> dict:
    """Small inputs around Leicester (EPSG:27700): 3 hotspots, 2 beats, 1 NPA, a density."""
    hot = gpd.GeoDataFrame(
        {
            "rank": [2, 1, 3],
            "hotspot_id": ["H2", "H1", "H3"],
            "incidents": [40, 90, 12],
            "area_m2": [40_000.0, 90_000.0, 2_500_000.0],
            "density_km2": [1000.0, 1000.0, 4.8],
            "label": ["Market Street", XSS, "Abbey Park"],
            "top_categories": ["Shoplifting", IMG, "Drugs"],
            "beat": ["B2", "B1", "B1"],
            "npa": ["City", "City", "City"],
            "peak_month": [12.0, 7.0, np.nan],
            "trend": ["none", "up", "down"],
            "trend_slope_per_year": [0.0, 2.5, -1.0],
            "class": ["sporadic", "intensifying", "new"],
            "spark_svg": [None, SPARK, None],
        },
        geometry=[box(457300, 303300, 200), box(458600, 304600, 300), box(459500, 303500, 400)],
        crs=27700,
    )
    beats = gpd.GeoDataFrame(
        {
            "name": ["B1", IMG],
            "incidents": [100, 300],
            "change": [12, -4],
            "peak_month": [7, 1],
            "trend": ["up", "none"],
            "top_hotspots": ["1, 3", "2"],
        },
        geometry=[
            shapely.box(457000, 303000, 459000, 305000),
            shapely.box(459000, 303000, 461000, 305000),
        ],
        crs=27700,
    )
    npa = gpd.GeoDataFrame(
        {
            "name": ["City"],
            "incidents": [400],
            "rate_per_1000": [9.5],
            "significance": ["above"],
            "spark_svg": [SPARK],
        },
        geometry=[shapely.box(457000, 303000, 461000, 305000)],
        crs=27700,
    )
    grid = make_grid((457000, 303000, 461000, 305000), cell_size_m=50)
    yy, xx = np.mgrid[0 : grid.nrows, 0 : grid.ncols]
    density = 800 * np.exp(-((xx - 35) ** 2 + (yy - 18) ** 2) / 150.0)
    density[:, :10] = np.nan  # outside the study area
    cells = gpd.GeoDataFrame(
        {
            "gi_bin": [3, 1, 0, -2],
            "z": [3.4, 1.7, 0.2, -2.1],
        },
        geometry=[
            box(458600, 304600, 200),
            box(458800, 304600, 200),
            box(459000, 304600, 200),
            box(460200, 303200, 200),
        ],
        crs=27700,
    )
    repeat = pd.DataFrame(
        {
            "x": [460500.0, 458650.0],
            "y": [304500.0, 304650.0],
            "location": ["On or near Bus Station", IMG],
            "incidents_total": [25, 9],
            "max_in_window": [6, 3],
        }
    )
    incidents = pd.DataFrame(
        {
            "x": 458700.0 + np.arange(10) * 10,
            "y": 304700.0,
            "category": ["Anti-social behaviour"] * 9 + [IMG],
            "location": ["On or near " + IMG] * 10,
            "when": pd.Timestamp("2025-07-01"),
        }
    )
    spring = gpd.GeoDataFrame(
        {"rank": [1], "incidents": [20]}, geometry=[box(457300, 303300, 300)], crs=27700
    )
    summer = gpd.GeoDataFrame(
        {"rank": [1], "incidents": [30], "label": [XSS]},
        geometry=[box(458500, 304500, 400)],
        crs=27700,
    )
    out = dict(
        hotspots=hot,
        areas={"beat": beats, "npa": npa},
        density=density,
        density_grid=grid,
        gistar_cells=cells,
        repeat_locations=repeat,
        incidents=incidents,
        monthly_hotspot_layers={"Spring (Mar–May)": spring, "Summer (Jun–Aug)": summer},
        title=f"Patrol plan {XSS}",
        period="Jan–Dec 2025",
        params={
            "cell_size_m": 50,
            "bandwidth_m": 250.0,
            "bandwidth_rule": "arcgis (automatic)",
            "note": IMG,
        },
        attribution="Contains police.uk data, Open Government Licence v3.0",
    )
    out.update(changes)
    return out


@pytest.fixture(scope="module")
def page() -> str:
    return map_html(patrol_map(**make_inputs()))


def layer_names(page: str) -> list[str]:
    body = re.search(r"L\.control\.layers\(\s*\{[^}]*\},\s*\{(.*?)\},\s*\{", page, re.S).group(1)
    return [json.loads(k) for k in re.findall(r'("(?:[^"\\]|\\.)*"): \w+,', body)]


def geo_layers(page: str) -> dict[str, list[dict]]:
    """Features of every GeoJSON layer on the page, by Leaflet pane."""
    dec = json.JSONDecoder()
    out: dict[str, list[dict]] = {}
    for m in re.finditer(r"hsGeoJson\((?=\{)", page):
        data, end = dec.raw_decode(page, m.end())
        styles, end = dec.raw_decode(page, end + 2)
        pane, _ = dec.raw_decode(page, end + 2)
        for f in data["features"]:
            f["style"] = styles[f["properties"]["s"]]
        out.setdefault(pane, []).extend(data["features"])
    return out


def call_args(page: str, marker: str) -> list:
    """The JSON arguments of the ``(function (...) {...})(args)`` call that follows ``marker``."""
    dec = json.JSONDecoder()
    pos = page.index("})(", page.index(marker)) + 3
    args = []
    while page[pos] != ")":
        value, pos = dec.raw_decode(page, pos)
        args.append(value)
        pos += 2 if page[pos] == "," else 0
    return args


def app_part(page: str) -> str:
    """The page without the inlined Leaflet libraries (their source is not ours)."""
    return page[page.index('<meta name="viewport"') :]


def test_every_layer_is_in_the_layer_control(page):
    assert set(layer_names(page)) == ALL_LAYERS
    assert len(layer_names(page)) == len(ALL_LAYERS)


def test_legend_shows_each_layer_with_its_classes(page):
    legend = re.search(r'<div id="hs-legend".*?</div></div>\s*</body>', page, re.S).group(0)
    # Two beats (100 and 300 incidents) split at the median: 100–199 and 200–300.
    assert "<b>Beat: incidents</b>" in legend
    assert "100 – 199" in legend and "200 – 300" in legend
    assert "significantly above expected" in legend  # NPA has a significance column
    assert "Density, incidents per km²" in legend and "linear-gradient" in legend
    assert "Hot spot, 99% confidence" in legend and "Hot spot, 90% confidence" in legend
    assert "Cold spot, 95% confidence" in legend and "Cold spot, 99%" not in legend
    assert legend.count('class="hs-leg"') == len(ALL_LAYERS)


def test_nothing_is_fetched_from_the_network(page):
    for pattern in (
        r"<script[^>]*\bsrc=",
        r"<link[^>]*\bhref=",
        r"url\(\s*['\"]?https?:",
        r"@import",
        r"<img[^>]*\bsrc=\"?https?:",
        r"<iframe",
    ):
        assert not re.search(pattern, page, re.I), pattern
    for host in ("cdn.jsdelivr", "cdnjs", "code.jquery", "bootstrapcdn", "openstreetmap.org"):
        assert host not in page
    # The only http(s) text in our part of the page is the SVG namespace.
    assert set(re.findall(r"https?://[^\s\"'<>)\\]+", app_part(page))) == {
        "http://www.w3.org/2000/svg"
    }


def test_online_tiles_add_only_an_openstreetmap_layer():
    page = map_html(patrol_map(**make_inputs(online_tiles=True)))
    assert "OpenStreetMap (online)" in layer_names(page)
    assert "tile.openstreetmap.org" in page
    assert not re.search(r"<script[^>]*\bsrc=", page)


def test_text_from_data_is_escaped_everywhere(page):
    assert XSS not in page and IMG not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # panel, title
    assert page.count("<script>") == page.count("</script>")
    layers = geo_layers(page)
    popups = " ".join(
        f["properties"].get("p", "") + f["properties"].get("t", "")
        for feats in layers.values()
        for f in feats
    )
    assert "&lt;img src=x onerror=alert(2)&gt;" in popups
    assert XSS not in popups and IMG not in popups
    # The trusted sparkline is kept as markup.
    assert SPARK in popups
    names, _, rows = call_args(page, "var name = names[d[2]]")
    assert names == ["&lt;img src=x onerror=alert(2)&gt;", "On or near Bus Station"]
    assert len(rows) == 2
    categories, locations, _, _, _ = call_args(page, "return L.circleMarker([r[0], r[1]], s)")
    assert categories == ["&lt;img src=x onerror=alert(2)&gt;", "Anti-social behaviour"]
    assert locations == ["On or near &lt;img src=x onerror=alert(2)&gt;"]


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_escaping_round_trips_and_leaves_no_markup(text):
    out = esc(text)
    assert "<" not in out and ">" not in out and '"' not in out
    if text.strip():
        assert htmllib.unescape(out) == text


def test_same_inputs_give_identical_html(page):
    assert map_html(patrol_map(**make_inputs())) == page
    m = patrol_map(**make_inputs())
    assert map_html(m) == map_html(m)


def test_incidents_beyond_the_cap_are_left_out_with_a_note():
    page = map_html(patrol_map(**make_inputs(max_markers=5)))
    assert "10 incidents are not shown one by one (more than 5)" in page
    assert "Incidents (clustered)" not in layer_names(page)
    assert "markerClusterGroup" not in page  # library not even inlined
    names, _, rows = call_args(page, "var name = names[d[2]]")
    assert len(rows) == 2  # 2 repeat locations: under the cap of 5
    page = map_html(patrol_map(**make_inputs(max_markers=1)))
    assert "The 1 busiest of 2 repeat locations are shown." in page
    names, _, rows = call_args(page, "var name = names[d[2]]")
    assert names == ["On or near Bus Station"] and [r[3] for r in rows] == ["25"]
    full = map_html(patrol_map(**make_inputs()))
    assert "L.markerClusterGroup(" in full and "not shown one by one" not in full


def test_hotspot_popup_shows_rank_month_area_and_sparkline(page):
    hot = {f["properties"]["rank"]: f["properties"] for f in geo_layers(page)["hs-hotspots"]}
    assert sorted(hot) == [1, 2, 3]
    p1 = hot[1]["p"]
    for text in (
        "Hotspot 1 · &lt;script&gt;",
        "<th>Incidents</th><td>90</td>",
        "<th>Area</th><td>9.0 ha</td>",
        "1,000 incidents per km²",
        "<td>B1</td>",
        "<th>Peak month</th><td>July</td>",
        "Rising (+2.5 incidents a month, per year)",
        "<th>Pattern</th><td>intensifying</td>",
        SPARK,
    ):
        assert text in p1, text
    assert "<th>Area</th><td>2.50 km²</td>" in hot[3]["p"]
    assert "Peak month" not in hot[3]["p"]  # NaN peak month is left out


def test_area_popups_show_counts_change_rate_and_significance(page):
    layers = geo_layers(page)
    beats = [f["properties"] for f in layers["hs-areas"] if "Beat" in f["properties"]["t"]]
    b1 = next(p for p in beats if "Beat B1" in p["p"])
    for text in (
        "<th>Incidents</th><td>100</td>",
        "<th>Change</th><td>+12</td>",
        "<th>Peak month</th><td>July</td>",
        "<th>Hotspots inside</th><td>1, 3</td>",
    ):
        assert text in b1["p"], text
    npa = next(f for f in layers["hs-areas"] if "NPA City" in f["properties"]["p"])
    assert "<th>Rate per 1,000 residents</th><td>9.50</td>" in npa["properties"]["p"]
    assert "Significantly above expected" in npa["properties"]["p"]
    assert npa["style"]["weight"] == 3  # significant areas get a heavy outline


def test_many_gistar_cells_are_merged_per_class(monkeypatch):
    monkeypatch.setattr("hotspots.maps._polygons.MAX_GISTAR_CELLS", 2)
    page = map_html(patrol_map(**make_inputs()))
    cells = geo_layers(page)["hs-gistar"]
    assert [c["properties"]["t"] for c in cells] == [
        "Hot spot 99%",
        "Hot spot 90%",
        "Cold spot 95%",
    ]
    assert "3 significant Gi* cells are drawn merged by class." in page


def test_gistar_layer_draws_significant_cells_in_red_and_blue(page):
    cells = geo_layers(page)["hs-gistar"]
    assert [c["properties"]["t"] for c in cells] == [
        "Hot spot 99% (z = 3.40)",
        "Hot spot 90% (z = 1.70)",
        "Cold spot 95% (z = -2.10)",
    ]
    assert [c["style"]["fillColor"] for c in cells] == ["#b2182b", "#fddbc7", "#67a9cf"]


def test_coordinates_are_lon_lat_rounded_to_six_places(page):
    text = json.dumps([f["geometry"] for feats in geo_layers(page).values() for f in feats])
    assert not re.search(r"\d\.\d{7,}", text)
    coords = np.array(re.findall(r"-?\d+\.\d+", text), dtype=float).reshape(-1, 2)
    assert coords[:, 0].min() > -1.2 and coords[:, 0].max() < -1.0  # Leicester longitudes
    assert coords[:, 1].min() > 52.6 and coords[:, 1].max() < 52.7
    assert not re.search(r"\d\.\d{7,}", app_part(page).replace(SPARK, ""))


def test_density_overlay_is_warped_into_place_and_transparent_outside(page):
    m = re.search(r'L\.imageOverlay\("data:image/png;base64,([^"]+)", (\[\[.*?\]\])', page)
    img = mpimg.imread(io.BytesIO(base64.b64decode(m.group(1))), format="png")
    (south, west), (north, east) = json.loads(m.group(2))
    grid = make_inputs()["density_grid"]
    to_ll = Transformer.from_crs(27700, 4326, always_xy=True)
    lon, lat = to_ll.transform(
        [grid.xmin, grid.xmax, grid.xmin, grid.xmax], [grid.ymin, grid.ymin, grid.ymax, grid.ymax]
    )
    # The overlay covers every corner of the grid, with at most a pixel to spare.
    px_lon, px_lat = (east - west) / img.shape[1], (north - south) / img.shape[0]
    assert west <= min(lon) + 1e-6 and east >= max(lon) - 1e-6
    assert south <= min(lat) + 1e-6 and north >= max(lat) - 1e-6
    assert min(lon) - west < px_lon and east - max(lon) < px_lon
    assert min(lat) - south < px_lat and north - max(lat) < px_lat
    assert img.shape[2] == 4
    # NaN (west strip) is fully transparent; the peak is opaque.
    assert img[:, : img.shape[1] // 10, 3].max() == 0
    assert img[..., 3].max() > 0.8


def test_seasonal_and_optional_columns_may_be_missing():
    inputs = make_inputs(
        monthly_hotspot_layers=None,
        gistar_cells=None,
        repeat_locations=None,
        incidents=None,
        density=None,
        density_grid=None,
    )
    inputs["hotspots"] = inputs["hotspots"][["rank", "incidents", "geometry"]]
    inputs["areas"] = {"beat": inputs["areas"]["beat"][["name", "incidents", "geometry"]]}
    page = map_html(patrol_map(**inputs))
    assert layer_names(page) == ["Beat: incidents", "Hotspots (ranked)"]
    head = re.search(r'<table class="hs-list"><thead>(.*?)</thead>', page).group(1)
    assert head == "<tr><th>#</th><th>Place</th><th>Incidents</th></tr>"
    popup = geo_layers(page)["hs-hotspots"][0]["properties"]["p"]
    assert "Hotspot 1" in popup and "Peak month" not in popup and "Trend" not in popup

    only_peak = make_inputs()
    only_peak["hotspots"] = only_peak["hotspots"].drop(
        columns=["trend", "trend_slope_per_year", "class", "spark_svg"]
    )
    page = map_html(patrol_map(**only_peak))
    head = re.search(r'<table class="hs-list"><thead>(.*?)</thead>', page).group(1)
    assert "<th>Peak</th>" in head and "<th>Trend</th>" not in head


def test_bad_inputs_are_refused_with_the_argument_named():
    inputs = make_inputs()
    with pytest.raises(CRSError, match="hotspots"):
        patrol_map(**{**inputs, "hotspots": inputs["hotspots"].to_crs(4326)})
    with pytest.raises(InputError, match="rank"):
        patrol_map(**{**inputs, "hotspots": inputs["hotspots"].drop(columns="rank")})
    with pytest.raises(InputError, match="together"):
        patrol_map(**{**inputs, "density_grid": None})
    with pytest.raises(InputError, match="max_markers"):
        patrol_map(**{**inputs, "max_markers": -1})
    with pytest.raises(InputError, match="shape"):
        patrol_map(**{**inputs, "density": np.zeros((3, 3))})


def test_force_wide_map_stays_small():
    """300 hotspots, 600 detailed area polygons, a 1200 x 1200 surface, 5,000 incidents."""
    rng = np.random.default_rng(7)
    x0, y0 = 430_000.0, 280_000.0
    side = 60_000.0
    # 600 irregular areas tiling the square (a 30 x 20 lattice with wiggly edges of 1 m steps).
    xs = np.linspace(x0, x0 + side, 31)
    ys = np.linspace(y0, y0 + side, 21)
    areas = []
    for i in range(30):
        for j in range(20):
            cell = shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1])
            areas.append(shapely.segmentize(cell, 5.0))
    area_gdf = gpd.GeoDataFrame(
        {"name": [f"LSOA {k:03d}" for k in range(600)], "incidents": rng.integers(0, 900, 600)},
        geometry=areas,
        crs=27700,
    )
    centres = rng.uniform(0, side, size=(300, 2)) + [x0, y0]
    hot = gpd.GeoDataFrame(
        {
            "rank": np.arange(1, 301),
            "incidents": rng.integers(20, 400, 300),
            "label": ["On or near Somewhere Road"] * 300,
            "spark_svg": [SPARK] * 300,
        },
        geometry=shapely.buffer(shapely.points(centres), 150.0),
        crs=27700,
    )
    grid = make_grid((x0, y0, x0 + side - 50, y0 + side - 50), cell_size_m=50)
    density = rng.gamma(1.0, 50.0, size=grid.shape)
    incidents = pd.DataFrame(
        {
            "x": rng.uniform(x0, x0 + side, 5000),
            "y": rng.uniform(y0, y0 + side, 5000),
            "category": "Anti-social behaviour",
            "location": [f"On or near Street {k % 700}" for k in range(5000)],
            "when": pd.Timestamp("2025-03-01"),
        }
    )
    page = map_html(
        patrol_map(
            hotspots=hot,
            areas={"lsoa": area_gdf},
            density=density,
            density_grid=grid,
            incidents=incidents,
            title="Force",
            period="2025",
            params={},
            attribution="police.uk",
        )
    )
    assert grid.shape == (1200, 1200)
    assert len(page.encode("utf-8")) < 10_000_000
    assert "Incidents (clustered)" in layer_names(page)


# --- report PNGs ---------------------------------------------------------------------------


def test_static_map_png_decodes_and_is_deterministic():
    i = make_inputs()
    kw = dict(
        hotspots=i["hotspots"],
        areas_layer=i["areas"]["beat"],
        density=i["density"],
        density_grid=i["density_grid"],
        title="Patrol plan",
        attribution=i["attribution"],
    )
    png = static_map_png(**kw)
    assert png[:8] == PNG_SIGNATURE
    img = mpimg.imread(io.BytesIO(png), format="png")
    assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 300
    assert static_map_png(**kw) == png
    no_density = static_map_png(**{**kw, "density": None, "density_grid": None})
    assert no_density[:8] == PNG_SIGNATURE and no_density != png


def test_static_map_png_refuses_degrees():
    i = make_inputs()
    with pytest.raises(CRSError, match="areas_layer"):
        static_map_png(
            hotspots=i["hotspots"],
            areas_layer=i["areas"]["beat"].to_crs(4326),
            title="T",
            attribution="x",
        )


def test_funnel_plot_png_decodes_and_is_deterministic():
    table = pd.DataFrame(
        {
            "name": ["A", "B", "C", XSS, "E"],
            "incidents": [50, 12, 30, 0, 7],
            "residents": [1000, 1500, 3000, 1200, 0],
        }
    )
    png = funnel_plot_png(table, overall_rate_per_1000=10.0, title="ASB")
    assert png[:8] == PNG_SIGNATURE
    img = mpimg.imread(io.BytesIO(png), format="png")
    assert img.ndim == 3 and img.shape[1] > img.shape[0]
    assert funnel_plot_png(table, overall_rate_per_1000=10.0, title="ASB") == png
    with pytest.raises(InputError, match="residents"):
        funnel_plot_png(table.drop(columns="residents"), overall_rate_per_1000=10.0, title="x")
    with pytest.raises(InputError, match="overall_rate_per_1000"):
        funnel_plot_png(table, overall_rate_per_1000=0, title="x")


def test_popups_show_peak_day_and_hour_only_where_present():
    inputs = make_inputs()
    hot = inputs["hotspots"].assign(
        peak_day=[6.0, np.nan, 2.0],
        day_p=[0.003, np.nan, 0.4567],
        dow_rows=[412, 0, 1],
        peak_hour=[22.0, np.nan, np.nan],
        hour_p=[0.0123, np.nan, np.nan],
        hour_rows=[380, 0, 0],
    )
    beats = inputs["areas"]["beat"].assign(peak_day=[XSS, 8], day_p=[0.5, 0.5])
    page = map_html(patrol_map(**make_inputs(hotspots=hot, areas={"beat": beats})))
    pops = {f["properties"]["rank"]: f["properties"]["p"] for f in geo_layers(page)["hs-hotspots"]}
    assert (
        "<div>Peak day: Saturday (p 0.003, 412 dated incidents) · peak hour: 22:00 "
        "(p 0.012, 380 timed)</div>"
    ) in pops[2]
    # A date without a time; the rows a peak rests on are said even when there is one.
    assert "<div>Peak day: Tuesday (p 0.46, 1 dated incident)</div>" in pops[3]
    assert "Peak day" not in pops[1] and "peak hour" not in pops[1]
    no_rows = make_inputs(hotspots=hot.drop(columns=["dow_rows", "hour_rows"]))
    layers = geo_layers(map_html(patrol_map(**no_rows)))
    pops = [f["properties"]["p"] for f in layers["hs-hotspots"]]
    assert any("<div>Peak day: Tuesday (p 0.46)</div>" in p for p in pops)
    areas = [f["properties"]["p"] for f in geo_layers(page)["hs-areas"]]
    assert not any("Peak day" in p or "script" in p for p in areas)  # not a weekday: left out


def test_blanked_small_counts_are_said_not_shown():
    # Disclosure control (min_count) leaves counts missing: the map says so, never "nan".
    inputs = make_inputs()
    hot = inputs["hotspots"].assign(incidents=[40, 90, np.nan])
    beats = inputs["areas"]["beat"].assign(incidents=[np.nan, 300.0])
    repeat = inputs["repeat_locations"].assign(max_in_window=[np.nan, 3])
    page = map_html(
        patrol_map(**make_inputs(hotspots=hot, areas={"beat": beats}, repeat_locations=repeat))
    )
    layers = geo_layers(page)
    hidden = {f["properties"]["rank"]: f["properties"] for f in layers["hs-hotspots"]}[3]
    assert hidden["t"].endswith("<br>incidents: small count, not shown")
    assert "<th>Incidents</th><td>small count, not shown</td>" in hidden["p"]
    area = next(f["properties"] for f in layers["hs-areas"] if "B1" in f["properties"]["t"])
    assert area["t"] == "<b>Beat B1</b><br>incidents: small count, not shown"
    assert "<th>Incidents</th><td>small count, not shown</td>" in area["p"]
    assert "no data or small count" in page
    texts = [f["properties"].get(key, "") for fs in layers.values() for f in fs for key in "tp"]
    assert not any(re.search(r"\bnan\b", t, re.IGNORECASE) for t in texts)
    assert '<tr data-rank="3"><td class="n">3</td><td>Abbey Park</td>' in page
    assert re.search(r'<tr data-rank="3">.*?<td class="n">–</td>', page)
    assert '"small count, not shown"' in page  # the repeat location's busiest window


def test_only_a_patrol_map_of_its_own_elements_is_rendered():
    import folium

    with pytest.raises(InputError, match="patrol_map or change_map"):
        map_html(folium.Map(tiles=None))
    m = patrol_map(**make_inputs())
    m.elements[-1].add_child(folium.Popup("{{7*7}}"))  # a foreign element inside one of ours
    with pytest.raises(InputError, match="template source.*Popup"):
        map_html(m)
    m = patrol_map(**make_inputs())
    folium.Marker([52.6, -1.1]).add_to(m.get_root())  # beside the map, not on it
    with pytest.raises(InputError, match="not alone"):
        map_html(m)


def test_elements_are_named_by_their_place_in_the_map():
    m = patrol_map(**make_inputs(online_tiles=True))
    names = [e.get_name() for e in m.elements]
    assert names[:3] == ["setup_00002", "tile_layer_00003", "layer_00004"]
    assert names[-1] == f"chrome_{len(names) + 1:05d}"
    page = map_html(m)
    assert 'id="map_00001"' in page and "tile_layer_00003.addTo(map_00001);" in page
