"""Benchmark accessmap.engine against bare scipy and networkx on a road-like graph.

Generates a perturbed ``side x side`` grid (1,000 x 1,000 = 1M nodes by
default) with a road hierarchy: every 10th row and column is a fast
"primary" road, the rest "residential" tracks, about 10% of residential
segments missing.  Lengths come from the perturbed coordinates and travel
times are ``length / speed``.

Measured, each as the median of several runs (``time.perf_counter``):

1. nearest-facility times for 50 and 500 facilities:
   :func:`accessmap.engine.nearest_source` (its default ``method="auto"``,
   which on this graph is the two-thread pruned Dijkstra; its single-thread
   ``method="scipy"`` shown alongside) vs a bare
   ``scipy.sparse.csgraph.dijkstra(min_only=True)`` on the same CSR (target:
   ratio <= 1.3) vs ``networkx.multi_source_dijkstra_path_length`` (one run;
   target: engine >= 25x faster).  Times must equal scipy's bit for bit.
2. coverage matrix for 2,000 sources within 30 minutes:
   :func:`accessmap.engine.bounded_times` vs scipy ``dijkstra(indices=chunk,
   limit=T)`` in chunks of 100 turned into the same sparse matrix (target:
   engine >= 3x faster) vs a networkx ``single_source_dijkstra_path_length``
   loop on a sample, extrapolated (target: >= 20x); peak memory of a
   process computing the coverage matrix (target: < 4 GB).

Usage::

    python scripts/bench_engine.py [--quick] [--out FILE]
    python scripts/bench_engine.py --under-load [--busy N]

``--under-load`` only times ``nearest_source`` with ``method="scipy"``, ``"parallel"``
and ``"auto"`` on a 500 x 500 grid (250,000 nodes, above the parallel threshold) while
``N`` busy-loop processes (default 2) load the machine: ``"auto"`` must look at the load
and never be slower than scipy (target: auto / scipy <= 1.15, timer noise).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numba
import numpy as np
import scipy
import scipy.sparse
import scipy.sparse.csgraph
from numpy.typing import NDArray

from accessmap.routing._threads import auto_method, idle_cpus, thread_count, usable_cpus
from accessmap.routing.engine import (
    Sources,
    bounded_times,
    build_graph,
    nearest_source,
)

logger = logging.getLogger(__name__)

SPACING_M = 250.0  # grid spacing before perturbation
JITTER_M = 60.0  # max coordinate perturbation
PRIMARY_EVERY = 10
PRIMARY_KMH = 30.0  # paved primary roads
RESIDENTIAL_KMH = 10.0  # rural tracks and residential streets
MISSING_FRACTION = 0.10
LIMIT_S = 30 * 60.0
SCIPY_CHUNK = 100


@dataclass(frozen=True)
class Config:
    """Sizes and repeat counts of one benchmark run."""

    side: int
    facility_counts: tuple[int, ...]
    coverage_sources: int
    repeats: int
    nx_sample: int
    seed: int = 0


FULL = Config(side=1000, facility_counts=(50, 500), coverage_sources=2000, repeats=5, nx_sample=20)
QUICK = Config(side=200, facility_counts=(50, 500), coverage_sources=400, repeats=3, nx_sample=10)


@dataclass
class Report:
    """Lines of the Markdown report, printed as they come."""

    lines: list[str] = field(default_factory=list)

    def add(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)

    def check(self, label: str, wall: float, cpu: float, target: str, ok: bool) -> None:
        self.add(f"| {label} | {wall:.2f} | {cpu:.2f} | {target} | {'PASS' if ok else 'FAIL'} |")

    def check_header(self) -> None:
        self.add()
        self.add("| check | ratio (wall) | ratio (CPU) | target | result (wall) |")
        self.add("|---|---:|---:|---|---|")


# ---------------------------------------------------------------------------
# Graph
# ---------------------------------------------------------------------------


def road_grid(side: int, seed: int) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[Any]]:
    """Edges of a perturbed grid road network: tail, head, travel time (s).

    Parameters
    ----------
    side : int
        Nodes per row and column.
    seed : int
        Random seed.

    Returns
    -------
    tail, head : NDArray[np.int64]
        Both directions of every road segment.
    time : NDArray[np.float64]
        Travel time in seconds.
    """
    rng = np.random.default_rng(seed)
    row, col = np.divmod(np.arange(side * side, dtype=np.int64), side)
    x = col * SPACING_M + rng.uniform(-JITTER_M, JITTER_M, row.size)
    y = row * SPACING_M + rng.uniform(-JITTER_M, JITTER_M, row.size)
    node = np.arange(side * side, dtype=np.int64).reshape(side, side)
    horizontal = (node[:, :-1].ravel(), node[:, 1:].ravel(), row.reshape(side, side)[:, :-1])
    vertical = (node[:-1, :].ravel(), node[1:, :].ravel(), col.reshape(side, side)[:-1, :])
    tails, heads, speeds = [], [], []
    for a, b, line in (horizontal, vertical):
        primary = line.ravel() % PRIMARY_EVERY == 0
        keep = primary | (rng.random(a.size) >= MISSING_FRACTION)
        speed_ms = np.where(primary, PRIMARY_KMH, RESIDENTIAL_KMH)[keep] / 3.6
        tails += [a[keep], b[keep]]
        heads += [b[keep], a[keep]]
        speeds += [speed_ms, speed_ms]
    tail, head, speed = np.concatenate(tails), np.concatenate(heads), np.concatenate(speeds)
    length = np.hypot(x[tail] - x[head], y[tail] - y[head])
    return tail, head, length / speed


def to_networkx(graph: scipy.sparse.csr_array) -> nx.DiGraph:
    """The same graph as a networkx DiGraph (weights in ``weight``)."""
    tail = np.repeat(np.arange(graph.shape[0]), np.diff(graph.indptr))
    g = nx.DiGraph()
    g.add_nodes_from(range(graph.shape[0]))
    g.add_weighted_edges_from(
        zip(tail.tolist(), graph.indices.tolist(), graph.data.tolist(), strict=True)
    )
    return g


# ---------------------------------------------------------------------------
# Timing helpers
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Median wall-clock and CPU (all threads of this process) seconds."""

    wall: float
    cpu: float

    def __str__(self) -> str:
        return f"{self.wall:.3f} s ({self.cpu:.3f} s CPU)"

    def __truediv__(self, other: Timing) -> Timing:
        return Timing(self.wall / other.wall, self.cpu / other.cpu)

    def __mul__(self, factor: float) -> Timing:
        return Timing(self.wall * factor, self.cpu * factor)


