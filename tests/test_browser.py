"""The patrol map in a real headless Chromium, offline: it loads, shows, and responds.

Skips cleanly when Debian's chromium or chromedriver is missing. Set HOTSPOTS_MAP_HTML to a
map written by the pipeline to check that file too. Screenshots go to hotspots-browser/ in
the system's temporary folder (never into outputs/, which a run replaces as a whole).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots.grid import make_grid
from hotspots.maps import map_html, patrol_map

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SHOTS = Path(tempfile.gettempdir()) / "hotspots-browser"
#: Networking off: no background services, and a proxy on a closed loopback port so any
#: request the page made would fail and be logged as an error.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--window-size=1280,900",
)
XSS = "<script>alert(1)</script>"

#: Finds the hotspot polygon of rank ``arguments[0]`` as ``found`` on the page's map.
FIND_HOTSPOT = """
var rank = arguments[0];
var map = window[document.querySelector('.folium-map').id];
var found = null;
map.eachLayer(function (l) {
  if (l.feature && l.feature.properties.k === 'hotspot' && l.feature.properties.rank === rank) {
    found = l;
  }
});
"""


@pytest.fixture(scope="module")
def driver():
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Debian chromium and chromedriver are needed at /usr/bin")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="hotspots-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    d.set_page_load_timeout(30)
    yield d
    d.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _inputs() -> dict:
    def box(x, y, w):
        return shapely.box(x, y, x + w, y + w)

    hot = gpd.GeoDataFrame(
        {
            "rank": [1, 2],
            "hotspot_id": ["H1", "H2"],
            "incidents": [90, 40],
            "label": [XSS, "Market Street"],
            "beat": ["B1", "B2"],
            "npa": ["City", "City"],
            "area_m2": [90_000.0, 40_000.0],
            "density_km2": [1000.0, 1000.0],
            "peak_month": [7, 12],
            "trend": ["up", "none"],
            "spark_svg": [
                '<svg xmlns="http://www.w3.org/2000/svg" width="60" height="16">'
                '<polyline points="0,12 30,2 60,9" fill="none" stroke="#333"/></svg>',
                None,
            ],
        },
        geometry=[box(458600, 304600, 300), box(457300, 303300, 200)],
        crs=27700,
    )
    areas = {
        "beat": gpd.GeoDataFrame(
            {"name": ["B1", "B2"], "incidents": [120, 60]},
            geometry=[
                shapely.box(457000, 303000, 459000, 305000),
                shapely.box(459000, 303000, 461000, 305000),
            ],
            crs=27700,
        ),
        "npa": gpd.GeoDataFrame(
            {
                "name": ["City"],
                "incidents": [180],
                "rate_per_1000": [9.5],
                "significance": ["above"],
            },
            geometry=[shapely.box(457000, 303000, 461000, 305000)],
            crs=27700,
        ),
    }
    grid = make_grid((457000, 303000, 461000, 305000), cell_size_m=50)
    yy, xx = np.mgrid[0 : grid.nrows, 0 : grid.ncols]
    density = 800 * np.exp(-((xx - 35) ** 2 + (yy - 18) ** 2) / 150.0)
    cells = gpd.GeoDataFrame(
        {"gi_bin": [3, -2], "z": [3.4, -2.1]},
        geometry=[box(458600, 304600, 200), box(460200, 303200, 200)],
        crs=27700,
    )
    repeat = pd.DataFrame(
        {
            "x": [460500.0],
            "y": [304500.0],
            "location": ["On or near Bus Station"],
            "incidents_total": [25],
            "max_in_window": [6],
        }
    )
    incidents = pd.DataFrame(
        {
            "x": 458700.0 + np.arange(20) * 10,
            "y": 304700.0,
            "category": "Anti-social behaviour",
            "location": "On or near <b>X</b>",
            "when": pd.Timestamp("2025-07-01"),
        }
    )
    summer = gpd.GeoDataFrame(
        {"rank": [1], "incidents": [30]}, geometry=[box(458500, 304500, 400)], crs=27700
    )
    return dict(
        hotspots=hot,
        areas=areas,
        density=density,
        density_grid=grid,
        gistar_cells=cells,
        repeat_locations=repeat,
        incidents=incidents,
        monthly_hotspot_layers={"Summer (Jun–Aug)": summer},
        title="Patrol plan <test>",
        period="Jan–Dec 2025",
        params={"cell_size_m": 50, "bandwidth_m": 250},
        attribution="Contains police.uk data, Open Government Licence v3.0",
    )


def _open(driver, path: Path) -> None:
    driver.get(path.resolve().as_uri())
    driver.execute_script("return document.readyState")


#: The one host a page may ask for: OpenStreetMap street tiles (on by default in runs).
TILE_HOST = "https://tile.openstreetmap.org/"


def _severe(driver, *, tiles_ok: bool = True) -> list[str]:
    """Console errors; with ``tiles_ok``, tiles that failed to load offline are expected."""
    return [
        e["message"]
        for e in driver.get_log("browser")
        if e["level"] == "SEVERE" and not (tiles_ok and e["message"].startswith(TILE_HOST))
    ]


def _network(driver, *, tiles_ok: bool = True) -> list[str]:
    names = driver.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; });"
    )
    return [
        n for n in names if not n.startswith("data:") and not (tiles_ok and n.startswith(TILE_HOST))
    ]


def _layer_names(driver) -> str:
    return driver.execute_script(
        "return document.querySelector('.leaflet-control-layers').textContent;"
    )


def _click_hotspot(driver, rank: int) -> str:
    """Zoom to the hotspot, click its outline like a user, and return the popup's text."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    path = driver.execute_script(
        FIND_HOTSPOT + "map.fitBounds(found.getBounds(), {animate: false, maxZoom: 17});"
        "return found._path;",
        rank,
    )
    try:
        ActionChains(driver).move_to_element(path).click().perform()
    except WebDriverException:  # something drawn on top: fire the click Leaflet would get
        driver.execute_script(
            FIND_HOTSPOT + "found.fire('click', {latlng: found.getCenter()});", rank
        )
    popup = WebDriverWait(driver, 5).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, ".leaflet-popup-content"))
    )
    # innerText: the popup's rendered text, its title too when a tall popup reaches past
    # the map's top edge (Selenium's .text leaves out what the map clips)
    return popup.get_attribute("innerText")


