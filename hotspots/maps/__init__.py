"""The patrol-planning map: one self-contained HTML page that works offline.

:func:`patrol_map` draws results already computed (hotspots, density surface, area
tables, Gi* cells, repeat locations, incidents, seasonal hotspots) as toggleable
Leaflet layers with a ranked patrol panel and a legend; :func:`map_html` renders it
with Leaflet inlined, so no script, style or tile is fetched when it opens (unless
``online_tiles=True``). :func:`change_map` draws ``hotspots change``'s comparison of two
periods the same way. All text from data is HTML-escaped. :func:`leaflet_css` and
:func:`leaflet_js` give the bundled Leaflet to other offline pages (the briefings).

Examples
--------
>>> import geopandas as gpd, shapely
>>> hot = gpd.GeoDataFrame({"rank": [1], "incidents": [40], "label": ["<b>High St</b>"]},
...                        geometry=[shapely.box(458000, 304000, 458300, 304300)], crs=27700)
>>> html = map_html(patrol_map(hotspots=hot, areas={}, title="Test", period="2025",
...                            params={}, attribution="police.uk"))
>>> "Hotspot 1 · &lt;b&gt;High St&lt;/b&gt;" in html, "<b>High St</b>" in html
(True, False)
"""

from hotspots.maps._build import patrol_map
from hotspots.maps._change import change_map
from hotspots.maps._render import leaflet_css, leaflet_js, map_html

__all__ = ["change_map", "leaflet_css", "leaflet_js", "map_html", "patrol_map"]
