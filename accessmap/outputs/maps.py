"""Folium decision map (``map.html``), built from a finished run folder.

Every data layer renders with no tile server (planners' laptops are often offline); the
online base map is an optional overlay that can be switched on and off again.  By default
(``offline=True``) the Leaflet JavaScript and CSS are inlined from ``accessmap/assets/`` so
the file opens air-gapped; ``offline=False`` links them from a CDN (``--cdn``).  Every name shown
comes from OSM or user files and is escaped with :func:`accessmap.outputs.style.escape`;
features are passed to Leaflet as JSON data (never pasted into JavaScript source).
Geometries are simplified in a metric CRS and coordinates rounded to keep the file small.
"""

from __future__ import annotations

__all__ = ["MAJOR_ROADS", "MAP_BUDGET_BYTES", "VERTEX_BUDGET", "area_names", "decision_map",
           "legend_panel", "roads_layer", "share_column", "summary_panel", "time_colormap",
           "time_image", "view_bounds", "write_map"]

import base64
import io
import logging
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, cast

import branca.colormap
import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import shapely
from branca.element import Element, Figure
from numpy.typing import NDArray

from accessmap.outputs.map_layers import (
    MAJOR_ROADS,
    area_names,
    layer_builders,
    referral_groups,
    roads_layer,
    share_column,
    siting_threshold,
)
from accessmap.outputs.map_panels import PANEL_CSS, FitView, legend_panel, summary_panel
from accessmap.outputs.map_places import PLACES_CSS, PLACES_LAYER, place_groups
from accessmap.outputs.style import NO_ROUTE_COLOUR, classify_minutes, time_classes
from accessmap.record import FILES, LAYERS, RunFolder, Surface, apply_affine, check_target

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


#: Simplification tolerance (metres) per layer.
TOLERANCE_M = {LAYERS.roads: 25.0, LAYERS.admin_areas: 50.0, LAYERS.isochrone_bands: 50.0,
               LAYERS.underserved_zones: 30.0, LAYERS.mobile_routes: 15.0}


#: Most vertices drawn per layer, so that ``map.html`` stays under :data:`MAP_BUDGET_BYTES`
#: at any country size (about 21 bytes a vertex): a layer over its budget is simplified
#: again at a larger tolerance (x2, or x vertices / budget) until it fits.
VERTEX_BUDGET = {LAYERS.roads: 120_000, LAYERS.isochrone_bands: 60_000,
                 LAYERS.admin_areas: 30_000, LAYERS.underserved_zones: 40_000,
                 LAYERS.mobile_routes: 20_000}
#: The size ``map.html`` is kept under (bytes), Leaflet inlined.
MAP_BUDGET_BYTES = 10_000_000


#: Largest travel-time image drawn (pixels); bigger grids are subsampled.
MAX_IMAGE_PIXELS = 6_000_000


#: Decimal places kept in coordinates (5 = about 1 m).
COORD_DECIMALS = 5




