"""Admin areas (polygon files and OSM boundary relations), groups and settlement classes."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from affine import Affine

from accessmap import InputDataError
from accessmap.inputs.areas import (
    OUTSIDE,
    PERI_URBAN,
    RURAL,
    URBAN,
    assign_areas,
    group_labels,
    load_admin_areas,
    settlement_classes,
)
from tests.test_surface import grid_population

# one row of seven 0.01-degree cells (about 1.1 km) eastwards from lon 0
ROW = grid_population([[1, 1, 1, 1, 1, 1, 1]], Affine(0.01, 0, 0.0, 0, -0.01, 0.01))


def write_boundaries(tmp_path: Path) -> Path:
    frame = gpd.GeoDataFrame(
        {"district": ["West", "East", "East"]},
        geometry=[shapely.box(0, 0, 0.02, 0.01), shapely.box(0.02, 0, 0.03, 0.01),
                  shapely.box(0.03, 0, 0.05, 0.01)],
        crs="EPSG:4326")
    path = tmp_path / "districts.geojson"
    frame.to_file(path)
    return path


def test_polygon_areas_are_dissolved_by_name_and_joined_to_points(tmp_path: Path) -> None:
    areas = load_admin_areas(write_boundaries(tmp_path), name_column="district")
    assert areas["area_name"].tolist() == ["West", "East"]
    assert areas.geometry.iloc[1].area == pytest.approx(0.0003)
    labels = assign_areas(areas, ROW, snap_km=1.5)
    # cell 5 is one cell (1.1 km) beyond East (a coastal cell): it joins East; cell 6
    # is 2.2 km away and stays outside
    assert labels.tolist() == ["West", "West", "East", "East", "East", "East", OUTSIDE]
    strict = assign_areas(areas, ROW, snap_km=0)
    assert strict.tolist()[-2:] == [OUTSIDE, OUTSIDE]


def test_missing_name_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match=r"no column 'name'.*district"):
        load_admin_areas(write_boundaries(tmp_path))


def write_osm_boundaries(path: Path) -> Path:
    """Two square admin_level=4 relations and one admin_level=8 closed way."""
    nodes = {1: (0, 0), 2: (1, 0), 3: (1, 1), 4: (0, 1), 5: (2, 0), 6: (2, 1),
             7: (0.2, 0.2), 8: (0.4, 0.2), 9: (0.4, 0.4), 10: (0.2, 0.4)}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    lines += [f'<node id="{i}" version="1" lat="{lat}" lon="{lon}"/>'
              for i, (lon, lat) in nodes.items()]
    ways = {11: [1, 2, 3, 4, 1], 12: [2, 5, 6, 3, 2], 13: [7, 8, 9, 10, 7]}
    for way, refs in ways.items():
        lines.append(f'<way id="{way}" version="1">')
        lines += [f'<nd ref="{r}"/>' for r in refs]
        if way == 13:
            lines += ['<tag k="boundary" v="administrative"/>', '<tag k="admin_level" v="8"/>',
                      '<tag k="name" v="Village"/>']
        lines.append("</way>")
    for rel, (way, name) in {21: (11, "Island A"), 22: (12, "Island B")}.items():
        lines += [f'<relation id="{rel}" version="1">',
                  f'<member type="way" ref="{way}" role="outer"/>',
                  '<tag k="type" v="boundary"/>', '<tag k="boundary" v="administrative"/>',
                  '<tag k="admin_level" v="4"/>', f'<tag k="name" v="{name}"/>',
                  "</relation>"]
    lines.append("</osm>")
    path.write_text("\n".join(lines))
    return path


def test_osm_boundary_relations_at_one_admin_level(tmp_path: Path) -> None:
    path = write_osm_boundaries(tmp_path / "admin.osm")
    areas = load_admin_areas(path, admin_level=4)
    assert sorted(areas["area_name"]) == ["Island A", "Island B"]
    a = areas.set_index("area_name").geometry["Island A"]
    assert a.area == pytest.approx(1.0)
    two = grid_population([[1, 1]], Affine(1, 0, 0, 0, -1, 1))
    assert assign_areas(areas, two).tolist() == ["Island A", "Island B"]
    assert load_admin_areas(path, admin_level=8)["area_name"].tolist() == ["Village"]


def test_absent_admin_level_lists_the_levels_present(tmp_path: Path) -> None:
    path = write_osm_boundaries(tmp_path / "admin.osm")
    with pytest.raises(InputDataError, match=r"no administrative boundary at admin_level 6.*"
                                             r"4 \(2\), 8 \(1\)"):
        load_admin_areas(path, admin_level=6)


def test_group_attribute_joined_to_points(tmp_path: Path) -> None:
    path = write_boundaries(tmp_path)
    labels = group_labels(path, "district", ROW)
    assert labels.tolist() == ["West"] * 2 + ["East"] * 3 + [OUTSIDE] * 2
    with pytest.raises(InputDataError, match="no column 'wealth_quintile'"):
        group_labels(path, "wealth_quintile", ROW)


def test_settlement_classes_follow_density_and_cluster_size() -> None:
    # 1 km cells (0.009 degree at the equator is ~1.0 km): per-km2 densities ~= values
    transform = Affine(0.009, 0, 40.0, 0, -0.009, 0.0045)
    values = [[2000, 2000, 0, 400, 0, 0],
              [2000, 2000, 0, 0, 0, 10],
              [0, 0, 0, 350, 350, 0]]
    pop = grid_population(values, transform)
    classes = settlement_classes(pop, urban_centre_min_population=7000,
                                 urban_cluster_min_population=600)
    grid = {(int(r), int(c)): k for r, c, k in zip(pop.row, pop.col, classes, strict=True)}
    assert grid[(0, 0)] == grid[(1, 1)] == URBAN  # 8,000 people at >= 1500/km2
    assert grid[(2, 3)] == grid[(2, 4)] == PERI_URBAN  # 700 people at >= 300/km2
    assert grid[(0, 3)] == RURAL  # dense but only 400 people in its cluster
    assert grid[(1, 5)] == RURAL
    strict = settlement_classes(pop, urban_centre_min_population=9000,
                                urban_cluster_min_population=600)
    assert strict[0] == PERI_URBAN  # the 8,000-people block is only an urban cluster


def test_many_areas_keep_their_own_labels() -> None:
    # 300 areas: more than a uint8 grid of polygon numbers can hold
    n = 300
    cells = grid_population([[1] * n], Affine(0.01, 0, 0.0, 0, -0.01, 0.01))
    boxes = gpd.GeoDataFrame({"area_name": [f"a{i}" for i in range(n)]},
                             geometry=[shapely.box(0.01 * i, 0, 0.01 * (i + 1), 0.01)
                                       for i in range(n)], crs="EPSG:4326")
    assert assign_areas(boxes, cells, snap_km=0).tolist() == [f"a{i}" for i in range(n)]
