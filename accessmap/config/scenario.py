"""The :class:`Scenario` (one frozen section per table), loading scenario files and the
JSON Schema of a scenario."""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accessmap._sections import Section, json_value
from accessmap.config.compute import Compute
from accessmap.config.indicators import Indicators, indicator_table
from accessmap.config.offroad import Offroad
from accessmap.config.roads import Roads
from accessmap.config.sections import (
    Analysis,
    FacilitySettings,
    Inputs,
    Output,
    Referral,
    Siting,
    Speeds,
)
from accessmap.config.transfer import Transfer
from accessmap.errors import ConfigError
from accessmap.routing.modes import SpeedProfile

__all__ = ["PATH_KEYS", "SECTIONS", "Scenario", "load_scenario", "scenario_from_dict",
           "scenario_schema"]

#: Section attribute of :class:`Scenario` -> its class.
SECTIONS: dict[str, type[Section]] = {
    "inputs": Inputs, "analysis": Analysis, "facilities": FacilitySettings, "speeds": Speeds,
    "siting": Siting, "referral": Referral, "transfer": Transfer, "offroad": Offroad,
    "output": Output, "roads": Roads, "compute": Compute, "indicators": Indicators,
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
    inputs, analysis, facilities, speeds, siting, referral, transfer, offroad, output,
    roads, compute, indicators
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
    transfer: Transfer = field(default_factory=Transfer)
    offroad: Offroad = field(default_factory=Offroad)
    output: Output = field(default_factory=Output)
    roads: Roads = field(default_factory=Roads)
    compute: Compute = field(default_factory=Compute)
    indicators: Indicators = field(default_factory=Indicators)

    def __post_init__(self) -> None:
        if not isinstance(self.title, str):
            raise ConfigError(f"title is {self.title!r}; give a text value")
        if not isinstance(self.synthetic, bool):
            raise ConfigError(f"synthetic is {self.synthetic!r}; give true or false")
        for name, cls in SECTIONS.items():
            value = getattr(self, name)
            if name == "indicators" and isinstance(value, list | tuple):
                value = {"indicators": value}
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
    if name == "indicators":
        return Indicators.from_table(table)
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
            value = indicator_table(value, base_dir=base_dir) if key == "indicators" else value
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: [{key}] must be a table")
            table = dict(value)
            for path_key in PATH_KEYS[key]:
                if table.get(path_key) is not None and isinstance(table[path_key], str | Path):
                    table[path_key] = _resolve(base_dir, table[path_key])
            with _named_source(source):
                top[key] = _section_from_table(key, table, source=source)
        else:
            raise ConfigError(
                f"{source}: unknown section or key {key!r}; known: title, synthetic, "
                + ", ".join(SECTIONS)
            )
    with _named_source(source):
        return Scenario(**top)


@contextmanager
def _named_source(source: str) -> Iterator[None]:
    """Prefix the message of a :class:`ConfigError` raised in the block with ``source``."""
    try:
        yield
    except ConfigError as err:
        message = str(err)
        raise ConfigError(message if message.startswith(source)
                          else f"{source}: {message}") from None


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
