"""Admin areas and population groups joined to demand points, for coverage by area/group.

* Admin areas come from a polygon file (with a name column) or from the boundary
  relations of an OpenStreetMap extract at one ``admin_level`` (read with pyosmium's
  area assembly).  Each demand point gets the name of the area containing its cell
  centre; coastal cells cut by the coastline whose centre lies just outside every area
  join the nearest area within ``snap_km`` (1 km); the rest are labelled
  ``OUTSIDE`` and stay in every table so totals always add up.
* Groups come from a polygon attribute (e.g. wealth quintile), from a count raster on
  the population grid (e.g. WorldPop under-5s, see
  :func:`accessmap.population.counts_on_grid`), and always from settlement type:
  :func:`settlement_classes` (urban / peri-urban / rural from population density).
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import rasterio.features
import scipy.spatial
import shapely
from numpy.typing import NDArray

from accessmap._raster import cell_area_km2, polygon_mapping
from accessmap.errors import DataQualityWarning, InputDataError, InputFileError
from accessmap.inputs.facilities import read_vector
from accessmap.inputs.population import Population, aggregate_sum

__all__ = [
    "assign_areas", "group_labels", "load_admin_areas", "osm_admin_areas",
    "settlement_classes",
]

logger = logging.getLogger(__name__)


OUTSIDE = "(outside areas)"


URBAN, PERI_URBAN, RURAL = "urban", "peri-urban", "rural"


#: Admin level used when areas are read from an OSM extract and none is given
#: (level 4 is the first level below the country: regions, provinces, islands).
DEFAULT_ADMIN_LEVEL = 4


_OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz")


def load_admin_areas(
    path: str | os.PathLike[str],
    *,
    admin_level: int | None = None,
    name_column: str | None = None,
) -> gpd.GeoDataFrame:
    """Read admin-area polygons as ``area_name`` + geometry (EPSG:4326).

    Parameters
    ----------
    path
        An OpenStreetMap extract (boundary relations are assembled into polygons) or any
        polygon file pyogrio reads.
    admin_level
        OSM ``admin_level`` to keep (OSM extracts only); default ``DEFAULT_ADMIN_LEVEL``.
    name_column
        Column naming each area (polygon files only); default ``name``.

    Raises
    ------
    InputFileError
        The file is missing or unreadable.
    InputDataError
        No area at ``admin_level`` in the extract (the levels present are listed), the
        name column is absent, or the file holds no polygons.
    """
    path = Path(path)
    if path.name.lower().endswith(_OSM_SUFFIXES):
        return osm_admin_areas(path, admin_level=admin_level or DEFAULT_ADMIN_LEVEL)
    frame = read_vector(path, what="boundaries")
    column = name_column or "name"
    if column not in frame.columns:
        raise InputDataError(
            f"boundaries file {path} has no column {column!r}; columns are "
            f"{', '.join(map(str, frame.columns.drop('geometry')))}; set "
            "boundary_name_column to the one naming each area"
        )
    frame = frame[frame.geometry.notna() & frame.geometry.geom_type.isin(
        ["Polygon", "MultiPolygon"])]
    if frame.empty:
        raise InputDataError(f"boundaries file {path} holds no polygons")
    names = frame[column].astype(str).where(frame[column].notna(), "(unnamed)")
    return _dissolve(gpd.GeoDataFrame({"area_name": names.to_numpy()},
                                      geometry=frame.geometry.to_numpy(), crs="EPSG:4326"))


def osm_admin_areas(path: str | os.PathLike[str], *, admin_level: int) -> gpd.GeoDataFrame:
    """Assemble ``boundary=administrative`` areas at ``admin_level`` from an OSM file.

    Raises
    ------
    InputFileError
        The file is missing or not readable by pyosmium.
    InputDataError
        No area has that level (the message lists the levels present).
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"boundaries file {path} does not exist; check the path")
    levels: dict[str, int] = {}
    names, geoms = [], []
    wkb = osmium.geom.WKBFactory()
    boundary = osmium.filter.TagFilter(("boundary", "administrative"))
    try:
        processor = (osmium.FileProcessor(str(path)).with_areas(boundary)
                     .with_filter(osmium.filter.EntityFilter(osmium.osm.AREA))
                     .with_filter(boundary))
        for area in processor:
            if not isinstance(area, osmium.osm.Area):
                continue
            level = area.tags.get("admin_level") or "?"
            levels[level] = levels.get(level, 0) + 1
            if level != str(admin_level):
                continue
            try:
                geom = shapely.from_wkb(wkb.create_multipolygon(area))
            except RuntimeError:
                message = f"{path.name}: boundary {area.orig_id()} has a broken outline; skipped"
                logger.warning("%s", message)
                warnings.warn(message, DataQualityWarning, stacklevel=2)
                continue
            if not geom.is_empty and geom.area > 0:
                names.append(area.tags.get("name", f"area {area.orig_id()}"))
                geoms.append(geom)
    except RuntimeError as err:
        raise InputFileError(f"{path}: cannot read this OpenStreetMap file ({err})") from None
    if not geoms:
        present = ", ".join(f"{lvl} ({n})" for lvl, n in sorted(levels.items())) or "none"
        raise InputDataError(
            f"{path}: no administrative boundary at admin_level {admin_level}; levels "
            f"present (areas): {present}; choose one of them or give a polygon file"
        )
    logger.info("%d admin areas at level %d from %s", len(geoms), admin_level, path.name)
    return _dissolve(gpd.GeoDataFrame({"area_name": names}, geometry=geoms, crs="EPSG:4326"))


