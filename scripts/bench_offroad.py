"""Off-road travel (issue 15) on the real Comoros data: travel-time stage with and without.

The land cover and DEM are SYNTHETIC, generated on the fly into a temporary folder at
the population grid's resolution (3 arc-seconds, 1576 x 1270 cells): the sea (the
population raster's nodata) is water, land is a smooth random mix of tree cover,
shrubland, grassland and cropland with built-up cells where people are dense; the
elevation rises with the distance from the coast plus random hills.

Measured (median of ``--repeat`` runs, ``time.perf_counter``):

1. the travel-time stage today: ``nearest_facility_times``;
2. the same plus ``offroad_times`` (8 and 16 neighbours), and reading the two rasters
   onto the grid (``load_offroad_surface``, once).

Target: the off-road pass adds at most 2x to the travel-time stage (ratio <= 2.0).

Usage::

    flock /tmp/bench.lock python scripts/bench_offroad.py [--mode walk] [--repeat 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from scipy.ndimage import distance_transform_edt, gaussian_filter

from accessmap.config import Scenario
from accessmap.inputs.landcover import load_offroad_surface
from accessmap.pipeline import load_inputs
from accessmap.routing.offroad import offroad_times
from accessmap.routing.travel_times import nearest_facility_times

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "comoros"


def synthetic_rasters(population: Path, folder: Path, seed: int = 15) -> tuple[Path, Path]:
    """Write SYNTHETIC land cover (WorldCover classes) and DEM on the population grid."""
    rng = np.random.default_rng(seed)
    with rasterio.open(population) as src:
        people = src.read(1, masked=True)
        profile = src.profile
    sea = np.ma.getmaskarray(people) | ~np.isfinite(people.filled(np.nan))
    noise = gaussian_filter(rng.normal(size=sea.shape), 15.0)
    bins = np.quantile(noise[~sea], [0.3, 0.5, 0.8])
    cover = np.choose(np.digitize(noise, bins), [40, 30, 20, 10]).astype(np.uint8)
    cover[people.filled(0) > 200] = 50
    cover[sea] = 80
    coast_km = distance_transform_edt(~sea) * 0.092
    hills = gaussian_filter(rng.random(sea.shape), 25.0)
    dem = (120.0 * coast_km + 3000.0 * (hills - hills.mean())).clip(0, None)
    dem = np.where(sea, 0.0, dem).astype(np.float32)
    base = {k: profile[k] for k in ("width", "height", "crs", "transform")}
    cover_path, dem_path = folder / "landcover.tif", folder / "dem.tif"
    with rasterio.open(cover_path, "w", driver="GTiff", count=1, dtype="uint8", nodata=0,
                       **base) as dst:
        dst.write(cover, 1)
    with rasterio.open(dem_path, "w", driver="GTiff", count=1, dtype="float32",
                       nodata=-9999.0, **base) as dst:
        dst.write(dem, 1)
    return cover_path, dem_path


def _median_s(func: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="walk", choices=("walk", "drive"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cover, dem = synthetic_rasters(DATA / "com_ppp_2020_UNadj.tif", Path(tmp))
        scenario = Scenario(
            inputs={"network": DATA / "comores-latest.osm.pbf",
                    "population": DATA / "com_ppp_2020_UNadj.tif",
                    "facilities": DATA / "health.gpkg"},
            analysis={"mode": args.mode}, facilities={"exclude": {"amenity": ["pharmacy"]}},
            offroad={"landcover": cover, "dem": dem})
        inputs = load_inputs(scenario)
        net, pop, fac = inputs.network, inputs.population, inputs.facilities
        px, py = net.project(pop.lon, pop.lat)
        fx, fy = net.project(fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy())
        read_s, surface = _median_s(lambda: load_offroad_surface(scenario.offroad, pop), 1)

        def today() -> Any:
            return nearest_facility_times(net, px, py, fx, fy, warn_moves=False)

        base_s, access = _median_s(today, args.repeat)
        rows = [("straight line (today)", base_s, access)]
        for n in (8, 16):
            grid = type(surface)(surface.speed_kph, surface.elevation_m, surface.transform,
                                 surface.crs, neighbours=n)
            offroad_times(net, access, grid, pop.row, pop.col)  # compile once

            def with_grid(grid: Any = grid) -> Any:
                return offroad_times(net, today(), grid, pop.row, pop.col)

            seconds, result = _median_s(with_grid, args.repeat)
            rows.append((f"land cover + DEM, {n} neighbours", seconds, result))
    rows_n, cols_n = surface.shape
    print(f"Comoros {args.mode}, {pop.size:,} demand points, grid {cols_n} x {rows_n} cells, "
          f"{net.n_nodes:,} nodes; {platform.platform()}, Python {sys.version.split()[0]}; "
          f"median of {args.repeat}")
    print(f"reading land cover + DEM onto the grid: {read_s:.2f} s (once, in load_inputs)\n")
    print("| travel-time stage | s | x today | people within 60 min | mean min (reached) |")
    print("|---|---:|---:|---:|---:|")
    for name, seconds, result in rows:
        ok = np.isfinite(result.time_s)
        within = float(pop.population[result.time_s <= 3600].sum())
        mean = float(np.average(result.time_s[ok], weights=pop.population[ok])) / 60
        print(f"| {name} | {seconds:.2f} | {seconds / base_s:.2f} | {within:,.0f} | "
              f"{mean:.1f} |")
    worst = max(s for _, s, _ in rows[1:]) / base_s
    print(f"\ntarget off-road <= 2.0x the stage: {worst:.2f}x -> "
          f"{'PASS' if worst <= 2.0 else 'FAIL'}")


if __name__ == "__main__":
    main()
