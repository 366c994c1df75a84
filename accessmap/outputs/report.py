"""Planner documents built from a run folder: ``report.html``, ``report.md``, ``report.pdf``.

The report is assembled once as a list of blocks (headings, paragraphs, tables, figures)
and rendered twice: Markdown (figures linked) and one self-contained HTML file (figures
embedded, every value escaped).  ``report.pdf`` is that HTML printed by headless Chromium
(A4, page numbers, tables and figures kept whole; :func:`write_pdf`); without a Chromium
or Chrome on the machine it is left out with a warning.  Optional ``report.xlsx`` (the
tables, one sheet each) needs the ``xlsx`` extra (openpyxl).
"""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from accessmap.errors import OutputError
from accessmap.outputs.figures import write_figures
from accessmap.outputs.style import escape, time_classes
from accessmap.record import FILES, RunFolder, check_target

__all__ = ["REPORT_FILES", "Block", "Document", "Table", "find_chromium", "render_html",
           "render_markdown", "report_blocks", "write_pdf", "write_report", "write_xlsx"]

logger = logging.getLogger(__name__)


#: Files the report writes into the run folder (besides the figures).
REPORT_FILES = (FILES.report_html, FILES.report_md)


class Document(Protocol):
    """What :func:`render_html` reads of a document: its title and its files (figures)."""

    @property
    def title(self) -> str:
        """The page title."""

    def file(self, name: str) -> Path:
        """Path of one of the document's files."""


@dataclass
class Table:
    """A table block: columns already formatted as text."""

    frame: pd.DataFrame
    caption: str = ""


@dataclass
class Block:
    """One piece of the report: ``kind`` is h1/h2/p/ul/table/figure/warning."""

    kind: str
    text: str = ""
    items: Sequence[str] = field(default_factory=list)
    table: Table | None = None


def write_report(run_dir: str | os.PathLike[str], *, overwrite: bool = False,
                 xlsx: bool = False) -> list[Path]:
    """Write the figures, ``report.md`` and ``report.html`` (and ``report.xlsx``).

    Parameters
    ----------
    run_dir
        Finished run folder.
    overwrite
        Replace existing report files and figures.
    xlsx
        Also write ``report.xlsx`` (needs openpyxl: ``pip install 'accessmap[xlsx]'``).

    Returns
    -------
    list of pathlib.Path
        Files written.

    Raises
    ------
    OutputError
        Incomplete run folder, another accessmap version, an output file exists without
        ``overwrite``, or ``xlsx`` without openpyxl installed.
    """
    run = RunFolder(run_dir)
    names = [*REPORT_FILES, *([FILES.report_xlsx] if xlsx else [])]
    targets = [check_target(run.file(name), overwrite=overwrite) for name in names]
    if xlsx:
        _require_openpyxl()
    written = write_figures(run.path, overwrite=overwrite)
    blocks = report_blocks(run)
    targets[0].write_text(render_html(blocks, run), encoding="utf-8")
    targets[1].write_text(render_markdown(blocks), encoding="utf-8")
    written += targets[:2]
    pdf = check_target(run.file(FILES.report_pdf), overwrite=overwrite)
    if write_pdf(targets[0], pdf):
        written.append(pdf)
    if xlsx:
        write_xlsx(targets[2], blocks)
        written.append(targets[2])
    logger.info("report written: %s", ", ".join(p.name for p in written))
    return written


def report_blocks(run: RunFolder) -> list[Block]:
    """The report's content, in order."""
    blocks = [Block("h1", run.title)]
    if run.synthetic:
        blocks.append(Block("warning", "SYNTHETIC DATA: this district is not a real place; "
                                       "the numbers only demonstrate the method."))
    for section in (_summary_section, _scenario_section, _method_section, _area_section,
                    _indicator_section, _zone_section, _site_section, _circuit_section,
                    _referral_section,
                    _figure_section, _quality_section):
        blocks += section(run)
    return blocks


def _pct(value: Any) -> str:
    return f"{float(value):.1%}" if value is not None and pd.notna(value) else "-"


