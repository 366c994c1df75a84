"""The job store: one SQLite database (WAL mode) in the data folder, one folder per job.

Only the web process writes the database (workers send their progress to it over a
pipe), so there is one writer.  A job's record holds its owner (a hash of its API key),
the request, its status and progress, and, once finished, the OGC exception of a failure
or the disk usage of its results.  Results live in ``<data_dir>/jobs/<id>/run``, written
by the run record's atomic writer.

On start, :meth:`JobStore.recover` marks jobs that were running when the service stopped
as ``failed`` ("the service stopped while this job was running; submit it again") and
removes their partial folders; accepted jobs that never started stay queued.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["ACTIVE", "FINISHED", "Job", "JobStore", "now_iso"]

ACTIVE = ("accepted", "running")
FINISHED = ("successful", "failed", "dismissed")

_COLUMNS = ("id", "owner", "dataset", "request", "request_hash", "title", "status",
            "progress", "message", "created", "started", "finished", "updated", "error",
            "cached_from", "disk_bytes", "estimate")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, dataset TEXT NOT NULL, request TEXT NOT NULL,
    request_hash TEXT NOT NULL, title TEXT NOT NULL, status TEXT NOT NULL,
    progress INTEGER NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL, started TEXT, finished TEXT, updated TEXT NOT NULL,
    error TEXT, cached_from TEXT, disk_bytes INTEGER, estimate REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_owner ON jobs (owner, created);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created);
CREATE INDEX IF NOT EXISTS jobs_hash ON jobs (request_hash, status);
"""


def now_iso() -> str:
    """The current UTC time as ISO 8601 with microseconds (sortable as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Job:
    """One job's record."""

    id: str
    owner: str
    dataset: str
    request: dict[str, Any]
    request_hash: str
    title: str
    status: str
    progress: int
    message: str
    created: str
    started: str | None
    finished: str | None
    updated: str
    error: dict[str, Any] | None
    cached_from: str | None
    disk_bytes: int | None
    estimate: float

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Job:
        """Build a job from a database row (columns in :data:`_COLUMNS` order)."""
        values = dict(zip(_COLUMNS, row, strict=True))
        values["request"] = json.loads(values["request"])
        values["error"] = json.loads(values["error"]) if values["error"] else None
        return cls(**values)


