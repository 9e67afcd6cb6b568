"""README/docs screenshots of the patrol map at force and street zoom, in headless Chromium.

    python scripts/screenshots.py                     # runs the demo into a temporary folder
    python scripts/screenshots.py --map outputs/map.html --offline

Writes ``docs/img/map_force.png`` (the page as it opens: the force, ranked badges, the
patrol plan in the panel) and ``docs/img/map_street.png`` (hotspot 1 at street zoom with
its popup), each reduced to a 256-colour PNG to stay well under 300 KB. With
``--offline`` the browser has no network (as the tests run it): the street tiles are then
missing and the page says so; without it, OpenStreetMap tiles load if the machine is online.
Needs Debian's chromium and chromedriver (``/usr/bin``) and selenium (the dev extra).
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
MAX_BYTES = 300_000
BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
OFFLINE_FLAGS = ("--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>")


def _driver(width: int, height: int, offline: bool, profile: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in (*BASE_FLAGS, *(OFFLINE_FLAGS if offline else ()), f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    opts.add_argument(f"--window-size={width},{height}")
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    d.set_page_load_timeout(60)
    return d


def _save(png: bytes, path: Path) -> int:
    """A 256-colour PNG of the screenshot (smaller), halved again if still too large."""
    img = Image.open(io.BytesIO(png)).convert("RGB")
    while True:
        buf = io.BytesIO()
        img.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
            buf, format="PNG", optimize=True
        )
        if buf.tell() < MAX_BYTES or img.width < 640:
            break
        img = img.resize((img.width * 3 // 4, img.height * 3 // 4), Image.Resampling.LANCZOS)
    path.write_bytes(buf.getvalue())
    return buf.tell()


def _tiles_settle(driver, seconds: float) -> None:
    """Wait for tiles to load (online) or fail (offline), at most ``seconds``."""
    end = time.time() + seconds
    while time.time() < end:
        busy = driver.execute_script(
            "return document.querySelectorAll('.leaflet-tile:not(.leaflet-tile-loaded)').length;"
        )
        if not busy:
            return
        time.sleep(0.3)


def take(map_html: Path, out: Path, *, offline: bool, width: int, height: int) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="hotspots-shots-")
    d = _driver(width, height, offline, profile)
    sizes = {}
    try:
        d.get(map_html.resolve().as_uri())
        time.sleep(1.0)
        _tiles_settle(d, 8)
        sizes["map_force.png"] = _save(d.get_screenshot_as_png(), out / "map_force.png")
        # Street zoom: the panel row of hotspot 1 zooms to it and opens its popup; the
        # panel is folded away so the street view has the screen.
        d.execute_script("""
            document.querySelector('#hs-panel tr[data-rank="1"]').click();
            """)
        time.sleep(1.0)
        d.execute_script("""
            var map = window[document.querySelector('.folium-map').id];
            document.querySelector('#hs-panel > details').open = false;
            var popup = null;
            map.eachLayer(function (l) { if (l.isPopupOpen && l.isPopupOpen()) { popup = l; } });
            map.setZoom(16, {animate: false});
            if (popup) { popup.openPopup(); }
            """)
        time.sleep(1.0)
        _tiles_settle(d, 8)
        sizes["map_street.png"] = _save(d.get_screenshot_as_png(), out / "map_street.png")
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return sizes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--map", type=Path, help="a map.html (default: run the demo)")
    p.add_argument("--out", type=Path, default=OUT, help="folder for the PNGs (docs/img)")
    p.add_argument("--offline", action="store_true", help="no network for the browser")
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=800)
    args = p.parse_args(argv)
    page = args.map
    tmp = None
    if page is None:
        from hotspots.pipeline import demo_config, run

        tmp = Path(tempfile.mkdtemp(prefix="hotspots-demo-"))
        run(demo_config(out=tmp / "out"))
        page = tmp / "out" / "map.html"
    try:
        sizes = take(page, args.out, offline=args.offline, width=args.width, height=args.height)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    for name, n in sizes.items():
        print(f"{args.out / name}: {n / 1000:.0f} KB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
