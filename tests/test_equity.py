"""Inequality measures against brute-force definitions and hand cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accessmap.analysis.equity import (
    coverage_gaps,
    rural_underserved_share,
    travel_time_inequality,
    weighted_gini,
)
from accessmap.inputs.areas import PERI_URBAN, RURAL, URBAN


def pairwise_gini(x: np.ndarray, w: np.ndarray) -> float:
    diff = np.abs(x[:, None] - x[None, :])
    return float((w[:, None] * w[None, :] * diff).sum() / (2 * w.sum() ** 2 * np.average(x,
                                                                                          weights=w)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 500), st.floats(0.1, 100)), min_size=2, max_size=30))
def test_gini_equals_the_pairwise_definition(pairs: list[tuple[float, float]]) -> None:
    x = np.array([p[0] for p in pairs])
    w = np.array([p[1] for p in pairs])
    if np.average(x, weights=w) <= 1e-9:
        return
    assert weighted_gini(x, w) == pytest.approx(pairwise_gini(x, w), abs=1e-9)


def test_gini_hand_cases() -> None:
    assert weighted_gini(np.array([0.0, 10.0]), np.array([1.0, 1.0])) == pytest.approx(0.5)
    assert weighted_gini(np.array([7.0, 7.0, 7.0]), np.array([1.0, 5.0, 2.0])) == 0.0
    assert np.isnan(weighted_gini(np.array([]), np.array([])))


def test_unreachable_people_are_excluded_or_capped_and_reported() -> None:
    out = travel_time_inequality(np.array([0.0, 600.0, np.inf]), np.array([1.0, 1.0, 2.0]),
                                 cap_min=20)
    assert out["gini_reachable"] == pytest.approx(0.5)  # 0 and 10 minutes
    assert out["excluded_unreachable_share"] == pytest.approx(0.5)
    # capped: 0, 10, 20, 20 minutes
    x = np.array([0.0, 10.0, 20.0])
    assert out["gini_capped"] == pytest.approx(pairwise_gini(x, np.array([1.0, 1.0, 2.0])),
                                               abs=1e-6)


def test_coverage_gap_between_best_and_worst_group() -> None:
    table = pd.DataFrame({"group": ["a", "b", "c"], "population": [10.0, 20.0, 0.0],
                          "share_30min": [0.9, 0.4, np.nan]})
    gaps = coverage_gaps(table, [30])
    assert gaps == [{"threshold_min": 30.0, "best": "a", "best_share": 0.9, "worst": "b",
                     "worst_share": 0.4, "gap": 0.5}]


def test_rural_share_of_underserved_people() -> None:
    settlement = np.array([URBAN, RURAL, RURAL, PERI_URBAN], dtype=object)
    time_s = np.array([7200.0, np.inf, 600.0, 4000.0])
    pop = np.array([10.0, 30.0, 100.0, 60.0])
    assert rural_underserved_share(settlement, time_s, pop, 60) == pytest.approx(0.3)
    assert rural_underserved_share(settlement, np.zeros(4), pop, 60) is None


def test_equity_summary_gathers_gaps_gini_and_rural_share() -> None:
    from accessmap.analysis.coverage import coverage_by_groups, label_weights
    from accessmap.analysis.equity import equity_summary
    from accessmap.routing.travel_times import REACHED

    settlement = np.array(["urban", "rural", "rural", "urban"], dtype=object)
    pop = np.array([10.0, 10.0, 20.0, 60.0])
    time_s = np.array([600.0, 4800.0, 9000.0, 1200.0])  # 10, 80, 150, 20 minutes
    status = np.full(4, REACHED, dtype=np.int8)
    by_group = coverage_by_groups({"settlement_type": label_weights(settlement, pop)},
                                  time_s, status, [30, 60])
    assert by_group["grouping"].unique().tolist() == ["settlement_type"]
    urban = by_group[by_group["group"] == "urban"].iloc[0]
    assert urban["share_30min"] == 1.0
    summary = equity_summary(by_group, settlement, time_s, pop, [30, 60], 60)
    gaps = summary["coverage_gaps"]["settlement_type"]
    assert gaps[0]["best"] == "urban" and gaps[0]["worst"] == "rural"
    assert gaps[0]["gap"] == pytest.approx(1.0)
    # beyond 60 min: the two rural cells (30 people), all of the underserved
    assert summary["rural_share_of_underserved"] == pytest.approx(1.0)
    assert summary["underserved_threshold_min"] == 60
    assert 0 < summary["travel_time_inequality"]["gini_reachable"] < 1
