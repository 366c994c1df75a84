"""Population rasters -> demand points (populated cell centres with their population).

Only the study area is read (a window), nodata and negative cells are excluded (WorldPop
uses -99999), and optional aggregation to coarser cells sums populations so that the
total is preserved exactly: never nearest-neighbour resampling, which loses people.

:func:`load_population` picks its reader from :data:`POPULATION_READERS` by the file's
suffix; a new format is one entry there (a function with the signature of
:class:`PopulationReader`).
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pyproj
import rasterio
import rasterio.errors
import rasterio.features
import rasterio.transform
import rasterio.warp
import rasterio.windows
import shapely
from affine import Affine
from numpy.typing import NDArray

from accessmap.errors import DataQualityWarning, InputDataError, InputFileError
from accessmap.inputs.demand import Population
from accessmap.inputs.population_units import POPULATION_UNITS, DensityCheck, raster_labels
from accessmap.inputs.raster_counts import (
    NodataTally,
    aggregate_sum,
    clean_counts,
    open_count_raster,
    populated_cells,
    read_populated_cells,
    study_window,
)
from accessmap.inputs.vrt import read_band

__all__ = [
    "DEFAULT_VECTOR_CELL_DEG", "POPULATION_COLUMNS", "POPULATION_READERS", "RASTER_SUFFIXES",
    "VECTOR_SUFFIXES", "Population", "PopulationReader", "aggregate_sum", "counts_on_grid",
    "load_population", "population_from_vector",
]

logger = logging.getLogger(__name__)


def _warn(message: str, *, stacklevel: int) -> None:
    """Log a data-quality problem and issue it as a :class:`DataQualityWarning`."""
    logger.warning("%s", message)
    warnings.warn(message, DataQualityWarning, stacklevel=stacklevel + 1)


#: File endings read as rasters.
RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img", ".asc", ".nc")


#: File endings read as vector files (polygons or points with a population column);
#: endings in neither list are tried as vector files too (anything pyogrio reads).
VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb", ".gml", ".kml", ".csv")


#: Grid cell used for polygon / point population files: 3 arc-seconds (WorldPop's).
DEFAULT_VECTOR_CELL_DEG = 1 / 1200


#: Column names tried, in order, when no population column is named.
POPULATION_COLUMNS = ("population", "pop", "total_population", "people")


class PopulationReader(Protocol):
    """A reader of one population format, as listed in :data:`POPULATION_READERS`.

    It gets the path (which exists) and every option of :func:`load_population` and
    returns a :class:`Population`; options that do not apply to its format are ignored.
    """

    def __call__(
        self,
        path: Path,
        *,
        bounds_lonlat: tuple[float, float, float, float] | None,
        aggregate: int,
        population_column: str | None,
        cell_size_deg: float,
        units: str,
    ) -> Population:
        """Read ``path`` into demand points."""


def load_population(
    path: str | os.PathLike[str],
    *,
    bounds_lonlat: tuple[float, float, float, float] | None = None,
    aggregate: int = 1,
    population_column: str | None = None,
    cell_size_deg: float = DEFAULT_VECTOR_CELL_DEG,
    units: str = "count",
) -> Population:
    """Read population (raster, census polygons or points) into demand points.

    The reader is chosen by the file's suffix in :data:`POPULATION_READERS` (other
    suffixes are tried as vector files).  Rasters (``RASTER_SUFFIXES``) are read as they
    are; vector files go through :func:`population_from_vector`, which puts their people
    on a regular EPSG:4326 grid, so every :class:`Population` has a grid (``to_grid``
    and the travel-time raster work the same way for every input).

    Parameters
    ----------
    path
        Population raster (people per cell, e.g. WorldPop, GHSL, HRSL) or a vector file
        (polygons or points) with a population column.
    bounds_lonlat
        (west, south, east, north) in degrees: read only this window / these features.
    aggregate
        Sum over ``aggregate x aggregate`` blocks of cells first (total preserved).
    population_column
        Vector files only: the column with people per feature (default: the first of
        ``POPULATION_COLUMNS`` present).
    cell_size_deg
        Vector files only: grid cell size in degrees.
    units : {"count", "per_km2", "per_ha"}
        Rasters only: what a cell holds, people per cell or a density converted to
        people per cell by each cell's area (:mod:`accessmap.inputs.population_units`).

    Returns
    -------
    Population

    Warns
    -----
    DataQualityWarning
        Raster cells with a negative population (treated as nodata), a raster read as
        counts that looks like a density, or vector features without a population value
        (counted as 0).

    Raises
    ------
    InputFileError
        The file is missing or unreadable, or a VRT source is.
    InputDataError
        No CRS, no overlap with ``bounds_lonlat``, no populated cell, a missing
        population column, a negative population, or density units for a vector file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"population file {path} does not exist; check the path")
    if units not in POPULATION_UNITS:
        raise InputDataError(f"population units {units!r} are unknown; use one of "
                             + ", ".join(POPULATION_UNITS))
    reader = POPULATION_READERS.get(path.suffix.lower(), _read_vector)
    return reader(path, bounds_lonlat=bounds_lonlat, aggregate=aggregate,
                  population_column=population_column, cell_size_deg=cell_size_deg,
                  units=units)


