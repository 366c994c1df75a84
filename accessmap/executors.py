"""Executors for the embarrassingly parallel parts of one run: serial, processes or Dask.

An executor maps a module-level function ``fn(item, shared)`` over items and returns the
results in the items' order.  ``shared`` (arrays, never graphs of Python objects or file
handles) goes to each worker once: a process pool's initializer, Dask's
``scatter(broadcast=True)``.  Progress ticks run on the calling thread after each item;
a tick that raises (:class:`~accessmap.errors.Cancelled`) cancels the items not started
and propagates.  Nothing here knows what the items are (see
:func:`accessmap.siting.candidates.coverage_matrix`).
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any, Protocol

from accessmap.errors import ConfigError

__all__ = ["DaskExecutor", "Executor", "ProcessExecutor", "SerialExecutor", "local_cluster",
           "make_executor", "pre_spawn_environ"]

logger = logging.getLogger(__name__)

#: A progress callback: fraction done (0-1) and a message; may raise.
TickFn = Callable[[float, str], None]
#: The work of one item: ``fn(item, shared)``, a module-level function (picklable).
WorkFn = Callable[[Any, Any], Any]


class Executor(Protocol):
    """Maps ``fn(item, shared)`` over ``items``, results in order."""

    name: str
    workers: int

    def map(self, fn: WorkFn, items: Sequence[Any], shared: Any, *,
            tick: TickFn | None = None) -> list[Any]:
        """Return ``[fn(item, shared) for item in items]``."""
        ...


class SerialExecutor:
    """Every item in this process, one after another."""

    name = "serial"
    workers = 1

    def map(self, fn: WorkFn, items: Sequence[Any], shared: Any, *,
            tick: TickFn | None = None) -> list[Any]:
        """Return ``[fn(item, shared) for item in items]``, ticking after each."""
        out = []
        for done, item in enumerate(items, start=1):
            out.append(fn(item, shared))
            if tick is not None:
                tick(done / len(items), f"{done} of {len(items)} batches")
        return out


_SHARED: Any = None


def _keep_shared(shared: Any) -> None:
    global _SHARED
    _SHARED = shared


def _with_shared(fn: WorkFn, item: Any) -> Any:
    return fn(item, _SHARED)


class ProcessExecutor:
    """A pool of ``workers`` fresh (spawned) processes on this machine."""

    name = "processes"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)

    def map(self, fn: WorkFn, items: Sequence[Any], shared: Any, *,
            tick: TickFn | None = None) -> list[Any]:
        """Return ``[fn(item, shared) for item in items]`` from the pool, in order."""
        results: list[Any] = [None] * len(items)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(self.workers, mp_context=context, initializer=_keep_shared,
                                 initargs=(shared,)) as pool:
            futures = {pool.submit(_with_shared, fn, item): i for i, item in enumerate(items)}
            try:
                for done, future in enumerate(as_completed(futures), start=1):
                    results[futures[future]] = future.result()
                    if tick is not None:
                        tick(done / len(items), f"{done} of {len(items)} batches")
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        return results


class DaskExecutor:
    """A Dask cluster: the scheduler at ``scheduler``, else a local cluster of processes.

    Parameters
    ----------
    scheduler
        ``tcp://host:port`` of a running scheduler; default ``DASK_SCHEDULER_ADDRESS``,
        else a :class:`~distributed.LocalCluster` of ``workers`` processes, one thread
        each, made for the call and closed after it.
    workers
        Processes of the local cluster (default: the CPUs).
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, *, workers: int | None = None) -> None:
        self.scheduler = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
        self.workers = max(1, workers or os.cpu_count() or 1)

    def map(self, fn: WorkFn, items: Sequence[Any], shared: Any, *,
            tick: TickFn | None = None) -> list[Any]:
        """Return ``[fn(item, shared) for item in items]`` from the cluster, in order."""
        try:
            distributed: Any = importlib.import_module("distributed")
        except ImportError:
            raise ImportError("compute.executor = 'dask' needs Dask: pip install "
                              "'accessmap[dask]'") from None
        cluster = None if self.scheduler is not None else local_cluster(distributed,
                                                                         self.workers)
        client = distributed.Client(cluster if cluster is not None else self.scheduler)
        try:
            logger.info("%d batches on the Dask scheduler at %s", len(items),
                        client.scheduler_info()["address"])
            remote = client.scatter(shared, broadcast=True)
            futures = [client.submit(fn, item, remote, pure=False) for item in items]
            where = {future.key: i for i, future in enumerate(futures)}
            results: list[Any] = [None] * len(items)
            try:
                finished = distributed.as_completed(futures)
                for done, future in enumerate(finished, start=1):
                    results[where[future.key]] = future.result()
                    if tick is not None:
                        tick(done / len(items), f"{done} of {len(items)} batches")
            except BaseException:
                client.cancel(futures)
                raise
            return results
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def make_executor(kind: str, *, workers: int | None = None, scheduler: str | None = None,
                  ) -> Executor | None:
    """The executor of ``[compute] executor`` (``None``: the engine's own threads).

    ``auto`` gives ``None``: the routing engine already runs the searches of one call on
    all the CPUs of this process, and on one machine a process pool only adds the cost
    of starting it (scripts/BENCHMARKS.md, "Dask").  ``serial`` gives a
    :class:`SerialExecutor` (one batch after another on one thread), ``processes`` a
    :class:`ProcessExecutor`, ``dask`` a :class:`DaskExecutor`.
    """
    if kind == "auto":
        return None
    if kind == "serial":
        return SerialExecutor()
    if kind == "processes":
        return ProcessExecutor(workers)
    if kind == "dask":
        return DaskExecutor(scheduler, workers=workers)
    raise ConfigError(f"compute.executor {kind!r} is unknown; use one of auto, serial, "
                      "processes, dask")


