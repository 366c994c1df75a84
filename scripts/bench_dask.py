"""Dask benchmarks: many runs on a 2-worker LocalCluster, and one coverage matrix split.

Usage (from the project root; a few minutes)::

    .venv/bin/python scripts/bench_dask.py [--runs 4] [--repeats 3] [--candidates 20000]
                                           [--write]

(a) ``--runs`` independent Comoros runs (drive, 2 new sites, no circuits; each its own
    output folder) through :func:`accessmap.batch.run_batch` on a LocalCluster of 1 worker
    process (one after another) and of 2 worker processes; the speed-up is the ratio of
    the wall times (target >= 1.7x on 2 free cores).  One untimed run first fills the
    network cache, so both see a warm cache; the two are measured ``--repeats`` times,
    alternating, and the medians compared.  The one-worker runs use both CPUs where a
    run can (its engine's threads), as one run after another would.
(a') The same runs as ``accessmap run`` commands one after another (each a new process
    using every CPU: how they run without ``accessmap batch``), against the 2-worker batch.
(c) The machine's own ceiling for (a): one ``accessmap run`` on one engine thread alone,
    then two at once (``2 x alone / together``; 2.0 on two idle, independent cores).
(b) The coverage matrix of ``--candidates`` random road nodes of the Comoros walk
    network against every on-network demand point within 60 minutes (the siting
    threshold of ``scripts/comoros_walk.toml``; by car 60 minutes reach most of an island
    and the matrix has ~10^9 links), computed in this
    process (the engine's threads on every CPU), in this process on one thread (batches
    one after another), in a pool of 2 spawned processes and on a 2-worker LocalCluster;
    every matrix must equal the first.

With ``--write`` the table goes into ``scripts/BENCHMARKS.md`` under "Dask".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from benchmarks_doc import write_section  # noqa: E402

SCENARIO = ROOT / "scripts" / "comoros_walk.toml"
SECTION = "## Dask (scripts/bench_dask.py)"


def _batch_file(folder: Path, runs: int) -> Path:
    lines = ['out = "runs"', "[defaults.analysis]", 'mode = "drive"',
             "[defaults.siting]", "new_sites = 2", "mobile = false"]
    for i in range(runs):
        lines += ["[[runs]]", f'name = "comoros-{i}"', f"scenario = {json.dumps(str(SCENARIO))}"]
    path = folder / "batch.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def bench_runs(runs: int, repeats: int) -> dict[str, Any]:
    """Wall seconds of ``runs`` runs on 1 and on 2 worker processes, ``repeats`` times
    (alternating, so that a slow spell of the machine hits both); medians and ratio."""
    from accessmap.batch import load_batch, run_batch

    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:  # fill the network cache
        out_dir, batch = load_batch(_batch_file(Path(tmp), 1))
        run_batch(batch, out_dir, n_workers=1, overwrite=True)
    walls: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(repeats):
        for workers in (1, 2):
            with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
                out_dir, batch = load_batch(_batch_file(Path(tmp), runs))
                start = time.perf_counter()
                rows = run_batch(batch, out_dir, n_workers=workers, overwrite=True)
                walls[workers].append(time.perf_counter() - start)
                failed = [r for r in rows if r["status"] != "done"]
                if failed:
                    raise SystemExit(f"batch failed: {failed[0]}")
            print(f"(a) {runs} runs on {workers} worker(s): {walls[workers][-1]:.1f} s",
                  flush=True)
    one, two = float(np.median(walls[1])), float(np.median(walls[2]))
    return {"runs_1_workers_s": one, "runs_2_workers_s": two, "runs_speedup": one / two,
            "runs_pairs": [(a, b) for a, b in zip(walls[1], walls[2], strict=True)]}


def _run_commands(folder: str, n: int, *, threads: str | None) -> float:
    """Seconds of ``n`` ``accessmap run`` commands of the batch's run started at once
    (``threads``: their ACCESSMAP_THREADS, None for every CPU)."""
    import subprocess

    command = [sys.executable, "-m", "accessmap.cli", "run", str(SCENARIO), "-q",
               "--mode", "drive", "--set", "siting.new_sites=2",
               "--set", "siting.mobile=false", "--overwrite", "--out"]
    env = {k: v for k, v in os.environ.items() if k != "ACCESSMAP_THREADS"}
    if threads is not None:
        env["ACCESSMAP_THREADS"] = threads
    start = time.perf_counter()
    procs = [subprocess.Popen([*command, f"{folder}/run{i}"], env=env,
                              stdout=subprocess.DEVNULL) for i in range(n)]
    if any(p.wait() for p in procs):
        raise SystemExit("accessmap run failed in the benchmark")
    return time.perf_counter() - start


def bench_commands(runs: int, repeats: int) -> dict[str, float]:
    """(a') the batch's runs as ``accessmap run`` commands one after another (every CPU
    each: how they run without ``accessmap batch``), and (c) the machine's ceiling: one
    such run on one engine thread alone, then two at once (``2 x alone / together``, the
    most any batch of such runs can gain here)."""
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        sequential = [sum(_run_commands(tmp, 1, threads=None) for _ in range(runs))
                      for _ in range(repeats)]
        alone = [_run_commands(tmp, 1, threads="1") for _ in range(repeats)]
        pair = [_run_commands(tmp, 2, threads="1") for _ in range(repeats)]
    out = {"commands_s": float(np.median(sequential)), "alone_s": float(np.median(alone)),
           "pair_s": float(np.median(pair))}
    out["ceiling"] = 2 * out["alone_s"] / out["pair_s"]
    print(f"(a') {runs} commands one after another {out['commands_s']:.1f} s; (c) one run "
          f"alone {out['alone_s']:.1f} s, two at once {out['pair_s']:.1f} s: "
          f"{out['ceiling']:.2f}x", flush=True)
    return out


def bench_matrix(n_candidates: int) -> dict[str, float]:
    """Seconds of one coverage matrix in this process and split across 2 workers."""
    from distributed import LocalCluster

    from accessmap import pipeline
    from accessmap.config import load_scenario
    from accessmap.executors import DaskExecutor, ProcessExecutor, SerialExecutor
    from accessmap.siting.candidates import coverage_matrix

    scenario = load_scenario(SCENARIO).replace(new_sites=0)
    result = pipeline.run(scenario, write=False)
    network, snap = result.network, result.access.point_snap
    rng = np.random.default_rng(16)
    nodes = rng.choice(network.n_nodes, size=min(n_candidates, network.n_nodes),
                       replace=False).astype(np.int64)
    demand = np.flatnonzero(snap.on_network)
    out: dict[str, float] = {"candidates": float(nodes.size), "demand": float(demand.size)}
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=None) as cluster:
        executors: dict[str, Any] = {
            "threads": None, "one_thread": SerialExecutor(), "processes_2": ProcessExecutor(2),
            "dask_2": DaskExecutor(cluster.scheduler_address)}
        reference = None
        for name, executor in executors.items():
            start = time.perf_counter()
            cover = coverage_matrix(network, nodes, snap, demand, 3600.0, executor=executor)
            out[f"matrix_{name}_s"] = time.perf_counter() - start
            if reference is None:
                reference = cover.matrix
            elif (cover.matrix != reference).nnz:
                raise SystemExit(f"the {name} matrix differs from the single-process one")
            print(f"(b) matrix {nodes.size} candidates x {demand.size} points, {name}: "
                  f"{out[f'matrix_{name}_s']:.1f} s ({cover.matrix.nnz} links)", flush=True)
    return out


def table(found: dict[str, Any], runs: int) -> str:
    f = found
    pairs = ", ".join(f"{a:.1f}/{b:.1f}" for a, b in f["runs_pairs"])
    return "\n".join([
        "| benchmark | one process | 2 workers | speed-up |", "|---|---|---|---|",
        f"| (a) {runs} Comoros drive runs, batch on a LocalCluster (median of "
        f"{len(f['runs_pairs'])}: {pairs} s) | "
        f"{f['runs_1_workers_s']:.1f} s (1 worker) | {f['runs_2_workers_s']:.1f} s | "
        f"{f['runs_speedup']:.2f}x |",
        f"| (a') the same {runs} runs as `accessmap run` commands one after another vs "
        f"the 2-worker batch | {f['commands_s']:.1f} s | {f['runs_2_workers_s']:.1f} s | "
        f"{f['commands_s'] / f['runs_2_workers_s']:.2f}x |",
        f"| (c) the machine's ceiling: one `accessmap run` (1 thread) alone vs two at once | "
        f"{f['alone_s']:.1f} s | {f['pair_s']:.1f} s (both) | {f['ceiling']:.2f}x |",
        f"| (b) walk coverage matrix, {int(f['candidates'])} candidates x {int(f['demand'])} "
        f"points, 60 min: Dask | {f['matrix_one_thread_s']:.1f} s (1 thread) | "
        f"{f['matrix_dask_2_s']:.1f} s | {f['matrix_one_thread_s'] / f['matrix_dask_2_s']:.2f}x |",
        f"| (b) same, process pool | {f['matrix_one_thread_s']:.1f} s (1 thread) | "
        f"{f['matrix_processes_2_s']:.1f} s | "
        f"{f['matrix_one_thread_s'] / f['matrix_processes_2_s']:.2f}x |",
        f"| (b) same, the engine's own threads in one process | - | "
        f"{f['matrix_threads_s']:.1f} s (2 threads) | "
        f"{f['matrix_one_thread_s'] / f['matrix_threads_s']:.2f}x |",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3,
                        help="repeats of (a) and (c); medians are reported")
    parser.add_argument("--candidates", type=int, default=20_000)
    parser.add_argument("--skip-runs", action="store_true", help="only (b)")
    parser.add_argument("--write", action="store_true", help="update scripts/BENCHMARKS.md")
    args = parser.parse_args(argv)
    found: dict[str, Any] = {}
    if not args.skip_runs:
        found.update(bench_runs(args.runs, args.repeats))
        found.update(bench_commands(args.runs, args.repeats))
    found.update(bench_matrix(args.candidates))
    if args.skip_runs:
        print(json.dumps(found, indent=1))
        return 0
    note = (f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
            f"{platform.machine()} with {os.cpu_count()} CPUs, Python "
            f"{sys.version.split()[0]} (load average "
            f"{os.getloadavg()[1]:.1f} over the last 5 minutes, the benchmark's own runs "
            "included).  (a) runs "
            "whole ``accessmap run``s as batch tasks, after one untimed run that fills the "
            "network cache; (a') and (c) run the same run as a command; "
            "(b) splits the candidates of one coverage matrix into batches of 512.")
    text = note + "\n\n" + table(found, args.runs)
    print(text)
    if args.write:
        write_section(SECTION, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