def _num(value: Any) -> str:
    return f"{float(value):,.0f}" if value is not None and pd.notna(value) else "-"


def _minutes(value: Any) -> str:
    return f"{float(value):g} min" if value is not None else "-"


def _summary_section(run: RunFolder) -> list[Block]:
    summary = run.summary
    after = {r["threshold_min"]: r for r in summary.get("coverage_with_new_sites") or []}
    n_sites = len(summary.get("recommended_sites") or [])
    table = pd.DataFrame([
        {"Within": f"{float(r['threshold_min']):g} min", "People now": _num(r["population"]),
         "Share now": _pct(r["share"]),
         f"Share with {n_sites} new sites": _pct(after.get(r["threshold_min"], {}).get("share"))}
        for r in summary["coverage"]])
    return [
        Block("h2", "Summary"),
        Block("p", f"Population of the study area: {_num(summary.get('population_total'))}. "
                   f"People with no route to any facility: "
                   f"{_num(summary.get('unreachable_population'))}. Facilities used: "
                   f"{summary.get('facilities_used', '-')}."),
        Block("table", table=Table(table, "Population within each travel time of the "
                                          "nearest facility")),
    ]


def _licence(role: str, path: str, *, synthetic: bool) -> str:
    name = Path(path).name.lower()
    if synthetic:
        return "synthetic (generated by accessmap)"
    if role == "network" or name.endswith((".osm", ".osm.pbf", ".osm.bz2")):
        return "OpenStreetMap contributors, ODbL 1.0"
    if "ppp" in name or "worldpop" in name:
        return "WorldPop, CC BY 4.0"
    return "see the data provider's terms"


def _scenario_section(run: RunFolder) -> list[Block]:
    scenario = run.scenario
    inputs = run.summary.get("run", {}).get("inputs", {})
    sources = pd.DataFrame([
        {"Role": role, "File": Path(str(item.get("path", ""))).name,
         "Licence": _licence(role, str(item.get("path", "")), synthetic=run.synthetic),
         "SHA-256": str(item.get("sha256", ""))[:16] + "..."}
        for role, item in inputs.items() if isinstance(item, dict)])
    exclude = scenario.facilities.exclude
    items = [
        f"Travel mode: {scenario.analysis.mode}",
        "Thresholds: " + ", ".join(f"{t:g} min" for t in run.thresholds_min),
        f"New sites requested: {scenario.siting.new_sites}, chosen to bring people "
        f"within {_minutes(run.summary.get('siting_threshold_min'))}",
        "Facilities left out: " + ("; ".join(f"{k} = {', '.join(v)}" for k, v in
                                             exclude.items()) or "none"),
        f"accessmap version: {run.summary.get('run', {}).get('accessmap_version', '-')}",
    ]
    blocks = [Block("h2", "Scenario and data sources"), Block("ul", items=items)]
    if not sources.empty:
        blocks.append(Block("table", table=Table(sources, "Input files")))
    return blocks + _facility_changes(run.summary.get("facility_changes"))


def _facility_changes(changes: dict[str, Any] | None) -> list[Block]:
    """The table of facilities the scenario closed, filtered out or added (if any)."""
    rows = [{"Change": change, "Facility id": item["facility_id"], "Name": item["name"],
             "Why": item["reason"]}
            for change, key in (("closed", "closed"), ("left out", "filtered"),
                                ("added", "added"))
            for item in (changes or {}).get(key, [])]
    if not rows:
        return []
    return [Block("table", table=Table(pd.DataFrame(rows), "Facility changes in this "
                                                           "scenario"))]


def _method_section(run: RunFolder) -> list[Block]:
    profile = run.scenario.speed_profile()
    speeds = pd.DataFrame({"Road class (OSM highway)": list(profile.speeds_kph),
                           "Speed (km/h)": [f"{v:g}" for v in profile.speeds_kph.values()]})
    return [
        Block("h2", "Method and speeds"),
        Block("p", "Each populated grid cell is joined to the nearest usable road (within "
                   f"{profile.max_snap_m:g} m) at {profile.offroad_kph:g} km/h off-road, "
                   f"times a detour factor of {profile.detour_factor:g}; travel time to the "
                   "nearest facility is then the fastest path over the road network "
                   "(multi-source Dijkstra). Ferries run at "
                   f"{profile.ferry_kph:g} km/h plus {profile.ferry_wait_min:g} min waiting. "
                   "New sites are chosen among road nodes near underserved people to cover "
                   "the most people not yet within the siting threshold."),
        Block("table", table=Table(speeds, f"Speeds used ({profile.mode})")),
    ]


