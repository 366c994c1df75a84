"""Facilities picked by a :class:`~accessmap.config.rules.FacilityRule`, as a mask.

:func:`select_facilities` applies a rule to a facilities frame (as
:func:`~accessmap.inputs.facilities.load_facilities` returns it): ids against
``facility_id``, names against ``name``, ``equals``/``contains`` against a column; the
matching rules are described in :mod:`accessmap.config.rules`.  Unknown ids, names or
columns are refused with their near matches; a rule that matches no facility is refused
too (``allow_empty=True`` accepts it), so a misspelt service never passes silently.  A
name several facilities share picks them all, with a warning.
"""

from __future__ import annotations

import difflib
import logging
import re
import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accessmap.config.rules import FacilityRule, id_text
from accessmap.errors import ConfigError, DataQualityWarning
from accessmap.inputs.facilities import equal_to

__all__ = ["select_facilities"]

logger = logging.getLogger(__name__)

_ITEM_SEPARATORS = re.compile(r"[;,]")


def select_facilities(frame: pd.DataFrame, rule: FacilityRule, *, what: str,
                      allow_empty: bool = False) -> NDArray[np.bool_]:
    """Return which rows of ``frame`` the rule picks (every test of the rule holds).

    Parameters
    ----------
    frame
        Facilities with ``facility_id`` and ``name`` (and the columns a rule tests).
    rule
        The rule.
    what
        What the rule is for, named in messages (``"facilities.close[0]"``).
    allow_empty
        Accept a rule that picks no facility (a mask of ``False``).

    Returns
    -------
    numpy.ndarray
        Boolean mask, one value per row of ``frame``.

    Raises
    ------
    ConfigError
        An id or name is not in ``frame`` (the message lists near matches), the column
        does not exist, or the rule picks no facility.

    Examples
    --------
    >>> frame = pd.DataFrame({"facility_id": [1, 2], "name": ["A", "B"],
    ...                       "services": ["anc; emergency_obstetric", "anc"]})
    >>> rule = FacilityRule(column="services", contains=("Emergency_Obstetric",))
    >>> select_facilities(frame, rule, what="demo").tolist()
    [True, False]
    """
    mask = np.ones(len(frame), dtype=np.bool_)
    ids = _texts(frame["facility_id"]) if "facility_id" in frame else [""] * len(frame)
    names = _folded(frame["name"]) if "name" in frame else [""] * len(frame)
    if rule.ids:
        mask &= _known_values(rule.ids, ids, what=what, kind="id")
    if rule.names:
        folded = [n.casefold() for n in rule.names]
        _known_values(folded, names, what=what, kind="name", shown=rule.names)
        mask &= np.logical_or.reduce([_named(f, n, ids, names, what=what)
                                      for f, n in zip(folded, rule.names, strict=True)])
    if rule.ids_or_names:
        mask &= _ids_or_names(rule.ids_or_names, ids, names, what=what)
    if rule.column is not None:
        column = _column(frame, rule.column, what=what)
        if rule.equals:
            mask &= _equals(column, rule.equals)
        if rule.contains:
            mask &= _contains(column, rule.contains)
    if not mask.any() and not allow_empty:
        raise ConfigError(_matches_nothing(frame, rule, what))
    return mask


def _texts(column: pd.Series) -> list[str]:
    return [id_text(v) for v in column.tolist()]


def _folded(column: pd.Series) -> list[str]:
    return ["" if _missing(v) else str(v).strip().casefold() for v in column.tolist()]


def _missing(value: object) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _near(value: str, known: Iterable[str]) -> str:
    """``"; near matches: a, b"``, else ``"; known: a, b, ..."`` (the first few)."""
    values = sorted(set(known) - {""}, key=lambda v: (len(v), v))
    found = difflib.get_close_matches(value, values, n=5, cutoff=0.6)
    if found:
        return "; near matches: " + ", ".join(found)
    more = ", ..." if len(values) > 8 else ""
    return "; known: " + ", ".join(values[:8]) + more if values else ""


