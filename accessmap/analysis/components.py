"""Connected road pieces and the people on pieces without a facility."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from accessmap.routing.network import RoadNetwork
from accessmap.routing.travel_times import NO_ROUTE

if TYPE_CHECKING:
    from accessmap.routing.travel_times import Access

__all__ = ["component_report", "no_route_breakdown"]

logger = logging.getLogger(__name__)


def component_report(
    network: RoadNetwork, access: Access, population: NDArray[np.float64]
) -> dict[str, Any]:
    """Summarise disconnected pieces of the network for ``summary.json``.

    Parameters
    ----------
    network
        The routable network.
    access
        Result of :func:`accessmap.catchments.nearest_facility_times` (its snaps).
    population
        People per demand point, aligned with ``access.point_snap``.

    Returns
    -------
    dict
        ``components`` (count of weakly connected pieces), ``largest_share_of_nodes``,
        ``population_on_pieces_without_facility`` (people snapped onto a piece that no
        facility is snapped onto) and ``facilities_on_minor_pieces`` (facilities snapped
        onto any piece but the largest).
    """
    piece = network.component
    n_pieces = int(piece.max()) + 1 if piece.size else 0
    fac = access.facility_snap
    fac_piece = piece[network.seg_u[fac.segment[fac.on_network]]]
    served = np.zeros(n_pieces, dtype=bool)
    served[fac_piece] = True
    pts = access.point_snap
    pop = np.asarray(population, dtype=np.float64)
    on = pts.on_network
    point_piece = piece[network.seg_u[pts.segment[on]]]
    stranded = float(pop[on][~served[point_piece]].sum())
    largest = float(np.bincount(piece).max()) / piece.size if piece.size else 0.0
    report = {
        "components": n_pieces,
        "largest_share_of_nodes": round(largest, 4),
        "population_on_pieces_without_facility": round(stranded, 1),
        "facilities_on_minor_pieces": int((fac_piece != 0).sum()),
    }
    logger.info("network pieces: %s", report)
    return report


def no_route_breakdown(
    network: RoadNetwork, access: Access, population: NDArray[np.float64]
) -> dict[str, float]:
    """Split the people with no route by cause, for the data-quality annex.

    Parameters
    ----------
    network
        The routable network.
    access
        Result of :func:`~accessmap.routing.travel_times.nearest_facility_times`.
    population
        People per demand point, aligned with ``access``.

    Returns
    -------
    dict
        ``pieces_without_facility`` (people with no route on a road piece no facility is
        snapped onto), ``one_way_dead_ends`` (people with no route on a piece that has a
        facility: one-way roads block them, and no road leading to a facility is within
        the snap distance) and ``moved_to_reachable_road`` (people whose nearest road
        cannot reach the core of its piece and whose trip enters at the nearest road
        that can, being quicker; counted as reached).
    """
    pop = np.asarray(population, dtype=np.float64)
    piece = network.component
    n_pieces = int(piece.max()) + 1 if piece.size else 0
    fac = access.facility_snap
    served = np.zeros(n_pieces, dtype=bool)
    served[piece[network.seg_u[fac.segment[fac.on_network]]]] = True
    stuck = np.flatnonzero(access.status == NO_ROUTE)
    stuck_piece = piece[network.seg_u[access.point_snap.segment[stuck]]]
    on_served = served[stuck_piece]
    return {
        "pieces_without_facility": round(float(pop[stuck[~on_served]].sum()), 1),
        "one_way_dead_ends": round(float(pop[stuck[on_served]].sum()), 1),
        "moved_to_reachable_road": round(float(pop[access.moved_points].sum()), 1),
    }
