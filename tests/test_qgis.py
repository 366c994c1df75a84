"""QGIS default styles stored in layers.gpkg (layer_styles table with QML)."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pyogrio

from accessmap.outputs import planner_writers
from accessmap.outputs.qgis import write_layer_styles
from accessmap.outputs.style import time_classes
from accessmap.record import FILES, write_layers
from tests.runfolder_factory import THRESHOLDS, layers


def _styles(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT f_table_name, styleQML, useAsDefault FROM layer_styles").fetchall()
    assert all(default == 1 for _, _, default in rows)
    return {name: qml for name, qml, _ in rows}


def test_every_layer_gets_a_valid_default_style(tmp_path: Path) -> None:
    path = tmp_path / FILES.layers
    write_layers(path, layers())
    write_layer_styles(path)
    styles = _styles(path)
    assert set(styles) == set(layers())
    for qml in styles.values():
        root = ET.fromstring(qml.split("'SYSTEM'>", 1)[1])
        assert root.tag == "qgis" and root.find("renderer-v2") is not None
    # the layers themselves still read back
    names = set(pyogrio.list_layers(path)[:, 0])
    assert names == {*layers(), "layer_styles"}


def test_band_and_site_styles_use_the_map_classes(tmp_path: Path) -> None:
    path = tmp_path / FILES.layers
    write_layers(path, layers())
    write_layer_styles(path)
    styles = _styles(path)
    bands = ET.fromstring(styles["isochrone_bands"].split("'SYSTEM'>", 1)[1])
    values = [c.get("value") for c in bands.iter("category")]
    assert values == [f"{t:g}" for t in THRESHOLDS]
    first = time_classes(THRESHOLDS)[0].colour.lstrip("#")
    rgb = ",".join(str(int(first[i: i + 2], 16)) for i in (0, 2, 4))
    assert f'value="{rgb},255"' in styles["isochrone_bands"]
    sites = ET.fromstring(styles["recommended_sites"].split("'SYSTEM'>", 1)[1])
    assert [c.get("value") for c in sites.iter("category")] == [
        "satellite_clinic", "mobile_unit_stop"]
    admin = ET.fromstring(styles["admin_areas"].split("'SYSTEM'>", 1)[1])
    assert admin.find("renderer-v2").get("attr") == "share_60min"


def test_the_record_writer_leaves_styles_to_the_planner_writers(tmp_path: Path) -> None:
    path = tmp_path / FILES.layers
    write_layers(path, {"facilities": layers()["facilities"]})
    assert "layer_styles" not in set(pyogrio.list_layers(path)[:, 0])
    planner_writers()[FILES.layers](path)
    assert set(_styles(path)) == {"facilities"}
