"""Scenario settings: one frozen, validated :class:`Scenario` per run, loadable from TOML.

A scenario file looks like this (every key optional; paths relative to the file)::

    title = "Comoros, walking"

    [inputs]
    network = "../shared/data/comoros/comores-latest.osm.pbf"
    population = "../shared/data/comoros/com_ppp_2020_UNadj.tif"
    population_column = "pop"              # only for census polygons / points
    facilities = "../shared/data/comoros/health.gpkg"
    boundaries = "districts.geojson"       # optional admin areas (or the OSM extract,
    boundary_name_column = "name"          #  with admin_level = 4)
    groups = "wealth.geojson"              # optional group polygons
    group_column = "wealth_quintile"

    [analysis]
    mode = "walk"                          # walk | drive
    thresholds_min = [30, 60, 120]
    aggregate = 1                          # sum population over n x n cells first
    catchment_threshold_min = 60           # facility catchments and 2SFCA
    min_zone_population = 100              # smaller underserved zones go to "other"

    [facilities]
    exclude = { amenity = ["pharmacy"] }   # rows whose column has one of these values

    [speeds]                               # km/h per OSM highway class, merged into defaults
    track = 10
    default_kph = 20                       # classes missing from the table (omit: excluded)
    offroad_kph = 5                        # walk from home/facility to the road
    detour_factor = 1.3
    max_snap_m = 5000                      # farther from a road: reported as off-network
    ferry_kph = 15                         # ferries without a duration tag
    ferry_wait_min = 60
    [speeds.surface_factors]
    unpaved = 0.6

    [siting]
    new_sites = 10
    threshold_min = 60
    satellite_min_population = 5000
    candidate_spacing_m = 1000

    [output]
    out = "maps/comoros"
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accessmap.errors import ConfigError
from accessmap.routing.modes import MODES, SpeedProfile

_SECTIONS: dict[str, tuple[str, ...]] = {
    "inputs": (
        "network", "population", "population_column", "facilities", "boundaries",
        "boundary_name_column", "admin_level", "groups", "group_column",
    ),
    "analysis": ("mode", "thresholds_min", "aggregate", "catchment_threshold_min",
                 "min_zone_population"),
    "facilities": ("exclude",),
    "siting": ("new_sites", "threshold_min", "satellite_min_population",
               "candidate_spacing_m"),  # other [siting] keys go to siting_options
    "output": ("out",),
}
_SITING_PATH_OPTIONS = ("candidates", "exclusions")
_PATH_FIELDS = ("network", "population", "facilities", "boundaries", "groups", "out")
_PROFILE_FIELDS = ("ferry_kph", "ferry_wait_min", "offroad_kph", "detour_factor", "max_snap_m",
                   "default_kph")


@dataclass(frozen=True)
class Scenario:
    """Everything one run needs; validated on creation.

    Parameters
    ----------
    network, population, facilities
        Input files: OSM extract or GraphML; population GeoTIFF; facility points.
    population_column
        Population column of census polygons or points (raster files need none).
    boundaries, boundary_name_column, admin_level
        Optional admin areas: a polygon file and the column naming each area, or the OSM
        extract itself with the ``admin_level`` of its boundary relations (e.g. 4).
    groups, group_column
        Optional polygons carrying a group attribute (e.g. wealth quintile).
    mode : {"walk", "drive"}
        Travel mode.
    thresholds_min
        Travel-time thresholds in minutes, increasing.
    aggregate
        Sum population over ``aggregate x aggregate`` cells before the analysis.
    catchment_threshold_min
        Threshold of facility catchments and 2SFCA; defaults to the siting threshold.
    min_zone_population
        Underserved zones with fewer people are gathered into one "other" row.
    exclude
        Facility rows to leave out: column -> values (e.g. ``{"amenity": ("pharmacy",)}``).
    speeds_kph, surface_factors, profile_options
        Overrides merged into the default :class:`~accessmap.network.SpeedProfile`.
    new_sites
        Number of new sites to recommend (0 for none).
    site_threshold_min
        Threshold the new sites should bring people within; defaults to the middle
        threshold.
    satellite_min_population
        A recommended site that newly serves at least this many people within the
        threshold is a ``satellite_clinic``; otherwise a ``mobile_unit_stop``.
    candidate_spacing_m
        Minimum spacing of candidate sites.
    siting_options
        Further ``[siting]`` keys (candidate and exclusion files, weighting, solver,
        coverage target, mobile-unit settings), validated by
        :class:`accessmap.siting.SitingOptions`; see ``docs/siting.md``.
    out
        Output folder.
    title
        Shown on the map and in the report.
    synthetic
        Label every output as made from synthetic data.
    """

    network: Path | None = None
    population: Path | None = None
    facilities: Path | None = None
    population_column: str | None = None
    boundaries: Path | None = None
    boundary_name_column: str | None = None
    admin_level: int | None = None
    groups: Path | None = None
    group_column: str | None = None
    mode: str = "walk"
    thresholds_min: tuple[float, ...] = (30.0, 60.0, 120.0)
    aggregate: int = 1
    catchment_threshold_min: float | None = None
    min_zone_population: float = 100.0
    exclude: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    speeds_kph: Mapping[str, float] = field(default_factory=dict)
    surface_factors: Mapping[str, float] = field(default_factory=dict)
    profile_options: Mapping[str, float] = field(default_factory=dict)
    new_sites: int = 5
    site_threshold_min: float | None = None
    satellite_min_population: float = 5000.0
    candidate_spacing_m: float = 1000.0
    siting_options: Mapping[str, Any] = field(default_factory=dict)
    out: Path = Path("maps/run")
    title: str = "accessmap run"
    synthetic: bool = False

    def __post_init__(self) -> None:
        for name in _PATH_FIELDS:
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))
        if self.mode not in MODES:
            raise ConfigError(f"mode {self.mode!r} is unknown; use one of {', '.join(MODES)}")
        thresholds = tuple(self.thresholds_min)
        if not thresholds:
            raise ConfigError("thresholds: give at least one travel-time threshold in minutes")
        for value in thresholds:
            if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
                raise ConfigError(
                    f"threshold {value!r} is not a positive number of minutes; "
                    "use e.g. --thresholds 30,60,120"
                )
        object.__setattr__(self, "thresholds_min", tuple(sorted(float(t) for t in thresholds)))
        if self.site_threshold_min is not None and not self.site_threshold_min > 0:
            raise ConfigError(
                f"siting threshold {self.site_threshold_min!r} must be a positive number of "
                "minutes"
            )
        if not isinstance(self.new_sites, int) or self.new_sites < 0:
            raise ConfigError(f"new sites {self.new_sites!r} must be a whole number >= 0")
        if not isinstance(self.aggregate, int) or self.aggregate < 1:
            raise ConfigError(f"aggregate {self.aggregate!r} must be a whole number >= 1")
        if self.admin_level is not None and (
            not isinstance(self.admin_level, int) or not 1 <= self.admin_level <= 12
        ):
            raise ConfigError(f"admin_level {self.admin_level!r} must be a whole number 1-12")
        if self.catchment_threshold_min is not None and not self.catchment_threshold_min > 0:
            raise ConfigError("catchment_threshold_min must be a positive number of minutes")
        if self.min_zone_population < 0:
            raise ConfigError("min_zone_population must be >= 0")
        if self.satellite_min_population < 0:
            raise ConfigError("satellite_min_population must be >= 0")
        if not self.candidate_spacing_m > 0:
            raise ConfigError("candidate_spacing_m must be a positive number of metres")
        object.__setattr__(
            self, "exclude", {str(k): tuple(str(v) for v in vals)
                              for k, vals in self.exclude.items()}
        )
        self.speed_profile()  # validates speeds now, not half-way through a run

    @property
    def siting_threshold_min(self) -> float:
        """Threshold used for site selection (explicit, or the middle threshold)."""
        if self.site_threshold_min is not None:
            return float(self.site_threshold_min)
        return self.thresholds_min[len(self.thresholds_min) // 2]

    def speed_profile(self) -> SpeedProfile:
        """Return the speed profile for this scenario's mode with its overrides."""
        return SpeedProfile.default(
            self.mode, speeds_kph=dict(self.speeds_kph),
            surface_factors=dict(self.surface_factors), **dict(self.profile_options),
        )

    def replace(self, **changes: Any) -> Scenario:
        """Return a copy with ``changes`` applied (``None`` values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        """Return the resolved settings as JSON-ready values."""
        out: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, Mapping):
                value = {k: list(v) if isinstance(v, tuple) else v for k, v in value.items()}
            elif isinstance(value, tuple):
                value = list(value)
            out[item.name] = value
        out["siting_threshold_min"] = self.siting_threshold_min
        return out


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario TOML file into a :class:`Scenario`.

    Relative paths in the file are taken relative to the file's folder.

    Raises
    ------
    ConfigError
        The file is missing, not valid TOML, or has unknown keys or bad values.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"scenario file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"scenario file {path} cannot be read ({err})") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"scenario file {path} is not valid TOML: {err}") from None
    return scenario_from_dict(data, base_dir=path.parent, source=str(path))


def scenario_from_dict(
    data: Mapping[str, Any], *, base_dir: Path = Path("."), source: str = "scenario"
) -> Scenario:
    """Build a :class:`Scenario` from the nested mapping of a scenario file."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("title", "synthetic"):
            values[key] = value
        elif key == "speeds":
            values.update(_speed_values(value, source))
        elif key in _SECTIONS:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: [{key}] must be a table")
            for inner, inner_value in value.items():
                if key == "siting" and inner not in _SECTIONS[key]:
                    values.setdefault("siting_options", {})[inner] = inner_value
                    continue
                if inner not in _SECTIONS[key]:
                    known = ", ".join(_SECTIONS[key])
                    raise ConfigError(f"{source}: unknown key {key}.{inner}; known: {known}")
                values[_field_name(key, inner)] = inner_value
        else:
            raise ConfigError(
                f"{source}: unknown section or key {key!r}; known: title, synthetic, "
                + ", ".join([*_SECTIONS, "speeds"])
            )
    for name in _PATH_FIELDS:
        if values.get(name) is not None:
            values[name] = _resolve(base_dir, values[name])
    for name in _SITING_PATH_OPTIONS:
        if values.get("siting_options", {}).get(name) is not None:
            values["siting_options"][name] = _resolve(base_dir, values["siting_options"][name])
    if "thresholds_min" in values:
        values["thresholds_min"] = _as_tuple(values["thresholds_min"], source)
    if "exclude" in values:
        values["exclude"] = _exclusions(values["exclude"], source)
    return Scenario(**values)


