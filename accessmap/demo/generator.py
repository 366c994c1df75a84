"""Deterministic generator of the embedded synthetic demo district.

The district is fictional ("Synthetic district (not a real place)"): about
30 x 30 km of rural land near lon 33.0, lat -13.8 with a market town, twenty
villages, hamlets, a river with few bridges and a small road cluster that is
not connected to the rest.  It is written in the real formats the pipeline
reads:

* ``network.osm``: OSM XML 0.6 with shared junction nodes and OSM tags,
* ``population.tif``: WorldPop-like GeoTIFF (EPSG:4326, 3 arc-second cells,
  float32, nodata -99999, deflate),
* ``facilities.geojson``, ``subdistricts.geojson``, ``groups.geojson``,
* ``README.md`` with totals and the licence.

Everything is a pure function of the seed: two runs give byte-identical files.
Geometry is built in a local kilometre frame (x east, y north from the
south-west corner) and converted to lon/lat only when written.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import rasterio
import shapely
from pyproj import Geod
from rasterio.features import rasterize
from rasterio.transform import from_origin
from scipy.ndimage import distance_transform_edt, gaussian_filter
from shapely.geometry import LineString, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from accessmap.errors import AccessmapError, OutputError

logger = logging.getLogger(__name__)


DEFAULT_SEED = 20261122


"""Seed of the committed demo data in ``data/demo``."""


DISTRICT_NAME = "Synthetic district (not a real place)"


GENERATOR = "accessmap synthetic demo (not real data)"


LICENCE = "CC0 1.0 (public domain dedication); the data are generated, not surveyed"


# District bounding box (degrees); each edge lies on the 3 arc-second grid.
LON_MIN, LAT_MIN, LON_MAX, LAT_MAX = 33.0, -13.8, 33.28, -13.53


CELL_DEG = 1.0 / 1200.0


BORDER_CELLS = 4


NODATA = -99999.0


KM_PER_DEG_LAT = 110.6


KM_PER_DEG_LON = 111.32 * math.cos(math.radians((LAT_MIN + LAT_MAX) / 2.0))


WIDTH_KM = (LON_MAX - LON_MIN) * KM_PER_DEG_LON


HEIGHT_KM = (LAT_MAX - LAT_MIN) * KM_PER_DEG_LAT


TOTAL_POPULATION = 150_000.0


TOWN_POPULATION = 38_000.0


FARM_POPULATION = 320.0


VILLAGE_SIZES: dict[str, tuple[float, float]] = {
    "big": (7_000.0, 9_000.0),
    "medium": (3_500.0, 5_500.0),
    "small": (1_500.0, 2_500.0),
}


HAMLET_COUNT = 30


HAMLET_PATH_KM = 1.6  # hamlets closer than this to the network get a path or footway


# Village streets by size: count, shortest and longest length (km).
VILLAGE_STREETS: dict[str, tuple[int, float, float]] = {
    "big": (4, 0.6, 1.1),
    "medium": (3, 0.45, 0.8),
    "small": (2, 0.3, 0.55),
}


MIN_STREET_GAP = math.radians(35.0)


FIELD_TRACK_COUNT = 12


BRIDGE_HALF_KM = 0.04


GEOJSON_DECIMALS = 6


FILE_NAMES: dict[str, str] = {
    "network": "network.osm",
    "population": "population.tif",
    "facilities": "facilities.geojson",
    "boundaries": "subdistricts.geojson",
    "groups": "groups.geojson",
    "readme": "README.md",
}


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


# Town street grid: centre (km), columns x rows, spacing (km).
TOWN_CENTRE = (10.5, 14.5)


TOWN_COLUMNS, TOWN_ROWS, TOWN_SPACING = 11, 9, 0.3


TOWN_MAIN_ROW = 4  # the primary road runs along this row


TOWN_MAIN_COLUMN = 5  # the secondary road runs along this column


TOWN_ONEWAY_ROWS = (3, 5)


# Villages: key -> (x km, y km, size class); positions are jittered by the seed.
VILLAGE_PLAN: dict[str, tuple[float, float, str]] = {
    "v01": (4.0, 20.0, "big"),
    "v02": (12.5, 24.5, "big"),
    "v03": (10.0, 7.0, "big"),
    "v04": (2.5, 2.5, "small"),
    "v05": (5.5, 1.5, "small"),
    "v06": (1.8, 8.5, "medium"),
    "v07": (15.5, 9.5, "medium"),
    "v08": (16.0, 19.5, "medium"),
    "v09": (7.5, 27.5, "small"),
    "v10": (2.5, 13.8, "medium"),
    "v11": (14.0, 3.0, "medium"),
    "v12": (19.5, 4.5, "small"),
    "v13": (23.0, 5.5, "small"),
    "v14": (23.8, 16.8, "big"),
    "v15": (27.5, 12.0, "medium"),
    "v16": (21.8, 23.0, "medium"),
    "v17": (26.5, 20.5, "medium"),
    "v18": (25.0, 27.5, "small"),
    "v19": (27.5, 2.5, "small"),
    "v20": (20.3, 27.8, "small"),
}


VILLAGE_JITTER_KM = 0.5


# Fixed way points of the road plan (km).
FIXED_POINTS: dict[str, tuple[float, float]] = {
    "edge_w": (0.0, 13.6),
    "edge_e": (WIDTH_KM, 17.5),
    "bend_e": (17.0, 15.0),
}


RIVER_PLAN = (
    (17.0, HEIGHT_KM + 0.8),
    (17.6, 27.0),
    (18.5, 24.0),
    (20.3, 19.5),
    (21.0, 16.0),
    (22.5, 12.2),
    (25.5, 9.0),
    (28.0, 7.8),
    (WIDTH_KM + 0.8, 7.0),
)


LAKE_CENTRE, LAKE_RADIUS_KM = (7.0, 22.5), 0.7


FARM_CENTRE = (28.6, 28.2)


FARM_EXCLUSION_KM = 1.2


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


_SYLLABLES = (
    "ka", "li", "mbe", "nda", "chi", "wa", "zo", "mu", "ngo", "ta", "la", "si",
    "ma", "ku", "nje", "pa", "ye", "lo", "tu", "be", "ga", "mi", "do", "re",
)  # fmt: skip


def to_lonlat(xy: np.ndarray) -> np.ndarray:
    """Convert local kilometre coordinates to lon/lat degrees.

    Parameters
    ----------
    xy : numpy.ndarray
        Array of shape (n, 2) with x (east) and y (north) in km from the
        south-west corner of the district.

    Returns
    -------
    numpy.ndarray
        Array of shape (n, 2) with longitude and latitude.
    """
    xy = np.asarray(xy, dtype=float)
    return np.column_stack(
        (LON_MIN + xy[:, 0] / KM_PER_DEG_LON, LAT_MIN + xy[:, 1] / KM_PER_DEG_LAT)
    )


def geometry_to_lonlat(geom: BaseGeometry) -> BaseGeometry:
    """Return ``geom`` (local km) in lon/lat degrees."""
    return shapely.transform(geom, to_lonlat)


def district_box_km() -> Polygon:
    """Return the district rectangle in local km."""
    return box(0.0, 0.0, WIDTH_KM, HEIGHT_KM)


def wiggle_leg(
    a: Sequence[float],
    b: Sequence[float],
    rng: np.random.Generator,
    *,
    spacing: float = 0.15,
    amp_frac: float = 0.04,
    max_amp: float = 0.35,
    jitter: float = 0.008,
) -> np.ndarray:
    """Return a gently wiggly polyline from ``a`` to ``b`` (both kept exactly).

    Parameters
    ----------
    a, b : sequence of float
        End points in km.
    rng : numpy.random.Generator
        Source of randomness.
    spacing : float
        Approximate distance between intermediate nodes (km).
    amp_frac, max_amp : float
        Lateral amplitude as a fraction of the length, and its cap (km).
    jitter : float
        Standard deviation of per-node noise (km).

    Returns
    -------
    numpy.ndarray
        Array of shape (n, 2), n >= 2.
    """
    start, end = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    delta = end - start
    length = float(np.hypot(*delta))
    count = max(1, math.ceil(length / spacing))
    t = np.linspace(0.0, 1.0, count + 1)
    amplitude = min(max_amp, amp_frac * length)
    offset = np.zeros_like(t)
    for k in (1, 2, 3):
        offset += rng.normal(0.0, amplitude / k) * np.sin(k * math.pi * t)
    normal = np.array([-delta[1], delta[0]]) / max(length, 1e-12)
    noise = rng.normal(0.0, jitter, (count + 1, 2))
    noise[[0, -1]] = 0.0
    return start + np.outer(t, delta) + np.outer(offset, normal) + noise


def wiggle_through(
    points: Sequence[Sequence[float]], rng: np.random.Generator, **kwargs: float
) -> tuple[np.ndarray, list[int]]:
    """Join ``points`` with wiggly legs.

    Returns
    -------
    coords : numpy.ndarray
        The polyline, shape (n, 2).
    anchors : list of int
        Index in ``coords`` of each input point.
    """
    parts = [np.asarray(points[0], dtype=float)[None, :]]
    anchors = [0]
    for a, b in itertools.pairwise(points):
        leg = wiggle_leg(a, b, rng, **kwargs)
        parts.append(leg[1:])
        anchors.append(anchors[-1] + len(leg) - 1)
    return np.vstack(parts), anchors


def irregular_ring(
    centre: Sequence[float], radius: float, rng: np.random.Generator, vertices: int = 24
) -> Polygon:
    """Return a blob-shaped polygon around ``centre``."""
    theta = np.linspace(0.0, 2.0 * math.pi, vertices, endpoint=False)
    phase = rng.uniform(0.0, 2.0 * math.pi, 2)
    r = radius * (1.0 + 0.15 * np.sin(2 * theta + phase[0]) + 0.1 * np.sin(3 * theta + phase[1]))
    return Polygon(np.column_stack((centre[0] + r * np.cos(theta), centre[1] + r * np.sin(theta))))


@dataclass
class Way:
    """An OSM way: node ids, tags and the noding group it belongs to."""

    nodes: list[int]
    tags: dict[str, str]
    group: str


@dataclass
class Network:
    """Nodes and ways in local km; crossings within a group become shared nodes."""

    xy: list[tuple[float, float]] = field(default_factory=list)
    ways: list[Way] = field(default_factory=list)
    node_tags: dict[int, dict[str, str]] = field(default_factory=dict)

    def add_node(self, x: float, y: float, tags: dict[str, str] | None = None) -> int:
        """Add a node and return its (positive, 1-based) id."""
        self.xy.append((float(x), float(y)))
        node_id = len(self.xy)
        if tags:
            self.node_tags[node_id] = tags
        return node_id

    def point(self, node_id: int) -> tuple[float, float]:
        """Return the km coordinates of a node."""
        return self.xy[node_id - 1]

    def line(self, way: Way) -> LineString:
        """Return the geometry of ``way`` in km."""
        return LineString([self.point(n) for n in way.nodes])

    def group_nodes(self, group: str) -> list[int]:
        """Return the sorted ids of nodes used by highway ways of ``group``."""
        used = {n for w in self.ways if w.group == group and "highway" in w.tags for n in w.nodes}
        return sorted(used)

    def add_way(self, nodes: list[int], tags: dict[str, str], group: str) -> Way:
        """Add a way, inserting shared nodes where it crosses ways of its group."""
        way = Way(self._node_crossings(nodes, group), dict(tags), group)
        self.ways.append(way)
        return way

    def _segments(self, group: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return start ids, end ids, way index and position of every segment of ``group``."""
        starts: list[int] = []
        ends: list[int] = []
        owner: list[int] = []
        position: list[int] = []
        for index, way in enumerate(self.ways):
            if way.group != group:
                continue
            count = len(way.nodes) - 1
            starts.extend(way.nodes[:-1])
            ends.extend(way.nodes[1:])
            owner.extend([index] * count)
            position.extend(range(count))
        return np.array(starts), np.array(ends), np.array(owner), np.array(position)

    def _node_crossings(self, nodes: list[int], group: str) -> list[int]:
        """Insert a shared node at each proper crossing of ``nodes`` with ``group``."""
        starts, ends, owner, position = self._segments(group)
        if starts.size == 0:
            return list(nodes)
        xy = np.asarray(self.xy)
        new = np.asarray(nodes)
        p, r = xy[new[:-1] - 1][:, None, :], (xy[new[1:] - 1] - xy[new[:-1] - 1])[:, None, :]
        q, s = xy[starts - 1][None, :, :], (xy[ends - 1] - xy[starts - 1])[None, :, :]
        denom = r[..., 0] * s[..., 1] - r[..., 1] * s[..., 0]
        qp = q - p
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (qp[..., 0] * s[..., 1] - qp[..., 1] * s[..., 0]) / denom
            u = (qp[..., 0] * r[..., 1] - qp[..., 1] * r[..., 0]) / denom
        shared = np.zeros(denom.shape, dtype=bool)
        for ids in (new[:-1, None], new[1:, None]):
            shared |= (ids == starts[None, :]) | (ids == ends[None, :])
        eps = 1e-9
        hit = (np.abs(denom) > 1e-12) & (t > eps) & (t < 1 - eps) & (u > eps) & (u < 1 - eps)
        hit &= ~shared
        seg_new, seg_old = np.nonzero(hit)
        if seg_new.size == 0:
            return list(nodes)
        inserts_old: dict[int, list[tuple[int, float, int]]] = {}
        inserts_new: dict[int, list[tuple[float, int]]] = {}
        for i, j in zip(seg_new.tolist(), seg_old.tolist(), strict=True):
            where = p[i, 0] + t[i, j] * r[i, 0]
            node_id = self.add_node(where[0], where[1])
            inserts_old.setdefault(int(owner[j]), []).append(
                (int(position[j]), float(u[i, j]), node_id)
            )
            inserts_new.setdefault(i, []).append((float(t[i, j]), node_id))
        for way_index, items in inserts_old.items():
            way_nodes = self.ways[way_index].nodes
            for pos, _, node_id in sorted(items, reverse=True):
                way_nodes.insert(pos + 1, node_id)
        result: list[int] = []
        for i, node_id in enumerate(nodes[:-1]):
            result.append(node_id)
            result.extend(n for _, n in sorted(inserts_new.get(i, [])))
        result.append(nodes[-1])
        return result


