"""Facility lists -> validated WGS84 points with an id, a name and a type.

Reads GeoJSON, GeoPackage, Shapefile (anything pyogrio reads) or CSV with longitude and
latitude columns.  Polygons (hospital grounds mapped as areas), lines and MultiPoints
become a representative point of their geometry, with a warning naming the rows.
Rows can be left out by column value (``exclude={"amenity": ("pharmacy",)}``).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accessmap.errors import DataQualityWarning, InputDataError, InputFileError

__all__ = ["ID_COLUMNS", "equal_to", "facility_ids", "id_column", "load_facilities",
           "read_vector"]

logger = logging.getLogger(__name__)


_LON_COLUMNS = ("lon", "longitude", "lng", "x")


_LAT_COLUMNS = ("lat", "latitude", "y")


_NAME_COLUMNS = ("name", "facility_name", "nom")


_TYPE_COLUMNS = ("type", "facility_type", "amenity", "healthcare")


_NOT_A_TYPE = {"", "yes", "no", "nan", "none"}


#: Columns holding a facility's own id, in the order they are looked for.
ID_COLUMNS = ("facility_id", "id", "osm_id", "@id")


def read_vector(path: str | os.PathLike[str], *, what: str,
                layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file into a GeoDataFrame in EPSG:4326.

    The frame's index is the 0-based data row of the file, so that messages can name
    ``row index + 1`` (the 1-based data row) even after rows are left out.

    Parameters
    ----------
    path
        Any format pyogrio reads; CSV files need longitude/latitude columns.
    what
        What the file is, for messages (``"facilities"``, ``"boundaries"``).
    layer
        The layer of a multi-layer file (GeoPackage); required when there are several.

    Raises
    ------
    InputFileError
        The file is missing or unreadable.
    InputDataError
        It has no CRS (and is not CSV), its coordinates are not plausible, or it has
        several layers and ``layer`` does not name one of them.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{what} file {path} does not exist; check the path")
    if path.suffix.lower() == ".csv":
        return _read_csv_points(path, what)
    layer = _choose_layer(path, what, layer)
    try:
        frame = gpd.read_file(path, layer=layer)
    except Exception as err:
        raise InputFileError(f"{what} file {path} cannot be read as a vector file ({err})") \
            from None
    if frame.crs is None:
        raise InputDataError(
            f"{what} file {path} has no coordinate reference system; save it with one "
            "(e.g. EPSG:4326) in QGIS"
        )
    return frame.to_crs("EPSG:4326")


def _choose_layer(path: Path, what: str, layer: str | None) -> str | None:
    """The layer to read: ``layer`` if the file has it, the only one, else refused."""
    import pyogrio

    try:
        names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    except Exception:  # unreadable: read_file reports it
        return layer
    if layer is not None and layer not in names:
        raise InputDataError(f"{what} file {path} has no layer {layer!r}; its layers: "
                             + ", ".join(names))
    if layer is None and len(names) > 1:
        raise InputDataError(f"{what} file {path} has {len(names)} layers ("
                             + ", ".join(names) + "); name the one to use")
    return layer


def _read_csv_points(path: Path, what: str) -> gpd.GeoDataFrame:
    try:
        table = pd.read_csv(path)
    except Exception as err:
        raise InputFileError(f"{what} file {path} cannot be read as CSV ({err})") from None
    lower = {c.lower(): c for c in table.columns}
    lon_col = next((lower[c] for c in _LON_COLUMNS if c in lower), None)
    lat_col = next((lower[c] for c in _LAT_COLUMNS if c in lower), None)
    if lon_col is None or lat_col is None:
        raise InputDataError(
            f"{what} file {path}: no longitude/latitude columns found (looked for "
            f"{'/'.join(_LON_COLUMNS)} and {'/'.join(_LAT_COLUMNS)})"
        )
    lon = pd.to_numeric(table[lon_col], errors="coerce")
    lat = pd.to_numeric(table[lat_col], errors="coerce")
    bad_lat = np.flatnonzero((lat.abs() > 90).to_numpy())
    if bad_lat.size:
        row = int(bad_lat[0])
        raise InputDataError(
            f"{path} row {row + 1} (line {row + 2}): latitude {lat.iloc[row]} is out of range; "
            f"are the {lon_col}/{lat_col} columns swapped?"
        )
    geometry = gpd.points_from_xy(lon, lat)
    return gpd.GeoDataFrame(table, geometry=geometry, crs="EPSG:4326")


def load_facilities(
    path: str | os.PathLike[str],
    *,
    exclude: Mapping[str, Sequence[str]] | None = None,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Load health facilities as points with ``facility_id``, ``name`` and ``type``.

    Parameters
    ----------
    path
        Facility file (GeoJSON, GeoPackage, Shapefile, CSV with lon/lat).
    exclude
        Rows to leave out: column -> values, e.g. ``{"amenity": ["pharmacy"]}``; values
        are compared as numbers on a number column (``capacity=14`` matches 14.0).
    layer
        The layer of a multi-layer GeoPackage (required when it has several).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per facility used, in EPSG:4326, with the input's columns kept and
        ``facility_id`` (see :func:`facility_ids`: stable across exclusions and
        scenarios), ``name``, ``type`` and ``capacity`` (NaN if unknown).
        ``attrs["dropped"]`` lists rows left out for lack of geometry, with their reason.

    Warns
    -----
    DataQualityWarning
        Rows were left out for lack of a usable geometry (one warning for all of them;
        each row is also logged); rows that are not points (polygons, lines,
        MultiPoints) were replaced by a representative point; an exclusion value
        matches no facility.

    Raises
    ------
    InputDataError
        No usable facility remains, ids are missing or repeated, an exclusion names a
        missing column, coordinates
        are out of range, a capacity is not a finite number >= 0, or the file has
        several layers and ``layer`` names none of them.
    """
    path = Path(path)
    frame = read_vector(path, what="facilities", layer=layer)
    ids, own_ids = facility_ids(frame, path), id_column(frame)
    frame = _apply_exclusions(frame, exclude or {}, path)
    frame, dropped = _usable_points(frame, path)
    if frame.empty:
        raise InputDataError(
            f"facilities file {path}: no facility with a usable point geometry remains"
            + (f" after excluding {dict(exclude)}" if exclude else "")
            + "; check the file's geometries and the exclusions"
        )
    _check_ranges(frame, path)
    capacity = _capacities(frame, path)
    frame = frame.assign(facility_id=ids.loc[frame.index].to_numpy()).reset_index(drop=True)
    frame["type"] = _facility_types(frame)
    frame["name"] = [
        name if name else f"unnamed {kind} #{i}"
        for i, name, kind in zip(
            frame["facility_id"], map(_name_text, _first_column(frame, _NAME_COLUMNS,
                                                                default="")), frame["type"],
            strict=True)
    ]
    frame["capacity"] = capacity
    frame.attrs["dropped"] = dropped
    frame.attrs["id_column"] = own_ids
    logger.info("loaded %d facilities from %s (%d rows without usable geometry)",
                len(frame), path.name, len(dropped))
    return frame


