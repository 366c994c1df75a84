"""Tests of the embedded synthetic demo district (accessmap.demo)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pytest
import rasterio
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely.geometry import LineString, box

from accessmap.demo.generator import make_demo_data
from accessmap.demo.geometry import LAT_MAX, LAT_MIN, LON_MAX, LON_MIN
from accessmap.demo.population import NODATA
from accessmap.demo.roads import HIGHWAY_CLASSES
from accessmap.demo.writers import FILE_NAMES

COMMITTED = Path(__file__).resolve().parents[1] / "data" / "demo"
DISTRICT = box(LON_MIN, LAT_MIN, LON_MAX, LAT_MAX)
MAX_BYTES = 3 * 1024 * 1024


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Generate the demo district once for the module."""
    return make_demo_data(tmp_path_factory.mktemp("demo") / "demo")


@pytest.fixture(scope="module")
def osm_ways(demo: dict[str, Path]) -> list[tuple[dict[str, str], list[int], LineString]]:
    """Return (tags, node ids, lon/lat line) of every way in the OSM file."""
    ways = []
    for obj in osmium.FileProcessor(str(demo["network"])).with_locations():
        if obj.is_way():
            coords = [(n.lon, n.lat) for n in obj.nodes]
            ways.append((dict(obj.tags), [n.ref for n in obj.nodes], LineString(coords)))
    return ways


def highways(ways: list[tuple[dict[str, str], list[int], LineString]]) -> list:
    """Return the highway ways only."""
    return [w for w in ways if "highway" in w[0]]


def test_returns_all_paths(demo: dict[str, Path]) -> None:
    assert set(demo) == {"network", "population", "facilities", "boundaries", "groups",
                         "landcover", "dem", "readme"}
    assert all(path.is_file() for path in demo.values())
    assert sorted(p.name for p in demo["network"].parent.iterdir()) == sorted(FILE_NAMES.values())


def test_two_runs_are_byte_identical(demo: dict[str, Path], tmp_path: Path) -> None:
    again = make_demo_data(tmp_path / "again")
    for key, path in demo.items():
        assert path.read_bytes() == again[key].read_bytes(), key


def test_other_seed_differs(demo: dict[str, Path], tmp_path: Path) -> None:
    other = make_demo_data(tmp_path / "other", seed=7)
    assert other["network"].read_bytes() != demo["network"].read_bytes()


def test_committed_data_match_generator(demo: dict[str, Path]) -> None:
    for key, path in demo.items():
        committed = COMMITTED / path.name
        assert committed.is_file(), f"{committed} missing: run scripts/make_demo_data.py"
        if path.suffix == ".tif":  # compare content: encoders may differ across GDAL builds
            assert _raster_content(committed) == _raster_content(path), committed
            continue
        assert committed.read_bytes() == path.read_bytes(), (
            f"{committed} drifted from the generator: run scripts/make_demo_data.py ({key})"
        )


def _raster_content(path: Path) -> tuple[object, ...]:
    import rasterio

    with rasterio.open(path) as src:
        return (
            src.read().tobytes(),
            src.crs.to_string(),
            tuple(src.transform),
            src.nodata,
            src.tags(),
        )


def test_sizes_under_limit(demo: dict[str, Path]) -> None:
    assert sum(p.stat().st_size for p in demo.values()) < MAX_BYTES
    assert sum(p.stat().st_size for p in COMMITTED.iterdir()) < MAX_BYTES


def test_population_raster(demo: dict[str, Path]) -> None:
    with rasterio.open(demo["population"]) as src:
        assert src.crs.to_epsg() == 4326
        assert src.dtypes[0] == "float32"
        assert src.nodata == NODATA
        assert src.res == pytest.approx((1 / 1200, 1 / 1200))
        assert src.compression.value.lower() == "deflate"
        assert "SYNTHETIC" in src.tags()["TIFFTAG_IMAGEDESCRIPTION"]
        values = src.read(1)
    nodata = values == NODATA
    assert nodata[0].all() and nodata[-1].all() and nodata[:, 0].all() and nodata[:, -1].all()
    assert nodata[4:-4, 4:-4].sum() > 100  # river and lake cells inside the district
    people = values[~nodata]
    assert (people >= 0).all()
    total = float(people.sum(dtype=np.float64))
    assert 140_000 <= total <= 160_000
    assert f"{total:.2f}" in demo["readme"].read_text()


def test_facilities(demo: dict[str, Path]) -> None:
    data = json.loads(demo["facilities"].read_text())
    assert "SYNTHETIC" in data["name"] and "Not real data" in data["description"]
    props = [f["properties"] for f in data["features"]]
    health = [p for p in props if p["type"] != "pharmacy"]
    assert 5 <= len(health) <= 8
    assert {p["type"] for p in health} == {"district_hospital", "health_centre", "health_post"}
    assert {p["amenity"] for p in health} == {"hospital", "clinic", "doctors"}
    pharmacies = [p for p in props if p["type"] == "pharmacy"]
    assert 1 <= len(pharmacies) <= 2 and all(p["amenity"] == "pharmacy" for p in pharmacies)
    assert all(isinstance(p["capacity"], int | float) for p in props)
    assert len({p["id"] for p in props}) == len(props)
    frame = gpd.read_file(demo["facilities"])
    assert frame.crs.to_epsg() == 4326
    assert frame.geometry.within(DISTRICT).all()