class JobStore:
    """Job records in ``<data_dir>/jobs.sqlite`` and job folders in ``<data_dir>/jobs``.

    Parameters
    ----------
    data_dir
        Created if missing.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.jobs_dir = self.data_dir / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.data_dir / "jobs.sqlite", check_same_thread=False,
                                   isolation_level=None, timeout=30)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ folders

    def job_dir(self, job_id: str) -> Path:
        """The folder of a job (its run folder is ``run`` inside it)."""
        return self.jobs_dir / job_id

    def run_dir(self, job_id: str) -> Path:
        """The run folder of a job (exists only once the job succeeded)."""
        return self.job_dir(job_id) / "run"

    def remove_folder(self, job_id: str) -> None:
        """Delete a job's folder and everything in it (staged leftovers included)."""
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    # ------------------------------------------------------------------ records

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def create(self, *, owner: str, dataset: str, request: dict[str, Any], request_hash: str,
               title: str, estimate: float, running: bool = False) -> Job:
        """Record a new job and return it: ``accepted`` (queued for a worker), or, with
        ``running``, already ``running`` so that no worker ever picks it up (a cached
        result being copied into place)."""
        job_id = uuid.uuid4().hex
        stamp = now_iso()
        status, message = ("running", "copying a cached result") if running else (
            "accepted", "queued")
        self._execute(
            "INSERT INTO jobs (id, owner, dataset, request, request_hash, title, status, "
            "progress, message, created, started, updated, estimate) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
            (job_id, owner, dataset, json.dumps(request, sort_keys=True), request_hash, title,
             status, message, stamp, stamp if running else None, stamp, estimate))
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str, *, owner: str | None = None) -> Job | None:
        """The job with this id (``None`` when unknown or owned by someone else)."""
        rows = self._execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE id = ?",
                             (job_id,))
        if not rows:
            return None
        job = Job.from_row(rows[0])
        if owner is not None and job.owner != owner:
            return None
        return job

    def list_jobs(self, *, owner: str | None = None, limit: int = 100) -> list[Job]:
        """Jobs, newest first (only ``owner``'s when given)."""
        where, params = ("WHERE owner = ?", (owner,)) if owner is not None else ("", ())
        rows = self._execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs {where} "
                             "ORDER BY created DESC LIMIT ?", (*params, limit))
        return [Job.from_row(r) for r in rows]

    def count_active(self, owner: str) -> int:
        """Accepted or running jobs of ``owner``."""
        rows = self._execute("SELECT COUNT(*) FROM jobs WHERE owner = ? AND status IN "
                             "('accepted', 'running')", (owner,))
        return int(rows[0][0])

    def next_queued(self) -> Job | None:
        """The oldest accepted job."""
        rows = self._execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE status = "
                             "'accepted' ORDER BY created LIMIT 1")
        return Job.from_row(rows[0]) if rows else None

    def claim(self, job_id: str) -> bool:
        """Move an accepted job to ``running``; False when it is no longer accepted."""
        stamp = now_iso()
        with self._lock:
            cursor = self._db.execute(
                "UPDATE jobs SET status = 'running', started = ?, updated = ?, "
                "message = 'starting' WHERE id = ? AND status = 'accepted'",
                (stamp, stamp, job_id))
            return cursor.rowcount == 1

    def find_cached(self, request_hash: str, owner: str) -> Job | None:
        """The newest successful job of ``owner`` with the same request hash."""
        rows = self._execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE request_hash = ?"
                             " AND owner = ? AND status = 'successful' ORDER BY created DESC "
                             "LIMIT 1", (request_hash, owner))
        return Job.from_row(rows[0]) if rows else None

    def update(self, job_id: str, **values: Any) -> None:
        """Set columns of a job (``error`` as a dict); ``updated`` is set to now."""
        if "error" in values and values["error"] is not None:
            values["error"] = json.dumps(values["error"])
        values["updated"] = now_iso()
        names = ", ".join(f"{k} = ?" for k in values)
        self._execute(f"UPDATE jobs SET {names} WHERE id = ?", (*values.values(), job_id))

    def set_progress(self, job_id: str, progress: int, message: str) -> None:
        """Record progress of a running job (never goes back, never on a finished job)."""
        self._execute("UPDATE jobs SET progress = MAX(progress, ?), message = ?, updated = ? "
                      "WHERE id = ? AND status = 'running'",
                      (progress, message, now_iso(), job_id))

    def finish(self, job_id: str, status: str, *, message: str,
               error: dict[str, Any] | None = None, progress: int | None = None) -> None:
        """End a job with ``status`` (only if it is not finished already)."""
        disk = _disk_bytes(self.job_dir(job_id)) if status == "successful" else 0
        stamp = now_iso()
        extra = ", progress = ?" if progress is not None else ""
        params: tuple[Any, ...] = (status, message, json.dumps(error) if error else None,
                                   stamp, stamp, disk)
        if progress is not None:
            params = (*params, progress)
        self._execute(f"UPDATE jobs SET status = ?, message = ?, error = ?, finished = ?, "
                      f"updated = ?, disk_bytes = ?{extra} WHERE id = ? AND status IN "
                      "('accepted', 'running')", (*params, job_id))

    def recover(self) -> list[str]:
        """Mark jobs that were running when the service stopped as failed; return their ids."""
        rows = self._execute("SELECT id FROM jobs WHERE status = 'running'")
        ids = [r[0] for r in rows]
        for job_id in ids:
            self.remove_folder(job_id)
            self.finish(job_id, "failed", message="interrupted", error={
                "type": "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
                        "job-interrupted",
                "title": "job interrupted", "status": 500,
                "detail": "the service stopped while this job was running (a crash or a "
                          "restart); nothing was kept; submit the job again"})
        return ids

    def expire(self, retention_days: float) -> list[str]:
        """Delete results of jobs finished more than ``retention_days`` ago; return ids."""
        if retention_days <= 0:
            return []
        cutoff = (datetime.now(UTC) - timedelta(days=retention_days)).isoformat(
            timespec="microseconds").replace("+00:00", "Z")
        rows = self._execute("SELECT id FROM jobs WHERE status = 'successful' AND finished < ?"
                             " AND disk_bytes > 0", (cutoff,))
        ids = [r[0] for r in rows]
        for job_id in ids:
            self.remove_folder(job_id)
            self.update(job_id, disk_bytes=0,
                        message=f"results deleted after {retention_days:g} days (retention)")
        return ids


def _disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
