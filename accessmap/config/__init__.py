"""Scenario settings: nested frozen sections that mirror the scenario file's tables.

A scenario file (TOML; every key optional, paths relative to the file) has one table per
section: ``[inputs]`` (files), ``[analysis]`` (mode, thresholds), ``[facilities]``
(exclusions), ``[speeds]`` (km/h per highway class and profile settings),
``[siting]`` (new sites, models, circuits), ``[referral]``, ``[transfer]`` (the change
of vehicle of the ``walk+drive`` mode), ``[offroad]`` (land cover and slope),
``[output]``, ``[roads]``, ``[compute]`` (memory limit, parallel workers) and
``[[indicators]]``; the README's
worked example shows one, and :func:`scenario_schema` describes every key.

Each table is a frozen dataclass (:class:`Inputs`, :class:`Analysis`,
:class:`FacilitySettings`, :class:`Speeds`, :class:`Siting`, :class:`Output`) and
:class:`Scenario` holds one of each.  One path validates every source: a TOML file
(:func:`load_scenario`), command-line options (:meth:`Scenario.replace`) and Python
arguments all end in the sections' ``__post_init__``, which checks each value against the
field's type and range and raises :class:`~accessmap.errors.ConfigError` naming the key.
:func:`scenario_schema` turns the same types into a JSON Schema.

This module imports no numpy, scipy or geopandas, so reading settings is instant.
"""


from accessmap.config.compute import Compute
from accessmap.config.offroad import Offroad
from accessmap.config.roads import Roads
from accessmap.config.scenario import (
    PATH_KEYS,
    SECTIONS,
    Scenario,
    load_scenario,
    scenario_from_dict,
    scenario_schema,
)
from accessmap.config.sections import (
    Analysis,
    FacilitySettings,
    Inputs,
    Output,
    Referral,
    Siting,
    Speeds,
)
from accessmap.config.transfer import Transfer

__all__ = [
    "PATH_KEYS", "SECTIONS",
    "Analysis", "Compute", "FacilitySettings", "Inputs", "Offroad", "Output", "Referral",
    "Roads", "Scenario", "Siting", "Speeds", "Transfer",
    "load_scenario", "scenario_from_dict",
    "scenario_schema",
]
