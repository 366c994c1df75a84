"""Scenario settings: nested frozen sections that mirror the scenario file's tables.

A scenario file (TOML; every key optional, paths relative to the file) has one table per
section: ``[inputs]`` (files), ``[analysis]`` (mode, thresholds), ``[facilities]``
(exclusions), ``[speeds]`` (km/h per highway class and profile settings),
``[siting]`` (new sites, models, circuits), ``[referral]`` and ``[output]``; the README's
worked example shows one, and :func:`scenario_schema` describes every key.

Each table is a frozen dataclass (:class:`Inputs`, :class:`Analysis`,
:class:`FacilitySettings`, :class:`Speeds`, :class:`Siting`, :class:`Output`) and
:class:`Scenario` holds one of each.  One path validates every source: a TOML file
(:func:`load_scenario`), command-line options (:meth:`Scenario.replace`) and Python
arguments all end in the sections' ``__post_init__``, which checks each value against the
field's type and range and raises :class:`~accessmap.errors.ConfigError` naming the key.
:func:`scenario_schema` turns the same types into a JSON Schema.

This module imports no numpy, scipy or geopandas, so reading settings is instant.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from accessmap._sections import Section, json_value
from accessmap.errors import ConfigError
from accessmap.routing.modes import MODES, SpeedProfile

__all__ = [
    "Analysis", "FacilitySettings", "Inputs", "Output", "Referral", "Scenario", "Siting",
    "Speeds",
    "load_scenario", "scenario_from_dict",
    "scenario_schema",
]

SECTION_NAMES = ("inputs", "analysis", "facilities", "speeds", "siting", "referral", "output")
CANDIDATE_SOURCES = ("underserved", "file", "both")
WEIGHTINGS = ("population", "travel_time", "group")
SITING_METHODS = ("auto", "exact", "greedy")
SOLVERS = ("cbc", "highs")


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class Inputs(Section):
    """``[inputs]``: the files a run reads.

    Parameters
    ----------
    network, population, facilities
        OSM extract (.osm.pbf, .osm, .osm.bz2) or GraphML; population raster (GeoTIFF)
        or census polygons/points; facility points (GeoJSON, GeoPackage, CSV with lon/lat).
    facilities_layer
        Layer of a facilities GeoPackage that holds several.
    population_column
        Population column of census polygons or points (raster files need none).
    boundaries, boundary_name_column, admin_level
        Optional admin areas: a polygon file and the column naming each area, or the OSM
        extract itself with the ``admin_level`` of its boundary relations (e.g. 4).
    groups, group_column
        Optional polygons carrying a group attribute (e.g. wealth quintile), or a raster
        of a target population.
    """

    name: ClassVar[str] = "inputs"
    network: Path | None = None
    population: Path | None = None
    facilities: Path | None = None
    facilities_layer: str | None = None
    population_column: str | None = None
    boundaries: Path | None = None
    boundary_name_column: str | None = None
    admin_level: int | None = None
    groups: Path | None = None
    group_column: str | None = None

    def _check(self) -> None:
        if self.admin_level is not None and not 1 <= self.admin_level <= 12:
            raise ConfigError(f"inputs.admin_level {self.admin_level!r} must be a whole "
                              "number 1-12")


@dataclass(frozen=True)
class Analysis(Section):
    """``[analysis]``: travel mode, thresholds and the analysis' own settings.

    Parameters
    ----------
    mode : {"walk", "drive"}
        Travel mode.
    thresholds_min
        Travel-time thresholds in minutes (sorted on creation).
    aggregate
        Sum population over ``aggregate x aggregate`` cells before the analysis.
    catchment_threshold_min
        Threshold of facility catchments and 2SFCA; defaults to the siting threshold.
    min_zone_population
        Underserved zones with fewer people are gathered into one "other" row.
    """

    name: ClassVar[str] = "analysis"
    choices: ClassVar[Mapping[str, Sequence[str]]] = {"mode": MODES}
    mode: str = "walk"
    thresholds_min: tuple[float, ...] = (30.0, 60.0, 120.0)
    aggregate: int = 1
    catchment_threshold_min: float | None = None
    min_zone_population: float = 100.0

    def _check(self) -> None:
        if not self.thresholds_min:
            raise ConfigError("analysis.thresholds_min: give at least one travel-time "
                              "threshold in minutes")
        for value in self.thresholds_min:
            if not value > 0:
                raise ConfigError(f"threshold {value!r} is not a positive number of "
                                  "minutes; use e.g. --thresholds 30,60,120")
        object.__setattr__(self, "thresholds_min", tuple(sorted(self.thresholds_min)))
        self._at_least("aggregate", 1)
        self._positive("catchment_threshold_min", unit=" of minutes")
        self._at_least("min_zone_population", 0)


@dataclass(frozen=True)
class FacilitySettings(Section):
    """``[facilities]``: which facility rows count.

    Parameters
    ----------
    exclude
        Rows to leave out: column -> values (e.g. ``{"amenity": ("pharmacy",)}``).
    max_road_distance_m
        Facilities farther than this from any usable road are named in a warning (their
        walk to the road can dominate their catchment's times).
    """

    name: ClassVar[str] = "facilities"
    exclude: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    max_road_distance_m: float = 500.0

    def _check(self) -> None:
        self._at_least("max_road_distance_m", 0)


#: ``[speeds]`` keys that are profile settings rather than highway classes.
PROFILE_KEYS = ("default_kph", "offroad_kph", "detour_factor", "max_snap_m", "ferry_kph",
                "ferry_wait_min")


@dataclass(frozen=True)
class Speeds(Section):
    """``[speeds]``: overrides merged into the travel mode's default speed profile.

    Parameters
    ----------
    kph
        Speed (km/h) per OSM highway class (the table's plain keys, e.g. ``track = 10``).
    surface_factors
        ``[speeds.surface_factors]``: speed factor per surface (0-1].
    default_kph, offroad_kph, detour_factor, max_snap_m, ferry_kph, ferry_wait_min
        Profile settings (see :class:`~accessmap.routing.modes.SpeedProfile`); ``None``
        keeps the mode's default.
    """

    name: ClassVar[str] = "speeds"
    kph: Mapping[str, float] = field(default_factory=dict)
    surface_factors: Mapping[str, float] = field(default_factory=dict)
    default_kph: float | None = None
    offroad_kph: float | None = None
    detour_factor: float | None = None
    max_snap_m: float | None = None
    ferry_kph: float | None = None
    ferry_wait_min: float | None = None

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> Speeds:
        """Build from the scenario file's ``[speeds]`` table (classes and settings mixed)."""
        values: dict[str, Any] = {"kph": {}}
        for key, value in table.items():
            if key == "surface_factors":
                if not isinstance(value, Mapping):
                    raise ConfigError("[speeds.surface_factors] must be a table of surface = "
                                      "factor, e.g. unpaved = 0.7")
                values["surface_factors"] = value
            elif key in PROFILE_KEYS:
                values[key] = value
            elif key == "kph" and isinstance(value, Mapping):
                values["kph"].update(value)
            else:
                values["kph"][key] = value
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Return the ``[speeds]`` table as written in a scenario file."""
        out = super().to_dict()
        return {**out.pop("kph", {}), **out}

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """The ``[speeds]`` table: highway classes (km/h) beside the profile settings."""
        table = super().schema()
        kph = table["properties"].pop("kph")
        return {**table, "additionalProperties": kph["additionalProperties"],
                "description": "km/h per OSM highway class, plus the profile settings"}

    def profile(self, mode: str) -> SpeedProfile:
        """Return the speed profile of ``mode`` with these overrides applied."""
        options = {k: getattr(self, k) for k in PROFILE_KEYS if getattr(self, k) is not None}
        return SpeedProfile.default(mode, speeds_kph=dict(self.kph),
                                    surface_factors=dict(self.surface_factors), **options)


@dataclass(frozen=True)
class Siting(Section):
    """``[siting]``: new sites, the models that choose them and mobile-unit circuits.

    Parameters
    ----------
    new_sites
        Number of new sites to recommend (0 for none).
    threshold_min
        Threshold the new sites should bring people within; ``None``: the middle
        travel-time threshold (see :attr:`Scenario.siting_threshold_min`).
    satellite_min_population
        A recommended site that newly serves at least this many people within the
        threshold is a ``satellite_clinic``; otherwise a ``mobile_unit_stop``.
    candidate_spacing_m
        Minimum spacing of candidate sites.
    candidates, candidate_source : {"underserved", "file", "both"}
        File of planner-proposed candidate points, and where candidates come from
        (``both`` when a file is given, else ``underserved``).
    exclusions
        Polygons where no new site may go.
    min_distance_from_facility_m
        Minimum straight-line distance of a new site from existing facilities.
    weighting : {"population", "travel_time", "group"}
        Equity weighting of demand; ``group_weights`` and ``travel_time_cap`` tune it.
    method : {"auto", "exact", "greedy"}
        Model choice; ``exact_max_candidates``, ``solver`` ({"cbc", "highs"}) and
        ``solver_time_limit_s`` tune the exact MCLP.
    coverage_target
        Share of the population to have within the threshold; when set, the fewest new
        sites reaching it are computed (LSCP).
    mobile, mobile_days, mobile_workday_h, mobile_service_min, mobile_search_s
        Weekly circuits for mobile-unit stops (over the drive network).
    """

    name: ClassVar[str] = "siting"
    choices: ClassVar[Mapping[str, Sequence[str]]] = {
        "candidate_source": CANDIDATE_SOURCES, "weighting": WEIGHTINGS,
        "method": SITING_METHODS, "solver": SOLVERS}
    new_sites: int = 5
    threshold_min: float | None = None
    satellite_min_population: float = 5000.0
    candidate_spacing_m: float = 1000.0
    candidates: Path | None = None
    candidate_source: str | None = None
    exclusions: Path | None = None
    min_distance_from_facility_m: float = 0.0
    weighting: str = "population"
    group_weights: Mapping[str, float] | None = None
    travel_time_cap: float = 3.0
    method: str = "auto"
    exact_max_candidates: int = 2000
    solver: str = "cbc"
    solver_time_limit_s: float = 60.0
    coverage_target: float | None = None
    mobile: bool = True
    mobile_days: int = 5
    mobile_workday_h: float = 8.0
    mobile_service_min: float = 120.0
    mobile_search_s: float = 2.0

    def _check(self) -> None:
        self._at_least("new_sites", 0)
        self._positive("threshold_min", unit=" of minutes")
        self._at_least("satellite_min_population", 0)
        self._positive("candidate_spacing_m", unit=" of metres")
        source = self.candidate_source or ("both" if self.candidates else "underserved")
        object.__setattr__(self, "candidate_source", source)
        if source != "underserved" and self.candidates is None:
            raise ConfigError(f"siting.candidate_source {source!r} needs a candidates file "
                              "(siting.candidates)")
        self._at_least("min_distance_from_facility_m", 0)
        self._positive("travel_time_cap", "solver_time_limit_s", "mobile_workday_h")
        self._at_least("exact_max_candidates", 1)
        self._at_least("mobile_service_min", 0)
        self._at_least("mobile_search_s", 0)
        if not 1 <= self.mobile_days <= 7:
            raise ConfigError(f"siting.mobile_days is {self.mobile_days}; give 1-7 days a week")
        if self.coverage_target is not None and not 0 < self.coverage_target <= 1:
            raise ConfigError(f"siting.coverage_target {self.coverage_target!r} must be a "
                              "share between 0 and 1 (e.g. 0.9 for 90%)")


@dataclass(frozen=True)
class Referral(Section):
    """``[referral]``: travel times from each facility to the nearest one of a higher level.

    Parameters
    ----------
    level_column
        Facility column holding each facility's level (e.g. ``type`` or ``amenity``);
        ``None`` (the default) computes no referral.
    levels
        The levels, lowest first (e.g. ``["clinic", "hospital"]``); facilities of other
        values take no part.
    """

    name: ClassVar[str] = "referral"
    level_column: str | None = None
    levels: tuple[str, ...] = ()

    def _check(self) -> None:
        if self.level_column is not None and len(self.levels) < 2:
            raise ConfigError("referral.levels: give at least two levels, lowest first, "
                              'e.g. levels = ["clinic", "hospital"]')


@dataclass(frozen=True)
class Output(Section):
    """``[output]``: where the run folder goes."""

    name: ClassVar[str] = "output"
    out: Path = Path("maps/run")


#: Section attribute of :class:`Scenario` -> its class.
SECTIONS: dict[str, type[Section]] = {
    "inputs": Inputs, "analysis": Analysis, "facilities": FacilitySettings, "speeds": Speeds,
    "siting": Siting, "referral": Referral, "output": Output,
}
#: Path-valued keys, by section (resolved relative to a scenario file's folder).
PATH_KEYS = {section: tuple(f.name for f in dataclasses.fields(cls)  # type: ignore[arg-type]
                            if "Path" in str(f.type))
             for section, cls in SECTIONS.items()}


@dataclass(frozen=True)
class Scenario:
    """Everything one run needs, one frozen section per table of the scenario file.

    Parameters
    ----------
    title
        Shown on the map and in the report.
    synthetic
        Label every output as made from synthetic data.
    inputs, analysis, facilities, speeds, siting, referral, output
        The sections; each defaults to its own defaults.  Plain mappings are accepted
        and validated like a scenario file's tables.

    Examples
    --------
    >>> s = Scenario(analysis={"mode": "drive"}, siting={"new_sites": 3})
    >>> s.analysis.mode, s.siting.new_sites, s.siting_threshold_min
    ('drive', 3, 60.0)
    >>> s.replace(new_sites=0).siting.new_sites
    0
    """

    title: str = "accessmap run"
    synthetic: bool = False
    inputs: Inputs = field(default_factory=Inputs)
    analysis: Analysis = field(default_factory=Analysis)
    facilities: FacilitySettings = field(default_factory=FacilitySettings)
    speeds: Speeds = field(default_factory=Speeds)
    siting: Siting = field(default_factory=Siting)
    referral: Referral = field(default_factory=Referral)
    output: Output = field(default_factory=Output)

    def __post_init__(self) -> None:
        if not isinstance(self.title, str):
            raise ConfigError(f"title is {self.title!r}; give a text value")
        if not isinstance(self.synthetic, bool):
            raise ConfigError(f"synthetic is {self.synthetic!r}; give true or false")
        for name, cls in SECTIONS.items():
            value = getattr(self, name)
            if isinstance(value, Mapping):
                value = _section_from_table(name, value, source="scenario")
            if not isinstance(value, cls):
                raise ConfigError(f"[{name}] must be a table or a {cls.__name__}")
            object.__setattr__(self, name, value)
        self.speed_profile()  # validates speeds now, not half-way through a run

    @property
    def siting_threshold_min(self) -> float:
        """Threshold of site selection and underserved zones: ``[siting] threshold_min``,
        or the middle travel-time threshold."""
        if self.siting.threshold_min is not None:
            return float(self.siting.threshold_min)
        thresholds = self.analysis.thresholds_min
        return thresholds[len(thresholds) // 2]

    @property
    def catchment_threshold_min(self) -> float:
        """Threshold of catchments and 2SFCA (defaults to the siting threshold)."""
        return float(self.analysis.catchment_threshold_min or self.siting_threshold_min)

    def speed_profile(self) -> SpeedProfile:
        """Return the speed profile of this scenario's mode with its overrides."""
        return self.speeds.profile(self.analysis.mode)

    def to_dict(self) -> dict[str, Any]:
        """Return the scenario as the nested, JSON-ready tables of a scenario file."""
        out: dict[str, Any] = {"title": self.title, "synthetic": self.synthetic}
        for name in SECTIONS:
            out[name] = getattr(self, name).to_dict()
        return out

    def with_changes(self, changes: Mapping[str, Any]) -> Scenario:
        """Return a copy with nested ``changes`` (``{"analysis": {"mode": "drive"}}``)
        merged in, validated like a scenario file (paths relative to the current folder).
        """
        merged = self.to_dict()
        for key, value in changes.items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        return scenario_from_dict(merged, source="settings")

    def replace(self, **changes: Any) -> Scenario:
        """Return a copy with keys changed by their plain names (``None`` values ignored).

        Each name is a key of one section (``mode``, ``new_sites``, ``out``, ...) or
        ``title``/``synthetic``; the command-line options map onto them this way.

        Raises
        ------
        ConfigError
            A name that is no setting.
        """
        nested: dict[str, Any] = {}
        for key, value in changes.items():
            if value is None:
                continue
            section = _KEY_SECTION.get(key)
            if section is None:
                raise ConfigError(f"unknown setting {key!r}; known: "
                                  + ", ".join(sorted(_KEY_SECTION)))
            if section == "":
                nested[key] = value
            else:
                nested.setdefault(section, {})[key] = json_value(value)
        return self.with_changes(nested)


#: Plain key name -> its section ("" for top-level keys); every key name is unique.
_KEY_SECTION: dict[str, str] = {"title": "", "synthetic": ""}
for _section, _cls in SECTIONS.items():
    for _field in dataclasses.fields(_cls):  # type: ignore[arg-type]
        if _field.name != "kph":
            _KEY_SECTION[_field.name] = _section
_KEY_SECTION["speeds_kph"] = "speeds"


def _section_from_table(name: str, table: Mapping[str, Any], *, source: str) -> Section:
    cls = SECTIONS[name]
    if name == "speeds":
        table = dict(table)
        if "speeds_kph" in table:
            table.update(table.pop("speeds_kph"))
        return Speeds.from_table(table)
    known = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = [k for k in table if k not in known]
    if unknown:
        raise ConfigError(f"{source}: unknown key {name}.{unknown[0]}; known: "
                          + ", ".join(known))
    return cls(**table)


# --------------------------------------------------------------------------- loading


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
    """Build a :class:`Scenario` from the nested tables of a scenario file.

    Parameters
    ----------
    data
        ``{"title": ..., "inputs": {...}, "analysis": {...}, ...}``.
    base_dir
        Folder that relative paths are relative to.
    source
        Named in error messages (the file's path).

    Raises
    ------
    ConfigError
        Unknown section or key, or a value of the wrong type or out of range.
    """
    top: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("title", "synthetic"):
            top[key] = value
        elif key in SECTIONS:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: [{key}] must be a table")
            table = dict(value)
            for path_key in PATH_KEYS[key]:
                if table.get(path_key) is not None and isinstance(table[path_key], str | Path):
                    table[path_key] = _resolve(base_dir, table[path_key])
            try:
                top[key] = _section_from_table(key, table, source=source)
            except ConfigError as err:
                message = str(err)
                raise ConfigError(message if message.startswith(source)
                                  else f"{source}: {message}") from None
        else:
            raise ConfigError(
                f"{source}: unknown section or key {key!r}; known: title, synthetic, "
                + ", ".join(SECTIONS)
            )
    return Scenario(**top)


def _resolve(base_dir: Path, value: str | Path) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else base_dir / path






# --------------------------------------------------------------------------- JSON Schema


def scenario_schema() -> dict[str, Any]:
    """Return the JSON Schema of a scenario (the tables of a scenario file).

    The same types validate TOML files, command-line options and Python arguments; a
    service accepts scenarios checked against this schema.
    """
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "accessmap scenario",
        "type": "object",
        "properties": {
            "title": {"type": "string", "default": "accessmap run"},
            "synthetic": {"type": "boolean", "default": False},
            **{name: cls.schema() for name, cls in SECTIONS.items()},
        },
        "additionalProperties": False,
    }
