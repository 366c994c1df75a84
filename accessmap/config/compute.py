"""The ``[compute]`` section: how one run uses the machine (memory, parallel workers)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from accessmap._sections import Section

__all__ = ["EXECUTORS", "Compute"]

#: How the parallel parts of one run (coverage-matrix columns by candidate batch) run.
EXECUTORS = ("auto", "serial", "processes", "dask")


@dataclass(frozen=True)
class Compute(Section):
    """``[compute]``: memory and parallel workers of one run.

    Parameters
    ----------
    executor : {"auto", "serial", "processes", "dask"}
        Where the candidate batches of the coverage matrix run: in this process
        (``serial``), in a pool of ``workers`` processes (``processes``), on a Dask
        cluster (``dask``: ``scheduler``, or a local cluster of ``workers`` processes);
        ``auto`` uses a process pool when there are enough candidates for it to pay.
    workers
        Worker processes (default: the CPUs of this machine).
    scheduler
        Address of a Dask scheduler (``tcp://host:8786``) for ``executor = "dask"``.
    memory_limit_gb
        Memory the run may use; default: what the system reports available
        (``MemAvailable``), or the ``ACCESSMAP_MEMORY_LIMIT_GB`` environment variable.  A
        run whose estimated peak is larger is refused before any work.
    """

    name: ClassVar[str] = "compute"
    choices: ClassVar[Mapping[str, Sequence[str]]] = {"executor": EXECUTORS}
    executor: str = "auto"
    workers: int | None = None
    scheduler: str | None = None
    memory_limit_gb: float | None = None

    def _check(self) -> None:
        self._at_least("workers", 1)
        self._positive("memory_limit_gb", unit=" of gigabytes")
