"""The shipped Comoros scenario set (``scripts/comoros_scenarios.toml``, issue 12).

docs/scenarios.md quotes its figures; these tests keep the file and its closure polygon
what the page says they are, without running it (the run takes minutes).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyproj
import shapely
from shapely.geometry import shape
from shapely.ops import transform

from accessmap.config.scenario_set import load_scenario_set
from tests.conftest import COMOROS, ROOT

SET = ROOT / "scripts" / "comoros_scenarios.toml"
POLYGON = ROOT / "scripts" / "comoros_coast_closure.geojson"


def test_the_set_holds_the_four_documented_scenarios() -> None:
    scenarios = load_scenario_set(SET)
    base = scenarios.baseline
    assert list(scenarios.scenarios) == ["no_el_maarouf", "no_mitsoudje",
                                         "coast_road_closed", "rainy_season"]
    assert base.analysis.mode == "drive"
    assert base.facilities.exclude == {"amenity": ("pharmacy",)}
    assert base.referral.level_column == "amenity"
    assert base.referral.levels == ("clinic", "hospital")
    (indicator,) = base.indicators.indicators
    assert indicator.name == "hospital_2h" and indicator.thresholds_min == (120.0,)
    assert indicator.target_share == 0.8
    sets = scenarios.scenarios
    assert [r.ids_or_names for r in sets["no_el_maarouf"].facilities.close] == [
        ("Hôpital El Maarouf",)]
    assert sets["coast_road_closed"].roads.closed_areas is not None
    assert Path(sets["coast_road_closed"].roads.closed_areas).resolve() == POLYGON.resolve()
    assert sets["rainy_season"].speeds.speed_profile == "rainy"
    for scenario in sets.values():  # every scenario keeps the baseline's other tables
        assert scenario.facilities.exclude == base.facilities.exclude
        assert scenario.indicators == base.indicators and scenario.referral == base.referral


def test_inputs_are_the_shared_comoros_files() -> None:
    inputs = load_scenario_set(SET).baseline.inputs
    for path, name in ((inputs.network, "comores-latest.osm.pbf"),
                       (inputs.population, "com_ppp_2020_UNadj.tif"),
                       (inputs.facilities, "health.gpkg")):
        assert path is not None
        assert Path(path).resolve() == (COMOROS / name).resolve()


def test_the_closure_polygon_is_a_narrow_strip_on_the_west_coast_of_ngazidja() -> None:
    features = json.loads(POLYGON.read_text(encoding="utf-8"))["features"]
    assert len(features) == 1
    polygon = shape(features[0]["geometry"])
    assert polygon.is_valid and polygon.geom_type == "Polygon"
    west, south, east, north = polygon.bounds
    # north of Moroni (11.70 S), south of Mitsamiouli (11.38 S), west of the island's middle
    assert -11.55 < south < north < -11.45 and 43.25 < west < east < 43.30
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32738", always_xy=True).transform
    metric = transform(to_utm, polygon)
    assert 2_500 < (north - south) * 111_000 < 4_000  # 3.4 km of road, as documented
    assert metric.area < 3.5e6 and shapely.minimum_clearance(metric) > 100
