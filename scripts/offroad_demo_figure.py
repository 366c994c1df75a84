"""The demo district with and without off-road travel (docs/network.md, docs/img/).

Runs the SYNTHETIC demo scenario (no new sites) three times: today's straight-line walk
to the road, then with the demo's land cover, then with land cover and DEM; prints the
coverage table of each (markdown) and draws land cover, elevation and the travel times
with and without into ``docs/img/offroad_demo.png``.

Usage::

    python scripts/offroad_demo_figure.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import rasterio

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.colors import BoundaryNorm, ListedColormap

from accessmap import pipeline
from accessmap.demo import DEMO_FILES, demo_data_dir, demo_scenario

OUT = Path(__file__).resolve().parents[1] / "docs" / "img" / "offroad_demo.png"
CLASSES = {10: ("tree cover", "#1b7837"), 30: ("grassland", "#d9f0a3"),
           40: ("cropland", "#fdae61"), 50: ("built-up", "#d73027"),
           80: ("water", "#2166ac"), 90: ("wetland", "#80cdc1")}


def main() -> None:
    folder = demo_data_dir()
    base = demo_scenario().replace(new_sites=0)
    cover, dem = folder / DEMO_FILES["landcover"], folder / DEMO_FILES["dem"]
    runs = {"straight line (today)": base,
            "land cover": base.replace(landcover=cover),
            "land cover + DEM": base.replace(landcover=cover, dem=dem)}
    grids = {}
    print("| walk to the road | within 30 min | 60 min | 120 min | no route | stage s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, scenario in runs.items():
        result = pipeline.run(scenario, write=False)
        shares = [f"{s:.1%}" for s in result.coverage["share"]]
        no_route = float(result.population.population[result.access.status == 2].sum())
        print(f"| {name} | {' | '.join(shares)} | {no_route:,.0f} | "
              f"{result.timings_s['travel_times']:.2f} |")
        grids[name] = result.population.to_grid(result.access.time_s / 60)
    _figure(cover, dem, grids)


def _figure(cover: Path, dem: Path, grids: dict[str, np.ndarray]) -> None:
    with rasterio.open(cover) as src:
        classes = src.read(1)
    with rasterio.open(dem) as src:
        elevation = src.read(1)
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.6), constrained_layout=True)
    codes = sorted(CLASSES)
    cmap = ListedColormap([CLASSES[c][1] for c in codes])
    norm = BoundaryNorm([*codes, codes[-1] + 1], cmap.N)
    axes[0].imshow(classes, cmap=cmap, norm=norm, interpolation="nearest")
    axes[0].set_title("land cover (SYNTHETIC)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=CLASSES[c][1]) for c in codes]
    axes[0].legend(handles, [CLASSES[c][0] for c in codes], loc="lower left", fontsize=7)
    shown = axes[1].imshow(elevation, cmap="terrain")
    axes[1].set_title("elevation m (SYNTHETIC)")
    fig.colorbar(shown, ax=axes[1], shrink=0.8)
    for ax, name in zip(axes[2:], ("straight line (today)", "land cover + DEM"), strict=True):
        shown = ax.imshow(grids[name], cmap="magma_r", vmin=0, vmax=180)
        ax.set_title(f"minutes to care: {name}")
    fig.colorbar(shown, ax=axes[2:], shrink=0.8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Synthetic demo district (not a real place): walking to the road in a "
                 "straight line vs over land cover and slope")
    fig.savefig(OUT, dpi=80)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