def test_synthetic_map_in_chromium(driver, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    page = tmp_path / "map.html"
    page.write_text(map_html(patrol_map(**_inputs())), encoding="utf-8")
    _open(driver, page)

    assert _severe(driver) == []
    assert _network(driver) == []
    names = _layer_names(driver)
    for name in (
        "Beat: incidents",
        "NPA: incidents per 1,000 residents",
        "Density (incidents per km²)",
        "Gi* hot and cold spots",
        "Hotspots: Summer (Jun–Aug)",
        "Hotspots (ranked)",
        "Repeat locations",
        "Incidents (clustered)",
    ):
        assert name in names
    legend = driver.find_element("id", "hs-legend")
    assert legend.is_displayed() and "Density, incidents per km²" in legend.text
    assert "Gi* hot and cold spots" not in legend.text  # its layer is off at start
    assert driver.find_element("id", "hs-panel").is_displayed()
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / "map.png"))

    text = _click_hotspot(driver, 1)
    assert "Hotspot 1" in text and "Peak month" in text and "July" in text
    assert XSS in text  # the hostile label is shown as text ...
    with pytest.raises(NoAlertPresentException):  # ... and never runs
        driver.switch_to.alert  # noqa: B018
    assert driver.execute_script(
        "return document.querySelector('.leaflet-popup-content svg') !== null"
    )

    # Switching a layer on shows its legend; a panel row zooms to its hotspot.
    driver.execute_script("""
        var labels = document.querySelectorAll('.leaflet-control-layers-overlays label');
        labels.forEach(function (l) {
          if (l.textContent.indexOf('Gi* hot') >= 0) { l.querySelector('input').click(); }
        });""")
    assert "Hot spot, 99% confidence" in legend.text
    driver.find_element("css selector", '#hs-panel tr[data-rank="2"]').click()
    WebDriverWait(driver, 5).until(
        ec.text_to_be_present_in_element(
            (By.CSS_SELECTOR, ".leaflet-popup-content"), "Hotspot 2 · Market Street"
        )
    )
    assert _severe(driver) == []
    driver.save_screenshot(str(SHOTS / "map_popup.png"))


