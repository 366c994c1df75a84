"""Mobile-unit circuits: OR-Tools routing on hand-computable drive networks."""

from __future__ import annotations

import logging

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from accessmap.errors import InputDataError
from accessmap.inputs.network import network_from_graph
from accessmap.routing.network import RoadNetwork
from accessmap.siting import circuits
from accessmap.siting.circuits import CircuitSettings, plan_circuits

STEP = 0.01


def drive_line(n: int = 5, step_s: float = 600.0, *, island: bool = False) -> RoadNetwork:
    """Two-way road 0..n-1 (``step_s`` per edge); optionally a separate road 10-11."""
    graph = nx.MultiDiGraph()
    for i in range(n):
        graph.add_node(i, x=45.0 + i * STEP, y=0.0)
    for i in range(n - 1):
        for a, b in ((i, i + 1), (i + 1, i)):
            graph.add_edge(a, b, length=1000.0, travel_time=step_s, highway="primary")
    if island:
        graph.add_node(10, x=46.0, y=0.0)
        graph.add_node(11, x=46.0 + STEP, y=0.0)
        for a, b in ((10, 11), (11, 10)):
            graph.add_edge(a, b, length=1000.0, travel_time=step_s, highway="primary")
    return network_from_graph(graph, mode="drive", use_travel_time=True)


def stops_at(nodes: list[float], people: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"stop": np.arange(1, len(nodes) + 1),
                         "lon": [45.0 + n * STEP for n in nodes], "lat": 0.0,
                         "people": people})


def bases_at(nodes: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"name": [f"B{n:g}" for n in nodes],
                         "lon": [45.0 + n * STEP for n in nodes], "lat": 0.0})


FAST = CircuitSettings(days_per_week=5, workday_h=8, service_min=60, search_time_s=None)


def test_one_day_route_by_hand() -> None:
    plan = plan_circuits(drive_line(), stops_at([2, 4], [50, 10]), bases_at([0]),
                         settings=FAST)
    assert plan.unserved.empty
    visits = plan.visits.sort_values("order")
    assert visits["stop"].tolist() == [1, 2] and set(visits["day"]) == {1}
    # 20 min to node 2, 60 min service, 20 min to node 4
    assert visits["arrival_min"].tolist() == pytest.approx([20.0, 100.0])
    assert visits["people"].tolist() == [50.0, 10.0]
    route = plan.routes.iloc[0]
    assert route["drive_min"] == pytest.approx(80.0)
    assert route["total_min"] == pytest.approx(200.0)
    coords = np.asarray(route.geometry.coords)
    assert len(coords) == 9  # 0-1-2-3-4-3-2-1-0 along the road
    assert coords[0, 0] == pytest.approx(45.0) and coords[-1, 0] == pytest.approx(45.0)
    assert coords[:, 0].max() == pytest.approx(45.0 + 4 * STEP)
    record = plan.records()[0]
    assert record["base"] == "B0" and record["days"][0]["stops"][1]["arrival_min"] == 100.0


def test_short_days_split_stops_over_the_week() -> None:
    short = CircuitSettings(days_per_week=5, workday_h=2.5, service_min=60,
                            search_time_s=None)
    plan = plan_circuits(drive_line(), stops_at([2, 4], [50, 10]), bases_at([0]),
                         settings=short)
    assert plan.unserved.empty
    assert sorted(plan.visits["day"].tolist()) == [1, 2]  # 200 min together > 150 min
    assert (plan.routes["total_min"] <= 150).all()


def test_stop_that_does_not_fit_the_week_is_unserved() -> None:
    one_day = CircuitSettings(days_per_week=1, workday_h=2.5, service_min=60,
                              search_time_s=None)
    plan = plan_circuits(drive_line(), stops_at([2, 4], [50, 10]), bases_at([0]),
                         settings=one_day)
    assert plan.visits["stop"].tolist() == [1]  # the stop with more people is kept
    assert plan.unserved["stop"].tolist() == [2]
    assert "does not fit in 1 working day" in plan.unserved["reason"].iloc[0]


