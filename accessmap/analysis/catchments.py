"""Facility catchments and supply-to-demand ratios (2SFCA, E2SFCA).

The ratios need only per-facility demand sums and per-point accessibility sums, so
:func:`facility_catchments` takes the facility-to-point times one block of facilities at
a time and keeps the sums, never the whole facility x point matrix.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse
from numpy.typing import NDArray

from accessmap._raster import cell_area_km2, label_polygons
from accessmap.inputs.population import Population
from accessmap.progress import Tick
from accessmap.routing.network import RoadNetwork
from accessmap.routing.travel_times import Access, facility_point_time_blocks

__all__ = ["catchment_table", "facility_catchments", "step_decay", "two_step_fca"]


def step_decay(time_s: NDArray[np.float64], max_time_s: float) -> NDArray[np.float64]:
    """E2SFCA weights of Luo & Qi (2009): 1.00, 0.68, 0.22 over thirds of the catchment.

    Examples
    --------
    >>> step_decay(np.array([0.0, 10.0, 11.0, 25.0, 31.0]), 30.0).tolist()
    [1.0, 1.0, 0.68, 0.22, 0.0]
    """
    t = np.asarray(time_s, float)
    return np.select([t <= max_time_s / 3, t <= 2 * max_time_s / 3, t <= max_time_s],
                     [1.0, 0.68, 0.22], 0.0)


def two_step_fca(
    times: scipy.sparse.csr_array,
    supply: NDArray[np.float64],
    demand: NDArray[np.float64],
    max_time_s: float,
    *,
    decay: bool = False,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Two-step floating catchment area ratios (Luo & Wang 2003; E2SFCA with ``decay``).

    Step 1: each facility's ratio ``R_j = S_j / sum_k P_k W(t_kj)`` over the demand
    points within ``max_time_s``.  Step 2: each demand point's accessibility
    ``A_i = sum_j R_j W(t_ij)``.  ``W`` is 1 (2SFCA) or :func:`step_decay` (E2SFCA).

    Parameters
    ----------
    times
        Facility x demand point times (e.g. :func:`facility_point_times`).
    supply
        Capacity per facility (beds, staff, or 1 per facility).
    demand
        Population per demand point.
    max_time_s
        Catchment size.
    decay
        Use distance-decay weights (E2SFCA).

    Returns
    -------
    ratio, accessibility
        ``ratio`` per facility (NaN when no one lives within its catchment) and
        ``accessibility`` per demand point (0 when no facility is within reach).
    """
    accessibility = np.zeros(times.shape[1], dtype=np.float64)
    ratio = _block_ratios(times, np.asarray(supply, float), demand, max_time_s,
                          decay=decay, accessibility=accessibility)
    return ratio, accessibility


