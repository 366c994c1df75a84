"""The ``walk+drive`` mode: the layered graph against networkx, hand cases, real runs."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from click.testing import CliRunner
from numpy.typing import NDArray

from accessmap.cli import _retitled, main
from accessmap.config import Scenario
from accessmap.errors import ConfigError, DataQualityWarning, InputDataError
from accessmap.inputs.facilities import load_facilities
from accessmap.inputs.network import load_network
from accessmap.inputs.population import load_population
from accessmap.routing.engine import Sources, nearest_source
from accessmap.routing.modes import MODES, SpeedProfile, TravelMode
from accessmap.routing.multimodal import (
    TransferPoints,
    layered_graph_to,
    shared_transfer_points,
    stop_transfer_points,
    walk_drive_times,
)
from accessmap.routing.network import RoadNetwork
from accessmap.routing.travel_times import nearest_facility_times
from tests.conftest import write_osm

K = 1 / 111.32  # degrees per km on the equator (both axes, near enough for fixtures)


# --------------------------------------------------------------------------- random graphs


def _random_network(rng: np.random.Generator, mode: str, osm_ids: NDArray[np.int64],
                    n_segments: int, *, one_way_share: float, top_s: int) -> RoadNetwork:
    """A network of random segments with whole-second times (sums are exact)."""
    n = osm_ids.size
    u = rng.integers(0, n, n_segments)
    v = rng.integers(0, n, n_segments)
    fwd = rng.integers(0, top_s, n_segments).astype(float)
    bwd = rng.integers(0, top_s, n_segments).astype(float)
    bwd[rng.random(n_segments) < one_way_share] = np.inf
    x = rng.random(n) * 1000
    return RoadNetwork(
        mode=mode, crs="EPSG:32638", node_osm_id=osm_ids.astype(np.int64), node_x=x,
        node_y=rng.random(n) * 1000, node_lon=45 + x / 1e5, node_lat=np.zeros(n),
        seg_u=u.astype(np.int64), seg_v=v.astype(np.int64),
        seg_length_m=np.ones(n_segments), seg_time_fwd_s=fwd, seg_time_bwd_s=bwd,
        seg_highway=np.full(n_segments, "road"), seg_way_id=np.full(n_segments, -1),
        profile=SpeedProfile.default(mode))


def _random_case(seed: int) -> tuple[RoadNetwork, RoadNetwork, TransferPoints, float, Sources]:
    rng = np.random.default_rng(seed)
    n_walk, n_drive = int(rng.integers(3, 25)), int(rng.integers(2, 20))
    walk_ids = rng.choice(40, n_walk, replace=False)
    drive_ids = rng.choice(40, n_drive, replace=False)  # some shared with walk, some not
    walk = _random_network(rng, "walk+drive", walk_ids, int(rng.integers(2, 3 * n_walk)),
                           one_way_share=0.0, top_s=60)
    drive = _random_network(rng, "drive", drive_ids, int(rng.integers(1, 3 * n_drive)),
                            one_way_share=0.4, top_s=10)
    shared = shared_transfer_points(walk, drive)
    pick = rng.random(shared.size) < 0.6
    transfer = TransferPoints(shared.walk_node[pick], shared.drive_node[pick])
    n_fac = int(rng.integers(1, 4))
    n_entries = int(rng.integers(1, 7))
    layer_drive = rng.random(n_entries) < 0.5
    node = np.where(layer_drive, n_walk + rng.integers(0, n_drive, n_entries),
                    rng.integers(0, n_walk, n_entries))
    sources = Sources(entry_source=rng.integers(0, n_fac, n_entries),
                      entry_node=node.astype(np.int64),
                      entry_cost=rng.integers(0, 30, n_entries).astype(float), n_sources=n_fac)
    return walk, drive, transfer, float(rng.integers(0, 60)), sources


def _networkx_times(walk: RoadNetwork, drive: RoadNetwork, transfer: TransferPoints,
                    transfer_s: float, sources: Sources) -> list[float]:
    """Time from every walking node to the nearest source, by networkx on a hand-built
    layered graph in travel direction (independent of ``layered_graph_to``)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(("w", i) for i in range(walk.n_nodes))

    def add(a: object, b: object, t: float) -> None:
        if math.isfinite(t) and (not graph.has_edge(a, b) or graph[a][b]["t"] > t) and a != b:
            graph.add_edge(a, b, t=t)

    for layer, net in (("w", walk), ("d", drive)):
        for u, v, f, b in zip(net.seg_u, net.seg_v, net.seg_time_fwd_s, net.seg_time_bwd_s,
                              strict=True):
            add((layer, int(u)), (layer, int(v)), float(f))
            add((layer, int(v)), (layer, int(u)), float(b))
    for w, d in zip(transfer.walk_node, transfer.drive_node, strict=True):
        add(("w", int(w)), ("d", int(d)), transfer_s)
    for node, cost in zip(sources.entry_node, sources.entry_cost, strict=True):
        where = ("w", int(node)) if node < walk.n_nodes else ("d", int(node) - walk.n_nodes)
        add(where, "facility", float(cost))
    if "facility" not in graph:
        return [math.inf] * walk.n_nodes
    lengths = nx.single_source_dijkstra_path_length(graph.reverse(), "facility", weight="t")
    return [lengths.get(("w", i), math.inf) for i in range(walk.n_nodes)]


