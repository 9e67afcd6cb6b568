"""Folium elements of the patrol map: overlays written as small Leaflet expressions.

Folium's GeoJson/Tooltip/Popup/Choropleth classes put data into HTML unescaped and
pull in CDN scripts (d3 for colormap legends, jQuery for popups); these few elements
take JavaScript built from escaped text and embed data as compact JSON instead.

Data is never template source. branca's ``MacroElement.render`` puts each rendered macro
on the page as ``Element(text)``, and ``Element`` compiles its text as a Jinja2 template:
a ``Location`` of ``{{ 7*7 }}`` would show 49, ``{# 4`` would stop the run, and a
``{{ … }}`` payload would run code. Every element of the patrol map therefore renders
through :class:`InertMacro`, which puts the rendered text on the page as :class:`Text`,
written out as it is.

The same page for the same map: folium names every element with a random id, so a
:class:`PatrolMap` numbers the elements added to it (``serial``) and
:meth:`InertMacro.get_name` uses that number. Nothing is fetched from a CDN: folium's
render steps that link its CDN scripts (``JSCSSMixin``) and add ``addTo`` calls as
compiled templates (``Layer``) are replaced by :meth:`InertMacro.render`, which writes a
shown layer's ``addTo`` itself, and :func:`hotspots.maps.map_html` inlines the two
libraries the page uses.
"""

from __future__ import annotations

import json
from typing import Any

from branca.element import Element, Figure, MacroElement
from folium import Map, TileLayer
from folium.map import Layer, LayerControl
from folium.plugins import MarkerCluster
from folium.template import Template
from jinja2 import Template as _Jinja

from hotspots.schema import InputError

#: Leaflet panes (name, z-index, takes clicks): later stages draw above earlier ones
#: whatever order layers are toggled in.
PANES = (
    ("hs-areas", 405, True),
    ("hs-density", 410, False),
    ("hs-gistar", 420, True),
    ("hs-seasonal", 430, True),
    ("hs-hotspots", 440, True),
    ("hs-points", 450, True),
    ("hs-labels", 460, False),
)


def js_json(obj: object) -> str:
    """Compact JSON that is safe inside ``<script>`` (no ``</script>`` can occur).

    Examples
    --------
    >>> js_json({"p": "</script><b>"})
    '{"p":"\\\\u003c/script>\\\\u003cb>"}'
    """
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


class Text(Element):
    """Text already rendered for the page, written out as it is: never compiled as a template.

    Examples
    --------
    >>> Text("Cafe {{name}} Bar {# 4").render()
    'Cafe {{name}} Bar {# 4'
    """

    def __init__(self, text: str) -> None:
        super().__init__()  # the class template, compiled once by branca: not ``text``
        self._name = "Text"
        self.text = text

    def render(self, **_kwargs: object) -> str:  # branca passes render options
        return self.text


#: A shown layer's ``addTo`` call, as folium's ``ElementAddToElement`` writes it.
_ADD_TO = "\n            {layer}.addTo({parent});\n        "


class InertMacro(MacroElement):
    """A MacroElement whose rendered macros reach the page as :class:`Text`.

    Put it first among the bases of a folium subclass (``class X(InertMacro, folium.Y)``):
    its :meth:`render` then replaces folium's, which would link CDN scripts and add the
    ``addTo`` call of a shown layer as a compiled template. The one subclass that lists it
    second is :class:`EscapedLayerControl`, whose folium render collects the layers first.

    Attributes
    ----------
    serial : int or None
        The element's number in its map (set by :meth:`PatrolMap.add_child`); None until
        then, when the name has folium's random id.
    """

    serial: int | None = None

    def parent(self) -> Element:
        """The element this one was added to (a :class:`TypeError` before it is added)."""
        if self._parent is None:
            raise TypeError(f"{self.get_name()} is not added to a map")
        return self._parent

    def get_name(self) -> str:
        """``<kind>_<serial>`` (``layer_00004``): the same for the same map.

        Examples
        --------
        >>> m = PatrolMap(location=[52.6, -1.1], tiles=None).add_child(Setup(""))
        >>> m.get_name(), m.elements[0].get_name()
        ('map_00001', 'setup_00002')
        """
        name = super().get_name()
        if self.serial is None:
            return name
        return f"{name.rsplit('_', 1)[0]}_{self.serial:05d}"

    # branca annotates Element.render as returning the page text, but MacroElement.render
    # returns nothing (its output goes into the Figure), and so does this one.
    def render(self, **kwargs: object) -> None:  # type: ignore[override]
        """Each macro of the template on the page as :class:`Text`, then the children, then
        the ``addTo`` call of a shown layer; any other kind of element is refused."""
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise TypeError(f"{self.get_name()} is not in a folium Figure")
        module = self._template.module
        for part in ("header", "html", "script"):
            macro = getattr(module, part, None)
            if macro is not None:
                getattr(figure, part).add_child(Text(macro(self, kwargs)), name=self.get_name())
        for child in self._children.values():
            if not isinstance(child, InertMacro):
                raise InputError(
                    f"the map holds elements that render data as template source "
                    f"({type(child).__name__}); build it with patrol_map"
                )
            child.render(**kwargs)
        if isinstance(self, Layer) and self.show:
            add_to = _ADD_TO.format(layer=self.get_name(), parent=self.parent().get_name())
            figure.script.add_child(Text(add_to), name=self.get_name() + "_add")


