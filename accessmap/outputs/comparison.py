"""Comparison map (``comparison_map.html``) and report (``comparison.html``/``.md``/``.pdf``).

Built from a comparison held in memory (its ``comparison.json`` data, change raster, loss
zones and facilities) and the baseline run folder, which gives the context layers (roads,
admin areas).  The map reuses the run map's pieces (:mod:`accessmap.outputs.maps`,
:mod:`accessmap.outputs.map_layers`): offline assets, escaped JSON features, the
Web-Mercator image overlay; the report reuses the run report's blocks and renderers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import Element
from numpy.typing import NDArray

from accessmap.outputs.map_layers import _closed_roads_groups, _feature, _group, layer_builders
from accessmap.outputs.map_panels import FitView
from accessmap.outputs.maps import _figure, _png_url, _rgb, _slim, _to_lonlat, _use_assets
from accessmap.outputs.report import Block, Table, render_html, render_markdown, write_pdf
from accessmap.outputs.style import ZONE_COLOUR, escape, format_people
from accessmap.record import LAYERS, RunFolder, Surface
from accessmap.schemas.names import COMPARISON_FILES

__all__ = ["CATEGORY_COLOURS", "comparison_blocks", "comparison_map", "write_comparison_map",
           "write_comparison_report"]

logger = logging.getLogger(__name__)

#: Colour of each ``access_change.tif`` category on the map (unchanged: not drawn).
CATEGORY_COLOURS = {1: ("#fdae61", "slower"), 2: ("#74add1", "faster"),
                    3: ("#a50026", "lost its route"), 4: ("#1a9850", "gained a route"),
                    5: ("#5a5a5a", "no route in either run")}

#: Classes of ``time_change.tif`` on the map: (upper bound in minutes, colour, label).
CHANGE_CLASSES = ((-1e-3, "#4393c3", "faster"), (5.0, "#fee5d9", "up to 5 min slower"),
                  (15.0, "#fcae91", "5-15 min slower"), (30.0, "#fb6a4a", "15-30 min slower"),
                  (60.0, "#de2d26", "30-60 min slower"),
                  (np.inf, "#a50f15", "over 60 min slower"))

#: Marker colour of facilities by status.
_STATUS_COLOURS = {"closed": "#a50026", "opened": "#1a9850", "kept": "#08306b"}


class _Doc:
    """What the report renderer needs of a document: its title and its files' folder."""

    def __init__(self, title: str, folder: Path) -> None:
        self.title, self.folder = title, folder

    def file(self, name: str) -> Path:
        return self.folder / name


def _title(summary: Mapping[str, Any]) -> str:
    return f"{summary['scenario']['title']} compared with {summary['baseline']['title']}"


def comparison_map(summary: Mapping[str, Any], category: NDArray[np.float32],
                   grid: tuple[tuple[int, int], Any, str], zones: gpd.GeoDataFrame,
                   facilities: gpd.GeoDataFrame, baseline: RunFolder, *,
                   change_min: NDArray[np.float32] | None = None, offline: bool = True,
                   scenario: RunFolder | None = None) -> folium.Map:
    """The comparison map: change categories (and, a layer off at start, the minutes of
    change), loss zones, facilities by status, the baseline's roads and areas, and the
    roads the scenario closed or slowed (its ``closed_roads`` layer, when it has one)."""
    fmap = folium.Map(tiles=None, control_scale=True, prefer_canvas=True, zoom_snap=0.25)
    _use_assets(fmap, offline=offline)
    folium.TileLayer("OpenStreetMap", name="Online base map (needs internet)", show=False,
                     overlay=True).add_to(fmap)
    for name, build in layer_builders(baseline):
        if name in (LAYERS.roads, LAYERS.admin_areas):
            frame = baseline.layer(name)
            if frame is not None and not frame.empty:
                for group in build(_slim(frame, name)):
                    group.add_to(fmap)
    _, transform, crs = grid
    surface = Surface(category.astype(np.float64), transform, crs)
    if crs.upper() not in ("EPSG:4326", "OGC:CRS84"):
        surface = _to_lonlat(surface)
    _image_layer("Change of access", _category_image(surface.minutes), surface,
                 show=True).add_to(fmap)
    if change_min is not None:
        minutes = Surface(change_min.astype(np.float64), transform, crs)
        if crs.upper() not in ("EPSG:4326", "OGC:CRS84"):
            minutes = _to_lonlat(minutes)
        _image_layer("Travel-time change (minutes)", _change_image(minutes.minutes), minutes,
                     show=False).add_to(fmap)
    closed = _closed_roads(scenario)
    for group in _closed_roads_groups(closed, casing=True) if closed is not None else []:
        group.add_to(fmap)
    if not zones.empty:
        _zone_group(_slim(zones, "loss_zones"), summary).add_to(fmap)
    if not facilities.empty:
        _facility_group(facilities).add_to(fmap)
    folium.LayerControl(collapsed=True, position="topright").add_to(fmap)
    root = _figure(fmap).html
    root.add_child(Element(_summary_panel(summary, synthetic=baseline.synthetic)))
    root.add_child(Element(_legend_panel(roads=closed is not None)))
    bounds = _bounds(surface)
    fmap.fit_bounds(bounds)
    FitView(bounds).add_to(fmap)
    return fmap


