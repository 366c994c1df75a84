"""Named speed profiles (seasons): factors by surface and highway class, km/h overrides.

A named profile (``[speeds.rainy]`` in a scenario file) changes the run's speed profile
on top of ``[speeds]``: ``surface_factors`` and ``highway_factors`` become the
:attr:`~accessmap.routing.modes.SpeedProfile.season_factors` (they slow every mode,
walking included), plain ``CLASS = km/h`` keys replace class speeds and profile settings
(``ferry_wait_min``, ``offroad_kph``, ...) replace the base ones.  :data:`BUILTIN_PROFILES`
holds the suggested ``rainy`` season (``docs/network.md``).  Imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from accessmap.errors import ConfigError

__all__ = ["BUILTIN_PROFILES", "PROFILE_TABLES", "profile_overrides"]


#: Sub-tables of a named profile (the rest: class speeds and profile settings).
PROFILE_TABLES = ("surface_factors", "highway_factors")


#: Suggested rainy season (accessmap's judgement; replace with local survey values):
#: unpaved surfaces and the classes that are usually unpaved (tracks, paths) slowed,
#: mud and tracks of the worst grades most; paved roads unchanged.
BUILTIN_PROFILES: dict[str, dict[str, Any]] = {
    "rainy": {
        "surface_factors": {
            "unpaved": 0.6, "dirt": 0.5, "earth": 0.5, "ground": 0.5, "mud": 0.3,
            "sand": 0.7, "grass": 0.5, "gravel": 0.8, "fine_gravel": 0.8, "compacted": 0.8,
            "tracktype=grade3": 0.7, "tracktype=grade4": 0.5, "tracktype=grade5": 0.4,
        },
        "highway_factors": {"track": 0.6, "path": 0.7, "bridleway": 0.7, "footway": 0.9},
    },
}


def profile_overrides(name: str, table: Mapping[str, Any], *, settings: tuple[str, ...]
                      ) -> tuple[dict[str, float], dict[str, float], dict[str, Any]]:
    """Split a named profile's table into class speeds, season factors and settings.

    Parameters
    ----------
    name
        The profile's name (for messages: ``speeds.NAME.key``).
    table
        The ``[speeds.NAME]`` table.
    settings
        Keys that are profile settings (``ferry_wait_min``, ...), not class speeds.

    Returns
    -------
    tuple
        ``(kph by class, season factors, settings)``; the factors are keyed as
        :attr:`SpeedProfile.season_factors` (surface keys, ``highway=CLASS``).

    Raises
    ------
    ConfigError
        A factor table that is not a table, or a value that is not a number.
    """
    kph: dict[str, float] = {}
    factors: dict[str, float] = {}
    options: dict[str, Any] = {}
    for key, value in table.items():
        if key in PROFILE_TABLES:
            if not isinstance(value, Mapping):
                raise ConfigError(f"speeds.{name}.{key} must be a table of name = factor, "
                                  "e.g. unpaved = 0.6")
            prefix = "highway=" if key == "highway_factors" else ""
            factors.update({prefix + str(k): _number(f"speeds.{name}.{key}.{k}", v)
                            for k, v in value.items()})
        elif key in settings:
            options[key] = value
        else:
            kph[str(key)] = _number(f"speeds.{name}.{key}", value)
    return kph, factors, options


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where} is {value!r}; give a number (km/h for a highway class, "
                          "a factor in (0, 1] in surface_factors/highway_factors)")
    return float(value)
