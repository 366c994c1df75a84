"""Demand points: populated grid cells with their people (:class:`Population`).

Every population input (raster, census polygons, points) becomes one :class:`Population`
(:mod:`accessmap.inputs.population`); the analysis stages read nothing else of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from affine import Affine
from numpy.typing import NDArray

__all__ = ["Population"]


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
