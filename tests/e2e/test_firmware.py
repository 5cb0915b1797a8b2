"""Firmware management as an operator and real chargers live it: ``csms local`` with simulated
chargers over wss (csms_local.sim_firmware) that download images and upload diagnostics over the
platform's HTTPS port; images uploaded and campaigns started with the ``csms`` CLI; progress read
from the HTTP API. Short silence timeouts and a fast firmware job keep it to seconds."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from csms_local.http_api import operator_token
from csms_local.platform import LocalPlatform
from csms_local.sim_firmware import FirmwareSim, image_bytes, run
from csms_local.tls import client_context
from tests.e2e.helpers import screenshot_path

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = screenshot_path("firmware-page.png")
SILENCE_S = 8  # a charger silent this long has timed out (real campaigns: hours)


def csms(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "csms_local.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def api(platform, method: str, path: str, body=None):
    token = operator_token(platform.state_dir)
    request = urllib.request.Request(platform.api_url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30, context=ssl.create_default_context(cafile=str(platform.ca_path))) as r:
        return json.loads(r.read() or b"null")


async def until(predicate, timeout: float, what: str):
    """Poll ``predicate`` (run in a thread: it may call the API) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await asyncio.to_thread(predicate)
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.3)


async def fleet(platform, specs):
    """Register and connect simulated chargers; return them once every BootNotification is stored."""
    sims = [FirmwareSim(cp, platform.add_charger(cp), vendor, model, version, behaviour)
            for cp, vendor, model, version, behaviour in specs]
    stop = asyncio.Event()
    context = client_context(platform.ca_path)
    tasks = [asyncio.create_task(run(sim, platform.url, context, stop)) for sim in sims]
    await until(lambda: len([c for c in api(platform, "GET", "/v1/chargers") if c["model"]]) == len(sims), 60,
                "every charger's BootNotification")
    return sims, stop, tasks


def browse(platform, campaign_id: str) -> dict:
    """The operator's firmware page in headless Chromium (as tests/e2e/test_web.py drives it)."""
    import shutil

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        if os.environ.get("CI"):
            raise RuntimeError("CI needs Debian's chromium and chromium-driver (.ci/run installs them)")
        return None  # a developer machine without a browser: the page is checked by CI
    from tests.e2e.helpers import chromium as _browser

    browser = _browser()
    try:
        wait = WebDriverWait(browser, 30)
        browser.get(platform.web_url)
        wait.until(ec.presence_of_element_located((By.ID, "fleet")))
        browser.find_element(By.LINK_TEXT, "Firmware").click()
        row = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f'tr[data-campaign="{campaign_id}"]')))
        seen = {"list": browser.find_element(By.ID, "campaigns").text}
        row.find_element(By.TAG_NAME, "a").click()
        wait.until(ec.presence_of_element_located((By.ID, "targets")))
        seen["targets"] = browser.find_element(By.ID, "targets").text
        seen["retry"] = browser.find_element(By.ID, "retry").text
        browser.save_screenshot(str(SCREENSHOT))
        return seen
    finally:
        browser.quit()


def campaign_done(platform, campaign_id):
    campaign = api(platform, "GET", f"/v1/firmware/campaigns/{campaign_id}")
    p = campaign["progress"]
    return campaign if p["in_flight"] == 0 and p["scheduled"] == 0 else None


