"""Off-road travel over land cover and slope (issue 15): kernel, model, inputs, pipeline."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pyproj
import pytest
import skimage.graph
from rasterio.transform import from_origin

from accessmap.config import Scenario
from accessmap.errors import ConfigError, DataQualityWarning, InputDataError
from accessmap.inputs.landcover import load_offroad_surface, read_speed_table
from accessmap.inputs.network import network_from_graph
from accessmap.inputs.population import Population
from accessmap.routing._grid_kernels import NEIGHBOUR_OFFSETS, grid_search, tobler_factor
from accessmap.routing.network import RoadNetwork
from accessmap.routing.offroad import OffroadSurface, offroad_times
from accessmap.routing.travel_times import OFF_NETWORK, REACHED, nearest_facility_times
from tests.conftest import write_raster

UTM = "EPSG:32738"  # the network's CRS near lon 45, lat -1
CELL = 100.0
X0, Y0 = 500_000.0, 9_880_000.0  # north-west corner of the test grids


def _grid(rows: int, cols: int, cell: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.meshgrid(np.arange(cols) * cell, -np.arange(rows) * cell)
    return x.astype(float), y.astype(float)


def _search(inv: np.ndarray, seeds: dict[tuple[int, int], float], *, n: int = 8,
            passable: np.ndarray | None = None, z: np.ndarray | None = None,
            max_slope: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    x, y = _grid(*inv.shape)
    seed = np.full(inv.shape, np.inf)
    label = np.full(inv.shape, -1, dtype=np.int64)
    for k, (cell, t) in enumerate(seeds.items()):
        seed[cell], label[cell] = t, k
    ok = np.ones(inv.shape, bool) if passable is None else passable
    return grid_search(x, y, inv, ok, np.zeros(0) if z is None else z, max_slope, seed,
                       label, n)


# --------------------------------------------------------------------------- kernel


@pytest.mark.parametrize(("n", "bound"), [(8, 0.0824), (16, 0.0275)])
def test_uniform_cover_is_the_straight_line_within_the_grid_error(n: int, bound: float) -> None:
    """8 moves: at most sqrt(4 - 2 sqrt 2) - 1 = 8.24 % longer; 16 moves: 2.7 %."""
    size = 61
    dist, _ = _search(np.ones((size, size)), {(30, 30): 0.0}, n=n)
    x, y = _grid(size, size)
    straight = np.hypot(x - x[30, 30], y - y[30, 30])
    far = straight > 10
    error = dist[far] / straight[far] - 1
    assert error.min() >= -1e-12
    assert bound - 0.005 < error.max() <= bound


def test_random_isotropic_grids_equal_scikit_image() -> None:
    """8 moves (scikit-image's MCP takes no knight's moves; 16 is checked on networkx)."""
    rng = np.random.default_rng(15)
    for _ in range(5):
        cost = rng.uniform(0.2, 3.0, size=(17, 13))
        starts = [(int(rng.integers(17)), int(rng.integers(13))) for _ in range(3)]
        expected, _ = skimage.graph.MCP_Geometric(cost).find_costs(starts)
        dist, _ = _search(cost, dict.fromkeys(starts, 0.0), n=8)
        np.testing.assert_allclose(dist, expected, rtol=1e-9)


def test_random_anisotropic_grids_equal_networkx() -> None:
    """Slopes, impassable cells and seeded start times, against Dijkstra on the grid graph."""
    rng = np.random.default_rng(7)
    rows, cols = 9, 11
    for n in (8, 16):
        inv = rng.uniform(0.5, 2.0, size=(rows, cols))
        ok = rng.random((rows, cols)) > 0.2
        z = rng.uniform(0, 3.0, size=(rows, cols))
        seeds = {(0, 0): 5.0, (8, 10): 0.0, (4, 5): 12.0}
        for cell in seeds:
            ok[cell] = True
        dist, _ = _search(inv, seeds, n=n, passable=ok, z=z, max_slope=0.5)
        g = nx.DiGraph()
        for i in range(rows):
            for j in range(cols):
                for di, dj, ai, aj, bi, bj, rule in NEIGHBOUR_OFFSETS[n]:
                    wi, wj = i + di, j + dj
                    if not (0 <= wi < rows and 0 <= wj < cols) or not ok[i, j]:
                        continue
                    a, b = ok[i + ai, j + aj], ok[i + bi, j + bj]
                    if (rule == 1 and not a and not b) or (rule == 2 and not (a and b)):
                        continue
                    d = float(np.hypot(di, dj))
                    s = float(np.clip((z[i, j] - z[wi, wj]) / d, -0.5, 0.5))  # w -> (i, j)
                    cost = d * (inv[i, j] + inv[wi, wj]) / 2 / float(tobler_factor(s))
                    g.add_edge((wi, wj), (i, j), weight=cost)  # people travel w -> (i, j)
        for cell, t in seeds.items():
            g.add_edge(cell, "care", weight=t)
        best = nx.single_source_dijkstra_path_length(g.reverse(), "care")
        expected = np.array([[best.get((i, j), np.inf) for j in range(cols)]
                             for i in range(rows)])
        np.testing.assert_allclose(dist, expected, rtol=1e-9)


@pytest.mark.parametrize("rise_m", [10.0, -10.0])
def test_two_cells_uphill_and_downhill_follow_tobler(rise_m: float) -> None:
    """Home on cell 1, road on cell 0: Tobler's v = 6 exp(-3.5 |s + 0.05|) km/h."""
    x, y = np.array([[0.0, 100.0]]), np.zeros((1, 2))
    z = np.array([[rise_m, 0.0]])  # the road is rise_m above the home
    inv = np.full((1, 2), 3.6 / 5.0)
    dist, _ = grid_search(x, y, inv, np.ones((1, 2), bool), z, 1.0,
                          np.array([[0.0, np.inf]]), np.zeros((1, 2), np.int64), 8)
    slope = rise_m / 100.0
    speed_kph = 5.0 * np.exp(-3.5 * abs(slope + 0.05)) / np.exp(-3.5 * 0.05)
    assert dist[0, 1] == pytest.approx(100.0 / (speed_kph / 3.6), rel=1e-12)
    uphill = 100 * 0.72 * np.exp(3.5 * 0.15) / np.exp(3.5 * 0.05)
    downhill = 100 * 0.72 * np.exp(3.5 * 0.05) / np.exp(3.5 * 0.05)
    assert dist[0, 1] == pytest.approx(uphill if rise_m > 0 else downhill, rel=1e-12)


