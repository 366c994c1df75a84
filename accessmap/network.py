"""Road networks: OpenStreetMap files or graphs -> routable segment arrays per travel mode.

A :class:`RoadNetwork` holds one row per straight road *segment* (two consecutive OSM
nodes of a way), in a projected metric CRS, with a travel time in each direction
(``inf`` where the mode may not use that direction).  The routable graph handed to
:mod:`accessmap.engine` is built straight from these arrays, never through networkx.

Speeds come from a :class:`SpeedProfile`; the defaults and their sources are documented
in ``DEFAULT_DRIVE_SPEEDS_KPH`` and ``DEFAULT_WALK_SPEEDS_KPH`` below and in the README.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyproj
import scipy.sparse
import shapely
from numpy.typing import NDArray

from accessmap import __version__, engine
from accessmap._errors import ConfigError, InputDataError, InputFileError, NetworkError

logger = logging.getLogger(__name__)

Mode = Literal["walk", "drive"]
MODES: tuple[str, ...] = ("walk", "drive")

#: Vehicle speeds (km/h) per OSM ``highway`` class for low- and middle-income settings.
#: Chosen after the road-class speeds used for sub-Saharan Africa by Ouma et al. (2018,
#: Lancet Global Health, "Access to emergency hospital care ...") and the default
#: scenario tables of WHO AccessMod 5, rounded down for mixed traffic (minibus,
#: moto-taxi); ``*_link`` roads run at 80% of their parent class.
DEFAULT_DRIVE_SPEEDS_KPH: dict[str, float] = {
    "motorway": 80.0,
    "trunk": 70.0,
    "primary": 60.0,
    "secondary": 50.0,
    "tertiary": 40.0,
    "unclassified": 30.0,
    "residential": 25.0,
    "living_street": 10.0,
    "service": 15.0,
    "road": 25.0,
    "track": 15.0,
    "motorway_link": 64.0,
    "trunk_link": 56.0,
    "primary_link": 48.0,
    "secondary_link": 40.0,
    "tertiary_link": 32.0,
}

#: Walking speeds (km/h): 5 km/h on made ways (the usual planning value, e.g.
#: AccessMod and Weiss et al. 2020 walking-only friction surface), slower on rough
#: paths and tracks, slowest on steps.  Motorways are not walkable.
DEFAULT_WALK_SPEEDS_KPH: dict[str, float] = {
    "trunk": 5.0,
    "trunk_link": 5.0,
    "primary": 5.0,
    "primary_link": 5.0,
    "secondary": 5.0,
    "secondary_link": 5.0,
    "tertiary": 5.0,
    "tertiary_link": 5.0,
    "unclassified": 5.0,
    "residential": 5.0,
    "living_street": 5.0,
    "service": 5.0,
    "road": 5.0,
    "pedestrian": 5.0,
    "footway": 5.0,
    "sidewalk": 5.0,
    "crossing": 5.0,
    "cycleway": 5.0,
    "bridleway": 4.0,
    "track": 4.5,
    "path": 4.0,
    "steps": 2.0,
}

#: Multipliers applied to vehicle speeds for rough roads (``surface``, ``smoothness``,
#: ``tracktype``); the smallest applicable factor is used.
DEFAULT_SURFACE_FACTORS: dict[str, float] = {
    "unpaved": 0.7,
    "dirt": 0.6,
    "earth": 0.6,
    "ground": 0.6,
    "mud": 0.4,
    "sand": 0.5,
    "gravel": 0.8,
    "fine_gravel": 0.8,
    "compacted": 0.85,
    "grass": 0.5,
    "smoothness=bad": 0.7,
    "smoothness=very_bad": 0.5,
    "smoothness=horrible": 0.35,
    "smoothness=very_horrible": 0.25,
    "smoothness=impassable": 0.1,
    "tracktype=grade2": 0.9,
    "tracktype=grade3": 0.75,
    "tracktype=grade4": 0.6,
    "tracktype=grade5": 0.5,
}

_ONEWAY_FORWARD = {"yes", "true", "1"}
_ONEWAY_BACKWARD = {"-1", "reverse"}
_NO_ACCESS = {"no", "private"}


@dataclass(frozen=True)
class SpeedProfile:
    """Travel speeds for one mode.

    Parameters
    ----------
    mode
        ``"walk"`` or ``"drive"``.
    speeds_kph
        Speed per OSM ``highway`` class; classes absent from the table are not routable.
    default_kph
        Speed for highway classes not in ``speeds_kph``; ``None`` excludes them.
    surface_factors
        Multipliers for rough surfaces (keys: ``surface`` values, ``smoothness=...``,
        ``tracktype=...``); applied to vehicle speeds only.
    ferry_kph
        Ferry speed when a ferry way has no ``duration`` tag.
    ferry_wait_min
        Boarding wait added to each ferry crossing.
    offroad_kph
        Walking speed from a home or facility to the nearest road.
    detour_factor
        Straight-line distance to the road is multiplied by this (paths are not straight).
    max_snap_m
        Points farther than this from any usable road are reported as off-network.
    """

    mode: str
    speeds_kph: Mapping[str, float]
    default_kph: float | None = None
    surface_factors: Mapping[str, float] = field(default_factory=dict)
    ferry_kph: float = 15.0
    ferry_wait_min: float = 60.0
    offroad_kph: float = 5.0
    detour_factor: float = 1.3
    max_snap_m: float = 5000.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"unknown travel mode {self.mode!r}; use one of {', '.join(MODES)}")
        for name, kph in {**self.speeds_kph, "ferry_kph": self.ferry_kph,
                          "offroad_kph": self.offroad_kph}.items():
            _check_positive(f"speed for {name!r}", kph)
        if self.default_kph is not None:
            _check_positive("default speed", self.default_kph)
        for name, factor in self.surface_factors.items():
            if not (0 < float(factor) <= 1):
                raise ConfigError(
                    f"surface factor for {name!r} is {factor}; it must be in (0, 1]"
                )
        if self.ferry_wait_min < 0:
            raise ConfigError(f"ferry wait is {self.ferry_wait_min} min; it must be >= 0")
        if self.detour_factor < 1:
            raise ConfigError(f"detour factor is {self.detour_factor}; it must be >= 1")
        _check_positive("maximum snap distance (m)", self.max_snap_m)

    @classmethod
    def default(cls, mode: str, **overrides: Any) -> SpeedProfile:
        """Return the documented default profile for ``mode``, with ``overrides`` applied.

        Parameters
        ----------
        mode : {"walk", "drive"}
            Travel mode.
        **overrides
            Any field of :class:`SpeedProfile`; ``speeds_kph`` and ``surface_factors``
            are merged into the defaults rather than replacing them.

        Examples
        --------
        >>> SpeedProfile.default("drive", speeds_kph={"track": 10}).speeds_kph["track"]
        10.0
        """
        if mode not in MODES:
            raise ConfigError(f"unknown travel mode {mode!r}; use one of {', '.join(MODES)}")
        speeds = dict(DEFAULT_WALK_SPEEDS_KPH if mode == "walk" else DEFAULT_DRIVE_SPEEDS_KPH)
        speeds.update({k: float(v) for k, v in overrides.pop("speeds_kph", {}).items()})
        factors = dict(DEFAULT_SURFACE_FACTORS) if mode == "drive" else {}
        factors.update({k: float(v) for k, v in overrides.pop("surface_factors", {}).items()})
        return cls(mode=mode, speeds_kph=speeds, surface_factors=factors, **overrides)

    def fingerprint(self) -> str:
        """Return a short stable hash of every setting (used in cache keys)."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def offroad_seconds(self, distance_m: NDArray[np.float64]) -> NDArray[np.float64]:
        """Return the time to walk ``distance_m`` straight-line metres off the road."""
        return np.asarray(distance_m) * self.detour_factor / (self.offroad_kph / 3.6)


