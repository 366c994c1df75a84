"""Coverage statistics: who is within each travel-time threshold, and who is not.

Every figure here can be checked by hand: a point counts as covered within T minutes
when its travel time to the nearest facility is at most T minutes; shares are taken of
the total population of the study area, including people off the network and people
with no route at all (they are never silently dropped from the denominator).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accessmap.catchments import NO_ROUTE, OFF_NETWORK

logger = logging.getLogger(__name__)


def coverage_table(
    time_s: NDArray[np.float64],
    population: NDArray[np.float64],
    thresholds_min: Sequence[float],
) -> pd.DataFrame:
    """Population and share within each threshold.

    Parameters
    ----------
    time_s
        Travel time per demand point in seconds (``inf`` when unreachable).
    population
        Population per demand point.
    thresholds_min
        Thresholds in minutes.

    Returns
    -------
    pandas.DataFrame
        Columns ``threshold_min``, ``population``, ``share`` (0-1 of the total).

    Examples
    --------
    >>> coverage_table(np.array([600.0, 2400.0, np.inf]), np.array([1.0, 2.0, 1.0]), [30])
       threshold_min  population  share
    0           30.0         1.0   0.25
    """
    total = float(np.sum(population))
    rows = []
    for threshold in thresholds_min:
        covered = float(population[time_s <= threshold * 60].sum())
        rows.append({"threshold_min": float(threshold), "population": covered,
                     "share": covered / total if total > 0 else 0.0})
    return pd.DataFrame(rows, columns=["threshold_min", "population", "share"])


def coverage_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Return a coverage table as JSON-ready records (populations rounded to 0.1)."""
    return [
        {"threshold_min": float(r.threshold_min), "population": round(float(r.population), 1),
         "share": round(float(r.share), 6)}
        for r in table.itertuples()
    ]


def unreachable_summary(
    status: NDArray[np.int8], population: NDArray[np.float64]
) -> dict[str, float]:
    """Population with no travel time, split by reason.

    Returns
    -------
    dict
        ``off_network`` (farther than the snap distance from any road), ``no_route`` (on
        a road piece without a facility) and their sum ``total``.
    """
    off = float(population[status == OFF_NETWORK].sum())
    none = float(population[status == NO_ROUTE].sum())
    return {"off_network": round(off, 1), "no_route": round(none, 1),
            "total": round(off + none, 1)}


def underserved_mask(time_s: NDArray[np.float64], threshold_min: float) -> NDArray[np.bool_]:
    """True for demand points beyond ``threshold_min`` (unreachable ones included)."""
    return ~(time_s <= threshold_min * 60)