# --------------------------------------------------------------------------- model


def _lonlat(x: list[float], y: list[float]) -> tuple[np.ndarray, np.ndarray]:
    to = pyproj.Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    lon, lat = to.transform(np.asarray(x), np.asarray(y))
    return np.asarray(lon), np.asarray(lat)


def _cell_xy(i: int, j: int) -> tuple[float, float]:
    return X0 + (j + 0.5) * CELL, Y0 - (i + 0.5) * CELL


def _river_world() -> tuple[RoadNetwork, np.ndarray, np.ndarray]:
    """West road down column 8 (rows 0-10), a bridge east along row 0 to column 12.

    Facility at the road's south end (row 10); the river is column 10.
    """
    cells = [(i, 8) for i in range(11)][::-1] + [(0, j) for j in range(9, 13)]
    xs, ys = zip(*(_cell_xy(i, j) for i, j in cells), strict=True)
    lon, lat = _lonlat(list(xs), list(ys))
    g = nx.MultiDiGraph()
    for k in range(len(cells)):
        g.add_node(k, x=float(lon[k]), y=float(lat[k]))
    for k in range(len(cells) - 1):
        g.add_edge(k, k + 1, length=CELL, travel_time=36.0, highway="path")
    net = network_from_graph(g, mode="walk", use_travel_time=True)
    assert net.crs == UTM
    fx, fy = _cell_xy(10, 8)
    home_x, home_y = _cell_xy(10, 12)
    return net, np.array([fx, fy]), np.array([home_x, home_y])


def _river_access(river: bool) -> tuple[float, int]:
    net, fac, home = _river_world()
    access = nearest_facility_times(net, home[:1], home[1:], fac[:1], fac[1:])
    speed = np.full((11, 21), 5.0)
    if river:
        speed[:, 10] = 0.0
    surface = OffroadSurface(speed, None, from_origin(X0, Y0, CELL, CELL), UTM)
    out = offroad_times(net, access, surface, np.array([10]), np.array([12]))
    return float(out.time_s[0]), int(out.status[0])


def test_impassable_river_forces_the_detour_to_the_bridge() -> None:
    walk = 3.6 / 5.0  # s per metre at 5 km/h
    # No river: 4 cells west to the facility's own cell.
    assert _river_access(False) == (pytest.approx(400 * walk), REACHED)
    # River: north to the bridge (8 steps, then 2 diagonals onto the bridge's cell over
    # the river, row 0 column 10); a cell starts at its best road sample, here a
    # quarter of a cell west of its centre: 1.75 road steps from column 8, then 10
    # south, at 36 s each.
    walked = 800 + 2 * 100 * np.sqrt(2)
    assert _river_access(True) == (pytest.approx(walked * walk + 11.75 * 36.0), REACHED)


