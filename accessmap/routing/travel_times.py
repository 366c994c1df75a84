"""Travel time from every demand point to its nearest facility, over the network.

A trip is: walk off-road from the home to the nearest point of the nearest usable road
segment, travel along the network, then from the road to the facility.  Searches run
from the facilities over the reversed graph (:attr:`RoadNetwork.graph_to`), so one-way
streets count in the direction people actually travel.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse
from numpy.typing import NDArray

from accessmap.errors import DataQualityWarning
from accessmap.progress import Tick, scaled
from accessmap.routing.engine import (
    Sources,
    bounded_time_blocks,
    bounded_times,
    nearest_source,
)
from accessmap.routing.network import RoadNetwork
from accessmap.routing.snapping import (
    Snap,
    entry_costs,
    entry_points,
    fallback_snap,
    snap_points,
)

__all__ = [
    "NO_ROUTE", "OFF_NETWORK", "REACHED", "STATUS_NAMES", "Access", "SearchGraph",
    "facility_point_time_blocks", "facility_point_times", "facility_sources",
    "nearest_facility_times", "point_targets", "source_point_times", "subset_facility_times",
]

logger = logging.getLogger(__name__)


#: Status codes of a demand point.
REACHED, OFF_NETWORK, NO_ROUTE = 0, 1, 2


STATUS_NAMES = {REACHED: "reached", OFF_NETWORK: "off_network", NO_ROUTE: "no_route"}


#: Builds the graph a facility search runs over and the facilities' entries into it, from
#: the facilities' snap to the network; the network's nodes are the graph's first nodes
#: (a mixed mode's layered graph, :mod:`accessmap.routing.multimodal`).
SearchGraph = Callable[[Snap], tuple[scipy.sparse.csr_array, Sources]]


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
        Where demand points and facilities meet the network (for demand points: the
        entry their trip uses, the nearest segment or the fallback).
    node_time_s, node_facility
        The same per network node.
    moved_points
        Demand points whose trip enters the network at their fallback road because that
        is quicker than their nearest one, which cannot reach the core of its piece in
        the direction of travel (a one-way dead end or stub);
        :func:`nearest_facility_times` warns about them.
    moved_facilities
        Facilities snapped to a farther road because nobody can reach their nearest one
        (a one-way stub leading only away from the facility, a piece of one-way links).
    search_graph
        The graph the facility search ran over and the facilities' entries into it, when
        it is not the network's own (a mixed mode's layered graph); catchments search it.
    point_nearest
        The demand points' nearest-segment snap when it differs from ``point_snap``
        (someone moved), else None; see :attr:`nearest_snap`.
    point_fallback
        The demand points' fallback entries (segment -1: none), or None when nobody
        has one; see :func:`accessmap.routing.snapping.fallback_snap`.
    """

    time_s: NDArray[np.float64]
    facility: NDArray[np.int64]
    status: NDArray[np.int8]
    point_snap: Snap
    facility_snap: Snap
    node_time_s: NDArray[np.float64]
    node_facility: NDArray[np.int64]
    moved_points: NDArray[np.int64] = field(
        default_factory=lambda: np.zeros(0, dtype=np.int64))
    moved_facilities: NDArray[np.int64] = field(
        default_factory=lambda: np.zeros(0, dtype=np.int64))
    search_graph: tuple[scipy.sparse.csr_array, Sources] | None = None
    point_nearest: Snap | None = None
    point_fallback: Snap | None = None

    @property
    def nearest_snap(self) -> Snap:
        """Every demand point's nearest-segment snap (pass it back as ``point_snap``)."""
        return self.point_snap if self.point_nearest is None else self.point_nearest


