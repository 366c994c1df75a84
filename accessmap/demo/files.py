"""File names of the demo district's data, by role (light: imports nothing)."""

from __future__ import annotations

__all__ = ["DEMO_FILES"]

#: File names in the demo folder, by role (the generator writes these, plus a README).
DEMO_FILES = {
    "network": "network.osm",
    "population": "population.tif",
    "facilities": "facilities.geojson",
    "boundaries": "subdistricts.geojson",
    "groups": "groups.geojson",
    "landcover": "landcover.tif",  # SYNTHETIC, WorldCover classes ([offroad], not by default)
    "dem": "dem.tif",              # SYNTHETIC elevation, hills across the river
}