def facility_ids(frame: pd.DataFrame, path: str | os.PathLike[str]) -> pd.Series:
    """The stable id of each row: the file's id column, else its 1-based data row.

    The id column is the first of :data:`ID_COLUMNS` the file has (case-insensitive);
    whole numbers stay numbers, other ids become trimmed text.  Without one, the id is
    the row's 1-based data row in the file (row 1 is the first facility), counted before
    any row is left out, so ids stay the same whatever a scenario excludes or closes.

    Raises
    ------
    InputDataError
        The id column has an empty or a repeated value (the message names the rows).
    """
    column = id_column(frame)
    if column is None:
        return pd.Series([_data_row(i) for i in frame.index], index=frame.index)
    values = [_id_value(v) for v in frame[column].tolist()]
    empty = [i for i, v in enumerate(values) if v == ""]
    if empty:
        raise InputDataError(
            f"facilities file {path}: {len(empty)} row(s) have no {column} (first: row "
            f"{_data_row(frame.index[empty[0]])}); give every facility an id or remove the "
            f"{column} column to number facilities by row")
    seen: dict[str, int] = {}
    for i, value in enumerate(values):
        if str(value) in seen:  # as text: 1 and "1" are the same id
            raise InputDataError(
                f"facilities file {path}: {column} {str(value)!r} is repeated (rows "
                f"{_data_row(frame.index[seen[str(value)]])} and "
                f"{_data_row(frame.index[i])}); facility ids must be unique")
        seen[str(value)] = i
    if all(isinstance(v, int) for v in values):
        return pd.Series(values, index=frame.index, dtype="int64")
    return pd.Series([str(v) for v in values], index=frame.index, dtype=object)


