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
from accessmap.analysis.indicators import IndicatorResult, run_indicators
from accessmap.analysis.referral import Referral, referral_routes
from accessmap.analysis.results import SETTLEMENT, CoverageAnalysis
from accessmap.analysis.road_changes import RoadChangeReport, road_change_report
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
from accessmap.inputs.facilities import read_vector
from accessmap.inputs.facility_changes import load_scenario_facilities
from accessmap.inputs.indicators import target_populations
from accessmap.inputs.landcover import load_offroad_surface
from accessmap.inputs.memory import check_memory
from accessmap.inputs.network import file_sha256, load_network
from accessmap.inputs.places import read_places
from accessmap.inputs.population import RASTER_SUFFIXES, Population, counts_on_grid, load_population
from accessmap.inputs.road_changes import changed_network
from accessmap.inputs.stops import TransferStops, load_transfer_stops
from accessmap.outputs import planner_writers
from accessmap.outputs.maps import roads_layer
from accessmap.progress import CancelToken, Progress, RunProgress, Tick, scaled
from accessmap.record import (
    FILES,
    LAYERS,
    InputFile,
    RunRecord,
    build_record,
    claim_output_folder,
    write_run_folder,
)
from accessmap.routing.closures import ChangedRoads, cut_off_closed_areas
from accessmap.routing.modes import SpeedProfile, get_mode
from accessmap.routing.multimodal import stop_transfer_points, walk_drive_times
from accessmap.routing.network import RoadNetwork, padded_bounds_lonlat
from accessmap.routing.offroad import OffroadSurface, offroad_times
from accessmap.routing.travel_times import Access, nearest_facility_times
from accessmap.schemas.summary import (
    FacilityChanges,
    IndicatorSummary,
    RoadChangesSummary,
    from_json,
)
from accessmap.siting.plan import SitingData, SitingPlan, recommend_sites

__all__ = ["STAGE_WEIGHTS", "RunInputs", "RunResult", "run"]

logger = logging.getLogger(__name__)

