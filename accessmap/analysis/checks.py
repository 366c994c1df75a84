"""Checks on a finished travel-time computation: is the run meaningful, and is it fair?

Two pure functions, called by the pipeline right after the travel times:

* :func:`far_facilities` warns about facilities whose walk to the nearest road is long
  (their off-road leg can dominate every trip to them);
* :func:`check_run` refuses a run in which nobody reaches any facility and warns loudly
  when nobody is covered, nearly everyone is unreachable, every facility sits on a small
  cut-off piece of the network, or too many people are off the network.  Each message
  says what to check.

Both log and issue :class:`~accessmap.errors.DataQualityWarning` (``stacklevel=2``), and
return what they found so that the run record can carry it.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accessmap.errors import DataQualityWarning, NetworkError
from accessmap.routing.network import RoadNetwork
from accessmap.routing.travel_times import NO_ROUTE, OFF_NETWORK, REACHED, Access

__all__ = ["check_run", "far_facilities"]

logger = logging.getLogger(__name__)


#: Facilities listed by name in one warning (the rest are counted).
_SHOWN = 5


def _warn(message: str) -> None:
    logger.warning("%s", message)
    warnings.warn(message, DataQualityWarning, stacklevel=3)


def far_facilities(
    access: Access, names: Sequence[str], *, max_distance_m: float = 500.0
) -> pd.DataFrame:
    """Facilities farther than ``max_distance_m`` from the road they were snapped to.

    Parameters
    ----------
    access
        The run's travel times (its ``facility_snap``).
    names
        Facility names, aligned with the facilities of ``access``.
    max_distance_m
        Largest walk from a facility to its road before it is reported (metres).

    Returns
    -------
    pandas.DataFrame
        ``facility`` (index), ``name`` and ``distance_m``, farthest first; empty when
        every snapped facility is within ``max_distance_m``.  Facilities beyond the snap
        distance (not on the network at all) are not listed: the pipeline reports them.

    Warns
    -----
    DataQualityWarning
        One warning naming the farthest facilities and their distances.

    Examples
    --------
    >>> far = far_facilities(access, facilities["name"], max_distance_m=500)  # doctest: +SKIP
    """
    if not max_distance_m >= 0:
        raise ValueError(f"max_distance_m must be >= 0, not {max_distance_m!r}")
    snap = access.facility_snap
    names = [str(n) for n in names]
    if len(names) != snap.segment.size:
        raise ValueError(f"{len(names)} names for {snap.segment.size} facilities")
    distance = snap.distance_m
    far = np.flatnonzero(snap.on_network & (distance > max_distance_m))
    far = far[np.argsort(-distance[far], kind="stable")]
    table = pd.DataFrame({"facility": far, "name": [names[i] for i in far],
                          "distance_m": np.round(distance[far], 1)})
    if far.size:
        shown = ", ".join(f"{names[i]!r} ({distance[i]:,.0f} m)" for i in far[:_SHOWN])
        more = f" and {far.size - _SHOWN} more" if far.size > _SHOWN else ""
        _warn(f"{far.size} facilit{'y is' if far.size == 1 else 'ies are'} more than "
              f"{max_distance_m:g} m from the nearest usable road: {shown}{more}; their "
              "walk to the road is part of every trip to them: check their coordinates or "
              "add the missing access roads to OpenStreetMap")
    return table


def check_run(
    network: RoadNetwork,
    access: Access,
    population: NDArray[np.float64],
    thresholds_min: Sequence[float],
    *,
    min_reached_share: float = 0.1,
    max_off_network_share: float = 0.2,
    small_piece_share: float = 0.05,
) -> list[str]:
    """Post-conditions that make a run meaningless: refuse or warn, with what to do.

    Parameters
    ----------
    network
        The routable network.
    access
        The run's travel times.
    population
        People per demand point (aligned with ``access``).
    thresholds_min
        The run's travel-time thresholds (minutes).
    min_reached_share
        Warn when fewer than this share of people can reach any facility.
    max_off_network_share
        Warn when more than this share of people are farther than the snap distance
        from any road.
    small_piece_share
        A road piece with less than this share of the network's nodes is *small*; warn
        when every facility that is on the network sits on small pieces.

    Returns
    -------
    list of str
        The warnings issued (empty for a healthy run).

    Raises
    ------
    NetworkError
        Nobody can reach any facility (and there are people): every figure of the run
        would be zero.

    Warns
    -----
    DataQualityWarning
        One per problem found.
    """
    pop = np.asarray(population, dtype=np.float64)
    total = float(pop.sum())
    if total <= 0 or pop.size == 0:
        return []
    status = access.status
    reached = float(pop[status == REACHED].sum())
    off = float(pop[status == OFF_NETWORK].sum())
    no_route = float(pop[status == NO_ROUTE].sum())
    if reached == 0:
        raise NetworkError(
            f"nobody can reach a facility: of {total:,.0f} people {off:,.0f} are farther "
            f"than the snap distance ({network.profile.max_snap_m:g} m) from a road and "
            f"{no_route:,.0f} are on roads that lead to no facility; check that the road "
            "extract, the population and the facilities cover the same area and that the "
            "travel mode can use the roads")
    found: list[str] = []
    top = max(thresholds_min) if len(thresholds_min) else np.inf
    covered = float(pop[access.time_s <= top * 60].sum())
    if covered == 0:
        found.append(
            f"nobody is within {top:g} min of a facility ({reached:,.0f} people reach one, "
            "all later); check the speeds and thresholds, or whether the facilities are "
            "the ones meant")
    if reached / total < min_reached_share:
        found.append(
            f"only {reached / total:.1%} of the people can reach any facility "
            f"({off / total:.1%} off the network, {no_route / total:.1%} on roads leading "
            "to no facility); check that the extract covers the study area and that the "
            "facilities lie on its roads")
    if off / total > max_off_network_share:
        found.append(
            f"{off / total:.1%} of the people are farther than "
            f"{network.profile.max_snap_m:g} m from any usable road (more than "
            f"{max_off_network_share:.0%}); is the road extract complete for the study "
            "area, or should max_snap_m be larger?")
    piece_message = _facilities_on_small_pieces(network, access, small_piece_share)
    if piece_message:
        found.append(piece_message)
    for message in found:
        _warn(message)
    return found


def _facilities_on_small_pieces(network: RoadNetwork, access: Access, share: float
                                ) -> str | None:
    """A message when every snapped facility sits on a piece with < ``share`` of nodes."""
    snap = access.facility_snap
    on = snap.on_network
    if not on.any() or network.n_nodes == 0:
        return None
    piece = network.component
    size = np.bincount(piece) / piece.size
    fac_piece = piece[network.seg_u[snap.segment[on]]]
    if size[fac_piece].max() >= share:
        return None
    return (f"every facility on the network is on a small cut-off road piece (the largest "
            f"holds {size[fac_piece].max():.1%} of the road nodes, the main piece "
            f"{size.max():.1%}); check the facility coordinates and the roads joining "
            "their piece to the rest")
