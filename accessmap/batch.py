"""Many runs on Dask: ``accessmap batch FILE`` (scenarios x study areas on a cluster).

A batch file (TOML) lists runs; each becomes one ``dask.distributed`` task that builds its
:class:`~accessmap.config.Scenario` from plain tables *in the worker* and calls
:func:`accessmap.pipeline.run`, writing its own run folder under the batch's output
folder.  Only paths and settings cross the network (never GDAL handles or graphs), so the
same code runs on a :class:`~distributed.LocalCluster` (the default) and on any cluster
whose scheduler address is given (``--scheduler tcp://HOST:PORT`` or
``DASK_SCHEDULER_ADDRESS``).

A failing run fails alone: its row in the batch summary says why, in one line.  A run whose
folder already holds a valid record (:class:`~accessmap.record.RunFolder` opens it) is
skipped, so re-submitting a batch resumes it.  The summary table is written as
``batch_summary.csv`` and ``batch_summary.json`` in the batch's output folder.

The batch file::

    out = "runs"                      # output folder (relative to this file)

    [defaults.analysis]               # tables merged into every run (optional)
    mode = "drive"

    [[runs]]
    name = "comoros-walk"             # its folder: runs/comoros-walk
    scenario = "comoros.toml"         # a scenario file (optional) ...
    [runs.analysis]                   # ... and/or scenario tables that override it
    mode = "walk"
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accessmap.config import PATH_KEYS, SECTIONS, scenario_from_dict
from accessmap.config.indicators import indicator_table
from accessmap.errors import AccessmapError, ConfigError
from accessmap.executors import local_cluster
from accessmap.progress import ProgressEvent
from accessmap.record import RunFolder
from accessmap.routing._threads import THREADS_ENV, usable_cpus

__all__ = ["BATCH_COLUMNS", "BatchRun", "load_batch", "run_batch", "run_one", "worker_env"]

logger = logging.getLogger(__name__)


#: Columns of ``batch_summary.csv`` (and keys of each ``batch_summary.json`` row).
BATCH_COLUMNS = ("name", "status", "error", "threshold_min", "coverage",
                 "coverage_with_new_sites", "population", "seconds", "out_dir")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TOPIC = "accessmap-batch"
_RUN_KEYS = frozenset({"name", "scenario", "title", "synthetic", *SECTIONS})


@dataclass(frozen=True)
class BatchRun:
    """One run of a batch: its name, its scenario tables (paths absolute), its folder."""

    name: str
    tables: dict[str, Any]
    out_dir: Path


def load_batch(path: str | Path, *, out: str | Path | None = None) -> tuple[Path, list[BatchRun]]:
    """Read a batch file into its output folder and runs (each scenario is checked).

    Parameters
    ----------
    path
        The batch TOML file (see the module docstring).
    out
        Output folder, overriding the file's ``out`` (default: ``<file stem>-runs``
        beside the file).

    Returns
    -------
    out_dir, runs

    Raises
    ------
    ConfigError
        The file is unreadable, has no runs, a run has no valid unique ``name`` or an
        unknown key, or its scenario file cannot be read.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"batch file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"batch file {path} cannot be read: {err}") from None
    base = path.parent.resolve()
    unknown = sorted(set(data) - {"out", "defaults", "runs"})
    if unknown:
        raise ConfigError(f"batch file {path}: unknown key(s) {', '.join(unknown)}; known: "
                          "out, defaults, runs")
    out_dir = Path(out) if out is not None else base / str(data.get("out", f"{path.stem}-runs"))
    out_dir = out_dir if out_dir.is_absolute() else (Path.cwd() / out_dir)
    items = data.get("runs")
    if not isinstance(items, list) or not items:
        raise ConfigError(f"batch file {path} lists no runs; add [[runs]] tables with a name "
                          "and a scenario file or tables")
    defaults = _absolute(dict(data.get("defaults", {})), base)
    runs: list[BatchRun] = []
    for i, item in enumerate(items, start=1):
        runs.append(_batch_run(item, i, defaults, base, out_dir, str(path)))
    names = [r.name for r in runs]
    doubles = sorted({n for n in names if names.count(n) > 1})
    if doubles:
        raise ConfigError(f"batch file {path}: run name(s) {', '.join(doubles)} used twice; "
                          "each run needs its own folder")
    return out_dir, runs


