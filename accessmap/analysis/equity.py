"""Equity measures: who is covered, by group, and how unequal travel times are.

* Coverage gap: at each threshold, the best-covered group's share minus the worst's.
* Gini index of travel time, population-weighted (0 = everyone equally far, 1 = all
  the travel falls on one person).  With people sorted by time ``x_i`` and weight
  ``w_i``, population shares ``p_i = w_i / W`` and cumulative time shares
  ``L_i = sum_{k<=i} p_k x_k / mean``, ``G = 1 - sum_i p_i (L_{i-1} + L_i)``
  (identical to ``sum_ij w_i w_j |x_i - x_j| / (2 W² mean)``).
  People with no route have no time: ``gini_reachable`` leaves them out (their share is
  reported as ``excluded_unreachable_share``), ``gini_capped`` gives them the cap
  ``2 x`` the largest threshold and caps everyone else there too.
* Share of the underserved population that is rural (settlement classes from
  :func:`accessmap.areas.settlement_classes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accessmap.analysis.coverage import underserved_mask
from accessmap.inputs.areas import RURAL

__all__ = [
    "coverage_gaps", "equity_summary", "rural_underserved_share", "travel_time_inequality",
    "weighted_gini",
]


def weighted_gini(values: NDArray[np.float64], weights: NDArray[np.float64]) -> float:
    """Population-weighted Gini index of non-negative ``values`` (NaN if undefined).

    Examples
    --------
    >>> weighted_gini(np.array([0.0, 10.0]), np.array([1.0, 1.0]))
    0.5
    >>> weighted_gini(np.array([5.0, 5.0]), np.array([1.0, 3.0]))
    0.0
    """
    values = np.asarray(values, float)
    weights = np.asarray(weights, float)
    keep = weights > 0
    values, weights = values[keep], weights[keep]
    total = weights.sum()
    if values.size == 0 or total <= 0:
        return float("nan")
    order = np.argsort(values, kind="stable")
    x, p = values[order], weights[order] / total
    mean = float((p * x).sum())
    if mean <= 0:
        return 0.0
    lorenz = np.cumsum(p * x) / mean
    previous = np.concatenate([[0.0], lorenz[:-1]])
    return float(1.0 - (p * (previous + lorenz)).sum())


def travel_time_inequality(
    time_s: NDArray[np.float64],
    population: NDArray[np.float64],
    *,
    cap_min: float,
) -> dict[str, float]:
    """Gini of travel time, without and with the people who have no route.

    Returns
    -------
    dict
        ``gini_reachable``, ``excluded_unreachable_share`` (share of people left out of
        it), ``gini_capped`` (unreachable people and longer trips set to ``cap_min``)
        and ``cap_min``.
    """
    minutes = np.asarray(time_s, float) / 60
    routed = np.isfinite(minutes)
    total = float(population.sum())
    capped = np.minimum(np.where(routed, minutes, cap_min), cap_min)
    return {
        "gini_reachable": round(weighted_gini(minutes[routed], population[routed]), 6),
        "excluded_unreachable_share": round(
            float(population[~routed].sum()) / total if total > 0 else 0.0, 6),
        "gini_capped": round(weighted_gini(capped, population), 6),
        "cap_min": float(cap_min),
    }


def coverage_gaps(table: pd.DataFrame, thresholds_min: Sequence[float], *,
                  key: str = "group") -> list[dict[str, Any]]:
    """Best- and worst-covered group at each threshold and the gap between their shares.

    ``table`` is a :func:`accessmap.gaps.coverage_by` table; rows without people are
    ignored.
    """
    out = []
    rows = table[table["population"] > 0]
    for threshold in thresholds_min:
        column = f"share_{threshold:g}min"
        if rows.empty:
            continue
        best = rows.loc[rows[column].idxmax()]
        worst = rows.loc[rows[column].idxmin()]
        out.append({"threshold_min": float(threshold), "best": str(best[key]),
                    "best_share": round(float(best[column]), 6), "worst": str(worst[key]),
                    "worst_share": round(float(worst[column]), 6),
                    "gap": round(float(best[column] - worst[column]), 6)})
    return out


def rural_underserved_share(
    settlement: NDArray[np.object_],
    time_s: NDArray[np.float64],
    population: NDArray[np.float64],
    threshold_min: float,
) -> float | None:
    """Share of the people beyond ``threshold_min`` (or with no route) who are rural."""
    needy = underserved_mask(time_s, threshold_min)
    total = float(population[needy].sum())
    if total <= 0:
        return None
    return round(float(population[needy & (settlement == RURAL)].sum()) / total, 6)


def equity_summary(
    by_group: pd.DataFrame,
    settlement: NDArray[np.object_],
    time_s: NDArray[np.float64],
    population: NDArray[np.float64],
    thresholds_min: Sequence[float],
    underserved_threshold_min: float,
) -> dict[str, Any]:
    """The ``equity`` figures of a run: coverage gaps per grouping, the Gini index of
    travel time (capped at twice the largest threshold) and the rural share of the
    underserved.

    Parameters
    ----------
    by_group
        :func:`~accessmap.analysis.coverage.coverage_by_groups` table.
    settlement
        Settlement class of each demand point.
    time_s, population
        Travel time (s) and people of each demand point.
    thresholds_min
        The run's thresholds.
    underserved_threshold_min
        Beyond this, people count as underserved.
    """
    return {
        "coverage_gaps": {
            name: coverage_gaps(rows, thresholds_min)
            for name, rows in by_group.groupby("grouping", sort=False)
        },
        "travel_time_inequality": travel_time_inequality(
            time_s, population, cap_min=2 * max(thresholds_min)),
        "underserved_threshold_min": underserved_threshold_min,
        "rural_share_of_underserved": rural_underserved_share(
            settlement, time_s, population, underserved_threshold_min),
    }
