"""Executors inside one run: the coverage matrix by candidate batches equals one call.

The batches run in this process, in a pool of 2 spawned processes and on a real Dask
``LocalCluster`` of 2 worker processes; each matrix must equal the single-process one
(same links), and a run on the cluster must recommend the same sites.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from accessmap import pipeline
from accessmap.demo import demo_scenario
from accessmap.errors import Cancelled, ConfigError
from accessmap.executors import (
    DaskExecutor,
    ProcessExecutor,
    SerialExecutor,
    make_executor,
)
from accessmap.siting import candidates as candidates_module
from accessmap.siting.candidates import CoverageMatrix, coverage_matrix

THRESHOLD_S = 30 * 60.0


@pytest.fixture(scope="module")
def demo() -> pipeline.RunResult:
    return pipeline.run(demo_scenario().replace(new_sites=2), write=False)


@pytest.fixture()
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(candidates_module, "CANDIDATE_BATCH", 37)  # many uneven batches


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=None) as local:
        yield local


def _matrix(demo: pipeline.RunResult, executor: Any = None) -> CoverageMatrix:
    nodes = np.arange(demo.network.n_nodes, dtype=np.int64)
    demand = np.flatnonzero(demo.access.point_snap.on_network)
    return coverage_matrix(demo.network, nodes, demo.access.point_snap, demand, THRESHOLD_S,
                           executor=executor)


def _same(a: CoverageMatrix, b: CoverageMatrix) -> None:
    assert a.matrix.shape == b.matrix.shape and a.matrix.nnz == b.matrix.nnz > 0
    np.testing.assert_array_equal(a.matrix.indptr, b.matrix.indptr)
    np.testing.assert_array_equal(a.matrix.indices, b.matrix.indices)


def test_batches_in_this_process_and_in_processes_equal_one_call(
        demo: pipeline.RunResult, small_batches: None) -> None:
    whole = _matrix(demo)
    assert demo.network.n_nodes > 3 * 37  # more than three batches
    _same(whole, _matrix(demo, SerialExecutor()))
    _same(whole, _matrix(demo, ProcessExecutor(2)))


def test_batches_on_a_dask_cluster_equal_one_call(demo: pipeline.RunResult, cluster: Any,
                                                  small_batches: None) -> None:
    _same(_matrix(demo), _matrix(demo, DaskExecutor(cluster.scheduler_address)))


def test_a_run_on_the_cluster_recommends_the_same_sites(
        demo: pipeline.RunResult, cluster: Any, small_batches: None) -> None:
    scenario = demo.scenario.replace(executor="dask", scheduler=cluster.scheduler_address)
    on_cluster = pipeline.run(scenario, write=False)
    assert on_cluster.siting is not None and demo.siting is not None
    assert on_cluster.siting.info["candidates"] == demo.siting.info["candidates"] > 37
    assert on_cluster.sites["added_population"].tolist() == demo.sites[
        "added_population"].tolist()
    assert on_cluster.sites.geometry.equals(demo.sites.geometry)


def _square(item: int, shared: int) -> int:
    return item * item + shared


def test_results_keep_the_items_order_and_a_raising_tick_cancels() -> None:
    items = list(range(9))
    expected = [i * i + 5 for i in items]
    assert SerialExecutor().map(_square, items, 5) == expected
    pool = ProcessExecutor(2)
    assert pool.map(_square, items, 5) == expected

    def cancel(fraction: float, message: str) -> None:
        raise Cancelled("stop")

    with pytest.raises(Cancelled):
        pool.map(_square, items, 5, tick=cancel)


def test_make_executor_follows_the_setting() -> None:
    assert make_executor("auto") is None
    assert isinstance(make_executor("serial"), SerialExecutor)
    assert make_executor("processes", workers=3).workers == 3  # type: ignore[union-attr]
    dask = make_executor("dask", scheduler="tcp://host:8786")
    assert isinstance(dask, DaskExecutor) and dask.scheduler == "tcp://host:8786"
    with pytest.raises(ConfigError, match=r"compute\.executor 'gpu' is unknown"):
        make_executor("gpu")


def test_a_service_request_cannot_choose_the_machine() -> None:
    from accessmap.service.admission import request_schema

    properties = request_schema()["properties"]
    assert "compute" not in properties and "siting" in properties
