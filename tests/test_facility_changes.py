"""Facility changes of a scenario: closures, planned facilities, service/status filters.

The property tests check the issue's rule on random road networks (networkx graphs):
closing facilities can only raise travel times, adding facilities can only lower them,
and people whose road piece loses its last facility get ``no_route``, never a number.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from accessmap.cli import main
from accessmap.config import FacilitySettings, Scenario
from accessmap.errors import ConfigError, DataQualityWarning, InputDataError
from accessmap.inputs.facility_changes import (
    apply_facility_changes,
    functionality,
    load_scenario_facilities,
)
from accessmap.inputs.network import network_from_graph
from accessmap.routing.network import RoadNetwork
from accessmap.routing.travel_times import NO_ROUTE, nearest_facility_times

KM = 1000 / 111_319.490793  # degrees per km on the equator


def _frame(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    """Facilities with ids 1..n (as load_facilities gives them) at 45 E on the equator."""
    frame = gpd.GeoDataFrame(rows, geometry=[shapely.Point(45 + i * KM, 0.0)
                                             for i in range(len(rows))], crs="EPSG:4326")
    frame.insert(0, "facility_id", np.arange(1, len(rows) + 1))
    return frame


@pytest.fixture
def five() -> gpd.GeoDataFrame:
    return _frame([
        {"name": "Hopital A", "type": "hospital", "services": "anc; emergency_obstetric",
         "status": "Functional"},
        {"name": "Centre B", "type": "health centre", "services": "anc",
         "status": "Partially functioning"},
        {"name": "Poste C", "type": "post", "services": "", "status": "Not functioning"},
        {"name": "Hopital D", "type": "hospital", "services": "emergency_obstetric",
         "status": "partially functional"},
        {"name": "Centre E", "type": "health centre", "services": "anc", "status": "functional"},
    ])


def _ids(frame: gpd.GeoDataFrame) -> list[Any]:
    return frame["facility_id"].tolist()


def test_close_by_id_name_and_column(five: gpd.GeoDataFrame) -> None:
    changed = apply_facility_changes(five, FacilitySettings(close=(
        2, "hopital a", {"column": "type", "equals": ["post"]})))
    assert _ids(changed) == [4, 5]
    closed = changed.attrs["changes"].closed
    assert [(c["facility_id"], c["name"]) for c in closed] == [
        ("2", "Centre B"), ("1", "Hopital A"), ("3", "Poste C")]
    assert five["facility_id"].tolist() == [1, 2, 3, 4, 5]  # the input is not changed


def test_a_facility_closed_twice_is_reported_once(five: gpd.GeoDataFrame) -> None:
    changed = apply_facility_changes(five, FacilitySettings(close=(1, {"ids": [1, 2]})))
    assert [c["facility_id"] for c in changed.attrs["changes"].closed] == ["1", "2"]


@pytest.mark.parametrize(("partial", "kept"), [("include", [1, 2, 4, 5]),
                                               ("exclude", [1, 5])])
def test_herams_status(five: gpd.GeoDataFrame, partial: str, kept: list[int]) -> None:
    settings_ = FacilitySettings(status_column="status", partially_functional=partial)
    changed = apply_facility_changes(five, settings_)
    assert _ids(changed) == kept
    reasons = {c["facility_id"]: c["reason"] for c in changed.attrs["changes"].filtered}
    assert reasons["3"] == "status: not functioning"
    assert set(reasons) == {str(i) for i in range(1, 6)} - {str(k) for k in kept}


def test_status_words() -> None:
    assert [functionality(v) for v in ("Fully functional", "functioning", "Partially "
            "functional", "non functioning", "Not-functional", "destroyed", "?", None)] == [
        "functional", "functional", "partial", "not_functioning", "not_functioning",
        "not_functioning", "unknown", "unknown"]


def test_an_unknown_status_is_kept_with_a_warning(five: gpd.GeoDataFrame) -> None:
    five.loc[4, "status"] = "en travaux"
    with pytest.warns(DataQualityWarning, match=r"1 facilit\(ies\) have a status that is not "
                                                r"a functionality status \(en travaux\)"):
        changed = apply_facility_changes(five, FacilitySettings(status_column="status"))
    assert 5 in _ids(changed)


def test_require_a_service(five: gpd.GeoDataFrame) -> None:
    rule = {"column": "services", "contains": ["emergency_obstetric"]}
    changed = apply_facility_changes(five, FacilitySettings(require=rule, close=(4,)))
    assert _ids(changed) == [1]
    filtered = changed.attrs["changes"].filtered
    assert [f["facility_id"] for f in filtered] == ["2", "3", "5"]  # 4 was closed first
    assert "services contains emergency_obstetric" in filtered[0]["reason"]


def test_planned_facilities_are_added_with_their_ids(five: gpd.GeoDataFrame) -> None:
    planned = _frame([{"name": "New N", "type": "clinic"}])
    planned["facility_id"] = ["P1"]
    changed = apply_facility_changes(five, FacilitySettings(close=(1,)), planned=planned)
    assert _ids(changed) == ["2", "3", "4", "5", "P1"]
    assert changed["planned"].tolist() == [False] * 4 + [True]
    assert changed.attrs["changes"].added == [
        {"facility_id": "P1", "name": "New N", "reason": "planned"}]


def test_closing_every_facility_is_refused(five: gpd.GeoDataFrame) -> None:
    with pytest.raises(InputDataError, match="no facility remains after the scenario's "
                                             "closures and filters"):
        apply_facility_changes(five, FacilitySettings(close=({"column": "type", "equals": [
            "hospital", "health centre", "post"]},)))


def test_settings_round_trip_and_refusals() -> None:
    scenario = Scenario(facilities={"close": ["HF01", {"names": ["A"]}],
                                    "require": {"column": "type", "equals": "hospital"},
                                    "status_column": "status"})
    table = scenario.to_dict()["facilities"]
    assert table["close"] == [{"ids_or_names": ["HF01"]}, {"names": ["A"]}]
    assert Scenario(facilities=table) == scenario
    assert "close" not in Scenario().to_dict()["facilities"]
    with pytest.raises(ConfigError, match=r"unknown key facilities\.close\[1\]\.name; known"):
        Scenario(facilities={"close": ["x", {"name": "A"}]})
    with pytest.raises(ConfigError, match=r"facilities\.close is 'HF01'; give a list"):
        Scenario(facilities={"close": "HF01"})
    with pytest.raises(ConfigError, match=r"facilities\.partially_functional 'maybe' is "
                                          r"unknown; use one of include, exclude"):
        Scenario(facilities={"partially_functional": "maybe"})
    with pytest.raises(ConfigError, match=r"facilities\.require is an empty rule"):
        Scenario(facilities={"require": {}})


# --------------------------------------------------------------------------- files


def _geojson(path: Path, rows: list[dict[str, Any]], *, crs: str | None = None) -> Path:
    data: dict[str, Any] = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {k: v for k, v in r.items() if k != "xy"},
         "geometry": {"type": "Point", "coordinates": r["xy"]}} for r in rows]}
    if crs:
        data["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(data), "utf-8")
    return path


def test_planned_file_ids_and_clashes(tmp_path: Path) -> None:
    existing = _geojson(tmp_path / "f.geojson", [{"name": "A", "xy": [45, 0]},
                                                 {"name": "B", "xy": [45.01, 0]}])
    planned = _geojson(tmp_path / "p.geojson", [{"name": "N1", "xy": [45.02, 0]},
                                                {"name": "N2", "xy": [45.03, 0]}])
    frame = load_scenario_facilities(existing, FacilitySettings(planned=planned))
    assert _ids(frame) == ["1", "2", "P1", "P2"]
    own = _geojson(tmp_path / "own.geojson", [{"id": 2, "name": "N", "xy": [45.02, 0]}])
    with pytest.raises(InputDataError, match=r"own\.geojson: id\(s\) 2 are also ids of the "
                                             r"facilities file"):
        load_scenario_facilities(existing, FacilitySettings(planned=own))


# --------------------------------------------------------------------------- properties


@st.composite
def worlds(draw: st.DrawFn, *, one_way: bool = False) -> tuple[
        RoadNetwork, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A random grid network (some streets missing, curved; with ``one_way``, a drive
    network whose streets may be one-way), random demand points and facilities; returns
    (network, px, py, fx, fy) in the network's CRS."""
    side = draw(st.integers(2, 5))
    graph = nx.MultiDiGraph() if one_way else nx.Graph()
    for i in range(side):
        for j in range(side):
            graph.add_node(i * side + j, x=45 + i * KM, y=j * KM)
    ways = ["none", "both", "forward", "backward"] if one_way else ["none", "both"]
    for i in range(side):
        for j in range(side):
            for di, dj in ((1, 0), (0, 1)):
                if i + di >= side or j + dj >= side:
                    continue
                a, b = i * side + j, (i + di) * side + j + dj
                way, curve = draw(st.sampled_from(ways)), draw(st.floats(1.0, 3.0))
                for u, v, kinds in ((a, b, ("both", "forward")), (b, a, ("both", "backward"))):
                    if way in kinds and (one_way or u == a):
                        graph.add_edge(u, v, length=1000.0 * curve, highway="residential")
    if graph.number_of_edges() == 0:
        graph.add_edge(0, 1, length=1000.0, highway="residential")
    graph.remove_nodes_from([n for n in list(graph) if graph.degree(n) == 0])
    net = network_from_graph(graph, mode="drive" if one_way else "walk")
    span = (side - 1) * KM
    coordinate = st.tuples(st.floats(45, 45 + span), st.floats(0, span))
    points = np.array(draw(st.lists(coordinate, min_size=1, max_size=12)))
    facilities = np.array(draw(st.lists(coordinate, min_size=2, max_size=6)))
    px, py = net.project(points[:, 0], points[:, 1])
    fx, fy = net.project(facilities[:, 0], facilities[:, 1])
    return net, px, py, fx, fy


