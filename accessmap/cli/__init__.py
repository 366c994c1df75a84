"""The ``accessmap`` command line: a thin layer that parses options and calls the pipeline.

Library errors become one clear line and exit code 1 (2 for bad settings, a
:class:`~accessmap.errors.ConfigError`, as click does for bad options); progress goes to
stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from accessmap._version import __version__
from accessmap.cli.common import (
    _library_errors,
    _ProgressBar,
    _result,
    _retitled,
    apply_settings,
    cdn_options,
    out_option,
    overwrite_option,
    parse_exclusions,
    parse_thresholds,
    run_dir_argument,
    set_option,
    verbosity_options,
)
from accessmap.errors import AccessmapError, ConfigError
from accessmap.routing.modes import MODES

__all__ = ["apply_settings", "main", "parse_exclusions", "parse_thresholds"]

DEFAULT_DEMO_OUT = Path("maps/demo")
#: Travel modes the options accept (the registry of :mod:`accessmap.routing.modes`).
_MODE_NAMES = list(MODES)






















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
@click.option("--close-facility", multiple=True, metavar="ID_OR_NAME",
              help="Close this facility in the scenario (its id or name; added to "
                   "[facilities] close); repeatable.")
@click.option("--planned", type=click.Path(path_type=Path), default=None,
              help="File of planned facilities to add in the scenario (ids P1, P2...).")
@click.option("--boundaries", type=click.Path(path_type=Path), default=None,
              help="Admin areas for the by-area tables: a polygon file, or the OSM extract "
                   "itself with --admin-level.")
@click.option("--admin-level", type=click.IntRange(1, 12), default=None,
              help="OSM admin_level of the areas when --boundaries is an OSM extract "
                   "(e.g. 4).")
@click.option("--title", default=None, help="Title of the map and report.")
@click.option("--landcover", type=click.Path(path_type=Path), default=None,
              help="Land-cover raster (e.g. ESA WorldCover): walk to the road over it "
                   "instead of in a straight line ([offroad] landcover).")
@click.option("--landcover-speeds", type=click.Path(path_type=Path), default=None,
              help="CSV (class,speed_kph) or TOML table of walking km/h per land-cover "
                   "class ('impassable' allowed); default: ESA WorldCover speeds.")
@click.option("--dem", type=click.Path(path_type=Path), default=None,
              help="Elevation raster (e.g. Copernicus GLO-30): slow the walk to the road "
                   "on slopes by Tobler's hiking function ([offroad] dem).")
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
        close_facility: tuple[str, ...], planned: Path | None, boundaries: Path | None,
        admin_level: int | None, title: str | None,
        landcover: Path | None, landcover_speeds: Path | None, dem: Path | None,
        speed_profile: str | None, settings: tuple[str, ...], out: Path | None,
        overwrite: bool, cdn: bool, offline: bool) -> None:
    """Run the access analysis: travel times, coverage, new sites, map and tables.

    Settings come from SCENARIO_FILE (TOML) when given; options override it, and
    --set items override both.  A SCENARIO_FILE with [scenarios.NAME] tables is a
    scenario set: the baseline and each scenario run into OUT/baseline and OUT/NAME, and
    each is compared with the baseline in OUT/comparison/NAME (see docs/scenarios.md).
    """
    from accessmap.config import Scenario, load_scenario
    from accessmap.config.scenario_set import is_scenario_set

    if scenario_file and is_scenario_set(scenario_file):
        ctx = click.get_current_context()
        given = [f"--{p.name}" for p in ctx.command.params if p.name and p.name not in _SET_OPTIONS
                 and ctx.get_parameter_source(p.name) != ParameterSource.DEFAULT]
        if given:
            raise click.UsageError(f"{scenario_file} is a scenario set ([scenarios.NAME] "
                                   "tables): put settings in its tables, not in options ("
                                   + ", ".join(given) + ")")
        _run_scenario_set(scenario_file, out=out, overwrite=overwrite, cdn=cdn)
        return
    base = load_scenario(scenario_file) if scenario_file else Scenario()
    scenario = base.replace(
        network=network, population=population, facilities=facilities,
        facilities_layer=facilities_layer, mode=mode,
        thresholds_min=parse_thresholds(thresholds) if thresholds else None,
        new_sites=new_sites, threshold_min=site_threshold,
        satellite_min_population=satellite_min_population,
        exclude=parse_exclusions(exclude) if exclude else None, planned=planned,
        close=[*(r.to_dict() for r in base.facilities.close), *close_facility]
        if close_facility else None,
        boundaries=boundaries, admin_level=admin_level, title=title, out=out,
        landcover=landcover, landcover_speeds=landcover_speeds, dem=dem,
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


#: Options of ``accessmap run`` that a scenario set takes (the others go in its tables).
_SET_OPTIONS = ("scenario_file", "out", "overwrite", "cdn", "offline", "verbose", "quiet")


def _run_scenario_set(path: Path, *, out: Path | None, overwrite: bool, cdn: bool) -> None:
    from accessmap.compare import run_scenarios

    progress = _ProgressBar()
    try:
        results = run_scenarios(path, out=out, overwrite=overwrite, offline=not cdn,
                                progress=progress)
    finally:
        progress.close()
    for name, result in results.items():
        _result(f"{name}: {result.summary.sentences[0] if result.summary.sentences else ''}")
        _result(f"  comparison: {result.path}")


@main.command()
@click.argument("run_a", type=click.Path(file_okay=False, path_type=Path))
@click.argument("run_b", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Comparison folder.  [default: maps/compare-<RUN_A>-<RUN_B>]")
@overwrite_option
@cdn_options
@verbosity_options
@_library_errors
def compare(run_a: Path, run_b: Path, out: Path | None, overwrite: bool, cdn: bool,
            offline: bool) -> None:
    """Compare run RUN_B (a scenario) with run RUN_A (the baseline) of the same area.

    Writes comparison.json, change tables and rasters, comparison_map.html and the
    comparison report (comparison.html).
    """
    from accessmap.compare import compare_runs

    out = out or Path("maps") / f"compare-{run_a.resolve().name}-{run_b.resolve().name}"
    result = compare_runs(run_a, run_b, out=out, overwrite=overwrite, offline=not cdn)
    for sentence in result.summary.sentences:
        _result(sentence)
    _result(f"comparison: {result.path}")






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