def _share_table(frame: pd.DataFrame, label_columns: Sequence[str],
                 thresholds: Sequence[float]) -> pd.DataFrame:
    out = pd.DataFrame({c.replace("_", " ").capitalize(): frame[c].astype(str)
                        for c in label_columns if c in frame})
    out["Population"] = frame["population"].map(_num)
    for t in thresholds:
        column = f"share_{t:g}min"
        if column in frame:
            out[f"Within {t:g} min"] = frame[column].map(_pct)
    if "mean_time_min" in frame:
        out["Mean time (min)"] = frame["mean_time_min"].map(
            lambda v: f"{v:.0f}" if pd.notna(v) else "no route")
    return out


def _area_section(run: RunFolder) -> list[Block]:
    blocks = [Block("h2", "Coverage by admin area and group")]
    areas, groups = run.table(FILES.coverage_by_area), run.table(FILES.coverage_by_group)
    if areas is None and groups is None:
        return [*blocks, Block("p", "This run has no admin areas or groups (no "
                                    "coverage_by_area.csv / coverage_by_group.csv).")]
    if areas is not None:
        blocks.append(Block("table", table=Table(
            _share_table(areas, ["area"], run.thresholds_min), "Admin areas")))
    if groups is not None:
        blocks.append(Block("table", table=Table(
            _share_table(groups, ["grouping", "group"], run.thresholds_min), "Groups")))
    return blocks


def _indicator_section(run: RunFolder) -> list[Block]:
    """``[[indicators]]``: people within reach of one service (none: no section)."""
    entries = run.summary.get("indicators")
    if not entries:
        return []
    table = pd.DataFrame([
        {"Indicator": e["name"], "Facilities": f"{e['facilities']} ({e['facilities_counted']})",
         "People counted": f"{_num(e['population'])}, {e['population_subset']}",
         "Within": _minutes(c["threshold_min"]), "People within": _num(c["population_within"]),
         "Share": _pct(c["share_within"]), "Target": _pct(e["target_share"]),
         "Met": "-" if c["met"] is None else ("yes" if c["met"] else "no")}
        for e in entries for c in e["coverage"]])
    blocks = [Block("h2", "Indicators for a service"),
              Block("p", "Travel time to the facilities of one service only (the rule in "
                         "brackets, with how many facilities it counts), for the people the "
                         "indicator is about. Tables: indicators.csv, indicators_wide.csv."),
              Block("table", table=Table(table, "Indicators"))]
    wide = run.table(FILES.indicators_wide)
    if wide is not None and (wide["grouping"] == "area").any():
        areas = wide[wide["grouping"] == "area"].rename(columns={"group": "area"})
        thresholds = sorted({float(c["threshold_min"]) for e in entries for c in e["coverage"]})
        blocks.append(Block("table", table=Table(
            _share_table(areas, ["indicator", "area"], thresholds), "Indicators by admin area")))
    return blocks


def _zone_section(run: RunFolder) -> list[Block]:
    zones = run.table(FILES.underserved_zones)
    blocks = [Block("h2", "Underserved zones")]
    if zones is None or zones.empty:
        return [*blocks, Block("p", "No underserved zones in this run.")]
    table = pd.DataFrame({
        "Rank": zones["rank"].astype(str),
        "Zone": zones.get("zone", zones["rank"].astype(str)).astype(str),
        "Population": zones["population"].map(_num),
        "Area (km²)": zones.get("area_km2", pd.Series(np.nan, index=zones.index)).map(
            lambda v: f"{v:,.1f}" if pd.notna(v) else "-"),
        "Mean time (min)": zones.get("mean_time_min", pd.Series(np.nan, index=zones.index))
        .map(lambda v: f"{v:.0f}" if pd.notna(v) else "no route"),
        "Max time (min)": zones.get("max_time_min", pd.Series(np.nan, index=zones.index))
        .map(lambda v: f"{v:.0f}" if pd.notna(v) else "no route"),
    })
    threshold = _minutes(run.summary.get("siting_threshold_min"))
    return [*blocks, Block("table", table=Table(
        table, f"Connected areas where people live beyond {threshold}"))]