def write_map(
    run_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    offline: bool = True,
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
        Inline the Leaflet JavaScript/CSS so the file needs no internet at all (default);
        False links them from a CDN (a smaller file that needs internet to draw).
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
    target = check_target(Path(out) if out else run.file(FILES.map), overwrite=overwrite)
    text = decision_map(run, offline=offline).get_root().render()
    target.write_text(text, encoding="utf-8")
    logger.info("map %s: %.1f MB (%s)", target, len(text.encode()) / 1e6,
                "offline, assets inlined" if offline else "Leaflet linked from a CDN")
    return target


def decision_map(run: RunFolder, *, offline: bool = True) -> folium.Map:
    """Build the decision map of a run folder: each layer a toggle in the layer control.

    Parameters
    ----------
    run
        The run folder.
    offline
        Inline the Leaflet assets (default) instead of linking them from a CDN.
    """
    thresholds = run.thresholds_min
    fmap = folium.Map(tiles=None, control_scale=True, prefer_canvas=True, zoom_snap=0.25)
    _use_assets(fmap, offline=offline)
    folium.TileLayer("OpenStreetMap", name="Online base map (needs internet)", show=False,
                     overlay=True).add_to(fmap)
    notes: list[str] = []
    surface = run.surface(max_pixels=MAX_IMAGE_PIXELS)
    if surface is not None:
        if surface.crs.upper() not in ("EPSG:4326", "OGC:CRS84"):
            surface = _to_lonlat(surface)
        _surface_layer(surface, thresholds).add_to(fmap)
    else:
        notes.append(f"travel-time surface (no {FILES.travel_time})")
    frames: dict[str, gpd.GeoDataFrame | None] = {}
    for name, build in layer_builders(run):
        frame = run.layer(name)
        frames[name] = frame
        if frame is None or frame.empty:
            notes.append(f"{name.replace('_', ' ')} (not in this run)")
            continue
        for group in build(_slim(frame, name)):
            group.add_to(fmap)
    if run.file(FILES.referral).is_file():
        referral = run.layer(LAYERS.referral_routes)
        slim = None if referral is None else _slim(referral, LAYERS.referral_routes)
        frames[LAYERS.referral_routes] = slim
        for group in referral_groups(slim, run):
            group.add_to(fmap)
    places = run.layer(PLACES_LAYER)
    if places is not None and not places.empty:
        for group in place_groups(places, fmap):
            group.add_to(fmap)
    folium.LayerControl(collapsed=True, position="topright").add_to(fmap)
    fullscreen = folium.plugins.Fullscreen(position="topleft")  # type: ignore[no-untyped-call]
    fullscreen.default_js, fullscreen.default_css = [], []
    fullscreen.add_to(fmap)
    admin = frames.get(LAYERS.admin_areas)
    root = _figure(fmap).html
    root.add_child(Element(summary_panel(run, notes)))
    root.add_child(Element(legend_panel(
        thresholds, admin=admin is not None and share_column(
            admin, siting_threshold(run)) is not None,
        layers=frames, surface=surface is not None)))
    bounds = view_bounds(run, surface, admin)
    fmap.fit_bounds(bounds)
    FitView(bounds).add_to(fmap)
    return fmap


def view_bounds(run: RunFolder, surface: Surface | None,
                admin: gpd.GeoDataFrame | None = None) -> list[list[float]]:
    """``[[south, west], [north, east]]`` of the populated area and the recommended sites.

    Cells where nobody lives (sea, ferry lines, islands without people) do not set the
    view; without a travel-time surface the admin areas or facilities do.
    """
    boxes = []
    if surface is not None and surface.crs.upper() in ("EPSG:4326", "OGC:CRS84"):
        populated = np.isfinite(surface.minutes)
        if surface.no_route.shape == populated.shape:
            populated |= surface.no_route
        rows, cols = np.nonzero(populated)
        if rows.size:
            west, north = apply_affine(surface.transform, float(cols.min()), float(rows.min()))
            east, south = apply_affine(surface.transform, float(cols.max() + 1),
                                       float(rows.max() + 1))
            boxes.append((west, min(south, north), east, max(south, north)))
    if not boxes:
        for frame in (admin, run.layer(LAYERS.facilities)):
            if frame is not None and not frame.empty:
                boxes.append(tuple(frame.to_crs("EPSG:4326").total_bounds))
                break
    sites = run.layer(LAYERS.recommended_sites)
    if sites is not None and not sites.empty:
        boxes.append(tuple(sites.to_crs("EPSG:4326").total_bounds))
    if not boxes:
        return [[-60.0, -180.0], [75.0, 180.0]]
    west, south, east, north = (f(b[i] for b in boxes)
                                for i, f in enumerate((min, min, max, max)))
    return [[float(south), float(west)], [float(north), float(east)]]


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
    header.add_child(Element(PANEL_CSS), name="am_style")
    header.add_child(Element(PLACES_CSS), name="am_places_style")


def _slim(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    """Simplify in a metric CRS within the layer's vertex budget, round coordinates."""
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty].copy()
    tolerance = TOLERANCE_M.get(name)
    before = int(shapely.get_num_coordinates(frame.geometry.values).sum())
    if tolerance and before and not (frame.geom_type == "Point").all():
        frame = frame.set_geometry(_simplified(frame, tolerance, VERTEX_BUDGET.get(name)))
    frame = frame.set_geometry(_rounded(frame.geometry.values))
    frame = frame[~frame.geometry.is_empty]
    after = int(shapely.get_num_coordinates(frame.geometry.values).sum())
    if after < before:
        logger.info("map layer %s: %d -> %d vertices (simplified, rounded to %d decimals)",
                    name, before, after, COORD_DECIMALS)
    return frame


def _rounded(geometries: Any) -> Any:
    """Coordinates rounded to ``COORD_DECIMALS``; a polygon that simplification left
    invalid (a hole outside its shell, met on a Nigeria-size run) is repaired first."""
    grid = 10.0 ** -COORD_DECIMALS
    try:
        return shapely.set_precision(geometries, grid)
    except shapely.errors.GEOSException:
        return shapely.set_precision(shapely.make_valid(geometries), grid)


def _simplified(frame: gpd.GeoDataFrame, tolerance_m: float, budget: int | None,
                ) -> gpd.GeoSeries:
    """Geometries simplified at ``tolerance_m``, doubled until within ``budget`` vertices."""
    metric = frame.geometry.to_crs(frame.estimate_utm_crs())
    while True:
        simple = metric.simplify(tolerance_m, preserve_topology=True)
        vertices = int(shapely.get_num_coordinates(simple.values).sum())
        if budget is None or vertices <= budget or tolerance_m > 50_000:
            break
        tolerance_m *= max(2.0, vertices / budget)
        logger.info("map layer: %d vertices over the budget of %d; simplifying at %.0f m",
                    vertices, budget, tolerance_m)
    return simple.to_crs("EPSG:4326")


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
