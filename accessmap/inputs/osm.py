"""Reading OpenStreetMap files and networkx graphs into segment rows (private).

:func:`collect_ways` streams an ``.osm.pbf`` / ``.osm`` / ``.osm.bz2`` / ``.osm.gz``
file with pyosmium and keeps one row per consecutive node pair of every usable way;
:func:`rows_from_graph` does the same for an osmnx-style graph.  ``network`` turns the
rows into a :class:`~accessmap.network.RoadNetwork`.
"""

from __future__ import annotations

import itertools
import logging
import math
import warnings
from array import array
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from accessmap.errors import DataQualityWarning, InputDataError
from accessmap.progress import Tick
from accessmap.routing.modes import (
    MODES,
    NOT_ROUTABLE,
    SpeedProfile,
    ferry_usable,
    get_mode,
    way_speeds_kph,
)

__all__ = ["WayRows", "collect_ways", "rows_from_graph"]

logger = logging.getLogger(__name__)


#: Usable ways read between two ticks of :func:`collect_ways`.
_TICK_EVERY_WAYS = 10_000


#: File bytes per usable way, for the progress estimate of :func:`collect_ways`
#: (Comoros: ~770; extracts with many buildings have more bytes per road).
_BYTES_PER_WAY = 500.0


#: Unknown highway classes named in the warning of :func:`collect_ways`.
_TOP_CLASSES = 5


#: Threads decoding PBF blocks while :func:`collect_ways` reads the ways.
_DECODING_THREADS = 1


@dataclass
class WayRows:
    """Segments collected from OSM ways (or graph edges) before node ids are indexed.

    ``length_m`` is filled only when the source gives lengths (graph edges); otherwise
    lengths are measured between the projected node positions.  Numeric columns, node
    locations included, are typed arrays (``array('q')``/``array('d')``): compact while
    collecting (no Python object per node), and turned into numpy arrays without a
    per-item conversion.
    """

    a: array[int] = field(default_factory=lambda: array("q"))
    b: array[int] = field(default_factory=lambda: array("q"))
    fwd_kph: array[float] = field(default_factory=lambda: array("d"))
    bwd_kph: array[float] = field(default_factory=lambda: array("d"))
    way_index: array[int] = field(default_factory=lambda: array("q"))
    way_id: array[int] = field(default_factory=lambda: array("q"))
    highway: list[str] = field(default_factory=list)
    length_m: array[float] = field(default_factory=lambda: array("d"))
    node_ref: array[int] = field(default_factory=lambda: array("q"))
    node_lon: array[float] = field(default_factory=lambda: array("d"))
    node_lat: array[float] = field(default_factory=lambda: array("d"))
    ferries: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    def locations(self, refs: NDArray[np.int64]) -> tuple[NDArray[np.float64],
                                                          NDArray[np.float64]]:
        """Longitude and latitude of each of ``refs`` (each must have been recorded).

        A node recorded more than once (shared by ways) takes its last record.
        """
        known = np.frombuffer(self.node_ref, dtype=np.int64)
        order = np.argsort(known, kind="stable")
        last = order[np.searchsorted(known, refs, side="right", sorter=order) - 1]
        return (np.frombuffer(self.node_lon, dtype=np.float64)[last].copy(),
                np.frombuffer(self.node_lat, dtype=np.float64)[last].copy())


def _way_speeds(tags: Mapping[str, str], profile: SpeedProfile) -> tuple[float, float] | None:
    """Speeds of a highway way; ferries get (1, 1) as a marker (timed later)."""
    if tags.get("route") == "ferry" and "highway" not in tags:
        return (1.0, 1.0) if ferry_usable(tags) else None
    speeds = way_speeds_kph(tags, profile)
    if speeds is None or (speeds[0] == 0 and speeds[1] == 0):
        return None
    return speeds