def _site_section(run: RunFolder) -> list[Block]:
    sites = run.summary.get("recommended_sites") or []
    blocks = [Block("h2", "Recommended new sites")]
    if not sites:
        return [*blocks, Block("p", "No new sites recommended (none requested, or nobody "
                                    "is beyond the siting threshold).")]
    table = pd.DataFrame([{
        "Rank": str(s.get("rank")), "Kind": str(s.get("kind", "")).replace("_", " "),
        "People newly within reach": _num(s.get("added_population")),
        "Cumulative coverage": _pct(s.get("cumulative_share")),
        "Nearest facility now": str(s.get("nearest_facility", "-")),
        "Time to it (min)": (f"{s['nearest_facility_time_min']:.0f}"
                             if s.get("nearest_facility_time_min") is not None else "no route"),
        "Lon, lat": f"{s.get('lon', 0):.5f}, {s.get('lat', 0):.5f}",
    } for s in sites])
    return [*blocks, Block("table", table=Table(table, "In order of recommendation"))]


def _circuit_section(run: RunFolder) -> list[Block]:
    circuits = run.summary.get("mobile_circuits") or []
    blocks = [Block("h2", "Mobile-unit circuits")]
    if not circuits:
        return [*blocks, Block("p", "No mobile-unit circuits in this run.")]
    rows = [{
        "Unit": str(circuit.get("unit", "-")), "Base": str(circuit.get("base", "-")),
        "Day": str(day.get("day", "-")),
        "Stops in order (site rank: arrival, people)": "; ".join(
            f"#{stop.get('stop')}: {float(stop.get('arrival_min', np.nan)):.0f} min, "
            f"{_num(stop.get('people'))}" for stop in day.get("stops") or []),
        "Driving (min)": _num(day.get("drive_min")), "Total (min)": _num(day.get("total_min")),
    } for circuit in circuits for day in circuit.get("days") or [{}]]
    return [*blocks, Block("table", table=Table(pd.DataFrame(rows), "Circuits by unit and day "
                                                "(visits in mobile_visits.csv)"))]


def _referral_section(run: RunFolder) -> list[Block]:
    """Referral times (``referral.csv``), only for runs that computed them."""
    table, summary = run.table(FILES.referral), run.summary.get("referral")
    if table is None or not summary:
        return []
    rows = pd.DataFrame({
        "Facility": table["name"].astype(str), "Level": table["level"].astype(str),
        "Refers to": table["referral_to"].fillna("-").astype(str),
        "Time (min)": [f"{t:.0f}" if pd.notna(t) else "no route" for t in table["time_min"]],
        "Distance (km)": [f"{d:.1f}" if pd.notna(d) else "-" for d in table["distance_km"]],
        "Flag": ["" if ok else "no referral route" for ok in table["reachable"].astype(bool)],
    })
    median = summary.get("median_time_min")
    text = (f"{summary['reachable']} of {summary['facilities']} facilities reach a facility "
            f"of a higher level ({' < '.join(map(str, summary['levels']))}, column "
            f"{summary['level_column']})"
            + (f"; median trip {median:.0f} min, longest {summary['max_time_min']:.0f} min."
               if median is not None else "."))
    return [Block("h2", "Referral"), Block("p", text),
            Block("table", table=Table(rows, "Trip from each facility to the nearest one of "
                                             "a higher level (referral.csv)"))]


