"""Uploaded datasets (``POST /datasets``): limits, refused archives, strict GeoJSON and CSV,
GeoTIFF sniffing, a job on an upload, and uploads private to their key."""

from __future__ import annotations

import io
import json
import time
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accessmap.demo import demo_scenario
from accessmap.service.app import create_app
from accessmap.service.settings import ServiceSettings

with warnings.catch_warnings():  # starlette's TestClient warns about httpx at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

KEY_A, KEY_B = {"X-API-Key": "a" * 24}, {"X-API-Key": "b" * 24}
LIMIT = 1_000_000


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = ServiceSettings(data_dir=tmp_path_factory.mktemp("uploads"),
                               api_keys=frozenset({KEY_A["X-API-Key"], KEY_B["X-API-Key"]}),
                               max_upload_bytes=LIMIT, max_uploads_per_key=4)
    with TestClient(create_app(settings)) as c:
        yield c


def _demo_points(count: int) -> dict[str, Any]:
    path = demo_scenario().inputs.facilities
    assert path is not None
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    doc["features"] = doc["features"][:count]
    return dict(doc)


def _upload(c: TestClient, facilities: bytes, *, population: bytes | None = None,
            headers: dict[str, str] = KEY_A, **form: str) -> Any:
    files = {"facilities": ("any-name.txt", facilities, "application/octet-stream")}
    if population is not None:
        files["population"] = ("p.bin", population, "application/octet-stream")
    return c.post("/datasets", files=files, data=form, headers=headers)


def _problem(r: Any, status: int, match: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"type", "title", "status", "detail"} and body["status"] == status
    assert match in body["detail"], body


def _uploads_left(c: TestClient) -> list[Path]:
    root: Path = c.app.state.service["store"].data_dir / "uploads"  # type: ignore[attr-defined]
    return sorted(p for p in root.rglob("*") if p.is_dir() and p.name.startswith("up-")) \
        if root.is_dir() else []


def test_upload_runs_a_job_and_is_private_to_its_key(client: TestClient) -> None:
    population = demo_scenario().inputs.population
    assert population is not None
    r = _upload(client, json.dumps(_demo_points(4)).encode(),
                population=Path(population).read_bytes(), title="<b>my clinics</b>")
    assert r.status_code == 201, r.text
    upload = r.json()
    dataset = upload["id"]
    assert dataset.startswith("up-") and r.headers["location"].endswith("/datasets/" + dataset)
    assert upload["facilities"] == 4 and upload["base"] == "demo"
    assert upload["files"] == {"facilities": "facilities.geojson",
                               "population": "population.tif"}
    assert upload["title"] == "<b>my clinics</b>"
    listed = [d["id"] for d in client.get("/datasets", headers=KEY_A).json()["datasets"]]
    assert listed == ["demo", dataset]
    described = client.get("/processes/run", headers=KEY_A).json()
    assert dataset in described["inputs"]["dataset"]["schema"]["enum"]
    assert described["x-datasets"][dataset]["title"] == "<b>my clinics</b>"

    body = {"inputs": {"dataset": dataset, "scenario": {"siting": {"new_sites": 1,
                                                                   "mobile": False}}}}
    r = client.post("/processes/run/execution", json=body,
                    headers={**KEY_A, "Prefer": "respond-async"})
    assert r.status_code == 201, r.text
    job_id = r.json()["jobID"]
    deadline = time.monotonic() + 90
    while (info := client.get(f"/jobs/{job_id}", headers=KEY_A).json())["status"] not in (
            "successful", "failed"):
        assert time.monotonic() < deadline, info
        time.sleep(0.2)
    assert info["status"] == "successful", info
    assert info["dataset"] == dataset
    summary = client.get(f"/jobs/{job_id}/results", headers=KEY_A).json()["summary"]
    settings = summary["run"]["settings"]
    assert settings["inputs"]["facilities"].endswith(f"{dataset}/facilities.geojson")
    assert settings["facilities"]["exclude"] == {}

    # another key: the upload does not exist for it
    assert client.get(f"/datasets/{dataset}", headers=KEY_B).status_code == 404
    assert client.delete(f"/datasets/{dataset}", headers=KEY_B).status_code == 404
    assert [d["id"] for d in client.get("/datasets", headers=KEY_B).json()["datasets"]] == \
        ["demo"]
    assert dataset not in client.get("/processes/run", headers=KEY_B).json()[
        "inputs"]["dataset"]["schema"]["enum"]
    r = client.post("/processes/run/execution", json=body,
                    headers={**KEY_B, "Prefer": "respond-async"})
    _problem(r, 404, "no uploaded dataset")
    assert client.get("/datasets", headers={}).status_code == 401

    assert client.get(f"/datasets/{dataset}", headers=KEY_A).json()["id"] == dataset
    assert client.delete(f"/datasets/{dataset}", headers=KEY_A).status_code == 204
    assert client.get(f"/datasets/{dataset}", headers=KEY_A).status_code == 404
    _problem(client.post("/processes/run/execution", json=body, headers=KEY_A), 404,
             "no uploaded dataset")


