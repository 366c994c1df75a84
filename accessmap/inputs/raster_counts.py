"""Count rasters (people per cell) read strip by strip into their populated cells.

A country's population raster holds 10^8 cells and more, most of them empty.  It is never
held whole: :func:`read_populated_cells` reads the study window in strips of rows (about
:data:`STRIP_CELLS` cells, whole raster blocks and whole aggregation blocks each), cleans
each strip (:func:`clean_counts`: nodata, non-finite and negative cells set to 0 and
counted in a :class:`NodataTally`), converts a density to counts by each row's cell area,
sums ``aggregate x aggregate`` blocks and keeps only the populated cells.  Every step
works cell by cell or within one block, so the cells, values and tallies are exactly
those of the whole window read at once; time and memory grow with the window, not faster.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import rasterio
import rasterio.errors
import rasterio.transform
import rasterio.warp
import rasterio.windows
from affine import Affine
from numpy.typing import NDArray

from accessmap._raster import cell_area_km2
from accessmap.errors import InputDataError, InputFileError
from accessmap.inputs.demand import Population
from accessmap.inputs.population_units import DensityCheck, density_to_counts
from accessmap.inputs.vrt import check_vrt_sources, read_band

__all__ = ["STRIP_CELLS", "NodataTally", "aggregate_sum",
           "cell_centres_lonlat", "clean_counts", "open_count_raster", "populated_cells",
           "read_populated_cells", "study_window"]

#: Cells read at a time (about 32 MB of float32): small enough for the CPU's caches to
#: matter, large enough that GDAL's per-read overhead does not.
STRIP_CELLS = 8_000_000

#: Cells at least this large in magnitude are the float32 nodata sentinel (±3.4e38).
_FLOAT32_SENTINEL = 1e38

#: Undeclared nodata values seen in population rasters (WorldPop's -99999 and -9999).
_SENTINELS = (-9999, -99999)


@dataclass
class NodataTally:
    """Cells of a count raster set to 0, by reason (added up over strips)."""

    invalid: int = 0
    negative: int = 0
    sentinel: int = 0
    sentinel_values: set[float] = field(default_factory=set)

    @property
    def dropped(self) -> int:
        """All cells set to 0: nodata, non-finite, undeclared sentinel or negative."""
        return self.invalid + self.negative

    def messages(self, name: str) -> list[str]:
        """The data-quality warnings for file ``name`` (empty when nothing was odd)."""
        out = []
        if self.sentinel:
            found = ", ".join(f"{v:g}" for v in sorted(self.sentinel_values)[:4])
            out.append(f"{name}: {self.sentinel} cells hold {found}, a nodata value the file "
                       "does not declare (no nodata tag); they are treated as nodata (declare "
                       "it with gdal_edit.py -a_nodata)")
        if self.negative:
            out.append(f"{name}: {self.negative} cells with negative population treated as "
                       "nodata")
        return out


def clean_counts(values: np.ma.MaskedArray, tally: NodataTally) -> NDArray[np.floating]:
    """People per cell with nodata, non-finite and negative cells set to 0 (counted in
    ``tally``).  Works in place on the raster's own buffer."""
    data = np.ma.getdata(values)
    drop = np.ma.getmaskarray(values) | ~np.isfinite(data)
    with np.errstate(invalid="ignore"):
        sentinel = ~drop & ((np.abs(data) >= _FLOAT32_SENTINEL) | np.isin(data, _SENTINELS))
    n_sentinel = int(sentinel.sum())
    if n_sentinel:
        tally.sentinel += n_sentinel
        tally.sentinel_values.update(float(v) for v in np.unique(data[sentinel])[:4])
        drop |= sentinel
    invalid = int(drop.sum())
    with np.errstate(invalid="ignore"):
        np.logical_or(drop, data < 0, out=drop)
    tally.invalid += invalid
    tally.negative += int(drop.sum()) - invalid
    data[drop] = 0
    return data


def populated_cells(data: NDArray[np.floating], transform: Affine, crs: str, aggregate: int,
                    *, source: str) -> Population:
    """The cells of a whole grid holding people (after summing ``aggregate`` blocks)."""
    grid = _coarse_transform(transform, aggregate)
    lon, lat, values, rows, cols = _cells(data, grid, crs, aggregate, 0)
    return Population(lon=lon, lat=lat, population=values, row=rows, col=cols,
                      transform=grid, shape=_coarse_shape(data.shape, aggregate), crs=crs,
                      source=source)


def _coarse_transform(transform: Affine, aggregate: int) -> Affine:
    return transform @ Affine.scale(aggregate, aggregate) if aggregate > 1 else transform