def _field_name(section: str, key: str) -> str:
    if section == "siting" and key == "threshold_min":
        return "site_threshold_min"
    return key


def _speed_values(table: Any, source: str) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{source}: [speeds] must be a table of highway class = km/h")
    speeds: dict[str, float] = {}
    options: dict[str, float] = {}
    factors: dict[str, float] = {}
    for key, value in table.items():
        if key == "surface_factors":
            if not isinstance(value, Mapping):
                raise ConfigError(
                    f"{source}: [speeds.surface_factors] must be a table of surface = factor, "
                    "e.g. unpaved = 0.7"
                )
            factors = dict(value)
        elif key in _PROFILE_FIELDS:
            options[key] = value
        else:
            speeds[key] = value
    return {"speeds_kph": speeds, "surface_factors": factors, "profile_options": options}


def _resolve(base_dir: Path, value: Any) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else base_dir / path


def _as_tuple(value: Any, source: str) -> tuple[Any, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ConfigError(f"{source}: thresholds_min must be a list of minutes, e.g. [30, 60]")
    return tuple(value)


def _exclusions(value: Any, source: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise ConfigError(
            f'{source}: facilities.exclude must be a table, e.g. exclude = {{ amenity = '
            '["pharmacy"] }'
        )
    out = {}
    for column, values in value.items():
        vals = [values] if isinstance(values, str) else list(values)
        out[str(column)] = tuple(str(v) for v in vals)
    return out


def parse_exclusions(items: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Parse ``COLUMN=VALUE[,VALUE]`` command-line items into an exclusion mapping.

    Examples
    --------
    >>> parse_exclusions(["amenity=pharmacy,dentist"])
    {'amenity': ('pharmacy', 'dentist')}
    """
    out: dict[str, tuple[str, ...]] = {}
    for item in items:
        column, sep, values = item.partition("=")
        if not sep or not column.strip() or not values.strip():
            raise ConfigError(
                f"--exclude {item!r}: write COLUMN=VALUE, e.g. --exclude amenity=pharmacy"
            )
        out[column.strip()] = out.get(column.strip(), ()) + tuple(
            v.strip() for v in values.split(",") if v.strip()
        )
    return out


def parse_thresholds(text: str) -> tuple[float, ...]:
    """Parse ``"30,60,120"`` into minutes.

    Raises
    ------
    ConfigError
        A value is not a positive number.
    """
    out = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise ConfigError(
                f"--thresholds: {part.strip()!r} is not a number of minutes; use e.g. 30,60,120"
            ) from None
        if not value > 0:
            raise ConfigError(f"--thresholds: {part.strip()} must be a positive number of minutes")
        out.append(value)
    return tuple(out)
