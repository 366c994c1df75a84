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
from accessmap.inputs.population import Population

__all__ = ["isochrone_bands", "travel_time_grid", "write_travel_time"]

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
    """Write ``travel_time.tif``: Cloud-Optimized GeoTIFF, float32 minutes, NaN nodata.

    The values are those of :func:`travel_time_grid` cast to float32; the grid is built
    in float32 directly (half the memory of the float64 grid, no second copy) and handed
    over without another reference, so it is freed before GDAL builds the COG.
    """
    write_cog(path, _minutes_float32(population, time_s), population.transform,
              population.crs, description="travel time to nearest facility (minutes)")


def _minutes_float32(population: Population, time_s: NDArray[np.float64]) -> NDArray[
    np.float32
]:
    grid = np.full(population.shape, np.nan, dtype=np.float32)
    reached = np.isfinite(time_s)
    grid[population.row[reached], population.col[reached]] = (
        np.asarray(time_s, float)[reached] / 60)
    return grid


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
    # Per demand point, in grid (row-major) order: the same values, summed in the same
    # order, as the cells of the travel-time grid within each threshold, without
    # building full float grids.
    row, col = population.row, population.col
    key = row * population.shape[1] + col
    order = np.argsort(key, kind="stable") if np.any(key[1:] <= key[:-1]) else slice(None)
    row, col = row[order], col[order]
    minutes = np.asarray(time_s, float)[order] / 60  # inf (no route) is never within
    people = population.population[order]
    area = cell_area_km2(population.transform, population.shape, population.crs)[row, 0]
    rows = []
    for threshold in sorted(float(t) for t in thresholds_min):
        within = minutes <= threshold
        inside = np.zeros(population.shape, dtype=np.int32)
        inside[row[within], col[within]] = 1
        geom = label_polygons(inside, population.transform, population.crs).get(1)
        rows.append({"threshold_min": threshold, "population": float(people[within].sum()),
                     "cells": int(within.sum()), "area_km2": float(area[within].sum()),
                     "geometry": geom})
    bands = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    logger.info("isochrone bands: %s", ", ".join(
        f"{r['threshold_min']:g} min {r['population']:.0f} people" for r in rows))
    return bands
