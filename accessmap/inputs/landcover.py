"""Land cover, walking speeds and elevation read onto the population grid (issue 15).

The land-cover raster (any classification) is resampled onto the population grid by the
most frequent class (``mode``), the elevation raster bilinearly; classes become walking
speeds through a table (CSV or TOML) or the ESA WorldCover defaults,
:data:`WORLDCOVER_SPEEDS_KPH`.  The result is an
:class:`~accessmap.routing.offroad.OffroadSurface` for
:func:`~accessmap.routing.offroad.offroad_times`.
"""

from __future__ import annotations

import csv
import logging
import tomllib
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import rasterio
import rasterio.errors
import rasterio.warp
from affine import Affine
from numpy.typing import NDArray
from rasterio.enums import Resampling

from accessmap.config.offroad import Offroad
from accessmap.errors import InputDataError, InputFileError
from accessmap.inputs.population import Population
from accessmap.routing.offroad import OffroadSurface

__all__ = ["WORLDCOVER_SPEEDS_KPH", "class_speeds", "load_offroad_surface", "read_onto_grid",
           "read_speed_table"]

logger = logging.getLogger(__name__)

#: Walking speed (km/h) of each ESA WorldCover 2021 class; ``0``: impassable.
#: Indicative values in the range of the walking-only friction surface of Weiss et al.
#: (2020, Nature Medicine 26:1835-1838, land-cover speeds after Weiss et al. 2018,
#: Nature 553:333-336) and of AccessMod's walking scenarios; calibrate them locally
#: (``[offroad] landcover_speeds``).  See docs/network.md.
WORLDCOVER_SPEEDS_KPH: dict[int, float] = {
    10: 2.0,   # tree cover
    20: 3.0,   # shrubland
    30: 4.0,   # grassland
    40: 3.5,   # cropland
    50: 5.0,   # built-up
    60: 3.0,   # bare / sparse vegetation
    70: 1.0,   # snow and ice
    80: 0.0,   # permanent water bodies: impassable
    90: 1.5,   # herbaceous wetland
    95: 1.0,   # mangroves
    100: 2.5,  # moss and lichen
}

#: Words accepted for an impassable class in a speeds table.
_IMPASSABLE = ("impassable", "none", "no")


def load_offroad_surface(settings: Offroad, grid: Population) -> OffroadSurface:
    """Read ``[offroad]``'s rasters onto the population grid.

    Raises
    ------
    InputFileError
        A raster or the speeds table is missing or unreadable.
    InputDataError
        A raster has no CRS or does not cover the study area, or the land cover holds a
        class without a speed.
    """
    shape = (int(grid.shape[0]), int(grid.shape[1]))
    speed = np.full(shape, np.nan)
    if settings.landcover is not None:
        classes = read_onto_grid(settings.landcover, grid, resampling=Resampling.mode,
                                 what="land-cover")
        table = (read_speed_table(settings.landcover_speeds)
                 if settings.landcover_speeds is not None else WORLDCOVER_SPEEDS_KPH)
        where = (str(settings.landcover_speeds) if settings.landcover_speeds is not None
                 else "the ESA WorldCover defaults")
        speed = class_speeds(classes, table, source=settings.landcover, table_name=where)
    elevation = None
    if settings.dem is not None:
        elevation = read_onto_grid(settings.dem, grid, resampling=Resampling.bilinear,
                                   what="elevation (DEM)")
    return OffroadSurface(speed, elevation, grid.transform, grid.crs,
                          neighbours=int(settings.neighbours),
                          max_slope_deg=float(settings.max_slope_deg))