def test_subdistricts_tile_the_district(demo: dict[str, Path]) -> None:
    frame = gpd.read_file(demo["boundaries"])
    assert 3 <= len(frame) <= 5
    assert {"name", "code"} <= set(frame.columns)
    union = shapely.union_all(frame.geometry.values)
    assert union.area == pytest.approx(DISTRICT.area, rel=1e-6)
    assert union.symmetric_difference(DISTRICT).area < 1e-6 * DISTRICT.area
    geoms = list(frame.geometry)
    for i, a in enumerate(geoms):
        for b in geoms[i + 1 :]:
            assert a.intersection(b).area < 1e-12


def test_groups(demo: dict[str, Path]) -> None:
    frame = gpd.read_file(demo["groups"])
    assert len(frame) == 21
    assert set(frame["wealth_quintile"]) == {1, 2, 3, 4, 5}
    assert frame["village"].is_unique
    assert shapely.union_all(frame.geometry.values).area == pytest.approx(DISTRICT.area, rel=1e-6)


def test_every_file_is_labelled_synthetic(demo: dict[str, Path]) -> None:
    head = demo["network"].read_text()[:400]
    assert '<osm version="0.6" generator="accessmap synthetic demo (not real data)">' in head
    assert "<bounds " in head
    for key in ("facilities", "boundaries", "groups"):
        data = json.loads(demo[key].read_text())
        assert "SYNTHETIC" in data["name"] and "SYNTHETIC" in data["description"]
    assert "SYNTHETIC" in demo["readme"].read_text().splitlines()[0]


def test_osm_highway_classes_and_tags(osm_ways: list) -> None:
    roads = highways(osm_ways)
    assert {t["highway"] for t, _, _ in roads} >= set(HIGHWAY_CLASSES)
    tracks = [t for t, _, _ in roads if t["highway"] == "track"]
    assert {t["tracktype"] for t in tracks} <= {"grade3", "grade4", "grade5"}
    assert {t.get("surface") for t in tracks} >= {"unpaved", "dirt"}
    assert any(t.get("oneway") == "yes" for t, _, _ in roads)
    assert any(t["highway"] == "primary" and t.get("maxspeed") == "60" for t, _, _ in roads)
    assert any(t["highway"] == "secondary" and t.get("surface") == "asphalt" for t, _, _ in roads)
    assert all(len(nodes) >= 2 for _, nodes, _ in roads)
    long_roads = [line for t, _, line in roads if t["highway"] in ("primary", "tertiary")]
    assert max(len(line.coords) for line in long_roads) > 20  # wiggly, not straight


def test_only_bridges_cross_the_river(osm_ways: list) -> None:
    rivers = [line for t, _, line in osm_ways if t.get("waterway") == "river"]
    assert len(rivers) == 1
    crossing = [t for t, _, line in highways(osm_ways) if line.intersects(rivers[0])]
    bridges = [t for t, _, _ in highways(osm_ways) if t.get("bridge") == "yes"]
    assert len(crossing) == len(bridges) == 3
    assert all(t.get("bridge") == "yes" for t in crossing)
    assert sorted(t["highway"] for t in crossing) == ["footway", "primary", "tertiary"]


def test_network_has_two_components(osm_ways: list) -> None:
    roads = highways(osm_ways)
    ids = sorted({n for _, nodes, _ in roads for n in nodes})
    index = {n: i for i, n in enumerate(ids)}
    pairs = np.array(
        [(index[a], index[b]) for _, nodes, _ in roads for a, b in itertools.pairwise(nodes)]
    )
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(ids),) * 2)
    count, labels = connected_components(graph, directed=False)
    assert count == 2
    assert np.bincount(labels).min() < 40  # the small farm cluster


def test_crossing_roads_share_nodes(osm_ways: list) -> None:
    roads = highways(osm_ways)
    tree = shapely.STRtree([line for _, _, line in roads])
    left, right = tree.query([line for _, _, line in roads], predicate="intersects")
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i < j:
            assert set(roads[i][1]) & set(roads[j][1]), (roads[i][0], roads[j][0])


def test_facilities_lie_near_but_off_roads(demo: dict[str, Path], osm_ways: list) -> None:
    roads = shapely.union_all([line for _, _, line in highways(osm_ways)])
    frame = gpd.read_file(demo["facilities"])
    km = np.array([roads.distance(p) for p in frame.geometry]) * 108.0
    assert (km < 0.3).all()
    assert (km > 0.02).all()


def test_some_villages_are_far_from_care(demo: dict[str, Path]) -> None:
    villages = [
        (obj.lon, obj.lat)
        for obj in osmium.FileProcessor(str(demo["network"]), osmium.osm.NODE)
        if obj.tags.get("place") == "village"
    ]
    assert len(villages) == 20
    frame = gpd.read_file(demo["facilities"])
    care = shapely.MultiPoint(list(frame[frame["type"] != "pharmacy"].geometry))
    km = np.array([care.distance(shapely.Point(v)) for v in villages]) * 108.0
    assert (km > 7.0).sum() >= 4
