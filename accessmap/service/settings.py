"""Service settings: the data folder, the registered datasets, API keys and limits.

Everything the operator chooses when starting ``accessmap serve`` lives in one frozen
:class:`ServiceSettings`; the app, the job store and the worker pool read it and nothing
else.  A dataset is a base :class:`~accessmap.config.Scenario` (the demo district, or a
scenario file given with ``--dataset NAME=path/to/scenario.toml``) that requests adjust
with their ``scenario`` object.
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from accessmap.config import PATH_KEYS, Scenario, load_scenario
from accessmap.errors import ConfigError

__all__ = ["UPLOAD_PREFIX", "Dataset", "ServiceSettings", "load_api_keys",
           "load_datasets_file", "parse_dataset_option"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
#: Ids of uploaded datasets start with this; registered names may not.
UPLOAD_PREFIX = "up-"


@dataclass(frozen=True)
class Dataset:
    """A dataset registered on the server: a name and the base scenario of its runs."""

    name: str
    scenario: Scenario

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(f"dataset name {self.name!r}: use letters, digits, '-' and '_' "
                              "(at most 64 characters), e.g. --dataset comoros=scenario.toml")

    def input_files(self) -> list[Path]:
        """The files this dataset's runs read (for hashes and size estimates)."""
        files: list[Path] = []
        for section, keys in PATH_KEYS.items():
            if section == "output":
                continue
            for key in keys:
                value = getattr(getattr(self.scenario, section), key)
                if value is not None:
                    files.append(Path(value))
        return files

    def fingerprint(self) -> str:
        """A hash of the dataset's files (name, size, modification time) and settings."""
        digest = hashlib.sha256(self.name.encode())
        for path in self.input_files():
            try:
                stat = path.stat()
                digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode())
            except OSError:
                digest.update(f"{path}|missing".encode())
        return digest.hexdigest()


@dataclass(frozen=True)
class ServiceSettings:
    """How the service runs; every limit has a default fit for a 2-core machine.

    Parameters
    ----------
    data_dir
        Holds the job store (``jobs.sqlite``) and one folder per job (``jobs/<id>``).
    workers
        Worker processes that run jobs (one job each at a time).
    datasets
        Name -> dataset; ``demo`` is added when missing.
    api_keys
        Accepted API keys; empty: no keys needed.
    max_body_bytes
        Larger request bodies get 413.
    max_queued_per_key
        Accepted or running jobs one key may have; more get 429.
    budget_units
        Size estimate (network nodes x thresholds + population cells + candidates) above
        which a job is refused with 400.
    sync_max_units
        Jobs estimated at most this size run synchronously without ``Prefer: respond-async``.
    sync_timeout_s
        A synchronous request that takes longer returns the job's status (201) instead.
    cancel_grace_s
        Seconds a cancelled job may take to stop before its worker is killed.
    retention_days
        Finished jobs' results older than this are deleted (``0``: kept for ever).
    retry_after_s
        The ``Retry-After`` of a 429.
    max_upload_bytes
        Larger uploads (``POST /datasets``, the whole request and each file) get 413.
    max_upload_cells
        Uploaded population rasters with more cells (the decompressed size) get 413.
    max_uploads_per_key
        Uploaded datasets one key may keep; more get 429.
    cache
        Serve an identical earlier request's results instead of running again.
    """

    data_dir: Path = Path("accessmap-service")
    workers: int = 1
    datasets: Mapping[str, Dataset] = field(default_factory=dict)
    api_keys: frozenset[str] = frozenset()
    max_body_bytes: int = 64 * 1024
    max_queued_per_key: int = 4
    budget_units: float = 5e8
    sync_max_units: float = 2e7
    sync_timeout_s: float = 120.0
    cancel_grace_s: float = 5.0
    retention_days: float = 30.0
    retry_after_s: int = 30
    max_upload_bytes: int = 50 * 1024 * 1024
    max_upload_cells: int = 10_000_000
    max_uploads_per_key: int = 20
    cache: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if not isinstance(self.workers, int) or self.workers < 1:
            raise ConfigError(f"--workers {self.workers!r}: give a whole number of at least 1")
        datasets = dict(self.datasets)
        if "demo" not in datasets:
            from accessmap.demo import demo_scenario

            datasets["demo"] = Dataset("demo", demo_scenario())
        object.__setattr__(self, "datasets", datasets)
        reserved = [n for n in datasets if n.startswith(UPLOAD_PREFIX)]
        if reserved:
            raise ConfigError(f"dataset name {reserved[0]!r}: names starting with "
                              f"{UPLOAD_PREFIX!r} are reserved for uploaded datasets")
        for name in ("max_body_bytes", "max_queued_per_key", "budget_units", "sync_max_units",
                     "sync_timeout_s", "cancel_grace_s", "retry_after_s", "max_upload_bytes",
                     "max_upload_cells", "max_uploads_per_key"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value) or not value > 0:
                raise ConfigError(f"service setting {name} {value!r} must be a positive "
                                  "finite number")
        if self.retention_days < 0 or not math.isfinite(self.retention_days):
            raise ConfigError(f"service setting retention_days {self.retention_days!r} must "
                              "be a finite number >= 0 (0: keep results for ever)")

    def owner(self, key: str | None) -> str:
        """The job owner of an API key: a hash of the key (never the key itself)."""
        if not key:
            return ""
        return hashlib.sha256(key.encode()).hexdigest()[:16]


