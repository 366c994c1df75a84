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
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse
import scipy.sparse.csgraph
from numpy.typing import ArrayLike, NDArray

from accessmap.errors import InputDataError
from accessmap.routing._kernels import bounded_chunk, compile_kernels, nearest_part

logger = logging.getLogger(__name__)


_INT32_MAX = np.iinfo(np.int32).max


_CHUNKS_PER_THREAD = 4


_NEAREST_METHODS = frozenset({"auto", "scipy", "parallel"})


_PARALLEL_MIN_NODES = 200_000  # below this, nearest_source's "auto" runs scipy


_PARALLEL_MAX_PARTS = 4  # each part holds a time and a label per node and is checked per node


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


def _as_index_array(values: ArrayLike, name: str) -> NDArray[np.int64]:
    """Return ``values`` as a 1-D int64 array, refusing non-integer input."""
    arr = np.asarray(values).ravel()
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InputDataError(f"{name} must hold integer node ids, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _check_node_range(nodes: NDArray[np.int64], n_nodes: int, name: str) -> None:
    """Raise if any node id is outside ``[0, n_nodes)``."""
    bad = np.flatnonzero((nodes < 0) | (nodes >= n_nodes))
    if bad.size:
        raise InputDataError(
            f"{bad.size} {name} node id(s) outside [0, {n_nodes}) "
            f"(first: position {bad[0]}, value {nodes[bad[0]]})"
        )


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


@dataclass(frozen=True)
class Sources:
    """Sources given as entry points.

    Source ``k`` enters the graph at node ``entry_node[i]`` with initial cost
    ``entry_cost[i]`` for every ``i`` with ``entry_source[i] == k``.  A
    facility snapped onto the middle of a road segment enters at both ends of
    the segment with different costs; a facility on a node has one entry of
    cost 0.  A source without entries reaches nothing.

    Parameters
    ----------
    entry_source : NDArray[np.int64]
        Source index of each entry, in ``[0, n_sources)``.
    entry_node : NDArray[np.int64]
        Graph node of each entry.
    entry_cost : NDArray[np.float64]
        Initial cost of each entry, finite and ``>= 0``.
    n_sources : int
        Number of sources.

    Raises
    ------
    InputDataError
        If the arrays differ in length, a source index is out of range or a
        cost is negative or not finite.

    Examples
    --------
    >>> s = Sources(np.array([0, 0, 1]), np.array([4, 5, 9]), np.array([1.5, 2.0, 0.0]), 2)
    >>> s.n_entries
    3
    >>> Sources.at_nodes([3, 7]).entry_cost.tolist()
    [0.0, 0.0]
    """

    entry_source: NDArray[np.int64]
    entry_node: NDArray[np.int64]
    entry_cost: NDArray[np.float64]
    n_sources: int

    def __post_init__(self) -> None:
        source = _as_index_array(self.entry_source, "entry_source")
        node = _as_index_array(self.entry_node, "entry_node")
        cost = np.asarray(self.entry_cost, dtype=np.float64).ravel()
        if int(self.n_sources) != self.n_sources or self.n_sources < 0:
            raise InputDataError(
                f"n_sources must be a non-negative integer, got {self.n_sources!r}"
            )
        if not source.size == node.size == cost.size:
            raise InputDataError(
                f"entry_source, entry_node and entry_cost must have the same length, "
                f"got {source.size}, {node.size} and {cost.size}"
            )
        _check_node_range(source, int(self.n_sources), "entry_source")
        bad = np.flatnonzero(~(np.isfinite(cost) & (cost >= 0)))
        if bad.size:
            raise InputDataError(
                f"{bad.size} entry cost(s) are negative or not finite "
                f"(first: entry {bad[0]}, cost {float(cost[bad[0]])}); "
                "costs must be finite and >= 0"
            )
        object.__setattr__(self, "entry_source", source)
        object.__setattr__(self, "entry_node", node)
        object.__setattr__(self, "entry_cost", cost)
        object.__setattr__(self, "n_sources", int(self.n_sources))

    @classmethod
    def at_nodes(cls, nodes: ArrayLike) -> Sources:
        """One source per node, entering there at cost 0.

        Parameters
        ----------
        nodes : array_like of int
            Graph node of each source.

        Returns
        -------
        Sources
            ``len(nodes)`` sources, source ``k`` at ``nodes[k]``.

        Examples
        --------
        >>> Sources.at_nodes([2, 2, 5]).n_sources
        3
        """
        node = _as_index_array(nodes, "nodes")
        return cls(np.arange(node.size, dtype=np.int64), node, np.zeros(node.size), node.size)

    @property
    def n_entries(self) -> int:
        """Total number of entries over all sources."""
        return int(self.entry_node.size)

    def grouped(self) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        """Entries grouped by source, CSR style.

        Returns
        -------
        ptr : NDArray[np.int64]
            ``n_sources + 1`` offsets; source ``k`` owns entries ``ptr[k]:ptr[k+1]``.
        node, cost : NDArray
            Entry nodes and costs in that order.
        """
        order = np.argsort(self.entry_source, kind="stable")
        ptr = np.zeros(self.n_sources + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.entry_source, minlength=self.n_sources), out=ptr[1:])
        return ptr, self.entry_node[order], self.entry_cost[order]


