"""Writing files safely: refuse to replace what exists, stage a folder, write strict JSON/CSV.

Everything a run writes goes through :func:`staged_folder`: files are written into a
staging folder beside the target, which takes the target's place only when complete, so a
failure, a cancellation or a kill leaves the previous folder (or none) in place.
"""

from __future__ import annotations

import ctypes
import errno
import json
import logging
import math
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from accessmap._locks import LockBusy, hold_lock
from accessmap.errors import OutputError

__all__ = ["RUN_RECORD_FILE", "OutputClaim", "check_output_folder", "check_target",
           "claim_output_folder", "is_run_folder", "json_ready", "neutralise_formulas",
           "staged_folder", "write_csv", "write_json", "write_layers"]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- targets
# The run record that marks a folder as an accessmap run folder (``record.FILES.summary``
# holding ``run.record_version``); repeated here because this module sits below the record.
RUN_RECORD_FILE = "summary.json"
COMPARISON_RECORD_FILE = "comparison.json"
_STAGING = "staging-"
_OLD = "old-"
_LOCK = "lock"


@dataclass(frozen=True)
class OutputClaim:
    """What a run saw of its output folder when it started (see :func:`claim_output_folder`).

    :func:`staged_folder` re-checks it under the folder's lock just before the final rename,
    so that a run never silently replaces a folder another run wrote meanwhile.
    """

    path: Path
    overwrite: bool
    inputs: tuple[Path, ...] = ()
    fingerprint: tuple[int, ...] | None = None


def _fingerprint(folder: Path) -> tuple[int, ...] | None:
    """Identity of a folder's content (inode of the folder and of its run record)."""
    try:
        st = folder.stat()
    except OSError:
        return None
    try:
        rec = (folder / RUN_RECORD_FILE).stat()
        return (st.st_dev, st.st_ino, rec.st_ino, rec.st_mtime_ns)
    except OSError:
        return (st.st_dev, st.st_ino)