@pytest.fixture(scope="module")
def demo_map(tmp_path_factory) -> Path:
    """The demo's map: HOTSPOTS_MAP_HTML if given, else ``hotspots demo`` run here."""
    target = os.environ.get("HOTSPOTS_MAP_HTML")
    if target:
        return Path(target)
    from hotspots.pipeline import demo_config, run

    out = tmp_path_factory.mktemp("demo")
    run(demo_config(out=out))
    return out / "map.html"


def test_pipeline_map_in_chromium(driver, demo_map: Path):
    """The map `hotspots demo` writes: offline, every layer, legend, popups with peak month."""
    page = demo_map
    assert page.is_file(), f"{page} is not a file"
    _open(driver, page)
    assert _severe(driver) == []
    assert _network(driver) == []
    names = _layer_names(driver)
    assert "Hotspots (ranked)" in names
    assert "Density (incidents per km²)" in names
    assert ": incidents" in names  # at least one area layer
    assert driver.find_element("id", "hs-legend").is_displayed()
    for name in ("Beat:", "NPA:", "Gi* hot and cold spots", "Repeat locations", "Summer"):
        assert name.lower() in names.lower(), name
    text = _click_hotspot(driver, 1)
    assert "Hotspot 1" in text and "Incidents" in text
    assert "Peak month" in text
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / "demo_map.png"))


#: Jinja2 syntax of every kind (see test_template_injection.py).
JINJA = "{{7*7}} {% if 1 %}x{% endif %} {# {% }}"


def test_jinja_syntax_shows_as_text_in_chromium(driver, tmp_path):
    """Template syntax in a label, an area name, a layer name and the title is shown as
    typed in the panel, the popup, the layer control and the page title; nothing runs."""
    from selenium.common.exceptions import NoAlertPresentException

    inputs = _inputs()
    inputs["hotspots"] = inputs["hotspots"].assign(label=[f"Label {JINJA}", "Market Street"])
    inputs["areas"]["beat"] = inputs["areas"]["beat"].assign(name=[f"Beat {JINJA}", "B2"])
    inputs["monthly_hotspot_layers"] = {f"Season {JINJA}": inputs["hotspots"].head(1)}
    inputs["title"] = f"Title {JINJA}"
    page = tmp_path / "map.html"
    page.write_text(map_html(patrol_map(**inputs)), encoding="utf-8")
    _open(driver, page)

    assert _severe(driver) == []
    assert driver.title == f"Title {JINJA}"
    panel = driver.find_element("id", "hs-panel").text
    assert f"Title {JINJA}" in panel and f"Label {JINJA}" in panel
    assert f"Season {JINJA}" in _layer_names(driver)
    assert f"Label {JINJA}" in _click_hotspot(driver, 1)
    beat_tip = driver.execute_script("""
        var map = window[document.querySelector('.folium-map').id], names = [];
        map.eachLayer(function (l) { if (l.getPopup && l.getPopup() && l.feature &&
            l.feature.properties.k !== 'hotspot') {
          var c = l.getPopup().getContent();
          names.push(typeof c === 'function' ? c(l) : c); } });
        return names.join(' ');""")
    assert "Beat {{7*7}} {% if 1 %}x{% endif %} {# {% }}" in beat_tip
    assert "Beat 49" not in beat_tip
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert  # noqa: B018
    assert _severe(driver) == []


# --- issue 18: a map a planner can act on ------------------------------------------------

BADGES = "return [...document.querySelectorAll('.leaflet-marker-icon.hs-rank')]"