def facility_sources(network: RoadNetwork, snap: Snap) -> Sources:
    """Return facilities as weighted graph entries for searches over ``graph_to``."""
    point, node, cost = entry_points(network, snap, towards_network=False)
    return Sources(
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
    warn_moves: bool = True,
    search_graph: SearchGraph | None = None,
    tick: Tick | None = None,
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
        Precomputed nearest-segment snap of the demand points (saves time when called
        repeatedly; :attr:`Access.nearest_snap` of an earlier call).
    warn_moves
        Issue the :class:`DataQualityWarning` about moved points and facilities (off
        when the caller has already reported them, e.g. coverage with new sites).
    search_graph
        Run the facility search over another graph whose first nodes are the network's
        (the layered graph of ``walk+drive``); default: :attr:`RoadNetwork.graph_to`.
    tick
        Progress callback ``tick(fraction, message)``: snapping the points takes it to
        0.4, the facilities to 0.45, the network search to 0.95, the rest to 1.0.
        Whatever it raises (``Cancelled``) propagates.

    Returns
    -------
    Access

    Warns
    -----
    DataQualityWarning
        Facilities or demand points were snapped past their nearest road because that
        road cannot reach (or be reached from) the rest of the network in the direction
        of travel; ``Access.moved_points`` / ``moved_facilities`` list them.

    Notes
    -----
    Snapping goes to the nearest road *from which the trip can be made*, by rules that
    depend on the network only, never on which facilities exist (so closing a facility
    can only raise anyone's time and adding one only lower it): a facility whose
    nearest segment nobody can reach (both of its ends lie outside
    :attr:`RoadNetwork.reached_from_core`, e.g. a one-way stub leading away from it)
    is snapped to the nearest segment with a usable end that can be reached.  A demand
    point snapped within ``max_snap_m`` whose segment cannot reach the core of its
    piece (:attr:`RoadNetwork.reaches_core`: a one-way dead end, a piece of one-way
    links only) has two entries, that segment and the nearest one, still within
    ``max_snap_m``, that can (:func:`~accessmap.routing.snapping.fallback_snap`); its
    time is the quicker of the two.  People on a proper road piece without any
    facility keep their snap and the status ``NO_ROUTE``.
    """
    x = np.asarray(point_x, float)
    y = np.asarray(point_y, float)
    if point_snap is None:
        point_snap = snap_points(network, x, y, tick=scaled(tick, 0.0, 0.4))
    facility_snap = snap_points(network, facility_x, facility_y, tick=scaled(tick, 0.4, 0.45))
    facility_snap, moved_fac = _reachable_facility_snap(
        network, np.asarray(facility_x, float), np.asarray(facility_y, float), facility_snap)
    graph, sources = (network.graph_to, facility_sources(network, facility_snap)) \
        if search_graph is None else search_graph(facility_snap)
    node_time, node_facility = nearest_source(graph, sources, tick=scaled(tick, 0.45, 0.95))
    node_time, node_facility = node_time[:network.n_nodes], node_facility[:network.n_nodes]
    fallback = fallback_snap(network, x, y, point_snap) \
        if x.size == point_snap.segment.size else None
    time_s, facility, used, moved = _candidate_times(
        network, point_snap, fallback, facility_snap, node_time, node_facility)
    if warn_moves:
        _warn_moved(moved.size, moved_fac.size)
    status = np.full(time_s.size, REACHED, dtype=np.int8)
    status[~np.isfinite(time_s)] = NO_ROUTE
    status[~used.on_network] = OFF_NETWORK
    logger.info(
        "travel times: %d points reached, %d off-network, %d with no route to a facility",
        int((status == REACHED).sum()), int((status == OFF_NETWORK).sum()),
        int((status == NO_ROUTE).sum()),
    )
    if tick is not None:
        tick(1.0, "travel times done")
    return Access(time_s, facility, status, used, facility_snap, node_time, node_facility,
                  moved_points=moved, moved_facilities=moved_fac,
                  search_graph=None if search_graph is None else (graph, sources),
                  point_nearest=point_snap if moved.size else None, point_fallback=fallback)


def subset_facility_times(
    network: RoadNetwork, access: Access, keep: NDArray[np.bool_], *, tick: Tick | None = None
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Travel time from every demand point to the nearest of the facilities ``keep``.

    One multi-source search from those facilities only, with the run's snaps of the
    demand points and facilities (``access``), so that with every facility kept the
    times equal ``access.time_s``.

    Parameters
    ----------
    network
        The network ``access`` was computed on.
    access
        The run's nearest-facility times (its snaps are reused).
    keep
        One value per facility: True for the facilities counted.
    tick
        Progress of the network search; whatever it raises propagates.

    Returns
    -------
    tuple of numpy.ndarray
        Seconds per demand point (``inf``: no kept facility reachable) and the index
        (in the full facility list) of the nearest kept facility (-1: none).
    """
    rows = np.flatnonzero(np.asarray(keep, dtype=bool))
    full = access.facility_snap
    snap = Snap(full.segment[rows], full.fraction[rows], full.distance_m[rows])
    node_time, node_facility = nearest_source(network.graph_to, facility_sources(network, snap),
                                              tick=tick)
    time_s, facility, _, _ = _candidate_times(network, access.nearest_snap, access.point_fallback,
                                              snap, node_time, node_facility)
    time_s[~access.point_snap.on_network] = np.inf
    return time_s, np.where(facility >= 0, rows[np.maximum(facility, 0)], -1)


def _replace_rows(snap: Snap, rows: NDArray[np.int64], new: Snap) -> Snap:
    """``snap`` with rows ``rows`` taken from ``new`` (aligned with ``rows``)."""
    segment, fraction, distance = snap.segment.copy(), snap.fraction.copy(), snap.distance_m.copy()
    segment[rows], fraction[rows], distance[rows] = new.segment, new.fraction, new.distance_m
    return Snap(segment, fraction, distance)


def _reachable_facility_snap(
    network: RoadNetwork, x: NDArray[np.float64], y: NDArray[np.float64], snap: Snap
) -> tuple[Snap, NDArray[np.int64]]:
    """Move facilities whose segment nobody can reach to the nearest one that can be.

    A segment can bring people to a point on it when one of its ends is reached from the
    core of its piece and the segment may be travelled from that end towards the point.
    """
    core = network.reached_from_core
    if snap.segment.size == 0 or not core.any():
        return snap, np.zeros(0, dtype=np.int64)
    u, v = network.seg_u, network.seg_v
    usable = ((core[u] & np.isfinite(network.seg_time_fwd_s))
              | (core[v] & np.isfinite(network.seg_time_bwd_s)))
    point, cost_u, cost_v = entry_costs(network, snap, towards_network=False)
    seg = snap.segment[point]
    ok = ((np.isfinite(cost_u) & core[u[seg]]) | (np.isfinite(cost_v) & core[v[seg]]))
    stuck = point[~ok]
    if stuck.size == 0:
        return snap, stuck
    new = snap_points(network, x[stuck], y[stuck], segments=usable)
    rows = stuck[new.on_network]
    picked = Snap(new.segment[new.on_network], new.fraction[new.on_network],
                  new.distance_m[new.on_network])
    logger.info("facilities %s moved to the nearest road that can be reached",
                rows.tolist())
    return _replace_rows(snap, rows, picked), rows


def _candidate_times(
    network: RoadNetwork, nearest: Snap, fallback: Snap | None, facility_snap: Snap,
    node_time: NDArray[np.float64], node_facility: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.int64], Snap, NDArray[np.int64]]:
    """Each point's quicker trip over its nearest and fallback entries.

    Returns the time, the facility, the snap each point's trip uses and the points
    whose fallback is strictly quicker (ties keep the nearest segment).
    """
    time_s, facility = _trip_times(network, nearest, facility_snap, node_time, node_facility)
    if fallback is None:
        return time_s, facility, nearest, np.zeros(0, dtype=np.int64)
    alt_time, alt_facility = _trip_times(network, fallback, facility_snap, node_time,
                                         node_facility)
    moved = np.flatnonzero(alt_time < time_s)
    time_s[moved], facility[moved] = alt_time[moved], alt_facility[moved]
    picked = Snap(fallback.segment[moved], fallback.fraction[moved], fallback.distance_m[moved])
    return time_s, facility, _replace_rows(nearest, moved, picked), moved


def _trip_times(
    network: RoadNetwork, snap: Snap, facility_snap: Snap,
    node_time: NDArray[np.float64], node_facility: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Time and facility of every point entering at its ``snap`` (``inf``/-1: none)."""
    time_s, facility = _point_times(network, snap, node_time, node_facility)
    _same_segment_trips(network, snap, facility_snap, time_s, facility)
    return time_s, facility


def _warn_moved(points: int, facilities: int) -> None:
    """Log and warn how many points and facilities were snapped past their nearest road."""
    parts = []
    if facilities:
        parts.append(f"{facilities} facilit{'y' if facilities == 1 else 'ies'} that no one "
                     "could reach from their nearest road (a one-way stub leading away?)")
    if points:
        parts.append(f"{points:,} demand point(s) whose nearest road leads to no facility "
                     "in the direction of travel (one-way dead ends or stubs)")
    if not parts:
        return
    message = ("snapped " + " and ".join(parts) + " to the nearest road that does, within "
               "the snap distance; check the one-way tags and connections of the roads there")
    logger.warning("%s", message)
    warnings.warn(message, DataQualityWarning, stacklevel=3)


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


def source_point_times(
    network: RoadNetwork,
    sources: Sources,
    point_snap: Snap,
    demand: NDArray[np.int64],
    limit_s: float,
    *,
    tick: Tick | None = None,
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
        ``Sources.at_nodes(candidate_nodes)``).
    point_snap
        Snap of all demand points.
    demand
        Indices of the demand points to keep (columns of the result, in this order).
    limit_s
        Largest total time kept (network time plus the point's entry cost).
    tick
        Progress callback ``tick(fraction, message)``, called after each chunk of
        sources of the search (last call 1.0); whatever it raises propagates.

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(sources.n_sources, demand.size)``; the best time over the point's two
        entries.  Zero times are stored: read through ``.indptr``/``.indices``/``.data``.
    """
    return bounded_times(network.graph_to, sources, float(limit_s),
                         targets=point_targets(network, point_snap, demand), tick=tick)


def point_targets(network: RoadNetwork, point_snap: Snap, demand: NDArray[np.int64],
                  fallback: Snap | None = None) -> Sources:
    """The demand points ``demand`` as targets of a search over ``graph_to`` (entered
    through their segment and, where ``fallback`` has one, their fallback segment)."""
    parts = [point_snap] if fallback is None else [point_snap, fallback]
    point, node, cost = (np.concatenate(arrays) for arrays in zip(*(
        entry_points(network, Snap(snap.segment[demand], snap.fraction[demand],
                                   snap.distance_m[demand]), towards_network=True)
        for snap in parts), strict=True))
    return Sources(entry_source=point, entry_node=node, entry_cost=cost,
                   n_sources=int(demand.size))


def facility_point_times(
    network: RoadNetwork, access: Access, limit_s: float, *, tick: Tick | None = None
) -> scipy.sparse.csr_array:
    """Facility x demand point travel times within ``limit_s`` (sparse, zeros stored).

    The search runs over the graph ``access`` was computed on (the layered graph of
    ``walk+drive``, else the network's).  ``tick(fraction, message)`` is called after
    each chunk of facilities (last call 1.0); whatever it raises (``Cancelled``)
    propagates.
    """
    demand = np.arange(access.point_snap.segment.size, dtype=np.int64)
    graph, sources = _facility_search(network, access)
    return bounded_times(graph, sources, float(limit_s),
                         targets=_access_targets(network, access, demand), tick=tick)


def facility_point_time_blocks(
    network: RoadNetwork,
    access: Access,
    limit_s: float,
    *,
    block_facilities: int = 128,
    tick: Tick | None = None,
) -> Iterator[tuple[int, scipy.sparse.csr_array]]:
    """:func:`facility_point_times` one block of facilities at a time.

    Yields ``(first, block)``: the first facility of the block and its rows of the
    facility x demand point matrix (the same times), so that callers summing per facility
    and per point (2SFCA) hold one block, never the whole matrix.  ``tick`` runs over
    all blocks (last call 1.0).
    """
    demand = np.arange(access.point_snap.segment.size, dtype=np.int64)
    graph, sources = _facility_search(network, access)
    yield from bounded_time_blocks(
        graph, sources, float(limit_s), targets=_access_targets(network, access, demand),
        block_sources=block_facilities, tick=tick)


def _access_targets(network: RoadNetwork, access: Access, demand: NDArray[np.int64]
                    ) -> Sources:
    """The demand points of ``access`` as targets, through every entry of theirs."""
    return point_targets(network, access.nearest_snap, demand, access.point_fallback)


def _facility_search(network: RoadNetwork, access: Access
                     ) -> tuple[scipy.sparse.csr_array, Sources]:
    """The graph and facility entries the run's facility search used."""
    if access.search_graph is not None:
        return access.search_graph
    return network.graph_to, facility_sources(network, access.facility_snap)
