"""The command line: outputs, flags overriding the scenario file, clear one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from accessmap.cli import main


def invoke(*args: str) -> object:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def world_args(world: dict[str, Path]) -> list[str]:
    return ["--network", str(world["network"]), "--population", str(world["population"]),
            "--facilities", str(world["facilities"])]


def test_run_writes_outputs_and_flags_override_scenario(tiny_world: dict[str, Path]) -> None:
    scenario = tiny_world["dir"] / "scenario.toml"
    scenario.write_text('[analysis]\nthresholds_min = [90]\n[siting]\nnew_sites = 3\n')
    out = tiny_world["dir"] / "out"
    result = invoke("run", scenario, *world_args(tiny_world), "--thresholds", "15,30",
                    "--new-sites", "1", "--exclude", "amenity=pharmacy", "--out", out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert [c["threshold_min"] for c in summary["coverage"]] == [15, 30]
    assert summary["facilities_used"] == 1
    assert len(summary["recommended_sites"]) <= 1
    assert summary["run"]["settings"]["facilities"]["exclude"] == {"amenity": ["pharmacy"]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--thresholds", "30,-5"], "positive number"),
        (["--thresholds", "thirty"], "not a number"),
        (["--exclude", "pharmacy"], "COLUMN=VALUE"),
        (["--exclude", "colour=red"], "no column 'colour'"),
    ],
)
def test_bad_options_give_one_clear_line(tiny_world: dict[str, Path], args: list[str],
                                         message: str) -> None:
    out = tiny_world["dir"] / "bad"
    result = invoke("run", *world_args(tiny_world), *args, "--out", out)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_missing_file_is_named(tiny_world: dict[str, Path]) -> None:
    args = world_args(tiny_world)
    args[args.index("--population") + 1] = str(tiny_world["dir"] / "nope.tif")
    result = invoke("run", *args, "--out", tiny_world["dir"] / "o")
    assert result.exit_code == 1
    assert "nope.tif does not exist" in result.output


def test_raster_without_crs_is_refused(tiny_world: dict[str, Path]) -> None:
    from tests.conftest import write_raster

    bad = write_raster(tiny_world["dir"] / "nocrs.tif", [[1.0]], west=33.0, north=-13.8,
                       size_deg=0.01, crs=None)
    args = world_args(tiny_world)
    args[args.index("--population") + 1] = str(bad)
    result = invoke("run", *args, "--out", tiny_world["dir"] / "o")
    assert result.exit_code == 1
    assert "no coordinate reference system" in result.output


def test_facilities_without_geometry_are_refused(tiny_world: dict[str, Path]) -> None:
    bad = tiny_world["dir"] / "empty.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "x"}, "geometry": None}]}))
    args = world_args(tiny_world)
    args[args.index("--facilities") + 1] = str(bad)
    result = invoke("run", *args, "--out", tiny_world["dir"] / "o")
    assert result.exit_code == 1
    assert "no facility with a usable point geometry" in result.output


def test_existing_output_needs_overwrite(tiny_world: dict[str, Path]) -> None:
    out = tiny_world["dir"] / "out"
    assert invoke("run", *world_args(tiny_world), "--out", out).exit_code == 0
    again = invoke("run", *world_args(tiny_world), "--out", out)
    assert again.exit_code == 1
    assert "--overwrite" in again.output
    assert invoke("run", *world_args(tiny_world), "--out", out, "--overwrite").exit_code == 0


def test_demo_runs_on_the_embedded_synthetic_district(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = invoke("demo", "--out", out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["synthetic_data"] is True
    assert 100_000 < summary["population_total"] < 200_000
    assert summary["recommended_sites"]
    assert "SYNTHETIC" in (out / "map.html").read_text(encoding="utf-8")


def test_boundaries_flag_gives_by_area_table(tiny_world: dict[str, Path]) -> None:
    from tests.conftest import KM_LON, TINY_LAT, TINY_LON0

    west, east = TINY_LON0 - KM_LON, TINY_LON0 + 1.5 * KM_LON
    polygon = [[west, TINY_LAT - 0.05], [east, TINY_LAT - 0.05], [east, TINY_LAT + 0.05],
               [west, TINY_LAT + 0.05], [west, TINY_LAT - 0.05]]
    areas = tiny_world["dir"] / "areas.geojson"
    areas.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "West"},
         "geometry": {"type": "Polygon", "coordinates": [polygon]}}]}))
    out = tiny_world["dir"] / "out"
    result = invoke("run", *world_args(tiny_world), "--boundaries", areas, "--thresholds",
                    "15", "--exclude", "amenity=pharmacy", "--out", out)
    assert result.exit_code == 0, result.output
    rows = {r["area"]: r for r in json.loads((out / "summary.json").read_text())[
        "coverage_by_area"]}
    # cells at km 0 and km 1 (100 + 200 people, 0 and 12 min) fall in "West"
    assert rows["West"]["population"] == pytest.approx(300)
    assert rows["West"]["share_15min"] == pytest.approx(1.0)


def test_admin_level_out_of_range(tiny_world: dict[str, Path]) -> None:
    result = invoke("run", *world_args(tiny_world), "--admin-level", "20")
    assert result.exit_code == 2
    assert "--admin-level" in result.output


def _comparable(out: Path) -> dict[str, object]:
    """The summary without the run record's source and the timings (solver time too)."""
    summary = json.loads((out / "summary.json").read_text())
    summary.get("siting", {}).pop("solver_seconds", None)
    return {k: v for k, v in summary.items() if k not in ("run", "timings_s")}


