"""Tests of road networks: formats, speed rules, direction, off-network leg, cache, pieces.

The OSM fixtures are written by hand: nodes on the equator at 45 E (the central meridian
of UTM zone 38, scale 0.9996), so a way between nodes ``KM`` degrees apart is 1 km
long within 0.05 % and times are hand-computable (1 km at 5 km/h = 720 s).
"""

from __future__ import annotations

import itertools
import logging
import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from accessmap.analysis.components import component_report
from accessmap.config import scenario_from_dict
from accessmap.errors import (
    ConfigError,
    DataQualityWarning,
    InputDataError,
    InputFileError,
    NetworkError,
)
from accessmap.inputs.network import load_network, network_from_graph
from accessmap.routing.engine import Sources, nearest_source
from accessmap.routing.modes import SpeedProfile, parse_duration_s, parse_speed_kph, way_speeds_kph
from accessmap.routing.network import RoadNetwork
from accessmap.routing.snapping import entry_costs, entry_points, snap_points
from accessmap.routing.travel_times import OFF_NETWORK, REACHED, nearest_facility_times
from tests.conftest import write_osm

KM = 1000 / 111_319.490793  # degrees of longitude per km on the equator (WGS84)
LAT_KM = 1000 / 110_574.3  # degrees of latitude per km near the equator
REL = 1e-3  # UTM scale 0.9996 at the central meridian


# --------------------------------------------------------------------------- fixtures


def line_nodes(n: int, *, lat: float = 0.0, first_id: int = 1) -> dict[int, tuple[float, float]]:
    """``n`` nodes 1 km apart eastwards from 45 E."""
    return {first_id + i: (45.0 + i * KM, lat) for i in range(n)}


def one_way_file(tmp_path: Path, tags: dict[str, str], name: str = "road.osm") -> Path:
    """A single 1 km way between nodes 1 and 2."""
    return write_osm(tmp_path / name, line_nodes(2), [(10, [1, 2], tags)])


def load(path: Path, mode: str = "walk", **overrides: object) -> RoadNetwork:
    return load_network(path, profile=SpeedProfile.default(mode, **overrides), use_cache=False)


def times_between(net: RoadNetwork, a_osm: int, b_osm: int) -> tuple[float, float]:
    """Shortest time a->b and b->a (by OSM node id) over the network."""
    index = {int(o): i for i, o in enumerate(net.node_osm_id)}
    dist = nearest_source(net.graph_from, Sources.at_nodes([index[a_osm]]))[0]
    back = nearest_source(net.graph_from, Sources.at_nodes([index[b_osm]]))[0]
    return float(dist[index[b_osm]]), float(back[index[a_osm]])


# --------------------------------------------------------------------------- modes, speeds


def test_walk_one_km_residential_takes_720_s_both_ways(tmp_path: Path) -> None:
    net = load(one_way_file(tmp_path, {"highway": "residential", "oneway": "yes"}))
    assert net.seg_length_m[0] == pytest.approx(1000, rel=REL)
    assert times_between(net, 1, 2) == pytest.approx((720, 720), rel=REL)


def test_drive_oneway_blocks_the_other_direction(tmp_path: Path) -> None:
    net = load(one_way_file(tmp_path, {"highway": "residential", "oneway": "yes"}), "drive")
    there, back = times_between(net, 1, 2)
    assert there == pytest.approx(1000 / (25 / 3.6), rel=REL)  # 144 s at 25 km/h
    assert back == math.inf


def test_drive_oneway_minus_one_runs_against_the_node_order(tmp_path: Path) -> None:
    net = load(one_way_file(tmp_path, {"highway": "primary", "oneway": "-1"}), "drive")
    there, back = times_between(net, 1, 2)
    assert there == math.inf
    assert back == pytest.approx(60, rel=REL)  # 1 km at 60 km/h


def test_ferry_duration_tag_plus_boarding_wait(tmp_path: Path) -> None:
    nodes = line_nodes(3)
    path = write_osm(tmp_path / "ferry.osm", nodes,
                     [(10, [1, 2, 3], {"route": "ferry", "duration": "01:30"})])
    net = load(path, "drive")
    assert set(net.seg_highway) == {"ferry"}
    # 90 min crossing + 60 min default wait, spread over the two 1 km segments
    assert times_between(net, 1, 3) == pytest.approx((9000, 9000), rel=REL)


def test_ferry_without_duration_uses_default_speed(tmp_path: Path) -> None:
    path = one_way_file(tmp_path, {"route": "ferry"})
    net = load(path, "walk", ferry_kph=10.0, ferry_wait_min=30.0)
    assert times_between(net, 1, 2)[0] == pytest.approx(360 + 1800, rel=REL)


def test_clipped_ferry_loop_is_skipped_with_a_warning(tmp_path: Path) -> None:
    """A ferry loop clipped to its one landing node (kept twice) used to divide by zero."""
    nodes = line_nodes(2)
    path = write_osm(tmp_path / "ferry.osm", nodes, [
        (10, [1, 2], {"highway": "residential"}),
        (11, [1, 98, 99, 1], {"route": "ferry"}),  # 98, 99 are outside the extract
    ])
    with pytest.warns(DataQualityWarning, match=r"1 of them have fewer than 2 nodes left "
                      r"\(distinct, located\) and are skipped, 1 of them ferries"):
        net = load(path, "walk")
    assert set(net.seg_highway) == {"residential"}