@pytest.mark.parametrize("seed", range(40))
def test_layered_times_equal_networkx(seed: int) -> None:
    walk, drive, transfer, transfer_s, sources = _random_case(seed)
    graph = layered_graph_to(walk, drive, transfer, transfer_s)
    time_s, _ = nearest_source(graph, sources)
    assert time_s[:walk.n_nodes].tolist() == _networkx_times(walk, drive, transfer,
                                                             transfer_s, sources)


@pytest.mark.parametrize("seed", range(40))
def test_walking_is_never_beaten_by_a_longer_transfer(seed: int) -> None:
    walk, drive, transfer, transfer_s, sources = _random_case(seed)
    on_walk = sources.entry_node < walk.n_nodes
    walk_only = Sources(sources.entry_source[on_walk], sources.entry_node[on_walk],
                        sources.entry_cost[on_walk], sources.n_sources)
    walked, _ = nearest_source(walk.graph_to, walk_only)
    mixed, _ = nearest_source(layered_graph_to(walk, drive, transfer, transfer_s), sources)
    mixed = mixed[:walk.n_nodes]
    assert np.all(mixed <= walked)
    # A trip with a transfer takes at least the wait: it cannot beat a shorter walk.
    short = walked <= transfer_s
    assert np.array_equal(mixed[short], walked[short])
    # With a wait longer than any trip, the vehicle never helps.
    never, _ = nearest_source(layered_graph_to(walk, drive, transfer, 1e9), sources)
    assert np.array_equal(never[:walk.n_nodes][np.isfinite(walked)], walked[np.isfinite(walked)])


# --------------------------------------------------------------------------- hand cases
# A home at node 1, a footway 1-2 (1 km, walking only), a primary road 2-4-3 (2 km + 8 km)
# to the clinic at node 3.  Walking is 5 km/h, driving a primary 60 km/h.


def _line_world(tmp_path: Path, road: dict[str, str], *, reverse: bool = False
                ) -> tuple[RoadNetwork, RoadNetwork]:
    nodes = {1: (45.0, 0.0), 2: (45.0 + K, 0.0), 4: (45.0 + 3 * K, 0.0),
             3: (45.0 + 11 * K, 0.0)}
    refs = [3, 4, 2] if reverse else [2, 4, 3]
    path = write_osm(tmp_path / "line.osm", nodes,
                     [(1, [1, 2], {"highway": "footway"}),
                      (2, refs, {"highway": "primary", **road})])
    return (load_network(path, mode="walk+drive", use_cache=False),
            load_network(path, mode="drive", use_cache=False))


def _node(net: RoadNetwork, osm_id: int) -> int:
    return int(np.flatnonzero(net.node_osm_id == osm_id)[0])


def _length_m(net: RoadNetwork, a: int, b: int) -> float:
    """Length of the segments between OSM nodes a and b (along the line)."""
    xa, xb = net.node_x[_node(net, a)], net.node_x[_node(net, b)]
    lo, hi = min(xa, xb), max(xa, xb)
    mid = (net.node_x[net.seg_u] + net.node_x[net.seg_v]) / 2
    return float(net.seg_length_m[(mid > lo) & (mid < hi)].sum())


