"""The golden view of a run folder: every figure a run reports, minus what varies by run.

A refactor must keep these equal (floats to 1e-9).  Regenerate the stored views only when a
change of figures is intended and explained:
``ACCESSMAP_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py``.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).with_name("golden")
# Keys of summary.json that describe the run rather than its results.
VOLATILE = ("run", "timings_s")


def _cell(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def golden_view(run_dir: Path) -> dict[str, Any]:
    """Return the summary (without volatile keys) and every CSV table of ``run_dir``."""
    summary = json.loads((run_dir / "summary.json").read_text())
    view: dict[str, Any] = {"summary": {k: v for k, v in summary.items() if k not in VOLATILE}}
    view["summary"].get("siting", {}).pop("solver_seconds", None)  # a timing
    for table in sorted(run_dir.glob("*.csv")):
        with table.open(newline="", encoding="utf-8") as handle:
            view[table.name] = [{k: _cell(v) for k, v in row.items()}
                                for row in csv.DictReader(handle)]
    return view


def differences(expected: Any, actual: Any, where: str = "") -> list[str]:
    """List where ``actual`` differs from ``expected`` (numbers to a relative 1e-9)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = [f"{where}/{k}: missing" for k in expected if k not in actual]
        out += [f"{where}/{k}: unexpected" for k in actual if k not in expected]
        for key in expected.keys() & actual.keys():
            out += differences(expected[key], actual[key], f"{where}/{key}")
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{where}: {len(actual)} items, expected {len(expected)}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual, strict=True))
                for d in differences(e, a, f"{where}[{i}]")]
    numbers = (int, float)
    if (isinstance(expected, numbers) and isinstance(actual, numbers)
            and not isinstance(expected, bool) and not isinstance(actual, bool)):
        if math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-9) or (
                math.isnan(expected) and math.isnan(actual)):
            return []
        return [f"{where}: {actual!r}, expected {expected!r}"]
    return [] if expected == actual else [f"{where}: {actual!r}, expected {expected!r}"]


def stored(name: str) -> dict[str, Any]:
    """Return the stored golden view ``name``."""
    result: dict[str, Any] = json.loads((GOLDEN / f"{name}.json").read_text())
    return result


def store(name: str, view: dict[str, Any]) -> None:
    """Write the golden view ``name``."""
    GOLDEN.mkdir(exist_ok=True)
    (GOLDEN / f"{name}.json").write_text(json.dumps(view, indent=1, sort_keys=True) + "\n")
