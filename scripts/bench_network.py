"""Benchmark building road networks from OpenStreetMap: accessmap vs the osmnx route.

On the real Comoros extract (``../shared/data/comoros/comores-latest.osm.pbf``), for the
drive and walk modes, each as the median of several runs (``time.perf_counter``):

1. accessmap: :func:`accessmap.network.load_network` straight from the PBF, cache off.
2. osmnx (the usual route): the PBF is first converted to OSM XML holding the same
   routable ways and their nodes (pyosmium; conversion time reported, not counted), then
   ``osmnx.graph_from_xml(simplify=True, retain_all=True)`` +
   ``osmnx.routing.add_edge_speeds`` (with accessmap's speed table) +
   ``osmnx.routing.add_edge_travel_times``.  Target: accessmap >= 3x faster.
3. A cached rebuild (second ``load_network`` with the cache on).  Target: < 1 s.
4. Correctness: nearest-facility node times (the 70 health points snapped to their
   nearest nodes) from :func:`accessmap.engine.nearest_source` on ``graph_to`` must equal
   ``networkx.multi_source_dijkstra_path_length`` on ``network.to_networkx()`` reversed,
   on every node (max difference < 1e-6 s, same reachable nodes).

Usage::

    python scripts/bench_network.py [--quick] [--data DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import osmium
import osmnx as ox
import scipy.spatial

from accessmap.inputs.facilities import load_facilities
from accessmap.inputs.network import load_network
from accessmap.routing.engine import Sources, nearest_source
from accessmap.routing.modes import SpeedProfile, way_speeds_kph
from accessmap.routing.network import RoadNetwork

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "comoros"


class Report:
    """Markdown lines printed as they come and kept for ``--out``."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.failed = False

    def add(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)

    def check(self, label: str, value: str, target: str, ok: bool) -> None:
        self.failed |= not ok
        self.add(f"| {label} | {value} | {target} | {'PASS' if ok else 'FAIL'} |")


