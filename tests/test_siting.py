"""Site selection: coverage matrix on hand-computable networks, MCLP exact vs greedy
(vs spopt and brute force), LSCP, equity weights, candidates, the pipeline stage."""

from __future__ import annotations

import importlib.util
import itertools
import logging
import time
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import scipy.sparse
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from accessmap.config import Scenario, Siting
from accessmap.errors import InputDataError
from accessmap.inputs.network import network_from_graph
from accessmap.inputs.population import Population
from accessmap.routing.network import RoadNetwork
from accessmap.routing.snapping import snap_points
from accessmap.routing.travel_times import nearest_facility_times
from accessmap.siting import models as _siting_models
from accessmap.siting.candidates import (
    candidate_nodes,
    candidates_from_points,
    coverage_matrix,
    equity_weights,
    filter_candidates,
    point_groups,
)
from accessmap.siting.models import (
    covered_weight,
    lazy_greedy,
    marginal_gain_table,
    minimum_sites,
    reduce_instance,
    select_sites,
)
from accessmap.siting.plan import (
    MOBILE_UNIT_STOP,
    NO_FACILITY_PIECE,
    SATELLITE_CLINIC,
    SitingData,
    recommend_sites,
    site_kind,
)

STEP = 0.01  # degrees between nodes (about 1.1 km at the equator)


def line_network(n: int = 5, step_s: float = 600.0, *, mode: str = "walk",
                 oneway: bool = False) -> RoadNetwork:
    """Nodes 0..n-1 along the equator, each edge ``step_s`` seconds."""
    graph = nx.MultiDiGraph()
    for i in range(n):
        graph.add_node(i, x=45.0 + i * STEP, y=0.0)
    for i in range(n - 1):
        graph.add_edge(i, i + 1, length=1000.0, travel_time=step_s, highway="residential")
        if not oneway and mode == "drive":
            graph.add_edge(i + 1, i, length=1000.0, travel_time=step_s, highway="residential")
    return network_from_graph(graph, mode=mode, use_travel_time=True)


def node_index(net: RoadNetwork, osm: int) -> int:
    return int(np.flatnonzero(net.node_osm_id == osm)[0])


def cover_for(net: RoadNetwork, cand_osm: list[int], lons: list[float],
              threshold_s: float) -> np.ndarray:
    x, y = net.project(np.array(lons), np.zeros(len(lons)))
    snap = snap_points(net, x, y)
    cands = np.array([node_index(net, c) for c in cand_osm])
    cover = coverage_matrix(net, cands, snap, np.arange(len(lons)), threshold_s)
    return cover.matrix.toarray()


# --------------------------------------------------------------------------- coverage


def test_candidate_thinning_keeps_the_smallest_osm_id_per_cell() -> None:
    """One node per cell, chosen by OSM id, whatever the internal node numbering."""
    graph = nx.MultiDiGraph()
    ids = [50, 10, 30, 20, 40]
    for i, osm in enumerate(ids):
        graph.add_node(osm, x=45.0 + i * STEP, y=0.0)
    for a, b in itertools.pairwise(ids):
        graph.add_edge(a, b, length=1000.0, highway="residential")
    net = network_from_graph(graph, mode="walk")
    x, y = net.project(45.0 + STEP * np.arange(5), np.zeros(5))
    snap = snap_points(net, x, y)
    needy = np.ones(5, dtype=bool)
    one_cell = candidate_nodes(net, snap, needy, spacing_m=1e7)
    assert net.node_osm_id[one_cell].tolist() == [10]
    every_node = candidate_nodes(net, snap, needy, spacing_m=10.0)
    assert sorted(net.node_osm_id[every_node].tolist()) == sorted(ids)




def test_coverage_matrix_on_a_line_by_hand() -> None:
    net = line_network()
    lons = [45.0 + i * STEP for i in range(5)]  # a demand point on every node
    got = cover_for(net, [2, 0], lons, 900.0)
    # node 2 reaches nodes 1..3 within 15 min (10 min per edge); node 0 reaches 0 and 1
    assert got.tolist() == [[False, True, True, True, False],
                            [True, True, False, False, False]]


