"""The ``[roads]`` section: road closures and slowed roads of a what-if scenario."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from accessmap._sections import Section
from accessmap.errors import ConfigError

__all__ = ["Roads"]


@dataclass(frozen=True)
class Roads(Section):
    """``[roads]``: roads closed or slowed in this scenario (floods, conflict, a bridge down).

    Parameters
    ----------
    closed_areas
        Polygon file (GeoPackage, GeoJSON, Shapefile): every road segment that touches a
        polygon is closed (removed), e.g. a flood extent or a no-go area.
    closed_areas_layer
        Layer of a ``closed_areas`` GeoPackage that holds several.
    closed_ways
        OSM way ids closed in full (a bridge, a ferry, a road cut), e.g. ``[123456]``.
    slow_areas
        Polygon file: road segments whose midpoint lies inside a polygon are slowed (their
        time divided by the factor), e.g. flooded but passable roads.
    slow_areas_layer
        Layer of a ``slow_areas`` GeoPackage that holds several.
    slow_factor
        Speed factor in (0, 1] inside ``slow_areas`` (0.3: a third of the speed); a
        ``factor`` column in the file overrides it per polygon.
    """

    name: ClassVar[str] = "roads"
    closed_areas: Path | None = None
    closed_areas_layer: str | None = None
    closed_ways: tuple[int, ...] = ()
    slow_areas: Path | None = None
    slow_areas_layer: str | None = None
    slow_factor: float | None = None

    def _check(self) -> None:
        if self.slow_factor is not None and not 0 < self.slow_factor <= 1:
            raise ConfigError(f"roads.slow_factor is {self.slow_factor!r}; it must be in "
                              "(0, 1] (0.3: roads at a third of their speed)")
        if self.slow_factor is not None and self.slow_areas is None:
            raise ConfigError("roads.slow_factor is given without roads.slow_areas; give the "
                              "polygon file of the slowed roads")

    @property
    def changes_roads(self) -> bool:
        """True when the scenario closes or slows any road."""
        return bool(self.closed_areas or self.closed_ways or self.slow_areas)