def _times(net: RoadNetwork, px: np.ndarray, py: np.ndarray, fx: np.ndarray,
           fy: np.ndarray) -> Any:
    return nearest_facility_times(net, px, py, fx, fy, warn_moves=False)


@settings(deadline=None, max_examples=40)
@given(worlds(), st.data())
def test_closing_facilities_only_raises_travel_times(world: Any, data: st.DataObject) -> None:
    net, px, py, fx, fy = world
    n = fx.size
    ids = list(range(1, n + 1))
    closed = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=n - 1, unique=True))
    frame = gpd.GeoDataFrame({"facility_id": ids, "name": [f"F{i}" for i in ids],
                              "x": fx, "y": fy}, geometry=gpd.points_from_xy(fx, fy))
    kept = apply_facility_changes(frame, FacilitySettings(close=({"ids": closed},)))
    assert sorted(set(_ids(kept)) | set(closed)) == ids
    before = _times(net, px, py, fx, fy)
    after = _times(net, px, py, kept["x"].to_numpy(), kept["y"].to_numpy())
    assert np.all(after.time_s >= before.time_s)
    # no one's nearest facility is a closed one
    reached = after.facility >= 0
    assert not set(kept["facility_id"].to_numpy()[after.facility[reached]]) & set(closed)
    # unreachable stays inf with a status, never a number
    assert np.array_equal(np.isinf(after.time_s), after.facility < 0)


