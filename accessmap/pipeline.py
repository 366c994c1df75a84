"""One run: load every input once, run the pure stages in order, write the run record.

``run(scenario)`` is the only orchestrator and the only place that reads inputs or writes
outputs.  The stages it calls are functions from data to data (they take arrays, frames and
their own settings section and never open a file):

1. inputs: road network, population, facilities, admin areas, groups, siting files;
2. travel times: :func:`~accessmap.routing.travel_times.nearest_facility_times`;
3. coverage: coverage tables, by area and group, bands, zones, catchments, 2SFCA, equity;
4. siting: :func:`~accessmap.siting.plan.recommend_sites` (and mobile circuits);
5. outputs: the run record, written atomically with the map and the report.

Every long stage gets a tick from :class:`~accessmap.progress.RunProgress`, so a listener
sees the run's fraction done rise from 0 to 1, and a :class:`~accessmap.progress.CancelToken`
stops the run between chunks with :class:`~accessmap.errors.Cancelled` (no output folder
is left behind: the run folder is staged and moved into place only when complete).
"""

from __future__ import annotations

import functools
import logging
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accessmap.analysis.catchments import facility_catchments
from accessmap.analysis.checks import check_run, far_facilities
from accessmap.analysis.components import component_report, no_route_breakdown
from accessmap.analysis.coverage import (
    coverage_by,
    coverage_by_groups,
    coverage_table,
    label_weights,
)
from accessmap.analysis.equity import equity_summary
from accessmap.analysis.referral import Referral, referral_routes
from accessmap.analysis.results import SETTLEMENT, CoverageAnalysis
from accessmap.analysis.surface import isochrone_bands
from accessmap.analysis.zones import underserved_zones
from accessmap.config import Scenario
from accessmap.errors import ConfigError, DataQualityWarning, NetworkError
from accessmap.executors import make_executor
from accessmap.inputs.areas import (
    assign_areas,
    group_labels,
    load_admin_areas,
    settlement_classes,
)
from accessmap.inputs.facilities import load_facilities, read_vector
from accessmap.inputs.memory import check_memory
from accessmap.inputs.network import file_sha256, load_network
from accessmap.inputs.places import read_places
from accessmap.inputs.population import RASTER_SUFFIXES, Population, counts_on_grid, load_population
from accessmap.outputs import planner_writers
from accessmap.outputs.maps import roads_layer
from accessmap.progress import CancelToken, Progress, RunProgress, Tick, scaled
from accessmap.record import (
    InputFile,
    RunRecord,
    build_record,
    claim_output_folder,
    write_run_folder,
)
from accessmap.routing.modes import SpeedProfile
from accessmap.routing.network import RoadNetwork, padded_bounds_lonlat
from accessmap.routing.travel_times import Access, nearest_facility_times
from accessmap.siting.plan import SitingData, SitingPlan, recommend_sites

__all__ = ["STAGE_WEIGHTS", "RunInputs", "RunResult", "run"]

logger = logging.getLogger(__name__)

#: Relative cost of each stage (measured on the Comoros runs), for the progress fraction.
STAGE_WEIGHTS = {"network": 3.0, "population": 1.0, "facilities": 0.5, "areas": 1.0,
                 "drive_network": 0.5,
                 "travel_times": 2.0, "coverage": 0.2, "analysis": 3.0, "referral": 0.3,
                 "siting": 3.0,
                 "outputs": 5.0}


@dataclass(frozen=True, eq=False)
class RunInputs:
    """Every input of a run, read once by :func:`load_inputs`.

    ``admin_areas`` and ``area_labels`` are ``None`` without boundaries; ``groupings``
    maps a grouping name to the people of each group at each demand point.
    """

    network: RoadNetwork
    population: Population
    facilities: gpd.GeoDataFrame
    admin_areas: gpd.GeoDataFrame | None
    area_labels: NDArray[np.object_] | None
    groupings: dict[str, dict[str, NDArray[np.float64]]]
    candidates: gpd.GeoDataFrame | None = None
    exclusions: gpd.GeoDataFrame | None = None
    group_polygons: gpd.GeoDataFrame | None = None
    drive_network: RoadNetwork | None = None
    places: gpd.GeoDataFrame | None = None


@dataclass
class RunResult:
    """Everything a run computed (kept in memory for scripts and tests)."""

    scenario: Scenario
    network: RoadNetwork
    population: Population
    facilities: gpd.GeoDataFrame
    access: Access
    coverage: pd.DataFrame
    sites: gpd.GeoDataFrame
    coverage_with_new_sites: pd.DataFrame
    summary: dict[str, Any]
    timings_s: dict[str, float] = field(default_factory=dict)
    out_dir: Path | None = None
    siting: SitingPlan | None = None
    analysis: CoverageAnalysis | None = None
    referral: Referral | None = None