def measure(
    funcs: dict[str, Callable[[], Any]], repeats: int
) -> tuple[dict[str, Timing], dict[str, Any]]:
    """Median times of each function over ``repeats`` round-robin rounds.

    Round-robin (a, b, a, b, ...) rather than a, a, b, b so that load from
    other processes on a shared machine hits all methods alike.  Returns the
    timings and the last result of each function.
    """
    walls: dict[str, list[float]] = {name: [] for name in funcs}
    cpus: dict[str, list[float]] = {name: [] for name in funcs}
    results: dict[str, Any] = {}
    for _ in range(repeats):
        for name, func in funcs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            results[name] = func()
            walls[name].append(time.perf_counter() - wall)
            cpus[name].append(time.process_time() - cpu)
    timings = {
        name: Timing(statistics.median(walls[name]), statistics.median(cpus[name]))
        for name in funcs
    }
    return timings, results


def measure_once(func: Callable[[], Any]) -> tuple[Timing, Any]:
    """Time a single call."""
    timings, results = measure({"f": func}, 1)
    return timings["f"], results["f"]


def scipy_coverage(
    graph: scipy.sparse.csr_array, nodes: NDArray[np.int64], limit: float
) -> scipy.sparse.csr_array:
    """Coverage matrix with scipy: bounded dijkstra in chunks, dense rows to CSR."""
    blocks = []
    for start in range(0, nodes.size, SCIPY_CHUNK):
        dist = scipy.sparse.csgraph.dijkstra(
            graph, indices=nodes[start : start + SCIPY_CHUNK], limit=limit
        )
        rows, cols = np.nonzero(np.isfinite(dist))
        indptr = np.zeros(dist.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=dist.shape[0]), out=indptr[1:])
        blocks.append(scipy.sparse.csr_array((dist[rows, cols], cols, indptr), shape=dist.shape))
    return scipy.sparse.vstack(blocks, format="csr")


