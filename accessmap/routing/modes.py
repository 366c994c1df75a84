"""Travel modes: their registry, speeds and OSM tag rules.

Which ways a mode may use, in which direction, and how fast, from a way's OSM tags.
The default tables and their sources are documented here and in ``docs/network.md``.

Travel modes live in a registry: a mode is one :class:`TravelMode` (name, the OSM access
keys that decide whether it may use a way, default speeds per ``highway`` class, and
whether it is a vehicle bound by ``oneway``, ``maxspeed`` and rough surfaces), added with
:func:`register_mode`.  :data:`MODES` always lists the registered names.

This module imports no numpy at import time (:mod:`accessmap.config` imports it and
stays light).

Examples
--------
>>> mode = register_mode(TravelMode("moto", access_keys=("motorcycle", "motor_vehicle",
...                                 "vehicle", "access"),
...                                 speeds_kph={"residential": 30.0, "track": 20.0},
...                                 vehicle=True))
>>> "moto" in MODES
True
>>> SpeedProfile.default("moto").speeds_kph["track"]
20.0
>>> unregister_mode("moto")
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

from accessmap.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "DEFAULT_BICYCLE_SPEEDS_KPH",
    "DEFAULT_DRIVE_SPEEDS_KPH",
    "DEFAULT_SURFACE_FACTORS",
    "DEFAULT_WALK_SPEEDS_KPH",
    "MODES",
    "NOT_ROUTABLE",
    "SpeedProfile",
    "TravelMode",
    "ferry_time_s",
    "ferry_usable",
    "get_mode",
    "mode_allowed",
    "parse_duration_s",
    "parse_speed_kph",
    "register_mode",
    "roughness_factor",
    "season_factor",
    "unregister_mode",
    "way_speeds_kph",
]


#: Vehicle speeds (km/h) per OSM ``highway`` class for low- and middle-income settings.
#: Chosen after the road-class speeds used for sub-Saharan Africa by Ouma et al. (2018,
#: Lancet Global Health, "Access to emergency hospital care ...") and the default
#: scenario tables of WHO AccessMod 5, rounded down for mixed traffic (minibus,
#: moto-taxi); ``*_link`` roads run at 80% of their parent class.
DEFAULT_DRIVE_SPEEDS_KPH: dict[str, float] = {
    "motorway": 80.0,
    "trunk": 70.0,
    "primary": 60.0,
    "secondary": 50.0,
    "tertiary": 40.0,
    "unclassified": 30.0,
    "residential": 25.0,
    "living_street": 10.0,
    "service": 15.0,
    "road": 25.0,
    "track": 15.0,
    "motorway_link": 64.0,
    "trunk_link": 56.0,
    "primary_link": 48.0,
    "secondary_link": 40.0,
    "tertiary_link": 32.0,
}


#: Walking speeds (km/h): 5 km/h on made ways (the usual planning value, e.g.
#: AccessMod and Weiss et al. 2020 walking-only friction surface), slower on rough
#: paths and tracks, slowest on steps.  Motorways are not walkable.
DEFAULT_WALK_SPEEDS_KPH: dict[str, float] = {
    "trunk": 5.0,
    "trunk_link": 5.0,
    "primary": 5.0,
    "primary_link": 5.0,
    "secondary": 5.0,
    "secondary_link": 5.0,
    "tertiary": 5.0,
    "tertiary_link": 5.0,
    "unclassified": 5.0,
    "residential": 5.0,
    "living_street": 5.0,
    "service": 5.0,
    "road": 5.0,
    "pedestrian": 5.0,
    "footway": 5.0,
    "sidewalk": 5.0,
    "crossing": 5.0,
    "cycleway": 5.0,
    "bridleway": 4.0,
    "track": 4.5,
    "path": 4.0,
    "steps": 2.0,
}


#: Multipliers applied to vehicle speeds for rough roads (``surface``, ``smoothness``,
#: ``tracktype``); the smallest applicable factor is used.
DEFAULT_SURFACE_FACTORS: dict[str, float] = {
    "unpaved": 0.7,
    "dirt": 0.6,
    "earth": 0.6,
    "ground": 0.6,
    "mud": 0.4,
    "sand": 0.5,
    "gravel": 0.8,
    "fine_gravel": 0.8,
    "compacted": 0.85,
    "grass": 0.5,
    "smoothness=bad": 0.7,
    "smoothness=very_bad": 0.5,
    "smoothness=horrible": 0.35,
    "smoothness=very_horrible": 0.25,
    "smoothness=impassable": 0.1,
    "tracktype=grade2": 0.9,
    "tracktype=grade3": 0.75,
    "tracktype=grade4": 0.6,
    "tracktype=grade5": 0.5,
}


#: ``highway`` values that are never routable, even when ``default_kph`` is set:
#: roads not built yet or no longer usable, and features that are not ways to travel.
NOT_ROUTABLE: frozenset[str] = frozenset({
    "construction", "proposed", "planned", "abandoned", "disused", "razed", "platform",
    "bus_stop", "raceway", "elevator", "emergency_bay", "rest_area", "services", "no",
})


_ONEWAY_FORWARD = {"yes", "true", "1"}


_ONEWAY_BACKWARD = {"-1", "reverse"}


_ONEWAY_TIMED = {"reversible", "alternating"}


_DENY = {"no", "private", "agricultural", "forestry", "use_sidepath"}


@dataclass(frozen=True)
class TravelMode:
    """One travel mode of the registry.

    Parameters
    ----------
    name
        The mode's name (``--mode``, ``[analysis] mode``).
    access_keys
        The allowed-way rule: OSM access keys from most to least specific (the OSM
        access hierarchy); the first one present on a way decides (see
        :func:`mode_allowed`).
    speeds_kph
        Default speed per OSM ``highway`` class; classes absent are not routable.
    surface_factors
        Default multipliers for rough surfaces (vehicles only).
    vehicle
        True when ``oneway``, ``maxspeed`` and rough surfaces apply (driving); False
        for modes that use every way both ways at their class speed (walking).
    transfer_to
        A mixed mode (``walk+drive``): its own ways and speeds are the walking layer, and
        trips may change to this vehicle mode at transfer points
        (:mod:`accessmap.routing.multimodal`).
    """

    name: str
    access_keys: tuple[str, ...]
    speeds_kph: Mapping[str, float]
    surface_factors: Mapping[str, float] = field(default_factory=dict)
    vehicle: bool = False
    transfer_to: str | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.name, str)
                and re.fullmatch(r"[a-z][a-z0-9_]*(\+[a-z][a-z0-9_]*)?", self.name)):
            raise ConfigError(f"travel mode name {self.name!r} must be lower-case letters, "
                              "digits and underscores (one '+' for a mixed mode)")
        if not self.access_keys or not all(isinstance(k, str) for k in self.access_keys):
            raise ConfigError(f"travel mode {self.name!r} needs at least one access key "
                              "(e.g. ('foot', 'access'))")
        object.__setattr__(self, "access_keys", tuple(self.access_keys))
        for what, table in (("speed", self.speeds_kph),
                            ("surface factor", self.surface_factors)):
            for key, value in table.items():
                _check_positive(f"{what} for {key!r} of mode {self.name!r}", value)


_REGISTRY: dict[str, TravelMode] = {}


def register_mode(mode: TravelMode, *, replace: bool = False) -> TravelMode:
    """Add ``mode`` to the registry (and so to :data:`MODES`) and return it.

    Raises
    ------
    ConfigError
        A mode of that name is registered already and ``replace`` is False.
    """
    if mode.name in _REGISTRY and not replace:
        raise ConfigError(f"travel mode {mode.name!r} is registered already; pass "
                          "replace=True to redefine it")
    _REGISTRY[mode.name] = mode
    return mode


def unregister_mode(name: str) -> None:
    """Remove a registered mode (a no-op when it is not registered)."""
    _REGISTRY.pop(name, None)


def get_mode(name: str) -> TravelMode:
    """Return the registered mode ``name``.

    Raises
    ------
    ConfigError
        No such mode (the message lists the registered ones).
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown travel mode {name!r}; use one of {', '.join(_REGISTRY)} "
            "(--mode or [analysis] mode in the scenario file)"
        ) from None


