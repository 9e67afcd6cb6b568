"""One self-contained, deterministic HTML page from a Folium map.

Folium links Leaflet, jQuery, Bootstrap and awesome-markers from CDNs; a patrol map
must open without a network, so the links are dropped and the two libraries the map
uses (Leaflet 1.9.4, BSD-2; Leaflet.markercluster 1.5.3, MIT; licences beside them in
``hotspots/_data/web``) are written inline. Folium also names every element with a
random id; renumbering the elements in tree order makes equal maps give equal bytes.
"""

from __future__ import annotations

import base64
import functools
import re
from collections import OrderedDict
from collections.abc import Iterator
from importlib.resources import files

import folium
from branca.element import Element, Figure, MacroElement
from folium.elements import ElementAddToElement, JSCSSMixin
from folium.plugins import MarkerCluster

from hotspots.maps._elements import InertMacro, Text
from hotspots.schema import InputError

#: Folium's CDN resources replaced here (leaflet) or not needed by the patrol map.
_CDN_NAMES = frozenset(
    {
        "leaflet",
        "jquery",
        "bootstrap",
        "awesome_markers",
        "leaflet_css",
        "bootstrap_css",
        "glyphicons_css",
        "awesome_markers_font_css",
        "awesome_markers_css",
        "awesome_rotate_css",
        "markerclusterjs",
        "markerclustercss",
        "markerclusterdefaultcss",
    }
)
_SOURCE_MAP = re.compile(r"^//# sourceMappingURL=.*$", re.MULTILINE)


@functools.cache
def _asset(name: str) -> str:
    text = (files("hotspots") / "_data" / "web" / name).read_text(encoding="utf-8")
    return _SOURCE_MAP.sub("", text).strip()


@functools.cache
def _leaflet_css() -> str:
    css = _asset("leaflet.css")
    for img in ("layers.png", "layers-2x.png"):
        data = (files("hotspots") / "_data" / "web" / img).read_bytes()
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        css = css.replace(f"url(images/{img})", f"url({uri})")
    return css


def _inline_assets(cluster: bool) -> str:
    css = [_leaflet_css()]
    js = [_asset("leaflet.js")]
    if cluster:
        css += [_asset("MarkerCluster.css"), _asset("MarkerCluster.Default.css")]
        js.append(_asset("leaflet.markercluster.js"))
    return "".join(f"<style>{c}</style>\n" for c in css) + "".join(
        f"<script>{j}</script>\n" for j in js
    )


def _walk(element: Element) -> Iterator[Element]:
    """Elements in tree order, dropping the ``addTo`` calls an earlier render left behind."""
    element._children = OrderedDict(
        (k, v) for k, v in element._children.items() if not isinstance(v, ElementAddToElement)
    )
    yield element
    for child in element._children.values():
        yield from _walk(child)


def map_html(m: folium.Map) -> str:
    """The map as one HTML page with its scripts and styles inline.

    Nothing is fetched when the page opens unless the map has an online tile layer
    (``patrol_map(..., online_tiles=True)``). The output is deterministic: the same map
    gives the same string. Rendering prepares ``m`` for this (element ids are renumbered
    and CDN links removed), so render it with this function rather than ``m.save``.

    Examples
    --------
    >>> from hotspots.maps._elements import PatrolMap
    >>> html = map_html(PatrolMap(location=[52.63, -1.13], tiles=None))
    >>> "cdn.jsdelivr" in html, html == map_html(PatrolMap(location=[52.63, -1.13], tiles=None))
    (False, True)
    """
    if not isinstance(m, folium.Map):
        raise InputError(f"m must be a folium.Map, got {type(m).__name__}")
    fig = m.get_root()
    if not isinstance(fig, Figure):
        raise InputError("the map is not in a folium Figure; build it with patrol_map")
    elements = list(_walk(fig))
    # Only inert elements: any other would compile its rendered text, data included, as a
    # Jinja2 template (see hotspots.maps._elements).
    foreign = sorted(
        {
            type(e).__name__
            for e in elements
            if isinstance(e, MacroElement) and not isinstance(e, InertMacro)
        }
    )
    if foreign:
        raise InputError(
            f"the map holds elements that render data as template source "
            f"({', '.join(foreign)}); build it with patrol_map"
        )
    for i, element in enumerate(elements):
        element._id = f"{i:05d}"
        if isinstance(element, JSCSSMixin):
            # Instance attributes: the class lists are shared by every folium map.
            element.default_js = [(n, u) for n, u in element.default_js if n not in _CDN_NAMES]
            element.default_css = [(n, u) for n, u in element.default_css if n not in _CDN_NAMES]
    # A page part left by an earlier render would otherwise appear twice.
    fig.header._children = OrderedDict(
        (k, v) for k, v in fig.header._children.items() if k == "meta_http"
    )
    fig.html._children = OrderedDict()
    fig.script._children = OrderedDict()
    cluster = any(isinstance(e, MarkerCluster) for e in elements)
    fig.header.add_child(Text(_inline_assets(cluster)), name="hotspots_assets")
    return fig.render()
