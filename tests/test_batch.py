"""``accessmap batch``: many runs on a real Dask LocalCluster (2 worker processes).

Results equal the sequential ``pipeline.run``; a failing run fails alone with its message;
re-submitting skips finished runs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import distributed  # a dependency: the tests fail, never skip, without it
import pytest

from accessmap.batch import BATCH_COLUMNS, load_batch, run_batch
from accessmap.config import scenario_from_dict
from accessmap.errors import ConfigError

# the demo without the slow parts of siting: the runs differ in mode and new sites
FAST = {"siting": {"new_sites": 2, "mobile": False}}


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _write_tables(tables: dict[str, Any]) -> str:
    lines = [f"{k} = {_toml(v)}" for k, v in tables.items() if not isinstance(v, dict)]
    for section, table in tables.items():
        if isinstance(table, dict):
            lines.append(f"[{section}]")
            lines += [f"{json.dumps(k)} = {_toml(v)}" for k, v in table.items()
                      if v is not None]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def batch_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scenario file for the demo, and a batch of three runs, one with no network."""
    from accessmap.demo import demo_scenario

    folder = tmp_path_factory.mktemp("batch")
    tables = demo_scenario().to_dict()
    del tables["output"]
    (folder / "demo.toml").write_text(_write_tables(tables), encoding="utf-8")
    (folder / "batch.toml").write_text(
        'out = "runs"\n'
        "[defaults.siting]\nnew_sites = 2\nmobile = false\n"
        '[[runs]]\nname = "walk"\nscenario = "demo.toml"\n'
        '[[runs]]\nname = "drive-3"\nscenario = "demo.toml"\n'
        '[runs.analysis]\nmode = "drive"\n[runs.siting]\nnew_sites = 3\n'
        '[[runs]]\nname = "broken"\nscenario = "demo.toml"\n'
        '[runs.inputs]\nnetwork = "missing.osm"\n', encoding="utf-8")
    return folder / "batch.toml"


@pytest.fixture(scope="module")
def cluster() -> Any:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=None) as local:
        yield local


def _comparable(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary without what depends on when and where it ran (times, the run)."""
    out = {k: v for k, v in summary.items() if k not in ("run", "timings_s")}
    out["siting"] = {k: v for k, v in out["siting"].items() if k != "solver_seconds"}
    return out


def test_batch_equals_sequential_runs_and_fails_alone(
    batch_file: Path, cluster: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    from accessmap.pipeline import run

    out_dir, runs = load_batch(batch_file)
    assert out_dir == batch_file.parent / "runs"
    assert [r.out_dir for r in runs] == [out_dir / n for n in ("walk", "drive-3", "broken")]
    with caplog.at_level(logging.INFO, logger="accessmap.batch"):
        rows = run_batch(runs, out_dir, scheduler=cluster.scheduler_address)
    assert [r["name"] for r in rows] == ["walk", "drive-3", "broken"]
    assert [r["status"] for r in rows] == ["done", "done", "failed"]
    broken = rows[2]["error"]
    assert "missing.osm" in broken and "\n" not in broken
    assert "run broken failed" in caplog.text and "run walk done" in caplog.text
    for r, row in zip(runs[:2], rows[:2], strict=True):
        summary = json.loads((r.out_dir / "summary.json").read_text(encoding="utf-8"))
        alone = run(scenario_from_dict(r.tables).replace(out=tmp_path / r.name))
        assert _comparable(summary) == _comparable(json.loads(json.dumps(alone.summary)))
        assert row["population"] == pytest.approx(summary["population_total"])
        assert 0 <= row["coverage"] <= row["coverage_with_new_sites"] <= 1
    table = (out_dir / "batch_summary.csv").read_text(encoding="utf-8").splitlines()
    assert table[0].split(",") == list(BATCH_COLUMNS) and len(table) == 4
    stored = json.loads((out_dir / "batch_summary.json").read_text(encoding="utf-8"))
    assert [r["status"] for r in stored] == ["done", "done", "failed"]


def test_resubmit_skips_finished_runs(batch_file: Path, cluster: Any) -> None:
    out_dir, runs = load_batch(batch_file)
    if not (out_dir / "walk" / "summary.json").is_file():
        run_batch(runs[:2], out_dir, scheduler=cluster.scheduler_address)
    before = (out_dir / "walk" / "summary.json").stat().st_mtime_ns
    rows = run_batch(runs, out_dir, scheduler=cluster.scheduler_address)
    assert [r["status"] for r in rows] == ["skipped", "skipped", "failed"]
    assert rows[0]["coverage"] is not None
    assert (out_dir / "walk" / "summary.json").stat().st_mtime_ns == before


def test_cli_batch_reports_each_run(batch_file: Path, cluster: Any,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from accessmap.cli import main

    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
    result = CliRunner().invoke(main, ["batch", str(batch_file)])
    assert result.exit_code == 1  # one run failed
    assert "walk: skipped" in result.output or "walk: done" in result.output
    assert "broken: failed" in result.output and "1 of 3 run(s) failed" in result.output


def test_batch_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "b.toml"
    with pytest.raises(ConfigError, match="does not exist"):
        load_batch(path)
    path.write_text('out = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="lists no runs"):
        load_batch(path)
    path.write_text('[[runs]]\nname = "a b"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="needs a name"):
        load_batch(path)
    path.write_text('[[runs]]\nname = "a"\n[[runs]]\nname = "a"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="used twice"):
        load_batch(path)
    path.write_text('[[runs]]\nname = "a"\nscenario = "nope.toml"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"nope\.toml"):
        load_batch(path)
    path.write_text('[[runs]]\nname = "a"\ncolour = 1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown key"):
        load_batch(path)


def _worker_trim(client: Any) -> set[str | None]:
    import os

    return set(client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values())


def test_local_workers_keep_glibc_malloc_trimming(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask's MALLOC_TRIM_THRESHOLD_=65536 (3.4x the page faults of a run) is left out of
    the batch's local workers, also when an earlier cluster left it in this process'
    environment; the environment is given back as it was, and a user's own value is kept."""
    import os

    import dask.config

    from accessmap import batch

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # as an earlier nanny leaves it
    with batch._client(distributed, None, 1) as client:
        assert _worker_trim(client) == {None}
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "65536"
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    own = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 1 << 20}
    with dask.config.set(own), batch._client(distributed, None, 1) as client:
        assert _worker_trim(client) == {str(1 << 20)}