@dataclass(frozen=True)
class Settlement:
    """A populated place (town, village, hamlet or farm) in local km."""

    key: str
    name: str
    kind: str
    x: float
    y: float
    population: float


def invent_names(rng: np.random.Generator, count: int) -> list[str]:
    """Return ``count`` distinct invented place names."""
    names: list[str] = []
    while len(names) < count:
        parts = rng.choice(np.array(_SYLLABLES), int(rng.integers(2, 4)))
        name = "".join(str(p) for p in parts).capitalize()
        if name not in names:
            names.append(name)
    return names


def plan_settlements(rng: np.random.Generator) -> list[Settlement]:
    """Return the town followed by the villages of :data:`VILLAGE_PLAN`."""
    names = invent_names(rng, len(VILLAGE_PLAN) + 1)
    town = Settlement("town", names[0], "town", *TOWN_CENTRE, TOWN_POPULATION)
    villages = []
    for (key, (x, y, size)), name in zip(VILLAGE_PLAN.items(), names[1:], strict=True):
        dx, dy = rng.uniform(-VILLAGE_JITTER_KM, VILLAGE_JITTER_KM, 2)
        low, high = VILLAGE_SIZES[size]
        population = float(round(rng.uniform(low, high), -1))
        villages.append(Settlement(key, name, "village", x + dx, y + dy, population))
    return [town, *villages]


