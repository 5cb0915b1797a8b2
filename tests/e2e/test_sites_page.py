"""The Sites view in headless Chromium against the local platform (issue 16): an operator adds a site
with its limit through the page's form, puts a charger on it, sees it listed with the limit the
planner holds, and sees a grid-demand event with its target. Adding a site whose id exists is refused
(new-user probe: the form's PUT overwrote it); the site's own page changes it. Saves
docs/sites-page.png under ``make screenshots``."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from csms.charging.groups import EventTarget
from csms_local.platform import LocalPlatform
from tests.e2e import helpers
from tests.e2e.helpers import screenshot_path

SCREENSHOT = screenshot_path("sites-page.png")
KEY = "0123456789abcdef0123"
helpers.require_chromium()


def _browse(platform) -> dict:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    seen: dict = {}
    with helpers.browser(30) as (browser, wait):
        browser.get(platform.web_url)
        wait.until(ec.presence_of_element_located((By.ID, "fleet")))
        browser.find_element(By.LINK_TEXT, "Sites").click()
        wait.until(ec.presence_of_element_located((By.ID, "site-form")))
        for name, value in (("id", "depot"), ("name", "Bus depot"), ("region", "north"), ("limit_kw", "15")):
            browser.find_element(By.CSS_SELECTOR, f"#site-form [name={name}]").send_keys(value)
        browser.find_element(By.CSS_SELECTOR, "#site-form button").click()
        wait.until(lambda b: "Saved depot" in b.find_element(By.ID, "message").text)
        seen["sites"] = browser.find_element(By.ID, "sites").text
        seen["events"] = browser.find_element(By.ID, "events").text
        for name, value in (("id", "depot"), ("limit_kw", "99")):  # the same id again: refused, not overwritten
            browser.find_element(By.CSS_SELECTOR, f"#site-form [name={name}]").send_keys(value)
        browser.find_element(By.CSS_SELECTOR, "#site-form button").click()
        wait.until(lambda b: "already exists" in b.find_element(By.ID, "message").text)
        seen["refused"] = browser.find_element(By.ID, "message").text
        seen["after_refusal"] = platform.runtime.sites.get("depot")
        browser.find_element(By.LINK_TEXT, "depot").click()
        wait.until(ec.presence_of_element_located((By.ID, "site-edit-form")))
        seen["edit_form"] = {n: browser.find_element(By.CSS_SELECTOR, f"#site-edit-form [name={n}]").get_attribute("value")
                             for n in ("name", "region", "limit_kw")}
        limit = browser.find_element(By.CSS_SELECTOR, "#site-edit-form [name=limit_kw]")
        limit.clear()
        limit.send_keys("12")
        browser.find_element(By.CSS_SELECTOR, "#site-edit-form button").click()  # editing replaces, deliberately
        wait.until(lambda b: "Saved depot" in b.find_element(By.ID, "message").text)
        wait.until(lambda b: "12.0 kW" in b.find_element(By.ID, "site-limit").text)
        limit = browser.find_element(By.CSS_SELECTOR, "#site-edit-form [name=limit_kw]")
        limit.clear()
        limit.send_keys("15")
        browser.find_element(By.CSS_SELECTOR, "#site-edit-form button").click()
        wait.until(lambda b: "15.0 kW" in b.find_element(By.ID, "site-limit").text)
        wait.until(ec.presence_of_element_located((By.ID, "assign-form")))
        browser.find_element(By.CSS_SELECTOR, "#assign-form [name=charger]").send_keys("CP001")
        browser.find_element(By.CSS_SELECTOR, "#assign-form button").click()
        wait.until(lambda b: "CP001 is on depot" in b.find_element(By.ID, "message").text)
        seen["chargers"] = browser.find_element(By.ID, "site-chargers").text
        seen["limit"] = browser.find_element(By.ID, "site-limit").text
        browser.find_element(By.CSS_SELECTOR, "#assign-form [name=charger]").send_keys("NOPE")
        browser.find_element(By.CSS_SELECTOR, "#assign-form button").click()
        wait.until(lambda b: "no charger NOPE" in b.find_element(By.ID, "message").text)
        SCREENSHOT.parent.mkdir(exist_ok=True)
        browser.save_screenshot(str(SCREENSHOT))
    return seen


@pytest.mark.screenshot
def test_an_operator_adds_a_site_and_puts_a_charger_on_it_in_the_browser(tmp_path):
    async def scenario():
        platform = LocalPlatform(state_dir=tmp_path / "state", port=0, smart_every_s=None)
        await platform.start()
        try:
            platform.add_charger("CP001", KEY)
            now = datetime.now(timezone.utc)
            platform.runtime.events.add_targeted(now, now + timedelta(hours=2), cap_kw=None, reduction_kw=5.0,
                                                 target=EventTarget("region", ("north",)))
            seen = await asyncio.to_thread(_browse, platform)
            return seen, platform.runtime.sites.site_of("CP001")
        finally:
            await platform.stop()

    seen, site = asyncio.run(scenario())
    assert "depot" in seen["sites"] and "15.0 kW" in seen["sites"] and "north" in seen["sites"]
    assert "region: north" in seen["events"] and "−5 kW" in seen["events"]
    assert "site depot already exists" in seen["refused"] and "open it" in seen["refused"]
    assert seen["after_refusal"].connection_kw() == 15.0 and seen["after_refusal"].name == "Bus depot"  # kept
    assert seen["edit_form"] == {"name": "Bus depot", "region": "north", "limit_kw": "15"}  # the site as stored
    assert "CP001" in seen["chargers"] and "15.0 kW" in seen["limit"]
    assert site is not None and site.site_id == "depot" and site.connection_kw() == 15.0  # stored, not just shown
    assert SCREENSHOT.stat().st_size > 10_000
