"""Shared fixtures: the real Comoros data (integration) and small synthetic inputs."""

from __future__ import annotations

import os
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMOROS = ROOT.parent / "shared" / "data" / "comoros"


@pytest.fixture(scope="session")
def comoros_dir() -> Path:
    """The real Comoros data folder; skips locally when absent, fails in CI."""
    if not (COMOROS / "comores-latest.osm.pbf").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the shared Comoros data at {COMOROS}")
        pytest.skip(f"Comoros data not found at {COMOROS}")
    return COMOROS


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
                   ) -> None:
    """Keep network caches of tests out of the user's home folder."""
    monkeypatch.setenv("ACCESSMAP_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


# --------------------------------------------------------------------------- tiny world
# A straight east-west road at latitude -13.8 with nodes every ~1 km, a population row
# whose cell centres sit on the nodes, and one facility on the west end.  Walking at
# 5 km/h, each kilometre takes 12 minutes, so every figure can be checked by hand.

TINY_LAT = -13.8
KM_LON = 1 / (111.320 * 0.971134)  # degrees of longitude per km at 13.8 S (cos 13.8 deg)
TINY_LON0 = 33.0


def write_osm(path: Path, nodes: dict[int, tuple[float, float]],
              ways: list[tuple[int, list[int], dict[str, str]]]) -> Path:
    """Write a small OSM XML file: nodes {id: (lon, lat)}, ways [(way id, refs, tags)].

    The suffix chooses the encoding: ``.osm``, ``.osm.gz`` or ``.osm.bz2``.
    """
    import bz2
    import gzip

    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for node_id, (lon, lat) in nodes.items():
        lines.append(f'  <node id="{node_id}" version="1" lat="{lat:.9f}" lon="{lon:.9f}"/>')
    for way_id, refs, tags in ways:
        lines.append(f'  <way id="{way_id}" version="1">')
        lines += [f'    <nd ref="{r}"/>' for r in refs]
        lines += [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()]
        lines.append("  </way>")
    lines.append("</osm>")
    data = ("\n".join(lines) + "\n").encode()
    opener = {".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix, open)
    with opener(path, "wb") as handle:
        handle.write(data)
    return path


def write_raster(path: Path, values: object, *, west: float, north: float, size_deg: float,
                 crs: str | None = "EPSG:4326", nodata: float = -99999.0) -> Path:
    """Write a float32 GeoTIFF with square cells of ``size_deg``."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    data = np.asarray(values, dtype=np.float32)
    with rasterio.open(
        path, "w", driver="GTiff", height=data.shape[0], width=data.shape[1], count=1,
        dtype="float32", crs=crs, transform=from_origin(west, north, size_deg, size_deg),
        nodata=nodata,
    ) as dst:
        dst.write(data, 1)
    return path


@pytest.fixture
def tiny_world(tmp_path: Path) -> dict[str, Path]:
    """Road of 3 x 1 km, population 100/200/300/400 on its nodes, one facility at km 0.

    A fifth cell (population 1000) lies 2 km north of the road's east end; with the
    default 5 km snap it walks 2 km x 1.3 detour at 5 km/h = 31.2 min to the road.
    """
    import json

    nodes = {i + 1: (TINY_LON0 + i * KM_LON, TINY_LAT) for i in range(4)}
    network = write_osm(tmp_path / "roads.osm", nodes,
                        [(1, [1, 2, 3, 4], {"highway": "residential", "name": "Main <road>"})])
    size = KM_LON
    values = [[0, 0, 0, 1000], [0, 0, 0, 0], [100, 200, 300, 400]]
    # row 2 centres on the road; row 0 is 2 km north of it
    population = write_raster(
        tmp_path / "population.tif", values, west=TINY_LON0 - size / 2,
        north=TINY_LAT + 2.5 * size, size_deg=size,
    )
    facilities = tmp_path / "facilities.geojson"
    facilities.write_text(json.dumps({
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": "West <b>clinic</b>", "amenity": "clinic",
                                               "capacity": 10},
             "geometry": {"type": "Point", "coordinates": [TINY_LON0, TINY_LAT]}},
            {"type": "Feature", "properties": {"name": "East pharmacy", "amenity": "pharmacy"},
             "geometry": {"type": "Point", "coordinates": [TINY_LON0 + 3 * KM_LON, TINY_LAT]}},
        ],
    }))
    return {"network": network, "population": population, "facilities": facilities,
            "dir": tmp_path}