def _read_raster(
    path: Path,
    *,
    bounds_lonlat: tuple[float, float, float, float] | None,
    aggregate: int,
    population_column: str | None,
    cell_size_deg: float,
    units: str,
) -> Population:
    """:data:`PopulationReader` of rasters (the vector-only options are ignored)."""
    return _load_raster(path, bounds_lonlat, aggregate, units)


def _read_vector(
    path: Path,
    *,
    bounds_lonlat: tuple[float, float, float, float] | None,
    aggregate: int,
    population_column: str | None,
    cell_size_deg: float,
    units: str,
) -> Population:
    """:data:`PopulationReader` of polygon and point files (people per feature)."""
    if units != "count":
        raise InputDataError(f"population file {path} is a vector file (people per "
                             f"feature); inputs.population_units {units!r} applies to "
                             "rasters only: leave it at \"count\"")
    return population_from_vector(path, population_column=population_column,
                                  bounds_lonlat=bounds_lonlat, aggregate=aggregate,
                                  cell_size_deg=cell_size_deg)


#: Population reader per file suffix (lower case, with the dot); one entry per format.
POPULATION_READERS: dict[str, PopulationReader] = {
    **dict.fromkeys(RASTER_SUFFIXES, _read_raster),
    **dict.fromkeys(VECTOR_SUFFIXES, _read_vector),
}


def _load_raster(
    path: Path,
    bounds_lonlat: tuple[float, float, float, float] | None,
    aggregate: int,
    units: str,
) -> Population:
    tally = NodataTally()
    with open_count_raster(path, "population file") as dataset:
        window = study_window(dataset, bounds_lonlat, path)
        crs = dataset.crs.to_string()
        density = DensityCheck(dataset.window_transform(window),
                               (int(window.height), int(window.width)), crs,
                               raster_labels(dataset, path)) if units == "count" else None
        population = read_populated_cells(dataset, path, window, aggregate=aggregate,
                                          units=units, tally=tally, density=density)
    for message in tally.messages(path.name):
        _warn(message, stacklevel=4)  # load_population's caller
    looks_dense = density.warning() if density is not None else None
    if looks_dense is not None:
        _warn(f"{path.name} {looks_dense}", stacklevel=4)  # load_population's caller
    return _checked(population, path)


def _checked(population: Population, path: Path) -> Population:
    """``population``, logged; refused when it holds no populated cell."""
    if population.size == 0:
        raise InputDataError(
            f"population file {path}: no populated cell in the study area (all nodata or "
            "zero); check that the raster covers the road network"
        )
    logger.info("population: %d populated cells, total %.0f people (%s)", population.size,
                population.total, path.name)
    return population


