"""Settlements, invented names and the layout of the demo district.

The layout is the town, the villages of :data:`VILLAGE_PLAN` (jittered by the
seed), the river, the lake and the farm estate; :class:`District` carries it
together with everything the later stages add (network, hamlets, facilities,
areas and the population grid).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from shapely.geometry import LineString, Polygon

from accessmap.demo.geometry import HEIGHT_KM, WIDTH_KM, district_box_km, wiggle_through
from accessmap.demo.network import Network
from accessmap.errors import AccessmapError

__all__ = [
    "FARM_CENTRE",
    "FARM_EXCLUSION_KM",
    "FARM_POPULATION",
    "LAKE_CENTRE",
    "LAKE_RADIUS_KM",
    "RIVER_PLAN",
    "TOWN_CENTRE",
    "TOWN_POPULATION",
    "VILLAGE_PLAN",
    "District",
    "Settlement",
    "build_river",
    "invent_names",
    "plan_settlements",
]


TOWN_POPULATION = 38_000.0

FARM_POPULATION = 320.0

VILLAGE_SIZES: dict[str, tuple[float, float]] = {
    "big": (7_000.0, 9_000.0),
    "medium": (3_500.0, 5_500.0),
    "small": (1_500.0, 2_500.0),
}

# Centre of the market town (km).
TOWN_CENTRE = (10.5, 14.5)

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

_SYLLABLES = (
    "ka", "li", "mbe", "nda", "chi", "wa", "zo", "mu", "ngo", "ta", "la", "si",
    "ma", "ku", "nje", "pa", "ye", "lo", "tu", "be", "ga", "mi", "do", "re",
)  # fmt: skip


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