def _crowded_inputs(**changes) -> dict:
    """30 patrol hotspots packed into the city centre and 10 others, with a plan."""
    from hotspots.patrol import patrol_plan

    inputs = _inputs()
    rng = np.random.default_rng(18)
    xs = 458000 + rng.uniform(0, 1500, 40)
    ys = 303500 + rng.uniform(0, 1200, 40)
    long = "Granby Street / Belvoir Street / Charles Street (Shopping Area), Castle"
    hot = gpd.GeoDataFrame(
        {
            "rank": np.arange(1, 41),
            "hotspot_id": [f"H{i}" for i in range(1, 41)],
            "incidents": np.arange(400, 0, -10),
            "label": [long if i % 3 == 0 else f"Street {i}" for i in range(40)],
            "beat": ["Castle"] * 40,
            "npa": ["Leicester City"] * 40,
            "peak_month": [7] * 40,
            "trend": ["none"] * 40,
            "patrol": [True] * 30 + [False] * 10,
            "artefact_note": ["most incidents are recorded at one point"] + [None] * 39,
        },
        geometry=[shapely.box(x, y, x + 60, y + 60) for x, y in zip(xs, ys, strict=True)],
        crs=27700,
    )
    plan = patrol_plan(
        pd.DataFrame(hot[hot["patrol"]].drop(columns="geometry")), total_incidents=20_000
    )
    inputs.update(hotspots=hot, patrol_plan=plan, plan_note="15-minute visits (Koper 1995)")
    inputs.update(changes)
    return inputs


def _write(tmp_path, name: str, **changes) -> Path:
    page = tmp_path / name
    page.write_text(map_html(patrol_map(**_crowded_inputs(**changes))), encoding="utf-8")
    return page


def test_panel_table_fits_at_1280_and_1920(driver, tmp_path):
    page = _write(tmp_path, "panel.html")
    try:
        for width in (1280, 1920):
            driver.set_window_size(width, 900)
            _open(driver, page)
            sizes = driver.execute_script("""
                var p = document.getElementById('hs-panel');
                return [p.clientWidth].concat([...p.querySelectorAll('table.hs-list')].map(
                  function (t) { return t.getBoundingClientRect().width; }),
                  [...p.querySelectorAll('.hs-scroll')].map(function (s) {
                    return s.scrollWidth - s.clientWidth; }));""")
            panel, tables, overflow = sizes[0], sizes[1:3], sizes[3:]
            assert len(tables) == 2 and all(t <= panel for t in tables), (width, sizes)
            assert all(o <= 0 for o in overflow), (width, sizes)
            # Clicking a plan row keeps the # column in view.
            driver.find_element("css selector", '#hs-panel table.hs-plan tr[data-rank="7"]').click()
            left = driver.execute_script("""
                var td = document.querySelector('#hs-panel table.hs-plan tr[data-rank="7"] td');
                var p = document.getElementById('hs-panel').getBoundingClientRect();
                var r = td.getBoundingClientRect();
                return [r.left - p.left, p.right - r.right];""")
            assert left[0] >= 0 and left[1] >= 0, (width, left)
            assert _severe(driver) == [] and _network(driver, tiles_ok=False) == []
            driver.save_screenshot(str(tmp_path / f"panel_{width}.png"))
    finally:
        driver.set_window_size(1280, 900)
    panel = driver.find_element("id", "hs-panel").text
    assert "Patrol plan" in panel and "14 × 15 min" in panel
    assert "most incidents are recorded at one point" in panel
    assert "Trend" not in panel  # "no clear trend" everywhere says nothing


def test_rank_badges_do_not_overlap_at_force_zoom(driver, tmp_path):
    _open(driver, _write(tmp_path, "badges.html"))
    boxes = driver.execute_script(
        BADGES + ".map(function (b) {"
        " var r = b.getBoundingClientRect();"
        " return [r.left, r.top, r.right, r.bottom, b.textContent]; });"
    )
    assert boxes and "1" in [b[4] for b in boxes]  # the top rank always shows
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
            assert apart, (a, b)
    # Zoomed in, more badges show; and only patrol hotspots are on at the start.
    n_force = len(boxes)
    n_street = driver.execute_script(
        "var map = window[document.querySelector('.folium-map').id];"
        "map.setZoom(17, {animate: false});" + BADGES + ".length;"
    )
    assert n_street >= n_force
    # Badges are drawn above the repeat-location circles and hotspot outlines.
    z = driver.execute_script("""
        var map = window[document.querySelector('.folium-map').id];
        return ['hs-labels', 'hs-points', 'hs-hotspots'].map(function (p) {
          return Number(getComputedStyle(map.getPane(p)).zIndex); });""")
    assert z[0] > z[1] > z[2]
    names = _layer_names(driver)
    assert "Other hotspots" in names
    off = driver.execute_script("""
        var labels = document.querySelectorAll('.leaflet-control-layers-overlays label');
        return [...labels].filter(function (l) {
          return l.textContent.indexOf('Other hotspots') >= 0; })[0].querySelector('input').checked;
        """)
    assert off is False
    assert _severe(driver) == []


