"""Where should new satellite clinics and mobile-unit stops go?  A planner's walk-through.

Runs on the synthetic demo district by default, or on your own files:

    python scripts/site_selection.py                      # demo data
    python scripts/site_selection.py --network roads.osm.pbf --population pop.tif \
        --facilities health.gpkg --sites 10 --threshold 60 --target 0.9 \
        --exclude amenity=pharmacy

Facilities are filtered as in ``accessmap demo`` (pharmacies are not primary care) unless
``--exclude`` is given.  The script ends with the table of chosen sites: rank, kind
(satellite clinic or mobile-unit stop), coordinates, people newly within reach and the
nearest existing facility with its travel time.

Every step uses the public Python API, so you can copy any part into your own notebook.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accessmap.analysis.coverage import underserved_mask
from accessmap.cli import parse_exclusions
from accessmap.demo import demo_data_dir, demo_scenario
from accessmap.inputs.facilities import load_facilities
from accessmap.inputs.network import load_network
from accessmap.inputs.population import load_population
from accessmap.routing.network import RoadNetwork
from accessmap.routing.travel_times import Access, nearest_facility_times
from accessmap.siting.candidates import (
    candidate_nodes,
    coverage_matrix,
    equity_weights,
    filter_candidates,
)
from accessmap.siting.circuits import CircuitSettings, plan_circuits
from accessmap.siting.models import (
    marginal_gain_table,
    minimum_sites,
    reduce_instance,
    select_sites,
)
from accessmap.siting.plan import MOBILE_UNIT_STOP, site_kind


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run the walk-through and print the planner's tables; returns the key numbers."""
    args = _arguments(argv)
    demo = demo_data_dir()
    network_path = args.network or demo / "network.osm"
    population_path = args.population or demo / "population.tif"
    facilities_path = args.facilities or demo / "facilities.geojson"

    # 1. Inputs: the walking network, people per grid cell, existing facilities (without
    #    the kinds that are not primary care: the demo's exclusions unless --exclude).
    exclude = (parse_exclusions(args.exclude) if args.exclude
               else dict(demo_scenario().facilities.exclude))
    network = load_network(network_path, mode="walk")
    population = load_population(population_path)
    facilities = load_facilities(facilities_path, exclude=exclude)
    print(f"Facilities used: {len(facilities)}"
          + (f" (left out: {_exclusions_text(exclude)})" if exclude else ""))

    # 2. Today's travel time from every populated cell to its nearest facility.
    px, py = network.project(population.lon, population.lat)
    fx, fy = network.project(facilities.geometry.x.to_numpy(),
                             facilities.geometry.y.to_numpy())
    access = nearest_facility_times(network, px, py, fx, fy)
    threshold_s = args.threshold * 60
    needy = underserved_mask(access.time_s, args.threshold)
    covered_now = float(population.population[~needy].sum())
    print(f"Within {args.threshold:g} min today: {covered_now:,.0f} of "
          f"{population.total:,.0f} people ({covered_now / population.total:.1%})")

    # 3. Candidate sites: road junctions near underserved people, about 500 m apart,
    #    never closer than 1 km to an existing facility.
    candidates = candidate_nodes(network, access.point_snap, needy, spacing_m=500)
    candidates = filter_candidates(network, candidates, facility_x=fx, facility_y=fy,
                                          min_distance_m=1000)

    # 4. Coverage matrix: which underserved cells could reach each candidate in time.
    demand = np.flatnonzero(needy & access.point_snap.on_network)
    cover = coverage_matrix(network, candidates, access.point_snap, demand,
                                   threshold_s)

    # 5. Equity weights: the farther people are today, the more they count (up to 3x).
    weights = equity_weights(population.population[demand], weighting="travel_time",
                                    time_s=access.time_s[demand], threshold_s=threshold_s)
    instance = reduce_instance(cover.matrix, weights, population.population[demand])

    # 6. The maximal covering model: exact when small enough, greedy otherwise.
    selection = select_sites(instance, args.sites)
    print(f"Model: {selection.model}; objective {selection.objective:,.0f}, greedy "
          f"{selection.greedy_objective:,.0f}; notes: {selection.notes or 'none'}")

    # 7. The curve for the planning document: coverage after 1, 2, ... new sites.
    curve = marginal_gain_table(selection.gain_population, covered_before=covered_now,
                                       population_total=population.total)
    print(curve.to_string(index=False, formatters={
        column: "{:.1%}".format if column.endswith("share") else "{:,.0f}".format
        for column in curve.columns if column != "sites"}))

    # 8. Fixed clinic or mobile stop?  A site newly serving at least --satellite-min people
    #    is viable as a fixed satellite clinic; the others become mobile-unit stops.
    nodes = cover.candidates[selection.chosen]
    kinds = [site_kind(p, args.satellite_min) for p in selection.gain_population]

    # 9. The chosen sites, for the planning document.
    sites = chosen_sites_table(network, access, facilities, nodes, kinds,
                               selection.gain_population)
    print()
    print(SITES_EXPLAINED.format(threshold=args.threshold))
    print(sites.to_string(index=False, formatters=_SITE_FORMATS))
    print()

    # 10. How many sites would it take to reach the coverage target at all?
    target = minimum_sites(instance, args.target * population.total - covered_now)
    print(target.message)

    # 11. Weekly circuits for the mobile stops, on the driving network.
    mobile = [i for i, kind in enumerate(kinds) if kind == MOBILE_UNIT_STOP]
    plan = None
    if mobile:
        drive = load_network(network_path, mode="drive")
        stops = pd.DataFrame({"stop": np.array(mobile) + 1,
                              "lon": network.node_lon[nodes[mobile]],
                              "lat": network.node_lat[nodes[mobile]],
                              "people": selection.gain_population[mobile]})
        bases = pd.DataFrame({"name": facilities["name"], "lon": facilities.geometry.x,
                              "lat": facilities.geometry.y})
        plan = plan_circuits(drive, stops, bases,
                                      settings=CircuitSettings(search_time_s=None))
        print("Weekly circuits of the mobile units (minutes from leaving the base):")
        print(plan.visits.to_string(index=False, float_format=lambda v: f"{v:,.0f}"))
        if not plan.unserved.empty:
            print(plan.unserved.to_string(index=False))
    return {"model": selection.model, "objective": selection.objective,
            "greedy_objective": selection.greedy_objective, "curve": curve,
            "kinds": kinds, "target": target, "circuits": plan, "sites": sites}