def test_ferry_closed_to_passengers_is_skipped(tmp_path: Path) -> None:
    nodes = line_nodes(3)
    path = write_osm(tmp_path / "f.osm", nodes, [
        (10, [1, 2], {"route": "ferry", "access": "private"}),
        (11, [2, 3], {"highway": "residential"}),
    ])
    assert set(load(path).seg_highway) == {"residential"}


def test_parallel_ways_keep_the_fastest_not_the_sum(tmp_path: Path) -> None:
    path = write_osm(tmp_path / "par.osm", line_nodes(2), [
        (10, [1, 2], {"highway": "residential"}),  # 144 s
        (11, [1, 2], {"highway": "primary"}),  # 60 s
    ])
    net = load(path, "drive")
    assert net.n_segments == 2
    assert times_between(net, 1, 2) == pytest.approx((60, 60), rel=REL)
    assert net.graph_to.nnz == 2
    assert net.graph_to.data == pytest.approx([60, 60], rel=REL)


def test_times_to_facility_differ_from_times_from_it_on_a_oneway(tmp_path: Path) -> None:
    # A -> B one-way primary (1 km, 60 s); B - C - A two-way track (2 km at 15 km/h, 480 s)
    nodes = {1: (45.0, 0.0), 2: (45.0 + KM, 0.0), 3: (45.0 + KM / 2, LAT_KM * math.sqrt(3) / 2)}
    path = write_osm(tmp_path / "tri.osm", nodes, [
        (10, [1, 2], {"highway": "primary", "oneway": "yes"}),
        (11, [2, 3, 1], {"highway": "track"}),
    ])
    net = load(path, "drive", surface_factors={})
    index = {int(o): i for i, o in enumerate(net.node_osm_id)}
    facility = Sources.at_nodes([index[2]])
    to_b = nearest_source(net.graph_to, facility)[0][index[1]]
    from_b = nearest_source(net.graph_from, facility)[0][index[1]]
    assert to_b == pytest.approx(60, rel=REL)
    assert from_b == pytest.approx(480, rel=REL)


@pytest.mark.parametrize(
    ("tags", "mode", "expected"),
    [
        ({"highway": "residential"}, "walk", (5.0, 5.0)),
        ({"highway": "residential", "oneway": "yes"}, "walk", (5.0, 5.0)),
        ({"highway": "residential", "surface": "mud"}, "walk", (5.0, 5.0)),
        ({"highway": "steps"}, "walk", (2.0, 2.0)),
        ({"highway": "motorway"}, "walk", None),
        ({"highway": "footway"}, "drive", None),
        ({"highway": "trunk", "foot": "no"}, "walk", None),
        ({"highway": "service", "access": "no", "foot": "yes"}, "walk", (5.0, 5.0)),
        ({"highway": "service", "access": "private"}, "walk", None),
        ({"highway": "service", "access": "no"}, "drive", None),
        ({"highway": "service", "access": "no", "motor_vehicle": "yes"}, "drive",
         (15.0, 15.0)),
        ({"highway": "primary", "motor_vehicle": "no"}, "drive", None),
        ({"highway": "primary", "motorcar": "no", "motor_vehicle": "yes"}, "drive", None),
        ({"highway": "track", "access": "agricultural"}, "drive", None),
        ({"highway": "primary", "maxspeed": "30"}, "drive", (30.0, 30.0)),
        ({"highway": "primary", "maxspeed": "100"}, "drive", (60.0, 60.0)),
        ({"highway": "primary", "maxspeed": "20 mph"}, "drive", (32.18688, 32.18688)),
        ({"highway": "primary", "maxspeed": "FR:urban"}, "drive", (60.0, 60.0)),
        ({"highway": "primary", "surface": "unpaved"}, "drive", (42.0, 42.0)),
        ({"highway": "track", "tracktype": "grade5", "smoothness": "bad"}, "drive",
         (7.5, 7.5)),
        ({"highway": "primary", "maxspeed": "40", "surface": "gravel"}, "drive",
         (32.0, 32.0)),
        ({"highway": "secondary", "junction": "roundabout"}, "drive", (50.0, 0.0)),
        ({"highway": "motorway"}, "drive", (80.0, 0.0)),
        ({"highway": "motorway", "oneway": "no"}, "drive", (80.0, 80.0)),
        ({"highway": "primary", "oneway": "reversible"}, "drive", None),
        ({"highway": "construction"}, "drive", None),
        ({"highway": "proposed"}, "walk", None),
        ({"highway": "platform"}, "walk", None),
        ({"highway": "bus_stop"}, "walk", None),
        ({"building": "yes"}, "walk", None),
    ],
)
def test_way_speed_rules(tags: dict[str, str], mode: str,
                         expected: tuple[float, float] | None) -> None:
    result = way_speeds_kph(tags, SpeedProfile.default(mode))
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


def test_unknown_class_needs_default_speed_but_construction_never_routes() -> None:
    profile = SpeedProfile.default("drive", default_kph=12.0)
    assert way_speeds_kph({"highway": "busway"}, SpeedProfile.default("drive")) is None
    assert way_speeds_kph({"highway": "busway"}, profile) == (12.0, 12.0)
    assert way_speeds_kph({"highway": "abandoned"}, profile) is None


