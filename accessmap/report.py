"""Run outputs: ``summary.json``, CSV tables, ``layers.gpkg`` and the map, written atomically.

Everything is first written into a staging folder beside the output folder; only when
every file is complete does the staging folder take the output folder's place.  An
existing output folder is replaced only with ``overwrite=True``, and a failed run leaves
nothing half-written behind.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from accessmap._errors import OutputError

logger = logging.getLogger(__name__)

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
        from accessmap._qgis import write_layer_styles

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
