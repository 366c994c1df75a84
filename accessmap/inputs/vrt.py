"""GDAL virtual rasters (.vrt): every source file must be there before a count is read.

A VRT is an XML list of other rasters.  When one of them is missing or unreadable GDAL
either fails half-way through reading (``Read failed``, naming nothing) or, with some
settings, reads zeros there: people silently lost.  :func:`check_vrt_sources` reads the
XML and names the VRT and the first missing source, before any cell is read.  Nested VRTs
are followed; sources GDAL reads over a network (``/vsicurl/``, ``https://``) or from
inside an archive are left to GDAL, and :func:`read_band` turns a read GDAL gives up on
(a corrupt source) into one line naming the file.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.errors

from accessmap.errors import InputFileError

__all__ = ["check_vrt_sources", "read_band", "vrt_sources"]

#: Deepest chain of VRTs of VRTs followed (a loop stops here too).
_MAX_DEPTH = 8


def vrt_sources(path: Path) -> list[Path]:
    """The local source files a VRT names, in order (relative names resolved).

    Raises
    ------
    InputFileError
        The VRT is not valid XML.
    """
    try:
        root = ET.fromstring(Path(path).read_bytes())
    except ET.ParseError as err:
        raise InputFileError(f"virtual raster {path} is not valid VRT XML ({err}); rebuild "
                             "it, e.g. with gdalbuildvrt") from None
    sources: list[Path] = []
    for element in root.iter("SourceFilename"):
        name = (element.text or "").strip()
        if not name or name.startswith("/vsi") or "://" in name:
            continue
        relative = element.get("relativeToVRT", "0").strip() == "1"
        source = Path(path).parent / name if relative else Path(name)
        if source not in sources:
            sources.append(source)
    return sources


def check_vrt_sources(path: Path, what: str, *, _depth: int = 0) -> None:
    """Refuse a VRT with a source file that is missing or cannot be read.

    Parameters
    ----------
    path
        A ``.vrt`` file (other files are not checked).
    what
        Named in the message (``"population file"``, ``"group raster"``).

    Raises
    ------
    InputFileError
        One line naming the VRT and the missing or unreadable source.
    """
    if Path(path).suffix.lower() != ".vrt" or _depth > _MAX_DEPTH:
        return
    for source in vrt_sources(path):
        if not source.is_file():
            raise InputFileError(
                f"{what} {path} is a virtual raster whose source {source} does not exist; "
                "restore the file or rebuild the VRT (gdalbuildvrt) from the files you have")
        if not os.access(source, os.R_OK):
            raise InputFileError(
                f"{what} {path} is a virtual raster whose source {source} cannot be read "
                "(no permission); make it readable or rebuild the VRT without it")
        check_vrt_sources(source, what, _depth=_depth + 1)


def read_band(dataset: rasterio.DatasetReader, path: Path, what: str,
              **options: Any) -> np.ma.MaskedArray:
    """Band 1 as a masked array; a read GDAL gives up on half-way is one clear line.

    Raises
    ------
    InputFileError
        GDAL could not read the cells (a truncated file, a corrupt VRT source).
    """
    try:
        band: np.ma.MaskedArray = dataset.read(1, masked=True, **options)
    except rasterio.errors.RasterioIOError as err:
        raise InputFileError(f"{what} {path} could not be read ({err}); check that the "
                             "file (or, for a VRT, each of its sources) is a complete "
                             "raster") from None
    return band
