"""How many threads the engine uses, and which nearest-source method ``"auto"`` picks.

The two-thread pruned Dijkstra (``method="parallel"``) only pays when its threads run at
the same time.  On a shared machine whose CPUs are already busy (another run, a
benchmark) the threads take turns and the parallel method is measured 1.5-2x *slower*
than plain scipy, so ``"auto"`` counts the CPUs that are idle, not those it may use:

``idle = usable CPUs - other runnable work``, where the other work is the 1-minute load
average (:func:`os.getloadavg`) minus this process' own running thread, at least 0.

``"auto"`` runs ``"parallel"`` when at least two threads are allowed, two CPUs are idle
and the graph has :data:`PARALLEL_MIN_NODES` nodes or more; scipy otherwise.  Where the
system has no load average (Windows), every usable CPU counts as idle.
"""

from __future__ import annotations

import logging
import os

from accessmap.errors import InputDataError

__all__ = ["PARALLEL_MIN_NODES", "THREADS_ENV", "auto_method", "idle_cpus", "thread_count",
           "usable_cpus"]

logger = logging.getLogger(__name__)

#: Below this many nodes ``nearest_source(method="auto")`` runs scipy (the query takes
#: milliseconds and loading the compiler is not worth its 0.3 s and 90 MB).
PARALLEL_MIN_NODES = 200_000


#: Environment variable capping the engine's threads per process (``accessmap batch`` sets
#: it in each worker of a local cluster, so that runs side by side do not oversubscribe
#: the CPUs).
THREADS_ENV = "ACCESSMAP_THREADS"


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the system has one), at most
    ``$ACCESSMAP_THREADS`` when that is set to a whole number >= 1."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    cap = os.environ.get(THREADS_ENV, "")
    return min(cpus, int(cap)) if cap.isdigit() and int(cap) >= 1 else cpus


def idle_cpus() -> float:
    """Usable CPUs not taken by other runnable work (see the module docstring)."""
    cpus = usable_cpus()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average on this system
        return float(cpus)
    return max(0.0, cpus - max(0.0, load - 1.0))


def thread_count(n_threads: int | None) -> int:
    """Threads to use: ``n_threads`` or the CPUs available to this process.

    Raises
    ------
    InputDataError
        ``n_threads`` is below 1.
    """
    if n_threads is None:
        return usable_cpus()
    if n_threads < 1:
        raise InputDataError(f"n_threads must be >= 1, got {n_threads!r}")
    return int(n_threads)


def auto_method(n_nodes: int, n_threads: int, *, idle: float | None = None) -> str:
    """The method ``nearest_source(method="auto")`` runs: ``"parallel"`` or ``"scipy"``.

    Parameters
    ----------
    n_nodes
        Nodes of the graph.
    n_threads
        Threads the parallel method would use.
    idle
        Idle CPUs (default :func:`idle_cpus`, measured now).

    Examples
    --------
    >>> auto_method(1_000_000, 2, idle=2.0), auto_method(1_000_000, 2, idle=0.5)
    ('parallel', 'scipy')
    """
    if n_threads < 2 or n_nodes < PARALLEL_MIN_NODES:
        return "scipy"
    free = idle_cpus() if idle is None else idle
    if free < 2:
        logger.info("nearest source: scipy, as only %.1f CPUs are idle (the threads of the "
                    "parallel method would take turns)", free)
        return "scipy"
    return "parallel"
