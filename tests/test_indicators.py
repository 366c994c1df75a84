"""Indicators for a service: settings, subset travel times, tables by hand, run outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from accessmap.config import Scenario, load_scenario, scenario_from_dict, scenario_schema
from accessmap.errors import ConfigError, DataQualityWarning, InputDataError
from accessmap.inputs.network import network_from_graph
from accessmap.routing.modes import SpeedProfile
from accessmap.routing.travel_times import nearest_facility_times, subset_facility_times
from tests.conftest import KM_LON, TINY_LAT, TINY_LON0, write_osm, write_raster

HOSPITAL = {"column": "services", "contains": ["surgery"]}
POPULATION = [100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0]  # on nodes 0..6


# --------------------------------------------------------------------------- a small world
# A straight road of 7 nodes, 1 km apart (walking 5 km/h: 12 min a km); a population cell
# centred on every node; a clinic at node 0, the only hospital with surgery at node 3, a
# health post at node 6.  Areas: West holds nodes 0-3, East nodes 4-6.


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    nodes = {i + 1: (TINY_LON0 + i * KM_LON, TINY_LAT) for i in range(7)}
    network = write_osm(tmp_path / "roads.osm", nodes,
                        [(1, list(nodes), {"highway": "residential"})])
    west, north = TINY_LON0 - KM_LON / 2, TINY_LAT + KM_LON / 2
    population = write_raster(tmp_path / "population.tif", [POPULATION], west=west,
                              north=north, size_deg=KM_LON)
    women = write_raster(tmp_path / "women.tif", [[5, 0, 30, 0, 50, 0, 7]], west=west,
                         north=north, size_deg=KM_LON)
    features = []
    for node, name, kind, services in ((0, "Clinic", "clinic", "anc"),
                                       (3, "Hospital", "hospital", "anc; surgery"),
                                       (6, "Post", "health_post", "")):
        features.append({"type": "Feature",
                         "properties": {"name": name, "type": kind, "services": services},
                         "geometry": {"type": "Point",
                                      "coordinates": [TINY_LON0 + node * KM_LON, TINY_LAT]}})
    facilities = tmp_path / "facilities.geojson"
    facilities.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    split = TINY_LON0 + 3.5 * KM_LON
    areas = tmp_path / "areas.geojson"
    import geopandas as gpd

    gpd.GeoDataFrame({"name": ["West", "East"]},
                     geometry=[box(west - 0.01, TINY_LAT - 0.01, split, TINY_LAT + 0.01),
                               box(split, TINY_LAT - 0.01, west + 0.1, TINY_LAT + 0.01)],
                     crs="EPSG:4326").to_file(areas)
    shares = tmp_path / "shares.csv"
    shares.write_text("area,share\nWest,0.5\nEast,0.25\n")
    return {"network": network, "population": population, "facilities": facilities,
            "areas": areas, "women": women, "shares": shares, "dir": tmp_path}


def scenario(world: dict[str, Path], *indicators: dict[str, Any], **inputs: Any) -> Scenario:
    return scenario_from_dict({
        "inputs": {"network": world["network"], "population": world["population"],
                   "facilities": world["facilities"], **inputs},
        "analysis": {"thresholds_min": [18, 30, 42]}, "siting": {"new_sites": 0},
        "output": {"out": world["dir"] / "out"}, "indicators": list(indicators)})


def surgical(**extra: Any) -> dict[str, Any]:
    return {"name": "surgical", "facilities": HOSPITAL, "target_share": 0.7, **extra}


def rows(result: Any, grouping: str = "all", group: str = "all") -> pd.DataFrame:
    table = result.indicators.long
    return table[(table["grouping"] == grouping) & (table["group"] == group)].set_index(
        "threshold_min")


# --------------------------------------------------------------------------- by hand


def test_surgical_coverage_by_hand(world: dict[str, Path]) -> None:
    from accessmap.pipeline import run

    result = run(scenario(world, surgical()), write=False)
    overall = rows(result)
    # node i is |i - 3| x 12 min from the hospital: within 18 min nodes 2-4, within 30
    # nodes 1-5, within 42 all of them
    assert overall["population_within"].tolist() == pytest.approx([1200, 2000, 2800])
    assert overall["share_within"].tolist() == pytest.approx([1200 / 2800, 2000 / 2800, 1])
    assert overall["met"].tolist() == [False, True, True]  # target 70%
    assert (overall["facilities_counted"] == 1).all()
    assert overall["population"].tolist() == pytest.approx([2800] * 3)
    # the run's own coverage counts all three facilities: within 18 min, everybody
    assert result.coverage["population"].iloc[0] == pytest.approx(2800)


def test_own_thresholds_and_the_wide_table(world: dict[str, Path]) -> None:
    from accessmap.pipeline import run

    result = run(scenario(world, surgical(thresholds_min=[42, 6])), write=False)
    wide = result.indicators.wide.set_index("group")
    # its own thresholds (sorted), one column each: 6 min holds node 3 only
    assert wide.loc["all", "population_6min"] == pytest.approx(400)
    assert wide.loc["all", "share_42min"] == pytest.approx(1.0)
    assert "share_18min" not in wide.columns
    assert rows(result).index.tolist() == [6.0, 42.0]


def test_share_per_area_and_area_rows(world: dict[str, Path]) -> None:
    from accessmap.pipeline import run

    plain = run(scenario(world, surgical(), boundaries=world["areas"]), write=False)
    west, east = rows(plain, "area", "West"), rows(plain, "area", "East")
    assert west.loc[18, "population_within"] == pytest.approx(300 + 400)
    assert west.loc[18, "share_within"] == pytest.approx(700 / 1000)
    assert east.loc[18, "share_within"] == pytest.approx(500 / 1800)
    assert bool(west.loc[18, "met"]) and not bool(east.loc[18, "met"])
    shared = run(scenario(world, surgical(population={"shares": str(world["shares"])}),
                          boundaries=world["areas"]), write=False)
    overall = rows(shared)
    # West people count half, East a quarter: 50 100 150 200 | 125 150 175
    assert overall.loc[18, "population"] == pytest.approx(500 + 450)
    assert overall.loc[18, "population_within"] == pytest.approx(150 + 200 + 125)
    assert rows(shared, "area", "East").loc[30, "population_within"] == pytest.approx(275)


def test_group_raster_and_constant_share(world: dict[str, Path]) -> None:
    from accessmap.pipeline import run

    result = run(scenario(world, surgical(population={"raster": str(world["women"]),
                                                      "label": "women 15-49"}),
                          {"name": "quarter", "facilities": HOSPITAL,
                           "population": {"share": 0.25}}), write=False)
    women = result.indicators.long
    women = women[(women["indicator"] == "surgical") & (women["grouping"] == "all")]
    assert women["population_within"].tolist() == pytest.approx([80, 80, 92])
    # the target group is split between settlement classes as the population is
    classes = result.indicators.wide
    classes = classes[(classes["indicator"] == "surgical")
                      & (classes["grouping"] == "settlement_type")]
    assert classes["population"].sum() == pytest.approx(92)
    quarter = result.indicators.summary[1]
    assert quarter["population"] == pytest.approx(700)
    assert [c["population_within"] for c in quarter["coverage"]] == pytest.approx(
        [300, 500, 700])
    assert quarter["target_share"] is None and quarter["coverage"][0]["met"] is None
    assert result.indicators.summary[0]["population_subset"].startswith("women 15-49")


def test_every_facility_and_everybody_equals_the_run_coverage(world: dict[str, Path]) -> None:
    from accessmap.pipeline import run

    every = {"name": "all", "facilities": {"column": "type",
                                           "equals": ["clinic", "hospital", "health_post"]}}
    result = run(scenario(world, every), write=False)
    assert rows(result)["population_within"].tolist() == pytest.approx(
        result.coverage["population"].tolist())
    assert np.array_equal(result.indicators.time_s["all"], result.access.time_s)


# --------------------------------------------------------------------------- routing


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_subset_times_equal_networkx(seed: int) -> None:
    """Random two-way road graphs, points and facilities on nodes: the subset times are
    networkx's multi-source Dijkstra from the kept facilities."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 14))
    graph = nx.MultiDiGraph()
    for i in range(n):
        graph.add_node(i, x=45.0 + rng.uniform(0, 0.05), y=rng.uniform(0, 0.05))
    for _ in range(2 * n):
        u, v = (int(a) for a in rng.integers(0, n, 2))
        if u != v:
            length = float(rng.uniform(100, 3000))
            graph.add_edge(u, v, length=length, highway="residential")
            graph.add_edge(v, u, length=length, highway="residential")
    if graph.number_of_edges() == 0:
        return
    net = network_from_graph(graph, profile=SpeedProfile.default("drive", max_snap_m=1.0))
    nodes = net.node_osm_id.tolist()
    x, y = net.project(net.node_lon, net.node_lat)
    facility_nodes = rng.choice(len(nodes), size=min(4, len(nodes)), replace=False)
    access = nearest_facility_times(net, x, y, x[facility_nodes], y[facility_nodes],
                                    warn_moves=False)
    keep = rng.random(facility_nodes.size) < 0.5
    keep[0] = True
    time_s, facility = subset_facility_times(net, access, keep)
    simple = nx.Graph()
    simple.add_nodes_from(graph.nodes)
    for u, v, data in graph.edges(data=True):
        seconds = data["length"] / (25 / 3.6)
        if not simple.has_edge(u, v) or simple[u][v]["w"] > seconds:
            simple.add_edge(u, v, w=seconds)
    sources = {nodes[int(i)] for i in facility_nodes[keep]}
    best = nx.multi_source_dijkstra_path_length(simple, sources, weight="w")
    for point, node in enumerate(nodes):
        if node in best:
            assert time_s[point] == pytest.approx(best[node], rel=1e-9, abs=1e-6)
            assert keep[facility[point]]
        else:
            assert not np.isfinite(time_s[point]) and facility[point] == -1
    all_times, _ = subset_facility_times(net, access, np.ones(facility_nodes.size, bool))
    assert np.array_equal(all_times, access.time_s)


