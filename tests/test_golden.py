"""Golden outputs: the demo and the Comoros runs report the same figures as before.

The stored views in ``tests/golden/`` were taken before the package redesign; every figure a
run reports (coverage, per-area and per-group tables, zones, sites, circuits, marginal gain,
2SFCA, equity, components) must stay equal to 1e-9.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.golden_view import differences, golden_view, store, stored

ROOT = Path(__file__).resolve().parents[1]
UPDATE = bool(os.environ.get("ACCESSMAP_UPDATE_GOLDEN"))


def _accessmap(*args: str) -> None:
    command = [sys.executable, "-m", "accessmap.cli", *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def _check(name: str, run_dir: Path) -> None:
    view = golden_view(run_dir)
    if UPDATE:
        store(name, view)
    found = differences(stored(name), view)
    assert not found, f"{len(found)} differences from tests/golden/{name}.json:\n" + "\n".join(
        found[:40])


def test_demo_golden(tmp_path: Path) -> None:
    _accessmap("demo", "--out", str(tmp_path / "demo"))
    _check("demo_walk", tmp_path / "demo")


@pytest.mark.comoros
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_comoros_golden(comoros_dir: Path, tmp_path: Path, mode: str) -> None:
    scenario = ROOT / "scripts" / "comoros_walk.toml"
    _accessmap("run", str(scenario), "--mode", mode, "--out", str(tmp_path / mode))
    _check(f"comoros_{mode}", tmp_path / mode)
