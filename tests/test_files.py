"""Output files: what ``--overwrite`` may replace, probes, locks, atomic staging, CSV text."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from accessmap import _files
from accessmap._files import (
    RUN_RECORD_FILE,
    check_output_folder,
    check_target,
    claim_output_folder,
    is_run_folder,
    neutralise_formulas,
    staged_folder,
    write_csv,
)
from accessmap.errors import OutputError
from accessmap.schemas.names import FILES
from accessmap.schemas.summary import RECORD_VERSION


def _run_folder(folder: Path, title: str = "old") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RUN_RECORD_FILE).write_text(
        json.dumps({"run": {"record_version": RECORD_VERSION}, "title": title}), "utf-8")
    return folder


def _title(folder: Path) -> str:
    return str(json.loads((folder / RUN_RECORD_FILE).read_text("utf-8"))["title"])


def test_the_run_record_name_is_the_records() -> None:
    assert FILES.summary == RUN_RECORD_FILE


# --------------------------------------------------------------------- what may be replaced


def test_overwrite_replaces_a_run_folder(tmp_path: Path) -> None:
    out = _run_folder(tmp_path / "run")
    with staged_folder(out, overwrite=True) as stage:
        _run_folder(stage, "new")
    assert _title(out) == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


@pytest.mark.parametrize("summary", [None, "{}", "not json", '{"run": {"record_version": true}}'])
def test_overwrite_refuses_a_folder_that_is_not_a_run_folder(tmp_path: Path,
                                                            summary: str | None) -> None:
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.docx").write_text("years of work", "utf-8")
    if summary is not None:
        (out / RUN_RECORD_FILE).write_text(summary, "utf-8")
    assert not is_run_folder(out)
    with pytest.raises(OutputError, match=r"is not an accessmap run folder .* choose another"):
        check_output_folder(out, overwrite=True)
    with pytest.raises(OutputError, match="is not an accessmap run folder"), \
            staged_folder(out, overwrite=True):
        pytest.fail("never reached")  # pragma: no cover
    assert (out / "chapter1.docx").read_text("utf-8") == "years of work"


def test_a_folder_holding_an_input_is_refused_even_as_a_run_folder(tmp_path: Path) -> None:
    out = _run_folder(tmp_path / "run")
    source = out / "facilities.geojson"
    source.write_text("{}", "utf-8")
    with pytest.raises(OutputError, match=r"holds the input .*facilities\.geojson"):
        check_output_folder(out, overwrite=True, inputs=[source])
    with pytest.raises(OutputError, match="holds the input"):
        check_output_folder(tmp_path, overwrite=True, inputs=[source])


@pytest.mark.parametrize(("where", "reason"), [
    (lambda tmp: Path("/"), "is the root of the file system"),
    (lambda tmp: Path.home(), "is your home folder"),
    (lambda tmp: Path("."), "is the current folder"),
    (lambda tmp: tmp.parent, "holds the current folder"),
    (lambda tmp: Path("/proc"), "is a mount point"),
])
def test_special_folders_are_never_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            where: object, reason: str) -> None:
    monkeypatch.chdir(tmp_path)
    target = where(tmp_path)  # type: ignore[operator]
    with pytest.raises(OutputError, match=reason):
        check_output_folder(target, overwrite=True)


# --------------------------------------------------------------------- probes before the work


def test_a_parent_that_is_a_file_is_found_before_the_work(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x", "utf-8")
    with pytest.raises(OutputError, match=r"notes\.txt is a file, not a folder"):
        check_output_folder(tmp_path / "notes.txt" / "run", overwrite=False)
    with pytest.raises(OutputError, match=r"notes\.txt is a file, not a folder"):
        check_target(tmp_path / "notes.txt" / "map.html", overwrite=False)


def test_a_name_too_long_is_found_before_the_work(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="longer than this file system allows"):
        check_output_folder(tmp_path / ("r" * 300), overwrite=False)
    with pytest.raises(OutputError, match="longer than this file system allows"):
        check_target(tmp_path / ("m" * 300 + ".html"), overwrite=False)


def test_an_unwritable_location_is_found_before_the_work(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(_files.tempfile, "TemporaryFile", refuse)
    with pytest.raises(OutputError, match=r"is not writable \(Read-only file system\)"):
        check_output_folder(tmp_path / "run", overwrite=False)


def test_map_out_needs_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"the folder .*nowhere does not exist; create it"):
        check_target(tmp_path / "nowhere" / "map.html", overwrite=False, create_parent=False)
    assert check_target(tmp_path / "map.html", overwrite=False, create_parent=False)


# --------------------------------------------------------------------- staging, locks, debris


def test_output_folders_follow_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        with staged_folder(tmp_path / "run", overwrite=False) as stage:
            _run_folder(stage)
    finally:
        os.umask(previous)
    assert (tmp_path / "run").stat().st_mode & 0o777 == 0o755


def test_a_second_run_on_the_same_folder_fails_clearly(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with staged_folder(out, overwrite=False) as stage:
        _run_folder(stage, "first")
        with pytest.raises(OutputError, match="another accessmap run is writing"):
            check_output_folder(out, overwrite=True)
        with pytest.raises(OutputError, match="another accessmap run is writing"), \
                staged_folder(out, overwrite=True):
            pytest.fail("never reached")  # pragma: no cover
    assert _title(out) == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_a_run_never_replaces_what_another_wrote_meanwhile(tmp_path: Path) -> None:
    out = tmp_path / "run"
    claim = claim_output_folder(out, overwrite=True)  # run A starts: no folder yet
    with staged_folder(out, overwrite=True) as stage:  # run B finishes first
        _run_folder(stage, "B")
    with pytest.raises(OutputError, match="was written by another run while this one"), \
            staged_folder(out, overwrite=True, claim=claim) as stage:
        _run_folder(stage, "A")
    assert _title(out) == "B"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    again = claim_output_folder(out, overwrite=True)
    with staged_folder(out, overwrite=True, claim=again) as stage:
        _run_folder(stage, "A")
    assert _title(out) == "A"


def test_the_next_run_cleans_debris_and_restores_an_interrupted_overwrite(
        tmp_path: Path) -> None:
    (tmp_path / ".run.staging-1-ab").mkdir()
    _run_folder(tmp_path / ".run.old-1-cd", "old")  # killed between the two renames
    (tmp_path / ".run.lock").write_text("", "utf-8")  # stale lock of a kill -9
    (tmp_path / ".other.staging-1").mkdir()  # another target's: not ours to touch
    out = check_output_folder(tmp_path / "run", overwrite=True)
    assert _title(out) == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.staging-1", "run"]


def test_a_failed_block_leaves_the_old_folder_and_no_debris(tmp_path: Path) -> None:
    out = _run_folder(tmp_path / "run")
    with pytest.raises(RuntimeError, match="boom"), staged_folder(out, overwrite=True) as stage:
        _run_folder(stage, "new")
        raise RuntimeError("boom")
    assert _title(out) == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
def test_overwrite_works_with_and_without_an_atomic_exchange(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool) -> None:
    if not exchange:
        monkeypatch.setattr(_files, "_exchange", lambda first, second: False)
    out = _run_folder(tmp_path / "run")
    with staged_folder(out, overwrite=True) as stage:
        _run_folder(stage, "new")
    assert _title(out) == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


_CHILD = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    from accessmap import _files

    out, phase, exchange = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
    if not exchange:
        _files._exchange = lambda first, second: False

    def pause(name):
        if name == phase:
            print(name, flush=True)
            time.sleep(3)

    real_replace, real_remove = os.replace, _files._remove

    def replace(src, dst):
        real_replace(src, dst)
        if Path(dst).name.startswith(".run.old-"):
            pause("between-renames")

    def remove(path):
        pause("removing-old")
        real_remove(path)

    os.replace, _files._remove = replace, remove
    with _files.staged_folder(out, overwrite=True) as stage:
        (stage / "summary.json").write_text(
            json.dumps({"run": {"record_version": 1}, "title": "new"}))
        pause("staging")
    print("done", flush=True)
""")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
@pytest.mark.parametrize(("phase", "exchange"), [
    ("staging", True), ("removing-old", True), ("between-renames", False),
    ("removing-old", False)])
