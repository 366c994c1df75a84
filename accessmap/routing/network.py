"""Road networks: OpenStreetMap files or graphs -> routable segment arrays per travel mode.

A :class:`RoadNetwork` holds one row per straight road *segment* (two consecutive OSM
nodes of a way), in a projected metric CRS, with a travel time in each direction
(``inf`` where the mode may not use that direction).  The routable graph handed to
:mod:`accessmap.engine` is built straight from these arrays, never through networkx.

Speeds and tag rules live in :mod:`accessmap.routing.modes`; reading OSM files in
:mod:`accessmap.inputs.osm`.  User documentation: ``docs/network.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pyproj
import scipy.sparse
import scipy.sparse.csgraph
import scipy.spatial
import shapely
from numpy.typing import NDArray

from accessmap.errors import InputDataError
from accessmap.routing.engine import Sources, build_graph, connected_components, nearest_source
from accessmap.routing.modes import SpeedProfile

__all__ = ["SNAP_SAMPLE_M", "RoadNetwork", "padded_bounds_lonlat"]


#: Points farther than this outside the network's extent cannot be meant for it.
_ABSURD_DISTANCE_M = 1_000_000.0

#: Spacing (m) of the sample points that bound snapping searches (any value is exact;
#: smaller values make the bound tighter and the tree larger).
SNAP_SAMPLE_M = 50.0


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A routable road network for one travel mode, as segment arrays.

    Node coordinates are in ``crs`` (projected, metres); ``node_lon``/``node_lat``
    are WGS84.  Segment ``i`` joins nodes ``seg_u[i]`` and ``seg_v[i]``; its time from
    u to v is ``seg_time_fwd_s[i]`` and from v to u ``seg_time_bwd_s[i]`` (``inf`` when
    that direction is not allowed).  ``seg_way_id`` is the OSM way each segment comes
    from (the ``osmid`` of a graph edge; -1 when unknown).
    """

    mode: str
    crs: str
    node_osm_id: NDArray[np.int64]
    node_x: NDArray[np.float64]
    node_y: NDArray[np.float64]
    node_lon: NDArray[np.float64]
    node_lat: NDArray[np.float64]
    seg_u: NDArray[np.int64]
    seg_v: NDArray[np.int64]
    seg_length_m: NDArray[np.float64]
    seg_time_fwd_s: NDArray[np.float64]
    seg_time_bwd_s: NDArray[np.float64]
    seg_highway: NDArray[np.str_]
    seg_way_id: NDArray[np.int64]
    profile: SpeedProfile
    source: str = ""

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_x.size)

    @property
    def n_segments(self) -> int:
        """Number of segments."""
        return int(self.seg_u.size)

    @cached_property
    def graph_to(self) -> scipy.sparse.csr_array:
        """Directed graph for times *to* a destination: searches run from the destination.

        Edge (v -> u) carries the time of travelling u -> v, so a search from a facility
        over this graph gives every node's time to reach that facility.
        """
        tail = np.concatenate([self.seg_v, self.seg_u])
        head = np.concatenate([self.seg_u, self.seg_v])
        weight = np.concatenate([self.seg_time_fwd_s, self.seg_time_bwd_s])
        return build_graph(tail, head, weight, self.n_nodes)

    @cached_property
    def graph_from(self) -> scipy.sparse.csr_array:
        """Directed graph for times *from* an origin (edges in travel direction)."""
        tail = np.concatenate([self.seg_u, self.seg_v])
        head = np.concatenate([self.seg_v, self.seg_u])
        weight = np.concatenate([self.seg_time_fwd_s, self.seg_time_bwd_s])
        return build_graph(tail, head, weight, self.n_nodes)

    @cached_property
    def component(self) -> NDArray[np.int64]:
        """Weakly connected component label of each node (0 = largest piece)."""
        labels = connected_components(self.graph_from)
        counts = np.bincount(labels)
        order = np.argsort(-counts, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        return rank[labels]

    @cached_property
    def in_core(self) -> NDArray[np.bool_]:
        """True for nodes of the strongly connected core of their weakly connected piece.

        The core is the piece's largest strongly connected part (ties: the lowest
        label) when it has at least two nodes; a piece made only of one-way links (a
        two-node one-way stub on its own) has no core.
        """
        if self.n_nodes == 0:
            return np.zeros(0, dtype=np.bool_)
        _, strong = scipy.sparse.csgraph.connected_components(
            self.graph_from, directed=True, connection="strong")
        strong = np.asarray(strong, dtype=np.int64)
        size = np.bincount(strong)
        piece = self.component
        # Per weak piece, the strong label with the most nodes (lowest label on ties).
        order = np.lexsort((strong, -size[strong], piece))
        first = order[np.r_[True, piece[order][1:] != piece[order][:-1]]]
        core_label = strong[first]
        core_label = core_label[size[core_label] >= 2]
        return np.asarray(np.isin(strong, core_label), dtype=np.bool_)

    @cached_property
    def reached_from_core(self) -> NDArray[np.bool_]:
        """True for nodes that can be reached from the strongly connected core of their piece.

        See :attr:`in_core`.  A facility whose
        entry nodes are all outside this set can be reached by nobody but the few people
        on its own stub (one-way dead ends mapped the wrong way round).
        """
        return self._linked_to_core(self.graph_from)

    @cached_property
    def reaches_core(self) -> NDArray[np.bool_]:
        """True for nodes from which the strongly connected core of their piece is reached.

        See :attr:`in_core`.  Demand points whose nearest segment has no usable end in
        this set (a one-way dead end, a piece of one-way links only) also enter the
        network through the nearest segment that has one
        (:func:`accessmap.routing.snapping.fallback_snap`).
        """
        return self._linked_to_core(self.graph_to)

    def _linked_to_core(self, graph: scipy.sparse.csr_array) -> NDArray[np.bool_]:
        """Nodes a search over ``graph`` (``graph_from``: out of the core; ``graph_to``:
        into it) reaches from the core nodes."""
        core = np.flatnonzero(self.in_core)
        if core.size == 0:
            return np.zeros(self.n_nodes, dtype=np.bool_)
        entry = Sources(entry_source=np.zeros(core.size, dtype=np.int64),
                        entry_node=core.astype(np.int64),
                        entry_cost=np.zeros(core.size), n_sources=1)
        time_s, _ = nearest_source(graph, entry)
        return np.asarray(np.isfinite(time_s), dtype=np.bool_)

    @cached_property
    def segment_tree(self) -> shapely.STRtree:
        """Spatial index over the segments (projected coordinates)."""
        return shapely.STRtree(self.segment_lines)

    @cached_property
    def _sample_pieces(self) -> NDArray[np.int64]:
        """Pieces of at most ``SNAP_SAMPLE_M`` (projected length) each segment is cut into."""
        length = np.hypot(self.node_x[self.seg_v] - self.node_x[self.seg_u],
                          self.node_y[self.seg_v] - self.node_y[self.seg_u])
        return np.maximum(1, np.ceil(length / SNAP_SAMPLE_M).astype(np.int64))

    @cached_property
    def sample_segment(self) -> NDArray[np.int64]:
        """Segment of each point of ``sample_tree`` (same order as the tree's data)."""
        pieces = self._sample_pieces
        return np.repeat(np.arange(pieces.size), pieces + 1)

    @cached_property
    def sample_tree(self) -> scipy.spatial.cKDTree:
        """KD-tree over points every ``SNAP_SAMPLE_M`` metres along every segment.

        Each segment contributes both ends and evenly spaced points between them (spacing
        at most ``SNAP_SAMPLE_M``), so every point of a segment lies within
        ``SNAP_SAMPLE_M / 2`` of one of its samples; ``sample_segment`` maps samples back
        to segments.  The nearest samples bound the exact segment search in
        ``snap_points``.
        """
        pieces = self._sample_pieces
        seg = self.sample_segment
        step = np.arange(seg.size) - np.repeat(np.cumsum(pieces + 1) - (pieces + 1), pieces + 1)
        frac = step / np.repeat(pieces, pieces + 1)
        ux, uy = self.node_x[self.seg_u[seg]], self.node_y[self.seg_u[seg]]
        vx, vy = self.node_x[self.seg_v[seg]], self.node_y[self.seg_v[seg]]
        # Sliding-midpoint splits without rebalancing: faster to build and, for the many
        # demand points far from any road, faster to query (about 20% on Comoros). Any
        # valid k-nearest answer gives the same snap (see ``snap_points``).
        return scipy.spatial.cKDTree(
            np.column_stack([ux + frac * (vx - ux), uy + frac * (vy - uy)]),
            balanced_tree=False, compact_nodes=False,
        )

    @cached_property
    def segment_lines(self) -> NDArray[np.object_]:
        """Segments as shapely LineStrings in the projected CRS."""
        return self.lines_of(np.arange(self.seg_u.size))

    def lines_of(self, segments: NDArray[np.int64]) -> NDArray[np.object_]:
        """The segments ``segments`` (indices) as shapely LineStrings in the projected CRS."""
        u, v = self.seg_u[segments], self.seg_v[segments]
        coords = np.stack([np.column_stack([self.node_x[u], self.node_y[u]]),
                           np.column_stack([self.node_x[v], self.node_y[v]])], axis=1)
        lines: NDArray[np.object_] = shapely.linestrings(coords)
        return lines

    @cached_property
    def transformer(self) -> pyproj.Transformer:
        """WGS84 -> projected CRS transformer."""
        return pyproj.Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)

    def project(
        self, lon: NDArray[np.float64], lat: NDArray[np.float64], *, what: str = "points"
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Project WGS84 longitudes/latitudes into the network CRS (metres).

        Raises
        ------
        InputDataError
            Coordinates out of degree ranges (metres given as degrees?) or rows whose
            latitude and longitude look swapped; the message names the rows.
        """
        lon = np.asarray(lon, float)
        lat = np.asarray(lat, float)
        _check_degrees(self, lon, lat, what)
        x, y = self.transformer.transform(lon, lat)
        return np.asarray(x, float), np.asarray(y, float)

    def bounds_lonlat(self) -> tuple[float, float, float, float]:
        """Return (west, south, east, north) of the nodes in degrees."""
        return (
            float(self.node_lon.min()),
            float(self.node_lat.min()),
            float(self.node_lon.max()),
            float(self.node_lat.max()),
        )

    def to_networkx(self) -> Any:
        """Export as an osmnx-style ``networkx.MultiDiGraph`` (for people who want one).

        Node keys are the node indices ``0..n_nodes-1``; nodes carry ``x``/``y``
        (lon/lat) and ``osmid``; every usable direction of a segment is one edge with
        ``length`` (m), ``travel_time`` (s), ``speed_kph``, ``highway``, ``oneway`` and
        ``reversed``; the graph ``crs`` is EPSG:4326, as osmnx expects.
        """
        import networkx as nx

        graph = nx.MultiDiGraph(crs="EPSG:4326", mode=self.mode)
        graph.add_nodes_from(
            (i, {"x": float(x), "y": float(y), "osmid": int(o)})
            for i, (x, y, o) in enumerate(zip(self.node_lon, self.node_lat,
                                              self.node_osm_id, strict=True))
        )
        oneway = ~(np.isfinite(self.seg_time_fwd_s) & np.isfinite(self.seg_time_bwd_s))
        for tails, heads, times, flipped in (
            (self.seg_u, self.seg_v, self.seg_time_fwd_s, False),
            (self.seg_v, self.seg_u, self.seg_time_bwd_s, True),
        ):
            ok = np.isfinite(times)
            with np.errstate(divide="ignore", invalid="ignore"):
                kph = np.where(times[ok] > 0, self.seg_length_m[ok] / times[ok] * 3.6, np.inf)
            graph.add_edges_from(
                (int(a), int(b), {"length": float(length), "travel_time": float(t),
                                  "speed_kph": float(s), "highway": str(hw),
                                  "oneway": bool(one), "reversed": flipped})
                for a, b, t, s, length, hw, one in zip(
                    tails[ok], heads[ok], times[ok], kph, self.seg_length_m[ok],
                    self.seg_highway[ok], oneway[ok], strict=True)
            )
        return graph

    def summary(self) -> dict[str, Any]:
        """Return counts for the run record and the data-quality annex."""
        counts = np.bincount(self.component)
        return {
            "mode": self.mode,
            "nodes": self.n_nodes,
            "segments": self.n_segments,
            "length_km": round(float(self.seg_length_m.sum()) / 1000, 3),
            "components": int(counts.size),
            "largest_component_nodes": int(counts.max()) if counts.size else 0,
            "crs": self.crs,
        }


#: Metres per degree of latitude at the equator, where a degree is shortest (WGS84).
_M_PER_DEG_LAT_MIN = 110_574.0


#: Metres per degree of longitude on the equator (WGS84); times cos(latitude) elsewhere.
_M_PER_DEG_LON_EQUATOR = 111_320.0


def padded_bounds_lonlat(network: RoadNetwork, pad_m: float
                         ) -> tuple[float, float, float, float]:
    """Return the network's (west, south, east, north) in degrees, padded by ``pad_m`` metres.

    The pad is at least ``pad_m`` on every side: north-south in degrees of latitude at
    their shortest (110,574 m), east-west in degrees of longitude at the box's most
    poleward latitude, where they are shortest (``111,320 m * cos(latitude)``).  At 60°N
    the east-west pad in degrees is therefore twice the north-south one, so that people
    within the snap distance east or west of the roads are kept.

    Parameters
    ----------
    network
        The road network.
    pad_m
        Pad in metres (the walk to a road: ``network.profile.max_snap_m``).

    Returns
    -------
    tuple of float
        ``(west, south, east, north)``, clipped to -180..180 and -90..90; the whole
        longitude range when the box reaches within 0.1 degree of a pole.

    Examples
    --------
    >>> west, south, east, north = padded_bounds_lonlat(network, 5000.0)  # doctest: +SKIP
    """
    west, south, east, north = network.bounds_lonlat()
    pad = max(float(pad_m), 0.0)
    dlat = pad / _M_PER_DEG_LAT_MIN
    south, north = max(south - dlat, -90.0), min(north + dlat, 90.0)
    poleward = max(abs(south), abs(north))
    if poleward >= 89.9:
        return -180.0, south, 180.0, north
    dlon = pad / (_M_PER_DEG_LON_EQUATOR * float(np.cos(np.radians(poleward))))
    return max(west - dlon, -180.0), south, min(east + dlon, 180.0), north


def _check_lonlat(lon: NDArray[np.float64], lat: NDArray[np.float64], source: str) -> None:
    if lon.size and (np.abs(lat).max() > 90 or np.abs(lon).max() > 180):
        raise InputDataError(
            f"{source}: coordinates are outside longitude/latitude ranges (max |lat| "
            f"{np.abs(lat).max():.1f}); give coordinates in degrees (EPSG:4326), e.g. "
            "osmnx.project_graph(G, to_crs='EPSG:4326')"
        )


def _rows_text(rows: NDArray[np.intp]) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:5])
    return shown + (f" and {rows.size - 5} more" if rows.size > 5 else "")


def _check_degrees(
    network: RoadNetwork, lon: NDArray[np.float64], lat: NDArray[np.float64], what: str
) -> None:
    """Refuse coordinates that cannot be longitude/latitude for this network."""
    bad = np.flatnonzero((np.abs(lon) > 180) | (np.abs(lat) > 90))
    if bad.size:
        raise InputDataError(
            f"{what}: rows {_rows_text(bad)} have coordinates outside longitude/latitude "
            f"ranges (e.g. {lon[bad[0]]:g}, {lat[bad[0]]:g}); they look like metres or "
            "another projection: give longitude/latitude in degrees (EPSG:4326)"
        )
    west, south, east, north = padded_bounds_lonlat(network, network.profile.max_snap_m)

    def inside(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.bool_]:
        return (x >= west) & (x <= east) & (y >= south) & (y <= north)

    swapped = np.flatnonzero(~inside(lon, lat) & inside(lat, lon))
    if swapped.size:
        raise InputDataError(
            f"{what}: rows {_rows_text(swapped)} have latitude and longitude swapped (they "
            "fall on the road network only when exchanged); put longitude first (x) and "
            "latitude second (y)"
        )


def _check_projected(network: RoadNetwork, x: NDArray[np.float64], y: NDArray[np.float64]
                     ) -> None:
    """Refuse projected coordinates that are degrees or absurdly far from the network."""
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.any():
        return
    xs, ys = x[finite], y[finite]
    dx = np.maximum(0, np.maximum(network.node_x.min() - xs, xs - network.node_x.max()))
    dy = np.maximum(0, np.maximum(network.node_y.min() - ys, ys - network.node_y.max()))
    nearest_km = float(np.hypot(dx, dy).min()) / 1000
    looks_degrees = bool(np.all((np.abs(xs) <= 180) & (np.abs(ys) <= 90)))
    if looks_degrees and nearest_km > 100:
        hint = ("they look like degrees passed as metres: project them first with "
                "RoadNetwork.project(lon, lat)")
    elif nearest_km > _ABSURD_DISTANCE_M / 1000:
        hint = ("are they for the same place as the road network extract? If so, check "
                "their CRS")
    else:
        return
    raise InputDataError(
        f"all {xs.size} points are at least {nearest_km:.0f} km from the road network "
        f"({network.source}, metres in {network.crs}); {hint}"
    )
