"""Tests of accessmap.engine against networkx as the reference."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from accessmap.errors import InputDataError
from accessmap.routing._kernels import sort_nodes
from accessmap.routing.engine import (
    Sources,
    bounded_times,
    build_graph,
    connected_components,
    nearest_source,
    reverse,
)

# Dyadic weights (multiples of 1/4) add up exactly in floating point, so the
# "time == limit" boundary is the same for every summation order.
DYADIC = st.integers(0, 12).map(lambda k: k / 4)
REAL = st.floats(0, 1e3, allow_nan=False, allow_infinity=False)


@dataclass
class Case:
    """A random edge list and sources, as accepted by the engine."""

    n_nodes: int
    tail: NDArray[np.int64]
    head: NDArray[np.int64]
    weight: NDArray[np.float64]
    sources: Sources


@st.composite
def cases(draw: st.DrawFn, weights: st.SearchStrategy[float] = DYADIC) -> Case:
    """Directed graphs with parallel edges, zero weights, self-loops, inf edges."""
    n_nodes = draw(st.integers(1, 12))
    node = st.integers(0, n_nodes - 1)
    edge_weight = st.one_of(weights, st.just(0.0), st.just(np.inf))
    edges = draw(st.lists(st.tuples(node, node, edge_weight), max_size=40))
    n_sources = draw(st.integers(0, 4))
    entries = (
        draw(st.lists(st.tuples(st.integers(0, n_sources - 1), node, weights), max_size=8))
        if n_sources
        else []
    )
    tail, head, weight = columns(edges, (np.int64, np.int64, np.float64))
    src, ent_node, ent_cost = columns(entries, (np.int64, np.int64, np.float64))
    return Case(n_nodes, tail, head, weight, Sources(src, ent_node, ent_cost, n_sources))


def columns(rows: list[tuple[Any, ...]], dtypes: tuple[type, ...]) -> list[NDArray[Any]]:
    """Columns of a list of tuples as typed arrays (empty arrays for no rows)."""
    return [np.array([r[i] for r in rows], dtype=d) for i, d in enumerate(dtypes)]


def reference_times(case: Case) -> NDArray[np.float64]:
    """networkx times, shape (n_sources, n_nodes), via one super-source per source."""
    g = nx.MultiDiGraph()
    g.add_nodes_from(range(case.n_nodes))
    for t, h, w in zip(case.tail, case.head, case.weight, strict=True):
        if np.isfinite(w):
            g.add_edge(int(t), int(h), weight=float(w))
    s = case.sources
    for k, v, c in zip(s.entry_source, s.entry_node, s.entry_cost, strict=True):
        g.add_edge(("source", int(k)), int(v), weight=float(c))
    times = np.full((s.n_sources, case.n_nodes), np.inf)
    for k in range(s.n_sources):
        if ("source", k) in g:
            lengths = nx.single_source_dijkstra_path_length(g, ("source", k))
            for v, t in lengths.items():
                if isinstance(v, int):
                    times[k, v] = t
    return times


def reference_bounded(case: Case, limit: float) -> list[dict[int, float]]:
    """networkx times within ``limit`` (inclusive), one dict per source."""
    g = nx.MultiDiGraph()
    for t, h, w in zip(case.tail, case.head, case.weight, strict=True):
        if np.isfinite(w):
            g.add_edge(int(t), int(h), weight=float(w))
    s = case.sources
    rows: list[dict[int, float]] = []
    for k in range(s.n_sources):
        super_source = ("source", k)
        g.add_node(super_source)
        for i in np.flatnonzero(s.entry_source == k):
            g.add_edge(super_source, int(s.entry_node[i]), weight=float(s.entry_cost[i]))
        lengths = nx.single_source_dijkstra_path_length(g, super_source, cutoff=limit)
        rows.append({v: t for v, t in lengths.items() if isinstance(v, int | np.integer)})
    return rows


def graph_of(case: Case) -> scipy.sparse.csr_array:
    return build_graph(case.tail, case.head, case.weight, case.n_nodes)


def row(matrix: scipy.sparse.csr_array, k: int) -> dict[int, float]:
    """Stored entries of row ``k`` (explicit zeros included)."""
    lo, hi = matrix.indptr[k], matrix.indptr[k + 1]
    return dict(zip(matrix.indices[lo:hi].tolist(), matrix.data[lo:hi].tolist(), strict=True))


# ---------------------------------------------------------------------------
# Property tests
# ---------------------------------------------------------------------------


METHODS = st.sampled_from([("scipy", 1), ("parallel", 1), ("parallel", 2), ("parallel", 3)])


def check_nearest(case: Case, method: tuple[str, int]) -> None:
    """Times equal networkx's bit for bit; each label is a source achieving its time."""
    name, n_threads = method
    time, source = nearest_source(
        graph_of(case), case.sources, method=name, n_threads=n_threads
    )
    ref = reference_times(case)
    expected = ref.min(axis=0) if case.sources.n_sources else np.full(case.n_nodes, np.inf)
    np.testing.assert_array_equal(time, expected)
    assert np.all((source == -1) == np.isinf(time))
    reached = np.flatnonzero(source >= 0)
    np.testing.assert_array_equal(ref[source[reached], reached], time[reached])
    assert source.dtype == np.int64 and time.dtype == np.float64


