"""Run a scenario set: the baseline, each named scenario, and their comparisons.

``accessmap run scenarios.toml --out DIR`` (a scenario file with ``[scenarios.NAME]``
tables, see :mod:`accessmap.config.scenario_set`) writes

* ``DIR/baseline/``: the baseline's run folder;
* ``DIR/NAME/``: each scenario's run folder;
* ``DIR/comparison/NAME/``: each scenario compared with the baseline
  (:func:`~accessmap.compare.runs.compare_runs`);
* ``DIR/comparison.json``: every comparison in one file (``comparison_set.schema.json``).

Each folder is written atomically; the runs go one after another.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from accessmap._files import write_json
from accessmap.compare.runs import ComparisonResult, compare_runs
from accessmap.config.scenario_set import load_scenario_set
from accessmap.progress import CancelToken, ProgressEvent
from accessmap.schemas import comparison as spec
from accessmap.schemas.names import COMPARISON_FILES
from accessmap.schemas.summary import to_json

__all__ = ["ScenarioSetResult", "run_scenarios"]

logger = logging.getLogger(__name__)

ScenarioSetResult = dict[str, ComparisonResult]


def run_scenarios(
    path: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    offline: bool = True,
    progress: Callable[[ProgressEvent], None] | None = None,
    cancel: CancelToken | None = None,
) -> ScenarioSetResult:
    """Run the baseline and every scenario of a scenario-set file, then compare them.

    Parameters
    ----------
    path
        Scenario file with ``[scenarios.NAME]`` tables.
    out
        Output folder ``DIR`` (default: the baseline's ``[output] out``).
    overwrite
        Replace existing run and comparison folders.
    offline
        Inline the maps' JavaScript/CSS (default).
    progress
        Receives every run's progress events (each run goes from 0 to 1).
    cancel
        Set it (from another thread) to stop the current run; finished folders stay.

    Returns
    -------
    dict
        Scenario name -> its comparison with the baseline (``path`` set).

    Raises
    ------
    ConfigError
        The file or a scenario is not valid (checked before any run starts).
    AccessmapError
        A run or comparison failed; folders finished before it stay.
    """
    from accessmap.pipeline import run

    scenario_set = load_scenario_set(path)
    folder = Path(out) if out is not None else Path(scenario_set.baseline.output.out)
    runs = {COMPARISON_FILES.baseline: scenario_set.baseline, **scenario_set.scenarios}
    for name, scenario in runs.items():
        logger.info("scenario set: running %s", name)
        run(scenario.replace(out=folder / name), overwrite=overwrite, offline=offline,
            progress=progress, cancel=cancel)
    results: ScenarioSetResult = {}
    for name in scenario_set.scenarios:
        results[name] = compare_runs(
            folder / COMPARISON_FILES.baseline, folder / name,
            out=folder / COMPARISON_FILES.comparisons / name, overwrite=overwrite,
            offline=offline, name=name)
    combined = spec.ScenarioSetComparison(
        comparison_version=spec.COMPARISON_VERSION,
        baseline=str(folder / COMPARISON_FILES.baseline),
        scenarios={n: r.summary for n, r in results.items()})
    staged = folder / f".{COMPARISON_FILES.comparison}.tmp"
    write_json(staged, to_json(combined))
    staged.replace(folder / COMPARISON_FILES.comparison)
    logger.info("scenario set written: %s", folder)
    return results
