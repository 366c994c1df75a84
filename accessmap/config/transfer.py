"""The ``[transfer]`` section: where and how long a trip of a mixed mode changes vehicle.

Used by the ``walk+drive`` mode (:mod:`accessmap.routing.multimodal`): people walk to a
transfer point, wait ``transfer_min`` for a vehicle (motorbike taxi, bus, lift) and ride
on roads open to vehicles to the facility.  Other modes ignore the section.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from accessmap._sections import Section

__all__ = ["DEFAULT_TRANSFER_MIN", "Transfer"]

#: Default wait at a transfer point (minutes): a planning assumption for hailing a
#: motorbike taxi or waiting for a minibus on a rural road, set locally from surveys.
DEFAULT_TRANSFER_MIN = 10.0


@dataclass(frozen=True)
class Transfer(Section):
    """``[transfer]``: the change from walking to a vehicle in the ``walk+drive`` mode.

    Parameters
    ----------
    transfer_min
        Wait at a transfer point before the vehicle leaves, minutes (``>= 0``).
    transfer_stops
        Points where the change may happen (motorbike-taxi ranks, bus stops; any vector
        file or CSV with lon/lat); ``None`` (the default): at any node the walking and the
        driving networks share (the same OSM node), i.e. wherever a path meets a road.
    max_stop_distance_m
        A stop farther than this from the nearest node of either network is left out
        (with a warning).
    """

    name: ClassVar[str] = "transfer"
    transfer_min: float = DEFAULT_TRANSFER_MIN
    transfer_stops: Path | None = None
    max_stop_distance_m: float = 500.0

    def _check(self) -> None:
        self._at_least("transfer_min", 0.0)
        self._positive("max_stop_distance_m", unit=" of metres")

    @property
    def transfer_s(self) -> float:
        """The wait in seconds."""
        return self.transfer_min * 60.0
