"""Planner documents built from a run folder: ``report.html`` and ``report.md``.

Also :func:`planner_writers`, the output writers the pipeline runs after the data files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from accessmap import maps

logger = logging.getLogger(__name__)


def planner_writers(*, offline: bool = False) -> dict[str, Callable[[Path], None]]:
    """Writers of the planner outputs, each building from the (staged) run folder.

    They must run after ``summary.json``, ``layers.gpkg`` and the other data files.
    """

    def write_map(path: Path) -> None:
        maps.write_map(path.parent, path, offline=offline, overwrite=True)

    return {"map.html": write_map}
