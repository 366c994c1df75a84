"""Referral times between facility levels: by hand, and equal to networkx on random graphs."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from accessmap.analysis.referral import referral_routes
from accessmap.errors import InputDataError
from accessmap.inputs.network import network_from_graph
from accessmap.routing.modes import SpeedProfile
from accessmap.routing.network import RoadNetwork

#: Facilities sit on nodes; a 1 m snap keeps each on its own road (no re-snapping).
TIGHT = SpeedProfile.default("drive", max_snap_m=1.0)

KM = 1 / 111.32  # degrees of longitude per km on the equator (about)


def facilities_at(net: RoadNetwork, nodes: list[int], levels: list[str]) -> gpd.GeoDataFrame:
    index = [net.node_osm_id.tolist().index(n) for n in nodes]
    return gpd.GeoDataFrame(
        {"facility_id": np.arange(len(nodes)), "name": [f"F{n}" for n in nodes],
         "type": levels},
        geometry=[Point(net.node_lon[i], net.node_lat[i]) for i in index], crs="EPSG:4326")


def line(n: int, *, oneway_back_slow: bool = False) -> RoadNetwork:
    """Nodes 0..n-1 eastwards, 1 km apart; with the flag, westward is a slow detour."""
    graph = nx.MultiDiGraph()
    for i in range(n):
        graph.add_node(i, x=45.0 + i * KM, y=0.0)
    for u in range(n - 1):
        graph.add_edge(u, u + 1, length=1000.0, highway="residential")
        if not oneway_back_slow:
            graph.add_edge(u + 1, u, length=1000.0, highway="residential")
        else:
            graph.add_edge(u + 1, u, length=1000.0, highway="track")
    return network_from_graph(graph, profile=TIGHT)


def test_referral_by_hand_goes_to_the_nearest_higher_level() -> None:
    net = line(6)
    facilities = facilities_at(net, [0, 2, 5], ["clinic", "clinic", "hospital"])
    referral = referral_routes(net, facilities, level_column="type",
                               levels=["clinic", "hospital"])
    table = referral.table.set_index("name")
    # residential drive 25 km/h: 1 km = 2.4 min
    assert table.loc["F0", "referral_to"] == "F5"
    assert table.loc["F0", "time_min"] == pytest.approx(5 * 2.4, rel=1e-6)
    assert table.loc["F2", "time_min"] == pytest.approx(3 * 2.4, rel=1e-6)
    assert table.loc["F2", "distance_km"] == pytest.approx(3.0, rel=1e-6)
    assert table["reachable"].all()
    assert len(referral.routes) == 2 and referral.routes.crs == "EPSG:4326"
    assert all(len(g.coords) >= 2 for g in referral.routes.geometry)


def test_return_trip_differs_where_one_ways_differ() -> None:
    net = line(3, oneway_back_slow=True)  # back on tracks at 15 km/h: 4 min a km
    facilities = facilities_at(net, [0, 2], ["clinic", "hospital"])
    row = referral_routes(net, facilities, level_column="type",
                          levels=["clinic", "hospital"]).table.iloc[0]
    assert row["time_min"] == pytest.approx(2 * 2.4, rel=1e-6)
    assert row["return_time_min"] == pytest.approx(2 * 4.0, rel=1e-6)


def test_a_facility_on_a_cut_off_piece_is_flagged_not_dropped() -> None:
    graph = nx.MultiDiGraph()
    for i in range(4):
        graph.add_node(i, x=45.0 + i * KM, y=0.0)
    graph.add_edge(0, 1, length=1000.0, highway="residential")
    graph.add_edge(1, 0, length=1000.0, highway="residential")
    graph.add_edge(2, 3, length=1000.0, highway="residential")
    graph.add_edge(3, 2, length=1000.0, highway="residential")
    net = network_from_graph(graph, profile=TIGHT)
    facilities = facilities_at(net, [0, 1, 3], ["clinic", "hospital", "clinic"])
    table = referral_routes(net, facilities, level_column="type",
                            levels=["clinic", "hospital"]).table.set_index("name")
    assert table.loc["F0", "reachable"]
    assert not table.loc["F3", "reachable"] and np.isnan(table.loc["F3", "time_min"])


def test_bad_referral_settings_say_what_is_wrong() -> None:
    net = line(3)
    facilities = facilities_at(net, [0, 2], ["clinic", "clinic"])
    with pytest.raises(InputDataError, match="no column 'level'"):
        referral_routes(net, facilities, level_column="level", levels=["a", "b"])
    with pytest.raises(InputDataError, match="at least two levels"):
        referral_routes(net, facilities, level_column="type", levels=["clinic"])
    with pytest.raises(InputDataError, match="fewer than two of the levels"):
        referral_routes(net, facilities, level_column="type", levels=["clinic", "hospital"])


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_referral_times_equal_networkx(seed: int) -> None:
    """Random directed road graphs, facilities on nodes: times equal networkx's."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 12))
    graph = nx.MultiDiGraph()
    for i in range(n):
        graph.add_node(i, x=45.0 + rng.uniform(0, 0.05), y=rng.uniform(0, 0.05))
    for _ in range(3 * n):
        u, v = (int(a) for a in rng.integers(0, n, 2))
        if u != v:
            graph.add_edge(u, v, length=float(rng.uniform(100, 3000)), highway="residential")
    net = network_from_graph(graph, profile=TIGHT)
    nodes = [int(a) for a in rng.choice(net.node_osm_id, size=min(4, net.n_nodes),
                                        replace=False)]
    levels = ["clinic", "clinic", "hospital", "hospital"][:len(nodes)]
    if "hospital" not in levels:
        return
    facilities = facilities_at(net, nodes, levels)
    table = referral_routes(net, facilities, level_column="type",
                            levels=["clinic", "hospital"]).table
    simple = nx.DiGraph()
    for u, v, data in graph.edges(data=True):
        minutes = data["length"] / (25 / 3.6) / 60
        if not simple.has_edge(u, v) or simple[u][v]["w"] > minutes:
            simple.add_edge(u, v, w=minutes)
    for _, row in table.iterrows():
        source = nodes[int(row["facility_id"])]
        best = min((nx.dijkstra_path_length(simple, source, nodes[j], weight="w")
                    for j, lv in enumerate(levels) if lv == "hospital"
                    and nx.has_path(simple, source, nodes[j])), default=None)
        if best is None:
            assert not row["reachable"]
        else:
            assert row["time_min"] == pytest.approx(best, rel=1e-9, abs=1e-9)