def test_speed_overrides_merge_into_defaults() -> None:
    profile = SpeedProfile.default("drive", speeds_kph={"track": 10},
                                   surface_factors={"unpaved": 0.5})
    assert profile.speeds_kph["track"] == 10.0
    assert profile.speeds_kph["primary"] == 60.0
    assert way_speeds_kph({"highway": "track", "surface": "unpaved"}, profile) == (5.0, 5.0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("01:30", 5400.0), ("1:30:30", 5430.0), ("45", 2700.0), ("PT1H30M", 5400.0),
     ("PT20M", 1200.0), ("", None), ("soon", None), ("0", None), ("1:2:3:4", None)],
)
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert parse_duration_s(text) == seconds


def test_parse_speed_units() -> None:
    assert parse_speed_kph("50") == 50.0
    assert parse_speed_kph("10 mph") == pytest.approx(16.09344)
    assert parse_speed_kph("none") is None
    assert parse_speed_kph("0") is None


# --------------------------------------------------------------------------- bad settings


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"speeds_kph": {"track": -5}}, "speed for 'track' is -5.*positive"),
        ({"speeds_kph": {"track": 0}}, "speed for 'track' is 0.*positive"),
        ({"speeds_kph": {"track": "fast"}}, "speed for 'track' is 'fast'; give a number"),
        ({"default_kph": 0}, "default_kph is 0"),
        ({"ferry_kph": -1}, "ferry_kph"),
        ({"surface_factors": {"mud": 1.5}}, r"surface factor for 'mud' is 1.5.*\(0, 1\]"),
        ({"detour_factor": 0.5}, "detour_factor is 0.5"),
        ({"ferry_wait_min": -3}, "ferry_wait_min is -3"),
        ({"max_snap_m": 0}, "max_snap_m"),
    ],
)
def test_bad_speed_settings_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SpeedProfile.default("drive", **kwargs)  # type: ignore[arg-type]


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"unknown travel mode 'bike'.*walk, drive"):
        SpeedProfile.default("bike")
    with pytest.raises(ConfigError, match="unknown travel mode 'bike'"):
        load_network("missing.osm.pbf", mode="bike")


def test_scenario_speed_table_is_validated() -> None:
    with pytest.raises(ConfigError, match="speed for 'track' is -1"):
        scenario_from_dict({"speeds": {"track": -1}})
    scenario = scenario_from_dict({"analysis": {"mode": "drive"},
                                   "speeds": {"track": 9, "ferry_wait_min": 10,
                                              "surface_factors": {"sand": 0.3}}})
    profile = scenario.speed_profile()
    assert (profile.speeds_kph["track"], profile.ferry_wait_min) == (9.0, 10)
    assert profile.surface_factors["sand"] == 0.3


# --------------------------------------------------------------------------- formats


def _small_town(tmp_path: Path, name: str) -> Path:
    nodes = line_nodes(4)
    return write_osm(tmp_path / name, nodes, [
        (10, [1, 2, 3], {"highway": "residential"}),
        (11, [3, 4], {"highway": "primary", "oneway": "yes"}),
        (12, [1, 4], {"highway": "footway"}),
    ])


@pytest.mark.parametrize("suffix", [".osm", ".osm.gz", ".osm.bz2", ".osm.pbf"])
def test_every_osm_format_gives_the_same_network(tmp_path: Path, suffix: str) -> None:
    import osmium

    xml = _small_town(tmp_path, "town.osm")
    if suffix == ".osm.pbf":
        path = tmp_path / "town.osm.pbf"
        with osmium.SimpleWriter(str(path)) as writer:
            for obj in osmium.FileProcessor(str(xml)):
                writer.add(obj)
    else:
        path = _small_town(tmp_path, f"town{suffix}")
    for mode in ("walk", "drive"):
        ref, net = load(xml, mode), load(path, mode)
        assert net.n_segments == ref.n_segments
        np.testing.assert_array_equal(net.node_osm_id, ref.node_osm_id)
        np.testing.assert_allclose(net.seg_time_fwd_s, ref.seg_time_fwd_s)
    assert load(path, "walk").n_segments == 4
    assert load(path, "drive").n_segments == 3  # no footway


def test_to_networkx_round_trips_through_osmnx(tmp_path: Path) -> None:
    import osmnx as ox

    net = load(_small_town(tmp_path, "town.osm"), "drive")
    graph = net.to_networkx()
    assert graph.graph["crs"] == "EPSG:4326"
    nodes, edges = ox.convert.graph_to_gdfs(graph)
    assert len(nodes) == net.n_nodes
    assert len(edges) == 2 * 2 + 1  # two two-way residential segments + one oneway
    assert set(edges.columns) >= {"length", "travel_time", "speed_kph", "highway", "oneway"}
    src, dst = 0, net.n_nodes - 1
    route = ox.routing.shortest_path(graph, src, dst, weight="travel_time")
    osmnx_time = sum(
        min(d["travel_time"] for d in graph.get_edge_data(a, b).values())
        for a, b in itertools.pairwise(route)
    )
    ours = nearest_source(net.graph_from, Sources.at_nodes([src]))[0][dst]
    assert osmnx_time == pytest.approx(ours)
    back = network_from_graph(graph, mode="drive", use_travel_time=True)
    np.testing.assert_allclose(np.sort(back.seg_time_fwd_s),
                               np.sort(np.concatenate([net.seg_time_fwd_s,
                                                       net.seg_time_bwd_s]))[:5])
    path = tmp_path / "town.graphml"
    ox.save_graphml(graph, path)
    loaded = load_network(path, mode="drive")
    assert loaded.n_segments == 5
    assert np.isinf(loaded.seg_time_bwd_s).all()  # each directed edge is its own segment
    assert sorted(loaded.seg_time_fwd_s) == pytest.approx(sorted(back.seg_time_fwd_s))


