"""Candidate sites, the coverage matrix and the demand weights of site selection."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse
import scipy.spatial
import shapely
from numpy.typing import NDArray

from accessmap.errors import InputDataError
from accessmap.executors import Executor
from accessmap.progress import Tick
from accessmap.routing.engine import Sources, bounded_times
from accessmap.routing.network import RoadNetwork
from accessmap.routing.snapping import Snap
from accessmap.routing.travel_times import point_targets, source_point_times
from accessmap.siting.models import (
    lazy_greedy,
)

if TYPE_CHECKING:
    pass

__all__ = [
    "CANDIDATE_BATCH", "WEIGHTINGS", "CoverageMatrix", "candidate_nodes", "candidates_from_points",
    "coverage_matrix", "equity_weights", "filter_candidates", "greedy_sites", "point_groups",
]

logger = logging.getLogger(__name__)

WEIGHTINGS = ("population", "travel_time", "group")
#: Candidates per task when the coverage matrix runs on an executor.
CANDIDATE_BATCH = 512


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

    Thinning keeps at most one node per ``spacing_m`` square cell (the one with the
    smallest OSM id, so that the choice does not depend on how nodes are numbered), so
    candidates are roughly ``spacing_m`` apart.

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
    if not spacing_m > 0:
        raise InputDataError(f"candidate spacing {spacing_m!r} must be a positive number "
                             "of metres")
    seg = point_snap.segment[needy & point_snap.on_network]
    nodes = np.unique(np.concatenate([network.seg_u[seg], network.seg_v[seg]]))
    if nodes.size == 0:
        return nodes.astype(np.int64)
    nodes = nodes[np.argsort(network.node_osm_id[nodes], kind="stable")]
    cell_x = np.floor(network.node_x[nodes] / spacing_m).astype(np.int64)
    cell_y = np.floor(network.node_y[nodes] / spacing_m).astype(np.int64)
    _, first = np.unique(np.column_stack([cell_x, cell_y]), axis=0, return_index=True)
    return np.sort(nodes[first]).astype(np.int64)


def candidates_from_points(
    network: RoadNetwork,
    points: gpd.GeoDataFrame,
) -> NDArray[np.int64]:
    """Planner-proposed candidate points, each moved to its nearest network node.

    Points farther than the profile's ``max_snap_m`` from any node are dropped with a
    warning naming their rows (a site must be reachable by road).

    Parameters
    ----------
    network
        Road network.
    points
        Point layer in any CRS (the pipeline reads ``[siting] candidates``).

    Raises
    ------
    InputDataError
        It holds no points.
    """
    source = "candidates"
    frame = points.to_crs("EPSG:4326")
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    if frame.empty:
        raise InputDataError(f"{source}: no candidate points; give a point layer")
    centre = frame.geometry.representative_point()
    x, y = network.project(centre.x.to_numpy(), centre.y.to_numpy())
    tree = scipy.spatial.cKDTree(np.column_stack([network.node_x, network.node_y]))
    dist, node = tree.query(np.column_stack([x, y]),
                            distance_upper_bound=network.profile.max_snap_m)
    far = ~np.isfinite(dist)
    if far.any():
        rows = ", ".join(str(r + 1) for r in np.flatnonzero(far)[:10])
        logger.warning("%s: %d candidate point(s) are farther than %.0f m from any road and "
                       "were dropped (rows %s)", source, int(far.sum()),
                       network.profile.max_snap_m, rows)
    return np.unique(node[~far]).astype(np.int64)


def filter_candidates(
    network: RoadNetwork,
    nodes: NDArray[np.int64],
    *,
    exclusions: gpd.GeoDataFrame | None = None,
    facility_x: NDArray[np.float64] | None = None,
    facility_y: NDArray[np.float64] | None = None,
    min_distance_m: float = 0.0,
) -> NDArray[np.int64]:
    """Remove candidates inside exclusion areas or too close to an existing facility.

    Parameters
    ----------
    network
        Road network.
    nodes
        Candidate nodes.
    exclusions
        Polygons where no site may go (protected areas, flood zones).
    facility_x, facility_y
        Existing facilities in the network CRS (metres).
    min_distance_m
        Straight-line distance a new site keeps from every existing facility.
    """
    nodes = np.asarray(nodes, dtype=np.int64)
    keep = np.ones(nodes.size, dtype=bool)
    if exclusions is not None and nodes.size:
        polygons = exclusions.to_crs(network.crs).geometry
        polygons = polygons[polygons.notna()].to_numpy()
        inside = shapely.STRtree(polygons).query(
            shapely.points(network.node_x[nodes], network.node_y[nodes]),
            predicate="intersects")[0]
        keep[inside] = False
        logger.info("exclusion areas removed %d candidate(s)", int(np.unique(inside).size))
    if min_distance_m > 0 and facility_x is not None and facility_y is not None \
            and len(facility_x):
        tree = scipy.spatial.cKDTree(np.column_stack([facility_x, facility_y]))
        dist, _ = tree.query(np.column_stack([network.node_x[nodes], network.node_y[nodes]]))
        near = dist < min_distance_m
        keep &= ~near
        logger.info("%d candidate(s) closer than %.0f m to a facility removed",
                    int(near.sum()), min_distance_m)
    return nodes[keep]


def coverage_matrix(
    network: RoadNetwork,
    candidates: NDArray[np.int64],
    point_snap: Snap,
    demand: NDArray[np.int64],
    threshold_s: float,
    *,
    tick: Tick | None = None,
    executor: Executor | None = None,
) -> CoverageMatrix:
    """Build the sparse candidates x demand coverage matrix.

    Demand travels *to* the site: one bounded search per candidate over
    :attr:`RoadNetwork.graph_to` gives every node's time to the candidate; a demand point
    is covered when its entry cost (off-road leg and part segment) plus its entry node's
    time is within the threshold, through either end of its segment.

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
    tick
        Progress callback ``tick(fraction, message)``, called after each chunk of
        candidates of the search (last call 1.0); whatever it raises (``Cancelled``)
        propagates.
    executor
        Runs the candidates in batches of :data:`CANDIDATE_BATCH` on its workers (a
        process pool, a Dask cluster; :mod:`accessmap.executors`); the matrix is the
        same.  ``None``: one call of the engine on this process's threads.
    """
    candidates = np.asarray(candidates, dtype=np.int64)
    demand = np.asarray(demand, dtype=np.int64)
    if executor is None or candidates.size <= CANDIDATE_BATCH:
        point_times = source_point_times(
            network, Sources.at_nodes(candidates), point_snap, demand, float(threshold_s),
            tick=tick)
    else:
        point_times = _coverage_by_batches(network, candidates, point_snap, demand,
                                           float(threshold_s), executor, tick=tick)
    matrix = scipy.sparse.csr_array(
        (np.ones(point_times.indices.size, dtype=bool), point_times.indices,
         point_times.indptr),
        shape=point_times.shape,
    )
    logger.info("coverage matrix: %d candidates x %d demand points, %d links",
                candidates.size, demand.size, matrix.nnz)
    return CoverageMatrix(candidates=candidates, demand=demand, matrix=matrix)


@dataclass(frozen=True, eq=False)
class _CoverageShared:
    """What every worker of :func:`_coverage_rows` needs: arrays only."""

    graph_to: scipy.sparse.csr_array
    targets: Sources
    limit_s: float


def _coverage_rows(batch: NDArray[np.int64], shared: _CoverageShared
                   ) -> scipy.sparse.csr_array:
    """Which demand points reach each candidate node of ``batch`` (one thread; boolean
    entries, so that a worker sends back an eighth of the times' bytes)."""
    times = bounded_times(shared.graph_to, Sources.at_nodes(batch), shared.limit_s,
                          targets=shared.targets, n_threads=1)
    return scipy.sparse.csr_array(
        (np.ones(times.indices.size, dtype=bool), times.indices, times.indptr),
        shape=times.shape)


def _coverage_by_batches(network: RoadNetwork, candidates: NDArray[np.int64],
                         point_snap: Snap, demand: NDArray[np.int64], limit_s: float,
                         executor: Executor, *, tick: Tick | None) -> scipy.sparse.csr_array:
    """The links of :func:`source_point_times` of the candidates, batch by batch."""
    shared = _CoverageShared(network.graph_to, point_targets(network, point_snap, demand),
                             limit_s)
    batches = [candidates[i:i + CANDIDATE_BATCH]
               for i in range(0, candidates.size, CANDIDATE_BATCH)]
    logger.info("coverage matrix: %d candidates in %d batches on %s (%d workers)",
                candidates.size, len(batches), executor.name, executor.workers)
    rows = executor.map(_coverage_rows, batches, shared, tick=tick)
    return scipy.sparse.csr_array(scipy.sparse.vstack(rows, format="csr"))


def greedy_sites(
    cover: CoverageMatrix,
    weights: NDArray[np.float64],
    k: int,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Choose up to ``k`` sites greedily (lazy evaluation) by newly covered weight.

    Returns
    -------
    pandas.DataFrame
        ``rank`` (1..), ``candidate`` (row in the matrix), ``node``, ``added_population``
        (newly covered weight); stops early when no candidate adds anyone.

    Raises
    ------
    InputDataError
        ``k`` is negative.
    """
    if k < 0:
        raise InputDataError(f"number of new sites is {k}; it must be >= 0")
    chosen, gains = lazy_greedy(cover.matrix, weights, k, progress=progress)
    return pd.DataFrame({"rank": np.arange(1, chosen.size + 1, dtype=np.int64),
                         "candidate": chosen, "node": cover.candidates[chosen],
                         "added_population": gains})


def equity_weights(
    population: NDArray[np.float64],
    *,
    weighting: str = "population",
    time_s: NDArray[np.float64] | None = None,
    threshold_s: float | None = None,
    time_cap: float = 3.0,
    groups: NDArray[np.object_] | None = None,
    group_weights: Mapping[str, float] | None = None,
) -> NDArray[np.float64]:
    """Objective weight per demand point, so the hardest-to-reach can count more.

    * ``population``: ``w = p``.
    * ``travel_time``: ``w = p * min(t / T, cap)`` with ``t`` the current time to the
      nearest facility, ``T`` the siting threshold; unreachable points get ``cap``.
      Underserved points have ``t > T``, so their factor is between 1 and ``cap``.
    * ``group``: ``w = p * g[group]`` with ``g`` from ``group_weights`` (e.g. poorest
      wealth quintile 2.0); points outside every group polygon or in an unlisted group
      keep factor 1.

    Raises
    ------
    InputDataError
        Unknown weighting, missing inputs for it, or negative factors.
    """
    population = np.asarray(population, dtype=np.float64)
    if weighting not in WEIGHTINGS:
        raise InputDataError(f"weighting {weighting!r} is unknown; use one of "
                             + ", ".join(WEIGHTINGS))
    if weighting == "population":
        return population.copy()
    if weighting == "travel_time":
        if time_s is None or threshold_s is None or not threshold_s > 0:
            raise InputDataError("weighting 'travel_time' needs current travel times and a "
                                 "positive siting threshold")
        if not time_cap >= 1:
            raise InputDataError(f"time_cap {time_cap!r} must be >= 1")
        ratio = np.asarray(time_s, dtype=np.float64) / threshold_s
        factor = np.where(np.isfinite(ratio), np.minimum(ratio, time_cap), time_cap)
        return population * np.maximum(factor, 0.0)
    if groups is None or not group_weights:
        raise InputDataError("weighting 'group' needs group polygons (scenario [inputs] "
                             "groups / group_column) and group_weights, e.g. "
                             "{\"1\" = 2.0, \"2\" = 1.5}")
    bad = {k: v for k, v in group_weights.items() if not float(v) >= 0}
    if bad:
        raise InputDataError(f"group weights must be >= 0; got {bad}")
    lookup = {str(k): float(v) for k, v in group_weights.items()}
    factor = np.array([lookup.get(str(g), 1.0) if g is not None else 1.0 for g in groups])
    return population * factor


def point_groups(
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    polygons: gpd.GeoDataFrame,
    column: str,
) -> NDArray[np.object_]:
    """Group value (as text) of the polygon containing each point; None outside all.

    Raises
    ------
    InputDataError
        ``column`` is not in the polygon layer.
    """
    frame = polygons
    if column not in frame.columns:
        raise InputDataError(f"groups layer has no column {column!r}; columns are "
                             + ", ".join(map(str, frame.columns)))
    frame = frame.to_crs("EPSG:4326")
    geoms = frame.geometry.to_numpy()
    pts = shapely.points(np.asarray(lon, float), np.asarray(lat, float))
    point_i, poly_i = shapely.STRtree(geoms).query(pts, predicate="within")
    out = np.full(pts.size, None, dtype=object)
    values = frame[column].astype(str).to_numpy()
    out[point_i] = values[poly_i]
    return out