def _check_positive(what: str, value: float) -> None:
    try:
        ok = float(value) > 0 and np.isfinite(float(value))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError(f"{what} is {value!r}; speeds and distances must be positive numbers")


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
    def segment_lines(self) -> NDArray[np.object_]:
        """Segments as shapely LineStrings in the projected CRS."""
        coords = np.stack(
            [
                np.column_stack([self.node_x[self.seg_u], self.node_y[self.seg_u]]),
                np.column_stack([self.node_x[self.seg_v], self.node_y[self.seg_v]]),
            ],
            axis=1,
        )
        return shapely.linestrings(coords)

    @cached_property
    def transformer(self) -> pyproj.Transformer:
        """WGS84 -> projected CRS transformer."""
        return pyproj.Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)

    def project(
        self, lon: NDArray[np.float64], lat: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Project WGS84 longitudes/latitudes into the network CRS (metres)."""
        x, y = self.transformer.transform(np.asarray(lon, float), np.asarray(lat, float))
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

        Nodes carry ``x``/``y`` (lon/lat) and ``osmid``; edges ``length`` (m),
        ``travel_time`` (s) and ``highway``; the graph ``crs`` is EPSG:4326.
        """
        import networkx as nx

        graph = nx.MultiDiGraph(crs="EPSG:4326", mode=self.mode)
        for i in range(self.n_nodes):
            graph.add_node(
                i, x=float(self.node_lon[i]), y=float(self.node_lat[i]),
                osmid=int(self.node_osm_id[i]),
            )
        for tails, heads, times in (
            (self.seg_u, self.seg_v, self.seg_time_fwd_s),
            (self.seg_v, self.seg_u, self.seg_time_bwd_s),
        ):
            ok = np.isfinite(times)
            for a, b, t, length, hw in zip(
                tails[ok], heads[ok], times[ok], self.seg_length_m[ok], self.seg_highway[ok],
                strict=True,
            ):
                graph.add_edge(int(a), int(b), length=float(length), travel_time=float(t),
                               highway=str(hw))
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


# --------------------------------------------------------------------------- reading OSM


@dataclass
class _WayRows:
    """Segments collected from OSM ways before node ids are indexed."""

    a: list[int] = field(default_factory=list)
    b: list[int] = field(default_factory=list)
    fwd_kph: list[float] = field(default_factory=list)
    bwd_kph: list[float] = field(default_factory=list)
    way_index: list[int] = field(default_factory=list)
    highway: list[str] = field(default_factory=list)
    coords: dict[int, tuple[float, float]] = field(default_factory=dict)
    ferries: list[tuple[int, dict[str, str]]] = field(default_factory=list)


def _parse_speed(text: str | None) -> float | None:
    """Parse an OSM ``maxspeed`` value to km/h (``"50"``, ``"30 mph"``); None if unusable."""
    if not text:
        return None
    match = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(mph|km/h|kmh|kph)?\s*$", text)
    if not match:
        return None
    value = float(match.group(1))
    if match.group(2) == "mph":
        value *= 1.609344
    return value if value > 0 else None


def _parse_duration_s(text: str | None) -> float | None:
    """Parse an OSM ``duration`` tag (``"HH:MM"``, ``"HH:MM:SS"`` or minutes) to seconds."""
    if not text:
        return None
    parts = text.strip().split(":")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        return None
    if len(numbers) == 1:
        seconds = numbers[0] * 60
    elif len(numbers) == 2:
        seconds = numbers[0] * 3600 + numbers[1] * 60
    elif len(numbers) == 3:
        seconds = numbers[0] * 3600 + numbers[1] * 60 + numbers[2]
    else:
        return None
    return seconds if seconds > 0 else None


def way_speeds_kph(tags: Mapping[str, str], profile: SpeedProfile) -> tuple[float, float] | None:
    """Return (forward, backward) speeds in km/h of a highway way, or None if not usable.

    A direction that is not allowed gets speed 0.

    Parameters
    ----------
    tags
        The way's OSM tags.
    profile
        Speeds and rules of the travel mode.
    """
    highway = tags.get("highway")
    if highway is None:
        return None
    speed = profile.speeds_kph.get(highway, profile.default_kph)
    if speed is None:
        return None
    if profile.mode == "walk":
        if tags.get("foot") in _NO_ACCESS or (
            tags.get("access") in _NO_ACCESS and tags.get("foot") not in {"yes", "designated"}
        ):
            return None
        return float(speed), float(speed)
    if tags.get("access") in _NO_ACCESS or tags.get("motor_vehicle") in _NO_ACCESS:
        return None
    maxspeed = _parse_speed(tags.get("maxspeed"))
    if maxspeed is not None:
        speed = maxspeed
    speed = float(speed) * _roughness_factor(tags, profile.surface_factors)
    oneway = tags.get("oneway", "")
    implied = highway in {"motorway", "motorway_link"} or tags.get("junction") in {
        "roundabout",
        "circular",
    }
    if oneway in _ONEWAY_FORWARD or (implied and oneway not in {"no", "false", "0"}):
        return speed, 0.0
    if oneway in _ONEWAY_BACKWARD:
        return 0.0, speed
    return speed, speed


def _roughness_factor(tags: Mapping[str, str], factors: Mapping[str, float]) -> float:
    keys = [tags.get("surface", ""), f"smoothness={tags.get('smoothness', '')}",
            f"tracktype={tags.get('tracktype', '')}"]
    return min([factors[k] for k in keys if k in factors], default=1.0)


def _ferry_time_s(tags: Mapping[str, str], length_m: float, profile: SpeedProfile) -> float:
    duration = _parse_duration_s(tags.get("duration"))
    travel = duration if duration is not None else length_m / (profile.ferry_kph / 3.6)
    return travel + profile.ferry_wait_min * 60


def _collect_ways(path: Path, profile: SpeedProfile) -> _WayRows:
    """Read highway and ferry ways with node locations from an OSM PBF/XML file."""
    import osmium

    rows = _WayRows()
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway", "route"))
    )
    n_ways = 0
    for way in processor:
        tags = dict(way.tags)
        if tags.get("route") == "ferry" and "highway" not in tags:
            speeds: tuple[float, float] | None = (1.0, 1.0)
            is_ferry = True
        else:
            speeds = way_speeds_kph(tags, profile)
            is_ferry = False
        if speeds is None or (speeds[0] == 0 and speeds[1] == 0):
            continue
        refs = []
        for node in way.nodes:
            if not node.location.valid():
                continue
            refs.append(node.ref)
            rows.coords[node.ref] = (node.location.lon, node.location.lat)
        if len(refs) < 2:
            continue
        if is_ferry:
            rows.ferries.append((n_ways, tags))
        for a, b in zip(refs[:-1], refs[1:], strict=True):
            if a == b:
                continue
            rows.a.append(a)
            rows.b.append(b)
            rows.fwd_kph.append(speeds[0])
            rows.bwd_kph.append(speeds[1])
            rows.way_index.append(n_ways)
            rows.highway.append("ferry" if is_ferry else tags["highway"])
        n_ways += 1
    logger.info("read %d usable ways (%d segments) for %s from %s",
                n_ways, len(rows.a), profile.mode, path.name)
    return rows


