"""The facility-selection rule (config/rules.py) and select_facilities (inputs/selection.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from accessmap.config.rules import FacilityRule, id_text
from accessmap.errors import ConfigError, DataQualityWarning
from accessmap.inputs.selection import select_facilities


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "facility_id": [1, 2, 3, "HF-10"],
        "name": ["Hopital Central", "CSD Foumbouni", " Poste de Sante Mitsamiouli ", "Clinique"],
        "type": ["hospital", "Health Centre", "post", "hospital"],
        "services": ["ANC; Emergency_Obstetric", "anc,vaccination", None, "emergency_obstetric"],
        "beds": [40.0, 12.0, 0.0, 14.0],
    })


def _picked(frame: pd.DataFrame, table: dict[str, object]) -> list[int]:
    mask = select_facilities(frame, FacilityRule.from_table(table, key="t"), what="t")
    assert mask.dtype == np.bool_ and mask.shape == (len(frame),)
    return np.flatnonzero(mask).tolist()


def test_ids_are_compared_as_text(frame: pd.DataFrame) -> None:
    assert _picked(frame, {"ids": [1, "HF-10"]}) == [0, 3]
    assert _picked(frame, {"ids": "3"}) == [2]
    assert id_text(3.0) == "3"


def test_names_are_case_insensitive_and_trimmed(frame: pd.DataFrame) -> None:
    assert _picked(frame, {"names": ["hopital central", "Poste de sante Mitsamiouli"]}) == [0, 2]


def test_equals_is_case_insensitive_on_text_and_numeric_on_numbers(frame: pd.DataFrame) -> None:
    assert _picked(frame, {"column": "type", "equals": ["HOSPITAL"]}) == [0, 3]
    assert _picked(frame, {"column": "type", "equals": "health centre"}) == [1]
    assert _picked(frame, {"column": "beds", "equals": [14, "12"]}) == [1, 3]


def test_contains_splits_lists_on_semicolons_and_commas(frame: pd.DataFrame) -> None:
    assert _picked(frame, {"column": "services", "contains": ["emergency_obstetric"]}) == [0, 3]
    assert _picked(frame, {"column": "services", "contains": ["vaccination"]}) == [1]
    # an item must equal the value: a part of an item is no match
    part = FacilityRule(column="services", contains=("obstetric",))
    assert not select_facilities(frame, part, what="t", allow_empty=True).any()


def test_tests_combine_with_and(frame: pd.DataFrame) -> None:
    table = {"column": "services", "contains": ["emergency_obstetric"], "ids": [1, 2, "HF-10"]}
    assert _picked(frame, table) == [0, 3]
    assert _picked(frame, {"column": "type", "equals": ["hospital"], "names": ["clinique"]}) == [3]


def test_bare_values_match_an_id_or_a_name(frame: pd.DataFrame) -> None:
    rule = FacilityRule.from_value("csd foumbouni", key="facilities.close[0]")
    assert select_facilities(frame, rule, what="x").tolist() == [False, True, False, False]
    assert select_facilities(frame, FacilityRule.from_value(3, key="k"),
                             what="x").tolist() == [False, False, True, False]


def test_round_trip_through_to_dict() -> None:
    table = {"column": "services", "contains": ["emergency_obstetric"], "ids": ["1", "2"]}
    rule = FacilityRule.from_table(table, key="t")
    assert rule.to_dict() == table
    assert FacilityRule.from_table(rule.to_dict(), key="other") == rule


@pytest.mark.parametrize(("table", "message"), [
    ({}, r"t is an empty rule"),
    ({"idz": [1]}, r"unknown key t\.idz; known: ids"),
    ({"ids": [True]}, r"t\.ids\[0\] is True"),
    ({"names": {"a": 1}}, r"t\.names is \{'a': 1\}; give a list"),
    ({"column": "type"}, r"t: column = 'type' needs equals"),
    ({"contains": ["x"]}, r"t\.contains needs column"),
    ({"column": 3, "equals": ["x"]}, r"t\.column is 3"),
    ({"ids": [""]}, r"t\.ids\[0\] is empty"),
])
def test_bad_rules_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FacilityRule.from_table(table, key="t")


def test_a_rule_must_be_a_table() -> None:
    with pytest.raises(ConfigError, match=r"facilities.require is \[1\]; give a table"):
        FacilityRule.from_table([1], key="facilities.require")  # type: ignore[arg-type]


def test_unknown_ids_and_names_list_near_matches(frame: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match=r"close\[0\]: no facility has the id 'HF-1'; "
                                          r"near matches: HF-10"):
        select_facilities(frame, FacilityRule(ids=("HF-1",)), what="close[0]")
    with pytest.raises(ConfigError, match=r"no facility has the name 'Hopital Centrale'; "
                                          r"near matches: hopital central"):
        select_facilities(frame, FacilityRule(names=("Hopital Centrale",)), what="c")
    with pytest.raises(ConfigError, match=r"no facility has the id or name 'CSD Foumboun'; "
                                          r"near matches: csd foumbouni"):
        select_facilities(frame, FacilityRule(ids_or_names=("CSD Foumboun",)), what="c")


def test_unknown_column_lists_the_columns(frame: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match=r"no column 'service'; near matches: services; "
                                          r"columns: facility_id"):
        select_facilities(frame, FacilityRule(column="service", equals=("x",)), what="c")


def test_a_rule_that_matches_nothing_is_refused_unless_allowed(frame: pd.DataFrame) -> None:
    rule = FacilityRule(column="services", contains=("surgery",))
    with pytest.raises(ConfigError, match=r"matches no facility \(values of services: anc, "
                                          r"emergency_obstetric, vaccination\)"):
        select_facilities(frame, rule, what="require")
    assert not select_facilities(frame, rule, what="require", allow_empty=True).any()


def test_a_shared_name_picks_every_facility_with_a_warning(frame: pd.DataFrame) -> None:
    frame.loc[3, "name"] = "hopital central"
    with pytest.warns(DataQualityWarning, match=r"c: 2 facilities are named 'Hopital Central' "
                                                r"\(ids 1, HF-10\); the rule picks them all"):
        mask = select_facilities(frame, FacilityRule(names=("Hopital Central",)), what="c")
    assert mask.tolist() == [True, False, False, True]


def test_a_bare_value_is_an_id_before_a_name(frame: pd.DataFrame) -> None:
    frame.loc[0, "name"] = "3"  # facility 1 is called "3"; facility 3 has the id 3
    rule = FacilityRule.from_value("3", key="k")
    assert select_facilities(frame, rule, what="k").tolist() == [False, False, True, False]
