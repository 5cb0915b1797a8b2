"""The web page in headless Chromium (Debian's chromium + chromedriver, driven by Selenium) against
the local platform: a charger connected over wss and charging, the fleet page showing it, its
session page with the chart and plan, a departure time set in the form, the re-planned schedule
appearing, and a driver seeing only their own charger. Saves docs/session-page.png."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from ocpp.v16 import call

from csms_local.http_api import add_token
from csms_local.platform import LocalPlatform
from tests.e2e import helpers
from tests.e2e.helpers import screenshot_path, open_charger
from tests.e2e.test_session_over_wss import Client, iso

SCREENSHOT = screenshot_path("session-page.png")
KEY = "0123456789abcdef0123"
helpers.require_chromium()


def _browse(platform, driver_token: str) -> dict:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    seen: dict = {}
    with helpers.browser(30) as (browser, wait):
        browser.get(platform.web_url)
        row = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, 'tr[data-charger="CP001"]')))
        wait.until(lambda b: "charging" in b.find_element(By.CSS_SELECTOR, 'tr[data-charger="CP001"]').text)
        seen["fleet"] = browser.find_element(By.ID, "fleet").text
        assert "token=" not in browser.current_url  # the token left the address bar
        row.find_element(By.LINK_TEXT, "CP001").click()
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "tr[data-session]"))).find_element(
            By.TAG_NAME, "a").click()
        wait.until(ec.presence_of_element_located((By.ID, "chart")))
        wait.until(lambda b: "No plan yet" not in b.find_element(By.ID, "plan").text)
        before = browser.find_element(By.ID, "plan").text
        seen["plan_before"] = before
        # The driver leaves in 3 hours and needs 6 kWh
        departure = datetime.now() + timedelta(hours=3)
        field = browser.find_element(By.NAME, "departure")
        browser.execute_script("arguments[0].value = arguments[1]", field, departure.strftime("%Y-%m-%dT%H:%M"))
        energy = browser.find_element(By.NAME, "energy_kwh")
        energy.clear()
        energy.send_keys("6")
        browser.find_element(By.CSS_SELECTOR, "#preference button").click()
        wait.until(lambda b: "Saved" in b.find_element(By.ID, "message").text)
        seen["message"] = browser.find_element(By.ID, "message").text
        wait.until(lambda b: b.find_element(By.ID, "plan").text not in (before, ""))
        seen["plan_after"] = browser.find_element(By.ID, "plan").text
        seen["chart_plan_rects"] = len(browser.find_elements(By.CSS_SELECTOR, "#chart rect.plan"))
        SCREENSHOT.parent.mkdir(exist_ok=True)
        browser.save_screenshot(str(SCREENSHOT))
        # A driver's view: only the charger linked to them
        browser.execute_script("sessionStorage.clear()")
        browser.get("about:blank")  # (a new fragment alone would not load the page again)
        browser.get(platform.api_url + "/#token=" + driver_token)
        wait.until(ec.presence_of_element_located((By.ID, "fleet")))
        seen["driver_fleet"] = browser.find_element(By.ID, "fleet").text
        seen["who"] = browser.find_element(By.ID, "who").text
    return seen


@pytest.mark.screenshot
def test_fleet_session_and_replan_in_the_browser(tmp_path):
    async def scenario():
        platform = LocalPlatform(state_dir=tmp_path / "state", port=0, smart_every_s=3600)
        await platform.start()
        try:
            platform.add_charger("CP001", KEY)
            platform.add_charger("CP002", KEY)
            platform.runtime.chargers.set_driver("CP002", "dana")
            driver_token = add_token(platform.state_dir, "dana", operator=False)
            async with open_charger(platform, "CP001", KEY) as ws:
                client = Client("CP001", ws)
                listener = asyncio.create_task(client.start())
                await client.call(call.BootNotification(charge_point_vendor="Acme", charge_point_model="W22"))
                await client.until(lambda r: "GetConfiguration" in [a for a, _ in r])
                now = datetime.now(timezone.utc)
                start = await client.call(call.StartTransaction(connector_id=1, id_tag="TAG1", meter_start=0,
                                                                timestamp=iso(now - timedelta(minutes=10))))
                await client.until(lambda r: any(a == "SetChargingProfile" for a, _ in r))
                await client.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
                await client.call(call.MeterValues(connector_id=1, transaction_id=start.transaction_id, meter_value=[
                    {"timestamp": iso(now), "sampledValue": [
                        {"value": "1200", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                        {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"}]}]))
                profiles_before = sum(1 for a, _ in client.received if a == "SetChargingProfile")
                seen = await asyncio.to_thread(_browse, platform, driver_token)
                profiles_after = sum(1 for a, _ in client.received if a == "SetChargingProfile")
                listener.cancel()
            preference = dataclasses.asdict(platform.runtime.chargers.preference("CP001"))  # a Preference value
            return seen, profiles_before, profiles_after, preference
        finally:
            await platform.stop()

    seen, before, after, preference = asyncio.run(scenario())
    assert "CP001" in seen["fleet"] and "charging" in seen["fleet"] and "7.2" in seen["fleet"]
    assert "Saved" in seen["message"]
    assert preference["energy_kwh"] == 6.0 and preference["departure"]
    assert seen["plan_after"] != seen["plan_before"]  # the scheduler re-planned for the new departure
    assert after > before  # ... and sent the charger the new profile
    assert seen["chart_plan_rects"] >= 1
    assert "CP002" in seen["driver_fleet"] and "CP001" not in seen["driver_fleet"]
    assert seen["who"] == "driver dana"
    assert SCREENSHOT.stat().st_size > 10_000