#: Relative cost of each stage (measured on the Comoros runs), for the progress fraction.
STAGE_WEIGHTS = {"network": 3.0, "population": 1.0, "facilities": 0.5, "areas": 1.0,
                 "drive_network": 0.5,
                 "travel_times": 2.0, "coverage": 0.2, "analysis": 3.0, "referral": 0.3,
                 "indicators": 0.5,
                 "siting": 3.0, "record": 1.0,
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
    indicator_targets: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    transfer_stops: TransferStops | None = None
    offroad: OffroadSurface | None = None
    road_changes: ChangedRoads | None = None


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
    indicators: IndicatorResult | None = None


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
        split = 1.0 if inputs.road_changes is None else 0.5  # the rest: unchanged roads
        access = _travel_times(scenario, inputs, scaled(tick, 0.0, split))
        if inputs.road_changes is not None:  # people inside closed areas cannot walk out
            access = cut_off_closed_areas(access, inputs.road_changes, *inputs.network.project(
                inputs.population.lon, inputs.population.lat))
        roads_report = None if inputs.road_changes is None else road_change_report(
            inputs.road_changes, access, inputs.population, inputs.facilities,
            scenario.analysis.thresholds_min, tick=scaled(tick, split, 1.0))
    with stage("coverage"):
        coverage = coverage_table(access.time_s, inputs.population.population,
                                  scenario.analysis.thresholds_min)
    with stage("analysis") as tick:
        coverage_analysis = analyse(scenario, inputs, access, tick=tick)
    with stage("indicators") as tick:
        indicators = run_indicators(
            scenario.indicators, coverage_analysis, network=inputs.network, access=access,
            facilities=inputs.facilities, targets=inputs.indicator_targets,
            area_labels=inputs.area_labels, groupings=inputs.groupings, tick=tick)
    with stage("referral"):
        referral = _referral(scenario, inputs)
    with stage("siting") as tick:
        plan = recommend_sites(scenario.siting, _siting_data(scenario, inputs, access),
                               tick=tick)
    network, population, facilities = inputs.network, inputs.population, inputs.facilities
    with stage("record"):  # the summary, tables and layers (the map's roads when writing)
        record = _record(scenario, inputs, access, coverage, coverage_analysis, plan,
                         timings, roads=write, referral=referral, indicators=indicators)
        _report_facility_changes(record, scenario, facilities)
        _add_road_changes(record, roads_report)
    record.summary.timings_s = dict(timings)  # with the record's own time
    result = RunResult(scenario, network, population, facilities, access, coverage,
                       plan.sites, plan.coverage_with_new_sites, record.summary.to_dict(),
                       timings, analysis=coverage_analysis, siting=plan, referral=referral,
                       indicators=indicators)
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
    inputs, siting, offroad = scenario.inputs, scenario.siting, scenario.offroad
    return [p for p in (inputs.network, inputs.population, inputs.facilities,
                        inputs.boundaries, inputs.groups, siting.candidates, siting.exclusions,
                        scenario.transfer.transfer_stops,
                        offroad.landcover, offroad.landcover_speeds, offroad.dem,
                        scenario.roads.closed_areas, scenario.roads.slow_areas)
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
        changed = changed_network(scenario.roads, network)
        network = network if changed is None else changed.network
    with stage("population"):
        population = load_population(
            paths.population, bounds_lonlat=_padded_bounds(network),
            aggregate=scenario.analysis.aggregate, population_column=paths.population_column,
            units=paths.population_units,
        )
        offroad = (load_offroad_surface(scenario.offroad, population)
                   if scenario.offroad.active else None)
    with stage("facilities"):
        facilities = load_scenario_facilities(paths.facilities, scenario.facilities,
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
        targets = target_populations(scenario.indicators.indicators, population, labels,
                                     aggregate=scenario.analysis.aggregate)
    with stage("drive_network"):
        drive = _drive_network(scenario, network)
        path = scenario.transfer.transfer_stops if drive is not None else None
        stops = load_transfer_stops(path) if path and get_mode(network.mode).transfer_to else None
    return RunInputs(network, population, facilities, admin, labels, groupings,
                     candidates=candidates, exclusions=exclusions, group_polygons=polygons,
                     drive_network=drive, places=places, indicator_targets=targets,
                     transfer_stops=stops, offroad=offroad, road_changes=changed)


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
    vehicles; its other profile settings (snap distance, ferries, surface factors, the
    named profile's season factors) and the ``[roads]`` changes do.
    """
    siting = scenario.siting
    wanted = siting.mobile and (siting.new_sites > 0 or siting.coverage_target is not None)
    wanted = wanted or get_mode(network.mode).transfer_to == "drive"  # walk+drive rides it
    if network.mode == "drive" or not wanted or scenario.inputs.network is None:
        return None
    speeds = scenario.speeds
    options = {k: getattr(speeds, k) for k in ("max_snap_m", "ferry_kph", "ferry_wait_min")
               if getattr(speeds, k) is not None}
    profile = SpeedProfile.default("drive", surface_factors=dict(speeds.surface_factors),
                                   season_factors=scenario.speed_profile().season_factors,
                                   **options)
    drive = load_network(scenario.inputs.network, profile=profile)
    changed = changed_network(scenario.roads, drive, quiet=True)  # closures close for all
    return drive if changed is None else changed.network


# --------------------------------------------------------------------------- stages


def _travel_times(scenario: Scenario, inputs: RunInputs, tick: Tick) -> Access:
    network, population, facilities = inputs.network, inputs.population, inputs.facilities
    px, py = network.project(population.lon, population.lat)
    fx, fy = network.project(facilities.geometry.x.to_numpy(),
                             facilities.geometry.y.to_numpy(),
                             what=f"facilities file {scenario.inputs.facilities}")
    surface = inputs.offroad
    road_tick = tick if surface is None else scaled(tick, 0.0, 0.5)
    if get_mode(network.mode).transfer_to is None or inputs.drive_network is None:
        access = nearest_facility_times(network, px, py, fx, fy, tick=road_tick)
    else:
        access = _walk_drive(scenario, inputs, px, py, road_tick)
    if surface is not None:  # [offroad]: walk to the road over land cover and slope
        access = offroad_times(network, access, surface, population.row, population.col,
                               tick=scaled(tick, 0.5, 1.0))
    _check_facilities_snapped(access, facilities, scenario)
    far_facilities(access, facilities["name"].astype(str).tolist(),
                   max_distance_m=scenario.facilities.max_road_distance_m)
    check_run(network, access, population.population, scenario.analysis.thresholds_min)
    return access


def _walk_drive(scenario: Scenario, inputs: RunInputs, px: NDArray[np.float64],
                py: NDArray[np.float64], tick: Tick) -> Access:
    """Travel times of the ``walk+drive`` mode over the run's walking and drive networks."""
    walk, drive, stops = inputs.network, inputs.drive_network, inputs.transfer_stops
    assert drive is not None
    points = None if stops is None else stop_transfer_points(
        walk, drive, stops.lon, stops.lat, max_distance_m=scenario.transfer.max_stop_distance_m,
        source=stops.source)
    geometry = inputs.facilities.geometry
    return walk_drive_times(walk, drive, px, py, geometry.x.to_numpy(), geometry.y.to_numpy(),
                            transfer_s=scenario.transfer.transfer_s, transfer=points, tick=tick)


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

#: Input files whose path and sha256 the run record keeps, as (section, key).
_RECORDED_INPUTS = (("inputs", "network"), ("inputs", "population"), ("inputs", "facilities"),
                    ("offroad", "landcover"), ("offroad", "landcover_speeds"),
                    ("offroad", "dem"))


def _report_facility_changes(record: RunRecord, scenario: Scenario,
                             facilities: gpd.GeoDataFrame) -> None:
    """Summary key ``facility_changes`` and the planned file's hash (scenarios only)."""
    if "changes" in facilities.attrs:
        record.summary.facility_changes = from_json(FacilityChanges,
                                                    facilities.attrs["changes"].to_dict())
    if (planned := scenario.facilities.planned) is not None:
        record.summary.run.inputs["planned"] = InputFile(path=str(planned),
                                                         sha256=file_sha256(planned))


def _add_road_changes(record: RunRecord, report: RoadChangeReport | None) -> None:
    """The ``road_changes`` summary entry and ``closed_roads`` layer, when [roads] is set."""
    if report is not None:
        record.summary.road_changes = from_json(RoadChangesSummary, report.summary)
        record.layers[LAYERS.closed_roads] = report.layer


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
    indicators: IndicatorResult | None = None,
) -> RunRecord:
    """The run record (``roads``: build the context roads layer, only needed to write)."""
    network = inputs.network
    record = build_record(
        title=scenario.title, synthetic=scenario.synthetic, settings=scenario.to_dict(),
        inputs={name: InputFile(path=str(path), sha256=file_sha256(path))
                for section, name in _RECORDED_INPUTS
                if (path := getattr(getattr(scenario, section), name)) is not None},
        siting_threshold_min=scenario.siting_threshold_min, network=network.summary(),
        components=_components(network, access, inputs.population.population),
        population=inputs.population, facilities=inputs.facilities, access=access,
        coverage=coverage, analysis=analysis, siting=plan,
        roads=roads_layer(network) if roads else None, timings_s=timings,
        referral=referral, places=inputs.places,
        with_demand_points=scenario.output.writes_demand_points(inputs.population.size),
    )
    if indicators is not None:
        record.summary.indicators = [from_json(IndicatorSummary, e) for e in indicators.summary]
        record.tables[FILES.indicators] = indicators.long
        record.tables[FILES.indicators_wide] = indicators.wide
    return record