@settings(deadline=None, max_examples=300)
@given(cases(), METHODS)
def test_nearest_source_matches_networkx(case: Case, method: tuple[str, int]) -> None:
    check_nearest(case, method)


@settings(deadline=None, max_examples=300)
@given(cases(REAL), METHODS)
def test_nearest_source_matches_networkx_real_weights(
    case: Case, method: tuple[str, int]
) -> None:
    check_nearest(case, method)


def test_nearest_source_parallel_on_a_grid_equals_scipy() -> None:
    """Many sources in two regions of a larger graph: the parts prune each other."""
    rng = np.random.default_rng(7)
    side = 60
    node = np.arange(side * side).reshape(side, side)
    tail = np.concatenate([node[:, :-1].ravel(), node[:-1, :].ravel()])
    head = np.concatenate([node[:, 1:].ravel(), node[1:, :].ravel()])
    tail, head = np.concatenate([tail, head]), np.concatenate([head, tail])
    weight = rng.choice([0.0, 0.25, 1.0, 7.5], tail.size)
    graph = build_graph(tail, head, weight, side * side)
    sources = Sources(
        rng.integers(0, 40, 120), rng.integers(0, side * side, 120), rng.random(120) * 5, 40
    )
    expected, _ = nearest_source(graph, sources, method="scipy")
    for n_threads in (2, 3, 8):
        time, source = nearest_source(
            graph, sources, method="parallel", n_threads=n_threads
        )
        np.testing.assert_array_equal(time, expected)
        # every label is a source whose own best time at that node is the minimum
        for k in np.unique(source):
            own, _ = nearest_source(graph, Sources(
                np.zeros(np.sum(sources.entry_source == k), np.int64),
                sources.entry_node[sources.entry_source == k],
                sources.entry_cost[sources.entry_source == k], 1), method="scipy")
            np.testing.assert_array_equal(own[source == k], time[source == k])


def test_nearest_source_bad_method_and_threads() -> None:
    graph = build_graph(np.array([0]), np.array([1]), np.ones(1), 2)
    with pytest.raises(InputDataError, match="method must be one of"):
        nearest_source(graph, Sources.at_nodes([0]), method="fast")
    with pytest.raises(InputDataError, match="n_threads must be >= 1"):
        nearest_source(graph, Sources.at_nodes([0]), n_threads=0)


@settings(deadline=None, max_examples=200)
@given(cases(), DYADIC, st.sampled_from([1, 2, 3]))
def test_bounded_times_matches_networkx(case: Case, limit: float, n_threads: int) -> None:
    cover = bounded_times(graph_of(case), case.sources, limit, n_threads=n_threads)
    assert cover.shape == (case.sources.n_sources, case.n_nodes)
    for k, expected in enumerate(reference_bounded(case, limit)):
        got = row(cover, k)
        assert got.keys() == expected.keys()
        assert got == expected  # dyadic weights: exact
        cols = cover.indices[cover.indptr[k] : cover.indptr[k + 1]]
        assert np.all(np.diff(cols) > 0)


@st.composite
def targets_for(draw: st.DrawFn, n_nodes: int) -> Sources:
    """Points attached to 1-3 nodes each with dyadic extra costs."""
    n_targets = draw(st.integers(0, 6))
    entries = (
        draw(st.lists(st.tuples(st.integers(0, n_targets - 1), st.integers(0, n_nodes - 1),
                                DYADIC), max_size=12))
        if n_targets
        else []
    )
    tgt, node, cost = columns(entries, (np.int64, np.int64, np.float64))
    return Sources(tgt, node, cost, n_targets)


