"""Off-road travel over land cover and slope: a cost-distance from the roads to every cell.

Without it a home reaches the road in a straight line at the walking speed times a
detour factor (:mod:`accessmap.routing.snapping`).  With a land-cover and/or elevation
grid (an :class:`OffroadSurface` on the population grid), every cell a road crosses is
seeded with the network time from that point of the road to the nearest facility
(:attr:`Access.node_time_s` along the segment), and one multi-source Dijkstra over the
grid (8 or 16 neighbours, :mod:`accessmap.routing._grid_kernels`) spreads the times and
the facility labels outward.  A step between two cells costs its length times the mean
of the two cells' seconds per metre, divided by Tobler's hiking function relative to
the flat for the slope in the direction of travel (home -> road).  Impassable cells
(water) are never crossed; only the network's own edges (bridges, fords) cross them.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pyproj
from affine import Affine
from numpy.typing import NDArray

from accessmap.errors import DataQualityWarning
from accessmap.progress import Tick
from accessmap.routing._grid_kernels import grid_search, tobler_factor
from accessmap.routing.network import RoadNetwork
from accessmap.routing.snapping import Snap
from accessmap.routing.travel_times import (
    NO_ROUTE,
    OFF_NETWORK,
    REACHED,
    Access,
    _point_times,
    _same_segment_trips,
)

__all__ = ["OffroadSurface", "cell_centres", "offroad_times", "road_seeds", "tobler_factor"]

logger = logging.getLogger(__name__)

#: Cost given to road cells that lead to no facility, so that the search still tells
#: "reaches a road, but no facility" (``NO_ROUTE``) from "reaches no road" (cut off).
#: Internal only: such cells end with ``inf`` in every result.
_NO_FACILITY_S = 1e15


@dataclass(frozen=True, eq=False)
class OffroadSurface:
    """Walking speeds and elevation on a grid (the population grid), ready for routing.

    Attributes
    ----------
    speed_kph
        Shape ``(rows, cols)``: walking speed of each cell (0: impassable; NaN: no land
        cover there, the travel mode's off-road speed applies).
    elevation_m
        Same shape, metres above sea level (NaN: unknown, that step is flat), or
        ``None`` for no slope.
    transform, crs
        Georeferencing of the grid.
    neighbours : {8, 16}
        Moves of the search: 8 (king's moves, up to 8.2 % longer than a straight line)
        or 16 (plus knight's moves, up to 2.7 %).
    max_slope_deg
        Slopes are taken at most this steep (Tobler's speed at 45 degrees uphill is
        0.15 km/h, 3 % of the flat).
    """

    speed_kph: NDArray[np.float64]
    elevation_m: NDArray[np.float64] | None
    transform: Affine
    crs: str
    neighbours: int = 8
    max_slope_deg: float = 45.0

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the grid."""
        rows, cols = self.speed_kph.shape
        return int(rows), int(cols)


def offroad_times(
    network: RoadNetwork,
    access: Access,
    surface: OffroadSurface,
    row: NDArray[np.int64],
    col: NDArray[np.int64],
    *,
    tick: Tick | None = None,
) -> Access:
    """Replace the straight-line walk to the road of ``access`` with the off-road model.

    Parameters
    ----------
    network
        The network ``access`` was computed on.
    access
        Result of :func:`~accessmap.routing.travel_times.nearest_facility_times`; its
        node times and facility snaps are kept.
    surface
        Speeds (and elevation) on the grid of the demand points.
    row, col
        Grid cell of every demand point.
    tick
        Progress callback ``tick(fraction, message)``; whatever it raises propagates.

    Returns
    -------
    Access
        The same fields, with ``time_s``, ``facility`` and ``status`` from the grid:
        ``OFF_NETWORK`` for points beyond the snap distance (as before) and points that
        impassable cells cut off from every road, ``NO_ROUTE`` for points whose roads
        lead to no facility.

    Warns
    -----
    DataQualityWarning
        Demand points cut off from every road by impassable land cover.
    """
    cell_x, cell_y = cell_centres(surface, network.crs)
    base_kph = network.profile.offroad_kph
    speed = np.where(np.isnan(surface.speed_kph), base_kph, surface.speed_kph)
    seed_time, seed_label = road_seeds(network, access, surface)
    road = np.isfinite(seed_time)
    passable = (speed > 0) | road  # a road crossing water is a bridge or a ford
    speed = np.where(speed > 0, speed, base_kph)
    elevation = (np.zeros(0) if surface.elevation_m is None
                 else np.asarray(surface.elevation_m, float))
    if tick is not None:
        tick(0.1, f"off-road: {int(road.sum()):,} road cells seeded")

    def step(share: float) -> None:
        if tick is not None:
            tick(0.1 + 0.85 * share, f"off-road search: {share:.0%} of cells")

    dist, label = grid_search(
        cell_x, cell_y, 3.6 / speed, passable, elevation,
        float(np.tan(np.radians(surface.max_slope_deg))), seed_time, seed_label,
        surface.neighbours, step=step)
    result = _point_results(access, dist[row, col], label[row, col])
    if tick is not None:
        tick(1.0, "off-road travel times done")
    return result


#: Cells between the exactly projected points of :func:`cell_centres` (the rest are
#: interpolated: projections are smooth, the error over 8 cells is below a centimetre).
_LATTICE_STEP = 8


def cell_centres(surface: OffroadSurface, crs: str
                 ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Centres of every cell of ``surface``'s grid in ``crs`` (metres), shape ``(rows, cols)``.

    Every ``_LATTICE_STEP``-th row and column (and the last) is projected exactly, the
    cells between them bilinearly from those: projecting each of millions of cells costs
    more than the whole grid search.
    """
    rows, cols = surface.shape
    r_idx, c_idx = _lattice(rows), _lattice(cols)
    jj, ii = np.meshgrid(c_idx + 0.5, r_idx + 0.5)
    gx, gy = surface.transform * (jj, ii)
    to_net = pyproj.Transformer.from_crs(surface.crs, crs, always_xy=True)
    lx, ly = to_net.transform(np.asarray(gx, float), np.asarray(gy, float))
    r_at, r_w = _weights(r_idx, rows)
    c_at, c_w = _weights(c_idx, cols)
    return (_bilinear(np.asarray(lx, float), r_at, r_w, c_at, c_w),
            _bilinear(np.asarray(ly, float), r_at, r_w, c_at, c_w))


def _lattice(n: int) -> NDArray[np.int64]:
    """Every ``_LATTICE_STEP``-th index of ``range(n)`` and the last one."""
    return np.unique(np.append(np.arange(0, n, _LATTICE_STEP), n - 1)).astype(np.int64)


def _weights(lattice: NDArray[np.int64], n: int
             ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """For each index of ``range(n)``: its lattice interval and the weight of its end."""
    at = np.clip(np.searchsorted(lattice, np.arange(n), side="right") - 1, 0,
                 max(lattice.size - 2, 0))
    if lattice.size == 1:
        return at, np.zeros(n)
    span = (lattice[at + 1] - lattice[at]).astype(float)
    return at, (np.arange(n) - lattice[at]) / span


def _bilinear(values: NDArray[np.float64], r_at: NDArray[np.int64], r_w: NDArray[np.float64],
              c_at: NDArray[np.int64], c_w: NDArray[np.float64]) -> NDArray[np.float64]:
    """Values of the lattice ``values`` interpolated onto every cell."""
    if values.shape[0] == 1:
        values = np.vstack([values, values])
    if values.shape[1] == 1:
        values = np.hstack([values, values])
    top = values[r_at] * (1 - r_w)[:, None] + values[r_at + 1] * r_w[:, None]
    return np.asarray(top[:, c_at] * (1 - c_w) + top[:, c_at + 1] * c_w)


def road_seeds(
    network: RoadNetwork, access: Access, surface: OffroadSurface
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Per cell, the best network time from a road point in it, and that trip's facility.

    Every segment but ferries is sampled at most half the smallest cell size apart (and
    at its ends, :func:`_segment_samples`); a sample's time is the best over both ends
    of its segment (the part of the segment in the direction of travel plus the node's
    time), or the direct trip along the segment to a facility snapped to it.  Cells
    with no road are ``inf``; cells whose roads lead to no facility get the internal
    ``_NO_FACILITY_S`` (label -1).
    """
    seg, frac = _segment_samples(network, _cell_size_m(surface, network.crs))
    cell = _sample_cells(network, seg, frac, surface)
    inside = cell >= 0
    seg, frac, cell = seg[inside], frac[inside], cell[inside]
    snap = Snap(seg, frac, np.zeros(seg.size))
    time_s, facility = _point_times(network, snap, access.node_time_s, access.node_facility)
    _same_segment_trips(network, snap, access.facility_snap, time_s, facility)
    rows, cols = surface.shape
    seed_time = np.full(rows * cols, np.inf)
    seed_label = np.full(rows * cols, -1, dtype=np.int64)
    order = np.lexsort((time_s, cell))
    first = order[np.r_[True, cell[order][1:] != cell[order][:-1]]] if order.size else order
    best = time_s[first]
    seed_time[cell[first]] = np.where(np.isfinite(best), best, _NO_FACILITY_S)
    seed_label[cell[first]] = np.where(np.isfinite(best), facility[first], -1)
    return seed_time.reshape(rows, cols), seed_label.reshape(rows, cols)


def _cell_size_m(surface: OffroadSurface, crs: str) -> float:
    """Smallest spacing of cell centres (metres) along a row or a column, at the centre."""
    rows, cols = surface.shape
    i, j = rows // 2, cols // 2
    probe = OffroadSurface(np.zeros((2, 2)), None,
                           surface.transform * Affine.translation(max(j - 1, 0),
                                                                 max(i - 1, 0)),
                           surface.crs)
    x, y = cell_centres(probe, crs)
    return float(min(np.hypot(x[0, 1] - x[0, 0], y[0, 1] - y[0, 0]),
                     np.hypot(x[1, 0] - x[0, 0], y[1, 0] - y[0, 0])))


def _segment_samples(network: RoadNetwork, cell_m: float
                     ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Segment and fraction of sample points along every non-ferry segment.

    The two ends, and the middle of each of ``ceil(length / (cell_m / 2))`` equal
    pieces: at most half a cell apart, and off the cell edges of a road running along
    a row or a column of the grid (ties between two cells would be arbitrary).
    """
    usable = (network.seg_highway != "ferry") & (
        np.isfinite(network.seg_time_fwd_s) | np.isfinite(network.seg_time_bwd_s))
    segs = np.flatnonzero(usable)
    pieces = np.maximum(np.ceil(network.seg_length_m[segs] / (cell_m / 2)), 1).astype(np.int64)
    seg = np.repeat(segs, pieces)
    start = np.repeat(np.cumsum(pieces) - pieces, pieces)
    frac = (np.arange(seg.size) - start + 0.5) / np.repeat(pieces, pieces)
    ends = np.concatenate([segs, segs])
    return (np.concatenate([ends, seg]).astype(np.int64),
            np.concatenate([np.zeros(segs.size), np.ones(segs.size), frac]))


def _sample_cells(network: RoadNetwork, seg: NDArray[np.int64], frac: NDArray[np.float64],
                  surface: OffroadSurface) -> NDArray[np.int64]:
    """Flat cell index of each sample (-1 outside the grid).

    Nodes are projected onto the grid exactly and samples placed between their
    segment's ends in grid coordinates (segments are short: a few cm at most).
    """
    to_grid = pyproj.Transformer.from_crs(network.crs, surface.crs, always_xy=True)
    gx, gy = to_grid.transform(network.node_x, network.node_y)
    node_j, node_i = ~surface.transform * (np.asarray(gx, float), np.asarray(gy, float))
    node_j, node_i = np.asarray(node_j), np.asarray(node_i)
    u, v = network.seg_u[seg], network.seg_v[seg]
    fj = node_j[u] + frac * (node_j[v] - node_j[u])
    fi = node_i[u] + frac * (node_i[v] - node_i[u])
    rows, cols = surface.shape
    i, j = np.floor(fi).astype(np.int64), np.floor(fj).astype(np.int64)
    inside = (i >= 0) & (i < rows) & (j >= 0) & (j < cols)
    return np.where(inside, i * cols + j, -1)


def _point_results(access: Access, time_s: NDArray[np.float64], label: NDArray[np.int64]
                   ) -> Access:
    """``access`` with the grid's times, facilities and statuses of the demand points."""
    beyond_snap = ~access.point_snap.on_network
    cut_off = ~np.isfinite(time_s) & ~beyond_snap
    reached = (time_s < _NO_FACILITY_S / 2) & ~beyond_snap
    status = np.full(time_s.size, NO_ROUTE, dtype=np.int8)
    status[reached] = REACHED
    status[beyond_snap | cut_off] = OFF_NETWORK
    if cut_off.any():
        message = (f"{int(cut_off.sum()):,} demand point(s) cannot reach any road over the "
                   "land cover: impassable cells (water) surround them; they count as "
                   "off-network (check the land-cover classes and the speeds of the "
                   "impassable ones)")
        logger.warning("%s", message)
        warnings.warn(message, DataQualityWarning, stacklevel=3)
    logger.info("off-road times: %d points reached, %d off-network (%d cut off), %d with no "
                "route", int(reached.sum()), int((status == OFF_NETWORK).sum()),
                int(cut_off.sum()), int((status == NO_ROUTE).sum()))
    return dataclasses.replace(
        access, time_s=np.where(reached, time_s, np.inf),
        facility=np.where(reached, label, -1).astype(np.int64), status=status)
