"""Referral: from each facility of a lower level to the nearest facility of a higher level.

Levels come from a facility column (e.g. ``type``: health post -> health centre ->
hospital), listed from lowest to highest.  For each facility of a listed level below the
top one, the referral goes to the nearest facility of *any* higher level:

* ``time_min``: the trip there, modelled like a patient's trip (off-road leg from the
  facility to its road, the fastest route over the network, the leg from the road into the
  receiving facility), so one-way rules count in the direction travelled;
* ``return_time_min``: the trip back from that facility (differs where one-ways differ);
* ``distance_km``: the length of the fastest route between the two facilities' road
  entry nodes plus both off-road legs (straight lines);
* a route line per referral for the map.

Facilities with no route to any higher level are kept with empty times and
``reachable = False``; their number is reported, never hidden.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse
import scipy.sparse.csgraph
import shapely
from numpy.typing import NDArray

from accessmap.errors import InputDataError
from accessmap.routing.network import RoadNetwork
from accessmap.routing.snapping import Snap
from accessmap.routing.travel_times import nearest_facility_times

__all__ = ["Referral", "referral_routes"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Referral:
    """Referral from lower-level to higher-level facilities.

    Attributes
    ----------
    table
        One row per referring facility: ``facility_id``, ``name``, ``level``,
        ``referral_to`` (name), ``referral_to_id``, ``referral_level``, ``time_min``,
        ``return_time_min``, ``distance_km``, ``reachable``.
    routes
        The route of each reachable referral (EPSG:4326 lines) with the same keys.
    level_column, levels
        The facility column and the levels used, lowest first.
    """

    table: pd.DataFrame
    routes: gpd.GeoDataFrame
    level_column: str = ""
    levels: tuple[str, ...] = ()


def referral_routes(
    network: RoadNetwork,
    facilities: gpd.GeoDataFrame,
    *,
    level_column: str,
    levels: Sequence[str],
) -> Referral:
    """Compute the referral of every lower-level facility to the nearest higher one.

    Parameters
    ----------
    network
        The run's network (its travel mode is the referral's).
    facilities
        Facilities (EPSG:4326 points) with ``facility_id``, ``name`` and ``level_column``.
    level_column
        Column holding each facility's level.
    levels
        The levels, lowest first; facilities of other values take no part.

    Raises
    ------
    InputDataError
        The column is missing, fewer than two levels are given, or no facility has a
        higher level to refer to.
    """
    if level_column not in facilities.columns:
        raise InputDataError(
            f"referral: facilities have no column {level_column!r}; columns are "
            + ", ".join(map(str, facilities.columns.drop("geometry"))))
    if len(levels) < 2:
        raise InputDataError("referral: give at least two levels, lowest first (e.g. "
                             "levels = [\"clinic\", \"hospital\"])")
    rank = facilities[level_column].astype(str).map(
        {str(level): i for i, level in enumerate(levels)}).to_numpy(dtype=float)
    present = sorted({int(r) for r in rank[np.isfinite(rank)]})
    if len(present) < 2:
        found = ", ".join(sorted(facilities[level_column].astype(str).unique())[:10])
        raise InputDataError(f"referral: the facilities hold fewer than two of the levels "
                             f"{list(levels)} in column {level_column!r} (found: {found})")
    x, y = network.project(facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy())
    context = _Context(network, facilities["name"].astype(str).to_numpy(),
                       facilities["facility_id"].to_numpy(), x, y, rank, tuple(levels),
                       _step_lengths(network))
    rows = []
    for low in present[:-1]:
        source = np.flatnonzero(rank == low)
        target = np.flatnonzero(rank > low)
        access = nearest_facility_times(network, x[source], y[source], x[target], y[target])
        for k, i in enumerate(source):
            t = int(access.facility[k])
            rows.append(context.row(int(i), int(target[t]) if t >= 0 else -1,
                                    float(access.time_s[k]), access.point_snap, k,
                                    access.facility_snap, t))
    table = pd.DataFrame([r for r, _ in rows])
    lines = [(r, line) for r, line in rows if line is not None]
    routes = gpd.GeoDataFrame([r for r, _ in lines], geometry=[g for _, g in lines],
                              crs="EPSG:4326") if lines else gpd.GeoDataFrame(
        table.iloc[:0], geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    lost = int((~table["reachable"]).sum())
    if lost:
        logger.warning("referral: %d facilit%s have no route to a higher level: %s", lost,
                       "y" if lost == 1 else "ies",
                       ", ".join(table.loc[~table["reachable"], "name"].astype(str)[:10]))
    return Referral(table=table, routes=routes, level_column=level_column,
                    levels=tuple(levels))


@dataclass(frozen=True, eq=False)
class _Context:
    """What every referral row needs: the network, the facilities' arrays, step lengths."""

    network: RoadNetwork
    names: NDArray[np.object_]
    ids: NDArray[np.generic]
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    rank: NDArray[np.float64]
    levels: tuple[str, ...]
    step_length_m: scipy.sparse.csr_array

    def row(self, i: int, j: int, time_s: float, from_snap: Snap, k: int, to_snap: Snap,
            t: int) -> tuple[dict[str, object], shapely.Geometry | None]:
        """The referral of facility ``i`` to facility ``j`` (-1: none), and its route."""
        network = self.network
        row: dict[str, object] = {
            "facility_id": _plain(self.ids[i]), "name": self.names[i],
            "level": self.levels[int(self.rank[i])], "referral_to": None,
            "referral_to_id": None, "referral_level": None, "time_min": np.nan,
            "return_time_min": np.nan, "distance_km": np.nan, "reachable": False,
        }
        if j < 0 or not np.isfinite(time_s):
            return row, None
        back = nearest_facility_times(network, self.x[[j]], self.y[[j]], self.x[[i]],
                                      self.y[[i]])
        path = _fastest_path(network, _entry_node(network, from_snap, k),
                             _entry_node(network, to_snap, t))
        length_m = float(from_snap.distance_m[k] + to_snap.distance_m[t])
        line = None
        if path is not None:
            length_m += float(sum(self.step_length_m[a, b]
                                  for a, b in itertools.pairwise(path.tolist())))
            if path.size >= 2:
                line = shapely.linestrings(np.column_stack([network.node_lon[path],
                                                            network.node_lat[path]]))
        back_s = float(back.time_s[0])
        row.update({"referral_to": self.names[j], "referral_to_id": _plain(self.ids[j]),
                    "referral_level": self.levels[int(self.rank[j])],
                    "time_min": time_s / 60,
                    "return_time_min": back_s / 60 if np.isfinite(back_s) else np.nan,
                    "distance_km": length_m / 1000, "reachable": True})
        return row, line


