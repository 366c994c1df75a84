"""One-way dead ends and stubs on a real piece of the Comoros drive network (issue 13).

The whole Comoros drive network has none: every node lies in the strongly connected core
of its piece, and a full drive run moves nobody (``moved_to_reachable_road`` is 0 in the
golden).  A bounding-box extract makes them, as anyone's study-area cut would: this test
cuts central Moroni around the one-way Boulevard de la Ligue Arabe (OSM way 87526565)
from the shared PBF into tmp_path (ways keep their full node lists, nodes outside the box
are missing: ``osmium extract --strategy simple``).  The boulevard's northern end is then
a one-way dead end, the southbound carriageway's start a stub nobody can reach.  Snapping
must move a home on the dead end and a facility on the stub, and the times must equal
networkx's shortest path on the same graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest

from accessmap.errors import DataQualityWarning
from accessmap.inputs.network import load_network
from accessmap.routing.engine import Sources, nearest_source
from accessmap.routing.network import RoadNetwork
from accessmap.routing.snapping import Snap, entry_points, snap_points
from accessmap.routing.travel_times import REACHED, nearest_facility_times
from tests.conftest import write_osm

pytestmark = pytest.mark.comoros

#: (west, south, east, north): about 380 m x 670 m of central Moroni.
MORONI_BOX = (43.2555, -11.7000, 43.2590, -11.6940)


def _cut(pbf: Path, out: Path, box: tuple[float, float, float, float]) -> Path:
    """Every highway way with a node in ``box``, and the nodes of such ways in it."""
    import osmium

    west, south, east, north = box
    nodes: dict[int, tuple[float, float]] = {}
    ways: list[tuple[int, list[int], dict[str, str]]] = []
    located = osmium.FileProcessor(str(pbf)).with_locations()
    for item in located.with_filter(osmium.filter.KeyFilter("highway")):
        if not item.is_way():
            continue
        inside = [n for n in item.nodes
                  if west <= n.lon <= east and south <= n.lat <= north]
        if inside:
            nodes.update((n.ref, (n.lon, n.lat)) for n in inside)
            ways.append((item.id, [n.ref for n in item.nodes],
                         {tag.k: tag.v for tag in item.tags}))
    return write_osm(out, nodes, ways)


@pytest.fixture(scope="module")
def moroni(comoros_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> RoadNetwork:
    piece = _cut(comoros_dir / "comores-latest.osm.pbf",
                 tmp_path_factory.mktemp("moroni") / "moroni.osm", MORONI_BOX)
    with pytest.warns(DataQualityWarning, match="have nodes missing from the extract"):
        return load_network(piece, mode="drive", use_cache=False)


def _reaches_core(net: RoadNetwork) -> Any:
    core = np.flatnonzero(net.in_core)
    entry = Sources(entry_source=np.zeros(core.size, dtype=np.int64),
                    entry_node=core.astype(np.int64), entry_cost=np.zeros(core.size),
                    n_sources=1)
    time_s, _ = nearest_source(net.graph_to, entry)  # node -> core
    return np.isfinite(time_s)


def _node(net: RoadNetwork, osm_id: int) -> int:
    return int(np.flatnonzero(net.node_osm_id == osm_id)[0])


def _middle_of_segment_at(net: RoadNetwork, node: int) -> tuple[int, Any, Any]:
    """The one segment touching ``node`` and its middle, projected."""
    (segment,) = np.flatnonzero((net.seg_u == node) | (net.seg_v == node))
    u, v = net.seg_u[segment], net.seg_v[segment]
    x, y = net.project(np.array([(net.node_lon[u] + net.node_lon[v]) / 2]),
                       np.array([(net.node_lat[u] + net.node_lat[v]) / 2]))
    return int(segment), x, y


def _networkx_time(net: RoadNetwork, home: Snap, facility: Snap) -> float:
    """Shortest home -> facility time with networkx on the exported graph, entering and
    leaving it where the snaps do."""
    graph = net.to_networkx()
    for _, node, cost in zip(*entry_points(net, home, towards_network=True), strict=True):
        graph.add_edge("home", int(node), travel_time=float(cost))
    for _, node, cost in zip(*entry_points(net, facility, towards_network=False),
                             strict=True):
        graph.add_edge(int(node), "facility", travel_time=float(cost))
    if not nx.has_path(graph, "home", "facility"):
        return float("inf")
    return float(nx.dijkstra_path_length(graph, "home", "facility", weight="travel_time"))


def test_the_cut_has_one_one_way_dead_end_and_one_stub(moroni: RoadNetwork) -> None:
    dead_ends = moroni.node_osm_id[~_reaches_core(moroni)].tolist()
    stubs = moroni.node_osm_id[~moroni.reached_from_core].tolist()
    assert dead_ends == [1018210781]  # the northbound boulevard, clipped at the box's edge
    assert stubs == [1582556982]  # the southbound one, entering from outside the box
    for osm_id in (*dead_ends, *stubs):
        segment, _, _ = _middle_of_segment_at(moroni, _node(moroni, osm_id))
        assert moroni.seg_highway[segment] == "primary"
        assert np.isfinite(moroni.seg_time_fwd_s[segment]) != np.isfinite(
            moroni.seg_time_bwd_s[segment])  # one-way


def _far_core_point(net: RoadNetwork, x: Any, y: Any) -> tuple[Any, Any]:
    """The core node farthest from (x, y), projected."""
    nx_, ny_ = net.project(net.node_lon, net.node_lat)
    far = int(np.argmax(np.where(net.in_core, np.hypot(nx_ - x[0], ny_ - y[0]), -1)))
    return nx_[far:far + 1], ny_[far:far + 1]


def test_a_home_on_the_dead_end_is_moved_and_routed_as_networkx(moroni: RoadNetwork) -> None:
    segment, px, py = _middle_of_segment_at(moroni, _node(moroni, 1018210781))
    fx, fy = _far_core_point(moroni, px, py)
    nearest = snap_points(moroni, px, py)
    assert nearest.segment.tolist() == [segment]
    facility = snap_points(moroni, fx, fy)
    assert _networkx_time(moroni, nearest, facility) == float("inf")  # the dead end
    with pytest.warns(DataQualityWarning, match=r"1 demand point\(s\) whose nearest road "
                                                r"leads to no facility"):
        access = nearest_facility_times(moroni, px, py, fx, fy)
    assert access.moved_points.tolist() == [0]
    assert access.status.tolist() == [REACHED]
    assert access.point_snap.segment[0] != segment
    assert access.point_snap.distance_m[0] < moroni.profile.max_snap_m
    expected = _networkx_time(moroni, access.point_snap, access.facility_snap)
    assert access.time_s[0] == pytest.approx(expected, rel=1e-9)
    with np.errstate(divide="ignore", invalid="ignore"):
        fastest = np.nanmax(np.where(np.isfinite(moroni.seg_time_fwd_s),
                                     moroni.seg_length_m / moroni.seg_time_fwd_s, np.nan))
    crow_flies_m = float(np.hypot(fx[0] - px[0], fy[0] - py[0]))
    assert expected >= crow_flies_m / fastest  # no shortcut through the dead end


def test_a_facility_on_the_stub_is_moved_and_reached_as_networkx(
        moroni: RoadNetwork) -> None:
    segment, fx, fy = _middle_of_segment_at(moroni, _node(moroni, 1582556982))
    px, py = _far_core_point(moroni, fx, fy)
    home = snap_points(moroni, px, py)
    assert _networkx_time(moroni, home, snap_points(moroni, fx, fy)) == float("inf")
    with pytest.warns(DataQualityWarning, match=r"1 facility that no one could reach"):
        access = nearest_facility_times(moroni, px, py, fx, fy)
    assert access.moved_facilities.tolist() == [0]
    assert access.facility_snap.segment[0] != segment
    assert access.status.tolist() == [REACHED]
    expected = _networkx_time(moroni, access.point_snap, access.facility_snap)
    assert access.time_s[0] == pytest.approx(expected, rel=1e-9)
