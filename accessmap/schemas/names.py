"""Names of a run folder: its files, ``layers.gpkg`` layers and table columns.

Declared once here and re-exported by :mod:`accessmap.record`; writers and readers use
these constants, never string literals.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["COLUMNS", "COMPARISON_FILES", "CURRENT", "FILES", "LAYERS", "TRAVEL_TIME_TAGS",
           "WITH_NEW_SITES", "Columns", "ComparisonFiles", "RunFiles", "RunLayers"]

#: Metadata of ``travel_time.tif``: what its values mean.  NaN (nodata) = nobody lives
#: in the cell; ``+inf`` = people live there but none can reach a facility (no route,
#: or too far from any road); any other value = minutes to the nearest facility.
TRAVEL_TIME_TAGS = {"UNITS": "minutes", "NODATA_MEANS": "nobody lives in the cell",
                    "NO_ROUTE_VALUE": "inf"}


@dataclass(frozen=True)
class RunFiles:
    """File names of a run folder."""

    summary: str = "summary.json"
    map: str = "map.html"
    report_html: str = "report.html"
    report_md: str = "report.md"
    report_pdf: str = "report.pdf"
    report_xlsx: str = "report.xlsx"
    layers: str = "layers.gpkg"
    travel_time: str = "travel_time.tif"
    population: str = "population.tif"
    coverage: str = "coverage.csv"
    coverage_by_area: str = "coverage_by_area.csv"
    coverage_by_group: str = "coverage_by_group.csv"
    underserved_zones: str = "underserved_zones.csv"
    facilities: str = "facilities.csv"
    sites: str = "sites.csv"
    marginal_gain: str = "marginal_gain.csv"
    mobile_visits: str = "mobile_visits.csv"
    referral: str = "referral.csv"
    indicators: str = "indicators.csv"
    indicators_wide: str = "indicators_wide.csv"
    figure_access_map: str = "figure_access_map"
    figure_gain_curve: str = "figure_gain_curve"

    @property
    def figures(self) -> tuple[str, str]:
        """Figure files without extension (written as ``.png`` and ``.svg``)."""
        return (self.figure_access_map, self.figure_gain_curve)

    @property
    def required(self) -> tuple[str, str]:
        """Files without which a folder is not a run folder."""
        return (self.summary, self.layers)


@dataclass(frozen=True)
class RunLayers:
    """Layer names of ``layers.gpkg``, in the order they are written."""

    facilities: str = "facilities"
    demand_points: str = "demand_points"
    roads: str = "roads"
    admin_areas: str = "admin_areas"
    isochrone_bands: str = "isochrone_bands"
    underserved_zones: str = "underserved_zones"
    catchments: str = "catchments"
    candidates: str = "candidates"
    recommended_sites: str = "recommended_sites"
    mobile_routes: str = "mobile_routes"
    referral_routes: str = "referral_routes"
    places: str = "places"
    closed_roads: str = "closed_roads"

    def names(self) -> tuple[str, ...]:
        """Every layer name."""
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self))


@dataclass(frozen=True)
class Columns:
    """Column names of the CSV tables and layers (``share_{t}min`` per threshold)."""

    scenario: str = "scenario"
    threshold_min: str = "threshold_min"
    population: str = "population"
    share: str = "share"
    time_min: str = "time_min"
    status: str = "status"
    nearest_facility: str = "nearest_facility"
    nearest_facility_time_min: str = "nearest_facility_time_min"
    facility_id: str = "facility_id"
    name: str = "name"
    type: str = "type"
    capacity: str = "capacity"
    planned: str = "planned"
    highway: str = "highway"
    area: str = "area"
    area_name: str = "area_name"
    grouping: str = "grouping"
    group: str = "group"
    mean_time_min: str = "mean_time_min"
    max_time_min: str = "max_time_min"
    area_km2: str = "area_km2"
    zone: str = "zone"
    rank: str = "rank"
    kind: str = "kind"
    lon: str = "lon"
    lat: str = "lat"
    added_population: str = "added_population"
    weighted_gain: str = "weighted_gain"
    cumulative_share: str = "cumulative_share"
    node: str = "node"
    sites: str = "sites"
    day: str = "day"
    indicator: str = "indicator"
    facilities_counted: str = "facilities_counted"
    population_within: str = "population_within"
    within_share: str = "share_within"
    target: str = "target"
    met: str = "met"
    change: str = "change"
    factor: str = "factor"
    way_id: str = "way_id"
    geometry: str = "geometry"

    @staticmethod
    def share_within(threshold_min: float) -> str:
        """Share of people within a threshold: ``share_60min``."""
        return f"share_{threshold_min:g}min"

    def coverage_csv(self) -> list[str]:
        """Columns of ``coverage.csv``."""
        return [self.scenario, self.threshold_min, self.population, self.share]

    def facility_layer(self, present: Iterable[str] = ()) -> list[str]:
        """Columns of the ``facilities`` layer (plus geometry); ``planned`` when among
        the ``present`` columns (a scenario with planned facilities)."""
        return [self.facility_id, self.name, self.type, self.capacity,
                *([self.planned] if self.planned in present else [])]

    def indicators_csv(self) -> list[str]:
        """Columns of ``indicators.csv`` (``indicators_wide.csv``: indicator, grouping,
        group, facilities_counted, then the coverage-by-area columns and target)."""
        return [self.indicator, self.grouping, self.group, self.facilities_counted,
                self.threshold_min, self.population, self.population_within,
                self.within_share, self.target, self.met]

    def closed_roads_layer(self) -> list[str]:
        """Columns of the ``closed_roads`` layer (plus geometry): closed or slowed, the
        speed factor (0 when closed), the highway class and the OSM way id."""
        return [self.change, self.factor, self.highway, self.way_id]

    def sites_csv(self) -> list[str]:
        """Columns of ``sites.csv`` (the ``recommended_sites`` summary entries)."""
        return [self.rank, self.kind, self.lon, self.lat, self.added_population,
                self.weighted_gain, self.cumulative_share, self.nearest_facility,
                self.nearest_facility_time_min]


FILES = RunFiles()
LAYERS = RunLayers()
COLUMNS = Columns()

#: Value of ``coverage.csv``'s ``scenario`` column: today, and with the recommended sites.
CURRENT, WITH_NEW_SITES = "current", "with_new_sites"


@dataclass(frozen=True)
class ComparisonFiles:
    """File names of a comparison folder (``accessmap compare``) and a scenario set."""

    comparison: str = "comparison.json"
    access: str = "access_change.csv"
    by_area: str = "coverage_by_area_change.csv"
    by_group: str = "coverage_by_group_change.csv"
    indicators: str = "indicators_change.csv"
    facilities: str = "facility_change.csv"
    loss_zones: str = "loss_zones.csv"
    time_change: str = "time_change.tif"
    access_change: str = "access_change.tif"
    layers: str = "comparison.gpkg"
    map: str = "comparison_map.html"
    report_html: str = "comparison.html"
    report_md: str = "comparison.md"
    report_pdf: str = "comparison.pdf"
    #: a scenario set: the baseline's run folder and the comparisons' folder
    baseline: str = "baseline"
    comparisons: str = "comparison"
    #: the ``indicators.csv`` of a run, compared when both runs hold one
    run_indicators: str = "indicators.csv"


COMPARISON_FILES = ComparisonFiles()
