"""Planner outputs built from a run folder: map, figures, report, QGIS styles.

:func:`planner_writers` is the one list of them, handed to
:func:`accessmap.record.write_run_folder` as its extra writers.  Submodules are imported
lazily (folium and matplotlib are heavy).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from accessmap.schemas.names import FILES

__all__ = ["planner_writers"]


def planner_writers(*, offline: bool = True) -> dict[str, Callable[[Path], None]]:
    """Writers of the planner outputs, each building from the (staged) run folder.

    They run after the data files, in this order: QGIS default styles added to
    ``layers.gpkg``, ``map.html``, then ``report.html`` (which also writes ``report.md``
    and the figures beside it).

    Parameters
    ----------
    offline
        Inline the map's JavaScript/CSS so ``map.html`` opens with no internet (default).
    """

    def style_writer(path: Path) -> None:
        from accessmap.outputs.qgis import write_layer_styles

        if path.is_file():
            write_layer_styles(path)

    def map_writer(path: Path) -> None:
        from accessmap.outputs.maps import write_map

        write_map(path.parent, path, offline=offline, overwrite=True)

    def report_writer(path: Path) -> None:
        from accessmap.outputs.report import write_report

        write_report(path.parent, overwrite=True)

    return {FILES.layers: style_writer, FILES.map: map_writer, FILES.report_html: report_writer}
