"""Weekly circuits for mobile health units, routed on the real drive network.

Each mobile-unit stop is served from its nearest suitable base: the existing facility
with the shortest drive round trip.  Stops sharing a base form one unit's week; each
working day is one route base -> stops -> base whose drive time plus service time per
stop fits in the working day.  The days are planned together as a vehicle routing
problem (one vehicle per day) with OR-Tools routing: every stop is visited once a week
when it fits; stops that cannot fit, or that no base can reach by road, are reported as
unserved with the reason, never dropped silently.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse.csgraph
import shapely
from numpy.typing import NDArray

from accessmap.errors import InputDataError, SolverError
from accessmap.progress import Tick
from accessmap.routing.engine import Sources, bounded_times
from accessmap.routing.network import RoadNetwork
from accessmap.routing.snapping import snap_points

__all__ = ["NO_VEHICLE", "CircuitSettings", "Circuits", "nearest_nodes", "plan_circuits"]

logger = logging.getLogger(__name__)


try:  # before anything imports highspy (pulp does): the two HiGHS builds clash
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2
except ImportError:  # pragma: no cover - depends on import order in the process
    pywrapcp = routing_enums_pb2 = None


#: How the reason of an unserved stop begins when no vehicle can reach it at all (such a
#: stop adds no mobile coverage; the others are reachable but do not fit in the week).
NO_VEHICLE = "no vehicle can reach this stop: "


_VISIT_COLUMNS = ["unit", "base", "day", "order", "stop", "arrival_min", "departure_min",
                  "people"]


_ROUTE_COLUMNS = ["unit", "base", "day", "stops", "drive_min", "service_min", "total_min"]


@dataclass(frozen=True)
class CircuitSettings:
    """How mobile units work.

    Parameters
    ----------
    days_per_week
        Working days per unit and week (one route per day).
    workday_h
        Length of a working day, drive and service included, in hours.
    service_min
        Time spent at each stop, in minutes.
    search_time_s
        Time for OR-Tools guided local search per unit; ``None`` stops at the first
        local optimum (fast and deterministic).
    """

    days_per_week: int = 5
    workday_h: float = 8.0
    service_min: float = 120.0
    search_time_s: float | None = 2.0

    def __post_init__(self) -> None:
        if not isinstance(self.days_per_week, int) or not 1 <= self.days_per_week <= 7:
            raise InputDataError(f"mobile days per week {self.days_per_week!r} must be a "
                                 "whole number from 1 to 7")
        if not 0 < self.workday_h <= 24:
            raise InputDataError(f"mobile working day {self.workday_h!r} h must be between 0 "
                                 "and 24 hours")
        if not self.service_min >= 0:
            raise InputDataError(f"service time {self.service_min!r} min must be >= 0")


@dataclass(frozen=True, eq=False)
class Circuits:
    """Planned circuits.

    Attributes
    ----------
    visits
        One row per visit: ``unit``, ``base``, ``day``, ``order`` (1.. within the day),
        ``stop`` (stop id), ``arrival_min`` and ``departure_min`` (minutes after leaving
        the base), ``people`` (served per visit).
    routes
        One LineString per unit and day along the actual roads (EPSG:4326).
    unserved
        ``stop`` and ``reason`` for stops no circuit serves.
    """

    visits: pd.DataFrame
    routes: gpd.GeoDataFrame
    unserved: pd.DataFrame

    def unreachable_stops(self) -> NDArray[np.int64]:
        """Ids of the stops no vehicle can reach (their reason starts with ``NO_VEHICLE``)."""
        hit = self.unserved["reason"].astype(str).str.startswith(NO_VEHICLE)
        return np.asarray(self.unserved.loc[hit, "stop"].to_numpy(), dtype=np.int64)

    def records(self) -> list[dict[str, object]]:
        """JSON-ready units with their days and stops (summary key ``mobile_circuits``)."""
        out: list[dict[str, object]] = []
        for (unit, base), days in self.routes.groupby(["unit", "base"], sort=True):
            out.append({"unit": int(unit), "base": str(base), "days": [
                {"day": int(r.day), "drive_min": round(float(r.drive_min), 1),
                 "total_min": round(float(r.total_min), 1),
                 "stops": [
                     {"stop": int(v.stop), "arrival_min": round(float(v.arrival_min), 1),
                      "people": round(float(v.people), 1)}
                     for v in self.visits[(self.visits["unit"] == unit)
                                          & (self.visits["day"] == r.day)].itertuples()]}
                for r in days.itertuples()]})
        return out


def nearest_nodes(
    network: RoadNetwork, lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Network node nearest along the nearest segment to each point (-1 when off-road)."""
    return _base_entries(network, lon, lat)[0]


