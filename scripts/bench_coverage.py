"""Benchmark the Comoros coverage job: accessmap vs the common osmnx/networkx analyst route.

Both routes run in their own subprocess (peak memory = ``ru_maxrss`` of that process)
and do, end to end, from files on disk:

* accessmap: network from the PBF (no cache), windowed population (203k populated
  cells), facilities without pharmacies, every cell snapped to its nearest road segment,
  nearest-facility times over the reversed graph, coverage at 30/60/120 min, islands
  (admin_level 4) read from ``islands.gpkg`` and coverage by island, plus the
  travel-time COG and nested isochrone bands (more work than the other route).
* osmnx route: ``graph_from_xml`` (OSM XML converted from the PBF with pyosmium
  beforehand, not counted) + ``add_edge_speeds`` (accessmap's speed table) +
  ``add_edge_travel_times``, whole raster read, graph projected, cells and facilities
  snapped to nodes with ``osmnx.distance.nearest_nodes``,
  ``networkx.multi_source_dijkstra_path_length`` on the reversed graph, coverage at
  30/60/120 and by island with ``geopandas.sjoin``.

Equal inputs: both routes read the same island polygons from ``islands.gpkg``, made
beforehand (not counted, like the osmnx route's OSM XML) by accessmap's own assembly of
the admin_level 4 boundary relations from the PBF (``load_admin_areas``).  That
extraction is timed once on its own and printed on a separate line, outside both routes
and outside the ratio.  (Until 2026-11-22 20:00 accessmap extracted the islands from the
PBF inside its timing while the osmnx route read the file.)

Peak memory is ``ru_maxrss`` of each route's process, cross-checked with its own
``VmHWM``.  The preparation runs in a process of its own: on Linux a child's
``ru_maxrss`` starts from its parent's peak RSS (carried across fork + exec), so
preparing in this process (which then grew to ~300 MB) put a floor under every route's
measured peak (until 2026-11-22 21:00).

Usage::

    python scripts/bench_coverage.py [--mode drive|walk] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from accessmap.analysis.coverage import coverage_by, coverage_table, label_weights
from accessmap.analysis.surface import isochrone_bands, write_travel_time

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "comoros"
THRESHOLDS = (30.0, 60.0, 120.0)
TARGET_SPEED, TARGET_MEMORY = 5.0, 0.5


class Clock:
    """Stage timer: ``with clock("name"): ...``."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self.start = time.perf_counter()

    def __call__(self, name: str) -> Any:
        clock = self

        class _Stage:
            def __enter__(self) -> None:
                self.t = time.perf_counter()

            def __exit__(self, *exc: object) -> None:
                clock.stages[name] = round(time.perf_counter() - self.t, 3)

        return _Stage()


def accessmap_route(mode: str, workdir: Path) -> dict[str, Any]:
    pass
    from accessmap.inputs.areas import assign_areas, load_admin_areas
    from accessmap.inputs.facilities import load_facilities
    from accessmap.inputs.network import load_network
    from accessmap.inputs.population import load_population
    from accessmap.routing.modes import SpeedProfile
    from accessmap.routing.travel_times import nearest_facility_times

    clock = Clock()
    with clock("network"):
        net = load_network(DATA / "comores-latest.osm.pbf",
                           profile=SpeedProfile.default(mode), use_cache=False)
    with clock("population"):
        west, south, east, north = net.bounds_lonlat()
        pad = net.profile.max_snap_m / 111_000
        pop = load_population(DATA / "com_ppp_2020_UNadj.tif",
                              bounds_lonlat=(west - pad, south - pad, east + pad, north + pad))
        fac = load_facilities(DATA / "health.gpkg", exclude={"amenity": ("pharmacy",)})
    with clock("snap_and_times"):
        px, py = net.project(pop.lon, pop.lat)
        fx, fy = net.project(fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy())
        access = nearest_facility_times(net, px, py, fx, fy)
    with clock("coverage_by_island"):
        coverage = coverage_table(access.time_s, pop.population, THRESHOLDS)
        islands = load_admin_areas(workdir / "islands.gpkg", name_column="area_name")
        labels = assign_areas(islands, pop)
        by_area = coverage_by(label_weights(labels, pop.population),
                                   access.time_s, access.status, THRESHOLDS, key="area")
    with clock("surface_and_bands"):
        write_travel_time(workdir / "travel_time.tif", pop, access.time_s)
        isochrone_bands(pop, access.time_s, THRESHOLDS)
    return {"cells": pop.size, "population": pop.total,
            "shares": coverage["share"].round(4).tolist(),
            "by_area": dict(zip(by_area["area"], by_area["population_60min"].round(0),
                                strict=True)),
            "stages": clock.stages}


