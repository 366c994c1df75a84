"""The roads of the demo district: town grid, planned roads, streets and tracks.

Roads are added to the :class:`~accessmap.demo.network.Network` of a
:class:`~accessmap.demo.settlements.District` in a fixed order, each drawing
from the district's random generator, so the order of the calls matters.
:func:`check_network` checks the invariants the demo promises.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from shapely.geometry import LineString, Point

from accessmap.demo.geometry import WIDTH_KM, wiggle_leg, wiggle_through
from accessmap.demo.network import Network, Way, component_count, highway_ways
from accessmap.demo.settlements import TOWN_CENTRE, VILLAGE_PLAN, District
from accessmap.errors import AccessmapError

__all__ = [
    "HIGHWAY_CLASSES",
    "PRIMARY",
    "ROAD_PLAN",
    "add_field_tracks",
    "add_planned_roads",
    "add_spur",
    "add_town_grid",
    "add_village_streets",
    "check_network",
    "random_track_tags",
    "river_crossings",
]


HIGHWAY_CLASSES = (
    "primary",
    "secondary",
    "tertiary",
    "unclassified",
    "residential",
    "track",
    "path",
    "footway",
)

# Town street grid: columns x rows, spacing (km).
TOWN_COLUMNS, TOWN_ROWS, TOWN_SPACING = 11, 9, 0.3

TOWN_MAIN_ROW = 4  # the primary road runs along this row

TOWN_MAIN_COLUMN = 5  # the secondary road runs along this column

TOWN_ONEWAY_ROWS = (3, 5)

# Village streets by size: count, shortest and longest length (km).
VILLAGE_STREETS: dict[str, tuple[int, float, float]] = {
    "big": (4, 0.6, 1.1),
    "medium": (3, 0.45, 0.8),
    "small": (2, 0.3, 0.55),
}

MIN_STREET_GAP = math.radians(35.0)

FIELD_TRACK_COUNT = 12

BRIDGE_HALF_KM = 0.04

# Fixed way points of the road plan (km).
FIXED_POINTS: dict[str, tuple[float, float]] = {
    "edge_w": (0.0, 13.6),
    "edge_e": (WIDTH_KM, 17.5),
    "bend_e": (17.0, 15.0),
}

PRIMARY = {"highway": "primary", "ref": "P1", "name": "P1 District Road", "surface": "asphalt"}

SECONDARY_PAVED = {"highway": "secondary", "ref": "S12", "surface": "asphalt"}

SECONDARY = {"highway": "secondary", "ref": "S13", "surface": "unpaved"}

TERTIARY = {"highway": "tertiary", "surface": "unpaved"}

UNCLASSIFIED = {"highway": "unclassified"}

TRACK = {"highway": "track"}

PATH = {"highway": "path"}

ROAD_BRIDGE = {"bridge": "yes", "layer": "1"}

FOOTBRIDGE = {"highway": "footway", "bridge": "yes", "layer": "1"}

# Road plan: way points (keys), tags, bridge tags (None: must not cross the river).
ROAD_PLAN: tuple[tuple[tuple[str, ...], dict[str, str], dict[str, str] | None], ...] = (
    (("edge_w", "v10", "town_w"), PRIMARY, None),
    (("town_e", "bend_e", "v14", "edge_e"), PRIMARY, ROAD_BRIDGE),
    (("town_n", "v02"), SECONDARY_PAVED, None),
    (("town_s", "v03"), SECONDARY, None),
    (("town_nw", "v01"), TERTIARY, None),
    (("town_se", "v07", "v15"), TERTIARY, ROAD_BRIDGE),
    (("v03", "v11"), TERTIARY, None),
    (("v14", "v17"), TERTIARY, None),
    (("v10", "v06"), UNCLASSIFIED, None),
    (("v01", "v09"), UNCLASSIFIED, None),
    (("town_ne", "v08"), UNCLASSIFIED, None),
    (("v11", "v12", "v13"), UNCLASSIFIED, None),
    (("v14", "v16"), UNCLASSIFIED, None),
    (("v15", "v14"), UNCLASSIFIED, None),
    (("v03", "v05"), TRACK, None),
    (("v05", "v04"), TRACK, None),
    (("v06", "v04"), TRACK, None),
    (("v13", "v19"), TRACK, None),
    (("v17", "v18"), TRACK, None),
    (("v16", "v20"), TRACK, None),
    (("v02", "v09"), TRACK, None),
    (("v20", "v02"), PATH, FOOTBRIDGE),
)


def add_town_grid(district: District) -> None:
    """Add the town street grid; the main row is the primary road through town."""
    net, rng = district.network, district.rng
    x0 = TOWN_CENTRE[0] - TOWN_SPACING * (TOWN_COLUMNS - 1) / 2
    y0 = TOWN_CENTRE[1] - TOWN_SPACING * (TOWN_ROWS - 1) / 2
    grid = np.empty((TOWN_COLUMNS, TOWN_ROWS), dtype=int)
    for i in range(TOWN_COLUMNS):
        for j in range(TOWN_ROWS):
            dx, dy = rng.normal(0.0, 0.02, 2) if j != TOWN_MAIN_ROW else (0.0, rng.normal(0, 0.01))
            grid[i, j] = net.add_node(x0 + i * TOWN_SPACING + dx, y0 + j * TOWN_SPACING + dy)
    town = district.settlement["town"].name
    for j in range(TOWN_ROWS):
        row = [int(n) for n in grid[:, j]]
        if j == TOWN_MAIN_ROW:
            net.add_way(row, {**PRIMARY, "maxspeed": "60"}, "main")
            continue
        tags = {"highway": "residential", "name": f"{town} Street {j + 1}"}
        if j in TOWN_ONEWAY_ROWS:
            tags["oneway"] = "yes"
            row = row if j < TOWN_MAIN_ROW else row[::-1]
        net.add_way(row, tags, "main")
    for i in range(TOWN_COLUMNS):
        column = [int(n) for n in grid[i, :]]
        if i == TOWN_MAIN_COLUMN:
            net.add_way(column, {**SECONDARY_PAVED, "name": f"{town} Avenue"}, "main")
        else:
            net.add_way(column, {"highway": "residential", "name": f"{town} Lane {i + 1}"}, "main")
    last_i, last_j, mid_j = TOWN_COLUMNS - 1, TOWN_ROWS - 1, TOWN_MAIN_ROW
    district.node_of.update(
        {
            "town": int(grid[TOWN_MAIN_COLUMN, mid_j]),
            "town_w": int(grid[0, mid_j]),
            "town_e": int(grid[last_i, mid_j]),
            "town_n": int(grid[TOWN_MAIN_COLUMN, last_j]),
            "town_s": int(grid[TOWN_MAIN_COLUMN, 0]),
            "town_nw": int(grid[0, last_j]),
            "town_ne": int(grid[last_i, last_j]),
            "town_se": int(grid[last_i, 0]),
        }
    )


def random_track_tags(rng: np.random.Generator) -> dict[str, str]:
    """Return ``highway=track`` tags with a random grade and (often) a surface."""
    tags = {"highway": "track", "tracktype": f"grade{int(rng.integers(3, 6))}"}
    surface = ("unpaved", "dirt", "")[int(rng.integers(0, 3))]
    if surface:
        tags["surface"] = surface
    return tags


def _way_tags(template: dict[str, str], rng: np.random.Generator) -> dict[str, str]:
    """Return the tags of a planned way (tracks get a random grade and surface)."""
    return random_track_tags(rng) if template.get("highway") == "track" else dict(template)


def _bridge_cut(coords: np.ndarray, river: LineString) -> tuple[np.ndarray, int, int]:
    """Replace the stretch of ``coords`` over the river by a straight bridge.

    Returns
    -------
    coords : numpy.ndarray
        The new polyline.
    first, last : int
        Indices of the bridge end nodes in the new polyline.
    """
    line = LineString(coords)
    crossing = line.intersection(river)
    if not isinstance(crossing, Point):
        raise AccessmapError("a planned bridge road must cross the river exactly once")
    at = line.project(crossing)
    run = np.concatenate(([0.0], np.cumsum(np.hypot(*np.diff(coords, axis=0).T))))
    before = coords[run < at - BRIDGE_HALF_KM]
    after = coords[run > at + BRIDGE_HALF_KM]
    ends = [
        np.asarray(line.interpolate(at + d).coords[0]) for d in (-BRIDGE_HALF_KM, BRIDGE_HALF_KM)
    ]
    new = np.vstack((before, ends, after))
    return new, len(before), len(before) + 1


def add_planned_roads(district: District) -> None:
    """Add the roads of :data:`ROAD_PLAN`, creating village centre nodes on the way."""
    net, rng = district.network, district.rng
    points = {s.key: (s.x, s.y) for s in district.settlements} | FIXED_POINTS
    for keys, template, bridge in ROAD_PLAN:
        pts = [net.point(district.node_of[k]) if k in district.node_of else points[k] for k in keys]
        coords, anchors = wiggle_through(pts, rng)
        tags = _way_tags(template, rng)
        cuts = [0, len(coords) - 1]
        if bridge is not None:
            coords, first, last = _bridge_cut(coords, district.river)
            anchors = [_nearest_index(coords, p) for p in pts]
            cuts = [0, first, last, len(coords) - 1]
        if not district.line_ok(coords, allow_river=bridge is not None):
            raise AccessmapError(f"planned road {'-'.join(keys)} crosses water; change the seed")
        known = {
            index: district.node_of[k]
            for k, index in zip(keys, anchors, strict=True)
            if k in district.node_of
        }
        ids = [known.get(i) or net.add_node(x, y) for i, (x, y) in enumerate(coords)]
        for key, index in zip(keys, anchors, strict=True):
            district.node_of.setdefault(key, ids[index])
        for k, (start, stop) in enumerate(itertools.pairwise(cuts)):
            piece_tags = tags
            if bridge is not None and k == 1:
                piece_tags = dict(bridge) if "highway" in bridge else {**tags, **bridge}
            net.add_way(ids[start : stop + 1], piece_tags, "main")


def _nearest_index(coords: np.ndarray, point: Sequence[float]) -> int:
    """Return the index of the vertex of ``coords`` nearest to ``point``."""
    return int(np.argmin(np.hypot(*(coords - np.asarray(point, dtype=float)).T)))


def add_spur(
    district: District,
    start: int,
    end: Sequence[float] | int,
    tags: dict[str, str],
    *,
    group: str = "main",
    spacing: float = 0.12,
    amp: float = 0.08,
) -> Way | None:
    """Add a wiggly way from node ``start`` to a point or node ``end`` if it is acceptable.

    Returns
    -------
    Way or None
        The new way, or None when it would cross water, leave the district or
        enter the farm zone (nothing is added then).
    """
    net = district.network
    target = net.point(end) if isinstance(end, int) else end
    coords = wiggle_leg(
        net.point(start), target, district.rng, spacing=spacing, amp_frac=amp, max_amp=0.15
    )
    if not district.line_ok(coords, group=group):
        return None
    ids = [start] + [net.add_node(x, y) for x, y in coords[1:-1]]
    ids.append(end if isinstance(end, int) else net.add_node(*coords[-1]))
    return net.add_way(ids, tags, group)


def _bearings_at(network: Network, node_id: int) -> list[float]:
    """Return the bearings (radians) of the way segments that leave ``node_id``."""
    x, y = network.point(node_id)
    result = []
    for way in network.ways:
        for i, n in enumerate(way.nodes):
            if n != node_id:
                continue
            for j in (i - 1, i + 1):
                if 0 <= j < len(way.nodes):
                    nx, ny = network.point(way.nodes[j])
                    result.append(math.atan2(ny - y, nx - x))
    return result


def _angle_gap(a: float, b: float) -> float:
    """Return the absolute difference of two bearings, in [0, pi]."""
    return abs((a - b + math.pi) % (2.0 * math.pi) - math.pi)


def add_village_streets(district: District) -> None:
    """Add residential streets radiating from each village centre (and a loop in big ones)."""
    rng = district.rng
    for key, (_, _, size) in VILLAGE_PLAN.items():
        count, low, high = VILLAGE_STREETS[size]
        centre = district.node_of[key]
        x, y = district.network.point(centre)
        taken = _bearings_at(district.network, centre)
        streets: list[tuple[float, Way]] = []
        for _ in range(50):
            if len(streets) == count:
                break
            angle, length = rng.uniform(0.0, 2.0 * math.pi), rng.uniform(low, high)
            if any(_angle_gap(angle, b) < MIN_STREET_GAP for b in taken):
                continue
            end = (x + length * math.cos(angle), y + length * math.sin(angle))
            way = add_spur(district, centre, end, {"highway": "residential"}, amp=0.1)
            if way is not None:
                taken.append(angle)
                streets.append((angle, way))
        if size == "big" and len(streets) >= 2:
            _add_village_loop(district, sorted(streets, key=lambda item: item[0]))


def _add_village_loop(district: District, streets: list[tuple[float, Way]]) -> None:
    """Join the two streets with the narrowest angle between them by a cross street."""
    pairs = list(zip(streets, streets[1:] + streets[:1], strict=True))
    (_, first), (_, second) = min(pairs, key=lambda pair: _angle_gap(pair[0][0], pair[1][0]))
    a = first.nodes[int(0.6 * (len(first.nodes) - 1))]
    b = second.nodes[int(0.6 * (len(second.nodes) - 1))]
    add_spur(district, a, b, {"highway": "residential"}, amp=0.1)


def _rural_nodes(district: District, min_town_km: float = 2.5) -> np.ndarray:
    """Return ids of main-network nodes farther than ``min_town_km`` from the town centre."""
    ids, xy = district.network.group_points("main")
    far = np.hypot(xy[:, 0] - TOWN_CENTRE[0], xy[:, 1] - TOWN_CENTRE[1]) > min_town_km
    return ids[far]


def add_field_tracks(district: District) -> None:
    """Add dead-end farm tracks leaving the rural network."""
    rng = district.rng
    added = 0
    while added < FIELD_TRACK_COUNT:
        nodes = _rural_nodes(district)
        start = int(nodes[rng.integers(0, len(nodes))])
        x, y = district.network.point(start)
        angle, length = rng.uniform(0.0, 2.0 * math.pi), rng.uniform(0.8, 1.8)
        end = (x + length * math.cos(angle), y + length * math.sin(angle))
        if add_spur(district, start, end, random_track_tags(rng), amp=0.06) is not None:
            added += 1


def river_crossings(district: District) -> list[Way]:
    """Return the highway ways that cross the river."""
    net = district.network
    return [w for w in highway_ways(net) if net.line(w).intersects(district.river)]


def check_network(district: District) -> None:
    """Check the invariants the demo promises (classes, bridges, two components)."""
    ways = highway_ways(district.network)
    missing = set(HIGHWAY_CLASSES) - {w.tags["highway"] for w in ways}
    crossing = river_crossings(district)
    if missing:
        raise AccessmapError(f"synthetic network lacks highway classes {sorted(missing)}")
    if any(w.tags.get("bridge") != "yes" for w in crossing) or len(crossing) != 3:
        raise AccessmapError("synthetic network must cross the river on exactly 3 bridges")
    if component_count(ways) != 2:
        raise AccessmapError("synthetic network must have exactly 2 connected components")
