"""Progress and cancellation: one small protocol from the pipeline into every long stage.

A stage that takes long accepts ``tick``, a :data:`Tick`: it calls ``tick(fraction,
message)`` between chunks of work with the share of *its own* work done (0 to 1).  The
pipeline hands each stage a tick made by :class:`RunProgress`, which

- maps the stage's fraction onto the whole run (stages weighted by their usual cost), so
  the fraction a listener sees rises monotonically from 0 to 1;
- checks the run's :class:`CancelToken` on every tick and raises
  :class:`~accessmap.errors.Cancelled` once it is set.

The CLI draws a bar from the events, the service stores them as a percentage.  Stages never
import this module's classes to work: a plain ``lambda fraction, message="": None`` is a
valid tick, and :func:`no_progress` is the default.

Examples
--------
>>> events = []
>>> run = RunProgress(events.append, weights={"network": 1, "travel_times": 3},
...                   min_interval_s=0)
>>> tick = run.stage("travel_times")
>>> tick(0.5, "chunk 1 of 2")
>>> events[-1].stage, round(events[-1].fraction, 3)
('travel_times', 0.375)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, overload

from accessmap.errors import Cancelled

__all__ = ["CancelToken", "Progress", "ProgressEvent", "RunProgress", "Tick", "no_progress",
           "scaled", "time_left_s"]


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report: the stage, the whole run's fraction done, a message."""

    stage: str
    fraction: float
    message: str = ""


#: A listener of progress events (the CLI's bar, the service's job record, a test).
Progress = Callable[[ProgressEvent], None]


class Tick(Protocol):
    """What a stage calls between chunks: its own fraction done (0-1) and a message."""

    def __call__(self, fraction: float, message: str = "") -> None:
        """Report ``fraction`` of the stage done; may raise ``Cancelled``."""


def no_progress(fraction: float, message: str = "") -> None:
    """The default tick: report nothing, never cancel."""


@overload
def scaled(tick: Tick, start: float, end: float, label: str = "") -> Tick: ...
@overload
def scaled(tick: None, start: float, end: float, label: str = "") -> None: ...
def scaled(tick: Tick | None, start: float, end: float, label: str = "") -> Tick | None:
    """Return a tick mapping a sub-step's 0-1 onto ``start``-``end`` of ``tick``
    (``None`` when ``tick`` is ``None``, so the sub-step skips its reporting).

    Examples
    --------
    >>> seen = []
    >>> sub = scaled(lambda f, m="": seen.append((f, m)), 0.5, 1.0, "matrix")
    >>> sub(0.5, "half")
    >>> seen
    [(0.75, 'matrix: half')]
    """

    if tick is None:
        return None
    outer = tick

    def sub(fraction: float, message: str = "") -> None:
        text = f"{label}: {message}" if label and message else (label or message)
        outer(start + (end - start) * min(max(fraction, 0.0), 1.0), text)

    return sub


#: Seconds of a run before :func:`time_left_s` gives an estimate (earlier ones are noise:
#: the first stages are short and their weights rough).
ESTIMATE_AFTER_S = 3.0


def time_left_s(fraction: float, elapsed_s: float, *,
                after_s: float = ESTIMATE_AFTER_S) -> float | None:
    """Seconds left of a run ``fraction`` done (the weighted fraction of
    :class:`RunProgress`) after ``elapsed_s``, at the run's average pace so far.

    ``None`` before ``after_s`` seconds or before any progress (no estimate yet).

    Examples
    --------
    >>> time_left_s(0.25, 30.0)
    90.0
    >>> time_left_s(0.25, 1.0) is None, time_left_s(0.0, 60.0) is None
    (True, True)
    """
    if elapsed_s < after_s or not fraction > 0:
        return None
    return max(0.0, elapsed_s * (1.0 - min(fraction, 1.0)) / fraction)


class CancelToken:
    """A flag another thread (or a signal handler) sets to stop a run.

    Examples
    --------
    >>> token = CancelToken()
    >>> token.cancelled
    False
    >>> token.cancel("stopped by the user")
    >>> token.check()
    Traceback (most recent call last):
    ...
    accessmap.errors.Cancelled: run cancelled: stopped by the user
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str = "cancelled") -> None:
        """Ask the run to stop at its next check."""
        self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`~accessmap.errors.Cancelled` if the run was cancelled."""
        if self._event.is_set():
            raise Cancelled(f"run cancelled: {self.reason}")


class RunProgress:
    """Progress of one run over weighted stages, with cancellation.

    Parameters
    ----------
    listener
        Called with each :class:`ProgressEvent` (``None``: nobody listens).
    token
        Checked on every tick; ``None`` never cancels.
    weights
        Stage name -> relative cost; stages not listed weigh 1.
    min_interval_s
        Within a stage, events closer together than this are dropped (the last one of a
        stage, fraction 1, always goes out).
    """

    def __init__(self, listener: Progress | None = None, *, token: CancelToken | None = None,
                 weights: Mapping[str, float] | None = None, min_interval_s: float = 0.05
                 ) -> None:
        self.listener = listener
        self.token = token
        self.weights = dict(weights or {})
        self.min_interval_s = min_interval_s
        total = sum(self.weights.values())
        self._total = total if total > 0 else 1.0
        self._done = 0.0  # weight of finished stages
        self._last = 0.0  # last fraction sent
        self._last_time = 0.0

    def check(self) -> None:
        """Raise ``Cancelled`` if the token is set."""
        if self.token is not None:
            self.token.check()

    def stage(self, name: str) -> Tick:
        """Start stage ``name`` and return its tick; the previous stage counts as done."""
        self.check()
        weight = self.weights.get(name, 1.0)
        if name not in self.weights:
            self._total += weight
        start = self._done
        self._done += weight

        def tick(fraction: float, message: str = "") -> None:
            self.check()
            share = min(max(float(fraction), 0.0), 1.0)
            self._send(name, (start + share * weight) / self._total, message,
                       force=share >= 1.0)

        self._send(name, start / self._total, "started", force=True)
        return tick

    def finish(self, message: str = "done") -> None:
        """Report the whole run done (fraction 1)."""
        self._send("done", 1.0, message, force=True)

    def _send(self, stage: str, fraction: float, message: str, *, force: bool) -> None:
        fraction = max(min(fraction, 1.0), self._last)  # never goes back
        now = time.monotonic()
        if not force and now - self._last_time < self.min_interval_s:
            return
        self._last, self._last_time = fraction, now
        if self.listener is not None:
            self.listener(ProgressEvent(stage, fraction, message))