def id_column(frame: pd.DataFrame) -> str | None:
    """The frame's id column: the first of :data:`ID_COLUMNS` it has, case-insensitive."""
    lower = {str(c).lower(): str(c) for c in frame.columns}
    return next((lower[c] for c in ID_COLUMNS if c in lower), None)


def _id_value(value: object) -> int | str:
    """An id as a whole number when it is one, else as trimmed text ("" when empty)."""
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return ""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return int(value)
    return str(value).strip()


def _name_text(value: object) -> str:
    """A facility name as text; numbers (a clinic called 12) stay names, not "unnamed"."""
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return ""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _capacities(frame: pd.DataFrame, path: Path) -> NDArray[np.float64]:
    """The capacity column as numbers (NaN where empty); refuses text, inf and negatives."""
    if "capacity" not in frame:
        return np.full(len(frame), np.nan)
    raw = frame["capacity"]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    given = ~raw.isna().to_numpy() & (raw.astype(str).str.strip() != "").to_numpy()
    with np.errstate(invalid="ignore"):
        bad = given & ~(np.isfinite(values) & (values >= 0))
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        shown = raw.iloc[at]
        shown = repr(shown) if isinstance(shown, str) else str(shown)
        raise InputDataError(
            f"facilities file {path} row {_data_row(frame.index[at])}: capacity "
            f"{shown} is not a number >= 0; give a finite capacity (beds, staff) "
            f"or leave it empty for unknown ({int(bad.sum())} such row(s))")
    return np.asarray(values, dtype=np.float64)


def _data_row(label: object) -> int:
    """1-based data row of a frame index label (read_vector numbers rows from 0)."""
    return int(label) + 1 if isinstance(label, int | np.integer) else 0