def test_mid_segment_demand_pays_half_the_segment() -> None:
    net = line_network()
    lon = [45.0 + 0.5 * STEP]  # halfway between nodes 0 and 1: 300 s to node 1
    assert cover_for(net, [2], lon, 901.0)[0, 0]  # 300 + 600
    assert not cover_for(net, [2], lon, 899.0)[0, 0]


def test_direction_is_demand_travelling_to_the_site() -> None:
    net = line_network(3, mode="drive", oneway=True)  # 0 -> 1 -> 2 only
    lons = [45.0, 45.0 + 2 * STEP]
    got = cover_for(net, [1], lons, 700.0)
    assert got.tolist() == [[True, False]]  # node 0 can drive to 1; node 2 cannot


# --------------------------------------------------------------------------- models


def matrix_of(rows: list[list[int]], n_cols: int) -> scipy.sparse.csr_array:
    dense = np.zeros((len(rows), n_cols), dtype=bool)
    for r, cols in enumerate(rows):
        dense[r, cols] = True
    return scipy.sparse.csr_array(dense)


def brute_force(matrix: np.ndarray, weights: np.ndarray, k: int) -> float:
    best = 0.0
    for combo in itertools.combinations(range(matrix.shape[0]), min(k, matrix.shape[0])):
        best = max(best, float(weights[matrix[list(combo)].any(axis=0)].sum()))
    return best


def test_reduce_merges_identical_columns_and_drops_uncovered() -> None:
    m = matrix_of([[0, 1, 3], [1, 3]], 5)  # cols 1 and 3 have the same set; 2, 4 uncovered
    red = reduce_instance(m, np.array([1.0, 2.0, 4.0, 8.0, 16.0]))
    assert red.weights.tolist() == [1.0, 10.0]
    assert red.matrix.toarray().tolist() == [[True, True], [False, True]]
    assert red.group.tolist() == [0, 1, -1, 1, -1]


def test_greedy_is_not_optimal_here_but_exact_is() -> None:
    # classic trap: the big middle set looks best first, the two halves are optimal
    m = matrix_of([[0, 1, 2, 3], [0, 1, 4], [2, 3, 5]], 6)
    w = np.array([1.0, 1.0, 1.0, 1.0, 1.5, 1.5])
    sel = select_sites(reduce_instance(m, w), 2, method="exact")
    assert sel.model == "exact" and sel.solver_status == "optimal"
    assert sel.objective == pytest.approx(7.0)
    assert sel.greedy_objective == pytest.approx(5.5)
    assert sel.gap == pytest.approx(1.5 / 7.0)
    assert sorted(sel.chosen.tolist()) == [1, 2]
    assert sel.gain_weight.sum() == pytest.approx(7.0)


