"""``summary.json`` as typed dataclasses: every key, its nesting and type, and the version.

:class:`Summary` is the top level; :func:`summary_schema` makes its JSON Schema (shipped
as ``summary.schema.json``).  Tables whose columns follow the thresholds or the groups of
a run (``coverage_by_area``, ``isochrone_bands``, ...) are lists of plain mappings.
Re-exported by :mod:`accessmap.record`, the public home of the run record.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, Union

from accessmap.schemas import dataclass_schema, dumps

__all__ = [
    "RECORD_VERSION",
    "Accessibility",
    "Circuit",
    "CircuitDay",
    "CircuitStop",
    "CoverageRow",
    "CoverageTarget",
    "Equity",
    "FacilityChange",
    "FacilityChanges",
    "IndicatorCoverage",
    "IndicatorSummary",
    "InputFile",
    "MarginalGainRow",
    "NetworkComponents",
    "NetworkSummary",
    "RoadChangesSummary",
    "RunInfo",
    "Site",
    "SitingInfo",
    "Summary",
    "UnreachableDetail",
    "UnservedStop",
    "ZoneSummary",
    "from_json",
    "summary_schema",
    "to_json",
    "write_summary_schema",
]

#: Version of the run folder's format; a reader refuses folders of another version.
RECORD_VERSION = 1

#: ``$id`` of the summary schema.
SCHEMA_ID = "https://accessmap.invalid/schemas/summary.schema.json"

_OPTIONAL = {"optional": True}  # the key is left out when its value is None
T = TypeVar("T")


@dataclass
class CoverageRow:
    """People whose trip to the nearest facility takes at most ``threshold_min``."""

    threshold_min: float
    population: float
    share: float | None


@dataclass
class UnreachableDetail:
    """People with no travel time: farther than the snap distance, or on a cut-off piece."""

    off_network: float
    no_route: float
    total: float


@dataclass
class Site:
    """One recommended site (``recommended_sites`` entry, ``sites.csv`` row)."""

    rank: int
    kind: str
    lon: float
    lat: float
    added_population: float
    weighted_gain: float | None
    cumulative_share: float | None
    nearest_facility: str | None
    nearest_facility_time_min: float | None


@dataclass
class CoverageTarget:
    """Fewest sites reaching a coverage target (LSCP)."""

    target_share: float
    threshold_min: float
    feasible: bool
    sites_needed: int | None
    best_reachable_share: float | None
    model: str
    solver_status: str
    message: str | None


@dataclass
class SitingInfo:
    """The site-selection model run (``siting``)."""

    model: str
    objective: float
    greedy_objective: float
    gap: float | None
    solver_status: str
    candidates: int
    weighting: str
    threshold_min: float
    notes: list[str]
    coverage_target: CoverageTarget | None
    demand_groups: int | None = field(default=None, metadata=_OPTIONAL)
    solver_seconds: float | None = field(default=None, metadata=_OPTIONAL)


@dataclass
class MarginalGainRow:
    """Coverage after the first ``sites`` new sites."""

    sites: int
    added_population: float
    cumulative_added: float
    covered_population: float
    cumulative_share: float | None


@dataclass
class CircuitStop:
    """A mobile-unit visit: site rank, arrival (minutes after leaving base), people."""

    stop: int
    arrival_min: float
    people: float


@dataclass
class CircuitDay:
    """One day of a mobile unit."""

    day: int
    drive_min: float
    total_min: float
    stops: list[CircuitStop]


@dataclass
class Circuit:
    """One mobile unit: its base facility and days."""

    unit: int
    base: str
    days: list[CircuitDay]


@dataclass
class UnservedStop:
    """A mobile-unit stop no base can serve, and why."""

    stop: int
    reason: str


@dataclass
class NetworkSummary:
    """The travel mode's road network."""

    mode: str
    nodes: int
    segments: int
    length_km: float
    components: int
    largest_component_nodes: int
    crs: str


@dataclass
class NetworkComponents:
    """Disconnected road pieces and the people stranded on them."""

    components: int
    largest_share_of_nodes: float
    population_on_pieces_without_facility: float
    facilities_on_minor_pieces: int
    #: People with no route, by cause (the report's data-quality annex shows these):
    #: on road pieces no facility is on, and on pieces with one (one-way roads block them).
    no_route_on_pieces_without_facility: float = 0.0
    no_route_on_one_way_dead_ends: float = 0.0
    #: People whose nearest road led nowhere, snapped to one that leads to care (reached).
    moved_to_reachable_road: float = 0.0


@dataclass
class ZoneSummary:
    """Underserved zones: count, people, the largest ten."""

    threshold_min: float
    zones: int
    population: float
    largest: list[dict[str, Any]]


@dataclass
class Accessibility:
    """Two-step floating catchment area (2SFCA) accessibility."""

    catchment_threshold_min: float
    supply_unit: str
    mean_per_1000_people: float | None
    population_without_facility_in_catchment: float


@dataclass
class Equity:
    """Gaps between groups, inequality of travel time, rural share of the underserved."""

    coverage_gaps: dict[str, list[dict[str, Any]]]
    travel_time_inequality: dict[str, Any]
    underserved_threshold_min: float
    rural_share_of_underserved: float | None


@dataclass
class ReferralSummary:
    """Referral from lower-level facilities to the nearest higher level (``referral.csv``)."""

    level_column: str
    levels: list[str]
    facilities: int
    reachable: int
    unreachable: list[str]
    median_time_min: float | None
    max_time_min: float | None


