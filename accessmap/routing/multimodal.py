"""The mixed ``walk+drive`` mode: walk to a road, wait for a vehicle, ride to care.

Many rural patients walk to a road and take a motorbike taxi or a bus from there.  A
``walk+drive`` trip is: the off-road walk from the home to the nearest walkable way (as
in every mode, :mod:`accessmap.routing.snapping`), a walk over the walking network to a
*transfer point*, a wait of ``transfer_s`` there, then a ride over the roads open to
vehicles (one-way rules hold) and the short walk from the road to the facility.  Walking
the whole way is allowed too; the faster trip wins.

Both networks become one *layered* graph: the walking layer (the walking network's
nodes, ``0 .. n_walk - 1``), the driving layer (the drive network's nodes, shifted by
``n_walk``) and one transfer edge from each transfer point's walking node to its driving
node, costing the wait.  Facilities enter both layers (their snap to each network), and
the engine's :func:`~accessmap.routing.engine.nearest_source` runs once from the
facilities over the layered graph reversed, so every walking node gets its best time by
either kind of trip.  Transfer points are the nodes both networks share (the same OSM
node: wherever a path meets a road, and every node of a road both may use), or only the
stops of a file (motorbike-taxi ranks), each snapped to the nearest node of both layers.

Examples
--------
>>> access = walk_drive_times(walk, drive, px, py, lon, lat, transfer_s=600.0
...                           )  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse
import scipy.spatial
from numpy.typing import NDArray

from accessmap.errors import DataQualityWarning, InputDataError
from accessmap.progress import Tick
from accessmap.routing.engine import Sources, build_graph
from accessmap.routing.network import RoadNetwork
from accessmap.routing.snapping import Snap, entry_points, snap_points
from accessmap.routing.travel_times import (
    Access,
    _reachable_facility_snap,
    nearest_facility_times,
)

__all__ = [
    "TransferPoints", "layered_graph_to", "layered_sources", "shared_transfer_points",
    "stop_transfer_points", "walk_drive_times",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransferPoints:
    """Where a trip may change from walking to a vehicle.

    Attributes
    ----------
    walk_node, drive_node
        Pairs of nodes: the walking network's node and the drive network's node of each
        transfer point.
    """

    walk_node: NDArray[np.int64]
    drive_node: NDArray[np.int64]

    @property
    def size(self) -> int:
        """Number of transfer points."""
        return int(self.walk_node.size)


def shared_transfer_points(walk: RoadNetwork, drive: RoadNetwork) -> TransferPoints:
    """Return every node the two networks share (the same OSM node) as a transfer point."""
    _, walk_node, drive_node = np.intersect1d(walk.node_osm_id, drive.node_osm_id,
                                              assume_unique=False, return_indices=True)
    return TransferPoints(walk_node.astype(np.int64), drive_node.astype(np.int64))


def stop_transfer_points(
    walk: RoadNetwork, drive: RoadNetwork, lon: NDArray[np.float64],
    lat: NDArray[np.float64], *, max_distance_m: float, source: str = "transfer stops",
) -> TransferPoints:
    """Snap stops (lon/lat) to the nearest node of each network: the transfer points.

    Parameters
    ----------
    walk, drive
        The walking and the drive network.
    lon, lat
        The stops in degrees (EPSG:4326).
    max_distance_m
        Stops farther than this from the nearest node of either network are left out.
    source
        Names the stops in messages (the file).

    Raises
    ------
    InputDataError
        There are no stops, or none is within ``max_distance_m`` of both networks.

    Warns
    -----
    DataQualityWarning
        Some stops are too far from a network and left out (the message names them).
    """
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    if lon.size == 0:
        raise InputDataError(f"{source} holds no stops; give at least one point or leave "
                             "transfer.transfer_stops unset (change at any shared node)")
    walk_node, walk_m = _nearest_nodes(walk, lon, lat, what=source)
    drive_node, drive_m = _nearest_nodes(drive, lon, lat, what=source)
    keep = (walk_m <= max_distance_m) & (drive_m <= max_distance_m)
    if not keep.any():
        raise InputDataError(
            f"{source}: none of the {lon.size} stops is within {max_distance_m:g} m of both "
            "the walking and the driving network; do they lie in the study area? (or raise "
            "transfer.max_stop_distance_m)")
    if not keep.all():
        rows = np.flatnonzero(~keep)
        shown = ", ".join(str(int(r) + 1) for r in rows[:5])
        message = (f"{source}: {rows.size} stop(s) (rows {shown}"
                   f"{' ...' if rows.size > 5 else ''}) are farther than {max_distance_m:g} m "
                   "from the walking or the driving network and are left out")
        logger.warning("%s", message)
        warnings.warn(message, DataQualityWarning, stacklevel=2)
    return TransferPoints(walk_node[keep], drive_node[keep])


def _nearest_nodes(network: RoadNetwork, lon: NDArray[np.float64], lat: NDArray[np.float64],
                   *, what: str) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Nearest node of ``network`` and its distance (m) for each point."""
    x, y = network.project(lon, lat, what=what)
    tree = scipy.spatial.cKDTree(np.column_stack([network.node_x, network.node_y]))
    distance, node = tree.query(np.column_stack([x, y]), k=1)
    return np.asarray(node, dtype=np.int64), np.asarray(distance, dtype=float)


