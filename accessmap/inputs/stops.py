"""Transfer stops of the ``walk+drive`` mode: the only places where a trip may change
from walking to a vehicle (``[transfer] transfer_stops``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from accessmap.errors import InputDataError
from accessmap.inputs.facilities import read_vector

__all__ = ["TransferStops", "load_transfer_stops"]


@dataclass(frozen=True)
class TransferStops:
    """Stops in degrees (EPSG:4326), and the file they came from (named in messages)."""

    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    source: str


def load_transfer_stops(path: str | os.PathLike[str]) -> TransferStops:
    """Read transfer stops: points in any vector file, or a CSV with lon/lat columns.

    Raises
    ------
    InputFileError
        The file is missing or unreadable.
    InputDataError
        It holds no stops, lines or polygons instead of points, or points without
        coordinates (the message names the rows).
    """
    path = Path(path)
    source = f"transfer stops file {path}"
    frame = read_vector(path, what="transfer stops")
    if frame.empty:
        raise InputDataError(f"{source} holds no stops; give at least one point or leave "
                             "transfer.transfer_stops unset (change at any shared node)")
    kinds = frame.geom_type.to_numpy()
    if not (kinds == "Point").all():
        row = int(np.flatnonzero(kinds != "Point")[0])
        raise InputDataError(f"{source} row {row + 1} is a {kinds[row]}; give points, one "
                             "per stop")
    lon, lat = frame.geometry.x.to_numpy(float), frame.geometry.y.to_numpy(float)
    missing = np.flatnonzero(~(np.isfinite(lon) & np.isfinite(lat)))
    if missing.size:
        raise InputDataError(f"{source}: row(s) {', '.join(str(r + 1) for r in missing[:5])} "
                             "have no coordinates; fill them in or delete the rows")
    return TransferStops(lon, lat, source)
