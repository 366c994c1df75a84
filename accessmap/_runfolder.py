"""Read a finished run folder, and the classes and escaping shared by map, figures, report.

The planner outputs (``map.html``, the figures, ``report.html``/``report.md``) are built
FROM A RUN FOLDER (``summary.json``, ``layers.gpkg``, ``travel_time.tif``, CSV tables), so
they can be regenerated without recomputing and look the same whether the pipeline or
``accessmap map``/``accessmap report`` made them.  Every optional layer may be absent;
callers draw what is there and say what is not.
"""

from __future__ import annotations

import html
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from numpy.typing import NDArray

from accessmap import __version__
from accessmap._errors import OutputError

logger = logging.getLogger(__name__)

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


def classify_minutes(minutes: NDArray[np.float64], thresholds_min: Sequence[float]
                     ) -> NDArray[np.int64]:
    """Class index of each time (``len(thresholds)`` beyond the last; -1 for NaN)."""
    edges = np.asarray(sorted(float(t) for t in thresholds_min))
    classes = np.searchsorted(edges, minutes, side="left").astype(np.int64)
    classes[~np.isfinite(minutes)] = -1
    return classes


def apply_affine(transform: Affine, x: Any, y: Any) -> tuple[Any, Any]:
    """Apply an affine transform to coordinates (scalars or arrays).

    Examples
    --------
    >>> apply_affine(Affine(2, 0, 10, 0, -1, 5), 1.0, 1.0)
    (12.0, 4.0)
    """
    a, b, c, d, e, f = transform[:6]
    return a * x + b * y + c, d * x + e * y + f


@dataclass
class Surface:
    """The travel-time raster: minutes (NaN nodata), grid transform and CRS."""

    minutes: NDArray[np.float64]
    transform: Affine
    crs: str
    no_route: NDArray[np.bool_] = field(default_factory=lambda: np.zeros((0, 0), bool))

    def bounds(self) -> tuple[float, float, float, float]:
        """Return (west, south, east, north) in the raster CRS."""
        height, width = self.minutes.shape
        x0, y0 = apply_affine(self.transform, 0.0, 0.0)
        x1, y1 = apply_affine(self.transform, float(width), float(height))
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


class RunFolder:
    """A finished run folder, read lazily.

    Parameters
    ----------
    path
        The folder (``summary.json`` and ``layers.gpkg`` are required).

    Raises
    ------
    OutputError
        The folder or a required file is missing, or it was made by another accessmap
        version whose outputs this one cannot read.
    """

    required = ("summary.json", "layers.gpkg")

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise OutputError(f"run folder {self.path} does not exist; give the --out folder "
                              "of a finished `accessmap run`")
        missing = [n for n in self.required if not (self.path / n).is_file()]
        if missing:
            raise OutputError(
                f"run folder {self.path} is incomplete: missing {', '.join(missing)}; "
                "rerun `accessmap run` to produce it"
            )
        self.summary = self._read_summary()
        self._check_version()
        self._layers: dict[str, gpd.GeoDataFrame] = {}

    def _read_summary(self) -> dict[str, Any]:
        path = self.path / "summary.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise OutputError(f"{path} is not readable JSON ({err}); rerun `accessmap run`"
                              ) from None
        if not isinstance(data, dict) or "coverage" not in data:
            raise OutputError(f"{path} is not an accessmap summary (no 'coverage' key)")
        return data

    def _check_version(self) -> None:
        made_by = str(self.summary.get("run", {}).get("accessmap_version", "unknown"))
        if made_by.split(".")[:2] != __version__.split(".")[:2]:
            raise OutputError(
                f"run folder {self.path} was made by accessmap {made_by}; this is "
                f"accessmap {__version__}. Rerun `accessmap run` with this version, or use "
                f"accessmap {made_by} to regenerate its map and report"
            )

    @property
    def settings(self) -> dict[str, Any]:
        """Scenario settings recorded in ``summary.json``."""
        return dict(self.summary.get("run", {}).get("settings", {}))

    @property
    def thresholds_min(self) -> list[float]:
        """Travel-time thresholds of the run."""
        found = self.settings.get("thresholds_min") or [
            row["threshold_min"] for row in self.summary["coverage"]]
        return [float(t) for t in found]

    @property
    def synthetic(self) -> bool:
        """True when the run used synthetic data."""
        return bool(self.summary.get("synthetic_data") or self.settings.get("synthetic"))

    @property
    def title(self) -> str:
        """Title of the run."""
        return str(self.summary.get("title") or self.settings.get("title") or "accessmap run")

    @cached_property
    def layer_names(self) -> list[str]:
        """Layers present in ``layers.gpkg``."""
        import pyogrio

        try:
            return [str(name) for name in pyogrio.list_layers(self.path / "layers.gpkg")[:, 0]]
        except Exception as err:  # pyogrio raises several types for corrupt files
            raise OutputError(f"{self.path / 'layers.gpkg'} is not a readable GeoPackage "
                              f"({err}); rerun `accessmap run`") from None

    def layer(self, name: str) -> gpd.GeoDataFrame | None:
        """Read one layer in EPSG:4326 (cached; do not modify it in place), or ``None``
        when the run did not write it."""
        if name not in self.layer_names:
            return None
        if name not in self._layers:
            frame = gpd.read_file(self.path / "layers.gpkg", layer=name, engine="pyogrio")
            if frame.crs is not None and not frame.crs.equals("EPSG:4326"):
                frame = frame.to_crs("EPSG:4326")
            self._layers[name] = frame
        return self._layers[name]

    def table(self, name: str) -> pd.DataFrame | None:
        """Read a CSV table of the run folder, or ``None`` when absent."""
        path = self.path / name
        return pd.read_csv(path) if path.is_file() else None

    def surface(self) -> Surface | None:
        """The travel-time raster with people without a route marked, or ``None``."""
        path = self.path / "travel_time.tif"
        if not path.is_file():
            return None
        import rasterio

        with rasterio.open(path) as src:
            minutes = src.read(1, masked=True).astype(np.float64).filled(np.nan)
            surface = Surface(minutes, src.transform, str(src.crs))
        surface.no_route = self._no_route_cells(surface)
        return surface

    def _no_route_cells(self, surface: Surface) -> NDArray[np.bool_]:
        mask = np.zeros(surface.minutes.shape, dtype=bool)
        points = self.layer("demand_points")
        if points is None or "time_min" not in points or points.empty:
            return mask
        lost = points[~np.isfinite(points["time_min"].to_numpy(dtype=float))]
        cols, rows = apply_affine(~surface.transform, lost.geometry.x.to_numpy(),
                                  lost.geometry.y.to_numpy())
        rows, cols = np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)
        height, width = surface.minutes.shape[-2:]
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        mask[rows[inside], cols[inside]] = True
        return mask

    def absent(self, names: Sequence[str]) -> list[str]:
        """Which of ``names`` (layers) the run folder does not hold."""
        return [n for n in names if n not in self.layer_names]


def check_target(path: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """Refuse to replace an existing output file unless ``overwrite`` is set.

    Raises
    ------
    OutputError
        ``path`` exists and ``overwrite`` is False, or it is a folder.
    """
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"{target} is a folder; give a file path")
    if target.exists() and not overwrite:
        raise OutputError(f"{target} already exists; use --overwrite to replace it")
    return target