def plan_circuits(
    network: RoadNetwork,
    stops: pd.DataFrame,
    bases: pd.DataFrame,
    *,
    settings: CircuitSettings | None = None,
    preferred_base: NDArray[np.int64] | None = None,
    preferred_slack_s: float = np.inf,
    tick: Tick | None = None,
) -> Circuits:
    """Group stops into weekly circuits from their nearest bases and route each day.

    A stop's base is ``preferred_base`` (the nearest facility a sites table shows) when
    a unit from there can serve it within a working day and its round trip is at most
    ``preferred_slack_s`` longer than the shortest; otherwise the base with the shortest
    round trip.  Round trips count the walk between each facility and its road.

    Parameters
    ----------
    network
        Drive network (``load_network(path, mode="drive")``).
    stops
        ``stop`` (id), ``lon``, ``lat``, ``people`` (served per visit).
    bases
        Existing facilities that can host a unit: ``name``, ``lon``, ``lat``.
    settings
        Working rules.
    preferred_base
        Per stop, the row of ``bases`` to use when it can serve the stop (-1: none).
    preferred_slack_s
        How much longer (s) the preferred base's round trip may be than the shortest.
    tick
        Progress callback ``tick(fraction, message)``: after assigning stops to bases
        (0.1), after each unit's routing, 1.0 at the end; whatever it raises
        (``Cancelled``) propagates.

    Returns
    -------
    Circuits

    Raises
    ------
    InputDataError
        ``stops`` or ``bases`` lack a column.
    """
    settings = settings or CircuitSettings()
    _require(stops, ("stop", "lon", "lat", "people"), "stops")
    _require(bases, ("name", "lon", "lat"), "bases")
    stop_node = nearest_nodes(network, stops["lon"].to_numpy(), stops["lat"].to_numpy())
    base_node, base_walk_s = _base_entries(network, bases["lon"].to_numpy(),
                                           bases["lat"].to_numpy())
    unserved: list[dict[str, object]] = []
    base_of = _assign_bases(network, stops, stop_node, base_node, settings, unserved,
                            base_walk_s=base_walk_s, preferred=preferred_base,
                            slack_s=preferred_slack_s)
    visits, routes = [], []
    used_bases = np.unique(base_of[base_of >= 0])
    if tick is not None:
        tick(0.1, f"{used_bases.size} mobile unit(s) to route")
    for unit, base in enumerate(used_bases, start=1):
        members = np.flatnonzero(base_of == base)
        v, r = _route_unit(network, unit, str(bases["name"].iloc[base]), int(base_node[base]),
                           stops.iloc[members], stop_node[members], settings, unserved)
        visits += v
        routes += r
        if tick is not None:
            tick(0.1 + 0.9 * unit / used_bases.size,
                 f"routed unit {unit} of {used_bases.size}")
    for item in unserved:
        logger.warning("mobile stop %s is unserved: %s", item["stop"], item["reason"])
    if tick is not None:
        tick(1.0, f"{len(routes)} day route(s)")
    return Circuits(
        pd.DataFrame(visits, columns=_VISIT_COLUMNS),
        gpd.GeoDataFrame(pd.DataFrame(routes, columns=[*_ROUTE_COLUMNS, "geometry"]),
                         geometry="geometry", crs="EPSG:4326"),
        pd.DataFrame(unserved, columns=["stop", "reason"]),
    )


