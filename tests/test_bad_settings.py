"""Bad settings, generated from :func:`accessmap.config.scenario_schema` (issue 13).

Every key of the schema gets values of the wrong type, NaN and infinities for numbers and
an unknown value for choices, through the three ways settings come in: a TOML scenario
file, :meth:`Scenario.replace` and the CLI's ``--set``.  Each must be refused with one
:class:`ConfigError` line naming ``section.key`` (the CLI: one line, exit code 2, no
traceback).  A key added to a section is covered without touching this file.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from click.testing import CliRunner

from accessmap.cli import main
from accessmap.config import Scenario, load_scenario, scenario_schema
from accessmap.errors import ConfigError

#: A highway class standing for the ``[speeds]`` table's own keys (additionalProperties).
SPEEDS_CLASS = "track"


class Case(NamedTuple):
    """One bad value of one key: the Python value and the same value written in TOML."""

    section: str  # "" for the top-level keys
    key: str
    value: Any
    toml: str
    enum: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}" if self.section else self.key


def _bad_values(prop: dict[str, Any]) -> Iterator[tuple[str, Any, str]]:
    """(label, value, TOML text) of values a key of JSON Schema ``prop`` must refuse."""
    kind = prop.get("type")
    if "anyOf" in prop:  # one of several kinds: a value of none of them
        kinds = {kind for option in prop["anyOf"] for kind in
                 (option.get("type") if isinstance(option.get("type"), list)
                  else [option.get("type")])}
        if "boolean" not in kinds:  # ids and names may be numbers or text
            yield "a boolean", True, "true"
        return
    if "enum" in prop:
        yield "unknown choice", "no-such-choice", '"no-such-choice"'
    if kind == "string":
        yield "a number", 5, "5"
    elif kind == "boolean":
        yield from (("text", "yes", '"yes"'), ("a number", 1, "1"))
    elif kind == "integer":
        yield from (("a fraction", 1.5, "1.5"), ("text", "many", '"many"'),
                    ("nan", math.nan, "nan"), ("inf", math.inf, "inf"))
    elif kind == "number":
        yield from (("text", "fast", '"fast"'), ("a boolean", True, "true"),
                    ("nan", math.nan, "nan"), ("inf", math.inf, "inf"),
                    ("-inf", -math.inf, "-inf"))
    elif kind == "array":
        yield "text", "x", '"x"'
        item = prop["items"].get("type")
        if item == "number":
            yield from (("[nan]", [math.nan], "[nan]"), ("[inf]", [math.inf], "[inf]"))
        elif item is not None and item != "integer":  # ids may be numbers or text
            yield "[a number]", [5], "[5]"
    elif kind == "object":
        yield "a number", 5, "5"
        extra = prop.get("additionalProperties")
        if not isinstance(extra, dict):
            pass
        elif extra.get("type") == "number":
            yield from (("{x = nan}", {"x": math.nan}, "{x = nan}"),
                        ("{x = text}", {"x": "a"}, '{x = "a"}'))
        else:
            yield "{x = a number}", {"x": 5}, "{x = 5}"
    else:  # pragma: no cover - a new kind of setting: give it bad values here
        pytest.fail(f"no bad values for schema {prop}")


def _keys() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for section, table in scenario_schema()["properties"].items():
        if section == "indicators":  # [[indicators]]: a list of tables at the top level
            yield "", section, table["properties"]["indicators"]
            continue
        if table.get("type") != "object":
            yield "", section, table
            continue
        for key, prop in table["properties"].items():
            yield section, key, prop
        if isinstance(table.get("additionalProperties"), dict):
            yield section, SPEEDS_CLASS, table["additionalProperties"]


def _cases() -> list[Any]:
    cases = []
    for section, key, prop in _keys():
        for label, value, toml in _bad_values(prop):
            case = Case(section, key, value, toml, tuple(prop.get("enum", ())))
            cases.append(pytest.param(case, id=f"{case.name}={label}"))
    return cases


CASES = _cases()


def _check_message(message: str, case: Case) -> None:
    assert "\n" not in message.strip(), message
    assert case.name in message, message
    for allowed in case.enum if case.value == "no-such-choice" else ():
        assert allowed in message, message  # the accepted values are named


def test_every_section_and_kind_of_key_is_covered() -> None:
    sections = {c.values[0].section for c in CASES}
    assert sections == {"", *scenario_schema()["properties"]} - {"title", "synthetic",
                                                                 "indicators"}
    assert len(CASES) > 100


@pytest.mark.parametrize("case", CASES)
def test_a_scenario_file_with_a_bad_value_is_refused(tmp_path: Path, case: Case) -> None:
    path = tmp_path / "scenario.toml"
    line = f"{case.key} = {case.toml}\n"
    path.write_text(f"[{case.section}]\n{line}" if case.section else line, "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    _check_message(str(caught.value), case)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("case", CASES)
def test_a_bad_value_by_plain_name_is_refused(case: Case) -> None:
    plain, value = case.key, case.value
    if (case.section, case.key) == ("speeds", "profile"):  # Speeds.profile() is a method
        plain = "speed_profile"
    if case.section == "speeds" and case.key == SPEEDS_CLASS:
        plain, value = "speeds_kph", {SPEEDS_CLASS: case.value}
    with pytest.raises(ConfigError) as caught:
        Scenario().replace(**{plain: value})
    _check_message(str(caught.value), case)


@pytest.mark.parametrize("case", CASES)
def test_a_bad_set_option_is_one_line_and_exit_code_2(case: Case) -> None:
    result = CliRunner().invoke(main, ["run", "--set", f"{case.name}={case.toml}"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    _check_message(lines[0], case)