@dataclass
class District:
    """Everything the writers need, in local km."""

    seed: int
    rng: np.random.Generator
    settlements: list[Settlement]
    river: LineString
    river_full: LineString
    far_bank: Polygon
    lake: Polygon
    farm_zone: Polygon
    network: Network = field(default_factory=Network)
    node_of: dict[str, int] = field(default_factory=dict)
    hamlets: list[Settlement] = field(default_factory=list)
    facilities: list[dict[str, Any]] = field(default_factory=list)
    subdistricts: list[tuple[str, str, Polygon]] = field(default_factory=list)
    groups: list[tuple[Settlement, int, Polygon]] = field(default_factory=list)
    population: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    @property
    def settlement(self) -> dict[str, Settlement]:
        """Settlements by key."""
        return {s.key: s for s in self.settlements}

    def line_ok(
        self, coords: np.ndarray, *, group: str = "main", allow_river: bool = False
    ) -> bool:
        """Whether a candidate way stays inside, off the water and off the farm zone."""
        line = LineString(coords)
        if not district_box_km().buffer(1e-9).covers(line):
            return False
        if line.intersects(self.lake) or (not allow_river and line.intersects(self.river)):
            return False
        return group == "farm" or not line.intersects(self.farm_zone)


def build_river(rng: np.random.Generator) -> tuple[LineString, LineString]:
    """Return the river clipped to the district and the full (extended) river."""
    coords, _ = wiggle_through(RIVER_PLAN, rng, spacing=0.1, amp_frac=0.06, max_amp=0.3)
    full = LineString(coords)
    clipped = full.intersection(district_box_km())
    if not isinstance(clipped, LineString):
        raise AccessmapError("synthetic river leaves the district more than once; change the seed")
    return clipped, full


