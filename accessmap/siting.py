"""Site selection: where new sites would bring the most underserved people within reach.

Candidates are network nodes near underserved demand, thinned to a minimum spacing.  A
candidate *covers* a demand point when the point's trip to the candidate (off-road leg
plus network time, searched over the reversed graph) is within the threshold.  The
coverage matrix is sparse (candidates x demand points); sites are then chosen greedily,
each adding the most newly covered people (the maximal-covering greedy, within
(1 - 1/e) of the optimum).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse
from numpy.typing import NDArray

from accessmap import engine
from accessmap._errors import InputDataError
from accessmap.network import RoadNetwork, Snap, entry_points

logger = logging.getLogger(__name__)

SATELLITE_CLINIC = "satellite_clinic"
MOBILE_UNIT_STOP = "mobile_unit_stop"


@dataclass(frozen=True, eq=False)
class CoverageMatrix:
    """Which demand points each candidate reaches within the threshold.

    ``matrix[c, p]`` is True when candidate ``c`` covers demand point ``demand[p]``.
    """

    candidates: NDArray[np.int64]
    demand: NDArray[np.int64]
    matrix: scipy.sparse.csr_array


def candidate_nodes(
    network: RoadNetwork,
    point_snap: Snap,
    needy: NDArray[np.bool_],
    *,
    spacing_m: float,
) -> NDArray[np.int64]:
    """Network nodes at the ends of segments that underserved points snap to, thinned.

    Thinning keeps at most one node per ``spacing_m`` square cell (the first in node
    order), so candidates are roughly ``spacing_m`` apart.

    Parameters
    ----------
    network
        Road network.
    point_snap
        Snap of all demand points.
    needy
        True for demand points that need better access.
    spacing_m
        Minimum spacing of candidates in metres.
    """
    seg = point_snap.segment[needy & point_snap.on_network]
    nodes = np.unique(np.concatenate([network.seg_u[seg], network.seg_v[seg]]))
    if nodes.size == 0:
        return nodes.astype(np.int64)
    cell_x = np.floor(network.node_x[nodes] / spacing_m).astype(np.int64)
    cell_y = np.floor(network.node_y[nodes] / spacing_m).astype(np.int64)
    _, first = np.unique(np.column_stack([cell_x, cell_y]), axis=0, return_index=True)
    return np.sort(nodes[first]).astype(np.int64)


def coverage_matrix(
    network: RoadNetwork,
    candidates: NDArray[np.int64],
    point_snap: Snap,
    demand: NDArray[np.int64],
    threshold_s: float,
) -> CoverageMatrix:
    """Build the sparse candidates x demand coverage matrix.

    Parameters
    ----------
    network
        Road network.
    candidates
        Candidate node indices.
    point_snap
        Snap of all demand points.
    demand
        Indices of the demand points to consider.
    threshold_s
        Travel-time threshold in seconds.
    """
    times = engine.bounded_times(
        network.graph_to, engine.Sources.at_nodes(candidates), float(threshold_s)
    )
    sub = Snap(point_snap.segment[demand], point_snap.fraction[demand],
               point_snap.distance_m[demand])
    point, node, cost = entry_points(network, sub, towards_network=True)
    # node -> its entries (demand point, cost), as CSR arrays
    order = np.argsort(node, kind="stable")
    node_ptr = np.zeros(network.n_nodes + 1, dtype=np.int64)
    np.add.at(node_ptr, node + 1, 1)
    node_ptr = np.cumsum(node_ptr)
    entry_point, entry_cost = point[order], cost[order]
    rows = np.repeat(np.arange(times.shape[0]), np.diff(times.indptr))
    reached_node = times.indices.astype(np.int64)
    reached_time = times.data
    counts = node_ptr[reached_node + 1] - node_ptr[reached_node]
    cand = np.repeat(rows, counts)
    start = np.repeat(node_ptr[reached_node], counts)
    offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    entry = start + offset
    total = np.repeat(reached_time, counts) + entry_cost[entry]
    ok = total <= threshold_s
    matrix = scipy.sparse.csr_array(
        (np.ones(int(ok.sum()), dtype=bool), (cand[ok], entry_point[entry[ok]])),
        shape=(candidates.size, demand.size),
    )
    matrix.sum_duplicates()
    matrix.data[:] = True
    logger.info("coverage matrix: %d candidates x %d demand points, %d links",
                candidates.size, demand.size, matrix.nnz)
    return CoverageMatrix(candidates=candidates, demand=demand, matrix=matrix)


def greedy_sites(
    cover: CoverageMatrix,
    weights: NDArray[np.float64],
    k: int,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Choose up to ``k`` sites greedily by newly covered weight.

    Parameters
    ----------
    cover
        Coverage matrix.
    weights
        Weight (population) per column of ``cover.matrix``.
    k
        Number of sites.
    progress
        Called with (sites chosen, k).

    Returns
    -------
    pandas.DataFrame
        ``rank`` (1..), ``candidate`` (row in the matrix), ``node``, ``added_population``;
        stops early when no candidate adds anyone.

    Raises
    ------
    InputDataError
        ``k`` is negative.
    """
    if k < 0:
        raise InputDataError(f"number of new sites is {k}; it must be >= 0")
    matrix = cover.matrix.astype(np.float64).tocsr()
    remaining = np.asarray(weights, dtype=np.float64).copy()
    rows = []
    for rank in range(1, k + 1):
        gains = matrix @ remaining
        if gains.size == 0 or gains.max() <= 0:
            logger.info("greedy: no candidate adds anyone after %d sites", rank - 1)
            break
        best = int(np.argmax(gains))
        rows.append({"rank": rank, "candidate": best, "node": int(cover.candidates[best]),
                     "added_population": float(gains[best])})
        covered = matrix.indices[matrix.indptr[best]: matrix.indptr[best + 1]]
        remaining[covered] = 0.0
        if progress:
            progress(rank, k)
    return pd.DataFrame(rows, columns=["rank", "candidate", "node", "added_population"])


def site_kind(added_population: float, satellite_min_population: float) -> str:
    """``satellite_clinic`` when a site serves enough people for a fixed clinic."""
    return SATELLITE_CLINIC if added_population >= satellite_min_population else MOBILE_UNIT_STOP
