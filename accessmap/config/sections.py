"""The core sections of a scenario file: ``[inputs]``, ``[analysis]``, ``[facilities]``,
``[speeds]``, ``[siting]``, ``[referral]`` and ``[output]``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from accessmap._sections import Section, check_value
from accessmap.config.rules import FacilityRule
from accessmap.errors import ConfigError
from accessmap.routing.modes import MODES, SpeedProfile
from accessmap.routing.seasons import BUILTIN_PROFILES, profile_overrides

__all__ = [
    "DEMAND_POINTS_AUTO_MAX", "POPULATION_UNITS", "Analysis", "FacilitySettings", "Inputs",
    "Output", "Referral",
    "Siting", "Speeds",
]

CANDIDATE_SOURCES = ("underserved", "file", "both")
WEIGHTINGS = ("population", "travel_time", "group")
SITING_METHODS = ("auto", "exact", "greedy")
SOLVERS = ("cbc", "highs")
#: What a population raster's cells hold (``[inputs] population_units``; see
#: :mod:`accessmap.inputs.population_units`).
POPULATION_UNITS = ("count", "per_km2", "per_ha")
PARTIAL_CHOICES = ("include", "exclude")
#: Demand points up to which ``[output] demand_points`` unset writes the layer.
DEMAND_POINTS_AUTO_MAX = 1_000_000


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
    population_units : {"count", "per_km2", "per_ha"}
        What a population raster's cells hold: people per cell (WorldPop, GHS-POP), or
        people per km² / per hectare, converted to people per cell by each cell's true
        area (``docs/analysis.md``, "Population input").
    boundaries, boundary_name_column, admin_level
        Optional admin areas: a polygon file and the column naming each area, or the OSM
        extract itself with the ``admin_level`` of its boundary relations (e.g. 4).
    groups, group_column
        Optional polygons carrying a group attribute (e.g. wealth quintile), or a raster
        of a target population.
    """

    name: ClassVar[str] = "inputs"
    choices: ClassVar[Mapping[str, Sequence[str]]] = {"population_units": POPULATION_UNITS}
    network: Path | None = None
    population: Path | None = None
    facilities: Path | None = None
    facilities_layer: str | None = None
    population_column: str | None = None
    population_units: str = "count"
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
    mode : {"walk", "drive", "bicycle", "walk+drive"}
        Travel mode (any registered one; ``walk+drive`` takes its transfer settings
        from ``[transfer]``).
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
    """``[facilities]``: which facility rows count, and the scenario's facility changes.

    Parameters
    ----------
    exclude
        Rows to leave out: column -> values (e.g. ``{"amenity": ("pharmacy",)}``).
    max_road_distance_m
        Facilities farther than this from any usable road are named in a warning (their
        walk to the road can dominate their catchment's times).
    close
        Facilities closed in this scenario: rules (:class:`~accessmap.config.rules.
        FacilityRule` tables) or bare ids/names; an unknown id or name is refused.
    planned
        File of planned facilities added in this scenario (ids ``P1``, ``P2``... unless
        the file has an id column).
    require
        Rule a facility must meet to count (e.g. offer a service).
    status_column, partially_functional : {"include", "exclude"}
        HeRAMS-style functionality column (functional / partially functioning / not
        functioning); not functioning facilities are always left out, partially
        functioning ones as chosen.
    """

    name: ClassVar[str] = "facilities"
    choices: ClassVar[Mapping[str, Sequence[str]]] = {
        "partially_functional": PARTIAL_CHOICES}
    exclude: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    max_road_distance_m: float = 500.0
    close: tuple[FacilityRule, ...] = ()
    planned: Path | None = None
    require: FacilityRule | None = None
    status_column: str | None = None
    partially_functional: str = "include"

    def _check(self) -> None:
        self._at_least("max_road_distance_m", 0)
        object.__setattr__(self, "close", tuple(
            FacilityRule.from_value(v, key=f"facilities.close[{i}]")
            for i, v in enumerate(self.close)))
        if self.require is not None:
            object.__setattr__(self, "require", FacilityRule.from_value(
                self.require, key="facilities.require"))

    @property
    def changes_facilities(self) -> bool:
        """Whether the scenario closes, adds or filters facilities."""
        return bool(self.close or self.planned or self.require or self.status_column)

    def to_dict(self) -> dict[str, Any]:
        """Return the ``[facilities]`` table (rules as their tables, unused keys left out)."""
        out = super().to_dict()
        for key in ("close", "require"):
            value = getattr(self, key)
            if not value:
                out.pop(key, None)
            else:
                out[key] = ([r.to_dict() for r in value] if key == "close"
                            else value.to_dict())
        if not self.status_column:
            out.pop("partially_functional", None)
        return out

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """The ``[facilities]`` table, with the rule tables of ``close`` and ``require``."""
        table = super().schema()
        rule_or_id = {"anyOf": [{"type": ["string", "integer"]}, FacilityRule.schema()]}
        table["properties"]["close"]["items"] = rule_or_id
        table["properties"]["require"] = rule_or_id  # a bare id or name is a rule too
        return table


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
    speed_profile
        Named profile this run uses (``profile = "rainy"`` in the file, CLI
        ``--speed-profile``): one of ``profiles`` or the built-in ``rainy``
        (:mod:`accessmap.routing.seasons`); ``None``: these speeds as they are.
    profiles
        ``[speeds.NAME]`` tables: ``surface_factors``/``highway_factors`` (season factors
        in (0, 1], every mode), ``CLASS = km/h`` and profile settings.
    """

    name: ClassVar[str] = "speeds"
    inline: ClassVar[tuple[str, ...]] = ("kph",)
    kph: Mapping[str, float] = field(default_factory=dict)
    surface_factors: Mapping[str, float] = field(default_factory=dict)
    default_kph: float | None = None
    offroad_kph: float | None = None
    detour_factor: float | None = None
    max_snap_m: float | None = None
    ferry_kph: float | None = None
    ferry_wait_min: float | None = None
    speed_profile: str | None = None
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def _check(self) -> None:
        known = self.known_profiles()
        if self.speed_profile is not None and self.speed_profile not in known:
            raise ConfigError(f"speeds.profile {self.speed_profile!r} is unknown; known "
                              "profiles: " + ", ".join(known)
                              + " (define others as [speeds.NAME] tables)")
        for name in self.profiles:  # checked now, even when not chosen
            try:
                SpeedProfile.default("walk", **self._profile_options(name))
            except ConfigError as err:
                raise ConfigError(f"[speeds.{name}]: {err}") from None

    def known_profiles(self) -> list[str]:
        """Names ``speed_profile`` may take: the file's ``[speeds.NAME]`` and built-ins."""
        return sorted({*self.profiles, *BUILTIN_PROFILES})

    def _profile_options(self, name: str) -> dict[str, Any]:
        """``SpeedProfile.default`` overrides of ``[speeds]`` with profile ``name`` on top."""
        options: dict[str, Any] = {k: getattr(self, k) for k in PROFILE_KEYS
                                   if getattr(self, k) is not None}
        options["speeds_kph"] = dict(self.kph)
        options["surface_factors"] = dict(self.surface_factors)
        if name:
            table = self.profiles.get(name, BUILTIN_PROFILES.get(name, {}))
            kph, factors, settings = profile_overrides(name, table, settings=PROFILE_KEYS)
            options["speeds_kph"].update(kph)
            options.update({k: check_value(f"speeds.{name}.{k}", v, float | None)
                            for k, v in settings.items()})
            options["season_factors"] = factors
        return options

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> Speeds:
        """Build from the scenario file's ``[speeds]`` table (classes and settings mixed)."""
        values: dict[str, Any] = {"kph": {}, "profiles": {}}
        for key, value in table.items():
            if key in ("profile", "speed_profile"):
                values["speed_profile"] = check_value("speeds.profile", value, str | None)
            elif key == "profiles" and isinstance(value, Mapping):
                values["profiles"].update(value)
            elif key != "surface_factors" and isinstance(value, Mapping) and key != "kph":
                values["profiles"][key] = value
            elif key == "surface_factors":
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
        profiles = out.pop("profiles", {})
        if "speed_profile" in out:
            out["profile"] = out.pop("speed_profile")
        return {**out.pop("kph", {}), **out, **profiles}

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """The ``[speeds]`` table: highway classes (km/h) beside the profile settings."""
        table = super().schema()
        kph = table["properties"].pop("kph")
        named = table["properties"].pop("profiles")["additionalProperties"]
        table["properties"]["profile"] = table["properties"].pop("speed_profile")
        return {**table, "additionalProperties": {"anyOf": [kph["additionalProperties"],
                                                            named]},
                "description": "km/h per OSM highway class, plus the profile settings"}

    def profile(self, mode: str) -> SpeedProfile:
        """Return the speed profile of ``mode`` with these overrides (and the chosen
        named profile) applied."""
        return SpeedProfile.default(mode, **self._profile_options(self.speed_profile or ""))


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
    """``[output]``: where the run folder goes and what it holds.

    Parameters
    ----------
    out
        The run folder.
    demand_points
        Write the ``demand_points`` layer (one point per populated cell) to
        ``layers.gpkg``: ``true`` always, ``false`` never; unset, only for runs of at most
        :data:`DEMAND_POINTS_AUTO_MAX` points (a large country's layer takes minutes and
        gigabytes; ``travel_time.tif`` holds the same times).
    """

    name: ClassVar[str] = "output"
    out: Path = Path("maps/run")
    demand_points: bool | None = None

    def writes_demand_points(self, points: int) -> bool:
        """Whether a run of ``points`` demand points writes the ``demand_points`` layer."""
        if self.demand_points is None:
            return points <= DEMAND_POINTS_AUTO_MAX
        return self.demand_points