def test_tooltip_is_hidden_when_a_popup_opens(driver, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains

    _open(driver, _write(tmp_path, "tips.html"))
    # Hover a beat: its tooltip shows.
    hovered = driver.execute_script("""
        var map = window[document.querySelector('.folium-map').id], found = null;
        map.eachLayer(function (l) { if (l.feature && l.feature.properties.k === 'area' &&
                                          !found) { found = l; } });
        found.openTooltip(found.getBounds().getCenter());
        return document.querySelectorAll('.leaflet-tooltip').length;""")
    assert hovered >= 1
    _click_hotspot(driver, 1)
    ActionChains(driver).pause(0.2).perform()
    visible = driver.execute_script("""
        return [...document.querySelectorAll('.leaflet-tooltip')].filter(function (t) {
          var r = t.getBoundingClientRect();
          return t.offsetParent !== null && r.width > 0 && r.height > 0; }).length;""")
    assert visible == 0
    assert driver.find_element("css selector", ".leaflet-popup-content").is_displayed()
    assert _severe(driver) == []


def test_offline_map_has_no_tile_url(driver, tmp_path):
    page = _write(tmp_path, "offline.html", online_tiles=False)
    text = page.read_text(encoding="utf-8")
    assert "openstreetmap" not in text.lower()
    _open(driver, page)
    assert _severe(driver, tiles_ok=False) == []
    assert _network(driver, tiles_ok=False) == []
    assert "OpenStreetMap" not in _layer_names(driver)


def test_tiles_by_default_and_the_page_works_offline(driver, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    page = _write(tmp_path, "tiles.html", online_tiles=True)
    _open(driver, page)
    assert "OpenStreetMap (online)" in _layer_names(driver)
    # Offline, only tile requests fail; the page says so and everything else works.
    assert _severe(driver) == [] and _network(driver) == []
    WebDriverWait(driver, 5).until(ec.visibility_of_element_located((By.ID, "hs-tiles-note")))
    driver.find_element("css selector", '#hs-panel tr[data-rank="2"]').click()
    WebDriverWait(driver, 5).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".leaflet-popup-content"), "Hotspot 2")
    )
    popup = driver.find_element("css selector", ".leaflet-popup-content").text
    assert "14 visits a week × 15 min" in popup
    # At street zoom the area shading fades so the streets would show through.
    fade = (
        "var map = window[document.querySelector('.folium-map').id];"
        "if (map.getZoom() < 16) { map.setZoom(16, {animate: false}); }"
        "return Number(getComputedStyle(map.getPane('hs-areas')).opacity);"
    )
    WebDriverWait(driver, 5).until(lambda d: d.execute_script(fade) < 1)
    assert _severe(driver) == []


# --- Patrol briefings (hotspots.report_briefing): street map, outline PNG fallback -------

BRIEFING_XSS = "</script><script>alert(1)</script>"
#: Records alert() calls instead of showing them (set before any page script runs).
RECORD_ALERTS = (
    "window.__alerts = []; window.alert = function (m) { window.__alerts.push(String(m)); };"
)
#: One grey pixel: a "tile" that loads with the network off.
TILE_PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mN4+P/"
    "/fwAJXwPYrHvt6AAAAABJRU5ErkJggg=="
)


