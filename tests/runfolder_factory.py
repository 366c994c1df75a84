"""A tiny, complete, hand-checkable run folder for the map, figure and report tests.

Grid: 4 x 4 cells of 0.01 degrees, west 44.00, north -12.00, one person per cell except
where noted.  Travel times (minutes; NaN = no route)::

    10   20   40   70
    15   35   65  130
    25   50  nan  200
    28   55   90  nan

Admin areas: ``West`` (columns 0-1) and ``East`` (columns 2-3).  Within 60 minutes:
West 8 of 8 people, East 1 of 8 (only the 40).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from shapely.geometry import LineString, Point, box

from accessmap import __version__
from accessmap.record import (
    FILES,
    RECORD_VERSION,
    RunRecord,
    Summary,
    Surface,
    write_run_folder,
)

XSS = "<script>alert(1)</script>"
TIMES = np.array([
    [10, 20, 40, 70],
    [15, 35, 65, 130],
    [25, 50, np.nan, 200],
    [28, 55, 90, np.nan],
], dtype=float)
TRANSFORM = Affine(0.01, 0, 44.0, 0, -0.01, -12.0)
#: Share of each area's people within 60 minutes: West all 8; East 40 only (1 of 8).
WITHIN_60 = {"West": 8 / 8, "East": 1 / 8}
THRESHOLDS = [30.0, 60.0, 120.0]
#: People per isochrone band polygon (layer and summary).
BAND_PEOPLE = [4.0, 9.0, 12.0]
#: The one underserved zone (layer row and summary ``largest``).
ZONE = {"rank": 1, "population": 4.0, "area_km2": 4.8, "mean_time_min": 147.5,
        "max_time_min": 200.0}


def _centre(row: int, col: int) -> Point:
    x, y = TRANSFORM * (col + 0.5, row + 0.5)
    return Point(x, y)


def summary(**extra: Any) -> dict[str, Any]:
    """A complete summary.json like the pipeline's (every key of the record schema)."""
    people = 16.0
    within = [float(np.count_nonzero(np.less_equal(TIMES, t))) for t in THRESHOLDS]
    data = {
        "title": "Test district & <friends>",
        "synthetic_data": True,
        "population_total": people,
        "coverage": [{"threshold_min": t, "population": w, "share": w / people}
                     for t, w in zip(THRESHOLDS, within, strict=True)],
        "coverage_with_new_sites": [{"threshold_min": t, "population": min(w + 3, people),
                                     "share": min(w + 3, people) / people}
                                    for t, w in zip(THRESHOLDS, within, strict=True)],
        "unreachable_population": 2.0,
        "unreachable_detail": {"off_network": 1.0, "no_route": 1.0, "total": 2.0},
        "facilities_used": 2,
        "facilities_unsnapped": [XSS],
        "facilities_dropped": [],
        "recommended_sites": [
            {"rank": 1, "kind": "satellite_clinic", "lon": 44.035, "lat": -12.015,
             "added_population": 3.0, "weighted_gain": 3.0, "cumulative_share": 0.75,
             "nearest_facility": XSS, "nearest_facility_time_min": 130.0},
            {"rank": 2, "kind": "mobile_unit_stop", "lon": 44.025, "lat": -12.035,
             "added_population": 1.0, "weighted_gain": 1.0, "cumulative_share": 0.8125,
             "nearest_facility": "Centre", "nearest_facility_time_min": 90.0},
        ],
        "siting_threshold_min": 60.0,
        "network": {"mode": "walk", "nodes": 10, "segments": 12, "components": 2,
                    "largest_component_nodes": 8, "length_km": 5.0, "crs": "EPSG:32738"},
        "network_components": {"components": 2, "largest_share_of_nodes": 0.8,
                               "population_on_pieces_without_facility": 1.0,
                               "facilities_on_minor_pieces": 0,
                               "no_route_on_pieces_without_facility": 1.0,
                               "no_route_on_one_way_dead_ends": 0.0,
                               "moved_to_reachable_road": 0.0},
        "run": {"accessmap_version": __version__, "record_version": RECORD_VERSION,
                "inputs": {"network": {"path": "roads.osm", "sha256": "ab" * 32}},
                "settings": {"title": "Test district & <friends>", "synthetic": True,
                             "analysis": {"mode": "walk", "thresholds_min": THRESHOLDS},
                             "siting": {"new_sites": 2}}},
        "timings_s": {"network": 0.1},
        "siting": {"model": "greedy", "objective": 4.0, "greedy_objective": 4.0, "gap": None,
                   "solver_status": "not run", "candidates": 2, "weighting": "population",
                   "threshold_min": 60.0, "notes": [], "coverage_target": None},
        "marginal_gain": [{"sites": n, "added_population": a, "cumulative_added": c,
                           "covered_population": 9.0 + c, "cumulative_share": (9.0 + c) / 16}
                          for n, a, c in ((1, 3.0, 3.0), (2, 1.0, 4.0))],
        "mobile_circuits": [],
        "mobile_unserved": [],
        "coverage_by_area": [],
        "coverage_by_group": [],
        "settlement_population": {"rural": people},
        "isochrone_bands": [{"threshold_min": t, "population": p}
                            for t, p in zip(THRESHOLDS, BAND_PEOPLE, strict=True)],
        "underserved_zones": {"threshold_min": 60.0, "zones": 1, "population": 4.0,
                              "largest": [ZONE]},
        "accessibility_2sfca": {"catchment_threshold_min": 60.0, "supply_unit": "capacity",
                                "mean_per_1000_people": 125.0,
                                "population_without_facility_in_catchment": 2.0},
        "equity": {"coverage_gaps": {}, "travel_time_inequality": {},
                   "underserved_threshold_min": 60.0, "rural_share_of_underserved": 1.0},
    }
    data.update(extra)
    return data