def _check_sources(graph: scipy.sparse.csr_array, sources: Sources) -> None:
    """Raise if an entry node is not a node of ``graph``."""
    if not isinstance(sources, Sources):
        raise InputDataError(f"sources must be a Sources, got {type(sources).__name__}")
    _check_node_range(sources.entry_node, graph.shape[0], "entry_node")


def nearest_source(
    graph: scipy.sparse.csr_array,
    sources: Sources,
    *,
    method: str = "auto",
    n_threads: int | None = None,
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
    two or more threads are available, and scipy otherwise (on small graphs
    the query takes milliseconds and loading the compiler is not worth its
    0.3 s and 90 MB).  For times *to* the nearest source, pass
    ``reverse(graph)``.

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
    _check_sources(graph, sources)
    if method not in _NEAREST_METHODS:
        raise InputDataError(
            f"method must be one of {sorted(_NEAREST_METHODS)}, got {method!r}"
        )
    threads = _thread_count(n_threads)
    n_nodes = graph.shape[0]
    if sources.n_entries == 0 or n_nodes == 0:
        return np.full(n_nodes, np.inf), np.full(n_nodes, -1, dtype=np.int64)
    if method == "auto":
        method = _auto_method(n_nodes, threads)
    if method == "parallel":
        return _nearest_parallel(graph, sources, threads)
    return _nearest_scipy(graph, sources)


def _auto_method(n_nodes: int, n_threads: int) -> str:
    """The method ``nearest_source(method="auto")`` runs on this graph size and thread count."""
    return "parallel" if n_threads >= 2 and n_nodes >= _PARALLEL_MIN_NODES else "scipy"


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


def _nearest_parallel(
    graph: scipy.sparse.csr_array, sources: Sources, n_threads: int
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """:func:`nearest_source` with one compiled, pruned Dijkstra per part of the sources."""
    n_nodes = graph.shape[0]
    parts = _source_parts(sources, min(n_threads, _PARALLEL_MAX_PARTS))
    label_dtype = np.int32 if sources.n_sources <= _INT32_MAX else np.int64
    time = np.full((len(parts), n_nodes), np.inf)
    label = np.full((len(parts), n_nodes), -1, dtype=label_dtype)
    compile_kernels()

    def run(part: int) -> None:
        chosen = parts[part]
        nearest_part(graph.indptr, graph.indices, graph.data, sources.entry_node[chosen],
                      sources.entry_cost[chosen], sources.entry_source[chosen].astype(label_dtype),
                      time, label, part)

    if len(parts) == 1:
        run(0)
    else:
        with ThreadPoolExecutor(max_workers=len(parts)) as pool:
            list(pool.map(run, range(len(parts))))
    logger.debug("nearest_source: %d sources in %d parts", sources.n_sources, len(parts))
    best = np.argmin(time, axis=0)  # the first part wins ties, as in the pruning rule
    nodes = np.arange(n_nodes)
    return time[best, nodes], label[best, nodes].astype(np.int64)


def _source_parts(sources: Sources, n_parts: int) -> list[NDArray[np.int64]]:
    """Entry indices of up to ``n_parts`` groups of sources, ordered by their first node.

    Sources are ordered by their smallest entry node and cut into contiguous
    groups of (nearly) equal count, so that each group tends to be one region
    of a spatially numbered network and the groups meet along few nodes.
    """
    first_node = np.full(sources.n_sources, np.iinfo(np.int64).max)
    np.minimum.at(first_node, sources.entry_source, sources.entry_node)
    used = np.flatnonzero(first_node < np.iinfo(np.int64).max)
    used = used[np.argsort(first_node[used], kind="stable")]
    part_of = np.empty(sources.n_sources, dtype=np.int64)
    n_parts = max(1, min(n_parts, used.size))
    part_of[used] = np.arange(used.size) * n_parts // used.size
    entry_part = part_of[sources.entry_source]
    return [np.flatnonzero(entry_part == p) for p in range(n_parts)]


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
    graph = _as_graph(graph)
    _check_sources(graph, sources)
    if not limit >= 0:
        raise InputDataError(f"limit must be >= 0, got {limit!r}")
    ptr, node, cost = sources.grouped()
    n_nodes = graph.shape[0]
    n_columns = n_nodes if targets is None else targets.n_sources
    # nodes and columns share one index type so the kernel compiles once per graph type
    index_dtype = np.result_type(_index_dtype(n_nodes, graph.nnz), _index_dtype(n_columns, 0))
    indptr = graph.indptr.astype(np.int64, copy=False)
    indices = graph.indices.astype(index_dtype, copy=False)
    threads = _thread_count(n_threads)
    chunks = _chunk_bounds(sources.n_sources, threads)
    compile_kernels()
    if targets is not None:
        _check_sources(graph, targets)
        node_ptr, node_target, node_cost = _entries_by_node(targets, n_nodes)
    else:
        node_ptr = np.zeros(0, np.int64)
        node_target = np.zeros(0, np.int64)
        node_cost = np.zeros(0)
    column_dtype = index_dtype

    def run(bounds: tuple[int, int]) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
        return bounded_chunk(
            indptr, indices, graph.data, ptr, node, cost, bounds[0], bounds[1], float(limit),
            node_ptr, node_target.astype(column_dtype, copy=False), node_cost, n_columns,
        )

    with ThreadPoolExecutor(max_workers=threads) as pool:
        parts = list(pool.map(run, chunks))
    logger.debug(
        "bounded_times: %d sources, limit %g, %d chunks on %d threads",
        sources.n_sources,
        limit,
        len(chunks),
        threads,
    )
    counts = np.concatenate([np.zeros(0, np.int64), *(p[0] for p in parts)])
    out_indptr = np.zeros(sources.n_sources + 1, dtype=np.int64)
    np.cumsum(counts, out=out_indptr[1:])
    out_indices = np.concatenate([np.zeros(0, column_dtype), *(p[1] for p in parts)])
    out_data = np.concatenate([np.zeros(0), *(p[2] for p in parts)])
    out_index_dtype = _index_dtype(n_columns, out_data.size)
    return _csr(
        out_data,
        out_indices.astype(out_index_dtype, copy=False),
        out_indptr.astype(out_index_dtype, copy=False),
        (sources.n_sources, n_columns),
    )


def _entries_by_node(
    targets: Sources, n_nodes: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Target entries grouped by node, CSR style: (offsets, target ids, costs)."""
    order = np.argsort(targets.entry_node, kind="stable")
    ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(targets.entry_node, minlength=n_nodes), out=ptr[1:])
    return ptr, targets.entry_source[order], targets.entry_cost[order]


def _thread_count(n_threads: int | None) -> int:
    """Threads to use: ``n_threads`` or the CPUs available to this process."""
    if n_threads is None:
        return (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else (os.cpu_count() or 1)
        )
    if n_threads < 1:
        raise InputDataError(f"n_threads must be >= 1, got {n_threads!r}")
    return int(n_threads)


def _chunk_bounds(n_sources: int, n_threads: int) -> list[tuple[int, int]]:
    """Split ``range(n_sources)`` into contiguous chunks for the threads."""
    n_chunks = max(1, min(n_sources, n_threads * _CHUNKS_PER_THREAD))
    edges = np.linspace(0, n_sources, n_chunks + 1).round().astype(np.int64)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]
