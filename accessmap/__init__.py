"""accessmap: who lives too far from care, and where new sites would help most.

``import accessmap`` is fast: the public names below are imported on first use, so a
script pays only for what it touches (folium, matplotlib and OR-Tools load only when a map,
a figure or a circuit is made).

Examples
--------
>>> import accessmap
>>> scenario = accessmap.Scenario(network="roads.osm.pbf", population="pop.tif",
...                               facilities="health.gpkg")  # doctest: +SKIP
>>> result = accessmap.run(scenario)                          # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from accessmap._version import __version__

logging.getLogger(__name__).addHandler(logging.NullHandler())

#: Public name -> module that defines it (imported lazily by ``__getattr__``).
_PUBLIC: dict[str, str] = {
    # running
    "run": "accessmap.pipeline",
    "RunResult": "accessmap.pipeline",
    "Scenario": "accessmap.config",
    "load_scenario": "accessmap.config",
    "Progress": "accessmap.progress",
    "CancelToken": "accessmap.progress",
    # inputs
    "load_network": "accessmap.inputs.network",
    "load_population": "accessmap.inputs.population",
    "load_facilities": "accessmap.inputs.facilities",
    "load_admin_areas": "accessmap.inputs.areas",
    "RoadNetwork": "accessmap.routing.network",
    "Population": "accessmap.inputs.population",
    # routing
    "nearest_facility_times": "accessmap.routing.travel_times",
    "Access": "accessmap.routing.travel_times",
    "walk_drive_times": "accessmap.routing.multimodal",
    "SpeedProfile": "accessmap.routing.modes",
    # analysis
    "coverage_table": "accessmap.analysis.coverage",
    "coverage_by": "accessmap.analysis.coverage",
    "underserved_zones": "accessmap.analysis.zones",
    "two_step_fca": "accessmap.analysis.catchments",
    "weighted_gini": "accessmap.analysis.equity",
    "travel_time_inequality": "accessmap.analysis.equity",
    # siting
    "recommend_sites": "accessmap.siting.plan",
    "SitingPlan": "accessmap.siting.plan",
    # the run record
    "RunFolder": "accessmap.record",
    # comparison of runs and scenario sets
    "compare_runs": "accessmap.compare",
    "run_scenarios": "accessmap.compare",
    # errors and warnings
    "AccessmapError": "accessmap.errors",
    "ConfigError": "accessmap.errors",
    "InputDataError": "accessmap.errors",
    "InputFileError": "accessmap.errors",
    "NetworkError": "accessmap.errors",
    "OutputError": "accessmap.errors",
    "SolverError": "accessmap.errors",
    "Cancelled": "accessmap.errors",
    "AccessmapWarning": "accessmap.errors",
    "DataQualityWarning": "accessmap.errors",
}

__all__ = [
    "Access",
    "AccessmapError",
    "AccessmapWarning",
    "CancelToken",
    "Cancelled",
    "ConfigError",
    "DataQualityWarning",
    "InputDataError",
    "InputFileError",
    "NetworkError",
    "OutputError",
    "Population",
    "Progress",
    "RoadNetwork",
    "RunFolder",
    "RunResult",
    "Scenario",
    "SitingPlan",
    "SolverError",
    "SpeedProfile",
    "__version__",
    "compare_runs",
    "coverage_by",
    "coverage_table",
    "load_admin_areas",
    "load_facilities",
    "load_network",
    "load_population",
    "load_scenario",
    "nearest_facility_times",
    "recommend_sites",
    "run",
    "run_scenarios",
    "travel_time_inequality",
    "two_step_fca",
    "underserved_zones",
    "walk_drive_times",
    "weighted_gini",
]


def __getattr__(name: str) -> Any:
    """Import a public name on first use."""
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'accessmap' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # static checkers see the real names
    from accessmap.analysis.catchments import two_step_fca
    from accessmap.analysis.coverage import coverage_by, coverage_table
    from accessmap.analysis.equity import travel_time_inequality, weighted_gini
    from accessmap.analysis.zones import underserved_zones
    from accessmap.compare import compare_runs, run_scenarios
    from accessmap.config import Scenario, load_scenario
    from accessmap.errors import (
        AccessmapError,
        AccessmapWarning,
        Cancelled,
        ConfigError,
        DataQualityWarning,
        InputDataError,
        InputFileError,
        NetworkError,
        OutputError,
        SolverError,
    )
    from accessmap.inputs.areas import load_admin_areas
    from accessmap.inputs.facilities import load_facilities
    from accessmap.inputs.network import load_network
    from accessmap.inputs.population import Population, load_population
    from accessmap.pipeline import RunResult, run
    from accessmap.progress import CancelToken, Progress
    from accessmap.record import RunFolder
    from accessmap.routing.modes import SpeedProfile
    from accessmap.routing.multimodal import walk_drive_times
    from accessmap.routing.network import RoadNetwork
    from accessmap.routing.travel_times import Access, nearest_facility_times
    from accessmap.siting.plan import SitingPlan, recommend_sites