@pytest.mark.screenshot
def test_two_models_in_waves_three_installed_one_failed_one_silent_then_diagnostics(tmp_path):
    state = tmp_path / "state"
    for version, model in (("2.0", "W22"), ("3.2", "X9")):
        (tmp_path / f"{model}-{version}.bin").write_bytes(image_bytes(version, 64 * 1024))
    specs = [("A1", "Acme", "W22", "1.0", "ok"), ("A2", "Acme", "W22", "1.0", "install_fails"),
             ("A3", "Acme", "W22", "1.0", "ok"), ("B1", "Acme", "X9", "3.1", "silent"),
             ("B2", "Acme", "X9", "3.1", "ok")]

    async def scenario():
        platform = LocalPlatform(state_dir=state, port=0, smart_every_s=None, firmware_every_s=0.5)
        await platform.start()
        try:
            sims, stop, tasks = await fleet(platform, specs)
            uploads = [await asyncio.to_thread(csms, "firmware", "upload", str(tmp_path / f"{model}-{version}.bin"),
                                               "--vendor", "Acme", "--model", model, "--version", version,
                                               "--json", "--state-dir", str(state))
                       for version, model in (("2.0", "W22"), ("3.2", "X9"))]
            assert all(u.returncode == 0 for u in uploads), [u.stderr for u in uploads]
            images = [json.loads(u.stdout)["id"] for u in uploads]
            too_big = await asyncio.to_thread(csms, "firmware", "campaign", "create", "--name", "none", "--image",
                                              images[0], "--from-version", "0.1", "--state-dir", str(state))
            created = await asyncio.to_thread(
                csms, "firmware", "campaign", "create", "--name", "spring", "--image", images[0], "--image", images[1],
                "--waves", "1,100", "--max-in-flight", "10", "--failure-threshold", "100",
                "--silence-timeout", str(SILENCE_S), "--json", "--state-dir", str(state))
            assert created.returncode == 0, created.stderr
            campaign_id = json.loads(created.stdout)["id"]
            done = await until(lambda: campaign_done(platform, campaign_id), 120, "the campaign to finish")
            shown = await asyncio.to_thread(csms, "firmware", "campaign", "show", campaign_id, "--state-dir", str(state))
            chargers = {c["id"]: c for c in await asyncio.to_thread(api, platform, "GET", "/v1/chargers")}
            page = await asyncio.to_thread(browse, platform, campaign_id)
            # A retry queues the failed and the silent charger again, each with a new URL
            retried = await asyncio.to_thread(api, platform, "POST", f"/v1/firmware/campaigns/{campaign_id}/retry")
            by_id = {s.charge_point_id: s for s in sims}
            await until(lambda: len(by_id["A2"].locations) == 2 and len(by_id["B1"].locations) == 2, 60,
                        "the retried chargers' second UpdateFirmware")
            # Diagnostics: GetDiagnostics, the charger's upload over HTTPS, the operator's download
            request = await asyncio.to_thread(api, platform, "POST", "/v1/chargers/A3/diagnostics", {})
            listed = await until(lambda: [r for r in api(platform, "GET", "/v1/chargers/A3/diagnostics")
                                          if r["status"] == "Uploaded"], 60, "the diagnostics upload")
            out = tmp_path / "a3.log"
            downloaded = await asyncio.to_thread(csms, "diagnostics", "download", "A3", request["id"], "--out", str(out),
                                                 "--state-dir", str(state))
            stop.set()
            await asyncio.wait(tasks, timeout=10)
            return sims, done, shown, chargers, retried, listed, downloaded, out, too_big, page
        finally:
            await platform.stop()

    sims, done, shown, chargers, retried, listed, downloaded, out, too_big, page = asyncio.run(
        asyncio.wait_for(scenario(), 400))
    by_id = {s.charge_point_id: s for s in sims}
    assert too_big.returncode == 2 and "no targets" in too_big.stderr and too_big.stderr.count("\n") == 1
    p = done["progress"]
    assert (p["installed"], p["failed"], p["timed_out"], p["total"]) == (3, 1, 1, 5), p
    states = {t["id"]: t for t in done["chargers"]}
    assert {k: v["state"] for k, v in states.items()} == {
        "A1": "Verified", "A2": "InstallationFailed", "A3": "Verified", "B1": "TimedOut", "B2": "Verified"}
    # Installed is proven by the new BootNotification: each verified charger reconnected with the target
    for cp, version in (("A1", "2.0"), ("A3", "2.0"), ("B2", "3.2")):
        assert by_id[cp].boots == [by_id[cp].boots[0], version] and chargers[cp]["firmware_version"] == version
        assert states[cp]["detail"] == f"booted with {version}"
        assert by_id[cp].statuses == ["Downloading", "Downloaded", "Installing", "Installed"]
    assert chargers["A2"]["firmware_version"] == "1.0" and chargers["B1"]["firmware_version"] == "3.1"
    # Wave 1 was A1 alone; wave 2 went out only after A1 proved its new version
    assert [t["id"] for t in done["chargers"] if t["wave"] == 1] == ["A1"]
    a1_verified = next(h.split()[0] for h in states["A1"]["history"] if h.endswith("Verified"))
    assert all(states[cp]["sent_at"] >= a1_verified for cp in ("A2", "A3", "B1", "B2"))
    assert "installed 3, failed 1, timed out 1" in shown.stdout and "[" in shown.stdout
    # The web page shows the campaign's progress and every charger's state
    if page is not None:
        assert "spring" in page["list"] and "installed 3 · failed 1 · timed out 1" in page["list"]
        assert "A2 2 InstallationFailed" in page["targets"] and "B1 2 TimedOut" in page["targets"]
        assert "Retry 2 failed chargers" in page["retry"]
    # The retry re-issued a fresh URL to each failed charger
    assert retried["retried"] == 2
    for cp in ("A2", "B1"):
        first, second = by_id[cp].locations
        assert first != second and "/files/firmware/" in second
    # The diagnostics file landed and the operator downloaded exactly it
    (row,) = listed
    assert row["file_name"] == "A3-diagnostics.log" and row["size_bytes"] == len(by_id["A3"].diagnostics)
    assert downloaded.returncode == 0, downloaded.stderr
    assert out.read_bytes() == by_id["A3"].diagnostics


