"""Facility changes are monotone at the snapping step (issue 12 over one-way streets).

A demand point's road entries (its nearest segment and, when that one cannot reach the
core of its piece, the nearest segment that can) depend on the network only, so closing
facilities never lowers anyone's time and adding never raises it.  The random drive
networks have one-way streets, one-way dead ends and stubs; the times are checked
against networkx with the same candidate rule written independently (brute-force
shapely distances, networkx reachability and Dijkstra).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from accessmap.inputs.network import load_network, network_from_graph
from accessmap.routing.network import RoadNetwork
from accessmap.routing.snapping import snap_points
from accessmap.routing.travel_times import (
    facility_point_times,
    nearest_facility_times,
    subset_facility_times,
)
from tests.conftest import write_osm

KM = 1000 / 111_319.490793  # degrees per km on the equator
World = tuple[RoadNetwork, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@st.composite
def one_way_worlds(draw: st.DrawFn) -> World:
    """A random drive grid (streets missing, two-way or one-way either way, curved) with
    one-way stubs hanging off it (dead ends leading in, stubs leading out) and a lone
    one-way link; random homes and facilities; (network, px, py, fx, fy) projected."""
    side = draw(st.integers(2, 4))
    graph = nx.MultiDiGraph()
    for i in range(side):
        for j in range(side):
            graph.add_node(i * side + j, x=45 + i * KM, y=j * KM)

    def street(a: int, b: int, way: str) -> None:
        curve = draw(st.floats(1.0, 2.0))
        if way in ("both", "forward"):
            graph.add_edge(a, b, length=1000.0 * curve, highway="residential")
        if way in ("both", "backward"):
            graph.add_edge(b, a, length=1000.0 * curve, highway="residential")

    for i in range(side):
        for j in range(side):
            for di, dj in ((1, 0), (0, 1)):
                if i + di < side and j + dj < side:
                    street(i * side + j, (i + di) * side + j + dj,
                           draw(st.sampled_from(["none", "both", "forward", "backward"])))
    for k in range(draw(st.integers(0, 3))):  # one-way stubs off grid nodes
        base = draw(st.integers(0, side * side - 1))
        tip = side * side + k
        graph.add_node(tip, x=graph.nodes[base]["x"] + draw(st.floats(0.2, 0.8)) * KM,
                       y=graph.nodes[base]["y"] + draw(st.floats(0.2, 0.8)) * KM)
        street(base, tip, draw(st.sampled_from(["forward", "backward"])))
    if draw(st.booleans()):  # a lone one-way link: a piece without a core
        graph.add_node(100, x=45 - 0.5 * KM, y=0.0)
        graph.add_node(101, x=45 - 0.5 * KM, y=(side - 1) * KM)
        graph.add_edge(100, 101, length=(side - 1) * 1000.0, highway="residential")
    if graph.number_of_edges() == 0:
        street(0, 1, "both")
    graph.remove_nodes_from([n for n in list(graph) if graph.degree(n) == 0])
    net = network_from_graph(graph, mode="drive")
    span = (side - 1) * KM
    coordinate = st.tuples(st.floats(45 - 0.6 * KM, 45 + span + 0.6 * KM),
                           st.floats(-0.3 * KM, span + 0.6 * KM))
    points = np.array(draw(st.lists(coordinate, min_size=1, max_size=10)))
    facilities = np.array(draw(st.lists(coordinate, min_size=2, max_size=5)))
    px, py = net.project(points[:, 0], points[:, 1])
    fx, fy = net.project(facilities[:, 0], facilities[:, 1])
    return net, px, py, fx, fy


def _times(net: RoadNetwork, px: Any, py: Any, fx: Any, fy: Any) -> Any:
    return nearest_facility_times(net, px, py, fx, fy, warn_moves=False)


# --------------------------------------------------------------------------- reference


def _digraph(net: RoadNetwork) -> nx.DiGraph:
    """The network as a networkx DiGraph in the direction of travel (fastest parallel)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(range(net.n_nodes))
    for u, v, fwd, bwd in zip(net.seg_u.tolist(), net.seg_v.tolist(),
                              net.seg_time_fwd_s.tolist(), net.seg_time_bwd_s.tolist(),
                              strict=True):
        for a, b, t in ((u, v, fwd), (v, u, bwd)):
            if np.isfinite(t) and (not graph.has_edge(a, b) or graph[a][b]["w"] > t):
                graph.add_edge(a, b, w=t)
    return graph


