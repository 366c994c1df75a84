"""Population rasters -> demand points (populated cell centres with their population).

Only the study area is read (a window), nodata and negative cells are excluded (WorldPop
uses -99999), and optional aggregation to coarser cells sums populations so that the
total is preserved exactly: never nearest-neighbour resampling, which loses people.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj
import rasterio
import rasterio.errors
import rasterio.transform
import rasterio.warp
import rasterio.windows
from affine import Affine
from numpy.typing import NDArray

from accessmap._errors import InputDataError, InputFileError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Population:
    """Demand points on a regular grid.

    ``row``/``col`` index the grid described by ``transform``, ``shape`` and ``crs``, so
    that per-point results (travel times) can be written back as a raster.
    """

    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    population: NDArray[np.float64]
    row: NDArray[np.int64]
    col: NDArray[np.int64]
    transform: Affine
    shape: tuple[int, int]
    crs: str
    source: str
    excluded_nodata_cells: int = 0

    @property
    def total(self) -> float:
        """Total population of the demand points."""
        return float(self.population.sum())

    @property
    def size(self) -> int:
        """Number of demand points."""
        return int(self.population.size)

    def to_grid(self, values: NDArray[np.float64], *, fill: float = np.nan) -> NDArray[
        np.float64
    ]:
        """Write one value per demand point into a grid of ``shape`` (others ``fill``)."""
        grid = np.full(self.shape, fill, dtype=np.float64)
        grid[self.row, self.col] = values
        return grid


def load_population(
    path: str | os.PathLike[str],
    *,
    bounds_lonlat: tuple[float, float, float, float] | None = None,
    aggregate: int = 1,
) -> Population:
    """Read a population GeoTIFF (any CRS) into demand points.

    Parameters
    ----------
    path
        Population raster (people per cell), e.g. WorldPop.
    bounds_lonlat
        (west, south, east, north) in degrees: read only this window.
    aggregate
        Sum over ``aggregate x aggregate`` blocks of cells first (total preserved).

    Returns
    -------
    Population

    Raises
    ------
    InputFileError
        The file is missing or not a raster.
    InputDataError
        No CRS, no overlap with ``bounds_lonlat``, or no populated cell.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"population file {path} does not exist; check the path")
    try:
        dataset = rasterio.open(path)
    except rasterio.errors.RasterioIOError as err:
        raise InputFileError(f"population file {path} cannot be read as a raster ({err})") \
            from None
    with dataset:
        if dataset.crs is None:
            raise InputDataError(
                f"population file {path} has no coordinate reference system; assign one "
                "(WorldPop rasters are EPSG:4326), e.g. with gdal_edit.py -a_srs EPSG:4326"
            )
        window = _window(dataset, bounds_lonlat, path)
        values = dataset.read(1, window=window, masked=True).astype(np.float64)
        transform = dataset.window_transform(window)
        crs = dataset.crs.to_string()
    valid = ~np.ma.getmaskarray(values) & np.isfinite(values.filled(np.nan))
    data = np.where(valid, values.filled(0.0), 0.0)
    negative = valid & (data < 0)
    if negative.any():
        logger.warning("%s: %d cells with negative population treated as nodata",
                       path.name, int(negative.sum()))
    nodata_cells = int((~valid).sum() + negative.sum())
    data = np.where(negative, 0.0, data)
    if aggregate > 1:
        data, transform = aggregate_sum(data, transform, aggregate)
    rows, cols = np.nonzero(data > 0)
    if rows.size == 0:
        raise InputDataError(
            f"population file {path}: no populated cell in the study area (all nodata or "
            "zero); check that the raster covers the road network"
        )
    lon, lat = _cell_centres_lonlat(transform, rows, cols, crs)
    population = Population(
        lon=lon, lat=lat, population=data[rows, cols], row=rows.astype(np.int64),
        col=cols.astype(np.int64), transform=transform, shape=data.shape, crs=crs,
        source=str(path), excluded_nodata_cells=nodata_cells,
    )
    logger.info("population: %d populated cells, total %.0f people (%s)", population.size,
                population.total, path.name)
    return population


def _window(
    dataset: rasterio.DatasetReader,
    bounds_lonlat: tuple[float, float, float, float] | None,
    path: Path,
) -> rasterio.windows.Window:
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


def aggregate_sum(
    data: NDArray[np.float64], transform: Affine, factor: int
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
    return blocks, transform * Affine.scale(factor, factor)


def _cell_centres_lonlat(
    transform: Affine, rows: NDArray[np.int64], cols: NDArray[np.int64], crs: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x, y = rasterio.transform.xy(transform, rows, cols, offset="center")
    x, y = np.asarray(x, float), np.asarray(y, float)
    if pyproj.CRS.from_user_input(crs).equals(pyproj.CRS.from_epsg(4326)):
        return x, y
    lon, lat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    return np.asarray(lon, float), np.asarray(lat, float)