class PatrolMap(InertMacro, Map):
    """``folium.Map`` rendered inertly, numbering the elements added to it.

    The map is number 1 (its Figure would be 0) and each element added takes the next
    number, so equal maps give equal pages. ``elements`` lists them in the order added.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # folium.Map's arguments
        # Before folium's __init__, which may add a tile layer.
        self.serial = 1
        self._elements: list[Element] = []
        super().__init__(*args, **kwargs)

    @property
    def elements(self) -> tuple[Element, ...]:
        """The elements added to the map, in order."""
        return tuple(self._elements)

    def add_child(
        self, child: Element, name: str | None = None, index: int | None = None
    ) -> PatrolMap:
        if isinstance(child, InertMacro) and child.serial is None:
            child.serial = 2 + len(self._elements)  # the map is number 1
        self._elements.append(child)
        super().add_child(child, name=name, index=index)
        return self


def set_page_title(m: Map, title_html: str) -> None:
    """The page's ``<title>`` (already escaped): the Figure folium made around ``m``."""
    figure = m.get_root()
    if not isinstance(figure, Figure):
        raise TypeError("the map is not in a folium Figure")
    figure.title = title_html


class OnlineTiles(InertMacro, TileLayer):
    """``folium.TileLayer`` rendered inertly (see :class:`InertMacro`)."""


class ScriptLayer(InertMacro, Layer):
    """An overlay whose Leaflet layer is the JavaScript expression ``js`` (``map`` in scope).

    ``name`` is shown as HTML by Leaflet's layer control, so it must be escaped already;
    ``legend`` is this layer's (escaped) legend section, shown while the layer is on.
    """

    _template = Template(
        "{% macro script(this, kwargs) %}\n"
        "var {{ this.get_name() }} = (function (map) {\n"
        "  return {{ this.js }};\n"
        "})({{ this._parent.get_name() }});\n"
        "{% endmacro %}"
    )

    def __init__(self, js: str, *, name: str, show: bool, legend: str = "") -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "Layer"
        self.js = js
        self.legend = legend


class IncidentCluster(InertMacro, MarkerCluster):
    """Clustered circle markers for incidents, built in the browser from compact rows.

    ``js`` is an expression that returns the list of markers; it is added in bulk.
    """

    _template = Template(
        "{% macro script(this, kwargs) %}\n"
        "var {{ this.get_name() }} = L.markerClusterGroup({{ this.options|tojavascript }});\n"
        "{{ this.get_name() }}.addLayers({{ this.js }});\n"
        "{% endmacro %}"
    )

    def __init__(self, js: str, *, name: str, show: bool, legend: str = "") -> None:
        super().__init__(
            name=name,
            show=show,
            maxClusterRadius=40,
            showCoverageOnHover=False,
            chunkedLoading=True,
        )
        self.js = js
        self.legend = legend


