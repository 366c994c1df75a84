"""Compiled (numba) kernel of the off-road cost-distance: arrays in, arrays out.

Private to :mod:`accessmap.routing.offroad`; imports nothing of ours.  The kernel is
compiled on first use through :func:`accessmap.routing._kernels.jit`'s mechanism
re-implemented here in a few lines (numba is imported then, not with accessmap).

The search is a multi-source Dijkstra over the cells of a grid with an indexed binary
heap (one slot per cell, decrease-key), so memory stays ``O(cells)`` whatever the
number of neighbours.  It runs from the road cells outward; the cost of the step
``w -> u`` (the direction people travel, from a home towards the road) is used when the
search, standing on ``u``, reaches ``w``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["NEIGHBOUR_OFFSETS", "grid_search", "tobler_factor"]

#: Exponent and offset of Tobler's hiking function v = 6 exp(-3.5 |s + 0.05|) km/h.
TOBLER_A, TOBLER_B = 3.5, 0.05


def _offsets(n: int) -> NDArray[np.int64]:
    """Moves ``(di, dj, a_di, a_dj, b_di, b_dj, rule)`` of an ``n``-neighbour search.

    ``a`` and ``b`` are the cells a move crosses; ``rule`` 0: none, 1: blocked when
    both are impassable (a diagonal may pass a corner), 2: blocked when either is
    (a knight's move crosses both cells).
    """
    rows = []
    for di in (-2, -1, 0, 1, 2):
        for dj in (-2, -1, 0, 1, 2):
            if (di, dj) == (0, 0):
                continue
            if abs(di) <= 1 and abs(dj) <= 1:
                if di == 0 or dj == 0:
                    rows.append((di, dj, 0, 0, 0, 0, 0))
                else:
                    rows.append((di, dj, di, 0, 0, dj, 1))
            elif n == 16 and {abs(di), abs(dj)} == {1, 2}:
                # The straight line crosses the two cells between the ends.
                if abs(di) == 2:
                    a, b = (di // 2, 0), (di // 2, dj)
                else:
                    a, b = (0, dj // 2), (di, dj // 2)
                rows.append((di, dj, *a, *b, 2))
    return np.array(rows, dtype=np.int64)


#: Moves of the 8- and 16-neighbour searches.
NEIGHBOUR_OFFSETS = {8: _offsets(8), 16: _offsets(16)}


def tobler_factor(slope: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """Tobler's speed at ``slope`` (rise over run) relative to his speed on the flat."""
    return np.asarray(np.exp(-TOBLER_A * (np.abs(np.asarray(slope) + TOBLER_B) - TOBLER_B)))


_LOCK = threading.Lock()
_COMPILED: dict[str, Callable[..., Any]] = {}


def _compiled(name: str) -> Callable[..., Any]:
    """The numba dispatcher of kernel ``name`` (all compiled on first use)."""
    with _LOCK:
        if not _COMPILED:
            import numba

            for func in (_push, _sift_down, _seed, _settle):  # callees first
                _COMPILED[func.__name__] = numba.njit(cache=True, nogil=True)(func)
                globals()[func.__name__] = _COMPILED[func.__name__]
        return _COMPILED[name]


def grid_search(
    cell_x: NDArray[np.float64], cell_y: NDArray[np.float64],
    inv_speed: NDArray[np.float64], passable: NDArray[np.bool_],
    elevation: NDArray[np.float64], max_slope: float,
    seed_time: NDArray[np.float64], seed_label: NDArray[np.int64],
    neighbours: int, *, step: Callable[[float], None] | None = None,
    budget: int = 1 << 18,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Multi-source Dijkstra over a grid; returns each cell's cost and label.

    Parameters
    ----------
    cell_x, cell_y
        Shape ``(rows, cols)``: cell centres in metres (any projected CRS).
    inv_speed
        Seconds per metre of every cell (a step costs its length times the mean of its
        two cells).
    passable
        False for cells no trip may cross; such a cell is still reached (a trip may
        start there) but never left by the search.
    elevation
        Metres, same shape, or size 0 for none; NaN: no slope on steps touching it.
    max_slope
        Slopes are clamped to ``[-max_slope, max_slope]`` (rise over run).
    seed_time, seed_label
        Start cost and label per cell (``inf``: not a start).
    neighbours : {8, 16}
    step
        Called with the share of cells settled after every ``budget`` settled cells;
        whatever it raises (``Cancelled``) propagates.
    budget
        Cells settled per compiled call.
    """
    rows, cols = cell_x.shape
    n = rows * cols
    dist = np.array(seed_time, dtype=np.float64).ravel()
    label = np.array(seed_label, dtype=np.int64).ravel()
    index = np.int32 if n < 2**31 - 1 else np.int64  # halves the heap on usual grids
    heap = np.empty(n, dtype=index)
    pos = np.full(n, -1, dtype=index)
    done = np.zeros(n, dtype=np.bool_)
    state = np.zeros(2, dtype=np.int64)  # heap size, cells settled
    _compiled("_seed")(dist, heap, pos, state,
                       np.flatnonzero(np.isfinite(dist)).astype(np.int64))
    settle = _compiled("_settle")
    args = (np.ascontiguousarray(cell_x, dtype=np.float64).ravel(),
            np.ascontiguousarray(cell_y, dtype=np.float64).ravel(),
            np.ascontiguousarray(inv_speed, dtype=np.float64).ravel(),
            np.ascontiguousarray(passable, dtype=np.bool_).ravel(),
            np.ascontiguousarray(elevation, dtype=np.float64).ravel(), float(max_slope),
            NEIGHBOUR_OFFSETS[neighbours], rows, cols)
    while state[0] > 0:
        settle(dist, label, heap, pos, done, state, budget, *args)
        if step is not None:
            step(float(state[1]) / n)
    return dist.reshape(rows, cols), label.reshape(rows, cols)


def _seed(dist, heap, pos, state, start):  # type: ignore[no-untyped-def]
    """Push the start cells onto the heap (numba kernel)."""
    for c in start:
        _push(dist, heap, pos, state, c)


def _settle(dist, label, heap, pos, done, state, budget,  # type: ignore[no-untyped-def]
            x, y, inv, passable, z, max_slope, moves, rows, cols):
    """Settle up to ``budget`` cells, relaxing their neighbours (numba kernel)."""
    has_z = z.size > 0
    flat = np.exp(-TOBLER_A * TOBLER_B)
    settled = 0
    while state[0] > 0 and settled < budget:
        u = heap[0]
        state[0] -= 1
        pos[u] = -1
        if state[0] > 0:
            heap[0] = heap[state[0]]
            pos[heap[0]] = 0
            _sift_down(dist, heap, pos, state[0], 0)
        done[u] = True
        settled += 1
        state[1] += 1
        if not passable[u]:
            continue
        ui, uj = u // cols, u % cols
        for k in range(moves.shape[0]):
            wi, wj = ui + moves[k, 0], uj + moves[k, 1]
            if wi < 0 or wi >= rows or wj < 0 or wj >= cols:
                continue
            w = wi * cols + wj
            if done[w]:
                continue
            rule = moves[k, 6]
            if rule > 0:
                a = (ui + moves[k, 2]) * cols + uj + moves[k, 3]
                b = (ui + moves[k, 4]) * cols + uj + moves[k, 5]
                if rule == 1 and not passable[a] and not passable[b]:
                    continue
                if rule == 2 and (not passable[a] or not passable[b]):
                    continue
            dx, dy = x[u] - x[w], y[u] - y[w]
            d = np.sqrt(dx * dx + dy * dy)
            cost = d * 0.5 * (inv[u] + inv[w])
            if has_z and d > 0:
                rise = z[u] - z[w]  # people travel w -> u
                if rise == rise:  # not NaN
                    s = min(max(rise / d, -max_slope), max_slope)
                    cost = cost * flat / np.exp(-TOBLER_A * abs(s + TOBLER_B))
            new = dist[u] + cost
            if new < dist[w]:
                dist[w] = new
                label[w] = label[u]
                _push(dist, heap, pos, state, w)


def _push(dist, heap, pos, state, c):  # type: ignore[no-untyped-def]
    """Insert cell ``c`` or lower its key (sift up)."""
    i = pos[c]
    if i < 0:
        i = state[0]
        state[0] += 1
    key = dist[c]
    while i > 0:
        parent = (i - 1) >> 1
        p = heap[parent]
        if dist[p] <= key:
            break
        heap[i] = p
        pos[p] = i
        i = parent
    heap[i] = c
    pos[c] = i


def _sift_down(dist, heap, pos, size, i):  # type: ignore[no-untyped-def]
    """Restore the heap below slot ``i``."""
    c = heap[i]
    key = dist[c]
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and dist[heap[child + 1]] < dist[heap[child]]:
            child += 1
        if dist[heap[child]] >= key:
            break
        heap[i] = heap[child]
        pos[heap[i]] = i
        i = child
    heap[i] = c
    pos[c] = i
