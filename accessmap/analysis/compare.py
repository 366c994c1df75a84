"""Comparison of two runs on the same grid: who loses or gains access, where, and why.

Pure functions on arrays and frames (the folder reading lives in :mod:`accessmap.compare`):
``a`` is the baseline, ``b`` the scenario; every change is ``b - a``.

* :func:`grid_mismatch` says why two runs cannot be compared (grid or population differ);
* :func:`access_change` gives the travel-time change per cell and its category
  (:data:`CHANGE_CATEGORIES`: slower, faster, lost or gained route, ...);
* :func:`access_changes` counts, per threshold, the people within it in each run and those
  who lose or gain access;
* :func:`loss_zones` draws the connected cells whose people fall into a worse time class;
* :func:`table_changes` and :func:`catchment_changes` put the per-area, per-group,
  indicator and per-facility tables of the two runs side by side;
* :func:`planner_sentences` writes the sentence planners quote.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from numpy.typing import NDArray

from accessmap._raster import cell_area_km2, label_polygons
from accessmap.analysis.zones import REST_ZONE

__all__ = ["CHANGE_CATEGORIES", "access_change", "access_changes", "catchment_changes",
           "facility_key", "facility_locations", "grid_mismatch", "loss_zones", "planner_sentences",
           "table_changes", "worse_class"]

logger = logging.getLogger(__name__)

#: Value of ``access_change.tif`` -> meaning (NaN: nobody lives in the cell).
CHANGE_CATEGORIES = {0: "unchanged", 1: "slower", 2: "faster", 3: "lost route",
                     4: "gained route", 5: "no route in either run"}

#: Minutes below which a change of travel time counts as none (float32 rounding).
_TOLERANCE_MIN = 1e-3

Grid = tuple[tuple[int, int], Affine, str]

#: Columns that name a row (matched, not subtracted) even when their values are numbers
#: (group codes such as wealth quintiles 1-5, area codes).
_LABEL_COLUMNS = frozenset({"area", "area_name", "grouping", "group", "name", "indicator",
                            "service", "target", "facility_id", "threshold_min"})


def grid_mismatch(a: Grid, b: Grid, people_a: NDArray[np.floating[Any]],
                  people_b: NDArray[np.floating[Any]]) -> str | None:
    """Why two runs are not on the same study area, or ``None`` when they are.

    Parameters
    ----------
    a, b
        (shape, transform, CRS) of each run's analysis grid.
    people_a, people_b
        People per cell of each run (NaN: none).
    """
    (shape_a, transform_a, crs_a), (shape_b, transform_b, crs_b) = a, b
    if shape_a != shape_b:
        return f"their grids differ in size ({shape_a[0]}x{shape_a[1]} vs " \
               f"{shape_b[0]}x{shape_b[1]} cells)"
    if not transform_a.almost_equals(transform_b, precision=1e-9):
        return f"their grids differ in position or cell size ({tuple(transform_a)[:6]} vs " \
               f"{tuple(transform_b)[:6]})"
    if str(crs_a).upper() != str(crs_b).upper():
        return f"their grids use different CRS ({crs_a} vs {crs_b})"
    pa, pb = np.nan_to_num(people_a), np.nan_to_num(people_b)
    if not np.allclose(pa, pb, rtol=1e-6, atol=1e-3):
        return (f"their population grids differ ({pa.sum():,.0f} vs {pb.sum():,.0f} people, "
                f"{int((~np.isclose(pa, pb, rtol=1e-6, atol=1e-3)).sum())} cells differ)")
    return None


def access_change(minutes_a: NDArray[np.floating[Any]], minutes_b: NDArray[np.floating[Any]],
                  people: NDArray[np.floating[Any]]
                  ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Travel-time change (minutes, ``b - a``) and its category per cell.

    Returns
    -------
    change
        ``b - a`` where people live and both runs have a route, NaN elsewhere.
    category
        A :data:`CHANGE_CATEGORIES` key where people live, NaN elsewhere.
    """
    populated = np.nan_to_num(people) > 0
    fa, fb = np.isfinite(minutes_a), np.isfinite(minutes_b)
    both = populated & fa & fb
    change = np.full(people.shape, np.nan, dtype=np.float32)
    change[both] = (minutes_b[both] - minutes_a[both]).astype(np.float32)
    category = np.full(people.shape, np.nan, dtype=np.float32)
    category[both] = 0
    category[both & (change > _TOLERANCE_MIN)] = 1
    category[both & (change < -_TOLERANCE_MIN)] = 2
    category[populated & fa & ~fb] = 3
    category[populated & ~fa & fb] = 4
    category[populated & ~fa & ~fb] = 5
    return change, category