@settings(deadline=None, max_examples=200)
@given(st.data(), cases(), DYADIC, st.sampled_from([1, 2]))
def test_bounded_times_to_targets_is_min_over_entries(
    data: st.DataObject, case: Case, limit: float, n_threads: int
) -> None:
    """Targets: min over each target's entries of (node time + cost), within the limit."""
    targets = data.draw(targets_for(case.n_nodes))
    cover = bounded_times(graph_of(case), case.sources, limit, targets=targets,
                                 n_threads=n_threads)
    assert cover.shape == (case.sources.n_sources, targets.n_sources)
    for k, node_times in enumerate(reference_bounded(case, limit)):
        expected: dict[int, float] = {}
        for t, v, c in zip(targets.entry_source, targets.entry_node, targets.entry_cost,
                           strict=True):
            if int(v) in node_times and node_times[int(v)] + c <= limit:
                total = node_times[int(v)] + float(c)
                expected[int(t)] = min(expected.get(int(t), np.inf), total)
        assert row(cover, k) == expected
        cols = cover.indices[cover.indptr[k] : cover.indptr[k + 1]]
        assert np.all(np.diff(cols) > 0)


@settings(deadline=None, max_examples=100)
@given(cases(REAL), st.floats(0, 3e3))
def test_bounded_times_agrees_with_nearest_source(case: Case, limit: float) -> None:
    graph = graph_of(case)
    cover = bounded_times(graph, case.sources, limit)
    time, _ = nearest_source(graph, case.sources)
    within = np.full(case.n_nodes, np.inf)
    for k in range(case.sources.n_sources):
        for j, t in row(cover, k).items():
            assert t <= limit
            within[j] = min(within[j], t)
    expected = np.where(time <= limit, time, np.inf)
    np.testing.assert_allclose(within, expected, rtol=1e-12)


@settings(deadline=None, max_examples=100)
@given(cases())
def test_reverse_gives_times_to_sources(case: Case) -> None:
    """Times on the reversed graph equal networkx times on the reversed MultiDiGraph."""
    reversed_case = Case(case.n_nodes, case.head, case.tail, case.weight, case.sources)
    time, _ = nearest_source(reverse(graph_of(case)), case.sources)
    ref = reference_times(reversed_case)
    expected = ref.min(axis=0) if case.sources.n_sources else np.full(case.n_nodes, np.inf)
    np.testing.assert_allclose(time, expected, rtol=1e-12)


@settings(deadline=None, max_examples=100)
@given(cases())
def test_connected_components_match_networkx(case: Case) -> None:
    labels = connected_components(graph_of(case))
    g = nx.DiGraph()
    g.add_nodes_from(range(case.n_nodes))
    finite = np.isfinite(case.weight)
    g.add_edges_from(zip(case.tail[finite].tolist(), case.head[finite].tolist(), strict=True))
    for component in nx.weakly_connected_components(g):
        assert len({labels[v] for v in component}) == 1
    assert len(set(labels.tolist())) == nx.number_weakly_connected_components(g)


# ---------------------------------------------------------------------------
# Focused unit tests
# ---------------------------------------------------------------------------


def test_parallel_edges_keep_minimum_not_sum() -> None:
    """The MultiDiGraph trap: scipy coo->csr and nx.to_scipy_sparse_array sum duplicates."""
    tail, head, weight = np.array([0, 0, 0]), np.array([1, 1, 1]), np.array([5.0, 2.0, 7.0])
    graph = build_graph(tail, head, weight, 2)
    assert graph.nnz == 1
    assert graph[0, 1] == 2.0
    summed = scipy.sparse.coo_array((weight, (tail, head)), shape=(2, 2)).tocsr()
    assert summed[0, 1] == 14.0  # what the naive construction would have given
    time, _ = nearest_source(graph, Sources.at_nodes([0]))
    assert time[1] == 2.0


