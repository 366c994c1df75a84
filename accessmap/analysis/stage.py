"""Coverage analysis of one run: by area and group, surface, bands, catchments, zones, equity.

:func:`analyse` is called by :func:`accessmap.pipeline.run` once nearest-facility travel
times are known; the returned :class:`CoverageAnalysis` gives the new ``summary.json``
keys (:meth:`~CoverageAnalysis.summary`), GeoPackage layers
(:meth:`~CoverageAnalysis.layers`) and files (:meth:`~CoverageAnalysis.writers`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accessmap._raster import cell_area_km2, label_polygons
from accessmap.analysis.catchments import catchment_table, two_step_fca
from accessmap.analysis.coverage import coverage_by, label_weights
from accessmap.analysis.equity import coverage_gaps, rural_underserved_share, travel_time_inequality
from accessmap.analysis.surface import isochrone_bands, write_travel_time
from accessmap.analysis.zones import REST_ZONE, underserved_zones
from accessmap.config import Scenario
from accessmap.errors import ConfigError
from accessmap.inputs.areas import assign_areas, group_labels, load_admin_areas, settlement_classes
from accessmap.inputs.population import RASTER_SUFFIXES, Population, counts_on_grid
from accessmap.record import write_csv
from accessmap.routing.network import RoadNetwork
from accessmap.routing.travel_times import Access, facility_point_times

Progress = Callable[[str], None]


SETTLEMENT = "settlement_type"


@dataclass(frozen=True, eq=False)
class CoverageAnalysis:
    """Everything :func:`analyse` computed."""

    population: Population
    time_s: NDArray[np.float64]
    thresholds_min: tuple[float, ...]
    underserved_threshold_min: float
    catchment_threshold_min: float
    admin_areas: gpd.GeoDataFrame | None
    by_area: pd.DataFrame | None
    by_group: pd.DataFrame
    settlement: NDArray[np.object_]
    bands: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    catchments: gpd.GeoDataFrame
    accessibility: NDArray[np.float64]
    supply_unit: str
    equity: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """New ``summary.json`` keys (JSON-ready; unknown values are ``None``)."""
        pop = self.population.population
        settled = label_weights(self.settlement, pop)
        reached = self.accessibility > 0
        return {
            "coverage_by_area": _records(self.by_area),
            "coverage_by_group": _records(self.by_group),
            "settlement_population": {k: round(float(v.sum()), 1) for k, v in settled.items()},
            "isochrone_bands": _records(self.bands.drop(columns="geometry")),
            "underserved_zones": {
                "threshold_min": self.underserved_threshold_min,
                "zones": int((self.zones["zone"] != REST_ZONE).sum()),
                "population": round(float(self.zones["population"].sum()), 1),
                "largest": _records(self.zones.drop(columns="geometry").head(10)),
            },
            "accessibility_2sfca": {
                "catchment_threshold_min": self.catchment_threshold_min,
                "supply_unit": self.supply_unit,
                "mean_per_1000_people": round(
                    float((self.accessibility * pop).sum() / pop.sum() * 1000), 6),
                "population_without_facility_in_catchment": round(
                    float(pop[~reached].sum()), 1),
            },
            "equity": self.equity,
        }

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """GeoPackage layers: admin_areas, isochrone_bands, underserved_zones, catchments."""
        out = {"isochrone_bands": self.bands, "underserved_zones": self.zones,
               "catchments": self.catchments}
        if self.admin_areas is not None:
            out = {"admin_areas": self.admin_areas, **out}
        return out

    def writers(self) -> dict[str, Callable[[Path], None]]:
        """Output files: travel_time.tif and the coverage / zone / facility CSV tables."""
        plain = self.catchments.drop(columns="geometry")
        out: dict[str, Callable[[Path], None]] = {
            "travel_time.tif": lambda p: write_travel_time(p, self.population,
                                                                   self.time_s),
            "coverage_by_group.csv": lambda p: write_csv(p, self.by_group),
            "underserved_zones.csv": lambda p: write_csv(
                p, self.zones.drop(columns="geometry")),
            "facilities.csv": lambda p: write_csv(p, plain),
        }
        if self.by_area is not None:
            by_area = self.by_area
            out["coverage_by_area.csv"] = lambda p: write_csv(p, by_area)
        return out


def analyse(
    scenario: Scenario,
    network: RoadNetwork,
    population: Population,
    facilities: gpd.GeoDataFrame,
    access: Access,
    *,
    progress: Progress | None = None,
) -> CoverageAnalysis:
    """Run the coverage analysis of one scenario.

    Parameters
    ----------
    scenario
        A :class:`~accessmap.config.Scenario`; read: ``thresholds_min``,
        ``siting_threshold_min`` (underserved threshold), ``boundaries``,
        ``boundary_name_column``, ``admin_level`` (when present), ``groups``,
        ``group_column``, ``aggregate``, ``catchment_threshold_min`` and
        ``min_zone_population`` (when present).
    network, population, facilities, access
        The run's inputs and nearest-facility times.
    progress
        Called with each step's name.

    Raises
    ------
    ConfigError
        Groups are given as polygons without ``group_column``.
    InputDataError
        Boundary or group files are unusable (see :mod:`accessmap.areas`).
    """
    say = progress or (lambda _name: None)
    thresholds = tuple(scenario.thresholds_min)
    pop, time_s = population.population, access.time_s
    under_min = float(scenario.siting_threshold_min)
    catch_min = float(scenario.catchment_threshold_min or under_min)
    say("areas and groups")
    admin, labels = _admin_areas(scenario, population)
    settlement = settlement_classes(population)
    by_area = None
    if admin is not None and labels is not None:
        by_area = coverage_by(label_weights(labels, pop), time_s, access.status,
                                   thresholds, key="area")
        admin = admin.merge(by_area, left_on="area_name", right_on="area", how="left").drop(
            columns="area")
    group_views = {SETTLEMENT: label_weights(settlement, pop),
                   **_group_weights(scenario, population)}
    by_group = pd.concat(
        [coverage_by(w, time_s, access.status, thresholds, key="group")
         .assign(grouping=name) for name, w in group_views.items()], ignore_index=True)
    by_group = by_group[["grouping", *by_group.columns.drop("grouping")]]
    say("surface and bands")
    bands = isochrone_bands(population, time_s, thresholds)
    say("underserved zones")
    zones = underserved_zones(
        population, time_s, under_min,
        min_population=float(scenario.min_zone_population))
    say("catchments")
    table, accessibility, unit = _facility_table(network, population, facilities, access,
                                                 thresholds, catch_min)
    equity_view = _equity(by_group, settlement, time_s, pop, thresholds, under_min)
    return CoverageAnalysis(
        population=population, time_s=time_s, thresholds_min=thresholds,
        underserved_threshold_min=under_min, catchment_threshold_min=catch_min,
        admin_areas=admin, by_area=by_area, by_group=by_group, settlement=settlement,
        bands=bands, zones=zones, catchments=table, accessibility=accessibility,
        supply_unit=unit, equity=equity_view,
    )


def _admin_areas(
    scenario: Scenario, population: Population
) -> tuple[gpd.GeoDataFrame | None, NDArray[np.object_] | None]:
    if scenario.boundaries is None:
        return None, None
    polygons = load_admin_areas(
        scenario.boundaries, admin_level=scenario.admin_level,
        name_column=scenario.boundary_name_column)
    return polygons, assign_areas(polygons, population)


def _group_weights(
    scenario: Scenario, population: Population
) -> dict[str, dict[str, NDArray[np.float64]]]:
    path = scenario.groups
    if path is None:
        return {}
    if Path(path).suffix.lower() in RASTER_SUFFIXES:
        counts = counts_on_grid(path, population, aggregate=int(scenario.aggregate))
        return {Path(path).stem: {Path(path).stem: counts}}
    if not scenario.group_column:
        raise ConfigError(
            f"groups file {path} is given without group_column; set [inputs] group_column "
            "to the attribute holding each polygon's group (e.g. wealth_quintile)"
        )
    labels = group_labels(path, scenario.group_column, population)
    return {scenario.group_column: label_weights(labels, population.population)}


def _facility_table(
    network: RoadNetwork,
    population: Population,
    facilities: gpd.GeoDataFrame,
    access: Access,
    thresholds: tuple[float, ...],
    catch_min: float,
) -> tuple[gpd.GeoDataFrame, NDArray[np.float64], str]:
    """Per facility: nearest-facility catchment polygon and people, 2SFCA and E2SFCA."""
    table = catchment_table(access, population.population, thresholds)
    capacity = pd.to_numeric(facilities["capacity"], errors="coerce").to_numpy(float)
    if np.isfinite(capacity).any():
        supply, unit = np.nan_to_num(capacity, nan=0.0), "capacity"
    else:
        supply, unit = np.ones(len(facilities)), "facility"
    limit = catch_min * 60
    times = facility_point_times(network, access, limit)
    ratio, accessibility = two_step_fca(times, supply, population.population, limit)
    e_ratio, _ = two_step_fca(times, supply, population.population, limit,
                                         decay=True)
    grid = population.to_grid((access.facility + 1).astype(float), fill=0.0).astype(np.int32)
    geoms = label_polygons(grid, population.transform, population.crs)
    areas_km2 = np.bincount(grid.ravel(), weights=np.broadcast_to(
        cell_area_km2(population.transform, population.shape, population.crs),
        population.shape).ravel(), minlength=len(facilities) + 1)[1:]
    frame = facilities[["facility_id", "name", "type", "capacity"]].reset_index(drop=True)
    frame = pd.concat([frame, table], axis=1).assign(
        catchment_area_km2=areas_km2, supply=supply,
        sfca_ratio_per_1000=ratio * 1000, e2sfca_ratio_per_1000=e_ratio * 1000)
    geometry = [geoms.get(i + 1) for i in range(len(facilities))]
    return (gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326"), accessibility, unit)


def _equity(
    by_group: pd.DataFrame,
    settlement: NDArray[np.object_],
    time_s: NDArray[np.float64],
    pop: NDArray[np.float64],
    thresholds: tuple[float, ...],
    under_min: float,
) -> dict[str, Any]:
    return {
        "coverage_gaps": {
            name: coverage_gaps(rows, thresholds)
            for name, rows in by_group.groupby("grouping", sort=False)
        },
        "travel_time_inequality": travel_time_inequality(
            time_s, pop, cap_min=2 * max(thresholds)),
        "underserved_threshold_min": under_min,
        "rural_share_of_underserved": rural_underserved_share(
            settlement, time_s, pop, under_min),
    }


def _records(table: pd.DataFrame | None) -> list[dict[str, Any]]:
    if table is None:
        return []
    frame = table.drop(columns="geometry", errors="ignore")
    out = []
    for row in frame.to_dict(orient="records"):
        out.append({k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()})
    return out