def test_halt_threshold_stops_wave_two_when_wave_one_fails(tmp_path):
    specs = [("H1", "Acme", "W22", "1.0", "install_fails"), ("H2", "Acme", "W22", "1.0", "ok"),
             ("H3", "Acme", "W22", "1.0", "ok")]
    image = image_bytes("2.0", 1024)

    async def scenario():
        platform = LocalPlatform(state_dir=tmp_path / "state", port=0, smart_every_s=None, firmware_every_s=0.3)
        await platform.start()
        try:
            sims, stop, tasks = await fleet(platform, specs)
            path = tmp_path / "fw.bin"
            path.write_bytes(image)
            up = await asyncio.to_thread(csms, "firmware", "upload", str(path), "--vendor", "Acme", "--model", "W22",
                                         "--version", "2.0", "--json", "--state-dir", str(tmp_path / "state"))
            assert up.returncode == 0, up.stderr
            created = await asyncio.to_thread(api, platform, "POST", "/v1/firmware/campaigns", {
                "name": "canary", "images": [json.loads(up.stdout)["id"]], "waves_percent": [1, 100],
                "failure_threshold_percent": 50, "silence_timeout_s": 60})
            halted = await until(lambda: (c := api(platform, "GET", f"/v1/firmware/campaigns/{created['id']}"))
                                 ["status"] == "halted" and c, 60, "the halt")
            await asyncio.sleep(2)  # several runs of the firmware job: nothing more may go out
            after = await asyncio.to_thread(api, platform, "GET", f"/v1/firmware/campaigns/{created['id']}")
            stop.set()
            await asyncio.wait(tasks, timeout=10)
            return sims, halted, after
        finally:
            await platform.stop()

    sims, halted, after = asyncio.run(asyncio.wait_for(scenario(), 300))
    by_id = {s.charge_point_id: s for s in sims}
    assert "wave 1: 1 of 1 chargers failed" in halted["halted_reason"]
    assert {t["id"]: t["state"] for t in after["chargers"]} == {"H1": "InstallationFailed", "H2": "Scheduled",
                                                                 "H3": "Scheduled"}
    assert after["status"] == "halted"
    assert len(by_id["H1"].locations) == 1 and by_id["H2"].locations == [] and by_id["H3"].locations == []