def _home_to_clinic(walk: RoadNetwork, drive: RoadNetwork, **kw: object) -> float:
    home, clinic = _node(walk, 1), _node(walk, 3)
    access = walk_drive_times(
        walk, drive, walk.node_x[[home]], walk.node_y[[home]], walk.node_lon[[clinic]],
        walk.node_lat[[clinic]], **kw)  # type: ignore[arg-type]
    return float(access.time_s[0])


def test_walk_then_ride_by_hand(tmp_path: Path) -> None:
    walk, drive = _line_world(tmp_path, {})
    walk_s = (_length_m(walk, 1, 2) + _length_m(walk, 2, 3)) / (5 / 3.6)
    ride_s = _length_m(walk, 1, 2) / (5 / 3.6) + 600 + _length_m(drive, 2, 3) / (60 / 3.6)
    assert _home_to_clinic(walk, drive, transfer_s=600.0) == pytest.approx(ride_s, rel=1e-9)
    # A wait longer than the time the ride saves: the patient walks the whole way.
    long_wait = walk_s - ride_s + 600 + 60
    assert _home_to_clinic(walk, drive, transfer_s=long_wait) == pytest.approx(walk_s,
                                                                                rel=1e-9)


def test_a_one_way_road_is_ridden_only_its_way(tmp_path: Path) -> None:
    walk, drive = _line_world(tmp_path, {"oneway": "yes"}, reverse=True)  # 3 -> 4 -> 2 only
    walk_s = (_length_m(walk, 1, 2) + _length_m(walk, 2, 3)) / (5 / 3.6)
    assert _home_to_clinic(walk, drive, transfer_s=600.0) == pytest.approx(walk_s, rel=1e-9)


def test_transfer_stops_restrict_where_the_change_happens(tmp_path: Path) -> None:
    walk, drive = _line_world(tmp_path, {})
    stop = _node(walk, 4)  # the rank is 3 km down the road, not at the footway's end
    with pytest.warns(DataQualityWarning, match=r"1 stop\(s\) \(rows 2\)"):
        points = stop_transfer_points(walk, drive, np.array([walk.node_lon[stop], 46.0]),
                                      np.array([walk.node_lat[stop] + 0.001, 0.0]),
                                      max_distance_m=500.0, source="ranks.csv")
    assert walk.node_osm_id[points.walk_node].tolist() == [4]
    assert drive.node_osm_id[points.drive_node].tolist() == [4]
    expected = (_length_m(walk, 1, 2) + _length_m(walk, 2, 4)) / (5 / 3.6) + 600 \
        + _length_m(drive, 4, 3) / (60 / 3.6)
    got = _home_to_clinic(walk, drive, transfer_s=600.0, transfer=points)
    assert got == pytest.approx(expected, rel=1e-9)
    assert got > _home_to_clinic(walk, drive, transfer_s=600.0)  # changing at 2 is faster


def test_stops_that_snap_nowhere_or_none_are_refused(tmp_path: Path) -> None:
    walk, drive = _line_world(tmp_path, {})
    with pytest.raises(InputDataError, match=r"^ranks.csv holds no stops"):
        stop_transfer_points(walk, drive, np.zeros(0), np.zeros(0), max_distance_m=500.0,
                             source="ranks.csv")
    with pytest.raises(InputDataError, match=r"none of the 1 stops is within 500 m"):
        stop_transfer_points(walk, drive, np.array([45.0]), np.array([0.05]),
                             max_distance_m=500.0, source="ranks.csv")


# --------------------------------------------------------------------------- settings, CLI