# --------------------------------------------------------------------------- settings


def test_scenario_file_form_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[[indicators]]\nname = "surgical_2h"\n'
                    'facilities = { column = "services", contains = ["surgery"] }\n'
                    "thresholds_min = [120]\ntarget_share = 0.8\n"
                    '[[indicators]]\nname = "u5"\nfacilities = { ids = [3] }\n'
                    'population = { raster = "u5.tif", label = "under-5s" }\n')
    loaded = load_scenario(path)
    first, second = loaded.indicators.indicators
    assert first.thresholds((30, 60)) == (120.0,) and second.thresholds((30, 60)) == (30, 60)
    assert second.population is not None and second.population.raster == tmp_path / "u5.tif"
    assert scenario_from_dict(loaded.to_dict()) == loaded
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(json.loads(json.dumps(loaded.to_dict())), scenario_schema())
    assert "indicators" not in Scenario().to_dict() or not Scenario().to_dict()["indicators"]


@pytest.mark.parametrize(("table", "message"), [
    ({"name": "a"}, r"indicators\.a: facilities is missing"),
    ({"name": "a", "facilities": {}}, r"indicators\.a\.facilities is an empty rule"),
    ({"name": "a b", "facilities": {"ids": [1]}}, "use letters, digits"),
    ({"name": "a", "facilities": {"ids": [1]}, "target_share": 1.5},
     r"indicators\.a\.target_share is 1\.5"),
    ({"name": "a", "facilities": {"ids": [1]}, "thresholds_min": [0]}, "positive minutes"),
    ({"name": "a", "facilities": {"ids": [1]}, "population": {"share": 0.2, "raster": "x"}},
     "exactly one of"),
    ({"name": "a", "facilities": {"ids": [1]}, "population": {"share": 2}}, "between 0 and 1"),
    ({"name": "a", "facilities": {"ids": [1]}, "colour": "red"},
     r"unknown key indicators\[0\]\.colour; known: name, facilities"),
])
def test_bad_indicator_settings_name_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        scenario_from_dict({"indicators": [table]})