def _briefing_page(tmp_path: Path, name: str, label: str, *, tiles: str | None = None) -> Path:
    from hotspots.report_briefing import TILE_URL, briefing_html, briefing_map_png

    hot = gpd.GeoDataFrame(
        {"rank": [1, 2], "label": [label, "Granby Street / Belvoir Street"]},
        geometry=[
            shapely.box(458000, 304000, 458200, 304200),
            shapely.box(458600, 304100, 458800, 304300),
        ],
        crs=27700,
    )
    beats = gpd.GeoDataFrame(
        {"name": [f"Beat {label}"]},
        geometry=[shapely.box(457000, 303000, 460000, 306000)],
        crs=27700,
    )
    plan = pd.DataFrame(
        {
            "rank": [1, 2],
            "hotspot_id": ["h1", "h2"],
            "label": [label, "Granby Street / Belvoir Street"],
            "beat": [label, "B2"],
            "visits_per_week": [14, 14],
            "minutes_per_visit": [15.0, 15.0],
            "when": ["Jun–Aug", "all year"],
            "expected_share": [0.01, 0.005],
            "incidents": [40, 20],
            "note": ["", ""],
        }
    )
    png = briefing_map_png(
        hotspots=hot,
        areas_layer=beats,
        density=None,
        density_grid=None,
        title="Briefing",
        attribution="police.uk",
    )
    page = briefing_html(
        area_name=label,
        area_kind="NPA",
        plan=plan,
        map_png=png,
        title="Briefing",
        period="2025",
        plan_note="rule",
        attribution="police.uk",
        online_map=True,
        hotspots=hot,
        areas_layer=beats,
    )
    if tiles is not None:
        assert TILE_URL in page
        page = page.replace(TILE_URL, tiles)
    path = tmp_path / name
    path.write_text(page, encoding="utf-8")
    return path


def _open_recording_alerts(driver, path: Path) -> None:
    script = driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_ALERTS}
    )
    try:
        _open(driver, path)
    finally:
        driver.execute_cdp_cmd(
            "Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]}
        )