def _known_values(wanted: Iterable[str], values: list[str], *, what: str, kind: str,
                  shown: Iterable[str] | None = None) -> NDArray[np.bool_]:
    """Rows whose value is one of ``wanted``; refuses a wanted value no row has."""
    present = set(values)
    for value, label in zip(wanted, shown if shown is not None else wanted, strict=True):
        if value not in present:
            raise ConfigError(f"{what}: no facility has the {kind} {label!r}"
                              + _near(value, present)
                              + f"; check the {kind}s in the facilities file")
    wanted_set = set(wanted)
    return np.fromiter((v in wanted_set for v in values), dtype=np.bool_, count=len(values))


def _ids_or_names(wanted: Iterable[str], ids: list[str], names: list[str], *,
                  what: str) -> NDArray[np.bool_]:
    """Rows whose id is one of ``wanted``, or else whose name is; refuses a value that is
    neither."""
    hit = np.zeros(len(ids), dtype=np.bool_)
    id_set, name_set = set(ids), set(names)
    for value in wanted:
        folded = value.casefold()
        if value in id_set:
            hit |= np.array([i == value for i in ids], dtype=np.bool_)
        elif folded in name_set:
            hit |= _named(folded, value, ids, names, what=what)
        else:
            raise ConfigError(f"{what}: no facility has the id or name {value!r}"
                              + _near(folded, id_set | name_set)
                              + "; check the ids and names in the facilities file")
    return hit


def _named(folded: str, label: str, ids: list[str], names: list[str], *,
           what: str) -> NDArray[np.bool_]:
    """Rows named ``folded``; several facilities sharing the name are warned about."""
    hit = np.array([n == folded for n in names], dtype=np.bool_)
    if hit.sum() > 1:
        shared = ", ".join(i for i, h in zip(ids, hit, strict=True) if h)
        message = (f"{what}: {int(hit.sum())} facilities are named {label!r} (ids {shared}); "
                   "the rule picks them all: give an id to pick one")
        logger.warning("%s", message)
        warnings.warn(message, DataQualityWarning, stacklevel=4)
    return hit


def _column(frame: pd.DataFrame, name: str, *, what: str) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    columns = [str(c) for c in frame.columns if c != "geometry"]
    raise ConfigError(f"{what}: the facilities have no column {name!r}" + _near(name, columns)
                      + "; columns: " + ", ".join(columns))


def _is_number_column(column: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(column)
                and not pd.api.types.is_bool_dtype(column))


def _equals(column: pd.Series, values: Iterable[str]) -> NDArray[np.bool_]:
    """Rows equal to one of ``values``: as numbers on a number column, else as text."""
    if _is_number_column(column):
        hit = np.zeros(len(column), dtype=np.bool_)
        for value in values:
            hit |= equal_to(column, value)
        return hit
    wanted = {v.casefold() for v in values}
    return np.fromiter((v in wanted for v in _folded(column)), dtype=np.bool_,
                       count=len(column))


def _contains(column: pd.Series, values: Iterable[str]) -> NDArray[np.bool_]:
    """Rows whose list of items (split on ``;`` or ``,``) holds one of ``values``."""
    wanted = {v.casefold() for v in values}
    return np.fromiter(
        (bool(wanted & {item.strip() for item in _ITEM_SEPARATORS.split(text)})
         for text in _folded(column)), dtype=np.bool_, count=len(column))


def _matches_nothing(frame: pd.DataFrame, rule: FacilityRule, what: str) -> str:
    message = f"{what}: the rule ({rule.describe()}) matches no facility"
    if rule.column is not None:
        items: set[str] = set()
        for text in _folded(frame[rule.column]):
            items |= {i.strip() for i in _ITEM_SEPARATORS.split(text) if i.strip()} \
                if rule.contains else {text}
        shown = sorted(items)[:12]
        message += f" (values of {rule.column}: " + ", ".join(shown) + ")"
    return message + "; check the spelling or the other tests of the rule"
