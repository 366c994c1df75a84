"""Site selection: where new sites would bring the most underserved people within reach.

Candidates are network nodes near underserved demand, thinned to a minimum spacing, and/or
points from a planner's file snapped to the network; exclusion areas and a minimum
distance from existing facilities remove some.  A candidate *covers* a demand point when
the point's trip to the candidate (off-road leg plus network time, searched from the
candidate over the reversed graph) is within the threshold.  The sparse coverage matrix
feeds the models in :mod:`accessmap._siting_models` (exact MCLP, lazy greedy, LSCP).
:func:`recommend_sites` is the pipeline stage: it ties everything together, labels each
site ``satellite_clinic`` or ``mobile_unit_stop`` and plans mobile-unit circuits.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accessmap.analysis.coverage import coverage_table, underserved_mask
from accessmap.errors import InputDataError
from accessmap.inputs.network import load_network
from accessmap.inputs.population import Population
from accessmap.routing.network import RoadNetwork
from accessmap.routing.travel_times import Access, nearest_facility_times
from accessmap.siting.candidates import (
    WEIGHTINGS,
    CoverageMatrix,
    candidate_nodes,
    candidates_from_points,
    coverage_matrix,
    equity_weights,
    filter_candidates,
    point_groups,
)
from accessmap.siting.circuits import Circuits, CircuitSettings, plan_circuits
from accessmap.siting.models import (
    ReducedInstance,
    Selection,
    marginal_gain_table,
    minimum_sites,
    reduce_instance,
    select_sites,
)

if TYPE_CHECKING:
    from accessmap.config import Scenario

logger = logging.getLogger(__name__)


SATELLITE_CLINIC = "satellite_clinic"


MOBILE_UNIT_STOP = "mobile_unit_stop"




def site_kind(added_population: float, satellite_min_population: float) -> str:
    """``satellite_clinic`` when a site serves enough people for a fixed clinic.

    The rule: a site whose newly covered population within the siting threshold is at
    least ``satellite_min_population`` is a viable fixed satellite clinic; otherwise its
    people are better served by a mobile unit visiting it (``mobile_unit_stop``).
    """
    return SATELLITE_CLINIC if added_population >= satellite_min_population else MOBILE_UNIT_STOP


@dataclass(frozen=True)
class SitingOptions:
    """Site-selection settings beyond the core scenario keys (all optional).

    Parameters
    ----------
    candidates
        File of planner-proposed candidate points.
    candidate_source : {"underserved", "file", "both"}
        Where candidates come from; defaults to ``both`` when ``candidates`` is given.
    exclusions
        Polygons where no new site may go.
    min_distance_from_facility_m
        Minimum straight-line distance of a new site from existing facilities.
    weighting, group_weights, travel_time_cap
        Equity weighting (see :func:`equity_weights`).
    method, exact_max_candidates, solver, solver_time_limit_s
        Model choice (see :func:`select_sites`).
    coverage_target
        Share of the total population to have within the siting threshold; when set,
        the fewest new sites reaching it are computed (LSCP).
    mobile
        Plan weekly circuits for mobile-unit stops (needs the drive network).
    mobile_days, mobile_workday_h, mobile_service_min, mobile_search_s
        Circuit settings (see :class:`accessmap.circuits.CircuitSettings`).
    """

    candidates: str | os.PathLike[str] | None = None
    candidate_source: str | None = None
    exclusions: str | os.PathLike[str] | None = None
    min_distance_from_facility_m: float = 0.0
    weighting: str = "population"
    group_weights: Mapping[str, float] | None = None
    travel_time_cap: float = 3.0
    method: str = "auto"
    exact_max_candidates: int = 2000
    solver: str = "cbc"
    solver_time_limit_s: float = 60.0
    coverage_target: float | None = None
    mobile: bool = True
    mobile_days: int = 5
    mobile_workday_h: float = 8.0
    mobile_service_min: float = 120.0
    mobile_search_s: float = 2.0

    def __post_init__(self) -> None:
        source = self.candidate_source or ("both" if self.candidates else "underserved")
        if source not in ("underserved", "file", "both"):
            raise InputDataError(f"candidate_source {source!r} is unknown; use underserved, "
                                 "file or both")
        if source != "underserved" and not self.candidates:
            raise InputDataError(f"candidate_source {source!r} needs a candidates file")
        object.__setattr__(self, "candidate_source", source)
        if self.weighting not in WEIGHTINGS:
            raise InputDataError(f"weighting {self.weighting!r} is unknown; use one of "
                                 + ", ".join(WEIGHTINGS))
        if self.min_distance_from_facility_m < 0:
            raise InputDataError("min_distance_from_facility_m must be >= 0")
        if self.coverage_target is not None and not 0 < self.coverage_target <= 1:
            raise InputDataError(f"coverage_target {self.coverage_target!r} must be a share "
                                 "between 0 and 1 (e.g. 0.9 for 90%)")

    @classmethod
    def from_mapping(cls, values: Mapping[str, object] | None) -> SitingOptions:
        """Build from scenario ``[siting]`` extra keys, naming any unknown key."""
        values = dict(values or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputDataError(f"unknown siting option(s) {', '.join(unknown)}; known: "
                                 + ", ".join(sorted(known)))
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True, eq=False)
class SitingPlan:
    """Everything the siting stage produced, ready for the summary and output files.

    Attributes
    ----------
    sites
        Recommended sites (EPSG:4326): ``rank``, ``kind``, ``added_population``,
        ``weighted_gain``, ``cumulative_share``, ``nearest_facility``,
        ``nearest_facility_time_min``, ``node``.
    coverage_with_new_sites
        Coverage table with the new sites added as facilities.
    candidates
        All candidates (EPSG:4326) with ``node``, ``source``, ``covered_population``
        (newly covered within the threshold if opened alone) and ``chosen``.
    marginal_gain
        Coverage after 1..k sites (:func:`marginal_gain_table`).
    info
        Model used, objective, greedy objective, gap, solver status, candidate count,
        notes (summary key ``siting``).
    target
        LSCP answer when a coverage target was set.
    circuits
        Mobile-unit circuits when there are mobile stops.
    """

    sites: gpd.GeoDataFrame
    coverage_with_new_sites: pd.DataFrame
    candidates: gpd.GeoDataFrame
    marginal_gain: pd.DataFrame
    info: dict[str, object]
    target: dict[str, object] | None = None
    circuits: Circuits | None = None

    def site_records(self) -> list[dict[str, object]]:
        """JSON-ready ``recommended_sites`` entries."""
        return [
            {"rank": int(r.rank), "kind": str(r.kind), "lon": round(float(r.geometry.x), 6),
             "lat": round(float(r.geometry.y), 6),
             "added_population": round(float(r.added_population), 1),
             "weighted_gain": round(float(r.weighted_gain), 3),
             "cumulative_share": round(float(r.cumulative_share), 6),
             "nearest_facility": r.nearest_facility,
             "nearest_facility_time_min": None if not np.isfinite(r.nearest_facility_time_min)
             else round(float(r.nearest_facility_time_min), 1)}
            for r in self.sites.itertuples()
        ]

    def summary_items(self) -> dict[str, object]:
        """Summary keys this stage owns."""
        return {
            "recommended_sites": self.site_records(),
            "siting": {**self.info, "coverage_target": self.target},
            "marginal_gain": [
                {k: (int(v) if k == "sites" else round(float(v), 6 if "share" in k else 1))
                 for k, v in row.items()}
                for row in self.marginal_gain.to_dict("records")],
            "mobile_circuits": self.circuits.records() if self.circuits is not None else [],
            "mobile_unserved": [] if self.circuits is None else [
                {"stop": int(r.stop), "reason": str(r.reason)}
                for r in self.circuits.unserved.itertuples()],
        }

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """GeoPackage layers this stage owns."""
        routes = self.circuits.routes if self.circuits is not None else None
        return {"candidates": self.candidates, "recommended_sites": self.sites,
                "mobile_routes": routes}

    def tables(self) -> dict[str, pd.DataFrame]:
        """CSV tables this stage owns (file name -> table)."""
        out = {"marginal_gain.csv": self.marginal_gain}
        if self.circuits is not None:
            out["mobile_visits.csv"] = self.circuits.visits
        return out


def options_from_scenario(scenario: Scenario) -> SitingOptions:
    """Read the extra ``[siting]`` keys of a scenario (``siting_options``), if any."""
    return SitingOptions.from_mapping(scenario.siting_options)


def recommend_sites(
    scenario: Scenario,
    network: RoadNetwork,
    population: Population,
    facilities: gpd.GeoDataFrame,
    access: Access,
    *,
    options: SitingOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SitingPlan:
    """The siting stage of a run: candidates, coverage, model, kinds, circuits.

    Never fails on a siting problem that leaves the rest of the run valid (no
    candidates, solver missing): the plan then carries a note and no sites.

    Parameters
    ----------
    scenario
        Run settings (``new_sites``, ``siting_threshold_min``, ``satellite_min_population``,
        ``candidate_spacing_m``, groups for group weighting).
    network, population, facilities, access
        The run's inputs and current travel times.
    options
        Further settings; defaults to :func:`options_from_scenario`.
    progress
        Called with (sites chosen, k) during the greedy.
    """
    options = options or options_from_scenario(scenario)
    threshold_s = scenario.siting_threshold_min * 60
    needy = underserved_mask(access.time_s, scenario.siting_threshold_min)
    pop = population.population
    covered_now = float(pop[~needy].sum())
    info: dict[str, object] = {"model": "none", "objective": 0.0, "greedy_objective": 0.0,
                               "gap": None, "solver_status": "not run", "candidates": 0,
                               "weighting": options.weighting,
                               "threshold_min": scenario.siting_threshold_min, "notes": []}
    if (scenario.new_sites == 0 and options.coverage_target is None) or not needy.any():
        return _plan_without_sites(scenario, network, population, access, info)
    demand = np.flatnonzero(needy & access.point_snap.on_network)
    fx, fy = network.project(facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy())
    nodes = _gather_candidates(network, access, needy, fx, fy, scenario, options)
    cover = coverage_matrix(network, nodes, access.point_snap, demand, threshold_s)
    weights = _weights_for(scenario, population, access, demand, options)
    instance = reduce_instance(cover.matrix, weights, pop[demand])
    info["candidates"] = int(nodes.size)
    info["demand_groups"] = int(instance.weights.size)
    target = _target(instance, options, scenario, covered_now, population.total)
    try:
        selection = select_sites(
            instance, scenario.new_sites, method=options.method,
            exact_max_candidates=options.exact_max_candidates, solver=options.solver,
            time_limit_s=options.solver_time_limit_s, progress=progress)
    except InputDataError as err:
        logger.warning("no new sites recommended: %s", err)
        info["notes"] = [str(err)]
        return _plan_without_sites(scenario, network, population, access, info,
                                   candidates=_candidate_layer(network, cover, instance, []),
                                   target=target)
    info.update(selection.info())
    info["candidates"] = int(nodes.size)
    sites = _site_layer(network, facilities, access, cover, selection, scenario,
                        covered_now, population.total)
    return SitingPlan(
        sites=sites,
        coverage_with_new_sites=_coverage_with(network, population, access, facilities,
                                               sites, scenario),
        candidates=_candidate_layer(network, cover, instance, selection.chosen),
        marginal_gain=marginal_gain_table(selection.gain_population, covered_before=covered_now,
                                          population_total=population.total),
        info=info, target=target,
        circuits=_circuits_for(scenario, network, sites, facilities, options),
    )


def _plan_without_sites(
    scenario: Scenario, network: RoadNetwork, population: Population,
    access: Access, info: dict[str, object], *,
    candidates: gpd.GeoDataFrame | None = None, target: dict[str, object] | None = None,
) -> SitingPlan:
    empty = gpd.GeoDataFrame(
        {"rank": pd.Series([], dtype=np.int64), "kind": pd.Series([], dtype=str),
         "added_population": pd.Series([], dtype=float),
         "weighted_gain": pd.Series([], dtype=float),
         "cumulative_share": pd.Series([], dtype=float),
         "nearest_facility": pd.Series([], dtype=str),
         "nearest_facility_time_min": pd.Series([], dtype=float),
         "node": pd.Series([], dtype=np.int64)},
        geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    coverage = coverage_table(access.time_s, population.population,
                                   scenario.thresholds_min)
    return SitingPlan(empty, coverage, candidates if candidates is not None else empty.iloc[:0],
                      marginal_gain_table(np.zeros(0), covered_before=0.0,
                                          population_total=population.total), info,
                      target=target)


def _gather_candidates(
    network: RoadNetwork, access: Access, needy: NDArray[np.bool_],
    fx: NDArray[np.float64], fy: NDArray[np.float64], scenario: Scenario,
    options: SitingOptions,
) -> NDArray[np.int64]:
    parts = [np.zeros(0, dtype=np.int64)]
    if options.candidate_source in ("underserved", "both"):
        parts.append(candidate_nodes(network, access.point_snap, needy,
                                     spacing_m=scenario.candidate_spacing_m))
    if options.candidate_source in ("file", "both") and options.candidates:
        parts.append(candidates_from_points(network, options.candidates))
    nodes = np.unique(np.concatenate(parts))
    return filter_candidates(network, nodes, exclusions=options.exclusions, facility_x=fx,
                             facility_y=fy,
                             min_distance_m=options.min_distance_from_facility_m)


def _weights_for(
    scenario: Scenario, population: Population, access: Access,
    demand: NDArray[np.int64], options: SitingOptions,
) -> NDArray[np.float64]:
    groups = None
    if options.weighting == "group":
        if scenario.groups is None or scenario.group_column is None:
            raise InputDataError("weighting 'group' needs [inputs] groups and group_column "
                                 "in the scenario")
        groups = point_groups(population.lon[demand], population.lat[demand],
                              scenario.groups, scenario.group_column)
    return equity_weights(population.population[demand], weighting=options.weighting,
                          time_s=access.time_s[demand],
                          threshold_s=scenario.siting_threshold_min * 60,
                          time_cap=options.travel_time_cap, groups=groups,
                          group_weights=options.group_weights)


def _target(
    instance: ReducedInstance, options: SitingOptions, scenario: Scenario,
    covered_now: float, total: float,
) -> dict[str, object] | None:
    if options.coverage_target is None:
        return None
    needed = options.coverage_target * total - covered_now
    result = minimum_sites(instance, needed, method=options.method,
                           exact_max_candidates=options.exact_max_candidates,
                           solver=options.solver, time_limit_s=options.solver_time_limit_s)
    best_share = (covered_now + result.reachable_population) / total if total > 0 else 0.0
    return {"target_share": options.coverage_target,
            "threshold_min": scenario.siting_threshold_min,
            "feasible": result.feasible, "sites_needed": result.n_sites,
            "best_reachable_share": round(best_share, 6), "model": result.model,
            "solver_status": result.solver_status, "message": result.message}


def _site_layer(
    network: RoadNetwork, facilities: gpd.GeoDataFrame, access: Access,
    cover: CoverageMatrix, selection: Selection, scenario: Scenario,
    covered_now: float, total: float,
) -> gpd.GeoDataFrame:
    nodes = cover.candidates[selection.chosen]
    fac = access.node_facility[nodes]
    names = facilities["name"].astype(str).to_numpy()
    near_time = access.node_time_s[nodes] / 60
    return gpd.GeoDataFrame(
        {
            "rank": np.arange(1, nodes.size + 1, dtype=np.int64),
            "kind": [site_kind(p, scenario.satellite_min_population)
                     for p in selection.gain_population],
            "added_population": selection.gain_population,
            "weighted_gain": selection.gain_weight,
            "cumulative_share": (covered_now + np.cumsum(selection.gain_population))
            / (total if total > 0 else 1.0),
            "nearest_facility": [names[f] if f >= 0 else None for f in fac],
            "nearest_facility_time_min": np.where(np.isfinite(near_time), near_time, np.nan),
            "node": nodes,
        },
        geometry=gpd.points_from_xy(network.node_lon[nodes], network.node_lat[nodes]),
        crs="EPSG:4326",
    )


def _candidate_layer(
    network: RoadNetwork, cover: CoverageMatrix, instance: ReducedInstance,
    chosen: NDArray[np.int64] | list[int],
) -> gpd.GeoDataFrame:
    nodes = cover.candidates
    alone = instance.matrix.astype(np.float64) @ instance.population
    picked = np.zeros(nodes.size, dtype=bool)
    picked[np.asarray(chosen, dtype=np.int64)] = True
    return gpd.GeoDataFrame(
        {"node": nodes, "covered_population": alone, "chosen": picked},
        geometry=gpd.points_from_xy(network.node_lon[nodes], network.node_lat[nodes]),
        crs="EPSG:4326",
    )


def _coverage_with(
    network: RoadNetwork, population: Population, access: Access,
    facilities: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, scenario: Scenario,
) -> pd.DataFrame:
    nodes = sites["node"].to_numpy(dtype=np.int64)
    px, py = network.project(population.lon, population.lat)
    fx, fy = network.project(facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy())
    new_access = nearest_facility_times(
        network, px, py, np.concatenate([fx, network.node_x[nodes]]),
        np.concatenate([fy, network.node_y[nodes]]), point_snap=access.point_snap,
    )
    return coverage_table(new_access.time_s, population.population,
                               scenario.thresholds_min)


def _circuits_for(
    scenario: Scenario, network: RoadNetwork, sites: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame, options: SitingOptions,
) -> Circuits | None:
    mobile = sites[sites["kind"] == MOBILE_UNIT_STOP]
    if not options.mobile or mobile.empty:
        return None
    drive = network
    if network.mode != "drive" and scenario.network is not None:
        drive = load_network(scenario.network, mode="drive")
    stops = pd.DataFrame({"stop": mobile["rank"].to_numpy(), "lon": mobile.geometry.x,
                          "lat": mobile.geometry.y,
                          "people": mobile["added_population"].to_numpy()})
    bases = pd.DataFrame({"name": facilities["name"].astype(str).to_numpy(),
                          "lon": facilities.geometry.x.to_numpy(),
                          "lat": facilities.geometry.y.to_numpy()})
    settings = CircuitSettings(days_per_week=options.mobile_days,
                               workday_h=options.mobile_workday_h,
                               service_min=options.mobile_service_min,
                               search_time_s=options.mobile_search_s or None)
    return plan_circuits(drive, stops, bases, settings=settings)
