"""Scenario files and settings validation."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from accessmap import ConfigError
from accessmap.cli import parse_exclusions, parse_thresholds
from accessmap.config import (
    SECTIONS,
    Scenario,
    load_scenario,
    scenario_from_dict,
    scenario_schema,
)


def test_scenario_file_resolves_paths_and_sections(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        'title = "T"\n[inputs]\nnetwork = "roads.osm"\n[analysis]\nmode = "drive"\n'
        'thresholds_min = [60, 30]\n[facilities]\nexclude = { amenity = "pharmacy" }\n'
        '[speeds]\ntrack = 10\nferry_wait_min = 30\n[speeds.surface_factors]\nunpaved = 0.5\n'
        '[siting]\nnew_sites = 3\nthreshold_min = 45\n'
    )
    scenario = load_scenario(path)
    assert scenario.inputs.network == tmp_path / "roads.osm"
    assert scenario.analysis.thresholds_min == (30.0, 60.0)
    assert scenario.facilities.exclude == {"amenity": ("pharmacy",)}
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
    assert Scenario(analysis={"thresholds_min": (120, 30, 60)}).siting_threshold_min == 60


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


def test_siting_keys_are_fields_of_the_siting_section(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[siting]\nnew_sites = 2\nexclusions = "no_go.geojson"\n'
                    'weighting = "travel_time"\n')
    scenario = load_scenario(path)
    assert scenario.siting.new_sites == 2
    assert scenario.siting.exclusions == tmp_path / "no_go.geojson"
    assert scenario.siting.weighting == "travel_time"


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ({"siting": {"colour": "red"}}, "unknown key siting.colour"),
        ({"siting": {"weighting": "wealth"}}, "siting.weighting 'wealth' is unknown"),
        ({"siting": {"coverage_target": 90}}, "coverage_target 90"),
        ({"siting": {"candidate_source": "file"}}, "needs a candidates file"),
        ({"siting": {"new_sites": "3"}}, r"siting.new_sites is '3'; give a whole number"),
        ({"siting": {"new_sites": 2.5}}, "give a whole number"),
        ({"siting": {"mobile": "yes"}}, "give true or false"),
        ({"analysis": {"thresholds_min": [30, float("nan")]}}, "finite"),
        ({"analysis": {"thresholds_min": "30"}}, "give a list"),
        ({"analysis": {"aggregate": 0}}, "analysis.aggregate is 0"),
        ({"inputs": {"admin_level": 40}}, "1-12"),
        ({"output": {"out": 3}}, "give a file path"),
        ({"speeds": {"max_snap_m": "far"}}, "speeds.max_snap_m is 'far'"),
    ],
)
def test_every_source_is_validated_the_same_way(tables: dict[str, object], message: str
                                                ) -> None:
    """A scenario file's tables, Python arguments and CLI-style changes share one check."""
    with pytest.raises(ConfigError, match=message):
        scenario_from_dict(tables)
    with pytest.raises(ConfigError, match=message):
        Scenario(**tables)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=message):
        Scenario().with_changes(tables)


def test_replace_maps_plain_names_onto_sections() -> None:
    scenario = Scenario().replace(mode="drive", new_sites=3, out="maps/x",
                                  exclude={"amenity": ["pharmacy"]}, max_snap_m=800.0,
                                  title="T", threshold_min=45)
    assert scenario.analysis.mode == "drive"
    assert scenario.siting.new_sites == 3 and scenario.siting_threshold_min == 45
    assert scenario.output.out == Path("maps/x")
    assert scenario.facilities.exclude == {"amenity": ("pharmacy",)}
    assert scenario.speed_profile().max_snap_m == 800.0
    assert scenario.title == "T"
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        Scenario().replace(colour="red")


def test_to_dict_round_trips_through_the_file_format(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('title = "T"\n[inputs]\nnetwork = "roads.osm"\n[speeds]\ntrack = 9\n'
                    '[speeds.surface_factors]\nsand = 0.3\n[siting]\nthreshold_min = 45\n')
    scenario = load_scenario(path)
    again = scenario_from_dict(scenario.to_dict())
    assert again == scenario
    assert scenario.to_dict()["speeds"] == {"track": 9.0, "surface_factors": {"sand": 0.3}}


def test_scenario_schema_describes_every_key() -> None:
    schema = scenario_schema()
    sections = schema["properties"]
    for name, cls in SECTIONS.items():
        keys = {f.name for f in dataclasses.fields(cls)} - {"kph"}
        if name == "speeds":  # named profiles are [speeds.NAME] tables, chosen by `profile`
            keys = keys - {"profiles", "speed_profile"} | {"profile"}
        assert set(sections[name]["properties"]) == keys, name
    assert sections["analysis"]["properties"]["mode"]["enum"] == ["walk", "drive", "bicycle",
                                                                 "walk+drive"]
    assert sections["siting"]["properties"]["new_sites"] == {"type": "integer", "default": 5}
    assert sections["speeds"]["additionalProperties"]["anyOf"][0] == {"type": "number"}
    assert schema["additionalProperties"] is False


def test_scenario_schema_accepts_what_the_settings_accept() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = scenario_schema()
    good = Scenario(analysis={"mode": "drive"}, siting={"new_sites": 3}).to_dict()
    jsonschema.validate(good, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"analysis": {"mode": "boat"}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"siting": {"colour": "red"}}, schema)


def test_config_imports_nothing_heavy() -> None:
    code = ("import sys, accessmap.config; "
            "heavy = [m for m in ('numpy', 'scipy', 'pandas', 'geopandas', 'shapely', "
            "'rasterio') if m in sys.modules]; print(','.join(heavy))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == ""
