"""Compare two finished run folders: ``accessmap compare RUN_A RUN_B``.

:func:`compare_runs` reads both folders (their ``travel_time.tif``, ``population.tif`` and
tables), refuses runs of different study areas, computes the changes with
:mod:`accessmap.analysis.compare` and writes a comparison folder atomically:
``comparison.json`` (schema ``comparison.schema.json``), the change tables, the
``time_change.tif`` and ``access_change.tif`` rasters, ``comparison.gpkg`` (loss zones,
facilities with their catchment change), ``comparison_map.html`` and the report
``comparison.html``/``.md`` (and ``.pdf`` when Chromium is installed).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accessmap._files import staged_folder, write_csv, write_json, write_layers
from accessmap._raster import write_cog
from accessmap._version import __version__
from accessmap.analysis import compare as delta
from accessmap.analysis.zones import REST_ZONE
from accessmap.errors import InputDataError, OutputError
from accessmap.record import FILES, LAYERS, RunFolder
from accessmap.schemas import SchemaError, validate
from accessmap.schemas import comparison as spec
from accessmap.schemas.names import COMPARISON_FILES
from accessmap.schemas.summary import from_json, to_json

__all__ = ["ComparisonResult", "RunGrids", "compare_runs", "read_grids"]

logger = logging.getLogger(__name__)

#: Facilities listed in ``comparison.json`` (``facility_change.csv`` holds them all).
TOP_FACILITIES = 10


@dataclass
class RunGrids:
    """A run's travel time (minutes, NaN: no route or nobody) and people per cell."""

    minutes: NDArray[np.float64]
    people: NDArray[np.float64]
    grid: delta.Grid


@dataclass
class ComparisonResult:
    """A comparison in memory (and its folder once written).

    Attributes
    ----------
    summary
        ``comparison.json``.
    tables
        File name (:data:`~accessmap.schemas.names.COMPARISON_FILES`) -> table.
    zones, facilities
        Loss zones and facilities (points, both runs) with their catchment change.
    change_min, category
        ``time_change.tif`` and ``access_change.tif``.
    """

    summary: spec.Comparison
    tables: dict[str, pd.DataFrame]
    zones: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    change_min: NDArray[np.float32]
    category: NDArray[np.float32]
    grid: delta.Grid
    path: Path | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """``comparison.json`` as JSON-ready data."""
        data: dict[str, Any] = to_json(self.summary)
        return data


def read_grids(run: RunFolder) -> RunGrids:
    """Read ``travel_time.tif`` and ``population.tif`` of a run folder.

    Raises
    ------
    InputDataError
        A file is missing (a folder written before accessmap wrote ``population.tif``).
    """
    import rasterio

    arrays = []
    for name in (FILES.travel_time, FILES.population):
        path = run.file(name)
        if not path.is_file():
            raise InputDataError(f"run folder {run.path} has no {name}, which a comparison "
                                 f"needs; rerun `accessmap run` with accessmap {__version__}")
        with rasterio.open(path) as src:
            arrays.append(src.read(1, masked=True).astype(np.float64).filled(np.nan))
            grid = ((src.height, src.width), src.transform, str(src.crs))
    return RunGrids(arrays[0], arrays[1], grid)


def compare_runs(
    baseline: str | os.PathLike[str] | RunFolder,
    scenario: str | os.PathLike[str] | RunFolder,
    *,
    out: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    offline: bool = True,
    name: str | None = None,
) -> ComparisonResult:
    """Compare a scenario run with a baseline run of the same study area.

    Parameters
    ----------
    baseline, scenario
        Finished run folders (``a`` and ``b``; every change is ``b - a``).
    out
        Comparison folder to write (atomically); ``None`` computes only.
    overwrite
        Replace an existing comparison folder.
    offline
        Inline the map's JavaScript/CSS (default) instead of linking a CDN.
    name
        The scenario's name in sentences (default: the scenario folder's name).

    Returns
    -------
    ComparisonResult

    Raises
    ------
    InputDataError
        The runs are not on the same grid and population (the message says which
        differs), or a folder lacks ``travel_time.tif``/``population.tif``.
    OutputError
        A folder is not a finished run, or ``out`` exists without ``overwrite``.
    """
    a = baseline if isinstance(baseline, RunFolder) else RunFolder(baseline)
    b = scenario if isinstance(scenario, RunFolder) else RunFolder(scenario)
    grids_a, grids_b = read_grids(a), read_grids(b)
    why = delta.grid_mismatch(grids_a.grid, grids_b.grid, grids_a.people, grids_b.people)
    if why:
        raise InputDataError(f"cannot compare {a.path} with {b.path}: they are not runs of "
                             f"the same study area ({why}); compare runs made with the same "
                             "population file, area and aggregation")
    result = _compare(a, b, grids_a, grids_b, name=name or b.path.name)
    if out is not None:
        result.path = write_comparison(result, a, out, overwrite=overwrite, offline=offline,
                                       scenario=b)
    return result