def osmnx_route(mode: str, workdir: Path) -> dict[str, Any]:
    import geopandas as gpd
    import networkx as nx
    import osmnx as ox
    import pyproj
    import rasterio
    import rasterio.transform

    from accessmap.routing.modes import SpeedProfile

    profile = SpeedProfile.default(mode)
    clock = Clock()
    with clock("network"):
        graph = ox.graph_from_xml(workdir / f"{mode}.osm", bidirectional=mode == "walk",
                                  simplify=True, retain_all=True)
        graph = ox.routing.add_edge_speeds(graph, hwy_speeds=dict(profile.speeds_kph),
                                           fallback=profile.default_kph or 20.0)
        graph = ox.routing.add_edge_travel_times(graph)
    with clock("population"):
        with rasterio.open(DATA / "com_ppp_2020_UNadj.tif") as ds:
            data = ds.read(1)
            transform = ds.transform
        rows, cols = np.nonzero(data > 0)
        lon, lat = rasterio.transform.xy(transform, rows, cols, offset="center")
        people = data[rows, cols].astype(float)
        fac = gpd.read_file(DATA / "health.gpkg")
        fac = fac[fac["amenity"] != "pharmacy"]
    with clock("snap_and_times"):
        projected = ox.project_graph(graph)
        to_utm = pyproj.Transformer.from_crs("EPSG:4326", projected.graph["crs"],
                                             always_xy=True)
        x, y = to_utm.transform(np.asarray(lon), np.asarray(lat))
        cell_nodes = ox.distance.nearest_nodes(projected, x, y)
        fx, fy = to_utm.transform(fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy())
        fac_nodes = set(ox.distance.nearest_nodes(projected, fx, fy))
        dist = nx.multi_source_dijkstra_path_length(graph.reverse(copy=False), fac_nodes,
                                                    weight="travel_time")
        time_s = np.array([dist.get(n, np.inf) for n in cell_nodes])
    with clock("coverage_by_island"):
        shares = [float(people[time_s <= t * 60].sum() / people.sum()) for t in THRESHOLDS]
        islands = gpd.read_file(workdir / "islands.gpkg")
        points = gpd.GeoDataFrame({"people": people, "time_s": time_s},
                                  geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
        joined = gpd.sjoin(points, islands, how="left", predicate="within")
        within = joined[joined["time_s"] <= 3600]
        by_area = within.groupby("area_name")["people"].sum().round(0).to_dict()
    return {"cells": int(rows.size), "population": float(people.sum()),
            "shares": [round(s, 4) for s in shares], "by_area": by_area,
            "stages": clock.stages}


ROUTES: dict[str, Callable[[str, Path], dict[str, Any]]] = {
    "accessmap": accessmap_route, "osmnx": osmnx_route}


def own_peak_mb() -> float | None:
    """Peak RSS of this process image (``VmHWM``; Linux only), for a cross-check."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def child(route: str, mode: str, workdir: Path) -> None:
    start = time.perf_counter()
    result = ROUTES[route](mode, workdir)
    result["seconds"] = round(time.perf_counter() - start, 2)
    result["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["own_peak_mb"] = own_peak_mb()
    print("RESULT " + json.dumps(result))


def run_script(args: list[str], workdir: Path, what: str) -> dict[str, Any]:
    """Run this script in a fresh process; return the JSON of its ``RESULT`` line."""
    env = {**os.environ, "ACCESSMAP_CACHE_DIR": str(workdir / "cache")}
    proc = subprocess.run([sys.executable, __file__, *args, "--workdir", str(workdir)],
                          capture_output=True, text=True, env=env, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"{what} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1][7:])
    return result


def run_child(route: str, mode: str, workdir: Path) -> dict[str, Any]:
    return run_script(["--child", route, "--mode", mode], workdir, f"{route} route")


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median end-to-end time (its stages and peak memory with it)."""
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]