def test_graph_edge_lengths_are_used_not_straight_lines() -> None:
    graph = nx.MultiDiGraph()
    graph.add_node(1, x=45.0, y=0.0)
    graph.add_node(2, x=45.0 + KM, y=0.0)
    graph.add_edge(1, 2, length=1500.0, highway="residential")  # a curved street
    net = network_from_graph(graph, mode="walk")
    assert net.seg_length_m.tolist() == [1500.0]
    assert net.seg_time_fwd_s[0] == pytest.approx(1080)  # 1.5 km at 5 km/h, both ways
    assert net.seg_time_bwd_s[0] == pytest.approx(1080)
    assert net.node_osm_id.tolist() == [1, 2]


# --------------------------------------------------------------------------- bad input


def test_missing_and_unknown_files(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist; check the path"):
        load_network(tmp_path / "nope.osm.pbf")
    odd = tmp_path / "roads.shp"
    odd.write_bytes(b"x")
    with pytest.raises(InputFileError, match=r"roads.shp: unknown road network format"):
        load_network(odd)


def test_corrupt_pbf_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.osm.pbf"
    path.write_bytes(b"this is not a protobuf file at all" * 10)
    with pytest.raises(InputFileError, match=r"bad.osm.pbf: cannot read.*download the extract"):
        load_network(path, use_cache=False)


def test_truncated_pbf_is_reported(tmp_path: Path, comoros_dir: Path) -> None:
    path = tmp_path / "cut.osm.pbf"
    path.write_bytes((comoros_dir / "comores-latest.osm.pbf").read_bytes()[:400_000])
    with pytest.raises(InputFileError, match=r"cut.osm.pbf: cannot read.*truncated or corrupt"):
        load_network(path, use_cache=False)


def test_file_without_routable_ways(tmp_path: Path) -> None:
    path = write_osm(tmp_path / "houses.osm", line_nodes(3), [
        (10, [1, 2, 3, 1], {"building": "yes"}),
        (11, [1, 2], {"highway": "footway"}),
    ])
    assert load(path, "walk").n_segments == 1
    with pytest.raises(NetworkError, match=r"houses.osm: no routable ways for mode 'drive'"):
        load(path, "drive")


def test_graphml_without_lengths(tmp_path: Path) -> None:
    graph = nx.MultiDiGraph()
    graph.add_node(1, x=45.0, y=0.0)
    graph.add_node(2, x=45.01, y=0.0)
    graph.add_edge(1, 2, highway="residential")
    path = tmp_path / "nolength.graphml"
    nx.write_graphml(graph, path)
    with pytest.raises(InputDataError, match=r"nolength.graphml: edge 1->2 has no 'length'"):
        load_network(path)


def test_graphml_bad_file_and_projected_coordinates(tmp_path: Path) -> None:
    path = tmp_path / "broken.graphml"
    path.write_text("<graphml><graph>")
    with pytest.raises(InputFileError, match=r"broken.graphml: not a readable GraphML"):
        load_network(path)
    graph = nx.MultiDiGraph()
    graph.add_node(1, x=500_000.0, y=9_000_000.0)
    with pytest.raises(InputDataError, match="give coordinates in degrees"):
        network_from_graph(graph)
    graph = nx.MultiDiGraph()
    graph.add_node(1, lon=45.0)
    with pytest.raises(InputDataError, match="numeric 'x' and 'y'"):
        network_from_graph(graph)


# --------------------------------------------------------------------------- cache


def test_second_load_uses_the_cache_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _small_town(tmp_path, "town.osm")
    cache = tmp_path / "cache"
    first = load_network(path, mode="drive", cache_dir=cache)
    files = list(cache.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"  # no temporary file left
    with caplog.at_level(logging.INFO, logger="accessmap.inputs.network"):
        second = load_network(path, mode="drive", cache_dir=cache)
    assert "parsing skipped" in caplog.text
    for name in ("node_x", "seg_u", "seg_time_fwd_s", "seg_highway"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    load_network(path, mode="drive", cache_dir=cache, profile=SpeedProfile.default(
        "drive", speeds_kph={"residential": 20}))
    assert len(list(cache.iterdir())) == 2  # the profile is part of the key


@pytest.mark.parametrize("damage", ["garbage", "truncate", "wrong_key"])
def test_unusable_cache_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    path = _small_town(tmp_path, "town.osm")
    cache = tmp_path / "cache"
    good = load_network(path, mode="walk", cache_dir=cache)
    (target,) = cache.iterdir()
    if damage == "garbage":
        target.write_bytes(b"not an npz")
    elif damage == "truncate":
        target.write_bytes(target.read_bytes()[:200])
    else:
        with np.load(target) as data:
            arrays = {k: data[k] for k in data.files}
        arrays["key"] = np.asarray("older-version")
        np.savez(target, **arrays)
    with caplog.at_level(logging.WARNING, logger="accessmap.inputs.network"), pytest.warns(
            DataQualityWarning, match="ignoring unusable network cache"):
        again = load_network(path, mode="walk", cache_dir=cache)
    assert "ignoring unusable network cache" in caplog.text
    np.testing.assert_array_equal(again.seg_time_fwd_s, good.seg_time_fwd_s)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="accessmap.inputs.network"):
        load_network(path, mode="walk", cache_dir=cache)
    assert "parsing skipped" in caplog.text  # the rebuild replaced the bad cache


def test_cache_with_a_wrong_checksum_is_rebuilt(tmp_path: Path) -> None:
    path = _small_town(tmp_path, "town.osm")
    cache = tmp_path / "cache"
    good = load_network(path, mode="walk", cache_dir=cache)
    (target,) = cache.iterdir()
    with np.load(target) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["seg_time_fwd_s"] = arrays["seg_time_fwd_s"] * 2  # consistent shape, wrong content
    np.savez(target, **arrays)
    with pytest.warns(DataQualityWarning, match="does not match its checksum"):
        again = load_network(path, mode="walk", cache_dir=cache)
    np.testing.assert_array_equal(again.seg_time_fwd_s, good.seg_time_fwd_s)


def test_cache_temporaries_of_killed_runs_are_removed(tmp_path: Path) -> None:
    path = _small_town(tmp_path, "town.osm")
    cache = tmp_path / "cache"
    cache.mkdir()
    stale = cache / "network-walk-abc.npz.999999999.tmp.npz"  # no such process
    stale.write_bytes(b"half")
    load_network(path, mode="walk", cache_dir=cache)
    assert not stale.exists()
    assert [p.suffix for p in cache.iterdir()] == [".npz"]


# --------------------------------------------------------------------------- off-network


def test_snap_and_offroad_leg_are_hand_computable(tmp_path: Path) -> None:
    net = load(one_way_file(tmp_path, {"highway": "residential"}))
    x, y = net.project(np.array([45.0 + KM / 2]), np.array([0.1 * LAT_KM]))
    snap = snap_points(net, x, y)
    assert snap.distance_m[0] == pytest.approx(100, rel=5e-3)
    assert snap.fraction[0] == pytest.approx(0.5, abs=1e-3)
    _, node, cost = entry_points(net, snap, towards_network=True)
    offroad = 100 * 1.3 / (5 / 3.6)  # 93.6 s
    assert sorted(node.tolist()) == [0, 1]
    assert cost == pytest.approx([offroad + 360, offroad + 360], rel=5e-3)


def test_one_way_road_is_entered_only_where_the_direction_allows(tmp_path: Path) -> None:
    net = load(one_way_file(tmp_path, {"highway": "residential", "oneway": "yes"}), "drive")
    x, y = net.project(np.array([45.0 + KM / 4]), np.array([0.1 * LAT_KM]))
    snap = snap_points(net, x, y)
    point, cost_u, cost_v = entry_costs(net, snap, towards_network=True)
    offroad = float(net.profile.offroad_seconds(snap.distance_m)[0])
    forward = float(net.seg_time_fwd_s[0])
    assert point.tolist() == [0] and cost_u.tolist() == [math.inf]  # against the one-way
    assert cost_v[0] == pytest.approx(offroad + 0.75 * forward, rel=5e-3)
    _, node, cost = entry_points(net, snap, towards_network=True)
    assert node.tolist() == [int(net.seg_v[0])] and cost.tolist() == cost_v.tolist()
    fx, fy = net.project(np.array([45.0 + KM]), np.array([0.0]))  # facility at the far end
    access = nearest_facility_times(net, x, y, fx, fy)
    assert access.time_s[0] == pytest.approx(cost_v[0], rel=1e-4)  # facility on the node
    assert access.facility.tolist() == [0]


def test_points_beyond_snap_distance_are_off_network(tmp_path: Path) -> None:
    net = load(one_way_file(tmp_path, {"highway": "residential"}), max_snap_m=500.0)
    lat_m = LAT_KM / 1000
    px, py = net.project(np.array([45.0, 45.0]), np.array([200 * lat_m, 800 * lat_m]))
    fx, fy = net.project(np.array([45.0 + KM]), np.array([0.0]))
    access = nearest_facility_times(net, px, py, fx, fy)
    assert access.status.tolist() == [REACHED, OFF_NETWORK]
    assert access.time_s[0] == pytest.approx(200 * 1.3 / (5 / 3.6) + 720, rel=5e-3)
    assert access.time_s[1] == math.inf


def test_absurd_coordinates_are_refused(tmp_path: Path) -> None:
    net = load(one_way_file(tmp_path, {"highway": "residential"}))
    with pytest.raises(InputDataError, match="rows 0 have latitude and longitude swapped"):
        net.project(np.array([0.0]), np.array([45.0 + KM / 2]), what="facilities")
    with pytest.raises(InputDataError, match=r"rows 1 have coordinates outside.*metres"):
        net.project(np.array([45.0, 500_000.0]), np.array([0.0, 100.0]))
    with pytest.raises(InputDataError, match="degrees passed as metres"):
        snap_points(net, np.array([45.0, 45.1]), np.array([0.0, 0.01]))
    far = net.project(np.array([45.0, -120.0]), np.array([0.0, 0.0]))  # one far away
    assert snap_points(net, *far).on_network.tolist() == [True, False]


# --------------------------------------------------------------------------- components


def test_component_report_counts_pieces_and_stranded_people(tmp_path: Path) -> None:
    nodes = {**line_nodes(3), **line_nodes(2, lat=0.5, first_id=11), **line_nodes(2, lat=-0.5,
                                                                                   first_id=21)}
    path = write_osm(tmp_path / "islands.osm", nodes, [
        (1, [1, 2, 3], {"highway": "residential"}),  # main island: 3 nodes
        (2, [11, 12], {"highway": "residential"}),  # north islet
        (3, [21, 22], {"highway": "residential"}),  # south islet
    ])
    net = load(path)
    lon = np.array([45.0 + KM, 45.0 + KM / 2, 45.0 + KM / 2, 47.0])
    lat = np.array([0.0, 0.5, -0.5, 0.0])
    px, py = net.project(lon[:3], lat[:3])
    fx, fy = net.project(np.array([45.0, 45.0]), np.array([0.0, -0.5]))
    access = nearest_facility_times(net, px, py, fx, fy)
    report = component_report(net, access, np.array([10.0, 25.0, 40.0]))
    assert report == {
        "components": 3,
        "largest_share_of_nodes": pytest.approx(3 / 7, abs=1e-4),
        "population_on_pieces_without_facility": 25.0,
        "facilities_on_minor_pieces": 1,
    }


# --------------------------------------------------------------------------- Comoros


@pytest.mark.comoros
def test_comoros_networks_build_and_cache(comoros_dir: Path, tmp_path: Path) -> None:
    pbf = comoros_dir / "comores-latest.osm.pbf"
    drive = load_network(pbf, mode="drive", cache_dir=tmp_path)
    walk = load_network(pbf, mode="walk", cache_dir=tmp_path)
    assert 30_000 < drive.n_nodes < walk.n_nodes
    assert "ferry" in set(drive.seg_highway)
    assert drive.summary()["components"] >= 3  # three islands at least
    cached = load_network(pbf, mode="drive", cache_dir=tmp_path)
    np.testing.assert_array_equal(cached.seg_time_fwd_s, drive.seg_time_fwd_s)
    west, south, east, north = drive.bounds_lonlat()
    assert 42.5 < west < east < 45.7 and -13.1 < south < north < -11.0


def test_pipeline_summary_reports_network_pieces() -> None:
    from accessmap import pipeline
    from accessmap.demo import demo_scenario
    from accessmap.routing.travel_times import NO_ROUTE

    result = pipeline.run(demo_scenario(), write=False)
    pieces = result.summary["network_components"]
    assert pieces["components"] == result.network.summary()["components"]
    assert 0 < pieces["largest_share_of_nodes"] <= 1
    no_route = result.population.population[result.access.status == NO_ROUTE].sum()
    assert 0 <= pieces["population_on_pieces_without_facility"] <= no_route + 0.1
    assert 0 <= pieces["facilities_on_minor_pieces"] <= pieces["components"] * len(
        result.facilities)


def test_facilities_outside_the_extract_are_refused(tmp_path: Path) -> None:
    from accessmap import pipeline
    from accessmap.demo import demo_scenario

    scenario = demo_scenario().replace(exclude={}, new_sites=0)
    west, south, _, _ = load_network(scenario.inputs.network, mode="walk").bounds_lonlat()
    near = tmp_path / "near.geojson"  # 50 km west of the network: inside no snap distance
    far = tmp_path / "far.geojson"  # another continent
    for path, (lon, lat) in ((near, (west - 0.5, south)), (far, (west + 60, south + 40))):
        path.write_text(
            '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
            f'{{"name": "x"}}, "geometry": {{"type": "Point", "coordinates": [{lon}, {lat}]}}}}]}}'
        )
    with pytest.raises(NetworkError, match="does the extract cover the facilities"):
        pipeline.run(scenario.replace(facilities=near), write=False)
    with pytest.raises(InputDataError, match="same place as the road network extract"):
        pipeline.run(scenario.replace(facilities=far), write=False)


def test_swapped_facility_coordinates_name_the_file(tmp_path: Path) -> None:
    from accessmap import pipeline
    from accessmap.demo import demo_scenario

    scenario = demo_scenario().replace(exclude={}, new_sites=0)
    west, south, east, north = load_network(scenario.inputs.network, mode="walk").bounds_lonlat()
    lon, lat = (west + east) / 2, (south + north) / 2
    path = tmp_path / "swapped.geojson"
    path.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
        f'{{"name": "x"}}, "geometry": {{"type": "Point", "coordinates": [{lat}, {lon}]}}}}]}}'
    )
    with pytest.raises(InputDataError, match=r"facilities file .*swapped.geojson: rows 0 have "
                       "latitude and longitude swapped"):
        pipeline.run(scenario.replace(facilities=path), write=False)


def brute_force_snap(net: RoadNetwork, x: np.ndarray, y: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest segment over all segments (ties: lowest index): segment, distance, fraction."""
    import shapely

    points = shapely.points(x, y)
    dist = shapely.distance(points[:, None], net.segment_lines[None, :])
    seg = np.argmin(dist, axis=1)  # first minimum = lowest segment index
    best = dist[np.arange(x.size), seg]
    frac = np.nan_to_num(shapely.line_locate_point(net.segment_lines[seg], points,
                                                   normalized=True), nan=0.0)
    far = best > net.profile.max_snap_m
    return np.where(far, -1, seg), np.where(far, np.inf, best), np.where(far, 0.0, frac)


@pytest.fixture
def snap_paths(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count points settled by the exact fallback of ``snap_points`` (one entry per call)."""
    import accessmap.routing.snapping as network_module

    calls: list[int] = []
    original = network_module._snap_exhaustive

    def spy(net: RoadNetwork, tree: object, tree_seg: np.ndarray, x: np.ndarray,
            y: np.ndarray, idx: np.ndarray, *rest: np.ndarray) -> None:
        calls.append(int(idx.size))
        original(net, tree, tree_seg, x, y, idx, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(network_module, "_snap_exhaustive", spy)
    return calls


def assert_snap_exact(net: RoadNetwork, x: np.ndarray, y: np.ndarray) -> None:
    snap = snap_points(net, x, y)
    seg, dist, frac = brute_force_snap(net, x, y)
    np.testing.assert_array_equal(snap.segment, seg)
    np.testing.assert_array_equal(snap.distance_m, dist)
    np.testing.assert_allclose(snap.fraction, frac, rtol=0, atol=1e-12)


def network_on_grid(tmp_path: Path, x: np.ndarray, y: np.ndarray, u: np.ndarray,
                    v: np.ndarray, max_snap_m: float) -> RoadNetwork:
    """A network with nodes at exact projected coordinates (offsets in metres)."""
    import dataclasses

    base = load(write_osm(tmp_path / "base.osm", {1: (33.0, -13.8), 2: (33.001, -13.8)},
                          [(100, [1, 2], {"highway": "residential"})]), max_snap_m=max_snap_m)
    x0, y0 = np.floor(base.node_x[0]), np.floor(base.node_y[0])
    n, m = x.size, u.size
    length = np.hypot(x[u] - x[v], y[u] - y[v])
    return dataclasses.replace(
        base, node_osm_id=np.arange(1, n + 1), node_x=x0 + x, node_y=y0 + y,
        node_lon=np.full(n, 33.0), node_lat=np.full(n, -13.8), seg_u=u, seg_v=v,
        seg_length_m=length, seg_time_fwd_s=length, seg_time_bwd_s=length,
        seg_highway=np.full(m, "residential"))


@pytest.mark.parametrize("seed", range(8))
def test_snap_matches_brute_force_nearest_segment(tmp_path: Path, seed: int,
                                                  snap_paths: list[int]) -> None:
    rng = np.random.default_rng(seed)
    nodes = {i + 1: (33.0 + rng.uniform(0, 0.05), -13.8 + rng.uniform(0, 0.05))
             for i in range(40)}
    ways = [(100 + i, [int(a), int(b)], {"highway": "residential"})
            for i, (a, b) in enumerate(rng.integers(1, 41, size=(60, 2))) if a != b]
    net = load(write_osm(tmp_path / "random.osm", nodes, ways), max_snap_m=2000.0)
    x = rng.uniform(net.node_x.min() - 3000, net.node_x.max() + 3000, 500)
    y = rng.uniform(net.node_y.min() - 3000, net.node_y.max() + 3000, 500)
    # Points exactly on nodes and on segments (midpoints, quarter points).
    t = rng.choice([0.25, 0.5, 0.75], net.n_segments)
    on_x = net.node_x[net.seg_u] + t * (net.node_x[net.seg_v] - net.node_x[net.seg_u])
    on_y = net.node_y[net.seg_u] + t * (net.node_y[net.seg_v] - net.node_y[net.seg_u])
    x = np.concatenate([x, net.node_x, on_x])
    y = np.concatenate([y, net.node_y, on_y])
    assert_snap_exact(net, x, y)


@pytest.mark.parametrize("seed", range(6))
def test_snap_exact_on_dense_networks_uses_both_paths(tmp_path: Path, seed: int,
                                                      snap_paths: list[int]) -> None:
    rng = np.random.default_rng(100 + seed)
    nodes = {i + 1: (33.0 + rng.uniform(0, 0.01), -13.8 + rng.uniform(0, 0.01))
             for i in range(200)}
    ways = [(100 + i, [int(a), int(b)], {"highway": "residential"})
            for i, (a, b) in enumerate(rng.integers(1, 201, size=(400, 2))) if a != b]
    # Short segments (a few metres) among the long ones.
    ways += [(1000 + i, [i + 1, int(rng.integers(1, 201))], {"highway": "residential"})
             for i in range(0, 200, 7)]
    net = load(write_osm(tmp_path / "dense.osm", nodes, ways), max_snap_m=300.0)
    x = rng.uniform(net.node_x.min() - 600, net.node_x.max() + 600, 3000)
    y = rng.uniform(net.node_y.min() - 600, net.node_y.max() + 600, 3000)
    x = np.concatenate([x, net.node_x])
    y = np.concatenate([y, net.node_y])
    assert_snap_exact(net, x, y)
    assert len(snap_paths) == 1 and 0 < snap_paths[0] < x.size  # fast path and fallback


def test_snap_exact_with_ties_overlaps_and_zero_length_segments(
    tmp_path: Path, snap_paths: list[int]
) -> None:
    # 6 x 6 lattice, 100 m apart: cell centres are equidistant from four segments.
    gx, gy = np.meshgrid(np.arange(6) * 100.0, np.arange(6) * 100.0)
    nx_, ny_ = gx.ravel(), gy.ravel()
    node = np.arange(36).reshape(6, 6)
    u = np.concatenate([node[:, :-1].ravel(), node[:-1, :].ravel()])
    v = np.concatenate([node[:, 1:].ravel(), node[1:, :].ravel()])
    # Reversed duplicates and a collinear overlapping segment (ties at distance 0)...
    u, v = np.concatenate([u, v[::5], [0]]), np.concatenate([v, u[::5], [2]])
    # ...and zero-length segments: two nodes at one spot, joined both ways and to itself.
    nx_, ny_ = np.append(nx_, [900.0, 900.0]), np.append(ny_, [900.0, 900.0])
    u, v = np.append(u, [36, 37, 36]), np.append(v, [37, 36, 36])
    order = np.random.default_rng(7).permutation(u.size)  # ties by index, not position
    net = network_on_grid(tmp_path, nx_, ny_, u[order], v[order], max_snap_m=120.0)
    x0, y0 = net.node_x[0], net.node_y[0]
    cx, cy = np.meshgrid(np.arange(-3, 9) * 50.0, np.arange(-3, 9) * 50.0)
    rng = np.random.default_rng(3)
    px = np.concatenate([cx.ravel(), rng.integers(-200, 700, 2000).astype(float),
                         rng.uniform(-200, 700, 2000), [900.0, 903.0, 850.0, 1000.0]])
    py = np.concatenate([cy.ravel(), rng.integers(-200, 700, 2000).astype(float),
                         rng.uniform(-200, 700, 2000), [900.0, 900.0, 850.0, 900.0]])
    assert_snap_exact(net, x0 + px, y0 + py)
    assert len(snap_paths) == 1 and 0 < snap_paths[0] < px.size
    # A point 3 m from the zero-length segments snaps to the lowest-index one, fraction 0.
    snap = snap_points(net, np.array([net.node_x[36] + 3.0]), np.array([net.node_y[36]]))
    assert snap.segment[0] == np.flatnonzero(net.seg_u >= 36).min()
    assert snap.distance_m[0] == 3.0 and snap.fraction[0] == 0.0


def test_nodes_are_numbered_along_a_z_order_curve() -> None:
    """A 4 x 4 grid given row by row comes out in Z order; ties keep their input order."""
    from accessmap.inputs.network import _spatial_order

    col, row = np.meshgrid(np.arange(4.0), np.arange(4.0))
    order = _spatial_order(col.ravel() * 100, row.ravel() * 100)
    assert order.tolist() == [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]
    same = _spatial_order(np.zeros(3), np.zeros(3))
    assert same.tolist() == [0, 1, 2]
    assert _spatial_order(np.zeros(0), np.zeros(0)).size == 0


def test_snap_to_a_subset_of_segments_is_exact(tmp_path: Path) -> None:
    """``snap_points(segments=...)`` equals the brute force over the allowed segments."""
    gx, gy = np.meshgrid(np.arange(6) * 100.0, np.arange(6) * 100.0)
    node = np.arange(36).reshape(6, 6)
    u = np.concatenate([node[:, :-1].ravel(), node[:-1, :].ravel()])
    v = np.concatenate([node[:, 1:].ravel(), node[1:, :].ravel()])
    net = network_on_grid(tmp_path, gx.ravel(), gy.ravel(), u, v, max_snap_m=150.0)
    allowed = np.random.default_rng(5).random(net.n_segments) < 0.3
    rng = np.random.default_rng(11)
    px = net.node_x[0] + rng.uniform(-200, 700, 1500)
    py = net.node_y[0] + rng.uniform(-200, 700, 1500)
    snap = snap_points(net, px, py, segments=allowed)
    import shapely

    dist = shapely.distance(shapely.points(px, py)[:, None],
                            net.segment_lines[None, :])
    dist[:, ~allowed] = np.inf
    seg = np.argmin(dist, axis=1)
    best = dist[np.arange(px.size), seg]
    far = best > net.profile.max_snap_m
    np.testing.assert_array_equal(snap.segment, np.where(far, -1, seg))
    np.testing.assert_allclose(snap.distance_m[~far], best[~far], rtol=0, atol=1e-9)
    assert np.all(allowed[snap.segment[snap.on_network]])
    none = snap_points(net, px[:3], py[:3], segments=np.zeros(net.n_segments, dtype=bool))
    assert not none.on_network.any()