def networkx_coverage(g: nx.DiGraph, nodes: NDArray[np.int64], limit: float) -> int:
    """Number of (source, node) pairs within ``limit``, with networkx."""
    return sum(len(nx.single_source_dijkstra_path_length(g, int(v), cutoff=limit)) for v in nodes)


def peak_rss_mb() -> float:
    """High-water mark of this process's resident memory, in MB.

    Read from ``/proc/self/status`` (``VmHWM``): unlike ``ru_maxrss``, it is
    not inherited from the parent across ``fork``/``exec``.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_probe(side: int, seed: int, n_sources: int) -> None:
    """Child process: build the graph, compute the coverage matrix, print peak RSS."""
    graph = build_graph(*road_grid(side, seed), side * side)
    before = peak_rss_mb()
    nodes = np.random.default_rng(seed + 1).choice(side * side, n_sources, replace=False)
    cover = bounded_times(graph, Sources.at_nodes(nodes), LIMIT_S)
    print(f"{before:.0f} {peak_rss_mb():.0f} {cover.nnz}")


def peak_memory_mb(config: Config) -> tuple[float, float]:
    """Peak RSS (MB) of a fresh process after the graph build and after coverage."""
    command = [
        sys.executable,
        __file__,
        "--memory-probe",
        str(config.side),
        str(config.seed),
        str(config.coverage_sources),
    ]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1])


# ---------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------


def machine(report: Report) -> None:
    report.add(
        f"- Machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs"
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    report.add(f"- Load average at start (1, 5, 15 min): {load} (the machine is shared)")
    report.add(
        f"- Python {platform.python_version()}, numpy {np.__version__}, scipy "
        f"{scipy.__version__}, numba {numba.__version__}, networkx {nx.__version__}"
    )


def bench_nearest(
    report: Report, config: Config, graph: scipy.sparse.csr_array, g: nx.DiGraph
) -> None:
    rng = np.random.default_rng(config.seed + 2)
    report.add()
    report.add("### Nearest facility (all nodes)")
    report.add()
    threads = thread_count(None)
    auto = auto_method(graph.shape[0], threads)
    report.add(f"nearest_source (`method=\"auto\"`) runs `{auto}` here ({threads} threads)")
    report.add()
    report.add(
        "| facilities | nearest_source | engine, method=\"scipy\" | bare scipy dijkstra "
        "| networkx (1 run) |"
    )
    report.add("|---:|---:|---:|---:|---:|")
    checks = []
    for count in config.facility_counts:
        nodes = rng.choice(graph.shape[0], count, replace=False)
        sources = Sources.at_nodes(nodes)
        timings, results = measure(
            {
                "engine": lambda s=sources: nearest_source(graph, s),
                "engine_scipy": lambda s=sources: nearest_source(graph, s, method="scipy"),
                "scipy": lambda n=nodes: scipy.sparse.csgraph.dijkstra(
                    graph, indices=n, min_only=True
                ),
            },
            config.repeats,
        )
        t_nx, lengths = measure_once(
            lambda n=nodes: nx.multi_source_dijkstra_path_length(g, set(n.tolist()))
        )
        time_engine = results["engine"][0]
        np.testing.assert_array_equal(time_engine, results["scipy"])
        np.testing.assert_array_equal(results["engine_scipy"][0], results["scipy"])
        assert len(lengths) == np.isfinite(time_engine).sum()
        report.add(
            f"| {count} | {timings['engine']} | {timings['engine_scipy']} | "
            f"{timings['scipy']} | {t_nx} |"
        )
        checks.append((count, timings["engine"] / timings["scipy"], t_nx / timings["engine"]))
    report.check_header()
    for count, overhead, speedup in checks:
        label = f"{count} facilities"
        report.check(
            f"engine / bare scipy, {label}",
            overhead.wall,
            overhead.cpu,
            "<= 1.3",
            overhead.wall <= 1.3,
        )
        report.check(
            f"networkx / engine, {label}", speedup.wall, speedup.cpu, ">= 25", speedup.wall >= 25
        )


def bench_coverage(
    report: Report, config: Config, graph: scipy.sparse.csr_array, g: nx.DiGraph
) -> None:
    rng = np.random.default_rng(config.seed + 1)
    nodes = rng.choice(graph.shape[0], config.coverage_sources, replace=False)
    sources = Sources.at_nodes(nodes)
    bounded_times(graph, Sources.at_nodes(nodes[:2]), LIMIT_S)  # load the JIT cache
    n_threads = len(os.sched_getaffinity(0))
    timings, results = measure(
        {
            "engine": lambda: bounded_times(graph, sources, LIMIT_S),
            "engine_1": lambda: bounded_times(graph, sources, LIMIT_S, n_threads=1),
        },
        config.repeats,
    )
    t_scipy, cover_scipy = measure_once(lambda: scipy_coverage(graph, nodes, LIMIT_S))
    sample = nodes[: config.nx_sample]
    t_nx_sample, pairs_nx = measure_once(lambda: networkx_coverage(g, sample, LIMIT_S))
    t_nx = t_nx_sample * (nodes.size / sample.size)
    cover, t_engine = results["engine"], timings["engine"]
    assert cover.nnz == cover_scipy.nnz
    assert pairs_nx == int(np.diff(cover.indptr)[: sample.size].sum())
    before_mb, peak_mb = peak_memory_mb(config)
    per_source = np.diff(cover.indptr)
    report.add()
    report.add(f"### Coverage matrix ({nodes.size} sources, limit {LIMIT_S / 60:.0f} min)")
    report.add()
    report.add(
        f"- Catchment size: mean {per_source.mean():.0f} nodes, median "
        f"{np.median(per_source):.0f}, max {per_source.max()}; {cover.nnz:,} stored times"
    )
    report.add(
        f"- Peak RSS of a fresh process: {before_mb:,.0f} MB after building the graph, "
        f"{peak_mb:,.0f} MB after the coverage matrix"
    )
    report.add()
    report.add("| method | time |")
    report.add("|---|---:|")
    report.add(f"| bounded_times ({n_threads} threads) | {t_engine} |")
    report.add(f"| bounded_times (1 thread) | {timings['engine_1']} |")
    report.add(f"| scipy dijkstra(limit) in chunks of {SCIPY_CHUNK}, to CSR (1 run) | {t_scipy} |")
    report.add(
        f"| networkx cutoff loop, {sample.size} sources (1 run) x {nodes.size // sample.size} "
        f"| {t_nx} |"
    )
    report.check_header()
    vs_scipy, vs_nx = t_scipy / t_engine, t_nx / t_engine
    report.check("scipy chunks / engine", vs_scipy.wall, vs_scipy.cpu, ">= 3", vs_scipy.wall >= 3)
    report.check("networkx / engine", vs_nx.wall, vs_nx.cpu, ">= 20", vs_nx.wall >= 20)
    verdict = "PASS" if peak_mb < 4096 else "FAIL"
    report.add(f"| peak memory (GB) | {peak_mb / 1024:.2f} | | < 4 | {verdict} |")


UNDER_LOAD_SIDE = 500
UNDER_LOAD_FACILITIES = 200


def bench_under_load(report: Report, busy: int, repeats: int,
                     side: int = UNDER_LOAD_SIDE) -> None:
    """``nearest_source`` methods on a loaded machine: does ``"auto"`` pick scipy?"""
    edges = road_grid(side, 0)
    n_nodes = side**2
    graph = build_graph(*edges, n_nodes)
    rng = np.random.default_rng(5)
    sources = Sources.at_nodes(rng.choice(n_nodes, UNDER_LOAD_FACILITIES, replace=False))
    nearest_source(graph, sources, method="parallel")  # load the JIT cache
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        deadline = time.monotonic() + 75  # the 1-minute load average follows slowly
        while os.getloadavg()[0] < usable_cpus() + 1 and time.monotonic() < deadline:
            time.sleep(1)
        load, idle = os.getloadavg()[0], idle_cpus()
        auto = auto_method(n_nodes, thread_count(None))
        timings, results = measure({m: lambda m=m: nearest_source(graph, sources, method=m)
                                    for m in ("scipy", "parallel", "auto")}, repeats)
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
    assert all(np.array_equal(results["scipy"][0], r[0]) for r in results.values())
    ratio = timings["auto"] / timings["scipy"]
    report.add(f"### nearest_source under load ({busy} busy-loop processes, medians of "
               f"{repeats} round-robin rounds)")
    report.add()
    report.add(f"- {n_nodes:,} nodes, {UNDER_LOAD_FACILITIES} facilities, {usable_cpus()} "
               f"usable CPUs, load average {load:.2f} (idle CPUs {idle:.1f}): "
               f"`auto` runs `{auto}`")
    report.add()
    report.add("| method | time |")
    report.add("|---|---:|")
    for name, timing in timings.items():
        report.add(f"| {name} | {timing} |")
    report.check_header()
    report.check("auto / scipy", ratio.wall, ratio.cpu, "<= 1.15", ratio.wall <= 1.15)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small graph, fewer repeats")
    parser.add_argument("--out", help="write the report as Markdown to this file")
    parser.add_argument("--memory-probe", nargs=3, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--under-load", action="store_true",
                        help="only nearest_source's methods while busy loops load the CPUs")
    parser.add_argument("--busy", type=int, default=2, help="busy loops for --under-load")
    parser.add_argument("--repeats", type=int, default=9, help="rounds for --under-load")
    parser.add_argument("--side", type=int, default=UNDER_LOAD_SIDE,
                        help="grid side for --under-load")
    args = parser.parse_args(argv)
    if args.memory_probe:
        memory_probe(*args.memory_probe)
        return
    if args.under_load:
        report = Report()
        machine(report)
        bench_under_load(report, args.busy, repeats=args.repeats, side=args.side)
        return
    config = QUICK if args.quick else FULL
    report = Report()
    report.add("## Engine (scripts/bench_engine.py)")
    report.add()
    report.add(f"Run: `python scripts/bench_engine.py{' --quick' if args.quick else ''}`")
    report.add()
    machine(report)
    t_build_edges, edges = measure_once(lambda: road_grid(config.side, config.seed))
    n_nodes = config.side * config.side
    t_build, graph = measure_once(lambda: build_graph(*edges, n_nodes))
    t_nx_build, g = measure_once(lambda: to_networkx(graph))
    report.add(
        f"- Graph: {config.side}x{config.side} perturbed grid, {n_nodes:,} nodes, "
        f"{graph.nnz:,} directed edges; primary {PRIMARY_KMH:.0f} km/h every "
        f"{PRIMARY_EVERY}th line, residential {RESIDENTIAL_KMH:.0f} km/h, spacing "
        f"{SPACING_M:.0f} m, {MISSING_FRACTION:.0%} residential segments missing"
    )
    report.add(
        f"- Build: edges {t_build_edges.wall:.2f} s, build_graph {t_build.wall:.2f} s, "
        f"networkx DiGraph {t_nx_build.wall:.1f} s (not counted below)"
    )
    report.add(
        f"- Times: wall clock (`time.perf_counter`) and, in brackets, CPU time of the process "
        f"(`time.process_time`, all threads), medians of {config.repeats} round-robin runs "
        "unless noted. PASS/FAIL is judged on wall-clock ratios; CPU ratios are less "
        "sensitive to other jobs on a shared machine"
    )
    bench_nearest(report, config, graph, g)
    bench_coverage(report, config, graph, g)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write("\n".join(report.lines) + "\n")


if __name__ == "__main__":
    main()