def _within(minutes: NDArray[np.floating[Any]], threshold_min: float) -> NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        within: NDArray[np.bool_] = np.isfinite(minutes) & (minutes <= threshold_min)
    return within


def access_changes(minutes_a: NDArray[np.floating[Any]], minutes_b: NDArray[np.floating[Any]],
                   people: NDArray[np.floating[Any]], thresholds_min: Sequence[float]
                   ) -> pd.DataFrame:
    """People within each threshold in both runs, and those who lose or gain access.

    Returns
    -------
    pandas.DataFrame
        One row per threshold: ``threshold_min``, ``population_a``, ``population_b``,
        ``population_change``, ``share_a``, ``share_b``, ``share_change``,
        ``losing_population`` (within the threshold in ``a``, not in ``b``) and
        ``gaining_population``.
    """
    pop = np.nan_to_num(people)
    total = float(pop.sum())
    rows = []
    for threshold in thresholds_min:
        in_a, in_b = _within(minutes_a, threshold), _within(minutes_b, threshold)
        pa, pb = float(pop[in_a].sum()), float(pop[in_b].sum())
        rows.append({
            "threshold_min": float(threshold), "population_a": pa, "population_b": pb,
            "population_change": pb - pa,
            "share_a": pa / total if total else np.nan, "share_b": pb / total if total else np.nan,
            "share_change": (pb - pa) / total if total else np.nan,
            "losing_population": float(pop[in_a & ~in_b].sum()),
            "gaining_population": float(pop[~in_a & in_b].sum())})
    return pd.DataFrame(rows)


def worse_class(minutes_a: NDArray[np.floating[Any]], minutes_b: NDArray[np.floating[Any]],
                people: NDArray[np.floating[Any]], thresholds_min: Sequence[float]
                ) -> NDArray[np.bool_]:
    """Cells whose people lose access within at least one threshold."""
    populated = np.nan_to_num(people) > 0
    lost = np.zeros(people.shape, dtype=bool)
    for threshold in thresholds_min:
        lost |= _within(minutes_a, threshold) & ~_within(minutes_b, threshold)
    out: NDArray[np.bool_] = lost & populated
    return out


def loss_zones(minutes_a: NDArray[np.floating[Any]], minutes_b: NDArray[np.floating[Any]],
               people: NDArray[np.floating[Any]], thresholds_min: Sequence[float],
               transform: Affine, crs: str, *, min_population: float = 100.0
               ) -> gpd.GeoDataFrame:
    """Connected cells (8-neighbours) whose people lose access within some threshold.

    Zones with fewer than ``min_population`` people are gathered into one last row
    (``other small zones``), so the zones add up to everybody who loses access.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, one row per zone, most people first: ``rank``, ``zone``,
        ``population``, ``losing_{t}min`` per threshold (people who lose access within
        ``t``), ``lost_route_population``, ``cells``, ``area_km2``.
    """
    import scipy.ndimage

    lost = worse_class(minutes_a, minutes_b, people, thresholds_min)
    labels, count = scipy.ndimage.label(lost, structure=np.ones((3, 3), dtype=int))
    pop = np.nan_to_num(people)
    sums = np.bincount(labels.ravel(), weights=pop.ravel(), minlength=count + 1)
    order = np.argsort(-sums[1:], kind="stable") + 1
    big = order[sums[order] >= min_population]
    rank_of = np.zeros(count + 1, dtype=np.int32)
    rank_of[big] = np.arange(1, big.size + 1)
    rank_of[np.setdiff1d(order, big)] = big.size + 1
    n_ranks = big.size + int(big.size < count)
    grid_rank = rank_of[labels].astype(np.int32)
    geoms = label_polygons(grid_rank, transform, crs)
    areas = np.broadcast_to(cell_area_km2(transform, people.shape, crs), people.shape)

    def per_rank(weights: NDArray[np.float64]) -> NDArray[np.float64]:
        sums = np.bincount(grid_rank.ravel(), weights=weights.ravel(), minlength=n_ranks + 1)
        return sums.astype(np.float64)

    columns: dict[str, NDArray[np.float64]] = {"population": per_rank(pop)}
    for threshold in thresholds_min:
        crossed = _within(minutes_a, threshold) & ~_within(minutes_b, threshold)
        columns[f"losing_{threshold:g}min"] = per_rank(np.where(crossed, pop, 0.0))
    columns["lost_route_population"] = per_rank(
        np.where(np.isfinite(minutes_a) & ~np.isfinite(minutes_b), pop, 0.0))
    columns["cells"] = per_rank(np.ones(people.shape))
    columns["area_km2"] = per_rank(np.asarray(areas, dtype=np.float64))
    rows = [{"rank": rank, "zone": REST_ZONE if rank > big.size else f"zone {rank}",
             **{k: float(v[rank]) for k, v in columns.items()}, "geometry": geoms.get(rank)}
            for rank in range(1, n_ranks + 1)]
    frame = pd.DataFrame(rows, columns=["rank", "zone", *columns, "geometry"])
    frame["cells"] = frame["cells"].astype(int)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")


