"""Shared fixtures: the real Comoros data (integration) and small synthetic inputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMOROS = ROOT.parent / "shared" / "data" / "comoros"


@pytest.fixture(scope="session")
def comoros_dir() -> Path:
    """The real Comoros data folder; skips locally when absent, fails in CI."""
    if not (COMOROS / "comores-latest.osm.pbf").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the shared Comoros data at {COMOROS}")
        pytest.skip(f"Comoros data not found at {COMOROS}")
    return COMOROS


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
                   ) -> None:
    """Keep network caches of tests out of the user's home folder."""
    monkeypatch.setenv("ACCESSMAP_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
