"""One run: the stages in order, their timings, and the run record.

``run(scenario)`` loads the inputs, computes travel times and coverage, recommends new
sites and writes the output folder.  The CLI is a thin layer over this function.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from accessmap._version import __version__
from accessmap.analysis.components import component_report
from accessmap.analysis.coverage import coverage_records, coverage_table, unreachable_summary
from accessmap.analysis.stage import CoverageAnalysis, analyse
from accessmap.config import Scenario
from accessmap.errors import ConfigError, NetworkError
from accessmap.inputs.facilities import load_facilities
from accessmap.inputs.network import file_sha256, load_network
from accessmap.inputs.population import Population, load_population
from accessmap.outputs.maps import roads_layer
from accessmap.outputs.report import planner_writers
from accessmap.record import check_output_folder, write_csv, write_json, write_layers, write_outputs
from accessmap.routing.network import RoadNetwork
from accessmap.routing.travel_times import STATUS_NAMES, Access, nearest_facility_times
from accessmap.siting.plan import SitingPlan, options_from_scenario, recommend_sites

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


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


@contextmanager
def _stage(name: str, timings: dict[str, float], progress: Progress | None) -> Iterator[None]:
    if progress:
        progress(name)
    start = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - start, 3)
    logger.info("stage %s took %.2f s", name, timings[name])


def _require_inputs(scenario: Scenario) -> None:
    missing = [name for name in ("network", "population", "facilities")
               if getattr(scenario, name) is None]
    if missing:
        raise ConfigError(
            "missing input(s): " + ", ".join(missing)
            + "; give them in the scenario file [inputs] or as --network/--population/"
            "--facilities"
        )


def run(
    scenario: Scenario,
    *,
    overwrite: bool = False,
    write: bool = True,
    progress: Progress | None = None,
    offline: bool = False,
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
        Called with each stage's name as it starts.
    offline
        Inline the map's JavaScript/CSS so ``map.html`` opens with no internet.

    Returns
    -------
    RunResult

    Raises
    ------
    AccessmapError
        Any input or setting problem, with a message naming the file and the fix.
    """
    _require_inputs(scenario)
    assert scenario.network and scenario.population and scenario.facilities
    options_from_scenario(scenario)  # unknown [siting] keys fail before any work
    if write:
        check_output_folder(scenario.out, overwrite=overwrite)
    timings: dict[str, float] = {}
    with _stage("network", timings, progress):
        network = load_network(scenario.network, profile=scenario.speed_profile())
    with _stage("population", timings, progress):
        population = load_population(
            scenario.population, bounds_lonlat=_padded_bounds(network),
            aggregate=scenario.aggregate, population_column=scenario.population_column,
        )
    with _stage("facilities", timings, progress):
        facilities = load_facilities(scenario.facilities, exclude=scenario.exclude)
    with _stage("travel_times", timings, progress):
        px, py = network.project(population.lon, population.lat)
        fx, fy = network.project(facilities.geometry.x.to_numpy(),
                                 facilities.geometry.y.to_numpy(),
                                 what=f"facilities file {scenario.facilities}")
        access = nearest_facility_times(network, px, py, fx, fy)
        _check_facilities_snapped(access, facilities, scenario)
    with _stage("coverage", timings, progress):
        coverage = coverage_table(access.time_s, population.population,
                                       scenario.thresholds_min)
    with _stage("analysis", timings, progress):
        coverage_analysis = analyse(scenario, network, population, facilities, access)
    with _stage("siting", timings, progress):
        plan = recommend_sites(scenario, network, population, facilities, access)
        sites, coverage_new = plan.sites, plan.coverage_with_new_sites
    summary = _summary(scenario, network, population, facilities, access, coverage, sites,
                       coverage_new, timings)
    result = RunResult(scenario, network, population, facilities, access, coverage, sites,
                       coverage_new, summary, timings, analysis=coverage_analysis, siting=plan)
    summary.update(plan.summary_items())
    summary.update(coverage_analysis.summary())
    if write:
        with _stage("outputs", timings, progress):
            result.out_dir = _write(result, overwrite=overwrite, offline=offline)
    return result


