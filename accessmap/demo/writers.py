"""Writers of the demo files: OSM XML, GeoTIFF, GeoJSON and the README.

Every file is labelled SYNTHETIC and carries the seed and the licence;
coordinates are converted from the local km frame to lon/lat only here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import rasterio
import shapely
from pyproj import Geod
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from accessmap.demo.files import DEMO_FILES
from accessmap.demo.geometry import (
    HEIGHT_KM,
    LAT_MAX,
    LAT_MIN,
    LON_MAX,
    LON_MIN,
    WIDTH_KM,
    to_lonlat,
)
from accessmap.demo.network import Network, component_count, highway_ways
from accessmap.demo.population import NODATA, raster_shape, raster_transform
from accessmap.demo.roads import HIGHWAY_CLASSES, river_crossings
from accessmap.demo.settlements import TOWN_POPULATION, District, Settlement
from accessmap.demo.terrain import make_dem, make_landcover

__all__ = [
    "DISTRICT_NAME",
    "FILE_NAMES",
    "GENERATOR",
    "LICENCE",
    "readme_text",
    "write_all",
    "write_geojson",
    "write_osm",
    "write_population",
    "write_terrain",
]


DISTRICT_NAME = "Synthetic district (not a real place)"

GENERATOR = "accessmap synthetic demo (not real data)"

LICENCE = "CC0 1.0 (public domain dedication); the data are generated, not surveyed"

GEOJSON_DECIMALS = 6

#: The generated files by role (declared once, in :mod:`accessmap.demo.files`), plus the README.
FILE_NAMES: dict[str, str] = {**DEMO_FILES, "readme": "README.md"}


def _lonlat_text(xy: tuple[float, float]) -> tuple[str, str]:
    """Return lat and lon of a km point as OSM text (7 decimals)."""
    lon, lat = to_lonlat(np.array([xy]))[0]
    return f"{lat:.7f}", f"{lon:.7f}"


def write_osm(path: Path, network: Network) -> None:
    """Write ``network`` as OSM XML 0.6 (only nodes that ways use or that carry tags)."""
    used = {n for w in network.ways for n in w.nodes} | set(network.node_tags)
    lines = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        f'<osm version="0.6" generator="{GENERATOR}">',
        f'  <bounds minlat="{LAT_MIN:.7f}" minlon="{LON_MIN:.7f}" '
        f'maxlat="{LAT_MAX:.7f}" maxlon="{LON_MAX:.7f}"/>',
    ]
    for node_id in sorted(used):
        lat, lon = _lonlat_text(network.point(node_id))
        head = f'  <node id="{node_id}" version="1" lat="{lat}" lon="{lon}"'
        tags = network.node_tags.get(node_id)
        if not tags:
            lines.append(head + "/>")
            continue
        lines.append(head + ">")
        lines.extend(_tag_lines(tags))
        lines.append("  </node>")
    for way_id, way in enumerate(network.ways, start=1):
        lines.append(f'  <way id="{way_id}" version="1">')
        lines.extend(f'    <nd ref="{n}"/>' for n in way.nodes)
        lines.extend(_tag_lines(way.tags))
        lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _tag_lines(tags: dict[str, str]) -> list[str]:
    """Return the ``<tag>`` elements of ``tags`` (sorted by key)."""
    return [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in sorted(tags.items())]


def write_population(path: Path, grid: np.ndarray, seed: int) -> None:
    """Write the population grid as a deflate-compressed, tiled GeoTIFF."""
    _write_grid(path, grid, seed, what="population", units="people per cell", nodata=NODATA)


def write_terrain(folder: Path, district: District) -> None:
    """Write the SYNTHETIC land cover (WorldCover classes) and elevation GeoTIFFs."""
    seed = district.seed
    _write_grid(folder / FILE_NAMES["landcover"], make_landcover(district), seed,
                what="land cover", units="ESA WorldCover class", nodata=0)
    _write_grid(folder / FILE_NAMES["dem"], make_dem(district), seed, what="elevation",
                units="metres", nodata=NODATA)


def _write_grid(path: Path, grid: np.ndarray, seed: int, *, what: str, units: str,
                nodata: float) -> None:
    """Write one band on the population grid, labelled SYNTHETIC with seed and licence."""
    rows, cols = grid.shape
    profile = {
        "driver": "GTiff",
        "width": cols,
        "height": rows,
        "count": 1,
        "dtype": str(grid.dtype),
        "crs": "EPSG:4326",
        "transform": raster_transform(),
        "nodata": nodata,
        "compress": "deflate",
        "predictor": 3 if grid.dtype.kind == "f" else 2,
        "zlevel": 9,
        "tiled": True,
        "blockxsize": 128,
        "blockysize": 128,
    }
    description = f"SYNTHETIC {what} (not real data): {DISTRICT_NAME}, seed {seed}"
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(grid, 1)
        dst.update_tags(
            TIFFTAG_IMAGEDESCRIPTION=description,
            TIFFTAG_SOFTWARE=GENERATOR,
            SYNTHETIC="yes",
            SEED=str(seed),
            LICENSE=LICENCE,
        )
        dst.update_tags(1, UNITS=units)
        dst.set_band_description(1, f"{what} (synthetic)")


def _rounded(geom: BaseGeometry) -> BaseGeometry:
    """Return the lon/lat version of a km geometry rounded to GeoJSON precision."""
    return shapely.transform(geom, lambda xy: np.round(to_lonlat(xy), GEOJSON_DECIMALS))


def write_geojson(
    path: Path,
    name: str,
    description: str,
    features: Iterable[tuple[BaseGeometry, dict[str, Any]]],
) -> None:
    """Write a FeatureCollection (lon/lat, fixed precision, one feature per line)."""
    head = {
        "type": "FeatureCollection",
        "name": name,
        "description": description,
        "bbox": [LON_MIN, LAT_MIN, LON_MAX, LAT_MAX],
    }
    body = [
        json.dumps(
            {"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geom)},
            separators=(",", ":"),
        )
        for geom, props in features
    ]
    text = json.dumps(head, separators=(",", ":"))[:-1] + ',"features":[\n'
    path.write_text(text + ",\n".join(body) + "\n]}\n", encoding="utf-8")


def _synthetic_note(what: str, seed: int) -> str:
    """Return the description written into every synthetic file."""
    return (
        f"SYNTHETIC {what} for the {DISTRICT_NAME}, generated by scripts/make_demo_data.py "
        f"(seed {seed}). Not real data. Licence: {LICENCE}."
    )


def _facility_features(district: District) -> list[tuple[BaseGeometry, dict[str, Any]]]:
    """Return the facility points and their properties."""
    keep = ("id", "name", "type", "amenity", "capacity", "settlement")
    return [(_rounded(Point(f["x"], f["y"])), {k: f[k] for k in keep}) for f in district.facilities]


def _subdistrict_features(district: District) -> list[tuple[BaseGeometry, dict[str, Any]]]:
    """Return the sub-district polygons and their properties."""
    return [
        (_rounded(poly), {"code": code, "name": name}) for code, name, poly in district.subdistricts
    ]


def _group_features(district: District) -> list[tuple[BaseGeometry, dict[str, Any]]]:
    """Return the village-area polygons with the equity attribute."""
    return [
        (
            _rounded(poly),
            {"id": f"G{k:02d}", "village": s.name, "kind": s.kind, "wealth_quintile": quintile},
        )
        for k, (s, quintile, poly) in enumerate(district.groups, start=1)
    ]


def _road_km_by_class(network: Network) -> dict[str, float]:
    """Return geodesic road length (km) by highway class, from the written coordinates."""
    geod = Geod(ellps="WGS84")
    lengths: dict[str, float] = dict.fromkeys(HIGHWAY_CLASSES, 0.0)
    for way in highway_ways(network):
        lonlat = np.round(to_lonlat(np.array([network.point(n) for n in way.nodes])), 7)
        metres = geod.line_length(lonlat[:, 0], lonlat[:, 1])
        lengths[way.tags["highway"]] = lengths.get(way.tags["highway"], 0.0) + metres / 1000.0
    return lengths


def _yes_no(area: Polygon, s: Settlement) -> str:
    """Return "yes" if settlement ``s`` lies in ``area``, else "no"."""
    return "yes" if area.contains(Point(s.x, s.y)) else "no"


def readme_text(district: District, seed: int, total: float) -> str:
    """Return the README of the demo folder."""
    net = district.network
    ways = highway_ways(net)
    bridges = river_crossings(district)
    kinds = [f["type"] for f in district.facilities]
    villages = [s for s in district.settlements if s.kind == "village"]
    quintile = {s.key: q for s, q, _ in district.groups}
    rows, cols, _, _ = raster_shape()
    nodata_cells = int((district.population == NODATA).sum())
    lines = [
        "# SYNTHETIC demo district - NOT REAL DATA",
        "",
        f"**{DISTRICT_NAME}.** Everything in this folder is invented. It was generated by",
        f"`scripts/make_demo_data.py --seed {seed}` (function "
        "`accessmap.demo.generator.make_demo_data`),",
        "and the tests check that a fresh generation reproduces these files byte for byte.",
        "Do not use it for any real planning decision. Place, road, river and facility names",
        "are made up; the coordinates (near lon 33.0, lat -13.8) only give the data a",
        "plausible projection and scale.",
        "",
        "## Files",
        "",
        "| file | content |",
        "| --- | --- |",
        "| `network.osm` | OSM XML 0.6 road network (highway ways with shared junction nodes), "
        "river, lake and place nodes |",
        f"| `population.tif` | GeoTIFF, EPSG:4326, 3 arc-second cells ({cols} x {rows}), float32 "
        f"people per cell, nodata {NODATA:g} (border, river and lake: {nodata_cells} cells) |",
        "| `facilities.geojson` | health facilities and pharmacies (points; `id`, `name`, `type`, "
        "`amenity`, `capacity` = clinical staff, `settlement`) |",
        "| `subdistricts.geojson` | 4 sub-district polygons (`name`, `code`) tiling the district |",
        "| `groups.geojson` | village areas (Voronoi cells) with `village`, `kind` and "
        "`wealth_quintile` (1 poorest .. 5 richest) |",
        "| `landcover.tif` | GeoTIFF on the population grid, uint8 ESA WorldCover classes: "
        "cropland, grassland, a forest, a swamp, built-up centres, the river and lake as "
        "water (impassable); for `[offroad] landcover`, not used by the demo by default |",
        "| `dem.tif` | GeoTIFF on the population grid, float32 elevation in metres, hills "
        "across the river; for `[offroad] dem` |",
        "",
        "## Totals",
        "",
        f"- District bounding box: lon {LON_MIN} to {LON_MAX}, lat {LAT_MIN} to {LAT_MAX} "
        f"(about {WIDTH_KM:.1f} x {HEIGHT_KM:.1f} km).",
        f"- Population total (sum of raster cells, nodata excluded): **{total:.2f}**.",
        f"- Settlements: 1 market town ({district.settlement['town'].name}, "
        f"{TOWN_POPULATION:,.0f} people), {len(villages)} villages, {len(district.hamlets)} "
        "hamlets, 1 farm estate whose roads are not connected to the rest (a second network "
        "component), plus a rural scatter of homesteads.",
        "- Facilities: " + ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds)) + ".",
        f"- Highway ways: {len(ways)}; network components: {component_count(ways)}; river "
        f"crossings: {len(bridges)} bridges ("
        + ", ".join(w.tags["highway"] for w in bridges)
        + ").",
        "",
        "Road length by class (km):",
        "",
        "| highway | km |",
        "| --- | ---: |",
        *(f"| {k} | {v:.1f} |" for k, v in _road_km_by_class(net).items()),
        "",
        "Villages (target population before cell noise):",
        "",
        "| village | population | across the river | wealth quintile |",
        "| --- | ---: | --- | ---: |",
        *(
            f"| {s.name} | {s.population:,.0f} | {_yes_no(district.far_bank, s)} | "
            f"{quintile[s.key]} |"
            for s in villages
        ),
        "",
        "## Licence",
        "",
        f"{LICENCE}. No real data source was used, so no attribution is required.",
        "",
    ]
    return "\n".join(lines)


def write_all(district: District, folder: Path) -> None:
    """Write every demo file of ``district`` into ``folder``."""
    seed = district.seed
    write_osm(folder / FILE_NAMES["network"], district.network)
    write_population(folder / FILE_NAMES["population"], district.population, seed)
    write_geojson(
        folder / FILE_NAMES["facilities"],
        "facilities (SYNTHETIC)",
        _synthetic_note("health facilities", seed),
        _facility_features(district),
    )
    write_geojson(
        folder / FILE_NAMES["boundaries"],
        "subdistricts (SYNTHETIC)",
        _synthetic_note("sub-district boundaries", seed),
        _subdistrict_features(district),
    )
    write_geojson(
        folder / FILE_NAMES["groups"],
        "village areas (SYNTHETIC)",
        _synthetic_note("village areas and wealth quintiles", seed),
        _group_features(district),
    )
    total = float(district.population[district.population != NODATA].sum(dtype=np.float64))
    write_terrain(folder, district)
    (folder / FILE_NAMES["readme"]).write_text(readme_text(district, seed, total), encoding="utf-8")