@settings(deadline=None, max_examples=40)
@given(worlds(), st.data())
def test_adding_facilities_only_lowers_travel_times(world: Any, data: st.DataObject) -> None:
    net, px, py, fx, fy = world
    base = data.draw(st.integers(1, fx.size - 1))
    before = _times(net, px, py, fx[:base], fy[:base])
    after = _times(net, px, py, fx, fy)
    assert np.all(after.time_s <= before.time_s)
    gained = np.isfinite(after.time_s) & ~np.isfinite(before.time_s)
    assert np.all(after.facility[gained] >= base)  # only a planned one can be the reason


@settings(deadline=None, max_examples=40)
@given(worlds(one_way=True), st.data())
def test_closing_facilities_raises_network_times_with_one_way_streets(
        world: Any, data: st.DataObject) -> None:
    """Over one-way streets every node's time and every person's time can only rise:
    a person's road entries do not depend on the facilities (tests/test_monotone_snapping.py
    checks the rule against networkx)."""
    net, px, py, fx, fy = world
    keep = np.array(data.draw(st.lists(st.booleans(), min_size=fx.size, max_size=fx.size)))
    if not keep.any():
        keep[0] = True
    before = _times(net, px, py, fx, fy)
    after = _times(net, px, py, fx[keep], fy[keep])
    assert np.all(after.node_time_s >= before.node_time_s)
    assert np.all(after.time_s >= before.time_s)


def test_closing_every_facility_on_a_piece_gives_no_route() -> None:
    graph = nx.Graph()
    for k, x in enumerate((45.0, 45 + KM, 45.1, 45.1 + KM)):
        graph.add_node(k, x=x, y=0.0)
    graph.add_edge(0, 1, length=1000.0, highway="residential")  # island west
    graph.add_edge(2, 3, length=1000.0, highway="residential")  # island east
    net = network_from_graph(graph, mode="walk")
    px, py = net.project(np.array([45 + KM / 2, 45.1 + KM / 2]), np.zeros(2))
    fx, fy = net.project(np.array([45.0, 45.1, 45.1 + KM]), np.zeros(3))
    frame = gpd.GeoDataFrame({"facility_id": [1, 2, 3], "name": ["W", "E1", "E2"]},
                             geometry=gpd.points_from_xy(fx, fy))
    kept = apply_facility_changes(frame, FacilitySettings(close=("E1", 3)))
    access = _times(net, px, py, kept.geometry.x.to_numpy(), kept.geometry.y.to_numpy())
    assert np.isfinite(access.time_s[0]) and access.facility[0] == 0
    assert access.status[1] == NO_ROUTE and np.isinf(access.time_s[1])
    assert access.facility[1] == -1


# --------------------------------------------------------------------------- run


def _cli_run(world: dict[str, Path], *extra: str) -> Any:
    return CliRunner().invoke(main, [
        "run", *extra, "--network", str(world["network"]), "--population",
        str(world["population"]), "--facilities", str(world["facilities"]), "--new-sites", "0"])


