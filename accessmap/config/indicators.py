"""``[[indicators]]``: coverage indicators for one service (a subset of facilities).

Each ``[[indicators]]`` table of a scenario file names an indicator, the facilities that
offer the service (a :class:`~accessmap.config.rules.FacilityRule`), its own thresholds,
a target share and, optionally, the people it is about (a target population subset)::

    [[indicators]]
    name = "surgical_2h"                     # Lancet Commission on Global Surgery
    facilities = { column = "services", contains = ["surgery"] }
    thresholds_min = [120]
    target_share = 0.8

    [[indicators]]
    name = "emoc_women_15_49"
    facilities = { column = "type", equals = ["hospital"] }
    thresholds_min = [30, 60, 90, 120, 180]
    population = { raster = "wra_2020.tif", label = "women 15-49" }

``population`` takes one of ``raster`` (people of the group per cell, on the population
grid, as ``[inputs] groups`` rasters), ``share`` (a constant share of everybody) or
``shares`` (a CSV with a share per admin area, columns ``area_column``/``share_column``;
needs ``[inputs] boundaries``).  Paths are relative to the scenario file.
Imports no numpy.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from accessmap._sections import Section, check_value, json_value, type_schema
from accessmap.config.rules import FacilityRule
from accessmap.errors import ConfigError

__all__ = ["Indicator", "Indicators", "TargetPopulation", "indicator_table"]

_RULE_KEYS = ("ids", "names", "ids_or_names", "column", "equals", "contains")


def _checked_fields(obj: Any, where: str) -> None:
    """Type-check every field of a frozen dataclass against its annotation (in place)."""
    hints = typing.get_type_hints(type(obj))
    for item in dataclasses.fields(obj):
        if item.name in hints and hints[item.name] is not FacilityRule:
            value = check_value(f"{where}.{item.name}", getattr(obj, item.name),
                                hints[item.name])
            object.__setattr__(obj, item.name, value)


def _refuse_unknown(table: Mapping[str, Any], cls: type[Any], where: str) -> None:
    known = [f.name for f in dataclasses.fields(cls) if f.name != "key"]
    unknown = [str(k) for k in table if k not in known]
    if unknown:
        raise ConfigError(f"unknown key {where}.{unknown[0]}; known: " + ", ".join(known))


@dataclass(frozen=True)
class TargetPopulation:
    """The people an indicator is about: one of ``raster``, ``share`` or ``shares``.

    Parameters
    ----------
    raster
        Count raster of the group (people per cell) on the population grid.
    share
        Constant share (0-1) of every cell's people (e.g. 0.24 women of reproductive age).
    shares
        CSV file with one row per admin area: ``area_column`` (the area name, as in the
        boundaries) and ``share_column`` (0-1).
    area_column, share_column
        Columns of ``shares``.
    label
        Name of the group in tables and the report (e.g. ``"under-5s"``).
    """

    raster: Path | None = None
    share: float | None = None
    shares: Path | None = None
    area_column: str = "area"
    share_column: str = "share"
    label: str | None = None
    key: str = dataclasses.field(default="population", compare=False)

    def __post_init__(self) -> None:
        _checked_fields(self, self.key)
        given = [k for k in ("raster", "share", "shares") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ConfigError(f"{self.key}: give exactly one of raster = \"file.tif\", "
                              "share = 0.2 or shares = \"shares.csv\""
                              + (f" (got {', '.join(given)})" if given else ""))
        if self.share is not None and not 0 <= self.share <= 1:
            raise ConfigError(f"{self.key}.share is {self.share!r}; give a share between "
                              "0 and 1 (e.g. 0.24 for 24%)")

    @property
    def kind(self) -> str:
        """``raster``, ``share`` or ``shares``."""
        return next(k for k in ("raster", "share", "shares") if getattr(self, k) is not None)

    def describe(self) -> str:
        """The subset in words (``under-5s (raster u5.tif)``)."""
        source = {"raster": f"raster {self.raster.name if self.raster else ''}",
                  "share": f"{self.share:g} of everybody" if self.share is not None else "",
                  "shares": f"shares per area in {self.shares.name if self.shares else ''}"
                  }[self.kind]
        return f"{self.label} ({source})" if self.label else source

    def to_dict(self) -> dict[str, Any]:
        """The scenario-file table (defaults and ``None`` values left out)."""
        out = {f.name: json_value(getattr(self, f.name)) for f in dataclasses.fields(self)
               if f.name != "key" and getattr(self, f.name) is not None
               and getattr(self, f.name) != f.default}
        return out


@dataclass(frozen=True)
class Indicator:
    """One indicator: the people within each threshold of the facilities of one service.

    Parameters
    ----------
    name
        Indicator name (letters, digits, ``_``/``-``; unique), e.g. ``"surgical_2h"``.
    facilities
        Which facilities offer the service (a rule table; see
        :mod:`accessmap.config.rules`).
    thresholds_min
        Its own thresholds in minutes; ``None`` uses ``[analysis] thresholds_min``.
    target_share
        Target share (0-1] of the people within each threshold (e.g. 0.8); ``met`` says
        whether it is reached.  ``None``: no target.
    population
        Target population subset; ``None`` counts everybody.
    """

    name: str
    facilities: FacilityRule
    thresholds_min: tuple[float, ...] | None = None
    target_share: float | None = None
    population: TargetPopulation | None = None
    key: str = dataclasses.field(default="indicators[0]", compare=False)

    def __post_init__(self) -> None:
        _checked_fields(self, self.key)
        if not self.name.strip() or not all(c.isalnum() or c in "_-" for c in self.name):
            raise ConfigError(f"{self.key}.name is {self.name!r}; use letters, digits, '_' "
                              "or '-' (e.g. \"surgical_2h\")")
        if not isinstance(self.facilities, FacilityRule):
            raise ConfigError(f"{self.key}.facilities must be a rule table, e.g. "
                              '{column = "type", equals = ["hospital"]}')
        if self.thresholds_min is not None:
            if not self.thresholds_min or any(t <= 0 for t in self.thresholds_min):
                raise ConfigError(f"{self.key}.thresholds_min is {list(self.thresholds_min)}"
                                  "; give positive minutes, e.g. [60, 120]")
            object.__setattr__(self, "thresholds_min", tuple(sorted(set(self.thresholds_min))))
        if self.target_share is not None and not 0 < self.target_share <= 1:
            raise ConfigError(f"{self.key}.target_share is {self.target_share!r}; give a "
                              "share above 0 and at most 1 (e.g. 0.8 for 80%)")

    @classmethod
    def from_table(cls, table: Any, *, key: str) -> Indicator:
        """Build an indicator from its ``[[indicators]]`` table; ``key`` names it in
        messages.

        Raises
        ------
        ConfigError
            Not a table, an unknown key, a missing ``name``/``facilities`` or a bad value.
        """
        if isinstance(table, Indicator):
            return table
        if not isinstance(table, Mapping):
            raise ConfigError(f"{key} must be a table with name and facilities")
        _refuse_unknown(table, cls, key)
        name = table.get("name")
        where = f"indicators.{name}" if isinstance(name, str) and name else key
        for needed in ("name", "facilities"):
            if table.get(needed) is None:
                raise ConfigError(f"{where}: {needed} is missing; an indicator needs "
                                  'name = "..." and facilities = {column = ..., equals = [...]}')
        values = dict(table)
        values["facilities"] = FacilityRule.from_table(values["facilities"],
                                                       key=f"{where}.facilities")
        population = values.get("population")
        if population is not None and not isinstance(population, TargetPopulation):
            if not isinstance(population, Mapping):
                raise ConfigError(f"{where}.population must be a table, e.g. "
                                  '{raster = "under5.tif"} or {share = 0.2}')
            _refuse_unknown(population, TargetPopulation, f"{where}.population")
            values["population"] = TargetPopulation(**population, key=f"{where}.population")
        return cls(**values, key=where)

    def thresholds(self, default: Sequence[float]) -> tuple[float, ...]:
        """This indicator's thresholds, or ``default`` (the run's)."""
        return self.thresholds_min if self.thresholds_min is not None else tuple(default)

    def to_dict(self) -> dict[str, Any]:
        """The ``[[indicators]]`` table (``None`` values left out)."""
        out: dict[str, Any] = {"name": self.name, "facilities": self.facilities.to_dict()}
        if self.thresholds_min is not None:
            out["thresholds_min"] = list(self.thresholds_min)
        if self.target_share is not None:
            out["target_share"] = self.target_share
        if self.population is not None:
            out["population"] = self.population.to_dict()
        return out

    @staticmethod
    def schema() -> dict[str, Any]:
        """JSON Schema of one ``[[indicators]]`` table."""
        hints = typing.get_type_hints(TargetPopulation)
        population = {f.name: type_schema(hints[f.name])
                      for f in dataclasses.fields(TargetPopulation) if f.name != "key"}
        rule = {k: ({"type": "string"} if k == "column" else
                    {"anyOf": [{"type": "array", "items": {"type": ["string", "number"]}},
                               {"type": ["string", "number"]}]}) for k in _RULE_KEYS}
        return {"type": "object", "required": ["name", "facilities"],
                "additionalProperties": False, "properties": {
                    "name": {"type": "string"},
                    "facilities": {"type": "object", "properties": rule,
                                   "additionalProperties": False},
                    "thresholds_min": {"type": "array", "items": {"type": "number"}},
                    "target_share": {"type": "number"},
                    "population": {"type": "object", "properties": population,
                                   "additionalProperties": False}}}


@dataclass(frozen=True)
class Indicators(Section):
    """``[[indicators]]``: coverage indicators for a service, one table each.

    Parameters
    ----------
    indicators
        The indicators (tables or :class:`Indicator`); none by default.
    """

    name: ClassVar[str] = "indicators"
    indicators: tuple[Indicator, ...] = ()

    def __post_init__(self) -> None:
        items = self.indicators
        if isinstance(items, Mapping) or not isinstance(items, Sequence):
            raise ConfigError("indicators must be a list of tables ([[indicators]] in a "
                              "scenario file)")
        built = tuple(Indicator.from_table(item, key=f"indicators[{i}]")
                      for i, item in enumerate(items))
        object.__setattr__(self, "indicators", built)
        super().__post_init__()

    def _check(self) -> None:
        names = [i.name for i in self.indicators]
        doubles = sorted({n for n in names if names.count(n) > 1})
        if doubles:
            raise ConfigError(f"indicators: the name {doubles[0]!r} is used twice; give "
                              "each indicator its own name")

    @classmethod
    def from_table(cls, table: Any) -> Indicators:
        """Build from ``[[indicators]]`` (a list of tables) or ``{indicators = [...]}``."""
        if isinstance(table, Mapping):
            _refuse_unknown(table, cls, "indicators")
            return cls(**table)
        return cls(indicators=table)

    def to_dict(self) -> dict[str, Any]:
        """``{"indicators": [tables]}``, or ``{}`` when there is none."""
        return {"indicators": [i.to_dict() for i in self.indicators]} if self.indicators else {}

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """JSON Schema of the section (the recorded form ``{"indicators": [...]}``)."""
        return {"type": "object", "additionalProperties": False,
                "properties": {"indicators": {"type": "array", "items": Indicator.schema()}},
                "description": (cls.__doc__ or "").strip().splitlines()[0]}


def indicator_table(value: Any, *, base_dir: Path) -> Any:
    """A scenario file's indicators with their population paths made absolute against
    ``base_dir`` (as text; a list of tables becomes ``{"indicators": [...]}``)."""
    if isinstance(value, list | tuple):
        value = {"indicators": list(value)}
    if not isinstance(value, Mapping) or not isinstance(value.get("indicators"), list):
        return value
    items = []
    for item in value["indicators"]:
        population = item.get("population") if isinstance(item, Mapping) else None
        if isinstance(population, Mapping):
            population = dict(population)
            for key in ("raster", "shares"):
                if isinstance(population.get(key), str | Path):
                    path = Path(str(population[key])).expanduser()
                    population[key] = str(path if path.is_absolute() else base_dir / path)
            item = {**item, "population": population}
        items.append(item)
    return {**value, "indicators": items}