def collect_ways(
    path: Path, profile: SpeedProfile, *, tick: Tick | None = None
) -> WayRows:
    """Read highway and ferry ways with node locations from an OSM PBF/XML file.

    Ways that lose nodes because the extract does not hold them (clipped at its edge)
    keep their located parts; a :class:`~accessmap.errors.DataQualityWarning` says how
    many ways and how many node references lack a location.  Ways whose ``highway``
    class no travel mode knows (typos, local tags) are counted, and a second warning
    names the most frequent classes and whether they were used at ``default_kph`` or
    left out.

    Parameters
    ----------
    path
        OSM file; pyosmium picks the format from the suffix.
    profile
        Speeds and rules of the travel mode.
    tick
        Progress callback ``tick(fraction, message)``: 0 at the start, every 10,000
        usable ways an estimate from the file size (the number of ways is not known
        before the end), 1 at the end.  Whatever it raises (``Cancelled``) propagates.

    Raises
    ------
    RuntimeError
        pyosmium cannot read the file (the caller turns this into a clear message).
    """
    import osmium
    import osmium.io

    rows = WayRows()
    # One decoding thread keeps ahead of this Python loop (no slower than libosmium's
    # default of one per core on Comoros), and each extra decoding thread's malloc arena
    # kept ~17 MB more resident after the parse in about half of the runs.
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY,
                             thread_pool=osmium.io.ThreadPool(_DECODING_THREADS))
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway", "route"))
    )
    way_type = osmium.osm.Way
    n_ways = clipped = lost = lost_ferries = missing = 0
    known = _known_classes(profile)
    unknown: Counter[str] = Counter()
    expected = max(path.stat().st_size / _BYTES_PER_WAY, 1.0)
    if tick is not None:
        tick(0.0, f"reading {path.name}")
    for way in processor:
        if not isinstance(way, way_type):
            continue
        tags = way.tags  # looked up key by key: no dict of every tag of every way
        highway = tags.get("highway")
        if highway is not None and highway not in known:
            unknown[highway] += 1
        speeds = _way_speeds(tags, profile)  # type: ignore[arg-type]  # TagList reads like a Mapping
        if speeds is None:
            continue
        refs, n_located, n_nodes = _way_refs(way.nodes, rows)
        if n_located < n_nodes:
            clipped += 1
            missing += n_nodes - n_located
        if len(refs) < 2:  # no segment left (a clipped loop may keep one node twice)
            if n_located < n_nodes and n_nodes >= 2:
                lost += 1
                lost_ferries += int(tags.get("highway") is None)
            continue
        if highway is None:
            rows.ferries.append((n_ways, dict(way.tags)))
            highway = "ferry"
        _add_way(rows, refs, speeds, n_ways, highway, way.id)
        n_ways += 1
        if tick is not None and n_ways % _TICK_EVERY_WAYS == 0:
            tick(min(1.0 - math.exp(-n_ways / expected), 0.99), f"read {n_ways:,} ways")
    logger.info("read %d usable ways (%d segments) for %s from %s",
                n_ways, len(rows.a), profile.mode, path.name)
    if clipped:
        _warn_clipped(path, clipped, lost, lost_ferries, missing=missing)
    if unknown:
        _warn_unknown_classes(path, unknown, profile)
    if tick is not None:
        tick(1.0, f"read {n_ways:,} ways")
    return rows


def _known_classes(profile: SpeedProfile) -> frozenset[str]:
    """``highway`` classes some travel mode (or this profile) has a speed for, or refuses."""
    names: set[str] = set(NOT_ROUTABLE) | set(profile.speeds_kph)
    for mode in MODES:
        names |= set(get_mode(mode).speeds_kph)
    return frozenset(names)


def _warn_unknown_classes(path: Path, unknown: Counter[str], profile: SpeedProfile) -> None:
    """Log and warn about ways whose highway class no travel mode knows."""
    top = ", ".join(f"{name!r} ({count:,})" for name, count in unknown.most_common(_TOP_CLASSES))
    more = len(unknown) - _TOP_CLASSES
    used = (f"used at the default speed of {profile.default_kph:g} km/h"
            if profile.default_kph is not None else "left out")
    message = (
        f"{path.name}: {sum(unknown.values()):,} way(s) have a highway class no travel mode "
        f"knows: {top}" + (f" and {more} more class(es)" if more > 0 else "")
        + f"; they are {used}; give their speed in [speeds] (or default_kph) if they are "
        "roads, or fix the tags in OpenStreetMap"
    )
    logger.warning("%s", message)
    warnings.warn(message, DataQualityWarning, stacklevel=3)


def _warn_clipped(path: Path, clipped: int, lost: int, lost_ferries: int = 0, *,
                  missing: int = 0) -> None:
    """Log and warn that ways lost nodes missing from the extract."""
    ferries = f", {lost_ferries} of them ferries" if lost_ferries else ""
    refs = f"; {missing:,} node reference(s) have no location" if missing else ""
    message = (
        f"{path.name}: {clipped} usable way(s) have nodes missing from the extract "
        f"(clipped at its edge?{refs}); their located nodes are joined in order and the rest "
        f"left out"
        + (f", and {lost} of them have fewer than 2 nodes left (distinct, located) and are "
           f"skipped{ferries}" if lost else "")
        + "; use an extract with complete ways (osmium extract --strategy complete_ways) "
        "if the study area reaches the edge"
    )
    logger.warning("%s", message)
    warnings.warn(message, DataQualityWarning, stacklevel=3)


