"""Colours, symbols, travel-time classes, number formats and escaping shared by the map,
figures and report, so a symbol means the same on the web map and on paper."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from accessmap.errors import OutputError

__all__ = ["COVERAGE_COLOURS", "DAY_COLOURS", "LAYER_TITLES", "NO_ROUTE_COLOUR", "SITE_STYLES",
           "SYMBOLS", "TIME_COLOURS", "TIME_OPACITY", "ZONE_COLOUR", "MarkStyle", "Symbol",
           "TimeClass", "classify_minutes", "escape", "facility_styles", "format_number",
           "format_people", "time_classes"]

#: Colours of the travel-time classes, near (green) to far (dark red).
TIME_COLOURS = ("#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027", "#7f0000")


#: Colours of the coverage-share classes (0-100 % in equal steps) of admin areas.
COVERAGE_COLOURS = ("#f7fcb9", "#d9f0a3", "#addd8e", "#78c679", "#31a354", "#006837")


#: Colour of people with no route to any facility.
NO_ROUTE_COLOUR = "#5a5a5a"


#: Opacity of the travel-time classes as drawn on the map (image alpha x layer opacity).
TIME_OPACITY = round(210 / 255 * 0.85, 2)


#: Outline colour of underserved zones.
ZONE_COLOUR = "#7a0177"


#: Colours of the mobile-unit route days (day 1, 2, ...; repeating).
DAY_COLOURS = ("#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf")


@dataclass(frozen=True)
class Symbol:
    """A point symbol drawn the same way by matplotlib (``marker``) and CSS (``css``)."""

    marker: str
    css: str


#: Point symbols by name: matplotlib marker and the CSS that shapes a square ``div``.
SYMBOLS = {
    "circle": Symbol("o", "border-radius:50%"),
    "square": Symbol("s", "border-radius:1px"),
    "diamond": Symbol("D", "clip-path:polygon(50% 0,100% 50%,50% 100%,0 50%)"),
    "triangle": Symbol("^", "clip-path:polygon(50% 0,100% 100%,0 100%)"),
    "triangle_down": Symbol("v", "clip-path:polygon(0 0,100% 0,50% 100%)"),
    "pentagon": Symbol("p", "clip-path:polygon(50% 0,100% 38%,81% 100%,19% 100%,0 38%)"),
    "hexagon": Symbol("h", "clip-path:polygon(50% 0,100% 25%,100% 75%,50% 100%,0 75%,0 25%)"),
}


@dataclass(frozen=True)
class MarkStyle:
    """How one kind of point is drawn: symbol name, fill colour and legend label."""

    symbol: str
    colour: str
    label: str

    @property
    def marker(self) -> str:
        """The matplotlib marker of the symbol."""
        return SYMBOLS[self.symbol].marker

    def css(self, size_px: int) -> str:
        """Inline CSS of a ``div`` drawing the symbol at ``size_px``."""
        return (f"width:{size_px}px;height:{size_px}px;background:{self.colour};"
                f"{SYMBOLS[self.symbol].css}")


#: Recommended sites: satellite clinics are purple squares, mobile-unit stops orange
#: diamonds (map, figures and legends alike).
SITE_STYLES = {
    "satellite_clinic": MarkStyle("square", "#54278f", "satellite clinic"),
    "mobile_unit_stop": MarkStyle("diamond", "#e6550d", "mobile-unit stop"),
}


#: Symbols and colours of the facility types (blues and greys, apart from the sites').
_FACILITY_LOOKS = (("circle", "#08306b"), ("triangle", "#2171b5"), ("pentagon", "#00acc1"),
                   ("hexagon", "#252525"), ("triangle_down", "#6baed6"),
                   ("circle", "#737373"), ("triangle", "#006d77"), ("pentagon", "#4292c6"))


def facility_styles(types: Sequence[Any]) -> dict[str, MarkStyle]:
    """Symbol and colour of each facility type, the commonest first (ties by name).

    Examples
    --------
    >>> {k: (s.symbol, s.colour) for k, s in facility_styles(["a", "b", "b"]).items()}
    {'b': ('circle', '#08306b'), 'a': ('triangle', '#2171b5')}
    """
    counts: dict[str, int] = {}
    for value in types:
        name = "unknown" if value is None or value != value else str(value)
        counts[name] = counts.get(name, 0) + 1
    order = sorted(counts, key=lambda name: (-counts[name], name))
    return {name: MarkStyle(*_FACILITY_LOOKS[i % len(_FACILITY_LOOKS)],
                            label=name.replace("_", " "))
            for i, name in enumerate(order)}


def format_people(value: Any) -> str:
    """A count of people: whole, with thousands separators (``-`` when missing).

    Examples
    --------
    >>> format_people(1234567.4), format_people(None)
    ('1,234,567', '-')
    """
    number = _finite(value)
    return "-" if number is None else f"{number:,.0f}"


def format_number(value: Any, *, significant: int = 3) -> str:
    """A number for people: thousands separators and never scientific notation.

    Examples
    --------
    >>> format_number(1234567.0), format_number(0.000123456), format_number(12.345)
    ('1,234,567', '0.000123', '12.3')
    """
    number = _finite(value)
    if number is None:
        return "-"
    if abs(number) >= 10 ** (significant - 1):
        return f"{number:,.0f}"
    text = str(np.format_float_positional(number, precision=significant, unique=False,
                                          fractional=False, trim="-"))
    return text


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


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