def is_run_folder(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` holds an accessmap run record (``summary.json`` with
    ``run.record_version``) or comparison (``comparison.json`` with
    ``comparison_version``), of any version."""
    try:
        data = json.loads((Path(folder) / RUN_RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return _is_comparison_folder(Path(folder))
    run = data.get("run") if isinstance(data, dict) else None
    version = run.get("record_version") if isinstance(run, dict) else None
    return isinstance(version, int) and not isinstance(version, bool)


def _is_comparison_folder(folder: Path) -> bool:
    try:
        data = json.loads((folder / COMPARISON_RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    version = data.get("comparison_version") if isinstance(data, dict) else None
    return isinstance(version, int) and not isinstance(version, bool)


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or ".")


def _check_names(path: Path, what: str) -> None:
    """Refuse a name the file system cannot hold (checked before any ``stat``)."""
    try:
        name_max = os.pathconf(Path(path.anchor or "."), "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        name_max = 255
    staged = f".{path.name}.{_STAGING}{os.getpid()}-xxxxxxxx"
    for part in (*path.parts, staged):
        if len(os.fsencode(part)) > name_max:
            raise OutputError(f"cannot write {what} {str(path)[:60]}...: the name "
                              f"{part[:20]}... is longer than this file system allows "
                              f"({name_max} bytes); choose a shorter name")


def _probe_writable(path: Path, what: str) -> None:
    """Check that ``path`` (a file or folder to create) can be written, before any work.

    The nearest existing ancestor must be a folder in which a file can be created (a real
    write, so read-only file systems are caught).
    """
    base = _existing_ancestor(path.parent)
    if not base.is_dir():
        raise OutputError(f"cannot write {what} {path}: {base} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=base, prefix=".accessmap-probe-"):
            pass
    except OSError as err:
        raise OutputError(f"cannot write {what} {path}: {base} is not writable "
                          f"({err.strerror or err}); choose another location") from None


def check_target(path: str | os.PathLike[str], *, overwrite: bool,
                 create_parent: bool = True) -> Path:
    """Refuse to replace an existing output file unless ``overwrite`` is set.

    Parameters
    ----------
    path
        The file to write.
    overwrite
        Replace an existing file.
    create_parent
        Whether a missing parent folder will be created; when False (``map --out``) a
        missing parent is refused.

    Raises
    ------
    OutputError
        ``path`` exists and ``overwrite`` is False, or it is a folder; its parent is a file
        or missing (``create_parent=False``), not writable, or a name is too long.
    """
    target = Path(path)
    _check_names(target, "file")
    if target.is_dir():
        raise OutputError(f"{target} is a folder; give a file path")
    if target.exists() and not overwrite:
        raise OutputError(f"{target} already exists; use --overwrite to replace it")
    if not create_parent and not target.parent.is_dir():
        state = "is a file" if target.parent.exists() else "does not exist"
        raise OutputError(f"cannot write {target}: the folder {target.parent} {state}; "
                          "create it first or choose another path")
    _probe_writable(target, "file")
    return target


def _refusal(out: Path, inputs: Iterable[str | os.PathLike[str]]) -> str | None:
    """Why ``out`` may never be used as an output folder, or None."""
    where = out.resolve()
    if where == Path(where.anchor):
        return "is the root of the file system"
    for name, folder in (("your home folder", Path.home()), ("the current folder", Path.cwd())):
        folder = folder.resolve()
        if where == folder or where in folder.parents:
            return f"is {name}" if where == folder else f"holds {name} ({folder})"
    if where.is_dir() and os.path.ismount(where):
        return "is a mount point"
    for item in inputs:
        source = Path(item).resolve()
        if where == source or where in source.parents:
            return f"holds the input {item}"
    return None


def check_output_folder(out_dir: str | os.PathLike[str], *, overwrite: bool,
                        inputs: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """Refuse an output folder that must not be written, before any work.

    A non-empty folder is replaced only with ``overwrite`` and only if it is an accessmap
    run folder (:func:`is_run_folder`); ``/``, the home or current folder (or a folder
    holding them), a mount point and a folder holding one of ``inputs`` are always refused.
    The location is probed for writing, and debris of a killed run is cleaned up.

    Raises
    ------
    OutputError
        One of the above, the path is a file, its parent is a file, it is not writable,
        its name is too long, or another run is writing it.
    """
    out = Path(out_dir)
    _check_folder(out, overwrite=overwrite, inputs=inputs, probe=True)
    if out.parent.is_dir():
        with _locked(out, wait=False):
            _clean_debris(out)
    _check_folder(out, overwrite=overwrite, inputs=inputs, probe=False)  # after a restore
    return out


def _check_folder(out: Path, *, overwrite: bool, inputs: Iterable[str | os.PathLike[str]],
                  probe: bool) -> None:
    _check_names(out, "output folder")
    reason = _refusal(out, inputs)
    if reason is not None:
        raise OutputError(f"output folder {out} {reason}; accessmap never replaces it: "
                          "choose a new folder for --out")
    if out.exists() and not out.is_dir():
        raise OutputError(f"output path {out} is a file; give a folder path")
    if probe:
        _probe_writable(out, "output folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise OutputError(
                f"output folder {out} already exists; use --overwrite to replace it or "
                "choose another --out"
            )
        if not is_run_folder(out):
            raise OutputError(
                f"output folder {out} is not an accessmap run folder (no {RUN_RECORD_FILE} "
                "with run.record_version); --overwrite replaces only run folders: "
                "choose another --out"
            )


def claim_output_folder(out_dir: str | os.PathLike[str], *, overwrite: bool,
                        inputs: Iterable[str | os.PathLike[str]] = ()) -> OutputClaim:
    """Check an output folder (:func:`check_output_folder`) and note what it holds now.

    Pass the claim to :func:`staged_folder`: if another run wrote the folder meanwhile,
    the final rename is refused instead of silently replacing that run's results.
    """
    sources = tuple(Path(p) for p in inputs)
    out = check_output_folder(out_dir, overwrite=overwrite, inputs=sources)
    return OutputClaim(out, overwrite, sources, _fingerprint(out))


def _sibling(out: Path, kind: str, token: str = "") -> Path:
    return out.parent / f".{out.name}.{kind}{token}"


@contextmanager
def _locked(out: Path, *, wait: bool) -> Iterator[None]:
    """Hold the lock file beside ``out`` (``.<name>.lock``, see :func:`hold_lock`), removed
    on release.

    Raises
    ------
    OutputError
        Another process holds it (``wait=False``).
    """
    path = _sibling(out, _LOCK)
    with ExitStack() as stack:
        try:
            stack.enter_context(hold_lock(path, wait=wait))
        except LockBusy:
            raise OutputError(f"another accessmap run is writing {out} (lock {path}); "
                              "wait for it to finish or choose another --out") from None
        yield


def _clean_debris(out: Path) -> None:
    """Remove what killed runs left beside ``out`` (caller holds the lock).

    A folder moved aside by an overwrite that was killed before the new folder took its
    place is moved back, so that the old folder is never lost.
    """
    staged, old = f".{out.name}.{_STAGING}", f".{out.name}.{_OLD}"
    for entry in sorted(out.parent.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(old) and entry.is_dir() and not out.exists():
            os.replace(entry, out)
            logger.warning("restored %s from %s (an interrupted overwrite)", out, entry.name)
        elif entry.name.startswith((staged, old)):
            logger.info("removing %s, left by an interrupted run", entry)
            _remove(entry)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _exchange(first: Path, second: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False if the
    system or file system cannot, so that the caller falls back to two renames."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second),
                 rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))


class _Interrupts:
    """SIGTERM and SIGINT as exceptions (so cleanup code runs), held back while
    :attr:`held` is set (the final renames), whichever thread the signal reached."""

    def __init__(self) -> None:
        self.held = False
        self.pending: int | None = None

    def __call__(self, signum: int, frame: object) -> None:
        if self.held:
            self.pending = signum
            return
        self.raise_for(signum)

    @staticmethod
    def raise_for(signum: int) -> None:
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    @contextmanager
    def installed(self) -> Iterator[_Interrupts]:
        """Install for the signals that still have their default handler."""
        defaults: dict[int, Any] = {signal.SIGTERM: signal.SIG_DFL,
                                    signal.SIGINT: signal.default_int_handler}
        ours = ([] if threading.current_thread() is not threading.main_thread() else
                [s for s, default in defaults.items() if signal.getsignal(s) is default])
        for signum in ours:
            signal.signal(signum, self)
        try:
            yield self
        finally:
            for signum in ours:
                signal.signal(signum, defaults[signum])

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Defer the signals until the block ends, then raise for the first one."""
        self.held = True
        try:
            yield
        finally:
            self.held = False
        if self.pending is not None:
            self.raise_for(self.pending)


def _commit(stage: Path, out: Path, claim: OutputClaim | None, overwrite: bool,
            interrupts: _Interrupts) -> None:
    """Put the finished ``stage`` in place of ``out`` (caller holds the lock)."""
    inputs = claim.inputs if claim is not None else ()
    _check_folder(out, overwrite=overwrite, inputs=inputs, probe=False)  # nothing changed?
    if claim is not None and _fingerprint(out) != claim.fingerprint:
        raise OutputError(f"output folder {out} was written by another run while this one "
                          "was computing; this run's results were not saved: run it again "
                          "or choose another --out")
    aside: Path | None = None
    with interrupts.holding():
        if not out.exists():
            os.replace(stage, out)
        elif not _exchange(stage, out):  # old and new swap at once: never neither
            aside = _sibling(out, _OLD, f"{os.getpid()}-{secrets.token_hex(4)}")
            os.replace(out, aside)  # a kill -9 here is undone by _clean_debris next time
            try:
                os.replace(stage, out)
            except BaseException:
                os.replace(aside, out)
                raise
    if aside is not None:
        _remove(aside)


@contextmanager
def staged_folder(out_dir: str | os.PathLike[str], *, overwrite: bool,
                  claim: OutputClaim | None = None) -> Iterator[Path]:
    """Yield a staging folder that replaces ``out_dir`` only if the block succeeds.

    The staging folder sits beside the target (``.<name>.staging-*``, with the permissions
    of the user's umask) and the target's lock file is held throughout, so two runs never
    write one folder at once; at the end the target is re-checked and the staging folder
    takes its place in one atomic exchange (or, where the system has none, two renames
    whose interruption the next run undoes). A failure, SIGTERM or a cancellation removes
    the staging folder; after a kill -9 the next run removes it.

    Parameters
    ----------
    claim
        What :func:`claim_output_folder` saw when the run started; the final rename is
        refused if another run has written the folder since.

    Examples
    --------
    >>> with staged_folder(tmp / "out", overwrite=False) as stage:  # doctest: +SKIP
    ...     (stage / "summary.json").write_text("{}")
    """
    out = Path(out_dir)
    check_output_folder(out, overwrite=overwrite, inputs=claim.inputs if claim else ())
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create {out.parent}: {err.strerror or err}") from None
    with _Interrupts().installed() as interrupts, _locked(out, wait=False):
        _clean_debris(out)
        stage = _sibling(out, _STAGING, f"{os.getpid()}-{secrets.token_hex(4)}")
        os.mkdir(stage, 0o777)  # the umask applies (tempfile.mkdtemp would make it 0700)
        try:
            yield stage
            _commit(stage, out, claim, overwrite, interrupts)
        finally:
            if stage.exists():
                _remove(stage)


def json_ready(value: Any) -> Any:
    """Convert numpy scalars, paths and non-finite floats into JSON-safe values.

    Non-finite numbers become ``None`` so that no sentinel (inf, 4294967.295) leaks out.
    """
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as indented UTF-8 JSON (strict: no NaN/Infinity)."""
    path.write_text(json.dumps(json_ready(data), indent=2, ensure_ascii=False,
                               allow_nan=False) + "\n", encoding="utf-8")


def write_csv(path: Path, table: pd.DataFrame) -> None:
    """Write a table as CSV; missing values stay empty, never sentinel numbers.

    Floats keep six significant digits (the values of ``%.6g``) but are written in plain
    positional notation, never scientific (``1234570``, not ``1.23457e+06``), so a
    spreadsheet shows them as people read them.

    Text cells (of object or string columns) that a spreadsheet would run as a formula
    are neutralised (:func:`neutralise_formulas`); numbers such as -5.0 stay numbers.
    """
    table = neutralise_formulas(table)
    table.to_csv(path, index=False, float_format=_plain_float)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _neutral(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def neutralise_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """Prefix with ``'`` every text cell that begins with ``= + - @``, a tab or a carriage
    return, as OWASP recommends against CSV injection; number columns are left alone.

    Examples
    --------
    >>> neutralise_formulas(pd.DataFrame({"name": ["=1+1", "Moroni"], "x": [-5.0, 1.0]}))
         name    x
    0   '=1+1 -5.0
    1  Moroni  1.0
    """
    text = [c for c in table.columns
            if pd.api.types.is_object_dtype(table[c]) or pd.api.types.is_string_dtype(table[c])]
    renamed = {c: _neutral(c) for c in table.columns if _neutral(c) != c}
    if not text and not renamed:
        return table
    out = table.copy()
    for column in text:
        out[column] = out[column].map(_neutral)
    return out.rename(columns=renamed)


def _plain_float(value: float) -> str:
    """Six significant digits, positional: the value of ``"%.6g" % value``, no exponent.

    Examples
    --------
    >>> _plain_float(1234567.0), _plain_float(1.5e-7), _plain_float(3.0)
    ('1234570', '0.00000015', '3')
    """
    if not math.isfinite(value):
        return format(value, ".6g")
    return str(np.format_float_positional(value, precision=6, unique=False, fractional=False,
                                          trim="-"))


def write_layers(path: Path, layers: Mapping[str, gpd.GeoDataFrame | None]) -> None:
    """Write each non-empty GeoDataFrame as a named layer of one GeoPackage."""
    for name, frame in layers.items():
        if frame is None or frame.empty:
            logger.info("layer %s is empty; not written", name)
            continue
        frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
