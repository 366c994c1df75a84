"""SYNTHETIC land cover and elevation of the demo district (issue 15), on its population grid.

Land cover uses the ESA WorldCover class codes so that the default walking speeds apply:
cropland around the settlements and in the farm estate, grassland elsewhere, a forest,
a swamp (herbaceous wetland) beside the lake, built-up town and village centres, and
the river and the lake as permanent water (impassable).  The elevation rises into hills
across the river.  Neither is a real place; the demo scenario does not use them unless
asked (``[offroad] landcover`` / ``dem``).  Drawn from their own random stream, so the
other demo files stay as they were.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter
from shapely.geometry import Point

from accessmap.demo.geometry import irregular_ring
from accessmap.demo.population import _burn, _cell_centres_km
from accessmap.demo.settlements import District

__all__ = ["TERRAIN_SEED_OFFSET", "make_dem", "make_landcover"]

#: Added to the district's seed for the terrain's own random stream.
TERRAIN_SEED_OFFSET = 15

TREE, GRASS, CROP, BUILT, WATER, WETLAND = 10, 30, 40, 50, 80, 90


def make_landcover(district: District) -> np.ndarray:
    """Return the uint8 WorldCover-coded land cover on the population grid."""
    rng = np.random.default_rng(district.seed + TERRAIN_SEED_OFFSET)
    x, y = _cell_centres_km()
    cover = np.full(x.shape, GRASS, dtype=np.uint8)
    near = np.zeros(x.shape, dtype=bool)
    for s in [*district.settlements, *district.hamlets]:
        near |= np.hypot(x - s.x, y - s.y) < (2.0 if s.kind == "town" else 0.8)
    cover[near | _burn([district.farm_zone], all_touched=False)] = CROP
    noise = gaussian_filter(rng.normal(size=x.shape), 12.0)
    forest = (noise > np.quantile(noise, 0.8)) & ~near
    cover[forest] = TREE
    lake = district.lake.centroid
    swamp = irregular_ring((lake.x + 1.2, lake.y - 0.6), 0.9, rng)
    cover[_burn([swamp], all_touched=False)] = WETLAND
    for s in district.settlements:
        core = 0.6 if s.kind == "town" else 0.2
        cover[np.hypot(x - s.x, y - s.y) < core] = BUILT
    cover[_burn([district.river], all_touched=True)
          | _burn([district.lake], all_touched=False)] = WATER
    return cover


def make_dem(district: District) -> np.ndarray:
    """Return the float32 elevation (m): a plain at 20-60 m, hills up to ~450 m across the
    river, the river and the lake at the bottom."""
    rng = np.random.default_rng(district.seed + TERRAIN_SEED_OFFSET + 1)
    x, y = _cell_centres_km()
    far = _burn([district.far_bank], all_touched=False)
    hills = np.zeros(x.shape)
    box = district.far_bank.bounds
    placed = 0
    for _ in range(200):
        hx, hy = rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])
        if placed == 5 or not district.far_bank.contains(Point(hx, hy)):
            continue
        placed += 1
        height, width = rng.uniform(150.0, 400.0), rng.uniform(1.0, 2.5)
        hills += height * np.exp(-0.5 * (np.hypot(x - hx, y - hy) / width) ** 2)
    plain = 20.0 + 40.0 * gaussian_filter(rng.random(x.shape), 20.0)
    dem = gaussian_filter(plain + np.where(far, hills, 0.0), 2.0)
    water = _burn([district.river], all_touched=True) | _burn([district.lake], all_touched=False)
    dem[water] = np.minimum(dem[water], 15.0)
    return np.asarray(dem, dtype=np.float32)
