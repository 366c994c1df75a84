"""Underserved zones: clusters of people beyond a travel-time threshold.

Every per-zone figure is aggregated in one pass over the demand points and one over the
grid (``np.bincount``), so the cost grows with the cells, not with cells x zones.
"""

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
    n_ranks = big.size + (1 if small.size else 0)
    point_rank = rank_of[zone]
    grid_rank = np.where(labels > 0, rank_of[labels], 0).astype(np.int32)
    geoms = label_polygons(grid_rank, population.transform, population.crs)
    areas = np.broadcast_to(cell_area_km2(population.transform, population.shape,
                                          population.crs), population.shape)
    area_km2 = np.bincount(grid_rank.ravel(), weights=areas.ravel(), minlength=n_ranks + 1)
    stats = _zone_sums(point_rank, pop, np.asarray(time_s, np.float64), n_ranks + 1)
    rows = [
        {"rank": rank, "zone": REST_ZONE if rank > big.size else f"zone {rank}",
         **{key: value[rank] for key, value in stats.items()},
         "area_km2": float(area_km2[rank]), "geometry": geoms.get(rank)}
        for rank in range(1, n_ranks + 1)
    ]
    columns = ["rank", "zone", "population", "unreachable_population", "cells", "area_km2",
               "mean_time_min", "max_time_min", "geometry"]
    logger.info("underserved zones beyond %g min: %d zones, %d small clusters gathered",
                threshold_min, big.size, small.size)
    return gpd.GeoDataFrame(pd.DataFrame(rows, columns=columns), geometry="geometry",
                            crs="EPSG:4326")


def _zone_sums(
    rank: NDArray[np.int32], pop: NDArray[np.float64], time_s: NDArray[np.float64], n: int,
) -> dict[str, list[Any]]:
    """Per zone rank (0 = not underserved), in one pass over the demand points.

    ``population``, ``unreachable_population`` (no route), ``cells``, ``mean_time_min``
    (population-weighted over the routed points; NaN without any) and ``max_time_min``.
    """
    routed = np.isfinite(time_s)
    people = np.bincount(rank, weights=pop, minlength=n)
    unreachable = np.bincount(rank[~routed], weights=pop[~routed], minlength=n)
    cells = np.bincount(rank, minlength=n)
    weight = np.bincount(rank[routed], weights=pop[routed], minlength=n)
    weighted = np.bincount(rank[routed], weights=pop[routed] * time_s[routed], minlength=n)
    longest = np.full(n, -np.inf)
    np.maximum.at(longest, rank[routed], time_s[routed])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(weight > 0, weighted / weight / 60, np.nan)
    return {
        "population": people.tolist(), "unreachable_population": unreachable.tolist(),
        "cells": cells.tolist(), "mean_time_min": mean.tolist(),
        "max_time_min": np.where(np.isfinite(longest), longest / 60, np.nan).tolist(),
    }
