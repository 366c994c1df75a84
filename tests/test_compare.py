"""Comparison of runs and scenario sets (issue 12): deltas checked by hand and by arrays.

The demo is run once per session as a scenario set (baseline, the district hospital
closed, a health centre closed) through the CLI; the comparisons are checked against
numbers computed here from the run folders' own rasters and layers, and small synthetic
grids are checked against hand-computed answers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from accessmap._raster import write_cog
from accessmap.analysis import compare as delta
from accessmap.cli import main
from accessmap.compare import compare_runs
from accessmap.config.scenario_set import load_scenario_set
from accessmap.errors import ConfigError, InputDataError
from accessmap.record import FILES, LAYERS, RunFolder
from accessmap.schemas import dumps, shipped_schema, validate
from accessmap.schemas.comparison import comparison_schema, scenario_set_schema
from accessmap.schemas.names import COMPARISON_FILES

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
HOSPITAL, CENTRE = "HF01", "HF04"

SET_TOML = f"""
title = "Demo scenario set"
synthetic = true
[inputs]
network = "{DEMO / 'network.osm'}"
population = "{DEMO / 'population.tif'}"
facilities = "{DEMO / 'facilities.geojson'}"
boundaries = "{DEMO / 'subdistricts.geojson'}"
boundary_name_column = "name"
[facilities]
exclude = {{ amenity = ["pharmacy"] }}
[siting]
new_sites = 0
[scenarios.no_hospital.facilities]
exclude = {{ amenity = ["pharmacy"], id = ["{HOSPITAL}"] }}
[scenarios.no_centre]
title = "Yeloma closed"
[scenarios.no_centre.facilities]
exclude = {{ amenity = ["pharmacy"], id = ["{CENTRE}"] }}
"""


def _grids(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(minutes, people) read straight from the run folder's rasters."""
    with rasterio.open(run_dir / FILES.travel_time) as src:
        minutes = src.read(1).astype(float)
    with rasterio.open(run_dir / FILES.population) as src:
        people = np.nan_to_num(src.read(1).astype(float))
    return minutes, people