def equal_to(column: pd.Series, value: object) -> NDArray[np.bool_]:
    """Rows of ``column`` equal to ``value``, as numbers on a number column (``14`` matches
    ``14.0``; a text that is no number matches nothing there), else as exact text."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
        if pd.isna(number):
            return np.zeros(len(column), dtype=np.bool_)
        close = np.isclose(column.to_numpy(dtype=np.float64), float(number), rtol=0, atol=1e-9)
        return np.asarray(close, dtype=np.bool_)
    return np.asarray(column.astype(str).eq(str(value)).to_numpy(), dtype=np.bool_)


def _apply_exclusions(
    frame: gpd.GeoDataFrame, exclude: Mapping[str, Sequence[str]], path: Path
) -> gpd.GeoDataFrame:
    keep = np.ones(len(frame), dtype=bool)
    for column, values in exclude.items():
        if column not in frame.columns:
            raise InputDataError(
                f"facilities file {path} has no column {column!r} to exclude by; columns: "
                + ", ".join(str(c) for c in frame.columns if c != "geometry")
            )
        hit = np.zeros(len(frame), dtype=bool)
        for value in values:
            found = equal_to(frame[column], value)
            if not found.any():
                seen = ", ".join(map(str, pd.unique(frame[column].dropna())[:8]))
                message = (f"facilities file {path.name}: the exclusion {column}={value!r} "
                           f"matches no facility (values of {column}: {seen}); check its "
                           "spelling")
                logger.warning("%s", message)
                warnings.warn(message, DataQualityWarning, stacklevel=4)
            hit |= found
        logger.info("excluding %d facilities where %s is one of %s", hit.sum(), column,
                    list(values))
        keep &= ~hit
    return frame.loc[keep]


def _usable_points(
    frame: gpd.GeoDataFrame, path: Path
) -> tuple[gpd.GeoDataFrame, list[dict[str, object]]]:
    geometry = frame.geometry
    empty = (geometry.isna() | geometry.is_empty).to_numpy()
    dropped = [
        {"row": _data_row(frame.index[i]), "reason": "no geometry"} for i in np.flatnonzero(empty)
    ]
    frame = frame.loc[~empty].copy()
    not_point = frame.geometry.geom_type != "Point"
    if not_point.any():
        _warn_not_points(frame.loc[not_point], path)
        frame.loc[not_point, "geometry"] = frame.loc[not_point].geometry.representative_point()
    lon = frame.geometry.x.to_numpy()
    bad = ~np.isfinite(lon) | ~np.isfinite(frame.geometry.y.to_numpy())
    dropped += [{"row": _data_row(frame.index[i]), "reason": "coordinates are not numbers"}
                for i in np.flatnonzero(bad)]
    for item in dropped:
        logger.warning("facilities file %s row %s left out: %s", path.name, item["row"],
                       item["reason"])
    if dropped:
        shown = "; ".join(f"row {d['row']}: {d['reason']}" for d in dropped[:5])
        more = f"; and {len(dropped) - 5} more" if len(dropped) > 5 else ""
        warnings.warn(f"facilities file {path.name}: {len(dropped)} row(s) left out for lack "
                      f"of a usable point ({shown}{more})", DataQualityWarning, stacklevel=3)
    return frame.loc[~bad], dropped


def _warn_not_points(frame: gpd.GeoDataFrame, path: Path) -> None:
    """Log and warn that rows with other geometries than points were replaced by a point.

    The point is shapely's ``representative_point`` (inside a polygon, on a line, one of
    a MultiPoint's points), so that the facility lies on the feature that was mapped.
    """
    kinds = frame.geometry.geom_type.to_numpy()
    rows = [f"row {_data_row(label)} ({kind})"
            for label, kind in zip(frame.index[:5], kinds[:5], strict=True)]
    more = f" and {len(frame) - 5} more" if len(frame) > 5 else ""
    message = (f"facilities file {path.name}: {len(frame)} row(s) are not points "
               f"({', '.join(rows)}{more}); each is placed at a representative point of its "
               "geometry (inside a polygon, on a line, one point of a MultiPoint): give "
               "points if the entrance is elsewhere")
    logger.warning("%s", message)
    warnings.warn(message, DataQualityWarning, stacklevel=4)


def _check_ranges(frame: gpd.GeoDataFrame, path: Path) -> None:
    lat = frame.geometry.y.to_numpy()
    lon = frame.geometry.x.to_numpy()
    bad = np.flatnonzero((np.abs(lat) > 90) | (np.abs(lon) > 180))
    if bad.size:
        row = int(bad[0])
        raise InputDataError(
            f"facilities file {path} row {_data_row(frame.index[row])}: coordinates "
            f"({lon[row]}, {lat[row]}) are "
            "outside longitude/latitude ranges; are the columns swapped or is the CRS wrong?"
        )


def _facility_types(frame: pd.DataFrame) -> list[str]:
    """Per row, the first meaningful value of the type columns (OSM ``yes`` is not a type)."""
    columns = [c for c in _TYPE_COLUMNS if c in frame.columns]
    types = []
    for values in zip(*(frame[c] for c in columns), strict=True) if columns else []:
        found = [str(v) for v in values if str(v).strip().lower() not in _NOT_A_TYPE
                 and not pd.isna(v)]
        types.append(found[0] if found else "health facility")
    return types or ["health facility"] * len(frame)


def _first_column(frame: pd.DataFrame, names: Sequence[str], *, default: str) -> pd.Series:
    for name in names:
        if name in frame.columns:
            return frame[name]
    return pd.Series(default, index=frame.index)
