"""QGIS default styles for ``layers.gpkg``: a ``layer_styles`` table holding QML.

QGIS applies the style marked ``useAsDefault`` when a GeoPackage layer is opened, so
planners see the same classes and colours as in the map and report.  The table follows
QGIS's own schema and is registered in ``gpkg_contents`` as an attribute table (as QGIS
does when it saves styles itself).
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

from accessmap.outputs.style import COVERAGE_COLOURS, time_classes
from accessmap.record import LAYERS

__all__ = ["categorized_qml", "graduated_qml", "layer_qml", "single_qml", "write_layer_styles"]

logger = logging.getLogger(__name__)


#: (symbol type, properties) of the single-symbol layers.
SINGLE_STYLES: dict[str, tuple[str, dict[str, str]]] = {
    LAYERS.facilities: ("marker", {"name": "circle", "color": "#08519c", "size": "2.6",
                              "outline_color": "#ffffff"}),
    LAYERS.demand_points: ("marker", {"name": "circle", "color": "#969696", "size": "0.6",
                                 "outline_style": "no"}),
    LAYERS.roads: ("line", {"line_color": "#8a8a8a", "line_width": "0.3"}),
    LAYERS.underserved_zones: ("fill", {"color": "#c51b8a40", "outline_color": "#7a0177",
                                   "outline_width": "0.6"}),
    LAYERS.catchments: ("fill", {"color": "#00000000", "outline_color": "#08519c",
                            "outline_width": "0.3"}),
    LAYERS.candidates: ("marker", {"name": "cross", "color": "#737373", "size": "1.5"}),
    LAYERS.mobile_routes: ("line", {"line_color": "#e41a1c", "line_width": "0.8"}),
}


SITE_STYLES = {"satellite_clinic": ("square", "#54278f"),
               "mobile_unit_stop": ("diamond", "#e6550d")}


def _rgba(colour: str) -> str:
    value = colour.lstrip("#")
    alpha = int(value[6:8], 16) if len(value) == 8 else 255
    return ",".join(str(int(value[i: i + 2], 16)) for i in (0, 2, 4)) + f",{alpha}"


def _symbol(kind: str, props: dict[str, str], name: str) -> str:
    layer_class = {"marker": "SimpleMarker", "line": "SimpleLine", "fill": "SimpleFill"}[kind]
    options = "".join(
        f'<Option type="QString" name={quoteattr(k)} '
        f'value={quoteattr(_rgba(v) if "color" in k else v)}/>'
        for k, v in props.items())
    return (f'<symbol type="{kind}" name="{name}" alpha="1" clip_to_extent="1" '
            f'force_rhr="0"><layer class="{layer_class}" enabled="1" locked="0" pass="0">'
            f'<Option type="Map">{options}</Option></layer></symbol>')


def _qml(renderer: str) -> str:
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
            f'<qgis version="3.28.0" styleCategories="Symbology">{renderer}</qgis>')


def single_qml(kind: str, props: dict[str, str]) -> str:
    """QML of a single-symbol renderer."""
    return _qml('<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" '
                f'forceraster="0"><symbols>{_symbol(kind, props, "0")}</symbols>'
                "</renderer-v2>")


def categorized_qml(attribute: str, categories: Sequence[tuple[str, str, str, dict[str, str]]]
                    ) -> str:
    """QML of a categorized renderer: (value, label, symbol type, properties) per class."""
    cats = "".join(f"<category value={quoteattr(v)} symbol=\"{i}\" label={quoteattr(label)} "
                   'render="true"/>' for i, (v, label, _, _) in enumerate(categories))
    symbols = "".join(_symbol(kind, props, str(i))
                      for i, (_, _, kind, props) in enumerate(categories))
    return _qml(f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(attribute)} '
                'symbollevels="0" enableorderby="0" forceraster="0">'
                f"<categories>{cats}</categories><symbols>{symbols}</symbols></renderer-v2>")


def graduated_qml(attribute: str, colours: Sequence[str]) -> str:
    """QML of a graduated fill renderer on a 0-1 share, equal steps."""
    step = 1 / len(colours)
    ranges = "".join(
        f'<range lower="{i * step:.4f}" upper="{(i + 1) * step:.4f}" symbol="{i}" '
        f'label="{i * step:.0%} - {(i + 1) * step:.0%}" render="true"/>'
        for i in range(len(colours)))
    symbols = "".join(_symbol("fill", {"color": c + "b0", "outline_color": "#333333",
                                       "outline_width": "0.4"}, str(i))
                      for i, c in enumerate(colours))
    return _qml(f'<renderer-v2 type="graduatedSymbol" attr={quoteattr(attribute)} '
                'graduatedMethod="GraduatedColor" symbollevels="0" enableorderby="0" '
                f'forceraster="0"><ranges>{ranges}</ranges><symbols>{symbols}</symbols>'
                "</renderer-v2>")


def _band_qml(thresholds: Sequence[float]) -> str:
    classes = time_classes(thresholds)
    return categorized_qml("threshold_min", [
        (f"{t:g}", f"within {t:g} min", "fill",
         {"color": c.colour + "40", "outline_color": c.colour, "outline_width": "0.5"})
        for t, c in zip(thresholds, classes, strict=False)])


def _site_qml() -> str:
    return categorized_qml("kind", [
        (kind, kind.replace("_", " "), "marker",
         {"name": shape, "color": colour, "size": "4", "outline_color": "#ffffff"})
        for kind, (shape, colour) in SITE_STYLES.items()])


def layer_qml(connection: sqlite3.Connection, table: str) -> str | None:
    """QML for one layer of the GeoPackage, or ``None`` when it has no style."""
    columns = [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
    if table == LAYERS.isochrone_bands and "threshold_min" in columns:
        values = sorted(r[0] for r in connection.execute(
            'SELECT DISTINCT threshold_min FROM "isochrone_bands"') if r[0] is not None)
        return _band_qml(values[:5]) if values else None
    if table == LAYERS.recommended_sites and "kind" in columns:
        return _site_qml()
    if table == LAYERS.closed_roads:
        return categorized_qml("change", [
            ("closed", "closed", "line", {"line_color": "#8b0000", "line_width": "0.8"}),
            ("slowed", "slowed", "line", {"line_color": "#e67e00", "line_width": "0.6",
                                          "line_style": "dash"})])
    if table == LAYERS.admin_areas:
        shares = sorted((float(m.group(1)), c) for c in columns
                        if (m := re.fullmatch(r"share_([\d.]+)min", c)))
        if shares:
            return graduated_qml(shares[len(shares) // 2][1], COVERAGE_COLOURS)
        return single_qml("fill", {"color": "#00000000", "outline_color": "#333333",
                                   "outline_width": "0.5"})
    if table in SINGLE_STYLES:
        kind, props = SINGLE_STYLES[table]
        return single_qml(kind, props)
    return None


_CREATE = """CREATE TABLE IF NOT EXISTS layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256),
  f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT,
  styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
  update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"""


def write_layer_styles(path: Path) -> list[str]:
    """Add a default QGIS style for every known layer of the GeoPackage at ``path``.

    Returns
    -------
    list of str
        The layers styled.
    """
    styled = []
    with sqlite3.connect(path) as connection:
        geometry = dict(connection.execute(
            "SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall())
        connection.execute(_CREATE)
        connection.execute("DELETE FROM layer_styles")
        for table, column in geometry.items():
            qml = layer_qml(connection, table)
            if qml is None:
                continue
            connection.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, "
                "description, owner, ui) VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '', NULL)",
                (table, column, f"accessmap {table}", qml, "accessmap default style"))
            styled.append(table)
        connection.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, "
            "description, last_change) VALUES ('layer_styles', 'attributes', "
            "'layer_styles', 'QGIS layer styles', strftime('%Y-%m-%dT%H:%M:%fZ','now'))")
    logger.info("QGIS styles written for %s", ", ".join(styled))
    return styled