def table_changes(a: pd.DataFrame | None, b: pd.DataFrame | None) -> pd.DataFrame | None:
    """Two runs' versions of a table side by side: ``{c}_a``, ``{c}_b``, ``{c}_change``.

    Rows are matched on the text columns both tables hold and on the label columns
    (``area``, ``grouping`` and ``group``, an indicator's name, ...) even when they hold
    numbers (group codes, an indicator's ``threshold_min``); a row in one run only gets
    empty values for the other.  True/false columns (an indicator's ``met``) are set side
    by side without a change column.  ``None`` when either table is missing.
    """
    if a is None or b is None:
        return None
    keys = [c for c in a.columns if c in b.columns
            and (c in _LABEL_COLUMNS or not pd.api.types.is_numeric_dtype(a[c]))]
    values = [c for c in a.columns if c in b.columns and c not in keys
              and pd.api.types.is_numeric_dtype(a[c]) and pd.api.types.is_numeric_dtype(b[c])]
    if not keys:
        a, b, keys = a.assign(row=range(len(a))), b.assign(row=range(len(b))), ["row"]
    merged = a[keys + values].merge(b[keys + values], on=keys, how="outer",
                                    suffixes=("_a", "_b"), sort=False)
    out = merged[keys].copy()
    for column in values:
        out[f"{column}_a"] = merged[f"{column}_a"]
        out[f"{column}_b"] = merged[f"{column}_b"]
        if not (pd.api.types.is_bool_dtype(a[column]) or pd.api.types.is_bool_dtype(b[column])):
            out[f"{column}_change"] = merged[f"{column}_b"] - merged[f"{column}_a"]
    return out


def facility_key(a: pd.DataFrame, b: pd.DataFrame) -> str:
    """Column that names the same facility in both runs.

    ``facility_id`` when the ids both runs share point at the same names (stable ids);
    else ``location`` (the facility's position, see :func:`facility_locations`) when both
    tables have it, else ``name``.
    """
    if "facility_id" in a and "facility_id" in b and "name" in a and "name" in b:
        names = a.set_index(a["facility_id"].astype(str))["name"]
        other = b.set_index(b["facility_id"].astype(str))["name"]
        common = names.index.intersection(other.index)
        if bool((names.loc[common].astype(str) == other.loc[common].astype(str)).all()):
            return "facility_id"
    return "location" if "location" in a and "location" in b else "name"