def test_an_indicator_name_used_twice_is_refused() -> None:
    item = {"name": "a", "facilities": {"ids": [1]}}
    with pytest.raises(ConfigError, match="'a' is used twice"):
        Scenario(indicators=[item, item])


# --------------------------------------------------------------------------- bad inputs


def test_no_facility_of_that_capability_is_a_clear_error(world: dict[str, Path]) -> None:
    from accessmap.pipeline import run

    bad = {"name": "emoc", "facilities": {"column": "services",
                                          "contains": ["emergency_obstetric"]}}
    with pytest.raises(ConfigError, match=r"indicators\.emoc\.facilities: the rule "
                       r"\(services contains emergency_obstetric\) matches no facility "
                       r"\(values of services: anc, surgery\)"):
        run(scenario(world, bad), write=False)


def test_bad_share_files_say_what_to_fix(world: dict[str, Path]) -> None:
    from accessmap.pipeline import run

    by_area = surgical(population={"shares": str(world["shares"])})
    with pytest.raises(ConfigError, match="has no areas; set \\[inputs\\] boundaries"):
        run(scenario(world, by_area), write=False)
    world["shares"].write_text("area,share\nWest,0.5\n")
    with pytest.raises(InputDataError, match="no share for area\\(s\\) East"):
        run(scenario(world, by_area, boundaries=world["areas"]), write=False)
    world["shares"].write_text("area,share\nWest,0.5\nEast,25\n")
    with pytest.raises(InputDataError, match=r"row 3: share 25\.0 is not a share"):
        run(scenario(world, by_area, boundaries=world["areas"]), write=False)
    world["shares"].write_text("zone,share\nWest,0.5\n")
    with pytest.raises(InputDataError, match=r"no column 'area'.*area_column"):
        run(scenario(world, by_area, boundaries=world["areas"]), write=False)


