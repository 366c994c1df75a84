"""The planner's web page in headless Debian chromium (playwright, system browser), and
schemathesis over ``/api``; both against a real server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from accessmap.demo import demo_scenario
from tests.service_server import LiveServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
XSS = "<img src=x onerror=alert(1)>"


def _need_chromium() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; CI installs Debian's chromium package")
        pytest.skip("chromium is not installed")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("browser") / "data").start()
    yield live
    live.stop()


@pytest.mark.browser
def test_page_runs_a_demo_job_and_opens_its_map(server: LiveServer, tmp_path: Path) -> None:
    _need_chromium()
    from playwright.sync_api import sync_playwright

    demo_facilities = demo_scenario().inputs.facilities
    assert demo_facilities is not None
    points = json.loads(Path(demo_facilities).read_text(encoding="utf-8"))
    points["features"] = points["features"][:3]
    facilities_file = tmp_path / "my clinics.geojson"
    facilities_file.write_text(json.dumps(points), encoding="utf-8")

    # A dismissed job whose title is markup: the jobs table must show it as text.
    body = {"inputs": {"dataset": "demo", "scenario": {"title": XSS}}}
    xss_job = httpx.post(server.url + "/processes/run/execution", json=body,
                         headers={"Prefer": "respond-async"}).json()["jobID"]
    httpx.delete(f"{server.url}/jobs/{xss_job}")
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu",
                                          "--host-resolver-rules=MAP * ~NOTFOUND, "
                                          "EXCLUDE 127.0.0.1"])
        try:
            context = browser.new_context()
            page = context.new_page()
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("dialog", lambda d: (errors.append("dialog: " + d.message), d.dismiss()))
            page.goto(server.url + "/", wait_until="load")
            page.wait_for_selector("#f-siting-new_sites")
            assert page.input_value("#dataset") == "demo"
            # upload facilities: the new dataset is listed and chosen, its name shown as text
            page.click("#upload-box > summary")
            page.set_input_files("#up-facilities", str(facilities_file))
            page.fill("#up-title", XSS)
            page.click("#upload")
            page.wait_for_selector("#dataset option[value^='up-']", state="attached")
            assert page.input_value("#dataset").startswith("up-")
            assert "uploaded 3 facilities" in (page.text_content("#upload-status") or "")
            assert XSS in (page.text_content("#dataset") or "")
            assert page.locator("#setup img").count() == 0
            page.select_option("#dataset", "demo")
            page.fill("#f-siting-new_sites", "2")
            page.select_option("#f-analysis-mode", "walk")
            page.click("details > summary")
            page.uncheck("#f-siting-mobile")
            page.click("#start")
            page.wait_for_selector("#map-link", timeout=90_000)
            assert page.text_content("#status") == "successful"
            assert page.eval_on_selector("#progress", "e => e.value") == 100
            rows = page.locator("#jobs tbody tr")
            assert rows.count() >= 2
            assert XSS in page.text_content("#jobs")
            assert page.locator("#jobs img").count() == 0
            with page.expect_popup() as popup_info:
                page.click("#map-link")
            popup = popup_info.value
            popup.on("pageerror", lambda e: errors.append(f"map error: {e}"))
            popup.wait_for_load_state("load")
            popup.wait_for_selector(".leaflet-container", timeout=20_000)
            assert popup.locator(".leaflet-control-layers").count() >= 1
        finally:
            browser.close()
    jobs = httpx.get(server.url + "/jobs").json()["jobs"]
    sent = next(j for j in jobs if j["jobID"] != xss_job)
    assert sent["dataset"] == "demo"
    assert sent["status"] == "successful"
    settings = httpx.get(f"{server.url}/jobs/{sent['jobID']}/results").json()[
        "summary"]["run"]["settings"]
    assert settings["siting"]["new_sites"] == 2 and settings["siting"]["mobile"] is False
    assert not errors, errors


def test_schemathesis_finds_no_server_error(tmp_path: Path) -> None:
    import schemathesis
    from hypothesis import HealthCheck, Phase, settings

    live = LiveServer(tmp_path / "data", budget_units=1.0).start()  # no job really runs
    try:
        schema = schemathesis.openapi.from_url(live.url + "/api")
        failures: list[str] = []
        for result in schema.get_all_operations():
            operation = result.ok()

            @settings(max_examples=15, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            def check(case: schemathesis.Case) -> None:
                response = case.call(base_url=live.url, timeout=10)
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} -> "
                                    f"{response.status_code}: {response.text[:200]}")

            from hypothesis import given

            given(operation.as_strategy())(check)()
        assert not failures, failures
    finally:
        live.stop()
