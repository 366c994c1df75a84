"""Place names: the OSM reader (inputs/places.py) and the map's labels (outputs/map_places.py)."""

from __future__ import annotations

import math
from pathlib import Path
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import pytest
from shapely.geometry import Point

from accessmap.errors import InputFileError
from accessmap.inputs.places import PLACE_COLUMNS, read_places
from accessmap.outputs.map_places import PLACES_LAYER, short_label
from accessmap.outputs.maps import write_map
from tests.runfolder_factory import XSS, make_run_folder


def _write_places_osm(path: Path) -> Path:
    """Nodes: a city, a town, a village, a hamlet (not read), an unnamed village; a
    closed way: an island; the town again as an area (kept once)."""
    nodes = {
        1: (44.01, -12.01, {"place": "city", "name": "Capital", "population": "30 000"}),
        2: (44.02, -12.02, {"place": "town", "name": "Market Town"}),
        3: (44.03, -12.03, {"place": "village", "name": "Small <b>Village</b>",
                            "population": "about 200"}),
        4: (44.035, -12.035, {"place": "hamlet", "name": "Hamlet"}),
        5: (44.036, -12.036, {"place": "village"}),
    }
    ring = {10: (44.0, -12.0), 11: (44.05, -12.0), 12: (44.05, -12.05), 13: (44.0, -12.05)}
    town = {20: (44.019, -12.019), 21: (44.021, -12.019), 22: (44.021, -12.021)}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for node_id, (lon, lat, tags) in nodes.items():
        lines.append(f'  <node id="{node_id}" version="1" lat="{lat}" lon="{lon}">')
        lines += [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()]
        lines.append("  </node>")
    for node_id, (lon, lat) in {**ring, **town}.items():
        lines.append(f'  <node id="{node_id}" version="1" lat="{lat}" lon="{lon}"/>')
    for way_id, refs, tags in [(100, [10, 11, 12, 13, 10], {"place": "island", "name": "Isle"}),
                               (101, [20, 21, 22, 20], {"place": "town",
                                                        "name": "Market Town"})]:
        lines.append(f'  <way id="{way_id}" version="1">')
        lines += [f'    <nd ref="{r}"/>' for r in refs]
        lines += [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()]
        lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_places_from_osm(tmp_path: Path) -> None:
    places = read_places(_write_places_osm(tmp_path / "places.osm"))
    assert list(places.columns) == [*PLACE_COLUMNS, "geometry"]
    assert places.crs == "EPSG:4326"
    assert places["name"].tolist() == ["Capital", "Isle", "Market Town", "Small <b>Village</b>"]
    assert places["place"].tolist() == ["city", "island", "town", "village"]
    assert places["population"].iloc[0] == 30_000
    assert math.isnan(places["population"].iloc[3])  # "about 200" is not a number
    island = places.geometry.iloc[1]
    assert 44.0 < island.x < 44.05 and -12.05 < island.y < -12.0  # a point inside the area
    assert places.geometry.iloc[2].equals(Point(44.02, -12.02))  # the node, not the area


def test_read_places_options(tmp_path: Path) -> None:
    path = _write_places_osm(tmp_path / "places.osm")
    only_city = read_places(path, kinds=("city",))
    assert only_city["name"].tolist() == ["Capital"]
    east = read_places(path, bbox=(44.025, -12.1, 44.1, -11.9))
    assert east["name"].tolist() == ["Isle", "Small <b>Village</b>"]


def test_read_places_is_empty_for_other_inputs_and_fails_on_a_missing_file(
        tmp_path: Path) -> None:
    empty = read_places(tmp_path / "network.graphml")
    assert empty.empty and list(empty.columns) == [*PLACE_COLUMNS, "geometry"]
    with pytest.raises(InputFileError, match="does not exist; check the path"):
        read_places(tmp_path / "missing.osm.pbf")


def test_short_label_keeps_latin_words_of_bilingual_names() -> None:
    assert short_label("Moroni موروني") == "Moroni"
    assert short_label("فومبوني Fomboni") == "Fomboni"
    assert short_label("موروني") == "موروني"
    assert short_label("Adda-Douéni") == "Adda-Douéni"


def add_places(run: Path, names: list[tuple[str, str, float, float]]) -> Path:
    """Add a ``places`` layer (name, place, lon, lat) to a run folder's GeoPackage."""
    frame = gpd.GeoDataFrame(
        {"name": [n[0] for n in names], "place": [n[1] for n in names],
         "population": [float("nan")] * len(names)},
        geometry=[Point(n[2], n[3]) for n in names], crs="EPSG:4326")
    frame.to_file(run / "layers.gpkg", layer=PLACES_LAYER, engine="pyogrio")
    return run


def test_map_labels_places_escaped_and_only_when_present(tmp_path: Path) -> None:
    plain = write_map(make_run_folder(tmp_path / "plain"))
    assert "Place names" not in plain.read_text(encoding="utf-8")
    run = add_places(make_run_folder(tmp_path / "run"),
                     [("Capital", "city", 44.01, -12.01), (XSS, "village", 44.03, -12.03)])
    page = write_map(run).read_text(encoding="utf-8")
    assert "Place names" in page and "am-place-city" in page and "Capital" in page
    assert XSS not in page  # escaped, then passed as JSON data