def test_people_outside_the_areas_take_the_mean_share(world: dict[str, Path]) -> None:
    from accessmap.inputs.indicators import area_shares

    indicator = scenario_from_dict({"indicators": [surgical(
        population={"shares": str(world["shares"])})]}).indicators.indicators[0]
    assert indicator.population is not None
    labels = np.array(["West", "East", "(outside areas)"], dtype=object)
    with pytest.warns(DataQualityWarning, match="outside every area"):
        share = area_shares(indicator.population, labels, np.array([100.0, 300.0, 50.0]),
                            where="indicators.surgical.population")
    assert share.tolist() == pytest.approx([0.5, 0.25, (50 + 75) / 400])


def test_cli_prints_one_line_for_an_indicator_without_facilities(
        world: dict[str, Path]) -> None:
    from click.testing import CliRunner

    from accessmap.cli import main

    path = world["dir"] / "s.toml"
    path.write_text(f'[inputs]\nnetwork = "{world["network"]}"\n'
                    f'population = "{world["population"]}"\n'
                    f'facilities = "{world["facilities"]}"\n[siting]\nnew_sites = 0\n'
                    '[[indicators]]\nname = "emoc"\nfacilities = { column = "type", '
                    'equals = ["hospitl"] }\n')
    done = CliRunner().invoke(main, ["run", str(path), "--out", str(world["dir"] / "o")])
    assert done.exit_code != 0
    assert "Traceback" not in done.output
    assert "indicators.emoc.facilities: the rule (type = hospitl) matches no facility" \
        in done.output


# --------------------------------------------------------------------------- the run folder


def test_the_run_folder_holds_the_tables_summary_and_report(world: dict[str, Path]) -> None:
    from accessmap.pipeline import run
    from accessmap.record import COLUMNS, FILES, RunFolder

    run(scenario(world, surgical(), boundaries=world["areas"]))
    folder = RunFolder(world["dir"] / "out")
    long = folder.table(FILES.indicators)
    assert long is not None and list(long.columns) == COLUMNS.indicators_csv()
    units = long[long["grouping"].isin(["all", "area"])]
    assert len(units) == 3 * 3  # all, West, East x three thresholds
    assert set(long["grouping"]) == {"all", "area", "settlement_type"}
    wide = folder.table(FILES.indicators_wide)
    assert wide is not None and len(wide) == 4 and "share_42min" in wide.columns
    entry = folder.summary["indicators"][0]
    assert entry["name"] == "surgical" and entry["facilities_counted"] == 1
    assert [c["met"] for c in entry["coverage"]] == [False, True, True]
    report = folder.file(FILES.report_md).read_text(encoding="utf-8")
    assert "## Indicators for a service" in report and "surgical" in report
    page = folder.file(FILES.map).read_text(encoding="utf-8")
    assert ("surgical: 100.0% of everybody within 42 min of services contains surgery "
            "(target 70%: met)") in page


