"""The population raster of the demo district (WorldPop-like, 3 arc-second cells).

Each settlement spreads its people as Gaussian blobs under log-normal cell
noise; the rest of :data:`TOTAL_POPULATION` is a rural scatter that thins
out away from the roads.  Cells outside the district (a border of
:data:`BORDER_CELLS`) and on the river or the lake are :data:`NODATA`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import rasterio
from rasterio.features import rasterize
from rasterio.transform import from_origin
from scipy.ndimage import distance_transform_edt, gaussian_filter
from shapely.geometry.base import BaseGeometry

from accessmap.demo.geometry import (
    KM_PER_DEG_LAT,
    KM_PER_DEG_LON,
    LAT_MAX,
    LAT_MIN,
    LON_MAX,
    LON_MIN,
    geometry_to_lonlat,
)
from accessmap.demo.network import highway_ways
from accessmap.demo.settlements import District, Settlement
from accessmap.errors import AccessmapError

__all__ = [
    "BORDER_CELLS",
    "CELL_DEG",
    "NODATA",
    "TOTAL_POPULATION",
    "make_population",
    "raster_shape",
    "raster_transform",
]


CELL_DEG = 1.0 / 1200.0

BORDER_CELLS = 4

NODATA = -99999.0

TOTAL_POPULATION = 150_000.0


def raster_shape() -> tuple[int, int, int, int]:
    """Return (rows, columns, district rows, district columns) of the population grid."""
    inner_rows = round((LAT_MAX - LAT_MIN) / CELL_DEG)
    inner_cols = round((LON_MAX - LON_MIN) / CELL_DEG)
    return inner_rows + 2 * BORDER_CELLS, inner_cols + 2 * BORDER_CELLS, inner_rows, inner_cols


def raster_transform() -> rasterio.Affine:
    """Return the affine transform of the population grid (with its nodata border)."""
    return from_origin(
        LON_MIN - BORDER_CELLS * CELL_DEG, LAT_MAX + BORDER_CELLS * CELL_DEG, CELL_DEG, CELL_DEG
    )


def _burn(geoms: Sequence[BaseGeometry], all_touched: bool) -> np.ndarray:
    """Rasterise km geometries onto the population grid; returns a boolean mask."""
    rows, cols, _, _ = raster_shape()
    shapes = [(geometry_to_lonlat(g), 1) for g in geoms]
    burned = rasterize(
        shapes,
        out_shape=(rows, cols),
        transform=raster_transform(),
        fill=0,
        all_touched=all_touched,
        dtype="uint8",
    )
    return np.asarray(burned, dtype=bool)


def _cell_centres_km() -> tuple[np.ndarray, np.ndarray]:
    """Return x and y (km) of every cell centre of the population grid."""
    rows, cols, _, _ = raster_shape()
    lon = LON_MIN + (np.arange(cols) + 0.5 - BORDER_CELLS) * CELL_DEG
    lat = LAT_MAX - (np.arange(rows) + 0.5 - BORDER_CELLS) * CELL_DEG
    x = (lon - LON_MIN) * KM_PER_DEG_LON
    y = (lat - LAT_MIN) * KM_PER_DEG_LAT
    return np.meshgrid(x, y)


def _valid_cells(district: District) -> np.ndarray:
    """Return the mask of cells with data: inside the district and off the water."""
    rows, cols, inner_rows, inner_cols = raster_shape()
    inside = np.zeros((rows, cols), dtype=bool)
    row_end, col_end = BORDER_CELLS + inner_rows, BORDER_CELLS + inner_cols
    inside[BORDER_CELLS:row_end, BORDER_CELLS:col_end] = True
    water = _burn([district.river], all_touched=True) | _burn([district.lake], all_touched=False)
    return np.asarray(inside & ~water, dtype=bool)


def _blob(
    x: np.ndarray, y: np.ndarray, s: Settlement, sigma_x: float, sigma_y: float
) -> np.ndarray:
    """Return an (unnormalised) Gaussian around settlement ``s``."""
    return np.exp(-0.5 * (((x - s.x) / sigma_x) ** 2 + ((y - s.y) / sigma_y) ** 2))


def _settlement_weights(x: np.ndarray, y: np.ndarray, s: Settlement) -> np.ndarray:
    """Return the population shape of one settlement."""
    if s.kind == "town":
        return 0.8 * _blob(x, y, s, 0.9, 0.75) + 0.2 * _blob(x, y, s, 1.8, 1.6)
    if s.kind == "village":
        sigma = 0.2 + 0.25 * math.sqrt(s.population / 2000.0)
        return _blob(x, y, s, sigma, sigma)
    return _blob(x, y, s, 0.12, 0.12)


def _scaled(weights: np.ndarray, valid: np.ndarray, total: float) -> np.ndarray:
    """Return ``weights`` zeroed outside ``valid`` and scaled to sum to ``total``."""
    weights = np.where(valid, weights, 0.0)
    return weights * (total / float(weights.sum()))


def make_population(district: District) -> np.ndarray:
    """Return the float32 population grid (nodata outside the district and on water)."""
    rng = district.rng
    x, y = _cell_centres_km()
    valid = _valid_cells(district)
    noise = rng.lognormal(0.0, 0.35, x.shape)
    people = np.zeros(x.shape)
    for s in [*district.settlements, *district.hamlets]:
        people += _scaled(_settlement_weights(x, y, s) * noise, valid, s.population)
    roads = _burn([district.network.line(w) for w in highway_ways(district.network)], True)
    road_km = distance_transform_edt(~roads) * CELL_DEG * KM_PER_DEG_LAT
    field_noise = gaussian_filter(rng.normal(0.0, 1.0, x.shape), 8.0)
    field_noise = np.exp(0.8 * field_noise / field_noise.std())
    scatter = (0.25 + np.exp(-road_km / 0.8)) * field_noise * rng.lognormal(0.0, 0.5, x.shape)
    remainder = TOTAL_POPULATION - people.sum()
    if remainder <= 0:
        raise AccessmapError("synthetic settlements exceed the district population")
    people += _scaled(scatter, valid, remainder)
    grid = people.astype(np.float32)
    grid[~valid] = NODATA
    return grid
