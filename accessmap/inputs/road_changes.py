"""Reading the ``[roads]`` polygon files into :class:`~accessmap.routing.closures.RoadChanges`.

Closed and slow areas are polygon files any GDAL format holds (GeoPackage, GeoJSON,
Shapefile) in any CRS; they are projected to the road network's CRS.  A slow-area file
may carry a ``factor`` column (speed factor per polygon, in (0, 1]).
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accessmap.config.roads import Roads
from accessmap.errors import ConfigError, DataQualityWarning, InputDataError
from accessmap.inputs.facilities import read_vector
from accessmap.routing.closures import ChangedRoads, RoadChanges, change_roads
from accessmap.routing.network import RoadNetwork

__all__ = ["FACTOR_COLUMN", "changed_network", "read_road_changes"]


#: Column of a slow-area file holding each polygon's speed factor.
FACTOR_COLUMN = "factor"


def read_road_changes(settings: Roads, network: RoadNetwork) -> RoadChanges:
    """Read the closed and slow areas of ``settings`` in the network's CRS.

    Parameters
    ----------
    settings
        The ``[roads]`` section.
    network
        The road network (its CRS is the polygons' target).

    Raises
    ------
    InputFileError
        A polygon file is missing or unreadable.
    InputDataError
        A file holds rows that are not polygons, or a ``factor`` value outside (0, 1].
    ConfigError
        Slow areas without ``slow_factor`` nor a ``factor`` column.
    """
    closed = slow = np.zeros(0, dtype=object)
    factors = np.zeros(0)
    if settings.closed_areas is not None:
        frame = _polygons(settings.closed_areas, settings.closed_areas_layer, "closed areas")
        closed = _projected(frame, network)
    if settings.slow_areas is not None:
        frame = _polygons(settings.slow_areas, settings.slow_areas_layer, "slow areas")
        factors = _factors(frame, settings.slow_areas, settings.slow_factor)
        slow = _projected(frame, network)
    return RoadChanges(
        closed_areas=closed, closed_ways=settings.closed_ways, slow_areas=slow,
        slow_factors=factors,
        closed_source=f"roads.closed_areas {settings.closed_areas}",
        slow_source=f"roads.slow_areas {settings.slow_areas}",
    )


def changed_network(settings: Roads, network: RoadNetwork, *, quiet: bool = False
                    ) -> ChangedRoads | None:
    """Apply ``[roads]`` to ``network`` (``None`` when the section changes no road).

    With ``quiet`` (a second network of the run, e.g. the drive network of mobile
    circuits) closed way ids the network does not hold are skipped and the "changed
    nothing" warnings, already given for the run's own network, are not repeated.
    """
    if not settings.changes_roads:
        return None
    changes = read_road_changes(settings, network)
    if not quiet:
        return change_roads(network, changes)
    held = tuple(w for w in changes.closed_ways if w in set(network.seg_way_id.tolist()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return change_roads(network, dataclasses.replace(changes, closed_ways=held))


def _polygons(path: Path, layer: str | None, what: str) -> gpd.GeoDataFrame:
    """The polygon rows of a file (empty geometries left out); other shapes refused."""
    frame = read_vector(path, what=what, layer=layer)
    frame = frame[~(frame.geometry.isna() | frame.geometry.is_empty)]
    bad = np.flatnonzero(~frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"]))
    if bad.size:
        rows = ", ".join(str(int(frame.index[i]) + 1) for i in bad[:5])
        raise InputDataError(
            f"{what} file {path}: row(s) {rows} are {frame.geometry.iloc[bad[0]].geom_type}, "
            "not polygons; draw the areas as polygons (a closed road by its OSM way id: "
            "[roads] closed_ways)"
        )
    return frame


def _projected(frame: gpd.GeoDataFrame, network: RoadNetwork) -> NDArray[np.object_]:
    geometries: NDArray[np.object_] = np.asarray(frame.to_crs(network.crs).geometry.values,
                                                 dtype=object)
    return geometries


def _factors(frame: gpd.GeoDataFrame, path: Path, default: float | None
             ) -> NDArray[np.float64]:
    """Speed factor of each slow polygon: its ``factor`` value, else ``slow_factor``."""
    if FACTOR_COLUMN not in frame.columns:
        if default is None:
            raise ConfigError(
                f"roads.slow_areas {path} has no '{FACTOR_COLUMN}' column and "
                "roads.slow_factor is not set; give slow_factor = 0.3 (a third of the "
                f"speed) or a '{FACTOR_COLUMN}' column in (0, 1]"
            )
        return np.full(len(frame), float(default))
    values = pd.to_numeric(frame[FACTOR_COLUMN], errors="coerce")
    if default is not None:
        values = values.fillna(default)
    factor: NDArray[np.float64] = np.asarray(values.to_numpy(dtype=float), dtype=np.float64)
    bad = np.flatnonzero(~((factor > 0) & (factor <= 1)))
    if bad.size:
        rows = ", ".join(str(int(frame.index[i]) + 1) for i in bad[:5])
        raise InputDataError(
            f"slow areas file {path}: row(s) {rows} have {FACTOR_COLUMN} "
            f"{frame[FACTOR_COLUMN].iloc[bad[0]]!r}; give a speed factor in (0, 1] "
            "(0.3: a third of the speed)"
        )
    return factor