def test_without_indicators_nothing_changes(world: dict[str, Path]) -> None:
    from accessmap.pipeline import run
    from accessmap.record import FILES

    run(scenario(world))
    out = world["dir"] / "out"
    assert "indicators" not in json.loads((out / FILES.summary).read_text())
    assert not (out / FILES.indicators).exists() and not (out / FILES.indicators_wide).exists()
    assert "Indicators" not in (out / FILES.report_md).read_text(encoding="utf-8")
    assert "of everybody within" not in (out / FILES.map).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- Comoros


@pytest.mark.comoros
def test_comoros_hospitals_within_two_hours_by_car(comoros_dir: Path) -> None:
    """Hospitals only, 120 min, drive: equal to a separate search to the hospitals."""
    from accessmap.analysis.coverage import coverage_table
    from accessmap.pipeline import run

    base = Scenario().replace(
        network=comoros_dir / "comores-latest.osm.pbf",
        population=comoros_dir / "com_ppp_2020_UNadj.tif",
        facilities=comoros_dir / "health.gpkg", exclude={"amenity": ("pharmacy",)},
        boundaries=comoros_dir / "comores-latest.osm.pbf", admin_level=4, mode="drive",
        new_sites=0)
    hospitals = {"name": "hospital_2h", "facilities": {"column": "amenity",
                                                       "equals": ["hospital"]},
                 "thresholds_min": [120], "target_share": 0.8}
    result = run(base.replace(indicators=[hospitals]), write=False)
    facilities, network, population = result.facilities, result.network, result.population
    keep = (facilities["amenity"] == "hospital").to_numpy()
    px, py = network.project(population.lon, population.lat)
    fx, fy = network.project(facilities.geometry.x.to_numpy()[keep],
                             facilities.geometry.y.to_numpy()[keep])
    separate = nearest_facility_times(network, px, py, fx, fy, warn_moves=False)
    expected = coverage_table(separate.time_s, population.population, [120])
    assert result.indicators is not None
    entry = result.indicators.summary[0]
    assert entry["facilities_counted"] == int(keep.sum()) == 28
    within = entry["coverage"][0]
    assert within["population_within"] == pytest.approx(
        float(expected["population"].iloc[0]), abs=0.1)
    assert within["met"] == (within["share_within"] >= 0.8)
    # hospitals are a subset: nobody is closer to a hospital than to any facility
    assert np.all(result.indicators.time_s["hospital_2h"] >= result.access.time_s - 1e-9)
    areas = result.indicators.long
    areas = areas[areas["grouping"] == "area"]
    assert areas["population"].sum() == pytest.approx(population.total, rel=1e-9)


def test_batch_files_resolve_indicator_paths_against_the_scenario_file(tmp_path: Path) -> None:
    from accessmap.batch import load_batch

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "s.toml").write_text(
        '[[indicators]]\nname = "u5"\nfacilities = { ids = [1] }\n'
        'population = { raster = "u5.tif" }\n')
    batch = tmp_path / "batch.toml"
    batch.write_text('[[runs]]\nname = "a"\nscenario = "sub/s.toml"\n')
    _, (first,) = load_batch(batch)
    loaded = scenario_from_dict(first.tables)
    population = loaded.indicators.indicators[0].population
    assert population is not None
    assert population.raster == (tmp_path / "sub" / "u5.tif").resolve()


def test_a_cancelled_run_stops_in_the_indicator_stage(world: dict[str, Path]) -> None:
    from accessmap.errors import Cancelled
    from accessmap.pipeline import run
    from accessmap.progress import CancelToken, ProgressEvent

    token = CancelToken()

    def listen(event: ProgressEvent) -> None:
        if event.stage == "indicators":
            token.cancel()

    with pytest.raises(Cancelled):
        run(scenario(world, surgical()), cancel=token, progress=listen)
    assert not (world["dir"] / "out").exists()