def split_by_lines(lines: Iterable[BaseGeometry]) -> list[Polygon]:
    """Return the faces of the district cut by ``lines`` (extending past it is fine)."""
    noded = shapely.union_all([district_box_km().boundary, *lines])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    return [face for face in faces if face.area > 1e-9]


def make_district(seed: int) -> District:
    """Build the whole synthetic district for ``seed``."""
    rng = np.random.default_rng(seed)
    settlements = plan_settlements(rng)
    river, river_full = build_river(rng)
    banks = split_by_lines([river_full])
    corner = Point(WIDTH_KM - 0.01, HEIGHT_KM - 0.01)
    far_bank = next(face for face in banks if face.contains(corner))
    district = District(
        seed=seed,
        rng=rng,
        settlements=settlements,
        river=river,
        river_full=river_full,
        far_bank=far_bank,
        lake=irregular_ring(LAKE_CENTRE, LAKE_RADIUS_KM, rng),
        farm_zone=Point(FARM_CENTRE).buffer(FARM_EXCLUSION_KM),
    )
    add_town_grid(district)
    add_planned_roads(district)
    add_village_streets(district)
    add_field_tracks(district)
    add_hamlets(district)
    add_farm_cluster(district)
    add_water(district)
    add_place_nodes(district)
    check_network(district)
    district.facilities = place_facilities(district)
    district.subdistricts = make_subdistricts(district)
    district.groups = make_groups(district)
    district.population = make_population(district)
    return district


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


def way_tags(template: dict[str, str], rng: np.random.Generator) -> dict[str, str]:
    """Return the tags of a planned way (tracks get a random grade and surface)."""
    return random_track_tags(rng) if template.get("highway") == "track" else dict(template)


def bridge_cut(coords: np.ndarray, river: LineString) -> tuple[np.ndarray, int, int]:
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
        tags = way_tags(template, rng)
        cuts = [0, len(coords) - 1]
        if bridge is not None:
            coords, first, last = bridge_cut(coords, district.river)
            anchors = [nearest_index(coords, p) for p in pts]
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


def nearest_index(coords: np.ndarray, point: Sequence[float]) -> int:
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


def bearings_at(network: Network, node_id: int) -> list[float]:
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


def angle_gap(a: float, b: float) -> float:
    """Return the absolute difference of two bearings, in [0, pi]."""
    return abs((a - b + math.pi) % (2.0 * math.pi) - math.pi)


def add_village_streets(district: District) -> None:
    """Add residential streets radiating from each village centre (and a loop in big ones)."""
    rng = district.rng
    for key, (_, _, size) in VILLAGE_PLAN.items():
        count, low, high = VILLAGE_STREETS[size]
        centre = district.node_of[key]
        x, y = district.network.point(centre)
        taken = bearings_at(district.network, centre)
        streets: list[tuple[float, Way]] = []
        for _ in range(50):
            if len(streets) == count:
                break
            angle, length = rng.uniform(0.0, 2.0 * math.pi), rng.uniform(low, high)
            if any(angle_gap(angle, b) < MIN_STREET_GAP for b in taken):
                continue
            end = (x + length * math.cos(angle), y + length * math.sin(angle))
            way = add_spur(district, centre, end, {"highway": "residential"}, amp=0.1)
            if way is not None:
                taken.append(angle)
                streets.append((angle, way))
        if size == "big" and len(streets) >= 2:
            add_village_loop(district, sorted(streets, key=lambda item: item[0]))


def add_village_loop(district: District, streets: list[tuple[float, Way]]) -> None:
    """Join the two streets with the narrowest angle between them by a cross street."""
    pairs = list(zip(streets, streets[1:] + streets[:1], strict=True))
    (_, first), (_, second) = min(pairs, key=lambda pair: angle_gap(pair[0][0], pair[1][0]))
    a = first.nodes[int(0.6 * (len(first.nodes) - 1))]
    b = second.nodes[int(0.6 * (len(second.nodes) - 1))]
    add_spur(district, a, b, {"highway": "residential"}, amp=0.1)


def rural_nodes(district: District, min_town_km: float = 2.5) -> np.ndarray:
    """Return ids of main-network nodes farther than ``min_town_km`` from the town centre."""
    ids = np.array(district.network.group_nodes("main"))
    xy = np.asarray([district.network.point(int(n)) for n in ids])
    far = np.hypot(xy[:, 0] - TOWN_CENTRE[0], xy[:, 1] - TOWN_CENTRE[1]) > min_town_km
    return ids[far]


def add_field_tracks(district: District) -> None:
    """Add dead-end farm tracks leaving the rural network."""
    rng = district.rng
    added = 0
    while added < FIELD_TRACK_COUNT:
        nodes = rural_nodes(district)
        start = int(nodes[rng.integers(0, len(nodes))])
        x, y = district.network.point(start)
        angle, length = rng.uniform(0.0, 2.0 * math.pi), rng.uniform(0.8, 1.8)
        end = (x + length * math.cos(angle), y + length * math.sin(angle))
        if add_spur(district, start, end, random_track_tags(rng), amp=0.06) is not None:
            added += 1


