"""Errors raised by accessmap.

Every error accessmap raises on purpose derives from :class:`AccessmapError`.
Subclasses also inherit the builtin they refine, so callers that already
catch ``ValueError`` or ``OSError`` keep working (the pattern of
``rasterio.errors``).  Messages name the file, the value and the fix.
"""

from __future__ import annotations


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