#: What the table of chosen sites says (printed above it).
SITES_EXPLAINED = (
    "Chosen sites (the model picks the set that covers the most people; rank 1 is built "
    "first):\n"
    "  rank          order of recommendation\n"
    "  kind          satellite clinic (enough new people for a fixed clinic) or mobile-unit "
    "stop\n"
    "  lon, lat      the road junction proposed (WGS 84 degrees)\n"
    "  people_added  people newly within {threshold:g} min thanks to this site, beyond the "
    "sites above it\n"
    "  nearest_facility, minutes  the existing facility people there reach fastest today, "
    "and how long it takes")

_SITE_FORMATS = {"lon": "{:.5f}".format, "lat": "{:.5f}".format,
                 "people_added": "{:,.0f}".format, "minutes": "{:,.0f}".format}


def chosen_sites_table(network: RoadNetwork, access: Access, facilities: pd.DataFrame,
                       nodes: NDArray[np.int64], kinds: list[str],
                       added: NDArray[np.float64]) -> pd.DataFrame:
    """One row per chosen site: rank, kind, lon, lat, people_added, nearest facility."""
    names = facilities["name"].astype(str).to_numpy()
    nearest = access.node_facility[nodes]
    minutes = access.node_time_s[nodes] / 60
    return pd.DataFrame({
        "rank": np.arange(1, len(nodes) + 1),
        "kind": [k.replace("_", " ") for k in kinds],
        "lon": network.node_lon[nodes],
        "lat": network.node_lat[nodes],
        "people_added": np.asarray(added, dtype=float),
        "nearest_facility": [names[f] if f >= 0 else "none reachable" for f in nearest],
        "minutes": np.where(np.isfinite(minutes), minutes, np.nan),
    })


def _exclusions_text(exclude: Mapping[str, Sequence[str]]) -> str:
    return "; ".join(f"{column} = {', '.join(map(str, values))}"
                     for column, values in exclude.items())


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", type=Path)
    parser.add_argument("--population", type=Path)
    parser.add_argument("--facilities", type=Path)
    parser.add_argument("--sites", type=int, default=5)
    parser.add_argument("--threshold", type=float, default=60.0, help="minutes")
    parser.add_argument("--target", type=float, default=0.9, help="share, e.g. 0.9")
    parser.add_argument("--satellite-min", type=float, default=6000.0, help="people")
    parser.add_argument("--exclude", action="append", default=[], metavar="COLUMN=VALUE",
                        help="facilities to leave out (repeatable); default: as the demo "
                             "(amenity=pharmacy)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
