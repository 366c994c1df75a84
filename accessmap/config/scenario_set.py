"""Scenario sets: one file, a baseline and several named scenarios run against it.

A scenario set is a scenario file (the baseline's tables) with ``[scenarios.NAME]``
tables, each a nested override of the baseline with the same keys as a scenario file::

    title = "Comoros, driving"
    [inputs]
    network = "comores-latest.osm.pbf"
    ...
    [scenarios.rainy.speeds]
    track = 10
    [scenarios.no_hospital.facilities]
    exclude = { amenity = ["pharmacy"], name = ["El-Maarouf"] }

A key a scenario gives replaces the baseline's value of that key (a whole ``exclude``
mapping, a whole threshold list); the keys it does not give keep the baseline's values.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accessmap.config.scenario import PATH_KEYS, Scenario, _resolve, scenario_from_dict
from accessmap.errors import ConfigError

__all__ = ["SCENARIOS_KEY", "ScenarioSet", "is_scenario_set", "load_scenario_set"]

#: Top-level key of a scenario file that makes it a scenario set.
SCENARIOS_KEY = "scenarios"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_RESERVED = ("baseline", "comparison")


@dataclass(frozen=True)
class ScenarioSet:
    """The baseline and the named scenarios of a scenario-set file (in file order)."""

    baseline: Scenario
    scenarios: dict[str, Scenario]


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"scenario file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"scenario file {path} cannot be read ({err})") from None


def is_scenario_set(path: str | os.PathLike[str]) -> bool:
    """Whether a scenario file has ``[scenarios.NAME]`` tables (False if unreadable)."""
    try:
        return SCENARIOS_KEY in _read(Path(path))
    except ConfigError:
        return False


def load_scenario_set(path: str | os.PathLike[str]) -> ScenarioSet:
    """Read a scenario-set file: the baseline, then each ``[scenarios.NAME]`` over it.

    Relative paths are relative to the file's folder; a scenario without its own title
    is titled ``"<baseline title>: NAME"``.

    Raises
    ------
    ConfigError
        The file is unreadable, lists no scenario, a name is not usable as a folder name
        (or is ``baseline``/``comparison``), or a scenario has an unknown key or bad value
        (the message names ``scenarios.NAME``).
    """
    path = Path(path)
    data = _read(path)
    tables = data.pop(SCENARIOS_KEY, None)
    if not isinstance(tables, Mapping) or not tables:
        raise ConfigError(f"{path}: [{SCENARIOS_KEY}] lists no scenario; add tables such as "
                          f"[{SCENARIOS_KEY}.rainy.speeds]")
    baseline = scenario_from_dict(data, base_dir=path.parent, source=str(path))
    scenarios = {}
    for name, changes in tables.items():
        source = f"{path} [{SCENARIOS_KEY}.{name}]"
        if not _NAME.match(name) or name in _RESERVED:
            raise ConfigError(f"{source}: the name must be letters, digits, '.', '_' or '-' "
                              f"and not {' or '.join(_RESERVED)}: it names a folder")
        if not isinstance(changes, Mapping):
            raise ConfigError(f"{source} must be a table of scenario tables")
        changes = {"title": f"{baseline.title}: {name}", **_resolved(changes, path.parent)}
        try:
            scenarios[name] = baseline.with_changes(changes)
        except ConfigError as err:
            raise ConfigError(f"{source}: {err}".replace("settings: ", "")) from None
    return ScenarioSet(baseline, scenarios)


def _resolved(changes: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
    """The changes with their relative paths taken relative to the file's folder."""
    out = dict(changes)
    for section, keys in PATH_KEYS.items():
        table = out.get(section)
        if isinstance(table, Mapping):
            out[section] = {k: (str(_resolve(base_dir, v)) if k in keys and isinstance(v, str)
                                else v) for k, v in table.items()}
    return out