def _reaching(graph: nx.DiGraph, core: set[int], *, towards: bool) -> set[int]:
    """Nodes with a path to (``towards``) or from the core nodes."""
    found = set(core)
    for c in core:
        found |= nx.ancestors(graph, c) if towards else nx.descendants(graph, c)
    return found


def _part(share: float, time_s: float) -> float:
    return 0.0 if share <= 0 else share * time_s


def _entries(net: RoadNetwork, seg: int, x: float, y: float, *, home: bool
             ) -> tuple[float, float, list[tuple[int, float]]]:
    """(fraction, off-road seconds, [(node, cost)]) of a point entering segment ``seg``:
    homes travel from the point to the ends, facilities are reached from the ends."""
    u, v = int(net.seg_u[seg]), int(net.seg_v[seg])
    line = shapely.LineString([(net.node_x[u], net.node_y[u]), (net.node_x[v], net.node_y[v])])
    point = shapely.Point(x, y)
    t = float(shapely.line_locate_point(line, point, normalized=True)) if line.length else 0.0
    off = float(net.profile.offroad_seconds(np.array(shapely.distance(line, point))))
    fwd, bwd = float(net.seg_time_fwd_s[seg]), float(net.seg_time_bwd_s[seg])
    to_u, to_v = (bwd, fwd) if home else (fwd, bwd)
    ends = [(u, off + _part(t, to_u)), (v, off + _part(1 - t, to_v))]
    return t, off, [(n, c) for n, c in ends if np.isfinite(c)]


def _nearest(net: RoadNetwork, x: float, y: float, allowed: np.ndarray, chosen: int) -> int:
    """The nearest allowed segment within the snap distance (-1: none); on a tie (equal
    within 1e-6 m: reversed copies of a two-way street) the code's ``chosen`` one."""
    lines = shapely.linestrings(np.stack([
        np.column_stack([net.node_x[net.seg_u], net.node_y[net.seg_u]]),
        np.column_stack([net.node_x[net.seg_v], net.node_y[net.seg_v]])], axis=1))
    dist = np.where(allowed, shapely.distance(lines, shapely.Point(x, y)), np.inf)
    if not np.isfinite(dist).any() or dist.min() > net.profile.max_snap_m:
        return -1
    tied = np.flatnonzero(dist <= dist.min() + 1e-6)
    assert chosen in tied.tolist() or tied.size == 1
    return chosen if chosen in tied.tolist() else int(tied[0])


