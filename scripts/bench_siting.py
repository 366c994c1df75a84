"""Benchmark site selection on the real Comoros data (walking, 60 minutes).

Targets (2-core machine):
* coverage matrix for 5,000 candidates + lazy greedy k=50: under 20 s;
* exact MCLP k=10 (coverage matrix, reduction, CBC) on the default candidates: under 60 s.

Baseline measured in the same run: the spopt route -- a cost matrix from networkx
shortest paths (timed on a sample of candidates and extrapolated) and
``MCLP.from_cost_matrix(...).solve(pulp.PULP_CBC_CMD())`` on a demand sample, compared
with our solver on the same sample.

    ACCESSMAP_CACHE_DIR=/tmp/amcache .venv/bin/python scripts/bench_siting.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from accessmap.analysis.coverage import underserved_mask
from accessmap.inputs.facilities import load_facilities
from accessmap.inputs.network import load_network
from accessmap.inputs.population import load_population
from accessmap.routing.snapping import entry_points
from accessmap.routing.travel_times import nearest_facility_times
from accessmap.siting.candidates import candidate_nodes, coverage_matrix
from accessmap.siting.models import lazy_greedy, reduce_instance, select_sites

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "comoros"
THRESHOLD_MIN = 60.0
SAMPLE_CANDIDATES = 20
DEMAND_SAMPLE = 0.1


def timed(label: str, func, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = func(*args, **kwargs)
    seconds = time.perf_counter() - start
    print(f"  {label:<52} {seconds:8.2f} s")
    return out, seconds


def main() -> None:
    network = load_network(DATA / "comores-latest.osm.pbf", mode="walk")
    population = load_population(DATA / "com_ppp_2020_UNadj.tif")
    facilities = load_facilities(DATA / "health.gpkg", exclude={"amenity": ("pharmacy",)})
    px, py = network.project(population.lon, population.lat)
    fx, fy = network.project(facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy())
    access = nearest_facility_times(network, px, py, fx, fy)
    threshold_s = THRESHOLD_MIN * 60
    needy = underserved_mask(access.time_s, THRESHOLD_MIN)
    demand = np.flatnonzero(needy & access.point_snap.on_network)
    pop = population.population[demand]
    print(f"Comoros walk: {network.n_nodes} nodes, {demand.size} underserved demand points")

    # --- 5,000 candidates + greedy k=50 -------------------------------------------------
    many = candidate_nodes(network, access.point_snap, needy, spacing_m=150)
    many = np.random.default_rng(0).choice(many, 5000, replace=False) if many.size > 5000 \
        else many
    print(f"{many.size} candidates, coverage matrix + reduction + lazy greedy k=50:")
    cover, t_cover = timed("coverage matrix", coverage_matrix, network, many,
                           access.point_snap, demand, threshold_s)
    inst, t_reduce = timed("reduce instance", reduce_instance, cover.matrix, pop)
    (_, gains), t_greedy = timed("lazy greedy k=50", lazy_greedy, inst.matrix,
                                 inst.weights, 50)
    total_5000 = t_cover + t_reduce + t_greedy
    print(f"  total {total_5000:.2f} s (target < 20 s); greedy adds {gains.sum():,.0f} people")

    # --- exact MCLP k=10 on the default candidates --------------------------------------
    default = candidate_nodes(network, access.point_snap, needy, spacing_m=1000)
    print(f"{default.size} candidates (1 km spacing), exact MCLP k=10:")
    cover10, t_c10 = timed("coverage matrix", coverage_matrix, network, default,
                           access.point_snap, demand, threshold_s)
    inst10, t_r10 = timed("reduce instance", reduce_instance, cover10.matrix, pop)
    sel, t_s10 = timed("select_sites (greedy + CBC)", select_sites, inst10, 10,
                       method="exact")
    total_exact = t_c10 + t_r10 + t_s10
    print(f"  total {total_exact:.2f} s (target < 60 s); exact {sel.objective:,.0f} vs greedy "
          f"{sel.greedy_objective:,.0f}: gap {100 * (sel.gap or 0):.3f}% "
          f"({inst10.weights.size} demand groups)")

    # --- baseline: networkx cost matrix + spopt MCLP ------------------------------------
    print("baseline (spopt route):")
    graph = network.to_networkx().reverse(copy=False)  # times TO the candidate
    import networkx as nx

    point, node, cost = entry_points(network, _sub_snap(access.point_snap, demand),
                                     towards_network=True)

    def nx_row(cand: int) -> np.ndarray:
        dist = nx.single_source_dijkstra_path_length(graph, int(cand), cutoff=threshold_s,
                                                     weight="travel_time")
        reach = np.full(network.n_nodes, np.inf)
        reach[list(dist)] = list(dist.values())
        row = np.full(demand.size, np.inf)
        np.minimum.at(row, point, cost + reach[node])
        return row

    sample = np.random.default_rng(1).choice(default, SAMPLE_CANDIDATES, replace=False)
    _, t_nx = timed(f"networkx rows for {SAMPLE_CANDIDATES} candidates",
                    lambda: [nx_row(c) for c in sample])
    per_cand = t_nx / SAMPLE_CANDIDATES
    print(f"  extrapolated: {per_cand * many.size:,.1f} s for {many.size} candidates "
          f"(ours {t_cover:.2f} s: {per_cand * many.size / t_cover:,.0f}x faster), "
          f"{per_cand * default.size:,.1f} s for {default.size}")
    _spopt_vs_ours(cover10, pop)


def _sub_snap(snap, rows):  # type: ignore[no-untyped-def]
    from accessmap.routing.snapping import Snap

    return Snap(snap.segment[rows], snap.fraction[rows], snap.distance_m[rows])


def _spopt_vs_ours(cover, pop) -> None:  # type: ignore[no-untyped-def]
    import pulp
    from spopt.locate import MCLP

    rng = np.random.default_rng(2)
    cols = np.sort(rng.choice(pop.size, int(pop.size * DEMAND_SAMPLE), replace=False))
    dense = cover.matrix[:, cols].toarray()
    weights = pop[cols]
    cost = np.where(dense.T, 0.0, 1.0)

    def spopt_solve() -> float:
        model = MCLP.from_cost_matrix(cost, weights, service_radius=0.5, p_facilities=10)
        model.solve(pulp.PULP_CBC_CMD(msg=False))
        opened = [i for i, v in enumerate(model.fac_vars) if v.value() > 0.5]
        return float(weights[dense[opened].any(axis=0)].sum())

    spopt_obj, t_spopt = timed(f"spopt MCLP k=10 on {cols.size} demand points", spopt_solve)
    ours, t_ours = timed("ours (reduce + exact) on the same sample", lambda: select_sites(
        reduce_instance(cover.matrix[:, cols], weights), 10, method="exact"))
    print(f"  objectives: spopt {spopt_obj:,.1f}, ours {ours.objective:,.1f} "
          f"(equal: {abs(spopt_obj - ours.objective) < 1e-6 * max(1.0, spopt_obj)}); "
          f"ratio spopt/ours {t_spopt / t_ours:.1f}x")


if __name__ == "__main__":
    main()