def _batch_run(item: Any, i: int, defaults: dict[str, Any], base: Path, out_dir: Path,
               source: str) -> BatchRun:
    if not isinstance(item, Mapping):
        raise ConfigError(f"batch file {source}: runs entry {i} must be a table")
    name = item.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"batch file {source}: runs entry {i} needs a name of letters, "
                          f"digits, '.', '_' or '-' (got {name!r}); it names its folder")
    unknown = sorted(set(item) - _RUN_KEYS)
    if unknown:
        raise ConfigError(f"batch file {source}: run {name}: unknown key(s) "
                          f"{', '.join(unknown)}; known: name, scenario, title, synthetic, "
                          + ", ".join(SECTIONS))
    tables: dict[str, Any] = {}
    if item.get("scenario") is not None:
        file = Path(str(item["scenario"])).expanduser()
        file = file if file.is_absolute() else base / file
        try:
            scenario_tables = tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise ConfigError(f"batch file {source}: run {name}: scenario file {file} "
                              f"cannot be read ({err})") from None
        tables = _absolute(scenario_tables, file.parent.resolve())
    own = _absolute({k: v for k, v in item.items() if k not in ("name", "scenario")}, base)
    for layer in (defaults, own):
        tables = _merged(tables, layer)
    run_dir = out_dir / name
    tables = _merged(tables, {"output": {"out": str(run_dir)}})
    return BatchRun(name, tables, run_dir)


