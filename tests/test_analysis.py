"""Coverage analysis wired into a run: the demo district and the real Comoros data."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely

from accessmap import ConfigError, InputDataError, pipeline
from accessmap.config import Scenario
from accessmap.demo import demo_scenario


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> pipeline.RunResult:
    out = tmp_path_factory.mktemp("demo") / "run"
    return pipeline.run(demo_scenario().replace(out=out, new_sites=1))


def test_demo_outputs_hold_every_table_layer_and_the_surface(
        demo_run: pipeline.RunResult) -> None:
    out = demo_run.out_dir
    assert out is not None
    layers = {name for name, _ in pyogrio.list_layers(out / "layers.gpkg")}
    assert {"admin_areas", "isochrone_bands", "underserved_zones", "catchments"} <= layers
    for name in ("coverage_by_area.csv", "coverage_by_group.csv", "underserved_zones.csv",
                 "facilities.csv", "travel_time.tif"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    for key in ("coverage_by_area", "coverage_by_group", "isochrone_bands", "equity",
                "underserved_zones", "accessibility_2sfca", "coverage", "population_total"):
        assert key in summary, key


def test_demo_area_and_group_tables_add_up_to_the_total(demo_run: pipeline.RunResult) -> None:
    out = demo_run.out_dir
    assert out is not None
    total = demo_run.population.total
    by_area = pd.read_csv(out / "coverage_by_area.csv")
    assert by_area["population"].sum() == pytest.approx(total, rel=1e-6)
    by_group = pd.read_csv(out / "coverage_by_group.csv", dtype={"group": str})
    for _, rows in by_group.groupby("grouping"):
        assert rows["population"].sum() <= total * (1 + 1e-6)
    settled = by_group[by_group["grouping"] == "settlement_type"]
    assert settled["population"].sum() == pytest.approx(total, rel=1e-6)
    for threshold in demo_run.scenario.analysis.thresholds_min:
        col = f"population_{threshold:g}min"
        covered = demo_run.coverage.set_index("threshold_min").loc[threshold, "population"]
        assert by_area[col].sum() == pytest.approx(covered, rel=1e-6)


def test_demo_surface_is_on_the_population_grid_and_bands_nest(
        demo_run: pipeline.RunResult) -> None:
    out = demo_run.out_dir
    assert out is not None
    pop = demo_run.population
    with rasterio.open(out / "travel_time.tif") as ds:
        assert ds.shape == pop.shape and ds.transform == pop.transform
        grid = ds.read(1)
    finite = np.isfinite(demo_run.access.time_s)
    assert grid[pop.row[finite], pop.col[finite]] == pytest.approx(
        demo_run.access.time_s[finite] / 60, rel=1e-6)
    bands = demo_run.analysis.bands if demo_run.analysis else None
    assert bands is not None
    geoms = bands.geometry.to_numpy()
    for inner, outer in itertools.pairwise(geoms):
        assert shapely.area(shapely.difference(inner, outer)) < 1e-12
    zones = pd.read_csv(out / "underserved_zones.csv")
    beyond = demo_run.population.population[
        ~(demo_run.access.time_s <= demo_run.scenario.siting_threshold_min * 60)].sum()
    assert zones["population"].sum() == pytest.approx(beyond, rel=1e-6)


def test_group_polygons_need_a_group_column(tmp_path: Path) -> None:
    scenario = demo_scenario().replace(out=tmp_path / "x")
    scenario = scenario.with_changes({"inputs": {"group_column": None}})
    with pytest.raises(ConfigError, match="group_column"):
        pipeline.run(scenario)
    assert not (tmp_path / "x").exists()


def test_absent_admin_level_stops_the_run_with_nothing_written(tmp_path: Path) -> None:
    scenario = demo_scenario()
    scenario = scenario.replace(out=tmp_path / "y", boundaries=scenario.inputs.network)
    with pytest.raises(InputDataError, match="no administrative boundary at admin_level 4"):
        pipeline.run(scenario)
    assert not (tmp_path / "y").exists()


@pytest.mark.comoros
def test_comoros_coverage_by_island_and_settlement(comoros_dir: Path, tmp_path: Path) -> None:
    scenario = Scenario().replace(
        network=comoros_dir / "comores-latest.osm.pbf",
        population=comoros_dir / "com_ppp_2020_UNadj.tif",
        facilities=comoros_dir / "health.gpkg",
        boundaries=comoros_dir / "comores-latest.osm.pbf",  # islands: admin_level 4
        exclude={"amenity": ("pharmacy",)}, new_sites=0, out=tmp_path / "comoros",
    )
    result = pipeline.run(scenario, write=False)
    summary = result.summary
    assert summary["population_total"] == pytest.approx(869_595, abs=1)
    islands = pd.DataFrame(summary["coverage_by_area"])
    assert len(islands) == 3
    assert any("Ngazidja" in a for a in islands["area"])
    assert islands["population"].sum() == pytest.approx(869_595, abs=1)
    for _, row in islands.iterrows():
        shares = [row["share_30min"], row["share_60min"], row["share_120min"]]
        assert all(0 < s < 1 for s in shares)
        assert shares[0] <= shares[1] <= shares[2]
    settled = summary["settlement_population"]
    assert set(settled) == {"urban", "peri-urban", "rural"}
    assert sum(settled.values()) == pytest.approx(869_595, abs=1)
    equity = summary["equity"]
    assert 0 < equity["rural_share_of_underserved"] < 1
    assert 0 < equity["travel_time_inequality"]["gini_reachable"] < 1
    zones = summary["underserved_zones"]
    beyond = 869_595 - next(c["population"] for c in summary["coverage"]
                            if c["threshold_min"] == 60)
    assert zones["population"] == pytest.approx(beyond, abs=1)


def test_group_count_raster_on_the_population_grid(tmp_path: Path) -> None:
    scenario = demo_scenario()
    assert scenario.inputs.population is not None
    with rasterio.open(scenario.inputs.population) as ds:
        profile = ds.profile
        data = ds.read(1)
    under5 = np.where(data > 0, data * 0.2, profile["nodata"])
    path = tmp_path / "under5.tif"
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(under5.astype(profile["dtype"]), 1)
    result = pipeline.run(scenario.replace(groups=path, new_sites=0), write=False)
    assert result.analysis is not None
    table = result.analysis.by_group
    row = table[table["grouping"] == "under5"].iloc[0]
    assert row["population"] == pytest.approx(0.2 * result.population.total, rel=1e-5)
    everyone = result.coverage.set_index("threshold_min")["share"]
    assert row["share_60min"] == pytest.approx(everyone.loc[60.0], rel=1e-5)
