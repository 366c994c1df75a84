"""Planner outputs of a finished run folder: map size against its budget, build times.

Usage::

    python scripts/bench_outputs.py RUN_DIR

Baseline (same run): the same map with no simplification and full-precision
coordinates.  Prints both sizes, their ratio, the share of the 10 MB budget used, and the
time to rebuild the map and the report (figures included).  Nothing in RUN_DIR changes:
outputs go to a temporary folder copy.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from accessmap.outputs.maps import COORD_DECIMALS, TOLERANCE_M, write_map
from accessmap.outputs.report import write_report

BUDGET_MB = 10.0


def _timed_map(run: Path, out: Path) -> tuple[float, float]:
    start = time.perf_counter()
    write_map(run, out, offline=True, overwrite=True)
    return time.perf_counter() - start, out.stat().st_size / 1e6


def main(run_dir: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        shutil.copytree(run_dir, run)
        seconds, size = _timed_map(run, run / "map.html")
        tolerance, _decimals = dict(TOLERANCE_M), COORD_DECIMALS
        TOLERANCE_M.clear()
        try:
            base_seconds, base_size = _timed_map(run, run / "map_raw.html")
        finally:
            TOLERANCE_M.update(tolerance)
        start = time.perf_counter()
        write_report(run, overwrite=True)
        report_s = time.perf_counter() - start
    print(f"map (offline, simplified): {size:.2f} MB in {seconds:.1f} s "
          f"({size / BUDGET_MB:.1%} of the {BUDGET_MB:g} MB budget)")
    print(f"baseline (no simplification, full coordinates): {base_size:.2f} MB in "
          f"{base_seconds:.1f} s; simplified/baseline size ratio {size / base_size:.2f}")
    print(f"report + figures: {report_s:.1f} s")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
