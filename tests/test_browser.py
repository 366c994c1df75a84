"""Headless Chromium opens map.html: no JavaScript error, every layer listed, names escaped.

Chromium is driven with its own command-line modes only (``--dump-dom`` and
``--screenshot``), no extra Python packages: a probe script is injected as the first
script of a copy of the page; it records errors (uncaught exceptions, failed resource
loads, ``console.error``, ``alert``) and, after load, writes a JSON report (errors, layer
control labels, popup/tooltip text) into the DOM, which ``--dump-dom`` prints.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from accessmap.outputs.maps import write_map
from accessmap.record import RunFolder
from tests.runfolder_factory import XSS, make_run_folder
from tests.test_places import add_places

ROOT = Path(__file__).resolve().parents[1]
BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
#: Every name resolves to nothing: the page must need no network at all.
NO_NETWORK = "--host-resolver-rules=MAP * ~NOTFOUND"

PROBE = """<script>
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    var t = e.target || {};
    errors.push(e.message ? 'error: ' + e.message : 'failed to load ' + (t.src || t.href));
  }, true);
  window.addEventListener('unhandledrejection', function (e) {
    errors.push('unhandled rejection: ' + e.reason);
  });
  var consoleError = console.error;
  console.error = function () {
    errors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
    consoleError.apply(console, arguments);
  };
  window.alert = function (m) { errors.push('alert called: ' + m); };
  window.addEventListener('load', function () {
    setTimeout(function () {
      var report = {errors: errors, labels: [], popups: [], tooltips: [], injected: 0,
                    images: document.querySelectorAll('.leaflet-image-layer').length,
                    features: 0};
      document.querySelectorAll('.leaflet-control-layers-overlays label span span')
        .forEach(function (s) { report.labels.push(s.textContent.trim()); });
      Object.keys(window).filter(function (k) { return k.indexOf('map_') === 0; })
        .forEach(function (k) {
          if (!window[k] || !window[k].eachLayer) { return; }
          window[k].eachLayer(function (layer) {
            report.features += layer.feature ? 1 : 0;
            [['popups', layer.getPopup && layer.getPopup()],
             ['tooltips', layer.getTooltip && layer.getTooltip()]].forEach(function (p) {
              if (!p[1]) { return; }
              var div = document.createElement('div');
              div.innerHTML = p[1].getContent();
              report.injected += div.querySelectorAll('script,img,iframe,svg').length;
              report[p[0]].push(div.textContent);
            });
          });
        });
      var box = function (el) {
        var r = el.getBoundingClientRect();
        return {left: r.left, top: r.top, right: r.right, bottom: r.bottom,
                name: (el.className.baseVal === undefined ? el.className : '') +
                      (el.textContent || '').slice(0, 20)};
      };
      report.viewport = [window.innerWidth, window.innerHeight];
      report.sites = Array.prototype.map.call(document.querySelectorAll('.am-site'), box);
      report.panels = Array.prototype.map.call(
        document.querySelectorAll('.am-panel, .leaflet-control'), box)
        .filter(function (b) { return b.right > b.left && b.bottom > b.top; });
      report.places = Array.prototype.filter.call(
        document.querySelectorAll('.am-place span'), function (s) {
          return s.getBoundingClientRect().width > 0 &&
            getComputedStyle(s).visibility !== 'hidden';
        }).map(box);
      var out = document.createElement('pre');
      out.id = 'am-probe';
      out.textContent = JSON.stringify(report);
      document.body.appendChild(out);
    }, 300);
  });
})();
</script>"""


def chromium() -> str:
    """Path of Chromium; skip locally when missing, fail in CI."""
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("CI must have Chromium (/usr/bin/chromium) for the browser tests")
    pytest.skip("no Chromium installed")


def _run_chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    command = [chromium(), *BROWSER_FLAGS, f"--user-data-dir={profile}", NO_NETWORK,
               "--virtual-time-budget=10000", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


#: Window size minus page viewport of headless Chromium (its window has a frame), measured.
_FRAME: list[tuple[int, int]] = []


def probe(page: Path, tmp_path: Path, *, size: tuple[int, int] = (1280, 900)
          ) -> dict[str, Any]:
    """Open ``page`` (with the probe injected) in headless Chromium; return its report.

    ``size`` is the page's viewport (width, height): the window is made larger by the
    frame headless Chromium draws around it (measured on the first call).
    """
    text = page.read_text(encoding="utf-8")
    probed = page.with_name(page.stem + ".probe.html")
    probed.write_text(text.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    frame = _FRAME[0] if _FRAME else (0, 0)
    report = _probe_once(probed, tmp_path, (size[0] + frame[0], size[1] + frame[1]))
    if not _FRAME and report["viewport"] != list(size):
        _FRAME.append((size[0] - report["viewport"][0], size[1] - report["viewport"][1]))
        return probe(page, tmp_path, size=size)
    return report


def _probe_once(probed: Path, tmp_path: Path, window: tuple[int, int]) -> dict[str, Any]:
    done = _run_chromium([f"--window-size={window[0]},{window[1]}", "--dump-dom",
                          probed.as_uri()], tmp_path / "profile-dom")
    found = re.search(r'<pre id="am-probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the page did not finish loading; Chromium said:\n{done.stderr[-3000:]}"
    import html

    return dict(json.loads(html.unescape(found.group(1))))


def screenshot(page: Path, target: Path, tmp_path: Path, *,
               size: tuple[int, int] = (1280, 900)) -> Path:
    """Save a screenshot of ``page`` at ``size`` (width, height)."""
    _run_chromium([f"--screenshot={target}", f"--window-size={size[0]},{size[1]}",
                   "--hide-scrollbars", page.as_uri()], tmp_path / "profile-shot")
    assert target.is_file() and target.stat().st_size > 10_000, "no screenshot written"
    return target


#: Layer-control label (part) of each GeoPackage layer the map draws.
LAYER_LABELS = {"roads": "Roads", "isochrone_bands": "Isochrone bands",
                "admin_areas": "dmin area", "underserved_zones": "Underserved zones",
                "facilities": "Facilities:", "recommended_sites": "Recommended",
                "mobile_routes": "Mobile-unit routes", "places": "Place names"}


def expected_labels(run_dir: Path) -> list[str]:
    """Labels the layer control must list for this run folder: one per layer present."""
    present = RunFolder(run_dir).layer_names
    labels = [label for name, label in LAYER_LABELS.items() if name in present]
    if (run_dir / "travel_time.tif").is_file():
        labels.append("Travel time")
    return labels


def _check_map(report: dict[str, Any], expected_labels: list[str]) -> None:
    assert report["errors"] == [], f"JavaScript errors: {report['errors']}"
    for label in expected_labels:
        assert any(label in shown for shown in report["labels"]), (
            f"layer control lacks {label!r}: {report['labels']}")


@pytest.mark.browser
def test_offline_map_of_a_complete_run_folder(tmp_path: Path) -> None:
    run = make_run_folder(tmp_path / "run")
    page = write_map(run, offline=True)
    report = probe(page, tmp_path)
    _check_map(report, ["Travel time", "Isochrone bands", "Coverage by admin area",
                        "Underserved zones", "Facilities: hospital", "Facilities: health_post",
                        "satellite clinics", "mobile-unit stops", "Mobile-unit routes",
                        "Roads"])
    assert report["images"] == 1
    assert report["injected"] == 0
    assert any(XSS in text for text in report["popups"])
    assert any("`${x}`" in text for text in report["popups"])
    screenshot(page, tmp_path / "map.png", tmp_path)


#: Window sizes at which nothing may hide a recommended site.
WINDOW_SIZES = [(1024, 768), (1280, 720), (1920, 1080)]


def hidden_sites(report: dict[str, Any]) -> list[str]:
    """Recommended-site markers outside the window or overlapping a panel or control."""
    width, height = report["viewport"]
    problems = []
    for site in report["sites"]:
        if site["left"] < 0 or site["top"] < 0 or site["right"] > width or (
                site["bottom"] > height):
            problems.append(f"site {site['name']!r} outside the {width}x{height} window")
        for panel in report["panels"]:
            if (site["left"] < panel["right"] and panel["left"] < site["right"]
                    and site["top"] < panel["bottom"] and panel["top"] < site["bottom"]):
                problems.append(f"site {site['name']!r} under {panel['name']!r}")
    return problems


@pytest.mark.browser
@pytest.mark.parametrize("size", WINDOW_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_no_recommended_site_starts_hidden(tmp_path: Path, size: tuple[int, int]) -> None:
    page = write_map(make_run_folder(tmp_path / "run"))
    report = probe(page, tmp_path, size=size)
    assert report["errors"] == []
    assert report["viewport"] == list(size)
    assert len(report["sites"]) == 2
    assert hidden_sites(report) == []


def overlapping_labels(report: dict[str, Any]) -> list[tuple[str, str]]:
    """Pairs of place labels shown on top of each other."""
    boxes = report["places"]
    return [(a["name"], b["name"]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
            if a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"]
            and b["top"] < a["bottom"]]


@pytest.mark.browser
def test_place_labels_are_drawn_without_overlapping(tmp_path: Path) -> None:
    # two cities on the same spot: one is moved aside; a village under a site is hidden
    run = add_places(make_run_folder(tmp_path / "run"), [
        ("Capital", "city", 44.01, -12.01), ("Second City", "city", 44.01, -12.01),
        ("Under <the> site", "village", 44.035, -12.015)])
    page = write_map(run)
    report = probe(page, tmp_path, size=(1024, 768))
    assert report["errors"] == []
    assert any("Place names" in label for label in report["labels"])
    shown = [box["name"] for box in report["places"]]
    assert "Capital" in shown and "Second City" in shown
    assert overlapping_labels(report) == []
    assert hidden_sites(report) == []


@pytest.mark.browser
def test_online_map_fails_without_network_but_offline_does_not(tmp_path: Path) -> None:
    run = make_run_folder(tmp_path / "run")
    page = write_map(run, tmp_path / "online.html", offline=False)
    report = probe(page, tmp_path)
    assert any("failed to load" in e for e in report["errors"]), report["errors"]


def _run_demo(out: Path, *, offline: bool) -> Path:
    command = [sys.executable, "-m", "accessmap.cli", "demo", "--out", str(out),
               "--overwrite"] + (["--offline"] if offline else [])
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return out / "map.html"


@pytest.mark.browser
@pytest.mark.slow
def test_demo_map_in_browser(tmp_path: Path) -> None:
    page = _run_demo(tmp_path / "demo", offline=True)
    report = probe(page, tmp_path)
    _check_map(report, expected_labels(page.parent))
    assert len(expected_labels(page.parent)) >= 7
    assert report["features"] > 0
    for size in WINDOW_SIZES:
        report = probe(page, tmp_path, size=size)
        assert report["sites"], "no recommended site drawn"
        assert hidden_sites(report) == [], size
        screenshot(page, tmp_path / f"demo-{size[0]}x{size[1]}.png", tmp_path, size=size)


@pytest.mark.browser
@pytest.mark.comoros
@pytest.mark.slow
def test_comoros_map_in_browser(comoros_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "comoros"
    command = [sys.executable, "-m", "accessmap.cli", "run",
               "--network", str(comoros_dir / "comores-latest.osm.pbf"),
               "--population", str(comoros_dir / "com_ppp_2020_UNadj.tif"),
               "--facilities", str(comoros_dir / "health.gpkg"),
               "--exclude", "amenity=pharmacy", "--mode", "drive", "--offline",
               "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    page = out / "map.html"
    assert page.stat().st_size < 10_000_000, "Comoros map exceeds the 10 MB budget"
    report = probe(page, tmp_path)
    _check_map(report, expected_labels(out))
    assert len(expected_labels(out)) >= 7
    for size in WINDOW_SIZES:
        report = probe(page, tmp_path, size=size)
        assert report["sites"], "no recommended site drawn"
        assert hidden_sites(report) == [], size
        screenshot(page, tmp_path / f"comoros-{size[0]}x{size[1]}.png", tmp_path, size=size)