def _way_refs(nodes: Any, rows: WayRows) -> tuple[list[int], int, int]:
    """Node ids of a way with a location, repeats in a row dropped; records locations.

    Returns the ids, the number of located nodes (repeats included) and the number of
    nodes of the way.
    """
    refs: list[int] = []
    previous = None
    n_located = n_nodes = 0
    add_ref, add_lon, add_lat = rows.node_ref.append, rows.node_lon.append, rows.node_lat.append
    for node in nodes:
        n_nodes += 1
        location = node.location
        if not location.valid():
            continue
        n_located += 1
        ref = node.ref
        add_ref(ref)
        add_lon(location.lon)
        add_lat(location.lat)
        if ref != previous:
            refs.append(ref)
            previous = ref
    return refs, n_located, n_nodes


def _add_way(
    rows: WayRows, refs: list[int], speeds: tuple[float, float], index: int, highway: str,
    way_id: int = -1,
) -> None:
    """Append the segments between consecutive (distinct) ``refs`` of one way."""
    n = len(refs) - 1
    if n < 1:
        return
    rows.a.extend(refs[:-1])
    rows.b.extend(refs[1:])
    rows.fwd_kph.extend(itertools.repeat(speeds[0], n))
    rows.bwd_kph.extend(itertools.repeat(speeds[1], n))
    rows.way_index.extend(itertools.repeat(index, n))
    rows.highway.extend(itertools.repeat(highway, n))
    rows.way_id.extend(itertools.repeat(way_id, n))


def _edge_highway(data: dict[str, Any]) -> str:
    """First highway class of an edge (osmnx may store a list, GraphML its repr)."""
    highway = data.get("highway", "road")
    if isinstance(highway, list | tuple):
        highway = highway[0] if highway else "road"
    highway = str(highway)
    if highway.startswith("["):
        highway = highway.strip("[]").split(",")[0].strip("'\" ")
    return highway


def _edge_way_id(data: dict[str, Any]) -> int:
    """OSM way id of an edge (osmnx ``osmid``: a number, a list or its repr; -1 if none)."""
    osmid = data.get("osmid", -1)
    if isinstance(osmid, list | tuple):
        osmid = osmid[0] if osmid else -1
    text = str(osmid).strip("[]").split(",")[0].strip("'\" ")
    try:
        return int(text)
    except ValueError:
        return -1


def _edge_length(data: dict[str, Any], u: Any, v: Any, source: str) -> float:
    try:
        length = float(data["length"])
    except KeyError:
        raise InputDataError(
            f"{source}: edge {u}->{v} has no 'length' attribute; add lengths in metres "
            "(osmnx: ox.distance.add_edge_lengths) or give the OSM extract instead"
        ) from None
    except (TypeError, ValueError):
        raise InputDataError(
            f"{source}: edge {u}->{v} has length {data['length']!r}, not a number of metres"
        ) from None
    if not (np.isfinite(length) and length >= 0):
        raise InputDataError(f"{source}: edge {u}->{v} has negative or infinite length")
    return length


def rows_from_graph(
    graph: Any, index: dict[Any, int], profile: SpeedProfile, source: str, *,
    use_travel_time: bool,
) -> WayRows:
    """Turn the edges of a networkx graph into rows (one directed segment per edge).

    In walk mode (and for undirected graphs) every edge is usable both ways.  With
    ``use_travel_time`` the edge's ``travel_time`` (s) is kept instead of the profile's
    speed.
    """
    rows = WayRows()
    both_ways = not get_mode(profile.mode).vehicle or not graph.is_directed()
    for u, v, data in graph.edges(data=True):
        length = _edge_length(data, u, v, source)
        # edges are already directed: their own oneway flags must not block them again
        tags = {k: str(val) for k, val in data.items()
                if isinstance(val, str) and k not in ("oneway", "junction")}
        tags["highway"] = highway = _edge_highway(data)
        if use_travel_time and "travel_time" in data:
            seconds = float(data["travel_time"])
            kph = length / seconds * 3.6 if seconds > 0 else np.inf
            speeds: tuple[float, float] | None = (kph, kph)
        else:
            speeds = way_speeds_kph(tags, profile)
        if speeds is None or speeds[0] == 0:
            continue
        rows.a.append(index[u])
        rows.b.append(index[v])
        rows.fwd_kph.append(speeds[0])
        rows.bwd_kph.append(speeds[0] if both_ways else 0.0)
        rows.way_index.append(len(rows.a))
        rows.highway.append(highway)
        rows.way_id.append(_edge_way_id(data))
        rows.length_m.append(length)
    return rows
