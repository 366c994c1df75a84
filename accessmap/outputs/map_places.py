"""Place-name labels on the decision map, so that it can be read without online tiles.

The labels come from the run folder's ``places`` layer (cities, towns, villages and
islands read from the OSM extract by :func:`accessmap.inputs.places.read_places`); a run
without it simply has no labels.  They sit in their own map pane above the travel-time
colours and below every marker, take no clicks, and scale with the zoom: cities and
islands are always shown, towns from zoom :data:`MIN_ZOOM` ``["town"]`` on, villages from
``["village"]`` on, and the text grows as one zooms in.
"""

from __future__ import annotations

import re
from typing import Any

import folium
import geopandas as gpd
from branca.element import MacroElement
from jinja2 import Template

from accessmap.outputs.style import escape
from accessmap.record import LAYERS

__all__ = ["MIN_ZOOM", "PLACES_CSS", "PLACES_LAYER", "place_groups", "short_label"]


#: Name of the run folder's layer of place names.
PLACES_LAYER: str = str(getattr(LAYERS, "places", "places"))

#: Zoom from which each kind of place is labelled (absent kinds: always).
MIN_ZOOM = {"town": 9.0, "village": 11.0}

#: Zoom from which island names are no longer shown (the island fills the screen).
ISLAND_MAX_ZOOM = 12.0

#: CSS of the labels: size per kind, times ``--am-place-scale`` set from the zoom.
PLACES_CSS = (
    "<style>.am-place{pointer-events:none}.am-place span{position:absolute;"
    "transform:translate(-50%,-50%);white-space:nowrap;font-family:sans-serif;"
    "color:#222;text-shadow:0 0 2px #fff,0 0 2px #fff,0 0 3px #fff,0 0 4px #fff;"
    "font-size:calc(var(--am-place-scale,1)*11px)}"
    ".am-place-city span{font-weight:bold;font-size:calc(var(--am-place-scale,1)*14px)}"
    ".am-place-town span{font-weight:bold;font-size:calc(var(--am-place-scale,1)*12px)}"
    ".am-place-island span{font-style:italic;letter-spacing:.12em;color:#1d3f6e;"
    "font-size:calc(var(--am-place-scale,1)*14px)}"
    ".am-place-town,.am-place-village{display:none}"
    ".am-show-town .am-place-town,.am-show-village .am-place-village{display:block}"
    ".am-hide-island .am-place-island{display:none}</style>"
)