def test_briefing_offline_shows_the_outline_map_and_runs_no_data(driver, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.support.ui import WebDriverWait

    page = _briefing_page(tmp_path, "briefing.html", BRIEFING_XSS)
    _open_recording_alerts(driver, page)
    # No tile loads (network off): the street map gives way to the outline PNG.
    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script("return document.getElementById('hs-live').hidden;")
    )
    png = driver.find_element("css selector", "#hs-png")
    assert png.is_displayed() and png.size["height"] > 200
    assert driver.execute_script("return document.getElementById('hs-png').naturalWidth;") > 0
    assert not driver.find_element("css selector", "#hs-live").is_displayed()
    assert driver.find_element("css selector", ".png-note").is_displayed()
    # The hostile label is text, in the list; it ran nothing.
    assert driver.execute_script("return window.__alerts;") == []
    with pytest.raises(NoAlertPresentException):  # no alert opened
        _ = driver.switch_to.alert
    cells = [e.text for e in driver.find_elements("css selector", "tbody td:nth-child(2)")]
    assert cells[0] == BRIEFING_XSS
    assert _severe(driver) == [] and _network(driver) == []
    # In print the outline map is the map.
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert driver.find_element("css selector", "#hs-png").is_displayed()
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def test_briefing_street_map_replaces_the_outline_map_when_tiles_load(driver, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    page = _briefing_page(tmp_path, "briefing-tiles.html", BRIEFING_XSS, tiles=TILE_PIXEL)
    _open_recording_alerts(driver, page)
    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script("return document.body.classList.contains('hs-live');")
    )
    live = driver.find_element("css selector", "#hs-live")
    assert live.is_displayed() and live.size["height"] > 300
    assert not driver.find_element("css selector", "#hs-png").is_displayed()
    badges = [e.text for e in driver.find_elements("css selector", ".hs-badge")]
    assert badges == ["1", "2"]
    # Labels are text nodes in the tooltips: the hostile one reads back as written.
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    outlines = [
        p
        for p in driver.find_elements("css selector", ".live-map path.leaflet-interactive")
        if p.get_attribute("stroke") == "#c0392b"
    ]
    assert len(outlines) == 2
    ActionChains(driver).move_to_element(outlines[0]).perform()
    tip = WebDriverWait(driver, 5).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, ".leaflet-tooltip"))
    )
    assert tip.text == f"#1 {BRIEFING_XSS}"
    assert driver.execute_script("return window.__alerts;") == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / "briefing-street-map.png"))
    assert _severe(driver) == [] and _network(driver) == []
    # Printed, the street map stays (without zoom buttons) and fits the A4 column.
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert driver.find_element("css selector", "#hs-live").is_displayed()
        assert not driver.find_element("css selector", ".leaflet-control-zoom").is_displayed()
        assert not driver.find_element("css selector", "#hs-png").is_displayed()
        pdf = driver.execute_cdp_cmd("Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69})
        assert len(pdf["data"]) > 1000
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


# --- hotspots change: change_map.html ----------------------------------------------------


def _change_page(tmp_path: Path, name: str) -> tuple[Path, str]:
    """A change map with every cell class and status, and a hostile area name."""
    from hotspots.change import hotspot_change, s_index
    from hotspots.grid import Grid
    from hotspots.maps import change_map

    hostile = "Beat {{7*7}} </script><b>x"
    b = np.zeros((1, 18), int)
    a = np.zeros((1, 18), int)
    for col, (vb, va) in {
        0: (3, 2), 2: (0, 1), 4: (2, 0), 6: (1, -1), 8: (-2, -2), 10: (0, -1),
        12: (-1, 0), 14: (-3, 3), 16: (1, 0), 17: (0, 2),
    }.items():  # fmt: skip
        b[0, col], a[0, col] = vb, va
    grid = Grid(458000.0, 304100.0, 100.0, 1, 18)
    counts = np.full((1, 18), 9.0)
    hc = hotspot_change(
        b, a, grid=grid, counts_before=counts, counts_after=2 * counts, permutations=0
    )
    table, summary = s_index(pd.Series({hostile: 30, "B2": 70}), pd.Series({hostile: 5, "B2": 95}))
    areas = gpd.GeoDataFrame(
        table.rename(columns={"area": "name"}),
        geometry=[
            shapely.box(457900, 303900, 458900, 304200),
            shapely.box(458900, 303900, 459900, 304200),
        ],
        crs=27700,
    )
    m = change_map(
        cells=hc.cells,
        hotspots=hc.hotspots,
        areas={"beat": areas},
        similarity={**hc.similarity.params(), "fuzzy_kappa": 0.5, "expected_similarity": 0.8},
        s_index={"beat": summary},
        rules={"Hotspot status": hc.summary["hotspot_rule"]},
        title="Hotspot change",
        period="Jun 2025 against Jul 2025",
        params={"Cell size": "100 m"},
        attribution="police.uk",
    )
    page = tmp_path / name
    page.write_text(map_html(m), encoding="utf-8")
    return page, hostile


def test_change_map_in_chromium(driver, tmp_path):
    """Offline: no console error or request; legend and panel shown; names as typed."""
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    page, hostile = _change_page(tmp_path, "change_map.html")
    _open(driver, page)
    assert _severe(driver, tiles_ok=False) == []
    assert _network(driver, tiles_ok=False) == []
    legend = driver.find_element("id", "hs-legend")
    assert legend.is_displayed()
    for text in ("persistent hot", "new hot", "gone hot", "cold to hot", "gone cold"):
        assert text in legend.text
    assert "shifted (1)" in legend.text and "lower share after (1)" in legend.text
    panel = driver.find_element("id", "hs-panel")
    assert panel.is_displayed()
    assert "Fuzzy kappa" in panel.text and "0.5" in panel.text
    assert "S-index, Beat (0 of 2 areas similar)" in panel.text
    assert "1 persistent, 1 shifted, 2 new, 2 gone" in panel.text
    names = _layer_names(driver)
    assert "Cells: change of hot and cold spots" in names and "Beat: S-index result" in names
    # the hostile area name in its popup, as typed; nothing ran
    text = driver.execute_script("""
        var map = window[document.querySelector('.folium-map').id], out = [];
        map.eachLayer(function (l) {
          if (l.feature && l.feature.properties.k === 'area') {
            l.openPopup();
            out.push(l.getPopup().getElement().querySelector('.leaflet-popup-content').innerText);
          } });
        return out.join(' | ');""")
    assert hostile in text and "Beat 49" not in text
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert  # noqa: B018
    # a row of the panel zooms to its hotspot and opens its popup
    row = driver.find_element("css selector", "#hs-panel tr[data-rank]")
    status = row.find_elements("css selector", "td")[1].text
    row.click()
    WebDriverWait(driver, 5).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".leaflet-popup-content"), status)
    )
    assert _severe(driver, tiles_ok=False) == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / "change_map.png"))
