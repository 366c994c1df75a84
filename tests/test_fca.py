"""Per-facility catchments, facility x demand times and 2SFCA / E2SFCA (vs PySAL access)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse

from accessmap.analysis.catchments import catchment_table, step_decay, two_step_fca
from accessmap.inputs.network import network_from_graph
from accessmap.routing.network import RoadNetwork
from accessmap.routing.travel_times import facility_point_times, nearest_facility_times

KM = 1 / 111.32  # degrees of longitude per km on the equator (about)
WALK_KM_S = 720.0  # 5 km/h


def two_road_network() -> RoadNetwork:
    """Two 1 km residential roads in a line: nodes 0 - 1 - 2 eastwards on the equator."""
    graph = nx.MultiDiGraph()
    for i in range(3):
        graph.add_node(i, x=45.0 + i * KM, y=0.0)
    for u in range(2):
        graph.add_edge(u, u + 1, length=1000.0, highway="residential")
    return network_from_graph(graph, mode="walk")


def test_facility_point_times_on_two_roads() -> None:
    net = two_road_network()
    lon = np.array([45.0, 45.0 + KM, 45.0 + 2 * KM, 45.0 + 2 * KM])
    lat = np.array([0.0, 0.0, 0.0, 100 / 110_574])  # last: 100 m north of node 2
    px, py = net.project(lon, lat)
    fx, fy = net.project(np.array([45.0, 45.0 + 2 * KM]), np.array([0.0, 0.0]))
    access = nearest_facility_times(net, px, py, fx, fy)
    times = facility_point_times(net, access, 800.0).toarray()
    offroad = 100 * 1.3 / (5 / 3.6)
    # facility 0 (west end) reaches points 0 and 1; facility 1 (east end) points 1, 2, 3
    assert times[0, 0] == 0 and times[0, 1] == pytest.approx(WALK_KM_S, rel=2e-3)
    assert times[0, 2] == 0 and times[0, 3] == 0  # beyond 800 s: not stored
    assert times[1, 3] == pytest.approx(offroad, rel=2e-3)
    assert times[1, 1] == pytest.approx(WALK_KM_S, rel=2e-3)
    sparse = facility_point_times(net, access, 800.0)
    assert sparse.nnz == 5  # explicit zeros kept: (0,0) and (1,2)


def test_catchment_table_counts_people_by_nearest_facility() -> None:
    net = two_road_network()
    lon = np.array([45.0, 45.0 + 0.4 * KM, 45.0 + 2 * KM])
    px, py = net.project(lon, np.zeros(3))
    fx, fy = net.project(np.array([45.0, 45.0 + 2 * KM]), np.array([0.0, 0.0]))
    access = nearest_facility_times(net, px, py, fx, fy)
    table = catchment_table(access, np.array([10.0, 20.0, 40.0]), [4, 5])
    assert table["population"].tolist() == [30.0, 40.0]
    assert table["population_4min"].tolist() == [10.0, 40.0]  # 0.4 km takes 4.8 min
    assert table["population_5min"].tolist() == [30.0, 40.0]
    assert table["mean_time_min"].iloc[0] == pytest.approx(20 * 0.4 * 12 / 30, rel=2e-3)


def test_two_step_fca_hand_case() -> None:
    times = scipy.sparse.csr_array(([0.0, 720.0, 720.0, 0.0], ([0, 0, 1, 1], [0, 1, 1, 2])),
                                   shape=(2, 3))
    ratio, acc = two_step_fca(times, np.array([2.0, 1.0]), np.array([100.0, 200.0, 300.0]),
                              800.0)
    assert ratio.tolist() == pytest.approx([2 / 300, 1 / 500])
    assert acc.tolist() == pytest.approx([2 / 300, 2 / 300 + 1 / 500, 1 / 500])


def test_facility_with_nobody_in_reach_has_no_ratio() -> None:
    times = scipy.sparse.csr_array(([0.0], ([0], [0])), shape=(2, 1))
    ratio, acc = two_step_fca(times, np.array([1.0, 5.0]), np.array([10.0]), 60.0)
    assert ratio[0] == pytest.approx(0.1) and np.isnan(ratio[1])
    assert acc.tolist() == pytest.approx([0.1])


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning",
                            "ignore:.*inplace.*")
@pytest.mark.parametrize("decay", [False, True])
def test_two_step_fca_matches_pysal_access(decay: bool) -> None:
    from access import Access, weights

    rng = np.random.default_rng(4)
    n_dem, n_sup, limit = 12, 4, 30.0
    cost = rng.uniform(0, 45, size=(n_sup, n_dem))
    pop = rng.uniform(10, 500, n_dem)
    cap = rng.integers(1, 9, n_sup).astype(float)
    sup_i, dem_i = np.nonzero(cost <= 60)
    times = scipy.sparse.csr_array((cost[sup_i, dem_i], (sup_i, dem_i)), shape=cost.shape)
    _, ours = two_step_fca(times, cap, pop, limit, decay=decay)
    model = Access(
        demand_df=pd.DataFrame({"geoid": np.arange(n_dem), "pop": pop}), demand_index="geoid",
        demand_value="pop",
        supply_df=pd.DataFrame({"geoid": [f"s{i}" for i in range(n_sup)], "cap": cap}),
        supply_index="geoid", supply_value="cap",
        cost_df=pd.DataFrame({"origin": dem_i, "dest": [f"s{i}" for i in sup_i],
                              "cost": cost[sup_i, dem_i]}),
        cost_origin="origin", cost_dest="dest", cost_name="cost",
    )
    fn = weights.step_fn({limit / 3: 1.0, 2 * limit / 3: 0.68, limit: 0.22}) if decay else None
    theirs = model.two_stage_fca(name="x", max_cost=limit, weight_fn=fn)["x_cap"]
    expected = theirs.reindex(np.arange(n_dem)).fillna(0.0).to_numpy()
    assert ours == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_step_decay_thirds() -> None:
    assert step_decay(np.array([0.0, 20.0, 21.0, 40.0, 41.0, 60.0, 61.0]), 60.0).tolist() == [
        1.0, 1.0, 0.68, 0.68, 0.22, 0.22, 0.0]


def test_facility_catchments_assemble_catchments_and_ratios_in_memory() -> None:
    """Three cells on the two roads, one per km; facilities at both ends, capacities 2, 1."""
    import geopandas as gpd
    from affine import Affine
    from shapely.geometry import Point

    from accessmap.analysis.catchments import facility_catchments
    from accessmap.inputs.population import Population

    net = two_road_network()
    lon = 45.0 + np.arange(3) * KM
    population = Population(
        lon=lon, lat=np.zeros(3), population=np.array([10.0, 20.0, 40.0]),
        row=np.zeros(3, dtype=np.int64), col=np.arange(3, dtype=np.int64),
        transform=Affine(KM, 0, 45.0 - KM / 2, 0, -KM, KM / 2), shape=(1, 3),
        crs="EPSG:4326", source="memory")
    facilities = gpd.GeoDataFrame(
        {"facility_id": [1, 2], "name": ["West", "East"], "type": ["clinic", "clinic"],
         "capacity": [2.0, 1.0]},
        geometry=[Point(45.0, 0.0), Point(45.0 + 2 * KM, 0.0)], crs="EPSG:4326")
    px, py = net.project(population.lon, population.lat)
    fx, fy = net.project(facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy())
    access = nearest_facility_times(net, px, py, fx, fy)
    table, accessibility, unit = facility_catchments(
        net, population, facilities, access, [15], 15.0)
    assert unit == "capacity"
    # the middle cell (12 min from both) goes to the first facility in the tie
    assert table["population"].tolist() == [30.0, 40.0]
    # 2SFCA within 15 min: West serves cells 0, 1 (30 people), East cells 1, 2 (60)
    assert table["sfca_ratio_per_1000"].tolist() == pytest.approx([2 / 30 * 1000,
                                                                   1 / 60 * 1000], rel=2e-3)
    assert accessibility == pytest.approx([2 / 30, 2 / 30 + 1 / 60, 1 / 60], rel=2e-3)
    assert table.geometry.notna().all() and table.crs == "EPSG:4326"
    assert table["catchment_area_km2"].sum() == pytest.approx(3 * (KM * 111.32) ** 2 * 1.0,
                                                              rel=0.02)


def lattice_network(n: int = 8) -> RoadNetwork:
    """An n x n grid of 1 km two-way residential roads."""
    graph = nx.MultiDiGraph()
    for i in range(n):
        for j in range(n):
            graph.add_node(i * n + j, x=45.0 + j * KM, y=i * KM)
    for i in range(n):
        for j in range(n):
            for di, dj in ((0, 1), (1, 0)):
                if i + di < n and j + dj < n:
                    a, b = i * n + j, (i + di) * n + j + dj
                    graph.add_edge(a, b, length=1000.0, highway="residential")
                    graph.add_edge(b, a, length=1000.0, highway="residential")
    return network_from_graph(graph, mode="walk")


@pytest.mark.parametrize("block", [1, 3, 128])
def test_blocked_fca_equals_the_whole_matrix_exactly(block: int) -> None:
    """Facility blocks give the very same ratios and accessibility (no tolerance)."""
    from accessmap.analysis.catchments import _chunked_fca
    from accessmap.routing.travel_times import facility_point_time_blocks

    net = lattice_network()
    rng = np.random.default_rng(16)
    px, py = net.project(45.0 + rng.uniform(0, 7, 300) * KM, rng.uniform(0, 7, 300) * KM)
    fx, fy = net.project(45.0 + rng.uniform(0, 7, 11) * KM, rng.uniform(0, 7, 11) * KM)
    access = nearest_facility_times(net, px, py, fx, fy)
    demand, supply, limit = rng.uniform(0, 50, 300), rng.uniform(1, 5, 11), 2400.0
    whole = facility_point_times(net, access, limit)
    ratio, acc = two_step_fca(whole, supply, demand, limit)
    e_ratio, _ = two_step_fca(whole, supply, demand, limit, decay=True)
    blocks = list(facility_point_time_blocks(net, access, limit, block_facilities=block))
    assert [first for first, _ in blocks] == list(range(0, 11, block))
    stacked = scipy.sparse.vstack([b for _, b in blocks]).tocsr()
    assert np.array_equal(stacked.indptr, whole.indptr)
    assert np.array_equal(stacked.data, whole.data)
    got = _chunked_fca(iter(blocks), supply, demand, limit)
    np.testing.assert_array_equal(got[0], ratio)
    np.testing.assert_array_equal(got[1], e_ratio)
    np.testing.assert_array_equal(got[2], acc)


def test_blocks_need_a_positive_size() -> None:
    from accessmap.errors import InputDataError
    from accessmap.routing.engine import Sources, bounded_time_blocks

    net = two_road_network()
    with pytest.raises(InputDataError, match="block_sources must be"):
        next(bounded_time_blocks(net.graph_to, Sources.at_nodes([0]), 1.0, block_sources=0))
