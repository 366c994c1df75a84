"""Underserved zones: clusters of people beyond a travel-time threshold."""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accessmap._raster import cell_area_km2, label_polygons
from accessmap.analysis.coverage import underserved_mask
from accessmap.inputs.population import Population

__all__ = ["REST_ZONE", "underserved_zones"]

logger = logging.getLogger(__name__)


#: ``zone`` value of the row that gathers the clusters below the size limit.
REST_ZONE = "other small zones"


def underserved_zones(
    population: Population,
    time_s: NDArray[np.float64],
    threshold_min: float,
    *,
    min_population: float = 100.0,
) -> gpd.GeoDataFrame:
    """Contiguous clusters of populated cells beyond ``threshold_min``, ranked by people.

    Cells are underserved when their people have no route or need more than the
    threshold; clusters are 8-connected (``scipy.ndimage.label``).  Clusters with fewer
    than ``min_population`` people are gathered into one last row, ``REST_ZONE``,
    never dropped, so the zones' populations add up to all underserved people.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, one row per zone: ``rank`` (1 = most people), ``zone``,
        ``population``, ``unreachable_population`` (no route at all), ``cells``,
        ``area_km2``, ``mean_time_min`` (population-weighted over people with a route,
        empty when none) and ``max_time_min``; the rest row comes last.
    """
    import scipy.ndimage

    needy = population.to_grid(underserved_mask(time_s, threshold_min).astype(float),
                               fill=0.0) > 0
    labels, count = scipy.ndimage.label(needy, structure=np.ones((3, 3), dtype=int))
    zone = labels[population.row, population.col]
    pop = population.population
    sums = np.bincount(zone, weights=pop, minlength=count + 1)
    order = np.argsort(-sums[1:], kind="stable") + 1
    big = order[sums[order] >= min_population]
    rank_of = np.zeros(count + 1, dtype=np.int32)
    rank_of[big] = np.arange(1, big.size + 1)
    small = np.setdiff1d(order, big)
    rank_of[small] = big.size + 1
    point_rank = rank_of[zone]
    grid_rank = np.where(labels > 0, rank_of[labels], 0).astype(np.int32)
    geoms = label_polygons(grid_rank, population.transform, population.crs)
    areas = np.broadcast_to(cell_area_km2(population.transform, population.shape,
                                          population.crs), population.shape)
    rows = [
        _zone_row(rank, REST_ZONE if rank > big.size else f"zone {rank}",
                  point_rank == rank, pop, time_s,
                  float(areas[grid_rank == rank].sum()), geoms.get(rank))
        for rank in range(1, big.size + (2 if small.size else 1))
    ]
    columns = ["rank", "zone", "population", "unreachable_population", "cells", "area_km2",
               "mean_time_min", "max_time_min", "geometry"]
    logger.info("underserved zones beyond %g min: %d zones, %d small clusters gathered",
                threshold_min, big.size, small.size)
    return gpd.GeoDataFrame(pd.DataFrame(rows, columns=columns), geometry="geometry",
                            crs="EPSG:4326")


def _zone_row(
    rank: int, name: str, member: NDArray[np.bool_], pop: NDArray[np.float64],
    time_s: NDArray[np.float64], area_km2: float, geometry: Any,
) -> dict[str, Any]:
    t, p = time_s[member], pop[member]
    routed = np.isfinite(t)
    weight = float(p[routed].sum())
    return {
        "rank": rank, "zone": name, "population": float(p.sum()),
        "unreachable_population": float(p[~routed].sum()), "cells": int(member.sum()),
        "area_km2": area_km2,
        "mean_time_min": float((p[routed] * t[routed]).sum()) / weight / 60
        if weight > 0 else np.nan,
        "max_time_min": float(t[routed].max()) / 60 if routed.any() else np.nan,
        "geometry": geometry,
    }
