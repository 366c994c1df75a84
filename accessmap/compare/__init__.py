"""Comparison of runs and scenario sets (issue 12).

:func:`compare_runs` compares two finished run folders of the same study area and writes a
comparison folder; :func:`run_scenarios` runs a baseline and the named scenarios of one
scenario file, then compares each with the baseline.
"""

from __future__ import annotations

from accessmap.compare.runs import ComparisonResult, compare_runs
from accessmap.compare.scenarios import run_scenarios

__all__ = ["ComparisonResult", "compare_runs", "run_scenarios"]