def run(
    scenario: Scenario,
    *,
    overwrite: bool = False,
    write: bool = True,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    offline: bool = True,
) -> RunResult:
    """Run the whole analysis for ``scenario`` and write its output folder.

    Parameters
    ----------
    scenario
        Inputs and settings.
    overwrite
        Replace an existing output folder.
    write
        Write the output folder (``False`` computes only).
    progress
        Called with a :class:`~accessmap.progress.ProgressEvent` as the run advances;
        the fraction rises monotonically and ends at 1.
    cancel
        Set it (from another thread) to stop the run at the next check.
    offline
        Inline the map's JavaScript/CSS so ``map.html`` opens with no internet (the
        default); ``False`` links Leaflet from its CDN for a smaller file.

    Returns
    -------
    RunResult

    Raises
    ------
    AccessmapError
        Any input or setting problem, with a message naming the file and the fix.
    Cancelled
        ``cancel`` was set; nothing was written.
    """
    _require_inputs(scenario)
    check_memory(scenario)  # refuses a run too large for this machine, before any work
    claim = claim_output_folder(scenario.output.out, overwrite=overwrite,
                                inputs=_input_paths(scenario)) if write else None
    reporter = RunProgress(progress, token=cancel, weights=STAGE_WEIGHTS)
    timings: dict[str, float] = {}
    stage = functools.partial(_stage, timings=timings, reporter=reporter)
    inputs = load_inputs(scenario, stage=stage)
    with stage("travel_times") as tick:
        access = _travel_times(scenario, inputs, tick)
    with stage("coverage"):
        coverage = coverage_table(access.time_s, inputs.population.population,
                                  scenario.analysis.thresholds_min)
    with stage("analysis") as tick:
        coverage_analysis = analyse(scenario, inputs, access, tick=tick)
    with stage("referral"):
        referral = _referral(scenario, inputs)
    with stage("siting") as tick:
        plan = recommend_sites(scenario.siting, _siting_data(scenario, inputs, access),
                               tick=tick)
    network, population, facilities = inputs.network, inputs.population, inputs.facilities
    record = _record(scenario, inputs, access, coverage, coverage_analysis, plan, timings,
                     roads=write, referral=referral)
    result = RunResult(scenario, network, population, facilities, access, coverage,
                       plan.sites, plan.coverage_with_new_sites, record.summary.to_dict(),
                       timings, analysis=coverage_analysis, siting=plan, referral=referral)
    if write:
        with stage("outputs") as tick:
            result.out_dir = write_run_folder(record, scenario.output.out, overwrite=overwrite,
                                              extra_writers=planner_writers(offline=offline),
                                              tick=tick, claim=claim)
    reporter.finish()
    return result


@contextmanager
def _stage(name: str, *, timings: dict[str, float], reporter: RunProgress) -> Iterator[Tick]:
    tick = reporter.stage(name)
    start = time.perf_counter()
    yield tick
    tick(1.0, "done")
    timings[name] = round(time.perf_counter() - start, 3)
    logger.info("stage %s took %.2f s", name, timings[name])


Stage = Callable[[str], Any]  # _stage with the run's timings and reporter bound


def _input_paths(scenario: Scenario) -> list[Path]:
    """Every file the run reads (an output folder may never hold one of them)."""
    inputs, siting = scenario.inputs, scenario.siting
    return [p for p in (inputs.network, inputs.population, inputs.facilities,
                        inputs.boundaries, inputs.groups, siting.candidates, siting.exclusions)
            if p is not None]


def _require_inputs(scenario: Scenario) -> None:
    missing = [name for name in ("network", "population", "facilities")
               if getattr(scenario.inputs, name) is None]
    if missing:
        raise ConfigError(
            "missing input(s): " + ", ".join(missing)
            + "; give them in the scenario file [inputs] or as --network/--population/"
            "--facilities"
        )


# --------------------------------------------------------------------------- inputs