def reference_times(net: RoadNetwork, px: Any, py: Any, fx: Any, fy: Any,
                    access: Any) -> np.ndarray:
    """Every home's time to its nearest facility under the candidate rule, with networkx.

    Homes enter at their nearest segment and, when it cannot reach the core of its piece
    in the direction of travel, also at the nearest segment that can; facilities at their
    nearest segment, or, when no end of it is reached from the core, the nearest segment
    that can be if there is one (``net.in_core`` is the core, tested in
    test_routing_corners).
    """
    graph = _digraph(net)
    core = set(np.flatnonzero(net.in_core).tolist())
    reaches, reached = _reaching(graph, core, towards=True), _reaching(graph, core, towards=False)
    every = np.ones(net.n_segments, dtype=bool)
    fwd_ok, bwd_ok = np.isfinite(net.seg_time_fwd_s), np.isfinite(net.seg_time_bwd_s)
    reach_u, reach_v = (np.isin(ends, list(reaches)) for ends in (net.seg_u, net.seg_v))
    from_u, from_v = (np.isin(ends, list(reached)) for ends in (net.seg_u, net.seg_v))
    home_ok = (reach_u & bwd_ok) | (reach_v & fwd_ok)
    fac_ok = (from_u & fwd_ok) | (from_v & bwd_ok)
    sink = ("facility",)
    fac_nearest = snap_points(net, fx, fy).segment  # breaks ties as the code does
    graph.add_node(sink)
    for k in range(fx.size):
        seg = _nearest(net, fx[k], fy[k], every, int(fac_nearest[k]))
        if seg >= 0 and not any(n in reached for n, _ in
                                _entries(net, seg, fx[k], fy[k], home=False)[2]):
            moved = _nearest(net, fx[k], fy[k], fac_ok, int(access.facility_snap.segment[k]))
            seg = seg if moved < 0 else moved  # nothing better: the nearest is kept
        if seg < 0:
            continue
        f_t, f_off, ends = _entries(net, seg, fx[k], fy[k], home=False)
        for node, cost in ends:
            graph.add_edge(node, sink, w=min(cost, graph.get_edge_data(node, sink, {"w": np.inf})
                                             ["w"]))
        graph.add_node(("facility", k), seg=seg, t=f_t, off=f_off)
    near = access.nearest_snap.segment
    fall = access.point_fallback.segment if access.point_fallback is not None else None
    times = np.full(px.size, np.inf)
    for p in range(px.size):
        first = _nearest(net, px[p], py[p], every, int(near[p]))
        if first < 0:
            continue
        candidates = [first]
        if not any(n in reaches for n, _ in _entries(net, first, px[p], py[p], home=True)[2]):
            second = _nearest(net, px[p], py[p], home_ok,
                              int(fall[p]) if fall is not None else -2)
            if second >= 0:
                candidates.append(second)
        trip = graph.copy()
        for seg in candidates:
            p_t, p_off, ends = _entries(net, seg, px[p], py[p], home=True)
            for node, cost in ends:
                trip.add_edge("home", node, w=cost)
            for k in range(fx.size):  # home and facility on the same segment
                info = graph.nodes.get(("facility", k))
                if info is None or info["seg"] != seg:
                    continue
                delta = info["t"] - p_t
                along = net.seg_time_fwd_s[seg] if delta >= 0 else net.seg_time_bwd_s[seg]
                leg = 0.0 if delta == 0 else abs(delta) * along
                direct = p_off + leg + info["off"]
                if trip.has_edge("home", sink):
                    direct = min(direct, trip["home"][sink]["w"])
                trip.add_edge("home", sink, w=direct)
        if "home" in trip and nx.has_path(trip, "home", sink):
            times[p] = nx.dijkstra_path_length(trip, "home", sink, weight="w")
    return times


# --------------------------------------------------------------------------- properties


@settings(deadline=None, max_examples=60)
@given(one_way_worlds())
def test_times_equal_networkx_with_the_same_candidate_rule(world: World) -> None:
    net, px, py, fx, fy = world
    access = _times(net, px, py, fx, fy)
    expected = reference_times(net, px, py, fx, fy, access)
    np.testing.assert_allclose(access.time_s, expected, rtol=1e-9)
    assert np.array_equal(np.isinf(access.time_s), access.facility < 0)
    # catchments see the same entries: facility x point times over the network (no
    # same-segment shortcut) are never quicker, and equal where no facility shares a
    # segment with any of the point's entries
    matrix = facility_point_times(net, access, 1e9).tocoo()
    best = np.full(px.size, np.inf)
    np.minimum.at(best, matrix.col, matrix.data)  # zeros are stored
    assert np.all(best >= access.time_s * (1 - 1e-12))
    entries = [access.nearest_snap.segment]
    if access.point_fallback is not None:
        entries.append(access.point_fallback.segment)
    shared = np.isin(np.stack(entries), access.facility_snap.segment).any(axis=0)
    np.testing.assert_allclose(best[~shared], access.time_s[~shared], rtol=1e-9)