def test_graph_is_canonical_float64_int32() -> None:
    graph = build_graph(np.array([2, 0, 2, 0]), np.array([0, 2, 1, 1]), np.ones(4), 3)
    assert graph.dtype == np.float64 and graph.indices.dtype == np.int32
    assert graph.has_canonical_format
    assert graph.indptr.tolist() == [0, 2, 2, 4]
    assert graph.indices.tolist() == [1, 2, 0, 1]


def test_negative_weight_raises() -> None:
    with pytest.raises(InputDataError, match=r"negative .* edge 1 0->2, weight -1\.5"):
        build_graph(np.array([0, 0]), np.array([1, 2]), np.array([1.0, -1.5]), 3)
    with pytest.raises(ValueError, match="negative"):
        build_graph(np.array([0]), np.array([1]), np.array([-np.inf]), 2)


def test_bad_edges_raise() -> None:
    with pytest.raises(InputDataError, match="same length"):
        build_graph(np.array([0, 1]), np.array([1]), np.array([1.0]), 2)
    with pytest.raises(InputDataError, match=r"head node id\(s\) outside \[0, 2\)"):
        build_graph(np.array([0]), np.array([2]), np.array([1.0]), 2)
    with pytest.raises(InputDataError, match="integer node ids"):
        build_graph(np.array([0.0]), np.array([1.0]), np.array([1.0]), 2)


def test_inf_and_nan_edges_are_dropped() -> None:
    graph = build_graph(
        np.array([0, 1, 1, 2]), np.array([1, 0, 2, 0]), np.array([1.0, np.inf, np.nan, 3.0]), 3
    )
    assert graph.nnz == 2
    time, source = nearest_source(graph, Sources.at_nodes([1]))
    assert time.tolist() == [np.inf, 0.0, np.inf]
    assert source.tolist() == [-1, 0, -1]


def test_zero_weight_edges_are_edges() -> None:
    """Explicit zeros are stored and traversed (csgraph treats stored zeros as edges)."""
    graph = build_graph(
        np.array([0, 1, 2]), np.array([1, 2, 3]), np.array([0.0, 0.0, 1.0]), 5
    )
    assert graph.nnz == 3 and np.count_nonzero(graph.data) == 1
    time, source = nearest_source(graph, Sources.at_nodes([0]))
    assert time.tolist() == [0.0, 0.0, 0.0, 1.0, np.inf]
    assert source.tolist() == [0, 0, 0, 0, -1]
    cover = bounded_times(graph, Sources.at_nodes([0]), 0.0)
    assert cover.nnz == 3 and row(cover, 0) == {0: 0.0, 1: 0.0, 2: 0.0}
    assert reverse(graph).nnz == 3
    assert connected_components(graph).tolist() == [0, 0, 0, 0, 1]


def test_self_loops_are_dropped() -> None:
    graph = build_graph(np.array([0, 0]), np.array([0, 1]), np.array([1.0, 2.0]), 2)
    assert graph.nnz == 1


def test_multi_entry_source() -> None:
    """A facility mid-segment enters at both ends with different costs."""
    graph = build_graph(np.array([0, 1, 2]), np.array([1, 2, 3]), np.full(3, 10.0), 4)
    sources = Sources(np.array([0, 0, 1]), np.array([0, 3, 0]), np.array([4.0, 1.0, 0.0]), 2)
    time, source = nearest_source(graph, sources)
    assert time.tolist() == [0.0, 10.0, 20.0, 1.0]
    assert source.tolist() == [1, 1, 1, 0]
    cover = bounded_times(graph, sources, 14.0)
    assert row(cover, 0) == {0: 4.0, 1: 14.0, 3: 1.0}
    assert row(cover, 1) == {0: 0.0, 1: 10.0}


def test_empty_sources() -> None:
    graph = build_graph(np.array([0]), np.array([1]), np.array([1.0]), 3)
    empty = Sources.at_nodes(np.zeros(0, np.int64))
    time, source = nearest_source(graph, empty)
    assert np.all(np.isinf(time)) and np.all(source == -1)
    cover = bounded_times(graph, empty, 5.0)
    assert cover.shape == (0, 3) and cover.nnz == 0
    no_entries = Sources(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), 2)
    assert bounded_times(graph, no_entries, 5.0).shape == (2, 3)
    assert np.all(nearest_source(graph, no_entries)[1] == -1)


def test_empty_graph() -> None:
    graph = build_graph(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), 0)
    assert graph.shape == (0, 0)
    time, source = nearest_source(graph, Sources.at_nodes([]))
    assert time.size == 0 and source.size == 0


