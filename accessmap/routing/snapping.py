"""Snapping points to the nearest usable road segment, and the entry costs onto the network."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.spatial
from numpy.typing import NDArray

from accessmap.progress import Tick
from accessmap.routing.network import SNAP_SAMPLE_M, RoadNetwork, _check_projected

__all__ = ["Snap", "entry_costs", "entry_points", "fallback_snap", "leads_to_core", "snap_points"]


#: Share of :func:`snap_points`' progress taken by the blocks (the rest: the fallback).
_BLOCKS_SHARE = 0.95


@dataclass(frozen=True)
class Snap:
    """Where points meet the network: nearest usable segment, position along it, distance.

    ``segment`` is -1 for points farther than the profile's ``max_snap_m``.
    """

    segment: NDArray[np.int64]
    fraction: NDArray[np.float64]
    distance_m: NDArray[np.float64]

    @property
    def on_network(self) -> NDArray[np.bool_]:
        """True where the point was snapped."""
        return self.segment >= 0


#: Nearest samples fetched per point by ``snap_points`` before its exact fallback.
_SNAP_K = 6


#: Points per block in ``snap_points`` (bounds its temporary arrays).
_SNAP_BLOCK = 16_384


#: Slack (m) for rounding in the snapping bounds (sample coordinates, distances).
_SNAP_EPS_M = 1e-6


def snap_points(
    network: RoadNetwork, x: NDArray[np.float64], y: NDArray[np.float64], *,
    segments: NDArray[np.bool_] | None = None, tick: Tick | None = None,
) -> Snap:
    """Snap points (network CRS, metres) to the nearest point of the nearest segment.

    Exact: the same segment, distance and fraction as a search over every segment
    (ties go to the lowest segment index).  Points beyond
    ``network.profile.max_snap_m`` get segment -1 and are reported by the caller as
    off-network, never snapped kilometres away.

    Parameters
    ----------
    network
        The road network.
    x, y
        Points in the network CRS (metres).
    segments
        Per segment, whether points may snap to it (default: every segment); used to
        move points off road pieces from which no facility can be reached.
    tick
        Progress callback ``tick(fraction, message)``, called after each block of
        16,384 points and at the end (1.0).  Whatever it raises (``Cancelled``)
        propagates.

    Raises
    ------
    InputDataError
        Every point is more than 1,000 km from the network (degrees passed as metres,
        or another CRS).

    Notes
    -----
    Each point takes the ``_SNAP_K`` nearest segment samples (``sample_tree``) and the
    exact distances to their segments; the best of those, ``d``, is final when every
    other segment is provably farther.  A segment none of whose samples is among them
    has all its samples at least ``d_k`` (the k-th sample distance) away, and its
    pieces between samples are at most ``SNAP_SAMPLE_M`` long, so it is at least
    ``sqrt(d_k**2 - (SNAP_SAMPLE_M / 2)**2)`` away.  The few points where that does not
    settle it take every sample within ``sqrt(d**2 + (SNAP_SAMPLE_M / 2)**2)`` (every
    segment at distance <= d has one) and the exact search over their segments.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    _check_projected(network, x, y)
    segment = np.full(x.size, -1, dtype=np.int64)
    distance = np.full(x.size, np.inf)
    fraction = np.zeros(x.size)
    if x.size == 0 or network.n_segments == 0:
        if tick is not None:
            tick(1.0, "snapped 0 points")
        return Snap(segment, fraction, distance)
    limit = network.profile.max_snap_m
    reach = limit + SNAP_SAMPLE_M  # samples beyond this are never needed
    half2 = (SNAP_SAMPLE_M / 2) ** 2
    tree, tree_seg = _samples(network, segments)
    if tree is None:
        if tick is not None:
            tick(1.0, "snapped 0 points (no usable segment)")
        return Snap(segment, fraction, distance)
    sample_seg = np.append(tree_seg, -1)  # the tree's "missing" index maps to -1
    k = min(_SNAP_K, tree.n)
    unsettled: list[NDArray[np.int64]] = []
    for lo in range(0, x.size, _SNAP_BLOCK):
        hi = min(lo + _SNAP_BLOCK, x.size)
        px, py = x[lo:hi, None], y[lo:hi, None]
        dk, ik = tree.query(np.column_stack([x[lo:hi], y[lo:hi]]), k=k,
                            distance_upper_bound=reach, workers=-1)
        cand = sample_seg[ik.reshape(hi - lo, k)]
        dist, frac = _segment_distances(network, px, py, cand)
        seg, best_d, best_f = _nearest_candidate(cand, dist, frac)
        # Lower bound on the distance of every segment that is not a candidate.
        last = np.minimum(dk.reshape(hi - lo, k)[:, -1], reach)
        other = np.sqrt(np.maximum(last * last - half2, 0.0)) - _SNAP_EPS_M
        settled = (best_d < other) | ((best_d > limit) & (other > limit))
        keep = settled & (best_d <= limit)
        idx = np.flatnonzero(keep) + lo
        segment[idx] = seg[keep]
        distance[idx] = best_d[keep]
        fraction[idx] = best_f[keep]
        unsettled.append(np.flatnonzero(~settled) + lo)
        if tick is not None:
            tick(_BLOCKS_SHARE * hi / x.size, f"snapped {hi:,} of {x.size:,} points")
    rest = np.concatenate(unsettled)
    if rest.size:
        _snap_exhaustive(network, tree, tree_seg, x, y, rest, segment, distance, fraction)
    if tick is not None:
        tick(1.0, f"snapped {x.size:,} points")
    return Snap(segment, fraction, distance)


