"""Coverage tables, coverage by area/group and underserved zones on hand-computable grids."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from accessmap.analysis.coverage import (
    coverage_by,
    coverage_table,
    label_weights,
    underserved_mask,
    unreachable_summary,
)
from accessmap.analysis.zones import REST_ZONE, underserved_zones
from accessmap.routing.travel_times import NO_ROUTE, OFF_NETWORK, REACHED
from tests.test_surface import grid_population


def test_coverage_table_counts_people_within_each_threshold() -> None:
    table = coverage_table(np.array([600.0, 2400.0, np.inf, 1800.0]),
                           np.array([1.0, 2.0, 3.0, 4.0]), [30, 60])
    assert table["population"].tolist() == [5.0, 7.0]
    assert table["share"].tolist() == pytest.approx([0.5, 0.7])


def test_unreachable_split_by_reason() -> None:
    status = np.array([REACHED, OFF_NETWORK, NO_ROUTE, OFF_NETWORK], dtype=np.int8)
    out = unreachable_summary(status, np.array([1.0, 2.0, 3.0, 4.0]))
    assert out == {"off_network": 6.0, "no_route": 3.0, "total": 9.0}


def test_coverage_by_area_rows_add_up_to_the_total() -> None:
    labels = np.array(["north", "north", "south", "south"], dtype=object)
    pop = np.array([10.0, 30.0, 20.0, 40.0])
    time_s = np.array([600.0, 5000.0, np.inf, 1500.0])
    status = np.array([REACHED, REACHED, OFF_NETWORK, REACHED], dtype=np.int8)
    table = coverage_by(label_weights(labels, pop), time_s, status, [30, 120], key="area")
    north, south = table.iloc[0], table.iloc[1]
    assert table["area"].tolist() == ["north", "south"]
    assert north["population_30min"] == 10 and north["share_30min"] == pytest.approx(0.25)
    assert north["population_120min"] == 40 and south["population_120min"] == 40
    assert south["off_network"] == 20 and south["no_route"] == 0
    assert north["mean_time_min"] == pytest.approx((10 * 10 + 30 * 5000 / 60) / 40)
    assert south["mean_time_min"] == pytest.approx(25.0)  # the off-network 20 left out
    assert table["population"].sum() == pop.sum()


def test_group_without_people_has_empty_shares_not_zero() -> None:
    table = coverage_by({"a": np.array([0.0, 0.0])}, np.array([1.0, 2.0]),
                        np.zeros(2, np.int8), [30])
    assert np.isnan(table["share_30min"].iloc[0])


def test_underserved_mask_counts_unreachable_as_underserved() -> None:
    mask = underserved_mask(np.array([3600.0, 3601.0, np.inf]), 60)
    assert mask.tolist() == [False, True, True]


def test_zones_are_8_connected_ranked_and_small_ones_folded() -> None:
    # people per cell; times (minutes) make cells (0,0), (1,1) and (2,2) underserved:
    # diagonal neighbours form ONE 8-connected zone; (0,3) is a second, small zone.
    pop = grid_population([[5, 1, 1, 2], [1, 7, 1, 1], [1, 1, 9, 1]])
    minutes = {(0, 0): 90, (1, 1): 100, (2, 2): np.inf, (0, 3): 70}
    time_s = np.array([minutes.get((int(r), int(c)), 10) * 60.0
                       for r, c in zip(pop.row, pop.col, strict=True)])
    zones = underserved_zones(pop, time_s, 60, min_population=5)
    assert zones["zone"].tolist() == ["zone 1", REST_ZONE]
    first, rest = zones.iloc[0], zones.iloc[1]
    assert first["population"] == 21 and first["cells"] == 3
    assert first["unreachable_population"] == 9
    assert first["mean_time_min"] == pytest.approx((5 * 90 + 7 * 100) / 12)
    assert first["max_time_min"] == pytest.approx(100)
    assert rest["population"] == 2 and rest["rank"] == 2
    assert zones["population"].sum() == 23  # nobody dropped
    assert first.geometry.contains(shapely.Point(40.015, 0.0))
    assert first["area_km2"] == pytest.approx(3 * 1.2364, rel=0.01)


def test_no_underserved_cell_gives_no_zone() -> None:
    pop = grid_population([[1, 1], [1, 1]])
    zones = underserved_zones(pop, np.full(4, 60.0), 30)
    assert zones.empty and "max_time_min" in zones.columns


def test_label_weights_compare_labels_as_text_and_keep_missing_ones() -> None:
    labels = np.array(["b", 1, "1", None, "a", np.nan, "b", None], dtype=object)
    weights = label_weights(labels, np.arange(1.0, 9.0))
    assert list(weights) == ["1", "None", "a", "b", "nan"]  # sorted, as text
    assert weights["1"].tolist() == [0, 2, 3, 0, 0, 0, 0, 0]  # 1 and "1" are one label
    assert weights["None"].tolist() == [0, 0, 0, 4, 0, 0, 0, 8]
    assert weights["nan"].tolist() == [0, 0, 0, 0, 0, 6, 0, 0]
    assert sum(w.sum() for w in weights.values()) == 36
