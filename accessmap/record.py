"""The run record: every file, layer, column and summary key of a run folder, declared once.

A run folder holds ``summary.json`` (a :class:`Summary`; :data:`RECORD_VERSION` in
``run.record_version``; schema in ``schemas/summary.schema.json``), CSV tables,
``layers.gpkg`` and ``travel_time.tif``. :func:`build_record` turns a run's results into a
:class:`RunRecord`, :func:`write_run_folder` writes it atomically (data files, then extra
writers such as the map and report, which read the staged folder), :class:`RunFolder`
reads one back. It imports the stages' results, never the outputs or the pipeline.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from numpy.typing import NDArray

from accessmap._files import (
    OutputClaim,
    check_output_folder,
    check_target,
    claim_output_folder,
    json_ready,
    staged_folder,
    write_csv,
    write_json,
    write_layers,
)
from accessmap._raster import read_decimated, write_cog
from accessmap._version import __version__
from accessmap.analysis.coverage import coverage_records, label_weights, unreachable_summary
from accessmap.analysis.zones import REST_ZONE
from accessmap.config import Scenario, scenario_from_dict
from accessmap.errors import ConfigError, OutputError
from accessmap.progress import Tick, no_progress
from accessmap.schemas import SchemaError, shipped_schema, validate
from accessmap.schemas import summary as spec
from accessmap.schemas.names import (
    COLUMNS,
    CURRENT,
    FILES,
    LAYERS,
    TRAVEL_TIME_TAGS,
    WITH_NEW_SITES,
    Columns,
    RunFiles,
    RunLayers,
)
from accessmap.schemas.rows import demand_points, referral_summary, site_row
from accessmap.schemas.summary import (
    RECORD_VERSION,
    CoverageRow,
    InputFile,
    RunInfo,
    Summary,
    from_json,
    summary_schema,
    to_json,
    write_summary_schema,
)

if TYPE_CHECKING:
    from accessmap.analysis.referral import Referral
    from accessmap.analysis.results import CoverageAnalysis
    from accessmap.inputs.population import Population
    from accessmap.routing.travel_times import Access
    from accessmap.siting.plan import SitingPlan

__all__ = [
    "COLUMNS",
    "CURRENT",
    "FILES",
    "LAYERS",
    "RECORD_VERSION",
    "WITH_NEW_SITES",
    "Columns",
    "CoverageRow",
    "InputFile",
    "OutputClaim",
    "RunFiles",
    "RunFolder",
    "RunInfo",
    "RunLayers",
    "RunRecord",
    "Summary",
    "Surface",
    "apply_affine",
    "build_record",
    "check_output_folder",
    "check_target",
    "claim_output_folder",
    "coverage_csv",
    "demand_points",
    "json_ready",
    "staged_folder",
    "summary_schema",
    "write_csv",
    "write_json",
    "write_layers",
    "write_run_folder",
    "write_summary_schema",
]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- the record


@dataclass
class Surface:
    """The travel-time raster: minutes (NaN nodata), grid transform and CRS."""

    minutes: NDArray[np.floating[Any]]
    transform: Affine
    crs: str
    no_route: NDArray[np.bool_] = field(default_factory=lambda: np.zeros((0, 0), bool))

    def bounds(self) -> tuple[float, float, float, float]:
        """Return (west, south, east, north) in the raster CRS."""
        height, width = self.minutes.shape
        x0, y0 = apply_affine(self.transform, 0.0, 0.0)
        x1, y1 = apply_affine(self.transform, float(width), float(height))
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


@dataclass
class RunRecord:
    """Everything a run folder holds, in memory.

    Attributes
    ----------
    summary
        ``summary.json``.
    tables
        CSV file name (:data:`FILES`) -> table.
    layers
        Layer name (:data:`LAYERS`) -> layer; ``None`` or empty layers are not written.
    travel_time
        Minutes to the nearest facility (``travel_time.tif``); the writer drops it once written.
    population
        People per cell of the same grid (``population.tif``, NaN where none live).
    """

    summary: Summary
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    layers: dict[str, gpd.GeoDataFrame | None] = field(default_factory=dict)
    travel_time: Surface | None = None
    population: NDArray[np.float64] | None = None


def build_record(
    *,
    title: str,
    synthetic: bool,
    settings: Mapping[str, Any],
    inputs: Mapping[str, InputFile],
    siting_threshold_min: float,
    network: Mapping[str, Any],
    components: Mapping[str, Any],
    population: Population,
    facilities: gpd.GeoDataFrame,
    access: Access,
    coverage: pd.DataFrame,
    analysis: CoverageAnalysis,
    siting: SitingPlan,
    roads: gpd.GeoDataFrame | None,
    timings_s: Mapping[str, float],
    referral: Referral | None = None,
    places: gpd.GeoDataFrame | None = None,
    with_demand_points: bool = True,
) -> RunRecord:
    """Gather a run's results into its record.

    Parameters
    ----------
    title, synthetic, settings
        The scenario's title, synthetic-data flag and resolved settings (JSON-ready).
    inputs
        Role (``network``, ``population``, ...) -> path and sha256 of each input file.
    siting_threshold_min
        Threshold new sites bring people within.
    network, components
        :meth:`RoadNetwork.summary` and :func:`~accessmap.analysis.components.component_report`.
    population, facilities, access, coverage
        Demand points, facilities, nearest-facility times and the coverage table.
    analysis, siting
        The coverage analysis and the site-selection plan.
    roads
        The context ``roads`` layer.
    timings_s
        Seconds per stage.
    referral, places
        Referral times between facility levels; the extract's place names (map labels).
    with_demand_points
        Build the ``demand_points`` layer (one point per populated cell; see
        :func:`accessmap.config.sections.Output`).
    """
    pop = population.population
    unreachable = unreachable_summary(access.status, pop)
    zones, circuits = analysis.zones, siting.circuits
    settled = label_weights(analysis.settlement, pop)
    summary = Summary(
        title=title, synthetic_data=synthetic, population_total=round(population.total, 1),
        coverage=_coverage_rows(coverage),
        unreachable_population=unreachable["total"],
        unreachable_detail=spec.UnreachableDetail(**unreachable),
        facilities_used=len(facilities),
        facilities_unsnapped=[str(n) for n in facilities.loc[
            ~access.facility_snap.on_network, COLUMNS.name]],
        facilities_dropped=list(facilities.attrs.get("dropped", [])),
        recommended_sites=[site_row(r) for r in siting.sites.itertuples()],
        siting_threshold_min=siting_threshold_min,
        coverage_with_new_sites=_coverage_rows(siting.coverage_with_new_sites),
        network=from_json(spec.NetworkSummary, dict(network)),
        network_components=from_json(spec.NetworkComponents, dict(components)),
        run=RunInfo(accessmap_version=__version__, inputs=dict(inputs),
                    settings=dict(settings)),
        timings_s=dict(timings_s),
        siting=from_json(spec.SitingInfo, {**siting.info, "coverage_target": siting.target}),
        marginal_gain=[from_json(spec.MarginalGainRow, {
            k: (int(v) if k == COLUMNS.sites else round(float(v), 6 if "share" in k else 1))
            for k, v in row.items()}) for row in siting.marginal_gain.to_dict("records")],
        mobile_circuits=[] if circuits is None else [
            from_json(spec.Circuit, r) for r in circuits.records()],
        mobile_unserved=[] if circuits is None else [
            spec.UnservedStop(stop=int(r.stop), reason=str(r.reason))
            for r in circuits.unserved.itertuples()],
        coverage_by_area=_records(analysis.by_area),
        coverage_by_group=_records(analysis.by_group),
        settlement_population={k: round(float(v.sum()), 1) for k, v in settled.items()},
        isochrone_bands=_records(analysis.bands),
        underserved_zones=spec.ZoneSummary(
            threshold_min=analysis.underserved_threshold_min,
            zones=int((zones[COLUMNS.zone] != REST_ZONE).sum()),
            population=round(float(zones[COLUMNS.population].sum()), 1),
            largest=_records(zones.head(10))),
        accessibility_2sfca=spec.Accessibility(
            catchment_threshold_min=analysis.catchment_threshold_min,
            supply_unit=analysis.supply_unit,
            mean_per_1000_people=round(
                float((analysis.accessibility * pop).sum() / pop.sum() * 1000), 6),
            population_without_facility_in_catchment=round(
                float(pop[~(analysis.accessibility > 0)].sum()), 1)),
        equity=from_json(spec.Equity, analysis.equity),
        referral=None if referral is None else referral_summary(referral),
    )
    tables = {
        FILES.coverage: coverage_csv(coverage, siting.coverage_with_new_sites),
        FILES.sites: pd.DataFrame([to_json(s) for s in summary.recommended_sites],
                                  columns=COLUMNS.sites_csv()),
        FILES.marginal_gain: siting.marginal_gain,
        **({} if circuits is None else {FILES.mobile_visits: circuits.visits}),
        FILES.coverage_by_group: analysis.by_group,
        FILES.underserved_zones: zones.drop(columns=COLUMNS.geometry),
        FILES.facilities: analysis.catchments.drop(columns=COLUMNS.geometry),
        **({} if analysis.by_area is None else {FILES.coverage_by_area: analysis.by_area}),
        **({} if referral is None else {FILES.referral: referral.table}),
    }
    layers: dict[str, gpd.GeoDataFrame | None] = {
        LAYERS.facilities: facilities[[*COLUMNS.facility_layer(facilities), COLUMNS.geometry]],
        LAYERS.demand_points: (demand_points(population, access, facilities[COLUMNS.facility_id])
                               if with_demand_points else None),
        LAYERS.roads: roads,
        LAYERS.admin_areas: analysis.admin_areas,
        LAYERS.isochrone_bands: analysis.bands,
        LAYERS.underserved_zones: zones,
        LAYERS.catchments: analysis.catchments,
        LAYERS.candidates: siting.candidates,
        LAYERS.recommended_sites: siting.sites,
        LAYERS.mobile_routes: None if circuits is None else circuits.routes,
        LAYERS.referral_routes: None if referral is None else referral.routes,
        LAYERS.places: places if places is not None and not places.empty else None,
    }
    grid = np.full(population.shape, np.nan, dtype=np.float32)
    grid[population.row, population.col] = access.time_s / 60  # inf: no route (the tags)
    return RunRecord(summary, tables, layers,
                     Surface(grid, population.transform, population.crs),
                     population.to_grid(population.population))


def _coverage_rows(table: pd.DataFrame) -> list[CoverageRow]:
    return [CoverageRow(**row) for row in coverage_records(table)]


def _records(table: pd.DataFrame | None) -> list[dict[str, Any]]:
    """JSON-ready rows of a table, floats rounded to 6 decimals, geometry left out."""
    if table is None:
        return []
    frame = table.drop(columns=COLUMNS.geometry, errors="ignore")
    return [{k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()}
            for row in frame.to_dict(orient="records")]


def coverage_csv(current: pd.DataFrame, with_new_sites: pd.DataFrame) -> pd.DataFrame:
    """``coverage.csv``: the coverage table today and with the new sites."""
    now = current.assign(**{COLUMNS.scenario: CURRENT})
    after = with_new_sites.assign(**{COLUMNS.scenario: WITH_NEW_SITES})
    return pd.concat([now, after], ignore_index=True)[COLUMNS.coverage_csv()]


# --------------------------------------------------------------------------- writing


def write_run_folder(
    record: RunRecord,
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool,
    extra_writers: Mapping[str, Callable[[Path], None]] | None = None,
    tick: Tick | None = None,
    claim: OutputClaim | None = None,
) -> Path:
    """Write a run folder atomically: data files, then the extra writers.

    Parameters
    ----------
    record
        What to write.
    out_dir
        The folder; it appears complete or not at all.
    overwrite
        Replace an existing folder.
    extra_writers
        File name -> function writing it at the given (staged) path, run after the data
        files so that it may read them (map, report) or amend one (QGIS styles of
        ``layers.gpkg``).
    tick
        Progress (0-1) after each file; it may raise
        :class:`~accessmap.errors.Cancelled`, which leaves no folder behind.
    claim
        What :func:`claim_output_folder` saw before the run: the final rename is refused
        if another run wrote the folder meanwhile.

    Raises
    ------
    OutputError
        The folder exists and ``overwrite`` is False, or the summary does not follow
        the record schema (a bug: please report it).
    """
    data = record.summary.to_dict()
    try:
        validate(data, summary_schema())
    except SchemaError as err:
        raise OutputError(f"{FILES.summary} would not follow record version "
                          f"{RECORD_VERSION}: {err}; this is a bug in accessmap") from None
    tick = tick or no_progress
    extras = dict(extra_writers or {})
    steps = 4 + len(extras)
    start = time.perf_counter()
    with staged_folder(out_dir, overwrite=overwrite, claim=claim) as stage:
        write_json(stage / FILES.summary, data)
        for name, table in record.tables.items():
            write_csv(stage / name, table)
        tick(1 / steps, "tables")
        write_layers(stage / FILES.layers, record.layers)
        tick(2 / steps, FILES.layers)
        if record.travel_time is not None:
            surface, record.travel_time = record.travel_time, None  # the writers read the file
            transform, crs = surface.transform, surface.crs
            write_cog(stage / FILES.travel_time, surface.minutes, transform, crs,
                      description="travel time to nearest facility (minutes)",
                      tags=TRAVEL_TIME_TAGS)
            del surface  # the grid's memory is free for the writers
            if record.population is not None:
                write_cog(stage / FILES.population, record.population, transform, crs,
                          description="people per analysis cell")
                record.population = None
        tick(3 / steps, FILES.travel_time)
        for done, (name, writer) in enumerate(extras.items(), start=4):
            writer(stage / name)
            logger.info("wrote %s", name)
            tick(done / steps, name)
        # the outputs stage's own time, known only now, completes timings_s
        data["timings_s"] = {**data["timings_s"],
                             "outputs": round(time.perf_counter() - start, 3)}
        write_json(stage / FILES.summary, data)
        tick(1.0, "run folder complete")
    return Path(out_dir)


# --------------------------------------------------------------------------- reading


def apply_affine(transform: Affine, x: Any, y: Any) -> tuple[Any, Any]:
    """Apply an affine transform to coordinates (scalars or arrays).

    Examples
    --------
    >>> apply_affine(Affine(2, 0, 10, 0, -1, 5), 1.0, 1.0)
    (12.0, 4.0)
    """
    a, b, c, d, e, f = transform[:6]
    return a * x + b * y + c, d * x + e * y + f


class RunFolder:
    """A finished run folder, read lazily.

    Parameters
    ----------
    path
        The folder (``summary.json`` and ``layers.gpkg`` are required).

    Raises
    ------
    OutputError
        The folder or a required file is missing or unreadable, it holds another record
        version, or its ``summary.json`` does not follow the record schema.
    """

    required = FILES.required

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise OutputError(f"run folder {self.path} does not exist; give the --out folder "
                              "of a finished `accessmap run`")
        missing = [n for n in self.required if not (self.path / n).is_file()]
        if missing:
            raise OutputError(
                f"run folder {self.path} is incomplete: missing {', '.join(missing)}; "
                "rerun `accessmap run` to produce it"
            )
        self.summary = self._read_summary()
        self._layers: dict[str, gpd.GeoDataFrame] = {}
        _ = self.layer_names  # a corrupt GeoPackage fails here, not halfway through a map

    def _read_summary(self) -> dict[str, Any]:
        path = self.path / FILES.summary
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise OutputError(f"{path} is not readable JSON ({err}); rerun `accessmap run`"
                              ) from None
        if not isinstance(data, dict) or "coverage" not in data:
            raise OutputError(f"{path} is not an accessmap summary (no 'coverage' key); "
                              "give the --out folder of a finished `accessmap run`")
        run = data.get("run")
        run = run if isinstance(run, dict) else {}
        version = run.get("record_version")
        if version != RECORD_VERSION:
            made_by = str(run.get("accessmap_version", "unknown"))
            raise OutputError(
                f"run folder {self.path} holds record version {version} (made by accessmap "
                f"{made_by}); accessmap {__version__} reads record version {RECORD_VERSION}. "
                f"Rerun `accessmap run` with this version, or use accessmap {made_by} to "
                "regenerate its map and report"
            )
        try:
            validate(data, shipped_schema("summary"))
        except SchemaError as err:
            raise OutputError(f"{path} does not follow the record schema: {err}; rerun "
                              "`accessmap run` (was the file edited?)") from None
        return data

    @property
    def settings(self) -> dict[str, Any]:
        """Scenario settings recorded in ``summary.json`` (the scenario file's tables)."""
        return dict(self.summary["run"]["settings"])

    @cached_property
    def scenario(self) -> Scenario:
        """The run's scenario, rebuilt from the recorded settings.

        Raises
        ------
        OutputError
            The recorded settings are not a valid scenario (an edited summary.json).
        """
        try:
            return scenario_from_dict(self.settings, source=f"{self.path / FILES.summary}")
        except ConfigError as err:
            raise OutputError(f"{err}; rerun `accessmap run` (was the file edited?)") from None

    @property
    def thresholds_min(self) -> list[float]:
        """Travel-time thresholds of the run."""
        found = self.settings.get("analysis", {}).get("thresholds_min") or [
            row["threshold_min"] for row in self.summary["coverage"]]
        return [float(t) for t in found]

    @property
    def synthetic(self) -> bool:
        """True when the run used synthetic data."""
        return bool(self.summary.get("synthetic_data") or self.settings.get("synthetic"))

    @property
    def title(self) -> str:
        """Title of the run."""
        return str(self.summary.get("title") or self.settings.get("title") or "accessmap run")

    @cached_property
    def layer_names(self) -> list[str]:
        """Layers present in ``layers.gpkg``."""
        import pyogrio

        try:
            return [str(name) for name in pyogrio.list_layers(self.path / FILES.layers)[:, 0]]
        except Exception as err:  # pyogrio raises several types for corrupt files
            raise OutputError(f"{self.path / FILES.layers} is not a readable GeoPackage "
                              f"({err}); rerun `accessmap run`") from None

    def layer(self, name: str) -> gpd.GeoDataFrame | None:
        """Read one layer in EPSG:4326 (cached; do not modify it in place), or ``None``
        when the run did not write it."""
        if name not in self.layer_names:
            return None
        if name not in self._layers:
            try:
                frame = gpd.read_file(self.path / FILES.layers, layer=name, engine="pyogrio")
            except Exception as err:  # pyogrio raises several types for corrupt files
                raise OutputError(f"layer {name!r} of {self.path / FILES.layers} is not "
                                  f"readable ({err}); rerun `accessmap run`") from None
            if frame.crs is not None and not frame.crs.equals("EPSG:4326"):
                frame = frame.to_crs("EPSG:4326")
            self._layers[name] = frame
        return self._layers[name]

    def table(self, name: str) -> pd.DataFrame | None:
        """Read a CSV table of the run folder (a :data:`FILES` name), or ``None``."""
        path = self.path / name
        return pd.read_csv(path) if path.is_file() else None

    def file(self, name: str) -> Path:
        """Path of a file of the run folder (a :data:`FILES` name), present or not."""
        return self.path / name

    def surface(self, *, max_pixels: int | None = None) -> Surface | None:
        """The travel-time raster (NaN: nobody, or no route: ``no_route``), or ``None``.

        ``max_pixels`` reads a large raster 1:k from its overviews, never the whole grid.
        """
        path = self.path / FILES.travel_time
        if not path.is_file():
            return None
        minutes, transform, crs, tags = read_decimated(path, max_pixels=max_pixels)
        surface = Surface(minutes, transform, crs, np.isposinf(minutes))
        minutes[surface.no_route] = np.nan
        if "NO_ROUTE_VALUE" not in tags:  # a folder written before the tags
            surface.no_route = self._no_route_cells(surface)
        return surface

    def _no_route_cells(self, surface: Surface) -> NDArray[np.bool_]:
        """No-route cells from ``demand_points`` (folders written before the tags)."""
        mask = np.zeros(surface.minutes.shape, dtype=bool)
        points, (height, width) = self.layer(LAYERS.demand_points), surface.minutes.shape
        if points is not None and COLUMNS.time_min in points and not points.empty:
            lost = points[~np.isfinite(points[COLUMNS.time_min].to_numpy(dtype=float))]
            cols, rows = apply_affine(~surface.transform, lost.geometry.x.to_numpy(),
                                      lost.geometry.y.to_numpy())
            rows, cols = np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)
            inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
            mask[rows[inside], cols[inside]] = True
        return mask

    def absent(self, names: Sequence[str]) -> list[str]:
        """Which of ``names`` (layers) the run folder does not hold."""
        return [n for n in names if n not in self.layer_names]