def leads_to_core(network: RoadNetwork, snap: Snap) -> NDArray[np.bool_]:
    """Per point, True when a trip from it can reach the core of its segment's piece.

    That is: one end of its segment lies in :attr:`RoadNetwork.reaches_core` and the
    point may travel along the segment to that end.  False for points off the network.
    """
    lead = np.zeros(snap.segment.size, dtype=np.bool_)
    point, cost_u, cost_v = entry_costs(network, snap, towards_network=True)
    seg = snap.segment[point]
    reaches = network.reaches_core
    lead[point] = ((np.isfinite(cost_u) & reaches[network.seg_u[seg]])
                   | (np.isfinite(cost_v) & reaches[network.seg_v[seg]]))
    return lead


def fallback_snap(
    network: RoadNetwork, x: NDArray[np.float64], y: NDArray[np.float64], nearest: Snap
) -> Snap | None:
    """The second road entry of demand points whose nearest segment leads nowhere.

    Points snapped within ``max_snap_m`` whose nearest segment cannot reach the core of
    its piece in the direction of travel (a one-way dead end, a piece of one-way links
    only) get the nearest segment, still within ``max_snap_m``, that can; every other
    point gets segment -1.  The rule depends on the network alone, never on where the
    facilities are, so a trip's best entry is a minimum over a fixed set and closing a
    facility can only raise it.

    Returns
    -------
    Snap or None
        Aligned with ``nearest``; None when no point has a fallback.
    """
    need = np.flatnonzero(nearest.on_network & ~leads_to_core(network, nearest))
    if need.size == 0:
        return None
    reaches = network.reaches_core
    usable = ((reaches[network.seg_u] & np.isfinite(network.seg_time_bwd_s))
              | (reaches[network.seg_v] & np.isfinite(network.seg_time_fwd_s)))
    if not usable.any():
        return None
    found = snap_points(network, np.asarray(x, float)[need], np.asarray(y, float)[need],
                        segments=usable)
    if not found.on_network.any():
        return None
    segment = np.full(nearest.segment.size, -1, dtype=np.int64)
    fraction = np.zeros(nearest.segment.size)
    distance = np.full(nearest.segment.size, np.inf)
    segment[need], fraction[need], distance[need] = (found.segment, found.fraction,
                                                     found.distance_m)
    return Snap(segment, fraction, distance)


