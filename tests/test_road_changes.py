"""Road changes and named speed profiles (issue 12): closures, slowed roads, seasons.

Hand-computed cases on a three-way road (1 km segments walked at 5 km/h: 12 min each),
property tests on random networks against networkx, and the Comoros coast.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pyproj
import pytest
import shapely
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from accessmap import ConfigError, DataQualityWarning, InputDataError
from accessmap.cli import main
from accessmap.config import Scenario, load_scenario
from accessmap.pipeline import run
from accessmap.routing.closures import RoadChanges, change_roads
from accessmap.routing.engine import Sources, nearest_source
from accessmap.routing.modes import SpeedProfile, way_speeds_kph
from accessmap.routing.network import RoadNetwork
from accessmap.routing.travel_times import NO_ROUTE, OFF_NETWORK, nearest_facility_times
from tests.conftest import KM_LON, TINY_LAT, TINY_LON0, write_osm, write_raster

# --------------------------------------------------------------------------- a small world
# Nodes 1-4 every km along one road, made of three ways: 10 (1-2), 20 (2-3, a bridge) and
# 30 (3-4).  People 100/200/300/400 on the nodes, 1000 about 2.05 km north of node 4; one
# clinic on node 1.


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    nodes = {i + 1: (TINY_LON0 + i * KM_LON, TINY_LAT) for i in range(4)}
    road = {"highway": "residential"}
    network = write_osm(tmp_path / "roads.osm", nodes, [
        (10, [1, 2], road), (20, [2, 3], {**road, "bridge": "yes"}), (30, [3, 4], road)])
    size = KM_LON
    population = write_raster(
        tmp_path / "population.tif", [[0, 0, 0, 1000], [0, 0, 0, 0], [100, 200, 300, 400]],
        west=TINY_LON0 - size / 2, north=TINY_LAT + 2.5 * size, size_deg=size)
    facilities = tmp_path / "facilities.geojson"
    facilities.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "West clinic"},
         "geometry": {"type": "Point", "coordinates": [TINY_LON0, TINY_LAT]}}]}))
    return {"network": network, "population": population, "facilities": facilities,
            "dir": tmp_path}


def polygons(path: Path, boxes: list[tuple[float, float, float, float]],
             factors: list[float] | None = None) -> Path:
    """A GeoJSON file of lon/lat boxes (west, south, east, north), with a factor each."""
    features = [{"type": "Feature",
                 "properties": {} if factors is None else {"factor": factors[i]},
                 "geometry": shapely.geometry.mapping(shapely.box(*box))}
                for i, box in enumerate(boxes)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def around_km(km: float, half_km: float = 0.1) -> tuple[float, float, float, float]:
    """A small box around the road at ``km`` from node 1."""
    lon = TINY_LON0 + km * KM_LON
    return (lon - half_km * KM_LON, TINY_LAT - 0.001, lon + half_km * KM_LON, TINY_LAT + 0.001)


def scenario(world: dict[str, Path], out: str = "out", **roads: Any) -> Scenario:
    return Scenario(inputs={"network": world["network"], "population": world["population"],
                            "facilities": world["facilities"]},
                    analysis={"thresholds_min": [15, 30, 45]}, siting={"new_sites": 0},
                    roads=roads, output={"out": world["dir"] / out})


def minutes_by_people(result: Any) -> dict[float, float]:
    pop = result.population.population
    return dict(zip(pop.tolist(), (result.access.time_s / 60).tolist(), strict=True))


# --------------------------------------------------------------------------- closures


def test_closed_bridge_cuts_off_the_east_as_no_route(world: dict[str, Path]) -> None:
    result = run(scenario(world, closed_ways=[20]))
    times = minutes_by_people(result)
    assert times[100] == pytest.approx(0, abs=0.01) and times[200] == pytest.approx(12, rel=0.01)
    for people in (300, 400, 1000):  # east of the bridge: no route, never a number
        assert np.isinf(times[people])
    status = dict(zip(result.population.population.tolist(), result.access.status.tolist(),
                      strict=True))
    assert status[300] == status[400] == status[1000] == NO_ROUTE
    report = result.summary["road_changes"]
    assert report["segments_closed"] == 1 and report["closed_ways"] == [20]
    assert report["closed_km"] == pytest.approx(1.0, rel=0.01)
    assert report["population_lost_route"] == pytest.approx(1700)
    assert report["facilities_lost_road"] == []
    # coverage on the unchanged road, by hand: 12, 24, 36 min along it
    unchanged = {row["threshold_min"]: row["population"] for row in report["coverage_unchanged"]}
    assert unchanged == {15.0: 300.0, 30.0: 600.0, 45.0: 1000.0}
    coverage = {row["threshold_min"]: row["population"] for row in result.summary["coverage"]}
    assert coverage == {15.0: 300.0, 30.0: 300.0, 45.0: 300.0}
    out = result.out_dir
    assert out is not None
    text = (out / "coverage.csv").read_text()
    assert "inf" not in text and "-1" not in text and "9999" not in text
    import geopandas as gpd
    layer = gpd.read_file(out / "layers.gpkg", layer="closed_roads")
    assert layer["change"].tolist() == ["closed"] and layer["way_id"].tolist() == [20]
    assert "Closed and slowed roads" in (out / "map.html").read_text(encoding="utf-8")
    points = gpd.read_file(out / "layers.gpkg", layer="demand_points")
    cut = points[points["status"] == "no_route"]
    assert len(cut) == 3 and cut["time_min"].isna().all()
    import rasterio
    with rasterio.open(out / "travel_time.tif") as grid:
        values = grid.read(1)
    # people with no route are +inf in the grid (its tags say so), never a number
    assert np.isposinf(values[2, 2]) and np.isposinf(values[2, 3]) and np.isposinf(values[0, 3])


def test_clinic_on_a_closed_road_is_reported(world: dict[str, Path]) -> None:
    with pytest.warns(DataQualityWarning, match="'West clinic' \\(1,000 m\\)"):
        result = run(scenario(world, closed_ways=[10]), write=False)
    report = result.summary["road_changes"]
    assert report["facilities_lost_road"] == ["West clinic"]
    # the clinic walks 1 km x 1.3 to the next open road (15.6 min); 200 lives on it
    assert minutes_by_people(result)[200] == pytest.approx(15.6, rel=0.01)
    assert report["population_lost_route"] == 0
    assert report["population_slower"] == pytest.approx(2000)  # everyone: 100 walks too


def test_flood_polygon_closes_the_roads_it_touches(world: dict[str, Path]) -> None:
    flood = polygons(world["dir"] / "flood.geojson", [around_km(2.5)])
    result = run(scenario(world, closed_areas=flood), write=False)
    report = result.summary["road_changes"]
    assert report["segments_closed"] == 1 and report["closed_ways"] == [30]
    times = minutes_by_people(result)
    # 400 (on node 4) walks 1 km x 1.3 to node 3: 15.6 min + 24 min along the road
    assert times[400] == pytest.approx(15.6 + 24, rel=0.01)
    assert report["population_slower"] == pytest.approx(400)
    # The north cell (2.05 km from node 4) now walks to the nearest open road, node 3:
    # 2.28 km x 1.3 = 35.6 min + 24 min, sooner than its 31.2 + 36 min before (people walk
    # to the nearest road, not the fastest one): reported, not hidden.
    assert report["population_faster"] == pytest.approx(1000)
    assert times[1000] == pytest.approx(35.6 + 24, rel=0.01)


def test_people_inside_a_closed_area_cannot_walk_out(world: dict[str, Path]) -> None:
    flood = polygons(world["dir"] / "flood.geojson", [around_km(3.0, half_km=0.2)])
    result = run(scenario(world, closed_areas=flood), write=False)
    times = minutes_by_people(result)
    assert np.isinf(times[400])  # node 4 is under water
    status = dict(zip(result.population.population.tolist(), result.access.status.tolist(),
                      strict=True))
    assert status[400] == OFF_NETWORK
    report = result.summary["road_changes"]
    assert report["population_in_closed_areas"] == pytest.approx(400)
    assert report["population_lost_route"] == pytest.approx(400)
    assert result.summary["unreachable_detail"]["off_network"] == pytest.approx(400)


def test_slowed_roads_take_longer_by_their_factor(world: dict[str, Path]) -> None:
    slow = polygons(world["dir"] / "slow.geojson", [around_km(2.5)], factors=[0.5])
    result = run(scenario(world, slow_areas=slow), write=False)
    times = minutes_by_people(result)
    assert times[300] == pytest.approx(24, rel=0.01)
    assert times[400] == pytest.approx(24 + 24, rel=0.01)  # 12 min at half speed
    report = result.summary["road_changes"]
    assert report["segments_slowed"] == 1 and report["segments_closed"] == 0
    assert report["slowed_km"] == pytest.approx(1.0, rel=0.01)


def test_slow_factor_applies_without_a_factor_column(world: dict[str, Path]) -> None:
    slow = polygons(world["dir"] / "slow.geojson", [around_km(1.5)])
    result = run(scenario(world, slow_areas=slow, slow_factor=0.25), write=False)
    assert minutes_by_people(result)[300] == pytest.approx(12 + 48, rel=0.01)
    with pytest.raises(ConfigError, match=r"no 'factor' column and roads\.slow_factor"):
        run(scenario(world, slow_areas=slow), write=False)


def test_polygon_covering_nothing_changes_nothing(world: dict[str, Path]) -> None:
    far = polygons(world["dir"] / "far.geojson", [(40.0, 10.0, 40.1, 10.1)])
    plain = run(scenario(world, out="plain"))
    with pytest.warns(DataQualityWarning, match="closes no road.*it changed nothing"):
        flooded = run(scenario(world, out="flooded", closed_areas=far))
    assert plain.out_dir is not None and flooded.out_dir is not None
    names = [*sorted(p.name for p in plain.out_dir.glob("*.csv")), "travel_time.tif"]
    for name in names:
        assert (plain.out_dir / name).read_bytes() == (flooded.out_dir / name).read_bytes(), name
    assert flooded.summary["road_changes"]["segments_closed"] == 0
    assert "road_changes" not in plain.summary


def test_unknown_way_ids_are_named(world: dict[str, Path]) -> None:
    with pytest.raises(InputDataError, match=r"way\(s\) 99, 77 are not roads of the walk"):
        run(scenario(world, closed_ways=[20, 99, 77]), write=False)


def test_bad_road_settings_name_the_key(world: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match=r"roads.slow_factor is 1.5; it must be in \(0, 1\]"):
        scenario(world, slow_areas=world["facilities"], slow_factor=1.5)
    with pytest.raises(ConfigError, match=r"unknown key roads\.closed_area;"):
        Scenario(roads={"closed_area": "x.gpkg"})
    with pytest.raises(InputDataError, match=r"row\(s\) 1 are Point, not polygons"):
        run(scenario(world, closed_areas=world["facilities"]), write=False)


def test_way_ids_come_from_osm_files_and_graphs(world: dict[str, Path]) -> None:
    from accessmap.inputs.network import load_network, network_from_graph

    network = load_network(world["network"], use_cache=False)
    assert sorted(network.seg_way_id.tolist()) == [10, 20, 30]
    graph = nx.MultiDiGraph()
    graph.add_node(1, x=TINY_LON0, y=TINY_LAT)
    graph.add_node(2, x=TINY_LON0 + KM_LON, y=TINY_LAT)
    graph.add_node(3, x=TINY_LON0 + 2 * KM_LON, y=TINY_LAT)
    graph.add_edge(1, 2, length=1000.0, highway="residential", osmid=[7, 8])  # osmnx merges
    graph.add_edge(2, 3, length=1000.0, highway="residential", osmid="9")  # GraphML text
    graph.add_edge(3, 1, length=2000.0, highway="residential")  # no id
    assert sorted(network_from_graph(graph).seg_way_id.tolist()) == [-1, 7, 9]


# --------------------------------------------------------------------------- speed profiles


def test_rainy_profile_slows_unpaved_tracks_for_walking_too() -> None:
    rainy = Scenario(speeds={"profile": "rainy"}).speed_profile()
    track = {"highway": "track", "surface": "mud"}
    assert way_speeds_kph(track, rainy) == pytest.approx((4.5 * 0.3, 4.5 * 0.3))
    assert way_speeds_kph({"highway": "track"}, rainy) == pytest.approx((4.5 * 0.6,) * 2)
    assert way_speeds_kph({"highway": "primary"}, rainy) == (5.0, 5.0)  # paved: unchanged
    drive = Scenario(analysis={"mode": "drive"}, speeds={"profile": "rainy"}).speed_profile()
    dry = SpeedProfile.default("drive")
    tags = {"highway": "unclassified", "surface": "dirt", "maxspeed": "30"}
    # maxspeed caps, the dry surface factor (0.6) applies, then the season (0.5)
    assert way_speeds_kph(tags, drive)[0] == pytest.approx(way_speeds_kph(tags, dry)[0] * 0.5)
    assert way_speeds_kph(tags, dry)[0] == pytest.approx(30 * 0.6)


def test_named_profile_from_the_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[speeds]\ntrack = 4\nprofile = "wet"\n[speeds.wet]\ntrack = 3\n'
                    'ferry_wait_min = 120\n[speeds.wet.surface_factors]\nunpaved = 0.5\n'
                    '[speeds.wet.highway_factors]\npath = 0.8\n')
    profile = load_scenario(path).speed_profile()
    assert profile.speeds_kph["track"] == 3.0 and profile.ferry_wait_min == 120.0
    assert profile.season_factors == {"unpaved": 0.5, "highway=path": 0.8}
    base = load_scenario(path).replace(speed_profile="rainy").speed_profile()
    assert base.speeds_kph["track"] == 4.0 and base.season_factors["highway=track"] == 0.6
    again = Scenario().with_changes(load_scenario(path).to_dict())
    assert again.speed_profile() == profile


def test_unknown_speed_profile_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"speeds.profile 'monsoon' is unknown; known "
                                          r"profiles: rainy, wet"):
        Scenario(speeds={"profile": "monsoon", "wet": {"track": 2}})
    with pytest.raises(ConfigError, match=r"\[speeds.wet\]: season factor for 'mud' is 2"):
        Scenario(speeds={"wet": {"surface_factors": {"mud": 2}}})
    done = CliRunner().invoke(main, ["run", "--speed-profile", "monsoon"])
    assert done.exit_code != 0
    assert "speeds.profile 'monsoon' is unknown; known profiles: rainy" in done.output
    assert "Traceback" not in done.output


def test_rainy_run_is_slower_on_tracks(world: dict[str, Path], tmp_path: Path) -> None:
    nodes = {i + 1: (TINY_LON0 + i * KM_LON, TINY_LAT) for i in range(4)}
    path = write_osm(tmp_path / "tracks.osm", nodes,
                     [(5, [1, 2, 3, 4], {"highway": "track", "surface": "dirt"})])
    dry = scenario({**world, "network": path})
    rainy = run(dry.replace(speed_profile="rainy"), write=False)
    # 1 km of track at 4.5 km/h x 0.5 (dirt) = 26.67 min per km
    assert minutes_by_people(rainy)[400] == pytest.approx(3 * 60 / 2.25, rel=0.01)
    assert "road_changes" not in rainy.summary  # a season is not a road change


# --------------------------------------------------------------------------- properties

_UTM = "EPSG:32737"
_TO_LONLAT = pyproj.Transformer.from_crs(_UTM, "EPSG:4326", always_xy=True)


def random_network(x: NDArray[np.float64], y: NDArray[np.float64],
                   edges: list[tuple[int, int, bool]]) -> RoadNetwork:
    """Segments at 5 km/h between the given points (some one-way), way id = index + 1."""
    u = np.array([e[0] for e in edges], dtype=np.int64)
    v = np.array([e[1] for e in edges], dtype=np.int64)
    length = np.hypot(x[u] - x[v], y[u] - y[v])
    fwd = length / (5 / 3.6)
    bwd = np.where([e[2] for e in edges], np.inf, fwd)
    lon, lat = _TO_LONLAT.transform(x, y)
    return RoadNetwork(
        mode="walk", crs=_UTM, node_osm_id=np.arange(x.size, dtype=np.int64), node_x=x,
        node_y=y, node_lon=np.asarray(lon), node_lat=np.asarray(lat), seg_u=u, seg_v=v,
        seg_length_m=length, seg_time_fwd_s=fwd, seg_time_bwd_s=bwd,
        seg_highway=np.array(["residential"] * u.size),
        seg_way_id=np.arange(1, u.size + 1, dtype=np.int64),
        profile=SpeedProfile.default("walk"), source="random")


@st.composite
def networks(draw: st.DrawFn) -> tuple[RoadNetwork, NDArray[np.int64]]:
    n = draw(st.integers(2, 10))
    coords = draw(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)),
                           min_size=n, max_size=n, unique=True))
    x = 500_000 + 100.0 * np.array([c[0] for c in coords])
    y = 9_000_000 + 100.0 * np.array([c[1] for c in coords])
    node = st.integers(0, n - 1)
    edges = draw(st.lists(st.tuples(node, node, st.booleans()).filter(lambda e: e[0] != e[1]),
                          min_size=1, max_size=20))
    facilities = draw(st.lists(node, min_size=1, max_size=3, unique=True))
    return random_network(x, y, edges), np.asarray(facilities, dtype=np.int64)


def node_times(network: RoadNetwork, facilities: NDArray[np.int64]) -> NDArray[np.float64]:
    entries = Sources(np.arange(facilities.size, dtype=np.int64), facilities,
                      np.zeros(facilities.size), int(facilities.size))
    times, _ = nearest_source(network.graph_to, entries)
    return times


def networkx_times(network: RoadNetwork, facilities: NDArray[np.int64]) -> NDArray[np.float64]:
    graph = nx.DiGraph()
    graph.add_nodes_from(range(network.n_nodes))
    for a, b, t_ab, t_ba in zip(network.seg_u, network.seg_v, network.seg_time_fwd_s,
                                network.seg_time_bwd_s, strict=True):
        for tail, head, t in ((a, b, t_ab), (b, a, t_ba)):  # reversed: trips *to* facilities
            if np.isfinite(t) and (not graph.has_edge(head, tail) or graph[head][tail]["w"] > t):
                graph.add_edge(int(head), int(tail), w=float(t))
    found = nx.multi_source_dijkstra_path_length(graph, set(facilities.tolist()), weight="w")
    return np.array([found.get(i, np.inf) for i in range(network.n_nodes)])


_PROPERTY = settings(max_examples=30, deadline=None,
                     suppress_health_check=[HealthCheck.filter_too_much])


@_PROPERTY
@given(networks(), st.data())
def test_closing_roads_never_lowers_a_time(case: tuple[RoadNetwork, NDArray[np.int64]],
                                           data: st.DataObject) -> None:
    network, facilities = case
    ways = data.draw(st.lists(st.sampled_from(network.seg_way_id.tolist()), unique=True,
                              max_size=network.n_segments - 1))
    changed = change_roads(network, RoadChanges(closed_ways=tuple(ways))).network
    before, after = node_times(network, facilities), node_times(changed, facilities)
    assert np.all(after >= before)
    np.testing.assert_allclose(after, networkx_times(changed, facilities))
    assert changed.n_segments == network.n_segments - len(ways)


@_PROPERTY
@given(networks(), st.tuples(st.integers(0, 20), st.integers(0, 20), st.integers(1, 20),
                             st.integers(1, 20)), st.floats(0.05, 1.0))
def test_slowing_roads_never_lowers_a_time(case: tuple[RoadNetwork, NDArray[np.int64]],
                                           box: tuple[int, int, int, int],
                                           factor: float) -> None:
    network, facilities = case
    west, south = 500_000 + 100.0 * box[0] - 50, 9_000_000 + 100.0 * box[1] - 50
    east, north = west + 100.0 * box[2], south + 100.0 * box[3]
    area = np.array([shapely.box(west, south, east, north)], dtype=object)
    with warnings.catch_warnings():  # a box over no road warns that it changed nothing
        warnings.simplefilter("ignore", DataQualityWarning)
        changed = change_roads(network, RoadChanges(slow_areas=area,
                                                    slow_factors=np.array([factor]))).network
    before, after = node_times(network, facilities), node_times(changed, facilities)
    assert np.all(after >= before)
    # independent reference: segments whose midpoint lies in the box, by plain arithmetic
    mid_x = (network.node_x[network.seg_u] + network.node_x[network.seg_v]) / 2
    mid_y = (network.node_y[network.seg_u] + network.node_y[network.seg_v]) / 2
    inside = (mid_x > west) & (mid_x < east) & (mid_y > south) & (mid_y < north)
    np.testing.assert_allclose(changed.seg_time_fwd_s,
                               np.where(inside, network.seg_time_fwd_s / factor,
                                        network.seg_time_fwd_s))
    np.testing.assert_allclose(after, networkx_times(changed, facilities))


@_PROPERTY
@given(networks(), st.data())
def test_people_on_open_roads_never_get_faster(case: tuple[RoadNetwork, NDArray[np.int64]],
                                               data: st.DataObject) -> None:
    network, facilities = case
    ways = data.draw(st.lists(st.sampled_from(network.seg_way_id.tolist()), unique=True,
                              max_size=network.n_segments - 1))
    n_points = data.draw(st.integers(1, 8))
    px = 500_000 + np.array(data.draw(st.lists(st.floats(0, 2000), min_size=n_points,
                                               max_size=n_points)))
    py = 9_000_000 + np.array(data.draw(st.lists(st.floats(0, 2000), min_size=n_points,
                                                 max_size=n_points)))
    fx, fy = network.node_x[facilities], network.node_y[facilities]
    changes = change_roads(network, RoadChanges(closed_ways=tuple(ways)))
    before = nearest_facility_times(network, px, py, fx, fy, warn_moves=False)
    # facilities whose road is closed move to another road: outside this property
    assume(not changes.closed[before.facility_snap.segment].any())
    after = nearest_facility_times(changes.network, px, py, fx, fy, warn_moves=False)
    # so do facilities whose road nobody reaches any more (a one-way stub left by closures)
    assume(np.array_equal(changes.kept[after.facility_snap.segment],
                          before.facility_snap.segment))
    kept = ~changes.closed[before.point_snap.segment]
    kept[before.moved_points] = kept[after.moved_points] = False
    assert np.all(after.time_s[kept] >= before.time_s[kept] - 1e-9)


# --------------------------------------------------------------------------- Comoros


@pytest.mark.comoros
def test_comoros_coastal_closure_raises_times(comoros_dir: Path, tmp_path: Path) -> None:
    # A box over the coast road south of Moroni (Ngazidja): a storm surge closes it.
    flood = polygons(tmp_path / "surge.geojson", [(43.22, -11.80, 43.28, -11.74)])
    base = Scenario(
        inputs={"network": comoros_dir / "comores-latest.osm.pbf",
                "population": comoros_dir / "com_ppp_2020_UNadj.tif",
                "facilities": comoros_dir / "health.gpkg"},
        facilities={"exclude": {"amenity": ["pharmacy"]}}, siting={"new_sites": 0},
        roads={"closed_areas": flood}, output={"out": tmp_path / "out"})
    result = run(base, write=False)
    report = result.summary["road_changes"]
    assert report["segments_closed"] > 1000 and report["closed_km"] > 50
    assert report["population_in_closed_areas"] > 10_000 and report["population_slower"] > 0
    assert report["population_lost_route"] > report["population_in_closed_areas"]
    before = {r["threshold_min"]: r["population"] for r in report["coverage_unchanged"]}
    after = {r["threshold_min"]: r["population"] for r in result.summary["coverage"]}
    assert all(after[t] < before[t] for t in before)


def test_comparison_map_draws_the_closed_roads(world: dict[str, Path]) -> None:
    """The comparison map of a road closure shows the scenario's closed roads (the
    baseline's roads alone would hide what changed); a comparison without road changes
    lists no such layer."""
    from accessmap import compare_runs

    base = run(scenario(world, out="base")).out_dir
    closed = run(scenario(world, out="closed", closed_ways=[20])).out_dir
    assert base is not None and closed is not None
    compare_runs(base, closed, out=world["dir"] / "cmp")
    page = (world["dir"] / "cmp" / "comparison_map.html").read_text(encoding="utf-8")
    assert "Closed and slowed roads" in page and "road closed" in page
    assert "OSM way 20" in page and "OSM way 10" not in page
    compare_runs(base, base, out=world["dir"] / "same")
    page = (world["dir"] / "same" / "comparison_map.html").read_text(encoding="utf-8")
    assert "Closed and slowed roads" not in page and "road closed" not in page
