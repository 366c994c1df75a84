"""Thread pools of the engine: chunks with progress ticks, and the parallel nearest search.

Private to :mod:`accessmap.routing.engine`; like the engine, it imports nothing of
accessmap's but its errors.  Ticks are always called on the calling thread, between
chunks (never inside a compiled kernel), so a tick that raises (cancellation) stops the
work after the chunks already running and propagates unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import TypeVar

import numpy as np
import scipy.sparse
from numpy.typing import NDArray

from accessmap.routing._kernels import compile_kernels, nearest_part
from accessmap.routing._sources import Sources

__all__: list[str] = []

logger = logging.getLogger(__name__)


_INT32_MAX = np.iinfo(np.int32).max


_PARALLEL_MAX_PARTS = 4  # each part holds a time and a label per node and is checked per node


_Item = TypeVar("_Item")


_Result = TypeVar("_Result")


#: A progress callback: fraction of the call done (0-1) and a message; may raise.
TickFn = Callable[[float, str], None]


def run_chunks(
    work: Callable[[_Item], _Result],
    items: Sequence[_Item],
    n_threads: int,
    *,
    tick: TickFn | None,
    what: str,
) -> list[_Result]:
    """``[work(item) for item in items]`` on up to ``n_threads`` threads, ticking per item.

    The results keep the order of ``items``.  ``tick`` gets ``done / len(items)`` after
    each finished item (so the last tick is 1.0) on the calling thread; when it raises,
    items not yet started are cancelled and the exception propagates.  An exception in
    ``work`` propagates the same way.
    """
    n = len(items)
    if n_threads <= 1 or n <= 1:
        results = []
        for done, item in enumerate(items, start=1):
            results.append(work(item))
            if tick is not None:
                tick(done / n, f"{what}: {done} of {n}")
        return results
    with ThreadPoolExecutor(max_workers=min(n_threads, n)) as pool:
        futures: list[Future[_Result]] = [pool.submit(work, item) for item in items]
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                future.result()  # re-raises an error of the worker here
                if tick is not None:
                    tick(done / n, f"{what}: {done} of {n}")
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return [future.result() for future in futures]


def nearest_parallel(
    graph: scipy.sparse.csr_array, sources: Sources, n_threads: int, *, tick: TickFn | None
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """:func:`~accessmap.routing.engine.nearest_source` with one compiled, pruned
    Dijkstra per part of the sources (see there)."""
    n_nodes = graph.shape[0]
    parts = source_parts(sources, min(n_threads, _PARALLEL_MAX_PARTS))
    label_dtype = np.int32 if sources.n_sources <= _INT32_MAX else np.int64
    time = np.full((len(parts), n_nodes), np.inf)
    label = np.full((len(parts), n_nodes), -1, dtype=label_dtype)
    compile_kernels()

    def run(part: int) -> None:
        chosen = parts[part]
        nearest_part(  # type: ignore[no-untyped-call]  # a numba kernel (see _kernels)
            graph.indptr, graph.indices, graph.data, sources.entry_node[chosen],
            sources.entry_cost[chosen], sources.entry_source[chosen].astype(label_dtype),
            time, label, part)

    run_chunks(run, range(len(parts)), len(parts), tick=tick, what="nearest source parts")
    logger.debug("nearest_source: %d sources in %d parts", sources.n_sources, len(parts))
    best = np.argmin(time, axis=0)  # the first part wins ties, as in the pruning rule
    nodes = np.arange(n_nodes)
    return time[best, nodes], label[best, nodes].astype(np.int64)


def source_parts(sources: Sources, n_parts: int) -> list[NDArray[np.int64]]:
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
