"""The peak-memory estimate made before any work, and the refusal of runs too large."""

from __future__ import annotations

from pathlib import Path

import pytest

from accessmap import pipeline
from accessmap.config import Scenario
from accessmap.errors import ConfigError, ResourceError
from accessmap.inputs.memory import (
    BASE_BYTES,
    BYTES_PER_CELL,
    BYTES_PER_NETWORK_BYTE,
    MEMORY_LIMIT_ENV,
    available_memory,
    estimate_peak_memory,
)
from tests.conftest import write_raster
from tests.test_cli import invoke, world_args


def _scenario(world: dict[str, Path], **analysis: object) -> Scenario:
    return Scenario(inputs={k: world[k] for k in ("network", "population", "facilities")},
                    analysis=analysis, output={"out": world["dir"] / "out"})


def test_estimate_counts_raster_cells_after_aggregation_and_network_bytes(
        tiny_world: dict[str, Path]) -> None:
    big = write_raster(tiny_world["dir"] / "big.tif", [[1.0] * 40] * 30, west=33.0,
                       north=-13.8, size_deg=0.001)
    network_bytes = tiny_world["network"].stat().st_size
    scenario = _scenario(tiny_world).replace(population=str(big))
    estimate = estimate_peak_memory(scenario, available_bytes=10**12)
    assert estimate.cells == 1200 and estimate.network_bytes == network_bytes
    assert estimate.peak_bytes == (BASE_BYTES + 1200 * BYTES_PER_CELL
                                   + network_bytes * BYTES_PER_NETWORK_BYTE)
    assert estimate.fits
    coarse = estimate_peak_memory(scenario.replace(aggregate=2), available_bytes=1)
    assert coarse.cells == 300 and not coarse.fits


def test_memory_limit_comes_from_the_setting_then_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "2")
    assert available_memory() == 2 * 2**30
    assert available_memory(0.5) == 2**29  # the setting wins
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "lots")
    with pytest.raises(ResourceError, match=f"{MEMORY_LIMIT_ENV}='lots' is not a number"):
        available_memory()
    monkeypatch.delenv(MEMORY_LIMIT_ENV)
    found = available_memory()
    assert found is None or found > 0
    with pytest.raises(ConfigError, match=r"compute\.memory_limit_gb"):
        Scenario(compute={"memory_limit_gb": 0})


def test_a_run_too_large_is_refused_before_any_work(tiny_world: dict[str, Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = _scenario(tiny_world).replace(memory_limit_gb=0.01)  # below the base alone
    with pytest.raises(ResourceError, match=r"would not fit in memory: estimated peak .* "
                                            r"available 0\.0 GB; use a coarser"):
        pipeline.run(scenario)
    assert not (tiny_world["dir"] / "out").exists()
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "0.01")
    out = tiny_world["dir"] / "cli"
    result = invoke("run", *world_args(tiny_world), "--out", out)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "--set analysis.aggregate=2" in result.output and not out.exists()