def _base_entries(
    network: RoadNetwork, lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Each base's road node (-1 when off-road) and its walk to that road (s, one way).

    The walk is the off-road leg of the mode's profile from the facility to its nearest
    road, the same leg the travel times add, so that a facility far from the road is not
    preferred as a base over a nearer one on the road.
    """
    x, y = network.project(np.asarray(lon, float), np.asarray(lat, float))
    snap = snap_points(network, x, y)
    ok = snap.on_network
    node = np.full(x.size, -1, dtype=np.int64)
    seg = snap.segment[ok]
    node[ok] = np.where(snap.fraction[ok] <= 0.5, network.seg_u[seg], network.seg_v[seg])
    walk = np.full(x.size, np.inf)
    walk[ok] = network.profile.offroad_seconds(snap.distance_m[ok])
    return node, walk


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputDataError(f"mobile circuit {what} need column(s) {', '.join(missing)}")


def _assign_bases(
    network: RoadNetwork,
    stops: pd.DataFrame,
    stop_node: NDArray[np.int64],
    base_node: NDArray[np.int64],
    settings: CircuitSettings,
    unserved: list[dict[str, object]],
    *,
    base_walk_s: NDArray[np.float64] | None = None,
    preferred: NDArray[np.int64] | None = None,
    slack_s: float = np.inf,
) -> NDArray[np.int64]:
    """Base index per stop (shortest round trip), -1 for stops left unserved.

    The round trip is the drive base -> stop -> base plus twice the base's walk between
    the facility and its road (``base_walk_s``, 0 when not given).  A ``preferred`` base
    (index into the bases, -1 none) wins when its round trip fits the working day and
    is at most ``slack_s`` longer than the shortest.

    The searches start at the few stops, not at the many bases: one bounded search per
    stop and direction, limited to the working day minus one service time (no round
    trip beyond it can be planned), kept sparse.  Only a stop with no base inside that
    bound is searched again without one, to say how far its nearest base is.
    """
    base_of = np.full(stop_node.size, -1, dtype=np.int64)
    usable = np.flatnonzero(base_node >= 0)
    if usable.size == 0:
        for stop in stops["stop"]:
            unserved.append({"stop": stop, "reason": NO_VEHICLE + "no base facility is "
                             "near a drivable road; mobile units cannot start anywhere"})
        return base_of
    nodes = base_node[usable]
    walk = (np.zeros(usable.size) if base_walk_s is None
            else 2 * np.asarray(base_walk_s, dtype=np.float64)[usable])
    day_s = settings.workday_h * 3600
    service_s = settings.service_min * 60
    on_road = np.flatnonzero(stop_node >= 0)
    limit = max(day_s - service_s, 0.0)
    from_base = _stop_base_times(network.graph_to, stop_node[on_road], nodes, limit)
    to_base = _stop_base_times(network.graph_from, stop_node[on_road], nodes, limit)
    row_of = np.full(stop_node.size, -1, dtype=np.int64)
    row_of[on_road] = np.arange(on_road.size)
    column_of = np.full(base_node.size, -1, dtype=np.int64)
    column_of[usable] = np.arange(usable.size)
    wanted = (np.full(stop_node.size, -1, dtype=np.int64) if preferred is None
              else np.asarray(preferred, dtype=np.int64))
    for i, (stop, node) in enumerate(zip(stops["stop"], stop_node, strict=True)):
        if node < 0:
            unserved.append({"stop": stop, "reason": NO_VEHICLE + "farther than the snap "
                             "distance from any drivable road"})
            continue
        trip = from_base[row_of[i]] + to_base[row_of[i]] + walk
        best = int(np.argmin(trip))
        pick = int(column_of[wanted[i]]) if 0 <= wanted[i] < base_node.size else -1
        if pick >= 0 and trip[pick] + service_s <= day_s and trip[pick] <= trip[best] + slack_s:
            best = pick
        if not trip[best] <= limit:  # no base within the day: measure the true nearest
            trip = _unbounded_trips(network, int(node), nodes) + walk
            best = int(np.argmin(trip))
        if not np.isfinite(trip).any():
            unserved.append({"stop": stop, "reason": NO_VEHICLE + "no base facility can "
                             "reach it by road (another island or a separate road piece?)"})
            continue
        if trip[best] + service_s > day_s:
            unserved.append({"stop": stop, "reason": (
                f"round trip from the nearest base takes {trip[best] / 60:.0f} min; with "
                f"{settings.service_min:g} min of service it exceeds the "
                f"{settings.workday_h:g} h working day")})
            continue
        base_of[i] = usable[best]
    return base_of


def _stop_base_times(
    graph: scipy.sparse.csr_array,
    stop_nodes: NDArray[np.int64],
    base_nodes: NDArray[np.int64],
    limit_s: float,
) -> NDArray[np.float64]:
    """Stops x bases times within ``limit_s`` (``inf`` beyond), from bounded searches.

    Over ``graph_to`` the times are base -> stop driving, over ``graph_from`` stop ->
    base.  Only the stops x bases block is dense (a few stops).
    """
    out = np.full((stop_nodes.size, base_nodes.size), np.inf)
    if stop_nodes.size == 0:
        return out
    reach = bounded_times(graph, Sources.at_nodes(stop_nodes), limit_s)
    for row in range(stop_nodes.size):
        lo, hi = int(reach.indptr[row]), int(reach.indptr[row + 1])
        cols, times = reach.indices[lo:hi], reach.data[lo:hi]
        if cols.size == 0:
            continue
        pos = np.minimum(np.searchsorted(cols, base_nodes), cols.size - 1)
        hit = cols[pos] == base_nodes
        out[row, hit] = times[pos[hit]]
    return out


def _unbounded_trips(
    network: RoadNetwork, stop_node: int, base_nodes: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Round trip (base -> stop -> base) from every base, with no bound (one stop)."""
    there = scipy.sparse.csgraph.dijkstra(network.graph_to, indices=stop_node)
    back = scipy.sparse.csgraph.dijkstra(network.graph_from, indices=stop_node)
    return np.asarray(there[base_nodes] + back[base_nodes], dtype=np.float64)


def _route_unit(
    network: RoadNetwork,
    unit: int,
    base_name: str,
    base_node: int,
    stops: pd.DataFrame,
    stop_node: NDArray[np.int64],
    settings: CircuitSettings,
    unserved: list[dict[str, object]],
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Solve one unit's week as a VRP (one vehicle per day) and read back the routes."""
    nodes = np.concatenate([[base_node], stop_node]).astype(np.int64)
    dist, pred = scipy.sparse.csgraph.dijkstra(network.graph_from, indices=nodes,
                                               return_predecessors=True)
    matrix = dist[:, nodes]
    days = _solve_vrp_anywhere(matrix, settings, stops["people"].to_numpy(dtype=float))
    service = settings.service_min
    visits: list[dict[str, object]] = []
    routes: list[dict[str, object]] = []
    served: set[int] = set()
    for day, (order, arrival_s, end_s) in enumerate(days, start=1):
        seq = [0, *order, 0]
        drive_s = sum(matrix[a, b] for a, b in itertools.pairwise(seq))
        for rank, (stop_i, arr) in enumerate(zip(order, arrival_s, strict=True), start=1):
            served.add(stop_i)
            visits.append({"unit": unit, "base": base_name, "day": day, "order": rank,
                           "stop": stops["stop"].iloc[stop_i - 1], "arrival_min": arr / 60,
                           "departure_min": arr / 60 + service,
                           "people": float(stops["people"].iloc[stop_i - 1])})
        routes.append({"unit": unit, "base": base_name, "day": day, "stops": len(order),
                       "drive_min": drive_s / 60, "service_min": service * len(order),
                       "total_min": end_s / 60,
                       "geometry": _path_line(network, nodes, pred, seq)})
    for stop_i in range(1, len(nodes)):
        if stop_i not in served:
            unserved.append({"stop": stops["stop"].iloc[stop_i - 1], "reason": (
                f"does not fit in {settings.days_per_week} working day(s) of "
                f"{settings.workday_h:g} h of unit {unit} (base {base_name})")})
    return visits, routes


def _solve_vrp_anywhere(
    matrix_s: NDArray[np.float64], settings: CircuitSettings, people: NDArray[np.float64]
) -> list[tuple[list[int], list[float], float]]:
    """Solve here, or in a fresh process when OR-Tools could not load in this one.

    OR-Tools and highspy ship different HiGHS builds that cannot share a process; when
    highspy was imported first, the routing runs in a spawned interpreter instead.
    """
    if pywrapcp is not None:
        return _solve_vrp(matrix_s, settings, people)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    logger.info("OR-Tools not importable here (highspy loaded first); routing in a "
                "separate process")
    try:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            return pool.submit(_solve_vrp, matrix_s, settings, people).result()
    except ImportError as err:
        raise SolverError(f"OR-Tools routing is not usable ({err}); reinstall ortools") \
            from None


def _solve_vrp(
    matrix_s: NDArray[np.float64], settings: CircuitSettings, people: NDArray[np.float64]
) -> list[tuple[list[int], list[float], float]]:
    """OR-Tools routing: node 0 is the base, one vehicle per working day.

    Returns, per non-empty day, the stop indices (1-based into the matrix) in visiting
    order, their arrival times and the return time (seconds after leaving the base).
    """
    n = matrix_s.shape[0]
    day_s = round(settings.workday_h * 3600)
    service_s = round(settings.service_min * 60)
    big = 10 * day_s  # unreachable legs: larger than any day, so never used
    cost = np.where(np.isfinite(matrix_s), np.rint(matrix_s), big).astype(np.int64)
    manager = pywrapcp.RoutingIndexManager(n, settings.days_per_week, 0)
    routing = pywrapcp.RoutingModel(manager)

    def transit(i: int, j: int) -> int:
        a, b = manager.IndexToNode(i), manager.IndexToNode(j)
        return int(cost[a, b]) + (service_s if a != 0 else 0)

    callback = routing.RegisterTransitCallback(transit)
    routing.SetArcCostEvaluatorOfAllVehicles(callback)
    routing.AddDimension(callback, 0, day_s, True, "time")
    time_dim = routing.GetDimensionOrDie("time")
    for stop in range(1, n):
        penalty = 100 * day_s + round(float(people[stop - 1]))
        routing.AddDisjunction([manager.NodeToIndex(stop)], penalty)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    if settings.search_time_s and n > 3:  # with one or two stops local search is enough
        params.local_search_metaheuristic = (
            routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH)
        params.time_limit.FromMilliseconds(int(settings.search_time_s * 1000))
    solution = routing.SolveWithParameters(params)
    if solution is None:
        logger.warning("OR-Tools found no routing solution; all stops of this unit unserved")
        return []
    days = []
    for vehicle in range(settings.days_per_week):
        index = solution.Value(routing.NextVar(routing.Start(vehicle)))
        order, arrival = [], []
        while not routing.IsEnd(index):
            order.append(manager.IndexToNode(index))
            arrival.append(float(solution.Value(time_dim.CumulVar(index))))
            index = solution.Value(routing.NextVar(index))
        if order:
            days.append((order, arrival, float(solution.Value(time_dim.CumulVar(index)))))
    return days


def _path_line(
    network: RoadNetwork,
    nodes: NDArray[np.int64],
    pred: NDArray[np.int32],
    seq: list[int],
) -> shapely.LineString:
    """LineString along the shortest road paths between consecutive route points."""
    path: list[int] = [int(nodes[seq[0]])]
    for a, b in itertools.pairwise(seq):
        leg = []
        node = int(nodes[b])
        while node != int(nodes[a]) and node >= 0:
            leg.append(node)
            node = int(pred[a, node])
        path += leg[::-1]
    coords = np.column_stack([network.node_lon[path], network.node_lat[path]])
    if len(coords) < 2:
        coords = np.vstack([coords, coords])
    return shapely.LineString(coords)