def test_people_cut_off_by_water_are_off_network_with_a_warning() -> None:
    net, fac, home = _river_world()
    access = nearest_facility_times(net, home[:1], home[1:], fac[:1], fac[1:])
    speed = np.full((11, 21), 5.0)
    speed[:, 10] = 0.0
    speed[1, 9:13] = 0.0  # the bridge's east bank is walled off from the home
    speed[0, 13] = 0.0
    speed[1, 13] = 0.0
    surface = OffroadSurface(speed, None, from_origin(X0, Y0, CELL, CELL), UTM)
    with pytest.warns(DataQualityWarning, match="cannot reach any road"):
        out = offroad_times(net, access, surface, np.array([10]), np.array([12]))
    assert out.status[0] == OFF_NETWORK and np.isinf(out.time_s[0]) and out.facility[0] == -1


# --------------------------------------------------------------------------- inputs


def _population(tmp_path: Path) -> Population:
    from accessmap.inputs.population import load_population

    path = write_raster(tmp_path / "pop.tif", np.ones((4, 5)), west=45.0, north=-1.0,
                        size_deg=0.001)
    return load_population(path)


def test_landcover_is_read_by_class_onto_the_population_grid(tmp_path: Path) -> None:
    grid = _population(tmp_path)
    classes = np.full((8, 10), 30.0)
    classes[:, 4:6] = 80.0  # water under population columns 2
    cover = write_raster(tmp_path / "cover.tif", classes, west=45.0, north=-1.0,
                         size_deg=0.0005)
    surface = load_offroad_surface(Scenario(offroad={"landcover": cover}).offroad, grid)
    assert surface.speed_kph[:, 2].tolist() == [0.0] * 4
    assert surface.speed_kph[:, 0].tolist() == [4.0] * 4


def test_unknown_class_without_a_speed_is_one_clear_line(tmp_path: Path) -> None:
    grid = _population(tmp_path)
    cover = write_raster(tmp_path / "cover.tif", np.full((4, 5), 12.0), west=45.0,
                         north=-1.0, size_deg=0.001)
    with pytest.raises(InputDataError, match=r"class 12 \(20 cells\) with no speed"):
        load_offroad_surface(Scenario(offroad={"landcover": cover}).offroad, grid)


def test_raster_not_covering_the_area_or_in_the_wrong_crs(tmp_path: Path) -> None:
    grid = _population(tmp_path)
    small = write_raster(tmp_path / "small.tif", np.ones((2, 2)), west=45.0, north=-1.0,
                         size_deg=0.001)
    with pytest.raises(InputDataError, match="covers only part of it"):
        load_offroad_surface(Scenario(offroad={"dem": small}).offroad, grid)
    metres = write_raster(tmp_path / "utm.tif", np.ones((4, 5)), west=45.0, north=-1.0,
                          size_deg=0.001, crs=UTM)
    with pytest.raises(InputDataError, match=r"does not overlap it at all: is its CRS"):
        load_offroad_surface(Scenario(offroad={"dem": metres}).offroad, grid)
    bare = write_raster(tmp_path / "bare.tif", np.ones((4, 5)), west=45.0, north=-1.0,
                        size_deg=0.001, crs=None)
    with pytest.raises(InputDataError, match="no coordinate reference system"):
        load_offroad_surface(Scenario(offroad={"dem": bare}).offroad, grid)


def test_speed_tables_csv_and_toml(tmp_path: Path) -> None:
    csv = tmp_path / "speeds.csv"
    csv.write_text("class,speed_kph\n1,4.5\n2,impassable\n")
    toml = tmp_path / "speeds.toml"
    toml.write_text('[speeds_kph]\n1 = 4.5\n2 = "impassable"\n')
    assert read_speed_table(csv) == read_speed_table(toml) == {1: 4.5, 2: 0.0}
    csv.write_text("class,speed_kph\n1,fast\n")
    with pytest.raises(InputDataError, match="row 2: speed 'fast'"):
        read_speed_table(csv)


def test_offroad_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"offroad\.neighbours 12"):
        Scenario(offroad={"neighbours": 12})
    with pytest.raises(ConfigError, match=r"without offroad\.landcover"):
        Scenario(offroad={"landcover_speeds": "s.csv"})
    assert not Scenario().offroad.active
    assert Scenario().replace(dem="dem.tif").offroad.active


# --------------------------------------------------------------------------- pipeline


def _flat_dem(world: dict[str, Path]) -> Path:
    from tests.conftest import KM_LON, TINY_LAT, TINY_LON0

    return write_raster(world["dir"] / "dem.tif", np.full((5, 6), 12.0),
                        west=TINY_LON0 - 1.5 * KM_LON, north=TINY_LAT + 3.5 * KM_LON,
                        size_deg=KM_LON)


