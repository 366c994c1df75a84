"""A population raster read strip by strip gives exactly the cells of a whole read.

:func:`accessmap.inputs.raster_counts.read_populated_cells` never holds a country's raster
whole; here the strips are made a few rows high (``STRIP_CELLS``) so that every case
(windows, aggregation blocks, tiled files, densities, nodata kinds) spans many strips, and
the result is compared, array by array and bit for bit, with one strip covering it all.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from accessmap.errors import DataQualityWarning
from accessmap.inputs import population_units, raster_counts
from accessmap.inputs.population import Population, load_population
from accessmap.inputs.raster_counts import _strips

CELL = 0.01
ORIGIN = Affine(CELL, 0.0, 43.0, 0.0, -CELL, -11.0)


def _raster(path: Path, *, tiled: bool, seed: int = 3) -> Path:
    """A 97 x 83 float32 raster with WorldPop nodata, NaN, negative, empty cells and an
    undeclared sentinel, optionally tiled in 16 x 16 blocks."""
    rng = np.random.default_rng(seed)
    data = rng.uniform(0, 40, (97, 83)).astype(np.float32)
    data[rng.random(data.shape) < 0.3] = 0.0
    data[rng.random(data.shape) < 0.1] = -99999.0  # declared nodata
    data[5, 7] = np.nan
    data[40, 2] = -3.0
    data[60:62, 10] = -9999.0  # an undeclared sentinel
    data[90, 80] = 3.4e38
    options = {"tiled": True, "blockxsize": 16, "blockysize": 16} if tiled else {}
    with rasterio.open(path, "w", driver="GTiff", width=83, height=97, count=1,
                       dtype="float32", crs="EPSG:4326", transform=ORIGIN, nodata=-99999.0,
                       **options) as ds:
        ds.write(data, 1)
    return path


def _load(path: Path, strip_cells: int, monkeypatch: pytest.MonkeyPatch,
          **options: object) -> tuple[Population, list[str]]:
    monkeypatch.setattr(raster_counts, "STRIP_CELLS", strip_cells)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        population = load_population(path, **options)  # type: ignore[arg-type]
    return population, [str(w.message) for w in caught
                        if issubclass(w.category, DataQualityWarning)]


@pytest.mark.parametrize("tiled", [False, True])
@pytest.mark.parametrize("aggregate", [1, 3, 5])
@pytest.mark.parametrize("units", ["count", "per_km2"])
@pytest.mark.parametrize("bounds", [None, (43.105, -11.905, 43.695, -11.155)])
def test_strips_equal_one_whole_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     tiled: bool, aggregate: int, units: str,
                                     bounds: tuple[float, float, float, float] | None) -> None:
    path = _raster(tmp_path / "pop.tif", tiled=tiled)
    whole, whole_warnings = _load(path, 10**9, monkeypatch, aggregate=aggregate,
                                  units=units, bounds_lonlat=bounds)
    strips, strip_warnings = _load(path, 200, monkeypatch, aggregate=aggregate,
                                   units=units, bounds_lonlat=bounds)
    for name in ("row", "col", "population", "lon", "lat"):
        np.testing.assert_array_equal(getattr(strips, name), getattr(whole, name),
                                      err_msg=name)
    assert (strips.shape, strips.transform) == (whole.shape, whole.transform)
    assert strips.excluded_nodata_cells == whole.excluded_nodata_cells > 0
    assert strip_warnings == whole_warnings
    if bounds is None:  # both undeclared sentinels, found in different strips
        assert any("3 cells hold -9999, 3.4e+38" in w for w in whole_warnings)


def test_density_sample_takes_the_same_rows_across_strips(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 1 km² cells; every third row (the rows the check samples) holds 30,000 per cell, the
    # others 10: the raster looks like a density only if the strips sample rows 0, 3, 6...
    transform = Affine(1000.0, 0, 500000.0, 0, -1000.0, 9000000.0)
    data = np.full((50, 64), 10.0, dtype=np.float32)
    data[::3] = 30000.0
    path = tmp_path / "grid.tif"
    with rasterio.open(path, "w", driver="GTiff", width=64, height=50, count=1,
                       dtype="float32", crs="EPSG:32738", transform=transform, tiled=True,
                       blockxsize=16, blockysize=16) as ds:
        ds.write(data, 1)
    monkeypatch.setattr(population_units, "_SAMPLE_CELLS", 1000)  # every 3rd row of 3,200
    _, whole = _load(path, 10**9, monkeypatch)
    _, strips = _load(path, 64 * 16, monkeypatch)  # strips of 16 rows
    assert strips == whole
    assert any("30,000 people per km²" in w for w in whole), whole


def test_strips_cover_the_window_in_whole_blocks() -> None:
    strips = _strips(1000, 50, block_rows=16, aggregate=3)
    rows = [r for _, r in strips]
    assert [r0 for r0, _ in strips] == list(np.cumsum([0, *rows[:-1]]))
    assert sum(rows) == 1000
    assert all(r % 48 == 0 for r in rows[:-1])  # whole 16-row blocks and 3-row blocks
    assert _strips(10, 10**9, block_rows=512, aggregate=1) == [(0, 10)]
