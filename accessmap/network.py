"""Road networks: OpenStreetMap files or graphs -> routable segment arrays per travel mode.

A :class:`RoadNetwork` holds one row per straight road *segment* (two consecutive OSM
nodes of a way), in a projected metric CRS, with a travel time in each direction
(``inf`` where the mode may not use that direction).  The routable graph handed to
:mod:`accessmap.engine` is built straight from these arrays, never through networkx.

Speeds and tag rules live in :mod:`accessmap._speeds` (re-exported here); reading OSM
files in :mod:`accessmap._osm`.  User documentation: ``docs/network.md``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyproj
import scipy.sparse
import scipy.spatial
import shapely
from numpy.typing import NDArray

from accessmap import __version__, engine
from accessmap._errors import InputDataError, InputFileError, NetworkError
from accessmap._osm import Progress, WayRows, collect_ways, rows_from_graph
from accessmap._speeds import (
    DEFAULT_DRIVE_SPEEDS_KPH,
    DEFAULT_SURFACE_FACTORS,
    DEFAULT_WALK_SPEEDS_KPH,
    MODES,
    NOT_ROUTABLE,
    SpeedProfile,
    ferry_time_s,
    mode_allowed,
    parse_duration_s,
    parse_speed_kph,
    way_speeds_kph,
)

if TYPE_CHECKING:
    from accessmap.catchments import Access

__all__ = [
    "DEFAULT_DRIVE_SPEEDS_KPH", "DEFAULT_SURFACE_FACTORS", "DEFAULT_WALK_SPEEDS_KPH", "MODES",
    "NOT_ROUTABLE", "RoadNetwork", "Snap", "SpeedProfile", "component_report",
    "default_cache_dir", "entry_costs", "entry_points", "file_sha256", "load_network",
    "mode_allowed", "network_from_graph", "parse_duration_s", "parse_speed_kph", "snap_points",
    "way_speeds_kph",
]

logger = logging.getLogger(__name__)

#: Spacing (m) of the sample points that bound snapping searches (any value is exact;
#: smaller values make the bound tighter and the tree larger).
SNAP_SAMPLE_M = 50.0

#: Points farther than this outside the network's extent cannot be meant for it.
_ABSURD_DISTANCE_M = 1_000_000.0


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A routable road network for one travel mode, as segment arrays.

    Node coordinates are in ``crs`` (projected, metres); ``node_lon``/``node_lat``
    are WGS84.  Segment ``i`` joins nodes ``seg_u[i]`` and ``seg_v[i]``; its time from
    u to v is ``seg_time_fwd_s[i]`` and from v to u ``seg_time_bwd_s[i]`` (``inf`` when
    that direction is not allowed).
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
        return engine.build_graph(tail, head, weight, self.n_nodes)

    @cached_property
    def graph_from(self) -> scipy.sparse.csr_array:
        """Directed graph for times *from* an origin (edges in travel direction)."""
        tail = np.concatenate([self.seg_u, self.seg_v])
        head = np.concatenate([self.seg_v, self.seg_u])
        weight = np.concatenate([self.seg_time_fwd_s, self.seg_time_bwd_s])
        return engine.build_graph(tail, head, weight, self.n_nodes)

    @cached_property
    def component(self) -> NDArray[np.int64]:
        """Weakly connected component label of each node (0 = largest piece)."""
        labels = engine.connected_components(self.graph_from)
        counts = np.bincount(labels)
        order = np.argsort(-counts, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        return rank[labels]

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
        coords = np.stack(
            [
                np.column_stack([self.node_x[self.seg_u], self.node_y[self.seg_u]]),
                np.column_stack([self.node_x[self.seg_v], self.node_y[self.seg_v]]),
            ],
            axis=1,
        )
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


# --------------------------------------------------------------------------- building


def _utm_crs(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> str:
    """Return the EPSG code of the UTM zone at the centre of the points."""
    lon_c = float(np.median(lon))
    lat_c = float(np.median(lat))
    zone = int(np.floor((lon_c + 180) / 6) % 60) + 1
    return f"EPSG:{(32600 if lat_c >= 0 else 32700) + zone}"


def _network_from_rows(rows: WayRows, profile: SpeedProfile, source: str) -> RoadNetwork:
    if not rows.a:
        raise NetworkError(
            f"{source}: no routable ways for mode {profile.mode!r}; check that the file is an "
            "OpenStreetMap extract of the study area with highway ways, or choose the other "
            "mode (--mode)"
        )
    a = np.asarray(rows.a, dtype=np.int64)
    b = np.asarray(rows.b, dtype=np.int64)
    osm_ids, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    u, v = inverse[: a.size], inverse[a.size :]
    lon, lat = rows.locations(osm_ids)
    crs = _utm_crs(lon, lat)
    x, y = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    x, y = np.asarray(x, float), np.asarray(y, float)
    order = _spatial_order(x, y)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    osm_ids = osm_ids[order]
    lon, lat, x, y = (values[order] for values in (lon, lat, x, y))
    u, v = rank[u], rank[v]
    if len(rows.length_m) == a.size:
        length = np.asarray(rows.length_m, dtype=np.float64)
    else:
        length = np.hypot(x[u] - x[v], y[u] - y[v])
    with np.errstate(divide="ignore"):
        fwd = length / (np.asarray(rows.fwd_kph) / 3.6)
        bwd = length / (np.asarray(rows.bwd_kph) / 3.6)
    _time_ferries(rows, length, fwd, bwd, profile)
    return RoadNetwork(
        mode=profile.mode, crs=crs, node_osm_id=osm_ids, node_x=x, node_y=y,
        node_lon=lon, node_lat=lat, seg_u=u.astype(np.int64), seg_v=v.astype(np.int64),
        seg_length_m=length, seg_time_fwd_s=fwd, seg_time_bwd_s=bwd,
        seg_highway=np.asarray(rows.highway), profile=profile, source=source,
    )


def _spatial_order(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.intp]:
    """Order of the nodes along a Z-order (Morton) curve over the network's extent.

    Numbering nodes in this order puts nodes that are close on the ground close in
    memory, so a shortest-path search (which moves outwards over neighbouring nodes)
    reads far fewer cache lines: in OSM id order only about 64% of the Comoros road
    segments join nodes fewer than 1,024 numbers apart, in this order 99.7%, and on a
    1M-node grid both engine methods ran 1.9-2.3x faster than with nodes numbered at
    random.  Cells are ~1/65,536 of the extent; ties keep their input order.
    """

    def spread(q: NDArray[np.int64]) -> NDArray[np.int64]:
        """Move the 16 low bits of ``q`` to the even bit positions."""
        q = (q | (q << 8)) & 0x00FF00FF
        q = (q | (q << 4)) & 0x0F0F0F0F
        q = (q | (q << 2)) & 0x33333333
        return (q | (q << 1)) & 0x55555555

    if x.size == 0:
        return np.zeros(0, dtype=np.intp)
    span = max(float(np.ptp(x)), float(np.ptp(y))) or 1.0
    qx = ((x - x.min()) * (65535 / span)).astype(np.int64)
    qy = ((y - y.min()) * (65535 / span)).astype(np.int64)
    return np.argsort(spread(qx) | (spread(qy) << 1), kind="stable")


def _time_ferries(
    rows: WayRows,
    length: NDArray[np.float64],
    fwd: NDArray[np.float64],
    bwd: NDArray[np.float64],
    profile: SpeedProfile,
) -> None:
    """Spread each ferry crossing's time (duration + wait) over its segments, in place."""
    way_index = np.asarray(rows.way_index)
    for index, tags in rows.ferries:
        on_way = way_index == index
        total_m = float(length[on_way].sum())
        total_s = ferry_time_s(tags, total_m, profile)
        share = length[on_way] / total_m if total_m > 0 else 1.0 / int(on_way.sum())
        fwd[on_way] = total_s * share
        bwd[on_way] = total_s * share


