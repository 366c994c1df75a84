"""Progress ticks and cancellation inside long stages; the extension points of issue 10.

Every instrumented function, called with a recording tick, reports fractions that never
go back and end at 1.0; a tick raising ``Cancelled`` makes it raise ``Cancelled``; the
results are the same with and without a tick.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse

from accessmap.errors import Cancelled, ConfigError, DataQualityWarning, InputFileError
from accessmap.inputs import population as population_module
from accessmap.inputs.network import load_network
from accessmap.inputs.osm import collect_ways
from accessmap.routing import engine
from accessmap.routing.engine import Sources, bounded_times, build_graph, nearest_source
from accessmap.routing.modes import (
    MODES,
    SpeedProfile,
    TravelMode,
    get_mode,
    register_mode,
    unregister_mode,
    way_speeds_kph,
)
from accessmap.routing.network import RoadNetwork
from accessmap.routing.snapping import snap_points
from accessmap.routing.travel_times import facility_point_times, nearest_facility_times
from accessmap.siting.candidates import coverage_matrix
from accessmap.siting.circuits import CircuitSettings, plan_circuits
from accessmap.siting.models import (
    LSCP,
    ExactMCLP,
    GreedyMCLP,
    SitingModel,
    lazy_greedy,
    minimum_sites,
    reduce_instance,
    select_sites,
)
from tests.conftest import write_osm

KM = 1 / 111.32  # degrees of longitude per km at the equator


class Recorder:
    """A tick that records (fraction, message)."""

    def __init__(self) -> None:
        self.fractions: list[float] = []
        self.messages: list[str] = []

    def __call__(self, fraction: float, message: str = "") -> None:
        self.fractions.append(float(fraction))
        self.messages.append(message)

    def check(self) -> None:
        assert self.fractions, "the tick was never called"
        assert all(0.0 <= f <= 1.0 for f in self.fractions), self.fractions
        assert all(b >= a for a, b in zip(self.fractions, self.fractions[1:], strict=False)), \
            self.fractions
        assert self.fractions[-1] == 1.0


def cancel_after(n: int) -> Callable[[float, str], None]:
    """A tick that raises ``Cancelled`` on its ``n``-th call."""
    calls = [0]

    def tick(fraction: float, message: str = "") -> None:
        calls[0] += 1
        if calls[0] >= n:
            raise Cancelled("run cancelled: test")

    return tick


def check_ticks(call: Callable[..., Any], same: Callable[[Any, Any], None]) -> None:
    """Monotonic ticks ending at 1, identical result, and cancellation on the first tick."""
    plain = call()
    recorder = Recorder()
    ticked = call(tick=recorder)
    recorder.check()
    same(plain, ticked)
    with pytest.raises(Cancelled):
        call(tick=cancel_after(1))


def same_sparse(a: scipy.sparse.csr_array, b: scipy.sparse.csr_array) -> None:
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.data, b.data)


def same_arrays(a: Any, b: Any) -> None:
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


# --------------------------------------------------------------------------- fixtures


def grid_osm(tmp_path: Path, n: int = 6) -> Path:
    """An ``n`` x ``n`` grid of residential streets 1 km apart."""
    nodes = {1 + r * n + c: (45.0 + c * KM, -11.0 + r * KM) for r in range(n) for c in range(n)}
    ways = [(100 + r, [1 + r * n + c for c in range(n)], {"highway": "residential"})
            for r in range(n)]
    ways += [(200 + c, [1 + r * n + c for r in range(n)], {"highway": "residential"})
             for c in range(n)]
    return write_osm(tmp_path / "grid.osm", nodes, ways)


@pytest.fixture
def grid(tmp_path: Path) -> RoadNetwork:
    return load_network(grid_osm(tmp_path), mode="walk", use_cache=False)


def points_on(network: RoadNetwork, n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x0, x1 = network.node_x.min(), network.node_x.max()
    y0, y1 = network.node_y.min(), network.node_y.max()
    return rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)


def random_graph(n_nodes: int = 300, n_edges: int = 1500, seed: int = 0
                 ) -> scipy.sparse.csr_array:
    rng = np.random.default_rng(seed)
    return build_graph(rng.integers(0, n_nodes, n_edges), rng.integers(0, n_nodes, n_edges),
                       rng.uniform(0, 10, n_edges), n_nodes)


# --------------------------------------------------------------------------- engine


@pytest.mark.parametrize("n_threads", [1, 2])
def test_bounded_times_ticks_per_chunk(n_threads: int) -> None:
    graph = random_graph()
    sources = Sources.at_nodes(np.arange(0, 300, 7))
    recorder = Recorder()
    check_ticks(lambda **kw: bounded_times(graph, sources, 15.0, n_threads=n_threads, **kw),
                same_sparse)
    bounded_times(graph, sources, 15.0, n_threads=n_threads, tick=recorder)
    assert len(recorder.fractions) == min(sources.n_sources, n_threads * 4)  # one per chunk


@pytest.mark.parametrize("method", ["scipy", "parallel"])
def test_nearest_source_ticks(method: str) -> None:
    graph = random_graph()
    sources = Sources.at_nodes(np.arange(0, 300, 11))
    check_ticks(lambda **kw: nearest_source(graph, sources, method=method, n_threads=2, **kw),
                same_arrays)


def test_a_cancelled_chunk_stops_the_pool() -> None:
    graph = random_graph()
    sources = Sources.at_nodes(np.arange(300))
    with pytest.raises(Cancelled):
        bounded_times(graph, sources, 15.0, n_threads=2, tick=cancel_after(2))


def test_engine_imports_nothing_of_ours_but_errors() -> None:
    code = ("import sys, accessmap.routing.engine; "
            "print(sorted(m for m in sys.modules if m.startswith('accessmap')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    allowed = {"accessmap", "accessmap._version", "accessmap.errors", "accessmap.routing",
               "accessmap.routing.engine", "accessmap.routing._kernels",
               "accessmap.routing._parallel", "accessmap.routing._sources",
               "accessmap.routing._threads"}
    assert set(eval(out)) <= allowed, out
    assert engine.Sources is Sources


# --------------------------------------------------------------------------- inputs


def test_collect_ways_and_load_network_tick(tmp_path: Path) -> None:
    path = grid_osm(tmp_path)
    profile = SpeedProfile.default("walk")
    check_ticks(lambda **kw: collect_ways(path, profile, **kw),
                lambda a, b: np.testing.assert_array_equal(np.asarray(a.a), np.asarray(b.a)))
    check_ticks(lambda **kw: load_network(path, mode="walk", use_cache=False, **kw),
                lambda a, b: np.testing.assert_array_equal(a.seg_time_fwd_s, b.seg_time_fwd_s))
    cache = tmp_path / "cache"
    load_network(path, mode="walk", cache_dir=cache)
    recorder = Recorder()
    load_network(path, mode="walk", cache_dir=cache, tick=recorder)  # from the cache
    recorder.check()


def test_ways_with_nodes_missing_from_the_extract_warn(tmp_path: Path) -> None:
    nodes = {1: (45.0, 0.0), 2: (45.0 + KM, 0.0), 3: (45.0 + 2 * KM, 0.0)}
    path = write_osm(tmp_path / "clipped.osm", nodes, [
        (10, [1, 2, 3, 99], {"highway": "residential"}),  # node 99 is not in the extract
        (11, [3, 98], {"highway": "residential"}),  # one node left: dropped
    ])
    with pytest.warns(DataQualityWarning, match=r"clipped.osm: 2 usable way\(s\) have nodes "
                      r"missing.*1 of them have fewer than 2 nodes left"):
        network = load_network(path, mode="walk", use_cache=False)
    assert network.n_segments == 2


def test_population_readers_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readers = population_module.POPULATION_READERS
    assert readers[".tif"] is readers[".tiff"]
    assert readers[".gpkg"] is not readers[".tif"]
    seen: list[Path] = []
    fake = population_module.Population(
        lon=np.array([45.0]), lat=np.array([0.0]), population=np.array([3.0]),
        row=np.array([0]), col=np.array([0]), transform=population_module.Affine.identity(),
        shape=(1, 1), crs="EPSG:4326", source="fake")

    def read_fake(path: Path, **options: Any) -> population_module.Population:
        seen.append(path)
        return fake

    monkeypatch.setitem(readers, ".fake", read_fake)  # adding a format is one entry
    path = tmp_path / "people.fake"
    path.write_text("x")
    assert population_module.load_population(path) is fake and seen == [path]
    odd = tmp_path / "people.xyz"  # unknown suffix: tried as a vector file, clear error
    odd.write_text("not a vector file")
    with pytest.raises(InputFileError, match=r"population file .*people.xyz cannot be read"):
        population_module.load_population(odd)


# --------------------------------------------------------------------------- routing


def test_snap_points_ticks_per_block(grid: RoadNetwork, monkeypatch: pytest.MonkeyPatch
                                     ) -> None:
    import accessmap.routing.snapping as snapping

    monkeypatch.setattr(snapping, "_SNAP_BLOCK", 64)
    x, y = points_on(grid, 300)
    check_ticks(lambda **kw: snap_points(grid, x, y, **kw),
                lambda a, b: same_arrays((a.segment, a.fraction, a.distance_m),
                                         (b.segment, b.fraction, b.distance_m)))
    recorder = Recorder()
    snap_points(grid, x, y, tick=recorder)
    assert len(recorder.fractions) == 5 + 1  # five blocks, then the end


def test_travel_times_tick(grid: RoadNetwork) -> None:
    px, py = points_on(grid, 200)
    fx, fy = points_on(grid, 4, seed=9)
    check_ticks(lambda **kw: nearest_facility_times(grid, px, py, fx, fy, **kw),
                lambda a, b: same_arrays((a.time_s, a.facility, a.status),
                                         (b.time_s, b.facility, b.status)))
    access = nearest_facility_times(grid, px, py, fx, fy)
    check_ticks(lambda **kw: facility_point_times(grid, access, 900.0, **kw), same_sparse)
    nodes = np.arange(0, grid.n_nodes, 5)
    check_ticks(lambda **kw: coverage_matrix(grid, nodes, access.point_snap,
                                             np.arange(200), 900.0, **kw),
                lambda a, b: same_sparse(a.matrix, b.matrix))


# --------------------------------------------------------------------------- siting


def coverage_instance(seed: int = 4) -> tuple[scipy.sparse.csr_array, np.ndarray]:
    rng = np.random.default_rng(seed)
    dense = rng.random((12, 40)) < 0.2
    return scipy.sparse.csr_array(dense), rng.uniform(1, 10, 40)


def same_selection(a: Any, b: Any) -> None:
    np.testing.assert_array_equal(a.chosen, b.chosen)
    np.testing.assert_array_equal(a.gain_weight, b.gain_weight)
    assert (a.model, a.objective, a.greedy_objective) == (b.model, b.objective,
                                                          b.greedy_objective)


@pytest.mark.parametrize("method", ["greedy", "exact"])
def test_select_sites_ticks(method: str) -> None:
    matrix, weights = coverage_instance()
    instance = reduce_instance(matrix, weights)
    check_ticks(lambda **kw: select_sites(instance, 4, method=method, **kw), same_selection)


def test_minimum_sites_and_greedy_tick() -> None:
    matrix, weights = coverage_instance()
    instance = reduce_instance(matrix, weights)
    target = 0.8 * float(weights[np.diff(matrix.tocsc().indptr) > 0].sum())
    check_ticks(lambda **kw: minimum_sites(instance, target, **kw),
                lambda a, b: np.testing.assert_array_equal(a.chosen, b.chosen))
    check_ticks(lambda **kw: lazy_greedy(matrix, weights, 5, **kw), same_arrays)


def test_old_progress_callback_of_select_sites_still_works() -> None:
    matrix, weights = coverage_instance()
    calls: list[tuple[int, int]] = []
    select_sites(reduce_instance(matrix, weights), 3, method="greedy",
                 progress=lambda done, k: calls.append((done, k)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_model_classes_match_the_functions() -> None:
    matrix, weights = coverage_instance()
    instance = reduce_instance(matrix, weights)
    greedy = GreedyMCLP.from_coverage(matrix, weights, k=4).solve()
    np.testing.assert_array_equal(greedy.chosen, lazy_greedy(matrix, weights, 4)[0])
    exact = ExactMCLP(instance, k=4).solve()
    selection = select_sites(instance, 4, method="exact")
    assert exact.objective == pytest.approx(selection.objective)
    assert set(exact.chosen.tolist()) == set(selection.chosen.tolist())
    target = 0.5 * float(weights.sum())
    lscp = LSCP(instance, target_population=target).solve()
    assert lscp.n_sites == minimum_sites(instance, target).n_sites
    for model in (GreedyMCLP, ExactMCLP, LSCP):
        assert issubclass(model, SitingModel)


def test_a_new_siting_model_is_one_subclass() -> None:
    class FirstK(SitingModel[np.ndarray]):
        name = "first_k"

        def __init__(self, instance: Any, *, k: int) -> None:
            super().__init__(instance)
            self.k = k

        def solve(self, *, tick: Callable[[float, str], None] | None = None) -> np.ndarray:
            if tick is not None:
                tick(1.0, "done")
            return np.arange(min(self.k, self.instance.n_candidates))

    matrix, weights = coverage_instance()
    assert FirstK.from_coverage(matrix, weights, k=2).solve().tolist() == [0, 1]


def test_plan_circuits_ticks_per_unit() -> None:
    import networkx as nx

    from accessmap.inputs.network import network_from_graph

    step = 1 / 111.32
    graph = nx.MultiDiGraph()
    for i in range(5):
        graph.add_node(i, x=45.0 + i * step, y=0.0)
    for i in range(4):
        for a, b in ((i, i + 1), (i + 1, i)):
            graph.add_edge(a, b, length=1000.0, travel_time=600.0, highway="primary")
    network = network_from_graph(graph, mode="drive", use_travel_time=True)
    stops = pd.DataFrame({"stop": [1, 2, 3], "lon": [45.0 + s * step for s in (1, 2, 3)],
                          "lat": 0.0, "people": [10.0, 20.0, 5.0]})
    bases = pd.DataFrame({"name": ["A", "B"], "lon": [45.0, 45.0 + 4 * step], "lat": 0.0})
    settings = CircuitSettings(days_per_week=5, workday_h=8, service_min=60,
                               search_time_s=None)
    check_ticks(lambda **kw: plan_circuits(network, stops, bases, settings=settings, **kw),
                lambda a, b: pd.testing.assert_frame_equal(a.visits, b.visits))


# --------------------------------------------------------------------------- modes


def test_a_registered_mode_is_a_mode_everywhere() -> None:
    moto = TravelMode("moto", access_keys=("motorcycle", "motor_vehicle", "vehicle", "access"),
                      speeds_kph={"residential": 30.0, "track": 20.0}, vehicle=True)
    assert "moto" not in MODES
    before = tuple(MODES)
    register_mode(moto)
    try:
        assert "moto" in MODES and tuple(MODES) == (*before, "moto")
        assert get_mode("moto") is moto
        profile = SpeedProfile.default("moto")
        assert profile.speeds_kph == {"residential": 30.0, "track": 20.0}
        assert way_speeds_kph({"highway": "track", "oneway": "yes"}, profile) == (20.0, 0.0)
        assert way_speeds_kph({"highway": "residential", "motorcycle": "no"}, profile) is None
        assert way_speeds_kph({"highway": "motorway"}, profile) is None
        with pytest.raises(ConfigError, match="registered already"):
            register_mode(moto)
    finally:
        unregister_mode("moto")
    assert tuple(MODES) == before == ("walk", "drive", "bicycle", "walk+drive")
    with pytest.raises(ConfigError, match=r"unknown travel mode 'moto'; use one of walk, "
                       "drive, bicycle"):
        SpeedProfile.default("moto")


def test_a_mode_needs_a_name_access_keys_and_positive_speeds() -> None:
    with pytest.raises(ConfigError, match="lower-case"):
        TravelMode("Bike!", access_keys=("access",), speeds_kph={})
    with pytest.raises(ConfigError, match="access key"):
        TravelMode("bike", access_keys=(), speeds_kph={})
    with pytest.raises(ConfigError, match="positive"):
        TravelMode("bike", access_keys=("access",), speeds_kph={"path": -1.0})


def test_modes_and_config_import_no_numpy() -> None:
    code = ("import sys, accessmap.routing.modes, accessmap.config; "
            "print('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


# --------------------------------------------------------------------------- time left


def test_time_left_is_the_whole_runs_average_pace() -> None:
    from accessmap.progress import time_left_s

    assert time_left_s(0.75, 30.0) == pytest.approx(10.0)  # 30 s for 3/4: 10 s more
    assert time_left_s(1.0, 50.0) == 0.0
    assert time_left_s(0.5, 2.0) is None  # the first seconds: no estimate yet
    assert time_left_s(0.0, 60.0) is None


def test_the_terminal_bar_shows_the_time_left_of_the_whole_run() -> None:
    import io

    from accessmap.cli import _ProgressBar
    from accessmap.progress import RunProgress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    now = [100.0]
    bar = _ProgressBar(Terminal(), clock=lambda: now[0])
    run = RunProgress(bar, weights={"network": 3.0, "travel_times": 1.0}, min_interval_s=0)
    tick = run.stage("network")
    now[0] = 101.0
    tick(0.5, "half")  # 3/8 of the run after 1 s: too early to tell
    assert "left" not in str(bar._bar)
    now[0] = 130.0
    tick(1.0, "done")  # 3/4 of the run after 30 s: 10 s to go at this pace
    text = str(bar._bar)
    assert "network" in text and " 75%" in text and "00:10 left" in text, text
    tick = run.stage("travel_times")
    now[0] = 190.0
    tick(0.5)  # 7/8 after 90 s (this stage is slower than its weight): 12.9 s to go
    assert "00:12 left" in str(bar._bar), str(bar._bar)
    bar.close()