def _compare(a: RunFolder, b: RunFolder, grids_a: RunGrids, grids_b: RunGrids, *,
             name: str) -> ComparisonResult:
    thresholds = sorted(set(a.thresholds_min) | set(b.thresholds_min))
    people = grids_a.people
    change, category = delta.access_change(grids_a.minutes, grids_b.minutes, people)
    access = delta.access_changes(grids_a.minutes, grids_b.minutes, people, thresholds)
    _, transform, crs = grids_a.grid
    zones = delta.loss_zones(grids_a.minutes, grids_b.minutes, people, thresholds,
                             transform, crs, min_population=_min_zone_population(a))
    by_area = delta.table_changes(a.table(FILES.coverage_by_area), b.table(FILES.coverage_by_area))
    by_group = delta.table_changes(a.table(FILES.coverage_by_group),
                                   b.table(FILES.coverage_by_group))
    indicators = delta.table_changes(a.table(COMPARISON_FILES.run_indicators),
                                     b.table(COMPARISON_FILES.run_indicators))
    table_a, table_b = _facilities_table(a), _facilities_table(b)
    catchments = delta.catchment_changes(table_a, table_b)
    key = delta.facility_key(table_a, table_b)
    sentences = delta.planner_sentences(access, by_area, catchments, scenario=name)
    summary = spec.Comparison(
        comparison_version=spec.COMPARISON_VERSION, accessmap_version=__version__,
        baseline=_run_info(a), scenario=_run_info(b), thresholds_min=thresholds,
        sentences=sentences,
        access=[from_json(spec.AccessChangeRow, _rounded(r)) for r in _rows(access)],
        unreachable_change=round(float(b.summary["unreachable_population"])
                                 - float(a.summary["unreachable_population"]), 1),
        time_change=_time_change(change, category, people),
        by_area=_rows(by_area), by_group=_rows(by_group), indicators=_rows(indicators),
        loss_zones=spec.LossZoneSummary(
            zones=int((zones["zone"] != REST_ZONE).sum()),
            population=round(float(zones["population"].sum()), 1),
            largest=_rows(zones.drop(columns="geometry").head(10))),
        facilities=spec.FacilityChanges(
            key=key,
            closed=catchments.loc[catchments["status"] == "closed", "name"].astype(str).tolist(),
            opened=catchments.loc[catchments["status"] == "opened", "name"].astype(str).tolist(),
            largest_changes=_rows(catchments.head(TOP_FACILITIES))))
    tables = {COMPARISON_FILES.access: access, COMPARISON_FILES.facilities: catchments,
              COMPARISON_FILES.loss_zones: zones.drop(columns="geometry")}
    for file, table in ((COMPARISON_FILES.by_area, by_area),
                        (COMPARISON_FILES.by_group, by_group),
                        (COMPARISON_FILES.indicators, indicators)):
        if table is not None:
            tables[file] = table
    points = _facility_points(a, b, catchments, key)
    return ComparisonResult(summary, tables, zones, points, change, category, grids_a.grid)


def _min_zone_population(run: RunFolder) -> float:
    value = run.settings.get("analysis", {}).get("min_zone_population", 100.0)
    return float(value)


def _facilities_table(run: RunFolder) -> pd.DataFrame:
    """``facilities.csv`` with each facility's ``location`` key (from its layer)."""
    table = run.table(FILES.facilities)
    if table is None:
        raise OutputError(f"run folder {run.path} has no {FILES.facilities}; rerun "
                          "`accessmap run`")
    points = run.layer(LAYERS.facilities)
    if points is None or "facility_id" not in points or "facility_id" not in table:
        return table
    where = pd.Series(delta.facility_locations(points.geometry.x.to_numpy(),
                                               points.geometry.y.to_numpy()),
                      index=points["facility_id"].astype(str))
    return table.assign(location=table["facility_id"].astype(str).map(where))


