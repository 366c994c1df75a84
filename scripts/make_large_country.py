"""Make a large synthetic country: N translated copies of the Comoros inputs, joined by roads.

Usage (from the project root; the output folder must be outside the repository)::

    .venv/bin/python scripts/make_large_country.py 16 /tmp/large16

Writes ``network.osm.pbf`` (every node, way and relation of the extract, once per tile, ids
offset per tile, coordinates shifted), ``population.tif`` (the WorldPop raster tiled on a
grid of ceil(sqrt N) columns with a 24-cell gap of nodata), ``facilities.gpkg`` (the health
facilities of every tile) and ``scenario.toml`` (drive, 30/60/120 min, pharmacies excluded,
10 new sites, a ``satellite_min_population`` above any site's gain so that every site is a
mobile-unit stop and the circuits run).  Neighbouring
tiles are joined by a two-way ``highway=primary`` link between the facing road nodes of their
largest islands (east-west and north-south), so the copies of Grande Comore form one
connected road network; the other islands stay joined as in the extract (by ferry).  The
output is deterministic: the same N gives the same files.  The script prints the share of
road nodes in the largest drive component.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "comoros"
GAP_CELLS = 24
ID_STRIDE = 2**34  # > every OSM id of the extract
LINK_ID0 = 9 * 10**15
ROADS = {"motorway", "trunk", "primary", "secondary", "tertiary", "unclassified",
         "residential", "motorway_link", "trunk_link", "primary_link", "secondary_link",
         "tertiary_link"}


def _read_extract(path: Path) -> tuple[dict[int, tuple[float, float]], list, list, list]:
    """All nodes (id -> lon, lat, tags), ways (id, refs, tags), relations of the extract."""
    import osmium

    nodes: dict[int, tuple[float, float]] = {}
    node_tags: list[tuple[int, dict[str, str]]] = []
    ways: list[tuple[int, list[int], dict[str, str]]] = []
    relations: list[tuple[int, list[tuple[str, int, str]], dict[str, str]]] = []

    class Reader(osmium.SimpleHandler):  # type: ignore[misc]
        def node(self, n: object) -> None:
            nodes[n.id] = (n.location.lon, n.location.lat)  # type: ignore[attr-defined]
            if len(n.tags):  # type: ignore[attr-defined]
                node_tags.append((n.id, dict(n.tags)))  # type: ignore[attr-defined]

        def way(self, w: object) -> None:
            ways.append((w.id, [r.ref for r in w.nodes], dict(w.tags)))  # type: ignore[attr-defined]

        def relation(self, r: object) -> None:
            relations.append((r.id, [(m.type, m.ref, m.role) for m in r.members],  # type: ignore[attr-defined]
                              dict(r.tags)))  # type: ignore[attr-defined]

    Reader().apply_file(str(path))
    return nodes, node_tags, ways, relations


def _largest_island_edges(nodes: dict, ways: list) -> dict[str, int]:
    """Road nodes of the largest drive component farthest east, west, north and south."""
    import scipy.sparse
    import scipy.sparse.csgraph

    road_refs = [refs for _, refs, tags in ways if tags.get("highway") in ROADS]
    ids = np.unique(np.concatenate([np.asarray(r, np.int64) for r in road_refs]))
    index = {int(v): i for i, v in enumerate(ids)}
    tail = [index[a] for refs in road_refs for a in refs[:-1]]
    head = [index[b] for refs in road_refs for b in refs[1:]]
    graph = scipy.sparse.coo_array((np.ones(len(tail)), (tail, head)),
                                   shape=(ids.size, ids.size))
    _, label = scipy.sparse.csgraph.connected_components(graph, directed=False)
    big = np.flatnonzero(label == np.bincount(label).argmax())
    lon = np.array([nodes[int(ids[i])][0] for i in big])
    lat = np.array([nodes[int(ids[i])][1] for i in big])
    return {"east": int(ids[big[lon.argmax()]]), "west": int(ids[big[lon.argmin()]]),
            "north": int(ids[big[lat.argmax()]]), "south": int(ids[big[lat.argmin()]])}


def make_country(n_tiles: int, out: Path) -> dict[str, object]:
    """Write the N-tile country into ``out``; return what was written (counts, paths)."""
    import geopandas as gpd
    import osmium
    import rasterio
    from rasterio.windows import Window

    out.mkdir(parents=True, exist_ok=True)
    cols = math.ceil(math.sqrt(n_tiles))
    rows = math.ceil(n_tiles / cols)
    with rasterio.open(DATA / "com_ppp_2020_UNadj.tif") as src:
        grid = src.read(1)
        profile = src.profile
        t = src.transform
    height, width = grid.shape
    step_x, step_y = (width + GAP_CELLS) * t.a, (height + GAP_CELLS) * t.e
    tiles = [(k // cols, k % cols) for k in range(n_tiles)]
    shift = [(c * step_x, r * step_y) for r, c in tiles]

    profile.update(width=cols * (width + GAP_CELLS) - GAP_CELLS,
                   height=rows * (height + GAP_CELLS) - GAP_CELLS, tiled=True,
                   blockxsize=512, blockysize=512, compress="deflate", BIGTIFF="IF_SAFER")
    with rasterio.open(out / "population.tif", "w", **profile) as dst:
        for r, c in tiles:
            dst.write(grid, 1, window=Window(c * (width + GAP_CELLS),
                                             r * (height + GAP_CELLS), width, height))

    facilities = gpd.read_file(DATA / "health.gpkg")
    parts = []
    for k, (dx, dy) in enumerate(shift):
        part = facilities.copy()
        part["geometry"] = part.geometry.translate(dx, dy)
        part["name"] = part["name"].fillna("facility").astype(str) + f" (tile {k + 1})"
        parts.append(part)
    gpd.GeoDataFrame(np.concatenate([p.to_numpy() for p in parts]), columns=facilities.columns,
                     geometry="geometry", crs=facilities.crs).to_file(
        out / "facilities.gpkg", driver="GPKG")

    nodes, node_tags, ways, relations = _read_extract(DATA / "comores-latest.osm.pbf")
    edge = _largest_island_edges(nodes, ways)
    tagged = dict(node_tags)
    target = out / "network.osm.pbf"
    target.unlink(missing_ok=True)
    writer = osmium.SimpleWriter(str(target))
    try:
        for k, (dx, dy) in enumerate(shift):
            off = k * ID_STRIDE
            for node_id, (lon, lat) in nodes.items():
                writer.add_node(osmium.osm.mutable.Node(
                    id=node_id + off, location=(lon + dx, lat + dy),
                    tags=tagged.get(node_id, {})))
        for k in range(n_tiles):
            off = k * ID_STRIDE
            for way_id, refs, tags in ways:
                writer.add_way(osmium.osm.mutable.Way(id=way_id + off,
                                                      nodes=[a + off for a in refs], tags=tags))
        links = 0
        for k, (r, c) in enumerate(tiles):
            for other, a, b in (((r, c + 1), "east", "west"), ((r + 1, c), "south", "north")):
                if other in tiles:
                    j = tiles.index(other)
                    writer.add_way(osmium.osm.mutable.Way(
                        id=LINK_ID0 + links,
                        nodes=[edge[a] + k * ID_STRIDE, edge[b] + j * ID_STRIDE],
                        tags={"highway": "primary", "name": f"tile link {links + 1}"}))
                    links += 1
        for k in range(n_tiles):
            off = k * ID_STRIDE
            for rel_id, members, tags in relations:
                writer.add_relation(osmium.osm.mutable.Relation(
                    id=rel_id + off, members=[(t_, m + off, role) for t_, m, role in members],
                    tags=tags))
    finally:
        writer.close()

    (out / "scenario.toml").write_text(
        f'title = "Synthetic large country: {n_tiles} Comoros tiles (drive)"\n'
        "synthetic = true\n\n[inputs]\n"
        f'network = "{target}"\npopulation = "{out / "population.tif"}"\n'
        f'facilities = "{out / "facilities.gpkg"}"\n\n'
        '[analysis]\nmode = "drive"\nthresholds_min = [30, 60, 120]\n\n'
        '[facilities]\nexclude = { amenity = ["pharmacy"] }\n\n'
        "[siting]\nnew_sites = 10\nthreshold_min = 60\nsatellite_min_population = 30000\n\n"
        f'[output]\nout = "{out / "run"}"\n', encoding="utf-8")
    return {"tiles": n_tiles, "grid": (rows, cols), "links": links,
            "cells": int(profile["width"]) * int(profile["height"]), "folder": str(out)}


def largest_component_share(out: Path) -> float:
    """Share of drive-network nodes in the largest connected component."""
    from accessmap.inputs.network import load_network
    from accessmap.routing.engine import connected_components

    network = load_network(out / "network.osm.pbf", mode="drive")
    label = connected_components(network.graph_from)
    return float(np.bincount(label).max() / label.size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tiles", type=int, help="number of Comoros copies (N)")
    parser.add_argument("out", type=Path, help="output folder (outside the repository)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip loading the network to check its largest component")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    if out == ROOT or ROOT in out.parents:
        parser.error(f"{out} is inside the repository; write the country elsewhere")
    if args.tiles < 1:
        parser.error("N must be >= 1")
    info = make_country(args.tiles, out)
    print(info)
    if not args.no_check:
        print(f"largest drive component: {largest_component_share(out):.1%} of the nodes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
