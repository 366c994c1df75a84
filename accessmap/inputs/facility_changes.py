"""A scenario's facility changes: closures, planned facilities, service and status filters.

:func:`load_scenario_facilities` loads the facilities file (with its exclusions, see
:func:`~accessmap.inputs.facilities.load_facilities`) and applies the ``[facilities]``
changes in this order:

1. ``close``: every facility a close rule picks is left out (an unknown id or name is
   refused with its near matches, see :func:`~accessmap.inputs.selection.select_facilities`);
2. ``status_column``: HeRAMS-style functionality; ``not functioning`` facilities are always
   left out, ``partially functioning`` ones when ``partially_functional = "exclude"``;
3. ``require``: facilities the rule does not pick are left out;
4. ``planned``: the planned facilities are added (ids ``P1``, ``P2``... by data row, or
   the planned file's own id column), with ``planned = True``.

Filters 2-3 apply to the facilities file, not to planned facilities (they are planned to
offer the service).  Ids stay the file's ids throughout.  What changed is kept in
``frame.attrs["changes"]`` (:class:`FacilityChanges`), reported in ``summary.json``.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accessmap.config.rules import id_text
from accessmap.config.sections import FacilitySettings
from accessmap.errors import DataQualityWarning, InputDataError
from accessmap.inputs.facilities import load_facilities
from accessmap.inputs.selection import select_facilities

__all__ = ["FacilityChanges", "apply_facility_changes", "functionality",
           "load_planned_facilities", "load_scenario_facilities"]

logger = logging.getLogger(__name__)

_NOT_FUNCTIONING = re.compile(r"\b(not|non)[\s_-]*function|\bclosed\b|\bdestroyed\b")
_PARTIAL = re.compile(r"partial")
_FUNCTIONAL = re.compile(r"function|\boperational\b")


@dataclass
class FacilityChanges:
    """The facilities a scenario closed, left out by a filter, or added.

    Each entry is ``{"facility_id": str, "name": str, "reason": str}``.
    """

    closed: list[dict[str, str]] = field(default_factory=list)
    filtered: list[dict[str, str]] = field(default_factory=list)
    added: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The changes as ``summary.json`` holds them."""
        return {"closed": self.closed, "filtered": self.filtered, "added": self.added}


def functionality(value: object) -> str:
    """Classify a HeRAMS-style status text.

    Returns
    -------
    {"functional", "partial", "not_functioning", "unknown"}

    Examples
    --------
    >>> [functionality(v) for v in ("Fully functional", "Partially functioning",
    ...                             "Non-functional", "", None)]
    ['functional', 'partial', 'not_functioning', 'unknown', 'unknown']
    """
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return "unknown"
    text = str(value).strip().casefold()
    if _NOT_FUNCTIONING.search(text):
        return "not_functioning"
    if _PARTIAL.search(text):
        return "partial"
    return "functional" if _FUNCTIONAL.search(text) else "unknown"


def load_scenario_facilities(path: str | os.PathLike[str], settings: FacilitySettings, *,
                             layer: str | None = None) -> gpd.GeoDataFrame:
    """Load the facilities of a scenario: the file, its exclusions and the changes.

    Parameters
    ----------
    path
        The facilities file.
    settings
        The ``[facilities]`` section.
    layer
        The facilities file's layer.

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`~accessmap.inputs.facilities.load_facilities`; with changes,
        ``attrs["changes"]`` holds a :class:`FacilityChanges` and, with planned
        facilities, a boolean ``planned`` column marks them.

    Raises
    ------
    ConfigError
        A close or require rule names an unknown id, name or column, or picks nothing.
    InputDataError, InputFileError
        The planned file is missing or unusable, its ids clash with the file's, or no
        facility remains.
    """
    frame = load_facilities(path, exclude=settings.exclude, layer=layer)
    if not settings.changes_facilities:
        return frame
    planned = None
    if settings.planned is not None:
        planned = load_planned_facilities(settings.planned, existing=frame["facility_id"])
    return apply_facility_changes(frame, settings, planned=planned, source=Path(path))