def layered_graph_to(walk: RoadNetwork, drive: RoadNetwork, transfer: TransferPoints,
                     transfer_s: float) -> scipy.sparse.csr_array:
    """The layered graph for searches from the facilities (edges against travel).

    Nodes ``0 .. walk.n_nodes - 1`` are the walking network's, the next ones the drive
    network's; a transfer point's edge goes (in travel direction) from its walking node to
    its driving node and costs ``transfer_s``.  Like :attr:`RoadNetwork.graph_to`, edge
    (b -> a) carries the time of travelling a -> b.
    """
    n_walk = walk.n_nodes
    tail = np.concatenate([walk.seg_v, walk.seg_u, drive.seg_v + n_walk,
                           drive.seg_u + n_walk, transfer.drive_node + n_walk])
    head = np.concatenate([walk.seg_u, walk.seg_v, drive.seg_u + n_walk,
                           drive.seg_v + n_walk, transfer.walk_node])
    weight = np.concatenate([walk.seg_time_fwd_s, walk.seg_time_bwd_s, drive.seg_time_fwd_s,
                             drive.seg_time_bwd_s, np.full(transfer.size, float(transfer_s))])
    return build_graph(tail, head, weight, n_walk + drive.n_nodes)


def layered_sources(walk: RoadNetwork, walk_snap: Snap, drive: RoadNetwork,
                    drive_snap: Snap) -> Sources:
    """Facilities as entries of the layered graph: from the walking and the driving layer.

    ``walk_snap`` and ``drive_snap`` are the facilities' snaps to each network (the same
    facilities in the same order); each snapped facility enters its layer at both ends of
    its segment (:func:`~accessmap.routing.snapping.entry_points`).
    """
    w_point, w_node, w_cost = entry_points(walk, walk_snap, towards_network=False)
    d_point, d_node, d_cost = entry_points(drive, drive_snap, towards_network=False)
    return Sources(entry_source=np.concatenate([w_point, d_point]).astype(np.int64),
                   entry_node=np.concatenate([w_node, d_node + walk.n_nodes]).astype(np.int64),
                   entry_cost=np.concatenate([w_cost, d_cost]).astype(np.float64),
                   n_sources=int(walk_snap.segment.size))


def walk_drive_times(
    walk: RoadNetwork,
    drive: RoadNetwork,
    point_x: NDArray[np.float64],
    point_y: NDArray[np.float64],
    facility_lon: NDArray[np.float64],
    facility_lat: NDArray[np.float64],
    *,
    transfer_s: float,
    transfer: TransferPoints | None = None,
    point_snap: Snap | None = None,
    warn_moves: bool = True,
    tick: Tick | None = None,
) -> Access:
    """Every demand point's time to its nearest facility, walking or walking then riding.

    Parameters
    ----------
    walk
        The walking network of the run (``walk+drive`` profile); homes snap to it and
        ``Access.node_time_s`` is per walking node.
    drive
        The drive network (the run's one, ``pipeline.load_inputs``).
    point_x, point_y
        Demand points in the walking network's CRS (metres).
    facility_lon, facility_lat
        Facilities in degrees (each network projects them into its own CRS).
    transfer_s
        Wait at a transfer point (seconds).
    transfer
        Where the change may happen; default :func:`shared_transfer_points`.
    point_snap, warn_moves, tick
        As for :func:`~accessmap.routing.travel_times.nearest_facility_times`.

    Returns
    -------
    Access
        As for one mode; ``search_graph`` holds the layered graph and the facilities'
        entries, so catchments and 2SFCA count the same trips.
    """
    if transfer is None:
        transfer = shared_transfer_points(walk, drive)
    lon, lat = np.asarray(facility_lon, float), np.asarray(facility_lat, float)
    wx, wy = walk.project(lon, lat, what="facilities")
    dx, dy = drive.project(lon, lat, what="facilities")
    drive_snap = snap_points(drive, dx, dy)
    drive_snap, _ = _reachable_facility_snap(drive, dx, dy, drive_snap)
    graph = layered_graph_to(walk, drive, transfer, transfer_s)
    logger.info("walk+drive: %d transfer points, %d + %d layered nodes", transfer.size,
                walk.n_nodes, drive.n_nodes)

    def search(walk_snap: Snap) -> tuple[scipy.sparse.csr_array, Sources]:
        return graph, layered_sources(walk, walk_snap, drive, drive_snap)

    return nearest_facility_times(walk, point_x, point_y, wx, wy, point_snap=point_snap,
                                  warn_moves=warn_moves, search_graph=search, tick=tick)
