"""The OSM node and way store of the demo district, with noding of crossings.

A :class:`Network` holds nodes in local km and :class:`Way` objects; a way
added to a noding group gets a shared node wherever it properly crosses a way
of the same group, so that junctions are real OSM junctions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import LineString

__all__ = ["Network", "Way", "component_count", "highway_ways"]


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

    def group_points(self, group: str) -> tuple[np.ndarray, np.ndarray]:
        """Return the ids of :meth:`group_nodes` and their km coordinates, shape (n, 2)."""
        ids = np.array(self.group_nodes(group))
        return ids, np.asarray([self.point(int(n)) for n in ids])

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