def _closed_roads(scenario: RunFolder | None) -> gpd.GeoDataFrame | None:
    """The scenario's closed and slowed roads (``None`` without road changes)."""
    if scenario is None or LAYERS.closed_roads not in scenario.layer_names:
        return None
    frame = scenario.layer(LAYERS.closed_roads)
    return None if frame is None or frame.empty else _slim(frame, LAYERS.closed_roads)


def _image_layer(name: str, rgba: NDArray[np.uint8], surface: Surface, *, show: bool
                 ) -> folium.FeatureGroup:
    west, south, east, north = surface.bounds()
    group = folium.FeatureGroup(name=name, show=show)
    folium.raster_layers.ImageOverlay(
        _png_url(rgba, south=south, north=north), bounds=[[south, west], [north, east]],
        interactive=False, opacity=0.85).add_to(group)
    return group


def _change_image(change: NDArray[np.floating[Any]]) -> NDArray[np.uint8]:
    """RGBA of the minutes of change (transparent: unchanged, nobody, or no route)."""
    rgba = np.zeros((*change.shape, 4), dtype=np.uint8)
    finite = np.isfinite(change)
    lower = -np.inf
    for upper, colour, _ in CHANGE_CLASSES:
        with np.errstate(invalid="ignore"):
            cells = finite & (change > lower) & (change <= upper)
        if lower < 0 < upper:
            cells &= change > 1e-3
        rgba[cells] = [*_rgb(colour), 220]
        lower = upper
    return rgba


def _category_image(category: NDArray[np.floating[Any]]) -> NDArray[np.uint8]:
    rgba = np.zeros((*category.shape, 4), dtype=np.uint8)
    for code, (colour, _) in CATEGORY_COLOURS.items():
        rgba[category == code] = [*_rgb(colour), 220]
    rgba[category == 0] = [200, 200, 200, 90]
    return rgba


