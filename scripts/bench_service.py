"""Benchmark the service: job overhead vs a direct pipeline run, and status polling latency.

Starts the real server on 127.0.0.1 (1 worker), runs the demo job once through it while
another thread polls ``/jobs/{id}`` as fast as it can, then runs the same scenario with
``accessmap.pipeline.run`` in this process (warm: imports done) and prints both.

Targets: overhead < 10% of the job time; status p99 < 50 ms while the job runs.  Also times
one upload (``POST /datasets``) of the demo facilities and population raster.
Usage: ``.venv/bin/python scripts/bench_service.py``
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.service_server import LiveServer

SCENARIO = {"siting": {"new_sites": 3}}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(Path(tmp) / "data", cache=False).start()
        try:
            client = httpx.Client(base_url=server.url, timeout=300)
            # warm the worker (first job compiles the numba kernels)
            warm = client.post("/processes/run/execution", json={"inputs": {
                "dataset": "demo", "scenario": {"siting": {"new_sites": 1}}}}).json()
            assert "summary" in warm, warm
            start = time.perf_counter()
            job = client.post("/processes/run/execution", headers={"Prefer": "respond-async"},
                              json={"inputs": {"dataset": "demo", "scenario": SCENARIO}}).json()
            latencies: list[float] = []
            done = threading.Event()

            def poll() -> None:
                with httpx.Client(base_url=server.url) as c:
                    while not done.is_set():
                        t = time.perf_counter()
                        status = c.get(f"/jobs/{job['jobID']}").json()["status"]
                        latencies.append(time.perf_counter() - t)
                        if status in ("successful", "failed", "dismissed"):
                            done.set()

            thread = threading.Thread(target=poll)
            thread.start()
            thread.join()
            service_s = time.perf_counter() - start
            upload_s = _time_upload(client)
        finally:
            server.stop()
    from accessmap.demo import demo_scenario
    from accessmap.pipeline import run

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scenario = demo_scenario().with_changes(SCENARIO).replace(out=str(Path(tmp) / "run"))
        run(scenario.replace(out=str(Path(tmp) / "warm")), offline=True)
        start = time.perf_counter()
        run(scenario, offline=True)
        direct_s = time.perf_counter() - start
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    overhead = (service_s - direct_s) / direct_s
    print(f"demo job through the service: {service_s:.2f} s; direct pipeline.run: "
          f"{direct_s:.2f} s; overhead {overhead:+.1%} (target < 10%)")
    print(f"status polls while running: {len(latencies)} in {service_s:.1f} s "
          f"({len(latencies) / service_s:.0f}/s), median {statistics.median(latencies)*1e3:.1f}"
          f" ms, p99 {p99*1e3:.1f} ms (target < 50 ms)")
    print(f"upload of the demo facilities and population raster (POST /datasets, checked "
          f"and stored): {upload_s * 1e3:.0f} ms")


def _time_upload(client: httpx.Client) -> float:
    """Seconds of one upload of the demo facilities and population (checks included)."""
    from accessmap.demo import demo_scenario

    inputs = demo_scenario().inputs
    assert inputs.facilities is not None and inputs.population is not None
    files = {"facilities": ("f.geojson", Path(inputs.facilities).read_bytes()),
             "population": ("p.tif", Path(inputs.population).read_bytes())}
    start = time.perf_counter()
    response = client.post("/datasets", files=files, data={"base": "demo"})
    elapsed = time.perf_counter() - start
    assert response.status_code == 201, response.text
    return elapsed


if __name__ == "__main__":
    main()
