"""Colours, travel-time classes and escaping shared by the map, figures and report."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from accessmap.errors import OutputError

__all__ = ["COVERAGE_COLOURS", "LAYER_TITLES", "NO_ROUTE_COLOUR", "TIME_COLOURS", "TimeClass",
           "classify_minutes", "escape", "time_classes"]

#: Colours of the travel-time classes, near (green) to far (dark red).
TIME_COLOURS = ("#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027", "#7f0000")


#: Colours of the coverage-share classes (0-100 % in equal steps) of admin areas.
COVERAGE_COLOURS = ("#f7fcb9", "#d9f0a3", "#addd8e", "#78c679", "#31a354", "#006837")


#: Colour of people with no route to any facility.
NO_ROUTE_COLOUR = "#5a5a5a"


#: Human names of the optional layers, in drawing order.
LAYER_TITLES = {
    "roads": "Roads (context)",
    "admin_areas": "Admin areas",
    "isochrone_bands": "Isochrone bands",
    "facilities": "Existing facilities",
    "catchments": "Facility catchments",
    "underserved_zones": "Underserved zones",
    "recommended_sites": "Recommended sites",
    "mobile_routes": "Mobile-unit routes",
    "demand_points": "Demand points",
}


def escape(value: Any) -> str:
    """HTML-escape a value for display, also neutralising JS template-literal syntax.

    Names come from OSM and user files; they are shown as text, never markup.

    Examples
    --------
    >>> escape("<b>A & B</b> `${x}`")
    '&lt;b&gt;A &amp; B&lt;/b&gt; &#96;&#36;{x}&#96;'
    """
    text = html.escape(str(value), quote=True)
    return text.replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")


@dataclass(frozen=True)
class TimeClass:
    """One travel-time class: label (e.g. ``30-60 min``), upper bound, colour."""

    label: str
    upper_min: float
    colour: str


def time_classes(thresholds_min: Sequence[float]) -> list[TimeClass]:
    """Travel-time classes for the thresholds: one per band plus one beyond the last.

    Examples
    --------
    >>> [c.label for c in time_classes([30, 60])]
    ['0-30 min', '30-60 min', 'over 60 min']
    """
    edges = sorted(float(t) for t in thresholds_min)
    if not edges:
        raise OutputError("no travel-time thresholds in summary.json settings")
    if len(edges) >= len(TIME_COLOURS):
        raise OutputError(f"at most {len(TIME_COLOURS) - 1} thresholds can be drawn; got "
                          f"{len(edges)}")
    colours = _spread_colours(len(edges) + 1)
    classes, lower = [], 0.0
    for edge, colour in zip(edges, colours, strict=False):
        classes.append(TimeClass(f"{lower:g}-{edge:g} min", edge, colour))
        lower = edge
    classes.append(TimeClass(f"over {lower:g} min", float("inf"), colours[-1]))
    return classes


def _spread_colours(n: int) -> list[str]:
    """Pick ``n`` colours spanning the whole green-to-red ramp."""
    picks = np.round(np.linspace(0, len(TIME_COLOURS) - 1, n)).astype(int)
    return [TIME_COLOURS[i] for i in picks]


def classify_minutes(minutes: NDArray[np.floating[Any]], thresholds_min: Sequence[float]
                     ) -> NDArray[np.int64]:
    """Class index of each time (``len(thresholds)`` beyond the last; -1 for NaN)."""
    edges = np.asarray(sorted(float(t) for t in thresholds_min))
    classes = np.searchsorted(edges, minutes, side="left").astype(np.int64)
    classes[~np.isfinite(minutes)] = -1
    return classes
