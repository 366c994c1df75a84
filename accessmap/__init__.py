"""accessmap: who lives too far from care, and where new sites would help most."""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

from accessmap._errors import (  # noqa: E402
    AccessmapError,
    ConfigError,
    InputDataError,
    InputFileError,
    NetworkError,
    OutputError,
    SolverError,
)

__all__ = [
    "AccessmapError",
    "ConfigError",
    "InputDataError",
    "InputFileError",
    "NetworkError",
    "OutputError",
    "SolverError",
    "__version__",
]
