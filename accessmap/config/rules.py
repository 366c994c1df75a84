"""The facility-selection rule: which facilities a setting is about.

A :class:`FacilityRule` is written in a scenario file as a small table, e.g.
``{ids = [12, "HF-003"]}``, ``{names = ["Hopital de Foumbouni"]}``,
``{column = "services", contains = ["emergency_obstetric"]}`` or
``{column = "type", equals = ["hospital"]}``.  Every test given must hold (AND); within
one test, any listed value will do (OR).  The rule is pure settings (no numpy); the
facilities a rule picks are found by :func:`accessmap.inputs.selection.select_facilities`.

Matching (documented once, here):

- ``ids``: the stable ``facility_id`` (the file's id column, else its 1-based data row;
  planned facilities ``P1``, ``P2``...), compared as text (``12`` and ``"12"`` match).
- ``names``: the facility ``name``, case-insensitive, surrounding spaces ignored.
- ``column`` + ``equals``: the column's value, case-insensitive and trimmed for text, as a
  number on a number column (``14`` matches ``14.0``).
- ``column`` + ``contains``: a text column holding a list (``"anc; emergency_obstetric"``)
  is split on ``;`` or ``,``; a value matches when one item equals it, case-insensitive
  and trimmed.
- ``ids_or_names``: a bare value (``close = ["HF-003", "Hopital X"]``, the CLI's
  ``--close-facility``) matches the facility with that id, or else the facilities with
  that name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from accessmap.errors import ConfigError

__all__ = ["FacilityRule", "id_text"]

_LIST_KEYS = ("ids", "names", "ids_or_names", "equals", "contains")
_KEYS = ("ids", "names", "ids_or_names", "column", "equals", "contains")


def id_text(value: object) -> str:
    """A facility id as text: whole numbers without a decimal part (``12.0`` -> ``"12"``).

    Examples
    --------
    >>> id_text(12), id_text(12.0), id_text(" HF-3 ")
    ('12', '12', 'HF-3')
    """
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass(frozen=True)
class FacilityRule:
    """Which facilities a setting is about; every test given must hold (AND).

    Parameters
    ----------
    ids
        Stable facility ids (text; numbers are turned into text).
    names
        Facility names (case-insensitive).
    ids_or_names
        Values that are either an id or a name (bare values of a list of rules).
    column
        Facility column that ``equals`` / ``contains`` test.
    equals
        The column's value is one of these.
    contains
        The column's list of items (split on ``;`` or ``,``) holds one of these.

    Raises
    ------
    ConfigError
        The rule is empty, a value has the wrong type, ``column`` is given without
        ``equals``/``contains`` or the other way round.

    Examples
    --------
    >>> rule = FacilityRule.from_table({"column": "type", "equals": "hospital"},
    ...                                key="facilities.require")
    >>> rule.to_dict()
    {'column': 'type', 'equals': ['hospital']}
    """

    ids: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    ids_or_names: tuple[str, ...] = ()
    column: str | None = None
    equals: tuple[str, ...] = ()
    contains: tuple[str, ...] = ()
    key: str = dataclasses.field(default="rule", compare=False)

    def __post_init__(self) -> None:
        for name in _LIST_KEYS:
            object.__setattr__(self, name, _text_list(f"{self.key}.{name}",
                                                      getattr(self, name)))
        if self.column is not None and (not isinstance(self.column, str)
                                        or not self.column.strip()):
            raise ConfigError(f"{self.key}.column is {self.column!r}; give a column name "
                              "of the facilities file")
        if self.column is not None and not (self.equals or self.contains):
            raise ConfigError(f"{self.key}: column = {self.column!r} needs equals = [...] "
                              "or contains = [...]")
        if self.column is None and (self.equals or self.contains):
            which = "equals" if self.equals else "contains"
            raise ConfigError(f"{self.key}.{which} needs column = \"...\" (the facility "
                              "column to test)")
        if not (self.ids or self.names or self.ids_or_names or self.column):
            raise ConfigError(f"{self.key} is an empty rule; give ids = [...], names = "
                              "[...] or column = \"...\" with equals/contains")

    @classmethod
    def from_table(cls, table: Mapping[str, Any], *, key: str) -> FacilityRule:
        """Build a rule from its scenario-file table; ``key`` names it in messages.

        Raises
        ------
        ConfigError
            ``table`` is not a table, has an unknown key or a bad value.
        """
        if not isinstance(table, Mapping):
            raise ConfigError(f"{key} is {table!r}; give a table such as "
                              "{ids = [...]} or {column = \"type\", equals = [\"hospital\"]}")
        unknown = [str(k) for k in table if k not in _KEYS]
        if unknown:
            raise ConfigError(f"unknown key {key}.{unknown[0]}; known: " + ", ".join(_KEYS))
        return cls(**{str(k): v for k, v in table.items()}, key=key)

    @classmethod
    def from_value(cls, value: Any, *, key: str) -> FacilityRule:
        """Build a rule from a table, or from a bare id or name (``"HF-3"``, ``12``)."""
        if isinstance(value, FacilityRule):
            return value
        if isinstance(value, str | int) and not isinstance(value, bool):
            return cls(ids_or_names=(id_text(value),), key=key)
        return cls.from_table(value, key=key)

    def to_dict(self) -> dict[str, Any]:
        """Return the rule as its scenario-file table (empty tests left out)."""
        out: dict[str, Any] = {}
        for name in _KEYS:
            value = getattr(self, name)
            if value:
                out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """Return the JSON Schema of a rule's table."""
        text_list = {"anyOf": [{"type": ["string", "number"]},
                               {"type": "array", "items": {"type": ["string", "number"]}}]}
        return {"type": "object", "additionalProperties": False, "minProperties": 1,
                "description": "facilities whose id, name or column value match (AND)",
                "properties": {**{name: text_list for name in _LIST_KEYS},
                               "column": {"type": "string"}}}

    def describe(self) -> str:
        """The rule in words, for messages and reports (``type = hospital``)."""
        parts = [f"{name} {', '.join(getattr(self, name))}"
                 for name in ("ids", "names", "ids_or_names") if getattr(self, name)]
        if self.equals:
            parts.append(f"{self.column} = {' or '.join(self.equals)}")
        if self.contains:
            parts.append(f"{self.column} contains {' or '.join(self.contains)}")
        return " and ".join(parts)


def _text_list(where: str, value: Any) -> tuple[str, ...]:
    """One value or a list of them, as trimmed texts (numbers allowed, as ids are)."""
    items = [value] if isinstance(value, str | int | float) else value
    if isinstance(items, bool) or not isinstance(items, list | tuple):
        raise ConfigError(f"{where} is {value!r}; give a list, e.g. [\"a\", \"b\"]")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise ConfigError(f"{where}[{i}] is {item!r}; give a text or a number")
        text = id_text(item)
        if not text:
            raise ConfigError(f"{where}[{i}] is empty; give a value")
        out.append(text)
    return tuple(out)
