"""Routing corners found on real extracts, each as the smallest OSM XML fixture.

One-way dead ends and stubs (demand and facilities snapped to where the trip can be
made), the study-area pad in metres at high latitude, facilities far from any road and
the post-conditions of a run (:mod:`accessmap.analysis.checks`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from accessmap.analysis.checks import check_run, far_facilities
from accessmap.errors import DataQualityWarning, NetworkError
from accessmap.inputs.network import load_network
from accessmap.routing.network import RoadNetwork, padded_bounds_lonlat
from accessmap.routing.snapping import snap_points
from accessmap.routing.travel_times import NO_ROUTE, REACHED, nearest_facility_times
from tests.conftest import write_osm

K = 1 / 111.32  # degrees per km on the equator (both axes, near enough for fixtures)


def _stub_world(tmp_path: Path) -> RoadNetwork:
    """A two-way street 1-2-3 (2 km) with one-way stubs.

    * 3 -> 4 (north, 300 m) ends at 4: whoever is snapped onto it can drive in, not out;
    * 6 -> 5 -> 1: a one-way pair leading away from its dead end 6 (nobody reaches 6).
    """
    nodes = {1: (45.0, 0.0), 2: (45.0 + K, 0.0), 3: (45.0 + 2 * K, 0.0),
             4: (45.0 + 2 * K, 0.3 * K), 5: (45.0, 0.3 * K), 6: (45.0, 0.6 * K)}
    ways = [(10, [1, 2, 3], {"highway": "residential"}),
            (11, [3, 4], {"highway": "service", "oneway": "yes"}),
            (12, [6, 5, 1], {"highway": "service", "oneway": "yes"})]
    return load_network(write_osm(tmp_path / "stub.osm", nodes, ways), mode="drive",
                        use_cache=False)


def test_core_and_reach_of_a_one_way_stub(tmp_path: Path) -> None:
    net = _stub_world(tmp_path)
    by_osm = dict(zip(net.node_osm_id.tolist(), range(net.n_nodes), strict=True))
    core = {o for o, i in by_osm.items() if net.in_core[i]}
    reached = {o for o, i in by_osm.items() if net.reached_from_core[i]}
    assert core == {1, 2, 3}
    assert reached == {1, 2, 3, 4}  # 5 and 6 only lead away: nobody gets there


def test_people_on_a_one_way_dead_end_are_moved_to_a_road_that_leads_out(
        tmp_path: Path) -> None:
    net = _stub_world(tmp_path)
    px, py = net.project(np.array([45.0 + 2 * K + 0.0001]), np.array([0.25 * K]))
    fx, fy = net.project(np.array([45.0]), np.array([-0.0001]))
    stub = snap_points(net, px, py)
    assert net.seg_highway[stub.segment[0]] == "service"  # the nearest road: the stub
    with pytest.warns(DataQualityWarning, match=r"1 demand point\(s\) whose nearest road "
                      r"leads to no facility in the direction of travel"):
        access = nearest_facility_times(net, px, py, fx, fy)
    assert access.status.tolist() == [REACHED]
    assert access.moved_points.tolist() == [0]
    assert net.seg_highway[access.point_snap.segment[0]] == "residential"
    # 250 m walk to the street, then the 2 km street back to the facility
    assert access.point_snap.distance_m[0] == pytest.approx(250 * 1.0, rel=0.05)
    assert np.isfinite(access.time_s[0])


def test_facility_on_a_stub_leading_away_is_moved_where_it_can_be_reached(
        tmp_path: Path) -> None:
    net = _stub_world(tmp_path)
    fx, fy = net.project(np.array([45.0 + 0.0001]), np.array([0.55 * K]))
    px, py = net.project(np.array([45.0 + K]), np.array([0.0001]))
    nearest = snap_points(net, fx, fy)
    assert net.seg_highway[nearest.segment[0]] == "service"
    with pytest.warns(DataQualityWarning, match=r"1 facility that no one could reach"):
        access = nearest_facility_times(net, px, py, fx, fy)
    assert access.moved_facilities.tolist() == [0]
    assert access.status.tolist() == [REACHED]


def test_a_road_piece_without_a_facility_keeps_no_route(tmp_path: Path) -> None:
    """A proper two-way piece with no facility is reported, not snapped away."""
    nodes = {1: (45.0, 0.0), 2: (45.0 + K, 0.0), 7: (45.0, 0.5 * K), 8: (45.0 + K, 0.5 * K)}
    ways = [(10, [1, 2], {"highway": "residential"}), (11, [7, 8], {"highway": "residential"})]
    net = load_network(write_osm(tmp_path / "p.osm", nodes, ways), mode="drive",
                       use_cache=False)
    px, py = net.project(np.array([45.0 + 0.5 * K]), np.array([0.45 * K]))
    fx, fy = net.project(np.array([45.0]), np.array([0.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        access = nearest_facility_times(net, px, py, fx, fy)
    assert access.status.tolist() == [NO_ROUTE]
    assert access.moved_points.size == 0


# --------------------------------------------------------------------------- padding


def test_padding_is_in_metres_at_60_degrees_north(tmp_path: Path) -> None:
    nodes = {1: (25.0, 60.0), 2: (25.02, 60.0), 3: (25.02, 60.01)}
    net = load_network(write_osm(tmp_path / "helsinki.osm", nodes,
                                 [(10, [1, 2, 3], {"highway": "residential"})]),
                       mode="walk", use_cache=False)
    west, south, east, north = padded_bounds_lonlat(net, 5000.0)
    d_lat = north - 60.01
    d_lon = east - 25.02
    assert d_lat == pytest.approx(5000 / 110_574)
    assert d_lon / d_lat == pytest.approx(2.0, rel=0.01)  # cos(60.06 deg) ~ 0.5
    assert west == pytest.approx(25.0 - d_lon) and south == pytest.approx(60.0 - d_lat)
    # a home 4.9 km east of the road is inside the pad (the old 5000 m / 111 km pad
    # in degrees on both axes stopped at 2.5 km)
    lon_east = 25.02 + 4900 / (111_320 * np.cos(np.radians(60.0)))
    assert west <= lon_east <= east
    assert lon_east > 25.02 + 5000 / 111_000


def test_padding_near_a_pole_takes_every_longitude(tmp_path: Path) -> None:
    nodes = {1: (10.0, 89.95), 2: (10.1, 89.95)}
    net = load_network(write_osm(tmp_path / "pole.osm", nodes,
                                 [(10, [1, 2], {"highway": "residential"})]),
                       mode="walk", use_cache=False)
    west, _, east, north = padded_bounds_lonlat(net, 10_000.0)
    assert (west, east, north) == (-180.0, 180.0, 90.0)


# --------------------------------------------------------------------------- checks


def _line(tmp_path: Path) -> RoadNetwork:
    nodes = {1: (45.0, 0.0), 2: (45.0 + K, 0.0), 3: (45.0 + 2 * K, 0.0)}
    return load_network(write_osm(tmp_path / "line.osm", nodes,
                                  [(10, [1, 2, 3], {"highway": "residential"})]),
                        mode="walk", use_cache=False)


def test_facilities_far_from_a_road_are_named_with_their_distance(tmp_path: Path) -> None:
    net = _line(tmp_path)
    fx, fy = net.project(np.array([45.0, 45.0 + K]), np.array([0.0, 0.8 * K]))
    access = nearest_facility_times(net, fx, fy, fx, fy)
    with pytest.warns(DataQualityWarning, match=r"1 facility is more than 500 m from the "
                      r"nearest usable road: 'Hill clinic' \(79\d m\)"):
        far = far_facilities(access, ["Town", "Hill clinic"], max_distance_m=500)
    assert far["name"].tolist() == ["Hill clinic"]
    assert far["distance_m"].iloc[0] == pytest.approx(800, rel=0.02)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert far_facilities(access, ["Town", "Hill clinic"], max_distance_m=1000).empty


def test_check_run_refuses_a_run_where_nobody_reaches_a_facility(tmp_path: Path) -> None:
    net = _line(tmp_path)
    px, py = net.project(np.array([45.0 + K]), np.array([0.0]))
    fx, fy = net.project(np.array([47.0]), np.array([0.0]))  # 200 km away: off-network
    access = nearest_facility_times(net, px, py, fx, fy)
    with pytest.raises(NetworkError, match=r"nobody can reach a facility: of 10 people"):
        check_run(net, access, np.array([10.0]), (30, 60))


def test_check_run_warns_about_off_network_people_and_nobody_covered(
        tmp_path: Path) -> None:
    net = _line(tmp_path)
    px, py = net.project(np.array([45.0 + 2 * K, 45.0 + K]), np.array([0.0, 0.2]))
    fx, fy = net.project(np.array([45.0]), np.array([0.0]))
    access = nearest_facility_times(net, px, py, fx, fy)  # walk 2 km: 24 min
    with pytest.warns(DataQualityWarning) as record:
        found = check_run(net, access, np.array([10.0, 30.0]), (10, 20), min_reached_share=0.5)
    assert len(found) == 3 == len(record)
    assert "nobody is within 20 min of a facility" in found[0]
    assert "only 25.0% of the people can reach any facility" in found[1]
    assert "75.0% of the people are farther than 5000 m" in found[2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_run(net, access, np.array([10.0, 0.0]), (30,)) == []


def test_no_route_breakdown_splits_pieces_and_dead_ends(tmp_path: Path) -> None:
    from accessmap.analysis.components import no_route_breakdown

    net = _stub_world(tmp_path)
    # one home on the dead-end stub: moved to the street, counted as reached
    px, py = net.project(np.array([45.0 + 2 * K + 0.0001]), np.array([0.25 * K]))
    fx, fy = net.project(np.array([45.0]), np.array([-0.0001]))
    with pytest.warns(DataQualityWarning):
        access = nearest_facility_times(net, px, py, fx, fy)
    split = no_route_breakdown(net, access, np.array([7.0]))
    assert split == {"pieces_without_facility": 0.0, "one_way_dead_ends": 0.0,
                     "moved_to_reachable_road": 7.0}
