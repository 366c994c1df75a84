"""A catalogue of bad inputs: each case is the smallest input that shows one problem and
the one line accessmap answers with (an error or a :class:`DataQualityWarning`).

Add a case here for every bad input found in the wild, so that the catalogue grows with
every bug.  Library cases call the loader; CLI cases run ``accessmap run`` through click's
CliRunner and expect exit code 1 with one line and no traceback.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from click.testing import CliRunner
from numpy.typing import NDArray

from accessmap.analysis.checks import check_run, far_facilities
from accessmap.cli import main
from accessmap.config import FacilitySettings
from accessmap.errors import (
    ConfigError,
    DataQualityWarning,
    InputDataError,
    InputFileError,
    NetworkError,
    OutputError,
)
from accessmap.inputs.facilities import load_facilities
from accessmap.inputs.facility_changes import load_scenario_facilities
from accessmap.inputs.network import load_network
from accessmap.inputs.population import load_population
from accessmap.routing.network import RoadNetwork
from accessmap.routing.travel_times import Access, nearest_facility_times
from tests.conftest import KM_LON, TINY_LAT, TINY_LON0, write_osm

ORIGIN = Affine(0.01, 0.0, 45.0, 0.0, -0.01, -11.0)


def _points(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props,
         "geometry": {"type": "Point", "coordinates": [43.3 + i * 0.01, -11.7]}}
        for i, props in enumerate(rows)]}), "utf-8")
    return path


def _raster(path: Path, data: Any, *, nodata: float | None = None, bands: int = 1) -> Path:
    values = np.asarray(data, dtype=np.float32)
    with rasterio.open(path, "w", driver="GTiff", width=values.shape[-1],
                       height=values.shape[-2], count=bands, dtype="float32",
                       crs="EPSG:4326", transform=ORIGIN, nodata=nodata) as ds:
        ds.write(np.broadcast_to(values, (bands, *values.shape[-2:])))
    return path


def _two_layers(path: Path) -> Path:
    frame = gpd.GeoDataFrame({"name": ["A"]}, geometry=[shapely.Point(43.3, -11.7)],
                             crs="EPSG:4326")
    frame.to_file(path, layer="hospitals", driver="GPKG")
    frame.to_file(path, layer="clinics", driver="GPKG")
    return path


_K = 1 / 111.32  # degrees per km on the equator


def _stub_network(tmp: Path) -> RoadNetwork:
    """A two-way street 1-2-3 and a one-way stub 3 -> 4 into a dead end (drive)."""
    nodes = {1: (45.0, 0.0), 2: (45.0 + _K, 0.0), 3: (45.0 + 2 * _K, 0.0),
             4: (45.0 + 2 * _K, 0.3 * _K), 7: (46.0, 0.0), 8: (46.0 + _K, 0.0)}
    ways = [(10, [1, 2, 3], {"highway": "residential"}),
            (11, [3, 4], {"highway": "service", "oneway": "yes"}),
            (12, [7, 8], {"highway": "residential"})]
    return load_network(write_osm(tmp / "stub.osm", nodes, ways), mode="drive",
                        use_cache=False)


def _travel(tmp: Path, *, home: tuple[float, float], clinic: tuple[float, float]) -> Access:
    net = _stub_network(tmp)
    px, py = net.project(np.array([home[0]]), np.array([home[1]]))
    fx, fy = net.project(np.array([clinic[0]]), np.array([clinic[1]]))
    return nearest_facility_times(net, px, py, fx, fy)


def _stranded(tmp: Path) -> tuple[RoadNetwork, Access, NDArray[np.float64], tuple[float]]:
    """Everyone on the far road piece 7-8 (two-way, no facility): nobody reaches one."""
    net = _stub_network(tmp)
    px, py = net.project(np.array([46.0 + 0.5 * _K]), np.array([0.0]))
    fx, fy = net.project(np.array([45.0]), np.array([0.0]))
    return net, nearest_facility_times(net, px, py, fx, fy), np.array([5.0]), (60.0,)


def _shapes(path: Path) -> Path:
    frame = gpd.GeoDataFrame(
        {"name": ["point", "grounds", "two gates"]},
        geometry=[shapely.Point(43.3, -11.7), shapely.box(43.31, -11.71, 43.32, -11.70),
                  shapely.MultiPoint([(43.33, -11.7), (43.34, -11.7)])], crs="EPSG:4326")
    frame.to_file(path, driver="GeoJSON")
    return path


def _changed(tmp: Path, **settings: Any) -> object:
    """Facilities Hopital Central, CSD Foumbouni (a few services) under ``settings``."""
    path = _points(tmp / "f.geojson", [
        {"name": "Hopital Central", "services": "anc; emergency_obstetric"},
        {"name": "CSD Foumbouni", "services": "anc"}])
    return load_scenario_facilities(path, FacilitySettings(**settings))


def _planned(path: Path, *, crs: str | None = "EPSG:4326", x: float = 43.3) -> Path:
    frame = gpd.GeoDataFrame({"name": ["New"]}, geometry=[shapely.Point(x, -11.7)], crs=crs)
    with warnings.catch_warnings():  # pyogrio warns that a file without a CRS is written
        warnings.simplefilter("ignore", UserWarning)
        frame.to_file(path, driver="GPKG")
    return path


# --------------------------------------------------------------------------- errors

ERRORS: dict[str, tuple[Callable[[Path], object], type[Exception], str]] = {
    "negative capacity": (
        lambda tmp: load_facilities(_points(tmp / "f.geojson", [{"capacity": 5},
                                                                {"capacity": -3}])),
        InputDataError, r"f\.geojson row 2: capacity -3 is not a number >= 0"),
    "infinite capacity": (
        lambda tmp: load_facilities(_points(tmp / "f.geojson", [{"capacity": "inf"}])),
        InputDataError, r"row 1: capacity 'inf' is not a number >= 0"),
    "text capacity": (
        lambda tmp: load_facilities(_points(tmp / "f.geojson", [{"capacity": "ten"}])),
        InputDataError, r"row 1: capacity 'ten' is not a number >= 0"),
    "row numbers count data rows after exclusions": (
        lambda tmp: load_facilities(_points(tmp / "f.geojson", [
            {"amenity": "pharmacy"}, {"amenity": "clinic", "capacity": -1}]),
            exclude={"amenity": ["pharmacy"]}),
        InputDataError, r"row 2: capacity -1"),
    "csv row and line": (
        lambda tmp: (tmp / "f.csv").write_text("name,lat,lon\nA,-11.7,43.3\nC,120.5,-11.7\n")
        and load_facilities(tmp / "f.csv"),
        InputDataError, r"row 2 \(line 3\): latitude 120.5 is out of range"),
    "multi-layer geopackage": (
        lambda tmp: load_facilities(_two_layers(tmp / "f.gpkg")),
        InputDataError, r"f\.gpkg has 2 layers \((hospitals, clinics|clinics, hospitals)\); "
                        "name the one to use"),
    "unknown layer": (
        lambda tmp: load_facilities(_two_layers(tmp / "f.gpkg"), layer="shops"),
        InputDataError, r"has no layer 'shops'; its layers: "),
    "nobody reaches a facility": (
        lambda tmp: check_run(*_stranded(tmp)),
        NetworkError, r"nobody can reach a facility: of 5 people 0 are farther than the snap "
                      r"distance"),
    "unknown facility to close": (
        lambda tmp: _changed(tmp, close=("CSD Foumboni",)),
        ConfigError, r"facilities\.close\[0\]: no facility has the id or name 'CSD Foumboni'; "
                     r"near matches: csd foumbouni"),
    "unknown facility id to close": (
        lambda tmp: _changed(tmp, close=({"ids": [3]},)),
        ConfigError, r"facilities\.close\[0\]: no facility has the id '3'; known: 1, 2;"),
    "a required service no facility offers": (
        lambda tmp: _changed(tmp, require={"column": "services", "contains": "surgery"}),
        ConfigError, r"facilities\.require: the rule \(services contains surgery\) matches no "
                     r"facility \(values of services: anc, emergency_obstetric\)"),
    "planned file missing": (
        lambda tmp: _changed(tmp, planned=tmp / "planned.gpkg"),
        InputFileError, r"planned\.gpkg does not exist; check the path"),
    "planned file empty": (
        lambda tmp: _changed(tmp, planned=_points(tmp / "p.geojson", [])),
        InputDataError, r"p\.geojson: no facility with a usable point geometry remains"),
    "planned file without a CRS": (
        lambda tmp: _changed(tmp, planned=_planned(tmp / "p.gpkg", crs=None)),
        InputDataError, r"p\.gpkg has no coordinate reference system"),
    "planned file in metres labelled as degrees": (
        lambda tmp: _changed(tmp, planned=_planned(tmp / "p.gpkg", x=512_000.0)),
        InputDataError, r"p\.gpkg row 1: coordinates \(512000\.0, -11\.7\) are outside "
                        r"longitude/latitude ranges"),
    "repeated facility ids": (
        lambda tmp: load_facilities(_points(tmp / "f.geojson", [{"id": "A"}, {"id": "A"}])),
        InputDataError, r"f\.geojson: id 'A' is repeated \(rows 1 and 2\)"),
    "multi-band raster": (
        lambda tmp: load_population(_raster(tmp / "p.tif", np.ones((3, 3)), bands=3)),
        InputDataError, r"p\.tif has 3 bands; .*gdal_translate -b 1"),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_bad_input_is_refused_in_one_line(tmp_path: Path, case: str) -> None:
    call, error, match = ERRORS[case]
    with pytest.raises(error, match=match) as info:
        call(tmp_path)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- warnings

WARNINGS: dict[str, tuple[Callable[[Path], object], str]] = {
    "exclusion matching nothing": (
        lambda tmp: load_facilities(_points(tmp / "f.geojson", [{"amenity": "clinic"}]),
                                    exclude={"amenity": ["pharmacyy"]}),
        r"f\.geojson: the exclusion amenity='pharmacyy' matches no facility \(values of "
        r"amenity: clinic\)"),
    "exclusion of text on a number column": (
        lambda tmp: load_facilities(_points(tmp / "f.geojson", [{"capacity": 14.0}]),
                                    exclude={"capacity": ["fourteen"]}),
        r"the exclusion capacity='fourteen' matches no facility"),
    "undeclared float32 sentinel": (
        lambda tmp: load_population(_raster(tmp / "p.tif", [[1, 3.4028235e38], [2, 3]])),
        r"p\.tif: 1 cells hold 3\.40282e\+38, a nodata value the file does not declare"),
    "undeclared -9999": (
        lambda tmp: load_population(_raster(tmp / "p.tif", [[1, -9999], [-9999, 3]])),
        r"p\.tif: 2 cells hold -9999, a nodata value the file does not declare"),
    "clipped ferry loop": (
        lambda tmp: load_network(write_osm(tmp / "f.osm", {1: (45.0, 0.0), 2: (45.01, 0.0)}, [
            (10, [1, 2], {"highway": "residential"}),
            (11, [1, 98, 99, 1], {"route": "ferry"})]), mode="walk", use_cache=False),
        r"f\.osm: 1 usable way\(s\) have nodes missing.*1 of them ferries"),
    "missing node references": (
        lambda tmp: load_network(write_osm(tmp / "m.osm", {1: (45.0, 0.0), 2: (45.01, 0.0)}, [
            (10, [1, 97, 2, 98, 99], {"highway": "residential"})]), mode="walk",
            use_cache=False),
        r"m\.osm: 1 usable way\(s\) have nodes missing from the extract \(clipped at its "
        r"edge\?; 3 node reference\(s\) have no location\)"),
    "unknown highway classes": (
        lambda tmp: load_network(write_osm(tmp / "u.osm", {
            1: (45.0, 0.0), 2: (45.01, 0.0), 3: (45.02, 0.0)}, [
            (10, [1, 2], {"highway": "residential"}), (11, [2, 3], {"highway": "residental"}),
            (12, [1, 3], {"highway": "residental"}), (13, [1, 3], {"highway": "tertiery"})]),
            mode="walk", use_cache=False),
        r"u\.osm: 3 way\(s\) have a highway class no travel mode knows: 'residental' \(2\), "
        r"'tertiery' \(1\); they are left out"),
    "one-way dead end next to a facility": (
        lambda tmp: _travel(tmp, home=(45.0 + 2 * _K + 1e-4, 0.25 * _K), clinic=(45.0, -1e-4)),
        r"1 demand point\(s\) whose nearest road leads to no facility in the direction of "
        r"travel"),
    "facility far from any road": (
        lambda tmp: far_facilities(_travel(tmp, home=(45.0, 0.0), clinic=(45.0, 0.9 * _K)),
                                   ["Hill clinic"]),
        r"1 facility is more than 500 m from the nearest usable road: 'Hill clinic' \(8"),
    "polygon and multipoint facilities": (
        lambda tmp: load_facilities(_shapes(tmp / "f.geojson")),
        r"f\.geojson: 2 row\(s\) are not points \(row 2 \(Polygon\), row 3 \(MultiPoint\)\); "
        r"each is placed at a representative point"),
}


@pytest.mark.parametrize("case", list(WARNINGS))
def test_bad_input_is_warned_about(tmp_path: Path, case: str) -> None:
    call, match = WARNINGS[case]
    with pytest.warns(DataQualityWarning, match=match):
        call(tmp_path)


def test_exclusion_by_a_number_matches_a_float_column(tmp_path: Path) -> None:
    path = _points(tmp_path / "f.geojson", [{"capacity": 14.0}, {"capacity": 20.0}])
    frame = load_facilities(path, exclude={"capacity": ["14"]})
    assert frame["capacity"].tolist() == [20.0]


def test_numeric_names_stay_names(tmp_path: Path) -> None:
    path = _points(tmp_path / "f.geojson", [{"name": 12}, {"name": 7.0}, {"name": None}])
    assert load_facilities(path)["name"].tolist() == ["12", "7", "unnamed health facility #3"]


def test_declared_nodata_is_not_a_sentinel_warning(tmp_path: Path) -> None:
    pop = load_population(_raster(tmp_path / "p.tif", [[1, -9999], [2, 3]], nodata=-9999))
    assert pop.total == pytest.approx(6.0)


# --------------------------------------------------------------------------- command line


@pytest.fixture
def tiny(tmp_path: Path) -> dict[str, Path]:
    nodes = {i + 1: (TINY_LON0 + i * KM_LON, TINY_LAT) for i in range(3)}
    network = write_osm(tmp_path / "roads.osm", nodes,
                        [(1, [1, 2, 3], {"highway": "residential"})])
    facilities = tmp_path / "facilities.geojson"
    facilities.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "=HYPERLINK(1)", "capacity": 4},
         "geometry": {"type": "Point", "coordinates": [TINY_LON0, TINY_LAT]}}]}), "utf-8")
    population = tmp_path / "population.tif"
    with rasterio.open(population, "w", driver="GTiff", width=3, height=1, count=1,
                       dtype="float32", crs="EPSG:4326", nodata=-99999.0,
                       transform=Affine(KM_LON, 0, TINY_LON0 - KM_LON / 2, 0, -KM_LON,
                                        TINY_LAT + KM_LON / 2)) as ds:
        ds.write(np.array([[100, 200, 300]], dtype=np.float32), 1)
    return {"network": network, "population": population, "facilities": facilities,
            "dir": tmp_path}


def _run(tiny: dict[str, Path], *extra: str) -> Any:
    args = ["run", "--network", str(tiny["network"]), "--population", str(tiny["population"]),
            "--facilities", str(tiny["facilities"]), *extra]
    return CliRunner().invoke(main, args)


def _not_a_run_folder(tiny: dict[str, Path]) -> list[str]:
    folder = tiny["dir"] / "thesis"
    folder.mkdir()
    (folder / "chapter.docx").write_text("years of work", "utf-8")
    return ["--out", str(folder), "--overwrite"]


def _out_under_a_file(tiny: dict[str, Path]) -> list[str]:
    (tiny["dir"] / "notes.txt").write_text("x", "utf-8")
    return ["--out", str(tiny["dir"] / "notes.txt" / "run")]


def _bad_capacity(tiny: dict[str, Path]) -> list[str]:
    _points(tiny["facilities"], [{"capacity": -2}])
    return ["--out", str(tiny["dir"] / "run")]


def _multi_band(tiny: dict[str, Path]) -> list[str]:
    _raster(tiny["population"], np.ones((2, 2)), bands=2)
    return ["--out", str(tiny["dir"] / "run")]


CLI = [
    pytest.param(_not_a_run_folder, "is not an accessmap run folder",
                 id="overwrite of a folder that is not a run folder"),
    pytest.param(_out_under_a_file, r"notes\.txt is a file, not a folder",
                 id="output folder under a file"),
    pytest.param(lambda tiny: ["--out", str(tiny["dir"]), "--overwrite"], "holds the input",
                 id="output folder holds the inputs"),
    pytest.param(_bad_capacity, r"row 1: capacity -2 is not a number >= 0",
                 id="negative capacity"),
    pytest.param(_multi_band, "has 2 bands", id="multi-band population"),
]


@pytest.mark.parametrize(("make", "match"), CLI)
def test_cli_refuses_bad_input_in_one_line(tiny: dict[str, Path],
                                           make: Callable[[dict[str, Path]], list[str]],
                                           match: str) -> None:
    result = _run(tiny, *make(tiny))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert re.search(match, lines[0]), lines[0]
    assert not [p for p in tiny["dir"].rglob(".*staging-*")]


def test_cli_run_neutralises_formula_names_and_never_leaves_debris(
        tiny: dict[str, Path]) -> None:
    out = tiny["dir"] / "run"
    result = _run(tiny, "--out", str(out), "--thresholds", "30")
    assert result.exit_code == 0, result.output
    text = (out / "facilities.csv").read_text("utf-8")
    assert "'=HYPERLINK(1)" in text
    assert sorted(p.name for p in tiny["dir"].iterdir() if p.name.startswith(".")) == []
    with pytest.raises(OutputError, match="already exists"):
        from accessmap._files import check_output_folder
        check_output_folder(out, overwrite=False)