@pytest.fixture(scope="module")
def scenario_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``accessmap run set.toml --out DIR`` on the demo: 3 runs, 2 comparisons."""
    folder = tmp_path_factory.mktemp("set")
    (folder / "set.toml").write_text(SET_TOML, encoding="utf-8")
    out = folder / "out"
    done = CliRunner().invoke(main, ["run", str(folder / "set.toml"), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "Closing Kasi District Hospital leaves" in done.output
    return out


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_a_scenario_set_writes_each_run_each_comparison_and_the_combined_file(
        scenario_set: Path) -> None:
    for name in ("baseline", "no_hospital", "no_centre"):
        assert (scenario_set / name / FILES.summary).is_file()
    combined = json.loads((scenario_set / COMPARISON_FILES.comparison).read_text())
    validate(combined, shipped_schema("comparison_set"))
    assert sorted(combined["scenarios"]) == ["no_centre", "no_hospital"]
    for name in ("no_hospital", "no_centre"):
        folder = scenario_set / "comparison" / name
        for file in (COMPARISON_FILES.comparison, COMPARISON_FILES.access,
                     COMPARISON_FILES.facilities, COMPARISON_FILES.loss_zones,
                     COMPARISON_FILES.time_change, COMPARISON_FILES.access_change,
                     COMPARISON_FILES.layers, COMPARISON_FILES.map,
                     COMPARISON_FILES.report_html, COMPARISON_FILES.report_md):
            assert (folder / file).is_file(), f"{name} lacks {file}"
        data = json.loads((folder / COMPARISON_FILES.comparison).read_text())
        validate(data, shipped_schema("comparison"))
        assert data == combined["scenarios"][name]
    titles = [RunFolder(scenario_set / n).title for n in ("no_hospital", "no_centre")]
    assert titles == ["Demo scenario set: no_hospital", "Yeloma closed"]


@pytest.mark.slow
def test_people_losing_access_equal_the_two_rasters(scenario_set: Path) -> None:
    base_min, people = _grids(scenario_set / "baseline")
    closed_min, _ = _grids(scenario_set / "no_hospital")
    data = json.loads((scenario_set / "comparison" / "no_hospital" /
                       COMPARISON_FILES.comparison).read_text())
    for row in data["access"]:
        t = row["threshold_min"]
        within_a = np.nan_to_num(base_min, nan=np.inf) <= t
        within_b = np.nan_to_num(closed_min, nan=np.inf) <= t
        assert row["losing_population"] == pytest.approx(people[within_a & ~within_b].sum(),
                                                         abs=0.1)
        assert row["gaining_population"] == 0  # closing a facility brings nobody closer
        assert row["population_a"] - row["losing_population"] == pytest.approx(
            row["population_b"], abs=0.2)
    # the baseline's coverage.csv (computed on demand points) agrees with the rasters
    coverage = pd.read_csv(scenario_set / "baseline" / FILES.coverage)
    current = coverage[coverage["scenario"] == "current"]
    assert [r["population_a"] for r in data["access"]] == pytest.approx(
        current["population"].tolist(), abs=1.0)
    assert data["facilities"]["closed"] == ["Kasi District Hospital"]
    assert data["sentences"][0].startswith("Closing Kasi District Hospital leaves")


@pytest.mark.slow
def test_only_people_of_the_closed_facility_lose_access(scenario_set: Path) -> None:
    """Every cell losing access had the closed hospital as its nearest facility."""
    folder = scenario_set / "comparison" / "no_hospital"
    with rasterio.open(folder / COMPARISON_FILES.access_change) as src:
        category, transform = src.read(1), src.transform
    points = RunFolder(scenario_set / "baseline").layer(LAYERS.demand_points)
    assert points is not None
    cols, rows = ~transform * (points.geometry.x.to_numpy(), points.geometry.y.to_numpy())
    cells = category[np.floor(rows).astype(int), np.floor(cols).astype(int)]
    nearest = points["nearest_facility"].astype(str).to_numpy()
    slower = np.isin(cells, [1, 3])
    assert slower.any()
    facilities = pd.read_csv(scenario_set / "baseline" / FILES.facilities)
    hospital_id = facilities.loc[facilities["name"] == "Kasi District Hospital", "facility_id"]
    assert set(nearest[slower]) == {str(hospital_id.iloc[0])}
    assert not (cells == 2).any() and not (cells == 4).any()
    zones = gpd.read_file(folder / COMPARISON_FILES.layers, layer="loss_zones")
    losing = json.loads((folder / COMPARISON_FILES.comparison).read_text())["access"]
    assert zones["population"].sum() >= max(r["losing_population"] for r in losing) - 0.5
    changes = pd.read_csv(folder / COMPARISON_FILES.facilities)
    hospital = changes[changes["name"] == "Kasi District Hospital"].iloc[0]
    assert hospital["status"] == "closed" and hospital["population_b"] == 0
    # people of the closed catchment all go to the other facilities
    kept = changes[changes["status"] == "kept"]
    assert kept["population_change"].sum() == pytest.approx(hospital["population_a"], rel=1e-3)


@pytest.mark.slow
def test_identical_runs_give_zero_deltas_and_no_loss_zone(scenario_set: Path,
                                                          tmp_path: Path) -> None:
    run = scenario_set / "baseline"
    result = compare_runs(run, run, out=tmp_path / "same")
    for row in result.summary.access:
        assert row.losing_population == row.gaining_population == row.population_change == 0
    assert result.zones.empty and result.summary.loss_zones.population == 0
    assert (result.tables[COMPARISON_FILES.facilities]["population_change"] == 0).all()
    assert all("changes nobody's access" in s for s in result.summary.sentences)
    assert result.summary.facilities.key == "facility_id"
    by_area = result.tables[COMPARISON_FILES.by_area]
    assert (by_area.filter(like="_change").fillna(0) == 0).all().all()


@pytest.mark.slow
def test_runs_of_different_grids_or_population_are_refused(scenario_set: Path,
                                                           tmp_path: Path) -> None:
    shifted = tmp_path / "shifted"
    shutil.copytree(scenario_set / "no_hospital", shifted)
    for name in (FILES.travel_time, FILES.population):
        with rasterio.open(shifted / name) as src:
            grid, transform, crs = src.read(1), src.transform, str(src.crs)
        write_cog(shifted / name, grid, transform * Affine.translation(1, 0), crs)
    with pytest.raises(InputDataError, match=r"not runs of the same study area.*position"):
        compare_runs(scenario_set / "baseline", shifted)
    more = tmp_path / "more_people"
    shutil.copytree(scenario_set / "no_hospital", more)
    with rasterio.open(more / FILES.population) as src:
        grid, transform, crs = src.read(1), src.transform, str(src.crs)
    write_cog(more / FILES.population, grid * 1.1, transform, crs)
    with pytest.raises(InputDataError, match="population grids differ"):
        compare_runs(scenario_set / "baseline", more)


@pytest.mark.slow
def test_compare_command_writes_the_folder_and_prints_the_sentences(scenario_set: Path,
                                                                   tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    args = ["compare", str(scenario_set / "baseline"), str(scenario_set / "no_centre"),
            "--out", str(out)]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    assert "Closing Yeloma Health Centre" in done.output
    again = CliRunner().invoke(main, args)
    assert again.exit_code != 0 and "exists" in again.output
    assert CliRunner().invoke(main, [*args, "--overwrite"]).exit_code == 0
    report = (out / COMPARISON_FILES.report_md).read_text()
    assert "Facilities whose catchment changes most" in report
    assert "Yeloma Health Centre" in (out / COMPARISON_FILES.map).read_text()


@pytest.mark.slow
def test_population_tif_holds_the_runs_people(scenario_set: Path) -> None:
    _, people = _grids(scenario_set / "baseline")
    total = RunFolder(scenario_set / "baseline").summary["population_total"]
    assert people.sum() == pytest.approx(total, rel=1e-6)


# --------------------------------------------------------------------------- small grids


def test_access_changes_by_hand() -> None:
    minutes_a = np.array([[10.0, 50.0], [np.nan, 100.0]])
    minutes_b = np.array([[40.0, 20.0], [15.0, np.nan]])
    people = np.array([[1.0, 2.0], [4.0, 8.0]])
    table = delta.access_changes(minutes_a, minutes_b, people, [30, 60]).set_index(
        "threshold_min")
    # within 30: a holds cell (0,0): 1; b holds (0,1) and (1,0): 6
    assert table.loc[30, ["population_a", "population_b", "losing_population",
                          "gaining_population"]].tolist() == [1, 6, 1, 6]
    # within 60: a: 1 + 2; b: 1 + 2 + 4; the 8 people of (1,1) were beyond 60 already
    assert table.loc[60, ["population_a", "population_b", "losing_population",
                          "gaining_population"]].tolist() == [3, 7, 0, 4]
    change, category = delta.access_change(minutes_a, minutes_b, people)
    assert change[0, 0] == 30 and change[0, 1] == -30 and np.isnan(change[1, 1])
    assert category.tolist() == [[1, 2], [4, 3]]


def test_loss_zones_are_connected_cells_gathered_by_size() -> None:
    minutes_a = np.full((4, 6), 10.0)
    minutes_b = minutes_a.copy()
    minutes_b[0:2, 0:2] = 45.0  # a 2x2 block loses the 30-minute class
    minutes_b[3, 5] = np.nan  # one far cell loses its route
    people = np.ones((4, 6)) * 50.0
    zones = delta.loss_zones(minutes_a, minutes_b, people, [30, 60], Affine(0.01, 0, 30, 0,
                             -0.01, -10), "EPSG:4326", min_population=100)
    assert zones["zone"].tolist() == ["zone 1", "other small zones"]
    assert zones["population"].tolist() == [200, 50]
    assert zones["losing_30min"].tolist() == [200, 50]
    assert zones["losing_60min"].tolist() == [0, 50]
    assert zones["lost_route_population"].tolist() == [0, 50]
    assert zones.geometry.iloc[0].area == pytest.approx(4e-4)


def test_facilities_renumbered_by_a_closure_are_matched_by_name() -> None:
    a = pd.DataFrame({"facility_id": [0, 1, 2], "name": ["A", "B", "C"],
                      "population": [10.0, 20.0, 30.0]})
    b = pd.DataFrame({"facility_id": [0, 1], "name": ["A", "C"], "population": [25.0, 35.0]})
    assert delta.facility_key(a, b) == "name"
    out = delta.catchment_changes(a, b).set_index("name")
    assert out.loc["B", "status"] == "closed" and out.loc["B", "population_change"] == -20
    assert out.loc["A", "population_change"] == 15 and out.loc["C", "population_change"] == 5
    assert out.index[0] == "B"  # largest change first
    sentences = delta.planner_sentences(
        pd.DataFrame([{"threshold_min": 60.0, "population_change": -300.0,
                       "losing_population": 300.0, "gaining_population": 0.0}]),
        pd.DataFrame({"area": ["North", "South"], "population_60min_change": [-200.0, -100.0]}),
        out.reset_index(), scenario="x")
    assert sentences == ["Closing B leaves 300 more people beyond 1 hour (300 lose access "
                         "within it, 0 gain it), most of them in North (200)."]


def test_unnamed_facilities_are_matched_by_position_when_ids_shift() -> None:
    keys = delta.facility_locations(np.array([43.1, 43.2, 43.1]), np.array([-11.5, -11.6, -11.5]))
    assert keys == ["43.100000,-11.500000", "43.200000,-11.600000", "43.100000,-11.500000#2"]
    a = pd.DataFrame({"facility_id": [0, 1, 2], "name": ["unnamed #0", "X", "unnamed #2"],
                      "location": ["p", "q", "r"], "population": [1.0, 2.0, 3.0]})
    b = pd.DataFrame({"facility_id": [0, 1], "name": ["unnamed #0", "unnamed #1"],
                      "location": ["p", "r"], "population": [1.0, 5.0]})
    assert delta.facility_key(a, b) == "location"
    out = delta.catchment_changes(a, b).set_index("location")
    assert out["status"].to_dict() == {"q": "closed", "r": "kept", "p": "kept"}
    assert out.loc["r", "population_change"] == 2


def test_table_changes_match_rows_on_text_columns() -> None:
    a = pd.DataFrame({"area": ["N", "S"], "share_60min": [0.5, 0.25]})
    b = pd.DataFrame({"area": ["S", "N"], "share_60min": [0.75, 0.5]})
    out = delta.table_changes(a, b)
    assert out is not None
    assert out.set_index("area")["share_60min_change"].to_dict() == {"N": 0.0, "S": 0.5}
    assert delta.table_changes(a, None) is None
    # numeric group codes (wealth quintiles) name rows: matched, never subtracted
    a = pd.DataFrame({"grouping": ["q", "q"], "group": [1, 2], "population": [5.0, 7.0]})
    b = pd.DataFrame({"grouping": ["q", "q"], "group": [2, 1], "population": [6.0, 5.0]})
    out = delta.table_changes(a, b)
    assert out is not None and len(out) == 2
    assert out.set_index("group")["population_change"].to_dict() == {1: 0.0, 2: -1.0}


def test_table_changes_of_indicator_tables() -> None:
    """indicators.csv: one row per threshold (matched on it, not crossed) and a true/false
    ``met`` column, shown side by side (a boolean cannot be subtracted)."""
    a = pd.DataFrame({"indicator": ["h", "h"], "grouping": ["all", "all"],
                      "group": ["all", "all"], "threshold_min": [60, 120],
                      "share_within": [0.5, 0.9], "target": [0.8, 0.8], "met": [False, True]})
    b = a.assign(share_within=[0.25, 0.7], met=[False, False])
    out = delta.table_changes(a, b)
    assert out is not None and len(out) == 2
    rows = out.set_index("threshold_min")
    assert rows["share_within_change"].round(6).to_dict() == {60: -0.25, 120: -0.2}
    assert rows["met_a"].tolist() == [False, True] and rows["met_b"].tolist() == [False, False]
    assert "met_change" not in out and "threshold_min_change" not in out


def test_comparison_report_lists_the_indicator_change() -> None:
    """The report's indicator table: whole-population rows only, shares of both runs, the
    change of people and whether the target is met in each run."""
    from accessmap.outputs.comparison import comparison_blocks
    from accessmap.outputs.report import render_markdown

    row = {"indicator": "hospital_2h", "grouping": "all", "group": "all",
           "threshold_min": 120, "share_within_a": 0.85, "share_within_b": 0.75,
           "population_within_change": -1000.0, "met_a": True, "met_b": False}
    summary = {"scenario": {"title": "B"}, "baseline": {"title": "A"}, "sentences": [],
               "access": [], "thresholds_min": [120.0],
               "indicators": [row, {**row, "grouping": "area", "group": "North"}],
               "facilities": {"largest_changes": []},
               "loss_zones": {"zones": 0, "population": 0.0}}
    text = render_markdown(comparison_blocks(summary, {})).replace("\\", "")  # unescape
    assert "Indicators for a service" in text
    line = next(x for x in text.splitlines() if "hospital_2h" in x)
    assert "85.0%" in line and "75.0%" in line and "-1,000" in line and "yes -> no" in line
    assert "North" not in text
    summary["indicators"] = []
    assert "Indicators for a service" not in render_markdown(comparison_blocks(summary, {}))


# --------------------------------------------------------------------------- settings


def test_scenario_set_file_errors_name_the_scenario(tmp_path: Path) -> None:
    path = tmp_path / "set.toml"
    path.write_text("[analysis]\nmode = 'walk'\n[scenarios.wet.analysis]\nmode = 'swim'\n")
    with pytest.raises(ConfigError, match=r"\[scenarios\.wet\].*analysis\.mode"):
        load_scenario_set(path)
    path.write_text("[scenarios.baseline.analysis]\nmode = 'drive'\n")
    with pytest.raises(ConfigError, match="not baseline or comparison"):
        load_scenario_set(path)
    path.write_text("[scenarios]\n")
    with pytest.raises(ConfigError, match="lists no scenario"):
        load_scenario_set(path)


def test_a_scenario_overrides_only_the_keys_it_gives(tmp_path: Path) -> None:
    path = tmp_path / "set.toml"
    path.write_text("title = 'Base'\n[analysis]\nmode = 'walk'\nthresholds_min = [30, 90]\n"
                    "[scenarios.car.analysis]\nmode = 'drive'\n"
                    "[scenarios.car.inputs]\nfacilities = 'sub/f.csv'\n")
    loaded = load_scenario_set(path)
    car = loaded.scenarios["car"]
    assert (car.analysis.mode, car.analysis.thresholds_min) == ("drive", (30.0, 90.0))
    assert car.title == "Base: car"
    assert Path(str(car.inputs.facilities)) == tmp_path / "sub" / "f.csv"
    assert loaded.baseline.analysis.mode == "walk"


def test_a_scenario_set_refuses_run_options(tmp_path: Path) -> None:
    path = tmp_path / "set.toml"
    path.write_text("[scenarios.car.analysis]\nmode = 'drive'\n")
    done = CliRunner().invoke(main, ["run", str(path), "--mode", "walk"])
    assert done.exit_code != 0 and "scenario set" in done.output and "--mode" in done.output


def test_shipped_comparison_schemas_are_the_generated_ones() -> None:
    folder = ROOT / "accessmap" / "schemas"
    assert (folder / "comparison.schema.json").read_text() == dumps(comparison_schema())
    assert (folder / "comparison_set.schema.json").read_text() == dumps(scenario_set_schema())


@pytest.mark.browser
@pytest.mark.slow
def test_comparison_map_opens_offline_in_chromium(scenario_set: Path, tmp_path: Path) -> None:
    from tests.test_browser import probe, screenshot

    page = scenario_set / "comparison" / "no_hospital" / COMPARISON_FILES.map
    report = probe(page, tmp_path)
    assert report["errors"] == [], report["errors"]
    for label in ("Change of access", "Travel-time change", "Zones of loss", "Facilities",
                  "Roads"):
        assert any(label in shown for shown in report["labels"]), report["labels"]
    assert report["images"] == 1 and report["injected"] == 0
    assert any("Kasi District Hospital" in text for text in report["tooltips"])
    screenshot(page, tmp_path / "comparison.png", tmp_path)
