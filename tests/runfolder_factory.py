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

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from affine import Affine
from shapely.geometry import LineString, Point, box

from accessmap import __version__

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


def _centre(row: int, col: int) -> Point:
    x, y = TRANSFORM * (col + 0.5, row + 0.5)
    return Point(x, y)


def summary(**extra: Any) -> dict[str, Any]:
    """A summary.json like the pipeline's."""
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
        "recommended_sites": [
            {"rank": 1, "kind": "satellite_clinic", "lon": 44.035, "lat": -12.015,
             "added_population": 3.0},
            {"rank": 2, "kind": "mobile_unit_stop", "lon": 44.025, "lat": -12.035,
             "added_population": 1.0},
        ],
        "siting_threshold_min": 60.0,
        "network": {"mode": "walk", "nodes": 10, "segments": 12, "components": 2,
                    "largest_component_nodes": 8, "length_km": 5.0},
        "run": {"accessmap_version": __version__,
                "inputs": {"network": {"path": "roads.osm", "sha256": "ab" * 32}},
                "settings": {"mode": "walk", "thresholds_min": THRESHOLDS,
                             "title": "Test district & <friends>", "synthetic": True,
                             "new_sites": 2}},
        "timings_s": {"network": 0.1},
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
            {"threshold_min": THRESHOLDS, "population": [4.0, 9.0, 12.0]},
            geometry=[box(44.0, -12.04, 44.01, -12.0), box(44.0, -12.04, 44.02, -12.0),
                      box(44.0, -12.04, 44.04, -12.0)], crs=crs),
        "underserved_zones": gpd.GeoDataFrame(
            {"rank": [1], "population": [4.0], "area_km2": [4.8], "mean_time_min": [147.5],
             "max_time_min": [200.0]},
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


def write_travel_time(path: Path) -> None:
    """travel_time.tif: minutes, NaN nodata, the grid above."""
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1,
                       dtype="float32", crs="EPSG:4326", transform=TRANSFORM,
                       nodata=np.nan) as dst:
        dst.write(TIMES.astype(np.float32), 1)


def make_run_folder(folder: Path, *, omit: tuple[str, ...] = (), **summary_extra: Any
                    ) -> Path:
    """Write the run folder; ``omit`` names layers or files to leave out."""
    folder.mkdir(parents=True, exist_ok=True)
    if "summary.json" not in omit:
        (folder / "summary.json").write_text(json.dumps(summary(**summary_extra)),
                                             encoding="utf-8")
    if "layers.gpkg" not in omit:
        for name, frame in layers().items():
            if name not in omit:
                frame.to_file(folder / "layers.gpkg", layer=name, driver="GPKG",
                              engine="pyogrio")
    if "travel_time.tif" not in omit:
        write_travel_time(folder / "travel_time.tif")
    if "coverage.csv" not in omit:
        pd.DataFrame(summary()["coverage"]).assign(scenario="current").to_csv(
            folder / "coverage.csv", index=False)
    if "marginal_gain.csv" not in omit:
        pd.DataFrame({"sites": [1, 2], "added_population": [3.0, 1.0],
                      "cumulative_added": [3.0, 4.0], "covered_population": [12.0, 13.0],
                      "cumulative_share": [12 / 16, 13 / 16]}).to_csv(
            folder / "marginal_gain.csv", index=False)
    return folder
