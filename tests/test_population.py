"""Population loading: rasters (windowed, any CRS, aggregated), polygons, points, groups."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine

from accessmap import InputDataError, InputFileError
from accessmap.errors import DataQualityWarning
from accessmap.inputs.population import aggregate_sum, counts_on_grid, load_population

CELL = 0.01
ORIGIN = Affine(CELL, 0.0, 45.0, 0.0, -CELL, -11.0)


def write_raster(path: Path, data: np.ndarray, *, transform: Affine = ORIGIN,
                 crs: str | None = "EPSG:4326", nodata: float | None = -99999.0) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0],
                       count=1, dtype="float32", crs=crs, transform=transform,
                       nodata=nodata) as ds:
        ds.write(data.astype(np.float32), 1)
    return path


def sample(shape: tuple[int, int] = (10, 10), seed: int = 1) -> np.ndarray:
    data = np.random.default_rng(seed).uniform(0, 50, shape).astype(np.float32).astype(float)
    data[0, 0] = -99999.0  # nodata
    data[3, 4] = 0.0
    return data


def test_window_reads_only_the_study_area_and_keeps_its_people(tmp_path: Path) -> None:
    data = sample()
    path = write_raster(tmp_path / "pop.tif", data)
    # cells with columns 2..5 and rows 1..3: lon 45.02..45.06, lat -11.01..-11.04
    pop = load_population(path, bounds_lonlat=(45.025, -11.035, 45.055, -11.015))
    assert pop.shape == (3, 4)
    assert pop.total == pytest.approx(float(data[1:4, 2:6].sum()), abs=1e-6)
    assert pop.lon.min() == pytest.approx(45.025) and pop.lat.max() == pytest.approx(-11.015)


def test_nodata_and_negative_cells_are_excluded(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    data = sample()
    data[5, 5] = -3.0
    path = write_raster(tmp_path / "pop.tif", data)
    with caplog.at_level(logging.WARNING), pytest.warns(
            DataQualityWarning, match="1 cells with negative population treated as nodata"):
        pop = load_population(path)
    assert "negative population" in caplog.text
    valid = data[data > 0]
    assert pop.total == pytest.approx(float(valid.sum()), abs=1e-6)
    assert pop.size == valid.size and pop.excluded_nodata_cells == 2


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_aggregation_preserves_the_total(tmp_path: Path, factor: int) -> None:
    data = sample((10, 11))
    path = write_raster(tmp_path / "pop.tif", data)
    fine = load_population(path)
    coarse = load_population(path, aggregate=factor)
    assert coarse.total == pytest.approx(fine.total, abs=1e-6)
    assert coarse.shape == (-(-10 // factor), -(-11 // factor))
    assert coarse.transform.a == pytest.approx(CELL * factor)


def test_aggregate_sum_hand_case() -> None:
    grid, transform = aggregate_sum(np.arange(9, dtype=float).reshape(3, 3), ORIGIN, 2)
    assert grid.tolist() == [[0 + 1 + 3 + 4, 2 + 5], [6 + 7, 8]]
    assert transform.a == 2 * CELL


def test_projected_raster_window_and_cell_centres(tmp_path: Path) -> None:
    data = sample((6, 6))
    utm = Affine(100.0, 0.0, 500_000.0, 0.0, -100.0, 8_800_000.0)
    path = write_raster(tmp_path / "utm.tif", data, transform=utm, crs="EPSG:32738")
    full = load_population(path)
    assert full.total == pytest.approx(float(data[data > 0].sum()), abs=1e-6)
    assert np.all((full.lon > 44.9) & (full.lon < 45.1) & (full.lat < -10.8))
    west, south, east, north = (float(full.lon.min()), float(full.lat.min()),
                                float(full.lon.max()), float(full.lat.max()))
    again = load_population(path, bounds_lonlat=(west - 0.01, south - 0.01, east + 0.01,
                                                 north + 0.01))
    assert again.total == pytest.approx(full.total, abs=1e-6)


def test_raster_without_crs_is_refused(tmp_path: Path) -> None:
    path = write_raster(tmp_path / "nocrs.tif", sample(), crs=None)
    with pytest.raises(InputDataError, match="no coordinate reference system"):
        load_population(path)


def test_raster_not_overlapping_the_network_is_refused(tmp_path: Path) -> None:
    path = write_raster(tmp_path / "pop.tif", sample())
    with pytest.raises(InputDataError, match="does not overlap the road network"):
        load_population(path, bounds_lonlat=(10.0, 10.0, 11.0, 11.0))


def test_all_nodata_raster_is_refused(tmp_path: Path) -> None:
    path = write_raster(tmp_path / "empty.tif", np.full((4, 4), -99999.0))
    with pytest.raises(InputDataError, match="no populated cell"):
        load_population(path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        load_population(tmp_path / "nope.tif")


# --------------------------------------------------------------------------- vectors


def write_vector(path: Path, geoms: list[shapely.Geometry], **columns: list[object]) -> Path:
    gpd.GeoDataFrame(columns, geometry=geoms, crs="EPSG:4326").to_file(path)
    return path


def test_polygon_people_spread_over_the_cells_they_cover(tmp_path: Path) -> None:
    square = shapely.box(45.0, -11.02, 45.02, -11.0)  # 2 x 2 cells of 0.01 degree
    tiny = shapely.box(45.051, -11.009, 45.052, -11.008)  # smaller than one cell
    path = write_vector(tmp_path / "census.gpkg", [square, tiny], people=[100.0, 7.0])
    pop = load_population(path, population_column="people", cell_size_deg=CELL)
    assert pop.total == pytest.approx(107.0, abs=1e-9)
    assert sorted(pop.population.tolist()) == [7.0, 25.0, 25.0, 25.0, 25.0]
    grid = pop.to_grid(pop.population, fill=0.0)
    assert grid.sum() == pytest.approx(107.0)
    assert pop.crs == "EPSG:4326" and pop.transform.a == CELL


def test_points_add_their_people_to_the_cell_they_fall_in(tmp_path: Path) -> None:
    points = [shapely.Point(45.001, -11.001), shapely.Point(45.002, -11.002),
              shapely.Point(45.031, -11.021)]
    path = write_vector(tmp_path / "villages.geojson", points, population=[5.0, 6.0, 9.0])
    pop = load_population(path, cell_size_deg=CELL)
    assert sorted(pop.population.tolist()) == [9.0, 11.0]


def test_polygons_without_the_population_column_are_refused(tmp_path: Path) -> None:
    path = write_vector(tmp_path / "c.gpkg", [shapely.box(45, -11.02, 45.02, -11.0)],
                        name=["a"])
    with pytest.raises(InputDataError, match=r"no population column 'pop2020'.*name"):
        load_population(path, population_column="pop2020")


def test_negative_population_in_a_polygon_file_names_the_row(tmp_path: Path) -> None:
    boxes = [shapely.box(45, -11.02, 45.02, -11.0), shapely.box(45.1, -11.1, 45.2, -11.0)]
    path = write_vector(tmp_path / "c.gpkg", boxes, population=[10.0, -4.0])
    with pytest.raises(InputDataError, match=r"row 2: population is -4"):
        load_population(path)


def test_vector_population_outside_the_network_is_refused(tmp_path: Path) -> None:
    path = write_vector(tmp_path / "c.gpkg", [shapely.box(45, -11.02, 45.02, -11.0)],
                        population=[10.0])
    with pytest.raises(InputDataError, match="does not overlap"):
        load_population(path, bounds_lonlat=(10.0, 10.0, 11.0, 11.0))


# --------------------------------------------------------------------------- group rasters


def test_group_raster_on_the_same_grid_is_read_over_the_same_window(tmp_path: Path) -> None:
    data = sample()
    under5 = np.where(data > 0, data * 0.2, 0.0)
    pop_path = write_raster(tmp_path / "pop.tif", data)
    # the group raster starts 2 columns further west but is aligned to the same cells
    wide = np.zeros((10, 12))
    wide[:, 2:] = under5
    group = write_raster(tmp_path / "u5.tif", wide,
                         transform=Affine(CELL, 0, 45.0 - 2 * CELL, 0, -CELL, -11.0))
    pop = load_population(pop_path, bounds_lonlat=(45.025, -11.035, 45.055, -11.015))
    counts = counts_on_grid(group, pop)
    assert counts == pytest.approx(pop.population * 0.2, rel=1e-5)
    coarse = load_population(pop_path, aggregate=2)
    assert counts_on_grid(group, coarse, aggregate=2).sum() == pytest.approx(
        under5.sum(), rel=1e-5)


def test_group_raster_on_another_grid_is_refused(tmp_path: Path) -> None:
    pop_path = write_raster(tmp_path / "pop.tif", sample())
    shifted = write_raster(tmp_path / "g.tif", sample(),
                           transform=Affine(CELL, 0, 45.0033, 0, -CELL, -11.0))
    pop = load_population(pop_path)
    with pytest.raises(InputDataError, match=r"on another grid.*gdalwarp -r sum"):
        counts_on_grid(shifted, pop)


# --------------------------------------------------------------------------- refuse or warn


@pytest.mark.parametrize("sentinel", [3.4028235e38, -3.4028235e38, -99999.0, -9999.0])
def test_undeclared_nodata_sentinels_are_masked_with_a_count(tmp_path: Path,
                                                             sentinel: float) -> None:
    data = sample()
    data[0, 0] = 5.0
    data[2, 2] = data[7, 7] = sentinel
    path = write_raster(tmp_path / "pop.tif", data, nodata=None)
    with pytest.warns(DataQualityWarning, match=r"pop\.tif: 2 cells hold .*a nodata value "
                      r"the file does not declare"):
        pop = load_population(path)
    assert pop.total == pytest.approx(float(data[(data > 0) & (data < 1e38)].sum()), rel=1e-6)
    assert pop.total < 1e6


def test_a_multi_band_raster_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bands.tif"
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=2,
                       dtype="float32", crs="EPSG:4326", transform=ORIGIN) as ds:
        ds.write(np.ones((2, 4, 4), dtype=np.float32))
    with pytest.raises(InputDataError, match=r"has 2 bands; .*gdal_translate -b 1"):
        load_population(path)


@pytest.mark.parametrize(("transform", "match"), [
    (Affine.identity(), "has no geotransform"),
    (Affine(CELL, 0.001, 45.0, 0.001, -CELL, -11.0), "has a rotated geotransform"),
    (Affine(CELL, 0.0, 45.0, 0.0, CELL, -11.1), "is not north-up"),
])
@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")  # writing it
def test_unusable_geotransforms_are_refused(tmp_path: Path, transform: Affine,
                                            match: str) -> None:
    path = tmp_path / "pop.tif"
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1,
                       dtype="float32", crs="EPSG:4326", transform=transform) as ds:
        ds.write(np.ones((4, 4), dtype=np.float32), 1)
    with pytest.raises(InputDataError, match=match):
        load_population(path)
