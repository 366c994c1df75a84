"""Travel time from every demand point to its nearest facility, over the network.

A trip is: walk off-road from the home to the nearest point of the nearest usable road
segment, travel along the network, then from the road to the facility.  Searches run
from the facilities over the reversed graph (:attr:`RoadNetwork.graph_to`), so one-way
streets count in the direction people actually travel.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse
from numpy.typing import NDArray

from accessmap import engine
from accessmap.network import RoadNetwork, Snap, entry_costs, entry_points, snap_points

logger = logging.getLogger(__name__)

#: Status codes of a demand point.
REACHED, OFF_NETWORK, NO_ROUTE = 0, 1, 2
STATUS_NAMES = {REACHED: "reached", OFF_NETWORK: "off_network", NO_ROUTE: "no_route"}


@dataclass(frozen=True, eq=False)
class Access:
    """Nearest-facility travel times.

    Attributes
    ----------
    time_s
        Per demand point, seconds to the nearest facility (``inf`` when none is reachable).
    facility
        Per demand point, the index of that facility (-1 when none).
    status
        Per demand point: ``REACHED``, ``OFF_NETWORK`` (farther than the maximum snap
        distance from any road) or ``NO_ROUTE`` (on a road piece with no facility).
    point_snap, facility_snap
        Where demand points and facilities meet the network.
    node_time_s, node_facility
        The same per network node.
    """

    time_s: NDArray[np.float64]
    facility: NDArray[np.int64]
    status: NDArray[np.int8]
    point_snap: Snap
    facility_snap: Snap
    node_time_s: NDArray[np.float64]
    node_facility: NDArray[np.int64]


def facility_sources(network: RoadNetwork, snap: Snap) -> engine.Sources:
    """Return facilities as weighted graph entries for searches over ``graph_to``."""
    point, node, cost = entry_points(network, snap, towards_network=False)
    return engine.Sources(
        entry_source=point.astype(np.int64), entry_node=node.astype(np.int64),
        entry_cost=cost.astype(np.float64), n_sources=int(snap.segment.size),
    )


def nearest_facility_times(
    network: RoadNetwork,
    point_x: NDArray[np.float64],
    point_y: NDArray[np.float64],
    facility_x: NDArray[np.float64],
    facility_y: NDArray[np.float64],
    *,
    point_snap: Snap | None = None,
) -> Access:
    """Compute every demand point's travel time to its nearest facility.

    Parameters
    ----------
    network
        The routable network of the travel mode.
    point_x, point_y
        Demand points in the network CRS (metres).
    facility_x, facility_y
        Facilities in the network CRS (metres).
    point_snap
        Precomputed snap of the demand points (saves time when called repeatedly).

    Returns
    -------
    Access
    """
    point_snap = point_snap or snap_points(network, point_x, point_y)
    facility_snap = snap_points(network, facility_x, facility_y)
    node_time, node_facility = engine.nearest_source(
        network.graph_to, facility_sources(network, facility_snap)
    )
    time_s, facility = _point_times(network, point_snap, node_time, node_facility)
    _same_segment_trips(network, point_snap, facility_snap, time_s, facility)
    status = np.full(time_s.size, REACHED, dtype=np.int8)
    status[~np.isfinite(time_s)] = NO_ROUTE
    status[~point_snap.on_network] = OFF_NETWORK
    logger.info(
        "travel times: %d points reached, %d off-network, %d with no route to a facility",
        int((status == REACHED).sum()), int((status == OFF_NETWORK).sum()),
        int((status == NO_ROUTE).sum()),
    )
    return Access(time_s, facility, status, point_snap, facility_snap, node_time, node_facility)


def _point_times(
    network: RoadNetwork,
    snap: Snap,
    node_time: NDArray[np.float64],
    node_facility: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Best of the two segment ends for every snapped point (ties: the ``seg_u`` end)."""
    n = snap.segment.size
    point, cost_u, cost_v = entry_costs(network, snap, towards_network=True)
    seg = snap.segment[point]
    node_u, node_v = network.seg_u[seg], network.seg_v[seg]
    total_u = cost_u + node_time[node_u]
    total_v = cost_v + node_time[node_v]
    use_u = total_u <= total_v
    best = np.where(use_u, total_u, total_v)
    node = np.where(use_u, node_u, node_v)
    reached = np.isfinite(best)
    time_s = np.full(n, np.inf)
    facility = np.full(n, -1, dtype=np.int64)
    time_s[point[reached]] = best[reached]
    facility[point[reached]] = node_facility[node[reached]]
    return time_s, facility