def hamlet_site_ok(district: District, x: float, y: float, taken: list[Settlement]) -> bool:
    """Whether a hamlet may be placed at (x, y)."""
    point = Point(x, y)
    near = [(s, 1.2) for s in district.settlements if s.kind == "village"]
    near += [(s, 3.0) for s in district.settlements if s.kind == "town"]
    near += [(s, 0.8) for s in taken]
    return (
        all(math.hypot(s.x - x, s.y - y) > gap for s, gap in near)
        and point.distance(district.lake) > 0.5
        and point.distance(district.river) > 0.4
        and point.distance(district.farm_zone) > 0.3
    )


def connect_hamlet(district: District, x: float, y: float) -> int | None:
    """Link a hamlet at (x, y) to a nearby network node by path, footway or track."""
    rng = district.rng
    ids = np.array(district.network.group_nodes("main"))
    xy = np.asarray([district.network.point(int(n)) for n in ids])
    distance = np.hypot(xy[:, 0] - x, xy[:, 1] - y)
    for index in np.argsort(distance, kind="stable")[:10]:
        if distance[index] > HAMLET_PATH_KM:
            tags = random_track_tags(rng)
        else:
            tags = {"highway": ("path", "footway")[int(rng.integers(0, 2))]}
        way = add_spur(district, int(ids[index]), (x, y), tags, spacing=0.1, amp=0.06)
        if way is not None:
            return way.nodes[-1]
    return None


def add_hamlets(district: District) -> None:
    """Scatter hamlets over the countryside and link them by paths and tracks."""
    rng = district.rng
    taken = {s.name for s in district.settlements}
    names = [n for n in invent_names(rng, len(taken) + HAMLET_COUNT) if n not in taken]
    for _ in range(10_000):
        if len(district.hamlets) == HAMLET_COUNT:
            break
        x, y = rng.uniform(0.5, WIDTH_KM - 0.5), rng.uniform(0.5, HEIGHT_KM - 0.5)
        if not hamlet_site_ok(district, x, y, district.hamlets):
            continue
        end = connect_hamlet(district, x, y)
        if end is None:
            continue
        hx, hy = district.network.point(end)
        index = len(district.hamlets)
        population = float(round(rng.uniform(40.0, 250.0)))
        district.hamlets.append(
            Settlement(f"h{index + 1:02d}", names[index], "hamlet", hx, hy, population)
        )
        district.node_of[f"h{index + 1:02d}"] = end


def add_farm_cluster(district: District) -> None:
    """Add a small farm estate whose roads are not connected to the rest."""
    net, rng = district.network, district.rng
    centre = net.add_node(*FARM_CENTRE)
    name = invent_names(rng, 1)[0] + " Estate"
    lane = {"highway": "unclassified", "name": f"{name} Lane"}
    angles = rng.uniform(0.0, 2.0 * math.pi) + np.array([0.0, 1.6, 3.3, 4.7])
    for k, angle in enumerate(angles):
        length = rng.uniform(0.4, 0.7)
        end = (FARM_CENTRE[0] + length * math.cos(angle), FARM_CENTRE[1] + length * math.sin(angle))
        tags = lane if k == 0 else random_track_tags(rng)
        if add_spur(district, centre, end, tags, group="farm", amp=0.05) is None:
            raise AccessmapError("synthetic farm cluster does not fit; change the seed")
    district.node_of["farm"] = centre
    district.settlements.append(Settlement("farm", name, "farm", *FARM_CENTRE, FARM_POPULATION))


def add_water(district: District) -> None:
    """Add the river and the lake as (non-routable) OSM ways."""
    net = district.network
    river_ids = [net.add_node(x, y) for x, y in district.river.coords]
    net.ways.append(Way(river_ids, {"waterway": "river", "name": "Synthetic River"}, "water"))
    ring = list(district.lake.exterior.coords)[:-1]
    lake_ids = [net.add_node(x, y) for x, y in ring]
    net.ways.append(Way([*lake_ids, lake_ids[0]], {"natural": "water", "water": "lake"}, "water"))


def add_place_nodes(district: District) -> None:
    """Add OSM ``place=*`` nodes for the town, villages, hamlets and the farm."""
    place_of_kind = {"town": "town", "village": "village", "hamlet": "hamlet", "farm": "farm"}
    for s in [*district.settlements, *district.hamlets]:
        tags = {"place": place_of_kind[s.kind], "name": s.name}
        if s.kind in ("town", "village"):
            tags["population"] = str(int(s.population))
        district.network.add_node(s.x + 0.02, s.y + 0.02, tags)


def highway_ways(network: Network) -> list[Way]:
    """Return the ways tagged ``highway=*``."""
    return [w for w in network.ways if "highway" in w.tags]


def component_count(ways: Sequence[Way]) -> int:
    """Return the number of connected components formed by ``ways``."""
    parent: dict[int, int] = {}

    def find(n: int) -> int:
        while parent.setdefault(n, n) != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for way in ways:
        root = find(way.nodes[0])
        for n in way.nodes[1:]:
            parent[find(n)] = root
    return len({find(n) for n in parent})


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