def read_onto_grid(path: Path, grid: Population, *, resampling: Resampling,
                   what: str) -> NDArray[np.float64]:
    """Band 1 of raster ``path`` resampled onto ``grid`` (NaN: nodata).

    Raises
    ------
    InputFileError
        The file is missing or not a raster.
    InputDataError
        It has no CRS, or its extent does not cover the study area (often a wrong CRS).
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{what} file {path} does not exist; check the path")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            dataset = rasterio.open(path)
    except rasterio.errors.RasterioIOError as err:
        raise InputFileError(f"{what} file {path} cannot be read as a raster ({err})") \
            from None
    with dataset:
        if dataset.crs is None or dataset.transform.is_identity:
            raise InputDataError(
                f"{what} file {path} has no coordinate reference system or geotransform; "
                "assign them (e.g. gdal_edit.py -a_srs EPSG:4326 -a_ullr ...)")
        shape = (int(grid.shape[0]), int(grid.shape[1]))
        _check_covers(dataset, path, grid.transform, shape, grid.crs, what)
        out = np.full(shape, np.nan, dtype=np.float64)
        rasterio.warp.reproject(
            rasterio.band(dataset, 1), out, dst_transform=grid.transform, dst_crs=grid.crs,
            dst_nodata=np.nan, resampling=resampling)
    return out


def _check_covers(dataset: Any, path: Path, transform: Affine, shape: tuple[int, int],
                  crs: str, what: str) -> None:
    """Refuse a raster whose extent misses part of the grid (by more than a cell)."""
    west, north = transform * (0, 0)
    east, south = transform * (shape[1], shape[0])
    need = (min(west, east), min(south, north), max(west, east), max(south, north))
    try:
        have = rasterio.warp.transform_bounds(dataset.crs, crs, *dataset.bounds)
    except (rasterio.errors.CRSError, pyproj.exceptions.ProjError, ValueError):
        have = (np.nan,) * 4
    cell_x, cell_y = abs(transform.a), abs(transform.e)
    covered = (have[0] <= need[0] + cell_x and have[1] <= need[1] + cell_y
               and have[2] >= need[2] - cell_x and have[3] >= need[3] - cell_y)
    if covered:
        return
    overlap = not (have[2] < need[0] or have[0] > need[2] or have[3] < need[1]
                   or have[1] > need[3])
    hint = ("it covers only part of it; give a raster (or a mosaic, gdalbuildvrt) covering"
            if overlap else f"it does not overlap it at all: is its CRS ({dataset.crs}) right? "
            "It must cover")
    raise InputDataError(
        f"{what} file {path} does not cover the study area; {hint} "
        f"{need[0]:.4f}, {need[1]:.4f} to {need[2]:.4f}, {need[3]:.4f} (in {crs})")


def read_speed_table(path: Path) -> dict[int, float]:
    """Class -> walking km/h (0: impassable) from a CSV or TOML speeds table.

    CSV: columns ``class`` and ``speed_kph``; TOML: a ``[speeds_kph]`` table
    (``10 = 2.0``, ``80 = "impassable"``).

    Raises
    ------
    InputFileError
        The file is missing or unreadable.
    InputDataError
        A row has no whole class or no usable speed (the message names it).
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"land-cover speeds file {path} does not exist; check the path")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputFileError(f"land-cover speeds file {path} cannot be read ({err})") \
            from None
    if path.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise InputDataError(f"land-cover speeds file {path} is not valid TOML: {err}") \
                from None
        rows = [(f"speeds_kph.{k}", k, v) for k, v in dict(data.get("speeds_kph", {})).items()]
    else:
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or not {"class", "speed_kph"} <= set(reader.fieldnames):
            raise InputDataError(f"land-cover speeds file {path} needs the columns class and "
                                 "speed_kph (e.g. a row 80,impassable)")
        rows = [(f"row {i}", r["class"], r["speed_kph"]) for i, r in enumerate(reader, 2)]
    return dict(_speed_row(path, where, key, value) for where, key, value in rows)


def _speed_row(path: Path, where: str, key: Any, value: Any) -> tuple[int, float]:
    try:
        cls = int(str(key).strip())
    except ValueError:
        raise InputDataError(f"land-cover speeds file {path} {where}: class {key!r} is not a "
                             "whole number (the raster's class value)") from None
    if isinstance(value, str) and value.strip().lower() in _IMPASSABLE:
        return cls, 0.0
    try:
        speed = float(value)
    except (TypeError, ValueError):
        speed = float("nan")
    if not (np.isfinite(speed) and speed >= 0):
        raise InputDataError(f"land-cover speeds file {path} {where}: speed {value!r} is not "
                             "a walking speed; give km/h >= 0 or impassable")
    return cls, speed


def class_speeds(classes: NDArray[np.float64], table: dict[int, float], *, source: Path,
                 table_name: str) -> NDArray[np.float64]:
    """Walking km/h per cell from its class (NaN where the land cover has no data).

    Raises
    ------
    InputDataError
        A class present in the grid has no speed in ``table``.
    """
    known = np.isfinite(classes)
    values, counts = np.unique(classes[known], return_counts=True)
    missing = [(int(v), int(c)) for v, c in zip(values, counts, strict=True)
               if int(v) not in table]
    if missing:
        cls, cells = missing[0]
        raise InputDataError(
            f"land-cover file {source} holds class {cls} ({cells:,} cells) with no speed in "
            f"{table_name}; add a row {cls},<km/h> (or {cls},impassable) to a speeds table "
            "and give it as [offroad] landcover_speeds")
    lookup = np.array([table[int(v)] for v in values], dtype=np.float64)
    speed = np.full(classes.shape, np.nan)
    speed[known] = lookup[np.searchsorted(values, classes[known])]
    logger.info("land cover: %d classes on %d cells, %d impassable", values.size,
                int(known.sum()), int((speed == 0).sum()))
    return speed