def test_run_reports_closed_and_planned_facilities(tiny_world: dict[str, Path]) -> None:
    out = tiny_world["dir"] / "run"
    _geojson(tiny_world["dir"] / "planned.geojson", [
        {"name": "New east clinic", "xy": [33.0 + 3 / (111.320 * 0.971134), -13.8]}])
    scenario = tiny_world["dir"] / "what_if.toml"  # the planned path is relative to it
    scenario.write_text('[facilities]\nplanned = "planned.geojson"\nclose = ["east pharmacy"]\n',
                        "utf-8")
    result = _cli_run(tiny_world, str(scenario), "--close-facility", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    changes = summary["facility_changes"]
    assert [c["facility_id"] for c in changes["closed"]] == ["2"]  # by name, then by id
    assert changes["closed"][0]["name"] == "East pharmacy"
    assert summary["run"]["settings"]["facilities"]["close"] == [
        {"ids_or_names": ["east pharmacy"]}, {"ids_or_names": ["2"]}]
    assert changes["added"] == [{"facility_id": "P1", "name": "New east clinic",
                                 "reason": "planned"}]
    assert "planned" in summary["run"]["inputs"]
    layer = gpd.read_file(out / "layers.gpkg", layer="facilities")
    assert layer["facility_id"].tolist() == ["1", "P1"]
    assert layer["planned"].tolist() == [False, True]
    points = gpd.read_file(out / "layers.gpkg", layer="demand_points")
    reached = points["status"] == "reached"
    assert set(points.loc[reached, "nearest_facility"]) == {"1", "P1"}  # ids, not positions
    assert points.loc[~reached, "nearest_facility"].isna().all()
    assert "planned (id P1)" in (out / "map.html").read_text("utf-8")
    report = (out / "report.md").read_text("utf-8")
    assert "Facility changes in this scenario" in report and "New east clinic" in report


def test_run_refuses_an_unknown_facility_in_one_line(tiny_world: dict[str, Path]) -> None:
    result = _cli_run(tiny_world, "--close-facility", "East pharmacie", "--out",
                      str(tiny_world["dir"] / "run"))
    assert result.exit_code == 2  # a ConfigError: the settings name no such facility
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output
    assert "no facility has the id or name 'East pharmacie'; near matches: east pharmacy" \
        in lines[0]


@pytest.mark.comoros
def test_comoros_closure_and_replacement(comoros_dir: Path, tmp_path: Path) -> None:
    """Closing Moroni's El Maarouf hospital (id 42) and both CMC Mitsamiouli (a shared
    name) never shortens a trip; a planned facility at El Maarouf's own point restores
    exactly the times of the baseline."""
    from accessmap.inputs.facilities import load_facilities
    from accessmap.pipeline import run

    health = comoros_dir / "health.gpkg"
    base = Scenario().replace(network=comoros_dir / "comores-latest.osm.pbf",
                              population=comoros_dir / "com_ppp_2020_UNadj.tif",
                              facilities=health, exclude={"amenity": ("pharmacy",)},
                              new_sites=0, out=tmp_path / "run")
    baseline = run(base, write=False)
    closed = base.with_changes({"facilities": {"close": [42, "CMC Mitsamiouli"]}})
    with pytest.warns(DataQualityWarning, match=r"2 facilities are named 'CMC Mitsamiouli' "
                                                r"\(ids 7, 69\)"):
        fewer = run(closed, write=False)
    assert np.all(fewer.access.time_s >= baseline.access.time_s)
    assert np.any(fewer.access.time_s > baseline.access.time_s)
    shares = [(a["share"], b["share"]) for a, b in zip(
        baseline.summary["coverage"], fewer.summary["coverage"], strict=True)]
    assert all(after <= before for before, after in shares)
    names = {c["facility_id"]: c["name"] for c in fewer.summary["facility_changes"]["closed"]}
    assert names == {"42": "Hôpital El Maarouf", "7": "CMC Mitsamiouli",
                     "69": "CMC Mitsamiouli"}
    assert fewer.summary["facilities_used"] == baseline.summary["facilities_used"] - 3
    hospital = load_facilities(health).set_index("facility_id").loc[[42], ["name", "geometry"]]
    planned = tmp_path / "planned.gpkg"
    gpd.GeoDataFrame(hospital.reset_index(drop=True), crs="EPSG:4326").to_file(planned)
    replaced = base.with_changes({"facilities": {"close": [42], "planned": str(planned)}})
    again = run(replaced, write=False)
    np.testing.assert_array_equal(again.access.time_s, baseline.access.time_s)
    assert again.summary["facility_changes"]["added"][0]["facility_id"] == "P1"
