"""The areas and points of the demo district: facilities, sub-districts, village areas.

Facilities are placed near (not on) the roads of their settlement;
sub-districts are the faces cut by the river and two wiggly lines; village
areas are Voronoi cells of the town and villages with a wealth quintile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from accessmap.demo.geometry import (
    HEIGHT_KM,
    WIDTH_KM,
    district_box_km,
    split_by_lines,
    wiggle_through,
)
from accessmap.demo.network import highway_ways
from accessmap.demo.settlements import TOWN_CENTRE, District, Settlement
from accessmap.errors import AccessmapError

__all__ = [
    "AMENITY_OF_TYPE",
    "FACILITY_PLAN",
    "LABEL_OF_TYPE",
    "make_groups",
    "make_subdistricts",
    "place_facilities",
]


# Facilities: (type, settlement key, capacity = clinical staff).
FACILITY_PLAN: tuple[tuple[str, str, int], ...] = (
    ("district_hospital", "town", 64),
    ("health_centre", "v01", 14),
    ("health_centre", "v02", 12),
    ("health_centre", "v03", 11),
    ("health_post", "v10", 3),
    ("health_post", "v14", 3),
    ("health_post", "v11", 2),
    ("pharmacy", "town", 2),
    ("pharmacy", "v02", 1),
)

FACILITY_ROAD_GAP_KM = 0.025

AMENITY_OF_TYPE = {
    "district_hospital": "hospital",
    "health_centre": "clinic",
    "health_post": "doctors",
    "pharmacy": "pharmacy",
}


LABEL_OF_TYPE = {
    "district_hospital": "District Hospital",
    "health_centre": "Health Centre",
    "health_post": "Health Post",
    "pharmacy": "Pharmacy",
}


def _off_road_point(
    district: District, base: Sequence[float], radius: tuple[float, float], roads: BaseGeometry
) -> tuple[float, float]:
    """Return a random point around ``base`` at least :data:`FACILITY_ROAD_GAP_KM` off roads."""
    rng = district.rng
    for _ in range(100):
        angle, r = rng.uniform(0.0, 2.0 * math.pi), rng.uniform(*radius)
        x, y = base[0] + r * math.cos(angle), base[1] + r * math.sin(angle)
        if roads.distance(Point(x, y)) >= FACILITY_ROAD_GAP_KM:
            return x, y
    raise AccessmapError("no off-road site for a synthetic facility; change the seed")


def place_facilities(district: District) -> list[dict[str, Any]]:
    """Return the facilities of :data:`FACILITY_PLAN` placed near (not on) roads."""
    net, places = district.network, district.settlement
    roads = shapely.union_all([net.line(w) for w in highway_ways(net)])
    town_blocks = iter([(0.15, 0.15), (-0.45, -0.15)])  # block centres off the main junction
    counters: dict[str, int] = {}
    facilities = []
    for kind, key, capacity in FACILITY_PLAN:
        place = places[key]
        cx, cy = net.point(district.node_of[key])
        if key == "town":
            dx, dy = next(town_blocks)
            x, y = _off_road_point(district, (cx + dx, cy + dy), (0.0, 0.04), roads)
        else:
            x, y = _off_road_point(district, (cx, cy), (0.06, 0.15), roads)
        prefix = "PH" if kind == "pharmacy" else "HF"
        counters[prefix] = counters.get(prefix, 0) + 1
        facilities.append(
            {
                "id": f"{prefix}{counters[prefix]:02d}",
                "name": f"{place.name} {LABEL_OF_TYPE[kind]}",
                "type": kind,
                "amenity": AMENITY_OF_TYPE[kind],
                "capacity": capacity,
                "settlement": place.name,
                "x": x,
                "y": y,
            }
        )
    return facilities


def _boundary_line(
    start: Sequence[float], end: Sequence[float], rng: np.random.Generator
) -> LineString:
    """Return a gently wiggly sub-district boundary from ``start`` to ``end`` (km)."""
    coords, _ = wiggle_through([start, end], rng, spacing=0.2, amp_frac=0.03, max_amp=0.6)
    return LineString(coords)


def make_subdistricts(district: District) -> list[tuple[str, str, Polygon]]:
    """Cut the district into four sub-districts along the river and two wiggly lines."""
    rng = district.rng
    across = _boundary_line((-1.0, 18.5 + rng.uniform(-0.5, 0.5)), (22.5, 18.5), rng)
    down = _boundary_line((13.0 + rng.uniform(-0.5, 0.5), -1.0), (13.3, 19.5), rng)
    faces = split_by_lines([district.river_full, across, down])
    if len(faces) != 4:
        raise AccessmapError(f"sub-district lines gave {len(faces)} faces, not 4; change the seed")
    references = (
        ("SD01", "Central", Point(TOWN_CENTRE)),
        ("SD02", "North-West", Point(3.0, 27.0)),
        ("SD03", "South-East", Point(20.0, 2.0)),
        ("SD04", "East Bank", Point(WIDTH_KM - 0.5, HEIGHT_KM - 0.5)),
    )
    result = []
    for code, name, point in references:
        face = next(f for f in faces if f.contains(point))
        result.append((code, name, face))
    return result


def make_groups(district: District) -> list[tuple[Settlement, int, Polygon]]:
    """Return village areas (Voronoi cells clipped to the district) with a wealth quintile.

    Wealth falls with distance from the town and across the river, plus noise;
    quintile 1 is the poorest, 5 the richest.
    """
    rng = district.rng
    places = [s for s in district.settlements if s.kind in ("town", "village")]
    points = shapely.MultiPoint([(s.x, s.y) for s in places])
    cells = shapely.get_parts(shapely.voronoi_polygons(points, extend_to=district_box_km()))
    scores = []
    for s in places:
        penalty = 5.0 if district.far_bank.contains(Point(s.x, s.y)) else 0.0
        distance = math.hypot(s.x - TOWN_CENTRE[0], s.y - TOWN_CENTRE[1])
        scores.append(math.inf if s.kind == "town" else -distance - penalty + rng.normal(0, 3.0))
    ranks = np.argsort(np.argsort(scores, kind="stable"), kind="stable")
    groups = []
    for s, rank in zip(places, ranks.tolist(), strict=True):
        cell = next(c for c in cells if c.contains(Point(s.x, s.y)))
        quintile = 1 + (rank * 5) // len(places)
        groups.append((s, int(quintile), cell.intersection(district_box_km())))
    return groups
