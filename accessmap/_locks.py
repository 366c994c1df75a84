"""Lock files that work on every system: ``fcntl.flock``, ``msvcrt.locking`` or a pid file.

:func:`hold_lock` holds a lock file for the length of a ``with`` block and removes it on
release.  The mechanism is chosen once, by what the system offers (:data:`BACKEND`):

``"fcntl"`` (Linux, macOS)
    An advisory ``flock`` on the file; the kernel releases it when the holder dies.
``"msvcrt"`` (Windows)
    ``msvcrt.locking`` of the file's first byte; also released when the holder dies.
``"pidfile"`` (anything else)
    The file is created with ``O_CREAT | O_EXCL`` and holds the owner's pid and host
    name.  A lock whose owner is no longer running on this host (a killed run) is stale:
    it is moved aside atomically and taken over, with a log line.  A lock written on
    another host (a shared folder) is never taken over.

Imports nothing of ours, so that every layer can use it.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
try:
    import msvcrt
except ImportError:  # everything but Windows
    msvcrt = None  # type: ignore[assignment]

__all__ = ["BACKEND", "BACKENDS", "LockBusy", "hold_lock"]

logger = logging.getLogger(__name__)

#: The lock mechanisms, in order of preference.
BACKENDS = ("fcntl", "msvcrt", "pidfile")

#: The mechanism :func:`hold_lock` uses on this system.
BACKEND = "fcntl" if fcntl is not None else "msvcrt" if msvcrt is not None else "pidfile"

#: Seconds between attempts while waiting for a lock.
POLL_S = 0.05


class LockBusy(BlockingIOError):
    """Another process (or, with pid files, another run of this process) holds the lock."""


@contextmanager
def hold_lock(path: Path, *, wait: bool, backend: str | None = None) -> Iterator[None]:
    """Hold the lock file ``path`` during the block; it is removed on release.

    Parameters
    ----------
    path
        The lock file (created if missing).
    wait
        Wait for the holder to release it; otherwise raise :class:`LockBusy` at once.
    backend : {"fcntl", "msvcrt", "pidfile"}, optional
        The mechanism (default :data:`BACKEND`, the best this system has).

    Raises
    ------
    LockBusy
        The lock is held and ``wait`` is False.
    """
    chosen = backend or BACKEND
    if chosen not in BACKENDS:
        raise ValueError(f"lock backend {chosen!r} is unknown; use one of {BACKENDS}")
    hold = {"fcntl": _flock, "msvcrt": _msvcrt_lock, "pidfile": _pid_lock}[chosen]
    with hold(Path(path), wait):
        yield


# --------------------------------------------------------------------------- fcntl
@contextmanager
def _flock(path: Path, wait: bool) -> Iterator[None]:
    while True:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            raise LockBusy(f"{path} is held by another process") from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file as we opened it: take the new one
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


# --------------------------------------------------------------------------- msvcrt
@contextmanager
def _msvcrt_lock(path: Path, wait: bool) -> Iterator[None]:  # pragma: no cover - Windows
    if sys.platform != "win32":
        raise ValueError("the msvcrt lock exists only on Windows; use fcntl or pidfile")
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o666)
    try:
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                break
            except OSError:
                if not wait:
                    raise LockBusy(f"{path} is held by another process") from None
                time.sleep(POLL_S)
        try:
            yield
        finally:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    finally:
        os.close(fd)
        with suppress(OSError):  # another process has it open: it stays, unlocked
            path.unlink()


# --------------------------------------------------------------------------- pid file
def _owner_text() -> str:
    return f"{os.getpid()} {socket.gethostname()}\n"


def _pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (a permission error means it does)."""
    if pid <= 0:
        return False
    if os.name == "nt":  # pragma: no cover - os.kill would terminate it there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: A lock file without a readable owner older than this (seconds) is stale (left by a
#: killed run between creating and writing it, or by another lock mechanism).
UNREADABLE_STALE_S = 10.0


def _stale_owner(text: str, age_s: float) -> int | None:
    """The pid of a dead owner on this host named by a lock file's ``text`` (0 for an
    unreadable file older than :data:`UNREADABLE_STALE_S`), or None if it is held."""
    parts = text.split()
    if len(parts) != 2 or not parts[0].isdigit():
        return 0 if age_s > UNREADABLE_STALE_S else None  # maybe being written
    if parts[1] != socket.gethostname():
        return None  # another host's run: its pid means nothing here
    pid = int(parts[0])
    return None if _pid_alive(pid) else pid


def _try_create(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    except FileExistsError:
        return False
    try:
        os.write(fd, _owner_text().encode())
    finally:
        os.close(fd)
    return True


def _take_over_stale(path: Path) -> bool:
    """Move a stale lock file aside (atomically) and remove it; True if one was."""
    try:
        before = os.stat(path)
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return True  # released meanwhile: try again at once
    pid = _stale_owner(text, time.time() - before.st_mtime)
    if pid is None:
        return False
    aside = path.with_name(f"{path.name}.stale-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return True  # another process took it over first
    if not os.path.samestat(before, os.stat(aside)):  # a new owner's file: put it back
        with suppress(FileExistsError):
            os.link(aside, path)
        aside.unlink(missing_ok=True)
        return False
    aside.unlink(missing_ok=True)
    logger.warning("took over the lock %s left by %s, which no longer runs", path,
                   f"process {pid}" if pid else "an unknown process")
    return True


@contextmanager
def _pid_lock(path: Path, wait: bool) -> Iterator[None]:
    while not _try_create(path):
        if _take_over_stale(path):
            continue
        if not wait:
            raise LockBusy(f"{path} is held by another run")
        time.sleep(POLL_S)
    try:
        yield
    finally:
        with suppress(OSError):
            if path.read_text(encoding="utf-8") == _owner_text():
                path.unlink()