def _utm_crs(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> str:
    """Return the EPSG code of the UTM zone at the centre of the points."""
    lon_c = float(np.median(lon))
    lat_c = float(np.median(lat))
    zone = int(np.floor((lon_c + 180) / 6) % 60) + 1
    return f"EPSG:{(32600 if lat_c >= 0 else 32700) + zone}"


def _network_from_rows(rows: _WayRows, profile: SpeedProfile, source: str) -> RoadNetwork:
    if not rows.a:
        raise NetworkError(
            f"{source}: no routable ways for mode {profile.mode!r}; check that the file is an "
            "OpenStreetMap extract with highway ways, or choose the other mode"
        )
    a = np.asarray(rows.a, dtype=np.int64)
    b = np.asarray(rows.b, dtype=np.int64)
    osm_ids, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    u, v = inverse[: a.size], inverse[a.size :]
    lonlat = np.array([rows.coords[int(i)] for i in osm_ids], dtype=np.float64)
    lon, lat = lonlat[:, 0], lonlat[:, 1]
    crs = _utm_crs(lon, lat)
    x, y = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    x, y = np.asarray(x, float), np.asarray(y, float)
    length = np.hypot(x[u] - x[v], y[u] - y[v])
    with np.errstate(divide="ignore"):
        fwd = length / (np.asarray(rows.fwd_kph) / 3.6)
        bwd = length / (np.asarray(rows.bwd_kph) / 3.6)
    highway = np.asarray(rows.highway)
    way_index = np.asarray(rows.way_index)
    for index, tags in rows.ferries:
        on_way = way_index == index
        total = _ferry_time_s(tags, float(length[on_way].sum()), profile)
        share = length[on_way] / max(float(length[on_way].sum()), 1e-9)
        fwd[on_way] = total * share
        bwd[on_way] = total * share
    return RoadNetwork(
        mode=profile.mode, crs=crs, node_osm_id=osm_ids, node_x=x, node_y=y,
        node_lon=lon, node_lat=lat, seg_u=u.astype(np.int64), seg_v=v.astype(np.int64),
        seg_length_m=length, seg_time_fwd_s=fwd, seg_time_bwd_s=bwd, seg_highway=highway,
        profile=profile, source=source,
    )


# --------------------------------------------------------------------------- caching

_ARRAY_FIELDS = (
    "node_osm_id", "node_x", "node_y", "node_lon", "node_lat", "seg_u", "seg_v",
    "seg_length_m", "seg_time_fwd_s", "seg_time_bwd_s", "seg_highway",
)


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


def _cache_path(path: Path, profile: SpeedProfile, cache_dir: Path) -> Path:
    key = f"{file_sha256(path)[:24]}-{profile.fingerprint()}-{__version__}"
    return cache_dir / f"network-{profile.mode}-{key}.npz"


def _save_cache(network: RoadNetwork, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".{os.getpid()}.tmp.npz")
    arrays = {name: getattr(network, name) for name in _ARRAY_FIELDS}
    np.savez(tmp, crs=np.asarray(network.crs), source=np.asarray(network.source), **arrays)
    os.replace(tmp, target)


def _load_cache(target: Path, profile: SpeedProfile) -> RoadNetwork | None:
    try:
        with np.load(target, allow_pickle=False) as data:
            arrays = {name: data[name] for name in _ARRAY_FIELDS}
            crs, source = str(data["crs"]), str(data["source"])
    except (OSError, KeyError, ValueError) as err:
        logger.warning("ignoring unreadable network cache %s (%s)", target, err)
        return None
    return RoadNetwork(mode=profile.mode, crs=crs, profile=profile, source=source, **arrays)


# --------------------------------------------------------------------------- public API

_OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz", ".xml")


def load_network(
    path: str | os.PathLike[str],
    *,
    mode: str = "walk",
    profile: SpeedProfile | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
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
        Where built networks are cached (keyed by the file's sha256 and the profile);
        defaults to :func:`default_cache_dir`.
    use_cache
        Read and write the cache.

    Returns
    -------
    RoadNetwork

    Raises
    ------
    InputFileError
        The file is missing, unreadable or corrupt.
    NetworkError
        The file has no routable ways for the mode.
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
    cache = _cache_path(path, profile, Path(cache_dir) if cache_dir else default_cache_dir())
    if use_cache and cache.is_file():
        network = _load_cache(cache, profile)
        if network is not None:
            logger.info("loaded %s network from cache %s (parsing skipped)", profile.mode, cache)
            return network
    try:
        rows = _collect_ways(path, profile)
    except RuntimeError as err:
        raise InputFileError(
            f"{path}: cannot read this OpenStreetMap file ({err}); it may be truncated or "
            "corrupt: download the extract again"
        ) from None
    network = _network_from_rows(rows, profile, str(path))
    if use_cache:
        try:
            _save_cache(network, cache)
            logger.info("cached %s network at %s", profile.mode, cache)
        except OSError as err:
            logger.warning("could not write network cache %s (%s)", cache, err)
    return network


def _load_graphml(path: Path, profile: SpeedProfile) -> RoadNetwork:
    import networkx as nx

    try:
        graph = nx.read_graphml(path, force_multigraph=True)
    except Exception as err:
        raise InputFileError(f"{path}: not a readable GraphML file ({err})") from None
    return network_from_graph(graph, profile=profile, source=str(path))


def network_from_graph(
    graph: Any, *, mode: str = "walk", profile: SpeedProfile | None = None, source: str = "graph"
) -> RoadNetwork:
    """Build a :class:`RoadNetwork` from an osmnx-style networkx graph in memory.

    Nodes need ``x``/``y`` in degrees (lon/lat); edges need ``length`` in metres and
    should carry ``highway``; speeds follow ``profile`` as for OSM files.  Each directed
    edge becomes a segment usable in its own direction (in walk mode, both directions).

    Raises
    ------
    InputDataError
        A node lacks coordinates or an edge lacks a length.
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
    rows = _WayRows()
    for i, n in enumerate(nodes):
        rows.coords[i] = (lon[i], lat[i])
    for u, v, data in graph.edges(data=True):
        if "length" not in data:
            raise InputDataError(
                f"{source}: edge {u}->{v} has no 'length' attribute; add lengths in metres "
                "(osmnx: ox.distance.add_edge_lengths) or give the OSM extract instead"
            )
        tags = {k: str(val) for k, val in data.items() if isinstance(val, str)}
        highway = tags.get("highway", "road")
        if highway.startswith("["):
            highway = highway.strip("[]'\" ").split("'")[0]
        tags["highway"] = highway
        speeds = way_speeds_kph(tags, profile)
        if speeds is None or speeds[0] == 0:
            continue
        rows.a.append(index[u])
        rows.b.append(index[v])
        rows.fwd_kph.append(speeds[0])
        rows.bwd_kph.append(speeds[1] if profile.mode == "walk" else 0.0)
        rows.way_index.append(len(rows.a))
        rows.highway.append(highway)
    network = _network_from_rows(rows, profile, source)
    return dataclasses.replace(network, node_osm_id=np.asarray(nodes_as_ids(nodes))[
        network.node_osm_id])


def nodes_as_ids(nodes: Iterable[Any]) -> list[int]:
    """Return integer ids for graph nodes (their own value when numeric, else their rank)."""
    out = []
    for rank, node in enumerate(nodes):
        try:
            out.append(int(node))
        except (TypeError, ValueError):
            out.append(rank)
    return out


def _check_lonlat(lon: NDArray[np.float64], lat: NDArray[np.float64], source: str) -> None:
    if lon.size and (np.abs(lat).max() > 90 or np.abs(lon).max() > 180):
        raise InputDataError(
            f"{source}: coordinates are outside longitude/latitude ranges (max |lat| "
            f"{np.abs(lat).max():.1f}); give coordinates in degrees (EPSG:4326)"
        )


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


def snap_points(
    network: RoadNetwork, x: NDArray[np.float64], y: NDArray[np.float64]
) -> Snap:
    """Snap points (network CRS, metres) to the nearest point of the nearest segment.

    Points beyond ``network.profile.max_snap_m`` get segment -1 and are reported by the
    caller as off-network, never snapped kilometres away.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    points = shapely.points(x, y)
    segment = np.full(x.size, -1, dtype=np.int64)
    distance = np.full(x.size, np.inf)
    fraction = np.zeros(x.size)
    if x.size == 0:
        return Snap(segment, fraction, distance)
    (point_i, seg_i), dist = network.segment_tree.query_nearest(
        points, max_distance=network.profile.max_snap_m, return_distance=True, all_matches=False
    )
    segment[point_i] = seg_i
    distance[point_i] = dist
    fraction[point_i] = shapely.line_locate_point(
        network.segment_lines[seg_i], points[point_i], normalized=True
    )
    fraction = np.nan_to_num(fraction, nan=0.0)
    return Snap(segment, fraction, distance)


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
    ok = np.flatnonzero(snap.on_network)
    seg = snap.segment[ok]
    t = snap.fraction[ok]
    offroad = network.profile.offroad_seconds(snap.distance_m[ok])
    fwd = network.seg_time_fwd_s[seg]
    bwd = network.seg_time_bwd_s[seg]
    to_u, to_v = (bwd, fwd) if towards_network else (fwd, bwd)
    cost_u = offroad + _part_time(t, to_u)
    cost_v = offroad + _part_time(1 - t, to_v)
    point = np.concatenate([ok, ok])
    node = np.concatenate([network.seg_u[seg], network.seg_v[seg]])
    cost = np.concatenate([cost_u, cost_v])
    keep = np.isfinite(cost)
    return point[keep], node[keep], cost[keep]


def _part_time(share: NDArray[np.float64], time_s: NDArray[np.float64]) -> NDArray[np.float64]:
    """Time for ``share`` of a segment; a point exactly at the end costs 0 even if blocked."""
    with np.errstate(invalid="ignore"):
        return np.where(share > 0, share * time_s, 0.0)
