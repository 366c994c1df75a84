"""Lock files without fcntl (issue 13): the pid-file fallback, forced on this system."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from accessmap import _locks
from accessmap._files import RUN_RECORD_FILE, check_output_folder, staged_folder
from accessmap._locks import LockBusy, hold_lock
from accessmap.errors import OutputError
from accessmap.schemas.summary import RECORD_VERSION


@pytest.fixture
def pidfile(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run as on a system with neither fcntl nor msvcrt."""
    monkeypatch.setattr(_locks, "BACKEND", "pidfile")


def _write_run(folder: Path, title: str) -> None:
    (folder / RUN_RECORD_FILE).write_text(
        json.dumps({"run": {"record_version": RECORD_VERSION}, "title": title}), "utf-8")


def _title(folder: Path) -> str:
    return str(json.loads((folder / RUN_RECORD_FILE).read_text("utf-8"))["title"])


# A second process holding the folder's lock with the pid-file fallback until stdin closes.
_HOLDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from accessmap import _files, _locks
    _locks.BACKEND = "pidfile"
    with _files.staged_folder(Path(sys.argv[1]), overwrite=False) as stage:
        print("holding", flush=True)
        sys.stdin.read()
        (stage / "summary.json").write_text('{"run": {"record_version": 1}, "title": "A"}')
""")


def _holder(out: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    child = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "holding"
    return child


@pytest.mark.usefixtures("pidfile")
def test_a_second_run_fails_clearly_while_another_process_holds_the_folder(
        tmp_path: Path) -> None:
    out = tmp_path / "run"
    child = _holder(out)
    try:
        lock = tmp_path / ".run.lock"
        assert lock.read_text("utf-8").split()[0] == str(child.pid)
        with pytest.raises(OutputError, match=r"another accessmap run is writing .*run"):
            check_output_folder(out, overwrite=True)
        with pytest.raises(OutputError, match="another accessmap run is writing"), \
                staged_folder(out, overwrite=True):
            pytest.fail("never reached")  # pragma: no cover
    finally:
        child.communicate("", timeout=30)
    assert child.returncode == 0
    assert _title(out) == "A"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # the lock file is gone
    with staged_folder(out, overwrite=True) as stage:  # free again
        _write_run(stage, "B")
    assert _title(out) == "B"


@pytest.mark.usefixtures("pidfile")
def test_a_lock_left_by_a_killed_run_is_taken_over(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "run"
    child = _holder(out)
    child.send_signal(signal.SIGKILL)  # kill -9: the lock file stays behind
    child.communicate(timeout=30)
    lock = tmp_path / ".run.lock"
    assert lock.read_text("utf-8").split()[0] == str(child.pid)
    with staged_folder(out, overwrite=False) as stage:
        _write_run(stage, "after the kill")
    assert _title(out) == "after the kill"
    assert f"left by process {child.pid}, which no longer runs" in caplog.text
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


@pytest.mark.usefixtures("pidfile")
def test_an_empty_lock_file_is_held_while_fresh_and_stale_when_old(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    lock.write_text("", "utf-8")  # an owner between creating and writing it
    with pytest.raises(LockBusy), hold_lock(lock, wait=False):
        pytest.fail("never reached")  # pragma: no cover
    old = time.time() - 2 * _locks.UNREADABLE_STALE_S
    os.utime(lock, (old, old))  # ... or a kill -9 of an fcntl run long ago
    with hold_lock(lock, wait=False):
        assert lock.read_text("utf-8").split()[0] == str(os.getpid())
    assert not lock.exists()


@pytest.mark.usefixtures("pidfile")
def test_a_lock_of_another_host_is_never_taken_over(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    lock.write_text("1 some-other-host\n", "utf-8")
    old = time.time() - 3600
    os.utime(lock, (old, old))
    with pytest.raises(LockBusy), hold_lock(lock, wait=False):
        pytest.fail("never reached")  # pragma: no cover
    assert lock.read_text("utf-8") == "1 some-other-host\n"


@pytest.mark.parametrize("backend", ["pidfile", "fcntl"])
def test_a_waiting_claim_gets_the_lock_when_the_holder_releases_it(
        tmp_path: Path, backend: str) -> None:
    lock = tmp_path / "x.lock"
    order: list[str] = []
    held = threading.Event()

    def first() -> None:
        with hold_lock(lock, wait=False, backend=backend):
            order.append("first in")
            held.set()
            time.sleep(0.3)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    assert held.wait(10)
    with hold_lock(lock, wait=True, backend=backend):
        order.append("second in")
    thread.join()
    assert order == ["first in", "first out", "second in"]
    assert not lock.exists()


def test_the_backend_is_the_best_the_system_has() -> None:
    assert _locks.BACKEND == "fcntl"  # Linux, where these tests run
    with pytest.raises(ValueError, match="lock backend 'nfs' is unknown"), \
            hold_lock(Path("x"), wait=False, backend="nfs"):
        pytest.fail("never reached")  # pragma: no cover