def test_unreachable_and_too_far_stops_are_reported(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        plan = plan_circuits(drive_line(island=True), stops_at([2, 100], [50, 20]),
                             bases_at([0]), settings=FAST)
    assert plan.visits["stop"].tolist() == [1]
    reason = plan.unserved.set_index("stop")["reason"]
    assert reason[2].startswith(circuits.NO_VEHICLE)
    assert "no base facility can reach it by road" in reason[2]
    assert plan.unreachable_stops().tolist() == [2]
    assert "mobile stop 2 is unserved" in caplog.text
    hour = CircuitSettings(workday_h=1, service_min=10, search_time_s=None)
    far = plan_circuits(drive_line(), stops_at([4], [5]), bases_at([0]), settings=hour)
    assert far.visits.empty and far.routes.empty
    assert "exceeds the 1 h working day" in far.unserved["reason"].iloc[0]


def test_nearest_base_runs_the_unit() -> None:
    plan = plan_circuits(drive_line(), stops_at([3], [5]), bases_at([0, 4]), settings=FAST)
    assert plan.visits["base"].tolist() == ["B4"]
    assert plan.visits["arrival_min"].tolist() == pytest.approx([10.0])


def test_separate_process_when_ortools_cannot_load(monkeypatch: pytest.MonkeyPatch) -> None:
    here = plan_circuits(drive_line(), stops_at([2, 4], [50, 10]), bases_at([0]),
                         settings=FAST)
    monkeypatch.setattr(circuits, "pywrapcp", None)
    there = plan_circuits(drive_line(), stops_at([2, 4], [50, 10]), bases_at([0]),
                          settings=FAST)
    pd.testing.assert_frame_equal(here.visits, there.visits)


def test_bad_settings_and_inputs() -> None:
    with pytest.raises(InputDataError, match="days per week 8"):
        CircuitSettings(days_per_week=8)
    with pytest.raises(InputDataError, match="working day 30"):
        CircuitSettings(workday_h=30)
    with pytest.raises(InputDataError, match="service time -1"):
        CircuitSettings(service_min=-1)
    with pytest.raises(InputDataError, match=r"need column.*people"):
        plan_circuits(drive_line(), stops_at([2], [1]).drop(columns="people"), bases_at([0]))


def _dense_assignment(network: RoadNetwork, stop_node: np.ndarray, base_node: np.ndarray,
                      settings: CircuitSettings) -> list[int]:
    """The former assignment: full Dijkstra from every base, both ways (dense)."""
    import scipy.sparse.csgraph

    out = scipy.sparse.csgraph.dijkstra(network.graph_from, indices=base_node)
    back = scipy.sparse.csgraph.dijkstra(network.graph_to, indices=base_node)
    chosen = []
    for node in stop_node:
        trip = out[:, node] + back[:, node]
        best = int(np.argmin(trip))
        fits = np.isfinite(trip[best]) and \
            trip[best] + settings.service_min * 60 <= settings.workday_h * 3600
        chosen.append(best if fits else -1)
    return chosen


def test_bounded_base_search_picks_the_dense_choice() -> None:
    """Searching from the stops within the day picks the same bases as from every base,
    and still measures a too-far stop's real nearest base for the message (the island
    case is in ``test_unreachable_and_too_far_stops_are_reported``)."""
    net = drive_line(n=40, step_s=300.0)
    settings = CircuitSettings(days_per_week=1, workday_h=2, service_min=30,
                               search_time_s=None)
    stops = stops_at([1, 7, 12, 20, 33, 39], [5, 5, 5, 5, 5, 5])
    bases = bases_at([0, 9, 9, 25])
    stop_node = circuits.nearest_nodes(net, stops["lon"].to_numpy(), stops["lat"].to_numpy())
    base_node = circuits.nearest_nodes(net, bases["lon"].to_numpy(), bases["lat"].to_numpy())
    unserved: list[dict[str, object]] = []
    got = circuits._assign_bases(net, stops, stop_node, base_node, settings, unserved)
    assert got.tolist() == _dense_assignment(net, stop_node, base_node, settings)
    assert got.tolist()[:3] == [0, 1, 1]  # ties between bases on one node: the first
    reasons = {int(u["stop"]): str(u["reason"]) for u in unserved}  # type: ignore[call-overload]
    assert list(reasons) == [6]
    assert "takes 140 min" in reasons[6]  # node 39 to base 25: 14 x 5 min, both ways


def test_base_choice_counts_the_walk_between_facility_and_road() -> None:
    """Two bases equally far by road: the one 2 km off the road loses."""
    bases = pd.DataFrame({"name": ["Hill", "Road"], "lon": [45.0, 45.0 + 4 * STEP],
                          "lat": [0.02, 0.0]})
    plan = plan_circuits(drive_line(), stops_at([2], [5]), bases, settings=FAST)
    assert plan.visits["base"].tolist() == ["Road"]


def test_preferred_base_is_used_when_it_can_serve_the_stop() -> None:
    stops = stops_at([3], [5])
    plan = plan_circuits(drive_line(), stops, bases_at([0, 4]), settings=FAST,
                         preferred_base=np.array([0]))
    assert plan.visits["base"].tolist() == ["B0"]
    hour = CircuitSettings(workday_h=1, service_min=10, search_time_s=None)
    plan = plan_circuits(drive_line(), stops, bases_at([0, 4]), settings=hour,
                         preferred_base=np.array([0]))
    assert plan.visits["base"].tolist() == ["B4"]  # B0: 60 min of driving + 10 of service
    plan = plan_circuits(drive_line(), stops, bases_at([0, 4]), settings=FAST,
                         preferred_base=np.array([0]), preferred_slack_s=60.0)
    assert plan.visits["base"].tolist() == ["B4"]  # B0 is 40 min longer than B4


def test_stop_off_every_drivable_road_is_unreachable_by_vehicle() -> None:
    stops = pd.DataFrame({"stop": [1], "lon": [45.0], "lat": [1.0], "people": [3.0]})
    plan = plan_circuits(drive_line(), stops, bases_at([0]), settings=FAST)
    assert plan.unreachable_stops().tolist() == [1]
    assert plan.unserved["reason"].iloc[0].startswith(circuits.NO_VEHICLE)
