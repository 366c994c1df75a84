"""The decision map built from a run folder: layers, legend, escaping, offline assets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import LineString

from accessmap.cli import main
from accessmap.errors import OutputError
from accessmap.inputs.network import network_from_graph
from accessmap.outputs.maps import (
    MAP_BUDGET_BYTES,
    VERTEX_BUDGET,
    roads_layer,
    share_column,
    write_map,
)
from accessmap.outputs.style import COVERAGE_COLOURS, escape, time_classes
from accessmap.record import RECORD_VERSION, RunFolder
from tests.runfolder_factory import XSS, make_run_folder, summary


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    return make_run_folder(tmp_path / "run")


def test_escape_neutralises_markup_and_template_literals() -> None:
    assert escape(XSS) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert escape("a`${b}`\\") == "a&#96;&#36;{b}&#96;&#92;"
    assert escape('"x" & \'y\'') == "&quot;x&quot; &amp; &#x27;y&#x27;"


def test_time_classes_follow_the_thresholds() -> None:
    classes = time_classes([30, 60, 120])
    assert [c.label for c in classes] == ["0-30 min", "30-60 min", "60-120 min",
                                          "over 120 min"]
    assert [c.upper_min for c in classes] == [30, 60, 120, float("inf")]
    assert len({c.colour for c in classes}) == 4
    with pytest.raises(OutputError, match="at most 5 thresholds"):
        time_classes([1, 2, 3, 4, 5, 6])


def test_map_has_every_layer_legend_and_panel(run_dir: Path) -> None:
    text = write_map(run_dir).read_text(encoding="utf-8")
    for name in ("Travel time to nearest facility", "Isochrone bands", "Underserved zones",
                 "Facilities: hospital (1)", "Facilities: health_post (1)",
                 "Recommended satellite clinics", "Recommended mobile-unit stops",
                 "Mobile-unit routes", "Coverage by admin area", "Roads (context)",
                 "Online base map"):
        assert name in text, name
    assert "L.control.layers" in text and "L.control.fullscreen" in text
    assert "L.control.scale" in text and "data:image/png;base64," in text
    for label in ("0-30 min", "30-60 min", "60-120 min", "over 120 min", "no route"):
        assert label in text
    assert "SYNTHETIC DATA" in text
    assert "31.2%" in text and "50.0%" in text  # 5/16 within 30 min now, 8/16 after
    assert "Not shown" not in text


def test_names_are_escaped_never_markup(run_dir: Path) -> None:
    text = write_map(run_dir).read_text(encoding="utf-8")
    assert XSS not in text
    assert "`${x}`" not in text
    assert "Test district & <friends>" not in text
    assert "Test district &amp; &lt;friends&gt;" in text
    # popups are JSON data holding escaped HTML (tojson turns & into \u0026)
    assert "\\u0026lt;script\\u0026gt;alert(1)" in text


def test_offline_map_needs_no_url(run_dir: Path, tmp_path: Path) -> None:
    offline = write_map(run_dir, tmp_path / "off.html").read_text("utf-8")  # the default
    online = write_map(run_dir, tmp_path / "on.html", offline=False).read_text("utf-8")
    pattern = re.compile(r"""(?:src|href)\s*=\s*["']?https?://""", re.I)
    assert not pattern.search(offline)
    assert "Leaflet 1.9.4" in offline and "fullscreen" in offline.lower()
    assert pattern.search(online)
    assert "Leaflet 1.9.4" not in online


def test_absent_layers_are_named_and_skipped(tmp_path: Path) -> None:
    run = make_run_folder(tmp_path / "run", omit=("mobile_routes", "travel_time.tif",
                                                  "admin_areas"))
    text = write_map(run).read_text(encoding="utf-8")
    assert "Not shown" in text
    assert "mobile routes (not in this run)" in text
    assert "no travel_time.tif" in text
    assert "Mobile-unit routes (colour" not in text
    assert "Coverage by admin area" not in text
    assert "Admin-area coverage" not in text  # its legend goes with the layer


def test_admin_areas_are_a_choropleth_of_the_siting_threshold(run_dir: Path) -> None:
    text = write_map(run_dir).read_text(encoding="utf-8")
    assert "within 60 min: 100%" in text  # West: 8 of 8
    assert "within 60 min: 12%" in text  # East: 1 of 8
    assert COVERAGE_COLOURS[-1] in text and COVERAGE_COLOURS[0] in text
    run = RunFolder(run_dir)
    assert share_column(run.layer("admin_areas"), 60) == "share_60min"
    assert share_column(run.layer("admin_areas"), 30) is None


def test_run_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        write_map(tmp_path / "nowhere")
    partial = make_run_folder(tmp_path / "partial", omit=("layers.gpkg",))
    with pytest.raises(OutputError, match=r"incomplete: missing layers\.gpkg"):
        write_map(partial)
    other = make_run_folder(tmp_path / "other")
    data = summary()
    data["run"].update(accessmap_version="9.9.0", record_version=RECORD_VERSION + 1)
    (other / "summary.json").write_text(json.dumps(data))
    with pytest.raises(OutputError,
                       match=r"holds record version \d+ \(made by accessmap 9\.9\.0\)"):
        write_map(other)
    (other / "summary.json").write_text("{not json")
    with pytest.raises(OutputError, match="not readable JSON"):
        write_map(other)
    done = make_run_folder(tmp_path / "done")
    write_map(done)
    with pytest.raises(OutputError, match="already exists; use --overwrite"):
        write_map(done)
    assert write_map(done, overwrite=True).is_file()