def test_exact_equals_spopt_mclp() -> None:
    import pulp
    from spopt.locate import MCLP

    rng = np.random.default_rng(7)
    dense = rng.random((12, 40)) < 0.2
    w = rng.integers(1, 100, 40).astype(float)
    sel = select_sites(reduce_instance(scipy.sparse.csr_array(dense), w), 3,
                              method="exact")
    cost = np.where(dense.T, 0.0, 10.0)  # spopt: demand x facilities
    model = MCLP.from_cost_matrix(cost, w, service_radius=1.0, p_facilities=3)
    model.solve(pulp.PULP_CBC_CMD(msg=False))
    opened = [i for i, v in enumerate(model.fac_vars) if v.value() > 0.5]
    spopt_obj = float(w[dense[opened].any(axis=0)].sum())
    assert sel.objective == pytest.approx(spopt_obj)
    assert sel.objective == pytest.approx(brute_force(dense, w, 3))


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 7), st.integers(1, 12), st.integers(1, 3), st.integers(0, 10_000))
def test_greedy_never_beats_exact_and_equals_it_for_one_site(
    n_cand: int, n_dem: int, k: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    dense = rng.random((n_cand, n_dem)) < 0.4
    w = rng.random(n_dem) * 100
    inst = reduce_instance(scipy.sparse.csr_array(dense), w)
    chosen, _ = lazy_greedy(inst.matrix, inst.weights, k)
    greedy = covered_weight(inst.matrix, inst.weights, chosen)
    optimum = brute_force(dense, w, k)
    assert greedy <= optimum + 1e-9
    assert greedy >= (1 - 1 / np.e) * optimum - 1e-9
    if k == 1:
        assert greedy == pytest.approx(optimum)
    if dense.any():
        sel = select_sites(inst, k, method="exact")
        assert sel.objective == pytest.approx(optimum)
        assert sel.greedy_objective <= sel.objective + 1e-9


def test_lazy_greedy_matches_plain_greedy() -> None:
    rng = np.random.default_rng(3)
    dense = rng.random((30, 200)) < 0.1
    w = rng.random(200)
    chosen, gains = lazy_greedy(scipy.sparse.csr_array(dense), w, 8)
    remaining, plain = w.copy(), []
    for _ in range(8):
        g = dense.astype(float) @ remaining
        plain.append(int(np.argmax(g)))
        remaining[dense[plain[-1]]] = 0
    assert chosen.tolist() == plain
    assert gains[0] == pytest.approx(float((dense.astype(float) @ w).max()))
    assert np.all(np.diff(gains) <= 1e-12)  # submodular: gains never grow


def test_greedy_equals_exact_for_disjoint_sets() -> None:
    m = matrix_of([[0], [1, 2], [3], [4, 5, 6]], 7)  # disjoint: greedy provably optimal
    w = np.array([5.0, 1.0, 1.0, 4.0, 1.0, 1.0, 1.0])
    sel = select_sites(reduce_instance(m, w), 2, method="exact")
    assert sel.gap == pytest.approx(0.0)
    assert sel.objective == sel.greedy_objective == pytest.approx(5.0 + 4.0)


def test_k_above_candidates_is_explained() -> None:
    m = matrix_of([[0], [1]], 2)
    sel = select_sites(reduce_instance(m, np.array([1.0, 2.0])), 5)
    assert "only 2 candidates" in sel.notes[0]
    assert sel.chosen.tolist() == [1, 0]  # ranked by gain


def test_no_candidates_is_a_clear_error() -> None:
    empty = reduce_instance(scipy.sparse.csr_array((0, 3), dtype=bool), np.ones(3))
    with pytest.raises(InputDataError, match="no candidate sites"):
        select_sites(empty, 2)
    with pytest.raises(InputDataError, match="whole number >= 0"):
        select_sites(empty, -1)
    with pytest.raises(InputDataError, match="solver 'gurobi' is unknown"):
        select_sites(empty, 1, solver="gurobi")


class _FakeBackend:
    def __init__(self, *, available: bool, sleep_s: float = 0.0) -> None:
        self._available, self._sleep = available, sleep_s

    def available(self) -> bool:
        return self._available

    def actualSolve(self, problem: object) -> int:
        time.sleep(self._sleep)
        problem.status, problem.sol_status = 0, 0  # type: ignore[attr-defined]
        return 0


def test_missing_solver_falls_back_to_greedy(monkeypatch: pytest.MonkeyPatch,
                                             caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(_siting_models, "_pulp_solver",
                        lambda *a: _FakeBackend(available=False))
    m = matrix_of([[0, 1], [1, 2]], 3)
    with caplog.at_level(logging.WARNING):
        sel = select_sites(reduce_instance(m, np.ones(3)), 1, method="exact")
    assert sel.model == "greedy" and sel.gap is None
    assert "not available" in sel.solver_status
    assert "fell back to the greedy" in sel.notes[0]
    assert "exact MCLP not solved" in caplog.text


def test_solver_timeout_falls_back_to_greedy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_siting_models, "_pulp_solver",
                        lambda *a: _FakeBackend(available=True, sleep_s=0.06))
    m = matrix_of([[0, 1], [1, 2]], 3)
    sel = select_sites(reduce_instance(m, np.ones(3)), 1, method="exact",
                              time_limit_s=0.05)
    assert sel.model == "greedy"
    assert "time limit of 0.05 s reached" in sel.solver_status
    assert sel.objective == pytest.approx(2.0)


def test_auto_uses_greedy_above_the_size_limit() -> None:
    m = matrix_of([[0], [1], [2]], 3)
    sel = select_sites(reduce_instance(m, np.ones(3)), 1,
                              exact_max_candidates=2)
    assert sel.model == "greedy" and "exceed exact_max_candidates=2" in sel.notes[0]


def test_minimum_sites_by_hand() -> None:
    m = matrix_of([[0, 1, 2, 3], [0, 1, 4], [2, 3, 5], [6]], 7)
    pop = np.array([1.0, 1.0, 1.0, 1.0, 1.5, 1.5, 0.5])
    inst = reduce_instance(m, pop)
    res = minimum_sites(inst, 7.0)  # needs sites 1 and 2 (greedy would take 3)
    assert res.feasible and res.n_sites == 2 and res.model == "exact"
    assert sorted(res.chosen.tolist()) == [1, 2]
    greedy = minimum_sites(inst, 7.0, method="greedy")
    assert greedy.n_sites == 3
    none = minimum_sites(inst, 8.0)
    assert not none.feasible and none.n_sites is None
    assert none.reachable_population == pytest.approx(7.5)
    assert "no set of candidate sites reaches the target" in none.message


def test_marginal_gain_table_by_hand() -> None:
    table = marginal_gain_table(np.array([30.0, 10.0]), covered_before=20.0,
                                       population_total=100.0)
    assert table["cumulative_added"].tolist() == [30.0, 40.0]
    assert table["covered_population"].tolist() == [50.0, 60.0]
    assert table["cumulative_share"].tolist() == pytest.approx([0.5, 0.6])


# --------------------------------------------------------------------------- weights


def test_travel_time_weights_formula() -> None:
    w = equity_weights(np.array([10.0, 10.0, 10.0]), weighting="travel_time",
                              time_s=np.array([5400.0, 18000.0, np.inf]), threshold_s=3600.0,
                              time_cap=3.0)
    assert w.tolist() == pytest.approx([15.0, 30.0, 30.0])


def test_group_weights_and_errors() -> None:
    w = equity_weights(np.array([10.0, 10.0, 10.0]), weighting="group",
                              groups=np.array(["1", "5", None], dtype=object),
                              group_weights={"1": 2.0})
    assert w.tolist() == [20.0, 10.0, 10.0]
    with pytest.raises(InputDataError, match="weighting 'wealth' is unknown"):
        equity_weights(np.ones(1), weighting="wealth")
    with pytest.raises(InputDataError, match="needs group polygons"):
        equity_weights(np.ones(1), weighting="group")
    with pytest.raises(InputDataError, match="needs current travel times"):
        equity_weights(np.ones(1), weighting="travel_time")


def test_point_groups_from_polygons() -> None:
    polys = gpd.GeoDataFrame({"q": [1, 5]}, geometry=[box(0, 0, 1, 1), box(2, 0, 3, 1)],
                             crs="EPSG:4326")
    got = point_groups(np.array([0.5, 2.5, 9.0]), np.array([0.5, 0.5, 0.5]), polys, "q")
    assert got.tolist() == ["1", "5", None]
    with pytest.raises(InputDataError, match="no column 'wealth'"):
        point_groups(np.zeros(1), np.zeros(1), polys, "wealth")


def test_site_kind_rule() -> None:
    assert site_kind(5000.0, 5000.0) == SATELLITE_CLINIC
    assert site_kind(4999.9, 5000.0) == MOBILE_UNIT_STOP


# --------------------------------------------------------------------------- candidates


def test_filter_candidates_exclusions_and_facility_distance() -> None:
    net = line_network()
    nodes = np.arange(5)
    lon = net.node_lon
    zone = gpd.GeoDataFrame(geometry=[box(lon[node_index(net, 3)] - 0.001, -0.001,
                                          lon[node_index(net, 3)] + 0.001, 0.001)],
                            crs="EPSG:4326")
    fx, fy = net.project(np.array([45.0]), np.array([0.0]))
    kept = filter_candidates(net, nodes, exclusions=zone, facility_x=fx, facility_y=fy,
                                    min_distance_m=1500)
    assert sorted(net.node_osm_id[kept].tolist()) == [2, 4]  # 0,1 near facility; 3 excluded


def test_candidates_from_points(caplog: pytest.LogCaptureFixture) -> None:
    net = line_network()
    points = gpd.GeoDataFrame(geometry=[Point(45.0201, 0.0001), Point(60.0, 10.0)],
                              crs="EPSG:4326")
    with caplog.at_level(logging.WARNING):
        nodes = candidates_from_points(net, points)
    assert net.node_osm_id[nodes].tolist() == [2]
    assert "farther than" in caplog.text and "rows 2" in caplog.text
    with pytest.raises(InputDataError, match="no candidate points"):
        candidates_from_points(net, points.iloc[:0])


# --------------------------------------------------------------------------- stage


def tiny_run(net: RoadNetwork, people: list[tuple[float, float]],
             facility_lons: list[float]) -> tuple[Population, gpd.GeoDataFrame, object]:
    lon = np.array([p[0] for p in people])
    pop = Population(lon=lon, lat=np.zeros(lon.size), population=np.array([p[1] for p in people]),
                     row=np.zeros(lon.size, dtype=np.int64), col=np.arange(lon.size),
                     transform=Affine.identity(), shape=(1, lon.size), crs="EPSG:4326",
                     source="test")
    fac = gpd.GeoDataFrame({"name": [f"F{i}" for i in range(len(facility_lons))]},
                           geometry=[Point(x, 0.0) for x in facility_lons], crs="EPSG:4326")
    px, py = net.project(pop.lon, pop.lat)
    fx, fy = net.project(np.array(facility_lons), np.zeros(len(facility_lons)))
    return pop, fac, nearest_facility_times(net, px, py, fx, fy)


def _siting_data(net: RoadNetwork, pop: Population, fac: gpd.GeoDataFrame, access: object,
                 **extra: object) -> SitingData:
    return SitingData(network=net, population=pop, facilities=fac, access=access,
                      thresholds_min=(15.0,), threshold_min=15.0, **extra)  # type: ignore[arg-type]


def test_recommend_sites_end_to_end() -> None:
    net = line_network(7)
    # facility at node 0; 100 people at nodes 3, 5 and 6; threshold 15 min
    people = [(45.0, 50.0), (45.0 + 3 * STEP, 100.0), (45.0 + 5 * STEP, 100.0),
              (45.0 + 6 * STEP, 100.0)]
    pop, fac, access = tiny_run(net, people, [45.0])
    x6 = 45.0 + 6 * STEP
    zone = gpd.GeoDataFrame(geometry=[box(x6 - 0.001, -0.001, x6 + 0.001, 0.001)],
                            crs="EPSG:4326")
    settings = Siting(new_sites=1, candidate_spacing_m=10.0, satellite_min_population=150.0,
                      mobile=False)
    plan = recommend_sites(settings, _siting_data(net, pop, fac, access, exclusions=zone))
    # node 6 excluded; node 5 covers nodes 5 and 6 (200 people): the best site
    site = plan.sites.iloc[0]
    assert net.node_osm_id[site["node"]] == 5
    assert site["added_population"] == pytest.approx(200.0)
    assert site["kind"] == SATELLITE_CLINIC
    assert site["nearest_facility"] == "F0"
    assert site["nearest_facility_time_min"] == pytest.approx(50.0)
    assert site["cumulative_share"] == pytest.approx(250 / 350)
    assert site.geometry.x == pytest.approx(net.node_lon[site["node"]])  # on the network
    assert 6 not in net.node_osm_id[plan.candidates["node"]].tolist()
    row = plan.coverage_with_new_sites.iloc[0]
    assert row["population"] == pytest.approx(250.0)
    assert plan.info["model"] == "exact" and plan.info["gap"] == 0.0
    assert plan.marginal_gain["cumulative_share"].iloc[0] == pytest.approx(250 / 350, 1e-5)


def test_recommend_sites_target_and_empty_candidates() -> None:
    net = line_network(7)
    people = [(45.0, 50.0), (45.0 + 3 * STEP, 100.0), (45.0 + 6 * STEP, 100.0)]
    pop, fac, access = tiny_run(net, people, [45.0])
    data = _siting_data(net, pop, fac, access)
    plan = recommend_sites(Siting(new_sites=2, candidate_spacing_m=10.0, coverage_target=0.9,
                                  mobile=False), data)
    assert plan.target is not None and plan.target["sites_needed"] == 2
    far = recommend_sites(Siting(new_sites=2, candidate_spacing_m=10.0,
                                 min_distance_from_facility_m=1e6, mobile=False), data)
    assert far.sites.empty
    assert "no candidate sites" in far.info["notes"][0]  # type: ignore[index]


def test_the_siting_stage_reports_progress_and_can_be_cancelled() -> None:
    from accessmap.errors import Cancelled

    net = line_network(7)
    people = [(45.0, 50.0), (45.0 + 3 * STEP, 100.0), (45.0 + 6 * STEP, 100.0)]
    pop, fac, access = tiny_run(net, people, [45.0])
    seen: list[float] = []
    recommend_sites(Siting(new_sites=1, candidate_spacing_m=10.0, mobile=False),
                    _siting_data(net, pop, fac, access),
                    tick=lambda fraction, message="": seen.append(fraction))
    assert seen == sorted(seen) and seen[-1] == 1.0

    def stop(fraction: float, message: str = "") -> None:
        raise Cancelled("run cancelled: test")

    with pytest.raises(Cancelled):
        recommend_sites(Siting(new_sites=1, candidate_spacing_m=10.0, mobile=False),
                        _siting_data(net, pop, fac, access), tick=stop)


# --------------------------------------------------------------------------- Comoros


@pytest.mark.comoros
@pytest.mark.slow
def test_comoros_exact_vs_greedy_and_mobile_circuits(comoros_dir: Path, tmp_path: Path) -> None:
    from accessmap import pipeline

    scenario = Scenario().replace(
        network=comoros_dir / "comores-latest.osm.pbf",
        population=comoros_dir / "com_ppp_2020_UNadj.tif",
        facilities=comoros_dir / "health.gpkg", exclude={"amenity": ("pharmacy",)},
        mode="walk", thresholds_min=(30.0, 60.0, 120.0), new_sites=10,
        satellite_min_population=14000.0, out=tmp_path / "out",
    )
    result = pipeline.run(scenario, write=False)
    info = result.summary["siting"]
    assert info["model"] == "exact" and info["solver_status"] == "optimal"
    assert info["objective"] >= info["greedy_objective"]
    assert info["gap"] <= 0.03
    sites = result.summary["recommended_sites"]
    assert len(sites) == 10
    assert sum(s["added_population"] for s in sites) == pytest.approx(info["objective"], 1e-6)
    after = {r["threshold_min"]: r["population"] for r in result.summary[
        "coverage_with_new_sites"]}
    assert sites[-1]["cumulative_share"] * result.population.total == pytest.approx(
        after[60.0], rel=1e-3)
    west, south, east, north = result.network.bounds_lonlat()
    assert all(west <= s["lon"] <= east and south <= s["lat"] <= north for s in sites)
    mobile = [s["rank"] for s in sites if s["kind"] == MOBILE_UNIT_STOP]
    visited = [stop["stop"] for unit in result.summary["mobile_circuits"]
               for day in unit["days"] for stop in day["stops"]]
    unserved = result.siting.circuits.unserved["stop"].tolist() if mobile else []
    assert sorted(visited + unserved) == sorted(mobile)


# --------------------------------------------------------------------------- planner script

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "site_selection.py"


@pytest.mark.slow
def test_site_selection_script_runs(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("site_selection", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.main(["--sites", "4", "--threshold", "60", "--satellite-min", "6000"])
    assert out["objective"] >= out["greedy_objective"] - 1e-6
    curve = out["curve"]
    assert curve["cumulative_share"].is_monotonic_increasing
    assert len(curve) == len(out["kinds"]) == 4
    printed = capsys.readouterr().out
    assert "Within 60 min today" in printed and "Model:" in printed
    assert "Facilities used: 7 (left out: amenity = pharmacy)" in printed  # as the demo
    sites = out["sites"]
    assert sites.columns.tolist() == ["rank", "kind", "lon", "lat", "people_added",
                                      "nearest_facility", "minutes"]
    assert sites["rank"].tolist() == [1, 2, 3, 4]
    assert sites["kind"].tolist() == [k.replace("_", " ") for k in out["kinds"]]
    assert (sites["people_added"] > 0).all() and (sites["minutes"] > 0).all()
    assert not sites["nearest_facility"].str.contains("harmacy").any()
    lines = printed.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == [
        "rank", "kind", "lon"])
    assert "people_added" in lines[header] and "nearest_facility" in lines[header]
    for line, row in zip(lines[header + 1:header + 5], sites.itertuples(), strict=True):
        assert line.split()[0] == str(row.rank) and f"{row.lat:.5f}" in line
        assert f"{row.people_added:,.0f}" in line and row.nearest_facility in line
    assert "people newly within 60 min" in printed  # the table is explained
    if "mobile_unit_stop" in out["kinds"]:
        plan = out["circuits"]
        assert len(plan.visits) + len(plan.unserved) == out["kinds"].count("mobile_unit_stop")


def test_mobile_stop_no_vehicle_reaches_adds_no_coverage_and_says_why() -> None:
    """A stop on an island road with no base: unreachable, not counted, reason given."""
    graph = nx.MultiDiGraph()
    for node, lon in ((0, 45.0), (1, 45.0 + STEP), (10, 46.0), (11, 46.0 + STEP)):
        graph.add_node(node, x=lon, y=0.0)
    for a, b in ((0, 1), (10, 11)):
        for u, v in ((a, b), (b, a)):
            graph.add_edge(u, v, length=1000.0, travel_time=600.0, highway="residential")
    net = network_from_graph(graph, mode="drive", use_travel_time=True)
    pop, fac, access = tiny_run(net, [(45.0, 50.0), (46.0, 300.0)], [45.0])
    settings = Siting(new_sites=1, candidate_spacing_m=10.0, satellite_min_population=1e6,
                      mobile=True, mobile_search_s=0.0)
    plan = recommend_sites(settings, _siting_data(net, pop, fac, access))
    site = plan.sites.iloc[0]
    assert site["kind"] == MOBILE_UNIT_STOP and site["added_population"] == 300.0
    assert site["nearest_facility"] == NO_FACILITY_PIECE
    assert plan.circuits is not None
    assert plan.circuits.unreachable_stops().tolist() == [1]
    # the stop is not counted: coverage with new sites is today's (50 of 350 people)
    assert plan.coverage_with_new_sites["population"].tolist() == [50.0]