class _ModeNames(Sequence[str]):
    """Live, read-only view of the registered mode names (what :data:`MODES` is)."""

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...

    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        return tuple(_REGISTRY)[index]

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(_REGISTRY))

    def __contains__(self, name: object) -> bool:
        return name in _REGISTRY

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))


#: Names of the registered travel modes, in registration order (a live view).
MODES: Sequence[str] = _ModeNames()


@dataclass(frozen=True)
class SpeedProfile:
    """Travel speeds for one mode.

    Parameters
    ----------
    mode
        A registered travel mode (:data:`MODES`: ``"walk"``, ``"drive"``, ...).
    speeds_kph
        Speed per OSM ``highway`` class; classes absent from the table are not routable.
    default_kph
        Speed for highway classes not in ``speeds_kph``; ``None`` excludes them.
    surface_factors
        Multipliers for rough surfaces (keys: ``surface`` values, ``smoothness=...``,
        ``tracktype=...``); applied to vehicle speeds only.
    ferry_kph
        Ferry speed when a ferry way has no ``duration`` tag.
    ferry_wait_min
        Boarding wait added to each ferry crossing.
    offroad_kph
        Walking speed from a home or facility to the nearest road.
    detour_factor
        Straight-line distance to the road is multiplied by this (paths are not straight).
    max_snap_m
        Points farther than this from any usable road are reported as off-network.
    season_factors
        Multipliers of a season (a named speed profile, e.g. rainy) for every mode, on
        top of the rest: keys as in ``surface_factors`` plus ``highway=CLASS``; the
        smallest that applies is used (see :func:`season_factor`).
    """

    mode: str
    speeds_kph: Mapping[str, float]
    default_kph: float | None = None
    surface_factors: Mapping[str, float] = field(default_factory=dict)
    ferry_kph: float = 15.0
    ferry_wait_min: float = 60.0
    offroad_kph: float = 5.0
    detour_factor: float = 1.3
    max_snap_m: float = 5000.0
    season_factors: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_mode(self.mode)
        for name, kph in {**self.speeds_kph, "ferry_kph": self.ferry_kph,
                          "offroad_kph": self.offroad_kph}.items():
            _check_positive(f"speed for {name!r}", kph)
        if self.default_kph is not None:
            _check_positive("default_kph", self.default_kph)
        for kind, factors in (("surface", self.surface_factors),
                              ("season", self.season_factors)):
            for name, factor in factors.items():
                if not (0 < _as_float(f"{kind} factor for {name!r}", factor) <= 1):
                    raise ConfigError(
                        f"{kind} factor for {name!r} is {factor}; it must be in (0, 1] "
                        f"([speeds.{'surface_factors' if kind == 'surface' else 'NAME'}]"
                        " in the scenario file)"
                    )
        if not _as_float("ferry_wait_min", self.ferry_wait_min) >= 0:
            raise ConfigError(f"ferry_wait_min is {self.ferry_wait_min} min; it must be >= 0")
        if not _as_float("detour_factor", self.detour_factor) >= 1:
            raise ConfigError(f"detour_factor is {self.detour_factor}; it must be >= 1")
        _check_positive("max_snap_m (maximum snap distance in metres)", self.max_snap_m)

    @classmethod
    def default(cls, mode: str, **overrides: Any) -> SpeedProfile:
        """Return the documented default profile for ``mode``, with ``overrides`` applied.

        Parameters
        ----------
        mode : str
            A registered travel mode (``"walk"``, ``"drive"``, ...).
        **overrides
            Any field of :class:`SpeedProfile`; ``speeds_kph`` and ``surface_factors``
            are merged into the defaults rather than replacing them.

        Raises
        ------
        ConfigError
            Unknown mode, or a speed that is not a positive number.

        Examples
        --------
        >>> SpeedProfile.default("drive", speeds_kph={"track": 10}).speeds_kph["track"]
        10.0
        """
        travel = get_mode(mode)
        speeds = {k: float(v) for k, v in travel.speeds_kph.items()}
        speeds.update({k: _as_float(f"speed for {k!r}", v)
                       for k, v in overrides.pop("speeds_kph", {}).items()})
        factors = {k: float(v) for k, v in travel.surface_factors.items()}
        factors.update({k: _as_float(f"surface factor for {k!r}", v)
                        for k, v in overrides.pop("surface_factors", {}).items()})
        return cls(mode=mode, speeds_kph=speeds, surface_factors=factors, **overrides)

    def fingerprint(self) -> str:
        """Return a short stable hash of every setting (used in cache keys)."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def offroad_seconds(self, distance_m: NDArray[np.float64]) -> NDArray[np.float64]:
        """Return the time to walk ``distance_m`` straight-line metres off the road."""
        import numpy as np  # here, not at import: this module stays light

        return np.asarray(distance_m) * self.detour_factor / (self.offroad_kph / 3.6)


def _check_mode(mode: str) -> None:
    get_mode(mode)


def _as_float(what: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{what} is {value!r}; give a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{what} is {value!r}; give a number ([speeds] table of the scenario file)"
        ) from None


def _check_positive(what: str, value: Any) -> None:
    number = _as_float(what, value)
    if not (number > 0 and math.isfinite(number)):
        raise ConfigError(
            f"{what} is {value!r}; speeds and distances must be positive numbers "
            "(fix the [speeds] table of the scenario file)"
        )


def parse_speed_kph(text: str | None) -> float | None:
    """Parse an OSM ``maxspeed`` value to km/h (``"50"``, ``"30 mph"``); None if unusable.

    Examples
    --------
    >>> parse_speed_kph("30 mph")
    48.28032
    >>> parse_speed_kph("FR:urban") is None
    True
    """
    if not text:
        return None
    match = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(mph|km/h|kmh|kph)?\s*$", text)
    if not match:
        return None
    value = float(match.group(1))
    if match.group(2) == "mph":
        value *= 1.609344
    return value if value > 0 else None


def parse_duration_s(text: str | None) -> float | None:
    """Parse an OSM ``duration`` tag to seconds; None if unusable.

    Accepts ``"HH:MM"``, ``"HH:MM:SS"``, plain minutes and ISO 8601 (``"PT1H30M"``).

    Examples
    --------
    >>> parse_duration_s("01:30"), parse_duration_s("PT1H30M"), parse_duration_s("45")
    (5400.0, 5400.0, 2700.0)
    """
    if not text:
        return None
    text = text.strip()
    iso = re.fullmatch(r"PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?",
                       text)
    if iso and any(iso.groups()):
        hours, minutes, secs = (float(g) if g else 0.0 for g in iso.groups())
        seconds = hours * 3600 + minutes * 60 + secs
        return seconds if seconds > 0 else None
    try:
        numbers = [float(p) for p in text.split(":")]
    except ValueError:
        return None
    if len(numbers) > 3:
        return None
    scale = {1: (60.0,), 2: (3600.0, 60.0), 3: (3600.0, 60.0, 1.0)}[len(numbers)]
    seconds = sum(n * s for n, s in zip(numbers, scale, strict=True))
    return seconds if seconds > 0 else None


def mode_allowed(tags: Mapping[str, str], mode: str) -> bool:
    """Return whether ``mode`` may use a way, following the OSM access hierarchy.

    The most specific access key present decides: for walking ``foot`` then
    ``access``; for driving ``motorcar``, ``motor_vehicle``, ``vehicle`` then ``access``.
    So ``access=no`` + ``foot=yes`` is walkable, and ``access=yes`` +
    ``motor_vehicle=no`` is not drivable.
    """
    for key in get_mode(mode).access_keys:
        value = tags.get(key)
        if value:
            return value not in _DENY
    return True


def way_speeds_kph(tags: Mapping[str, str], profile: SpeedProfile) -> tuple[float, float] | None:
    """Return (forward, backward) speeds in km/h of a highway way, or None if not usable.

    A direction that is not allowed gets speed 0.  Rules: the class speed comes from
    ``profile.speeds_kph`` (or ``default_kph``); classes in :data:`NOT_ROUTABLE` never
    route; access follows :func:`mode_allowed`.  Walking ignores one-way rules and
    surfaces.  Driving: ``maxspeed`` is a legal *limit* so it can lower the class speed
    but never raise it (in low-income settings real speeds stay well below limits);
    rough surfaces then multiply the speed; ``oneway`` (also implied on motorways and
    roundabouts) blocks one direction; ``oneway=reversible``/``alternating`` ways are
    left out (their direction changes over the day).

    Parameters
    ----------
    tags
        The way's OSM tags.
    profile
        Speeds and rules of the travel mode.
    """
    highway = tags.get("highway")
    if highway is None or highway in NOT_ROUTABLE:
        return None
    speed = profile.speeds_kph.get(highway, profile.default_kph)
    if speed is None or not mode_allowed(tags, profile.mode):
        return None
    season = season_factor(tags, profile.season_factors)
    if not get_mode(profile.mode).vehicle:
        return float(speed) * season, float(speed) * season
    oneway = tags.get("oneway", "")
    if oneway in _ONEWAY_TIMED:
        return None
    maxspeed = parse_speed_kph(tags.get("maxspeed"))
    if maxspeed is not None:
        speed = min(float(speed), maxspeed)
    speed = float(speed) * roughness_factor(tags, profile.surface_factors) * season
    implied = highway in {"motorway", "motorway_link"} or tags.get("junction") in {
        "roundabout",
        "circular",
    }
    if oneway in _ONEWAY_FORWARD or (implied and oneway not in {"no", "false", "0"}):
        return speed, 0.0
    if oneway in _ONEWAY_BACKWARD:
        return 0.0, speed
    return speed, speed


def roughness_factor(tags: Mapping[str, str], factors: Mapping[str, float]) -> float:
    """Return the smallest surface/smoothness/tracktype factor that applies (1 if none)."""
    keys = [tags.get("surface", ""), f"smoothness={tags.get('smoothness', '')}",
            f"tracktype={tags.get('tracktype', '')}"]
    return min([float(factors[k]) for k in keys if k in factors], default=1.0)


def season_factor(tags: Mapping[str, str], factors: Mapping[str, float]) -> float:
    """Return the smallest season factor of a way's surface keys or ``highway=CLASS`` (1 if
    none)."""
    by_class = factors.get(f"highway={tags.get('highway', '')}", 1.0)
    return min(roughness_factor(tags, factors), float(by_class)) if factors else 1.0


def ferry_usable(tags: Mapping[str, str]) -> bool:
    """Return whether a ``route=ferry`` way carries passengers.

    Ferries serve both modes (drivers may cross as passengers); only ``access`` or
    ``foot`` set to ``no``/``private`` removes one.
    """
    return mode_allowed(tags, "walk")


def ferry_time_s(tags: Mapping[str, str], length_m: float, profile: SpeedProfile) -> float:
    """Return the time of one ferry crossing: ``duration`` tag (or length at
    ``ferry_kph``) plus the boarding wait ``ferry_wait_min``."""
    duration = parse_duration_s(tags.get("duration"))
    travel = duration if duration is not None else length_m / (profile.ferry_kph / 3.6)
    return travel + profile.ferry_wait_min * 60


#: Cycling speeds (km/h) for rural low- and middle-income settings: loaded utility
#: bicycles on mixed roads, slower on tracks and paths and walked (pushed) on footways and
#: steps.  Chosen in the range of the bicycle scenarios of WHO AccessMod 5 and of the
#: Uganda study of Ouma et al. (2018 companion analyses), where bicycles raise one-hour
#: access markedly over walking; rough surfaces slow them like vehicles.
DEFAULT_BICYCLE_SPEEDS_KPH: dict[str, float] = {
    "trunk": 14.0, "trunk_link": 14.0, "primary": 14.0, "primary_link": 14.0,
    "secondary": 14.0, "secondary_link": 14.0, "tertiary": 13.0, "tertiary_link": 13.0,
    "unclassified": 12.0, "residential": 12.0, "living_street": 10.0, "service": 10.0,
    "road": 12.0, "cycleway": 15.0, "track": 9.0, "bridleway": 6.0, "path": 6.0,
    "pedestrian": 5.0, "footway": 4.0, "steps": 2.0,
}


register_mode(TravelMode("walk", access_keys=("foot", "access"),
                         speeds_kph=DEFAULT_WALK_SPEEDS_KPH))
register_mode(TravelMode("drive", access_keys=("motorcar", "motor_vehicle", "vehicle", "access"),
                         speeds_kph=DEFAULT_DRIVE_SPEEDS_KPH,
                         surface_factors=DEFAULT_SURFACE_FACTORS, vehicle=True))
register_mode(TravelMode("bicycle", access_keys=("bicycle", "vehicle", "access"),
                         speeds_kph=DEFAULT_BICYCLE_SPEEDS_KPH,
                         surface_factors=DEFAULT_SURFACE_FACTORS, vehicle=True))
register_mode(TravelMode("walk+drive", access_keys=("foot", "access"),
                         speeds_kph=DEFAULT_WALK_SPEEDS_KPH, transfer_to="drive"))