def _block_ratios(
    block: scipy.sparse.csr_array,
    supply: NDArray[np.float64],
    demand: NDArray[np.float64],
    max_time_s: float,
    *,
    decay: bool,
    accessibility: NDArray[np.float64] | None,
) -> NDArray[np.float64]:
    """2SFCA step 1 for the facilities of ``block`` (its rows), step 2 added in place.

    A block holds every time of its facilities, so their ratios are complete; their
    share of each point's accessibility is added to ``accessibility`` entry by entry in
    the block's order (``np.add.at``), so blocks taken in facility order give exactly the
    sums of one pass over the whole matrix.  ``supply`` holds the block's facilities.
    """
    coo = block.tocoo()
    fac, pt, t = coo.row, coo.col, coo.data
    inside = t <= max_time_s
    fac, pt, t = fac[inside], pt[inside], t[inside]
    weight = step_decay(t, max_time_s) if decay else np.ones(t.size)
    served = np.bincount(fac, weights=demand[pt] * weight, minlength=block.shape[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(served > 0, supply / served, np.nan)
    if accessibility is not None:
        np.add.at(accessibility, pt, np.nan_to_num(ratio[fac]) * weight)
    return ratio.astype(np.float64)


def _chunked_fca(
    blocks: Iterator[tuple[int, scipy.sparse.csr_array]],
    supply: NDArray[np.float64],
    demand: NDArray[np.float64],
    max_time_s: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """2SFCA ratios, E2SFCA ratios and 2SFCA accessibility, one block of facilities at a
    time (the facility x point matrix is never whole); equal to :func:`two_step_fca`."""
    ratio = np.full(supply.size, np.nan)
    e_ratio = np.full(supply.size, np.nan)
    accessibility = np.zeros(demand.size, dtype=np.float64)
    for first, block in blocks:
        rows = slice(first, first + block.shape[0])
        ratio[rows] = _block_ratios(block, supply[rows], demand, max_time_s, decay=False,
                                    accessibility=accessibility)
        e_ratio[rows] = _block_ratios(block, supply[rows], demand, max_time_s, decay=True,
                                      accessibility=None)
    return ratio, e_ratio, accessibility


def catchment_table(
    access: Access,
    population: NDArray[np.float64],
    thresholds_min: Sequence[float],
) -> pd.DataFrame:
    """People whose nearest facility each facility is, in total and within each threshold.

    Returns
    -------
    pandas.DataFrame
        One row per facility (in facility order): ``population`` and
        ``population_<T>min`` per threshold, ``mean_time_min`` (population-weighted).
    """
    n = access.facility_snap.segment.size
    has = access.facility >= 0
    fac, pop, t = access.facility[has], population[has], access.time_s[has]
    table = pd.DataFrame({"population": np.bincount(fac, weights=pop, minlength=n)})
    for threshold in thresholds_min:
        near = t <= threshold * 60
        table[f"population_{threshold:g}min"] = np.bincount(fac[near], weights=pop[near],
                                                            minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["mean_time_min"] = np.bincount(fac, weights=pop * t, minlength=n) / 60 / \
            table["population"].to_numpy()
    return table


def facility_catchments(
    network: RoadNetwork,
    population: Population,
    facilities: gpd.GeoDataFrame,
    access: Access,
    thresholds_min: Sequence[float],
    catchment_threshold_min: float,
    *,
    tick: Tick | None = None,
) -> tuple[gpd.GeoDataFrame, NDArray[np.float64], str]:
    """Per facility: its nearest-facility catchment (polygon and people), 2SFCA, E2SFCA.

    Parameters
    ----------
    network, population, facilities, access
        The run's network, demand points, facilities and nearest-facility times.
    thresholds_min
        Travel-time thresholds of the catchment table's "people within" columns.
    catchment_threshold_min
        Catchment size of the 2SFCA ratios.
    tick
        Progress of the facility-to-point searches (0-1).

    Returns
    -------
    catchments : geopandas.GeoDataFrame
        One row per facility (EPSG:4326): ``facility_id``, ``name``, ``type``,
        ``capacity`` (and ``planned`` when the facilities have it), the
        :func:`catchment_table` columns, ``catchment_area_km2``,
        ``supply``, ``sfca_ratio_per_1000``, ``e2sfca_ratio_per_1000``.
    accessibility : numpy.ndarray
        2SFCA accessibility of each demand point.
    supply_unit : {"capacity", "facility"}
        What a unit of supply is: the ``capacity`` column when any facility has one,
        else one per facility.
    """
    table = catchment_table(access, population.population, thresholds_min)
    capacity = pd.to_numeric(facilities["capacity"], errors="coerce").to_numpy(float)
    if np.isfinite(capacity).any():
        supply, unit = np.nan_to_num(capacity, nan=0.0), "capacity"
    else:
        supply, unit = np.ones(len(facilities)), "facility"
    limit = catchment_threshold_min * 60
    blocks = facility_point_time_blocks(network, access, limit, tick=tick)
    ratio, e_ratio, accessibility = _chunked_fca(blocks, np.asarray(supply, float),
                                                 population.population, limit)
    grid = population.to_grid((access.facility + 1).astype(float), fill=0.0).astype(np.int32)
    geoms = label_polygons(grid, population.transform, population.crs)
    areas_km2 = np.bincount(grid.ravel(), weights=np.broadcast_to(
        cell_area_km2(population.transform, population.shape, population.crs),
        population.shape).ravel(), minlength=len(facilities) + 1)[1:]
    columns = ["facility_id", "name", "type", "capacity",
               *(["planned"] if "planned" in facilities else [])]
    frame = facilities[columns].reset_index(drop=True)
    frame = pd.concat([frame, table], axis=1).assign(
        catchment_area_km2=areas_km2, supply=supply,
        sfca_ratio_per_1000=ratio * 1000, e2sfca_ratio_per_1000=e_ratio * 1000)
    geometry = [geoms.get(i + 1) for i in range(len(facilities))]
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326"), accessibility, unit
