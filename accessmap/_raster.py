"""Grid helpers shared by the surface, zone and catchment outputs (no accessmap imports).

Cell areas in square kilometres for any CRS, polygons from labelled grids (vectorised
cell edges, never hulls) reprojected to EPSG:4326, Cloud-Optimized GeoTIFF writing and
reading a band at the resolution it is displayed at.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import rasterio
import rasterio.enums
import rasterio.features
import rasterio.shutil
import rasterio.windows
import shapely
import shapely.geometry
from affine import Affine
from numpy.typing import NDArray

__all__ = ["EARTH_RADIUS_KM", "cell_area_km2", "label_polygons", "polygon_mapping",
           "read_decimated", "write_cog"]

#: Mean Earth radius (km) of the spherical cell-area formula.
EARTH_RADIUS_KM = 6371.0088


def cell_area_km2(transform: Affine, shape: tuple[int, int], crs: str) -> NDArray[np.float64]:
    """Area of every cell of a grid in km², one value per row (broadcastable to ``shape``).

    In a geographic CRS (degrees) a cell's area shrinks with the cosine of latitude; it is
    computed exactly on the sphere: ``R² · Δλ · (sin φ_top - sin φ_bottom)``.  In a
    projected CRS it is ``|a·e - b·d|`` in the CRS unit squared, converted to km².

    Returns
    -------
    numpy.ndarray
        Shape ``(rows, 1)``.

    Examples
    --------
    >>> area = cell_area_km2(Affine(0.01, 0, 0, 0, -0.01, 0.005), (1, 1), "EPSG:4326")
    >>> round(float(area[0, 0]), 3)
    1.236
    """
    rows = np.arange(shape[0], dtype=np.float64)
    crs_obj = pyproj.CRS.from_user_input(crs)
    if crs_obj.is_geographic:
        top = np.radians(transform.f + transform.e * rows)
        bottom = np.radians(transform.f + transform.e * (rows + 1))
        dlon = np.radians(abs(transform.a))
        area = EARTH_RADIUS_KM**2 * dlon * np.abs(np.sin(top) - np.sin(bottom))
    else:
        unit = crs_obj.axis_info[0].unit_conversion_factor if crs_obj.axis_info else 1.0
        cell = abs(transform.a * transform.e - transform.b * transform.d) * unit**2 / 1e6
        area = np.full(shape[0], cell)
    return np.asarray(area, dtype=np.float64).reshape(-1, 1)


def label_polygons(
    labels: NDArray[np.int32],
    transform: Affine,
    crs: str,
) -> dict[int, shapely.Geometry]:
    """Polygon (or MultiPolygon) of the cells of each positive label, in EPSG:4326.

    Cells with label ``<= 0`` are background.  Holes and separate pockets are kept: the
    polygons follow cell edges (``rasterio.features.shapes``).
    """
    labels = np.ascontiguousarray(labels, dtype=np.int32)
    parts: dict[int, list[shapely.Geometry]] = {}
    mask = labels > 0
    if not mask.any():
        return {}
    for geom, value in rasterio.features.shapes(labels, mask=mask, transform=transform,
                                                connectivity=4):
        parts.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    out: dict[int, shapely.Geometry] = {}
    for value, polys in parts.items():
        out[value] = polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)
    return _to_lonlat(out, crs)


def _to_lonlat(geoms: dict[int, shapely.Geometry], crs: str) -> dict[int, shapely.Geometry]:
    if pyproj.CRS.from_user_input(crs).equals(pyproj.CRS.from_epsg(4326)):
        return geoms
    transformer = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)

    def to_lonlat(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.column_stack(transformer.transform(coords[:, 0], coords[:, 1]))

    return {k: shapely.transform(g, to_lonlat) for k, g in geoms.items()}


def polygon_mapping(geom: shapely.Geometry) -> dict[str, Any]:
    """GeoJSON-like mapping of a geometry, as ``rasterio.features.rasterize`` takes it.

    Polygons and MultiPolygons are built from whole coordinate arrays: the same
    coordinates as ``geom.__geo_interface__``, which walks them point by point in Python
    (slow for detailed coastlines).  Other geometries use ``__geo_interface__``.
    """

    def rings(polygon: shapely.Polygon) -> list[list[list[float]]]:
        return [shapely.get_coordinates(ring).tolist()
                for ring in (polygon.exterior, *polygon.interiors)]

    if isinstance(geom, shapely.Polygon):
        return {"type": "Polygon", "coordinates": rings(geom)}
    if isinstance(geom, shapely.MultiPolygon):
        return {"type": "MultiPolygon", "coordinates": [rings(p) for p in geom.geoms]}
    mapping: dict[str, Any] = geom.__geo_interface__
    return mapping


#: Rows per block when writing a grid to the intermediate GeoTIFF (= its tile height).
_COG_BLOCK = 512
#: GDAL block cache (bytes) while writing a COG: tiles are written once, in order, so a
#: large cache only holds copies of the whole raster (GDAL's default is 5% of RAM).
_COG_CACHE_BYTES = 1 << 20


def write_cog(
    path: Path,
    grid: NDArray[np.floating],
    transform: Affine,
    crs: str,
    *,
    description: str = "",
    tags: dict[str, str] | None = None,
) -> None:
    """Write a float32 single-band Cloud-Optimized GeoTIFF with NaN as nodata.

    The grid goes block by block (cast to float32 one block at a time, so a float32
    grid is not copied at all) into a tiled GeoTIFF beside ``path``; GDAL's COG driver
    then copies it with overviews into a second file beside ``path``, which replaces
    ``path`` only when complete (atomic rename): no partial file is ever left at
    ``path``.  No in-memory copy of the raster is made, the GDAL block cache is kept
    small meanwhile, and ``grid`` is let go before the COG copy (pass it without
    keeping another reference and its memory is free for GDAL).  ``tags`` go into the
    dataset's metadata (e.g. what a value means).
    """
    path = Path(path)
    profile = {
        "driver": "GTiff", "width": grid.shape[1], "height": grid.shape[0], "count": 1,
        "dtype": "float32", "crs": crs, "transform": transform, "nodata": float("nan"),
        "tiled": True, "blockxsize": _COG_BLOCK, "blockysize": _COG_BLOCK,
    }
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tif", dir=path.parent)
    os.close(fd)
    source, target = Path(name), Path(name).with_suffix(".cog.tif")
    try:
        with rasterio.Env(GDAL_CACHEMAX=_COG_CACHE_BYTES):
            _write_tiled(source, grid, profile, description, tags or {})
            del grid
            with rasterio.open(source) as dataset:
                rasterio.shutil.copy(dataset, str(target), driver="COG", compress="DEFLATE",
                                     predictor="YES", overview_resampling="average")
        os.replace(target, path)
    finally:
        source.unlink(missing_ok=True)
        target.unlink(missing_ok=True)


def _write_tiled(
    path: Path, grid: NDArray[np.floating], profile: dict[str, Any], description: str,
    tags: dict[str, str],
) -> None:
    with rasterio.open(path, "w", **profile) as dataset:
        for row in range(0, grid.shape[0], _COG_BLOCK):
            block = grid[row:row + _COG_BLOCK].astype(np.float32, copy=False)
            window = rasterio.windows.Window(0, row, grid.shape[1], block.shape[0])
            dataset.write(block, 1, window=window)
        if description:
            dataset.set_band_description(1, description)
        if tags:
            dataset.update_tags(**tags)


def read_decimated(
    path: Path, *, max_pixels: int | None = None
) -> tuple[NDArray[np.float32], Affine, str, dict[str, str]]:
    """Read band 1 as float32 (nodata as NaN), at most ``max_pixels`` cells.

    A larger raster is read 1:k (the smallest whole ``k`` that fits), nearest neighbour,
    from the file's overviews when it has them (a COG does): the full grid is never in
    memory.

    Returns
    -------
    grid, transform, crs, tags
        The cells read, the transform of those cells, the CRS and the dataset's tags.
    """
    with rasterio.open(path) as src:
        step = 1
        if max_pixels is not None and src.width * src.height > max_pixels:
            step = math.ceil(math.sqrt(src.width * src.height / max_pixels))
        shape = (math.ceil(src.height / step), math.ceil(src.width / step))
        grid = src.read(1, out_shape=shape, out_dtype="float32", masked=True,
                        resampling=rasterio.enums.Resampling.nearest)
        transform = src.transform @ Affine.scale(src.width / shape[1], src.height / shape[0])
        return (grid.filled(np.nan).astype(np.float32, copy=False), transform, str(src.crs),
                dict(src.tags()))
