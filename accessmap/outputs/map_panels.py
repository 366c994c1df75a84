"""The decision map's panels: title and summary, the complete legend, and the initial view.

Both panels are collapsible (``<details>``); a panel taller than 45 % of the window starts
closed.  The initial view is fitted, in the page, to the populated area with padding
chosen from the real sizes of the panels and controls, so no recommended site starts
under a panel at any window size (``tests/test_browser.py`` checks this at three sizes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import pandas as pd
from branca.element import MacroElement
from jinja2 import Template

from accessmap.outputs.map_layers import (
    SITE_PX,
    day_colour,
    facility_types,
)
from accessmap.outputs.style import (
    COVERAGE_COLOURS,
    NO_ROUTE_COLOUR,
    SITE_STYLES,
    TIME_OPACITY,
    ZONE_COLOUR,
    MarkStyle,
    escape,
    facility_styles,
    format_people,
    time_classes,
)
from accessmap.record import LAYERS, RunFolder

__all__ = ["PANEL_CSS", "FitView", "legend_panel", "summary_panel"]


#: CSS of the panels, the legend symbols and the marker icons.
PANEL_CSS = (
    "<style>.am-icon{filter:drop-shadow(0 0 1px #fff) drop-shadow(0 0 1px #000)}"
    ".am-icon div{display:flex;align-items:center;justify-content:center;"
    "font:bold 11px sans-serif;color:#fff;box-sizing:border-box}"
    ".am-panel{position:fixed;z-index:1000;background:rgba(255,255,255,.93);"
    "padding:6px 10px;border:1px solid #888;border-radius:4px;font:12px sans-serif;"
    "max-height:calc(100vh - 60px);overflow:auto;box-sizing:border-box}"
    ".am-panel summary{cursor:pointer;font-weight:bold}"
    ".am-panel table{border-collapse:collapse}.am-panel td,.am-panel th"
    "{padding:1px 5px;text-align:right}.am-swatch{display:inline-block;width:14px;"
    "height:10px;margin-right:4px;border:1px solid #777;vertical-align:middle}"
    ".am-sym{display:inline-block;vertical-align:middle;margin-right:4px;color:#fff;"
    "font:bold 9px sans-serif;text-align:center}"
    ".am-line{display:inline-block;width:16px;height:0;margin-right:4px;"
    "vertical-align:middle}.am-legend div{white-space:nowrap}</style>"
)


def summary_panel(run: RunFolder, notes: Sequence[str] = ()) -> str:
    """HTML of the collapsible title and summary panel (escaped)."""
    summary, thresholds = run.summary, run.thresholds_min
    label = ("<div style='color:#b30000;font-weight:bold'>SYNTHETIC DATA - not a real "
             "place</div>") if run.synthetic else ""
    after = {r["threshold_min"]: r for r in summary.get("coverage_with_new_sites") or []}
    n_sites = len(summary.get("recommended_sites") or [])
    rows = "".join(
        f"<tr><td>{float(r['threshold_min']):g} min</td><td>{_share(r.get('share'))}</td>"
        f"<td>{_share(after.get(r['threshold_min'], {}).get('share'))}</td></tr>"
        for r in summary["coverage"])
    unreachable = summary.get("unreachable_population")
    missing = ("<div style='color:#666'>Not shown: " + escape("; ".join(notes)) + "</div>"
               if notes else "")
    total = summary.get("population_total")
    return (
        "<details open class='am-panel am-summary' style='top:10px;left:54px;"
        "max-width:min(340px, calc(100vw - 120px))'>"
        f"<summary style='font-size:15px'>{escape(run.title)}</summary>{label}"
        f"<div>Mode: {escape(run.scenario.analysis.mode)}; thresholds "
        f"{escape(', '.join(f'{t:g}' for t in thresholds))} min</div>"
        + (f"<div>Population: {format_people(total)}</div>" if total is not None else "")
        + f"<table><tr><th>within</th><th>now</th><th>with {n_sites} new sites</th></tr>"
        f"{rows}</table>"
        + (f"<div>No route to care: {format_people(unreachable)} people</div>"
           if unreachable is not None else "")
        + _indicator_lines(summary.get("indicators") or [])
        + f"{missing}</details>"
    )


def _indicator_lines(entries: Sequence[Mapping[str, Any]]) -> str:
    """One line per ``[[indicators]]`` entry: the share within its largest threshold."""
    lines = []
    for entry in entries:
        last = entry["coverage"][-1]
        target = entry.get("target_share")
        verdict = ("" if target is None else f" (target {target:.0%}: "
                   + ("met" if last["met"] else "not met") + ")")
        lines.append(f"<div>{escape(entry['name'])}: {_share(last['share_within'])} of "
                     f"{escape(entry['population_subset'])} within "
                     f"{float(last['threshold_min']):g} min of {escape(entry['facilities'])}"
                     f"{escape(verdict)}</div>")
    return "".join(lines)


def _share(value: Any) -> str:
    return f"{float(value):.1%}" if value is not None else "-"


def _symbol(style: MarkStyle, size_px: int, text: str = "") -> str:
    return (f"<span class='am-sym' style='{style.css(size_px)};line-height:{size_px}px'>"
            f"{escape(text)}</span>")


def _row(swatch: str, label: str) -> str:
    return f"<div>{swatch}{escape(label)}</div>"


def _heading(text: str) -> str:
    return f"<div style='margin-top:4px'><b>{escape(text)}</b></div>"


def legend_panel(thresholds: Sequence[float], *, admin: bool = True, sites: bool = True,
                 layers: Mapping[str, gpd.GeoDataFrame | None] | None = None,
                 surface: bool = True) -> str:
    """HTML of the collapsible legend: every symbol the map draws, drawn the same way.

    Parameters
    ----------
    thresholds
        Travel-time thresholds (minutes): the classes of map, figures and report.
    admin
        Show the admin-area coverage classes.
    sites
        Show both recommended-site symbols (when ``layers`` does not say which exist).
    layers
        The map's layers by name; facility types, site kinds, zones, admin boundaries and
        route days are listed for those present.
    surface
        Show the travel-time classes (the run has a travel-time surface).
    """
    layers = layers or {}
    parts: list[str] = []
    if surface:
        parts.append(_heading("Travel time to nearest facility"))
        parts += [_row(f"<span class='am-swatch' style='background:{c.colour};opacity:"
                       f"{TIME_OPACITY}'></span>", c.label) for c in time_classes(thresholds)]
        parts.append(_row(f"<span class='am-swatch' style='background:{NO_ROUTE_COLOUR}'>"
                          "</span>", "no route"))
    facilities = layers.get(LAYERS.facilities)
    if facilities is not None and not facilities.empty:
        parts.append(_heading("Existing facilities"))
        parts += [_row(_symbol(look, 12), look.label)
                  for look in facility_styles(facility_types(facilities).tolist()).values()]
    kinds = _site_kinds(layers.get(LAYERS.recommended_sites), sites=sites)
    if kinds:
        parts.append(_heading("Recommended sites (number = rank)"))
        parts += [_row(_symbol(SITE_STYLES[k], SITE_PX - 4, "1"), SITE_STYLES[k].label)
                  for k in kinds]
    if _present(layers, LAYERS.underserved_zones):
        parts.append(_row(f"<span class='am-swatch' style='border:2px solid {ZONE_COLOUR};"
                          "background:rgba(197,27,138,.08)'></span>", "underserved zone"))
    if _present(layers, LAYERS.admin_areas) or admin:
        parts.append(_row("<span class='am-swatch' style='border:1.5px dashed #333;"
                          "background:none'></span>", "admin boundary"))
    if admin:
        coverage = "".join(
            f"<span class='am-swatch' style='background:{c};opacity:.75;margin:0'></span>"
            for c in COVERAGE_COLOURS)
        parts.append("<div><b>Admin-area coverage</b> (layer off at start)<br>0% "
                     f"{coverage} 100%</div>")
    routes = layers.get(LAYERS.mobile_routes)
    if routes is not None and not routes.empty and "day" in routes:
        parts.append(_heading("Mobile-unit routes"))
        parts += [_row(f"<span class='am-line' style='border-top:3px solid "
                       f"{day_colour(day)}'></span>", f"day {day}")
                  for day in sorted(pd.unique(routes["day"].dropna()), key=str)]
    if _present(layers, LAYERS.referral_routes):
        parts.append(_row("<span class='am-line' style='border-top:3px dashed #d73027'>"
                          "</span>", "referral route (colour = travel time)"))
    if _present(layers, LAYERS.roads):
        parts.append(_row("<span class='am-line' style='border-top:1px solid #777'></span>",
                          "road"))
    return ("<details open class='am-panel am-legend' style='bottom:24px;right:10px'>"
            "<summary>Legend</summary>" + "".join(parts) + "</details>")


def _present(layers: Mapping[str, gpd.GeoDataFrame | None], name: str) -> bool:
    frame = layers.get(name)
    return frame is not None and not frame.empty


def _site_kinds(frame: gpd.GeoDataFrame | None, *, sites: bool) -> list[str]:
    if frame is None or frame.empty:
        return list(SITE_STYLES) if sites else []
    kinds = set(frame["kind"].astype(str)) if "kind" in frame else set()
    return [k for k in SITE_STYLES if k in kinds]


class FitView(MacroElement):
    """Fit the initial view to ``bounds`` clear of every panel and control.

    Each panel or control sits in a corner; it is cleared either by padding the view
    horizontally by its width or vertically by its height.  Every combination is tried
    and the one allowing the closest zoom is used.  Panels taller than 45 % of the window
    start collapsed.
    """

    _template = Template("""
{% macro script(this, kwargs) %}
(function (map, bounds, margin) {
  var box = map.getContainer().getBoundingClientRect();
  document.querySelectorAll('details.am-panel').forEach(function (d) {
    if (d.getBoundingClientRect().height > 0.45 * window.innerHeight) { d.open = false; }
  });
  var choices = [];
  document.querySelectorAll('.am-panel, .leaflet-control').forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (!r.width || !r.height) { return; }
    var west = (r.left + r.right) / 2 < (box.left + box.right) / 2;
    var north = (r.top + r.bottom) / 2 < (box.top + box.bottom) / 2;
    choices.push([west ? ['l', r.right - box.left] : ['r', box.right - r.left],
                  north ? ['t', r.bottom - box.top] : ['b', box.bottom - r.top]]);
  });
  var best = null;
  for (var mask = 0; mask < (1 << choices.length); mask++) {
    var pad = {l: margin, r: margin, t: margin, b: margin};
    choices.forEach(function (c, i) {
      var side = c[(mask >> i) & 1];
      pad[side[0]] = Math.max(pad[side[0]], side[1] + margin);
    });
    var room = L.point(pad.l + pad.r, pad.t + pad.b);
    if (room.x >= box.width - 40 || room.y >= box.height - 40) { continue; }
    var zoom = map.getBoundsZoom(bounds, false, room);
    var total = room.x + room.y;
    if (!best || zoom > best.zoom || (zoom === best.zoom && total < best.total)) {
      best = {zoom: zoom, total: total, pad: pad};
    }
  }
  var pad = best ? best.pad : {l: margin, r: margin, t: margin, b: margin};
  map.fitBounds(bounds, {paddingTopLeft: [pad.l, pad.t],
                         paddingBottomRight: [pad.r, pad.b], animate: false});
})({{ this._parent.get_name() }}, {{ this.bounds|tojson }}, {{ this.margin }});
{% endmacro %}
""")

    def __init__(self, bounds: list[list[float]], *, margin_px: int = SITE_PX) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "FitView"
        self.bounds = bounds
        self.margin = int(margin_px)
