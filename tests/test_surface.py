"""Travel-time surface (COG) and nested isochrone bands on tiny hand-made grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.errors
import shapely
import shapely.geometry
from affine import Affine

from accessmap._raster import cell_area_km2, label_polygons, polygon_mapping
from accessmap.analysis.surface import isochrone_bands, travel_time_grid, write_travel_time
from accessmap.inputs.population import Population

# 0.01 degree cells near the equator: about 1.11 km x 1.11 km
TRANSFORM = Affine(0.01, 0.0, 40.0, 0.0, -0.01, 0.015)


def grid_population(values: list[list[float]], transform: Affine = TRANSFORM,
                    crs: str = "EPSG:4326") -> Population:
    data = np.asarray(values, dtype=float)
    rows, cols = np.nonzero(data > 0)
    x, y = rasterio.transform.xy(transform, rows, cols, offset="center")
    return Population(np.asarray(x, float), np.asarray(y, float), data[rows, cols],
                      rows.astype(np.int64), cols.astype(np.int64), transform, data.shape,
                      crs, "test")


def test_surface_holds_minutes_on_the_population_grid_and_nan_elsewhere() -> None:
    pop = grid_population([[1, 1, 0], [0, 1, 0], [0, 0, 1]])
    grid = travel_time_grid(pop, np.array([600.0, 1200.0, 3000.0, np.inf]))
    assert grid.shape == (3, 3)
    assert grid[0, 0] == 10 and grid[0, 1] == 20 and grid[1, 1] == 50
    assert np.isnan(grid[2, 2])  # no route: nodata, never a sentinel
    assert np.isnan(grid[0, 2])  # no people


def test_travel_time_tif_is_a_float32_cog_with_nan_nodata(tmp_path: Path) -> None:
    pop = grid_population([[1, 1, 0], [0, 1, 0], [0, 0, 1]])
    path = tmp_path / "travel_time.tif"
    write_travel_time(path, pop, np.array([600.0, 1200.0, 3000.0, np.inf]))
    with rasterio.open(path) as ds:
        assert ds.dtypes[0] == "float32"
        assert np.isnan(ds.nodata)
        assert ds.transform == TRANSFORM and ds.shape == (3, 3)
        assert ds.crs.to_epsg() == 4326
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        data = ds.read(1)
    assert data[0, 1] == pytest.approx(20.0)
    assert np.isnan(data[2, 2])


def test_bands_nest_and_count_people_within_each_threshold() -> None:
    pop = grid_population([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    minutes = np.array([10, 20, 70, 20, 40, 80, 90, 100, np.inf])
    bands = isochrone_bands(pop, minutes * 60, [60, 30, 120])
    assert bands["threshold_min"].tolist() == [30, 60, 120]
    assert bands["population"].tolist() == [1 + 2 + 4, 1 + 2 + 4 + 5, 45 - 9]
    assert bands["cells"].tolist() == [3, 4, 8]
    geoms = bands.geometry.to_numpy()
    assert shapely.contains(geoms[1], geoms[0]) and shapely.contains(geoms[2], geoms[1])
    cell = float(cell_area_km2(TRANSFORM, (3, 3), "EPSG:4326")[1, 0])
    assert bands["area_km2"].iloc[1] == pytest.approx(4 * cell, rel=0.01)


def test_band_keeps_an_unreachable_pocket_as_a_hole() -> None:
    pop = grid_population([[1, 1, 1], [1, 1, 1], [1, 1, 1]])
    minutes = np.full(9, 10.0)
    minutes[4] = np.inf  # the centre cell has no route
    band = isochrone_bands(pop, minutes * 60, [30]).geometry.iloc[0]
    assert len(shapely.get_parts(band)) == 1
    assert shapely.get_num_interior_rings(shapely.get_parts(band)[0]) == 1
    assert not band.contains(shapely.Point(40.015, 0.0))
    assert band.contains(shapely.Point(40.005, 0.0))


def test_cell_area_shrinks_with_latitude_and_is_exact_for_projected_grids() -> None:
    equator = cell_area_km2(Affine(0.01, 0, 0, 0, -0.01, 0.005), (1, 1), "EPSG:4326")
    sixty = cell_area_km2(Affine(0.01, 0, 0, 0, -0.01, 60.005), (1, 1), "EPSG:4326")
    assert float(sixty[0, 0]) == pytest.approx(float(equator[0, 0]) * 0.5, rel=1e-3)
    utm = cell_area_km2(Affine(100, 0, 500000, 0, -100, 0), (2, 3), "EPSG:32738")
    assert utm.shape == (2, 1) and float(utm[1, 0]) == pytest.approx(0.01)


def test_label_polygons_reprojects_projected_grids_to_lonlat() -> None:
    labels = np.array([[1, 0], [0, 2]], dtype=np.int32)
    geoms = label_polygons(labels, Affine(100, 0, 500000, 0, -100, 8800000), "EPSG:32738")
    assert set(geoms) == {1, 2}
    west, south, _, _ = geoms[1].bounds
    assert 44 < west < 46 and -12 < south < -10


def test_bands_do_not_depend_on_the_order_of_the_demand_points() -> None:
    pop = grid_population([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    minutes = np.array([10, 20, 70, 20, 40, 80, 90, 100, np.inf])
    order = np.array([8, 3, 0, 5, 1, 7, 2, 6, 4])  # not row-major
    shuffled = Population(pop.lon[order], pop.lat[order], pop.population[order],
                          pop.row[order], pop.col[order], pop.transform, pop.shape, pop.crs,
                          "test")
    bands = isochrone_bands(pop, minutes * 60, [30, 60, 120])
    again = isochrone_bands(shuffled, minutes[order] * 60, [30, 60, 120])
    assert again.drop(columns="geometry").equals(bands.drop(columns="geometry"))
    assert again["population"].tolist() == [7, 12, 36]
    assert all(shapely.equals(a, b) for a, b in zip(bands.geometry, again.geometry,
                                                    strict=True))


def test_travel_time_tif_replaces_the_target_whole_and_leaves_no_temporary_file(
    tmp_path: Path,
) -> None:
    pop = grid_population([[1, 1, 0], [0, 1, 0], [0, 0, 1]])
    path = tmp_path / "travel_time.tif"
    write_travel_time(path, pop, np.array([600.0, 1200.0, 3000.0, np.inf]))
    before = path.read_bytes()
    broken = Population(pop.lon, pop.lat, pop.population, pop.row, pop.col, pop.transform,
                        pop.shape, "EPSG:999999", "test")  # no such CRS: the write fails
    with pytest.raises(rasterio.errors.CRSError):
        write_travel_time(path, broken, np.array([60.0, 60.0, 60.0, 60.0]))
    assert path.read_bytes() == before  # the old file is intact, not half-written
    write_travel_time(path, pop, np.array([60.0, 60.0, 60.0, 60.0]))
    assert [p.name for p in tmp_path.iterdir()] == ["travel_time.tif"]
    with rasterio.open(path) as ds:
        assert ds.read(1)[0, 0] == 1.0


def test_polygon_mapping_has_the_coordinates_of_geo_interface() -> None:
    holed = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)],
                            [[(1, 1), (2, 1), (2, 2), (1, 2)]])
    multi = shapely.MultiPolygon([holed, shapely.box(5, 5, 6, 6)])
    for geom in (holed, multi, shapely.GeometryCollection([holed])):
        mapping = polygon_mapping(geom)
        assert mapping["type"] == geom.geom_type
        assert shapely.equals_exact(shapely.geometry.shape(mapping), geom, 0)
    assert polygon_mapping(multi)["coordinates"][0][1][1] == [2.0, 1.0]