def population_from_vector(
    path: str | os.PathLike[str],
    *,
    population_column: str | None = None,
    bounds_lonlat: tuple[float, float, float, float] | None = None,
    aggregate: int = 1,
    cell_size_deg: float = DEFAULT_VECTOR_CELL_DEG,
) -> Population:
    """Put census polygons or population points onto a regular EPSG:4326 grid.

    A polygon's people are spread evenly over the grid cells whose centres fall inside
    it (areal weighting: no settlement layer is assumed); a polygon too small to hold a
    cell centre puts all its people in the cell of its representative point.  A point
    adds its people to the cell containing it.  The grid starts at a multiple of
    ``cell_size_deg`` and covers every feature, so the total is preserved to rounding.

    Raises
    ------
    InputDataError
        The population column is missing, a value is negative, or no feature lies in
        ``bounds_lonlat``.
    """
    from accessmap.inputs.facilities import read_vector

    path = Path(path)
    frame = read_vector(path, what="population")
    people = _population_values(frame, path, population_column)
    keep = people > 0
    keep &= frame.geometry.notna().to_numpy() & ~frame.geometry.is_empty.to_numpy()
    if bounds_lonlat is not None:
        west, south, east, north = bounds_lonlat
        inside = frame.geometry.intersects(shapely.box(west, south, east, north)).to_numpy()
        if keep.any() and not (keep & inside).any():
            raise InputDataError(
                f"population file {path} does not overlap the road network (network bounds "
                f"{tuple(round(b, 3) for b in bounds_lonlat)}); are they for the same place?"
            )
        keep &= inside
    if not keep.any():
        raise InputDataError(f"population file {path}: no feature with people > 0")
    geoms, people = frame.geometry.to_numpy()[keep], people[keep]
    transform, shape = _grid_around(geoms, cell_size_deg)
    data = _spread(geoms, people, transform, shape)
    return _checked(populated_cells(data, transform, "EPSG:4326", aggregate,
                                    source=str(path)), path)


def _population_values(
    frame: pd.DataFrame, path: Path, column: str | None
) -> NDArray[np.float64]:
    names = [column] if column else [c for c in POPULATION_COLUMNS if c in frame.columns]
    if not names or names[0] not in frame.columns:
        wanted = column or " / ".join(POPULATION_COLUMNS)
        raise InputDataError(
            f"population file {path} has no population column {wanted!r}; columns are "
            f"{', '.join(map(str, frame.columns.drop('geometry')))}; name the column "
            "holding people per feature (population_column)"
        )
    values = pd.to_numeric(frame[names[0]], errors="coerce").to_numpy(dtype=np.float64)
    negative = np.flatnonzero(values < 0)
    if negative.size:
        row = int(negative[0])
        raise InputDataError(
            f"population file {path} row {row + 1}: {names[0]} is {values[row]:g}; "
            f"populations must be >= 0 ({negative.size} negative row(s)); fix the data"
        )
    missing = int(np.isnan(values).sum())
    if missing:
        _warn(f"{path.name}: {missing} features without a population value count as 0",
              stacklevel=5)  # load_population's caller
    return np.asarray(np.nan_to_num(values, nan=0.0), dtype=np.float64)


def _grid_around(geoms: NDArray[np.object_], cell: float) -> tuple[Affine, tuple[int, int]]:
    west, south, east, north = shapely.total_bounds(geoms)
    x0 = np.floor(west / cell) * cell
    y0 = np.ceil(north / cell) * cell
    cols = max(1, int(np.ceil((east - x0) / cell)) + 1)
    rows = max(1, int(np.ceil((y0 - south) / cell)) + 1)
    return Affine(cell, 0.0, x0, 0.0, -cell, y0), (rows, cols)