def load_planned_facilities(path: str | os.PathLike[str], *,
                            existing: pd.Series) -> gpd.GeoDataFrame:
    """Load planned facilities with ids ``P<data row>`` (or the file's own id column).

    Raises
    ------
    InputDataError
        A planned id is also an id of ``existing``.
    """
    frame = load_facilities(path)
    own_ids = frame.attrs.get("id_column") is not None
    if not own_ids:
        frame["facility_id"] = [f"P{i}" for i in frame["facility_id"]]
    clash = sorted(set(map(id_text, frame["facility_id"])) & set(map(id_text, existing)))
    if clash:
        raise InputDataError(f"planned facilities file {path}: id(s) {', '.join(clash[:5])} "
                             "are also ids of the facilities file; give planned facilities "
                             "ids of their own (or drop the id column to number them P1, P2...)")
    return frame


def apply_facility_changes(frame: gpd.GeoDataFrame, settings: FacilitySettings, *,
                           planned: gpd.GeoDataFrame | None = None,
                           source: Path | None = None) -> gpd.GeoDataFrame:
    """Apply ``close``, the status and ``require`` filters, then add ``planned``.

    The steps are described in the module docstring; ``source`` names the facilities
    file in messages.
    """
    changes = FacilityChanges()
    keep = np.ones(len(frame), dtype=np.bool_)
    for i, rule in enumerate(settings.close):
        hit = select_facilities(frame, rule, what=f"facilities.close[{i}]")
        changes.closed += _entries(frame, hit & keep, f"closed ({rule.describe()})")
        keep &= ~hit
    if settings.status_column is not None:
        out, reasons = _status_filter(frame, settings, source)
        for reason in dict.fromkeys(reasons[out & keep]):
            changes.filtered += _entries(frame, out & keep & (reasons == reason), reason)
        keep &= ~out
    if settings.require is not None:
        hit = select_facilities(frame, settings.require, what="facilities.require")
        changes.filtered += _entries(frame, keep & ~hit,
                                     f"does not meet require ({settings.require.describe()})")
        keep &= hit
    result = frame.loc[keep].reset_index(drop=True)
    if planned is not None:
        changes.added = _entries(planned, np.ones(len(planned), dtype=np.bool_), "planned")
        result = _with_planned(result, planned)
    if result.empty:
        raise InputDataError(f"facilities file {source or ''}: no facility remains after the "
                             "scenario's closures and filters ([facilities] close, require, "
                             "status_column); keep at least one")
    logger.info("facility changes: %d closed, %d filtered out, %d planned added",
                len(changes.closed), len(changes.filtered), len(changes.added))
    result.attrs = {**frame.attrs, "changes": changes}
    return result


def _entries(frame: pd.DataFrame, mask: NDArray[np.bool_], reason: str) -> list[dict[str, str]]:
    rows = frame.loc[mask]
    return [{"facility_id": id_text(i), "name": str(n), "reason": reason}
            for i, n in zip(rows["facility_id"], rows["name"], strict=True)]


def _status_filter(frame: pd.DataFrame, settings: FacilitySettings,
                   source: Path | None) -> tuple[NDArray[np.bool_], NDArray[np.object_]]:
    """Which rows the status filter leaves out, and why."""
    column = settings.status_column
    assert column is not None
    if column not in frame.columns:
        raise InputDataError(
            f"facilities file {source or ''} has no column {column!r} "
            "(facilities.status_column); columns: "
            + ", ".join(str(c) for c in frame.columns if c != "geometry"))
    kinds = np.array([functionality(v) for v in frame[column].tolist()], dtype=object)
    unknown = sorted({str(v) for v, k in zip(frame[column], kinds, strict=True)
                      if k == "unknown"})
    if unknown:
        message = (f"facilities file {source.name if source else ''}: "
                   f"{int((kinds == 'unknown').sum())} facilit(ies) have a {column} that is "
                   f"not a functionality status ({', '.join(unknown[:5])}); they are kept as "
                   "functional: use functional / partially functioning / not functioning")
        logger.warning("%s", message)
        warnings.warn(message, DataQualityWarning, stacklevel=4)
    out = kinds == "not_functioning"
    reasons = np.where(out, f"{column}: not functioning", "")
    if settings.partially_functional == "exclude":
        partial = kinds == "partial"
        reasons = np.where(partial, f"{column}: partially functioning", reasons)
        out |= partial
    return out, reasons.astype(object)


def _with_planned(frame: gpd.GeoDataFrame, planned: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The facilities followed by the planned ones; ids as text, a ``planned`` column."""
    both = pd.concat([frame.assign(planned=False), planned.assign(planned=True)],
                     ignore_index=True)
    both["facility_id"] = [id_text(i) for i in both["facility_id"]]
    return gpd.GeoDataFrame(both, geometry="geometry", crs=frame.crs)
