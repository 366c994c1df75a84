"""``nearest_source(method="auto")`` looks at the machine's load (issue 16).

The load average and the affinity mask are monkeypatched: the choice must follow the idle
CPUs, and whichever method runs, the times equal networkx's.
"""

from __future__ import annotations

import os
from typing import Any

import networkx as nx
import numpy as np
import pytest

from accessmap.routing import _threads, engine
from accessmap.routing._threads import auto_method, idle_cpus
from accessmap.routing.engine import Sources, build_graph, nearest_source


def _machine(monkeypatch: pytest.MonkeyPatch, *, cpus: int, load: float | None) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)), raising=False)
    if load is None:
        monkeypatch.delattr(os, "getloadavg")
    else:
        monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))


@pytest.mark.parametrize(("cpus", "load", "idle"), [
    (2, 1.0, 2.0),  # only this run: both CPUs free for its threads
    (2, 0.2, 2.0),
    (2, 2.0, 1.0),  # one other busy process
    (2, 4.5, 0.0),  # the shared machine of issue 16 (load 3-6 on 2 cores)
    (8, 3.0, 6.0),
    (4, None, 4.0),  # no load average (Windows): every usable CPU counts
])
def test_idle_cpus_are_the_usable_ones_minus_the_other_load(
        monkeypatch: pytest.MonkeyPatch, cpus: int, load: float | None, idle: float) -> None:
    _machine(monkeypatch, cpus=cpus, load=load)
    assert idle_cpus() == pytest.approx(idle)


@pytest.mark.parametrize(("cpus", "load", "nodes", "method"), [
    (2, 1.0, 250_000, "parallel"),
    (2, 3.0, 250_000, "scipy"),  # the threads would take turns: scipy is faster
    (2, 6.0, 1_000_000, "scipy"),
    (8, 5.0, 250_000, "parallel"),  # 4 idle CPUs left
    (2, 1.0, 199_999, "scipy"),  # small graph: never worth the compiler
    (1, 0.0, 1_000_000, "scipy"),  # one CPU
])
def test_auto_picks_parallel_only_when_two_cpus_are_idle(
        monkeypatch: pytest.MonkeyPatch, cpus: int, load: float, nodes: int,
        method: str) -> None:
    _machine(monkeypatch, cpus=cpus, load=load)
    assert auto_method(nodes, _threads.thread_count(None)) == method


def _grid(side: int) -> tuple[Any, nx.DiGraph]:
    rng = np.random.default_rng(7)
    node = np.arange(side * side).reshape(side, side)
    pairs = np.concatenate([np.column_stack([node[:, :-1].ravel(), node[:, 1:].ravel()]),
                            np.column_stack([node[:-1].ravel(), node[1:].ravel()])])
    tail = np.concatenate([pairs[:, 0], pairs[:, 1]])
    head = np.concatenate([pairs[:, 1], pairs[:, 0]])
    weight = rng.uniform(1, 100, tail.size)
    g = nx.DiGraph()
    g.add_nodes_from(range(side * side))
    for a, b, w in zip(tail.tolist(), head.tolist(), weight.tolist(), strict=True):
        if not g.has_edge(a, b) or g[a][b]["weight"] > w:
            g.add_edge(a, b, weight=w)
    return build_graph(tail, head, weight, side * side), g


@pytest.mark.parametrize(("load", "expected"), [(1.0, "parallel"), (5.0, "scipy")])
def test_nearest_source_auto_follows_the_load(monkeypatch: pytest.MonkeyPatch, load: float,
                                              expected: str) -> None:
    _machine(monkeypatch, cpus=2, load=load)
    monkeypatch.setattr(_threads, "PARALLEL_MIN_NODES", 100)  # this small grid counts
    ran: list[str] = []
    real_parallel, real_scipy = engine.nearest_parallel, engine._nearest_scipy

    def parallel(*args: Any, **kwargs: Any) -> Any:
        ran.append("parallel")
        return real_parallel(*args, **kwargs)

    def scipy_method(*args: Any, **kwargs: Any) -> Any:
        ran.append("scipy")
        return real_scipy(*args, **kwargs)

    monkeypatch.setattr(engine, "nearest_parallel", parallel)
    monkeypatch.setattr(engine, "_nearest_scipy", scipy_method)
    graph, g = _grid(15)
    facilities = [0, 112, 224]
    time, _ = nearest_source(graph, Sources.at_nodes(facilities))
    assert ran == [expected]
    reference = nx.multi_source_dijkstra_path_length(g, facilities)
    assert time.tolist() == pytest.approx([reference[n] for n in range(225)])


def test_the_thread_cap_limits_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    from accessmap.routing._threads import THREADS_ENV, thread_count, usable_cpus

    monkeypatch.delenv(THREADS_ENV, raising=False)
    cpus = usable_cpus()
    monkeypatch.setenv(THREADS_ENV, "1")
    assert usable_cpus() == 1 and thread_count(None) == 1
    monkeypatch.setenv(THREADS_ENV, str(cpus + 5))  # a cap above the CPUs changes nothing
    assert usable_cpus() == cpus
    for junk in ("0", "-2", "two", ""):
        monkeypatch.setenv(THREADS_ENV, junk)
        assert usable_cpus() == cpus


def test_local_cluster_workers_share_the_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    from accessmap import batch
    from accessmap.routing._threads import THREADS_ENV

    monkeypatch.setattr(batch, "usable_cpus", lambda: 8)
    assert batch.worker_env(2) == {THREADS_ENV: "4"}
    assert batch.worker_env(3) == {THREADS_ENV: "2"}
    assert batch.worker_env(16) == {THREADS_ENV: "1"}
