"""Static figures from a run folder: files, formats, gain table by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from accessmap.errors import OutputError
from accessmap.outputs.figures import (
    _metric_crs,
    _nice_length,
    _populated_extent,
    access_map_figure,
    gain_curve_figure,
    gain_table,
    write_figures,
)
from accessmap.record import RunFolder, Surface
from tests.runfolder_factory import make_run_folder

ROOT = Path(__file__).resolve().parents[1]


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
    assert texts == ["health post", "hospital"]  # each facility type, as on the map


def _texts_outside(figure: Figure) -> list[str]:
    """Texts (titles, labels, legend, site ranks) whose box leaves the figure."""
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    width, height = figure.bbox.width, figure.bbox.height
    undrawn = set()  # labels of ticks outside the view, which matplotlib does not draw
    for ax in figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not low - 1e-9 <= tick.get_loc() <= high + 1e-9:
                    undrawn |= {id(tick.label1), id(tick.label2)}
    outside = []
    for text in figure.findobj(Text):
        if not text.get_visible() or not text.get_text().strip() or id(text) in undrawn:
            continue
        box = text.get_window_extent(renderer)
        if box.x0 < -1 or box.y0 < -1 or box.x1 > width + 1 or box.y1 > height + 1:
            outside.append(text.get_text()[:40])
    return outside


def _overlapping_site_labels(figure: Figure) -> list[tuple[str, str]]:
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    labels = [t for t in figure.axes[0].texts if t.get_gid() == "site-label"]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in labels]
    return [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:]
            if box_a.overlaps(box_b)]


def _long_thin(run: RunFolder, monkeypatch: pytest.MonkeyPatch) -> RunFolder:
    """The test folder seen through a 3-degree-long, 2-cell-high populated strip."""
    minutes = np.full((2, 300), 45.0)
    minutes[:, 150:] = 150.0
    strip = Surface(minutes, Affine(0.01, 0, 44.0, 0, -0.01, -12.0), "EPSG:4326",
                    np.zeros((2, 300), bool))
    run.surface = lambda **_: strip  # type: ignore[method-assign]
    long_title = ("A very long title naming the country, the travel mode, the data sources "
                  "and the year of the population estimate, as ministries like them")
    monkeypatch.setattr(RunFolder, "title", property(lambda self: long_title))
    return run


@pytest.mark.parametrize("shape", ["square", "long_thin"])
def test_no_text_leaves_the_figures(tmp_path: Path, shape: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    run = RunFolder(make_run_folder(tmp_path / "run"))
    if shape == "long_thin":
        run = _long_thin(run, monkeypatch)
    for figure in (access_map_figure(run), gain_curve_figure(run)):
        assert _texts_outside(figure) == []
    assert _overlapping_site_labels(access_map_figure(run)) == []


@pytest.mark.slow
def test_demo_figures_fit_and_labels_do_not_overlap(tmp_path: Path) -> None:
    from accessmap.demo import demo_scenario
    from accessmap.pipeline import run as run_pipeline

    out = tmp_path / "demo"
    run_pipeline(demo_scenario().replace(out=out))
    run = RunFolder(out)
    figure = access_map_figure(run)
    assert _texts_outside(figure) == []
    assert _texts_outside(gain_curve_figure(run)) == []
    assert _overlapping_site_labels(figure) == []
    assert len([t for t in figure.axes[0].texts if t.get_gid() == "site-label"]) >= 5


@pytest.mark.comoros
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::accessmap.errors.DataQualityWarning")  # real data
def test_comoros_figures_fit_and_labels_do_not_overlap(comoros_dir: Path, tmp_path: Path
                                                       ) -> None:
    """The worked example (three islands joined by ferry lines): nothing clipped."""
    from accessmap.config import load_scenario
    from accessmap.pipeline import run as run_pipeline

    scenario = load_scenario(ROOT / "scripts" / "comoros_walk.toml")
    assert Path(scenario.inputs.network).resolve().parent == comoros_dir.resolve()
    out = tmp_path / "comoros"
    run_pipeline(scenario.replace(out=out))
    run = RunFolder(out)
    figure = access_map_figure(run)
    assert _texts_outside(figure) == []
    assert _texts_outside(gain_curve_figure(run)) == []
    assert _overlapping_site_labels(figure) == []
    labels = [t for t in figure.axes[0].texts if t.get_gid() == "site-label"]
    assert len(labels) == len(run.table("sites.csv"))  # type: ignore[arg-type]
    # the islands fill the frame: the populated cells span most of the axes both ways
    crs = _metric_crs(run, run.layer("facilities"))
    populated = _populated_extent(run.surface(), None, crs)
    assert populated is not None
    ax = figure.axes[0]
    (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
    assert (populated[1] - populated[0]) / (x1 - x0) > 0.85
    assert (populated[3] - populated[2]) / (y1 - y0) > 0.85
