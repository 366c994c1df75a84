"""report.html / report.md from a run folder: sections, escaping, errors, pipeline writers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from accessmap.cli import main
from accessmap.errors import OutputError
from accessmap.outputs import planner_writers
from accessmap.outputs.report import write_report
from accessmap.record import RunFolder
from tests.runfolder_factory import XSS, make_run_folder


def _with_area_tables(run: Path) -> Path:
    pd.DataFrame({"area": ["West", XSS], "population": [8.0, 8.0],
                  "share_30min": [0.5, 0.0], "share_60min": [1.0, 0.125],
                  "share_120min": [1.0, 0.625], "mean_time_min": [29.75, float("nan")]}
                 ).to_csv(run / "coverage_by_area.csv", index=False)
    pd.DataFrame({"rank": [1], "population": [4.0], "area_km2": [4.8],
                  "mean_time_min": [147.5], "max_time_min": [200.0]}
                 ).to_csv(run / "underserved_zones.csv", index=False)
    return run


def test_report_sections_and_numbers(tmp_path: Path) -> None:
    run = _with_area_tables(make_run_folder(tmp_path / "run"))
    written = write_report(run)
    assert {p.name for p in written} >= {"report.html", "report.md", "figure_access_map.png"}
    md = (run / "report.md").read_text(encoding="utf-8")
    for heading in ("## Summary", "## Scenario and data sources", "## Method and speeds",
                    "## Coverage by admin area and group", "## Underserved zones",
                    "## Recommended new sites", "## Mobile-unit circuits", "## Figures",
                    "## Annex: data quality"):
        assert heading in md, heading
    assert "| 30 min | 5 | 31.2% | 50.0% |" in md  # 5 of 16 now, 8 of 16 after
    assert "| West | 8 | 50.0% | 100.0% | 100.0% | 30 |" in md
    assert "| 1 | 4 | 4.8 | 148 | 200 |" in md
    assert "SYNTHETIC DATA" in md
    assert "![Travel time" in md and "(figure_access_map.png)" in md
    assert ("People with no route to any facility: 1: 1 on road pieces with no facility, "
            "0 on one-way dead ends") in md
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html
    assert "<h2>Recommended new sites</h2>" in html


def test_names_are_escaped_in_both_formats(tmp_path: Path) -> None:
    run = _with_area_tables(make_run_folder(tmp_path / "run"))
    write_report(run)
    html = (run / "report.html").read_text(encoding="utf-8")
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Test district &amp; &lt;friends&gt;" in html
    md = (run / "report.md").read_text(encoding="utf-8")  # backslash escapes, no entities
    assert XSS not in md
    assert "\\<script\\>alert(1)\\</script\\>" in md
    assert "Test district & \\<friends\\>" in md


def test_mobile_circuits_one_row_per_unit_and_day(tmp_path: Path) -> None:
    circuits = [{"unit": 1, "base": XSS, "days": [
        {"day": 1, "drive_min": 42.1, "total_min": 162.1,
         "stops": [{"stop": 2, "arrival_min": 21.1, "people": 1754.9},
                   {"stop": 1, "arrival_min": 30.0, "people": 10.0}]},
        {"day": 2, "drive_min": 10.0, "total_min": 130.0, "stops": []}]}]
    run = make_run_folder(tmp_path / "run", mobile_circuits=circuits)
    write_report(run)
    md = (run / "report.md").read_text(encoding="utf-8")
    assert "| 1 | \\<script\\>alert(1)\\</script\\> | 1 | #2: 21 min, 1,755; #1: 30 min, " \
           "10 | 42 | 162 |" in md
    assert "| 1 | \\<script\\>alert(1)\\</script\\> | 2 |  | 10 | 130 |" in md
    assert not re.search(r"&(#\d+|[a-z]+);", md), "raw HTML entity in report.md"


def test_absent_tables_are_said_not_skipped(tmp_path: Path) -> None:
    run = make_run_folder(tmp_path / "run")
    data = json.loads((run / "summary.json").read_text())
    data["recommended_sites"] = []
    (run / "summary.json").write_text(json.dumps(data))
    write_report(run)
    md = (run / "report.md").read_text(encoding="utf-8")
    assert "This run has no admin areas or groups" in md
    assert "No underserved zones in this run." in md
    assert "No new sites recommended" in md
    assert "No mobile-unit circuits in this run." in md


def test_report_errors(tmp_path: Path) -> None:
    run = make_run_folder(tmp_path / "run")
    write_report(run)
    with pytest.raises(OutputError, match=r"report\.html already exists; use --overwrite"):
        write_report(run)
    partial = make_run_folder(tmp_path / "partial", omit=("summary.json",))
    with pytest.raises(OutputError, match=r"incomplete: missing summary\.json"):
        write_report(partial)


def test_xlsx_needs_the_extra(tmp_path: Path) -> None:
    run = make_run_folder(tmp_path / "run")
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        with pytest.raises(OutputError, match=r"pip install 'accessmap\[xlsx\]'"):
            write_report(run, xlsx=True)
        assert not (run / "report.html").exists()  # checked before anything is written
    else:
        written = write_report(run, xlsx=True)
        assert (run / "report.xlsx") in written


def test_report_command(tmp_path: Path) -> None:
    run = make_run_folder(tmp_path / "run")
    done = CliRunner().invoke(main, ["report", str(run)])
    assert done.exit_code == 0, done.output
    assert (run / "report.md").is_file()
    again = CliRunner().invoke(main, ["report", str(run)])
    assert again.exit_code == 1 and "already exists" in again.output


def test_planner_writers_build_from_the_folder(tmp_path: Path) -> None:
    run = make_run_folder(tmp_path / "run")
    writers = planner_writers(offline=True)
    assert list(writers) == ["layers.gpkg", "map.html", "report.html"]
    for name, writer in writers.items():
        writer(run / name)
    assert "Leaflet 1.9.4" in (run / "map.html").read_text(encoding="utf-8")
    assert (run / "report.md").is_file() and (run / "figure_gain_curve.svg").is_file()
    assert RunFolder(run).title == "Test district & <friends>"


def test_the_quality_annex_uses_the_summary_figures(tmp_path: Path) -> None:
    """The no-route people are split by cause with the numbers summary.json holds."""
    from accessmap.outputs.report import report_blocks

    run = RunFolder(make_run_folder(tmp_path / "run"))
    summary = run.summary
    pieces = summary["network_components"]
    blocks = report_blocks(run)
    annex = next(i for i, b in enumerate(blocks) if b.text == "Annex: data quality")
    items = list(blocks[annex + 1].items)
    no_route = next(i for i in items if i.startswith("People with no route"))
    assert no_route == (
        f"People with no route to any facility: "
        f"{summary['unreachable_detail']['no_route']:,.0f}: "
        f"{pieces['no_route_on_pieces_without_facility']:,.0f} on road pieces with no "
        f"facility, {pieces['no_route_on_one_way_dead_ends']:,.0f} on one-way dead ends")
    assert any(i.endswith(f"{pieces['moved_to_reachable_road']:,.0f}") for i in items)
