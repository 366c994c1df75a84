"""Peak-memory estimate of a run, made before any work, and the refusal of runs too large.

The estimate is linear in what a run holds: the population raster's cells (divided by
``aggregate`` squared), the road network (its file size) and a fixed base.  The
coefficients come from ``scripts/bench_scale.py`` runs of tiled Comoros (drive, 10 new
sites; docs/scaling.md): N=16 peaked at 2.48 GB with 32.8 M cells and a 49 MB extract,
1.64 GB with ``aggregate = 2`` (so about 34 bytes a cell), N=4 at 1.30 GB (so about 9
bytes per byte of extract and a base near 0.9 GB); the constants add 10-20 %.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from accessmap.config import Scenario
from accessmap.errors import ResourceError

__all__ = ["BASE_BYTES", "BYTES_PER_CELL", "BYTES_PER_NETWORK_BYTE", "MEMORY_LIMIT_ENV",
           "MemoryEstimate", "available_memory", "check_memory", "estimate_peak_memory"]

logger = logging.getLogger(__name__)

#: Resident memory of an accessmap process before any data (interpreter, libraries).
BASE_BYTES = 2**30
#: Peak bytes per population-raster cell of the run's window (after ``aggregate``).
BYTES_PER_CELL = 40
#: Peak bytes per byte of the road network file (``.osm.pbf``; parsed, arrays, graph).
BYTES_PER_NETWORK_BYTE = 12
#: Environment variable overriding the memory available (gigabytes).
MEMORY_LIMIT_ENV = "ACCESSMAP_MEMORY_LIMIT_GB"
_GB = 2**30


@dataclass(frozen=True)
class MemoryEstimate:
    """A run's estimated peak memory and what it may use (bytes)."""

    cells: int
    network_bytes: int
    peak_bytes: int
    available_bytes: int | None

    @property
    def fits(self) -> bool:
        """Whether the estimate is within the memory available (unknown: yes)."""
        return self.available_bytes is None or self.peak_bytes <= self.available_bytes

    def describe(self) -> str:
        """One line: estimate, inputs, memory available."""
        room = ("unknown" if self.available_bytes is None
                else f"{self.available_bytes / _GB:.1f} GB")
        return (f"estimated peak memory {self.peak_bytes / _GB:.1f} GB "
                f"({self.cells / 1e6:.1f} M population cells, road network "
                f"{self.network_bytes / 1e6:.0f} MB); available {room}")


def estimate_peak_memory(scenario: Scenario, *, available_bytes: int | None = None
                         ) -> MemoryEstimate:
    """Estimate a run's peak memory from its input files' sizes and its settings.

    Parameters
    ----------
    scenario
        The run; its population raster (header only) and network file (size) are read.
    available_bytes
        Memory the run may use; default :func:`available_memory` for the scenario.

    Returns
    -------
    MemoryEstimate
    """
    cells = _raster_cells(scenario.inputs.population) // scenario.analysis.aggregate**2
    network = scenario.inputs.network
    network_bytes = network.stat().st_size if network is not None and network.is_file() else 0
    peak = BASE_BYTES + BYTES_PER_CELL * cells + BYTES_PER_NETWORK_BYTE * network_bytes
    if available_bytes is None:
        available_bytes = available_memory(scenario.compute.memory_limit_gb)
    return MemoryEstimate(cells, network_bytes, int(peak), available_bytes)


def check_memory(scenario: Scenario) -> MemoryEstimate:
    """Log the estimate (``-v``) and refuse a run that would not fit in memory.

    Raises
    ------
    ResourceError
        The estimated peak is above the memory available; the message gives both and
        the ways out.
    """
    estimate = estimate_peak_memory(scenario)
    logger.info("%s", estimate.describe())
    if not estimate.fits:
        aggregate = scenario.analysis.aggregate
        raise ResourceError(
            f"this run would not fit in memory: {estimate.describe()}; use a coarser "
            f"[analysis] aggregate (e.g. --set analysis.aggregate={aggregate * 2} needs "
            "about a quarter of the raster's memory), a smaller population raster or "
            "network extract, or split the country into runs of `accessmap batch` on a "
            f"Dask cluster (docs/scaling.md); {MEMORY_LIMIT_ENV} or "
            "[compute] memory_limit_gb sets the limit")
    return estimate


def available_memory(limit_gb: float | None = None) -> int | None:
    """Bytes a run may use: ``limit_gb``, else ``$ACCESSMAP_MEMORY_LIMIT_GB``, else the
    system's ``MemAvailable`` (``None`` when unknown)."""
    if limit_gb is None and os.environ.get(MEMORY_LIMIT_ENV):
        try:
            limit_gb = float(os.environ[MEMORY_LIMIT_ENV])
        except ValueError:
            raise ResourceError(f"{MEMORY_LIMIT_ENV}={os.environ[MEMORY_LIMIT_ENV]!r} is not "
                                "a number of gigabytes") from None
    if limit_gb is not None:
        return int(limit_gb * _GB)
    return _meminfo_available()


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _raster_cells(path: Path | None) -> int:
    """Cells of a population raster (0 for census vectors or a missing file)."""
    if path is None or not path.is_file() or path.suffix.lower() not in (".tif", ".tiff"):
        return 0
    import rasterio

    with rasterio.open(path) as src:
        return int(src.width * src.height)
