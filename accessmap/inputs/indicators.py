"""The target populations of ``[[indicators]]``: people of the group at each demand point.

An indicator's ``population`` is a count raster on the population grid (read like the
``[inputs] groups`` rasters, :func:`~accessmap.inputs.population.counts_on_grid`), a
constant share of every point's people, or a share per admin area read from a CSV file
(one row per area name, as the boundaries name them).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accessmap.config.indicators import Indicator, TargetPopulation
from accessmap.errors import ConfigError, DataQualityWarning, InputDataError, InputFileError
from accessmap.inputs.areas import OUTSIDE
from accessmap.inputs.population import Population, counts_on_grid

__all__ = ["area_shares", "target_populations"]

logger = logging.getLogger(__name__)


def target_populations(
    indicators: Sequence[Indicator],
    population: Population,
    area_labels: NDArray[np.object_] | None,
    *,
    aggregate: int = 1,
) -> dict[str, NDArray[np.float64]]:
    """People of each indicator's target group per demand point (indicator name -> array).

    Indicators without ``population`` are left out (they count everybody).

    Raises
    ------
    ConfigError
        Shares per area without ``[inputs] boundaries``.
    InputFileError, InputDataError
        A raster or CSV file is missing, on another grid, or lacks a column or an area.
    """
    out: dict[str, NDArray[np.float64]] = {}
    for indicator in indicators:
        target = indicator.population
        if target is None:
            continue
        where = f"indicators.{indicator.name}.population"
        if target.raster is not None:
            out[indicator.name] = counts_on_grid(target.raster, population, aggregate=aggregate)
        elif target.share is not None:
            out[indicator.name] = population.population * float(target.share)
        else:
            if area_labels is None:
                raise ConfigError(f"{where}.shares gives a share per admin area, but the run "
                                  "has no areas; set [inputs] boundaries")
            share = area_shares(target, area_labels, population.population, where=where)
            out[indicator.name] = population.population * share
    return out


def area_shares(
    target: TargetPopulation,
    area_labels: NDArray[np.object_],
    population: NDArray[np.float64],
    *,
    where: str,
) -> NDArray[np.float64]:
    """Share of the target group at each demand point, from ``target.shares`` (a CSV).

    People outside every area take the population-weighted mean share of the areas
    (with a :class:`~accessmap.errors.DataQualityWarning`).

    Raises
    ------
    InputFileError
        The file is missing or unreadable.
    InputDataError
        A column is missing, a share is not a number in 0-1, or an area of the run has no
        row (the message names the areas).
    """
    assert target.shares is not None
    path = target.shares
    try:
        table = pd.read_csv(path)
    except FileNotFoundError:
        raise InputFileError(f"{where}.shares: {path} does not exist; check the path") from None
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise InputFileError(f"{where}.shares: {path} is not a readable CSV ({err})") from None
    for key, column in (("area_column", target.area_column),
                        ("share_column", target.share_column)):
        if column not in table.columns:
            raise InputDataError(f"{path}: no column {column!r} (columns: "
                                 f"{', '.join(map(str, table.columns))}); set {where}.{key}")
    shares = pd.to_numeric(table[target.share_column], errors="coerce")
    bad = table.index[~shares.between(0, 1)]
    if len(bad):
        row = int(bad[0])
        raise InputDataError(f"{path} row {row + 2}: {target.share_column} "
                             f"{table[target.share_column].iloc[row]} is not a share "
                             "between 0 and 1")
    by_area = dict(zip(table[target.area_column].astype(str).str.strip(), shares, strict=True))
    labels = np.asarray(area_labels, dtype=object).astype(str)
    areas = sorted(set(labels) - {OUTSIDE})
    missing = [a for a in areas if a not in by_area]
    if missing:
        raise InputDataError(f"{path}: no share for area(s) {', '.join(missing[:8])}; add a "
                             f"row per area ({target.area_column}, {target.share_column})")
    share = np.array([by_area.get(label, np.nan) for label in labels], dtype=np.float64)
    outside = np.isnan(share)
    if outside.any():
        inside = ~outside
        mean = (float((share[inside] * population[inside]).sum() / population[inside].sum())
                if population[inside].sum() > 0 else float(np.nanmean(shares)))
        share[outside] = mean
        message = (f"{where}: {population[outside].sum():,.0f} people live outside every "
                   f"area; they take the areas' mean share {mean:.3f}")
        logger.warning(message)
        warnings.warn(message, DataQualityWarning, stacklevel=3)
    return share
