"""The ``accessmap`` command line: a thin layer that parses options and calls the pipeline.

Library errors become one clear line and exit code 1; progress goes to stderr.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from accessmap._version import __version__
from accessmap.errors import AccessmapError, AccessmapWarning, ConfigError
from accessmap.routing.modes import MODES

__all__ = ["apply_settings", "main", "parse_exclusions", "parse_thresholds"]

DEFAULT_DEMO_OUT = Path("maps/demo")
#: Travel modes the options accept (the registry of :mod:`accessmap.routing.modes`).
_MODE_NAMES = list(MODES)


def _configure_logging(verbose: int, quiet: int) -> None:
    level = logging.WARNING - 10 * verbose + 10 * quiet
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("accessmap")
    root.handlers[:] = [handler]
    root.setLevel(max(logging.DEBUG, min(level, logging.CRITICAL)))


def _library_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn accessmap errors into a one-line ClickException (exit code 1).

    Data-quality warnings are already logged by the library (shown unless ``-q``), so
    their Python warning copies, meant for notebooks, are not printed a second time.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", AccessmapWarning)
                return func(*args, **kwargs)
        except AccessmapError as err:
            raise click.ClickException(str(err)) from None

    return wrapper


def _say(message: str) -> None:
    """A note on stderr (results go to stdout with :func:`_result`)."""
    click.echo(f"accessmap: {message}", err=True)


def _result(message: str) -> None:
    """A result line on stdout (where files are, headline numbers)."""
    click.echo(message)


def _verbosity(ctx: click.Context, param: click.Parameter, value: int) -> int:
    """Add a subcommand's ``-v``/``-q`` to the group's and reconfigure logging."""
    counts = ctx.find_root().meta.setdefault("accessmap.verbosity", {"verbose": 0,
                                                                    "quiet": 0})
    counts[str(param.name)] += value
    _configure_logging(counts["verbose"], counts["quiet"])
    return value


def verbosity_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``-v``/``-q``, accepted before the subcommand and after it alike."""
    func = click.option("-q", "--quiet", count=True, expose_value=False, callback=_verbosity,
                        help="Less log output.")(func)
    return click.option("-v", "--verbose", count=True, expose_value=False,
                        callback=_verbosity, help="More log output (repeatable).")(func)


out_option = click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Output folder.",
)
overwrite_option = click.option(
    "--overwrite", is_flag=True, default=False, help="Replace an existing output folder."
)


