"""What the road changes of a scenario did: who lost their route, against the unchanged roads.

:func:`road_change_report` runs one extra nearest-facility search on the unchanged network
(the same cost as the run's own travel-time search) and compares each demand point and
facility with the changed run.  Its summary goes to ``summary.json`` (``road_changes``)
and its layer to ``layers.gpkg`` (``closed_roads``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
from numpy.typing import NDArray

from accessmap.analysis.coverage import coverage_records, coverage_table
from accessmap.inputs.population import Population
from accessmap.progress import Tick
from accessmap.routing.closures import ChangedRoads, inside_closed_areas
from accessmap.routing.travel_times import Access, nearest_facility_times

__all__ = ["RoadChangeReport", "closed_roads_layer", "road_change_report"]


@dataclass(frozen=True, eq=False)
class RoadChangeReport:
    """The ``road_changes`` summary entry and the ``closed_roads`` layer of a run."""

    summary: dict[str, Any]
    layer: gpd.GeoDataFrame | None
    base_access: Access


def road_change_report(
    changed: ChangedRoads,
    access: Access,
    population: Population,
    facilities: gpd.GeoDataFrame,
    thresholds_min: Sequence[float],
    *,
    tick: Tick | None = None,
) -> RoadChangeReport:
    """Compare the run on the changed roads with the same run on the unchanged roads.

    Parameters
    ----------
    changed
        The road changes (:func:`~accessmap.routing.closures.change_roads`).
    access
        The run's nearest-facility times, on ``changed.network``.
    population, facilities
        The run's demand points and facilities (``name`` column).
    thresholds_min
        The run's thresholds (for the coverage on the unchanged roads).
    tick
        Progress of the extra search; whatever it raises (``Cancelled``) propagates.

    Returns
    -------
    RoadChangeReport
        ``summary``: ``segments_closed``/``segments_slowed`` and their ``closed_km``/
        ``slowed_km``, ``closed_ways``; ``facilities_lost_road`` (facilities snapped on a
        closed segment of the unchanged roads, or with no road within the snap distance
        now); ``population_lost_route`` (a route on the unchanged roads, none now);
        ``population_in_closed_areas`` (inside closed polygons: off the network now);
        ``population_slower``/``population_faster`` (both reached, time up/down: down
        only when a closed road made people walk to a faster one);
        ``coverage_unchanged`` (coverage rows on the unchanged roads).
    """
    base = changed.base
    px, py = base.project(population.lon, population.lat)
    fx, fy = base.project(facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy())
    before = nearest_facility_times(base, px, py, fx, fy, warn_moves=False, tick=tick)
    pop = population.population
    had, has = np.isfinite(before.time_s), np.isfinite(access.time_s)
    both = had & has
    length_km = base.seg_length_m / 1000
    summary = {
        "segments_closed": int(changed.closed.sum()),
        "segments_slowed": int(changed.slowed.sum()),
        "closed_km": round(float(length_km[changed.closed].sum()), 3),
        "slowed_km": round(float(length_km[changed.slowed].sum()), 3),
        "closed_ways": [int(w) for w in np.unique(base.seg_way_id[changed.closed])
                        if w >= 0],
        "facilities_lost_road": _facilities_lost_road(changed, before, access, facilities),
        "population_lost_route": _people(pop, had & ~has),
        "population_in_closed_areas": _people(pop, inside_closed_areas(changed, px, py)),
        "population_slower": _people(pop, both & (access.time_s > before.time_s)),
        "population_faster": _people(pop, both & (access.time_s < before.time_s)),
        "coverage_unchanged": coverage_records(
            coverage_table(before.time_s, pop, thresholds_min)),
    }
    return RoadChangeReport(summary, closed_roads_layer(changed), before)


def _people(population: NDArray[np.float64], mask: NDArray[np.bool_]) -> float:
    return round(float(population[mask].sum()), 1)


def _facilities_lost_road(changed: ChangedRoads, before: Access, after: Access,
                          facilities: gpd.GeoDataFrame) -> list[str]:
    """Names of facilities snapped on a closed segment before, or without a road now."""
    was = before.facility_snap
    on_closed = was.on_network & changed.closed[np.maximum(was.segment, 0)]
    lost = on_closed | (was.on_network & ~after.facility_snap.on_network)
    return [str(n) for n in facilities["name"].to_numpy()[lost]]


def closed_roads_layer(changed: ChangedRoads) -> gpd.GeoDataFrame | None:
    """The closed and slowed segments (``change`` closed/slowed, ``factor``, ``highway``,
    ``way_id``), in EPSG:4326; ``None`` when nothing changed."""
    base = changed.base
    rows = np.flatnonzero(changed.closed | changed.slowed)
    if rows.size == 0:
        return None
    frame = gpd.GeoDataFrame(
        {"change": np.where(changed.closed[rows], "closed", "slowed"),
         "factor": np.where(changed.closed[rows], 0.0, changed.slow_factor[rows]),
         "highway": base.seg_highway[rows].astype(str),
         "way_id": base.seg_way_id[rows]},
        geometry=base.segment_lines[rows], crs=base.crs)
    return frame.to_crs("EPSG:4326")