class EscapedLayerControl(LayerControl, InertMacro):
    """Folium's layer control with names written as UTF-8 JSON (already HTML-escaped).

    folium's render lists the map's layers, then ends in :meth:`InertMacro.render`.
    """

    _template = Template(
        "{% macro script(this, kwargs) %}\n"
        "var {{ this.get_name() }} = L.control.layers(\n"
        "  { {%- for key, val in this.base_layers.items() %}{{ this.js(key) }}: {{ val }},"
        "{%- endfor %} },\n"
        "  { {%- for key, val in this.overlays.items() %}{{ this.js(key) }}: {{ val }},"
        "{%- endfor %} },\n"
        "  {{ this.options|tojavascript }}\n"
        ").addTo({{ this._parent.get_name() }});\n"
        "{% endmacro %}"
    )

    @staticmethod
    def js(text: str) -> str:
        return js_json(text)


_SETUP_JS = _Jinja("""
(function (map) {
  {%- for name, z, clicks in panes %}
  map.createPane({{ name|tojson }}).style.zIndex = {{ z }};
  {%- if not clicks %}
  map.getPane({{ name|tojson }}).style.pointerEvents = 'none';
  {%- endif %}
  {%- endfor %}
})({{ map }});
function hsPopup() {
  // Popup options that keep an opened popup clear of the patrol panel.
  var panel = document.getElementById('hs-panel');
  var left = panel && panel.offsetWidth < window.innerWidth / 2
    ? panel.offsetLeft + panel.offsetWidth + 10 : 10;
  return {maxWidth: 380, autoPanPaddingTopLeft: [left, 10]};
}
function hsGeoJson(data, styles, pane) {
  var popup = hsPopup();
  return L.geoJSON(data, {
    pane: pane,
    style: function (f) { return styles[f.properties.s]; },
    pointToLayer: function (f, ll) {
      return L.circleMarker(ll, L.extend({pane: pane}, styles[f.properties.s]));
    },
    onEachFeature: function (f, layer) {
      if (f.properties.p) { layer.bindPopup(f.properties.p, popup); }
      if (f.properties.t) { layer.bindTooltip(f.properties.t, {sticky: true}); }
    }
  });
}
function hsLabels(rows, pane) {
  // rows: [lat, lon, text]; small round badges that do not catch clicks.
  return rows.map(function (r) {
    return L.marker([r[0], r[1]], {pane: pane, interactive: false, keyboard: false,
      icon: L.divIcon({className: 'hs-rank', html: r[2], iconSize: [22, 22]})});
  });
}
function hsDeclutter(map, group, markers, gap) {
  // Badges in rank order: one that would touch a badge already shown is left out at this
  // zoom, so the better rank always wins and no two badges overlap.
  function run() {
    var shown = [];
    markers.forEach(function (m) {
      var p = map.latLngToLayerPoint(m.getLatLng());
      var clash = shown.some(function (q) {
        return Math.abs(p.x - q.x) < gap && Math.abs(p.y - q.y) < gap;
      });
      if (clash) { group.removeLayer(m); } else { shown.push(p); group.addLayer(m); }
    });
  }
  map.on('zoomend viewreset', run);
  run();
}
""")


class Setup(InertMacro):
    """Panes, shared JavaScript helpers and the page CSS; add it to the map first."""

    _template = Template(
        "{% macro header(this, kwargs) %}<style>{{ this.css }}</style>{% endmacro %}\n"
        "{% macro script(this, kwargs) %}{{ this.js() }}{% endmacro %}"
    )

    def __init__(self, css: str) -> None:
        super().__init__()
        self._name = "Setup"
        self.css = css

    def js(self) -> str:
        return _SETUP_JS.render(panes=PANES, map=self.parent().get_name())


