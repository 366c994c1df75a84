"""The countryside of the demo district: hamlets, the farm estate, water and places.

Hamlets are scattered over the land and linked to the road network by paths,
footways or tracks; the farm estate has roads of its own that are not
connected to the rest; the river and the lake become (non-routable) OSM
ways, and every settlement gets an OSM ``place=*`` node.
"""

from __future__ import annotations

import math

import numpy as np
from shapely.geometry import Point

from accessmap.demo.geometry import HEIGHT_KM, WIDTH_KM
from accessmap.demo.network import Way
from accessmap.demo.roads import add_spur, random_track_tags
from accessmap.demo.settlements import (
    FARM_CENTRE,
    FARM_POPULATION,
    District,
    Settlement,
    invent_names,
)
from accessmap.errors import AccessmapError

__all__ = ["HAMLET_COUNT", "add_farm_cluster", "add_hamlets", "add_place_nodes", "add_water"]


HAMLET_COUNT = 30

HAMLET_PATH_KM = 1.6  # hamlets closer than this to the network get a path or footway


def _hamlet_site_ok(district: District, x: float, y: float, taken: list[Settlement]) -> bool:
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


def _connect_hamlet(district: District, x: float, y: float) -> int | None:
    """Link a hamlet at (x, y) to a nearby network node by path, footway or track."""
    rng = district.rng
    ids, xy = district.network.group_points("main")
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
        if not _hamlet_site_ok(district, x, y, district.hamlets):
            continue
        end = _connect_hamlet(district, x, y)
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