def layers() -> dict[str, gpd.GeoDataFrame]:
    """Every layer of the GeoPackage contract, tiny."""
    rows, cols = np.indices(TIMES.shape)
    points = [_centre(r, c) for r, c in zip(rows.ravel(), cols.ravel(), strict=True)]
    crs = "EPSG:4326"
    return {
        "facilities": gpd.GeoDataFrame(
            {"facility_id": [0, 1], "name": [XSS, "Centre de santé `${x}`"],
             "type": ["hospital", "health_post"], "capacity": [1.0, 1.0]},
            geometry=[_centre(0, 0), _centre(1, 1)], crs=crs),
        "demand_points": gpd.GeoDataFrame(
            {"population": np.ones(16), "time_min": TIMES.ravel(),
             "status": ["reached"] * 16}, geometry=points, crs=crs),
        "roads": gpd.GeoDataFrame(
            {"highway": ["primary"]},
            geometry=[LineString([(44.0, -12.005), (44.04, -12.035)])], crs=crs),
        "admin_areas": gpd.GeoDataFrame(
            {"area_name": ["West", "East"], "population": [8.0, 8.0],
             "share_60min": [WITHIN_60["West"], WITHIN_60["East"]]},
            geometry=[box(44.0, -12.04, 44.02, -12.0), box(44.02, -12.04, 44.04, -12.0)],
            crs=crs),
        "isochrone_bands": gpd.GeoDataFrame(
            {"threshold_min": THRESHOLDS, "population": BAND_PEOPLE},
            geometry=[box(44.0, -12.04, 44.01, -12.0), box(44.0, -12.04, 44.02, -12.0),
                      box(44.0, -12.04, 44.04, -12.0)], crs=crs),
        "underserved_zones": gpd.GeoDataFrame(
            {k: [v] for k, v in ZONE.items()},
            geometry=[box(44.03, -12.04, 44.04, -12.01)], crs=crs),
        "catchments": gpd.GeoDataFrame(
            {"facility_id": [0, 1], "name": [XSS, "Centre"], "population": [9.0, 5.0],
             "sfca_ratio_per_1000": [111.1, 200.0]},
            geometry=[box(44.0, -12.04, 44.01, -12.0), box(44.01, -12.04, 44.04, -12.0)],
            crs=crs),
        "recommended_sites": gpd.GeoDataFrame(
            {"rank": [1, 2], "kind": ["satellite_clinic", "mobile_unit_stop"],
             "added_population": [3.0, 1.0], "cumulative_share": [0.75, 0.8125],
             "nearest_facility": [XSS, "Centre"], "nearest_facility_time_min": [130.0, 90.0]},
            geometry=[Point(44.035, -12.015), Point(44.025, -12.035)], crs=crs),
        "mobile_routes": gpd.GeoDataFrame(
            {"unit": [1, 1], "day": [1, 2], "stops": [2, 1]},
            geometry=[LineString([(44.005, -12.005), (44.025, -12.035)]),
                      LineString([(44.005, -12.005), (44.035, -12.015)])], crs=crs),
    }


def record(*, omit: tuple[str, ...] = (), **summary_extra: Any) -> RunRecord:
    """The run record of the folder; ``omit`` names layers or files to leave out."""
    data = summary(**summary_extra)
    tables = {
        FILES.coverage: pd.DataFrame(data["coverage"]).assign(scenario="current"),
        FILES.marginal_gain: pd.DataFrame(data["marginal_gain"]),
    }
    return RunRecord(
        summary=Summary.from_dict(data),
        tables={name: table for name, table in tables.items() if name not in omit},
        layers={name: frame for name, frame in layers().items() if name not in omit},
        travel_time=None if FILES.travel_time in omit else Surface(  # +inf: people, no route
            np.where(np.isnan(TIMES), np.inf, TIMES).astype(np.float32), TRANSFORM, "EPSG:4326"),
    )


def make_run_folder(folder: Path, *, omit: tuple[str, ...] = (), **summary_extra: Any
                    ) -> Path:
    """Write the run folder with the pipeline's writer; ``omit`` names layers or files to
    leave out (``summary.json`` and ``layers.gpkg`` are removed after writing)."""
    write_run_folder(record(omit=omit, **summary_extra), folder, overwrite=True)
    for name in (FILES.summary, FILES.layers):
        if name in omit:
            (folder / name).unlink()
    return folder
