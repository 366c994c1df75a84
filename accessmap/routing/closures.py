"""Road changes of a what-if scenario: closed and slowed segments of a :class:`RoadNetwork`.

:func:`change_roads` is a pure function from a network and :class:`RoadChanges` (polygons
already in the network's CRS, OSM way ids) to a :class:`ChangedRoads`: the network with
closed segments removed and slowed segments' times divided by their factor.

Rules (``docs/scenarios.md``, "Road changes and seasons"):

- a segment is *closed* when any part of it touches a closed polygon (a flood cuts the
  whole segment, however little of it is under water), or when its OSM way is closed;
- a segment is *slowed* when its midpoint lies inside a slow polygon (segments join two
  consecutive OSM nodes, so they are short); where slow polygons overlap, the smallest
  factor applies; a closed segment is not also slowed;
- people and facilities then snap to the nearest open road, as in any run, except people
  *inside* a closed polygon: they cannot walk out through it and count as off the network
  (:func:`cut_off_closed_areas`).

When nothing is closed or slowed the network is returned unchanged (the same object), so
the run's outputs are bit-identical to a run without the changes.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import NDArray

from accessmap.errors import DataQualityWarning, InputDataError, NetworkError
from accessmap.routing.network import RoadNetwork
from accessmap.routing.snapping import Snap
from accessmap.routing.travel_times import OFF_NETWORK, Access

__all__ = ["ChangedRoads", "RoadChanges", "change_roads", "cut_off_closed_areas",
           "inside_closed_areas"]

logger = logging.getLogger(__name__)


def _no_geometries() -> NDArray[np.object_]:
    return np.zeros(0, dtype=object)


@dataclass(frozen=True, eq=False)
class RoadChanges:
    """Road changes, in the network's CRS.

    Attributes
    ----------
    closed_areas
        Polygons (shapely, projected metres) whose roads are closed.
    closed_ways
        OSM way ids closed in full.
    slow_areas, slow_factors
        Polygons whose roads are slowed, and the speed factor in (0, 1] of each.
    closed_source, slow_source
        Where the polygons come from (file names, for messages).
    """

    closed_areas: NDArray[np.object_] = field(default_factory=_no_geometries)
    closed_ways: tuple[int, ...] = ()
    slow_areas: NDArray[np.object_] = field(default_factory=_no_geometries)
    slow_factors: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    closed_source: str = "closed areas"
    slow_source: str = "slow areas"


@dataclass(frozen=True, eq=False)
class ChangedRoads:
    """A network after road changes, with what changed (per segment of ``base``).

    Attributes
    ----------
    network
        The changed network (``base`` itself when nothing changed).
    base
        The unchanged network.
    closed
        Per base segment, True when it was removed.
    slow_factor
        Per base segment, its speed factor (1 where not slowed; closed segments 1).
    kept
        Index in ``base`` of each segment of ``network``.
    closed_areas
        The closed polygons (network CRS).
    """

    network: RoadNetwork
    base: RoadNetwork
    closed: NDArray[np.bool_]
    slow_factor: NDArray[np.float64]
    kept: NDArray[np.int64]
    closed_areas: NDArray[np.object_] = field(default_factory=_no_geometries)

    @property
    def slowed(self) -> NDArray[np.bool_]:
        """Per base segment, True when it was slowed."""
        return np.asarray(self.slow_factor < 1, dtype=np.bool_)

    @property
    def changed(self) -> bool:
        """True when any segment was closed or slowed."""
        return bool(self.closed.any() or self.slowed.any())


def change_roads(network: RoadNetwork, changes: RoadChanges) -> ChangedRoads:
    """Close and slow the segments of ``network`` that ``changes`` names.

    Parameters
    ----------
    network
        The unchanged network.
    changes
        Closed polygons and way ids, slow polygons with their factors (network CRS).

    Returns
    -------
    ChangedRoads

    Warns
    -----
    DataQualityWarning
        A polygon file closes or slows no road (it lies outside the study area or covers
        no road): the message says it changed nothing.

    Raises
    ------
    InputDataError
        A closed way id is not a road of the network (unknown, or not usable in its mode).
    NetworkError
        The changes close every road.
    """
    by_area = _touching(network, changes.closed_areas)
    by_way = _on_ways(network, changes.closed_ways)
    closed = by_area | by_way
    slow = _slow_factors(network, changes)
    factor = np.where(closed, 1.0, slow)
    if changes.closed_areas.size and not by_area.any():
        _warn_unchanged(changes.closed_source, "closes", network)
    if changes.slow_areas.size and not (slow < 1).any():
        _warn_unchanged(changes.slow_source, "slows", network)
    kept = np.flatnonzero(~closed).astype(np.int64)
    if kept.size == 0:
        raise NetworkError("the road changes close every road of the network; check "
                           "[roads] closed_areas and closed_ways")
    if not closed.any() and not (factor < 1).any():
        return ChangedRoads(network, network, closed, factor, kept, changes.closed_areas)
    fwd = network.seg_time_fwd_s[kept] / factor[kept]
    bwd = network.seg_time_bwd_s[kept] / factor[kept]
    changed = dataclasses.replace(
        network, seg_u=network.seg_u[kept], seg_v=network.seg_v[kept],
        seg_length_m=network.seg_length_m[kept], seg_time_fwd_s=fwd, seg_time_bwd_s=bwd,
        seg_highway=network.seg_highway[kept], seg_way_id=network.seg_way_id[kept])
    logger.info("road changes: %d segments closed, %d slowed", int(closed.sum()),
                int((factor < 1).sum()))
    return ChangedRoads(changed, network, closed, factor, kept, changes.closed_areas)


def inside_closed_areas(changed: ChangedRoads, x: NDArray[np.float64],
                        y: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Per point (network CRS), True when it lies inside (or on) a closed polygon."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    inside = np.zeros(x.size, dtype=np.bool_)
    if changed.closed_areas.size:
        west, south, east, north = shapely.total_bounds(changed.closed_areas)
        near = np.flatnonzero((x >= west) & (x <= east) & (y >= south) & (y <= north))
        point, _ = shapely.STRtree(changed.closed_areas).query(
            shapely.points(x[near], y[near]), predicate="intersects")
        inside[near[point]] = True
    return inside


def cut_off_closed_areas(access: Access, changed: ChangedRoads, x: NDArray[np.float64],
                         y: NDArray[np.float64]) -> Access:
    """``access`` with the demand points inside closed polygons off the network.

    People in a flood extent or a no-go area cannot walk out through it to an open road:
    they get no time (``inf``), no facility and the status ``OFF_NETWORK`` (no road they
    can use).  Returns ``access`` itself when no point lies inside.
    """
    inside = inside_closed_areas(changed, x, y)
    if not inside.any():
        return access
    time_s, facility, status = access.time_s.copy(), access.facility.copy(), access.status.copy()
    time_s[inside], facility[inside], status[inside] = np.inf, -1, OFF_NETWORK
    nearest, fallback = access.point_nearest, access.point_fallback
    return dataclasses.replace(
        access, time_s=time_s, facility=facility, status=status,
        point_snap=_off_network(access.point_snap, inside),
        point_nearest=None if nearest is None else _off_network(nearest, inside),
        point_fallback=None if fallback is None else _off_network(fallback, inside))


def _off_network(snap: Snap, rows: NDArray[np.bool_]) -> Snap:
    """``snap`` with the points ``rows`` off the network (segment -1)."""
    segment = snap.segment.copy()
    segment[rows] = -1
    return Snap(segment, snap.fraction, snap.distance_m)


def _touching(network: RoadNetwork, polygons: NDArray[np.object_]) -> NDArray[np.bool_]:
    """Per segment, True when it touches any of ``polygons``."""
    hit = np.zeros(network.n_segments, dtype=np.bool_)
    if polygons.size:
        _, segments = network.segment_tree.query(polygons, predicate="intersects")
        hit[segments] = True
    return hit


def _on_ways(network: RoadNetwork, way_ids: tuple[int, ...]) -> NDArray[np.bool_]:
    """Per segment, True when it belongs to one of ``way_ids`` (each must exist)."""
    wanted = np.asarray(way_ids, dtype=np.int64)
    missing = wanted[~np.isin(wanted, network.seg_way_id)]
    if missing.size:
        shown = ", ".join(str(int(w)) for w in missing[:5])
        raise InputDataError(
            f"roads.closed_ways: way(s) {shown} are not roads of the {network.mode} network "
            f"from {network.source} (unknown ids, outside the extract or not usable in this "
            "mode); check them on https://www.openstreetmap.org/way/ID"
        )
    return np.asarray(np.isin(network.seg_way_id, wanted), dtype=np.bool_)


def _slow_factors(network: RoadNetwork, changes: RoadChanges) -> NDArray[np.float64]:
    """Per segment, the smallest factor of the slow polygons holding its midpoint (or 1)."""
    factor = np.ones(network.n_segments)
    if changes.slow_areas.size == 0:
        return factor
    u, v = network.seg_u, network.seg_v
    mid = shapely.points((network.node_x[u] + network.node_x[v]) / 2,
                         (network.node_y[u] + network.node_y[v]) / 2)
    point, polygon = shapely.STRtree(changes.slow_areas).query(mid, predicate="within")
    np.minimum.at(factor, point, changes.slow_factors[polygon])
    return factor


def _warn_unchanged(source: str, verb: str, network: RoadNetwork) -> None:
    message = (f"{source} {verb} no road of the {network.mode} network (its polygons lie "
               "outside the study area or cover no road); it changed nothing")
    logger.warning("%s", message)
    warnings.warn(message, DataQualityWarning, stacklevel=3)
