"""Static figures for reports (matplotlib), built from a run folder.

* ``figure_access_map.png/.svg``: travel-time classes in a projected (UTM) CRS with
  facilities, underserved zones, recommended sites, admin boundaries; scale bar, north
  arrow, legend and source line.
* ``figure_gain_curve.png/.svg``: population covered against the number of new sites.

The travel-time classes, colours and point symbols are those of the map and the report
(:mod:`accessmap.outputs.style`).  The map's extent is the populated area (sea, ferry
lines and islands without people do not set it) and its shape sets the figure's; site
labels are moved apart with adjustText; titles and source lines are wrapped to the
figure's width, so no text is clipped at any country shape.
"""

from __future__ import annotations

import logging
import os
import textwrap
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from accessmap.outputs.style import (
    NO_ROUTE_COLOUR,
    SITE_STYLES,
    ZONE_COLOUR,
    classify_minutes,
    facility_styles,
    time_classes,
)
from accessmap.record import FILES, LAYERS, RunFolder, Surface, apply_affine, check_target

__all__ = ["DPI", "FIGURES", "access_map_figure", "gain_curve_figure", "gain_table", "source_line",
           "wrap", "write_figures"]

logger = logging.getLogger(__name__)


#: Resolution of the PNG figures.
DPI = 200


#: Figure files, by name, without extension.
FIGURES = FILES.figures


#: Width (inches) of the access map's axes; its height follows the populated area's shape.
MAP_WIDTH_IN = 7.0
#: Raster cells read for the access map figure (about 2x its pixels at DPI).
FIGURE_MAX_PIXELS = 4_000_000


def wrap(text: str, *, width_in: float, fontsize: float) -> str:
    """Wrap ``text`` to lines that fit ``width_in`` inches at ``fontsize`` points.

    Examples
    --------
    >>> wrap("a b c d", width_in=0.2, fontsize=10).count("\n")
    3
    """
    chars = max(8, int(width_in * 72 / (fontsize * 0.56)))
    return textwrap.fill(text, chars, break_long_words=True, break_on_hyphens=True)


