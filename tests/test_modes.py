"""Travel modes: the bicycle mode's speeds and rules, and that it flows through a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from accessmap.config import Scenario
from accessmap.routing.modes import MODES, SpeedProfile, way_speeds_kph


def test_bicycle_is_a_registered_vehicle_mode() -> None:
    assert "bicycle" in MODES
    profile = SpeedProfile.default("bicycle")
    assert way_speeds_kph({"highway": "residential"}, profile) == (12.0, 12.0)
    assert way_speeds_kph({"highway": "motorway"}, profile) is None  # no class speed
    assert way_speeds_kph({"highway": "residential", "bicycle": "no"}, profile) is None
    # one-way rules apply to bicycles; rough surfaces slow them like vehicles
    assert way_speeds_kph({"highway": "residential", "oneway": "yes"}, profile) == (12.0, 0.0)
    slow = way_speeds_kph({"highway": "track", "surface": "mud"}, profile)
    assert slow is not None and slow[0] == pytest.approx(9.0 * 0.4)


def test_a_bicycle_run_is_faster_than_walking_by_hand(tiny_world: dict[str, Path]) -> None:
    """The tiny world's 1 km residential road: 12 min walking, 5 min cycling at 12 km/h."""
    from accessmap.pipeline import run

    base = Scenario().replace(network=tiny_world["network"],
                              population=tiny_world["population"],
                              facilities=tiny_world["facilities"],
                              exclude={"amenity": ("pharmacy",)}, new_sites=0)
    walk = run(base, write=False)
    bike = run(base.replace(mode="bicycle"), write=False)
    pop = walk.population.population.tolist()
    walk_min = dict(zip(pop, (walk.access.time_s / 60).tolist(), strict=True))
    bike_min = dict(zip(pop, (bike.access.time_s / 60).tolist(), strict=True))
    assert walk_min[400] == pytest.approx(36, rel=0.01)
    assert bike_min[400] == pytest.approx(15, rel=0.01)  # 3 km at 12 km/h
    assert bike.scenario.analysis.mode == "bicycle"