def _figure_section(run: RunFolder) -> list[Block]:
    return [
        Block("h2", "Figures"),
        Block("figure", f"{FILES.figure_access_map}.png",
              items=["Travel time to the nearest facility, underserved zones and "
                     "recommended sites"]),
        Block("figure", f"{FILES.figure_gain_curve}.png",
              items=["Population covered against the number of new sites"]),
        Block("p", "Travel-time classes: " + ", ".join(
            c.label for c in time_classes(run.thresholds_min)) + "; grey: no route."),
    ]


def _quality_section(run: RunFolder) -> list[Block]:
    summary = run.summary
    unsnapped = summary.get("facilities_unsnapped") or []
    detail = summary.get("unreachable_detail") or {}
    pieces = summary.get("network_components") or {}
    network = summary.get("network") or {}
    items = [
        f"Facilities farther than the snap distance from any road (cannot be reached): "
        f"{len(unsnapped)}" + (f" ({'; '.join(str(n) for n in unsnapped)})" if unsnapped
                               else ""),
        f"People farther than the snap distance from any road: "
        f"{_num(detail.get('off_network'))}",
        f"People with no route to any facility: {_num(detail.get('no_route'))}: "
        f"{_num(pieces.get('no_route_on_pieces_without_facility'))} on road pieces with no "
        f"facility, {_num(pieces.get('no_route_on_one_way_dead_ends'))} on one-way dead ends",
        "People whose nearest road leads to no facility, taken to the nearest road that does "
        f"(within the snap distance; counted as reached): "
        f"{_num(pieces.get('moved_to_reachable_road'))}",
        f"Road network: {network.get('nodes', '-')} nodes, {network.get('segments', '-')} "
        f"segments, {network.get('components', pieces.get('components', '-'))} disconnected "
        f"pieces",
    ]
    if pieces:
        items.append("Share of nodes in the largest piece: "
                     + _pct(pieces.get("largest_share_of_nodes")))
    return [Block("h2", "Annex: data quality"), Block("ul", items=items)]