def _same_segment_trips(
    network: RoadNetwork,
    point_snap: Snap,
    facility_snap: Snap,
    time_s: NDArray[np.float64],
    facility: NDArray[np.int64],
) -> None:
    """Shorten trips where a home and a facility sit on the same segment (in place).

    Going along the segment straight from the home's snap point to the facility's may
    beat leaving through either end.
    """
    fac = pd.DataFrame({"segment": facility_snap.segment, "f_frac": facility_snap.fraction,
                        "facility": np.arange(facility_snap.segment.size),
                        "f_off": network.profile.offroad_seconds(facility_snap.distance_m)})
    fac = fac[fac["segment"] >= 0]
    if fac.empty:
        return
    near = np.flatnonzero(np.isin(point_snap.segment, fac["segment"].to_numpy()))
    pts = pd.DataFrame({"segment": point_snap.segment[near],
                        "p_frac": point_snap.fraction[near], "point": near,
                        "p_off": network.profile.offroad_seconds(point_snap.distance_m[near])})
    pairs = pts.merge(fac, on="segment")
    if pairs.empty:
        return
    seg = pairs["segment"].to_numpy()
    delta = pairs["f_frac"].to_numpy() - pairs["p_frac"].to_numpy()
    along = np.where(delta >= 0, network.seg_time_fwd_s[seg], network.seg_time_bwd_s[seg])
    with np.errstate(invalid="ignore"):
        leg = np.where(delta == 0, 0.0, np.abs(delta) * along)
    total = pairs["p_off"].to_numpy() + leg + pairs["f_off"].to_numpy()
    points = pairs["point"].to_numpy()
    better = total < time_s[points]
    for p, t, f in zip(points[better], total[better], pairs["facility"].to_numpy()[better],
                       strict=True):
        if t < time_s[p]:
            time_s[p] = t
            facility[p] = f


# --------------------------------------------------------------------------- per facility
# (issue 4: facility x demand times, catchments, 2SFCA / E2SFCA)


def source_point_times(
    network: RoadNetwork,
    sources: engine.Sources,
    point_snap: Snap,
    demand: NDArray[np.int64],
    limit_s: float,
) -> scipy.sparse.csr_array:
    """Travel time from demand points to each source (facility or candidate) within a limit.

    One bounded search per source over :attr:`RoadNetwork.graph_to`; each demand point
    is reached through either end of its segment (its off-road leg and part segment
    added), all inside the engine's compiled pass.

    Parameters
    ----------
    network
        Road network.
    sources
        Destinations as graph entries (e.g. :func:`facility_sources`, or
        ``engine.Sources.at_nodes(candidate_nodes)``).
    point_snap
        Snap of all demand points.
    demand
        Indices of the demand points to keep (columns of the result, in this order).
    limit_s
        Largest total time kept (network time plus the point's entry cost).

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(sources.n_sources, demand.size)``; the best time over the point's two
        entries.  Zero times are stored: read through ``.indptr``/``.indices``/``.data``.
    """
    sub = Snap(point_snap.segment[demand], point_snap.fraction[demand],
               point_snap.distance_m[demand])
    point, node, cost = entry_points(network, sub, towards_network=True)
    targets = engine.Sources(entry_source=point, entry_node=node, entry_cost=cost,
                             n_sources=int(demand.size))
    return engine.bounded_times(network.graph_to, sources, float(limit_s), targets=targets)


def facility_point_times(
    network: RoadNetwork, access: Access, limit_s: float
) -> scipy.sparse.csr_array:
    """Facility x demand point travel times within ``limit_s`` (sparse, zeros stored)."""
    demand = np.arange(access.point_snap.segment.size, dtype=np.int64)
    return source_point_times(network, facility_sources(network, access.facility_snap),
                              access.point_snap, demand, limit_s)


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
    coo = times.tocoo()
    fac, pt, t = coo.row, coo.col, coo.data
    inside = t <= max_time_s
    fac, pt, t = fac[inside], pt[inside], t[inside]
    weight = step_decay(t, max_time_s) if decay else np.ones(t.size)
    served = np.bincount(fac, weights=demand[pt] * weight, minlength=times.shape[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(served > 0, np.asarray(supply, float) / served, np.nan)
    accessibility = np.bincount(pt, weights=np.nan_to_num(ratio[fac]) * weight,
                                minlength=times.shape[1]).astype(np.float64)
    return ratio.astype(np.float64), accessibility


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
