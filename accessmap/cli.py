"""The ``accessmap`` command line: a thin layer that parses options and calls the pipeline.

Library errors become one clear line and exit code 1; progress goes to stderr.
"""

from __future__ import annotations

import functools
import logging
import math
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from accessmap._version import __version__
from accessmap.errors import AccessmapError, AccessmapWarning, ConfigError

__all__ = ["main", "parse_exclusions", "parse_thresholds"]

DEFAULT_DEMO_OUT = Path("maps/demo")


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
    click.echo(f"accessmap: {message}", err=True)


out_option = click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Output folder.",
)
overwrite_option = click.option(
    "--overwrite", is_flag=True, default=False, help="Replace an existing output folder."
)
offline_option = click.option(
    "--offline", is_flag=True, default=False,
    help="Inline the map's JavaScript/CSS so map.html opens with no internet at all.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="accessmap")
@click.option("-v", "--verbose", count=True, help="More log output (repeatable).")
@click.option("-q", "--quiet", count=True, help="Less log output.")
def main(verbose: int, quiet: int) -> None:
    """Who lives too far from health care, and where new sites would help most."""
    _configure_logging(verbose, quiet)


@main.command()
@click.argument("scenario_file", required=False,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--network", type=click.Path(path_type=Path), default=None,
              help="Road network: OSM extract (.osm.pbf, .osm, .osm.bz2) or .graphml.")
@click.option("--population", type=click.Path(path_type=Path), default=None,
              help="Population raster (GeoTIFF, e.g. WorldPop).")
@click.option("--facilities", type=click.Path(path_type=Path), default=None,
              help="Health facilities (GeoJSON, GeoPackage, CSV with lon/lat).")
@click.option("--mode", type=click.Choice(["walk", "drive"]), default=None,
              help="Travel mode.  [default: walk]")
@click.option("--thresholds", default=None, metavar="MIN,MIN,...",
              help="Travel-time thresholds in minutes.  [default: 30,60,120]")
@click.option("--new-sites", type=click.IntRange(min=0), default=None,
              help="Number of new sites to recommend.  [default: 5]")
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
@out_option
@overwrite_option
@offline_option
@_library_errors
def run(scenario_file: Path | None, network: Path | None, population: Path | None,
        facilities: Path | None, mode: str | None, thresholds: str | None,
        new_sites: int | None, exclude: tuple[str, ...], boundaries: Path | None,
        admin_level: int | None, title: str | None, out: Path | None,
        overwrite: bool, offline: bool) -> None:
    """Run the access analysis: travel times, coverage, new sites, map and tables.

    Settings come from SCENARIO_FILE (TOML) when given; options override it.
    """
    from accessmap.config import Scenario, load_scenario

    scenario = load_scenario(scenario_file) if scenario_file else Scenario()
    scenario = scenario.replace(
        network=network, population=population, facilities=facilities, mode=mode,
        thresholds_min=parse_thresholds(thresholds) if thresholds else None,
        new_sites=new_sites, exclude=parse_exclusions(exclude) if exclude else None,
        boundaries=boundaries, admin_level=admin_level,
        title=title, out=out,
    )
    _run_and_report(scenario, overwrite=overwrite, offline=offline)


@main.command()
@out_option
@overwrite_option
@click.option("--mode", type=click.Choice(["walk", "drive"]), default="walk",
              show_default=True, help="Travel mode.")
@offline_option
@_library_errors
def demo(out: Path | None, overwrite: bool, mode: str, offline: bool) -> None:
    """Run the analysis on the embedded SYNTHETIC demo district (output maps/demo/)."""
    from accessmap.demo import demo_scenario

    scenario = demo_scenario().replace(out=out or DEFAULT_DEMO_OUT, mode=mode)
    _run_and_report(scenario, overwrite=overwrite, offline=offline)


def _run_and_report(scenario: Any, *, overwrite: bool, offline: bool = False) -> None:
    from accessmap.pipeline import run as run_pipeline

    result = run_pipeline(scenario, overwrite=overwrite, progress=_progress_printer(),
                          offline=offline)
    summary = result.summary
    _say(f"population {summary['population_total']:,.0f}; "
         f"unreachable {summary['unreachable_population']:,.0f}")
    for now, after in zip(summary["coverage"], summary["coverage_with_new_sites"], strict=True):
        _say(f"within {now['threshold_min']:g} min: {now['share']:.1%} now, "
             f"{after['share']:.1%} with {len(summary['recommended_sites'])} new sites")
    _say(f"outputs written to {result.out_dir}")


def _progress_printer() -> Callable[[Any], None]:
    """Show the run's progress on stderr: a bar on a terminal, one line per stage else."""
    terminal = sys.stderr.isatty()
    seen: set[str] = set()

    def show(event: Any) -> None:
        if terminal:
            filled = int(event.fraction * 30)
            bar = "#" * filled + "-" * (30 - filled)
            end = "\n" if event.stage == "done" else ""
            click.echo(f"\raccessmap: [{bar}] {event.fraction:4.0%} {event.stage:<13}"
                       f"{event.message[:30]:<30}", err=True, nl=False)
            if end:
                click.echo("", err=True)
        elif event.stage not in seen and event.stage != "done":
            seen.add(event.stage)
            _say(f"{event.stage} ...")

    return show


run_dir_argument = click.argument(
    "run_dir", type=click.Path(file_okay=False, path_type=Path))


@main.command(name="map")
@run_dir_argument
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Output HTML file.  [default: RUN_DIR/map.html]")
@click.option("--overwrite", is_flag=True, default=False, help="Replace an existing file.")
@offline_option
@_library_errors
def map_command(run_dir: Path, out_file: Path | None, overwrite: bool, offline: bool) -> None:
    """Rebuild map.html from a finished run folder (no recomputation)."""
    from accessmap.outputs.maps import write_map

    _say(f"map written to {write_map(run_dir, out_file, offline=offline, overwrite=overwrite)}")


@main.command(name="report")
@run_dir_argument
@click.option("--overwrite", is_flag=True, default=False, help="Replace existing files.")
@click.option("--xlsx", is_flag=True, default=False,
              help="Also write report.xlsx (needs the 'xlsx' extra: openpyxl).")
@_library_errors
def report_command(run_dir: Path, overwrite: bool, xlsx: bool) -> None:
    """Rebuild report.html, report.md and the figures from a finished run folder."""
    from accessmap.outputs.report import write_report

    for path in write_report(run_dir, overwrite=overwrite, xlsx=xlsx):
        _say(f"wrote {path}")




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


if __name__ == "__main__":  # pragma: no cover
    main()
