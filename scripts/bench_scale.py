"""Scale benchmark: ``accessmap run`` on N tiled copies of Comoros, cold and warm cache.

Usage (from the project root)::

    .venv/bin/python scripts/bench_scale.py --sizes 1,4 --work /tmp/scale
    .venv/bin/python scripts/bench_scale.py --sizes 1,4,16,64 --work /data/scale --write

For each N it makes the country with ``scripts/make_large_country.py`` (once, in
``--work``), then runs ``accessmap run`` in a fresh process twice: with an empty network
cache (cold) and again (warm).  It reports the wall time, every stage's time from
``summary.json timings_s``, the peak RSS of the run's process (``wait4``), the time per
million raster cells and, between consecutive sizes, each stage's growth exponent
``log(t2 / t1) / log(N2 / N1)`` (1 = linear, 2 = quadratic), also of the peak and of
the size of ``map.html`` (budget 10 MB at every N).  With ``--write`` the table
goes into ``scripts/BENCHMARKS.md`` under "Scale" (replacing that section).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from benchmarks_doc import write_section  # noqa: E402
from make_large_country import make_country  # noqa: E402

SECTION = "## Scale (scripts/bench_scale.py)"


def _run(scenario: Path, out: Path, cache: Path) -> dict[str, object]:
    """One ``accessmap run`` in a fresh process: wall, peak RSS, stage timings."""
    env = {**os.environ, "ACCESSMAP_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "accessmap.cli", "run", str(scenario), "--out", str(out),
               "--overwrite", "-q"]
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    stderr = child.stderr.read().decode() if child.stderr else ""
    if status != 0:
        raise SystemExit(f"accessmap run failed ({status}): {stderr[-1500:]}")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return {"wall_s": wall, "peak_gb": usage.ru_maxrss / 2**20,
            "map_mb": (out / "map.html").stat().st_size / 1e6,
            "layers_mb": (out / "layers.gpkg").stat().st_size / 1e6,
            "stages": dict(summary.get("timings_s", {}))}


def bench(sizes: list[int], work: Path, *, kinds: tuple[str, ...] = ("cold", "warm")
          ) -> list[dict[str, object]]:
    rows = []
    for n in sizes:
        folder = work / f"n{n}"
        if not (folder / "scenario.toml").is_file():
            info = make_country(n, folder)
        else:
            info = {"cells": _cells(folder)}
        cache = work / f"cache-n{n}"
        shutil.rmtree(cache, ignore_errors=True)
        if kinds == ("warm",):  # fill the cache first, untimed
            _run(folder / "scenario.toml", folder / "run-fill", cache)
        for kind in kinds:
            result = _run(folder / "scenario.toml", folder / f"run-{kind}", cache)
            rows.append({"n": n, "cache": kind, "cells_m": int(info["cells"]) / 1e6, **result})
            print(f"N={n} {kind}: {result['wall_s']:.1f} s, {result['peak_gb']:.2f} GB, "
                  f"map.html {result['map_mb']:.1f} MB", flush=True)
    return rows


def _cells(folder: Path) -> int:
    import rasterio

    with rasterio.open(folder / "population.tif") as src:
        return int(src.width * src.height)


def table(rows: list[dict[str, object]]) -> str:
    stages = sorted({s for r in rows for s in r["stages"]})  # type: ignore[attr-defined]
    head = ["N", "cache", "cells (M)", "wall s", "peak GB", "s per M cells", "map.html MB",
            "layers.gpkg MB", *stages]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        st = r["stages"]
        lines.append("| " + " | ".join([
            str(r["n"]), str(r["cache"]), f"{r['cells_m']:.1f}", f"{r['wall_s']:.1f}",
            f"{r['peak_gb']:.2f}", f"{float(r['wall_s']) / float(r['cells_m']):.2f}",
            f"{float(r.get('map_mb', float('nan'))):.1f}",  # type: ignore[arg-type]
            f"{float(r.get('layers_mb', float('nan'))):.0f}",  # type: ignore[arg-type]
            *(f"{st.get(s, float('nan')):.2f}" for s in stages)]) + " |")  # type: ignore[attr-defined]
    warm = [r for r in rows if r["cache"] == "warm"]
    if len(warm) > 1:
        lines += ["", "Growth exponent between consecutive N (warm; 1 = linear):", "",
                  "| from N | to N | wall | peak | map.html | " + " | ".join(stages) + " |",
                  "|" + "---|" * (5 + len(stages))]
        for a, b in itertools.pairwise(warm):
            ratio = math.log(int(b["n"]) / int(a["n"]))

            def growth(x: float, y: float, r: float = ratio) -> str:
                return f"{math.log(y / x) / r:.2f}" if x > 0 and y > 0 else "-"

            lines.append("| " + " | ".join([
                str(a["n"]), str(b["n"]), growth(float(a["wall_s"]), float(b["wall_s"])),
                growth(float(a["peak_gb"]), float(b["peak_gb"])),
                growth(float(a["map_mb"]), float(b["map_mb"])),  # type: ignore[arg-type]
                *(growth(a["stages"].get(s, 0), b["stages"].get(s, 0))  # type: ignore[attr-defined]
                  for s in stages)]) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4", help="comma-separated N (1,4,16,64)")
    parser.add_argument("--work", type=Path, required=True,
                        help="folder for the countries, caches and runs (outside the repo)")
    parser.add_argument("--write", action="store_true", help="update scripts/BENCHMARKS.md")
    parser.add_argument("--warm-only", action="store_true",
                        help="time the warm-cache run only (the cache is filled untimed)")
    parser.add_argument("--note", default="", help="machine and load, written above the table")
    args = parser.parse_args()
    work = args.work.resolve()
    if work == ROOT or ROOT in work.parents:
        parser.error("--work must be outside the repository")
    rows = bench([int(s) for s in args.sizes.split(",")], work,
                 kinds=("warm",) if args.warm_only else ("cold", "warm"))
    text = table(rows)
    print(text)
    if args.write:
        write_section(SECTION, f"{args.note or f'Sizes {args.sizes}.'}\n\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
