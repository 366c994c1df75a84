"""Worker processes that run jobs, and the supervisor thread that feeds and watches them.

Each worker is a long-lived process (started with ``spawn``, so it shares nothing with the
web process's threads) that imports the pipeline once and runs one job at a time with
:func:`accessmap.pipeline.run`.  It talks to the web process over a duplex pipe:

- web -> worker: ``("run", job_id, scenario_tables)``, ``("cancel", job_id)``, ``("stop",)``;
- worker -> web: ``("ready",)``, ``("progress", job_id, percent, stage, message)``,
  ``("done", job_id)``, ``("cancelled", job_id)``, ``("failed", job_id, exception)``.

A thread in the worker listens for ``cancel`` and sets the run's
:class:`~accessmap.progress.CancelToken`, so the pipeline stops at its next progress tick
and leaves no folder.  A worker that has not stopped ``cancel_grace_s`` seconds after a
cancel is killed.  A worker that dies (killed, out of memory, a crash in compiled code)
fails its job with a clear message and is replaced; the service keeps serving.

Only the supervisor thread (in the web process) writes job progress to the store.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from accessmap.service.jobs import JobStore
from accessmap.service.settings import ServiceSettings

__all__ = ["WorkerPool", "exception_document"]

logger = logging.getLogger(__name__)

_TYPE = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
_POLL_S = 0.05
_EXPIRE_EVERY_S = 600.0


def exception_document(title: str, detail: str, *, status: int = 400,
                       kind: str = "job-failed") -> dict[str, Any]:
    """An OGC exception (RFC 7807 problem details): ``type``, ``title``, ``status``,
    ``detail``."""
    return {"type": _TYPE + kind, "title": title, "status": status, "detail": detail}


# --------------------------------------------------------------------------- worker side


def _worker_main(conn: Connection) -> None:  # pragma: no cover - runs in a child process
    """Entry point of a worker process."""
    from accessmap.config import scenario_from_dict
    from accessmap.errors import AccessmapError, Cancelled
    from accessmap.pipeline import run
    from accessmap.progress import CancelToken, ProgressEvent

    tasks: queue.Queue[tuple[str, dict[str, Any], CancelToken] | None] = queue.Queue()
    tokens: dict[str, CancelToken] = {}

    def listen() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):  # the web process is gone: stop now, leave no orphan
                os._exit(1)
            if message[0] == "run":
                token = CancelToken()
                tokens[message[1]] = token
                tasks.put((message[1], message[2], token))
            elif message[0] == "cancel" and message[1] in tokens:
                tokens[message[1]].cancel()
            elif message[0] == "stop":
                tasks.put(None)
                return

    threading.Thread(target=listen, daemon=True, name="accessmap-cancel").start()
    conn.send(("ready",))
    while (task := tasks.get()) is not None:
        job_id, tables, token = task
        last: list[Any] = [-1, ""]

        def report(event: ProgressEvent, job_id: str = job_id, last: list[Any] = last) -> None:
            percent = min(99, int(event.fraction * 100))
            if percent != last[0] or event.stage != last[1]:
                last[0], last[1] = percent, event.stage
                conn.send(("progress", job_id, percent, event.stage, event.message))

        try:
            if token.cancelled:
                raise Cancelled("cancelled before it started")
            run(scenario_from_dict(tables, source="request"), progress=report, cancel=token,
                offline=True)
        except Cancelled:
            conn.send(("cancelled", job_id))
        except AccessmapError as err:
            line = (str(err).strip().splitlines() or [type(err).__name__])[0]
            conn.send(("failed", job_id, exception_document(type(err).__name__, line)))
        except Exception as err:
            logging.getLogger(__name__).exception("job %s crashed", job_id)
            conn.send(("failed", job_id, exception_document(
                "internal error", f"{type(err).__name__}: {err}; please report this with the "
                "request that caused it", status=500)))
        else:
            conn.send(("done", job_id))
        tokens.pop(job_id, None)


# --------------------------------------------------------------------------- web side


@dataclass
class _Slot:
    process: BaseProcess
    conn: Connection
    ready: bool = False
    job_id: str | None = None
    cancel_deadline: float | None = None
    killed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class WorkerPool:
    """``settings.workers`` worker processes fed from the store's queue.

    Parameters
    ----------
    store
        Where jobs are queued and their progress recorded.
    settings
        Worker count, cancel grace period, retention.
    """

    def __init__(self, store: JobStore, settings: ServiceSettings) -> None:
        self.store = store
        self.settings = settings
        self._context = multiprocessing.get_context("spawn")
        self._slots: list[_Slot] = []
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_expire = 0.0

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Start the workers and the supervisor thread."""
        with self._lock:
            self._slots = [self._spawn() for _ in range(self.settings.workers)]
        self._thread = threading.Thread(target=self._supervise, daemon=True,
                                        name="accessmap-supervisor")
        self._thread.start()

    def stop(self) -> None:
        """Stop the supervisor and the workers (a running job is left for recovery)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            for slot in self._slots:
                with contextlib.suppress(OSError):
                    slot.conn.send(("stop",))
            for slot in self._slots:
                slot.process.join(timeout=1 if slot.job_id is None else 0.1)
                if slot.process.is_alive():
                    slot.process.kill()
                    slot.process.join(timeout=2)
                slot.conn.close()

    def _spawn(self) -> _Slot:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(target=_worker_main, args=(child,), daemon=True,
                                        name="accessmap-worker")
        process.start()
        child.close()
        return _Slot(process, parent)

    # ------------------------------------------------------------------ requests

    def wake(self) -> None:
        """Look at the queue now (a job was submitted)."""
        self._wake.set()

    def worker_pids(self) -> list[int]:
        """Process ids of the workers (for tests and monitoring)."""
        with self._lock:
            return [s.process.pid for s in self._slots if s.process.pid is not None]

    def running_pid(self, job_id: str) -> int | None:
        """Process id of the worker running ``job_id``, if any."""
        with self._lock:
            for slot in self._slots:
                if slot.job_id == job_id:
                    return slot.process.pid
        return None

    def cancel(self, job_id: str) -> bool:
        """Cancel a job: dismiss it if queued, ask its worker to stop if running.

        Returns
        -------
        bool
            True if a worker was running it (it stops within the grace period).
        """
        with self._lock:
            for slot in self._slots:
                if slot.job_id == job_id:
                    if slot.cancel_deadline is None:
                        slot.cancel_deadline = time.monotonic() + self.settings.cancel_grace_s
                        self._send(slot, ("cancel", job_id))
                    return True
            return False

    # ------------------------------------------------------------------ supervisor

    def _send(self, slot: _Slot, message: tuple[Any, ...]) -> None:
        try:
            with slot.lock:
                slot.conn.send(message)
        except OSError:
            logger.warning("worker %s is gone; it will be replaced", slot.process.pid)

    def _supervise(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # the supervisor must survive anything
                logger.exception("supervisor error")
            self._wake.wait(_POLL_S)
            self._wake.clear()

    def _tick(self) -> None:
        with self._lock:
            for index, slot in enumerate(self._slots):
                self._drain(slot)
                if not slot.process.is_alive():
                    self._replace(index, slot)
                    continue
                if slot.cancel_deadline is not None and time.monotonic() > slot.cancel_deadline:
                    logger.warning("job %s did not stop in %.0f s; killing worker %s",
                                   slot.job_id, self.settings.cancel_grace_s, slot.process.pid)
                    slot.killed = True
                    slot.process.kill()
                    slot.process.join(timeout=2)
                    self._replace(index, slot)
                    continue
                if slot.ready and slot.job_id is None:
                    self._assign(slot)
        if time.monotonic() - self._last_expire > _EXPIRE_EVERY_S:
            self._last_expire = time.monotonic()
            self.store.expire(self.settings.retention_days)

    def _assign(self, slot: _Slot) -> None:
        job = self.store.next_queued()
        while job is not None and not self.store.claim(job.id):
            job = self.store.next_queued()
        if job is None:
            return
        slot.job_id = job.id
        slot.cancel_deadline = None
        tables = dict(job.request["scenario_tables"])
        tables["output"] = {"out": str(self.store.run_dir(job.id))}
        self.store.remove_folder(job.id)
        self.store.job_dir(job.id).mkdir(parents=True)
        self._send(slot, ("run", job.id, tables))

    def _drain(self, slot: _Slot) -> None:
        try:
            while slot.conn.poll():
                self._handle(slot, slot.conn.recv())
        except (EOFError, OSError):
            pass

    def _handle(self, slot: _Slot, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "ready":
            slot.ready = True
            return
        job_id = message[1]
        if job_id != slot.job_id:
            return
        cancelling = slot.cancel_deadline is not None
        if kind == "progress":
            _, _, percent, stage, text = message
            detail = f"{stage}: {text}" if text and text not in ("started", "done") else stage
            self.store.set_progress(job_id, int(percent), detail)
            return
        if kind == "done" and not cancelling:
            self.store.finish(job_id, "successful", message="done", progress=100)
        elif kind == "failed" and not cancelling:
            self.store.remove_folder(job_id)
            self.store.finish(job_id, "failed", message="failed", error=message[2])
        else:  # cancelled, or finished while being cancelled
            self.store.remove_folder(job_id)
            self.store.finish(job_id, "dismissed", message="dismissed")
        slot.job_id = None
        slot.cancel_deadline = None

    def _replace(self, index: int, slot: _Slot) -> None:
        code = slot.process.exitcode
        if slot.job_id is not None:
            self.store.remove_folder(slot.job_id)
            if slot.killed or slot.cancel_deadline is not None:
                self.store.finish(slot.job_id, "dismissed",
                                  message="dismissed (worker stopped after the grace period)")
            else:
                logger.error("worker %s running job %s died (exit code %s)",
                             slot.process.pid, slot.job_id, code)
                self.store.finish(slot.job_id, "failed", message="failed", error=(
                    exception_document(
                        "worker crashed",
                        f"the worker process running this job stopped unexpectedly (exit "
                        f"code {code}); the service started a new worker; submit the job "
                        "again, and report it if it happens again", status=500)))
        slot.conn.close()
        self._slots[index] = self._spawn()
