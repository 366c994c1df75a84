"""Deterministic generator of the embedded synthetic demo district.

The district is fictional ("Synthetic district (not a real place)"): about
30 x 30 km of rural land near lon 33.0, lat -13.8 with a market town, twenty
villages, hamlets, a river with few bridges and a small road cluster that is
not connected to the rest.  It is written in the real formats the pipeline
reads:

* ``network.osm``: OSM XML 0.6 with shared junction nodes and OSM tags,
* ``population.tif``: WorldPop-like GeoTIFF (EPSG:4326, 3 arc-second cells,
  float32, nodata -99999, deflate),
* ``facilities.geojson``, ``subdistricts.geojson``, ``groups.geojson``,
* ``README.md`` with totals and the licence.

Everything is a pure function of the seed: two runs give byte-identical files.
This module runs the stages in their fixed order (:func:`make_district`) and
writes the files into place (:func:`make_demo_data`); the stages live in
:mod:`~accessmap.demo.geometry`, :mod:`~accessmap.demo.network`,
:mod:`~accessmap.demo.settlements`, :mod:`~accessmap.demo.roads`,
:mod:`~accessmap.demo.countryside`, :mod:`~accessmap.demo.areas`,
:mod:`~accessmap.demo.population` and :mod:`~accessmap.demo.writers`.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from shapely.geometry import Point

from accessmap.demo.areas import make_groups, make_subdistricts, place_facilities
from accessmap.demo.countryside import (
    add_farm_cluster,
    add_hamlets,
    add_place_nodes,
    add_water,
)
from accessmap.demo.geometry import HEIGHT_KM, WIDTH_KM, irregular_ring, split_by_lines
from accessmap.demo.population import make_population
from accessmap.demo.roads import (
    add_field_tracks,
    add_planned_roads,
    add_town_grid,
    add_village_streets,
    check_network,
)
from accessmap.demo.settlements import (
    FARM_CENTRE,
    FARM_EXCLUSION_KM,
    LAKE_CENTRE,
    LAKE_RADIUS_KM,
    District,
    build_river,
    plan_settlements,
)
from accessmap.demo.writers import FILE_NAMES, write_all
from accessmap.errors import OutputError

__all__ = ["DEFAULT_SEED", "make_demo_data", "make_district"]

logger = logging.getLogger(__name__)


DEFAULT_SEED = 20261122
"""Seed of the committed demo data in ``data/demo``."""


def make_district(seed: int) -> District:
    """Build the whole synthetic district for ``seed``."""
    rng = np.random.default_rng(seed)
    settlements = plan_settlements(rng)
    river, river_full = build_river(rng)
    banks = split_by_lines([river_full])
    corner = Point(WIDTH_KM - 0.01, HEIGHT_KM - 0.01)
    far_bank = next(face for face in banks if face.contains(corner))
    district = District(
        seed=seed,
        rng=rng,
        settlements=settlements,
        river=river,
        river_full=river_full,
        far_bank=far_bank,
        lake=irregular_ring(LAKE_CENTRE, LAKE_RADIUS_KM, rng),
        farm_zone=Point(FARM_CENTRE).buffer(FARM_EXCLUSION_KM),
    )
    add_town_grid(district)
    add_planned_roads(district)
    add_village_streets(district)
    add_field_tracks(district)
    add_hamlets(district)
    add_farm_cluster(district)
    add_water(district)
    add_place_nodes(district)
    check_network(district)
    district.facilities = place_facilities(district)
    district.subdistricts = make_subdistricts(district)
    district.groups = make_groups(district)
    district.population = make_population(district)
    return district


def make_demo_data(out_dir: str | os.PathLike[str], *, seed: int = DEFAULT_SEED) -> dict[str, Path]:
    """Generate the synthetic demo district into ``out_dir``.

    The output is a pure function of ``seed``: running twice gives
    byte-identical files.  Files are written into a temporary folder next to
    ``out_dir`` and then moved into place one by one.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Destination folder (created if needed; existing demo files are replaced).
    seed : int
        Seed of the random generator.

    Returns
    -------
    dict of str to pathlib.Path
        Paths keyed ``network``, ``population``, ``facilities``, ``boundaries``,
        ``groups`` and ``readme``.

    Raises
    ------
    OutputError
        If the folder cannot be written.
    AccessmapError
        If the seed yields a layout that breaks the demo's invariants.
    """
    out = Path(out_dir)
    district = make_district(seed)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-tmp-", dir=out.parent))
    except OSError as exc:
        raise OutputError(f"cannot write demo data next to {out}: {exc}") from exc
    try:
        write_all(district, staging)
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        for key, name in FILE_NAMES.items():
            os.replace(staging / name, out / name)
            paths[key] = out / name
    except OSError as exc:
        raise OutputError(f"cannot write demo data to {out}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info(
        "wrote synthetic demo district (seed %d) to %s: %d nodes, %d ways, %d facilities",
        seed,
        out,
        len(district.network.xy),
        len(district.network.ways),
        len(district.facilities),
    )
    return paths
