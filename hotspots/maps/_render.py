"""One self-contained, deterministic HTML page from a patrol map.

Folium links Leaflet, jQuery, Bootstrap and awesome-markers from CDNs; a patrol map
must open without a network, so its elements link nothing (:class:`InertMacro` renders
them) and the two libraries the map uses (Leaflet 1.9.4, BSD-2; Leaflet.markercluster
1.5.3, MIT; licences beside them in ``hotspots/_data/web``) are written inline. Element
names come from the map's own numbering (:class:`PatrolMap`), so equal maps give equal
bytes. Only branca's public API is used: the page parts are the Figure's ``header``,
``html`` and ``script``, filled by ``add_child`` under stable names, so a second render
replaces the first rather than adding to it.
"""

from __future__ import annotations

import base64
import functools
import re
from importlib.resources import files

import folium
from branca.element import Figure
from folium.plugins import MarkerCluster

from hotspots.maps._elements import PatrolMap, Text
from hotspots.schema import InputError

_SOURCE_MAP = re.compile(r"^//# sourceMappingURL=.*$", re.MULTILINE)


@functools.cache
def _asset(name: str) -> str:
    text = (files("hotspots") / "_data" / "web" / name).read_text(encoding="utf-8")
    return _SOURCE_MAP.sub("", text).strip()


@functools.cache
def leaflet_css() -> str:
    """Leaflet's stylesheet, its images inlined, for a page that works offline."""
    css = _asset("leaflet.css")
    for img in ("layers.png", "layers-2x.png"):
        data = (files("hotspots") / "_data" / "web" / img).read_bytes()
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        css = css.replace(f"url(images/{img})", f"url({uri})")
    return css


def leaflet_js() -> str:
    """The bundled Leaflet script (BSD-2), without its source-map comment."""
    return _asset("leaflet.js")


def _inline_assets(cluster: bool) -> str:
    css = [leaflet_css()]
    js = [leaflet_js()]
    if cluster:
        css += [_asset("MarkerCluster.css"), _asset("MarkerCluster.Default.css")]
        js.append(_asset("leaflet.markercluster.js"))
    return "".join(f"<style>{c}</style>\n" for c in css) + "".join(
        f"<script>{j}</script>\n" for j in js
    )


def map_html(m: folium.Map) -> str:
    """The map as one HTML page with its scripts and styles inline.

    Nothing is fetched when the page opens unless the map has an online tile layer
    (``patrol_map(..., online_tiles=True)``). The output is deterministic: the same map
    gives the same string, however often it is rendered. ``m`` must come from
    :func:`~hotspots.maps.patrol_map` or :func:`~hotspots.maps.change_map` (a
    :class:`PatrolMap` holding only their elements).

    Examples
    --------
    >>> html = map_html(PatrolMap(location=[52.63, -1.13], tiles=None))
    >>> "cdn.jsdelivr" in html, html == map_html(PatrolMap(location=[52.63, -1.13], tiles=None))
    (False, True)
    """
    if not isinstance(m, PatrolMap):
        raise InputError(
            f"m must be a map built by patrol_map or change_map, got {type(m).__name__}"
        )
    fig = m.get_root()
    if not isinstance(fig, Figure) or len(fig.to_dict(depth=1)["children"]) != 1:
        raise InputError("the map is not alone in its folium Figure; build it with patrol_map")
    cluster = any(isinstance(e, MarkerCluster) for e in m.elements)
    # Before the map's own header, which the render adds after it.
    fig.header.add_child(Text(_inline_assets(cluster)), name="hotspots_assets")
    return fig.render()
