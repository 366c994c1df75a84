"""Vendor the Leaflet assets the offline map inlines into ``accessmap/assets/``.

Usage (needs npm once, on a connected machine; the result is committed)::

    cd /tmp && npm pack leaflet@1.9.4 leaflet.fullscreen@3.0.0
    mkdir leaflet fullscreen
    tar xzf leaflet-1.9.4.tgz -C leaflet && tar xzf leaflet.fullscreen-3.0.0.tgz -C fullscreen
    python scripts/vendor_map_assets.py /tmp/leaflet/package /tmp/fullscreen/package

Images referenced by the CSS are embedded as ``data:`` URIs so that the CSS files are
self-contained.  Licences: Leaflet BSD-2-Clause, leaflet.fullscreen MIT.
"""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "accessmap" / "assets"
LEAFLET_LINK = '<a href="https://leafletjs.com" '
MIME = {".png": "image/png", ".svg": "image/svg+xml"}


def _inline_urls(css: str, folder: Path) -> str:
    def replace(match: re.Match[str]) -> str:
        target = folder / match.group(1)
        if not target.is_file():
            return match.group(0)
        data = base64.b64encode(target.read_bytes()).decode("ascii")
        return f"url(data:{MIME[target.suffix]};base64,{data})"

    return re.sub(r"url\(([^)#:]+)\)", replace, css)


def main(leaflet: Path, fullscreen: Path) -> None:
    ASSETS.mkdir(exist_ok=True)
    dist = leaflet / "dist"
    # the one change: the attribution prefix keeps its text but links nowhere, so the
    # offline page holds no external href at all
    code = (dist / "leaflet.js").read_text(encoding="utf-8")
    assert code.count(LEAFLET_LINK) == 1, "Leaflet attribution link not found"
    (ASSETS / "leaflet.js").write_text(code.replace(LEAFLET_LINK, "<a "), encoding="utf-8")
    (ASSETS / "leaflet.css").write_text(_inline_urls((dist / "leaflet.css").read_text(), dist))
    (ASSETS / "LICENSE-leaflet.txt").write_bytes((leaflet / "LICENSE").read_bytes())
    (ASSETS / "Control.FullScreen.js").write_bytes(
        (fullscreen / "Control.FullScreen.js").read_bytes())
    (ASSETS / "Control.FullScreen.css").write_text(
        _inline_urls((fullscreen / "Control.FullScreen.css").read_text(), fullscreen))
    (ASSETS / "LICENSE-leaflet.fullscreen.txt").write_bytes(
        (fullscreen / "LICENSE").read_bytes())


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
