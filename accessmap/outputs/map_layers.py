"""The map's vector layers: one builder per ``layers.gpkg`` layer, and the roads layer.

Each builder turns a layer of the run folder into Folium feature groups whose popups and
tooltips are escaped HTML passed to Leaflet as JSON data (never JavaScript source).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from jinja2 import Template

from accessmap.outputs.style import (
    COVERAGE_COLOURS,
    DAY_COLOURS,
    NO_ROUTE_COLOUR,
    SITE_STYLES,
    ZONE_COLOUR,
    MarkStyle,
    classify_minutes,
    escape,
    facility_styles,
    format_number,
    format_people,
    time_classes,
)
from accessmap.record import FILES, LAYERS, RunFolder
from accessmap.routing.network import RoadNetwork

__all__ = ["FACILITY_PX", "MAJOR_ROADS", "SITE_PX", "area_names", "day_colour", "facility_types",
           "layer_builders", "referral_groups", "roads_layer", "share_column", "siting_threshold"]

logger = logging.getLogger(__name__)


#: Road classes kept in the context layer of big networks.
MAJOR_ROADS = ("motorway", "trunk", "primary", "secondary", "tertiary", "motorway_link",
               "trunk_link", "primary_link", "secondary_link", "tertiary_link", "ferry")


#: Size (pixels) of the facility and recommended-site markers.
FACILITY_PX, SITE_PX = 13, 20


class _Features(MacroElement):
    """A GeoJSON layer whose popups, tooltips, styles and markers are feature properties.

    Properties are JSON data (``tojson`` escapes ``<``, ``>``, ``&`` and quotes), so no
    user text becomes JavaScript source; popup/tooltip HTML is pre-escaped in Python.
    """

    _template = Template("""
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.geoJSON({{ this.data|tojson }}, {
  style: function (f) { return f.properties.s || {}; },
  pointToLayer: function (f, latlng) {
    var m = f.properties.m || {};
    if (m.html) {
      return L.marker(latlng, {icon: L.divIcon({html: m.html,
        className: "am-icon" + (m.cls ? " " + m.cls : ""),
        iconSize: [m.size, m.size], iconAnchor: [m.size / 2, m.size / 2]})});
    }
    return L.circleMarker(latlng, f.properties.s || {});
  },
  onEachFeature: function (f, layer) {
    if (f.properties.p) { layer.bindPopup(f.properties.p, {maxWidth: 320}); }
    if (f.properties.t) { layer.bindTooltip(f.properties.t, {sticky: true}); }
  }
}).addTo({{ this._parent.get_name() }});
{% endmacro %}
""")

    def __init__(self, features: list[dict[str, Any]]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Features"
        self.data = {"type": "FeatureCollection", "features": features}


def _feature(geometry: shapely.Geometry, *, popup: str = "", tooltip: str = "",
             style: dict[str, Any] | None = None, marker: dict[str, Any] | None = None
             ) -> dict[str, Any]:
    props: dict[str, Any] = {}
    if popup:
        props["p"] = popup
    if tooltip:
        props["t"] = tooltip
    if style:
        props["s"] = style
    if marker:
        props["m"] = marker
    return {"type": "Feature", "geometry": shapely.geometry.mapping(geometry),
            "properties": props}


def _group(name: str, features: list[dict[str, Any]], *, show: bool = True
           ) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name=escape(name), show=show)
    _Features(features).add_to(group)
    return group


def _roads_groups(frame: gpd.GeoDataFrame) -> list[folium.FeatureGroup]:
    style = {"color": "#777777", "weight": 1, "opacity": 0.7}
    features = [_feature(g, style=style) for g in frame.geometry]
    return [_group("Roads (context)", features)]


def _closed_roads_groups(frame: gpd.GeoDataFrame, *, casing: bool = False
                         ) -> list[folium.FeatureGroup]:
    """Roads closed (solid dark red) and slowed (dashed orange) by ``[roads]``; with
    ``casing``, drawn over a black line so they stand out on red and orange fills."""
    casing_style = {"color": "#111111", "weight": 7, "opacity": 0.9}
    features = [_feature(g, style=casing_style) for g in frame.geometry] if casing else []
    for row in frame.itertuples():
        closed = row.change == "closed"
        what = "closed" if closed else f"slowed (speed x{float(row.factor):g})"
        style = {"color": "#8b0000" if closed else "#e67e00", "weight": 3, "opacity": 0.9,
                 **({} if closed else {"dashArray": "6 4"})}
        features.append(_feature(row.geometry, style=style, tooltip=escape(
            f"{what}: {row.highway}, OSM way {row.way_id}")))
    return [_group("Closed and slowed roads", features)]


def _band_groups(frame: gpd.GeoDataFrame, thresholds: Sequence[float]
                 ) -> list[folium.FeatureGroup]:
    classes = time_classes(thresholds)
    features = []
    for row in frame.sort_values("threshold_min", ascending=False).itertuples():
        index = int(classify_minutes(np.array([float(row.threshold_min)]), thresholds)[0])
        colour = classes[max(index, 0)].colour
        pop = getattr(row, "population", np.nan)
        tooltip = (f"within {float(row.threshold_min):g} min"
                   + (f": {format_people(pop)} people" if pd.notna(pop) else ""))
        features.append(_feature(row.geometry, tooltip=escape(tooltip), style={
            "color": colour, "weight": 1.5, "fillColor": colour, "fillOpacity": 0.15}))
    return [_group("Isochrone bands", features, show=False)]


def siting_threshold(run: RunFolder) -> float:
    thresholds = run.thresholds_min
    return float(run.summary.get("siting_threshold_min") or thresholds[len(thresholds) // 2])


def _admin_groups(frame: gpd.GeoDataFrame, run: RunFolder) -> list[folium.FeatureGroup]:
    threshold = siting_threshold(run)
    column = share_column(frame, threshold)
    names = area_names(frame)
    features = []
    for name, (_, row) in zip(names, frame.iterrows(), strict=True):
        share = float(row[column]) if column and pd.notna(row[column]) else np.nan
        lines = [f"<b>{escape(name)}</b>"]
        if "population" in row and pd.notna(row["population"]):
            lines.append(f"population {format_people(row['population'])}")
        if column:
            lines.append(f"within {threshold:g} min: "
                         + (f"{share:.0%}" if np.isfinite(share) else "no people"))
        features.append(_feature(row.geometry, tooltip="<br>".join(lines), style={
            "color": "#333333", "weight": 1.2, "dashArray": "4",
            "fillColor": _coverage_colour(share), "fillOpacity": 0.55 if column else 0.0}))
    title = (f"Coverage by admin area (share within {threshold:g} min)" if column
             else "Admin areas (no coverage figures in this run)")
    return [_group(title, features, show=False)]


def share_column(frame: pd.DataFrame, threshold_min: float) -> str | None:
    """Column holding the share of people within ``threshold_min`` (``share_60min``)."""
    column = f"share_{threshold_min:g}min"
    return column if column in frame.columns else None


def _coverage_colour(share: float) -> str:
    if not np.isfinite(share):
        return "#ffffff"
    index = min(int(share * len(COVERAGE_COLOURS)), len(COVERAGE_COLOURS) - 1)
    return COVERAGE_COLOURS[index]


def area_names(frame: pd.DataFrame) -> list[str]:
    """Name of each admin area (``area_name``/``name``, else a number)."""
    for column in ("area_name", "area", "name"):
        if column in frame.columns:
            return [str(v) for v in frame[column].fillna("")]
    return [f"area {i + 1}" for i in range(len(frame))]


def _zone_groups(frame: gpd.GeoDataFrame) -> list[folium.FeatureGroup]:
    features = []
    for row in frame.itertuples():
        parts = [f"<b>Underserved zone #{_int(getattr(row, 'rank', None))}</b>"]
        parts += _fields(row, [("population", "population", "people"),
                               ("mean_time_min", "mean time", "{:,.0f} min"),
                               ("max_time_min", "max time", "{:,.0f} min"),
                               ("area_km2", "area", "{:,.1f} km²")])
        features.append(_feature(row.geometry, tooltip="<br>".join(parts), style={
            "color": ZONE_COLOUR, "weight": 2, "fillColor": "#c51b8a", "fillOpacity": 0.08}))
    return [_group("Underserved zones", features)]


def _int(value: Any) -> str:
    return str(int(value)) if value is not None and pd.notna(value) else "?"


def _fields(row: Any, spec: Sequence[tuple[str, str, str]]) -> list[str]:
    """Escaped ``label: value`` lines for the columns of ``spec`` the row has.

    A format is a ``str.format`` pattern, ``"people"`` (whole, thousands separators) or
    ``"number"`` (three significant digits, never scientific notation).
    """
    lines = []
    for column, label, fmt in spec:
        value = getattr(row, column, None)
        if value is None:
            continue
        if isinstance(value, float) and not np.isfinite(value):
            shown = "no route"
        elif not isinstance(value, int | float | np.number):
            shown = str(value)
        elif fmt in ("people", "number"):
            shown = format_people(value) if fmt == "people" else format_number(value)
        else:
            shown = fmt.format(value)
        lines.append(f"{escape(label)}: {escape(shown)}")
    return lines


def _icon(style: MarkStyle, size_px: int, text: str = "", *, css_class: str = ""
          ) -> dict[str, Any]:
    """Marker data of a symbol: an HTML ``div`` shaped by CSS (see :data:`SYMBOLS`)."""
    html = f'<div style="{style.css(size_px)}">{escape(text)}</div>'
    return {"html": html, "size": size_px + 4, "cls": css_class}


def _facility_groups(frame: gpd.GeoDataFrame, catchments: gpd.GeoDataFrame | None
                     ) -> list[folium.FeatureGroup]:
    frame = _with_catchment(frame, catchments)
    types = facility_types(frame)
    groups = []
    for kind, look in facility_styles(types.tolist()).items():
        features = []
        for row in frame[types == kind].itertuples():
            lines = [f"<b>{escape(getattr(row, 'name', ''))}</b>", escape(kind)]
            if getattr(row, "planned", False) is True:
                lines.append(f"<i>planned (id {escape(str(row.facility_id))})</i>")
            lines += _fields(row, [("catchment_population", "population in catchment",
                                    "people"),
                                   ("ratio_2sfca", "2SFCA ratio (per 1,000 people)",
                                    "number")])
            features.append(_feature(
                row.geometry, popup="<br>".join(lines), tooltip=escape(getattr(row, "name", "")),
                marker=_icon(look, FACILITY_PX)))
        groups.append(_group(f"Facilities: {kind} ({len(features)})", features))
    return groups


def facility_types(frame: pd.DataFrame) -> pd.Series:
    """Type of each facility as text (``unknown`` when missing, ``facility`` if no column)."""
    if "type" not in frame:
        return pd.Series("facility", index=frame.index)
    return frame["type"].fillna("unknown").astype(str)


def _with_catchment(frame: gpd.GeoDataFrame, catchments: gpd.GeoDataFrame | None
                    ) -> gpd.GeoDataFrame:
    """Add ``catchment_population`` and ``ratio_2sfca`` from the catchments layer if known."""
    if catchments is None or "facility_id" not in catchments or "facility_id" not in frame:
        return frame
    extra = pd.DataFrame({"facility_id": catchments["facility_id"]})
    if "population" in catchments:
        extra["catchment_population"] = catchments["population"]
    ratio = [c for c in catchments.columns if "sfca" in c.lower()]
    if ratio:
        extra["ratio_2sfca"] = catchments[sorted(ratio, key=lambda c: c.startswith("e"))[0]]
    extra = extra.drop_duplicates("facility_id")
    return frame.merge(extra, on="facility_id", how="left")


def _site_groups(frame: gpd.GeoDataFrame) -> list[folium.FeatureGroup]:
    kinds = frame["kind"].astype(str) if "kind" in frame else pd.Series("site", index=frame.index)
    groups = []
    for kind, title in (("satellite_clinic", "Recommended satellite clinics"),
                        ("mobile_unit_stop", "Recommended mobile-unit stops")):
        features = []
        for row in frame[kinds == kind].itertuples():
            rank = _int(getattr(row, "rank", None))
            lines = [f"<b>#{rank} {escape(kind.replace('_', ' '))}</b>"]
            lines += _fields(row, [("added_population", "newly within reach", "people"),
                                   ("cumulative_share", "cumulative coverage", "{:.1%}"),
                                   ("nearest_facility", "nearest facility now", "{}"),
                                   ("nearest_facility_time_min", "time to it",
                                    "{:,.0f} min")])
            features.append(_feature(row.geometry, popup="<br>".join(lines),
                                     tooltip=f"#{rank}",
                                     marker=_icon(SITE_STYLES[kind], SITE_PX, rank,
                                                  css_class="am-site")))
        if features:
            groups.append(_group(title, features))
    return groups


def _route_groups(frame: gpd.GeoDataFrame) -> list[folium.FeatureGroup]:
    days = frame["day"] if "day" in frame else pd.Series(1, index=frame.index)
    features = []
    for (_, row), day in zip(frame.iterrows(), days, strict=True):
        colour = day_colour(day)
        lines = [f"{escape(k)}: {escape(_shown(v))}" for k, v in row.items()
                 if k != "geometry" and pd.notna(v)]
        features.append(_feature(row.geometry, tooltip="<br>".join(lines), style={
            "color": colour, "weight": 3, "opacity": 0.9}))
    return [_group("Mobile-unit routes (colour = day)", features)]


def referral_groups(frame: gpd.GeoDataFrame | None, run: RunFolder
                    ) -> list[folium.FeatureGroup]:
    """The ``referral_routes`` layer: one line per referral, coloured by its travel-time
    class, and a ring on each facility whose referral has no route (``referral.csv``)."""
    thresholds = run.thresholds_min
    classes = time_classes(thresholds)
    features = []
    for row in () if frame is None else frame.itertuples():
        index = int(classify_minutes(np.array([float(row.time_min)]), thresholds)[0])
        lines = [f"<b>{escape(row.name)} -> {escape(row.referral_to)}</b>"]
        lines += _fields(row, [("level", "level", "{}"), ("time_min", "time", "{:,.0f} min"),
                               ("return_time_min", "return", "{:,.0f} min"),
                               ("distance_km", "distance", "{:,.1f} km")])
        features.append(_feature(row.geometry, tooltip="<br>".join(lines), style={
            "color": classes[max(index, 0)].colour, "weight": 3, "opacity": 0.9,
            "dashArray": "6 4"}))
    features += _unreachable_referrals(run)
    return [_group("Referral routes (colour = travel time)", features)]


def _unreachable_referrals(run: RunFolder) -> list[dict[str, Any]]:
    table, points = run.table(FILES.referral), run.layer(LAYERS.facilities)
    if table is None or points is None or "reachable" not in table:
        return []
    lost = table.loc[~table["reachable"].astype(bool), "facility_id"].astype(str)
    flagged = points[points["facility_id"].astype(str).isin(set(lost))]
    return [_feature(row.geometry, tooltip=f"<b>{escape(row.name)}</b><br>no referral route "
                     "to a higher level", style={"radius": 11, "color": NO_ROUTE_COLOUR,
                                                 "weight": 3, "fill": False})
            for row in flagged.itertuples()]


def _shown(value: Any) -> str:
    """A value for a tooltip: numbers for people, anything else as text."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        return str(value)
    return format_number(value) if float(value) % 1 else f"{float(value):,.0f}"


