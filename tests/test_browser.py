"""The patrol map in a real headless Chromium, offline: it loads, shows, and responds.

Skips cleanly when Debian's chromium or chromedriver is missing. Set HOTSPOTS_MAP_HTML to a
map written by the pipeline to check that file too. Screenshots go to outputs/browser/.
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
SHOTS = Path(__file__).resolve().parents[1] / "outputs" / "browser"
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
        {"label": ["Hot spot 99%", "Cold spot 95%"], "z": [3.4, -2.1]},
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


def _severe(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _network(driver) -> list[str]:
    names = driver.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; });"
    )
    return [n for n in names if not n.startswith("data:")]


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
    return popup.text


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
