"""The ``[offroad]`` section: off-road travel over land cover and slope (issue 15)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from accessmap._sections import Section
from accessmap.errors import ConfigError

__all__ = ["NEIGHBOURS", "Offroad"]

#: Accepted ``[offroad] neighbours`` values.
NEIGHBOURS = ("8", "16")


@dataclass(frozen=True)
class Offroad(Section):
    """``[offroad]``: walk from home to the road over land cover and slope.

    Without ``landcover`` and ``dem`` the walk to the road is a straight line at the
    mode's off-road speed times its detour factor (today's model, unchanged).

    Parameters
    ----------
    landcover
        Land-cover raster (any classification; ESA WorldCover 10 m by default speeds).
    landcover_speeds
        CSV (``class,speed_kph``) or TOML (``[speeds_kph]`` class = km/h) table of
        walking speeds per class; ``impassable`` (or 0) for classes no one crosses.
        Default: the ESA WorldCover speeds of ``docs/network.md``.
    dem
        Elevation raster (metres) for Tobler's hiking function, e.g. Copernicus GLO-30.
    neighbours : {8, 16}
        Moves of the grid search (8: up to 8.2 % longer than a straight line; 16: 2.7 %).
    max_slope_deg
        Slopes steeper than this count as this steep (speeds stay above Tobler's speed
        there: 0.15 km/h at 45 degrees uphill).
    """

    name: ClassVar[str] = "offroad"
    choices: ClassVar[Mapping[str, Sequence[str]]] = {}
    landcover: Path | None = None
    landcover_speeds: Path | None = None
    dem: Path | None = None
    neighbours: int = 8
    max_slope_deg: float = 45.0

    def _check(self) -> None:
        if str(self.neighbours) not in NEIGHBOURS:
            raise ConfigError(f"offroad.neighbours {self.neighbours!r} is unknown; use one "
                              "of " + ", ".join(NEIGHBOURS))
        if not 0 < self.max_slope_deg < 90:
            raise ConfigError(f"offroad.max_slope_deg is {self.max_slope_deg!r}; give "
                              "degrees between 0 and 90, e.g. 45")
        if self.landcover_speeds is not None and self.landcover is None:
            raise ConfigError("offroad.landcover_speeds is given without offroad.landcover; "
                              "give the land-cover raster too (--landcover)")

    @property
    def active(self) -> bool:
        """True when a land cover or an elevation raster switches the off-road model on."""
        return self.landcover is not None or self.dem is not None