@pytest.mark.slow
def test_options_only_give_the_same_run_as_the_scenario_file(tmp_path: Path) -> None:
    """The README's promise, on the demo data: a scenario file and options only agree."""
    from accessmap.demo import DEMO_FILES, demo_data_dir

    data = demo_data_dir()
    files = {role: (data / name).as_posix() for role, name in DEMO_FILES.items()}
    scenario = tmp_path / "demo.toml"
    scenario.write_text(f"""title = "Demo: walking access"
[inputs]
network = "{files['network']}"
population = "{files['population']}"
facilities = "{files['facilities']}"
boundaries = "{files['boundaries']}"
boundary_name_column = "name"
[analysis]
mode = "walk"
thresholds_min = [30, 60, 120]
[facilities]
exclude = {{ amenity = ["pharmacy"] }}
[siting]
new_sites = 6
threshold_min = 60
satellite_min_population = 6000
""")
    first = invoke("run", scenario, "--out", tmp_path / "file")
    assert first.exit_code == 0, first.output
    second = invoke(
        "run", "--network", files["network"], "--population", files["population"],
        "--facilities", files["facilities"], "--boundaries", files["boundaries"],
        "--set", "inputs.boundary_name_column=name", "--exclude", "amenity=pharmacy",
        "--mode", "walk", "--thresholds", "30,60,120", "--new-sites", "6",
        "--site-threshold", "60", "--satellite-min-population", "6000",
        "--title", "Demo: walking access", "--out", tmp_path / "options", "-q")
    assert second.exit_code == 0, second.output
    assert _comparable(tmp_path / "file") == _comparable(tmp_path / "options")
    kinds = {s["kind"] for s in _comparable(tmp_path / "file")["recommended_sites"]}  # type: ignore[index]
    assert kinds == {"satellite_clinic", "mobile_unit_stop"}


def test_set_reaches_any_setting_and_is_validated(tiny_world: dict[str, Path]) -> None:
    out = tiny_world["dir"] / "set"
    result = invoke("run", *world_args(tiny_world), "--set", "siting.new_sites=0",
                    "--set", "analysis.thresholds_min=[15, 45]", "--set", "title=Set 'me'",
                    "--out", out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert [c["threshold_min"] for c in summary["coverage"]] == [15, 45]
    assert summary["recommended_sites"] == []
    assert summary["title"] == "Set 'me'"
    bad = invoke("run", *world_args(tiny_world), "--set", "siting.new_sites=-2",
                 "--out", tiny_world["dir"] / "bad")
    assert bad.exit_code == 2 and "new_sites" in bad.output
    assert "SECTION.KEY=VALUE" in invoke("run", "--set", "nonsense").output


def test_results_on_stdout_and_mode_in_the_title(tiny_world: dict[str, Path]) -> None:
    scenario = tiny_world["dir"] / "walk.toml"
    scenario.write_text('title = "Tiny: walking access"\n[analysis]\nmode = "walk"\n')
    out = tiny_world["dir"] / "drive"
    result = CliRunner().invoke(main, ["run", str(scenario), *world_args(tiny_world),
                                       "--mode", "drive", "--out", str(out), "-v"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == f"map: {out / 'map.html'}"
    assert any(line.startswith("report: ") for line in lines[-3:])
    assert lines[0].startswith("population ")
    assert "INFO" not in result.stdout and "INFO" in result.stderr  # -v after the command
    assert json.loads((out / "summary.json").read_text())["title"] == "Tiny: driving access"


def test_retitle_appends_a_mode_a_title_does_not_name() -> None:
    from accessmap.cli import _retitled
    from accessmap.config import Scenario

    base = Scenario(title="Synthetic demo district")
    assert _retitled(base.replace(mode="drive"), base, explicit=False).title == (
        "Synthetic demo district, driving")
    assert _retitled(base.replace(mode="drive"), base, explicit=True).title == (
        "Synthetic demo district")
    assert _retitled(base, base, explicit=False).title == "Synthetic demo district"