def test_mode_and_transfer_settings() -> None:
    assert "walk+drive" in MODES
    scenario = Scenario(analysis={"mode": "walk+drive"})
    assert scenario.transfer.transfer_min == 10.0 and scenario.transfer.transfer_s == 600.0
    assert scenario.speed_profile().mode == "walk+drive"
    assert scenario.replace(transfer_min=5).transfer.transfer_min == 5.0
    with pytest.raises(ConfigError, match=r"transfer.transfer_min is -1.0; it must be >= 0"):
        Scenario(transfer={"transfer_min": -1})
    with pytest.raises(ConfigError, match=r"transfer.max_stop_distance_m"):
        Scenario(transfer={"max_stop_distance_m": 0})
    with pytest.raises(ConfigError, match=r"one '\+' for a mixed mode"):
        TravelMode("walk+bus+boat", access_keys=("foot",), speeds_kph={"path": 4.0})
    # Titles follow the mode: "walking" becomes "walking then riding".
    base = Scenario(title="Comoros: walking access")
    assert _retitled(base.replace(mode="walk+drive"), base, explicit=False).title == \
        "Comoros: walking then riding access"


def _tiny_cli(world: dict[str, Path], *extra: str) -> tuple[int, str]:
    out = world["dir"] / "out"
    result = CliRunner().invoke(main, [
        "run", "--network", str(world["network"]), "--population", str(world["population"]),
        "--facilities", str(world["facilities"]), "--mode", "walk+drive", "--new-sites", "0",
        "--out", str(out), "--overwrite", *extra])
    return result.exit_code, result.output


@pytest.mark.parametrize("stops, message", [
    ("missing.geojson", r"transfer stops file .*missing.geojson does not exist"),
    ("empty.geojson", r"transfer stops file .*empty.geojson holds no stops"),
    ("far.geojson", r"none of the 1 stops is within 500 m of both"),
    ("area.geojson", r"transfer stops file .*area.geojson row 1 is a Polygon; give points"),
])
def test_cli_bad_stops_files_give_one_line(tiny_world: dict[str, Path], stops: str,
                                           message: str) -> None:
    folder = tiny_world["dir"]
    features = {"empty.geojson": [], "far.geojson": [
        {"type": "Feature", "properties": {},
         "geometry": {"type": "Point", "coordinates": [33.0, -13.9]}}], "area.geojson": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [
            [[33.0, -13.8], [33.01, -13.8], [33.01, -13.79], [33.0, -13.8]]]}}]}
    for name, rows in features.items():
        (folder / name).write_text(json.dumps({"type": "FeatureCollection",
                                               "features": rows}))
    code, output = _tiny_cli(tiny_world, "--set", f"transfer.transfer_stops={folder / stops}")
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 1 and "Traceback" not in output
    assert len(lines) == 1 and re.search(message, lines[0]), output


def test_cli_walk_drive_run_on_the_tiny_world(tiny_world: dict[str, Path]) -> None:
    code, output = _tiny_cli(tiny_world)
    assert code == 0, output
    summary = json.loads((tiny_world["dir"] / "out" / "summary.json").read_text())
    assert summary["network"]["mode"] == "walk+drive"
    assert summary["run"]["settings"]["transfer"]["transfer_min"] == 10.0


# --------------------------------------------------------------------------- real data


def _walk_vs_mixed(network: Path, population: Path, facilities: Path,
                   exclude: dict[str, tuple[str, ...]] | None = None) -> None:
    """walk+drive times are <= walking everywhere and >= the drive-from-the-road bound."""
    walk = load_network(network, mode="walk+drive")
    drive = load_network(network, mode="drive")
    from accessmap.routing.network import padded_bounds_lonlat

    people = load_population(population, bounds_lonlat=padded_bounds_lonlat(
        walk, walk.profile.max_snap_m))
    fac = load_facilities(facilities, exclude=exclude)
    lon, lat = fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy()
    px, py = walk.project(people.lon, people.lat)
    fx, fy = walk.project(lon, lat)
    walked = nearest_facility_times(walk, px, py, fx, fy).time_s
    mixed = walk_drive_times(walk, drive, px, py, lon, lat, transfer_s=600.0).time_s
    assert np.all(mixed <= walked)
    assert np.array_equal(np.isfinite(mixed), np.isfinite(walked))
    assert (mixed < walked).mean() > 0.2  # the vehicle helps many people
    # No trip with a transfer beats the wait plus the straight line to the nearest
    # facility at the top vehicle speed (1% slack for the projection's scale).
    top = max(SpeedProfile.default("drive").speeds_kph.values()) / 3.6
    straight_m, _ = _nearest_distance(px, py, fx, fy)
    bound = np.minimum(walked, 600.0 + straight_m / top * 0.99)
    assert np.all(mixed >= bound)
    # The walking layer is the walking network: same ways, same speeds.
    walking = load_network(network, mode="walk")
    assert np.array_equal(walking.seg_time_fwd_s, walk.seg_time_fwd_s)