def test_pipeline_without_offroad_is_unchanged_and_with_it_walks_the_grid(
        tiny_world: dict[str, Path]) -> None:
    """The home 2 km north of the road's east end walks 2 cells south over grass at
    1 km/h (flat DEM) to the best road sample of that cell: a quarter of a cell west of
    its centre, 2.75 km from the clinic (1 km cells, samples every 500 m)."""
    from accessmap import pipeline

    inputs = {k: tiny_world[k] for k in ("network", "population", "facilities")}
    base = Scenario(inputs=inputs, facilities={"exclude": {"amenity": ["pharmacy"]}})
    plain = pipeline.run(base, write=False).access
    again = pipeline.run(base.replace(neighbours=16), write=False).access
    np.testing.assert_array_equal(plain.time_s, again.time_s)
    speeds = tiny_world["dir"] / "speeds.csv"
    speeds.write_text("class,speed_kph\n30,1.0\n")
    grid = pipeline.run(base.replace(dem=_flat_dem(tiny_world), landcover=_grass(tiny_world),
                                     landcover_speeds=speeds), write=False)
    pop = grid.population
    home = int(np.flatnonzero(pop.population == 1000)[0])
    east = int(np.flatnonzero(pop.population == 400)[0])
    road_km3 = plain.time_s[east]  # on the road, 3 km from the clinic
    x, y = grid.network.project(pop.lon[[home, east]], pop.lat[[home, east]])
    walk_m = float(np.hypot(x[1] - x[0], y[1] - y[0]))  # two cells (about 2 km)
    assert grid.access.time_s[home] == pytest.approx(walk_m * 3.6 / 1.0 + road_km3 * 2.75 / 3)
    assert grid.access.status.tolist() == plain.status.tolist()


def _grass(world: dict[str, Path]) -> Path:
    return write_raster(world["dir"] / "cover.tif", np.full((5, 6), 30.0), west=32.0,
                        north=-13.0, size_deg=0.5)


def test_cli_takes_landcover_and_dem(tiny_world: dict[str, Path]) -> None:
    import json

    from click.testing import CliRunner

    from accessmap.cli import main

    dem = _flat_dem(tiny_world)
    cover = _grass(tiny_world)
    out = tiny_world["dir"] / "out"
    args = ["run", "--network", tiny_world["network"], "--population",
            tiny_world["population"], "--facilities", tiny_world["facilities"],
            "--landcover", cover, "--dem", dem, "--out", out]
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    run = json.loads((out / "summary.json").read_text())["run"]
    assert run["settings"]["offroad"]["dem"] == str(dem)
    assert set(run["inputs"]) == {"network", "population", "facilities", "landcover", "dem"}
    bad = CliRunner().invoke(main, [str(a) for a in [*args[:-3], "--dem",
                                                      tiny_world["population"], "--out",
                                                      tiny_world["dir"] / "bad"]])
    assert bad.exit_code != 0 and "Traceback" not in bad.output


def test_cell_centres_equal_the_exact_projection() -> None:
    from accessmap.routing.offroad import cell_centres

    for rows, cols in ((1, 1), (3, 40), (70, 33)):
        surface = OffroadSurface(np.zeros((rows, cols)), None,
                                 from_origin(44.0, -11.0, 1 / 1200, 1 / 1200), "EPSG:4326")
        x, y = cell_centres(surface, UTM)
        jj, ii = np.meshgrid(np.arange(cols) + 0.5, np.arange(rows) + 0.5)
        lon, lat = surface.transform * (jj, ii)
        ex, ey = pyproj.Transformer.from_crs("EPSG:4326", UTM, always_xy=True).transform(lon,
                                                                                           lat)
        assert np.abs(x - ex).max() < 0.01 and np.abs(y - ey).max() < 0.01  # metres


def test_the_grid_search_reports_progress_and_honours_cancellation() -> None:
    from accessmap.errors import Cancelled

    net, fac, home = _river_world()
    access = nearest_facility_times(net, home[:1], home[1:], fac[:1], fac[1:])
    surface = OffroadSurface(np.full((11, 21), 5.0), None, from_origin(X0, Y0, CELL, CELL),
                             UTM)
    seen: list[float] = []

    def tick(fraction: float, message: str = "") -> None:
        seen.append(fraction)
        if "off-road search" in message:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        offroad_times(net, access, surface, np.array([10]), np.array([12]),
                      tick=tick)
    assert seen and 0.1 <= seen[-1] <= 0.95