def _spread(
    geoms: NDArray[np.object_], people: NDArray[np.float64], transform: Affine,
    shape: tuple[int, int],
) -> NDArray[np.float64]:
    data = np.zeros(shape, dtype=np.float64)
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
    owner = np.zeros(shape, dtype=np.int32)
    if polygonal.any():
        idx = np.flatnonzero(polygonal)
        owner = rasterio.features.rasterize(
            ((g, i + 1) for g, i in zip(geoms[idx], idx, strict=True)), out_shape=shape,
            transform=transform, fill=0, dtype="int32", all_touched=False,
        )
    cells = np.bincount(owner.ravel(), minlength=geoms.size + 1)[1:]
    spread = polygonal & (cells > 0)
    per_cell = np.zeros(geoms.size + 1)
    per_cell[1:][spread] = people[spread] / cells[spread]
    data += per_cell[owner]
    at_point = ~spread
    if at_point.any():
        points = shapely.point_on_surface(geoms[at_point])
        rows, cols = rasterio.transform.rowcol(transform, shapely.get_x(points),
                                               shapely.get_y(points))
        np.add.at(data, (np.clip(rows, 0, shape[0] - 1), np.clip(cols, 0, shape[1] - 1)),
                  people[at_point])
    return data


def counts_on_grid(
    path: str | os.PathLike[str], population: Population, *, aggregate: int = 1
) -> NDArray[np.float64]:
    """Read a count raster on the population grid (e.g. under-5s) per demand point.

    The raster must share the population raster's CRS, cell size and cell alignment
    (its extent may differ; cells outside it count 0).  It is read over the same window
    and aggregated the same way (``aggregate``), so counts are summed, never resampled.
    People of the group living in cells without population are not demand points; their
    number is logged.

    Raises
    ------
    InputDataError
        No CRS, or the raster is on another grid.  Counts are not resampled silently:
        any resampling moves people between cells and changes the group's total; use
        ``gdalwarp -r sum`` onto the population grid.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"group raster {path} does not exist; check the path")
    fine = population.transform @ Affine.scale(1 / aggregate, 1 / aggregate)
    with open_count_raster(path, "group raster") as dataset:
        offset = _grid_offset(dataset, fine, population.crs, path)
        window = rasterio.windows.Window(offset[1], offset[0], population.shape[1] * aggregate,
                                         population.shape[0] * aggregate)
        values = read_band(dataset, path, "group raster", window=window, boundless=True)
    tally = NodataTally()
    data = clean_counts(values, tally)
    for message in tally.messages(path.name):
        _warn(message, stacklevel=2)
    if aggregate > 1:
        data, _ = aggregate_sum(data, fine, aggregate)
    data = data[: population.shape[0], : population.shape[1]]
    counts = data[population.row, population.col].astype(np.float64)
    lost = float(data.sum(dtype=np.float64) - counts.sum())
    if lost > 0:
        _warn(f"{path.name}: {lost:.0f} group members live in cells without population and "
              "are left out", stacklevel=2)
    return counts


def _grid_offset(
    dataset: rasterio.DatasetReader, fine: Affine, crs: str, path: Path
) -> tuple[int, int]:
    """(row, col) of the population grid origin in ``dataset``; raises if not aligned."""
    own = dataset.transform
    same_crs = pyproj.CRS.from_user_input(dataset.crs.to_string()).equals(
        pyproj.CRS.from_user_input(crs))
    col = (fine.c - own.c) / own.a
    row = (fine.f - own.f) / own.e
    tol = 1e-6
    aligned = (
        same_crs and abs(own.a - fine.a) <= tol * abs(fine.a)
        and abs(own.e - fine.e) <= tol * abs(fine.e) and own.b == fine.b == 0
        and abs(col - round(col)) < 1e-3 and abs(row - round(row)) < 1e-3
    )
    if not aligned:
        raise InputDataError(
            f"group raster {path} is on another grid than the population (CRS "
            f"{dataset.crs} vs {crs}, cell {own.a:g} x {-own.e:g} vs {fine.a:g} x "
            f"{-fine.e:g}); counts are not resampled silently (resampling moves people "
            "between cells): warp it onto the population grid with gdalwarp -r sum, or "
            "use the same source product"
        )
    return round(row), round(col)
