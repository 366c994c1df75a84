"""The run record: one writer, one reader, the record version and the summary schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import rasterio

from accessmap.errors import OutputError
from accessmap.record import (
    FILES,
    LAYERS,
    RECORD_VERSION,
    RunFolder,
    Summary,
    summary_schema,
    write_run_folder,
)
from accessmap.schemas import SchemaError, dumps, shipped_schema, validate
from tests.runfolder_factory import TIMES, make_run_folder, record, summary


def test_record_round_trip(tmp_path: Path) -> None:
    out = write_run_folder(record(), tmp_path / "run", overwrite=False)
    assert {p.name for p in out.iterdir()} == {
        FILES.summary, FILES.layers, FILES.travel_time, FILES.coverage, FILES.marginal_gain}
    run = RunFolder(out)
    written = json.loads(json.dumps(summary()))
    outputs_s = run.summary["timings_s"].pop("outputs")  # the writer adds its own time
    assert outputs_s >= 0
    assert run.summary == written  # every other key, as written
    run.summary["timings_s"]["outputs"] = outputs_s
    assert run.summary["run"]["record_version"] == RECORD_VERSION
    validate(run.summary, summary_schema())
    assert Summary.from_dict(run.summary).to_dict() == run.summary
    # optional layers the factory does not make: candidates, referral routes, place names
    assert set(run.layer_names) == set(LAYERS.names()) - {
        LAYERS.candidates, LAYERS.referral_routes, LAYERS.places, LAYERS.closed_roads}
    assert run.table(FILES.marginal_gain)["covered_population"].tolist() == [12.0, 13.0]
    surface = run.surface()
    assert surface is not None
    np.testing.assert_array_equal(np.isnan(surface.minutes), np.isnan(TIMES))
    np.testing.assert_array_equal(surface.no_route, np.isnan(TIMES))  # people, no time


def test_writer_is_atomic_and_refuses_an_existing_folder(tmp_path: Path) -> None:
    out = write_run_folder(record(), tmp_path / "run", overwrite=False)
    with pytest.raises(OutputError, match="already exists; use --overwrite"):
        write_run_folder(record(), out, overwrite=False)

    def broken(path: Path) -> None:
        raise RuntimeError("map failed")

    with pytest.raises(RuntimeError, match="map failed"):
        write_run_folder(record(title="new"), out, overwrite=True,
                         extra_writers={FILES.map: broken})
    assert RunFolder(out).title == "Test district & <friends>"  # the old folder stays
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging folder left


def test_writer_refuses_a_summary_outside_the_schema(tmp_path: Path) -> None:
    bad = record()
    bad.summary.facilities_used = "two"  # type: ignore[assignment]
    with pytest.raises(OutputError, match=r"facilities_used: expected integer"):
        write_run_folder(bad, tmp_path / "run", overwrite=False)
    assert not (tmp_path / "run").exists()


def test_extra_writers_read_the_staged_data_files(tmp_path: Path) -> None:
    seen: list[str] = []

    def reader(path: Path) -> None:
        seen.append(RunFolder(path.parent).title)
        path.write_text("ok", encoding="utf-8")

    out = write_run_folder(record(), tmp_path / "run", overwrite=False,
                           extra_writers={FILES.report_md: reader})
    assert seen == ["Test district & <friends>"]
    assert (out / FILES.report_md).read_text(encoding="utf-8") == "ok"


@pytest.mark.parametrize("version", [None, 0, RECORD_VERSION + 1])
def test_folder_of_another_record_version_is_refused(tmp_path: Path, version: object) -> None:
    run = make_run_folder(tmp_path / "run")
    data = summary()
    if version is None:
        del data["run"]["record_version"]  # made before record versions existed
    else:
        data["run"]["record_version"] = version
    (run / FILES.summary).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(OutputError, match=rf"holds record version {version}.*reads record "
                                          rf"version {RECORD_VERSION}\. Rerun `accessmap run`"):
        RunFolder(run)


def test_corrupt_summary_is_refused(tmp_path: Path) -> None:
    run = make_run_folder(tmp_path / "run")
    (run / FILES.summary).write_text("{not json", encoding="utf-8")
    with pytest.raises(OutputError, match=r"summary\.json is not readable JSON"):
        RunFolder(run)
    (run / FILES.summary).write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(OutputError, match="is not an accessmap summary"):
        RunFolder(run)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.pop("equity"), r"the top level: missing key 'equity'"),
    (lambda d: d["coverage"][1].update(share="half"), r"coverage\[1\]\.share: expected number"),
    (lambda d: d["recommended_sites"][0].pop("rank"),
     r"recommended_sites\[0\]: missing key 'rank'"),
])
def test_summary_outside_the_schema_names_the_key(tmp_path: Path, edit: object,
                                                  message: str) -> None:
    run = make_run_folder(tmp_path / "run")
    data = summary()
    edit(data)  # type: ignore[operator]
    (run / FILES.summary).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(OutputError, match=r"does not follow the record schema: " + message):
        RunFolder(run)


def test_corrupt_geopackage_is_refused(tmp_path: Path) -> None:
    run = make_run_folder(tmp_path / "run")
    (run / FILES.layers).write_bytes(b"not a geopackage")
    with pytest.raises(OutputError, match=r"layers\.gpkg is not a readable GeoPackage"):
        RunFolder(run)


@pytest.mark.parametrize("name", [FILES.summary, FILES.layers])
def test_missing_required_file_is_refused(tmp_path: Path, name: str) -> None:
    run = make_run_folder(tmp_path / "run", omit=(name,))
    with pytest.raises(OutputError, match=rf"incomplete: missing {re.escape(name)}; "
                                          "rerun `accessmap run`"):
        RunFolder(run)


def test_shipped_schema_is_the_generated_one() -> None:
    shipped = Path(__file__).parents[1] / "accessmap" / "schemas" / "summary.schema.json"
    assert shipped.read_text(encoding="utf-8") == dumps(summary_schema()), (
        "summary.schema.json is stale; regenerate it with "
        "python -c 'import accessmap.record as r; r.write_summary_schema()'")
    assert shipped_schema("summary") == summary_schema()
    schema = summary_schema()
    assert set(schema["required"]) == set(summary())  # every key of today's summary
    assert schema["$defs"]["RunInfo"]["properties"]["record_version"]["const"] == RECORD_VERSION


def test_validator_matches_jsonschema_when_installed() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(summary(), summary_schema())
    bad = summary(population_total="many")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, summary_schema())
    with pytest.raises(SchemaError, match="population_total: expected number"):
        validate(bad, summary_schema())


def test_surface_is_read_decimated_with_no_route_cells_from_the_raster(
        tmp_path: Path) -> None:
    run = RunFolder(write_run_folder(record(), tmp_path / "run", overwrite=False))
    surface = run.surface(max_pixels=4)  # 16 cells -> 1:2, nearest: rows/cols 1 and 3
    assert surface is not None and surface.minutes.shape == (2, 2)
    assert surface.minutes.dtype == np.float32
    assert surface.transform.a == pytest.approx(0.02)
    np.testing.assert_array_equal(surface.minutes, TIMES[1::2, 1::2].astype(np.float32))
    np.testing.assert_array_equal(surface.no_route, np.isnan(TIMES[1::2, 1::2]))


def test_demand_points_follow_the_setting_and_the_raster_marks_no_route(
        tiny_world: dict[str, Path]) -> None:
    from accessmap import pipeline
    from accessmap.config import Scenario
    from accessmap.routing.travel_times import STATUS_NAMES
    from tests.conftest import KM_LON, TINY_LAT, TINY_LON0, write_osm, write_raster

    # a second road 2 km north of the tiny world's, joined to nothing: its people have no
    # route (the facility is on the first road)
    north = TINY_LAT + 2 * KM_LON
    nodes = {i + 1: (TINY_LON0 + i * KM_LON, TINY_LAT) for i in range(4)}
    nodes |= {10 + i: (TINY_LON0 + i * KM_LON, north) for i in range(4)}
    world = tiny_world["dir"]
    network = write_osm(world / "two_roads.osm", nodes,
                        [(1, [1, 2, 3, 4], {"highway": "residential"}),
                         (2, [10, 11, 12, 13], {"highway": "residential"})])
    population = write_raster(world / "two_rows.tif", [[50, 60, 0, 0], [0, 0, 0, 0],
                                                       [100, 200, 300, 400]],
                              west=TINY_LON0 - KM_LON / 2, north=north + KM_LON / 2,
                              size_deg=KM_LON)
    scenario = Scenario(inputs={"network": network, "population": population,
                                "facilities": tiny_world["facilities"]},
                        output={"out": world / "with"})
    result = pipeline.run(scenario)
    assert result.out_dir is not None
    points = RunFolder(result.out_dir).layer(LAYERS.demand_points)
    assert points is not None
    assert points["status"].tolist() == [STATUS_NAMES[int(s)] for s in result.access.status]
    pop = result.population
    lost = ~np.isfinite(result.access.time_s)
    assert sorted(pop.population[lost]) == [50.0, 60.0]
    with rasterio.open(result.out_dir / FILES.travel_time) as src:
        grid = src.read(1)
    assert np.isposinf(grid[pop.row[lost], pop.col[lost]]).all()
    assert np.isfinite(grid[pop.row[~lost], pop.col[~lost]]).all()
    surface = RunFolder(result.out_dir).surface()
    assert surface is not None
    np.testing.assert_array_equal(np.argwhere(surface.no_route),
                                  np.column_stack([pop.row[lost], pop.col[lost]]))
    without = scenario.replace(out=str(world / "without"), demand_points=False)
    folder = pipeline.run(without).out_dir
    assert folder is not None
    assert LAYERS.demand_points not in RunFolder(folder).layer_names
    assert (folder / FILES.map).is_file()
    assert Scenario().output.writes_demand_points(10**6)
    assert not Scenario().output.writes_demand_points(10**6 + 1)