def _segment_distances(
    network: RoadNetwork, px: NDArray[np.float64], py: NDArray[np.float64],
    seg: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Exact distance and fraction from points to segments (``seg`` -1: distance inf).

    The arithmetic follows GEOS (``Distance::pointToSegment`` and the length index of
    ``line_locate_point``), so results equal ``shapely.distance`` and
    ``shapely.line_locate_point(..., normalized=True)`` on the segment's LineString
    (zero-length segments: fraction 0).
    """
    s = np.maximum(seg, 0)
    ax, ay = network.node_x[network.seg_u[s]], network.node_y[network.seg_u[s]]
    bx, by = network.node_x[network.seg_v[s]], network.node_y[network.seg_v[s]]
    dx, dy = bx - ax, by - ay
    len2 = dx * dx + dy * dy
    with np.errstate(divide="ignore", invalid="ignore"):
        r = ((px - ax) * dx + (py - ay) * dy) / len2
        perp = np.abs(((ay - py) * dx - (ax - px) * dy) / len2) * np.sqrt(len2)
        length = np.sqrt(len2)
        frac = np.where(r <= 0.0, 0.0, np.where(r >= 1.0, length, r * length)) / length
    ex, ey = px - ax, py - ay
    to_a = np.sqrt(ex * ex + ey * ey)
    ex, ey = px - bx, py - by
    to_b = np.sqrt(ex * ex + ey * ey)
    degenerate = (dx == 0.0) & (dy == 0.0)
    dist = np.where(degenerate | (r <= 0.0), to_a, np.where(r >= 1.0, to_b, perp))
    dist[seg < 0] = np.inf
    frac[degenerate | (seg < 0)] = 0.0
    return dist, frac


def _nearest_candidate(
    cand: NDArray[np.int64], dist: NDArray[np.float64], frac: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Row-wise nearest candidate (ties: lowest segment index): segment, distance, fraction."""
    best_d = dist.min(axis=1)
    tied = np.where(dist == best_d[:, None], cand, np.iinfo(np.int64).max)
    col = np.argmin(tied, axis=1)
    rows = np.arange(cand.shape[0])
    return cand[rows, col], best_d, frac[rows, col]


def _samples(
    network: RoadNetwork, segments: NDArray[np.bool_] | None
) -> tuple[scipy.spatial.cKDTree | None, NDArray[np.int64]]:
    """The sample tree and each sample's segment, restricted to ``segments`` if given."""
    if segments is None:
        return network.sample_tree, network.sample_segment
    keep = np.asarray(segments, dtype=bool)[network.sample_segment]
    if not keep.any():
        return None, np.zeros(0, dtype=np.int64)
    data = np.asarray(network.sample_tree.data)[keep]
    tree = scipy.spatial.cKDTree(data, balanced_tree=False, compact_nodes=False)
    return tree, network.sample_segment[keep]


def _snap_exhaustive(
    network: RoadNetwork, tree: scipy.spatial.cKDTree, tree_seg: NDArray[np.int64],
    x: NDArray[np.float64], y: NDArray[np.float64],
    idx: NDArray[np.int64], segment: NDArray[np.int64], distance: NDArray[np.float64],
    fraction: NDArray[np.float64],
) -> None:
    """Exact snap of points ``idx`` over every sample within their proven radius."""
    limit = network.profile.max_snap_m
    pts = np.column_stack([x[idx], y[idx]])
    # Any sample gives an upper bound on the distance to the network.
    first, _ = tree.query(pts, k=1)
    bound = np.minimum(first, limit)
    radius = np.sqrt(bound * bound + (SNAP_SAMPLE_M / 2) ** 2) + _SNAP_EPS_M
    found = tree.query_ball_point(pts, radius, workers=-1, return_sorted=False)
    counts = np.fromiter((len(f) for f in found), dtype=np.int64, count=len(found))
    if counts.sum() == 0:
        return
    owner = np.repeat(np.arange(idx.size), counts)
    seg = tree_seg[np.concatenate([np.asarray(f, dtype=np.int64)
                                                 for f in found if len(f)])]
    dist, frac = _segment_distances(network, x[idx][owner], y[idx][owner], seg)
    order = np.lexsort((seg, dist, owner))
    head = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
    head = head[dist[head] <= limit]
    hit = idx[owner[head]]
    segment[hit] = seg[head]
    distance[hit] = dist[head]
    fraction[hit] = frac[head]


def entry_points(
    network: RoadNetwork, snap: Snap, *, towards_network: bool
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Return how snapped points enter the graph: (point index, node, cost in seconds).

    Each snapped point enters at both ends of its segment; the cost is the off-road walk
    plus the part of the segment between the snap point and that end.

    Parameters
    ----------
    towards_network
        True for trips that start at the point (homes travelling to care): the point
        reaches node u by moving along the segment from the snap point to u (backward
        direction). False for trips that end at the point (a facility reached from the
        network): node u reaches the snap point by moving forward from u.
    """
    ok, cost_u, cost_v = entry_costs(network, snap, towards_network=towards_network)
    seg = snap.segment[ok]
    point = np.concatenate([ok, ok])
    node = np.concatenate([network.seg_u[seg], network.seg_v[seg]])
    cost = np.concatenate([cost_u, cost_v])
    keep = np.isfinite(cost)
    return point[keep], node[keep], cost[keep]


def entry_costs(
    network: RoadNetwork, snap: Snap, *, towards_network: bool
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Return the snapped points and their entry costs (s) at each end of their segment.

    ``(point, cost_u, cost_v)``: the points on the network (indices into ``snap``), and
    per point the cost of entering at node ``seg_u`` / ``seg_v`` of its segment (``inf``
    when that direction is not allowed), as in :func:`entry_points`, which lists the
    same entries one per row without the infinite ones.
    """
    ok = np.flatnonzero(snap.on_network)
    seg = snap.segment[ok]
    t = snap.fraction[ok]
    offroad = network.profile.offroad_seconds(snap.distance_m[ok])
    fwd = network.seg_time_fwd_s[seg]
    bwd = network.seg_time_bwd_s[seg]
    to_u, to_v = (bwd, fwd) if towards_network else (fwd, bwd)
    return ok, offroad + _part_time(t, to_u), offroad + _part_time(1 - t, to_v)


def _part_time(share: NDArray[np.float64], time_s: NDArray[np.float64]) -> NDArray[np.float64]:
    """Time for ``share`` of a segment; a point exactly at the end costs 0 even if blocked."""
    with np.errstate(invalid="ignore"):
        return np.where(share > 0, share * time_s, 0.0)
