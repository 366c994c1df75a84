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

When the units are ``"count"``, :func:`density_hint` looks for signs of a density and
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
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from numpy.typing import NDArray

from accessmap._raster import cell_area_km2
from accessmap.config.sections import POPULATION_UNITS

__all__ = ["DENSITY_HINT_PER_KM2", "POPULATION_UNITS", "density_hint", "density_warning",
           "raster_labels", "to_counts"]

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


def to_counts(data: NDArray[np.floating], transform: Affine, crs: str,
              units: str) -> NDArray[np.floating]:
    """People per cell from a grid in ``units`` (``data`` is changed in place if floating).

    Parameters
    ----------
    data
        The raster window, people per cell, per km² or per hectare; nodata cells are 0.
    transform, crs
        The window's grid.
    units : {"count", "per_km2", "per_ha"}

    Examples
    --------
    >>> grid = np.array([[100.0]])  # 100 people per hectare on a 1 km x 1 km cell
    >>> to_counts(grid, Affine(1000, 0, 0, 0, -1000, 0), "EPSG:32738", "per_ha").tolist()
    [[10000.0]]
    """
    if units == "count":
        return data
    if units not in _HA_PER_KM2:
        raise ValueError(f"population units {units!r} are unknown; use one of "
                         + ", ".join(POPULATION_UNITS))
    area = cell_area_km2(transform, data.shape, crs) * _HA_PER_KM2[units]
    if not np.issubdtype(data.dtype, np.floating):
        data = data.astype(np.float64)
    np.multiply(data, area.astype(data.dtype), out=data)
    return data


def density_hint(data: NDArray[np.floating], transform: Affine, crs: str,
                 labels: Iterable[str]) -> str | None:
    """Why a raster read as people per cell looks like a density, or None.

    Parameters
    ----------
    data
        The cleaned window (people per cell if the file is right; nodata cells are 0).
    labels
        Text describing the raster: file name, band description and unit, metadata tags.
    """
    for label in labels:
        found = _DENSITY_WORDS.search(label or "")
        if found:
            return f"its description says {found.group(0)!r} ({label[:60]!r})"
    step = max(1, data.size // _SAMPLE_CELLS)  # every step-th row is enough for a median
    area = cell_area_km2(transform, data.shape, crs)[::step]
    data = data[::step]
    populated = data > 0
    if not populated.any():
        return None
    area = np.broadcast_to(area, data.shape)
    implied = float(np.median(data[populated] / area[populated]))
    if implied > DENSITY_HINT_PER_KM2:
        return (f"read as people per cell, its median populated cell would hold "
                f"{implied:,.0f} people per km² (cells of {float(np.median(area)):.4g} km²)")
    return None


def density_warning(data: NDArray[np.floating], transform: Affine, crs: str,
                    labels: Sequence[str]) -> str | None:
    """The warning (after the file name) for a raster read as counts that looks like a
    density (:func:`density_hint`), or None."""
    hint = density_hint(data, transform, crs, labels)
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