def off_road_point(
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
            x, y = off_road_point(district, (cx + dx, cy + dy), (0.0, 0.04), roads)
        else:
            x, y = off_road_point(district, (cx, cy), (0.06, 0.15), roads)
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


def make_subdistricts(district: District) -> list[tuple[str, str, Polygon]]:
    """Cut the district into four sub-districts along the river and two wiggly lines."""
    rng = district.rng
    across, _ = wiggle_through(
        [(-1.0, 18.5 + rng.uniform(-0.5, 0.5)), (22.5, 18.5)],
        rng,
        spacing=0.2,
        amp_frac=0.03,
        max_amp=0.6,
    )
    down, _ = wiggle_through(
        [(13.0 + rng.uniform(-0.5, 0.5), -1.0), (13.3, 19.5)],
        rng,
        spacing=0.2,
        amp_frac=0.03,
        max_amp=0.6,
    )
    faces = split_by_lines([district.river_full, LineString(across), LineString(down)])
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


def raster_shape() -> tuple[int, int, int, int]:
    """Return (rows, columns, district rows, district columns) of the population grid."""
    inner_rows = round((LAT_MAX - LAT_MIN) / CELL_DEG)
    inner_cols = round((LON_MAX - LON_MIN) / CELL_DEG)
    return inner_rows + 2 * BORDER_CELLS, inner_cols + 2 * BORDER_CELLS, inner_rows, inner_cols


def raster_transform() -> rasterio.Affine:
    """Return the affine transform of the population grid (with its nodata border)."""
    return from_origin(
        LON_MIN - BORDER_CELLS * CELL_DEG, LAT_MAX + BORDER_CELLS * CELL_DEG, CELL_DEG, CELL_DEG
    )


def burn(geoms: Sequence[BaseGeometry], all_touched: bool) -> np.ndarray:
    """Rasterise km geometries onto the population grid; returns a boolean mask."""
    rows, cols, _, _ = raster_shape()
    shapes = [(geometry_to_lonlat(g), 1) for g in geoms]
    burned = rasterize(
        shapes,
        out_shape=(rows, cols),
        transform=raster_transform(),
        fill=0,
        all_touched=all_touched,
        dtype="uint8",
    )
    return np.asarray(burned, dtype=bool)


def cell_centres_km() -> tuple[np.ndarray, np.ndarray]:
    """Return x and y (km) of every cell centre of the population grid."""
    rows, cols, _, _ = raster_shape()
    lon = LON_MIN + (np.arange(cols) + 0.5 - BORDER_CELLS) * CELL_DEG
    lat = LAT_MAX - (np.arange(rows) + 0.5 - BORDER_CELLS) * CELL_DEG
    x = (lon - LON_MIN) * KM_PER_DEG_LON
    y = (lat - LAT_MIN) * KM_PER_DEG_LAT
    return np.meshgrid(x, y)


def valid_cells(district: District) -> np.ndarray:
    """Return the mask of cells with data: inside the district and off the water."""
    rows, cols, inner_rows, inner_cols = raster_shape()
    inside = np.zeros((rows, cols), dtype=bool)
    row_end, col_end = BORDER_CELLS + inner_rows, BORDER_CELLS + inner_cols
    inside[BORDER_CELLS:row_end, BORDER_CELLS:col_end] = True
    water = burn([district.river], all_touched=True) | burn([district.lake], all_touched=False)
    return np.asarray(inside & ~water, dtype=bool)


def blob(x: np.ndarray, y: np.ndarray, s: Settlement, sigma_x: float, sigma_y: float) -> np.ndarray:
    """Return an (unnormalised) Gaussian around settlement ``s``."""
    return np.exp(-0.5 * (((x - s.x) / sigma_x) ** 2 + ((y - s.y) / sigma_y) ** 2))


def settlement_weights(x: np.ndarray, y: np.ndarray, s: Settlement) -> np.ndarray:
    """Return the population shape of one settlement."""
    if s.kind == "town":
        return 0.8 * blob(x, y, s, 0.9, 0.75) + 0.2 * blob(x, y, s, 1.8, 1.6)
    if s.kind == "village":
        sigma = 0.2 + 0.25 * math.sqrt(s.population / 2000.0)
        return blob(x, y, s, sigma, sigma)
    return blob(x, y, s, 0.12, 0.12)


def scaled(weights: np.ndarray, valid: np.ndarray, total: float) -> np.ndarray:
    """Return ``weights`` zeroed outside ``valid`` and scaled to sum to ``total``."""
    weights = np.where(valid, weights, 0.0)
    return weights * (total / float(weights.sum()))


def make_population(district: District) -> np.ndarray:
    """Return the float32 population grid (nodata outside the district and on water)."""
    rng = district.rng
    x, y = cell_centres_km()
    valid = valid_cells(district)
    noise = rng.lognormal(0.0, 0.35, x.shape)
    people = np.zeros(x.shape)
    for s in [*district.settlements, *district.hamlets]:
        people += scaled(settlement_weights(x, y, s) * noise, valid, s.population)
    roads = burn([district.network.line(w) for w in highway_ways(district.network)], True)
    road_km = distance_transform_edt(~roads) * CELL_DEG * KM_PER_DEG_LAT
    field_noise = gaussian_filter(rng.normal(0.0, 1.0, x.shape), 8.0)
    field_noise = np.exp(0.8 * field_noise / field_noise.std())
    scatter = (0.25 + np.exp(-road_km / 0.8)) * field_noise * rng.lognormal(0.0, 0.5, x.shape)
    remainder = TOTAL_POPULATION - people.sum()
    if remainder <= 0:
        raise AccessmapError("synthetic settlements exceed the district population")
    people += scaled(scatter, valid, remainder)
    grid = people.astype(np.float32)
    grid[~valid] = NODATA
    return grid


def lonlat_text(xy: tuple[float, float]) -> tuple[str, str]:
    """Return lat and lon of a km point as OSM text (7 decimals)."""
    lon, lat = to_lonlat(np.array([xy]))[0]
    return f"{lat:.7f}", f"{lon:.7f}"


def write_osm(path: Path, network: Network) -> None:
    """Write ``network`` as OSM XML 0.6 (only nodes that ways use or that carry tags)."""
    used = {n for w in network.ways for n in w.nodes} | set(network.node_tags)
    lines = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        f'<osm version="0.6" generator="{GENERATOR}">',
        f'  <bounds minlat="{LAT_MIN:.7f}" minlon="{LON_MIN:.7f}" '
        f'maxlat="{LAT_MAX:.7f}" maxlon="{LON_MAX:.7f}"/>',
    ]
    for node_id in sorted(used):
        lat, lon = lonlat_text(network.point(node_id))
        head = f'  <node id="{node_id}" version="1" lat="{lat}" lon="{lon}"'
        tags = network.node_tags.get(node_id)
        if not tags:
            lines.append(head + "/>")
            continue
        lines.append(head + ">")
        lines.extend(tag_lines(tags))
        lines.append("  </node>")
    for way_id, way in enumerate(network.ways, start=1):
        lines.append(f'  <way id="{way_id}" version="1">')
        lines.extend(f'    <nd ref="{n}"/>' for n in way.nodes)
        lines.extend(tag_lines(way.tags))
        lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def tag_lines(tags: dict[str, str]) -> list[str]:
    """Return the ``<tag>`` elements of ``tags`` (sorted by key)."""
    return [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in sorted(tags.items())]


