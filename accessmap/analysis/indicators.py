"""Indicators for a service: coverage by the facilities of one capability only.

For each :class:`~accessmap.config.indicators.Indicator` (e.g. the Lancet Commission's
share of people within 2 hours of a hospital with surgery) the facilities its rule picks
are the only destinations: travel times come from one multi-source search from them
(:func:`~accessmap.routing.travel_times.subset_facility_times`, with the run's snaps), then
the target population within each of the indicator's thresholds is counted overall, by
admin area and by group, and compared with the target share.

Two tables come out: the long table (one row per indicator, unit and threshold: people
within, share, target, met) and the wide table (one row per indicator and unit, one
column per threshold), built with :func:`~accessmap.analysis.coverage.coverage_by` so
that with every facility and everybody counted the figures equal the run's coverage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accessmap.analysis.coverage import coverage_by, label_weights
from accessmap.analysis.results import SETTLEMENT, CoverageAnalysis
from accessmap.config.indicators import Indicator, Indicators
from accessmap.inputs.selection import select_facilities
from accessmap.progress import Tick, scaled
from accessmap.routing.network import RoadNetwork
from accessmap.routing.travel_times import NO_ROUTE, REACHED, Access, subset_facility_times

__all__ = ["ALL", "AREA", "IndicatorResult", "compute_indicators", "long_table",
           "run_indicators"]

#: ``grouping``/``group`` of the whole study area's row, and ``grouping`` of area rows.
ALL, AREA = "all", "area"


@dataclass(frozen=True, eq=False)
class IndicatorResult:
    """What :func:`compute_indicators` found.

    Attributes
    ----------
    long
        ``indicator, grouping, group, facilities_counted, threshold_min, population,
        population_within, share_within, target, met`` (one row per threshold).
    wide
        ``indicator, grouping, group, facilities_counted`` then the
        :func:`~accessmap.analysis.coverage.coverage_by` columns (``population``,
        ``population_<T>min``, ``share_<T>min``, ...) and ``target``.
    summary
        One JSON-ready entry per indicator (``summary.json`` ``indicators``).
    time_s
        Indicator name -> seconds per demand point to its nearest counted facility.
    """

    long: pd.DataFrame
    wide: pd.DataFrame
    summary: list[dict[str, Any]]
    time_s: dict[str, NDArray[np.float64]] = field(default_factory=dict)


def compute_indicators(
    indicators: Sequence[Indicator],
    *,
    network: RoadNetwork,
    access: Access,
    facilities: pd.DataFrame,
    population: NDArray[np.float64],
    thresholds_min: Sequence[float],
    targets: Mapping[str, NDArray[np.float64]] | None = None,
    area_labels: NDArray[np.object_] | None = None,
    groupings: Mapping[str, Mapping[str, NDArray[np.float64]]] | None = None,
    tick: Tick | None = None,
) -> IndicatorResult:
    """Coverage by the facilities of each indicator's service.

    Parameters
    ----------
    indicators
        The ``[[indicators]]`` settings.
    network, access
        The run's network and nearest-facility times (their snaps are reused).
    facilities
        The run's facilities (rows aligned with ``access``), with the columns rules test.
    population
        People per demand point.
    thresholds_min
        The run's thresholds (for indicators without their own).
    targets
        Indicator name -> people of its target group per demand point; indicators not
        in it count everybody.
    area_labels
        Admin area of each demand point (``None``: no area rows).
    groupings
        Grouping -> group -> people of the group per demand point (as
        :func:`~accessmap.analysis.coverage.label_weights` gives); a target group is
        split between groups like the population is.
    tick
        Progress over the indicators; whatever it raises propagates.

    Returns
    -------
    IndicatorResult

    Raises
    ------
    ConfigError
        An indicator's rule matches no facility (the message names the indicator, the
        rule and the values the column holds).
    """
    wide_parts, summary, times = [], [], {}
    for i, indicator in enumerate(indicators):
        keep = select_facilities(facilities, indicator.facilities,
                                 what=f"indicators.{indicator.name}.facilities")
        step = scaled(tick, i / len(indicators), (i + 1) / len(indicators), indicator.name)
        time_s, _ = subset_facility_times(network, access, keep, tick=step)
        target = (targets or {}).get(indicator.name, population)
        thresholds = indicator.thresholds(thresholds_min)
        wide = _indicator_rows(indicator, time_s, _status(access, time_s), target, population,
                               thresholds, area_labels, groupings or {})
        wide.insert(3, "facilities_counted", int(keep.sum()))
        wide_parts.append(wide)
        summary.append(_summary_entry(indicator, keep, wide.iloc[0], thresholds))
        times[indicator.name] = time_s
    wide_table = pd.concat(wide_parts, ignore_index=True) if wide_parts else pd.DataFrame()
    return IndicatorResult(long_table(wide_table, indicators, thresholds_min), wide_table,
                           summary, times)


def run_indicators(
    settings: Indicators,
    analysis: CoverageAnalysis,
    *,
    network: RoadNetwork,
    access: Access,
    facilities: pd.DataFrame,
    targets: Mapping[str, NDArray[np.float64]],
    area_labels: NDArray[np.object_] | None,
    groupings: Mapping[str, Mapping[str, NDArray[np.float64]]],
    tick: Tick | None = None,
) -> IndicatorResult | None:
    """:func:`compute_indicators` for a run: its thresholds, population and groups
    (settlement type first, as in ``coverage_by_group``); ``None`` without indicators."""
    if not settings.indicators:
        return None
    pop = analysis.population.population
    return compute_indicators(
        settings.indicators, network=network, access=access, facilities=facilities,
        population=pop, thresholds_min=analysis.thresholds_min, targets=targets,
        area_labels=area_labels, tick=tick,
        groupings={SETTLEMENT: label_weights(analysis.settlement, pop), **groupings})


def _status(access: Access, time_s: NDArray[np.float64]) -> NDArray[np.int8]:
    """The run's statuses, with ``NO_ROUTE`` where no counted facility is reachable."""
    status = access.status.copy()
    status[(status == REACHED) & ~np.isfinite(time_s)] = NO_ROUTE
    return status