def render_markdown(blocks: Sequence[Block]) -> str:
    """Render the blocks as GitHub-flavoured Markdown (figures linked, not embedded)."""
    lines: list[str] = []
    for block in blocks:
        if block.kind in ("h1", "h2"):
            lines += [("#" if block.kind == "h1" else "##") + " " + _md(block.text), ""]
        elif block.kind == "warning":
            lines += [f"> **{_md(block.text)}**", ""]
        elif block.kind == "p":
            lines += [_md(block.text), ""]
        elif block.kind == "ul":
            lines += [f"- {_md(item)}" for item in block.items] + [""]
        elif block.kind == "figure":
            lines += [f"![{_md(block.items[0])}]({block.text})", ""]
        elif block.kind == "table" and block.table is not None:
            lines += _md_table(block.table)
    return "\n".join(lines)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|]|&(?=#?\w+;))")


def _md(text: str) -> str:
    r"""Escape text for Markdown with backslashes (no HTML entities): markup, table pipes
    and emphasis become literal text.

    Examples
    --------
    >>> print(_md("<b>A & B</b> | x_y &amp;"))
    \<b\>A & B\</b\> \| x\_y \&amp;
    """
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def _md_table(table: Table) -> list[str]:
    frame = table.frame
    lines = [f"*{_md(table.caption)}*", ""] if table.caption else []
    lines.append("| " + " | ".join(_md(str(c)) for c in frame.columns) + " |")
    lines.append("|" + "---|" * len(frame.columns))
    lines += ["| " + " | ".join(_md(str(v)) for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return [*lines, ""]


_CSS = ("body{font:14px/1.45 sans-serif;max-width:60em;margin:2em auto;padding:0 1em;"
        "color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px "
        "solid #ccc;padding:3px 8px;text-align:left}th{background:#f3f3f3}caption{"
        "text-align:left;font-style:italic;padding:2px 0}.warning{background:#fde0dd;"
        "border:1px solid #c51b8a;padding:8px;font-weight:bold}img{max-width:100%}"
        "figure{margin:1em 0}figcaption{font-style:italic;font-size:90%}"
        "@page{size:A4;margin:16mm 14mm 18mm 14mm;@bottom-center{content:'Page ' "
        "counter(page) ' of ' counter(pages);font:9pt sans-serif;color:#555}}"
        "@media print{body{font-size:10pt;max-width:none;margin:0;padding:0}"
        "h1,h2{break-after:avoid}table{width:100%;font-size:8.5pt}thead{display:"
        "table-header-group}table,tr,figure,img,.warning{break-inside:avoid}caption{"
        "break-after:avoid}figure img{max-height:235mm;width:auto;max-width:100%}"
        "td{overflow-wrap:break-word;hyphens:manual}}")


def render_html(blocks: Sequence[Block], run: Document) -> str:
    """Render the blocks as one self-contained HTML page (figures embedded as PNG)."""
    body: list[str] = []
    for block in blocks:
        if block.kind in ("h1", "h2"):
            body.append(f"<{block.kind}>{escape(block.text)}</{block.kind}>")
        elif block.kind == "warning":
            body.append(f"<p class='warning'>{escape(block.text)}</p>")
        elif block.kind == "p":
            body.append(f"<p>{escape(block.text)}</p>")
        elif block.kind == "ul":
            body.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in block.items)
                        + "</ul>")
        elif block.kind == "figure":
            body.append(_html_figure(run.file(block.text), block.items[0]))
        elif block.kind == "table" and block.table is not None:
            body.append(_html_table(block.table))
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{escape(run.title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def _html_figure(path: Path, caption: str) -> str:
    if not path.is_file():
        return f"<p>(figure {escape(path.name)} missing)</p>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f"<figure><img alt='{escape(caption)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _html_table(table: Table) -> str:
    frame = table.frame
    head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
    rows = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    caption = f"<caption>{escape(table.caption)}</caption>" if table.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


#: Programs that can print the report (first found wins); ACCESSMAP_CHROMIUM overrides.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
                  "microsoft-edge", "msedge")


def find_chromium() -> str | None:
    """Path of a Chromium-based browser (``ACCESSMAP_CHROMIUM`` first), or ``None``."""
    named = os.environ.get("ACCESSMAP_CHROMIUM")
    if named:
        return shutil.which(named) or (named if Path(named).is_file() else None)
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def write_pdf(html_path: Path, pdf_path: Path, *, timeout_s: float = 180.0) -> bool:
    """Print ``html_path`` to ``pdf_path`` (A4, page numbers) with headless Chromium.

    Returns
    -------
    bool
        True when the PDF was written; False (with a warning in the log) when no
        Chromium/Chrome is installed or it failed: the HTML report stays complete.
    """
    browser = find_chromium()
    if browser is None:
        logger.warning("report.pdf not written: no Chromium or Chrome found (install "
                       "chromium, or set ACCESSMAP_CHROMIUM to a Chrome/Edge program); "
                       "report.html prints the same pages from a browser")
        return False
    with tempfile.TemporaryDirectory(prefix="accessmap-pdf-") as profile:
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu",
                   "--no-first-run", "--disable-background-networking",
                   "--disable-component-update", "--no-pdf-header-footer",
                   "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}",
                   f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True,
                                  timeout=timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            logger.warning("report.pdf not written: %s failed (%s)", browser, err)
            return False
    if done.returncode != 0 or not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        logger.warning("report.pdf not written: %s exited with %s: %s", browser,
                       done.returncode, done.stderr.strip()[-500:])
        pdf_path.unlink(missing_ok=True)
        return False
    logger.info("report.pdf: %.1f MB", pdf_path.stat().st_size / 1e6)
    return True


def _require_openpyxl() -> None:
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        raise OutputError(
            "report.xlsx needs the optional package openpyxl; install it with "
            "pip install 'accessmap[xlsx]' (or pip install openpyxl), or leave out --xlsx"
        ) from None


def write_xlsx(path: Path, blocks: Sequence[Block]) -> None:
    """Write every table of the report as one sheet of ``path``."""
    _require_openpyxl()
    with pd.ExcelWriter(path, engine="openpyxl") as book:
        for index, block in enumerate(b for b in blocks if b.table is not None):
            assert block.table is not None
            name = f"{index + 1} {block.table.caption}"[:31].replace("/", "-")
            block.table.frame.to_excel(book, sheet_name=name, index=False)