def write_population(path: Path, grid: np.ndarray, seed: int) -> None:
    """Write the population grid as a deflate-compressed, tiled GeoTIFF."""
    rows, cols = grid.shape
    profile = {
        "driver": "GTiff",
        "width": cols,
        "height": rows,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": raster_transform(),
        "nodata": NODATA,
        "compress": "deflate",
        "predictor": 3,
        "zlevel": 9,
        "tiled": True,
        "blockxsize": 128,
        "blockysize": 128,
    }
    description = f"SYNTHETIC population (not real data): {DISTRICT_NAME}, seed {seed}"
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(grid, 1)
        dst.update_tags(
            TIFFTAG_IMAGEDESCRIPTION=description,
            TIFFTAG_SOFTWARE=GENERATOR,
            SYNTHETIC="yes",
            SEED=str(seed),
            LICENSE=LICENCE,
        )
        dst.update_tags(1, UNITS="people per cell")
        dst.set_band_description(1, "population (synthetic)")


def rounded(geom: BaseGeometry) -> BaseGeometry:
    """Return the lon/lat version of a km geometry rounded to GeoJSON precision."""
    return shapely.transform(geom, lambda xy: np.round(to_lonlat(xy), GEOJSON_DECIMALS))


def write_geojson(
    path: Path,
    name: str,
    description: str,
    features: Iterable[tuple[BaseGeometry, dict[str, Any]]],
) -> None:
    """Write a FeatureCollection (lon/lat, fixed precision, one feature per line)."""
    head = {
        "type": "FeatureCollection",
        "name": name,
        "description": description,
        "bbox": [LON_MIN, LAT_MIN, LON_MAX, LAT_MAX],
    }
    body = [
        json.dumps(
            {"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geom)},
            separators=(",", ":"),
        )
        for geom, props in features
    ]
    text = json.dumps(head, separators=(",", ":"))[:-1] + ',"features":[\n'
    path.write_text(text + ",\n".join(body) + "\n]}\n", encoding="utf-8")


def synthetic_note(what: str, seed: int) -> str:
    """Return the description written into every synthetic file."""
    return (
        f"SYNTHETIC {what} for the {DISTRICT_NAME}, generated by scripts/make_demo_data.py "
        f"(seed {seed}). Not real data. Licence: {LICENCE}."
    )


def facility_features(district: District) -> list[tuple[BaseGeometry, dict[str, Any]]]:
    """Return the facility points and their properties."""
    keep = ("id", "name", "type", "amenity", "capacity", "settlement")
    return [(rounded(Point(f["x"], f["y"])), {k: f[k] for k in keep}) for f in district.facilities]


def subdistrict_features(district: District) -> list[tuple[BaseGeometry, dict[str, Any]]]:
    """Return the sub-district polygons and their properties."""
    return [
        (rounded(poly), {"code": code, "name": name}) for code, name, poly in district.subdistricts
    ]


def group_features(district: District) -> list[tuple[BaseGeometry, dict[str, Any]]]:
    """Return the village-area polygons with the equity attribute."""
    return [
        (
            rounded(poly),
            {"id": f"G{k:02d}", "village": s.name, "kind": s.kind, "wealth_quintile": quintile},
        )
        for k, (s, quintile, poly) in enumerate(district.groups, start=1)
    ]


def road_km_by_class(network: Network) -> dict[str, float]:
    """Return geodesic road length (km) by highway class, from the written coordinates."""
    geod = Geod(ellps="WGS84")
    lengths: dict[str, float] = dict.fromkeys(HIGHWAY_CLASSES, 0.0)
    for way in highway_ways(network):
        lonlat = np.round(to_lonlat(np.array([network.point(n) for n in way.nodes])), 7)
        metres = geod.line_length(lonlat[:, 0], lonlat[:, 1])
        lengths[way.tags["highway"]] = lengths.get(way.tags["highway"], 0.0) + metres / 1000.0
    return lengths


def yes_no(area: Polygon, s: Settlement) -> str:
    """Return "yes" if settlement ``s`` lies in ``area``, else "no"."""
    return "yes" if area.contains(Point(s.x, s.y)) else "no"


def readme_text(district: District, seed: int, total: float) -> str:
    """Return the README of the demo folder."""
    net = district.network
    ways = highway_ways(net)
    bridges = river_crossings(district)
    kinds = [f["type"] for f in district.facilities]
    villages = [s for s in district.settlements if s.kind == "village"]
    quintile = {s.key: q for s, q, _ in district.groups}
    rows, cols, _, _ = raster_shape()
    nodata_cells = int((district.population == NODATA).sum())
    lines = [
        "# SYNTHETIC demo district - NOT REAL DATA",
        "",
        f"**{DISTRICT_NAME}.** Everything in this folder is invented. It was generated by",
        f"`scripts/make_demo_data.py --seed {seed}` (function `accessmap._demo.make_demo_data`),",
        "and the tests check that a fresh generation reproduces these files byte for byte.",
        "Do not use it for any real planning decision. Place, road, river and facility names",
        "are made up; the coordinates (near lon 33.0, lat -13.8) only give the data a",
        "plausible projection and scale.",
        "",
        "## Files",
        "",
        "| file | content |",
        "| --- | --- |",
        "| `network.osm` | OSM XML 0.6 road network (highway ways with shared junction nodes), "
        "river, lake and place nodes |",
        f"| `population.tif` | GeoTIFF, EPSG:4326, 3 arc-second cells ({cols} x {rows}), float32 "
        f"people per cell, nodata {NODATA:g} (border, river and lake: {nodata_cells} cells) |",
        "| `facilities.geojson` | health facilities and pharmacies (points; `id`, `name`, `type`, "
        "`amenity`, `capacity` = clinical staff, `settlement`) |",
        "| `subdistricts.geojson` | 4 sub-district polygons (`name`, `code`) tiling the district |",
        "| `groups.geojson` | village areas (Voronoi cells) with `village`, `kind` and "
        "`wealth_quintile` (1 poorest .. 5 richest) |",
        "",
        "## Totals",
        "",
        f"- District bounding box: lon {LON_MIN} to {LON_MAX}, lat {LAT_MIN} to {LAT_MAX} "
        f"(about {WIDTH_KM:.1f} x {HEIGHT_KM:.1f} km).",
        f"- Population total (sum of raster cells, nodata excluded): **{total:.2f}**.",
        f"- Settlements: 1 market town ({district.settlement['town'].name}, "
        f"{TOWN_POPULATION:,.0f} people), {len(villages)} villages, {len(district.hamlets)} "
        "hamlets, 1 farm estate whose roads are not connected to the rest (a second network "
        "component), plus a rural scatter of homesteads.",
        "- Facilities: " + ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds)) + ".",
        f"- Highway ways: {len(ways)}; network components: {component_count(ways)}; river "
        f"crossings: {len(bridges)} bridges ("
        + ", ".join(w.tags["highway"] for w in bridges)
        + ").",
        "",
        "Road length by class (km):",
        "",
        "| highway | km |",
        "| --- | ---: |",
        *(f"| {k} | {v:.1f} |" for k, v in road_km_by_class(net).items()),
        "",
        "Villages (target population before cell noise):",
        "",
        "| village | population | across the river | wealth quintile |",
        "| --- | ---: | --- | ---: |",
        *(
            f"| {s.name} | {s.population:,.0f} | {yes_no(district.far_bank, s)} | "
            f"{quintile[s.key]} |"
            for s in villages
        ),
        "",
        "## Licence",
        "",
        f"{LICENCE}. No real data source was used, so no attribution is required.",
        "",
    ]
    return "\n".join(lines)


