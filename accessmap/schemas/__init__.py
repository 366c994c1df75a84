"""JSON Schemas of the run record, generated from its dataclasses, and a small validator.

The schema of ``summary.json`` ships as ``accessmap/schemas/summary.schema.json`` so that
other tools can check a run folder without accessmap; :func:`dataclass_schema` makes it
from the dataclasses of :mod:`accessmap.record` (their fields and type hints), and a test
keeps the shipped file equal to the generated one.  :func:`validate` checks data against
the subset of JSON Schema the generator writes (``type``, ``properties``, ``required``,
``additionalProperties``, ``items``, ``anyOf``, ``$ref`` to ``#/$defs``), so reading a run
folder needs no extra dependency.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from importlib import resources
from typing import Any, Union

__all__ = ["SchemaError", "dataclass_schema", "dumps", "shipped_schema", "validate"]

_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean",
                            type(None): "null"}


class SchemaError(ValueError):
    """Data does not follow a schema; the message names the key path."""


def dataclass_schema(cls: type, *, title: str, schema_id: str,
                     const: dict[str, Any] | None = None) -> dict[str, Any]:
    """JSON Schema of a dataclass: nested dataclasses become ``$defs``.

    A field is required unless it has a default; ``metadata={"optional": True}`` marks a
    key that may be absent (it is omitted when ``None``).  Mappings (``dict[str, X]``)
    are objects of ``X``; ``Any`` allows any value.

    Parameters
    ----------
    cls
        The top-level dataclass.
    title, schema_id
        The schema's ``title`` and ``$id``.
    const
        Field path (``"run.record_version"``) -> the only allowed value.
    """
    defs: dict[str, Any] = {}
    root = _object(cls, defs)
    for path, value in (const or {}).items():
        *parents, leaf = path.split(".")
        node = root
        for part in parents:
            ref = node["properties"][part]["$ref"].rsplit("/", 1)[1]
            node = defs[ref]
        node["properties"][leaf] = {**node["properties"][leaf], "const": value}
    return {"$schema": _DIALECT, "$id": schema_id, "title": title, **root,
            "$defs": dict(sorted(defs.items()))}


def _object(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties, required = {}, []
    for item in dataclasses.fields(cls):
        properties[item.name] = _type(hints[item.name], defs)
        doc = item.metadata.get("doc")
        if doc:
            properties[item.name] = {"description": doc, **properties[item.name]}
        no_default = (item.default is dataclasses.MISSING
                      and item.default_factory is dataclasses.MISSING)
        if no_default and not item.metadata.get("optional"):
            required.append(item.name)
    out: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    if cls.__doc__:
        out = {"description": cls.__doc__.strip().splitlines()[0], **out}
    return out


def _type(hint: Any, defs: dict[str, Any]) -> dict[str, Any]:
    if hint is Any:
        return {}
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if hint.__name__ not in defs:
            defs[hint.__name__] = {}  # placeholder against recursion
            defs[hint.__name__] = _object(hint, defs)
        return {"$ref": f"#/$defs/{hint.__name__}"}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        options = [_type(a, defs) for a in args]
        if all(set(o) == {"type"} for o in options):
            return {"type": [o["type"] for o in options]}
        return {"anyOf": options}
    if origin is list:
        return {"type": "array", "items": _type(args[0], defs)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _type(args[1], defs)}
    raise TypeError(f"no JSON Schema for type hint {hint!r}")


def dumps(schema: dict[str, Any]) -> str:
    """The schema as the shipped file holds it (indented, trailing newline)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def shipped_schema(name: str) -> dict[str, Any]:
    """Read a schema shipped with accessmap (``summary`` -> ``summary.schema.json``)."""
    text = (resources.files(__name__) / f"{name}.schema.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def validate(data: Any, schema: dict[str, Any]) -> None:
    """Check ``data`` against ``schema`` (the generator's subset of JSON Schema).

    Raises
    ------
    SchemaError
        The first problem found, naming the key path (``coverage[0].share``).
    """
    _check(data, schema, schema.get("$defs", {}), "")


def _is(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    python = {"string": str, "boolean": bool, "null": type(None), "array": list,
              "object": dict}[kind]
    return isinstance(value, python)


def _check(value: Any, schema: dict[str, Any], defs: dict[str, Any], where: str) -> None:
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[1]]
    name = where or "the top level"
    if "anyOf" in schema:
        for option in schema["anyOf"]:
            try:
                _check(value, option, defs, where)
            except SchemaError:
                continue
            return
        raise SchemaError(f"{name}: {json.dumps(value)[:60]} matches none of the allowed forms")
    kinds = schema.get("type")
    if kinds is not None:
        allowed = kinds if isinstance(kinds, list) else [kinds]
        if not any(_is(value, k) for k in allowed):
            raise SchemaError(f"{name}: expected {' or '.join(allowed)}, found "
                              f"{json.dumps(value)[:60]}")
    if "const" in schema and value != schema["const"]:
        raise SchemaError(f"{name}: expected {schema['const']!r}, found {value!r}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                raise SchemaError(f"{name}: missing key {key!r}")
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = properties.get(key, extra)
            if isinstance(sub, dict):
                _check(item, sub, defs, f"{where}.{key}" if where else key)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _check(item, schema["items"], defs, f"{where}[{index}]")
