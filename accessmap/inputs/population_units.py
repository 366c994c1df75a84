"""Population rasters in people per km² or per hectare: converted to people per cell.

accessmap counts people per cell.  A density raster (GPW's "population density", a
per-hectare census grid) read as counts gives totals wrong by the cell's area in km²
(a factor of about 100 on 100 m cells), silently.  ``[inputs] population_units`` says
what the raster holds:

``"count"`` (default)
    People per cell (WorldPop ``ppp``, GHS-POP, HRSL): read as they are.
``"per_km2"``, ``"per_ha"``
    People per km² or per hectare: each cell is multiplied by its true area
    (:func:`accessmap._raster.cell_area_km2`: on a geographic grid the area shrinks with
    latitude and is computed per row on the sphere of radius 6371.0088 km,
    ``R² · Δλ · (sin φ_top - sin φ_bottom)``, within 0.7% of the WGS84 ellipsoid; on a
    projected grid it is the cell's size).
    The conversion happens before any aggregation, which then sums counts exactly.

When the units are ``"count"``, :class:`DensityCheck` looks for signs of a density and
the loader warns (a :class:`~accessmap.errors.DataQualityWarning`, the run goes on):

* the file name, band description, band unit or metadata tags say so (``density``,
  ``per km²``, ``/km2``, ``km-2``, ``per hectare``, ``/ha``);
* the median populated cell, read as a count, would mean more than
  :data:`DENSITY_HINT_PER_KM2` people per km² (25,000: denser than the median cell of
  any real country's grid; a density raster on 100 m cells, read as counts, implies
  about 100 times its values).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from numpy.typing import NDArray

from accessmap._raster import cell_area_km2
from accessmap.config.sections import POPULATION_UNITS

__all__ = ["DENSITY_HINT_PER_KM2", "POPULATION_UNITS", "DensityCheck", "density_to_counts",
           "raster_labels"]

#: Hectares per km² (a per-hectare value times this is per km²).
_HA_PER_KM2 = {"count": 1.0, "per_km2": 1.0, "per_ha": 100.0}

#: Median people per km² of the populated cells, read as counts, above which a raster
#: looks like a density.
DENSITY_HINT_PER_KM2 = 25_000.0

#: Cells looked at for the median (rows are sampled evenly on larger windows).
_SAMPLE_CELLS = 2_000_000

_DENSITY_WORDS = re.compile(
    r"density|dens\b|per[ _-]?(sq[ _.-]?km|km2|km²|km\^2|square[ _-]?kilomet|hectare|ha\b)"
    r"|/ ?(km2|km²|km\^2|sq ?km|ha)\b|km-2|ha-1|ppkm|pph\b", re.IGNORECASE)


def density_to_counts(data: NDArray[np.floating], area_km2: NDArray[np.float64],
                      units: str) -> NDArray[np.floating]:
    """People per cell from a grid in ``units`` (``data`` is changed in place if floating).

    Parameters
    ----------
    data
        Raster rows, people per cell, per km² or per hectare; nodata cells are 0.
    area_km2
        The cells' areas in km², one per row (shape ``(rows, 1)``,
        :func:`accessmap._raster.cell_area_km2`).
    units : {"count", "per_km2", "per_ha"}

    Raises
    ------
    ValueError
        ``units`` is unknown.

    Examples
    --------
    >>> grid = np.array([[100.0]])  # 100 people per hectare on a 1 km² cell
    >>> density_to_counts(grid, np.array([[1.0]]), "per_ha").tolist()
    [[10000.0]]
    """
    if units not in _HA_PER_KM2:
        raise ValueError(f"population units {units!r} are unknown; use one of "
                         + ", ".join(POPULATION_UNITS))
    area = area_km2 * _HA_PER_KM2[units]
    if not np.issubdtype(data.dtype, np.floating):
        data = data.astype(np.float64)
    np.multiply(data, area.astype(data.dtype), out=data)
    return data


class DensityCheck:
    """Why a raster read as people per cell looks like a density, from the strips of its
    window as they are read (:func:`~accessmap.inputs.raster_counts.read_populated_cells`).

    Every ``step``-th row of the window (counted from its first row, so the same rows
    whatever the strips) is looked at; the median is taken over all of them at the end.

    Parameters
    ----------
    transform, shape, crs
        The whole window's grid.
    labels
        Text describing the raster: file name, band description and unit, metadata tags.
    """

    def __init__(self, transform: Affine, shape: tuple[int, int], crs: str,
                 labels: Iterable[str]) -> None:
        self.label_hint = next(
            (f"its description says {found.group(0)!r} ({label[:60]!r})"
             for label in labels if (found := _DENSITY_WORDS.search(label or ""))), None)
        self.step = max(1, shape[0] * shape[1] // _SAMPLE_CELLS)
        self.area = cell_area_km2(transform, shape, crs)
        self._implied: list[NDArray[np.float64]] = []

    def add(self, data: NDArray[np.floating], row0: int) -> None:
        """Look at the sampled rows of a cleaned strip starting at window row ``row0``
        (people per cell if the file is right; nodata cells are 0)."""
        if self.label_hint is not None:
            return
        first = (-row0) % self.step
        sample = data[first::self.step]
        area = np.broadcast_to(self.area[row0 + first:row0 + data.shape[0]:self.step],
                               sample.shape)
        populated = sample > 0
        self._implied.append(sample[populated] / area[populated])

    def hint(self) -> str | None:
        """Why the raster looks like a density, or None."""
        if self.label_hint is not None:
            return self.label_hint
        implied_all = np.concatenate(self._implied) if self._implied else np.empty(0)
        if implied_all.size == 0:
            return None
        implied = float(np.median(implied_all))
        if implied > DENSITY_HINT_PER_KM2:
            cells = float(np.median(self.area[::self.step]))
            return (f"read as people per cell, its median populated cell would hold "
                    f"{implied:,.0f} people per km² (cells of {cells:.4g} km²)")
        return None

    def warning(self) -> str | None:
        """The warning (after the file name) for a raster read as counts that looks like a
        density, or None."""
        return _density_message(self.hint())


def _density_message(hint: str | None) -> str | None:
    if hint is None:
        return None
    return (f"looks like people per km² or per hectare, not per cell: {hint}; if it is a "
            'density, set [inputs] population_units = "per_km2" or "per_ha" (totals are '
            "wrong otherwise)")


def raster_labels(dataset: rasterio.DatasetReader, path: Path) -> list[str]:
    """Text describing a raster: file name, band description and unit, metadata tags."""
    tags = {**dataset.tags(), **dataset.tags(1)}
    return [path.name, *(d for d in dataset.descriptions[:1] if d),
            *(u for u in dataset.units[:1] if u), *(f"{k}={v}" for k, v in tags.items())]