def write_all(district: District, folder: Path) -> None:
    """Write every demo file of ``district`` into ``folder``."""
    seed = district.seed
    write_osm(folder / FILE_NAMES["network"], district.network)
    write_population(folder / FILE_NAMES["population"], district.population, seed)
    write_geojson(
        folder / FILE_NAMES["facilities"],
        "facilities (SYNTHETIC)",
        synthetic_note("health facilities", seed),
        facility_features(district),
    )
    write_geojson(
        folder / FILE_NAMES["boundaries"],
        "subdistricts (SYNTHETIC)",
        synthetic_note("sub-district boundaries", seed),
        subdistrict_features(district),
    )
    write_geojson(
        folder / FILE_NAMES["groups"],
        "village areas (SYNTHETIC)",
        synthetic_note("village areas and wealth quintiles", seed),
        group_features(district),
    )
    total = float(district.population[district.population != NODATA].sum(dtype=np.float64))
    (folder / FILE_NAMES["readme"]).write_text(readme_text(district, seed, total), encoding="utf-8")


def make_demo_data(out_dir: str | os.PathLike[str], *, seed: int = DEFAULT_SEED) -> dict[str, Path]:
    """Generate the synthetic demo district into ``out_dir``.

    The output is a pure function of ``seed``: running twice gives
    byte-identical files.  Files are written into a temporary folder next to
    ``out_dir`` and then moved into place one by one.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Destination folder (created if needed; existing demo files are replaced).
    seed : int
        Seed of the random generator.

    Returns
    -------
    dict of str to pathlib.Path
        Paths keyed ``network``, ``population``, ``facilities``, ``boundaries``,
        ``groups`` and ``readme``.

    Raises
    ------
    OutputError
        If the folder cannot be written.
    AccessmapError
        If the seed yields a layout that breaks the demo's invariants.
    """
    out = Path(out_dir)
    district = make_district(seed)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-tmp-", dir=out.parent))
    except OSError as exc:
        raise OutputError(f"cannot write demo data next to {out}: {exc}") from exc
    try:
        write_all(district, staging)
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        for key, name in FILE_NAMES.items():
            os.replace(staging / name, out / name)
            paths[key] = out / name
    except OSError as exc:
        raise OutputError(f"cannot write demo data to {out}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info(
        "wrote synthetic demo district (seed %d) to %s: %d nodes, %d ways, %d facilities",
        seed,
        out,
        len(district.network.xy),
        len(district.network.ways),
        len(district.facilities),
    )
    return paths
