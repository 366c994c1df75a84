"""Facility catchments and supply-to-demand ratios (2SFCA, E2SFCA)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse
from numpy.typing import NDArray

from accessmap.routing.travel_times import Access


def step_decay(time_s: NDArray[np.float64], max_time_s: float) -> NDArray[np.float64]:
    """E2SFCA weights of Luo & Qi (2009): 1.00, 0.68, 0.22 over thirds of the catchment.

    Examples
    --------
    >>> step_decay(np.array([0.0, 10.0, 11.0, 25.0, 31.0]), 30.0).tolist()
    [1.0, 1.0, 0.68, 0.22, 0.0]
    """
    t = np.asarray(time_s, float)
    return np.select([t <= max_time_s / 3, t <= 2 * max_time_s / 3, t <= max_time_s],
                     [1.0, 0.68, 0.22], 0.0)


def two_step_fca(
    times: scipy.sparse.csr_array,
    supply: NDArray[np.float64],
    demand: NDArray[np.float64],
    max_time_s: float,
    *,
    decay: bool = False,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Two-step floating catchment area ratios (Luo & Wang 2003; E2SFCA with ``decay``).

    Step 1: each facility's ratio ``R_j = S_j / sum_k P_k W(t_kj)`` over the demand
    points within ``max_time_s``.  Step 2: each demand point's accessibility
    ``A_i = sum_j R_j W(t_ij)``.  ``W`` is 1 (2SFCA) or :func:`step_decay` (E2SFCA).

    Parameters
    ----------
    times
        Facility x demand point times (e.g. :func:`facility_point_times`).
    supply
        Capacity per facility (beds, staff, or 1 per facility).
    demand
        Population per demand point.
    max_time_s
        Catchment size.
    decay
        Use distance-decay weights (E2SFCA).

    Returns
    -------
    ratio, accessibility
        ``ratio`` per facility (NaN when no one lives within its catchment) and
        ``accessibility`` per demand point (0 when no facility is within reach).
    """
    coo = times.tocoo()
    fac, pt, t = coo.row, coo.col, coo.data
    inside = t <= max_time_s
    fac, pt, t = fac[inside], pt[inside], t[inside]
    weight = step_decay(t, max_time_s) if decay else np.ones(t.size)
    served = np.bincount(fac, weights=demand[pt] * weight, minlength=times.shape[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(served > 0, np.asarray(supply, float) / served, np.nan)
    accessibility = np.bincount(pt, weights=np.nan_to_num(ratio[fac]) * weight,
                                minlength=times.shape[1]).astype(np.float64)
    return ratio.astype(np.float64), accessibility


def catchment_table(
    access: Access,
    population: NDArray[np.float64],
    thresholds_min: Sequence[float],
) -> pd.DataFrame:
    """People whose nearest facility each facility is, in total and within each threshold.

    Returns
    -------
    pandas.DataFrame
        One row per facility (in facility order): ``population`` and
        ``population_<T>min`` per threshold, ``mean_time_min`` (population-weighted).
    """
    n = access.facility_snap.segment.size
    has = access.facility >= 0
    fac, pop, t = access.facility[has], population[has], access.time_s[has]
    table = pd.DataFrame({"population": np.bincount(fac, weights=pop, minlength=n)})
    for threshold in thresholds_min:
        near = t <= threshold * 60
        table[f"population_{threshold:g}min"] = np.bincount(fac[near], weights=pop[near],
                                                            minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["mean_time_min"] = np.bincount(fac, weights=pop * t, minlength=n) / 60 / \
            table["population"].to_numpy()
    return table
