"""Compiled (numba) kernels of :mod:`accessmap.engine`: arrays in, arrays out.

Private to the engine.  Every kernel is plain Python decorated with
:func:`jit`, which compiles it on first use (numba is imported then, not when
accessmap is imported).  Kernels call each other by their module-level names,
so callers must go through this module's attributes
(``_kernels.bounded_chunk(...)``), which :func:`compile_kernels` replaces with
the compiled dispatchers.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

__all__ = ["bounded_chunk", "compile_kernels", "jit", "nearest_part"]

RADIX_BITS = 11  # digit size of the radix sort of output rows


RADIX = 1 << RADIX_BITS


SHORT_ROW = 64  # rows shorter than this are insertion-sorted


_Kernel = TypeVar("_Kernel", bound=Callable[..., Any])


_REGISTERED: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {}


_LOCK = threading.Lock()


def jit(**options: Any) -> Callable[[_Kernel], _Kernel]:
    """``numba.njit(**options)``, applied on first use instead of at import.

    Importing numba costs about 90 MB and 0.3 s, which jobs that never call
    :func:`accessmap.engine.bounded_times` should not pay.  The decorated function is replaced
    by a stub; the first call of any kernel compiles (or loads from numba's
    on-disk cache, ``cache=True``) all of them into this module's globals, so
    kernels calling each other see compiled functions.
    """

    def register(func: _Kernel) -> _Kernel:
        _REGISTERED[func.__name__] = (func, options)

        @functools.wraps(func)
        def first_call(*args: Any) -> Any:
            compile_kernels()
            return globals()[func.__name__](*args)

        return first_call  # type: ignore[return-value]

    return register


def compile_kernels() -> None:
    """Install the numba dispatchers of every :func:`jit` kernel (once, thread-safe)."""
    with _LOCK:
        if not _REGISTERED:
            return
        import numba

        for name, (func, options) in _REGISTERED.items():
            globals()[name] = numba.njit(**options)(func)
        _REGISTERED.clear()


@jit(cache=True, nogil=True)
def bounded_chunk(  # type: ignore[no-untyped-def]
    indptr, indices, weights, src_ptr, entry_node, entry_cost, first, last, limit,
    node_ptr, node_target, node_cost, n_columns,
):
    """Bounded Dijkstra for sources ``first:last``; returns counts, columns, times.

    Columns are nodes, or with ``node_ptr`` non-empty, targets attached to nodes
    (``node_target[node_ptr[v]:node_ptr[v + 1]]`` at extra ``node_cost``), each
    kept at its best time ``<= limit``.  Workspaces are allocated once per chunk
    and reset sparsely: only what a source touched is set back to ``inf``.
    """
    n_nodes = indptr.size - 1
    dist = np.full(n_nodes, np.inf)
    touched = np.empty(n_nodes, dtype=indices.dtype)
    capacity = indices.size + entry_node.size + 1
    heap_key = np.empty(capacity, dtype=np.float64)
    heap_node = np.empty(capacity, dtype=indices.dtype)
    project = node_ptr.size > 0
    best = np.full(n_columns if project else 0, np.inf)
    hit = np.empty(n_columns if project else 0, dtype=indices.dtype)
    sort_buffer = np.empty(n_columns, dtype=indices.dtype)
    column_bits = bit_length(n_columns - 1)
    counts = np.zeros(last - first, dtype=np.int64)
    out_col = np.empty(4096, dtype=indices.dtype)
    out_time = np.empty(4096, dtype=np.float64)
    n_out = 0
    for s in range(first, last):
        n_touched = bounded_search(indptr, indices, weights, entry_node[src_ptr[s]:src_ptr[s + 1]],
                            entry_cost[src_ptr[s]:src_ptr[s + 1]], limit, dist, touched,
                            heap_key, heap_node)
        if project:
            columns = hit
            n_columns_hit = project_to_targets(touched, n_touched, dist, limit, node_ptr,
                                               node_target, node_cost, best, hit)
            values = best
        else:
            columns = touched
            n_columns_hit = n_touched
            values = dist
        if n_out + n_columns_hit > out_col.size:
            out_col = grow(out_col, n_out, max(2 * out_col.size, n_out + n_columns_hit))
            out_time = grow(out_time, n_out, out_col.size)
        sort_nodes(columns[:n_columns_hit], sort_buffer, column_bits)
        for i in range(n_columns_hit):
            c = columns[i]
            out_col[n_out + i] = c
            out_time[n_out + i] = values[c]
            values[c] = np.inf
        for i in range(n_touched):
            dist[touched[i]] = np.inf
        n_out += n_columns_hit
        counts[s - first] = n_columns_hit
    return counts, out_col[:n_out].copy(), out_time[:n_out].copy()


@jit(cache=True, nogil=True)
def bounded_search(  # type: ignore[no-untyped-def]
    indptr, indices, weights, entry_node, entry_cost, limit, dist, touched, heap_key, heap_node
):
    """One bounded Dijkstra from weighted entries; fills ``dist``, returns nodes touched.

    The heap is a lazy-deletion binary heap (stale items are skipped when
    popped).  A node is pushed only when its time strictly improves, that is at
    most once per entry and once per edge, so ``nnz + n_entries`` bounds the
    heap: its arrays are allocated at that size by the caller and never grow.
    """
    n_touched = 0
    size = 0
    for e in range(entry_node.size):
        v = entry_node[e]
        c = entry_cost[e]
        if c <= limit and c < dist[v]:
            if dist[v] == np.inf:
                touched[n_touched] = v
                n_touched += 1
            dist[v] = c
            heap_push(heap_key, heap_node, size, c, v)
            size += 1
    while size > 0:
        d = heap_key[0]
        u = heap_node[0]
        size -= 1
        heap_pop(heap_key, heap_node, size)
        if d > dist[u]:
            continue
        for p in range(indptr[u], indptr[u + 1]):
            v = indices[p]
            nd = d + weights[p]
            if nd <= limit and nd < dist[v]:
                if dist[v] == np.inf:
                    touched[n_touched] = v
                    n_touched += 1
                dist[v] = nd
                heap_push(heap_key, heap_node, size, nd, v)
                size += 1
    return n_touched


@jit(cache=True, nogil=True)
def nearest_part(  # type: ignore[no-untyped-def]
    indptr, indices, weights, entry_node, entry_cost, entry_label, time, label, part
):
    """Multi-source Dijkstra of one part; fills ``time[part]`` and ``label[part]``.

    A settled node is not expanded when another part already holds a smaller
    time for it, or the same time with a lower part number.  Other parts'
    rows are read while they are being written: a value read is always the
    length of a real path and never below that part's final time, so a stale
    read only means less pruning.  Whatever path is shortest, the lowest part
    holding the final minimum at each of its nodes expands that node, so the
    minimum over parts is exact.  Lazy-deletion binary heap, grown on demand.
    """
    own = time[part]
    own_label = label[part]
    heap_key = np.empty(4096, dtype=np.float64)
    heap_node = np.empty(4096, dtype=indices.dtype)
    size = 0
    for e in range(entry_node.size):
        v = entry_node[e]
        c = entry_cost[e]
        if c < own[v]:
            own[v] = c
            own_label[v] = entry_label[e]
            heap_key, heap_node = push_growing(heap_key, heap_node, size, c, v)
            size += 1
    while size > 0:
        d = heap_key[0]
        u = heap_node[0]
        size -= 1
        heap_pop(heap_key, heap_node, size)
        if d > own[u] or nearer_elsewhere(time, u, d, part):
            continue
        lu = own_label[u]
        for p in range(indptr[u], indptr[u + 1]):
            v = indices[p]
            nd = d + weights[p]
            if nd < own[v]:
                own[v] = nd
                own_label[v] = lu
                heap_key, heap_node = push_growing(heap_key, heap_node, size, nd, v)
                size += 1


@jit(cache=True, nogil=True, inline="always")
def nearer_elsewhere(time, node, d, part):  # type: ignore[no-untyped-def]
    """Whether another part holds ``node`` sooner than ``d`` (or as soon, with a lower number)."""
    for other in range(time.shape[0]):
        if other != part:
            t = time[other, node]
            if t < d or (t == d and other < part):
                return True
    return False


@jit(cache=True, nogil=True)
def project_to_targets(  # type: ignore[no-untyped-def]
    touched, n_touched, dist, limit, node_ptr, node_target, node_cost, best, hit
):
    """Carry node times on to attached targets; fills ``best``, returns targets hit."""
    n_hit = 0
    for i in range(n_touched):
        v = touched[i]
        for p in range(node_ptr[v], node_ptr[v + 1]):
            t = dist[v] + node_cost[p]
            if t <= limit:
                target = node_target[p]
                if best[target] == np.inf:
                    hit[n_hit] = target
                    n_hit += 1
                if t < best[target]:
                    best[target] = t
    return n_hit


@jit(cache=True, nogil=True)
def bit_length(value):  # type: ignore[no-untyped-def]
    """Number of bits needed to write the non-negative integer ``value``."""
    bits = 0
    while value > 0:
        value >>= 1
        bits += 1
    return bits


@jit(cache=True, nogil=True)
def sort_nodes(nodes, buffer, bits):  # type: ignore[no-untyped-def]
    """Sort non-negative node ids ``< 2**bits`` in place.

    LSD radix sort on 11-bit digits (two passes for up to 4M nodes), about
    ten times faster than a comparison sort on catchment-sized rows;
    insertion sort for short rows.  ``buffer`` is scratch space at least as
    long as ``nodes``.
    """
    size = nodes.size
    if size < SHORT_ROW:
        for i in range(1, size):
            x = nodes[i]
            j = i - 1
            while j >= 0 and nodes[j] > x:
                nodes[j + 1] = nodes[j]
                j -= 1
            nodes[j + 1] = x
        return
    count = np.empty(RADIX, dtype=np.int64)
    src = nodes
    dst = buffer[:size]
    shift = 0
    n_passes = 0
    while shift < bits:
        count[:] = 0
        for i in range(size):
            count[(src[i] >> shift) & (RADIX - 1)] += 1
        total = 0
        for digit in range(RADIX):
            n_digit = count[digit]
            count[digit] = total
            total += n_digit
        for i in range(size):
            x = src[i]
            digit = (x >> shift) & (RADIX - 1)
            dst[count[digit]] = x
            count[digit] += 1
        src, dst = dst, src
        shift += RADIX_BITS
        n_passes += 1
    if n_passes % 2 == 1:
        nodes[:] = src


@jit(cache=True, nogil=True)
def grow(arr, used, capacity):  # type: ignore[no-untyped-def]
    """Copy the first ``used`` items of ``arr`` into a new array of ``capacity``."""
    out = np.empty(capacity, dtype=arr.dtype)
    out[:used] = arr[:used]
    return out


@jit(cache=True, nogil=True, inline="always")
def push_growing(heap_key, heap_node, size, key, node):  # type: ignore[no-untyped-def]
    """:func:`heap_push`, first doubling the heap arrays if full; returns the arrays."""
    if size == heap_key.size:
        heap_key = grow(heap_key, size, 2 * size)
        heap_node = grow(heap_node, size, 2 * size)
    heap_push(heap_key, heap_node, size, key, node)
    return heap_key, heap_node


@jit(cache=True, nogil=True, inline="always")
def heap_push(heap_key, heap_node, size, key, node):  # type: ignore[no-untyped-def]
    """Push ``(key, node)`` onto a heap of ``size`` items (capacity is the caller's)."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if heap_key[parent] <= key:
            break
        heap_key[i] = heap_key[parent]
        heap_node[i] = heap_node[parent]
        i = parent
    heap_key[i] = key
    heap_node[i] = node


@jit(cache=True, nogil=True, inline="always")
def heap_pop(heap_key, heap_node, size):  # type: ignore[no-untyped-def]
    """Remove the root of a heap whose new size is ``size`` (last item at ``size``)."""
    key = heap_key[size]
    node = heap_node[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and heap_key[child + 1] < heap_key[child]:
            child += 1
        if heap_key[child] >= key:
            break
        heap_key[i] = heap_key[child]
        heap_node[i] = heap_node[child]
        i = child
    heap_key[i] = key
    heap_node[i] = node