def load_inputs(scenario: Scenario, *, stage: Stage | None = None) -> RunInputs:
    """Read every input of ``scenario`` once (network, population, facilities, areas,
    groups and the siting files).

    Parameters
    ----------
    scenario
        The run's settings; ``scenario.inputs`` names the files.
    stage
        Context manager factory timing each step (the pipeline's); ``None`` for none.

    Raises
    ------
    AccessmapError
        A file is missing, unreadable or unusable (the message names it and the fix).
    """
    stage = stage or _untimed
    paths = scenario.inputs
    assert paths.network and paths.population and paths.facilities  # _require_inputs
    with stage("network") as tick:
        network = load_network(paths.network, profile=scenario.speed_profile(), tick=tick)
    with stage("population"):
        population = load_population(
            paths.population, bounds_lonlat=_padded_bounds(network),
            aggregate=scenario.analysis.aggregate, population_column=paths.population_column,
        )
    with stage("facilities"):
        facilities = load_facilities(paths.facilities, exclude=scenario.facilities.exclude,
                                     layer=paths.facilities_layer)
    with stage("areas"):
        admin, labels = _admin_areas(scenario, population)
        groupings = _group_weights(scenario, population)
        siting = scenario.siting
        candidates = (read_vector(siting.candidates, what="candidates")
                      if siting.candidates is not None else None)
        exclusions = (read_vector(siting.exclusions, what="exclusion areas")
                      if siting.exclusions is not None else None)
        polygons = None
        if siting.weighting == "group" and paths.groups is not None \
                and paths.groups.suffix.lower() not in RASTER_SUFFIXES:
            polygons = read_vector(paths.groups, what="groups")
        places = read_places(paths.network, bbox=_padded_bounds(network))
    with stage("drive_network"):
        drive = _drive_network(scenario, network)
    return RunInputs(network, population, facilities, admin, labels, groupings,
                     candidates=candidates, exclusions=exclusions, group_polygons=polygons,
                     drive_network=drive, places=places)


@contextmanager
def _untimed(name: str) -> Iterator[Tick]:
    yield lambda fraction, message="": None


def _padded_bounds(network: RoadNetwork) -> tuple[float, float, float, float]:
    """The study area: the network's extent plus the snap distance, in metres."""
    return padded_bounds_lonlat(network, network.profile.max_snap_m)


def _admin_areas(
    scenario: Scenario, population: Population
) -> tuple[gpd.GeoDataFrame | None, NDArray[np.object_] | None]:
    paths = scenario.inputs
    if paths.boundaries is None:
        return None, None
    polygons = load_admin_areas(paths.boundaries, admin_level=paths.admin_level,
                                name_column=paths.boundary_name_column)
    return polygons, assign_areas(polygons, population)


def _group_weights(
    scenario: Scenario, population: Population
) -> dict[str, dict[str, NDArray[np.float64]]]:
    path, column = scenario.inputs.groups, scenario.inputs.group_column
    if path is None:
        return {}
    if path.suffix.lower() in RASTER_SUFFIXES:
        counts = counts_on_grid(path, population, aggregate=scenario.analysis.aggregate)
        return {path.stem: {path.stem: counts}}
    if not column:
        raise ConfigError(
            f"groups file {path} is given without group_column; set [inputs] group_column "
            "to the attribute holding each polygon's group (e.g. wealth_quintile)"
        )
    labels = group_labels(path, column, population)
    return {column: label_weights(labels, population.population)}


def _drive_network(scenario: Scenario, network: RoadNetwork) -> RoadNetwork | None:
    """The drive network of mobile circuits, when the run may plan them in another mode.

    The run's ``[speeds]`` class speeds are those of its own mode and do not apply to
    vehicles; its other profile settings (snap distance, ferries, surface factors) do.
    """
    siting = scenario.siting
    wanted = siting.mobile and (siting.new_sites > 0 or siting.coverage_target is not None)
    if network.mode == "drive" or not wanted or scenario.inputs.network is None:
        return None
    speeds = scenario.speeds
    options = {k: getattr(speeds, k) for k in ("max_snap_m", "ferry_kph", "ferry_wait_min")
               if getattr(speeds, k) is not None}
    profile = SpeedProfile.default("drive", surface_factors=dict(speeds.surface_factors),
                                   **options)
    return load_network(scenario.inputs.network, profile=profile)


# --------------------------------------------------------------------------- stages


def _travel_times(scenario: Scenario, inputs: RunInputs, tick: Tick) -> Access:
    network, population, facilities = inputs.network, inputs.population, inputs.facilities
    px, py = network.project(population.lon, population.lat)
    fx, fy = network.project(facilities.geometry.x.to_numpy(),
                             facilities.geometry.y.to_numpy(),
                             what=f"facilities file {scenario.inputs.facilities}")
    access = nearest_facility_times(network, px, py, fx, fy, tick=tick)
    _check_facilities_snapped(access, facilities, scenario)
    far_facilities(access, facilities["name"].astype(str).tolist(),
                   max_distance_m=scenario.facilities.max_road_distance_m)
    check_run(network, access, population.population, scenario.analysis.thresholds_min)
    return access


def _check_facilities_snapped(
    access: Access, facilities: gpd.GeoDataFrame, scenario: Scenario
) -> None:
    snapped = access.facility_snap.on_network
    if not snapped.any():
        raise NetworkError(
            f"no facility in {scenario.inputs.facilities} is within "
            f"{scenario.speed_profile().max_snap_m:.0f} m of a usable road in "
            f"{scenario.inputs.network}; does the extract cover the facilities?"
        )
    for name in facilities.loc[~snapped, "name"]:
        message = (f"facility {name!r} is farther than the snap distance from any road; "
                   "it cannot be reached")
        logger.warning(message)
        warnings.warn(message, DataQualityWarning, stacklevel=4)


