"""Grid helpers shared by the surface, zone and catchment outputs (no accessmap imports).

Cell areas in square kilometres for any CRS, polygons from labelled grids (vectorised
cell edges, never hulls) reprojected to EPSG:4326, and Cloud-Optimized GeoTIFF writing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyproj
import rasterio
import rasterio.features
import rasterio.io
import rasterio.shutil
import shapely
import shapely.geometry
from affine import Affine
from numpy.typing import NDArray

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


def write_cog(
    path: Path,
    grid: NDArray[np.float64],
    transform: Affine,
    crs: str,
    *,
    description: str = "",
) -> None:
    """Write a float32 single-band Cloud-Optimized GeoTIFF with NaN as nodata."""
    profile = {
        "driver": "GTiff", "width": grid.shape[1], "height": grid.shape[0], "count": 1,
        "dtype": "float32", "crs": crs, "transform": transform, "nodata": float("nan"),
    }
    with rasterio.io.MemoryFile() as memory:
        with memory.open(**profile) as dataset:
            dataset.write(grid.astype(np.float32), 1)
            if description:
                dataset.set_band_description(1, description)
        with memory.open() as dataset:
            rasterio.shutil.copy(dataset, str(path), driver="COG", compress="DEFLATE",
                                 predictor="YES", overview_resampling="average")
