"""Sources as graph entry points, and the node-id checks the engine shares (private).

Split out of :mod:`accessmap.routing.engine`, which re-exports :class:`Sources`; like
the engine, this module imports nothing of accessmap's but its errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from accessmap.errors import InputDataError

__all__ = ["Sources"]


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


def _check_sources(n_nodes: int, sources: Sources) -> None:
    """Raise if ``sources`` is not a :class:`Sources` or enters outside ``[0, n_nodes)``."""
    if not isinstance(sources, Sources):
        raise InputDataError(f"sources must be a Sources, got {type(sources).__name__}")
    _check_node_range(sources.entry_node, n_nodes, "entry_node")


def _entries_by_node(
    targets: Sources, n_nodes: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Target entries grouped by node, CSR style: (offsets, target ids, costs)."""
    order = np.argsort(targets.entry_node, kind="stable")
    ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(targets.entry_node, minlength=n_nodes), out=ptr[1:])
    return ptr, targets.entry_source[order], targets.entry_cost[order]

