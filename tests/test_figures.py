"""Static figures from a run folder: files, formats, gain table by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from accessmap.errors import OutputError
from accessmap.outputs.figures import _nice_length, access_map_figure, gain_table, write_figures
from accessmap.record import RunFolder
from tests.runfolder_factory import make_run_folder


def test_figures_are_written_as_png_and_svg(tmp_path: Path) -> None:
    run = make_run_folder(tmp_path / "run")
    written = write_figures(run)
    assert sorted(p.name for p in written) == [
        "figure_access_map.png", "figure_access_map.svg", "figure_gain_curve.png",
        "figure_gain_curve.svg"]
    png = (run / "figure_access_map.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (run / "figure_access_map.svg").read_text(encoding="utf-8")
    assert "<svg" in svg
    with pytest.raises(OutputError, match="already exists; use --overwrite"):
        write_figures(run)
    assert len(write_figures(run, overwrite=True)) == 4


def test_access_map_has_legend_scale_bar_north_arrow_and_sources(tmp_path: Path) -> None:
    run = RunFolder(make_run_folder(tmp_path / "run"))
    figure = access_map_figure(run)
    texts = [t.get_text() for t in figure.legends[0].get_texts()]
    assert texts[:5] == ["0-30 min", "30-60 min", "60-120 min", "over 120 min", "no route"]
    assert "new satellite clinic (rank)" in texts and "new mobile-unit stop (rank)" in texts
    ax = figure.axes[0]
    labels = [t.get_text() for t in ax.texts]
    assert "N" in labels
    assert any(label.endswith(" m") or label.endswith(" km") for label in labels)
    assert "roads.osm" in ax.get_xlabel() and "UTM" not in ax.get_title()
    assert "EPSG:32738" in ax.get_xlabel()  # 44 E, 12 S: UTM zone 38 south


def test_nice_scale_bar_lengths() -> None:
    assert _nice_length(23_000) == 2000  # a fifth is 4,600 m
    assert _nice_length(4_000) == 500
    assert _nice_length(1_000) == 200


def test_gain_table_from_marginal_gain_csv(tmp_path: Path) -> None:
    run = RunFolder(make_run_folder(tmp_path / "run"))
    table = gain_table(run)
    # today within the 60-min siting threshold: 9 of 16; +3 then +1
    assert table["sites"].tolist() == [0, 1, 2]
    assert table["cumulative_population"].tolist() == [9.0, 12.0, 13.0]
    assert table["cumulative_share"].tolist() == [9 / 16, 12 / 16, 13 / 16]


def test_gain_table_derived_from_sites_when_marginal_gain_is_absent(tmp_path: Path) -> None:
    run = RunFolder(make_run_folder(tmp_path / "run", omit=("marginal_gain.csv",)))
    table = gain_table(run)
    assert table["added_population"].tolist() == [0.0, 3.0, 1.0]
    assert table["cumulative_population"].tolist() == [9.0, 12.0, 13.0]


def test_figures_without_optional_layers(tmp_path: Path) -> None:
    run = make_run_folder(tmp_path / "run", omit=(
        "travel_time.tif", "admin_areas", "roads", "underserved_zones", "recommended_sites",
        "marginal_gain.csv"))
    figure = access_map_figure(RunFolder(run))
    texts = [t.get_text() for t in figure.legends[0].get_texts()]
    assert texts == ["existing facility"]
