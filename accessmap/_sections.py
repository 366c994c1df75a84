"""The machinery of settings sections: type checks from annotations, and their JSON Schema.

A section (see :mod:`accessmap.config`) is a frozen dataclass deriving from
:class:`Section`.  On creation every field is checked against its annotation
(:func:`check_value`: numbers finite, whole numbers whole, booleans booleans, paths
paths, lists and tables of the right items), every field named in ``choices`` against its
allowed values, then the section's own range checks (``_check``).  The same annotations
give the section's JSON Schema (:meth:`Section.schema`).  Imports nothing heavy.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from accessmap.errors import ConfigError

__all__ = ["Section", "check_value", "json_value", "type_schema"]


def check_value(where: str, value: Any, hint: Any) -> Any:
    """Return ``value`` converted to the field type ``hint``, or raise ``ConfigError``."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return check_value(where, value, inner)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} is {value!r}; give true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} is {value!r}; give a whole number")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} is {value!r}; give a number")
        if not math.isfinite(value):
            raise ConfigError(f"{where} is {value!r}; give a finite number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} is {value!r}; give a text value")
        return value
    if hint is Path:
        if not isinstance(value, str | Path):
            raise ConfigError(f"{where} is {value!r}; give a file path")
        return Path(value)
    if origin is tuple:
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise ConfigError(f"{where} is {value!r}; give a list, e.g. [30, 60]")
        return tuple(check_value(f"{where}[{i}]", v, args[0]) for i, v in enumerate(value))
    if origin in (Mapping, dict) or hint is Mapping:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a table (key = value)")
        inner = args[1] if args else Any
        if typing.get_origin(inner) is tuple and args:  # one value or a list of them
            return {str(k): check_value(f"{where}.{k}", [v] if isinstance(v, str) else v,
                                         inner) for k, v in value.items()}
        return {str(k): v if inner is Any else check_value(f"{where}.{k}", v, inner)
                for k, v in value.items()}
    return value



class Section:
    """Base of the settings sections: type-checks every field on creation.

    Subclasses set ``name`` (the scenario file's table) and may set ``choices`` (field ->
    allowed values), ``inline`` and override ``_check`` for range checks.
    """

    name: ClassVar[str] = ""
    choices: ClassVar[Mapping[str, Sequence[str]]] = {}
    #: Table fields whose keys are written as the section's own keys (``[speeds] track``
    #: for ``kph["track"]``): messages name ``section.key``.
    inline: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            where = f"{self.name}.{item.name}" if self.name else item.name
            if item.name in self.inline:
                where = self.name
            value = check_value(where, getattr(self, item.name), hints[item.name])
            object.__setattr__(self, item.name, value)
        for key, allowed in self.choices.items():
            self._one_of(key, allowed)
        self._check()

    def _check(self) -> None:
        """Range checks of the section (the types are already right)."""

    def _positive(self, *names: str, unit: str = "") -> None:
        for name in names:
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"{self.name}.{name} is {value!r}; it must be a positive "
                                  f"number{unit}")

    def _at_least(self, name: str, low: float) -> None:
        value = getattr(self, name)
        if value is not None and value < low:
            raise ConfigError(f"{self.name}.{name} is {value!r}; it must be >= {low:g}")

    def _one_of(self, name: str, allowed: Sequence[str]) -> None:
        value = getattr(self, name)
        if value is not None and value not in allowed:
            raise ConfigError(f"{self.name}.{name} {value!r} is unknown; use one of "
                              + ", ".join(allowed))

    def to_dict(self) -> dict[str, Any]:
        """Return the section as JSON-ready values (``None`` values left out)."""
        out: dict[str, Any] = {}
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            value = json_value(getattr(self, item.name))
            if value is not None:
                out[item.name] = value
        return out

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """Return the JSON Schema of the section's table (types, defaults, choices)."""
        hints = typing.get_type_hints(cls)
        properties: dict[str, Any] = {}
        for item in dataclasses.fields(cls):  # type: ignore[arg-type]
            prop = type_schema(hints[item.name])
            if item.default is not dataclasses.MISSING and item.default is not None:
                prop["default"] = json_value(item.default)
            if item.name in cls.choices:
                prop["enum"] = list(cls.choices[item.name])
            properties[item.name] = prop
        return {"type": "object", "properties": properties, "additionalProperties": False,
                "description": (cls.__doc__ or "").strip().splitlines()[0]}


def json_value(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [json_value(v) for v in value]
    return value


def type_schema(hint: Any) -> dict[str, Any]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        (inner,) = [a for a in args if a is not type(None)]
        return type_schema(inner)
    simple = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if hint in simple:
        return {"type": simple[hint]}
    if hint is Path:
        return {"type": "string", "description": "a file path"}
    if origin is tuple:
        return {"type": "array", "items": type_schema(args[0])}
    if origin in (Mapping, dict):
        inner = type_schema(args[1]) if args else {}
        if typing.get_origin(args[1]) is tuple:
            inner = {"anyOf": [inner, inner["items"]]}
        return {"type": "object", "additionalProperties": inner}
    return {}