def _padded_bounds(network: RoadNetwork) -> tuple[float, float, float, float]:
    west, south, east, north = network.bounds_lonlat()
    pad = network.profile.max_snap_m / 111_000
    return west - pad, south - pad, east + pad, north + pad


def _check_facilities_snapped(
    access: Access, facilities: gpd.GeoDataFrame, scenario: Scenario
) -> None:
    snapped = access.facility_snap.on_network
    if not snapped.any():
        raise NetworkError(
            f"no facility in {scenario.facilities} is within "
            f"{scenario.speed_profile().max_snap_m:.0f} m of a usable road in "
            f"{scenario.network}; does the extract cover the facilities?"
        )
    for name in facilities.loc[~snapped, "name"]:
        logger.warning("facility %r is farther than the snap distance from any road; "
                       "it cannot be reached", name)


def _summary(
    scenario: Scenario,
    network: RoadNetwork,
    population: Population,
    facilities: gpd.GeoDataFrame,
    access: Access,
    coverage: pd.DataFrame,
    sites: gpd.GeoDataFrame,
    coverage_new: pd.DataFrame,
    timings: dict[str, float],
) -> dict[str, Any]:
    unreachable = unreachable_summary(access.status, population.population)
    return {
        "title": scenario.title,
        "synthetic_data": scenario.synthetic,
        "population_total": round(population.total, 1),
        "coverage": coverage_records(coverage),
        "unreachable_population": unreachable["total"],
        "unreachable_detail": unreachable,
        "facilities_used": len(facilities),
        "facilities_unsnapped": [
            str(n) for n in facilities.loc[~access.facility_snap.on_network, "name"]
        ],
        "facilities_dropped": list(facilities.attrs.get("dropped", [])),
        "recommended_sites": [],  # filled from SitingPlan.summary_items()
        "siting_threshold_min": scenario.siting_threshold_min,
        "coverage_with_new_sites": coverage_records(coverage_new),
        "network": network.summary(),
        "network_components": component_report(network, access, population.population),
        "run": {
            "accessmap_version": __version__,
            "inputs": {
                name: {"path": str(path), "sha256": file_sha256(path)}
                for name in ("network", "population", "facilities")
                if (path := getattr(scenario, name)) is not None
            },
            "settings": scenario.to_dict(),
        },
        "timings_s": timings,
    }


def _write(result: RunResult, *, overwrite: bool, offline: bool = False) -> Path:
    scenario = result.scenario
    time_min = result.access.time_s / 60
    cells = gpd.GeoDataFrame(
        {
            "population": result.population.population,
            "time_min": np.where(np.isfinite(time_min), time_min, np.nan),
            "status": [STATUS_NAMES[int(s)] for s in result.access.status],
            "nearest_facility": result.access.facility,
        },
        geometry=gpd.points_from_xy(result.population.lon, result.population.lat),
        crs="EPSG:4326",
    )
    facilities = result.facilities
    writers: dict[str, Callable[[Path], None]] = {
        "summary.json": lambda p: write_json(p, result.summary),
        "coverage.csv": lambda p: write_csv(p, _coverage_csv(result)),
        "sites.csv": lambda p: write_csv(
            p, pd.DataFrame(result.summary["recommended_sites"])),
        **{name: functools.partial(_write_table, table=table)
           for name, table in (result.siting.tables() if result.siting else {}).items()},
        "layers.gpkg": lambda p: write_layers(p, {
            "facilities": facilities[["facility_id", "name", "type", "capacity", "geometry"]],
            "demand_points": cells,
            "recommended_sites": result.sites,
            **(result.siting.layers() if result.siting else {}),
            "roads": roads_layer(result.network),
            **(result.analysis.layers() if result.analysis else {}),
        }),
        **(result.analysis.writers() if result.analysis else {}),
        **planner_writers(offline=offline),  # after the data files: reads them
    }
    return write_outputs(scenario.out, writers, overwrite=overwrite)


def _write_table(path: Path, *, table: pd.DataFrame) -> None:
    write_csv(path, table)


def _coverage_csv(result: RunResult) -> pd.DataFrame:
    now = result.coverage.assign(scenario="current")
    after = result.coverage_with_new_sites.assign(scenario="with_new_sites")
    return pd.concat([now, after], ignore_index=True)[
        ["scenario", "threshold_min", "population", "share"]
    ]
