"""Scenario files and settings validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from accessmap import ConfigError
from accessmap.config import Scenario, load_scenario, parse_exclusions, parse_thresholds


def test_scenario_file_resolves_paths_and_sections(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        'title = "T"\n[inputs]\nnetwork = "roads.osm"\n[analysis]\nmode = "drive"\n'
        'thresholds_min = [60, 30]\n[facilities]\nexclude = { amenity = "pharmacy" }\n'
        '[speeds]\ntrack = 10\nferry_wait_min = 30\n[speeds.surface_factors]\nunpaved = 0.5\n'
        '[siting]\nnew_sites = 3\nthreshold_min = 45\n'
    )
    scenario = load_scenario(path)
    assert scenario.network == tmp_path / "roads.osm"
    assert scenario.thresholds_min == (30.0, 60.0)
    assert scenario.exclude == {"amenity": ("pharmacy",)}
    assert scenario.siting_threshold_min == 45
    profile = scenario.speed_profile()
    assert profile.speeds_kph["track"] == 10
    assert profile.speeds_kph["primary"] == 60  # defaults kept
    assert profile.surface_factors["unpaved"] == 0.5
    assert profile.ferry_wait_min == 30


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[analysis]\nmode = 'boat'\n", "unknown"),
        ("[analysis]\nthresholds_min = [0]\n", "positive number"),
        ("[inputs]\nnetwrk = 'x'\n", "unknown key inputs.netwrk"),
        ("[speeds]\nprimary = -5\n", "positive"),
        ("[speeds]\nprimary = 0\n", "positive"),
        ("[speeds.surface_factors]\nunpaved = 2\n", r"\(0, 1\]"),
        ("[analysis\n", "not valid TOML"),
    ],
)
def test_bad_scenarios_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_scenario(path)


def test_missing_scenario_file() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_scenario("no/such/file.toml")


def test_default_siting_threshold_is_the_middle_one() -> None:
    assert Scenario(thresholds_min=(120, 30, 60)).siting_threshold_min == 60


def test_parse_helpers() -> None:
    assert parse_thresholds("30, 60,120") == (30.0, 60.0, 120.0)
    assert parse_exclusions(["amenity=pharmacy", "amenity=dentist"]) == {
        "amenity": ("pharmacy", "dentist")}
    with pytest.raises(ConfigError, match="positive"):
        parse_thresholds("0")


def test_surface_factors_must_be_a_table(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[speeds]\nsurface_factors = 3\n")
    with pytest.raises(ConfigError, match="must be a table"):
        load_scenario(path)


def test_extra_siting_keys_become_siting_options(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[siting]\nnew_sites = 2\nexclusions = "no_go.geojson"\nweighting = "time"\n')
    scenario = load_scenario(path)
    assert scenario.new_sites == 2
    assert scenario.siting_options["exclusions"] == tmp_path / "no_go.geojson"
    assert scenario.siting_options["weighting"] == "time"


def test_unknown_siting_option_fails_before_any_work(tmp_path: Path) -> None:
    from accessmap import InputDataError
    from accessmap.pipeline import run

    scenario = Scenario(network=tmp_path / "missing.osm", population=tmp_path / "p.tif",
                        facilities=tmp_path / "f.geojson", siting_options={"colour": "red"})
    with pytest.raises(InputDataError, match="unknown siting option"):
        run(scenario, write=False)
