"""Coverage instances and the lazy greedy (private; re-exported by ``models``).

:func:`reduce_instance` merges redundant demand columns, :func:`lazy_greedy` is the
greedy maximal covering; :mod:`accessmap.siting.models` builds its models on them.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse
from numpy.typing import NDArray

from accessmap.errors import InputDataError
from accessmap.progress import Tick

__all__ = ["ReducedInstance", "covered_weight", "lazy_greedy", "order_by_gain",
           "reduce_instance"]

logger = logging.getLogger("accessmap.siting.models")


@dataclass(frozen=True, eq=False)
class ReducedInstance:
    """A coverage instance with redundant demand columns merged.

    Attributes
    ----------
    matrix
        Boolean CSR array, candidates x merged demand groups.
    weights
        Objective weight per group (sum over its columns).
    population
        Population per group (sum over its columns).
    group
        Per original column, its group (-1 when no candidate covers it).
    """

    matrix: scipy.sparse.csr_array
    weights: NDArray[np.float64]
    population: NDArray[np.float64]
    group: NDArray[np.int64]

    @property
    def n_candidates(self) -> int:
        """Number of candidates (rows)."""
        return int(self.matrix.shape[0])


def reduce_instance(
    matrix: scipy.sparse.sparray,
    weights: NDArray[np.float64],
    population: NDArray[np.float64] | None = None,
) -> ReducedInstance:
    """Drop uncovered demand columns and merge columns with identical candidate sets.

    Parameters
    ----------
    matrix
        Candidates x demand, truthy where the candidate covers the demand point.
    weights
        Objective weight per demand column.
    population
        Population per demand column (defaults to ``weights``).

    Returns
    -------
    ReducedInstance
    """
    weights = np.asarray(weights, dtype=np.float64)
    population = weights if population is None else np.asarray(population, dtype=np.float64)
    _check_weights(matrix, weights)
    csc = scipy.sparse.csc_array(matrix, dtype=bool)
    csc.sum_duplicates()
    csc.sort_indices()
    group = np.full(csc.shape[1], -1, dtype=np.int64)
    keys: dict[bytes, int] = {}
    indptr, indices = csc.indptr, csc.indices.astype(np.int64)
    for col in np.flatnonzero(np.diff(indptr)):
        key = indices[indptr[col]: indptr[col + 1]].tobytes()
        group[col] = keys.setdefault(key, len(keys))
    used = group >= 0
    n_groups = len(keys)
    group_weights = np.bincount(group[used], weights=weights[used], minlength=n_groups)
    group_pop = np.bincount(group[used], weights=population[used], minlength=n_groups)
    coo = csc.tocoo()
    reduced = scipy.sparse.csr_array(
        (np.ones(coo.nnz, dtype=bool), (coo.row, group[coo.col])),
        shape=(csc.shape[0], n_groups),
    )
    reduced.sum_duplicates()
    reduced.data[:] = True
    logger.info("reduced instance: %d demand columns -> %d groups (%d uncovered dropped)",
                csc.shape[1], n_groups, int((~used).sum()))
    return ReducedInstance(reduced, group_weights.astype(np.float64),
                           group_pop.astype(np.float64), group)


def _check_weights(matrix: scipy.sparse.sparray, weights: NDArray[np.float64]) -> None:
    if weights.shape != (matrix.shape[1],):
        raise InputDataError(
            f"got {weights.size} weights for {matrix.shape[1]} demand columns; give one "
            "weight per demand point"
        )
    if weights.size and not (np.isfinite(weights).all() and weights.min() >= 0):
        raise InputDataError("demand weights must be finite and >= 0 (check the population "
                             "raster nodata value and the equity weights)")


def lazy_greedy(
    matrix: scipy.sparse.sparray,
    weights: NDArray[np.float64],
    k: int,
    *,
    progress: Callable[[int, int], None] | None = None,
    tick: Tick | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Greedy maximal covering with lazy evaluation of the gains.

    Parameters
    ----------
    matrix
        Candidates x demand coverage (truthy = covers).
    weights
        Weight per demand column.
    k
        Number of sites wanted; stops early when no candidate adds any weight.
    progress
        Called with (sites chosen, k) after each choice.
    tick
        Progress callback ``tick(fraction, message)``: ``chosen / k`` after each
        choice, 1.0 at the end; whatever it raises (``Cancelled``) propagates.

    Returns
    -------
    chosen, gains
        Candidate rows in the order chosen, and the weight each newly covered.
    """
    csr = scipy.sparse.csr_array(matrix, dtype=bool)
    weights = np.asarray(weights, dtype=np.float64)
    _check_weights(csr, weights)
    remaining = weights.copy()
    gains0 = csr.astype(np.float64) @ remaining
    heap = [(-float(g), int(c)) for c, g in enumerate(gains0) if g > 0]
    heapq.heapify(heap)
    stamp = np.zeros(csr.shape[0], dtype=np.int64)
    chosen: list[int] = []
    gains: list[float] = []
    while heap and len(chosen) < k:
        neg, cand = heapq.heappop(heap)
        if stamp[cand] == len(chosen):
            cols = csr.indices[csr.indptr[cand]: csr.indptr[cand + 1]]
            chosen.append(cand)
            gains.append(-neg)
            remaining[cols] = 0.0
            if progress:
                progress(len(chosen), k)
            if tick is not None:
                tick(len(chosen) / k, f"greedy: {len(chosen)} of {k} sites")
            continue
        cols = csr.indices[csr.indptr[cand]: csr.indptr[cand + 1]]
        gain = float(remaining[cols].sum())
        stamp[cand] = len(chosen)
        if gain > 0:
            heapq.heappush(heap, (-gain, cand))
    if tick is not None:
        tick(1.0, f"greedy: {len(chosen)} sites")
    return np.asarray(chosen, dtype=np.int64), np.asarray(gains, dtype=np.float64)


def covered_weight(
    matrix: scipy.sparse.sparray, weights: NDArray[np.float64], chosen: NDArray[np.int64]
) -> float:
    """Total weight of the demand columns covered by at least one chosen candidate."""
    csr = scipy.sparse.csr_array(matrix, dtype=bool)
    hit = np.zeros(csr.shape[1], dtype=bool)
    for cand in np.asarray(chosen, dtype=np.int64):
        hit[csr.indices[csr.indptr[cand]: csr.indptr[cand + 1]]] = True
    return float(np.asarray(weights, dtype=np.float64)[hit].sum())


def order_by_gain(
    matrix: scipy.sparse.sparray, weights: NDArray[np.float64], chosen: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Rank a fixed set of sites: each next site is the one adding the most weight."""
    chosen = np.asarray(chosen, dtype=np.int64)
    sub = scipy.sparse.csr_array(matrix, dtype=bool)[chosen]
    order, gains = lazy_greedy(sub, weights, chosen.size)
    rest = np.setdiff1d(np.arange(chosen.size), order)  # sites adding nothing go last
    return (np.concatenate([chosen[order], chosen[rest]]),
            np.concatenate([gains, np.zeros(rest.size)]))