def load_api_keys(path: str | Path) -> frozenset[str]:
    """Read an API key file: one key per line, blank lines and ``#`` comments ignored.

    Raises
    ------
    ConfigError
        The file is missing, holds no key, or a key is shorter than 16 characters.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"--api-key-file {path}: cannot read it ({err})") from None
    keys = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not keys:
        raise ConfigError(f"--api-key-file {path} holds no key; write one key per line")
    short = [i for i, k in enumerate(keys, 1) if len(k) < 16 or any(c.isspace() for c in k)]
    if short:
        raise ConfigError(f"--api-key-file {path}: key {short[0]} is shorter than 16 "
                          "characters or holds spaces; generate keys with "
                          "`python -c 'import secrets; print(secrets.token_urlsafe(24))'`")
    return frozenset(keys)


def parse_dataset_option(text: str) -> Dataset:
    """Parse ``NAME=path/to/scenario.toml`` (``--dataset``) into a :class:`Dataset`.

    Raises
    ------
    ConfigError
        No ``=``, a bad name, or an unreadable scenario file.
    """
    name, sep, path = text.partition("=")
    if not sep or not path.strip():
        raise ConfigError(f"--dataset {text!r}: write NAME=path/to/scenario.toml")
    return Dataset(name.strip(), load_scenario(path.strip()))


def load_datasets_file(path: str | Path) -> dict[str, Dataset]:
    """Read a datasets file: TOML lines ``NAME = "path/to/scenario.toml"``.

    Scenario paths are relative to the datasets file's folder.

    Raises
    ------
    ConfigError
        The file is missing or not TOML, a value is not a string, a name is invalid, or a
        scenario file cannot be read.
    """
    path = Path(path)
    try:
        tables = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"--datasets-file {path}: cannot read it ({err})") from None
    datasets: dict[str, Dataset] = {}
    for name, value in tables.items():
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"--datasets-file {path}: {name} must be a scenario file path "
                              f'in quotes, e.g. {name} = "scenarios/{name}.toml"')
        scenario_path = Path(value)
        if not scenario_path.is_absolute():
            scenario_path = path.parent / scenario_path
        try:
            datasets[name] = Dataset(name, load_scenario(scenario_path))
        except ConfigError as err:
            raise ConfigError(f"--datasets-file {path}: {name}: {err}") from None
    if not datasets:
        raise ConfigError(f"--datasets-file {path} names no dataset; write lines "
                          'NAME = "path/to/scenario.toml"')
    return datasets