def _nearest_distance(px: NDArray[np.float64], py: NDArray[np.float64],
                      fx: NDArray[np.float64], fy: NDArray[np.float64]
                      ) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    import scipy.spatial

    distance, index = scipy.spatial.cKDTree(np.column_stack([fx, fy])).query(
        np.column_stack([px, py]))
    return np.asarray(distance), np.asarray(index)


def test_demo_walk_drive_bounds() -> None:
    from accessmap.demo import demo_scenario

    inputs = demo_scenario().inputs
    assert inputs.network and inputs.population and inputs.facilities
    _walk_vs_mixed(inputs.network, inputs.population, inputs.facilities)


@pytest.mark.comoros
@pytest.mark.slow
def test_comoros_walk_drive_bounds(comoros_dir: Path) -> None:
    _walk_vs_mixed(comoros_dir / "comores-latest.osm.pbf",
                   comoros_dir / "com_ppp_2020_UNadj.tif", comoros_dir / "health.gpkg",
                   exclude={"amenity": ("pharmacy",)})


def test_demo_run_walk_drive_catchments_and_siting() -> None:
    from accessmap.demo import demo_scenario
    from accessmap.pipeline import run
    from accessmap.routing.travel_times import facility_point_times

    scenario = demo_scenario().replace(mode="walk+drive", new_sites=3)
    result = run(scenario, write=False)
    access = result.access
    assert access.search_graph is not None
    # Catchments and 2SFCA search the layered graph: each point's best facility time
    # within the limit is its walk+drive time (a walking search would be slower).
    limit = 3600.0
    stored = facility_point_times(result.network, access, limit)
    best = np.full(access.time_s.size, np.inf)
    for row in range(stored.shape[0]):
        cols = stored.indices[stored.indptr[row]:stored.indptr[row + 1]]
        vals = stored.data[stored.indptr[row]:stored.indptr[row + 1]]
        np.minimum.at(best, cols, vals)
    near = access.time_s <= limit
    assert np.all(best[near] >= access.time_s[near] - 1e-6)
    assert np.mean(np.isclose(best[near], access.time_s[near])) > 0.95
    # New sites only add coverage; mobile circuits are driven on the drive layer.
    before = result.coverage["share"].to_numpy()
    after = result.coverage_with_new_sites["share"].to_numpy()
    assert np.all(after >= before - 1e-12) and after[1] > before[1]
    assert len(result.sites) == 3


def test_cli_walk_drive_with_a_stops_file(tiny_world: dict[str, Path]) -> None:
    from tests.conftest import KM_LON, TINY_LAT, TINY_LON0

    stops = tiny_world["dir"] / "ranks.csv"
    stops.write_text(f"name,lon,lat\nrank,{TINY_LON0 + 2 * KM_LON},{TINY_LAT}\n")
    code, output = _tiny_cli(tiny_world, "--set", f"transfer.transfer_stops={stops}")
    assert code == 0, output


def test_demo_walk_drive_over_land_cover_never_slower_than_walking_over_it() -> None:
    """The two issue-15 models combine: the walk to the road over land cover and slope,
    then walking or riding; riding is a choice, so no demand point gets slower."""
    from accessmap.demo import demo_scenario
    from accessmap.pipeline import run

    demo = demo_scenario()
    folder = demo.inputs.network.parent if demo.inputs.network else Path(".")
    terrain = {"landcover": folder / "landcover.tif", "dem": folder / "dem.tif"}
    walked = run(demo.replace(new_sites=0, **terrain), write=False).access
    mixed = run(demo.replace(mode="walk+drive", new_sites=0, **terrain), write=False).access
    reached = np.isfinite(walked.time_s)
    assert np.all(np.isfinite(mixed.time_s[reached]))
    assert np.all(mixed.time_s[reached] <= walked.time_s[reached] + 1e-6)
    assert np.mean(mixed.time_s[reached] < walked.time_s[reached] - 1.0) > 0.2
