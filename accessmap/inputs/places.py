"""Place names (cities, towns, villages, islands) from an OpenStreetMap extract.

The decision map labels them so that it can be read without online tiles.  Places are
OSM nodes tagged ``place=city|town|village|island``, and closed ways or multipolygon
relations with the same tags (islands are usually mapped as areas), which are reduced to
a point inside the area.  Other inputs (GraphML networks, polygon files) have no place
names: :func:`read_places` then returns an empty frame with the same columns.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import shapely

from accessmap.errors import InputFileError

__all__ = ["PLACE_COLUMNS", "PLACE_KINDS", "read_places"]

logger = logging.getLogger(__name__)


#: Place kinds read, most prominent first (the order labels are drawn and ranked in).
PLACE_KINDS = ("city", "island", "town", "village")

#: Columns of the frame :func:`read_places` returns (besides ``geometry``).
PLACE_COLUMNS = ("name", "place", "population")

_OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz")


def read_places(
    path: str | os.PathLike[str],
    *,
    kinds: Sequence[str] = PLACE_KINDS,
    name_tags: Sequence[str] = ("name",),
    bbox: tuple[float, float, float, float] | None = None,
) -> gpd.GeoDataFrame:
    """Read the named places of an OSM extract as points (EPSG:4326).

    Parameters
    ----------
    path
        An OpenStreetMap extract (``.osm.pbf``, ``.osm``, ``.osm.bz2``, ``.osm.gz``).  Any
        other file gives an empty frame.
    kinds
        ``place`` values to keep, e.g. ``{"city", "town", "village", "island"}``.
    name_tags
        Tags tried in turn for the label (e.g. ``("name:fr", "name")``); places with none
        of them are left out.
    bbox
        ``(west, south, east, north)``: keep only places inside it.

    Returns
    -------
    geopandas.GeoDataFrame
        ``name``, ``place``, ``population`` (float, NaN when untagged or not a number) and
        a point geometry; ordered by ``kinds``, then population, then size (largest
        first: the big islands before the islets), then name.
        A place mapped both as a node and as an area is kept once (the node).

    Raises
    ------
    InputFileError
        The OSM file is missing or not readable by pyosmium.

    Examples
    --------
    >>> places = read_places("comores-latest.osm.pbf")  # doctest: +SKIP
    >>> places.query("place == 'city'")["name"].tolist()  # doctest: +SKIP
    ['Moroni موروني', 'Mutsamudu موتسامودو', 'فومبوني Fomboni']
    """
    path = Path(path)
    if not path.name.lower().endswith(_OSM_SUFFIXES):
        return _frame([], [], [], [])
    if not path.is_file():
        raise InputFileError(f"OSM file {path} does not exist; check the path")
    wanted = tuple(("place", kind) for kind in kinds)
    if not wanted:
        return _frame([], [], [], [])
    names: list[str] = []
    places: list[str] = []
    people: list[float] = []
    points: list[shapely.Point] = []
    from_area: list[bool] = []
    sizes: list[float] = []
    wkb = osmium.geom.WKBFactory()
    place_filter = osmium.filter.TagFilter(*wanted)
    try:
        processor = (osmium.FileProcessor(str(path)).with_areas(place_filter)
                     .with_filter(place_filter))
        for obj in processor:
            if isinstance(obj, osmium.osm.Node):
                point, size = shapely.Point(obj.location.lon, obj.location.lat), 0.0
            elif isinstance(obj, osmium.osm.Area):
                try:
                    outline = shapely.from_wkb(wkb.create_multipolygon(obj))
                except (RuntimeError, shapely.errors.GEOSException):
                    continue  # a broken outline: its label is not worth a warning
                point, size = outline.point_on_surface(), float(outline.area)
            else:
                continue  # ways and relations arrive again as areas
            name = next((obj.tags.get(tag) for tag in name_tags if obj.tags.get(tag)), None)
            if not name or point.is_empty:
                continue
            names.append(str(name))
            places.append(str(obj.tags.get("place")))
            people.append(_population(obj.tags.get("population")))
            points.append(point)
            from_area.append(isinstance(obj, osmium.osm.Area))
            sizes.append(size)
    except RuntimeError as err:
        raise InputFileError(f"{path}: cannot read this OpenStreetMap file ({err})") from None
    frame = _frame(names, places, people, points)
    frame["_area"] = from_area
    frame["_size"] = sizes
    if bbox is not None and not frame.empty:
        frame = frame.cx[bbox[0]:bbox[2], bbox[1]:bbox[3]]
    # a place mapped as a node and as an area: keep the node (its point is the centre)
    frame = frame.sort_values("_area", kind="stable")
    frame = frame[~frame.duplicated(["name", "place"]) | ~frame["_area"]]
    rank = {kind: i for i, kind in enumerate(kinds)}
    frame = frame.assign(_rank=frame["place"].map(rank), _people=-frame["population"].fillna(0),
                         _size=-frame["_size"])
    frame = frame.sort_values(["_rank", "_people", "_size", "name"], kind="stable")
    frame = frame.drop(columns=["_area", "_size", "_rank", "_people"]).reset_index(drop=True)
    logger.info("%d place names from %s", len(frame), path.name)
    return frame


def _population(value: str | None) -> float:
    """``population`` tag as a number: ``"30000"``, ``"30 000"``, ``"30,000"``; NaN else."""
    if not value:
        return float("nan")
    digits = re.sub(r"[\s,.'\u202f\u00a0]", "", value)
    return float(digits) if digits.isdigit() else float("nan")


def _frame(names: list[str], places: list[str], people: list[float],
           points: list[shapely.Point]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": np.array(names, dtype=object), "place": np.array(places, dtype=object),
         "population": np.array(people, dtype=float)},
        geometry=gpd.GeoSeries(points, crs="EPSG:4326"), crs="EPSG:4326")