def _absolute(tables: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """The tables with their path-valued keys made absolute against ``base`` (strings)."""
    out = dict(tables)
    for section, keys in PATH_KEYS.items():
        table = out.get(section)
        if not isinstance(table, Mapping):
            continue
        table = dict(table)
        for key in keys:
            value = table.get(key)
            if isinstance(value, str):
                value_path = Path(value).expanduser()
                table[key] = str(value_path if value_path.is_absolute() else base / value_path)
        out[section] = table
    if "indicators" in out:  # [[indicators]] population files
        out["indicators"] = indicator_table(out["indicators"], base_dir=base)
    return out


def _merged(low: Mapping[str, Any], high: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(low)
    for key, value in high.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def run_one(name: str, tables: dict[str, Any], *, overwrite: bool = False) -> dict[str, Any]:
    """One batch task: build the scenario from ``tables`` here and run it (in a worker).

    Returns the run's summary row; any error is caught and returned as a ``failed`` row
    with its one-line message, so one run never stops the others.
    """
    start = time.perf_counter()
    row: dict[str, Any] = dict.fromkeys(BATCH_COLUMNS)
    row.update(name=name, out_dir=str(tables.get("output", {}).get("out")))
    try:
        from accessmap.pipeline import run

        scenario = scenario_from_dict(tables, source=f"batch run {name}")
        folder = Path(scenario.output.out)
        result = run(scenario, overwrite=overwrite or _stale(folder),
                     progress=_worker_progress(name))
        row.update(status="done", **_headline(result.summary,
                                              scenario.siting_threshold_min))
    except Exception as err:  # a failing run fails alone, with its message
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if not isinstance(err, AccessmapError):
            message = f"{type(err).__name__}: {message}"
        row.update(status="failed", error=message)
    row["seconds"] = round(time.perf_counter() - start, 3)
    return row


def _stale(folder: Path) -> bool:
    """A folder left from an earlier attempt that is no valid run (replace it)."""
    if not folder.exists():
        return False
    try:
        RunFolder(folder)
    except AccessmapError:
        logger.warning("replacing %s: it holds no valid run record", folder)
        return True
    return False


def _headline(summary: Mapping[str, Any], threshold_min: float) -> dict[str, Any]:
    """Coverage within the siting threshold, now and with the new sites."""
    rows, after = list(summary.get("coverage", [])), list(
        summary.get("coverage_with_new_sites", []))
    if not rows:
        return {"population": summary.get("population_total")}
    pick = min(range(len(rows)), key=lambda i: abs(float(rows[i]["threshold_min"])
                                                   - threshold_min))
    return {"threshold_min": float(rows[pick]["threshold_min"]),
            "coverage": float(rows[pick]["share"]),
            "coverage_with_new_sites": float(after[pick]["share"]) if after else None,
            "population": summary.get("population_total")}


def _worker_progress(name: str) -> Callable[[ProgressEvent], None]:
    """A listener sending each new stage of run ``name`` to the client (a log event)."""
    seen: list[str] = []

    def listen(event: ProgressEvent) -> None:
        if seen and seen[-1] == event.stage:
            return
        seen.append(event.stage)
        try:
            from distributed import get_worker

            get_worker().log_event(_TOPIC, {"name": name, "stage": str(event.stage)})
        except (ImportError, ValueError):  # not in a worker (a sequential call)
            logger.info("run %s: %s", name, event.stage)

    return listen


def run_batch(
    runs: list[BatchRun],
    out_dir: str | Path,
    *,
    scheduler: str | None = None,
    n_workers: int | None = None,
    overwrite: bool = False,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run ``runs`` on Dask, one task each, and write the batch summary table.

    Parameters
    ----------
    runs, out_dir
        From :func:`load_batch`.
    scheduler
        Address of an existing scheduler (``tcp://HOST:PORT``); default
        ``DASK_SCHEDULER_ADDRESS``, else a new ``LocalCluster`` of processes with one
        thread each.
    n_workers
        Workers of the local cluster (default: the CPUs, at most the runs).
    overwrite
        Run again runs whose folder already holds a valid record (default: skip them).
    on_row
        Called with each run's row as it finishes (progress).

    Returns
    -------
    list of dict
        One row per run, in batch order (keys :data:`BATCH_COLUMNS`); also written to
        ``batch_summary.csv`` and ``batch_summary.json`` in ``out_dir``.

    Raises
    ------
    ImportError
        ``dask.distributed`` is not installed (the ``dask`` extra).
    """
    try:
        import distributed
    except ImportError:
        raise ImportError("accessmap batch needs dask.distributed: pip install "
                          "'accessmap[dask]'") from None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, Any]] = {}
    todo: list[BatchRun] = []
    for batch_run in runs:
        row = _finished_row(batch_run) if not overwrite else None
        if row is not None:
            rows[batch_run.name] = row
            logger.info("run %s: skipped, %s holds a finished run", batch_run.name,
                        batch_run.out_dir)
            if on_row is not None:
                on_row(row)
        else:
            todo.append(batch_run)
    if todo:
        address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
        with _client(distributed, address, n_workers or min(len(todo), os.cpu_count() or 1)) \
                as client:
            client.subscribe_topic(_TOPIC, _log_stage)
            futures = {client.submit(run_one, r.name, r.tables, overwrite=overwrite,
                                     key=f"accessmap-run-{r.name}-{time.time_ns()}",
                                     pure=False): r for r in todo}
            for r in todo:
                logger.info("run %s: submitted", r.name)
            for future in distributed.as_completed(futures):  # type: ignore[no-untyped-call]
                r = futures[future]
                try:
                    row = future.result()
                except Exception as err:  # e.g. a worker killed out of memory
                    row = dict.fromkeys(BATCH_COLUMNS)
                    row.update(name=r.name, status="failed", out_dir=str(r.out_dir),
                               error=f"{type(err).__name__}: {err}".splitlines()[0])
                rows[r.name] = row
                _log_row(row, len(rows), len(runs))
                if on_row is not None:
                    on_row(row)
    ordered = [rows[r.name] for r in runs]
    _write_summary(ordered, out_dir)
    return ordered


def _client(distributed: Any, address: str | None, n_workers: int) -> Any:
    if address:
        logger.info("batch on the Dask scheduler at %s", address)
        return distributed.Client(address)
    logger.info("batch on a local Dask cluster of %d worker process(es)", n_workers)
    cluster = local_cluster(distributed, max(1, n_workers), env=worker_env(n_workers))
    client = distributed.Client(cluster)
    return _Closing(client, cluster)


def worker_env(n_workers: int) -> dict[str, str]:
    """Environment of a local cluster's workers: each run's engine gets its share of the
    CPUs (``ACCESSMAP_THREADS``), so runs side by side do not take turns on the same ones."""
    return {THREADS_ENV: str(max(1, usable_cpus() // max(1, n_workers)))}


class _Closing:
    """Context manager closing a client and the local cluster it made."""

    def __init__(self, client: Any, cluster: Any) -> None:
        self.client, self.cluster = client, cluster

    def __enter__(self) -> Any:
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.cluster.close()


def _log_stage(event: Any) -> None:
    _, message = event
    logger.info("run %s: %s", message.get("name"), message.get("stage"))


def _log_row(row: Mapping[str, Any], done: int, total: int) -> None:
    if row["status"] == "failed":
        logger.warning("run %s failed (%d of %d): %s", row["name"], done, total, row["error"])
    else:
        logger.info("run %s done in %.1f s (%d of %d)", row["name"], row["seconds"] or 0.0,
                    done, total)


def _finished_row(batch_run: BatchRun) -> dict[str, Any] | None:
    """The row of a run whose folder already holds a valid record, else ``None``."""
    if not (batch_run.out_dir / "summary.json").is_file():
        return None
    try:
        folder = RunFolder(batch_run.out_dir)
        scenario = scenario_from_dict(batch_run.tables, source=f"batch run {batch_run.name}")
    except AccessmapError:
        return None
    row: dict[str, Any] = dict.fromkeys(BATCH_COLUMNS)
    row.update(name=batch_run.name, status="skipped", out_dir=str(batch_run.out_dir),
               seconds=0.0, **_headline(folder.summary, scenario.siting_threshold_min))
    return row


def _write_summary(rows: list[dict[str, Any]], out_dir: Path) -> None:
    """``batch_summary.csv`` and ``.json``, each written beside and moved into place."""
    import csv
    import io

    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(BATCH_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows([{k: ("" if row.get(k) is None else row.get(k)) for k in BATCH_COLUMNS}
                      for row in rows])
    for name, content in (("batch_summary.csv", text.getvalue()),
                          ("batch_summary.json", json.dumps(rows, indent=2) + "\n")):
        staged = out_dir / f".{name}.tmp"
        staged.write_text(content, encoding="utf-8")
        staged.replace(out_dir / name)
    logger.info("batch summary: %s", out_dir / "batch_summary.csv")