def test_bad_sources_raise() -> None:
    graph = build_graph(np.array([0]), np.array([1]), np.array([1.0]), 2)
    with pytest.raises(InputDataError, match="entry_node"):
        nearest_source(graph, Sources.at_nodes([5]))
    with pytest.raises(InputDataError, match="entry_source"):
        Sources(np.array([2]), np.array([0]), np.array([0.0]), 2)
    with pytest.raises(InputDataError, match="entry cost"):
        Sources(np.array([0]), np.array([0]), np.array([-1.0]), 1)
    with pytest.raises(InputDataError, match="limit"):
        bounded_times(graph, Sources.at_nodes([0]), -1.0)
    with pytest.raises(InputDataError, match="limit"):
        bounded_times(graph, Sources.at_nodes([0]), float("nan"))


def test_bounded_limit_is_inclusive() -> None:
    graph = build_graph(np.array([0, 1]), np.array([1, 2]), np.array([0.5, 0.25]), 3)
    assert row(bounded_times(graph, Sources.at_nodes([0]), 0.75), 0) == {
        0: 0.0,
        1: 0.5,
        2: 0.75,
    }
    assert row(bounded_times(graph, Sources.at_nodes([0]), 0.7), 0) == {0: 0.0, 1: 0.5}


def test_bounded_times_many_sources_threads_agree() -> None:
    """Chunking over threads gives the same matrix as one thread."""
    rng = np.random.default_rng(0)
    n = 2_000
    tail = rng.integers(0, n, 8 * n)
    head = rng.integers(0, n, 8 * n)
    graph = build_graph(tail, head, rng.uniform(0, 10, 8 * n), n)
    sources = Sources.at_nodes(rng.integers(0, n, 300))
    one = bounded_times(graph, sources, 12.0, n_threads=1)
    two = bounded_times(graph, sources, 12.0, n_threads=2)
    assert one.nnz > 0 and np.diff(one.indptr).max() > 1000  # radix-sorted rows
    for k in range(300):
        assert np.all(np.diff(one.indices[one.indptr[k] : one.indptr[k + 1]]) > 0)
    for attr in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(one, attr), getattr(two, attr))
    full = scipy.sparse.csgraph.dijkstra(graph, indices=sources.entry_node, limit=12.0)
    dense = np.full((300, n), np.inf)
    for k in range(300):
        lo, hi = one.indptr[k], one.indptr[k + 1]
        dense[k, one.indices[lo:hi]] = one.data[lo:hi]
    np.testing.assert_array_equal(dense, full)


@pytest.mark.parametrize("bits", [1, 11, 20, 31])
@pytest.mark.parametrize("size", [0, 5, 63, 64, 3000])
def test_sort_nodes(bits: int, size: int) -> None:
    """Output rows are radix-sorted (1 to 3 passes) or insertion-sorted."""
    nodes = np.random.default_rng(size + bits).integers(0, 2**bits, size).astype(np.int32)
    got = nodes.copy()
    sort_nodes(got, np.empty(size, np.int32), bits)
    np.testing.assert_array_equal(got, np.sort(nodes))


# ---------------------------------------------------------------------------
# Real network
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["drive", "walk"])
def test_parallel_nearest_source_on_comoros_equals_scipy(comoros_dir: Path, mode: str) -> None:
    """Real roads (islands, ferries, one-way streets): both methods agree bit for bit."""
    from accessmap.inputs.network import load_network

    network = load_network(comoros_dir / "comores-latest.osm.pbf", mode=mode)
    graph = network.graph_to
    rng = np.random.default_rng(3)
    sources = Sources.at_nodes(rng.choice(graph.shape[0], 60, replace=False))
    expected, _ = nearest_source(graph, sources, method="scipy")
    time, source = nearest_source(graph, sources, method="parallel", n_threads=2)
    np.testing.assert_array_equal(time, expected)
    assert np.isinf(time).any() and np.isfinite(time).mean() > 0.9  # islands without sources
    # the label is right: the time from that source alone is the time found
    for k in rng.choice(np.unique(source[source >= 0]), 5, replace=False):
        own, _ = nearest_source(graph, Sources.at_nodes([sources.entry_node[k]]))
        np.testing.assert_array_equal(own[source == k], time[source == k])