def _entry_node(network: RoadNetwork, snap: Snap, k: int) -> int:
    """The end of the snapped segment nearer along it (the route's first or last node)."""
    segment = int(snap.segment[k])
    return int(network.seg_u[segment] if snap.fraction[k] <= 0.5 else network.seg_v[segment])


def _fastest_path(network: RoadNetwork, start: int, end: int) -> NDArray[np.int64] | None:
    """Nodes of the fastest route from ``start`` to ``end`` over the forward graph."""
    if start == end:
        return np.array([start], dtype=np.int64)
    _, predecessors = scipy.sparse.csgraph.dijkstra(network.graph_from, indices=start,
                                                    return_predecessors=True)
    if predecessors[end] < 0:
        return None
    path = [end]
    while path[-1] != start:
        path.append(int(predecessors[path[-1]]))
    return np.array(path[::-1], dtype=np.int64)


def _step_lengths(network: RoadNetwork) -> scipy.sparse.csr_array:
    """Per directed node pair, the length of the fastest segment joining them (m)."""
    u = np.concatenate([network.seg_u, network.seg_v])
    v = np.concatenate([network.seg_v, network.seg_u])
    time = np.concatenate([network.seg_time_fwd_s, network.seg_time_bwd_s])
    length = np.concatenate([network.seg_length_m, network.seg_length_m])
    usable = np.isfinite(time)
    u, v, time, length = u[usable], v[usable], time[usable], length[usable]
    order = np.lexsort((time, v, u))
    pairs = np.column_stack([u[order], v[order]])
    _, first = np.unique(pairs, axis=0, return_index=True)
    return scipy.sparse.csr_array((length[order][first], (pairs[first, 0], pairs[first, 1])),
                                  shape=(network.n_nodes, network.n_nodes))


def _plain(value: object) -> int | str:
    """A facility id as a plain Python value (ids are whole numbers or texts)."""
    if isinstance(value, int | np.integer):
        return int(value)
    return str(value)
