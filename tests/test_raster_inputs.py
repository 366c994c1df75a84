"""Population rasters that are not plain counts (issue 13): densities and VRTs.

Densities (people per km² or per hectare) are converted by each cell's area, checked
against the WGS84 ellipsoid (``pyproj.Geod``, an independent reference); a raster read as
counts that looks like a density is warned about, WorldPop counts are not.  A VRT whose
source is missing or broken is refused in one line naming both files.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio
from affine import Affine

from accessmap.config import Scenario
from accessmap.errors import ConfigError, DataQualityWarning, InputDataError, InputFileError
from accessmap.inputs.population import counts_on_grid, load_population
from accessmap.inputs.population_units import DENSITY_HINT_PER_KM2
from tests.conftest import write_raster

GEOD = pyproj.Geod(ellps="WGS84")
CELL = 0.01  # degrees


def _ellipsoid_km2(west: float, north: float, size: float) -> float:
    lons = [west, west + size, west + size, west]
    lats = [north, north, north - size, north - size]
    area, _ = GEOD.polygon_area_perimeter(lons, lats)
    return abs(area) / 1e6


# --------------------------------------------------------------------------- densities


@pytest.mark.parametrize("north", [0.0, 60.0], ids=["equator", "60N"])
@pytest.mark.parametrize(("units", "per_km2"), [("per_km2", 1.0), ("per_ha", 100.0)])
def test_densities_become_people_per_cell_by_each_cells_true_area(
        tmp_path: Path, north: float, units: str, per_km2: float) -> None:
    values = np.array([[100.0, 200.0], [50.0, 0.0]])  # per km² (or per hectare)
    path = write_raster(tmp_path / "density.tif", values, west=45.0, north=north,
                        size_deg=CELL)
    population = load_population(path, units=units)
    for row in range(2):
        area = _ellipsoid_km2(45.0, north - row * CELL, CELL)  # the same in both columns
        got = population.to_grid(population.population, fill=0.0)[row]
        # the sphere of mean radius is within 0.7% of the WGS84 ellipsoid at any latitude
        assert got == pytest.approx(values[row] * per_km2 * area, rel=7e-3)
    # by hand: a 0.01° cell is 1.236 km² at the equator and half that at 60° (cos 60°)
    first = population.to_grid(population.population, fill=0.0)[0, 0]
    expected_km2 = 1.2364 * (1.0 if north == 0 else 0.5)
    assert first == pytest.approx(100 * per_km2 * expected_km2, rel=3e-3)


def test_the_conversion_comes_before_aggregation_and_keeps_the_total(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    values = rng.uniform(0, 500, (5, 7))  # per km², across 0.05° of latitude at 40° S
    path = write_raster(tmp_path / "density.tif", values, west=45.0, north=-40.0,
                        size_deg=CELL)
    fine = load_population(path, units="per_km2")
    coarse = load_population(path, units="per_km2", aggregate=3)
    assert coarse.total == pytest.approx(fine.total, rel=1e-9)
    areas = [_ellipsoid_km2(45.0, -40.0 - r * CELL, CELL) for r in range(5)]
    by_row = (values.astype(np.float32).astype(float) * np.array(areas)[:, None]).sum()
    assert fine.total == pytest.approx(by_row, rel=5e-3)


def test_a_projected_density_raster_uses_the_cell_size(tmp_path: Path) -> None:
    path = tmp_path / "utm.tif"
    with rasterio.open(path, "w", driver="GTiff", width=2, height=1, count=1,
                       dtype="float32", crs="EPSG:32738",
                       transform=Affine(100, 0, 500_000, 0, -100, 8_800_000)) as ds:
        ds.write(np.array([[250.0, 40.0]], dtype=np.float32), 1)  # per hectare, 1 ha cells
    population = load_population(path, units="per_ha")
    assert population.population.tolist() == pytest.approx([250.0, 40.0])


def test_units_do_not_apply_to_vector_files(tmp_path: Path) -> None:
    path = tmp_path / "villages.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                    '"properties": {"population": 5}, "geometry": {"type": "Point", '
                    '"coordinates": [45.0, -11.0]}}]}', "utf-8")
    with pytest.raises(InputDataError, match="population_units 'per_km2' applies to "
                                             "rasters only"):
        load_population(path, units="per_km2")


def test_the_setting_is_checked_and_reaches_the_loader() -> None:
    assert Scenario().inputs.population_units == "count"
    assert Scenario().replace(population_units="per_ha").inputs.population_units == "per_ha"
    with pytest.raises(ConfigError, match=r"inputs.population_units 'per_mile' is unknown; "
                                          r"use one of count, per_km2, per_ha"):
        Scenario(inputs={"population_units": "per_mile"})


def test_a_raster_named_as_a_density_is_warned_about(tmp_path: Path) -> None:
    path = write_raster(tmp_path / "gpw_population_density_2020.tif", [[3.0, 4.0]],
                        west=45.0, north=-11.0, size_deg=CELL)
    with pytest.warns(DataQualityWarning, match=r"gpw_population_density_2020.tif looks like "
                      r"people per km² or per hectare.*'density'.*population_units"):
        load_population(path)
    load_population(path, units="per_km2")  # said so: no warning (warnings are errors)


def test_a_raster_tagged_as_a_density_is_warned_about(tmp_path: Path) -> None:
    path = write_raster(tmp_path / "pop.tif", [[3.0, 4.0]], west=45.0, north=-11.0,
                        size_deg=CELL)
    with rasterio.open(path, "r+") as ds:
        ds.update_tags(1, UNITS="persons per km2")
    with pytest.warns(DataQualityWarning, match="per km2"):
        load_population(path)


def test_values_too_dense_for_the_cell_are_warned_about(tmp_path: Path) -> None:
    cell = 1 / 1200  # 3 arc-seconds, about 0.0085 km² at 12° S
    density = np.full((4, 4), 400.0)  # a density raster: 400 people per km²
    path = write_raster(tmp_path / "pop.tif", density, west=45.0, north=-12.0, size_deg=cell)
    implied = 400 / _ellipsoid_km2(45.0, -12.0, cell)
    assert implied > DENSITY_HINT_PER_KM2
    with pytest.warns(DataQualityWarning, match=r"median populated cell would hold "
                                                r"4\d,\d{3} people per km²"):
        load_population(path)


def test_worldpop_like_counts_are_not_warned_about(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    counts = rng.gamma(0.8, 4.0, (40, 40))  # a few people per 3-arc-second cell, fractional
    counts[rng.random((40, 40)) < 0.3] = -99999  # and nodata
    path = write_raster(tmp_path / "com_ppp_2020_UNadj.tif", counts, west=43.2, north=-11.3,
                        size_deg=1 / 1200)
    load_population(path)  # no warning (pytest turns warnings into errors)


@pytest.mark.comoros
def test_the_real_worldpop_raster_is_not_taken_for_a_density(comoros_dir: Path) -> None:
    population = load_population(comoros_dir / "com_ppp_2020_UNadj.tif")  # no warning
    assert population.total == pytest.approx(869_595, abs=1)


# --------------------------------------------------------------------------- VRTs


def _tiles(folder: Path, names: list[str]) -> None:
    for i, name in enumerate(names):
        write_raster(folder / name, np.full((2, 2), float(i + 1)), west=45.0 + 2 * CELL * i,
                     north=-11.0, size_deg=CELL)


def _vrt(path: Path, sources: list[str], *, relative: bool = True) -> Path:
    items = "".join(f"""
    <SimpleSource>
      <SourceFilename relativeToVRT="{int(relative)}">{name}</SourceFilename>
      <SourceBand>1</SourceBand>
      <SrcRect xOff="0" yOff="0" xSize="2" ySize="2"/>
      <DstRect xOff="{2 * i}" yOff="0" xSize="2" ySize="2"/>
    </SimpleSource>""" for i, name in enumerate(sources))
    path.write_text(f"""<VRTDataset rasterXSize="{2 * len(sources)}" rasterYSize="2">
  <SRS>EPSG:4326</SRS>
  <GeoTransform>45.0, {CELL}, 0, -11.0, 0, -{CELL}</GeoTransform>
  <VRTRasterBand dataType="Float32" band="1">
    <NoDataValue>-99999</NoDataValue>{items}
  </VRTRasterBand>
