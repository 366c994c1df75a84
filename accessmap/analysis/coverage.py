"""Coverage statistics: who is within each travel-time threshold, and who is not.

Every figure here can be checked by hand: a point counts as covered within T minutes
when its travel time to the nearest facility is at most T minutes; shares are taken of
the total population of the study area, including people off the network and people
with no route at all (they are never silently dropped from the denominator).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accessmap.routing.travel_times import NO_ROUTE, OFF_NETWORK

__all__ = [
    "coverage_by", "coverage_by_groups", "coverage_records", "coverage_table", "label_weights",
    "underserved_mask", "unreachable_summary",
]


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


def label_weights(
    labels: NDArray[np.object_], population: NDArray[np.float64]
) -> dict[str, NDArray[np.float64]]:
    """Population of each label as one weight array per label (others 0), sorted by label.

    Labels are compared as text (``str``), without building a text copy of the labels.

    Examples
    --------
    >>> w = label_weights(np.array(["a", "b", "a"], dtype=object), np.array([1.0, 2.0, 3.0]))
    >>> {k: v.tolist() for k, v in w.items()}
    {'a': [1.0, 0.0, 3.0], 'b': [0.0, 2.0, 0.0]}
    """
    flat = np.asarray(labels).ravel()
    codes, uniques = pd.factorize(flat)
    names = [str(u) for u in uniques]  # labels that print alike (1 and "1") are one label
    for i in np.flatnonzero(codes < 0):  # None / NaN count as their text, as str() has it
        codes[i] = len(names)
        names.append(str(flat[i]))
    merged = {name: i for i, name in enumerate(sorted(set(names)))}
    code = np.array([merged[name] for name in names], dtype=np.intp)[codes]
    return {name: np.where(code == i, population, 0.0) for name, i in merged.items()}


def coverage_by(
    weights: Mapping[str, NDArray[np.float64]],
    time_s: NDArray[np.float64],
    status: NDArray[np.int8],
    thresholds_min: Sequence[float],
    *,
    key: str = "name",
) -> pd.DataFrame:
    """Coverage of each area or group (one row each), in wide form for planners.

    Parameters
    ----------
    weights
        Name -> people per demand point (e.g. from :func:`label_weights`, or a count
        raster such as under-5s).
    time_s, status
        Per demand point travel time (s) and status (see :mod:`accessmap.catchments`).
    thresholds_min
        Thresholds in minutes.
    key
        Name of the first column (``area``, ``group``).

    Returns
    -------
    pandas.DataFrame
        ``key``, ``population``, ``population_<T>min`` and ``share_<T>min`` per threshold
        (share of that row's population; empty when it has nobody), ``off_network``,
        ``no_route`` and ``mean_time_min`` (population-weighted over people with a route).
    """
    rows = []
    reached = np.isfinite(time_s)
    for name, weight in weights.items():
        total = float(weight.sum())
        row: dict[str, Any] = {key: name, "population": total}
        for threshold in thresholds_min:
            covered = float(weight[time_s <= threshold * 60].sum())
            row[f"population_{threshold:g}min"] = covered
            row[f"share_{threshold:g}min"] = covered / total if total > 0 else np.nan
        row["off_network"] = float(weight[status == OFF_NETWORK].sum())
        row["no_route"] = float(weight[status == NO_ROUTE].sum())
        with_route = float(weight[reached].sum())
        row["mean_time_min"] = (float((weight[reached] * time_s[reached]).sum()) / with_route
                                / 60 if with_route > 0 else np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def coverage_by_groups(
    groupings: Mapping[str, Mapping[str, NDArray[np.float64]]],
    time_s: NDArray[np.float64],
    status: NDArray[np.int8],
    thresholds_min: Sequence[float],
) -> pd.DataFrame:
    """Coverage by group for several groupings, stacked into one table.

    Parameters
    ----------
    groupings
        Grouping name (e.g. ``settlement_type``, ``wealth_quintile``) -> group label ->
        people of that group at each demand point (see :func:`label_weights`).
    time_s, status
        Per demand point travel time (s) and status.
    thresholds_min
        Travel-time thresholds.

    Returns
    -------
    pandas.DataFrame
        ``grouping`` then the :func:`coverage_by` columns (``group``, ...).
    """
    by_group = pd.concat(
        [coverage_by(weights, time_s, status, thresholds_min, key="group")
         .assign(grouping=name) for name, weights in groupings.items()], ignore_index=True)
    return by_group[["grouping", *by_group.columns.drop("grouping")]]