def _coarse_shape(shape: tuple[int, ...], aggregate: int) -> tuple[int, int]:
    return -(-shape[0] // aggregate), -(-shape[1] // aggregate)


def _cells(data: NDArray[np.floating], grid: Affine, crs: str, aggregate: int,
           row0: int) -> tuple[NDArray[Any], ...]:
    """Centre lon, lat, people, row and column (:data:`_FIELDS`) of the populated cells of
    rows of the grid ``grid`` (after summing blocks) starting at fine row ``row0``."""
    if aggregate > 1:
        data, _ = aggregate_sum(data, Affine.identity(), aggregate)
    rows, cols = np.nonzero(data > 0)
    values = data[rows, cols].astype(np.float64)
    rows = rows.astype(np.int64, copy=False)
    rows += row0 // aggregate  # rows of the whole window's grid (in place: no second copy)
    cols = cols.astype(np.int64, copy=False)
    lon, lat = cell_centres_lonlat(grid, rows, cols, crs)
    return lon, lat, values, rows, cols


def read_populated_cells(
    dataset: rasterio.DatasetReader,
    path: Path,
    window: rasterio.windows.Window,
    *,
    aggregate: int,
    units: str,
    tally: NodataTally,
    density: DensityCheck | None = None,
) -> Population:
    """Read ``window`` of a count raster strip by strip into its populated cells.

    Parameters
    ----------
    dataset, path
        The open raster (one band) and its file, for messages.
    window
        The study window (whole cells).
    aggregate
        Sum ``aggregate x aggregate`` blocks of cells (after converting densities).
    units : {"count", "per_km2", "per_ha"}
        What a cell holds (:mod:`accessmap.inputs.population_units`).
    tally
        Receives the cells set to 0 and why.
    density
        Receives each cleaned strip, to look for a density read as counts.
    """
    height, width = int(window.height), int(window.width)
    transform = dataset.window_transform(window)
    crs = dataset.crs.to_string()
    area = cell_area_km2(transform, (height, width), crs) if units != "count" else None
    grid = _coarse_transform(transform, aggregate)
    fields: dict[str, list[NDArray[Any]]] = {name: [] for name in _FIELDS}
    strips = _strips(height, width, _block_rows(dataset), aggregate)
    # GDAL keeps the blocks it reads in its cache (by default 5% of RAM: a large country's
    # whole raster, decompressed); each strip reads whole block rows, so two strips do
    itemsize = np.dtype(dataset.dtypes[0]).itemsize
    with rasterio.Env(GDAL_CACHEMAX=max(64 << 20, 2 * strips[0][1] * width * itemsize)):
        for row0, strip_rows in strips:
            strip = rasterio.windows.Window(window.col_off, window.row_off + row0, width,
                                            strip_rows)
            data = clean_counts(read_band(dataset, path, "population file", window=strip),
                                tally)
            if density is not None:
                density.add(data, row0)
            if area is not None:
                data = density_to_counts(data, area[row0:row0 + strip_rows], units)
            for name, part in zip(_FIELDS, _cells(data, grid, crs, aggregate, row0),
                                  strict=True):
                fields[name].append(part)
    # one field at a time, each strip list released once joined (peak: strips + 1 field)
    joined = {name: np.concatenate(fields.pop(name)) for name in _FIELDS}
    return Population(**joined, transform=grid, shape=_coarse_shape((height, width), aggregate),
                      crs=crs, source=str(path), excluded_nodata_cells=tally.dropped)


#: The per-cell fields of :class:`~accessmap.inputs.demand.Population`.
_FIELDS = ("lon", "lat", "population", "row", "col")


def cell_centres_lonlat(
    transform: Affine, rows: NDArray[np.int64], cols: NDArray[np.int64], crs: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Longitude and latitude of the centres of cells (``rows``, ``cols``) of a grid."""
    x, y = rasterio.transform.xy(transform, rows, cols, offset="center")
    x, y = np.asarray(x, float), np.asarray(y, float)
    if pyproj.CRS.from_user_input(crs).equals(pyproj.CRS.from_epsg(4326)):
        return x, y
    lon, lat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    return np.asarray(lon, float), np.asarray(lat, float)


def _block_rows(dataset: rasterio.DatasetReader) -> int:
    """Rows of the raster's internal blocks (1 when unknown)."""
    try:
        return max(1, int(dataset.block_shapes[0][0]))
    except (IndexError, rasterio.errors.RasterioError):
        return 1


def _strips(height: int, width: int, block_rows: int,
            aggregate: int) -> list[tuple[int, int]]:
    """(first row, rows) of each strip: whole blocks, whole aggregation blocks."""
    unit = math.lcm(block_rows, max(1, aggregate))
    rows = max(unit, STRIP_CELLS // max(1, width) // unit * unit)
    return [(row0, min(rows, height - row0)) for row0 in range(0, height, rows)]


def aggregate_sum(
    data: NDArray[np.floating], transform: Affine, factor: int
) -> tuple[NDArray[np.float64], Affine]:
    """Sum ``factor x factor`` blocks of a grid; the total is preserved exactly.

    Edge blocks that are cut by the grid's border are padded with zeros.

    Examples
    --------
    >>> grid, _ = aggregate_sum(np.ones((3, 3)), Affine.identity(), 2)
    >>> grid.tolist()
    [[4.0, 2.0], [2.0, 1.0]]
    """
    rows = -(-data.shape[0] // factor) * factor
    cols = -(-data.shape[1] // factor) * factor
    padded = np.zeros((rows, cols), dtype=np.float64)
    padded[: data.shape[0], : data.shape[1]] = data
    blocks = padded.reshape(rows // factor, factor, cols // factor, factor).sum(axis=(1, 3))
    return blocks, transform @ Affine.scale(factor, factor)


def open_count_raster(path: Path, what: str) -> rasterio.DatasetReader:
    """Open a count raster: one band, a CRS and a north-up, unrotated geotransform (and,
    for a VRT, every source file present).

    Raises
    ------
    InputFileError
        The file cannot be read as a raster, or a VRT source is missing.
    InputDataError
        Not one band, no CRS, no geotransform, rotated or not north-up.
    """
    check_vrt_sources(path, what)
    try:
        with warnings.catch_warnings():  # no geotransform: refused below, in one line
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            dataset = rasterio.open(path)
    except rasterio.errors.RasterioIOError as err:
        raise InputFileError(f"{what} {path} cannot be read as a raster ({err})") \
            from None
    problem = _raster_problem(dataset, path)
    if problem is not None:
        dataset.close()
        raise InputDataError(f"{what} {path} {problem}")
    return dataset


def _raster_problem(dataset: rasterio.DatasetReader, path: Path) -> str | None:
    """Why a raster cannot be read as people per cell, or None."""
    if dataset.count != 1:
        return (f"has {dataset.count} bands; accessmap reads one band of people per cell: "
                f"write the band you mean to its own file, e.g. gdal_translate -b 1 "
                f"{path.name} {path.stem}_band1.tif")
    if dataset.crs is None:
        return ("has no coordinate reference system; assign one (WorldPop rasters are "
                "EPSG:4326), e.g. with gdal_edit.py -a_srs EPSG:4326")
    t = dataset.transform
    if t.is_identity:
        return ("has no geotransform (no cell size or origin); georeference it, e.g. "
                "gdal_edit.py -a_ullr west north east south")
    if t.b != 0 or t.d != 0:
        return ("has a rotated geotransform; warp it north-up without resampling counts, "
                "e.g. gdalwarp -r sum")
    if t.a <= 0 or t.e >= 0:
        return (f"is not north-up (cell size {t.a:g} x {t.e:g}: rows run south to north or "
                "columns east to west); flip it north-up, e.g. gdalwarp -r sum")
    return None


def study_window(
    dataset: rasterio.DatasetReader,
    bounds_lonlat: tuple[float, float, float, float] | None,
    path: Path,
) -> rasterio.windows.Window:
    """The whole cells of ``dataset`` covering ``bounds_lonlat`` (all of it for None).

    Raises
    ------
    InputDataError
        The raster does not overlap the bounds.
    """
    full = rasterio.windows.Window(0, 0, dataset.width, dataset.height)
    if bounds_lonlat is None:
        return full
    west, south, east, north = rasterio.warp.transform_bounds(
        "EPSG:4326", dataset.crs, *bounds_lonlat
    )
    window = rasterio.windows.from_bounds(west, south, east, north, dataset.transform)
    col0, row0 = np.floor(window.col_off), np.floor(window.row_off)
    window = rasterio.windows.Window(
        int(col0), int(row0), int(np.ceil(window.col_off + window.width) - col0),
        int(np.ceil(window.row_off + window.height) - row0),
    )
    try:
        window = window.intersection(full)
    except rasterio.errors.WindowError:
        raise InputDataError(
            f"population file {path} does not overlap the road network (network bounds "
            f"{tuple(round(b, 3) for b in bounds_lonlat)}); are they for the same place?"
        ) from None
    return window