def write_figures(run_dir: str | os.PathLike[str], *, overwrite: bool = False,
                  formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Write the access map and the gain curve as PNG (200 dpi) and SVG into the run folder.

    Raises
    ------
    OutputError
        Incomplete run folder, another accessmap version, or a figure exists and
        ``overwrite`` is False.
    """
    run = RunFolder(run_dir)
    targets = {(name, fmt): check_target(run.file(f"{name}.{fmt}"), overwrite=overwrite)
               for name in FIGURES for fmt in formats}
    written = []
    for name, figure in ((FILES.figure_access_map, access_map_figure(run)),
                         (FILES.figure_gain_curve, gain_curve_figure(run))):
        for fmt in formats:
            figure.savefig(targets[name, fmt], dpi=DPI, format=fmt)
            written.append(targets[name, fmt])
    logger.info("figures written: %s", ", ".join(p.name for p in written))
    return written


def access_map_figure(run: RunFolder) -> Figure:
    """Travel-time classes, facilities, zones and recommended sites in a UTM projection."""
    thresholds = run.thresholds_min
    facilities = run.layer(LAYERS.facilities)
    sites = run.layer(LAYERS.recommended_sites)
    surface = run.surface(max_pixels=FIGURE_MAX_PIXELS)
    crs = _metric_crs(run, facilities)
    extent = _populated_extent(surface, sites, crs) or _frame_extent(run, facilities, crs)
    height_in = MAP_WIDTH_IN
    if extent is not None:
        ratio = (extent[3] - extent[2]) / max(extent[1] - extent[0], 1e-9)
        height_in = float(np.clip(MAP_WIDTH_IN * ratio, 3.2, 9.5))
    figure = Figure(figsize=(MAP_WIDTH_IN + 3.2, height_in + 1.3), layout="constrained")
    ax = figure.add_subplot()
    handles: list[Patch | Line2D] = []
    if surface is not None:
        _draw_surface(ax, surface, thresholds, crs)
        handles += [Patch(color=c.colour, label=c.label) for c in time_classes(thresholds)]
        handles.append(Patch(color=NO_ROUTE_COLOUR, label="no route"))
    for name, style in ((LAYERS.admin_areas, {"facecolor": "none", "edgecolor": "#333333",
                                              "linewidth": 0.8, "linestyle": "--"}),
                        (LAYERS.roads, {"color": "#8a8a8a", "linewidth": 0.4}),
                        (LAYERS.underserved_zones, {"facecolor": "none",
                                                    "edgecolor": ZONE_COLOUR,
                                                    "linewidth": 1.4})):
        frame = run.layer(name)
        if frame is not None and not frame.empty:
            frame.to_crs(crs).plot(ax=ax, **style)
            if name == LAYERS.admin_areas:
                handles.append(Line2D([], [], color="#333333", linestyle="--", linewidth=0.8,
                                      label="admin boundary"))
    if run.layer_names and LAYERS.underserved_zones in run.layer_names:
        handles.append(Patch(facecolor="none", edgecolor=ZONE_COLOUR, label="underserved zone"))
    handles += _draw_facilities(ax, facilities, crs)
    if extent is not None:
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal", adjustable="box")
    handles += _draw_sites(ax, sites, crs)
    ax.set_xticks([])
    ax.set_yticks([])
    _scale_bar(ax)
    _north_arrow(ax)
    ax.set_xlabel(wrap(source_line(run) + f" Projection: {crs}.", width_in=MAP_WIDTH_IN,
                       fontsize=6), fontsize=6, color="#444444", loc="left")
    ax.set_ylabel("")
    figure.legend(handles=handles, loc="outside right upper", fontsize=8,
                  title="Legend", title_fontsize=8)
    ax.set_title(wrap(_titled(run), width_in=MAP_WIDTH_IN + 2.5, fontsize=11), fontsize=11)
    _spread_labels(ax)
    return figure


def _populated_extent(surface: Surface | None, sites: gpd.GeoDataFrame | None, crs: str
                      ) -> tuple[float, float, float, float] | None:
    """(xmin, xmax, ymin, ymax) in ``crs`` of the populated cells and the sites, 4 % margin."""
    if surface is None:
        return None
    populated = np.isfinite(surface.minutes)
    if surface.no_route.shape == populated.shape:
        populated |= surface.no_route
    rows, cols = np.nonzero(populated)
    if not rows.size:
        return None
    corners = [apply_affine(surface.transform, float(c), float(r))
               for c, r in ((cols.min(), rows.min()), (cols.max() + 1, rows.max() + 1),
                            (cols.min(), rows.max() + 1), (cols.max() + 1, rows.min()))]
    points = gpd.GeoSeries.from_xy([c[0] for c in corners], [c[1] for c in corners],
                                   crs=surface.crs).to_crs(crs)
    if sites is not None and not sites.empty:
        points = pd.concat([points, sites.geometry.to_crs(crs)])
    xmin, ymin, xmax, ymax = points.total_bounds
    pad = 0.04 * max(xmax - xmin, ymax - ymin, 1.0)
    return (xmin - pad, xmax + pad, ymin - pad, ymax + pad)


def _frame_extent(run: RunFolder, facilities: gpd.GeoDataFrame | None, crs: str
                  ) -> tuple[float, float, float, float] | None:
    for frame in (run.layer(LAYERS.admin_areas), facilities):
        if frame is not None and not frame.empty:
            xmin, ymin, xmax, ymax = frame.to_crs(crs).total_bounds
            pad = 0.04 * max(xmax - xmin, ymax - ymin, 1.0)
            return (xmin - pad, xmax + pad, ymin - pad, ymax + pad)
    return None


def _draw_facilities(ax: object, facilities: gpd.GeoDataFrame | None, crs: str
                     ) -> list[Line2D]:
    """Facilities by type, with the map's symbols and colours."""
    if facilities is None or facilities.empty:
        return []
    frame = facilities.to_crs(crs)
    types = (frame["type"].fillna("unknown").astype(str) if "type" in frame
             else pd.Series("facility", index=frame.index))
    handles = []
    for kind, look in facility_styles(types.tolist()).items():
        chosen = frame[types == kind]
        ax.scatter(chosen.geometry.x, chosen.geometry.y, marker=look.marker,  # type: ignore
                   s=30, color=look.colour, edgecolor="white", linewidth=0.6, zorder=5)
        handles.append(Line2D([], [], marker=look.marker, color=look.colour, linestyle="",
                              label=look.label))
    return handles


def _titled(run: RunFolder) -> str:
    """Run title, with the synthetic-data label unless the title already says so."""
    if run.synthetic and "synthetic" not in run.title.lower():
        return f"{run.title} - SYNTHETIC DATA"
    return run.title


def _metric_crs(run: RunFolder, facilities: gpd.GeoDataFrame | None) -> str:
    """UTM zone of the admin areas, else of the facilities (Web Mercator if neither)."""
    for frame in (run.layer(LAYERS.admin_areas), facilities):
        if frame is not None and not frame.empty:
            return str(frame.estimate_utm_crs())
    return "EPSG:3857"


def _draw_surface(ax: object, surface: Surface, thresholds: list[float], crs: str) -> None:
    import rasterio.warp

    classes = classify_minutes(surface.minutes, thresholds).astype(np.int16)
    no_route_class = len(thresholds) + 1
    if surface.no_route.shape == classes.shape:
        classes[surface.no_route] = no_route_class
    height, width = classes.shape
    transform, w, h = rasterio.warp.calculate_default_transform(
        surface.crs, crs, width, height, *surface.bounds())
    out = np.full((h, w), -1, dtype=np.int16)
    rasterio.warp.reproject(classes, out, src_transform=surface.transform,
                            src_crs=surface.crs, dst_transform=transform, dst_crs=crs,
                            src_nodata=-1, dst_nodata=-1,
                            resampling=rasterio.warp.Resampling.nearest)
    colours = [c.colour for c in time_classes(thresholds)] + [NO_ROUTE_COLOUR]
    image = np.ma.masked_less(out, 0)
    west, north = apply_affine(transform, 0.0, 0.0)
    east, south = apply_affine(transform, float(w), float(h))
    ax.imshow(image, cmap=ListedColormap(colours), vmin=-0.5,  # type: ignore[attr-defined]
              vmax=len(colours) - 0.5, extent=(west, east, south, north),
              interpolation="nearest", alpha=0.9, zorder=1)


def _draw_sites(ax: object, sites: gpd.GeoDataFrame | None, crs: str) -> list[Line2D]:
    if sites is None or sites.empty:
        return []
    sites = sites.to_crs(crs)
    handles = []
    for kind, look in SITE_STYLES.items():
        chosen = sites[sites["kind"] == kind] if "kind" in sites else sites.iloc[:0]
        if chosen.empty:
            continue
        ax.scatter(chosen.geometry.x, chosen.geometry.y, marker=look.marker,  # type: ignore
                   s=90, color=look.colour, edgecolor="white", linewidth=1, zorder=6)
        for row in chosen.itertuples():
            ax.text(row.geometry.x, row.geometry.y, f" {int(row.rank)}",  # type: ignore
                    fontsize=8, fontweight="bold", zorder=7, gid="site-label",
                    ha="left", va="bottom", bbox={"boxstyle": "round,pad=0.15", "fc": "white",
                                                  "ec": "none", "alpha": 0.75})
        handles.append(Line2D([], [], marker=look.marker, color=look.colour, linestyle="",
                              label=f"new {look.label} (rank)"))
    return handles


def _spread_labels(ax: object) -> None:
    """Move the site labels apart (adjustText) so that none hides another."""
    labels = [t for t in ax.texts if t.get_gid() == "site-label"]  # type: ignore[attr-defined]
    if len(labels) < 2:
        return
    from adjustText import adjust_text

    ax.figure.draw_without_rendering()  # type: ignore[attr-defined]
    points = [label.get_position() for label in labels]
    adjust_text(labels, x=[p[0] for p in points], y=[p[1] for p in points], ax=ax,
                expand=(1.2, 1.4), ensure_inside_axes=True, max_move=(40, 40),
                arrowprops={"arrowstyle": "-", "color": "#333333", "lw": 0.5})


def _nice_length(span_m: float) -> float:
    """Round length near a fifth of the span: 1, 2 or 5 times a power of ten.

    Examples
    --------
    >>> _nice_length(23_000)
    2000.0
    """
    raw = span_m / 5
    power = 10 ** np.floor(np.log10(raw))
    return float(max(s * power for s in (1, 2, 5) if s * power <= raw))


def _scale_bar(ax: object) -> None:
    x0, x1 = ax.get_xlim()  # type: ignore[attr-defined]
    y0, y1 = ax.get_ylim()  # type: ignore[attr-defined]
    length = _nice_length(x1 - x0)
    left, bottom = x1 - (x1 - x0) * 0.05 - length, y0 + (y1 - y0) * 0.04
    height = (y1 - y0) * 0.008
    ax.add_patch(Rectangle((left, bottom), length, height, color="black",  # type: ignore
                           zorder=8))
    text = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(left + length / 2, bottom + height * 1.8, text, ha="center",  # type: ignore
            va="bottom", fontsize=8, zorder=8)


def _north_arrow(ax: object) -> None:
    ax.annotate("N", xy=(0.95, 0.95), xytext=(0.95, 0.86),  # type: ignore[attr-defined]
                xycoords="axes fraction", ha="center", va="center", fontsize=11,
                fontweight="bold", arrowprops={"arrowstyle": "-|>", "color": "black",
                                               "lw": 1.5})


def source_line(run: RunFolder) -> str:
    """One line naming the input files, their usual licences, and the accessmap version."""
    inputs = run.summary.get("run", {}).get("inputs", {})
    parts = [f"{role}: {Path(str(item.get('path', '?'))).name}"
             for role, item in inputs.items() if isinstance(item, dict)]
    data = "; ".join(parts) if parts else "inputs not recorded"
    synthetic = " SYNTHETIC DATA." if run.synthetic else (
        " Roads: (c) OpenStreetMap contributors, ODbL.")
    version = run.summary.get("run", {}).get("accessmap_version", "?")
    return f"Sources: {data}.{synthetic} Made with accessmap {version}."


def gain_table(run: RunFolder) -> pd.DataFrame:
    """Population covered against the number of new sites, starting from today (0 sites).

    From ``marginal_gain.csv`` (or summary ``marginal_gain``) when the run has it;
    otherwise derived from the recommended sites' ``added_population`` on top of today's
    coverage at the siting threshold.

    Returns
    -------
    pandas.DataFrame
        ``sites`` (0 = today), ``added_population``, ``cumulative_population``,
        ``cumulative_share``.
    """
    total = float(run.summary.get("population_total") or 0.0)
    threshold = float(run.summary.get("siting_threshold_min") or run.thresholds_min[0])
    now = next((float(r["population"]) for r in run.summary["coverage"]
                if float(r["threshold_min"]) == threshold), 0.0)
    table = run.table(FILES.marginal_gain)
    if table is None and run.summary.get("marginal_gain"):
        table = pd.DataFrame(run.summary["marginal_gain"])
    if table is not None and {"sites", "added_population"} <= set(table.columns):
        table = table.sort_values("sites")
        sites, added = table["sites"].to_numpy(int), table["added_population"].to_numpy(float)
    else:
        ranked = sorted(run.summary.get("recommended_sites") or [], key=lambda s: s["rank"])
        sites = np.array([int(s["rank"]) for s in ranked], dtype=int)
        added = np.array([float(s["added_population"]) for s in ranked])
    keep = sites > 0  # today's row (0 sites) is rebuilt from the summary
    sites, added = np.concatenate([[0], sites[keep]]), np.concatenate([[0.0], added[keep]])
    cumulative = now + np.cumsum(added)
    return pd.DataFrame({"sites": sites, "added_population": added,
                         "cumulative_population": cumulative,
                         "cumulative_share": cumulative / total if total > 0 else np.nan})


def gain_curve_figure(run: RunFolder) -> Figure:
    """Share of the population covered (siting threshold) against the number of new sites."""
    table = gain_table(run)
    threshold = float(run.summary.get("siting_threshold_min") or run.thresholds_min[0])
    figure = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = figure.add_subplot()
    ax.plot(table["sites"], 100 * table["cumulative_share"], marker="o", color="#54278f")
    for row in table.itertuples():
        if row.sites > 0:
            ax.annotate(f"+{row.added_population:,.0f}", (row.sites, 100 * row.cumulative_share),
                        xytext=(0, 6), textcoords="offset points", ha="center", fontsize=7)
    ax.set_ylabel(f"Population within {threshold:g} min (%)")
    ax.margins(y=0.12)  # room above the last point for its label
    ax.set_xticks(table["sites"].tolist())
    ax.grid(alpha=0.3)
    ax.set_title(wrap(f"Coverage gained by each new site: {_titled(run)}", width_in=6.0,
                      fontsize=10), fontsize=10)
    ax.set_xlabel("Number of new sites (in order of recommendation)", fontsize=8)
    figure.supxlabel(wrap(source_line(run), width_in=6.0, fontsize=6), fontsize=6,
                     color="#444444", x=0.02, ha="left")
    return figure