class _PlaceLabels(MacroElement):
    """Label markers of a feature group; names are JSON data, escaped in Python."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
  var group = {{ this._parent.get_name() }};
  var map = {{ this.map_name }};
  var minZoom = {{ this.min_zoom|tojson }};
  if (!map.getPane('amPlaces')) {
    map.createPane('amPlaces').style.zIndex = 450;
  }
  var data = {{ this.data|tojson }};
  var always = data.map(function (p) { return p[2] === 'city' || p[2] === 'island'; });
  var markers = data.map(function (p) {
    return L.marker([p[0], p[1]], {interactive: false, keyboard: false, pane: 'amPlaces',
      icon: L.divIcon({className: 'am-place am-place-' + p[2], html: '<span>' + p[3] +
        '</span>', iconSize: null})}).addTo(group);
  });
  // most prominent first, each label at the first of five spots (centred on the place,
  // above, below, right, left) that touches neither a marker nor a label already shown;
  // a town or village with no such spot is hidden until the zoom makes room
  function overlaps(r, boxes) {
    return boxes.some(function (q) {
      return r.left < q.right + 2 && q.left < r.right + 2 && r.top < q.bottom + 1 &&
        q.top < r.bottom + 1;
    });
  }
  function declutter() {
    var icons = Array.prototype.map.call(
      map.getPane('markerPane').querySelectorAll('.am-icon'),
      function (el) { return el.getBoundingClientRect(); });
    var labels = [], view = map.getContainer().getBoundingClientRect();
    var inside = function (b) {
      return b.left >= view.left && b.right <= view.right && b.top >= view.top &&
        b.bottom <= view.bottom;
    };
    markers.forEach(function (m, i) {
      var el = m.getElement(), span = el && el.firstChild;
      if (!span) { return; }
      span.style.visibility = '';
      span.style.transform = '';
      var r = span.getBoundingClientRect();
      if (!r.width) { return; }
      var w = r.width / 2 + 12, h = r.height + 4;
      var spots = [[0, 0], [0, -h], [0, h], [w, 0], [-w, 0]];
      var free = function (boxes) {
        return spots.find(function (d) {
          var b = {left: r.left + d[0], right: r.right + d[0], top: r.top + d[1],
                   bottom: r.bottom + d[1]};
          return inside(b) && !overlaps(b, boxes);
        });
      };
      // cities and islands are always named: if markers crowd them, under the markers
      var spot = free(icons.concat(labels)) || (always[i] ? free(labels) : undefined);
      if (!spot) {
        span.style.visibility = 'hidden';
        return;
      }
      span.style.transform = 'translate(calc(-50% + ' + spot[0] + 'px), calc(-50% + ' +
        spot[1] + 'px))';
      labels.push({left: r.left + spot[0], right: r.right + spot[0], top: r.top + spot[1],
                  bottom: r.bottom + spot[1]});
    });
  }
  function rescale() {
    var zoom = map.getZoom(), box = map.getContainer();
    box.style.setProperty('--am-place-scale',
      Math.min(1.6, Math.max(0.8, Math.pow(1.12, zoom - 10))).toFixed(2));
    Object.keys(minZoom).forEach(function (kind) {
      box.classList.toggle('am-show-' + kind, zoom >= minZoom[kind]);
    });
    box.classList.toggle('am-hide-island', zoom >= {{ this.island_max_zoom }});
  }
  function update() { rescale(); declutter(); }
  map.on('zoomend moveend overlayadd resize', update);
  map.whenReady(function () { setTimeout(update, 0); });
})();
{% endmacro %}
""")

    def __init__(self, rows: list[list[Any]], map_name: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "PlaceLabels"
        self.data = rows
        self.map_name = map_name
        self.min_zoom = MIN_ZOOM
        self.island_max_zoom = ISLAND_MAX_ZOOM


def place_groups(frame: gpd.GeoDataFrame, fmap: folium.Map) -> list[folium.FeatureGroup]:
    """The "Place names" feature group of ``frame`` (``name``, ``place``, point geometry).

    Rows without a name or a point are skipped; kinds other than city, town, village and
    island are drawn like villages.  Returns no group when nothing is left.
    """
    known = {"city", "town", "village", "island"}
    rows: list[list[Any]] = []
    for row in frame.itertuples():
        geometry, name = row.geometry, getattr(row, "name", None)
        if geometry is None or geometry.is_empty or not isinstance(name, str) or not name:
            continue
        point = geometry if geometry.geom_type == "Point" else geometry.representative_point()
        kind = str(getattr(row, "place", "village"))
        rows.append([round(point.y, 5), round(point.x, 5),
                     kind if kind in known else "village", escape(short_label(name))])
    if not rows:
        return []
    group = folium.FeatureGroup(name="Place names", show=True)
    _PlaceLabels(rows, fmap.get_name()).add_to(group)
    return [group]


_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_NON_LATIN_WORD = re.compile(r"^[^A-Za-z\u00c0-\u024f]*[\u0590-\u08ff\ufb50-\ufeff]"
                             r"[^A-Za-z\u00c0-\u024f]*$")


def short_label(name: str) -> str:
    """The label of a place: bilingual OSM names keep their Latin-script words only.

    Many extracts (Comoros, Morocco, Sudan) hold ``name`` in two scripts; both side by
    side double the label's length and clutter the map.  A name in one script is kept.

    Examples
    --------
    >>> short_label("Moroni موروني"), short_label("فومبوني Fomboni"), short_label("موروني")
    ('Moroni', 'Fomboni', 'موروني')
    """
    if not _LATIN.search(name):
        return name
    words = [w for w in name.split() if not _NON_LATIN_WORD.match(w)]
    return " ".join(words) or name
