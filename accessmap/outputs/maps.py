"""Folium decision map (``map.html``), built from a finished run folder.

Every data layer renders with no tile server (planners' laptops are often offline); the
online base map is an optional layer, and with ``offline=True`` the Leaflet JavaScript and
CSS are inlined from ``accessmap/assets/`` so the file opens air-gapped.  Every name shown
comes from OSM or user files and is escaped with :func:`accessmap._runfolder.escape`;
features are passed to Leaflet as JSON data (never pasted into JavaScript source).
Geometries are simplified in a metric CRS and coordinates rounded to keep the file small.
"""

from __future__ import annotations

import base64
import io
import logging
import os
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, cast

import branca.colormap
import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from jinja2 import Template
from numpy.typing import NDArray

from accessmap.outputs.style import (
    COVERAGE_COLOURS,
    NO_ROUTE_COLOUR,
    classify_minutes,
    escape,
    time_classes,
)
from accessmap.record import RunFolder, Surface, check_target
from accessmap.routing.network import RoadNetwork

logger = logging.getLogger(__name__)


#: Online copies of the assets (used when not offline); same versions as the vendored ones.
ONLINE_ASSETS = {
    "leaflet.js": "https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.js",
    "leaflet.css": "https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.css",
    "Control.FullScreen.js":
        "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.js",
    "Control.FullScreen.css":
        "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.css",
}


#: Road classes kept in the context layer of big networks.
MAJOR_ROADS = ("motorway", "trunk", "primary", "secondary", "tertiary", "motorway_link",
               "trunk_link", "primary_link", "secondary_link", "tertiary_link", "ferry")


#: Simplification tolerance (metres) per layer.
TOLERANCE_M = {"roads": 25.0, "admin_areas": 50.0, "isochrone_bands": 50.0,
               "underserved_zones": 30.0, "mobile_routes": 15.0}


#: Largest travel-time image drawn (pixels); bigger grids are subsampled.
MAX_IMAGE_PIXELS = 6_000_000


#: Decimal places kept in coordinates (5 = about 1 m).
COORD_DECIMALS = 5


#: Facility colours by type: blues and greys, apart from the sites' purple and orange.
FACILITY_COLOURS = ("#08306b", "#2171b5", "#00acc1", "#252525", "#6baed6", "#006d77",
                    "#737373", "#4292c6")