def test_csv_upload_and_bad_rows(client: TestClient) -> None:
    r = _upload(client, b"name,lat,lon\nA,-13.66,33.09\nB,-13.70,33.12\n", base="demo")
    assert r.status_code == 201, r.text
    assert r.json()["files"]["facilities"] == "facilities.csv" and r.json()["facilities"] == 2
    assert client.delete(f"/datasets/{r.json()['id']}", headers=KEY_A).status_code == 204
    _problem(_upload(client, b"name,lat,lon\nA,-13.6,33.0\nB,181,33.1\n"), 400, "row 2")
    _problem(_upload(client, b"name,lat,lon\nA,nan,33.0\n"), 400, "not a finite number")
    _problem(_upload(client, b"name,lat,lon\nA,x,33.0\n"), 400, "not a number")
    _problem(_upload(client, b"name,north,east\nA,1,2\n"), 400, "no longitude/latitude")
    _problem(_upload(client, b"name,lat,lon\n"), 400, "no facility rows")


@pytest.mark.parametrize(("document", "match"), [
    (b'{"type": "FeatureCollection", "features": [', "not valid JSON"),
    (b'{"type": "Feature", "geometry": null}', "must be a FeatureCollection"),
    (b'{"type": "FeatureCollection", "features": []}', "no features"),
    (b'{"type": "FeatureCollection", "type": "FeatureCollection", "features": []}',
     "duplicate key"),
    (b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, '
     b'"geometry": {"type": "Point", "coordinates": [NaN, 1]}}]}', "NaN"),
    (b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, '
     b'"geometry": {"type": "Point", "coordinates": [33.1, 95.0]}}]}', "out of range"),
    (b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, '
     b'"geometry": {"type": "Point", "coordinates": ["33.1", 1]}}]}', "not a finite number"),
    (b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, '
     b'"geometry": {"type": "Point", "coordinates": [1e400, 1]}}]}', "not a finite number"),
    (b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, '
     b'"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}]}',
     "is not a Point"),
    (b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, '
     b'"geometry": null}]}', "is not a Point"),
    (b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": [1], '
     b'"geometry": {"type": "Point", "coordinates": [1, 1]}}]}', "properties"),
    (b"{\"a\": " * 100_000, "not valid JSON"),
])
def test_malformed_geojson_is_refused(client: TestClient, document: bytes, match: str) -> None:
    _problem(_upload(client, document), 400, match)


def test_sizes_types_and_archives_are_refused(client: TestClient, tmp_path: Path) -> None:
    before = _uploads_left(client)
    _problem(_upload(client, b"x" * (LIMIT + 70_000)), 413, "over the limit")
    _problem(_upload(client, b'{"type": "FeatureCollection"}' + b" " * LIMIT), 413,
             "over the upload limit")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../../evil.geojson", json.dumps(_demo_points(2)))
        z.writestr("/etc/evil.csv", "lat,lon\n1,1\n")
    _problem(_upload(client, archive.getvalue()), 415, "zip archives are not accepted")
    _problem(_upload(client, b"\x1f\x8b\x08\x00" + b"\x00" * 20), 415, "gzip archives")
    tar = b"evil".ljust(257, b"\x00") + b"ustar\x0000" + b"\x00" * 200
    _problem(_upload(client, tar), 415, "tar archives")
    _problem(_upload(client, b"\x00\x01binary"), 415, "not a text file")
    _problem(_upload(client, "name,lat,lon\nA,1,1\n".encode("utf-16")), 415, "not a text")
    _problem(_upload(client, b""), 400, "empty")
    points = json.dumps(_demo_points(2)).encode()
    _problem(_upload(client, points, population=b"GIF89a not a tiff"), 415, "not a GeoTIFF")
    _problem(_upload(client, points, population=archive.getvalue()), 415, "zip archives")
    _problem(_upload(client, points, population=b"II*\x00" + b"\x00" * 64), 400,
             "cannot be read as a GeoTIFF")
    _problem(_upload(client, points, base="nowhere"), 400, "not a dataset registered")
    _problem(_upload(client, points, base="../demo"), 400, "not a dataset registered")
    assert client.post("/datasets", headers=KEY_A).status_code == 400  # no file at all
    assert not (tmp_path.parent / "evil.geojson").exists()
    assert _uploads_left(client) == before
    root = client.app.state.service["store"].data_dir / "uploads"  # type: ignore[attr-defined]
    assert not [p for p in root.rglob(".staging-*")]


def test_population_cells_and_upload_count_are_limited(tmp_path: Path) -> None:
    population = demo_scenario().inputs.population
    assert population is not None
    points = json.dumps(_demo_points(3)).encode()
    settings = ServiceSettings(data_dir=tmp_path, max_upload_cells=100, max_uploads_per_key=1)
    with TestClient(create_app(settings)) as c:
        _problem(_upload(c, points, population=Path(population).read_bytes(), headers={}),
                 413, "over the limit of 100")
        assert _upload(c, points, headers={}).status_code == 201
        r = _upload(c, points, headers={})
        _problem(r, 429, "already have 1 uploaded")
        assert r.headers["retry-after"] == "30"
