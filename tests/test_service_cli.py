"""``accessmap serve`` options: the datasets file, the limits, and their validation (the
server itself is replaced by a stub that records its settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import accessmap.service
from accessmap.cli import main
from accessmap.service.settings import ServiceSettings, load_datasets_file


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[tuple[ServiceSettings, dict[str, Any]]]:
    calls: list[tuple[ServiceSettings, dict[str, Any]]] = []
    monkeypatch.setattr(accessmap.service, "serve",
                        lambda settings, **kw: calls.append((settings, kw)))
    return calls


def _scenario(folder: Path, name: str, title: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f'title = "{title}"\n[inputs]\nnetwork = "roads.osm"\n'
                    '[analysis]\nmode = "drive"\n', encoding="utf-8")
    return path


def test_datasets_file_paths_are_relative_to_it(tmp_path: Path, started: list[Any]) -> None:
    _scenario(tmp_path / "conf" / "scenarios", "north.toml", "North")
    _scenario(tmp_path / "elsewhere", "south.toml", "South")
    datasets = tmp_path / "conf" / "datasets.toml"
    datasets.write_text('# name = scenario\nnorth = "scenarios/north.toml"\n'
                        f'south = "{tmp_path / "elsewhere" / "south.toml"}"\n')
    extra = _scenario(tmp_path, "east.toml", "East")
    result = CliRunner().invoke(main, ["serve", "--datasets-file", str(datasets),
                                       "--dataset", f"east={extra}", "--data-dir",
                                       str(tmp_path / "d"), "--port", "8123"])
    assert result.exit_code == 0, result.output
    settings, kw = started[0]
    assert kw == {"host": "127.0.0.1", "port": 8123}
    assert sorted(settings.datasets) == ["demo", "east", "north", "south"]
    north = settings.datasets["north"].scenario
    assert north.title == "North" and north.analysis.mode == "drive"
    assert north.inputs.network == tmp_path / "conf" / "scenarios" / "roads.osm"


@pytest.mark.parametrize(("text", "match"), [
    ("north = 3\n", "must be a scenario file path"),
    ("north = [\n", "cannot read it"),
    ("", "names no dataset"),
    ('north = "missing.toml"\n', "north"),
    ('"bad name" = "x.toml"\n', "bad name"),
])
def test_bad_datasets_files(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "datasets.toml"
    path.write_text(text)
    if match == "bad name":
        _scenario(tmp_path, "x.toml", "X")
    with pytest.raises(ValueError, match=match):
        load_datasets_file(path)


def test_limit_options_reach_the_settings(tmp_path: Path, started: list[Any]) -> None:
    result = CliRunner().invoke(main, [
        "serve", "--data-dir", str(tmp_path), "--budget", "1e6", "--sync-max-units", "1000",
        "--sync-timeout", "3", "--cancel-grace", "2.5", "--max-upload-mb", "1.5",
        "--max-upload-cells", "1000", "--max-uploads", "3", "--no-cache",
        "--max-queued", "2", "--retention-days", "0"])
    assert result.exit_code == 0, result.output
    s = started[0][0]
    assert (s.budget_units, s.sync_max_units, s.sync_timeout_s, s.cancel_grace_s) == \
        (1e6, 1000, 3, 2.5)
    assert (s.max_upload_bytes, s.max_upload_cells, s.max_uploads_per_key) == \
        (1_572_864, 1000, 3)
    assert (s.cache, s.max_queued_per_key, s.retention_days) == (False, 2, 0)
    assert started[0][0].data_dir == tmp_path
    defaults = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path)])
    assert defaults.exit_code == 0 and started[1][0].cache and \
        started[1][0].cancel_grace_s == ServiceSettings().cancel_grace_s


@pytest.mark.parametrize(("args", "match"), [
    (["--budget", "0"], "--budget"),
    (["--budget", "-5"], "--budget"),
    (["--budget", "nan"], "budget_units"),
    (["--budget", "inf"], "budget_units"),
    (["--sync-max-units", "0"], "--sync-max-units"),
    (["--sync-timeout", "0"], "--sync-timeout"),
    (["--cancel-grace", "-1"], "--cancel-grace"),
    (["--cancel-grace", "nan"], "cancel_grace_s"),
    (["--max-upload-mb", "0"], "--max-upload-mb"),
    (["--max-upload-cells", "0"], "--max-upload-cells"),
    (["--max-uploads", "0"], "--max-uploads"),
    (["--dataset", "demo2=nowhere.toml", "--dataset", "demo2=nowhere.toml"], "nowhere"),
    (["--dataset", "up-x=x.toml"], "reserved"),
    (["--datasets-file", "missing.toml"], "cannot read it"),
])
def test_bad_options_are_refused(tmp_path: Path, started: list[Any], args: list[str],
                                 match: str) -> None:
    if "up-x=x.toml" in args:
        _scenario(tmp_path, "x.toml", "X")
        args = ["--dataset", f"up-x={tmp_path / 'x.toml'}"]
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path), *args])
    assert result.exit_code != 0 and not started
    assert match in result.output, result.output


def test_the_same_name_twice_is_refused(tmp_path: Path, started: list[Any]) -> None:
    scenario = _scenario(tmp_path, "a.toml", "A")
    (tmp_path / "datasets.toml").write_text('north = "a.toml"\n')
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path / "d"),
                                       "--datasets-file", str(tmp_path / "datasets.toml"),
                                       "--dataset", f"north={scenario}"])
    assert result.exit_code == 1 and "registered twice" in result.output and not started