@settings(deadline=None, max_examples=60)
@given(one_way_worlds(), st.data())
def test_closing_facilities_never_lowers_anyones_time(world: World, data: st.DataObject
                                                      ) -> None:
    net, px, py, fx, fy = world
    keep = np.array(data.draw(st.lists(st.booleans(), min_size=fx.size, max_size=fx.size)))
    keep[data.draw(st.integers(0, fx.size - 1))] = True
    before = _times(net, px, py, fx, fy)
    after = _times(net, px, py, fx[keep], fy[keep])
    assert np.all(after.time_s >= before.time_s)
    # the run's own subset search (indicators) gives the same times
    subset, _ = subset_facility_times(net, before, keep)
    np.testing.assert_array_equal(subset, after.time_s)


@settings(deadline=None, max_examples=60)
@given(one_way_worlds(), st.data())
def test_adding_facilities_never_raises_anyones_time(world: World, data: st.DataObject
                                                     ) -> None:
    net, px, py, fx, fy = world
    base = data.draw(st.integers(1, fx.size - 1))
    before = _times(net, px, py, fx[:base], fy[:base])
    after = _times(net, px, py, fx, fy)
    assert np.all(after.time_s <= before.time_s)
    again = nearest_facility_times(net, px, py, fx, fy, point_snap=before.nearest_snap,
                                   warn_moves=False)
    np.testing.assert_array_equal(again.time_s, after.time_s)


# --------------------------------------------------------------------------- by hand


def test_a_quicker_way_out_is_used_whatever_facilities_exist(tmp_path: Path) -> None:
    """Street 1-2 two-way (1 km), one-way dead end 2 -> 3 (3 km north).  A home 50 m from
    the dead end and 200 m from the street has both as entries.  With a facility near the
    dead end's tip and one at node 1, the street is quicker, so the trip uses it; closing
    the dead-end facility changes nothing (the former rule re-snapped only when the
    nearest road reached no facility, so there the closure made the trip quicker)."""
    nodes = {1: (45.0, 0.0), 2: (45.0 + KM, 0.0), 3: (45.0 + KM, 3 * KM)}
    ways = [(10, [1, 2], {"highway": "residential"}),
            (11, [2, 3], {"highway": "residential", "oneway": "yes"})]
    net = load_network(write_osm(tmp_path / "dead_end.osm", nodes, ways), mode="drive",
                       use_cache=False)
    px, py = net.project(np.array([45 + 0.95 * KM]), np.array([0.2 * KM]))
    fx, fy = net.project(np.array([45 + KM, 45.0]), np.array([2.9 * KM, 0.0]))
    s_per_m = float(net.seg_time_fwd_s[0] / net.seg_length_m[0])
    walk_s = net.profile.offroad_seconds(np.array([50.0, 200.0]))
    by_dead_end = walk_s[0] + 2700 * s_per_m
    by_street = walk_s[1] + 950 * s_per_m
    assert by_street < by_dead_end
    both = _times(net, px, py, fx, fy)
    assert both.moved_points.tolist() == [0] and both.facility.tolist() == [1]
    assert both.time_s[0] == pytest.approx(by_street, rel=1e-2)
    street_only = _times(net, px, py, fx[1:], fy[1:])
    assert street_only.time_s[0] == both.time_s[0]
    dead_end_only = _times(net, px, py, fx[:1], fy[:1])
    assert dead_end_only.moved_points.size == 0
    assert dead_end_only.time_s[0] == pytest.approx(by_dead_end, rel=1e-2)
    assert net.seg_way_id[dead_end_only.point_snap.segment[0]] == 11  # the dead end