# --------------------------------------------------------------------------- caching

_ARRAY_FIELDS = (
    "node_osm_id", "node_x", "node_y", "node_lon", "node_lat", "seg_u", "seg_v",
    "seg_length_m", "seg_time_fwd_s", "seg_time_bwd_s", "seg_highway",
)
#: Bump when the cached arrays change meaning; older caches are then ignored.
#: 3: nodes numbered along a Z-order curve (:func:`_spatial_order`).
CACHE_FORMAT = 3


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Return the sha256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """Return ``$ACCESSMAP_CACHE_DIR`` or ``~/.cache/accessmap``."""
    env = os.environ.get("ACCESSMAP_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "accessmap"


def _cache_key(path: Path, profile: SpeedProfile) -> str:
    return f"{file_sha256(path)[:24]}-{profile.fingerprint()}-{__version__}-f{CACHE_FORMAT}"


def _cache_path(path: Path, profile: SpeedProfile, cache_dir: Path) -> Path:
    return cache_dir / f"network-{profile.mode}-{_cache_key(path, profile)}.npz"


def _save_cache(network: RoadNetwork, target: Path, key: str) -> None:
    """Write the arrays to ``target`` atomically (temporary file, then rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".{os.getpid()}.tmp.npz")
    arrays = {name: getattr(network, name) for name in _ARRAY_FIELDS}
    try:
        np.savez(tmp, crs=np.asarray(network.crs), source=np.asarray(network.source),
                 key=np.asarray(key), **arrays)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _load_cache(target: Path, profile: SpeedProfile, key: str) -> RoadNetwork | None:
    """Return the cached network, or None (with a warning) if it is unusable."""
    try:
        with open(target, "rb") as handle, np.load(handle, allow_pickle=False) as data:
            arrays = {name: data[name] for name in _ARRAY_FIELDS}
            crs, source, stored = str(data["crs"]), str(data["source"]), str(data["key"])
        problem = None if stored == key else f"it was made for key {stored}"
        problem = problem or _cache_problem(arrays)
    except Exception as err:  # any unreadable cache is ignored
        problem = f"{type(err).__name__}: {err}"
    if problem:
        logger.warning("ignoring unusable network cache %s (%s); rebuilding it", target,
                       problem)
        return None
    return RoadNetwork(mode=profile.mode, crs=crs, profile=profile, source=source, **arrays)


def _cache_problem(arrays: dict[str, NDArray[Any]]) -> str | None:
    n_nodes = arrays["node_x"].size
    if any(arrays[f].size != n_nodes for f in _ARRAY_FIELDS if f.startswith("node_")):
        return "node arrays differ in length"
    n_seg = arrays["seg_u"].size
    if n_seg == 0 or any(arrays[f].size != n_seg for f in _ARRAY_FIELDS if f.startswith("seg_")):
        return "segment arrays are empty or differ in length"
    ends = np.concatenate([arrays["seg_u"], arrays["seg_v"]])
    if ends.min() < 0 or ends.max() >= n_nodes:
        return "segment ends out of range"
    return None


# --------------------------------------------------------------------------- public API

_OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz")


def load_network(
    path: str | os.PathLike[str],
    *,
    mode: str = "walk",
    profile: SpeedProfile | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
) -> RoadNetwork:
    """Load a routable network for one mode from an OSM extract or a GraphML file.

    Parameters
    ----------
    path
        ``.osm.pbf``, ``.osm``/``.osm.bz2``/``.osm.gz`` (OSM XML) or ``.graphml``.
    mode : {"walk", "drive"}
        Travel mode; ignored when ``profile`` is given.
    profile
        Speeds and rules; defaults to :meth:`SpeedProfile.default` for ``mode``.
    cache_dir
        Where built networks are cached (keyed by the file's sha256, the profile, the
        accessmap version and the cache format); defaults to :func:`default_cache_dir`.
    use_cache
        Read and write the cache (OSM files only).
    progress
        Called with the number of ways read so far while parsing.

    Returns
    -------
    RoadNetwork

    Raises
    ------
    InputFileError
        The file is missing, of an unknown format, unreadable or corrupt.
    NetworkError
        The file has no routable ways for the mode.
    InputDataError
        A GraphML file lacks coordinates or edge lengths.
    ConfigError
        Unknown mode.
    """
    path = Path(path)
    profile = profile or SpeedProfile.default(mode)
    if not path.is_file():
        raise InputFileError(f"road network file {path} does not exist; check the path")
    name = path.name.lower()
    if name.endswith(".graphml"):
        return _load_graphml(path, profile)
    if not name.endswith(_OSM_SUFFIXES):
        raise InputFileError(
            f"{path}: unknown road network format; give an OpenStreetMap extract "
            "(.osm.pbf, .osm, .osm.bz2, .osm.gz) or a .graphml file"
        )
    if not use_cache:
        return _parse_osm(path, profile, progress)
    key = _cache_key(path, profile)
    cache = (Path(cache_dir) if cache_dir else default_cache_dir()) / (
        f"network-{profile.mode}-{key}.npz")
    if cache.is_file() and (network := _load_cache(cache, profile, key)) is not None:
        logger.info("loaded %s network from cache %s (parsing skipped)", profile.mode, cache)
        return network
    network = _parse_osm(path, profile, progress)
    try:
        _save_cache(network, cache, key)
        logger.info("cached %s network at %s", profile.mode, cache)
    except OSError as err:
        logger.warning("could not write network cache %s (%s)", cache, err)
    return network


def _parse_osm(path: Path, profile: SpeedProfile, progress: Progress | None) -> RoadNetwork:
    try:
        rows = collect_ways(path, profile, progress=progress)
    except RuntimeError as err:
        raise InputFileError(
            f"{path}: cannot read this OpenStreetMap file ({err}); it may be truncated or "
            "corrupt: download the extract again"
        ) from None
    return _network_from_rows(rows, profile, str(path))


def _load_graphml(path: Path, profile: SpeedProfile) -> RoadNetwork:
    import networkx as nx

    try:
        graph = nx.read_graphml(path, force_multigraph=True)
    except Exception as err:  # parser errors vary
        raise InputFileError(
            f"{path}: not a readable GraphML file ({err}); save it again with "
            "osmnx.save_graphml or give the OSM extract"
        ) from None
    return network_from_graph(graph, profile=profile, source=str(path))


def network_from_graph(
    graph: Any,
    *,
    mode: str = "walk",
    profile: SpeedProfile | None = None,
    source: str = "graph",
    use_travel_time: bool = False,
) -> RoadNetwork:
    """Build a :class:`RoadNetwork` from an osmnx-style networkx graph in memory.

    Nodes need ``x``/``y`` in degrees (lon/lat); edges need ``length`` in metres and
    should carry ``highway``.  Each directed edge becomes a segment usable in its own
    direction (in walk mode, and for undirected graphs, in both directions).  Parallel
    edges are kept; routing uses the fastest of them.

    Parameters
    ----------
    graph
        ``networkx`` (Multi)(Di)Graph, e.g. from ``osmnx.graph_from_place``.
    mode, profile
        Travel mode or full speed profile (as for :func:`load_network`).
    source
        Name used in messages.
    use_travel_time
        Keep the edges' own ``travel_time`` (seconds, e.g. from
        ``osmnx.routing.add_edge_travel_times``) instead of the profile's speeds.

    Raises
    ------
    InputDataError
        A node lacks coordinates (or they are not degrees) or an edge lacks a length.
    NetworkError
        No edge is usable by the mode.
    """
    profile = profile or SpeedProfile.default(mode)
    nodes = list(graph.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    try:
        lon = np.array([float(graph.nodes[n]["x"]) for n in nodes])
        lat = np.array([float(graph.nodes[n]["y"]) for n in nodes])
    except (KeyError, TypeError, ValueError):
        raise InputDataError(
            f"{source}: every node needs numeric 'x' and 'y' (longitude, latitude) attributes"
        ) from None
    _check_lonlat(lon, lat, source)
    rows = rows_from_graph(graph, index, profile, source, use_travel_time=use_travel_time)
    rows.node_ref = array("q", range(len(nodes)))
    rows.node_lon, rows.node_lat = array("d", lon.tolist()), array("d", lat.tolist())
    network = _network_from_rows(rows, profile, source)
    ids = np.asarray(nodes_as_ids(nodes), dtype=np.int64)
    return dataclasses.replace(network, node_osm_id=ids[network.node_osm_id])


def nodes_as_ids(nodes: Iterable[Any]) -> list[int]:
    """Return integer ids for graph nodes (their own value when numeric, else their rank)."""
    out = []
    for rank, node in enumerate(nodes):
        try:
            out.append(int(node))
        except (TypeError, ValueError):
            out.append(rank)
    return out


# --------------------------------------------------------------------------- sanity checks


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
    west, south, east, north = network.bounds_lonlat()
    pad = network.profile.max_snap_m / 111_000

    def inside(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.bool_]:
        return (x >= west - pad) & (x <= east + pad) & (y >= south - pad) & (y <= north + pad)

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


# --------------------------------------------------------------------------- components


def component_report(
    network: RoadNetwork, access: Access, population: NDArray[np.float64]
) -> dict[str, Any]:
    """Summarise disconnected pieces of the network for ``summary.json``.

    Parameters
    ----------
    network
        The routable network.
    access
        Result of :func:`accessmap.catchments.nearest_facility_times` (its snaps).
    population
        People per demand point, aligned with ``access.point_snap``.

    Returns
    -------
    dict
        ``components`` (count of weakly connected pieces), ``largest_share_of_nodes``,
        ``population_on_pieces_without_facility`` (people snapped onto a piece that no
        facility is snapped onto) and ``facilities_on_minor_pieces`` (facilities snapped
        onto any piece but the largest).
    """
    piece = network.component
    n_pieces = int(piece.max()) + 1 if piece.size else 0
    fac = access.facility_snap
    fac_piece = piece[network.seg_u[fac.segment[fac.on_network]]]
    served = np.zeros(n_pieces, dtype=bool)
    served[fac_piece] = True
    pts = access.point_snap
    pop = np.asarray(population, dtype=np.float64)
    on = pts.on_network
    point_piece = piece[network.seg_u[pts.segment[on]]]
    stranded = float(pop[on][~served[point_piece]].sum())
    largest = float(np.bincount(piece).max()) / piece.size if piece.size else 0.0
    report = {
        "components": n_pieces,
        "largest_share_of_nodes": round(largest, 4),
        "population_on_pieces_without_facility": round(stranded, 1),
        "facilities_on_minor_pieces": int((fac_piece != 0).sum()),
    }
    logger.info("network pieces: %s", report)
    return report


# --------------------------------------------------------------------------- snapping


@dataclass(frozen=True)
class Snap:
    """Where points meet the network: nearest usable segment, position along it, distance.

    ``segment`` is -1 for points farther than the profile's ``max_snap_m``.
    """

    segment: NDArray[np.int64]
    fraction: NDArray[np.float64]
    distance_m: NDArray[np.float64]

    @property
    def on_network(self) -> NDArray[np.bool_]:
        """True where the point was snapped."""
        return self.segment >= 0


#: Nearest samples fetched per point by ``snap_points`` before its exact fallback.
_SNAP_K = 6

#: Points per block in ``snap_points`` (bounds its temporary arrays).
_SNAP_BLOCK = 16_384

#: Slack (m) for rounding in the snapping bounds (sample coordinates, distances).
_SNAP_EPS_M = 1e-6


def snap_points(
    network: RoadNetwork, x: NDArray[np.float64], y: NDArray[np.float64]
) -> Snap:
    """Snap points (network CRS, metres) to the nearest point of the nearest segment.

    Exact: the same segment, distance and fraction as a search over every segment
    (ties go to the lowest segment index).  Points beyond
    ``network.profile.max_snap_m`` get segment -1 and are reported by the caller as
    off-network, never snapped kilometres away.

    Raises
    ------
    InputDataError
        Every point is more than 1,000 km from the network (degrees passed as metres,
        or another CRS).

    Notes
    -----
    Each point takes the ``_SNAP_K`` nearest segment samples (``sample_tree``) and the
    exact distances to their segments; the best of those, ``d``, is final when every
    other segment is provably farther.  A segment none of whose samples is among them
    has all its samples at least ``d_k`` (the k-th sample distance) away, and its
    pieces between samples are at most ``SNAP_SAMPLE_M`` long, so it is at least
    ``sqrt(d_k**2 - (SNAP_SAMPLE_M / 2)**2)`` away.  The few points where that does not
    settle it take every sample within ``sqrt(d**2 + (SNAP_SAMPLE_M / 2)**2)`` (every
    segment at distance <= d has one) and the exact search over their segments.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    _check_projected(network, x, y)
    segment = np.full(x.size, -1, dtype=np.int64)
    distance = np.full(x.size, np.inf)
    fraction = np.zeros(x.size)
    if x.size == 0 or network.n_segments == 0:
        return Snap(segment, fraction, distance)
    limit = network.profile.max_snap_m
    reach = limit + SNAP_SAMPLE_M  # samples beyond this are never needed
    half2 = (SNAP_SAMPLE_M / 2) ** 2
    tree = network.sample_tree
    sample_seg = np.append(network.sample_segment, -1)  # the tree's "missing" index maps to -1
    k = min(_SNAP_K, tree.n)
    unsettled: list[NDArray[np.int64]] = []
    for lo in range(0, x.size, _SNAP_BLOCK):
        hi = min(lo + _SNAP_BLOCK, x.size)
        px, py = x[lo:hi, None], y[lo:hi, None]
        dk, ik = tree.query(np.column_stack([x[lo:hi], y[lo:hi]]), k=k,
                            distance_upper_bound=reach, workers=-1)
        cand = sample_seg[ik.reshape(hi - lo, k)]
        dist, frac = _segment_distances(network, px, py, cand)
        seg, best_d, best_f = _nearest_candidate(cand, dist, frac)
        # Lower bound on the distance of every segment that is not a candidate.
        last = np.minimum(dk.reshape(hi - lo, k)[:, -1], reach)
        other = np.sqrt(np.maximum(last * last - half2, 0.0)) - _SNAP_EPS_M
        settled = (best_d < other) | ((best_d > limit) & (other > limit))
        keep = settled & (best_d <= limit)
        idx = np.flatnonzero(keep) + lo
        segment[idx] = seg[keep]
        distance[idx] = best_d[keep]
        fraction[idx] = best_f[keep]
        unsettled.append(np.flatnonzero(~settled) + lo)
    rest = np.concatenate(unsettled)
    if rest.size:
        _snap_exhaustive(network, x, y, rest, segment, distance, fraction)
    return Snap(segment, fraction, distance)


