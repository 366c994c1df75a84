"""Writing files safely: refuse to replace what exists, stage a folder, write strict JSON/CSV.

Everything a run writes goes through :func:`staged_folder`: files are written into a
staging folder beside the target, which takes the target's place only when complete, so a
failure, a cancellation or a kill leaves the previous folder (or none) in place.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from accessmap.errors import OutputError

__all__ = ["check_output_folder", "check_target", "json_ready", "staged_folder", "write_csv",
           "write_json", "write_layers"]

logger = logging.getLogger(__name__)


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


def write_layers(path: Path, layers: Mapping[str, gpd.GeoDataFrame | None]) -> None:
    """Write each non-empty GeoDataFrame as a named layer of one GeoPackage."""
    for name, frame in layers.items():
        if frame is None or frame.empty:
            logger.info("layer %s is empty; not written", name)
            continue
        frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
