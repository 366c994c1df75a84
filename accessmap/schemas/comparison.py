"""``comparison.json`` as typed dataclasses (one comparison, and a scenario set).

:class:`Comparison` is what ``accessmap compare RUN_A RUN_B`` writes into its folder;
:class:`ScenarioSetComparison` is the combined ``comparison.json`` of a multi-scenario
run (each scenario against the baseline).  Their JSON Schemas ship as ``comparison.schema.json``
and ``comparison_set.schema.json``; regenerate them with
``python -c "import accessmap.schemas.comparison as c; c.write_comparison_schemas()"``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accessmap.schemas import dataclass_schema, dumps

__all__ = ["COMPARISON_VERSION", "AccessChangeRow", "ComparedRun", "Comparison",
           "FacilityChanges", "LossZoneSummary", "ScenarioSetComparison",
           "TimeChangeSummary", "comparison_schema", "scenario_set_schema",
           "write_comparison_schemas"]

#: Version of ``comparison.json``; bump it when a key changes meaning.
COMPARISON_VERSION = 1

_BASE_ID = "https://accessmap.invalid/schemas/"


@dataclass
class ComparedRun:
    """One of the two runs compared."""

    path: str
    title: str
    population_total: float
    facilities_used: int


@dataclass
class AccessChangeRow:
    """People within one threshold in both runs, and who loses or gains access."""

    threshold_min: float
    population_a: float
    population_b: float
    population_change: float
    share_a: float | None
    share_b: float | None
    share_change: float | None
    losing_population: float
    gaining_population: float


@dataclass
class TimeChangeSummary:
    """People by category of travel-time change (``access_change.tif``)."""

    population_slower: float
    population_faster: float
    population_lost_route: float
    population_gained_route: float
    population_weighted_mean_change_min: float | None


@dataclass
class LossZoneSummary:
    """Connected areas whose people lose access within some threshold."""

    zones: int
    population: float
    largest: list[dict[str, Any]]


@dataclass
class FacilityChanges:
    """Facilities closed or opened, and the largest catchment-population changes."""

    key: str
    closed: list[str]
    opened: list[str]
    largest_changes: list[dict[str, Any]]


@dataclass
class Comparison:
    """Scenario ``b`` against baseline ``a`` on the same study area (changes are b - a)."""

    comparison_version: int
    accessmap_version: str
    baseline: ComparedRun
    scenario: ComparedRun
    thresholds_min: list[float]
    sentences: list[str]
    access: list[AccessChangeRow]
    unreachable_change: float
    time_change: TimeChangeSummary
    by_area: list[dict[str, Any]]
    by_group: list[dict[str, Any]]
    indicators: list[dict[str, Any]]
    loss_zones: LossZoneSummary
    facilities: FacilityChanges


@dataclass
class ScenarioSetComparison:
    """A multi-scenario run: each scenario's comparison against the baseline."""

    comparison_version: int
    baseline: str
    scenarios: dict[str, Comparison]


def comparison_schema() -> dict[str, Any]:
    """JSON Schema of a comparison folder's ``comparison.json``."""
    return dataclass_schema(Comparison, title="accessmap comparison.json",
                            schema_id=_BASE_ID + "comparison.schema.json",
                            const={"comparison_version": COMPARISON_VERSION})


def scenario_set_schema() -> dict[str, Any]:
    """JSON Schema of a multi-scenario run's combined ``comparison.json``."""
    return dataclass_schema(ScenarioSetComparison,
                            title="accessmap scenario set comparison.json",
                            schema_id=_BASE_ID + "comparison_set.schema.json",
                            const={"comparison_version": COMPARISON_VERSION})


def write_comparison_schemas(folder: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write both generated schemas (default: the shipped files beside this module)."""
    target = Path(folder) if folder else Path(__file__).parent
    out = []
    for name, schema in (("comparison", comparison_schema()),
                         ("comparison_set", scenario_set_schema())):
        path = target / f"{name}.schema.json"
        path.write_text(dumps(schema), encoding="utf-8")
        out.append(path)
    return out
