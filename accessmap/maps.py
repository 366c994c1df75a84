"""Folium decision maps: travel-time surface, facilities, recommended sites.

Every data layer renders with no tile server (planners' laptops are often offline); the
online base map is an optional layer.  Every name shown comes from OSM or user files and
is HTML-escaped.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence

import branca.colormap
import folium
import geopandas as gpd
import numpy as np
from numpy.typing import NDArray

from accessmap.population import Population

logger = logging.getLogger(__name__)

#: Colours of the travel-time classes (minutes), light = near, dark = far.
TIME_COLOURS = ("#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027", "#7f0000")


def time_colormap(thresholds_min: Sequence[float]) -> branca.colormap.StepColormap:
    """Stepped legend of travel time in minutes, one class per threshold band."""
    edges = [0.0, *[float(t) for t in thresholds_min]]
    edges.append(edges[-1] * 2)
    colours = list(TIME_COLOURS[: len(edges) - 1])
    return branca.colormap.StepColormap(
        colours, index=edges, vmin=edges[0], vmax=edges[-1],
        caption="Travel time to nearest facility (minutes)",
    )


def time_image(
    population: Population, time_min: NDArray[np.float64], thresholds_min: Sequence[float]
) -> NDArray[np.uint8]:
    """RGBA image of travel-time classes on the population grid (transparent where empty)."""
    grid = population.to_grid(time_min)
    populated = population.to_grid(np.ones_like(time_min), fill=0.0) > 0
    edges = np.asarray([float(t) for t in thresholds_min])
    classes = np.searchsorted(edges, grid, side="left")
    rgba = np.zeros((*grid.shape, 4), dtype=np.uint8)
    for index, colour in enumerate(TIME_COLOURS[: edges.size + 1]):
        hit = populated & (classes == index)
        rgba[hit] = [*_rgb(colour), 200]
    unreachable = populated & ~np.isfinite(grid)
    rgba[unreachable] = [60, 60, 60, 220]
    return rgba


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _grid_bounds(population: Population) -> list[list[float]]:
    height, width = population.shape
    west, north = population.transform * (0, 0)
    east, south = population.transform * (width, height)
    return [[min(south, north), min(west, east)], [max(south, north), max(west, east)]]


def decision_map(
    *,
    title: str,
    population: Population,
    time_min: NDArray[np.float64],
    thresholds_min: Sequence[float],
    facilities: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    synthetic: bool = False,
) -> folium.Map:
    """Build the decision map.

    Parameters
    ----------
    title
        Map title (escaped).
    population
        Demand grid (for the travel-time surface).
    time_min
        Travel time per demand point in minutes (``inf`` if unreachable).
    thresholds_min
        Legend classes.
    facilities
        Existing facilities (EPSG:4326) with ``name`` and ``type``.
    sites
        Recommended sites (EPSG:4326) with ``rank``, ``kind``, ``added_population``.
    synthetic
        Label the map as made from synthetic data.

    Returns
    -------
    folium.Map
    """
    bounds = _grid_bounds(population)
    fmap = folium.Map(tiles=None, control_scale=True)
    fmap.fit_bounds(bounds)
    folium.TileLayer("OpenStreetMap", name="Online base map (needs internet)", show=False
                     ).add_to(fmap)
    surface = folium.FeatureGroup(name="Travel time to care", show=True)
    folium.raster_layers.ImageOverlay(
        time_image(population, time_min, thresholds_min), bounds=bounds, mercator_project=True,
        interactive=False, opacity=0.8,
    ).add_to(surface)
    surface.add_to(fmap)
    _facility_layer(facilities).add_to(fmap)
    _site_layer(sites).add_to(fmap)
    time_colormap(thresholds_min).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    label = " (SYNTHETIC DATA, not a real place)" if synthetic else ""
    heading = html.escape(title + label)
    fmap.get_root().html.add_child(folium.Element(
        f'<div style="position:fixed;top:10px;left:50px;z-index:9999;background:white;'
        f'padding:6px 10px;border:1px solid #888;font:14px sans-serif">'
        f"<b>{heading}</b></div>"
    ))
    return fmap


def _facility_layer(facilities: gpd.GeoDataFrame) -> folium.FeatureGroup:
    layer = folium.FeatureGroup(name="Existing facilities")
    for row in facilities.itertuples():
        text = f"<b>{html.escape(str(row.name))}</b><br>{html.escape(str(row.type))}"
        folium.CircleMarker(
            [row.geometry.y, row.geometry.x], radius=6, color="#08306b", fill=True,
            fill_color="#2171b5", fill_opacity=0.9, weight=2,
            popup=folium.Popup(text, max_width=250),
            tooltip=html.escape(str(row.name)),
        ).add_to(layer)
    return layer


def _site_layer(sites: gpd.GeoDataFrame) -> folium.FeatureGroup:
    layer = folium.FeatureGroup(name="Recommended new sites")
    for row in sites.itertuples():
        clinic = row.kind == "satellite_clinic"
        text = (f"<b>#{int(row.rank)} {html.escape(str(row.kind).replace('_', ' '))}</b><br>"
                f"newly within reach: {row.added_population:,.0f} people")
        folium.RegularPolygonMarker(
            [row.geometry.y, row.geometry.x], number_of_sides=4 if clinic else 3, radius=9,
            color="#54278f", fill=True, fill_color="#9e9ac8" if clinic else "#fdae6b",
            fill_opacity=0.95, popup=folium.Popup(text, max_width=250),
            tooltip=f"#{int(row.rank)}",
        ).add_to(layer)
    return layer
