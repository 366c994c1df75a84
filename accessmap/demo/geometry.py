"""The local kilometre frame of the demo district and the shapes drawn in it.

Geometry is built in a local kilometre frame (x east, y north from the
south-west corner of the district) and converted to lon/lat only when written.
This module holds the district box, the conversion to lon/lat, wiggly
polylines (roads, the river, boundary lines), blob-shaped rings (the lake) and
the cutting of the district into faces.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence

import numpy as np
import shapely
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry

__all__ = [
    "HEIGHT_KM",
    "KM_PER_DEG_LAT",
    "KM_PER_DEG_LON",
    "LAT_MAX",
    "LAT_MIN",
    "LON_MAX",
    "LON_MIN",
    "WIDTH_KM",
    "district_box_km",
    "geometry_to_lonlat",
    "irregular_ring",
    "split_by_lines",
    "to_lonlat",
    "wiggle_leg",
    "wiggle_through",
]


# District bounding box (degrees); each edge lies on the 3 arc-second grid.
LON_MIN, LAT_MIN, LON_MAX, LAT_MAX = 33.0, -13.8, 33.28, -13.53

KM_PER_DEG_LAT = 110.6

KM_PER_DEG_LON = 111.32 * math.cos(math.radians((LAT_MIN + LAT_MAX) / 2.0))

WIDTH_KM = (LON_MAX - LON_MIN) * KM_PER_DEG_LON

HEIGHT_KM = (LAT_MAX - LAT_MIN) * KM_PER_DEG_LAT


def to_lonlat(xy: np.ndarray) -> np.ndarray:
    """Convert local kilometre coordinates to lon/lat degrees.

    Parameters
    ----------
    xy : numpy.ndarray
        Array of shape (n, 2) with x (east) and y (north) in km from the
        south-west corner of the district.

    Returns
    -------
    numpy.ndarray
        Array of shape (n, 2) with longitude and latitude.
    """
    xy = np.asarray(xy, dtype=float)
    return np.column_stack(
        (LON_MIN + xy[:, 0] / KM_PER_DEG_LON, LAT_MIN + xy[:, 1] / KM_PER_DEG_LAT)
    )


def geometry_to_lonlat(geom: BaseGeometry) -> BaseGeometry:
    """Return ``geom`` (local km) in lon/lat degrees."""
    return shapely.transform(geom, to_lonlat)


def district_box_km() -> Polygon:
    """Return the district rectangle in local km."""
    return box(0.0, 0.0, WIDTH_KM, HEIGHT_KM)


def wiggle_leg(
    a: Sequence[float],
    b: Sequence[float],
    rng: np.random.Generator,
    *,
    spacing: float = 0.15,
    amp_frac: float = 0.04,
    max_amp: float = 0.35,
    jitter: float = 0.008,
) -> np.ndarray:
    """Return a gently wiggly polyline from ``a`` to ``b`` (both kept exactly).

    Parameters
    ----------
    a, b : sequence of float
        End points in km.
    rng : numpy.random.Generator
        Source of randomness.
    spacing : float
        Approximate distance between intermediate nodes (km).
    amp_frac, max_amp : float
        Lateral amplitude as a fraction of the length, and its cap (km).
    jitter : float
        Standard deviation of per-node noise (km).

    Returns
    -------
    numpy.ndarray
        Array of shape (n, 2), n >= 2.
    """
    start, end = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    delta = end - start
    length = float(np.hypot(*delta))
    count = max(1, math.ceil(length / spacing))
    t = np.linspace(0.0, 1.0, count + 1)
    amplitude = min(max_amp, amp_frac * length)
    offset = np.zeros_like(t)
    for k in (1, 2, 3):
        offset += rng.normal(0.0, amplitude / k) * np.sin(k * math.pi * t)
    normal = np.array([-delta[1], delta[0]]) / max(length, 1e-12)
    noise = rng.normal(0.0, jitter, (count + 1, 2))
    noise[[0, -1]] = 0.0
    return start + np.outer(t, delta) + np.outer(offset, normal) + noise


def wiggle_through(
    points: Sequence[Sequence[float]], rng: np.random.Generator, **kwargs: float
) -> tuple[np.ndarray, list[int]]:
    """Join ``points`` with wiggly legs.

    Returns
    -------
    coords : numpy.ndarray
        The polyline, shape (n, 2).
    anchors : list of int
        Index in ``coords`` of each input point.
    """
    parts = [np.asarray(points[0], dtype=float)[None, :]]
    anchors = [0]
    for a, b in itertools.pairwise(points):
        leg = wiggle_leg(a, b, rng, **kwargs)
        parts.append(leg[1:])
        anchors.append(anchors[-1] + len(leg) - 1)
    return np.vstack(parts), anchors


def irregular_ring(
    centre: Sequence[float], radius: float, rng: np.random.Generator, vertices: int = 24
) -> Polygon:
    """Return a blob-shaped polygon around ``centre``."""
    theta = np.linspace(0.0, 2.0 * math.pi, vertices, endpoint=False)
    phase = rng.uniform(0.0, 2.0 * math.pi, 2)
    r = radius * (1.0 + 0.15 * np.sin(2 * theta + phase[0]) + 0.1 * np.sin(3 * theta + phase[1]))
    return Polygon(np.column_stack((centre[0] + r * np.cos(theta), centre[1] + r * np.sin(theta))))


def split_by_lines(lines: Iterable[BaseGeometry]) -> list[Polygon]:
    """Return the faces of the district cut by ``lines`` (extending past it is fine)."""
    noded = shapely.union_all([district_box_km().boundary, *lines])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    return [face for face in faces if face.area > 1e-9]