def _dissolve(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One valid (Multi)Polygon per area name, in first-seen order."""
    frame = frame.assign(geometry=shapely.make_valid(frame.geometry.to_numpy()))
    order = pd.unique(frame["area_name"])
    merged = frame.dissolve(by="area_name", sort=False).reindex(order)
    return gpd.GeoDataFrame({"area_name": list(order)},
                            geometry=merged.geometry.to_numpy(), crs="EPSG:4326")


def assign_areas(
    polygons: gpd.GeoDataFrame,
    population: Population,
    *,
    column: str = "area_name",
    snap_km: float = 1.0,
) -> NDArray[np.object_]:
    """Label each demand point with ``polygons[column]`` of the polygon holding its centre.

    Polygons are rasterised onto the population grid (a cell belongs to the polygon
    containing its centre; where polygons overlap, the first wins), which is fast even
    for detailed coastlines.  Populated cells outside every polygon take the label of
    the nearest labelled cell within about ``snap_km`` (coastal cells cut by the
    coastline) - the nearest populated cell that lies inside an area - else ``OUTSIDE``.
    """
    values = polygons[column].to_numpy()
    labels = np.empty(population.size, dtype=object)
    labels.fill(OUTSIDE)  # np.full with a str is ~20x slower for 200k objects
    if labels.size == 0 or values.size == 0:
        return labels
    shapes = polygons.to_crs(population.crs).geometry.to_numpy()
    # the smallest integer type that holds every polygon number (a grid of uint8 for up
    # to 254 areas is a quarter of an int32 grid)
    dtype = next(t for t in ("uint8", "uint16", "int32") if shapes.size < np.iinfo(t).max)
    index = rasterio.features.rasterize(
        ((polygon_mapping(g), i + 1) for i, g in reversed(list(enumerate(shapes)))
         if g is not None),
        out_shape=population.shape, transform=population.transform, fill=0, dtype=dtype)
    owner = index[population.row, population.col].astype(np.int32)
    del index
    if (owner == 0).any() and snap_km > 0 and (owner > 0).any():
        owner = _snap_to_nearest(population, owner, snap_km)
    labels[owner > 0] = values[owner[owner > 0] - 1]
    outside = int((owner == 0).sum())
    if outside:
        logger.info("%d demand points lie outside every area (%s)", outside, OUTSIDE)
    return labels


def _snap_to_nearest(
    population: Population, owner: NDArray[np.int32], snap_km: float
) -> NDArray[np.int32]:
    """Give unlabelled points the label of the nearest labelled point within ``snap_km``.

    Distances use a local equirectangular projection of the cell centres (exact enough
    at the kilometre scale of the snap).
    """
    lat0 = np.radians(float(np.median(population.lat)))
    xy = np.column_stack([population.lon * 111.32 * np.cos(lat0), population.lat * 110.574])
    labelled = np.flatnonzero(owner > 0)
    lost = np.flatnonzero(owner == 0)
    distance, nearest = scipy.spatial.cKDTree(xy[labelled]).query(
        xy[lost], distance_upper_bound=snap_km)
    found = np.isfinite(distance)
    owner = owner.copy()
    owner[lost[found]] = owner[labelled[nearest[found]]]
    return owner


def group_labels(
    path: str | os.PathLike[str], column: str, population: Population
) -> NDArray[np.object_]:
    """Label demand points with a polygon attribute (e.g. ``wealth_quintile``).

    Raises
    ------
    InputDataError
        The file has no column ``column``.
    """
    frame = read_vector(path, what="groups")
    if column not in frame.columns:
        raise InputDataError(
            f"groups file {path} has no column {column!r}; columns are "
            f"{', '.join(map(str, frame.columns.drop('geometry')))}; set group_column"
        )
    frame = frame[frame[column].notna()].assign(group=lambda f: f[column].astype(str))
    return assign_areas(frame, population, column="group", snap_km=0.0)


def settlement_classes(
    population: Population,
    *,
    urban_centre_density: float = 1500.0,
    urban_cluster_density: float = 300.0,
    urban_centre_min_population: float = 50_000.0,
    urban_cluster_min_population: float = 5_000.0,
    block_km: float = 1.0,
) -> NDArray[np.object_]:
    """Classify demand points as urban, peri-urban or rural (degree-of-urbanisation style).

    Population is summed over blocks of about ``block_km`` x ``block_km`` (whole cells;
    1 km as in the GHSL / Eurostat Degree of Urbanisation) and divided by the blocks'
    true area (cells shrink with latitude in EPSG:4326).  Contiguous blocks (4-connected)
    with at least ``urban_centre_density`` people/km² holding together at least
    ``urban_centre_min_population`` people are *urban*; contiguous blocks (8-connected)
    with at least ``urban_cluster_density`` people/km² holding at least
    ``urban_cluster_min_population`` are *peri-urban*; everything else is *rural*.
    Every demand point takes its block's class.
    """
    areas = np.broadcast_to(cell_area_km2(population.transform, population.shape,
                                          population.crs), population.shape)
    cell_km = float(np.sqrt(np.median(areas)))
    factor = max(1, round(block_km / cell_km)) if cell_km > 0 else 1
    block_pop, _ = aggregate_sum(population.to_grid(population.population, fill=0.0),
                                 population.transform, factor)
    block_area, _ = aggregate_sum(np.ascontiguousarray(areas), population.transform, factor)
    with np.errstate(invalid="ignore", divide="ignore"):
        density = np.where(block_area > 0, block_pop / block_area, 0.0)
    centre = _big_clusters(density >= urban_centre_density, block_pop,
                           urban_centre_min_population, np.array([[0, 1, 0], [1, 1, 1],
                                                                  [0, 1, 0]]))
    cluster = _big_clusters(density >= urban_cluster_density, block_pop,
                            urban_cluster_min_population, np.ones((3, 3)))
    classes = np.full(block_pop.shape, RURAL, dtype=object)
    classes[cluster] = PERI_URBAN
    classes[centre] = URBAN
    return classes[population.row // factor, population.col // factor]


def _big_clusters(
    dense: NDArray[np.bool_], pop: NDArray[np.float64], min_population: float,
    structure: NDArray[np.floating | np.integer],
) -> NDArray[np.bool_]:
    import scipy.ndimage

    labels, count = scipy.ndimage.label(dense, structure=structure)
    if count == 0:
        return np.zeros(dense.shape, dtype=bool)
    sums = np.bincount(labels.ravel(), weights=pop.ravel(), minlength=count + 1)
    keep = sums >= min_population
    keep[0] = False
    return np.asarray(keep[labels], dtype=bool)
