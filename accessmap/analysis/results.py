"""What the coverage analysis of one run computed, handed on to siting and the record.

:func:`accessmap.pipeline.analyse` fills a :class:`CoverageAnalysis` from the pure functions
of this package (coverage by area and group, bands, zones, catchments, equity);
:func:`accessmap.record.build_record` turns it into tables, layers and summary keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accessmap.inputs.population import Population

__all__ = ["SETTLEMENT", "CoverageAnalysis"]

#: Grouping name of the urban / peri-urban / rural classes in ``coverage_by_group``.
SETTLEMENT = "settlement_type"


@dataclass(frozen=True, eq=False)
class CoverageAnalysis:
    """Everything the coverage analysis of a run computed.

    Attributes
    ----------
    population, time_s
        Demand points and their travel time (s) to the nearest facility.
    thresholds_min, underserved_threshold_min, catchment_threshold_min
        The thresholds used.
    admin_areas, by_area
        Admin polygons with their coverage columns, and the coverage table by area
        (``None`` without boundaries).
    by_group
        Coverage by group for every grouping (settlement type first).
    settlement
        Settlement class of each demand point.
    bands, zones, catchments
        Isochrone bands, underserved zones and facility catchments (EPSG:4326 layers).
    accessibility, supply_unit
        2SFCA accessibility per demand point and what a unit of supply is.
    equity
        The ``equity`` summary (coverage gaps, Gini, rural share of the underserved).
    """

    population: Population
    time_s: NDArray[np.float64]
    thresholds_min: tuple[float, ...]
    underserved_threshold_min: float
    catchment_threshold_min: float
    admin_areas: gpd.GeoDataFrame | None
    by_area: pd.DataFrame | None
    by_group: pd.DataFrame
    settlement: NDArray[np.object_]
    bands: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    catchments: gpd.GeoDataFrame
    accessibility: NDArray[np.float64]
    supply_unit: str
    equity: dict[str, Any]