def _indicator_rows(
    indicator: Indicator,
    time_s: NDArray[np.float64],
    status: NDArray[np.int8],
    target: NDArray[np.float64],
    population: NDArray[np.float64],
    thresholds: Sequence[float],
    area_labels: NDArray[np.object_] | None,
    groupings: Mapping[str, Mapping[str, NDArray[np.float64]]],
) -> pd.DataFrame:
    """The wide rows of one indicator: the whole area, each admin area, each group."""
    units: dict[str, Mapping[str, NDArray[np.float64]]] = {ALL: {ALL: target}}
    if area_labels is not None:
        units[AREA] = label_weights(area_labels, target)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(population > 0, target / population, 0.0)
    for grouping, groups in groupings.items():
        units[grouping] = {g: weight * ratio for g, weight in groups.items()}
    parts = [coverage_by(weights, time_s, status, thresholds, key="group")
             .assign(grouping=grouping) for grouping, weights in units.items()]
    rows = pd.concat(parts, ignore_index=True)
    rows.insert(0, "indicator", indicator.name)
    rows = rows[["indicator", "grouping", *rows.columns.drop(["indicator", "grouping"])]]
    return rows.assign(target=np.nan if indicator.target_share is None
                       else indicator.target_share)


def long_table(wide: pd.DataFrame, indicators: Sequence[Indicator],
               thresholds_min: Sequence[float]) -> pd.DataFrame:
    """The long indicator table: one row per indicator, unit and threshold.

    ``met`` is ``share_within >= target`` (empty without a target or without people).
    """
    columns = ["indicator", "grouping", "group", "facilities_counted", "threshold_min",
               "population", "population_within", "share_within", "target", "met"]
    rows = []
    by_name = {i.name: i for i in indicators}
    for row in wide.to_dict(orient="records"):
        for threshold in by_name[row["indicator"]].thresholds(thresholds_min):
            share = row[f"share_{threshold:g}min"]
            target = row["target"]
            met = (None if pd.isna(target) or pd.isna(share)
                   else bool(share >= target - 1e-12))
            rows.append({**{k: row[k] for k in columns[:4]}, "threshold_min": float(threshold),
                         "population": row["population"],
                         "population_within": row[f"population_{threshold:g}min"],
                         "share_within": share, "target": target, "met": met})
    return pd.DataFrame(rows, columns=columns)


def _summary_entry(indicator: Indicator, keep: NDArray[np.bool_], overall: pd.Series,
                   thresholds: Sequence[float]) -> dict[str, Any]:
    """The ``summary.json`` entry of one indicator (its whole-area figures)."""
    target = indicator.target_share
    coverage = []
    for threshold in thresholds:
        share = float(overall[f"share_{threshold:g}min"])
        coverage.append({
            "threshold_min": float(threshold),
            "population_within": round(float(overall[f"population_{threshold:g}min"]), 1),
            "share_within": round(share, 6) if np.isfinite(share) else None,
            "met": None if target is None or not np.isfinite(share)
            else bool(share >= target - 1e-12)})
    subset = indicator.population
    return {"name": indicator.name, "facilities": indicator.facilities.describe(),
            "facilities_counted": int(keep.sum()),
            "population_subset": "everybody" if subset is None else subset.describe(),
            "population": round(float(overall["population"]), 1),
            "target_share": target, "coverage": coverage,
            "no_route": round(float(overall["no_route"]), 1),
            "off_network": round(float(overall["off_network"]), 1)}
