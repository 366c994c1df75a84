"""Admission of an execute request: checks, the scenario it runs, its size and its hash.

A request is ``{"inputs": {"dataset": NAME, "scenario": {...}}}``, NAME a registered
dataset or one of the key's uploads (``up-...``; another key's upload: 404).  It is refused
(400) when the dataset is unknown, the scenario does not follow :func:`request_schema` (the
scenario file's JSON Schema without its file-path keys), names a file path or a URL
anywhere, or when its size estimate is over the server's budget.  Refusals raise
:class:`Refused`, which the app turns into an OGC exception.

The size estimate is deliberately cheap (file sizes, no file is opened): network nodes are
guessed from the network file's size (about 80 bytes a node in OSM XML, 8 in PBF, 150 in
GraphML), population cells from the raster's size (2 bytes a cell, compressed), and the
units are ``nodes x thresholds + cells / aggregate**2 + 1000 x new_sites``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accessmap.config import PATH_KEYS, Scenario, scenario_schema
from accessmap.errors import ConfigError
from accessmap.schemas import SchemaError, validate
from accessmap.service.settings import UPLOAD_PREFIX, Dataset, ServiceSettings

__all__ = ["Admission", "Refused", "admit", "estimate_units", "request_schema"]

_PATHLIKE = re.compile(r"(^\s*(/|\\|~|[A-Za-z]:[\\/]|file:))|(\.\.)|(://)|(/vsi)", re.I)
_BYTES_PER_NODE = {".osm": 80.0, ".xml": 80.0, ".pbf": 8.0, ".graphml": 150.0}
#: Sections a request may not set at all (the output folder, and the machine: memory
#: limit, executor, Dask scheduler, are the server's).
_SERVER_SECTIONS = ("output", "compute")


@dataclass
class Refused(Exception):
    """A request the service will not run: HTTP status, OGC title and a one-line detail."""

    status: int
    title: str
    detail: str
    kind: str = "invalid-parameter-value"
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.detail


@dataclass(frozen=True)
class Admission:
    """An accepted request: what to store and run."""

    dataset: str
    changes: dict[str, Any]
    scenario: Scenario
    request_hash: str
    estimate: float

    def stored_request(self) -> dict[str, Any]:
        """The job record's ``request``: the inputs as sent and the merged scenario."""
        tables = self.scenario.to_dict()
        tables.pop("output", None)
        return {"dataset": self.dataset, "scenario": self.changes, "scenario_tables": tables}


def request_schema() -> dict[str, Any]:
    """The JSON Schema of a request's ``scenario``: the scenario file's without paths."""
    schema = copy.deepcopy(scenario_schema())
    schema.pop("$schema", None)
    properties = schema["properties"]
    for section in _SERVER_SECTIONS:
        properties.pop(section, None)
    for section, keys in PATH_KEYS.items():
        for key in keys:
            properties.get(section, {}).get("properties", {}).pop(key, None)
    return schema


def admit(body: Any, settings: ServiceSettings, *,
          uploads: Callable[[str], Dataset | None] | None = None) -> Admission:
    """Check an execute request and build the scenario it runs.

    Parameters
    ----------
    body
        The request's JSON body.
    settings
        The registered datasets and the budget.
    uploads
        Looks up the requesting key's uploaded dataset by id (``None`` when it has none).

    Raises
    ------
    Refused
        With the first problem found.
    """
    if not isinstance(body, Mapping) or not isinstance(body.get("inputs"), Mapping):
        raise Refused(400, "invalid request", 'the body must be {"inputs": {"dataset": "demo", '
                      '"scenario": {...}}}')
    inputs = body["inputs"]
    unknown = sorted(set(inputs) - {"dataset", "scenario"})
    if unknown:
        raise Refused(400, "unknown input", f"unknown input {unknown[0]!r}; the process 'run' "
                      "takes 'dataset' and 'scenario'")
    name = inputs.get("dataset", "demo")
    dataset = settings.datasets.get(name) if isinstance(name, str) else None
    if dataset is None and isinstance(name, str) and name.startswith(UPLOAD_PREFIX):
        dataset = uploads(name) if uploads is not None else None
        if dataset is None:
            raise Refused(404, "no such dataset", f"there is no uploaded dataset "
                          f"{name[:64]!r} (uploads are seen only by the key that made them)",
                          kind="no-such-dataset")
    if dataset is None:
        raise Refused(400, "unknown dataset", f"dataset {str(name)[:64]!r} is not registered "
                      "on this server; registered: " + ", ".join(sorted(settings.datasets)))
    changes = inputs.get("scenario") or {}
    if not isinstance(changes, Mapping):
        raise Refused(400, "invalid scenario", "scenario must be an object with the scenario "
                      "file's tables, e.g. {\"analysis\": {\"mode\": \"drive\"}}")
    changes = dict(changes)
    _refuse_paths(changes)
    try:
        validate(changes, request_schema())
    except SchemaError as err:
        raise Refused(400, "invalid scenario", f"scenario: {err}") from None
    try:
        scenario = dataset.scenario.with_changes(changes)
    except ConfigError as err:
        raise Refused(400, "invalid scenario", f"scenario: {err}") from None
    units = estimate_units(dataset, scenario)
    if units > settings.budget_units:
        raise Refused(400, "job too large", f"this job's size estimate is {units:,.0f} units, "
                      f"over the server's budget of {settings.budget_units:,.0f}; use fewer "
                      "thresholds or a larger analysis.aggregate, or ask the operator")
    tables = scenario.to_dict()
    tables.pop("output", None)
    digest = hashlib.sha256(dataset.fingerprint().encode())
    digest.update(json.dumps(tables, sort_keys=True, default=str).encode())
    return Admission(name, changes, scenario, digest.hexdigest(), units)


def estimate_units(dataset: Dataset, scenario: Scenario) -> float:
    """Rough size of a job (see the module docstring); cheap: reads file sizes only."""
    network = scenario.inputs.network
    nodes = 0.0
    if network is not None:
        path = Path(network)
        per_node = _BYTES_PER_NODE.get(path.suffix.lower(), 80.0)
        nodes = _size(path) / per_node
    cells = _size(Path(scenario.inputs.population)) / 2.0 if scenario.inputs.population else 0.0
    aggregate = max(1, scenario.analysis.aggregate)
    return (nodes * len(scenario.analysis.thresholds_min) + cells / aggregate**2
            + 1000.0 * scenario.siting.new_sites)


def _size(path: Path) -> float:
    try:
        return float(path.stat().st_size)
    except OSError:
        return 0.0


def _refuse_paths(changes: Mapping[str, Any]) -> None:
    for section in _SERVER_SECTIONS:
        if section in changes:
            raise Refused(400, "not allowed", f"scenario.{section} is chosen by the server; "
                          "leave it out")
    for section, keys in PATH_KEYS.items():
        table = changes.get(section)
        if isinstance(table, Mapping):
            for key in keys:
                if key in table:
                    raise Refused(400, "file paths not accepted",
                                  f"scenario.{section}.{key} is a file path; the service takes "
                                  "no paths: data comes from the registered datasets")
    for where, value in _strings(changes, ""):
        if where != "title" and _PATHLIKE.search(value):
            raise Refused(400, "file paths not accepted", f"scenario.{where} looks like a path "
                          f"or a URL ({value[:80]!r}); the service takes no paths or URLs")


def _strings(value: Any, where: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(value, str):
        found.append((where, value))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            found.append((path, str(key)))
            found.extend(_strings(item, path))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found.extend(_strings(item, f"{where}[{i}]"))
    return found