def test_map_command(run_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "m.html"
    done = runner.invoke(main, ["map", str(run_dir), "--out", str(target), "--offline"])
    assert done.exit_code == 0, done.output
    assert "Leaflet 1.9.4" in target.read_text("utf-8")
    again = runner.invoke(main, ["map", str(run_dir), "--out", str(target)])
    assert again.exit_code == 1
    assert "already exists; use --overwrite" in again.output
    missing = runner.invoke(main, ["map", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_long_lines_are_simplified(tmp_path: Path) -> None:
    run = make_run_folder(tmp_path / "run", omit=("roads",))
    x = np.linspace(44.0, 44.04, 20_000)
    wiggle = LineString(np.column_stack([x, -12.02 + 1e-6 * np.sin(np.arange(x.size))]))
    gpd.GeoDataFrame({"highway": ["primary"]}, geometry=[wiggle], crs="EPSG:4326").to_file(
        run / "layers.gpkg", layer="roads", driver="GPKG", engine="pyogrio")
    text = write_map(run, offline=False).read_text(encoding="utf-8")  # no inlined Leaflet
    assert len(text) < 200_000  # 20,000 raw vertices would take > 600 kB
    assert "Roads (context)" in text


def _grid_network() -> object:
    graph = nx.MultiDiGraph()
    for i in range(4):
        graph.add_node(i, x=44.0 + 0.01 * i, y=-12.0)
    for i, kind in zip(range(3), ["primary", "primary", "residential"], strict=True):
        graph.add_edge(i, i + 1, length=1000.0, highway=kind)
    return network_from_graph(graph, mode="walk")


def test_roads_layer_merges_per_class_and_drops_minor_roads_of_big_networks() -> None:
    network = _grid_network()
    roads = roads_layer(network)
    assert sorted(roads["highway"]) == ["primary", "residential"]
    primary = roads.loc[roads["highway"] == "primary"].geometry.iloc[0]
    assert primary.coords[0] == pytest.approx((44.0, -12.0))
    assert primary.coords[-1] == pytest.approx((44.02, -12.0))
    assert roads.crs.to_epsg() == 4326
    major = roads_layer(network, max_segments=1)
    assert major["highway"].tolist() == ["primary"]


def _curvy_lines(lines: int, steps: int, *, seed: int) -> list[LineString]:
    """Lines of ``steps`` vertices about 100 m apart whose heading drifts (like roads)."""
    rng = np.random.default_rng(seed)
    heading = np.cumsum(rng.normal(0, 0.3, size=(lines, steps)), axis=1)
    moves = 0.001 * np.stack([np.cos(heading), np.sin(heading)], axis=-1)
    starts = rng.uniform([43.0, -13.0], [45.0, -11.0], size=(lines, 1, 2))
    return [LineString(w) for w in starts + np.cumsum(moves, axis=1)]


def test_a_country_size_map_stays_within_its_vertex_and_byte_budget(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = make_run_folder(tmp_path / "empty", omit=("roads", "isochrone_bands"))
    base = write_map(empty).stat().st_size  # the map without the two layers
    # at the shipped budgets (about 21 bytes a vertex) the map stays within its bytes
    assert base + 25 * sum(VERTEX_BUDGET.values()) < MAP_BUDGET_BYTES - 2_000_000
    run = make_run_folder(tmp_path / "run", omit=("roads", "isochrone_bands"))
    roads = _curvy_lines(100, 500, seed=1)  # 50,000 vertices: ~1 MB as GeoJSON
    rings = [line.buffer(0.002) for line in _curvy_lines(30, 200, seed=2)]
    gpd.GeoDataFrame({"highway": ["primary"] * len(roads)}, geometry=roads,
                     crs="EPSG:4326").to_file(run / "layers.gpkg", layer="roads",
                                              driver="GPKG", engine="pyogrio")
    bands = gpd.GeoDataFrame({"threshold_min": [30.0, 60.0, 120.0],
                              "population": [1.0, 2.0, 3.0]},
                             geometry=[shapely.union_all(rings[:10]),
                                       shapely.union_all(rings[:20]),
                                       shapely.union_all(rings)], crs="EPSG:4326")
    bands.to_file(run / "layers.gpkg", layer="isochrone_bands", driver="GPKG",
                  engine="pyogrio")
    raw = write_map(run, out=tmp_path / "raw.html").stat().st_size
    assert raw > base + 400_000  # at the base tolerances alone, the two layers take more
    monkeypatch.setitem(VERTEX_BUDGET, "roads", 4_000)
    monkeypatch.setitem(VERTEX_BUDGET, "isochrone_bands", 2_000)
    text = write_map(run, overwrite=True).read_text(encoding="utf-8")
    assert len(text.encode()) < base + 30 * 6_000
    assert "Roads (context)" in text and "within 120 min" in text


def test_map_layers_survive_polygons_left_invalid_by_simplification() -> None:
    """A hole outside its shell made ``set_precision`` raise on a 64-tile country;
    the layer is repaired, its area kept, and the map still written."""
    import geopandas as gpd
    from shapely.geometry import Polygon

    from accessmap.outputs.maps import _slim

    broken = Polygon([(40, -12), (40.01, -12), (40.01, -11.99), (40, -11.99)],
                     [[(40.02, -11.98), (40.03, -11.98), (40.03, -11.97), (40.02, -11.97)]])
    assert not broken.is_valid
    frame = gpd.GeoDataFrame({"population": [5.0]}, geometry=[broken], crs="EPSG:4326")
    slim = _slim(frame, "underserved_zones")
    assert len(slim) == 1 and slim.geometry.is_valid.all()
    assert slim.geometry.iloc[0].area == pytest.approx(2 * 0.01 * 0.01, rel=1e-3)
