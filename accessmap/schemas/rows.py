"""Rows of the run record built from the stages' results: the ``demand_points`` layer, the
referral summary and the recommended sites of ``summary.json``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from accessmap.routing.travel_times import STATUS_NAMES, Access
from accessmap.schemas.names import COLUMNS
from accessmap.schemas.summary import ReferralSummary, Site

if TYPE_CHECKING:
    from accessmap.analysis.referral import Referral
    from accessmap.inputs.population import Population

__all__ = ["demand_points", "referral_summary", "site_row"]


def demand_points(population: Population, access: Access, ids: pd.Series) -> gpd.GeoDataFrame:
    """The ``demand_points`` layer: people, minutes (NaN: none), status, nearest facility id
    (empty: none), built from whole arrays with no Python object per point."""
    time_min = access.time_s / 60
    codes = sorted(STATUS_NAMES)
    status = pd.Categorical.from_codes(np.searchsorted(codes, access.status),
                                       [STATUS_NAMES[c] for c in codes])
    return gpd.GeoDataFrame(
        {COLUMNS.population: population.population,
         COLUMNS.time_min: np.where(np.isfinite(time_min), time_min, np.nan),
         COLUMNS.status: status,
         COLUMNS.nearest_facility: pd.Categorical.from_codes(access.facility,
                                                             ids.astype(str).to_numpy())},
        geometry=shapely.points(population.lon, population.lat), crs="EPSG:4326")


def referral_summary(referral: Referral) -> ReferralSummary:
    table, times = referral.table, referral.table["time_min"].to_numpy(dtype=float)
    times = times[np.isfinite(times)]
    return ReferralSummary(
        level_column=str(referral.level_column), levels=list(referral.levels),
        facilities=len(table), reachable=int(table["reachable"].sum()),
        unreachable=[str(n) for n in table.loc[~table["reachable"], "name"]],
        median_time_min=round(float(np.median(times)), 1) if times.size else None,
        max_time_min=round(float(times.max()), 1) if times.size else None)


def site_row(row: Any) -> Site:
    time = float(row.nearest_facility_time_min)
    return Site(
        rank=int(row.rank), kind=str(row.kind), lon=round(float(row.geometry.x), 6),
        lat=round(float(row.geometry.y), 6), added_population=round(float(row.added_population), 1),
        weighted_gain=round(float(row.weighted_gain), 3),
        cumulative_share=round(float(row.cumulative_share), 6),
        nearest_facility=None if pd.isna(row.nearest_facility) else str(row.nearest_facility),
        nearest_facility_time_min=round(time, 1) if np.isfinite(time) else None)
