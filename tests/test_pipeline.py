"""End-to-end runs on the tiny hand-computable world and on Comoros."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from accessmap import ConfigError, DataQualityWarning, InputDataError, OutputError
from accessmap.config import Scenario
from accessmap.pipeline import run
from accessmap.routing.travel_times import NO_ROUTE, OFF_NETWORK, REACHED


def tiny_scenario(world: dict[str, Path], **changes: object) -> Scenario:
    values: dict[str, object] = {
        "network": world["network"], "population": world["population"],
        "facilities": world["facilities"], "exclude": {"amenity": ("pharmacy",)},
        "thresholds_min": (15, 30, 45), "threshold_min": 40, "new_sites": 1,
        "out": world["dir"] / "out",
    }
    values.update(changes)
    return Scenario().replace(**values)


def test_times_match_hand_computation(tiny_world: dict[str, Path]) -> None:
    result = run(tiny_scenario(tiny_world), write=False)
    pop = result.population.population
    minutes = dict(zip(pop.tolist(), (result.access.time_s / 60).tolist(), strict=True))
    # 1 km of residential road at 5 km/h = 12 min; cells sit on the nodes.
    assert minutes[100] == pytest.approx(0, abs=0.01)
    assert minutes[200] == pytest.approx(12, rel=0.01)
    assert minutes[300] == pytest.approx(24, rel=0.01)
    assert minutes[400] == pytest.approx(36, rel=0.01)
    # ~2.05 km off-road x 1.3 detour at 5 km/h = ~32 min, then 36 min along the road.
    assert minutes[1000] == pytest.approx(32.0 + 36, rel=0.02)


def test_coverage_shares_by_hand(tiny_world: dict[str, Path]) -> None:
    result = run(tiny_scenario(tiny_world), write=False)
    shares = result.coverage.set_index("threshold_min")["share"]
    assert shares[15] == pytest.approx(300 / 2000)
    assert shares[30] == pytest.approx(600 / 2000)
    assert shares[45] == pytest.approx(1000 / 2000)


def test_new_site_covers_the_far_east(tiny_world: dict[str, Path]) -> None:
    result = run(tiny_scenario(tiny_world), write=False)
    site = result.sites.iloc[0]
    # Only the northern cell (~68 min) is beyond 40 min; a site at the east end reaches it
    # in ~32 min (from node 3 it would take ~44 min).  The 400 cell (36 min) is already
    # within 40 min and adds nothing.
    assert site["added_population"] == pytest.approx(1000)
    assert site["node"] == result.network.node_osm_id.tolist().index(4)
    assert site["kind"] == "mobile_unit_stop"  # below the 5,000-people clinic threshold
    after = result.coverage_with_new_sites.set_index("threshold_min")["share"]
    assert after[45] == pytest.approx(1.0)


def test_excluded_pharmacy_is_not_a_facility(tiny_world: dict[str, Path]) -> None:
    with_pharmacy = run(tiny_scenario(tiny_world, exclude={}), write=False)
    assert with_pharmacy.summary["facilities_used"] == 2
    assert with_pharmacy.access.time_s.max() / 60 == pytest.approx(32.0, rel=0.02)


def test_off_network_people_are_reported_not_dropped(tiny_world: dict[str, Path]) -> None:
    # The study area is the network's extent padded by the snap distance (1.6 km); the
    # northern cell reaches into it, but its centre lies ~2.05 km from the road.
    scenario = tiny_scenario(tiny_world, max_snap_m=1600.0)
    with pytest.warns(DataQualityWarning, match=r"50\.0% of the people are farther than 1600 m"):
        result = run(scenario, write=False)
    status = result.access.status
    assert (status == OFF_NETWORK).sum() == 1
    assert (status == REACHED).sum() == 4
    assert not (status == NO_ROUTE).any()
    assert result.summary["unreachable_population"] == pytest.approx(1000)
    assert result.summary["population_total"] == pytest.approx(2000)
    assert not np.isfinite(result.access.time_s[status == OFF_NETWORK]).any()


def test_outputs_written_and_json_clean(tiny_world: dict[str, Path]) -> None:
    scenario = tiny_scenario(tiny_world)
    run(scenario)
    out = scenario.output.out
    for name in ("summary.json", "map.html", "layers.gpkg", "coverage.csv"):
        assert (out / name).is_file(), name
    text = (out / "summary.json").read_text()
    assert "Infinity" not in text and "NaN" not in text
    summary = json.loads(text)
    for key in ("population_total", "coverage", "unreachable_population", "facilities_used",
                "recommended_sites", "coverage_with_new_sites", "run", "timings_s"):
        assert key in summary
    site = summary["recommended_sites"][0]
    assert set(site) >= {"rank", "kind", "lon", "lat", "added_population"}
    assert len(summary["run"]["inputs"]["network"]["sha256"]) == 64
    assert "4294967" not in (out / "coverage.csv").read_text()


def test_existing_output_not_overwritten(tiny_world: dict[str, Path]) -> None:
    scenario = tiny_scenario(tiny_world)
    scenario.output.out.mkdir()
    (scenario.output.out / "keep.txt").write_text("mine")
    with pytest.raises(OutputError, match="--overwrite"):
        run(scenario)
    assert (scenario.output.out / "keep.txt").read_text() == "mine"
    with pytest.raises(OutputError, match="is not an accessmap run folder"):
        run(scenario, overwrite=True)
    assert (scenario.output.out / "keep.txt").read_text() == "mine"
    (scenario.output.out / "keep.txt").unlink()
    run(scenario)
    run(scenario, overwrite=True)  # a run folder may be replaced
    assert (scenario.output.out / "summary.json").is_file()


def test_missing_inputs_are_named() -> None:
    with pytest.raises(ConfigError, match="population, facilities"):
        run(Scenario(inputs={"network": Path("x.osm")}), write=False)


def test_population_outside_network_is_refused(tiny_world: dict[str, Path]) -> None:
    from tests.conftest import write_raster

    far = write_raster(tiny_world["dir"] / "far.tif", [[5.0]], west=10.0, north=10.0,
                       size_deg=0.01)
    with pytest.raises(InputDataError, match="does not overlap"):
        run(tiny_scenario(tiny_world, population=far), write=False)


@pytest.mark.comoros
def test_comoros_run(comoros_dir: Path, tmp_path: Path) -> None:
    scenario = Scenario().replace(
        network=comoros_dir / "comores-latest.osm.pbf",
        population=comoros_dir / "com_ppp_2020_UNadj.tif",
        facilities=comoros_dir / "health.gpkg", exclude={"amenity": ("pharmacy",)},
        new_sites=10, out=tmp_path / "comoros",
    )
    result = run(scenario)
    summary = result.summary
    assert summary["population_total"] == pytest.approx(869_595, abs=1)
    shares = [c["share"] for c in summary["coverage"]]
    assert 0 < shares[0] <= shares[1] <= shares[2] < 1
    after = [c["share"] for c in summary["coverage_with_new_sites"]]
    assert all(a >= b for a, b in zip(after, shares, strict=True))
    assert summary["facilities_used"] == 46
    assert len(summary["recommended_sites"]) == 10
    for name in ("summary.json", "map.html", "layers.gpkg", "coverage.csv"):
        assert (scenario.output.out / name).is_file()


@pytest.mark.comoros
def test_comoros_worked_example_scenario(comoros_dir: Path, tmp_path: Path) -> None:
    """The README's worked example: islands from the PBF, a mix of clinics and stops."""
    from accessmap.config import load_scenario

    root = Path(__file__).resolve().parents[1]
    scenario = load_scenario(root / "scripts" / "comoros_walk.toml").replace(
        out=tmp_path / "comoros")
    assert scenario.inputs.network is not None and scenario.inputs.network.resolve() == (
        comoros_dir / "comores-latest.osm.pbf").resolve()
    summary = run(scenario).summary
    areas = {row["area"]: row for row in summary["coverage_by_area"]}
    assert len(areas) == 3
    assert sum(r["population"] for r in areas.values()) == pytest.approx(869_595, abs=1)
    kinds = {site["kind"] for site in summary["recommended_sites"]}
    assert kinds == {"satellite_clinic", "mobile_unit_stop"}
    stops = [s for unit in summary["mobile_circuits"] for day in unit["days"]
             for s in day["stops"]]
    mobile = [s for s in summary["recommended_sites"] if s["kind"] == "mobile_unit_stop"]
    assert len(stops) + len(summary["mobile_unserved"]) == len(mobile)