@dataclass
class IndicatorCoverage:
    """People of an indicator's target group within one of its thresholds."""

    threshold_min: float
    population_within: float
    share_within: float | None
    met: bool | None


@dataclass
class IndicatorSummary:
    """An ``[[indicators]]`` entry: coverage by the facilities of one service
    (``indicators.csv``, ``indicators_wide.csv``)."""

    name: str
    facilities: str
    facilities_counted: int
    population_subset: str
    population: float
    target_share: float | None
    coverage: list[IndicatorCoverage]
    no_route: float
    off_network: float


@dataclass
class FacilityChange:
    """A facility a scenario closed, left out by a filter, or added, and why."""

    facility_id: str
    name: str
    reason: str


@dataclass
class FacilityChanges:
    """The scenario's facility changes (``[facilities]`` close, filters and planned)."""

    closed: list[FacilityChange]
    filtered: list[FacilityChange]
    added: list[FacilityChange]


@dataclass
class RoadChangesSummary:
    """Roads closed or slowed by ``[roads]``, and who lost their route (against the same
    run on the unchanged roads); present only when ``[roads]`` changes roads."""

    segments_closed: int
    segments_slowed: int
    closed_km: float
    slowed_km: float
    closed_ways: list[int]
    facilities_lost_road: list[str]
    population_lost_route: float
    population_in_closed_areas: float
    population_slower: float
    population_faster: float
    coverage_unchanged: list[CoverageRow]


@dataclass
class InputFile:
    """An input file of the run and its sha256."""

    path: str
    sha256: str


@dataclass
class RunInfo:
    """What made the run: versions, inputs and every resolved setting."""

    accessmap_version: str
    inputs: dict[str, InputFile]
    settings: dict[str, Any]
    record_version: int = RECORD_VERSION


@dataclass
class Summary:
    """The headline figures of a run (``summary.json``)."""

    title: str
    synthetic_data: bool
    population_total: float
    coverage: list[CoverageRow]
    unreachable_population: float
    unreachable_detail: UnreachableDetail
    facilities_used: int
    facilities_unsnapped: list[str]
    facilities_dropped: list[dict[str, Any]]
    recommended_sites: list[Site]
    siting_threshold_min: float
    coverage_with_new_sites: list[CoverageRow]
    network: NetworkSummary
    network_components: NetworkComponents
    run: RunInfo
    timings_s: dict[str, float]
    siting: SitingInfo
    marginal_gain: list[MarginalGainRow]
    mobile_circuits: list[Circuit]
    mobile_unserved: list[UnservedStop]
    coverage_by_area: list[dict[str, Any]]
    coverage_by_group: list[dict[str, Any]]
    settlement_population: dict[str, float]
    isochrone_bands: list[dict[str, Any]]
    underserved_zones: ZoneSummary
    accessibility_2sfca: Accessibility
    equity: Equity
    referral: ReferralSummary | None = field(default=None, metadata={"optional": True})
    indicators: list[IndicatorSummary] | None = field(default=None, metadata=_OPTIONAL)
    facility_changes: FacilityChanges | None = field(default=None, metadata=_OPTIONAL)
    road_changes: RoadChangesSummary | None = field(default=None, metadata=_OPTIONAL)

    def to_dict(self) -> dict[str, Any]:
        """The summary as ``summary.json`` holds it (JSON-ready)."""
        data: dict[str, Any] = to_json(self)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Summary:
        """Build from a ``summary.json`` mapping (validate it first)."""
        return from_json(cls, data)


def summary_schema() -> dict[str, Any]:
    """JSON Schema of ``summary.json`` (the shipped ``summary.schema.json``)."""
    return dataclass_schema(Summary, title="accessmap summary.json", schema_id=SCHEMA_ID,
                            const={"run.record_version": RECORD_VERSION})


def to_json(value: Any) -> Any:
    """Dataclasses to dicts (optional ``None`` fields left out); numpy scalars to Python."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not (f.metadata.get("optional") and getattr(value, f.name) is None)}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value


def from_json(cls: type[T], data: Any) -> T:
    """Build dataclass ``cls`` from JSON data, nested dataclasses included."""
    out: T = _convert(cls, data)
    return out


def _convert(hint: Any, value: Any) -> Any:
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        hints = typing.get_type_hints(hint)
        names = {f.name for f in dataclasses.fields(hint)}
        unknown = set(value) - names
        if unknown:
            raise TypeError(f"{hint.__name__} has no key(s) {', '.join(sorted(unknown))}")
        return hint(**{k: _convert(hints[k], v) for k, v in value.items()})
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if value is None:
        return None
    if origin in (Union, types.UnionType):
        chosen = next((a for a in args if a is not type(None)), Any)
        return _convert(chosen, value)
    if origin is list:
        return [_convert(args[0], v) for v in value]
    if origin is dict:
        return {k: _convert(args[1], v) for k, v in value.items()}
    return value


def write_summary_schema(path: str | os.PathLike[str] | None = None) -> Path:
    """Write the generated summary schema (default: the shipped ``summary.schema.json``).

    Run ``python -c "import accessmap.record as r; r.write_summary_schema()"`` after
    changing a dataclass of this module.
    """
    target = Path(path) if path else Path(__file__).with_name("summary.schema.json")
    target.write_text(dumps(summary_schema()), encoding="utf-8")
    return target
