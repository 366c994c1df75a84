"""Read a finished run folder, and the classes and escaping shared by map, figures, report.

The planner outputs (``map.html``, the figures, ``report.html``/``report.md``) are built
FROM A RUN FOLDER (``summary.json``, ``layers.gpkg``, ``travel_time.tif``, CSV tables), so
they can be regenerated without recomputing and look the same whether the pipeline or
``accessmap map``/``accessmap report`` made them.  Every optional layer may be absent;
callers draw what is there and say what is not.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from numpy.typing import NDArray

from accessmap._version import __version__
from accessmap.errors import OutputError

logger = logging.getLogger(__name__)


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


#: Files every run folder holds.
REQUIRED_OUTPUTS = ("summary.json", "map.html", "layers.gpkg", "coverage.csv")


def check_output_folder(out_dir: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """Refuse an existing, non-empty output folder unless ``overwrite`` is set.

    Raises
    ------
    OutputError
        The folder exists with content and ``overwrite`` is False, or the path is a file.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"output path {out} is a file; give a folder path")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputError(
            f"output folder {out} already exists; use --overwrite to replace it or "
            "choose another --out"
        )
    return out


@contextmanager
def staged_folder(out_dir: str | os.PathLike[str], *, overwrite: bool) -> Iterator[Path]:
    """Yield a staging folder that replaces ``out_dir`` only if the block succeeds.

    Examples
    --------
    >>> with staged_folder(tmp / "out", overwrite=False) as stage:  # doctest: +SKIP
    ...     (stage / "summary.json").write_text("{}")
    """
    out = check_output_folder(out_dir, overwrite=overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    try:
        yield stage
        if out.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, trash / out.name)
            os.replace(stage, out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(stage, out)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


def json_ready(value: Any) -> Any:
    """Convert numpy scalars, paths and non-finite floats into JSON-safe values.

    Non-finite numbers become ``None`` so that no sentinel (inf, 4294967.295) leaks out.
    """
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as indented UTF-8 JSON (strict: no NaN/Infinity)."""
    path.write_text(json.dumps(json_ready(data), indent=2, ensure_ascii=False,
                               allow_nan=False) + "\n", encoding="utf-8")


def write_csv(path: Path, table: pd.DataFrame) -> None:
    """Write a table as CSV; missing values stay empty, never sentinel numbers."""
    table.to_csv(path, index=False, float_format="%.6g")


def write_layers(path: Path, layers: Mapping[str, gpd.GeoDataFrame], *,
                 styles: bool = True) -> None:
    """Write each non-empty GeoDataFrame as a named layer of one GeoPackage.

    With ``styles``, a ``layer_styles`` table gives each known layer a default QGIS style
    (the classes and colours of the map), so the file opens styled in QGIS.
    """
    for name, frame in layers.items():
        if frame is None or frame.empty:
            logger.info("layer %s is empty; not written", name)
            continue
        frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
    if styles and path.is_file():
        from accessmap.outputs.qgis import write_layer_styles

        write_layer_styles(path)


def write_outputs(
    out_dir: str | os.PathLike[str],
    writers: Mapping[str, Callable[[Path], None]],
    *,
    overwrite: bool,
) -> Path:
    """Run each writer into a staging folder, then put the folder in place atomically.

    Parameters
    ----------
    out_dir
        Output folder.
    writers
        File name -> function writing that file at the given path.
    overwrite
        Replace an existing output folder.
    """
    with staged_folder(out_dir, overwrite=overwrite) as stage:
        for name, writer in writers.items():
            writer(stage / name)
            logger.info("wrote %s", name)
    return Path(out_dir)
