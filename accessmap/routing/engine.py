"""Shortest-path engine: arrays in, arrays out.

The hot path of accessmap.  Road networks arrive here as plain edge arrays
(``tail``, ``head``, travel ``weight``) and leave as travel-time arrays; no
GeoDataFrame, no networkx graph and no global state cross this module.

* :func:`build_graph` turns edge arrays into a directed CSR graph, keeping the
  *minimum* weight of parallel edges (``networkx.to_scipy_sparse_array`` and
  scipy's COO to CSR conversion both *sum* duplicates, which silently makes
  dual carriageways and OSM duplicates slower than either road).
* :func:`nearest_source` gives, for every node, the travel time to (from) the
  nearest source and which source it is, in one multi-source
  :func:`scipy.sparse.csgraph.dijkstra` run.
* :func:`bounded_times` gives the sparse coverage matrix "time from source k
  to node j, where it is within a limit", with a compiled (numba) bounded
  Dijkstra that resets only the nodes it touched, so the cost of a source
  grows with its catchment and not with the size of the network.

Zero-weight edges
-----------------
Explicit zeros stored in a scipy sparse graph are edges for
:mod:`scipy.sparse.csgraph` (only *absent* entries are non-edges; see the
"Directed vs. undirected" and "zero-weight edges" notes of the csgraph module
documentation).  This module therefore builds every CSR array directly from
``(data, indices, indptr)``, which keeps explicit zeros, and never calls
``eliminate_zeros``, arithmetic or COO conversions that would drop them.  The
tests check this against networkx.  For the same reason, callers of
:func:`bounded_times` must read the result through ``.indptr``, ``.indices``
and ``.data`` (a time of exactly 0 is a stored entry), never with ``!= 0``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import scipy.sparse
import scipy.sparse.csgraph
from numpy.typing import ArrayLike, NDArray

from accessmap.errors import InputDataError
from accessmap.routing._kernels import bounded_chunk, compile_kernels
from accessmap.routing._parallel import nearest_parallel, run_chunks
from accessmap.routing._sources import (
    Sources,
    _as_index_array,
    _check_node_range,
    _check_sources,
    _entries_by_node,
)
from accessmap.routing._threads import auto_method, thread_count

__all__ = [
    "Sources",
    "bounded_time_blocks",
    "bounded_times",
    "build_graph",
    "connected_components",
    "nearest_source",
    "reverse",
]

logger = logging.getLogger(__name__)


_INT32_MAX = np.iinfo(np.int32).max


_CHUNKS_PER_THREAD = 4


_NEAREST_METHODS = frozenset({"auto", "scipy", "parallel"})




def build_graph(
    tail: NDArray[np.integer],
    head: NDArray[np.integer],
    weight: NDArray[np.floating],
    n_nodes: int,
) -> scipy.sparse.csr_array:
    """Build a directed CSR graph from edge arrays.

    Parameters
    ----------
    tail, head : NDArray[np.integer]
        Start and end node of each edge, in ``[0, n_nodes)``.
    weight : NDArray[np.floating]
        Cost of each edge (travel time), ``>= 0``.  ``inf`` or ``NaN`` means
        the edge cannot be used in that direction; such edges are dropped.
    n_nodes : int
        Number of nodes; the graph is ``n_nodes x n_nodes``.

    Returns
    -------
    scipy.sparse.csr_array
        ``float64`` graph in canonical format (sorted column indices, no
        duplicates).  Parallel edges keep their minimum weight, zero-weight
        edges are stored as explicit zeros (which csgraph treats as edges) and
        self-loops are dropped.  Indices are ``int32`` when they fit.

    Raises
    ------
    InputDataError
        If the arrays differ in length, a node is out of range or a weight is
        negative.

    Examples
    --------
    >>> g = build_graph(np.array([0, 0, 1]), np.array([1, 1, 2]),
    ...                 np.array([5.0, 2.0, 0.0]), 3)
    >>> g.toarray()[0, 1], g.nnz
    (np.float64(2.0), 2)
    """
    tail_arr, head_arr, weight_arr = _check_edges(tail, head, weight, n_nodes)
    keep = np.isfinite(weight_arr) & (tail_arr != head_arr)
    key = tail_arr[keep] * np.int64(n_nodes) + head_arr[keep]
    unique_key, min_weight = _min_per_key(key, weight_arr[keep])
    rows = unique_key // n_nodes
    cols = unique_key - rows * n_nodes
    index_dtype = _index_dtype(n_nodes, unique_key.size)
    indptr = np.zeros(n_nodes + 1, dtype=index_dtype)
    np.cumsum(np.bincount(rows, minlength=n_nodes), out=indptr[1:])
    graph = _csr(min_weight, cols.astype(index_dtype), indptr, (n_nodes, n_nodes))
    logger.debug(
        "built graph: %d nodes, %d edges (%d given, %d dropped as inf/NaN/self-loop, "
        "%d parallel merged)",
        n_nodes,
        graph.nnz,
        tail_arr.size,
        tail_arr.size - key.size,
        key.size - graph.nnz,
    )
    return graph


def _check_edges(
    tail: ArrayLike, head: ArrayLike, weight: ArrayLike, n_nodes: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Validate edge arrays and return them as int64/int64/float64."""
    if int(n_nodes) != n_nodes or n_nodes < 0:
        raise InputDataError(f"n_nodes must be a non-negative integer, got {n_nodes!r}")
    tail_arr = _as_index_array(tail, "tail")
    head_arr = _as_index_array(head, "head")
    weight_arr = np.asarray(weight, dtype=np.float64).ravel()
    if not tail_arr.size == head_arr.size == weight_arr.size:
        raise InputDataError(
            f"tail, head and weight must have the same length, got "
            f"{tail_arr.size}, {head_arr.size} and {weight_arr.size}"
        )
    for name, arr in (("tail", tail_arr), ("head", head_arr)):
        _check_node_range(arr, n_nodes, name)
    negative = np.flatnonzero(weight_arr < 0)
    if negative.size:
        first = negative[0]
        raise InputDataError(
            f"{negative.size} edge weight(s) are negative (first: edge {first} "
            f"{tail_arr[first]}->{head_arr[first]}, weight {float(weight_arr[first])}); "
            "travel times must be >= 0 (use inf to forbid a direction)"
        )
    return tail_arr, head_arr, weight_arr