def test_a_run_writes_the_referral_table_layer_and_summary(tmp_path: object) -> None:
    """The demo: health posts -> health centres -> the district hospital, walking."""
    from pathlib import Path

    from accessmap.demo import demo_scenario
    from accessmap.pipeline import run
    from accessmap.record import FILES, LAYERS, RunFolder

    out = Path(str(tmp_path)) / "run"
    scenario = demo_scenario().replace(out=out, new_sites=0, level_column="amenity",
                                       levels=["doctors", "clinic", "hospital"])
    result = run(scenario)
    assert result.referral is not None
    table = result.referral.table
    assert sorted(table["level"]) == ["clinic"] * 3 + ["doctors"] * 3
    # a health centre refers only to the hospital; a health post to the nearest above it
    assert set(table.loc[table["level"] == "clinic", "referral_level"]) == {"hospital"}
    assert table["reachable"].all() and (table["time_min"] > 0).all()
    folder = RunFolder(out)
    summary = folder.summary["referral"]
    assert summary["facilities"] == 6 and summary["unreachable"] == []
    assert summary["max_time_min"] == pytest.approx(table["time_min"].max(), abs=0.05)
    assert (out / FILES.referral).is_file()
    routes = folder.layer(LAYERS.referral_routes)
    assert routes is not None and len(routes) == 6
    # the map draws the routes, the report lists every referral with its time
    assert "Referral routes (colour = travel time)" in (out / FILES.map).read_text()
    report = (out / FILES.report_md).read_text()
    assert "## Referral" in report and "6 of 6 facilities reach" in report
    for row in table.itertuples():
        assert f"| {row.name} | {row.level} | {row.referral_to} | {row.time_min:.0f} |" in report


def test_referral_settings_are_checked() -> None:
    from accessmap.config import Scenario
    from accessmap.errors import ConfigError

    with pytest.raises(ConfigError, match=r"referral\.levels: give at least two levels"):
        Scenario(referral={"level_column": "type", "levels": ["hospital"]})


def test_the_map_rings_a_facility_whose_referral_has_no_route(tmp_path: object) -> None:
    import json
    from pathlib import Path

    import pandas as pd

    from accessmap.outputs.maps import write_map
    from accessmap.record import FILES
    from tests.runfolder_factory import make_run_folder

    run = make_run_folder(Path(str(tmp_path)) / "run")
    pd.DataFrame({"facility_id": [1], "name": ["Centre"], "level": ["health_post"],
                  "referral_to": [None], "time_min": [None], "distance_km": [None],
                  "reachable": [False]}).to_csv(run / FILES.referral, index=False)
    text = write_map(run, overwrite=True).read_text()
    assert "Referral routes (colour = travel time)" in text
    ringed = [f for f in _features(text) if "no referral route" in f.get("t", "")]
    assert len(ringed) == 1 and "Centre de sant" in ringed[0]["t"]
    assert json.dumps(ringed[0]["s"]).count("radius") == 1


def _features(html: str) -> list[dict[str, object]]:
    """Properties of every feature passed to Leaflet as JSON data in the map page."""
    import json
    import re

    out, decoder = [], json.JSONDecoder()
    for found in re.finditer(r"L\.geoJSON\(", html):
        data, _ = decoder.raw_decode(html, found.end())
        out += [feature["properties"] for feature in data["features"]]
    return out