def test_a_kill_at_any_phase_loses_nothing_and_leaves_no_debris(
        tmp_path: Path, sig: signal.Signals, phase: str, exchange: bool) -> None:
    out = _run_folder(tmp_path / "run", "old")
    with subprocess.Popen([sys.executable, "-c", _CHILD, str(out), phase,
                           "1" if exchange else "0"], stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == phase
        child.send_signal(sig)
        child.wait(timeout=30)
    assert child.returncode != 0
    if exchange or sig == signal.SIGTERM:  # SIGTERM waits for the renames to finish
        assert _title(out) in {"old", "new"}
    check_output_folder(out, overwrite=True)  # the next run
    assert _title(out) in {"old", "new"}
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


# --------------------------------------------------------------------- CSV formula injection


def test_csv_text_cells_cannot_run_as_formulas(tmp_path: Path) -> None:
    table = pd.DataFrame({
        "name": ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tTab", "Moroni"],
        "change": [-5.0, 1.0, 2.0, 3.0, 4.0, 5.0],
        "count": [-1, 0, 1, 2, 3, 4],
    })
    write_csv(tmp_path / "t.csv", table)
    back = pd.read_csv(tmp_path / "t.csv", keep_default_na=False)
    assert back["name"].tolist() == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)",
                                     "'\tTab", "Moroni"]
    assert back["change"].tolist() == [-5.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert back["count"].tolist() == [-1, 0, 1, 2, 3, 4]
    assert table["name"][0].startswith("=")  # the caller's table is untouched


def test_neutralising_keeps_a_table_without_text() -> None:
    table = pd.DataFrame({"x": [-1.0]})
    assert neutralise_formulas(table) is table
