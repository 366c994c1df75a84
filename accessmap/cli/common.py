"""What every ``accessmap`` command shares: logging and verbosity, one-line errors,
common options, ``--set`` settings, titles that follow the mode, and the progress bar."""

from __future__ import annotations

import functools
import logging
import math
import re
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from accessmap.errors import AccessmapError, AccessmapWarning, ConfigError

__all__ = [
    "apply_settings", "cdn_options", "out_option", "overwrite_option", "parse_exclusions",
    "parse_thresholds", "run_dir_argument", "set_option", "verbosity_options",
]

def _configure_logging(verbose: int, quiet: int) -> None:
    level = logging.WARNING - 10 * verbose + 10 * quiet
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("accessmap")
    root.handlers[:] = [handler]
    root.setLevel(max(logging.DEBUG, min(level, logging.CRITICAL)))


class _SettingsError(click.ClickException):
    """A bad setting (:class:`ConfigError`): one line, exit code 2 like a bad option."""

    exit_code = 2


def _library_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn accessmap errors into a one-line ClickException (exit code 1; 2 for bad
    settings).

    Data-quality warnings are already logged by the library (shown unless ``-q``), so
    their Python warning copies, meant for notebooks, are not printed a second time.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", AccessmapWarning)
                return func(*args, **kwargs)
        except ConfigError as err:
            raise _SettingsError(str(err)) from None
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


#: Words naming a travel mode in titles, swapped when the mode is changed.
_MODE_WORDS = {"walk": ("walking", "walk", "on foot"), "drive": ("driving", "drive", "by car"),
               "walk+drive": ("walking then riding", "walk+drive", "on foot then by vehicle")}


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


class _ProgressBar:
    """The run's progress on stderr: a tqdm bar on a terminal, quiet otherwise.

    It receives the pipeline's ``ProgressEvent(stage, fraction, message)``; off a
    terminal each stage is logged at INFO level (shown with ``-v``).  The bar shows the
    stage, the whole run's weighted fraction, the time spent and, after a few seconds,
    the time left for the whole run at its average pace so far (:func:`time_left_s`;
    tqdm's own estimate follows the last stage's pace, which differs from stage to
    stage).
    """

    def __init__(self, stream: Any = None, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        stream = sys.stderr if stream is None else stream
        self._bar: Any = None
        self._stage = ""
        self._clock, self._start = clock, clock()
        if stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=1000, file=stream, unit="", leave=False,
                             bar_format="accessmap: {desc:<14}{bar}| {percentage:3.0f}% "
                                        "{elapsed}{postfix}")

    def __call__(self, event: Any) -> None:
        if event.stage != self._stage and event.stage != "done":
            self._stage = event.stage
            logging.getLogger(__name__).info("%s ...", event.stage)
        if self._bar is not None:
            from accessmap.progress import time_left_s

            left = time_left_s(event.fraction, self._clock() - self._start)
            self._bar.set_postfix_str("" if left is None else
                                      f"{self._bar.format_interval(left)} left", refresh=False)
            self._bar.set_description_str(str(event.stage), refresh=False)
            self._bar.update(max(0, int(event.fraction * 1000) - self._bar.n))

    def close(self) -> None:
        """Remove the bar from the terminal."""
        if self._bar is not None:
            self._bar.close()


run_dir_argument = click.argument(
    "run_dir", type=click.Path(file_okay=False, path_type=Path))


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
