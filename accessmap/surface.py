"""Travel-time surface (``travel_time.tif``) and nested isochrone bands built from it.

The surface is the population grid with each populated cell holding its travel time to
the nearest facility in minutes; cells without people, and people with no route, are
NaN (nodata).  Band ``T`` is the polygon of all cells reachable within ``T`` minutes,
vectorised from the surface along cell edges, so bands nest (the 60-minute band
contains the 30-minute band), and holes and unreachable pockets stay visible.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
from numpy.typing import NDArray

from accessmap._raster import cell_area_km2, label_polygons, write_cog
from accessmap.population import Population

logger = logging.getLogger(__name__)


def travel_time_grid(population: Population, time_s: NDArray[np.float64]) -> NDArray[
    np.float64
]:
    """Minutes to the nearest facility on the population grid (NaN: no people / no route).

    Examples
    --------
    >>> from affine import Affine
    >>> pop = Population(np.zeros(2), np.zeros(2), np.ones(2), np.array([0, 1]),
    ...                  np.array([0, 1]), Affine.identity(), (2, 2), "EPSG:4326", "x")
    >>> travel_time_grid(pop, np.array([60.0, np.inf])).tolist()
    [[1.0, nan], [nan, nan]]
    """
    minutes = np.where(np.isfinite(time_s), np.asarray(time_s, float) / 60, np.nan)
    return population.to_grid(minutes)


def write_travel_time(path: Path, population: Population, time_s: NDArray[np.float64]) -> None:
    """Write ``travel_time.tif``: Cloud-Optimized GeoTIFF, float32 minutes, NaN nodata."""
    write_cog(path, travel_time_grid(population, time_s), population.transform,
              population.crs, description="travel time to nearest facility (minutes)")


def isochrone_bands(
    population: Population,
    time_s: NDArray[np.float64],
    thresholds_min: Sequence[float],
) -> gpd.GeoDataFrame:
    """Nested band polygons: the populated cells within each threshold.

    Parameters
    ----------
    population
        Demand points on their grid.
    time_s
        Travel time per demand point in seconds (``inf`` when unreachable).
    thresholds_min
        Thresholds in minutes.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per threshold (EPSG:4326): ``threshold_min``, ``population`` (people
        within it), ``cells``, ``area_km2`` (area of those cells), geometry (empty
        when nobody is within the threshold).
    """
    grid = travel_time_grid(population, time_s)
    areas = np.broadcast_to(cell_area_km2(population.transform, population.shape,
                                          population.crs), population.shape)
    pop_grid = population.to_grid(population.population, fill=0.0)
    rows = []
    for threshold in sorted(float(t) for t in thresholds_min):
        inside = grid <= threshold
        geom = label_polygons(inside.astype(np.int32), population.transform,
                              population.crs).get(1)
        rows.append({"threshold_min": threshold, "population": float(pop_grid[inside].sum()),
                     "cells": int(inside.sum()), "area_km2": float(areas[inside].sum()),
                     "geometry": geom})
    bands = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    logger.info("isochrone bands: %s", ", ".join(
        f"{r['threshold_min']:g} min {r['population']:.0f} people" for r in rows))
    return bands