def _run_info(run: RunFolder) -> spec.ComparedRun:
    return spec.ComparedRun(path=str(run.path), title=run.title,
                            population_total=float(run.summary["population_total"]),
                            facilities_used=int(run.summary["facilities_used"]))


def _rows(table: pd.DataFrame | None) -> list[dict[str, Any]]:
    """JSON-ready rows: floats rounded, NaN as null."""
    if table is None:
        return []
    out = []
    for row in table.to_dict(orient="records"):
        out.append({str(k): _plain(v) for k, v in row.items()})
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return round(float(value), 6) if np.isfinite(value) else None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 1) if isinstance(v, float) and "share" not in k else v)
            for k, v in row.items()}


def _time_change(change: NDArray[np.float32], category: NDArray[np.float32],
                 people: NDArray[np.float64]) -> spec.TimeChangeSummary:
    pop = np.nan_to_num(people)

    def people_in(code: int) -> float:
        return round(float(pop[category == code].sum()), 1)

    routed = np.isfinite(change)
    weight = float(pop[routed].sum())
    mean = float((pop[routed] * change[routed]).sum() / weight) if weight else None
    return spec.TimeChangeSummary(
        population_slower=people_in(1), population_faster=people_in(2),
        population_lost_route=people_in(3), population_gained_route=people_in(4),
        population_weighted_mean_change_min=None if mean is None else round(mean, 3))


def _facility_points(a: RunFolder, b: RunFolder, catchments: pd.DataFrame, key: str
                     ) -> gpd.GeoDataFrame:
    """Facilities of both runs as points with their catchment change."""
    frames = []
    for run in (b, a):
        points, table = run.layer(LAYERS.facilities), _facilities_table(run)
        if points is None or key not in table or "facility_id" not in points:
            continue
        keys = table.set_index(table["facility_id"].astype(str))[key].astype(str)
        frames.append(gpd.GeoDataFrame(
            {key: points["facility_id"].astype(str).map(keys).to_numpy()},
            geometry=points.geometry.to_numpy(), crs=points.crs))
    if not frames:
        return gpd.GeoDataFrame(catchments.iloc[:0], geometry=gpd.GeoSeries([]),
                                crs="EPSG:4326")
    points = pd.concat(frames).drop_duplicates(key)
    merged = points.merge(catchments, on=key, how="inner")
    return gpd.GeoDataFrame(merged, geometry="geometry", crs="EPSG:4326")


def write_comparison(result: ComparisonResult, baseline: RunFolder,
                     out: str | os.PathLike[str], *, overwrite: bool, offline: bool,
                     scenario: RunFolder | None = None) -> Path:
    """Write the comparison folder atomically (data files, then map and report); the
    scenario run gives the map its closed and slowed roads."""
    from accessmap.outputs.comparison import write_comparison_map, write_comparison_report

    data = result.to_dict()
    try:
        validate(data, spec.comparison_schema())
    except SchemaError as err:
        raise OutputError(f"{COMPARISON_FILES.comparison} would not follow its schema: "
                          f"{err}; this is a bug in accessmap") from None
    _, transform, crs = result.grid
    with staged_folder(out, overwrite=overwrite) as stage:
        write_json(stage / COMPARISON_FILES.comparison, data)
        for file, table in result.tables.items():
            write_csv(stage / file, table)
        write_cog(stage / COMPARISON_FILES.time_change, result.change_min, transform, crs,
                  description="travel-time change, scenario - baseline (minutes)")
        write_cog(stage / COMPARISON_FILES.access_change, result.category, transform, crs,
                  description="access change: " + ", ".join(
                      f"{k} {v}" for k, v in delta.CHANGE_CATEGORIES.items()))
        write_layers(stage / COMPARISON_FILES.layers,
                     {"loss_zones": result.zones, "facilities": result.facilities})
        write_comparison_map(stage, data, result.category, result.grid, result.zones,
                             result.facilities, baseline, change_min=result.change_min,
                             offline=offline, scenario=scenario)
        write_comparison_report(stage, data, result.tables, synthetic=baseline.synthetic)
    logger.info("comparison written: %s", out)
    return Path(out)