_CHROME_JS = _Jinja("""
(function (map, legends, hot, attribution, bounds, tiles) {
  function fit(b, options) {
    // Keep what is fitted clear of the patrol panel when the screen is wide enough.
    var panel = document.getElementById('hs-panel');
    var left = panel.offsetWidth < window.innerWidth / 2 ? panel.offsetLeft + panel.offsetWidth : 0;
    map.fitBounds(b, L.extend({paddingTopLeft: [left, 0]}, options));
  }
  // Without animation, so the page opens at its final view.
  if (bounds) { fit(bounds, {animate: false}); }
  function sync() {
    legends.forEach(function (x) {
      document.getElementById(x[1]).style.display = map.hasLayer(x[0]) ? '' : 'none';
    });
  }
  map.on('overlayadd overlayremove', sync);
  sync();
  // The legend sits in the map's bottom-right corner, stacked above the attribution.
  var legend = L.control({position: 'bottomright'});
  legend.onAdd = function () {
    var div = document.getElementById('hs-legend');
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    return div;
  };
  legend.addTo(map);
  document.querySelectorAll('#hs-panel tr[data-rank]').forEach(function (tr) {
    tr.addEventListener('click', function () {
      var rank = Number(tr.getAttribute('data-rank'));
      var box = tr.closest('.hs-scroll');
      if (box) { box.scrollLeft = 0; }  // the # column stays in view
      if (!hot) { return; }
      if (!map.hasLayer(hot)) { map.addLayer(hot); }
      hot.hsGeo.eachLayer(function (l) {
        if (l.feature.properties.rank === rank) {
          fit(l.getBounds(), {maxZoom: 17});
          l.openPopup();
        }
      });
    });
  });
  document.querySelectorAll('#hs-panel tr[data-rank]').forEach(function (tr) {
    tr.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); tr.click(); }
    });
  });
  if (attribution && map.attributionControl) {
    map.attributionControl.addAttribution(attribution);
  }
  // A popup hides every tooltip while it is open, so none covers it.
  var tips = map.getPane('tooltipPane');
  map.on('popupopen', function () {
    tips.style.display = 'none';
    map.eachLayer(function (l) { if (l.closeTooltip) { l.closeTooltip(); } });
  });
  map.on('popupclose', function () { tips.style.display = ''; });
  // At street zoom the area and density shading fade, so the streets show through.
  function street() {
    var near = map.getZoom() >= {{ street_zoom }};
    map.getPane('hs-areas').style.opacity = near ? 0.35 : '';
    map.getPane('hs-density').style.opacity = near ? 0.3 : '';
  }
  map.on('zoomend', street);
  street();
  if (tiles) {
    // Offline, or where tiles are blocked, the map works without them: say so once.
    var said = false;
    tiles.on('tileerror', function () {
      if (said) { return; }
      said = true;
      var note = document.getElementById('hs-tiles-note');
      if (note) { note.style.display = ''; }
    });
  }
})({{ map }}, [{% for var, id in legends %}[{{ var }}, {{ id|tojson }}]{{ "," if not loop.last }}
{%- endfor %}], {{ hot }}, {{ attribution }}, {{ bounds }}, {{ tiles }});
""")


class Chrome(InertMacro):
    """The patrol panel, the legend and their behaviour; add it to the map last.

    ``panel`` is escaped HTML; legend sections come from the layers' ``legend`` text.
    """

    _template = Template(
        "{% macro html(this, kwargs) %}{{ this.panel }}{{ this.legend_html() }}{% endmacro %}\n"
        "{% macro script(this, kwargs) %}{{ this.js() }}{% endmacro %}"
    )

    def __init__(
        self,
        panel: str,
        *,
        hotspots: Layer | None,
        attribution: str,
        bounds: list[list[float]] | None,
        tiles: Layer | None = None,
        street_zoom: int = 15,
    ) -> None:
        super().__init__()
        self._name = "Chrome"
        self.panel = panel
        self.hotspots = hotspots
        self.tiles = tiles
        self.street_zoom = int(street_zoom)
        self.attribution = attribution
        self.bounds = bounds

    def _legend_layers(self) -> list[ScriptLayer | IncidentCluster]:
        parent = self.parent()
        if not isinstance(parent, PatrolMap):
            raise TypeError(f"{self.get_name()} belongs on a PatrolMap")
        return [
            c for c in parent.elements if isinstance(c, ScriptLayer | IncidentCluster) and c.legend
        ]

    def legend_html(self) -> str:
        parts = [
            f'<div class="hs-leg" id="hs-leg-{i}">{layer.legend}</div>'
            for i, layer in enumerate(self._legend_layers())
        ]
        return f'<div id="hs-legend" class="hs-box">{"".join(parts)}</div>'

    def js(self) -> str:
        legends = [
            (layer.get_name(), f"hs-leg-{i}") for i, layer in enumerate(self._legend_layers())
        ]
        hot = self.hotspots.get_name() if self.hotspots is not None else "null"
        return _CHROME_JS.render(
            map=self.parent().get_name(),
            legends=legends,
            hot=hot,
            attribution=js_json(self.attribution),
            bounds=js_json(self.bounds),
            tiles=self.tiles.get_name() if self.tiles is not None else "null",
            street_zoom=self.street_zoom,
        )