def median_time(func: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall time of ``repeats`` calls and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def write_mode_xml(pbf: Path, xml: Path, profile: SpeedProfile) -> tuple[int, int]:
    """Copy the ways ``profile`` can route (and their nodes) from ``pbf`` to OSM XML."""
    keep_ways: set[int] = set()
    keep_nodes: set[int] = set()
    for way in osmium.FileProcessor(str(pbf), osmium.osm.WAY).with_filter(
        osmium.filter.KeyFilter("highway")
    ):
        if isinstance(way, osmium.osm.Way) and way_speeds_kph(dict(way.tags), profile):
            keep_ways.add(way.id)
            keep_nodes.update(n.ref for n in way.nodes)
    xml.unlink(missing_ok=True)
    with osmium.SimpleWriter(str(xml)) as writer:
        for obj in osmium.FileProcessor(str(pbf), osmium.osm.NODE | osmium.osm.WAY):
            if (isinstance(obj, osmium.osm.Node) and obj.id in keep_nodes) or (
                isinstance(obj, osmium.osm.Way) and obj.id in keep_ways
            ):
                writer.add(obj)
    return len(keep_nodes), len(keep_ways)


def osmnx_build(xml: Path, profile: SpeedProfile) -> Any:
    """The osmnx route: parse, simplify, add speeds and travel times."""
    graph = ox.graph_from_xml(xml, bidirectional=profile.mode == "walk", simplify=True,
                              retain_all=True)
    graph = ox.routing.add_edge_speeds(graph, hwy_speeds=dict(profile.speeds_kph),
                                       fallback=profile.default_kph or 20.0)
    return ox.routing.add_edge_travel_times(graph)


def facility_nodes(network: RoadNetwork, data: Path) -> np.ndarray:
    """Nearest network node of every health point."""
    facilities = load_facilities(data / "health.gpkg")
    fx, fy = network.project(facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy())
    tree = scipy.spatial.cKDTree(np.column_stack([network.node_x, network.node_y]))
    return np.unique(tree.query(np.column_stack([fx, fy]))[1])


def check_times(report: Report, network: RoadNetwork, data: Path) -> None:
    """accessmap nearest-facility node times vs networkx on ``to_networkx()``."""
    nodes = facility_nodes(network, data)
    ours, _ = nearest_source(network.graph_to, Sources.at_nodes(nodes))
    start = time.perf_counter()
    reverse = network.to_networkx().reverse(copy=False)
    theirs = nx.multi_source_dijkstra_path_length(reverse, {int(n) for n in nodes},
                                                  weight="travel_time")
    nx_s = time.perf_counter() - start
    reference = np.full(network.n_nodes, np.inf)
    reference[list(theirs)] = list(theirs.values())
    same_reach = bool((np.isfinite(ours) == np.isfinite(reference)).all())
    finite = np.isfinite(ours) & np.isfinite(reference)
    diff = float(np.abs(ours[finite] - reference[finite]).max()) if finite.any() else 0.0
    report.check(
        f"{network.mode}: node times = networkx ({len(nodes)} facilities, "
        f"{int(finite.sum()):,} reached of {network.n_nodes:,} nodes; networkx {nx_s:.1f} s)",
        f"max diff {diff:.2e} s", "< 1e-6 s, same reach", same_reach and diff < 1e-6,
    )


def bench_mode(report: Report, mode: str, pbf: Path, data: Path, repeats: int,
               osmnx_repeats: int, workdir: Path) -> None:
    profile = SpeedProfile.default(mode)
    ours_s, network = median_time(
        lambda: load_network(pbf, profile=profile, use_cache=False), repeats)
    xml = workdir / f"{mode}.osm"
    start = time.perf_counter()
    n_nodes, n_ways = write_mode_xml(pbf, xml, profile)
    convert_s = time.perf_counter() - start
    osmnx_s, graph = median_time(lambda: osmnx_build(xml, profile), osmnx_repeats)
    cache = workdir / "cache"
    load_network(pbf, profile=profile, cache_dir=cache)
    cached_s, _ = median_time(lambda: load_network(pbf, profile=profile, cache_dir=cache),
                              repeats)
    report.add(
        f"- {mode}: accessmap {network.n_nodes:,} nodes, {network.n_segments:,} segments, "
        f"{network.seg_length_m.sum() / 1000:,.0f} km, {network.summary()['components']} "
        f"pieces; osmnx input {n_ways:,} ways / {n_nodes:,} nodes -> simplified graph "
        f"{graph.number_of_nodes():,} nodes, {graph.number_of_edges():,} edges; "
        f"PBF->XML conversion {convert_s:.1f} s (not counted)"
    )
    report.add()
    report.add("| measure | value | target | result |")
    report.add("|---|---|---|---|")
    report.check(f"{mode}: build from PBF, accessmap {ours_s:.2f} s vs osmnx {osmnx_s:.2f} s",
                 f"{osmnx_s / ours_s:.1f}x faster", ">= 3x", osmnx_s / ours_s >= 3)
    report.check(f"{mode}: cached rebuild", f"{cached_s:.3f} s "
                 f"({ours_s / cached_s:.0f}x faster than parsing)", "< 1 s", cached_s < 1)
    check_times(report, network, data)
    report.add()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--data", type=Path, default=DATA, help="Comoros data folder")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    pbf = args.data / "comores-latest.osm.pbf"
    if not pbf.is_file():
        print(f"Comoros data not found at {args.data}", file=sys.stderr)
        return 2
    repeats, osmnx_repeats = (2, 1) if args.quick else (5, 3)
    report = Report()
    report.add(f"Run {time.strftime('%Y-%m-%d %H:%M')}{' (--quick)' if args.quick else ''}: "
               f"{pbf.name} ({pbf.stat().st_size / 1e6:.1f} MB); medians of {repeats} runs "
               f"(osmnx {osmnx_repeats})")
    report.add(f"- Machine: {platform.platform()}, {platform.machine()}, "
               f"{os.cpu_count()} CPUs; Python {platform.python_version()}, osmnx "
               f"{ox.__version__}, networkx {nx.__version__}, numpy {np.__version__}")
    with tempfile.TemporaryDirectory(prefix="bench-network-") as tmp:
        for mode in ("drive", "walk"):
            bench_mode(report, mode, pbf, args.data, repeats, osmnx_repeats, Path(tmp))
    report.add(f"Overall: {'FAIL' if report.failed else 'PASS'}")
    if args.out:
        args.out.write_text("\n".join(report.lines) + "\n", encoding="utf-8")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