def cdn_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--cdn`` (link the map's JavaScript/CSS) and the old ``--offline`` (now the default)."""
    func = click.option(
        "--offline", is_flag=True, default=False, hidden=True,
        help="Accepted for compatibility: map.html is self-contained by default.")(func)
    return click.option(
        "--cdn", is_flag=True, default=False,
        help="Link the map's JavaScript/CSS from a CDN instead of inlining them (a smaller "
             "map.html that needs internet to draw).  [default: inlined, works offline]",
    )(func)


set_option = click.option(
    "--set", "settings", multiple=True, metavar="SECTION.KEY=VALUE",
    help="Change any scenario setting, validated like the file (value in TOML: "
         "--set siting.new_sites=3, --set 'analysis.thresholds_min=[30,60]'); repeatable, "
         "applied after the other options.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="accessmap")
@verbosity_options
def main() -> None:
    """Who lives too far from health care, and where new sites would help most."""


@main.command()
@click.argument("scenario_file", required=False,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--network", type=click.Path(path_type=Path), default=None,
              help="Road network: OSM extract (.osm.pbf, .osm, .osm.bz2) or .graphml.")
@click.option("--population", type=click.Path(path_type=Path), default=None,
              help="Population raster (GeoTIFF, e.g. WorldPop).")
@click.option("--facilities", type=click.Path(path_type=Path), default=None,
              help="Health facilities (GeoJSON, GeoPackage, CSV with lon/lat).")
@click.option("--facilities-layer", default=None, metavar="LAYER",
              help="Layer of a facilities GeoPackage that holds several.")
@click.option("--mode", type=click.Choice(_MODE_NAMES), default=None,
              help="Travel mode.  [default: walk]")
@click.option("--thresholds", default=None, metavar="MIN,MIN,...",
              help="Travel-time thresholds in minutes.  [default: 30,60,120]")
@click.option("--new-sites", type=click.IntRange(min=0), default=None,
              help="Number of new sites to recommend.  [default: 5]")
@click.option("--site-threshold", type=float, default=None, metavar="MIN",
              help="Travel time (minutes) new sites bring people within, also the "
                   "underserved-zone threshold.  [default: the middle threshold]")
@click.option("--satellite-min-population", type=float, default=None, metavar="PEOPLE",
              help="People a new site must bring within reach to be a fixed satellite "
                   "clinic; smaller gains become mobile-unit stops.  [default: 5000]")
@click.option("--exclude", multiple=True, metavar="COLUMN=VALUE[,VALUE]",
              help="Leave out facilities whose COLUMN has one of these values "
                   "(e.g. amenity=pharmacy); repeatable.")
@click.option("--boundaries", type=click.Path(path_type=Path), default=None,
              help="Admin areas for the by-area tables: a polygon file, or the OSM extract "
                   "itself with --admin-level.")
@click.option("--admin-level", type=click.IntRange(1, 12), default=None,
              help="OSM admin_level of the areas when --boundaries is an OSM extract "
                   "(e.g. 4).")
@click.option("--title", default=None, help="Title of the map and report.")
@click.option("--speed-profile", default=None, metavar="NAME",
              help="Named speed profile ([speeds.NAME] of the scenario file, or the "
                   "built-in rainy).  [default: the [speeds] as they are]")
@set_option
@out_option
@overwrite_option
@cdn_options
@verbosity_options
@_library_errors
def run(scenario_file: Path | None, network: Path | None, population: Path | None,
        facilities: Path | None, facilities_layer: str | None, mode: str | None,
        thresholds: str | None,
        new_sites: int | None, site_threshold: float | None,
        satellite_min_population: float | None, exclude: tuple[str, ...],
        boundaries: Path | None, admin_level: int | None, title: str | None,
        speed_profile: str | None, settings: tuple[str, ...], out: Path | None,
        overwrite: bool, cdn: bool, offline: bool) -> None:
    """Run the access analysis: travel times, coverage, new sites, map and tables.

    Settings come from SCENARIO_FILE (TOML) when given; options override it, and
    --set items override both.
    """
    from accessmap.config import Scenario, load_scenario

    base = load_scenario(scenario_file) if scenario_file else Scenario()
    scenario = base.replace(
        network=network, population=population, facilities=facilities,
        facilities_layer=facilities_layer, mode=mode,
        thresholds_min=parse_thresholds(thresholds) if thresholds else None,
        new_sites=new_sites, threshold_min=site_threshold,
        satellite_min_population=satellite_min_population,
        exclude=parse_exclusions(exclude) if exclude else None,
        boundaries=boundaries, admin_level=admin_level, title=title, out=out,
        speed_profile=speed_profile,
    )
    scenario = apply_settings(scenario, settings)
    _run_and_report(_retitled(scenario, base, explicit=title is not None or any(
        s.strip().startswith("title") for s in settings)), overwrite=overwrite, cdn=cdn)


@main.command()
@out_option
@overwrite_option
@click.option("--mode", type=click.Choice(_MODE_NAMES), default="walk",
              show_default=True, help="Travel mode.")
@set_option
@cdn_options
@verbosity_options
@_library_errors
def demo(out: Path | None, overwrite: bool, mode: str, settings: tuple[str, ...], cdn: bool,
         offline: bool) -> None:
    """Run the analysis on the embedded SYNTHETIC demo district (output maps/demo/)."""
    from accessmap.demo import demo_scenario

    base = demo_scenario()
    scenario = apply_settings(base.replace(out=out or DEFAULT_DEMO_OUT, mode=mode), settings)
    explicit = any(s.strip().startswith("title") for s in settings)
    _run_and_report(_retitled(scenario, base, explicit=explicit), overwrite=overwrite,
                    cdn=cdn)


#: Words naming a travel mode in titles, swapped when the mode is changed.
_MODE_WORDS = {"walk": ("walking", "walk", "on foot"), "drive": ("driving", "drive", "by car")}


def _retitled(scenario: Any, base: Any, *, explicit: bool) -> Any:
    """The scenario with its title following a changed travel mode.

    A title naming the base mode (``walking``) names the new one (``driving``); a title
    naming none gets it appended.  An explicitly given title is kept as it is.
    """
    old, new = base.analysis.mode, scenario.analysis.mode
    if explicit or old == new or new not in _MODE_WORDS:
        return scenario
    title = str(scenario.title)
    for before, after in zip(_MODE_WORDS.get(old, ()), _MODE_WORDS[new], strict=False):
        pattern = re.compile(rf"\b{re.escape(before)}\b", re.IGNORECASE)
        if pattern.search(title):
            return scenario.replace(title=pattern.sub(_same_case(after), title))
    return scenario.replace(title=f"{title}, {_MODE_WORDS[new][0]}")


def _same_case(word: str) -> Callable[[re.Match[str]], str]:
    def swap(match: re.Match[str]) -> str:
        return word.capitalize() if match.group()[0].isupper() else word

    return swap


def apply_settings(scenario: Any, items: Sequence[str]) -> Any:
    """Apply ``section.key=value`` items (values in TOML, else plain text) to a scenario.

    Examples
    --------
    >>> from accessmap.config import Scenario
    >>> s = apply_settings(Scenario(), ["siting.new_sites=3", "analysis.mode=drive"])
    >>> s.siting.new_sites, s.analysis.mode
    (3, 'drive')

    Raises
    ------
    ConfigError
        An item that is not ``SECTION.KEY=VALUE``, or a setting the scenario refuses.
    """
    changes: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        section, dot, key = name.strip().partition(".")
        if not sep or not section or (dot and not key):
            raise ConfigError(f"--set {item!r}: write SECTION.KEY=VALUE, e.g. "
                              "--set siting.new_sites=3 (or title=TEXT)")
        value = _toml_value(text.strip())
        if dot:
            changes.setdefault(section, {})[key.strip()] = value
        else:
            changes[section] = value
    return scenario.with_changes(changes) if changes else scenario


def _toml_value(text: str) -> Any:
    """``3`` -> 3, ``[30, 60]`` -> [30, 60], ``"a b"`` -> 'a b', ``walk`` -> 'walk'."""
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _run_and_report(scenario: Any, *, overwrite: bool, cdn: bool = False) -> None:
    from accessmap.pipeline import run as run_pipeline

    progress = _ProgressBar()
    try:
        result = run_pipeline(scenario, overwrite=overwrite, progress=progress,
                              offline=not cdn)
    finally:
        progress.close()
    summary = result.summary
    out = Path(result.out_dir or scenario.output.out)
    n_sites = len(summary["recommended_sites"])
    _result(f"population {summary['population_total']:,.0f}; no route to care "
            f"{summary['unreachable_population']:,.0f}")
    for now, after in zip(summary["coverage"], summary["coverage_with_new_sites"], strict=True):
        _result(f"within {now['threshold_min']:g} min: {now['share']:.1%} now, "
                f"{after['share']:.1%} with {n_sites} new sites")
    _result(f"outputs: {out}")
    for label, name in (("report (PDF)", "report.pdf"), ("report", "report.html"),
                        ("map", "map.html")):
        if (out / name).is_file():
            _result(f"{label}: {out / name}")


class _ProgressBar:
    """The run's progress on stderr: a tqdm bar on a terminal, quiet otherwise.

    It receives the pipeline's ``ProgressEvent(stage, fraction, message)``; off a
    terminal each stage is logged at INFO level (shown with ``-v``).
    """

    def __init__(self) -> None:
        self._bar: Any = None
        self._stage = ""
        if sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=1000, file=sys.stderr, unit="", leave=False,
                             bar_format="accessmap: {desc:<14}{bar}| {percentage:3.0f}% "
                                        "{elapsed}")

    def __call__(self, event: Any) -> None:
        if event.stage != self._stage and event.stage != "done":
            self._stage = event.stage
            logging.getLogger(__name__).info("%s ...", event.stage)
        if self._bar is not None:
            self._bar.set_description_str(str(event.stage), refresh=False)
            self._bar.update(max(0, int(event.fraction * 1000) - self._bar.n))

    def close(self) -> None:
        """Remove the bar from the terminal."""
        if self._bar is not None:
            self._bar.close()


run_dir_argument = click.argument(
    "run_dir", type=click.Path(file_okay=False, path_type=Path))


@main.command(name="map")
@run_dir_argument
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Output HTML file.  [default: RUN_DIR/map.html]")
@click.option("--overwrite", is_flag=True, default=False, help="Replace an existing file.")
@cdn_options
@verbosity_options
@_library_errors
def map_command(run_dir: Path, out_file: Path | None, overwrite: bool, cdn: bool,
                offline: bool) -> None:
    """Rebuild map.html from a finished run folder (no recomputation)."""
    from accessmap.outputs.maps import write_map

    _result(f"map: {write_map(run_dir, out_file, offline=not cdn, overwrite=overwrite)}")


@main.command(name="report")
@run_dir_argument
@click.option("--overwrite", is_flag=True, default=False, help="Replace existing files.")
@click.option("--xlsx", is_flag=True, default=False,
              help="Also write report.xlsx (needs the 'xlsx' extra: openpyxl).")
@verbosity_options
@_library_errors
def report_command(run_dir: Path, overwrite: bool, xlsx: bool) -> None:
    """Rebuild report.html, report.md, report.pdf and the figures from a finished run."""
    from accessmap.outputs.report import write_report

    for path in write_report(run_dir, overwrite=overwrite, xlsx=xlsx):
        _result(f"wrote {path}")


def parse_exclusions(items: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Parse ``COLUMN=VALUE[,VALUE]`` command-line items into an exclusion mapping.

    Examples
    --------
    >>> parse_exclusions(["amenity=pharmacy,dentist"])
    {'amenity': ('pharmacy', 'dentist')}
    """
    out: dict[str, tuple[str, ...]] = {}
    for item in items:
        column, sep, values = item.partition("=")
        if not sep or not column.strip() or not values.strip():
            raise ConfigError(
                f"--exclude {item!r}: write COLUMN=VALUE, e.g. --exclude amenity=pharmacy"
            )
        out[column.strip()] = out.get(column.strip(), ()) + tuple(
            v.strip() for v in values.split(",") if v.strip()
        )
    return out


def parse_thresholds(text: str) -> tuple[float, ...]:
    """Parse ``"30,60,120"`` into minutes.

    Raises
    ------
    ConfigError
        A value is not a positive number.
    """
    out = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise ConfigError(
                f"--thresholds: {part.strip()!r} is not a number of minutes; use e.g. 30,60,120"
            ) from None
        if not (value > 0 and math.isfinite(value)):
            raise ConfigError(f"--thresholds: {part.strip()} must be a positive number of minutes")
        out.append(value)
    return tuple(out)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 exposes the service to the network).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("accessmap-service"), show_default=True,
              help="Job store, job results and uploaded datasets.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes running jobs (one job each at a time).")
@click.option("--dataset", "datasets", multiple=True, metavar="NAME=SCENARIO.toml",
              help="Register a dataset (repeatable); 'demo' is always registered.")
@click.option("--datasets-file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help='TOML file of lines NAME = "scenario.toml" (paths relative '
                                 "to the file); combines with --dataset.")
@click.option("--api-key-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File with one API key per line; then every route but / needs a key.")
@click.option("--retention-days", default=30.0, show_default=True, type=click.FloatRange(0),
              help="Delete finished jobs' results after this many days (0: never).")
@click.option("--max-queued", default=4, show_default=True, type=click.IntRange(1),
              help="Queued or running jobs allowed per API key.")
@click.option("--budget", "budget_units", default=5e8, show_default=True,
              type=click.FloatRange(0, min_open=True),
              help="Size estimate (units) over which a job is refused with 400.")
@click.option("--sync-max-units", default=2e7, show_default=True,
              type=click.FloatRange(0, min_open=True),
              help="Jobs estimated at most this size run synchronously unless the client "
                   "sends Prefer: respond-async.")
@click.option("--sync-timeout", "sync_timeout_s", default=120.0, show_default=True,
              type=click.FloatRange(0, 3600, min_open=True),
              help="Seconds a synchronous request waits before returning the job's status.")
@click.option("--cancel-grace", "cancel_grace_s", default=5.0, show_default=True,
              type=click.FloatRange(0, 3600, min_open=True),
              help="Seconds a cancelled job may take to stop before its worker is killed.")
@click.option("--max-upload-mb", default=50.0, show_default=True,
              type=click.FloatRange(0, 10_000, min_open=True),
              help="Largest upload (POST /datasets) in MiB; larger ones get 413.")
@click.option("--max-upload-cells", default=10_000_000, show_default=True,
              type=click.IntRange(1), help="Most cells of an uploaded population raster.")
@click.option("--max-uploads", default=20, show_default=True, type=click.IntRange(1),
              help="Uploaded datasets one API key may keep.")
@click.option("--cache/--no-cache", default=True, show_default=True,
              help="Answer an identical earlier request with its results.")
def serve(host: str, port: int, data_dir: Path, workers: int, datasets: tuple[str, ...],
          datasets_file: Path | None, api_key_file: Path | None, retention_days: float,
          max_queued: int, budget_units: float, sync_max_units: float, sync_timeout_s: float,
          cancel_grace_s: float, max_upload_mb: float, max_upload_cells: int,
          max_uploads: int, cache: bool) -> None:
    """Serve accessmap as an OGC API - Processes service with a planner's web page."""
    from accessmap.errors import AccessmapError, ConfigError

    try:
        from accessmap.service import serve as run_service
        from accessmap.service.settings import (
            ServiceSettings,
            load_api_keys,
            load_datasets_file,
            parse_dataset_option,
        )

        registered = load_datasets_file(datasets_file) if datasets_file else {}
        for dataset in map(parse_dataset_option, datasets):
            if dataset.name in registered:
                raise ConfigError(f"dataset {dataset.name!r} is registered twice (--dataset "
                                  "and --datasets-file, or --dataset repeated); give each "
                                  "dataset one name")
            registered[dataset.name] = dataset
        settings = ServiceSettings(
            data_dir=data_dir, workers=workers, datasets=registered,
            api_keys=load_api_keys(api_key_file) if api_key_file else frozenset(),
            retention_days=retention_days, max_queued_per_key=max_queued,
            budget_units=budget_units, sync_max_units=sync_max_units,
            sync_timeout_s=sync_timeout_s, cancel_grace_s=cancel_grace_s,
            max_upload_bytes=int(max_upload_mb * 1024 * 1024),
            max_upload_cells=max_upload_cells, max_uploads_per_key=max_uploads, cache=cache)
    except (AccessmapError, ImportError) as err:
        raise click.ClickException(str(err)) from None
    run_service(settings, host=host, port=port)


@main.command()
@click.argument("batch_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Batch output folder (one run folder per run, batch_summary.csv/.json). "
                   " [default: the file's `out`, else <FILE stem>-runs beside it]")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Dask scheduler of an existing cluster.  [default: "
                   "$DASK_SCHEDULER_ADDRESS, else a local cluster]")
@click.option("--workers", type=click.IntRange(1), default=None,
              help="Worker processes of the local cluster.  [default: CPUs, at most the "
                   "runs]")
@click.option("--overwrite", is_flag=True, default=False,
              help="Run again runs whose folder already holds a finished run (default: "
                   "skip them, so re-submitting resumes the batch).")
@verbosity_options
@_library_errors
def batch(batch_file: Path, out: Path | None, scheduler: str | None, workers: int | None,
          overwrite: bool) -> None:
    """Run every run of BATCH_FILE (TOML) on Dask, one task per run.

    Each [[runs]] table has a name (its folder) and a scenario file and/or scenario
    tables; [defaults] tables apply to every run.  A failing run fails alone.
    """
    import accessmap.batch as batch_module

    out_dir, runs = batch_module.load_batch(batch_file, out=out)
    try:
        rows = batch_module.run_batch(runs, out_dir, scheduler=scheduler, n_workers=workers,
                                      overwrite=overwrite)
    except ImportError as err:
        raise click.ClickException(str(err)) from None
    for row in rows:
        share = "" if row["coverage"] is None else \
            f"; within {row['threshold_min']:g} min {row['coverage']:.1%}"
        _result(f"{row['name']}: {row['status']}{share}"
                + (f" ({row['error']})" if row["error"] else ""))
    _result(f"batch summary: {out_dir / 'batch_summary.csv'}")
    failed = sum(row["status"] == "failed" for row in rows)
    if failed:
        raise click.ClickException(f"{failed} of {len(rows)} run(s) failed; see "
                                   f"{out_dir / 'batch_summary.csv'}")


if __name__ == "__main__":  # pragma: no cover
    main()