def prepare(mode: str, workdir: Path) -> float:
    """Write the ready-made inputs (not counted); return the PBF island extraction time.

    ``islands.gpkg`` holds the admin_level 4 islands as accessmap assembles them from the
    PBF; both routes read it, so both start from the same island polygons.
    """
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_network import write_mode_xml

    from accessmap.inputs.areas import load_admin_areas
    from accessmap.routing.modes import SpeedProfile

    write_mode_xml(DATA / "comores-latest.osm.pbf", workdir / f"{mode}.osm",
                   SpeedProfile.default(mode))
    start = time.perf_counter()
    islands = load_admin_areas(DATA / "comores-latest.osm.pbf", admin_level=4)
    seconds = time.perf_counter() - start
    islands.to_file(workdir / "islands.gpkg")
    return seconds


def report(mode: str, ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    speed = theirs["seconds"] / ours["seconds"]
    memory = ours["peak_mb"] / theirs["peak_mb"]
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M')}, mode {mode}; "
        f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "",
        "| route | end to end | peak memory | stages (s) |",
        "|---|---|---|---|",
        f"| accessmap | {ours['seconds']:.1f} s | {ours['peak_mb']:.0f} MB | "
        + ", ".join(f"{k} {v}" for k, v in ours["stages"].items()) + " |",
        f"| osmnx + networkx | {theirs['seconds']:.1f} s | {theirs['peak_mb']:.0f} MB | "
        + ", ".join(f"{k} {v}" for k, v in theirs["stages"].items()) + " |",
        "",
        "| measure | value | target | result |",
        "|---|---|---|---|",
        f"| speed-up end to end | {speed:.1f}x | >= {TARGET_SPEED:g}x | "
        f"{'PASS' if speed >= TARGET_SPEED else 'FAIL'} |",
        f"| peak memory ratio | {memory:.2f} | <= {TARGET_MEMORY:g} | "
        f"{'PASS' if memory <= TARGET_MEMORY else 'FAIL'} |",
        "",
        f"- cells: accessmap {ours['cells']:,} ({ours['population']:,.0f} people in the "
        f"network window), osmnx route {theirs['cells']:,} ({theirs['population']:,.0f})",
        f"- coverage shares 30/60/120 min: accessmap {ours['shares']} (edge snapping with "
        f"off-road walk), osmnx route {theirs['shares']} (cells on nodes, no off-road leg)",
        f"- people within 60 min by island: accessmap {ours['by_area']}; osmnx route "
        f"{theirs['by_area']}",
        f"- peak memory cross-check, VmHWM of each child's own address space: accessmap "
        f"{ours.get('own_peak_mb')} MB, osmnx route {theirs.get('own_peak_mb')} MB",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="drive", choices=["drive", "walk"])
    parser.add_argument("--out", type=Path, help="also write the markdown report here")
    parser.add_argument("--repeats", type=int, default=3, help="runs per route (median)")
    parser.add_argument("--child", choices=list(ROUTES), help=argparse.SUPPRESS)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.mode, args.workdir)
        return
    if args.prepare:
        print("RESULT " + json.dumps({"islands_s": prepare(args.mode, args.workdir)}))
        return
    with tempfile.TemporaryDirectory(prefix="bench-coverage-") as tmp:
        workdir = Path(tmp)
        # In a process of its own: Linux carries the parent's peak RSS over into a
        # child's ru_maxrss (fork + exec), so a parent grown by the preparation (~300 MB)
        # would put a floor under every route's measured peak.
        islands_s = run_script(["--prepare", "--mode", args.mode], workdir,
                               "preparation")["islands_s"]
        runs: dict[str, list[dict[str, Any]]] = {route: [] for route in ROUTES}
        for _ in range(args.repeats):  # interleaved, so that load changes hit every route
            for route in ROUTES:
                runs[route].append(run_child(route, args.mode, workdir))
    ours, theirs = (median_run(runs[r]) for r in ("accessmap", "osmnx"))
    text = (report(args.mode, ours, theirs) + f"\n- medians of {args.repeats} runs\n"
            f"- not in either route (prepared once, as the osmnx route's XML is): islands "
            f"assembled from the PBF by accessmap (`load_admin_areas(pbf, admin_level=4)`) "
            f"{islands_s:.2f} s, written to islands.gpkg, which both routes read")
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