def local_cluster(distributed: Any, n_workers: int, *,
                  env: Mapping[str, str] | None = None) -> Any:
    """A :class:`~distributed.LocalCluster` of ``n_workers`` processes (one thread each) on
    this machine, its dashboard on a free port of 127.0.0.1, its workers started with
    glibc's own malloc trimming (see :func:`pre_spawn_environ`) and ``env`` set."""
    with _glibc_trimming():
        return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                        processes=True, dashboard_address="127.0.0.1:0",
                                        env=dict(env or {}))


#: Dask's setting: environment variables its nannies set before starting a worker.
_PRE_SPAWN = "distributed.nanny.pre-spawn-environ"

#: glibc's malloc trim threshold variable, and Dask's own value of it in :data:`_PRE_SPAWN`.
_TRIM, _DASK_TRIM_THRESHOLD = "MALLOC_TRIM_THRESHOLD_", "65536"


def pre_spawn_environ(environ: Mapping[str, Any]) -> dict[str, Any]:
    """Dask's pre-spawn environment for local workers, without its malloc trim threshold.

    Dask sets ``MALLOC_TRIM_THRESHOLD_=65536`` in every worker so that freed memory goes
    back to the system at once.  Setting it also fixes glibc's mmap threshold at 128 KiB
    (``mallopt(3)``), so every array larger than that is mapped afresh and faulted in page
    by page: a Comoros run then takes 3.4x the page faults and about 15% longer (11.2 s
    instead of 9.7 s, 684,000 faults instead of 200,000), more with two runs side by side.
    A value a user configured (anything but Dask's own) is kept.

    Examples
    --------
    >>> pre_spawn_environ({"MALLOC_TRIM_THRESHOLD_": 65536, "OMP_NUM_THREADS": 1})
    {'OMP_NUM_THREADS': 1}
    """
    return {key: value for key, value in environ.items()
            if not (key == _TRIM and str(value) == _DASK_TRIM_THRESHOLD)}


@contextmanager
def _glibc_trimming() -> Iterator[None]:
    """Workers started inside get glibc's own malloc trimming (see
    :func:`pre_spawn_environ`): Dask's value is left out of its pre-spawn setting and, while
    the workers start, of this process' environment, where an earlier local cluster of
    this process may have put it (Dask's nannies update ``os.environ`` before spawning)."""
    import dask.config

    inherited = os.environ.get(_TRIM)
    if inherited == _DASK_TRIM_THRESHOLD:
        del os.environ[_TRIM]
    try:
        with dask.config.set({_PRE_SPAWN: pre_spawn_environ(dask.config.get(_PRE_SPAWN, {}))}):
            yield
    finally:
        if inherited is not None:
            os.environ[_TRIM] = inherited
