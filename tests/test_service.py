"""The service's API through FastAPI's TestClient: every route, the job life cycle on the
demo dataset, cancellation, a crashed worker, caching, limits and API keys."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from accessmap.demo import demo_scenario
from accessmap.service.app import create_app
from accessmap.service.settings import ServiceSettings, load_api_keys
from tests.service_server import LiveServer

with warnings.catch_warnings():  # starlette's TestClient warns about httpx at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

FAST = {"siting": {"new_sites": 2, "mobile": False}}
ASYNC = {"Prefer": "respond-async"}
KEY_A, KEY_B = "a" * 24, "b" * 24


def _client(tmp: Path, **settings: Any) -> TestClient:
    return TestClient(create_app(ServiceSettings(data_dir=tmp, **settings)))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with _client(tmp_path_factory.mktemp("service"), max_queued_per_key=3,
                 cancel_grace_s=3.0) as c:
        yield c


def _submit(c: TestClient, scenario: dict[str, Any], **headers: str) -> Any:
    r = c.post("/processes/run/execution", json={"inputs": {"dataset": "demo",
               "scenario": scenario}}, headers={**ASYNC, **headers})
    assert r.status_code == 201, r.text
    assert r.headers["location"].endswith("/jobs/" + r.json()["jobID"])
    return r.json()


def _wait(c: TestClient, job_id: str, until: tuple[str, ...], timeout_s: float = 90,
          **headers: str) -> list[dict[str, Any]]:
    seen = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info = c.get(f"/jobs/{job_id}", headers=headers).json()
        seen.append(info)
        if info["status"] in until:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {seen[-1]}")


def test_documents(client: TestClient) -> None:
    landing = client.get("/").json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"service-desc", "self"} <= rels
    assert "text/html" in client.get("/", headers={"Accept": "text/html"}).headers["content-type"]
    page = client.get("/app")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "http" not in page.text.split("<footer>")[0].replace("https://", "")  # no CDN
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/../settings.py").status_code == 404
    assert any(c.endswith("/conf/core") for c in client.get("/conformance").json()["conformsTo"])
    assert client.get("/api").json()["openapi"].startswith("3.")
    assert [p["id"] for p in client.get("/processes").json()["processes"]] == ["run"]
    described = client.get("/processes/run").json()
    assert described["inputs"]["dataset"]["schema"]["enum"] == ["demo"]
    scenario_schema = described["inputs"]["scenario"]["schema"]
    assert "network" not in scenario_schema["properties"]["inputs"]["properties"]
    assert "map_html" in described["outputs"]
    r = client.get("/processes/nope")
    assert r.status_code == 404 and r.json()["type"].endswith("no-such-process")
    assert client.get("/jobs/nope").status_code == 404
    assert client.get("/jobs/nope/results").status_code == 404
    assert client.delete("/jobs/nope").status_code == 404
    assert client.get("/access-control").status_code == 404
    assert "access-control-allow-origin" not in client.get(
        "/jobs", headers={"Origin": "http://evil.example"}).headers


def test_life_cycle_matches_the_pipeline(client: TestClient) -> None:
    job = _submit(client, FAST)
    assert job["status"] == "accepted" and job["progress"] == 0
    seen = _wait(client, job["jobID"], ("successful", "failed"))
    final = seen[-1]
    assert final["status"] == "successful", final
    progress = [s["progress"] for s in seen if s["status"] == "running"]
    assert progress == sorted(progress) and len(set(progress)) > 2, progress
    assert {s["status"] for s in seen} >= {"running", "successful"}
    assert final["progress"] == 100 and final["started"] <= final["finished"]
    assert final["diskBytes"] > 0 and not final["cached"]
    assert client.get("/jobs").json()["jobs"][0]["jobID"] == job["jobID"]

    results = client.get(f"/jobs/{job['jobID']}/results").json()
    assert set(results) >= {"summary", "map_html", "report_html", "layers_gpkg",
                            "travel_time_tif", "coverage_csv"}
    for key, kind in [("map_html", "text/html"), ("layers_gpkg", "application/geopackage"),
                      ("travel_time_tif", "image/tiff"), ("coverage_csv", "text/csv")]:
        r = client.get(results[key]["href"])
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind)
        assert results[key]["type"].startswith(kind)
    assert client.get(f"/jobs/{job['jobID']}/results/..%2Fjobs.sqlite").status_code == 404
    assert client.get(f"/jobs/{job['jobID']}/results/nothing.csv").status_code == 404

    from accessmap.pipeline import run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = run(demo_scenario().with_changes(FAST), write=False).summary
    got = dict(results["summary"])
    for summary in (got, expected):
        summary.pop("run", None)
        summary.pop("timings_s", None)
        summary["siting"].pop("solver_seconds", None)  # a timing too
    assert got == expected

    again = _submit(client, FAST)  # identical request: the cached result
    assert again["status"] == "successful" and again["cached"]
    assert again["cachedFrom"] == job["jobID"] and "cached" in again["message"]
    assert client.get(f"/jobs/{again['jobID']}/results").json()["summary"]["coverage"] == \
        results["summary"]["coverage"]
    gone = client.delete(f"/jobs/{again['jobID']}").json()
    assert gone["status"] == "dismissed"
    assert client.get(f"/jobs/{again['jobID']}/results").status_code == 404
    assert client.get(f"/jobs/{job['jobID']}/results").status_code == 200


def _pool(c: TestClient) -> Any:
    return c.app.state.service["pool"]  # type: ignore[attr-defined]


def _store(c: TestClient) -> Any:
    return c.app.state.service["store"]  # type: ignore[attr-defined]


def test_cancel_stops_the_worker_and_leaves_nothing(client: TestClient) -> None:
    job = _submit(client, {"siting": {"new_sites": 4}})
    _wait(client, job["jobID"], ("running",))
    assert client.get(f"/jobs/{job['jobID']}/results").status_code == 404  # not ready
    pid = _pool(client).running_pid(job["jobID"])
    assert pid is not None
    r = client.delete(f"/jobs/{job['jobID']}")
    assert r.status_code == 200 and r.json()["status"] == "dismissed"
    deadline = time.monotonic() + 10
    while _pool(client).running_pid(job["jobID"]) is not None:
        assert time.monotonic() < deadline, "worker did not stop"
        time.sleep(0.1)
    assert not _store(client).job_dir(job["jobID"]).exists()
    final = client.get(f"/jobs/{job['jobID']}").json()
    assert final["status"] == "dismissed"
    time.sleep(0.5)
    assert client.get(f"/jobs/{job['jobID']}").json()["progress"] == final["progress"]


def test_queued_job_is_dismissed_and_a_crashed_worker_is_replaced(client: TestClient) -> None:
    first = _submit(client, {"siting": {"new_sites": 3}})
    second = _submit(client, {"siting": {"new_sites": 1}})
    _wait(client, first["jobID"], ("running",))
    assert client.delete(f"/jobs/{second['jobID']}").json()["status"] == "dismissed"
    pid = _pool(client).running_pid(first["jobID"])
    os.kill(pid, 9)
    failed = _wait(client, first["jobID"], ("failed",), timeout_s=10)[-1]
    assert failed["exception"]["title"] == "worker crashed"
    assert "stopped unexpectedly" in failed["exception"]["detail"]
    r = client.get(f"/jobs/{first['jobID']}/results")
    assert r.status_code == 500 and r.json()["detail"] == failed["exception"]["detail"]
    assert pid not in _pool(client).worker_pids()
    third = _submit(client, {"siting": {"new_sites": 0}})
    _wait(client, third["jobID"], ("running",), timeout_s=30)
    client.delete(f"/jobs/{third['jobID']}")
    assert client.get(f"/jobs/{second['jobID']}").json()["status"] == "dismissed"


@pytest.mark.parametrize(("scenario", "match"), [
    ({"inputs": {"network": "/etc/passwd"}}, "file path"),
    ({"siting": {"candidates": "x.csv"}}, "file path"),
    ({"output": {"out": "/tmp/x"}}, "chosen by the server"),
    ({"facilities": {"exclude": {"amenity": "../../etc"}}}, "path or a URL"),
    ({"facilities": {"exclude": {"amenity": "http://evil.example/x"}}}, "path or a URL"),
    ({"inputs": {"population_column": "/vsicurl/x"}}, "path or a URL"),
    ({"analysis": {"mode": "fly"}}, "mode"),
    ({"analysis": {"thresholds_min": "60"}}, "thresholds_min"),
    ({"siting": {"nonsense": 1}}, "nonsense"),
])
def test_bad_inputs_are_refused(client: TestClient, scenario: dict[str, Any],
                                match: str) -> None:
    r = client.post("/processes/run/execution", json={"inputs": {"dataset": "demo",
                    "scenario": scenario}}, headers=ASYNC)
    assert r.status_code == 400, r.text
    body = r.json()
    assert set(body) == {"type", "title", "status", "detail"} and body["status"] == 400
    assert match in body["detail"]


def test_request_shape_errors(client: TestClient) -> None:
    post = client.post
    assert post("/processes/run/execution", json={"inputs": {"dataset": "nope"}}
                ).json()["title"] == "unknown dataset"
    assert post("/processes/run/execution", json=[1]).status_code == 400
    assert post("/processes/run/execution", content=b"{not json",
                headers={"Content-Type": "application/json"}).status_code == 400
    assert post("/processes/run/execution", json={"inputs": {"x": 1}}).status_code == 400
    assert post("/processes/other/execution", json={"inputs": {}}).status_code == 404
    big = {"inputs": {"dataset": "demo", "scenario": {"title": "x" * 100_000}}}
    r = post("/processes/run/execution", json=big)
    assert r.status_code == 413 and r.json()["status"] == 413


def test_limits(tmp_path: Path) -> None:
    with _client(tmp_path / "tiny", budget_units=1000) as c:
        r = c.post("/processes/run/execution", json={"inputs": {"dataset": "demo"}})
        assert r.status_code == 400 and "budget" in r.json()["detail"]
    with _client(tmp_path / "queue", max_queued_per_key=2, retry_after_s=7) as c:
        ids = [_submit(c, {"siting": {"new_sites": n}})["jobID"] for n in (1, 2)]
        r = c.post("/processes/run/execution", json={"inputs": {"dataset": "demo", "scenario":
                   {"siting": {"new_sites": 3}}}}, headers=ASYNC)
        assert r.status_code == 429 and r.headers["retry-after"] == "7"
        for job_id in ids:
            c.delete(f"/jobs/{job_id}")


def test_api_keys(tmp_path: Path) -> None:
    key_file = tmp_path / "keys.txt"
    key_file.write_text(f"# planners\n{KEY_A}\n{KEY_B}\n")
    keys = load_api_keys(key_file)
    (tmp_path / "short.txt").write_text("abc\n")
    with pytest.raises(ValueError, match="shorter than 16"):
        load_api_keys(tmp_path / "short.txt")
    with _client(tmp_path / "keys", api_keys=keys) as c:
        assert c.get("/").status_code == 200 and c.get("/app").status_code == 200
        assert c.get("/jobs").status_code == 401
        assert c.get("/jobs", headers={"X-API-Key": "wrong" * 5}).status_code == 401
        a = {"X-API-Key": KEY_A}
        job = _submit(c, {"title": "<script>alert(1)</script>"}, **a)
        assert c.get(f"/jobs/{job['jobID']}", headers=a).status_code == 200
        b = {"Authorization": f"Bearer {KEY_B}"}
        assert c.get(f"/jobs/{job['jobID']}", headers=b).status_code == 404
        assert c.delete(f"/jobs/{job['jobID']}", headers=b).status_code == 404
        assert c.get("/jobs", headers=b).json()["jobs"] == []
        listed = c.get("/jobs", headers=a)
        assert listed.headers["content-type"] == "application/json"
        assert listed.json()["jobs"][0]["title"] == "<script>alert(1)</script>"
        assert c.delete(f"/jobs/{job['jobID']}", headers=a).json()["status"] == "dismissed"


def test_restart_marks_running_jobs_failed(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "data").start()
    try:
        body = {"inputs": {"dataset": "demo", "scenario": {"siting": {"new_sites": 4}}}}
        running = httpx.post(server.url + "/processes/run/execution", json=body,
                             headers=ASYNC).json()["jobID"]
        body["inputs"]["scenario"]["siting"]["new_sites"] = 3
        queued = httpx.post(server.url + "/processes/run/execution", json=body,
                            headers=ASYNC).json()["jobID"]
        deadline = time.monotonic() + 60
        while httpx.get(f"{server.url}/jobs/{running}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        server.kill()
        server = LiveServer(tmp_path / "data").start()
        info = httpx.get(f"{server.url}/jobs/{running}").json()
        assert info["status"] == "failed", info
        assert "service stopped while this job was running" in info["exception"]["detail"]
        assert not (tmp_path / "data" / "jobs" / running).exists()
        assert httpx.get(f"{server.url}/jobs/{queued}").json()["status"] in (
            "accepted", "running")
        assert {j["jobID"] for j in httpx.get(server.url + "/jobs").json()["jobs"]} == \
            {running, queued}
        httpx.delete(f"{server.url}/jobs/{queued}")
    finally:
        server.stop()