def _segment_distances(
    network: RoadNetwork, px: NDArray[np.float64], py: NDArray[np.float64],
    seg: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Exact distance and fraction from points to segments (``seg`` -1: distance inf).

    The arithmetic follows GEOS (``Distance::pointToSegment`` and the length index of
    ``line_locate_point``), so results equal ``shapely.distance`` and
    ``shapely.line_locate_point(..., normalized=True)`` on the segment's LineString
    (zero-length segments: fraction 0).
    """
    s = np.maximum(seg, 0)
    ax, ay = network.node_x[network.seg_u[s]], network.node_y[network.seg_u[s]]
    bx, by = network.node_x[network.seg_v[s]], network.node_y[network.seg_v[s]]
    dx, dy = bx - ax, by - ay
    len2 = dx * dx + dy * dy
    with np.errstate(divide="ignore", invalid="ignore"):
        r = ((px - ax) * dx + (py - ay) * dy) / len2
        perp = np.abs(((ay - py) * dx - (ax - px) * dy) / len2) * np.sqrt(len2)
        length = np.sqrt(len2)
        frac = np.where(r <= 0.0, 0.0, np.where(r >= 1.0, length, r * length)) / length
    ex, ey = px - ax, py - ay
    to_a = np.sqrt(ex * ex + ey * ey)
    ex, ey = px - bx, py - by
    to_b = np.sqrt(ex * ex + ey * ey)
    degenerate = (dx == 0.0) & (dy == 0.0)
    dist = np.where(degenerate | (r <= 0.0), to_a, np.where(r >= 1.0, to_b, perp))
    dist[seg < 0] = np.inf
    frac[degenerate | (seg < 0)] = 0.0
    return dist, frac


def _nearest_candidate(
    cand: NDArray[np.int64], dist: NDArray[np.float64], frac: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Row-wise nearest candidate (ties: lowest segment index): segment, distance, fraction."""
    best_d = dist.min(axis=1)
    tied = np.where(dist == best_d[:, None], cand, np.iinfo(np.int64).max)
    col = np.argmin(tied, axis=1)
    rows = np.arange(cand.shape[0])
    return cand[rows, col], best_d, frac[rows, col]


def _snap_exhaustive(
    network: RoadNetwork, x: NDArray[np.float64], y: NDArray[np.float64],
    idx: NDArray[np.int64], segment: NDArray[np.int64], distance: NDArray[np.float64],
    fraction: NDArray[np.float64],
) -> None:
    """Exact snap of points ``idx`` over every sample within their proven radius."""
    limit = network.profile.max_snap_m
    tree = network.sample_tree
    pts = np.column_stack([x[idx], y[idx]])
    # Any sample gives an upper bound on the distance to the network.
    first, _ = tree.query(pts, k=1)
    bound = np.minimum(first, limit)
    radius = np.sqrt(bound * bound + (SNAP_SAMPLE_M / 2) ** 2) + _SNAP_EPS_M
    found = tree.query_ball_point(pts, radius, workers=-1, return_sorted=False)
    counts = np.fromiter((len(f) for f in found), dtype=np.int64, count=len(found))
    if counts.sum() == 0:
        return
    owner = np.repeat(np.arange(idx.size), counts)
    seg = network.sample_segment[np.concatenate([np.asarray(f, dtype=np.int64)
                                                 for f in found if len(f)])]
    dist, frac = _segment_distances(network, x[idx][owner], y[idx][owner], seg)
    order = np.lexsort((seg, dist, owner))
    head = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
    head = head[dist[head] <= limit]
    hit = idx[owner[head]]
    segment[hit] = seg[head]
    distance[hit] = dist[head]
    fraction[hit] = frac[head]


def entry_points(
    network: RoadNetwork, snap: Snap, *, towards_network: bool
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Return how snapped points enter the graph: (point index, node, cost in seconds).

    Each snapped point enters at both ends of its segment; the cost is the off-road walk
    plus the part of the segment between the snap point and that end.

    Parameters
    ----------
    towards_network
        True for trips that start at the point (homes travelling to care): the point
        reaches node u by moving along the segment from the snap point to u (backward
        direction). False for trips that end at the point (a facility reached from the
        network): node u reaches the snap point by moving forward from u.
    """
    ok, cost_u, cost_v = entry_costs(network, snap, towards_network=towards_network)
    seg = snap.segment[ok]
    point = np.concatenate([ok, ok])
    node = np.concatenate([network.seg_u[seg], network.seg_v[seg]])
    cost = np.concatenate([cost_u, cost_v])
    keep = np.isfinite(cost)
    return point[keep], node[keep], cost[keep]


def entry_costs(
    network: RoadNetwork, snap: Snap, *, towards_network: bool
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Return the snapped points and their entry costs (s) at each end of their segment.

    ``(point, cost_u, cost_v)``: the points on the network (indices into ``snap``), and
    per point the cost of entering at node ``seg_u`` / ``seg_v`` of its segment (``inf``
    when that direction is not allowed), as in :func:`entry_points`, which lists the
    same entries one per row without the infinite ones.
    """
    ok = np.flatnonzero(snap.on_network)
    seg = snap.segment[ok]
    t = snap.fraction[ok]
    offroad = network.profile.offroad_seconds(snap.distance_m[ok])
    fwd = network.seg_time_fwd_s[seg]
    bwd = network.seg_time_bwd_s[seg]
    to_u, to_v = (bwd, fwd) if towards_network else (fwd, bwd)
    return ok, offroad + _part_time(t, to_u), offroad + _part_time(1 - t, to_v)


def _part_time(share: NDArray[np.float64], time_s: NDArray[np.float64]) -> NDArray[np.float64]:
    """Time for ``share`` of a segment; a point exactly at the end costs 0 even if blocked."""
    with np.errstate(invalid="ignore"):
        return np.where(share > 0, share * time_s, 0.0)