DAY_COLOURS = ("#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf")


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
      return L.marker(latlng, {icon: L.divIcon({html: m.html, className: "am-icon",
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


def write_map(
    run_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    offline: bool = False,
    overwrite: bool = False,
) -> Path:
    """Build ``map.html`` from a finished run folder.

    Parameters
    ----------
    run_dir
        Run folder (``summary.json`` and ``layers.gpkg`` required).
    out
        Output HTML file; default ``run_dir/map.html``.
    offline
        Inline the Leaflet JavaScript/CSS so the file needs no internet at all.
    overwrite
        Replace an existing output file.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    OutputError
        Incomplete run folder, another accessmap version, or ``out`` exists.
    """
    run = RunFolder(run_dir)
    target = check_target(Path(out) if out else run.path / "map.html", overwrite=overwrite)
    text = decision_map(run, offline=offline).get_root().render()
    target.write_text(text, encoding="utf-8")
    logger.info("map %s: %.1f MB%s", target, len(text.encode()) / 1e6,
                " (offline, assets inlined)" if offline else "")
    return target


def decision_map(run: RunFolder, *, offline: bool = False) -> folium.Map:
    """Build the decision map of a run folder: each layer a toggle in the layer control.

    Parameters
    ----------
    run
        The run folder.
    offline
        Inline the Leaflet assets instead of linking them.
    """
    thresholds = run.thresholds_min
    fmap = folium.Map(tiles=None, control_scale=True, prefer_canvas=True, zoom_snap=0.25)
    _use_assets(fmap, offline=offline)
    folium.TileLayer("OpenStreetMap", name="Online base map (needs internet)", show=False,
                     overlay=False).add_to(fmap)
    notes: list[str] = []
    surface = run.surface()
    if surface is not None:
        _surface_layer(surface, thresholds).add_to(fmap)
    else:
        notes.append("travel-time surface (no travel_time.tif)")
    admin = run.layer("admin_areas")
    builders: list[tuple[str, Callable[[gpd.GeoDataFrame], list[folium.FeatureGroup]]]] = [
        ("roads", _roads_groups),
        ("isochrone_bands", lambda f: _band_groups(f, thresholds)),
        ("admin_areas", lambda f: _admin_groups(f, run)),
        ("underserved_zones", _zone_groups),
        ("facilities", lambda f: _facility_groups(f, run.layer("catchments"))),
        ("recommended_sites", _site_groups),
        ("mobile_routes", _route_groups),
    ]
    for name, build in builders:
        frame = run.layer(name)
        if frame is None or frame.empty:
            notes.append(f"{name.replace('_', ' ')} (not in this run)")
            continue
        for group in build(_slim(frame, name)):
            group.add_to(fmap)
    folium.LayerControl(collapsed=False, position="topright").add_to(fmap)
    fullscreen = folium.plugins.Fullscreen(position="topleft")  # type: ignore[no-untyped-call]
    fullscreen.default_js, fullscreen.default_css = [], []
    fullscreen.add_to(fmap)
    fmap.fit_bounds(_bounds(run, surface, admin))
    _add_panels(fmap, run, thresholds, notes, admin)
    return fmap


def _figure(fmap: folium.Map) -> Figure:
    return cast(Figure, fmap.get_root())


def _use_assets(fmap: folium.Map, *, offline: bool) -> None:
    """Link (online) or inline (offline) exactly the assets the map needs."""
    fmap.default_js, fmap.default_css = [], []
    header = _figure(fmap).header
    for name, url in ONLINE_ASSETS.items():
        if offline:
            code = (resources.files("accessmap") / "assets" / name).read_text("utf-8")
            code = code.replace("</", "<\\/") if name.endswith(".js") else code
            tag = "script" if name.endswith(".js") else "style"
            header.add_child(Element(f"<{tag}>{code}</{tag}>"), name=name)
        elif name.endswith(".js"):
            header.add_child(folium.JavascriptLink(url), name=name)
        else:
            header.add_child(folium.CssLink(url), name=name)
    header.add_child(Element(
        "<style>.am-icon div{display:flex;align-items:center;justify-content:center;"
        "font:bold 11px sans-serif;color:#fff;border:2px solid #fff;"
        "box-shadow:0 0 0 1px #222;}"
        ".am-panel{position:fixed;z-index:1000;background:rgba(255,255,255,.93);"
        "padding:6px 10px;border:1px solid #888;border-radius:4px;font:12px sans-serif;}"
        ".am-panel table{border-collapse:collapse}.am-panel td,.am-panel th"
        "{padding:1px 5px;text-align:right}.am-swatch{display:inline-block;width:14px;"
        "height:10px;margin-right:4px;border:1px solid #777}</style>"), name="am_style")


def _slim(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    """Simplify in a metric CRS and round coordinates; log what was simplified."""
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty].copy()
    tolerance = TOLERANCE_M.get(name)
    before = int(shapely.get_num_coordinates(frame.geometry.values).sum())
    if tolerance and before and not (frame.geom_type == "Point").all():
        metric = frame.estimate_utm_crs()
        frame = frame.set_geometry(
            frame.geometry.to_crs(metric).simplify(tolerance, preserve_topology=True)
            .to_crs("EPSG:4326"))
    frame = frame.set_geometry(shapely.set_precision(frame.geometry.values,
                                                     10.0 ** -COORD_DECIMALS))
    frame = frame[~frame.geometry.is_empty]
    after = int(shapely.get_num_coordinates(frame.geometry.values).sum())
    if after < before:
        logger.info("map layer %s: %d -> %d vertices (simplified at %s m, rounded to %d "
                    "decimals)", name, before, after, tolerance, COORD_DECIMALS)
    return frame


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


def _bounds(run: RunFolder, surface: Surface | None, admin: gpd.GeoDataFrame | None
            ) -> list[list[float]]:
    if surface is not None and surface.crs.upper() in ("EPSG:4326", "OGC:CRS84"):
        west, south, east, north = surface.bounds()
    else:
        frame = admin if admin is not None else run.layer("facilities")
        west, south, east, north = (frame.total_bounds if frame is not None
                                    else (-180.0, -60.0, 180.0, 75.0))
    return [[float(south), float(west)], [float(north), float(east)]]


def time_colormap(thresholds_min: Sequence[float]) -> branca.colormap.StepColormap:
    """Stepped colormap of travel time in minutes (the classes of map, figure and report)."""
    classes = time_classes(thresholds_min)
    edges = [0.0, *[c.upper_min for c in classes[:-1]]]
    edges.append(edges[-1] * 2)
    return branca.colormap.StepColormap(
        [c.colour for c in classes], index=edges, vmin=edges[0], vmax=edges[-1],
        caption="Travel time to nearest facility (minutes)",
    )


def time_image(surface: Surface, thresholds_min: Sequence[float]) -> NDArray[np.uint8]:
    """RGBA image of the travel-time classes (transparent where nobody lives)."""
    step = max(1, int(np.ceil(np.sqrt(surface.minutes.size / MAX_IMAGE_PIXELS))))
    if step > 1:
        logger.info("travel-time image subsampled 1:%d to stay within %d pixels", step,
                    MAX_IMAGE_PIXELS)
    minutes = surface.minutes[::step, ::step]
    classes = classify_minutes(minutes, thresholds_min)
    colours = time_colormap(thresholds_min).colors
    rgba = np.zeros((*minutes.shape, 4), dtype=np.uint8)
    for index, colour in enumerate(colours):
        rgba[classes == index] = [int(255 * v) for v in colour[:3]] + [210]
    if surface.no_route.shape == surface.minutes.shape:
        rgba[surface.no_route[::step, ::step]] = [*_rgb(NO_ROUTE_COLOUR), 230]
    return rgba


def _rgb(colour: str) -> list[int]:
    value = colour.lstrip("#")
    return [int(value[i: i + 2], 16) for i in (0, 2, 4)]


def _surface_layer(surface: Surface, thresholds: Sequence[float]) -> folium.FeatureGroup:
    if surface.crs.upper() not in ("EPSG:4326", "OGC:CRS84"):
        surface = _to_lonlat(surface)
    west, south, east, north = surface.bounds()
    group = folium.FeatureGroup(name="Travel time to nearest facility", show=True)
    folium.raster_layers.ImageOverlay(
        _png_url(time_image(surface, thresholds), south=south, north=north),
        bounds=[[south, west], [north, east]], interactive=False, opacity=0.85,
    ).add_to(group)
    return group


def _png_url(rgba: NDArray[np.uint8], *, south: float, north: float) -> str:
    """PNG data URL of the image stretched to Web Mercator rows (nearest neighbour)."""
    from PIL import Image

    height = rgba.shape[0]
    lat = np.linspace(north, south, height + 1)
    merc = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))
    target = merc[0] + (np.arange(height) + 0.5) * (merc[-1] - merc[0]) / height
    rows = np.clip(np.searchsorted(-merc, -target, side="right") - 1, 0, height - 1)
    buffer = io.BytesIO()
    Image.fromarray(rgba[rows], mode="RGBA").save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _to_lonlat(surface: Surface) -> Surface:
    import rasterio.warp

    height, width = surface.minutes.shape
    transform, w, h = rasterio.warp.calculate_default_transform(
        surface.crs, "EPSG:4326", width, height, *surface.bounds())
    out = np.full((h, w), np.nan)
    rasterio.warp.reproject(surface.minutes, out, src_transform=surface.transform,
                            src_crs=surface.crs, dst_transform=transform,
                            dst_crs="EPSG:4326", src_nodata=np.nan, dst_nodata=np.nan)
    return Surface(out, transform, "EPSG:4326")


def _roads_groups(frame: gpd.GeoDataFrame) -> list[folium.FeatureGroup]:
    style = {"color": "#777777", "weight": 1, "opacity": 0.7}
    features = [_feature(g, style=style) for g in frame.geometry]
    return [_group("Roads (context)", features)]


def _band_groups(frame: gpd.GeoDataFrame, thresholds: Sequence[float]
                 ) -> list[folium.FeatureGroup]:
    classes = time_classes(thresholds)
    features = []
    for row in frame.sort_values("threshold_min", ascending=False).itertuples():
        index = int(classify_minutes(np.array([float(row.threshold_min)]), thresholds)[0])
        colour = classes[max(index, 0)].colour
        pop = getattr(row, "population", np.nan)
        tooltip = (f"within {float(row.threshold_min):g} min"
                   + (f": {float(pop):,.0f} people" if pd.notna(pop) else ""))
        features.append(_feature(row.geometry, tooltip=escape(tooltip), style={
            "color": colour, "weight": 1.5, "fillColor": colour, "fillOpacity": 0.15}))
    return [_group("Isochrone bands", features, show=False)]


def _siting_threshold(run: RunFolder) -> float:
    thresholds = run.thresholds_min
    return float(run.summary.get("siting_threshold_min") or thresholds[len(thresholds) // 2])


def _admin_groups(frame: gpd.GeoDataFrame, run: RunFolder) -> list[folium.FeatureGroup]:
    threshold = _siting_threshold(run)
    column = share_column(frame, threshold)
    names = area_names(frame)
    features = []
    for name, (_, row) in zip(names, frame.iterrows(), strict=True):
        share = float(row[column]) if column and pd.notna(row[column]) else np.nan
        lines = [f"<b>{escape(name)}</b>"]
        if "population" in row and pd.notna(row["population"]):
            lines.append(f"population {float(row['population']):,.0f}")
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
        parts += _fields(row, [("population", "population", "{:,.0f}"),
                               ("mean_time_min", "mean time", "{:.0f} min"),
                               ("max_time_min", "max time", "{:.0f} min"),
                               ("area_km2", "area", "{:.1f} km²")])
        features.append(_feature(row.geometry, tooltip="<br>".join(parts), style={
            "color": "#7a0177", "weight": 2, "fillColor": "#c51b8a", "fillOpacity": 0.08}))
    return [_group("Underserved zones", features)]


def _int(value: Any) -> str:
    return str(int(value)) if value is not None and pd.notna(value) else "?"


def _fields(row: Any, spec: Sequence[tuple[str, str, str]]) -> list[str]:
    """Escaped ``label: value`` lines for the columns of ``spec`` the row has."""
    lines = []
    for column, label, fmt in spec:
        value = getattr(row, column, None)
        if value is None:
            continue
        shown = "no route" if isinstance(value, float) and not np.isfinite(value) else (
            fmt.format(value) if isinstance(value, int | float | np.number) else str(value))
        lines.append(f"{escape(label)}: {escape(shown)}")
    return lines


def _facility_groups(frame: gpd.GeoDataFrame, catchments: gpd.GeoDataFrame | None
                     ) -> list[folium.FeatureGroup]:
    frame = _with_catchment(frame, catchments)
    types = frame["type"].fillna("unknown").astype(str) if "type" in frame else pd.Series(
        "facility", index=frame.index)
    order = types.value_counts().index.tolist()
    groups = []
    for index, kind in enumerate(order):
        colour = FACILITY_COLOURS[index % len(FACILITY_COLOURS)]
        features = []
        for row in frame[types == kind].itertuples():
            lines = [f"<b>{escape(getattr(row, 'name', ''))}</b>", escape(kind)]
            lines += _fields(row, [("catchment_population", "population in catchment",
                                    "{:,.0f}"),
                                   ("ratio_2sfca", "2SFCA ratio (per 1,000 people)",
                                    "{:.3g}")])
            features.append(_feature(
                row.geometry, popup="<br>".join(lines), tooltip=escape(getattr(row, "name", "")),
                style={"radius": 6, "color": "#ffffff", "weight": 1.5, "fillColor": colour,
                       "fillOpacity": 0.95}))
        groups.append(_group(f"Facilities: {kind} ({len(features)})", features))
    return groups


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
    for kind, title, shape, colour in (
        ("satellite_clinic", "Recommended satellite clinics", "border-radius:2px", "#54278f"),
        ("mobile_unit_stop", "Recommended mobile-unit stops", "border-radius:50%", "#e6550d"),
    ):
        features = []
        for row in frame[kinds == kind].itertuples():
            rank = _int(getattr(row, "rank", None))
            lines = [f"<b>#{rank} {escape(kind.replace('_', ' '))}</b>"]
            lines += _fields(row, [("added_population", "newly within reach", "{:,.0f}"),
                                   ("cumulative_share", "cumulative coverage", "{:.1%}"),
                                   ("nearest_facility", "nearest facility now", "{}"),
                                   ("nearest_facility_time_min", "time to it", "{:.0f} min")])
            html = (f'<div style="width:18px;height:18px;background:{colour};{shape}">'
                    f"{rank}</div>")
            features.append(_feature(row.geometry, popup="<br>".join(lines),
                                     tooltip=f"#{rank}", marker={"html": html, "size": 24}))
        if features:
            groups.append(_group(title, features))
    return groups


def _route_groups(frame: gpd.GeoDataFrame) -> list[folium.FeatureGroup]:
    days = frame["day"] if "day" in frame else pd.Series(1, index=frame.index)
    features = []
    for (_, row), day in zip(frame.iterrows(), days, strict=True):
        colour = DAY_COLOURS[_day_index(day) % len(DAY_COLOURS)]
        lines = [f"{escape(k)}: {escape(v)}" for k, v in row.items()
                 if k != "geometry" and pd.notna(v)]
        features.append(_feature(row.geometry, tooltip="<br>".join(lines), style={
            "color": colour, "weight": 3, "opacity": 0.9}))
    return [_group("Mobile-unit routes (colour = day)", features)]


def _day_index(day: Any) -> int:
    try:
        return int(day)
    except (TypeError, ValueError):
        return abs(hash(str(day)))


def _add_panels(fmap: folium.Map, run: RunFolder, thresholds: Sequence[float],
                notes: Sequence[str], admin: gpd.GeoDataFrame | None) -> None:
    root = _figure(fmap).html
    root.add_child(Element(summary_panel(run, notes)))
    root.add_child(Element(legend_panel(
        thresholds, admin=admin is not None and share_column(
            admin, _siting_threshold(run)) is not None,
        sites="recommended_sites" in run.layer_names)))


def summary_panel(run: RunFolder, notes: Sequence[str] = ()) -> str:
    """HTML of the title and summary panel (escaped)."""
    summary, settings, thresholds = run.summary, run.settings, run.thresholds_min
    label = ("<div style='color:#b30000;font-weight:bold'>SYNTHETIC DATA - not a real "
             "place</div>") if run.synthetic else ""
    after = {r["threshold_min"]: r for r in summary.get("coverage_with_new_sites") or []}
    n_sites = len(summary.get("recommended_sites") or [])
    rows = "".join(
        f"<tr><td>{float(r['threshold_min']):g} min</td><td>{_share(r.get('share'))}</td>"
        f"<td>{_share(after.get(r['threshold_min'], {}).get('share'))}</td></tr>"
        for r in summary["coverage"])
    unreachable = summary.get("unreachable_population")
    missing = ("<div style='color:#666'>Not shown: " + escape("; ".join(notes)) + "</div>"
               if notes else "")
    return (
        "<div class='am-panel' style='top:10px;left:60px;max-width:340px'>"
        f"<div style='font-size:15px;font-weight:bold'>{escape(run.title)}</div>{label}"
        f"<div>Mode: {escape(settings.get('mode', '?'))}; thresholds "
        f"{escape(', '.join(f'{t:g}' for t in thresholds))} min</div>"
        f"<table><tr><th>within</th><th>now</th><th>with {n_sites} new sites</th></tr>"
        f"{rows}</table>"
        + (f"<div>No route to care: {float(unreachable):,.0f} people</div>"
           if unreachable is not None else "")
        + f"{missing}</div>"
    )


def _share(value: Any) -> str:
    return f"{float(value):.1%}" if value is not None else "-"


def legend_panel(thresholds: Sequence[float], *, admin: bool = True, sites: bool = True
                 ) -> str:
    """HTML of the stepped travel-time legend (same classes as the figures and report).

    ``admin`` and ``sites`` add the admin-area coverage classes and the site symbols.
    """
    items = "".join(
        f"<div><span class='am-swatch' style='background:{c.colour}'></span>"
        f"{escape(c.label)}</div>" for c in time_classes(thresholds))
    coverage = "".join(
        f"<span class='am-swatch' style='background:{c}' title='{i * 100 // 6}%'></span>"
        for i, c in enumerate(COVERAGE_COLOURS))
    extra = ""
    if admin:
        extra += ("<div style='margin-top:4px'><b>Admin-area coverage</b><br>0% " + coverage
                  + " 100%</div>")
    if sites:
        extra += ("<div style='margin-top:4px'><span class='am-swatch' style='background:"
                  "#54278f'></span>satellite clinic <span class='am-swatch' style='background:"
                  "#e6550d;border-radius:50%'></span>mobile-unit stop</div>")
    return (
        "<div class='am-panel' style='bottom:30px;right:10px'>"
        "<b>Travel time to nearest facility</b>" + items
        + f"<div><span class='am-swatch' style='background:{NO_ROUTE_COLOUR}'></span>"
        f"no route</div>{extra}</div>"
    )


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
    lines = network.segment_lines
    rows: list[tuple[str, shapely.Geometry]] = []
    for kind in np.unique(highway[keep]):
        merged = shapely.line_merge(shapely.multilinestrings(lines[keep & (highway == kind)]))
        simple = shapely.simplify(merged, tolerance_m)
        rows += [(str(kind), part) for part in shapely.get_parts(simple)]
    frame = gpd.GeoDataFrame({"highway": [r[0] for r in rows]},
                             geometry=[r[1] for r in rows], crs=network.crs)
    return frame.to_crs("EPSG:4326")