def _bounds(surface: Surface) -> list[list[float]]:
    """The cells whose access changed (all populated cells when none did), padded."""
    changed = np.isin(surface.minutes, (1, 2, 3, 4))
    rows, cols = np.nonzero(changed if changed.any() else np.isfinite(surface.minutes))
    if rows.size:
        pad = max(2, (rows.max() - rows.min() + cols.max() - cols.min()) // 10)
        rows = np.clip([rows.min() - pad, rows.max() + pad], 0, surface.minutes.shape[0] - 1)
        cols = np.clip([cols.min() - pad, cols.max() + pad], 0, surface.minutes.shape[1] - 1)
    if not rows.size:
        west, south, east, north = surface.bounds()
        return [[south, west], [north, east]]
    t = surface.transform
    xs = [t.c + t.a * cols.min(), t.c + t.a * (cols.max() + 1)]
    ys = [t.f + t.e * rows.min(), t.f + t.e * (rows.max() + 1)]
    return [[float(min(ys)), float(min(xs))], [float(max(ys)), float(max(xs))]]


def _zone_group(zones: gpd.GeoDataFrame, summary: Mapping[str, Any]) -> folium.FeatureGroup:
    features = []
    for row in zones.itertuples():
        lines = [f"<b>Loss zone: {escape(row.zone)}</b>",
                 f"people losing access: {escape(format_people(row.population))}"]
        lines += [f"within {t:g} min: {escape(format_people(getattr(row, f'losing_{t:g}min')))}"
                  for t in summary["thresholds_min"]]
        features.append(_feature(row.geometry, tooltip="<br>".join(lines), style={
            "color": ZONE_COLOUR, "weight": 2, "fillColor": "#a50026", "fillOpacity": 0.1}))
    return _group("Zones of loss", features)


def _facility_group(frame: gpd.GeoDataFrame) -> folium.FeatureGroup:
    features = []
    for row in frame.itertuples():
        status = str(row.status)
        colour = _STATUS_COLOURS.get(status, "#08306b")
        change = float(row.population_change)
        tooltip = (f"<b>{escape(row.name)}</b> ({escape(status)})<br>catchment "
                   f"{escape(format_people(row.population_a))} -> "
                   f"{escape(format_people(row.population_b))} people "
                   f"({'+' if change >= 0 else '-'}{escape(format_people(abs(change)))})")
        radius = 5 + min(10.0, abs(change) ** 0.5 / 30)
        features.append(_feature(row.geometry, tooltip=tooltip, style={
            "radius": radius, "color": "#ffffff", "weight": 1, "fillColor": colour,
            "fillOpacity": 0.95}))
    return _group("Facilities (colour = closed, opened or kept; size = change)", features)


def _summary_panel(summary: Mapping[str, Any], *, synthetic: bool) -> str:
    label = ("<div style='color:#b30000;font-weight:bold'>SYNTHETIC DATA - not a real "
             "place</div>") if synthetic else ""
    rows = "".join(
        f"<tr><td>{r['threshold_min']:g} min</td><td>{_share(r['share_a'])}</td>"
        f"<td>{_share(r['share_b'])}</td><td>{escape(format_people(r['losing_population']))}"
        f"</td><td>{escape(format_people(r['gaining_population']))}</td></tr>"
        for r in summary["access"])
    sentence = escape(summary["sentences"][0]) if summary["sentences"] else ""
    return ("<details open class='am-panel am-summary' style='top:10px;left:54px;"
            "max-width:min(380px, calc(100vw - 120px))'>"
            f"<summary style='font-size:15px'>{escape(_title(summary))}</summary>{label}"
            f"<div>{sentence}</div><table><tr><th>within</th><th>baseline</th>"
            f"<th>scenario</th><th>lose</th><th>gain</th></tr>{rows}</table></details>")


def _share(value: Any) -> str:
    return f"{float(value):.1%}" if value is not None and pd.notna(value) else "-"


def _legend_panel(*, roads: bool = False) -> str:
    rows = [f"<div><span class='am-swatch' style='background:{c}'></span>{escape(label)}</div>"
            for c, label in CATEGORY_COLOURS.values()]
    rows.insert(0, "<div><span class='am-swatch' style='background:#c8c8c8'></span>"
                   "unchanged</div>")
    rows += [f"<div><span class='am-swatch' style='border-radius:50%;background:{c}'></span>"
             f"facility {escape(s)}</div>" for s, c in _STATUS_COLOURS.items()]
    rows.append(f"<div><span class='am-swatch' style='border:2px solid {ZONE_COLOUR}'></span>"
                "zone of loss</div>")
    if roads:
        rows += ["<div><span class='am-swatch' style='height:3px;background:#8b0000;"
                 "border:2px solid #111'></span>road closed</div>",
                 "<div><span class='am-swatch' style='height:3px;background:repeating-linear-"
                 "gradient(90deg,#e67e00 0 5px,#111 5px 8px);border:2px solid #111'></span>"
                 "road slowed</div>"]
    rows.append("<b>Travel-time change</b> (layer off at start)")
    rows += [f"<div><span class='am-swatch' style='background:{c}'></span>{escape(label)}"
             "</div>" for _, c, label in CHANGE_CLASSES]
    return ("<details open class='am-panel am-legend' style='bottom:24px;right:10px'>"
            "<summary>Legend</summary><b>People whose trip became</b>" + "".join(rows)
            + "</details>")


def write_comparison_map(folder: Path, summary: Mapping[str, Any], category: NDArray[np.float32],
                         grid: tuple[tuple[int, int], Any, str], zones: gpd.GeoDataFrame,
                         facilities: gpd.GeoDataFrame, baseline: RunFolder, *,
                         change_min: NDArray[np.float32] | None = None,
                         offline: bool = True, scenario: RunFolder | None = None) -> Path:
    """Write ``comparison_map.html`` into a (staged) comparison folder."""
    target = folder / COMPARISON_FILES.map
    fmap = comparison_map(summary, category, grid, zones, facilities, baseline,
                          change_min=change_min, offline=offline, scenario=scenario)
    target.write_text(fmap.get_root().render(), encoding="utf-8")
    return target


# --------------------------------------------------------------------------- report


def _num(value: Any) -> str:
    return f"{float(value):,.0f}" if value is not None and pd.notna(value) else "-"


def _signed(value: Any) -> str:
    if value is None or pd.isna(value):
        return "-"
    return f"{float(value):+,.0f}" if abs(float(value)) >= 0.5 else "0"


def comparison_blocks(summary: Mapping[str, Any], tables: Mapping[str, pd.DataFrame],
                      *, synthetic: bool = False) -> list[Block]:
    """The comparison report's content: the sentences, then the tables planners quote."""
    blocks = [Block("h1", _title(summary))]
    if synthetic:
        blocks.append(Block("warning", "SYNTHETIC DATA: this district is not a real place; "
                                       "the numbers only demonstrate the method."))
    blocks += [Block("h2", "What changes"), Block("ul", items=list(summary["sentences"]))]
    access = pd.DataFrame([{
        "Within": f"{r['threshold_min']:g} min", "Baseline": _num(r["population_a"]),
        "Scenario": _num(r["population_b"]), "Change": _signed(r["population_change"]),
        "Lose access": _num(r["losing_population"]),
        "Gain access": _num(r["gaining_population"])} for r in summary["access"]])
    blocks.append(Block("table", table=Table(access, "People within each threshold")))
    blocks += _area_blocks(tables.get(COMPARISON_FILES.by_area), summary["thresholds_min"])
    blocks += _indicator_blocks(summary.get("indicators") or [])
    blocks += _facility_blocks(summary)
    zones = summary["loss_zones"]
    blocks += [Block("h2", "Zones of loss"), Block("p", (
        f"{zones['zones']} connected areas hold {_num(zones['population'])} people who lose "
        "access within at least one threshold (see comparison_map.html and "
        "comparison.gpkg)."))]
    return blocks


def _area_blocks(by_area: pd.DataFrame | None, thresholds: Sequence[float]) -> list[Block]:
    if by_area is None or by_area.empty or "area" not in by_area:
        return []
    columns = [f"population_{t:g}min_change" for t in thresholds
               if f"population_{t:g}min_change" in by_area]
    if not columns:
        return []
    frame = pd.DataFrame({"Area": by_area["area"].astype(str)})
    for t in thresholds:
        column = f"population_{t:g}min_change"
        if column in by_area:
            frame[f"Change within {t:g} min"] = by_area[column].map(_signed)
    order = np.argsort(by_area[columns[-1]].fillna(0.0).to_numpy(), kind="stable")
    return [Block("h2", "By area"), Block("table", table=Table(
        frame.iloc[order], "Change of people within each threshold, largest loss first"))]


def _met(value: Any) -> str:
    return "-" if value is None or pd.isna(value) else ("yes" if value else "no")


def _indicator_blocks(rows: Sequence[Mapping[str, Any]]) -> list[Block]:
    """The indicators of both runs (whole population), share within each threshold."""
    rows = [r for r in rows if r.get("grouping") == "all"]
    if not rows:
        return []
    frame = pd.DataFrame([{
        "Indicator": str(r["indicator"]), "Within": f"{float(r['threshold_min']):g} min",
        "Baseline": _share(r.get("share_within_a")), "Scenario": _share(r.get("share_within_b")),
        "Change (people)": _signed(r.get("population_within_change")),
        "Target met": f"{_met(r.get('met_a'))} -> {_met(r.get('met_b'))}"} for r in rows])
    return [Block("h2", "Indicators for a service"), Block("table", table=Table(
        frame, "Share of the target group within each threshold (indicators_change.csv)"))]


def _facility_blocks(summary: Mapping[str, Any]) -> list[Block]:
    rows = [r for r in summary["facilities"]["largest_changes"]
            if abs(r["population_change"]) >= 0.5]
    if not rows:
        return [Block("h2", "Facilities whose catchment changes most"),
                Block("p", "No facility's catchment changes.")]
    frame = pd.DataFrame([{
        "Facility": str(r.get("name", r.get("facility_id", ""))), "Status": r["status"],
        "Catchment (baseline)": _num(r["population_a"]),
        "Catchment (scenario)": _num(r["population_b"]),
        "Change": _signed(r["population_change"])} for r in rows])
    return [Block("h2", "Facilities whose catchment changes most"),
            Block("table", table=Table(frame, "People for whom it is the nearest facility"))]


def write_comparison_report(folder: Path, summary: Mapping[str, Any],
                            tables: Mapping[str, pd.DataFrame], *, synthetic: bool = False
                            ) -> list[Path]:
    """Write ``comparison.html``, ``comparison.md`` (and ``comparison.pdf`` with Chromium)."""
    blocks = comparison_blocks(summary, tables, synthetic=synthetic)
    html = folder / COMPARISON_FILES.report_html
    html.write_text(render_html(blocks, _Doc(_title(summary), folder)), encoding="utf-8")
    markdown = folder / COMPARISON_FILES.report_md
    markdown.write_text(render_markdown(blocks), encoding="utf-8")
    written = [html, markdown]
    if write_pdf(html, folder / COMPARISON_FILES.report_pdf):
        written.append(folder / COMPARISON_FILES.report_pdf)
    return written
