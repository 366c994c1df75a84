"""Coverage statistics: who is within each travel-time threshold, and who is not.

Every figure here can be checked by hand: a point counts as covered within T minutes
when its travel time to the nearest facility is at most T minutes; shares are taken of
the total population of the study area, including people off the network and people
with no route at all (they are never silently dropped from the denominator).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accessmap._raster import cell_area_km2, label_polygons
from accessmap.catchments import NO_ROUTE, OFF_NETWORK
from accessmap.population import Population

logger = logging.getLogger(__name__)


def coverage_table(
    time_s: NDArray[np.float64],
    population: NDArray[np.float64],
    thresholds_min: Sequence[float],
) -> pd.DataFrame:
    """Population and share within each threshold.

    Parameters
    ----------
    time_s
        Travel time per demand point in seconds (``inf`` when unreachable).
    population
        Population per demand point.
    thresholds_min
        Thresholds in minutes.

    Returns
    -------
    pandas.DataFrame
        Columns ``threshold_min``, ``population``, ``share`` (0-1 of the total).

    Examples
    --------
    >>> coverage_table(np.array([600.0, 2400.0, np.inf]), np.array([1.0, 2.0, 1.0]), [30])
       threshold_min  population  share
    0           30.0         1.0   0.25
    """
    total = float(np.sum(population))
    rows = []
    for threshold in thresholds_min:
        covered = float(population[time_s <= threshold * 60].sum())
        rows.append({"threshold_min": float(threshold), "population": covered,
                     "share": covered / total if total > 0 else 0.0})
    return pd.DataFrame(rows, columns=["threshold_min", "population", "share"])


def coverage_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Return a coverage table as JSON-ready records (populations rounded to 0.1)."""
    return [
        {"threshold_min": float(r.threshold_min), "population": round(float(r.population), 1),
         "share": round(float(r.share), 6)}
        for r in table.itertuples()
    ]


def unreachable_summary(
    status: NDArray[np.int8], population: NDArray[np.float64]
) -> dict[str, float]:
    """Population with no travel time, split by reason.

    Returns
    -------
    dict
        ``off_network`` (farther than the snap distance from any road), ``no_route`` (on
        a road piece without a facility) and their sum ``total``.
    """
    off = float(population[status == OFF_NETWORK].sum())
    none = float(population[status == NO_ROUTE].sum())
    return {"off_network": round(off, 1), "no_route": round(none, 1),
            "total": round(off + none, 1)}


def underserved_mask(time_s: NDArray[np.float64], threshold_min: float) -> NDArray[np.bool_]:
    """True for demand points beyond ``threshold_min`` (unreachable ones included)."""
    return ~(time_s <= threshold_min * 60)


def label_weights(
    labels: NDArray[np.object_], population: NDArray[np.float64]
) -> dict[str, NDArray[np.float64]]:
    """Population of each label as one weight array per label (others 0), sorted by label.

    Labels are compared as text (``str``), without building a text copy of the labels.

    Examples
    --------
    >>> w = label_weights(np.array(["a", "b", "a"], dtype=object), np.array([1.0, 2.0, 3.0]))
    >>> {k: v.tolist() for k, v in w.items()}
    {'a': [1.0, 0.0, 3.0], 'b': [0.0, 2.0, 0.0]}
    """
    flat = np.asarray(labels).ravel()
    codes, uniques = pd.factorize(flat)
    names = [str(u) for u in uniques]  # labels that print alike (1 and "1") are one label
    for i in np.flatnonzero(codes < 0):  # None / NaN count as their text, as str() has it
        codes[i] = len(names)
        names.append(str(flat[i]))
    merged = {name: i for i, name in enumerate(sorted(set(names)))}
    code = np.array([merged[name] for name in names], dtype=np.intp)[codes]
    return {name: np.where(code == i, population, 0.0) for name, i in merged.items()}


def coverage_by(
    weights: Mapping[str, NDArray[np.float64]],
    time_s: NDArray[np.float64],
    status: NDArray[np.int8],
    thresholds_min: Sequence[float],
    *,
    key: str = "name",
) -> pd.DataFrame:
    """Coverage of each area or group (one row each), in wide form for planners.

    Parameters
    ----------
    weights
        Name -> people per demand point (e.g. from :func:`label_weights`, or a count
        raster such as under-5s).
    time_s, status
        Per demand point travel time (s) and status (see :mod:`accessmap.catchments`).
    thresholds_min
        Thresholds in minutes.
    key
        Name of the first column (``area``, ``group``).

    Returns
    -------
    pandas.DataFrame
        ``key``, ``population``, ``population_<T>min`` and ``share_<T>min`` per threshold
        (share of that row's population; empty when it has nobody), ``off_network``,
        ``no_route`` and ``mean_time_min`` (population-weighted over people with a route).
    """
    rows = []
    reached = np.isfinite(time_s)
    for name, weight in weights.items():
        total = float(weight.sum())
        row: dict[str, Any] = {key: name, "population": total}
        for threshold in thresholds_min:
            covered = float(weight[time_s <= threshold * 60].sum())
            row[f"population_{threshold:g}min"] = covered
            row[f"share_{threshold:g}min"] = covered / total if total > 0 else np.nan
        row["off_network"] = float(weight[status == OFF_NETWORK].sum())
        row["no_route"] = float(weight[status == NO_ROUTE].sum())
        with_route = float(weight[reached].sum())
        row["mean_time_min"] = (float((weight[reached] * time_s[reached]).sum()) / with_route
                                / 60 if with_route > 0 else np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


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