def _min_per_key(
    key: NDArray[np.int64], weight: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Sorted unique keys and the minimum weight of each."""
    if key.size == 0:
        return key, weight
    order = np.argsort(key, kind="stable")
    key_sorted = key[order]
    starts = np.flatnonzero(np.concatenate(([True], key_sorted[1:] != key_sorted[:-1])))
    return key_sorted[starts], np.minimum.reduceat(weight[order], starts)


def _index_dtype(n_nodes: int, nnz: int) -> type[np.integer[Any]]:
    """``int32`` when node ids and edge counts fit, else ``int64``."""
    return np.int32 if max(n_nodes, nnz) <= _INT32_MAX else np.int64


def _csr(
    data: NDArray[np.float64],
    indices: NDArray[np.integer],
    indptr: NDArray[np.integer],
    shape: tuple[int, int],
) -> scipy.sparse.csr_array:
    """CSR array straight from its buffers (keeps explicit zeros, no summing)."""
    return scipy.sparse.csr_array((data, indices, indptr), shape=shape, copy=False)


def _as_graph(graph: Any) -> scipy.sparse.csr_array:
    """Check ``graph`` is a square sparse graph and return it as float64 CSR."""
    if not scipy.sparse.issparse(graph) or graph.ndim != 2:
        raise InputDataError(f"graph must be a 2-D scipy sparse array, got {type(graph).__name__}")
    if graph.shape[0] != graph.shape[1]:
        raise InputDataError(f"graph must be square, got shape {graph.shape}")
    if graph.format != "csr" or not isinstance(graph, scipy.sparse.csr_array):
        graph = scipy.sparse.csr_array(graph.tocsr())
    return graph.astype(np.float64, copy=False)


def reverse(graph: scipy.sparse.csr_array) -> scipy.sparse.csr_array:
    """Reverse every edge (transpose as CSR), for times *to* sources.

    Parameters
    ----------
    graph : scipy.sparse.csr_array
        Directed graph, as returned by :func:`build_graph`.

    Returns
    -------
    scipy.sparse.csr_array
        Graph with edge ``j -> i`` of weight ``w`` for every edge ``i -> j``;
        explicit zeros are kept.

    Examples
    --------
    >>> g = build_graph(np.array([0]), np.array([1]), np.array([3.0]), 2)
    >>> reverse(g).toarray()[1, 0]
    np.float64(3.0)
    """
    graph = _as_graph(graph)
    return scipy.sparse.csr_array(graph.T.tocsr())


def connected_components(graph: scipy.sparse.csr_array) -> NDArray[np.int64]:
    """Label the weakly connected components of a directed graph.

    Parameters
    ----------
    graph : scipy.sparse.csr_array
        Directed graph; zero-weight edges count as connections.

    Returns
    -------
    NDArray[np.int64]
        Component label ``0 .. n_components - 1`` of every node.

    Examples
    --------
    >>> g = build_graph(np.array([0]), np.array([1]), np.array([0.0]), 3)
    >>> connected_components(g).tolist()
    [0, 0, 1]
    """
    graph = _as_graph(graph)
    _, labels = scipy.sparse.csgraph.connected_components(
        graph, directed=True, connection="weak", return_labels=True
    )
    return labels.astype(np.int64)


def nearest_source(
    graph: scipy.sparse.csr_array,
    sources: Sources,
    *,
    method: str = "auto",
    n_threads: int | None = None,
    tick: Callable[[float, str], None] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Time from the nearest source to every node, and which source it is.

    Two exact methods, which give the same times:

    * ``"scipy"``: one ``min_only`` run of :func:`scipy.sparse.csgraph.dijkstra`
      from one virtual node per source, appended to the graph with edges to
      the source's entry nodes weighted by the entry costs.
    * ``"parallel"``: the sources are split into ``n_threads`` parts (at most
      4, as each part holds 12 bytes per node), by node number so that on a
      spatially numbered network each part tends to be one region, and each
      part runs a compiled multi-source Dijkstra on its own thread.  A part
      does not expand a node that another part already reaches sooner (ties
      go to the lower part), so the parts together do
      about one graph's worth of work; the result is the minimum over parts.
      Each part only ever skips work another part does, so the times are
      those of a single Dijkstra (see the tests against networkx).

    ``"auto"`` uses ``"parallel"`` on graphs of at least 200,000 nodes when
    two or more threads are available *and two CPUs are idle* (the load
    average leaves room: on a busy machine the threads take turns and scipy
    is faster), and scipy otherwise (on small graphs the query takes
    milliseconds and loading the compiler is not worth its 0.3 s and 90 MB);
    see :mod:`accessmap.routing._threads`.  For times *to* the nearest
    source, pass ``reverse(graph)``.

    Parameters
    ----------
    graph : scipy.sparse.csr_array
        Directed graph from :func:`build_graph`.
    sources : Sources
        Sources as entry points.
    method : {"auto", "scipy", "parallel"}
        Which implementation to run (see above).
    n_threads : int, optional
        Threads for ``"parallel"``; defaults to the CPUs available.
    tick : callable, optional
        Progress callback ``tick(fraction, message)``: called at the start (0) and the
        end (1), and after each part with ``"parallel"``, always on the calling thread.
        Whatever it raises (``Cancelled``) propagates.

    Returns
    -------
    time : NDArray[np.float64]
        ``min over sources k and entries i of k`` of ``entry_cost[i] +
        shortest path(entry_node[i], node)``; ``inf`` where unreachable.
    source : NDArray[np.int64]
        Index of a source achieving that time (ties broken arbitrarily);
        ``-1`` where unreachable.

    Raises
    ------
    InputDataError
        If an entry node is not a node of ``graph``, ``method`` is unknown or
        ``n_threads`` is below 1.

    Examples
    --------
    >>> g = build_graph(np.array([0, 1, 2]), np.array([1, 2, 3]), np.ones(3), 5)
    >>> time, source = nearest_source(g, Sources.at_nodes([0, 2]))
    >>> time.tolist(), source.tolist()
    ([0.0, 1.0, 0.0, 1.0, inf], [0, 0, 1, 1, -1])
    >>> nearest_source(g, Sources.at_nodes([0, 2]), method="parallel")[0].tolist()
    [0.0, 1.0, 0.0, 1.0, inf]
    """
    graph = _as_graph(graph)
    _check_sources(graph.shape[0], sources)
    if method not in _NEAREST_METHODS:
        raise InputDataError(
            f"method must be one of {sorted(_NEAREST_METHODS)}, got {method!r}"
        )
    threads = thread_count(n_threads)
    n_nodes = graph.shape[0]
    if tick is not None:
        tick(0.0, "nearest source: started")
    if sources.n_entries == 0 or n_nodes == 0:
        result = np.full(n_nodes, np.inf), np.full(n_nodes, -1, dtype=np.int64)
    elif method == "parallel" or (method == "auto" and auto_method(n_nodes, threads)
                                  == "parallel"):
        result = nearest_parallel(graph, sources, threads, tick=tick)
    else:
        result = _nearest_scipy(graph, sources)
    if tick is not None:
        tick(1.0, "nearest source: done")
    return result


def _nearest_scipy(
    graph: scipy.sparse.csr_array, sources: Sources
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """:func:`nearest_source` with one scipy Dijkstra from virtual source nodes."""
    n_nodes = graph.shape[0]
    time = np.full(n_nodes, np.inf)
    source = np.full(n_nodes, -1, dtype=np.int64)
    augmented = _with_virtual_sources(graph, sources)
    virtual = np.arange(n_nodes, n_nodes + sources.n_sources)
    dist, _, origin = scipy.sparse.csgraph.dijkstra(
        augmented, directed=True, indices=virtual, min_only=True, return_predecessors=True
    )
    time[:] = dist[:n_nodes]
    reached = np.isfinite(time)
    source[reached] = origin[:n_nodes][reached] - n_nodes
    return time, source


def _with_virtual_sources(
    graph: scipy.sparse.csr_array, sources: Sources
) -> scipy.sparse.csr_array:
    """Append one node per source with edges to its entries (CSR concatenation)."""
    n_nodes = graph.shape[0]
    n_total = n_nodes + sources.n_sources
    ptr, node, cost = sources.grouped()
    index_dtype = _index_dtype(n_total, graph.nnz + node.size)
    if graph.indices.dtype == np.int64:
        index_dtype = np.int64  # keep the graph's buffers as they are (no cast)
    indptr = np.concatenate(
        (graph.indptr.astype(index_dtype, copy=False), (graph.nnz + ptr[1:]).astype(index_dtype))
    )
    indices = np.concatenate((graph.indices, node.astype(index_dtype)))
    data = np.concatenate((graph.data, cost))
    return _csr(data, indices, indptr, (n_total, n_total))


def bounded_times(
    graph: scipy.sparse.csr_array,
    sources: Sources,
    limit: float,
    *,
    targets: Sources | None = None,
    n_threads: int | None = None,
    tick: Callable[[float, str], None] | None = None,
) -> scipy.sparse.csr_array:
    """Sparse coverage matrix: time from each source to each node within a limit.

    A compiled bounded Dijkstra per source (binary heap, sparse reset of the
    touched nodes only), sources split into chunks run on ``n_threads``
    threads.  With ``targets``, the times are carried on to points attached to
    nodes (homes reached from the ends of their road segment) inside the same
    compiled pass, so no sources x nodes intermediate is built.

    Parameters
    ----------
    graph : scipy.sparse.csr_array
        Directed graph from :func:`build_graph`.  For times *to* sources, pass
        ``reverse(graph)``.
    sources : Sources
        Sources as entry points.
    limit : float
        Largest time kept (inclusive), ``>= 0``.
    targets : Sources, optional
        Points attached to nodes, in the form of :class:`Sources`: target ``t``
        is reached from node ``entry_node[i]`` at extra cost ``entry_cost[i]``
        for every ``i`` with ``entry_source[i] == t``.  The result then has one
        column per target: the minimum over its entries of (node time + cost),
        kept when ``<= limit``.
    n_threads : int, optional
        Threads to use; defaults to the number of CPUs available.
    tick : callable, optional
        Progress callback ``tick(fraction, message)``, called on the calling thread after
        each chunk of sources (the last call is ``tick(1.0, ...)``).  Whatever it raises
        (``Cancelled``) propagates once the chunks already running have finished.

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(n_sources, n_nodes)`` (or ``(n_sources, targets.n_sources)``),
        ``float64``; entry ``(k, j)`` is the shortest time from source ``k`` to
        node (target) ``j`` if it is ``<= limit``, absent otherwise.  Column
        indices are sorted within each row.  Times of exactly 0 are *stored*
        entries: read the result through ``.indptr``, ``.indices`` and
        ``.data`` and never test presence with ``!= 0``.

    Raises
    ------
    InputDataError
        If ``limit`` is negative or NaN, or an entry node is not in ``graph``.

    Examples
    --------
    >>> g = build_graph(np.array([0, 1, 2]), np.array([1, 2, 3]), np.ones(3), 4)
    >>> cover = bounded_times(g, Sources.at_nodes([0, 3]), 1.0)
    >>> cover.indptr.tolist(), cover.indices.tolist(), cover.data.tolist()
    ([0, 2, 3], [0, 1, 3], [0.0, 1.0, 0.0])
    """
    block = _bounded_blocks(graph, sources, limit, targets=targets, n_threads=n_threads)
    return block(0, sources.n_sources, tick)


def bounded_time_blocks(
    graph: scipy.sparse.csr_array,
    sources: Sources,
    limit: float,
    *,
    targets: Sources | None = None,
    block_sources: int = 256,
    n_threads: int | None = None,
    tick: Callable[[float, str], None] | None = None,
) -> Iterator[tuple[int, scipy.sparse.csr_array]]:
    """:func:`bounded_times` block by block of sources, so the whole matrix never exists.

    The same searches and the same times as :func:`bounded_times`; the caller reduces
    each block (sums per source or per column) and drops it before the next one is
    searched, so memory grows with ``block_sources``, not with the number of sources.

    Parameters
    ----------
    graph, sources, limit, targets, n_threads
        As for :func:`bounded_times`.
    block_sources
        Sources per block (the last block may be smaller), ``>= 1``.
    tick
        Progress callback ``tick(fraction, message)`` over all blocks (last call 1.0).

    Yields
    ------
    first, block : int, scipy.sparse.csr_array
        The first source of the block and its rows of the :func:`bounded_times` result,
        shape ``(rows, n_columns)``, in source order.

    Raises ``InputDataError`` as :func:`bounded_times` does, or if ``block_sources < 1``.

    Examples
    --------
    >>> g = build_graph(np.array([0, 1, 2]), np.array([1, 2, 3]), np.ones(3), 4)
    >>> [(k, b.indices.tolist()) for k, b in
    ...  bounded_time_blocks(g, Sources.at_nodes([0, 3]), 1.0, block_sources=1)]
    [(0, [0, 1]), (1, [3])]
    """
    if not (isinstance(block_sources, int) and block_sources >= 1):
        raise InputDataError(f"block_sources must be a whole number >= 1, got "
                             f"{block_sources!r}")
    block = _bounded_blocks(graph, sources, limit, targets=targets, n_threads=n_threads)
    n = sources.n_sources
    for first in range(0, n, block_sources):
        last = min(n, first + block_sources)
        yield first, block(first, last, _block_tick(tick, first, last, n))


def _block_tick(
    tick: Callable[[float, str], None] | None, first: int, last: int, n: int
) -> Callable[[float, str], None] | None:
    """``tick`` with a block's own fraction mapped onto the share of all sources."""
    if tick is None:
        return None
    outer = tick

    def inner(fraction: float, message: str) -> None:
        outer(1.0 if last == n and fraction >= 1.0 else
              (first + fraction * (last - first)) / n, message)

    return inner


def _bounded_blocks(
    graph: scipy.sparse.csr_array,
    sources: Sources,
    limit: float,
    *,
    targets: Sources | None,
    n_threads: int | None,
) -> Callable[[int, int, Callable[[float, str], None] | None], scipy.sparse.csr_array]:
    """Check and prepare the arrays once; return ``block(first, last, tick)``."""
    graph = _as_graph(graph)
    _check_sources(graph.shape[0], sources)
    if not limit >= 0:
        raise InputDataError(f"limit must be >= 0, got {limit!r}")
    ptr, node, cost = sources.grouped()
    n_nodes = graph.shape[0]
    n_columns = n_nodes if targets is None else targets.n_sources
    # nodes and columns share one index type so the kernel compiles once per graph type
    index_dtype = np.result_type(_index_dtype(n_nodes, graph.nnz), _index_dtype(n_columns, 0))
    indptr = graph.indptr.astype(np.int64, copy=False)
    indices = graph.indices.astype(index_dtype, copy=False)
    threads = thread_count(n_threads)
    compile_kernels()
    if targets is not None:
        _check_sources(n_nodes, targets)
        node_ptr, node_target, node_cost = _entries_by_node(targets, n_nodes)
    else:
        node_ptr = np.zeros(0, np.int64)
        node_target = np.zeros(0, np.int64)
        node_cost = np.zeros(0)
    column_dtype = index_dtype
    node_target = node_target.astype(column_dtype, copy=False)

    def run(bounds: tuple[int, int]) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
        return bounded_chunk(
            indptr, indices, graph.data, ptr, node, cost, bounds[0], bounds[1], float(limit),
            node_ptr, node_target, node_cost, n_columns,
        )

    def block(
        first: int, last: int, tick: Callable[[float, str], None] | None
    ) -> scipy.sparse.csr_array:
        rows = last - first
        chunks = [(a + first, b + first) for a, b in _chunk_bounds(rows, threads)]
        parts = run_chunks(run, chunks, threads, tick=tick, what="bounded search chunks")
        logger.debug("bounded_times: sources %d-%d of %d, limit %g, %d chunks, %d threads",
                     first, last, sources.n_sources, limit, len(chunks), threads)
        counts = np.concatenate([np.zeros(0, np.int64), *(p[0] for p in parts)])
        out_indptr = np.zeros(rows + 1, dtype=np.int64)
        np.cumsum(counts, out=out_indptr[1:])
        out_indices = np.concatenate([np.zeros(0, column_dtype), *(p[1] for p in parts)])
        out_data = np.concatenate([np.zeros(0), *(p[2] for p in parts)])
        out_index_dtype = _index_dtype(n_columns, out_data.size)
        return _csr(
            out_data,
            out_indices.astype(out_index_dtype, copy=False),
            out_indptr.astype(out_index_dtype, copy=False),
            (rows, n_columns),
        )

    return block


def _chunk_bounds(n_sources: int, n_threads: int) -> list[tuple[int, int]]:
    """Split ``range(n_sources)`` into contiguous chunks for the threads."""
    n_chunks = max(1, min(n_sources, n_threads * _CHUNKS_PER_THREAD))
    edges = np.linspace(0, n_sources, n_chunks + 1).round().astype(np.int64)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]