</VRTDataset>""", "utf-8")
    return path


def test_a_complete_vrt_reads_all_its_tiles(tmp_path: Path) -> None:
    _tiles(tmp_path, ["a.tif", "b.tif"])
    population = load_population(_vrt(tmp_path / "pop.vrt", ["a.tif", "b.tif"]))
    assert population.total == pytest.approx(4 * 1 + 4 * 2)
    absolute = _vrt(tmp_path / "abs.vrt", [str(tmp_path / "a.tif")], relative=False)
    assert load_population(absolute).total == pytest.approx(4)


def test_a_vrt_with_a_missing_source_names_both_files(tmp_path: Path) -> None:
    _tiles(tmp_path, ["a.tif"])
    vrt = _vrt(tmp_path / "pop.vrt", ["a.tif", "gone.tif"])
    with pytest.raises(InputFileError, match=rf"population file {vrt} is a virtual raster "
                       rf"whose source {tmp_path / 'gone.tif'} does not exist; .*gdalbuildvrt"):
        load_population(vrt)


def test_a_vrt_of_vrts_is_followed(tmp_path: Path) -> None:
    _tiles(tmp_path, ["a.tif"])
    (tmp_path / "sub").mkdir()
    _vrt(tmp_path / "sub" / "inner.vrt", ["lost.tif"])
    outer = _vrt(tmp_path / "outer.vrt", ["a.tif", "sub/inner.vrt"])
    with pytest.raises(InputFileError, match=r"whose source .*sub/lost.tif does not exist"):
        load_population(outer)


def test_a_vrt_with_a_corrupt_source_is_one_line(tmp_path: Path) -> None:
    _tiles(tmp_path, ["a.tif"])
    (tmp_path / "b.tif").write_bytes(b"II*\x00 not really a tiff")
    vrt = _vrt(tmp_path / "pop.vrt", ["a.tif", "b.tif"])
    with pytest.raises(InputFileError, match=rf"population file {vrt} could not be read "
                       r"\(.*\); check that the file \(or, for a VRT, each of its sources\)"):
        load_population(vrt)


def test_a_vrt_that_is_not_xml_is_named(tmp_path: Path) -> None:
    vrt = tmp_path / "pop.vrt"
    vrt.write_text("<VRTDataset", "utf-8")
    with pytest.raises(InputFileError, match=r"pop.vrt is not valid VRT XML"):
        load_population(vrt)


def test_a_group_vrt_with_a_missing_source_is_refused(tmp_path: Path) -> None:
    _tiles(tmp_path, ["a.tif", "b.tif"])
    population = load_population(_vrt(tmp_path / "pop.vrt", ["a.tif", "b.tif"]))
    complete = counts_on_grid(_vrt(tmp_path / "u5.vrt", ["b.tif", "a.tif"]), population)
    assert math.fsum(complete) == pytest.approx(12)
    broken = _vrt(tmp_path / "u5_broken.vrt", ["b.tif", "missing.tif"])
    with pytest.raises(InputFileError, match=r"group raster .*u5_broken.vrt is a virtual "
                                             r"raster whose source .*missing.tif"):
        counts_on_grid(broken, population)


def test_a_run_converts_a_density_raster_set_on_the_command_line(
        tiny_world: dict[str, Path]) -> None:
    import json

    from click.testing import CliRunner

    from accessmap.cli import main
    from tests.conftest import KM_LON, TINY_LAT

    out = tiny_world["dir"] / "run"
    result = CliRunner().invoke(main, [
        "run", "--network", str(tiny_world["network"]), "--population",
        str(tiny_world["population"]), "--facilities", str(tiny_world["facilities"]),
        "--new-sites", "0", "--set", "inputs.population_units=per_ha", "--out", str(out)])
    assert result.exit_code == 0, result.output
    total = json.loads((out / "summary.json").read_text("utf-8"))["population_total"]
    north = TINY_LAT + 2.5 * KM_LON  # rows 0 (1,000 per ha) and 2 (100+200+300+400 per ha)
    expected = 100 * (1000 * _ellipsoid_km2(0, north, KM_LON)
                      + 1000 * _ellipsoid_km2(0, north - 2 * KM_LON, KM_LON))
    assert total == pytest.approx(expected, rel=7e-3)
