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
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accessmap.analysis.coverage import coverage_table, underserved_mask
from accessmap.config import Siting
from accessmap.errors import InputDataError
from accessmap.executors import Executor
from accessmap.inputs.population import Population
from accessmap.progress import Tick, no_progress, scaled
from accessmap.routing.network import RoadNetwork
from accessmap.routing.travel_times import Access, nearest_facility_times
from accessmap.siting.candidates import (
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

__all__ = [
    "MOBILE_UNIT_STOP", "NO_FACILITY_DIRECTION", "NO_FACILITY_PIECE", "SATELLITE_CLINIC",
    "SitingData", "SitingPlan", "recommend_sites", "site_kind",
]

logger = logging.getLogger(__name__)


SATELLITE_CLINIC = "satellite_clinic"


MOBILE_UNIT_STOP = "mobile_unit_stop"


#: In runs of a mode other than drive, how much longer (s) the drive round trip from a
#: mobile stop's nearest facility (on foot) may be than the best before another base is
#: chosen (co-located duplicates of one hospital differ by seconds).
_BASE_SLACK_S = 120.0


#: ``nearest_facility`` of a site on a road piece that holds no facility.
NO_FACILITY_PIECE = "none: no facility on this road piece"


#: ``nearest_facility`` of a site whose piece has a facility it cannot reach (one-way roads).
NO_FACILITY_DIRECTION = "none: no facility reachable in the direction of travel"


def site_kind(added_population: float, satellite_min_population: float) -> str:
    """``satellite_clinic`` when a site serves enough people for a fixed clinic.

    The rule: a site whose newly covered population within the siting threshold is at
    least ``satellite_min_population`` is a viable fixed satellite clinic; otherwise its
    people are better served by a mobile unit visiting it (``mobile_unit_stop``).
    """
    return SATELLITE_CLINIC if added_population >= satellite_min_population else MOBILE_UNIT_STOP


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


@dataclass(frozen=True, eq=False)
class SitingData:
    """What the siting stage works on, loaded and computed before it by the pipeline.

    Attributes
    ----------
    network, population, facilities, access
        The run's network, demand points, facilities and current travel times.
    thresholds_min
        The run's travel-time thresholds (for coverage with the new sites).
    threshold_min
        The siting threshold (resolved: :attr:`accessmap.config.Scenario.siting_threshold_min`).
    candidates, exclusions
        Planner-proposed candidate points and no-build polygons (``[siting] candidates``
        and ``exclusions``), already read.
    groups, group_column
        Group polygons and their attribute, for ``weighting = "group"``.
    drive_network
        The drive network mobile circuits use in a run of another mode (the pipeline loads
        it with the scenario's settings); a drive run's own network serves otherwise.
    executor
        Where the coverage matrix's candidate batches run (``[compute] executor``);
        ``None``: the engine's threads in this process.
    """

    network: RoadNetwork
    population: Population
    facilities: gpd.GeoDataFrame
    access: Access
    thresholds_min: tuple[float, ...]
    threshold_min: float
    candidates: gpd.GeoDataFrame | None = None
    exclusions: gpd.GeoDataFrame | None = None
    groups: gpd.GeoDataFrame | None = None
    group_column: str | None = None
    drive_network: RoadNetwork | None = None
    executor: Executor | None = None


def recommend_sites(settings: Siting, data: SitingData, *, tick: Tick | None = None
                    ) -> SitingPlan:
    """The siting stage of a run: candidates, coverage, model, kinds, circuits.

    Never fails on a siting problem that leaves the rest of the run valid (no
    candidates, solver missing): the plan then carries a note and no sites.

    Parameters
    ----------
    settings
        The scenario's ``[siting]`` section.
    data
        Network, demand, facilities, travel times and the siting files, already loaded.
    tick
        Progress of the stage (0-1); may raise :class:`~accessmap.errors.Cancelled`.
    """
    tick = tick or no_progress
    network, population, access = data.network, data.population, data.access
    threshold_s = data.threshold_min * 60
    needy = underserved_mask(access.time_s, data.threshold_min)
    pop = population.population
    covered_now = float(pop[~needy].sum())
    info: dict[str, object] = {"model": "none", "objective": 0.0, "greedy_objective": 0.0,
                               "gap": None, "solver_status": "not run", "candidates": 0,
                               "weighting": settings.weighting,
                               "threshold_min": data.threshold_min, "notes": []}
    if (settings.new_sites == 0 and settings.coverage_target is None) or not needy.any():
        return _plan_without_sites(data, info)
    demand = np.flatnonzero(needy & access.point_snap.on_network)
    facilities = data.facilities
    fx, fy = network.project(facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy())
    nodes = _gather_candidates(data, needy, fx, fy, settings)
    cover = coverage_matrix(network, nodes, access.point_snap, demand, threshold_s,
                            tick=scaled(tick, 0.0, 0.4, "coverage matrix"),
                            executor=data.executor)
    tick(0.4, "site selection")
    weights = _weights_for(data, demand, settings)
    instance = reduce_instance(cover.matrix, weights, pop[demand])
    info["candidates"] = int(nodes.size)
    info["demand_groups"] = int(instance.weights.size)
    target = _target(instance, settings, data.threshold_min, covered_now, population.total)
    try:
        selection = select_sites(
            instance, settings.new_sites, method=settings.method,
            exact_max_candidates=settings.exact_max_candidates, solver=settings.solver,
            time_limit_s=settings.solver_time_limit_s,
            tick=scaled(tick, 0.45, 0.7, "site selection"))
    except InputDataError as err:
        logger.warning("no new sites recommended: %s", err)
        info["notes"] = [str(err)]
        return _plan_without_sites(data, info,
                                   candidates=_candidate_layer(network, cover, instance, []),
                                   target=target)
    info.update(selection.info())
    info["candidates"] = int(nodes.size)
    tick(0.7, "mobile-unit circuits")
    sites = _site_layer(data, cover, selection, settings, covered_now)
    circuits = _circuits_for(data, sites, settings, scaled(tick, 0.7, 0.9, "circuits"))
    tick(0.9, "coverage with the new sites")
    coverage_new = _coverage_with(data, sites, circuits)
    plan = SitingPlan(
        sites=sites,
        coverage_with_new_sites=coverage_new,
        candidates=_candidate_layer(network, cover, instance, selection.chosen),
        marginal_gain=marginal_gain_table(selection.gain_population, covered_before=covered_now,
                                          population_total=population.total),
        info=info, target=target, circuits=circuits,
    )
    tick(1.0, "sites chosen")
    return plan


def _plan_without_sites(
    data: SitingData, info: dict[str, object], *,
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
    coverage = coverage_table(data.access.time_s, data.population.population,
                              data.thresholds_min)
    return SitingPlan(empty, coverage, candidates if candidates is not None else empty.iloc[:0],
                      marginal_gain_table(np.zeros(0), covered_before=0.0,
                                          population_total=data.population.total), info,
                      target=target)


def _gather_candidates(
    data: SitingData, needy: NDArray[np.bool_], fx: NDArray[np.float64],
    fy: NDArray[np.float64], settings: Siting,
) -> NDArray[np.int64]:
    network = data.network
    parts = [np.zeros(0, dtype=np.int64)]
    if settings.candidate_source in ("underserved", "both"):
        parts.append(candidate_nodes(network, data.access.point_snap, needy,
                                     spacing_m=settings.candidate_spacing_m))
    if settings.candidate_source in ("file", "both") and data.candidates is not None:
        parts.append(candidates_from_points(network, data.candidates))
    nodes = np.unique(np.concatenate(parts))
    return filter_candidates(network, nodes, exclusions=data.exclusions, facility_x=fx,
                             facility_y=fy,
                             min_distance_m=settings.min_distance_from_facility_m)


def _weights_for(data: SitingData, demand: NDArray[np.int64], settings: Siting
                 ) -> NDArray[np.float64]:
    groups = None
    population = data.population
    if settings.weighting == "group":
        if data.groups is None or data.group_column is None:
            raise InputDataError("weighting 'group' needs [inputs] groups and group_column "
                                 "in the scenario")
        groups = point_groups(population.lon[demand], population.lat[demand],
                              data.groups, data.group_column)
    return equity_weights(population.population[demand], weighting=settings.weighting,
                          time_s=data.access.time_s[demand],
                          threshold_s=data.threshold_min * 60,
                          time_cap=settings.travel_time_cap, groups=groups,
                          group_weights=settings.group_weights)


def _target(
    instance: ReducedInstance, settings: Siting, threshold_min: float,
    covered_now: float, total: float,
) -> dict[str, object] | None:
    if settings.coverage_target is None:
        return None
    needed = settings.coverage_target * total - covered_now
    result = minimum_sites(instance, needed, method=settings.method,
                           exact_max_candidates=settings.exact_max_candidates,
                           solver=settings.solver, time_limit_s=settings.solver_time_limit_s)
    best_share = (covered_now + result.reachable_population) / total if total > 0 else 0.0
    return {"target_share": settings.coverage_target,
            "threshold_min": threshold_min,
            "feasible": result.feasible, "sites_needed": result.n_sites,
            "best_reachable_share": round(best_share, 6), "model": result.model,
            "solver_status": result.solver_status, "message": result.message}


def _site_layer(
    data: SitingData, cover: CoverageMatrix, selection: Selection, settings: Siting,
    covered_now: float,
) -> gpd.GeoDataFrame:
    network, access = data.network, data.access
    total = data.population.total
    nodes = cover.candidates[selection.chosen]
    fac = access.node_facility[nodes]
    names = data.facilities["name"].astype(str).to_numpy()
    near_time = access.node_time_s[nodes] / 60
    reasons = _no_facility_reasons(network, access, nodes)
    return gpd.GeoDataFrame(
        {
            "rank": np.arange(1, nodes.size + 1, dtype=np.int64),
            "kind": [site_kind(p, settings.satellite_min_population)
                     for p in selection.gain_population],
            "added_population": selection.gain_population,
            "weighted_gain": selection.gain_weight,
            "cumulative_share": (covered_now + np.cumsum(selection.gain_population))
            / (total if total > 0 else 1.0),
            "nearest_facility": [names[f] if f >= 0 else r for f, r in
                                 zip(fac, reasons, strict=True)],
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


def _no_facility_reasons(network: RoadNetwork, access: Access, nodes: NDArray[np.int64]
                         ) -> list[str]:
    """Why no facility can be reached from each node (read only where none is)."""
    fac = access.facility_snap
    served = np.zeros(int(network.component.max()) + 1 if network.n_nodes else 0, dtype=bool)
    served[network.component[network.seg_u[fac.segment[fac.on_network]]]] = True
    return [NO_FACILITY_DIRECTION if served[network.component[n]] else NO_FACILITY_PIECE
            for n in nodes]


def _coverage_with(data: SitingData, sites: gpd.GeoDataFrame,
                   circuits: Circuits | None = None) -> pd.DataFrame:
    """Coverage with the new sites as facilities, but for mobile stops no vehicle reaches."""
    network, population, facilities = data.network, data.population, data.facilities
    keep = np.ones(len(sites), dtype=bool)
    if circuits is not None:
        unreachable = circuits.unreachable_stops()
        keep = ~((sites["kind"] == MOBILE_UNIT_STOP).to_numpy()
                 & np.isin(sites["rank"].to_numpy(), unreachable))
        if not keep.all():
            logger.warning("%d mobile-unit stop(s) no vehicle can reach are not counted in "
                           "the coverage with new sites", int((~keep).sum()))
    nodes = sites["node"].to_numpy(dtype=np.int64)[keep]
    px, py = network.project(population.lon, population.lat)
    fx, fy = network.project(facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy())
    new_access = nearest_facility_times(
        network, px, py, np.concatenate([fx, network.node_x[nodes]]),
        np.concatenate([fy, network.node_y[nodes]]), point_snap=data.access.nearest_snap,
        warn_moves=False,
    )
    time_s = new_access.time_s
    if data.access.search_graph is not None:  # walk+drive: new sites are reached on foot
        time_s = np.minimum(time_s, data.access.time_s)
    return coverage_table(time_s, population.population, data.thresholds_min)


def _circuits_for(data: SitingData, sites: gpd.GeoDataFrame, settings: Siting, tick: Tick
                  ) -> Circuits | None:
    mobile = sites[sites["kind"] == MOBILE_UNIT_STOP]
    if not settings.mobile or mobile.empty:
        return None
    drive = data.network
    if drive.mode != "drive":
        if data.drive_network is None:
            logger.warning("no drive network for the mobile-unit circuits; none planned")
            return None
        drive = data.drive_network
    facilities = data.facilities
    stops = pd.DataFrame({"stop": mobile["rank"].to_numpy(), "lon": mobile.geometry.x,
                          "lat": mobile.geometry.y,
                          "people": mobile["added_population"].to_numpy()})
    bases = pd.DataFrame({"name": facilities["name"].astype(str).to_numpy(),
                          "lon": facilities.geometry.x.to_numpy(),
                          "lat": facilities.geometry.y.to_numpy()})
    circuit_settings = CircuitSettings(days_per_week=settings.mobile_days,
                                       workday_h=settings.mobile_workday_h,
                                       service_min=settings.mobile_service_min,
                                       search_time_s=settings.mobile_search_s or None)
    # The base agrees with the nearest facility the sites table shows: in a drive run
    # (a driving nearest facility) whenever it can serve the stop; in other modes (the
    # nearest on foot) when its drive round trip is about as short as the best one.
    shown = data.access.node_facility[mobile["node"].to_numpy(dtype=np.int64)]
    slack = np.inf if drive is data.network else _BASE_SLACK_S
    return plan_circuits(drive, stops, bases, settings=circuit_settings,
                         preferred_base=shown, preferred_slack_s=slack, tick=tick)