def day_colour(day: Any) -> str:
    """Colour of a route day (the same in the route layer and the legend)."""
    return DAY_COLOURS[_day_index(day) % len(DAY_COLOURS)]


def _day_index(day: Any) -> int:
    try:
        return int(day)
    except (TypeError, ValueError):
        return abs(hash(str(day)))


def roads_layer(network: RoadNetwork, *, max_segments: int = 20_000,
                tolerance_m: float = 10.0) -> gpd.GeoDataFrame:
    """Light context roads for the map and the GeoPackage ``roads`` layer.

    Segments are merged into lines per ``highway`` class and simplified in the network's
    metric CRS; networks with more than ``max_segments`` segments keep only the major
    classes (:data:`MAJOR_ROADS`).

    Returns
    -------
    geopandas.GeoDataFrame
        ``highway`` and line geometry in EPSG:4326.
    """
    highway = np.asarray(network.seg_highway).astype(str)
    keep = np.ones(highway.size, dtype=bool)
    if highway.size > max_segments:
        keep = np.isin(highway, MAJOR_ROADS)
        logger.info("roads layer: %d segments; keeping the %d of major classes", highway.size,
                    int(keep.sum()))
    kept = np.flatnonzero(keep)
    lines, highway = network.lines_of(kept), highway[kept]  # lines only for what is kept
    rows: list[tuple[str, shapely.Geometry]] = []
    for kind in np.unique(highway):
        merged = shapely.line_merge(shapely.multilinestrings(lines[highway == kind]))
        # each merged line on its own: GEOS' topology-preserving simplification of one
        # MultiLineString checks every part against every other (N=64: 24.7 s, not 1.5 s)
        simple = shapely.simplify(shapely.get_parts(merged), tolerance_m)
        rows += [(str(kind), part) for part in simple]
    frame = gpd.GeoDataFrame({"highway": [r[0] for r in rows]},
                             geometry=[r[1] for r in rows], crs=network.crs)
    return frame.to_crs("EPSG:4326")


def layer_builders(run: RunFolder) -> list[tuple[str, Any]]:
    """(layer name, builder of its feature groups) in drawing order."""
    thresholds = run.thresholds_min
    return [
        (LAYERS.roads, _roads_groups),
        (LAYERS.isochrone_bands, lambda f: _band_groups(f, thresholds)),
        (LAYERS.admin_areas, lambda f: _admin_groups(f, run)),
        (LAYERS.underserved_zones, _zone_groups),
        (LAYERS.facilities, lambda f: _facility_groups(f, run.layer(LAYERS.catchments))),
        (LAYERS.recommended_sites, _site_groups),
        (LAYERS.mobile_routes, _route_groups),
        # only in runs with [roads] changes, so other maps do not list it as missing
        *([(LAYERS.closed_roads, _closed_roads_groups)]
          if LAYERS.closed_roads in run.layer_names else []),
    ]
