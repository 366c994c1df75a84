"""Errors raised by accessmap.

Every error accessmap raises on purpose derives from :class:`AccessmapError`.
Subclasses also inherit the builtin they refine, so callers that already
catch ``ValueError`` or ``OSError`` keep working (the pattern of
``rasterio.errors``).  Messages name the file, the value and the fix.
"""

from __future__ import annotations

__all__ = [
    "AccessmapError", "AccessmapWarning", "Cancelled", "ConfigError", "DataQualityWarning",
    "InputDataError", "InputFileError", "NetworkError", "OutputError", "ResourceError",
    "SolverError",
]


class AccessmapError(Exception):
    """Root of every error raised by accessmap."""


class InputDataError(AccessmapError, ValueError):
    """An input file or value is unusable (bad rows, missing CRS, out of range)."""


class InputFileError(AccessmapError, OSError):
    """An input file is missing, unreadable or corrupt."""


class ConfigError(AccessmapError, ValueError):
    """A setting, scenario file or command-line option is invalid."""


class NetworkError(AccessmapError, ValueError):
    """The road network cannot serve the request (no routable ways, no coverage)."""


class OutputError(AccessmapError, OSError):
    """An output cannot be written (exists without overwrite, incomplete run folder)."""


class SolverError(AccessmapError, RuntimeError):
    """An optimisation solver is missing, failed or timed out."""


class ResourceError(AccessmapError, MemoryError):
    """A run would need more memory than the machine has (estimated before any work)."""


class Cancelled(AccessmapError):
    """The run was cancelled through its :class:`~accessmap.progress.CancelToken`.

    A cancelled run leaves no output folder behind.
    """


class AccessmapWarning(UserWarning):
    """Root of every warning accessmap issues."""


class DataQualityWarning(AccessmapWarning):
    """An input has a data-quality problem the run worked around (and says how).

    Examples: facility rows without geometry were dropped, people live farther than the
    snap distance from any road, ways were clipped at the extract's edge.
    """