# --------------------------------------------------------------------------- progress, cancel


def test_progress_rises_to_one_through_every_stage(tiny_world: dict[str, Path]) -> None:
    from accessmap.pipeline import STAGE_WEIGHTS
    from accessmap.progress import ProgressEvent

    events: list[ProgressEvent] = []
    run(tiny_scenario(tiny_world), progress=events.append)
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert events[-1].stage == "done"
    assert {e.stage for e in events} >= set(STAGE_WEIGHTS)


@pytest.mark.parametrize("stage", ["network", "travel_times", "analysis", "siting", "outputs"])
def test_cancelling_mid_run_raises_and_leaves_nothing(tiny_world: dict[str, Path],
                                                      stage: str) -> None:
    from accessmap.errors import Cancelled
    from accessmap.progress import CancelToken, ProgressEvent

    token = CancelToken()

    def listener(event: ProgressEvent) -> None:
        if event.stage == stage and event.fraction > 0:
            token.cancel("stopped by the test")

    scenario = tiny_scenario(tiny_world)
    with pytest.raises(Cancelled, match="stopped by the test"):
        run(scenario, progress=listener, cancel=token)
    out = scenario.output.out
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]


def test_stages_after_loading_never_touch_the_disk(tiny_world: dict[str, Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """pipeline.load_inputs is the only reader: once inputs are loaded, the stages run
    with every file-opening entry point disabled."""
    import builtins

    import pyogrio
    import rasterio

    from accessmap import pipeline
    from accessmap.analysis.coverage import coverage_table
    from accessmap.siting.plan import recommend_sites

    scenario = tiny_scenario(tiny_world)
    inputs = pipeline.load_inputs(scenario)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a stage opened a file: {args[:1]}")

    real_open = builtins.open
    data_dir = str(tiny_world["dir"])

    def open_outside_the_data(file: object, *args: object, **kwargs: object) -> object:
        # the MILP solver's scratch files in the temp folder are fine; inputs are not
        if str(file).startswith(data_dir):
            refuse(file)
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(builtins, "open", open_outside_the_data)
    for target, name in [(rasterio, "open"), (pyogrio, "read_dataframe"),
                         (pyogrio, "write_dataframe")]:
        monkeypatch.setattr(target, name, refuse)
    access = pipeline._travel_times(scenario, inputs, lambda fraction, message="": None)
    coverage_table(access.time_s, inputs.population.population,
                   scenario.analysis.thresholds_min)
    analysis = pipeline.analyse(scenario, inputs, access)
    plan = recommend_sites(scenario.siting, pipeline._siting_data(scenario, inputs, access))
    assert analysis.by_group is not None and len(plan.sites) == 1


def test_timings_include_every_stage_and_the_outputs(tiny_world: dict[str, Path]) -> None:
    from accessmap.pipeline import STAGE_WEIGHTS

    scenario = tiny_scenario(tiny_world)
    run(scenario)
    timings = json.loads((scenario.output.out / "summary.json").read_text())["timings_s"]
    assert set(timings) == set(STAGE_WEIGHTS)
    assert all(value >= 0 for value in timings.values())