def facility_locations(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> list[str]:
    """A key per facility from its position (``lon,lat`` to 1e-6 degree, ``#2``, ``#3``
    for the second and third facility at one position), stable when others close."""
    keys = [f"{x:.6f},{y:.6f}" for x, y in zip(lon, lat, strict=True)]
    seen: dict[str, int] = {}
    out = []
    for key in keys:
        seen[key] = seen.get(key, 0) + 1
        out.append(key if seen[key] == 1 else f"{key}#{seen[key]}")
    return out


def catchment_changes(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Catchment population of each facility in both runs, largest change first.

    Parameters
    ----------
    a, b
        ``facilities.csv`` of each run (``name``, ``type``, ``population``, ...).

    Returns
    -------
    pandas.DataFrame
        ``facility_id`` (when ids are stable, see :func:`facility_key`), ``name``,
        ``type``, ``status`` (``kept``, ``closed``: only in ``a``, ``opened``: only in
        ``b``), ``population_a``, ``population_b``, ``population_change``.
    """
    key = facility_key(a, b)
    labels = [c for c in (key, "name", "type") if c in a and c in b
              and (c != "facility_id" or key == c)]
    labels = list(dict.fromkeys(labels))
    left = a[[*labels, "population"]].copy()
    right = b[[*labels, "population"]].copy()
    left[key], right[key] = left[key].astype(str), right[key].astype(str)
    merged = left.merge(right, on=key, how="outer", suffixes=("_a", "_b"), indicator=True)
    out = pd.DataFrame({key: merged[key]})
    for column in labels:
        if column != key:
            out[column] = merged[f"{column}_a"].combine_first(merged[f"{column}_b"])
    out = out[[c for c in labels if c in out]]
    out["status"] = merged["_merge"].map({"both": "kept", "left_only": "closed",
                                          "right_only": "opened"}).astype(str)
    out["population_a"] = merged["population_a"].fillna(0.0)
    out["population_b"] = merged["population_b"].fillna(0.0)
    out["population_change"] = out["population_b"] - out["population_a"]
    order = np.argsort(-out["population_change"].abs().to_numpy(), kind="stable")
    return out.iloc[order].reset_index(drop=True)


def _duration(threshold_min: float) -> str:
    if threshold_min >= 120 and threshold_min % 60 == 0:
        return f"{threshold_min / 60:g} hours"
    return "1 hour" if threshold_min == 60 else f"{threshold_min:g} minutes"


def _people(value: float) -> str:
    return f"{value:,.0f}"


def planner_sentences(changes: pd.DataFrame, by_area: pd.DataFrame | None,
                      facilities: pd.DataFrame, *, scenario: str) -> list[str]:
    """The sentences planners quote: thresholds whose access changes first (largest
    first), then those where nobody's does.

    ``Closing X leaves N more people beyond 2 hours (N lose access within it, M gain it),
    most of them in Y (K).`` (``the largest number in Y`` when Y holds half or
    less).  The change is named by the facilities closed or opened, or
    else by the scenario's name; the area is the one whose people within the threshold
    fall the most (``by_area``: :func:`table_changes` of ``coverage_by_area.csv``).
    """
    closed = list(dict.fromkeys(
        facilities.loc[facilities["status"] == "closed", "name"].astype(str)))
    opened = list(dict.fromkeys(
        facilities.loc[facilities["status"] == "opened", "name"].astype(str)))
    parts = ([f"closing {', '.join(closed)}"] if closed else []) + \
        ([f"opening {', '.join(opened)}"] if opened else [])
    subject = " and ".join(parts) if parts else f"scenario {scenario!r}"
    subject = subject[0].upper() + subject[1:]
    sentences, unchanged = [], []
    for row in changes.sort_values("threshold_min", ascending=False).itertuples():
        beyond = -float(row.population_change)
        when = _duration(float(row.threshold_min))
        if abs(beyond) < 0.5 and row.losing_population < 0.5 and row.gaining_population < 0.5:
            unchanged.append(f"{subject} changes nobody's access within {when}.")
            continue
        verb = "leaves" if beyond >= 0 else "brings"
        text = (f"{subject} {verb} {_people(abs(beyond))} "
                + ("more people beyond " if beyond >= 0 else "more people within ")
                + f"{when} ({_people(row.losing_population)} lose access within it, "
                f"{_people(row.gaining_population)} gain it)")
        sentences.append(text + _where(by_area, float(row.threshold_min), beyond) + ".")
    return sentences + unchanged


def _where(by_area: pd.DataFrame | None, threshold_min: float, beyond: float) -> str:
    column = f"population_{threshold_min:g}min_change"
    if by_area is None or column not in by_area or "area" not in by_area:
        return ""
    change = by_area[column].fillna(0.0) * (1 if beyond < 0 else -1)
    if change.empty or float(change.max()) < 0.5:
        return ""
    top = int(np.argmax(change.to_numpy()))
    most = float(change.iloc[top])
    share = "most of them" if most > abs(beyond) / 2 else "the largest number"
    return f", {share} in {by_area['area'].iloc[top]} ({_people(most)})"