def analyse(scenario: Scenario, inputs: RunInputs, access: Access, *,
            tick: Tick | None = None) -> CoverageAnalysis:
    """The coverage analysis of one run: by area and group, bands, zones, catchments,
    2SFCA and equity (every step a pure function of the loaded inputs)."""
    tick = tick or (lambda fraction, message="": None)
    thresholds = scenario.analysis.thresholds_min
    population = inputs.population
    pop, time_s = population.population, access.time_s
    under_min = scenario.siting_threshold_min
    catch_min = scenario.catchment_threshold_min
    tick(0.0, "areas and groups")
    admin, by_area = inputs.admin_areas, None
    if admin is not None and inputs.area_labels is not None:
        by_area = coverage_by(label_weights(inputs.area_labels, pop), time_s, access.status,
                              thresholds, key="area")
        admin = admin.merge(by_area, left_on="area_name", right_on="area", how="left").drop(
            columns="area")
    settlement = settlement_classes(population)
    by_group = coverage_by_groups({SETTLEMENT: label_weights(settlement, pop),
                                   **inputs.groupings}, time_s, access.status, thresholds)
    tick(0.2, "surface and bands")
    bands = isochrone_bands(population, time_s, thresholds)
    tick(0.4, "underserved zones")
    zones = underserved_zones(population, time_s, under_min,
                              min_population=scenario.analysis.min_zone_population)
    tick(0.6, "catchments")
    table, accessibility, unit = facility_catchments(
        inputs.network, population, inputs.facilities, access, thresholds, catch_min,
        tick=scaled(tick, 0.6, 1.0, "catchments"))
    return CoverageAnalysis(
        population=population, time_s=time_s, thresholds_min=thresholds,
        underserved_threshold_min=under_min, catchment_threshold_min=catch_min,
        admin_areas=admin, by_area=by_area, by_group=by_group, settlement=settlement,
        bands=bands, zones=zones, catchments=table, accessibility=accessibility,
        supply_unit=unit,
        equity=equity_summary(by_group, settlement, time_s, pop, thresholds, under_min),
    )


def _components(network: RoadNetwork, access: Access, population: NDArray[np.float64]
                ) -> dict[str, Any]:
    """Road pieces and the people with no route by cause (``network_components``)."""
    causes = no_route_breakdown(network, access, population)
    return {**component_report(network, access, population),
            "no_route_on_pieces_without_facility": causes["pieces_without_facility"],
            "no_route_on_one_way_dead_ends": causes["one_way_dead_ends"],
            "moved_to_reachable_road": causes["moved_to_reachable_road"]}


def _referral(scenario: Scenario, inputs: RunInputs) -> Referral | None:
    """Referral times between facility levels, when ``[referral] level_column`` is set."""
    settings = scenario.referral
    if settings.level_column is None:
        return None
    return referral_routes(inputs.network, inputs.facilities,
                           level_column=settings.level_column, levels=settings.levels)


def _siting_data(scenario: Scenario, inputs: RunInputs, access: Access) -> SitingData:
    return SitingData(
        network=inputs.network, population=inputs.population, facilities=inputs.facilities,
        access=access, thresholds_min=scenario.analysis.thresholds_min,
        threshold_min=scenario.siting_threshold_min, candidates=inputs.candidates,
        exclusions=inputs.exclusions, groups=inputs.group_polygons,
        group_column=scenario.inputs.group_column, drive_network=inputs.drive_network,
        executor=make_executor(scenario.compute.executor, workers=scenario.compute.workers,
                               scheduler=scenario.compute.scheduler),
    )


# --------------------------------------------------------------------------- record


def _record(
    scenario: Scenario,
    inputs: RunInputs,
    access: Access,
    coverage: pd.DataFrame,
    analysis: CoverageAnalysis,
    plan: SitingPlan,
    timings: dict[str, float],
    *,
    roads: bool,
    referral: Referral | None = None,
) -> RunRecord:
    """The run record (``roads``: build the context roads layer, only needed to write)."""
    network = inputs.network
    return build_record(
        title=scenario.title, synthetic=scenario.synthetic, settings=scenario.to_dict(),
        inputs={name: InputFile(path=str(path), sha256=file_sha256(path))
                for name in ("network", "population", "facilities")
                if (path := getattr(scenario.inputs, name)) is not None},
        siting_threshold_min=scenario.siting_threshold_min, network=network.summary(),
        components=_components(network, access, inputs.population.population),
        population=inputs.population, facilities=inputs.facilities, access=access,
        coverage=coverage, analysis=analysis, siting=plan,
        roads=roads_layer(network) if roads else None, timings_s=timings,
        referral=referral, places=inputs.places,
        with_demand_points=scenario.output.writes_demand_points(inputs.population.size),
    )
